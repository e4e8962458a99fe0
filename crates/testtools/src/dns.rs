//! DNS injection: parsing the queries `tw-dns-inject` sniffs (UDP or TCP to
//! port 53, IPv4 or IPv6) and building the forged answers it sends (the IP
//! packet, with IP, UDP and TCP checksums computed here).

use crate::packet::{self, Forge, ACK, PSH};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// DNS header flags.
pub const QR: u16 = 0x8000;
pub const AA: u16 = 0x0400;
pub const TC: u16 = 0x0200;
pub const RD: u16 = 0x0100;
pub const RA: u16 = 0x0080;

/// QTYPEs answered.
pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
/// The OPT pseudo-record (EDNS).
pub const TYPE_OPT: u16 = 41;

/// The TCP segment a query came in (TCP/53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    pub seq: u32,
    pub ack: u32,
    /// Length of the segment's payload (the length prefix included).
    pub payload_len: u32,
}

/// A DNS query as sniffed: the packet's addressing and the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    /// The client.
    pub src: IpAddr,
    /// The resolver.
    pub dst: IpAddr,
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6).
    pub ip_id: u16,
    pub sport: u16,
    pub dport: u16,
    /// Set when the query came over TCP.
    pub tcp: Option<TcpInfo>,
    /// DNS ID.
    pub id: u16,
    /// DNS header flags of the query.
    pub flags: u16,
    /// QNAME as on the wire (labels and the final zero byte, case kept).
    pub qname_wire: &'a [u8],
    /// QNAME in lower case, dotted, without the final dot ("" for the root).
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The query's EDNS UDP payload size, when it carries an OPT record.
    pub edns: Option<u16>,
}

impl Query<'_> {
    /// "udp" or "tcp".
    pub fn proto(&self) -> &'static str {
        if self.tcp.is_some() {
            "tcp"
        } else {
            "udp"
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses an IPv4 or IPv6 packet (no link header) carrying a DNS query to
/// port 53: over UDP, or over TCP when the segment holds one whole
/// length-prefixed message. Fragments, IPv6 extension headers and
/// responses are not queries (`None`).
pub fn parse_packet(pkt: &[u8]) -> Option<Query<'_>> {
    let (src, dst, ttl, ip_id, proto, l4): (IpAddr, IpAddr, u8, u16, u8, &[u8]) =
        match pkt.first()? >> 4 {
            4 => {
                let ihl = usize::from(pkt[0] & 0x0f) * 4;
                let total = usize::from(be16(pkt, 2)?);
                if pkt.len() < 20 || ihl < 20 || total < ihl || total > pkt.len() {
                    return None;
                }
                if be16(pkt, 6)? & 0x3fff != 0 {
                    return None; // MF or an offset: a fragment
                }
                let s: [u8; 4] = pkt[12..16].try_into().ok()?;
                let d: [u8; 4] = pkt[16..20].try_into().ok()?;
                (
                    s.into(),
                    d.into(),
                    pkt[8],
                    be16(pkt, 4)?,
                    pkt[9],
                    &pkt[ihl..total],
                )
            }
            6 => {
                if pkt.len() < 40 {
                    return None;
                }
                let plen = usize::from(be16(pkt, 4)?);
                let s: [u8; 16] = pkt[8..24].try_into().ok()?;
                let d: [u8; 16] = pkt[24..40].try_into().ok()?;
                (
                    s.into(),
                    d.into(),
                    pkt[7],
                    0,
                    pkt[6],
                    pkt.get(40..40 + plen)?,
                )
            }
            _ => return None,
        };
    let (sport, dport, tcp, msg) = match proto {
        17 => {
            let len = usize::from(be16(l4, 4)?);
            if len < 8 || len > l4.len() {
                return None;
            }
            (be16(l4, 0)?, be16(l4, 2)?, None, &l4[8..len])
        }
        6 => {
            let off = usize::from(*l4.get(12)? >> 4) * 4;
            if off < 20 || off > l4.len() {
                return None;
            }
            let payload = &l4[off..];
            let mlen = usize::from(be16(payload, 0)?);
            let msg = payload.get(2..2 + mlen)?;
            let info = TcpInfo {
                seq: be32(l4, 4)?,
                ack: be32(l4, 8)?,
                payload_len: payload.len() as u32,
            };
            (be16(l4, 0)?, be16(l4, 2)?, Some(info), msg)
        }
        _ => return None,
    };
    if dport != 53 {
        return None;
    }
    let q = parse_query(msg)?;
    Some(Query {
        src,
        dst,
        ttl,
        ip_id,
        sport,
        dport,
        tcp,
        id: q.id,
        flags: q.flags,
        qname_wire: q.qname_wire,
        name: q.name,
        qtype: q.qtype,
        qclass: q.qclass,
        edns: q.edns,
    })
}

/// The DNS part of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryMsg<'a> {
    pub id: u16,
    pub flags: u16,
    pub qname_wire: &'a [u8],
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<u16>,
}

/// Reads an uncompressed name at `pos` (queries do not compress): the
/// dotted lower-case text and the position after it.
fn read_plain_name(m: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    loop {
        let len = usize::from(*m.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // a pointer or a reserved label type
        }
        let label = m.get(pos..pos + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            name.push(char::from(b.to_ascii_lowercase()));
        }
        pos += len;
        if name.len() > 253 {
            return None;
        }
    }
    Some((name, pos))
}

/// Skips a (possibly compressed) name at `pos`.
fn skip_name(m: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *m.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=63 => pos += 1 + usize::from(len),
            0xc0..=0xff => {
                m.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Parses a standard query (QR clear, opcode 0, one question).
pub fn parse_query(m: &[u8]) -> Option<QueryMsg<'_>> {
    let id = be16(m, 0)?;
    let flags = be16(m, 2)?;
    if flags & QR != 0 || (flags >> 11) & 0x0f != 0 || be16(m, 4)? != 1 {
        return None;
    }
    let (name, end) = read_plain_name(m, 12)?;
    let qtype = be16(m, end)?;
    let qclass = be16(m, end + 2)?;
    let mut pos = end + 4;
    let mut edns = None;
    let rrs = u32::from(be16(m, 6)?) + u32::from(be16(m, 8)?) + u32::from(be16(m, 10)?);
    for _ in 0..rrs {
        let p = skip_name(m, pos)?;
        let rtype = be16(m, p)?;
        let class = be16(m, p + 2)?;
        let rdlen = usize::from(be16(m, p + 8)?);
        if rtype == TYPE_OPT {
            edns = Some(class);
        }
        pos = p + 10 + rdlen;
        if pos > m.len() {
            break;
        }
    }
    Some(QueryMsg {
        id,
        flags,
        qname_wire: &m[12..end],
        name,
        qtype,
        qclass,
        edns,
    })
}

/// What the forged answers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerSpec {
    /// Addresses for A queries (none: A queries are not answered).
    pub a: Vec<Ipv4Addr>,
    /// Addresses for AAAA queries (none: AAAA queries are not answered).
    pub aaaa: Vec<Ipv6Addr>,
    /// The records' DNS TTL.
    pub dns_ttl: u32,
    /// Leave QCLASS out of the echoed question (the answers follow QTYPE
    /// directly): an injector quirk.
    pub no_qclass: bool,
    /// No OPT record even when the query had one.
    pub drop_edns: bool,
    /// Set AA.
    pub aa: bool,
    /// Set RA.
    pub ra: bool,
}

impl Default for AnswerSpec {
    fn default() -> Self {
        AnswerSpec {
            a: vec![Ipv4Addr::new(10, 10, 34, 34)],
            aaaa: vec!["d0::11".parse().unwrap()],
            dns_ttl: 60,
            no_qclass: false,
            drop_edns: false,
            aa: false,
            ra: true,
        }
    }
}

/// The EDNS UDP payload size the forged OPT record announces.
pub const EDNS_SIZE: u16 = 1232;

/// The forged DNS message answering `q` (`None` when `spec` has no
/// address of the query's type).
pub fn answer(q: &QueryMsg<'_>, spec: &AnswerSpec) -> Option<Vec<u8>> {
    let rdatas: Vec<Vec<u8>> = match q.qtype {
        TYPE_A => spec.a.iter().map(|a| a.octets().to_vec()).collect(),
        TYPE_AAAA => spec.aaaa.iter().map(|a| a.octets().to_vec()).collect(),
        _ => Vec::new(),
    };
    if rdatas.is_empty() {
        return None;
    }
    let mut flags = QR | (q.flags & RD);
    if spec.aa {
        flags |= AA;
    }
    if spec.ra {
        flags |= RA;
    }
    let opt = q.edns.is_some() && !spec.drop_edns;
    let mut m = Vec::with_capacity(64 + rdatas.len() * 28);
    m.extend_from_slice(&q.id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(rdatas.len() as u16).to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&u16::from(opt).to_be_bytes());
    m.extend_from_slice(q.qname_wire);
    m.extend_from_slice(&q.qtype.to_be_bytes());
    if !spec.no_qclass {
        m.extend_from_slice(&q.qclass.to_be_bytes());
    }
    for r in &rdatas {
        m.extend_from_slice(&[0xc0, 12]); // the question's name
        m.extend_from_slice(&q.qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes()); // IN
        m.extend_from_slice(&spec.dns_ttl.to_be_bytes());
        m.extend_from_slice(&(r.len() as u16).to_be_bytes());
        m.extend_from_slice(r);
    }
    if opt {
        m.push(0); // root
        m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        m.extend_from_slice(&EDNS_SIZE.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // ext-rcode, version, flags, rdlen
    }
    Some(m)
}

/// How the forged packet's IP header looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpSpec {
    pub ttl: u8,
    /// IPv4 ID (Linux replaces 0 on raw sockets).
    pub ip_id: u16,
    pub df: bool,
}

/// The IP packet carrying `dns` from the resolver to the client of `q`:
/// UDP, or over TCP one PSH+ACK segment continuing the query's connection
/// (seq = the query's ack, ack = its seq + length) with the message
/// length-prefixed.
pub fn forge(q: &Query<'_>, dns: &[u8], ip: IpSpec) -> Vec<u8> {
    match q.tcp {
        Some(t) => {
            let mut payload = Vec::with_capacity(dns.len() + 2);
            payload.extend_from_slice(&(dns.len() as u16).to_be_bytes());
            payload.extend_from_slice(dns);
            let f = Forge {
                src: q.dst,
                dst: q.src,
                ttl: ip.ttl,
                ip_id: ip.ip_id,
                df: ip.df,
                sport: q.dport,
                dport: q.sport,
                seq: t.ack,
                ack: t.seq.wrapping_add(t.payload_len),
                flags: PSH | ACK,
                window: 502,
            };
            packet::build(&f, &payload)
        }
        None => build_udp(q.dst, q.src, q.dport, q.sport, ip, dns),
    }
}

/// An IPv4 or IPv6 packet holding one UDP datagram, checksums filled in.
pub fn build_udp(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    ip: IpSpec,
    payload: &[u8],
) -> Vec<u8> {
    let mut udp = Vec::with_capacity(8 + payload.len());
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut c = packet::transport_checksum(src, dst, 17, &udp);
    if c == 0 {
        c = 0xffff; // 0 means "no checksum" in UDP
    }
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + udp.len()) as u16;
            let mut p = Vec::with_capacity(usize::from(total));
            p.extend_from_slice(&[0x45, 0]);
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&ip.ip_id.to_be_bytes());
            p.extend_from_slice(&(if ip.df { 0x4000u16 } else { 0 }).to_be_bytes());
            p.extend_from_slice(&[ip.ttl, 17, 0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            let c = packet::checksum(&p);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p.extend_from_slice(&udp);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut p = Vec::with_capacity(40 + udp.len());
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&(udp.len() as u16).to_be_bytes());
            p.extend_from_slice(&[17, ip.ttl]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&udp);
            p
        }
        _ => panic!("mixed address families {src} / {dst}"),
    }
}

/// Whether `name` (lower case) is blocked by one of `patterns` (the name
/// itself or a subdomain).
pub fn blocked<'p>(name: &str, patterns: &'p [String]) -> Option<&'p str> {
    patterns
        .iter()
        .find(|p| crate::inject::name_matches(name, p))
        .map(String::as_str)
}

/// The QTYPE's mnemonic, or its number.
pub fn qtype_name(t: u16) -> String {
    match t {
        TYPE_A => "A".into(),
        TYPE_AAAA => "AAAA".into(),
        5 => "CNAME".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        65 => "HTTPS".into(),
        n => n.to_string(),
    }
}

/// Parses a dotted name into wire format (for tests and tools).
pub fn name_wire(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for l in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

/// A standard query message (RD set), optionally with an OPT record.
pub fn query_msg(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&RD.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
    m.extend_from_slice(&u16::from(edns.is_some()).to_be_bytes());
    m.extend_from_slice(&name_wire(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if let Some(size) = edns {
        m.push(0);
        m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        m.extend_from_slice(&size.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0x80, 0, 0, 0]); // DO set
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    const CLIENT4: [u8; 4] = [192, 0, 2, 2];
    const RESOLVER4: [u8; 4] = [198, 51, 100, 2];

    fn udp_query_v4(msg: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(CLIENT4, RESOLVER4, 64).udp(40000, 53);
        let mut p = Vec::new();
        b.write(&mut p, msg).unwrap();
        p
    }

    #[test]
    fn parses_udp_query_with_edns() {
        let msg = query_msg(0x1234, "WWW.Blocked.Example", TYPE_A, Some(1232));
        let mut pkt = udp_query_v4(&msg);
        pkt.extend_from_slice(&[0; 4]); // Ethernet padding
        let q = parse_packet(&pkt).unwrap();
        assert_eq!(q.src, IpAddr::from(CLIENT4));
        assert_eq!(q.dst, IpAddr::from(RESOLVER4));
        assert_eq!((q.sport, q.dport, q.ttl), (40000, 53, 64));
        assert_eq!(
            (q.id, q.qtype, q.qclass, q.edns),
            (0x1234, 1, 1, Some(1232))
        );
        assert_eq!(q.name, "www.blocked.example");
        assert_eq!(q.qname_wire, &name_wire("WWW.Blocked.Example")[..]);
        assert_eq!(q.flags, RD);
        assert!(q.tcp.is_none());
        assert_eq!(q.proto(), "udp");
        assert_eq!(
            blocked(&q.name, &["blocked.example".into()]),
            Some("blocked.example")
        );
        assert_eq!(
            blocked("other-blocked.example", &["blocked.example".into()]),
            None
        );
    }

    #[test]
    fn rejects_non_queries() {
        let msg = query_msg(1, "blocked.example", TYPE_A, None);
        // A response.
        let mut resp = msg.clone();
        resp[2] |= 0x80;
        assert!(parse_packet(&udp_query_v4(&resp)).is_none());
        // Another port.
        let b = PacketBuilder::ipv4(CLIENT4, RESOLVER4, 64).udp(40000, 5353);
        let mut p = Vec::new();
        b.write(&mut p, &msg).unwrap();
        assert!(parse_packet(&p).is_none());
        // A compressed question name, two questions, a cut message.
        let mut ptr = msg[..12].to_vec();
        ptr.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse_query(&ptr).is_none());
        let mut two = msg.clone();
        two[5] = 2;
        assert!(parse_query(&two).is_none());
        for n in 0..msg.len() {
            assert!(parse_query(&msg[..n]).is_none(), "cut at {n}");
        }
        // A fragment.
        let mut frag = udp_query_v4(&msg);
        frag[6] |= 0x20;
        assert!(parse_packet(&frag).is_none());
    }

    #[test]
    fn parses_tcp_query_v6() {
        let msg = query_msg(7, "big.example", TYPE_AAAA, None);
        let mut payload = (msg.len() as u16).to_be_bytes().to_vec();
        payload.extend_from_slice(&msg);
        let c: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        let r: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
        let b = PacketBuilder::ipv6(c.octets(), r.octets(), 63)
            .tcp(40001, 53, 1000, 64240)
            .ack(5000)
            .psh();
        let mut p = Vec::new();
        b.write(&mut p, &payload).unwrap();
        let q = parse_packet(&p).unwrap();
        assert_eq!(q.proto(), "tcp");
        assert_eq!(
            q.tcp,
            Some(TcpInfo {
                seq: 1000,
                ack: 5000,
                payload_len: payload.len() as u32
            })
        );
        assert_eq!((q.qtype, q.name.as_str(), q.ttl), (28, "big.example", 63));
        // A segment holding only part of the message is not parsed.
        let b = PacketBuilder::ipv6(c.octets(), r.octets(), 63)
            .tcp(40001, 53, 1000, 64240)
            .ack(5000);
        let mut p = Vec::new();
        b.write(&mut p, &payload[..payload.len() - 1]).unwrap();
        assert!(parse_packet(&p).is_none());
    }

    /// Reads the forged message back: (id, flags, question name, qtype,
    /// qclass, answers' rdata, has OPT).
    fn read_back(
        m: &[u8],
        with_qclass: bool,
    ) -> (u16, u16, String, u16, Option<u16>, Vec<Vec<u8>>, bool) {
        let id = be16(m, 0).unwrap();
        let flags = be16(m, 2).unwrap();
        assert_eq!(be16(m, 4), Some(1));
        let an = be16(m, 6).unwrap();
        let ar = be16(m, 10).unwrap();
        let (name, end) = read_plain_name(m, 12).unwrap();
        let qtype = be16(m, end).unwrap();
        let (qclass, mut pos) = if with_qclass {
            (be16(m, end + 2), end + 4)
        } else {
            (None, end + 2)
        };
        let mut rdatas = Vec::new();
        for _ in 0..an {
            assert_eq!(&m[pos..pos + 2], &[0xc0, 12]);
            assert_eq!(be16(m, pos + 2), Some(qtype));
            assert_eq!(be16(m, pos + 4), Some(1));
            let len = usize::from(be16(m, pos + 10).unwrap());
            rdatas.push(m[pos + 12..pos + 12 + len].to_vec());
            pos += 12 + len;
        }
        let mut opt = false;
        for _ in 0..ar {
            assert_eq!(m[pos], 0);
            assert_eq!(be16(m, pos + 1), Some(TYPE_OPT));
            opt = true;
            pos += 11;
        }
        assert_eq!(pos, m.len(), "trailing bytes");
        (id, flags, name, qtype, qclass, rdatas, opt)
    }

    #[test]
    fn answer_echoes_the_question() {
        let msg = query_msg(0xbeef, "Blocked.Example", TYPE_A, Some(4096));
        let q = parse_query(&msg).unwrap();
        let spec = AnswerSpec {
            a: vec![Ipv4Addr::new(10, 10, 34, 34), Ipv4Addr::new(10, 10, 34, 35)],
            ..Default::default()
        };
        let a = answer(&q, &spec).unwrap();
        let (id, flags, name, qtype, qclass, rd, opt) = read_back(&a, true);
        assert_eq!((id, qtype, qclass), (0xbeef, TYPE_A, Some(1)));
        assert_eq!(flags, QR | RD | RA);
        assert_eq!(name, "blocked.example");
        // The name's case is echoed as sent (0x20 encoding).
        assert_eq!(&a[12..12 + q.qname_wire.len()], q.qname_wire);
        assert_eq!(rd, vec![vec![10, 10, 34, 34], vec![10, 10, 34, 35]]);
        assert!(opt);
        // Quirks: no QCLASS, no EDNS, AA.
        let spec = AnswerSpec {
            a: vec![Ipv4Addr::LOCALHOST],
            no_qclass: true,
            drop_edns: true,
            aa: true,
            ..Default::default()
        };
        let a = answer(&q, &spec).unwrap();
        let (_, flags, _, _, qclass, rd, opt) = read_back(&a, false);
        assert_eq!(flags, QR | AA | RD | RA);
        assert_eq!(qclass, None);
        assert_eq!(rd, vec![vec![127, 0, 0, 1]]);
        assert!(!opt);
        // AAAA.
        let msg = query_msg(2, "blocked.example", TYPE_AAAA, None);
        let q = parse_query(&msg).unwrap();
        let a = answer(&q, &AnswerSpec::default()).unwrap();
        let (_, _, _, qtype, _, rd, opt) = read_back(&a, true);
        assert_eq!(qtype, TYPE_AAAA);
        assert_eq!(
            rd,
            vec!["d0::11".parse::<Ipv6Addr>().unwrap().octets().to_vec()]
        );
        assert!(!opt);
        // Types it has no address for are not answered.
        let msg = query_msg(3, "blocked.example", 16, None);
        assert!(answer(&parse_query(&msg).unwrap(), &AnswerSpec::default()).is_none());
        let spec = AnswerSpec {
            aaaa: vec![],
            ..Default::default()
        };
        let msg = query_msg(4, "blocked.example", TYPE_AAAA, None);
        assert!(answer(&parse_query(&msg).unwrap(), &spec).is_none());
    }

    #[test]
    fn udp_v4_checksums_verified_by_etherparse() {
        let msg = query_msg(0x4242, "blocked.example", TYPE_A, None);
        let pkt = udp_query_v4(&msg);
        let q = parse_packet(&pkt).unwrap();
        let dns = answer(&parse_query(&msg).unwrap(), &AnswerSpec::default()).unwrap();
        let ip = IpSpec {
            ttl: 102,
            ip_id: 30000,
            df: false,
        };
        let out = forge(&q, &dns, ip);
        assert_eq!(packet::checksum(&out[..20]), 0);
        let s = SlicedPacket::from_ip(&out).unwrap();
        let (Some(etherparse::NetSlice::Ipv4(ip4)), Some(TransportSlice::Udp(udp))) =
            (&s.net, &s.transport)
        else {
            panic!("not v4 udp")
        };
        let h = ip4.header();
        assert_eq!(
            (h.ttl(), h.identification(), h.dont_fragment()),
            (102, 30000, false)
        );
        assert_eq!(h.source(), RESOLVER4);
        assert_eq!(h.destination(), CLIENT4);
        assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
        assert_eq!((udp.source_port(), udp.destination_port()), (53, 40000));
        let want = udp
            .to_header()
            .calc_checksum_ipv4(&h.to_header(), udp.payload())
            .unwrap();
        assert_eq!(udp.checksum(), want);
        assert_eq!(udp.payload(), &dns[..]);
        // The whole datagram sums to zero under its pseudo-header.
        assert_eq!(packet::transport_checksum(q.dst, q.src, 17, &out[20..]), 0);
    }

    #[test]
    fn udp_v6_checksum_verified_by_etherparse() {
        let c: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        let r: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
        let msg = query_msg(9, "blocked.example", TYPE_AAAA, Some(1232));
        let b = PacketBuilder::ipv6(c.octets(), r.octets(), 64).udp(40002, 53);
        let mut p = Vec::new();
        b.write(&mut p, &msg).unwrap();
        let q = parse_packet(&p).unwrap();
        let dns = answer(&parse_query(&msg).unwrap(), &AnswerSpec::default()).unwrap();
        let out = forge(
            &q,
            &dns,
            IpSpec {
                ttl: 40,
                ip_id: 0,
                df: false,
            },
        );
        let s = SlicedPacket::from_ip(&out).unwrap();
        let (Some(etherparse::NetSlice::Ipv6(ip6)), Some(TransportSlice::Udp(udp))) =
            (&s.net, &s.transport)
        else {
            panic!("not v6 udp")
        };
        assert_eq!(ip6.header().hop_limit(), 40);
        assert_eq!(ip6.header().source_addr(), r);
        let want = udp
            .to_header()
            .calc_checksum_ipv6(&ip6.header().to_header(), udp.payload())
            .unwrap();
        assert_eq!(udp.checksum(), want);
        assert_ne!(udp.checksum(), 0);
    }

    #[test]
    fn tcp_answer_continues_the_connection() {
        let msg = query_msg(11, "blocked.example", TYPE_A, None);
        let mut payload = (msg.len() as u16).to_be_bytes().to_vec();
        payload.extend_from_slice(&msg);
        let b = PacketBuilder::ipv4(CLIENT4, RESOLVER4, 64)
            .tcp(40003, 53, 1000, 64240)
            .ack(5000)
            .psh();
        let mut p = Vec::new();
        b.write(&mut p, &payload).unwrap();
        let q = parse_packet(&p).unwrap();
        let dns = answer(&parse_query(&msg).unwrap(), &AnswerSpec::default()).unwrap();
        let out = forge(
            &q,
            &dns,
            IpSpec {
                ttl: 40,
                ip_id: 7,
                df: true,
            },
        );
        let seg = packet::parse(&out).unwrap();
        assert_eq!((seg.sport, seg.dport), (53, 40003));
        assert_eq!((seg.seq, seg.ack), (5000, 1000 + payload.len() as u32));
        assert_eq!(seg.flags, PSH | ACK);
        assert!(seg.df);
        assert_eq!(&seg.payload[..2], &(dns.len() as u16).to_be_bytes());
        assert_eq!(&seg.payload[2..], &dns[..]);
        let s = SlicedPacket::from_ip(&out).unwrap();
        let (Some(etherparse::NetSlice::Ipv4(ip4)), Some(TransportSlice::Tcp(tcp))) =
            (&s.net, &s.transport)
        else {
            panic!()
        };
        let want = tcp
            .to_header()
            .calc_checksum_ipv4(&ip4.header().to_header(), tcp.payload())
            .unwrap();
        assert_eq!(tcp.checksum(), want);
    }
}
