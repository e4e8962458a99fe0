//! A busy server is not a blackhole (found in review, session 19).
//!
//! A server whose accept queue is full (a flash crowd, a slow application)
//! drops SYNs, and the handshake's ACK and the request of a connection it
//! cannot queue, in silence: the client sees a SYN/ACK, then nothing, and
//! retransmits its request, the shape of a request dropped by a censor.
//! Recorded live (40 connections at once to a server with backlog 4 that
//! accepts one a second): 27 `blackhole` events at 0.85. What tells them
//! apart: the same server answered the *same* request on the same port
//! meanwhile (the same SNI; for HTTP the same Host and request line), which
//! a censor blocking that request would have blocked too; for SYNs, the
//! same port answered other connections. And what must still be reported:
//! another request dropped while the server answers (an SNI or a URL
//! keyword), and residual blocking of one client.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_detect::stats::BlackholeStage;
use tw_scenario::{http, tls, Endpoint, Injection, Rng, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;

fn session(client: u8, cport: u16, server: [u8; 4], sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(
        Ipv4Addr::new(192, 0, 2, client).into(),
        cport,
    ));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport));
    TcpSession::new(c, s)
}

const BUSY: [u8; 4] = [203, 0, 113, 5];
const OTHER: [u8; 4] = [198, 51, 100, 60];

fn request(tls_sni: Option<&str>, path: &str, cport: u16) -> Vec<u8> {
    match tls_sni {
        Some(sni) => tls::client_hello(sni, &mut Rng::new(u64::from(cport))),
        None => http::get("busy.example", path),
    }
}

/// A connection on `port` whose request (`sni` for TLS, else an HTTP GET
/// of `path`) the server answers `after` the request.
fn answered(
    tl: &mut Timeline,
    cport: u16,
    port: u16,
    sni: Option<&str>,
    path: &str,
    t: i64,
    after: i64,
) {
    let mut s = session(10, cport, BUSY, port);
    let t = s.handshake(tl, t, RTT);
    let t = s.client_send(tl, t + MS, &request(sni, path, cport));
    let answer = match sni {
        Some(_) => tls::server_flight(&mut Rng::new(7), 900),
        None => http::ok_html(600),
    };
    let t = s.server_send(tl, t + after, &answer);
    let t = s.client_ack(tl, t + MS);
    s.close(tl, t + 100 * MS, RTT);
}

/// A connection on `port` whose handshake completes and whose request goes
/// unanswered (not even acknowledged): retransmitted at 0.2, 0.6, 1.4, 3 s;
/// the client gives up after 8 s with a FIN.
fn silent(
    tl: &mut Timeline,
    client: u8,
    cport: u16,
    port: u16,
    sni: Option<&str>,
    path: &str,
    t: i64,
) {
    let mut s = session(client, cport, BUSY, port);
    let t = s.handshake(tl, t, RTT);
    let t0 = s.client_send(tl, t + MS, &request(sni, path, cport));
    for k in [200, 600, 1_400, 3_000] {
        s.retransmit_client_last(tl, t0 + k * MS);
    }
    s.fin_client(tl, t0 + 8 * S);
}

/// Another server answering, now and then (the link works).
fn link_works(tl: &mut Timeline, from: i64) {
    for i in 0..10u16 {
        let mut s = session(10, 50_000 + i, OTHER, 443);
        let t = s.handshake(tl, from + i64::from(i) * S, RTT);
        s.close(tl, t + 10 * MS, RTT);
    }
}

/// The flow ends are decided by packet time: a packet long after lets every
/// flow time out in order (answered connections, closed, end first).
fn later(tl: &mut Timeline, t: i64) {
    let mut s = session(10, 51_000, OTHER, 443);
    let t = s.handshake(tl, t, RTT);
    s.close(tl, t + 10 * MS, RTT);
}

fn blackholes(tl: Timeline) -> (Vec<serde_json::Value>, tw_detect::Engine) {
    let (e, ev) = common::replay(tl);
    let bh = ev
        .into_iter()
        .filter(|e| e["signature"] == "blackhole")
        .collect();
    (bh, e)
}

fn busy(e: &tw_detect::Engine, stage: BlackholeStage) -> u64 {
    e.stats().blackhole_server_busy[stage.idx()]
}

/// The flash crowd over HTTP: six connections at once with the same
/// request; the server answers three of them as its application accepts
/// them (at once, 2 s, 4 s), the other three get a SYN/ACK and silence.
/// Not reported; counted. (Failed on the code before: three events at 0.85.)
#[test]
fn flash_crowd_on_http_is_not_a_blackhole() {
    let mut tl = Timeline::new();
    for (i, after) in [RTT, 2 * S, 4 * S].into_iter().enumerate() {
        answered(&mut tl, 40_000 + i as u16, 80, None, "/", T0, after);
    }
    for i in 0..3u16 {
        silent(&mut tl, 10, 40_010 + i, 80, None, "/", T0);
    }
    link_works(&mut tl, T0);
    later(&mut tl, T0 + 400 * S);
    let (bh, e) = blackholes(tl);
    assert!(bh.is_empty(), "{bh:?}");
    assert_eq!(busy(&e, BlackholeStage::HttpRequest), 3);
}

/// The same over TLS: one SNI, answered on some connections, silent on
/// others. (Failed on the code before.)
#[test]
fn flash_crowd_on_tls_is_not_a_blackhole() {
    let mut tl = Timeline::new();
    let sni = Some("busy.example");
    for (i, after) in [RTT, 2 * S].into_iter().enumerate() {
        answered(&mut tl, 40_100 + i as u16, 443, sni, "", T0, after);
    }
    for i in 0..2u16 {
        silent(&mut tl, 10, 40_110 + i, 443, sni, "", T0);
    }
    link_works(&mut tl, T0);
    later(&mut tl, T0 + 400 * S);
    let (bh, e) = blackholes(tl);
    assert!(bh.is_empty(), "{bh:?}");
    assert_eq!(busy(&e, BlackholeStage::TlsClientHello), 2);
}

/// What the excuse must not hide: on the same server and port, a blocked
/// SNI's ClientHello dropped while another SNI is answered, and an HTTP
/// request with a keyword in its path dropped while the same Host's other
/// page is answered. Both reported (as before the change).
#[test]
fn another_request_dropped_on_an_answering_server_is_reported() {
    let mut tl = Timeline::new();
    answered(&mut tl, 40_200, 443, Some("busy.example"), "", T0, RTT);
    silent(
        &mut tl,
        10,
        40_201,
        443,
        Some("blocked.example"),
        "",
        T0 + S,
    );
    answered(&mut tl, 40_202, 80, None, "/", T0, RTT);
    silent(&mut tl, 10, 40_203, 80, None, "/search?q=forbidden", T0 + S);
    link_works(&mut tl, T0);
    later(&mut tl, T0 + 400 * S);
    let (bh, e) = blackholes(tl);
    let mut stages: Vec<&str> = bh
        .iter()
        .map(|e| e["evidence"]["stage"].as_str().unwrap())
        .collect();
    stages.sort_unstable();
    assert_eq!(stages, ["http_request", "tls_clienthello"], "{bh:?}");
    assert_eq!(busy(&e, BlackholeStage::HttpRequest), 0);
    assert_eq!(busy(&e, BlackholeStage::TlsClientHello), 0);
}

/// The same request answered long before (beyond the contrast window,
/// 120 s) proves nothing about now: a block that began meanwhile is
/// reported.
#[test]
fn the_same_request_answered_long_before_is_no_excuse() {
    let mut tl = Timeline::new();
    answered(&mut tl, 40_300, 80, None, "/", T0, RTT);
    silent(&mut tl, 10, 40_301, 80, None, "/", T0 + 300 * S);
    link_works(&mut tl, T0 + 300 * S);
    later(&mut tl, T0 + 800 * S);
    let (bh, _) = blackholes(tl);
    assert_eq!(bh.len(), 1, "{bh:?}");
}

/// SYNs dropped by a listener whose queue is full while the same port
/// answers other connections (and another port works): no port block.
/// (Failed on the code before: `syn_unanswered` with
/// `same_server_other_port`, 0.7.)
#[test]
fn syns_dropped_by_a_busy_port_that_answers_others_are_not_reported() {
    let mut tl = Timeline::new();
    answered(&mut tl, 40_400, 80, None, "/", T0, RTT);
    answered(&mut tl, 40_401, 443, Some("busy.example"), "", T0 + S, RTT);
    let mut s = session(10, 40_402, BUSY, 443);
    s.syn(&mut tl, T0 + S);
    for k in [1, 3] {
        s.retransmit_client_last(&mut tl, T0 + S + k * S);
    }
    answered(
        &mut tl,
        40_403,
        443,
        Some("busy.example"),
        "",
        T0 + 4 * S,
        RTT,
    );
    link_works(&mut tl, T0);
    later(&mut tl, T0 + 400 * S);
    let (bh, e) = blackholes(tl);
    assert!(bh.is_empty(), "{bh:?}");
    assert_eq!(busy(&e, BlackholeStage::Syn), 1);
}

/// Residual blocking is per client: after a reset injected into client
/// .10's connection, its SYNs to the port go unanswered for a minute while
/// client .11's connections to the same port work. Still reported, as
/// residual.
#[test]
fn residual_blocking_of_one_client_is_reported_while_others_get_through() {
    let mut tl = Timeline::new();
    let mut s = session(10, 40_500, BUSY, 443);
    let t = s.handshake(&mut tl, T0, RTT);
    let mut rng = Rng::new(3);
    let t = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("blocked.example", &mut rng),
    );
    s.inject_from_server(
        &mut tl,
        t + 2 * MS,
        &Injection::rst_ack().ttl(40).ip_id(0x1111).df(false),
    );
    s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 800));
    s.rst_from_client(&mut tl, t + RTT + MS);
    let t1 = t + 20 * S;
    let mut other = session(11, 40_501, BUSY, 443);
    let t2 = other.handshake(&mut tl, t1 - S, RTT);
    let t2 = other.client_send(&mut tl, t2 + MS, &tls::client_hello("ok.example", &mut rng));
    let t2 = other.server_send(&mut tl, t2 + RTT, &tls::server_flight(&mut rng, 900));
    other.close(&mut tl, t2 + MS, RTT);
    let mut r = session(10, 40_502, BUSY, 443);
    r.syn(&mut tl, t1);
    for k in [1, 3] {
        r.retransmit_client_last(&mut tl, t1 + k * S);
    }
    link_works(&mut tl, t1);
    later(&mut tl, t1 + 400 * S);
    let (bh, _) = blackholes(tl);
    assert_eq!(bh.len(), 1, "{bh:?}");
    assert_eq!(bh[0]["evidence"]["stage"], "syn");
    assert_eq!(bh[0]["evidence"]["residual"], true);
}

/// An injected block page is data from the server's side, but no answer
/// of the server's: a censor that answers one request with Iran's page
/// (an `http_injection` event) and drops the same request on another
/// client's connection does not make the drop a busy server's. (Failed
/// without the check: the block page counted as the server's answer.)
#[test]
fn an_injected_block_page_is_no_answer_of_the_server() {
    let mut tl = Timeline::new();
    let mut s = session(10, 40_600, BUSY, 80);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("busy.example", "/"));
    let body = br#"<html><head><title>M1-6</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy" style="width: 100%; height: 100%"></iframe></body></html>"#;
    let mut page = Injection::data(http::response(403, "Forbidden", "text/html", body))
        .ttl(64)
        .ip_id(1)
        .df(false);
    page.flags =
        tw_scenario::TcpFlags(tw_scenario::TcpFlags::PSH_ACK.0 | tw_scenario::TcpFlags::FIN.0);
    s.inject_from_server(&mut tl, t + MS / 2, &page);
    s.rst_from_client(&mut tl, t + 5 * MS);
    // (another client: no residual window of its own)
    silent(&mut tl, 11, 40_601, 80, None, "/", T0 + 2 * S);
    link_works(&mut tl, T0);
    later(&mut tl, T0 + 400 * S);
    let (e, ev) = common::replay(tl);
    let sigs: Vec<&str> = ev
        .iter()
        .map(|e| e["signature"].as_str().unwrap())
        .collect();
    assert!(sigs.contains(&"http_injection"), "{ev:?}");
    assert!(sigs.contains(&"blackhole"), "{ev:?}");
    assert_eq!(busy(&e, BlackholeStage::HttpRequest), 0);
}
