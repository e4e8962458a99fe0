//! Internet checksum (RFC 1071) helpers.

use std::net::IpAddr;

/// Add `data` to a running one's-complement sum (not yet folded).
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Sum 4 big-endian 16-bit words at a time.
        let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
    }
    let rem = chunks.remainder();
    let mut pairs = rem.chunks_exact(2);
    for p in &mut pairs {
        acc += u16::from_be_bytes([p[0], p[1]]) as u64;
    }
    if let [last] = pairs.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Fold a running sum into the final 16-bit one's-complement checksum.
pub fn finish(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Checksum of a byte slice (e.g. an IPv4 header with its checksum field zeroed).
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// Running sum of the TCP/UDP/ICMPv6 pseudo-header.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let acc = sum(0, &s.octets());
            let acc = sum(acc, &d.octets());
            acc + proto as u64 + (len & 0xffff) as u64
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let acc = sum(0, &s.octets());
            let acc = sum(acc, &d.octets());
            acc + (len >> 16) as u64 + (len & 0xffff) as u64 + proto as u64
        }
        _ => panic!("pseudo_header: mixed IPv4/IPv6 addresses {src} / {dst}"),
    }
}

/// Transport checksum (TCP/UDP/ICMPv6) of `segment` (its checksum field zeroed).
pub fn transport(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    finish(sum(
        pseudo_header(src, dst, proto, segment.len() as u32),
        segment,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // Classic example IPv4 header (checksum field zeroed) -> 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&hdr), 0xb861);
        // Odd length handling equals padding with a zero byte.
        assert_eq!(checksum(&[1, 2, 3]), checksum(&[1, 2, 3, 0]));
    }
}
