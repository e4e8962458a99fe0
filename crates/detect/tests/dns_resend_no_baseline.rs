//! Two answers to a query the client sent again, before the resolver has a
//! baseline (found by the fourth red-team review, session 20).
//!
//! The first lookup after the daemon starts or joins a network is slow; the
//! stub sends the query again after 1 s; a load-balanced resolver answers
//! the copy from another frontend with another address pair, and the
//! original later, or answers the copy with an empty truncated answer (a
//! rate limiter's "slip"). Both answers are the resolver's own (the same IP
//! TTL and DF, IP IDs from one counter), but with no baseline to say so the
//! two differing answers were a `race` at 0.9. Now two answers that both
//! came after the resend, from one sender by their headers, are not a race
//! (an injector answers the first copy at once, before any stub retries),
//! and a truncated empty answer counts as a failure like SERVFAIL.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::dns::{qtype, rcode, DnsFlags, Rr};
use tw_scenario::session::UdpOverride;
use tw_scenario::{DnsExchange, Endpoint, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const NAME: &str = "geo1.example";

fn exchange() -> DnsExchange {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 41_000));
    let r =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 53).into(), 53)).with_ttl(63);
    DnsExchange::new(c, r)
}

fn pair(x: u8, ttl: u32) -> [Rr; 2] {
    [
        Rr::a(NAME, ttl, Ipv4Addr::new(198, 51, 100, x)),
        Rr::a(NAME, ttl, Ipv4Addr::new(198, 51, 100, x + 1)),
    ]
}

fn dns_events(tl: Timeline) -> Vec<serde_json::Value> {
    common::events_of(tl, "dns_injection")
}

/// The query at 0, sent again at 1 s; the copy answered at 1.005 s with
/// `copy` (its rcode, records, flags), the original at 1.3 s with its
/// addresses. Both by the resolver (its TTL, its IP ID counter), unless
/// `copy_ttl` says otherwise.
fn resent(copy: (u8, &[Rr], DnsFlags), copy_ov: Option<UdpOverride>) -> Timeline {
    let mut tl = Timeline::new();
    let mut y = exchange();
    let q = y.query(&mut tl, T0, 0x1234, NAME, qtype::A, true);
    y.flow.client_send(&mut tl, T0 + S, q.clone());
    match copy_ov {
        None => y.answer(&mut tl, T0 + S + 5 * MS, &q, copy.0, copy.1, copy.2),
        Some(ov) => y.inject_answer(&mut tl, T0 + S + 5 * MS, &q, copy.0, copy.1, copy.2, ov),
    }
    .unwrap();
    y.answer(
        &mut tl,
        T0 + 1300 * MS,
        &q,
        rcode::NOERROR,
        &pair(10, 300),
        DnsFlags::RA,
    )
    .unwrap();
    tl
}

/// Another frontend answers the copy with other addresses: not a race.
#[test]
fn a_resent_query_answered_differently_by_one_resolver_is_clean() {
    let ev = dns_events(resent((rcode::NOERROR, &pair(20, 287), DnsFlags::RA), None));
    assert!(ev.is_empty(), "{ev:?}");
}

/// A rate limiter's slip: an empty truncated answer for the copy, from
/// another frontend (its own IP ID counter: not one sender by headers).
#[test]
fn a_truncated_empty_answer_to_the_copy_is_a_failure_not_a_forgery() {
    let other_frontend = UdpOverride {
        ip_id: Some(0x9000),
        ..UdpOverride::default()
    };
    let tc = (rcode::NOERROR, &[][..], DnsFlags::RA | DnsFlags::TC);
    let ev = dns_events(resent(tc, Some(other_frontend)));
    assert!(ev.is_empty(), "{ev:?}");
}

/// Still a race: an answer from another distance (TTL 50) after the resend,
/// and an injector's answer 3 ms after the query with the resolver's own
/// headers (no resend: the real answer 80 ms later).
#[test]
fn a_race_before_any_resend_or_from_another_path_is_reported() {
    let far = UdpOverride {
        ttl: Some(50),
        ..UdpOverride::default()
    };
    let ev = dns_events(resent(
        (rcode::NOERROR, &pair(20, 287), DnsFlags::RA),
        Some(far),
    ));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0]["evidence"]["rules"].to_string().contains("race"));

    let mut tl = Timeline::new();
    let mut y = exchange();
    let q = y.query(&mut tl, T0, 0x1234, NAME, qtype::A, true);
    y.inject_answer(
        &mut tl,
        T0 + 3 * MS,
        &q,
        rcode::NOERROR,
        &pair(20, 300),
        DnsFlags::RA,
        UdpOverride::default(),
    )
    .unwrap();
    y.answer(
        &mut tl,
        T0 + 80 * MS,
        &q,
        rcode::NOERROR,
        &pair(10, 300),
        DnsFlags::RA,
    )
    .unwrap();
    let ev = dns_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0]["evidence"]["rules"].to_string().contains("race"));
}
