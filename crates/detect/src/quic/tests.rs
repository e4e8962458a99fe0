use super::*;
use aes_gcm::aead::AeadInOut;

/// Hex to bytes, ignoring whitespace (vectors are pasted as the RFCs print them).
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex length");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

const RFC_DCID: &str = "8394c8f03e515708";

/// RFC 9001 Appendix A.2 / RFC 9369 Appendix A.2: the CRYPTO frame of the
/// client Initial (the same in both), before PADDING to 1162 bytes.
const RFC_CRYPTO_FRAME: &str = "
   060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
   04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
   616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
   04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
   baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
   0d0010000e0403050306030203080408 050806002d00020101001c0002400100
   3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
   75300901100f088394c8f03e51570806 048000ffff";

/// RFC 9001 Appendix A.2: the protected client Initial.
const RFC9001_CLIENT_INITIAL: &str = "
   c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
   d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
   1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
   8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
   30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
   457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
   4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
   4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
   485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
   059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
   7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
   9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
   be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
   68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
   c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
   f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
   291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
   25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
   14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
   ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
   e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
   c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
   203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
   cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
   fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
   a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
   90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
   162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
   40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
   6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
   8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
   be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
   54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
   760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
   f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
   056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
   7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
   e221af44860018ab0856972e194cd934";

/// RFC 9001 Appendix A.3: the server's protected Initial.
const RFC9001_SERVER_INITIAL: &str = "
   cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
   5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
   dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
   022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
   2158407dd074ee";

/// RFC 9369 Appendix A.2: the protected QUIC v2 client Initial.
const RFC9369_CLIENT_INITIAL: &str = "
   d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485
   dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04
   9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d
   250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a
   12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500
   cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68
   18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33
   12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3
   d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd
   6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520
   bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045
   636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f
   ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12
   16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5
   4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4
   fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b
   8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7
   14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9
   9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91
   abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd
   80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db
   848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18
   d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15
   c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc
   7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61
   f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710
   10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b
   3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e
   06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce
   8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1
   34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1
   e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd
   5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3
   8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89
   d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53
   6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19
   9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b
   a18b2faa745b6fe189cf772a9f84cbfc";

/// The RFC payload: the CRYPTO frame, then PADDING to 1162 bytes.
fn rfc_payload() -> Vec<u8> {
    let mut p = hex(RFC_CRYPTO_FRAME);
    p.resize(1162, 0);
    p
}

/// Builds a protected Initial (test-side encryption, RFC 9001 §5): the
/// inverse of `open_initial`, checked against the RFC vectors below.
pub(crate) fn protect(
    version: Version,
    dcid: &[u8],
    scid: &[u8],
    token: &[u8],
    pn: u32,
    pn_len: usize,
    payload: &[u8],
) -> Vec<u8> {
    assert!((1..=4).contains(&pn_len));
    let ty: u8 = if version == Version::V2 { 1 } else { 0 };
    let mut p = vec![0xc0 | (ty << 4) | (pn_len as u8 - 1)];
    p.extend(version.wire().to_be_bytes());
    p.push(dcid.len() as u8);
    p.extend(dcid);
    p.push(scid.len() as u8);
    p.extend(scid);
    put_varint(&mut p, token.len() as u64);
    p.extend(token);
    // 2-byte varint length, as clients send
    let length = pn_len + payload.len() + TAG_LEN;
    assert!(length < 16384);
    p.extend((0x4000 | length as u16).to_be_bytes());
    let pn_offset = p.len();
    p.extend(&pn.to_be_bytes()[4 - pn_len..]);
    let hdr_len = p.len();
    let keys = InitialKeys::client(version, dcid);
    let mut body = payload.to_vec();
    let tag = keys
        .aead
        .encrypt_inout_detached(
            &keys.nonce(u64::from(pn)).into(),
            &p,
            body.as_mut_slice().into(),
        )
        .unwrap();
    p.extend(body);
    p.extend(tag.as_slice());
    let sample: [u8; 16] = p[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mask = keys.mask(&sample);
    p[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        p[pn_offset + i] ^= mask[1 + i];
    }
    assert_eq!(hdr_len, pn_offset + pn_len);
    p
}

fn put_varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=63 => out.push(v as u8),
        64..=16383 => out.extend((0x4000 | v as u16).to_be_bytes()),
        16384..=0x3fff_ffff => out.extend((0x8000_0000 | v as u32).to_be_bytes()),
        _ => out.extend((0xc000_0000_0000_0000 | v).to_be_bytes()),
    }
}

pub(crate) fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    put_varint(&mut f, offset);
    put_varint(&mut f, data.len() as u64);
    f.extend(data);
    f
}

/// Pads frames to a 1200-byte datagram for a 8/8-byte CID, no-token Initial.
pub(crate) fn padded(mut frames: Vec<u8>) -> Vec<u8> {
    if frames.len() < 1162 {
        frames.resize(1162, 0);
    }
    frames
}

/// A ClientHello handshake message (no record header) with a large key
/// share placed before SNI and ALPN, as a post-quantum hello might be.
pub(crate) fn big_client_hello(name: &[u8], key_share_len: usize) -> Vec<u8> {
    let mut ext = vec![];
    // key_share (51): client_shares length, one entry (group 0x11ec, len, key)
    let ks = key_share_len as u16;
    ext.extend(51u16.to_be_bytes());
    ext.extend((ks + 6).to_be_bytes());
    ext.extend((ks + 4).to_be_bytes());
    ext.extend(0x11ecu16.to_be_bytes());
    ext.extend(ks.to_be_bytes());
    ext.extend((0..key_share_len).map(|i| (i * 7 + 3) as u8));
    // SNI
    let n = name.len() as u16;
    ext.extend([0, 0]);
    ext.extend((n + 5).to_be_bytes());
    ext.extend((n + 3).to_be_bytes());
    ext.push(0);
    ext.extend(n.to_be_bytes());
    ext.extend(name);
    // ALPN h3
    ext.extend([0, 16, 0, 5, 0, 3, 2, b'h', b'3']);
    let mut body = vec![0x03, 0x03];
    body.extend([0x5a; 32]);
    body.push(0);
    body.extend([0, 2, 0x13, 0x01]);
    body.extend([1, 0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![0x01];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    hs
}

fn dcid() -> Vec<u8> {
    hex(RFC_DCID)
}

/// Deterministic xorshift64* for the fuzz-ish loops.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------- RFC 9001

#[test]
fn rfc9001_a1_client_keys() {
    let s = client_initial_secrets(Version::V1, &dcid());
    assert_eq!(
        s.client_initial_secret.to_vec(),
        hex("c00cf151ca5be075ed0ebfb5c80323c4 2d6b7db67881289af4008f1f6c357aea")
    );
    assert_eq!(s.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(s.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(s.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    // the header protection mask of A.2
    let k = InitialKeys::from_secrets(&s);
    let sample: [u8; 16] = hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
    assert_eq!(k.mask(&sample)[..5].to_vec(), hex("437b9aec36"));
    assert_eq!(format!("{s:?}"), "InitialSecrets { .. }");
}

#[test]
fn rfc9001_a2_client_initial_opens() {
    let pkt = hex(RFC9001_CLIENT_INITIAL);
    assert_eq!(pkt.len(), 1200);
    let h = is_long_header_initial(&pkt).unwrap();
    assert_eq!(h.version, Version::V1);
    assert_eq!(h.dcid.as_bytes(), dcid().as_slice());
    assert_eq!(h.dcid.to_string(), RFC_DCID);
    assert!(h.scid.is_empty());
    assert_eq!((h.token_len, h.pn_offset, h.packet_len), (0, 18, 1200));

    let packet = initial_packets(&pkt).next().unwrap();
    assert_eq!(packet.token(), b"");
    let keys = InitialKeys::client(Version::V1, &dcid());
    let mut scratch = [0u8; MAX_PACKET_LEN];
    let opened = open_initial(&packet, &keys, &mut scratch).unwrap();
    assert_eq!(opened.packet_number, 2);
    assert_eq!(opened.payload, rfc_payload().as_slice());
    // the unprotected header of A.2
    assert_eq!(
        scratch[..22].to_vec(),
        hex("c300000001088394c8f03e5157080000449e00000002")
    );

    // frames: one CRYPTO frame at offset 0, then PADDING to the end
    let opened = open_initial(&packet, &keys, &mut scratch).unwrap();
    let mut frames = crypto_frames(opened.payload);
    let f = frames.next().unwrap();
    assert_eq!(f.offset, 0);
    assert_eq!(f.data.len(), 0xf1);
    assert_eq!(f.data, &hex(RFC_CRYPTO_FRAME)[4..]);
    assert!(frames.next().is_none());
    assert_eq!(frames.end(), FramesEnd::Complete);

    // SNI and ALPN, from the hello and through the one-call helper
    assert_eq!(handshake_sni(f.data), Some("example.com"));
    assert_eq!(handshake_alpn(f.data).collect::<Vec<_>>(), vec![b"alpn"]);
    assert_eq!(client_initial_sni(&pkt).as_deref(), Some("example.com"));

    let mut a = ClientHelloAssembler::new();
    let sum = a.push_datagram(&pkt).unwrap();
    assert_eq!((sum.initials, sum.crypto_frames), (1, 1));
    assert!(!sum.unexpected_frames);
    assert_eq!(sum.header, h);
    assert!(a.is_complete() && !a.is_truncated() && !a.is_invalid());
    assert_eq!(a.client_hello(), Some(f.data));
    assert_eq!(a.message_len(), Some(0xf1));
    assert_eq!(a.sni(), Some("example.com"));
    assert_eq!(a.alpn().collect::<Vec<_>>(), vec![b"alpn"]);
    let rec = a.tls_record().unwrap();
    assert_eq!(rec[..5], [0x16, 0x03, 0x01, 0x00, 0xf1]);
    assert_eq!(&rec[5..], f.data);
}

#[test]
fn protect_reproduces_rfc_packets() {
    // the test-side encryptor matches both RFCs byte for byte, so the
    // synthetic packets in the other tests are faithful
    let v1 = protect(Version::V1, &dcid(), &[], &[], 2, 4, &rfc_payload());
    assert_eq!(v1, hex(RFC9001_CLIENT_INITIAL));
    let v2 = protect(Version::V2, &dcid(), &[], &[], 2, 4, &rfc_payload());
    assert_eq!(v2, hex(RFC9369_CLIENT_INITIAL));
}

#[test]
fn rfc9001_a3_server_initial_is_not_a_client_initial() {
    let pkt = hex(RFC9001_SERVER_INITIAL);
    let h = is_long_header_initial(&pkt).unwrap();
    assert!(h.dcid.is_empty());
    assert_eq!(h.scid.as_bytes(), hex("f067a5502a4262b5").as_slice());
    let mut a = ClientHelloAssembler::new();
    assert_eq!(a.push_datagram(&pkt), Err(QuicError::Decrypt));
    assert!(a.contiguous().is_empty());
    assert_eq!(client_initial_sni(&pkt), None);
}

// ---------------------------------------------------------------- RFC 9369

#[test]
fn rfc9369_a1_client_keys() {
    let s = client_initial_secrets(Version::V2, &dcid());
    assert_eq!(
        s.client_initial_secret.to_vec(),
        hex("14ec9d6eb9fd7af83bf5a668bc17a7e2 83766aade7ecd0891f70f9ff7f4bf47b")
    );
    assert_eq!(s.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(s.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
    assert_eq!(s.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let k = InitialKeys::from_secrets(&s);
    let sample: [u8; 16] = hex("ffe67b6abcdb4298b485dd04de806071").try_into().unwrap();
    assert_eq!(k.mask(&sample)[..5].to_vec(), hex("94a0c95e80"));
}

#[test]
fn rfc9369_a2_client_initial_opens() {
    let pkt = hex(RFC9369_CLIENT_INITIAL);
    let h = is_long_header_initial(&pkt).unwrap();
    assert_eq!(h.version, Version::V2);
    assert_eq!(h.version.as_str(), "v2");
    let packet = initial_packets(&pkt).next().unwrap();
    let keys = InitialKeys::client(Version::V2, &dcid());
    let mut scratch = [0u8; MAX_PACKET_LEN];
    let opened = open_initial(&packet, &keys, &mut scratch).unwrap();
    assert_eq!(opened.packet_number, 2);
    assert_eq!(opened.payload, rfc_payload().as_slice());
    assert_eq!(
        scratch[..22].to_vec(),
        hex("d36b3343cf088394c8f03e5157080000449e00000002")
    );
    assert_eq!(client_initial_sni(&pkt).as_deref(), Some("example.com"));
    // v1 keys do not open a v2 packet (different salt and labels)
    let v1 = InitialKeys::client(Version::V1, &dcid());
    assert_eq!(
        open_initial(&packet, &v1, &mut scratch),
        Err(QuicError::Decrypt)
    );
}

#[test]
fn v1_packet_with_v2_type_bits_is_not_initial() {
    // a v1 header whose type bits say Initial in v2 (0b01) is 0-RTT in v1
    let mut pkt = hex(RFC9001_CLIENT_INITIAL);
    pkt[0] = (pkt[0] & !0x30) | 0x10;
    assert_eq!(is_long_header_initial(&pkt), None);
    let mut it = initial_packets(&pkt);
    assert!(it.next().is_none());
    assert_eq!(it.error(), Some(QuicError::NotInitial));
}

#[test]
fn draft29_round_trip() {
    let hello = big_client_hello(b"draft29.example", 32);
    let pkt = protect(
        Version::Draft29,
        b"\x01\x02\x03\x04\x05\x06\x07\x08",
        b"\xaa\xbb",
        &[],
        0,
        1,
        &padded(crypto(0, &hello)),
    );
    let h = is_long_header_initial(&pkt).unwrap();
    assert_eq!(h.version, Version::Draft29);
    assert_eq!(h.version.wire(), VERSION_DRAFT_29);
    assert_eq!(client_initial_sni(&pkt).as_deref(), Some("draft29.example"));
}

// ------------------------------------------------------- several packets

#[test]
fn client_hello_split_across_two_initials_and_reordered_frames() {
    let hello = big_client_hello(b"pq.example.org", 1216);
    assert!(hello.len() > 1300, "{}", hello.len());
    let cut = 1000;
    // first Initial: [0, cut) as three CRYPTO frames out of order, with
    // PING and PADDING between (as Chrome's "chaos protection" does)
    let mut f1 = crypto(600, &hello[600..cut]);
    f1.extend([0x01, 0x00, 0x00]);
    f1.extend(crypto(0, &hello[..300]));
    f1.push(0x01);
    f1.extend(crypto(300, &hello[300..600]));
    let p1 = protect(Version::V1, &dcid(), b"\x11\x22", &[], 0, 1, &padded(f1));
    // second Initial: the rest, after an ACK frame (ACK with ECN counts)
    let mut f2 = vec![0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03];
    f2.extend(crypto(cut as u64, &hello[cut..]));
    let p2 = protect(Version::V1, &dcid(), b"\x11\x22", &[], 1, 2, &padded(f2));

    for order in [[&p1, &p2], [&p2, &p1]] {
        let mut a = ClientHelloAssembler::new();
        let s = a.push_datagram(order[0]).unwrap();
        assert!(!a.is_complete());
        assert_eq!(a.client_hello(), None);
        // the SNI sits after the 1.2 KiB key share: not there yet
        assert_eq!(a.sni(), None);
        assert_eq!(s.header.scid.as_bytes(), b"\x11\x22");
        let s = a.push_datagram(order[1]).unwrap();
        assert!(!s.unexpected_frames);
        assert!(a.is_complete());
        assert_eq!(a.client_hello(), Some(hello.as_slice()));
        assert_eq!(a.sni(), Some("pq.example.org"));
        assert_eq!(a.alpn().collect::<Vec<_>>(), vec![b"h3"]);
        // retransmissions and duplicates change nothing
        a.push_datagram(order[0]).unwrap();
        assert_eq!(a.client_hello(), Some(hello.as_slice()));
    }
    // only the first datagram: the one-call helper cannot see the name
    assert_eq!(client_initial_sni(&p1), None);

    // both Initials coalesced in one (large) datagram
    let mut both = p2.clone();
    both.extend(&p1);
    let mut a = ClientHelloAssembler::new();
    let s = a.push_datagram(&both).unwrap();
    assert_eq!((s.initials, s.crypto_frames), (2, 4));
    assert_eq!(a.sni(), Some("pq.example.org"));
    assert_eq!(
        initial_packets(&both).map(|p| p.offset).collect::<Vec<_>>(),
        vec![0, p2.len()]
    );
}

#[test]
fn coalesced_handshake_packet_and_trailing_padding_are_skipped() {
    let hello = big_client_hello(b"coalesced.example", 16);
    let init = protect(Version::V1, &dcid(), &[], &[], 0, 1, &crypto(0, &hello));
    // a (fake) Handshake packet first: type 0b10, Length 30
    let mut d = vec![0xe0, 0, 0, 0, 1, 1, 0xaa, 0, 0x1e];
    d.extend([0x55; 30]);
    let hs_len = d.len();
    d.extend(&init);
    d.extend([0u8; 200]); // datagram padding after the packets
    let ps: Vec<_> = initial_packets(&d).collect();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].offset, hs_len);
    assert_eq!(client_initial_sni(&d).as_deref(), Some("coalesced.example"));
    // a token (as after a Retry) is skipped and exposed
    let with_token = protect(
        Version::V1,
        &dcid(),
        &[],
        b"tok3n",
        0,
        1,
        &crypto(0, &hello),
    );
    let p = initial_packets(&with_token).next().unwrap();
    assert_eq!(p.token(), b"tok3n");
    assert_eq!(p.header.token_len, 5);
    assert_eq!(
        client_initial_sni(&with_token).as_deref(),
        Some("coalesced.example")
    );
}

#[test]
fn header_errors_are_classified() {
    let e = |d: &[u8]| {
        let mut it = initial_packets(d);
        assert!(it.next().is_none());
        it.error()
    };
    assert_eq!(e(b""), Some(QuicError::NotLongHeader));
    assert_eq!(e(b"\x40\x01\x02"), Some(QuicError::NotLongHeader));
    assert_eq!(
        e(b"\xc0\x00\x00\x00\x00\x08"),
        Some(QuicError::VersionNegotiation)
    );
    assert_eq!(
        e(b"\xc0\x0a\x1a\x2a\x3a\x08"),
        Some(QuicError::UnsupportedVersion(0x0a1a_2a3a))
    );
    assert_eq!(e(b"\xc0\x00\x00\x00\x01"), Some(QuicError::Truncated));
    assert_eq!(e(b"\xc0\x00\x00\x00\x01\x15"), Some(QuicError::Malformed)); // 21-byte CID
    assert_eq!(
        e(b"\xf0\x00\x00\x00\x01\x00\x00"),
        Some(QuicError::NotInitial)
    ); // Retry
    let mut a = ClientHelloAssembler::new();
    assert_eq!(a.push_datagram(b"\x00"), Err(QuicError::NotLongHeader));
    assert_eq!(QuicError::Decrypt.as_str(), "decrypt");
    assert_eq!(
        QuicError::UnsupportedVersion(7).to_string(),
        "unsupported QUIC version 0x00000007"
    );

    // an Initial too large for the decryption buffer
    let big = protect(
        Version::V1,
        &dcid(),
        &[],
        &[],
        0,
        1,
        &vec![0; MAX_PACKET_LEN],
    );
    assert_eq!(a.push_datagram(&big), Err(QuicError::TooLarge));
    // an Initial too short for the header protection sample
    let mut tiny = b"\xc0\x00\x00\x00\x01\x00\x00\x00\x10".to_vec();
    tiny.extend([0; 16]);
    assert_eq!(a.push_datagram(&tiny), Err(QuicError::Malformed));
}

#[test]
fn reserved_bits_are_refused_after_decryption() {
    let hello = big_client_hello(b"reserved.example", 16);
    let mut pkt = protect(
        Version::V1,
        &dcid(),
        &[],
        &[],
        0,
        1,
        &padded(crypto(0, &hello)),
    );
    // re-protect with the reserved bits set: build the header by hand
    let keys = InitialKeys::client(Version::V1, &dcid());
    let mut scratch = [0u8; MAX_PACKET_LEN];
    let p = initial_packets(&pkt).next().unwrap();
    let payload = open_initial(&p, &keys, &mut scratch)
        .unwrap()
        .payload
        .to_vec();
    let pn_offset = p.header.pn_offset;
    let mut hdr = pkt[..pn_offset].to_vec();
    hdr[0] = 0xc0 | 0x0c; // reserved bits, 1-byte packet number
    hdr.push(0);
    let mut body = payload.clone();
    let tag = keys
        .aead
        .encrypt_inout_detached(&keys.nonce(0).into(), &hdr, body.as_mut_slice().into())
        .unwrap();
    pkt = hdr;
    pkt.extend(body);
    pkt.extend(tag.as_slice());
    let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mask = keys.mask(&sample);
    pkt[0] ^= mask[0] & 0x0f;
    pkt[pn_offset] ^= mask[1];
    let mut a = ClientHelloAssembler::new();
    assert_eq!(a.push_datagram(&pkt), Err(QuicError::ReservedBits));
}

// ------------------------------------------------------- hostile inputs

#[test]
fn every_truncation_and_every_corruption_is_refused() {
    for (v, pkt) in [
        (Version::V1, hex(RFC9001_CLIENT_INITIAL)),
        (Version::V2, hex(RFC9369_CLIENT_INITIAL)),
    ] {
        let mut a = ClientHelloAssembler::new();
        for cut in 0..pkt.len() {
            assert_eq!(client_initial_sni(&pkt[..cut]), None, "{v} cut {cut}");
            assert!(a.push_datagram(&pkt[..cut]).is_err());
        }
        assert!(a.contiguous().is_empty());
        for i in 0..pkt.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = pkt.clone();
                bad[i] ^= flip;
                assert_eq!(client_initial_sni(&bad), None, "{v} byte {i} ^ {flip:#x}");
            }
        }
        // extra bytes after the packet are ignored
        let mut longer = pkt.clone();
        longer.extend([0x42; 10]);
        assert_eq!(client_initial_sni(&longer).as_deref(), Some("example.com"));
    }
}

#[test]
fn assembler_handles_every_split_order_and_overflow() {
    let hello = big_client_hello(b"frag.example", 200);
    let n = hello.len();
    // every prefix: the SNI appears exactly once its extension is whole
    let sni_end = n - 9; // ALPN extension (9 bytes) follows the SNI
    let mut a = ClientHelloAssembler::new();
    for k in 0..=n {
        a.reset();
        a.push_crypto(0, &hello[..k]);
        assert_eq!(a.is_complete(), k == n, "prefix {k}");
        assert_eq!(a.sni().is_some(), k >= sni_end, "prefix {k}");
        assert_eq!(handshake_sni(&hello[..k]).is_some(), k >= sni_end);
        let _ = a.alpn().count();
        let _ = a.tls_record();
    }
    // single bytes, last to first
    a.reset();
    for i in (0..n).rev() {
        assert_eq!(a.push_crypto(i as u64, &hello[i..=i]), i == 0);
    }
    assert_eq!(a.client_hello(), Some(hello.as_slice()));
    // random overlapping fragments in random order
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..200 {
        a.reset();
        let mut frags = vec![];
        let mut at = 0;
        while at < n {
            let len = 1 + rng.below(90);
            let start = at.saturating_sub(rng.below(20));
            let end = (at + len).min(n);
            frags.push((start, end));
            at = end;
        }
        for i in (1..frags.len()).rev() {
            frags.swap(i, rng.below(i + 1));
        }
        for (s, e) in frags {
            a.push_crypto(s as u64, &hello[s..e]);
        }
        assert_eq!(a.client_hello(), Some(hello.as_slice()));
        assert_eq!(a.sni(), Some("frag.example"));
    }
    // data past the capacity, absurd offsets, empty data: ignored
    a.reset();
    assert!(!a.push_crypto(u64::MAX, b"x"));
    assert!(!a.push_crypto(1 << 40, b"x"));
    assert!(!a.push_crypto(0, b""));
    assert!(a.contiguous().is_empty());

    // a ClientHello longer than the capacity: truncated, SNI still found
    // when it comes early (here: a small key share, then SNI, then padding)
    let mut small = ClientHelloAssembler::with_capacity(100);
    let mut long = big_client_hello(b"early.example", 8);
    let extra = 500usize;
    let total = long.len() - 4 + extra;
    long[1..4].copy_from_slice(&(total as u32).to_be_bytes()[1..]);
    long.extend(vec![0; extra]);
    small.push_crypto(0, &long[..150]);
    assert!(small.is_truncated() && small.is_complete());
    assert_eq!(small.client_hello().map(<[u8]>::len), Some(100));
    assert_eq!(small.sni(), Some("early.example"));
    // capacity is clamped
    assert_eq!(ClientHelloAssembler::with_capacity(0).capacity, 64);
    assert_eq!(
        ClientHelloAssembler::with_capacity(usize::MAX).capacity,
        MAX_HELLO_CAPACITY
    );

    // not a ClientHello (a ServerHello): invalid, no SNI
    let mut sh = hello.clone();
    sh[0] = 0x02;
    a.reset();
    a.push_crypto(0, &sh);
    assert!(a.is_invalid() && !a.is_complete());
    assert_eq!(
        (a.sni(), a.tls_record(), a.client_hello()),
        (None, None, None)
    );
}

#[test]
fn handshake_parsers_agree_with_the_tcp_peek() {
    for name in [
        &b"a.example"[..],
        b"xn--bcher-kva.example",
        b"bad name",
        b"",
        b"[2001:db8::1]",
    ] {
        let hello = big_client_hello(name, 40);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend((hello.len() as u16).to_be_bytes());
        rec.extend(&hello);
        assert_eq!(handshake_sni(&hello), proto::tls_sni(&rec), "{name:?}");
    }
    assert_eq!(handshake_sni(b""), None);
    assert_eq!(handshake_sni(b"\x02\x00\x00\x10"), None);
    assert_eq!(handshake_alpn(b"\x01").count(), 0);
}

#[test]
fn frame_walk_stops_on_other_and_malformed_frames() {
    // CONNECTION_CLOSE (0x1c) after a CRYPTO frame
    let mut p = crypto(0, b"abc");
    p.extend([0x1c, 0x01, 0x00, 0x00]);
    p.extend(crypto(3, b"never"));
    let mut f = crypto_frames(&p);
    assert_eq!(f.next().map(|c| c.data), Some(&b"abc"[..]));
    assert!(f.next().is_none());
    assert_eq!(f.end(), FramesEnd::Other(0x1c));
    // a CRYPTO frame longer than the payload
    let mut f = crypto_frames(b"\x06\x00\x10abc");
    assert!(f.next().is_none());
    assert_eq!(f.end(), FramesEnd::Malformed);
    // offset + length past 2^62
    let mut q = vec![0x06];
    put_varint(&mut q, (1 << 62) - 1);
    q.extend([0x02, b'h', b'i']);
    let mut f = crypto_frames(&q);
    assert!(f.next().is_none());
    assert_eq!(f.end(), FramesEnd::Malformed);
    // an ACK with a huge range count but no ranges
    let mut f = crypto_frames(b"\x02\x00\x00\xbf\xff\xff\xff\xff\xff\xff\xff\x00");
    assert!(f.next().is_none());
    assert_eq!(f.end(), FramesEnd::Malformed);
    // an ACK with two ranges, then CRYPTO
    let mut r = vec![0x02, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00];
    r.extend(crypto(7, b"z"));
    let got: Vec<_> = crypto_frames(&r).collect();
    assert_eq!(
        got,
        vec![CryptoFrame {
            offset: 7,
            data: b"z"
        }]
    );
    // a decrypted Initial whose frame walk stops early is flagged
    let mut frames = crypto(0, &big_client_hello(b"cc.example", 8));
    frames.extend([0x1c, 0x0a, 0x00, 0x00]);
    let pkt = protect(Version::V1, &dcid(), &[], &[], 0, 1, &padded(frames));
    let mut a = ClientHelloAssembler::new();
    let s = a.push_datagram(&pkt).unwrap();
    assert!(s.unexpected_frames);
    assert_eq!(a.sni(), Some("cc.example"));
}

#[test]
fn connection_id_basics() {
    assert_eq!(ConnectionId::new(&[0; 21]), None);
    let c = ConnectionId::new(&[0xde, 0xad]).unwrap();
    assert_eq!((c.len(), c.is_empty()), (2, false));
    assert_eq!(format!("{c:?}"), "ConnectionId(dead)");
    assert_eq!(ConnectionId::default().as_bytes(), b"");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut a = ClientHelloAssembler::new();
    let mut scratch = [0u8; MAX_PACKET_LEN];
    let keys = InitialKeys::client(Version::V1, &dcid());
    for round in 0..3000 {
        let len = rng.below(1400);
        let mut d = rng.bytes(len);
        // steer many rounds into the long-header paths
        if round % 2 == 0 && d.len() > 6 {
            d[0] |= 0x80;
            let v = [VERSION_1, VERSION_2, VERSION_DRAFT_29][rng.below(3)];
            d[1..5].copy_from_slice(&v.to_be_bytes());
            d[5] %= 21;
        }
        let _ = is_long_header_initial(&d);
        let _ = client_initial_sni(&d);
        let _ = a.push_datagram(&d);
        for p in initial_packets(&d) {
            let _ = open_initial(&p, &keys, &mut scratch);
        }
        // the parsers behind the AEAD gate, on raw random input
        let _ = crypto_frames(&d).count();
        let _ = handshake_sni(&d);
        let _ = handshake_alpn(&d).count();
        a.push_crypto(rng.next() % 5000, &d[..d.len().min(300)]);
        let _ = (a.sni(), a.alpn().count(), a.client_hello(), a.tls_record());
        if round % 50 == 0 {
            a.reset();
        }
    }
}

#[test]
fn random_mutations_of_valid_packets_never_panic() {
    // random plaintext frames encrypted for real, so the frame walker and
    // the assembler see hostile content that passed the AEAD
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    let mut a = ClientHelloAssembler::new();
    let mut opened = 0;
    for round in 0..400 {
        let plen = 20 + rng.below(1200);
        let mut payload = rng.bytes(plen);
        if round % 3 == 0 {
            payload[0] = 0x06; // start with a CRYPTO frame type
        }
        let pkt = protect(
            Version::V1,
            &dcid(),
            b"\x01",
            &[],
            round % 200,
            1 + rng.below(4),
            &payload,
        );
        opened += usize::from(a.push_datagram(&pkt).is_ok());
        let _ = (a.sni(), a.alpn().count(), a.client_hello());
        // and mutate the header and the length field of real packets
        let mut bad = pkt.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bad.len().min(40));
            bad[i] = rng.next() as u8;
        }
        let _ = client_initial_sni(&bad);
        if round % 20 == 0 {
            a.reset();
        }
    }
    assert_eq!(opened, 400, "every well-formed packet decrypts");
}
