//! A minimal reader for the classic pcap files tcpdump writes (Ethernet
//! link type), decoding just what the censorship tests check: which TCP
//! segment reached the capture point first, with its TTL and flags.

use std::net::IpAddr;
use std::path::Path;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// One captured TCP segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Seg {
    /// Seconds (capture clock).
    pub ts: f64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub ttl: u8,
    pub ip_id: u16,
    pub df: bool,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub payload_len: usize,
}

impl Seg {
    pub fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Every frame of a pcap file (Ethernet link type) written by tcpdump, with
/// its timestamp in seconds. Panics on a file that is not such a pcap; a
/// last record cut by the writer being stopped is left out.
pub fn read_frames(path: &Path) -> Vec<(f64, Vec<u8>)> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(data.len() >= 24, "{}: no pcap header", path.display());
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        m => panic!("{}: not a pcap file (magic {m:#x})", path.display()),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = data[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(
        u32_at(20),
        1,
        "{}: link type is not Ethernet",
        path.display()
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let (sec, frac, incl) = (u32_at(at), u32_at(at + 4), u32_at(at + 8) as usize);
        at += 16;
        if at + incl > data.len() {
            break; // cut by the writer being stopped
        }
        let ts = f64::from(sec) + f64::from(frac) / if nanos { 1e9 } else { 1e6 };
        out.push((ts, data[at..at + incl].to_vec()));
        at += incl;
    }
    out
}

/// Every TCP segment of a pcap file (Ethernet, optionally one VLAN tag);
/// other frames are skipped. Panics on a file that is not pcap.
pub fn read_tcp(path: &Path) -> Vec<Seg> {
    read_frames(path)
        .iter()
        .filter_map(|(ts, f)| decode(f, *ts))
        .collect()
}

fn decode(f: &[u8], ts: f64) -> Option<Seg> {
    if f.len() < 14 {
        return None;
    }
    let mut et = be16(f, 12);
    let mut off = 14;
    if et == 0x8100 && f.len() >= 18 {
        et = be16(f, 16);
        off = 18;
    }
    let ip = &f[off..];
    let (src, dst, ttl, ip_id, df, tcp) = match et {
        0x0800 if ip.len() >= 20 => {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let total = usize::from(be16(ip, 2)).min(ip.len());
            if ip[9] != 6 || ihl < 20 || total < ihl + 20 {
                return None;
            }
            let s: [u8; 4] = ip[12..16].try_into().ok()?;
            let d: [u8; 4] = ip[16..20].try_into().ok()?;
            (
                IpAddr::from(s),
                IpAddr::from(d),
                ip[8],
                be16(ip, 4),
                be16(ip, 6) & 0x4000 != 0,
                &ip[ihl..total],
            )
        }
        0x86dd if ip.len() >= 60 => {
            if ip[6] != 6 {
                return None;
            }
            let plen = usize::from(be16(ip, 4)).min(ip.len() - 40);
            let s: [u8; 16] = ip[8..24].try_into().ok()?;
            let d: [u8; 16] = ip[24..40].try_into().ok()?;
            (
                IpAddr::from(s),
                IpAddr::from(d),
                ip[7],
                0,
                false,
                &ip[40..40 + plen],
            )
        }
        _ => return None,
    };
    if tcp.len() < 20 {
        return None;
    }
    let doff = usize::from(tcp[12] >> 4) * 4;
    Some(Seg {
        ts,
        src,
        dst,
        sport: be16(tcp, 0),
        dport: be16(tcp, 2),
        ttl,
        ip_id,
        df,
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        flags: tcp[13],
        window: be16(tcp, 14),
        payload_len: tcp.len().saturating_sub(doff),
    })
}
