//! A server's application that aborts during an upload (SO_LINGER 0)
//! sends an RST+ACK with its socket's window, and its kernel answers the
//! client's segments still in flight with bare resets (no ACK, window 0),
//! which find no socket. On two CPUs the capture may see one of the bare
//! resets first: a fresh-clone CI run of session 27 reported the live
//! look-alike `rst_e2e::clean_and_lookalikes` ("server app reset during an
//! upload") as `rst_seq_burst` (`same_seq_other_headers`, windows
//! `[0, 70, 0, 0]`) + `too_fast` + `no_server_data`, 0.94.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{http, Endpoint, Injection, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;
const SERVER_TTL: u8 = 49;

/// An upload the server's application aborts: its RST+ACK (window 70)
/// and a bare reset (window 0) for the client's segment in flight, in the
/// order `bare_first`, the second at `second_ttl`; then the client's next
/// segment, answered by another bare reset.
fn aborted_upload(port: u16, bare_first: bool, second_ttl: u8) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = TcpSession::new(
        Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 2).into(), port)),
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 2).into(), 8080))
            .with_ttl(SERVER_TTL),
    );
    let mut t = s.handshake(&mut tl, T0, RTT);
    let head = b"POST /upload HTTP/1.1\r\nHost: blocked.example\r\nContent-Length: 1000000\r\n\r\n";
    t = s.client_send(&mut tl, t + MS, head);
    for _ in 0..3 {
        t = s.client_send(&mut tl, t + MS, &http::filler(16_384));
        t = s.server_ack(&mut tl, t + RTT / 2);
    }
    t = s.client_send(&mut tl, t + MS, &http::filler(2896));
    let bare = Injection::rst().ttl(SERVER_TTL).ip_id(0).df(true).window(0);
    let abort = Injection::rst_ack()
        .ttl(SERVER_TTL)
        .ip_id(0)
        .df(true)
        .window(70);
    let (a, b) = if bare_first {
        (bare.clone(), abort.ttl(second_ttl))
    } else {
        (abort, bare.clone().ttl(second_ttl))
    };
    s.inject_from_server(&mut tl, t + MS / 5, &a);
    s.inject_from_server(&mut tl, t + MS / 4, &b);
    t = s.client_send(&mut tl, t + MS, &http::filler(1448));
    s.inject_from_server(&mut tl, t + RTT, &bare);
    tl
}

#[test]
fn a_bare_reset_seen_before_the_abort_is_the_hosts_own() {
    // the abort first, then the bare reset (as before), and the bare
    // reset first (the reordering): no event
    for bare_first in [false, true] {
        let (_, ev) = common::replay_of(
            aborted_upload(41000, bare_first, SERVER_TTL),
            "rst_injection",
        );
        assert!(ev.is_empty(), "bare first {bare_first}: {ev:?}");
    }
    // the second reset 5 hops off the first: two senders, reported
    let (_, ev) = common::replay_of(aborted_upload(41001, true, SERVER_TTL + 5), "rst_injection");
    assert_eq!(ev.len(), 1, "{ev:?}");
}
