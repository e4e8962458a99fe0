//! Found in the third review (session 18) of 'sooner than the origin' behind a
//! SYN proxy: a cached 304 a hair under the measured handshakes (jitter) was
//! reported while the bound was the whole round trip to the proxy.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::IpIdMode::Sequential;
use tw_scenario::{http, Endpoint, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

fn http_events(tl: Timeline) -> Vec<serde_json::Value> {
    common::replay(tl)
        .1
        .into_iter()
        .filter(|e| e["signature"] == "http_injection")
        .collect()
}

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

fn as_origin(s: &mut TcpSession, id: u16) {
    s.server.ttl = 52;
    s.server.df = true;
    s.server.ip_id = Sequential { next: id, step: 1 };
    s.server.window = 509;
}

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

fn origin_answers(tl: &mut Timeline, port: u16, t: i64, hs: i64, after: i64, answer: &[u8]) {
    let mut s = proxied_on(port);
    let t = s.handshake(tl, t + 1_000 * MS, hs);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/x"));
    as_origin(&mut s, 42_000);
    let at = s.server_send(tl, t + after, answer);
    let at = s.client_ack(tl, at + MS);
    s.close(tl, at + 5_000 * MS, 60 * MS);
}

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
