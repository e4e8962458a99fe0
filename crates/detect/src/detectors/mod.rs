//! The detector interface and the per-flow / per-server state detectors own.
//!
//! A detector sees every tracked packet after flow state was updated
//! ([`Detector::on_packet`]), packets that belong to no flow
//! ([`Detector::on_untracked`]), ICMP errors with the flow they quote
//! ([`Detector::on_icmp`]), every flow's end ([`Detector::on_flow_end`]) and
//! the sweep points of packet time ([`Detector::on_sweep`]).
//! Per-flow state lives in [`FlowExt`] (inside each flow, so it is bounded
//! with the flow table), per-server state in [`ServerExt`] (inside the
//! bounded per-server table). Detectors never read a clock: `ctx.now` is
//! packet time.
//!
//! Sharding: the pipeline routes every packet to a worker by the flow's
//! *server* address ([`crate::shard_key`]), so all flows to one server (and
//! all queries to one resolver) meet in the same worker, and per-server
//! state is complete and deterministic with any number of workers.

use crate::decode::{IcmpInfo, Packet};
use crate::event::Event;
use crate::flow::{Dir, Flow};
use crate::stats::{FlowOutcome, Signature, Stats};
use crate::time::Nanos;
use std::net::IpAddr;

pub mod blackhole;
pub mod dns;
pub mod http;
pub mod rst;
pub mod throttle;

/// Per-flow state owned by detectors (one field per detector that needs it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowExt {
    /// The domain the flow is about (TLS SNI, HTTP Host), read from the
    /// client's first payload segment.
    pub target: Option<Box<str>>,
    /// RST-injection state.
    pub rst: rst::RstFlow,
    /// DNS queries and answers (port-53 flows only).
    pub dns: Option<Box<dns::DnsFlow>>,
    /// The server's SYN/ACK headers.
    pub synack: Option<http::Hdr>,
    /// HTTP request/response state (HTTP flows only).
    pub http: Option<Box<http::HttpFlow>>,
    /// Blackholing state.
    pub bh: blackhole::BlackholeFlow,
    /// A ClientHello being reassembled from several segments (bounded).
    pub hello_buf: Option<Box<HelloBuf>>,
    /// What the client's ClientHello said (ALPN, JA4-style fingerprint).
    pub hello: Option<Box<crate::proto::HelloInfo>>,
    /// Rate measurement (flows whose server sent at least 16 KB).
    pub thr: Option<Box<throttle::ThrottleFlow>>,
}

/// A TLS record (ClientHello) spread over several TCP segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelloBuf {
    /// The record so far.
    pub bytes: Vec<u8>,
    /// The sequence number of the next in-order byte.
    pub next_seq: u32,
    /// The record's full length (at most [`HELLO_MAX`]); 0 while its
    /// 5-byte header is still incomplete.
    pub need: usize,
    /// Segments that did not fit in order.
    pub misses: u8,
}

/// A ClientHello is reassembled up to this many bytes (post-quantum key
/// shares make them ~1.7 KB).
pub const HELLO_MAX: usize = 4096;

/// The start of a TLS handshake record (content type 22, version 3.x), as
/// far as `b` goes: a 1-byte segment `16` qualifies.
pub(crate) fn looks_like_tls_handshake(b: &[u8]) -> bool {
    b.first() == Some(&0x16) && b.get(1).is_none_or(|v| *v == 0x03)
}

/// A record's length with its 5-byte header, capped at [`HELLO_MAX`]
/// (`h` holds at least the header).
fn record_len(h: &[u8]) -> usize {
    (5 + usize::from(u16::from_be_bytes([h[3], h[4]]))).min(HELLO_MAX)
}

impl FlowExt {
    /// Feeds a client data segment: names the target (SNI, Host) and reads
    /// the ClientHello, reassembling it over several segments if needed
    /// (and if `may_buffer`: the engine's reassembly buffers are bounded).
    /// Returns true when it needed a buffer and `may_buffer` said no.
    pub(crate) fn client_data(
        &mut self,
        first: bool,
        seq: u32,
        payload: &[u8],
        may_buffer: bool,
    ) -> bool {
        if first {
            if self.target.is_none() {
                self.target = crate::proto::tls_sni(payload)
                    .or_else(|| crate::proto::http_host(payload))
                    .map(|s| s.to_ascii_lowercase().into_boxed_str());
            }
            if !looks_like_tls_handshake(payload) {
                return false;
            }
            // The whole record in the first segment: no buffer.
            if payload.len() >= 5 {
                let need = record_len(payload);
                if payload.len() >= need {
                    self.finish_hello(&payload[..need]);
                    return false;
                }
            }
            // Cut into several segments, the first possibly shorter than
            // the record header (1-byte segments are an evasion technique).
            if !may_buffer {
                return true;
            }
            self.hello_buf = Some(Box::new(HelloBuf {
                bytes: Vec::new(),
                next_seq: seq,
                need: 0,
                misses: 0,
            }));
        }
        let Some(b) = self.hello_buf.as_mut() else {
            return false;
        };
        if seq != b.next_seq {
            b.misses += 1;
            if b.misses > 8 {
                self.hello_buf = None;
            }
            return false;
        }
        b.next_seq = b.next_seq.wrapping_add(payload.len() as u32);
        let mut rest = payload;
        if b.need == 0 {
            // the record header is not complete yet
            let take = (5 - b.bytes.len()).min(rest.len());
            b.bytes.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if b.bytes.len() < 5 {
                return false;
            }
            if !looks_like_tls_handshake(&b.bytes) {
                self.hello_buf = None;
                return false;
            }
            b.need = record_len(&b.bytes);
            b.bytes.reserve(b.need - b.bytes.len());
        }
        let n = rest.len().min(b.need.saturating_sub(b.bytes.len()));
        b.bytes.extend_from_slice(&rest[..n]);
        if b.bytes.len() >= b.need {
            if let Some(b) = self.hello_buf.take() {
                self.finish_hello(&b.bytes);
            }
        }
        false
    }

    fn finish_hello(&mut self, record: &[u8]) {
        if self.target.is_none() {
            self.target =
                crate::proto::tls_sni(record).map(|s| s.to_ascii_lowercase().into_boxed_str());
        }
        if let Some(info) = record
            .get(5..)
            .and_then(|hs| crate::proto::hello_info(hs, false))
        {
            self.hello = Some(Box::new(info));
        }
    }
}

/// Per-server state owned by detectors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerExt {
    /// RST-injection baseline.
    pub rst: rst::RstServer,
    /// Resolver baseline (DNS servers only).
    pub dns: dns::DnsServer,
    /// Working ports and recent detections (blackholing contrast).
    pub bh: blackhole::BlackholeServer,
}

/// Settings of all detectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectorsConfig {
    /// RST injection.
    pub rst: rst::RstConfig,
    /// DNS injection.
    pub dns: dns::DnsConfig,
    /// HTTP injection.
    pub http: http::HttpConfig,
    /// Blackholing.
    pub blackhole: blackhole::BlackholeConfig,
    /// Throttling.
    pub throttle: throttle::ThrottleConfig,
    /// The watch list (metric groups).
    pub watch: crate::watch::WatchList,
}

/// The detectors tamperwatch runs, in order.
pub fn default_detectors(cfg: &DetectorsConfig) -> Vec<Box<dyn Detector>> {
    let mut v: Vec<Box<dyn Detector>> = Vec::with_capacity(5);
    if cfg.rst.enabled {
        v.push(Box::new(rst::RstDetector::new(cfg.rst.clone())));
    }
    if cfg.dns.enabled {
        v.push(Box::new(dns::DnsDetector::new(cfg.dns.clone())));
    }
    if cfg.http.enabled {
        v.push(Box::new(http::HttpDetector::new(cfg.http.clone())));
    }
    if cfg.throttle.enabled {
        v.push(Box::new(throttle::ThrottleDetector::new(
            cfg.throttle.clone(),
        )));
    }
    // last: it sees whether the others found something on the flow
    if cfg.blackhole.enabled {
        v.push(Box::new(blackhole::BlackholeDetector::new(
            cfg.blackhole.clone(),
        )));
    }
    v
}

/// What all flows to one server address have shown: the baseline that
/// header-consistency rules compare a suspicious packet with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerState {
    /// The server's address.
    pub ip: Option<IpAddr>,
    /// First and last packet time involving this server.
    pub first_seen: Nanos,
    /// Last packet time.
    pub last_seen: Nanos,
    /// Flows started to this server.
    pub flows: u32,
    /// Flows in which the server answered.
    pub answered: u32,
    /// Flows that ended without any answer from the server.
    pub unanswered: u32,
    /// TTL of the server's most recent packet.
    pub ttl_last: u8,
    /// Handshake RTT: smallest seen.
    pub rtt_min: Option<Nanos>,
    /// Handshake RTT: smoothed (1/8 gain, like TCP's SRTT).
    pub rtt_smoothed: Option<Nanos>,
    /// The fastest handshake per SYN/ACK path and port.
    pub handshakes: Handshakes,
    /// Detector-owned state.
    pub ext: ServerExt,
}

impl ServerState {
    /// A handshake took `rtt`; its SYN/ACK came with `ttl` and `df` from
    /// `port`.
    pub(crate) fn note_rtt(&mut self, rtt: Nanos, ttl: u8, df: bool, port: u16) {
        self.handshakes.note(Handshake {
            ttl,
            df,
            port,
            rtt_us: u32::try_from(rtt / 1_000).unwrap_or(u32::MAX),
        });
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_smoothed = Some(match self.rtt_smoothed {
            None => rtt,
            Some(s) => s + (rtt - s) / 8,
        });
    }
}

/// Records `p` as the newest of `paths[..len]` (newest last): when `same`
/// finds it known, `merge` folds the known one into it and it moves up;
/// else it is appended, the oldest dropped when all are taken.
pub(crate) fn note_newest<T: Copy>(
    paths: &mut [T],
    len: &mut u8,
    mut p: T,
    same: impl Fn(&T) -> bool,
    merge: impl FnOnce(&mut T, &T),
) {
    let n = usize::from(*len);
    if let Some(i) = paths[..n].iter().position(same) {
        merge(&mut p, &paths[i]);
        paths[i..n].rotate_left(1);
    } else if n == paths.len() {
        paths.rotate_left(1);
    } else {
        *len += 1;
    }
    paths[usize::from(*len) - 1] = p;
}

/// One server's fastest handshake over one path (its SYN/ACK's TTL and DF)
/// on one port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The SYN/ACK's IP TTL (hop limit).
    pub ttl: u8,
    /// The SYN/ACK's IPv4 DF (false over IPv6).
    pub df: bool,
    /// The server's port.
    pub port: u16,
    /// The fastest handshake (SYN to SYN/ACK) over the path, in
    /// microseconds (saturating).
    pub rtt_us: u32,
}

/// The last four distinct [`Handshake`] paths of a server, newest last.
///
/// A server's fastest handshake on any port and path says little about the
/// round trip to whoever answers one port: a box near the client that
/// completes the address's handshakes on another port (a TLS-inspecting
/// gateway on 443) answers in a millisecond while a SYN proxy on port 80
/// answers in 30 (found in the third review, session 18: with the
/// server-wide minimum, the HTTP detector's "sooner than the origin" bound
/// behind a SYN proxy went inert).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshakes {
    paths: [Handshake; 4],
    len: u8,
}

impl Handshakes {
    /// Records a handshake: the faster time if its path is known (moved up
    /// to newest), else as the newest path (dropping the oldest of four).
    pub fn note(&mut self, h: Handshake) {
        let key = (h.ttl, h.df, h.port);
        note_newest(
            &mut self.paths,
            &mut self.len,
            h,
            |q| (q.ttl, q.df, q.port) == key,
            |h, q| h.rtt_us = h.rtt_us.min(q.rtt_us),
        );
    }

    /// Whether every handshake seen on `other` came from at least five
    /// hops nearer than every one seen on `port` (both seen): something
    /// near the client answers `other` for the server (a carrier's or a
    /// portal's interceptor on port 80, a transparent proxy).
    ///
    /// Hops are counted from each SYN/ACK's initial TTL ([`hops`]): raw TTLs
    /// of senders that start at different values say nothing of distance
    /// (a Windows server's 116, 12 hops away, is not nearer than a Linux
    /// carrier box's 63, one hop away; the nit left by session 23's review).
    pub fn nearer_on(&self, other: u16, port: u16) -> bool {
        let hops_on = |q: u16| {
            self.paths[..usize::from(self.len)]
                .iter()
                .filter(move |p| p.port == q)
                .map(|p| hops(p.ttl))
        };
        match (hops_on(other).max(), hops_on(port).min()) {
            (Some(near), Some(far)) => near.saturating_add(5) <= far,
            _ => false,
        }
    }

    /// The fastest handshake on `port` whose SYN/ACK had `df` and a TTL
    /// less than `tol` from `ttl`.
    pub fn fastest(&self, ttl: u8, df: bool, port: u16, tol: u8) -> Option<Nanos> {
        self.paths[..usize::from(self.len)]
            .iter()
            .filter(|p| p.port == port && p.df == df && p.ttl.abs_diff(ttl) < tol)
            .map(|p| Nanos::from(p.rtt_us) * 1_000)
            .min()
    }
}

/// TTLs (hop limits) that senders start with.
const INITIAL_TTLS: [u8; 3] = [64, 128, 255];

/// A packet that arrived with this TTL passed no router: it came from the
/// vantage point's own network (this host, its router, or the box at the
/// other end of its uplink), whatever address it claims.
pub(crate) fn from_first_hop(ttl: u8) -> bool {
    INITIAL_TTLS.contains(&ttl)
}

/// Routers a packet passed, counted from the nearest usual initial TTL
/// (64, 128, 255) at or above its `ttl`.
pub(crate) fn hops(ttl: u8) -> u8 {
    INITIAL_TTLS
        .into_iter()
        .find(|&i| ttl <= i)
        .map_or(u8::MAX, |i| i - ttl)
}

/// What a detector may use and produce while handling one input.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Packet time now.
    pub now: Nanos,
    /// The capture reported kernel drops recently: evidence may be missing,
    /// so detectors lower confidence and say so in the evidence.
    pub capture_lossy: bool,
    /// Link-wide successes as of this input (see [`crate::link`]).
    pub link: &'a crate::link::LinkClock,
    /// What the link clock says after this packet time is not used to
    /// withhold an event (every worker knows the clock up to it alike).
    pub(crate) until: Nanos,
    /// When the live capture's link was down (empty in replays; see
    /// [`crate::linkdown`]).
    pub link_down: &'a crate::linkdown::LinkDown,
    /// The vantage point's own addresses (see [`crate::local`]).
    pub local: &'a crate::local::LocalAddrs,
    /// The operator's watch list.
    pub watch: &'a crate::watch::WatchList,
    pub(crate) events: &'a mut Vec<Event>,
    pub(crate) stats: &'a mut Stats,
    /// Flow rates for the throttling judge.
    pub(crate) rates: &'a mut Vec<throttle::RateRecord>,
    /// How much later than its last packet a flow-end record is stamped.
    pub(crate) end_delay: Nanos,
}

/// Evidence gathered while the capture was dropping packets (`lossy`) may
/// be incomplete: the event says so (`capture_lossy: true`) and carries
/// half the confidence. Every detector's events go through it (`Ctx::emit`,
/// and the throttling judge's by their record's time).
pub(crate) fn mark_capture_lossy(
    lossy: bool,
    evidence: &mut serde_json::Map<String, serde_json::Value>,
    confidence: f64,
) -> f64 {
    if lossy {
        evidence.insert("capture_lossy".into(), serde_json::Value::Bool(true));
        confidence * 0.5
    } else {
        confidence
    }
}

impl Ctx<'_> {
    /// Emits an event for `flow` unless one with the same signature was
    /// already emitted for it (at most one event per flow and signature).
    /// Returns whether it was emitted.
    pub fn emit(
        &mut self,
        flow: &mut Flow,
        signature: Signature,
        confidence: f64,
        target: Option<String>,
        evidence: serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        if !flow.mark_emitted(signature) {
            return false;
        }
        match self.build(flow, signature, confidence, target, evidence) {
            Some(e) => {
                self.emit_unattached(e);
                true
            }
            None => false,
        }
    }

    /// The event [`Ctx::emit`] would emit for `flow` now, built but neither
    /// emitted nor counted, and the flow not marked: a detector that holds
    /// a verdict back until later packets (of other flows) decide it emits
    /// it then with [`Ctx::emit_unattached`], or drops it. `None` when the
    /// flow already has an event of this signature, or when a captive
    /// portal withholds it (then counted and marked as [`Ctx::emit`] does).
    pub fn prepare(
        &mut self,
        flow: &mut Flow,
        signature: Signature,
        confidence: f64,
        target: Option<String>,
        evidence: serde_json::Map<String, serde_json::Value>,
    ) -> Option<Event> {
        if flow.has_emitted(signature) {
            return None;
        }
        let e = self.build(flow, signature, confidence, target, evidence);
        if e.is_none() {
            // withheld (counted): marked as `emit` marks it
            flow.mark_emitted(signature);
        }
        e
    }

    /// The event for `flow`, or `None` when a captive portal withholds it
    /// (counted; the caller marks the flow).
    fn build(
        &mut self,
        flow: &mut Flow,
        signature: Signature,
        confidence: f64,
        target: Option<String>,
        mut evidence: serde_json::Map<String, serde_json::Value>,
    ) -> Option<Event> {
        // Behind a captive portal before its login (a hotel's Wi-Fi) every
        // site is intercepted: that is not censorship. The event is withheld
        // and counted (`tamperwatch_captive_portal_events_withheld_total`).
        if self
            .link
            .captive
            .overlaps(flow.first_ts, flow.last_ts, self.until)
        {
            self.stats.captive_withheld[signature.idx()] += 1;
            // (not a detection: no residual blocking follows from it)
            flow.mark_withheld();
            return None;
        }
        let confidence = mark_capture_lossy(self.capture_lossy, &mut evidence, confidence);
        if let Some(h) = &flow.ext.hello {
            evidence.insert("client_hello".into(), hello_evidence(h));
        }
        let group = target.as_deref().and_then(|t| self.watch.group_of(t));
        if let Some(name) = group.and_then(|g| self.watch.name(g).map(str::to_string)) {
            evidence.insert("watch_group".into(), serde_json::Value::String(name));
        }
        Some(Event::new(
            signature,
            self.now,
            confidence,
            flow.event_flow(),
            target,
            evidence,
        ))
    }

    /// Emits an event that belongs to no tracked flow (rare: e.g. an answer
    /// to a query that was evicted). Callers are responsible for not
    /// repeating themselves.
    pub fn emit_unattached(&mut self, event: Event) {
        count_event(self.stats, self.watch, &event);
        self.events.push(event);
    }
}

/// Counts an event by signature and by its target's watch-list group;
/// returns the group's row (the last row is `other`).
pub(crate) fn count_event(stats: &mut Stats, watch: &crate::watch::WatchList, e: &Event) -> usize {
    stats.events[e.signature.idx()] += 1;
    let slot = e
        .target
        .as_deref()
        .and_then(|t| watch.group_of(t))
        .unwrap_or(watch.len());
    if let Some(row) = stats.by_group.get_mut(slot) {
        row[e.signature.idx()] += 1;
    }
    slot
}

/// Counts a connection or query to `target` in its watch-list group's
/// denominator (nothing without a target; everything is `other` without a
/// watch list).
pub(crate) fn count_group_target(
    watch: &crate::watch::WatchList,
    stats: &mut Stats,
    target: Option<&str>,
    kind: crate::stats::GroupTarget,
) {
    let Some(t) = target else { return };
    let slot = watch.group_of(t).unwrap_or(watch.len());
    if let Some(row) = stats.group_targets.get_mut(slot) {
        row[kind.idx()] += 1;
    }
}

/// A detector. All hooks have empty defaults.
pub trait Detector: Send + std::fmt::Debug {
    /// Stable name (used in logs and evidence).
    fn name(&self) -> &'static str;

    /// A TCP/UDP packet of a tracked flow, after the flow state was updated.
    fn on_packet(
        &mut self,
        _ctx: &mut Ctx<'_>,
        _pkt: &Packet<'_>,
        _flow: &mut Flow,
        _dir: Dir,
        _server: &mut ServerState,
    ) {
    }

    /// A TCP/UDP packet that matched no flow and created none (lone RST,
    /// FIN or ACK of an unknown flow, backscatter).
    fn on_untracked(&mut self, _ctx: &mut Ctx<'_>, _pkt: &Packet<'_>) {}

    /// An ICMP error, with the tracked flow it quotes, if any.
    fn on_icmp(
        &mut self,
        _ctx: &mut Ctx<'_>,
        _pkt: &Packet<'_>,
        _icmp: &IcmpInfo,
        _flow: Option<&mut Flow>,
    ) {
    }

    /// A flow ended (idle timeout, eviction, end of input).
    fn on_flow_end(
        &mut self,
        _ctx: &mut Ctx<'_>,
        _flow: &mut Flow,
        _outcome: FlowOutcome,
        _server: &mut ServerState,
    ) {
    }

    /// Packet time reached the sweep point `at` (a multiple of 100 ms, after
    /// the flows that went idle by then ended; `Nanos::MAX` at the end of
    /// input, after every flow ended): what a detector decides by time
    /// alone, without a packet (the DNS detector's held verdicts). Called
    /// at the same points among every server's packets with any number of
    /// workers (docs/architecture.md).
    fn on_sweep(
        &mut self,
        _ctx: &mut Ctx<'_>,
        _at: Nanos,
        _servers: &mut crate::lru::Lru<IpAddr, ServerState>,
    ) {
    }
}

/// The `client_hello` evidence of a flow's ClientHello: its first ALPN, its
/// JA4-style fingerprint, and `ech: true` when it carried an Encrypted
/// Client Hello.
pub(crate) fn hello_evidence(h: &crate::proto::HelloInfo) -> serde_json::Value {
    let mut v = serde_json::json!({"alpn": h.alpn, "ja4": h.ja4});
    if h.ech {
        v["ech"] = serde_json::Value::Bool(true);
    }
    v
}

#[cfg(test)]
mod handshake_tests {
    use super::{Handshake, Handshakes};

    fn hs(ttl: u8, port: u16, ms: u32) -> Handshake {
        Handshake {
            ttl,
            df: true,
            port,
            rtt_us: ms * 1_000,
        }
    }

    #[test]
    fn fastest_is_per_port_and_path() {
        let mut h = Handshakes::default();
        h.note(hs(64, 443, 1)); // a box near the client on 443
        h.note(hs(56, 80, 31)); // a SYN proxy on 80
        h.note(hs(57, 80, 30)); // the same, one hop shorter
        const MS: i64 = 1_000_000;
        assert_eq!(h.fastest(56, true, 80, 3), Some(30 * MS));
        assert_eq!(h.fastest(56, false, 80, 3), None, "DF differs");
        assert_eq!(h.fastest(64, true, 80, 3), None, "another path");
        assert_eq!(h.fastest(64, true, 443, 3), Some(MS));
        // the same path again: the faster time kept
        h.note(hs(56, 80, 45));
        assert_eq!(h.fastest(56, true, 80, 1), Some(31 * MS));
        // four paths at most: the least recently seen goes (443's)
        h.note(hs(50, 8080, 20));
        h.note(hs(51, 8443, 20));
        assert_eq!(h.fastest(64, true, 443, 3), None);
        assert_eq!(h.fastest(56, true, 80, 1), Some(31 * MS));
    }

    /// Distance is counted in hops from each SYN/ACK's initial TTL, not in
    /// raw TTLs.
    #[test]
    fn nearer_on_counts_hops_not_raw_ttls() {
        // a carrier box one hop away on 80 (Linux, 63), the server twelve
        // hops away on 443: Linux (52) or Windows (116)
        for server in [52, 116] {
            let mut h = Handshakes::default();
            h.note(hs(63, 80, 20));
            h.note(hs(server, 443, 40));
            assert!(h.nearer_on(80, 443), "server TTL {server}");
            assert!(!h.nearer_on(443, 80));
        }
        // the same server answering both ports from stacks that start at
        // different TTLs (a Windows front end on 80, 116; Linux on 443, 52):
        // twelve hops each, neither nearer (by raw TTLs 80 was 64 "nearer",
        // and its answers no contrast for a block of 443)
        let mut h = Handshakes::default();
        h.note(hs(116, 80, 40));
        h.note(hs(52, 443, 40));
        assert!(!h.nearer_on(80, 443));
        assert!(!h.nearer_on(443, 80));
        // four hops nearer is not enough; five is; every path counts
        let mut h = Handshakes::default();
        h.note(hs(60, 80, 30)); // 4 hops
        h.note(hs(56, 443, 40)); // 8
        assert!(!h.nearer_on(80, 443));
        let mut h = Handshakes::default();
        h.note(hs(60, 80, 30)); // 4
        h.note(hs(55, 443, 40)); // 9
        assert!(h.nearer_on(80, 443));
        h.note(hs(58, 80, 30)); // another path on 80, 6 hops
        assert!(!h.nearer_on(80, 443));
        h.note(hs(124, 80, 30)); // (4 hops from 128: alone it would do)
        assert!(!h.nearer_on(80, 443));
        // a port never seen: no
        assert!(!h.nearer_on(8080, 443));
    }
}
