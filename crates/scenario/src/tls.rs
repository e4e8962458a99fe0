//! TLS record builders: a realistic ClientHello (SNI, ALPN, optional padding and a large
//! post-quantum-sized key share) and opaque server flights / application data records.

use crate::rng::Rng;

/// Parameters of a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// server_name extension (omitted when `None`).
    pub sni: Option<String>,
    /// ALPN protocols (extension omitted when empty).
    pub alpn: Vec<String>,
    /// ClientHello.random.
    pub random: [u8; 32],
    /// Legacy session id (32 bytes in TLS 1.3 middlebox-compat mode).
    pub session_id: Vec<u8>,
    /// Add an X25519MLKEM768 key share (1216 bytes) → ~1.7 KB ClientHello spanning two
    /// TCP segments.
    pub large_key_share: bool,
    /// Pad (padding extension) so that the handshake message is at least this long.
    pub pad_to: Option<usize>,
}

impl ClientHello {
    /// Chrome/Firefox-like hello for `sni` with ALPN h2 + http/1.1; randoms from `rng`.
    pub fn new(sni: &str, rng: &mut Rng) -> Self {
        let mut random = [0u8; 32];
        rng.fill(&mut random);
        ClientHello {
            sni: Some(sni.to_string()),
            alpn: vec!["h2".into(), "http/1.1".into()],
            random,
            session_id: rng.bytes(32),
            large_key_share: false,
            pad_to: None,
        }
    }

    /// Builder: large key share.
    pub fn with_large_key_share(mut self, on: bool) -> Self {
        self.large_key_share = on;
        self
    }

    /// Builder: padding target.
    pub fn with_pad_to(mut self, len: usize) -> Self {
        self.pad_to = Some(len);
        self
    }

    /// The full TLS record (content type 22, legacy version 0x0301).
    pub fn build(&self) -> Vec<u8> {
        // Key share bytes are derived from the random so the output is deterministic.
        let mut krng = Rng::new(u64::from_le_bytes(
            self.random[..8].try_into().unwrap_or([0; 8]),
        ));
        let mut ext = Vec::with_capacity(2048);
        if let Some(sni) = &self.sni {
            let n = sni.as_bytes();
            push_ext(&mut ext, 0x0000, &{
                let mut d = Vec::with_capacity(n.len() + 5);
                d.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
                d.push(0);
                d.extend_from_slice(&(n.len() as u16).to_be_bytes());
                d.extend_from_slice(n);
                d
            });
        }
        push_ext(&mut ext, 0x0017, &[]); // extended_master_secret
        push_ext(&mut ext, 0xff01, &[0]); // renegotiation_info
        let groups: &[u16] = if self.large_key_share {
            &[0x11ec, 0x001d, 0x0017, 0x0018]
        } else {
            &[0x001d, 0x0017, 0x0018]
        };
        push_ext(&mut ext, 0x000a, &u16_list(groups)); // supported_groups
        push_ext(&mut ext, 0x000b, &[1, 0]); // ec_point_formats
        push_ext(&mut ext, 0x0023, &[]); // session_ticket
        if !self.alpn.is_empty() {
            let mut l = Vec::new();
            for p in &self.alpn {
                l.push(p.len() as u8);
                l.extend_from_slice(p.as_bytes());
            }
            let mut d = (l.len() as u16).to_be_bytes().to_vec();
            d.extend_from_slice(&l);
            push_ext(&mut ext, 0x0010, &d);
        }
        push_ext(&mut ext, 0x0005, &[1, 0, 0, 0, 0]); // status_request
        push_ext(
            &mut ext,
            0x000d,
            &u16_list(&[
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ]),
        );
        // key_share
        let mut shares = Vec::new();
        if self.large_key_share {
            shares.extend_from_slice(&0x11ecu16.to_be_bytes());
            shares.extend_from_slice(&1216u16.to_be_bytes());
            shares.extend_from_slice(&krng.bytes(1216));
        }
        shares.extend_from_slice(&0x001du16.to_be_bytes());
        shares.extend_from_slice(&32u16.to_be_bytes());
        shares.extend_from_slice(&krng.bytes(32));
        let mut ks = (shares.len() as u16).to_be_bytes().to_vec();
        ks.extend_from_slice(&shares);
        push_ext(&mut ext, 0x0033, &ks);
        push_ext(&mut ext, 0x002b, &[4, 0x03, 0x04, 0x03, 0x03]); // supported_versions
        push_ext(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes

        let suites: &[u16] = &[
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let mut body = Vec::with_capacity(256 + ext.len());
        body.extend_from_slice(&[0x03, 0x03]);
        body.extend_from_slice(&self.random);
        body.push(self.session_id.len() as u8);
        body.extend_from_slice(&self.session_id);
        body.extend_from_slice(&u16_list(suites));
        body.extend_from_slice(&[1, 0]);
        // padding: handshake len = 4 + body + 2 + ext (+ 4 + pad)
        if let Some(target) = self.pad_to {
            let cur = 4 + body.len() + 2 + ext.len();
            if cur + 4 <= target {
                push_ext(&mut ext, 0x0015, &vec![0; target - cur - 4]);
            }
        }
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);

        let mut hs = Vec::with_capacity(4 + body.len());
        hs.push(1);
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        record(0x16, 0x0301, &hs)
    }
}

fn push_ext(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut v = ((items.len() * 2) as u16).to_be_bytes().to_vec();
    for i in items {
        v.extend_from_slice(&i.to_be_bytes());
    }
    v
}

/// One TLS record.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + body.len());
    v.push(content_type);
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// ClientHello record for `sni` (ALPN h2/http1.1).
pub fn client_hello(sni: &str, rng: &mut Rng) -> Vec<u8> {
    ClientHello::new(sni, rng).build()
}

/// A TLS 1.3 ServerHello record followed by ChangeCipherSpec and opaque "encrypted"
/// application-data records totalling about `encrypted_len` bytes (certificate etc.).
pub fn server_flight(rng: &mut Rng, encrypted_len: usize) -> Vec<u8> {
    let mut sh = Vec::with_capacity(128);
    sh.extend_from_slice(&[0x03, 0x03]);
    sh.extend_from_slice(&rng.bytes(32));
    sh.push(32);
    sh.extend_from_slice(&rng.bytes(32));
    sh.extend_from_slice(&[0x13, 0x01, 0]);
    let mut ext = Vec::new();
    push_ext(&mut ext, 0x002b, &[0x03, 0x04]);
    let mut ks = vec![0x00, 0x1d, 0x00, 0x20];
    ks.extend_from_slice(&rng.bytes(32));
    push_ext(&mut ext, 0x0033, &ks);
    sh.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    sh.extend_from_slice(&ext);
    let mut hs = vec![2];
    hs.extend_from_slice(&(sh.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&sh);
    let mut out = record(0x16, 0x0303, &hs);
    out.extend_from_slice(&record(0x14, 0x0303, &[1]));
    out.extend_from_slice(&app_data(rng, encrypted_len));
    out
}

/// Opaque application-data records carrying `len` random bytes in total (records of at
/// most 16384 + 17 bytes of ciphertext).
pub fn app_data(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 5 * (len / 16401 + 1));
    let mut left = len;
    while left > 0 {
        let n = left.min(16401);
        out.extend_from_slice(&[0x17, 0x03, 0x03]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        let s = out.len();
        out.resize(s + n, 0);
        rng.fill(&mut out[s..]);
        left -= n;
    }
    out
}

/// Extract the SNI from a ClientHello record (for assertions). `None` if absent/malformed.
pub fn sni_of(rec: &[u8]) -> Option<String> {
    let hs = rec.get(5..)?;
    if *hs.first()? != 1 {
        return None;
    }
    let mut off = 4 + 2 + 32;
    off += 1 + *hs.get(off)? as usize;
    off += 2 + u16::from_be_bytes([*hs.get(off)?, *hs.get(off + 1)?]) as usize;
    off += 1 + *hs.get(off)? as usize;
    let ext_len = u16::from_be_bytes([*hs.get(off)?, *hs.get(off + 1)?]) as usize;
    off += 2;
    let end = off + ext_len;
    while off + 4 <= end {
        let t = u16::from_be_bytes([hs[off], hs[off + 1]]);
        let l = u16::from_be_bytes([hs[off + 2], hs[off + 3]]) as usize;
        let d = hs.get(off + 4..off + 4 + l)?;
        if t == 0 {
            let n = u16::from_be_bytes([*d.get(3)?, *d.get(4)?]) as usize;
            return String::from_utf8(d.get(5..5 + n)?.to_vec()).ok();
        }
        off += 4 + l;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_shapes() {
        let mut rng = Rng::new(7);
        let ch = ClientHello::new("www.example.org", &mut rng);
        let small = ch.build();
        assert_eq!(small[0], 0x16);
        assert_eq!(
            u16::from_be_bytes([small[3], small[4]]) as usize,
            small.len() - 5
        );
        assert_eq!(
            u32::from_be_bytes([0, small[6], small[7], small[8]]) as usize,
            small.len() - 9
        );
        assert_eq!(sni_of(&small).as_deref(), Some("www.example.org"));
        let big = ch.clone().with_large_key_share(true).build();
        assert!(big.len() > 1448 && big.len() < 2000, "{}", big.len());
        assert_eq!(sni_of(&big).as_deref(), Some("www.example.org"));
        let padded = ch.clone().with_pad_to(512).build();
        assert_eq!(padded.len(), 5 + 512);
        assert_eq!(sni_of(&padded).as_deref(), Some("www.example.org"));
        assert_eq!(ch.build(), small, "deterministic");
        let sf = server_flight(&mut rng, 3000);
        assert_eq!(sf[0], 0x16);
        assert_eq!(app_data(&mut rng, 40000).len(), 40000 + 3 * 5);
    }
}
