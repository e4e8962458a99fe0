//! A dead HTTPS server behind a proxy on the vantage point's own network is
//! not a blackhole (found by the fifth red-team review, session 20).
//!
//! A TLS-inspecting gateway (mitmproxy in transparent mode) or an SNI
//! router (nginx `stream` with `ssl_preread`) in the client's router
//! completes the client's handshake itself and acknowledges its
//! ClientHello, then waits for the origin, which may simply be down: the
//! client sees a ClientHello acknowledged and never answered, the shape of
//! a censor dropping the ServerHello (`acknowledged_never_answered`),
//! recorded live at 0.7. What tells it apart: the SYN/ACK passed no router
//! (it arrived with an initial TTL, 64 here), so the ACK says nothing about
//! the server beyond the box. A handshake with the real server (its
//! SYN/ACK through routers) is judged as before.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{tls, Endpoint, Injection, Rng, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;

/// A connection to 203.0.113.50:443 whose server side (SYN/ACK and ACKs)
/// arrives with `ttl` after `rtt`; its ClientHello for `sni` is
/// acknowledged and never answered, and the client gives up after 10 s.
fn hung(tl: &mut Timeline, cport: u16, ttl: u8, rtt: i64, sni: &str, t: i64) {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 50).into(), 443)).with_ttl(ttl);
    let mut s = TcpSession::new(c, s);
    let t = s.handshake(tl, t, rtt);
    let mut rng = Rng::new(u64::from(cport));
    let t0 = s.client_send(tl, t + MS, &tls::client_hello(sni, &mut rng));
    s.server_ack(tl, t0 + rtt);
    s.rst_from_client(tl, t0 + 10 * S);
}

/// Other servers answering through the same box meanwhile (the link works).
fn others(tl: &mut Timeline, ttl: u8, rtt: i64, t: i64) {
    for i in 0..4u16 {
        let c = Endpoint::client(SocketAddr::new(
            Ipv4Addr::new(192, 0, 2, 10).into(),
            50_000 + i,
        ));
        let srv = Endpoint::server(SocketAddr::new(
            Ipv4Addr::new(198, 51, 100, 60 + i as u8).into(),
            443,
        ))
        .with_ttl(ttl);
        let mut s = TcpSession::new(c, srv);
        let t = s.handshake(tl, t + i64::from(i) * 2 * S, rtt);
        let mut rng = Rng::new(u64::from(i));
        let t = s.client_send(tl, t + MS, &tls::client_hello("ok.example", &mut rng));
        let t = s.server_send(tl, t + rtt, &tls::server_flight(&mut rng, 900));
        s.close(tl, t + MS, rtt);
    }
}

fn blackholes(tl: Timeline) -> (Vec<serde_json::Value>, u64) {
    let (e, ev) = common::replay(tl);
    let bh = ev
        .into_iter()
        .filter(|e| e["signature"] == "blackhole")
        .collect();
    (bh, e.stats().blackhole_first_hop_handshake)
}

/// The proxy in the router (handshakes in 2 ms, TTL 64): the dead origin's
/// connections raise nothing, and are counted.
#[test]
fn a_dead_origin_behind_a_local_tls_proxy_is_not_a_blackhole() {
    let mut tl = Timeline::new();
    others(&mut tl, 64, 2 * MS, T0);
    hung(&mut tl, 41_000, 64, 2 * MS, "down.example", T0 + S);
    hung(&mut tl, 41_001, 64, 2 * MS, "down.example", T0 + 12 * S);
    let (ev, n) = blackholes(tl);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, 2);
}

/// A Windows box (TTL 128) as the proxy: the same.
#[test]
fn a_local_proxy_with_another_initial_ttl_is_recognised() {
    let mut tl = Timeline::new();
    others(&mut tl, 128, 2 * MS, T0);
    hung(&mut tl, 41_000, 128, 2 * MS, "down.example", T0 + S);
    let (ev, n) = blackholes(tl);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, 1);
}

/// The server itself, through routers (TTL 49 at the client, 80 ms):
/// the ServerHello dropped is reported as before, whatever the other
/// servers' distance.
#[test]
fn a_far_server_acknowledging_and_never_answering_is_still_reported() {
    for (ttl, rtt) in [(49u8, 80 * MS), (63, 2 * MS)] {
        let mut tl = Timeline::new();
        others(&mut tl, 64, 2 * MS, T0);
        hung(&mut tl, 41_000, ttl, rtt, "blocked.example", T0 + S);
        let (ev, n) = blackholes(tl);
        assert_eq!(ev.len(), 1, "TTL {ttl}: {ev:?}");
        assert_eq!(ev[0]["evidence"]["stage"], "tls_clienthello");
        let rules = ev[0]["evidence"]["rules"].to_string();
        assert!(rules.contains("acknowledged_never_answered"), "{rules}");
        assert_eq!(n, 0);
    }
}

/// A connection to the far server (TTL 49, 80 ms) whose ClientHello is
/// acknowledged; then, 4 s later, the server's side closes with a FIN:
/// `sent` bytes after its SYN/ACK before it (a ServerHello that never
/// reached the client), with TTL `fin_ttl`. The client gives up at 10 s.
fn closed(tl: &mut Timeline, sent: u32, fin_ttl: u8) {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 41_500));
    let srv =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 50).into(), 443)).with_ttl(49);
    let mut s = TcpSession::new(c, srv);
    let t = s.handshake(tl, T0 + S, 80 * MS);
    let mut rng = Rng::new(5);
    let t0 = s.client_send(tl, t + MS, &tls::client_hello("site.example", &mut rng));
    s.server_ack(tl, t0 + 80 * MS);
    // (what the server sent and the client never saw)
    s.state.server_next_seq = s.state.server_next_seq.wrapping_add(sent);
    let fin = Injection {
        flags: tw_scenario::TcpFlags::FIN_ACK,
        ..Injection::default()
    }
    .ttl(fin_ttl);
    s.inject_from_server(tl, t0 + 4 * S, &fin);
    s.rst_from_client(tl, t0 + 10 * S);
}

/// A TCP proxy (haproxy in TCP mode) whose backend is down: it
/// acknowledges the ClientHello, retries its backend, and closes with a FIN
/// at the first sequence number after its SYN/ACK: it never sent a byte,
/// so there was no ServerHello to drop. (Reported at 0.7 before: the
/// fourth red-team review, session 20.)
#[test]
fn a_server_closing_without_a_byte_is_not_a_dropped_serverhello() {
    let mut tl = Timeline::new();
    others(&mut tl, 49, 80 * MS, T0);
    closed(&mut tl, 0, 49);
    let (ev, _) = blackholes(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// What stays reported: the server's FIN after data the client never saw
/// (its ServerHello dropped on the way), and a FIN at the first sequence
/// number over another path (TTL 60: not the server's).
#[test]
fn a_fin_after_unseen_data_or_off_the_path_does_not_excuse() {
    for (sent, ttl) in [(1200u32, 49u8), (0, 60)] {
        let mut tl = Timeline::new();
        others(&mut tl, 49, 80 * MS, T0);
        closed(&mut tl, sent, ttl);
        let (ev, _) = blackholes(tl);
        assert_eq!(ev.len(), 1, "sent {sent}, TTL {ttl}: {ev:?}");
        let rules = ev[0]["evidence"]["rules"].to_string();
        assert!(rules.contains("acknowledged_never_answered"), "{rules}");
    }
}
