//! The committed fixtures in `tests/fixtures/` (written by `tw-scenario
//! write-all tests/fixtures`): they must match the generator byte for byte,
//! and replaying each must give the packet and flow counts the scenario
//! declares, and the expected flow outcomes.

mod common;
use common::*;
use tw_scenario::catalogue::catalogue;

#[test]
fn committed_fixtures_match_the_generator() {
    let dir = root().join("tests/fixtures");
    for s in catalogue() {
        let committed = std::fs::read(dir.join(format!("{}.pcap", s.name))).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with `cargo run -p tw-scenario -- write-all tests/fixtures`",
                s.name
            )
        });
        let fresh = (s.generate)().unwrap();
        assert!(
            committed == fresh,
            "{} is stale: regenerate with `cargo run -p tw-scenario -- write-all tests/fixtures`",
            s.name
        );
    }
}

#[test]
fn fixtures_replay_to_their_declared_counts() {
    let dir = root().join("tests/fixtures");
    for s in catalogue() {
        let f = dir.join(format!("{}.pcap", s.name));
        let r = replay(std::slice::from_ref(&f), &["--quiet"]);
        assert_eq!(r.status, 0, "{}: {}", s.name, r.stderr);
        let m = |n: &str, l: &[(&str, &str)]| metric(&r.metrics, n, l).unwrap_or(-1.0);
        assert_eq!(
            m("tamperwatch_packets_total", &[]) as usize,
            s.expected.packets,
            "{} packets",
            s.name
        );
        // mixed_small's only datagram of one UDP flow is an IP-fragmented
        // answer: fragments are counted (as decode errors), not tracked.
        let (udp, fragments) = if s.name == "mixed_small" {
            (s.expected.udp_flows - 1, 2.0)
        } else {
            (s.expected.udp_flows, 0.0)
        };
        // A lone RST and backscatter (a SYN/ACK and RST for a SYN never
        // seen) are flows to the generator but are never tracked.
        // A port reused at once after a close, and a connection idle past
        // the established timeout and then picked up again, are one 4-tuple
        // to the generator and two flows here.
        let tcp = if s.name == "rst_trap_lone_and_duplicates" {
            s.expected.tcp_flows - 2
        } else if s.name == "rst_trap_server_closes" || s.name == "rst_trap_nat_idle_reset" {
            s.expected.tcp_flows + 1
        } else {
            s.expected.tcp_flows
        };
        assert_eq!(
            m("tamperwatch_flows_started_total", &[("proto", "tcp")]) as usize,
            tcp,
            "{} tcp flows",
            s.name
        );
        assert_eq!(
            m("tamperwatch_flows_started_total", &[("proto", "udp")]) as usize,
            udp,
            "{} udp flows",
            s.name
        );
        assert_eq!(
            m("tamperwatch_decode_errors_total", &[("reason", "fragment")]),
            fragments,
            "{}",
            s.name
        );
        assert_eq!(
            m("tamperwatch_decode_errors_total", &[]),
            fragments,
            "{}: {}",
            s.name,
            r.metrics
        );
        // (http_block_: a block page from the server's end, an event too;
        // captive_: a real block after the portal's period, checked in
        // captive_fixtures.rs)
        let positive = [
            "rst_inject_",
            "dns_inject_",
            "http_inject_",
            "http_block_",
            "captive_",
        ]
        .iter()
        .any(|p| s.name.starts_with(p))
            || (s.name.starts_with("bh_") && !s.name.starts_with("bh_trap_"))
            || (s.name.starts_with("thr_") && !s.name.starts_with("thr_trap_"));
        if !positive {
            assert!(
                r.events.is_empty(),
                "{}: clean scenarios raise no events: {:?}",
                s.name,
                r.events
            );
        }
    }
}

#[test]
fn fixture_outcomes() {
    let dir = root().join("tests/fixtures");
    let outcome = |name: &str, proto: &str, outcome: &str| {
        let r = replay(&[dir.join(format!("{name}.pcap"))], &["--quiet"]);
        metric(
            &r.metrics,
            "tamperwatch_flows_finished_total",
            &[("proto", proto), ("outcome", outcome)],
        )
        .unwrap()
    };
    assert_eq!(outcome("tcp_http_clean", "tcp", "closed"), 1.0);
    assert_eq!(outcome("tcp_tls_clean", "tcp", "closed"), 1.0);
    assert_eq!(
        outcome("tcp_rst_by_server_abort", "tcp", "reset_by_server"),
        1.0
    );
    assert_eq!(outcome("tcp_refused", "tcp", "refused"), 1.0);
    // the capture ends before the SYN timeout: the flow is still open
    assert_eq!(outcome("tcp_syn_unanswered", "tcp", "unfinished"), 1.0);
    assert_eq!(outcome("udp_dns_clean", "udp", "answered"), 3.0);
}

#[test]
fn all_fixtures_together_with_two_workers() {
    let dir = root().join("tests/fixtures");
    let files: Vec<_> = catalogue()
        .iter()
        .map(|s| dir.join(format!("{}.pcap", s.name)))
        .collect();
    let one = replay(&files, &["--quiet", "--workers", "1"]);
    let two = replay(&files, &["--quiet", "--workers", "2"]);
    let total: usize = catalogue().iter().map(|s| s.expected.packets).sum();
    assert_eq!(
        metric(&one.metrics, "tamperwatch_packets_total", &[]),
        Some(total as f64)
    );
    assert_eq!(metric(&one.metrics, "tamperwatch_workers", &[]), Some(1.0));
    assert_eq!(metric(&two.metrics, "tamperwatch_workers", &[]), Some(2.0));
    for n in [
        "tamperwatch_packets_total",
        "tamperwatch_bytes_total",
        "tamperwatch_flows_started_total",
        "tamperwatch_flows_finished_total",
    ] {
        assert_eq!(
            metric(&one.metrics, n, &[]),
            metric(&two.metrics, n, &[]),
            "{n}"
        );
    }
}

/// Every fixture gives the same events (sorted JSON lines) with 1, 2 and 3
/// workers (each worker thread reads the file and keeps its shard). Files are replayed one at a time: each is one capture with
/// its own clock (fixtures replayed together overlap in time, which no live
/// capture does).
#[test]
fn every_fixture_gives_the_same_events_with_1_2_and_3_workers() {
    let dir = root().join("tests/fixtures");
    let mut events = 0;
    for s in catalogue() {
        let f = dir.join(format!("{}.pcap", s.name));
        let run = |n: &str| {
            let r = replay(std::slice::from_ref(&f), &["--quiet", "--workers", n]);
            assert_eq!(r.status, 0, "{}: {}", s.name, r.stderr);
            let mut v: Vec<String> = r.events.iter().map(|e| e.to_string()).collect();
            v.sort();
            v
        };
        let one = run("1");
        assert_eq!(one, run("2"), "{}: 1 and 2 workers", s.name);
        assert_eq!(one, run("3"), "{}: 1 and 3 workers", s.name);
        events += one.len();
    }
    assert!(events >= 30, "only {events} events over the fixtures");
}
