//! `http_injection` on the generated fixtures (`tw_scenario::http_scenarios`)
//! and on the real captures of `../shared/corpus` (skipped when absent).

mod common;
use common::*;
use serde_json::Value;

fn events(files: &[std::path::PathBuf]) -> Vec<Value> {
    let r = replay(files, &["--quiet"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let n = r
        .events
        .iter()
        .filter(|e| e["signature"] == "http_injection")
        .count() as f64;
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_events_total",
            &[("signature", "http_injection")]
        ),
        Some(n)
    );
    r.events
        .into_iter()
        .filter(|e| e["signature"] == "http_injection")
        .collect()
}

fn fixture(name: &str) -> Vec<Value> {
    events(&[root().join(format!("tests/fixtures/{name}.pcap"))])
}

fn rules(e: &Value) -> Vec<&str> {
    e["evidence"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

#[test]
fn every_rule_fires_on_its_fixture() {
    for (name, want) in [
        (
            "http_inject_iran_race",
            &["conflicting_responses", "block_page", "ttl_mismatch"][..],
        ),
        (
            "http_inject_sandvine_redirect",
            &["ip_id_marker", "df_mismatch", "closed_with_response"][..],
        ),
        (
            "http_inject_inpath_page",
            &["ttl_mismatch", "df_mismatch"][..],
        ),
    ] {
        let ev = fixture(name);
        assert_eq!(ev.len(), 1, "{name}: {ev:?}");
        let got = rules(&ev[0]);
        for w in want {
            assert!(got.contains(w), "{name}: {w} missing from {got:?}");
        }
        assert_eq!(ev[0]["evidence"]["origin"], "on_path");
        assert_eq!(ev[0]["target"], "blocked.example");
    }
    let ev = fixture("http_inject_iran_race");
    let e = &ev[0]["evidence"];
    assert_eq!(e["fingerprint"]["name"], "tw.ir_iframe");
    assert_eq!(e["request_line"], "GET / HTTP/1.1");
    assert_eq!(e["response"]["status"], 403);
    assert_eq!(e["other_response"]["status"], 200);
    assert!(e["response"]["body_excerpt"]
        .as_str()
        .unwrap()
        .contains("10.10.34.34"));
    let ev = fixture("http_inject_sandvine_redirect");
    assert_eq!(
        ev[0]["evidence"]["response"]["location"],
        "http://ads.example.net/static1.html"
    );
    // 0x3412 is out of the server's IP ID sequence too, but one IP ID is
    // one rule: the marker.
    assert!(!rules(&ev[0]).contains(&"ip_id_out_of_sequence"), "{ev:?}");
}

#[test]
fn server_pages_stay_clean() {
    for name in [
        "http_trap_server_pages",
        "http_trap_keepalive",
        "http_trap_syn_proxy",
        "http_trap_syn_proxy_short",
        "tcp_http_clean",
        "rst_inject_gfw_burst",
        "rst_trap_server_abort",
    ] {
        let ev = fixture(name);
        assert!(ev.is_empty(), "{name}: {ev:?}");
    }
    let r = replay(
        &[root().join("tests/fixtures/http_trap_server_pages.pcap")],
        &["--quiet"],
    );
    assert_eq!(
        metric(&r.metrics, "tamperwatch_http_requests_total", &[]),
        Some(3.0)
    );
}

/// With window scaling the SYN/ACK's window is in other units than the
/// response's: no `window_mismatch` from that, so a page from the server's
/// end stays `server_side` at its lower confidence.
#[test]
fn a_page_from_a_scaled_server_stays_server_side() {
    let ev = fixture("http_block_server_side_scaled");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["origin"], "server_side");
    assert!(!rules(&ev[0]).contains(&"window_mismatch"), "{ev:?}");
    assert!(rules(&ev[0]).contains(&"block_page"), "{ev:?}");
    assert!(ev[0]["confidence"].as_f64().unwrap() <= 0.6);
}

#[test]
fn shared_corpus_verdicts() {
    let Some(c) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    // Citizen Lab: two injected 307s (Sandvine IP ID 0x3412) on two flows.
    let ev = events(&[c.join("badtraffic/adhose-trickle-riseupvpn.pcap")]);
    assert_eq!(ev.len(), 2, "{ev:?}");
    for e in &ev {
        assert!(rules(e).contains(&"ip_id_marker"));
        assert_eq!(e["evidence"]["response"]["status"], 307);
        assert_eq!(e["evidence"]["origin"], "on_path");
    }
    // CenTrace bitcomet: a FortiGate page from a firewall at the server's end:
    // a block page, but not injected on the path, and the event says so.
    let ev = events(&[c.join("centrace/91.199.201.114_www.bitcomet.com_www.bitcomet.com.pcap")]);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["origin"], "server_side");
    assert_eq!(
        ev[0]["evidence"]["fingerprint"]["name"],
        "tw.fortiguard_appctrl"
    );
    assert!(ev[0]["confidence"].as_f64().unwrap() <= 0.6);
    // Controls and everything else stay clean.
    for rel in [
        "centrace/91.199.201.114_www.bitcomet.com_example.com.pcap",
        "centrace/188.65.24.82_www.nifty.org_www.nifty.org.pcap",
        "centrace/118.215.97.75_gawker.com_example.com.pcap",
        "centrace/185.236.34.4_store.steampowered.com_example.com.pcap",
        "censorlab/01_http_keyword/test.pcap",
        "suricata-verify/tcp-rst-unacked-stream-07-http/input.pcap",
        "suricata-verify/security-4710-01/input.pcap",
    ] {
        let ev = events(&[c.join(rel)]);
        assert!(ev.is_empty(), "{rel}: {ev:?}");
    }
}
