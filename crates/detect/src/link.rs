//! Link-wide facts that detectors compare one flow with ("other servers
//! answer at the same time"), kept so that every worker sees the same
//! values as a single engine would.
//!
//! With one worker the engine updates its [`LinkClock`] from every frame,
//! with [`link_event`] on the raw frame. With several, the dispatcher (which sees every frame in capture order)
//! updates one clock and attaches its value to each frame it hands out, so
//! a worker knows, for each of its packets, what had happened on the whole
//! link up to that packet: decisions stay identical with 1 and N workers.

use crate::decode::linktype as lt;
use crate::detectors::{from_first_hop, hops};
use crate::time::Nanos;
use std::net::IpAddr;

/// Times of the latest link-wide successes, as of a packet (0: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkClock {
    /// The latest SYN/ACK from any server.
    pub last_synack: Nanos,
    /// The latest UDP datagram from any server's port 443 (QUIC).
    pub last_quic_reply: Nanos,
    /// The latest SYN/ACK from any server's TCP port 443: HTTPS working on
    /// the link (a link whose HTTPS is all dropped while something near
    /// answers port 80, a carrier once a prepaid package ran out, has none).
    pub last_tls_synack: Nanos,
    /// The newest packet time of any frame so far: a clock that never goes
    /// back, the same for every worker (throttling stamps its records with
    /// it, so that frames out of time order cannot reorder decisions).
    pub now: Nanos,
    /// The latest captive-portal period (see [`Captive`]).
    pub captive: Captive,
    /// The latest answers from beyond the vantage point's own network, by
    /// kind ([`routed_kind`]: TCP or QUIC, over IPv4 or IPv6): a SYN/ACK or
    /// QUIC reply that passed a router, from a public address (see
    /// [`LinkEvent::Local`]). While one of a kind came in the last
    /// [`LOCAL_WINDOW`], answers of that kind from the own network do not
    /// move the clock.
    pub last_routed: [Nanos; 4],
}

/// How long answers from beyond the vantage point's own network keep its
/// own network's answers out of the link clock ([`LinkEvent::Local`]). A
/// link on which every answer arrives as if from the own network (a phone's
/// tethering that rewrites every packet's TTL to 64, an explicit proxy at a
/// private address) has none, and its answers count as they did before
/// session 25: otherwise nothing there would show the link working, and
/// SYN-stage and frozen-transfer blocks would go unreported in silence
/// (found in review, session 25). After a move from such a link to an
/// ordinary one, or back, the rule follows within this time. It is kept
/// apart for TCP and QUIC, over IPv4 and over IPv6: a hotspot that rewrites
/// IPv4's TTLs only, or a modem whose TCP accelerator completes every
/// handshake itself while QUIC passes, has answers from beyond of the other
/// kinds only (found in the second review of session 25).
pub const LOCAL_WINDOW: Nanos = 600 * crate::time::SECOND;

/// The index in [`LinkClock::last_routed`] of an answer's kind.
fn routed_kind(v6: bool, quic: bool) -> usize {
    usize::from(v6) * 2 + usize::from(quic)
}

/// What the operating systems' connectivity checks seen on the link said:
/// whether the network was behind a captive portal (a hotel, airport or
/// café Wi-Fi before its login page was accepted), and when.
///
/// Every major system fetches a known URL over plain HTTP when it joins a
/// network (Android and ChromeOS `/generate_204`, Apple
/// `captive.apple.com`, Windows `www.msftconnecttest.com/connecttest.txt`,
/// Firefox `detectportal.firefox.com/success.txt`, NetworkManager's
/// `nmcheck.gnome.org`, ...) and expects a fixed answer. A portal answers
/// it with a redirect to its login page (or its page with a 200): until the
/// user logs in, it intercepts DNS, HTTP and TCP for every site, which
/// looks like tampering with everything, and is not censorship.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Captive {
    /// When the latest period began (the first check a portal answered; 0:
    /// none yet).
    pub since: Nanos,
    /// The latest check a portal answered in it.
    pub last_portal: Nanos,
    /// When it ended: the first check answered as expected after it (0:
    /// not ended that way; it still ends [`CAPTIVE_EXPIRY`] after
    /// `last_portal`).
    pub ended: Nanos,
    /// The period before it: (since, end).
    pub prev: (Nanos, Nanos),
    /// Checks answered by a portal, and as expected, so far.
    pub portal_checks: u32,
    /// See `portal_checks`.
    pub online_checks: u32,
}

/// A portal period is taken to have begun this long before the first check
/// it answered: a system checks as soon as it has an address, but its first
/// DNS queries and connections race the check.
pub const CAPTIVE_LEAD: Nanos = 30 * crate::time::SECOND;

/// A portal answer this soon after a period ended reopens it.
pub const CAPTIVE_REOPEN: Nanos = crate::time::SECOND;

/// A portal period with no newer answer from the portal ends this long
/// after its last one (a system behind a portal checks again every few
/// minutes; a gateway may never see the check that would end it).
pub const CAPTIVE_EXPIRY: Nanos = 600 * crate::time::SECOND;

impl Captive {
    fn end(&self) -> Nanos {
        let expiry = self.last_portal.saturating_add(CAPTIVE_EXPIRY);
        if self.ended != 0 {
            self.ended.min(expiry)
        } else {
            expiry
        }
    }

    /// Whether traffic from `start` to `end` (packet times) overlapped a
    /// portal period that began by `until` (what came after `until` may be
    /// known to one worker and not yet to another).
    pub fn overlaps(&self, start: Nanos, end: Nanos, until: Nanos) -> bool {
        let hit = |s: Nanos, e: Nanos| {
            s != 0 && s <= until && start <= e && end >= s.saturating_sub(CAPTIVE_LEAD)
        };
        hit(self.since, self.end()) || hit(self.prev.0, self.prev.1)
    }

    /// Whether a portal period is open at `now`.
    pub fn open_at(&self, now: Nanos) -> bool {
        self.since != 0 && now >= self.since && now <= self.end()
    }

    fn portal(&mut self, ts: Nanos) {
        self.portal_checks = self.portal_checks.saturating_add(1);
        // (a portal answer within a second of the period's end reopens it:
        // on a gateway, clients logged in and not check at the same moment,
        // and a new period each time pushed out the one before the last,
        // which a worker ticked up to 100 ms later than a single engine
        // swept might still need: found in review, session 18)
        if self.since != 0 && ts <= self.end().saturating_add(CAPTIVE_REOPEN) {
            if self.ended != 0 && ts > self.ended {
                self.ended = 0;
            }
            self.last_portal = self.last_portal.max(ts);
            return;
        }
        if self.since != 0 {
            self.prev = (self.since, self.end());
        }
        *self = Captive {
            since: ts,
            last_portal: ts,
            ended: 0,
            ..*self
        };
    }

    fn online(&mut self, ts: Nanos) {
        self.online_checks = self.online_checks.saturating_add(1);
        if self.since != 0 && self.ended == 0 && ts >= self.last_portal && ts <= self.end() {
            self.ended = ts;
        }
    }
}

impl LinkClock {
    /// Folds in what one frame said.
    #[inline]
    fn note(&mut self, e: Option<LinkEvent>, ts: Nanos) {
        self.now = self.now.max(ts);
        let Some(e) = e else {
            return;
        };
        let (tls, quic, local, v6) = match e {
            LinkEvent::SynAck { v6 } => (false, false, false, v6),
            LinkEvent::TlsSynAck { v6 } => (true, false, false, v6),
            LinkEvent::QuicReply { v6 } => (false, true, false, v6),
            LinkEvent::HttpSynAck { local, v6, .. } => (false, false, local, v6),
            LinkEvent::Local { kind, v6 } => {
                (kind == LocalKind::Tls, kind == LocalKind::Quic, true, v6)
            }
            _ => return,
        };
        let synack = !quic;
        let kind = routed_kind(v6, quic);
        if local {
            // the own network's answers count only on a link that showed
            // none of their kind from beyond it lately (either way in time:
            // a replay of files out of order, a clock stepped back)
            let routed = self.last_routed[kind];
            if routed != 0 && ts.abs_diff(routed) <= LOCAL_WINDOW.unsigned_abs() {
                return;
            }
        } else {
            self.last_routed[kind] = ts;
        }
        if synack {
            self.last_synack = self.last_synack.max(ts);
        }
        if tls {
            self.last_tls_synack = self.last_tls_synack.max(ts);
        }
        if quic {
            self.last_quic_reply = self.last_quic_reply.max(ts);
        }
    }
}

/// The link clock, and the connectivity checks waiting for their answer:
/// kept by whoever sees every frame in capture order (one engine, or each
/// dispatcher and shard reader).
#[derive(Debug, Clone, Default)]
pub struct LinkTracker {
    clock: LinkClock,
    /// Checks sent and not yet answered, newest last.
    pending: [Pending; 4],
    n_pending: u8,
    /// The latest SYN/ACKs from port 80: (client port, IP TTL), a ring.
    synacks: [(u16, u8); 32],
    next_synack: u8,
}

/// A connectivity check waiting for its answer.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// The client's port.
    port: u16,
    /// The sequence number after the request.
    next: u32,
    kind: CheckKind,
    ts: Nanos,
    /// The IP TTL of its connection's SYN/ACK, if seen.
    synack_ttl: Option<u8>,
    /// [`host_digest`] of its Host.
    host: u32,
}

/// How long a connectivity check waits for its answer.
const CHECK_WAIT: Nanos = 10 * crate::time::SECOND;

impl LinkTracker {
    /// The clock as of the frames folded in so far.
    pub fn clock(&self) -> LinkClock {
        self.clock
    }

    /// Folds in one frame.
    pub fn observe(&mut self, linktype: u32, frame: &[u8], ts: Nanos) {
        self.note(link_event(linktype, frame), ts, || {
            // (the answer to a check only: decoded again)
            reply_of(&crate::decode::decode(linktype, frame, ts, 0).ok()?)
        });
    }

    /// Folds in what one frame said; `reply` reads the frame's HTTP
    /// response when it answers a connectivity check.
    #[inline]
    pub fn note(&mut self, e: Option<LinkEvent>, ts: Nanos, reply: impl FnOnce() -> Option<Reply>) {
        self.clock.note(e, ts);
        if matches!(
            e,
            None | Some(
                LinkEvent::SynAck { .. }
                    | LinkEvent::TlsSynAck { .. }
                    | LinkEvent::QuicReply { .. }
                    | LinkEvent::Local { .. }
            )
        ) {
            return;
        }
        self.note_http(e, ts, reply);
    }

    /// [`LinkTracker::note`] for the HTTP events (connectivity checks).
    #[inline(never)]
    fn note_http(
        &mut self,
        e: Option<LinkEvent>,
        ts: Nanos,
        reply: impl FnOnce() -> Option<Reply>,
    ) {
        match e {
            Some(LinkEvent::HttpSynAck { port, ttl, .. }) => {
                let i = usize::from(self.next_synack) % self.synacks.len();
                self.synacks[i] = (port, ttl);
                self.next_synack = self.next_synack.wrapping_add(1);
            }
            Some(LinkEvent::Check {
                host,
                port,
                next,
                kind,
            }) => {
                // the newest SYN/ACK to this port (a port reused)
                let n = self.synacks.len();
                let newest = usize::from(self.next_synack) + n - 1;
                let synack_ttl = (0..n)
                    .map(|k| self.synacks[(newest - k) % n])
                    .find(|s| s.0 == port && s.0 != 0)
                    .map(|s| s.1);
                let p = Pending {
                    port,
                    next,
                    kind,
                    ts,
                    synack_ttl,
                    host,
                };
                let n = usize::from(self.n_pending);
                if let Some(i) = self.pending[..n].iter().position(|q| q.port == port) {
                    // a new request on the same connection replaces the old
                    self.pending[i] = p;
                } else if n == self.pending.len() {
                    self.pending.rotate_left(1);
                    self.pending[n - 1] = p;
                } else {
                    self.pending[n] = p;
                    self.n_pending += 1;
                }
            }
            Some(LinkEvent::HttpReply { port, ack, ttl }) => {
                let n = usize::from(self.n_pending);
                let Some(i) = self.pending[..n].iter().position(|p| {
                    p.port == port && p.next == ack && ts.saturating_sub(p.ts) <= CHECK_WAIT
                }) else {
                    return;
                };
                let p = self.pending[i];
                self.pending[i..n].rotate_left(1);
                self.n_pending -= 1;
                // A portal intercepts the connection: its answer comes from
                // whoever completed the handshake. An answer from elsewhere
                // (another TTL than the SYN/ACK's) is a forged one racing the
                // server, an injector's (an ad injector's 307, a block page):
                // the HTTP detector's business, and no portal.
                if p.synack_ttl.is_some_and(|t| t.abs_diff(ttl) > 1) {
                    return;
                }
                let Some(reply) = reply() else { return };
                // (a check whose handshake was not seen, on a busy link, is
                // never taken for a portal's)
                let hops = p.synack_ttl.map(hops);
                match p.kind.verdict(reply, p.host, hops) {
                    Some(true) => self.clock.captive.online(ts),
                    Some(false) => self.clock.captive.portal(ts),
                    None => {}
                }
            }
            _ => {}
        }
    }
}

/// What a frame says about the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// A server completed a TCP handshake (SYN/ACK); over IPv6 when `v6`
    /// (so for every answer below).
    SynAck {
        /// Over IPv6.
        v6: bool,
    },
    /// A server answered on UDP port 443.
    QuicReply {
        /// Over IPv6.
        v6: bool,
    },
    /// A SYN/ACK from TCP port 443 (a [`LinkEvent::SynAck`] too).
    TlsSynAck {
        /// Over IPv6.
        v6: bool,
    },
    /// A SYN/ACK from port 80 (a [`LinkEvent::SynAck`] too).
    HttpSynAck {
        /// The client's port.
        port: u16,
        /// Its IP TTL.
        ttl: u8,
        /// From the vantage point's own network (see [`LinkEvent::Local`]).
        local: bool,
        /// Over IPv6.
        v6: bool,
    },
    /// A SYN/ACK ([`LocalKind::Tls`] from port 443, [`LocalKind::Tcp`]
    /// from another port but 80) or a datagram from UDP port 443
    /// ([`LocalKind::Quic`]) from the vantage point's own network: it passed
    /// no router (its TTL is an initial one: 64, 128, 255), or it came from
    /// a private, shared (carrier-grade NAT), loopback or link-local
    /// address. The host's own server answering a visitor, a NAS, the
    /// router's web interface or captive portal, a carrier's self-care
    /// site at a shared address: it says nothing of the internet link (before session 25 it
    /// counted as the link working: a nit left by session 23's review, and
    /// a LAN server's HTTPS made QUIC's "HTTPS worked on the link" true
    /// during a carrier's cut-off). See [`LOCAL_WINDOW`].
    Local {
        /// Which answer.
        kind: LocalKind,
        /// Over IPv6.
        v6: bool,
    },
    /// A client asked a known connectivity-check URL over HTTP.
    Check {
        /// [`host_digest`] of its Host (0: none).
        host: u32,
        /// The client's port.
        port: u16,
        /// The sequence number after the request (what its answer ACKs).
        next: u32,
        /// Which check.
        kind: CheckKind,
    },
    /// The first segment of an HTTP response from port 80.
    HttpReply {
        /// The client's port.
        port: u16,
        /// Its acknowledgment number.
        ack: u32,
        /// Its IP TTL.
        ttl: u8,
    },
}

/// A connectivity check, by the answer it expects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CheckKind {
    /// `204 No Content` (Android, ChromeOS, Ubuntu).
    #[default]
    NoContent,
    /// `200` with a known text in the body (index into [`CHECK_TEXTS`]).
    Text(u8),
}

/// The texts the text checks expect in their answer's body.
pub const CHECK_TEXTS: [&[u8]; 5] = [
    b"Success",
    b"Microsoft Connect Test",
    b"Microsoft NCSI",
    b"success",
    b"NetworkManager is online",
];

/// What the first segment of an HTTP response said (enough to judge a
/// connectivity check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Which of [`CHECK_TEXTS`] the segment holds (bit i: text i).
    pub texts: u8,
    /// The segment holds the whole body (its `Content-Length` bytes after
    /// the headers).
    pub whole: bool,
    /// Its `Content-Length`, if any.
    pub length: Option<u32>,
    /// Body bytes in the segment.
    pub body_seen: u32,
    /// A digest of the host its `Location` names ([`host_digest`]), if any.
    pub location_host: Option<u32>,
    /// That host is a private, shared (CGNAT) or link-local address.
    pub location_private: bool,
    /// The `Location` carries a connectivity check's URL (a portal's
    /// `?dst=http://connectivitycheck.gstatic.com/generate_204`).
    pub location_echoes_check: bool,
}

/// A host (with its port, if any) without the port: an IPv6 literal
/// (`[2001:db8::1]:8080`) whole, brackets included; one left unclosed
/// whole.
pub(crate) fn without_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        host.iter()
            .position(|&b| b == b']')
            .map_or(host, |i| &host[..=i])
    } else {
        host.split(|&b| b == b':').next().unwrap_or(host)
    }
}

/// A URL's host, from what follows its `://`: without user information
/// (`user:password@`), a port, a path or a query ([`without_port`]).
pub(crate) fn url_host(rest: &[u8]) -> &[u8] {
    let authority = rest
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .map_or(rest, |i| &rest[..i]);
    // (`user:password@host`: the host is after the last `@`)
    let host = authority
        .iter()
        .rposition(|&c| c == b'@')
        .map_or(authority, |i| &authority[i + 1..]);
    without_port(host)
}

/// A URL's host (with its port, if any) is a private, shared (CGNAT) or
/// link-local address literal.
fn private_host(h: &[u8]) -> bool {
    let h = without_port(h);
    let h = h
        .strip_prefix(b"[")
        .map_or(h, |v6| v6.strip_suffix(b"]").unwrap_or(v6));
    let h = std::str::from_utf8(h).unwrap_or("");
    let v4 = |a: std::net::Ipv4Addr| {
        let o = a.octets();
        // (192.0.2.0/24: the web-authentication address Cisco's wireless
        // controllers recommend, 192.0.2.1)
        a.is_private()
            || a.is_link_local()
            || (o[0] == 100 && o[1] & 0xc0 == 64)
            || (o[0], o[1], o[2]) == (192, 0, 2)
    };
    match h.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => v4(a),
        Ok(std::net::IpAddr::V6(a)) => {
            let s0 = a.segments()[0];
            s0 & 0xfe00 == 0xfc00 || s0 & 0xffc0 == 0xfe80 || a.to_ipv4_mapped().is_some_and(v4)
        }
        Err(_) => false,
    }
}

/// A digest of a host name (lower case, without a port). An IPv6 literal
/// (`[2001:db8::1]:8080`) is its address whole, brackets included.
pub fn host_digest(host: &[u8]) -> u32 {
    without_port(host).iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193)
    })
}

/// A portal answers from the local network or the access provider's (the
/// access point, the gateway that intercepts the connection, a hotspot
/// operator's controller): its SYN/ACK comes from at most eight hops away.
/// A server on the internet, or a censor's block-page server abroad or
/// across the country, is further. Beyond four hops (a hotspot controller;
/// found in review, session 18) only a portal's unmistakable answers count:
/// a `511`, or a redirect to a private address (an in-country interceptor
/// five to eight hops away that redirects everything to a notice page on a
/// public name is no portal: found in the third review).
const NEAR_HOPS: u8 = 4;
/// See [`NEAR_HOPS`].
const HOTSPOT_HOPS: u8 = 8;

impl Reply {
    /// What the first segment of a response says (`None`: no status line).
    fn read(payload: &[u8]) -> Option<Reply> {
        let status = payload.get(9..12)?;
        if !payload.starts_with(b"HTTP/1.") || !status.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let status = status
            .iter()
            .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
        let body_at = payload
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4);
        let body = body_at.map_or(&[][..], |i| &payload[i..]);
        let mut texts = 0u8;
        for (i, t) in CHECK_TEXTS.iter().enumerate() {
            if body.windows(t.len()).any(|w| w == *t) {
                texts |= 1 << i;
            }
        }
        let length = header(payload, b"content-length")
            .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u32>().ok());
        let body_seen = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let whole = body_at.is_some() && length.is_some_and(|n| body_seen >= n);
        let location_value = header(payload, b"location");
        let location = location_value.and_then(|l| {
            let rest = l
                .iter()
                .position(|&b| b == b':')
                .and_then(|i| l[i..].starts_with(b"://").then(|| &l[i + 3..]))?;
            Some(url_host(rest))
        });
        let location_host = location.map(host_digest);
        let location_private = location.is_some_and(private_host);
        let location_echoes_check = location_value.is_some_and(|l| {
            const ECHOES: [&[u8]; 10] = [
                b"generate_204",
                b"gen_204",
                b"connectivitycheck",
                b"connectivity-check",
                b"hotspot-detect",
                b"captive.apple",
                b"msftconnecttest",
                b"msftncsi",
                b"detectportal",
                b"nmcheck",
            ];
            let l = l.to_ascii_lowercase();
            ECHOES.iter().any(|e| l.windows(e.len()).any(|w| w == *e))
        });
        Some(Reply {
            status,
            texts,
            whole,
            length,
            body_seen,
            location_host,
            location_private,
            location_echoes_check,
        })
    }
}

impl CheckKind {
    /// `Some(true)`: answered as expected; `Some(false)`: by a portal (a
    /// redirect, 511 Network Authentication Required, or a page instead of
    /// the expected answer); `None`: neither (an error, a block page with
    /// another status, a body not seen).
    ///
    /// `host`: the digest of the check's Host. A portal's answer must come
    /// from nearby ([`NEAR_HOPS`]), and a redirect must lead elsewhere than the
    /// checked host: a site's own move to HTTPS (a 301 to `https://` on
    /// the same host), a server answering every path, a censor's
    /// block-page server that a forged DNS answer sent the check to (far
    /// away) are no portal (found in review, session 18).
    fn verdict(self, r: Reply, host: u32, hops: Option<u8>) -> Option<bool> {
        let expected = match (self, r.status) {
            (CheckKind::NoContent, 204) => true,
            (CheckKind::Text(i), 200) if r.texts & (1 << i) != 0 => true,
            _ => false,
        };
        if expected {
            return Some(true);
        }
        let hops = hops?;
        if hops > HOTSPOT_HOPS {
            return None;
        }
        if hops > NEAR_HOPS {
            let sure = r.status == 511
                || (matches!(r.status, 302 | 303 | 307)
                    && (r.location_private || r.location_echoes_check));
            return sure.then_some(false);
        }
        let portal = match (self, r.status) {
            (_, 302 | 303 | 307) => r.location_host.is_some_and(|h| h != host),
            (_, 511) => true,
            // an empty 200 is a transparent proxy that rewrote the 204, not a
            // login page (Android judges it so)
            (CheckKind::NoContent, 200) => r.length.unwrap_or(r.body_seen) > 4,
            // the expected texts are short: a page that is whole without
            // it, or much longer than any of them, is the portal's
            (CheckKind::Text(_), 200) => r.whole || r.length.is_some_and(|n| n > 1024),
            _ => false,
        };
        portal.then_some(false)
    }
}

/// The connectivity check a request line and Host name it (`None`: none).
fn check_of(path: &[u8], head: &[u8]) -> Option<(CheckKind, u32)> {
    let path = path.split(|&b| b == b'?').next().unwrap_or(path);
    if path == b"/generate_204" || path == b"/gen_204" {
        // any host: the vendors' own (Xiaomi, Huawei, Vivo...) among them
        return Some((
            CheckKind::NoContent,
            header(head, b"host").map_or(0, host_digest),
        ));
    }
    // (the Host header is read only for the few paths a check uses)
    let (hosts, kind): (&[&[u8]], CheckKind) = match path {
        b"/" => (
            &[b"connectivity-check.ubuntu.com", b"captive.apple.com"],
            CheckKind::NoContent,
        ),
        b"/hotspot-detect.html" => (&[b"captive.apple.com"], CheckKind::Text(0)),
        b"/library/test/success.html" => (&[b"www.apple.com"], CheckKind::Text(0)),
        b"/connecttest.txt" => (&[b"www.msftconnecttest.com"], CheckKind::Text(1)),
        b"/ncsi.txt" => (&[b"www.msftncsi.com"], CheckKind::Text(2)),
        b"/success.txt" => (&[b"detectportal.firefox.com"], CheckKind::Text(3)),
        b"/check_network_status.txt" => (&[b"nmcheck.gnome.org"], CheckKind::Text(4)),
        b"/nm" => (&[b"network-test.debian.org"], CheckKind::Text(4)),
        _ => return None,
    };
    let host = header(head, b"host")?;
    let host = host.strip_suffix(b":80").unwrap_or(host);
    let i = hosts.iter().position(|h| host.eq_ignore_ascii_case(h))?;
    // captive.apple.com at "/" expects Apple's text
    let kind = if path == b"/" && i == 1 {
        CheckKind::Text(0)
    } else {
        kind
    };
    Some((kind, host_digest(host)))
}

/// The link event of an HTTP segment on port 80: a connectivity check from
/// a client, or the first segment of a response.
fn http_event(
    (sport, dport): (u16, u16),
    seq: u32,
    ack: u32,
    ttl: u8,
    payload: &[u8],
) -> Option<LinkEvent> {
    if dport == 80 && payload.starts_with(b"GET ") {
        let line_end = payload.iter().position(|&b| b == b'\r')?;
        let line = &payload[4..line_end];
        let path = &line[..line.iter().position(|&b| b == b' ')?];
        let (kind, host) = check_of(path, payload)?;
        let next = seq.wrapping_add(u32::try_from(payload.len()).ok()?);
        return Some(LinkEvent::Check {
            host,
            port: sport,
            next,
            kind,
        });
    }
    if sport == 80 && payload.starts_with(b"HTTP/1.") {
        // (what it says is read only for the answer to a check: see
        // `Reply::read`)
        return Some(LinkEvent::HttpReply {
            port: dport,
            ack,
            ttl,
        });
    }
    None
}

/// The value of the first header `name` (lower case) in an HTTP head
/// (up to its first empty line).
fn header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut lines = head.split(|&b| b == b'\n');
    lines.next()?;
    for l in lines {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.is_empty() {
            return None;
        }
        if l.len() > name.len()
            && l[name.len()] == b':'
            && l[..name.len()].eq_ignore_ascii_case(name)
        {
            return Some(l[name.len() + 1..].trim_ascii());
        }
    }
    None
}

/// Classifies a raw frame: fixed-offset parsing for the common frames, the
/// full decoder for the rest. The answer is the decoder's ([`of_packet`] of
/// the decoded frame; `crates/detect/tests/decode_fast.rs` checks it on every
/// fixture and corpus frame and on mutated copies), and a single engine and
/// every dispatcher use this same function, so their clocks agree.
pub fn link_event(linktype: u32, d: &[u8]) -> Option<LinkEvent> {
    if let Some(e) = fast(linktype, d) {
        return e;
    }
    of_packet(&crate::decode::decode(linktype, d, 0, 0).ok()?)
}

/// What a decoded packet says about the link (the same answer as
/// [`link_event`] gives for its frame).
pub fn of_packet(p: &crate::decode::Packet<'_>) -> Option<LinkEvent> {
    match p.l4 {
        crate::decode::Transport::Tcp(t) if t.syn() && t.ack_flag() && !t.rst() => {
            Some(synack(t.sport, t.dport, p.ip.ttl, p.ip.src))
        }
        crate::decode::Transport::Tcp(t)
            if (t.sport == 80 || t.dport == 80)
                && !t.payload.is_empty()
                && !t.syn()
                && !t.rst() =>
        {
            http_event((t.sport, t.dport), t.seq, t.ack, p.ip.ttl, t.payload)
        }
        crate::decode::Transport::Udp(u) if u.sport == 443 && !u.payload.is_empty() => {
            Some(quic_reply(p.ip.src, p.ip.ttl))
        }
        _ => None,
    }
}

/// What a decoded packet's HTTP response says (for the answer to a
/// connectivity check: see [`LinkTracker::note`]).
pub fn reply_of(p: &crate::decode::Packet<'_>) -> Option<Reply> {
    match p.l4 {
        crate::decode::Transport::Tcp(t) => Reply::read(t.payload),
        _ => None,
    }
}

/// Which answer a [`LinkEvent::Local`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    /// A SYN/ACK from a TCP port other than 80 and 443.
    Tcp,
    /// A SYN/ACK from TCP port 443.
    Tls,
    /// A datagram from UDP port 443.
    Quic,
}

/// Whether an answer from `src` with IP TTL `ttl` came from the vantage
/// point's own network ([`LinkEvent::Local`]).
fn local_answer(src: IpAddr, ttl: u8) -> bool {
    from_first_hop(ttl)
        || match src {
            IpAddr::V4(a) => {
                let o = a.octets();
                a.is_private()
                    || a.is_loopback()
                    || a.is_link_local()
                    || (o[0] == 100 && o[1] & 0xc0 == 64)
            }
            IpAddr::V6(a) => a.is_loopback() || a.is_unique_local() || a.is_unicast_link_local(),
        }
}

/// The event of a SYN/ACK from `sport` to `dport` with IP TTL `ttl`, from
/// the vantage point's own network when `local` ([`local_answer`]). Port
/// 80's are noted for the connectivity checks either way.
fn synack(sport: u16, dport: u16, ttl: u8, src: IpAddr) -> LinkEvent {
    let (local, v6) = (local_answer(src, ttl), src.is_ipv6());
    match sport {
        80 => LinkEvent::HttpSynAck {
            port: dport,
            ttl,
            local,
            v6,
        },
        443 if local => LinkEvent::Local {
            kind: LocalKind::Tls,
            v6,
        },
        443 => LinkEvent::TlsSynAck { v6 },
        _ if local => LinkEvent::Local {
            kind: LocalKind::Tcp,
            v6,
        },
        _ => LinkEvent::SynAck { v6 },
    }
}

/// The event of a datagram from UDP port 443 from `src` with IP TTL `ttl`.
fn quic_reply(src: IpAddr, ttl: u8) -> LinkEvent {
    let v6 = src.is_ipv6();
    if local_answer(src, ttl) {
        LinkEvent::Local {
            kind: LocalKind::Quic,
            v6,
        }
    } else {
        LinkEvent::QuicReply { v6 }
    }
}

/// `Some(answer)` when the fast path could read the frame.
/// The common frames, read at fixed offsets with the decoder's length rules
/// (etherparse's lax slicing, as `decode::fast`): `None` whenever the
/// decoder might answer otherwise, which then decides.
fn fast(linktype: u32, d: &[u8]) -> Option<Option<LinkEvent>> {
    let be16 = |b: &[u8], at: usize| Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
    let (ip, ether_version) = match linktype {
        lt::ETHERNET => {
            let mut off = 12;
            let mut et = be16(d, 12)?;
            for _ in 0..2 {
                if et == 0x8100 || et == 0x88a8 {
                    off += 4;
                    et = be16(d, off)?;
                }
            }
            let version = match et {
                0x0800 => 4,
                0x86dd => 6,
                // Anything else is the decoder's business: a third tag, a
                // 0x9100 tag, MACsec, which it reads through, and what is
                // not IP at all (rare: ARP and the like).
                _ => return None,
            };
            (d.get(off + 2..)?, Some(version))
        }
        lt::RAW | lt::IPV4 | lt::IPV6 => (d, None),
        _ => return None,
    };
    let version = ip.first()? >> 4;
    if ether_version.is_some_and(|v| v != version) {
        return None;
    }
    // the IP payload: a declared length that is too short or longer than
    // what was captured gives way to the captured bytes
    let (proto, payload, ttl, src) = match version {
        4 => {
            if ip[0] != 0x45 || be16(ip, 6)? & 0x3fff != 0 {
                return None;
            }
            let total = usize::from(be16(ip, 2)?);
            let payload = if total < 20 || total > ip.len() {
                ip.get(20..)?
            } else {
                ip.get(20..total)?
            };
            (*ip.get(9)?, payload, *ip.get(8)?, ip.get(12..16)?)
        }
        6 => {
            let h = ip.get(..40)?;
            let plen = usize::from(be16(h, 4)?);
            let rest = ip.get(40..)?;
            let payload = if plen == 0 || rest.len() < plen {
                rest
            } else {
                rest.get(..plen)?
            };
            (h[6], payload, h[7], &h[8..24])
        }
        _ => return None,
    };
    fast_l4(proto, payload, ttl, src)
}

/// The address of `src`, an IPv4 (4 bytes) or IPv6 (16) source address.
fn addr_of(src: &[u8]) -> IpAddr {
    match <[u8; 16]>::try_from(src) {
        Ok(b) => IpAddr::from(b),
        Err(_) => match <[u8; 4]>::try_from(src) {
            Ok(b) => IpAddr::from(b),
            // (not reached: callers give 4 or 16 bytes)
            Err(_) => IpAddr::from([0u8; 4]),
        },
    }
}

/// The link event of a transport header (`None`: only the decoder can say:
/// another protocol, an IPv6 extension header, a header cut short).
/// `src` is the IP source address (4 or 16 bytes).
fn fast_l4(proto: u8, l4: &[u8], ttl: u8, src: &[u8]) -> Option<Option<LinkEvent>> {
    Some(match proto {
        6 => {
            let doff = usize::from(*l4.get(12)? >> 4) * 4;
            if doff < 20 || l4.len() < doff {
                return None;
            }
            let flags = l4[13];
            let be16 = |at: usize| u16::from_be_bytes([l4[at], l4[at + 1]]);
            if flags & 0x12 == 0x12 && flags & 0x04 == 0 {
                Some(synack(be16(0), be16(2), ttl, addr_of(src)))
            } else if l4.len() > doff && flags & 0x06 == 0 && (be16(0) == 80 || be16(2) == 80) {
                let be32 =
                    |at: usize| u32::from_be_bytes([l4[at], l4[at + 1], l4[at + 2], l4[at + 3]]);
                http_event((be16(0), be16(2)), be32(4), be32(8), ttl, &l4[doff..])
            } else {
                None
            }
        }
        17 => {
            if l4.len() < 8 {
                return None;
            }
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let declared = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
            // the datagram's own length, unless it is impossible (then
            // what was captured): Ethernet padding is not payload
            let len = if declared < 8 || declared > l4.len() {
                l4.len()
            } else {
                declared
            };
            (sport == 443 && len > 8).then(|| quic_reply(addr_of(src), ttl))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_digests_keep_ipv6_literals_whole() {
        // a port and the case do not matter
        assert_eq!(
            host_digest(b"Portal.Example:8080"),
            host_digest(b"portal.example")
        );
        assert_eq!(host_digest(b"[FD00::1]:8080"), host_digest(b"[fd00::1]"));
        // two addresses that share their first group are two hosts
        assert_ne!(host_digest(b"[fd00::1]"), host_digest(b"[fd00::2]"));
        assert_ne!(
            host_digest(b"[2001:db8::1]:80"),
            host_digest(b"[2001:db8::2]:80")
        );
        // an unclosed bracket is taken whole
        assert_ne!(host_digest(b"[fd00::1"), host_digest(b"[fd00::2"));
    }

    #[test]
    fn fast_and_full_paths_agree() {
        // IPv4 TCP SYN/ACK, raw
        // (TTL 52: from beyond the vantage point's own network)
        let mut syn_ack = vec![
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 52, 6, 0, 0, 203, 0, 113, 5, 192, 0, 2, 10,
        ];
        syn_ack.extend([
            0, 80, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        // from port 80: an HTTP server's, remembered for connectivity checks
        let http_synack = Some(LinkEvent::HttpSynAck {
            port: 0x9c40,
            ttl: 52,
            local: false,
            v6: false,
        });
        assert_eq!(link_event(lt::RAW, &syn_ack), http_synack);
        // with IP options the decoder decides, the same way
        let mut with_opts = syn_ack.clone();
        with_opts[0] = 0x46;
        with_opts.splice(20..20, [1, 1, 1, 0]);
        with_opts[3] = 44;
        assert_eq!(link_event(lt::RAW, &with_opts), http_synack);
        let mut rst = syn_ack.clone();
        rst[33] = 0x14;
        assert_eq!(link_event(lt::RAW, &rst), None);
        // UDP from 443
        let mut q = vec![
            0x45, 0, 0, 33, 0, 1, 0, 0, 52, 17, 0, 0, 203, 0, 113, 5, 192, 0, 2, 10,
        ];
        q.extend([1, 0xbb, 0xc3, 0x50, 0, 13, 0, 0, 0x40]);
        assert_eq!(
            link_event(lt::RAW, &q),
            Some(LinkEvent::QuicReply { v6: false })
        );
        // from port 443: HTTPS working on the link
        let mut tls_synack = syn_ack.clone();
        tls_synack[21] = 0xbb;
        tls_synack[20] = 1;
        assert_eq!(
            link_event(lt::RAW, &tls_synack),
            Some(LinkEvent::TlsSynAck { v6: false })
        );
        let mut with_opts = tls_synack.clone();
        with_opts[0] = 0x46;
        with_opts.splice(20..20, [1, 1, 1, 0]);
        with_opts[3] = 44;
        assert_eq!(
            link_event(lt::RAW, &with_opts),
            Some(LinkEvent::TlsSynAck { v6: false })
        );
        let mut c = LinkTracker::default();
        c.observe(lt::RAW, &syn_ack, 5);
        c.observe(lt::RAW, &q, 7);
        c.observe(lt::RAW, &syn_ack, 3);
        assert_eq!(
            c.clock(),
            LinkClock {
                last_synack: 5,
                last_quic_reply: 7,
                last_tls_synack: 0,
                now: 7,
                captive: Captive::default(),
                last_routed: [3, 7, 0, 0],
            }
        );
        c.observe(lt::RAW, &tls_synack, 9);
        assert_eq!((c.clock().last_synack, c.clock().last_tls_synack), (9, 9));
        for cut in 0..syn_ack.len() {
            let _ = link_event(lt::RAW, &syn_ack[..cut]);
        }
        // Answers from the vantage point's own network: they passed no router
        // (an initial TTL: 64, 128, 255), or came from a private, shared,
        // loopback or link-local address. The host's own HTTPS server, a NAS,
        // the router's web interface: on a link that showed answers from
        // beyond it lately they do not move the clock; on one that showed
        // none (every TTL rewritten to 64 by a phone's tethering) they do.
        let ttl_of = |f: &[u8], ttl: u8| {
            let mut f = f.to_vec();
            f[8] = ttl;
            f
        };
        let from = |f: &[u8], a: [u8; 4]| {
            let mut f = f.to_vec();
            f[12..16].copy_from_slice(&a);
            f
        };
        let mut plain = tls_synack.clone();
        plain[20..22].copy_from_slice(&8443u16.to_be_bytes());
        let mut locals = vec![];
        for ttl in [64, 128, 255] {
            locals.push(ttl_of(&tls_synack, ttl));
            locals.push(ttl_of(&plain, ttl));
            locals.push(ttl_of(&q, ttl));
            locals.push(ttl_of(&syn_ack, ttl));
            locals.push(ttl_of(&with_opts, ttl)); // (the decoder decides)
        }
        for a in [
            [192, 168, 1, 10],
            [10, 1, 2, 3],
            [172, 20, 0, 1],
            [100, 64, 0, 1],
            [169, 254, 1, 1],
        ] {
            locals.push(from(&tls_synack, a));
            locals.push(from(&q, a));
        }
        for f in &locals {
            let e = link_event(lt::RAW, f);
            assert!(
                matches!(
                    e,
                    Some(LinkEvent::Local { .. } | LinkEvent::HttpSynAck { local: true, .. })
                ),
                "{e:?} {f:?}"
            );
        }
        assert_eq!(
            link_event(lt::RAW, &ttl_of(&tls_synack, 64)),
            Some(LinkEvent::Local {
                kind: LocalKind::Tls,
                v6: false
            })
        );
        assert_eq!(
            link_event(lt::RAW, &ttl_of(&plain, 128)),
            Some(LinkEvent::Local {
                kind: LocalKind::Tcp,
                v6: false
            })
        );
        assert_eq!(
            link_event(lt::RAW, &from(&q, [10, 0, 0, 1])),
            Some(LinkEvent::Local {
                kind: LocalKind::Quic,
                v6: false
            })
        );
        // (public, one hop further: not local)
        for f in [ttl_of(&tls_synack, 63), from(&tls_synack, [100, 128, 0, 1])] {
            assert_eq!(
                link_event(lt::RAW, &f),
                Some(LinkEvent::TlsSynAck { v6: false })
            );
        }
        const MIN: Nanos = 60 * crate::time::SECOND;
        let local3 = [
            ttl_of(&tls_synack, 64),
            ttl_of(&syn_ack, 64),
            from(&q, [192, 168, 1, 10]),
        ];
        let times = |c: &LinkTracker| {
            let k = c.clock();
            (k.last_synack, k.last_tls_synack, k.last_quic_reply)
        };
        // a link that never showed an answer from beyond: they count
        let mut c = LinkTracker::default();
        for (f, ts) in local3.iter().zip([11, 12, 13]) {
            c.observe(lt::RAW, f, ts);
        }
        assert_eq!(times(&c), (12, 11, 13));
        // one that did, of their kind, 10 minutes ago at most: they do not
        // (TCP over IPv4 from beyond, QUIC over IPv4 not: the QUIC reply
        // from the own network still counts, as on a link whose TCP a
        // modem's accelerator answers while QUIC passes)
        let mut c = LinkTracker::default();
        c.observe(lt::RAW, &syn_ack, 5 * MIN);
        for (f, ts) in local3.iter().zip([11, 12, 13]) {
            c.observe(lt::RAW, f, 15 * MIN - 13 + ts);
        }
        assert_eq!(times(&c), (5 * MIN, 0, 15 * MIN));
        c.observe(lt::RAW, &q, 15 * MIN + 1);
        assert_eq!(c.clock().last_routed, [5 * MIN, 15 * MIN + 1, 0, 0]);
        c.observe(lt::RAW, &local3[2], 15 * MIN + 2);
        assert_eq!(times(&c), (5 * MIN, 0, 15 * MIN + 1));
        // (either way in time: a routed answer "later" than a local one, as
        // when files are replayed out of order)
        c.observe(lt::RAW, &local3[0], 14 * MIN);
        assert_eq!(times(&c), (5 * MIN, 0, 15 * MIN + 1));
        // ... and they do again once that is more than 10 minutes old (a
        // laptop moved to a phone's hotspot that rewrites every TTL)
        for (f, ts) in local3.iter().zip([11, 12, 13]) {
            c.observe(lt::RAW, f, 15 * MIN + 1 + ts);
        }
        // (TCP's; QUIC's not: one from beyond came a moment ago)
        assert_eq!(times(&c), (15 * MIN + 13, 15 * MIN + 12, 15 * MIN + 1));
    }

    /// IPv6 answers from the own network: an initial hop limit, a unique
    /// local, link-local or loopback source; the fast path and the decoder
    /// agree.
    #[test]
    fn ipv6_answers_from_the_own_network_are_local() {
        let synack6 = |src: [u16; 8], hops: u8| {
            let mut f = vec![0x60, 0, 0, 0, 0, 20, 6, hops];
            for w in src {
                f.extend(w.to_be_bytes());
            }
            f.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);
            f.extend([
                1, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
            ]);
            f
        };
        let public = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 7];
        for (src, hops, local) in [
            (public, 52, false),
            (public, 64, true),
            (public, 255, true),
            ([0xfd00, 0, 0, 0, 0, 0, 0, 5], 63, true),
            ([0xfe80, 0, 0, 0, 0, 0, 0, 5], 63, true),
            ([0, 0, 0, 0, 0, 0, 0, 1], 63, true),
        ] {
            let f = synack6(src, hops);
            let want = Some(if local {
                LinkEvent::Local {
                    kind: LocalKind::Tls,
                    v6: true,
                }
            } else {
                LinkEvent::TlsSynAck { v6: true }
            });
            assert_eq!(link_event(lt::RAW, &f), want, "{src:x?} {hops}");
            let decoded = crate::decode::decode(lt::RAW, &f, 0, 0).ok();
            assert_eq!(
                decoded.as_ref().and_then(of_packet),
                want,
                "{src:x?} {hops}"
            );
        }
    }

    /// Frames the fixed-offset reading used to answer differently from the
    /// decoder (found in review, session 15): the decoder's answer now,
    /// whichever path gives it.
    #[test]
    fn frames_the_fixed_offsets_misread() {
        let decoded = |l: u32, f: &[u8]| {
            crate::decode::decode(l, f, 0, 0)
                .ok()
                .and_then(|p| of_packet(&p))
        };
        let v6 = |next: u8, plen: u8| {
            let mut f = vec![0x60, 0, 0, 0, 0, plen, next, 52];
            f.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            f.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            f
        };
        let synack_tcp = [
            1, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
        ];
        // a SYN/ACK behind an IPv6 hop-by-hop header (next header 0): the
        // protocol is not byte 6 of the IPv6 header
        let mut hbh = v6(0, 28);
        hbh.extend([6, 0, 1, 4, 0, 0, 0, 0]);
        hbh.extend(synack_tcp);
        assert_eq!(
            decoded(lt::RAW, &hbh),
            Some(LinkEvent::TlsSynAck { v6: true })
        );
        assert_eq!(
            link_event(lt::RAW, &hbh),
            Some(LinkEvent::TlsSynAck { v6: true })
        );
        // an empty datagram from port 443, padded to Ethernet's 60 bytes:
        // the padding is not payload
        let mut eth = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0];
        eth.extend([
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 203, 0, 113, 5, 192, 0, 2, 10,
        ]);
        eth.extend([1, 0xbb, 0x13, 0x88, 0, 8, 0, 0]);
        eth.resize(60, 0);
        assert_eq!(decoded(lt::ETHERNET, &eth), None);
        assert_eq!(link_event(lt::ETHERNET, &eth), None);
        // an IPv4 total length that ends inside the TCP header: what was
        // declared, not what was captured
        let mut short = vec![0x45, 0, 0, 30, 0, 1, 0x40, 0, 64, 6, 0, 0, 203, 0, 113, 5];
        short.extend([192, 0, 2, 10]);
        short.extend(synack_tcp);
        assert_eq!(link_event(lt::RAW, &short), decoded(lt::RAW, &short));
        // an IPv4 SYN/ACK behind a 0x9100 tag, behind unmodified MACsec, and
        // behind three tags: the decoder reads through them all
        let synack_v4 = {
            let mut f = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 52, 6, 0, 0, 203, 0, 113, 5];
            f.extend([192, 0, 2, 10]);
            f.extend(synack_tcp);
            f
        };
        let macs = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        for (what, head) in [
            ("0x9100 tag", &[0x91, 0x00, 0, 5, 0x08, 0x00][..]),
            ("MACsec", &[0x88, 0xe5, 0, 0, 0, 0, 0, 1, 0x08, 0x00][..]),
            (
                "three tags",
                &[
                    0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x91, 0x00, 0, 3, 0x08, 0x00,
                ][..],
            ),
        ] {
            let mut f = macs.to_vec();
            f.extend(head);
            f.extend(&synack_v4);
            assert_eq!(
                decoded(lt::ETHERNET, &f),
                Some(LinkEvent::TlsSynAck { v6: false }),
                "{what}"
            );
            assert_eq!(
                link_event(lt::ETHERNET, &f),
                Some(LinkEvent::TlsSynAck { v6: false }),
                "{what}"
            );
        }
        // an IPv6 SYN/ACK with its payload length: the fixed offsets decide
        let mut plain = v6(6, 20);
        plain.extend(synack_tcp);
        assert_eq!(
            fast(lt::RAW, &plain),
            Some(Some(LinkEvent::TlsSynAck { v6: true }))
        );
    }

    /// An IPv4 TCP segment (ACK|PSH) from `sport` to `dport` with `payload`.
    fn seg(sport: u16, dport: u16, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(40 + payload.len()).unwrap().to_be_bytes();
        let mut f = vec![0x45, 0, total[0], total[1], 0, 1, 0x40, 0, 64, 6, 0, 0];
        f.extend([192, 0, 2, 10, 203, 0, 113, 5]);
        f.extend(sport.to_be_bytes());
        f.extend(dport.to_be_bytes());
        f.extend(seq.to_be_bytes());
        f.extend(ack.to_be_bytes());
        f.extend([0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend(payload);
        f
    }

    /// Both readings of a frame, which must agree.
    fn both(f: &[u8]) -> Option<LinkEvent> {
        let full = crate::decode::decode(lt::RAW, f, 0, 0)
            .ok()
            .and_then(|p| of_packet(&p));
        assert_eq!(link_event(lt::RAW, f), full);
        full
    }

    const S: Nanos = crate::time::SECOND;

    #[test]
    fn connectivity_checks_are_recognised_by_host_and_path() {
        let get = |host: &str, path: &str| {
            let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: x\r\n\r\n");
            both(&seg(40000, 80, 1000, 1, req.as_bytes()))
        };
        let kind = |e: Option<LinkEvent>| match e {
            Some(LinkEvent::Check {
                port, next, kind, ..
            }) => {
                assert_eq!(port, 40000);
                Some((next > 1000).then_some(kind))
            }
            _ => None,
        };
        let nc = Some(Some(CheckKind::NoContent));
        assert_eq!(
            kind(get("connectivitycheck.gstatic.com", "/generate_204")),
            nc
        );
        assert_eq!(kind(get("www.google.com", "/gen_204?x=1")), nc);
        assert_eq!(kind(get("connectivity-check.ubuntu.com", "/")), nc);
        assert_eq!(
            kind(get("captive.apple.com", "/hotspot-detect.html")),
            Some(Some(CheckKind::Text(0)))
        );
        assert_eq!(
            kind(get("WWW.MSFTCONNECTTEST.COM", "/connecttest.txt")),
            Some(Some(CheckKind::Text(1)))
        );
        assert_eq!(
            kind(get("detectportal.firefox.com", "/success.txt")),
            Some(Some(CheckKind::Text(3)))
        );
        assert_eq!(
            kind(get("nmcheck.gnome.org", "/check_network_status.txt")),
            Some(Some(CheckKind::Text(4)))
        );
        // ordinary pages are not checks
        assert_eq!(get("www.example.com", "/"), None);
        assert_eq!(get("www.msftconnecttest.com", "/redirect"), None);
        // a request to another port, a POST, a response-looking request
        let req = b"GET /generate_204 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(both(&seg(40000, 8080, 1, 1, req)), None);
        assert_eq!(
            both(&seg(
                40000,
                80,
                1,
                1,
                b"POST /generate_204 HTTP/1.1\r\nHost: a\r\n\r\n"
            )),
            None
        );
        // no Host header: only /generate_204 (any host) is a check
        assert_eq!(
            both(&seg(
                40000,
                80,
                1,
                1,
                b"GET /connecttest.txt HTTP/1.0\r\n\r\n"
            )),
            None
        );
        assert!(both(&seg(40000, 80, 1, 1, b"GET /generate_204 HTTP/1.0\r\n\r\n")).is_some());
        // Apple's check at "/", and Ubuntu's
        assert_eq!(
            kind(get("captive.apple.com", "/")),
            Some(Some(CheckKind::Text(0)))
        );
        assert_eq!(kind(get("www.example.com:80", "/nm")), None);
        // cut anywhere, nothing panics and both readings agree
        let full = seg(40000, 80, 1, 1, req);
        for cut in 0..full.len() {
            let _ = both(&full[..cut]);
        }
    }

    /// Sends a check and its answer through a tracker at `t` seconds.
    fn exchange(k: &mut LinkTracker, port: u16, t: i64, host: &str, path: &str, answer: &str) {
        // the handshake, from the portal next door or the server (TTL 64)
        let mut sa = seg(80, port, 0, 7, b"");
        sa[33] = 0x12;
        k.observe(lt::RAW, &sa, t * S - S / 100);
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        k.observe(lt::RAW, &seg(port, 80, 7, 1, req.as_bytes()), t * S);
        let next = 7 + u32::try_from(req.len()).unwrap();
        k.observe(
            lt::RAW,
            &seg(80, port, 1, next, answer.as_bytes()),
            t * S + S / 50,
        );
    }

    const REDIRECT: &str =
        "HTTP/1.1 302 Found\r\nLocation: http://10.1.0.1/login\r\nContent-Length: 0\r\n\r\n";
    const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    const APPLE_OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>";

    #[test]
    fn a_portal_period_runs_from_the_first_failed_check_to_the_first_passed_one() {
        let mut k = LinkTracker::default();
        exchange(
            &mut k,
            40001,
            100,
            "connectivitycheck.gstatic.com",
            "/generate_204",
            NO_CONTENT,
        );
        assert_eq!(k.clock().captive.since, 0, "an answered check is no portal");
        assert_eq!(k.clock().captive.online_checks, 1);
        exchange(
            &mut k,
            40002,
            200,
            "captive.apple.com",
            "/hotspot-detect.html",
            REDIRECT,
        );
        let c = k.clock().captive;
        assert_eq!((c.since, c.portal_checks), (200 * S + S / 50, 1));
        assert!(c.open_at(250 * S));
        // a flow that ended 40 s before the check: untouched; 20 s before:
        // the lead (its DNS raced the check)
        assert!(!c.overlaps(150 * S, 160 * S, i64::MAX));
        assert!(c.overlaps(150 * S, 180 * S, i64::MAX));
        exchange(
            &mut k,
            40003,
            400,
            "www.msftconnecttest.com",
            "/connecttest.txt",
            "HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\nMicrosoft Connect Test",
        );
        let c = k.clock().captive;
        assert_eq!(c.ended, 400 * S + S / 50);
        assert!(!c.open_at(401 * S));
        assert!(c.overlaps(300 * S, 310 * S, i64::MAX));
        assert!(!c.overlaps(401 * S, 500 * S, i64::MAX), "after the login");
        // a second period keeps the first
        exchange(
            &mut k,
            40004,
            2000,
            "connectivitycheck.gstatic.com",
            "/generate_204",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlogin",
        );
        let c = k.clock().captive;
        assert_eq!(c.since, 2000 * S + S / 50);
        assert!(
            c.overlaps(300 * S, 310 * S, i64::MAX),
            "the earlier period is remembered"
        );
        // with no answer from the portal for ten minutes, the period ends
        assert!(c.open_at(2500 * S));
        assert!(!c.open_at(2700 * S));
        assert!(!c.overlaps(2700 * S, 2800 * S, i64::MAX));
        assert_eq!((c.portal_checks, c.online_checks), (2, 2));
    }

    #[test]
    fn a_portal_answer_within_a_second_of_the_end_reopens_the_period() {
        let mut c = Captive::default();
        c.portal(100 * S);
        c.online(100 * S + 40 * crate::time::MILLI);
        c.portal(100 * S + 80 * crate::time::MILLI);
        assert_eq!((c.since, c.ended, c.prev), (100 * S, 0, (0, 0)));
        c.online(200 * S);
        c.portal(202 * S);
        assert_eq!((c.since, c.prev), (202 * S, (100 * S, 200 * S)));
    }

    #[test]
    fn answers_that_are_neither_leave_the_period_alone() {
        let mut k = LinkTracker::default();
        // a block page (403), a server error, a 200 whose body is in the next
        // segment, an answer on another connection, a late answer
        exchange(
            &mut k,
            40001,
            10,
            "connectivitycheck.gstatic.com",
            "/generate_204",
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        );
        exchange(
            &mut k,
            40002,
            20,
            "captive.apple.com",
            "/",
            "HTTP/1.1 503 Busy\r\n\r\n",
        );
        exchange(
            &mut k,
            40003,
            30,
            "captive.apple.com",
            "/",
            "HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n",
        );
        let req = b"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n";
        k.observe(lt::RAW, &seg(40004, 80, 7, 1, req), 40 * S);
        let next = 7 + u32::try_from(req.len()).unwrap();
        k.observe(
            lt::RAW,
            &seg(80, 40005, 1, next, REDIRECT.as_bytes()),
            40 * S + 1,
        );
        k.observe(
            lt::RAW,
            &seg(80, 40004, 1, next + 1, REDIRECT.as_bytes()),
            40 * S + 2,
        );
        k.observe(
            lt::RAW,
            &seg(80, 40004, 1, next, REDIRECT.as_bytes()),
            51 * S,
        );
        let c = k.clock().captive;
        assert_eq!((c.since, c.portal_checks, c.online_checks), (0, 0, 0));
        // Apple's page whole, answered as expected
        exchange(
            &mut k,
            40006,
            60,
            "captive.apple.com",
            "/hotspot-detect.html",
            APPLE_OK,
        );
        assert_eq!(k.clock().captive.online_checks, 1);
    }

    #[test]
    fn a_redirect_from_another_sender_than_the_handshake_is_no_portal() {
        // the SYN/ACK (TTL 63), the check, then a 307 with TTL 40
        // racing the server: an injector's (Sandvine's ad redirect), judged by
        // the HTTP detector, not a portal
        let with = |mut f: Vec<u8>, ttl: u8, flags: u8| {
            f[8] = ttl;
            f[33] = flags;
            f
        };
        let req = b"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n";
        let next = 7 + u32::try_from(req.len()).unwrap();
        let redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://ads.example/\r\n\r\n";
        // (a portal next door: TTL 63)
        for (reply_ttl, portal) in [(40u8, false), (63, true), (64, true)] {
            let mut k = LinkTracker::default();
            let sa = with(seg(80, 40001, 0, 7, b""), 63, 0x12);
            assert_eq!(
                both(&sa),
                Some(LinkEvent::HttpSynAck {
                    port: 40001,
                    ttl: 63,
                    local: false,
                    v6: false,
                })
            );
            k.observe(lt::RAW, &sa, S);
            k.observe(lt::RAW, &seg(40001, 80, 7, 1, req), 2 * S);
            let r = with(seg(80, 40001, 1, next, redirect), reply_ttl, 0x18);
            k.observe(lt::RAW, &r, 2 * S + 1);
            assert_eq!(k.clock().last_synack, S);
            assert_eq!(
                k.clock().captive.portal_checks,
                u32::from(portal),
                "reply TTL {reply_ttl}"
            );
        }
    }

    /// Found in review (session 18): answers that are no portal's.
    #[test]
    fn what_a_portal_answers_and_what_it_does_not() {
        let run = |synack_ttl: Option<u8>, host: &str, path: &str, answer: &str| {
            let mut k = LinkTracker::default();
            if let Some(ttl) = synack_ttl {
                let mut sa = seg(80, 40001, 0, 7, b"");
                sa[33] = 0x12;
                sa[8] = ttl;
                k.observe(lt::RAW, &sa, S);
            }
            let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            k.observe(lt::RAW, &seg(40001, 80, 7, 1, req.as_bytes()), 2 * S);
            let next = 7 + u32::try_from(req.len()).unwrap();
            let mut r = seg(80, 40001, 1, next, answer.as_bytes());
            r[8] = synack_ttl.unwrap_or(64);
            k.observe(lt::RAW, &r, 2 * S + 1);
            let c = k.clock().captive;
            (c.portal_checks, c.online_checks)
        };
        let g = ("connectivitycheck.gstatic.com", "/generate_204");
        let redirect =
            "HTTP/1.1 302 Found\r\nLocation: http://10.1.0.1/login\r\nContent-Length: 0\r\n\r\n";
        // a portal next door
        assert_eq!(run(Some(64), g.0, g.1, redirect), (1, 0));
        assert_eq!(
            run(
                Some(255),
                g.0,
                g.1,
                "HTTP/1.1 511 Network Authentication Required\r\n\r\n"
            ),
            (1, 0)
        );
        // the same redirect from a server 12 hops away (a censor's
        // block-page server a forged DNS answer sent the check to), or with
        // no handshake seen (a busy gateway): no portal
        assert_eq!(run(Some(52), g.0, g.1, redirect), (0, 0));
        assert_eq!(run(None, g.0, g.1, redirect), (0, 0));
        // five to eight hops away (a hotspot operator's controller, or an
        // in-country interceptor): only a 511 or a redirect to a private
        // address (third review, session 18)
        let public = "HTTP/1.1 302 Found\r\nLocation: http://notice.example/\r\n\r\n";
        assert_eq!(run(Some(57), g.0, g.1, redirect), (1, 0));
        assert_eq!(run(Some(57), g.0, g.1, public), (0, 0));
        assert_eq!(run(Some(60), g.0, g.1, public), (1, 0));
        assert_eq!(
            run(
                Some(121),
                g.0,
                g.1,
                "HTTP/1.1 511 Network Authentication Required\r\n\r\n"
            ),
            (1, 0)
        );
        assert_eq!(
            run(
                Some(57),
                g.0,
                g.1,
                "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n<html>Welcome to Cafe Wi-Fi</html>"
            ),
            (0, 0)
        );
        // ... or one that carries the checked URL (a portal's `?dst=`); the
        // host after any user information (fourth review, session 18)
        let echo = "HTTP/1.1 302 Found\r\nLocation: http://login.hotspot.example/?dst=http%3A%2F%2Fconnectivitycheck.gstatic.com%2Fgenerate_204\r\n\r\n";
        assert_eq!(run(Some(57), g.0, g.1, echo), (1, 0));
        for (loc, portal) in [
            ("http://user@10.0.0.1/", 1),
            ("http://10.0.0.1:80@notice.example/", 0),
            ("http://192.0.2.1/login.html", 1),
            ("http://[::ffff:10.0.0.1]/", 1),
            ("HTTP://172.16.0.1:8080/login", 1),
        ] {
            let r = format!("HTTP/1.1 302 Found\r\nLocation: {loc}\r\n\r\n");
            assert_eq!(run(Some(57), g.0, g.1, &r), (portal, 0), "{loc}");
        }
        // a transparent proxy's empty 200 for the 204: no portal
        let empty = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(run(Some(64), g.0, g.1, empty), (0, 0));
        let page =
            "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n<html>Welcome to Cafe Wi-Fi</html>";
        assert_eq!(run(Some(64), g.0, g.1, page), (1, 0));
        // a site's own move to HTTPS, permanent or not: no portal
        for st in [
            "301 Moved Permanently",
            "302 Found",
            "308 Permanent Redirect",
        ] {
            let up = format!("HTTP/1.1 {st}\r\nLocation: https://connectivitycheck.gstatic.com/generate_204\r\n\r\n");
            assert_eq!(run(Some(64), g.0, g.1, &up), (0, 0), "{st}");
        }
        // a permanent redirect elsewhere: no portal either (portals redirect
        // for now, not for good)
        let moved = "HTTP/1.1 301 Moved Permanently\r\nLocation: http://10.1.0.1/login\r\n\r\n";
        assert_eq!(run(Some(64), g.0, g.1, moved), (0, 0));
        // Apple's check answered by a login page longer than a segment
        let long =
            "HTTP/1.1 200 OK\r\nContent-Length: 5200\r\n\r\n<html><head><title>Login</title>";
        assert_eq!(
            run(Some(64), "captive.apple.com", "/hotspot-detect.html", long),
            (1, 0)
        );
        // ... and its own short answer whose body is in the next segment:
        // neither
        let head_only = "HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n";
        assert_eq!(
            run(
                Some(64),
                "captive.apple.com",
                "/hotspot-detect.html",
                head_only
            ),
            (0, 0)
        );
    }

    /// Found in review (session 18): a client port reused; the newest
    /// SYN/ACK to it decides.
    #[test]
    fn the_newest_synack_to_a_port_decides() {
        let mut k = LinkTracker::default();
        let synack = |ttl: u8| {
            let mut sa = seg(80, 40001, 0, 7, b"");
            sa[33] = 0x12;
            sa[8] = ttl;
            sa
        };
        // an old connection from the port to a far server, then the check's
        // own handshake with the portal next door
        k.observe(lt::RAW, &synack(50), S);
        for p in 0..5u16 {
            let mut other = synack(50);
            other[36..38].copy_from_slice(&(41000 + p).to_be_bytes());
            k.observe(lt::RAW, &other, S + i64::from(p));
        }
        k.observe(lt::RAW, &synack(64), 2 * S);
        let req = b"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n";
        k.observe(lt::RAW, &seg(40001, 80, 7, 1, req), 3 * S);
        let next = 7 + u32::try_from(req.len()).unwrap();
        let redirect = b"HTTP/1.1 302 Found\r\nLocation: http://10.1.0.1/\r\n\r\n";
        k.observe(lt::RAW, &seg(80, 40001, 1, next, redirect), 3 * S + 1);
        assert_eq!(k.clock().captive.portal_checks, 1);
    }
}
