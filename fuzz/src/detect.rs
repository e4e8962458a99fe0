//! Fuzz target bodies for `tw-detect`, shared by the cargo-fuzz targets in
//! `fuzz/fuzz_targets/` and by the ordinary corpus replay test
//! (`crates/detect/tests/fuzz_corpus.rs` includes this file with `#[path]`),
//! so that `cargo test` on stable runs every corpus and crash file through
//! exactly the code the fuzzers ran. Only `tw_detect` and `std` may be used
//! here. Each function must not panic on any input.

use tw_detect::decode::{decode, linktype};
use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::flow::FlowConfig;
use tw_detect::time::{Nanos, MILLI, SECOND};
use tw_detect::{Engine, EngineConfig};

/// Every link type the decoder knows, and one it does not.
pub const LINKTYPES: [u32; 11] = [
    linktype::ETHERNET,
    linktype::RAW,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
    linktype::NULL,
    linktype::LOOP,
    linktype::RAW_OLD,
    linktype::RAW_OLD_BSD,
    0xdead,
];

/// The link type chosen by a selector byte.
pub fn linktype_of(b: u8) -> u32 {
    LINKTYPES[usize::from(b) % LINKTYPES.len()]
}

/// Frame decoder: the first byte picks the link type, the rest is the
/// frame. A decoded packet is also sharded both ways (the fast fixed-offset
/// path and the full decoder must agree: workers depend on it).
pub fn decode_frame(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let lt = linktype_of(sel);
    let wire = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let fast = tw_detect::shard_of_frame(lt, frame);
    let _ = tw_detect::link::link_event(lt, frame);
    if let Ok(p) = decode(lt, frame, 1_700_000_000 * SECOND, wire) {
        let _ = p.proto();
        let _ = tw_detect::link::of_packet(&p);
        let _ = tw_detect::link::reply_of(&p);
        let key = tw_detect::shard_key(&p);
        assert_eq!(fast, Some(key), "shard_of_frame disagrees with shard_key");
        if let tw_detect::decode::Transport::Tcp(t) = &p.l4 {
            let _ = (t.seq_len(), t.syn(), t.rst(), t.fin(), t.ack_flag());
        }
    }
}

/// DNS message parser and name reader.
pub fn dns(data: &[u8]) {
    if let Some(m) = tw_detect::dns::parse(data) {
        let _ = (
            m.is_response(),
            m.rcode(),
            m.aa(),
            m.tc(),
            m.ra(),
            m.opcode(),
        );
        let _ = format!("{m:?}");
    }
    let start = data.first().map_or(0, |&b| usize::from(b));
    if let Some((name, end)) = tw_detect::dns::read_name(data, start) {
        assert!(end <= data.len(), "read_name ended past the message");
        let _ = (name.as_str(), name.labels(), name.is_under("example.com"));
    }
}

/// TLS ClientHello and HTTP request readers (as a TCP payload, and as a
/// bare handshake message with the record header stripped).
pub fn tls(data: &[u8]) {
    let _ = tw_detect::proto::tls_sni(data);
    let _ = tw_detect::proto::http_host(data);
    let _ = tw_detect::proto::hello_info(data, false);
    let _ = tw_detect::proto::hello_info(data, true);
    if let Some(hs) = data.get(5..) {
        let _ = tw_detect::proto::hello_info(hs, false);
        let _ = tw_detect::quic::handshake_sni(hs);
        let _ = tw_detect::quic::handshake_alpn(hs).count();
    }
}

/// Splits `data` into chunks each preceded by a 2-byte big-endian length
/// (a short last chunk takes what is left).
pub fn split_prefixed(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![];
    while data.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// QUIC Initial: datagrams (length-prefixed) into one ClientHello
/// assembler, the single-datagram convenience, and the CRYPTO frame
/// reader and reassembly fed directly (random bytes rarely decrypt).
pub fn quic(data: &[u8]) {
    use tw_detect::quic::{client_initial_sni, crypto_frames, ClientHelloAssembler};
    let _ = client_initial_sni(data);
    let mut a = ClientHelloAssembler::new();
    for d in split_prefixed(data) {
        let _ = a.push_datagram(d);
    }
    let _ = (a.sni(), a.alpn().count(), a.client_hello(), a.tls_record());
    let _ = (
        a.is_complete(),
        a.is_truncated(),
        a.is_invalid(),
        a.message_len(),
    );
    // The decrypted-payload side: frames, then reassembly of their data.
    let mut frames = crypto_frames(data);
    let mut b = ClientHelloAssembler::with_capacity(1024);
    for f in frames.by_ref() {
        let _ = b.push_crypto(f.offset, f.data);
    }
    let _ = frames.end();
    let _ = (b.sni(), b.alpn().count(), b.contiguous().len());
    let mut c = ClientHelloAssembler::new();
    for chunk in split_prefixed(data) {
        if let Some((off, d)) = chunk.split_first_chunk::<2>() {
            let _ = c.push_crypto(u64::from(u16::from_be_bytes(*off)), d);
        }
    }
    let _ = (c.sni(), c.client_hello(), c.tls_record());
}

/// HTTP block-page fingerprints: the input as an HTTP response looked up
/// in the shipped list, and as an OONI CSV list of its own (then matched
/// against itself). Also the DNS fingerprint list reader.
pub fn http_fingerprints(data: &[u8]) {
    use std::sync::OnceLock;
    use tw_detect::fingerprints::{DnsFingerprints, HttpFingerprints};
    static BUILTIN: OnceLock<Option<HttpFingerprints>> = OnceLock::new();
    let (head, body) = match data.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => (data, &[][..]),
    };
    let headers: Vec<(String, &[u8])> = head
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let i = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..i])
                .trim()
                .to_ascii_lowercase();
            let v = line[i + 1..].trim_ascii();
            Some((name, v))
        })
        .collect();
    let get = |h: &str| headers.iter().find(|(n, _)| n == h).map(|(_, v)| *v);
    if let Some(Some(f)) = Some(BUILTIN.get_or_init(|| HttpFingerprints::builtin().ok())) {
        if let Some(fp) = f.lookup(get, body) {
            let _ = (fp.false_positive(), fp.vague());
        }
    }
    let text = String::from_utf8_lossy(data);
    let mut own = HttpFingerprints::default();
    if own.add_ooni_csv("fuzz", &text).is_ok() {
        let _ = own.lookup(get, body);
        let _ = own.lookup(|_| Some(data), data);
    }
    let mut dns = DnsFingerprints::default();
    if dns.add_list("fuzz", &text).is_ok() {
        let _ = dns.lookup(std::net::IpAddr::from([198, 51, 100, 66]), 0);
    }
}

/// The small engine configuration the fuzzers and property tests use:
/// tables of a few slots, so that floods reach eviction quickly. Built once
/// (the default detector settings parse the built-in fingerprint lists).
pub fn small_engine_config() -> EngineConfig {
    static C: std::sync::OnceLock<EngineConfig> = std::sync::OnceLock::new();
    C.get_or_init(build_small_engine_config).clone()
}

fn build_small_engine_config() -> EngineConfig {
    EngineConfig {
        flows: FlowConfig {
            max_flows: 16,
            max_unconfirmed: 8,
            tcp_unconfirmed_timeout: 5 * SECOND,
            tcp_handshake_timeout: 3 * SECOND,
            tcp_established_timeout: 20 * SECOND,
            tcp_closing_timeout: 5 * SECOND,
            tcp_closed_linger: SECOND,
            udp_timeout: 4 * SECOND,
        },
        max_servers: 8,
        max_hello_buffers: 4,
        capture_loss_window: 2 * SECOND,
        detectors: DetectorsConfig::default(),
        local_addresses: Vec::new(),
    }
}

/// Runs frames (link type, timestamp, bytes) through a fresh engine with
/// the default detectors; asserts after every frame that the tracked flows
/// stay within the configured tables. Returns the events emitted.
pub fn engine_frames<'a>(
    cfg: &EngineConfig,
    frames: impl IntoIterator<Item = (u32, Nanos, &'a [u8])>,
) -> usize {
    let mut e = Engine::new(cfg.clone(), default_detectors(&cfg.detectors));
    let cap = cfg.flows.max_flows + cfg.flows.max_unconfirmed;
    let mut events = 0;
    for (i, (lt, ts, data)) in frames.into_iter().enumerate() {
        let wire = u32::try_from(data.len()).unwrap_or(u32::MAX);
        e.process_frame(lt, data, ts, wire);
        let n = e.flows_tracked();
        assert!(n <= cap, "{n} flows tracked, tables hold {cap}");
        if i % 64 == 63 {
            e.note_kernel_drops(i as u64);
        }
        e.drain_events(|ev| {
            let _ = ev.to_json_line();
            events += 1;
        });
    }
    if let Some(now) = e.now() {
        e.tick(now.saturating_add(3600 * SECOND));
    }
    e.finish();
    e.drain_events(|ev| {
        let _ = ev.to_json_line();
        events += 1;
    });
    assert!(e.flows_tracked() == 0, "flows left after finish");
    events
}

/// The whole engine over a frame sequence: byte 0 picks the link type,
/// then each frame is `[delta][len hi][len lo][bytes]`; `delta` moves the
/// packet clock (0: one second back, out of order; 255: 100 s forward;
/// otherwise that many times 10 ms forward).
pub fn engine(data: &[u8]) {
    engine_frames(&small_engine_config(), engine_input(data));
}

/// The frames (link type, time, bytes) of an `engine` input.
pub fn engine_input(data: &[u8]) -> Vec<(u32, Nanos, &[u8])> {
    let Some((&sel, mut rest)) = data.split_first() else {
        return vec![];
    };
    let lt = linktype_of(sel);
    let mut ts: Nanos = 1_700_000_000 * SECOND;
    let mut frames = vec![];
    while let Some((&[d, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        ts = match d {
            0 => ts - SECOND,
            255 => ts + 100 * SECOND,
            d => ts + i64::from(d) * 10 * MILLI,
        };
        let n = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        frames.push((lt, ts, &tail[..n]));
        rest = &tail[n..];
    }
    frames
}
