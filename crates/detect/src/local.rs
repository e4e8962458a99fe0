//! The vantage point's own addresses: those of the host it runs on (its
//! interfaces' addresses, read by a live capture) and those the operator
//! names (`[vantage] local_addresses`, for replays of a capture taken
//! elsewhere).
//!
//! A gateway's WAN side, or a host with a public or global IPv6 address, is
//! scanned from the Internet all day; a scanner that retries its SYNs to a
//! port the firewall drops looks, from the packets alone, exactly like a
//! client whose SYNs a censor drops, with the vantage point as the
//! "server" (found by the tenth red-team review, session 22: 15
//! `blackhole` events for one small scan of a router with a port forward).
//! Knowing its own addresses, the vantage point tells connections *to* it
//! from connections it makes.

use std::net::IpAddr;

/// Addresses kept (a host with more keeps its first ones).
pub const LOCAL_ADDRESSES: usize = 32;

/// The shortest prefixes taken as the vantage point's own network (an
/// interface's subnet: a gateway's LAN, whose IPv6 hosts are reached from
/// outside through the router's pinholes). A larger subnet (a cable
/// segment shared with other customers) counts only the address itself.
pub const LOCAL_PREFIX_V4: u8 = 24;
/// See [`LOCAL_PREFIX_V4`].
pub const LOCAL_PREFIX_V6: u8 = 56;

/// A bounded set of addresses and networks (address, prefix length), with
/// a version that grows at each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddrs {
    addrs: [(IpAddr, u8); LOCAL_ADDRESSES],
    n: usize,
    version: u64,
}

impl Default for LocalAddrs {
    fn default() -> Self {
        LocalAddrs {
            addrs: [(IpAddr::from([0u8, 0, 0, 0]), 32); LOCAL_ADDRESSES],
            n: 0,
            version: 0,
        }
    }
}

fn full(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

impl LocalAddrs {
    /// The set of `addrs` (the first [`LOCAL_ADDRESSES`], unspecified and
    /// loopback addresses left out), at version `version`.
    pub fn new(addrs: &[IpAddr], version: u64) -> LocalAddrs {
        let v: Vec<(IpAddr, u8)> = addrs.iter().map(|a| (*a, full(*a))).collect();
        LocalAddrs::with_networks(&v, version)
    }

    /// The set of networks `nets` (address, prefix length: a prefix
    /// shorter than [`LOCAL_PREFIX_V4`] / [`LOCAL_PREFIX_V6`] keeps only the
    /// address), at version `version`.
    pub fn with_networks(nets: &[(IpAddr, u8)], version: u64) -> LocalAddrs {
        let mut l = LocalAddrs {
            version,
            ..LocalAddrs::default()
        };
        for &(a, len) in nets {
            if a.is_unspecified() || a.is_loopback() {
                continue;
            }
            let min = if a.is_ipv4() {
                LOCAL_PREFIX_V4
            } else {
                LOCAL_PREFIX_V6
            };
            let len = if len < min { full(a) } else { len.min(full(a)) };
            if l.addrs[..l.n].contains(&(a, len)) {
                continue;
            }
            if l.n == LOCAL_ADDRESSES {
                break;
            }
            l.addrs[l.n] = (a, len);
            l.n += 1;
        }
        l
    }

    /// Whether `ip` is one of the addresses, or in one of the networks.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.addrs[..self.n].iter().any(|&(a, len)| {
            a.is_ipv4() == ip.is_ipv4() && {
                // (a prefix of the 128-bit form: IPv4 sits in the top 32
                // bits)
                let len = u32::from(len);
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                (bits(a) ^ bits(ip)) & mask == 0
            }
        })
    }

    /// The addresses and networks.
    pub fn addresses(&self) -> &[(IpAddr, u8)] {
        &self.addrs[..self.n]
    }

    /// Which set this is (0: none given yet).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The same addresses as `other` (whatever the versions).
    pub fn same_addresses(&self, other: &LocalAddrs) -> bool {
        self.n == other.n
            && other
                .addresses()
                .iter()
                .all(|a| self.addresses().contains(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_without_duplicates_loopback_or_unspecified() {
        let v: Vec<IpAddr> = (0..40u8)
            .map(|i| IpAddr::from([198, 51, 100, i % 35]))
            .chain(["127.0.0.1".parse().unwrap(), "::".parse().unwrap()])
            .collect();
        let l = LocalAddrs::new(&v, 3);
        assert_eq!(l.addresses().len(), LOCAL_ADDRESSES);
        assert!(l.contains("198.51.100.0".parse().unwrap()));
        assert!(!l.contains("198.51.100.34".parse().unwrap()));
        assert!(!l.contains("127.0.0.1".parse().unwrap()));
        assert_eq!(l.version(), 3);
        let m = LocalAddrs::new(&v, 4);
        assert!(l.same_addresses(&m));
        assert!(!l.same_addresses(&LocalAddrs::default()));
    }

    #[test]
    fn networks_down_to_a_lan_are_the_vantage_points_own() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let l = LocalAddrs::with_networks(
            &[
                // a gateway's LAN, and its IPv6 /64
                (ip("192.168.1.1"), 24),
                (ip("2001:db8:1::1"), 64),
                // a cable segment shared with other customers: the address only
                (ip("198.18.0.2"), 20),
                (ip("2001:db8:ff::2"), 48),
            ],
            1,
        );
        assert!(l.contains(ip("192.168.1.77")));
        assert!(!l.contains(ip("192.168.2.1")));
        assert!(l.contains(ip("2001:db8:1::11")));
        assert!(!l.contains(ip("2001:db8:2::11")));
        assert!(l.contains(ip("198.18.0.2")));
        assert!(!l.contains(ip("198.18.0.3")));
        assert!(l.contains(ip("2001:db8:ff::2")));
        assert!(!l.contains(ip("2001:db8:ff::3")));
        // IPv4 never matches IPv6 (nor the reverse)
        assert!(!l.contains(ip("::ffff:192.168.1.77")));
    }
}
