//! Congestion marks (ECN) as a slow link's signature (session 21; the
//! seventh red-team review).
//!
//! A home router with fair queueing and ECN (fq_codel, CAKE) in front of a
//! link that got slow (Wi-Fi, LTE) holds every flow to its share: flows
//! whose packets are ECN-capable are *marked* (CE), not dropped, and show
//! neither losses nor a standing queue, so the judge took such a flow for a
//! stream pacing itself and not as the link holding it. A name downloaded
//! fast before, now held by the same link (its path bleaches ECN, so its
//! packets are dropped: a policer's look), was `history` throttling at
//! 0.65. A flow at a plateau with as many congestion-mark events (CE on the
//! server's data, or ECE on the client's ACKs when the marks are made past
//! the vantage point) as a policed flow has loss events is now held by the
//! link. Marks never make a flow a suspect (a policer drops, it does not
//! mark).

mod common;

use tw_scenario::throttle_scenarios::{
    download, fast_history, App, Download, Limiter, POLICE, THROTTLED,
};
use tw_scenario::Timeline;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const OTHER: [u8; 4] = [198, 51, 100, 20];

/// Which congestion marks the other flow's packets carry.
#[derive(Clone, Copy, PartialEq)]
enum Marks {
    None,
    /// CE on every tenth of the server's data segments (seen at the client).
    Ce,
    /// ECE on every tenth of the client's pure ACKs (marks made past a
    /// gateway vantage point).
    Ece,
}

/// news.example downloaded fast three times, then held at 150 kbit/s
/// (dropped above it) while other.example runs at `other_bps` (from 10 s
/// before to 30 s after), a steady rate without losses or a queue, with
/// `marks`.
fn scenario(marks: Marks, other_bps: f64) -> Timeline {
    let mut tl = Timeline::new();
    let t = fast_history(&mut tl, [50031, 50032, 50033]).unwrap();
    let start = t + 30 * S;
    let held = Download::bulk(THROTTLED, "news.example", 50034, start, POLICE, 400_000);
    download(&mut tl, &held).unwrap();
    let mut other = Download::bulk(
        OTHER,
        "other.example",
        50035,
        start - 10 * S,
        Limiter::Link {
            bps: 100e6,
            queue: 1 << 20,
        },
        0,
    );
    other.app = App::Paced {
        bps: other_bps,
        bytes: (other_bps / 8.0 * 40.0) as usize,
    };
    download(&mut tl, &other).unwrap();
    mark(&mut tl, marks);
    tl
}

/// Sets the marks on other.example's packets (IPv4: the TOS byte's ECN
/// bits, the TCP flags' ECE bit; checksums are not checked).
fn mark(tl: &mut Timeline, marks: Marks) {
    let (mut data, mut acks) = (0u32, 0u32);
    for e in tl.entries_mut() {
        let d = &mut e.data;
        if d.len() < 40 || d[0] >> 4 != 4 || d[9] != 6 {
            continue;
        }
        let ihl = usize::from(d[0] & 0xf) * 4;
        let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
        let Some(&off) = d.get(ihl + 12) else {
            continue;
        };
        let payload = total.saturating_sub(ihl + usize::from(off >> 4) * 4);
        let flags = ihl + 13;
        if d[12..16] == OTHER && payload > 0 {
            data += 1;
            if marks == Marks::Ce && data % 10 == 0 {
                d[1] |= 3;
            }
        } else if d[16..20] == OTHER && payload == 0 && d[flags] & 0x12 == 0x10 {
            acks += 1;
            if marks == Marks::Ece && acks % 10 == 0 {
                d[flags] |= 0x40;
            }
        }
    }
}

fn throttling(tl: Timeline) -> Vec<serde_json::Value> {
    common::events_of(tl, "throttling")
}

/// Without marks the other flow looks like a stream pacing itself: the
/// shape of the false alarm (`ecn.pcap`: `history`, 0.65).
#[test]
fn an_unmarked_steady_flow_says_nothing_of_the_link() {
    let ev = throttling(scenario(Marks::None, 250_000.0));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["target"], "news.example");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(rules.contains("history"), "{rules}");
}

/// Marked by the link's AQM as it holds it (CE seen at the client, or ECE
/// echoed by the client past a gateway): the link is slow now, and the
/// name's fast history says nothing of a censor. (Failed on the code
/// before: 1 event each.)
#[test]
fn a_marked_flow_held_at_the_same_rate_means_the_link_is_slow() {
    for marks in [Marks::Ce, Marks::Ece] {
        let ev = throttling(scenario(marks, 250_000.0));
        assert!(ev.is_empty(), "{ev:?}");
    }
}

/// A marked flow far faster than the held one (26x) is no slow link:
/// `ecn_police.pcap`'s shape stays reported.
#[test]
fn a_marked_fast_flow_is_still_contrast() {
    let ev = throttling(scenario(Marks::Ce, 4e6));
    assert_eq!(ev.len(), 1, "{ev:?}");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(rules.contains("targeted"), "{rules}");
}
