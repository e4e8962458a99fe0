//! `throttling` on a link whose own rate changes (Wi-Fi or LTE degrading and
//! recovering: nothing targeted), found by a red-team review with real
//! kernels over a 40 ms delay bridge and an htb bottleneck whose rate was
//! changed mid-run (`/tmp/redteam4/throttle_ratechange.pcap`,
//! `throttle_ratechange_rep.pcap`, `throttle_ratedrop.pcap`). A download's
//! median rate and queued bins came from the slow phase, while a download
//! elsewhere ran only in the fast phase and overlapped it: `shaper` +
//! `targeted`, 0.55, before 2026-12-06. A fast flow is now contrast only if
//! it was fast *while the target was slow*: the judge compares the two
//! flows' rates over the time both ran (see `docs/signatures/throttling.md`).
//!
//! The look-alikes are built with the scenario crate's TCP simulation
//! (`tw_scenario::throttle_scenarios`): each download has its own limiter,
//! so a link whose rate changes is a `Limiter::Varying` whose phases (from
//! the capture's epoch) put one change, or two, inside the download. The
//! first two tests fail on the code before; the last ones guard the rule
//! against reaching too far: a censor's limit holds the target low at every
//! moment, and a fast flow over any part of it is still contrast.

mod common;

use tw_scenario::session::EPOCH_NS;
use tw_scenario::throttle_scenarios::{download, Download, Limiter};
use tw_scenario::{linktype, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

const A: [u8; 4] = [203, 0, 113, 5];
const B: [u8; 4] = [203, 0, 113, 6];

/// a.example's share of the link (4 Mbit/s, and 1 Mbit/s when it degrades)
/// behind a 64 KB drop-tail queue (half a second at the low rate: a
/// standing queue in every bin, a shaper's look), switching every `period`
/// of the capture's clock, fast first.
fn changing(period: i64) -> Limiter {
    Limiter::Varying {
        bps: [4e6, 1e6],
        period,
        queue: 64_000,
    }
}

/// b.example's share of the fast link (the simulation gives each download
/// its own limiter; the two shares together are a 12 Mbit/s link).
const FAST: Limiter = Limiter::Link {
    bps: 8e6,
    queue: 64_000,
};

/// A 1 Mbit/s shaper (a queue of 64 KB) that holds a.example alone.
const SHAPER: Limiter = Limiter::Link {
    bps: 1e6,
    queue: 64_000,
};

/// A 150 kbit/s token bucket (16 KB deep) that polices a.example alone.
const POLICER: Limiter = Limiter::Policer {
    bps: 150_000.0,
    burst: 16_000,
};

/// Each download's packets in a timeline of its own, with its worker (the
/// first download on worker 0, the rest on worker 1).
fn build(downloads: &[Download<'_>]) -> Vec<(usize, Timeline)> {
    downloads
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut tl = Timeline::new();
            download(&mut tl, d).unwrap();
            (i.min(1), tl)
        })
        .collect()
}

/// The throttling events of `downloads` through one engine; the same
/// through two engines sharing one judge (a.example on one worker, the
/// others on the other) must agree, ids aside.
fn throttling(downloads: &[Download<'_>]) -> Vec<serde_json::Value> {
    let mut all = Timeline::new();
    for d in downloads {
        download(&mut all, d).unwrap();
    }
    let (_, ev) = common::replay(all);
    let one: Vec<serde_json::Value> = ev
        .into_iter()
        .filter(|e| e["signature"] == "throttling")
        .collect();
    let mut want = lines(&one);
    want.sort();
    assert_eq!(two_workers(build(downloads)), want, "1 and 2 workers");
    one
}

/// Events as JSON lines without their ids.
fn lines(ev: &[serde_json::Value]) -> Vec<String> {
    ev.iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(o) = e.as_object_mut() {
                o.remove("id");
            }
            e.to_string()
        })
        .collect()
}

/// Two engines sharing one throttling judge, each fed its flows' frames
/// in time order while the other only ticks along (as the pipeline's
/// workers do).
fn two_workers(parts: Vec<(usize, Timeline)>) -> Vec<String> {
    let mut engines = common::workers_sharing_judge(2);
    let mut entries: Vec<(usize, tw_scenario::session::TimelineEntry)> = parts
        .into_iter()
        .flat_map(|(w, tl)| tl.into_entries().into_iter().map(move |e| (w, e)))
        .collect();
    entries.sort_by_key(|(w, e)| (e.ts_ns, *w));
    let mut ev = vec![];
    let mut f = Vec::new();
    let mut last = 0;
    for (i, (w, e)) in entries.iter().enumerate() {
        e.frame_into(&mut f, linktype::ETHERNET).unwrap();
        for (k, engine) in engines.iter_mut().enumerate() {
            if k == *w {
                engine.process_frame(linktype::ETHERNET, &f, e.ts_ns, f.len() as u32);
            } else {
                engine.tick(e.ts_ns);
            }
        }
        if i % 64 == 0 {
            for engine in engines.iter_mut() {
                engine.drain_events(|x| ev.push(x));
            }
        }
        last = e.ts_ns;
    }
    for engine in engines.iter_mut() {
        engine.tick(last + 200 * S);
        engine.finish();
        engine.drain_events(|x| ev.push(x));
    }
    let ev: Vec<serde_json::Value> = ev
        .iter()
        .filter(|e| e.signature == tw_detect::stats::Signature::Throttling)
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let mut v = lines(&ev);
    v.sort();
    v
}

fn bulk<'a>(
    server: [u8; 4],
    sni: &'a str,
    port: u16,
    start: i64,
    l: Limiter,
    bytes: usize,
) -> Download<'a> {
    Download {
        // the lab's 40 ms path
        owd: 20 * MS,
        ..Download::bulk(server, sni, port, start, l, bytes)
    }
}

#[test]
fn a_link_that_drops_after_a_fast_download_ended_is_not_targeted() {
    // throttle_ratedrop: a.example and b.example start together on the
    // fast link, b.example's download ends in a few seconds, 5 s in the
    // link drops to 1 Mbit/s while a.example goes on. a.example's median
    // is the slow phase's, with a standing queue; b.example was 7 times
    // faster than that (`shaper` + `targeted`, 0.55, before), but only
    // twice as fast as a.example while both ran.
    let t0 = EPOCH_NS + 25 * S;
    let ev = throttling(&[
        bulk(A, "a.example", 50001, t0, changing(30 * S), 5_000_000),
        bulk(B, "b.example", 50002, t0 + 100 * MS, FAST, 2_500_000),
    ]);
    assert!(ev.is_empty(), "{ev:#?}");
}

#[test]
fn a_fast_download_after_the_link_recovered_is_no_contrast() {
    // throttle_ratechange: the link drops to 1 Mbit/s 1 s into a.example's
    // download, for 15 s, and comes back; 1 s later b.example downloads
    // fast while a.example goes on, fast again (`shaper` + `targeted`,
    // 0.55, before: b.example many times a.example's median, the slow
    // phase's).
    let t0 = EPOCH_NS + 14 * S;
    let ev = throttling(&[
        bulk(A, "a.example", 50011, t0, changing(15 * S), 5_000_000),
        bulk(B, "b.example", 50012, EPOCH_NS + 31 * S, FAST, 2_500_000),
    ]);
    assert!(ev.is_empty(), "{ev:#?}");
}

#[test]
fn a_shaped_target_beside_a_download_over_part_of_it_is_still_reported() {
    // a.example shaped at 1 Mbit/s for its whole run; b.example, fast,
    // began 6 s before it and ended a few seconds into it: while both
    // ran, a.example was held as low as ever
    let t0 = EPOCH_NS + 6 * S;
    let ev = throttling(&[
        bulk(A, "a.example", 50021, t0, SHAPER, 3_000_000),
        bulk(B, "b.example", 50022, EPOCH_NS, FAST, 9_000_000),
    ]);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let e = &ev[0]["evidence"];
    assert_eq!(e["mode"], "shaper");
    assert_eq!(e["rule"], "targeted");
    assert_eq!(e["comparisons"][0]["target"], "b.example");
}

#[test]
fn a_policed_target_beside_a_download_over_part_of_it_is_still_reported() {
    // a.example policed at 150 kbit/s for about 30 s; b.example, fast,
    // for a few seconds from 15 s into it
    let ev = throttling(&[
        bulk(A, "a.example", 50031, EPOCH_NS, POLICER, 550_000),
        bulk(B, "b.example", 50032, EPOCH_NS + 15 * S, FAST, 5_000_000),
    ]);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let e = &ev[0]["evidence"];
    assert_eq!(e["mode"], "policer");
    assert_eq!(e["rule"], "targeted");
    assert_eq!(e["comparisons"][0]["target"], "b.example");
}
