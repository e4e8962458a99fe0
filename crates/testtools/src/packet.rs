//! IPv4/IPv6 + TCP: parsing the segments the injector sniffs and building
//! the forged ones (with correct IP and TCP checksums).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// IPv4 "don't fragment" flag in the flags/fragment-offset field.
const IP_DF: u16 = 0x4000;
const IP_MF: u16 = 0x2000;

/// A TCP segment in an IP packet (borrowed payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6).
    pub ip_id: u16,
    /// IPv4 DF (false for IPv6).
    pub df: bool,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub payload: &'a [u8],
}

/// Parses an IPv4 or IPv6 packet (no link header) holding an unfragmented
/// TCP segment. IPv6 extension headers are not walked (TCP must be the
/// first next header). Padding after the IP total length is ignored.
pub fn parse(pkt: &[u8]) -> Option<Segment<'_>> {
    match pkt.first()? >> 4 {
        4 => parse_v4(pkt),
        6 => parse_v6(pkt),
        _ => None,
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn parse_v4(pkt: &[u8]) -> Option<Segment<'_>> {
    if pkt.len() < 20 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(be16(pkt, 2));
    if ihl < 20 || total < ihl || total > pkt.len() || pkt[9] != 6 {
        return None;
    }
    let frag = be16(pkt, 6);
    if frag & (IP_MF | 0x1fff) != 0 {
        return None; // a fragment
    }
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    let mut s = parse_tcp(&pkt[ihl..total], src.into(), dst.into())?;
    s.ttl = pkt[8];
    s.ip_id = be16(pkt, 4);
    s.df = frag & IP_DF != 0;
    Some(s)
}

fn parse_v6(pkt: &[u8]) -> Option<Segment<'_>> {
    if pkt.len() < 40 || pkt[6] != 6 {
        return None;
    }
    let plen = usize::from(be16(pkt, 4));
    if 40 + plen > pkt.len() {
        return None;
    }
    let src: [u8; 16] = pkt[8..24].try_into().ok()?;
    let dst: [u8; 16] = pkt[24..40].try_into().ok()?;
    let mut s = parse_tcp(
        &pkt[40..40 + plen],
        Ipv6Addr::from(src).into(),
        Ipv6Addr::from(dst).into(),
    )?;
    s.ttl = pkt[7];
    Some(s)
}

fn parse_tcp(t: &[u8], src: IpAddr, dst: IpAddr) -> Option<Segment<'_>> {
    if t.len() < 20 {
        return None;
    }
    let off = usize::from(t[12] >> 4) * 4;
    if off < 20 || off > t.len() {
        return None;
    }
    Some(Segment {
        src,
        dst,
        ttl: 0,
        ip_id: 0,
        df: false,
        sport: be16(t, 0),
        dport: be16(t, 2),
        seq: be32(t, 4),
        ack: be32(t, 8),
        flags: t[13],
        window: be16(t, 14),
        payload: &t[off..],
    })
}

/// The fields of a forged segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forge {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6). Linux replaces an ID of 0
    /// on raw IP_HDRINCL sockets with one of its own.
    pub ip_id: u16,
    /// IPv4 DF (ignored for IPv6).
    pub df: bool,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
}

/// One's-complement sum of `data` (16-bit big-endian words, odd byte
/// padded) added to `acc`, not folded.
fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum(0, data))
}

/// The TCP (or UDP) checksum of `segment` (header with a zero checksum
/// field, and payload) under the pseudo-header of `src`/`dst`.
pub fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum(acc, &s.octets());
            acc = sum(acc, &d.octets());
            acc += u32::from(proto);
            acc += segment.len() as u32;
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum(acc, &s.octets());
            acc = sum(acc, &d.octets());
            acc = sum(acc, &(segment.len() as u32).to_be_bytes());
            acc += u32::from(proto);
        }
        _ => panic!("mixed address families {src} / {dst}"),
    }
    fold(sum(acc, segment))
}

/// Builds the IP packet (IPv4 or IPv6 after the addresses) of `f` with
/// `payload`: a 20-byte TCP header without options, checksums filled in.
pub fn build(f: &Forge, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&f.sport.to_be_bytes());
    tcp.extend_from_slice(&f.dport.to_be_bytes());
    tcp.extend_from_slice(&f.seq.to_be_bytes());
    tcp.extend_from_slice(&f.ack.to_be_bytes());
    tcp.push(5 << 4); // data offset 5 words
    tcp.push(f.flags);
    tcp.extend_from_slice(&f.window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    tcp.extend_from_slice(payload);
    let c = transport_checksum(f.src, f.dst, 6, &tcp);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    match (f.src, f.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + tcp.len()) as u16;
            let mut ip = Vec::with_capacity(usize::from(total));
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&f.ip_id.to_be_bytes());
            ip.extend_from_slice(&(if f.df { IP_DF } else { 0 }).to_be_bytes());
            ip.extend_from_slice(&[f.ttl, 6, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let c = checksum(&ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            ip.extend_from_slice(&tcp);
            ip
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ip = Vec::with_capacity(40 + tcp.len());
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[6, f.ttl]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&tcp);
            ip
        }
        _ => panic!("mixed address families {} / {}", f.src, f.dst),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn forge(src: &str, dst: &str) -> Forge {
        Forge {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl: 40,
            ip_id: 0x1234,
            df: false,
            sport: 443,
            dport: 40000,
            seq: 0xdead_beef,
            ack: 0x0102_0304,
            flags: RST | ACK,
            window: 0,
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: sum 0xddf2, checksum !0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        // A buffer with its checksum inserted sums to 0.
        let mut with = data.to_vec();
        with.extend_from_slice(&checksum(&data).to_be_bytes());
        assert_eq!(checksum(&with), 0);
        // Odd length: the last byte is padded with zero.
        assert_eq!(checksum(&[0x12]), !0x1200);
    }

    #[test]
    fn v4_rst_checksums_verified_by_etherparse() {
        let f = forge("198.51.100.2", "192.0.2.2");
        let pkt = build(&f, &[]);
        assert_eq!(pkt.len(), 40);
        // The IP header sums to zero with its checksum.
        assert_eq!(checksum(&pkt[..20]), 0);
        let sliced = SlicedPacket::from_ip(&pkt).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = &sliced.net else {
            panic!("not v4")
        };
        let h = ip.header();
        assert_eq!(h.ttl(), 40);
        assert_eq!(h.identification(), 0x1234);
        assert!(!h.dont_fragment());
        assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
        let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
            panic!("not tcp")
        };
        assert!(tcp.rst() && tcp.ack() && !tcp.syn() && !tcp.fin());
        assert_eq!((tcp.source_port(), tcp.destination_port()), (443, 40000));
        assert_eq!(tcp.sequence_number(), 0xdead_beef);
        assert_eq!(tcp.acknowledgment_number(), 0x0102_0304);
        let want = tcp
            .to_header()
            .calc_checksum_ipv4(&h.to_header(), tcp.payload())
            .unwrap();
        assert_eq!(tcp.checksum(), want);
        // And our parser reads back what we built.
        let s = parse(&pkt).unwrap();
        assert_eq!(
            (s.ttl, s.ip_id, s.df, s.seq, s.ack, s.flags, s.window),
            (40, 0x1234, false, 0xdead_beef, 0x0102_0304, RST | ACK, 0)
        );
    }

    #[test]
    fn v4_df_and_payload() {
        let mut f = forge("198.51.100.2", "192.0.2.2");
        f.df = true;
        f.flags = PSH | ACK;
        let pkt = build(&f, b"odd");
        let s = parse(&pkt).unwrap();
        assert!(s.df);
        assert_eq!(s.payload, b"odd");
        let sliced = SlicedPacket::from_ip(&pkt).unwrap();
        let (Some(etherparse::NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(tcp))) =
            (&sliced.net, &sliced.transport)
        else {
            panic!()
        };
        assert!(ip.header().dont_fragment());
        let want = tcp
            .to_header()
            .calc_checksum_ipv4(&ip.header().to_header(), tcp.payload())
            .unwrap();
        assert_eq!(tcp.checksum(), want);
    }

    #[test]
    fn v6_rst_checksum_verified_by_etherparse() {
        let f = forge("2001:db8:2::2", "2001:db8:1::2");
        let pkt = build(&f, &[]);
        assert_eq!(pkt.len(), 60);
        let sliced = SlicedPacket::from_ip(&pkt).unwrap();
        let (Some(etherparse::NetSlice::Ipv6(ip)), Some(TransportSlice::Tcp(tcp))) =
            (&sliced.net, &sliced.transport)
        else {
            panic!()
        };
        assert_eq!(ip.header().hop_limit(), 40);
        let want = tcp
            .to_header()
            .calc_checksum_ipv6(&ip.header().to_header(), tcp.payload())
            .unwrap();
        assert_eq!(tcp.checksum(), want);
        let s = parse(&pkt).unwrap();
        assert_eq!(s.src, "2001:db8:2::2".parse::<IpAddr>().unwrap());
        assert_eq!(s.ttl, 40);
    }

    #[test]
    fn parses_etherparse_built_segments() {
        let payload = b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
        let b = PacketBuilder::ipv4([192, 0, 2, 2], [198, 51, 100, 2], 64)
            .tcp(40000, 80, 1000, 64240)
            .ack(5000)
            .psh();
        let mut pkt = Vec::new();
        b.write(&mut pkt, payload).unwrap();
        // Ethernet padding after the IP packet is ignored.
        pkt.extend_from_slice(&[0; 6]);
        let s = parse(&pkt).unwrap();
        assert_eq!((s.sport, s.dport, s.seq, s.ack), (40000, 80, 1000, 5000));
        assert_eq!(s.flags, PSH | ACK);
        assert_eq!(s.payload, payload);
        assert_eq!(s.ttl, 64);

        let b = PacketBuilder::ipv6(
            "2001:db8:1::2".parse::<Ipv6Addr>().unwrap().octets(),
            "2001:db8:2::2".parse::<Ipv6Addr>().unwrap().octets(),
            63,
        )
        .tcp(40001, 443, 7, 100)
        .ack(9);
        let mut pkt = Vec::new();
        b.write(&mut pkt, b"x").unwrap();
        let s = parse(&pkt).unwrap();
        assert_eq!(
            (s.sport, s.dport, s.ttl, s.payload),
            (40001, 443, 63, &b"x"[..])
        );
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        let f = forge("198.51.100.2", "192.0.2.2");
        let pkt = build(&f, b"abc");
        for n in 0..pkt.len() {
            assert!(parse(&pkt[..n]).is_none(), "cut at {n}");
        }
        // A fragment.
        let mut frag = pkt.clone();
        frag[6] |= 0x20;
        assert!(parse(&frag).is_none());
        // UDP.
        let mut udp = pkt.clone();
        udp[9] = 17;
        assert!(parse(&udp).is_none());
        // Data offset below 5.
        let mut bad = pkt.clone();
        bad[20 + 12] = 4 << 4;
        assert!(parse(&bad).is_none());
    }
}
