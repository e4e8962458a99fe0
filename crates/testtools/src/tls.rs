//! The server name (SNI) of a TLS ClientHello.

/// A bounds-checked reader over a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some((usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    /// Up to `n` bytes: all that is left when fewer remain (a message cut
    /// by the segment boundary).
    pub(crate) fn take_upto(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.buf.len());
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        a
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// What a TCP payload says about a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// Not a TLS handshake record holding a ClientHello.
    NotHello,
    /// A ClientHello with a `host_name` server name (lowercased, without a
    /// trailing dot).
    Sni(String),
    /// A ClientHello without a server name (or one cut before it).
    NoSni,
}

/// Parses the ClientHello at the start of `payload`: TLS record header
/// (content type 22, version 3.x), handshake header (type 1), legacy
/// version, random, session id, cipher suites, compression methods, then
/// the extensions up to `server_name` (type 0). A record or message longer
/// than the segment is parsed as far as the segment goes, so a ClientHello
/// spanning two segments is still recognised when its SNI is in the first.
pub fn client_hello(payload: &[u8]) -> Hello {
    parse(payload).unwrap_or(Hello::NotHello)
}

/// The SNI of a ClientHello at the start of `payload`, if any.
pub fn sni(payload: &[u8]) -> Option<String> {
    match client_hello(payload) {
        Hello::Sni(s) => Some(s),
        _ => None,
    }
}

fn parse(payload: &[u8]) -> Option<Hello> {
    let mut rec = Reader::new(payload);
    if rec.u8()? != 22 {
        return Some(Hello::NotHello);
    }
    let (major, _minor) = (rec.u8()?, rec.u8()?);
    if major != 3 {
        return Some(Hello::NotHello);
    }
    let rec_len = usize::from(rec.u16()?);
    if rec_len < 4 {
        return Some(Hello::NotHello);
    }
    let mut hs = Reader::new(rec.take_upto(rec_len));
    if hs.u8()? != 1 {
        return Some(Hello::NotHello);
    }
    let hs_len = hs.u24()?;
    let mut body = Reader::new(hs.take_upto(hs_len));
    // From here on a cut message is a ClientHello whose SNI we cannot see.
    let sni = (|| {
        let (vmaj, _) = (body.u8()?, body.u8()?);
        if vmaj != 3 {
            return None;
        }
        body.take(32)?; // random
        let sid = usize::from(body.u8()?);
        if sid > 32 {
            return None;
        }
        body.take(sid)?;
        let cs = usize::from(body.u16()?);
        body.take(cs)?;
        let comp = usize::from(body.u8()?);
        body.take(comp)?;
        let ext_len = usize::from(body.u16()?);
        let mut exts = Reader::new(body.take_upto(ext_len));
        while !exts.is_empty() {
            let typ = exts.u16()?;
            let len = usize::from(exts.u16()?);
            let data = exts.take(len)?;
            if typ == 0 {
                return server_name(data);
            }
        }
        None
    })();
    Some(match sni {
        Some(s) => Hello::Sni(s),
        None => Hello::NoSni,
    })
}

/// The `host_name` entry of a server_name extension body.
fn server_name(data: &[u8]) -> Option<String> {
    let mut r = Reader::new(data);
    let list_len = usize::from(r.u16()?);
    let mut list = Reader::new(r.take(list_len)?);
    while !list.is_empty() {
        let typ = list.u8()?;
        let len = usize::from(list.u16()?);
        let name = list.take(len)?;
        if typ == 0 {
            return normalise_name(name);
        }
    }
    None
}

/// Lowercase ASCII host name without a trailing dot; `None` for empty or
/// non-printable names.
pub fn normalise_name(name: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(name).ok()?;
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tw_scenario::tls::ClientHello;
    use tw_scenario::Rng;

    /// A hand-assembled minimal ClientHello: every length field annotated.
    fn minimal(sni: &[u8]) -> Vec<u8> {
        let mut ext = Vec::new();
        // server_name: type 0, ext len, list len, name type 0, name len, name
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((sni.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(sni);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0xAB; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn minimal_hello() {
        let rec = minimal(b"Blocked.Example.");
        assert_eq!(client_hello(&rec), Hello::Sni("blocked.example".into()));
        assert_eq!(sni(&rec).as_deref(), Some("blocked.example"));
    }

    #[test]
    fn realistic_hellos_from_the_scenario_builder() {
        let mut rng = Rng::new(7);
        for name in [
            "blocked.example",
            "a.b.c.other-blocked.example",
            "x.example",
        ] {
            let plain = ClientHello::new(name, &mut rng).build();
            assert_eq!(sni(&plain).as_deref(), Some(name));
            let padded = ClientHello::new(name, &mut rng).with_pad_to(512).build();
            assert_eq!(sni(&padded).as_deref(), Some(name));
            // ~1.7 KB: only the first 1448 bytes are in the first segment.
            let big = ClientHello::new(name, &mut rng)
                .with_large_key_share(true)
                .build();
            assert!(big.len() > 1448);
            assert_eq!(sni(&big[..1448]).as_deref(), Some(name));
            assert_eq!(tw_scenario::tls::sni_of(&plain).as_deref(), Some(name));
        }
        let mut no_sni = ClientHello::new("x.example", &mut rng);
        no_sni.sni = None;
        assert_eq!(client_hello(&no_sni.build()), Hello::NoSni);
    }

    #[test]
    fn every_truncation_is_handled() {
        let rec = minimal(b"blocked.example");
        for n in 0..rec.len() {
            // Never panics; a cut before the SNI ends is no SNI.
            let got = client_hello(&rec[..n]);
            if n >= 9 {
                assert_eq!(got, Hello::NoSni, "cut at {n}");
            } else {
                assert!(matches!(got, Hello::NotHello | Hello::NoSni), "cut at {n}");
            }
        }
    }

    #[test]
    fn not_hellos() {
        assert_eq!(client_hello(b""), Hello::NotHello);
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n\r\n"), Hello::NotHello);
        // Application data record.
        assert_eq!(
            client_hello(&[23, 3, 3, 0, 5, 1, 2, 3, 4, 5]),
            Hello::NotHello
        );
        // Handshake record with a ServerHello (type 2).
        let mut rec = minimal(b"blocked.example");
        rec[5] = 2;
        assert_eq!(client_hello(&rec), Hello::NotHello);
        // Bad length inside the extension: no SNI, no panic.
        let mut rec = minimal(b"blocked.example");
        let n = rec.len();
        rec[n - 16] = 0xff;
        assert_eq!(client_hello(&rec), Hello::NoSni);
        // Flipping every byte never panics.
        let rec = minimal(b"blocked.example");
        for i in 0..rec.len() {
            let mut m = rec.clone();
            m[i] ^= 0xff;
            let _ = client_hello(&m);
        }
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalise_name(b"A.Example.").as_deref(), Some("a.example"));
        assert_eq!(normalise_name(b""), None);
        assert_eq!(normalise_name(b"."), None);
        assert_eq!(normalise_name(b"a b"), None);
        assert_eq!(normalise_name(&[0xff, 0x41]), None);
    }
}
