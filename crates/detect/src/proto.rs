//! Application-layer peeks that name a flow's target: the TLS ClientHello's
//! SNI and the HTTP request's Host. Both read one segment's payload without
//! allocating and give up (return `None`) on anything unexpected.

/// The server name of a TLS ClientHello that starts at `p` (a TLS record),
/// if the record holds the SNI extension. Works on a truncated ClientHello
/// as long as the SNI itself is present.
pub fn tls_sni(p: &[u8]) -> Option<&str> {
    // record: type 22 (handshake), version 3.x, length
    if p.len() < 9 || p[0] != 0x16 || p[1] != 0x03 {
        return None;
    }
    // handshake: type 1 (ClientHello), 3-byte length
    if p[5] != 0x01 {
        return None;
    }
    let mut r = Reader { b: p.get(9..)? };
    r.skip(2 + 32)?; // version, random
    let sid = r.u8()?;
    r.skip(usize::from(sid))?;
    let cs = r.u16()?;
    r.skip(usize::from(cs))?;
    let cm = r.u8()?;
    r.skip(usize::from(cm))?;
    let ext_len = usize::from(r.u16()?);
    let mut exts = Reader {
        b: r.b.get(..ext_len.min(r.b.len()))?,
    };
    while let (Some(ty), Some(len)) = (exts.u16(), exts.u16()) {
        let body = exts.take(usize::from(len))?;
        if ty == 0 {
            // server_name_list: 2-byte length, then entries (type, 2-byte length, name)
            let mut s = Reader { b: body };
            s.u16()?;
            while let (Some(kind), Some(n)) = (s.u8(), s.u16()) {
                let name = s.take(usize::from(n))?;
                if kind == 0 {
                    return hostname(name);
                }
            }
            return None;
        }
    }
    None
}

/// HTTP/1.x request methods, each with its space: the first seven are a
/// request for a resource (what `http_injection` examines), then a proxy's
/// `CONNECT` and `TRACE`.
pub const HTTP_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// The Host header of an HTTP/1.x request starting at `p` (port removed).
pub fn http_host(p: &[u8]) -> Option<&str> {
    if !HTTP_METHODS.iter().any(|m| p.starts_with(m)) {
        return None;
    }
    let head = &p[..p.len().min(4096)];
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:") {
            let v = trim(&line[5..]);
            // drop a :port, but not inside an IPv6 literal
            let v = match v.iter().rposition(|&b| b == b':') {
                Some(i) if !v.contains(&b']') || v.get(i.wrapping_sub(1)) == Some(&b']') => &v[..i],
                _ => v,
            };
            return hostname(v);
        }
    }
    None
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Accepts only plausible host names (letters, digits, `-`, `.`, `_`, `:`,
/// brackets for IPv6 literals), at most 253 bytes: hostile payloads must not
/// inject arbitrary text into events.
fn hostname(b: &[u8]) -> Option<&str> {
    if b.is_empty() || b.len() > 253 {
        return None;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b':' | b'[' | b']'))
    {
        return None;
    }
    std::str::from_utf8(b).ok()
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (h, t) = (self.b.get(..n)?, self.b.get(n..)?);
        self.b = t;
        Some(h)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello for "blocked.example" (annotated).
    #[rustfmt::skip]
    fn client_hello(name: &[u8]) -> Vec<u8> {
        let mut ext = vec![];
        // SNI extension: type 0, length, list length, entry type 0, name length, name
        let n = name.len() as u16;
        ext.extend([0, 0]);
        ext.extend((n + 5).to_be_bytes());
        ext.extend((n + 3).to_be_bytes());
        ext.push(0);
        ext.extend(n.to_be_bytes());
        ext.extend(name);
        // ALPN h2 (another extension after SNI)
        ext.extend([0, 16, 0, 5, 0, 3, 2, b'h', b'2']);
        let mut body = vec![0x03, 0x03];           // client version TLS 1.2
        body.extend([7u8; 32]);                    // random
        body.push(0);                              // session id length
        body.extend([0, 2, 0x13, 0x01]);           // one cipher suite
        body.extend([1, 0]);                       // compression: null
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![0x01, 0, 0, 0];          // ClientHello, 3-byte length
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![0x16, 0x03, 0x01];      // handshake record, TLS 1.0 compat
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn sni_is_read() {
        let ch = client_hello(b"blocked.example");
        assert_eq!(tls_sni(&ch), Some("blocked.example"));
        // every truncation is harmless; once the name is complete it is found
        for cut in 0..ch.len() {
            let _ = tls_sni(&ch[..cut]);
        }
        assert_eq!(tls_sni(&ch[..ch.len() - 9]), Some("blocked.example"));
        assert_eq!(tls_sni(&client_hello(b"bad name\x00")), None);
        assert_eq!(tls_sni(b"\x17\x03\x03\x00\x10"), None);
    }

    #[test]
    fn host_is_read() {
        let r = b"GET / HTTP/1.1\r\nUser-Agent: x\r\nHost: Blocked.Example:8080\r\n\r\n";
        assert_eq!(http_host(r), Some("Blocked.Example"));
        assert_eq!(
            http_host(b"GET / HTTP/1.1\r\nhost:[2001:db8::1]:80\r\n\r\n"),
            Some("[2001:db8::1]")
        );
        assert_eq!(
            http_host(b"GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n"),
            Some("[2001:db8::1]")
        );
        assert_eq!(
            http_host(b"GET / HTTP/1.1\r\n\r\nHost: late.example\r\n"),
            None
        );
        assert_eq!(http_host(b"HELLO\r\nHost: x.example\r\n"), None);
        assert_eq!(http_host(b"GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n"), None);
    }
}

/// What a ClientHello says about the client, for evidence.
///
/// Kept for the flow's life by every TLS flow that sent one: one 56-byte
/// heap block (plus the ALPN name, usually two bytes), not three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloInfo {
    /// The first ALPN protocol offered, if any.
    pub alpn: Option<Box<str>>,
    /// A JA4-style fingerprint of the ClientHello (`t13d1516h2_<12 hex>_<12 hex>`):
    /// transport, TLS version, SNI present, cipher and extension counts,
    /// ALPN, then truncated SHA-256 of the sorted cipher list and of the
    /// sorted extensions plus signature algorithms (GREASE values removed).
    pub ja4: Ja4,
    /// It carried an Encrypted Client Hello extension (`0xfe0d`), real or
    /// decoy (Chrome and Firefox send a decoy, "GREASE", on ClientHellos
    /// without an ECH configuration). With a real one its SNI is the outer,
    /// public name (`cloudflare-ech.com`). Some censors block the extension
    /// itself (Russia since November 2024).
    pub ech: bool,
}

/// The Encrypted Client Hello extension (draft-ietf-tls-esni).
const EXT_ECH: u16 = 0xfe0d;

/// A JA4-style fingerprint: always 36 ASCII characters, kept inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ja4([u8; 36]);

impl Ja4 {
    /// The fingerprint's text.
    pub fn as_str(&self) -> &str {
        // only ever written with ASCII (see `hello_info`)
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::ops::Deref for Ja4 {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Ja4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Ja4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Ja4 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A ClientHello's lists of 16-bit values, on the stack up to 64 (browsers
/// send fewer than 20 ciphers, extensions or signature algorithms).
type U16s = smallvec::SmallVec<[u16; 64]>;

fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Feeds `xs` as `0a0b,0c0d,...` (four lower-case hex digits each) to `h`,
/// through a stack buffer: one `update` per 51 values, not two per value.
fn hash_hex_list(h: &mut sha2::Sha256, xs: &[u16]) {
    use sha2::Digest;
    let mut buf = [0u8; 255];
    let mut n = 0;
    for (i, x) in xs.iter().enumerate() {
        if n + 5 > buf.len() {
            h.update(&buf[..n]);
            n = 0;
        }
        if i > 0 {
            buf[n] = b',';
            n += 1;
        }
        let b = x.to_be_bytes();
        buf[n..n + 4].copy_from_slice(&[
            HEX[usize::from(b[0] >> 4)],
            HEX[usize::from(b[0] & 15)],
            HEX[usize::from(b[1] >> 4)],
            HEX[usize::from(b[1] & 15)],
        ]);
        n += 4;
    }
    h.update(&buf[..n]);
}

/// Writes the first 6 bytes of the digest as 12 hex digits.
fn put_hex12(out: &mut [u8], h: sha2::Sha256) {
    use sha2::Digest;
    for (o, b) in out.chunks_exact_mut(2).zip(h.finalize().iter()) {
        o[0] = HEX[usize::from(b >> 4)];
        o[1] = HEX[usize::from(b & 15)];
    }
}

/// Two decimal digits (0..=99).
fn two_digits(n: usize) -> [u8; 2] {
    let n = n.min(99) as u8;
    [b'0' + n / 10, b'0' + n % 10]
}

/// Reads a bare handshake message (type 1, ClientHello) into [`HelloInfo`].
/// `quic`: the hello came in QUIC (JA4 transport `q`) rather than TCP.
pub fn hello_info(hs: &[u8], quic: bool) -> Option<HelloInfo> {
    if hs.first() != Some(&1) {
        return None;
    }
    let mut r = Reader { b: hs.get(4..)? };
    let legacy = r.u16()?;
    r.skip(32)?;
    let sid = r.u8()?;
    r.skip(usize::from(sid))?;
    let cs_len = usize::from(r.u16()?);
    let cs = r.take(cs_len)?;
    let mut ciphers: U16s = cs
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .filter(|c| !is_grease(*c))
        .collect();
    let cm = r.u8()?;
    r.skip(usize::from(cm))?;
    let ext_len = usize::from(r.u16().unwrap_or(0));
    let mut exts = Reader {
        b: r.b.get(..ext_len.min(r.b.len()))?,
    };
    // Extensions counted, and those hashed (all but SNI and ALPN).
    let mut n_ext = 0usize;
    let mut ext_hashed = U16s::new();
    let mut sni = false;
    let mut alpn: Option<Box<str>> = None;
    let mut ech = false;
    let mut version = legacy;
    let mut sigalgs = U16s::new();
    while let (Some(ty), Some(len)) = (exts.u16(), exts.u16()) {
        let body = exts.take(usize::from(len))?;
        if is_grease(ty) {
            continue;
        }
        n_ext += 1;
        if ty != 0 && ty != 16 {
            ext_hashed.push(ty);
        }
        let mut b = Reader { b: body };
        match ty {
            0 => sni = true,
            EXT_ECH => ech = true,
            16 => {
                b.u16();
                if let Some(n) = b.u8() {
                    alpn = b
                        .take(usize::from(n))
                        .and_then(|p| std::str::from_utf8(p).ok())
                        .filter(|p| p.bytes().all(|c| c.is_ascii_graphic()))
                        .map(Box::from);
                }
            }
            43 => {
                if let Some(n) = b.u8() {
                    if let Some(v) = b.take(usize::from(n)) {
                        version = v
                            .chunks_exact(2)
                            .map(|c| u16::from_be_bytes([c[0], c[1]]))
                            .filter(|v| !is_grease(*v))
                            .max()
                            .unwrap_or(version);
                    }
                }
            }
            13 => {
                if let Some(n) = b.u16() {
                    if let Some(v) = b.take(usize::from(n)) {
                        sigalgs = v
                            .chunks_exact(2)
                            .map(|c| u16::from_be_bytes([c[0], c[1]]))
                            .collect();
                    }
                }
            }
            _ => {}
        }
    }
    let ver = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        _ => "00",
    };
    let a = alpn.as_deref().map_or([b'0', b'0'], |p| {
        let b = p.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => [*f, *l],
            _ => [b'0', b'0'],
        }
    });
    // The hashed lists are streamed into SHA-256 as the comma-separated
    // lower-case hex JA4 defines, without building the strings.
    let n_ciphers = ciphers.len();
    ciphers.sort_unstable();
    let mut ch = sha2::Sha256::default();
    hash_hex_list(&mut ch, &ciphers);
    ext_hashed.sort_unstable();
    let mut eh = sha2::Sha256::default();
    hash_hex_list(&mut eh, &ext_hashed);
    if !sigalgs.is_empty() {
        sha2::Digest::update(&mut eh, b"_");
        hash_hex_list(&mut eh, &sigalgs);
    }
    // t13d1516h2_<12 hex>_<12 hex>: every part has a fixed width (ALPN
    // bytes are checked ASCII-graphic above, versions are two digits).
    let mut j = [b'_'; 36];
    j[0] = if quic { b'q' } else { b't' };
    j[1..3].copy_from_slice(ver.as_bytes());
    j[3] = if sni { b'd' } else { b'i' };
    j[4..6].copy_from_slice(&two_digits(n_ciphers));
    j[6..8].copy_from_slice(&two_digits(n_ext));
    j[8..10].copy_from_slice(&a);
    put_hex12(&mut j[11..23], ch);
    put_hex12(&mut j[24..36], eh);
    let ja4 = Ja4(j);
    Some(HelloInfo { alpn, ja4, ech })
}

#[cfg(test)]
mod hello_tests {
    use super::*;

    #[test]
    fn hex_lists_hash_as_their_strings_across_buffer_flushes() {
        use sha2::{Digest, Sha256};
        for n in [0usize, 1, 2, 50, 51, 52, 101, 102, 103, 400] {
            let xs: Vec<u16> = (0..n).map(|i| (i as u16).wrapping_mul(0x9e37)).collect();
            let text = xs
                .iter()
                .map(|x| format!("{x:04x}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut h = Sha256::default();
            hash_hex_list(&mut h, &xs);
            assert_eq!(h.finalize(), Sha256::digest(text.as_bytes()), "{n} values");
        }
    }

    /// The first 6 bytes of the SHA-256 of `s`, in hex (a JA4 hash part).
    fn h12(s: &str) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(s.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A ClientHello handshake message with these ciphers and (type, body)
    /// extensions.
    fn hello_with(ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = vec![];
        for (ty, body) in exts {
            ext.extend(ty.to_be_bytes());
            ext.extend((body.len() as u16).to_be_bytes());
            ext.extend(body);
        }
        let mut body = vec![3, 3];
        body.extend([0u8; 32]);
        body.push(0);
        body.extend(((ciphers.len() * 2) as u16).to_be_bytes());
        for c in ciphers {
            body.extend(c.to_be_bytes());
        }
        body.extend([1, 0]);
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(&ext);
        let mut hs = vec![1, 0, 0, 0];
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        hs
    }

    #[test]
    fn a_hello_summary_is_one_56_byte_block() {
        // the fingerprint inline, the ALPN name behind one pointer
        // (docs/performance.md, memory per flow held)
        assert_eq!(std::mem::size_of::<HelloInfo>(), 56);
        assert_eq!(std::mem::size_of::<Ja4>(), 36);
    }

    #[test]
    fn ja4_of_long_lists_is_the_text_formula() {
        // Lists longer than the 64 values kept on the stack, counts of
        // one and two digits and over 99 (shown as 99), and ALPN names of
        // one byte and of several: the fingerprint is what JA4's text
        // definition gives.
        let list = |xs: &[u16]| {
            xs.iter()
                .map(|x| format!("{x:04x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        for (n_c, n_e, alpn) in [
            (3usize, 4usize, "h2"),
            (15, 9, "x"),
            (70, 80, "http/1.1"),
            (130, 120, "h3"),
        ] {
            // descending, so that sorting matters
            let ciphers: Vec<u16> = (0..n_c as u16).rev().map(|i| 0x1300 + i * 3).collect();
            let mut exts: Vec<(u16, Vec<u8>)> = vec![
                (0, vec![0, 0]),
                (16, {
                    let mut b = vec![0, (alpn.len() + 1) as u8, alpn.len() as u8];
                    b.extend(alpn.as_bytes());
                    b
                }),
            ];
            exts.push((13, vec![0, 4, 0x08, 0x04, 0x04, 0x03]));
            let mut hashed = vec![13u16];
            for i in 0..(n_e - 3) as u16 {
                let ty = 0x4000 - i * 7;
                exts.push((ty, vec![]));
                hashed.push(ty);
            }
            let hs = hello_with(&ciphers, &exts);
            let info = hello_info(&hs, false).expect("parses");
            let mut c = ciphers.clone();
            c.sort_unstable();
            hashed.sort_unstable();
            let a = alpn.as_bytes();
            let want = format!(
                "t12d{:02}{:02}{}{}_{}_{}",
                n_c.min(99),
                n_e.min(99),
                a[0] as char,
                a[a.len() - 1] as char,
                h12(&list(&c)),
                h12(&format!("{}_0804,0403", list(&hashed)))
            );
            assert_eq!(info.ja4.as_str(), want, "{n_c} ciphers, {n_e} extensions");
            assert_eq!(info.alpn.as_deref(), Some(alpn));
            assert_eq!(
                serde_json::to_value(info.ja4).unwrap(),
                serde_json::json!(want)
            );
        }
    }

    #[test]
    fn ja4_shape_and_grease_independence() {
        // Build a ClientHello with SNI, ALPN h2, supported_versions TLS 1.3,
        // signature algorithms, and GREASE cipher/extension.
        let mut sni = vec![0, 10, 0, 0, 7];
        sni.extend(b"a.examp");
        let hs = hello_with(
            &[0x1a1a, 0x1301, 0x1302], // GREASE + 2 ciphers
            &[
                (0x0a0a, vec![]), // GREASE extension
                (0, sni),
                (16, vec![0, 3, 2, b'h', b'2']),
                (43, vec![2, 3, 4]),
                (13, vec![0, 4, 4, 3, 8, 4]),
            ],
        );
        let i = hello_info(&hs, false).unwrap();
        assert_eq!(i.alpn.as_deref(), Some("h2"));
        assert!(i.ja4.starts_with("t13d0204h2_"), "{}", i.ja4);
        assert_eq!(i.ja4.len(), "t13d0204h2_".len() + 12 + 1 + 12);
        // JA4's hashes, computed here from the strings the JA4 definition
        // hashes: the sorted ciphers; the sorted extensions without SNI and
        // ALPN, then the signature algorithms in their order.
        assert_eq!(
            i.ja4.as_str(),
            format!(
                "t13d0204h2_{}_{}",
                h12("1301,1302"),
                h12("000d,002b_0403,0804")
            )
        );
        assert!(hello_info(&hs, true).unwrap().ja4.starts_with("q13d"));
        for cut in 0..hs.len() {
            let _ = hello_info(&hs[..cut], false);
        }
        assert!(hello_info(b"\x02\x00\x00\x00", false).is_none());
        assert!(!i.ech);
    }

    #[test]
    fn an_encrypted_client_hello_is_noted() {
        // outer SNI cloudflare-ech.com, and the ECH extension (0xfe0d:
        // outer type 0, KDF 1, AEAD 1, config id 7, a 2-byte encapsulated
        // key and a 4-byte payload, not looked into)
        let name = b"cloudflare-ech.com";
        let mut sni = vec![0, (name.len() + 3) as u8, 0, 0, name.len() as u8];
        sni.extend(name);
        let ech = vec![0, 0, 1, 0, 1, 7, 0, 2, 0xaa, 0xbb, 0, 4, 1, 2, 3, 4];
        let hs = hello_with(&[0x1301], &[(0, sni), (0xfe0d, ech), (43, vec![2, 3, 4])]);
        let i = hello_info(&hs, false).unwrap();
        assert!(i.ech);
        let v = crate::detectors::hello_evidence(&i);
        assert_eq!(v["ech"], true, "{v}");
        let plain = hello_with(&[0x1301], &[(43, vec![2, 3, 4])]);
        let v = crate::detectors::hello_evidence(&hello_info(&plain, false).unwrap());
        assert!(v.get("ech").is_none(), "{v}");
    }
}
