//! The fastest answer timed over each path of a server's answers
//! (`AnswerPath::answer_ms`, recorded by the RST detector) and its use by
//! the HTTP detector: behind a SYN proxy, a lone response over a path of
//! the origin's answers is taken for the origin's unless it came much
//! sooner than the origin ever answered over that path (an injector near
//! the client whose page has the origin's TTL and DF: the blind spot of
//! http_injection.md before this). The traps: a stretched handshake, a
//! slow dynamic page against a fast 304, a request sent after a silence
//! (a radio waking up), a lost and resent request, pipelining, keep-alive.

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

/// The blind spot this closes: the origin's pages came 40 ms after the
/// request over TTL 52 with DF; an in-path box near the client answers a
/// request 2 ms after it with a one-segment page of the same TTL and DF.
/// It was taken for the origin's, "early or not" (no event, with a normal
/// or a radio-stretched handshake); it is now judged against the proxy's
/// SYN/ACK, and the event says why. (Failed on the code before the
/// answer times: no event.)
#[test]
fn a_near_injector_with_the_origins_ttl_and_df_is_reported() {
    let mut out = vec![];
    for hs in [PROXY_RTT, 900 * MS] {
        let mut tl = Timeline::new();
        let t = page_load(&mut tl, 56300, T0, PROXY_RTT, None, 40 * MS);
        injector_answers(&mut tl, 56301, t, hs, 2 * MS);
        let ev = http_events(tl);
        assert_eq!(ev.len(), 1, "handshake {}: {ev:?}", hs / MS);
        let e = &ev[0]["evidence"];
        assert_eq!(e["origin_fastest_answer_ms"], 40, "{e}");
        assert_eq!(e["response_after_request_ms"], 2.0, "{e}");
        let rules: Vec<&str> = e["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(rules.contains(&"ttl_mismatch") && rules.contains(&"df_mismatch"));
        out.push((hs / MS, e["origin"].clone()));
    }
    assert_eq!(out, vec![(30, "on_path".into()), (900, "on_path".into())]);
}

/// The origin's own one-segment answers over its known path at their usual
/// time (and at half of it: a faster route), after a normal handshake and
/// after one a waking radio stretched to 900 ms (the answer time runs from
/// the request, so the handshake is no part of it): clean.
#[test]
fn the_origins_lone_answers_at_their_usual_time_stay_clean() {
    for hs in [PROXY_RTT, 900 * MS] {
        for after in [40 * MS, 20 * MS] {
            for answer in [nginx_404(), not_modified(), redirect()] {
                let mut tl = Timeline::new();
                let t = page_load(&mut tl, 56310, T0, PROXY_RTT, None, 40 * MS);
                origin_answers(&mut tl, 56311, t, hs, after, &answer);
                let ev = http_events(tl);
                assert!(ev.is_empty(), "hs {} after {}: {ev:?}", hs / MS, after / MS);
            }
        }
    }
}

/// Static and dynamic answers of one origin, 60 ms from the client through
/// the scrubbing centre (its handshake: 25 ms): the site's pages are
/// dynamic (a CMS taking 150 to 500 ms to render them; its static files
/// are on a CDN, another server), and nginx's 304, 301 and 404 in front of
/// it answer in 61 ms. How the page's answer is timed:
/// - a Linux origin ACKs the request at once (quick ACKs at a
///   connection's start), then sends the page 310 ms after the request;
/// - an origin that sends no ACK of its own: the pages at 210, 260, 560 ms
///   (the first segment of the fastest is 210 ms after the request: half
///   of that, the share of a handshake's round trip that makes a response
///   "early", is 105 ms, and the 304 at 61 ms would have been judged);
/// - a Windows origin (200 ms delayed ACK): its ACK at 260 ms, the page
///   at 560 ms.
///
/// The fastest answer is timed to the server's first packet that
/// acknowledges the request, and a response counts as sooner than the
/// origin only below a fifth of it: all clean.
#[test]
fn static_and_dynamic_answers_of_one_origin_stay_clean() {
    let o = 60 * MS;
    let hs = 25 * MS;
    type Loads = [(Option<i64>, i64); 3];
    let servers: [(&str, Loads); 3] = [
        (
            "linux",
            [
                (Some(o), o + 250 * MS),
                (Some(o), o + 150 * MS),
                (Some(o), o + 500 * MS),
            ],
        ),
        (
            "no ack",
            [
                (None, o + 150 * MS),
                (None, o + 200 * MS),
                (None, o + 500 * MS),
            ],
        ),
        (
            "windows",
            [
                (Some(o + 200 * MS), o + 500 * MS),
                (Some(o + 200 * MS), o + 250 * MS),
                (Some(o + 200 * MS), o + 400 * MS),
            ],
        ),
    ];
    for (name, loads) in servers {
        for answer in [not_modified(), redirect(), nginx_404()] {
            let mut tl = Timeline::new();
            let mut t = T0;
            for (i, (ack, page)) in loads.iter().enumerate() {
                t = page_load(&mut tl, 56320 + i as u16, t + 2_000 * MS, hs, *ack, *page);
            }
            origin_answers(&mut tl, 56330, t, hs, o + MS, &answer);
            let ev = http_events(tl);
            assert!(ev.is_empty(), "{name}: {ev:?}");
        }
    }
}

/// A browser opens a connection ahead of use (preconnect), the radio goes
/// idle, and the request 15 s later waits 900 ms for it to wake: the
/// origin's page comes 940 ms after the request. Were that the path's time,
/// the origin's 404 40 ms after the request on the next connection would
/// be "sooner than a fifth" of it. A request after more than a second of
/// its connection's silence is not timed (the path has no time: the
/// origin excuse stands as before).
#[test]
fn a_request_after_a_silence_is_not_timed() {
    let mut tl = Timeline::new();
    let mut s = proxied_on(56340);
    let t = s.handshake(&mut tl, T0, PROXY_RTT);
    let t = s.client_send(&mut tl, t + 15_000 * MS, &http::get("example.com", "/"));
    as_origin(&mut s, 41_000);
    let at = s.server_send(&mut tl, t + 940 * MS, &http::ok_html(5000));
    let at = s.client_ack(&mut tl, at + MS);
    let t = s.close(&mut tl, at + 500 * MS, 60 * MS);
    origin_answers(&mut tl, 56341, t, PROXY_RTT, 40 * MS, &nginx_404());
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// A request lost twice and resent (at 240 and 720 ms): the origin's ACK
/// and page come 60 ms after the resend, 780 ms after the first copy. The
/// answer is timed from the client's latest data (the resend), not from
/// the oldest request as `run_starts_early` times a run: the path's time is
/// 60 ms, and the origin's 404 61 ms after the request on the next
/// connection stays clean.
#[test]
fn a_lost_and_resent_request_is_timed_from_the_resend() {
    let mut tl = Timeline::new();
    let mut s = proxied_on(56350);
    let t = s.handshake(&mut tl, T0, PROXY_RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
    s.retransmit_client_last(&mut tl, t + 240 * MS);
    let t = s.retransmit_client_last(&mut tl, t + 720 * MS);
    as_origin(&mut s, 41_000);
    s.server_ack(&mut tl, t + 60 * MS);
    let at = s.server_send(&mut tl, t + 70 * MS, &http::ok_html(5000));
    let at = s.client_ack(&mut tl, at + MS);
    let t = s.close(&mut tl, at + 500 * MS, 60 * MS);
    origin_answers(&mut tl, 56351, t, PROXY_RTT, 61 * MS, &nginx_404());
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// Pipelining (a second request 75 ms after the first, the origin 100 ms
/// away): the origin's first answer acknowledges both, 25 ms after the
/// second. Timed from the latest data the path's time errs short (25 ms),
/// which keeps the origin's own 404 clean; a near injector 2 ms after a
/// request is still well under a fifth of it.
#[test]
fn pipelined_requests_keep_the_paths_time_short() {
    let mut out = vec![];
    for injector in [false, true] {
        let mut tl = Timeline::new();
        let mut s = proxied_on(56360);
        let t = s.handshake(&mut tl, T0, PROXY_RTT);
        let t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
        s.client_send(&mut tl, t + 75 * MS, &http::get("example.com", "/a.css"));
        as_origin(&mut s, 41_000);
        let at = s.server_send(&mut tl, t + 100 * MS, &http::ok_html(5000));
        let at = s.server_send(&mut tl, at + MS, &http::ok_html(3000));
        let at = s.client_ack(&mut tl, at + MS);
        let t = s.close(&mut tl, at + 500 * MS, 60 * MS);
        if injector {
            injector_answers(&mut tl, 56361, t, PROXY_RTT, 2 * MS);
        } else {
            origin_answers(&mut tl, 56361, t, PROXY_RTT, 100 * MS, &nginx_404());
        }
        let ev = http_events(tl);
        out.push((
            injector,
            ev.len(),
            ev.first()
                .map(|e| e["evidence"]["origin_fastest_answer_ms"].clone()),
        ));
    }
    assert_eq!(
        out,
        vec![(false, 0, None), (true, 1, Some(serde_json::json!(25)))]
    );
}

/// Keep-alive: the first answer on the connection is a slow dynamic page
/// (400 ms, no ACK before it), the next request on the same connection a
/// stylesheet answered in 62 ms. The later answer's time counts for the
/// path it continues (the connection's run was recorded with the first):
/// the path's time is 62 ms, and the origin's 304 61 ms after a request
/// on the next connection stays clean (against 400 ms alone it was "sooner
/// than a fifth").
#[test]
fn keep_alive_answers_lower_the_paths_time() {
    let mut tl = Timeline::new();
    let mut s = proxied_on(56370);
    let t = s.handshake(&mut tl, T0, PROXY_RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
    as_origin(&mut s, 41_000);
    let at = s.server_send(&mut tl, t + 400 * MS, &http::ok_html(5000));
    let at = s.client_ack(&mut tl, at + MS);
    let t = s.client_send(&mut tl, at + 200 * MS, &http::get("example.com", "/s.css"));
    let at = s.server_send(&mut tl, t + 62 * MS, &http::ok_html(6000));
    let at = s.client_ack(&mut tl, at + MS);
    let t = s.close(&mut tl, at + 500 * MS, 60 * MS);
    origin_answers(&mut tl, 56371, t, PROXY_RTT, 61 * MS, &not_modified());
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// A run that starts early vouches for nothing and teaches no time: a box
/// near the client whose own page of several segments (TTL 52, DF, like
/// the origin's) comes 2 ms after a request, after the origin's page was
/// timed at 40 ms. Had the box's 2 ms become the path's time, it would be
/// under the 10 ms below which no time is trusted, and its next one-segment
/// page would again pass for the origin's.
#[test]
fn an_early_run_teaches_no_time() {
    let mut tl = Timeline::new();
    let t = page_load(&mut tl, 56380, T0, PROXY_RTT, None, 40 * MS);
    let mut s = proxied_on(56381);
    let t1 = s.handshake(&mut tl, t + 1_000 * MS, PROXY_RTT);
    let t1 = s.client_send(&mut tl, t1 + MS, &http::get("example.com", "/banned"));
    as_origin(&mut s, 0x0100);
    let body = vec![b'x'; 4000];
    let at = s.server_send(
        &mut tl,
        t1 + 2 * MS,
        &http::response(403, "Forbidden", "text/html", &body),
    );
    let at = s.client_ack(&mut tl, at + MS);
    // (the box's page races nothing and carries no fingerprint: no event)
    let t = s.close(&mut tl, at + 100 * MS, 60 * MS);
    injector_answers(&mut tl, 56382, t, PROXY_RTT, 2 * MS);
    let ev = http_events(tl);
    let banned: Vec<_> = ev
        .iter()
        .filter(|e| e["evidence"]["origin_fastest_answer_ms"] == 40)
        .collect();
    assert_eq!(banned.len(), 1, "{ev:?}");
}

/// Where the origin's path has no time, nothing changes: its answers were
/// seen only on a connection picked up mid-stream (a restart of the
/// daemon), or the proxy in front ACKs every request itself 4 ms after it
/// (the first packet acknowledging a request: under the 10 ms below which
/// no time is trusted). The near injector's page is still taken for the
/// origin's (the blind spot that remains; http_injection.md).
#[test]
fn an_untimed_origin_path_keeps_the_excuse() {
    for case in ["mid-stream", "proxy acks"] {
        let mut tl = Timeline::new();
        let mut s = proxied_on(56390);
        let t = if case == "mid-stream" {
            s.client_send(&mut tl, T0, &http::get("example.com", "/"))
        } else {
            let t = s.handshake(&mut tl, T0, PROXY_RTT);
            let t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
            s.server_ack(&mut tl, t + 4 * MS);
            t
        };
        as_origin(&mut s, 41_000);
        let at = s.server_send(&mut tl, t + 40 * MS, &http::ok_html(5000));
        let at = s.client_ack(&mut tl, at + MS);
        let t = s.close(&mut tl, at + 500 * MS, 60 * MS);
        injector_answers(&mut tl, 56391, t, PROXY_RTT, 2 * MS);
        let ev = http_events(tl);
        assert!(ev.is_empty(), "{case}: {ev:?}");
    }
}

// ---- Found in three reviews (session 18): clean traffic the "sooner than a
// fifth of the origin's fastest answer" rule reported before it was also
// bounded by the round trip to the proxy, and what each bound that was tried
// missed or reported (once `answer_path_timing_traps.rs`, `_r2.rs`, `_r3.rs`).

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

// Found in the second review (session 18): the bound was half this
// connection's handshake; an injector between half the proxy's round trip
// and the proxy was missed, and a cached 304 after a Wi-Fi power-save
// handshake was reported.

/// FINDING (missed injection): a scrubbing proxy in-country, 12 ms away;
/// the origin behind it answers pages in 150 ms or more (fastest 150 ms,
/// a fifth: 30 ms). The censor's box at the ISP answers 8 ms after the
/// request: 19x sooner than the origin ever did, but not under half the
/// 12 ms handshake, so no longer "sooner than the origin" and the page
/// (origin's TTL and DF) is judged the origin's. Reported before 503b814.
#[test]
fn injector_between_half_and_one_proxy_rtt_is_reported() {
    let proxy = 12 * MS;
    let mut tl = Timeline::new();
    let mut t = T0;
    for i in 0..3u16 {
        t = page_load(&mut tl, 56480 + i, t + 2_000 * MS, proxy, None, 150 * MS);
    }
    injector_answers(&mut tl, 56490, t, proxy, 8 * MS);
    assert_eq!(http_events(tl).len(), 1);
}

/// FINDING (false alarm left): the trap of delayed_ack_origin_cached_304_is_clean
/// on a laptop whose Wi-Fi power save stretched this connection's handshake
/// to 150 ms (the SYN/ACK held at the AP until the next beacon): the origin's
/// 304 one proxy RTT (31 ms) after the request is "early" (under 75 ms) and
/// "sooner than a fifth" of 230 ms: both at once.
#[test]
fn cached_304_after_a_stretched_handshake_is_clean() {
    let o = 30 * MS;
    let mut tl = Timeline::new();
    let mut t = T0;
    for i in 0..3u16 {
        t = page_load(
            &mut tl,
            56480 + i,
            t + 2_000 * MS,
            o,
            Some(o + 200 * MS),
            o + 300 * MS,
        );
    }
    let nm =
        b"HTTP/1.1 304 Not Modified\r\nServer: Microsoft-IIS/10.0\r\nETag: \"65a1-5e0\"\r\n\r\n";
    origin_answers(&mut tl, 56490, t, 150 * MS, o + MS, nm);
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

// Found in the third review (session 18): with the whole round trip to the
// proxy as the bound, a cached 304 a hair under the measured handshakes
// (jitter) was reported.

/// FINDING (false alarm): no margin under the proxy's round trip. A SYN
/// proxy co-located with the origin, 28 ms away; the handshakes as measured
/// at the gateway took 30-32 ms (Wi-Fi jitter, the proxy's cookie work),
/// the origin's pages 150 ms or more. The origin's cached 304, 29 ms after
/// the request (one true round trip plus the origin's 1 ms), is under every
/// handshake measured and a fifth of 150 ms: reported.
#[test]
fn cached_304_a_hair_under_the_measured_handshakes_is_clean() {
    let mut tl = Timeline::new();
    let mut t = T0;
    for (i, hs) in [31 * MS, 30 * MS, 32 * MS].into_iter().enumerate() {
        t = page_load(
            &mut tl,
            56480 + i as u16,
            t + 2_000 * MS,
            hs,
            None,
            150 * MS,
        );
    }
    let nm =
        b"HTTP/1.1 304 Not Modified\r\nServer: Microsoft-IIS/10.0\r\nETag: \"65a1-5e0\"\r\n\r\n";
    origin_answers(&mut tl, 56490, t, 31 * MS, 29 * MS, nm);
    let ev = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}

/// A TLS-inspecting box near the client completes the site's handshakes on
/// 443 itself (TTL 64, 1 ms): a connection to 198.51.100.90:443 through it.
fn gateway_tls(tl: &mut Timeline, port: u16, t: i64) -> i64 {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let srv = Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 90).into(), 443));
    let mut s = TcpSession::new(c, srv);
    s.server.ttl = 64;
    s.server.df = true;
    let t = s.handshake(tl, t, MS);
    let t = s.client_send(tl, t + MS, &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0]);
    let t = s.server_send(tl, t + 2 * MS, &[0x16, 0x03, 0x03, 0x00, 0x02, 2, 0]);
    s.close(tl, t + 100 * MS, MS)
}

/// The documented miss of the third review (session 18), closed: a box near
/// the client completing the same address's handshakes on another port
/// (1 ms on 443) made the server's fastest handshake the bound "sooner than
/// the proxy", and the near injector on port 80 (2 ms after the request,
/// the proxy 30 ms away) was missed. The bound is now the fastest handshake
/// on the connection's port over its SYN/ACK's path. (Failed on the code
/// before: no event.) The origin's answers at their usual time next to the
/// same gateway stay clean.
#[test]
fn a_near_box_on_another_port_does_not_hide_the_near_injector() {
    let mut tl = Timeline::new();
    let mut t = T0;
    for i in 0..3u16 {
        t = gateway_tls(&mut tl, 56200 + i, t + 500 * MS);
    }
    let t = page_load(&mut tl, 56300, t, PROXY_RTT, None, 40 * MS);
    let t2 = gateway_tls(&mut tl, 56210, t + 200 * MS);
    let mut clean = tl.clone();
    injector_answers(&mut tl, 56301, t2, PROXY_RTT, 2 * MS);
    let ev = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["origin_fastest_answer_ms"], 40);
    origin_answers(&mut clean, 56302, t2, PROXY_RTT, 38 * MS, &nginx_404());
    let ev = http_events(clean);
    assert!(ev.is_empty(), "{ev:?}");
}
