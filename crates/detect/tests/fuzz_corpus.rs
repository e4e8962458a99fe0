//! Replays the fuzz seed corpus and every crash the fuzzers found
//! (`fuzz/corpus/<target>/`, `fuzz/artifacts/<target>/`) through the same
//! target bodies the cargo-fuzz targets run (`fuzz/src/detect.rs`), on
//! stable. See docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../../../fuzz/src/detect.rs"]
mod targets;

#[allow(dead_code)]
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn decode_corpus() {
    assert!(replay::replay(DIR, "decode", targets::decode_frame) > 0);
}

#[test]
fn dns_corpus() {
    assert!(replay::replay(DIR, "dns", targets::dns) > 0);
}

#[test]
fn tls_corpus() {
    assert!(replay::replay(DIR, "tls", targets::tls) > 0);
}

#[test]
fn quic_corpus() {
    assert!(replay::replay(DIR, "quic", targets::quic) > 0);
}

#[test]
fn http_fingerprints_corpus() {
    assert!(replay::replay(DIR, "http_fingerprints", targets::http_fingerprints) > 0);
}

#[test]
fn engine_corpus() {
    assert!(replay::replay(DIR, "engine", targets::engine) > 0);
}

/// The QUIC seeds are real Initials: they must decrypt and name a server,
/// or the quic target only ever fuzzes the header checks.
#[test]
fn quic_seeds_decrypt() {
    let named = replay::inputs(DIR, "quic")
        .iter()
        .filter(|p| p.to_string_lossy().contains("/corpus/"))
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|d| tw_detect::quic::client_initial_sni(d).is_some())
        .count();
    assert!(named > 0, "no QUIC seed decrypts");
}
