//! `rst_injection`: forged TCP resets claiming to come from the server.
//!
//! An on-path injector cannot stop the real server's packets, so they race
//! in after the forged RST; an in-path box drops the request and resets the
//! connection itself. The rules (documented with their sources and traps in
//! `docs/signatures/rst_injection.md`):
//!
//! - strong, each sufficient: `data_after_rst` (the "server" keeps sending
//!   data, a SYN/ACK or new ACKs after its RST) and `rst_seq_burst` (several
//!   RSTs with sequence numbers beyond anything the server used, or equal
//!   ones with different TTL or window);
//! - header inconsistencies, which together must reach a score: `ttl_mismatch`,
//!   `ip_id_copied`, `ip_id_marker`, `ip_id_out_of_sequence`, `df_mismatch`,
//!   `too_fast`, `reserved_bits`, `rst_seq_behind`, and `no_server_data` as
//!   context (it adds to the score but is not one of the two rules needed).
//!
//! A RST in a flow where the server sent no data before it, over the path
//! of the server's answers in its other flows (see [`AnswerPaths`]: a SYN
//! proxy's origin), is not held against the flow's other server packets on
//! TTL, DF and IP ID sequence. (Each path also keeps the fastest answer
//! timed over it, which the HTTP detector uses; this excuse does not: a
//! reset's delay is timed from the client's latest SYN or data, which it
//! may not answer, and `too_fast` already weighs it.)
//!
//! Everything is weighed when the flow ends (at the latest `tcp_closed_linger`
//! after the RST), when the whole burst and everything the server sent after
//! the RST (a route change, a real answer) is known; the event is stamped
//! with the flow's last packet.

use crate::decode::{tcp_flags, Packet, TcpInfo, Transport};
use crate::detectors::{Ctx, Detector, ServerState};
use crate::flow::{seq_gt, seq_lt, Dir, Flow};
use crate::stats::{FlowOutcome, RstStage, Signature};
use crate::time::{Nanos, MILLI, SECOND};
use serde_json::{json, Map, Value};

/// Settings of the RST-injection detector.
#[derive(Debug, Clone, PartialEq)]
pub struct RstConfig {
    /// Run this detector (`false`: it is not built, costs nothing, and
    /// neither emits nor counts anything).
    pub enabled: bool,
    /// A RST's TTL this far (or farther) from the server's other packets is
    /// a mismatch. Load-balanced servers differ by one or two.
    pub ttl_tolerance: u8,
    /// A RST arriving sooner than this share of the handshake RTT after the
    /// client's last packet is too fast to come from the server.
    pub too_fast_share: f64,
    /// Paths faster than this are not judged by timing (LAN jitter).
    pub min_rtt_for_timing: Nanos,
    /// RSTs this long after the flow's previous packet are idle-timeout
    /// resets of middleboxes: header rules are not applied to them.
    pub idle_reset_after: Nanos,
    /// Header-rule score needed for an event (strong rules always suffice).
    pub min_score: f64,
    /// What to do with a reset that passed the rules but came from the
    /// first hop (see [`LocalResets`]).
    pub local_resets: LocalResets,
}

/// What to do with a reset from the vantage point's first hop: one that
/// arrived with an initial TTL (64, 128 or 255: no router passed it on),
/// all its RSTs alike, while the server's packets came from farther
/// (`ttl_mismatch`). That is the vantage point's own router or host, or the
/// box at the other end of its uplink: a censor there, or a firewall
/// resetting connections whose state it lost (a reload, a reboot, a short
/// idle timeout, with `ct state invalid reject with tcp reset`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LocalResets {
    /// Report it like any other, marked `"first_hop": true` in the evidence.
    #[default]
    Report,
    /// Count it in `tamperwatch_rst_first_hop_total{action="counted"}`
    /// and emit no event: for an operator whose own router resets lost
    /// connections, at the price of not seeing a censor at the first hop.
    Count,
}

impl LocalResets {
    /// Label values of `tamperwatch_rst_first_hop_total`, indexed by
    /// [`LocalResets::idx`].
    pub const ACTIONS: [&'static str; 2] = ["reported", "counted"];

    /// Index in [`crate::stats::Stats::rst_first_hop`] of what was done.
    pub fn idx(self) -> usize {
        match self {
            LocalResets::Report => 0,
            LocalResets::Count => 1,
        }
    }
}

impl Default for RstConfig {
    fn default() -> Self {
        RstConfig {
            enabled: true,
            ttl_tolerance: 3,
            too_fast_share: 0.5,
            min_rtt_for_timing: 2 * MILLI,
            idle_reset_after: 30 * SECOND,
            min_score: 0.6,
            local_resets: LocalResets::Report,
        }
    }
}

/// One RST claimed from the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RstRec {
    /// Arrival.
    pub ts: Nanos,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with `ack_flag`).
    pub ack: u32,
    /// ACK flag set.
    pub ack_flag: bool,
    /// The 12 flag bits.
    pub flags: u16,
    /// IP TTL.
    pub ttl: u8,
    /// IPv4 ID.
    pub ip_id: u16,
    /// IPv4 DF.
    pub df: bool,
    /// Window.
    pub window: u16,
    /// Payload length and its first ten bytes (Henan's RSTs carry a marker).
    pub payload_len: u16,
    /// First payload bytes.
    pub payload_head: [u8; 10],
}

/// What the server's own (non-RST) packets look like in this flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Non-RST server packets seen.
    pub packets: u32,
    /// Smallest TTL.
    pub ttl_min: u8,
    /// Largest TTL.
    pub ttl_max: u8,
    /// Last IPv4 IDs (newest last, `ids_len` valid).
    pub ids: [u16; 4],
    /// Valid entries in `ids`.
    pub ids_len: u8,
    /// `B_DF_SET`, `B_DF_CLEAR`, `B_PAYLOAD` (one byte for three flags: the
    /// struct takes 16 bytes, which leaves room in `RstFlow` for
    /// `answer_ms`).
    flags: u8,
}

/// `Baseline::flags`: a packet with DF set was seen.
const B_DF_SET: u8 = 1;
/// `Baseline::flags`: a packet with DF clear was seen.
const B_DF_CLEAR: u8 = 2;
/// `Baseline::flags`: a (non-RST) packet carried payload.
const B_PAYLOAD: u8 = 4;

impl Baseline {
    /// A packet with DF set was seen.
    pub fn df_set(&self) -> bool {
        self.flags & B_DF_SET != 0
    }

    /// A packet with DF clear was seen.
    pub fn df_clear(&self) -> bool {
        self.flags & B_DF_CLEAR != 0
    }

    /// A packet carried payload (non-RST).
    pub fn payload(&self) -> bool {
        self.flags & B_PAYLOAD != 0
    }

    fn add(&mut self, ttl: u8, df: bool, ip_id: Option<u16>, payload: u32) {
        if self.packets == 0 {
            self.ttl_min = ttl;
            self.ttl_max = ttl;
        }
        self.ttl_min = self.ttl_min.min(ttl);
        self.ttl_max = self.ttl_max.max(ttl);
        self.packets = self.packets.saturating_add(1);
        self.flags |= if df { B_DF_SET } else { B_DF_CLEAR };
        if let Some(id) = ip_id {
            if usize::from(self.ids_len) == self.ids.len() {
                // By hand: `rotate_left` is a call to memmove here.
                let [_, a, b, c] = self.ids;
                self.ids = [a, b, c, id];
            } else {
                self.ids[usize::from(self.ids_len)] = id;
                self.ids_len += 1;
            }
        }
        if payload > 0 {
            self.flags |= B_PAYLOAD;
        }
    }

    fn ids(&self) -> &[u16] {
        &self.ids[..usize::from(self.ids_len)]
    }

    /// Distance from `ttl` to the range of this baseline (0 inside).
    fn ttl_distance(&self, ttl: u8) -> u8 {
        if ttl < self.ttl_min {
            self.ttl_min - ttl
        } else {
            ttl.saturating_sub(self.ttl_max)
        }
    }

    /// Whether the IDs so far increase in small steps (a per-flow or global
    /// counter), so that an ID far off the sequence stands out.
    fn ids_sequential(&self) -> bool {
        let ids = self.ids();
        ids.len() >= 2
            && ids
                .windows(2)
                .all(|w| (1..=64).contains(&w[1].wrapping_sub(w[0])))
    }
}

/// Per-flow state of the RST detector: small, inline in every flow; the
/// records of a reset live in a box allocated at the flow's first server
/// RST (a few percent of flows), so that flows without one stay small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RstFlow {
    /// The server's non-RST packets before the first RST.
    pub before: Baseline,
    /// The client's last SYN or payload packet before the first RST
    /// (valid when `bits` has `HAS_TRIGGER`).
    trigger_ts: Nanos,
    /// Time of the flow's previous packet (either side).
    pub prev_ts: Nanos,
    /// The server's next sequence number after its last non-RST packet
    /// before the first RST (valid when `before.packets > 0`). Read from
    /// the flow before the RST itself moves it: a RST that carries payload
    /// (Henan's 10 bytes) advances the flow's own counter past its seq.
    pub server_next: u32,
    /// `HAS_TRIGGER`: `trigger_ts` is set; `PREV_CLIENT`: the flow's
    /// previous packet came from the client; bits 2-4: the segments in the
    /// server's latest run (see `run_len`); `TIME_NEXT`: the server's next
    /// packet that acknowledges all the client's data is timed (see
    /// `answer_ms`).
    bits: u8,
    /// Silence (ms) before the client's latest run of packets: a middlebox
    /// that dropped an idle connection's state resets the first packet
    /// after the silence at once (AWS NAT Gateway and NLB, 350 s).
    quiet_ms: u32,
    /// TTL of the server's latest run of in-order data segments before the
    /// first RST (all within one of it), and the run's length (saturating):
    /// an answer that goes on over one path is the server's (see
    /// [`AnswerPaths`]).
    run_ttl: u8,

    /// How long before `trigger_ts` the client's oldest SYN or data not yet
    /// answered by the server's data or SYN/ACK was sent, in ms, plus one
    /// (0: none waiting): the request a run of the server's data answers
    /// (the latest client data may be a pipelined second request).
    req_back_ms: u16,
    /// The fastest time, in ms plus one (0: none), from the client's
    /// latest data to the server's first packet after it that acknowledged
    /// all of it (its ACK of a request, or its answer's first segment), over
    /// the requests of this connection timed since the time was last
    /// recorded with an answer path: see [`AnswerPath::answer_ms`]. Kept
    /// from a request's answer to the segment that completes its run, when
    /// the path is recorded.
    answer_ms: u16,
    /// The low 16 bits of the acknowledgment number of the client's packet
    /// at `trigger_ts` (0 for a SYN): a RST with that sequence number
    /// answers it (see [`RstDetector::answers_client`]).
    trigger_ack: u16,
    /// Everything from the first server RST on.
    pub hit: Option<Box<RstHit>>,
}

impl RstFlow {
    /// Segments in the server's latest run (`RUN_NOTED`: recorded as an
    /// answer path; `RUN_VOID`: a run that vouches for nothing).
    fn run_len(&self) -> u8 {
        (self.bits >> 2) & 7
    }

    fn set_run_len(&mut self, n: u8) {
        self.bits = (self.bits & !(7 << 2)) | ((n & 7) << 2);
    }

    /// The client's last SYN or payload packet before the first RST.
    pub fn trigger(&self) -> Option<Nanos> {
        (self.bits & HAS_TRIGGER != 0).then_some(self.trigger_ts)
    }
}

/// What a flow showed from its first server RST on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RstHit {
    /// The server's non-RST packets after the first RST.
    pub after: Baseline,
    /// The server's RSTs (the first four).
    pub rsts: [RstRec; 4],
    /// RSTs recorded.
    pub n_rst: u8,
    /// Stage at the first RST.
    pub stage: RstStage,
    /// The server's next sequence number before the first RST.
    pub server_next_before: Option<u32>,
    /// First evidence that the server lived on after its RST.
    pub alive_after: Option<AfterRst>,
    /// Either side sent FIN before the first RST.
    pub fin_before: bool,
    /// Idle time before the first RST.
    pub idle_before: Nanos,
    /// The client reset the flow after the server's RST (its kernel
    /// answering the real server's late packets).
    pub client_rst_after: bool,
    /// The client sent a SYN after the server's RST (a retried connect, as
    /// Windows does after a refusal): a SYN/ACK after that answers it.
    pub syn_after_rst: bool,
    /// The client's latest packet with payload after the first RST: its
    /// arrival and acknowledgment number.
    pub client_data_after: Option<(Nanos, u32)>,
    /// Bit `i`: the `i`th RST had the shape of the server's own reply to a
    /// client segment ([`RstDetector::answers_client`]).
    pub answers_client: u8,
}

/// A server packet after its RST that a real endpoint would not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterRst {
    /// Arrival.
    pub ts: Nanos,
    /// What it was.
    pub kind: AfterKind,
    /// Its sequence number.
    pub seq: u32,
    /// Its payload length.
    pub len: u32,
    /// Its TTL.
    pub ttl: u8,
}

/// Kinds of life after a RST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterKind {
    /// The handshake's SYN/ACK, after a RST that answered the SYN.
    SynAck,
    /// New data (beyond the RST's sequence number).
    Data,
    /// An ACK acknowledging client data past the RST's acknowledgment.
    Ack,
}

impl AfterKind {
    fn as_str(self) -> &'static str {
        match self {
            AfterKind::SynAck => "syn_ack",
            AfterKind::Data => "data",
            AfterKind::Ack => "ack",
        }
    }
}

/// Per-server baseline (for RSTs in flows where the server never spoke).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RstServer {
    /// Non-RST packets of this server, over all its flows.
    pub base: Baseline,
    /// The paths the server's answers came over in its flows.
    pub answers: AnswerPaths,
}

/// Data segments in order over one path (TTL within one) that make an answer
/// the server's: a block page is one segment, and the HTTP detector holds a
/// response continued by two more segments over its path as the server's.
const ANSWER_RUN: u8 = 3;

/// A RST that answers the client's latest data came at least this share of
/// the server's round trip after it to be the server's own reply.
const SERVER_REPLY_SHARE: f64 = 0.75;

/// How many hops a host's reset sent with no socket may be off its
/// connection's path over IPv6: the reset's flow label is not the
/// connection's, and routers that balance on flow labels (RFC 6438) may send
/// it over another branch (the detector's `ttl_tolerance` for load
/// balancing, 3). Over IPv4 both share the 5-tuple and its branch.
const V6_RESET_BRANCH_HOPS: u8 = 3;

/// `RstFlow::bits`: the client sent a SYN or data (`trigger_ts` is set).
const HAS_TRIGGER: u8 = 1;

/// `RstFlow::bits`: the flow's previous packet came from the client.
const PREV_CLIENT: u8 = 2;

/// `RstFlow::run_len` of a run already recorded as an answer path.
const RUN_NOTED: u8 = 6;

/// `RstFlow::run_len` of a run that vouches for nothing (it started too
/// soon after the client's request to come from the server, or, at a plain
/// server, came off the connection's SYN/ACK path).
const RUN_VOID: u8 = 7;

/// `RstFlow::bits`: the client sent data (not a SYN) after a silence of at
/// most [`AWAKE_QUIET_MS`], and the server has not yet acknowledged all of
/// it: the server's first packet that does is timed (`RstFlow::answer_ms`).
const TIME_NEXT: u8 = 32;

/// A request sent after a longer silence of its connection is not timed: a
/// mobile radio that went idle wakes up for it (0.1 to 2 s), which an
/// answer time kept for later connections must not include. (Nor is a SYN:
/// the radio may wake up for it, and behind a SYN proxy its SYN/ACK is the
/// proxy's.)
const AWAKE_QUIET_MS: u32 = 1_000;

/// [`AnswerPath::answer_ms`] of a path over which no answer was timed.
pub const ANSWER_MS_UNKNOWN: u16 = u16::MAX;

/// One path a server's answers came over: the TTL, DF and server port of
/// the segment that completed a run of [`ANSWER_RUN`] in-order data
/// segments before any RST in its flow, and the fastest answer timed in
/// the connections whose runs made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerPath {
    /// IP TTL (hop limit).
    pub ttl: u8,
    /// IPv4 DF (false over IPv6).
    pub df: bool,
    /// The server's port.
    pub port: u16,
    /// The fastest time (ms, saturating) from a client's request to the
    /// server's first packet that acknowledged it whole (its ACK, or its
    /// answer's first segment), over the requests timed in the connections
    /// whose runs recorded this path, or recorded it again
    /// ([`ANSWER_MS_UNKNOWN`]: none timed, e.g. the runs were on connections
    /// picked up mid-stream, or their requests came after a silence). It is
    /// timed from the client's *latest* data and to the server's *first*
    /// reaction, which err short: a resent or pipelined request, a slow
    /// backend (whose ACK comes first) and a large answer do not lengthen
    /// it. Never learned from a run that vouches for nothing (one that
    /// started early: `RUN_VOID`).
    pub answer_ms: u16,
}

impl Default for AnswerPath {
    fn default() -> Self {
        AnswerPath {
            ttl: 0,
            df: false,
            port: 0,
            answer_ms: ANSWER_MS_UNKNOWN,
        }
    }
}

impl AnswerPath {
    /// Same TTL, DF and port (whatever the times).
    fn same_path(&self, o: &AnswerPath) -> bool {
        (self.ttl, self.df, self.port) == (o.ttl, o.df, o.port)
    }
}

/// The last four distinct [`AnswerPath`]s of a server, newest last.
///
/// Behind a SYN proxy (a DDoS scrubbing centre, a load balancer or CDN edge
/// that completes the handshake itself) the SYN/ACK comes over another path
/// than everything the origin sends: a RST from the origin before it sent
/// anything else in the connection differs from the SYN/ACK exactly as a
/// forged one would. What tells them apart is the origin's answers in the
/// server's other connections, which an injector cannot make: its forged
/// resets and one-segment pages do not make an answer that goes on over
/// its path.
///
/// Each path also keeps the fastest answer timed over it
/// ([`AnswerPath::answer_ms`]): behind a SYN proxy, a one-segment response
/// over the origin's path that comes much sooner than that is not the
/// origin's (`crate::detectors::http`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnswerPaths {
    paths: [AnswerPath; 4],
    len: u8,
}

impl AnswerPaths {
    /// Records `p` as the newest path (moving it up if already known, with
    /// the faster of the two answer times).
    pub fn note(&mut self, p: AnswerPath) {
        super::note_newest(
            &mut self.paths,
            &mut self.len,
            p,
            |q| q.same_path(&p),
            |p, q| p.answer_ms = p.answer_ms.min(q.answer_ms),
        );
    }

    /// An answer over `p`'s path took `p.answer_ms`: keeps the faster time
    /// if the path is known (else nothing; the order stays).
    pub fn note_time(&mut self, p: AnswerPath) {
        let n = usize::from(self.len);
        if let Some(q) = self.paths[..n].iter_mut().find(|q| q.same_path(&p)) {
            q.answer_ms = q.answer_ms.min(p.answer_ms);
        }
    }

    /// The fastest answer time known over the paths on `port` with the same
    /// DF whose TTL is less than `tol` from `ttl`: `None` when none fits,
    /// or when one that fits has no time (the answer may be that one's).
    pub(crate) fn fitting_answer_ms(&self, ttl: u8, df: bool, port: u16, tol: u8) -> Option<u16> {
        let mut fit = self
            .paths()
            .iter()
            .filter(|p| p.port == port && p.df == df && p.ttl.abs_diff(ttl) < tol)
            .map(|p| p.answer_ms)
            .peekable();
        fit.peek()?;
        fit.try_fold(ANSWER_MS_UNKNOWN, |m, a| {
            (a != ANSWER_MS_UNKNOWN).then_some(m.min(a))
        })
    }

    /// The paths, oldest first.
    pub fn paths(&self) -> &[AnswerPath] {
        &self.paths[..usize::from(self.len)]
    }

    /// The newest path on `port` with the same DF whose TTL is less than
    /// `tol` from `ttl`.
    pub(crate) fn fitting(&self, ttl: u8, df: bool, port: u16, tol: u8) -> Option<AnswerPath> {
        self.paths()
            .iter()
            .rev()
            .find(|p| p.port == port && p.df == df && p.ttl.abs_diff(ttl) < tol)
            .copied()
    }
}

/// The detector.
#[derive(Debug, Default)]
pub struct RstDetector {
    cfg: RstConfig,
}

impl RstDetector {
    /// A detector with these settings.
    pub fn new(cfg: RstConfig) -> Self {
        RstDetector { cfg }
    }
}

/// Known injector fingerprints: labels in the evidence, never grounds alone.
fn fingerprint(r: &RstRec, n_rst: u8, rsts: &[RstRec], v4: bool) -> Option<&'static str> {
    if r.payload_len == 10 && r.payload_head == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] {
        return Some("henan");
    }
    if !v4 {
        // the other looks are IPv4 IDs and DF, which IPv6 does not have
        return None;
    }
    if r.ip_id == 0x3412 && !r.df {
        return Some("sandvine");
    }
    if r.ip_id == 30000 {
        return Some("turkmenistan");
    }
    if (0x9916..=0x9933).contains(&r.ip_id) && r.ttl >= 240 {
        return Some("gfw_type3");
    }
    if n_rst >= 3 && rsts.iter().take(3).all(|x| x.df && x.ack_flag) {
        let wins: Vec<u16> = rsts.iter().take(3).map(|x| x.window).collect();
        if wins == [1980, 1981, 1982] {
            return Some("gfw_2025_port443");
        }
        return Some("gfw_type2");
    }
    if n_rst == 1 && !r.df && r.ip_id == 0 && !r.ack_flag {
        return Some("gfw_type1");
    }
    None
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro without Default
impl Default for RstStage {
    fn default() -> Self {
        RstStage::Later
    }
}

impl RstStage {
    fn at(flow: &Flow) -> RstStage {
        if flow.synack_ts().is_none() {
            if flow.syns > 0 {
                RstStage::AfterSyn
            } else {
                // picked up mid-stream (no handshake seen): whatever came
                // before is unknown, so the RST is judged like a late one
                RstStage::Later
            }
        } else if flow.dirs[Dir::ToServer.idx()].first_payload().is_none() {
            RstStage::AfterHandshake
        } else if !flow.ext.rst.before.payload() {
            RstStage::AfterRequest
        } else {
            RstStage::Later
        }
    }
}

struct Verdict {
    rules: Vec<&'static str>,
    score: f64,
    strong: bool,
    details: Map<String, Value>,
    /// The reset came from the first hop (see [`LocalResets`]).
    first_hop: bool,
}

impl RstDetector {
    /// A run of the server's data starting at `ts` came sooner after the
    /// request it answers (the client's oldest SYN or data not yet answered)
    /// than half the handshake's round trip (the server's fastest handshake
    /// for a flow picked up mid-stream): from closer than the server, such
    /// as an in-path box's multi-segment block page. It vouches for no path.
    fn run_starts_early(&self, flow: &Flow, server: &ServerState, ts: Nanos) -> bool {
        let st = &flow.ext.rst;
        let request = st
            .trigger()
            .map(|t| t.saturating_sub(i64::from(st.req_back_ms.saturating_sub(1)) * MILLI));
        flow.handshake_rtt()
            .or(server.rtt_min)
            .zip(request)
            .is_some_and(|(rtt, req)| {
                rtt >= self.cfg.min_rtt_for_timing
                    && ((ts - req) as f64) < rtt as f64 * self.cfg.too_fast_share
            })
    }

    fn on_server_tcp(
        &mut self,
        pkt: &Packet<'_>,
        t: &TcpInfo<'_>,
        flow: &mut Flow,
        server: &mut ServerState,
    ) {
        let ip_id = (pkt.ip.version == 4).then_some(pkt.ip.ip_id);
        if !t.rst() {
            server
                .ext
                .rst
                .base
                .add(pkt.ip.ttl, pkt.ip.df, ip_id, t.payload_len);
            let port = flow.server_port();
            // Server data before any RST extends the latest run of in-order
            // segments at one TTL or starts one: (in order, continues).
            let run = {
                let st = &flow.ext.rst;
                (st.hit.is_none() && t.payload_len > 0 && !t.syn()).then(|| {
                    // (picked up mid-stream, the first segment starts a run)
                    let in_order = st.before.packets == 0 || t.seq == st.server_next;
                    let continues =
                        in_order && st.run_len() > 0 && st.run_ttl.abs_diff(pkt.ip.ttl) <= 1;
                    (in_order, continues)
                })
            };
            // (worked out only where a run starts: most segments continue one)
            let early = run == Some((true, false)) && self.run_starts_early(flow, server, pkt.ts);
            let client_next = flow.dirs[Dir::ToServer.idx()].next_seq;
            let st = &mut flow.ext.rst;
            let Some(hit) = st.hit.as_deref_mut() else {
                // The server's first packet that acknowledges all the client
                // sent since its latest timed request: the answer's time.
                if st.bits & TIME_NEXT != 0
                    && !t.syn()
                    && t.ack_flag()
                    && !seq_lt(t.ack, client_next)
                {
                    st.bits &= !TIME_NEXT;
                    let ms = u16::try_from((pkt.ts - st.trigger_ts).max(0) / MILLI)
                        .unwrap_or(u16::MAX)
                        .min(ANSWER_MS_UNKNOWN - 1);
                    st.answer_ms = match st.answer_ms {
                        0 => ms + 1,
                        a => a.min(ms + 1),
                    };
                }
                if let Some((in_order, continues)) = run {
                    // A segment longer than an Ethernet MSS (GRO on the
                    // capture host: several of the sender's segments in one)
                    // counts as the segments it holds.
                    let segs = if t.payload_len <= 1460 {
                        1
                    } else {
                        u8::try_from(t.payload_len.div_ceil(1460)).unwrap_or(ANSWER_RUN)
                    };
                    if continues {
                        // (a run recorded, or that vouches for nothing, stays so)
                        if st.run_len() < ANSWER_RUN {
                            st.set_run_len(st.run_len().saturating_add(segs).min(ANSWER_RUN));
                        } else if st.run_len() == RUN_NOTED && st.answer_ms != 0 {
                            // a later answer on the connection (keep-alive):
                            // its time counts for the path it comes over
                            server.ext.rst.answers.note_time(AnswerPath {
                                ttl: pkt.ip.ttl,
                                df: pkt.ip.df,
                                port,
                                answer_ms: st.answer_ms - 1,
                            });
                            st.answer_ms = 0;
                        }
                    } else if in_order {
                        st.run_ttl = pkt.ip.ttl;
                        st.set_run_len(if early {
                            RUN_VOID
                        } else {
                            segs.min(ANSWER_RUN)
                        });
                    }
                    // At a plain server (its answers came over its SYN/ACKs'
                    // path), a run off this flow's SYN/ACK path is another
                    // sender's: a box that replaced the answer, however far
                    // from the client (found in review).
                    let tol = self.cfg.ttl_tolerance;
                    if in_order
                        && st.run_len() == ANSWER_RUN
                        && flow.ext.synack.is_some_and(|h| {
                            (h.ttl.abs_diff(pkt.ip.ttl) >= tol || h.df != pkt.ip.df)
                                && server
                                    .ext
                                    .rst
                                    .answers
                                    .fitting(h.ttl, h.df, port, tol)
                                    .is_some()
                        })
                    {
                        st.set_run_len(RUN_VOID);
                    }
                    if in_order && st.run_len() == ANSWER_RUN {
                        st.set_run_len(RUN_NOTED);
                        server.ext.rst.answers.note(AnswerPath {
                            ttl: pkt.ip.ttl,
                            df: pkt.ip.df,
                            port,
                            // (0, none timed: ANSWER_MS_UNKNOWN)
                            answer_ms: st.answer_ms.wrapping_sub(1),
                        });
                        st.answer_ms = 0;
                    }
                    // A run that vouches for nothing teaches no time either
                    // (an early run's is the box's).
                    if st.run_len() == RUN_VOID {
                        st.answer_ms = 0;
                    }
                }
                st.before.add(pkt.ip.ttl, pkt.ip.df, ip_id, t.payload_len);
                st.server_next = flow.dirs[Dir::ToClient.idx()].next_seq;
                return;
            };
            hit.after.add(pkt.ip.ttl, pkt.ip.df, ip_id, t.payload_len);
            if hit.alive_after.is_none() {
                let first = hit.rsts[0];
                let end = t.seq.wrapping_add(t.payload_len);
                let after_syn = hit.stage == RstStage::AfterSyn;
                let kind = if t.syn() && t.ack_flag() && after_syn && !hit.syn_after_rst {
                    Some(AfterKind::SynAck)
                } else if t.payload_len > 0 && !t.syn() && seq_gt(end, first.seq) && !after_syn {
                    Some(AfterKind::Data)
                } else if t.payload_len == 0
                    && t.ack_flag()
                    && first.ack_flag
                    && seq_gt(t.ack, first.ack)
                    && !seq_gt(first.seq, t.seq)
                    && !after_syn
                {
                    Some(AfterKind::Ack)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    hit.alive_after = Some(AfterRst {
                        ts: pkt.ts,
                        kind,
                        seq: t.seq,
                        len: t.payload_len,
                        ttl: pkt.ip.ttl,
                    });
                }
            }
            return;
        }
        // A RST claimed from the server.
        let mut head = [0u8; 10];
        let n = t.payload.len().min(10);
        head[..n].copy_from_slice(&t.payload[..n]);
        let rec = RstRec {
            ts: pkt.ts,
            seq: t.seq,
            ack: t.ack,
            ack_flag: t.ack_flag(),
            flags: t.flags,
            ttl: pkt.ip.ttl,
            ip_id: pkt.ip.ip_id,
            df: pkt.ip.df,
            window: t.window,
            payload_len: t.payload_len.min(u32::from(u16::MAX)) as u16,
            payload_head: head,
        };
        if flow.ext.rst.hit.is_none() {
            let st = &flow.ext.rst;
            let hit = RstHit {
                stage: RstStage::at(flow),
                fin_before: flow.dirs[0].fin_seen() || flow.dirs[1].fin_seen(),
                server_next_before: (st.before.packets > 0).then_some(st.server_next),
                idle_before: if st.prev_ts > 0 {
                    let quiet = if st.bits & PREV_CLIENT != 0 {
                        Nanos::from(st.quiet_ms) * MILLI
                    } else {
                        0
                    };
                    pkt.ts.saturating_sub(st.prev_ts).max(quiet)
                } else {
                    0
                },
                ..Default::default()
            };
            flow.ext.rst.hit = Some(Box::new(hit));
        }
        let answers = self.answers_client(pkt, t, flow, server);
        let Some(hit) = flow.ext.rst.hit.as_deref_mut() else {
            return;
        };
        if let Some(slot) = hit.rsts.get_mut(usize::from(hit.n_rst)) {
            *slot = rec;
            hit.answers_client |= u8::from(answers) << hit.n_rst;
        }
        hit.n_rst = hit.n_rst.saturating_add(1);
    }

    /// Whether a RST has the shape of the server host's own reply (its
    /// kernel's, or its firewall's `reject with tcp reset`) to one of the
    /// client's segments, RFC 793's: no ACK flag, its sequence number an
    /// acknowledgment number the client sent; over the server's path in
    /// this flow (its TTL within one, not an initial TTL unless the
    /// server's is, its DF); and not a quick reaction to the client's
    /// latest data: a RST answering that segment came at least three
    /// quarters of the server's round trip after it. A firewall at the
    /// server's end that filters the client's packets while the server's
    /// own output goes on (fail2ban, a per-source rate limit: eighth
    /// red-team review) answers the client's ACKs so, and the server's
    /// data after it then looks like `data_after_rst`. A censor reacts to
    /// the client's data, at once.
    fn answers_client(
        &self,
        pkt: &Packet<'_>,
        t: &TcpInfo<'_>,
        flow: &Flow,
        server: &ServerState,
    ) -> bool {
        let st = &flow.ext.rst;
        let base = &st.before;
        let client = &flow.dirs[Dir::ToServer.idx()];
        if t.ack_flag() || base.packets == 0 || !client.ack_seen || seq_gt(t.seq, client.max_ack) {
            return false;
        }
        let ttl = pkt.ip.ttl;
        let first_hop = crate::detectors::from_first_hop;
        // (over IPv6 a reset sent with no socket, a firewall's, carries
        // another flow label than the server's packets and may come over
        // another branch of a path balanced on flow labels: red-team
        // review, session 26; it must then be a host's bare reset, with
        // window 0, and late if it answers the client's latest data)
        let hops_off = base.ttl_distance(ttl);
        let off_branch = pkt.ip.version == 6 && (2..=V6_RESET_BRANCH_HOPS).contains(&hops_off);
        if (hops_off > 1 && !off_branch) || (first_hop(ttl) && !first_hop(base.ttl_max)) {
            return false;
        }
        if pkt.ip.version == 4 && (base.df_clear() == base.df_set() || base.df_set() != pkt.ip.df) {
            return false;
        }
        let latest = match st.hit.as_deref().and_then(|h| h.client_data_after) {
            Some((ts, ack)) => Some((ts, ack as u16)),
            None => st.trigger().map(|ts| (ts, st.trigger_ack)),
        };
        match latest {
            Some((ts, ack)) if ack == t.seq as u16 => {
                let rtt = flow.handshake_rtt().into_iter().chain(server.rtt_min).min();
                rtt.is_some_and(|r| (pkt.ts - ts) as f64 >= r as f64 * SERVER_REPLY_SHARE)
            }
            // (off the branch, only a host's bare reset: window 0)
            _ => !off_branch || t.window == 0,
        }
    }

    /// Weighs the rules when the flow ends; emits when they suffice.
    fn decide(&mut self, ctx: &mut Ctx<'_>, flow: &mut Flow, server: &ServerState) {
        if flow.has_emitted(Signature::RstInjection) {
            return;
        }
        let Some(hit) = flow.ext.rst.hit.as_deref() else {
            return;
        };
        let v = self.verdict(flow, hit, server);
        // Two pieces of evidence: `no_server_data` is context (an in-path
        // drop sends nothing, and neither does a server that refuses), not a
        // second inconsistency. With it, a TTL that differs from the
        // SYN/ACK's alone made an event: an origin behind a SYN proxy
        // resetting the first connection it saw.
        let evidence = v.rules.iter().filter(|r| **r != "no_server_data").count();
        let passes = v.strong || (v.score >= self.cfg.min_score && evidence >= 2);
        if !passes {
            return;
        }
        // Every RST had the shape of the server's own reply to the client's
        // segments: its firewall, not a censor (see `answers_client`).
        let n = hit.n_rst.min(4);
        if n > 0 && hit.answers_client.count_ones() == u32::from(n) {
            ctx.stats.rst_server_end_reject += 1;
            return;
        }
        if v.first_hop && self.cfg.local_resets == LocalResets::Count {
            ctx.stats.rst_first_hop[LocalResets::Count.idx()] += 1;
            return;
        }
        let st = &flow.ext.rst;
        let first = hit.rsts[0];
        let confidence = if v.strong {
            (0.9 + 0.02 * (v.rules.len() as f64 - 1.0)).min(0.99)
        } else {
            v.score.min(0.95)
        };
        // IPv6 has no IP ID and no DF
        let v4 = flow.client_ip().is_ipv4();
        let mut ev = v.details;
        ev.insert("rules".into(), json!(v.rules));
        if v.first_hop {
            ev.insert("first_hop".into(), json!(true));
        }
        ev.insert("stage".into(), json!(hit.stage.as_str()));
        ev.insert("rst_count".into(), json!(hit.n_rst));
        ev.insert(
            "rst".into(),
            json!({
                "ts": crate::time::rfc3339(first.ts),
                "flags": flag_names(first.flags),
                "seq": first.seq,
                "ack": first.ack,
                "ttl": first.ttl,
                "ip_id": v4.then_some(first.ip_id),
                "df": v4.then_some(first.df),
                "window": first.window,
                "payload_len": first.payload_len,
            }),
        );
        if st.before.packets > 0 {
            ev.insert(
                "server".into(),
                json!({
                    "packets": st.before.packets,
                    "ttl_min": st.before.ttl_min,
                    "ttl_max": st.before.ttl_max,
                    "df": v4.then_some(st.before.df_set()),
                    "ip_ids": st.before.ids(),
                }),
            );
        }
        if let Some(rtt) = flow.handshake_rtt() {
            ev.insert("handshake_rtt_ms".into(), json!(ms(rtt)));
        }
        if let Some(fp) = fingerprint(
            &first,
            hit.n_rst,
            &hit.rsts[..usize::from(hit.n_rst.min(4))],
            v4,
        ) {
            ev.insert("fingerprint".into(), json!(fp));
        }
        let stage = hit.stage;
        let target = flow.ext.target.as_deref().map(str::to_owned);
        if ctx.emit(flow, Signature::RstInjection, confidence, target, ev) {
            ctx.stats.rst_by_stage[stage.idx()] += 1;
            if v.first_hop {
                ctx.stats.rst_first_hop[LocalResets::Report.idx()] += 1;
            }
        }
    }

    fn verdict(&self, flow: &Flow, hit: &RstHit, server: &ServerState) -> Verdict {
        let st = &flow.ext.rst;
        let first = hit.rsts[0];
        let mut v = Verdict {
            rules: vec![],
            score: 0.0,
            strong: false,
            details: Map::new(),
            first_hop: false,
        };
        if let Some(a) = hit.alive_after {
            // Data or new ACKs after the RST are strong alone. A SYN/ACK after
            // a RST that answered the SYN is strong only with a header
            // inconsistency too (crafted handshakes, e.g. Suricata's evasion
            // tests, send RST-then-SYN/ACK with identical headers).
            v.strong = a.kind != AfterKind::SynAck;
            v.rules.push("data_after_rst");
            v.details.insert(
                "after_rst".into(),
                json!({
                    "kind": a.kind.as_str(),
                    "delay_ms": ms(a.ts - first.ts),
                    "seq": a.seq,
                    "rst_seq": first.seq,
                    "len": a.len,
                    "ttl": a.ttl,
                }),
            );
        }
        if let Some(b) = burst(hit, flow.server_ip().is_ipv6()) {
            v.strong = true;
            v.rules.push("rst_seq_burst");
            v.details.insert("burst".into(), b);
        }
        if hit.fin_before {
            // RSTs after a FIN are how many stacks end connections: only the
            // strong rules speak for those.
            return v;
        }
        let idle = hit.idle_before >= self.cfg.idle_reset_after;
        if idle {
            v.details
                .insert("idle_before_rst_s".into(), json!(hit.idle_before / SECOND));
        }
        // Baseline: the server's own packets in this flow, else (the RST
        // answered the SYN) the server's packets in other flows.
        let in_flow = st.before.packets > 0 || hit.after.packets > 0;
        let base = if st.before.packets > 0 {
            &st.before
        } else if hit.after.packets > 0 {
            &hit.after
        } else {
            &server.ext.rst.base
        };
        let add = |v: &mut Verdict, rule: &'static str, w: f64| {
            v.rules.push(rule);
            v.score += w;
        };
        let tol = self.cfg.ttl_tolerance;
        // The server sent no data in this flow before the RST: its packets
        // here (the SYN/ACK, perhaps ACKs) may all be a SYN proxy's, and the
        // RST its origin's. A RST that came over the path of the server's
        // answers on this port in its other flows (TTL and DF) is the
        // origin's: TTL, DF and IP ID are not held against the proxy's.
        let answer_path = if st.before.packets > 0 && !st.before.payload() {
            server
                .ext
                .rst
                .answers
                .fitting(first.ttl, first.df, flow.server_port(), tol)
        } else {
            None
        };
        // (only where the flow's packets are off that path, as a proxy's
        // are: at a plain server the RST's path is the SYN/ACK's, and nothing
        // explains an IP ID off the flow's counter; found in review)
        let off_path =
            base.packets > 0 && (base.ttl_distance(first.ttl) >= tol || base.df_set() != first.df);
        let origin = answer_path.is_some() && off_path;
        if !idle && base.packets > 0 {
            let d = base.ttl_distance(first.ttl);
            if let Some(p) = answer_path.filter(|_| origin) {
                v.details.insert("ttl_server_answers".into(), json!(p.ttl));
            }
            // A route change moves the server's later packets along with the RST.
            let moved = st.before.packets > 0
                && hit.after.packets > 0
                && hit.after.ttl_distance(first.ttl) < tol;
            if d >= tol && !moved && !origin {
                add(&mut v, "ttl_mismatch", 0.5);
                // the edge of the server's range nearest the RST's TTL, so
                // that ttl_difference is |ttl_rst - ttl_server| (it was the
                // server's last TTL, which need not be that edge)
                let edge = if first.ttl < base.ttl_min {
                    base.ttl_min
                } else {
                    base.ttl_max
                };
                v.details.insert("ttl_server".into(), json!(edge));
                v.details.insert("ttl_rst".into(), json!(first.ttl));
                v.details.insert("ttl_difference".into(), json!(d));
                v.details.insert(
                    "ttl_baseline".into(),
                    json!(if in_flow { "flow" } else { "server" }),
                );
                // No router passed it on (and a burst of several TTLs is
                // an injector's, whatever the first one's)
                let n = usize::from(hit.n_rst.min(4));
                v.first_hop = crate::detectors::from_first_hop(first.ttl)
                    && hit.rsts[..n].iter().all(|r| r.ttl == first.ttl);
            }
            if flow.client_ip().is_ipv4() {
                let client_ids = &flow.dirs[Dir::ToServer.idx()].ip_ids;
                if first.ip_id != 0
                    && client_ids.contains(&first.ip_id)
                    && !base.ids().contains(&first.ip_id)
                {
                    add(&mut v, "ip_id_copied", 0.35);
                    v.details.insert("ip_id_rst".into(), json!(first.ip_id));
                } else if matches!(first.ip_id, 0x3412 | 30000)
                    && !base.ids().contains(&first.ip_id)
                {
                    add(&mut v, "ip_id_marker", 0.3);
                    v.details.insert("ip_id_rst".into(), json!(first.ip_id));
                } else if st.before.packets > 0
                    && !origin
                    && base.ids_sequential()
                    && !(first.ip_id == 0 && first.df)
                {
                    // (an ID of 0 with DF set is what a host's stack puts on
                    // a reset it sends without the connection's state, the
                    // server's own after a restart as a NAT's that lost its
                    // table: no counter to be out of: eleventh red-team
                    // review, a carrier NAT's resets at 0.65 and 0.9)
                    // (only against the server's packets *before* the RST:
                    // a later packet's ID is ahead of the RST's by nature)
                    let last = base.ids().last().copied().unwrap_or(0);
                    let step = first.ip_id.wrapping_sub(last);
                    if step > 1000 {
                        add(&mut v, "ip_id_out_of_sequence", 0.15);
                        v.details.insert("ip_id_rst".into(), json!(first.ip_id));
                        v.details.insert("ip_id_server_last".into(), json!(last));
                    }
                }
                // IP ID counters and (often) DF are per connection: only this
                // flow's own packets are a baseline for them.
                let consistent_df = !(base.df_set() && base.df_clear());
                if in_flow && consistent_df && base.df_set() != first.df && !origin {
                    add(&mut v, "df_mismatch", 0.15);
                    v.details.insert("df_server".into(), json!(base.df_set()));
                    v.details.insert("df_rst".into(), json!(first.df));
                }
            }
        }
        if !idle {
            let rtt = flow.handshake_rtt().or(server.rtt_min);
            if let (Some(rtt), Some(trig)) = (rtt, st.trigger()) {
                let delay = first.ts - trig;
                if rtt >= self.cfg.min_rtt_for_timing
                    && (delay as f64) < rtt as f64 * self.cfg.too_fast_share
                {
                    add(&mut v, "too_fast", 0.25);
                    v.details.insert("rst_delay_ms".into(), json!(ms(delay)));
                    v.details.insert("rtt_ms".into(), json!(ms(rtt)));
                }
            }
            if first.flags & tcp_flags::RESERVED != 0 {
                add(&mut v, "reserved_bits", 0.15);
            }
            if let Some(next) = hit.server_next_before {
                if seq_gt(next, first.seq) && first.seq != 0 {
                    add(&mut v, "rst_seq_behind", 0.3);
                    v.details.insert("server_next_seq".into(), json!(next));
                }
            }
        }
        if hit.alive_after.is_some_and(|a| a.kind == AfterKind::SynAck) && v.rules.len() > 1 {
            v.strong = true;
        }
        let stage = hit.stage;
        if !idle
            && matches!(stage, RstStage::AfterHandshake | RstStage::AfterRequest)
            && !st.before.payload()
            && !hit.after.payload()
        {
            add(&mut v, "no_server_data", 0.1);
        }
        v
    }
}

/// Several server RSTs whose sequence numbers step beyond anything the
/// server used (the GFW's +1460/+4380 bursts), or that repeat one sequence
/// number with another TTL or window. Identical RSTs are retransmissions; a
/// later one with window 0 and the same TTL is the host's reply to a segment
/// that reached the socket after its reset (over IPv6, within
/// [`V6_RESET_BRANCH_HOPS`]).
fn burst(hit: &RstHit, v6: bool) -> Option<Value> {
    let n = usize::from(hit.n_rst.min(4));
    let rsts = &hit.rsts[..n];
    let first = rsts.first()?;
    if hit.fin_before {
        return None;
    }
    let within: Vec<&RstRec> = rsts
        .iter()
        .skip(1)
        .filter(|r| r.ts - first.ts <= 2 * SECOND)
        .collect();
    let used = hit.server_next_before.unwrap_or(first.seq);
    for r in &within {
        if seq_gt(r.seq, first.seq.wrapping_add(2)) && seq_gt(r.seq, used) {
            return Some(json!({
                "kind": "seq_step",
                "seqs": rsts.iter().map(|x| x.seq).collect::<Vec<_>>(),
                "steps": rsts.iter().skip(1).map(|x| x.seq.wrapping_sub(first.seq)).collect::<Vec<_>>(),
            }));
        }
        // A host's own stack sends a later RST with window 0 when a segment
        // (the client's ACK in flight) reaches the socket it just reset:
        // Linux's reply for a closed socket. Same seq, other window, one host.
        // Over IPv6 that reply, sent with no socket, carries another flow
        // label than the connection's packets and may take another branch
        // of a path balanced on flow labels (red-team review, session 26):
        // a bare reset (no ACK flag, no payload) a few hops off still is.
        let hops = r.ttl.abs_diff(first.ttl);
        // And in either order: on two CPUs the bare reset for a segment in
        // flight may leave before the abort's RST+ACK with the socket's
        // window (a CI run of session 27: windows [0, 70, 0, 0], one TTL).
        let bare = |x: &RstRec| x.window == 0 && !x.ack_flag && x.payload_len == 0;
        let own_reply = (hops < 2 && (r.window == 0 || bare(first)))
            || (v6 && hops <= V6_RESET_BRANCH_HOPS && bare(r));
        if r.seq == first.seq && !own_reply && (hops >= 2 || r.window != first.window) {
            return Some(json!({
                "kind": "same_seq_other_headers",
                "ttls": rsts.iter().map(|x| x.ttl).collect::<Vec<_>>(),
                "windows": rsts.iter().map(|x| x.window).collect::<Vec<_>>(),
            }));
        }
    }
    None
}

fn ms(n: Nanos) -> f64 {
    (n as f64 / 1e6 * 1000.0).round() / 1000.0
}

fn flag_names(f: u16) -> String {
    let names = [
        (tcp_flags::SYN, "SYN"),
        (tcp_flags::ACK, "ACK"),
        (tcp_flags::RST, "RST"),
        (tcp_flags::FIN, "FIN"),
        (tcp_flags::PSH, "PSH"),
        (tcp_flags::URG, "URG"),
        (tcp_flags::RESERVED, "RESERVED"),
    ];
    names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

impl Detector for RstDetector {
    fn name(&self) -> &'static str {
        "rst_injection"
    }

    fn on_packet(
        &mut self,
        _ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        server: &mut ServerState,
    ) {
        let Transport::Tcp(t) = &pkt.l4 else { return };
        match dir {
            Dir::ToServer => match flow.ext.rst.hit.as_deref_mut() {
                None if t.syn() || t.payload_len > 0 => {
                    let st = &mut flow.ext.rst;
                    st.req_back_ms = if st.req_back_ms == 0 || st.bits & HAS_TRIGGER == 0 {
                        1
                    } else {
                        let more = (pkt.ts / MILLI - st.trigger_ts / MILLI).max(0);
                        u16::try_from(i64::from(st.req_back_ms).saturating_add(more))
                            .unwrap_or(u16::MAX)
                    };
                    st.trigger_ts = pkt.ts;
                    st.trigger_ack = if t.syn() { 0 } else { t.ack as u16 };
                    st.bits |= HAS_TRIGGER;
                }
                Some(hit) if t.rst() => hit.client_rst_after = true,
                Some(hit) if t.syn() => hit.syn_after_rst = true,
                Some(hit) if t.payload_len > 0 => hit.client_data_after = Some((pkt.ts, t.ack)),
                _ => {}
            },
            Dir::ToClient => {
                self.on_server_tcp(pkt, t, flow, server);
                // (after the run it may start: answered now)
                if (t.payload_len > 0 || t.syn()) && !t.rst() {
                    flow.ext.rst.req_back_ms = 0;
                }
            }
        }
        let st = &mut flow.ext.rst;
        if dir == Dir::ToServer {
            let gap = if st.prev_ts > 0 {
                u32::try_from(pkt.ts.saturating_sub(st.prev_ts) / MILLI).unwrap_or(u32::MAX)
            } else if t.syn() {
                0
            } else {
                // a flow picked up mid-stream: the silence before it is
                // unknown (the capture started, or the flow table let the
                // idle connection go after tcp_established_timeout)
                u32::MAX
            };
            st.quiet_ms = if st.bits & PREV_CLIENT != 0 {
                st.quiet_ms.max(gap)
            } else {
                gap
            };
        }
        if dir == Dir::ToServer {
            if st.hit.is_none() && t.payload_len > 0 && !t.syn() {
                if st.quiet_ms <= AWAKE_QUIET_MS {
                    st.bits |= TIME_NEXT;
                } else {
                    st.bits &= !TIME_NEXT;
                }
            }
            st.bits |= PREV_CLIENT;
        } else {
            st.bits &= !PREV_CLIENT;
        }
        st.prev_ts = pkt.ts;
    }

    fn on_flow_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow: &mut Flow,
        _outcome: FlowOutcome,
        server: &mut ServerState,
    ) {
        if flow.proto == crate::stats::FlowProto::Tcp {
            self.decide(ctx, flow, server);
        }
    }
}

#[cfg(test)]
mod tests;
