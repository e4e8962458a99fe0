//! What the scenario tests share: a timeline through an engine.

use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::{linktype, Timeline};

/// Replays `tl` (in time order, as Ethernet frames) through an engine with
/// the detectors of `cfg`, to its end: the engine (for its counters) and
/// the events as JSON (each also printed, for a failing test's output).
pub fn replay_with(tl: Timeline, cfg: &DetectorsConfig) -> (Engine, Vec<serde_json::Value>) {
    let mut engine = Engine::new(EngineConfig::default(), default_detectors(cfg));
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    let mut f = Vec::new();
    for e in &entries {
        e.frame_into(&mut f, linktype::ETHERNET).unwrap();
        engine.process_frame(linktype::ETHERNET, &f, e.ts_ns, f.len() as u32);
    }
    engine.finish();
    let mut out = vec![];
    engine.drain_events(|e| {
        let v = serde_json::to_value(&e).unwrap();
        eprintln!("event: {v}");
        out.push(v);
    });
    (engine, out)
}

/// [`replay_with`] the default detectors.
pub fn replay(tl: Timeline) -> (Engine, Vec<serde_json::Value>) {
    replay_with(tl, &DetectorsConfig::default())
}

/// The events of one signature from [`replay`].
#[allow(dead_code)]
pub fn events_of(tl: Timeline, signature: &str) -> Vec<serde_json::Value> {
    replay(tl)
        .1
        .into_iter()
        .filter(|e| e["signature"] == signature)
        .collect()
}
