//! Found by the session-23 review of that session's blackhole changes
//! (which wrote these tests; each failed before its fix): three real
//! blocks whose events the carrier cut-off changes had lost (a port-80
//! redirect to the site's `www.` name, a later redirect on a keep-alive
//! connection, QUIC whose TCP fallback answered after the last Initial),
//! and a clean idle connection the `transfer` rule took for a freeze.

mod common;

use common::{https_dropped, session_with_ttl as session};

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::session::EPOCH_NS;
use tw_scenario::{http, quic, tls, Endpoint, Rng, Timeline, UdpFlow};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const RTT: i64 = 80 * MS;
const BLOCKED: [u8; 4] = [203, 0, 113, 5];
const OTHER: [u8; 4] = [203, 0, 113, 6];
const CLIENT: [u8; 4] = [192, 0, 2, 10];

/// An HTTP exchange on port 80 of `server`: one request per answer, on one
/// keep-alive connection.
fn http_fetches(
    tl: &mut Timeline,
    server: [u8; 4],
    cport: u16,
    t: i64,
    host: &str,
    answers: &[&[u8]],
) {
    let mut s = session(server, cport, 80, 51);
    let mut t = s.handshake(tl, t, RTT);
    for (i, a) in answers.iter().enumerate() {
        t = s.client_send(tl, t + MS, &http::get(host, &format!("/p{i}")));
        t = s.server_send(tl, t + RTT, a);
    }
    s.close(tl, t + MS, RTT);
}

/// An HTTPS fetch that works.
fn https_fetch(tl: &mut Timeline, server: [u8; 4], cport: u16, t: i64, rng: &mut Rng) {
    let mut s = session(server, cport, 443, 51);
    let t = s.handshake(tl, t, RTT);
    let t = s.client_send(tl, t + MS, &tls::client_hello("example.com", rng));
    let t = s.server_send(tl, t + RTT, &tls::server_flight(rng, 900));
    s.close(tl, t + MS, RTT);
}

/// A censor drops SYNs to port 443 of example.com's address; its port 80
/// (the same server, same distance) answers `http://example.com/` with the
/// usual temporary redirect to `https://www.example.com/` (Apache's
/// `Redirect` and many CMSs use 302). HTTPS to another server works.
/// Before session 23: `syn` stage, `same_server_other_port` (80). Now the
/// www redirect counts as "another host" (REDIRECT_AWAY) and nothing is
/// reported.
#[test]
fn a_www_redirect_on_port_80_still_shows_the_server_working() {
    let mut tl = Timeline::new();
    let mut rng = Rng::new(21);
    let www: &[u8] =
        b"HTTP/1.1 302 Found\r\nLocation: https://www.example.com/\r\nContent-Length: 0\r\n\r\n";
    http_fetches(&mut tl, BLOCKED, 41001, EPOCH_NS, "example.com", &[www]);
    https_dropped(&mut tl, BLOCKED, 41002, EPOCH_NS + S);
    https_fetch(&mut tl, OTHER, 41003, EPOCH_NS + 2 * S, &mut rng);
    let ev = common::events_of(tl, "blackhole");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["stage"], "syn");
    assert_eq!(ev[0]["evidence"]["other_port"]["port"], 80);
}

/// The same block; port 80 served a page, and a later request on the same
/// keep-alive connection (an outbound link, a login) was answered with a
/// 302 to another site. Any 302-elsewhere on the connection marks the whole
/// flow REDIRECT_AWAY, so the page it served no longer counts.
#[test]
fn a_later_redirect_on_a_keepalive_connection_does_not_undo_its_pages() {
    let mut tl = Timeline::new();
    let mut rng = Rng::new(22);
    let page = http::ok_html(600);
    let out: &[u8] =
        b"HTTP/1.1 302 Found\r\nLocation: https://accounts.sso.example/login\r\nContent-Length: 0\r\n\r\n";
    http_fetches(
        &mut tl,
        BLOCKED,
        41001,
        EPOCH_NS,
        "example.com",
        &[&page, out],
    );
    https_dropped(&mut tl, BLOCKED, 41002, EPOCH_NS + S);
    https_fetch(&mut tl, OTHER, 41003, EPOCH_NS + 2 * S, &mut rng);
    let ev = common::events_of(tl, "blackhole");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["stage"], "syn");
}

/// QUIC to a server blocked; the browser gives up on QUIC after its second
/// Initial (Firefox cancels the HTTP/3 attempt once its TCP backup
/// connects) and fetches the page over TCP/443 of the same server, whose
/// SYN/ACK arrives after the QUIC flow's last packet. Nothing used HTTPS in
/// the 10 s before. `link_tls()` is the link clock as of the QUIC flow's
/// last packet, so the fallback's own SYN/ACK is not seen and
/// `tcp443_same_server` is lost, although the same server's TCP/443
/// success after the first Initial (in `sx.ok`) proves HTTPS worked then.
#[test]
fn quic_blocked_with_a_tcp_fallback_after_the_last_initial_is_reported() {
    let mut tl = Timeline::new();
    let mut rng = Rng::new(23);
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::from(CLIENT).into(), 50000));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(BLOCKED).into(), 443));
    let mut q = UdpFlow::new(c, s);
    let init = quic::initial(&mut rng);
    let t = EPOCH_NS;
    q.client_send(&mut tl, t, init.clone());
    q.client_send(&mut tl, t + 200 * MS, init);
    // the TCP backup: SYN at +250 ms, SYN/ACK at +330 ms (after the last
    // Initial)
    https_fetch(&mut tl, BLOCKED, 50001, t + 250 * MS, &mut rng);
    // (later traffic, so that flows end by their timeouts: the TCP
    // fallback 10 s after its close, the QUIC flow 30 s after its last
    // Initial)
    https_fetch(&mut tl, OTHER, 50002, t + 60 * S, &mut rng);
    let ev = common::events_of(tl, "blackhole");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["stage"], "quic_initial");
    let contrast = ev[0]["evidence"]["contrast"].to_string();
    assert!(contrast.contains("tcp443_same_server"), "{contrast}");
}

/// Trap `.72` (a NAT that forgot an idle connection) when the response
/// before the idle minute happens to end on a segment boundary (an app
/// polling an API whose answer has a fixed size: 14 full segments, TLS
/// overhead included). The client's next request, 60 s later, is never
/// acknowledged; the app opens a new connection, which works. No censor
/// is involved; `transfer_frozen` fires (0.6), and with the same fixed size
/// the next poll's loss reads as "froze before after a similar byte count"
/// (0.8). FAILS on HEAD.
#[test]
fn an_idle_connection_lost_after_a_response_of_whole_segments_is_not_frozen() {
    let mut tl = Timeline::new();
    let mut rng = Rng::new(24);
    let mut t0 = EPOCH_NS;
    let mut port = 42000u16;
    for _ in 0..2 {
        port += 2;
        let mut s = session(BLOCKED, port, 443, 51);
        let t = s.handshake(&mut tl, t0, RTT);
        let t = s.client_send(&mut tl, t + MS, &tls::client_hello("api.example", &mut rng));
        let data = vec![0x17; 14 * s.segment_size()];
        let t = s.server_send_acked(&mut tl, t + RTT, &data, 2);
        // idle for a minute (a NAT on the way forgets the connection),
        // then the next poll: never acknowledged, sent again with backoff
        let t = s.client_send(&mut tl, t + 60 * S, &[0x17; 120]);
        for k in [300, 900, 2_100, 4_500] {
            s.retransmit_client_last(&mut tl, t + k * MS);
        }
        // the app gives up on it and polls on a new connection: answered
        https_fetch(&mut tl, BLOCKED, port + 1, t + 2 * S, &mut rng);
        t0 = t + 20 * S;
    }
    let ev: Vec<_> = common::events_of(tl, "blackhole")
        .into_iter()
        .filter(|e| e["evidence"]["stage"] == "transfer")
        .collect();
    assert!(ev.is_empty(), "{} events: {ev:?}", ev.len());
}
