//! QUIC-like datagrams (RFC 9000 header layout; payloads are random, not encrypted).

use crate::rng::Rng;

/// QUIC version 1.
pub const VERSION_1: u32 = 0x0000_0001;

/// Long-header packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongType {
    /// Initial (0).
    Initial,
    /// 0-RTT (1).
    ZeroRtt,
    /// Handshake (2).
    Handshake,
    /// Retry (3).
    Retry,
}

fn push_varint(out: &mut Vec<u8>, v: u64) {
    if v < 64 {
        out.push(v as u8);
    } else if v < 16384 {
        out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes());
    } else if v < (1 << 30) {
        out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

/// A long-header packet: 4-byte packet number, random payload so that the datagram is
/// `total_len` bytes (at least header + 20 bytes).
pub fn long_header(
    rng: &mut Rng,
    ty: LongType,
    version: u32,
    dcid: &[u8],
    scid: &[u8],
    total_len: usize,
) -> Vec<u8> {
    let t = match ty {
        LongType::Initial => 0,
        LongType::ZeroRtt => 1,
        LongType::Handshake => 2,
        LongType::Retry => 3,
    };
    let mut v = Vec::with_capacity(total_len.max(64));
    v.push(0xc0 | (t << 4) | 0x03); // 4-byte packet number
    v.extend_from_slice(&version.to_be_bytes());
    v.push(dcid.len() as u8);
    v.extend_from_slice(dcid);
    v.push(scid.len() as u8);
    v.extend_from_slice(scid);
    if ty == LongType::Initial {
        push_varint(&mut v, 0); // token length
    }
    // Length (always a 2-byte varint) covers packet number + payload.
    let remaining = total_len.saturating_sub(v.len() + 2).clamp(24, 16383);
    v.extend_from_slice(&((remaining as u16) | 0x4000).to_be_bytes());
    let start = v.len();
    v.resize(start + remaining, 0);
    rng.fill(&mut v[start..]);
    v
}

/// Client Initial: version 1, random 8-byte DCID and SCID, padded to 1200 bytes.
pub fn initial(rng: &mut Rng) -> Vec<u8> {
    let dcid = rng.bytes(8);
    let scid = rng.bytes(8);
    long_header(rng, LongType::Initial, VERSION_1, &dcid, &scid, 1200)
}

/// Short-header (1-RTT) packet of `total_len` bytes for `dcid`.
pub fn short_header(rng: &mut Rng, dcid: &[u8], total_len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(total_len.max(1 + dcid.len() + 20));
    v.push(0x40 | 0x03);
    v.extend_from_slice(dcid);
    let start = v.len();
    v.resize(total_len.max(start + 20), 0);
    rng.fill(&mut v[start..]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_layout() {
        let mut r = Rng::new(3);
        let p = initial(&mut r);
        assert_eq!(p.len(), 1200);
        assert_eq!(p[0] & 0xf0, 0xc0);
        assert_eq!(&p[1..5], &[0, 0, 0, 1]);
        assert_eq!(p[5], 8);
        assert_eq!(p[14], 8);
        assert_eq!(p[23], 0); // token len
        let len = u16::from_be_bytes([p[24], p[25]]) & 0x3fff;
        assert_eq!(len as usize, 1200 - 26);
        let h = long_header(
            &mut r,
            LongType::Handshake,
            VERSION_1,
            &[1; 8],
            &[2; 8],
            100,
        );
        assert_eq!(h.len(), 100);
        let s = short_header(&mut r, &[9; 8], 300);
        assert_eq!(s.len(), 300);
        assert_eq!(s[0] & 0x80, 0);
    }
}
