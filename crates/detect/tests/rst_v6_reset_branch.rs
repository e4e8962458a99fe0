//! Resets a host sends with no socket, over IPv6 (red-team review,
//! session 26).
//!
//! Linux gives a reset it sends for a segment that finds no socket (the
//! reply to a late ACK after an abort; `reject with tcp reset` of a
//! firewall at the server's end) another IPv6 flow label than the
//! connection's own packets (checked on Linux 6.18 in two namespaces: the
//! server's packets and its abort carried one label, its five resets
//! answering the client's segments after the abort another), and routers
//! that balance on flow labels (RFC 6438; Linux's own IPv6 multipath hash
//! includes the label) may send it over another branch of the path, a hop
//! or two longer or shorter. Two look-alikes the detector excuses over IPv4, the server's
//! abort with the reply to the client's late ACK and a ban at the server's
//! end during a download, were then reported: `rst_seq_burst` (0.9) and
//! `data_after_rst` + `rst_seq_behind` (0.92). Over IPv6 such bare resets
//! (no ACK flag, window 0) are now allowed three hops off the server's
//! path; over IPv4 both share the connection's 5-tuple and its branch, and
//! nothing changed.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tw_scenario::{http, Endpoint, Injection, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 30 * MS;
/// The server's packets arrive with this hop limit (a Linux server twelve
/// routers away).
const SERVER_TTL: u8 = 52;

fn session(v6: bool, cport: u16) -> TcpSession {
    let (c, s): (IpAddr, IpAddr) = if v6 {
        (
            "2001:db8:100::23".parse::<Ipv6Addr>().unwrap().into(),
            "2001:db8:77::20".parse::<Ipv6Addr>().unwrap().into(),
        )
    } else {
        (
            Ipv4Addr::new(192, 0, 2, 23).into(),
            Ipv4Addr::new(203, 0, 113, 20).into(),
        )
    };
    TcpSession::new(
        Endpoint::client(SocketAddr::new(c, cport)),
        Endpoint::server(SocketAddr::new(s, 443)).with_ttl(SERVER_TTL),
    )
}

/// The server aborts after its answer (its RST+ACK over the connection's
/// path); the client's ACK in flight reaches the closed socket and is
/// answered by a bare reset with window 0 arriving at `reply_ttl`.
fn abort_then_reply(v6: bool, reply_ttl: u8) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = session(v6, 48_000);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("site.example", "/"));
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(3000));
    let t = s.rst_from_server(&mut tl, t + MS);
    let t = s.client_ack(&mut tl, t + MS / 10);
    s.inject_from_server(&mut tl, t + RTT, &Injection::rst().ttl(reply_ttl).window(0));
    tl
}

/// A download whose ACKs from chunk 20 on are answered a round trip later
/// by `rst` ([`common::banned_download`]).
fn banned_download(v6: bool, rst: Injection) -> Timeline {
    common::banned_download(session(v6, 48_001), T0, RTT, RTT + 2 * MS, &rst)
}

fn firewall_reset(ttl: u8) -> Injection {
    Injection::rst().ttl(ttl).ip_id(0).df(true).window(0)
}

fn events(tl: Timeline) -> (Vec<serde_json::Value>, u64) {
    let (e, ev) = common::replay_of(tl, "rst_injection");
    (ev, e.stats().rst_server_end_reject)
}

/// The abort's reply two or three hops off the server's path over IPv6:
/// clean. (Failed before: `rst_seq_burst`, 0.9.)
#[test]
fn an_aborts_reply_over_another_ipv6_branch_is_clean() {
    for ttl in [SERVER_TTL - 2, SERVER_TTL - 3, SERVER_TTL + 2] {
        let (ev, _) = events(abort_then_reply(true, ttl));
        assert!(ev.is_empty(), "reply at {ttl}: {ev:?}");
    }
}

/// The same over IPv4, or five hops off over IPv6 (an injector's burst of
/// another TTL): still reported as a burst.
#[test]
fn a_same_sequence_reset_farther_off_or_over_ipv4_is_still_a_burst() {
    for (v6, ttl) in [(false, SERVER_TTL - 2), (true, SERVER_TTL - 5)] {
        let (ev, _) = events(abort_then_reply(v6, ttl));
        assert_eq!(ev.len(), 1, "v6 {v6}, reply at {ttl}: {ev:?}");
        assert!(
            ev[0]["evidence"]["rules"]
                .to_string()
                .contains("rst_seq_burst"),
            "{}",
            ev[0]["evidence"]
        );
    }
}

/// A ban at the server's end whose resets come two hops off the server's
/// path over IPv6: counted, not reported. (Failed before: `data_after_rst`,
/// 0.92.)
#[test]
fn a_ban_at_the_servers_end_over_another_ipv6_branch_is_counted() {
    let (ev, n) = events(banned_download(true, firewall_reset(SERVER_TTL - 2)));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, 1);
}

/// Off the branch, only a host's bare reset is excused: a RST+ACK, a reset
/// with a window, one five hops off, or the same over IPv4, stay reported.
#[test]
fn other_resets_off_the_path_are_still_reported() {
    for (v6, rst) in [
        (
            true,
            Injection::rst_ack()
                .ttl(SERVER_TTL - 2)
                .ip_id(0)
                .df(true)
                .window(0),
        ),
        (true, firewall_reset(SERVER_TTL - 2).window(509)),
        (true, firewall_reset(SERVER_TTL - 5)),
        (false, firewall_reset(SERVER_TTL - 2)),
    ] {
        let (ev, n) = events(banned_download(v6, rst));
        assert_eq!(ev.len(), 1, "v6 {v6}: {ev:?}");
        assert_eq!(n, 0);
    }
}
