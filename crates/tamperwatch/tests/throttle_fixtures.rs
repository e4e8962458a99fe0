//! `throttling` on the generated fixtures (`tw_scenario::throttle_scenarios`,
//! regenerate with `cargo run -p tw-scenario -- write-all tests/fixtures`):
//! events, their evidence, the metrics (detections by group, goodput
//! histogram, estimated limit), and identical events with 1 and 2 workers.

mod common;
use common::*;
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    root().join(format!("tests/fixtures/{name}.pcap"))
}

/// A config whose watch list puts the throttled test names in group `video`.
fn config() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tw.toml");
    std::fs::write(
        &p,
        "[watch_list]\nvideo = [\"video.throttled.example\", \"news.example\"]\n",
    )
    .unwrap();
    (dir, p)
}

fn throttling(name: &str, workers: &str) -> (Vec<Value>, String) {
    let (_d, cfg) = config();
    let r = replay(
        &[fixture(name)],
        &[
            "--quiet",
            "--workers",
            workers,
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status, 0, "{name}: {}", r.stderr);
    let ev: Vec<Value> = r
        .events
        .into_iter()
        .filter(|e| e["signature"] == "throttling")
        .collect();
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_events_total",
            &[("signature", "throttling")]
        ),
        Some(ev.len() as f64),
        "{name}"
    );
    (ev, r.metrics)
}

#[test]
fn detections_with_their_evidence_and_metrics() {
    for (name, mode, rule) in [
        ("thr_policed_targeted", "policer", "targeted"),
        ("thr_policed_same_server", "policer", "targeted"),
        ("thr_shaped_targeted", "shaper", "targeted"),
        ("thr_history_drop", "policer", "history"),
    ] {
        let (ev, m) = throttling(name, "1");
        assert_eq!(ev.len(), 1, "{name}: {ev:?}");
        let e = &ev[0];
        assert_eq!(e["evidence"]["mode"], mode, "{name}");
        assert_eq!(e["evidence"]["rule"], rule, "{name}");
        assert_eq!(e["evidence"]["watch_group"], "video", "{name}");
        let limit = e["evidence"]["limit_bps"].as_f64().unwrap();
        assert!(limit > 0.0);
        // counted for the group, with the group's estimated limit
        assert_eq!(
            metric(
                &m,
                "tamperwatch_detections_total",
                &[("signature", "throttling"), ("group", "video")]
            ),
            Some(1.0),
            "{name}"
        );
        assert_eq!(
            metric(
                &m,
                "tamperwatch_throttling_limit_bytes_per_second",
                &[("group", "video")]
            ),
            Some((limit.round() as u64 / 8) as f64),
            "{name}"
        );
        // every measured download is one goodput observation, by group
        let video = metric(
            &m,
            "tamperwatch_goodput_bytes_per_second_count",
            &[("group", "video")],
        )
        .unwrap();
        let other = metric(
            &m,
            "tamperwatch_goodput_bytes_per_second_count",
            &[("group", "other")],
        )
        .unwrap();
        let flows = metric(&m, "tamperwatch_flows_started_total", &[("proto", "tcp")]).unwrap();
        assert_eq!(video + other, flows, "{name}");
        assert!(video >= 1.0);
        // and one judged download (the denominator), by group: the fixtures'
        // downloads all ended, so as many as goodput observations
        for (group, n) in [("video", video), ("other", other)] {
            assert_eq!(
                metric(
                    &m,
                    "tamperwatch_downloads_judged_total",
                    &[("group", group)]
                ),
                Some(n),
                "{name}: {group}"
            );
        }
        // the throttled flow's goodput lands in a low bucket
        assert!(
            metric(
                &m,
                "tamperwatch_goodput_bytes_per_second_bucket",
                &[("group", "video"), ("le", "64000")]
            )
            .unwrap()
                >= 1.0
        );
    }
}

#[test]
fn look_alikes_stay_clean() {
    for name in [
        "thr_trap_slow_link",
        "thr_trap_random_loss",
        "thr_trap_short",
        "thr_trap_app_limited",
        "thr_trap_receive_window",
        "thr_trap_congestion",
        "thr_trap_reordering",
    ] {
        let (ev, m) = throttling(name, "1");
        assert!(ev.is_empty(), "{name}: {ev:?}");
        assert_eq!(
            metric(
                &m,
                "tamperwatch_throttling_limit_bytes_per_second",
                &[("group", "video")]
            ),
            Some(0.0)
        );
    }
}

#[test]
fn one_and_two_workers_emit_the_same_events() {
    let names = [
        "thr_policed_targeted",
        "thr_policed_same_server",
        "thr_shaped_targeted",
        "thr_history_drop",
        "thr_trap_random_loss",
    ];
    for name in names {
        let strip = |v: Vec<Value>| {
            let mut l: Vec<String> = v.iter().map(|e| e.to_string()).collect();
            l.sort();
            l
        };
        let (one, _) = throttling(name, "1");
        let (two, _) = throttling(name, "2");
        assert_eq!(strip(one), strip(two), "{name}");
    }
}
