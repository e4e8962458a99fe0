//! A block page served by whatever terminated the connection (no packet
//! disagrees with another): `origin` says where that was. An intercepting
//! proxy in the vantage point's router or LAN (its SYN/ACK and page with
//! an initial TTL: no router passed them on) is `first_hop`; a filter at
//! the server's end (CenTrace's FortiGate page at the server's TTL) stays
//! `server_side` (session 21; the fifth red-team review's Squid miss).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{http, Endpoint, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

/// Squid's access-denied page: its own error header and page.
fn squid_denied() -> Vec<u8> {
    let body = b"<html><head><title>ERROR: The requested URL could not be retrieved</title></head>\
<body><h1>ERROR</h1><p>Access control configuration prevents your request from being allowed at this time.</p></body></html>";
    let mut r = format!(
        "HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\nContent-Type: text/html;charset=utf-8\r\n\
Content-Length: {}\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A fetch of blocked.example whose every packet from the server's side
/// comes with IP TTL `ttl`, answered `answer` after 2 ms.
fn fetch(ttl: u8, answer: &[u8]) -> Vec<serde_json::Value> {
    let mut tl = Timeline::new();
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 40_000));
    let srv = Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 7).into(), 80));
    let mut s = TcpSession::new(c, srv);
    s.server.ttl = ttl;
    let t = s.handshake(&mut tl, T0, MS);
    let t = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    let t = s.server_send(&mut tl, t + 2 * MS, answer);
    let t = s.client_ack(&mut tl, t + MS);
    s.close(&mut tl, t + 10 * MS, MS);
    common::replay(tl)
        .1
        .into_iter()
        .filter(|e| e["signature"] == "http_injection")
        .collect()
}

#[test]
fn a_proxy_page_one_hop_away_is_first_hop() {
    for ttl in [64, 128, 255] {
        let ev = fetch(ttl, &squid_denied());
        assert_eq!(ev.len(), 1, "{ev:?}");
        let x = &ev[0]["evidence"];
        assert_eq!(x["origin"], "first_hop", "{ttl}: {x}");
        assert_eq!(x["fingerprint"]["name"], "tw.squid_access_denied");
        assert_eq!(ev[0]["confidence"], 0.6);
    }
}

#[test]
fn a_proxy_page_from_farther_is_server_side() {
    for ttl in [63, 50, 120] {
        let ev = fetch(ttl, &squid_denied());
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0]["evidence"]["origin"], "server_side", "{ttl}");
    }
}

/// Squid's other errors (a dead origin behind it) and a plain 403 are no
/// block pages.
#[test]
fn other_proxy_errors_and_plain_403s_are_clean() {
    let failed = String::from_utf8(squid_denied())
        .unwrap()
        .replace("ERR_ACCESS_DENIED 0", "ERR_CONNECT_FAIL 111")
        .replace("403 Forbidden", "503 Service Unavailable");
    assert!(fetch(64, failed.as_bytes()).is_empty());
    let plain = http::response(403, "Forbidden", "text/html", b"<h1>Forbidden</h1>");
    assert!(fetch(64, &plain).is_empty());
}
