//! Scenarios for the `rst_injection` detector: one per rule (positives)
//! and one per false-positive trap (negatives). Each module-level function
//! is registered in [`crate::catalogue::CATALOGUE`]; the expected detector
//! verdicts live in the tamperwatch integration test `rst_fixtures.rs`.
//!
//! Common shape: an IPv4 client 192.0.2.10 and a server 203.0.113.34 (TTL
//! 52 at the client, sequential IP IDs, DF), a handshake RTT of 80 ms, and
//! forged packets that an on-path or in-path box closer to the client sends
//! with its own TTL and IP ID.

use crate::catalogue::{v4_session, v6_session, MS};
use crate::endpoint::IpIdMode;
use crate::packet::TcpFlags;
use crate::rng::Rng;
use crate::session::{Injection, TcpSession, Timeline, EPOCH_NS};
use crate::{http, tls, Result};

const RTT: i64 = 80 * MS;
const ETHERNET: u32 = crate::pcap::linktype::ETHERNET;

fn https(port: u16) -> TcpSession {
    v4_session(port, 443)
}

/// Handshake then a ClientHello for `sni`; returns the time after it.
fn hello(s: &mut TcpSession, tl: &mut Timeline, sni: &str) -> i64 {
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(7);
    s.client_send(tl, t + MS, &tls::client_hello(sni, &mut rng))
}

/// Handshake then an HTTP GET for `host`.
fn get(s: &mut TcpSession, tl: &mut Timeline, host: &str) -> i64 {
    let t = s.handshake(tl, EPOCH_NS, RTT);
    s.client_send(tl, t + MS, &http::get(host, "/"))
}

fn bytes(tl: &Timeline) -> Result<Vec<u8>> {
    tl.to_pcap_bytes(ETHERNET, false)
}

/// On-path injector: RST+ACK 3 ms after the ClientHello (TTL 40, random IP
/// ID, no DF); the real ServerHello races in one RTT later; the client's
/// kernel answers it with RSTs. Rules: data_after_rst (+ ttl_mismatch,
/// df_mismatch, too_fast).
pub fn rst_inject_data_after() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = https(52001);
    let t = hello(&mut s, &mut tl, "blocked.example");
    s.inject_from_server(
        &mut tl,
        t + 3 * MS,
        &Injection::rst_ack().ttl(40).ip_id(0x5b2c).df(false),
    );
    let mut rng = Rng::new(9);
    let t = s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 1800));
    s.rst_from_client(&mut tl, t + MS);
    bytes(&tl)
}

/// GFW-style burst: three RST+ACKs with seq +0, +1460, +4380 right after an
/// HTTP request for a blocked Host; the request was also dropped (nothing
/// from the server follows). Rule: rst_seq_burst.
pub fn rst_inject_gfw_burst() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52002, 80);
    let t = get(&mut s, &mut tl, "blocked.example");
    for (i, off) in [0i64, 1460, 4380].into_iter().enumerate() {
        let inj = Injection::rst_ack()
            .ttl(47)
            .ip_id(0x1000 + i as u16)
            .df(true)
            .seq_offset(off);
        s.inject_from_server(&mut tl, t + 2 * MS + i as i64 * 100_000, &inj);
    }
    bytes(&tl)
}

/// August 2025 port-443 pattern: three RST+ACKs with one sequence number and
/// windows 1980/1981/1982, DF set. Rule: rst_seq_burst (same seq, other
/// windows); fingerprint gfw_2025_port443.
pub fn rst_inject_same_seq_burst() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = https(52003);
    let t = hello(&mut s, &mut tl, "blocked.example");
    for (i, w) in [1980u16, 1981, 1982].into_iter().enumerate() {
        let inj = Injection::rst_ack()
            .ttl(52)
            .window(w)
            .df(true)
            .ip_id(0x2000 + i as u16);
        s.inject_from_server(&mut tl, t + 4 * MS + i as i64 * 50_000, &inj);
    }
    bytes(&tl)
}

/// In-path reset: a box one hop from the client drops the request and
/// answers with RST+ACK (TTL 64, IP ID 0, DF) after 0.4 ms; the server never
/// speaks again. Rules: ttl_mismatch, ip_id_out_of_sequence, too_fast,
/// no_server_data.
pub fn rst_inject_inpath() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52004, 80);
    let t = get(&mut s, &mut tl, "blocked.example");
    s.inject_from_server(
        &mut tl,
        t + 400_000,
        &Injection::rst_ack().ttl(64).ip_id(0).df(true).window(0),
    );
    bytes(&tl)
}

/// An injector that copies the IP ID of the packet that triggered it (seen
/// in Zeek's rst-inject trace and CenTrace's nifty.org capture), with the
/// reserved TCP bits set and no ACK flag. Rules: ttl_mismatch, ip_id_copied,
/// reserved_bits, too_fast, df_mismatch.
pub fn rst_inject_copied_ip_id() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52005, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let trigger_id = s.client.ip_id.peek();
    let t = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    let mut inj = Injection::rst()
        .ttl(43)
        .ip_id(trigger_id)
        .df(false)
        .window(65535);
    inj.flags = TcpFlags(TcpFlags::RST.0 | 0x200);
    s.inject_from_server(&mut tl, t + 2 * MS, &inj);
    bytes(&tl)
}

/// The SYN itself triggers the reset: RST+ACK 2 ms after the SYN (TTL 60,
/// IP ID copied from the SYN); the SYN/ACK never comes. The server's TTL is
/// known from an earlier, clean connection to it. Rules: ttl_mismatch
/// (server baseline), ip_id_copied, too_fast. Stage after_syn.
pub fn rst_inject_after_syn() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut clean = https(52006);
    let t = hello(&mut clean, &mut tl, "allowed.example");
    let mut rng = Rng::new(3);
    let t = clean.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 1200));
    let t = clean.close(&mut tl, t + 5 * MS, RTT);
    let mut s = https(52007);
    let syn_id = s.client.ip_id.peek();
    let t0 = t + 100 * MS;
    s.syn(&mut tl, t0);
    let mut inj = Injection::rst_ack().ttl(60).ip_id(syn_id).df(false);
    inj.seq_offset = 0;
    s.inject_from_server(&mut tl, t0 + 2 * MS, &inj);
    bytes(&tl)
}

/// Sandvine PacketLogic style: RST with IP ID 0x3412 and no DF, TTL unlike
/// the server's. Rules: ttl_mismatch, ip_id_marker, df_mismatch; fingerprint
/// sandvine.
pub fn rst_inject_sandvine() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52008, 80);
    let t = get(&mut s, &mut tl, "blocked.example");
    s.inject_from_server(
        &mut tl,
        t + 6 * MS,
        &Injection::rst_ack().ttl(58).ip_id(0x3412).df(false),
    );
    bytes(&tl)
}

/// Henan's regional firewall: one RST+ACK carrying the 10-byte payload
/// 01 02 ... 09 00, TTL 58, then the real ServerHello. Rules:
/// data_after_rst, ttl_mismatch; fingerprint henan.
pub fn rst_inject_henan() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = https(52009);
    let t = hello(&mut s, &mut tl, "blocked.example");
    let mut inj = Injection::rst_ack().ttl(58).ip_id(0x4d2).df(false);
    inj.payload = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
    s.inject_from_server(&mut tl, t + 5 * MS, &inj);
    let mut rng = Rng::new(5);
    s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 1200));
    bytes(&tl)
}

/// A connection the capture picked up mid-stream (its handshake and
/// ClientHello happened before the capture started): the server's data,
/// then an injected RST+ACK (TTL 40, another IP ID, no DF), then the
/// server's data racing in after it. Rules: data_after_rst, ttl_mismatch;
/// stage later (the start is unknown).
pub fn rst_inject_mid_stream() -> Result<Vec<u8>> {
    let mut before = Timeline::new();
    let mut s = https(52010);
    let t = hello(&mut s, &mut before, "blocked.example");
    let mut rng = Rng::new(11);
    let t = s.server_send(&mut before, t + RTT, &tls::server_flight(&mut rng, 1200));
    let t = s.client_ack(&mut before, t + MS);
    // the capture starts here
    let mut tl = Timeline::new();
    let t = s.client_send(
        &mut tl,
        t + 100 * MS,
        &http::get("blocked.example", "/next"),
    );
    let t = s.server_send(&mut tl, t + RTT, &[0x17; 600]);
    let t = s.client_send(&mut tl, t + 50 * MS, &[0x17; 300]);
    s.inject_from_server(
        &mut tl,
        t + 3 * MS,
        &Injection::rst_ack().ttl(40).ip_id(0x2222).df(false),
    );
    let t = s.server_send(&mut tl, t + RTT, &[0x17; 900]);
    s.rst_from_client(&mut tl, t + MS);
    bytes(&tl)
}

/// An injector that takes its sequence number from the client's last ACK
/// while the server's answer is still in flight: the RST+ACK's seq is
/// 1,200 bytes behind the data the server already sent (TTL 40, no DF).
/// Rules: rst_seq_behind, ttl_mismatch.
pub fn rst_inject_seq_behind() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = https(52011);
    let t = hello(&mut s, &mut tl, "blocked.example");
    let mut rng = Rng::new(13);
    let t = s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 1200));
    s.inject_from_server(
        &mut tl,
        t + MS,
        &Injection::rst_ack()
            .ttl(40)
            .ip_id(0x3333)
            .df(false)
            .seq_offset(-1200),
    );
    bytes(&tl)
}

// ---- traps: none of these may raise an event ----

/// The server application aborts (SO_LINGER 0) in the middle of a response:
/// its own RST+ACK, same TTL, next IP ID, DF, after a normal delay.
pub fn rst_trap_server_abort() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52101, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send_acked(&mut tl, t + RTT, &http::ok_html(3000), 2);
    s.rst_from_server(&mut tl, t + 30 * MS);
    bytes(&tl)
}

/// The server answers, then aborts (SO_LINGER 0) while the client's ACK of
/// the response is already on its way: the server's stack answers that ACK,
/// which finds no socket, with a second RST at the same sequence number and
/// window 0 (Linux's reply to a segment for a closed socket). Same TTL,
/// the next IP ID: one host, two code paths. Seen live under load in
/// rst_e2e's look-alikes.
pub fn rst_trap_server_abort_late_ack() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52105, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(3000));
    let t = s.rst_from_server(&mut tl, t + MS);
    let t = s.client_ack(&mut tl, t + MS / 10);
    s.inject_from_server(&mut tl, t + RTT, &Injection::rst().window(0));
    bytes(&tl)
}

/// The server aborts right after the request, before any data (an
/// application that rejects the request): its own RST, consistent headers.
pub fn rst_trap_server_abort_no_data() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52102, 80);
    let t = get(&mut s, &mut tl, "example.com");
    s.rst_from_server(&mut tl, t + RTT);
    bytes(&tl)
}

/// The client (the vantage host) aborts: Happy Eyeballs cancelling the
/// losing connection after its SYN/ACK, and a client SO_LINGER 0 abort.
pub fn rst_trap_client_abort() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut a = https(52103);
    let t = a.handshake(&mut tl, EPOCH_NS, RTT);
    a.rst_from_client(&mut tl, t + MS);
    let mut b = v4_session(52104, 80);
    let t = get(&mut b, &mut tl, "example.com");
    let t = b.server_send_acked(&mut tl, t + RTT, &http::ok_html(2000), 2);
    b.rst_from_client(&mut tl, t + 10 * MS);
    bytes(&tl)
}

/// RST after the server's own close (FIN, then RST for late client data).
pub fn rst_trap_after_fin() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52105, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(800));
    let t = s.fin_server(&mut tl, t + MS);
    let t = s.client_send(&mut tl, t + 5 * MS, &http::get("example.com", "/late"));
    let mut inj = Injection::rst();
    inj.ttl = Some(64); // even with an odd TTL (e.g. a firewall closing it)
    s.inject_from_server(&mut tl, t + RTT, &inj);
    bytes(&tl)
}

/// A lone RST, backscatter (SYN/ACKs and RSTs for connections never seen),
/// and retransmitted identical RSTs from the real server.
pub fn rst_trap_lone_and_duplicates() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let lone = v4_session(52106, 80);
    lone.inject_from_server(&mut tl, EPOCH_NS, &Injection::rst().ttl(33));
    let bs = v4_session(52107, 443);
    let mut syn_ack = Injection::rst_ack();
    syn_ack.flags = TcpFlags::SYN_ACK;
    bs.inject_from_server(&mut tl, EPOCH_NS + MS, &syn_ack);
    bs.inject_from_server(&mut tl, EPOCH_NS + 2 * MS, &Injection::rst_ack());
    let mut s = v4_session(52108, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send_acked(&mut tl, t + RTT, &http::ok_html(1000), 1);
    let t = s.rst_from_server(&mut tl, t + 20 * MS);
    s.retransmit_server_last(&mut tl, t + 200 * MS);
    bytes(&tl)
}

/// Random loss: a lost request and a lost response segment, retransmitted,
/// then a normal close.
pub fn rst_trap_loss() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52109, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.retransmit_client_last(&mut tl, t + 300 * MS);
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(4000));
    let t = s.retransmit_server_last(&mut tl, t + 250 * MS);
    let t = s.client_ack(&mut tl, t + RTT / 2);
    s.close(&mut tl, t + 5 * MS, RTT);
    bytes(&tl)
}

/// A route change mid-flow: every later server packet, and the server's own
/// final RST, arrive with TTL 47 instead of 52.
pub fn rst_trap_route_change() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52110, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send_acked(&mut tl, t + RTT, &http::ok_html(2000), 2);
    s.server.ttl = 47;
    let t = s.server_send_acked(&mut tl, t + 2 * MS, &http::ok_html(2000), 2);
    s.rst_from_server(&mut tl, t + 30 * MS);
    bytes(&tl)
}

/// Load-balanced servers whose packets differ by a hop: TTL 52 and 53
/// alternate, and the server's RST comes with 51.
pub fn rst_trap_load_balanced() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52111, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send_acked(&mut tl, t + RTT, &http::ok_html(1200), 1);
    s.server.ttl = 53;
    let t = s.server_send_acked(&mut tl, t + MS, &http::ok_html(1200), 1);
    s.server.ttl = 51;
    s.rst_from_server(&mut tl, t + 20 * MS);
    bytes(&tl)
}

/// A middlebox (NAT, firewall) resets an idle connection 10 minutes after
/// its last data, with its own TTL and IP ID.
pub fn rst_trap_idle_timeout() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(52112, 80);
    let t = get(&mut s, &mut tl, "example.com");
    let t = s.server_send_acked(&mut tl, t + RTT, &http::ok_html(1200), 1);
    s.inject_from_server(
        &mut tl,
        t + 590 * 1000 * MS,
        &Injection::rst_ack().ttl(63).ip_id(0).df(false),
    );
    bytes(&tl)
}

/// A closed port: the SYN answered by the server's RST+ACK (TTL as in its
/// other connections), and a firewall in front of another port answering
/// with its own TTL (no other evidence).
pub fn rst_trap_refused() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut clean = https(52113);
    let t = hello(&mut clean, &mut tl, "example.com");
    let mut rng = Rng::new(2);
    let t = clean.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 900));
    let t = clean.close(&mut tl, t + MS, RTT);
    let mut closed = v4_session(52114, 8080);
    closed.syn(&mut tl, t + 10 * MS);
    closed.refuse(&mut tl, t + 10 * MS + RTT);
    let mut fw = v4_session(52115, 8443);
    fw.syn(&mut tl, t + 20 * MS);
    fw.inject_from_server(
        &mut tl,
        t + 20 * MS + RTT,
        &Injection::rst_ack().ttl(57).window(0),
    );
    bytes(&tl)
}

/// A post-quantum-size ClientHello (about 1.7 KB, two segments) for a
/// blocked SNI, reset by an injector after its second segment. The target
/// and the ClientHello fingerprint need reassembly. Rules as
/// `rst_inject_data_after`.
pub fn rst_inject_large_hello() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = https(52010);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(11);
    let ch = tls::ClientHello::new("blocked.example", &mut rng)
        .with_large_key_share(true)
        .build();
    let t = s.client_send(&mut tl, t + MS, &ch);
    s.inject_from_server(
        &mut tl,
        t + 3 * MS,
        &Injection::rst_ack().ttl(40).ip_id(0x5b2d).df(false),
    );
    let mut rng = Rng::new(12);
    s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 1200));
    bytes(&tl)
}

// Look-alikes found by review (2026-12-05): each part writes one flow, on
// its own client port, into a shared timeline.

/// The first SYN is lost and retransmitted 1 s later; the server rejects
/// the request with its own RST (consistent headers) one RTT after it.
fn server_abort_after_syn_retransmit(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53001, 80);
    s.syn(tl, EPOCH_NS);
    s.retransmit_client_last(tl, EPOCH_NS + 1000 * MS);
    let t = EPOCH_NS + 1000 * MS;
    s.syn_ack(tl, t + RTT);
    let t = s.client_ack(tl, t + RTT + MS);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/"));
    s.rst_from_server(tl, t + RTT);
    Ok(())
}

/// A client uploading continuously (a large POST); the server aborts the
/// upload with its own RST (consistent headers) while the client's
/// segments keep flowing.
fn server_aborts_upload(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53002, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let mut t = s.client_send(
        tl,
        t + MS,
        b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10000000\r\n\r\n",
    );
    for _ in 0..40 {
        t = s.client_send(tl, t + MS, &[0x41; 1448]);
        if (t / MS) % 4 == 0 {
            s.server_ack(tl, t + RTT / 2);
        }
    }
    s.rst_from_server(tl, t + MS / 5);
    Ok(())
}

/// IPv6: request, server aborts with its own RST.
fn server_abort_v6(tl: &mut Timeline) -> Result<()> {
    let mut s = v6_session(53003, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/"));
    let t = s.server_send_acked(tl, t + RTT, &http::ok_html(3000), 2);
    s.rst_from_server(tl, t + 5 * MS);
    Ok(())
}

/// A connection closed normally, then a new one on the same 4-tuple at once
/// (new ISNs), which the server answers and resets.
fn port_reuse_then_abort(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53004, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/"));
    let t = s.server_send_acked(tl, t + RTT, &http::ok_html(2000), 2);
    let t = s.close(tl, t + MS, RTT);
    let mut n = v4_session(53004, 80).with_isns(0x1234_5678, 0x9abc_def0);
    n.server.ip_id = IpIdMode::Sequential { next: 7, step: 1 };
    let t = n.handshake(tl, t + 50 * MS, RTT);
    let t = n.client_send(tl, t + MS, &http::get("example.com", "/2"));
    let t = n.server_send_acked(tl, t + RTT, &http::ok_html(2000), 2);
    n.rst_from_server(tl, t + 5 * MS);
    Ok(())
}

/// HTTP/1.1 pipelining: three requests; the server answers the first and
/// closes with unread requests in its buffer (Linux: RST instead of FIN),
/// then its stack answers the client's in-flight ACK with a second RST
/// (seq = the ACK's number, no ACK flag, window 0, IP ID 0).
fn pipelined_close(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53005, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/1"));
    let t = s.client_send(tl, t + MS / 10, &http::get("example.com", "/2"));
    let t = s.client_send(tl, t + MS / 10, &http::get("example.com", "/3"));
    let t = s.server_send(tl, t + RTT, &http::ok_html(3000));
    let t = s.rst_from_server(tl, t + MS / 10);
    let t = s.client_ack(tl, t + MS / 10);
    let mut inj = Injection::rst().window(0).ip_id(0);
    inj.seq_offset = 0;
    s.inject_from_server(tl, t + RTT, &inj);
    Ok(())
}

/// TLS: the server rejects the ClientHello with an alert and resets.
fn tls_alert_then_rst(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53006, 443);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(7);
    let t = s.client_send(tl, t + MS, &tls::client_hello("example.com", &mut rng));
    let t = s.server_send(tl, t + RTT, &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    s.rst_from_server(tl, t + MS / 10);
    Ok(())
}

/// A Windows client's connect() to a port whose service is restarting: the
/// server refuses the SYN (RST+ACK, its own headers), Windows retries the
/// same SYN 0.5 s later, refused again, and 0.5 s later the service is up:
/// SYN/ACK, request, answer, close.
fn syn_retry_after_refusal(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53007, 80);
    s.syn(tl, EPOCH_NS);
    s.refuse(tl, EPOCH_NS + RTT);
    s.retransmit_client_last(tl, EPOCH_NS + 500 * MS);
    s.refuse(tl, EPOCH_NS + 500 * MS + RTT);
    s.retransmit_client_last(tl, EPOCH_NS + 1000 * MS);
    let t = EPOCH_NS + 1000 * MS;
    s.syn_ack(tl, t + RTT);
    let t = s.client_ack(tl, t + RTT + MS / 4);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/"));
    let t = s.server_send_acked(tl, t + RTT, &http::ok_html(2000), 2);
    s.close(tl, t + MS, RTT);
    Ok(())
}

/// A pooled keep-alive connection (client port `port`) reused after `idle`
/// of silence: the cloud NAT gateway (AWS NAT Gateway, NLB: 350 s idle
/// timeout) has dropped its state and answers the client's new request with
/// its own RST (its own TTL and IP ID, no DF) at once. A middlebox
/// idle-timeout reset.
fn nat_idle_reset_on_request(tl: &mut Timeline, port: u16, idle: i64) -> Result<()> {
    let mut s = v4_session(port, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/"));
    let t = s.server_send_acked(tl, t + RTT, &http::ok_html(1200), 1);
    let t = s.client_send(tl, t + idle, &http::get("example.com", "/2"));
    s.inject_from_server(
        tl,
        t + MS / 3,
        &Injection::rst_ack().ttl(63).ip_id(0).df(false),
    );
    Ok(())
}

/// The same idle reset on a TCP keepalive probe (Linux: no payload, one
/// byte behind), 10 minutes into an idle connection.
fn nat_idle_reset_on_keepalive(tl: &mut Timeline) -> Result<()> {
    let mut s = v4_session(53009, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get("example.com", "/"));
    let t = s.server_send_acked(tl, t + RTT, &http::ok_html(1200), 1);
    let mut ka = Injection::rst_ack();
    ka.flags = TcpFlags::ACK;
    ka.seq_offset = -1;
    let t = s.inject_from_client(tl, t + 600_000 * MS, &ka);
    s.inject_from_server(
        tl,
        t + MS / 3,
        &Injection::rst_ack().ttl(63).ip_id(0).df(false),
    );
    Ok(())
}

/// IPv6 on-path injection: a RST without ACK (hop limit 40) after the
/// request, then the real answer. A true event; its evidence must not claim
/// the IPv4-only gfw_type1 look (IP ID 0, no DF) that IPv6 cannot show.
fn v6_inject_no_ack(tl: &mut Timeline) -> Result<()> {
    let mut s = v6_session(53010, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get("blocked.example", "/"));
    s.inject_from_server(tl, t + 3 * MS, &Injection::rst().ttl(40));
    s.server_send(tl, t + RTT, &http::ok_html(1200));
    Ok(())
}

/// Servers closing in their own ways: an abort after the client's first
/// SYN was lost and retransmitted, an aborted upload, an IPv6 abort, a
/// reused port, HTTP/1.1 pipelining closed with unread requests (and the
/// stack's second RST), a TLS alert followed by RST. All the server's own
/// headers.
pub fn rst_trap_server_closes() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    server_abort_after_syn_retransmit(&mut tl)?;
    server_aborts_upload(&mut tl)?;
    server_abort_v6(&mut tl)?;
    port_reuse_then_abort(&mut tl)?;
    pipelined_close(&mut tl)?;
    tls_alert_then_rst(&mut tl)?;
    bytes(&tl)
}

/// A connect refused while the service restarts, retried by the client
/// (Windows: twice, 0.5 s apart, the same SYN), then answered.
pub fn rst_trap_syn_retry_after_refusal() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    syn_retry_after_refusal(&mut tl)?;
    bytes(&tl)
}

/// A NAT gateway or load balancer that dropped idle connections' state
/// (AWS NAT Gateway and NLB: 350 s) resets the first client packet after
/// the silence at once, with its own TTL, IP ID and DF: a request on a
/// pooled connection after 6 minutes, a keepalive after 10, a request after
/// 12 (when the flow table had let the flow go and picks it up mid-stream).
pub fn rst_trap_nat_idle_reset() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    nat_idle_reset_on_request(&mut tl, 53008, 360_000 * MS)?;
    nat_idle_reset_on_keepalive(&mut tl)?;
    // longer than the flow table keeps an established flow (600 s): the
    // reused connection is picked up again mid-stream
    nat_idle_reset_on_request(&mut tl, 53011, 720_000 * MS)?;
    bytes(&tl)
}

/// IPv6: an on-path RST without ACK (hop limit 40) after the request, then
/// the real answer. An event; IPv6 has no IP ID or DF, so no IPv4-only
/// fingerprint (gfw_type1) and no DF in the evidence.
pub fn rst_inject_v6_no_ack() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    v6_inject_no_ack(&mut tl)?;
    bytes(&tl)
}
