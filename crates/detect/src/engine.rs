//! The engine: decode → flow tables → detectors → events, for one worker.

use crate::decode::{decode, Packet, Transport, Undecoded};
use crate::detectors::{Ctx, Detector, ServerState};
use crate::event::Event;
use crate::flow::{
    first_is_server, port_rank, Dir, EndCause, Flow, FlowConfig, FlowKey, FlowTables, Lookup,
    TcpState,
};
use crate::lru::Lru;
use crate::stats::{FlowOutcome, FlowProto, PacketProto, Stats};
use crate::time::{Nanos, MILLI, SECOND};
use std::net::IpAddr;

/// Engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Flow-table limits and timeouts.
    pub flows: FlowConfig,
    /// Maximum servers with baseline state.
    pub max_servers: usize,
    /// ClientHello reassembly buffers (up to 4 KiB each) held at once; a
    /// ClientHello cut into segments while all are in use is not read
    /// (single-segment ones always are). Bounds what a flood of partial TLS
    /// records from spoofed sources can allocate.
    pub max_hello_buffers: usize,
    /// How long after kernel drops evidence is marked as possibly incomplete.
    pub capture_loss_window: Nanos,
    /// Detector settings.
    pub detectors: crate::detectors::DetectorsConfig,
    /// The vantage point's own addresses, as the operator names them (see
    /// [`crate::local`]); a live run adds its interfaces' addresses
    /// ([`Engine::note_local_addresses`]).
    pub local_addresses: Vec<IpAddr>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            flows: FlowConfig::default(),
            max_servers: 16_384,
            max_hello_buffers: 4096,
            capture_loss_window: 60 * SECOND,
            detectors: Default::default(),
            local_addresses: Vec::new(),
        }
    }
}

/// One worker's pipeline state. Feed it frames in capture order.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    tables: FlowTables,
    sh: Shared,
    now: Nanos,
    /// The next sweep point (see `Engine::advance`).
    next_sweep: Nanos,
    /// The next sweep point at which idle server entries are removed.
    next_server_sweep: Nanos,
    /// How long a server's entry outlives its last packet: [`SERVER_IDLE`],
    /// or twice the longest flow timeout if that is longer (a flow's end
    /// reads its server's entry).
    server_idle: Nanos,
    kernel_drops: u64,
    last_drop_ts: Option<Nanos>,
    /// The engine keeps the link clock from its own packets (one worker).
    own_link: bool,
    /// The link clock's keeper when `own_link`.
    link_tracker: crate::link::LinkTracker,
    /// This engine counts the link's connectivity checks in its stats (one
    /// engine of several does: they all see the same clock).
    pub reports_link: bool,
    judge: JudgeHandle,
    judged: Vec<Event>,
    /// Kernel drops noted and not yet handed to the judge: (packet time,
    /// capture-loss window).
    drops_for_judge: Vec<(Nanos, Nanos)>,
}

/// Everything but the flow tables: what detectors use while a flow is
/// borrowed from the tables.
#[derive(Debug)]
struct Shared {
    servers: Lru<IpAddr, ServerState>,
    detectors: Vec<Box<dyn Detector>>,
    stats: Stats,
    events: Vec<Event>,
    watch: crate::watch::WatchList,
    link: crate::link::LinkClock,
    /// When the live capture's link was down (see [`Engine::note_link_down`]).
    link_down: crate::linkdown::LinkDown,
    /// The vantage point's own addresses.
    local: crate::local::LocalAddrs,
    /// Flows ending now are ending at this packet time (a sweep point, the
    /// packet being processed, or the end of input: `Nanos::MAX`): what the
    /// link clock says after it is not known to every worker alike.
    ending_at: Nanos,
    /// Whether the capture dropped packets lately (set for each input).
    lossy: bool,
    /// Flow rates not yet handed to the throttling judge.
    rates: Vec<crate::detectors::throttle::RateRecord>,
    /// See [`crate::detectors::throttle::Judge::end_delay`].
    end_delay: Nanos,
    /// ClientHello reassembly buffers held by flows now, and the limit.
    hello_buffers: usize,
    max_hello_buffers: usize,
}

/// Where flow rates are judged: in this engine, or in a judge shared by
/// several workers.
#[derive(Debug)]
enum JudgeHandle {
    Local(Box<crate::detectors::throttle::Judge>),
    Shared(crate::detectors::throttle::SharedJudge, usize),
}

impl Shared {
    /// A detector context at packet time `now`, with the detectors and the
    /// per-server table (borrowed apart).
    fn split(
        &mut self,
        now: Nanos,
    ) -> (
        Ctx<'_>,
        &mut [Box<dyn Detector>],
        &mut Lru<IpAddr, ServerState>,
    ) {
        let Shared {
            servers,
            detectors,
            stats,
            events,
            watch,
            link,
            link_down,
            local,
            lossy,
            rates,
            end_delay,
            ..
        } = self;
        (
            Ctx {
                now,
                capture_lossy: *lossy,
                until: now,
                link,
                link_down,
                local,
                watch,
                events,
                stats,
                rates,
                end_delay: *end_delay,
            },
            detectors,
            servers,
        )
    }
}

/// Expiry runs at most this often (packet time), at the multiples of it.
pub(crate) const EXPIRE_EVERY: Nanos = 100 * MILLI;

/// A frame stamped more than this before the newest frame before it is
/// counted ([`crate::stats::Stats::packets_behind`]): real captures jitter
/// by microseconds (the engine is exact within 100 ms, `flow::LINK_SLACK`),
/// so a second means the capture's clock was stepped back while it was
/// written, or captures were merged out of order. (A live capture keeps
/// its times steady across steps of the host's clock: `tw_capture::clock`.)
pub const BEHIND: Nanos = crate::time::SECOND;

/// A server's entry in the per-server table (its baselines) is removed
/// once the server has been silent this long (at least; see
/// `Engine::server_idle`), at a sweep point that is a multiple of
/// [`SERVER_SWEEP_EVERY`]. Time decides it, not the table's fill, so one
/// worker and several remove the same entries at the same places among the
/// server's packets.
pub const SERVER_IDLE: Nanos = 3_600 * crate::time::SECOND;

/// Idle server entries are looked for this often (packet time).
pub(crate) const SERVER_SWEEP_EVERY: Nanos = 60 * crate::time::SECOND;

/// The latest sweep point at or before `t` (a multiple of [`EXPIRE_EVERY`];
/// the earliest time there is, at the very bottom of the range).
fn sweep_point(t: Nanos) -> Nanos {
    t.saturating_sub(t.rem_euclid(EXPIRE_EVERY))
}

impl Engine {
    /// An engine with the given detectors.
    pub fn new(cfg: EngineConfig, detectors: Vec<Box<dyn Detector>>) -> Engine {
        let server_idle = SERVER_IDLE.max(cfg.flows.longest_timeout().saturating_mul(2));
        Engine {
            tables: FlowTables::new(cfg.flows.clone()),
            sh: Shared {
                servers: Lru::new(cfg.max_servers),
                detectors,
                stats: Stats {
                    by_group: vec![
                        [0; crate::stats::Signature::COUNT];
                        cfg.detectors.watch.len() + 1
                    ],
                    group_targets: vec![
                        [0; crate::stats::GroupTarget::COUNT];
                        cfg.detectors.watch.len() + 1
                    ],
                    downloads: vec![0; cfg.detectors.watch.len() + 1],
                    throttle_limit: vec![(0, 0); cfg.detectors.watch.len() + 1],
                    ..Stats::default()
                },
                events: Vec::with_capacity(64),
                watch: cfg.detectors.watch.clone(),
                link: crate::link::LinkClock::default(),
                link_down: crate::linkdown::LinkDown::default(),
                local: crate::local::LocalAddrs::new(&cfg.local_addresses, 0),
                ending_at: Nanos::MAX,
                lossy: false,
                rates: Vec::new(),
                end_delay: crate::detectors::throttle::Judge::end_delay(&cfg.flows),
                hello_buffers: 0,
                max_hello_buffers: cfg.max_hello_buffers,
            },
            now: Nanos::MIN,
            next_sweep: Nanos::MIN,
            next_server_sweep: Nanos::MIN,
            server_idle,
            kernel_drops: 0,
            last_drop_ts: None,
            own_link: true,
            link_tracker: crate::link::LinkTracker::default(),
            reports_link: true,
            judge: JudgeHandle::Local(Box::new(crate::detectors::throttle::Judge::new(
                cfg.detectors.throttle.clone(),
                cfg.detectors.watch.clone(),
            ))),
            judged: Vec::new(),
            drops_for_judge: Vec::new(),
            cfg,
        }
    }

    /// Makes this engine worker `worker` of several sharing `judge` (the
    /// throttling comparisons span every worker's flows).
    pub fn share_judge(&mut self, judge: crate::detectors::throttle::SharedJudge, worker: usize) {
        self.judge = JudgeHandle::Shared(judge, worker);
    }

    /// Hands pending flow rates to the judge and collects its decisions,
    /// as of packet time `progress`.
    fn run_judge(&mut self, progress: Nanos) {
        if progress == Nanos::MIN {
            return;
        }
        let mut out = std::mem::take(&mut self.judged);
        let (dropped, excused) = match &mut self.judge {
            JudgeHandle::Local(j) => {
                for (at, window) in self.drops_for_judge.drain(..) {
                    j.note_capture_drop(at, window);
                }
                j.note_link_down(&self.sh.link_down);
                let mut dropped = 0;
                for r in self.sh.rates.drain(..) {
                    dropped += u64::from(!j.submit(r));
                }
                j.advance(progress.saturating_sub(1), &mut out);
                (dropped, j.take_link_down_excused())
            }
            JudgeHandle::Shared(j, w) => j.sync(
                *w,
                &mut self.sh.rates,
                &mut self.drops_for_judge,
                &self.sh.link_down,
                progress,
                &mut out,
            ),
        };
        self.sh.stats.throttle_records_dropped += dropped;
        self.sh.stats.link_down_excused[crate::stats::LinkDownExcused::Throttling.idx()] += excused;
        for e in out.drain(..) {
            crate::detectors::throttle::account(&mut self.sh.stats, &self.sh.watch, &e);
            self.sh.events.push(e);
        }
        self.judged = out;
    }

    /// Replaces the detectors and their settings (a configuration reload),
    /// keeping flows, per-server state and counters. The watch list must
    /// keep the same groups in the same order (counters are per group).
    pub fn set_detectors(
        &mut self,
        cfg: crate::detectors::DetectorsConfig,
        detectors: Vec<Box<dyn Detector>>,
    ) {
        debug_assert_eq!(cfg.watch.names(), self.cfg.detectors.watch.names());
        self.sh.watch = cfg.watch.clone();
        self.sh.detectors = detectors;
        match &mut self.judge {
            JudgeHandle::Local(j) => j.set_config(cfg.throttle.clone(), cfg.watch.clone()),
            JudgeHandle::Shared(j, _) => j.set_config(cfg.throttle.clone(), cfg.watch.clone()),
        }
        self.cfg.detectors = cfg;
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.sh.stats
    }

    /// Flows tracked now.
    pub fn flows_tracked(&self) -> usize {
        self.tables.len()
    }

    /// Packet time of the newest input (`None` before the first).
    pub fn now(&self) -> Option<Nanos> {
        (self.now != Nanos::MIN).then_some(self.now)
    }

    /// Hands every pending event to `f`, in emission order.
    pub fn drain_events(&mut self, mut f: impl FnMut(Event)) {
        self.run_judge(self.now);
        for e in self.sh.events.drain(..) {
            f(e);
        }
    }

    /// Tells the engine the capture's cumulative kernel drop count; a rise
    /// marks evidence in the following `capture_loss_window` as lossy.
    pub fn note_kernel_drops(&mut self, total: u64) {
        if total > self.kernel_drops {
            self.kernel_drops = total;
            if self.now != Nanos::MIN {
                self.last_drop_ts = Some(self.now);
                // the throttling judge marks its events by the same rule,
                // by their record's packet time
                let d = (self.now, self.cfg.capture_loss_window);
                if self.drops_for_judge.last() != Some(&d) && self.drops_for_judge.len() < 4096 {
                    self.drops_for_judge.push(d);
                }
            }
        }
    }

    /// Tells the engine when the live capture's link was down (the
    /// interface administratively down or without carrier), as a log of
    /// periods in packet time ([`crate::linkdown::LinkDown`]); an older
    /// copy than the one held (by its version) changes nothing. `blackhole`
    /// does not report a flow whose silence overlaps a period, and the
    /// throttling judge does not judge a record whose span does (both count
    /// them instead: [`Stats::link_down_excused`]). Replays never call it.
    pub fn note_link_down(&mut self, log: &crate::linkdown::LinkDown) {
        if log.version() > self.sh.link_down.version() {
            self.sh.link_down = *log;
        }
    }

    /// The link-down periods as last noted.
    /// Takes the vantage point's own addresses as a live capture reads
    /// them (its interfaces'), with those the configuration names; a set
    /// of a version not newer than the one held changes nothing. Replays
    /// never call it.
    pub fn note_local_addresses(&mut self, l: &crate::local::LocalAddrs) {
        if l.version() > self.sh.local.version() {
            let mut v = l.addresses().to_vec();
            v.extend_from_slice(
                crate::local::LocalAddrs::new(&self.cfg.local_addresses, 0).addresses(),
            );
            self.sh.local = crate::local::LocalAddrs::with_networks(&v, l.version());
        }
    }

    /// The vantage point's own addresses held now.
    pub fn local_addresses(&self) -> &crate::local::LocalAddrs {
        &self.sh.local
    }

    /// See [`Engine::note_link_down`].
    pub fn link_down(&self) -> &crate::linkdown::LinkDown {
        &self.sh.link_down
    }

    fn capture_lossy(&self) -> bool {
        self.last_drop_ts
            .is_some_and(|t| self.now.saturating_sub(t) <= self.cfg.capture_loss_window)
    }

    /// Decodes and processes one captured frame (the engine keeps the
    /// link clock itself: the single-engine case).
    pub fn process_frame(&mut self, linktype: u32, data: &[u8], ts: Nanos, wire_len: u32) {
        self.own_link = true;
        self.process_frame_inner(linktype, data, ts, wire_len);
    }

    /// Processes a frame with the link clock as of this frame, computed by
    /// whoever saw every frame (the dispatcher of several workers).
    pub fn process_frame_linked(
        &mut self,
        linktype: u32,
        data: &[u8],
        ts: Nanos,
        wire_len: u32,
        link: crate::link::LinkClock,
    ) {
        self.own_link = false;
        self.set_link(link);
        self.process_frame_inner(linktype, data, ts, wire_len);
    }

    /// Looking a flow up ahead of its frame: the hash under which the flow
    /// of this frame is indexed (None when it is not a TCP or UDP packet),
    /// for [`Engine::prefetch_index`] and then [`Engine::prefetch_flow`],
    /// issued a frame or two before the frame is processed. Neither changes
    /// any state: what the engine does with the frame later is the same.
    pub fn lookup_hash(&self, linktype: u32, data: &[u8]) -> Option<u64> {
        let pkt = decode(linktype, data, 0, data.len() as u32).ok()?;
        self.tables.hash_of_packet(&pkt)
    }

    /// Asks the CPU for the index bucket of `hash` (see [`Engine::lookup_hash`]).
    pub fn prefetch_index(&self, hash: u64) {
        self.tables.prefetch_bucket(hash);
    }

    /// Asks the CPU for the flow slot that the index bucket of `hash` names
    /// (best after [`Engine::prefetch_index`] had time to bring the bucket).
    pub fn prefetch_flow(&self, hash: u64) {
        self.tables.prefetch_slot(hash);
    }

    /// Takes the link clock as of the next input, and counts what its
    /// connectivity checks said (when `reports_link`).
    #[inline]
    fn set_link(&mut self, link: crate::link::LinkClock) {
        let c = &link.captive;
        if self.reports_link && (c.portal_checks | c.online_checks) != 0 {
            let s = &mut self.sh.stats;
            // (monotonic: with several captures, clocks of different
            // dispatchers come in turn, each counting its own ring's checks)
            s.captive_checks[0] = s.captive_checks[0].max(u64::from(c.portal_checks));
            s.captive_checks[1] = s.captive_checks[1].max(u64::from(c.online_checks));
            s.captive_open = u64::from(c.open_at(link.now));
        }
        self.sh.link = link;
    }

    /// The link clock as of the last frame.
    pub fn link(&self) -> crate::link::LinkClock {
        self.sh.link
    }

    fn process_frame_inner(&mut self, linktype: u32, data: &[u8], ts: Nanos, wire_len: u32) {
        if !crate::time::in_range(ts) {
            self.time_out_of_range(wire_len);
            return;
        }
        let decoded = decode(linktype, data, ts, wire_len);
        if self.own_link {
            // every frame moves the link's clock, decodable or not, with the
            // event a dispatcher's `link::link_event` gives (the decoder's,
            // read here from the frame already decoded)
            let pkt = decoded.as_ref().ok();
            self.note_own_link(pkt, ts);
        }
        self.note_behind(ts);
        match decoded {
            Ok(pkt) => self.process_packet(&pkt),
            Err(Undecoded::NonIp) => {
                self.advance(ts);
                self.sh.stats.packets[PacketProto::NonIp.idx()] += 1;
                self.sh.stats.bytes[PacketProto::NonIp.idx()] += u64::from(wire_len);
            }
            Err(Undecoded::Error(e)) => {
                self.advance(ts);
                self.sh.stats.decode_errors[e.idx()] += 1;
                // Counted under packets too, so that errors are a share of packets.
                self.sh.stats.packets[PacketProto::OtherIp.idx()] += 1;
                self.sh.stats.bytes[PacketProto::OtherIp.idx()] += u64::from(wire_len);
            }
        }
    }

    /// Folds a frame (decoded, or not) into the engine's own link clock (one
    /// worker).
    #[inline]
    fn note_own_link(&mut self, pkt: Option<&Packet<'_>>, ts: Nanos) {
        let event = pkt.and_then(crate::link::of_packet);
        self.link_tracker
            .note(event, ts, || pkt.and_then(crate::link::reply_of));
        self.set_link(self.link_tracker.clock());
    }

    /// [`Engine::tick`] with the link clock of whoever saw every frame up to
    /// `now` (a dispatcher or shard reader): flows that end at the tick are
    /// judged knowing it, as a single engine would.
    pub fn tick_linked(&mut self, now: Nanos, link: crate::link::LinkClock) {
        self.own_link = false;
        self.set_link(link);
        self.tick(now);
    }

    /// Advances packet time without a packet (a live capture that is idle);
    /// flows idle past their timeouts end.
    pub fn tick(&mut self, now: Nanos) {
        if crate::time::in_range(now) {
            self.advance(now);
        }
    }

    /// A frame whose time is outside [`crate::time::in_range`]: counted as
    /// a decode error, under packets too, and otherwise left out.
    fn time_out_of_range(&mut self, wire_len: u32) {
        let stats = &mut self.sh.stats;
        stats.decode_errors[crate::stats::DecodeError::TimeOutOfRange.idx()] += 1;
        stats.packets[PacketProto::OtherIp.idx()] += 1;
        stats.bytes[PacketProto::OtherIp.idx()] += u64::from(wire_len);
    }

    /// Moves packet time to `ts` (if later). Flows idle past their timeouts
    /// end at sweep points, the multiples of [`EXPIRE_EVERY`] of packet
    /// time: when time reaches one, every flow that was stale at it ends,
    /// in the order they became stale. Sweep points do not depend on which
    /// frames an engine sees, so a worker that gets only its shard's frames
    /// (and the dispatcher's ticks) ends each server's flows at the same
    /// places among that server's packets as a single engine does: what a
    /// flow's end leaves in the per-server state (blackholing's "another port
    /// of this server worked") then reads the same to the flows after it.
    fn advance(&mut self, ts: Nanos) {
        if ts > self.now {
            self.now = ts;
            self.tables.note_time(ts);
        }
        if self.now >= self.next_sweep {
            let g = sweep_point(self.now);
            self.next_sweep = g.saturating_add(EXPIRE_EVERY);
            self.sh.lossy = self.capture_lossy();
            let Engine { tables, sh, .. } = self;
            tables.expire(g, &mut |f, cause| sh.end_flow(f, cause));
            sh.sweep(g);
            if g >= self.next_server_sweep {
                let g = g.saturating_sub(g.rem_euclid(SERVER_SWEEP_EVERY));
                self.next_server_sweep = g.saturating_add(SERVER_SWEEP_EVERY);
                let idle = self.server_idle;
                self.sh
                    .servers
                    .retain(|s| g.saturating_sub(s.last_seen) <= idle);
            }
        }
    }

    /// Processes one decoded packet.
    pub fn process(&mut self, pkt: &Packet<'_>) {
        if !crate::time::in_range(pkt.ts) {
            self.time_out_of_range(pkt.wire_len);
            return;
        }
        if self.own_link {
            self.note_own_link(Some(pkt), pkt.ts);
        }
        self.note_behind(pkt.ts);
        self.process_packet(pkt);
    }

    /// Counts a frame stamped more than [`BEHIND`] before the newest frame
    /// of the link (the link clock includes this frame, and is the same for
    /// every worker: the count is too).
    #[inline]
    fn note_behind(&mut self, ts: Nanos) {
        if ts < self.sh.link.now.saturating_sub(BEHIND) {
            self.sh.stats.packets_behind += 1;
        }
    }

    /// [`Engine::process`], the link clock already updated.
    fn process_packet(&mut self, pkt: &Packet<'_>) {
        self.advance(pkt.ts);
        let proto = pkt.proto();
        self.sh.stats.packets[proto.idx()] += 1;
        self.sh.stats.bytes[proto.idx()] += u64::from(pkt.wire_len);
        let (fproto, sport, dport) = match &pkt.l4 {
            Transport::Tcp(t) => (FlowProto::Tcp, t.sport, t.dport),
            Transport::Udp(u) => (FlowProto::Udp, u.sport, u.dport),
            Transport::Icmp(i) => {
                self.process_icmp(pkt, i);
                return;
            }
            Transport::Other(_) => return,
        };
        // Detectors see the packet's own time (the engine clock is the
        // newest time seen, which only drives expiry).
        let now = pkt.ts;
        self.sh.lossy = self.capture_lossy();
        self.sh.ending_at = now;
        let Engine { tables, sh, .. } = self;
        let loc = match tables.lookup_or_create(pkt, fproto, sport, dport, &mut |f, cause| {
            sh.end_flow(f, cause)
        }) {
            Lookup::Found(loc) => loc,
            Lookup::Untracked => {
                sh.stats.untracked_packets += 1;
                let (mut ctx, detectors, _) = sh.split(now);
                for d in detectors.iter_mut() {
                    d.on_untracked(&mut ctx, pkt);
                }
                return;
            }
        };
        let Some(flow) = tables.flow_mut(loc) else {
            return;
        };
        let new_flow = flow.dirs[0].packets == 0 && flow.dirs[1].packets == 0;
        let dir = flow.dir_of(pkt.ip.src, sport);
        let had_synack = flow.synack_ts().is_some();
        let server_had_spoken = flow.server_answered();
        flow.observe(pkt, dir);
        if dir == Dir::ToServer {
            if let Transport::Tcp(t) = &pkt.l4 {
                if t.payload_len > 0
                    && (flow.ext.target.is_none()
                        || flow.ext.hello_buf.is_some()
                        || flow.ext.hello.is_none())
                {
                    let first = flow.dirs[0]
                        .first_payload()
                        .is_some_and(|(ts, seq)| ts == pkt.ts && seq == t.seq);
                    if first || flow.ext.hello_buf.is_some() {
                        let had = flow.ext.hello_buf.is_some();
                        let may_buffer = sh.hello_buffers < sh.max_hello_buffers;
                        if flow.ext.client_data(first, t.seq, t.payload, may_buffer) {
                            sh.stats.hello_buffers_exhausted += 1;
                        }
                        match (had, flow.ext.hello_buf.is_some()) {
                            (false, true) => sh.hello_buffers += 1,
                            (true, false) => sh.hello_buffers = sh.hello_buffers.saturating_sub(1),
                            _ => {}
                        }
                    }
                }
            }
        }
        let server_ip = flow.server_ip();
        let fresh_rtt = if !had_synack {
            flow.handshake_rtt()
        } else {
            None
        };
        let first_answer = dir == Dir::ToClient && !server_had_spoken;
        if new_flow {
            sh.stats.flows_started[fproto.idx()] += 1;
            sh.stats.flows_active[fproto.idx()] += 1;
            sh.stats.flows_peak = sh.stats.flows_peak.max(sh.stats.flows_active.iter().sum());
        }
        let (mut ctx, detectors, servers) = sh.split(now);
        let Some(server) = servers.get_or_insert_hinted(
            &mut flow.server_hint,
            server_ip,
            now,
            || ServerState {
                ip: Some(server_ip),
                first_seen: now,
                ..Default::default()
            },
            |_, _| ctx.stats.server_evictions += 1,
        ) else {
            return;
        };
        server.last_seen = now;
        if new_flow {
            server.flows = server.flows.saturating_add(1);
        }
        if first_answer {
            server.answered = server.answered.saturating_add(1);
        }
        if dir == Dir::ToClient {
            server.ttl_last = pkt.ip.ttl;
        }
        if let Some(rtt) = fresh_rtt {
            // (this packet is the SYN/ACK)
            server.note_rtt(rtt, pkt.ip.ttl, pkt.ip.df, flow.server_port());
        }
        for d in detectors.iter_mut() {
            d.on_packet(&mut ctx, pkt, flow, dir, server);
        }
        tables.settle(loc, &mut |f, cause| sh.end_flow(f, cause));
    }

    fn process_icmp(&mut self, pkt: &Packet<'_>, icmp: &crate::decode::IcmpInfo) {
        self.sh.lossy = self.capture_lossy();
        let mut flow = None;
        if let Some(q) = icmp.quoted {
            if let (Some(sp), Some(dp), 6 | 17) = (q.sport, q.dport, q.proto) {
                let (key, _) = FlowKey::new(q.proto, q.src, sp, q.dst, dp);
                flow = self.tables.find(&key);
            }
        }
        let Engine { tables, sh, .. } = self;
        let (mut ctx, detectors, _) = sh.split(pkt.ts);
        let mut f = flow.and_then(|l| tables.flow_mut(l));
        for d in detectors.iter_mut() {
            d.on_icmp(&mut ctx, pkt, icmp, f.as_deref_mut());
        }
    }

    /// End of input: every flow still tracked ends (flows that had closed
    /// keep their outcome; others are `unfinished`, UDP flows report whether
    /// they were answered).
    pub fn finish(&mut self) {
        self.sh.lossy = self.capture_lossy();
        let Engine { tables, sh, .. } = self;
        tables.drain(&mut |f, cause| sh.end_flow(f, cause));
        // (what detectors held back is decided now: a replay loses nothing)
        sh.sweep(Nanos::MAX);
        self.run_judge(Nanos::MAX);
    }
}

impl Shared {
    /// Packet time reached the sweep point `at` (`Nanos::MAX`: the end of
    /// input): [`Detector::on_sweep`].
    fn sweep(&mut self, at: Nanos) {
        let (mut ctx, detectors, servers) = self.split(at);
        for d in detectors.iter_mut() {
            d.on_sweep(&mut ctx, at, servers);
        }
    }

    fn end_flow(&mut self, mut flow: Flow, cause: EndCause) {
        if flow.ext.hello_buf.take().is_some() {
            self.hello_buffers = self.hello_buffers.saturating_sub(1);
        }
        let outcome = match cause {
            EndCause::Idle(_) | EndCause::Replaced => flow.outcome(),
            EndCause::Evicted(r) => {
                self.stats.evictions[r.idx()] += 1;
                FlowOutcome::Evicted
            }
            EndCause::EndOfInput => match (flow.proto, flow.tcp) {
                (FlowProto::Udp, _) | (FlowProto::Tcp, TcpState::Closed) => flow.outcome(),
                _ => FlowOutcome::Unfinished,
            },
        };
        // Evidence completed by a flow's end is stamped with the flow's last
        // packet: the evidence was complete then, and the stamp is the same
        // whatever ended the flow (timeout, eviction, end of input) and however
        // many workers share the capture.
        let now = flow.last_ts;
        let p = flow.proto.idx();
        self.stats.flows_finished[p][outcome.idx()] += 1;
        self.stats.flows_active[p] = self.stats.flows_active[p].saturating_sub(1);
        let kind = match flow.proto {
            FlowProto::Tcp => Some(crate::stats::GroupTarget::TcpFlow),
            FlowProto::Udp if flow.ext.bh.initials > 0 => Some(crate::stats::GroupTarget::QuicFlow),
            FlowProto::Udp => None,
        };
        if let Some(kind) = kind {
            crate::detectors::count_group_target(
                &self.watch,
                &mut self.stats,
                flow.ext.target.as_deref(),
                kind,
            );
        }
        let server_ip = flow.server_ip();
        // What every worker's link clock holds when the flow ends: up to the
        // time it went stale (whenever a sweep or a packet found it so), the
        // packet that pushed it out, or everything at the end of input.
        let ending_at = match cause {
            EndCause::Idle(at) => at,
            EndCause::EndOfInput => Nanos::MAX,
            EndCause::Evicted(_) | EndCause::Replaced => self.ending_at,
        };
        let (mut ctx, detectors, servers) = self.split(now);
        // (a flow's events may be withheld for a captive-portal period that
        // began up to `CAPTIVE_LEAD` after its last packet, as far as every
        // worker knows the link clock when the flow ends)
        ctx.until = now
            .saturating_add(crate::link::CAPTIVE_LEAD)
            .min(ending_at)
            .max(now);
        let mut fallback = ServerState::default();
        let server = match servers.get_or_insert_hinted(
            &mut flow.server_hint,
            server_ip,
            now,
            || ServerState {
                ip: Some(server_ip),
                first_seen: now,
                // the flow's last packet was the server's latest known
                last_seen: now,
                ..Default::default()
            },
            |_, _| ctx.stats.server_evictions += 1,
        ) {
            Some(s) => s,
            None => &mut fallback,
        };
        if !flow.server_answered() {
            server.unanswered = server.unanswered.saturating_add(1);
        }
        for d in detectors.iter_mut() {
            d.on_flow_end(&mut ctx, &mut flow, outcome, server);
        }
        crate::detectors::blackhole::note_detections(&flow, server);
    }
}

/// The key the pipeline shards on: a hash of the flow's server address
/// (guessed from ports, the same for every packet of a flow), so that all
/// flows to one server are handled by one worker. ICMP errors shard by
/// the flow they quote. Deterministic across runs (FNV-1a, no seed): the
/// sharding must not depend on the process.
pub fn shard_key(pkt: &Packet<'_>) -> u64 {
    let (a, pa, b, pb) = match &pkt.l4 {
        Transport::Tcp(t) => (pkt.ip.src, t.sport, pkt.ip.dst, t.dport),
        Transport::Udp(u) => (pkt.ip.src, u.sport, pkt.ip.dst, u.dport),
        Transport::Icmp(i) => match i.quoted {
            Some(q) => (q.src, q.sport.unwrap_or(0), q.dst, q.dport.unwrap_or(0)),
            None => (pkt.ip.src, 0, pkt.ip.dst, 0),
        },
        Transport::Other(_) => (pkt.ip.src, 0, pkt.ip.dst, 0),
    };
    server_hash(a, pa, b, pb)
}

fn server_hash(a: IpAddr, pa: u16, b: IpAddr, pb: u16) -> u64 {
    match if first_is_server(a, pa, b, pb) { a } else { b } {
        IpAddr::V4(v) => fnv(&v.octets()),
        IpAddr::V6(v) => fnv(&v.octets()),
    }
}

/// FNV-1a over a server address's bytes (the shard key).
#[inline]
fn fnv(x: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in x {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The shard key of a raw frame (`None` for frames that do not decode: any
/// worker may count those). The common case (Ethernet with up to two VLAN
/// tags or raw IP, IPv4 without options or fragments, IPv6 without
/// extension headers, TCP or UDP) is read directly from fixed offsets; the
/// rest goes through the full decoder. Both give the same key.
pub fn shard_of_frame(linktype: u32, data: &[u8]) -> Option<u64> {
    fast_shard(linktype, data).or_else(|| decode(linktype, data, 0, 0).ok().map(|p| shard_key(&p)))
}

fn fast_shard(linktype: u32, d: &[u8]) -> Option<u64> {
    use crate::decode::linktype as lt;
    let ip = match linktype {
        lt::ETHERNET => {
            let mut off = 12;
            let mut et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
            for _ in 0..2 {
                if et == 0x8100 || et == 0x88a8 {
                    off += 4;
                    et = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
                }
            }
            if et != 0x0800 && et != 0x86dd {
                return None;
            }
            d.get(off + 2..)?
        }
        lt::RAW | lt::IPV4 | lt::IPV6 => d,
        _ => return None,
    };
    // The addresses stay raw bytes, compared as big-endian integers (the
    // order of `IpAddr` within one family): building `IpAddr`s here cost a
    // stalled store-to-load forward per frame on the dispatcher's thread.
    let (v6, proto, l4) = match ip.first()? >> 4 {
        4 => {
            // no options, no fragments
            if ip[0] != 0x45 || ip.get(6)? & 0x3f != 0 || *ip.get(7)? != 0 {
                return None;
            }
            (false, *ip.get(9)?, ip.get(20..)?)
        }
        6 => (true, *ip.get(6)?, ip.get(40..)?),
        _ => return None,
    };
    if proto != 6 && proto != 17 {
        return None;
    }
    let p = l4.get(..4)?;
    let pa = u16::from_be_bytes([p[0], p[1]]);
    let pb = u16::from_be_bytes([p[2], p[3]]);
    let (ra, rb) = (port_rank(pa), port_rank(pb));
    if v6 {
        let a: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
        let b: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
        let a_server = (ra, pa, u128::from_be_bytes(a)) < (rb, pb, u128::from_be_bytes(b));
        Some(fnv(if a_server { &a } else { &b }))
    } else {
        let a: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
        let b: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
        let a_server = (ra, pa, u32::from_be_bytes(a)) < (rb, pb, u32::from_be_bytes(b));
        Some(fnv(if a_server { &a } else { &b }))
    }
}

#[cfg(test)]
mod tests;
