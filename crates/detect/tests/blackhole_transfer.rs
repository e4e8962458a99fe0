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
