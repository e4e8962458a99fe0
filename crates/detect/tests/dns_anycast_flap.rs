//! An anycast resolver whose route flaps (found in review, session 19).
//!
//! The resolver moves to a nearer site (its answers now come with another
//! IP TTL, and sooner) for a dozen names, then back within 30 s. The move
//! is recognised when `min_baseline` distinct names in a row came over the
//! new TTL; but answers are judged up to a flow's idle timeout after they
//! came, and the check read the run *at judgement*: once the route had
//! flapped back, every answer of the move was judged against the old path,
//! `ttl_mismatch` + `too_fast`, 12 events at 0.7 (recorded live with a
//! user-space delay bridge and two resolver sites). The runs that made a
//! move are now kept with their span. A lone fast answer over the near TTL
//! between the old site's answers, later, is still an injector's shape.

mod common;

use std::net::Ipv4Addr;
use tw_scenario::dns::{qtype, rcode, DnsFlags, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::{DnsExchange, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const FAR: (u8, i64) = (59, 80 * MS);
const NEAR: (u8, i64) = (63, 10 * MS);

fn site(port: u16, ttl: u8) -> DnsExchange {
    common::resolver(port, ttl)
}

/// A lookup of `name` from a new socket answered by the site `(ttl, rtt)`.
fn lookup(tl: &mut Timeline, port: u16, t: i64, name: &str, site: (u8, i64)) -> i64 {
    common::lookup_a(tl, port, t, name, Ipv4Addr::new(198, 51, 100, 87), site)
}

/// Twelve lookups at the far site (six names, each twice: the second from
/// its cache), twelve names at the near site, then the route flaps back:
/// four names at the far site. Returns the time after.
fn flap(tl: &mut Timeline) -> i64 {
    let mut t = T0;
    let mut port = 42_000;
    for _ in 0..2 {
        for i in 0..6 {
            t = lookup(tl, port, t, &format!("far{i}.example"), FAR) + 200 * MS;
            port += 1;
        }
    }
    for i in 0..12 {
        t = lookup(tl, port, t, &format!("www{i}.example"), NEAR) + 200 * MS;
        port += 1;
    }
    for i in 0..4 {
        t = lookup(tl, port, t, &format!("back{i}.example"), FAR) + 200 * MS;
        port += 1;
    }
    t
}

fn dns_events(tl: Timeline) -> Vec<serde_json::Value> {
    common::events_of(tl, "dns_injection")
}

/// The flap: clean. (Failed on the code before: 12 events at 0.7.)
#[test]
fn an_anycast_resolvers_route_flapping_back_is_clean() {
    let mut tl = Timeline::new();
    flap(&mut tl);
    let ev = dns_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// Long after the flap (11 minutes: the near site's path is no longer one
/// the resolver's clean answers took lately, see `dns_ecmp_branches.rs`), a
/// lone answer over the near site's TTL, 2 ms after its query, between the
/// far site's answers: outside every run that made a move, so still judged
/// (`ttl_mismatch` + `too_fast`).
#[test]
fn a_lone_answer_over_the_old_moves_ttl_later_is_still_judged() {
    let mut tl = Timeline::new();
    let t = flap(&mut tl) + 11 * 60 * S;
    lookup(&mut tl, 42_999, t - 2 * S, "again.example", FAR);
    let mut x = site(43_000, FAR.0);
    let q = x.query(&mut tl, t, 0x7000, "blocked.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + 2 * MS,
        &q,
        rcode::NOERROR,
        &[Rr::a(
            "blocked.example",
            300,
            Ipv4Addr::new(198, 51, 100, 99),
        )],
        DnsFlags::RA,
        UdpOverride {
            ttl: Some(NEAR.0),
            ..UdpOverride::default()
        },
    )
    .unwrap();
    lookup(&mut tl, 43_001, t + S, "after.example", FAR);
    let ev = dns_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["target"], "blocked.example");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(
        rules.contains("ttl_mismatch") && rules.contains("too_fast"),
        "{rules}"
    );
}
