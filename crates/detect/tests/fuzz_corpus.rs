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

/// One engine seed is a captive portal's (a connectivity check and the
/// portal's answer): the engine target then fuzzes the link tracker's
/// verdicts on checks and answers, not only its parsers.
#[test]
fn an_engine_seed_meets_a_portal() {
    let portal = replay::inputs(DIR, "engine")
        .iter()
        .filter(|p| p.to_string_lossy().contains("/corpus/"))
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|d| {
            let cfg = targets::small_engine_config();
            let dets = tw_detect::detectors::default_detectors(&cfg.detectors);
            let mut e = tw_detect::Engine::new(cfg, dets);
            for (lt, ts, f) in targets::engine_input(d) {
                let wire = u32::try_from(f.len()).unwrap_or(u32::MAX);
                e.process_frame(lt, f, ts, wire);
            }
            e.link().captive.portal_checks > 0
        })
        .count();
    assert!(portal > 0, "no engine seed has a portal's answer");
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
