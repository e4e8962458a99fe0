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

/// The Host header of an HTTP/1.x request starting at `p` (port removed).
pub fn http_host(p: &[u8]) -> Option<&str> {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"PATCH ",
        b"TRACE ",
    ];
    if !METHODS.iter().any(|m| p.starts_with(m)) {
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HelloInfo {
    /// The first ALPN protocol offered, if any.
    pub alpn: Option<String>,
    /// A JA4-style fingerprint of the ClientHello (`t13d1516h2_<12 hex>_<12 hex>`):
    /// transport, TLS version, SNI present, cipher and extension counts,
    /// ALPN, then truncated SHA-256 of the sorted cipher list and of the
    /// sorted extensions plus signature algorithms (GREASE values removed).
    pub ja4: String,
}

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

/// Appends the first 6 bytes of the digest as 12 hex digits.
fn push_hex12(out: &mut String, h: sha2::Sha256) {
    use sha2::Digest;
    for b in h.finalize().iter().take(6) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
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
    let ciphers: Vec<u16> = cs
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
    let mut ext_types = vec![];
    let mut sni = false;
    let mut alpn = None;
    let mut version = legacy;
    let mut sigalgs: Vec<u16> = vec![];
    while let (Some(ty), Some(len)) = (exts.u16(), exts.u16()) {
        let body = exts.take(usize::from(len))?;
        if is_grease(ty) {
            continue;
        }
        ext_types.push(ty);
        let mut b = Reader { b: body };
        match ty {
            0 => sni = true,
            16 => {
                b.u16();
                if let Some(n) = b.u8() {
                    alpn = b
                        .take(usize::from(n))
                        .and_then(|p| std::str::from_utf8(p).ok())
                        .filter(|p| p.bytes().all(|c| c.is_ascii_graphic()))
                        .map(str::to_string);
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
    let a = alpn.as_deref().map_or(['0', '0'], |p| {
        let b = p.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => [*f as char, *l as char],
            _ => ['0', '0'],
        }
    });
    // The hashed lists are streamed into SHA-256 as the comma-separated
    // lower-case hex JA4 defines, without building the strings.
    let mut c_sorted = ciphers;
    let n_ciphers = c_sorted.len();
    c_sorted.sort_unstable();
    let mut ch = sha2::Sha256::default();
    hash_hex_list(&mut ch, &c_sorted);
    let mut e_sorted = ext_types;
    let n_ext = e_sorted.len();
    e_sorted.retain(|t| *t != 0 && *t != 16);
    e_sorted.sort_unstable();
    let mut eh = sha2::Sha256::default();
    hash_hex_list(&mut eh, &e_sorted);
    if !sigalgs.is_empty() {
        sha2::Digest::update(&mut eh, b"_");
        hash_hex_list(&mut eh, &sigalgs);
    }
    let mut ja4 = String::with_capacity(36);
    {
        use std::fmt::Write;
        let _ = write!(
            ja4,
            "{}{}{}{:02}{:02}{}{}_",
            if quic { 'q' } else { 't' },
            ver,
            if sni { 'd' } else { 'i' },
            n_ciphers.min(99),
            n_ext.min(99),
            a[0],
            a[1],
        );
        push_hex12(&mut ja4, ch);
        ja4.push('_');
        push_hex12(&mut ja4, eh);
    }
    Some(HelloInfo { alpn, ja4 })
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

    #[test]
    fn ja4_shape_and_grease_independence() {
        // Build a ClientHello with SNI, ALPN h2, supported_versions TLS 1.3,
        // signature algorithms, and GREASE cipher/extension.
        let mut ext = vec![];
        ext.extend([0x0a, 0x0a, 0, 0]); // GREASE extension
        ext.extend([0, 0, 0, 12, 0, 10, 0, 0, 7]);
        ext.extend(b"a.example");
        ext.truncate(ext.len() - 2); // name "a.examp" (length 7)
        ext.extend([0, 16, 0, 5, 0, 3, 2, b'h', b'2']);
        ext.extend([0, 43, 0, 3, 2, 3, 4]);
        ext.extend([0, 13, 0, 6, 0, 4, 4, 3, 8, 4]);
        let mut body = vec![3, 3];
        body.extend([0u8; 32]);
        body.push(0);
        body.extend([0, 6, 0x1a, 0x1a, 0x13, 0x01, 0x13, 0x02]); // GREASE + 2 ciphers
        body.extend([1, 0]);
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(&ext);
        let mut hs = vec![1, 0, 0, 0];
        hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let i = hello_info(&hs, false).unwrap();
        assert_eq!(i.alpn.as_deref(), Some("h2"));
        assert!(i.ja4.starts_with("t13d0204h2_"), "{}", i.ja4);
        assert_eq!(i.ja4.len(), "t13d0204h2_".len() + 12 + 1 + 12);
        // JA4's hashes, computed here from the strings the JA4 definition
        // hashes: the sorted ciphers; the sorted extensions without SNI and
        // ALPN, then the signature algorithms in their order.
        let h = |s: &str| {
            use sha2::{Digest, Sha256};
            Sha256::digest(s.as_bytes())
                .iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(
            i.ja4,
            format!("t13d0204h2_{}_{}", h("1301,1302"), h("000d,002b_0403,0804"))
        );
        assert!(hello_info(&hs, true).unwrap().ja4.starts_with("q13d"));
        for cut in 0..hs.len() {
            let _ = hello_info(&hs[..cut], false);
        }
        assert!(hello_info(b"\x02\x00\x00\x00", false).is_none());
    }
}
