//! `http_injection`: forged HTTP responses (block pages, redirects).
//!
//! For flows whose client starts with an HTTP/1.x request, the detector
//! keeps the server's SYN/ACK headers, its first response (status, a few
//! headers, the first 2 KiB of bytes in order) and any *other* response
//! that arrives at the same sequence position. When the flow ends it weighs
//! (`docs/signatures/http_injection.md`):
//! - `conflicting_responses` (sufficient): two different responses at the
//!   same sequence position, the forged one and the real one;
//! - `block_page` (sufficient unless vague): the response matches a known
//!   block page; known false positives are matched first and never alert;
//! - header rules, scored: `ttl_mismatch`, `ip_id_marker`,
//!   `ip_id_out_of_sequence`, `df_mismatch`, `window_mismatch`, with
//!   `closed_with_response` (FIN or RST right with/after it) as context.
//!   Against the SYN/ACK alone (no server ACK before the response) TTL, DF
//!   and window count only for a response faster than half the round trip
//!   to the SYN/ACK's sender (the smaller of this handshake's and an ACK of
//!   the request over the SYN/ACK's path): behind a SYN proxy the SYN/ACK
//!   is the proxy's, and the origin cannot answer that fast. After the
//!   server's ACKs, a response that is not early is held against them and
//!   the SYN/ACK only with an IP ID marker (which unlocks them in any
//!   case), or when it came off every path of the server's answers on the
//!   port while the SYN/ACK came over one of them: a proxy may ACK, and
//!   the origin answer. Conversely, behind a SYN proxy (the SYN/ACK off
//!   every known path), a lone response over one of those paths is the
//!   origin's, unless it came sooner than a fifth of the fastest answer
//!   timed over that path (`ANSWER_EARLY_SHARE`): an injector near the
//!   client with the origin's TTL and DF;
//! - a redirect to `https://` on the request's own host never raises an
//!   event without a sufficient rule.

use crate::decode::{Packet, Transport};
use crate::detectors::{Ctx, Detector, ServerState};
use crate::fingerprints::HttpFingerprints;
use crate::flow::{seq_gt, seq_lt, Dir, Flow};
use crate::stats::{FlowOutcome, Signature};
use crate::time::{Nanos, MILLI};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Run this detector (`false`: it is not built, costs nothing, and
    /// neither emits nor counts anything).
    pub enabled: bool,
    /// TTL distance that counts as a mismatch.
    pub ttl_tolerance: u8,
    /// Score needed (two rules) without a sufficient rule.
    pub min_score: f64,
    /// Known block pages.
    pub fingerprints: Arc<HttpFingerprints>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            ttl_tolerance: 3,
            min_score: 0.6,
            fingerprints: Arc::new(HttpFingerprints::builtin().unwrap_or_default()),
        }
    }
}

/// IP-level headers of one server packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hdr {
    /// TTL.
    pub ttl: u8,
    /// IPv4 ID.
    pub ip_id: u16,
    /// DF.
    pub df: bool,
    /// TCP window.
    pub window: u16,
    /// The TCP checksum is right (`None`: not checked, or the segment was
    /// not captured whole, or is longer than a 1,500-byte packet holds: a
    /// receiving host's GRO merge, under the first segment's checksum).
    pub cksum: Option<bool>,
}

/// Response bytes kept per flow.
pub const BODY_KEEP: usize = 2048;

/// The first response's in-order bytes are searched this far for its
/// `<title>` element, which block pages carry and which may lie past the
/// bytes kept ([`BODY_KEEP`]): FortiOS 7's "Web Filter Violation" page has
/// it 4.7 KB into the body, after a padding comment and a style block
/// (found in review, session 27: never recognised).
pub const TITLE_SCAN: u32 = 16 * 1024;

/// At most this much of a `<title>` element found by the scan is kept.
pub const TITLE_KEEP: usize = 256;

/// A connection whose server segments had a wrong TCP checksum this many
/// times is no longer judged by checksums: damage is rare, and a vantage
/// point that sees many (a card that merges or leaves checksums in a way
/// not foreseen) would otherwise be blind to the responses.
pub const MAX_DAMAGED: u8 = 2;

/// Once the client has acknowledged this far past the first response, a
/// segment at its position is no longer compared with it: after 4 GiB on
/// one connection (a game or system update over port 80, a camera's
/// stream) the sequence numbers wrap onto it, and an injected page races
/// the first response, never a megabyte later (found in review, session
/// 27: `conflicting_responses` at 0.95 on every such connection).
pub const FAR_PAST_FIRST: u32 = 1 << 20;

/// A response that arrives after the request in less than this share of
/// the handshake's round trip (SYN to SYN/ACK) came from closer than
/// whoever sent the SYN/ACK.
pub const EARLY_SHARE: f64 = 0.5;

/// Handshakes faster than this are not used for timing: jitter and the
/// server's own delay weigh more than the path.
pub const MIN_RTT_FOR_TIMING: Nanos = 2 * MILLI;

/// Behind a SYN proxy, a lone response over a path of the origin's answers
/// that arrives after the request in less than this share of the fastest
/// answer timed over that path (`crate::detectors::rst::AnswerPath::answer_ms`)
/// came from closer than the origin. Smaller than [`EARLY_SHARE`]: the time
/// was measured on other connections, at other times (a congested link, a
/// VPN, a slow backend whose delayed ACK came first), so the origin's own
/// answer must be five times faster than its fastest before it counts.
pub const ANSWER_EARLY_SHARE: f64 = 0.2;

/// Behind a SYN proxy, a response "sooner than the origin" must also come
/// in less than this share of the fastest round trip to the proxy known.
pub const PROXY_SHARE: f64 = 0.75;

/// Answer times faster than this are not used for timing (LAN jitter, a
/// proxy near the client that ACKs requests itself).
pub const MIN_ANSWER_FOR_TIMING: Nanos = 10 * MILLI;

/// One response as seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Arrival of its first segment.
    pub ts: Nanos,
    /// Sequence number of its first byte.
    pub seq: u32,
    /// Headers of its first segment.
    pub hdr: Hdr,
    /// FIN set on a segment of it, or RST right after.
    pub closed: bool,
    /// The first bytes, in order.
    pub bytes: Vec<u8>,
}

impl Response {
    fn status_line(&self) -> &str {
        let end = self
            .bytes
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(self.bytes.len())
            .min(120);
        std::str::from_utf8(&self.bytes[..end]).unwrap_or("?")
    }
    fn status(&self) -> Option<u16> {
        let l = self.status_line();
        l.strip_prefix("HTTP/1.")
            .and_then(|r| r.get(2..5))
            .and_then(|s| s.parse().ok())
    }
    /// The head (up to the blank line) and the body start.
    fn split(&self) -> (&[u8], &[u8]) {
        match self.bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) => (&self.bytes[..i], &self.bytes[i + 4..]),
            None => (&self.bytes, &[]),
        }
    }
    fn header(&self, name: &str) -> Option<&[u8]> {
        let (head, _) = self.split();
        head.split(|&b| b == b'\n').skip(1).find_map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let i = l.iter().position(|&b| b == b':')?;
            l[..i]
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| trim(&l[i + 1..]))
        })
    }
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', r @ ..] = v {
        v = r;
    }
    while let [r @ .., b' ' | b'\t'] = v {
        v = r;
    }
    v
}

/// Per-flow state (allocated when the client's first data is an HTTP request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpFlow {
    /// The SYN/ACK's headers.
    pub synack: Option<Hdr>,
    /// Server packets without payload before the response (ACKs): IP IDs
    /// of the first four.
    pub pre_ids: Vec<u16>,
    /// The IP ID of the newest of them (after a large upload, thousands of
    /// ACKs after the first four).
    pub pre_last: Option<u16>,
    /// The client acknowledged [`FAR_PAST_FIRST`] past the first response.
    pub far: bool,
    /// Server segments with a wrong TCP checksum skipped (see
    /// [`MAX_DAMAGED`]).
    pub damaged: u8,
    /// How far (from its first byte) the first response was searched in
    /// order for its `<title>` (see [`TITLE_SCAN`]).
    pub scanned: u32,
    /// The `<title>` element found there (at most [`TITLE_KEEP`] bytes),
    /// with `title_done` once it is whole (or cut) or the search ended.
    pub title: Vec<u8>,
    pub title_done: bool,
    /// The last bytes searched (an opening tag may span two segments).
    pub carry: ([u8; 5], u8),
    /// The first bytes of a request split in its method ("GE"), and how
    /// many: until the next client data in order completes it, this is no
    /// request yet (and nothing is judged).
    pub split: Option<([u8; 8], u8)>,
    /// Windows the server used before the response.
    pub pre_windows: (u16, u16),
    /// In-order data segments that continued the first response: how many,
    /// their TTL range, and whether any had DF set / clear.
    pub cont: Continuation,
    /// The first response.
    pub first: Option<Response>,
    /// A different response at the same position.
    pub other: Option<Response>,
    /// The request line's method and path (at most 200 bytes).
    pub request_line: String,
    /// Arrival of the request's first segment.
    pub request_ts: Nanos,
    /// Sequence number of the request's first byte.
    pub request_seq: u32,
    /// Arrival of the first server packet before the response that
    /// acknowledged request bytes with the SYN/ACK's TTL and DF: a round trip
    /// to whoever sent the SYN/ACK, measured after the handshake.
    pub synack_path_ack: Option<Nanos>,
}

/// The server's segments that continued the first response in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Continuation {
    /// Segments seen.
    pub segments: u16,
    /// Smallest and largest TTL.
    pub ttl: (u8, u8),
    /// Some had DF set; some had it clear.
    pub df: (bool, bool),
}

impl Continuation {
    fn add(&mut self, h: Hdr) {
        self.ttl = if self.segments == 0 {
            (h.ttl, h.ttl)
        } else {
            (self.ttl.0.min(h.ttl), self.ttl.1.max(h.ttl))
        };
        self.df.0 |= h.df;
        self.df.1 |= !h.df;
        self.segments = self.segments.saturating_add(1);
    }
}

/// Where a response stands against the paths of the server's answers on
/// the port (`crate::detectors::rst::AnswerPaths`).
#[derive(Debug, Clone, Copy, Default)]
struct Paths {
    /// Off all of them while the SYN/ACK came over one: that path's TTL.
    off: Option<u8>,
    /// Over one of them while the SYN/ACK came over none (a SYN proxy's).
    origin: bool,
    /// With `origin`: the fastest answer timed over the paths it fits (ms;
    /// `None` when one of them was never timed).
    answer_ms: Option<u16>,
    /// The server's fastest handshake on this port over this connection's
    /// SYN/ACK path.
    rtt_min: Option<Nanos>,
}

/// The detector.
#[derive(Debug, Default)]
pub struct HttpDetector {
    cfg: HttpConfig,
}

impl HttpDetector {
    /// A detector with these settings.
    pub fn new(cfg: HttpConfig) -> Self {
        HttpDetector { cfg }
    }
}

/// The methods of a request for a resource (not a proxy's `CONNECT`).
const METHODS: &[&[u8]] = crate::proto::HTTP_METHODS.split_at(7).0;

fn is_request(p: &[u8]) -> bool {
    METHODS.iter().any(|m| p.starts_with(m))
}

/// `p` is the start of a request's method, cut before its space ("GE"):
/// a request split in its first bytes, as GoodbyeDPI, zapret and ByeDPI
/// send them to slip past DPI.
fn is_request_start(p: &[u8]) -> bool {
    !p.is_empty()
        && METHODS
            .iter()
            .any(|m| m.len() > p.len() && m.starts_with(p))
}

/// The request line of a request's first bytes (at most 200 bytes, no
/// control characters).
fn request_line(p: &[u8]) -> String {
    let line = p.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or(&[]);
    String::from_utf8_lossy(&line[..line.len().min(200)])
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

impl Detector for HttpDetector {
    fn name(&self) -> &'static str {
        "http_injection"
    }

    fn on_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        _server: &mut ServerState,
    ) {
        let Transport::Tcp(t) = &pkt.l4 else { return };
        let mut hdr = Hdr {
            ttl: pkt.ip.ttl,
            ip_id: pkt.ip.ip_id,
            df: pkt.ip.df,
            window: t.window,
            cksum: None,
        };
        if dir == Dir::ToClient && t.syn() && t.ack_flag() && flow.ext.synack.is_none() {
            hdr.cksum = checksum(pkt, t, None);
            flow.ext.synack = Some(hdr);
            return;
        }
        match dir {
            Dir::ToServer => {
                if let Some(h) = flow.ext.http.as_mut() {
                    // the rest of a request split in its first bytes: the
                    // next client data in order completes the method, or
                    // this was no request
                    // the client acknowledged far past the first response
                    // (its kernel took the stream that far; see
                    // `FAR_PAST_FIRST`): an injector cannot move this by
                    // sending server data ahead
                    if let Some(r) = &h.first {
                        h.far |= t.ack_flag()
                            && seq_gt(t.ack, r.seq)
                            && t.ack.wrapping_sub(r.seq) > FAR_PAST_FIRST;
                    }
                    if let Some((start, n)) = h.split {
                        let n = usize::from(n).min(start.len());
                        if t.payload_len == 0 || t.seq == h.request_seq {
                            return;
                        }
                        if t.seq != h.request_seq.wrapping_add(n as u32) {
                            flow.ext.http = None;
                            return;
                        }
                        let mut head = [0u8; 16];
                        let m = t.payload.len().min(head.len() - n);
                        head[..n].copy_from_slice(&start[..n]);
                        head[n..n + m].copy_from_slice(&t.payload[..m]);
                        if !is_request(&head[..n + m]) {
                            flow.ext.http = None;
                            return;
                        }
                        ctx.stats.http_requests += 1;
                        let mut line = start[..n].to_vec();
                        line.extend_from_slice(&t.payload[..t.payload.len().min(200)]);
                        h.request_line = request_line(&line);
                        h.split = None;
                    }
                    return;
                }
                let first = t.payload_len > 0
                    && flow.dirs[Dir::ToServer.idx()]
                        .first_payload()
                        .is_some_and(|(ts, seq)| ts == pkt.ts && seq == t.seq);
                if first && is_request(t.payload) {
                    ctx.stats.http_requests += 1;
                    flow.ext.http = Some(Box::new(HttpFlow {
                        synack: flow.ext.synack,
                        request_line: request_line(t.payload),
                        request_ts: pkt.ts,
                        request_seq: t.seq,
                        ..Default::default()
                    }));
                } else if first
                    && t.payload.len() == t.payload_len as usize
                    && is_request_start(t.payload)
                {
                    let mut start = [0u8; 8];
                    start[..t.payload.len()].copy_from_slice(t.payload);
                    flow.ext.http = Some(Box::new(HttpFlow {
                        synack: flow.ext.synack,
                        request_ts: pkt.ts,
                        request_seq: t.seq,
                        split: Some((start, t.payload.len() as u8)),
                        ..Default::default()
                    }));
                }
            }
            Dir::ToClient => {
                let Some(h) = flow.ext.http.as_mut().filter(|h| h.split.is_none()) else {
                    return;
                };
                if t.rst() {
                    if let Some(r) = h.first.as_mut() {
                        r.closed = true;
                    }
                    return;
                }
                if t.payload_len == 0 {
                    if h.first.is_none() {
                        if h.synack_path_ack.is_none()
                            && t.ack_flag()
                            && seq_gt(t.ack, h.request_seq)
                            && h.synack.is_some_and(|sa| {
                                sa.ttl.abs_diff(hdr.ttl) < self.cfg.ttl_tolerance && sa.df == hdr.df
                            })
                        {
                            h.synack_path_ack = Some(pkt.ts);
                        }
                        if h.pre_ids.len() < 4 {
                            h.pre_ids.push(pkt.ip.ip_id);
                        }
                        h.pre_last = Some(pkt.ip.ip_id);
                        h.pre_windows = if h.pre_windows == (0, 0) {
                            (t.window, t.window)
                        } else {
                            (h.pre_windows.0.min(t.window), h.pre_windows.1.max(t.window))
                        };
                    } else if t.fin() {
                        if let Some(r) = h.first.as_mut() {
                            r.closed = true;
                        }
                    }
                    return;
                }
                // A segment damaged on the way (a bit flipped by a router's
                // memory or a Wi-Fi driver after the sender computed its
                // checksum) reaches the capture with a wrong TCP checksum;
                // the client's kernel drops it, and the server sends it
                // again. It is no part of a response, nor a second one
                // (found in review, session 27: 0.95 on a damaged page and
                // its resend). Told only where the server's checksums can
                // be: right on its SYN/ACK (not left to an offloading card
                // on this host), the segment no merge of several (longer
                // than the client's MSS: GRO) and captured whole, and not
                // more than `MAX_DAMAGED` times on the connection. A forged
                // page needs a right checksum to be taken, so skipping a
                // wrong one hides nothing the client saw.
                // Only a segment that may become, join or race the first
                // response is summed: one within its first `TITLE_SCAN`
                // bytes while those are compared (a download's later bytes
                // are never summed).
                // (where this segment begins in the first response)
                let at = h.first.as_ref().map_or(0, |r| t.seq.wrapping_sub(r.seq));
                if h.damaged < MAX_DAMAGED
                    && at < TITLE_SCAN
                    && !h.far
                    && h.synack.is_some_and(|s| s.cksum == Some(true))
                {
                    // (a segment longer than both ends' MSS is a merge)
                    let mss = match flow.dirs.map(|d| d.mss()) {
                        [Some(a), Some(b)] => Some(a.min(b)),
                        [a, b] => a.or(b),
                    };
                    if checksum(pkt, t, mss) == Some(false) {
                        h.damaged += 1;
                        ctx.stats.http_damaged_segments += 1;
                        return;
                    }
                }
                match h.first.as_mut() {
                    None => {
                        // The response begins right after the server's
                        // SYN: a segment elsewhere is none of it (a junk
                        // segment out of the client's window, which its
                        // kernel drops, made both a forged page and the
                        // real answer compare with it: review, session 27)
                        let start = flow.dirs[Dir::ToClient.idx()]
                            .isn()
                            .map(|i| i.wrapping_add(1));
                        if start.is_some_and(|s| s != t.seq) {
                            return;
                        }
                        let n = t.payload.len().min(BODY_KEEP);
                        let mut bytes = Vec::with_capacity(n);
                        bytes.extend_from_slice(&t.payload[..n]);
                        h.first = Some(Response {
                            ts: pkt.ts,
                            seq: t.seq,
                            hdr,
                            closed: t.fin(),
                            bytes,
                        });
                    }
                    Some(r) => {
                        let off = t.seq.wrapping_sub(r.seq) as usize;
                        let have = r.bytes.len();
                        if !h.far
                            && (t.seq == r.seq
                                || (seq_lt(t.seq, r.seq.wrapping_add(have as u32))
                                    && !seq_lt(t.seq, r.seq)))
                        {
                            // A TCP keep-alive probe: one byte just before
                            // the sender's next sequence number (RFC 9293
                            // 3.8.4), its content arbitrary. Not a response.
                            if t.payload.len() == 1
                                && t.seq.wrapping_add(1) == r.seq.wrapping_add(have as u32)
                            {
                                return;
                            }
                            // overlaps what we have: a retransmission, or another response
                            let n = t.payload.len().min(have - off.min(have));
                            let same = r
                                .bytes
                                .get(off..off + n)
                                .is_some_and(|b| b == &t.payload[..n]);
                            if !same && h.other.is_none() {
                                let mut bytes = Vec::with_capacity(t.payload.len().min(BODY_KEEP));
                                bytes.extend_from_slice(
                                    &t.payload[..t.payload.len().min(BODY_KEEP)],
                                );
                                h.other = Some(Response {
                                    ts: pkt.ts,
                                    seq: t.seq,
                                    hdr,
                                    closed: t.fin(),
                                    bytes,
                                });
                            }
                        } else if off == have && have < BODY_KEEP {
                            // the next in-order bytes of the first response
                            let n = t.payload.len().min(BODY_KEEP - have);
                            // grow once, to exactly what is kept: letting the
                            // Vec double made a 1,448-byte first segment
                            // plus the next one take 2,896 bytes, not 2,048
                            r.bytes.reserve_exact(BODY_KEEP - have);
                            r.bytes.extend_from_slice(&t.payload[..n]);
                            r.closed |= t.fin();
                            h.cont.add(hdr);
                        } else if seq_gt(t.seq, r.seq) {
                            r.closed |= t.fin();
                            h.cont.add(hdr);
                        }
                    }
                }
                scan_title(h, at, t.payload);
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
        let Some(h) = flow.ext.http.take().filter(|h| h.split.is_none()) else {
            return;
        };
        // The paths the server's answers on this port came over in its
        // connections (in-order runs of three segments or more at one TTL,
        // which the RST detector records: an injector's one-segment page
        // makes none). A lone response off all of them is not the
        // server's, whoever ACKed the request: a URL or keyword block at a
        // server whose other pages load.
        // Only where this connection's SYN/ACK came over one of those paths
        // (the server's handshakes and answers share a path): at a
        // SYN-proxied site the origin's paths cannot be listed (a route
        // change, another backend), and its short answer over a new one was
        // reported (found in review, session 17).
        let port = flow.server_port();
        let answers = server.ext.rst.answers;
        let tol = self.cfg.ttl_tolerance;
        let synack_path = h
            .synack
            .and_then(|sa| answers.fitting(sa.ttl, sa.df, port, tol));
        // (per port and SYN/ACK path, not the server's fastest on any: a
        // box near the client completing the address's handshakes on
        // another port, a TLS-inspecting gateway on 443, made the bound
        // below tiny; found in the third review, session 18)
        let rtt_min = h
            .synack
            .and_then(|sa| server.handshakes.fastest(sa.ttl, sa.df, port, tol));
        let paths = |r: &Response| {
            let fits = answers.fitting(r.hdr.ttl, r.hdr.df, port, tol).is_some();
            // (timed against the origin's own answers over the path, not
            // the server's fastest handshake: that includes this
            // connection's own stretched one and other ports' intercepting
            // boxes; found in the fifth review, session 17)
            let origin = fits && synack_path.is_none();
            Paths {
                off: synack_path.filter(|_| !fits).map(|p| p.ttl),
                origin,
                answer_ms: origin
                    .then(|| answers.fitting_answer_ms(r.hdr.ttl, r.hdr.df, port, tol))
                    .flatten(),
                rtt_min,
            }
        };
        let Some(first) = &h.first else { return };
        // both SYNs offered window scaling: windows after them are scaled,
        // the SYN/ACK's never is, so the two are not comparable
        let scaled = flow.dirs.iter().all(|d| d.wscale().is_some());
        // The round trip to whoever sent the SYN/ACK: this handshake's (or
        // an ACK of the request over its path, in `hdr_score`). Not the
        // server's fastest handshake on its other connections: that may be
        // another port's, another path's (a route change, a VPN) or an
        // intercepting box's, and a fast one hid early pages (found in
        // review, session 17).
        let rtt = flow.handshake_rtt();
        let mut rules: Vec<&'static str> = vec![];
        let mut score = 0.0;
        let mut sufficient = false;
        let mut ev = Map::new();
        // Which response is forged, when there are two: the one whose headers
        // do not fit the SYN/ACK, else the first. Two answers to one request
        // already prove the injection, so the headers are weighed against
        // the SYN/ACK whatever the timing: the injected page that loses the
        // race (it comes after the real one) is still the one that does not
        // fit (found in review, session 16). The timing gate is for a lone
        // response only.
        let gate = h.other.is_none();
        // (the first response's body with its `<title>`, where that lay
        // past the bytes kept)
        let late_title = (!h.title.is_empty()
            && !first
                .bytes
                .windows(h.title.len())
                .any(|w| w == &h.title[..]))
        .then(|| {
            let mut b = first.split().1.to_vec();
            b.push(b'\n');
            b.extend_from_slice(&h.title);
            b
        });
        let fingerprint = |r: &Response| {
            let (_, body) = r.split();
            let body = match &late_title {
                Some(b) if std::ptr::eq(r, first) => &b[..],
                _ => body,
            };
            self.cfg.fingerprints.lookup(|n| r.header(n), body)
        };
        // (a known block page, not a vague one)
        let page = |r: &Response| fingerprint(r).is_some_and(|f| !f.false_positive() && !f.vague());
        let (forged, real) = match &h.other {
            Some(o) => {
                rules.push("conflicting_responses");
                sufficient = true;
                // A known block page is the forged one whatever its
                // headers (one that lost the race with the server's TTL
                // and DF scored as the real answer, which was named
                // forged: review, session 27)
                let score = |r| {
                    self.hdr_score(&h, r, scaled, rtt, false, Paths::default())
                        .0
                };
                let forged_other = match (page(o), page(first)) {
                    (true, false) => true,
                    (false, true) => false,
                    _ => score(o) > score(first),
                };
                if forged_other {
                    (o, Some(first))
                } else {
                    (first, Some(o))
                }
            }
            None => (first, None),
        };
        let (hs, hrules, hdetails, early) =
            self.hdr_score(&h, forged, scaled, rtt, gate, paths(forged));
        score += hs;
        rules.extend(hrules.iter().copied());
        ev.extend(hdetails);
        // Block-page fingerprints.
        let fp = fingerprint(forged);
        let mut fp_rule = false;
        if let Some(f) = fp {
            if f.false_positive() {
                ev.insert("known_false_positive".into(), json!(f.name));
            } else {
                rules.push("block_page");
                fp_rule = true;
                if !f.vague() {
                    sufficient = true;
                } else {
                    score += 0.3;
                }
                ev.insert(
                    "fingerprint".into(),
                    json!({"name": f.name, "scope": f.scope, "source": f.source}),
                );
            }
        }
        let header_rules = hrules.len();
        if forged.closed && (header_rules > 0 || fp_rule) {
            rules.push("closed_with_response");
            score += 0.1;
        }
        let passes = sufficient || (score >= self.cfg.min_score && header_rules >= 2);
        if !passes || fp.is_some_and(|f| f.false_positive()) && h.other.is_none() {
            return;
        }
        // A redirect to https:// on the request's own host (the commonest
        // answer on port 80) blocks nothing: never an event on headers alone.
        if !sufficient && upgrades_to_https(forged, flow.ext.target.as_deref()) {
            return;
        }
        // Injected on the path, or a block page served from the server's
        // end (a firewall in front of the server, same distance)?
        // A page with the connection's own headers whose SYN/ACK and page
        // both came with an initial TTL (no router passed them on) was made
        // by whatever terminated the connection one hop away: an
        // intercepting proxy in the vantage point's router or LAN (Squid's
        // access-denied page, fifth red-team review), not the server's end.
        let first_hop = super::from_first_hop(forged.hdr.ttl)
            && h.synack.is_some_and(|sa| sa.ttl == forged.hdr.ttl);
        // And a block page that came sooner than half the round trip to
        // the SYN/ACK's sender came from closer than the server, whatever
        // its headers (Iran's page with the server's TTL and DF, 6 ms after
        // the request on a 120 ms path, was `server_side` at 0.6: review,
        // session 27). (Its scope does not say: a national filter's page
        // at the server's end, a full round trip after the request, is
        // `server_side`, fixture `http_block_server_side_scaled`.)
        let origin = if h.other.is_some() || header_rules > 0 || (fp_rule && early) {
            "on_path"
        } else if first_hop {
            "first_hop"
        } else {
            "server_side"
        };
        let confidence = if h.other.is_some() {
            0.95
        } else if sufficient && origin == "on_path" {
            0.9
        } else if sufficient {
            0.6
        } else {
            score.min(0.9)
        };
        ev.insert("rules".into(), json!(rules));
        ev.insert("origin".into(), json!(origin));
        ev.insert("request_line".into(), json!(h.request_line));
        // IPv6 has no IP ID and no DF: null, not 0 and false
        let v4 = flow.server_ip().is_ipv4();
        ev.insert("response".into(), response_json(forged, v4));
        if let Some(r) = real {
            ev.insert("other_response".into(), response_json(r, v4));
        }
        if let Some(s) = h.synack {
            ev.insert(
                "syn_ack".into(),
                json!({"ttl": s.ttl, "ip_id": v4.then_some(s.ip_id), "df": v4.then_some(s.df), "window": s.window}),
            );
        }
        let target = flow.ext.target.as_deref().map(str::to_owned);
        ctx.emit(flow, Signature::HttpInjection, confidence, target, ev);
    }
}

impl HttpDetector {
    /// Header inconsistencies of `r` against the SYN/ACK and the server's
    /// earlier ACKs (`scaled`: the connection uses window scaling; `rtt`:
    /// the handshake's round trip; `gate`: a lone response, whose TTL, DF,
    /// window and IP ID sequence count only when it was early, with an IP
    /// ID marker, or when it came off every path of the server's answers on
    /// this port, and not when it came over one behind a SYN proxy unless
    /// it came much sooner than the origin's fastest answer over that path:
    /// `paths`): (score, rules, details, whether it was early against the
    /// fastest round trip known to the SYN/ACK's sender).
    fn hdr_score(
        &self,
        h: &HttpFlow,
        r: &Response,
        scaled: bool,
        rtt: Option<Nanos>,
        gate: bool,
        paths: Paths,
    ) -> (f64, Vec<&'static str>, Map<String, Value>, bool) {
        let mut rules = vec![];
        let mut d = Map::new();
        let mut s = 0.0;
        let Some(sa) = h.synack else {
            return (s, rules, d, false);
        };
        // A handshake proxied by a DDoS scrubbing service (a SYN proxy): the
        // SYN/ACK comes from elsewhere, and the response and the segments
        // that continue it share one path. A block page is one segment; a
        // response that goes on over the same path for two more is the
        // server's, and the SYN/ACK is the odd one out.
        let c = h.cont;
        let tol = self.cfg.ttl_tolerance;
        let proxied = c.segments >= 2
            && c.ttl.0.abs_diff(r.hdr.ttl) < tol
            && c.ttl.1.abs_diff(r.hdr.ttl) < tol
            && c.df != (true, true)
            && c.df.0 == r.hdr.df;
        if proxied && (sa.ttl.abs_diff(r.hdr.ttl) >= tol || sa.df != r.hdr.df) {
            d.insert("syn_ack_from_another_path".into(), json!(true));
        }
        // The server sent nothing but the SYN/ACK before the response: that
        // one packet is all the response's TTL, DF and window can be held
        // against, and behind a SYN proxy it is the proxy's while a short
        // answer (a redirect, a 204, a 304, an error page: one segment) is
        // the origin's. What the origin cannot do is answer sooner than a
        // round trip to the proxy in front of it; an injector on the path
        // answers sooner than the server it speaks for. So against the
        // SYN/ACK alone these rules count only for an early response.
        //
        // The round trip is the smaller known to whoever sent the SYN/ACK:
        // this handshake's, and the time an ACK of the request over the
        // SYN/ACK's path (its TTL and DF) took.
        // A mobile radio waking up for the SYN can stretch this handshake
        // tenfold, and made an origin's answer a round trip later "early".
        let alone = h.pre_ids.is_empty();
        let delay = r.ts - h.request_ts;
        let ack_rtt = h.synack_path_ack.map(|a| a - h.request_ts);
        let rtt_best = rtt.into_iter().chain(ack_rtt).min();
        let early = rtt_best.is_some_and(|rtt| {
            rtt >= MIN_RTT_FOR_TIMING && (delay as f64) < rtt as f64 * EARLY_SHARE
        });
        if alone {
            d.insert("response_after_request_ms".into(), json!(ms(delay)));
            if let Some(rtt) = rtt {
                d.insert("handshake_rtt_ms".into(), json!(ms(rtt)));
            }
        }
        let mut ids = vec![sa.ip_id];
        ids.extend(&h.pre_ids);
        let marker = matches!(r.hdr.ip_id, 0x3412 | 30000) && !ids.contains(&r.hdr.ip_id);
        // After the server's ACKs, a lone response that is not early came
        // no sooner than a round trip to whoever ACKed: not from closer than
        // the server. Its TTL, DF, window and IP ID may still differ from the
        // handshake's and the ACKs': behind a SYN proxy that ACKs the request
        // itself, or with the origin's ACK, a one-segment answer is the
        // origin's, from another stack than the SYN/ACK's. Those differences
        // say "another sender", which a proxy explains; they count only with
        // a known injector's IP ID (Sandvine's 307), whether or not the
        // server ACKed the request first (found in review, session 17: the
        // same 307 without the server's ACK was not judged), or when the
        // response is off every path of the server's answers (`paths.off`).
        // Behind a SYN proxy (the SYN/ACK off every known path of the
        // server's answers), a lone response over one of those paths is the
        // origin's, early or not against the handshake (a mobile radio that
        // stretched the handshake made it "early"); only an injector's IP ID
        // marker still counts against it, or an arrival much sooner than the
        // origin ever answered over that path (`ANSWER_EARLY_SHARE` of its
        // fastest timed answer, which no handshake is part of): an injector
        // near the client whose page has the origin's TTL and DF.
        // And sooner than a round trip to the proxy: the origin sits behind
        // it, so nothing of the origin's can come sooner, while the path's
        // fastest timed answer includes the origin's delayed ACK or render
        // time (when it sends no ACK) and the queues of the moment it was
        // timed (a saturated uplink, another network): a cached 304 one
        // round trip after the request was "sooner than a fifth" of those
        // (found in review, session 18). The round trip is the fastest known:
        // this handshake's, its ACK of the request, or the server's fastest
        // handshake on this port over this SYN/ACK's path (a waking radio stretches this one; a
        // second review found the 304 after a 150 ms Wi-Fi power-save
        // handshake reported, and an injector between half the proxy's round
        // trip and the proxy missed when half of it was the bound).
        let proxy_rtt = rtt_best.into_iter().chain(paths.rtt_min).min();
        // (three quarters of it: handshakes measured at 30-32 ms and the
        // origin's cached answer at 29 ms is jitter, not a nearer sender;
        // found in the third review, session 18)
        let before_proxy = proxy_rtt
            .is_some_and(|p| p >= MIN_RTT_FOR_TIMING && (delay as f64) < p as f64 * PROXY_SHARE);
        let sooner_than_origin = paths.answer_ms.filter(|&a| {
            let a = Nanos::from(a) * MILLI;
            gate && paths.origin
                && before_proxy
                && a >= MIN_ANSWER_FOR_TIMING
                && (delay as f64) < a as f64 * ANSWER_EARLY_SHARE
        });
        if let Some(a) = sooner_than_origin {
            d.insert("origin_fastest_answer_ms".into(), json!(a));
            d.insert("response_after_request_ms".into(), json!(ms(delay)));
        }
        let server_path = gate && paths.origin && !marker && sooner_than_origin.is_none();
        let against_synack =
            (!gate || early || marker || paths.off.is_some() || sooner_than_origin.is_some())
                && !server_path;
        if let Some(ttl) = paths.off.filter(|_| gate) {
            d.insert("ttl_server_answers".into(), json!(ttl));
        }
        let judged = against_synack && !proxied;
        let ttl_d = sa.ttl.abs_diff(r.hdr.ttl);
        if ttl_d >= self.cfg.ttl_tolerance && judged {
            rules.push("ttl_mismatch");
            s += 0.5;
            d.insert("ttl_server".into(), json!(sa.ttl));
            d.insert("ttl_response".into(), json!(r.hdr.ttl));
        }
        // (the newest ID before the response: after an upload, thousands
        // of ACKs past the first four; against the fourth, the server's own
        // answer "jumped": review, session 27)
        let last = h.pre_last.unwrap_or(sa.ip_id);
        let sequential = ids.len() >= 2
            && ids
                .windows(2)
                .all(|w| (1..=64).contains(&w[1].wrapping_sub(w[0])));
        // One IP ID is one observation: a marker value is also out of the
        // server's sequence, and counts once, as the marker.
        if marker {
            rules.push("ip_id_marker");
            s += 0.35;
            d.insert("ip_id_response".into(), json!(r.hdr.ip_id));
        } else if sequential && r.hdr.ip_id.wrapping_sub(last) > 1000 && against_synack {
            rules.push("ip_id_out_of_sequence");
            s += 0.25;
            if ids.last() != Some(&last) {
                ids.push(last);
            }
            d.insert("ip_ids_server".into(), json!(ids));
            d.insert("ip_id_response".into(), json!(r.hdr.ip_id));
        }
        if sa.df != r.hdr.df && judged {
            rules.push("df_mismatch");
            s += 0.15;
        }
        // With window scaling the SYN/ACK's window is in other units than
        // the segments after it: compare with the server's earlier ACKs only.
        let (lo, hi) = if scaled {
            h.pre_windows
        } else if h.pre_windows == (0, 0) {
            (sa.window, sa.window)
        } else {
            (
                h.pre_windows.0.min(sa.window),
                h.pre_windows.1.max(sa.window),
            )
        };
        if lo > 0
            && against_synack
            && (u32::from(r.hdr.window) > u32::from(hi) * 4
                || u32::from(r.hdr.window) * 4 < u32::from(lo))
        {
            rules.push("window_mismatch");
            s += 0.15;
            d.insert("window_server".into(), json!([lo, hi]));
            d.insert("window_response".into(), json!(r.hdr.window));
        }
        // (early against the fastest round trip known to the SYN/ACK's
        // sender, the server's other handshakes on the port over its path
        // included: the origin label must not rest on a handshake a
        // waking radio stretched; review, session 27)
        let early_known = proxy_rtt
            .is_some_and(|p| p >= MIN_RTT_FOR_TIMING && (delay as f64) < p as f64 * EARLY_SHARE);
        (s, rules, d, early && early_known)
    }
}

/// Searches the first response's next in-order bytes (`p`, at `at` from
/// its first byte) for its `<title>` element, up to [`TITLE_SCAN`], and
/// keeps it (see [`HttpFlow::title`]). Bytes out of order end nothing: a
/// later segment in order goes on.
fn scan_title(h: &mut HttpFlow, at: u32, p: &[u8]) {
    const OPEN: &[u8] = b"<title";
    const CLOSE: &[u8] = b"</title>";
    if h.title_done || at != h.scanned || p.is_empty() {
        return;
    }
    if at >= TITLE_SCAN {
        h.title_done = true;
        return;
    }
    let p = &p[..p.len().min((TITLE_SCAN - at) as usize)];
    h.scanned = at + p.len() as u32;
    let find = |hay: &[u8], pat: &[u8]| {
        hay.windows(pat.len())
            .position(|w| w.eq_ignore_ascii_case(pat))
    };
    let room = |h: &HttpFlow| TITLE_KEEP - h.title.len().min(TITLE_KEEP);
    if h.title.is_empty() {
        // an opening tag that began in the last bytes searched
        let (carry, c) = h.carry;
        let c = usize::from(c).min(carry.len());
        let mut head = [0u8; 10];
        let k = p.len().min(5);
        head[..c].copy_from_slice(&carry[..c]);
        head[c..c + k].copy_from_slice(&p[..k]);
        if let Some(i) = find(&head[..c + k], OPEN).filter(|&i| i < c) {
            h.title.extend_from_slice(&head[i..c]);
            let n = p.len().min(room(h));
            h.title.extend_from_slice(&p[..n]);
        } else if let Some(i) = find(p, OPEN) {
            let n = (p.len() - i).min(room(h));
            h.title.extend_from_slice(&p[i..i + n]);
        } else {
            let keep = p.len().min(5);
            let mut tail = [0u8; 5];
            tail[..keep].copy_from_slice(&p[p.len() - keep..]);
            h.carry = (tail, keep as u8);
            return;
        }
    } else {
        let n = p.len().min(room(h));
        h.title.extend_from_slice(&p[..n]);
    }
    if let Some(i) = find(&h.title, CLOSE) {
        h.title.truncate(i + CLOSE.len());
        h.title_done = true;
    } else if h.title.len() >= TITLE_KEEP {
        h.title_done = true;
    }
}

/// Whether a server segment's TCP checksum is right, where that can be
/// told (see [`crate::decode::tcp_checksum_ok`]): the segment captured
/// whole, and no merge of several. A receiving host's GRO joins segments
/// under a checksum of its own (Linux's: the pseudo-header's sum, which
/// `tcp_checksum_ok` leaves unjudged), and a segment longer than the MSS
/// (`mss`: the smaller of the two ends' SYNs), or where that is not known
/// than a 1,500-byte packet holds, is not judged either.
fn checksum(pkt: &Packet<'_>, t: &crate::decode::TcpInfo<'_>, mss: Option<u16>) -> Option<bool> {
    let longest = match mss {
        Some(m) => usize::from(m),
        None => 1500 - if pkt.ip.version == 4 { 40 } else { 60 },
    };
    if t.payload.len() > longest {
        return None;
    }
    crate::decode::tcp_checksum_ok(&pkt.ip, t)
}

/// `r` is a redirect (301, 302, 307, 308) to `https://` on `host` (the
/// request's Host), on the default port.
fn upgrades_to_https(r: &Response, host: Option<&str>) -> bool {
    let (Some(host), Some(301 | 302 | 307 | 308)) = (host, r.status()) else {
        return false;
    };
    let Some(loc) = r.header("location") else {
        return false;
    };
    let Some(rest) = loc
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case(b"https://"))
        .map(|_| &loc[8..])
    else {
        return false;
    };
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.strip_suffix(b":443").unwrap_or(authority);
    let authority = authority.strip_suffix(b".").unwrap_or(authority);
    let host = host.trim_end_matches('.').as_bytes();
    // the same host, or its `www.` twin either way (`example.com` to
    // `https://www.example.com/`: the most common canonical redirect)
    let www = |a: &[u8], b: &[u8]| {
        a.len() == b.len() + 4
            && a[..4].eq_ignore_ascii_case(b"www.")
            && a[4..].eq_ignore_ascii_case(b)
    };
    authority.eq_ignore_ascii_case(host) || www(authority, host) || www(host, authority)
}

fn ms(n: Nanos) -> f64 {
    (n as f64 / 1e3).round() / 1e3
}

fn response_json(r: &Response, v4: bool) -> Value {
    let (_, body) = r.split();
    let excerpt: String = String::from_utf8_lossy(&body[..body.len().min(200)])
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    json!({
        "ts": crate::time::rfc3339(r.ts),
        "status_line": r.status_line(),
        "status": r.status(),
        "location": r.header("location").map(|v| String::from_utf8_lossy(&v[..v.len().min(200)]).into_owned()),
        "server": r.header("server").map(|v| String::from_utf8_lossy(&v[..v.len().min(80)]).into_owned()),
        "ttl": r.hdr.ttl,
        "ip_id": v4.then_some(r.hdr.ip_id),
        "df": v4.then_some(r.hdr.df),
        "window": r.hdr.window,
        "closed": r.closed,
        "body_excerpt": excerpt,
    })
}
