//! Found in review (session 18) of the answer-path timing: clean traffic the
//! "sooner than a fifth of the origin's fastest answer" rule reported before
//! it also required the answer to be early against the handshake.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::IpIdMode::Sequential;
use tw_scenario::{http, Endpoint, Injection, TcpFlags, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;
/// The proxy's (scrubbing centre's) handshake round trip.
const PROXY_RTT: i64 = 30 * MS;

fn http_events(tl: Timeline) -> Vec<serde_json::Value> {
    common::replay(tl)
        .1
        .into_iter()
        .filter(|e| e["signature"] == "http_injection")
        .collect()
}

/// A connection from 192.0.2.10:`port` to the SYN-proxied site
/// 198.51.100.90:80: the proxy answers the handshake (TTL 56, no DF, its
/// own IP IDs), the origin everything after it (see [`as_origin`]).
fn proxied_on(port: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let srv = Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 90).into(), 80));
    let mut s = TcpSession::new(c, srv);
    s.server.ttl = 56;
    s.server.df = false;
    s.server.ip_id = Sequential {
        next: 7_000u16.wrapping_add(port.wrapping_mul(8)),
        step: 1,
    };
    s
}

/// The origin (TTL 52, DF) speaks from now on.
fn as_origin(s: &mut TcpSession, id: u16) {
    s.server.ttl = 52;
    s.server.df = true;
    s.server.ip_id = Sequential { next: id, step: 1 };
    s.server.window = 509;
}

/// A page load at the site on `port` at `t0`: handshake (`hs`), request,
/// the origin's ACK of it after `ack` (if any) and its 5000-byte page
/// `page` after the request. Returns the time of its last packet.
fn page_load(tl: &mut Timeline, port: u16, t0: i64, hs: i64, ack: Option<i64>, page: i64) -> i64 {
    let mut s = proxied_on(port);
    let t = s.handshake(tl, t0, hs);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/news"));
    as_origin(&mut s, port.wrapping_mul(5));
    if let Some(a) = ack {
        s.server_ack(tl, t + a);
    }
    let at = s.server_send(tl, t + page, &http::ok_html(5000));
    let at = s.client_ack(tl, at + MS);
    s.close(tl, at + 500 * MS, 60 * MS)
}

fn nginx_404() -> Vec<u8> {
    http::response(
        404,
        "Not Found",
        "text/html",
        b"<html><center><h1>404 Not Found</h1></center><hr><center>nginx</center></html>",
    )
}

fn not_modified() -> Vec<u8> {
    b"HTTP/1.1 304 Not Modified\r\nServer: nginx\r\nETag: \"65a1-5e0\"\r\n\r\n".to_vec()
}

fn redirect() -> Vec<u8> {
    b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nLocation: http://example.com/news/\r\nContent-Length: 0\r\n\r\n".to_vec()
}

/// A second after `t`, a connection on `port` (handshake `hs`) whose
/// request is answered by the origin's one-segment `answer` after `after`.
fn origin_answers(tl: &mut Timeline, port: u16, t: i64, hs: i64, after: i64, answer: &[u8]) {
    let mut s = proxied_on(port);
    let t = s.handshake(tl, t + 1_000 * MS, hs);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/x"));
    as_origin(&mut s, 42_000);
    let at = s.server_send(tl, t + after, answer);
    let at = s.client_ack(tl, at + MS);
    s.close(tl, at + 5_000 * MS, 60 * MS);
}

/// A second after `t`, a connection on `port` (handshake `hs`) whose
/// request an in-path box near the client answers after `after` with its
/// own one-segment block page, with the origin's TTL (52) and DF and its own
/// IP IDs, and FIN.
fn injector_answers(tl: &mut Timeline, port: u16, t: i64, hs: i64, after: i64) {
    let mut s = proxied_on(port);
    let t = s.handshake(tl, t + 1_000 * MS, hs);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/banned"));
    let mut inj = Injection::data(http::response(
        403,
        "Forbidden",
        "text/html",
        b"<html><body>Access to this site is restricted</body></html>",
    ))
    .ttl(52)
    .df(true)
    .ip_id(0x0abc)
    .window(8192);
    inj.flags = TcpFlags(TcpFlags::PSH_ACK.0 | TcpFlags::FIN.0);
    let at = s.inject_from_server(tl, t + after, &inj);
    s.client_ack(tl, at + MS);
}

/// A Windows/IIS origin behind a SYN proxy, 30 ms from the client: every
/// dynamic page takes 300 ms to render, so the origin's 200 ms delayed ACK
/// is the first packet that acknowledges each request (fastest: 230 ms,
/// a fifth of it 46 ms). http.sys then answers a conditional GET from its
/// kernel cache: a one-segment 304 (or a small 301/404) 31 ms after the
/// request, one RTT. Clean traffic; the rule takes it for a near injector.
#[test]
fn delayed_ack_origin_cached_304_is_clean() {
    let o = 30 * MS;
    for answer in [not_modified(), redirect(), nginx_404()] {
        let mut tl = Timeline::new();
        let mut t = T0;
        for i in 0..3u16 {
            t = page_load(
                &mut tl,
                56420 + i,
                t + 2_000 * MS,
                25 * MS,
                Some(o + 200 * MS),
                o + 300 * MS,
            );
        }
        origin_answers(&mut tl, 56430, t, 25 * MS, o + MS, &answer);
        let ev = http_events(tl);
        assert!(ev.is_empty(), "windows origin, cached answer: {ev:?}");
    }
}

/// The "no ACK of its own" origin of `static_and_dynamic_answers_of_one_origin_stay_clean`
/// (60 ms away) with a CMS that takes 260 ms or more (instead of 150): the
/// fastest answer is 320 ms, a fifth of it 64 ms, and nginx's 304 at 61 ms
/// (one RTT) is reported.
#[test]
fn slow_cms_without_ack_then_fast_304_is_clean() {
    let o = 60 * MS;
    let mut tl = Timeline::new();
    let mut t = T0;
    for (i, page) in [260 * MS, 300 * MS, 500 * MS].into_iter().enumerate() {
        t = page_load(
            &mut tl,
            56440 + i as u16,
            t + 2_000 * MS,
            25 * MS,
            None,
            o + page,
        );
    }
    origin_answers(&mut tl, 56450, t, 25 * MS, o + MS, &not_modified());
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// Bufferbloat: while the volunteer's uplink is saturated (a cloud backup),
/// every packet waits ~500 ms in the modem's queue; the origin (a Linux
/// box 40 ms away, quick ACK) is timed at 540 ms on each page load. The
/// backup ends; the next lone 304 comes 41 ms after its request (one
/// RTT), under a fifth of 540 ms. The same holds for a client that moved
/// from a slow network (tethering, satellite) to a fast one with the same
/// hop count (the TTL fits within the tolerance of 3), and paths live as
/// long as the server entry (an hour idle).
#[test]
fn answers_timed_under_bufferbloat_do_not_flag_later_answers() {
    let o = 40 * MS;
    let q = 500 * MS;
    let mut tl = Timeline::new();
    let mut t = T0;
    for i in 0..3u16 {
        t = page_load(
            &mut tl,
            56460 + i,
            t + 2_000 * MS,
            25 * MS + q,
            Some(o + q),
            o + q + 20 * MS,
        );
    }
    origin_answers(
        &mut tl,
        56470,
        t + 60_000 * MS,
        25 * MS,
        o + MS,
        &not_modified(),
    );
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// Guard for any fix of the three above: with the same slow-page path
/// (delayed ACK at 230 ms), the near injector 2 ms after the request is
/// still reported (passes today; must keep passing).
#[test]
fn guard_near_injector_still_reported_on_a_slow_path() {
    let o = 30 * MS;
    let mut tl = Timeline::new();
    let mut t = T0;
    for i in 0..3u16 {
        t = page_load(
            &mut tl,
            56480 + i,
            t + 2_000 * MS,
            PROXY_RTT,
            Some(o + 200 * MS),
            o + 300 * MS,
        );
    }
    injector_answers(&mut tl, 56490, t, PROXY_RTT, 2 * MS);
    assert_eq!(http_events(tl).len(), 1);
}
