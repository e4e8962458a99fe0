//! Worker threads and the dispatcher that shards frames to them.
//!
//! Frames are copied into batches (one contiguous buffer per batch, reused
//! through a pool, so the steady state allocates nothing) and routed by
//! [`tw_detect::shard_of_frame`]: all flows to one server go to the same
//! worker, so per-server state is complete with any number of workers.

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tw_detect::{Engine, EngineConfig, Event, Stats};
use tw_metrics::{DropReason, Metrics, StatsPublisher};

/// One frame inside a batch buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameMeta {
    /// Link-wide facts as of this frame (see `tw_detect::link`).
    pub link: tw_detect::link::LinkClock,
    pub ts: i64,
    pub linktype: u32,
    pub wire_len: u32,
    pub start: u32,
    pub len: u32,
}

/// A batch of frames for one worker.
#[derive(Debug, Default)]
pub struct Batch {
    pub data: Vec<u8>,
    pub frames: Vec<FrameMeta>,
    /// Advance packet time to this (idle live capture) after the frames.
    pub tick: Option<i64>,
    /// The link clock as of the tick.
    pub tick_link: tw_detect::link::LinkClock,
}

const BATCH_FRAMES: usize = 512;
const BATCH_BYTES: usize = 512 * 1024;
const QUEUE_BATCHES: usize = 16;
const PUBLISH_EVERY: u64 = 16_384;
/// Packet time between ticks to every worker (several workers only). As
/// often as the engines sweep (100 ms): a flow a single engine ends at one
/// frame ends in its worker at most a tick later, and the link clock it is
/// judged with has seen that much more (at one a second, two captive-portal
/// periods could begin meanwhile: found in review, session 18).
const TICK_EVERY: i64 = 100 * tw_detect::time::MILLI;

/// How workers hand events to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBackpressure {
    /// Wait for the sink (replay: never lose an event).
    Block,
    /// Drop and count when the sink queue is full (live: never stall capture).
    Drop,
}

/// Detector settings published by a configuration reload (SIGHUP). Workers
/// look at the generation once per batch (one atomic load, nothing per
/// packet) and rebuild their detectors when it changed.
#[derive(Debug, Default)]
pub struct Reloadable {
    generation: AtomicU64,
    cfg: std::sync::Mutex<Option<Arc<tw_detect::detectors::DetectorsConfig>>>,
}

impl Reloadable {
    /// Makes `cfg` the detector settings of every worker, from its next batch.
    pub fn publish(&self, cfg: tw_detect::detectors::DetectorsConfig) {
        *self.cfg.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(cfg));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The settings published since generation `seen`, if any.
    fn newer(&self, seen: &mut u64) -> Option<Arc<tw_detect::detectors::DetectorsConfig>> {
        let g = self.generation.load(Ordering::Acquire);
        if g == *seen {
            return None;
        }
        *seen = g;
        self.cfg.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// When the live captures' interfaces were down (administratively, or no
/// carrier), as periods of packet time (`tw_detect::linkdown::LinkDown`):
/// written by the capture threads when their once-a-second poll of the
/// interface sees it go down or come up, read by every worker once per
/// batch (one atomic load when nothing changed). A period lasts while any
/// capture that carried packets lately sees its interface down: the engine
/// does not know which interface a flow came through, so a drop on any
/// interface may excuse the silences and stalls of any flow under way at
/// its start (`tw_detect::linkdown`). An interface down from the start, or
/// idle when it went down, carried none of them: it opens no period (found
/// in review, session lp: an unplugged eth0 beside wlan0 excused every
/// block for the daemon's life). A second capture's drop while the first's
/// lasts starts a period of its own (`LinkDown::also_down`). Live packet times are the host's
/// real-time clock (kernel or user-space timestamps), the clock the
/// captures poll by, so the periods are in packet time as they are.
#[derive(Debug, Default)]
pub struct LinkStates {
    /// The log's version, once published.
    version: AtomicU64,
    inner: std::sync::Mutex<LinkInner>,
    /// The host's own addresses (`tw_detect::local`), read by the capture
    /// threads every few seconds, and their version once published.
    local_version: AtomicU64,
    local: std::sync::Mutex<tw_detect::local::LocalAddrs>,
}

#[derive(Debug, Default)]
struct LinkInner {
    /// Captures that see their interface down now.
    down: usize,
    log: tw_detect::linkdown::LinkDown,
}

impl LinkStates {
    fn lock(&self) -> std::sync::MutexGuard<'_, LinkInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A capture saw its interface down; it last saw it up at `since`
    /// (packet time: nanoseconds since the epoch), and captured its last
    /// frame at `last_frame` (`None`: none yet). Only an interface that
    /// carried a frame at most `LINK_DOWN_DARK` before `since` (the longest
    /// silence a drop may explain) joins the periods: an idle one carried
    /// no flow a drop could explain. Returns whether it did: each `true`
    /// must be matched by one [`LinkStates::came_up`] (a capture that ends
    /// while its interface is down calls it too).
    pub fn went_down(&self, since: i64, last_frame: Option<i64>) -> bool {
        let carried = last_frame
            .is_some_and(|t| t >= since.saturating_sub(tw_detect::linkdown::LINK_DOWN_DARK));
        if !carried {
            return false;
        }
        let mut g = self.lock();
        g.down += 1;
        if g.down == 1 {
            g.log.went_down(since);
        } else {
            g.log.also_down(since);
        }
        self.version.store(g.log.version(), Ordering::Release);
        true
    }

    /// A capture whose [`LinkStates::went_down`] joined the periods sees
    /// its interface up again at `at` (or stopped watching it).
    pub fn came_up(&self, at: i64) {
        let mut g = self.lock();
        g.down = g.down.saturating_sub(1);
        if g.down == 0 {
            g.log.came_up(at);
            self.version.store(g.log.version(), Ordering::Release);
        }
    }

    /// The host's addresses as read now (`tw_capture::local_addresses`):
    /// a new version when they changed (an address gained or lost: DHCP,
    /// a PPP link redialled, IPv6 privacy addresses).
    pub fn note_local(&self, addrs: &[(std::net::IpAddr, u8)]) {
        let mut g = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let new = tw_detect::local::LocalAddrs::with_networks(addrs, g.version() + 1);
        if g.version() == 0 || !new.same_addresses(&g) {
            *g = new;
            self.local_version.store(new.version(), Ordering::Release);
        }
    }

    /// The host's addresses, if their version is newer than `seen`.
    fn newer_local(&self, seen: u64) -> Option<tw_detect::local::LocalAddrs> {
        if self.local_version.load(Ordering::Acquire) <= seen {
            return None;
        }
        Some(*self.local.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The log, if its version is not `seen`.
    fn newer(&self, seen: u64) -> Option<tw_detect::linkdown::LinkDown> {
        if self.version.load(Ordering::Acquire) == seen {
            return None;
        }
        Some(self.lock().log)
    }

    /// The log now.
    #[cfg(test)]
    fn log(&self) -> tw_detect::linkdown::LinkDown {
        self.lock().log
    }
}

/// One worker's engine plus its publishing duties.
pub struct Worker {
    pub engine: Engine,
    publisher: StatsPublisher,
    metrics: Arc<Metrics>,
    events: Sender<Event>,
    backpressure: EventBackpressure,
    kernel_drops: Arc<AtomicU64>,
    since_publish: u64,
    reload: Option<(Arc<Reloadable>, u64)>,
    /// The live captures' link-down periods (none in replays).
    link_states: Option<Arc<LinkStates>>,
}

impl Worker {
    pub fn new(
        cfg: &EngineConfig,
        metrics: Arc<Metrics>,
        events: Sender<Event>,
        backpressure: EventBackpressure,
        kernel_drops: Arc<AtomicU64>,
    ) -> Worker {
        Worker {
            engine: Engine::new(
                cfg.clone(),
                tw_detect::detectors::default_detectors(&cfg.detectors),
            ),
            publisher: StatsPublisher::new(),
            metrics,
            events,
            backpressure,
            kernel_drops,
            since_publish: 0,
            reload: None,
            link_states: None,
        }
    }

    #[inline]
    pub fn frame(&mut self, linktype: u32, data: &[u8], ts: i64, wire_len: u32) {
        self.engine.process_frame(linktype, data, ts, wire_len);
        self.since_publish += 1;
        if self.since_publish >= PUBLISH_EVERY {
            self.after_batch();
        }
    }

    /// [`Worker::frame`] with the link clock of a dispatcher or a shard
    /// reader (several workers).
    #[inline]
    fn frame_linked(
        &mut self,
        linktype: u32,
        data: &[u8],
        ts: i64,
        wire_len: u32,
        link: tw_detect::link::LinkClock,
    ) {
        self.engine
            .process_frame_linked(linktype, data, ts, wire_len, link);
        self.since_publish += 1;
        if self.since_publish >= PUBLISH_EVERY {
            self.after_batch();
        }
    }

    /// Hands pending events to the sink and publishes counters.
    pub fn after_batch(&mut self) {
        self.since_publish = 0;
        self.engine
            .note_kernel_drops(self.kernel_drops.load(Ordering::Relaxed));
        let (tx, bp, m) = (&self.events, self.backpressure, &self.metrics);
        self.engine.drain_events(|e| match bp {
            EventBackpressure::Block => {
                if tx.send(e).is_err() {
                    m.events_dropped(DropReason::SinkError).inc();
                }
            }
            EventBackpressure::Drop => match tx.try_send(e) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => m.events_dropped(DropReason::QueueFull).inc(),
                Err(TrySendError::Disconnected(_)) => m.events_dropped(DropReason::SinkError).inc(),
            },
        });
        self.publisher.publish(&self.metrics, self.engine.stats());
        if let Some(t) = self.engine.now() {
            self.metrics.observe_packet_time(t);
        }
    }

    fn batch(&mut self, b: &Batch, ahead: &mut Lookahead) {
        if let Some((r, seen)) = self.reload.as_mut() {
            if let Some(cfg) = r.newer(seen) {
                let cfg = (*cfg).clone();
                let detectors = tw_detect::detectors::default_detectors(&cfg);
                self.engine.set_detectors(cfg, detectors);
            }
        }
        // before the batch's frames and tick: a flow that the tick ends
        // is judged knowing every period noticed so far
        if let Some(l) = &self.link_states {
            if let Some(log) = l.newer(self.engine.link_down().version()) {
                self.engine.note_link_down(&log);
            }
            if let Some(a) = l.newer_local(self.engine.local_addresses().version()) {
                self.engine.note_local_addresses(&a);
            }
        }
        ahead.batch(self, b);
        if let Some(t) = b.tick {
            self.engine.tick_linked(t, b.tick_link);
        }
        self.after_batch();
    }

    /// End of input: every flow ends, events and counters go out. Capture
    /// has stopped, so nothing is gained by dropping events when the sink's
    /// queue is full: the last ones wait for it (found in review, session
    /// 15: a burst judged at shutdown could be dropped as `queue_full`).
    pub fn finish(mut self) -> Stats {
        self.engine.finish();
        self.backpressure = EventBackpressure::Block;
        self.after_batch();
        self.engine.stats().clone()
    }
}

/// How shards are spread over `n` workers: one share of n each.
#[derive(Debug, Clone, Copy)]
struct Shares {
    n: usize,
}

fn shares(n: usize) -> Shares {
    Shares { n: n.max(1) }
}

impl Shares {
    /// Worker `i`'s share of the shards (and of the tables), as a fraction.
    fn of(self, _i: usize) -> (usize, usize) {
        (1, self.n)
    }

    /// The worker of shard key `k`.
    fn worker_of(self, k: u64) -> usize {
        (k % self.n as u64) as usize
    }
}

/// What a dispatcher or a shard reader keeps of capture order: one link
/// clock over every frame, and when every worker is due a time tick.
struct Order {
    link: tw_detect::link::LinkTracker,
    /// The link clock as of the latest tick [`Order::see`] returned: before
    /// the frame that follows the tick (found in review, session 18: a
    /// tick's clock must not know that frame).
    tick_link: tw_detect::link::LinkClock,
    /// Packet time of the latest frame, and of the latest tick to all.
    last_ts: i64,
    last_tick: i64,
}

impl Order {
    fn new() -> Order {
        Order {
            link: tw_detect::link::LinkTracker::default(),
            tick_link: tw_detect::link::LinkClock::default(),
            last_ts: i64::MIN,
            last_tick: i64::MIN,
        }
    }

    /// Sees the next frame. Returns the time every worker must be ticked to
    /// before it: each worker's packet time advances at least every 100 ms
    /// of capture time, even a worker that gets no frames, because
    /// cross-worker decisions (throttling) wait for the slowest worker.
    #[inline]
    fn see(&mut self, linktype: u32, data: &[u8], ts: i64) -> Option<i64> {
        if !tw_detect::time::in_range(ts) {
            // the worker counts it and leaves it out; it moves no clock
            return None;
        }
        let tick = (self.last_ts != i64::MIN && ts.saturating_sub(self.last_tick) >= TICK_EVERY)
            .then(|| {
                self.last_tick = ts;
                self.last_ts
            });
        self.last_ts = self.last_ts.max(ts);
        if tick.is_some() {
            self.tick_link = self.link.clock();
        }
        self.link.observe(linktype, data, ts);
        tick
    }

    /// The latest packet time seen, if any frame was.
    fn last(&self) -> Option<i64> {
        (self.last_ts != i64::MIN).then_some(self.last_ts)
    }
}

/// `n` workers, each with its share of the tables; with several, they
/// share one throttling judge (it compares flows to different servers,
/// which different workers handle).
fn new_workers(
    n: usize,
    cfg: &EngineConfig,
    metrics: &Arc<Metrics>,
    events: &Sender<Event>,
    backpressure: EventBackpressure,
    kernel_drops: &Arc<AtomicU64>,
) -> Vec<Worker> {
    let judge = (n > 1).then(|| {
        tw_detect::detectors::throttle::SharedJudge::new(
            cfg.detectors.throttle.clone(),
            cfg.detectors.watch.clone(),
            n,
        )
    });
    (0..n)
        .map(|i| {
            let mut w = Worker::new(
                &worker_cfg(cfg, n, i),
                metrics.clone(),
                events.clone(),
                backpressure,
                kernel_drops.clone(),
            );
            if let Some(j) = &judge {
                w.engine.share_judge(j.clone(), i);
            }
            // every worker sees the same link clock: one counts its checks
            w.engine.reports_link = i == 0;
            w
        })
        .collect()
}

/// A worker that reads the whole input itself and keeps only its shard's
/// frames (replay with several workers): every thread reads the file from
/// the page cache, so no thread copies frames for another and none decodes
/// frames another core wrote. Each keeps its own link clock over every
/// frame and ticks itself where a dispatcher would tick it: the same events
/// as a dispatcher's workers.
pub struct ShardReader {
    worker: Worker,
    me: usize,
    shares: Shares,
    order: Order,
    ahead: Lookahead,
    /// Keeps this reader near the others ([`pace_together`]).
    pace: Option<PaceSlot>,
}

/// Frames a shard reader may read beyond the slowest reader of its group.
pub const PACE_LEAD: u64 = 1 << 16;
/// How often (frames) a reader publishes its position and looks at the others'.
const PACE_EVERY: u64 = 1 << 10;

/// The position of every shard reader of a replay (frames read), on its own
/// cache line each: one reader store and one look at the others every
/// [`PACE_EVERY`] frames.
#[derive(Debug)]
pub struct Pace {
    lead: u64,
    every: u64,
    read: Vec<PaddedCount>,
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedCount(AtomicU64);

/// One reader's place in a [`Pace`]. Dropping it (the reader finished,
/// stopped, failed or panicked) lets the others go on without it.
#[derive(Debug)]
struct PaceSlot {
    pace: Arc<Pace>,
    me: usize,
    read: u64,
    /// Frames until the next look at the others (a countdown: no division
    /// per frame).
    left: u64,
}

impl PaceSlot {
    #[inline]
    fn step(&mut self) {
        self.read += 1;
        self.left -= 1;
        if self.left == 0 {
            self.left = self.pace.every;
            self.wait_for_others();
        }
    }

    #[cold]
    fn wait_for_others(&mut self) {
        let p = &self.pace;
        if let Some(c) = p.read.get(self.me) {
            c.0.store(self.read, Ordering::Release);
        }
        let slowest = || {
            p.read
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != self.me)
                .map(|(_, c)| c.0.load(Ordering::Acquire))
                .min()
                .unwrap_or(u64::MAX)
        };
        // The slowest reader never waits (no other is behind it), so the
        // group always moves; a reader that ends sets its count to MAX.
        // (briefly spinning, then sleeping: a waiting reader should not
        // burn the CPU time the lookahead's `Auto` mode measures itself by)
        let mut spins = 0u32;
        while self.read > slowest().saturating_add(p.lead) {
            spins += 1;
            if spins < 16 {
                std::hint::spin_loop();
            } else if spins < 32 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }
}

impl Drop for PaceSlot {
    fn drop(&mut self) {
        if let Some(c) = self.pace.read.get(self.me) {
            c.0.store(u64::MAX, Ordering::Release);
        }
    }
}

/// Makes `readers` (one replay's shard readers, each on its own thread)
/// keep within `lead` frames of the slowest of them. Readers run at about
/// the same speed, but nothing makes them: on a loaded host, or with more
/// workers than cores, one can run far ahead, and the throttling judge,
/// which decides only once every reader has passed a record's time, then
/// holds all its records meanwhile, up to `max_pending`, beyond which it
/// drops them and the events differ from one worker's. Readers that share
/// a pace must run concurrently (one waits for the others).
pub fn pace_together(readers: &mut [ShardReader], lead: u64) {
    let every = PACE_EVERY.min(lead.max(1));
    let pace = Arc::new(Pace {
        lead,
        every,
        read: (0..readers.len()).map(|_| PaddedCount::default()).collect(),
    });
    for (me, r) in readers.iter_mut().enumerate() {
        r.pace = Some(PaceSlot {
            pace: pace.clone(),
            me,
            read: 0,
            left: every,
        });
    }
}

impl ShardReader {
    /// One frame of the input, in capture order.
    #[inline]
    pub fn push(&mut self, linktype: u32, data: &[u8], ts: i64, wire_len: u32) {
        if let Some(p) = &mut self.pace {
            p.step();
        }
        if let Some(t) = self.order.see(linktype, data, ts) {
            // the frames held back come before the tick
            self.ahead.drain(&mut self.worker);
            self.worker.engine.tick_linked(t, self.order.tick_link);
            self.worker.after_batch();
        }
        let w = tw_detect::shard_of_frame(linktype, data).map_or(0, |k| self.shares.worker_of(k));
        if w == self.me {
            let link = self.order.link.clock();
            self.ahead
                .frame(&mut self.worker, linktype, data, ts, wire_len, Some(link));
        }
    }

    /// The share of this worker's frames it looked up ahead.
    pub fn lookahead_share(&self) -> f64 {
        self.ahead.share()
    }

    /// Replaces the lookahead (tests: short windows).
    #[cfg(test)]
    fn set_lookahead(&mut self, ahead: Lookahead) {
        self.ahead = ahead;
    }

    /// End of input: this worker's flows end; its counters.
    pub fn finish(mut self) -> Stats {
        self.ahead.drain(&mut self.worker);
        // The packet time of the input's last frame, which this worker may
        // not have seen: flows stale by then end as idle, as with one worker.
        if let Some(t) = self.order.last() {
            self.worker.engine.tick_linked(t, self.order.link.clock());
        }
        self.worker.finish()
    }
}

/// Whether workers look each frame's flow up ahead of time ([`Lookahead`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LookaheadMode {
    /// Measure both ways now and then and use the faster.
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

impl LookaheadMode {
    /// As written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LookaheadMode::Auto => "auto",
            LookaheadMode::On => "on",
            LookaheadMode::Off => "off",
        }
    }
}

/// Frames in one measured window of [`Lookahead`]'s `Auto` mode.
const LOOKAHEAD_WINDOW: u32 = 1 << 16;
/// Windows the chosen way between two probes of the other.
const LOOKAHEAD_PROBE_EVERY: u32 = 7;

/// A frame held back by [`Lookahead`].
#[derive(Debug, Default)]
struct Held {
    valid: bool,
    /// The link clock as of the frame, when a shard reader keeps it.
    link: Option<tw_detect::link::LinkClock>,
    linktype: u32,
    ts: i64,
    wire_len: u32,
    hash: Option<u64>,
    data: Vec<u8>,
}

/// Feeds one worker, looking each frame's flow up two frames ahead.
///
/// With tens of thousands of flows the slots no longer fit in the caches,
/// and finding a frame's flow waits for two loads from memory, one after the
/// other (the index bucket, then the slot): a quarter of the replay's time
/// with 50,000 concurrent flows. Looking ahead, a frame's index bucket is
/// requested (a prefetch, which does not wait) when it is read, its slot
/// when the next frame is read, and it is processed when the one after that
/// is read, by then with both in cache. The frames are processed in the same
/// order with the same data, so the results are the same either way; the
/// cost is a copy of each frame and a second decode of its headers, more
/// than the lookup saves when the flows fit in the cache. `Auto` therefore
/// times windows of 65,536 frames: after the first and then every eighth
/// window, one window goes the other way, and it is compared with the mean
/// of the windows on either side of it (looking ahead is kept only when it
/// is faster by 5%).
#[derive(Debug)]
pub struct Lookahead {
    mode: LookaheadMode,
    /// Looking ahead now.
    on: bool,
    /// The way `Auto` has chosen (the other is being probed when it differs
    /// from `on`).
    home: bool,
    held: [Held; 2],
    /// Index of the newer held frame.
    newest: usize,
    window: u32,
    frames: u32,
    /// This thread's CPU time when the window started (ns).
    started: u64,
    /// Nanoseconds per frame of the latest window the chosen way, and of
    /// the probe of the other way that ended just after it.
    before: f64,
    probe: Option<f64>,
    /// Windows the chosen way since the last probe.
    since_probe: u32,
    /// Frames seen, and of them, looked up ahead.
    seen: u64,
    ahead: u64,
}

impl Lookahead {
    /// A lookahead in `mode`.
    pub fn new(mode: LookaheadMode) -> Lookahead {
        Lookahead::with_window(mode, LOOKAHEAD_WINDOW)
    }

    fn with_window(mode: LookaheadMode, window: u32) -> Lookahead {
        let on = mode == LookaheadMode::On;
        Lookahead {
            mode,
            on,
            home: on,
            held: Default::default(),
            newest: 0,
            window: window.max(1),
            frames: 0,
            started: thread_cpu_ns(),
            before: 0.0,
            probe: None,
            // the first window is followed by a probe
            since_probe: LOOKAHEAD_PROBE_EVERY,
            seen: 0,
            ahead: 0,
        }
    }

    /// Whether frames are being looked up ahead now.
    #[cfg(test)]
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The share of the frames so far that were looked up ahead.
    pub fn share(&self) -> f64 {
        self.ahead as f64 / self.seen.max(1) as f64
    }

    /// One frame of the input, in capture order.
    #[inline]
    pub fn frame(
        &mut self,
        w: &mut Worker,
        linktype: u32,
        data: &[u8],
        ts: i64,
        wire_len: u32,
        link: Option<tw_detect::link::LinkClock>,
    ) {
        if self.on {
            let hash = w.engine.lookup_hash(linktype, data);
            if let Some(h) = hash {
                w.engine.prefetch_index(h);
            }
            let newer = self.newest;
            let older = 1 - newer;
            if let Some(h) = self.held[newer].hash.filter(|_| self.held[newer].valid) {
                w.engine.prefetch_flow(h);
            }
            let o = &mut self.held[older];
            if o.valid {
                process(w, o.linktype, &o.data, o.ts, o.wire_len, o.link);
            }
            o.valid = true;
            o.link = link;
            o.linktype = linktype;
            o.ts = ts;
            o.wire_len = wire_len;
            o.hash = hash;
            o.data.clear();
            o.data.extend_from_slice(data);
            self.newest = older;
        } else {
            process(w, linktype, data, ts, wire_len, link);
        }
        self.counted(w, 1);
    }

    /// Counts `n` frames gone the current way; ends `Auto`'s window when
    /// it is full.
    fn counted(&mut self, w: &mut Worker, n: usize) {
        let n = n as u64;
        self.seen += n;
        if self.on {
            self.ahead += n;
        }
        if self.mode == LookaheadMode::Auto {
            self.frames = self
                .frames
                .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            if self.frames >= self.window {
                self.end_window(w);
            }
        }
    }

    /// The frames of a batch (the live path). They are all at hand, so
    /// looking ahead needs no copy; the way is chosen per batch.
    fn batch(&mut self, w: &mut Worker, b: &Batch) {
        let data = |f: &FrameMeta| b.data.get(f.start as usize..(f.start + f.len) as usize);
        let hash = |w: &Worker, j: usize| {
            let f = b.frames.get(j)?;
            w.engine.lookup_hash(f.linktype, data(f)?)
        };
        // as in `frame`: a frame's bucket two frames before it is
        // processed, its slot one frame before
        let on = self.on;
        let mut after = None;
        if on {
            let first = hash(w, 0);
            after = hash(w, 1);
            for h in [first, after].into_iter().flatten() {
                w.engine.prefetch_index(h);
            }
            if let Some(h) = first {
                w.engine.prefetch_flow(h);
            }
        }
        for (j, f) in b.frames.iter().enumerate() {
            if on {
                let later = hash(w, j + 2);
                if let Some(h) = later {
                    w.engine.prefetch_index(h);
                }
                if let Some(h) = after {
                    w.engine.prefetch_flow(h);
                }
                after = later;
            }
            if let Some(d) = data(f) {
                w.frame_linked(f.linktype, d, f.ts, f.wire_len, f.link);
            }
        }
        self.counted(w, b.frames.len());
    }

    /// Processes the frames held back, oldest first.
    pub fn drain(&mut self, w: &mut Worker) {
        for i in [1 - self.newest, self.newest] {
            let h = &mut self.held[i];
            if h.valid {
                h.valid = false;
                process(w, h.linktype, &h.data, h.ts, h.wire_len, h.link);
            }
        }
    }

    fn end_window(&mut self, w: &mut Worker) {
        let now = thread_cpu_ns();
        let per = now.saturating_sub(self.started) as f64 / f64::from(self.frames);
        let next = if self.on != self.home {
            // A probe of the other way ended: it is judged against the
            // chosen way's windows on both sides of it (the traffic's mix
            // drifts), so after the next window.
            self.probe = Some(per);
            self.home
        } else {
            if let Some(p) = self.probe.take() {
                if probe_wins(self.home, self.before, p, per) {
                    self.home = !self.home;
                }
                self.since_probe = 0;
            } else {
                self.since_probe += 1;
            }
            self.before = per;
            if self.since_probe >= LOOKAHEAD_PROBE_EVERY {
                !self.home
            } else {
                self.home
            }
        };
        if self.on && !next {
            self.drain(w);
        }
        self.on = next;
        self.frames = 0;
        self.started = now;
    }
}

/// A frame to its worker, with the link clock of a shard reader if given.
#[inline]
fn process(
    w: &mut Worker,
    linktype: u32,
    data: &[u8],
    ts: i64,
    wire_len: u32,
    link: Option<tw_detect::link::LinkClock>,
) {
    match link {
        Some(l) => w.frame_linked(linktype, data, ts, wire_len, l),
        None => w.frame(linktype, data, ts, wire_len),
    }
}

/// CPU time of the calling thread, in nanoseconds: [`Lookahead`] times its
/// windows by it rather than by the clock on the wall, which also counts the
/// time the thread waited for a CPU (on a shared virtual machine, often
/// more than the difference being measured).
fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // exists on every Linux this runs on (on an error `t` stays zero).
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// Whether a probe window of the other way (`probe` ns a frame) beat the
/// chosen way (`home_on`: looking ahead), timed just `before` and `after` it.
/// Looking ahead must win clearly, by 5%, since it costs a copy of every
/// frame and a second decode; not looking ahead only needs to be as fast.
fn probe_wins(home_on: bool, before: f64, probe: f64, after: f64) -> bool {
    let around = (before + after) / 2.0;
    if home_on {
        probe <= around
    } else {
        probe < around * 0.95
    }
}

/// `n` shard readers sharing one throttling judge (replay).
pub fn shard_readers(
    n: usize,
    cfg: &EngineConfig,
    metrics: &Arc<Metrics>,
    events: &Sender<Event>,
    kernel_drops: &Arc<AtomicU64>,
    lookahead: LookaheadMode,
) -> Vec<ShardReader> {
    new_workers(
        n,
        cfg,
        metrics,
        events,
        EventBackpressure::Block,
        kernel_drops,
    )
    .into_iter()
    .enumerate()
    .map(|(me, worker)| ShardReader {
        worker,
        me,
        shares: shares(n),
        order: Order::new(),
        ahead: Lookahead::new(lookahead),
        pace: None,
    })
    .collect()
}

/// Sends frames to N worker threads.
pub struct Dispatcher {
    /// Capture order over every frame this dispatcher hands out.
    order: Order,
    senders: Vec<Sender<Batch>>,
    pending: Vec<Batch>,
    pool: Receiver<Batch>,
}

/// Worker threads started by [`spawn_workers`].
pub struct Workers {
    pub handles: Vec<std::thread::JoinHandle<Stats>>,
    senders: Vec<Sender<Batch>>,
    pool_rx: Receiver<Batch>,
}

/// Worker `i`'s configuration of `n`: the configured table sizes are
/// totals, and each worker gets its share, in proportion to its shards.
fn worker_cfg(total: &EngineConfig, n: usize, i: usize) -> EngineConfig {
    let (num, den) = shares(n).of(i);
    let part = |x: usize| (x * num).div_ceil(den).max(1);
    let mut c = total.clone();
    c.flows.max_flows = part(total.flows.max_flows);
    c.flows.max_unconfirmed = part(total.flows.max_unconfirmed);
    c.max_servers = part(total.max_servers);
    c.max_hello_buffers = part(total.max_hello_buffers);
    c
}

/// How live workers run: what to do with events when the sink is behind,
/// the configuration their detector settings follow (if any), and whether
/// they look flows up ahead.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub backpressure: EventBackpressure,
    pub reload: Option<Arc<Reloadable>>,
    pub lookahead: LookaheadMode,
    /// The live captures' link-down periods, if any (see [`LinkStates`]).
    pub link_states: Option<Arc<LinkStates>>,
}

/// Starts `n` worker threads fed by [`Dispatcher`]s (live).
pub fn spawn_workers(
    n: usize,
    cfg: &EngineConfig,
    metrics: &Arc<Metrics>,
    events: &Sender<Event>,
    kernel_drops: &Arc<AtomicU64>,
    opts: WorkerOptions,
) -> anyhow::Result<Workers> {
    let WorkerOptions {
        backpressure,
        reload,
        lookahead,
        link_states,
    } = opts;
    let (pool_tx, pool_rx) = bounded::<Batch>(n * (QUEUE_BATCHES + 2) + 8);
    let mut senders = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    let workers = new_workers(n, cfg, metrics, events, backpressure, kernel_drops);
    for (i, mut w) in workers.into_iter().enumerate() {
        let (tx, rx) = bounded::<Batch>(QUEUE_BATCHES);
        senders.push(tx);
        w.reload = reload.clone().map(|r| {
            let seen = r.generation.load(Ordering::Acquire);
            (r, seen)
        });
        w.link_states = link_states.clone();
        let pool_tx = pool_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("tw-worker-{i}"))
            .spawn(move || {
                let mut ahead = Lookahead::new(lookahead);
                while let Ok(mut b) = rx.recv() {
                    w.batch(&b, &mut ahead);
                    b.data.clear();
                    b.frames.clear();
                    b.tick = None;
                    let _ = pool_tx.try_send(b);
                }
                w.finish()
            })?;
        handles.push(h);
    }
    Ok(Workers {
        handles,
        senders,
        pool_rx,
    })
}

impl Workers {
    /// A dispatcher feeding these workers (one per producing thread).
    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher {
            order: Order::new(),
            senders: self.senders.clone(),
            pending: (0..self.senders.len()).map(|_| Batch::default()).collect(),
            pool: self.pool_rx.clone(),
        }
    }

    /// Closes the workers' input (after every dispatcher was dropped) and
    /// waits for their final counters.
    pub fn join(self) -> Vec<Stats> {
        drop(self.senders);
        self.handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect()
    }
}

impl Dispatcher {
    /// Queues a frame for its worker.
    #[inline]
    pub fn push(&mut self, linktype: u32, data: &[u8], ts: i64, wire_len: u32) {
        let n = self.senders.len();
        let tick = self.order.see(linktype, data, ts);
        if n > 1 {
            if let Some(t) = tick {
                self.flush_ticked(Some(t));
            }
        }
        let shard = if n == 1 {
            None
        } else {
            tw_detect::shard_of_frame(linktype, data)
        };
        let w = shard.map_or(0, |k| shares(n).worker_of(k));
        let link = self.order.link.clock();
        let Some(b) = self.pending.get_mut(w) else {
            return;
        };
        let start = b.data.len() as u32;
        b.data.extend_from_slice(data);
        b.frames.push(FrameMeta {
            link,
            ts,
            linktype,
            wire_len,
            start,
            len: data.len() as u32,
        });
        if b.frames.len() >= BATCH_FRAMES || b.data.len() >= BATCH_BYTES {
            self.send(w);
        }
    }

    fn send(&mut self, w: usize) {
        let fresh = self.pool.try_recv().unwrap_or_else(|_| Batch {
            data: Vec::with_capacity(BATCH_BYTES + 65_536),
            frames: Vec::with_capacity(BATCH_FRAMES),
            tick: None,
            tick_link: tw_detect::link::LinkClock::default(),
        });
        let Some(slot) = self.pending.get_mut(w) else {
            return;
        };
        let full = std::mem::replace(slot, fresh);
        if let Some(tx) = self.senders.get(w) {
            // Blocks when the worker is behind: back-pressure reaches the
            // capture ring, whose kernel drop counter then shows it.
            let _ = tx.send(full);
        }
    }

    /// Sends every partly filled batch (and, if given, a time tick to all,
    /// with the link clock as of every frame seen).
    pub fn flush(&mut self, tick: Option<i64>) {
        self.order.tick_link = self.order.link.clock();
        self.flush_ticked(tick);
    }

    /// [`Dispatcher::flush`] with the tick's clock already set.
    fn flush_ticked(&mut self, tick: Option<i64>) {
        for w in 0..self.pending.len() {
            let has = self.pending.get(w).is_some_and(|b| !b.frames.is_empty());
            if has || tick.is_some() {
                if let Some(b) = self.pending.get_mut(w) {
                    b.tick = tick;
                    b.tick_link = self.order.tick_link;
                }
                self.send(w);
            }
        }
    }
}

impl Drop for Dispatcher {
    /// Sends what is pending, with a tick to the last frame's time (see
    /// [`ShardReader::finish`]).
    fn drop(&mut self) {
        let last = self.order.last();
        self.flush(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tw_capture::{FileSource, Next, Source};

    /// Every frame of `file`, in order: (linktype, data, ts, wire length).
    fn frames(file: &std::path::Path) -> Vec<(u32, Vec<u8>, i64, u32)> {
        let mut src = FileSource::open(file).unwrap();
        let mut v = vec![];
        while let Next::Frame(f) = src.next().unwrap() {
            v.push((f.linktype, f.data.to_vec(), f.ts_ns, f.orig_len));
        }
        v
    }

    fn sorted(rx: &Receiver<Event>) -> Vec<String> {
        let mut v: Vec<String> = rx
            .try_iter()
            .map(|e| serde_json::to_string(&e).unwrap())
            .collect();
        v.sort();
        v
    }

    /// The default engine configuration, metrics, a drop counter and every
    /// pcap fixture, in name order.
    fn fixture_setup() -> (
        EngineConfig,
        Arc<Metrics>,
        Arc<AtomicU64>,
        Vec<std::path::PathBuf>,
    ) {
        let cfg = crate::config::Config::defaults();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        files.sort();
        assert!(files.len() > 50, "{}", dir.display());
        (
            cfg.engine(),
            Arc::new(cfg.new_metrics()),
            Arc::new(AtomicU64::new(0)),
            files,
        )
    }

    /// The live path (a dispatcher feeding worker threads in batches) and
    /// replay's shard readers give the events one worker gives, on every
    /// fixture, with 1, 2 and 3 workers, looking flows up ahead or not.
    #[test]
    fn dispatcher_and_shard_readers_agree_with_one_worker() {
        let (ecfg, metrics, drops, files) = fixture_setup();
        let mut with_events = 0;
        for f in &files {
            let fr = frames(f);
            let (tx, rx) = crossbeam_channel::unbounded();
            let one_stats = one_worker(&ecfg, &metrics, &drops, tx, EventBackpressure::Block, &fr);
            let want = sorted(&rx);
            with_events += usize::from(!want.is_empty());
            for n in [1, 2, 3] {
                // the live path's workers, looking flows up ahead or not
                for mode in [LookaheadMode::Off, LookaheadMode::On] {
                    let (tx, rx) = crossbeam_channel::unbounded();
                    let ws = spawn_workers(
                        n,
                        &ecfg,
                        &metrics,
                        &tx,
                        &drops,
                        WorkerOptions {
                            backpressure: EventBackpressure::Block,
                            reload: None,
                            lookahead: mode,
                            link_states: None,
                        },
                    )
                    .unwrap();
                    {
                        let mut d = ws.dispatcher();
                        for (lt, data, ts, wl) in &fr {
                            d.push(*lt, data, *ts, *wl);
                        }
                    }
                    let stats = ws.join();
                    assert_eq!(
                        sorted(&rx),
                        want,
                        "{}: dispatcher, {n} workers, lookahead {mode:?}",
                        f.display()
                    );
                    if n == 1 {
                        // every frame processed once, in order: the same counters
                        assert_eq!(
                            format!("{:?}", stats[0]),
                            format!("{one_stats:?}"),
                            "{}: dispatcher, 1 worker, lookahead {mode:?}",
                            f.display()
                        );
                    }
                }
                // shard readers, looking flows up ahead or not, or
                // switching every three frames
                for (mode, window) in [
                    (LookaheadMode::Off, LOOKAHEAD_WINDOW),
                    (LookaheadMode::On, LOOKAHEAD_WINDOW),
                    (LookaheadMode::Auto, 3),
                ] {
                    let (tx, rx) = crossbeam_channel::unbounded();
                    let mut merged = Stats::default();
                    for mut r in shard_readers(n, &ecfg, &metrics, &tx, &drops, mode) {
                        r.set_lookahead(Lookahead::with_window(mode, window));
                        for (lt, data, ts, wl) in &fr {
                            r.push(*lt, data, *ts, *wl);
                        }
                        merged.merge(&r.finish());
                    }
                    assert_eq!(
                        sorted(&rx),
                        want,
                        "{}: shard readers, {n} workers, lookahead {mode:?}",
                        f.display()
                    );
                    // the flows' outcomes, the denominators of the metrics
                    assert_eq!(
                        (merged.flows_started, merged.flows_finished),
                        (one_stats.flows_started, one_stats.flows_finished),
                        "{}: shard readers, {n} workers, lookahead {mode:?}",
                        f.display()
                    );
                }
            }
        }
        assert!(with_events >= 20, "{with_events} fixtures with events");
    }

    /// Two flows of one server that go stale 30 ms apart end in that order
    /// with any number of workers, so the second sees what the first left in
    /// the server's state. F: two unanswered SYNs to port 443 at 0 and 1 s
    /// (stale after 76.0 s). G: a working HTTP exchange on port 80 of the same
    /// server, closed at 65.97 s (stale after 75.97 s). With one worker,
    /// F's end reads "port 80 of this server worked" and F is reported as a
    /// blackhole with that contrast. The clock between comes from another
    /// server's datagrams, which go to the other worker when there are two;
    /// S's worker then learns the time from the readers' ticks, once a
    /// second. Sweeps used to run 100 ms after the worker's own last sweep
    /// and ended flows class by class: with two workers F and G ended in one
    /// sweep, F first, and the event was lost (found in review, session 15).
    /// The tables at the end must agree too: the readers tick every worker
    /// to the last frame's time before the end of input.
    #[test]
    fn a_servers_flows_end_in_one_order_with_any_number_of_workers() {
        two_flows_of_one_server_end_in_order(false);
    }

    /// The same with the capture's times jittering by a microsecond where it
    /// matters: G's last packet is stamped 1 us before the one just before
    /// it (another server's, B's, on the other worker), so in one engine's
    /// list of closed flows G sits behind B although G went stale first.
    /// The sweep walked from the tail and stopped at B, and ended G after F
    /// (found in review, session 15); flows are now linked no earlier than
    /// the latest time less `LINK_SLACK`, and the walk looks that far past.
    #[test]
    fn a_servers_flows_end_in_order_when_times_jitter() {
        two_flows_of_one_server_end_in_order(true);
    }

    fn two_flows_of_one_server_end_in_order(jitter: bool) {
        use std::net::{IpAddr, SocketAddr};
        use tw_scenario::packet::{TcpFlags, UdpSpec};
        const S: i64 = tw_detect::time::SECOND;
        let ms = |x: i64| x * S / 1000;
        let (ecfg, metrics, drops, _) = fixture_setup();
        let lt = tw_detect::decode::linktype::RAW;
        let srv: IpAddr = "203.0.113.7".parse().unwrap();
        let cli: IpAddr = "192.0.2.10".parse().unwrap();
        let sa = SocketAddr::new;
        let udp = |port: u16, to: IpAddr| {
            UdpSpec::new(sa(cli, port), sa(to, 5000), vec![1, 2, 3]).build()
        };
        let worker_of =
            |d: &[u8], n: usize| tw_detect::shard_of_frame(lt, d).map(|k| shares(n).worker_of(k));
        let (c443, c80, s80, s443) = (sa(cli, 40000), sa(cli, 40001), sa(srv, 80), sa(srv, 443));
        let syn = tcp(c443, s443, TcpFlags::SYN, 1000, 0, b"");
        // a clock server T on the other worker of two (and of three)
        let t = (1..250u8)
            .map(|i| IpAddr::from([198, 51, 100, i]))
            .find(|ip| {
                let d = udp(50000, *ip);
                worker_of(&d, 2) != worker_of(&syn, 2) && worker_of(&d, 3) != worker_of(&syn, 3)
            })
            .unwrap();
        let b = (1..250u8)
            .map(|i| IpAddr::from([198, 51, 101, i]))
            .find(|ip| {
                let d = udp(50000, *ip);
                worker_of(&d, 2) != worker_of(&syn, 2) && worker_of(&d, 3) != worker_of(&syn, 3)
            })
            .unwrap();
        let (cb, sb) = (sa(cli, 45000), sa(b, 8443));
        let mut fr: Vec<(i64, Vec<u8>)> = vec![(0, syn.clone())];
        fr.push((ms(400), tcp(c80, s80, TcpFlags::SYN, 5000, 0, b"")));
        fr.push((ms(500), tcp(s80, c80, TcpFlags::SYN_ACK, 9000, 5001, b"")));
        fr.push((ms(600), tcp(c80, s80, TcpFlags::ACK, 5001, 9001, b"")));
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        fr.push((ms(700), tcp(c80, s80, TcpFlags::PSH_ACK, 5001, 9001, get)));
        // (an error page: port 80 serving pages within 5 s of the SYN to
        // 443 would be a browser's fallback from `https://`, not judged)
        let ok = b"HTTP/1.1 404 No\r\n\r\nhi";
        fr.push((ms(800), tcp(s80, c80, TcpFlags::PSH_ACK, 9001, 5028, ok)));
        // F's second SYN: stale after 76.0 s, or after 75.9999998 s
        fr.push((if jitter { 999_999_800 } else { ms(1000) }, syn));
        if jitter {
            // B, a connection to another server, closed by its server last
            fr.push((ms(1200), tcp(cb, sb, TcpFlags::SYN, 100, 0, b"")));
            fr.push((ms(1300), tcp(sb, cb, TcpFlags::SYN_ACK, 200, 101, b"")));
            fr.push((ms(1400), tcp(cb, sb, TcpFlags::ACK, 101, 201, b"")));
        }
        for s in 2..66 {
            fr.push((s * S, udp(50000 + s as u16, t)));
        }
        if jitter {
            fr.push((ms(65_900), tcp(cb, sb, TcpFlags::FIN_ACK, 101, 201, b"")));
        }
        fr.push((
            ms(65_960),
            tcp(c80, s80, TcpFlags::FIN_ACK, 5028, 9021, b""),
        ));
        let g_fin = tcp(s80, c80, TcpFlags::FIN_ACK, 9021, 5029, b"");
        if jitter {
            // B closes at 66.0000005 s, then G, stamped 1 us earlier: G is
            // stale after 75.9999995 s, before F
            fr.push((66 * S + 500, tcp(sb, cb, TcpFlags::FIN_ACK, 201, 102, b"")));
            fr.push((66 * S - 500, g_fin));
        } else {
            fr.push((ms(65_970), g_fin));
        }
        for s in 66..76 {
            fr.push((s * S + ms(500), udp(50000 + s as u16, t)));
        }
        for (i, at) in [75_980, 76_050, 77_500].into_iter().enumerate() {
            fr.push((ms(at), udp(60000 + i as u16, t)));
        }
        let back = fr.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert_eq!(
            back,
            usize::from(jitter),
            "in time order but for the jitter"
        );
        let fr: Vec<(u32, i64, Vec<u8>)> = fr.into_iter().map(|(t, d)| (lt, t, d)).collect();
        let one = by_readers(1, &ecfg, &metrics, &drops, &fr);
        assert_eq!(one.0.len(), 1, "{:?}", one.0);
        let ev: serde_json::Value = serde_json::from_str(&one.0[0]).unwrap();
        assert_eq!(ev["signature"], "blackhole");
        assert_eq!(ev["flow"]["server_port"], 443);
        let contrast = ev["evidence"]["contrast"].to_string();
        assert!(contrast.contains("same_server_other_port"), "{ev}");
        every_path_gives(&one, &ecfg, &metrics, &drops, &fr);
    }

    /// A live worker drops events when the sink's queue is full (capture
    /// must not stall), but not at the end: the events of flows ended when
    /// capture stops all reach the sink.
    #[test]
    fn a_live_worker_hands_over_every_event_at_the_end() {
        let (ecfg, metrics, drops, files) = fixture_setup();
        let mut want = 0;
        let mut got = 0;
        for f in &files {
            let fr = frames(f);
            let (tx, rx) = crossbeam_channel::unbounded();
            one_worker(&ecfg, &metrics, &drops, tx, EventBackpressure::Block, &fr);
            let n = rx.try_iter().count();
            if n < 2 {
                continue;
            }
            want += n;
            // a queue of one and a slow reader: try_send would drop
            let (tx, rx) = crossbeam_channel::bounded(1);
            let reader = std::thread::spawn(move || {
                let mut k = 0;
                while rx.recv().is_ok() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    k += 1;
                }
                k
            });
            one_worker(&ecfg, &metrics, &drops, tx, EventBackpressure::Drop, &fr);
            got += reader.join().unwrap();
        }
        assert!(want >= 6, "{want}");
        assert_eq!(got, want);
    }

    /// A throttling judge whose queue is full drops records, and says so:
    /// the counter that tells an operator flows were left out.
    #[test]
    fn a_full_judge_queue_is_counted() {
        let (ecfg, metrics, drops, _) = fixture_setup();
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/thr_policed_targeted.pcap");
        let fr = frames(&file);
        let dropped = |max_pending: usize| {
            let mut cfg = ecfg.clone();
            cfg.detectors.throttle.max_pending = max_pending;
            let (tx, _rx) = crossbeam_channel::unbounded();
            one_worker(&cfg, &metrics, &drops, tx, EventBackpressure::Block, &fr)
                .throttle_records_dropped
        };
        assert_eq!(dropped(ecfg.detectors.throttle.max_pending), 0);
        assert!(dropped(1) > 0);
    }

    /// Replay's shard readers each on a thread, the second started late:
    /// unpaced, the first reader's throttling records pile up in the judge
    /// (it waits for the second's progress) and a queue that one worker
    /// never fills overflows; paced, no reader gets far ahead, nothing is
    /// dropped and the events are one worker's.
    #[test]
    fn paced_shard_readers_keep_the_judge_queue_short() {
        use tw_scenario::throttle_scenarios::{download, finish, Download, Limiter};
        // 60 downloads of 600 kB at 2 Mbit/s (2.4 s each, so each leaves a
        // throttling record), one every 20 s, to 30 servers
        let mut tl = tw_scenario::Timeline::new();
        for i in 0..60u16 {
            let server = [198, 18, (i % 30) as u8, 7];
            let start =
                tw_scenario::session::EPOCH_NS + i64::from(i) * 20 * tw_detect::time::SECOND;
            let link = Limiter::Link {
                bps: 2e6,
                queue: 32_000,
            };
            download(
                &mut tl,
                &Download::bulk(server, "bulk.example", 40_000 + i, start, link, 600_000),
            )
            .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bulk.pcap");
        std::fs::write(&file, finish(tl).unwrap()).unwrap();
        let fr = frames(&file);
        let (ecfg, metrics, drops, _) = fixture_setup();
        let mut ecfg = ecfg;
        ecfg.detectors.throttle.max_pending = 24;
        // one worker: the queue holds the records of the flows ended in the
        // last few minutes, well under 24
        let (tx, rx) = crossbeam_channel::unbounded();
        let one = one_worker(&ecfg, &metrics, &drops, tx, EventBackpressure::Block, &fr);
        assert_eq!(one.throttle_records_dropped, 0);

        let one_events = sorted(&rx);
        let run = |paced: bool| {
            let (tx, rx) = crossbeam_channel::unbounded();
            let mut readers = shard_readers(2, &ecfg, &metrics, &tx, &drops, LookaheadMode::Off);
            if paced {
                pace_together(&mut readers, 2048);
            }
            let mut second = readers.pop().unwrap();
            let mut first = readers.pop().unwrap();
            let fr1 = fr.clone();
            let mut h1 = Some(std::thread::spawn(move || {
                for (lt, d, ts, wl) in &fr1 {
                    first.push(*lt, d, *ts, *wl);
                }
                first.finish()
            }));
            let mut stats = Stats::default();
            if paced {
                // the first reader waits for this one
                std::thread::sleep(std::time::Duration::from_millis(200));
            } else {
                // the first reader reads everything before this one starts
                stats.merge(&h1.take().unwrap().join().unwrap());
            }
            for (lt, d, ts, wl) in &fr {
                second.push(*lt, d, *ts, *wl);
            }
            stats.merge(&second.finish());
            if let Some(h) = h1 {
                stats.merge(&h.join().unwrap());
            }
            (stats.throttle_records_dropped, sorted(&rx))
        };
        let (dropped, _) = run(false);
        assert!(dropped > 0, "unpaced: nothing dropped");
        let (dropped, events) = run(true);
        assert_eq!(dropped, 0, "paced");
        assert_eq!(events, one_events);
    }

    /// A reader held back by a slower one goes on as soon as the slower one
    /// ends (finished, stopped, failed or panicked: its slot is dropped).
    #[test]
    fn a_reader_that_ends_holds_no_other_back() {
        let pace = Arc::new(Pace {
            lead: 8,
            every: 4,
            read: (0..2).map(|_| PaddedCount::default()).collect(),
        });
        let mut ahead = PaceSlot {
            pace: pace.clone(),
            me: 0,
            read: 0,
            left: 4,
        };
        let behind = PaceSlot {
            pace,
            me: 1,
            read: 0,
            left: 4,
        };
        let h = std::thread::spawn(move || {
            for _ in 0..1000 {
                ahead.step();
            }
            ahead.read
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!h.is_finished(), "not held back at all");
        drop(behind);
        assert_eq!(h.join().unwrap(), 1000);
    }

    /// One worker, shard readers and the live dispatcher, with 1, 2 and 3
    /// workers, all give `one`.
    fn every_path_gives(
        one: &Outcome,
        ecfg: &EngineConfig,
        metrics: &Arc<Metrics>,
        drops: &Arc<AtomicU64>,
        fr: &[(u32, i64, Vec<u8>)],
    ) {
        assert_eq!(&by_one_worker(ecfg, metrics, drops, fr), one, "one worker");
        for n in [1, 2, 3] {
            let readers = by_readers(n, ecfg, metrics, drops, fr);
            assert_eq!(&readers, one, "shard readers, {n} workers");
            let dispatcher = by_dispatcher(n, ecfg, metrics, drops, fr);
            assert_eq!(&dispatcher, one, "dispatcher, {n} workers");
        }
    }

    /// A TCP segment (raw IPv4 or IPv6).
    fn tcp(
        src: std::net::SocketAddr,
        dst: std::net::SocketAddr,
        flags: tw_scenario::packet::TcpFlags,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut t = tw_scenario::packet::TcpSpec::new(src, dst);
        t.flags = flags;
        t.seq = seq;
        t.ack = ack;
        t.payload = payload.to_vec();
        t.build()
    }

    /// A capture's frames (as `frames` reads them) through one worker that
    /// sends its events to `tx`; its counters.
    fn one_worker(
        ecfg: &EngineConfig,
        metrics: &Arc<Metrics>,
        drops: &Arc<AtomicU64>,
        tx: Sender<Event>,
        bp: EventBackpressure,
        fr: &[(u32, Vec<u8>, i64, u32)],
    ) -> Stats {
        let mut w = Worker::new(ecfg, metrics.clone(), tx, bp, drops.clone());
        for (lt, d, ts, wl) in fr {
            w.frame(*lt, d, *ts, *wl);
        }
        w.finish()
    }

    /// Events (sorted) and flow outcomes.
    type Outcome = (
        Vec<String>,
        [[u64; tw_detect::stats::FlowOutcome::COUNT]; tw_detect::stats::FlowProto::COUNT],
    );

    /// `frames` (link type, time, bytes) through one worker, as `replay
    /// --workers 1` runs it (the engine keeps its own link clock).
    fn by_one_worker(
        ecfg: &EngineConfig,
        metrics: &Arc<Metrics>,
        drops: &Arc<AtomicU64>,
        frames: &[(u32, i64, Vec<u8>)],
    ) -> Outcome {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut w = Worker::new(
            ecfg,
            metrics.clone(),
            tx,
            EventBackpressure::Block,
            drops.clone(),
        );
        for (lt, ts, d) in frames {
            w.frame(*lt, d, *ts, d.len() as u32);
        }
        let s = w.finish();
        (sorted(&rx), s.flows_finished)
    }

    /// The same through `n` shard readers (replay with `n` workers).
    fn by_readers(
        n: usize,
        ecfg: &EngineConfig,
        metrics: &Arc<Metrics>,
        drops: &Arc<AtomicU64>,
        frames: &[(u32, i64, Vec<u8>)],
    ) -> Outcome {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut stats = Stats::default();
        for mut r in shard_readers(n, ecfg, metrics, &tx, drops, LookaheadMode::Off) {
            for (lt, ts, d) in frames {
                r.push(*lt, d, *ts, d.len() as u32);
            }
            stats.merge(&r.finish());
        }
        (sorted(&rx), stats.flows_finished)
    }

    /// The same through a dispatcher and `n` worker threads (live).
    fn by_dispatcher(
        n: usize,
        ecfg: &EngineConfig,
        metrics: &Arc<Metrics>,
        drops: &Arc<AtomicU64>,
        frames: &[(u32, i64, Vec<u8>)],
    ) -> Outcome {
        let (tx, rx) = crossbeam_channel::unbounded();
        let opts = WorkerOptions {
            backpressure: EventBackpressure::Block,
            reload: None,
            lookahead: LookaheadMode::Off,
            link_states: None,
        };
        let ws = spawn_workers(n, ecfg, metrics, &tx, drops, opts).unwrap();
        {
            let mut d = ws.dispatcher();
            for (lt, ts, data) in frames {
                d.push(*lt, data, *ts, data.len() as u32);
            }
        }
        let mut stats = Stats::default();
        for s in ws.join() {
            stats.merge(&s);
        }
        (sorted(&rx), stats.flows_finished)
    }

    /// One worker's link clock and a dispatcher's read SYN/ACKs alike: an
    /// IPv6 SYN/ACK behind a hop-by-hop header, which the dispatchers'
    /// fixed-offset reading used to miss while one worker (reading the
    /// decoded packet) counted it. F, two unanswered SYNs to port 443 of a
    /// server whose port 80 worked, is a blackhole only if other servers
    /// completed handshakes meanwhile, so the event depended on the path
    /// (found in review, session 15).
    #[test]
    fn every_path_reads_the_link_alike() {
        use std::net::{IpAddr, SocketAddr};
        use tw_scenario::packet::{TcpFlags, UdpSpec};
        const S: i64 = tw_detect::time::SECOND;
        let ms = |x: i64| x * S / 1000;
        let (ecfg, metrics, drops, _) = fixture_setup();
        let raw = tw_detect::decode::linktype::RAW;
        let srv: IpAddr = "203.0.113.7".parse().unwrap();
        let cli: IpAddr = "192.0.2.10".parse().unwrap();
        let sa = SocketAddr::new;
        let (c443, c80, s80, s443) = (sa(cli, 40000), sa(cli, 40001), sa(srv, 80), sa(srv, 443));
        let mut fr: Vec<(u32, i64, Vec<u8>)> = vec![];
        // port 80 of the server works and closes, before F starts
        fr.push((raw, ms(0), tcp(c80, s80, TcpFlags::SYN, 5000, 0, b"")));
        fr.push((
            raw,
            ms(100),
            tcp(s80, c80, TcpFlags::SYN_ACK, 9000, 5001, b""),
        ));
        fr.push((raw, ms(200), tcp(c80, s80, TcpFlags::ACK, 5001, 9001, b"")));
        let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        fr.push((
            raw,
            ms(300),
            tcp(c80, s80, TcpFlags::PSH_ACK, 5001, 9001, get),
        ));
        let ok = b"HTTP/1.1 200 OK\r\n\r\nhi";
        fr.push((
            raw,
            ms(400),
            tcp(s80, c80, TcpFlags::PSH_ACK, 9001, 5028, ok),
        ));
        fr.push((
            raw,
            ms(500),
            tcp(c80, s80, TcpFlags::FIN_ACK, 5028, 9021, b""),
        ));
        fr.push((
            raw,
            ms(510),
            tcp(s80, c80, TcpFlags::FIN_ACK, 9021, 5029, b""),
        ));
        fr.push((raw, ms(520), tcp(c80, s80, TcpFlags::ACK, 5029, 9022, b"")));
        fr.push((raw, ms(1000), tcp(c443, s443, TcpFlags::SYN, 1000, 0, b"")));
        // meanwhile another server completes a handshake over IPv6, its
        // SYN/ACK carrying a hop-by-hop options header
        let c6: IpAddr = "2001:db8::10".parse().unwrap();
        let s6: IpAddr = "2001:db8:1::7".parse().unwrap();
        let syn6 = tcp(sa(c6, 41000), sa(s6, 443), TcpFlags::SYN, 7000, 0, b"");
        fr.push((raw, ms(1400), syn6));
        let mut sa6 = tcp(
            sa(s6, 443),
            sa(c6, 41000),
            TcpFlags::SYN_ACK,
            8000,
            7001,
            b"",
        );
        // (from beyond the vantage point's own network, hop limit 52: an
        // initial one, 64, would not show the link working)
        sa6[7] = 52;
        assert_eq!(sa6[6], 6);
        sa6[6] = 0; // next header: hop-by-hop options
        let plen = u16::from_be_bytes([sa6[4], sa6[5]]) + 8;
        sa6[4..6].copy_from_slice(&plen.to_be_bytes());
        sa6.splice(40..40, [6u8, 0, 1, 4, 0, 0, 0, 0]); // then TCP; PadN
        let synack = Some(tw_detect::link::LinkEvent::TlsSynAck { v6: true });
        assert_eq!(tw_detect::link::link_event(raw, &sa6), synack);
        fr.push((raw, ms(1500), sa6));
        fr.push((raw, ms(2000), tcp(c443, s443, TcpFlags::SYN, 1000, 0, b"")));
        // a clock (another server's datagrams) until F has gone stale
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        for s in 3..80 {
            let d = UdpSpec::new(sa(cli, 50000 + s as u16), sa(other, 5000), vec![1, 2, 3]).build();
            fr.push((raw, s * S, d));
        }
        let one = by_one_worker(&ecfg, &metrics, &drops, &fr);
        assert_eq!(one.0.len(), 1, "{:?}", one.0);
        assert!(
            one.0[0].contains("\"link_handshakes_meanwhile\":true"),
            "{}",
            one.0[0]
        );
        every_path_gives(&one, &ecfg, &metrics, &drops, &fr);
    }

    /// Looking flows up ahead (always, or switching on and off every few
    /// frames, as `Auto` does every window) gives the events, in the same
    /// order, and the counters one worker gives without it, on every
    /// fixture.
    #[test]
    fn lookahead_changes_nothing_but_speed() {
        let (ecfg, metrics, drops, files) = fixture_setup();
        let run = |fr: &[(u32, Vec<u8>, i64, u32)], la: Option<Lookahead>| {
            let (tx, rx) = crossbeam_channel::unbounded();
            let mut w = Worker::new(
                &ecfg,
                metrics.clone(),
                tx,
                EventBackpressure::Block,
                drops.clone(),
            );
            let mut switches = 0;
            match la {
                None => {
                    for (lt, d, ts, wl) in fr {
                        w.frame(*lt, d, *ts, *wl);
                    }
                }
                Some(mut la) => {
                    for (lt, d, ts, wl) in fr {
                        let was = la.is_on();
                        la.frame(&mut w, *lt, d, *ts, *wl, None);
                        switches += usize::from(was != la.is_on());
                    }
                    la.drain(&mut w);
                }
            }
            let stats = format!("{:?}", w.finish());
            let events: Vec<String> = rx
                .try_iter()
                .map(|e| serde_json::to_string(&e).unwrap())
                .collect();
            (events, stats, switches)
        };
        let (mut with_events, mut switched) = (0, 0);
        for f in &files {
            let fr = frames(f);
            let (want, want_stats, _) = run(&fr, None);
            with_events += usize::from(!want.is_empty());
            for (la, what) in [
                (Lookahead::new(LookaheadMode::On), "on"),
                (Lookahead::with_window(LookaheadMode::Auto, 3), "auto"),
                (Lookahead::new(LookaheadMode::Off), "off"),
            ] {
                let (got, stats, switches) = run(&fr, Some(la));
                assert_eq!(got, want, "{}: lookahead {what}", f.display());
                assert_eq!(stats, want_stats, "{}: lookahead {what}", f.display());
                if what == "auto" {
                    // at least the probe: frames 4 on, looked up ahead
                    switched += usize::from(switches >= 1 || fr.len() < 4);
                }
            }
        }
        assert!(with_events >= 20, "{with_events} fixtures with events");
        assert_eq!(switched, files.len(), "auto switched in every fixture");
    }

    #[test]
    fn a_probe_is_judged_against_the_windows_around_it() {
        // not looking ahead: looking ahead must be 5% faster than the mean
        // of the windows around it (a drift from 600 to 400 ns a frame makes
        // the mean 500)
        assert!(probe_wins(false, 600.0, 470.0, 400.0));
        assert!(!probe_wins(false, 600.0, 480.0, 400.0));
        assert!(!probe_wins(false, 500.0, 500.0, 500.0));
        // looking ahead: not looking ahead needs only to be as fast
        assert!(probe_wins(true, 500.0, 500.0, 500.0));
        assert!(!probe_wins(true, 500.0, 501.0, 500.0));
        assert!(probe_wins(true, 400.0, 450.0, 600.0));
    }

    /// `Auto` measures the other way at once, and again every eighth
    /// window, whichever it keeps.
    #[test]
    fn auto_lookahead_probes_the_other_way() {
        let cfg = crate::config::Config::defaults();
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut w = Worker::new(
            &cfg.engine(),
            Arc::new(cfg.new_metrics()),
            tx,
            EventBackpressure::Block,
            Arc::new(AtomicU64::new(0)),
        );
        let mut la = Lookahead::with_window(LookaheadMode::Auto, 4);
        assert!(!la.is_on());
        // one IPv4 header (no ports: nothing to look up), at time `i`
        let feed = |la: &mut Lookahead, w: &mut Worker, i: i64| {
            let frame = [
                0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 203, 0, 113, 1,
            ];
            la.frame(w, tw_detect::decode::linktype::RAW, &frame, i, 20, None);
        };
        let mut ways = vec![];
        for i in 0..4 * 80 {
            feed(&mut la, &mut w, i);
            if (i + 1) % 4 == 0 {
                ways.push(la.is_on());
            }
        }
        // the second window is the other way
        assert!(ways[0], "{ways:?}");
        // and in every run of 16 windows, both ways are used
        for run in ways.windows(17) {
            assert!(run.contains(&true) && run.contains(&false), "{ways:?}");
        }
        for m in [LookaheadMode::On, LookaheadMode::Off] {
            let mut la = Lookahead::with_window(m, 4);
            for i in 0..40 {
                feed(&mut la, &mut w, i);
                assert_eq!(la.is_on(), m == LookaheadMode::On);
            }
        }
    }

    #[test]
    fn shards_follow_the_shares() {
        // Over many shard keys, each worker gets the fraction `of` says
        // (the tables are sized by it), and none is out of range.
        for n in 1..=5 {
            let s = shares(n);
            let keys = 60_000u64;
            let mut got = vec![0u64; n];
            for k in 0..keys {
                let w = s.worker_of(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                got[w] += 1;
            }
            let mut sum = 0.0;
            for (i, g) in got.iter().enumerate() {
                let (num, den) = s.of(i);
                let want = num as f64 / den as f64;
                sum += want;
                let share = *g as f64 / keys as f64;
                assert!(
                    (share - want).abs() < 0.01,
                    "n {n} worker {i}: {share} vs {want}"
                );
            }
            assert!((sum - 1.0).abs() < 1e-9, "n {n}: {sum}");
        }
    }

    /// Link-down periods last while any capture sees its interface down,
    /// from the first capture's last look at it up to the last capture's
    /// first look at it up again.
    #[test]
    fn link_states_span_every_capture() {
        let l = LinkStates::default();
        assert!(l.newer(0).is_none());
        assert!(l.went_down(10, Some(9)));
        assert!(l.went_down(15, Some(15)));
        l.came_up(20);
        assert!(l.log().is_down(), "one capture still sees it down");
        l.came_up(30);
        let log = l.log();
        assert_eq!(log.periods().collect::<Vec<_>>(), vec![(10, Some(30))]);
        assert!(l.newer(log.version()).is_none());
        assert!(l.newer(0).is_some());
    }

    /// Only a capture that carried packets lately opens a period when its
    /// interface goes down: one down from the start (no frame yet) or idle
    /// for longer than `LINK_DOWN_DARK` carried no flow a drop explains
    /// (review, session lp). A second capture's drop while the first's
    /// lasts gets a period of its own.
    #[test]
    fn link_states_only_from_captures_that_carried_packets() {
        use tw_detect::time::SECOND;
        let l = LinkStates::default();
        assert!(!l.went_down(100 * SECOND, None), "down from the start");
        assert!(
            !l.went_down(100 * SECOND, Some(89 * SECOND)),
            "idle for 11 s"
        );
        assert!(l.log().is_empty() && l.newer(0).is_none());
        assert!(l.went_down(100 * SECOND, Some(95 * SECOND)));
        assert!(l.went_down(105 * SECOND, Some(104 * SECOND)));
        l.came_up(110 * SECOND);
        l.came_up(120 * SECOND);
        assert_eq!(
            l.log().periods().collect::<Vec<_>>(),
            vec![
                (100 * SECOND, Some(105 * SECOND)),
                (105 * SECOND, Some(120 * SECOND))
            ]
        );
    }

    /// Live workers take the periods from the shared [`LinkStates`]: a
    /// blackhole fixture whose link goes down (and stays down) a second
    /// after its request raises nothing (counted instead), with 1 and 2
    /// workers; without the period it raises what replay does.
    #[test]
    fn live_workers_excuse_silences_in_link_down_periods() {
        let (ecfg, metrics, drops, _) = fixture_setup();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let fr = frames(&dir.join("bh_tls_retransmitted.pcap"));
        let first = fr.first().map_or(0, |f| f.2);
        for n in [1, 2] {
            for down in [false, true] {
                let links = Arc::new(LinkStates::default());
                if down {
                    let since = first + tw_detect::time::SECOND;
                    assert!(links.went_down(since, Some(since)));
                }
                let (tx, rx) = crossbeam_channel::unbounded();
                let ws = spawn_workers(
                    n,
                    &ecfg,
                    &metrics,
                    &tx,
                    &drops,
                    WorkerOptions {
                        backpressure: EventBackpressure::Block,
                        reload: None,
                        lookahead: LookaheadMode::Off,
                        link_states: Some(links),
                    },
                )
                .unwrap();
                {
                    let mut d = ws.dispatcher();
                    for (lt, data, ts, wl) in &fr {
                        d.push(*lt, data, *ts, *wl);
                    }
                }
                let mut stats = Stats::default();
                for s in ws.join() {
                    stats.merge(&s);
                }
                let bh = rx
                    .try_iter()
                    .filter(|e| e.signature == tw_detect::stats::Signature::Blackhole)
                    .count();
                let excused =
                    stats.link_down_excused[tw_detect::stats::LinkDownExcused::Blackhole.idx()];
                if down {
                    assert_eq!((bh, excused), (0, 1), "{n} workers, link down");
                } else {
                    assert_eq!((bh, excused), (1, 0), "{n} workers, link up");
                }
            }
        }
    }

    /// A live capture's frames are stamped by the host's real-time clock,
    /// which NTP or a board without a battery-backed clock can step while
    /// the daemon runs. The capture threads put the stamps on a steady
    /// timeline (`tw_capture::clock::StepGuard`): with the clock stepped 3 s
    /// back or 10 minutes forward in the middle of any fixture, the live
    /// pipeline gives the events of the unstepped capture. Fed the stamps
    /// as they are, it reports clean traffic (a refused connection's reset
    /// after a step back) and misses real blocking (found in session 22 by
    /// replaying clean and blocked captures with their later part shifted).
    #[test]
    fn a_stepped_host_clock_changes_no_live_event() {
        use std::sync::atomic::AtomicI64;
        use tw_capture::clock::{SteadyClock, StepGuard};
        use tw_detect::time::{MILLI, SECOND};
        let (ecfg, metrics, drops, files) = fixture_setup();
        let run = |fr: &[(u32, Vec<u8>, i64, u32)], ts: &[i64]| -> Vec<String> {
            let (tx, rx) = crossbeam_channel::unbounded();
            let ws = spawn_workers(
                1,
                &ecfg,
                &metrics,
                &tx,
                &drops,
                WorkerOptions {
                    backpressure: EventBackpressure::Block,
                    reload: None,
                    lookahead: LookaheadMode::Off,
                    link_states: None,
                },
            )
            .unwrap();
            {
                let mut d = ws.dispatcher();
                for ((lt, data, _, wl), t) in fr.iter().zip(ts) {
                    d.push(*lt, data, *t, *wl);
                }
            }
            ws.join();
            sorted(&rx)
        };
        let mut changed_raw = vec![];
        for f in &files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let fr = frames(f);
            if fr.len() < 4 {
                continue;
            }
            let own: Vec<i64> = fr.iter().map(|f| f.2).collect();
            let clean = run(&fr, &own);
            for (at, step) in [
                (3, -3 * SECOND),
                (9, -3 * SECOND),
                (3, 600 * SECOND),
                (9, 600 * SECOND),
            ] {
                let step_at = fr[fr.len() * at / 10].2;
                let real = move |t: i64| if t >= step_at { t + step } else { t };
                // the true time now: a frame is read 2 ms after its stamp
                let now = Arc::new(AtomicI64::new(own[0]));
                let n2 = now.clone();
                let clock = Arc::new(SteadyClock::with_readings(Box::new(move || {
                    let t = n2.load(Ordering::Relaxed);
                    (real(t), t - 1000 * SECOND)
                })));
                let mut guard = StepGuard::new(clock.clone());
                let steady: Vec<i64> = own
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| {
                        now.store(t + 2 * MILLI, Ordering::Relaxed);
                        // (the capture loop polls the clocks about once a second)
                        if i % 64 == 63 {
                            guard.poll();
                        }
                        guard.steady(real(t))
                    })
                    .collect();
                let what = format!("{name}, stepped {}s at {at}/10", step / SECOND);
                assert_eq!(clock.steps(), 1, "{what}");
                assert_eq!(run(&fr, &steady), clean, "{what}");
                let raw: Vec<i64> = own.iter().map(|&t| real(t)).collect();
                if run(&fr, &raw) != clean {
                    changed_raw.push(what);
                }
            }
        }
        // the stamps as they are: a false alarm, and a block missed
        for w in [
            "rst_trap_refused.pcap, stepped -3s at 9/10",
            "bh_syn_port_blocked.pcap, stepped -3s at 3/10",
            "bh_trap_loss_acked_late.pcap, stepped 600s at 9/10",
        ] {
            assert!(changed_raw.iter().any(|c| c == w), "{w}: {changed_raw:?}");
        }
    }
}
