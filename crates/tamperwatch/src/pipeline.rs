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
}

const BATCH_FRAMES: usize = 512;
const BATCH_BYTES: usize = 512 * 1024;
const QUEUE_BATCHES: usize = 16;
const PUBLISH_EVERY: u64 = 16_384;
/// Packet time between ticks to every worker (several workers only).
const TICK_EVERY: i64 = tw_detect::time::SECOND;

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

    /// [`Worker::frame`] with the link clock of a dispatcher (several
    /// workers: from a batch, or run inline by the dispatcher's thread).
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

    fn batch(&mut self, b: &Batch) {
        if let Some((r, seen)) = self.reload.as_mut() {
            if let Some(cfg) = r.newer(seen) {
                let cfg = (*cfg).clone();
                let detectors = tw_detect::detectors::default_detectors(&cfg);
                self.engine.set_detectors(cfg, detectors);
            }
        }
        for f in &b.frames {
            let end = (f.start + f.len) as usize;
            if let Some(data) = b.data.get(f.start as usize..end) {
                self.frame_linked(f.linktype, data, f.ts, f.wire_len, f.link);
            }
        }
        if let Some(t) = b.tick {
            self.engine.tick(t);
        }
        self.after_batch();
    }

    /// End of input: every flow ends, events and counters go out.
    pub fn finish(mut self) -> Stats {
        self.engine.finish();
        self.after_batch();
        self.engine.stats().clone()
    }
}

/// How shards are spread over `n` workers. The thread that runs worker 0
/// inline also reads and dispatches: it takes [`INLINE_PARTS`] parts of the
/// shards and every other worker [`OTHER_PARTS`], so that both kinds of
/// thread are about equally busy; otherwise every worker takes one share of n.
#[derive(Debug, Clone, Copy)]
struct Shares {
    n: usize,
    inline: bool,
}

/// Parts of the shards for the inline worker and for each other worker
/// (see docs/performance.md for the measurement that chose them).
const INLINE_PARTS: usize = PARTS.0;
const OTHER_PARTS: usize = PARTS.1;
const PARTS: (usize, usize) = (1, 2);

fn shares(n: usize, inline: bool) -> Shares {
    Shares {
        n: n.max(1),
        inline: inline && n > 1,
    }
}

impl Shares {
    fn total(self) -> usize {
        INLINE_PARTS + OTHER_PARTS * (self.n - 1)
    }

    /// Worker `i`'s share of the shards (and of the tables), as a fraction.
    fn of(self, i: usize) -> (usize, usize) {
        match (self.inline, i) {
            (true, 0) => (INLINE_PARTS, self.total()),
            (true, _) => (OTHER_PARTS, self.total()),
            (false, _) => (1, self.n),
        }
    }

    /// The worker of shard key `k`.
    fn worker_of(self, k: u64) -> usize {
        if self.inline {
            match (k % self.total() as u64) as usize {
                s if s < INLINE_PARTS => 0,
                s => 1 + (s - INLINE_PARTS) / OTHER_PARTS,
            }
        } else {
            (k % self.n as u64) as usize
        }
    }
}

/// Sends frames to N worker threads.
pub struct Dispatcher {
    /// One clock over every frame this dispatcher hands out.
    link: tw_detect::link::LinkClock,
    /// Packet time of the latest frame, and of the latest tick to all.
    last_ts: i64,
    last_tick: i64,
    senders: Vec<Sender<Batch>>,
    pending: Vec<Batch>,
    pool: Receiver<Batch>,
    /// Worker 0 run on this dispatcher's own thread (replay): its frames are
    /// processed as they are pushed, without a copy or a hand-over.
    inline: Option<Worker>,
}

/// Worker threads started by [`spawn_workers`].
pub struct Workers {
    pub handles: Vec<std::thread::JoinHandle<Stats>>,
    senders: Vec<Sender<Batch>>,
    pool_rx: Receiver<Batch>,
    /// Worker 0, when it runs inline in the (single) dispatcher's thread.
    inline: Option<Worker>,
    /// Whether worker 0 was made to run inline.
    inline_mode: bool,
}

/// Starts `n` workers. Their detector settings follow `reload` when given
/// (live). With `inline_first`, worker 0 is not a thread: the single
/// producing thread runs it itself (replay: with two cores, the reading
/// thread and one worker thread keep both busy, where a reader and two
/// worker threads would contend); take that one dispatcher with
/// [`Workers::inline_dispatcher`].
#[allow(clippy::too_many_arguments)]
pub fn spawn_workers(
    n: usize,
    cfg: &EngineConfig,
    metrics: &Arc<Metrics>,
    events: &Sender<Event>,
    backpressure: EventBackpressure,
    kernel_drops: &Arc<AtomicU64>,
    reload: Option<Arc<Reloadable>>,
    inline_first: bool,
) -> anyhow::Result<Workers> {
    let (pool_tx, pool_rx) = bounded::<Batch>(n * (QUEUE_BATCHES + 2) + 8);
    // The configured table sizes are totals: each worker gets its share,
    // in proportion to the shards it gets.
    let total = cfg;
    let cfg_of = |i: usize| {
        let (num, den) = shares(n, inline_first).of(i);
        let part = |x: usize| (x * num).div_ceil(den).max(1);
        let mut c = total.clone();
        c.flows.max_flows = part(total.flows.max_flows);
        c.flows.max_unconfirmed = part(total.flows.max_unconfirmed);
        c.max_servers = part(total.max_servers);
        c.max_hello_buffers = part(total.max_hello_buffers);
        c
    };
    // Throttling compares flows to different servers, which different
    // workers handle: with several workers they share one judge.
    let judge = (n > 1).then(|| {
        tw_detect::detectors::throttle::SharedJudge::new(
            total.detectors.throttle.clone(),
            total.detectors.watch.clone(),
            n,
        )
    });
    let mut senders = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    let mut inline = None;
    for i in 0..n {
        let (tx, rx) = bounded::<Batch>(QUEUE_BATCHES);
        senders.push(tx);
        let mut w = Worker::new(
            &cfg_of(i),
            metrics.clone(),
            events.clone(),
            backpressure,
            kernel_drops.clone(),
        );
        if let Some(j) = &judge {
            w.engine.share_judge(j.clone(), i);
        }
        w.reload = reload.clone().map(|r| {
            let seen = r.generation.load(Ordering::Acquire);
            (r, seen)
        });
        if i == 0 && inline_first {
            // Its channel stays unused: the dispatcher calls it directly.
            inline = Some(w);
            continue;
        }
        let pool_tx = pool_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("tw-worker-{i}"))
            .spawn(move || {
                while let Ok(mut b) = rx.recv() {
                    w.batch(&b);
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
        inline_mode: inline.is_some(),
        inline,
    })
}

impl Workers {
    /// A dispatcher feeding these workers (one per producing thread).
    ///
    /// Panics when worker 0 runs inline (its frames would have nowhere to
    /// go): take [`Workers::inline_dispatcher`] instead, once.
    pub fn dispatcher(&self) -> Dispatcher {
        assert!(
            !self.inline_mode,
            "these workers run worker 0 inline: use inline_dispatcher()"
        );
        self.new_dispatcher()
    }

    fn new_dispatcher(&self) -> Dispatcher {
        Dispatcher {
            link: tw_detect::link::LinkClock::default(),
            last_ts: i64::MIN,
            last_tick: i64::MIN,
            senders: self.senders.clone(),
            pending: (0..self.senders.len()).map(|_| Batch::default()).collect(),
            pool: self.pool_rx.clone(),
            inline: None,
        }
    }

    /// The dispatcher that runs worker 0 inline (after
    /// [`spawn_workers`] with `inline_first`; the only dispatcher of these workers).
    /// Finish it with [`Dispatcher::finish`] to get worker 0's counters.
    pub fn inline_dispatcher(&mut self) -> Dispatcher {
        let inline = self.inline.take();
        assert!(
            inline.is_some() || !self.inline_mode,
            "the inline dispatcher was already taken"
        );
        let mut d = self.new_dispatcher();
        d.inline = inline;
        d
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
        // Every worker's packet time advances at least once a second of
        // capture time, even a worker that gets no frames: cross-worker
        // decisions (throttling) wait for the slowest worker.
        if n > 1 && self.last_ts != i64::MIN && ts.saturating_sub(self.last_tick) >= TICK_EVERY {
            self.last_tick = ts;
            self.flush(Some(self.last_ts));
        }
        self.last_ts = self.last_ts.max(ts);
        let shard = if n == 1 {
            None
        } else {
            tw_detect::shard_of_frame(linktype, data)
        };
        let w = shard.map_or(0, |k| shares(n, self.inline.is_some()).worker_of(k));
        self.link.observe(linktype, data, ts);
        let link = self.link;
        if w == 0 {
            if let Some(iw) = self.inline.as_mut() {
                iw.frame_linked(linktype, data, ts, wire_len, link);
                return;
            }
        }
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

    /// Sends what is pending and, when this dispatcher runs worker 0
    /// inline, ends that worker's flows and returns its counters.
    pub fn finish(mut self) -> Option<Stats> {
        self.flush(None);
        self.inline.take().map(Worker::finish)
    }

    /// Sends every partly filled batch (and, if given, a time tick to all).
    pub fn flush(&mut self, tick: Option<i64>) {
        if let Some(iw) = self.inline.as_mut() {
            if let Some(t) = tick {
                iw.engine.tick(t);
            }
            iw.after_batch();
        }
        for w in 0..self.pending.len() {
            if w == 0 && self.inline.is_some() {
                continue;
            }
            let has = self.pending.get(w).is_some_and(|b| !b.frames.is_empty());
            if has || tick.is_some() {
                if let Some(b) = self.pending.get_mut(w) {
                    b.tick = tick;
                }
                self.send(w);
            }
        }
    }
}

impl Drop for Dispatcher {
    /// Sends what is pending; an inline worker not ended by
    /// [`Dispatcher::finish`] (an early return) still ends its flows, so
    /// that their events and the shared judge's progress are not lost.
    fn drop(&mut self) {
        self.flush(None);
        if let Some(w) = self.inline.take() {
            w.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_follow_the_shares() {
        // Over many shard keys, each worker gets the fraction `of` says
        // (the tables are sized by it), every worker gets some, and none
        // is out of range.
        for n in 1..=5 {
            for inline in [false, true] {
                let s = shares(n, inline);
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
                        "n {n} inline {inline} worker {i}: {share} vs {want}"
                    );
                }
                assert!((sum - 1.0).abs() < 1e-9, "n {n} inline {inline}: {sum}");
            }
        }
        // the inline worker takes fewer parts than the others
        assert_eq!(
            shares(2, true).of(0),
            (INLINE_PARTS, INLINE_PARTS + OTHER_PARTS)
        );
        const { assert!(INLINE_PARTS < OTHER_PARTS) };
    }
}
