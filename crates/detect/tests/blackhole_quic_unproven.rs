//! QUIC to a server never seen answering QUIC stays a weak event, also when
//! the client tries again (found by the fourth red-team review, session 20).
//!
//! A TCP-only site whose own firewall drops UDP/443: the client (a browser
//! following a stale Alt-Svc or HTTPS record) tries QUIC, falls back to TLS
//! over TCP, which works, and tries QUIC again 4 s later (another name on
//! the address, another application). The first attempt is the documented
//! 0.6 event (`server_answered_quic: false`); the second was raised to 0.85
//! as residual blocking by the first one's own event. Now both are 0.6, and
//! such an event opens no residual window. A server that did answer QUIC
//! before and then stops is the stronger case, and still opens one.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{quic, tls, Endpoint, Rng, TcpSession, Timeline, UdpFlow};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;
const SERVER: [u8; 4] = [203, 0, 113, 8];

fn client(port: u16) -> Endpoint {
    Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port))
}

fn server(port: u16) -> Endpoint {
    Endpoint::server(SocketAddr::new(Ipv4Addr::from(SERVER).into(), port))
}

/// TLS over TCP/443 to the server, answered. Returns the time after.
fn tls_ok(tl: &mut Timeline, cport: u16, t: i64) -> i64 {
    let mut s = TcpSession::new(client(cport), server(443));
    let t = s.handshake(tl, t, RTT);
    let mut rng = Rng::new(u64::from(cport));
    let t = s.client_send(tl, t + MS, &tls::client_hello("site.example", &mut rng));
    let t = s.server_send(tl, t + RTT, &tls::server_flight(&mut rng, 900));
    s.close(tl, t + MS, RTT)
}

/// QUIC Initials at 0, 0.3 and 0.9 s, unanswered. Returns the time after.
fn quic_unanswered(tl: &mut Timeline, cport: u16, t: i64) -> i64 {
    let mut q = UdpFlow::new(client(cport), server(443));
    let init = quic::initial(&mut Rng::new(u64::from(cport)));
    for k in [0, 300, 900] {
        q.client_send(tl, t + k * MS, init.clone());
    }
    t + 900 * MS
}

/// A QUIC exchange the server answered. Returns the time after.
fn quic_answered(tl: &mut Timeline, cport: u16, t: i64) -> i64 {
    let mut q = UdpFlow::new(client(cport), server(443));
    let mut rng = Rng::new(u64::from(cport));
    q.client_send(tl, t, quic::initial(&mut rng));
    q.server_send(tl, t + RTT, quic::initial(&mut rng));
    q.client_send(tl, t + RTT + MS, quic::short_header(&mut rng, &[1; 8], 300));
    t + RTT + MS
}

/// Flows end by packet time: a packet long after lets them time out in
/// order (the first attempt's event is known when the second is judged).
fn later(tl: &mut Timeline, t: i64) {
    let mut s = TcpSession::new(
        client(51_000),
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 60).into(), 443)),
    );
    let t = s.handshake(tl, t + 300 * S, RTT);
    s.close(tl, t + 10 * MS, RTT);
}

fn blackholes(tl: Timeline) -> Vec<serde_json::Value> {
    common::events_of(tl, "blackhole")
}

/// The server never spoke QUIC (its TLS over TCP works): both attempts
/// 0.6, neither residual.
#[test]
fn quic_retried_to_a_server_that_never_spoke_it_stays_weak() {
    let mut tl = Timeline::new();
    let t = tls_ok(&mut tl, 50_000, T0);
    let t = quic_unanswered(&mut tl, 50_001, t + S);
    let t = tls_ok(&mut tl, 50_002, t + 100 * MS);
    let t = quic_unanswered(&mut tl, 50_003, t + 4 * S);
    later(&mut tl, t);
    let ev = blackholes(tl);
    assert_eq!(ev.len(), 2, "{ev:?}");
    for e in &ev {
        assert_eq!(e["evidence"]["stage"], "quic_initial", "{e}");
        assert_eq!(e["evidence"]["server_answered_quic"], false, "{e}");
        assert_eq!(e["evidence"]["residual"], false, "{e}");
        assert_eq!(e["confidence"], 0.6, "{e}");
    }
}

/// Another server's handshake at `t` (the link works).
fn link_works(tl: &mut Timeline, cport: u16, t: i64) {
    let mut s = TcpSession::new(
        client(cport),
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 61).into(), 443)),
    );
    let t = s.handshake(tl, t, RTT);
    s.close(tl, t + 10 * MS, RTT);
}

/// The stronger case: the server answered QUIC before, then the Initials
/// go unanswered twice while other servers answer: the first at 0.7, the
/// second residual at 0.85.
#[test]
fn quic_blocked_after_the_server_spoke_it_still_opens_a_window() {
    let mut tl = Timeline::new();
    let t = tls_ok(&mut tl, 50_000, T0);
    let t = quic_answered(&mut tl, 50_010, t + S);
    let t0 = t + 40 * S;
    link_works(&mut tl, 50_020, t0 + 400 * MS);
    let t = quic_unanswered(&mut tl, 50_001, t0);
    let t0 = t + 4 * S;
    link_works(&mut tl, 50_021, t0 + 400 * MS);
    let t = quic_unanswered(&mut tl, 50_003, t0);
    later(&mut tl, t);
    let ev = blackholes(tl);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["server_answered_quic"], true, "{}", ev[0]);
    assert_eq!(ev[0]["confidence"], 0.7, "{}", ev[0]);
    assert_eq!(ev[1]["evidence"]["residual"], true, "{}", ev[1]);
    assert_eq!(ev[1]["confidence"], 0.85, "{}", ev[1]);
}

/// Datagrams to UDP/443 that are not QUIC: 1,200 random-looking bytes whose
/// first byte happens to read as a long-header Initial, with no QUIC
/// version (a VPN such as OpenVPN with a static key, its server dropping
/// them). Sixth red-team review, session 20: 0.7, then 0.85 residual.
fn vpn_unanswered(tl: &mut Timeline, cport: u16, t: i64) -> i64 {
    let mut q = UdpFlow::new(client(cport), server(443));
    let mut p = quic::initial(&mut Rng::new(u64::from(cport)));
    p[1..5].copy_from_slice(&[0x5a, 0x17, 0xc3, 0x09]);
    for k in [0, 300, 900, 2_000] {
        q.client_send(tl, t + k * MS, p.clone());
    }
    t + 2_000 * MS
}

/// A working VPN session on UDP/443 (answered, not QUIC).
fn vpn_answered(tl: &mut Timeline, cport: u16, t: i64) -> i64 {
    let mut q = UdpFlow::new(client(cport), server(443));
    let mut p = quic::initial(&mut Rng::new(u64::from(cport)));
    p[1..5].copy_from_slice(&[0x5a, 0x17, 0xc3, 0x09]);
    q.client_send(tl, t, p.clone());
    q.server_send(tl, t + RTT, p.clone());
    q.client_send(tl, t + RTT + MS, p);
    t + RTT + MS
}

/// A VPN on UDP/443 whose server drops its packets, while the server's
/// TCP/443 works: not QUIC, no event; and a VPN session that worked does
/// not make the server one that answered QUIC.
#[test]
fn udp_443_that_is_not_quic_is_not_quic_blocking() {
    let mut tl = Timeline::new();
    let t = tls_ok(&mut tl, 50_000, T0);
    let t = vpn_unanswered(&mut tl, 50_001, t + S);
    let t = vpn_unanswered(&mut tl, 50_002, t + 15 * S);
    later(&mut tl, t);
    let ev = blackholes(tl);
    assert!(ev.is_empty(), "{ev:?}");

    let mut tl = Timeline::new();
    let t = tls_ok(&mut tl, 50_000, T0);
    let t = vpn_answered(&mut tl, 50_005, t + S);
    // (HTTPS working on the link at the time: since session 23 QUIC's
    // contrast needs it, a carrier's cut-off drops all HTTPS)
    let t = tls_ok(&mut tl, 50_006, t + 37 * S);
    let t = quic_unanswered(&mut tl, 50_001, t + 3 * S);
    later(&mut tl, t);
    let ev = blackholes(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        ev[0]["evidence"]["server_answered_quic"], false,
        "{}",
        ev[0]
    );
    assert_eq!(ev[0]["confidence"], 0.6, "{}", ev[0]);
}

/// A server that answered QUIC before; its Initials go unanswered while
/// nothing else on the link answers either (a router that stopped
/// forwarding, carrier up): 0.6 and no window, as for the request stages.
/// With another server's handshake during the attempt: 0.7.
#[test]
fn quic_unanswered_on_a_dark_link_is_weak() {
    for other_answers in [false, true] {
        let mut tl = Timeline::new();
        let t = tls_ok(&mut tl, 50_000, T0);
        let t = quic_answered(&mut tl, 50_010, t + S);
        // (HTTPS working on the link at the time: since session 23 QUIC's
        // contrast needs it, a carrier's cut-off drops all HTTPS)
        let t = tls_ok(&mut tl, 50_011, t + 37 * S);
        let t0 = t + 3 * S;
        let t = quic_unanswered(&mut tl, 50_001, t0);
        if other_answers {
            link_works(&mut tl, 50_020, t0 + 400 * MS);
        }
        later(&mut tl, t);
        let ev = blackholes(tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let want = if other_answers { 0.7 } else { 0.6 };
        assert_eq!(
            ev[0]["confidence"], want,
            "other answers {other_answers}: {}",
            ev[0]
        );
    }
}
