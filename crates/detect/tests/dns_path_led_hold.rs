//! Verdicts led by a new path, held like path-only ones (red-team review,
//! session 26).
//!
//! A laptop with a fixed public resolver moves to another network: the
//! resolver's answers now come over another path (another IP TTL, another
//! round trip). Among the first lookups there, a name that resolves to a
//! private address in public DNS (Plex's `plex.direct`) had `bogon_answer`
//! and `ttl_mismatch`, 0.9, reported at once: only verdicts resting on path
//! rules alone were held until the resolver's next answers told a route
//! move from an injector. And a network whose gateway intercepts DNS and
//! answers through its own relay without EDNS (genuine records, one hop
//! away) had `ttl_mismatch` + `edns_dropped` (+ `too_fast`) on every lookup,
//! for good: answers that raise rules are never learned. Both are now held
//! and excused by a run of `min_baseline_answers` names over the new path;
//! an injector's answer between the resolver's own is still reported, and
//! so, unlike a path-only verdict, is one followed by a quiet spell.

mod common;

use std::net::Ipv4Addr;
use tw_scenario::dns::{self, qtype, rcode, DnsFlags, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::Timeline;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
/// The resolver from home (six hops, 9 ms) and from the café (eleven, 24 ms).
const HOME: (u8, i64) = (58, 9 * MS);
const AWAY: (u8, i64) = (53, 24 * MS);
const PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);

/// Twenty lookups at home, every name asked twice (the second a cache hit),
/// one every 2 s from a new port. Returns the time after.
fn at_home(tl: &mut Timeline, port0: u16) -> i64 {
    let mut t = T0;
    for i in 0..20u16 {
        let name = format!("home{}.example", i / 2);
        common::lookup_a(tl, port0 + i, t, &name, PUBLIC, HOME);
        t += 2 * S;
    }
    t
}

fn plex(tl: &mut Timeline, port: u16, t: i64, site: (u8, i64)) {
    common::lookup_a(
        tl,
        port,
        t,
        "192-168-1-10.0a1b2c3d.plex.direct",
        Ipv4Addr::new(192, 168, 1, 10),
        site,
    );
}

/// A query with EDNS for `name` from `port` at `t`, answered without EDNS
/// at IP TTL `ttl` after `rtt` with `addr`.
fn without_edns(
    tl: &mut Timeline,
    port: u16,
    t: i64,
    name: &str,
    addr: Ipv4Addr,
    ttl: u8,
    rtt: i64,
) {
    let mut x = common::resolver(port, ttl);
    let q = x.query(tl, t, port, name, qtype::A, true);
    let id = u16::from_be_bytes([q[0], q[1]]);
    let r = dns::response_for(
        id,
        name,
        qtype::A,
        false,
        rcode::NOERROR,
        &[Rr::a(name, 300, addr)],
        DnsFlags::RA,
    )
    .unwrap();
    x.flow.send_with(
        tl,
        t + rtt,
        tw_scenario::Direction::FromServer,
        r,
        &UdpOverride {
            ttl: Some(ttl),
            ..UdpOverride::default()
        },
    );
}

fn dns_events(tl: Timeline) -> Vec<serde_json::Value> {
    common::events_of(tl, "dns_injection")
}

/// Two minutes after the last lookup at home, the first lookup on the new
/// network is the Plex name, then five ordinary ones: clean. (Failed
/// before: `bogon_answer` + `ttl_mismatch`, 0.9.)
#[test]
fn a_private_answer_first_after_a_move_is_clean() {
    for first in [0, 1] {
        let mut tl = Timeline::new();
        let mut t = at_home(&mut tl, 42_000) + 120 * S;
        for i in 0..6u16 {
            if i == first {
                plex(&mut tl, 43_000 + i, t, AWAY);
            } else {
                let name = format!("away{i}.example");
                common::lookup_a(&mut tl, 43_000 + i, t, &name, PUBLIC, AWAY);
            }
            t += S;
        }
        let ev = dns_events(tl);
        assert!(ev.is_empty(), "Plex name at {first}: {ev:#?}");
    }
}

/// A gateway's relay answering every query one hop away, fast and without
/// EDNS, after a baseline that always echoed it: clean. (Failed before:
/// every lookup an event.)
#[test]
fn an_intercepting_relay_without_edns_is_clean() {
    let mut tl = Timeline::new();
    let mut t = at_home(&mut tl, 42_000) + 60 * S;
    for i in 0..20u16 {
        let name = format!("site{i}.example");
        without_edns(&mut tl, 43_000 + i, t, &name, PUBLIC, 63, 2 * MS);
        t += 2 * S;
    }
    let ev = dns_events(tl);
    assert!(ev.is_empty(), "{} events: {ev:#?}", ev.len());
}

/// An injector's private answer (TTL 50), or its answer without EDNS,
/// between the resolver's answers over its usual path: reported, when the
/// next answer over the usual path comes.
#[test]
fn an_injectors_answer_between_the_resolvers_is_reported() {
    for no_edns in [false, true] {
        let mut tl = Timeline::new();
        let t = at_home(&mut tl, 42_000);
        if no_edns {
            without_edns(&mut tl, 43_000, t, "blocked.example", PUBLIC, 50, 2 * MS);
        } else {
            common::lookup_a(
                &mut tl,
                43_000,
                t,
                "blocked.example",
                Ipv4Addr::new(10, 1, 2, 3),
                (50, 2 * MS),
            );
        }
        common::lookup_a(&mut tl, 43_001, t + 3 * S, "after.example", PUBLIC, HOME);
        let ev = dns_events(tl);
        assert_eq!(ev.len(), 1, "no_edns {no_edns}: {ev:#?}");
        assert_eq!(ev[0]["target"], "blocked.example");
    }
}

/// An injector's private answers to two blocked names, and then nothing:
/// a quiet spell excuses path-only verdicts, not these. Reported.
#[test]
fn private_answers_before_a_quiet_spell_are_reported() {
    let mut tl = Timeline::new();
    let t = at_home(&mut tl, 42_000);
    for (i, name) in ["blocked.example", "blocked2.example"].iter().enumerate() {
        common::lookup_a(
            &mut tl,
            43_000 + i as u16,
            t + i as i64 * S,
            name,
            Ipv4Addr::new(10, 1, 2, 3),
            (50, 2 * MS),
        );
    }
    let ev = dns_events(tl);
    assert_eq!(ev.len(), 2, "{ev:#?}");
}
