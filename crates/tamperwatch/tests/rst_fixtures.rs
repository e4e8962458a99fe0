//! `rst_injection` on the generated fixtures (one per rule and per trap,
//! see `tw_scenario::rst_scenarios`) and on the real captures of
//! `../shared/corpus` (skipped when absent).

mod common;
use common::*;
use serde_json::Value;

fn events(name: &str) -> Vec<Value> {
    let r = replay(
        &[root().join(format!("tests/fixtures/{name}.pcap"))],
        &["--quiet"],
    );
    assert_eq!(r.status, 0, "{name}: {}", r.stderr);
    let n = r.events.len() as f64;
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_events_total",
            &[("signature", "rst_injection")]
        ),
        Some(n),
        "{name}"
    );
    assert_eq!(
        metric(&r.metrics, "tamperwatch_rst_injections_total", &[]),
        Some(n),
        "{name}"
    );
    r.events
}

fn rules(e: &Value) -> Vec<&str> {
    e["evidence"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

/// (fixture, rules that must be among the event's rules, stage, fingerprint)
const POSITIVES: &[(&str, &[&str], &str, Option<&str>)] = &[
    (
        "rst_inject_data_after",
        &["data_after_rst", "ttl_mismatch", "too_fast"],
        "after_request",
        None,
    ),
    (
        "rst_inject_gfw_burst",
        &["rst_seq_burst", "ttl_mismatch"],
        "after_request",
        Some("gfw_type2"),
    ),
    (
        "rst_inject_same_seq_burst",
        &["rst_seq_burst"],
        "after_request",
        Some("gfw_2025_port443"),
    ),
    (
        "rst_inject_inpath",
        &["ttl_mismatch", "too_fast", "no_server_data"],
        "after_request",
        None,
    ),
    (
        "rst_inject_copied_ip_id",
        &["ttl_mismatch", "ip_id_copied", "reserved_bits"],
        "after_request",
        None,
    ),
    (
        "rst_inject_after_syn",
        &["ttl_mismatch", "ip_id_copied", "too_fast"],
        "after_syn",
        None,
    ),
    (
        "rst_inject_sandvine",
        &["ttl_mismatch", "ip_id_marker"],
        "after_request",
        Some("sandvine"),
    ),
    (
        "rst_inject_henan",
        &["data_after_rst", "ttl_mismatch"],
        "after_request",
        Some("henan"),
    ),
    (
        "rst_inject_mid_stream",
        &["data_after_rst", "ttl_mismatch"],
        "later",
        None,
    ),
    (
        "rst_inject_seq_behind",
        &["rst_seq_behind", "ttl_mismatch"],
        "later",
        None,
    ),
    // IPv6, no ACK: no IPv4-only fingerprint (gfw_type1 is IP ID 0, no DF)
    (
        "rst_inject_v6_no_ack",
        &["data_after_rst", "ttl_mismatch", "too_fast"],
        "after_request",
        None,
    ),
];

const TRAPS: &[&str] = &[
    "rst_trap_server_abort",
    "rst_trap_server_abort_late_ack",
    "rst_trap_server_abort_no_data",
    "rst_trap_client_abort",
    "rst_trap_after_fin",
    "rst_trap_lone_and_duplicates",
    "rst_trap_loss",
    "rst_trap_route_change",
    "rst_trap_load_balanced",
    "rst_trap_idle_timeout",
    "rst_trap_refused",
    "rst_trap_server_closes",
    "rst_trap_syn_retry_after_refusal",
    "rst_trap_nat_idle_reset",
    "tcp_rst_by_server_abort",
    "tcp_refused",
];

#[test]
fn every_rule_fires_on_its_fixture() {
    for (name, want, stage, fp) in POSITIVES {
        let ev = events(name);
        assert_eq!(ev.len(), 1, "{name}: {ev:?}");
        let e = &ev[0];
        assert_eq!(e["signature"], "rst_injection");
        let got = rules(e);
        for w in *want {
            assert!(got.contains(w), "{name}: rule {w} missing from {got:?}");
        }
        assert_eq!(e["evidence"]["stage"], *stage, "{name}");
        assert_eq!(e["evidence"]["fingerprint"].as_str(), *fp, "{name}");
        let c = e["confidence"].as_f64().unwrap();
        assert!((0.6..=0.99).contains(&c), "{name}: confidence {c}");
        // Every event names the RST's headers and, when known, the trigger.
        assert!(e["evidence"]["rst"]["ttl"].is_u64(), "{name}");
        if *stage != "after_syn" {
            assert_eq!(e["target"], "blocked.example", "{name}");
        }
    }
}

/// A RST that carries payload at the server's next sequence number (Henan's
/// 10-byte marker) is not "behind" the server's data: the server's position
/// is taken from before the RST, not after the RST's own bytes moved it.
#[test]
fn a_rst_with_payload_is_not_behind_itself() {
    let ev = events("rst_inject_henan");
    let e = &ev[0]["evidence"];
    assert_eq!(e["rst"]["payload_len"], 10);
    assert!(!rules(&ev[0]).contains(&"rst_seq_behind"), "{e}");
    assert!(e.get("server_next_seq").is_none(), "{e}");
}

/// IPv6 has no IP ID and no DF: the evidence says so (null), it does not
/// report IPv4 defaults.
#[test]
fn ipv6_evidence_has_no_ipv4_fields() {
    let ev = events("rst_inject_v6_no_ack");
    let e = &ev[0]["evidence"];
    assert!(e["rst"]["ip_id"].is_null(), "{e}");
    assert!(e["rst"]["df"].is_null(), "{e}");
    assert!(e["fingerprint"].is_null(), "{e}");
}

#[test]
fn no_trap_raises_an_event() {
    for name in TRAPS {
        let ev = events(name);
        assert!(ev.is_empty(), "{name} raised {ev:?}");
    }
}

#[test]
fn a_two_segment_client_hello_is_reassembled() {
    let ev = events("rst_inject_large_hello");
    let h = &ev[0]["evidence"]["client_hello"];
    assert_eq!(h["alpn"], "h2");
    let ja4 = h["ja4"].as_str().unwrap();
    // TLS 1.3 over TCP, SNI present, ALPN h2 (JA4 layout)
    assert!(
        ja4.starts_with("t13d") && ja4[6..].starts_with("12h2_") || ja4.contains("h2_"),
        "{ja4}"
    );
    assert_eq!(ja4.len(), 36, "{ja4}");
}

#[test]
fn ttl_evidence_says_by_how_much() {
    let ev = events("rst_inject_data_after");
    let e = &ev[0]["evidence"];
    assert_eq!(e["ttl_server"], 52);
    assert_eq!(e["ttl_rst"], 40);
    assert_eq!(e["ttl_difference"], 12);
    assert_eq!(e["after_rst"]["kind"], "data");
}

#[test]
fn shared_corpus_verdicts() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let run = |rel: &str| {
        let r = replay(&[corpus.join(rel)], &["--quiet"]);
        assert_eq!(r.status, 0, "{rel}: {}", r.stderr);
        r.events
            .into_iter()
            .filter(|e| e["signature"] == "rst_injection")
            .collect::<Vec<_>>()
    };
    // Published injections.
    for (rel, target) in [
        ("zeek/rst-inject-rae.pcap", None),
        (
            "centrace/188.65.24.82_www.nifty.org_www.nifty.org.pcap",
            Some("www.nifty.org"),
        ),
        (
            "centrace/195.46.232.198_minecraft.net_minecraft.net.pcap",
            Some("minecraft.net"),
        ),
    ] {
        let ev = run(rel);
        assert_eq!(ev.len(), 1, "{rel}: {ev:?}");
        assert!(rules(&ev[0]).contains(&"ttl_mismatch"), "{rel}: {ev:?}");
        if let Some(t) = target {
            assert_eq!(ev[0]["target"], t);
        }
    }
    let rae = run("zeek/rst-inject-rae.pcap");
    assert!(rules(&rae[0]).contains(&"data_after_rst") && rules(&rae[0]).contains(&"ip_id_copied"));
    assert_eq!(rae[0]["evidence"]["stage"], "after_syn");
    // Controls and look-alikes.
    for rel in [
        "centrace/188.65.24.82_www.nifty.org_example.com.pcap",
        "centrace/195.46.232.198_minecraft.net_example.com.pcap",
        "centrace/116.202.120.183_bridges.torproject.org_example.com_0.pcap",
        "centrace/85.209.148.79_bridges.torproject.org_bridges.torproject.org.pcap",
        "centrace/85.209.148.79_bridges.torproject.org_example.com.pcap",
        "centrace/95.167.150.101_sohu.com_sohu.com.pcap",
        "centrace/95.167.150.101_sohu.com_example.com.pcap",
        "centrace/104.16.7.6_notion.site_notion.site.pcap",
        "centrace/104.16.7.6_notion.site_example.com.pcap",
        "zeek/single-rst.pcap",
        "zeek/syn-then-rst.pcap",
        "zeek/syn-then-ack-then-rst.pcap",
        "zeek/syn-then-stuff-then-rst.pcap",
        "suricata-verify/security-4710-01/input.pcap",
        "suricata-verify/security-4710-02/input.pcap",
        "suricata-verify/bug-3286-01-no-evasion/without_evasion.pcap",
        "suricata-verify/bug-3286-02-linux-evasion/with_evasion_linux.pcap",
        "suricata-verify/bug-3286-03-windows-evasion/with_evasion_windows.pcap",
        "suricata-verify/bug-5881-01/input.pcap",
        "suricata-verify/bug-6244-tcp-rst-with-data/tcp-rst-with-data.pcap",
        "suricata-verify/bug-6244-tcp-rst-with-data-02/tcp-rst-with-data.pcap",
        "suricata-verify/tcp-rst-unacked-stream-01-raw/input.pcap",
        "suricata-verify/tcp-rst-unacked-stream-03-gap/input.pcap",
        "suricata-verify/tcp-rst-unacked-stream-07-http/input.pcap",
        "suricata-verify/tcp-rst-unacked-stream-09/TLPW1-tcp-110.37.219.134-10.12.14.101-tcp-990-49230.pcap",
        "suricata-verify/tcp-rst-unacked-stream-10/TLPW1-tcp-174.56.47.59-10.3.11.101-tcp-80-49309.pcap",
        "suricata-verify/tcp-rst-unacked-stream-11/TLPW1-tcp-47.32.209.86-10.11.23.101-tcp-80-49470.pcap",
        "suricata-verify/tcp-rst-unacked-stream-12/TLPW1-tcp-110.37.219.134-10.12.14.101-tcp-990-49254.pcap",
    ] {
        let ev = run(rel);
        assert!(ev.is_empty(), "{rel} raised {ev:?}");
    }
}
