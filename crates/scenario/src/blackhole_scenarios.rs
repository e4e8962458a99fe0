//! Scenarios for the `blackhole` detector (expected verdicts in the
//! tamperwatch test `blackhole_fixtures.rs`). Client 192.0.2.10, servers in
//! 203.0.113.0/24 (80 ms away), plus "other" servers in 198.51.100.0/24 whose
//! handshakes show that the link works.

use crate::catalogue::MS;
use crate::endpoint::Endpoint;
use crate::packet::Icmpv4Spec;
use crate::rng::Rng;
use crate::session::{Injection, TcpSession, Timeline, TsClock, UdpFlow, EPOCH_NS};
use crate::{http, quic, tls, Result};
use std::net::{Ipv4Addr, SocketAddr};

const RTT: i64 = 80 * MS;
const S: i64 = 1_000 * MS;
const ETHERNET: u32 = crate::pcap::linktype::ETHERNET;

fn session(server: [u8; 4], cport: u16, sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport));
    TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000))
}

const BLOCKED: [u8; 4] = [203, 0, 113, 50];
const OTHER: [u8; 4] = [198, 51, 100, 60];

/// A clean HTTPS exchange with `server` at `t` (shows that it, or the link, works).
fn clean_tls(tl: &mut Timeline, server: [u8; 4], cport: u16, t: i64) -> i64 {
    let mut s = session(server, cport, 443);
    let t = s.handshake(tl, t, RTT);
    let mut rng = Rng::new(u64::from(cport));
    let t = s.client_send(tl, t + MS, &tls::client_hello("ok.example", &mut rng));
    let t = s.server_send(tl, t + RTT, &tls::server_flight(&mut rng, 900));
    s.close(tl, t + MS, RTT)
}

fn clean_http(tl: &mut Timeline, server: [u8; 4], cport: u16, t: i64) -> i64 {
    let mut s = session(server, cport, 80);
    let t = s.handshake(tl, t, RTT);
    let t = s.client_send(tl, t + MS, &http::get("ok.example", "/"));
    let t = s.server_send(tl, t + RTT, &http::ok_html(600));
    s.close(tl, t + MS, RTT)
}

/// The ClientHello for a blocked SNI is dropped: the client retransmits it
/// three times (1, 3, 7 s) and gives up; other servers answer meanwhile.
/// Rule: request_retransmitted; stage tls_clienthello.
pub fn bh_tls_retransmitted() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54001, 443);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(1);
    let t0 = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("blocked.example", &mut rng),
    );
    for k in [1, 3, 7] {
        s.retransmit_client_last(&mut tl, t0 + k * S);
    }
    clean_tls(&mut tl, OTHER, 54002, t0 + 2 * S);
    s.rst_from_client(&mut tl, t0 + 12 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// The HTTP request vanishes while the server stays alive: when the client
/// closes, the server answers the FIN, but never acknowledged the request.
/// Rule: request_unacknowledged; stage http_request.
pub fn bh_http_unacknowledged() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54003, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t0 = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    // The request never reached the server: when the client's FIN arrives
    // out of order, the server answers with a duplicate ACK for the
    // request's first byte (its own headers: not forged, just unaware).
    let t = s.fin_client(&mut tl, t0 + 5 * S);
    let dup_ack = Injection {
        flags: crate::packet::TcpFlags::ACK,
        ack: Some(s.state.client_isn.wrapping_add(1)),
        ..Injection::default()
    };
    s.inject_from_server(&mut tl, t + RTT, &dup_ack);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Everything after the request is dropped, both ways: the server, which
/// had just completed the handshake, falls silent; the client gives up
/// after 4 s with a FIN. Rule: server_silent_after_request.
pub fn bh_server_silent() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54024, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t0 = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    s.fin_client(&mut tl, t0 + 4 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Iran 2025: the ClientHello passes and is acknowledged, the ServerHello is
/// dropped; the client waits 10 s and gives up. Rule:
/// acknowledged_never_answered.
pub fn bh_serverhello_dropped() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54004, 443);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(2);
    let t0 = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("blocked.example", &mut rng),
    );
    s.server_ack(&mut tl, t0 + RTT);
    s.rst_from_client(&mut tl, t0 + 10 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Residual blocking: a connection to the server is reset by an injector
/// (RST with another TTL, right after the ClientHello), and for the next
/// minute new connections to the same port get no SYN/ACK while the link
/// works. Events: rst_injection, then blackhole (stage syn, residual).
pub fn bh_residual_after_rst() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54005, 443);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(3);
    let t = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("blocked.example", &mut rng),
    );
    s.inject_from_server(
        &mut tl,
        t + 2 * MS,
        &Injection::rst_ack().ttl(40).ip_id(0x1111).df(false),
    );
    s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 800));
    s.rst_from_client(&mut tl, t + RTT + MS);
    let t1 = t + 20 * S;
    let mut r = session(BLOCKED, 54006, 443);
    r.syn(&mut tl, t1);
    for k in [1, 3] {
        r.retransmit_client_last(&mut tl, t1 + k * S);
    }
    clean_tls(&mut tl, OTHER, 54007, t1 + S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Residual blocking that ends: the same as `bh_residual_after_rst`, and
/// 100 s after the reset a new connection to the port works again (the
/// residual period measured: about 100 s).
pub fn bh_residual_ends() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54020, 443);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(8);
    let t = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("blocked.example", &mut rng),
    );
    s.inject_from_server(
        &mut tl,
        t + 2 * MS,
        &Injection::rst_ack().ttl(40).ip_id(0x2222).df(false),
    );
    s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 800));
    let t_rst = s.rst_from_client(&mut tl, t + RTT + MS);
    let t1 = t_rst + 20 * S;
    let mut r = session(BLOCKED, 54021, 443);
    r.syn(&mut tl, t1);
    for k in [1, 3] {
        r.retransmit_client_last(&mut tl, t1 + k * S);
    }
    clean_tls(&mut tl, OTHER, 54022, t1 + S);
    clean_tls(&mut tl, BLOCKED, 54023, t_rst + 100 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Port-specific blocking: the server answers HTTP on port 80 while SYNs to
/// its port 443 go unanswered. Rule: syn_unanswered with
/// same_server_other_port.
pub fn bh_syn_port_blocked() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = clean_http(&mut tl, BLOCKED, 54008, EPOCH_NS);
    let mut s = session(BLOCKED, 54009, 443);
    s.syn(&mut tl, t + S);
    for k in [1, 3, 7] {
        s.retransmit_client_last(&mut tl, t + S + k * S);
    }
    clean_tls(&mut tl, OTHER, 54010, t + 2 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// QUIC blocked, TCP fine: Initials to UDP/443 retransmitted and never
/// answered, while TCP/443 to the same server works. Stage quic_initial.
pub fn bh_quic_blocked() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = clean_tls(&mut tl, BLOCKED, 54011, EPOCH_NS);
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 54012));
    let srv = Endpoint::server(SocketAddr::new(Ipv4Addr::from(BLOCKED).into(), 443));
    let mut q = UdpFlow::new(c, srv);
    let mut rng = Rng::new(4);
    let init = quic::initial(&mut rng);
    for k in [0, 1, 3] {
        q.client_send(&mut tl, t + S + k * S, init.clone());
    }
    tl.to_pcap_bytes(ETHERNET, false)
}

// ---- traps ----

/// A server that is simply down: SYNs to its ports 80 and 443 all go
/// unanswered, while other servers work.
pub fn bh_trap_server_down() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    for (i, port) in [80u16, 443].into_iter().enumerate() {
        let mut s = session(BLOCKED, 54101 + i as u16, port);
        let t = EPOCH_NS + i as i64 * S;
        s.syn(&mut tl, t);
        for k in [1, 3, 7] {
            s.retransmit_client_last(&mut tl, t + k * S);
        }
    }
    clean_tls(&mut tl, OTHER, 54103, EPOCH_NS + 2 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Loss, recovered: the request is retransmitted once, then answered.
pub fn bh_trap_loss_recovered() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54104, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
    let t = s.retransmit_client_last(&mut tl, t + S);
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(700));
    s.close(&mut tl, t + MS, RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Loss, acknowledged late: the HTTP request is retransmitted three times
/// (its ACKs lost), then the server acknowledges it, and the capture sees
/// nothing more (the answer late, beyond the flow's idle timeout, or lost).
/// The request arrived: no blackhole.
pub fn bh_trap_loss_acked_late() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54110, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t0 = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    for k in [200, 600, 1400] {
        s.retransmit_client_last(&mut tl, t0 + k * MS);
    }
    s.server_ack(&mut tl, t0 + 1400 * MS + RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Answered, then abandoned: the server acknowledges the ClientHello and
/// sends its flight; the client keeps the connection open 10 s and then
/// resets it (an application abort, a browser closing a tab). The server
/// answered: no blackhole.
pub fn bh_trap_answered_then_client_reset() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54109, 443);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(9);
    let t0 = s.client_send(&mut tl, t + MS, &tls::client_hello("example.com", &mut rng));
    let t = s.server_send(&mut tl, t0 + RTT, &tls::server_flight(&mut rng, 1500));
    let t = s.client_ack(&mut tl, t + MS);
    s.rst_from_client(&mut tl, t + 10 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// A path-MTU black hole: a 1.7 KB ClientHello's full-size first segment is
/// lost on the way while its small second segment arrives, so the server
/// answers with a duplicate ACK (for the bytes before the hole), and the
/// client's retransmissions of the first segment (1, 3, 7 s) are lost too;
/// small requests to the same server pass. (Until session 16 the server
/// stayed silent here, which is what a block that drops everything after
/// the ClientHello looks like, not a path-MTU hole.)
pub fn bh_trap_pmtu() -> Result<Vec<u8>> {
    use crate::packet::TcpFlags;
    use crate::session::Direction;
    let mut tl = Timeline::new();
    let t = clean_http(&mut tl, BLOCKED, 54105, EPOCH_NS);
    let mut s = session(BLOCKED, 54106, 443);
    let t = s.handshake(&mut tl, t + S, RTT);
    let mut rng = Rng::new(5);
    let ch = tls::ClientHello::new("big.example", &mut rng)
        .with_large_key_share(true)
        .build();
    let first_seq = s.state.client_next_seq;
    let t0 = s.client_send(&mut tl, t + MS, &ch);
    let end = s.state.client_next_seq;
    // the server got only the second segment: it acknowledges up to the hole
    s.state.server_rcv_next = first_seq;
    s.server_ack(&mut tl, t0 + RTT);
    let first = &ch[..s.segment_size().min(ch.len())];
    for k in [1, 3, 7] {
        s.state.client_next_seq = first_seq;
        s.packet(
            &mut tl,
            t0 + k * S,
            Direction::FromClient,
            TcpFlags::ACK,
            first,
        );
        s.state.client_next_seq = end;
    }
    tl.to_pcap_bytes(ETHERNET, false)
}

/// A client that gives up quickly (the server acknowledged the request and
/// is slow), and an ICMP port unreachable for a SYN.
pub fn bh_trap_impatient_and_icmp() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = session(BLOCKED, 54107, 443);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(6);
    let t0 = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("slow.example", &mut rng),
    );
    s.server_ack(&mut tl, t0 + RTT);
    s.rst_from_client(&mut tl, t0 + 500 * MS);
    let mut u = session(BLOCKED, 54108, 8443);
    let syn = u.syn(&mut tl, t0 + S);
    let _ = syn;
    let quoted = tl
        .entries()
        .last()
        .map(|e| e.data.clone())
        .unwrap_or_default();
    let icmp = Icmpv4Spec::dest_unreachable(
        Ipv4Addr::new(203, 0, 113, 1),
        &quoted,
        3,
        quoted.len().min(28),
    )
    .build();
    tl.push(t0 + S + RTT, icmp);
    u.retransmit_client_last(&mut tl, t0 + 2 * S);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// QUIC Initials unanswered with no contrast at all (no TCP/443 to that
/// server, no other QUIC server answering): a server without QUIC, or a
/// local firewall; never an event.
pub fn bh_trap_quic_no_contrast() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 54109));
    let srv = Endpoint::server(SocketAddr::new(Ipv4Addr::from(BLOCKED).into(), 443));
    let mut q = UdpFlow::new(c, srv);
    let mut rng = Rng::new(7);
    let init = quic::initial(&mut rng);
    for k in [0, 1, 3] {
        q.client_send(&mut tl, EPOCH_NS + k * S, init.clone());
    }
    tl.to_pcap_bytes(ETHERNET, false)
}

/// The client's retransmissions of its last segment (a FIN, a request)
/// after `t`, with Linux's doubling backoff from 300 ms: at +0.3, +0.9,
/// +2.1, +4.5 and +9.3 s. Returns the time of the last.
fn backoff(s: &mut TcpSession, tl: &mut Timeline, t: i64) -> i64 {
    let mut at = t;
    for k in 0..5 {
        at = t + 300 * MS * ((1 << (k + 1)) - 1);
        s.retransmit_client_last(tl, at);
    }
    at
}

/// A TLS connection to `server` from `cport` at `t` whose ClientHello names
/// `name`: the session and the time its ClientHello went out.
fn hello_sent(
    tl: &mut Timeline,
    server: [u8; 4],
    cport: u16,
    t: i64,
    name: &str,
    rng: &mut Rng,
) -> (TcpSession, i64) {
    let mut s = session(server, cport, 443);
    let t = s.handshake(tl, t, RTT);
    let t = s.client_send(tl, t + MS, &tls::client_hello(name, rng));
    (s, t)
}

/// An HTTPS download that freezes after `segments` full segments of the
/// server's (its flight and data, the client acknowledging every second
/// one): nothing of the server's comes after. The client gives up
/// `give_up` later with a FIN, and sends it again with backoff. Returns
/// the time of the freeze.
pub fn frozen_download(
    tl: &mut Timeline,
    server: [u8; 4],
    cport: u16,
    t: i64,
    segments: usize,
    give_up: i64,
) -> i64 {
    let mut rng = Rng::new(u64::from(cport));
    let (mut s, t) = hello_sent(tl, server, cport, t, "frozen.example", &mut rng);
    let data = vec![0x17; segments * s.segment_size()];
    let frozen = s.server_send_acked(tl, t + RTT, &data, 2);
    s.fin_client(tl, frozen + give_up);
    backoff(&mut s, tl, frozen + give_up);
    frozen
}

/// Russia's TSPU since 2024: a connection to foreign hosting (Cloudflare,
/// Hetzner, DigitalOcean) freezes after the first 16-20 KB the server
/// sends: the server's data stops in mid-transfer (a full segment, the
/// transfer's middle), nothing of the server's comes after, and the
/// client's FIN, 10 s later, is never acknowledged. The client tries three
/// times, 11 s apart; the first two freeze at 17.4 KB, the third gets a
/// short page and closes. Events: `blackhole`, stage `transfer`, for the
/// first two (the server answered the next attempt): 0.6, then 0.8 (the
/// second froze like the first, at another moment).
pub fn bh_transfer_frozen() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    frozen_download(&mut tl, BLOCKED, 54301, EPOCH_NS, 12, 10 * S);
    frozen_download(&mut tl, BLOCKED, 54302, EPOCH_NS + 11 * S, 12, 10 * S);
    let mut s = session(BLOCKED, 54303, 443);
    let t = s.handshake(&mut tl, EPOCH_NS + 22 * S, RTT);
    let mut rng = Rng::new(54303);
    let t = s.client_send(
        &mut tl,
        t + MS,
        &tls::client_hello("frozen.example", &mut rng),
    );
    let t = s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 3000));
    s.close(&mut tl, t + S, RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// A download from `server` in which the link goes dark after 12 full
/// segments: the client's FIN 5 s later, sent again with backoff. Returns
/// the session, when the link went dark, and the last FIN's time.
fn dark_transfer(
    tl: &mut Timeline,
    server: [u8; 4],
    cport: u16,
    t: i64,
    rng: &mut Rng,
) -> (TcpSession, i64, i64) {
    let (mut s, t) = hello_sent(tl, server, cport, t, "dark.example", rng);
    let data = vec![0x17; 12 * s.segment_size()];
    let dark = s.server_send_acked(tl, t + RTT, &data, 2);
    let t = s.fin_client(tl, dark + 5 * S);
    let t = backoff(&mut s, tl, t);
    (s, dark, t)
}

/// Look-alikes of a frozen transfer, one server each, each server answering
/// a later connection:
/// - `.71`: the server's application hangs after 14 full segments; the
///   client's FIN 8 s later is acknowledged by the server's stack;
/// - `.72`: a response that ends with a short segment, 60 s idle, then the
///   client's next request is never acknowledged (a NAT that forgot the
///   idle connection), sent again with backoff;
/// - `.73`: the link goes dark for 20 s in mid-transfer (a radio outage
///   with the carrier up): the client's FIN and its retransmissions go
///   unanswered while nothing on the link answers, and once the link is
///   back the server acknowledges it;
/// - `.74`: the same outage, and the client resets the connection while
///   the link is still dark: its FIN was never acknowledged, and nothing
///   it sent went out while the link was known to work.
/// - `.75`: the server's firewall starts dropping the client on port 443
///   in mid-transfer (fail2ban-like), while the same server's port 8443
///   goes on answering the client: the server never answered this client
///   on port 443 again.
pub fn bh_trap_transfer_stalls() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut rng = Rng::new(54311);
    let later = |tl: &mut Timeline, server: [u8; 4], cport: u16, t: i64| {
        clean_tls(tl, server, cport, t);
    };
    // the application hangs
    let a = [198, 51, 100, 71];
    let (mut s, t) = hello_sent(&mut tl, a, 54311, EPOCH_NS, "hang.example", &mut rng);
    let data = vec![0x17; 14 * s.segment_size()];
    let t = s.server_send_acked(&mut tl, t + RTT, &data, 2);
    let t = s.fin_client(&mut tl, t + 8 * S);
    s.server_ack(&mut tl, t + RTT);
    later(&mut tl, a, 54312, t + 2 * S);
    // a NAT forgot the idle connection
    let b = [198, 51, 100, 72];
    let (mut s, t) = hello_sent(&mut tl, b, 54313, EPOCH_NS, "idle.example", &mut rng);
    let t = s.server_send_acked(&mut tl, t + RTT, &vec![0x17; 20_000], 2);
    let t = s.client_send(&mut tl, t + 60 * S, &[0x17; 120]);
    backoff(&mut s, &mut tl, t);
    later(&mut tl, b, 54314, t + 2 * S);
    // the link goes dark for 20 s
    let c = [198, 51, 100, 73];
    let (mut s, dark, t) = dark_transfer(&mut tl, c, 54315, EPOCH_NS + 200 * S, &mut rng);
    // (back at dark + 20 s: a retry's handshake, then the FIN once more)
    later(&mut tl, c, 54316, dark + 21 * S);
    let t = s.retransmit_client_last(&mut tl, t + 10 * S);
    s.server_ack(&mut tl, t + RTT);
    // the link goes dark for 20 s, and the client gives up before it is back
    let d = [198, 51, 100, 74];
    let (mut s, dark, t) = dark_transfer(&mut tl, d, 54317, EPOCH_NS + 300 * S, &mut rng);
    s.rst_from_client(&mut tl, t + 500 * MS);
    later(&mut tl, d, 54318, dark + 21 * S);
    // banned on port 443, answered on 8443
    let e = [198, 51, 100, 75];
    let (mut s, t) = hello_sent(
        &mut tl,
        e,
        54319,
        EPOCH_NS + 400 * S,
        "ban.example",
        &mut rng,
    );
    let data = vec![0x17; 30 * s.segment_size()];
    let banned = s.server_send_acked(&mut tl, t + RTT, &data, 2);
    let t = s.fin_client(&mut tl, banned + 5 * S);
    let mut other = session(e, 54320, 8443);
    let o = other.handshake(&mut tl, t + 2 * S, RTT);
    let o = other.client_send(&mut tl, o + MS, &tls::client_hello("ban.example", &mut rng));
    let o = other.server_send(&mut tl, o + RTT, &tls::server_flight(&mut rng, 900));
    other.close(&mut tl, o + MS, RTT);
    backoff(&mut s, &mut tl, t);
    tl.to_pcap_bytes(ETHERNET, false)
}
