//! Clean look-alike traffic (`tw_scenario::lookalikes`, found by review) raises no event.

mod common;
use common::*;

#[test]
fn lookalikes_raise_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tw.toml");
    std::fs::write(
        &cfg,
        "[watch_list]\nvideo = [\"video.throttled.example\", \"news.example\"]\n",
    )
    .unwrap();
    for (name, f) in tw_scenario::lookalikes::lookalikes() {
        let p = dir.path().join(format!("{name}.pcap"));
        std::fs::write(&p, f().unwrap()).unwrap();
        let r = replay(&[p], &["--quiet", "--config", cfg.to_str().unwrap()]);
        assert_eq!(r.status, 0, "{name}: {}", r.stderr);
        assert!(r.events.is_empty(), "{name}: {:?}", r.events);
    }
}
