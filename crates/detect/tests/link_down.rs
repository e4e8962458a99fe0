//! Link-down periods of a live capture (`tw_detect::linkdown`) and the
//! detectors that judge silences and stalls: `blackhole` leaves a flow
//! whose silence overlaps a period unreported, the throttling judge leaves
//! a record whose span overlaps one unjudged; both count them
//! (`Stats::link_down_excused`). The same traffic without a period, or with
//! one that ended before the flow, or began well after it, is reported as
//! before (what every replay does: it has no periods).
//!
//! A period explains only a flow under way when the link went down (review,
//! session lp: the tests `review_*` below, each of which failed before): not
//! one the capture saw begin after the period began (an interface down from
//! the start, a retry after the link came back), not a silence that had
//! lasted 10 s already (`LINK_DOWN_DARK`), and a flapping link's periods are
//! not merged over the time between them.
//!
//! The engine is fed as the live pipeline feeds it: frames in time order,
//! packet time moved on by ticks every 100 ms when no frame comes (an idle
//! capture), and the link-down log handed in when the capture's poll would
//! have noticed the change, so flows end by their idle timeouts while the
//! link is down, as they do live.

mod common;

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
    // (also past the last change, so that late changes are applied)
    let end = (now + 200 * S).max(changes.iter().map(|c| c.at() + 10 * S).max().unwrap_or(0));
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
    let frames = policed();
    let run = |changes: &[Change]| {
        let mut engines = common::workers_sharing_judge(2);
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

/// A ClientHello at `t0` on a connection handshaken from `start`, resent at
/// each of `resends` (s after it), nothing from the server. Returns the
/// frames and `t0`.
fn hello_resent(port: u16, start: i64, resends: &[i64]) -> (Vec<Frame>, i64) {
    let mut tl = Timeline::new();
    let c = Endpoint::client(format!("192.0.2.10:{port}").parse().unwrap());
    let s = Endpoint::server("203.0.113.50:443".parse().unwrap());
    let mut s = TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000));
    let t = s.handshake(&mut tl, start, RTT);
    let mut rng = Rng::new(1);
    let ch = tls::ClientHello::new("news.example", &mut rng).build();
    let t0 = s.client_send(&mut tl, t + MS, &ch);
    for k in resends {
        s.retransmit_client_last(&mut tl, t0 + k * S);
    }
    (timeline_frames(tl), t0)
}

/// Review (session lp), L2: the ClientHello went unanswered for 15 s on a
/// working link (resent at 1, 3, 7 and 15 s: the kernel's backoff), then
/// the volunteer closed the laptop's lid: the carrier goes 0.8 s after the
/// last resend. 15 s of silence before the link went anywhere is a block
/// (no Wi-Fi stays associated and dark that long before the driver reports
/// the carrier lost); it was excused, the period beginning within the 2 s
/// margin after the flow's last packet.
#[test]
fn review_silence_long_before_the_carrier_loss_is_reported() {
    let (frames, t0) = hello_resent(54101, EPOCH_NS, &[1, 3, 7, 15]);
    let (_, ev) = live(frames.clone(), &[]);
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "no period: reported"
    );
    let (e, ev) = live(frames, &outage(t0 + 15_800 * MS, t0 + 120 * S));
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "15 s of silence before the link dropped: excused {}",
        excused(&e, LinkDownExcused::Blackhole)
    );
    assert_eq!(excused(&e, LinkDownExcused::Blackhole), 0);
}

/// The look-alike the rule must keep: a Wi-Fi station that stays
/// associated and dark for a while, the client resending at 1, 3 and 7 s,
/// the carrier lost 8.5 s after the request. Excused.
#[test]
fn a_carrier_lost_within_the_dark_time_still_excuses() {
    let (frames, t0) = hello_resent(54105, EPOCH_NS, &[1, 3, 7]);
    let (_, ev) = live(frames.clone(), &[]);
    assert_eq!(of(&ev, Signature::Blackhole).len(), 1, "no period");
    let (e, ev) = live(frames, &outage(t0 + 8_500 * MS, t0 + 120 * S));
    assert!(of(&ev, Signature::Blackhole).is_empty(), "{ev:?}");
    assert_eq!(excused(&e, LinkDownExcused::Blackhole), 1);
}

/// Review (session lp), L3: Wi-Fi back at `up`; the browser retries its
/// tabs at once: a new connection's handshake completes 100-180 ms later
/// (the server's SYN/ACK proves the link is up), its ClientHello is dropped
/// and resent at 1 and 3 s. The capture's poll notices the link up only at
/// up + 500 ms, so the recorded period ends after the request: the block
/// was excused.
#[test]
fn review_a_retry_right_after_the_link_came_back_is_reported() {
    let up = EPOCH_NS + 30 * S;
    let (frames, _) = hello_resent(54102, up + 100 * MS, &[1, 3]);
    let (_, ev) = live(frames.clone(), &[]);
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "no period: reported"
    );
    let (e, ev) = live(frames, &outage(EPOCH_NS, up));
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "the flow ran wholly on a working link: excused {}",
        excused(&e, LinkDownExcused::Blackhole)
    );
}

/// Review (session lp), L1: a laptop capturing on wlan0 and eth0 (or a
/// gateway with an unused port): eth0 has no carrier from the start and
/// never gets one. Its period opened at start and stayed open: every
/// blackhole on wlan0 (which carries everything) was excused for the
/// daemon's whole life. A flow whose handshake was captured after the
/// period opened cannot have gone through the interface that is down
/// (nothing is captured there). (The daemon no longer opens a period for
/// an interface down at start at all: `live.rs`; this is the engine's own
/// rule, which also covers an idle second interface going down later.)
#[test]
fn review_an_interface_down_from_the_start_hides_no_block() {
    let (frames, _) = hello_resent(54103, EPOCH_NS + 3_600 * S, &[1, 3]);
    let (_, ev) = live(frames.clone(), &[]);
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "no period: reported"
    );
    let (e, ev) = live(
        frames,
        &[Change::Down {
            at: EPOCH_NS + 3_600 * S - 10 * MS,
            since: EPOCH_NS,
        }],
    );
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "eth0 down since start hides wlan0's block: excused {}",
        excused(&e, LinkDownExcused::Blackhole)
    );
}

/// The same for throttling: the policed fixture, with a second interface
/// down since before the capture began, was never judged.
#[test]
fn review_an_interface_down_from_the_start_hides_no_throttling() {
    let frames = policed();
    let first = frames[0].0;
    let json = |ev: &[Event]| ev.iter().map(|e| e.to_json_line()).collect::<Vec<_>>();
    let want = json(&live(frames.clone(), &[]).1);
    let (e, ev) = live(
        frames,
        &[Change::Down {
            at: first - 10 * MS,
            since: first - 600 * S,
        }],
    );
    assert_eq!(
        of(&ev, Signature::Throttling).len(),
        1,
        "excused {}",
        excused(&e, LinkDownExcused::Throttling)
    );
    assert_eq!(json(&ev), want, "judged as without the period");
}

/// Review (session lp), L4: flaky Wi-Fi: a one-second drop 100 s before
/// the flow, then (after the block, on a now-working link) eight more drops
/// a minute apart. The ninth period merged the oldest two into
/// [t-100 s, t+61 s], which covered the blocked flow's silence (ClientHello
/// resent at 1, 3, 7 s: its connection times out 600 s later, after the
/// merge). Without the later drops it is reported.
#[test]
fn review_flapping_merge_does_not_swallow_a_block_between_drops() {
    let (frames, t0) = hello_resent(54104, EPOCH_NS + 200 * S, &[1, 3, 7]);
    let mut changes = outage(t0 - 100 * S, t0 - 99 * S);
    let (_, ev) = live(frames.clone(), &changes);
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "one old drop: reported"
    );
    for k in 1..=8 {
        changes.extend(outage(t0 + k * 60 * S, t0 + k * 60 * S + S));
    }
    let (e, ev) = live(frames, &changes);
    assert_eq!(
        of(&ev, Signature::Blackhole).len(),
        1,
        "merged periods: excused {}",
        excused(&e, LinkDownExcused::Blackhole)
    );
}

/// A flapping link: the drop that silenced a flow, followed by 30 more a
/// few seconds apart before the flow is judged (600 s after its last
/// packet), still excuses it: the log keeps the latest
/// `LINK_DOWN_PERIODS` (32), each with its own start. (A link that drops
/// more often than that in the ten minutes a flow may wait to be judged
/// forgets the oldest: those flows are reported.)
#[test]
fn a_drop_among_many_flaps_still_excuses_its_flow() {
    let (frames, t0) = hello_resent(54106, EPOCH_NS, &[1, 3]);
    let mut changes = outage(t0 + 3_500 * MS, t0 + 10 * S);
    for k in 0..30 {
        let d = t0 + 20 * S + k * 5 * S;
        changes.extend(outage(d, d + 2 * S));
    }
    let (e, ev) = live(frames, &changes);
    assert!(of(&ev, Signature::Blackhole).is_empty(), "{ev:?}");
    assert_eq!(excused(&e, LinkDownExcused::Blackhole), 1);
}
