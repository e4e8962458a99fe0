//! Bidirectional, oriented flow state and the bounded flow tables.
//!
//! Two tables, both sized up front and never grown:
//! - the *unconfirmed* table holds flows whose server has not answered yet
//!   (bare SYNs, unanswered UDP, mid-stream TCP seen one way): a SYN or UDP
//!   flood from spoofed sources only ever churns this small table;
//! - the *confirmed* table holds flows that both sides took part in.
//!
//! Each table keeps one intrusive LRU list per timeout class, so expiring
//! idle flows costs little per expired flow (see [`Table::stale_at`]), and
//! making room when full takes the least recently seen flow. Keys are
//! hashed with ahash, randomly seeded per process, so spoofed floods cannot
//! aim at hash collisions; nothing that leaves the engine depends on hash
//! order, so output stays deterministic.

use crate::decode::{Packet, TcpInfo, Transport};
use crate::detectors::FlowExt;
use crate::stats::{FlowOutcome, FlowProto, Signature};
use crate::time::Nanos;
use index::FlowIndex;

mod index;

/// Keyed with a random seed per process (ahash): spoofed floods cannot aim at collisions.
type Hasher = ahash::RandomState;
use std::net::IpAddr;

/// Direction of a packet within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server.
    ToServer = 0,
    /// Server to client.
    ToClient = 1,
}

impl Dir {
    /// Index into per-direction arrays.
    pub const fn idx(self) -> usize {
        self as usize
    }
    /// The other direction.
    pub const fn rev(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}

/// Canonical (unordered) flow key: the lower (address, port) first.
/// Addresses are kept as 128-bit integers (IPv4 mapped into IPv6), so that
/// hashing and comparing a key is a few integer operations; each is stored
/// as two 64-bit halves (see [`halves`]), so a key is 8-byte aligned and
/// takes 40 bytes where `u128` fields (16-byte aligned) would take 48.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Lower endpoint address.
    pub lo: [u64; 2],
    /// Higher endpoint address.
    pub hi: [u64; 2],
    /// Lower endpoint port (high 16 bits) and higher endpoint port (low 16 bits).
    pub ports: u32,
    /// IP protocol number (6 or 17).
    pub proto: u8,
    /// Takes two of the padding bytes and gives the key the flow's largest
    /// niche, so that the flow table's `Option<Flow>` keeps its "free slot"
    /// mark inside the key: a lookup then reads one cache line of the slot
    /// (mark and key together), where the compiler had put the mark at the
    /// far end of the 360-byte flow, a second line and often a second miss.
    mark: KeyMark,
}

/// See [`FlowKey`]: a two-byte value with a single valid bit pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
enum KeyMark {
    Live = 1,
}

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.lo.hash(h);
        self.hi.hash(h);
        self.ports.hash(h);
        self.proto.hash(h);
    }
}

/// An address as a 128-bit integer (IPv4 as `::ffff:a.b.c.d`).
pub fn addr_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// A 128-bit address as two 64-bit halves (high first).
pub const fn halves(a: u128) -> [u64; 2] {
    [(a >> 64) as u64, a as u64]
}

/// The 128-bit address from its [`halves`].
pub const fn whole(h: [u64; 2]) -> u128 {
    ((h[0] as u128) << 64) | h[1] as u128
}

impl FlowKey {
    /// Builds the canonical key and says whether (src, sport) is the lower side.
    pub fn new(proto: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> (FlowKey, bool) {
        let (a, b) = (addr_bits(src), addr_bits(dst));
        if (a, sport) <= (b, dport) {
            (
                FlowKey {
                    lo: halves(a),
                    hi: halves(b),
                    ports: (u32::from(sport) << 16) | u32::from(dport),
                    proto,
                    mark: KeyMark::Live,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    lo: halves(b),
                    hi: halves(a),
                    ports: (u32::from(dport) << 16) | u32::from(sport),
                    proto,
                    mark: KeyMark::Live,
                },
                false,
            )
        }
    }
}

/// Ports that identify a server on sight (used to orient flows whose start
/// was not seen, and to shard by server).
pub const SERVICE_PORTS: &[u16] = &[
    21, 22, 25, 53, 80, 110, 123, 143, 443, 465, 587, 853, 993, 995, 1194, 1723, 3478, 5222, 5223,
    5228, 5349, 8080, 8443, 9001, 51820,
];

/// How server-like a port is: 0 well-known service, 1 other system port,
/// 2 registered, 3 ephemeral.
pub fn port_rank(p: u16) -> u8 {
    // A match (a jump table or a few compares) rather than a scan of
    // SERVICE_PORTS: this runs for every frame the dispatcher shards. The
    // unit test below keeps the two the same.
    if matches!(
        p,
        21 | 22
            | 25
            | 53
            | 80
            | 110
            | 123
            | 143
            | 443
            | 465
            | 587
            | 853
            | 993
            | 995
            | 1194
            | 1723
            | 3478
            | 5222
            | 5223
            | 5228
            | 5349
            | 8080
            | 8443
            | 9001
            | 51820
    ) {
        0
    } else if p < 1024 {
        1
    } else if p < 49152 {
        2
    } else {
        3
    }
}

/// Guesses which endpoint is the server from ports alone (a pure function of
/// the unordered endpoints, so every packet of a flow gets the same answer).
/// Returns true when `(a, pa)` looks like the server.
pub fn first_is_server(a: IpAddr, pa: u16, b: IpAddr, pb: u16) -> bool {
    (port_rank(pa), pa, a) < (port_rank(pb), pb, b)
}

/// What one direction of a flow has shown so far: what the detectors read
/// (48 bytes). Optional values are kept as a value and a presence bit (read
/// them with the methods). Times are the flow's (`Flow::first_ts`,
/// `Flow::last_ts`), not per direction.
///
/// Deliberately not kept, because no detector reads them and every byte
/// here is paid for every tracked flow (see docs/architecture.md): the first
/// and smallest TTL, DF history, windows, MSS, the last TCP timestamp value,
/// retransmission counts, the FIN's and the RST's sequence numbers and the
/// RST's time (the flow keeps which side reset first). The RST detector
/// keeps the server's TTL range, IP IDs and DF per flow itself, and the
/// throttling detector its own timestamps and retransmissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirState {
    first_payload_ts: Nanos,
    /// Packets seen.
    pub packets: u32,
    /// Payload bytes (wire length of TCP/UDP payloads; saturates at 4 GiB).
    pub payload_bytes: u32,
    /// TCP: highest sequence number sent plus length (next expected).
    pub next_seq: u32,
    /// TCP: highest acknowledgment number sent.
    pub max_ack: u32,
    isn: u32,
    first_payload_seq: u32,
    /// The last four IPv4 IDs, newest at `ip_ids[ip_id_pos - 1]`.
    pub ip_ids: [u16; 4],
    /// Largest IP TTL / hop limit seen.
    pub ttl_max: u8,
    wscale: u8,
    /// Next write position in `ip_ids` (wraps).
    pub ip_id_pos: u8,
    /// Which optional values are present (`HAS_*`).
    has: u8,
    /// TCP: any ACK seen from this side.
    pub ack_seen: bool,
    /// TCP: the maximum segment size announced in the SYN (what this side
    /// receives at most).
    mss: u16,
}

/// `Flow::emitted`: the flow's events were withheld (see
/// [`Flow::mark_withheld`]); the bits below it are signatures.
const WITHHELD: u8 = 0x80;
const _: () = assert!(Signature::COUNT < 8);

const HAS_ISN: u8 = 1;
const HAS_FIN: u8 = 4;
const HAS_FIRST_PAYLOAD: u8 = 8;
const HAS_MSS: u8 = 16;
const HAS_WSCALE: u8 = 32;

impl DirState {
    #[inline]
    fn some<T>(&self, bit: u8, v: T) -> Option<T> {
        (self.has & bit != 0).then_some(v)
    }

    /// TCP: initial sequence number (from the SYN), if seen.
    pub fn isn(&self) -> Option<u32> {
        self.some(HAS_ISN, self.isn)
    }

    /// TCP: this side sent a FIN.
    pub fn fin_seen(&self) -> bool {
        self.has & HAS_FIN != 0
    }

    /// First payload: time and sequence number.
    pub fn first_payload(&self) -> Option<(Nanos, u32)> {
        self.some(
            HAS_FIRST_PAYLOAD,
            (self.first_payload_ts, self.first_payload_seq),
        )
    }

    /// TCP: window scale announced in the SYN.
    pub fn wscale(&self) -> Option<u8> {
        self.some(HAS_WSCALE, self.wscale)
    }

    /// TCP: maximum segment size announced in the SYN.
    pub fn mss(&self) -> Option<u16> {
        self.some(HAS_MSS, self.mss)
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.has |= bit;
        } else {
            self.has &= !bit;
        }
    }

    fn observe_ip(&mut self, pkt: &Packet<'_>) {
        let ttl = pkt.ip.ttl;
        if self.packets == 0 || ttl > self.ttl_max {
            self.ttl_max = ttl;
        }
        if pkt.ip.version == 4 {
            let pos = usize::from(self.ip_id_pos & 3);
            self.ip_ids[pos] = pkt.ip.ip_id;
            self.ip_id_pos = self.ip_id_pos.wrapping_add(1);
        }
        self.packets = self.packets.saturating_add(1);
    }

    fn observe_tcp(&mut self, t: &TcpInfo<'_>, ts: Nanos) {
        let end = t.seq.wrapping_add(t.seq_len());
        if t.syn() {
            self.isn = t.seq;
            self.set(HAS_ISN, true);
            self.wscale = t.options.wscale.unwrap_or(0);
            self.set(HAS_WSCALE, t.options.wscale.is_some());
            self.mss = t.options.mss.unwrap_or(0);
            self.set(HAS_MSS, t.options.mss.is_some());
            self.next_seq = end;
        } else if self.packets <= 1 && self.has & HAS_ISN == 0 && self.next_seq == 0 {
            // mid-stream start
            self.next_seq = end;
        }
        if seq_gt(end, self.next_seq) {
            self.next_seq = end;
        }
        if t.ack_flag() && (!self.ack_seen || seq_gt(t.ack, self.max_ack)) {
            self.max_ack = t.ack;
            self.ack_seen = true;
        }
        if t.payload_len > 0 && self.has & HAS_FIRST_PAYLOAD == 0 {
            self.first_payload_ts = ts;
            self.first_payload_seq = t.seq;
            self.has |= HAS_FIRST_PAYLOAD;
        }
        if t.fin() {
            self.has |= HAS_FIN;
        }
    }
}

/// `a < b` in 32-bit sequence space.
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a > b` in 32-bit sequence space.
pub fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// TCP connection progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpState {
    /// Only the client's SYN(s) so far.
    #[default]
    SynSent,
    /// The server's SYN/ACK seen.
    SynReceived,
    /// Handshake done (or a flow picked up mid-stream).
    Established,
    /// One side sent FIN.
    Closing,
    /// Both FINs, or an RST: the flow lingers briefly to catch stragglers
    /// (data after an RST is itself evidence).
    Closed,
}

const HS_SYN: usize = 0;
const HS_SYNACK: usize = 1;

/// In `Flow::hs_seen`: the first SYN/ACK carried a TCP timestamp (kept in
/// `Flow::synack_tsval`).
const SYNACK_TS: u8 = 1 << 2;

/// In `Flow::hs_seen`, beside the handshake times' presence bits: see
/// [`Flow::mptcp_join`].
const MPTCP_JOIN: u8 = 1 << 7;

/// One tracked flow.
///
/// `repr(C)` keeps the fields in this order, for the flow table's sake (see
/// [`Slot`]): the key (with the table's free-slot mark, see [`FlowKey`])
/// fills the rest of the slot's first cache line, and what every packet
/// reads or writes (the small fields, the times) comes next, so that finding
/// a flow and checking it is not stale touches two lines, not three; the
/// directions follow, detector state last. 360 bytes, as with the
/// compiler's order; the padding is 3 bytes after `emitted` and 4 after
/// `synack_tsval`.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Flow {
    /// Canonical key.
    pub key: FlowKey,
    /// TCP or UDP.
    pub proto: FlowProto,
    /// The client is the key's lower endpoint (addresses and ports are
    /// read from the key: see [`Flow::client_ip`] and the like).
    client_lo: bool,
    /// IPv6 (else IPv4, kept in the key as `::ffff:a.b.c.d`).
    v6: bool,
    /// How the orientation was decided: true when the start (SYN or first
    /// datagram to a service port) was seen.
    pub oriented_by_start: bool,
    /// TCP state.
    pub tcp: TcpState,
    /// Client SYNs sent (retransmissions included).
    pub syns: u8,
    hs_seen: u8,
    /// Which side sent the first RST (if any).
    pub first_rst: Option<Dir>,
    /// Last packet time.
    pub last_ts: Nanos,
    /// Signatures already emitted for this flow (bit per [`Signature::idx`]).
    pub emitted: u8,
    /// Where the server's entry was in the per-server table last time (a
    /// hint that saves the lookup on the flow's next packet).
    pub server_hint: u32,
    /// First packet time.
    pub first_ts: Nanos,
    /// Handshake times (read with [`Flow::syn_ts`] and the like; 0 until seen,
    /// with a presence bit each in `hs_seen`).
    hs_ts: [Nanos; 2],
    /// The first SYN/ACK's TSval (see [`Flow::synack_tsval`]). (Its 8 bytes
    /// held the time of the client's ACK that completed the handshake until
    /// 2026-12-08, which no detector read; 4 of them are spare now.)
    synack_tsval: u32,
    /// Per direction state, indexed by [`Dir::idx`].
    pub dirs: [DirState; 2],
    /// Detector-owned per-flow state.
    pub ext: FlowExt,
}

impl Flow {
    fn new(
        key: FlowKey,
        proto: FlowProto,
        client: (IpAddr, u16),
        by_start: bool,
        ts: Nanos,
    ) -> Flow {
        let lo_port = (key.ports >> 16) as u16;
        Flow {
            key,
            proto,
            client_lo: addr_bits(client.0) == whole(key.lo) && client.1 == lo_port,
            v6: client.0.is_ipv6(),
            oriented_by_start: by_start,
            first_ts: ts,
            last_ts: ts,
            dirs: [DirState::default(); 2],
            tcp: TcpState::SynSent,
            syns: 0,
            hs_ts: [0; 2],
            synack_tsval: 0,
            hs_seen: 0,
            first_rst: None,
            emitted: 0,
            server_hint: u32::MAX,
            ext: FlowExt::default(),
        }
    }

    fn ip_of(&self, bits: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(bits.into())
        } else {
            IpAddr::V4((bits as u32).into())
        }
    }

    /// The client's (address bits, port) and the server's.
    fn ends(&self) -> ((u128, u16), (u128, u16)) {
        let lo = (whole(self.key.lo), (self.key.ports >> 16) as u16);
        let hi = (whole(self.key.hi), self.key.ports as u16);
        if self.client_lo {
            (lo, hi)
        } else {
            (hi, lo)
        }
    }

    /// Client address.
    pub fn client_ip(&self) -> IpAddr {
        self.ip_of(self.ends().0 .0)
    }

    /// Client port.
    pub fn client_port(&self) -> u16 {
        self.ends().0 .1
    }

    /// Server address.
    pub fn server_ip(&self) -> IpAddr {
        self.ip_of(self.ends().1 .0)
    }

    /// Server port.
    pub fn server_port(&self) -> u16 {
        self.ends().1 .1
    }

    /// Direction of a packet from `src`/`sport`.
    pub fn dir_of(&self, src: IpAddr, sport: u16) -> Dir {
        if self.ends().0 == (addr_bits(src), sport) {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    /// State of one direction.
    pub fn dir(&self, d: Dir) -> &DirState {
        &self.dirs[d.idx()]
    }

    /// The client's SYN carried a Multipath TCP `MP_JOIN`: the flow is a
    /// subflow added to an MPTCP connection (over a second interface, or to
    /// an address or port the server announced), which the connection
    /// does without when its path fails.
    pub fn mptcp_join(&self) -> bool {
        self.hs_seen & MPTCP_JOIN != 0
    }

    fn hs(&self, i: usize) -> Option<Nanos> {
        (self.hs_seen & (1 << i) != 0).then(|| self.hs_ts[i])
    }

    /// Sets handshake time `i` unless it was already (`overwrite`: always).
    fn set_hs(&mut self, i: usize, ts: Nanos, overwrite: bool) {
        if overwrite || self.hs_seen & (1 << i) == 0 {
            self.hs_ts[i] = ts;
            self.hs_seen |= 1 << i;
        }
    }

    /// Time of the client's latest SYN before the SYN/ACK: a retransmitted
    /// SYN moves it, so that the handshake RTT is not inflated by the
    /// retransmission timeout.
    pub fn syn_ts(&self) -> Option<Nanos> {
        self.hs(HS_SYN)
    }

    /// Time of the first SYN/ACK.
    pub fn synack_ts(&self) -> Option<Nanos> {
        self.hs(HS_SYNACK)
    }

    /// The server's TCP timestamp (TSval) on the first SYN/ACK, which came
    /// at [`Flow::synack_ts`]: the server's clock at a moment when no queue
    /// held the connection's packets yet (the handshake's RTT is the
    /// reference of every later one). `None` when it carried none.
    pub fn synack_tsval(&self) -> Option<u32> {
        (self.hs_seen & SYNACK_TS != 0).then_some(self.synack_tsval)
    }

    /// The handshake round-trip time as seen at the vantage point
    /// (SYN to SYN/ACK: the path to the server and back, when the vantage
    /// point is the client).
    /// (None beyond an hour: no handshake takes that long, only a capture's
    /// times jumping; detectors double and add RTTs.)
    pub fn handshake_rtt(&self) -> Option<Nanos> {
        match (self.syn_ts(), self.synack_ts()) {
            (Some(a), Some(b)) => {
                let rtt = b.checked_sub(a)?;
                (0..=3_600 * crate::time::SECOND)
                    .contains(&rtt)
                    .then_some(rtt)
            }
            _ => None,
        }
    }

    /// Whether the server ever sent anything.
    pub fn server_answered(&self) -> bool {
        self.dirs[Dir::ToClient.idx()].packets > 0
    }

    /// Whether `sig` was already emitted for this flow.
    pub fn has_emitted(&self, sig: Signature) -> bool {
        self.emitted & (1 << sig.idx()) != 0
    }

    /// Marks `sig` as emitted; returns false when it already was.
    pub fn mark_emitted(&mut self, sig: Signature) -> bool {
        let had = self.has_emitted(sig);
        self.emitted |= 1 << sig.idx();
        !had
    }

    /// Marks the flow's events as withheld (a captive portal): they count
    /// as emitted (one per signature), not as detections.
    pub(crate) fn mark_withheld(&mut self) {
        self.emitted |= WITHHELD;
    }

    /// Whether an event of any signature was emitted for the flow (not
    /// withheld).
    pub fn detected(&self) -> bool {
        self.emitted != 0 && self.emitted & WITHHELD == 0
    }

    /// Updates the flow with a packet of direction `d`.
    pub(crate) fn observe(&mut self, pkt: &Packet<'_>, d: Dir) {
        self.last_ts = self.last_ts.max(pkt.ts);
        let ds = &mut self.dirs[d.idx()];
        ds.observe_ip(pkt);
        match &pkt.l4 {
            Transport::Tcp(t) => {
                ds.observe_tcp(t, pkt.ts);
                ds.payload_bytes = ds.payload_bytes.saturating_add(t.payload_len);
                self.advance_tcp(t, d, pkt.ts);
            }
            Transport::Udp(u) => {
                let n = u32::try_from(u.payload.len()).unwrap_or(u32::MAX);
                ds.payload_bytes = ds.payload_bytes.saturating_add(n);
            }
            _ => {}
        }
    }

    fn advance_tcp(&mut self, t: &TcpInfo<'_>, d: Dir, ts: Nanos) {
        if t.rst() {
            if self.first_rst.is_none() {
                self.first_rst = Some(d);
            }
            self.tcp = TcpState::Closed;
            return;
        }
        match (d, t.syn(), t.ack_flag()) {
            (Dir::ToServer, true, false) => {
                self.syns = self.syns.saturating_add(1);
                if t.options.mptcp_join {
                    self.hs_seen |= MPTCP_JOIN;
                }
                // a retransmitted SYN (before any SYN/ACK) restarts the
                // handshake clock: the SYN/ACK answers the latest SYN
                let retry = self.hs(HS_SYNACK).is_none();
                self.set_hs(HS_SYN, ts, retry);
            }
            (Dir::ToClient, true, true) => {
                if self.synack_ts().is_none() {
                    if let Some((v, _)) = t.options.timestamps {
                        self.synack_tsval = v;
                        self.hs_seen |= SYNACK_TS;
                    }
                }
                self.set_hs(HS_SYNACK, ts, false);
                if self.tcp == TcpState::SynSent {
                    self.tcp = TcpState::SynReceived;
                }
            }
            (Dir::ToServer, false, true) if self.tcp == TcpState::SynReceived => {
                self.tcp = TcpState::Established;
            }
            (_, false, _) if self.tcp == TcpState::SynSent && self.syns == 0 => {
                // picked up mid-stream
                self.tcp = TcpState::Established;
            }
            _ => {}
        }
        if self.dirs[0].fin_seen() && self.dirs[1].fin_seen() {
            self.tcp = TcpState::Closed;
        } else if t.fin() && matches!(self.tcp, TcpState::Established | TcpState::SynReceived) {
            self.tcp = TcpState::Closing;
        }
    }

    /// The outcome if the flow ended now (`evicted`/`unfinished` are decided
    /// by the caller).
    pub fn outcome(&self) -> FlowOutcome {
        match self.proto {
            FlowProto::Udp => {
                if self.server_answered() {
                    FlowOutcome::Answered
                } else {
                    FlowOutcome::Unanswered
                }
            }
            FlowProto::Tcp => {
                if self.dirs[0].fin_seen() && self.dirs[1].fin_seen() {
                    return FlowOutcome::Closed;
                }
                match self.first_rst {
                    Some(Dir::ToServer) => FlowOutcome::ResetByClient,
                    Some(Dir::ToClient) if self.synack_ts().is_none() && self.syns > 0 => {
                        FlowOutcome::Refused
                    }
                    Some(Dir::ToClient) => FlowOutcome::ResetByServer,
                    None => match self.tcp {
                        TcpState::SynSent if !self.server_answered() => {
                            FlowOutcome::HandshakeTimeout
                        }
                        TcpState::Closing | TcpState::Closed => FlowOutcome::Closed,
                        _ => FlowOutcome::IdleTimeout,
                    },
                }
            }
        }
    }

    /// Flow as it appears in events.
    pub fn event_flow(&self) -> crate::event::EventFlow {
        crate::event::EventFlow {
            proto: match self.proto {
                FlowProto::Tcp => crate::event::Transport::Tcp,
                FlowProto::Udp => crate::event::Transport::Udp,
            },
            client_ip: self.client_ip(),
            client_port: self.client_port(),
            server_ip: self.server_ip(),
            server_port: self.server_port(),
        }
    }

    /// The idle-timeout class this flow is in now.
    fn class(&self, confirmed: bool) -> Class {
        match (self.proto, confirmed) {
            (FlowProto::Udp, false) => Class::UdpUnanswered,
            (FlowProto::Udp, true) => Class::Udp,
            // started by a SYN (counted in `syns` only once observed)
            (FlowProto::Tcp, false) if self.oriented_by_start || self.syns > 0 => {
                Class::TcpUnconfirmed
            }
            (FlowProto::Tcp, false) => Class::TcpMidstream,
            (FlowProto::Tcp, true) => match self.tcp {
                TcpState::Closed => Class::TcpClosed,
                TcpState::Closing => Class::TcpClosing,
                TcpState::SynSent | TcpState::SynReceived => Class::TcpHandshake,
                TcpState::Established => Class::TcpEstablished,
            },
        }
    }

    /// Orientation for a first packet. Returns (client, by_start); the server
    /// is the other endpoint of the key.
    fn orient(pkt: &Packet<'_>, sport: u16, dport: u16) -> ((IpAddr, u16), bool) {
        let src = (pkt.ip.src, sport);
        let dst = (pkt.ip.dst, dport);
        match &pkt.l4 {
            Transport::Tcp(t) if t.syn() && !t.ack_flag() => (src, true),
            Transport::Tcp(t) if t.syn() && t.ack_flag() => (dst, true),
            Transport::Udp(_) => {
                let (rs, rd) = (port_rank(sport), port_rank(dport));
                if rd == 0 || rd < rs {
                    (src, true)
                } else if rs == 0 || rs < rd {
                    (dst, false)
                } else {
                    (src, true)
                }
            }
            _ => {
                if first_is_server(src.0, src.1, dst.0, dst.1) {
                    (dst, false)
                } else {
                    (src, false)
                }
            }
        }
    }
}

/// Idle-timeout classes; each has its own LRU list and timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    TcpUnconfirmed = 0,
    UdpUnanswered = 1,
    TcpHandshake = 2,
    TcpEstablished = 3,
    TcpClosing = 4,
    TcpClosed = 5,
    Udp = 6,
    /// TCP picked up from a data segment (no SYN seen), not answered yet.
    TcpMidstream = 7,
}
const CLASSES: usize = 8;

/// Flow-table limits and idle timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// Maximum confirmed flows.
    pub max_flows: usize,
    /// Maximum unconfirmed flows (bare SYNs, unanswered UDP, one-way TCP).
    pub max_unconfirmed: usize,
    /// Unconfirmed TCP (SYNs unanswered) gives up after this idle time.
    pub tcp_unconfirmed_timeout: Nanos,
    /// Handshake in progress (SYN/ACK seen, no ACK yet).
    pub tcp_handshake_timeout: Nanos,
    /// Established TCP flows idle this long are finished.
    pub tcp_established_timeout: Nanos,
    /// After one FIN.
    pub tcp_closing_timeout: Nanos,
    /// After both FINs or an RST: how long to keep watching for stragglers.
    pub tcp_closed_linger: Nanos,
    /// UDP flows (answered or not).
    pub udp_timeout: Nanos,
}

impl Default for FlowConfig {
    fn default() -> Self {
        use crate::time::SECOND;
        FlowConfig {
            max_flows: 131_072,
            max_unconfirmed: 32_768,
            tcp_unconfirmed_timeout: 75 * SECOND,
            tcp_handshake_timeout: 30 * SECOND,
            tcp_established_timeout: 600 * SECOND,
            tcp_closing_timeout: 60 * SECOND,
            tcp_closed_linger: 10 * SECOND,
            udp_timeout: 30 * SECOND,
        }
    }
}

impl FlowConfig {
    /// The longest idle timeout of any class.
    pub fn longest_timeout(&self) -> Nanos {
        ALL_CLASSES
            .iter()
            .map(|&c| self.timeout(c))
            .max()
            .unwrap_or(0)
    }

    fn timeout(&self, c: Class) -> Nanos {
        match c {
            Class::TcpUnconfirmed | Class::TcpMidstream => self.tcp_unconfirmed_timeout,
            Class::UdpUnanswered | Class::Udp => self.udp_timeout,
            Class::TcpHandshake => self.tcp_handshake_timeout,
            Class::TcpEstablished => self.tcp_established_timeout,
            Class::TcpClosing => self.tcp_closing_timeout,
            Class::TcpClosed => self.tcp_closed_linger,
        }
    }
}

const NIL: u32 = u32::MAX;

/// Bytes of the index of a table of `slots` flows.
pub(crate) fn index_bytes(slots: usize) -> usize {
    FlowIndex::buckets_for(slots) * std::mem::size_of::<u64>()
}

impl Class {
    /// 0: unconfirmed (the server has not answered), 1: confirmed.
    const fn group(self) -> usize {
        match self {
            Class::TcpUnconfirmed | Class::TcpMidstream | Class::UdpUnanswered => 0,
            _ => 1,
        }
    }
}

/// 64-byte aligned and `repr(C)`: the list links (24 bytes, read with every
/// packet to decide whether to move the flow up its list) and the flow's
/// key share the first cache line, and a slot takes exactly six lines.
/// (Not eight: a 512-byte slot was 13% slower with 50,000 flows, probably
/// because a power-of-two stride crowds every slot's first line into a few
/// cache sets; 448 bytes was as fast as 384. docs/performance.md, session 14.)
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Slot {
    /// The flow's `last_ts` when it was last moved to the front of its list.
    linked_ts: Nanos,
    prev: u32,
    next: u32,
    class: Class,
    flow: Option<Flow>,
}

/// A flow is moved to the front of its LRU list at most this often (packet
/// time): moving touches three other slots, and doing it for every packet
/// costs more cache misses than the rest of the flow work. Lists are thus
/// only roughly ordered: whether a flow has ended, and its end time, still
/// depend only on its own `last_ts` (checked on its next packet), but the
/// sweep may release an idle flow up to one timeout late.
const RELINK_EVERY: Nanos = crate::time::SECOND;

/// How far a flow's packet may lag the latest packet time and still keep
/// the lists exact for [`Table::stale_at`]. A flow is linked at its own last
/// packet time, but never below the latest time seen less this: captures
/// jitter (a packet stamped a few microseconds before the one before it),
/// and a list ordered by link time to within this slack is walked this much
/// further. A packet that lags more can make its flow end up to its lag
/// late (docs/architecture.md: for captures in time order).
pub(crate) const LINK_SLACK: Nanos = 100 * crate::time::MILLI;

/// Flows one sweep can end without its list growing (16 bytes each).
const SWEEP_RESERVE: usize = 1024;

/// The flow slab: one index, one slot array, per-class LRU lists, and a
/// capacity per group (unconfirmed / confirmed). Storage is allocated once;
/// confirming a flow only moves it to another list.
#[derive(Debug)]
pub(crate) struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slot numbers and hash tags (8 bytes an entry): keys are compared in
    /// the slots.
    index: FlowIndex,
    hasher: Hasher,
    head: [u32; CLASSES],
    tail: [u32; CLASSES],
    count: [usize; 2],
    /// Flows per class.
    per_class: [usize; CLASSES],
    cap: [usize; 2],
    /// The latest packet time the engine has seen (see [`LINK_SLACK`]).
    clock: Nanos,
}

impl Table {
    pub(crate) fn new(cap_unconfirmed: usize, cap_confirmed: usize) -> Table {
        let cap = [cap_unconfirmed.max(1), cap_confirmed.max(1)];
        let total = cap[0] + cap[1];
        // Reserved now, so the table never reallocates; pages are touched
        // only as slots are first used, so a quiet vantage point stays small.
        Table {
            slots: Vec::with_capacity(total),
            free: Vec::with_capacity(total),
            index: FlowIndex::with_capacity(total),
            hasher: Hasher::new(),
            head: [NIL; CLASSES],
            tail: [NIL; CLASSES],
            count: [0; 2],
            per_class: [0; CLASSES],
            cap,
            clock: Nanos::MIN,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn get(&self, k: &FlowKey) -> Option<u32> {
        let slots = &self.slots;
        self.index.find(self.hasher.hash_one(k), |i| {
            slots
                .get(i as usize)
                .and_then(|s| s.flow.as_ref())
                .is_some_and(|f| f.key == *k)
        })
    }

    pub(crate) fn flow_mut(&mut self, i: u32) -> Option<&mut Flow> {
        self.slots.get_mut(i as usize).and_then(|s| s.flow.as_mut())
    }

    /// Looking a flow up ahead of time, step 1: its index bucket.
    pub(crate) fn prefetch_bucket(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// Step 2: the whole slot the bucket names (reads the bucket, which
    /// step 1 should have brought; never reads the slot itself, which would
    /// wait for it).
    pub(crate) fn prefetch_slot(&self, hash: u64) {
        if let Some(s) = self
            .candidate(hash)
            .and_then(|i| self.slots.get(i as usize))
        {
            tw_hint::prefetch(s);
        }
    }

    /// The slot [`Table::prefetch_slot`] asks for.
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        self.index.candidate(hash)
    }

    pub(crate) fn hash_of(&self, k: &FlowKey) -> u64 {
        self.hasher.hash_one(k)
    }

    pub(crate) fn flow(&self, i: u32) -> Option<&Flow> {
        self.slots.get(i as usize).and_then(|s| s.flow.as_ref())
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next, class) = match self.slots.get(i as usize) {
            Some(s) => (s.prev, s.next, s.class as usize),
            None => return,
        };
        if prev == NIL {
            self.head[class] = next;
        } else if let Some(p) = self.slots.get_mut(prev as usize) {
            p.next = next;
        }
        if next == NIL {
            self.tail[class] = prev;
        } else if let Some(n) = self.slots.get_mut(next as usize) {
            n.prev = prev;
        }
    }

    fn push_front(&mut self, i: u32, class: Class) {
        let c = class as usize;
        let old = self.head[c];
        if let Some(s) = self.slots.get_mut(i as usize) {
            s.prev = NIL;
            s.next = old;
            s.class = class;
        }
        if old == NIL {
            self.tail[c] = i;
        } else if let Some(o) = self.slots.get_mut(old as usize) {
            o.prev = i;
        }
        self.head[c] = i;
    }

    /// Marks `i` as just used, in `class` (which may change its group).
    pub(crate) fn touch(&mut self, i: u32, class: Class) {
        let Some(s) = self.slots.get_mut(i as usize) else {
            return;
        };
        let old = s.class;
        let last = s.flow.as_ref().map_or(0, |f| f.last_ts);
        if old == class && last.saturating_sub(s.linked_ts) < RELINK_EVERY {
            return;
        }
        s.linked_ts = last.max(self.clock.saturating_sub(LINK_SLACK));
        if self.head[class as usize] == i {
            return;
        }
        self.unlink(i);
        if old != class {
            self.per_class[old as usize] = self.per_class[old as usize].saturating_sub(1);
            self.per_class[class as usize] += 1;
        }
        if old.group() != class.group() {
            self.count[old.group()] = self.count[old.group()].saturating_sub(1);
            self.count[class.group()] += 1;
        }
        self.push_front(i, class);
    }

    /// Inserts a flow; the caller made room in the class's group first.
    pub(crate) fn insert(&mut self, flow: Flow, class: Class) -> Option<u32> {
        let i = match self.free.pop() {
            Some(i) => i,
            None if self.slots.len() < self.slots.capacity() => {
                self.slots.push(Slot {
                    flow: None,
                    prev: NIL,
                    next: NIL,
                    class,
                    linked_ts: 0,
                });
                (self.slots.len() - 1) as u32
            }
            None => return None,
        };
        let hash = self.hasher.hash_one(flow.key);
        // Sized for every slot, the index never fills nor reallocates; were
        // it to refuse, the flow would be unreachable: it is not kept.
        if !self.index.insert(hash, i) {
            self.free.push(i);
            return None;
        }
        let floor = self.clock.saturating_sub(LINK_SLACK);
        if let Some(s) = self.slots.get_mut(i as usize) {
            s.linked_ts = flow.last_ts.max(floor);
            s.flow = Some(flow);
        }
        self.count[class.group()] += 1;
        self.per_class[class as usize] += 1;
        self.push_front(i, class);
        Some(i)
    }

    pub(crate) fn remove(&mut self, i: u32) -> Option<Flow> {
        let slot = self.slots.get_mut(i as usize)?;
        let flow = slot.flow.take()?;
        let c = slot.class as usize;
        let g = slot.class.group();
        self.unlink(i);
        self.count[g] = self.count[g].saturating_sub(1);
        self.per_class[c] = self.per_class[c].saturating_sub(1);
        self.index.remove(self.hasher.hash_one(flow.key), i);
        self.free.push(i);
        Some(flow)
    }

    /// Whether the group of `class` is at capacity.
    pub(crate) fn is_full(&self, class: Class) -> bool {
        let g = class.group();
        self.count[g] >= self.cap[g]
    }

    /// The flow to evict when the group of `class` is full: the least
    /// recently seen one, except in the unconfirmed group, where the oldest
    /// of whichever kind (bare SYNs, one-way data segments picked up without
    /// their SYN, unanswered datagrams) holds most of the table goes: a
    /// spoofed SYN flood then pushes out only its own SYNs, not the DNS
    /// queries waiting for their answers nor the real connections whose SYN
    /// it already pushed out (picked up again from their data); a flood of
    /// data segments or datagrams only its own kind.
    pub(crate) fn oldest(&self, class: Class) -> Option<u32> {
        if class.group() == 0 {
            let kinds = [
                Class::TcpUnconfirmed,
                Class::TcpMidstream,
                Class::UdpUnanswered,
            ];
            let mut victim = kinds[0];
            for k in kinds {
                if self.per_class[k as usize] > self.per_class[victim as usize] {
                    victim = k;
                }
            }
            let tail = self.tail[victim as usize];
            if tail != NIL {
                return Some(tail);
            }
        }
        ALL_CLASSES
            .iter()
            .filter(|c| c.group() == class.group())
            .map(|&c| self.tail[c as usize])
            .filter(|&t| t != NIL)
            .filter_map(|t| Some((self.flow(t)?.last_ts, t)))
            .min()
            .map(|(_, t)| t)
    }

    /// When the flow in slot `i` became stale, if it is at `now`.
    pub(crate) fn stale_since(&self, i: u32, now: Nanos, cfg: &FlowConfig) -> Option<Nanos> {
        let s = self.slots.get(i as usize)?;
        let f = s.flow.as_ref()?;
        let timeout = cfg.timeout(s.class);
        (now.saturating_sub(f.last_ts) > timeout).then(|| f.last_ts.saturating_add(timeout))
    }

    /// Every flow stale at `g` (idle past its class timeout), with the time
    /// it became stale (`last_ts + timeout`), appended to `out` in no
    /// particular order.
    ///
    /// A flow is linked at its last packet time, floored at the latest time
    /// seen less [`LINK_SLACK`]; the engine's clock only goes up, so along a
    /// class's list from its tail each `linked_ts` is at least the one
    /// before less the slack, and (unless its packet lagged by more than
    /// the slack) a flow's `last_ts` is never below its `linked_ts`. The walk
    /// from the tail therefore stops at the first flow whose `linked_ts`,
    /// less the slack, is too recent for any flow after it to be stale.
    /// Flows used since they were linked (less than [`RELINK_EVERY`] later,
    /// or their own packet would have relinked them) are looked at and left
    /// in place until they are stale. So the set is exact: it depends on the
    /// flows alone, not on when earlier sweeps ran (which differs between
    /// one worker and several).
    pub(crate) fn stale_at(&self, g: Nanos, cfg: &FlowConfig, out: &mut Vec<(Nanos, u32)>) {
        for c in ALL_CLASSES {
            let timeout = cfg.timeout(c);
            let mut t = self.tail[c as usize];
            while let Some(s) = self.slots.get(t as usize) {
                if let Some(f) = &s.flow {
                    if g.saturating_sub(f.last_ts) > timeout {
                        out.push((f.last_ts.saturating_add(timeout), t));
                    }
                }
                if g.saturating_sub(s.linked_ts.saturating_sub(LINK_SLACK)) <= timeout {
                    break;
                }
                t = s.prev;
            }
        }
    }

    /// Every occupied slot (for finishing at end of input), oldest first
    /// by first packet time, so the order is deterministic (ties, rare, are
    /// broken by the flow key). Returns (first packet time, slot).
    ///
    /// 16 bytes a flow, allocated once at the exact size: the end of input
    /// is when the table is fullest, and this list must not set the peak.
    /// (It held the key too, 64 bytes a flow in a `Vec` grown by doubling:
    /// 8 MiB, 7% of the peak RSS, at the end of a replay holding 106,000
    /// flows.)
    pub(crate) fn all_slots(&self) -> Vec<(Nanos, u32)> {
        let mut v: Vec<(Nanos, u32)> = Vec::with_capacity(self.len());
        v.extend(
            self.slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.flow.as_ref().map(|f| (f.first_ts, i as u32))),
        );
        self.sort_by_time_then_key(&mut v);
        v
    }

    /// Sorts (time, slot) pairs by time, ties by the slots' flow keys: an
    /// order that depends on the flows alone.
    fn sort_by_time_then_key(&self, v: &mut [(Nanos, u32)]) {
        let key = |i: u32| {
            self.slots
                .get(i as usize)
                .and_then(|s| s.flow.as_ref())
                .map(|f| FlowKeyOrd::of(&f.key))
        };
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(&key(b.1))));
    }
}

const ALL_CLASSES: [Class; CLASSES] = [
    Class::TcpUnconfirmed,
    Class::UdpUnanswered,
    Class::TcpHandshake,
    Class::TcpEstablished,
    Class::TcpClosing,
    Class::TcpClosed,
    Class::Udp,
    Class::TcpMidstream,
];

/// A total order on keys (for deterministic tie-breaking only).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FlowKeyOrd(u8, u128, u128, u32);
impl FlowKeyOrd {
    fn of(k: &FlowKey) -> Self {
        FlowKeyOrd(k.proto, whole(k.lo), whole(k.hi), k.ports)
    }
}

/// Why a flow left the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndCause {
    /// Idle past its timeout: the time it became stale (`last_ts` plus the
    /// timeout of its class), whenever a sweep or a packet found it so.
    Idle(Nanos),
    Evicted(crate::stats::EvictionReason),
    /// A new connection (new SYN, new ISN) reused the 4-tuple.
    Replaced,
    EndOfInput,
}

/// The flow table of one worker: unconfirmed flows (the server has not
/// answered: bare SYNs, unanswered UDP, one-way TCP) and confirmed flows
/// have separate capacities, so a spoofed SYN or UDP flood only churns the
/// unconfirmed share.
#[derive(Debug)]
pub struct FlowTables {
    pub(crate) cfg: FlowConfig,
    pub(crate) table: Table,
    /// The flows a sweep ends (kept for the next sweep, so that sweeps do
    /// not allocate once it is large enough).
    due: Vec<(Nanos, u32)>,
}

/// What [`FlowTables::lookup_or_create`] decided for a packet.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The flow's slot.
    Found(u32),
    /// A packet that must not create state (lone RST, FIN, ...).
    Untracked,
}

impl FlowTables {
    /// Empty tables sized from `cfg` (allocated now, never grown).
    pub fn new(cfg: FlowConfig) -> FlowTables {
        FlowTables {
            table: Table::new(cfg.max_unconfirmed, cfg.max_flows),
            cfg,
            due: Vec::with_capacity(SWEEP_RESERVE),
        }
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// The latest packet time seen (it only goes up; see [`LINK_SLACK`]).
    pub(crate) fn note_time(&mut self, now: Nanos) {
        self.table.clock = self.table.clock.max(now);
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn flow_mut(&mut self, slot: u32) -> Option<&mut Flow> {
        self.table.flow_mut(slot)
    }

    /// The slot of an existing flow.
    pub(crate) fn find(&self, key: &FlowKey) -> Option<u32> {
        self.table.get(key)
    }

    fn make_room(&mut self, class: Class, on_evict: &mut dyn FnMut(Flow, EndCause)) {
        if self.table.is_full(class) {
            if let Some(old) = self.table.oldest(class) {
                if let Some(f) = self.table.remove(old) {
                    let reason = if class.group() == 0 {
                        crate::stats::EvictionReason::HalfOpenFull
                    } else {
                        crate::stats::EvictionReason::TableFull
                    };
                    on_evict(f, EndCause::Evicted(reason));
                }
            }
        }
    }

    /// The hash under which a packet's flow is found (None: not TCP/UDP).
    pub(crate) fn hash_of_packet(&self, pkt: &Packet<'_>) -> Option<u64> {
        let (p, sport, dport) = match &pkt.l4 {
            Transport::Tcp(t) => (6, t.sport, t.dport),
            Transport::Udp(u) => (17, u.sport, u.dport),
            _ => return None,
        };
        let (key, _) = FlowKey::new(p, pkt.ip.src, sport, pkt.ip.dst, dport);
        Some(self.table.hash_of(&key))
    }

    /// See [`Table::prefetch_bucket`].
    pub(crate) fn prefetch_bucket(&self, hash: u64) {
        self.table.prefetch_bucket(hash);
    }

    /// See [`Table::prefetch_slot`].
    pub(crate) fn prefetch_slot(&self, hash: u64) {
        self.table.prefetch_slot(hash);
    }

    /// See [`Table::candidate`].
    #[cfg(test)]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        self.table.candidate(hash)
    }

    /// Finds the flow of a TCP/UDP packet or creates it (when the packet
    /// may start state). `on_evict` receives flows pushed out to make room.
    pub(crate) fn lookup_or_create(
        &mut self,
        pkt: &Packet<'_>,
        proto: FlowProto,
        sport: u16,
        dport: u16,
        on_evict: &mut dyn FnMut(Flow, EndCause),
    ) -> Lookup {
        let ipproto = match proto {
            FlowProto::Tcp => 6,
            FlowProto::Udp => 17,
        };
        let (key, _) = FlowKey::new(ipproto, pkt.ip.src, sport, pkt.ip.dst, dport);
        if let Some(i) = self.table.get(&key) {
            // A flow idle past its timeout ends here even if the periodic
            // sweep has not reached it yet: whether a packet continues a flow
            // or starts a new one depends only on that flow's own packets,
            // never on when sweeps happen (so 1 and N workers agree). A new
            // SYN (another ISN) on a flow past its handshake is the port
            // being reused: the old flow ends, a new one starts.
            let cause = if let Some(at) = self.table.stale_since(i, pkt.ts, &self.cfg) {
                EndCause::Idle(at)
            } else if self.table.flow(i).is_some_and(|f| is_port_reuse(f, pkt)) {
                EndCause::Replaced
            } else {
                return Lookup::Found(i);
            };
            if let Some(f) = self.table.remove(i) {
                on_evict(f, cause);
            }
        }
        // Packets that never start state: RSTs, FINs and bare ACKs with no
        // payload (backscatter, scans, stray segments of old flows).
        // A SYN/ACK without its SYN is backscatter of someone else's spoofed
        // SYNs far more often than a handshake whose SYN was missed.
        if let Transport::Tcp(t) = &pkt.l4 {
            let starts = (t.syn() && !t.ack_flag()) || (t.payload_len > 0 && !t.syn());
            if t.rst() || !starts {
                return Lookup::Untracked;
            }
        }
        let (client, by_start) = Flow::orient(pkt, sport, dport);
        let flow = Flow::new(key, proto, client, by_start, pkt.ts);
        let class = flow.class(false);
        self.make_room(class, on_evict);
        match self.table.insert(flow, class) {
            Some(i) => Lookup::Found(i),
            None => Lookup::Untracked,
        }
    }

    /// After a packet updated the flow in `slot`: confirm it if both sides
    /// have now spoken (making room among confirmed flows if needed), and
    /// refresh its LRU position.
    pub(crate) fn settle(&mut self, slot: u32, on_evict: &mut dyn FnMut(Flow, EndCause)) {
        let Some(f) = self.table.flow(slot) else {
            return;
        };
        let confirmed = f.dirs[0].packets > 0 && f.dirs[1].packets > 0;
        let class = f.class(confirmed);
        let was = self.table.slots.get(slot as usize).map(|s| s.class);
        if confirmed && was.is_some_and(|c| c.group() == 0) && self.table.is_full(class) {
            // Never evict the flow being confirmed itself: it is still in
            // the unconfirmed group, so `oldest` cannot pick it.
            self.make_room(class, on_evict);
        }
        self.table.touch(slot, class);
    }

    /// Removes the flows that were idle past their timeout at `g` (a sweep
    /// point: see `Engine::advance`), in the order they became stale (ties
    /// by key). The set and the order depend only on the flows and `g`, so
    /// a worker holding some of the flows ends them in the same order as
    /// one holding them all.
    pub(crate) fn expire(&mut self, g: Nanos, on_end: &mut dyn FnMut(Flow, EndCause)) {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        self.table.stale_at(g, &self.cfg, &mut due);
        self.table.sort_by_time_then_key(&mut due);
        for &(at, i) in &due {
            if let Some(f) = self.table.remove(i) {
                on_end(f, EndCause::Idle(at));
            }
        }
        self.due = due;
    }

    /// Removes every flow (end of input), in a deterministic order.
    pub(crate) fn drain(&mut self, on_end: &mut dyn FnMut(Flow, EndCause)) {
        for (_, i) in self.table.all_slots() {
            if let Some(f) = self.table.remove(i) {
                on_end(f, EndCause::EndOfInput);
            }
        }
    }
}

/// A new SYN with another ISN on a flow that got past its handshake.
fn is_port_reuse(f: &Flow, pkt: &Packet<'_>) -> bool {
    match &pkt.l4 {
        Transport::Tcp(t) if t.syn() && !t.ack_flag() => {
            f.tcp != TcpState::SynSent && f.dirs[Dir::ToServer.idx()].isn() != Some(t.seq)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
