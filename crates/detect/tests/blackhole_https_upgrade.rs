//! A browser trying `https://` first at a site that serves plain HTTP
//! (session 21; the ninth red-team review).
//!
//! Chrome's HTTPS-Upgrades (Chrome 115 on) turns every `http://` navigation
//! into `https://` first and falls back to `http://` after 3 s. At a site
//! that serves only plain HTTP and whose firewall drops port 443 (a
//! default-deny firewall that opens port 80), its SYNs to 443 go unanswered
//! while the page then loads over port 80: `syn_unanswered` with the
//! other-port contrast, 0.7, at every visit. A site whose port 80 serves
//! pages (a 2xx, or a redirect that is not to `https://`) is not expected
//! to answer on 443: such failures are counted
//! (`tamperwatch_blackhole_https_upgrade_total`), not reported. A site whose
//! port 80 redirects to HTTPS expects HTTPS: a dropped 443 there is still
//! judged.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_detect::Engine;
use tw_scenario::{http, Endpoint, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;

fn session(cport: u16, server: [u8; 4], sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport));
    TcpSession::new(c, s)
}

const SITE: [u8; 4] = [203, 0, 113, 12];
const OTHER: [u8; 4] = [198, 51, 100, 20];

/// A visit at `t`: the upgraded attempt (a SYN to 443 and its
/// retransmissions, nothing back; another site's handshake meanwhile), then
/// after 3 s the page over port 80, answered with `answer`.
fn visit(tl: &mut Timeline, cport: u16, t: i64, answer: &[u8]) -> i64 {
    let mut s = session(cport, SITE, 443);
    s.syn(tl, t);
    s.retransmit_client_last(tl, t + S);
    s.retransmit_client_last(tl, t + 3 * S);
    let mut o = session(cport + 1, OTHER, 443);
    let h = o.handshake(tl, t + 500 * MS, RTT);
    o.close(tl, h + 10 * MS, RTT);
    // (the browser opened port 80 before, a preconnect, and sends the
    // request when it falls back)
    let mut p = session(cport + 2, SITE, 80);
    p.handshake(tl, t - 200 * MS, RTT);
    let h = p.client_send(tl, t + 3 * S, &http::get("old.example", "/"));
    let h = p.server_send(tl, h + RTT, answer);
    p.close(tl, h + MS, RTT)
}

fn redirect(to: &str) -> Vec<u8> {
    format!("HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nlocation: {to}\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

/// Two visits, then a connection long after (so every flow ends in order).
fn run(answer: &[u8]) -> (Engine, Vec<serde_json::Value>) {
    let mut tl = Timeline::new();
    let t = visit(&mut tl, 40_000, T0, answer);
    visit(&mut tl, 40_010, t + 5 * S, answer);
    let mut s = session(40_020, OTHER, 443);
    let h = s.handshake(&mut tl, T0 + 400 * S, RTT);
    s.close(&mut tl, h + 10 * MS, RTT);
    common::replay_of(tl, "blackhole")
}

/// `https_upgrade.pcap`: the site's port 80 serves its pages. (Failed on the
/// code before: 2 events at 0.7.)
#[test]
fn an_http_only_site_upgraded_by_the_browser_is_not_blocking() {
    let (e, ev) = run(&http::ok_html(3000));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(e.stats().blackhole_https_upgrade, 2);
    // a redirect to another plain-HTTP URL, or a relative one, is plain HTTP
    for to in ["http://www.old.example/", "/index.php"] {
        let (e, ev) = run(&redirect(to));
        assert!(ev.is_empty(), "{to}: {ev:?}");
        assert_eq!(e.stats().blackhole_https_upgrade, 2, "{to}");
    }
}

/// A site whose port 80 redirects to HTTPS expects HTTPS: its port 443
/// dropped is still reported (a censor blocking the site's HTTPS), and so
/// is one whose port 80 answered only with an error.
#[test]
fn a_site_that_redirects_to_https_is_still_judged() {
    for answer in [
        redirect("https://old.example/"),
        http::response(404, "Not Found", "text/html", b"<h1>no</h1>"),
    ] {
        let (e, ev) = run(&answer);
        assert_eq!(ev.len(), 2, "{ev:?}");
        for x in &ev {
            assert_eq!(x["flow"]["server_port"], 443, "{x}");
            assert_eq!(x["evidence"]["other_port"]["port"], 80, "{x}");
        }
        assert_eq!(e.stats().blackhole_https_upgrade, 0);
    }
}

/// Port 80 served a page *before* the attempt at 443 (a page over HTTP
/// linking the site's HTTPS, `bh_syn_port_blocked.pcap`'s shape), or the
/// request on port 80 went out sooner than 2 s or later than 3.5 s after
/// it (a browser falls back after its 3 s timer; another application's
/// request at another moment is no fallback): port blocking is still
/// reported.
#[test]
fn a_page_fetched_before_the_https_attempt_is_no_fallback() {
    for page_after in [-2 * S, S, 4 * S, 6 * S] {
        let mut tl = Timeline::new();
        let t = T0 + 10 * S;
        let mut s = session(40_000, SITE, 443);
        s.syn(&mut tl, t);
        s.retransmit_client_last(&mut tl, t + S);
        s.retransmit_client_last(&mut tl, t + 3 * S);
        s.retransmit_client_last(&mut tl, t + 7 * S);
        let mut o = session(40_001, OTHER, 443);
        let h = o.handshake(&mut tl, t + 500 * MS, RTT);
        o.close(&mut tl, h + 10 * MS, RTT);
        let mut p = session(40_002, SITE, 80);
        let h = p.handshake(&mut tl, t + page_after, RTT);
        let h = p.client_send(&mut tl, h + MS, &http::get("old.example", "/"));
        let h = p.server_send(&mut tl, h + RTT, &http::ok_html(3000));
        p.close(&mut tl, h + MS, RTT);
        let mut z = session(40_003, OTHER, 443);
        let h = z.handshake(&mut tl, T0 + 400 * S, RTT);
        z.close(&mut tl, h + 10 * MS, RTT);
        let (e, ev) = common::replay_of(tl, "blackhole");
        assert_eq!(ev.len(), 1, "page at {page_after}: {ev:?}");
        assert_eq!(e.stats().blackhole_https_upgrade, 0);
    }
}
