//! `http_injection` against the shapes of the red-team review of session
//! 27: a connection whose sequence numbers wrap after 4 GiB, a response
//! segment damaged on the way and resent, a block page that loses the race
//! with the server's TTL and DF, Iran's page alone with the server's TTL
//! and DF, the server's own answer to a large upload after a route move,
//! and a request split in its first bytes.

mod common;

use tw_scenario::catalogue::{v4_session, MS};

const SECOND: i64 = 1000 * MS;
use tw_scenario::packet::TcpFlags;
use tw_scenario::session::{Injection, TcpSession, Timeline, EPOCH_NS};
use tw_scenario::{checksum, http};

const RTT: i64 = 80 * MS;

fn get(port: u16, host: &str, tl: &mut Timeline) -> (TcpSession, i64) {
    get_at(port, host, tl, EPOCH_NS, RTT)
}

fn get_at(port: u16, host: &str, tl: &mut Timeline, t0: i64, rtt: i64) -> (TcpSession, i64) {
    let mut s = v4_session(port, 80);
    let t = s.handshake(tl, t0, rtt);
    let t = s.client_send(tl, t + MS, &http::get(host, "/"));
    (s, t)
}

fn http_events(tl: Timeline) -> (tw_detect::Engine, Vec<serde_json::Value>) {
    common::replay_of(tl, "http_injection")
}

/// Iran's block page: a 403 with an iframe to 10.10.34.34.
fn iran_page() -> Vec<u8> {
    let body = br#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"><title>M1-6</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy" style="width: 100%; height: 100%" scrolling="no" marginwidth="0" marginheight="0" frameborder="0" vspace="0" hspace="0"></iframe></body></html>"#;
    http::response(403, "Forbidden", "text/html", body)
}

/// A segment written with the server's headers (TTL 52, DF, its window,
/// the next IP ID of its counter) at `seq_offset` from its next byte.
fn as_server(s: &mut TcpSession, payload: Vec<u8>, seq_offset: i64, fin: bool) -> Injection {
    let mut inj = Injection::data(payload)
        .ttl(s.server.ttl)
        .ip_id(s.server.next_ip_id())
        .df(s.server.df)
        .window(s.server.window)
        .seq_offset(seq_offset);
    if fin {
        inj.flags = TcpFlags(TcpFlags::PSH_ACK.0 | TcpFlags::FIN.0);
    }
    inj
}

/// Iran's page as an injector 8 hops nearer than the server sends it: no
/// DF, its own IP ID, FIN.
fn racing_page() -> Injection {
    let mut inj = Injection::data(iran_page())
        .ttl(60)
        .ip_id(0x2b67)
        .df(false)
        .window(65160);
    inj.flags = TcpFlags(TcpFlags::PSH_ACK.0 | TcpFlags::FIN.0);
    inj
}

// ---- sequence numbers that wrap after 4 GiB ----

/// A download over port 80 whose server data runs `past` bytes beyond its
/// first response (`past` 0: none), then a segment of other bytes at the
/// first response's position plus 100: a wrap after 4 GiB when the stream
/// ran far past it first, a second response when it did not.
fn wrapped(past: u32) -> Timeline {
    let mut tl = Timeline::new();
    let (mut s, t) = get(54001, "cache7.steamcontent.example", &mut tl);
    let head = http::response_head(200, "OK", "application/octet-stream", 1 << 20);
    let first_seq = s.state.server_next_seq;
    let mut t = s.server_send(&mut tl, t + RTT, &head);
    t = s.server_send(&mut tl, t + MS, &http::filler(2800));
    t = s.client_ack(&mut tl, t + MS);
    if past > 0 {
        // (the capture holds the stream's start and the moments below: a
        // scenario cannot write 4 GiB)
        s.state.server_next_seq = first_seq.wrapping_add(past);
        s.state.client_rcv_next = s.state.server_next_seq;
        t = s.server_send(&mut tl, t + 10 * MS, &http::filler(1448));
        t = s.client_ack(&mut tl, t + MS);
        // 2^32 bytes after the first response: its position again
        s.state.server_next_seq = first_seq.wrapping_add(100);
        s.state.client_rcv_next = s.state.server_next_seq;
    } else {
        s.state.server_next_seq = first_seq.wrapping_add(100);
    }
    let other: Vec<u8> = (0..1448u32).map(|i| (i * 7 + 3) as u8).collect();
    t = s.server_send(&mut tl, t + 10 * MS, &other);
    t = s.client_ack(&mut tl, t + MS);
    s.close(&mut tl, t + MS, RTT);
    tl
}

#[test]
fn a_stream_that_wraps_after_4_gib_is_no_second_response() {
    // two megabytes on, then the wrap: the segment at the first response's
    // position is 4 GiB later, not another answer (before: 0.95)
    let (_, ev) = http_events(wrapped(2 << 20));
    assert!(ev.is_empty(), "{ev:?}");
    // the same bytes right after the first response: a second response
    let (_, ev) = http_events(wrapped(0));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["rules"][0], "conflicting_responses");
}

// ---- a segment damaged on the way ----

/// The IP packet of the `nth` server data segment of port `port` in `tl`.
fn server_data(tl: &mut Timeline, port: u16, nth: usize) -> &mut Vec<u8> {
    tl.entries_mut()
        .iter_mut()
        .map(|e| &mut e.data)
        .filter(|d| {
            let ihl = usize::from(d[0] & 0xf) * 4;
            let doff = usize::from(d[ihl + 12] >> 4) * 4;
            d[ihl..ihl + 2] == [0, 80]
                && u16::from_be_bytes([d[ihl + 2], d[ihl + 3]]) == port
                && d.len() > ihl + doff
        })
        .nth(nth)
        .expect("no such segment")
}

/// Flips a bit of the TCP payload's byte `at`, and with `fix`, writes the
/// checksum the changed segment needs (a copy with other bytes, as an
/// injector sends; without: damage, which the client's kernel drops).
fn flip(d: &mut [u8], at: usize, fix: bool) {
    let ihl = usize::from(d[0] & 0xf) * 4;
    let doff = usize::from(d[ihl + 12] >> 4) * 4;
    d[ihl + doff + at] ^= 0x10;
    if fix {
        d[ihl + 16..ihl + 18].copy_from_slice(&[0, 0]);
        let src = std::net::Ipv4Addr::new(d[12], d[13], d[14], d[15]).into();
        let dst = std::net::Ipv4Addr::new(d[16], d[17], d[18], d[19]).into();
        let c = checksum::transport(src, dst, 6, &d[ihl..]);
        d[ihl + 16..ihl + 18].copy_from_slice(&c.to_be_bytes());
    }
}

/// A page of `len` bytes in segments of 1,448, the `nth` of them resent
/// 200 ms later; then the client ACKs and the server closes.
fn page_with_a_resend(port: u16, len: usize, nth: usize) -> Timeline {
    let mut tl = Timeline::new();
    let (mut s, t) = get(port, "news.example", &mut tl);
    let page = http::ok_html(len);
    let mut t = t + RTT;
    for (i, chunk) in page.chunks(1448).enumerate() {
        t = s.server_send(&mut tl, t, chunk);
        if i == nth {
            t = s.retransmit_server_last(&mut tl, t + 200 * MS);
        }
        t += MS;
    }
    let t = s.client_ack(&mut tl, t + MS);
    s.close_by_server(&mut tl, t + MS, RTT);
    tl
}

#[test]
fn a_segment_damaged_on_the_way_and_resent_is_no_second_response() {
    // the first copy of the response's first segment damaged (a bit of its
    // status line), the resend intact; the first copy of the second segment
    // damaged, the resend intact; the resend of the first segment damaged
    // (before: 0.95 each)
    for (nth, copy, at) in [(0, 0, 10), (1, 1, 300), (0, 1, 500)] {
        let mut tl = page_with_a_resend(54100, 3000, nth);
        flip(server_data(&mut tl, 54100, copy), at, false);
        let (engine, ev) = http_events(tl);
        assert!(ev.is_empty(), "segment {nth}, copy {copy}: {ev:?}");
        // (the damaged copy, skipped)
        assert_eq!(engine.stats().http_damaged_segments, 1);
    }
    // a damaged segment 21 KB into the page: past what is compared, not
    // summed (a download's bytes are not checked one by one), no event
    let mut tl = page_with_a_resend(54101, 30_000, 15);
    flip(server_data(&mut tl, 54101, 15), 10, false);
    let (engine, ev) = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(engine.stats().http_damaged_segments, 0);
    // the same with the checksum right: other bytes at the same position,
    // an injector's race
    let mut tl = page_with_a_resend(54100, 3000, 0);
    flip(server_data(&mut tl, 54100, 0), 10, true);
    let (engine, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["confidence"], 0.95);
    assert_eq!(engine.stats().http_damaged_segments, 0);
}

/// Iran's page from 8 hops nearer (no DF) racing the server's 200 on
/// connection `port`, after `before` (written with the session before the
/// page).
fn race_after(
    port: u16,
    before: impl FnOnce(&mut TcpSession, &mut Timeline, i64) -> i64,
) -> Timeline {
    let mut tl = Timeline::new();
    let (mut s, t) = get(port, "blocked.example", &mut tl);
    let start = s.state.server_next_seq;
    let t = before(&mut s, &mut tl, t);
    s.state.server_next_seq = start;
    let inj = racing_page();
    s.inject_from_server(&mut tl, t + 2 * MS, &inj);
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(1200));
    s.close(&mut tl, t + MS, RTT);
    tl
}

#[test]
fn segments_an_injector_sends_ahead_hide_nothing() {
    // the second review of session 27: server data 2 MiB ahead (which the
    // client's kernel drops, out of its window) made the race uncompared,
    // and a junk segment before the response became "the first response"
    // with a right checksum or a wrong one: each hid the 0.95 race
    let ahead = |bad: bool| {
        move |s: &mut TcpSession, tl: &mut Timeline, t: i64| {
            let at = s.state.server_next_seq;
            s.state.server_next_seq = at.wrapping_add(2 << 20);
            let t = s.server_send(tl, t + MS / 2, &http::filler(1000));
            if bad {
                let d = tl.entries_mut().last_mut().unwrap();
                d.data[36] ^= 0xff; // its TCP checksum
            }
            t
        }
    };
    for bad in [false, true] {
        let (_, ev) = http_events(race_after(54800, ahead(bad)));
        assert_eq!(ev.len(), 1, "junk ahead, bad checksum {bad}: {ev:?}");
        assert_eq!(ev[0]["confidence"], 0.95);
    }
    // nothing sent before: the same event
    let (_, ev) = http_events(race_after(54800, |_, _, t| t));
    assert_eq!(ev.len(), 1, "{ev:?}");
    // the page first, then server data 2 MiB ahead, then the real answer:
    // only the client's ACKs say the stream ran far (they did not here)
    let mut tl = Timeline::new();
    let (mut s, t) = get(54801, "blocked.example", &mut tl);
    let start = s.state.server_next_seq;
    let inj = racing_page();
    s.inject_from_server(&mut tl, t + 2 * MS, &inj);
    s.state.server_next_seq = start.wrapping_add(2 << 20);
    s.server_send(&mut tl, t + 3 * MS, &http::filler(1000));
    s.state.server_next_seq = start;
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(1200));
    s.close(&mut tl, t + MS, RTT);
    let (_, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "page, data ahead, answer: {ev:?}");
    assert_eq!(ev[0]["evidence"]["rules"][0], "conflicting_responses");
}

#[test]
fn a_merge_by_the_capturing_hosts_gro_is_no_damage() {
    // MSS 536: the capturing host's GRO joins two of the server's segments
    // into one of 1,072 bytes under a checksum of its own (wrong for the
    // whole): no damage, and the real answer still races the page
    let mut tl = Timeline::new();
    let mut s = v4_session(54900, 80).with_mss(536);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    let inj = racing_page();
    s.inject_from_server(&mut tl, t + 2 * MS, &inj);
    let merged = as_server(&mut s, http::ok_html(1000)[..1072].to_vec(), 0, false);
    s.inject_from_server(&mut tl, t + RTT, &merged);
    tl.entries_mut().last_mut().unwrap().data[36] ^= 0xff;
    let (engine, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(engine.stats().http_damaged_segments, 0);
    // the MSS 1460, the server's segments 536 bytes (a path MTU of 576):
    // the merge is shorter than the MSS, but its checksum field holds what
    // Linux's GRO writes there, the pseudo-header's sum alone
    let mut tl = Timeline::new();
    let mut s = v4_session(54901, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    s.inject_from_server(&mut tl, t + 2 * MS, &inj);
    let merged = as_server(&mut s, http::ok_html(1000)[..1072].to_vec(), 0, false);
    s.inject_from_server(&mut tl, t + RTT, &merged);
    let d = &mut tl.entries_mut().last_mut().unwrap().data;
    let len = (d.len() - 20) as u32;
    let src = std::net::Ipv4Addr::new(d[12], d[13], d[14], d[15]).into();
    let dst = std::net::Ipv4Addr::new(d[16], d[17], d[18], d[19]).into();
    let mut sum = checksum::pseudo_header(src, dst, 6, len);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    d[36..38].copy_from_slice(&(sum as u16).to_be_bytes());
    let (engine, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(engine.stats().http_damaged_segments, 0);
}

#[test]
fn where_the_servers_checksums_are_all_wrong_a_conflict_still_counts() {
    // a vantage point whose card leaves checksums to the hardware, or a
    // lab whose server shares the host: the SYN/ACK's is wrong too, so a
    // wrong one tells nothing, and two different copies are two responses
    let mut tl = page_with_a_resend(54200, 3000, 0);
    let synack = tl
        .entries_mut()
        .iter_mut()
        .map(|e| &mut e.data)
        .find(|d| d[20..22] == [0, 80] && d[33] & 0x12 == 0x12)
        .unwrap();
    synack[36] ^= 0xff; // its checksum
    flip(server_data(&mut tl, 54200, 0), 10, false);
    let (_, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
}

// ---- a block page with the server's headers ----

#[test]
fn a_block_page_that_loses_the_race_is_still_the_forged_one() {
    // a site 10 ms away answers first; Iran's page comes 25 ms after the
    // request at the same position with the server's TTL and DF (before:
    // the server's 200 was named forged, and no fingerprint)
    let mut tl = Timeline::new();
    let (mut s, t) = get_at(54300, "blocked.example", &mut tl, EPOCH_NS, 10 * MS);
    let real = http::ok_html(900);
    let seq = s.state.server_next_seq;
    let t1 = s.server_send(&mut tl, t + 10 * MS, &real);
    let back = -i64::from(s.state.server_next_seq.wrapping_sub(seq));
    let inj = as_server(&mut s, iran_page(), back, true);
    s.inject_from_server(&mut tl, t + 25 * MS, &inj);
    s.close(&mut tl, t1 + 30 * MS, 10 * MS);
    let (_, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let x = &ev[0]["evidence"];
    assert_eq!(x["response"]["status"], 403, "{x}");
    assert_eq!(x["other_response"]["status"], 200, "{x}");
    assert_eq!(x["fingerprint"]["name"], "tw.ir_iframe", "{x}");
    assert!(x["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "block_page"));
}

#[test]
fn irans_page_alone_with_the_servers_headers_is_on_the_path() {
    // the filter drops the request and answers 6 ms after it on a 120 ms
    // path, with the server's TTL and DF (IP ID 0): sooner than the server
    // could answer, so from closer (before: server_side, 0.6)
    let mut tl = Timeline::new();
    let (mut s, t) = get_at(54400, "blocked.example", &mut tl, EPOCH_NS, 120 * MS);
    let mut inj = as_server(&mut s, iran_page(), 0, true);
    inj.ip_id = Some(0);
    s.inject_from_server(&mut tl, t + 6 * MS, &inj);
    let (_, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["origin"], "on_path");
    assert_eq!(ev[0]["confidence"], 0.9);
    // a FortiGate page from the server's end a round trip after the
    // request stays `server_side` (a `prod` page, not early)
    let mut tl = Timeline::new();
    let (mut s, t) = get_at(54401, "blocked.example", &mut tl, EPOCH_NS, 120 * MS);
    let body = b"<html><head><title>Web Filter Violation</title></head><body>blocked</body></html>";
    let page = http::response(403, "Forbidden", "text/html", body);
    let inj = as_server(&mut s, page, 0, true);
    s.inject_from_server(&mut tl, t + 125 * MS, &inj);
    let (_, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["origin"], "server_side");
    assert_eq!(ev[0]["confidence"], 0.6);
    // the same page 35 ms after the request, after a handshake a waking
    // radio stretched to 280 ms, where the server's handshakes on the port
    // take 30 ms: not early (second review, session 27: on_path, 0.9)
    let mut tl = Timeline::new();
    let (mut a, t) = get_at(54402, "example.com", &mut tl, EPOCH_NS, 30 * MS);
    let t = a.server_send(&mut tl, t + 30 * MS, &http::ok_html(5000));
    let t = a.client_ack(&mut tl, t + MS);
    let t = a.close(&mut tl, t + MS, 30 * MS);
    let (mut s, t) = get_at(54403, "blocked.example", &mut tl, t + SECOND, 280 * MS);
    let page = http::response(403, "Forbidden", "text/html", body);
    let inj = as_server(&mut s, page, 0, true);
    s.inject_from_server(&mut tl, t + 35 * MS, &inj);
    let (_, ev) = http_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["origin"], "server_side", "{}", ev[0]);
}

// ---- the server's answer to a large upload after a route move ----

/// Two earlier page loads from the server (its answers' path, TTL 52, is
/// known), then a POST of 2,900 segments that the server ACKs every second
/// one (IP IDs in sequence with its SYN/ACK's); with `moved`, the route
/// moves halfway (the server's packets arrive 4 hops shorter), then the
/// server answers `201 Created` in one segment.
fn upload(moved: bool) -> Timeline {
    let mut tl = Timeline::new();
    let mut t0 = EPOCH_NS;
    for port in [54500, 54501] {
        let (mut s, t) = get_at(port, "photos.example", &mut tl, t0, 40 * MS);
        let t = s.server_send(&mut tl, t + 40 * MS, &http::ok_html(6000));
        let t = s.client_ack(&mut tl, t + MS);
        t0 = s.close(&mut tl, t + MS, 40 * MS) + 100 * MS;
    }
    let mut s = v4_session(54502, 80);
    let mut t = s.handshake(&mut tl, t0, 40 * MS);
    let head = b"POST /upload HTTP/1.1\r\nHost: photos.example\r\nContent-Length: 4199200\r\n\r\n";
    t = s.client_send(&mut tl, t + MS, head);
    for i in 0..1450 {
        t = s.client_send(&mut tl, t + MS, &[0x5a; 2896]);
        t = s.server_ack(&mut tl, t + MS);
        if moved && i == 700 {
            s.server.ttl -= 4;
        }
    }
    let answer = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    t = s.server_send(&mut tl, t + 40 * MS, answer);
    s.close_by_server(&mut tl, t + MS, 40 * MS);
    tl
}

#[test]
fn the_servers_answer_after_a_large_upload_and_a_route_move_is_its_own() {
    // before: ttl_mismatch (off the server's known answer path) and
    // ip_id_out_of_sequence (1,450 ACKs after the fourth), 0.85
    let (_, ev) = http_events(upload(true));
    assert!(ev.is_empty(), "{ev:?}");
    let (_, ev) = http_events(upload(false));
    assert!(ev.is_empty(), "{ev:?}");
}

// ---- a request split in its first bytes ----

/// A connection whose request goes out as `split` bytes, then the rest
/// (GoodbyeDPI's `-f 2`, zapret's `split2`), then Iran's page from 8 hops
/// nearer without DF racing the server's 200.
fn split_request(port: u16, request: &[u8], split: usize) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = v4_session(port, 80);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t = s.client_send(&mut tl, t + MS, &request[..split]);
    let t = s.client_send(&mut tl, t + MS / 10, &request[split..]);
    let inj = racing_page();
    s.inject_from_server(&mut tl, t + 2 * MS, &inj);
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(1200));
    s.close(&mut tl, t + MS, RTT);
    tl
}

#[test]
fn a_request_split_in_its_method_is_still_a_request() {
    let req = http::get("blocked.example", "/news");
    for split in [1, 2, 3] {
        let (engine, ev) = http_events(split_request(54600, &req, split));
        assert_eq!(ev.len(), 1, "split at {split}: {ev:?}");
        let x = &ev[0]["evidence"];
        assert_eq!(x["request_line"], "GET /news HTTP/1.1", "{x}");
        assert_eq!(x["fingerprint"]["name"], "tw.ir_iframe", "{x}");
        assert_eq!(engine.stats().http_requests, 1);
    }
    // the same two segments that do not make a request ("GE" then not
    // "T "): no request, nothing judged
    let mut other = b"GE".to_vec();
    other.extend_from_slice(b"\x00\x01binary protocol");
    let (engine, ev) = http_events(split_request(54601, &other, 2));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(engine.stats().http_requests, 0);
}

// ---- a block page's title past the bytes kept ----

/// A FortiGate web-filter page laid out as FortiOS 7 serves it (a padding
/// comment for old browsers, then a long style block) with its `<title>`
/// beginning `at` bytes into the stream, served from the server's end (its
/// TTL and DF) a round trip after the request, in full-sized segments.
fn fortigate_page(port: u16, at: usize) -> (Timeline, usize) {
    let mut tl = Timeline::new();
    let (mut s, t) = get(port, "blocked.example", &mut tl);
    let head = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=\"utf-8\"\r\nConnection: close\r\n\r\n<!DOCTYPE html><html><head>";
    let style = b"<style>body{margin:0;font:14px sans-serif}</style>";
    let title = b"<title>Web Filter Violation</title>";
    let tail =
        b"</head><body><h1>Web Page Blocked</h1><p>Category: Proxy Avoidance</p></body></html>";
    let mut page = head.to_vec();
    page.extend_from_slice(b"<!-- IE friendly error message walkround.");
    while page.len() + style.len() + 4 < at {
        page.push(b'\n');
    }
    page.extend_from_slice(b" -->");
    page.extend_from_slice(style);
    page.truncate(at.max(page.len()));
    assert_eq!(page.len(), at, "layout");
    page.extend_from_slice(title);
    page.extend_from_slice(tail);
    let seg = s.server_segment_size();
    let t = s.server_send(&mut tl, t + RTT, &page);
    let t = s.client_ack(&mut tl, t + MS);
    s.close_by_server(&mut tl, t + MS, RTT);
    (tl, seg)
}

#[test]
fn a_block_pages_title_past_the_bytes_kept_is_found() {
    let seg = fortigate_page(54700, 4000).1;
    // 4.7 KB in (FortiOS 7), at a segment's start, across two segments,
    // near the end of the search (before: none recognised)
    for at in [4743, 2 * seg, 3 * seg - 3, 16_000] {
        let (tl, _) = fortigate_page(54700, at);
        let (_, ev) = http_events(tl);
        assert_eq!(ev.len(), 1, "title at {at}: {ev:?}");
        let x = &ev[0]["evidence"];
        assert_eq!(x["fingerprint"]["name"], "tw.fortiguard_webfilter", "{x}");
        assert_eq!(x["origin"], "server_side", "{x}");
    }
    // past the 16 KiB searched: not found (a page judged on its headers,
    // which are the server's: nothing)
    let (tl, _) = fortigate_page(54701, 17_000);
    let (_, ev) = http_events(tl);
    assert!(ev.is_empty(), "{ev:?}");
}
