//! A DNS message reader for what the detectors need: the header, the first
//! question, and a summary of the answer section. No allocation; names are
//! copied (lower-cased, dotted) into a fixed buffer; compression pointers
//! are followed with a hop limit; anything malformed stops the walk and is
//! reported, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A domain name in dotted, lower-case form (at most 255 bytes).
/// Two names are equal when their bytes in use are: what lies past `len` in
/// the buffer (left from a longer name read into the same `Name`) is not
/// part of it.
#[derive(Clone, Copy)]
pub struct Name {
    len: u8,
    buf: [u8; 255],
}

impl Default for Name {
    fn default() -> Self {
        Name {
            len: 0,
            buf: [0; 255],
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Name {}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Name {
    /// The name, e.g. `www.example.com` (the root is the empty string).
    /// Bytes outside printable ASCII are replaced by `?` when read.
    pub fn as_str(&self) -> &str {
        name_str(self.bytes())
    }

    /// The name's bytes (lower-case ASCII, see [`read_name`]).
    fn bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// A 32-bit digest of the name (FNV-1a): equal names, equal digests.
    pub fn digest(&self) -> u32 {
        fnv(self.bytes()) as u32
    }

    /// Whether this name is `zone` or below it, in any letter case (zones
    /// come from the configuration as the operator wrote them).
    pub fn is_under(&self, zone: &str) -> bool {
        self.is_under_lower(&zone_bytes(zone))
    }

    /// Whether this name is `zone` or below it, for a zone already in the
    /// form names are read in ([`zone_bytes`]; an empty zone matches nothing).
    pub fn is_under_lower(&self, zone: &[u8]) -> bool {
        name_is_under(self.bytes(), zone)
    }

    /// Number of labels.
    pub fn labels(&self) -> usize {
        name_labels(self.bytes())
    }
}

fn name_str(n: &[u8]) -> &str {
    std::str::from_utf8(n).unwrap_or("?")
}

fn name_is_under(n: &[u8], zone: &[u8]) -> bool {
    if zone.is_empty() || n.len() < zone.len() {
        return false;
    }
    let (head, tail) = n.split_at(n.len() - zone.len());
    tail == zone && (head.is_empty() || head.last() == Some(&b'.'))
}

fn name_labels(n: &[u8]) -> usize {
    if n.is_empty() {
        0
    } else {
        1 + n.iter().filter(|&&c| c == b'.').count()
    }
}

/// Name bytes a [`StoredName`] holds without a heap allocation: a host name
/// of up to 46 characters, which almost every queried name is.
pub const STORED_INLINE: usize = 46;

/// A name kept past its message (a query record's question). A [`Name`] is
/// 256 bytes whatever its length, which made a DNS query record 528 bytes;
/// this keeps up to [`STORED_INLINE`] bytes inline (48 bytes in all) and
/// longer names on the heap, exactly as long as they are.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredName {
    /// A name of up to [`STORED_INLINE`] bytes.
    Inline {
        /// Bytes used.
        len: u8,
        /// The name, then zeros.
        buf: [u8; STORED_INLINE],
    },
    /// A longer name.
    Heap(Box<[u8]>),
}

impl Default for StoredName {
    fn default() -> Self {
        StoredName::Inline {
            len: 0,
            buf: [0; STORED_INLINE],
        }
    }
}

impl From<&Name> for StoredName {
    fn from(n: &Name) -> Self {
        let b = n.bytes();
        if b.len() <= STORED_INLINE {
            let mut buf = [0; STORED_INLINE];
            buf[..b.len()].copy_from_slice(b);
            StoredName::Inline {
                // b.len() <= 46
                len: b.len() as u8,
                buf,
            }
        } else {
            StoredName::Heap(b.into())
        }
    }
}

impl StoredName {
    /// The name's bytes (as [`Name`] reads them).
    fn bytes(&self) -> &[u8] {
        match self {
            StoredName::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            StoredName::Heap(b) => b,
        }
    }

    /// As [`Name::as_str`].
    pub fn as_str(&self) -> &str {
        name_str(self.bytes())
    }

    /// As [`Name::digest`].
    pub fn digest(&self) -> u32 {
        fnv(self.bytes()) as u32
    }

    /// As [`Name::is_under_lower`].
    pub fn is_under_lower(&self, zone: &[u8]) -> bool {
        name_is_under(self.bytes(), zone)
    }

    /// As [`Name::labels`].
    pub fn labels(&self) -> usize {
        name_labels(self.bytes())
    }

    /// Bytes it holds on the heap (0 for an inline name).
    pub fn heap_bytes(&self) -> usize {
        match self {
            StoredName::Inline { .. } => 0,
            StoredName::Heap(b) => b.len(),
        }
    }
}

impl PartialEq<Name> for StoredName {
    fn eq(&self, other: &Name) -> bool {
        self.bytes() == other.bytes()
    }
}

impl std::fmt::Debug for StoredName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A zone as an operator writes it (any letter case, dots around it or not)
/// in the form names are read in: lower case, without outer dots.
pub fn zone_bytes(zone: &str) -> Vec<u8> {
    zone.trim_matches('.').to_ascii_lowercase().into_bytes()
}

/// The first question of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Question {
    /// QNAME.
    pub name: Name,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS, `None` when the message ends before it (an injector quirk).
    pub qclass: Option<u16>,
}

/// Up to this many addresses of an answer section are kept.
pub const MAX_ADDRS: usize = 4;

/// What the answer section says, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Answers {
    /// Records read.
    pub count: u16,
    /// A/AAAA addresses (the first [`MAX_ADDRS`]).
    pub addrs: [Option<IpAddr>; MAX_ADDRS],
    /// CNAME records seen.
    pub cnames: u16,
    /// Order-independent hash of the records' types and data (not their
    /// TTLs): two answers with the same hash say the same thing.
    pub content_hash: u64,
    /// The smallest record TTL.
    pub min_ttl: Option<u32>,
    /// RRSIG records read (counted in `count`, left out of `content_hash`:
    /// the same RRset signed at another time, by an online signer or
    /// another cache of an anycast resolver, says the same thing).
    pub rrsigs: u16,
    /// The section could not be read to its end.
    pub malformed: bool,
}

impl Answers {
    /// The addresses present.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addrs.iter().flatten().copied()
    }
}

/// A parsed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Message {
    /// ID.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    pub flags: u16,
    /// Question count.
    pub qdcount: u16,
    /// Answer count (from the header).
    pub ancount: u16,
    /// The first question, if present and readable.
    pub question: Option<Question>,
    /// The answers.
    pub answers: Answers,
    /// An OPT (EDNS) record is present in the additional section.
    pub edns: bool,
}

/// What a detector keeps of an answer: the message without its question
/// (a 256-byte name), which it compares with its query's when the answer
/// arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// ID.
    pub id: u16,
    /// Flags word (see [`Message::flags`]).
    pub flags: u16,
    /// Question count.
    pub qdcount: u16,
    /// The answers.
    pub answers: Answers,
    /// An OPT (EDNS) record is present in the additional section.
    pub edns: bool,
}

impl Reply {
    /// RCODE (low 4 bits).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000f) as u8
    }
    /// Authoritative answer.
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// Truncated.
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    /// Recursion available.
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }
}

impl Message {
    /// The message without its question.
    pub fn reply(&self) -> Reply {
        Reply {
            id: self.id,
            flags: self.flags,
            qdcount: self.qdcount,
            answers: self.answers,
            edns: self.edns,
        }
    }

    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// RCODE (low 4 bits).
    pub fn rcode(&self) -> u8 {
        self.reply().rcode()
    }
    /// Authoritative answer.
    pub fn aa(&self) -> bool {
        self.reply().aa()
    }
    /// Truncated.
    pub fn tc(&self) -> bool {
        self.reply().tc()
    }
    /// Recursion available.
    pub fn ra(&self) -> bool {
        self.reply().ra()
    }
    /// Opcode.
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
}

/// Reads a DNS message (UDP payload, or a TCP message without its length
/// prefix). `None` when not even the header and a plausible shape are there.
pub fn parse(m: &[u8]) -> Option<Message> {
    let mut msg = Message::default();
    parse_into(m, &mut msg).then_some(msg)
}

/// [`parse`] into `msg`, which a caller reuses for every message: nothing
/// of the 256-byte question name is copied. Returns false where `parse`
/// returns `None` (`msg` is then unspecified).
pub fn parse_into(m: &[u8], msg: &mut Message) -> bool {
    parse_in_place(m, msg).is_some()
}

fn parse_in_place(m: &[u8], msg: &mut Message) -> Option<()> {
    let h = m.get(..12)?;
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let (id, flags, qd, an, ns, ar) = (be(0), be(2), be(4), be(6), be(8), be(10));
    // Plausibility: standard queries, at most a few questions.
    if qd > 4 || ((flags >> 11) & 0x0f) > 6 {
        return None;
    }
    msg.id = id;
    msg.flags = flags;
    msg.qdcount = qd;
    msg.ancount = an;
    msg.answers = Answers::default();
    msg.edns = false;
    if qd == 0 {
        msg.question = None;
    }
    let mut pos = 12;
    for i in 0..qd {
        let next = if i == 0 {
            // the first question's name goes straight into the message
            let q = msg.question.get_or_insert_with(Question::default);
            walk_name(m, pos, Some(&mut q.name))?
        } else {
            skip_name(m, pos)?
        };
        let qtype = m
            .get(next..next + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]));
        let mut qclass = m
            .get(next + 2..next + 4)
            .map(|b| u16::from_be_bytes([b[0], b[1]]));
        pos = next + 4;
        // An injector quirk: QCLASS left out, the answers following QTYPE
        // directly. Their first bytes are then a compression pointer (0xc0..),
        // never a class anyone uses: read the answers from there.
        if qclass.is_some_and(|c| c & 0xc000 == 0xc000) && an > 0 {
            qclass = None;
            pos = next + 2;
        }
        if i == 0 {
            if let Some(q) = msg.question.as_mut() {
                q.qtype = qtype?;
                q.qclass = qclass;
            }
        }
        if qclass.is_none() && pos == next + 4 {
            // the message ends inside the question: nothing more to read
            msg.answers.malformed = an > 0;
            return Some(());
        }
    }
    // Answer section.
    let mut hash_sum: u64 = 0;
    let mut hash_xor: u64 = 0;
    for _ in 0..an {
        let Some((rtype, ttl, rdata, next)) = read_rr(m, pos) else {
            msg.answers.malformed = true;
            return Some(());
        };
        pos = next;
        let a = &mut msg.answers;
        a.count += 1;
        a.min_ttl = Some(a.min_ttl.map_or(ttl, |t| t.min(ttl)));
        if rtype == 46 {
            a.rrsigs = a.rrsigs.saturating_add(1);
            continue;
        }
        let mut h = fnv(&rtype.to_be_bytes());
        match (rtype, rdata.len()) {
            (1, 4) => {
                let ip = IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]));
                push_addr(a, ip);
                h = fnv_more(h, rdata);
            }
            (28, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                push_addr(a, IpAddr::V6(Ipv6Addr::from(b)));
                h = fnv_more(h, rdata);
            }
            _ => {
                if rtype == 5 {
                    a.cnames += 1;
                }
                h = hash_rdata(h, m, rtype, next - rdata.len(), rdata);
            }
        }
        hash_sum = hash_sum.wrapping_add(h);
        hash_xor ^= h.rotate_left(17);
    }
    msg.answers.content_hash = hash_sum ^ hash_xor;
    // Authority and additional: only look for OPT.
    for _ in 0..u32::from(ns) + u32::from(ar) {
        let Some((rtype, _, _, next)) = read_rr(m, pos) else {
            break;
        };
        if rtype == 41 {
            msg.edns = true;
        }
        pos = next;
    }
    Some(())
}

/// Hashes record data with any names in it expanded: compression pointers
/// depend on where a record sits in the message, so the same RRset in
/// another order (a rotating server) or from another server would otherwise
/// hash differently. Names: NS, CNAME, PTR, DNAME (the whole rdata), MX
/// (after a 2-byte preference), SRV (after priority, weight, port), SOA (two
/// names, then fixed fields). Unreadable names fall back to the raw bytes.
fn hash_rdata(h: u64, m: &[u8], rtype: u16, off: usize, rdata: &[u8]) -> u64 {
    let (fixed_before, names) = match rtype {
        2 | 5 | 12 | 39 => (0, 1),
        15 => (2, 1),
        33 => (6, 1),
        6 => (0, 2),
        _ => return fnv_more(h, rdata),
    };
    let Some(head) = rdata.get(..fixed_before) else {
        return fnv_more(h, rdata);
    };
    let mut hh = fnv_more(h, head);
    let mut pos = off + fixed_before;
    for _ in 0..names {
        // a name inside rdata must end inside it
        match read_name(m, pos) {
            Some((name, after)) if after <= off + rdata.len() => {
                // (a name's bytes are ASCII: as_str would give the same)
                hh = fnv_more(hh, name.bytes());
                hh = fnv_more(hh, &[0]);
                pos = after;
            }
            _ => return fnv_more(h, rdata),
        }
    }
    fnv_more(hh, rdata.get(pos - off..).unwrap_or(&[]))
}

fn push_addr(a: &mut Answers, ip: IpAddr) {
    if let Some(slot) = a.addrs.iter_mut().find(|s| s.is_none()) {
        *slot = Some(ip);
    }
}

/// One resource record at `pos`: (type, ttl, rdata, next position).
fn read_rr(m: &[u8], pos: usize) -> Option<(u16, u32, &[u8], usize)> {
    let p = skip_name(m, pos)?;
    let f = m.get(p..p + 10)?;
    let rtype = u16::from_be_bytes([f[0], f[1]]);
    let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
    let len = usize::from(u16::from_be_bytes([f[8], f[9]]));
    let rdata = m.get(p + 10..p + 10 + len)?;
    Some((rtype, ttl, rdata, p + 10 + len))
}

/// Reads a (possibly compressed) name at `pos`; returns it and the position
/// after its in-place part.
pub fn read_name(m: &[u8], pos: usize) -> Option<(Name, usize)> {
    let mut name = Name::default();
    let end = walk_name(m, pos, Some(&mut name))?;
    Some((name, end))
}

/// Steps over a name at `pos` as [`read_name`] reads it (failing where it
/// fails: a name over 255 bytes, a bad label or pointer), without copying
/// it; returns the position after its in-place part.
fn skip_name(m: &[u8], pos: usize) -> Option<usize> {
    walk_name(m, pos, None)
}

/// The name at `pos`, written into `out` if given; returns the position
/// after its in-place part.
fn walk_name(m: &[u8], mut pos: usize, mut out: Option<&mut Name>) -> Option<usize> {
    if let Some(name) = out.as_deref_mut() {
        name.len = 0;
    }
    let mut n = 0usize;
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *m.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Some(end.unwrap_or(pos + 1));
                }
                let label = m.get(pos + 1..pos + 1 + usize::from(len))?;
                let dot = usize::from(n > 0);
                let after = n + dot + label.len();
                // the name (dots included) fits in 255 bytes
                if after > 255 {
                    return None;
                }
                if let Some(name) = out.as_deref_mut() {
                    if dot == 1 {
                        name.buf[n] = b'.';
                    }
                    for (d, &c) in name.buf[n + dot..after].iter_mut().zip(label) {
                        let c = c.to_ascii_lowercase();
                        *d = if c.is_ascii_graphic() && c != b'.' {
                            c
                        } else {
                            b'?'
                        };
                    }
                    name.len = after as u8;
                }
                n = after;
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let ptr = usize::from(u16::from_be_bytes([len, *m.get(pos + 1)?]) & 0x3fff);
                if end.is_none() {
                    end = Some(pos + 2);
                }
                hops += 1;
                if hops > 16 || ptr >= pos {
                    return None;
                }
                pos = ptr;
            }
            _ => return None,
        }
    }
}

pub(crate) fn fnv(b: &[u8]) -> u64 {
    fnv_more(0xcbf2_9ce4_8422_2325, b)
}

fn fnv_more(mut h: u64, b: &[u8]) -> u64 {
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Addresses that make no sense as the answer for a public name: private,
/// loopback, unspecified, link-local, shared (CGNAT), multicast, reserved,
/// documentation... (RFC 6890 special-purpose ranges).
pub fn is_bogon(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_unspecified()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            // NAT64 (RFC 6052 well-known prefix 64:ff9b::/96, RFC 8215
            // local-use 64:ff9b:1::/48): DNS64 resolvers answer IPv4-only
            // names with these; as public as the IPv4 address inside
            if s[0] == 0x64 && s[1] == 0xff9b {
                if s[2..6] == [0, 0, 0, 0] {
                    let [a, b] = s[6].to_be_bytes();
                    let [c, d] = s[7].to_be_bytes();
                    return is_bogon(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
                }
                if s[2] == 1 {
                    return false;
                }
            }
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0
                || (s[0] < 0x2000
                    && !(s[0] == 0
                        && s[1] == 0
                        && s[2] == 0
                        && s[3] == 0
                        && s[4] == 0
                        && s[5] == 0xffff))
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| is_bogon(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read_name` as it was before `walk_name`: the reference the walker
    /// must agree with, byte for byte and failure for failure.
    fn read_name_reference(m: &[u8], mut pos: usize) -> Option<(Name, usize)> {
        let mut name = Name::default();
        let mut end = None;
        let mut hops = 0;
        loop {
            let len = *m.get(pos)?;
            match len & 0xc0 {
                0x00 => {
                    if len == 0 {
                        return Some((name, end.unwrap_or(pos + 1)));
                    }
                    let label = m.get(pos + 1..pos + 1 + usize::from(len))?;
                    let mut n = usize::from(name.len);
                    if n > 0 {
                        *name.buf.get_mut(n)? = b'.';
                        n += 1;
                    }
                    for &c in label {
                        let c = c.to_ascii_lowercase();
                        *name.buf.get_mut(n)? = if c.is_ascii_graphic() && c != b'.' {
                            c
                        } else {
                            b'?'
                        };
                        n += 1;
                    }
                    name.len = u8::try_from(n).ok()?;
                    pos += 1 + usize::from(len);
                }
                0xc0 => {
                    let ptr = usize::from(u16::from_be_bytes([len, *m.get(pos + 1)?]) & 0x3fff);
                    if end.is_none() {
                        end = Some(pos + 2);
                    }
                    hops += 1;
                    if hops > 16 || ptr >= pos {
                        return None;
                    }
                    pos = ptr;
                }
                _ => return None,
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn names_read_and_skipped_as_the_reference_reads_them(
            labels in proptest::collection::vec((1u8..70, proptest::num::u8::ANY), 0..8),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            pos in 0usize..48,
        ) {
            // labels of chosen lengths (long ones overflow 255 bytes),
            // then bytes that may be pointers, bad lengths or truncation
            let mut m = vec![];
            for (len, c) in &labels {
                m.push(*len);
                m.extend(std::iter::repeat_n(*c, usize::from(*len)));
            }
            m.extend(&noise);
            let want = read_name_reference(&m, pos);
            proptest::prop_assert_eq!(read_name(&m, pos), want);
            proptest::prop_assert_eq!(skip_name(&m, pos), want.map(|(_, e)| e));
        }
    }

    /// A message with `qd` questions named by `labels` (type A, class IN
    /// unless `qclass` is false), then `tail`.
    fn message(qd: u16, labels: &[(u8, u8)], qclass: bool, tail: &[u8]) -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 0x81, 0x80];
        m.extend(qd.to_be_bytes());
        m.extend([0, 1, 0, 0, 0, 0]);
        for _ in 0..qd {
            for (len, c) in labels {
                m.push(*len);
                m.extend(std::iter::repeat_n(*c, usize::from(*len)));
            }
            m.extend([0, 0, 1]);
            if qclass {
                m.extend([0, 1]);
            }
        }
        m.extend(tail);
        m
    }

    proptest::proptest! {
        #[test]
        fn a_reused_message_reads_what_a_fresh_one_reads(
            first in proptest::collection::vec((1u8..64, proptest::num::u8::ANY), 0..6),
            labels in proptest::collection::vec((1u8..64, proptest::num::u8::ANY), 0..6),
            qd in (0u16..3, 0u16..3),
            qclass in proptest::bool::ANY,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            // whatever the previous message left in it (a longer name, a
            // question), the next one reads as parse reads it
            let mut reused = Message::default();
            let a = message(qd.0, &first, true, &[]);
            let b = message(qd.1, &labels, qclass, &tail);
            let _ = parse_into(&a, &mut reused);
            let got = parse_into(&b, &mut reused).then_some(reused);
            let want = parse(&b);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(
                got.and_then(|m| m.question).map(|q| q.name.as_str().to_owned()),
                want.and_then(|m| m.question).map(|q| q.name.as_str().to_owned())
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn a_stored_name_reads_as_the_name_it_was_made_from(
            labels in proptest::collection::vec((1u8..60, b'a'..=b'e'), 0..5),
            other in proptest::collection::vec((1u8..60, b'a'..=b'e'), 0..5),
            zone_labels in 0usize..4,
        ) {
            let m = message(1, &labels, true, &[]);
            let q = parse(&m).and_then(|m| m.question).expect("a question");
            let n = q.name;
            let s = StoredName::from(&n);
            proptest::prop_assert_eq!(s.as_str(), n.as_str());
            proptest::prop_assert_eq!(s.labels(), n.labels());
            proptest::prop_assert!(s == n);
            // inline exactly when it fits
            let len = n.as_str().len();
            proptest::prop_assert_eq!(s.heap_bytes(), if len > STORED_INLINE { len } else { 0 });
            // the same zones contain it
            let parts: Vec<&str> = n.as_str().split('.').collect();
            let zone = parts[parts.len().saturating_sub(zone_labels)..].join(".");
            let zone = zone_bytes(&zone);
            proptest::prop_assert_eq!(s.is_under_lower(&zone), n.is_under_lower(&zone));
            // and it differs from another name exactly when the names do
            let m2 = message(1, &other, true, &[]);
            let n2 = parse(&m2).and_then(|m| m.question).expect("a question").name;
            proptest::prop_assert_eq!(s == n2, n == n2);
        }
    }

    #[test]
    fn a_stored_name_is_inline_up_to_46_bytes() {
        // 46 bytes: "aaaa...a.bbb...b" (20 + 1 + 25)
        let fits = message(1, &[(20, b'a'), (25, b'b')], true, &[]);
        let n = parse(&fits).and_then(|m| m.question).unwrap().name;
        assert_eq!(n.as_str().len(), 46);
        let s = StoredName::from(&n);
        assert!(matches!(s, StoredName::Inline { len: 46, .. }));
        assert_eq!(s.as_str(), n.as_str());
        // 47 bytes go to the heap, exactly as long as the name
        let long = message(1, &[(21, b'a'), (25, b'b')], true, &[]);
        let n = parse(&long).and_then(|m| m.question).unwrap().name;
        let s = StoredName::from(&n);
        assert_eq!(s.heap_bytes(), 47);
        assert_eq!(s.as_str(), n.as_str());
        // the root
        let root = message(1, &[], true, &[]);
        let n = parse(&root).and_then(|m| m.question).unwrap().name;
        assert_eq!(StoredName::from(&n), StoredName::default());
        assert_eq!(StoredName::default().as_str(), "");
        assert_eq!(std::mem::size_of::<StoredName>(), 48);
    }

    #[test]
    fn a_reused_message_forgets_the_previous_question() {
        let mut m = Message::default();
        assert!(parse_into(QUERY, &mut m));
        assert_eq!(
            m.question.map(|q| q.name.as_str().to_owned()).as_deref(),
            Some("www.example.com")
        );
        // the root name, in a message read into the same Message
        let root = message(1, &[], true, &[]);
        assert!(parse_into(&root, &mut m));
        let q = m.question.expect("a question");
        assert_eq!((q.name.as_str(), q.qtype, q.qclass), ("", 1, Some(1)));
        assert_eq!(Some(m), parse(&root));
        // no question at all
        let none = message(0, &[], true, &[]);
        assert!(parse_into(&none, &mut m));
        assert_eq!(m.question, None);
        assert_eq!(Some(m), parse(&none));
        // names are equal by their bytes in use, not by what lies past them
        let (long, _) = read_name(b"\x07example\x03com\x00", 0).unwrap();
        let mut short = long;
        let end = walk_name(b"\x03com\x00", 0, Some(&mut short));
        assert_eq!(end, Some(5));
        assert_eq!(short, read_name(b"\x03com\x00", 0).unwrap().0);
        assert_ne!(short, long);
    }

    #[test]
    fn a_name_of_255_bytes_is_read_and_one_of_256_is_not() {
        // 63+1+63+1+63+1+63 = 255 bytes
        let mut m = vec![];
        for _ in 0..4 {
            m.push(63);
            m.extend([b'a'; 63]);
        }
        m.push(0);
        let (n, end) = read_name(&m, 0).unwrap();
        assert_eq!((n.as_str().len(), end), (255, m.len()));
        assert_eq!(skip_name(&m, 0), Some(m.len()));
        m[0] = 64; // a 64-byte first label: a bad length (0x40 is a reserved label type)
        assert_eq!(read_name(&m, 0), None);
        let mut m = vec![1, b'b'];
        for _ in 0..4 {
            m.push(63);
            m.extend([b'a'; 63]);
        }
        m.push(0);
        assert_eq!(read_name(&m, 0), None);
        assert_eq!(skip_name(&m, 0), None);
    }

    /// Query for www.Example.com A, with EDNS (annotated).
    #[rustfmt::skip]
    const QUERY: &[u8] = &[
        0x12, 0x34,             // ID
        0x01, 0x00,             // flags: RD
        0, 1, 0, 0, 0, 0, 0, 1, // 1 question, 1 additional
        3, b'w', b'w', b'w', 7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0,
        0, 1, 0, 1,             // A, IN
        0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0, // OPT
    ];

    /// Response: CNAME www -> web.example.com (compressed), A 203.0.113.5.
    #[rustfmt::skip]
    const RESPONSE: &[u8] = &[
        0x12, 0x34, 0x81, 0x80, // QR RD RA, NOERROR
        0, 1, 0, 2, 0, 0, 0, 0,
        3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0,
        0, 1, 0, 1,
        0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6, 3, b'w', b'e', b'b', 0xc0, 16, // CNAME
        0xc0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 5,                       // A
    ];

    #[test]
    fn query_and_response() {
        let q = parse(QUERY).unwrap();
        assert!(!q.is_response());
        assert!(q.edns);
        let qq = q.question.unwrap();
        assert_eq!(qq.name.as_str(), "www.example.com");
        assert_eq!((qq.qtype, qq.qclass), (1, Some(1)));
        let r = parse(RESPONSE).unwrap();
        assert!(r.is_response() && r.ra() && !r.aa());
        assert_eq!(r.rcode(), 0);
        assert_eq!(r.answers.count, 2);
        assert_eq!(r.answers.cnames, 1);
        assert_eq!(
            r.answers.addresses().collect::<Vec<_>>(),
            vec!["203.0.113.5".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(r.answers.min_ttl, Some(60));
        assert!(!r.answers.malformed);
        assert!(!r.edns);
    }

    #[test]
    fn content_hash_ignores_order_and_ttl_but_not_data() {
        let mut a = RESPONSE.to_vec();
        let base = parse(&a).unwrap().answers.content_hash;
        a[60] = 99; // A record TTL
        assert_eq!(parse(&a).unwrap().answers.content_hash, base);
        let n = a.len();
        a[n - 1] = 6; // the address
        assert_ne!(parse(&a).unwrap().answers.content_hash, base);
    }

    /// NS answer for example.com with two servers `<first>.ns.example.net`
    /// and `<second>.ns.example.net`; the second is compressed against the
    /// first's rdata, as a server does, so a rotated RRset has other bytes.
    fn ns_pair(first: u8, second: u8) -> Vec<u8> {
        #[rustfmt::skip]
        let m = vec![
            0x77, 0x77, 0x81, 0x80, // QR RD RA, NOERROR
            0, 1, 0, 2, 0, 0, 0, 0, // 1 question, 2 answers
            7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, // @12
            0, 2, 0, 1,             // NS, IN
            // answer 1 @29: name -> 12, NS, IN, TTL 300, rdlength 18, rdata @41
            0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 44, 0, 18,
            1, first, 2, b'n', b's', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'n', b'e', b't', 0,
            // answer 2 @59: name -> 12, NS, IN, TTL 300, rdlength 4, rdata @71
            0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 44, 0, 4,
            1, second, 0xc0, 43,    // "<second>" + pointer to "ns.example.net" @43
        ];
        m
    }

    #[test]
    fn content_hash_expands_names_so_a_rotated_rrset_is_the_same() {
        let ab = parse(&ns_pair(b'a', b'b')).unwrap();
        let ba = parse(&ns_pair(b'b', b'a')).unwrap();
        let ac = parse(&ns_pair(b'a', b'c')).unwrap();
        assert_eq!(ab.answers.count, 2);
        assert!(!ab.answers.malformed);
        assert_ne!(ns_pair(b'a', b'b')[41..], ns_pair(b'b', b'a')[41..]);
        assert_eq!(ab.answers.content_hash, ba.answers.content_hash);
        assert_ne!(ab.answers.content_hash, ac.answers.content_hash);
    }

    #[test]
    fn truncation_and_garbage_never_panic() {
        for cut in 0..RESPONSE.len() {
            let _ = parse(&RESPONSE[..cut]);
        }
        for i in 0..RESPONSE.len() {
            for v in [0u8, 0xff, 0xc0, 0x3f] {
                let mut b = RESPONSE.to_vec();
                b[i] = v;
                let _ = parse(&b);
            }
        }
        // a pointer loop
        let mut l = RESPONSE[..12].to_vec();
        l[5] = 1;
        l.extend([0xc0, 12, 0, 1, 0, 1]);
        assert!(parse(&l).is_none());
    }

    #[test]
    fn missing_qclass_is_reported() {
        // a forged answer whose question stops after QTYPE
        let mut b = RESPONSE[..33].to_vec();
        b.truncate(12 + 17 + 2);
        let m = parse(&b).unwrap();
        assert_eq!(m.question.unwrap().qclass, None);
        assert!(m.answers.malformed);
    }

    #[test]
    fn answers_after_a_missing_qclass_are_read() {
        // QNAME, QTYPE, then straight into the A record (QCLASS left out)
        let mut b = RESPONSE[..12].to_vec();
        b[7] = 1; // one answer
        b.extend(&RESPONSE[12..31]); // name + QTYPE
        b.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        let m = parse(&b).unwrap();
        assert_eq!(m.question.unwrap().qclass, None);
        assert_eq!(
            m.answers.addresses().collect::<Vec<_>>(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn names_under_zones() {
        let (n, _) = read_name(b"\x03www\x07example\x03lan\x00", 0).unwrap();
        assert!(n.is_under("lan"));
        assert!(n.is_under("example.lan."));
        assert!(!n.is_under("ample.lan"));
        assert_eq!(n.labels(), 3);
        // zones as an operator may write them
        assert!(n.is_under("LAN"));
        assert!(n.is_under(".Example.Lan."));
        assert!(n.is_under(&n.as_str().to_uppercase()));
        assert!(!n.is_under("AMPLE.LAN"));
        assert!(!n.is_under(""));
        assert!(!n.is_under("."));
        assert!(!n.is_under("x.www.example.lan"));
    }

    #[test]
    fn bogons() {
        for a in [
            "10.10.34.34",
            "127.0.0.1",
            "0.0.0.0",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "d0::11",
            "::ffff:10.0.0.1",
            // NAT64 with a private or loopback IPv4 address inside
            "64:ff9b::a0a:2222",
            "64:ff9b::7f00:1",
            "64::1",
        ] {
            assert!(is_bogon(a.parse().unwrap()), "{a}");
        }
        for a in [
            "203.0.113.5",
            "8.8.8.8",
            "2001:db8::1",
            "2606:4700::1111",
            // DNS64: the well-known prefix around a public address, the
            // local-use prefix
            "64:ff9b::808:808",
            "64:ff9b:1::1",
        ] {
            assert!(!is_bogon(a.parse().unwrap()), "{a}");
        }
    }
}
