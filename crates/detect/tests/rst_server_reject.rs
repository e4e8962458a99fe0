//! Resets from a firewall at the server's end (session 21; the eighth
//! red-team review).
//!
//! fail2ban (`reject with tcp reset`), a per-source rate limit, or any
//! host firewall that filters the client's packets while the server's own
//! output goes on: every client ACK that reaches the server host is
//! answered by its netfilter with a RST (no ACK flag, the ACK's
//! acknowledgment number as its sequence number, IP ID 0, DF, the server's
//! TTL), one round trip after the ACK, while the server's TCP keeps sending
//! what was in flight. `data_after_rst` and the stepping sequence numbers
//! of `rst_seq_burst` took that for an injector racing the server: 0.92 to
//! 0.96 on live captures of a real fail2ban ban, a rate limit (whose
//! download even completed) and a server-sent-events stream. Such resets
//! are now counted (`tamperwatch_rst_server_end_reject_total`), not
//! reported; a router's reject (an initial TTL), a RST+ACK, a RST ahead of
//! what the client acknowledged and a quick reset of the client's request
//! stay reported.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{http, Endpoint, Injection, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;
/// The server's packets arrive with this TTL (one router away).
const SERVER_TTL: u8 = 63;

fn session(cport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 5).into(), 80))
        .with_ttl(SERVER_TTL);
    TcpSession::new(c, s)
}

/// A reset's shape: its TTL, whether it carries ACK, and how long after
/// the client's ACK it answers it comes.
#[derive(Clone, Copy)]
struct Reject {
    ttl: u8,
    ack_flag: bool,
    after: i64,
}

const SERVER_END: Reject = Reject {
    ttl: SERVER_TTL,
    ack_flag: false,
    after: RTT + 2 * MS,
};

fn rst(r: Reject, seq_offset: i64) -> Injection {
    let inj = if r.ack_flag {
        Injection::rst_ack()
    } else {
        Injection::rst()
    };
    inj.ttl(r.ttl)
        .ip_id(0)
        .df(true)
        .window(0)
        .seq_offset(seq_offset)
}

/// A download whose ACKs from chunk 20 on are answered by `reject`
/// ([`common::banned_download`]).
fn banned_download(reject: Reject) -> Timeline {
    common::banned_download(session(40_000), T0, RTT, reject.after, &rst(reject, 0))
}

/// A server-sent-events stream: a 67-byte event every 100 ms, each
/// acknowledged; after the tenth, the ban: the ACK of the last event is
/// answered by `reject`, and the server's next events (its output goes
/// on) start at that reset's sequence number.
fn banned_stream(reject: Reject) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = session(40_001);
    let t = s.handshake(&mut tl, T0, RTT);
    let mut t = s.client_send(&mut tl, t + MS, &http::get("site.example", "/events"));
    t += RTT;
    for i in 0..14 {
        let sent = s.server_send(&mut tl, t, &[0x42; 67]);
        if i <= 10 {
            let acked = s.client_ack(&mut tl, sent + MS);
            if i == 10 {
                s.inject_from_server(&mut tl, acked + reject.after, &rst(reject, 0));
            }
        }
        t += 100 * MS;
    }
    tl
}

/// A keep-alive connection: a page, its ACK, 2 s of quiet, the next
/// request, reset `reject.after` the request (over the server's path), and
/// the server's answer after it.
fn reset_request(reject: Reject) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = session(40_002);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("site.example", "/"));
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(3000));
    let t = s.client_ack(&mut tl, t + MS);
    let t = s.client_send(&mut tl, t + 2 * S, &http::get("site.example", "/blocked"));
    s.inject_from_server(&mut tl, t + reject.after, &rst(reject, 0));
    s.server_send(&mut tl, t + RTT, &http::ok_html(3000));
    tl
}

/// The rst_injection events and the count of server-end rejects.
fn run(tl: Timeline) -> (Vec<serde_json::Value>, u64) {
    let (e, ev) = common::replay_of(tl, "rst_injection");
    (ev, e.stats().rst_server_end_reject)
}

fn rules(e: &serde_json::Value) -> String {
    e["evidence"]["rules"].to_string()
}

/// `f2b_ban.pcap`, `f2b_min.pcap`, `ratelimit_reject.pcap`: counted, no
/// event. (Failed on the code before: data_after_rst and rst_seq_burst.)
#[test]
fn a_ban_at_the_servers_end_during_a_download_is_not_reported() {
    let (ev, n) = run(banned_download(SERVER_END));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, 1);
}

/// `f2b_sse100.pcap`: one reset answering the ACK of the last event, the
/// next events after it. (Failed on the code before: data_after_rst.)
#[test]
fn a_ban_during_an_event_stream_is_not_reported() {
    let (ev, n) = run(banned_stream(SERVER_END));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(n, 1);
}

/// `f2b_ban_inject.pcap`: the client's router rejects (TTL 64, an initial
/// TTL: no router passed it on, while the server's come through one),
/// within one of the server's TTL, a round trip after the ACKs (behind a
/// queue): still reported.
#[test]
fn the_routers_reject_is_still_reported() {
    let router = Reject {
        ttl: 64,
        ..SERVER_END
    };
    for tl in [banned_download(router), banned_stream(router)] {
        let (ev, n) = run(tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(
            rules(&ev[0]).contains("data_after_rst"),
            "{}",
            rules(&ev[0])
        );
        assert_eq!(n, 0);
    }
}

/// A RST+ACK (an injector's usual shape, not a reply to an ACK) and a RST
/// from another TTL are reported.
#[test]
fn other_shapes_are_still_reported() {
    for r in [
        Reject {
            ack_flag: true,
            ..SERVER_END
        },
        Reject {
            ttl: 60,
            ..SERVER_END
        },
    ] {
        let (ev, n) = run(banned_download(r));
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(n, 0);
    }
}

/// A reset ahead of what the client had acknowledged (the server's next
/// sequence number while its data is in flight: an injector's) is
/// reported, however it looks otherwise.
#[test]
fn a_reset_ahead_of_the_clients_ack_is_reported() {
    let mut tl = Timeline::new();
    let mut s = session(40_003);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("site.example", "/big"));
    let t = s.server_send(&mut tl, t + RTT, &[0x41; 4096]);
    let t = s.client_ack(&mut tl, t + MS);
    let sent = s.server_send(&mut tl, t + 10 * MS, &[0x41; 4096]);
    // before the client's ACK of the second chunk: its seq is past it
    s.inject_from_server(&mut tl, sent + MS / 2, &rst(SERVER_END, 0));
    let t = s.client_ack(&mut tl, sent + MS);
    s.server_send(&mut tl, t + 10 * MS, &[0x41; 4096]);
    let (ev, n) = run(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(n, 0);
}

/// A censor's reset of the client's request, 3 ms after it, over the
/// server's path (the server's TTL and DF, IP ID 0), with the server's
/// answer after it: reported, though its sequence number is what the client
/// acknowledged (the request's acknowledgment number): it came sooner than
/// the server's end could have answered the request.
#[test]
fn a_quick_reset_of_the_request_is_reported() {
    let quick = Reject {
        after: 3 * MS,
        ..SERVER_END
    };
    let (ev, n) = run(reset_request(quick));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(
        rules(&ev[0]).contains("data_after_rst"),
        "{}",
        rules(&ev[0])
    );
    assert_eq!(n, 0);
}
