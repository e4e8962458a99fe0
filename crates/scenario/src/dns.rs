//! DNS message builder (and a small parser for tests / assertions).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::BitOr;

use crate::{Error, Result};

/// Query / RR types.
pub mod qtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Pointer.
    pub const PTR: u16 = 12;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// EDNS(0) OPT pseudo-RR.
    pub const OPT: u16 = 41;
    /// HTTPS service binding.
    pub const HTTPS: u16 = 65;
}

/// Response codes.
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// Format error.
    pub const FORMERR: u8 = 1;
    /// Server failure.
    pub const SERVFAIL: u8 = 2;
    /// Non-existent domain.
    pub const NXDOMAIN: u8 = 3;
    /// Not implemented.
    pub const NOTIMP: u8 = 4;
    /// Refused.
    pub const REFUSED: u8 = 5;
}

/// Header flag bits (QR/opcode/rcode are handled by the builders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DnsFlags(pub u16);

impl DnsFlags {
    /// No flags.
    pub const NONE: DnsFlags = DnsFlags(0);
    /// Authoritative answer.
    pub const AA: DnsFlags = DnsFlags(0x0400);
    /// Truncated.
    pub const TC: DnsFlags = DnsFlags(0x0200);
    /// Recursion desired.
    pub const RD: DnsFlags = DnsFlags(0x0100);
    /// Recursion available.
    pub const RA: DnsFlags = DnsFlags(0x0080);
    /// Authentic data.
    pub const AD: DnsFlags = DnsFlags(0x0020);
    /// Checking disabled.
    pub const CD: DnsFlags = DnsFlags(0x0010);
}

impl BitOr for DnsFlags {
    type Output = DnsFlags;
    fn bitor(self, rhs: DnsFlags) -> DnsFlags {
        DnsFlags(self.0 | rhs.0)
    }
}

/// Record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Canonical name target.
    Cname(String),
    /// Anything else (parser only): type and raw rdata.
    Other(u16, Vec<u8>),
}

impl Rdata {
    /// RR type.
    pub fn rtype(&self) -> u16 {
        match self {
            Rdata::A(_) => qtype::A,
            Rdata::Aaaa(_) => qtype::AAAA,
            Rdata::Cname(_) => qtype::CNAME,
            Rdata::Other(t, _) => *t,
        }
    }
}

/// A resource record (class IN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    /// Owner name.
    pub name: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Data.
    pub rdata: Rdata,
}

impl Rr {
    /// A record.
    pub fn a(name: &str, ttl: u32, ip: Ipv4Addr) -> Self {
        Rr {
            name: name.into(),
            ttl,
            rdata: Rdata::A(ip),
        }
    }

    /// AAAA record.
    pub fn aaaa(name: &str, ttl: u32, ip: Ipv6Addr) -> Self {
        Rr {
            name: name.into(),
            ttl,
            rdata: Rdata::Aaaa(ip),
        }
    }

    /// CNAME record.
    pub fn cname(name: &str, ttl: u32, target: &str) -> Self {
        Rr {
            name: name.into(),
            ttl,
            rdata: Rdata::Cname(target.into()),
        }
    }
}

/// Append an uncompressed wire-format name.
pub fn encode_name(out: &mut Vec<u8>, name: &str) -> Result<()> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                out.truncate(start);
                return Err(Error::BadDnsName(name.into()));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() - start > 255 {
        out.truncate(start);
        return Err(Error::BadDnsName(name.into()));
    }
    Ok(())
}

fn opt_rr(out: &mut Vec<u8>) {
    // root name, type OPT, class = UDP payload size 1232, ttl 0, rdlen 0
    out.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
}

/// Build a standard query (RD set, one question, class IN, optional EDNS OPT with a 1232
/// byte UDP size). Errors on invalid names.
pub fn try_query(id: u16, name: &str, qtype: u16, edns: bool) -> Result<Vec<u8>> {
    let mut v = Vec::with_capacity(32 + name.len());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&DnsFlags::RD.0.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, edns as u8]);
    encode_name(&mut v, name)?;
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        opt_rr(&mut v);
    }
    Ok(v)
}

/// Build a standard query. Panics on invalid names (see [`try_query`]).
pub fn query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    try_query(id, name, qtype, edns).expect("valid DNS name")
}

fn names_eq(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Build a response for the given question parameters. Answer owner names equal to the
/// question name are compressed to a pointer to offset 12. `flags` are OR-ed with QR (and
/// RD, which queries from [`query`] set). Errors on invalid names.
#[allow(clippy::too_many_arguments)]
pub fn response_for(
    id: u16,
    qname: &str,
    qtype: u16,
    edns: bool,
    rcode: u8,
    answers: &[Rr],
    flags: DnsFlags,
) -> Result<Vec<u8>> {
    let mut v = Vec::with_capacity(64 + answers.len() * 32);
    let f = 0x8000 | DnsFlags::RD.0 | flags.0 | (rcode & 0x0f) as u16;
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&f.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, edns as u8]);
    encode_name(&mut v, qname)?;
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    for rr in answers {
        if names_eq(&rr.name, qname) {
            v.extend_from_slice(&[0xc0, 0x0c]);
        } else {
            encode_name(&mut v, &rr.name)?;
        }
        v.extend_from_slice(&rr.rdata.rtype().to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&rr.ttl.to_be_bytes());
        let len_at = v.len();
        v.extend_from_slice(&[0, 0]);
        match &rr.rdata {
            Rdata::A(a) => v.extend_from_slice(&a.octets()),
            Rdata::Aaaa(a) => v.extend_from_slice(&a.octets()),
            Rdata::Cname(n) => encode_name(&mut v, n)?,
            Rdata::Other(_, d) => v.extend_from_slice(d),
        }
        let rdlen = (v.len() - len_at - 2) as u16;
        v[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }
    if edns {
        opt_rr(&mut v);
    }
    Ok(v)
}

/// Build a response to `query` (bytes of a query message): copies ID and the question,
/// echoes EDNS if the query had it.
pub fn response(query: &[u8], rcode: u8, answers: &[Rr], flags: DnsFlags) -> Result<Vec<u8>> {
    let m = parse(query)?;
    let (qname, qt) = m
        .questions
        .first()
        .cloned()
        .ok_or(Error::MalformedDns("query has no question"))?;
    let mut r = response_for(m.id, &qname, qt, m.edns, rcode, answers, flags)?;
    if m.flags & DnsFlags::RD.0 == 0 {
        r[2] &= !0x01;
    }
    Ok(r)
}

/// DNS over TCP framing: 2-byte big-endian length prefix.
pub fn tcp_frame(msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + msg.len());
    v.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    v.extend_from_slice(msg);
    v
}

/// A parsed message (class IN assumed; enough for assertions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Transaction ID.
    pub id: u16,
    /// Full flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// Questions: (name, qtype).
    pub questions: Vec<(String, u16)>,
    /// Answer records.
    pub answers: Vec<Rr>,
    /// An OPT record was present in the additional section.
    pub edns: bool,
}

impl Message {
    /// Response bit.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// Response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x0f) as u8
    }
}

fn read_name(b: &[u8], mut off: usize) -> Result<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *b.get(off).ok_or(Error::MalformedDns("name past end"))? as usize;
        if len & 0xc0 == 0xc0 {
            let lo = *b
                .get(off + 1)
                .ok_or(Error::MalformedDns("pointer past end"))? as usize;
            end.get_or_insert(off + 2);
            off = ((len & 0x3f) << 8) | lo;
            jumps += 1;
            if jumps > 32 {
                return Err(Error::MalformedDns("pointer loop"));
            }
            continue;
        }
        if len == 0 {
            return Ok((name, end.unwrap_or(off + 1)));
        }
        let label = b
            .get(off + 1..off + 1 + len)
            .ok_or(Error::MalformedDns("label past end"))?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label));
        off += 1 + len;
    }
}

fn u16_at(b: &[u8], off: usize) -> Result<u16> {
    b.get(off..off + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(Error::MalformedDns("truncated"))
}

/// Parse a message (header, questions, answers; additional only checked for OPT).
pub fn parse(b: &[u8]) -> Result<Message> {
    if b.len() < 12 {
        return Err(Error::MalformedDns("short header"));
    }
    let id = u16_at(b, 0)?;
    let flags = u16_at(b, 2)?;
    let (qd, an, ns, ar) = (u16_at(b, 4)?, u16_at(b, 6)?, u16_at(b, 8)?, u16_at(b, 10)?);
    let mut off = 12;
    let mut questions = Vec::new();
    for _ in 0..qd {
        let (n, o) = read_name(b, off)?;
        questions.push((n, u16_at(b, o)?));
        off = o + 4;
    }
    let mut answers = Vec::new();
    let mut edns = false;
    for i in 0..(an as usize + ns as usize + ar as usize) {
        let (name, o) = read_name(b, off)?;
        let t = u16_at(b, o)?;
        let ttl = b
            .get(o + 4..o + 8)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or(Error::MalformedDns("truncated rr"))?;
        let rdlen = u16_at(b, o + 8)? as usize;
        let rd = b
            .get(o + 10..o + 10 + rdlen)
            .ok_or(Error::MalformedDns("rdata past end"))?;
        if i < an as usize {
            let rdata = match (t, rdlen) {
                (qtype::A, 4) => Rdata::A(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3])),
                (qtype::AAAA, 16) => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(rd);
                    Rdata::Aaaa(Ipv6Addr::from(a))
                }
                (qtype::CNAME, _) => Rdata::Cname(read_name(b, o + 10)?.0),
                _ => Rdata::Other(t, rd.to_vec()),
            };
            answers.push(Rr { name, ttl, rdata });
        } else if t == qtype::OPT {
            edns = true;
        }
        off = o + 10 + rdlen;
    }
    Ok(Message {
        id,
        flags,
        questions,
        answers,
        edns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes_exact() {
        let q = query(0xabcd, "example.com", qtype::A, false);
        let expected: Vec<u8> = [
            &[0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0][..],
            &[7],
            b"example",
            &[3],
            b"com",
            &[0, 0, 1, 0, 1],
        ]
        .concat();
        assert_eq!(q, expected);
        let q = query(1, "example.com.", qtype::AAAA, true);
        assert_eq!(q.len(), expected.len() + 11);
        assert_eq!(q[11], 1);
        assert!(try_query(1, "a..b", 1, false).is_err());
        assert!(try_query(1, &"x".repeat(64), 1, false).is_err());
    }

    #[test]
    fn response_roundtrip() {
        let q = query(77, "www.example.com", qtype::A, true);
        let r = response(
            &q,
            rcode::NOERROR,
            &[
                Rr::cname("www.example.com", 300, "edge.example.net"),
                Rr::a("edge.example.net", 60, Ipv4Addr::new(203, 0, 113, 34)),
            ],
            DnsFlags::RA,
        )
        .unwrap();
        let m = parse(&r).unwrap();
        assert_eq!(m.id, 77);
        assert!(m.is_response());
        assert_eq!(m.flags, 0x8180);
        assert_eq!(m.questions, vec![("www.example.com".to_string(), qtype::A)]);
        assert_eq!(m.answers.len(), 2);
        assert_eq!(m.answers[0].rdata, Rdata::Cname("edge.example.net".into()));
        assert_eq!(m.answers[0].name, "www.example.com");
        assert_eq!(m.answers[1].rdata, Rdata::A(Ipv4Addr::new(203, 0, 113, 34)));
        assert!(m.edns);
        // compression pointer used for the first answer
        let qend = 12 + 17 + 4;
        assert_eq!(&r[qend..qend + 2], &[0xc0, 0x0c]);

        let nx = response(&q, rcode::NXDOMAIN, &[], DnsFlags::RA | DnsFlags::AA).unwrap();
        let m = parse(&nx).unwrap();
        assert_eq!(m.rcode(), rcode::NXDOMAIN);
        assert!(m.answers.is_empty());
        assert_eq!(m.flags & 0x0400, 0x0400);
        assert_eq!(tcp_frame(&nx)[..2], (nx.len() as u16).to_be_bytes());
    }
}
