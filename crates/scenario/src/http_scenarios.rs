//! Scenarios for the `http_injection` detector (expected verdicts in the
//! tamperwatch test `http_fixtures.rs`). Client 192.0.2.10, server
//! 203.0.113.34:80 (TTL 52 at the client, sequential IP IDs, DF, window
//! 65160), 80 ms away.

use crate::catalogue::{v4_session, MS};
use crate::packet::TcpFlags;
use crate::session::{Injection, TcpSession, Timeline, EPOCH_NS};
use crate::{http, Result};

const RTT: i64 = 80 * MS;
const ETHERNET: u32 = crate::pcap::linktype::ETHERNET;

fn get(port: u16, host: &str, tl: &mut Timeline) -> (TcpSession, i64) {
    let mut s = v4_session(port, 80);
    let t = s.handshake(tl, EPOCH_NS, RTT);
    let t = s.client_send(tl, t + MS, &http::get(host, "/"));
    (s, t)
}

fn iran_page() -> Vec<u8> {
    let body = br#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"><title>M1-6</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy" style="width: 100%; height: 100%" scrolling="no" marginwidth="0" marginheight="0" frameborder="0" vspace="0" hspace="0"></iframe></body></html>"#;
    http::response(403, "Forbidden", "text/html", body)
}

fn forged_data(payload: Vec<u8>, ttl: u8, ip_id: u16, df: bool, window: u16) -> Injection {
    let mut inj = Injection::data(payload)
        .ttl(ttl)
        .ip_id(ip_id)
        .df(df)
        .window(window);
    inj.flags = TcpFlags(TcpFlags::PSH_ACK.0 | TcpFlags::FIN.0);
    inj
}

/// Iran: the block page (iframe to 10.10.34.34) injected 2 ms after the
/// request, with FIN; the real response races in at the same sequence
/// number. Rules: conflicting_responses, block_page, ttl_mismatch.
pub fn http_inject_iran_race() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let (mut s, t) = get(53001, "blocked.example", &mut tl);
    s.inject_from_server(
        &mut tl,
        t + 2 * MS,
        &forged_data(iran_page(), 60, 0x2b67, false, 65160),
    );
    s.server_send(&mut tl, t + RTT, &http::ok_html(1200));
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Sandvine PacketLogic (Egypt): a 307 redirect to an ad page in a FIN+ACK
/// segment with IP ID 0x3412 and no DF; the server stays silent. Rules:
/// ip_id_marker (the ID is out of the server's sequence too, but counts
/// once), df_mismatch, closed_with_response.
pub fn http_inject_sandvine_redirect() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let (mut s, t) = get(53002, "blocked.example", &mut tl);
    let t = s.server_ack(&mut tl, t + RTT);
    let redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://ads.example.net/static1.html\r\nConnection: close\r\n\r\n".to_vec();
    s.inject_from_server(
        &mut tl,
        t + MS,
        &forged_data(redirect, 52, 0x3412, false, 65160),
    );
    tl.to_pcap_bytes(ETHERNET, false)
}

/// An in-path box answers with a plain block page (no known fingerprint)
/// from one hop away: TTL 64, IP ID 1, no DF, then FIN. Rules:
/// ttl_mismatch, df_mismatch, closed_with_response: the SYN/ACK is the only
/// reference, and the page counts against it because it came 0.5 ms after
/// the request on an 80 ms handshake.
pub fn http_inject_inpath_page() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let (s, t) = get(53003, "blocked.example", &mut tl);
    s.inject_from_server(
        &mut tl,
        t + MS / 2,
        &forged_data(http::block_page(), 64, 0x0001, false, 65160),
    );
    tl.to_pcap_bytes(ETHERNET, false)
}

/// Clean look-alikes: the server's own 403 page, its own 301 redirect with
/// `Connection: close`, and a retransmitted (identical) response.
pub fn http_trap_server_pages() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let (mut a, t) = get(53101, "example.com", &mut tl);
    let t = a.server_send(&mut tl, t + RTT, &http::block_page());
    a.close_by_server(&mut tl, t + MS, RTT);
    let (mut b, t) = get(53102, "example.com", &mut tl);
    let redirect = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec();
    let t = b.server_send(&mut tl, t + RTT, &redirect);
    b.close_by_server(&mut tl, t, RTT);
    let (mut c, t) = get(53103, "example.com", &mut tl);
    let t = c.server_send(&mut tl, t + RTT, &http::ok_html(900));
    let t = c.retransmit_server_last(&mut tl, t + 300 * MS);
    c.close(&mut tl, t + MS, RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// A block page served by the server's own end (a filter in front of the
/// server: same TTL, IP IDs in sequence, DF) on a connection with window
/// scaling: the SYN/ACK's window (65160) is unscaled, the response's (502,
/// ×128) scaled. The two are not comparable, so the page must stay
/// `server_side`, not become `on_path` through a window "mismatch".
pub fn http_block_server_side_scaled() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let (mut s, t) = get(53201, "blocked.example", &mut tl);
    s.server.window = 502;
    let t = s.server_send(&mut tl, t + RTT, &iran_page());
    s.close_by_server(&mut tl, t + MS, RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// A TCP keep-alive from the server on an idle HTTP/1.1 connection: one
/// byte (0x00) at the sequence number before its next one (RFC 9293
/// 3.8.4), over the last byte of the response. Not a second response.
pub fn http_trap_keepalive() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let (mut s, t) = get(53202, "example.com", &mut tl);
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(300));
    let t = s.client_ack(&mut tl, t + MS);
    let mut probe = Injection::data(vec![0]);
    probe.flags = TcpFlags::ACK;
    let t = s.inject_from_server(&mut tl, t + 20_000 * MS, &probe.seq_offset(-1));
    let t = s.client_ack(&mut tl, t + MS);
    s.close(&mut tl, t + 5_000 * MS, RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// A site behind a DDoS scrubbing service that proxies the handshake: the
/// SYN/ACK comes from the scrubbing centre (4 hops closer, no DF, its own
/// IP IDs), everything after it from the origin over the direct path (TTL
/// 52, DF). The response fits every later server packet, not the SYN/ACK.
pub fn http_trap_syn_proxy() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(53203, 80);
    s.server.ttl = 56;
    s.server.df = false;
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    s.server.ttl = 52;
    s.server.df = true;
    s.server.ip_id = crate::endpoint::IpIdMode::Sequential {
        next: 40_000,
        step: 1,
    };
    let t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(3000));
    let t = s.client_ack(&mut tl, t + MS);
    s.close(&mut tl, t + MS, RTT);
    tl.to_pcap_bytes(ETHERNET, false)
}

/// The SYN-proxy look-alike of `http_trap_syn_proxy` with the short answers
/// that are most common on port 80: one segment each, so no later segment
/// over the origin's path vouches for the response. The SYN/ACK comes from
/// the scrubbing centre (TTL 56, no DF), the rest from the origin (TTL 52,
/// DF) one full round trip after the request:
/// - a `301` to `https://` on the same host, then the origin's FIN;
/// - a `204 No Content`, then the origin's FIN;
/// - the scrubbing centre ACKs the request (its TTL and DF), then the
///   origin's `301` to `https://` on the same host.
pub fn http_trap_syn_proxy_short() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let redirect = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n";
    let no_content = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    for (port, answer, proxy_acks) in [
        (53204, &redirect[..], false),
        (53205, &no_content[..], false),
        (53206, &redirect[..], true),
    ] {
        let mut s = v4_session(port, 80);
        let scrubber = |s: &mut TcpSession| {
            s.server.ttl = 56;
            s.server.df = false;
        };
        let origin = |s: &mut TcpSession| {
            s.server.ttl = 52;
            s.server.df = true;
        };
        scrubber(&mut s);
        let t = s.handshake(&mut tl, EPOCH_NS, RTT);
        let mut t = s.client_send(&mut tl, t + MS, &http::get("example.com", "/"));
        if proxy_acks {
            // (a round trip after the request: the proxy is the SYN/ACK's sender)
            t = s.server_ack(&mut tl, t + RTT);
        }
        origin(&mut s);
        let t = s.server_send(&mut tl, t + RTT, answer);
        let t = s.client_ack(&mut tl, t + MS);
        s.close_by_server(&mut tl, t + MS, RTT);
    }
    tl.to_pcap_bytes(ETHERNET, false)
}
