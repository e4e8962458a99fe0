//! Scenarios for captive portals (expected verdicts in the tamperwatch test
//! `captive_fixtures.rs`). A laptop (192.0.2.10) that used its resolver
//! 198.51.100.53 at home joins a café's Wi-Fi, whose portal (one hop away:
//! IP TTL 64) intercepts everything until the user logs in: it answers every
//! HTTP request with a redirect to its login page, answers every DNS query
//! with its own address, and drops the rest. The operating system's
//! connectivity check says so; after the login it passes.

use crate::catalogue::MS;
use crate::dns::{qtype, rcode, DnsFlags, Rr};
use crate::endpoint::Endpoint;
use crate::session::{DnsExchange, TcpSession, Timeline, TsClock, UdpOverride, EPOCH_NS};
use crate::{http, Result};
use std::net::{Ipv4Addr, SocketAddr};

const RTT: i64 = 80 * MS;
const S: i64 = 1_000 * MS;
const ETHERNET: u32 = crate::pcap::linktype::ETHERNET;

/// The address Android resolves connectivitycheck.gstatic.com to here.
const GSTATIC: [u8; 4] = [203, 0, 113, 60];
/// A site the laptop visits behind the portal.
const SITE: [u8; 4] = [203, 0, 113, 50];
/// A site whose HTTPS is blocked after the login (a real port block).
const LATER: [u8; 4] = [203, 0, 113, 51];

fn session(server: [u8; 4], cport: u16, sport: u16, portal: bool) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let mut s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport));
    if portal {
        s = s.with_ttl(64);
    }
    TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000))
}

fn resolver(port: u16) -> DnsExchange {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let r =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 53).into(), 53)).with_ttl(56);
    DnsExchange::new(c, r)
}

fn a(name: &str, ip: [u8; 4]) -> Rr {
    Rr::a(name, 300, Ipv4Addr::from(ip))
}

/// An HTTP GET of `path` on `host` at `server`, answered by `answer` (from
/// the portal when `portal`).
#[allow(clippy::too_many_arguments)]
fn http_get(
    tl: &mut Timeline,
    server: [u8; 4],
    cport: u16,
    t: i64,
    host: &str,
    path: &str,
    answer: &[u8],
    portal: bool,
) -> i64 {
    let rtt = if portal { 2 * MS } else { RTT };
    let mut s = session(server, cport, 80, portal);
    let t = s.handshake(tl, t, rtt);
    let t = s.client_send(tl, t + MS, &http::get(host, path));
    let t = s.server_send(tl, t + rtt, answer);
    s.close(tl, t + MS, rtt)
}

fn portal_redirect() -> Vec<u8> {
    let mut v = b"HTTP/1.1 302 Found\r\nLocation: http://192.168.88.1/login?dst=http%3A%2F%2Fconnectivitycheck.gstatic.com%2Fgenerate_204\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    v.shrink_to_fit();
    v
}

fn no_content() -> Vec<u8> {
    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n"
        .to_vec()
}

/// SYNs to `server`:443 that nobody answers (sent at 0, 1, 3 and 7 s),
/// while another application fetches a page over HTTP from another server
/// (answered by the portal when `portal`): the link answers meanwhile.
fn syns_unanswered(tl: &mut Timeline, server: [u8; 4], cport: u16, t: i64, portal: bool) {
    let mut s = session(server, cport, 443, false);
    s.syn(tl, t);
    for k in [1, 3, 7] {
        s.retransmit_client_last(tl, t + k * S);
    }
    let answer = if portal {
        portal_redirect()
    } else {
        http::ok_html(300)
    };
    http_get(
        tl,
        [198, 51, 100, 61],
        cport + 100,
        t + 2 * S,
        "www.other.example",
        "/",
        &answer,
        portal,
    );
}

/// The laptop at home, then behind the café's portal, then logged in.
/// Behind the portal: Android's check answered by a redirect; a DNS answer
/// forged by the portal (its own private address, one hop away, in 1 ms:
/// `bogon_answer`, `ttl_mismatch`, `too_fast` against the resolver's
/// baseline from home); a page on SITE:80 answered by the portal while
/// SITE:443 gets no answer (the shape of a port block). After the login the
/// check passes, and a real port block on LATER:443 (LATER:80 answers from
/// the site itself) must still be reported: the only event.
pub fn captive_portal_cafe() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    // at home: the resolver's baseline, and a check that passes
    let mut t = EPOCH_NS;
    for i in 0..4u16 {
        let name = format!("site{i}.example");
        let mut x = resolver(40001 + i);
        t = x.exchange(
            &mut tl,
            t,
            0x100 + i,
            &name,
            qtype::A,
            &[a(&name, [203, 0, 113, 10 + i as u8])],
            30 * MS + i64::from(i) * MS,
        )? + 100 * MS;
    }
    let t = http_get(
        &mut tl,
        GSTATIC,
        41001,
        t + S,
        "connectivitycheck.gstatic.com",
        "/generate_204",
        &no_content(),
        false,
    );
    // the café, two minutes later: the system checks, the portal answers
    let t = t + 120 * S;
    // (the page's DNS query races the check)
    let mut x = resolver(40010);
    let q = x.query(&mut tl, t, 0x2001, "news.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + MS,
        &q,
        rcode::NOERROR,
        &[a("news.example", [192, 168, 88, 1])],
        DnsFlags::RA,
        UdpOverride {
            ttl: Some(64),
            ip_id: Some(0x0101),
            df: Some(false),
        },
    )?;
    let t = http_get(
        &mut tl,
        GSTATIC,
        41002,
        t + 2 * MS,
        "connectivitycheck.gstatic.com",
        "/generate_204",
        &portal_redirect(),
        true,
    );
    let t = http_get(
        &mut tl,
        SITE,
        41003,
        t + S,
        "www.site.example",
        "/",
        &portal_redirect(),
        true,
    );
    syns_unanswered(&mut tl, SITE, 41004, t + S, true);
    // logged in three minutes later: the check passes
    let t = http_get(
        &mut tl,
        GSTATIC,
        41005,
        t + 180 * S,
        "connectivitycheck.gstatic.com",
        "/generate_204",
        &no_content(),
        false,
    );
    // a minute later: a real port block
    let t = http_get(
        &mut tl,
        LATER,
        41006,
        t + 60 * S,
        "www.later.example",
        "/",
        &http::ok_html(600),
        false,
    );
    syns_unanswered(&mut tl, LATER, 41007, t + S, false);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// The same café, but the user never logs in and the laptop's check is
/// answered by the portal's login page itself (200, not a redirect): nine
/// minutes later HTTPS to a site still fails while the portal answers its
/// HTTP (withheld); twelve minutes after the check, with no check since
/// (the period lapses after ten), the same shape is a real port block.
pub fn captive_portal_login_page() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let page = http::response(
        200,
        "OK",
        "text/html",
        b"<html><body><form action=\"/login\">Welcome to Cafe Wi-Fi</form></body></html>",
    );
    let t = http_get(
        &mut tl,
        GSTATIC,
        42001,
        EPOCH_NS,
        "connectivitycheck.gstatic.com",
        "/generate_204",
        &page,
        true,
    );
    // nine minutes later, still not logged in
    let t = http_get(
        &mut tl,
        SITE,
        42002,
        t + 540 * S,
        "www.site.example",
        "/",
        &page,
        true,
    );
    syns_unanswered(&mut tl, SITE, 42003, t + S, true);
    // twelve minutes after the check: LATER:80 from the site, 443 dropped
    let t = http_get(
        &mut tl,
        LATER,
        42004,
        t + 180 * S,
        "www.later.example",
        "/",
        &http::ok_html(600),
        false,
    );
    syns_unanswered(&mut tl, LATER, 42005, t + S, false);
    tl.to_pcap_bytes(ETHERNET, false)
}
