//! Verdicts held for their speed (session 21; `dns_rttdrop.pcap`, sixth
//! red-team review).
//!
//! A resolver's fastest cache hit was learned while its path was slow (a
//! mobile link, an uplink bloated by a photo backup: 400 ms), then the path
//! got fast (50 ms) and the first answers after the change were private
//! ones (an internal host published in public DNS, an ad domain answered
//! 0.0.0.0 by its authoritative server): `bogon_answer` + `too_fast`, 0.8,
//! before any clean answer could show the new speed. A verdict that passes
//! only with `too_fast` is now held like the path-only ones: excused when
//! the resolver's clean answers since are as fast (`reason="faster"`),
//! reported when a cache hit after it still takes more than twice as long,
//! or when the hold ends.

mod common;

use std::net::Ipv4Addr;
use tw_detect::stats::DnsMoveExcuse;
use tw_detect::Engine;
use tw_scenario::dns::{qtype, rcode, DnsFlags, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::Timeline;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;

fn lookup(tl: &mut Timeline, port: u16, t: i64, name: &str, a: [u8; 4], after: i64) -> i64 {
    common::lookup_a(tl, port, t, name, a.into(), (61, after)) + 500 * MS
}

/// Six names asked twice, misses in `miss`, cache hits in `hit`.
fn baseline(tl: &mut Timeline, miss: i64, hit: i64) -> i64 {
    let mut t = T0;
    for round in 0..2u16 {
        for i in 0..6u16 {
            t = lookup(
                tl,
                42_000 + round * 10 + i,
                t,
                &format!("www{i}.example"),
                [198, 51, 100, 20 + i as u8],
                if round == 0 { miss } else { hit },
            );
        }
    }
    t
}

/// `name` answered with `addr` `after` its query, by the resolver's path
/// (its usual IP TTL; the answer itself may be anyone's).
fn private(tl: &mut Timeline, port: u16, t: i64, name: &str, addr: Ipv4Addr, after: i64) -> i64 {
    let mut x = common::resolver(port, 61);
    let q = x.query(tl, t, port, name, qtype::A, true);
    x.inject_answer(
        tl,
        t + after,
        &q,
        rcode::NOERROR,
        &[Rr::a(name, 300, addr)],
        DnsFlags::RA,
        UdpOverride::default(),
    )
    .unwrap();
    t + after + 30 * MS
}

fn dns(ev: &[serde_json::Value]) -> Vec<serde_json::Value> {
    ev.iter()
        .filter(|e| e["signature"] == "dns_injection")
        .cloned()
        .collect()
}

fn faster(e: &Engine) -> u64 {
    e.stats().dns_moves_excused[DnsMoveExcuse::Faster.idx()]
}

fn assert_speed_event(e: &serde_json::Value, target: &str, after_ms: f64) {
    assert_eq!(e["target"], target, "{e}");
    assert_eq!(e["confidence"], 0.8, "{e}");
    assert_eq!(
        e["evidence"]["rules"],
        serde_json::json!(["bogon_answer", "too_fast"]),
        "{e}"
    );
    assert_eq!(e["evidence"]["answer_ms"], after_ms, "{e}");
}

const INTRA: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
const ADS: Ipv4Addr = Ipv4Addr::new(0, 0, 0, 0);

/// `dns_rttdrop.pcap`: the baseline at 400 ms, the path drops to 50 ms, the
/// page's first names are a private one and a 0.0.0.0 one (the resolver's
/// own answers, 52 and 56 ms), then a name asked before, answered at the
/// new speed. (Failed on the code before: 2 events at 0.8.)
#[test]
fn private_answers_first_after_the_path_got_faster_are_clean() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 450 * MS, 400 * MS) + S;
    let t = private(&mut tl, 43_000, t, "intra.example", INTRA, 52 * MS);
    let t = private(&mut tl, 43_001, t, "ads.example", ADS, 56 * MS);
    lookup(
        &mut tl,
        43_002,
        t,
        "www2.example",
        [198, 51, 100, 22],
        54 * MS,
    );
    let (e, ev) = common::replay(tl);
    assert!(dns(&ev).is_empty(), "{ev:?}");
    assert_eq!(faster(&e), 2);
}

/// The same with the clean answer a new name (a cache miss at the new
/// speed still bounds the round trip from above), 60 s later (within the
/// hold: the flows ended before it).
#[test]
fn a_later_fast_miss_within_the_hold_excuses_it() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 450 * MS, 400 * MS) + S;
    let t = private(&mut tl, 43_000, t, "intra.example", INTRA, 52 * MS);
    lookup(
        &mut tl,
        43_002,
        t + 60 * S,
        "new.example",
        [198, 51, 100, 9],
        70 * MS,
    );
    let (e, ev) = common::replay(tl);
    assert!(dns(&ev).is_empty(), "{ev:?}");
    assert_eq!(faster(&e), 1);
}

/// An injector near the client: the resolver's cache hits take 50 ms, a
/// private answer 3 ms, and nothing after it: reported when the input ends.
#[test]
fn a_fast_private_answer_and_then_silence_is_reported() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 90 * MS, 50 * MS) + S;
    private(&mut tl, 43_000, t, "blocked.example", INTRA, 3 * MS);
    let (e, ev) = common::replay(tl);
    let ev = dns(&ev);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_speed_event(&ev[0], "blocked.example", 3.0);
    assert_eq!(faster(&e), 0);
}

/// The path getting faster after an injected answer does not excuse it
/// unless it got that fast: cache hits at 30 ms after a 3 ms answer.
#[test]
fn a_speed_up_that_is_not_as_fast_does_not_excuse_it() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 90 * MS, 50 * MS) + S;
    let t = private(&mut tl, 43_000, t, "blocked.example", INTRA, 3 * MS);
    let t = lookup(
        &mut tl,
        43_001,
        t,
        "www1.example",
        [198, 51, 100, 21],
        30 * MS,
    );
    lookup(
        &mut tl,
        43_002,
        t,
        "www2.example",
        [198, 51, 100, 22],
        30 * MS,
    );
    let (e, ev) = common::replay(tl);
    let ev = dns(&ev);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_speed_event(&ev[0], "blocked.example", 3.0);
    assert_eq!(faster(&e), 0);
}

/// A cache hit after it at the old speed decides it (reported) at once: a
/// path that gets very fast later (4 ms: the resolver moved into the LAN)
/// does not excuse it any more. Without that early decision the later
/// answer would have excused it.
#[test]
fn a_slow_cache_hit_after_it_reports_it_at_once() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 90 * MS, 50 * MS) + S;
    let t = private(&mut tl, 43_000, t, "blocked.example", INTRA, 3 * MS);
    // (its flow ends before the next ones: the UDP flows time out)
    let t = lookup(
        &mut tl,
        43_001,
        t + 40 * S,
        "www1.example",
        [198, 51, 100, 21],
        50 * MS,
    );
    lookup(
        &mut tl,
        43_002,
        t + 40 * S,
        "www2.example",
        [198, 51, 100, 22],
        4 * MS,
    );
    let (e, ev) = common::replay(tl);
    let ev = dns(&ev);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_speed_event(&ev[0], "blocked.example", 3.0);
    assert_eq!(faster(&e), 0);
}

/// The hold ends (120 s) before the first clean answer at the new speed:
/// decided on what was known then, reported (the documented trade-off: a
/// quiet resolver after a speed-up is not told from an injector).
#[test]
fn a_speed_up_shown_only_after_the_hold_ends_is_too_late() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 450 * MS, 400 * MS) + S;
    let t = private(&mut tl, 43_000, t, "intra.example", INTRA, 52 * MS);
    lookup(
        &mut tl,
        43_002,
        t + 200 * S,
        "www2.example",
        [198, 51, 100, 22],
        54 * MS,
    );
    let (e, ev) = common::replay(tl);
    let ev = dns(&ev);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_speed_event(&ev[0], "intra.example", 52.0);
    assert_eq!(faster(&e), 0);
}

/// A private answer with a second rule besides its speed (IP TTL unlike
/// the resolver's) is not held for its speed: `bogon_answer` +
/// `ttl_mismatch` pass without `too_fast`, and a fast clean answer after it
/// does not excuse it.
#[test]
fn a_private_answer_over_another_path_is_not_held_for_its_speed() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 450 * MS, 400 * MS) + S;
    let mut x = common::resolver(43_000, 61);
    let q = x.query(&mut tl, t, 43_000, "intra.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + 52 * MS,
        &q,
        rcode::NOERROR,
        &[Rr::a("intra.example", 300, INTRA)],
        DnsFlags::RA,
        UdpOverride {
            ttl: Some(250),
            ..UdpOverride::default()
        },
    )
    .unwrap();
    lookup(
        &mut tl,
        43_002,
        t + S,
        "www2.example",
        [198, 51, 100, 22],
        54 * MS,
    );
    let (e, ev) = common::replay(tl);
    let ev = dns(&ev);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(rules.contains("ttl_mismatch"), "{rules}");
    assert_eq!(faster(&e), 0);
}

/// An injector answering both questions of a blocked name, A with a
/// private address and AAAA with no records, at once (3 ms; the
/// resolver's cache hits take 50 ms), then a page's other names answered
/// by the resolver at its own speed: the empty AAAA is clean and as fast,
/// but it is the same name (an injector answers the names it blocks), so
/// it excuses nothing.
#[test]
fn the_injectors_own_empty_aaaa_does_not_excuse_its_a() {
    let mut tl = Timeline::new();
    let t = baseline(&mut tl, 90 * MS, 50 * MS) + S;
    let mut x = common::resolver(43_000, 61);
    let qa = x.query(&mut tl, t, 43_000, "blocked.example", qtype::A, true);
    let q6 = x.query(
        &mut tl,
        t + MS / 10,
        43_000,
        "blocked.example",
        qtype::AAAA,
        true,
    );
    for (q, rr) in [
        (&qa, vec![Rr::a("blocked.example", 300, INTRA)]),
        (&q6, vec![]),
    ] {
        x.inject_answer(
            &mut tl,
            t + 3 * MS,
            q,
            rcode::NOERROR,
            &rr,
            DnsFlags::RA,
            UdpOverride::default(),
        )
        .unwrap();
    }
    let t = lookup(
        &mut tl,
        43_001,
        t + S,
        "new.example",
        [198, 51, 100, 9],
        80 * MS,
    );
    lookup(
        &mut tl,
        43_002,
        t,
        "www2.example",
        [198, 51, 100, 22],
        50 * MS,
    );
    let (e, ev) = common::replay(tl);
    let ev = dns(&ev);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_speed_event(&ev[0], "blocked.example", 3.0);
    assert_eq!(faster(&e), 0);
}
