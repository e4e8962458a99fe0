//! `blackhole` stage `transfer`: a connection frozen in mid-transfer
//! (session 23). Russia's TSPU has frozen connections to foreign hosting
//! this way since 2024, after the first 16-20 KB the server sends; before,
//! nothing reported it (the server had sent data, so the connection counted
//! as answered). The fixtures `bh_transfer_frozen` and
//! `bh_trap_transfer_stalls` hold the main cases; these tests the edges.

mod common;

use tw_scenario::blackhole_scenarios::frozen_download;
use tw_scenario::session::EPOCH_NS;
use tw_scenario::Timeline;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const SERVER: [u8; 4] = [203, 0, 113, 60];

fn transfer_events(tl: Timeline) -> Vec<serde_json::Value> {
    let mut ev: Vec<serde_json::Value> = common::events_of(tl, "blackhole")
        .into_iter()
        .filter(|e| e["evidence"]["stage"] == "transfer")
        .collect();
    ev.sort_by_key(|e| e["flow"]["client_port"].as_u64());
    ev
}

/// A freeze and nothing more from the server in any connection (no retry):
/// the server may have gone down, or the path to it. Not reported.
#[test]
fn a_freeze_without_a_later_answer_from_the_server_is_not_reported() {
    let mut tl = Timeline::new();
    frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    assert!(transfer_events(tl).is_empty());
}

/// The retry answered: reported, with what froze and when.
#[test]
fn a_freeze_the_server_outlived_is_reported() {
    let mut tl = Timeline::new();
    let frozen = frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    // the retry, answered (and frozen in turn, but nothing answers after it)
    frozen_download(&mut tl, SERVER, 54402, frozen + 11 * S, 20, 10 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0]["evidence"];
    assert_eq!(ev[0]["flow"]["client_port"], 54401);
    assert_eq!(ev[0]["confidence"].as_f64(), Some(0.6));
    assert_eq!(e["rules"], serde_json::json!(["transfer_frozen"]));
    assert_eq!(e["server_bytes_before_freeze"], 12 * 1448);
    assert_eq!(e["client_bytes_unacknowledged"], 1);
    assert!(
        e["server_answered_other_connection_after_s"]
            .as_f64()
            .unwrap()
            >= 1.0
    );
}

/// Two connections that froze together (within 2 s: a router that forgot
/// its connections, a path lost) are not "frozen again": the second one
/// is not raised.
#[test]
fn connections_frozen_together_do_not_raise_each_other() {
    let mut tl = Timeline::new();
    frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    frozen_download(&mut tl, SERVER, 54402, EPOCH_NS + 500 * MS, 12, 10 * S);
    frozen_download(&mut tl, SERVER, 54403, EPOCH_NS + 12 * S, 12, 10 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 2, "{ev:?}");
    for e in &ev {
        assert_eq!(e["confidence"].as_f64(), Some(0.6), "{e}");
    }
}

/// Frozen again at another moment (the next attempt, 11 s later): 0.8.
#[test]
fn a_second_freeze_at_another_moment_is_stronger() {
    let mut tl = Timeline::new();
    frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    frozen_download(&mut tl, SERVER, 54402, EPOCH_NS + 11 * S, 13, 10 * S);
    frozen_download(&mut tl, SERVER, 54403, EPOCH_NS + 22 * S, 12, 10 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[1]["confidence"].as_f64(), Some(0.8), "{}", ev[1]);
    assert_eq!(ev[1]["evidence"]["froze_before"]["server_bytes"], 12 * 1448);
}

fn session(client: [u8; 4], cport: u16) -> tw_scenario::TcpSession {
    use std::net::{Ipv4Addr, SocketAddr};
    let c = tw_scenario::Endpoint::client(SocketAddr::new(Ipv4Addr::from(client).into(), cport));
    let s = tw_scenario::Endpoint::server(SocketAddr::new(Ipv4Addr::from(SERVER).into(), 443));
    tw_scenario::TcpSession::new(c, s)
        .with_timestamps(tw_scenario::session::TsClock::khz(0x1000_0000, 0x7000_0000))
}

/// A handshake and a short answer: the server accepted `client` on 443.
fn answered(tl: &mut Timeline, client: [u8; 4], cport: u16, t: i64) {
    let mut s = session(client, cport);
    let t = s.handshake(tl, t, 80 * MS);
    let t = s.client_send(tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    let t = s.server_send(tl, t + 80 * MS, &[0x17; 900]);
    s.close(tl, t + MS, 80 * MS);
}

/// The client's direction dropped after the freeze (a censor dropping what
/// the client sends): the server, hearing no acknowledgment, sends its last
/// segment again, which the client had already acknowledged. Those
/// retransmissions are no sign of life: the freeze is when its data stopped
/// advancing. (Found by a review of this rule: with the retransmissions
/// counted as the server's latest packets, the retry's handshake came
/// "before" the freeze and nothing was reported.)
#[test]
fn retransmissions_of_acknowledged_data_do_not_thaw_a_freeze() {
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 54501);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(&mut tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    let data = vec![0x17; 12 * s.segment_size()];
    let frozen = s.server_send_acked(&mut tl, t + 80 * MS, &data, 2);
    for k in [300, 900, 2_100, 4_500] {
        s.retransmit_server_last(&mut tl, frozen + k * MS);
    }
    answered(&mut tl, [192, 0, 2, 10], 54502, frozen + 3 * S);
    let fin = s.fin_client(&mut tl, frozen + 6 * S);
    for k in [300, 900, 2_100] {
        s.retransmit_client_last(&mut tl, fin + k * MS);
    }
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["flow"]["client_port"], 54501);
}

/// The server went on accepting another client on the same port (another
/// device behind a gateway) but not this one (a server banning it): not
/// reported.
#[test]
fn another_clients_answers_do_not_count() {
    let mut tl = Timeline::new();
    let frozen = frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    answered(&mut tl, [192, 0, 2, 11], 54402, frozen + 3 * S);
    answered(&mut tl, [192, 0, 2, 11], 54403, frozen + 12 * S);
    assert!(transfer_events(tl).is_empty());
    // the same client answered: reported
    let mut tl = Timeline::new();
    let frozen = frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    answered(&mut tl, [192, 0, 2, 10], 54402, frozen + 3 * S);
    assert_eq!(transfer_events(tl).len(), 1);
}

/// Frozen again at another moment, but after a very different count of
/// the server's bytes (a router that lost its table twice, wherever the
/// downloads were): not raised.
#[test]
fn a_second_freeze_at_another_byte_count_is_not_stronger() {
    let mut tl = Timeline::new();
    frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    frozen_download(&mut tl, SERVER, 54402, EPOCH_NS + 11 * S, 40, 10 * S);
    frozen_download(&mut tl, SERVER, 54403, EPOCH_NS + 22 * S, 12, 10 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[1]["confidence"].as_f64(), Some(0.6), "{}", ev[1]);
}

/// A link-down period of the live capture around the freeze (the link
/// went down, the capture moved to another interface with the default
/// route, the host was suspended): excused and counted.
#[test]
fn a_freeze_in_a_link_down_period_is_excused() {
    use tw_detect::detectors::{default_detectors, DetectorsConfig};
    use tw_detect::{Engine, EngineConfig};
    let mut tl = Timeline::new();
    let frozen = frozen_download(&mut tl, SERVER, 54401, EPOCH_NS, 12, 10 * S);
    frozen_download(&mut tl, SERVER, 54402, frozen + 11 * S, 20, 10 * S);
    let mut e = Engine::new(
        EngineConfig::default(),
        default_detectors(&DetectorsConfig::default()),
    );
    let mut log = tw_detect::linkdown::LinkDown::default();
    // (the period a moved default route opens: from the last check that
    // found the route on the old interface, 2.5 s before the server's last
    // packet seen there, to the move)
    log.went_down(frozen - 2_500 * MS);
    log.came_up(frozen + 200 * MS);
    e.note_link_down(&log);
    let (e, ev) = common::replay_through(e, tl);
    assert!(
        !ev.iter().any(|e| e["evidence"]["stage"] == "transfer"),
        "{ev:?}"
    );
    assert_eq!(
        e.stats().link_down_excused[tw_detect::stats::LinkDownExcused::Blackhole.idx()],
        1
    );
}

/// The client's last segment sent again with Linux's backoff from 300 ms
/// after `t` (+0.3, +0.9, +2.1, +4.5, +9.3 s).
fn backoff(s: &mut tw_scenario::TcpSession, tl: &mut Timeline, t: i64) {
    for k in [300, 900, 2_100, 4_500, 9_300] {
        s.retransmit_client_last(tl, t + k * MS);
    }
}

/// An ICMP "fragmentation needed" (next-hop MTU 1400) from the router,
/// quoting the `back`-th latest packet of `tl`, at `t`.
fn packet_too_big(tl: &mut Timeline, back: usize, t: i64) {
    use tw_scenario::packet::{Icmpv4Kind, Icmpv4Spec};
    let quoted = tl.entries()[tl.entries().len() - back].data.clone();
    let mut ptb =
        Icmpv4Spec::dest_unreachable(std::net::Ipv4Addr::new(198, 51, 100, 1), &quoted, 4, 548);
    ptb.kind = Icmpv4Kind::DestUnreachable {
        code: 4,
        next_hop_mtu: 1400,
    };
    tl.push(t, ptb.build());
}

/// A server streaming `n` writes of `write` bytes every `every` ns to
/// `cport` (each write one segment of the capture's: a lone segment, or
/// one GRO merged back whole), then the vantage's router forgetting the
/// connection: the client's FIN 2 s after the last write is never
/// acknowledged, and it reconnects, answered. Returns the events.
fn stream_then_forgotten(cport: u16, write: usize, every: i64, n: i64) -> Vec<serde_json::Value> {
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], cport);
    s.server_segment = Some(write);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(&mut tl, t + MS, b"GET /stream HTTP/1.1\r\n\r\n");
    let mut at = t;
    for k in 0..n {
        at = t + 80 * MS + k * every;
        s.server_send(&mut tl, at, &vec![0x47; write]);
        s.client_ack(&mut tl, at + MS);
    }
    let fin = s.fin_client(&mut tl, at + 2 * S);
    backoff(&mut s, &mut tl, fin);
    answered(&mut tl, [192, 0, 2, 10], cport + 1, fin + 3 * S);
    transfer_events(tl)
}

/// A download from `SERVER` in which the server's segments carry
/// `server_seg` bytes (fewer than the handshake's 1448): the first
/// `segments` pass, then nothing of the server's; the client's FIN 10 s
/// later, sent again with backoff (as `frozen_download`'s). Returns the
/// time of the freeze.
fn frozen_on_path(
    tl: &mut Timeline,
    cport: u16,
    t: i64,
    server_seg: usize,
    segments: usize,
) -> i64 {
    let mut s = session([192, 0, 2, 10], cport);
    s.server_segment = Some(server_seg);
    let t = s.handshake(tl, t, 80 * MS);
    let t = s.client_send(tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    let data = vec![0x17; segments * server_seg];
    let frozen = s.server_send_acked(tl, t + 80 * MS, &data, 2);
    let fin = s.fin_client(tl, frozen + 10 * S);
    backoff(&mut s, tl, fin);
    frozen
}

/// A freeze on a path whose segments are shorter than the handshake's
/// (session 24): a router clamping the MSS of the client's SYN only (PPPoE
/// home routers clamp what they forward out of their WAN side to 1452;
/// here 1400, so the server sends 1388 bytes, while the client saw 1460 in
/// both SYNs), or a path MTU of 1400 that path-MTU discovery made the
/// server fit (1348). Missed before: the last segment was no whole number
/// of 1448-byte segments.
#[test]
fn a_freeze_on_a_path_with_shorter_segments_is_reported() {
    for (seg, port) in [(1388, 54601), (1348, 54611), (1200, 54621)] {
        let mut tl = Timeline::new();
        let frozen = frozen_on_path(&mut tl, port, EPOCH_NS, seg, 14);
        answered(&mut tl, [192, 0, 2, 10], port + 1, frozen + 11 * S);
        let ev = transfer_events(tl);
        assert_eq!(ev.len(), 1, "segment {seg}: {ev:?}");
        let e = &ev[0]["evidence"];
        assert_eq!(ev[0]["flow"]["client_port"], port);
        assert_eq!(e["server_segment_size"], seg, "{e}");
        assert_eq!(e["server_segment_size_from"], "path", "{e}");
        assert_eq!(e["server_bytes_before_freeze"], 14 * seg);
    }
    // (and on a path of the handshake's size, the handshake's)
    let mut tl = Timeline::new();
    let frozen = frozen_on_path(&mut tl, 54631, EPOCH_NS, 1448, 14);
    answered(&mut tl, [192, 0, 2, 10], 54632, frozen + 11 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["server_segment_size"], 1448);
    assert_eq!(ev[0]["evidence"]["server_segment_size_from"], "handshake");
}

/// Segments more than 255 bytes short of the handshake's size are no path
/// size (a path MTU of 1100 or less is rarer than answers of that size):
/// a freeze there stays missed.
#[test]
fn a_much_shorter_size_is_not_learned() {
    let mut tl = Timeline::new();
    let frozen = frozen_on_path(&mut tl, 54641, EPOCH_NS, 1100, 14);
    answered(&mut tl, [192, 0, 2, 10], 54642, frozen + 11 * S);
    assert!(transfer_events(tl).is_empty());
}

/// A keep-alive connection whose server answers each request with one
/// segment of the same size (1300 bytes: an API's fixed answer), then
/// stops acknowledging the client's next request (the server application
/// and its stack hung, or the client's NAT forgot the connection between
/// two requests sent within 20 s). Two equal segments, one per request
/// (each with PSH, and a request between them), are no segment size: the
/// answer ended, it was not a transfer cut. Not reported. (With the two
/// counted as the path's size: 0.6.)
#[test]
fn fixed_size_answers_to_separate_requests_are_no_segment_size() {
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 54651);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let mut t = s.client_send(&mut tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    for _ in 0..2 {
        let a = s.server_send(&mut tl, t + 80 * MS, &[0x17; 1300]);
        s.client_ack(&mut tl, a + 40 * MS);
        t = s.client_send(&mut tl, a + 2 * S, &[0x17; 200]);
    }
    for k in [300, 900, 2_100, 4_500] {
        s.retransmit_client_last(&mut tl, t + k * MS);
    }
    let fin = s.fin_client(&mut tl, t + 6 * S);
    for k in [300, 900] {
        s.retransmit_client_last(&mut tl, fin + k * MS);
    }
    answered(&mut tl, [192, 0, 2, 10], 54652, t + 5 * S);
    assert!(transfer_events(tl).is_empty());
}

/// One short answer sent twice (a gateway's capture sees the server's
/// retransmission when the client's acknowledgment was lost between the
/// two), then the client's next request, within 20 s, never acknowledged:
/// the answer and its copy end a write (PSH), so neither is a segment cut
/// at a path's size. Not reported. (With the two counted as the path's
/// size: 0.6.)
#[test]
fn an_answer_sent_twice_is_no_segment_size() {
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 54661);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(&mut tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    let a = s.server_send(&mut tl, t + 80 * MS, &[0x17; 1300]);
    s.retransmit_server_last(&mut tl, a + 300 * MS);
    s.client_ack(&mut tl, a + 340 * MS);
    let t = s.client_send(&mut tl, a + 2 * S, &[0x17; 200]);
    backoff(&mut s, &mut tl, t);
    answered(&mut tl, [192, 0, 2, 10], 54662, t + 3 * S);
    assert!(transfer_events(tl).is_empty());
}

/// The same, captured on the receiving host with GRO on (the default on
/// physical network cards): the capture sees the segments of each NAPI
/// poll merged, here two 1388-byte segments at a time. The path's size is
/// learned from the merged segments (each of one size, 2 x 1388 being no
/// whole number of 1448).
#[test]
fn a_freeze_on_a_shorter_path_is_reported_through_gro() {
    let mut tl = Timeline::new();
    let frozen = frozen_on_path(&mut tl, 54671, EPOCH_NS, 2 * 1388, 7);
    answered(&mut tl, [192, 0, 2, 10], 54672, frozen + 11 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["server_segment_size"], 1388);
    assert_eq!(ev[0]["evidence"]["server_segment_size_from"], "path");
}

/// A server streaming 1316-byte chunks (7 x 188 bytes of MPEG-TS, as an
/// IPTV relay sends over HTTP) every 300 ms on an ordinary path (1448 by
/// the handshake), each chunk its own segment, with PSH; then the
/// vantage's router forgets the connection (a reboot with "drop what is
/// not a SYN"): nothing more from the server, the client's FIN never
/// acknowledged, and it reconnects, answered. The chunks are writes, not
/// segments cut at a path's size: not reported. (Found by a review of
/// session 24's change: with any two equal segments counted as the path's
/// size, 0.6 with `server_segment_size` 1316.)
#[test]
fn a_stream_of_equal_writes_is_no_segment_size() {
    assert!(stream_then_forgotten(54681, 1316, 300 * MS, 8).is_empty());
}

/// Path MTU discovery at the start of the connection: the client's
/// request (a post-quantum ClientHello of 1.8 KB) was too big for the
/// path, and the router's ICMP "fragmentation needed" (MTU 1400) quoted
/// it; the server then sent 1348-byte segments, and froze. Reported: a
/// "packet too big" says nothing of the transfer after it (any other ICMP
/// error still excuses the flow). Missed before the review of session 24.
#[test]
fn a_freeze_after_path_mtu_discovery_is_reported() {
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 54691);
    s.server_segment = Some(1348);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(&mut tl, t + MS, &[0x16; 1800]);
    packet_too_big(&mut tl, 2, t + 2 * MS);
    let data = vec![0x17; 14 * 1348];
    let frozen = s.server_send_acked(&mut tl, t + 80 * MS, &data, 2);
    let fin = s.fin_client(&mut tl, frozen + 10 * S);
    backoff(&mut s, &mut tl, fin);
    answered(&mut tl, [192, 0, 2, 10], 54692, frozen + 11 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["server_segment_size"], 1348);
}

/// Segments cut at the path's size and merged by the receiving host's GRO
/// with a write's tail (its PSH ends the merge): 8 x 1388, then 3 x 1388
/// and a 1145-byte tail with PSH, then 8 x 1388 again. The merged segment
/// with PSH neither counts nor resets: the path's size is learned. And a
/// server segment captured twice before (a gateway's capture seeing a
/// retransmission) does not stop it. (Both missed in a review of session
/// 24's first version.)
#[test]
fn gro_merges_with_write_tails_and_a_retransmission_do_not_hide_the_path_size() {
    use tw_scenario::session::Direction;
    use tw_scenario::TcpFlags;
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 54701);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(&mut tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    let mut at = t + 80 * MS;
    s.packet(
        &mut tl,
        at,
        Direction::FromServer,
        TcpFlags::PSH_ACK,
        &[0x17; 900],
    );
    s.retransmit_server_last(&mut tl, at + 200 * MS);
    s.client_ack(&mut tl, at + 240 * MS);
    at += 300 * MS;
    for (len, flags) in [
        (8 * 1388, TcpFlags::ACK),
        (3 * 1388 + 1145, TcpFlags::PSH_ACK),
        (8 * 1388, TcpFlags::ACK),
    ] {
        s.packet(&mut tl, at, Direction::FromServer, flags, &vec![0x17; len]);
        s.client_ack(&mut tl, at + 100_000);
        at += MS;
    }
    let frozen = at;
    let fin = s.fin_client(&mut tl, frozen + 10 * S);
    backoff(&mut s, &mut tl, fin);
    answered(&mut tl, [192, 0, 2, 10], 54702, frozen + 11 * S);
    let ev = transfer_events(tl);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["evidence"]["server_segment_size"], 1388);
    assert_eq!(ev[0]["evidence"]["server_segment_size_from"], "path");
}

/// A download from a Linux server, which puts PSH on the last segment of
/// each TSO burst (every GSO frame of two or more segments had PSH in
/// session 24's lab), captured on a host whose GRO merges the bursts
/// (2 x 1388 bytes here) up to that PSH, and once, cut by the end of a
/// poll, without it. The merged segment without PSH proposes 1388; the
/// ones with PSH, back to back (a flight), confirm it: reported with the
/// path's size. With every merged segment carrying PSH nothing proposes a
/// size (a merged segment with PSH may be one whole write: see
/// `fast_merged_writes_are_no_segment_size`), and the freeze is missed.
#[test]
fn merged_bursts_with_psh_confirm_a_size_a_cut_burst_proposed() {
    use tw_scenario::session::Direction;
    use tw_scenario::TcpFlags;
    for (first, reported) in [(TcpFlags::ACK, true), (TcpFlags::PSH_ACK, false)] {
        let mut tl = Timeline::new();
        let mut s = session([192, 0, 2, 10], 54711);
        let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
        let t = s.client_send(&mut tl, t + MS, b"\x16\x03\x01\x00\x05hello");
        let mut at = t + 80 * MS;
        for k in 0..7 {
            let flags = if k == 0 { first } else { TcpFlags::PSH_ACK };
            s.packet(&mut tl, at, Direction::FromServer, flags, &[0x17; 2 * 1388]);
            s.client_ack(&mut tl, at + 100_000);
            at += 2 * MS;
        }
        let frozen = at;
        let fin = s.fin_client(&mut tl, frozen + 10 * S);
        backoff(&mut s, &mut tl, fin);
        answered(&mut tl, [192, 0, 2, 10], 54712, frozen + 11 * S);
        let ev = transfer_events(tl);
        assert_eq!(ev.len(), usize::from(reported), "{first:?}: {ev:?}");
        if reported {
            assert_eq!(ev[0]["evidence"]["server_segment_size"], 1388);
        }
    }
}

/// Writes of 2,632 bytes every 20 ms on an ordinary path (an IPTV relay's
/// 14 x 188 bytes of MPEG-TS): each leaves as one GSO frame (1448 + 1184
/// on the wire) and the receiving host's GRO merges it back, so the
/// capture sees one 2,632-byte segment with PSH, "2 x 1316", every 20 ms,
/// back to back by the 50 ms test. Then the vantage's router forgets the
/// connection, and the client reconnects. Not reported: a merged segment
/// with PSH proposes no size. (Second review, session 24: 0.6 with
/// `server_segment_size` 1316; likewise TLS 1.3 records of 16,406 bytes,
/// "13 x 1262".)
#[test]
fn fast_merged_writes_are_no_segment_size() {
    for write in [2632, 16406] {
        let ev = stream_then_forgotten(54731, write, 20 * MS, 40);
        assert!(ev.is_empty(), "writes of {write}: {ev:?}");
    }
}

/// The client's upload is too big for the path after the server's last
/// answer, whole segments (2 x 1448); the router's "packet too big" quotes
/// it, but the client host drops the ICMP, so it keeps sending 1448-byte
/// segments that never arrive, and the server, waiting, sends nothing.
/// The client reconnects. A "packet too big" after the server's last data
/// is no path MTU discovery that worked: the connection is excused, as
/// for any ICMP error. (Second review, session 24: with every "packet too
/// big" set aside, 0.6.)
#[test]
fn a_packet_too_big_after_the_servers_last_data_excuses_the_connection() {
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 54741);
    let t = s.handshake(&mut tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(&mut tl, t + MS, b"\x16\x03\x01\x00\x05hello");
    let a = s.server_send_acked(&mut tl, t + 80 * MS, &[0x17; 2 * 1448], 2);
    let up = s.client_send(&mut tl, a + 500 * MS, &[0x17; 10 * 1448]);
    packet_too_big(&mut tl, 10, up + 2 * MS);
    backoff(&mut s, &mut tl, up);
    answered(&mut tl, [192, 0, 2, 10], 54742, up + 3 * S);
    assert!(transfer_events(tl).is_empty());
}

/// A stream of 2,632-byte writes every 300 ms on an ordinary path: each is
/// sent as 1448 + 1184 bytes, which the receiving host's GRO merges into
/// one segment with PSH, 2 x 1316 by its length. Not back to back: no
/// segment size. The router then forgets the connection (as in
/// `a_stream_of_equal_writes_is_no_segment_size`): not reported.
#[test]
fn merged_writes_spaced_apart_are_no_segment_size() {
    assert!(stream_then_forgotten(54721, 2632, 300 * MS, 8).is_empty());
}
