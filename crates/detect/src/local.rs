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

/// A bounded set of addresses, with a version that grows at each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddrs {
    addrs: [IpAddr; LOCAL_ADDRESSES],
    n: usize,
    version: u64,
}

impl Default for LocalAddrs {
    fn default() -> Self {
        LocalAddrs {
            addrs: [IpAddr::from([0u8, 0, 0, 0]); LOCAL_ADDRESSES],
            n: 0,
            version: 0,
        }
    }
}

impl LocalAddrs {
    /// The set of `addrs` (the first [`LOCAL_ADDRESSES`], unspecified and
    /// loopback addresses left out), at version `version`.
    pub fn new(addrs: &[IpAddr], version: u64) -> LocalAddrs {
        let mut l = LocalAddrs {
            version,
            ..LocalAddrs::default()
        };
        for a in addrs {
            if a.is_unspecified() || a.is_loopback() || l.contains(*a) {
                continue;
            }
            if l.n == LOCAL_ADDRESSES {
                break;
            }
            l.addrs[l.n] = *a;
            l.n += 1;
        }
        l
    }

    /// Whether `ip` is one of them.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.addrs[..self.n].contains(&ip)
    }

    /// The addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addrs[..self.n]
    }

    /// Which set this is (0: none given yet).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The same addresses as `other` (whatever the versions).
    pub fn same_addresses(&self, other: &LocalAddrs) -> bool {
        self.n == other.n && other.addresses().iter().all(|a| self.contains(*a))
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
}
