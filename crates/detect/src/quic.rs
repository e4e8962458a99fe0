//! QUIC client Initial packets: the TLS ClientHello they carry, so that
//! detectors can name the target (SNI, ALPN) of a QUIC connection attempt
//! and tell real QUIC handshakes apart from other UDP.
//!
//! Initial packets are encrypted, but with keys that anyone can derive from
//! the packet itself (RFC 9001 §5.2): HKDF-Extract over the client's
//! Destination Connection ID with a per-version salt. This module removes the
//! header protection (AES-128-ECB over a 16-byte sample), opens the AEAD
//! (AES-128-GCM, nonce = IV xor packet number, the header as associated data),
//! walks the frames (PADDING, PING, ACK and CRYPTO; anything else ends the
//! walk) and reassembles the CRYPTO stream up to the end of the ClientHello.
//!
//! Versions: QUIC v1 (RFC 9000/9001), v2 (RFC 9369) and draft-29 (still sent
//! by some older clients). Packets of any other version are left alone.
//!
//! A successfully opened Initial is strong evidence of a QUIC handshake
//! attempt: the 16-byte AEAD tag makes accidental matches on other UDP
//! traffic practically impossible.
//!
//! # Pieces
//!
//! * [`initial_packets`] iterates the long-header packets coalesced in one UDP
//!   datagram and yields the Initial ones ([`InitialPacket`]: header fields,
//!   DCID/SCID, token, packet-number offset). [`is_long_header_initial`] is
//!   the quick "does this datagram start a QUIC handshake?" check.
//! * [`client_initial_secrets`] and [`InitialKeys`] derive the client's
//!   Initial keys; [`open_initial`] decrypts one packet into a caller buffer.
//! * [`crypto_frames`] walks the decrypted payload and yields CRYPTO frames.
//! * [`ClientHelloAssembler`] (one per connection attempt, keyed by the
//!   caller, e.g. by 5-tuple and original DCID) accepts CRYPTO data from any
//!   number of Initial packets in any order and exposes the ClientHello, its
//!   SNI and ALPN once present. Its buffer is allocated once, on the first
//!   CRYPTO byte, and is bounded (4 KiB by default).
//! * [`client_initial_sni`] is the one-call convenience for a ClientHello
//!   that fits in a single datagram.
//! * [`handshake_sni`] / [`handshake_alpn`] parse a bare TLS handshake
//!   message (QUIC carries no TLS record layer).
//!
//! # Hostile input
//!
//! Nothing here panics or reads out of bounds on any input, and nothing on
//! the per-packet path allocates: decryption happens in a caller-provided (or
//! on-stack) buffer of [`MAX_PACKET_LEN`] bytes, and Initial packets larger
//! than that are refused with [`QuicError::TooLarge`].
//!
//! # Limits
//!
//! * The packet number is taken as its truncated (on-the-wire) value, which
//!   is exact for the first 2^(8·pn_len) packets of the Initial space, i.e.
//!   for every Initial a client sends in practice.
//! * The SNI is the ClientHello's outer name: with Encrypted Client Hello the
//!   true target is hidden and the outer (public) name is what is seen.
//! * Keys are derived from each packet's own DCID. After a Retry the client
//!   uses a new DCID (and new keys): that is a new attempt for the caller.

use crate::proto;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInOut;
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;

#[cfg(test)]
pub(crate) mod tests;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// draft-ietf-quic-transport-29, the last draft still seen in the wild.
pub const VERSION_DRAFT_29: u32 = 0xff00_001d;

/// Largest Initial packet [`open_initial`] decrypts (and the size of the
/// on-stack buffer used by [`ClientHelloAssembler::push_datagram`]). Client
/// Initials are 1200 bytes or a little more (one path MTU); anything larger
/// than this is refused rather than allocated for.
pub const MAX_PACKET_LEN: usize = 4096;

/// Longest connection ID allowed by QUIC v1/v2.
pub const MAX_CID_LEN: usize = 20;

/// Default [`ClientHelloAssembler`] capacity: a ClientHello with a
/// post-quantum key share (X25519MLKEM768, ~1.2 KiB) is about 1.8 KiB.
pub const DEFAULT_HELLO_CAPACITY: usize = 4096;

/// Largest capacity [`ClientHelloAssembler::with_capacity`] accepts.
pub const MAX_HELLO_CAPACITY: usize = 16384;

/// Length of the AEAD tag (AES-128-GCM).
const TAG_LEN: usize = 16;
/// Length of the header protection sample.
const SAMPLE_LEN: usize = 16;
/// Synthetic TLS record header placed before the reassembled ClientHello.
const RECORD_HEADER_LEN: usize = 5;

/// A QUIC version whose Initial packets this module can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// QUIC v1, `0x00000001`.
    V1,
    /// QUIC v2, `0x6b3343cf` (RFC 9369).
    V2,
    /// draft-29, `0xff00001d`.
    Draft29,
}

impl Version {
    /// The version for a wire value, if supported.
    pub const fn from_wire(v: u32) -> Option<Self> {
        match v {
            VERSION_1 => Some(Self::V1),
            VERSION_2 => Some(Self::V2),
            VERSION_DRAFT_29 => Some(Self::Draft29),
            _ => None,
        }
    }

    /// The 32-bit value on the wire.
    pub const fn wire(self) -> u32 {
        match self {
            Self::V1 => VERSION_1,
            Self::V2 => VERSION_2,
            Self::Draft29 => VERSION_DRAFT_29,
        }
    }

    /// A short stable label (`"v1"`, `"v2"`, `"draft29"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::Draft29 => "draft29",
        }
    }

    /// The Initial salt (RFC 9001 §5.2, RFC 9369 §3.3.1, draft-29 §5.2).
    const fn salt(self) -> &'static [u8; 20] {
        match self {
            Self::V1 => &[
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
            ],
            Self::V2 => &[
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
            Self::Draft29 => &[
                0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
                0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
            ],
        }
    }

    /// HKDF-Expand-Label labels for the packet key, IV and header key.
    const fn labels(self) -> [&'static [u8]; 3] {
        match self {
            Self::V1 | Self::Draft29 => [b"quic key", b"quic iv", b"quic hp"],
            Self::V2 => [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"],
        }
    }

    /// What the two long-header type bits mean in this version.
    const fn packet_type(self, first: u8) -> LongType {
        let bits = (first >> 4) & 0x03;
        match self {
            Self::V1 | Self::Draft29 => match bits {
                0 => LongType::Initial,
                1 => LongType::ZeroRtt,
                2 => LongType::Handshake,
                _ => LongType::Retry,
            },
            // RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00
            Self::V2 => match bits {
                1 => LongType::Initial,
                2 => LongType::ZeroRtt,
                3 => LongType::Handshake,
                _ => LongType::Retry,
            },
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// Why a datagram or packet yielded no ClientHello data. Every variant has a
/// stable label ([`QuicError::as_str`]) for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum QuicError {
    /// Empty datagram, or a short-header (1-RTT) packet.
    #[error("not a QUIC long-header packet")]
    NotLongHeader,
    /// Version 0: a Version Negotiation packet.
    #[error("QUIC version negotiation packet")]
    VersionNegotiation,
    /// A long header with a version this module does not know.
    #[error("unsupported QUIC version {0:#010x}")]
    UnsupportedVersion(u32),
    /// Long-header packets, but none of them an Initial.
    #[error("no Initial packet in the datagram")]
    NotInitial,
    /// The header or the packet is cut short (by the sender or the capture).
    #[error("QUIC packet truncated")]
    Truncated,
    /// A field is impossible (connection ID over 20 bytes, packet too short
    /// for the header-protection sample and tag, ...).
    #[error("malformed QUIC header")]
    Malformed,
    /// The packet is longer than [`MAX_PACKET_LEN`] (or the caller's buffer).
    #[error("QUIC packet larger than the decryption buffer")]
    TooLarge,
    /// The AEAD tag did not verify: not a client Initial for this DCID
    /// (a server Initial, corruption, or not QUIC at all).
    #[error("QUIC Initial failed authentication")]
    Decrypt,
    /// Decrypted, but the reserved header bits are set (a protocol
    /// violation: the server would close the connection).
    #[error("QUIC reserved header bits set")]
    ReservedBits,
}

impl QuicError {
    /// A short stable label for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotLongHeader => "not_long_header",
            Self::VersionNegotiation => "version_negotiation",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::NotInitial => "not_initial",
            Self::Truncated => "truncated",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::Decrypt => "decrypt",
            Self::ReservedBits => "reserved_bits",
        }
    }
}

/// A QUIC connection ID (at most [`MAX_CID_LEN`] bytes), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnectionId {
    /// The connection ID with these bytes, if at most 20 long.
    pub fn new(b: &[u8]) -> Option<Self> {
        let mut bytes = [0; MAX_CID_LEN];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Self {
            len: u8::try_from(b.len()).ok()?,
            bytes,
        })
    }

    /// The ID's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for a zero-length ID.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId({self})")
    }
}

impl fmt::Display for ConnectionId {
    /// Lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The cleartext fields of a long-header Initial packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialHeader {
    /// The packet's version.
    pub version: Version,
    /// Destination Connection ID: in a client's first Initials, the ID the
    /// Initial keys are derived from (the "original DCID").
    pub dcid: ConnectionId,
    /// Source Connection ID chosen by the sender.
    pub scid: ConnectionId,
    /// Offset of the token within the packet.
    pub token_offset: usize,
    /// Token length (non-zero after a Retry or with a NEW_TOKEN token).
    pub token_len: usize,
    /// Offset of the (protected) packet number within the packet.
    pub pn_offset: usize,
    /// Length of the whole packet: `pn_offset` + the Length field.
    pub packet_len: usize,
}

/// One Initial packet of a datagram: its header and its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialPacket<'a> {
    /// Parsed cleartext header.
    pub header: InitialHeader,
    /// The packet's bytes (`header.packet_len` of them).
    pub bytes: &'a [u8],
    /// Where the packet starts in the datagram (non-zero when coalesced).
    pub offset: usize,
}

impl<'a> InitialPacket<'a> {
    /// The token bytes (empty for a first Initial).
    pub fn token(&self) -> &'a [u8] {
        let h = &self.header;
        self.bytes
            .get(h.token_offset..h.token_offset.saturating_add(h.token_len))
            .unwrap_or(&[])
    }
}

/// The header of the first Initial packet in a UDP datagram (coalesced
/// packets are walked), or `None` if the datagram holds none.
///
/// This checks structure only: a stray datagram can look like an Initial.
/// [`open_initial`] (AEAD tag) is what confirms a real one.
pub fn is_long_header_initial(udp_payload: &[u8]) -> Option<InitialHeader> {
    initial_packets(udp_payload).next().map(|p| p.header)
}

/// The Initial packets of one UDP datagram, in order. Coalesced 0-RTT and
/// Handshake packets are stepped over; iteration ends at a short-header
/// packet, trailing padding, a Retry or Version Negotiation packet, an
/// unknown version, or a malformed or truncated header
/// ([`InitialPackets::error`] tells which, when nothing was yielded).
pub fn initial_packets(udp_payload: &[u8]) -> InitialPackets<'_> {
    InitialPackets {
        datagram: udp_payload,
        pos: 0,
        error: None,
        yielded: false,
    }
}

/// Iterator returned by [`initial_packets`].
#[derive(Debug, Clone)]
pub struct InitialPackets<'a> {
    datagram: &'a [u8],
    pos: usize,
    error: Option<QuicError>,
    yielded: bool,
}

impl InitialPackets<'_> {
    /// Why the walk found no Initial: `None` while iterating or once an
    /// Initial was yielded, otherwise the reason (for counters).
    pub fn error(&self) -> Option<QuicError> {
        if self.yielded {
            None
        } else {
            self.error
        }
    }
}

impl<'a> Iterator for InitialPackets<'a> {
    type Item = InitialPacket<'a>;

    fn next(&mut self) -> Option<InitialPacket<'a>> {
        while self.error.is_none() {
            let rest = self.datagram.get(self.pos..).unwrap_or(&[]);
            let offset = self.pos;
            match parse_long_header(rest) {
                Ok(Long::Initial(header)) => {
                    self.pos = self.pos.saturating_add(header.packet_len);
                    let bytes = rest.get(..header.packet_len).unwrap_or(&[]);
                    self.yielded = true;
                    return Some(InitialPacket {
                        header,
                        bytes,
                        offset,
                    });
                }
                Ok(Long::Other { packet_len }) => {
                    self.pos = self.pos.saturating_add(packet_len);
                }
                Ok(Long::Last) => self.error = Some(QuicError::NotInitial),
                Err(e) => {
                    // after the first packet, anything unparseable is the end
                    // (short-header packet, padding): not an error
                    self.error = Some(if offset == 0 {
                        e
                    } else {
                        QuicError::NotInitial
                    });
                }
            }
        }
        None
    }
}

enum Long {
    Initial(InitialHeader),
    /// 0-RTT or Handshake: skip `packet_len` bytes.
    Other {
        packet_len: usize,
    },
    /// Retry: no Length field, nothing can follow.
    Last,
}

fn parse_long_header(p: &[u8]) -> Result<Long, QuicError> {
    let mut c = Cursor::new(p);
    let first = c.u8().ok_or(QuicError::NotLongHeader)?;
    if first & 0x80 == 0 {
        return Err(QuicError::NotLongHeader);
    }
    let raw = c.u32().ok_or(QuicError::Truncated)?;
    if raw == 0 {
        return Err(QuicError::VersionNegotiation);
    }
    let version = Version::from_wire(raw).ok_or(QuicError::UnsupportedVersion(raw))?;
    let dcid = c.cid()?;
    let scid = c.cid()?;
    let ty = version.packet_type(first);
    let (token_offset, token_len) = match ty {
        LongType::Retry => return Ok(Long::Last),
        LongType::Initial => {
            let len = c.varint_len()?;
            let at = c.pos;
            c.take(len).ok_or(QuicError::Truncated)?;
            (at, len)
        }
        LongType::ZeroRtt | LongType::Handshake => (0, 0),
    };
    let length = c.varint_len()?;
    let pn_offset = c.pos;
    let packet_len = pn_offset.checked_add(length).ok_or(QuicError::Malformed)?;
    if packet_len > p.len() {
        return Err(QuicError::Truncated);
    }
    if ty != LongType::Initial {
        return Ok(Long::Other { packet_len });
    }
    Ok(Long::Initial(InitialHeader {
        version,
        dcid,
        scid,
        token_offset,
        token_len,
        pn_offset,
        packet_len,
    }))
}

/// The client's Initial secrets for a version and original DCID
/// (RFC 9001 §5.2, Appendix A.1).
#[derive(Clone, PartialEq, Eq)]
pub struct InitialSecrets {
    /// `client_initial_secret` = HKDF-Expand-Label(initial_secret, "client in", "", 32).
    pub client_initial_secret: [u8; 32],
    /// AEAD key ("quic key" / "quicv2 key").
    pub key: [u8; 16],
    /// AEAD IV ("quic iv" / "quicv2 iv").
    pub iv: [u8; 12],
    /// Header protection key ("quic hp" / "quicv2 hp").
    pub hp: [u8; 16],
}

impl fmt::Debug for InitialSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // public values, but there is no reason to put them in logs
        f.write_str("InitialSecrets { .. }")
    }
}

/// Derives the client's Initial secrets from the Destination Connection ID
/// of the client's first Initial packet.
pub fn client_initial_secrets(version: Version, dcid: &[u8]) -> InitialSecrets {
    let (_, initial) = Hkdf::<Sha256>::extract(Some(version.salt()), dcid);
    let mut client_initial_secret = [0; 32];
    expand_label(&initial, b"client in", &mut client_initial_secret);
    // infallible: the PRK is 32 bytes, exactly SHA-256's output
    let mut s = InitialSecrets {
        client_initial_secret,
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    if let Ok(client) = Hkdf::<Sha256>::from_prk(&client_initial_secret) {
        let [k, iv, hp] = version.labels();
        expand_label(&client, k, &mut s.key);
        expand_label(&client, iv, &mut s.iv);
        expand_label(&client, hp, &mut s.hp);
    }
    s
}

/// TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    // struct { uint16 length; opaque label<7..255> = "tls13 " + label; opaque context<0..255>; }
    let mut info = [0u8; 2 + 1 + 6 + 16 + 1];
    let n = 2 + 1 + 6 + label.len() + 1;
    let (Some(info), Ok(len), Ok(label_len)) = (
        info.get_mut(..n),
        u16::try_from(out.len()),
        u8::try_from(6 + label.len()),
    ) else {
        return;
    };
    info[..2].copy_from_slice(&len.to_be_bytes());
    info[2] = label_len;
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label);
    info[n - 1] = 0;
    // fails only for outputs over 255 * 32 bytes; ours are at most 32
    let _ = prk.expand(info, out);
}

/// Ready-to-use client Initial keys (AEAD and header protection ciphers).
#[derive(Clone)]
pub struct InitialKeys {
    aead: Aes128Gcm,
    hp: Aes128,
    iv: [u8; 12],
}

impl fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InitialKeys { .. }")
    }
}

impl InitialKeys {
    /// The client's keys for this version and original DCID.
    pub fn client(version: Version, dcid: &[u8]) -> Self {
        Self::from_secrets(&client_initial_secrets(version, dcid))
    }

    /// Keys from already derived secrets.
    pub fn from_secrets(s: &InitialSecrets) -> Self {
        Self {
            aead: Aes128Gcm::new(&s.key.into()),
            hp: Aes128::new(&s.hp.into()),
            iv: s.iv,
        }
    }

    /// The header protection mask for a 16-byte sample (RFC 9001 §5.4.3).
    fn mask(&self, sample: &[u8; SAMPLE_LEN]) -> [u8; 16] {
        let mut block = (*sample).into();
        self.hp.encrypt_block(&mut block);
        block.into()
    }

    /// The AEAD nonce for a packet number (RFC 9001 §5.3).
    fn nonce(&self, pn: u64) -> [u8; 12] {
        let mut n = self.iv;
        for (d, p) in n[4..].iter_mut().zip(pn.to_be_bytes()) {
            *d ^= p;
        }
        n
    }
}

/// A decrypted Initial packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedInitial<'s> {
    /// The packet's header.
    pub header: InitialHeader,
    /// The packet number (its on-the-wire value; see the module docs).
    pub packet_number: u64,
    /// The decrypted frames.
    pub payload: &'s [u8],
}

/// Removes header protection from and decrypts one Initial packet with the
/// given keys, using `scratch` (at least `packet.bytes.len()` long, e.g.
/// [`MAX_PACKET_LEN`]) as the work area. The payload returned borrows
/// `scratch`.
pub fn open_initial<'s>(
    packet: &InitialPacket<'_>,
    keys: &InitialKeys,
    scratch: &'s mut [u8],
) -> Result<OpenedInitial<'s>, QuicError> {
    let h = packet.header;
    let bytes = packet
        .bytes
        .get(..h.packet_len)
        .ok_or(QuicError::Truncated)?;
    // the sample starts 4 bytes after the packet number's start, whatever
    // its length, and the packet must hold a full tag after the number
    let sample_at = h.pn_offset.checked_add(4).ok_or(QuicError::Malformed)?;
    let sample: &[u8; SAMPLE_LEN] = bytes
        .get(sample_at..sample_at.saturating_add(SAMPLE_LEN))
        .and_then(|s| s.try_into().ok())
        .ok_or(QuicError::Malformed)?;
    let work = scratch.get_mut(..bytes.len()).ok_or(QuicError::TooLarge)?;
    work.copy_from_slice(bytes);

    let mask = keys.mask(sample);
    work[0] ^= mask[0] & 0x0f;
    let first = work[0];
    let pn_len = usize::from(first & 0x03) + 1;
    let hdr_len = h.pn_offset + pn_len;
    let mut pn = 0u64;
    for (i, m) in mask[1..=pn_len].iter().enumerate() {
        let b = work.get_mut(h.pn_offset + i).ok_or(QuicError::Malformed)?;
        *b ^= m;
        pn = (pn << 8) | u64::from(*b);
    }
    let body_end = bytes
        .len()
        .checked_sub(TAG_LEN)
        .filter(|&e| e >= hdr_len)
        .ok_or(QuicError::Malformed)?;
    let (aad, rest) = work.split_at_mut(hdr_len);
    let (body, tag) = rest.split_at_mut(body_end - hdr_len);
    let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| QuicError::Malformed)?;
    keys.aead
        .decrypt_inout_detached(&keys.nonce(pn).into(), aad, body.into(), &(*tag).into())
        .map_err(|_| QuicError::Decrypt)?;
    // RFC 9000 §17.2: the reserved bits (0x0c) are zero once unprotected
    if first & 0x0c != 0 {
        return Err(QuicError::ReservedBits);
    }
    Ok(OpenedInitial {
        header: h,
        packet_number: pn,
        payload: &*body,
    })
}

/// A CRYPTO frame: a piece of the TLS handshake stream at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoFrame<'a> {
    /// Offset of `data` in the Initial-level handshake stream.
    pub offset: u64,
    /// The bytes.
    pub data: &'a [u8],
}

/// How a frame walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramesEnd {
    /// Still walking, or walked to the end of the payload.
    Complete,
    /// A frame type other than PADDING, PING, ACK or CRYPTO (e.g. 0x1c,
    /// CONNECTION_CLOSE); the rest of the payload was not read.
    Other(u64),
    /// A frame ran past the payload or a field was impossible.
    Malformed,
}

/// The CRYPTO frames of a decrypted Initial payload, in packet order
/// (which need not be stream order). PADDING, PING and ACK frames are
/// skipped; any other frame or a malformed one ends the walk (see
/// [`CryptoFrames::end`]).
pub fn crypto_frames(payload: &[u8]) -> CryptoFrames<'_> {
    CryptoFrames {
        c: Cursor::new(payload),
        end: FramesEnd::Complete,
        done: false,
    }
}

/// Iterator returned by [`crypto_frames`].
#[derive(Debug, Clone)]
pub struct CryptoFrames<'a> {
    c: Cursor<'a>,
    end: FramesEnd,
    done: bool,
}

impl CryptoFrames<'_> {
    /// How the walk ended (meaningful once the iterator returned `None`).
    pub fn end(&self) -> FramesEnd {
        self.end
    }

    fn stop(&mut self, end: FramesEnd) {
        self.end = end;
        self.done = true;
    }
}

impl<'a> Iterator for CryptoFrames<'a> {
    type Item = CryptoFrame<'a>;

    fn next(&mut self) -> Option<CryptoFrame<'a>> {
        while !self.done {
            let Some(ty) = self.c.varint() else {
                self.stop(FramesEnd::Complete);
                break;
            };
            match ty {
                0x00 => {
                    // PADDING: skip the whole run at once
                    let zeros = self.c.rest().iter().take_while(|&&b| b == 0).count();
                    self.c.pos += zeros;
                }
                0x01 => {} // PING
                0x02 | 0x03 => {
                    if self.skip_ack(ty == 0x03).is_none() {
                        self.stop(FramesEnd::Malformed);
                    }
                }
                0x06 => {
                    let frame = (|| {
                        let offset = self.c.varint()?;
                        let len = usize::try_from(self.c.varint()?).ok()?;
                        let data = self.c.take(len)?;
                        // RFC 9000 §19.6: offset + length < 2^62
                        (offset.checked_add(len as u64)? < (1 << 62))
                            .then_some(CryptoFrame { offset, data })
                    })();
                    match frame {
                        Some(f) => return Some(f),
                        None => self.stop(FramesEnd::Malformed),
                    }
                }
                other => self.stop(FramesEnd::Other(other)),
            }
        }
        None
    }
}

impl CryptoFrames<'_> {
    /// Skips an ACK frame's fields (RFC 9000 §19.3). Each range consumes at
    /// least two bytes, so a hostile range count cannot loop for long.
    fn skip_ack(&mut self, ecn: bool) -> Option<()> {
        self.c.varint()?; // largest acknowledged
        self.c.varint()?; // delay
        let ranges = self.c.varint()?;
        self.c.varint()?; // first range
        for _ in 0..ranges {
            self.c.varint()?; // gap
            self.c.varint()?; // range length
        }
        if ecn {
            for _ in 0..3 {
                self.c.varint()?;
            }
        }
        Some(())
    }
}

/// What [`ClientHelloAssembler::push_datagram`] found in one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramSummary {
    /// Header of the first Initial that decrypted.
    pub header: InitialHeader,
    /// Initial packets that decrypted (coalesced packets count separately).
    pub initials: usize,
    /// CRYPTO frames taken from them.
    pub crypto_frames: usize,
    /// True if a frame walk ended on a frame type other than PADDING, PING,
    /// ACK or CRYPTO, or on a malformed frame.
    pub unexpected_frames: bool,
}

/// Reassembles the Initial-level CRYPTO stream of one connection attempt up
/// to the end of the ClientHello.
///
/// One assembler per attempt, keyed by the caller (e.g. 5-tuple plus the
/// client's original DCID). Fragments may arrive in any order, overlap, span
/// several Initial packets and repeat (retransmissions). The buffer — a
/// synthetic 5-byte TLS record header followed by up to `capacity` bytes of
/// handshake data — is allocated once, on the first CRYPTO byte, so a
/// datagram that never decrypts costs no allocation. Data beyond `capacity`
/// is dropped; a ClientHello longer than that is reported truncated
/// ([`Self::is_truncated`]) and its prefix is still searched for the SNI.
#[derive(Debug, Clone)]
pub struct ClientHelloAssembler {
    capacity: usize,
    /// `RECORD_HEADER_LEN + capacity` bytes once allocated.
    buf: Vec<u8>,
    /// One bit per handshake byte received.
    have: Vec<u64>,
    /// Bytes contiguous from offset 0.
    contiguous: usize,
    /// Keys of the last DCID seen, to avoid re-deriving them per packet.
    keys: Option<(Version, ConnectionId, InitialKeys)>,
}

impl Default for ClientHelloAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientHelloAssembler {
    /// An assembler for ClientHellos up to [`DEFAULT_HELLO_CAPACITY`] bytes.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_HELLO_CAPACITY)
    }

    /// An assembler for ClientHellos up to `capacity` bytes (clamped to
    /// 64..=[`MAX_HELLO_CAPACITY`]).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.clamp(64, MAX_HELLO_CAPACITY),
            buf: Vec::new(),
            have: Vec::new(),
            contiguous: 0,
            keys: None,
        }
    }

    /// Forgets all data (keeps the allocation and cached keys).
    pub fn reset(&mut self) {
        self.buf.fill(0);
        self.have.fill(0);
        self.contiguous = 0;
    }

    /// Decrypts every client Initial in a UDP datagram and takes their
    /// CRYPTO frames. `Err` when no Initial in the datagram decrypted (the
    /// reason for the first packet tried).
    pub fn push_datagram(&mut self, udp_payload: &[u8]) -> Result<DatagramSummary, QuicError> {
        let mut scratch = [0u8; MAX_PACKET_LEN];
        let mut packets = initial_packets(udp_payload);
        let mut first_err = None;
        let mut summary: Option<DatagramSummary> = None;
        for packet in packets.by_ref() {
            let h = packet.header;
            let cached = matches!(&self.keys, Some((v, d, _)) if *v == h.version && *d == h.dcid);
            if !cached {
                let k = InitialKeys::client(h.version, h.dcid.as_bytes());
                self.keys = Some((h.version, h.dcid, k));
            }
            let Some((_, _, keys)) = &self.keys else {
                continue;
            };
            let opened = match open_initial(&packet, keys, &mut scratch) {
                Ok(o) => o,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            let s = summary.get_or_insert(DatagramSummary {
                header: h,
                initials: 0,
                crypto_frames: 0,
                unexpected_frames: false,
            });
            s.initials += 1;
            let mut frames = crypto_frames(opened.payload);
            for f in frames.by_ref() {
                s.crypto_frames += 1;
                self.push_crypto(f.offset, f.data);
            }
            s.unexpected_frames |= frames.end() != FramesEnd::Complete;
        }
        summary.ok_or_else(|| {
            first_err
                .or(packets.error())
                .unwrap_or(QuicError::NotInitial)
        })
    }

    /// Adds `data` at `offset` of the handshake stream. Bytes past the
    /// capacity are dropped. Returns true once the ClientHello is complete.
    pub fn push_crypto(&mut self, offset: u64, data: &[u8]) -> bool {
        let Ok(start) = usize::try_from(offset) else {
            return self.is_complete();
        };
        if start >= self.capacity || data.is_empty() {
            return self.is_complete();
        }
        let end = start.saturating_add(data.len()).min(self.capacity);
        let data = data.get(..end - start).unwrap_or(&[]);
        if self.buf.is_empty() {
            self.buf = vec![0; RECORD_HEADER_LEN + self.capacity];
            self.have = vec![0; self.capacity.div_ceil(64)];
        }
        if let Some(dst) = self
            .buf
            .get_mut(RECORD_HEADER_LEN + start..RECORD_HEADER_LEN + end)
        {
            dst.copy_from_slice(data);
        }
        for i in start..end {
            if let Some(w) = self.have.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
        // advance the contiguous prefix a word at a time where possible
        while self.contiguous < self.capacity {
            let (w, bit) = (self.contiguous / 64, self.contiguous % 64);
            let word = self.have.get(w).copied().unwrap_or(0) >> bit;
            let run = (!word).trailing_zeros() as usize; // ones from `bit` on
            self.contiguous = (self.contiguous + run.min(64 - bit)).min(self.capacity);
            if run < 64 - bit {
                break;
            }
        }
        self.update_record_header();
        self.is_complete()
    }

    /// Keeps the synthetic record header's length in step with the data.
    fn update_record_header(&mut self) {
        let n = self
            .message_len()
            .map_or(self.contiguous, |m| m.min(self.contiguous));
        let len = u16::try_from(n).unwrap_or(u16::MAX);
        if let Some(h) = self.buf.get_mut(..RECORD_HEADER_LEN) {
            h.copy_from_slice(&[0x16, 0x03, 0x01, (len >> 8) as u8, len as u8]);
        }
    }

    /// The handshake bytes contiguous from offset 0 (possibly a partial
    /// ClientHello).
    pub fn contiguous(&self) -> &[u8] {
        self.buf
            .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + self.contiguous)
            .unwrap_or(&[])
    }

    /// Length of the first handshake message (4-byte header included), once
    /// its header is in: `Some` even if it is not a ClientHello.
    pub fn message_len(&self) -> Option<usize> {
        match *self.contiguous() {
            [_, a, b, c, ..] => {
                Some(4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)))
            }
            _ => None,
        }
    }

    /// True if the stream starts with something other than a ClientHello.
    pub fn is_invalid(&self) -> bool {
        self.contiguous().first().is_some_and(|&t| t != 0x01)
    }

    /// True once the whole ClientHello is in (or the first `capacity` bytes
    /// of a longer one: see [`Self::is_truncated`]).
    pub fn is_complete(&self) -> bool {
        !self.is_invalid()
            && self
                .message_len()
                .is_some_and(|n| self.contiguous >= n.min(self.capacity))
    }

    /// True if the ClientHello is longer than the capacity.
    pub fn is_truncated(&self) -> bool {
        self.message_len().is_some_and(|n| n > self.capacity)
    }

    /// The ClientHello handshake message (type, 3-byte length, body) once
    /// complete; the capped prefix if truncated.
    pub fn client_hello(&self) -> Option<&[u8]> {
        let n = self.message_len()?.min(self.capacity);
        if !self.is_complete() {
            return None;
        }
        self.contiguous().get(..n)
    }

    /// The contiguous data wrapped in a synthetic TLS handshake record
    /// header, for parsers that expect one (e.g. [`proto::tls_sni`] or a
    /// TLS fingerprinter). The record length is capped at 65535.
    pub fn tls_record(&self) -> Option<&[u8]> {
        if self.contiguous == 0 || self.is_invalid() {
            return None;
        }
        let n = self
            .message_len()
            .map_or(self.contiguous, |m| m.min(self.contiguous));
        self.buf.get(..RECORD_HEADER_LEN + n)
    }

    /// The server name, as soon as the contiguous prefix holds the whole
    /// SNI extension (the ClientHello need not be complete). Same rules
    /// (plausible host names only) as [`proto::tls_sni`] for TCP.
    pub fn sni(&self) -> Option<&str> {
        proto::tls_sni(self.tls_record()?)
    }

    /// The ALPN protocol names offered (empty until the extension is in).
    pub fn alpn(&self) -> Alpn<'_> {
        handshake_alpn(self.contiguous())
    }
}

/// The SNI of the ClientHello in a single UDP datagram (one or more
/// coalesced Initials): the convenience for the common single-datagram
/// case. A ClientHello spread over several datagrams (large post-quantum
/// key shares) needs a [`ClientHelloAssembler`] fed with each of them.
/// Allocates the assembler's buffer (4 KiB) when the datagram decrypts.
pub fn client_initial_sni(udp_payload: &[u8]) -> Option<String> {
    let mut a = ClientHelloAssembler::new();
    a.push_datagram(udp_payload).ok()?;
    a.sni().map(str::to_owned)
}

/// The server name in a bare TLS ClientHello handshake message (type 1,
/// 3-byte length, body: no record header), possibly truncated after the SNI
/// extension. Accepts the same plausible host names as [`proto::tls_sni`].
pub fn handshake_sni(hello: &[u8]) -> Option<&str> {
    let body = find_extension(hello, 0)?;
    // server_name_list: 2-byte length, then entries (type, 2-byte length, name)
    let mut s = Cursor::new(body);
    s.u16()?;
    while let (Some(kind), Some(n)) = (s.u8(), s.u16()) {
        let name = s.take(usize::from(n))?;
        if kind == 0 {
            return plausible_hostname(name);
        }
    }
    None
}

/// The ALPN protocol names in a bare TLS ClientHello handshake message
/// (empty if absent or cut short before the extension ends).
pub fn handshake_alpn(hello: &[u8]) -> Alpn<'_> {
    let list = find_extension(hello, 16).and_then(|body| {
        let mut c = Cursor::new(body);
        let n = usize::from(c.u16()?);
        c.take(n)
    });
    Alpn {
        c: Cursor::new(list.unwrap_or(&[])),
    }
}

/// Iterator over ALPN protocol names (raw bytes, e.g. `b"h3"`).
#[derive(Debug, Clone)]
pub struct Alpn<'a> {
    c: Cursor<'a>,
}

impl<'a> Iterator for Alpn<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.c.u8()?);
        let name = self.c.take(n);
        if name.is_none() {
            self.c.pos = self.c.b.len();
        }
        name
    }
}

/// The body of the first extension of type `ty` in a bare ClientHello, if
/// wholly present.
fn find_extension(hello: &[u8], ty: u16) -> Option<&[u8]> {
    let mut r = Cursor::new(hello);
    if r.u8()? != 0x01 {
        return None;
    }
    r.take(3)?; // handshake length: the message may be truncated
    r.take(2 + 32)?; // legacy_version, random
    let sid = r.u8()?;
    r.take(usize::from(sid))?;
    let cs = r.u16()?;
    r.take(usize::from(cs))?;
    let cm = r.u8()?;
    r.take(usize::from(cm))?;
    let ext_len = usize::from(r.u16()?);
    let rest = r.rest();
    let mut exts = Cursor::new(rest.get(..ext_len.min(rest.len()))?);
    while let (Some(t), Some(len)) = (exts.u16(), exts.u16()) {
        let body = exts.take(usize::from(len))?;
        if t == ty {
            return Some(body);
        }
    }
    None
}

/// The host-name filter of [`proto::tls_sni`]: letters, digits, `-._:[]`,
/// 1..=253 bytes; hostile names must not inject arbitrary text into events.
fn plausible_hostname(b: &[u8]) -> Option<&str> {
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

/// Bounds-checked big-endian reader.
#[derive(Debug, Clone)]
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A QUIC variable-length integer (RFC 9000 §16).
    fn varint(&mut self) -> Option<u64> {
        let first = *self.b.get(self.pos)?;
        let len = 1usize << (first >> 6);
        let bytes = self.take(len)?;
        Some(
            bytes
                .iter()
                .skip(1)
                .fold(u64::from(first & 0x3f), |v, &b| (v << 8) | u64::from(b)),
        )
    }

    /// A varint used as a length within this packet.
    fn varint_len(&mut self) -> Result<usize, QuicError> {
        let v = self.varint().ok_or(QuicError::Truncated)?;
        usize::try_from(v).map_err(|_| QuicError::Malformed)
    }

    /// A length-prefixed connection ID (at most 20 bytes in v1/v2).
    fn cid(&mut self) -> Result<ConnectionId, QuicError> {
        let n = usize::from(self.u8().ok_or(QuicError::Truncated)?);
        if n > MAX_CID_LEN {
            return Err(QuicError::Malformed);
        }
        let b = self.take(n).ok_or(QuicError::Truncated)?;
        ConnectionId::new(b).ok_or(QuicError::Malformed)
    }
}
