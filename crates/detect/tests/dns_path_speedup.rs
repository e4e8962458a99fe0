//! A resolver's path getting faster (sixth red-team review, session 20).
//!
//! `too_fast` compares an answer with the resolver's fastest cache hit (a
//! name asked again). Learned while the path was slow (a bloated or mobile
//! uplink, 400 ms), it said every answer after the path got fast (50 ms)
//! was too fast, until a name asked again was answered over the new path;
//! with a name that publicly resolves to a private address, `bogon_answer`
//! and `too_fast` made a 0.8 event. Any clean answer bounds the round trip
//! from above, so one faster than the fastest cache hit now lowers it.
//! The private answer coming before any clean one after the change is
//! held for its speed since session 21 (`dns_speed_hold.rs`).

mod common;

use std::net::Ipv4Addr;
use tw_scenario::dns::{qtype, rcode, DnsFlags, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::{DnsExchange, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;

fn exchange(port: u16) -> DnsExchange {
    common::resolver(port, 61)
}

fn lookup(tl: &mut Timeline, port: u16, t: i64, name: &str, a: [u8; 4], after: i64) -> i64 {
    common::lookup_a(tl, port, t, name, a.into(), (61, after)) + 500 * MS
}

/// Six names asked twice over a 400 ms path (misses 450 ms, hits 400 ms),
/// then the path gets fast: a new name answered in 55 ms (a miss), then
/// `answer` for intra.example (10.1.2.3) `after` the query, by the
/// resolver or, with `ttl`, by someone else.
fn run(after: i64, ttl: Option<u8>) -> Vec<serde_json::Value> {
    let mut tl = Timeline::new();
    let mut t = T0;
    for round in 0..2u16 {
        for i in 0..6u16 {
            let took = if round == 0 { 450 * MS } else { 400 * MS };
            t = lookup(
                &mut tl,
                42_000 + round * 10 + i,
                t,
                &format!("www{i}.example"),
                [198, 51, 100, 20 + i as u8],
                took,
            );
        }
    }
    t = lookup(
        &mut tl,
        43_000,
        t + S,
        "page.example",
        [198, 51, 100, 40],
        55 * MS,
    );
    let mut x = exchange(43_001);
    let q = x.query(&mut tl, t, 43_001, "intra.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + after,
        &q,
        rcode::NOERROR,
        &[Rr::a("intra.example", 300, Ipv4Addr::new(10, 1, 2, 3))],
        DnsFlags::RA,
        UdpOverride {
            ttl,
            ..UdpOverride::default()
        },
    )
    .unwrap();
    common::events_of(tl, "dns_injection")
}

/// The resolver's own private answer at the new speed: clean (0.8 before).
#[test]
fn a_private_answer_after_the_path_got_faster_is_clean() {
    let ev = run(52 * MS, None);
    assert!(ev.is_empty(), "{ev:?}");
}

/// An answer 2 ms after the query is still too fast for the new path.
#[test]
fn an_injected_private_answer_is_still_too_fast() {
    let ev = run(2 * MS, None);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(
        rules.contains("bogon_answer") && rules.contains("too_fast"),
        "{rules}"
    );
}
