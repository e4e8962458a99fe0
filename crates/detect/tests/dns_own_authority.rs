//! A resolver at a public address answering names it is authoritative for
//! with private addresses (found by the fifth red-team review, session 20).
//!
//! A company's or university's resolver answers its internal names under
//! the organisation's public domain with private addresses and the AA flag
//! (unbound `local-data`, BIND as primary for the zone); a filtering
//! resolver answers its blocklist with 0.0.0.0, also with AA (unbound
//! `always_null`). Its recursed answers have AA clear, so `bogon_answer` +
//! `flags_unlike_resolver` made 0.7 events (3 per capture, recorded live
//! with unbound and BIND). Over the resolver's own path (its usual TTL),
//! AA is no longer held against such an answer; another path or a time
//! too short for the resolver still is.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use tw_scenario::dns::{qtype, rcode, DnsFlags, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::{DnsExchange, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RESOLVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);
/// The resolver's answers arrive with TTL 59, 5 ms after the query.
const TTL: u8 = 59;
const RTT: i64 = 5 * MS;

fn exchange(port: u16) -> DnsExchange {
    common::resolver(port, TTL)
}

/// Six public names asked twice (the second a cache hit), answered
/// recursively (AA clear). Returns the time after.
fn baseline(tl: &mut Timeline) -> i64 {
    let mut t = T0;
    for round in 0..2u16 {
        for i in 0..6u16 {
            let port = 42_000 + round * 10 + i;
            let name = format!("www{i}.example.com");
            t = exchange(port)
                .exchange(
                    tl,
                    t,
                    port,
                    &name,
                    qtype::A,
                    &[Rr::a(&name, 300, Ipv4Addr::new(198, 51, 100, 20 + i as u8))],
                    RTT,
                )
                .unwrap()
                + 200 * MS;
        }
    }
    t
}

/// `name` answered with `addr`, AA and RA set, `after` the query, with IP
/// TTL `ttl`.
fn authoritative(
    tl: &mut Timeline,
    port: u16,
    t: i64,
    name: &str,
    addr: Ipv4Addr,
    ttl: u8,
    after: i64,
) -> i64 {
    let mut x = exchange(port);
    let q = x.query(tl, t, port, name, qtype::A, true);
    x.inject_answer(
        tl,
        t + after,
        &q,
        rcode::NOERROR,
        &[Rr::a(name, 300, addr)],
        DnsFlags::AA | DnsFlags::RA,
        UdpOverride {
            ttl: Some(ttl),
            ..UdpOverride::default()
        },
    )
    .unwrap()
        + 200 * MS
}

fn dns_events(tl: Timeline) -> Vec<serde_json::Value> {
    let (_, ev) = common::replay(tl);
    ev.into_iter()
        .filter(|e| e["signature"] == "dns_injection")
        .collect()
}

/// Split horizon: internal names answered with private addresses, AA set,
/// over the resolver's path and in its time. (3 events before.)
#[test]
fn a_public_resolvers_own_internal_names_are_clean() {
    let mut tl = Timeline::new();
    let mut t = baseline(&mut tl);
    for (i, (name, a)) in [
        ("git.acme.example", [10, 1, 2, 3]),
        ("wiki.acme.example", [172, 16, 5, 5]),
        ("mail.acme.example", [10, 1, 2, 25]),
    ]
    .into_iter()
    .enumerate()
    {
        t = authoritative(&mut tl, 43_000 + i as u16, t, name, a.into(), TTL, RTT);
    }
    let ev = dns_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// A filtering resolver answering its blocklist itself: 0.0.0.0 with AA.
#[test]
fn a_filtering_resolvers_own_null_answers_are_clean() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl);
    let t = authoritative(
        &mut tl,
        43_000,
        t,
        "ads.example",
        Ipv4Addr::UNSPECIFIED,
        TTL,
        RTT,
    );
    authoritative(
        &mut tl,
        43_001,
        t,
        "cdn.tracker.example",
        Ipv4Addr::UNSPECIFIED,
        TTL,
        RTT,
    );
    let ev = dns_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// The same answer from another path (TTL 50: an injector nine hops
/// nearer), or over the resolver's TTL but in 0.3 ms (sooner than its
/// cache hits): reported.
#[test]
fn an_authoritative_private_answer_off_the_resolvers_path_or_time_is_reported() {
    for (ttl, after, rule) in [(50u8, RTT, "ttl_mismatch"), (TTL, 300_000, "too_fast")] {
        let mut tl = Timeline::new();
        let t = baseline(&mut tl);
        authoritative(
            &mut tl,
            43_000,
            t,
            "blocked.example",
            [10, 20, 30, 40].into(),
            ttl,
            after,
        );
        let ev = dns_events(tl);
        assert_eq!(ev.len(), 1, "TTL {ttl}, {after} ns: {ev:?}");
        let rules = ev[0]["evidence"]["rules"].to_string();
        assert!(
            rules.contains("bogon_answer") && rules.contains(rule),
            "{rules}"
        );
        assert_eq!(ev[0]["flow"]["server_ip"], IpAddr::V4(RESOLVER).to_string());
    }
}
