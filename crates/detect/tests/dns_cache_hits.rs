//! `too_fast` is judged against a resolver's cache hits, not its fastest
//! answer of all (found in review, session 19).
//!
//! A caching resolver answers a name it holds at the round trip to it, and
//! one it must look up at the round trip plus its upstream's time. When
//! the answers a baseline was learned from were all cache misses, "sooner
//! than half the resolver's fastest" was any cache hit: a name another
//! client had just looked up, that publicly resolves to a private address
//! (nip.io-style names, `localtest.me`) or that a filtering resolver
//! answers with 0.0.0.0, raised `bogon_answer` + `too_fast`, a 0.8 event,
//! from the resolver itself (recorded live with unbound and dnsmasq).

mod common;

use std::net::Ipv4Addr;
use tw_scenario::dns::{qtype, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::{DnsExchange, Timeline};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;
/// The round trip to the resolver.
const PATH: i64 = 10 * MS;

fn exchange(port: u16) -> DnsExchange {
    common::resolver(port, 63)
}

fn a(name: &str, ip: [u8; 4]) -> Rr {
    Rr::a(name, 300, Ipv4Addr::from(ip))
}

/// Four names the resolver looks up (cache misses: the path and 30 to 90 ms
/// upstream). Returns the time after.
fn misses(tl: &mut Timeline, t: i64) -> i64 {
    let mut t = t;
    for i in 0..4u16 {
        let name = format!("site{i}.example");
        t = exchange(41_000 + i)
            .exchange(
                tl,
                t,
                0x200 + i,
                &name,
                qtype::A,
                &[a(&name, [198, 51, 100, 10 + i as u8])],
                PATH + (30 + 20 * i64::from(i)) * MS,
            )
            .unwrap()
            + 200 * MS;
    }
    t
}

fn dns_events(tl: Timeline) -> Vec<serde_json::Value> {
    common::events_of(tl, "dns_injection")
}

/// After a baseline of cache misses, the resolver's cache answers a name
/// that publicly resolves to 10.0.0.1, and a filtering resolver's list
/// answers 0.0.0.0, both at the round trip (over its path, its TTL): clean.
/// (Failed on the code before: two events, `bogon_answer` + `too_fast`.)
#[test]
fn cached_private_answers_after_a_baseline_of_misses_are_clean() {
    let mut tl = Timeline::new();
    let t = misses(&mut tl, T0);
    let t = exchange(41_010)
        .exchange(
            &mut tl,
            t,
            0x210,
            "app.10-0-0-1.nip.example",
            qtype::A,
            &[a("app.10-0-0-1.nip.example", [10, 0, 0, 1])],
            PATH,
        )
        .unwrap();
    exchange(41_011)
        .exchange(
            &mut tl,
            t + 200 * MS,
            0x211,
            "ads.example",
            qtype::A,
            &[a("ads.example", [0, 0, 0, 0])],
            PATH,
        )
        .unwrap();
    let ev = dns_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// Once a cache hit timed the round trip (a name asked again), an answer
/// sooner than half of it is judged: an injector 2 ms from the client with
/// the resolver's TTL answering a blocked name with a private address is
/// reported (`bogon_answer` + `too_fast`), and the resolver's own cached
/// private answer at the round trip still is not.
#[test]
fn after_a_timed_cache_hit_a_near_injector_is_reported() {
    let mut tl = Timeline::new();
    let t = misses(&mut tl, T0);
    // site0 again: a cache hit at the round trip
    let t = exchange(41_020)
        .exchange(
            &mut tl,
            t,
            0x220,
            "site0.example",
            qtype::A,
            &[a("site0.example", [198, 51, 100, 10])],
            PATH,
        )
        .unwrap()
        + 200 * MS;
    let t = exchange(41_021)
        .exchange(
            &mut tl,
            t,
            0x221,
            "app.10-0-0-1.nip.example",
            qtype::A,
            &[a("app.10-0-0-1.nip.example", [10, 0, 0, 1])],
            PATH,
        )
        .unwrap()
        + 200 * MS;
    let mut x = exchange(41_022);
    let q = x.query(&mut tl, t, 0x222, "blocked.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + 2 * MS,
        &q,
        tw_scenario::dns::rcode::NOERROR,
        &[a("blocked.example", [10, 99, 99, 99])],
        tw_scenario::dns::DnsFlags::RA,
        UdpOverride {
            ttl: Some(63),
            ..UdpOverride::default()
        },
    )
    .unwrap();
    let ev = dns_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["target"], "blocked.example");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(
        rules.contains("too_fast") && rules.contains("bogon_answer"),
        "{rules}"
    );
    assert_eq!(ev[0]["evidence"]["resolver_fastest_ms"], 10.0);
}
