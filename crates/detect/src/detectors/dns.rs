//! `dns_injection`: forged DNS answers, racing the resolver's (on-path) or
//! replacing it (in-path), over UDP and TCP.
//!
//! Per query (client port, resolver, DNS ID, question) the detector keeps
//! the first answer and the first answer that differs from it; per resolver
//! a baseline learned from its answers (IP TTL, fastest RTT, IP ID and DF
//! habits, AA/RA flags, EDNS echo). When the flow ends, each answered query
//! is weighed (rules and sources in `docs/signatures/dns_injection.md`):
//!
//! - sufficient: `race` (two answers to one query that differ in answers,
//!   rcode or flags), `known_forged_answer` with a strong fingerprint (an
//!   address no public name has, e.g. Iran's 10.10.34.34);
//! - scored: `forged_answer_pool` (a weak, public fingerprint), `bogon_answer`
//!   (private, loopback, ... for a public name), `ttl_mismatch`, `too_fast`,
//!   `ip_id_marker`, `malformed_question`, `edns_dropped`, `flags_unlike_resolver`.

use crate::decode::{Packet, Transport};
use crate::detectors::{Ctx, Detector, ServerState};
use crate::dns::{self, is_bogon, Message, Reply, StoredName};
use crate::event::Event;
use crate::fingerprints::DnsFingerprints;
use crate::flow::{Dir, Flow};
use crate::lru::Lru;
use crate::stats::{DnsMoveExcuse, DnsRcode, FlowOutcome, Signature};
use crate::time::{Nanos, MILLI, SECOND};
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// Settings of the DNS-injection detector.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    /// Run this detector (`false`: it is not built, costs nothing, and
    /// neither emits nor counts anything).
    pub enabled: bool,
    /// An answer's IP TTL may differ this much from the resolver's usual
    /// TTL (Hold-On accepts ±1).
    pub ttl_tolerance: u8,
    /// An answer sooner than this share of the resolver's fastest RTT is
    /// too fast to be the resolver's (Hold-On: half).
    pub too_fast_share: f64,
    /// Resolvers this close are not judged by timing.
    pub min_rtt_for_timing: Nanos,
    /// Answers seen from a resolver before its baseline is used.
    pub min_baseline: u8,
    /// Score needed (with two rules) when no sufficient rule fired.
    pub min_score: f64,
    /// How long after its answer a verdict resting on path rules alone
    /// (`ttl_mismatch`, `too_fast`) is held back for the resolver's next
    /// answers to show whether its path moved (0: not held).
    pub path_hold: Nanos,
    /// Zones answered locally (split horizon): private answers for names in
    /// them are normal.
    pub local_zones: Vec<String>,
    /// Known forged answers.
    pub fingerprints: Arc<DnsFingerprints>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            enabled: true,
            ttl_tolerance: 1,
            too_fast_share: 0.5,
            min_rtt_for_timing: 2 * MILLI,
            min_baseline: 3,
            min_score: 0.6,
            path_hold: 120 * SECOND,
            local_zones: DEFAULT_LOCAL_ZONES.iter().map(|s| s.to_string()).collect(),
            fingerprints: Arc::new(DnsFingerprints::builtin().unwrap_or_default()),
        }
    }
}

/// Zones that are never public (RFC 6761, RFC 8375, common home-router and
/// corporate suffixes, reverse zones).
pub const DEFAULT_LOCAL_ZONES: &[&str] = &[
    "local",
    "lan",
    "home",
    "home.arpa",
    "internal",
    "intranet",
    "corp",
    "localdomain",
    "localhost",
    "in-addr.arpa",
    "ip6.arpa",
    "test",
    "invalid",
];

/// One answer, as much as the verdict needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerRec {
    /// Arrival.
    pub ts: Nanos,
    /// IP TTL.
    pub ttl: u8,
    /// IPv4 ID.
    pub ip_id: u16,
    /// DF.
    pub df: bool,
    /// The DNS message, without its question.
    pub msg: Reply,
    /// Its question was its query's (QCLASS IN, the same name and QTYPE),
    /// compared when it arrived.
    pub question_ok: bool,
    /// Identical copies of this answer that arrived later.
    pub duplicates: u16,
}

impl AnswerRec {
    /// Same content: rcode, AA/TC/RA flags, the answer records' data
    /// (signatures aside: see [`dns::Answers::rrsigs`]).
    fn same_content(&self, m: &Message) -> bool {
        const SIG: u16 = 0x0400 | 0x0200 | 0x0080 | 0x000f;
        let (a, b) = (&self.msg.answers, &m.answers);
        self.msg.flags & SIG == m.flags & SIG
            && a.content_hash == b.content_hash
            && a.count.saturating_sub(a.rrsigs) == b.count.saturating_sub(b.rrsigs)
    }
}

/// One query and its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRec {
    /// DNS ID.
    pub id: u16,
    /// Question (inline when short: see [`StoredName`]).
    pub name: StoredName,
    /// QTYPE.
    pub qtype: u16,
    /// Sent at.
    pub ts: Nanos,
    /// The query carried EDNS.
    pub edns: bool,
    /// The first answer.
    pub first: Option<AnswerRec>,
    /// The first answer that said something else (boxed: only a flow with
    /// two different answers to one query has one, and most queries get one
    /// answer).
    pub other: Option<Box<AnswerRec>>,
    /// Answers received.
    pub answers: u16,
    /// When the client last sent the query again (same ID and question).
    pub resent_at: Option<Nanos>,
}

/// Queries kept per flow (the same socket may ask several, e.g. A and AAAA).
pub const QUERIES_PER_FLOW: usize = 4;

/// After its first answer, how long a query may still draw a racing one
/// (an injector answers at once; the real answer of a slow recursive
/// resolution can take a second or more).
pub const ANSWER_RACE: Nanos = 2 * SECOND;

/// How long a query (or its latest resend) waits for an answer before it
/// counts as unanswered (stubs resend after 1-5 s).
pub const ANSWER_WAIT: Nanos = 5 * SECOND;

impl QueryRec {
    /// No more answers are expected at `now`: the race after the first
    /// answer is over, or nothing came for [`ANSWER_WAIT`].
    pub fn settled(&self, now: Nanos) -> bool {
        match &self.first {
            Some(a) => now.saturating_sub(a.ts) >= ANSWER_RACE,
            None => {
                now.saturating_sub(self.resent_at.unwrap_or(self.ts).max(self.ts)) >= ANSWER_WAIT
            }
        }
    }
}

/// Per-flow DNS state, allocated at the flow's first DNS query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFlow {
    /// Queries, oldest first.
    pub queries: Vec<QueryRec>,
    /// Answers that matched no query of this flow.
    pub unmatched_answers: u16,
    /// Queries whose records made room for newer ones, newest last.
    pub gone: Gone,
}

/// What is kept of the last [`GONE`] query records that made room for newer
/// ones: (ID, QTYPE, name digest, a resend is the same query). An answer
/// to one of them is not matched to another record by its ID alone (a
/// stub's A and AAAA share an ID: the late answer of one would be taken for
/// a second, different answer to the other); a resend of one that left
/// before it settled, or unanswered (a stub's retry after 5 s), is not
/// counted as a new query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gone {
    entries: [(u16, u16, u32, bool); GONE],
    len: u8,
}

/// Records remembered in [`Gone`].
pub const GONE: usize = 4;

impl Gone {
    fn note(&mut self, q: &QueryRec, same_on_resend: bool) {
        let e = (q.id, q.qtype, q.name.digest(), same_on_resend);
        if usize::from(self.len) == GONE {
            self.entries.rotate_left(1);
            self.entries[GONE - 1] = e;
        } else {
            self.entries[usize::from(self.len)] = e;
            self.len += 1;
        }
    }

    /// The entry for this query, if remembered.
    fn find(&self, id: u16, qtype: u16, digest: u32) -> Option<usize> {
        self.entries[..usize::from(self.len)]
            .iter()
            .position(|e| e.0 == id && e.1 == qtype && e.2 == digest)
    }

    fn same_on_resend(&self, i: usize) -> bool {
        self.entries.get(i).is_some_and(|e| e.3)
    }

    fn remove(&mut self, i: usize) {
        let n = usize::from(self.len);
        if i < n {
            self.entries[i..n].rotate_left(1);
            self.len -= 1;
        }
    }
}

/// Per-resolver baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsServer {
    /// Answers the baseline was learned from.
    pub answers: u32,
    /// Recent IP TTLs of its answers.
    pub ttls: [u8; 8],
    /// Valid entries / next position in `ttls`.
    pub ttl_n: u8,
    /// The paths its clean answers came over lately (see
    /// [`DnsServer::on_known_path`]): at most two IP TTLs, each with the
    /// clean answers learned over it (saturating) and the packet time of
    /// the latest, in whole seconds.
    pub paths: [(u8, u8, u32); 2],
    /// Fastest answer (query to answer).
    pub rtt_min: Option<Nanos>,
    /// Fastest answer to a question it had answered among the last eight
    /// (name and type): a cache hit, so about the round trip to it. Its
    /// fastest answer of all may be a cache miss (the round trip plus its
    /// upstream's time): an answer "sooner than half of it" is then any
    /// cache hit, and `too_fast` judged a resolver's cached answers (found
    /// in review, session 19).
    pub hit_min: Option<Nanos>,
    /// The latest clean answer to a question asked again (a cache hit):
    /// when it came and how long it took (0 and 0: none yet). A verdict
    /// held for its speed (see [`Held::took`]) is reported when a cache hit
    /// after it still took more than twice as long.
    pub last_hit: (Nanos, Nanos),
    /// Digests of the last eight questions it answered (see `hit_min`).
    pub asked: [u32; 8],
    /// Digests of its latest answer to each question of `asked` (rcode
    /// and records: [`answer_digest`]).
    pub said: [u32; 8],
    /// Next position in `asked`.
    pub asked_n: u8,
    /// Answers with IP ID 0 / with DF set.
    pub ip_id_zero: u32,
    /// Answers with DF set.
    pub df_set: u32,
    /// Answers with AA / RA set.
    pub aa: u32,
    /// Answers with RA set.
    pub ra: u32,
    /// Queries with EDNS that it answered, and answers to them that had EDNS.
    pub edns_queries: u32,
    /// Of those, answers that echoed EDNS.
    pub edns_echoed: u32,
    /// It answered names in local zones with private addresses: it serves
    /// local zones, so a private answer alone proves nothing.
    pub serves_local: bool,
    /// The latest run of answers (as they arrive, before any verdict)
    /// over one path: (their IP TTL, distinct names in a row, hash of the
    /// latest name). See [`DnsServer::note_answer`].
    pub shift: Option<(u8, u16, u32)>,
    /// When the latest run began and when its latest answer came.
    pub shift_span: (Nanos, Nanos),
    /// The last two runs that made a move (`min_baseline` distinct names in
    /// a row over one TTL): (TTL, first answer, latest answer). An answer
    /// is judged up to a flow's idle timeout after it came, and the path
    /// may have moved on (or back) by then: an anycast resolver's route
    /// flapping within 30 s left every answer of the move it was part of
    /// judged against the old path (found in review, session 19).
    pub moves: [(u8, Nanos, Nanos); 2],
    /// Verdicts held back (at most [`HELD_MAX`], oldest first): answers
    /// whose only rules were path rules, over a path that the resolver's
    /// answers since have not left (see [`Held`]). Empty (no allocation)
    /// for nearly every resolver.
    pub held: Vec<Held>,
}

/// A question (name and type) in `DnsServer::asked`; never 0, the empty
/// entries.
fn question_digest(q: &QueryRec) -> u32 {
    (q.name.digest() ^ u32::from(q.qtype)) | 1
}

/// What an answer says (rcode and records, not their TTLs or signatures),
/// as a digest: two answers with the same digest say the same thing.
fn answer_digest(a: &AnswerRec) -> u32 {
    let m = &a.msg.answers;
    let h = m.content_hash ^ (m.content_hash >> 32) ^ u64::from(a.msg.rcode()) << 24;
    let n = u32::from(m.count.saturating_sub(m.rrsigs));
    (h as u32 ^ n.rotate_left(16)) | 1
}

/// Two answers to a query sent again whose IPv4 IDs are at most this far
/// apart may come from one counter (one sender).
const RESEND_IP_ID_GAP: u16 = 4096;

/// An answer that took `took` is too fast for a resolver `rtt` away.
fn too_fast(took: Nanos, rtt: Nanos, cfg: &DnsConfig) -> bool {
    rtt >= cfg.min_rtt_for_timing && (took as f64) < rtt as f64 * cfg.too_fast_share
}

/// The weight of `too_fast`.
const TOO_FAST_WEIGHT: f64 = 0.3;

/// Verdicts held back per resolver.
pub const HELD_MAX: usize = 4;

/// Distinct names in a row over an answer's path (it among them, nothing
/// over another path since) that excuse it when its hold ends: a resolver
/// whose route moved shortly before a quiet spell (a home gateway's one or
/// two lookups) rather than an injector's one answer.
pub const QUIET_MOVE_NAMES: u16 = 2;

/// A verdict resting on path rules alone (`ttl_mismatch` + `too_fast`: the
/// answer came over another path than the resolver's usual one), held back
/// when its flow ended until the resolver's next answers decide it: over
/// that path for `min_baseline` names in a row, its route moved (excused);
/// over another one (its old path), the odd answer was an injector's
/// (reported, as built when its flow ended). When the hold ends with
/// neither, it is decided on what is known ([`QUIET_MOVE_NAMES`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The event it is, built when its flow ended (its time that of the
    /// flow's last packet, as for every verdict taken then).
    pub event: Box<Event>,
    /// The answer's IP TTL.
    pub ttl: u8,
    /// The answer's arrival.
    pub at: Nanos,
    /// Decided on what is known at the first sweep point or answer of the
    /// resolver from then on.
    pub deadline: Nanos,
    /// The flow's last packet, and whether a report is noted for residual
    /// blocking (as [`crate::detectors::blackhole::note_detections`]).
    pub last_ts: Nanos,
    /// See `last_ts`.
    pub residual: bool,
    /// Held for its speed, not its path: the verdict needed `too_fast` (a
    /// private answer as fast as a cache hit from a nearer resolver would
    /// be) and came over the resolver's usual path; the answer's time after
    /// its query. Excused when the resolver's clean answers show its round
    /// trip got that short (the link sped up: a mobile link or a bloated
    /// uplink recovering, sixth red-team review); reported when a cache
    /// hit after it still took more than twice as long, or when the hold
    /// ends.
    pub took: Option<Nanos>,
    /// The question's name (digest: [`crate::dns::Name::digest`]).
    pub name: u32,
    /// Held for its speed, and a clean answer to another name was as fast.
    pub sped: bool,
    /// Besides its path, it had a private answer or another relay's habits
    /// (see [`Verdict::path_only`]): only a run of `min_baseline` names
    /// over its path excuses it, not a quiet spell after one or two.
    pub beyond_path: bool,
}

// (the event's confidence is a finite number: equality is an equivalence)
impl Eq for Held {}

/// What a held verdict is, as far as the resolver's answers show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Its path carried a run that made a move: excused.
    Moved,
    /// An answer over another path came after it: reported.
    Broken,
    /// Its path still carries the resolver's answers, this many distinct
    /// names in a row (it among them); for a verdict held for its speed,
    /// `Open(0)`: nothing decided it yet.
    Open(u16),
    /// Held for its speed, and the resolver's clean answers since are as
    /// fast: the answer was not too fast after all. Excused.
    Faster,
}

impl DnsServer {
    /// Learns from an answer that raised nothing; its time only if
    /// `with_rtt` (an answer judged before it settled may be a racing
    /// injector's, and before the baseline exists nothing could say so:
    /// its 3 ms would become the resolver's fastest).
    fn learn(
        &mut self,
        a: &AnswerRec,
        q: &QueryRec,
        local_name: bool,
        with_rtt: bool,
        cfg: &DnsConfig,
    ) {
        self.answers = self.answers.saturating_add(1);
        self.note_path(a.ttl, a.ts);
        let i = usize::from(self.ttl_n % 8);
        self.ttls[i] = a.ttl;
        self.ttl_n = self.ttl_n.wrapping_add(1);
        if self.ttl_n == 0 {
            self.ttl_n = 8;
        }
        let rtt = a.ts - q.ts;
        let h = question_digest(q);
        let seen = self.asked.iter().position(|x| *x == h);
        let repeat = seen.is_some();
        if rtt > 0 && with_rtt {
            self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
            // A repeated name's answer is a cache hit. Any clean answer
            // also bounds the round trip from above, so once a hit is known
            // a faster answer of any kind lowers it (a path that got faster,
            // a bloated or mobile uplink recovering: otherwise every answer
            // after the change was "too fast" until a name asked again was
            // answered; sixth red-team review, session 20).
            if repeat || self.hit_min.is_some() {
                self.hit_min = Some(self.hit_min.map_or(rtt, |m| m.min(rtt)));
            }
            if repeat {
                self.last_hit = (a.ts, rtt);
            }
            // a verdict held for its speed, on another name: this answer
            // as fast shows the round trip got that short (an injector
            // answers the names it blocks, A and AAAA, not the others)
            let name = q.name.digest();
            for h in self.held.iter_mut() {
                if h.took
                    .is_some_and(|took| h.name != name && !too_fast(took, rtt, cfg))
                {
                    h.sped = true;
                }
            }
        }
        let said = answer_digest(a);
        if let Some(i) = seen {
            self.said[i] = said;
        } else {
            let i = usize::from(self.asked_n % 8);
            self.asked[i] = h;
            self.said[i] = said;
            self.asked_n = (self.asked_n + 1) % 8;
        }
        self.ip_id_zero += u32::from(a.ip_id == 0);
        self.df_set += u32::from(a.df);
        self.aa += u32::from(a.msg.aa());
        self.ra += u32::from(a.msg.ra());
        if q.edns {
            self.edns_queries += 1;
            self.edns_echoed += u32::from(a.msg.edns);
        }
        if local_name && a.msg.answers.addresses().any(is_bogon) {
            self.serves_local = true;
        }
    }

    /// An answer arrived (noted at once, whatever its verdict later): a
    /// resolver whose every answer, for name after name, comes over a new
    /// path (an anycast resolver moving to another site: another TTL, and
    /// faster when closer) has changed its path; an in-path injector
    /// answers only the names it blocks, between the resolver's own answers.
    fn note_answer(&mut self, ttl: u8, name: &StoredName, ts: Nanos, cfg: &DnsConfig) {
        let h = crate::dns::fnv(name.as_str().as_bytes()) as u32;
        self.shift = match self.shift {
            Some((t, n, last)) if t.abs_diff(ttl) <= cfg.ttl_tolerance => {
                self.shift_span.1 = ts;
                Some((t, if last == h { n } else { n.saturating_add(1) }, h))
            }
            _ => {
                self.shift_span = (ts, ts);
                Some((ttl, 1, h))
            }
        };
        if let Some((t, n, _)) = self.shift {
            if n >= u16::from(cfg.min_baseline) {
                let (since, latest) = self.shift_span;
                if self.moves[1].1 == since && self.moves[1].0 == t {
                    self.moves[1].2 = latest;
                } else {
                    self.moves = [self.moves[1], (t, since, latest)];
                }
            }
        }
    }

    /// It answered question `q` lately (among its last eight questions)
    /// with the same rcode and records as `a`.
    fn said_before(&self, q: &QueryRec, a: &AnswerRec) -> bool {
        let h = question_digest(q);
        self.asked
            .iter()
            .position(|x| *x == h)
            .is_some_and(|i| self.said[i] == answer_digest(a))
    }

    /// The resolver's path has moved to TTL `ttl`: at least `min_baseline`
    /// distinct names in a row were answered over it.
    /// Or an answer over TTL `ttl` at `at` was part of such a run.
    fn path_moved(&self, ttl: u8, at: Nanos, cfg: &DnsConfig) -> bool {
        self.shift.is_some_and(|(t, n, _)| {
            t.abs_diff(ttl) <= cfg.ttl_tolerance && n >= u16::from(cfg.min_baseline)
        }) || self.moves.iter().any(|&(t, since, latest)| {
            since > 0 && t.abs_diff(ttl) <= cfg.ttl_tolerance && since <= at && at <= latest
        })
    }

    /// What the answers since say of a held verdict ([`Held`]).
    fn held_standing(&self, h: &Held, cfg: &DnsConfig) -> Standing {
        match h.took {
            Some(took) => self.speed_standing(h, took, cfg),
            None => self.standing(h.ttl, h.at, cfg),
        }
    }

    /// What the clean answers say of an answer held for its speed (it
    /// took `took`): a clean answer to another name as fast, or a cache
    /// hit after it still more than twice as slow.
    fn speed_standing(&self, h: &Held, took: Nanos, cfg: &DnsConfig) -> Standing {
        if h.sped {
            return Standing::Faster;
        }
        let (hit_at, hit_rtt) = self.last_hit;
        if hit_at > h.at && too_fast(took, hit_rtt, cfg) {
            return Standing::Broken;
        }
        Standing::Open(0)
    }

    /// What the answers since say of a held answer over `ttl` at `at`.
    fn standing(&self, ttl: u8, at: Nanos, cfg: &DnsConfig) -> Standing {
        if self.path_moved(ttl, at, cfg) {
            return Standing::Moved;
        }
        match self.shift {
            Some((t, n, _)) if t.abs_diff(ttl) <= cfg.ttl_tolerance && self.shift_span.0 <= at => {
                Standing::Open(n)
            }
            _ => Standing::Broken,
        }
    }

    /// Notes a clean answer over `ttl` at `ts` in [`DnsServer::paths`]:
    /// the entry of that TTL, or the one learned least lately.
    fn note_path(&mut self, ttl: u8, ts: Nanos) {
        let now = secs(ts);
        if let Some(p) = self.paths.iter_mut().find(|p| p.1 > 0 && p.0 == ttl) {
            p.1 = p.1.saturating_add(1);
            p.2 = now;
            return;
        }
        if let Some(p) = self.paths.iter_mut().min_by_key(|p| (p.1 > 0, p.2)) {
            *p = (ttl, 1, now);
        }
    }

    /// Whether an answer over `ttl` at `ts` came over a path the resolver's
    /// clean answers take: at least `min` of them came over it (within the
    /// tolerance), the latest within [`PATH_MEMORY_SECS`]. A resolver
    /// reached over paths of unequal length balanced per flow (each query a
    /// new source port: an ECMP "diamond", a farm of resolvers behind one
    /// address in two rooms) answers over both in turn, and the most common
    /// recent TTL says only which one is the majority's; an answer over the
    /// other one was `ttl_mismatch`, and with a name that resolves to a
    /// private address in public DNS (Plex's `plex.direct`, nip.io), that
    /// and `bogon_answer` made 0.9 (red-team review, session 26). An
    /// injector's answers raise rules and are not learned, so its path is
    /// never one of these.
    fn on_known_path(&self, ttl: u8, ts: Nanos, cfg: &DnsConfig) -> bool {
        let now = secs(ts);
        self.paths.iter().any(|&(t, n, at)| {
            n >= cfg.min_baseline
                && t.abs_diff(ttl) <= cfg.ttl_tolerance
                && now.abs_diff(at) <= PATH_MEMORY_SECS
        })
    }

    fn recent_ttls(&self) -> &[u8] {
        &self.ttls[..usize::from(self.ttl_n.min(8))]
    }

    /// The most common recent TTL, if the baseline is established.
    fn usual_ttl(&self, min: u8) -> Option<u8> {
        let t = self.recent_ttls();
        if t.len() < usize::from(min) {
            return None;
        }
        let mut best = (0, 0u8);
        for &x in t {
            let c = t.iter().filter(|&&y| y == x).count();
            if c > best.0 {
                best = (c, x);
            }
        }
        Some(best.1)
    }
}

/// The detector.
#[derive(Debug, Default)]
pub struct DnsDetector {
    cfg: DnsConfig,
    /// `cfg.local_zones` as names compare: lower case, without outer dots
    /// (empty zones dropped), made once rather than for every query.
    zones: Vec<Box<[u8]>>,
    /// The message being read, reused so that its 256-byte question name is
    /// written in place rather than copied out of the parser.
    msg: dns::Message,
    /// Resolvers that may hold verdicts (see [`Held`]), in the order they
    /// first held one: looked at when a sweep point reaches `next_due`.
    pending: Vec<IpAddr>,
    /// The earliest deadline of a held verdict (at most: verdicts decided
    /// by answers leave it early).
    next_due: Nanos,
    /// `pending` was filled from the per-server table (a detector made by a
    /// configuration reload finds the verdicts the one before it held).
    indexed: bool,
}

/// How long a path of a resolver's clean answers stays known after the
/// latest of them (see [`DnsServer::on_known_path`]): 10 minutes.
const PATH_MEMORY_SECS: u32 = 600;

/// A packet time in whole seconds, for [`DnsServer::paths`] (times before
/// 1970 are 0; wraps in 2106, and compared by distance).
fn secs(ts: Nanos) -> u32 {
    (ts.max(0) / crate::time::SECOND) as u32
}

/// Resolvers holding verdicts at once, per worker; a verdict that finds no
/// room is decided when its flow ends, as if not held.
pub const PENDING_MAX: usize = 4096;

impl DnsDetector {
    /// A detector with these settings.
    pub fn new(cfg: DnsConfig) -> Self {
        let zones = cfg
            .local_zones
            .iter()
            .map(|z| dns::zone_bytes(z))
            .filter(|z| !z.is_empty())
            .map(Vec::into_boxed_slice)
            .collect();
        DnsDetector {
            cfg,
            zones,
            msg: dns::Message::default(),
            pending: Vec::new(),
            next_due: Nanos::MAX,
            indexed: false,
        }
    }

    fn is_local(&self, name: &StoredName) -> bool {
        name.labels() <= 1 || self.zones.iter().any(|z| name.is_under_lower(z))
    }
}

/// DNS messages of a packet on a port-53 flow: the UDP payload, or the
/// messages (2-byte length prefix) of a TCP segment that holds whole ones.
fn messages<'a>(pkt: &'a Packet<'a>) -> impl Iterator<Item = &'a [u8]> + 'a {
    let (udp, tcp) = match &pkt.l4 {
        Transport::Udp(u) => (Some(u.payload), None),
        Transport::Tcp(t) => (None, Some(t.payload)),
        _ => (None, None),
    };
    let mut rest = tcp.unwrap_or(&[]);
    udp.into_iter().chain(std::iter::from_fn(move || {
        let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let m = rest.get(2..2 + len)?;
        rest = rest.get(2 + len..)?;
        Some(m)
    }))
}

impl DnsDetector {
    /// [`Detector::on_packet`] for a packet of a DNS flow.
    #[inline(never)]
    fn on_dns_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        server: &mut ServerState,
    ) {
        for raw in messages(pkt) {
            let m = &mut self.msg;
            if !dns::parse_into(raw, m) {
                continue;
            }
            let m = &*m;
            if m.opcode() != 0 {
                continue;
            }
            match (dir, m.is_response()) {
                (Dir::ToServer, false) => {
                    let Some(q) = m.question.as_ref() else {
                        continue;
                    };
                    let st = flow.ext.dns.get_or_insert_with(Default::default);
                    if flow.ext.target.is_none() {
                        flow.ext.target = Some(q.name.as_str().into());
                    }
                    // a retransmitted query (same ID and question) is the same query
                    if let Some(x) = st
                        .queries
                        .iter_mut()
                        .find(|x| x.id == m.id && x.name == q.name && x.qtype == q.qtype)
                    {
                        x.resent_at = Some(pkt.ts);
                        continue;
                    }
                    // a resend of a query whose record left before it settled
                    // (a busy socket's) or unanswered (counted unanswered
                    // after 5 s: the stub retries) was counted when first sent
                    let gone = st.gone.find(m.id, q.qtype, q.name.digest());
                    let resend = gone.is_some_and(|i| st.gone.same_on_resend(i));
                    if let Some(i) = gone {
                        // (its record is back)
                        st.gone.remove(i);
                    }
                    if !resend {
                        ctx.stats.dns_queries += 1;
                        super::count_group_target(
                            ctx.watch,
                            ctx.stats,
                            Some(q.name.as_str()),
                            crate::stats::GroupTarget::DnsQuery,
                        );
                    }
                    let rec = QueryRec {
                        id: m.id,
                        name: StoredName::from(&q.name),
                        qtype: q.qtype,
                        ts: pkt.ts,
                        edns: m.edns,
                        first: None,
                        other: None,
                        answers: 0,
                        resent_at: resend.then_some(pkt.ts),
                    };
                    if st.queries.len() == QUERIES_PER_FLOW {
                        // Room for the new query (memory stays bounded): a
                        // record leaves now and is judged as it would be when
                        // the flow ends. The oldest settled one if any (no
                        // more answers expected); else the oldest answered one
                        // (a racing answer may still come: judged, learned
                        // from only with care, see `judge`); else the oldest,
                        // still waiting for its answer
                        // (a busy forwarder's socket), which leaves without a
                        // verdict: it is not known to be unanswered.
                        let now = pkt.ts;
                        let i = st
                            .queries
                            .iter()
                            .position(|x| x.settled(now))
                            .or_else(|| st.queries.iter().position(|x| x.first.is_some()))
                            .unwrap_or(0);
                        let old = st.queries.remove(i);
                        let settled = old.settled(now);
                        st.gone.note(&old, !settled || old.first.is_none());
                        if old.first.is_some() || settled {
                            // (not held: the flow goes on, and may emit)
                            self.judge(ctx, flow, &old, server, settled, None);
                        }
                    }
                    let st = flow.ext.dns.get_or_insert_with(Default::default);
                    if st.queries.len() == st.queries.capacity() {
                        // one more record, not the four a growing Vec of
                        // records this size would take: most flows ask once
                        st.queries.reserve_exact(1);
                    }
                    st.queries.push(rec);
                }
                (Dir::ToClient, true) => {
                    ctx.stats.dns_answers[DnsRcode::of(m.rcode()).idx()] += 1;
                    let Some(st) = flow.ext.dns.as_mut() else {
                        continue;
                    };
                    // the query this answers: same ID and question (a stub
                    // sends A and AAAA with one ID; DNS over TCP reuses IDs),
                    // else the ID alone (an injector may mangle the question)
                    let same_q = |x: &QueryRec| {
                        m.question
                            .as_ref()
                            .is_some_and(|aq| x.name == aq.name && x.qtype == aq.qtype)
                    };
                    let exact = st.queries.iter().position(|x| x.id == m.id && same_q(x));
                    // the answer to a query whose record made room for a
                    // newer one is not another record's by its ID alone
                    let gone = exact.is_none()
                        && m.question.as_ref().is_some_and(|aq| {
                            st.gone.find(m.id, aq.qtype, aq.name.digest()).is_some()
                        });
                    let pos = match exact {
                        Some(i) => Some(i),
                        None if gone => None,
                        None => st.queries.iter().position(|x| x.id == m.id),
                    };
                    let Some(q) = pos.and_then(|i| st.queries.get_mut(i)) else {
                        st.unmatched_answers = st.unmatched_answers.saturating_add(1);
                        continue;
                    };
                    q.answers = q.answers.saturating_add(1);
                    // held verdicts whose hold ended before this answer are
                    // decided on what was known then; the others by what
                    // this answer shows of the resolver's path
                    review_held(&self.cfg, ctx, server, pkt.ts);
                    server
                        .ext
                        .dns
                        .note_answer(pkt.ip.ttl, &q.name, pkt.ts, &self.cfg);
                    review_held(&self.cfg, ctx, server, pkt.ts);
                    let rec = AnswerRec {
                        ts: pkt.ts,
                        ttl: pkt.ip.ttl,
                        ip_id: pkt.ip.ip_id,
                        df: pkt.ip.df,
                        msg: m.reply(),
                        question_ok: same_q(q)
                            && m.question.as_ref().is_some_and(|x| x.qclass == Some(1)),
                        duplicates: 0,
                    };
                    match (&mut q.first, &mut q.other) {
                        (None, _) => q.first = Some(rec),
                        (Some(f), _) if f.same_content(m) => {
                            f.duplicates = f.duplicates.saturating_add(1)
                        }
                        (Some(_), Some(o)) if o.same_content(m) => {
                            o.duplicates = o.duplicates.saturating_add(1)
                        }
                        (Some(_), None) => q.other = Some(Box::new(rec)),
                        (Some(_), Some(_)) => {}
                    }
                }
                _ => {}
            }
        }
    }
}

impl Detector for DnsDetector {
    fn name(&self) -> &'static str {
        "dns_injection"
    }

    fn on_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        server: &mut ServerState,
    ) {
        // Most packets are not DNS: they leave before the body's stack
        // frame (a query record is built on it) is set up.
        if flow.server_port() == 53 {
            self.on_dns_packet(ctx, pkt, flow, dir, server);
        }
    }

    fn on_flow_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        flow: &mut Flow,
        _outcome: FlowOutcome,
        server: &mut ServerState,
    ) {
        let Some(st) = flow.ext.dns.take() else {
            return;
        };
        let mut held = None;
        for q in &st.queries {
            self.judge(ctx, flow, q, server, true, Some(&mut held));
        }
        // (a later query's event, or one withheld, is the flow's one event)
        if let Some(h) = held.filter(|_| !flow.has_emitted(Signature::DnsInjection)) {
            self.hold(ctx, server, h);
        }
    }

    fn on_sweep(&mut self, ctx: &mut Ctx<'_>, at: Nanos, servers: &mut Lru<IpAddr, ServerState>) {
        if !self.indexed {
            self.indexed = true;
            for (ip, s) in servers.iter() {
                if !s.ext.dns.held.is_empty() && self.pending.len() < PENDING_MAX {
                    self.pending.push(*ip);
                    self.next_due = Nanos::MIN;
                }
            }
        }
        if at < self.next_due {
            return;
        }
        let mut next = Nanos::MAX;
        let cfg = &self.cfg;
        self.pending.retain(|ip| {
            let Some(s) = servers.peek_mut(ip) else {
                return false;
            };
            review_held(cfg, ctx, s, at);
            let d = s.ext.dns.held.iter().map(|h| h.deadline).min();
            next = next.min(d.unwrap_or(Nanos::MAX));
            d.is_some()
        });
        self.next_due = next;
    }
}

/// Decides the held verdicts of `server` that its answers decide
/// ([`Standing`]), and those whose hold ended by `ended` on what is known.
fn review_held(cfg: &DnsConfig, ctx: &mut Ctx<'_>, server: &mut ServerState, ended: Nanos) {
    if server.ext.dns.held.is_empty() {
        return;
    }
    let mut held = std::mem::take(&mut server.ext.dns.held);
    held.retain(|h| {
        let st = server.ext.dns.held_standing(h, cfg);
        if matches!(st, Standing::Open(_)) && h.deadline > ended {
            return true;
        }
        decide(ctx, server, h, st);
        false
    });
    server.ext.dns.held = held;
}

/// A held verdict's end: excused as a route move, or reported.
fn decide(ctx: &mut Ctx<'_>, server: &mut ServerState, h: &Held, st: Standing) {
    let excuse = match st {
        Standing::Moved => Some(DnsMoveExcuse::Moved),
        Standing::Faster => Some(DnsMoveExcuse::Faster),
        Standing::Open(n) if n >= QUIET_MOVE_NAMES && !h.beyond_path => Some(DnsMoveExcuse::Quiet),
        _ => None,
    };
    match excuse {
        Some(how) => ctx.stats.dns_moves_excused[how.idx()] += 1,
        None => {
            let e = (*h.event).clone();
            if h.residual {
                crate::detectors::blackhole::note_late_detection(
                    server,
                    e.flow.client_ip,
                    e.flow.server_port,
                    h.last_ts,
                );
            }
            ctx.emit_unattached(e);
        }
    }
}

impl DnsDetector {
    /// The verdict on query `q` of `flow`, which leaves the flow's records
    /// (the flow ended, or a newer query needs its room): counted as
    /// unanswered, or weighed, learned from and perhaps reported. A record
    /// judged before it `settled` (a newer query needed its room while a
    /// racing answer could still come) is learned from only if its one
    /// answer raised no rule, and its time only once the baseline exists:
    /// that answer may be a forged one whose real twin is on its way.
    ///
    /// With `hold` (the flow ended), a verdict resting on path rules alone
    /// is not emitted but built into `hold` (the first of the flow's), for
    /// [`DnsDetector::hold`].
    fn judge(
        &self,
        ctx: &mut Ctx<'_>,
        flow: &mut Flow,
        q: &QueryRec,
        server: &mut ServerState,
        settled: bool,
        hold: Option<&mut Option<Held>>,
    ) {
        let Some(first) = q.first else {
            ctx.stats.dns_unanswered += 1;
            return;
        };
        let (verdict, excused) = self.verdict(q, &first, server);
        if let Some(x) = excused {
            ctx.stats.dns_moves_excused[x.idx()] += 1;
        }
        // Learn the resolver from answers that raised nothing.
        let local = self.is_local(&q.name);
        match &verdict {
            // judged before it settled: learned from only when its one
            // answer raised nothing at all (else a busy socket, whose records
            // all leave young, would never teach the baseline)
            None if !settled => {
                if q.other.is_none() && self.marks(&first, q, server).rules.is_empty() {
                    // its time only once the baseline exists (its TTL and
                    // flags rules live; the fastest time may still be unset
                    // if every earlier answer came through busy sockets, and
                    // this one then sets it unchecked)
                    let known = server.ext.dns.answers >= u32::from(self.cfg.min_baseline);
                    server.ext.dns.learn(&first, q, local, known, &self.cfg)
                }
            }
            _ if !settled => {}
            None => server.ext.dns.learn(&first, q, local, true, &self.cfg),
            Some(v) if v.forged_is_other => server.ext.dns.learn(&first, q, local, true, &self.cfg),
            Some(_) => {
                if let Some(o) = &q.other {
                    server.ext.dns.learn(o, q, local, true, &self.cfg);
                }
            }
        }
        // what it taught may decide a verdict held for its speed (a clean
        // answer as fast as that one)
        review_held(&self.cfg, ctx, server, flow.last_ts);
        if let Some(v) = verdict {
            let mut ev = v.details;
            ev.insert("rules".into(), json!(v.rules));
            ev.insert("query".into(), json!({"name": q.name.as_str(), "type": qtype_name(q.qtype), "id": q.id, "edns": q.edns, "ts": crate::time::rfc3339(q.ts)}));
            ev.insert("resolver".into(), json!(flow.server_ip()));
            // without a race, the one answer is the forged one
            let v4 = flow.server_ip().is_ipv4();
            let mut answers = vec![answer_json(&first, q, !v.forged_is_other, v4)];
            if let Some(o) = &q.other {
                answers.push(answer_json(o, q, v.forged_is_other, v4));
            }
            ev.insert("answers".into(), Value::Array(answers));
            ev.insert("real_answer_arrived".into(), json!(v.race));
            if let Some(b) = baseline_json(&server.ext.dns, self.cfg.min_baseline) {
                ev.insert("baseline".into(), b);
            }
            let target = Some(q.name.as_str().to_string());
            match hold {
                Some(slot) if (v.path_only || v.speed_only) && self.cfg.path_hold > 0 => {
                    // (the flow's first such verdict; a later query's
                    // stronger one is emitted now and replaces it)
                    if slot.is_none() {
                        *slot = ctx
                            .prepare(flow, Signature::DnsInjection, v.confidence, target, ev)
                            .map(|e| Held {
                                event: Box::new(e),
                                ttl: first.ttl,
                                at: first.ts,
                                deadline: first.ts.saturating_add(self.cfg.path_hold),
                                last_ts: flow.last_ts,
                                residual: !flow.ext.bh.residual_hit(),
                                took: v.speed_only.then_some(first.ts - q.ts),
                                name: q.name.digest(),
                                sped: false,
                                beyond_path: v.beyond_path,
                            });
                    }
                }
                // One event per flow and signature: the first query that qualifies.
                _ => {
                    ctx.emit(flow, Signature::DnsInjection, v.confidence, target, ev);
                }
            }
        }
    }

    /// Holds a verdict that rests on path rules alone (its flow ended)
    /// until the resolver's next answers, or the end of the hold, decide
    /// it ([`Held`]); decided at once when the answers since already do,
    /// or when there is no room.
    fn hold(&mut self, ctx: &mut Ctx<'_>, server: &mut ServerState, h: Held) {
        let st = server.ext.dns.held_standing(&h, &self.cfg);
        if !matches!(st, Standing::Open(_)) {
            decide(ctx, server, &h, st);
            return;
        }
        let listed = server.ip.is_some_and(|ip| {
            self.pending.contains(&ip) || {
                let room = self.pending.len() < PENDING_MAX;
                if room {
                    self.pending.push(ip);
                }
                room
            }
        });
        if !listed {
            // no room: decided as if not held (reported)
            decide(ctx, server, &h, Standing::Broken);
            return;
        }
        if server.ext.dns.held.len() >= HELD_MAX {
            // the oldest is decided on what is known
            let old = server.ext.dns.held.remove(0);
            let st = server.ext.dns.held_standing(&old, &self.cfg);
            decide(ctx, server, &old, st);
        }
        self.next_due = self.next_due.min(h.deadline);
        server.ext.dns.held.push(h);
    }
}

struct Verdict {
    /// It came over another path than the resolver's usual one
    /// (`ttl_mismatch`), and nothing but what such a path explains raised
    /// it: `too_fast`, and (`beyond_path`) a relay's other EDNS or flag
    /// habits or a private answer (a name that resolves to one in public
    /// DNS). No race, no fingerprint, no marker, no malformed question. A
    /// vantage point that moved to another network keeps its resolver's
    /// address (a fixed public resolver) but not its path; a gateway that
    /// intercepts DNS answers through its own relay, genuine records with
    /// another TTL and without EDNS. Both were reported on every lookup
    /// until the first three clean answers over the new path, or, for the
    /// relay, for good (red-team review, session 26: 180 events in 8
    /// minutes).
    path_only: bool,
    /// `path_only` with more than path rules (see [`Held::beyond_path`]).
    beyond_path: bool,
    /// Not `path_only`, and it passed only with `too_fast` (no race, no
    /// fingerprint): held for its speed ([`Held::took`]).
    speed_only: bool,
    rules: Vec<&'static str>,
    confidence: f64,
    race: bool,
    forged_is_other: bool,
    details: Map<String, Value>,
}

/// Rule names, kept inline: a query is judged mid-flow when a newer one
/// needs its record's room, and weighing an answer that trips a rule
/// without details (`ip_id_marker`, `edns_dropped`, ...) must not allocate.
#[derive(Default, Clone, Copy)]
struct RuleList {
    n: usize,
    names: [&'static str; 12],
}

impl RuleList {
    fn push(&mut self, rule: &'static str) {
        if let Some(slot) = self.names.get_mut(self.n) {
            *slot = rule;
            self.n += 1;
        }
    }
}

impl std::ops::Deref for RuleList {
    type Target = [&'static str];
    fn deref(&self) -> &[&'static str] {
        &self.names[..self.n]
    }
}

/// What one answer looks like against the resolver and the lists.
#[derive(Default)]
struct Marks {
    rules: RuleList,
    score: f64,
    sufficient: bool,
    details: Map<String, Value>,
}

impl DnsDetector {
    fn marks(&self, a: &AnswerRec, q: &QueryRec, server: &ServerState) -> Marks {
        let mut k = Marks::default();
        let base = &server.ext.dns;
        let local_name = self.is_local(&q.name);
        let add = |k: &mut Marks, rule: &'static str, w: f64| {
            k.rules.push(rule);
            k.score += w;
        };
        let v4 = server.ip.is_some_and(|ip| ip.is_ipv4());
        // Fingerprints.
        for addr in a.msg.answers.addresses() {
            if let Some(fp) = self.cfg.fingerprints.lookup(addr, a.ip_id) {
                if fp.false_positive {
                    k.details
                        .insert("known_false_positive".into(), json!(fp.name));
                    continue;
                }
                if fp.strong() && !local_name {
                    k.sufficient = true;
                    add(&mut k, "known_forged_answer", 0.9);
                } else if !fp.strong() {
                    add(&mut k, "forged_answer_pool", 0.4);
                }
                k.details.insert(
                    "fingerprint".into(),
                    json!({"name": fp.name, "address": addr, "source": fp.source}),
                );
                break;
            }
        }
        // Special-purpose addresses for a public name.
        if !local_name && !k.rules.contains(&"known_forged_answer") {
            if let Some(b) = a.msg.answers.addresses().find(|x| is_bogon(*x)) {
                add(&mut k, "bogon_answer", 0.5);
                k.details.insert("bogon_address".into(), json!(b));
            }
        }
        if let Some(usual) = base.usual_ttl(self.cfg.min_baseline) {
            let d = usual.abs_diff(a.ttl);
            if d > self.cfg.ttl_tolerance && !base.on_known_path(a.ttl, a.ts, &self.cfg) {
                add(&mut k, "ttl_mismatch", 0.4);
                k.details.insert("ttl_usual".into(), json!(usual));
                k.details.insert("ttl_difference".into(), json!(d));
            }
        }
        // A split-horizon server (an Active Directory DNS server) is
        // authoritative for its internal zone under a public-looking name:
        // it answers it with private addresses, AA set and without
        // recursing (fast). That is the local answer, not a second rule.
        let aa_private = a.msg.aa() && a.msg.answers.addresses().any(is_bogon);
        let local_authority = aa_private && (base.serves_local || server.ip.is_some_and(is_bogon));
        // The same on a resolver at a public address: a company's resolver
        // authoritative for its internal names under its public domain, or
        // a filtering resolver answering its blocklist itself (0.0.0.0,
        // AA set) — over the resolver's own path (its usual TTL), so AA is
        // not held against it; its timing still is (an authoritative
        // answer takes about a cache hit's time). Found by the fifth
        // red-team review, session 20 (unbound `local-data`, BIND as
        // primary for a zone, unbound `always_null`).
        let own_authority = aa_private
            && base
                .usual_ttl(self.cfg.min_baseline)
                .is_some_and(|u| u.abs_diff(a.ttl) <= self.cfg.ttl_tolerance);
        if let Some(rtt) = base
            .hit_min
            .filter(|_| base.answers >= u32::from(self.cfg.min_baseline) && !local_authority)
        {
            let took = a.ts - q.ts;
            if too_fast(took, rtt, &self.cfg) {
                add(&mut k, "too_fast", TOO_FAST_WEIGHT);
                k.details.insert("answer_ms".into(), json!(ms(took)));
                k.details
                    .insert("resolver_fastest_ms".into(), json!(ms(rtt)));
            }
        }
        if v4 && matches!(a.ip_id, 30000 | 0x3412) && base.answers > 0 {
            add(&mut k, "ip_id_marker", 0.2);
        }
        if a.msg.qdcount != 1 || !a.question_ok {
            add(&mut k, "malformed_question", 0.3);
        }
        let echoes = base.edns_queries >= u32::from(self.cfg.min_baseline)
            && base.edns_echoed == base.edns_queries;
        if q.edns && !a.msg.edns && echoes {
            add(&mut k, "edns_dropped", 0.2);
        }
        let n = base.answers;
        if n >= u32::from(self.cfg.min_baseline) {
            let aa_always_clear = base.aa == 0;
            let ra_always_set = base.ra == n;
            let authority = local_authority || own_authority;
            if (aa_always_clear && a.msg.aa() && !authority) || (ra_always_set && !a.msg.ra()) {
                add(&mut k, "flags_unlike_resolver", 0.2);
            }
        }
        // A private answer from a resolver that serves local zones, or for a
        // name that could be local, needs a second piece of evidence.
        if *k.rules == ["bogon_answer"] && (base.serves_local || server.ip.is_some_and(is_bogon)) {
            k.details
                .insert("resolver_may_serve_local_zones".into(), json!(true));
        }
        k
    }

    /// The verdict on an answered query, and whether an answer whose only
    /// rules were path rules was excused as the resolver's route moving.
    fn verdict(
        &self,
        q: &QueryRec,
        first: &AnswerRec,
        server: &ServerState,
    ) -> (Option<Verdict>, Option<DnsMoveExcuse>) {
        let mut excused = None;
        (self.verdict_of(q, first, server, &mut excused), excused)
    }

    fn verdict_of(
        &self,
        q: &QueryRec,
        first: &AnswerRec,
        server: &ServerState,
        excused: &mut Option<DnsMoveExcuse>,
    ) -> Option<Verdict> {
        let mf = self.marks(first, q, server);
        if let Some(other) = &q.other {
            // Two different answers to one query: which one is forged?
            let mo = self.marks(other, q, server);
            // The client sent the query again and each copy got an answer
            // that is the resolver's in every respect (its TTL, timing after
            // the copy it answers, flags): an anycast resolver's frontends,
            // or a cache and a fresh lookup, answering a geo-balanced name
            // differently. Not a race.
            //
            // Likewise a resolver's failure (SERVFAIL, REFUSED: no records)
            // for one copy and its answer for the other: an upstream that
            // timed out and then answered, not a forgery (injectors forge
            // answers, not failures), baseline or not. Either way the
            // answers must trip no rule of their own.
            let base = &server.ext.dns;
            let known = base.answers >= u32::from(self.cfg.min_baseline)
                && base.usual_ttl(self.cfg.min_baseline).is_some();
            let retried = q.resent_at.filter(|r| other.ts > *r);
            let answers_copy = retried.is_some_and(|r| {
                base.rtt_min
                    .is_some_and(|m| (other.ts - r) as f64 >= m as f64 * self.cfg.too_fast_share)
            });
            // (a truncated answer with no records is a rate limiter's
            // "slip", BIND/Knot RRL or dnsdist's TC action: a failure too)
            let failure = |a: &AnswerRec| {
                (matches!(a.msg.rcode(), 2 | 5) || a.msg.tc()) && a.msg.answers.count == 0
            };
            let failed_then_answered = retried.is_some() && (failure(first) || failure(other));
            // Both answers came after the client sent the query again (an
            // injector answers the first copy at once, before any stub
            // retries), from one sender by their headers: the same IP TTL
            // and DF, and (IPv4) IP IDs close together, from one counter. A
            // load-balanced resolver answering the copy from another
            // frontend, before any baseline exists (the first lookup after
            // the daemon starts or joins a network: found by the fourth
            // red-team review, session 20).
            let v4 = server.ip.is_some_and(|ip| ip.is_ipv4());
            let ids_close = first
                .ip_id
                .wrapping_sub(other.ip_id)
                .min(other.ip_id.wrapping_sub(first.ip_id))
                <= RESEND_IP_ID_GAP;
            let one_sender = first.ttl == other.ttl && first.df == other.df && (!v4 || ids_close);
            let both_after_resend = retried.is_some_and(|r| first.ts > r);
            if mf.rules.is_empty()
                && mo.rules.is_empty()
                && ((known && answers_copy)
                    || failed_then_answered
                    || (both_after_resend && one_sender))
            {
                return None;
            }
            let forged_is_other = mo.score > mf.score;
            let (fm, _) = if forged_is_other {
                (&mo, &mf)
            } else {
                (&mf, &mo)
            };
            let mut rules = vec!["race"];
            rules.extend(fm.rules.iter().copied());
            let mut details = fm.details.clone();
            details.insert(
                "forged".into(),
                json!({
                    "which": if forged_is_other { "second" } else { "first" },
                    "why": if fm.rules.is_empty() { vec!["arrived first"] } else { fm.rules.to_vec() },
                }),
            );
            let confidence = (0.9 + 0.02 * fm.rules.len() as f64).min(0.99);
            return Some(Verdict {
                path_only: false,
                beyond_path: false,
                speed_only: false,
                rules,
                confidence,
                race: true,
                forged_is_other,
                details,
            });
        }
        let scored = mf
            .rules
            .iter()
            .filter(|r| **r != "malformed_question" || mf.rules.len() > 1)
            .count();
        let may_be_local = mf.details.contains_key("resolver_may_serve_local_zones");
        // Only the path looks new (TTL, timing, and what another relay or
        // a private answer explains: see `Verdict::path_only`), and every
        // name has been answered over that path lately: the resolver's
        // route changed.
        let path_only = mf.rules.contains(&"ttl_mismatch")
            && mf.rules.iter().all(|r| {
                matches!(
                    *r,
                    "ttl_mismatch"
                        | "too_fast"
                        | "edns_dropped"
                        | "flags_unlike_resolver"
                        | "bogon_answer"
                )
            });
        let beyond_path = path_only
            && mf
                .rules
                .iter()
                .any(|r| !matches!(*r, "ttl_mismatch" | "too_fast"));
        let passes =
            mf.sufficient || (!may_be_local && mf.score >= self.cfg.min_score && scored >= 2);
        if path_only && server.ext.dns.path_moved(first.ttl, first.ts, &self.cfg) {
            // (counted when it would have been an event)
            *excused = passes.then_some(DnsMoveExcuse::Moved);
            return None;
        }
        // Only the path looks new, and the answer says what the resolver
        // said to the same question lately over its usual path: whoever
        // sent it, nothing was changed (a route move before a quiet spell
        // whose one lookup was a name asked before: nothing else tells it
        // from an injector's answer, which would say something else).
        if path_only && server.ext.dns.said_before(q, first) {
            *excused = passes.then_some(DnsMoveExcuse::SameAnswer);
            return None;
        }
        if !passes {
            return None;
        }
        let confidence = if mf.sufficient {
            0.9
        } else {
            mf.score.min(0.9)
        };
        let mut details = mf.details;
        details.insert(
            "forged".into(),
            json!({"which": "only", "why": mf.rules.to_vec()}),
        );
        // Without `too_fast` it would not pass: all that makes it an event
        // is its speed against the resolver's fastest cache hit so far.
        let fast = mf.rules.contains(&"too_fast");
        let passes_without = mf.score - TOO_FAST_WEIGHT >= self.cfg.min_score - 1e-9 && scored > 2;
        let speed_only = !path_only && fast && !mf.sufficient && !passes_without;
        Some(Verdict {
            path_only,
            beyond_path,
            speed_only,
            rules: mf.rules.to_vec(),
            confidence,
            race: false,
            forged_is_other: false,
            details,
        })
    }
}

/// One answer as evidence (`v4`: over IPv4; IPv6 has no IP ID and no DF,
/// which are null then).
fn answer_json(a: &AnswerRec, q: &QueryRec, forged: bool, v4: bool) -> Value {
    json!({
        "ts": crate::time::rfc3339(a.ts),
        "after_query_ms": ms(a.ts - q.ts),
        "ip_ttl": a.ttl,
        "ip_id": v4.then_some(a.ip_id),
        "df": v4.then_some(a.df),
        "rcode": DnsRcode::of(a.msg.rcode()).as_str(),
        "aa": a.msg.aa(),
        "ra": a.msg.ra(),
        "tc": a.msg.tc(),
        "edns": a.msg.edns,
        "addresses": a.msg.answers.addresses().collect::<Vec<_>>(),
        "cnames": a.msg.answers.cnames,
        "records": a.msg.answers.count,
        "dns_ttl": a.msg.answers.min_ttl,
        "duplicates": a.duplicates,
        "looks_forged": forged,
    })
}

fn baseline_json(b: &DnsServer, min: u8) -> Option<Value> {
    (b.answers > 0).then(|| {
        json!({
            "answers": b.answers,
            "ttl_usual": b.usual_ttl(min),
            "ttls_recent": b.recent_ttls(),
            "ttl_paths": b.paths.iter().filter(|p| p.1 >= min).map(|p| p.0).collect::<Vec<_>>(),
            "fastest_ms": b.rtt_min.map(ms),
        })
    })
}

fn qtype_name(t: u16) -> Value {
    match t {
        1 => json!("A"),
        28 => json!("AAAA"),
        5 => json!("CNAME"),
        15 => json!("MX"),
        16 => json!("TXT"),
        65 => json!("HTTPS"),
        2 => json!("NS"),
        6 => json!("SOA"),
        12 => json!("PTR"),
        33 => json!("SRV"),
        n => json!(n),
    }
}

fn ms(n: Nanos) -> f64 {
    (n as f64 / 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_record_is_small() {
        // A DNS flow holds one record per query (most ask once): its name
        // inline up to 46 bytes and the rare second answer boxed, so a
        // record is not the 528 bytes of one that kept a 256-byte name and
        // two answers inline.
        let n = std::mem::size_of::<QueryRec>();
        eprintln!(
            "QueryRec {n} bytes, AnswerRec {}",
            std::mem::size_of::<AnswerRec>()
        );
        assert!(n <= 208, "QueryRec is {n} bytes");
    }

    fn name(s: &str) -> StoredName {
        let mut m = vec![];
        for l in s.split('.') {
            m.push(l.len() as u8);
            m.extend(l.as_bytes());
        }
        m.push(0);
        StoredName::from(&crate::dns::read_name(&m, 0).unwrap().0)
    }

    #[test]
    fn local_zones_match_as_configured_in_any_case_and_with_dots() {
        let d = DnsDetector::new(DnsConfig {
            local_zones: vec!["Corp.Example.".into(), ".lan".into(), "".into(), ".".into()],
            ..DnsConfig::default()
        });
        assert!(d.is_local(&name("host.corp.example")));
        assert!(d.is_local(&name("CORP.example")));
        assert!(d.is_local(&name("printer.lan")));
        assert!(d.is_local(&name("single"))); // one label: never sent to the Internet
        assert!(!d.is_local(&name("host.notcorp.example")));
        assert!(!d.is_local(&name("www.example.com")));
        assert!(!d.is_local(&name("lan.example.com")));
    }
}
