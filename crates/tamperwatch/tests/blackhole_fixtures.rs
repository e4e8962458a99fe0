//! `blackhole` on the generated fixtures (`tw_scenario::blackhole_scenarios`)
//! and on the shared corpus (skipped when absent).

mod common;
use common::*;
use serde_json::Value;

fn events(name: &str) -> (Vec<Value>, String) {
    let r = replay(
        &[root().join(format!("tests/fixtures/{name}.pcap"))],
        &["--quiet"],
    );
    assert_eq!(r.status, 0, "{name}: {}", r.stderr);
    let bh: Vec<Value> = r
        .events
        .into_iter()
        .filter(|e| e["signature"] == "blackhole")
        .collect();
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_events_total",
            &[("signature", "blackhole")]
        ),
        Some(bh.len() as f64)
    );
    assert_eq!(
        metric(&r.metrics, "tamperwatch_blackholes_total", &[]),
        Some(bh.len() as f64)
    );
    (bh, r.metrics)
}

#[test]
fn every_stage_fires_with_its_contrast() {
    for (name, stage, rule, contrast, residual) in [
        (
            "bh_tls_retransmitted",
            "tls_clienthello",
            "request_retransmitted",
            "server_completed_handshake",
            false,
        ),
        (
            "bh_http_unacknowledged",
            "http_request",
            "request_unacknowledged",
            "server_completed_handshake",
            false,
        ),
        (
            "bh_serverhello_dropped",
            "tls_clienthello",
            "acknowledged_never_answered",
            "server_completed_handshake",
            false,
        ),
        (
            "bh_residual_after_rst",
            "syn",
            "syn_unanswered",
            "residual",
            true,
        ),
        (
            "bh_syn_port_blocked",
            "syn",
            "syn_unanswered",
            "same_server_other_port",
            false,
        ),
        (
            "bh_quic_blocked",
            "quic_initial",
            "initials_unanswered",
            "tcp443_same_server",
            false,
        ),
    ] {
        let (ev, m) = events(name);
        assert_eq!(ev.len(), 1, "{name}: {ev:?}");
        let e = &ev[0]["evidence"];
        assert_eq!(e["stage"], stage, "{name}");
        assert!(
            e["rules"].as_array().unwrap().iter().any(|r| r == rule),
            "{name}: {e}"
        );
        assert!(
            e["contrast"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == contrast),
            "{name}: {e}"
        );
        assert_eq!(e["residual"], residual, "{name}");
        assert_eq!(
            metric(&m, "tamperwatch_blackholes_total", &[("stage", stage)]),
            Some(1.0),
            "{name}"
        );
    }
    // QUIC to a server never seen answering QUIC: it may not speak it (a
    // stale Alt-Svc), so the event says so and claims less
    let (ev, _) = events("bh_quic_blocked");
    assert_eq!(ev[0]["evidence"]["server_answered_quic"], false);
    assert_eq!(ev[0]["confidence"].as_f64(), Some(0.6));
    // residual blocking that ends: its length is measured
    let (ev, m) = events("bh_residual_ends");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["evidence"]["residual"], true);
    assert_eq!(
        metric(&m, "tamperwatch_residual_block_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "tamperwatch_residual_block_seconds_sum", &[]),
        Some(100.0)
    );
    assert_eq!(
        metric(
            &m,
            "tamperwatch_residual_block_seconds_bucket",
            &[("le", "90")]
        ),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &m,
            "tamperwatch_residual_block_seconds_bucket",
            &[("le", "120")]
        ),
        Some(1.0)
    );
    let (_, m) = events("bh_residual_after_rst");
    assert_eq!(
        metric(&m, "tamperwatch_residual_block_seconds_count", &[]),
        Some(0.0)
    );
    let (ev, _) = events("bh_tls_retransmitted");
    assert_eq!(ev[0]["target"], "blocked.example");
    assert_eq!(ev[0]["evidence"]["request_retransmissions"], 3);
}

/// Russia's TSPU freezing connections after the first 16-20 KB
/// (`bh_transfer_frozen`): the two frozen attempts, each outlived by the
/// server, the second stronger.
#[test]
fn a_transfer_frozen_in_mid_flight_is_reported() {
    let (mut ev, m) = events("bh_transfer_frozen");
    ev.sort_by_key(|e| e["flow"]["client_port"].as_u64());
    assert_eq!(ev.len(), 2, "{ev:?}");
    for (e, confidence) in ev.iter().zip([0.6, 0.8]) {
        assert_eq!(e["evidence"]["stage"], "transfer", "{e}");
        assert_eq!(e["evidence"]["rules"][0], "transfer_frozen", "{e}");
        assert_eq!(e["evidence"]["server_bytes_before_freeze"], 17376, "{e}");
        assert_eq!(e["confidence"].as_f64(), Some(confidence), "{e}");
        assert_eq!(e["target"], "frozen.example");
    }
    assert_eq!(
        metric(&m, "tamperwatch_blackholes_total", &[("stage", "transfer")]),
        Some(2.0)
    );
}

#[test]
fn traps_stay_clean() {
    for name in [
        "bh_trap_transfer_stalls",
        "bh_trap_server_down",
        "bh_trap_loss_recovered",
        "bh_trap_loss_acked_late",
        "bh_trap_pmtu",
        "bh_trap_impatient_and_icmp",
        "bh_trap_quic_no_contrast",
        "bh_trap_answered_then_client_reset",
        "tcp_syn_unanswered",
        "tcp_http_clean",
        "rst_trap_client_abort",
    ] {
        let (ev, _) = events(name);
        assert!(ev.is_empty(), "{name}: {ev:?}");
    }
    let (_, m) = events("bh_trap_quic_no_contrast");
    assert_eq!(
        metric(&m, "tamperwatch_quic_attempts_total", &[]),
        Some(1.0)
    );
    let (_, m) = events("bh_trap_pmtu");
    assert_eq!(
        metric(&m, "tamperwatch_tls_client_hellos_total", &[]),
        Some(1.0)
    );
}

#[test]
fn shared_corpus_stays_clean() {
    let Some(c) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    // CenTrace steampowered: the last probe's request goes out at full TTL
    // after a normal handshake, and the server falls silent: a drop. Nothing
    // else on the link answered between that request and the flow's end, so
    // the capture cannot tell it from the link going dark just then: 0.6
    // (since session 16; it was 0.7), with no link contrast.
    let r = replay(
        &[c.join("centrace/185.236.34.4_store.steampowered.com_store.steampowered.com.pcap")],
        &["--quiet"],
    );
    let bh: Vec<_> = r
        .events
        .iter()
        .filter(|e| e["signature"] == "blackhole")
        .collect();
    assert_eq!(bh.len(), 1, "{bh:?}");
    assert_eq!(bh[0]["evidence"]["stage"], "http_request");
    assert_eq!(bh[0]["evidence"]["rules"][0], "server_silent_after_request");
    assert_eq!(bh[0]["target"], "store.steampowered.com");
    assert_eq!(bh[0]["confidence"], 0.6);
    assert_eq!(
        bh[0]["evidence"]["contrast"],
        serde_json::json!(["server_completed_handshake"])
    );
    // CenTrace's other requests are TTL-limited probes, never judged; the
    // controls get answers; QUIC captures without any server answer have no
    // contrast.
    for rel in [
        "centrace/185.236.34.4_store.steampowered.com_example.com.pcap",
        "centrace/118.215.97.75_gawker.com_gawker.com.pcap",
        "centrace/118.215.97.75_gawker.com_example.com.pcap",
        "centrace/85.209.148.79_bridges.torproject.org_example.com.pcap",
        "centrace/95.167.150.101_sohu.com_sohu.com.pcap",
        "quic-sni/quic_victim_client_anon.pcap",
    ] {
        let r = replay(&[c.join(rel)], &["--quiet"]);
        let bh: Vec<_> = r
            .events
            .iter()
            .filter(|e| e["signature"] == "blackhole")
            .collect();
        assert!(bh.is_empty(), "{rel}: {bh:?}");
    }
    // the victim's 42 QUIC attempts are counted, and their SNI is read
    let r = replay(
        &[c.join("quic-sni/quic_victim_client_anon.pcap")],
        &["--quiet"],
    );
    assert_eq!(
        metric(&r.metrics, "tamperwatch_quic_attempts_total", &[]),
        Some(42.0)
    );
}
