//! The throttling detector on simulated downloads (`tw_scenario::throttle_scenarios`).

use super::*;
use crate::detectors::{default_detectors, DetectorsConfig};
use crate::engine::{Engine, EngineConfig};
use std::sync::{Arc, Mutex};

/// Every flow's measurement at its end: (target, classification, measured).
type Verdict = (String, Result<(Mode, f64), NotCandidate>, Measured);
type Seen = Arc<Mutex<Vec<Verdict>>>;

#[derive(Debug)]
struct Recorder(Seen, ThrottleConfig);

impl Detector for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn on_flow_end(
        &mut self,
        _: &mut Ctx<'_>,
        flow: &mut Flow,
        _: FlowOutcome,
        _: &mut ServerState,
    ) {
        if let Some(m) = flow.ext.thr.as_ref().and_then(|t| t.measure(&self.1)) {
            let target = flow.ext.target.as_deref().unwrap_or("-").to_string();
            let c = m.classify(&self.1);
            if let Ok(mut v) = self.0.lock() {
                v.push((target, c, m));
            }
        }
    }
}

/// Frames of a classic pcap (raw IP), as (ts, bytes, wire length).
fn frames(pcap: &[u8]) -> Vec<(i64, Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let u = |o: usize| u32::from_le_bytes([pcap[o], pcap[o + 1], pcap[o + 2], pcap[o + 3]]);
        let (sec, usec, incl, orig) = (u(off), u(off + 4), u(off + 8) as usize, u(off + 12));
        let ts = i64::from(sec) * 1_000_000_000 + i64::from(usec) * 1000;
        out.push((ts, pcap[off + 16..off + 16 + incl].to_vec(), orig));
        off += 16 + incl;
    }
    out
}

pub(super) struct Run {
    pub events: Vec<Event>,
    pub seen: Vec<Verdict>,
}

pub(super) fn run_cfg(pcap: &[u8], cfg: DetectorsConfig) -> Run {
    let seen: Seen = Arc::default();
    let mut d = default_detectors(&cfg);
    d.push(Box::new(Recorder(seen.clone(), cfg.throttle.clone())));
    let mut e = Engine::new(
        EngineConfig {
            detectors: cfg,
            ..EngineConfig::default()
        },
        d,
    );
    for (ts, f, wire) in frames(pcap) {
        e.process_frame(crate::decode::linktype::RAW, &f, ts, wire);
    }
    e.finish();
    let mut events = Vec::new();
    e.drain_events(|ev| events.push(ev));
    let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
    Run { events, seen }
}

fn run(pcap: &[u8]) -> Run {
    run_cfg(pcap, DetectorsConfig::default())
}

fn show(name: &str, r: &Run) {
    eprintln!("== {name}");
    for (t, c, m) in &r.seen {
        eprintln!(
            "  {t}: {c:?} dur={:.1}s deliv={} med={:.0} avg={:.0} p10={:.0} p90={:.0} plateau={:.2} bins={} stall={} loss={} holes={} retx={} rtt_min={:?} srtt={:?} pre={:?} n={} idle={} gaps={} rwnd={:?} flach={:?}",
            m.duration as f64 / 1e9, m.delivered, m.median_bps, m.avg_bps, m.p10_bps, m.p90_bps, m.plateau, m.bins, m.stall_bins,
            m.loss_events, m.holes, m.retransmits, m.rtt_min.map(|x| x / 1_000_000), m.rtt_smoothed.map(|x| x / 1_000_000),
            m.pre_loss_rtt.map(|x| x / 1_000_000), m.rtt_samples, m.idle / 1_000_000, m.idle_gaps, m.rwnd_min, m.flach_bps.map(|x| x.round())
        );
    }
    for e in &r.events {
        eprintln!("  EVENT {}", e.to_json_line());
    }
}

use tw_scenario::throttle_scenarios as ts;

type Gen = fn() -> tw_scenario::Result<Vec<u8>>;

fn throttling(r: &Run) -> Vec<&Event> {
    r.events
        .iter()
        .filter(|e| e.signature == Signature::Throttling)
        .collect()
}

/// Prints what every flow showed (`cargo test -p tw-detect throttle -- --nocapture`).
fn check(name: &str, f: Gen) -> Run {
    let r = run(&f().unwrap());
    show(name, &r);
    r
}

#[test]
fn policer_aimed_at_one_name_is_reported_with_its_contrast() {
    let r = check("policed_targeted", ts::thr_policed_targeted);
    let ev = throttling(&r);
    assert_eq!(ev.len(), 1, "{:?}", r.events);
    let e = ev[0];
    assert_eq!(e.target.as_deref(), Some("video.throttled.example"));
    assert_eq!(e.evidence["mode"], "policer");
    assert_eq!(e.evidence["rule"], "targeted");
    let limit = e.evidence["limit_bps"].as_f64().unwrap();
    // the policer lets 150 kbit/s through, headers and wasted
    // retransmissions included: the goodput plateau is below it
    assert!((60_000.0..=150_000.0).contains(&limit), "{limit}");
    // judged at its first checkpoint (10 s in), while it still runs: the
    // download that started 5 s in is the contrast (the third starts later)
    assert_eq!(e.evidence["flow_record"], "checkpoint");
    assert_eq!(e.evidence["comparison_flows"], 1);
    let c = e.evidence["comparisons"].as_array().unwrap();
    assert!(c.iter().all(|c| c["times_faster"].as_f64().unwrap() >= 4.0));
    assert!(e.evidence["loss"]["events"].as_u64().unwrap() >= 3);
    // no standing queue before the losses
    let rtt = &e.evidence["rtt"];
    assert!(rtt["before_losses_ms"].as_f64().unwrap() < 2.0 * rtt["min_ms"].as_f64().unwrap());
    assert!((0.6..=0.8).contains(&e.confidence), "{}", e.confidence);
    // the other flows are not reported
    assert_eq!(r.events.len(), 1);
}

#[test]
fn same_address_fast_under_another_name_is_the_strongest_evidence() {
    let r = check("policed_same_server", ts::thr_policed_same_server);
    let ev = throttling(&r);
    assert_eq!(ev.len(), 1, "{:?}", r.events);
    let e = ev[0];
    assert_eq!(e.evidence["mode"], "policer");
    let rules: Vec<&str> = e.evidence["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(rules, ["targeted", "same_server_other_name"]);
    assert_eq!(e.evidence["comparisons"][0]["same_server"], true);
    assert_eq!(
        e.evidence["comparisons"][0]["target"],
        "static.other.example"
    );
    assert!(e.confidence >= 0.7);
}

#[test]
fn shaper_is_told_from_a_policer_by_its_queue() {
    let r = check("shaped", ts::thr_shaped_targeted);
    let ev = throttling(&r);
    assert_eq!(ev.len(), 1, "{:?}", r.events);
    let e = ev[0];
    assert_eq!(e.evidence["mode"], "shaper");
    let limit = e.evidence["limit_bps"].as_f64().unwrap();
    assert!((300_000.0..=520_000.0).contains(&limit), "{limit}");
    let rtt = &e.evidence["rtt"];
    assert!(rtt["bins_queued"].as_u64().unwrap() * 2 >= rtt["bins_with_samples"].as_u64().unwrap());
}

#[test]
fn a_tenfold_drop_against_the_targets_own_history() {
    let r = check("history", ts::thr_history_drop);
    let ev = throttling(&r);
    assert_eq!(ev.len(), 1, "{:?}", r.events);
    let e = ev[0];
    assert_eq!(e.evidence["rule"], "history");
    assert_eq!(e.evidence["comparison_flows"], 0);
    assert_eq!(e.evidence["history"]["flows"], 3);
    assert!(e.evidence["history"]["times_slower"].as_f64().unwrap() >= 10.0);
    assert_eq!(e.flow.client_port, 50034);
}

#[test]
fn look_alikes_stay_clean() {
    for (name, f, why) in [
        ("trap_slow_link", ts::thr_trap_slow_link as Gen, None),
        ("trap_random_loss", ts::thr_trap_random_loss, None),
        (
            "trap_short",
            ts::thr_trap_short,
            Some(NotCandidate::TooShort),
        ),
        ("trap_app", ts::thr_trap_app_limited, None),
        (
            "trap_rwnd",
            ts::thr_trap_receive_window,
            Some(NotCandidate::ReceiveWindow),
        ),
        (
            "trap_congestion",
            ts::thr_trap_congestion,
            Some(NotCandidate::NoPlateau),
        ),
    ] {
        let r = check(name, f);
        assert!(throttling(&r).is_empty(), "{name}: {:?}", r.events);
        assert!(r.events.is_empty(), "{name}: {:?}", r.events);
        let throttled = r
            .seen
            .iter()
            .find(|(t, _, _)| t == "video.throttled.example")
            .unwrap();
        if let Some(why) = why {
            assert_eq!(throttled.1, Err(why), "{name}");
        }
    }
    // the slow link: every flow looks limited (no contrast, no event)
    let r = run(&ts::thr_trap_slow_link().unwrap());
    assert!(r.seen.iter().all(|(_, c, _)| c.is_ok()));
    // application-limited: the video has idle gaps, the paced radio no
    // loss bursts or queue
    let r = run(&ts::thr_trap_app_limited().unwrap());
    for (t, c, m) in &r.seen {
        match t.as_str() {
            "video.throttled.example" => {
                assert!(m.idle_gaps >= 3, "{m:?}");
                assert!(c.is_err());
            }
            "radio.example" => assert_eq!(*c, Err(NotCandidate::NoLimitSignature)),
            _ => {}
        }
    }
}

#[test]
fn limited_flows_without_contrast_or_history_are_not_events() {
    // the throttled flow alone: it looks policed, and nothing says the
    // link is faster for anyone else
    let mut tl = tw_scenario::Timeline::new();
    ts::download(
        &mut tl,
        &ts::Download::bulk(
            [203, 0, 113, 80],
            "video.throttled.example",
            50001,
            tw_scenario::session::EPOCH_NS,
            ts::Limiter::Policer {
                bps: 150_000.0,
                burst: 16_000,
            },
            400_000,
        ),
    )
    .unwrap();
    let r = run(&tl
        .to_pcap_bytes(crate::decode::linktype::RAW, false)
        .unwrap());
    assert!(r.seen.iter().all(|(_, c, _)| c.is_ok()));
    assert!(r.events.is_empty());
}

/// The events of one engine over `fr`.
fn single(fr: &[(i64, Vec<u8>, u32)]) -> Vec<Event> {
    let mut e = Engine::new(
        EngineConfig::default(),
        default_detectors(&DetectorsConfig::default()),
    );
    for (ts, f, wire) in fr {
        e.process_frame(crate::decode::linktype::RAW, f, *ts, *wire);
    }
    e.finish();
    let mut out = Vec::new();
    e.drain_events(|ev| out.push(ev));
    out
}

/// The events of two engines sharing a judge, fed as the pipeline feeds
/// them: sharded by server, each frame with the link clock of every frame
/// before it, each engine draining (and syncing with the judge) now and then.
fn two_workers(fr: &[(i64, Vec<u8>, u32)]) -> Vec<Event> {
    let judge = SharedJudge::new(ThrottleConfig::default(), Default::default(), 2);
    let cfg = DetectorsConfig::default();
    let mut engines: Vec<Engine> = (0..2)
        .map(|w| {
            let mut e = Engine::new(EngineConfig::default(), default_detectors(&cfg));
            e.share_judge(judge.clone(), w);
            e
        })
        .collect();
    let mut link = crate::link::LinkTracker::default();
    let mut events = Vec::new();
    for (i, (ts, f, wire)) in fr.iter().enumerate() {
        let lt = crate::decode::linktype::RAW;
        let w = crate::shard_of_frame(lt, f).unwrap_or(0) % 2;
        link.observe(lt, f, *ts);
        engines[w as usize].process_frame_linked(lt, f, *ts, *wire, link.clock());
        if i % 97 == 0 {
            for e in engines.iter_mut() {
                e.drain_events(|ev| events.push(ev));
            }
        }
    }
    for e in engines.iter_mut() {
        e.finish();
        e.drain_events(|ev| events.push(ev));
    }
    events
}

fn lines(ev: &[Event]) -> Vec<(i64, String)> {
    let mut v: Vec<_> = ev.iter().map(|e| (e.ts, e.to_json_line())).collect();
    v.sort();
    v
}

#[test]
fn one_and_two_workers_sharing_a_judge_agree() {
    let mut checked = 0;
    for f in [
        ts::thr_policed_targeted as Gen,
        ts::thr_policed_same_server,
        ts::thr_history_drop,
        ts::thr_trap_random_loss,
    ] {
        let fr = frames(&f().unwrap());
        let a = lines(&single(&fr));
        assert_eq!(a, lines(&two_workers(&fr)));
        checked += usize::from(a.iter().any(|(_, l)| l.contains("throttling")));
        // frames out of time order (merged captures, several capture
        // queues): one frame in seven 1.5 s in the past
        let jittered: Vec<_> = fr
            .iter()
            .enumerate()
            .map(|(i, (t, f, w))| {
                let t = if i % 7 == 3 { t - 1_500_000_000 } else { *t };
                (t, f.clone(), *w)
            })
            .collect();
        assert_eq!(lines(&single(&jittered)), lines(&two_workers(&jittered)));
    }
    assert_eq!(checked, 3);
}

#[test]
fn judge_memory_is_bounded() {
    // many flows' records for a judge that is never allowed to decide
    let cfg = ThrottleConfig::default();
    let (max_pending, max_refs) = (cfg.max_pending, cfg.max_refs);
    let mut j = Judge::new(cfg, Default::default());
    let r = run(&ts::thr_policed_targeted().unwrap());
    assert!(!r.seen.is_empty());
    let m = r.seen[0].2.clone();
    let mut accepted = 0;
    for i in 0..(max_pending + 10) {
        accepted += usize::from(j.submit(RateRecord {
            stamp: i as i64,
            ready: i as i64,
            last: true,
            flow: EventFlow {
                proto: crate::event::Transport::Tcp,
                client_ip: [192, 0, 2, 10].into(),
                client_port: (i % 60_000) as u16,
                server_ip: [198, 51, 100, 1].into(),
                server_port: 443,
            },
            flow_start: 0,
            target: None,
            group: None,
            span: (0, i as i64),
            rate_bps: 1e6,
            delivered: 1,
            limited: None,
            marked: false,
            measured: m.clone(),
            hello: None,
            client_link: None,
        }));
    }
    assert_eq!(j.len(), max_pending);
    // the ten that did not fit say so (the engine counts them)
    assert_eq!(accepted, max_pending);
    let mut out = Vec::new();
    j.advance(i64::MAX - 1, &mut out);
    assert!(j.len() <= max_refs, "{}", j.len());
    assert!(out.is_empty());
}

#[test]
fn rate_buckets_round_trip() {
    for b in [1u64, 7, 100, 1448, 9_375, 1 << 20, 123_456_789] {
        let v = bucket_value(bucket(b));
        assert!((v / b as f64) < 1.3 && (v / b as f64) > 0.75, "{b} -> {v}");
    }
    assert_eq!(bucket(0), 0);
    assert!(bucket(u64::MAX) < BUCKETS);
}

/// Segments of 1000 bytes from offset 0, RTT 30 ms; the second segment
/// overtaken by the third, its bytes arriving `late` after the hole opened.
fn overtaken(late: Nanos) -> ThrottleFlow {
    let cfg = ThrottleConfig::default();
    let ms = MILLI;
    let mut f = ThrottleFlow::new(0, 1000, 1000, Some(30 * ms), &cfg);
    f.server_data(ms, 2000, 1000, 0, &cfg); // hole: 1000..2000 missing
    f.server_data(ms + late, 1000, 1000, 0, &cfg); // the missing bytes
    f.server_data(ms + late + ms, 3000, 1000, 0, &cfg); // in order again
    f
}

#[test]
fn a_hole_filled_within_half_an_rtt_is_reordering() {
    // 5 ms after the hole: reordering (half the 30 ms RTT is 15 ms)
    let f = overtaken(5 * MILLI);
    assert_eq!((f.holes, f.retransmits, f.loss_events), (0, 0, 0));
    assert_eq!(f.first_loss, None);
    // 40 ms after: a retransmission of a lost segment
    let f = overtaken(40 * MILLI);
    assert_eq!((f.holes, f.retransmits, f.loss_events), (1, 1, 1));
    assert_eq!(f.first_loss, Some((MILLI, 1000)));
    // measured while the hole is still open, it counts (a later record knows better)
    let cfg = ThrottleConfig::default();
    let mut f = ThrottleFlow::new(0, 1000, 1000, Some(30 * MILLI), &cfg);
    f.server_data(MILLI, 2000, 1000, 0, &cfg);
    f.last_data = 2 * SECOND;
    let m = f.measure(&cfg).unwrap();
    assert_eq!((m.holes, m.loss_events), (1, 1));
    assert_eq!(f.holes, 0, "measuring does not commit the hole");
}

/// The rate between the first and the last loss counts only the time the
/// server had data: a 5 s application pause between the losses is left out.
#[test]
fn the_rate_between_losses_leaves_application_pauses_out() {
    let cfg = ThrottleConfig::default();
    let ms = MILLI;
    let mut f = ThrottleFlow::new(0, 1000, 1000, Some(30 * ms), &cfg);
    let mut seq = 1000u32;
    // 1000 bytes every 10 ms (800 kbit/s), skipping the segment at `hole`
    let mut run = |f: &mut ThrottleFlow, from: Nanos, to: Nanos, hole: Nanos| {
        let mut t = from;
        while t < to {
            if t != hole {
                f.server_data(t, seq, 1000, seq, &cfg);
            }
            seq = seq.wrapping_add(1000);
            t += 10 * ms;
        }
    };
    run(&mut f, 10 * ms, 2 * SECOND, 500 * ms);
    // everything acknowledged, then 5 s without data: the application's pause
    run(&mut f, 7 * SECOND, 9500 * ms, 9 * SECOND);
    let m = f.measure(&cfg).unwrap();
    assert_eq!(m.loss_events, 2, "{m:?}");
    let bps = m.flach_bps.unwrap();
    assert!((bps / 800_000.0 - 1.0).abs() < 0.1, "{bps}");
}

#[test]
fn per_flow_state_is_small() {
    // allocated only for flows whose server sent 16 KB or more (992 bytes
    // with the loss moments, the gaps in the data and the judged-download
    // mark, which took 8 bytes of alignment; and with the latest 28 rate
    // bins, whose 28 bytes the per-bin RTTs and the smallest window paid
    // for: never zero, they fit an `Option` in 8 bytes; the congestion
    // marks' three bytes took the last of the padding; 1,024 with the
    // server's timestamp clock and the one-way delays that place a queue,
    // 28 bytes)
    let n = std::mem::size_of::<ThrottleFlow>();
    eprintln!("ThrottleFlow: {n} bytes");
    assert!(n <= 1024, "{n}");
}

#[test]
fn mutated_downloads_never_panic() {
    // A throttled download and a fast one, mangled: segments dropped,
    // duplicated, swapped with a neighbour, sequence/ack/timestamp bytes
    // flipped, times jittered backwards. The detector must not panic and
    // must stay bounded (at most one event per flow).
    let pcap = ts::thr_policed_same_server().unwrap();
    let base = frames(&pcap);
    let mut rng = tw_scenario::Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut rnd = move |n: u64| rng.below(n);
    for _round in 0..40 {
        let mut fr = Vec::with_capacity(base.len() + 64);
        for (ts, f, wire) in &base {
            let r = rnd(100);
            if r < 3 {
                continue; // dropped
            }
            let mut f = f.clone();
            if r < 8 && f.len() >= 52 {
                // TCP header bytes 4..12 (seq, ack) and the timestamp option
                let i = 20 + [4, 5, 8, 9, 36, 40][rnd(6) as usize];
                if let Some(b) = f.get_mut(i) {
                    *b ^= 1 << rnd(8);
                }
            }
            let ts = if r == 9 { ts - 2_000_000 } else { *ts };
            fr.push((ts, f.clone(), *wire));
            if r == 10 {
                fr.push((ts, f, *wire)); // duplicated
            }
            if r == 11 && fr.len() >= 2 {
                let n = fr.len();
                fr.swap(n - 1, n - 2); // reordered
            }
        }
        let mut e = Engine::new(
            EngineConfig::default(),
            default_detectors(&DetectorsConfig::default()),
        );
        for (ts, f, wire) in &fr {
            e.process_frame(crate::decode::linktype::RAW, f, *ts, *wire);
        }
        e.finish();
        let mut n = 0;
        e.drain_events(|ev| {
            let _ = ev.to_json_line();
            n += 1;
        });
        assert!(n <= e.stats().total_flows() as usize * 5);
    }
}

/// The policed download of a recorded run of the live lab
/// (`throttle_e2e::sni_policed_while_others_fast`, recorded with
/// `TW_LAB_PCAP`): its first checkpoint's evidence, field by field. Linux
/// paces its segments, so the lab's 500 kbit/s token bucket took one segment
/// per loss event (8 events, 8 holes, 9 retransmissions).
fn lab_policed_checkpoint() -> Measured {
    Measured {
        duration: 5 * SECOND,
        delivered: 287_482,
        avg_bps: 458_796.0,
        median_bps: 491_520.0,
        p10_bps: 147_456.0,
        p90_bps: 491_520.0,
        plateau: 0.9,
        bins: 10,
        stall_bins: 0,
        flach_bps: Some(457_414.0),
        holes: 8,
        retransmits: 9,
        loss_events: 8,
        ce_events: 0,
        // (spread over a record's span by `record`)
        loss_times: LossTimes::default(),
        gaps: Gaps::default(),
        // (its rate over a record's span, by `record`)
        rates: Rates::default(),
        dupacks: 18,
        rtt_min: Some(24_200_000),
        rtt_smoothed: Some(47_700_000),
        rtt_samples: 110,
        rtt_bins: 10,
        rtt_bins_queued: 0,
        rtt_bins_ack_path: 0,
        pre_loss_rtt: Some(44_400_000),
        idle: 0,
        idle_gaps: 0,
        rwnd_min: Some(63_488),
        zero_windows: 0,
    }
}

#[test]
fn a_policer_that_takes_one_segment_per_loss_is_a_policer() {
    // the lab's settings: 5 s flows are judged
    let cfg = ThrottleConfig {
        min_duration: 5 * SECOND,
        ..ThrottleConfig::default()
    };
    let m = lab_policed_checkpoint();
    assert_eq!(m.classify(&cfg), Ok((Mode::Policer, 457_414.0)));
    // the same flow with no retransmission beyond one per loss event
    let single = Measured {
        retransmits: m.loss_events,
        ..m.clone()
    };
    assert_eq!(single.classify(&cfg), Ok((Mode::Policer, 457_414.0)));
}

/// A record for the judge: `port`'s flow to `server` under `target`.
fn record(
    port: u16,
    server: [u8; 4],
    target: &str,
    rate_bps: f64,
    limited: Option<(Mode, f64)>,
    mut measured: Measured,
) -> RateRecord {
    let span = (SECOND, 20 * SECOND);
    if measured.loss_times == LossTimes::default() {
        // its loss events at even intervals over its span
        measured.loss_times = LossTimes::evenly(measured.loss_events, span);
    }
    RateRecord {
        stamp: 20 * SECOND,
        ready: 20 * SECOND,
        last: true,
        flow: EventFlow {
            proto: crate::event::Transport::Tcp,
            client_ip: [192, 0, 2, 10].into(),
            client_port: port,
            server_ip: server.into(),
            server_port: 443,
        },
        flow_start: 0,
        target: Some(target.into()),
        group: None,
        span,
        rate_bps,
        delivered: (rate_bps / 8.0 * 19.0) as u64,
        limited,
        marked: false,
        measured,
        hello: None,
        client_link: None,
    }
}

#[test]
fn a_fast_flow_behind_a_standing_queue_is_no_contrast_for_a_shaper() {
    // a fast flow over the candidate's whole run whose own short queue left
    // it with a high smoothed RTT at its end (bursts), but whose smallest
    // RTT per bin stayed at the minimum: not behind the candidate's queue
    // (the lab's fast downloads)
    let ev = judged(shaped_and_fast((SECOND, 20 * SECOND), 1));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].evidence["mode"], "shaper");
    assert_eq!(ev[0].evidence["rule"], "targeted");
    // a fast flow queued in most of its bins, as the candidate: a bloated
    // link they share (look-alike thr_paced_shared_queue)
    assert!(judged(shaped_and_fast((SECOND, 20 * SECOND), 12)).is_empty());
}

#[test]
fn a_policer_on_a_lossy_link_is_still_reported_when_its_losses_dominate() {
    // Twitter-style policing at 150 kbit/s on Wi-Fi that loses 0.5% of
    // every flow's segments; a download elsewhere runs fast on the same
    // Wi-Fi. The policer's losses per byte are many times the Wi-Fi's.
    let mut tl = tw_scenario::Timeline::new();
    let t0 = tw_scenario::session::EPOCH_NS;
    let mut policed = ts::Download::bulk(
        [203, 0, 113, 80],
        "video.throttled.example",
        50061,
        t0,
        ts::Limiter::Policer {
            bps: 150_000.0,
            burst: 16_000,
        },
        450_000,
    );
    policed.loss = 0.005;
    let mut fast = ts::Download::bulk(
        [198, 51, 100, 20],
        "fast.example",
        50062,
        t0 + 5 * SECOND,
        ts::Limiter::Link {
            bps: 4e6,
            queue: 48_000,
        },
        1_200_000,
    );
    fast.loss = 0.005;
    ts::download(&mut tl, &policed).unwrap();
    ts::download(&mut tl, &fast).unwrap();
    let r = run(&tl
        .to_pcap_bytes(crate::decode::linktype::RAW, false)
        .unwrap());
    show("policed_lossy_link", &r);
    let ev = throttling(&r);
    assert_eq!(ev.len(), 1, "{:?}", r.events);
    assert_eq!(ev[0].evidence["mode"], "policer");
    assert_eq!(ev[0].evidence["rule"], "targeted");
}

/// A hand-made record whose rate bins are not set: its rate over its span,
/// every bin known.
fn steady(mut r: RateRecord) -> RateRecord {
    if r.measured.rates == Rates::default() {
        r.measured.rates = Rates::steady(r.rate_bps, r.span, ThrottleConfig::default().bin);
    }
    r
}

/// The judge's events for `records` (every one submitted, then judged).
fn judged(records: Vec<RateRecord>) -> Vec<Event> {
    let mut j = Judge::new(ThrottleConfig::default(), Default::default());
    for r in records {
        j.submit(steady(r));
    }
    let mut out = Vec::new();
    j.advance(60 * SECOND, &mut out);
    out
}

/// The lab's policed checkpoint as a candidate record, and a 3.9 Mbit/s
/// download elsewhere with `holes` segments missing over 7 MB (in few
/// loss events: a fast flow's losses within two RTTs are one).
/// The candidate's record covers `times` the checkpoint's 5 s at the same
/// rates.
fn policed_and_fast(holes: u32, pre_loss_rtt: Nanos, times: u32) -> Vec<RateRecord> {
    let lab = lab_policed_checkpoint();
    let c = record(
        50001,
        [203, 0, 113, 80],
        "video.throttled.example",
        491_520.0,
        Some((Mode::Policer, 457_414.0)),
        Measured {
            duration: lab.duration * Nanos::from(times),
            delivered: lab.delivered * u64::from(times),
            holes: lab.holes * times,
            retransmits: lab.retransmits * times,
            loss_events: lab.loss_events * times,
            ..lab.clone()
        },
    );
    let fast = Measured {
        holes,
        retransmits: holes,
        loss_events: holes.min(3),
        delivered: 7_000_000,
        pre_loss_rtt: Some(pre_loss_rtt),
        flach_bps: None,
        ..lab_policed_checkpoint()
    };
    let mut f = record(
        50002,
        [198, 51, 100, 20],
        "fast.example",
        3_932_160.0,
        None,
        fast,
    );
    f.delivered = 7_000_000;
    vec![c, f]
}

#[test]
fn a_fast_flow_that_loses_as_often_on_its_own_link_is_no_contrast_for_a_policer() {
    // the candidate: 8 segments missing in 287 KB over 5 s (4% of its
    // segments); its RTT minimum is 24.2 ms
    let flat = 25 * MILLI;
    // a fast flow without losses, or with few (2 per MB): the contrast
    assert_eq!(judged(policed_and_fast(0, flat, 1)).len(), 1);
    assert_eq!(judged(policed_and_fast(14, flat, 1)).len(), 1);
    // a link that loses 1.6% of every flow's segments (80 in the fast
    // flow's 7 MB) would take 3.3 of the candidate's in 5 s: 8 is not
    // implausible (Chernoff bound of the Poisson tail 0.09); over 15 s, 24
    // where 9.9 are expected is (0.0007): the policer shows
    assert!(judged(policed_and_fast(80, flat, 1)).is_empty());
    assert_eq!(judged(policed_and_fast(80, flat, 3)).len(), 1);
    // a link that loses as much as the candidate: no policer, with a flat
    // RTT before the fast flow's losses or after a standing queue alike (a
    // bulk download over Wi-Fi queues and loses at random; look-alike
    // thr_paced_bursty_loss)
    assert!(judged(policed_and_fast(200, flat, 3)).is_empty());
    assert!(judged(policed_and_fast(200, 80 * MILLI, 3)).is_empty());
}

#[test]
fn a_comparison_flow_is_judged_by_its_latest_record() {
    // the download's checkpoint, before it filled the shared queue
    let mut early = shaped_and_fast((SECOND, 20 * SECOND), 0);
    let f = &mut early[1];
    f.stamp = 10 * SECOND;
    f.ready = 10 * SECOND;
    f.last = false;
    f.span = (SECOND, 10 * SECOND);
    assert_eq!(judged(early.clone()).len(), 1);
    // its end record: queued in most bins, as the candidate
    let late = shaped_and_fast((SECOND, 20 * SECOND), 18).remove(1);
    early.insert(1, late);
    assert!(judged(early).is_empty());
}

#[test]
fn two_listed_names_held_alike_on_one_address_are_no_cdn_cap() {
    let policed = lab_policed_checkpoint();
    let on_cdn = |port: u16, name: &str, group: Option<usize>| {
        let mut r = record(
            port,
            [203, 0, 113, 80],
            name,
            491_520.0,
            Some((Mode::Policer, 457_414.0)),
            policed.clone(),
        );
        r.group = group;
        r
    };
    let fast = || {
        record(
            50009,
            [198, 51, 100, 20],
            "fast.example",
            3_932_160.0,
            None,
            Measured {
                loss_events: 0,
                holes: 0,
                retransmits: 0,
                ..policed.clone()
            },
        )
    };
    // a listed name and another name on its address held at the same
    // rate: the address caps every name (a CDN), neither is a target
    let ev = judged(vec![
        on_cdn(50001, "video.throttled.example", Some(0)),
        on_cdn(50002, "static.cdn.example", None),
        fast(),
    ]);
    assert!(ev.is_empty(), "{ev:?}");
    // both names listed (two groups): the censor's list, both reported
    let ev = judged(vec![
        on_cdn(50001, "video.throttled.example", Some(0)),
        on_cdn(50002, "api.throttled2.example", Some(1)),
        fast(),
    ]);
    assert_eq!(ev.len(), 2, "{ev:?}");
}

#[test]
fn a_long_path_gives_rtt_samples_when_the_client_ticks_faster_than_the_ring_spans() {
    // a client ACKing every millisecond with a new TSval (1 kHz clock), a
    // path of 100 ms: each TSval's echo comes back 100 values later
    let cfg = ThrottleConfig::default();
    let ms = MILLI;
    let mut f = ThrottleFlow::new(0, 1000, 1000, None, &cfg);
    for t in 0..2000u32 {
        let now = Nanos::from(t) * ms;
        f.client_tsval(1000 + t, now, false);
        if t >= 100 {
            f.server_echo(0, 1000 + t - 100, now, &cfg);
        }
    }
    eprintln!("{} samples", f.rtt_samples);
    assert!(f.rtt_samples >= 10, "{} samples", f.rtt_samples);
    assert_eq!(f.rtt_min, Some(100 * ms));
    // a short path keeps a sample per echo
    let mut f = ThrottleFlow::new(0, 1000, 1000, None, &cfg);
    for t in 0..2000u32 {
        let now = Nanos::from(t) * ms;
        f.client_tsval(1000 + t, now, false);
        if t >= 20 {
            f.server_echo(0, 1000 + t - 20, now, &cfg);
        }
    }
    assert_eq!(f.rtt_samples, 1980);
    assert_eq!(f.rtt_min, Some(20 * ms));
}

/// A stream paced at 400 kbit/s for 40 s over a 30 ms path, measured at
/// the client: its data wait `down(t)` more on the way (t: when the
/// server sent them), the client's ACKs `up(t)` (t: when the client sent
/// them); the server's clock ticks every millisecond, and it echoes the
/// newest ACK it has when it sends.
fn paced_through(down: fn(Nanos) -> Nanos, up: fn(Nanos) -> Nanos) -> ThrottleFlow {
    paced_after(down, up, None)
}

/// As [`paced_through`], with the connection's first SYN/ACK (its TSval,
/// arrival, and the handshake's RTT: see [`ThrottleFlow::anchor_at_handshake`]).
fn paced_after(
    down: fn(Nanos) -> Nanos,
    up: fn(Nanos) -> Nanos,
    hs: Option<(u32, Nanos, Nanos)>,
) -> ThrottleFlow {
    let cfg = ThrottleConfig::default();
    let (ms, owd) = (MILLI, 15 * MILLI);
    let every = 1448 * 8 * SECOND / 400_000;
    let mut f = ThrottleFlow::new(0, 0, 0, Some(2 * owd), &cfg);
    // the client's ACKs on their way: (reaches the server, its TSval)
    let mut acks: std::collections::VecDeque<(Nanos, u32)> = Default::default();
    let mut echo = 0u32;
    let mut seq = 0u32;
    let mut t = 0;
    while t < 40 * SECOND {
        while acks.front().is_some_and(|a| a.0 <= t) {
            echo = acks.pop_front().map_or(echo, |a| a.1);
        }
        let at = t + owd + down(t);
        let tsval = 7_000_000 + (t / ms) as u32;
        f.server_clock(tsval, at, hs, &cfg);
        f.server_echo(tsval, echo, at, &cfg);
        f.server_data(at, seq, 1448, seq, &cfg);
        seq = seq.wrapping_add(1448);
        let v = 1_000 + (at / ms) as u32;
        f.client_tsval(v, at + 10_000, true);
        acks.push_back((at + 10_000 + owd + up(at), v));
        t += every;
    }
    f
}

#[test]
fn the_servers_timestamps_place_a_standing_queue() {
    let cfg = ThrottleConfig::default();
    let (ms, s) = (MILLI, SECOND);
    let queued = |f: &ThrottleFlow| (f.rtt_bins_queued, u32::from(f.rtt_bins_ack_path));
    // a backup fills the uplink from 8 s: 350 ms for every ACK. Every bin
    // after it shows a queue in the RTT, each on the way to the server
    let f = paced_through(|_| 0, |t| if t >= 8 * SECOND { 350 * MILLI } else { 0 });
    let (q, a) = queued(&f);
    eprintln!(
        "uplink: {q} queued, {a} towards the server of {}",
        f.rtt_bins
    );
    assert!(q <= 1 && a >= 60, "{q} {a}");
    assert!(f.measure(&cfg).unwrap().classify(&cfg).is_err());
    // the same queue on the way to the client (a shaper from 8 s): queued
    let f = paced_through(|t| if t >= 8 * SECOND { 350 * MILLI } else { 0 }, |_| 0);
    let (q, a) = queued(&f);
    assert!(q >= 60 && a == 0, "{q} {a}");
    assert_eq!(
        f.measure(&cfg).unwrap().classify(&cfg).unwrap().0,
        Mode::Shaper
    );
    // both: the data's 150 ms is a queue of its own
    let f = paced_through(
        |t| if t >= 8 * SECOND { 150 * MILLI } else { 0 },
        |t| if t >= 8 * SECOND { 350 * MILLI } else { 0 },
    );
    let (q, a) = queued(&f);
    assert!(q >= 60 && a == 0, "{q} {a}");
    // a shaper's 150 ms from the first segment, the backup from 8 s: the
    // uplink's rise alone shows, but the two smallest one-way delays add
    // up to a queue over the handshake's RTT: counted as before
    let f = paced_through(
        |_| 150 * MILLI,
        |t| if t >= 8 * SECOND { 350 * MILLI } else { 0 },
    );
    let (q, a) = queued(&f);
    assert!(q >= 70 && a == 0, "{q} {a}");
    // a server clock the rates do not fit (a microsecond clock): no split
    let mut f = ThrottleFlow::new(0, 0, 0, Some(30 * ms), &cfg);
    assert_eq!(f.first_split(5, 0, 30 * ms, &cfg), Some([0, 3_000]));
    f.server_clock(5 + 1_000_000, s, None, &cfg);
    assert_eq!(f.ts_hz, NO_CLOCK);
    assert_eq!(f.one_way(5, s, 30 * ms), None);
    // and a 250 Hz one is found
    let mut f = ThrottleFlow::new(0, 0, 0, Some(30 * ms), &cfg);
    f.first_split(5, 0, 30 * ms, &cfg);
    f.server_clock(5 + 290, 1100 * ms, None, &cfg);
    assert_eq!(f.ts_hz, 250);
    // a backup that starts half a second in, before the clock's rate is
    // known: the first sample's split is the uplink's floor, and the
    // queue is placed (review, session 28: counted as queued before)
    let f = paced_through(|_| 0, |t| if t >= SECOND / 2 { 350 * MILLI } else { 0 });
    let (q, a) = queued(&f);
    assert!(q <= 2 && a >= 70, "{q} {a}");
}

#[test]
fn the_handshake_anchors_a_queue_that_stood_from_the_first_sample() {
    let ms = MILLI;
    let queued = |f: &ThrottleFlow| (f.rtt_bins_queued, u32::from(f.rtt_bins_ack_path));
    // the server sent its SYN/ACK at -15 ms by its clock (TSval 7,000,000
    // at 0 ms), it came at 0, 30 ms after the SYN
    let hs = Some((7_000_000 - 15, 0, 30 * ms));
    let backup: fn(Nanos) -> Nanos = |_| 350 * MILLI;
    // a backup that fills the uplink from the stream's first segment: the
    // first sample holds its queue, which its split cannot place (review,
    // session 28: still `shaper` + `targeted`)
    let (q, a) = queued(&paced_through(|_| 0, backup));
    assert!(q >= 70 && a == 0, "{q} {a}");
    // from the handshake, whose split has no queue, it is placed (all but
    // the bins before the clock's rate is known, a second in)
    let f = paced_after(|_| 0, backup, hs);
    let (q, a) = queued(&f);
    assert!(q <= 3 && a >= 70, "{q} {a}");
    assert_eq!(f.ts_first, (7_000_000 - 15, 0));
    assert_eq!(f.owd_min, [0, 3_000]);
    // a shaper's 150 ms from the first segment, behind the same backup:
    // the data's delay rose over the handshake's, queued
    let (q, a) = queued(&paced_after(|_| 150 * MILLI, backup, hs));
    assert!(q >= 70 && a == 0, "{q} {a}");
    // and alone (the first sample's split put it on the uplink's side)
    let (q, a) = queued(&paced_after(|_| 150 * MILLI, |_| 0, hs));
    assert!(q >= 70 && a == 0, "{q} {a}");
    // a SYN/ACK stamped by another clock (a SYN proxy's) 40 ms ahead: the
    // first sample's data seem to have met a queue, the anchor stays, and
    // the backup's queue counts as before
    let ahead = Some((7_000_000 + 25, 0, 30 * ms));
    assert_ne!(paced_after(|_| 0, |_| 0, ahead).ts_first.0, 7_000_000 + 25);
    let f = paced_after(|_| 0, backup, ahead);
    assert_ne!(f.ts_first.0, 7_000_000 + 25);
    let (q, a) = queued(&f);
    assert!(q >= 70 && a == 0, "{q} {a}");
    // a shaper's 60 ms from the first segment, the SYN/ACK stamped 40 ms
    // early (a SYN cookie's TSval): the first sample's data seem to have
    // met 20 ms. Taken as the anchor, the data's delay would seem to rise
    // by 20 ms, less than a queue, and the shaper's bins would go to the
    // uplink (review, session 29); the first sample stays the anchor, and
    // they count
    let cookie = Some((7_000_000 - 55, 0, 30 * ms));
    let f = paced_after(|_| 60 * MILLI, |_| 0, cookie);
    assert_ne!(f.ts_first.0, 7_000_000 - 55);
    let (q, a) = queued(&f);
    assert!(q >= 70 && a == 0, "{q} {a}");
    // one 400 ms behind fits no sample (the data would have come before the
    // handshake's): the anchor stays, the queue counts as before
    let f = paced_after(|_| 0, backup, Some((7_000_000 - 415, 0, 30 * ms)));
    assert_ne!(f.ts_first.0, 7_000_000 - 415);
    let (q, a) = queued(&f);
    assert!(q >= 70 && a == 0, "{q} {a}");
    // nor one more than a minute before the first sample
    let f = paced_after(
        |_| 0,
        backup,
        Some((7_000_000 - 61_015, -61 * SECOND, 30 * ms)),
    );
    assert_ne!(f.ts_first.1, -6_100_000);
}

/// A shaped candidate over 1..20 s (a standing queue in 18 of 20 bins) and
/// a 8 Mbit/s download elsewhere over `span`, queued in `queued` of its 20
/// bins.
fn shaped_and_fast(span: (Nanos, Nanos), queued: u32) -> Vec<RateRecord> {
    let shaped = Measured {
        duration: 19 * SECOND,
        rtt_min: Some(30 * MILLI),
        rtt_smoothed: Some(120 * MILLI),
        rtt_bins: 20,
        rtt_bins_queued: 18,
        rtt_bins_ack_path: 0,
        loss_events: 0,
        retransmits: 0,
        holes: 0,
        ..lab_policed_checkpoint()
    };
    let c = record(
        50001,
        [203, 0, 113, 80],
        "video.throttled.example",
        500e3,
        Some((Mode::Shaper, 500e3)),
        shaped.clone(),
    );
    let mut f = record(
        50002,
        [198, 51, 100, 20],
        "fast.example",
        8e6,
        None,
        Measured {
            rtt_bins_queued: queued,
            rtt_bins_ack_path: 0,
            ..shaped
        },
    );
    f.span = span;
    vec![c, f]
}

#[test]
fn contrast_comes_from_flows_that_ran_at_the_same_time() {
    // a download during the target's run: contrast
    assert_eq!(
        judged(shaped_and_fast((5 * SECOND, 15 * SECOND), 0)).len(),
        1
    );
    // a download that ended before the target began (the link's rate may
    // have dropped in between): none
    let early = shaped_and_fast((-8 * SECOND, SECOND - MILLI), 0);
    assert!(judged(early).is_empty());
}

#[test]
fn a_fast_flow_queued_behind_its_own_buffer_for_part_of_a_shaped_download_is_contrast() {
    // queued in most of its bins, but it ran 5 of the target's 19 s while
    // the target queued for 17: its queue cannot be what held the target
    let ev = judged(shaped_and_fast((10 * SECOND, 15 * SECOND), 18));
    assert_eq!(ev.len(), 1, "{ev:?}");
    // the same download over the whole of the target's run: a queue they
    // share (look-alike thr_paced_shared_queue)
    assert!(judged(shaped_and_fast((SECOND, 20 * SECOND), 18)).is_empty());
}

#[test]
fn a_second_download_behind_a_shared_queue_is_no_contrast() {
    // the download that fills the link's queue (queued in 12 of its 20
    // bins, over the whole run), and a second one that started after the
    // queue formed: its minimum RTT holds the queue, so none of its bins
    // shows one (look-alike thr_paced_shared_queue_second_download)
    // (the first's smoothed RTT is 120 ms over a 30 ms minimum: a 90 ms
    // queue; the second's minimum holds it)
    let mut v = shaped_and_fast((SECOND, 20 * SECOND), 12);
    let mut second = shaped_and_fast((8 * SECOND, 20 * SECOND), 0).remove(1);
    second.flow.client_port = 50003;
    second.flow.server_ip = [198, 51, 100, 21].into();
    second.target = Some("cdn.example".into());
    second.measured.rtt_min = Some(125 * MILLI);
    v.push(second.clone());
    assert!(judged(v).is_empty());
    // without the first, the second is contrast
    let mut alone = shaped_and_fast((SECOND, 20 * SECOND), 12);
    alone[1] = second;
    assert_eq!(judged(alone).len(), 1);
    // a clean download with a 30 ms minimum beside the queued one cannot
    // have been behind its 90 ms queue: the queued one has its own bloated
    // buffer, the clean one is contrast
    let mut v = shaped_and_fast((SECOND, 20 * SECOND), 12);
    let mut clean = shaped_and_fast((8 * SECOND, 20 * SECOND), 0).remove(1);
    clean.flow.client_port = 50004;
    clean.target = Some("cdn.example".into());
    v.push(clean);
    assert_eq!(judged(v).len(), 1);
}

#[test]
fn poisson_binomial_tails() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(at_least(&[0.1], 1), 0.1));
    assert!(close(at_least(&[0.3; 3], 0), 1.0));
    assert!(close(at_least(&[0.5; 4], 2), 11.0 / 16.0));
    assert!(close(at_least(&[0.1; 3], 3), 0.001));
    assert!(close(at_least(&[0.9; 5], 6), 0.0));
    // unequal chances: 1 - (1 - 0.1)(1 - 0.5) for one or more
    assert!(close(at_least(&[0.1, 0.5], 1), 0.55));
    assert!(close(at_least(&[0.1, 0.5], 2), 0.05));
}

/// The lab's policed checkpoint over 1..20 s (8 loss events, spread evenly:
/// one every 2.4 s) and a 3.9 Mbit/s download elsewhere over `span` whose
/// loss events began at `losses` (ms after 1 s).
fn policed_beside(span: (Nanos, Nanos), losses: &[i64]) -> Vec<RateRecord> {
    let mut v = policed_and_fast(0, 25 * MILLI, 1);
    let mut times = LossTimes::default();
    for t in losses {
        times.push(SECOND + t * MILLI);
    }
    v[1].measured.loss_events = losses.len() as u32;
    v[1].measured.holes = 4 * losses.len() as u32;
    v[1].measured.loss_times = times;
    v[1].span = span;
    v
}

#[test]
fn losses_at_the_same_moments_as_a_fast_flows_are_the_links() {
    // the candidate lost at 1.19 s, 3.56 s, ... (every 2,375 ms from
    // 1,187 ms after its start); a fast flow that lost 10 to 30 ms after
    // each of those moments shares its losses: Wi-Fi fading for every
    // flow at once (look-alike thr_paced_fades), no contrast
    let moments: Vec<i64> = (0..8).map(|i| 1187 + 2375 * i).collect();
    let with = |d: i64| moments.iter().map(|t| t + d).collect::<Vec<_>>();
    let whole = (SECOND, 20 * SECOND);
    assert!(judged(policed_beside(whole, &with(20))).is_empty());
    // a download of 5 s over two of the candidate's losses that lost at
    // one of them and once elsewhere: one coincidence in two where chance
    // gives one in six is not enough (its tail-loss probe after two
    // smoothed RTTs makes 105 ms either side of its losses count)
    let five = (3 * SECOND, 8 * SECOND);
    assert_eq!(judged(policed_beside(five, &[3580, 6500])).len(), 1);
    // but two such downloads: two coincidences in four, 1 in 25, pooled
    let mut two = policed_beside(five, &[3580, 6500]);
    let mut other = policed_beside((8 * SECOND, 13 * SECOND), &[8330, 11300]).remove(1);
    other.flow.client_port = 50003;
    two.push(other);
    assert!(judged(two).is_empty());
    // as many losses, half-way between the candidate's: its own (a
    // download's congestion), and the link ran fast while the candidate
    // lost: contrast
    assert_eq!(judged(policed_beside(whole, &with(1187))).len(), 1);
    // no losses at all: contrast
    assert_eq!(judged(policed_beside(whole, &[])).len(), 1);
    // one loss at one of the candidate's eight moments: chance
    // (8 moments, 1 in 19 s within 40 ms of them)
    assert_eq!(judged(policed_beside(whole, &[1200])).len(), 1);
}

#[test]
fn witnesses_count_the_targets_moments_they_ran_through() {
    let w = |lo, hi, near: &[(i64, i64)], idle: &[(i64, i64)], p| Witness {
        lo,
        hi,
        near: near.to_vec(),
        idle: idle.to_vec(),
        p,
        whole: true,
    };
    let ws = [
        // a fast flow over 0..1000 ms that lost near 100 ms
        (w(0, 1000, &[(90, 110)], &[], 0.5), true),
        // a slow one over 500..2000 ms that lost near 1500 ms, idle at 1700
        (w(500, 2000, &[(1490, 1510)], &[(1700, 1800)], 0.2), false),
    ];
    // 100: the fast flow's (shared, by chance 1 in 2); 600: both ran, no
    // loss near (its own); 1500: the slow one's (1 in 5); 1750: the slow
    // one idle, 2500: neither ran (neither way)
    let got = witnessed(&[100, 600, 1500, 1750, 2500], &ws);
    assert_eq!((got.n, got.k, got.n_fast, got.k_fast), (3, 2, 2, 1));
    assert!((got.chance - 0.1).abs() < 1e-12, "{got:?}");
    // 700: both ran, the slow one lost near it (its window widened to
    // 690..710): shared, not with a fast flow, by chance 1 - (1 - 0.5)(1 -
    // 0.2) = 0.6 (either of the two could have)
    let ws = [
        (w(0, 1000, &[(90, 110)], &[], 0.5), true),
        (w(500, 2000, &[(690, 710)], &[], 0.2), false),
    ];
    let got = witnessed(&[700], &ws);
    assert_eq!((got.n, got.k, got.n_fast, got.k_fast), (1, 1, 1, 0));
    assert!((got.chance - 0.6).abs() < 1e-12, "{got:?}");
    // nothing ran: nothing counted
    let none = witnessed(&[2500], &ws);
    assert_eq!((none.n, none.k, none.chance), (0, 0, 1.0));
}

/// The live long-fades lab in records: the candidate (the lab's policed
/// checkpoint over 1..20 s) lost at `moments` (ms after 1 s); a fast
/// download over 4..11 s lost every 400 ms on its own, and 20 ms after each
/// of the candidate's moments while it ran (a fade takes a burst of it);
/// a slow stream to another name over the whole span (not fast) lost 30 ms
/// after each of `slow` (ms after 1 s).
fn faded(moments: &[i64], slow: &[i64]) -> Vec<RateRecord> {
    let (from, to) = (3_000, 10_000);
    let mut fast: Vec<i64> = (0..)
        .map(|i| from + 200 + 400 * i)
        .take_while(|t| *t < to)
        .collect();
    fast.extend(
        moments
            .iter()
            .filter(|t| (from..to).contains(*t))
            .map(|t| t + 20),
    );
    fast.sort_unstable();
    let mut v = policed_beside((4 * SECOND, 11 * SECOND), &fast);
    // (one segment a loss: few per byte beside the candidate's)
    v[1].measured.holes = fast.len() as u32;
    let mut c_times = LossTimes::default();
    for t in moments {
        c_times.push(SECOND + t * MILLI);
    }
    v[0].measured.loss_times = c_times;
    v[0].measured.loss_events = moments.len() as u32;
    let mut s_times = LossTimes::default();
    for t in slow {
        s_times.push(SECOND + (t + 30) * MILLI);
    }
    let stream = Measured {
        loss_times: s_times,
        loss_events: slow.len() as u32,
        holes: slow.len() as u32,
        ..lab_policed_checkpoint()
    };
    v.push(record(
        50004,
        [203, 0, 113, 90],
        "slow.example",
        590_000.0,
        None,
        stream,
    ));
    v
}

#[test]
fn a_stream_that_loses_only_when_other_flows_do_is_no_target() {
    // Fades every 2,050 ms from 1,795 ms (the lab: 150 ms of every 2 s).
    // The candidate lost at each and nowhere else. The download lost at
    // each while it ran, but it loses every 400 ms on its own: over the
    // time its latest 16 moments cover, two coincidences in two where
    // chance gives about one in two each (0.29) were contrast. The slow
    // stream lost at every fade: each of the candidate's moments is
    // another flow's too, the link's.
    let fades: Vec<i64> = (0..9).map(|i| 1795 + 2050 * i).collect();
    assert!(judged(faded(&fades, &fades)).is_empty());
    // a policer's own losses between the fades: reported
    let mut own = fades.clone();
    own.extend(fades.iter().take(8).map(|t| t + 1000));
    own.sort_unstable();
    let ev = judged(faded(&own, &fades));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].evidence["rule"], "targeted");
    // the slow stream ran through the last fade without losing: that
    // moment is the candidate's own (a fade that missed a slow stream with
    // nothing in flight cannot be told from a policer's drop): reported
    let ev = judged(faded(&fades, &fades[..8]));
    assert_eq!(ev.len(), 1, "{ev:?}");
    // the slow stream rate-limited itself, or marked: a censor's bucket may
    // hold it with the candidate, and its losses are then the bucket's
    // drops, no witness of the link (review, session 27): reported
    // (the stream, now a candidate itself against the download, may be
    // reported too: the candidate's event is what counts here)
    let candidate = |ev: Vec<Event>| ev.iter().filter(|e| e.flow.client_port == 50001).count();
    let mut v = faded(&fades, &fades);
    v[2].limited = Some((Mode::Policer, 590_000.0));
    assert_eq!(candidate(judged(v)), 1);
    let mut v = faded(&fades, &fades);
    v[2].marked = true;
    assert_eq!(candidate(judged(v)), 1);
}

#[test]
fn a_fast_flow_that_ran_between_a_policed_flows_losses_is_no_contrast() {
    // 2 s without a loss of the candidate's (1.19 s and 3.56 s after its
    // start): it shows the link fast, but nothing of the moments the
    // candidate lost at, which a fading link would have taken as well
    let between = (SECOND + 1300 * MILLI, SECOND + 3400 * MILLI);
    assert!(judged(policed_beside(between, &[])).is_empty());
    // as short, over one of the candidate's losses, without losing: too
    // little (a fade can miss a flow, or take only its last segments,
    // which come again in order after a timeout and leave no hole, or
    // show its hole after a tail-loss probe: the live fades lab's
    // kernel-paced stream was reported against one such download in CI)
    let over = (SECOND + 2500 * MILLI, SECOND + 4500 * MILLI);
    assert!(judged(policed_beside(over, &[])).is_empty());
    // over two of them: contrast
    let over_two = (SECOND + 2500 * MILLI, SECOND + 6500 * MILLI);
    assert_eq!(judged(policed_beside(over_two, &[])).len(), 1);
}

/// A 500 kbit/s policer (32 KB bucket) on one name and a 20 MB download
/// elsewhere over an 8 Mbit/s link starting 5 s later, both through Wi-Fi
/// that drops everything for `fade.1` every `fade.0` (0: no fades).
fn policed_with_fades(fade: (i64, i64)) -> Vec<u8> {
    let mut tl = tw_scenario::Timeline::new();
    let mut p = ts::Download::bulk(
        [203, 0, 113, 80],
        "video.throttled.example",
        50301,
        tw_scenario::session::EPOCH_NS,
        ts::Limiter::Policer {
            bps: 500e3,
            burst: 32_000,
        },
        2_500_000,
    );
    let mut f = ts::Download::bulk(
        [198, 51, 100, 20],
        "fast.example",
        50302,
        tw_scenario::session::EPOCH_NS + 5 * SECOND,
        ts::Limiter::Link {
            bps: 8e6,
            queue: 24_000,
        },
        20_000_000,
    );
    p.fade = fade;
    f.fade = fade;
    ts::download(&mut tl, &p).unwrap();
    ts::download(&mut tl, &f).unwrap();
    ts::finish(tl).unwrap()
}

#[test]
fn a_policer_on_a_fading_link_is_still_reported() {
    for fade in [(0, 0), (2 * SECOND, 40 * MILLI)] {
        let r = run(&policed_with_fades(fade));
        show(&format!("policed, fades {fade:?}"), &r);
        let ev = throttling(&r);
        assert_eq!(ev.len(), 1, "{fade:?}: {:?}", r.events);
        assert_eq!(ev[0].evidence["mode"], "policer");
        assert_eq!(ev[0].target.as_deref(), Some("video.throttled.example"));
    }
}

#[test]
fn a_fast_flow_whose_early_loss_moments_are_forgotten_still_counts() {
    // the candidate lost 7 times in its first 10 s; a download that ran
    // from 1.5 s to 20 s lost 20 times from 10.2 s on (none near the
    // candidate's moments), so its ring holds only its last 16: the time
    // its moments are known holds none of the candidate's, but it ran
    // through them before (a review found it taken for a flow that ran
    // between them)
    let mut v = policed_beside((1500 * MILLI, 20 * SECOND), &[]);
    let mut c_times = LossTimes::default();
    for i in 0..7 {
        c_times.push(SECOND + 700 * MILLI + i * 1400 * MILLI);
    }
    v[0].measured.loss_times = c_times;
    v[0].measured.loss_events = 7;
    let mut f_times = LossTimes::default();
    for i in 0..20 {
        f_times.push(10_200 * MILLI + i * 450 * MILLI);
    }
    v[1].measured.loss_times = f_times;
    v[1].measured.loss_events = 20;
    assert_eq!(judged(v).len(), 1);
}

#[test]
fn silence_at_a_policed_flows_loss_moments_is_the_links() {
    // A fade long enough to take all a download has in flight leaves it no
    // hole: its retransmission comes after a timeout, in order. What shows
    // is its silence, from its last segment before the fade to the
    // retransmission (look-alike thr_paced_long_fades). The candidate lost
    // at 1.19 s, 3.56 s, ... (see the test above).
    let moments: Vec<i64> = (0..8).map(|i| 1187 + 2375 * i).collect();
    let whole = (SECOND, 20 * SECOND);
    let silent = |from: i64, to: i64| {
        let mut v = policed_beside(whole, &[]);
        let mut g = Gaps::default();
        for t in &moments {
            g.push(
                SECOND + (t + from) * MILLI,
                SECOND + (t + to) * MILLI,
                false,
            );
        }
        v[1].measured.gaps = g;
        v
    };
    // silent from 100 ms before each of the candidate's moments to 170 ms
    // after: the link's
    assert!(judged(silent(-100, 170)).is_empty());
    // as long a silence half-way between them (an application pause, a
    // timeout of its own): contrast
    assert_eq!(judged(silent(1087, 1357)).len(), 1);
    // and without gaps, as before: contrast
    assert_eq!(judged(policed_beside(whole, &[])).len(), 1);
}

#[test]
fn a_silence_in_the_data_is_kept_as_a_gap() {
    // RTT 30 ms: a gap is a silence of 150 ms or more (three minimum RTTs
    // are 90 ms, two smoothed ones 60 ms). It is kept when the next segment
    // tells what it was: one segment, then 15 ms (half the minimum RTT) of
    // silence, is a sender that timed out (a stall); a burst is one that
    // resumed after a pause of its own (idle), as is a silence of a second
    // or more.
    let cfg = ThrottleConfig::default();
    let mut f = ThrottleFlow::new(0, 1000, 1000, Some(30 * MILLI), &cfg);
    let mut seq = 1000u32;
    let mut at = |f: &mut ThrottleFlow, t: Nanos| {
        seq = seq.wrapping_add(1000);
        f.server_data(
            t,
            seq.wrapping_sub(1000),
            1000,
            seq.wrapping_sub(1000),
            &cfg,
        );
    };
    for i in 1..100 {
        at(&mut f, i * MILLI);
    }
    at(&mut f, 240 * MILLI); // 141 ms of silence: no gap
    at(&mut f, 241 * MILLI);
    assert_eq!(f.gaps.n, 0);
    at(&mut f, 500 * MILLI); // 259 ms, then a lone segment
    at(&mut f, 530 * MILLI);
    at(&mut f, 531 * MILLI);
    at(&mut f, 900 * MILLI); // 369 ms, then a burst
    at(&mut f, 901 * MILLI);
    at(&mut f, 2_000 * MILLI); // 1,099 ms, then a lone segment
    at(&mut f, 2_100 * MILLI);
    let (g, n) = f.gaps.relative(0);
    let all = f.gaps.n as usize <= GAPS;
    assert_eq!((n, all), (3, true));
    assert_eq!(
        g[..3],
        [(241, 500, false), (531, 900, true), (901, 2_000, true)]
    );
    // the ring keeps the latest 16
    for i in 0..20 {
        at(&mut f, (3_000 + 300 * i) * MILLI);
    }
    let (g, n) = f.gaps.relative(0);
    let all = f.gaps.n as usize <= GAPS;
    assert_eq!((n, all), (GAPS, false));
    assert_eq!(g[GAPS - 1], (8_100, 8_400, false));
}

#[test]
fn an_applications_pauses_are_neither_shared_nor_contrast() {
    // The candidate lost 8 times (every 2,375 ms from 1,187 ms). A video
    // player beside it fetches a chunk every 3 s and idles 2 s between them
    // (from 500 ms): five of the candidate's moments fall in its pauses,
    // three while it runs, and it lost 20 ms after two of those (a fade).
    // Its pauses say nothing of the link; its two coincidences in three,
    // where chance gives about 1 in 14 each, do: the link's.
    let moments: Vec<i64> = (0..8).map(|i| 1187 + 2375 * i).collect();
    let whole = (SECOND, 20 * SECOND);
    let player = |idle: bool| {
        let mut v = policed_beside(whole, &[5937 + 20, 15437 + 20]);
        let mut g = Gaps::default();
        for j in 0..7 {
            let from = 3000 * j + 500;
            g.push(SECOND + from * MILLI, SECOND + (from + 2000) * MILLI, idle);
        }
        v[1].measured.gaps = g;
        v
    };
    assert!(judged(player(true)).is_empty());
    // taken as stalls (data outstanding, the fade's mark), the pauses made
    // seven coincidences in eight where chance gives three in four each:
    // inconclusive, and the player was contrast (a review found such
    // players turning fades into policers)
    assert_eq!(judged(player(false)).len(), 1);
    // and a player idle at every one of the candidate's moments ran through
    // none of them: no contrast
    let mut v = policed_beside(whole, &[]);
    let mut g = Gaps::default();
    for t in &moments {
        g.push(SECOND + (t - 400) * MILLI, SECOND + (t + 800) * MILLI, true);
    }
    v[1].measured.gaps = g;
    assert!(judged(v).is_empty());
}

#[test]
fn ring_snapshots_join_without_a_break() {
    // snapshots of one ring of 4: (entries pushed so far, the latest kept)
    let snap = |n: u32, kept: &[i64]| (n, kept.to_vec());
    let mut out = Vec::new();
    // nothing overwritten between them, a duplicate snapshot on the way
    let all = join(
        &[
            snap(3, &[1, 2, 3]),
            snap(3, &[1, 2, 3]),
            snap(6, &[3, 4, 5, 6]),
        ],
        &mut out,
    );
    assert!(all);
    assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    // the first snapshot had overflowed: known from its oldest
    out.clear();
    assert!(!join(
        &[snap(6, &[3, 4, 5, 6]), snap(8, &[5, 6, 7, 8])],
        &mut out
    ));
    assert_eq!(out, [3, 4, 5, 6, 7, 8]);
    // entries lost between snapshots: known from after the break
    out.clear();
    assert!(!join(&[snap(2, &[1, 2]), snap(9, &[6, 7, 8, 9])], &mut out));
    assert_eq!(out, [6, 7, 8, 9]);
}

#[test]
fn a_fast_flows_earlier_records_recall_the_moments_its_latest_forgot() {
    // The candidate lost 8 times over 1..20 s. A download over the same
    // time lost 20 ms after each of those moments (the link's fades) and,
    // from 12 s on, 20 more times (congestion): its end record's ring holds
    // only the latest 16, from 13 s on, and alone it is contrast (a flow
    // whose early moments are forgotten counts, see the test above). Its
    // checkpoints at 10 s and 15 s held the earlier ones: together they
    // show the fades.
    let moments: Vec<i64> = (0..8).map(|i| 1187 + 2375 * i).collect();
    let mut times: Vec<i64> = moments.iter().map(|t| t + 20).collect();
    times.extend((0..20).map(|i| 11_000 + 400 * i));
    times.sort_unstable();
    let whole = (SECOND, 20 * SECOND);
    let mut v = policed_beside(whole, &[]);
    let fast = v.remove(1);
    // the download's record at `at` (ms after 1 s): the latest 16 of its
    // losses by then
    let at = |until: i64| {
        let mut r = fast.clone();
        let mut ring = LossTimes::default();
        for t in times.iter().filter(|t| **t <= until) {
            ring.push(SECOND + t * MILLI);
        }
        r.measured.loss_times = ring;
        r.measured.loss_events = ring.n;
        r.span = (SECOND, SECOND + until * MILLI);
        r.stamp = r.span.1;
        r.ready = r.span.1;
        r.last = until >= 19_000;
        r
    };
    let mut alone = v.clone();
    alone.push(at(19_000));
    assert_eq!(judged(alone).len(), 1);
    let mut all = v;
    all.extend([at(9_000), at(14_000), at(19_000)]);
    assert!(judged(all).is_empty());
}

// ---- RTT samples of an idle server, contrast that barely overlaps, link-wide slowdowns, capture drops ----

/// A fast flow whose span only touches the candidate's (it started 100 ms
/// before the candidate's record ends, or ended 100 ms after the candidate
/// began) ran through none of the candidate's loss moments. A fast flow
/// that ran 2.1 s *between* two of them is no contrast
/// (`a_fast_flow_that_ran_between_a_policed_flows_losses_is_no_contrast`),
/// and neither are these. Until 2026-12-06 they were: `loss_moments`
/// returned `None` when the compared time (past the fast flow's first and
/// before its last three RTTs, at least 100 ms each) was empty, and
/// `ran_between` was only set for `Some`, so the less a fast flow
/// overlapped, the surer its contrast (a review found the fades look-alike
/// `thr_paced_fades` reported whenever a download started in the last
/// ~200 ms of one of the paced stream's 10 s records).
#[test]
fn a_fast_flow_that_only_touches_a_policed_flows_span_is_no_contrast() {
    let between = (SECOND + 1300 * MILLI, SECOND + 3400 * MILLI);
    assert!(judged(policed_beside(between, &[])).is_empty());
    // the candidate's span is 1..20 s, its first loss at 2.2 s, its last
    // at 18.8 s; a fast flow that overlaps it by 100 ms at either end
    let mut failures = Vec::new();
    for (what, span) in [
        ("touches its end", (20 * SECOND - 100 * MILLI, 40 * SECOND)),
        ("touches its start", (-20 * SECOND, SECOND + 100 * MILLI)),
    ] {
        for e in judged(policed_beside(span, &[])) {
            failures.push(format!("{what}: {}", e.to_json_line()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A low-rate stream the server paces itself (internet radio at 128
/// kbit/s: 8 KB every 500 ms; a live audio or telemetry feed), over a clean,
/// fast, short path (30 ms RTT, no loss, no queue), while the user downloads
/// something elsewhere. A timestamp echo comes back with the server's next
/// chunk, so every RTT "sample" of the stream is the wait for it, hundreds
/// of milliseconds. Until 2026-12-06 each bin's smallest sample was
/// "queued" against the handshake's 30 ms: a shaper at 128 kbit/s, with the
/// download as contrast. Now such a sample is quiet (the client had
/// acknowledged everything, and nothing arrived before the echo) and shows
/// no queue.
#[test]
fn a_self_paced_low_rate_stream_is_no_shaper() {
    let mut failures = Vec::new();
    for (name, app) in [
        (
            "chunks",
            ts::App::Chunks {
                chunk: 8_000,
                every: 500 * MILLI,
                count: 80,
            },
        ),
        (
            "paced",
            ts::App::Paced {
                bps: 128e3,
                bytes: 640_000,
            },
        ),
    ] {
        let mut tl = tw_scenario::Timeline::new();
        let t0 = tw_scenario::session::EPOCH_NS;
        let mut radio = ts::Download::bulk(
            [203, 0, 113, 80],
            "radio.example",
            50401,
            t0,
            ts::Limiter::Link {
                bps: 20e6,
                queue: 64_000,
            },
            0,
        );
        radio.app = app;
        let dl = ts::Download::bulk(
            [198, 51, 100, 20],
            "fast.example",
            50402,
            t0 + 5 * SECOND,
            ts::Limiter::Link {
                bps: 8e6,
                queue: 24_000,
            },
            20_000_000,
        );
        ts::download(&mut tl, &radio).unwrap();
        ts::download(&mut tl, &dl).unwrap();
        let r = run(&ts::finish(tl).unwrap());
        show(name, &r);
        for e in throttling(&r) {
            failures.push(format!("{name}: {}", e.to_json_line()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// When the link itself slows down (a congested or degraded access link, a
/// move to a tethered phone), a flow to a target with a fast history is not
/// reported by `history` while a flow to another target, at the same time,
/// is held at the very same rate (the link's). Until 2026-12-06 `history`
/// needed no contrast and fired. (`targeted` was fixed on 2026-12-05 not to
/// count a fast download from before a drop of the link's own rate;
/// `history` is that same comparison across a drop.)
#[test]
fn history_ignores_other_targets_just_as_slow_at_the_same_time() {
    // the shaped candidate, three earlier fast downloads of its own target,
    // and another target's flow beside it, shaped like it or not
    let with_other = |other_limited: Option<(Mode, f64)>, other_too: bool| {
        let mut v = shaped_and_fast((SECOND, 20 * SECOND), 0);
        let mut all = Vec::new();
        for i in 0..3 {
            let mut h = v[1].clone();
            h.target = v[0].target.clone();
            h.flow.server_ip = v[0].flow.server_ip;
            h.flow.client_port = 51000 + i;
            h.span = (
                -400 * SECOND + i64::from(i) * 60 * SECOND,
                -390 * SECOND + i64::from(i) * 60 * SECOND,
            );
            h.stamp = h.span.1;
            h.ready = h.span.1;
            h.rate_bps = 8e6;
            all.push(h);
        }
        // the other target's flow at the candidate's 500 kbit/s
        let other = &mut v[1];
        other.rate_bps = 500e3;
        other.limited = other_limited;
        other.measured.rtt_bins_queued = if other_limited.is_some() { 18 } else { 0 };
        if !other_too {
            v.truncate(1);
        }
        all.extend(v);
        judged(all)
    };
    let lines = |ev: &[Event]| {
        ev.iter()
            .map(Event::to_json_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    // held at the same 500 kbit/s behind a queue of its own: the link is
    // slow for everyone, and the target's fast history says nothing
    let ev = with_other(Some((Mode::Shaper, 500e3)), true);
    assert!(ev.is_empty(), "{}", lines(&ev));
    // nothing else ran at the time: `history` as before, and the evidence
    // says that no other target showed the link's rate
    let ev = with_other(None, false);
    assert_eq!(ev.len(), 1, "{}", lines(&ev));
    assert_eq!(ev[0].evidence["rules"], json!(["history"]));
    assert_eq!(
        ev[0].evidence["history"]["other_targets_at_the_same_time"],
        json!(0)
    );
    // a stream at that rate that is not held by anything (it paces itself:
    // no queue, no losses) says nothing of the link: `history` still fires
    let ev = with_other(None, true);
    assert_eq!(ev.len(), 1, "{}", lines(&ev));
    assert_eq!(ev[0].evidence["rules"], json!(["history"]));
    assert_eq!(
        ev[0].evidence["history"]["other_targets_at_the_same_time"],
        json!(1)
    );
}

/// Throttling events, which the judge builds rather than `Ctx::emit`, carry
/// `capture_lossy` and half the confidence while the capture drops packets,
/// as every other signature's (docs/events.md). Until 2026-12-06 they never
/// did. Kernel drops are exactly what makes holes in a flow at the vantage
/// point.
#[test]
fn throttling_events_are_marked_while_the_capture_drops() {
    let pcap = ts::thr_policed_targeted().unwrap();
    let cfg = DetectorsConfig::default();
    let mut e = Engine::new(
        EngineConfig {
            detectors: cfg.clone(),
            ..EngineConfig::default()
        },
        default_detectors(&cfg),
    );
    for (i, (ts, f, wire)) in frames(&pcap).into_iter().enumerate() {
        // the kernel drops a packet every 200 frames: lossy all along
        e.note_kernel_drops(i as u64 / 200 + 1);
        e.process_frame(crate::decode::linktype::RAW, &f, ts, wire);
    }
    e.finish();
    let mut events = Vec::new();
    e.drain_events(|ev| events.push(ev));
    let thr: Vec<&Event> = events
        .iter()
        .filter(|e| e.signature == Signature::Throttling)
        .collect();
    assert_eq!(thr.len(), 1, "{events:?}");
    assert_eq!(
        thr[0].evidence.get("capture_lossy"),
        Some(&Value::Bool(true)),
        "{}",
        thr[0].to_json_line()
    );
    assert!(thr[0].confidence <= 0.5, "{}", thr[0].confidence);
}

/// The judge marks an event by its record's packet time: lossy when a
/// kernel drop was noted at most `capture_loss_window` before it (the rule
/// of `Ctx::emit`), whenever and in whatever order the workers hand the
/// drops in.
#[test]
fn capture_drops_mark_the_events_of_records_stamped_within_their_window() {
    let window = 60 * SECOND;
    let stamp = policed_beside((SECOND, 20 * SECOND), &[])[0].stamp;
    for (drops, lossy) in [
        (vec![], false),
        (vec![stamp], true),
        (vec![stamp - window], true),
        (vec![stamp - window - MILLI], false),
        (vec![stamp + MILLI], false),
        // out of order (two workers), the earlier one covers the record
        (vec![stamp + 5 * SECOND, stamp - 30 * SECOND], true),
        (vec![stamp + 5 * SECOND, stamp - 90 * SECOND], false),
    ] {
        let mut j = Judge::new(ThrottleConfig::default(), Default::default());
        for d in &drops {
            j.note_capture_drop(*d, window);
        }
        for r in policed_beside((SECOND, 20 * SECOND), &[]) {
            j.submit(steady(r));
        }
        let mut out = Vec::new();
        j.advance(60 * SECOND, &mut out);
        assert_eq!(out.len(), 1, "{drops:?}");
        let e = &out[0];
        assert_eq!(
            e.evidence.get("capture_lossy") == Some(&Value::Bool(true)),
            lossy,
            "{drops:?}: {}",
            e.to_json_line()
        );
        let full = if lossy {
            2.0 * e.confidence
        } else {
            e.confidence
        };
        assert!((full - 0.6).abs() < 1e-9, "{drops:?}: {}", e.confidence);
    }
}

/// `history` is silenced by "another target held just as low", coded as
/// any other target's rate-limited flow below `contrast_factor` (4) times
/// the candidate's limit, with no lower bound. A flow that its own server
/// caps far below the candidate (a file host's free tier at 50 kbit/s, a
/// slow peer, a CDN's per-connection cap; a plateau with losses, so
/// `limited`) says nothing of the link's rate at the candidate's 500
/// kbit/s: a link slowed down to 500 kbit/s and a link at 100 Mbit/s both
/// carry it. Yet it stops `history` for a target that ran 16 times faster
/// before, at the same time. (Compare
/// `history_ignores_other_targets_just_as_slow_at_the_same_time`, whose
/// other flow is held at the candidate's very rate.)
#[test]
fn history_is_not_silenced_by_a_far_slower_capped_flow() {
    let mut v = shaped_and_fast((SECOND, 20 * SECOND), 0);
    let mut all = Vec::new();
    for i in 0..3 {
        let mut h = v[1].clone();
        h.target = v[0].target.clone();
        h.flow.server_ip = v[0].flow.server_ip;
        h.flow.client_port = 51000 + i;
        h.span = (
            -400 * SECOND + i64::from(i) * 60 * SECOND,
            -390 * SECOND + i64::from(i) * 60 * SECOND,
        );
        h.stamp = h.span.1;
        h.ready = h.span.1;
        h.rate_bps = 8e6;
        all.push(h);
    }
    // another target's flow at 50 kbit/s, held there by its server
    let other = &mut v[1];
    other.rate_bps = 50e3;
    other.limited = Some((Mode::Policer, 50e3));
    all.extend(v);
    let ev = judged(all);
    assert_eq!(
        ev.len(),
        1,
        "history silenced by a flow 10x slower than the candidate: {:?}",
        ev.iter().map(Event::to_json_line).collect::<Vec<_>>()
    );
}
