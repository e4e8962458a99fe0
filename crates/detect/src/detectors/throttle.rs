//! `throttling`: traffic to some targets held at a low rate by a policer
//! (drops above a fixed rate) or a shaper (queues above it), while the rest
//! of the link runs fast.
//!
//! Two halves:
//!
//! - **Per flow** ([`ThrottleFlow`], updated by [`ThrottleDetector`]): the
//!   vantage point is usually the downloading client, so the detector
//!   measures what the *receiver* sees of the server's data: the delivered
//!   rate in fixed bins, sequence holes and retransmissions grouped into loss
//!   events, the client's duplicate ACKs, RTT samples from TCP timestamps,
//!   the client's receive window and application idle gaps. A flow that has
//!   transferred for at least `min_duration` yields a [`RateRecord`] at
//!   checkpoints and at its end; the record says whether the flow *looks*
//!   rate-limited (`mode = policer | shaper`), and at what limit.
//! - **Across flows** ([`Judge`]): a rate-limited look alone is also what a
//!   slow access link looks like, so an event needs *contrast*: another
//!   target on the same link running at least `contrast_factor` times faster
//!   at the same time (strongest: the same server address with another SNI),
//!   or the target's own history being `history_factor` times faster.
//!
//! Comparison flows go to other servers, hence to other workers; the judge
//! therefore sees records from every worker and decides in a canonical
//! order (record time, then flow) once every worker has passed that time
//! (see [`Judge::advance`]), so 1 and N workers emit identical events.
//! Rules and traps: `docs/signatures/throttling.md`.

use crate::decode::{Packet, Transport};
use crate::detectors::{Ctx, Detector, ServerState};
use crate::event::{Event, EventFlow};
use crate::flow::{seq_gt, seq_lt, Dir, Flow};
use crate::stats::{FlowOutcome, FlowProto, Signature, Stats};
use crate::time::{Nanos, MILLI, SECOND};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::num::{NonZeroI64, NonZeroU64};

/// Settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleConfig {
    /// Run this detector (`false`: [`super::default_detectors`] does not
    /// build it).
    pub enabled: bool,
    /// A flow must deliver data for at least this long to be judged
    /// (shorter flows cannot show a rate plateau).
    pub min_duration: Nanos,
    /// Width of a rate bin.
    pub bin: Nanos,
    /// How often a long flow reports its rate while it runs.
    pub checkpoint: Nanos,
    /// A pause of the server this long with everything acknowledged is the
    /// application being idle, not the network.
    pub idle_gap: Nanos,
    /// Loss events (bursts) a policer signature needs.
    pub min_loss_events: u32,
    /// Share of rate bins within ±40% of the median a plateau needs.
    pub plateau_share: f64,
    /// A comparison flow must be this many times faster than the limit.
    pub contrast_factor: f64,
    /// How long after a candidate's record the judge decides (so that the
    /// records of flows that ran at the same time have arrived; comparison
    /// flows must overlap the candidate's span itself, and be fast while
    /// both ran).
    pub contrast_slack: Nanos,
    /// The target's history must be this many times faster than the limit.
    pub history_factor: f64,
    /// Flows a history needs before it is trusted.
    pub history_min_flows: u32,
    /// A history not refreshed for this long is forgotten.
    pub history_max_age: Nanos,
    /// Targets with a history kept (bounded memory).
    pub history_targets: usize,
    /// A flow counts as a comparison (or as history) only after delivering
    /// this many bytes.
    pub reference_min_bytes: u64,
    /// Records the judge holds before admitting them (beyond it the oldest
    /// go: only a worker that stopped reporting progress fills it).
    pub max_pending: usize,
    /// Comparison records the judge keeps (beyond it the oldest go first).
    pub max_refs: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            enabled: true,
            min_duration: 10 * SECOND,
            bin: 500 * MILLI,
            checkpoint: 10 * SECOND,
            idle_gap: SECOND,
            min_loss_events: 3,
            plateau_share: 0.7,
            contrast_factor: 4.0,
            contrast_slack: 10 * SECOND,
            history_factor: 10.0,
            history_min_flows: 3,
            history_max_age: 7 * 86_400 * SECOND,
            history_targets: 1024,
            reference_min_bytes: 256 * 1024,
            max_pending: 65_536,
            max_refs: 8192,
        }
    }
}

/// How the limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Drops above the rate: loss bursts, no queueing delay before them.
    Policer,
    /// Queues above the rate: the RTT inflates.
    Shaper,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Policer => "policer",
            Mode::Shaper => "shaper",
        }
    }
}

/// Client TSvals remembered for RTT samples.
const RTT_RING: usize = 32;

/// Rate-bin histogram: 4 buckets per octave of bytes per bin.
const BUCKETS: usize = 128;

/// The ECN field's "congestion experienced" codepoint.
const ECN_CE: u8 = 3;

/// Loss-event times kept per flow (the latest).
const LOSS_TIMES: usize = 16;

/// When a flow's latest loss events began: ms of the capture clock
/// (wrapping; flows compared overlap in time, so differences are small).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossTimes {
    at: [u32; LOSS_TIMES],
    /// Events pushed (the latest `LOSS_TIMES` are kept).
    n: u32,
}

impl LossTimes {
    fn push(&mut self, t: Nanos) {
        if let Some(slot) = self.at.get_mut(self.n as usize % LOSS_TIMES) {
            *slot = (t / MILLI) as u32;
        }
        self.n = self.n.saturating_add(1);
    }

    /// `events` loss events spread evenly over `span` (tests).
    #[cfg(test)]
    pub(crate) fn evenly(events: u32, span: (Nanos, Nanos)) -> LossTimes {
        let mut l = LossTimes::default();
        let step = (span.1 - span.0) / Nanos::from(events.max(1));
        for i in 0..events {
            l.push(span.0 + step * Nanos::from(i) + step / 2);
        }
        l
    }

    /// The kept times in ms relative to `base` (oldest first), and how many
    /// there are (whether they are all of the flow's events is for
    /// [`join`] to say, over a flow's records).
    fn relative(&self, base: Nanos) -> ([i64; LOSS_TIMES], usize) {
        let kept = (self.n as usize).min(LOSS_TIMES);
        let b = (base / MILLI) as u32;
        let mut out = [0i64; LOSS_TIMES];
        for (o, v) in out.iter_mut().zip(self.at.iter().take(kept)) {
            *o = i64::from(v.wrapping_sub(b) as i32);
        }
        if let Some(s) = out.get_mut(..kept) {
            s.sort_unstable();
        }
        (out, kept)
    }
}

/// Gaps in a flow's data kept per flow (the latest).
const GAPS: usize = 16;

/// The bit of a gap's length that marks it idle rather than a stall. A
/// stall is the mark of a fade that took all a sender had in flight: it
/// timed out and resumed with one segment, then waited a round trip (half
/// the minimum RTT, at least 5 ms, before the next segment). A gap after
/// which the sender resumed with a burst is the application pausing, and
/// one of `idle_gap` (1 s) or more is taken for idle too (a timeout backed
/// off that far after a fade, or a pause: either way the flow was not
/// running then, and shows nothing of the link).
const IDLE_GAP: u16 = 0x8000;

/// A flow near whose own losses (or stalls) lies more than this share of
/// its running time shares a moment with any other flow by chance: no
/// witness of the link's losses (see [`witnessed`]).
const MAX_WITNESS_SHARE: f64 = 0.75;

/// [`ThrottleFlow::ts_hz`] of a server whose timestamp clock is not known.
const NO_CLOCK: u16 = u16::MAX;

/// The latest long gaps in a flow's data (see [`ThrottleFlow::gap_threshold`]):
/// when each began (its last segment before, ms of the capture clock,
/// wrapping), how long it lasted (ms, saturating at 32.767 s) and whether
/// it looked like the application pausing (see [`IDLE_GAP`]). A fade long
/// enough to take everything a download has in flight leaves no hole: its
/// retransmission, after a timeout, arrives in order; what shows is the
/// silence (see *Loss moments* in `docs/signatures/throttling.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gaps {
    at: [u32; GAPS],
    /// Length in ms, with [`IDLE_GAP`] set for an idle gap.
    len_ms: [u16; GAPS],
    /// Gaps pushed (the latest `GAPS` are kept).
    n: u32,
}

impl Gaps {
    fn push(&mut self, from: Nanos, to: Nanos, idle: bool) {
        let i = self.n as usize % GAPS;
        if let (Some(a), Some(l)) = (self.at.get_mut(i), self.len_ms.get_mut(i)) {
            *a = (from / MILLI) as u32;
            let len = u16::try_from((to - from) / MILLI).map_or(!IDLE_GAP, |l| l.min(!IDLE_GAP));
            *l = if idle { len | IDLE_GAP } else { len };
        }
        self.n = self.n.saturating_add(1);
    }

    /// The kept gaps as (from, to, idle) in ms relative to `base` (oldest
    /// first), and how many there are (whether they are all of the flow's
    /// gaps is for [`join`] to say, as for [`LossTimes::relative`]).
    fn relative(&self, base: Nanos) -> ([Gap; GAPS], usize) {
        let kept = (self.n as usize).min(GAPS);
        let b = (base / MILLI) as u32;
        let mut out = [(0i64, 0i64, false); GAPS];
        for ((o, a), l) in out
            .iter_mut()
            .zip(self.at.iter())
            .zip(self.len_ms.iter())
            .take(kept)
        {
            let from = i64::from(a.wrapping_sub(b) as i32);
            *o = (from, from + i64::from(l & !IDLE_GAP), l & IDLE_GAP != 0);
        }
        if let Some(s) = out.get_mut(..kept) {
            s.sort_unstable();
        }
        (out, kept)
    }
}

/// Rate bins kept per flow (the latest: 14 s of 500 ms bins, more than the
/// 10 s between a flow's records, so that its records together hold every
/// bin).
const RATE_BINS: usize = 28;

/// A flow's delivered bytes per rate bin, the latest 28 of them (each as
/// its histogram bucket, ±12%), and the bin still open: what the judge
/// compares over the time two flows ran together (`RateBins`). Bin `k`
/// spans `start + k * bin` to the next; the first holds the bytes that came
/// before the flow was measured too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rates {
    /// Bin `k` at `at[k % RATE_BINS]`.
    at: [u8; RATE_BINS],
    /// Bins closed (the open bin's index).
    n: u32,
    /// Bytes of the open bin so far.
    open: u64,
}

impl Rates {
    /// `bps` over `span` in bins of `bin`, every bin kept (tests: the first
    /// `RATE_BINS` closed, the rest of the span the open bin's).
    #[cfg(test)]
    pub(crate) fn steady(bps: f64, span: (Nanos, Nanos), bin: Nanos) -> Rates {
        let bytes = |t: Nanos| (bps / 8.0 * t as f64 / SECOND as f64) as u64;
        let n = ((span.1 - span.0) / bin.max(1)).clamp(0, RATE_BINS as i64);
        Rates {
            at: [bucket(bytes(bin)) as u8; RATE_BINS],
            n: n as u32,
            open: bytes(span.1 - span.0 - n * bin),
        }
    }

    /// The kept closed bins (oldest first), and how many there are.
    fn relative(&self) -> ([u8; RATE_BINS], usize) {
        let kept = (self.n as usize).min(RATE_BINS);
        let mut out = [0u8; RATE_BINS];
        let first = self.n as usize - kept;
        for (i, o) in out.iter_mut().take(kept).enumerate() {
            *o = self.at.get((first + i) % RATE_BINS).copied().unwrap_or(0);
        }
        (out, kept)
    }
}

fn bucket(bytes: u64) -> usize {
    if bytes == 0 {
        return 0;
    }
    let e = 63 - bytes.leading_zeros() as usize;
    let q = if e >= 2 {
        ((bytes >> (e - 2)) & 3) as usize
    } else {
        0
    };
    (4 * e + q).min(BUCKETS - 1)
}

/// The middle of a bucket, in bytes.
fn bucket_value(i: usize) -> f64 {
    let (e, q) = (i / 4, i % 4);
    (4.0 + q as f64 + 0.5) * 2f64.powi(e as i32 - 2)
}

/// Per-flow measurement of the server's data as the client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleFlow {
    /// First server payload.
    start: Nanos,
    /// Latest server payload.
    last_data: Nanos,
    /// Highest server sequence number seen (end of data).
    high: u32,
    /// Bytes delivered (advance of `high`), counted from the first payload.
    delivered: u64,
    /// Current bin.
    bin_start: Nanos,
    bin_bytes: u64,
    bin_partial: bool,
    /// Rate bins after the flow settled (first loss, or 2 s in).
    hist: [u16; BUCKETS],
    bins: u32,
    /// Bins without any data that were not application idle (stalls).
    stall_bins: u32,
    /// Bytes per bin, the latest (see [`Rates`]; the bin's index is where
    /// `bin_start` is).
    rate_bins: [u8; RATE_BINS],
    /// Sequence holes (data beyond the next expected byte).
    holes: u32,
    /// The latest hole, not counted yet: (seen at, bytes delivered then,
    /// its first missing byte). Filled within half the minimum RTT it was
    /// reordering (a retransmission takes at least a round trip); later,
    /// or when another hole opens, it counts as a hole and a loss.
    pending_hole: Option<(Nanos, u64, u32)>,
    /// Retransmitted segments (data below the highest byte seen).
    retransmits: u32,
    /// Losses grouped into events (one per burst).
    loss_events: u32,
    /// Congestion marks (ECN: server data marked CE by a router's AQM, or
    /// client ACKs echoing one with ECE) grouped into events as losses
    /// are: a link that marks instead of dropping holds a flow without a
    /// loss (see [`Measured::ce_events`]).
    ce_events: u8,
    /// When the latest mark event began (ms after `start`, wrapping).
    ce_start_ms: u16,
    /// When the latest loss events began.
    loss_times: LossTimes,
    /// The latest long gaps in the data.
    gaps: Gaps,
    /// The latest gap's start (ms after `start`; `u32::MAX`: none), kept
    /// until the segment after the one that ended it (`last_data`) tells a
    /// timeout from a pause.
    pending_gap: u32,
    first_loss: Option<(Nanos, u64)>,
    last_loss: Option<(Nanos, u64)>,
    /// Application idle time (`idle`, in ms) as of the first and the last
    /// loss: the rate between them counts only the time the server had data.
    loss_idle_ms: [u32; 2],
    /// Client duplicate ACKs.
    dupacks: u32,
    last_client_ack: Option<u32>,
    /// Client TSvals not echoed yet, with when each was first seen (RTT
    /// samples: a client TSval to the server's echo of exactly that value).
    /// (TSval, time since `start` in 10 µs units).
    rtt_pending: [(u32, u32); RTT_RING],
    rtt_pending_n: u8,
    /// The pending TSvals (bit `i` for `rtt_pending[i]`) that the client
    /// sent while it had acknowledged every byte the server had sent, with
    /// no server data since: the server had nothing in flight (see
    /// [`ThrottleFlow::server_echo`]).
    rtt_quiet: u32,
    rtt_min: Option<Nanos>,
    /// Meaningful while `rtt_min` is set (both are set together; see
    /// [`ThrottleFlow::rtt_smoothed`]: an `Option` here would cost 8 bytes).
    rtt_smoothed: Nanos,
    rtt_samples: u32,
    /// Smallest RTT sample in the current bin, and in the last bin that had one.
    bin_rtt: Option<NonZeroI64>,
    /// The current bin had a quiet sample (an echo with nothing in flight
    /// before it: no queue ahead of it).
    bin_quiet: bool,
    last_bin_rtt: Option<NonZeroI64>,
    /// Bins with an RTT sample, and those whose smallest sample shows a
    /// queue (twice the minimum and 20 ms more): a queue that never drains
    /// is a shaper; single late samples (timeouts) do not move a bin's minimum.
    rtt_bins: u32,
    rtt_bins_queued: u32,
    /// Bins whose smallest RTT shows a queue that the server's timestamps
    /// place on the way to the server (see [`ThrottleFlow::ack_path_queue`]):
    /// not counted in `rtt_bins_queued`.
    rtt_bins_ack_path: u16,
    /// The server's TCP timestamp clock in ticks per second: 0 while not
    /// known yet, [`NO_CLOCK`] when its ticks fit no common rate (see
    /// [`ThrottleFlow::server_clock`]).
    ts_hz: u16,
    /// The clock's anchor: the server TSval of the first SYN/ACK, or else
    /// the one that ended the flow's first RTT sample, and when it came (10
    /// µs units since `start`, before it for the SYN/ACK; `i32::MAX`: none
    /// yet). See [`ThrottleFlow::anchor_at_handshake`] and
    /// [`ThrottleFlow::first_split`].
    ts_first: (u32, i32),
    /// Smallest one-way delays of the RTT samples (10 µs units, each up
    /// to an unknown constant), towards the client and towards the server;
    /// `i32::MAX` while none.
    owd_min: [i32; 2],
    /// The same two of the current bin's smallest RTT sample (`i32::MAX`:
    /// not known).
    bin_owd: [i32; 2],
    /// Sum and count of the last bin's smallest RTT at the start of loss events.
    pre_loss_rtt_sum: Nanos,
    pre_loss_rtt_n: u32,
    /// Application idle time and gaps.
    idle: Nanos,
    idle_gaps: u32,
    /// Smallest receive window the client announced (bytes, scaled; a
    /// zero window is counted apart).
    rwnd_min: Option<NonZeroU64>,
    zero_windows: u32,
    /// Next checkpoint.
    next_checkpoint: Nanos,
    /// The final record went out (at a FIN or RST).
    final_sent: bool,
    /// The flow was counted as a judged download (at its first record).
    counted: bool,
    /// The client's link-layer address, from its first segment measured
    /// (all zero: not known). See [`RateRecord::client_link`].
    client_link: [u8; 6],
}

impl ThrottleFlow {
    fn new(
        start: Nanos,
        high: u32,
        delivered: u64,
        rtt: Option<Nanos>,
        cfg: &ThrottleConfig,
    ) -> Self {
        ThrottleFlow {
            start,
            last_data: start,
            high,
            delivered,
            bin_start: start,
            bin_bytes: 0,
            bin_partial: false,
            hist: [0; BUCKETS],
            bins: 0,
            stall_bins: 0,
            rate_bins: [0; RATE_BINS],
            holes: 0,
            pending_hole: None,
            retransmits: 0,
            loss_events: 0,
            ce_events: 0,
            ce_start_ms: 0,
            loss_times: LossTimes::default(),
            gaps: Gaps::default(),
            pending_gap: u32::MAX,
            first_loss: None,
            last_loss: None,
            loss_idle_ms: [0, 0],
            dupacks: 0,
            last_client_ack: None,
            rtt_pending: [(0, 0); RTT_RING],
            rtt_pending_n: 0,
            rtt_quiet: 0,
            rtt_min: rtt,
            rtt_smoothed: rtt.unwrap_or(0),
            rtt_samples: 0,
            bin_rtt: None,
            bin_quiet: false,
            last_bin_rtt: None,
            rtt_bins: 0,
            rtt_bins_queued: 0,
            rtt_bins_ack_path: 0,
            ts_hz: 0,
            ts_first: (0, i32::MAX),
            owd_min: [i32::MAX; 2],
            bin_owd: [i32::MAX; 2],
            pre_loss_rtt_sum: 0,
            pre_loss_rtt_n: 0,
            idle: 0,
            idle_gaps: 0,
            rwnd_min: None,
            zero_windows: 0,
            next_checkpoint: start + cfg.min_duration,
            final_sent: false,
            counted: false,
            client_link: [0; 6],
        }
    }

    fn settled(&self, t: Nanos) -> bool {
        self.first_loss.is_some() || t >= self.start + 2 * SECOND
    }

    /// The open bin's index (bins since `start`).
    fn bin_index(&self, bin: Nanos) -> u32 {
        u32::try_from((self.bin_start - self.start) / bin.max(1)).unwrap_or(u32::MAX)
    }

    /// Closes bins up to `t` (exclusive of the bin containing `t`).
    fn roll(&mut self, t: Nanos, bin: Nanos, idle: bool) {
        let mut n = 0;
        while t >= self.bin_start + bin {
            // the bin's bytes for the judge (the first bin's are all the
            // flow delivered so far: those before it was measured too)
            let k = self.bin_index(bin);
            let bytes = match (n, k) {
                (0, 0) => self.delivered,
                (0, _) => self.bin_bytes,
                _ => 0,
            };
            if let Some(slot) = self.rate_bins.get_mut(k as usize % RATE_BINS) {
                *slot = bucket(bytes) as u8;
            }
            if n == 0 {
                if let Some(r) = self.bin_rtt.take().map(NonZeroI64::get) {
                    self.rtt_bins += 1;
                    // a quiet sample met no queue: the bin shows none
                    if !self.bin_quiet && self.rtt_min.is_some_and(|m| queueing(r, m)) {
                        if self.ack_path_queue(r) {
                            self.rtt_bins_ack_path = self.rtt_bins_ack_path.saturating_add(1);
                        } else {
                            self.rtt_bins_queued += 1;
                        }
                    }
                    self.last_bin_rtt = NonZeroI64::new(r);
                }
                self.bin_quiet = false;
                self.bin_owd = [i32::MAX; 2];
                if !self.bin_partial && self.settled(self.bin_start) {
                    if self.bin_bytes > 0 {
                        let i = bucket(self.bin_bytes);
                        if self.hist.get(i).is_some_and(|h| *h == u16::MAX) {
                            // a flow of many hours: halve every bucket (the
                            // shape stays, the counts stay bounded)
                            for h in self.hist.iter_mut() {
                                *h /= 2;
                            }
                        }
                        if let Some(h) = self.hist.get_mut(i) {
                            *h = h.saturating_add(1);
                        }
                        self.bins += 1;
                    } else {
                        self.stall_bins += 1;
                    }
                }
            } else if !idle && self.settled(self.bin_start) {
                self.stall_bins += 1;
            }
            self.bin_start += bin;
            self.bin_bytes = 0;
            self.bin_partial = false;
            n += 1;
            if n > 64 {
                // a long pause: jump
                let skip = (t - self.bin_start) / bin;
                self.bin_start += skip * bin;
            }
        }
    }

    /// The guard that groups losses (and congestion marks) into events.
    fn event_guard(&self) -> Nanos {
        self.rtt_min.map_or(50 * MILLI, |r| (2 * r).max(20 * MILLI))
    }

    /// A congestion mark (CE on the server's data, ECE on the client's
    /// ACK): a new event when the current one began more than the guard
    /// before (a sender reacts once per round trip; a receiver echoes ECE
    /// until the sender's CWR, so marks come in runs).
    fn congestion_mark(&mut self, now: Nanos) {
        let ms = ((now - self.start).max(0) / MILLI) as u16;
        let since = Nanos::from(ms.wrapping_sub(self.ce_start_ms)) * MILLI;
        if self.ce_events == 0 || since > self.event_guard() {
            self.ce_events = self.ce_events.saturating_add(1);
            self.ce_start_ms = ms;
        }
    }

    fn loss(&mut self, now: Nanos, delivered: u64) {
        let guard = self.event_guard();
        let new_event = self.last_loss.is_none_or(|(t, _)| now - t > guard);
        if new_event {
            self.loss_events += 1;
            self.loss_times.push(now);
            if let Some(r) = self.last_bin_rtt.map(NonZeroI64::get) {
                self.pre_loss_rtt_sum += r;
                self.pre_loss_rtt_n += 1;
            }
        }
        if self.first_loss.is_none() {
            self.first_loss = Some((now, delivered));
            self.loss_idle_ms[0] = self.idle_ms();
        }
        self.last_loss = Some((now, delivered));
        self.loss_idle_ms[1] = self.idle_ms();
    }

    /// Application idle time so far, in ms (saturating).
    fn idle_ms(&self) -> u32 {
        u32::try_from(self.idle / MILLI).unwrap_or(u32::MAX)
    }

    /// A silence in the server's data this long is a gap worth keeping (for
    /// the comparison of loss moments): two smoothed round trips and three
    /// minimum ones (a sender in slow start after a timeout pauses about
    /// one round trip between its flights), at least 150 ms; 200 ms without
    /// RTT samples. Four smoothed round trips missed the gaps of a download
    /// whose RTT the fades themselves had inflated.
    fn gap_threshold(&self) -> Nanos {
        match (self.rtt_min, self.rtt_smoothed()) {
            (Some(m), Some(s)) => (2 * s).max(3 * m).max(150 * MILLI),
            _ => 200 * MILLI,
        }
    }

    /// How long a hole may stay open and still be reordering.
    fn reorder_window(&self) -> Option<Nanos> {
        self.rtt_min.map(|r| r / 2)
    }

    /// Counts the pending hole as a hole and a loss.
    fn commit_hole(&mut self) {
        if let Some((at, delivered, _)) = self.pending_hole.take() {
            self.holes += 1;
            self.loss(at, delivered);
        }
    }

    fn server_data(
        &mut self,
        now: Nanos,
        seq: u32,
        len: u32,
        client_acked: u32,
        cfg: &ThrottleConfig,
    ) {
        let end = seq.wrapping_add(len);
        if let (Some((at, _, _)), Some(w)) = (self.pending_hole, self.reorder_window()) {
            if now - at > w {
                self.commit_hole();
            }
        }
        let gap = now - self.last_data;
        // Application idle: a long pause with everything acknowledged, and
        // the server resumes with new data.
        let idle = gap >= cfg.idle_gap && !seq_lt(client_acked, self.high) && seq == self.high;
        if self.pending_gap != u32::MAX {
            // A sender that timed out sends one segment, then waits a round
            // trip for its ACK (its window is one segment); one resuming
            // after a pause of its own sends a window's worth at once.
            let (from, to) = (
                self.start + Nanos::from(self.pending_gap) * MILLI,
                self.last_data,
            );
            let lone = gap >= self.rtt_min.map_or(5 * MILLI, |r| (r / 2).max(5 * MILLI));
            self.gaps.push(from, to, to - from >= cfg.idle_gap || !lone);
            self.pending_gap = u32::MAX;
        }
        if gap >= self.gap_threshold() {
            self.pending_gap =
                u32::try_from((self.last_data - self.start) / MILLI).unwrap_or(u32::MAX - 1);
        }
        if idle {
            self.idle = self.idle.saturating_add(gap);
            self.idle_gaps += 1;
            self.bin_partial = true;
            // the RTT samples in flight span the pause
            self.rtt_pending_n = 0;
            self.rtt_quiet = 0;
        }
        self.roll(now, cfg.bin, idle);
        if idle {
            self.bin_partial = true;
        }
        if seq_gt(seq, self.high) {
            self.commit_hole();
            if self.reorder_window().is_some() {
                self.pending_hole = Some((now, self.delivered, self.high));
            } else {
                self.holes += 1;
                self.loss(now, self.delivered);
            }
            self.high = end;
            self.delivered += u64::from(len);
            self.bin_bytes += u64::from(len);
        } else if seq_lt(seq, self.high) {
            let fills = self
                .pending_hole
                .is_some_and(|(_, _, first)| !seq_gt(seq, first) && seq_gt(end, first));
            if fills {
                // the missing bytes came late, not again: reordering
                self.pending_hole = None;
            } else {
                self.retransmits += 1;
                if self.holes == 0 && self.pending_hole.is_none() {
                    // lost after the vantage point (gateway vantage): the
                    // retransmission is the only sign
                    self.loss(now, self.delivered);
                }
            }
            if seq_gt(end, self.high) {
                let more = end.wrapping_sub(self.high);
                self.delivered += u64::from(more);
                self.bin_bytes += u64::from(more);
                self.high = end;
            }
        } else {
            self.delivered += u64::from(len);
            self.bin_bytes += u64::from(len);
            self.high = end;
        }
        self.last_data = now;
        // the server had data in flight when the TSvals pending now were
        // sent: their echoes measure the path
        self.rtt_quiet = 0;
    }

    /// A client TSval seen at `now` (kept if new). `quiet`: the segment
    /// acknowledged every byte of the server's seen so far.
    fn client_tsval(&mut self, v: u32, now: Nanos, quiet: bool) {
        let n = usize::from(self.rtt_pending_n);
        if let Some((x, _)) = n.checked_sub(1).and_then(|i| self.rtt_pending.get(i)) {
            if !seq_gt(v, *x) {
                if quiet && v == *x {
                    // the same TSval again (a coarse client clock), now
                    // acknowledging everything: the server may echo it
                    // only after its pause
                    self.rtt_quiet |= 1 << (n - 1);
                }
                return;
            }
        }
        // 10 µs units from the flow's start (11.9 hours, then no samples)
        let Ok(at) = u32::try_from((now - self.start) / 10_000) else {
            return;
        };
        if n == RTT_RING {
            // Full: the path's RTT spans more TSvals than the ring holds (a
            // fast flow whose client ticks every millisecond, on a path
            // longer than RTT_RING ms). Evicting the oldest would drop every
            // value before its echo comes back; keep every other one
            // instead, the oldest (the next to be echoed) included, so the
            // ring spans twice as long (samples get rarer, never impossible).
            let mut quiet_kept = 0;
            for i in 0..RTT_RING / 2 {
                let kept = self.rtt_pending.get(2 * i).copied().unwrap_or_default();
                if let Some(slot) = self.rtt_pending.get_mut(i) {
                    *slot = kept;
                }
                quiet_kept |= ((self.rtt_quiet >> (2 * i)) & 1) << i;
            }
            if let Some(slot) = self.rtt_pending.get_mut(RTT_RING / 2) {
                *slot = (v, at);
            }
            self.rtt_quiet = quiet_kept | (u32::from(quiet) << (RTT_RING / 2));
            self.rtt_pending_n = (RTT_RING / 2 + 1) as u8;
        } else if let Some(slot) = self.rtt_pending.get_mut(n) {
            *slot = (v, at);
            self.rtt_quiet = (self.rtt_quiet & !(1 << n)) | (u32::from(quiet) << n);
            self.rtt_pending_n += 1;
        }
    }

    /// The server echoed `ecr` at `now` (in a data segment, before
    /// [`ThrottleFlow::server_data`] counts it): a sample when it is a
    /// remembered TSval (the echo of an older one, after a loss, tells
    /// nothing). A *quiet* sample, of a TSval sent on a segment that
    /// acknowledged all the server's data seen with no server data between
    /// it and this echo, shows no queue: the server had nothing in flight
    /// (data in flight, or queued ahead of the echo, would have arrived
    /// first). Its length is the path plus however long the server waited
    /// before sending again: nothing for a sender whose window the ACK
    /// opened (a policed flow keeps less than a segment in flight), the
    /// application's pause for one with nothing to send (a stream sending a
    /// chunk every 500 ms gives samples of about 470 ms: a "queue" in every
    /// bin, before 2026-12-06). This is BBR's app-limited mark, seen from
    /// the receiver.
    fn server_echo(&mut self, tsval: u32, ecr: u32, now: Nanos, cfg: &ThrottleConfig) {
        let n = usize::from(self.rtt_pending_n);
        let Some(i) = self.rtt_pending.iter().take(n).position(|(v, _)| *v == ecr) else {
            return;
        };
        let sent = self
            .rtt_pending
            .get(i)
            .map_or(now, |x| self.start + Nanos::from(x.1) * 10_000);
        let quiet = (self.rtt_quiet >> i) & 1 != 0;
        // forget it and everything older
        self.rtt_pending.copy_within(i + 1..n, 0);
        self.rtt_pending_n = (n - i - 1) as u8;
        self.rtt_quiet = self.rtt_quiet.checked_shr(i as u32 + 1).unwrap_or(0);
        let rtt = now - sent;
        let owd = if self.ts_first.1 == i32::MAX {
            self.first_split(tsval, now, rtt, cfg)
        } else {
            self.one_way(tsval, now, rtt)
        };
        self.rtt_sample(rtt, quiet, owd, cfg);
    }

    /// The flow's first RTT sample (of `rtt`, ended by a server segment of
    /// `tsval` at `now`) anchors the server's clock: its delay towards the
    /// client is 0 by definition (the reference of every later one), the
    /// rest of its RTT is its delay towards the server. So the two
    /// smallest delays hold a sample from before the clock's rate is known
    /// (a second later): an upload that starts within that second is then
    /// still placed on the uplink (red-team review, session 28: a backup
    /// that started 0.5 or 1 s into the stream kept it `shaper` +
    /// `targeted`, 0.55).
    fn first_split(
        &mut self,
        tsval: u32,
        now: Nanos,
        rtt: Nanos,
        cfg: &ThrottleConfig,
    ) -> Option<[i32; 2]> {
        if rtt <= 0 || rtt >= cfg.idle_gap {
            return None;
        }
        let at = i32::try_from((now - self.start).max(0) / 10_000).ok()?;
        let up = i32::try_from(rtt / 10_000).ok()?;
        self.ts_first = (tsval, at);
        Some([0, up])
    }

    /// Moves the server clock's anchor from the flow's first RTT sample to
    /// the connection's first SYN/ACK, once the clock's rate is known:
    /// `hs` is that SYN/ACK's TSval, when it came, and the handshake's RTT
    /// (see [`crate::flow::Flow::synack_tsval`]). The handshake is a split
    /// with no queue in either direction: its delay towards the client is
    /// the reference (0), towards the server the whole handshake RTT. The
    /// first RTT sample (after the server's first 16 KB) may already hold a
    /// queue, which its split cannot place: a backup that starts together
    /// with the stream fills every sample (red-team review, session 28:
    /// `shaper` + `targeted`, 0.55). From the handshake on, such a queue is
    /// placed as well: an upload's on the way to the server.
    ///
    /// Only for that case: the first sample's delay towards the client,
    /// measured from the SYN/ACK, must be the handshake's, give or take a
    /// tick of the clock and 2 ms (the first sample's data met no queue;
    /// whatever it holds more is on the way to the server). Else the first
    /// sample stays the anchor, and a queue it holds counts as before. A
    /// shaper's queue in it is then counted, and so is a SYN/ACK stamped by
    /// another clock: a SYN proxy's or a load balancer's, or SYN cookies',
    /// whose TSval is up to 63 ticks old (its low bits hold the options).
    /// (Found in review, session 29: a first version took any SYN/ACK the
    /// first sample did not contradict, up to its whole RTT excess; a
    /// shaper's 80 ms queue from the first segment, behind a SYN cookie
    /// stamped 32 to 56 ms early, then seemed to leave the data's delay
    /// flat, and the stream was no longer reported.) Not for a SYN/ACK more
    /// than a minute before that sample either (clocks drift apart by up to
    /// 50 parts per million, 3 ms a minute).
    fn anchor_at_handshake(&mut self, hs: (u32, Nanos, Nanos), cfg: &ThrottleConfig) {
        let (tsval, at, rtt) = hs;
        let [d0, rtt1] = self.owd_min;
        if self.ts_hz == 0 || self.ts_hz == NO_CLOCK || self.ts_first.1 == i32::MAX || d0 != 0 {
            return;
        }
        let first = self.start + i64::from(self.ts_first.1) * 10_000;
        if rtt <= 0 || rtt >= cfg.idle_gap || at > first || first - at > 60 * SECOND {
            return;
        }
        let (Ok(rel), Ok(up)) = (
            i32::try_from((at - self.start) / 10_000),
            i32::try_from(rtt / 10_000),
        ) else {
            return;
        };
        // the first sample's delay towards the client, from the SYN/ACK's
        let ticks = i64::from(self.ts_first.0.wrapping_sub(tsval) as i32);
        let sent = i64::from(rel) + ticks * 100_000 / i64::from(self.ts_hz);
        let down = i64::from(self.ts_first.1) - sent;
        let tol = 100_000 / i64::from(self.ts_hz) + 200;
        if down.abs() > tol || i64::from(rtt1) - i64::from(up) < -tol {
            return;
        }
        let Ok(down) = i32::try_from(down) else {
            return;
        };
        self.ts_first = (tsval, rel);
        self.owd_min = [down.min(0), (rtt1 - down).min(up)];
        if self.bin_owd[0] != i32::MAX {
            self.bin_owd = [self.bin_owd[0] + down, self.bin_owd[1] - down];
        }
    }

    /// The server's timestamp clock, from the TSval of a data segment that
    /// came at `now`: once the first RTT sample anchored it (its TSval and
    /// time), a segment at least a second later gives the rate, if it is
    /// within a quarter of one that TCP stacks use (1,000 per second:
    /// Linux since 4.13, and what other stacks are known to use; 250 and
    /// 100: older Linux kernels' jiffies).
    /// Anything else (microsecond clocks, middleboxes that rewrite the
    /// option, a TSval that stands still) is [`NO_CLOCK`]: no one-way
    /// delays. A queue that builds in that second biases the rate by its
    /// delay (350 ms over a second: 26%), so the nominal rate is used, not
    /// the measured one. Once it is known, the anchor moves to the
    /// connection's first SYN/ACK, `hs`, if it fits (see
    /// [`ThrottleFlow::anchor_at_handshake`]).
    fn server_clock(
        &mut self,
        tsval: u32,
        now: Nanos,
        hs: Option<(u32, Nanos, Nanos)>,
        cfg: &ThrottleConfig,
    ) {
        if self.ts_hz != 0 {
            return;
        }
        let Ok(at) = i32::try_from((now - self.start).max(0) / 10_000) else {
            self.ts_hz = NO_CLOCK;
            return;
        };
        if self.ts_first.1 == i32::MAX {
            // (anchored by the first RTT sample: [`ThrottleFlow::first_split`])
            return;
        }
        let elapsed = i64::from(at) - i64::from(self.ts_first.1);
        if elapsed < 100_000 {
            return;
        }
        let ticks = f64::from(tsval.wrapping_sub(self.ts_first.0) as i32);
        let hz = ticks * 100_000.0 / elapsed as f64;
        self.ts_hz = [1000u16, 250, 100]
            .into_iter()
            .find(|c| (hz / f64::from(*c) - 1.0).abs() <= 0.25)
            .unwrap_or(NO_CLOCK);
        if let Some(hs) = hs {
            self.anchor_at_handshake(hs, cfg);
        }
    }

    /// An RTT sample `rtt` that ended with a server segment of `tsval` at
    /// `now`, split in its two one-way delays (10 µs units; each up to a
    /// constant of its own, the clocks' offset): towards the client, from
    /// the server's sending (its TSval) to `now`; towards the server, the
    /// rest. `None` while the server's clock is not known.
    fn one_way(&self, tsval: u32, now: Nanos, rtt: Nanos) -> Option<[i32; 2]> {
        if self.ts_hz == 0 || self.ts_hz == NO_CLOCK {
            return None;
        }
        let ticks = i64::from(tsval.wrapping_sub(self.ts_first.0) as i32);
        let sent = i64::from(self.ts_first.1) + ticks * 100_000 / i64::from(self.ts_hz);
        let down = (now - self.start) / 10_000 - sent;
        let up = rtt / 10_000 - down;
        Some([i32::try_from(down).ok()?, i32::try_from(up).ok()?])
    }

    /// Whether a bin whose smallest RTT `r` shows a queue had it on the
    /// way to the server: the client's ACKs waited (an upload filling a
    /// bloated uplink: a cloud backup), not the server's data. A shaper
    /// holds the server's data, and its queue delays each segment from the
    /// moment the server sent it (its TSval) to its arrival. So when the
    /// bin's delay towards the server rose above its smallest by at least
    /// half of the RTT's rise (over the flow's smallest RTT), and its delay
    /// towards the client rose by less than a queue (what [`queueing`]
    /// asks of the RTT: the smallest RTT, and 20 ms), the queue is not a
    /// shaper's. (A shaper's queue behind an upload's shows in the delay
    /// towards the client however long the upload's is.) A queue that
    /// stood all along the flow's samples shows no rise in its direction
    /// (the smallest values hold it): so the two smallest delays must add
    /// up to no queue over the smallest RTT (the handshake's, before any
    /// data queued), or else one of them held a queue all along, and the
    /// bin counts as before (a shaper that held the stream from its first
    /// segments, then an upload: its queue would be taken for the
    /// uplink's). (Found in review, session 27: a stream paced by its server
    /// while a backup filled a 2 Mbit/s uplink's 350 ms buffer was
    /// `shaper` + `targeted`.)
    fn ack_path_queue(&self, r: Nanos) -> bool {
        let Some(min) = self.rtt_min else {
            return false;
        };
        let ([down, up], [dmin, umin]) = (self.bin_owd, self.owd_min);
        if self.ts_hz == 0 || self.ts_hz == NO_CLOCK || [down, up, dmin, umin].contains(&i32::MAX) {
            return false;
        }
        let floors = (i64::from(dmin) + i64::from(umin)) * 10_000;
        if queueing(floors, min) {
            return false;
        }
        let rise = (r - min) / 10_000;
        let d_rise = i64::from(down) - i64::from(dmin);
        let u_rise = i64::from(up) - i64::from(umin);
        2 * u_rise >= rise && d_rise < (min / 10_000).max(2_000)
    }

    fn rtt_sample(&mut self, s: Nanos, quiet: bool, owd: Option<[i32; 2]>, cfg: &ThrottleConfig) {
        if s <= 0 || s >= cfg.idle_gap {
            return;
        }
        self.bin_quiet |= quiet;
        self.rtt_samples += 1;
        if let Some(s) = NonZeroI64::new(s) {
            if self.bin_rtt.is_none_or(|b| s < b) {
                self.bin_owd = owd.unwrap_or([i32::MAX; 2]);
            }
            self.bin_rtt = Some(self.bin_rtt.map_or(s, |b| b.min(s)));
        }
        if let Some([d, u]) = owd {
            self.owd_min = [self.owd_min[0].min(d), self.owd_min[1].min(u)];
        }
        self.rtt_smoothed = match self.rtt_smoothed() {
            None => s,
            Some(r) => r + (s - r) / 8,
        };
        self.rtt_min = Some(self.rtt_min.map_or(s, |m| m.min(s)));
    }

    /// The smoothed RTT, once there is one.
    fn rtt_smoothed(&self) -> Option<Nanos> {
        self.rtt_min.map(|_| self.rtt_smoothed)
    }

    /// The flow's measurement so far, if it ran long enough.
    pub fn measure(&self, cfg: &ThrottleConfig) -> Option<Measured> {
        if self.pending_hole.is_some() {
            // measured now, an open hole counts (a later record may know better)
            let mut c = self.clone();
            c.commit_hole();
            return c.measure(cfg);
        }
        let duration = self.last_data - self.start;
        if duration <= 0 {
            return None;
        }
        let active = (duration - self.idle).max(1);
        let avg_bps = self.delivered as f64 * 8.0 * SECOND as f64 / active as f64;
        let bin_s = cfg.bin as f64 / SECOND as f64;
        let hist_total: u32 = self.hist.iter().map(|c| u32::from(*c)).sum();
        let (median_bps, p10_bps, p90_bps, plateau) = if hist_total > 0 {
            let total = f64::from(hist_total);
            let mut acc = 0u32;
            let (mut p10, mut p50, mut p90) = (None, None, None);
            for (i, c) in self.hist.iter().enumerate() {
                acc += u32::from(*c);
                let f = f64::from(acc) / total;
                if p10.is_none() && f >= 0.1 {
                    p10 = Some(i);
                }
                if p50.is_none() && f >= 0.5 {
                    p50 = Some(i);
                }
                if p90.is_none() && f >= 0.9 {
                    p90 = Some(i);
                }
            }
            let m = p50.unwrap_or(0);
            let near: u32 = self
                .hist
                .iter()
                .enumerate()
                .filter(|(i, _)| i.abs_diff(m) <= 2)
                .map(|(_, c)| u32::from(*c))
                .sum();
            let bps = |i: Option<usize>| bucket_value(i.unwrap_or(0)) * 8.0 / bin_s;
            (bps(p50), bps(p10), bps(p90), f64::from(near) / total)
        } else {
            (avg_bps, avg_bps, avg_bps, 0.0)
        };
        // goodput between the first and the last loss, over the time the
        // server had data (application pauses between them left out)
        let paused = Nanos::from(self.loss_idle_ms[1].saturating_sub(self.loss_idle_ms[0])) * MILLI;
        let between = |t0: Nanos, t1: Nanos| t1 - t0 - paused;
        let flach_bps = match (self.first_loss, self.last_loss) {
            (Some((t0, d0)), Some((t1, d1))) if between(t0, t1) >= 2 * SECOND && d1 > d0 => {
                Some((d1 - d0) as f64 * 8.0 * SECOND as f64 / between(t0, t1) as f64)
            }
            _ => None,
        };
        let pre_loss_rtt = (self.pre_loss_rtt_n > 0)
            .then(|| self.pre_loss_rtt_sum / Nanos::from(self.pre_loss_rtt_n));
        Some(Measured {
            duration,
            delivered: self.delivered,
            avg_bps,
            median_bps,
            p10_bps,
            p90_bps,
            plateau,
            bins: self.bins,
            stall_bins: self.stall_bins,
            flach_bps,
            holes: self.holes,
            retransmits: self.retransmits,
            loss_events: self.loss_events,
            ce_events: u32::from(self.ce_events),
            loss_times: self.loss_times,
            gaps: self.gaps,
            rates: {
                let n = self.bin_index(cfg.bin);
                Rates {
                    at: self.rate_bins,
                    n,
                    open: if n == 0 {
                        self.delivered
                    } else {
                        self.bin_bytes
                    },
                }
            },
            dupacks: self.dupacks,
            rtt_min: self.rtt_min,
            rtt_smoothed: self.rtt_smoothed(),
            rtt_samples: self.rtt_samples,
            rtt_bins: self.rtt_bins,
            rtt_bins_queued: self.rtt_bins_queued,
            rtt_bins_ack_path: u32::from(self.rtt_bins_ack_path),
            pre_loss_rtt,
            idle: self.idle,
            idle_gaps: self.idle_gaps,
            rwnd_min: self.rwnd_min.map(NonZeroU64::get),
            zero_windows: self.zero_windows,
        })
    }
}

/// What a flow showed (the numbers behind a record).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// First to last server payload.
    pub duration: Nanos,
    /// Bytes delivered.
    pub delivered: u64,
    /// Delivered bytes over the active (non-idle) time, bit/s.
    pub avg_bps: f64,
    /// Median / 10th / 90th percentile of the settled rate bins, bit/s.
    pub median_bps: f64,
    /// 10th percentile.
    pub p10_bps: f64,
    /// 90th percentile.
    pub p90_bps: f64,
    /// Share of settled bins within ±40% of the median.
    pub plateau: f64,
    /// Settled bins with data.
    pub bins: u32,
    /// Settled bins without data (stalls: timeouts after losses).
    pub stall_bins: u32,
    /// Rate between the first and the last loss (Flach et al.), bit/s.
    pub flach_bps: Option<f64>,
    /// Sequence holes.
    pub holes: u32,
    /// Retransmitted segments.
    pub retransmits: u32,
    /// Loss events (bursts).
    pub loss_events: u32,
    /// Congestion-mark events (ECN CE or ECE runs, grouped as losses are).
    /// They never make a flow a candidate (a policer drops, it does not
    /// mark), but a flow held at a plateau with as many mark events as a
    /// policed one has loss events is held by the link: the AQM of a
    /// router with ECN (fq_codel, CAKE) in front of a slow link (seventh
    /// red-team review).
    pub ce_events: u32,
    /// When the latest loss events began.
    pub loss_times: LossTimes,
    /// The latest long gaps in the data.
    pub gaps: Gaps,
    /// Bytes per rate bin, the latest.
    pub rates: Rates,
    /// Client duplicate ACKs.
    pub dupacks: u32,
    /// Smallest RTT.
    pub rtt_min: Option<Nanos>,
    /// Smoothed RTT at the end.
    pub rtt_smoothed: Option<Nanos>,
    /// RTT samples taken.
    pub rtt_samples: u32,
    /// Bins with an RTT sample.
    pub rtt_bins: u32,
    /// Bins whose smallest RTT sample shows a queue.
    pub rtt_bins_queued: u32,
    /// Bins whose smallest RTT sample shows a queue on the way to the
    /// server (the client's ACKs held: an upload filling the uplink), by
    /// the server's timestamps; not in `rtt_bins_queued`.
    pub rtt_bins_ack_path: u32,
    /// Mean smallest-RTT-of-the-last-bin at the start of loss events.
    pub pre_loss_rtt: Option<Nanos>,
    /// Application idle time.
    pub idle: Nanos,
    /// Application idle gaps.
    pub idle_gaps: u32,
    /// Smallest client receive window, bytes.
    pub rwnd_min: Option<u64>,
    /// Zero windows from the client.
    pub zero_windows: u32,
}

/// Could `k` losses come from a rate that takes `lambda` on average? A
/// Poisson tail P(X ≥ k) above 1 in 1,000, by its Chernoff bound
/// `e^-λ (eλ/k)^k` (k > λ), which errs toward "plausible".
fn plausible_losses(k: f64, lambda: f64) -> bool {
    k <= lambda || (lambda > 0.0 && -lambda + k * (1.0 + lambda.ln() - k.ln()) >= (1e-3f64).ln())
}

/// P(X >= k) for X the number of successes of independent trials that
/// succeed with the chances `p` (a Poisson binomial; exact, at most 4,096
/// trials, beyond them the rest count as failures).
fn at_least(p: &[f64], k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > p.len().min(4096) {
        // more successes than trials: none such (and `dist` stays at most
        // 4,096 long, however many moments the pooled flows held)
        return 0.0;
    }
    // dist[j]: P(j successes so far), j < k; the mass at k or more is `done`
    let mut dist = vec![0.0f64; k];
    dist[0] = 1.0;
    let mut done = 0.0;
    for &q in p.iter().take(4096) {
        let q = q.clamp(0.0, 1.0);
        done += dist[k - 1] * q;
        for j in (1..k).rev() {
            dist[j] = dist[j] * (1.0 - q) + dist[j - 1] * q;
        }
        dist[0] *= 1.0 - q;
    }
    done.min(1.0)
}

/// The target's loss moments against one comparison flow's (see
/// [`Witness::of`]).
#[derive(Debug, Clone, Copy)]
struct Moments {
    /// The target's loss moments in the compared time.
    n: usize,
    /// Those within the tolerance of one of the other flow's.
    k: usize,
    /// The share of the compared time within the tolerance of the other
    /// flow's moments (the chance that a moment coincides).
    p: f64,
    /// The compared time is the whole of the other flow's run within the
    /// target's (no ring had overflowed).
    whole: bool,
}

/// A gap in ms from a base time: (from, to, idle).
type Gap = (i64, i64, bool);

/// A flow's loss moments and gaps in ms from a base time (oldest first),
/// joined over its records: each record's rings hold the latest
/// [`LOSS_TIMES`] loss events and [`GAPS`] gaps of the flow as of the
/// record, so a flow's records together hold more than its latest alone (a
/// download that lost every second overflows its ring in 16 s, and its
/// latest record alone could not say what it did at the start of a 40 s
/// target).
#[derive(Debug, Default)]
struct Trouble {
    losses: Vec<i64>,
    /// Every loss moment since the flow's start is known (else from the
    /// first in `losses`).
    losses_all: bool,
    gaps: Vec<Gap>,
    gaps_all: bool,
}

impl Trouble {
    /// From a flow's records, oldest first.
    fn of(records: &[&Measured], base: Nanos) -> Trouble {
        let mut t = Trouble::default();
        let mut losses: Vec<(u32, Vec<i64>)> = Vec::with_capacity(records.len());
        let mut gaps: Vec<(u32, Vec<Gap>)> = Vec::with_capacity(records.len());
        for m in records {
            let (l, n) = m.loss_times.relative(base);
            losses.push((m.loss_times.n, l.get(..n).unwrap_or_default().to_vec()));
            let (g, n) = m.gaps.relative(base);
            gaps.push((m.gaps.n, g.get(..n).unwrap_or_default().to_vec()));
        }
        losses.sort_by_key(|x| x.0);
        gaps.sort_by_key(|x| x.0);
        t.losses_all = join(&losses, &mut t.losses);
        t.gaps_all = join(&gaps, &mut t.gaps);
        t
    }
}

/// A flow's rate bins joined over its records (see [`Rates`]; as
/// [`Trouble`] joins its loss moments): the closed bins from `first` on
/// without a break, and the bin its latest record had open, up to that
/// record's last payload. With records every 10 s and 14 s of bins in each,
/// every bin since the flow's first record is known (and before it, 14 s:
/// all of a flow judged at 10 s).
#[derive(Debug, Default)]
struct RateBins {
    /// The flow's first payload (bin 0 begins then).
    start: Nanos,
    /// Index of the first bin in `bins`.
    first: u32,
    bins: Vec<u8>,
    /// The latest record's open bin: (index, bytes, last payload).
    open: Option<(u32, u64, Nanos)>,
}

impl RateBins {
    /// From a flow's records (any order).
    fn of(records: &[&RateRecord]) -> RateBins {
        let mut snaps: Vec<(u32, Vec<u8>)> = records
            .iter()
            .map(|r| {
                let (b, n) = r.measured.rates.relative();
                (r.measured.rates.n, b.get(..n).unwrap_or_default().to_vec())
            })
            .collect();
        snaps.sort_by_key(|x| x.0);
        let mut bins = Vec::new();
        join(&snaps, &mut bins);
        let latest = records
            .iter()
            .max_by_key(|r| (r.measured.rates.n, r.span.1, r.measured.rates.open));
        let n = latest.map_or(0, |r| r.measured.rates.n);
        RateBins {
            start: records.first().map_or(0, |r| r.span.0),
            first: n.saturating_sub(u32::try_from(bins.len()).unwrap_or(u32::MAX)),
            bins,
            open: latest.map(|r| (n, r.measured.rates.open, r.span.1)),
        }
    }

    /// Within `w`: the bytes of the bins that had data and the time they
    /// cover (a bin partly in `w` counts in proportion), and the time every
    /// known bin covers (with data or not).
    fn within(&self, w: (Nanos, Nanos), bin: Nanos) -> (f64, Nanos, Nanos) {
        let (mut bytes, mut running, mut known) = (0.0, 0, 0);
        let mut add = |from: Nanos, to: Nanos, b: f64| {
            let o = to.min(w.1) - from.max(w.0);
            if o <= 0 || to <= from {
                return;
            }
            known += o;
            if b > 0.0 {
                bytes += b * o as f64 / (to - from) as f64;
                running += o;
            }
        };
        let at = |k: u32| self.start + Nanos::from(k) * bin;
        for (k, v) in (self.first..).zip(self.bins.iter()) {
            let b = if *v == 0 {
                0.0
            } else {
                bucket_value(usize::from(*v))
            };
            add(at(k), at(k) + bin, b);
        }
        if let Some((k, b, end)) = self.open {
            add(at(k), end, b as f64);
        }
        (bytes, running, known)
    }
}

/// Joins snapshots of one ring (each: entries pushed so far, and the latest
/// of them, oldest first), oldest snapshot first: every entry from the
/// earliest one known without a break. True when that is the first entry
/// ever pushed (nothing was lost between snapshots).
fn join<T: Copy>(snaps: &[(u32, Vec<T>)], out: &mut Vec<T>) -> bool {
    let mut covered = 0u64;
    let mut all = true;
    for (n, kept) in snaps {
        let n = u64::from(*n);
        let first = n.saturating_sub(kept.len() as u64);
        if first > covered {
            // entries between the snapshots were overwritten
            out.clear();
            all = false;
            covered = first;
        }
        let skip = usize::try_from(covered - first).unwrap_or(usize::MAX);
        out.extend(kept.iter().skip(skip).copied());
        covered = covered.max(n);
    }
    all
}

/// Another flow as a witness of the link's trouble over the time it is
/// compared with the target (see [`Witness::of`]); times in ms from the
/// start of the target's span.
#[derive(Debug)]
struct Witness {
    /// The compared time (empty when `hi < lo`).
    lo: i64,
    hi: i64,
    /// Its loss moments and stalls, widened by the tolerance.
    near: Vec<(i64, i64)>,
    /// Its idle time, which shows nothing either way.
    idle: Vec<(i64, i64)>,
    /// The share of its running time within `near` (the chance that a
    /// moment coincides).
    p: f64,
    /// The compared time is the whole of its run within the target's.
    whole: bool,
}

impl Witness {
    /// The target's loss moments against another flow's, over the time both
    /// flows' loss moments are all known (see [`Trouble`]) and the other flow
    /// was past its first and before its last round trips (three of its minimum
    /// RTT, at least 100 ms). A target moment is shared when it falls within
    /// `tol` ms of one of the other flow's loss moments, or of one of its
    /// stalls (a fade that took all it had in flight leaves no hole); one that
    /// falls in an idle gap of the other flow counts neither way, and idle time
    /// is left out of the chance (see [`IDLE_GAP`]). Times are in ms from the
    /// start of `c_span`. When the compared time is empty (the other flow's
    /// running time, past its first and before its last round trips, does not
    /// overlap the target's known moments: it only touched the target's span),
    /// the target had no loss moment while it ran (`moments` gives `n = 0`), and `whole` says
    /// whether that is all that is known. `None` when moments that are not all
    /// known are none at all (an overflowed ring is never empty: not expected).
    fn of(
        c: &Trouble,
        c_span: (Nanos, Nanos),
        r: &Trouble,
        r_span: (Nanos, Nanos),
        r_rtt_min: Option<Nanos>,
        tol: i64,
    ) -> Option<Witness> {
        let base = c_span.0;
        let ms = |t: Nanos| (t - base) / MILLI;
        let (ct, c_all) = (&c.losses[..], c.losses_all);
        let (rt, r_all) = (&r.losses[..], r.losses_all);
        let (rg, g_all) = (&r.gaps[..], r.gaps_all);
        let c_from = if c_all { ms(c_span.0) } else { *ct.first()? };
        // the other flow shows the link's trouble only while it has data in
        // flight: not in its first round trips (the TLS handshake, then slow
        // start) nor its last (a tail loss shows no hole)
        let margin = r_rtt_min.map_or(100, |t| (3 * t / MILLI).max(100));
        let mut r_from = if r_all {
            ms(r_span.0) + margin
        } else {
            *rt.first()?
        };
        if !g_all {
            r_from = r_from.max(rg.first()?.0);
        }
        let (lo, hi) = (c_from.max(r_from), ms(c_span.1).min(ms(r_span.1) - margin));
        let whole = lo <= ms(c_span.0).max(ms(r_span.0) + margin);
        if hi - lo < 1 {
            // The other flow ran through none of the target's moments (a
            // download that ended just after the target began, or began
            // just before it ended): no trial, and, when all is known, a
            // flow that ran *between* (here: beside) the target's losses.
            return Some(Witness {
                lo: 0,
                hi: -1,
                near: Vec::new(),
                idle: Vec::new(),
                p: 0.0,
                whole,
            });
        }
        // the other flow's trouble as time intervals: its loss moments and
        // its stalls, widened by the tolerance; and the time it was idle,
        // which shows nothing either way
        let near = merged(
            rt.iter()
                .map(|f| (f - tol, f + tol))
                .chain(rg.iter().filter(|g| !g.2).map(|g| (g.0 - tol, g.1 + tol))),
            (lo, hi),
        );
        let idle = merged(rg.iter().filter(|g| g.2).map(|g| (g.0, g.1)), (lo, hi));
        let running = (hi - lo) - length(&idle);
        let covered = length(&near) - overlap(&near, &idle);
        Some(Witness {
            lo,
            hi,
            p: if running > 0 {
                covered as f64 / running as f64
            } else {
                1.0
            },
            near,
            idle,
            whole,
        })
    }

    /// The target's loss moments (`c`) against this flow's (see
    /// [`Witness::of`]).
    fn moments(&self, c: &Trouble) -> Moments {
        let inside = || c.losses.iter().copied().filter(|t| self.running(*t));
        Moments {
            n: inside().count(),
            k: inside().filter(|t| self.lost_near(*t)).count(),
            p: self.p,
            whole: self.whole,
        }
    }

    /// The flow was running (compared, not idle) at `t`.
    fn running(&self, t: i64) -> bool {
        (self.lo..=self.hi).contains(&t) && !within(&self.idle, t)
    }

    /// The flow lost (or stalled) within the tolerance of `t`.
    fn lost_near(&self, t: i64) -> bool {
        within(&self.near, t)
    }
}

/// The target's loss moments against every other flow that ran at each
/// of them (see [`witnessed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Witnessed {
    /// The target's moments at which at least one witness ran.
    n: usize,
    /// Those at which one of them lost (or stalled) too.
    k: usize,
    /// The moments at which a fast flow ran, and those a fast flow lost at.
    n_fast: usize,
    k_fast: usize,
    /// The chance that every shared moment would be shared if the flows
    /// lost independently (each moment: that at least one of the flows
    /// running then lost near it by chance).
    chance: f64,
}

/// Counts the target's loss moments (`losses`, ms as in [`Witness`])
/// against the witnesses (each: whether it is a fast flow). A moment at
/// which no witness ran counts neither way.
fn witnessed(losses: &[i64], ws: &[(Witness, bool)]) -> Witnessed {
    let mut w = Witnessed {
        n: 0,
        k: 0,
        n_fast: 0,
        k_fast: 0,
        chance: 1.0,
    };
    for &t in losses {
        // (the chance that none of the flows running at `t` lost near it)
        let (mut ran, mut fast, mut shared, mut shared_fast, mut none) =
            (false, false, false, false, 1.0);
        for (x, is_fast) in ws.iter().filter(|(x, _)| x.running(t)) {
            ran = true;
            fast |= *is_fast;
            none *= 1.0 - x.p.clamp(0.0, 1.0);
            if x.lost_near(t) {
                shared = true;
                shared_fast |= *is_fast;
            }
        }
        if !ran {
            continue;
        }
        w.n += 1;
        w.n_fast += usize::from(fast);
        w.k_fast += usize::from(shared_fast);
        if shared {
            w.k += 1;
            w.chance *= 1.0 - none;
        }
    }
    w
}

fn within(v: &[(i64, i64)], t: i64) -> bool {
    v.iter().any(|(a, b)| (*a..=*b).contains(&t))
}

/// Intervals sorted, merged where they touch, and clipped to `span`.
fn merged(v: impl Iterator<Item = (i64, i64)>, span: (i64, i64)) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = v
        .map(|(a, b)| (a.max(span.0), b.min(span.1)))
        .filter(|(a, b)| b > a)
        .collect();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Total length of disjoint intervals.
fn length(v: &[(i64, i64)]) -> i64 {
    v.iter().map(|(a, b)| b - a).sum()
}

/// Total length of the overlap of two sets of disjoint intervals.
fn overlap(x: &[(i64, i64)], y: &[(i64, i64)]) -> i64 {
    x.iter()
        .flat_map(|(a, b)| y.iter().map(move |(c, d)| (b.min(d) - a.max(c)).max(0)))
        .sum()
}

/// An RTT of `r` over a path whose minimum is `min` shows a standing queue.
fn queueing(r: Nanos, min: Nanos) -> bool {
    r >= 2 * min && r - min >= 20 * MILLI
}

/// Why a measured flow is not a throttling candidate (evidence of the
/// negative, counted for tests and docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCandidate {
    /// Shorter than `min_duration` or too few bins.
    TooShort,
    /// Application idle time or gaps.
    AppLimited,
    /// The client's receive window bounds the rate.
    ReceiveWindow,
    /// The rate varies: no plateau.
    NoPlateau,
    /// Neither loss bursts (policer) nor queueing delay (shaper).
    NoLimitSignature,
}

impl Measured {
    /// The RTT inflation (smoothed over minimum), if known.
    pub fn rtt_inflation(&self) -> Option<f64> {
        match (self.rtt_min, self.rtt_smoothed) {
            (Some(m), Some(s)) if m > 0 => Some(s as f64 / m as f64),
            _ => None,
        }
    }

    /// Classifies the flow: `Ok((mode, limit_bps))` when it looks rate-limited.
    pub fn classify(&self, cfg: &ThrottleConfig) -> Result<(Mode, f64), NotCandidate> {
        if self.duration < cfg.min_duration || self.bins < 10 {
            return Err(NotCandidate::TooShort);
        }
        let active = (self.duration - self.idle).max(1);
        if self.idle_gaps >= 3
            || self.idle.saturating_mul(4) > self.duration
            || active < cfg.min_duration / 2
        {
            return Err(NotCandidate::AppLimited);
        }
        if self.zero_windows > 0 {
            return Err(NotCandidate::ReceiveWindow);
        }
        if let (Some(w), Some(r)) = (self.rwnd_min, self.rtt_min.or(self.rtt_smoothed)) {
            // the window allows at most w bytes per RTT
            let rwnd_bps = w as f64 * 8.0 * SECOND as f64 / r.max(MILLI) as f64;
            if rwnd_bps < 2.0 * self.median_bps {
                return Err(NotCandidate::ReceiveWindow);
            }
        }
        if self.plateau < cfg.plateau_share {
            return Err(NotCandidate::NoPlateau);
        }
        let min = self.rtt_min.unwrap_or(0);
        let shaped = self.rtt_bins >= 8 && 2 * self.rtt_bins_queued >= self.rtt_bins;
        if shaped {
            return Ok((Mode::Shaper, self.median_bps));
        }
        if self.loss_events >= cfg.min_loss_events {
            let flat_rtt = self
                .pre_loss_rtt
                .is_none_or(|r| min == 0 || !queueing(r, min));
            if flat_rtt {
                let limit = self.flach_bps.unwrap_or(self.median_bps);
                return Ok((Mode::Policer, limit));
            }
        }
        Err(NotCandidate::NoLimitSignature)
    }

    fn evidence(&self) -> Value {
        let ms = |n: Option<Nanos>| n.map(|v| (v as f64 / MILLI as f64 * 10.0).round() / 10.0);
        let secs = self.duration as f64 / SECOND as f64;
        let mut v = json!({
            "rate": {
                "duration_s": (secs * 10.0).round() / 10.0,
                "delivered_bytes": self.delivered,
                "average_bps": self.avg_bps.round(),
                "median_bps": self.median_bps.round(),
                "p10_bps": self.p10_bps.round(),
                "p90_bps": self.p90_bps.round(),
                "plateau_share": (self.plateau * 100.0).round() / 100.0,
                "bins": self.bins,
                "stall_bins": self.stall_bins,
                "between_losses_bps": self.flach_bps.map(f64::round),
            },
            "loss": {
                "events": self.loss_events,
                "events_per_minute": (f64::from(self.loss_events) / secs.max(1.0) * 600.0).round() / 10.0,
                "holes": self.holes,
                "retransmissions": self.retransmits,
                "client_dupacks": self.dupacks,
            },
            "rtt": {
                "min_ms": ms(self.rtt_min),
                "smoothed_ms": ms(self.rtt_smoothed),
                "before_losses_ms": ms(self.pre_loss_rtt),
                "samples": self.rtt_samples,
                "bins_with_samples": self.rtt_bins,
                "bins_queued": self.rtt_bins_queued,
                "bins_queued_towards_server": self.rtt_bins_ack_path,
            },
            "idle_s": (self.idle as f64 / SECOND as f64 * 10.0).round() / 10.0,
            "receive_window_min_bytes": self.rwnd_min,
        });
        // (only when there were any: ECN marks on a candidate are the
        // link's AQM, worth a researcher's look)
        if self.ce_events > 0 {
            if let Some(l) = v.get_mut("loss").and_then(Value::as_object_mut) {
                l.insert("congestion_mark_events".into(), json!(self.ce_events));
            }
        }
        v
    }
}

/// A flow's rate, handed from a worker to the judge.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRecord {
    /// Packet time the record describes (its event's time).
    pub stamp: Nanos,
    /// Packet time from which the judge may use it: `stamp` for records
    /// taken while a packet was processed; `stamp + end delay` for records
    /// of flows that ended by timeout or eviction, which are handed in late
    /// (see [`Judge::end_delay`]).
    pub ready: Nanos,
    /// A record taken at the flow's end (else at a checkpoint).
    pub last: bool,
    /// The flow.
    pub flow: EventFlow,
    /// The flow's first packet (tells reused ports apart).
    pub flow_start: Nanos,
    /// SNI or Host.
    pub target: Option<Box<str>>,
    /// Watch-list group index.
    pub group: Option<usize>,
    /// First and last server payload.
    pub span: (Nanos, Nanos),
    /// Typical delivered rate (median settled bin, or the average), bit/s.
    pub rate_bps: f64,
    /// Bytes delivered.
    pub delivered: u64,
    /// `Some` when the flow looks rate-limited: its mode and limit (bit/s).
    pub limited: Option<(Mode, f64)>,
    /// Not `limited`, but held at a plateau with congestion marks (ECN)
    /// where a policed flow has losses: held by a link that marks.
    pub marked: bool,
    /// The measurement (evidence of a candidate).
    pub measured: Measured,
    /// The client's TLS fingerprint (evidence).
    pub hello: Option<Value>,
    /// The link-layer address the client's segments came from, where the
    /// capture carries one ([`Packet::link_src`]): the client's device (and
    /// interface). Flows from another device are no contrast, and their
    /// history is their own: at a gateway every device has its own last
    /// hop (a phone on weak Wi-Fi, a PC on Ethernet).
    pub client_link: Option<[u8; 6]>,
}

impl RateRecord {
    fn order(&self) -> (Nanos, u128, u16, u128, u16, Nanos, bool) {
        (
            self.ready,
            crate::flow::addr_bits(self.flow.server_ip),
            self.flow.server_port,
            crate::flow::addr_bits(self.flow.client_ip),
            self.flow.client_port,
            self.flow_start,
            self.last,
        )
    }
    fn target_key(&self) -> String {
        match &self.target {
            Some(t) => t.to_string(),
            None => self.flow.server_ip.to_string(),
        }
    }
    fn same_flow(&self, o: &RateRecord) -> bool {
        self.flow == o.flow && self.flow_start == o.flow_start
    }
}

/// The detector (per-flow half).
#[derive(Debug, Default)]
pub struct ThrottleDetector {
    cfg: ThrottleConfig,
}

impl ThrottleDetector {
    /// A detector with these settings.
    pub fn new(cfg: ThrottleConfig) -> Self {
        ThrottleDetector { cfg }
    }

    fn record(&self, ctx: &mut Ctx<'_>, flow: &mut Flow, stamp: Nanos, ready: Nanos, last: bool) {
        let Some(t) = flow.ext.thr.as_deref_mut() else {
            return;
        };
        let Some(m) = t.measure(&self.cfg) else {
            return;
        };
        // A rate-limited flow qualifies by its duration (at 100 kbit/s,
        // 256 KiB take 20 s); any other flow only once it delivered enough
        // to say something about the link.
        let class = m.classify(&self.cfg);
        let limited = class.ok();
        let marked = matches!(class, Err(NotCandidate::NoLimitSignature))
            && m.ce_events >= self.cfg.min_loss_events;
        if limited.is_none() && (m.delivered < self.cfg.reference_min_bytes || m.duration < SECOND)
        {
            return;
        }
        let rate_bps = if m.bins >= 4 { m.median_bps } else { m.avg_bps };
        let span = (t.start, t.last_data);
        let client_link = (t.client_link != [0; 6]).then_some(t.client_link);
        let first = !t.counted;
        t.counted = true;
        let target = flow.ext.target.clone();
        let group = target.as_deref().and_then(|t| ctx.watch.group_of(t));
        let slot = group.unwrap_or(ctx.watch.len());
        if first {
            // the denominator of throttling events: counted when the download
            // is first judged, as its event may be, not only when it ends
            if let Some(n) = ctx.stats.downloads.get_mut(slot) {
                *n += 1;
            }
        }
        if last {
            ctx.stats.observe_goodput(slot, rate_bps);
        }
        ctx.rates.push(RateRecord {
            stamp,
            ready,
            last,
            flow: flow.event_flow(),
            flow_start: flow.first_ts,
            target,
            group,
            span,
            rate_bps,
            delivered: m.delivered,
            limited,
            marked,
            measured: m,
            hello: flow.ext.hello.as_ref().map(|h| super::hello_evidence(h)),
            client_link,
        });
    }
}

impl Detector for ThrottleDetector {
    fn name(&self) -> &'static str {
        "throttling"
    }

    fn on_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        _server: &mut ServerState,
    ) {
        if flow.proto != FlowProto::Tcp {
            return;
        }
        let Transport::Tcp(t) = &pkt.l4 else { return };
        let now = pkt.ts;
        if (t.fin() && dir == Dir::ToClient) || t.rst() {
            // the transfer is over (the server's FIN, or a reset; a client
            // that half-closes after its request may still be downloading):
            // its final record, now
            if let Some(tf) = flow.ext.thr.as_deref_mut() {
                if !tf.final_sent {
                    tf.final_sent = true;
                    self.record(ctx, flow, now, ctx.link.now.max(now), true);
                }
            }
        }
        if t.syn() || t.rst() {
            return;
        }
        let cfg = &self.cfg;
        match dir {
            Dir::ToClient => {
                if t.payload_len == 0 {
                    return;
                }
                if flow.ext.thr.is_none() {
                    // Measure only flows that carry some data (bounded memory):
                    // from 16 KB on, counting what came before.
                    let d = &flow.dirs[Dir::ToClient.idx()];
                    if d.payload_bytes < 16 * 1024 {
                        return;
                    }
                    let start = d.first_payload().map_or(now, |(ts, _)| ts);
                    flow.ext.thr = Some(Box::new(ThrottleFlow::new(
                        start,
                        t.seq.wrapping_add(t.payload_len),
                        u64::from(d.payload_bytes),
                        flow.handshake_rtt(),
                        cfg,
                    )));
                    return;
                }
                let acked = flow.dirs[Dir::ToServer.idx()].max_ack;
                let handshake = match (flow.synack_tsval(), flow.synack_ts(), flow.handshake_rtt())
                {
                    (Some(v), Some(at), Some(rtt)) => Some((v, at, rtt)),
                    _ => None,
                };
                let Some(tf) = flow.ext.thr.as_deref_mut() else {
                    return;
                };
                if let Some((v, ecr)) = t.options.timestamps {
                    tf.server_clock(v, now, handshake, cfg);
                    tf.server_echo(v, ecr, now, cfg);
                }
                if pkt.ip.ecn == ECN_CE {
                    tf.congestion_mark(now);
                }
                tf.server_data(now, t.seq, t.payload_len, acked, cfg);
                if now >= tf.next_checkpoint {
                    tf.next_checkpoint = now + cfg.checkpoint;
                    if !tf.final_sent {
                        self.record(ctx, flow, now, ctx.link.now.max(now), false);
                    }
                }
            }
            Dir::ToServer => {
                // most flows carry no measurement: nothing to do for them
                if flow.ext.thr.is_none() {
                    return;
                }
                let scale = match (
                    flow.dirs[Dir::ToServer.idx()].wscale(),
                    flow.dirs[Dir::ToClient.idx()].wscale(),
                ) {
                    (Some(c), Some(_)) => c.min(14),
                    _ => 0,
                };
                let Some(tf) = flow.ext.thr.as_deref_mut() else {
                    return;
                };
                if tf.client_link == [0; 6] {
                    if let Some(a) = pkt.link_src {
                        tf.client_link = a;
                    }
                }
                if let Some((v, _)) = t.options.timestamps {
                    // (a segment that acknowledges every byte seen of the
                    // server's leaves it nothing in flight)
                    let quiet = t.ack_flag() && !seq_lt(t.ack, tf.high);
                    tf.client_tsval(v, now, quiet);
                }
                if t.fin() {
                    return;
                }
                let win = u64::from(t.window) << scale;
                if t.window == 0 {
                    tf.zero_windows += 1;
                } else if let Some(win) = NonZeroU64::new(win) {
                    tf.rwnd_min = Some(tf.rwnd_min.map_or(win, |w| w.min(win)));
                }
                if t.payload_len == 0
                    && t.ack_flag()
                    && t.flags & crate::decode::tcp_flags::ECE != 0
                {
                    // the client echoes a mark made after the vantage point
                    // (a gateway's own AQM towards its LAN)
                    tf.congestion_mark(now);
                }
                if t.payload_len == 0 && t.ack_flag() {
                    if tf.last_client_ack == Some(t.ack) && seq_lt(t.ack, tf.high) {
                        tf.dupacks += 1;
                    }
                    tf.last_client_ack = Some(t.ack);
                }
            }
        }
    }

    fn on_flow_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow: &mut Flow,
        _outcome: FlowOutcome,
        _server: &mut ServerState,
    ) {
        if flow.ext.thr.as_ref().is_some_and(|t| !t.final_sent) {
            let ready = flow.last_ts.saturating_add(ctx.end_delay);
            self.record(ctx, flow, flow.last_ts, ready, true);
        }
    }
}

/// A target's typical rate, from flows that did not look rate-limited.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct History {
    key: String,
    /// Exponentially weighted mean of log2(rate).
    log_rate: f64,
    flows: u32,
    last: Nanos,
}

/// The cross-flow half: receives every worker's [`RateRecord`]s and decides.
#[derive(Debug)]
pub struct Judge {
    cfg: ThrottleConfig,
    watch: crate::watch::WatchList,
    /// Records not admitted yet, sorted descending by order (pop the smallest).
    pending: Vec<RateRecord>,
    sorted: bool,
    /// Admitted records (comparisons), in stamp order.
    refs: VecDeque<RateRecord>,
    /// Rate-limited records waiting for their decision time.
    waiting: VecDeque<RateRecord>,
    history: Vec<History>,
    /// Flows already reported (flow, start, time).
    reported: VecDeque<(EventFlow, Nanos, Nanos)>,
    /// How far decisions have gone.
    watermark: Nanos,
    /// When the capture was dropping packets: (from, to) packet times,
    /// sorted and merged, from each kernel drop a worker noted to the end
    /// of its capture-loss window (see [`Judge::note_capture_drop`]).
    lossy: Vec<(Nanos, Nanos)>,
    /// When the live capture's link was down (see [`Judge::note_link_down`]).
    link_down: crate::linkdown::LinkDown,
    /// Candidates not judged because of `link_down`, not yet taken.
    link_down_excused: u64,
}

/// Capture-loss periods the judge keeps (the latest; each is at least a
/// capture-loss window long, so they cover many hours).
const LOSSY_PERIODS: usize = 1024;

impl Judge {
    /// A judge with these settings and watch list.
    pub fn new(cfg: ThrottleConfig, watch: crate::watch::WatchList) -> Judge {
        Judge {
            cfg,
            watch,
            pending: Vec::new(),
            sorted: true,
            refs: VecDeque::new(),
            waiting: VecDeque::new(),
            history: Vec::new(),
            reported: VecDeque::new(),
            watermark: Nanos::MIN,
            lossy: Vec::new(),
            link_down: crate::linkdown::LinkDown::default(),
            link_down_excused: 0,
        }
    }

    /// A worker noted a rise of the capture's kernel drop counter at packet
    /// time `at`: evidence from `at` to `at + window` may be incomplete, and
    /// a throttling event whose record falls in it is marked as every other
    /// detector's is in `Ctx::emit` (`capture_lossy`, half the confidence).
    /// Judged by the record's packet time, not by when the decision is
    /// taken (10 s and more later), so the mark does not depend on when the
    /// judge runs. Must be handed in before records stamped after `at` are
    /// decided: workers hand it in with their records.
    pub fn note_capture_drop(&mut self, at: Nanos, window: Nanos) {
        let (a, b) = (at, at.saturating_add(window.max(0)));
        let i = self.lossy.partition_point(|p| p.0 <= a);
        self.lossy.insert(i, (a, b));
        // merge, in place, each period into the one before it if they overlap
        self.lossy.dedup_by(|p, before| {
            let overlaps = p.0 <= before.1;
            if overlaps {
                before.1 = before.1.max(p.1);
            }
            overlaps
        });
        if self.lossy.len() > LOSSY_PERIODS {
            self.lossy.drain(..self.lossy.len() - LOSSY_PERIODS);
        }
    }

    /// The live capture's link-down periods as a worker last knew them
    /// (an older copy than the one held changes nothing). A rate-limited
    /// record whose span (first to last server payload, and
    /// [`crate::linkdown::LINK_DOWN_MARGIN`] after) overlaps a period that
    /// began while the download ran (its first payload at most
    /// [`crate::linkdown::LINK_DOWN_POLL`] after the period's start: one
    /// first seen later came through another interface) is not judged: a link that went away stalled the download, its sender timed
    /// out and came back with a burst of losses, and the measurement (rate
    /// bins, loss events, gaps), which covers the flow from its start, no
    /// longer says anything of a path's limit. Kernel drops only mark an
    /// event (`capture_lossy`): they take a few packets from the capture,
    /// not the link from the flow. Periods arrive within about a second of
    /// the link going down, well before a record is decided (10 s after it).
    pub fn note_link_down(&mut self, log: &crate::linkdown::LinkDown) {
        if log.version() > self.link_down.version() {
            self.link_down = *log;
        }
    }

    /// Candidates left unjudged for a link-down period since the last call
    /// (one per flow).
    pub fn take_link_down_excused(&mut self) -> u64 {
        std::mem::take(&mut self.link_down_excused)
    }

    /// Whether the capture was dropping packets at packet time `t`.
    fn capture_lossy(&self, t: Nanos) -> bool {
        self.lossy.iter().any(|(a, b)| (*a..=*b).contains(&t))
    }

    /// Replaces the settings (configuration reload), keeping history.
    pub fn set_config(&mut self, cfg: ThrottleConfig, watch: crate::watch::WatchList) {
        self.cfg = cfg;
        self.watch = watch;
    }

    /// How much later than its last packet a flow-end record is stamped:
    /// flows end (idle timeout) up to this long after their last packet, and
    /// a record must never be stamped before the time it is handed in.
    pub fn end_delay(flows: &crate::flow::FlowConfig) -> Nanos {
        flows
            .tcp_established_timeout
            .max(flows.tcp_closing_timeout)
            .max(flows.tcp_handshake_timeout)
            .max(flows.tcp_unconfirmed_timeout)
            .max(flows.tcp_closed_linger)
            + crate::engine::EXPIRE_EVERY
    }

    /// Hands in a record; false when the queue is full (`max_pending`) and
    /// the record is dropped (the caller counts it).
    pub fn submit(&mut self, r: RateRecord) -> bool {
        if self.pending.len() >= self.cfg.max_pending.max(1) {
            return false;
        }
        self.pending.push(r);
        self.sorted = false;
        true
    }

    /// Records waiting plus records kept (for memory tests).
    pub fn len(&self) -> usize {
        self.pending.len() + self.refs.len() + self.waiting.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record stamped at or before `w` has been submitted: admit them
    /// and take every decision due by `w`, in canonical order. Events go to
    /// `out`.
    pub fn advance(&mut self, w: Nanos, out: &mut Vec<Event>) {
        if w <= self.watermark {
            return;
        }
        self.watermark = w;
        if !self.sorted {
            self.pending.sort_by_key(|r| std::cmp::Reverse(r.order()));
            self.sorted = true;
        }
        loop {
            let admit = self.pending.last().map(|r| r.ready).filter(|s| *s <= w);
            let decide = self
                .waiting
                .front()
                .map(|r| r.ready.saturating_add(self.cfg.contrast_slack))
                .filter(|d| *d <= w);
            match (admit, decide) {
                (Some(a), Some(d)) if a <= d => self.admit(),
                (Some(_), None) => self.admit(),
                (_, Some(_)) => {
                    if let Some(c) = self.waiting.pop_front() {
                        self.decide(c, out);
                    }
                }
                (None, None) => break,
            }
        }
    }

    fn admit(&mut self) {
        let Some(r) = self.pending.pop() else { return };
        // forget what no later decision can use
        let horizon = r.ready - 15 * 60 * SECOND - self.cfg.contrast_slack;
        while self
            .refs
            .front()
            .is_some_and(|f| f.span.1 < horizon || self.refs.len() >= self.cfg.max_refs.max(1))
        {
            self.refs.pop_front();
        }
        while self.reported.front().is_some_and(|(_, _, t)| *t < horizon) {
            self.reported.pop_front();
        }
        // a reported flow stays reported for as long as it sends records
        if let Some(i) = self
            .reported
            .iter()
            .position(|(f, s, _)| *f == r.flow && *s == r.flow_start)
        {
            if let Some(mut e) = self.reported.remove(i) {
                e.2 = r.ready;
                self.reported.push_back(e);
            }
        }
        if r.last && r.limited.is_none() {
            self.learn(&r);
        }
        if r.limited.is_some() {
            self.waiting.push_back(r.clone());
        }
        self.refs.push_back(r);
    }

    /// A target's history is kept per client device where the capture
    /// tells devices apart (see [`RateRecord::client_link`]): a laptop's
    /// fast downloads over Ethernet say nothing of a phone's Wi-Fi, nor of
    /// the same laptop's Wi-Fi interface later.
    fn history_key(&self, r: &RateRecord) -> String {
        let mut k = match r.group.and_then(|g| self.watch.name(g)) {
            Some(g) => format!("group:{g}"),
            None => r.target_key(),
        };
        if let Some(a) = r.client_link {
            use std::fmt::Write as _;
            let _ = write!(
                k,
                " via {:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                a[0], a[1], a[2], a[3], a[4], a[5]
            );
        }
        k
    }

    fn learn(&mut self, r: &RateRecord) {
        if r.rate_bps <= 0.0 {
            return;
        }
        let key = self.history_key(r);
        let l = r.rate_bps.log2();
        if let Some(h) = self.history.iter_mut().find(|h| h.key == key) {
            if r.stamp - h.last > self.cfg.history_max_age {
                h.flows = 0;
            }
            h.log_rate = if h.flows == 0 {
                l
            } else {
                h.log_rate + (l - h.log_rate) / 4.0
            };
            h.flows = h.flows.saturating_add(1);
            h.last = r.stamp;
            return;
        }
        if self.history.len() >= self.cfg.history_targets.max(1) {
            if let Some(i) = self
                .history
                .iter()
                .enumerate()
                .min_by_key(|(_, h)| h.last)
                .map(|(i, _)| i)
            {
                self.history.swap_remove(i);
            }
        }
        self.history.push(History {
            key,
            log_rate: l,
            flows: 1,
            last: r.stamp,
        });
    }

    fn decide(&mut self, c: RateRecord, out: &mut Vec<Event>) {
        let Some((mode, limit)) = c.limited else {
            return;
        };
        if limit <= 0.0
            || self
                .reported
                .iter()
                .any(|(f, s, _)| *f == c.flow && *s == c.flow_start)
        {
            return;
        }
        // Other flows count only while the target ran: the same link at the
        // same time. (A fast download that ended before the target began
        // says nothing of a link whose rate dropped in between: Wi-Fi
        // moving away from the access point, a cellular handover.)
        let (lo, hi) = c.span;
        let ckey = c.target_key();
        // A shaper's queue is the target's alone. A fast flow that shows a
        // standing queue too (its smallest RTT raised in at least half of
        // its bins, as the target's) is behind a queue as well: a
        // bottleneck they share (a bufferbloated access link the fast
        // download fills, under a video that paces itself), not a shaper
        // aimed at the target. (Its smoothed RTT at the end is no measure:
        // a fast flow through its own short queue ends with bursts.)
        // And a queue the fast flow fills can hold the target up only while
        // the fast flow runs: it must have run for (three quarters of) as
        // long as the target queued. A fast flow with its own bloated
        // buffer that ran for a part of a shaped download is no such queue.
        let standing_queue = |m: &Measured| m.rtt_bins > 0 && 2 * m.rtt_bins_queued >= m.rtt_bins;
        // (the target's queued time: its span times its share of queued bins)
        let c_queued = i128::from((c.span.1 - c.span.0).max(1))
            * i128::from(c.measured.rtt_bins_queued)
            / i128::from(c.measured.rtt_bins.max(1));
        let long_enough = |r: &RateRecord| {
            let overlap = (c.span.1.min(r.span.1) - c.span.0.max(r.span.0)).max(0);
            4 * i128::from(overlap) >= 3 * c_queued
        };
        let shared_queue =
            |r: &RateRecord| mode == Mode::Shaper && standing_queue(&r.measured) && long_enough(r);
        // A policer's losses are the target's own. Random loss on the link
        // they share (Wi-Fi) takes the same share of every flow's segments,
        // a policer adds its own on top. So: could the link's loss rate, as
        // a fast flow shows it, have taken as many of the target's segments
        // as it lost? If so (a Poisson tail above 1 in 1,000, by its
        // Chernoff bound) the target's losses need no policer. Counted as
        // holes (segments missing before the vantage point): loss *events*
        // would not do, a fast flow's losses within two RTTs are one event
        // and a slow flow's are not (on the real kernel a self-paced stream
        // over a link losing 2% looked policed against 35 Mbit/s downloads
        // by events per byte); and a tail, not a ratio, because a 5 s record
        // holds a handful of holes (7 where 3 were expected, by chance).
        let lossy_link = |r: &RateRecord| {
            let m = &r.measured;
            let share = f64::from(m.holes) / (m.delivered.max(1) as f64);
            mode == Mode::Policer
                && plausible_losses(
                    f64::from(c.measured.holes),
                    share * c.measured.delivered as f64,
                )
        };
        // And losses that come at the same moments on both flows are the
        // link's (Wi-Fi fading for tens of milliseconds every few seconds
        // takes a segment of a paced stream and a burst of a download at
        // every fade: per byte the download looks clean, the stream
        // policed). A policer drops the target's segments when its bucket
        // is empty, whatever the other flows do. A loss shows at the
        // vantage point when the flow's next segment arrives: the target's
        // within one and a half of its segment spacing at its limit; a
        // fast flow that lost all it had in flight sends again after a
        // tail-loss probe, two of its (smoothed, queued) round trips later
        // (in the lab 59 ms after the paced stream's hole). So moments
        // within the larger of the two (at least 40 ms, at most 500) are
        // one.
        let spacing = 1.5 * 1448.0 * 8.0 / limit * 1000.0;
        let tol = |r: &RateRecord| {
            let m = &r.measured;
            let probe =
                (3 * m.rtt_min.unwrap_or(0)).max(2 * m.rtt_smoothed.unwrap_or(0) + 10 * MILLI);
            (spacing as i64).max(probe / MILLI).clamp(40, 500)
        };
        // So a fast flow contrasts a policer by running through the
        // target's losses: it must have run at two of the target's loss
        // moments at least (a flow that ran between them shows nothing a
        // fading link would not have let through too; and one moment is
        // too little: a fade can miss a flow, or take only its last
        // segments, which come again in order after a timeout and leave no
        // hole). Where the moments are not all known (only the latest 16
        // are kept), it counts as before. And if the fast flows lost at the
        // target's moments more often than chance (below), the target's
        // losses are the link's.
        // (each flow's moments joined over its records, oldest first; the
        // candidate's own earlier checkpoints are among the references;
        // grouped once, so that a decision costs one pass over the
        // references, not one per comparison)
        let mut records: HashMap<(&EventFlow, Nanos), Vec<&RateRecord>> = HashMap::new();
        for x in &self.refs {
            records.entry((&x.flow, x.flow_start)).or_default().push(x);
        }
        let of_flow = |of: &RateRecord| {
            records
                .get(&(&of.flow, of.flow_start))
                .cloned()
                .unwrap_or_default()
        };
        let trouble = |of: &RateRecord, then: Option<&Measured>| {
            let mut ms: Vec<&Measured> = of_flow(of).iter().map(|x| &x.measured).collect();
            ms.extend(then);
            Trouble::of(&ms, c.span.0)
        };
        let c_trouble = (mode == Mode::Policer).then(|| trouble(&c, Some(&c.measured)));
        let witness = |r: &RateRecord| {
            let ct = c_trouble.as_ref()?;
            Witness::of(
                ct,
                c.span,
                &trouble(r, None),
                r.span,
                r.measured.rtt_min,
                tol(r),
            )
        };
        let moments = |r: &RateRecord| Some(witness(r)?.moments(c_trouble.as_ref()?));
        // And the fast flow must have been fast *while the target was
        // slow*: over the time both ran (the overlap of their spans), the
        // fast flow's rate (the bins in which it had data) must be
        // `contrast_factor` times the target's (likewise). A target's limit
        // is its median over its whole span; on a link whose own rate
        // changed (Wi-Fi or LTE degrading and recovering), the median comes
        // from the slow phase, while a download that ran only in the fast
        // phase, before the drop or after the recovery, found the target
        // just as fast (red-team captures `throttle_ratedrop`,
        // `throttle_ratechange`: `shaper` + `targeted`, 0.55, before
        // 2026-12-06). A policer or a shaper aimed at the target holds it
        // low at every moment, and a fast flow at any of them shows it.
        // Bins the records do not hold (or a target without data then)
        // show nothing: no contrast.
        let mut c_recs = of_flow(&c);
        c_recs.push(&c);
        let c_bins = RateBins::of(&c_recs);
        let bin = self.cfg.bin;
        let fast_then = |r: &RateRecord| {
            let w = (c.span.0.max(r.span.0), c.span.1.min(r.span.1));
            let len = w.1 - w.0;
            if len <= 0 {
                return false;
            }
            let (cb, ct, ck) = c_bins.within(w, bin);
            let mut r_recs = of_flow(r);
            r_recs.push(r);
            let (rb, rt, rk) = RateBins::of(&r_recs).within(w, bin);
            if 2 * ck < len || 2 * rk < len || ct <= 0 || rt <= 0 {
                return false;
            }
            rb / rt as f64 >= self.cfg.contrast_factor * (cb / ct as f64)
        };
        // held at the candidate's limit (±25%)
        let same_limit = |r: &RateRecord| {
            r.limited
                .is_some_and(|(_, l)| (l / limit - 1.0).abs() <= 0.25)
        };
        // Each other flow in the window by its latest record (the fullest
        // measurement: an early checkpoint may predate the queue or the
        // losses that a later record shows). `refs` are in admission order.
        let mut latest: Vec<&RateRecord> = Vec::new();
        for r in self.refs.iter().rev() {
            if r.same_flow(&c) || r.span.1 < lo || r.span.0 > hi {
                continue;
            }
            if !latest.iter().any(|x| x.same_flow(r)) {
                latest.push(r);
            }
        }
        latest.reverse();
        // (a comparison: its record, same server, its loss moments)
        let mut comparisons: Vec<(&RateRecord, bool, Option<Moments>)> = Vec::new();
        let mut converging = Vec::new();
        // another name on the same address held at the same rate (unless
        // both names are on watch lists)
        let mut capped_alike = false;
        // a fast flow behind the target's queue: the queue is the link's
        // (and how long it holds packets: that flow's smoothed RTT over its
        // minimum)
        let mut link_queue: Option<Nanos> = None;
        // Flows to other targets at the same time, and whether one of them
        // was held just as low: itself rate-limited (a plateau with a queue
        // or losses, what a flow held by a slow link shows; a stream that
        // paces itself is not) within `contrast_factor` of the candidate's
        // limit, either way. Then the link itself is slow now, and a
        // target's fast history says nothing of a censor (see `history`).
        // A flow held far lower (a file host's free tier, a slow peer) says
        // nothing of the link's rate at the candidate's (found in review,
        // session 16: any slower flow silenced `history`).
        let mut others_running = 0usize;
        let mut link_slow = false;
        // Contrast comes from the candidate's own device: at a gateway each
        // device has its own last hop, and a phone losing segments on weak
        // Wi-Fi at the router's own access point, while a PC downloads fast
        // over Ethernet, is no target of anyone (tenth red-team review,
        // `wifi_q8`: `targeted` at 0.7 from two other devices' downloads).
        // Where the capture carries no link-layer address, every flow counts.
        let same_device = |r: &RateRecord| match (c.client_link, r.client_link) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let mut other_devices = 0usize;
        let other_target =
            |r: &RateRecord| r.target_key() != ckey && (c.group.is_none() || r.group != c.group);
        let is_fast =
            |r: &RateRecord| other_target(r) && r.rate_bps >= self.cfg.contrast_factor * limit;
        for &r in &latest {
            let other_target = other_target(r);
            if other_target {
                others_running += 1;
                link_slow |= (r.limited.is_some() || r.marked)
                    && r.rate_bps < self.cfg.contrast_factor * limit
                    && r.rate_bps * self.cfg.contrast_factor > limit;
            }
            let fast = is_fast(r);
            if fast && !same_device(r) {
                other_devices += 1;
                continue;
            }
            let queued = fast && shared_queue(r);
            if queued {
                let m = &r.measured;
                let q = match (m.rtt_smoothed, m.rtt_min) {
                    (Some(s), Some(min)) => (s - min).max(0),
                    _ => 0,
                };
                link_queue = Some(link_queue.map_or(q, |x| x.max(q)));
            }
            let m = if fast { moments(r) } else { None };
            let ran_between = m.is_some_and(|m| m.whole && m.n < 2);
            if fast && !queued && !lossy_link(r) && !ran_between && fast_then(r) {
                comparisons.push((r, r.flow.server_ip == c.flow.server_ip, m));
            } else if other_target {
                capped_alike |= r.flow.server_ip == c.flow.server_ip
                    && (c.group.is_none() || r.group.is_none())
                    && same_limit(r);
            } else if same_limit(r) {
                converging.push(r);
            }
        }
        // A queue that a fast flow stands in for as long as the target's is
        // the link's (a bufferbloated access link that a download fills).
        // A second download that started after the queue had formed
        // measures it into its own minimum RTT and shows no standing queue,
        // but is behind it all the same: a flow whose minimum RTT is at
        // least half the queue's delay is no contrast either. One with a
        // shorter minimum cannot have been behind that queue (a fast flow
        // with its own bloated buffer beside a clean one: the clean one is
        // contrast).
        if let Some(q) = link_queue {
            comparisons.retain(|(r, _, _)| r.measured.rtt_min.is_some_and(|m| 2 * m < q));
        }
        // The target's loss moments while the fast flows ran, pooled over
        // them: each is a trial that succeeds when the flow it fell in lost
        // at that moment too, by chance with the share of that flow's time
        // that lies near its own losses. If chance would rarely give as
        // many successes (below 1 in 20; 1 in 10 when at least half
        // succeeded), the link lost at those moments (fades), not a
        // policer: no contrast. (Less than half may succeed: a download
        // misses fades while it recovers from the last.)
        let mut link = None;
        if mode == Mode::Policer {
            let (mut n, mut k, mut chances) = (0, 0, Vec::new());
            for m in comparisons.iter().filter_map(|(_, _, m)| m.as_ref()) {
                n += m.n;
                k += m.k;
                chances.extend(std::iter::repeat_n(m.p, m.n));
            }
            if n > 0 {
                let tail = at_least(&chances, k);
                link = Some((n, k, tail));
                if k >= 1 && (tail < 0.05 || (tail < 0.1 && 2 * k >= n)) {
                    comparisons.clear();
                }
            }
        }
        // A few moments at a fast flow's losses prove little: 3 in 3 where
        // chance gives one in two each (0.14) is kept as contrast above.
        // But then the target may have lost nothing of its own. In the live
        // long-fades lab (150 ms fades every 2 s), a stream the kernel
        // paced at 400 kbit/s lost at 5 fades in 10 s: 3 at the moments of
        // the download running then, one at a moment of another paced
        // stream's, one at a second download's. A policer's drops are the
        // target's own and come whatever the others do. So when each of the
        // target's moments at which another target's flows ran was shared
        // with one of them (at least 3), each at which a fast flow ran with
        // a fast one (at least 2: a censor's bucket may hold two slow
        // targets at once, never a fast flow), and flows losing
        // independently would share them all less than once in 10 times
        // (the pooled test's bar where at least half are shared; there
        // 0.034), the losses are the link's. Flows of the same target are
        // no witnesses, nor flows that look rate-limited themselves or are
        // marked (a censor's bucket may hold them with the target, and
        // their losses are then its drops: review, session 27), nor one in
        // trouble most of the time (see [`MAX_WITNESS_SHARE`]).
        if mode == Mode::Policer && !comparisons.is_empty() {
            if let Some(ct) = c_trouble.as_ref() {
                let ws: Vec<(Witness, bool)> = latest
                    .iter()
                    .filter(|r| {
                        other_target(r) && same_device(r) && r.limited.is_none() && !r.marked
                    })
                    .filter_map(|r| {
                        let w = witness(r)?;
                        (w.p <= MAX_WITNESS_SHARE).then_some((w, is_fast(r)))
                    })
                    .collect();
                let w = witnessed(&ct.losses, &ws);
                if w.n >= 3 && w.k == w.n && w.n_fast >= 2 && w.k_fast == w.n_fast && w.chance < 0.1
                {
                    comparisons.clear();
                }
            }
        }
        // The server (a CDN's per-connection cap) holds every name it serves
        // at one rate: faster flows elsewhere do not make this name a target,
        // unless a name on this very address runs fast. (Two names that are
        // both on watch lists are the operator's word that they are
        // targets: a censor that throttles both is still reported.)
        if capped_alike && !comparisons.iter().any(|(_, same, _)| *same) {
            comparisons.clear();
        }
        // The target's own history: it ran much faster before. Not when
        // another target is held just as low at the same time: the link
        // slowed down (a congested or degraded access link, a move to a
        // tethered phone), for every target alike.
        let hkey = self.history_key(&c);
        let history = self
            .history
            .iter()
            .find(|h| h.key == hkey)
            .filter(|h| {
                !link_slow
                    && h.flows >= self.cfg.history_min_flows
                    && c.stamp - h.last <= self.cfg.history_max_age
                    && h.log_rate.exp2() >= self.cfg.history_factor * limit
            })
            .map(|h| (h.log_rate.exp2(), h.flows));
        if comparisons.is_empty() && history.is_none() {
            return;
        }
        comparisons.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then(b.0.rate_bps.total_cmp(&a.0.rate_bps))
                .then(a.0.order().cmp(&b.0.order()))
        });
        let sni_triggered = comparisons
            .iter()
            .any(|(r, same, _)| *same && r.target.is_some() && c.target.is_some());
        let distinct_targets = {
            let mut t: Vec<String> = comparisons.iter().map(|(r, _, _)| r.target_key()).collect();
            t.sort_unstable();
            t.dedup();
            t.len()
        };
        let mut rules = Vec::new();
        let mut confidence: f64 = 0.0;
        if !comparisons.is_empty() {
            rules.push("targeted");
            confidence = 0.55 + 0.1 * (distinct_targets.min(3) as f64 - 1.0);
            if sni_triggered {
                rules.push("same_server_other_name");
                confidence += 0.15;
            }
        }
        if history.is_some() {
            rules.push("history");
            confidence = if confidence > 0.0 {
                confidence + 0.1
            } else {
                0.6
            };
        }
        if !converging.is_empty() {
            confidence += 0.1;
        }
        if mode == Mode::Policer && c.measured.rtt_bins >= 8 {
            confidence += 0.05;
        }
        // The link went down while the download ran (or just after its
        // last payload): the stall explains the look (see `note_link_down`).
        // Left unjudged, and the flow with it: every later record of it
        // spans the period too, and it is counted once.
        if self.link_down.explains_stall(c.span.0, c.span.1) {
            self.link_down_excused += 1;
            self.reported
                .push_back((c.flow.clone(), c.flow_start, c.stamp));
            return;
        }
        let mut ev = Map::new();
        let confidence =
            super::mark_capture_lossy(self.capture_lossy(c.stamp), &mut ev, confidence.min(0.95));
        ev.insert(
            "rule".into(),
            json!(rules.first().copied().unwrap_or("targeted")),
        );
        ev.insert("rules".into(), json!(rules));
        ev.insert("mode".into(), json!(mode.as_str()));
        ev.insert("limit_bps".into(), json!(limit.round()));
        ev.insert(
            "flow_record".into(),
            json!(if c.last { "end" } else { "checkpoint" }),
        );
        if let Value::Object(m) = c.measured.evidence() {
            for (k, v) in m {
                ev.insert(k, v);
            }
        }
        ev.insert(
            "comparisons".into(),
            Value::Array(
                comparisons
                    .iter()
                    .take(5)
                    .map(|(r, same, m)| {
                        let mut j = json!({
                            "target": r.target.as_deref(),
                            "server_ip": r.flow.server_ip.to_string(),
                            "same_server": same,
                            "rate_bps": r.rate_bps.round(),
                            "times_faster": ((r.rate_bps / limit) * 10.0).round() / 10.0,
                        });
                        if let (Some(m), Value::Object(o)) = (m, &mut j) {
                            o.insert("target_losses_while_running".into(), json!(m.n));
                            o.insert("lost_at_the_same_moments".into(), json!(m.k));
                        }
                        j
                    })
                    .collect(),
            ),
        );
        ev.insert("comparison_flows".into(), json!(comparisons.len()));
        if other_devices > 0 {
            // faster flows of other devices, left out (see `same_device`)
            ev.insert("other_devices_faster".into(), json!(other_devices));
        }
        if let Some((n, k, tail)) = link {
            ev.insert(
                "loss_moments".into(),
                json!({"target_losses_while_fast_flows_ran": n, "at_the_same_moments": k,
                       "chance": (tail * 1000.0).round() / 1000.0}),
            );
        }
        ev.insert("converging_flows".into(), json!(converging.len()));
        if let Some((typical, n)) = history {
            ev.insert(
                "history".into(),
                json!({"typical_bps": typical.round(), "flows": n, "times_slower": ((typical / limit) * 10.0).round() / 10.0,
                       "other_targets_at_the_same_time": others_running}),
            );
        }
        if let Some(h) = &c.hello {
            ev.insert("client_hello".into(), h.clone());
        }
        if let Some(name) = c.group.and_then(|g| self.watch.name(g)) {
            ev.insert("watch_group".into(), Value::String(name.to_string()));
        }
        self.reported
            .push_back((c.flow.clone(), c.flow_start, c.stamp));
        out.push(Event::new(
            Signature::Throttling,
            c.stamp,
            confidence,
            c.flow.clone(),
            c.target.as_deref().map(str::to_string),
            ev,
        ));
    }
}

/// Counts a judge's event in a worker's counters (signature, group, limit).
pub fn account(stats: &mut Stats, watch: &crate::watch::WatchList, e: &Event) {
    let slot = crate::detectors::count_event(stats, watch, e);
    if let Some(l) = e.evidence.get("limit_bps").and_then(Value::as_f64) {
        if let Some(x) = stats.throttle_limit.get_mut(slot) {
            if e.ts >= x.0 {
                *x = (e.ts, l as u64);
            }
        }
    }
}

/// A judge shared by several workers (they lock it once per batch).
#[derive(Debug, Clone)]
pub struct SharedJudge {
    inner: std::sync::Arc<std::sync::Mutex<SharedInner>>,
}

#[derive(Debug)]
struct SharedInner {
    judge: Judge,
    progress: Vec<Nanos>,
}

impl SharedJudge {
    /// A judge for `workers` workers.
    pub fn new(cfg: ThrottleConfig, watch: crate::watch::WatchList, workers: usize) -> Self {
        SharedJudge {
            inner: std::sync::Arc::new(std::sync::Mutex::new(SharedInner {
                judge: Judge::new(cfg, watch),
                progress: vec![Nanos::MIN; workers.max(1)],
            })),
        }
    }

    /// Worker `w` hands in its records, the capture drops it noted
    /// (`(at, window)`, see [`Judge::note_capture_drop`]) and the link-down
    /// periods it knows (see [`Judge::note_link_down`]), and says it has
    /// processed every packet up to `progress` (`Nanos::MAX`: finished);
    /// decisions every worker has passed are taken and their events go to
    /// `out`. Returns the records dropped (queue full) and the candidates
    /// left unjudged for a link-down period, for the worker's counters.
    pub fn sync(
        &self,
        w: usize,
        records: &mut Vec<RateRecord>,
        drops: &mut Vec<(Nanos, Nanos)>,
        link_down: &crate::linkdown::LinkDown,
        progress: Nanos,
        out: &mut Vec<Event>,
    ) -> (u64, u64) {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for (at, window) in drops.drain(..) {
            g.judge.note_capture_drop(at, window);
        }
        g.judge.note_link_down(link_down);
        let mut dropped = 0;
        for r in records.drain(..) {
            dropped += u64::from(!g.judge.submit(r));
        }
        if let Some(p) = g.progress.get_mut(w) {
            *p = (*p).max(progress);
        }
        let min = g.progress.iter().copied().min().unwrap_or(Nanos::MIN);
        if min > Nanos::MIN {
            g.judge
                .advance(min.saturating_sub(1).max(Nanos::MIN + 1), out);
        }
        (dropped, g.judge.take_link_down_excused())
    }

    /// Replaces the settings (reload).
    pub fn set_config(&self, cfg: ThrottleConfig, watch: crate::watch::WatchList) {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.judge.set_config(cfg, watch);
    }
}

#[cfg(test)]
mod tests;
