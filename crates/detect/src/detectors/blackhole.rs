//! `blackhole`: traffic to some targets silently dropped while the rest of
//! the network works. Stages (the `stage` of the evidence):
//!
//! - `syn`: SYNs retransmitted and never answered;
//! - `tls_clienthello` / `http_request` / `request`: the handshake completed,
//!   the client's first data went out, and no server byte ever came back;
//! - `quic_initial`: client Initials retransmitted with no server packet.
//!
//! A failure alone proves nothing (servers go down, paths lose packets), so
//! every event needs *contrast* that the detector can establish
//! deterministically from the flow, its server and the link clock
//! ([`crate::link`]): the server is alive but never acknowledged the
//! request; the request went unanswered while the rest of the link
//! completed handshakes after it; the same server answered on another port
//! at the same time; or a detection on the same (client, server, port)
//! happened shortly before (residual blocking, `residual: true`). A request
//! stage with only the handshake as contrast (nothing showed the link
//! working after the request) is reported at 0.6: a link going dark then
//! looks the same as a block in a quiet moment. A live capture that saw
//! its interface down meanwhile knows better: a flow whose silence overlaps
//! a link-down period ([`crate::linkdown`]) is not reported, only counted.
//! Rules and traps: `docs/signatures/blackhole.md`.

use crate::decode::{Packet, Transport};
use crate::detectors::{Ctx, Detector, ServerState};
use crate::flow::{seq_gt, Dir, Flow};
use crate::link::url_host;
use crate::stats::{BlackholeStage, FlowOutcome, FlowProto, Signature};
use crate::time::{apart, since, Nanos, SECOND};
use serde_json::{json, Map};
use std::net::IpAddr;

/// Settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BlackholeConfig {
    /// Run this detector (`false`: it is not built, costs nothing, and
    /// neither emits nor counts anything).
    pub enabled: bool,
    /// After a detection on (client, server, port), failures within this
    /// window are residual blocking (GFW: 90 s for HTTP/SNI, 180 s QUIC).
    pub residual_window: Nanos,
    /// Another port of the same server that worked within this time counts
    /// as "the server is up".
    pub contrast_window: Nanos,
    /// Requests larger than this (bytes) may be lost to a path-MTU problem:
    /// never flagged alone.
    pub pmtu_suspect_bytes: u32,
    /// The operator blocks UDP/443 locally: no QUIC events.
    pub ignore_quic: bool,
}

impl Default for BlackholeConfig {
    fn default() -> Self {
        BlackholeConfig {
            enabled: true,
            residual_window: 180 * SECOND,
            contrast_window: 120 * SECOND,
            pmtu_suspect_bytes: 1200,
            ignore_quic: false,
        }
    }
}

/// Per-flow state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlackholeFlow {
    /// The client's first data: sequence number, length, time (read with
    /// [`BlackholeFlow::req`]; kept unwrapped with a presence flag, so the
    /// struct takes 48 bytes, not 56).
    req_at: (u32, u32, Nanos),
    /// `HAS_REQ`, `SMALL_MORE`, `REQ_ON_SYN`, `SERVER_AFTER_REQ`,
    /// `ICMP_ERROR`, `LAST_FULL`, `CLIENT_AFTER`, `CLIENT_AGAIN` (see
    /// [`BlackholeFlow::flag`]; five booleans made one byte, which paid for
    /// `server_last_ms`).
    flags: u8,
    /// When the server's latest packet in the connection arrived:
    /// milliseconds after the flow's first packet, plus one (0: none yet).
    server_last_ms: u32,
    /// Retransmissions of the first data segment (same sequence number;
    /// saturates at 255).
    pub req_retx: u8,
    /// The client's first segment that took sequence space after the
    /// server's latest packet in the connection (see [`CLIENT_CLOSED`]):
    /// 0 none yet; [`CLIENT_CLOSED`] a close (its FIN, a TLS alert); else
    /// new data, sent this many seconds after the server's latest packet,
    /// plus two (saturating).
    pub client_next: u8,
    /// The size of the client's segments on the wire: the smaller of the
    /// two MSS values (536 when the SYN/ACK has none), less 12 bytes when
    /// both SYNs offered timestamps (0: no SYN/ACK seen yet).
    pub seg_size: u16,
    /// `SYN_TS`: the client's SYN offered timestamps; `SEG_FINAL`:
    /// `seg_size` was worked out from the first SYN/ACK (a repeated
    /// SYN/ACK, or a SYN after it, changes nothing); `REQ_TTL_LIMITED`,
    /// `SERVER_CLOSED_EMPTY`, `REDIRECT_AWAY`, `RESIDUAL_HIT`, `PATH_SEG`,
    /// `ICMP_TOO_BIG`: below.
    pub syn_bits: u8,
    /// The kind of the first data.
    pub kind: u8,
    /// The link clock at the flow's latest packet.
    pub link_synack: Nanos,
    /// Link-wide QUIC replies, as of the flow's latest packet.
    pub link_quic: Nanos,
    /// QUIC Initials sent (UDP/443 flows; saturates at 255).
    pub initials: u8,
    /// How much shorter than `seg_size` the server's data segments are on
    /// this path (a path MTU below what the handshake announced, an MSS
    /// clamped on the client's SYN only): a candidate until the `PATH_SEG`
    /// bit of `syn_bits` confirms it (see [`BlackholeFlow::path_segment`];
    /// 0: none). Took the byte of `residual_hit`, now a bit of `syn_bits`.
    pub path_short: u8,
    /// A digest of an HTTP request's first line (method, path, version;
    /// 0 for other requests): with the Host, what the request asked for
    /// (see [`BlackholeServer::answered`]).
    pub req_line: u16,
    /// The first SYN/ACK's IP TTL (0: none seen).
    pub synack_ttl: u8,
}

impl BlackholeFlow {
    /// The client's first data: sequence number, length, time.
    pub fn req(&self) -> Option<(u32, u32, Nanos)> {
        self.flag(HAS_REQ).then_some(self.req_at)
    }

    /// For a UDP flow (which has no request): the link's latest SYN/ACK
    /// from a TCP port 443, as of the flow's latest packet, kept in the
    /// request's time.
    pub fn link_tls(&self) -> Nanos {
        self.req_at.2
    }

    /// This flow failed inside a residual-blocking window (its event must
    /// not restart the window being measured), or its event is too weak to
    /// open one (QUIC to a server never seen answering QUIC, a frozen
    /// transfer).
    pub fn residual_hit(&self) -> bool {
        self.syn_bits & RESIDUAL_HIT != 0
    }

    /// Sets [`BlackholeFlow::residual_hit`].
    pub fn set_residual_hit(&mut self, on: bool) {
        if on {
            self.syn_bits |= RESIDUAL_HIT;
        } else {
            self.syn_bits &= !RESIDUAL_HIT;
        }
    }

    /// The size of the server's data segments on this path when it is
    /// smaller than the handshake's (`seg_size`): two of the server's data
    /// segments without PSH (cut at the sender's segment size), or merged
    /// by GRO and back to back (within 50 ms of the packet before), with
    /// nothing between them but other segments with PSH, had this size or
    /// were a whole number of it, up to 255 bytes short of `seg_size` and
    /// at least 536. A path MTU below the ends' own (a tunnel, PPPoE, a VPN), whose
    /// discovery makes the server send shorter segments, or a router that
    /// clamps the MSS of the client's SYN only (PPPoE home routers clamp
    /// what they forward out of their WAN side), shortens them so.
    pub fn path_segment(&self) -> Option<u32> {
        (self.syn_bits & PATH_SEG != 0)
            .then(|| u32::from(self.seg_size).saturating_sub(u32::from(self.path_short)))
    }

    /// An ICMP error quoted this flow: [`ICMP_ERROR`], or a "packet too
    /// big" (path MTU discovery) after which the server sent no new data.
    pub fn icmp_error(&self) -> bool {
        self.flag(ICMP_ERROR) || self.syn_bits & ICMP_TOO_BIG != 0
    }

    /// When the server's latest packet in the connection arrived (`first_ts`:
    /// the flow's first packet; only meaningful when `server_last_ms > 0`).
    fn server_last(&self, first_ts: Nanos) -> Nanos {
        first_ts.saturating_add(i64::from(self.server_last_ms.saturating_sub(1)) * 1_000_000)
    }

    /// Whether flag `f` is set.
    pub fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set_flag(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }
}

/// The client's first data was seen ([`BlackholeFlow::req`]).
const HAS_REQ: u8 = 1;
/// A piece of the client's data after the first segment's first MSS was
/// small enough to pass a path-MTU hole (at most `pmtu_suspect_bytes`): a
/// later small segment, or the tail of a segment longer than the MSS (TSO:
/// a capture on the client host sees it before the NIC splits it).
pub const SMALL_MORE: u8 = 2;
/// The request was data on the SYN (TCP Fast Open), not yet known to have
/// been accepted.
pub const REQ_ON_SYN: u8 = 4;
/// A server packet arrived after the request went out.
pub const SERVER_AFTER_REQ: u8 = 8;
/// An ICMP error other than "packet too big" quoted this flow (the network
/// said no: not a blackhole; see [`BlackholeFlow::icmp_error`]).
pub const ICMP_ERROR: u8 = 16;
/// The server's latest packet in the connection was data, full-sized (a
/// whole number of the connection's segments): it was in the middle of
/// sending.
pub const LAST_FULL: u8 = 32;
/// After the server's latest packet in the connection, the client sent a
/// segment that takes sequence space (data, its FIN) while the link was
/// known to work: a SYN/ACK from any server had arrived a second or more
/// after the server's latest packet.
pub const CLIENT_AFTER: u8 = 64;
/// ... and another one after that (a retransmission, or more).
pub const CLIENT_AGAIN: u8 = 128;
/// [`BlackholeFlow::client_next`]: the client's first segment after the
/// server's latest packet was a close.
pub const CLIENT_CLOSED: u8 = 1;
/// New data this long (seconds) after the server's latest packet, with
/// nothing from the client before it, is a new request on a connection
/// that had been idle, not a client waiting for the rest of a transfer.
pub const IDLE_REQUEST_S: u8 = 20;

const SYN_TS: u8 = 1;
const SEG_FINAL: u8 = 2;
/// The server closed with a FIN at the first sequence number after its
/// SYN/ACK, over the SYN/ACK's path: it never sent a byte.
const SERVER_CLOSED_EMPTY: u8 = 4;
/// The IP TTL the first data left with was lower than the SYN's: a
/// TTL-limited probe (traceroute-style measurement), not real traffic.
const REQ_TTL_LIMITED: u8 = 8;
/// The server's answer to a plain-HTTP request was a temporary redirect to
/// another host ([`redirects_elsewhere`]).
const REDIRECT_AWAY: u8 = 16;
/// [`BlackholeFlow::residual_hit`].
const RESIDUAL_HIT: u8 = 32;
/// [`BlackholeFlow::path_short`] is confirmed ([`BlackholeFlow::path_segment`]).
const PATH_SEG: u8 = 64;
/// An ICMP "packet too big" quoted this flow (see
/// [`BlackholeFlow::icmp_error`]).
const ICMP_TOO_BIG: u8 = 128;

/// How much shorter than `seg` (the handshake's segment size) the segments
/// of a server data segment of `len` bytes are, if it is made of segments
/// of one shorter size, up to 255 bytes shorter and at least 536: the
/// segment itself, or `k` of them coalesced (GRO: a capture on the
/// receiving host sees the segments a NAPI poll merged) when exactly one
/// `k` fits. `None` for a whole number of `seg` (the handshake's size is
/// the path's), or a length no one shorter size explains.
fn path_shortfall(len: u32, seg: u32) -> Option<u8> {
    if len == 0 || seg < 537 || len.is_multiple_of(seg) {
        return None;
    }
    let lo = seg.saturating_sub(255).max(536);
    // k segments of p bytes, lo <= p < seg (at most a few dozen k for the
    // longest coalesced segment, 64 KiB; one or two for most)
    let (k_min, k_max) = (len.div_ceil(seg - 1), len / lo);
    if k_max.saturating_sub(k_min) > 64 {
        // (longer than any coalesced segment: a hostile length costs no
        // more than this)
        return None;
    }
    let mut found = None;
    for k in k_min..=k_max {
        if len.is_multiple_of(k) {
            if found.is_some() {
                return None;
            }
            found = Some(seg - len / k);
        }
    }
    found.and_then(|d| u8::try_from(d).ok())
}

const KIND_TLS: u8 = 1;
const KIND_HTTP: u8 = 2;
const KIND_OTHER: u8 = 3;

/// Per-server state: which ports worked lately, and recent detections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlackholeServer {
    /// (port, time) of the latest successes (server data), a few ports.
    pub ok: [(u16, Nanos); 4],
    /// (client, port, time) of recent detections on this server.
    pub detected: [(Option<IpAddr>, u16, Nanos); 8],
    /// Residual failures seen after each detection (same index).
    pub residual_failures: [u16; 8],
    /// When this server last answered QUIC on UDP/443 (0: never seen).
    pub quic_ok: Nanos,
    /// (port, request digest, time) of the latest answered requests whose
    /// target is known, a few: a TLS ClientHello's SNI, an HTTP request's
    /// Host and first line ([`request_digest`]). The same request answered
    /// on the same port near the time another went unanswered says the
    /// request is not what was blocked: the server was busy (a full accept
    /// queue drops the handshake's ACK and the request in silence).
    pub answered: [(u16, u32, Nanos); 4],
    /// Ports clients sent a connection's first SYN to since `syn_window`
    /// (a bit per port, hashed), for [`BlackholeServer::note_syn`].
    pub syn_ports: u64,
    /// When the current count of `syn_ports` began.
    pub syn_window: Nanos,
    /// The latest port scan of this server: (first, latest) time SYNs to
    /// [`SCAN_PORTS`] distinct ports came within [`SCAN_WINDOW`] (0, 0:
    /// none).
    pub scan: (Nanos, Nanos),
    /// When the latest HTTP requests on port 80 went out (their
    /// connection's first request; 0: none) that the server answered with
    /// a page (2xx) or a redirect that is not to `https://`: a site that
    /// serves plain HTTP, where a browser's attempt at `https://` first
    /// (Chrome's HTTPS-Upgrades) may find port 443 closed and fall back to
    /// them.
    pub plain_http: [Nanos; 4],
    /// The latest SYNs to TCP port 443 that went unanswered (a flow's last
    /// packet; 0: none): TCP/443 failing too, so it is no contrast for QUIC.
    pub syn443_failed: Nanos,
    /// When the server last accepted a connection (its SYN/ACK) from four
    /// (client, port) pairs: ([`answer_key`], time), the oldest replaced.
    pub answers: [(u32, Nanos); 4],
    /// The latest connection to this server found frozen mid-transfer
    /// (port, server bytes before the freeze, when; 0: none), see
    /// [`BlackholeDetector::frozen`].
    pub frozen: (u16, u32, Nanos),
}

/// A (client, server port) pair in [`BlackholeServer::answers`] (a fold of
/// the address and the port: two pairs colliding only merge their times).
fn answer_key(client: IpAddr, port: u16) -> u32 {
    let a = match client {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let b = a.to_bits();
            (b as u32) ^ ((b >> 32) as u32) ^ ((b >> 64) as u32) ^ ((b >> 96) as u32)
        }
    };
    a.rotate_left(16) ^ u32::from(port)
}

impl BlackholeServer {
    /// The server answered `key` at `t`.
    fn note_answer(&mut self, key: u32, t: Nanos) {
        if let Some(i) = slot_for(&self.answers, |e| e.0 == key && e.1 > 0, |e| e.1) {
            self.answers[i] = (key, t);
        }
    }

    /// When the server last answered `key` (0: not lately).
    fn answered(&self, key: u32) -> Nanos {
        self.answers
            .iter()
            .find(|(k, t)| *k == key && *t > 0)
            .map_or(0, |(_, t)| *t)
    }
}

/// HTTPS worked on the link "at the time" of a QUIC attempt when a SYN/ACK
/// from a TCP port 443 came at most this long before its first Initial.
const TLS_NOW: Nanos = 10 * SECOND;

/// A browser falls back from `https://` to `http://` this long after its
/// first SYN to port 443 (Chrome's HTTPS-Upgrades and Firefox's HTTPS-First
/// wait 3 s from the navigation, which the SYN follows after its DNS
/// lookup): a request sooner or later is not its fallback (another
/// application's, a user's), and a block is still judged.
pub const UPGRADE_FALLBACK: (Nanos, Nanos) = (2 * SECOND, 3 * SECOND + SECOND / 2);

/// Distinct ports of one server whose connections began within
/// [`SCAN_WINDOW`] that make a port scan: `nmap` (its connect scan's
/// kernel retransmits SYNs to filtered ports) run by a volunteer against
/// their own server (seventh red-team review). Few applications open ten
/// ports of one address in ten seconds (FTP's passive data connections
/// can: their SYN failures then go uncounted as blocking too).
pub const SCAN_PORTS: u32 = 10;

/// See [`SCAN_PORTS`].
pub const SCAN_WINDOW: Nanos = 10 * SECOND;

/// A response (the start of one, in a segment) that serves plain HTTP: a
/// 2xx, or a 3xx whose `Location` is not `https://` (a relative one stays
/// on the scheme it was asked on). A redirect to HTTPS says the site
/// expects HTTPS; anything else (4xx, 5xx, or headers beyond the segment)
/// says nothing.
/// A plain-HTTP response that sends the client to another host for now: a
/// temporary redirect (302, 303, 307) whose `Location` names a host other
/// than `host` (the request's). What a carrier's top-up page, a captive
/// portal or an interceptor answers for every site: it says nothing of the
/// server asked. (A site's own move to HTTPS, or to another path, names its
/// own host or none.)
fn redirects_elsewhere(p: &[u8], host: Option<&str>) -> bool {
    if !p.starts_with(b"HTTP/1.") || !matches!(p.get(9..12), Some(b"302" | b"303" | b"307")) {
        return false;
    }
    let Some(url) = location(p) else {
        return false;
    };
    let rest = if url.len() > 7 && url[..7].eq_ignore_ascii_case(b"http://") {
        &url[7..]
    } else if url.len() > 8 && url[..8].eq_ignore_ascii_case(b"https://") {
        &url[8..]
    } else {
        return false;
    };
    let to = url_host(rest);
    // (the Host may carry a port: `example.com:8080`)
    host.is_none_or(|h| !same_site(to, url_host(h.as_bytes())))
}

/// Two host names of one site: their last two labels agree (`example.com`
/// and `www.example.com`; a site's redirect to its `www.` name, or to a
/// sibling such as `login.example.com`, stays on the site). Under a
/// two-label public suffix (`co.uk`) any two names agree: a redirect there
/// is taken for the site's own, the cautious side.
///
/// An address literal is a site of its own: compared whole (by their last
/// two labels, `10.0.0.1` and `192.168.0.1` were one site, "0.1").
fn same_site(a: &[u8], b: &[u8]) -> bool {
    let literal = |h: &[u8]| {
        h.first() == Some(&b'[')
            || (!h.is_empty() && h.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
    };
    if literal(a) || literal(b) {
        return a.eq_ignore_ascii_case(b);
    }
    // (compared in place: this runs on a packet, and allocates nothing)
    fn tail(h: &[u8]) -> &[u8] {
        let h = h.strip_suffix(b".").unwrap_or(h);
        let mut dots = h.iter().enumerate().rev().filter(|(_, &c)| c == b'.');
        let start = dots.nth(1).map_or(0, |(i, _)| i + 1);
        &h[start..]
    }
    tail(a).eq_ignore_ascii_case(tail(b))
}

/// The `Location` header's value of an HTTP response's head (its first
/// 2 KiB), trimmed.
fn location(p: &[u8]) -> Option<&[u8]> {
    let head = &p[..p.len().min(2048)];
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(head.len());
    head[..end].split(|&c| c == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (line.len() > 9 && line[..9].eq_ignore_ascii_case(b"location:"))
            .then(|| line[9..].trim_ascii())
    })
}

fn serves_plain_http(p: &[u8]) -> bool {
    if !p.starts_with(b"HTTP/1.") || p.len() < 12 {
        return false;
    }
    match p.get(9) {
        Some(b'2') => true,
        Some(b'3') => location(p).is_some_and(|url| !url.starts_with(b"https://")),
        _ => false,
    }
}

/// The digest of what a request asked for: its target (SNI or Host) and,
/// for HTTP, its first line (`BlackholeFlow::req_line`). `None` without a
/// target, or for other requests.
fn request_digest(b: &BlackholeFlow, target: Option<&str>) -> Option<u32> {
    let t = target?;
    matches!(b.kind, KIND_TLS | KIND_HTTP)
        .then(|| fnv(t.as_bytes()) ^ (u32::from(b.req_line) << 16))
}

/// The digest under which a QUIC connection to a name is noted in the
/// server's answered requests (see [`request_digest`]): its SNI's, marked
/// apart from TLS over TCP (a ClientHello to the name answered over TCP
/// says nothing of QUIC, which is blocked alone often enough).
fn quic_digest(target: Option<&str>) -> Option<u32> {
    target.map(|t| fnv(t.as_bytes()) ^ 0x5155_4943)
}

/// A 32-bit digest of `bytes`.
fn fnv(bytes: &[u8]) -> u32 {
    let h = crate::dns::fnv(bytes);
    (h ^ (h >> 32)) as u32
}

/// The entry of `table` that `same` finds, else the one with the oldest
/// time (`time`): where a new entry goes.
fn slot_for<T>(
    table: &[T],
    same: impl Fn(&T) -> bool,
    time: impl Fn(&T) -> Nanos,
) -> Option<usize> {
    table.iter().position(same).or_else(|| {
        table
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| time(e))
            .map(|(i, _)| i)
    })
}

impl BlackholeServer {
    /// A connection's first SYN to `port` at `now`.
    fn note_syn(&mut self, port: u16, now: Nanos) {
        if since(now, self.syn_window) > SCAN_WINDOW {
            self.syn_ports = 0;
            self.syn_window = now;
        }
        // (a multiplicative hash: nmap's port lists are not 64 apart)
        let bit = (u64::from(port).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as u32;
        self.syn_ports |= 1 << bit;
        if self.syn_ports.count_ones() >= SCAN_PORTS {
            if self.scan.1 == 0 || since(now, self.scan.1) > SCAN_WINDOW {
                self.scan.0 = self.syn_window;
            }
            self.scan.1 = now;
        }
    }

    /// A request on port 80 sent at `t` was answered with plain HTTP.
    fn note_plain_http(&mut self, t: Nanos) {
        if self.plain_http.contains(&t) {
            return;
        }
        let i = slot_for(&self.plain_http, |_| false, |x| *x);
        if let Some(slot) = i.and_then(|i| self.plain_http.get_mut(i)) {
            *slot = t;
        }
    }

    /// A request answered with plain HTTP on port 80 went out
    /// [`UPGRADE_FALLBACK`] after `t` (a browser's fallback from
    /// `https://`).
    fn fell_back_to_http(&self, t: Nanos) -> bool {
        let (from, to) = UPGRADE_FALLBACK;
        self.plain_http
            .iter()
            .any(|&s| s > t && (from..=to).contains(&since(s, t)))
    }

    /// A connection that began at `t` was part of a port scan (within
    /// [`SCAN_WINDOW`] of one).
    fn scanned(&self, t: Nanos) -> bool {
        let (from, to) = self.scan;
        to > 0 && t >= from.saturating_sub(SCAN_WINDOW) && t <= to.saturating_add(SCAN_WINDOW)
    }

    fn note_answered(&mut self, port: u16, digest: u32, ts: Nanos) {
        let i = slot_for(
            &self.answered,
            |&(p, d, t)| p == port && d == digest && t > 0,
            |e| e.2,
        );
        if let Some(slot) = i.and_then(|i| self.answered.get_mut(i)) {
            *slot = (port, digest, ts.max(slot.2));
        }
    }
    /// The same request answered on `port` within `window` of `t`.
    fn request_answered(&self, port: u16, digest: u32, t: Nanos, window: Nanos) -> Option<Nanos> {
        self.answered
            .iter()
            .filter(|(p, d, ts)| *p == port && *d == digest && *ts > 0 && apart(*ts, t) <= window)
            .map(|(_, _, ts)| *ts)
            .max()
    }
    fn note_ok(&mut self, port: u16, ts: Nanos) {
        let i = slot_for(&self.ok, |&(p, t)| p == port && t > 0, |e| e.1);
        if let Some(slot) = i.and_then(|i| self.ok.get_mut(i)) {
            *slot = (port, ts.max(slot.1));
        }
    }
    fn note_detection(&mut self, client: IpAddr, port: u16, ts: Nanos) {
        let i = slot_for(
            &self.detected,
            |&(c, p, _)| c == Some(client) && p == port,
            |e| e.2,
        );
        if let Some(i) = i {
            if let Some(slot) = self.detected.get_mut(i) {
                *slot = (Some(client), port, ts);
            }
            if let Some(n) = self.residual_failures.get_mut(i) {
                *n = 0;
            }
        }
    }

    /// A success on (client, port) at `t`: ends residual blocking, if any;
    /// returns how long it lasted when failures were seen meanwhile.
    fn end_residual(&mut self, client: IpAddr, port: u16, t: Nanos) -> Option<Nanos> {
        let i = self
            .detected
            .iter()
            .position(|(c, p, d)| *c == Some(client) && *p == port && *d > 0 && *d <= t)?;
        let d = self.detected.get(i)?.2;
        let failures = self.residual_failures.get(i).copied().unwrap_or(0);
        if let Some(slot) = self.detected.get_mut(i) {
            *slot = (None, 0, 0);
        }
        (failures > 0).then_some(since(t, d))
    }

    fn note_residual_failure(&mut self, client: IpAddr, port: u16) {
        if let Some(i) = self
            .detected
            .iter()
            .position(|(c, p, _)| *c == Some(client) && *p == port)
        {
            if let Some(n) = self.residual_failures.get_mut(i) {
                *n = n.saturating_add(1);
            }
        }
    }
    /// The latest detection on (client, port) before `t`.
    fn detection(&self, client: IpAddr, port: u16, t: Nanos) -> Option<Nanos> {
        self.detected
            .iter()
            .filter(|(c, p, d)| *c == Some(client) && *p == port && *d <= t && *d > 0)
            .map(|(_, _, d)| *d)
            .max()
    }
    /// Whether `port` worked within `window` of `t`.
    fn port_ok(&self, port: u16, t: Nanos, window: Nanos) -> bool {
        self.ok
            .iter()
            .any(|&(p, ts)| p == port && ts > 0 && apart(ts, t) <= window)
    }
    /// Another port that worked within `window` of `t`.
    fn other_port_ok(
        &self,
        port: u16,
        t: Nanos,
        window: Nanos,
        keep: impl Fn(u16) -> bool,
    ) -> Option<(u16, Nanos)> {
        self.ok
            .iter()
            .copied()
            .filter(|(p, ts)| *p != port && *ts > 0 && apart(*ts, t) <= window && keep(*p))
            .max_by_key(|(_, ts)| *ts)
    }
}

/// The detector.
#[derive(Debug, Default)]
pub struct BlackholeDetector {
    cfg: BlackholeConfig,
}

impl BlackholeDetector {
    /// A connection frozen in mid-transfer (stage `transfer`): the server
    /// was sending (its last packet in the connection was data, a whole
    /// number of full segments: a transfer's last segment is short), then
    /// nothing of the server's came back in the connection, not even an
    /// acknowledgment of what the client sent after (a request, a window
    /// update, its FIN), which any live server's stack sends whatever its
    /// application does; and the server answered another connection a
    /// second or more after the freeze, so it and the path to it were up.
    /// Russia's TSPU has frozen connections to foreign hosting (Cloudflare,
    /// Hetzner, DigitalOcean) this way since 2024, after the first 16-20 KB
    /// the server sends. What else freezes one connection while the server
    /// answers others: a load balancer or anycast route change that sends
    /// its packets to a machine that does not know it and drops them (a
    /// rare one-off); a NAT mapping lost while the connection was idle
    /// (not in mid-transfer). Hence 0.6 for one, and 0.8 when another
    /// connection of the same port froze on the server within the contrast
    /// window. Returns whether it reported.
    fn frozen(&self, ctx: &mut Ctx<'_>, flow: &mut Flow, server: &mut ServerState) -> bool {
        let b = flow.ext.bh;
        let (c, s) = (
            flow.dirs[Dir::ToServer.idx()],
            flow.dirs[Dir::ToClient.idx()],
        );
        if flow.synack_ts().is_none()
            || b.req().is_none()
            || b.server_last_ms == 0
            || !b.flag(LAST_FULL)
            || b.icmp_error()
            || s.fin_seen()
            || flow.first_rst == Some(Dir::ToClient)
            || !s.ack_seen
            || flow.detected()
        {
            // (a flow another signature reported is that signature's: an
            // injected block page, a reset)
            return false;
        }
        let freeze = b.server_last(flow.first_ts);
        // the client sent more (data or its FIN) than the server ever
        // acknowledged, kept at it for 3 s after the server's last packet,
        // and sent some of it while the link was known to work (a SYN/ACK
        // from any server after the freeze: a link gone dark, a Wi-Fi or
        // radio outage, carries none), and that had time to be answered:
        // it was sent again (or more followed), or a second went by after it
        let unacked = seq_gt(c.next_seq, s.max_ack);
        // A new request sent after the connection had been idle for
        // 20 s or more was no client waiting for the rest of a transfer:
        // it had what it asked for (an answer that happened to end on a
        // segment boundary), and a NAT that forgot the idle connection
        // drops the request (found in review, session 23: an API polled
        // every minute, whose fixed-size answer was whole segments, gave
        // 0.6 and then 0.8 on every poll). A client that gives up closes
        // (its FIN, a TLS alert), however long it waited.
        if b.client_next >= IDLE_REQUEST_S.saturating_add(2) {
            return false;
        }
        let waited = b.flag(CLIENT_AGAIN)
            || (b.flag(CLIENT_AFTER) && since(ctx.link.now, flow.last_ts) >= SECOND);
        if !unacked || !waited || since(flow.last_ts, freeze) < 3 * SECOND {
            return false;
        }
        let sx = &mut server.ext.bh;
        // the server accepted a new connection from the same client on the
        // same port after the freeze (a server banning the client, fail2ban
        // on its web ports, goes on answering other ports and clients, and
        // retransmitting what it had sent on the connections it no longer
        // hears: found by a review of this rule, session 23)
        // ... while the client was still trying this one (at most 5 s after
        // its last packet: a server that crashed in mid-transfer and came
        // back a minute later, answering the next attempt, outlived
        // nothing; found in review, session 23)
        let answered = sx.answered(answer_key(flow.client_ip(), flow.server_port()));
        if since(answered, freeze) < SECOND || answered > flow.last_ts.saturating_add(5 * SECOND) {
            return false;
        }
        let port = flow.server_port();
        let bytes = s.payload_bytes;
        let answered_after = since(answered, freeze);
        // A link-down period (live capture only) from just before the freeze
        // to just after the client's last packet: the link went down or
        // the capture moved to another interface (the default route moved:
        // a laptop's Ethernet plugged in, whose replies then came back on
        // the Wi-Fi no longer watched), or the host was suspended (and the
        // server forgot the connection meanwhile). Found by a review of
        // this rule, session 23.
        let margin = crate::linkdown::LINK_DOWN_MARGIN;
        if ctx.link_down.overlaps(
            freeze.saturating_sub(margin),
            flow.last_ts.saturating_add(margin),
        ) {
            ctx.stats.link_down_excused[crate::stats::LinkDownExcused::Blackhole.idx()] += 1;
            return false;
        }
        if ctx.local.contains(flow.server_ip()) {
            ctx.stats.blackhole_inbound += 1;
            return false;
        }
        // (an excused freeze raises no later one)
        let before = sx.frozen;
        sx.frozen = (port, bytes, freeze);
        // (frozen at another moment: connections that froze together
        // lost their path together, a router that forgot its connections;
        // and after a similar count of the server's bytes, within half
        // again: a censor freezes each connection at its threshold, a
        // router that forgets its table twice does so wherever the
        // downloads are, 163 and 463 KB in a review's lab)
        let similar = |a: u32, b: u32| u64::from(a.max(b)) * 2 <= u64::from(a.min(b)) * 3;
        let again = before.2 > 0
            && before.0 == port
            && since(freeze, before.2) >= 2 * SECOND
            && since(freeze, before.2) <= self.cfg.contrast_window
            && similar(before.1, bytes);
        let mut contrast = vec!["server_answered_after_freeze"];
        if again {
            contrast.push("froze_before");
        }
        let mut ev = Map::new();
        ev.insert("stage".into(), json!(BlackholeStage::Transfer.as_str()));
        ev.insert("rules".into(), json!(["transfer_frozen"]));
        ev.insert("contrast".into(), json!(contrast));
        ev.insert("residual".into(), json!(false));
        ev.insert("server_bytes_before_freeze".into(), json!(bytes));
        // (the size the server's last segment was a whole number of: the
        // handshake's, or a shorter one its segments had on this path)
        let (size, from) = match b.path_segment() {
            Some(p) => (p, "path"),
            None => (u32::from(b.seg_size), "handshake"),
        };
        ev.insert("server_segment_size".into(), json!(size));
        ev.insert("server_segment_size_from".into(), json!(from));
        ev.insert(
            "client_bytes_unacknowledged".into(),
            json!(c.next_seq.wrapping_sub(s.max_ack)),
        );
        ev.insert(
            "client_kept_sending_s".into(),
            json!(since(flow.last_ts, freeze) as f64 / 1e9),
        );
        ev.insert(
            "server_answered_other_connection_after_s".into(),
            json!(answered_after as f64 / 1e9),
        );
        if again {
            ev.insert(
                "froze_before".into(),
                json!({"server_bytes": before.1, "seconds_earlier": since(freeze, before.2) as f64 / 1e9}),
            );
        }
        let confidence = if again { 0.8 } else { 0.6 };
        let target = flow.ext.target.as_deref().map(str::to_owned);
        // (a frozen connection opens no residual window: the next one
        // freezes in its own time)
        flow.ext.bh.set_residual_hit(true);
        if ctx.emit(flow, Signature::Blackhole, confidence, target, ev) {
            ctx.stats.blackholes[BlackholeStage::Transfer.idx()] += 1;
            return true;
        }
        false
    }

    /// A detector with these settings.
    pub fn new(cfg: BlackholeConfig) -> Self {
        BlackholeDetector { cfg }
    }
}

fn is_quic_initial(p: &[u8]) -> bool {
    // long header, fixed bit, at least the 1200 bytes a client's Initial is
    // padded to; the Initial's type is 1 in QUIC v2 (RFC 9369) and 0 in v1
    // and its drafts, where 1 is 0-RTT (which follows an Initial, and is
    // not one: found in review, session 16)
    const QUIC_V2: [u8; 4] = [0x6b, 0x33, 0x43, 0xcf];
    if p.len() < 1200 || p[0] & 0xc0 != 0xc0 {
        return false;
    }
    // a QUIC version: v1, v2, an IETF draft (0xff0000xx) or Google's
    // (`Q0xx`, `T0xx`). Without the check about one random-looking
    // datagram in sixteen passed for an Initial: a VPN on UDP/443
    // (OpenVPN with a static key, whose packets start with an HMAC) whose
    // server dropped them was QUIC blocking (sixth red-team review,
    // session 20)
    let Some(v) = p.get(1..5) else {
        return false;
    };
    let wire = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    let known = crate::quic::Version::from_wire(wire).is_some()
        || wire >> 8 == 0x00ff_0000
        || (matches!(v[0], b'Q' | b'T')
            && v[1] == b'0'
            && v[2].is_ascii_digit()
            && v[3].is_ascii_digit());
    if !known {
        return false;
    }
    let initial = if p.get(1..5) == Some(&QUIC_V2[..]) {
        1
    } else {
        0
    };
    (p[0] >> 4) & 0x03 == initial
}

impl Detector for BlackholeDetector {
    fn name(&self) -> &'static str {
        "blackhole"
    }

    fn on_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        server: &mut ServerState,
    ) {
        let server_port = flow.server_port();
        let client = flow.client_ip();
        let pmtu = self.cfg.pmtu_suspect_bytes;
        let b = &mut flow.ext.bh;
        b.link_synack = ctx.link.last_synack;
        b.link_quic = ctx.link.last_quic_reply;
        if !b.flag(HAS_REQ) && matches!(pkt.l4, Transport::Udp(_)) {
            b.req_at.2 = ctx.link.last_tls_synack;
        }
        if let Transport::Tcp(t) = &pkt.l4 {
            let first_synack = b.syn_bits & SEG_FINAL == 0;
            if t.syn() && dir == Dir::ToServer && first_synack {
                if flow.syns == 1 && !t.ack_flag() {
                    // (a connection's first SYN: the port-scan count)
                    server.ext.bh.note_syn(server_port, pkt.ts);
                }
                // (the client's own MSS, until the SYN/ACK's is known)
                b.seg_size = t.options.mss.unwrap_or(0);
                if t.options.timestamps.is_some() {
                    b.syn_bits |= SYN_TS;
                }
            } else if t.syn() && t.ack_flag() && dir == Dir::ToClient && first_synack {
                let client = if b.seg_size > 0 { b.seg_size } else { u16::MAX };
                let ts = if b.syn_bits & SYN_TS != 0 && t.options.timestamps.is_some() {
                    12
                } else {
                    0
                };
                b.seg_size = client.min(t.options.mss.unwrap_or(536)).saturating_sub(ts);
                b.syn_bits |= SEG_FINAL;
                b.synack_ttl = pkt.ip.ttl;
                if b.flag(REQ_ON_SYN) {
                    // TCP Fast Open: the SYN's data counts as the request
                    // only if the SYN/ACK acknowledges it; if not, the
                    // client sends it again after the handshake, and that
                    // is the request (the SYN/ACK must not count as the
                    // server speaking after it)
                    let (syn_seq, len, _) = b.req_at;
                    b.set_flag(REQ_ON_SYN, false);
                    if seq_gt(t.ack, syn_seq.wrapping_add(1)) {
                        // accepted: the request counts from now, so that
                        // this SYN/ACK is not another server answering
                        // after it
                        b.req_at = (syn_seq, len, pkt.ts);
                        if b.kind == KIND_TLS {
                            ctx.stats.tls_client_hellos += 1;
                        }
                    } else {
                        // (the resend is the request, and counted)
                        b.set_flag(HAS_REQ, false);
                        b.req_retx = 0;
                        return;
                    }
                }
            }
            // Pieces after the first of a segment longer than what the client
            // sends on the wire (TSO: a capture on the client host sees it
            // before the NIC splits it): its tail goes as a segment of its own.
            let seg = u32::from(if b.seg_size > 0 { b.seg_size } else { 1448 }).max(64);
            if dir == Dir::ToServer && t.payload_len > seg && !t.syn() {
                let tail = (t.payload_len - 1) % seg + 1;
                if tail <= pmtu {
                    b.set_flag(SMALL_MORE, true);
                }
            }
        }
        if dir == Dir::ToClient {
            if let Transport::Tcp(t) = &pkt.l4 {
                if t.syn() && t.ack_flag() {
                    server
                        .ext
                        .bh
                        .note_answer(answer_key(client, server_port), pkt.ts);
                }
                // the server's latest packet in this connection, and whether
                // it was data in the middle of a transfer: a whole number of
                // full segments (a transfer's last segment is short). Data
                // the client had already acknowledged, sent again, does not
                // count: the server never heard the acknowledgment (the
                // client's direction dropped), and says nothing new.
                let client_acked = flow.dirs[Dir::ToServer.idx()].max_ack;
                let stale = t.payload_len > 0
                    && !t.syn()
                    && !t.fin()
                    && !seq_gt(t.seq.wrapping_add(t.payload_len), client_acked);
                let seg = u32::from(b.seg_size);
                let data = b.syn_bits & SEG_FINAL != 0
                    && seg >= 536
                    && t.payload_len > 0
                    && !t.syn()
                    && !t.fin();
                let push = t.flags & crate::decode::tcp_flags::PSH != 0;
                if data && !stale && b.syn_bits & PATH_SEG == 0 {
                    // The server's segments on this path may be shorter
                    // than the handshake said (a path MTU below the ends'
                    // own, an MSS clamped on the client's SYN only: PPPoE
                    // home routers; before session 24 a freeze on such a
                    // path was missed). Two "cut" segments of one shorter
                    // size (or a whole number of it: GRO), with no client
                    // data and no cut segment of another size between
                    // them, make it this path's size. A segment without
                    // PSH is cut: its sender cut it at its segment size,
                    // having more to send, while an application's writes
                    // each end with PSH (a stream of 1316-byte chunks, a
                    // fixed-size answer: no segment size; review, session
                    // 24). A segment without PSH from a sender whose size
                    // is the handshake's is a whole number of it and
                    // resets the pair. A merged segment with PSH (Linux
                    // puts PSH on the last segment of each TSO burst, up
                    // to which GRO merges: every GSO frame of two or more
                    // segments had it in session 24's lab) confirms a size
                    // when it came back to back, within 50 ms of the
                    // server's packet before, as a flight's do, but
                    // proposes none: it may be one whole write (2,632-byte
                    // writes every 20 ms, merged back whole, are "2 x
                    // 1316"; a TLS 1.3 record of 16,406 bytes "13 x 1262":
                    // second review, session 24). Any other segment with
                    // PSH ended a write's tail: it breaks nothing.
                    let shortfall = path_shortfall(t.payload_len, seg);
                    let confirms = !push
                        || (t.payload_len > seg
                            && b.server_last_ms > 0
                            && since(pkt.ts, b.server_last(flow.first_ts)) <= 50 * 1_000_000);
                    match shortfall {
                        Some(d) if d == b.path_short && confirms => b.syn_bits |= PATH_SEG,
                        Some(d) if !push => b.path_short = d,
                        None if !push => b.path_short = 0,
                        _ => {}
                    }
                }
                if t.payload_len > 0 && !stale {
                    // (new data after a "packet too big": the connection
                    // went on, path MTU discovery worked; one that came
                    // after the server's last data may be why the client's
                    // data was never acknowledged: a host that drops the
                    // ICMP, second review, session 24)
                    b.syn_bits &= !ICMP_TOO_BIG;
                }
                if !stale || b.server_last_ms == 0 {
                    let ms = since(pkt.ts, flow.first_ts).max(0) / 1_000_000;
                    b.server_last_ms = u32::try_from(ms).unwrap_or(u32::MAX - 1) + 1;
                    b.client_next = 0;
                    b.set_flag(CLIENT_AFTER | CLIENT_AGAIN, false);
                    // (whole segments: of the handshake's size, or of the
                    // path's, once known)
                    let whole = |seg: u32| t.payload_len >= seg && t.payload_len % seg == 0;
                    b.set_flag(
                        LAST_FULL,
                        data && (whole(seg) || b.path_segment().is_some_and(whole)),
                    );
                }
            }
        }
        if let (Transport::Tcp(t), Dir::ToServer) = (&pkt.l4, dir) {
            if b.syn_bits & PATH_SEG == 0 && t.payload_len > 0 {
                // (the two segments of the path's size must be of one
                // answer: a fixed-size answer to each of the client's
                // requests is no segment size)
                b.path_short = 0;
            }
            if b.server_last_ms > 0 && !t.syn() && t.seq_len() > 0 {
                let server_last = b.server_last(flow.first_ts);
                if b.client_next == 0 {
                    // a close (a FIN, or a TLS alert: a client giving up on
                    // what it waited for) or new data (a new request on a
                    // connection it had all it wanted from), and when
                    let close = t.fin() || t.payload.first() == Some(&0x15);
                    let idle = since(pkt.ts, server_last).max(0) / 1_000_000_000;
                    b.client_next = if close {
                        CLIENT_CLOSED
                    } else {
                        u8::try_from(idle).unwrap_or(u8::MAX).saturating_add(2)
                    };
                }
                if since(ctx.link.last_synack, server_last) >= SECOND {
                    let again = b.flag(CLIENT_AFTER);
                    b.set_flag(if again { CLIENT_AGAIN } else { CLIENT_AFTER }, true);
                }
            }
        }
        match (&pkt.l4, dir) {
            (Transport::Tcp(t), Dir::ToServer) if t.payload_len > 0 => match b.req() {
                None => {
                    b.kind = if super::looks_like_tls_handshake(t.payload) {
                        // (on a SYN, counted once the SYN/ACK accepts it)
                        if !t.syn() {
                            ctx.stats.tls_client_hellos += 1;
                        }
                        KIND_TLS
                    } else if crate::proto::http_host(t.payload).is_some()
                        || t.payload.starts_with(b"GET ")
                    {
                        KIND_HTTP
                    } else {
                        KIND_OTHER
                    };
                    b.req_at = (t.seq, t.payload_len, pkt.ts);
                    b.set_flag(HAS_REQ, true);
                    b.set_flag(REQ_ON_SYN, t.syn());
                    b.syn_bits &= !REQ_TTL_LIMITED;
                    if pkt.ip.ttl.saturating_add(1) < flow.dirs[Dir::ToServer.idx()].ttl_max {
                        b.syn_bits |= REQ_TTL_LIMITED;
                    }
                    if b.kind == KIND_HTTP {
                        let head = &t.payload[..t.payload.len().min(512)];
                        let line = head.split(|&c| c == b'\r' || c == b'\n').next();
                        // (16 bits: the struct stays 48 bytes; two request
                        // lines of one server and port colliding within the
                        // contrast window is a 1 in 65,536 chance)
                        b.req_line = fnv(line.unwrap_or(head)) as u16;
                    }
                }
                Some((seq, _, _)) if seq == t.seq => b.req_retx = b.req_retx.saturating_add(1),
                Some(_) => {
                    if t.payload_len <= pmtu {
                        b.set_flag(SMALL_MORE, true);
                    }
                }
            },
            (l4, Dir::ToClient) if b.flag(HAS_REQ) => {
                b.set_flag(SERVER_AFTER_REQ, true);
                if let Transport::Tcp(t) = l4 {
                    // (the connection's first answer only: a page served, then
                    // a redirect to another site, an outbound link, served)
                    let first_answer =
                        flow.dirs[Dir::ToClient.idx()].payload_bytes == t.payload_len;
                    if b.kind == KIND_HTTP
                        && first_answer
                        && redirects_elsewhere(t.payload, flow.ext.target.as_deref())
                    {
                        b.syn_bits |= REDIRECT_AWAY;
                    }
                    if b.kind == KIND_HTTP && server_port == 80 && serves_plain_http(t.payload) {
                        // (when the request went out: a browser may have
                        // opened the connection earlier, a preconnect)
                        let asked = b.req().map_or(pkt.ts, |(_, _, at)| at);
                        server.ext.bh.note_plain_http(asked);
                    }
                    let isn = flow.dirs[Dir::ToClient.idx()].isn();
                    if t.fin()
                        && !t.syn()
                        && isn.is_some_and(|i| t.seq == i.wrapping_add(1))
                        && b.synack_ttl.abs_diff(pkt.ip.ttl) <= 1
                    {
                        b.syn_bits |= SERVER_CLOSED_EMPTY;
                    }
                }
            }
            (Transport::Udp(u), Dir::ToServer)
                if server_port == 443 && is_quic_initial(u.payload) =>
            {
                if b.initials == 0 {
                    ctx.stats.quic_attempts += 1;
                    if flow.ext.target.is_none() {
                        flow.ext.target =
                            crate::quic::client_initial_sni(u.payload).map(String::into_boxed_str);
                    }
                }
                let b = &mut flow.ext.bh;
                b.initials = b.initials.saturating_add(1);
            }
            _ => {}
        }
    }

    fn on_icmp(
        &mut self,
        _ctx: &mut Ctx<'_>,
        _pkt: &Packet<'_>,
        icmp: &crate::decode::IcmpInfo,
        flow: Option<&mut Flow>,
    ) {
        if let Some(f) = flow {
            // "packet too big" (ICMPv4 type 3 code 4, ICMPv6 type 2): path
            // MTU discovery at work, which says nothing of the transfer
            // that follows once the server's data went on after it (a
            // request longer than the path's MTU, a post-quantum
            // ClientHello of 1.8 KB, gets one at the start of every
            // connection; a freeze after it was missed: review, session
            // 24). Until then it counts like any ICMP error.
            let too_big = if icmp.v6 {
                icmp.icmp_type == 2
            } else {
                icmp.icmp_type == 3 && icmp.code == 4
            };
            if too_big {
                f.ext.bh.syn_bits |= ICMP_TOO_BIG;
            } else {
                f.ext.bh.set_flag(ICMP_ERROR, true);
            }
        }
    }

    fn on_flow_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow: &mut Flow,
        _o: FlowOutcome,
        server: &mut ServerState,
    ) {
        let b = flow.ext.bh;
        let port = flow.server_port();
        let sx = &mut server.ext.bh;
        // The server answered with data. A reset the client sent later
        // (an application abort, a browser giving up on a slow page) does
        // not undo that answer; a reset claimed from the server might be
        // injected with a block page, and is rst_injection's to judge.
        let server_data = flow.dirs[Dir::ToClient.idx()].payload_bytes > 0
            && flow.first_rst != Some(Dir::ToClient);
        if server_data || (flow.proto == FlowProto::Udp && flow.server_answered()) {
            // (a redirect to another host, a portal's or a carrier's top-up
            // page for every site, does not show the server working: found
            // by the eleventh red-team review, a prepaid package run out,
            // where port 80 "worked" for every server and HTTPS and QUIC
            // were dropped: 44 events in 3 minutes)
            if b.syn_bits & REDIRECT_AWAY == 0 {
                sx.note_ok(port, flow.last_ts);
            }
            // (not an answer some detector found forged: an injected block
            // page is data from the server's side too)
            let genuine = !flow.detected();
            // (when the answer came: its first data)
            let at = flow.dirs[Dir::ToClient.idx()]
                .first_payload()
                .map_or(flow.last_ts, |(ts, _)| ts);
            if let (Some(d), Some(_), true) = (
                request_digest(&b, flow.ext.target.as_deref()),
                b.req(),
                genuine,
            ) {
                sx.note_answered(port, d, at);
            }
            // (QUIC only: a VPN on UDP/443 that answered is no sign that
            // the server speaks QUIC)
            if flow.proto == FlowProto::Udp && port == 443 && b.initials > 0 {
                sx.quic_ok = sx.quic_ok.max(flow.last_ts);
                // (the name answered over QUIC: a busy server's dropped
                // attempt beside it is no block, see the failures below)
                if let (Some(d), true) = (quic_digest(flow.ext.target.as_deref()), genuine) {
                    sx.note_answered(port, d, at);
                }
            }
            if let Some(lasted) = sx.end_residual(flow.client_ip(), port, flow.first_ts) {
                ctx.stats
                    .observe_residual(u32::try_from(lasted / 1_000_000).unwrap_or(u32::MAX));
            }
            if flow.proto == FlowProto::Tcp && !flow.mptcp_join() {
                self.frozen(ctx, flow, server);
            }
            return;
        }
        // A subflow that a Multipath TCP connection added (MP_JOIN) and lost
        // (its path failed: a phone's LTE in a coverage hole while Wi-Fi
        // carries the connection on; a port the server announced and its
        // own firewall drops) is not judged: the connection reinjects its
        // data on the subflows that work (second red-team review, session
        // 26: 0.85 at the request stage, 0.7 at the SYN stage). A censor
        // blocking the address, port or name blocks the connection's first
        // subflow, which is judged; a join carries no name.
        if flow.mptcp_join() {
            return;
        }
        // Failures: which stage, and what contrast?
        let mut ev = Map::new();
        let mut rules: Vec<&'static str> = vec![];
        let stage;
        match flow.proto {
            FlowProto::Tcp if flow.synack_ts().is_none() => {
                if flow.syns < 2 || flow.server_answered() || b.icmp_error() {
                    return;
                }
                stage = BlackholeStage::Syn;
                ev.insert("syns".into(), json!(flow.syns));
                if port == 443 {
                    sx.syn443_failed = sx.syn443_failed.max(flow.last_ts);
                }
            }
            FlowProto::Tcp => {
                let Some((seq, len, req_ts)) = b.req() else {
                    return;
                };
                // A request sent with a lower TTL than the SYN is a TTL-limited
                // probe (traceroute-style measurement such as CenTrace): it is
                // not meant to arrive, and paths are too asymmetric to tell
                // which probes should have. Never judged.
                if flow.first_rst == Some(Dir::ToClient)
                    || b.icmp_error()
                    || b.syn_bits & REQ_TTL_LIMITED != 0
                {
                    // a reset is rst_injection's business, an ICMP error is an
                    // answer, a TTL-limited probe is not meant to arrive
                    return;
                }
                stage = match b.kind {
                    KIND_TLS => BlackholeStage::TlsClientHello,
                    KIND_HTTP => BlackholeStage::HttpRequest,
                    _ => BlackholeStage::Request,
                };
                let waited = since(flow.last_ts, req_ts);
                let server = flow.dirs[Dir::ToClient.idx()];
                // the whole request acknowledged (a FIN sharing its first
                // sequence number, as some probes send, does not count)
                let acked = server.ack_seen && !seq_gt(seq.wrapping_add(len), server.max_ack);
                ev.insert("request_bytes".into(), json!(len));
                ev.insert("request_retransmissions".into(), json!(b.req_retx));
                ev.insert("request_acknowledged".into(), json!(acked));
                ev.insert("waited_s".into(), json!(waited as f64 / 1e9));
                if b.flag(SERVER_AFTER_REQ) && !acked {
                    rules.push("request_unacknowledged");
                }
                // Retransmissions say the request did not get through only
                // while nothing acknowledged it: a request the server
                // acknowledged in the end (its ACKs lost under random loss,
                // then its answer late or lost) arrived, and if a ClientHello,
                // acknowledged_never_answered judges what came back.
                if b.req_retx >= 2 && !acked {
                    rules.push("request_retransmitted");
                }
                // A handshake completed by a box on the vantage point's own
                // network (the SYN/ACK passed no router, and nothing from
                // the server's side came from farther) is a TLS-terminating
                // or TCP-relaying proxy's (a TLS-inspecting gateway, an SNI
                // router) or a server on the local network: its ACK of the
                // ClientHello says nothing about the server beyond it, which
                // may simply be down (found by the fifth red-team review,
                // session 20: mitmproxy and nginx stream in the router, a
                // dead origin).
                let local_ack =
                    super::from_first_hop(b.synack_ttl) && super::from_first_hop(server.ttl_max);
                // The server closed without having sent a byte (its FIN at
                // the first sequence number after its SYN/ACK, over the
                // SYN/ACK's path): there was no ServerHello to drop. A TCP
                // proxy whose backend is down (haproxy in TCP mode closing
                // after its retries: fourth red-team review, session 20),
                // a server refusing the name.
                let closed_empty = b.syn_bits & SERVER_CLOSED_EMPTY != 0;
                if acked
                    && stage == BlackholeStage::TlsClientHello
                    && waited >= 3 * SECOND
                    && !closed_empty
                {
                    if local_ack {
                        ctx.stats.blackhole_first_hop_handshake += 1;
                    } else {
                        rules.push("acknowledged_never_answered");
                    }
                }
                // The server, which had just completed the handshake, fell
                // silent (not even an ACK, which any stack sends within its
                // delayed-ACK time) for 3 s after the request: everything
                // after the request was dropped.
                if !b.flag(SERVER_AFTER_REQ) && waited >= 3 * SECOND {
                    rules.push("server_silent_after_request");
                }
                if rules.is_empty() {
                    return;
                }
                // A large segment lost while small ones pass: path MTU. A
                // path-MTU black hole lets the request's small later pieces
                // through, though, and the server answers them with
                // duplicate ACKs: a server silent after a request with a
                // small piece lost all of it, which is no MTU problem (a
                // post-quantum ClientHello, about 1.7 KB, is a full segment
                // and a small one). Pieces all too large for the hole keep
                // the excuse.
                let mtu_story = !b.flag(SMALL_MORE) || b.flag(SERVER_AFTER_REQ);
                if len > self.cfg.pmtu_suspect_bytes
                    && mtu_story
                    && !rules.contains(&"acknowledged_never_answered")
                {
                    return;
                }
            }
            FlowProto::Udp => {
                if port != 443 || b.initials < 2 || self.cfg.ignore_quic || b.icmp_error() {
                    return;
                }
                stage = BlackholeStage::QuicInitial;
                ev.insert("initials".into(), json!(b.initials));
            }
        }
        // Contrast.
        // the flow's first packet (its first SYN when it started with one;
        // `syn_ts` moves with retransmitted SYNs)
        let first = flow.first_ts;
        let residual = sx
            .detection(flow.client_ip(), port, first)
            .filter(|d| since(first, *d) <= self.cfg.residual_window);
        // Another port's answers count only if they came from the server:
        // a port answered from five hops nearer than this one ever was is
        // answered by something near the client for every server (a
        // carrier's top-up redirect on port 80 once a prepaid package ran
        // out, while it drops HTTPS and QUIC: eleventh red-team review,
        // 24 events at 0.7 in 3 minutes).
        let handshakes = server.handshakes;
        let other_port = sx.other_port_ok(port, first, self.cfg.contrast_window, |p| {
            !handshakes.nearer_on(p, port)
        });
        let link_tcp = b.link_synack >= first;
        let link_quic = b.link_quic >= first;
        // After the request: another server's handshake or QUIC answer (the
        // flow's own SYN/ACK came before its request, so it never counts).
        let link_after_req = b
            .req()
            .is_some_and(|(_, _, req_ts)| b.link_synack > req_ts || b.link_quic > req_ts);
        let mut contrast = vec![];
        if let Some(d) = residual {
            contrast.push("residual");
            ev.insert(
                "residual_after_s".into(),
                json!(since(first, d) as f64 / 1e9),
            );
        }
        if let Some((p, t)) = other_port {
            contrast.push("same_server_other_port");
            ev.insert(
                "other_port".into(),
                json!({"port": p, "seconds_apart": apart(t, first) as f64 / 1e9}),
            );
        }
        match stage {
            BlackholeStage::Syn => {
                // A server that answers nothing on any port may simply be
                // down: only residual blocking or another working port speak.
                if link_tcp {
                    ev.insert("link_handshakes_meanwhile".into(), json!(true));
                }
            }
            BlackholeStage::QuicInitial => {
                if link_quic {
                    contrast.push("other_quic_servers_answer");
                }
                // Whether this server was ever seen speaking QUIC: a server
                // that never did may not speak it at all (a stale Alt-Svc
                // or HTTPS record), which looks the same as blocking.
                ev.insert("server_answered_quic".into(), json!(sx.quic_ok > 0));
                if sx.quic_ok > 0 {
                    ev.insert(
                        "server_quic_answer_seconds_apart".into(),
                        json!(apart(first, sx.quic_ok) as f64 / 1e9),
                    );
                }
                // (port 443 successes include TCP/443 and earlier QUIC), and
                // not failing since: TCP/443 whose SYNs go unanswered now is
                // no sign that QUIC alone is blocked (everything to the
                // server dropped: a carrier's cut-off once a prepaid package
                // ran out, eleventh red-team review)
                // ... and HTTPS worked on the link at the time: a SYN/ACK
                // from a TCP port 443 at most 10 s before the first Initial,
                // or after it (a browser falls back to TCP/443 at once). A
                // link that carries no HTTPS at all now (a carrier's cut-off
                // once a prepaid package ran out, everything but its top-up
                // page on port 80 dropped) says nothing of QUIC
                // (or the server's own TCP/443 answered a connection that
                // ended after the first Initial: a browser's backup
                // connection, whose SYN/ACK may come after the last Initial
                // that the link clock is read at; found in review)
                let https_then = b.link_tls() > 0 && b.link_tls().saturating_add(TLS_NOW) > first
                    || sx.ok.iter().any(|(p, t)| *p == 443 && *t >= first);
                if https_then
                    && sx.ok.iter().any(|(p, t)| {
                        *p == 443
                            && *t > 0
                            && *t > sx.syn443_failed
                            && apart(*t, first) <= self.cfg.contrast_window
                    })
                {
                    contrast.push("tcp443_same_server");
                }
            }
            _ => {
                // The server completed the handshake: it was up. Whether the
                // link still carried anything after the request is what
                // tells a block from the link going dark (Wi-Fi, a route
                // change) just after it.
                contrast.push("server_completed_handshake");
                if b.flag(SERVER_AFTER_REQ) {
                    // its packets still reached the client after the request
                    contrast.push("server_sent_after_request");
                }
                if link_after_req {
                    contrast.push("link_answered_after_request");
                }
                ev.insert("link_handshakes_meanwhile".into(), json!(link_after_req));
            }
        }
        let enough = match stage {
            BlackholeStage::Syn => residual.is_some() || (other_port.is_some() && link_tcp),
            // Other QUIC servers answering shows the link carries QUIC, but a
            // server that is simply down looks the same: the server itself
            // must have answered lately (on 443 or another port).
            BlackholeStage::QuicInitial => {
                residual.is_some()
                    || other_port.is_some()
                    || contrast.contains(&"tcp443_same_server")
            }
            // The server completed the handshake: it was up.
            _ => true,
        };
        // Nothing showed that the link still worked after the request (no
        // packet of the server's, no other server's answer, no other port,
        // no residual window): the link going dark just then (a Wi-Fi drop
        // outlasting the client's patience) looks the same. So does a real
        // block in a quiet moment (a lone connection to a blocked site, the
        // CenTrace steampowered capture), so it is reported, but weaker.
        let link_unproven = !matches!(stage, BlackholeStage::Syn | BlackholeStage::QuicInitial)
            && residual.is_none()
            && other_port.is_none()
            && !link_after_req
            && !b.flag(SERVER_AFTER_REQ);
        if !enough {
            return;
        }
        // The live capture's link went down (no carrier, or administratively
        // down) while the flow was silent: after the first attempt (the
        // first SYN or Initial, or the request; at most `LINK_DOWN_DARK`
        // after it) and up to `LINK_DOWN_MARGIN` after the flow's last
        // packet, or was down when the attempt went out (at most a poll,
        // `LINK_DOWN_POLL`, into the period: anything captured later came
        // through another interface, or the link was back). The silence is
        // explained, and nothing the capture saw tells a block from it.
        // Not reported (a false alarm tells a volunteer of censorship that
        // is not there); counted. Replays know no periods.
        let silence_from = match stage {
            BlackholeStage::Syn | BlackholeStage::QuicInitial => flow.first_ts,
            _ => b.req().map_or(flow.first_ts, |(_, _, t)| t),
        };
        if ctx.link_down.explains_silence(silence_from, flow.last_ts) {
            ctx.stats.link_down_excused[crate::stats::LinkDownExcused::Blackhole.idx()] += 1;
            return;
        }
        // A connection *to* the vantage point: its own address is the
        // server (a scan of a gateway's WAN address, or of a host's global
        // IPv6 address, retrying its SYNs to a port the firewall drops; a
        // port forward or a service is the other port that works). What a
        // firewall of the vantage point's own does to connections from
        // outside says nothing of censorship (tenth red-team review,
        // session 22). Not reported, counted. A replay knows only the
        // addresses the configuration names (`[vantage] local_addresses`).
        if ctx.local.contains(flow.server_ip()) {
            ctx.stats.blackhole_inbound += 1;
            return;
        }
        // The server answered the same thing on the same port meanwhile
        // (within the contrast window): for a request stage, the same
        // request (the SNI; for HTTP the Host and the request line), which
        // a censor blocking it would have blocked too; for the SYN stage,
        // any connection, which a censor blocking the address and port
        // would have blocked too. The silence was the server's own: a full
        // accept queue drops SYNs, and the handshake's ACK and the request
        // of a connection it cannot queue, in silence (a flash crowd,
        // found in review, session 19: 27 events at 0.85 for one busy
        // server). Not reported, counted. A residual window (this client
        // blocked on this port after a detection) still reports: the
        // censor's residual blocking is per client.
        if residual.is_none() {
            let busy = match stage {
                BlackholeStage::Syn => sx.port_ok(port, first, self.cfg.contrast_window),
                // the same name answered over QUIC by this server within
                // the contrast window: a busy HTTP/3 server dropping one
                // attempt's Initials (second red-team review, session 26:
                // 0.7, with the name answered 15 s before and 18 s after)
                BlackholeStage::QuicInitial => quic_digest(flow.ext.target.as_deref())
                    .and_then(|d| sx.request_answered(port, d, first, self.cfg.contrast_window))
                    .is_some(),
                _ => match (request_digest(&b, flow.ext.target.as_deref()), b.req()) {
                    (Some(d), Some((_, _, req_ts))) => sx
                        .request_answered(port, d, req_ts, self.cfg.contrast_window)
                        .is_some(),
                    _ => false,
                },
            };
            if busy {
                ctx.stats.blackhole_server_busy[stage.idx()] += 1;
                return;
            }
            // A browser trying `https://` first at a site that serves plain
            // HTTP on port 80 (no redirect to HTTPS) and whose firewall
            // drops port 443: Chrome's HTTPS-Upgrades tries the upgraded
            // URL, falls back to port 80 after 3 s, and the page's port 80
            // answers are the other-port contrast (ninth red-team review).
            // The fallback is a request on port 80 sent 2 to 3.5 s after the
            // first SYN to 443 (`UPGRADE_FALLBACK`), and answered with plain
            // HTTP (on a connection the browser may have opened before).
            // Not reported, counted.
            if stage == BlackholeStage::Syn
                && port == 443
                && other_port.is_some_and(|(p, _)| p == 80)
                && sx.fell_back_to_http(first)
            {
                ctx.stats.blackhole_https_upgrade += 1;
                return;
            }
            // A port scan of the server (a volunteer's nmap against their
            // own server): its filtered ports' SYNs go unanswered, and its
            // open ones make the other-port contrast. Not reported, counted.
            if stage == BlackholeStage::Syn && sx.scanned(first) {
                ctx.stats.blackhole_port_scan += 1;
                return;
            }
        }
        if stage == BlackholeStage::QuicInitial || stage == BlackholeStage::Syn {
            rules.push(if stage == BlackholeStage::Syn {
                "syn_unanswered"
            } else {
                "initials_unanswered"
            });
        }
        // QUIC to a server never seen speaking it: it may not (a stale
        // Alt-Svc or HTTPS record, its own firewall dropping UDP/443),
        // which looks the same as blocking. Reported at 0.6, also inside a
        // residual window, and it opens none: a client trying QUIC again
        // (another name on the address, another application) was raised to
        // 0.85 residual blocking by the first attempt's own event (fourth
        // red-team review, session 20).
        let quic_unproven = stage == BlackholeStage::QuicInitial && sx.quic_ok == 0;
        // QUIC Initials unanswered while nothing else on the link answered
        // either (no other server's handshake or QUIC reply after the first
        // Initial): the link going dark with its carrier up (a router that
        // stops forwarding) looks the same. As for the request stages, 0.6
        // (found by the sixth red-team review, session 20: a 22 s outage).
        let quic_dark = stage == BlackholeStage::QuicInitial
            && residual.is_none()
            && b.link_synack <= first
            && b.link_quic <= first;
        let confidence: f64 = match (residual.is_some(), rules.len()) {
            _ if link_unproven || quic_unproven || quic_dark => 0.6,
            (true, _) => 0.85,
            (false, n) if n >= 2 => 0.85,
            _ => 0.7,
        };
        ev.insert("stage".into(), json!(stage.as_str()));
        ev.insert("rules".into(), json!(rules));
        ev.insert("contrast".into(), json!(contrast));
        ev.insert("residual".into(), json!(residual.is_some()));
        let target = flow.ext.target.as_deref().map(str::to_owned);
        if residual.is_some() {
            server.ext.bh.note_residual_failure(flow.client_ip(), port);
        }
        // (an event inside a window must not restart it; a weak QUIC event
        // must not open one, nor a SYN-stage event: an address and port
        // that drop SYNs are blocked, or closed, whether or not a window is
        // open, and a client retrying such a port (a BitTorrent client's
        // unreachable peers behind a shared address) raised its retries to
        // 0.85 residual blocking with its own first event: sixth red-team
        // review, session 20)
        flow.ext.bh.set_residual_hit(
            residual.is_some() || quic_unproven || quic_dark || stage == BlackholeStage::Syn,
        );
        if ctx.emit(flow, Signature::Blackhole, confidence, target, ev) {
            ctx.stats.blackholes[stage.idx()] += 1;
        }
    }
}

/// Records detections (of any signature) on a flow so that later failures
/// on the same (client, server, port) are recognised as residual blocking.
/// A detection on a flow that already ended (a verdict held back and
/// decided later, see the DNS detector): noted as [`note_detections`]
/// would have at the flow's end, `ts` being its last packet.
pub(crate) fn note_late_detection(server: &mut ServerState, client: IpAddr, port: u16, ts: Nanos) {
    server.ext.bh.note_detection(client, port, ts);
}

pub fn note_detections(flow: &Flow, server: &mut ServerState) {
    if flow.detected() && !flow.ext.bh.residual_hit() {
        server
            .ext
            .bh
            .note_detection(flow.client_ip(), flow.server_port(), flow.last_ts);
    }
}

#[cfg(test)]
mod redirect_tests {
    use super::{redirects_elsewhere, serves_plain_http};

    #[test]
    fn a_temporary_redirect_to_another_host_is_elsewhere() {
        let topup = b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: http://topup.carrier.example/?n=1\r\n\r\n";
        assert!(redirects_elsewhere(topup, Some("www.example")));
        assert!(redirects_elsewhere(topup, None));
        // to the same host (any case, the Host with a port), or a path of its
        // own: not elsewhere
        let same = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://WWW.example/x\r\n\r\n";
        assert!(!redirects_elsewhere(same, Some("www.example")));
        assert!(!redirects_elsewhere(same, Some("www.example:8080")));
        let path = b"HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n";
        assert!(!redirects_elsewhere(path, Some("www.example")));
        // a permanent redirect, a page, or no Location: not elsewhere
        let moved = b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://other.example/\r\n\r\n";
        assert!(!redirects_elsewhere(moved, Some("www.example")));
        assert!(!redirects_elsewhere(b"HTTP/1.1 200 OK\r\n\r\n", None));
        assert!(!redirects_elsewhere(b"HTTP/1.1 302 Found\r\n\r\n", None));
        // a Location past the head's end is the body's
        let body = b"HTTP/1.1 302 Found\r\n\r\nLocation: http://x.example/\r\n";
        assert!(!redirects_elsewhere(body, None));
        for cut in 0..topup.len() {
            let _ = redirects_elsewhere(&topup[..cut], Some("www.example"));
        }
        // serves_plain_http reads the same header
        assert!(serves_plain_http(topup));
        assert!(!serves_plain_http(same));
    }

    /// Address literals are compared whole: an IPv6 literal is not cut at
    /// its first colon, and two IPv4 addresses are not one site for sharing
    /// their last two numbers.
    #[test]
    fn address_literals_are_hosts_of_their_own() {
        let to = |url: &str| format!("HTTP/1.1 302 Found\r\nLocation: {url}\r\n\r\n");
        let away = |url: &str, host: &str| redirects_elsewhere(to(url).as_bytes(), Some(host));
        // to another address that shares the first group, or the last two
        // numbers: elsewhere
        assert!(away("http://[2001:db8::2]/topup", "[2001:db8::1]"));
        assert!(away("http://[2001:db8::2]:8080/topup", "[2001:db8::1]:80"));
        assert!(away("http://10.0.0.1/portal", "192.168.0.1"));
        assert!(away("http://10.10.34.36/", "www.example"));
        assert!(away("http://portal.example/", "[2001:db8::1]"));
        // to the same address (a port, a path, another case): not
        assert!(!away("http://[2001:DB8::1]:8080/login", "[2001:db8::1]"));
        assert!(!away("https://[2001:db8::1]/", "[2001:db8::1]:80"));
        assert!(!away("http://192.168.0.1:8080/x", "192.168.0.1"));
        // names still compare by their last two labels
        assert!(!away("https://login.example.com/", "www.example.com"));
        assert!(away("https://topup.carrier.example/", "www.example.com"));
        // user information before the host is not the host (found in
        // review: `www.example.com:x@` made the carrier's page the site's)
        assert!(away(
            "http://www.example.com:x@topup.carrier.example/",
            "www.example.com"
        ));
        assert!(!away("http://user@www.example.com/", "www.example.com"));
        // an unclosed literal is taken whole, and does not panic
        assert!(away("http://[2001:db8::2", "[2001:db8::1]"));
        assert!(!redirects_elsewhere(to("http://[").as_bytes(), Some("[")));
    }
}

#[cfg(test)]
mod path_segment_tests {
    use super::path_shortfall;

    #[test]
    fn shorter_segments_alone_or_coalesced() {
        // the handshake said 1448 (1460 less timestamps)
        assert_eq!(path_shortfall(1388, 1448), Some(60)); // MSS clamped to 1400
        assert_eq!(path_shortfall(1348, 1448), Some(100)); // path MTU 1400
        assert_eq!(path_shortfall(2 * 1388, 1448), Some(60)); // two, by GRO
        assert_eq!(path_shortfall(3 * 1348, 1448), Some(100));
        // a whole number of the handshake's: its size is the path's
        assert_eq!(path_shortfall(1448, 1448), None);
        assert_eq!(path_shortfall(4 * 1448, 1448), None);
        // more than 255 short, or shorter than 536
        assert_eq!(path_shortfall(1100, 1448), None);
        assert_eq!(path_shortfall(500, 600), None);
        // no one shorter size: 3 x 1388 and a 500-byte tail
        assert_eq!(path_shortfall(3 * 1388 + 500, 1448), None);
        // a long coalesced run, one size
        assert_eq!(path_shortfall(30 * 1388, 1448), Some(60));
        // two sizes explain it (7,170 = 5 x 1434 = 6 x 1195): none
        assert_eq!(path_shortfall(7170, 1448), None);
        // hostile lengths cost at most 65 divisions
        assert_eq!(path_shortfall(u32::MAX, 1448), None);
        assert_eq!(path_shortfall(0, 1448), None);
        assert_eq!(path_shortfall(1000, 0), None);
    }
}

#[cfg(test)]
mod quic_tests {
    /// Long headers of 1200 bytes: v1 Initial (type 0), v1 0-RTT (type 1),
    /// v2 Initial (type 1), v2 0-RTT (type 2), a draft's Initial.
    #[test]
    fn initials_by_version() {
        let pkt = |first: u8, version: [u8; 4]| {
            let mut p = vec![0u8; 1200];
            p[0] = first;
            p[1..5].copy_from_slice(&version);
            p
        };
        let (v1, v2, draft29) = ([0, 0, 0, 1], [0x6b, 0x33, 0x43, 0xcf], [0xff, 0, 0, 29]);
        assert!(super::is_quic_initial(&pkt(0xc3, v1)));
        assert!(!super::is_quic_initial(&pkt(0xd3, v1)), "v1 0-RTT");
        assert!(super::is_quic_initial(&pkt(0xd3, v2)));
        assert!(!super::is_quic_initial(&pkt(0xe3, v2)), "v2 0-RTT");
        assert!(super::is_quic_initial(&pkt(0xc3, draft29)));
        assert!(!super::is_quic_initial(&pkt(0x43, v1)), "short header");
        assert!(!super::is_quic_initial(&pkt(0xc3, v1)[..1199]), "too short");
    }
}

#[cfg(test)]
mod contrast_tests {
    //! What shows that the link still worked after a request, and the
    //! path-MTU excuse (found in review, session 16).
    use crate::detectors::{default_detectors, DetectorsConfig};
    use crate::engine::{Engine, EngineConfig};
    use crate::event::Event;
    use crate::stats::Signature;
    use serde_json::Value;
    use std::net::{Ipv4Addr, SocketAddr};
    use tw_scenario::session::{TcpSession, Timeline, TsClock, EPOCH_NS};
    use tw_scenario::{http, tls, Endpoint, Rng};

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000 * MS;
    const RTT: i64 = 80 * MS;
    const BLOCKED: [u8; 4] = [203, 0, 113, 50];
    const OTHER: [u8; 4] = [198, 51, 100, 60];

    fn session(server: [u8; 4], cport: u16, sport: u16) -> TcpSession {
        let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
        let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport));
        TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000))
    }

    /// A timeline through one engine with the default detectors, to its end.
    fn replayed(tl: &Timeline) -> Engine {
        let pcap = tl
            .to_pcap_bytes(crate::decode::linktype::RAW, false)
            .unwrap();
        let cfg = DetectorsConfig::default();
        let mut e = Engine::new(
            EngineConfig {
                detectors: cfg.clone(),
                ..EngineConfig::default()
            },
            default_detectors(&cfg),
        );
        let mut off = 24;
        while off + 16 <= pcap.len() {
            let u = |o: usize| u32::from_le_bytes([pcap[o], pcap[o + 1], pcap[o + 2], pcap[o + 3]]);
            let (sec, usec, incl, orig) = (u(off), u(off + 4), u(off + 8) as usize, u(off + 12));
            let ts = i64::from(sec) * 1_000_000_000 + i64::from(usec) * 1000;
            e.process_frame(
                crate::decode::linktype::RAW,
                &pcap[off + 16..off + 16 + incl],
                ts,
                orig,
            );
            off += 16 + incl;
        }
        e.finish();
        e
    }

    /// Every blackhole event of a timeline, through one engine.
    fn blackholes(tl: &Timeline) -> Vec<Event> {
        let mut e = replayed(tl);
        let mut out = vec![];
        e.drain_events(|ev| {
            if ev.signature == Signature::Blackhole {
                out.push(ev)
            }
        });
        out
    }

    /// A ClientHello to `BLOCKED` at `t`, retransmitted at 1, 3 and 7 s,
    /// never answered, the client resetting at 12 s; returns when it went.
    fn unanswered_hello(tl: &mut Timeline, t: i64, large: bool) -> i64 {
        let mut s = session(BLOCKED, 54001, 443);
        let t = s.handshake(tl, t, RTT);
        let mut rng = Rng::new(1);
        let ch = tls::ClientHello::new("news.example", &mut rng)
            .with_large_key_share(large)
            .build();
        let t0 = s.client_send(tl, t + MS, &ch);
        for k in [1, 3, 7] {
            s.retransmit_client_last(tl, t0 + k * S);
        }
        s.rst_from_client(tl, t0 + 12 * S);
        t0
    }

    /// Another server's complete exchange at `t`.
    fn other_server_answers(tl: &mut Timeline, t: i64) {
        let mut o = session(OTHER, 54002, 443);
        let mut rng = Rng::new(2);
        let t1 = o.handshake(tl, t, RTT);
        let t1 = o.client_send(tl, t1 + MS, &tls::client_hello("ok.example", &mut rng));
        let t1 = o.server_send(tl, t1 + RTT, &tls::server_flight(&mut rng, 900));
        o.close(tl, t1 + MS, RTT);
    }

    /// A POST of `len` bytes handed to the capture as one (TSO) segment 1 ms
    /// after `t`, its first `seg` bytes sent again at 1, 3 and 7 s, nothing
    /// from the server, the client resetting at 12 s; another server
    /// answers meanwhile.
    fn unanswered_tso_post(
        tl: &mut Timeline,
        s: &mut TcpSession,
        t: i64,
        (len, content_length): (usize, usize),
        seg: usize,
    ) {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        let mut req = format!(
            "POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Length: {content_length}\r\n\r\n"
        )
        .into_bytes();
        req.resize(len, b'x');
        let first_seq = s.state.client_next_seq;
        let t0 = s.packet(tl, t + MS, Direction::FromClient, TcpFlags::PSH_ACK, &req);
        resend(
            s,
            tl,
            &[t0 + S, t0 + 3 * S, t0 + 7 * S],
            first_seq,
            &req[..seg],
        );
        s.rst_from_client(tl, t0 + 12 * S);
        other_server_answers(tl, t0 + 2 * S);
    }

    /// The client sends `payload` again at sequence number `seq`, at each
    /// time of `at` (what its retransmission timer does), leaving the
    /// session's next sequence number as it was.
    fn resend(s: &mut TcpSession, tl: &mut Timeline, at: &[i64], seq: u32, payload: &[u8]) {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        let end = s.state.client_next_seq;
        for &t in at {
            s.state.client_next_seq = seq;
            s.packet(tl, t, Direction::FromClient, TcpFlags::ACK, payload);
        }
        s.state.client_next_seq = end;
    }

    fn assert_no_events(ev: &[Event], what: &str) {
        assert!(
            ev.is_empty(),
            "{what}: {}",
            ev.iter()
                .map(|e| e.to_json_line())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// The only flow on the link: handshake, ClientHello, then nothing from
    /// anyone: a Wi-Fi drop, a route change, or a block in a quiet moment,
    /// which the capture cannot tell apart. Was a 0.85 event that said
    /// other servers answered meanwhile; now 0.6, and it says they did not.
    #[test]
    fn a_link_that_goes_dark_after_a_request_is_reported_weaker() {
        let mut tl = Timeline::new();
        unanswered_hello(&mut tl, EPOCH_NS, false);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].confidence, 0.6, "{}", ev[0].to_json_line());
        assert_eq!(
            ev[0].evidence.get("link_handshakes_meanwhile"),
            Some(&Value::Bool(false))
        );
        assert_eq!(
            ev[0].evidence["contrast"],
            serde_json::json!(["server_completed_handshake"])
        );
        // the same with another server answering after the request: blocking
        let mut tl = Timeline::new();
        let t0 = unanswered_hello(&mut tl, EPOCH_NS, false);
        other_server_answers(&mut tl, t0 + 2 * S);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].confidence, 0.85);
        assert_eq!(
            ev[0].evidence.get("link_handshakes_meanwhile"),
            Some(&Value::Bool(true))
        );
        let contrast = ev[0].evidence["contrast"].to_string();
        assert!(
            contrast.contains("link_answered_after_request"),
            "{contrast}"
        );
    }

    /// Another server that answered only *before* the request says nothing
    /// about the link after it; and `link_handshakes_meanwhile` is not set
    /// by the flow's own SYN/ACK (it was always true for request stages).
    /// The same server's port 80 working a moment before is contrast, so
    /// this one is reported, with the flag false.
    #[test]
    fn link_handshakes_meanwhile_does_not_count_the_flows_own_synack() {
        let mut tl = Timeline::new();
        other_server_answers(&mut tl, EPOCH_NS);
        unanswered_hello(&mut tl, EPOCH_NS + 2 * S, false);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].confidence, 0.6, "answers before the request only");
        let mut tl = Timeline::new();
        let mut h = session(BLOCKED, 54003, 80);
        let t = h.handshake(&mut tl, EPOCH_NS, RTT);
        let t = h.client_send(&mut tl, t + MS, &http::get("ok.example", "/"));
        let t = h.server_send(&mut tl, t + RTT, &http::ok_html(600));
        let t = h.close(&mut tl, t + MS, RTT);
        unanswered_hello(&mut tl, t + S, false);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(
            ev[0].evidence.get("link_handshakes_meanwhile"),
            Some(&Value::Bool(false)),
            "{}",
            ev[0].to_json_line()
        );
        assert!(ev[0].evidence["contrast"]
            .to_string()
            .contains("same_server_other_port"));
    }

    /// A path-MTU black hole (packets over ~1400 bytes dropped: a tunnel,
    /// ICMP "fragmentation needed" filtered) and an HTTP request of exactly
    /// two full-size segments (a POST, a GET with large cookies): both are
    /// over the hole's MTU and lost, so the server, which never received a
    /// byte, sends nothing; the client retransmits the first segment at 1, 3
    /// and 7 s and gives up at 12 s; another server answers meanwhile. Only a
    /// later piece small enough to pass the hole (at most
    /// `pmtu_suspect_bytes`) turns the excuse off (found in review of the
    /// first fix, which turned it off for any later segment).
    #[test]
    fn a_pmtu_hole_with_all_segments_full_size_stays_clean() {
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54011, 80);
        let t = s.handshake(&mut tl, EPOCH_NS, RTT);
        full_size_request_into_a_pmtu_hole(&mut tl, &mut s, t);
        assert_no_events(&blackholes(&tl), "path-MTU hole reported as blocking");
    }

    /// After the handshake (at `t`): a request of two full-size segments,
    /// both lost in a path-MTU hole, the first resent at 1, 3 and 7 s, the
    /// client giving up at 12 s; another server answers meanwhile.
    fn full_size_request_into_a_pmtu_hole(tl: &mut Timeline, s: &mut TcpSession, t: i64) {
        let seg = s.segment_size();
        assert_eq!(seg, 1448);
        let mut req =
            b"POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Length: 3000\r\n\r\n"
                .to_vec();
        req.resize(2 * seg, b'x');
        let first_seq = s.state.client_next_seq;
        let t0 = s.client_send(tl, t + MS, &req);
        resend(
            s,
            tl,
            &[t0 + S, t0 + 3 * S, t0 + 7 * S],
            first_seq,
            &req[..seg],
        );
        s.rst_from_client(tl, t0 + 12 * S);
        other_server_answers(tl, t0 + 2 * S);
    }

    /// The post-quantum ClientHello (about 1.7 KB) blackholed, as a capture
    /// on the client host records it: TCP segmentation offload hands the
    /// capture one 1.7 KB segment (the NIC splits it on the wire, into a
    /// full-size segment and a small one). The first fix keyed on a second
    /// captured segment, which a host capture never shows. A segment longer
    /// than the connection's MSS goes out as several on the wire, its tail
    /// small enough to pass a path-MTU hole.
    #[test]
    fn a_blackholed_pq_clienthello_seen_as_one_tso_segment_is_reported() {
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54012, 443);
        let t = s.handshake(&mut tl, EPOCH_NS, RTT);
        let mut rng = Rng::new(1);
        let ch = tls::ClientHello::new("news.example", &mut rng)
            .with_large_key_share(true)
            .build();
        assert!(ch.len() > s.segment_size(), "{} bytes", ch.len());
        let t0 = s.packet(
            &mut tl,
            t + MS,
            tw_scenario::session::Direction::FromClient,
            tw_scenario::packet::TcpFlags::PSH_ACK,
            &ch,
        );
        for k in [1, 3, 7] {
            s.retransmit_client_last(&mut tl, t0 + k * S);
        }
        s.rst_from_client(&mut tl, t0 + 12 * S);
        other_server_answers(&mut tl, t0 + 2 * S);
        assert_eq!(blackholes(&tl).len(), 1);
    }

    /// TCP Fast Open: the ClientHello rides in the SYN; the server's SYN/ACK
    /// acknowledges the SYN only (no cookie), so the client sends the data
    /// again at 1, 3, 7 s, all dropped; nothing else on the link. The
    /// request was recorded at the SYN, so the flow's own SYN/ACK came
    /// "after the request" (`server_sent_after_request`,
    /// `link_handshakes_meanwhile: true`, 0.7 instead of 0.6) and the
    /// retransmissions, at ISN+1, were not retransmissions of it. Data on
    /// a SYN is not the request now.
    #[test]
    fn tcp_fast_open_own_synack_is_not_link_contrast() {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54013, 443);
        let mut rng = Rng::new(1);
        let ch = tls::client_hello("news.example", &mut rng);
        let isn = s.state.client_next_seq;
        s.packet(&mut tl, EPOCH_NS, Direction::FromClient, TcpFlags::SYN, &ch);
        // the server accepts the SYN, not its data
        s.state.server_rcv_next = isn.wrapping_add(1);
        s.syn_ack(&mut tl, EPOCH_NS + RTT);
        let end = s.state.client_next_seq;
        for k in [0, 1, 3, 7] {
            s.state.client_next_seq = isn.wrapping_add(1);
            s.packet(
                &mut tl,
                EPOCH_NS + RTT + MS + k * S,
                Direction::FromClient,
                TcpFlags::PSH_ACK,
                &ch,
            );
            s.state.client_next_seq = end;
        }
        s.rst_from_client(&mut tl, EPOCH_NS + 12 * S);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let e = &ev[0];
        assert_eq!(
            e.evidence.get("link_handshakes_meanwhile"),
            Some(&Value::Bool(false)),
            "{}",
            e.to_json_line()
        );
        assert_eq!(e.confidence, 0.6, "{}", e.to_json_line());
        assert_eq!(e.evidence["request_retransmissions"], 3);
    }

    /// Found in review (session 16): TCP Fast Open with a valid cookie: the server accepts the
    /// ClientHello carried on the SYN (its SYN/ACK acknowledges it), and its
    /// answer is dropped. The client has nothing unacknowledged, sends no
    /// other data and gives up at 12 s; another server answers meanwhile.
    /// `acknowledged_never_answered` reports it (1b50d01 lost it: the SYN's
    /// data was never the request).
    #[test]
    fn tcp_fast_open_accepted_then_silence_is_reported() {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54021, 443);
        let mut rng = Rng::new(1);
        let ch = tls::client_hello("news.example", &mut rng);
        let isn = s.state.client_next_seq;
        s.packet(&mut tl, EPOCH_NS, Direction::FromClient, TcpFlags::SYN, &ch);
        s.syn_ack(&mut tl, EPOCH_NS + RTT);
        assert_eq!(
            s.state.server_rcv_next,
            isn.wrapping_add(1 + ch.len() as u32),
            "the SYN/ACK acknowledges the data"
        );
        s.client_ack(&mut tl, EPOCH_NS + RTT + MS);
        other_server_answers(&mut tl, EPOCH_NS + 2 * S);
        s.rst_from_client(&mut tl, EPOCH_NS + 12 * S);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
    }

    /// Found in review (session 16): the TSO tail is computed with the server's MSS, but the
    /// NIC splits at the client's segment size: the smaller of both MSS
    /// values, less TCP options (timestamps: 12 bytes). A client with MTU
    /// 1400 (MSS 1360, segments of 1348 with timestamps) sends a request of
    /// three full segments (4044 bytes) as one TSO segment; the server
    /// announces 1460. On the wire every piece is 1348 bytes, over the
    /// hole, as in `a_pmtu_hole_with_all_segments_full_size_stays_clean`;
    /// the code computes a "tail" of 4044 - 2 * 1460 = 1124 <= 1200 and
    /// drops the excuse.
    #[test]
    fn tso_tail_uses_the_clients_segment_size_not_the_servers_mss() {
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54022, 80);
        s.mss = 1360;
        s.syn(&mut tl, EPOCH_NS);
        s.mss = 1460;
        s.syn_ack(&mut tl, EPOCH_NS + RTT);
        let t = s.client_ack(&mut tl, EPOCH_NS + RTT + MS);
        unanswered_tso_post(&mut tl, &mut s, t, (3 * 1348, 4000), 1348);
        assert_no_events(&blackholes(&tl), "path-MTU hole reported as blocking");
    }

    /// Found in review (session 16): the converse: with timestamps a 1460-MSS connection sends
    /// 1448-byte segments, so a 1455-byte request handed to the capture as
    /// one TSO segment goes out as 1448 + 7 bytes. The 7-byte piece passes
    /// any path-MTU hole; the server stays silent: blocking, like
    /// `a_blackholed_pq_clienthello_seen_as_one_tso_segment_is_reported`.
    /// 1455 is not over the server's MSS, so the tail is not seen and the
    /// excuse holds.
    #[test]
    fn tso_segment_just_over_the_segment_size_is_reported() {
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54023, 80);
        let t = s.handshake(&mut tl, EPOCH_NS, RTT);
        assert_eq!(s.segment_size(), 1448);
        unanswered_tso_post(&mut tl, &mut s, t, (1455, 1400), 1448);
        assert_eq!(blackholes(&tl).len(), 1);
    }

    /// Found in review (session 16): a retransmitted SYN/ACK (the client's ACK lost) runs the
    /// SYN/ACK branch again with `seg_size` already reduced, so 12 more
    /// bytes come off per copy (1448 -> 1436). Every 1448-byte segment of
    /// `a_pmtu_hole_with_all_segments_full_size_stays_clean` then has a
    /// 12-byte "TSO tail", and the path-MTU hole is reported as blocking.
    #[test]
    fn a_retransmitted_synack_keeps_the_pmtu_excuse() {
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54031, 80);
        s.syn(&mut tl, EPOCH_NS);
        s.syn_ack(&mut tl, EPOCH_NS + RTT);
        s.client_ack(&mut tl, EPOCH_NS + RTT + MS);
        s.retransmit_server_last(&mut tl, EPOCH_NS + RTT + S);
        let t = s.client_ack(&mut tl, EPOCH_NS + RTT + S + MS);
        full_size_request_into_a_pmtu_hole(&mut tl, &mut s, t);
        assert_no_events(&blackholes(&tl), "path-MTU hole reported as blocking");
    }

    /// Found in review (session 16): TCP Fast Open accepted (the SYN/ACK acknowledges the SYN's
    /// data), nothing else on the link. The request is timed at the SYN,
    /// so the flow's own SYN/ACK moves the link clock past it:
    /// `link_handshakes_meanwhile: true` and `link_answered_after_request`,
    /// which blackhole.md says the flow's own SYN/ACK never gives.
    #[test]
    fn tcp_fast_open_accepted_own_synack_is_not_link_contrast() {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54032, 443);
        let mut rng = Rng::new(1);
        let ch = tls::client_hello("news.example", &mut rng);
        s.packet(&mut tl, EPOCH_NS, Direction::FromClient, TcpFlags::SYN, &ch);
        s.syn_ack(&mut tl, EPOCH_NS + RTT);
        s.client_ack(&mut tl, EPOCH_NS + RTT + MS);
        s.rst_from_client(&mut tl, EPOCH_NS + 12 * S);
        let ev = blackholes(&tl);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let e = &ev[0];
        assert!(
            !e.evidence["contrast"]
                .to_string()
                .contains("link_answered_after_request"),
            "{}",
            e.to_json_line()
        );
        assert_eq!(
            e.evidence.get("link_handshakes_meanwhile"),
            Some(&Value::Bool(false)),
            "{}",
            e.to_json_line()
        );
    }

    /// Found in review (session 16): TCP Fast Open not accepted: the SYN's ClientHello is counted
    /// in `tls_client_hellos` (metrics.md: connections whose first client
    /// data is a TLS handshake), forgotten at the SYN/ACK, and its resend
    /// counted again: one connection, two ClientHellos.
    #[test]
    fn tcp_fast_open_fallback_counts_one_client_hello() {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        let mut tl = Timeline::new();
        let mut s = session(BLOCKED, 54033, 443);
        let mut rng = Rng::new(1);
        let ch = tls::client_hello("news.example", &mut rng);
        let isn = s.state.client_next_seq;
        s.packet(&mut tl, EPOCH_NS, Direction::FromClient, TcpFlags::SYN, &ch);
        s.state.server_rcv_next = isn.wrapping_add(1);
        s.syn_ack(&mut tl, EPOCH_NS + RTT);
        s.state.client_next_seq = isn.wrapping_add(1);
        let t = s.packet(
            &mut tl,
            EPOCH_NS + RTT + MS,
            Direction::FromClient,
            TcpFlags::PSH_ACK,
            &ch,
        );
        let t = s.server_send(&mut tl, t + RTT, &tls::server_flight(&mut rng, 900));
        s.close(&mut tl, t + MS, RTT);
        assert_eq!(replayed(&tl).stats().tls_client_hellos, 1);
    }

    /// Clean look-alikes of TCP Fast Open (the issue left open in session
    /// 16): the ClientHello rides in the SYN and the server answers it,
    /// at once or after a slow back end (2.5 s), whether it accepted the
    /// SYN's data (its SYN/ACK acknowledges it) or not (the client sends it
    /// again after the handshake). Another server answers meanwhile. No
    /// detector may report anything.
    #[test]
    fn tcp_fast_open_answered_stays_clean() {
        use tw_scenario::packet::TcpFlags;
        use tw_scenario::session::Direction;
        for (i, (accepted, delay)) in [
            (true, RTT),
            (true, 2500 * MS),
            (false, RTT),
            (false, 2500 * MS),
        ]
        .into_iter()
        .enumerate()
        {
            let mut tl = Timeline::new();
            let mut s = session(BLOCKED, 54040 + i as u16, 443);
            let mut rng = Rng::new(1);
            let ch = tls::client_hello("news.example", &mut rng);
            let isn = s.state.client_next_seq;
            s.packet(&mut tl, EPOCH_NS, Direction::FromClient, TcpFlags::SYN, &ch);
            if !accepted {
                s.state.server_rcv_next = isn.wrapping_add(1);
            }
            s.syn_ack(&mut tl, EPOCH_NS + RTT);
            let t = if accepted {
                s.client_ack(&mut tl, EPOCH_NS + RTT + MS)
            } else {
                s.state.client_next_seq = isn.wrapping_add(1);
                s.packet(
                    &mut tl,
                    EPOCH_NS + RTT + MS,
                    Direction::FromClient,
                    TcpFlags::PSH_ACK,
                    &ch,
                )
            };
            other_server_answers(&mut tl, t + S);
            let t = s.server_send(&mut tl, t + delay, &tls::server_flight(&mut rng, 900));
            let t = s.client_send(&mut tl, t + MS, &[0x17, 3, 3, 0, 40]);
            let t = s.server_send(&mut tl, t + RTT, &[0x17; 300]);
            s.close(&mut tl, t + MS, RTT);
            let mut e = replayed(&tl);
            let mut ev = vec![];
            e.drain_events(|x| ev.push(x));
            assert_no_events(
                &ev,
                &format!("TFO accepted {accepted}, answer after {} ms", delay / MS),
            );
            // this flow's ClientHello once, and the other server's
            assert_eq!(e.stats().tls_client_hellos, 2, "accepted {accepted}");
        }
    }

    /// SNI blackholing (everything after the ClientHello dropped) of a
    /// post-quantum ClientHello (X25519MLKEM768, the default of current
    /// browsers: about 1.7 KB, two segments, the first of full size). The
    /// path-MTU excuse dropped it; but a path-MTU black hole lets the small
    /// second segment through and draws a duplicate ACK, so a silent server
    /// is not one.
    #[test]
    fn a_blackholed_post_quantum_clienthello_is_reported() {
        for large in [false, true] {
            let mut tl = Timeline::new();
            let t0 = unanswered_hello(&mut tl, EPOCH_NS, large);
            other_server_answers(&mut tl, t0 + 2 * S);
            assert_eq!(blackholes(&tl).len(), 1, "large key share: {large}");
        }
    }

    /// A real QUIC v1 client Initial for `name` (its SNI decrypted as
    /// tamperwatch does), with connection ID `seed`.
    fn quic_hello(name: &str, seed: u8) -> Vec<u8> {
        use crate::quic::tests as q;
        let hello = q::big_client_hello(name.as_bytes(), 32);
        let payload = q::padded(q::crypto(0, &hello));
        q::protect(
            crate::quic::Version::V1,
            &[seed; 8],
            &[seed ^ 0xff; 8],
            &[],
            0,
            2,
            &payload,
        )
    }

    /// QUIC to `BLOCKED` for `name` from `cport` at `t`: answered, or its
    /// Initials at 0, 0.3, 0.9 and 2.1 s unanswered.
    fn quic(tl: &mut Timeline, cport: u16, t: i64, name: &str, answered: bool) {
        let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
        let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(BLOCKED).into(), 443));
        let mut f = tw_scenario::UdpFlow::new(c, s);
        let hello = quic_hello(name, cport as u8);
        let mut rng = Rng::new(u64::from(cport));
        if answered {
            f.client_send(tl, t, hello);
            f.server_send(tl, t + RTT, tw_scenario::quic::initial(&mut rng));
            f.client_send(
                tl,
                t + RTT + MS,
                tw_scenario::quic::short_header(&mut rng, &[1; 8], 300),
            );
        } else {
            for k in [0, 300, 900, 2100] {
                f.client_send(tl, t + k * MS, hello.clone());
            }
        }
    }

    /// TLS over TCP/443 to `BLOCKED` for `name`, answered.
    fn tls_ok(tl: &mut Timeline, cport: u16, t: i64, name: &str) {
        let mut s = session(BLOCKED, cport, 443);
        let mut rng = Rng::new(u64::from(cport));
        let t = s.handshake(tl, t, RTT);
        let t = s.client_send(tl, t + MS, &tls::client_hello(name, &mut rng));
        let t = s.server_send(tl, t + RTT, &tls::server_flight(&mut rng, 900));
        s.close(tl, t + MS, RTT);
    }

    /// A busy HTTP/3 server drops one attempt's Initials while it answers
    /// the same name over QUIC 15 s before and 18 s after (the browser
    /// falling back to TCP/443 meanwhile): counted as a busy server, not
    /// reported (second red-team review, session 26: 0.7). Answers to
    /// another name over QUIC, or to the same name over TCP only, excuse
    /// nothing: QUIC blocked by name while TCP works is still reported.
    #[test]
    fn a_busy_quic_server_dropping_one_attempt_is_not_reported() {
        for (answered_name, over_quic, busy) in [
            ("shop.example", true, true),
            ("other.example", true, false),
            ("shop.example", false, false),
        ] {
            let mut tl = Timeline::new();
            let t = EPOCH_NS;
            if over_quic {
                quic(&mut tl, 50_001, t, answered_name, true);
            } else {
                tls_ok(&mut tl, 50_001, t, answered_name);
            }
            quic(&mut tl, 50_002, t + 15 * S, "shop.example", false);
            tls_ok(&mut tl, 50_003, t + 15 * S + 300 * MS, "shop.example");
            if over_quic {
                quic(&mut tl, 50_004, t + 33 * S, answered_name, true);
            }
            other_server_answers(&mut tl, t + 40 * S);
            let mut e = replayed(&tl);
            let mut ev = vec![];
            e.drain_events(|x| {
                if x.signature == Signature::Blackhole {
                    ev.push(x)
                }
            });
            let quic_busy =
                e.stats().blackhole_server_busy[super::BlackholeStage::QuicInitial.idx()];
            let case = format!("{answered_name} answered over QUIC: {over_quic}");
            if busy {
                assert!(ev.is_empty(), "{case}: {ev:?}");
                assert_eq!(quic_busy, 1, "{case}");
            } else {
                assert_eq!(ev.len(), 1, "{case}: {ev:?}");
                assert_eq!(ev[0].evidence["stage"], "quic_initial", "{case}");
                assert_eq!(ev[0].target.as_deref(), Some("shop.example"), "{case}");
                assert_eq!(quic_busy, 0, "{case}");
            }
        }
    }
}
