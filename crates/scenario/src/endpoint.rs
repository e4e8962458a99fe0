//! Endpoints: address, port and the host-stack fingerprint (TTL, IP ID behaviour, DF,
//! window) that detectors compare injected packets against.

use std::net::{IpAddr, SocketAddr};

use crate::rng::splitmix64;

/// How a host assigns IPv4 identification values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpIdMode {
    /// Counter: `next`, then `next + step`, ... (wrapping).
    Sequential {
        /// Next ID to use.
        next: u16,
        /// Increment.
        step: u16,
    },
    /// Always the same value.
    Fixed(u16),
    /// Always zero (Linux with DF on some paths, many middleboxes).
    Zero,
    /// Pseudo-random; the value is the generator state (advanced on every packet).
    Random(u64),
}

impl IpIdMode {
    /// The ID the next packet will carry (without advancing).
    pub fn peek(&self) -> u16 {
        let mut c = *self;
        c.next_id()
    }

    /// Take the next ID, advancing the mode's state.
    pub fn next_id(&mut self) -> u16 {
        match self {
            IpIdMode::Sequential { next, step } => {
                let v = *next;
                *next = next.wrapping_add(*step);
                v
            }
            IpIdMode::Fixed(v) => *v,
            IpIdMode::Zero => 0,
            IpIdMode::Random(state) => (splitmix64(state) >> 48) as u16,
        }
    }
}

/// One side of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address (v4 or v6; both sides of a session must match).
    pub ip: IpAddr,
    /// Transport port.
    pub port: u16,
    /// MAC address used as Ethernet source for this side's packets (for a remote server
    /// this is the gateway's MAC, as seen on the LAN).
    pub mac: [u8; 6],
    /// TTL / hop limit as observed at the capture point.
    pub ttl: u8,
    /// IPv4 ID behaviour (ignored for IPv6).
    pub ip_id: IpIdMode,
    /// IPv4 DF flag (ignored for IPv6).
    pub df: bool,
    /// TCP window field value (as on the wire).
    pub window: u16,
}

impl Endpoint {
    /// A typical Linux client as seen on its own LAN: TTL 64, sequential IDs, DF,
    /// window 64240 (SYN) / 502 scaled.
    pub fn client(addr: SocketAddr) -> Self {
        let seed = addr_seed(&addr);
        Endpoint {
            ip: addr.ip(),
            port: addr.port(),
            mac: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01],
            ttl: 64,
            ip_id: IpIdMode::Sequential {
                next: (seed >> 17) as u16,
                step: 1,
            },
            df: true,
            window: 64240,
        }
    }

    /// A typical remote server seen ~12 hops away: TTL 52, sequential IDs, DF,
    /// window 65160.
    pub fn server(addr: SocketAddr) -> Self {
        let seed = addr_seed(&addr);
        Endpoint {
            ip: addr.ip(),
            port: addr.port(),
            mac: [0x02, 0x00, 0x5e, 0x00, 0x00, 0xfe],
            ttl: 52,
            ip_id: IpIdMode::Sequential {
                next: (seed >> 33) as u16,
                step: 1,
            },
            df: true,
            window: 65160,
        }
    }

    /// Socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }

    /// Take the next IP ID.
    pub fn next_ip_id(&mut self) -> u16 {
        self.ip_id.next_id()
    }

    /// Builder-style TTL.
    pub fn with_ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    /// Builder-style IP ID mode.
    pub fn with_ip_id(mut self, m: IpIdMode) -> Self {
        self.ip_id = m;
        self
    }

    /// Builder-style MAC.
    pub fn with_mac(mut self, mac: [u8; 6]) -> Self {
        self.mac = mac;
        self
    }

    /// Builder-style window.
    pub fn with_window(mut self, w: u16) -> Self {
        self.window = w;
        self
    }

    /// Builder-style DF.
    pub fn with_df(mut self, df: bool) -> Self {
        self.df = df;
        self
    }
}

/// Deterministic 64-bit value derived from a socket address.
pub(crate) fn addr_seed(addr: &SocketAddr) -> u64 {
    let mut st: u64 = addr.port() as u64;
    match addr.ip() {
        IpAddr::V4(a) => st ^= (u32::from(a) as u64) << 16,
        IpAddr::V6(a) => {
            let v = u128::from(a);
            st ^= (v as u64) ^ ((v >> 64) as u64).rotate_left(17);
        }
    }
    splitmix64(&mut st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_id_modes() {
        let mut m = IpIdMode::Sequential {
            next: 0xfffe,
            step: 1,
        };
        assert_eq!(m.peek(), 0xfffe);
        assert_eq!(m.next_id(), 0xfffe);
        assert_eq!(m.next_id(), 0xffff);
        assert_eq!(m.next_id(), 0);
        let mut f = IpIdMode::Fixed(7);
        assert_eq!((f.next_id(), f.next_id()), (7, 7));
        let mut r = IpIdMode::Random(1);
        let p = r.peek();
        assert_eq!(r.next_id(), p);
        assert_ne!(r, IpIdMode::Random(1));
    }
}
