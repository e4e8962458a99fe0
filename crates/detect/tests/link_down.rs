//! Link-down periods of a live capture (`tw_detect::linkdown`) and the
//! detectors that judge silences and stalls: `blackhole` leaves a flow
//! whose silence overlaps a period unreported, the throttling judge leaves
//! a record whose span overlaps one unjudged; both count them
//! (`Stats::link_down_excused`). The same traffic without a period, or with
//! one that ended before the flow, or began well after it, is reported as
//! before (what every replay does: it has no periods).
//!
//! The engine is fed as the live pipeline feeds it: frames in time order,
//! packet time moved on by ticks every 100 ms when no frame comes (an idle
//! capture), and the link-down log handed in when the capture's poll would
//! have noticed the change, so flows end by their idle timeouts while the
//! link is down, as they do live.

use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::linkdown::LinkDown;
use tw_detect::stats::{LinkDownExcused, Signature};
use tw_detect::{Engine, EngineConfig, Event};
use tw_scenario::session::{TcpSession, Timeline, TsClock, EPOCH_NS};
use tw_scenario::{linktype, tls, Endpoint, Rng};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const RTT: i64 = 80 * MS;

/// A captured frame: time, link type, bytes, length on the wire.
type Frame = (i64, u32, Vec<u8>, u32);

/// A change of the link as a capture's poll notices it: at `at` (packet
/// time), down since `since` (the poll before, which still saw it up), or
/// up again.
#[derive(Debug, Clone, Copy)]
enum Change {
    Down { at: i64, since: i64 },
    Up { at: i64 },
}

impl Change {
    fn at(self) -> i64 {
        match self {
            Change::Down { at, .. } | Change::Up { at } => at,
        }
    }
}

/// A link that went down at `down` (noticed by a 1 s poll: the period
/// starts at the poll before, up to 1 s earlier) and came up at `up`.
fn outage(down: i64, up: i64) -> Vec<Change> {
    vec![
        Change::Down {
            at: down + 700 * MS,
            since: down - 300 * MS,
        },
        Change::Up { at: up + 500 * MS },
    ]
}

/// Frames `(ts, linktype, bytes, wire length)` through one engine with the
/// default detectors, live-like (see the module comment), then 200 s of
/// idle ticks and the end: the engine and its events.
fn live(frames: Vec<Frame>, changes: &[Change]) -> (Engine, Vec<Event>) {
    let cfg = DetectorsConfig::default();
    let mut e = Engine::new(
        EngineConfig {
            detectors: cfg.clone(),
            ..EngineConfig::default()
        },
        default_detectors(&cfg),
    );
    let mut log = LinkDown::default();
    let mut pending: Vec<Change> = changes.to_vec();
    pending.sort_by_key(|c| c.at());
    let mut pending = pending.into_iter().peekable();
    let mut apply_until = |e: &mut Engine, t: i64| {
        while let Some(c) = pending.next_if(|c| c.at() <= t) {
            match c {
                Change::Down { since, .. } => log.went_down(since),
                Change::Up { at } => log.came_up(at),
            }
            e.note_link_down(&log);
        }
    };
    let mut now = frames.first().map_or(EPOCH_NS, |f| f.0);
    for (ts, lt, data, wire) in &frames {
        // an idle capture ticks every 100 ms
        while now + 100 * MS < *ts {
            now += 100 * MS;
            apply_until(&mut e, now);
            e.tick(now);
        }
        apply_until(&mut e, *ts);
        e.process_frame(*lt, data, *ts, *wire);
        now = now.max(*ts);
    }
    let end = now + 200 * S;
    while now < end {
        now += 100 * MS;
        apply_until(&mut e, now);
        e.tick(now);
    }
    e.finish();
    let mut out = vec![];
    e.drain_events(|ev| {
        eprintln!("event: {}", ev.to_json_line());
        out.push(ev);
    });
    (e, out)
}

fn timeline_frames(tl: Timeline) -> Vec<Frame> {
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    entries
        .iter()
        .map(|e| {
            let mut f = Vec::new();
            e.frame_into(&mut f, linktype::ETHERNET).unwrap();
            let n = f.len() as u32;
            (e.ts_ns, linktype::ETHERNET, f, n)
        })
        .collect()
}

/// The frames of a classic pcap (microseconds).
fn pcap_frames(pcap: &[u8]) -> Vec<Frame> {
    let u = |o: usize| u32::from_le_bytes(pcap[o..o + 4].try_into().unwrap());
    let lt = u(20);
    let mut off = 24;
    let mut v = vec![];
    while off + 16 <= pcap.len() {
        let (sec, usec, incl, orig) = (u(off), u(off + 4), u(off + 8) as usize, u(off + 12));
        let ts = i64::from(sec) * S + i64::from(usec) * 1000;
        v.push((ts, lt, pcap[off + 16..off + 16 + incl].to_vec(), orig));
        off += 16 + incl;
    }
    v
}

fn of(ev: &[Event], sig: Signature) -> Vec<&Event> {
    ev.iter().filter(|e| e.signature == sig).collect()
}

fn excused(e: &Engine, sig: LinkDownExcused) -> u64 {
    e.stats().link_down_excused[sig.idx()]
}

/// The link goes dark just after a ClientHello (the Wi-Fi still
/// associated, so the client's retransmissions at 1 and 3 s are captured on
/// their way out, and nothing comes back), then the carrier goes (at
/// `carrier_lost`, relative to the ClientHello) and stays gone until the
/// client has long given up. Returns the frames and when the ClientHello
/// went. The only flow on the link: without a period, the trap reported at
/// 0.6 (`link_handshakes_meanwhile: false`).
fn dark_after_hello() -> (Vec<Frame>, i64) {
    let mut tl = Timeline::new();
    let c = Endpoint::client("192.0.2.10:54001".parse().unwrap());
    let s = Endpoint::server("203.0.113.50:443".parse().unwrap());
    let mut s = TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000));
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let mut rng = Rng::new(1);
    let ch = tls::ClientHello::new("news.example", &mut rng).build();
    let t0 = s.client_send(&mut tl, t + MS, &ch);
    for k in [1, 3] {
        s.retransmit_client_last(&mut tl, t0 + k * S);
    }
    (timeline_frames(tl), t0)
}

#[test]
fn blackhole_silence_during_a_link_down_period_is_not_reported() {
    // without a period: the trap, reported at 0.6
    let (frames, t0) = dark_after_hello();
    let (e, ev) = live(frames.clone(), &[]);
    let bh = of(&ev, Signature::Blackhole);
    assert_eq!(bh.len(), 1, "no period: reported as before");
    assert_eq!(bh[0].confidence, 0.6);
    assert_eq!(excused(&e, LinkDownExcused::Blackhole), 0);

    // the carrier goes 0.5 s after the last retransmission, back 60 s later
    let (e, ev) = live(frames.clone(), &outage(t0 + 3500 * MS, t0 + 60 * S));
    assert!(of(&ev, Signature::Blackhole).is_empty(), "{ev:?}");
    assert_eq!(excused(&e, LinkDownExcused::Blackhole), 1);
    assert_eq!(e.stats().events[Signature::Blackhole.idx()], 0);

    // still down when the flow is judged (the period open)
    let (e, ev) = live(
        frames.clone(),
        &[Change::Down {
            at: t0 + 4200 * MS,
            since: t0 + 3200 * MS,
        }],
    );
    assert!(of(&ev, Signature::Blackhole).is_empty(), "{ev:?}");
    assert_eq!(excused(&e, LinkDownExcused::Blackhole), 1);

    // a short drop in the middle of the silence, the link back at once
    let (_, ev) = live(frames.clone(), &outage(t0 + 2 * S, t0 + 2200 * MS));
    assert!(of(&ev, Signature::Blackhole).is_empty(), "{ev:?}");
}

#[test]
fn blackhole_periods_outside_the_silence_change_nothing() {
    let (frames, t0) = dark_after_hello();
    let want = live(frames.clone(), &[]).1;
    let json = |ev: &[Event]| ev.iter().map(|e| e.to_json_line()).collect::<Vec<_>>();
    for (what, changes) in [
        // ended before the request (while the handshake ran, even)
        (
            "before the request",
            outage(t0 - 60 * S, t0 - 100 * MS - 500 * MS),
        ),
        // began well after the client's last retransmission (beyond the
        // margin, counting the poll's second)
        ("after the flow", outage(t0 + 7 * S, t0 + 30 * S)),
    ] {
        let (e, ev) = live(frames.clone(), &changes);
        assert_eq!(json(&ev), json(&want), "{what}");
        assert_eq!(excused(&e, LinkDownExcused::Blackhole), 0, "{what}");
    }
}

/// The throttling fixture `thr_policed_targeted`: a name policed at
/// 150 kbit/s from 0 s for about 25 s while two other servers run fast.
fn policed() -> Vec<Frame> {
    pcap_frames(&tw_scenario::throttle_scenarios::thr_policed_targeted().unwrap())
}

#[test]
fn throttling_spanning_a_link_down_period_is_not_judged() {
    let frames = policed();
    let (e, ev) = live(frames.clone(), &[]);
    assert_eq!(
        of(&ev, Signature::Throttling).len(),
        1,
        "no period: reported"
    );
    assert_eq!(excused(&e, LinkDownExcused::Throttling), 0);

    // the link down for 2 s in the middle of the policed download
    let (e, ev) = live(
        frames.clone(),
        &outage(EPOCH_NS + 12 * S, EPOCH_NS + 14 * S),
    );
    assert!(of(&ev, Signature::Throttling).is_empty(), "{ev:?}");
    assert_eq!(
        excused(&e, LinkDownExcused::Throttling),
        1,
        "counted once per flow, not per record"
    );
    assert_eq!(e.stats().events[Signature::Throttling.idx()], 0);
}

#[test]
fn throttling_with_a_period_before_the_download_is_judged_as_before() {
    let frames = policed();
    let json = |ev: &[Event]| ev.iter().map(|e| e.to_json_line()).collect::<Vec<_>>();
    let want = json(&live(frames.clone(), &[]).1);
    let (e, ev) = live(frames, &outage(EPOCH_NS - 120 * S, EPOCH_NS - 60 * S));
    assert_eq!(json(&ev), want);
    assert_eq!(excused(&e, LinkDownExcused::Throttling), 0);
}

/// Several workers share one throttling judge: the periods reach it
/// through every worker's sync, and the count through the worker that
/// took the decision.
#[test]
fn a_shared_judge_gets_the_periods_too() {
    use tw_detect::detectors::throttle::SharedJudge;
    let frames = policed();
    let cfg = DetectorsConfig::default();
    let run = |changes: &[Change]| {
        let judge = SharedJudge::new(cfg.throttle.clone(), cfg.watch.clone(), 2);
        let mut engines: Vec<Engine> = (0..2)
            .map(|w| {
                let mut e = Engine::new(
                    EngineConfig {
                        detectors: cfg.clone(),
                        ..EngineConfig::default()
                    },
                    default_detectors(&cfg),
                );
                e.share_judge(judge.clone(), w);
                e
            })
            .collect();
        let mut log = LinkDown::default();
        for c in changes {
            match *c {
                Change::Down { since, .. } => log.went_down(since),
                Change::Up { at } => log.came_up(at),
            }
        }
        // every flow on worker 0; worker 1 only ticks along
        let mut last = 0;
        let mut ev = vec![];
        for (i, (ts, lt, data, wire)) in frames.iter().enumerate() {
            for e in engines.iter_mut() {
                e.note_link_down(&log);
            }
            engines[0].process_frame(*lt, data, *ts, *wire);
            engines[1].tick(*ts);
            if i % 64 == 0 {
                for e in engines.iter_mut() {
                    e.drain_events(|x| ev.push(x));
                }
            }
            last = *ts;
        }
        for e in engines.iter_mut() {
            e.tick(last + 200 * S);
            e.finish();
            e.drain_events(|x| ev.push(x));
        }
        let excused: u64 = engines
            .iter()
            .map(|e| e.stats().link_down_excused[LinkDownExcused::Throttling.idx()])
            .sum();
        let n = ev
            .iter()
            .filter(|e| e.signature == Signature::Throttling)
            .count();
        (n, excused)
    };
    assert_eq!(run(&[]), (1, 0));
    assert_eq!(run(&outage(EPOCH_NS + 12 * S, EPOCH_NS + 14 * S)), (0, 1));
}
