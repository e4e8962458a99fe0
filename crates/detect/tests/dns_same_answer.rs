//! An answer over a new path that says what the resolver said before.
//!
//! A resolver's route moving just before a quiet spell (a home gateway
//! asking one name after the change) leaves one answer whose only rules are
//! path rules (`ttl_mismatch`, `too_fast`); held until the resolver's next
//! answers or the end of the hold, one name alone is still reported
//! (`dns_route_move_quiet.rs`). When that name was asked lately and the
//! answer carries the same rcode and records as the resolver's own answer
//! then, nothing was changed, whoever sent it: it is excused at once
//! (`tamperwatch_dns_route_moves_excused_total{reason="same_answer"}`). An
//! answer that says something else is still held and reported.

mod common;

use std::net::Ipv4Addr;
use tw_detect::stats::DnsMoveExcuse;
use tw_scenario::Timeline;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
/// The far site (four hops further, 40 ms each way) and the near one.
const FAR: (u8, i64) = (59, 80 * MS);
const NEAR: (u8, i64) = (63, 10 * MS);

fn addr(name: &str) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, 10 + name.len() as u8)
}

/// A lookup of `name` from a new socket answered by the site `(ttl, rtt)`
/// with `a`. Returns the answer's time.
fn lookup_as(
    tl: &mut Timeline,
    port: u16,
    t: i64,
    name: &str,
    a: Ipv4Addr,
    site: (u8, i64),
) -> i64 {
    common::lookup_a(tl, port, t, name, a, site)
}

/// `name` answered with its usual address.
fn lookup(tl: &mut Timeline, port: u16, t: i64, name: &str, site: (u8, i64)) -> i64 {
    lookup_as(tl, port, t, name, addr(name), site)
}

/// Six names at the far site, each asked twice (the second a cache hit),
/// 200 ms apart. Returns the time after.
fn browsing_far(tl: &mut Timeline) -> i64 {
    let mut t = T0;
    for round in 0..2u16 {
        for i in 0..6u16 {
            let port = 42_000 + round * 10 + i;
            t = lookup(tl, port, t, &format!("www{i}.example.com"), FAR) + 200 * MS;
        }
    }
    t
}

fn dns_events(tl: Timeline) -> (Vec<serde_json::Value>, [u64; DnsMoveExcuse::COUNT]) {
    let (e, ev) = common::replay(tl);
    let dns = ev
        .into_iter()
        .filter(|e| e["signature"] == "dns_injection")
        .collect();
    (dns, e.stats().dns_moves_excused)
}

/// The route moves; the one lookup after it is a name asked before,
/// answered as before; then nothing for 200 s (longer than the hold).
/// (Reported at 0.7 before: one name is too few for a quiet move.)
#[test]
fn one_repeated_name_answered_alike_over_a_new_path_is_excused() {
    let mut tl = Timeline::new();
    let t = browsing_far(&mut tl);
    let t = lookup(&mut tl, 43_001, t + 500 * MS, "www3.example.com", NEAR);
    lookup(&mut tl, 43_002, t + 200 * S, "www4.example.com", NEAR);
    let (ev, excused) = dns_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(excused[DnsMoveExcuse::SameAnswer.idx()], 1, "{excused:?}");
}

/// The same shape, but the answer over the new path names another address:
/// held, and reported when the hold ends (one name is too few for a move).
#[test]
fn a_repeated_name_answered_otherwise_is_still_reported() {
    let mut tl = Timeline::new();
    let t = browsing_far(&mut tl);
    let other = Ipv4Addr::new(203, 0, 113, 99);
    let t = lookup_as(
        &mut tl,
        43_001,
        t + 500 * MS,
        "www3.example.com",
        other,
        NEAR,
    );
    lookup(&mut tl, 43_002, t + 200 * S, "www4.example.com", FAR);
    let (ev, excused) = dns_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["target"], "www3.example.com");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(
        rules.contains("ttl_mismatch") && rules.contains("too_fast"),
        "{rules}"
    );
    assert_eq!(excused[DnsMoveExcuse::SameAnswer.idx()], 0, "{excused:?}");
}

/// Only the resolver's last eight questions are remembered: a name asked
/// before eight others is not recognised, and its lone answer over a new
/// path is reported as before.
#[test]
fn a_name_asked_before_eight_others_is_not_remembered() {
    let mut tl = Timeline::new();
    let mut t = browsing_far(&mut tl);
    for i in 0..8u16 {
        t = lookup(&mut tl, 43_100 + i, t, &format!("x{i}.example.org"), FAR) + 200 * MS;
    }
    let t = lookup(&mut tl, 43_001, t + 500 * MS, "www3.example.com", NEAR);
    lookup(&mut tl, 43_002, t + 200 * S, "www4.example.com", FAR);
    let (ev, excused) = dns_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["target"], "www3.example.com");
    assert_eq!(excused[DnsMoveExcuse::SameAnswer.idx()], 0, "{excused:?}");
}
