//! `throttling` and a queue on the client's uplink (red-team review, session
//! 27, simulated): a cloud backup fills a 2 Mbit/s uplink's 350 ms buffer,
//! every ACK the client sends waits in it, and a stream that its server
//! paces at 400 kbit/s shows an RTT that rises from 30 to 380 ms on a flat
//! rate: a shaper's shape. A download that runs fast beside it for a few
//! seconds was contrast: `shaper` + `targeted`, 0.55.
//!
//! A shaper holds the server's *data*: its queue delays each segment from
//! the moment the server sent it (its TCP timestamp) to its arrival. A queue
//! on the way to the server delays the ACKs, and the data arrive as fast as
//! the server's clock says they left. The detector splits each RTT sample
//! by the server's timestamps (see `docs/signatures/throttling.md`, *Where
//! the queue is*). The tests put the same 350 ms queue on either side of the
//! same stream: on the uplink no event (fails without the split), on the
//! downlink, aimed at the stream from 8 s on, still `shaper` + `targeted`;
//! and a downlink queue that stood from the stream's first segments counts
//! as before. The first SYN/ACK's timestamp anchors the server's clock
//! before any queue (2026-12-08): an upload's queue that stood from the
//! stream's first segments is placed as well.
//!
//! The scenario crate stamps each server segment with the server's clock
//! when it sent it (`TcpSession::server_sent_at`), as real stacks do.

mod common;

use tw_scenario::session::EPOCH_NS;
use tw_scenario::throttle_scenarios::{download, App, Download, Limiter};
use tw_scenario::Timeline;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

const FAST: Limiter = Limiter::Link {
    bps: 40e6,
    queue: 256_000,
};

/// A stream its server paces at 400 kbit/s, 2 MB (40 s).
fn paced() -> Download<'static> {
    let mut d = Download::bulk([203, 0, 113, 80], "video.example", 50301, EPOCH_NS, FAST, 0);
    d.app = App::Paced {
        bps: 400_000.0,
        bytes: 2_000_000,
    };
    d
}

/// A 12 MB download at the link's 16 Mbit/s from 19 s on (6 s).
fn update() -> Download<'static> {
    Download::bulk(
        [198, 51, 100, 20],
        "update.example",
        50302,
        EPOCH_NS + 19 * S,
        Limiter::Link {
            bps: 16e6,
            queue: 64_000,
        },
        12_000_000,
    )
}

fn throttling(downloads: &[Download<'_>]) -> Vec<serde_json::Value> {
    let mut tl = Timeline::new();
    for d in downloads {
        download(&mut tl, d).unwrap();
    }
    let (_, ev) = common::replay(tl);
    ev.into_iter()
        .filter(|e| e["signature"] == "throttling")
        .collect()
}

const QUEUE: (i64, i64, i64) = (EPOCH_NS + 8 * S, EPOCH_NS + 120 * S, 350 * MS);

/// The stream and the update while a backup's 350 ms stand on the uplink
/// from `from` on.
fn behind_a_backup(from: i64) -> (Download<'static>, Download<'static>) {
    let (mut v, mut u) = (paced(), update());
    v.uplink_queue = (from, QUEUE.1, QUEUE.2);
    u.uplink_queue = v.uplink_queue;
    (v, u)
}

#[test]
fn a_queue_on_the_uplink_is_no_shaper() {
    let (v, u) = behind_a_backup(QUEUE.0);
    let ev = throttling(&[v, u]);
    assert!(ev.is_empty(), "{ev:#?}");
}

#[test]
fn the_same_queue_on_the_way_to_the_client_is_still_a_shaper() {
    // a shaper aimed at the stream from 8 s on: its data wait 350 ms
    let mut v = paced();
    v.queue_delay = QUEUE;
    let ev = throttling(&[v, update()]);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let e = &ev[0]["evidence"];
    assert_eq!(e["mode"], "shaper", "{e:#}");
    assert_eq!(e["rtt"]["bins_queued_towards_server"], 0, "{e:#}");
    assert!(e["rules"].as_array().unwrap().contains(&"targeted".into()));
}

#[test]
fn a_queue_that_stood_from_the_first_segments_is_counted_as_before() {
    // the shaper's queue stands from the stream's first data on: no RTT
    // sample shows the data's delay without it, only the SYN/ACK (on the
    // way to the client: a shaper); without the SYN/ACK the queue could
    // not be placed, and counted as a queue all the same
    let mut v = paced();
    v.queue_delay = (EPOCH_NS, EPOCH_NS + 120 * S, 350 * MS);
    let ev = throttling(&[v, update()]);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["evidence"]["mode"], "shaper");
}

#[test]
fn a_shapers_queue_behind_an_uploads_is_still_a_shaper() {
    // the backup's 350 ms on the uplink, and a shaper aimed at the stream
    // from 8 s on holding its data 150 ms: the RTT rises by 500 ms, less
    // than a third of it towards the client, but that third is a queue
    let (mut v, u) = behind_a_backup(QUEUE.0);
    v.queue_delay = (QUEUE.0, QUEUE.1, 150 * MS);
    let ev = throttling(&[v, u]);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["evidence"]["mode"], "shaper");
}

#[test]
fn a_queue_on_the_uplink_from_the_streams_start_is_no_shaper() {
    // the backup starts with the stream (a phone joins the home Wi-Fi: the
    // backup, the stream and an app update start together), its queue
    // filling the uplink from just after the handshake: every RTT sample
    // holds it. The first SYN/ACK's timestamp anchors the server's clock at
    // a moment with no queue, so the data's delay is seen not to rise
    // (without it, `shaper` + `targeted`, 0.55: red-team review, session 28)
    let (v, u) = behind_a_backup(EPOCH_NS + 50 * MS);
    let ev = throttling(&[v, u]);
    assert!(ev.is_empty(), "{ev:#?}");
}

#[test]
fn a_shaper_from_the_streams_first_segment_behind_an_upload_is_still_a_shaper() {
    // the same backup, and a shaper that holds the stream's data 300 ms
    // from its first segment: the data's delay rose over the handshake's
    let (mut v, u) = behind_a_backup(EPOCH_NS + 50 * MS);
    v.queue_delay = (EPOCH_NS, EPOCH_NS + 120 * S, 300 * MS);
    let ev = throttling(&[v, u]);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let e = &ev[0]["evidence"];
    assert_eq!(e["mode"], "shaper", "{e:#}");
    assert!(e["rules"].as_array().unwrap().contains(&"targeted".into()));
}
