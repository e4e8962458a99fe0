//! `dns_injection` on the generated fixtures (one per rule and per trap,
//! see `tw_scenario::dns_scenarios`) and on the real captures of
//! `../shared/corpus` (skipped when absent).

mod common;
use common::*;
use serde_json::Value;

fn events(name: &str) -> (Vec<Value>, String) {
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
            &[("signature", "dns_injection")]
        ),
        Some(n),
        "{name}"
    );
    (r.events, r.metrics)
}

fn rules(e: &Value) -> Vec<&str> {
    e["evidence"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

/// (fixture, events, rules each event must have, real answer arrived)
const POSITIVES: &[(&str, usize, &[&str], bool)] = &[
    (
        "dns_inject_race_iran",
        1,
        &["race", "known_forged_answer"],
        true,
    ),
    (
        "dns_inject_race_gfw_pool",
        1,
        &["race", "forged_answer_pool"],
        true,
    ),
    ("dns_inject_inpath_iran", 2, &["known_forged_answer"], false),
    (
        "dns_inject_turkmenistan",
        1,
        &["known_forged_answer", "ip_id_marker"],
        false,
    ),
    (
        "dns_inject_bogon_fast",
        1,
        &["bogon_answer", "ttl_mismatch", "too_fast"],
        false,
    ),
    (
        "dns_inject_malformed",
        1,
        &["malformed_question", "ttl_mismatch", "edns_dropped"],
        false,
    ),
];

const TRAPS: &[&str] = &[
    "dns_trap_nxdomain",
    "dns_trap_duplicates",
    "dns_trap_local_zones",
    "dns_trap_route_change",
    "dns_trap_round_robin_cname",
    "dns_trap_truncated_tcp_retry",
    "dns_trap_loss",
    "dns_trap_id_reuse",
    "dns_trap_rotated_rrset",
    "udp_dns_clean",
];

#[test]
fn every_rule_fires_on_its_fixture() {
    for (name, n, want, real) in POSITIVES {
        let (ev, _) = events(name);
        assert_eq!(ev.len(), *n, "{name}: {ev:?}");
        for e in &ev {
            assert_eq!(e["signature"], "dns_injection");
            let got = rules(e);
            for w in *want {
                assert!(got.contains(w), "{name}: rule {w} missing from {got:?}");
            }
            assert_eq!(e["evidence"]["real_answer_arrived"], *real, "{name}");
            assert_eq!(e["flow"]["proto"], "udp");
            assert_eq!(e["flow"]["server_port"], 53);
            assert!(
                e["target"].as_str().unwrap().ends_with(".example"),
                "{name}"
            );
            assert!(e["evidence"]["query"]["name"].is_string());
            let c = e["confidence"].as_f64().unwrap();
            assert!((0.6..=0.99).contains(&c), "{name}: {c}");
        }
    }
}

#[test]
fn races_say_which_answer_is_forged() {
    for name in ["dns_inject_race_iran", "dns_inject_race_gfw_pool"] {
        let (ev, _) = events(name);
        let answers = ev[0]["evidence"]["answers"].as_array().unwrap();
        assert_eq!(answers.len(), 2);
        // the forged one arrived first and is marked; the resolver's is not
        assert_eq!(answers[0]["looks_forged"], true, "{name}");
        assert_eq!(answers[1]["looks_forged"], false, "{name}");
        assert_eq!(ev[0]["evidence"]["forged"]["which"], "first");
        assert!(
            answers[0]["after_query_ms"].as_f64().unwrap()
                < answers[1]["after_query_ms"].as_f64().unwrap()
        );
    }
    let (ev, _) = events("dns_inject_race_iran");
    assert_eq!(
        ev[0]["evidence"]["answers"][0]["addresses"][0],
        "10.10.34.34"
    );
    assert_eq!(ev[0]["evidence"]["fingerprint"]["name"], "tw.ir_1");
    assert_eq!(ev[0]["evidence"]["resolver"], "198.51.100.53");
    assert_eq!(ev[0]["evidence"]["baseline"]["ttl_usual"], 56);
}

#[test]
fn no_trap_raises_an_event() {
    for name in TRAPS {
        let (ev, _) = events(name);
        assert!(ev.is_empty(), "{name} raised {ev:?}");
    }
}

#[test]
fn dns_denominators() {
    let (_, m) = events("dns_trap_nxdomain");
    // (the warm-up's five queries, one of them a name asked again, and the
    // trap's two)
    assert_eq!(metric(&m, "tamperwatch_dns_queries_total", &[]), Some(7.0));
    assert_eq!(
        metric(
            &m,
            "tamperwatch_dns_answers_total",
            &[("rcode", "nxdomain")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            "tamperwatch_dns_answers_total",
            &[("rcode", "servfail")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "tamperwatch_dns_answers_total", &[("rcode", "noerror")]),
        Some(5.0)
    );
    let (_, m) = events("dns_trap_loss");
    assert_eq!(
        metric(&m, "tamperwatch_dns_unanswered_total", &[]),
        Some(1.0)
    );
    // the retransmitted query counts once; its two identical answers are both seen
    let (_, m) = events("dns_trap_duplicates");
    // (the warm-up's five queries, one of them a name asked again, and the
    // trap's two)
    assert_eq!(metric(&m, "tamperwatch_dns_queries_total", &[]), Some(7.0));
    assert_eq!(metric(&m, "tamperwatch_dns_answers_total", &[]), Some(9.0));
}

#[test]
fn shared_corpus_stays_clean() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    for rel in [
        "zeek/dns-two-responses.pcap",
        "censorlab/02_dns_injection/test.pcap",
        "quic-sni/dns_victim_client_anon.pcap",
        "quic-sni/dns_server_anon.pcap",
        "quic-sni/dns_attacker_client_anon.pcap",
    ] {
        let r = replay(&[corpus.join(rel)], &["--quiet"]);
        assert_eq!(r.status, 0);
        let dns: Vec<_> = r
            .events
            .iter()
            .filter(|e| e["signature"] == "dns_injection")
            .collect();
        assert!(dns.is_empty(), "{rel}: {dns:?}");
    }
    let r = replay(
        &[corpus.join("censorlab/02_dns_injection/test.pcap")],
        &["--quiet"],
    );
    assert_eq!(
        metric(&r.metrics, "tamperwatch_dns_queries_total", &[]),
        Some(100.0)
    );
}
