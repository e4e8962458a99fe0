//! Resets from the first hop (`rst_injection.local_resets`, session 20).
//!
//! A router whose firewall answers packets of connections it does not know
//! with a reset (`ct state invalid reject with tcp reset`, with
//! `nf_conntrack_tcp_loose = 0`) and that lost a connection's state (a
//! reload, a reboot, an established timeout shorter than the connection's
//! idle time) resets the client's next packet itself: recorded live by a
//! red-team review (session 19), reported at 0.75 to 0.95. Its reset comes
//! with the router's initial TTL (64 here: no router passed it on), IP ID 0
//! and DF, sooner than the server's round trip. So does a censor at the
//! first hop, which is why the default still reports it (marked
//! `first_hop`); `local_resets = "count"` counts it instead. A reset that
//! came through a router, or a burst of several TTLs, is never first-hop.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_detect::detectors::rst::LocalResets;
use tw_detect::detectors::DetectorsConfig;
use tw_scenario::{http, Endpoint, Injection, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 80 * MS;

/// A client and a server `server_ttl` at the client (59: a Linux origin five
/// routers away; 123: a Windows one).
fn session(cport: u16, server_ttl: u8) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 10).into(), 80))
        .with_ttl(server_ttl);
    TcpSession::new(c, s)
}

/// A keep-alive connection: a download, 8 s of silence, then the next
/// request, reset `after` it by `rsts` (each: TTL, IP ID, DF).
fn reset_after_idle(server_ttl: u8, rsts: &[(u8, u16, bool)], after: i64) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = session(40_000, server_ttl);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("origin.example", "/big"));
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(30_000));
    let t = s.client_ack(&mut tl, t + MS);
    let t = s.client_send(&mut tl, t + 8 * S, &http::get("origin.example", "/ok"));
    for (i, &(ttl, id, df)) in rsts.iter().enumerate() {
        let inj = Injection::rst().ttl(ttl).ip_id(id).df(df).window(0);
        s.inject_from_server(&mut tl, t + after + i as i64 * MS, &inj);
    }
    tl
}

fn config(local: LocalResets) -> DetectorsConfig {
    let mut cfg = DetectorsConfig::default();
    cfg.rst.local_resets = local;
    cfg
}

/// The rst_injection events and the counts of first-hop resets (reported,
/// counted).
fn run(tl: Timeline, local: LocalResets) -> (Vec<serde_json::Value>, [u64; 2]) {
    let (e, ev) = common::replay_with(tl, &config(local));
    let rst = ev
        .into_iter()
        .filter(|e| e["signature"] == "rst_injection")
        .collect();
    (rst, e.stats().rst_first_hop)
}

/// The router's reset (TTL 64, ID 0, DF, 10 ms after the request over an
/// 80 ms path): by default an event marked first_hop, with the rules it had
/// before this setting existed.
#[test]
fn a_first_hop_reset_is_reported_and_marked_by_default() {
    let (ev, n) = run(
        reset_after_idle(59, &[(64, 0, true)], 10 * MS),
        LocalResets::Report,
    );
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0]["evidence"];
    assert_eq!(e["first_hop"], true);
    assert_eq!(e["rst"]["ttl"], 64);
    let rules: Vec<&str> = e["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(rules.contains(&"ttl_mismatch"), "{rules:?}");
    assert!(rules.contains(&"too_fast"), "{rules:?}");
    assert_eq!(n, [1, 0]);
}

/// With `local_resets = "count"`: no event, one counted; the same with a
/// Windows origin (its packets arrive with a TTL above the router's 64).
#[test]
fn count_mode_counts_the_router_reset_instead() {
    for server_ttl in [59, 123] {
        let (ev, n) = run(
            reset_after_idle(server_ttl, &[(64, 0, true)], 10 * MS),
            LocalResets::Count,
        );
        assert!(ev.is_empty(), "server TTL {server_ttl}: {ev:?}");
        assert_eq!(n, [0, 1], "server TTL {server_ttl}");
    }
    // a router with another initial TTL
    let (ev, n) = run(
        reset_after_idle(59, &[(255, 0, true)], 10 * MS),
        LocalResets::Count,
    );
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, [0, 1]);
}

/// The router resets each packet of the lost connection again, with the
/// same TTL: still first-hop.
#[test]
fn repeated_router_resets_are_still_first_hop() {
    let rsts = [(64, 0, true), (64, 0, true)];
    let (ev, n) = run(reset_after_idle(59, &rsts, 10 * MS), LocalResets::Count);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, [0, 1]);
}

/// What count mode must still report: a reset that came through a router
/// (TTL 63 or 40: a censor one or more hops away), and a burst whose first
/// reset happens to carry TTL 64 but the others not (an injector's random
/// TTLs).
#[test]
fn count_mode_still_reports_resets_from_farther() {
    for ttl in [63, 40] {
        let (ev, n) = run(
            reset_after_idle(52, &[(ttl, 0, true)], 10 * MS),
            LocalResets::Count,
        );
        assert_eq!(ev.len(), 1, "TTL {ttl}: {ev:?}");
        assert!(ev[0]["evidence"].get("first_hop").is_none());
        assert_eq!(n, [0, 0], "TTL {ttl}");
    }
    let burst = [
        (64, 0x1111, false),
        (47, 0x2222, false),
        (58, 0x3333, false),
    ];
    let (ev, n) = run(reset_after_idle(52, &burst, 2 * MS), LocalResets::Count);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0]["evidence"].get("first_hop").is_none());
    assert_eq!(n, [0, 0]);
}

/// A server on the local network (its packets arrive with TTL 64 too) that
/// resets its own connection: no mismatch, no event, nothing counted.
#[test]
fn a_server_on_the_lan_resetting_is_not_first_hop_evidence() {
    let (ev, n) = run(
        reset_after_idle(64, &[(64, 0, true)], 10 * MS),
        LocalResets::Report,
    );
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, [0, 0]);
}
