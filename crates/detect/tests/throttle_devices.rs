//! Throttling's contrast and history come from the client's own device
//! (session 23; the tenth red-team review, at a gateway).
//!
//! At a home gateway's LAN side every device has its own last hop: a phone
//! on weak Wi-Fi loses segments at the router's own access point while a PC
//! on Ethernet downloads at full speed. The phone's download has a
//! policer's look (a plateau, losses), and the PC's concurrent fast
//! downloads made it `targeted` throttling at 0.7 (`wifi_q8`). The client's
//! link-layer address tells the devices apart: a host's client packets all
//! leave from its interface's address, each device behind a gateway from
//! its own. Where a capture carries no link-layer address (raw IP), every
//! flow still counts.

mod common;

use tw_detect::detectors::DetectorsConfig;
use tw_detect::{Engine, EngineConfig};
use tw_scenario::session::EPOCH_NS;
use tw_scenario::throttle_scenarios::{download, fast_history, Download, FAST, POLICE, THROTTLED};
use tw_scenario::{linktype, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const OTHER: [u8; 4] = [198, 51, 100, 20];
const OTHER2: [u8; 4] = [198, 51, 100, 21];
/// The client address of every download (one NATed address, or one host).
const CLIENT: [u8; 4] = [192, 0, 2, 10];

/// A phone and a PC behind one gateway, and the router's own address (the
/// source of every server packet on the LAN).
const PHONE: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x01];
const PC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x02];
const ROUTER: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0xfe];

/// Sets each packet's link-layer source: the client's packets from the
/// device of their client port (`device`), the servers' from the router.
fn devices(tl: &mut Timeline, device: impl Fn(u16) -> [u8; 6]) {
    for e in tl.entries_mut() {
        let d = &e.data;
        if d.len() < 24 || d[0] >> 4 != 4 {
            continue;
        }
        let ihl = usize::from(d[0] & 0xf) * 4;
        let from_client = d[12..16] == CLIENT;
        let at = if from_client { ihl } else { ihl + 2 };
        let port = u16::from_be_bytes([d[at], d[at + 1]]);
        e.meta.src_mac = if from_client { device(port) } else { ROUTER };
        e.meta.outgoing = from_client;
    }
}

/// video.throttled.example policed at 150 kbit/s (client port 50001, the
/// fixture `thr_policed_targeted`'s) while fast.example (50002, from 5 s)
/// and files.example (50003, from 6 s) run at 4 Mbit/s.
fn policed_beside_fast() -> Timeline {
    let mut tl = Timeline::new();
    let policed = Download::bulk(
        THROTTLED,
        "video.throttled.example",
        50001,
        EPOCH_NS,
        POLICE,
        450_000,
    );
    download(&mut tl, &policed).unwrap();
    for (server, name, port, start) in [
        (OTHER, "fast.example", 50002, 5 * S),
        (OTHER2, "files.example", 50003, 6 * S),
    ] {
        let fast = Download::bulk(server, name, port, EPOCH_NS + start, FAST, 1_200_000);
        download(&mut tl, &fast).unwrap();
    }
    tl
}

/// The throttling events of `tl` framed for link type `lt`.
fn throttling(tl: Timeline, lt: u32) -> Vec<serde_json::Value> {
    let mut engine = Engine::new(
        EngineConfig::default(),
        tw_detect::detectors::default_detectors(&DetectorsConfig::default()),
    );
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    let mut f = Vec::new();
    for e in &entries {
        e.frame_into(&mut f, lt).unwrap();
        engine.process_frame(lt, &f, e.ts_ns, f.len() as u32);
    }
    engine.finish();
    let mut out = vec![];
    engine.drain_events(|e| {
        let v = serde_json::to_value(&e).unwrap();
        eprintln!("event: {v}");
        if v["signature"] == "throttling" {
            out.push(v);
        }
    });
    out
}

const LINKS: [u32; 3] = [
    linktype::ETHERNET,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
];

/// One device: the policed download and the fast ones share its last hop,
/// and the fast ones are contrast, as before.
#[test]
fn the_same_devices_fast_downloads_are_contrast() {
    for lt in LINKS {
        let mut tl = policed_beside_fast();
        devices(&mut tl, |_| PHONE);
        let ev = throttling(tl, lt);
        assert_eq!(ev.len(), 1, "link type {lt}: {ev:?}");
        assert_eq!(ev[0]["target"], "video.throttled.example");
        let rules = ev[0]["evidence"]["rules"].to_string();
        assert!(rules.contains("targeted"), "{rules}");
        assert_eq!(ev[0]["evidence"]["comparison_flows"], 2);
        assert!(ev[0]["evidence"].get("other_devices_faster").is_none());
    }
}

/// The phone held low while the PC downloads fast: no contrast (the
/// phone's Wi-Fi is its own). Failed on the code before: 1 event, 0.65.
#[test]
fn another_devices_fast_downloads_are_no_contrast() {
    for lt in LINKS {
        let mut tl = policed_beside_fast();
        devices(&mut tl, |port| if port == 50001 { PHONE } else { PC });
        let ev = throttling(tl, lt);
        assert!(ev.is_empty(), "link type {lt}: {ev:?}");
    }
}

/// One of the fast downloads on the phone itself, the other on the PC:
/// reported, on the phone's own contrast alone, and the PC's flow is named
/// as left out.
#[test]
fn the_devices_own_contrast_is_enough() {
    for lt in LINKS {
        let mut tl = policed_beside_fast();
        devices(&mut tl, |port| if port == 50003 { PC } else { PHONE });
        let ev = throttling(tl, lt);
        assert_eq!(ev.len(), 1, "link type {lt}: {ev:?}");
        let e = &ev[0]["evidence"];
        assert_eq!(e["comparison_flows"], 1, "{e}");
        assert_eq!(e["comparisons"][0]["target"], "fast.example");
        assert_eq!(e["other_devices_faster"], 1, "{e}");
    }
}

/// A capture without link-layer addresses (raw IP, a tunnel) cannot tell
/// devices apart: every flow counts, as before.
#[test]
fn without_link_addresses_every_flow_counts() {
    let mut tl = policed_beside_fast();
    devices(&mut tl, |port| if port == 50001 { PHONE } else { PC });
    let ev = throttling(tl, linktype::RAW);
    assert_eq!(ev.len(), 1, "{ev:?}");
    let rules = ev[0]["evidence"]["rules"].to_string();
    assert!(rules.contains("targeted"), "{rules}");
}

/// news.example fast three times, then held at 150 kbit/s with nothing
/// else running (`thr_history_drop`), the history made by `history_on` and
/// the held download by the phone.
fn history(history_on: [u8; 6]) -> Timeline {
    let mut tl = Timeline::new();
    let t = fast_history(&mut tl, [50031, 50032, 50033]).unwrap();
    let held = Download::bulk(
        THROTTLED,
        "news.example",
        50034,
        t + 30 * S,
        POLICE,
        400_000,
    );
    download(&mut tl, &held).unwrap();
    devices(
        &mut tl,
        |port| if port == 50034 { PHONE } else { history_on },
    );
    tl
}

/// The name's history is the device's own: fast on the PC says nothing of
/// the phone's link (failed on the code before: `history`, 0.6); fast on
/// the phone itself before is still `history`.
#[test]
fn a_names_history_is_kept_per_device() {
    for lt in LINKS {
        let ev = throttling(history(PHONE), lt);
        assert_eq!(ev.len(), 1, "link type {lt}: {ev:?}");
        let rules = ev[0]["evidence"]["rules"].to_string();
        assert!(rules.contains("history"), "{rules}");
        let ev = throttling(history(PC), lt);
        assert!(ev.is_empty(), "link type {lt}: {ev:?}");
    }
    // no link-layer address: one history, as before
    let ev = throttling(history(PC), linktype::RAW);
    assert_eq!(ev.len(), 1, "{ev:?}");
}

/// The common replay (Ethernet, one source address for every packet: one
/// device) still reports the fixture's shape.
#[test]
fn one_address_for_every_packet_is_one_device() {
    let ev = common::events_of(policed_beside_fast(), "throttling");
    assert_eq!(ev.len(), 1, "{ev:?}");
}
