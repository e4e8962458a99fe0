//! A port scan of a volunteer's own server is not port blocking (session
//! 21; the seventh red-team review).
//!
//! `nmap -sT` (a connect scan) holds each attempt about a second, so the
//! kernel retransmits the SYN to a port the server's firewall drops; the
//! open ports answer, and a page fetched from the server just before makes
//! the other-port contrast: `syn_unanswered` at 0.7 for every filtered
//! port, each pass. Ten ports or more of one address whose connections
//! began within ten seconds make a scan; SYN-stage failures within ten
//! seconds of one are counted (`tamperwatch_blackhole_port_scan_total`),
//! not reported.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_detect::Engine;
use tw_scenario::{http, Endpoint, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;
const FILTERED: [u16; 3] = [25, 3306, 8080];

fn session(cport: u16, sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 5).into(), sport));
    TcpSession::new(c, s)
}

/// A page from port 80 at `t` (the server's data there: the contrast).
fn page(tl: &mut Timeline, cport: u16, t: i64) -> i64 {
    let mut s = session(cport, 80);
    let t = s.handshake(tl, t, RTT);
    let t = s.client_send(tl, t + MS, &http::get("own.example", "/"));
    let t = s.server_send(tl, t + RTT, &http::ok_html(2000));
    s.close(tl, t + MS, RTT)
}

/// A filtered port's attempt at `t`: the SYN and the kernel's
/// retransmission a second later, unanswered.
fn filtered(tl: &mut Timeline, cport: u16, port: u16, t: i64) {
    let mut s = session(cport, port);
    s.syn(tl, t);
    s.retransmit_client_last(tl, t + S);
}

/// A connect scan at `t`: the filtered ports (SYN, the retransmission a
/// second later, nothing), `closed` closed ports (RST) and the open ports
/// 22, 80 and 443 (handshake, then the scanner's reset), 20 ms apart.
fn connect_scan(tl: &mut Timeline, cport: &mut u16, t: i64, closed: u16) {
    let mut at = t;
    for port in FILTERED {
        filtered(tl, *cport, port, at);
        *cport += 1;
        at += 20 * MS;
    }
    for port in (1000..1000 + closed).chain([22, 80, 443]) {
        let mut s = session(*cport, port);
        *cport += 1;
        if port >= 1000 {
            s.syn(tl, at);
            s.rst_from_server(tl, at + RTT);
        } else {
            let h = s.handshake(tl, at, RTT);
            s.rst_from_client(tl, h + MS);
        }
        at += 20 * MS;
    }
}

/// A connection a long while later, so that every flow ends in order.
fn later(tl: &mut Timeline, cport: u16, t: i64) {
    let mut s = session(cport, 443);
    let t = s.handshake(tl, t, RTT);
    s.close(tl, t + 10 * MS, RTT);
}

fn blackhole(tl: Timeline) -> (Engine, Vec<serde_json::Value>) {
    common::replay_of(tl, "blackhole")
}

/// `tools.pcap`: a page, then two passes of a connect scan of 20 ports
/// (three of them filtered): no event, six counted. (Failed on the code
/// before: 6 events at 0.7.)
#[test]
fn a_connect_scan_of_your_own_server_is_not_port_blocking() {
    let mut tl = Timeline::new();
    let mut cport = 40_000;
    let t = page(&mut tl, cport, T0);
    cport += 1;
    connect_scan(&mut tl, &mut cport, t + S, 14);
    connect_scan(&mut tl, &mut cport, t + 5 * S, 14);
    later(&mut tl, cport, T0 + 400 * S);
    let (e, ev) = blackhole(tl);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(e.stats().blackhole_port_scan, 6);
}

/// Without a scan (the page and the three filtered ports alone: a port the
/// server's own firewall drops looks like port blocking) the documented
/// look-alike stays reported, and so does a filtered port tried long after
/// a scan.
#[test]
fn filtered_ports_outside_a_scan_are_still_judged() {
    let mut tl = Timeline::new();
    let t = page(&mut tl, 40_000, T0);
    for (i, port) in FILTERED.into_iter().enumerate() {
        filtered(&mut tl, 40_001 + i as u16, port, t + S);
    }
    // (another page meanwhile: the link carried handshakes)
    page(&mut tl, 40_005, t + S + 100 * MS);
    later(&mut tl, 40_010, T0 + 400 * S);
    let (e, ev) = blackhole(tl);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(e.stats().blackhole_port_scan, 0);

    let mut tl = Timeline::new();
    let mut cport = 40_000;
    let t = page(&mut tl, cport, T0);
    cport += 1;
    connect_scan(&mut tl, &mut cport, t + S, 14);
    // a minute later: a page, and the client tries port 25 again
    let t = page(&mut tl, cport, t + 60 * S);
    filtered(&mut tl, cport + 1, 25, t + S);
    page(&mut tl, cport + 2, t + S + 100 * MS);
    later(&mut tl, cport + 3, T0 + 400 * S);
    let (e, ev) = blackhole(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["flow"]["server_port"], 25);
    assert_eq!(e.stats().blackhole_port_scan, 3);
}

/// Nine ports are not a scan.
#[test]
fn nine_ports_are_not_a_scan() {
    let mut tl = Timeline::new();
    let mut cport = 40_000;
    let t = page(&mut tl, cport, T0);
    cport += 1;
    // 3 closed + 3 open + 3 filtered = 9 ports
    connect_scan(&mut tl, &mut cport, t + S, 3);
    later(&mut tl, cport, T0 + 400 * S);
    let (e, ev) = blackhole(tl);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(e.stats().blackhole_port_scan, 0);
}
