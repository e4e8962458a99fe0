//! Timelines and stateful conversation helpers (TCP sessions, UDP flows, DNS exchanges).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;

use crate::dns::{self, DnsFlags, Rr};
use crate::endpoint::Endpoint;
use crate::link::{self, FrameMeta, Vlan};
use crate::packet::{build_tcp_raw, TcpFlags, TcpOpt, TcpSpec, UdpSpec};
use crate::pcap::{PcapNgWriter, PcapWriter};
use crate::{Error, Result};

/// Default scenario start time: 2023-11-14T22:13:20Z, in nanoseconds.
pub const EPOCH_NS: i64 = 1_700_000_000_000_000_000;

/// One packet (or pre-framed link-layer frame) on a [`Timeline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// IP packet bytes, or a complete frame when `prefamed_linktype` is set.
    pub data: Vec<u8>,
    /// `Some(lt)`: `data` is already a complete frame for link type `lt` (e.g. ARP);
    /// it is written verbatim and only to files of that link type.
    pub preframed_linktype: Option<u32>,
    /// Link-layer metadata used when framing.
    pub meta: FrameMeta,
    /// Record only this many bytes of the frame (original length is kept).
    pub snaplen: Option<u32>,
}

impl TimelineEntry {
    /// Frame this entry for link type `lt` into `out` (cleared first).
    pub fn frame_into(&self, out: &mut Vec<u8>, lt: u32) -> Result<()> {
        out.clear();
        match self.preframed_linktype {
            Some(flt) if flt == lt => out.extend_from_slice(&self.data),
            Some(flt) => {
                return Err(Error::FrameLinkTypeMismatch {
                    frame_linktype: flt,
                    linktype: lt,
                })
            }
            None => link::frame_ip_into(out, lt, &self.data, &self.meta)?,
        }
        Ok(())
    }
}

/// Packets kept sorted by timestamp (stable: equal timestamps keep insertion order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// Empty timeline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert an entry at its sorted position; returns it for tweaking.
    pub fn insert(&mut self, e: TimelineEntry) -> &mut TimelineEntry {
        let idx = if self.entries.last().is_none_or(|l| l.ts_ns <= e.ts_ns) {
            self.entries.len()
        } else {
            self.entries.partition_point(|x| x.ts_ns <= e.ts_ns)
        };
        self.entries.insert(idx, e);
        &mut self.entries[idx]
    }

    /// Add an IP packet with default framing metadata.
    pub fn push(&mut self, ts_ns: i64, ip: Vec<u8>) -> &mut TimelineEntry {
        self.push_with(ts_ns, ip, FrameMeta::default())
    }

    /// Add an IP packet with explicit framing metadata.
    pub fn push_with(&mut self, ts_ns: i64, ip: Vec<u8>, meta: FrameMeta) -> &mut TimelineEntry {
        self.insert(TimelineEntry {
            ts_ns,
            data: ip,
            preframed_linktype: None,
            meta,
            snaplen: None,
        })
    }

    /// Add a complete link-layer frame for link type `linktype` (e.g. an ARP frame).
    pub fn push_frame(&mut self, ts_ns: i64, linktype: u32, frame: Vec<u8>) -> &mut TimelineEntry {
        self.insert(TimelineEntry {
            ts_ns,
            data: frame,
            preframed_linktype: Some(linktype),
            meta: FrameMeta::default(),
            snaplen: None,
        })
    }

    /// Move all entries of `other` into this timeline.
    pub fn merge(&mut self, other: Timeline) {
        for e in other.entries {
            self.insert(e);
        }
    }

    /// Entries in timestamp order.
    pub fn entries(&self) -> &[TimelineEntry] {
        &self.entries
    }

    /// Mutable access to entries (keep them sorted if you change timestamps).
    pub fn entries_mut(&mut self) -> &mut [TimelineEntry] {
        &mut self.entries
    }

    /// Take the entries out.
    pub fn into_entries(self) -> Vec<TimelineEntry> {
        self.entries
    }

    /// Remove and return all entries, leaving the timeline empty.
    pub fn drain(&mut self) -> std::vec::Drain<'_, TimelineEntry> {
        self.entries.drain(..)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Last timestamp (or `None` if empty).
    pub fn last_ts(&self) -> Option<i64> {
        self.entries.last().map(|e| e.ts_ns)
    }

    /// Write all entries to a pcap writer.
    pub fn write_to_pcap<W: Write>(&self, w: &mut PcapWriter<W>) -> Result<()> {
        let lt = w.linktype();
        let mut buf = Vec::with_capacity(2048);
        for e in &self.entries {
            e.frame_into(&mut buf, lt)?;
            match e.snaplen {
                Some(s) => w.write_truncated(e.ts_ns, &buf, s)?,
                None => w.write(e.ts_ns, &buf)?,
            }
        }
        Ok(())
    }

    /// Serialize as a classic pcap (µs or ns timestamps) into memory.
    pub fn to_pcap_bytes(&self, linktype: u32, nanosecond: bool) -> Result<Vec<u8>> {
        let mut w = PcapWriter::new(Vec::new(), linktype, nanosecond)?;
        self.write_to_pcap(&mut w)?;
        w.into_inner()
    }

    /// Write a classic pcap file with microsecond timestamps; returns packets written.
    pub fn write_pcap(&self, path: impl AsRef<Path>, linktype: u32) -> Result<usize> {
        self.write_pcap_opts(path, linktype, false)
    }

    /// Write a classic pcap file choosing the timestamp resolution.
    pub fn write_pcap_opts(
        &self,
        path: impl AsRef<Path>,
        linktype: u32,
        nanosecond: bool,
    ) -> Result<usize> {
        let f = BufWriter::new(File::create(path)?);
        let mut w = PcapWriter::new(f, linktype, nanosecond)?;
        self.write_to_pcap(&mut w)?;
        w.into_inner()?;
        Ok(self.entries.len())
    }

    /// Write all entries as EPBs on pcapng interface `iface` (framed for its link type).
    pub fn write_to_pcapng<W: Write>(&self, w: &mut PcapNgWriter<W>, iface: u32) -> Result<()> {
        let lt = w
            .interface_linktype(iface)
            .ok_or(Error::UnknownInterface(iface))?;
        let mut buf = Vec::with_capacity(2048);
        for e in &self.entries {
            e.frame_into(&mut buf, lt)?;
            match e.snaplen {
                Some(s) => w.write_truncated(iface, e.ts_ns, &buf, s)?,
                None => w.write(iface, e.ts_ns, &buf)?,
            }
        }
        Ok(())
    }
}

/// Which side a packet comes from (or claims to come from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → server.
    FromClient,
    /// Server → client.
    FromServer,
}

/// TCP timestamp clocks (TSval = base + elapsed-time × hz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsClock {
    /// Client clock rate (Linux: 1000).
    pub client_hz: u32,
    /// Server clock rate.
    pub server_hz: u32,
    /// Client TSval at ts = 0 (wrapping).
    pub client_base: u32,
    /// Server TSval at ts = 0 (wrapping).
    pub server_base: u32,
}

impl TsClock {
    /// 1 kHz clocks on both sides with the given bases.
    pub fn khz(client_base: u32, server_base: u32) -> Self {
        TsClock {
            client_hz: 1000,
            server_hz: 1000,
            client_base,
            server_base,
        }
    }

    fn value(&self, dir: Direction, t: i64) -> u32 {
        let (hz, base) = match dir {
            Direction::FromClient => (self.client_hz, self.client_base),
            Direction::FromServer => (self.server_hz, self.server_base),
        };
        let ticks = (t as i128 * hz as i128 / 1_000_000_000) as u64 as u32;
        base.wrapping_add(ticks)
    }
}

/// Sequence state of both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpState {
    /// Client initial sequence number.
    pub client_isn: u32,
    /// Server initial sequence number.
    pub server_isn: u32,
    /// Next sequence number the client will send (SND.NXT).
    pub client_next_seq: u32,
    /// Next sequence number the server will send.
    pub server_next_seq: u32,
    /// What the client acknowledges (its RCV.NXT).
    pub client_rcv_next: u32,
    /// What the server acknowledges.
    pub server_rcv_next: u32,
    /// Last TSval the client saw from the server (its TSecr).
    pub client_ts_recent: u32,
    /// Last TSval the server saw from the client.
    pub server_ts_recent: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seg {
    seq: u32,
    flags: TcpFlags,
    payload: Vec<u8>,
    syn_opts: bool,
}

/// A forged TCP packet claiming to come from one side of a [`TcpSession`].
/// `None` fields copy the impersonated endpoint's current values (IP ID: its *next* ID,
/// without consuming it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// IP TTL (`None`: the impersonated endpoint's TTL).
    pub ttl: Option<u8>,
    /// IP ID (`None`: peek the endpoint's next ID).
    pub ip_id: Option<u16>,
    /// DF (`None`: endpoint's).
    pub df: Option<bool>,
    /// Window (`None`: endpoint's).
    pub window: Option<u16>,
    /// Added (wrapping) to the impersonated side's current next sequence number.
    pub seq_offset: i64,
    /// Acknowledgment number (`None`: what the impersonated side would acknowledge).
    pub ack: Option<u32>,
    /// Flags.
    pub flags: TcpFlags,
    /// Payload.
    pub payload: Vec<u8>,
    /// TCP options (default none: most injectors send bare headers).
    pub options: Vec<TcpOpt>,
    /// Ethernet source MAC (`None`: endpoint's).
    pub src_mac: Option<[u8; 6]>,
}

impl Default for Injection {
    fn default() -> Self {
        Injection {
            ttl: None,
            ip_id: None,
            df: None,
            window: None,
            seq_offset: 0,
            ack: None,
            flags: TcpFlags::RST,
            payload: Vec::new(),
            options: Vec::new(),
            src_mac: None,
        }
    }
}

impl Injection {
    /// Bare RST.
    pub fn rst() -> Self {
        Self::default()
    }

    /// RST|ACK.
    pub fn rst_ack() -> Self {
        Injection {
            flags: TcpFlags::RST_ACK,
            ..Self::default()
        }
    }

    /// PSH|ACK data segment (e.g. a forged HTTP block page); add FIN via `flags` if needed.
    pub fn data(payload: Vec<u8>) -> Self {
        Injection {
            flags: TcpFlags::PSH_ACK,
            payload,
            ..Self::default()
        }
    }

    /// Builder-style TTL.
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Builder-style IP ID.
    pub fn ip_id(mut self, id: u16) -> Self {
        self.ip_id = Some(id);
        self
    }

    /// Builder-style DF flag.
    pub fn df(mut self, df: bool) -> Self {
        self.df = Some(df);
        self
    }

    /// Builder-style window.
    pub fn window(mut self, w: u16) -> Self {
        self.window = Some(w);
        self
    }

    /// Builder-style sequence offset.
    pub fn seq_offset(mut self, off: i64) -> Self {
        self.seq_offset = off;
        self
    }
}

/// A TCP connection between two [`Endpoint`]s, tracking both sides' sequence numbers,
/// acknowledgments, IP IDs and timestamps. Every helper emits packets into a [`Timeline`]
/// and returns the timestamp of the last packet it emitted.
///
/// Capture vantage is the client side: the client's packets are followed by the server's
/// reply one RTT later.
#[derive(Debug, Clone)]
pub struct TcpSession {
    /// Client endpoint (its IP-ID state advances as packets are emitted).
    pub client: Endpoint,
    /// Server endpoint.
    pub server: Endpoint,
    /// Sequence state; may be edited directly for unusual scenarios.
    pub state: TcpState,
    /// MSS advertised in SYN/SYN-ACK; data segments carry at most `mss` minus option bytes.
    pub mss: u16,
    /// Window scale advertised in SYN/SYN-ACK (`None`: option omitted).
    pub wscale: Option<u8>,
    /// Advertise SACK-permitted in SYN/SYN-ACK.
    pub sack_permitted: bool,
    /// TCP timestamps (`None`: option not used).
    pub timestamps: Option<TsClock>,
    /// Framing template (VLAN, SLL ifindex...); MACs and direction are set per packet.
    pub frame: FrameMeta,
    /// Spacing of back-to-back segments of one send, in ns.
    pub segment_gap_ns: i64,
    /// Delay between receiving data and the client's ACK in helpers that ACK, in ns.
    pub ack_delay_ns: i64,
    /// The server's data segments carry at most this many bytes, fewer than
    /// the handshake's MSS allows (a path MTU below the ends' own, an MSS
    /// clamped on the client's SYN only); `None`: [`segment_size`](Self::segment_size).
    pub server_segment: Option<usize>,
    /// More options on the SYN and SYN/ACK, after the usual ones (a
    /// Multipath TCP `MP_JOIN`, say): see [`with_syn_option`](Self::with_syn_option).
    pub syn_extra: Vec<TcpOpt>,
    /// When the server sent the segment being emitted, if not when the
    /// capture sees it (its TSval is its clock then): a simulator whose
    /// segments wait in queues on their way to the client sets it for each
    /// (`None`: the capture's time).
    pub server_sent_at: Option<i64>,
    last_client: Option<Seg>,
    last_server: Option<Seg>,
}

impl TcpSession {
    /// New session with ISNs derived deterministically from the addresses, MSS 1460
    /// (1440 for IPv6), window scale 7, SACK permitted, no timestamps.
    pub fn new(client: Endpoint, server: Endpoint) -> Self {
        let cseed = crate::endpoint::addr_seed(&client.addr());
        let sseed = crate::endpoint::addr_seed(&server.addr());
        let cisn = (cseed ^ sseed.rotate_left(7)) as u32;
        let sisn = (sseed ^ cseed.rotate_left(29)) as u32;
        let mss = if client.ip.is_ipv6() { 1440 } else { 1460 };
        let mut s = TcpSession {
            client,
            server,
            state: TcpState::default(),
            mss,
            wscale: Some(7),
            sack_permitted: true,
            timestamps: None,
            frame: FrameMeta::default(),
            segment_gap_ns: 12_000,
            ack_delay_ns: 40_000,
            server_segment: None,
            syn_extra: Vec::new(),
            server_sent_at: None,
            last_client: None,
            last_server: None,
        };
        s.set_isns(cisn, sisn);
        s
    }

    /// Set both ISNs (resets the sequence state).
    pub fn set_isns(&mut self, client_isn: u32, server_isn: u32) {
        self.state = TcpState {
            client_isn,
            server_isn,
            client_next_seq: client_isn,
            server_next_seq: server_isn,
            client_rcv_next: 0,
            server_rcv_next: 0,
            client_ts_recent: 0,
            server_ts_recent: 0,
        };
    }

    /// Builder: ISNs.
    pub fn with_isns(mut self, client_isn: u32, server_isn: u32) -> Self {
        self.set_isns(client_isn, server_isn);
        self
    }

    /// Builder: enable TCP timestamps.
    pub fn with_timestamps(mut self, clock: TsClock) -> Self {
        self.timestamps = Some(clock);
        self
    }

    /// Builder: MSS.
    pub fn with_mss(mut self, mss: u16) -> Self {
        self.mss = mss;
        self
    }

    /// Builder: one more option on the SYN and SYN/ACK.
    pub fn with_syn_option(mut self, opt: TcpOpt) -> Self {
        self.syn_extra.push(opt);
        self
    }

    /// Builder: VLAN tagging of every frame.
    pub fn with_vlan(mut self, vlan: Vlan) -> Self {
        self.frame.vlan = vlan;
        self
    }

    /// Largest payload per data segment.
    pub fn segment_size(&self) -> usize {
        self.mss as usize - if self.timestamps.is_some() { 12 } else { 0 }
    }

    /// Largest payload per data segment of the server's: see
    /// [`server_segment`](Self::server_segment).
    pub fn server_segment_size(&self) -> usize {
        self.server_segment.unwrap_or_else(|| self.segment_size())
    }

    /// Frame metadata for a packet from `dir`.
    pub fn meta(&self, dir: Direction) -> FrameMeta {
        let mut m = self.frame;
        match dir {
            Direction::FromClient => {
                m.src_mac = self.client.mac;
                m.dst_mac = self.server.mac;
                m.outgoing = true;
            }
            Direction::FromServer => {
                m.src_mac = self.server.mac;
                m.dst_mac = self.client.mac;
                m.outgoing = false;
            }
        }
        m
    }

    fn ends(&mut self, dir: Direction) -> (&mut Endpoint, &Endpoint) {
        match dir {
            Direction::FromClient => (&mut self.client, &self.server),
            Direction::FromServer => (&mut self.server, &self.client),
        }
    }

    fn syn_options(&self, tsval: Option<u32>, tsecr: u32) -> Vec<TcpOpt> {
        let mut o = vec![TcpOpt::Mss(self.mss)];
        match tsval {
            Some(v) => {
                if self.sack_permitted {
                    o.push(TcpOpt::SackPermitted);
                } else {
                    o.extend([TcpOpt::Nop, TcpOpt::Nop]);
                }
                o.push(TcpOpt::Timestamps(v, tsecr));
            }
            None => {
                if self.sack_permitted {
                    o.extend([TcpOpt::Nop, TcpOpt::Nop, TcpOpt::SackPermitted]);
                }
            }
        }
        if let Some(ws) = self.wscale {
            o.extend([TcpOpt::Nop, TcpOpt::WindowScale(ws)]);
        }
        o.extend(self.syn_extra.iter().cloned());
        o
    }

    /// Emit one segment from `dir` with explicit seq/ack/flags; updates the peer's
    /// receive state and timestamps but not the sender's `next_seq`.
    #[allow(clippy::too_many_arguments)]
    fn emit_raw(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        dir: Direction,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &[u8],
        syn_opts: bool,
    ) {
        let stamped = match (dir, self.server_sent_at) {
            (Direction::FromServer, Some(sent)) => sent,
            _ => t,
        };
        let tsval = self.timestamps.map(|c| c.value(dir, stamped));
        let tsecr = match dir {
            Direction::FromClient => self.state.client_ts_recent,
            Direction::FromServer => self.state.server_ts_recent,
        };
        let options = if syn_opts {
            self.syn_options(
                tsval,
                if flags.contains(TcpFlags::ACK) {
                    tsecr
                } else {
                    0
                },
            )
        } else {
            match tsval {
                Some(v) => vec![TcpOpt::Nop, TcpOpt::Nop, TcpOpt::Timestamps(v, tsecr)],
                None => Vec::new(),
            }
        };
        let meta = self.meta(dir);
        let (me, peer) = self.ends(dir);
        let spec = TcpSpec {
            src: me.ip,
            dst: peer.ip,
            sport: me.port,
            dport: peer.port,
            ttl: me.ttl,
            ip_id: me.next_ip_id(),
            df: me.df,
            tos: 0,
            flow_label: 0,
            seq,
            ack: if flags.contains(TcpFlags::ACK) {
                ack
            } else {
                0
            },
            flags,
            window: me.window,
            urgent: 0,
            options: Vec::new(),
            payload: Vec::new(),
            checksum_override: None,
        };
        let opts = TcpOpt::encode_list(&options);
        let pkt = build_tcp_raw(&spec, &opts, payload);
        tl.push_with(t, pkt, meta);
        let end = seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(flags.seq_len());
        if !flags.contains(TcpFlags::RST) {
            let (rcv, recent) = match dir {
                Direction::FromClient => (
                    &mut self.state.server_rcv_next,
                    &mut self.state.server_ts_recent,
                ),
                Direction::FromServer => (
                    &mut self.state.client_rcv_next,
                    &mut self.state.client_ts_recent,
                ),
            };
            if (end.wrapping_sub(*rcv) as i32) > 0 || flags.contains(TcpFlags::SYN) {
                *rcv = end;
            }
            if let Some(v) = tsval {
                *recent = v;
            }
        }
    }

    /// Emit a segment from `dir` at the sender's current sequence number, acknowledging
    /// what it has received, and advance its sequence by the payload (+SYN/FIN).
    pub fn packet(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        dir: Direction,
        flags: TcpFlags,
        payload: &[u8],
    ) -> i64 {
        let (seq, ack) = match dir {
            Direction::FromClient => (self.state.client_next_seq, self.state.client_rcv_next),
            Direction::FromServer => (self.state.server_next_seq, self.state.server_rcv_next),
        };
        let syn = flags.contains(TcpFlags::SYN);
        self.emit_raw(tl, t, dir, seq, ack, flags, payload, syn);
        let consumed = payload.len() as u32 + flags.seq_len();
        if consumed > 0 {
            let seg = Some(Seg {
                seq,
                flags,
                payload: payload.to_vec(),
                syn_opts: syn,
            });
            match dir {
                Direction::FromClient => {
                    self.state.client_next_seq = seq.wrapping_add(consumed);
                    self.last_client = seg;
                }
                Direction::FromServer => {
                    self.state.server_next_seq = seq.wrapping_add(consumed);
                    self.last_server = seg;
                }
            }
        }
        t
    }

    /// Client SYN.
    pub fn syn(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromClient, TcpFlags::SYN, &[])
    }

    /// Server SYN/ACK.
    pub fn syn_ack(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromServer, TcpFlags::SYN_ACK, &[])
    }

    /// SYN at `t`, SYN/ACK at `t + rtt`, client ACK `ack_delay_ns / 4` later (3 packets).
    pub fn handshake(&mut self, tl: &mut Timeline, t: i64, rtt: i64) -> i64 {
        self.syn(tl, t);
        self.syn_ack(tl, t + rtt);
        self.client_ack(tl, t + rtt + self.ack_delay_ns / 4)
    }

    fn send_segments(&mut self, tl: &mut Timeline, t: i64, dir: Direction, payload: &[u8]) -> i64 {
        let seg = match dir {
            Direction::FromServer => self.server_segment_size(),
            Direction::FromClient => self.segment_size(),
        }
        .max(1);
        let mut ts = t;
        let n = payload.len().div_ceil(seg);
        for (i, chunk) in payload.chunks(seg).enumerate() {
            let flags = if i + 1 == n {
                TcpFlags::PSH_ACK
            } else {
                TcpFlags::ACK
            };
            ts = t + i as i64 * self.segment_gap_ns;
            self.packet(tl, ts, dir, flags, chunk);
        }
        ts
    }

    /// Client data, segmented at [`segment_size`](Self::segment_size); last segment PSH.
    pub fn client_send(&mut self, tl: &mut Timeline, t: i64, payload: &[u8]) -> i64 {
        self.send_segments(tl, t, Direction::FromClient, payload)
    }

    /// Server data, segmented; last segment PSH.
    pub fn server_send(&mut self, tl: &mut Timeline, t: i64, payload: &[u8]) -> i64 {
        self.send_segments(tl, t, Direction::FromServer, payload)
    }

    /// Server data with the client ACKing every `ack_every` segments (and the final
    /// segment) `ack_delay_ns` after the segment it completes.
    pub fn server_send_acked(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        payload: &[u8],
        ack_every: usize,
    ) -> i64 {
        let seg = self.server_segment_size().max(1);
        let n = payload.len().div_ceil(seg);
        let mut last = t;
        for (i, chunk) in payload.chunks(seg).enumerate() {
            let flags = if i + 1 == n {
                TcpFlags::PSH_ACK
            } else {
                TcpFlags::ACK
            };
            let ts = t + i as i64 * self.segment_gap_ns;
            self.packet(tl, ts, Direction::FromServer, flags, chunk);
            last = ts;
            if (i + 1) % ack_every.max(1) == 0 || i + 1 == n {
                last = self.client_ack(tl, ts + self.ack_delay_ns);
            }
        }
        last
    }

    /// Pure ACK from the client.
    pub fn client_ack(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromClient, TcpFlags::ACK, &[])
    }

    /// Pure ACK from the server.
    pub fn server_ack(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromServer, TcpFlags::ACK, &[])
    }

    /// Client FIN|ACK.
    pub fn fin_client(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromClient, TcpFlags::FIN_ACK, &[])
    }

    /// Server FIN|ACK.
    pub fn fin_server(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromServer, TcpFlags::FIN_ACK, &[])
    }

    /// Client-initiated close: client FIN at `t`, server FIN/ACK at `t + rtt`, client's
    /// final ACK shortly after (3 packets).
    pub fn close(&mut self, tl: &mut Timeline, t: i64, rtt: i64) -> i64 {
        self.fin_client(tl, t);
        self.fin_server(tl, t + rtt);
        self.client_ack(tl, t + rtt + self.ack_delay_ns / 4)
    }

    /// Server-initiated close: server FIN at `t`, client FIN/ACK shortly after, server's
    /// final ACK `rtt` later (3 packets).
    pub fn close_by_server(&mut self, tl: &mut Timeline, t: i64, rtt: i64) -> i64 {
        self.fin_server(tl, t);
        self.fin_client(tl, t + self.ack_delay_ns);
        self.server_ack(tl, t + self.ack_delay_ns + rtt)
    }

    /// Genuine RST|ACK from the client (abortive close) at its current sequence number.
    pub fn rst_from_client(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromClient, TcpFlags::RST_ACK, &[])
    }

    /// Genuine RST|ACK from the server (e.g. `SO_LINGER{1,0}` + close()).
    pub fn rst_from_server(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.packet(tl, t, Direction::FromServer, TcpFlags::RST_ACK, &[])
    }

    /// Closed port: server answers the SYN with RST|ACK, seq 0, ack = client ISN + 1,
    /// window 0, no options.
    pub fn refuse(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        let meta = self.meta(Direction::FromServer);
        let spec = TcpSpec {
            src: self.server.ip,
            dst: self.client.ip,
            sport: self.server.port,
            dport: self.client.port,
            ttl: self.server.ttl,
            ip_id: self.server.next_ip_id(),
            df: self.server.df,
            seq: 0,
            ack: self.state.client_next_seq,
            flags: TcpFlags::RST_ACK,
            window: 0,
            ..TcpSpec::new(self.server.addr(), self.client.addr())
        };
        tl.push_with(t, spec.build(), meta);
        t
    }

    fn retransmit(&mut self, tl: &mut Timeline, t: i64, dir: Direction) -> i64 {
        let seg = match dir {
            Direction::FromClient => self.last_client.clone(),
            Direction::FromServer => self.last_server.clone(),
        };
        if let Some(s) = seg {
            let ack = match dir {
                Direction::FromClient => self.state.client_rcv_next,
                Direction::FromServer => self.state.server_rcv_next,
            };
            self.emit_raw(tl, t, dir, s.seq, ack, s.flags, &s.payload, s.syn_opts);
        }
        t
    }

    /// Re-send the client's last sequence-consuming segment (SYN, data or FIN) with the
    /// same seq/flags/payload and a fresh IP ID / TSval. No-op if none was sent.
    pub fn retransmit_client_last(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.retransmit(tl, t, Direction::FromClient)
    }

    /// Server counterpart of [`retransmit_client_last`](Self::retransmit_client_last).
    pub fn retransmit_server_last(&mut self, tl: &mut Timeline, t: i64) -> i64 {
        self.retransmit(tl, t, Direction::FromServer)
    }

    /// Build (without emitting) a forged packet claiming to come from `claimed`.
    /// Does not change any session state (sequence numbers, IP IDs, timestamps).
    pub fn forge(&self, claimed: Direction, inj: &Injection) -> (Vec<u8>, FrameMeta) {
        let (me, peer, next, rcv) = match claimed {
            Direction::FromClient => (
                &self.client,
                &self.server,
                self.state.client_next_seq,
                self.state.client_rcv_next,
            ),
            Direction::FromServer => (
                &self.server,
                &self.client,
                self.state.server_next_seq,
                self.state.server_rcv_next,
            ),
        };
        let spec = TcpSpec {
            src: me.ip,
            dst: peer.ip,
            sport: me.port,
            dport: peer.port,
            ttl: inj.ttl.unwrap_or(me.ttl),
            ip_id: inj.ip_id.unwrap_or_else(|| me.ip_id.peek()),
            df: inj.df.unwrap_or(me.df),
            tos: 0,
            flow_label: 0,
            seq: (next as i64).wrapping_add(inj.seq_offset) as u32,
            ack: inj.ack.unwrap_or(rcv),
            flags: inj.flags,
            window: inj.window.unwrap_or(me.window),
            urgent: 0,
            options: inj.options.clone(),
            payload: inj.payload.clone(),
            checksum_override: None,
        };
        let mut meta = self.meta(claimed);
        if let Some(mac) = inj.src_mac {
            meta.src_mac = mac;
        }
        (spec.build(), meta)
    }

    /// Emit a forged packet claiming to be from `claimed` (state untouched).
    pub fn inject(&self, tl: &mut Timeline, t: i64, claimed: Direction, inj: &Injection) -> i64 {
        let (pkt, meta) = self.forge(claimed, inj);
        tl.push_with(t, pkt, meta);
        t
    }

    /// Emit a forged packet claiming to be the server, at the server's current next
    /// sequence number plus `inj.seq_offset`. The real server's state is not advanced.
    pub fn inject_from_server(&self, tl: &mut Timeline, t: i64, inj: &Injection) -> i64 {
        self.inject(tl, t, Direction::FromServer, inj)
    }

    /// Emit a forged packet claiming to be the client (e.g. the RST a censor sends to
    /// the server side).
    pub fn inject_from_client(&self, tl: &mut Timeline, t: i64, inj: &Injection) -> i64 {
        self.inject(tl, t, Direction::FromClient, inj)
    }
}

/// IP-level overrides for one (possibly forged) UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UdpOverride {
    /// TTL (`None`: sender's).
    pub ttl: Option<u8>,
    /// IP ID (`None`: sender's next ID, consumed only for genuine sends).
    pub ip_id: Option<u16>,
    /// DF (`None`: sender's).
    pub df: Option<bool>,
}

/// A UDP conversation between two endpoints.
#[derive(Debug, Clone)]
pub struct UdpFlow {
    /// Client (initiator).
    pub client: Endpoint,
    /// Server.
    pub server: Endpoint,
    /// Framing template (VLAN etc.).
    pub frame: FrameMeta,
}

impl UdpFlow {
    /// New flow.
    pub fn new(client: Endpoint, server: Endpoint) -> Self {
        UdpFlow {
            client,
            server,
            frame: FrameMeta::default(),
        }
    }

    fn meta(&self, dir: Direction) -> FrameMeta {
        let mut m = self.frame;
        let (s, d, out) = match dir {
            Direction::FromClient => (self.client.mac, self.server.mac, true),
            Direction::FromServer => (self.server.mac, self.client.mac, false),
        };
        m.src_mac = s;
        m.dst_mac = d;
        m.outgoing = out;
        m
    }

    /// Build a datagram from `dir`; genuine sends consume an IP ID.
    pub fn datagram(&mut self, dir: Direction, payload: Vec<u8>, ov: &UdpOverride) -> Vec<u8> {
        let genuine = ov.ip_id.is_none();
        let (me, peer): (&mut Endpoint, SocketAddr) = match dir {
            Direction::FromClient => (&mut self.client, self.server.addr()),
            Direction::FromServer => (&mut self.server, self.client.addr()),
        };
        let id = match ov.ip_id {
            Some(id) => id,
            None if genuine => me.next_ip_id(),
            None => me.ip_id.peek(),
        };
        UdpSpec {
            ttl: ov.ttl.unwrap_or(me.ttl),
            ip_id: id,
            df: ov.df.unwrap_or(me.df),
            ..UdpSpec::new(me.addr(), peer, payload)
        }
        .build()
    }

    /// Emit a datagram from `dir` with overrides.
    pub fn send_with(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        dir: Direction,
        payload: Vec<u8>,
        ov: &UdpOverride,
    ) -> i64 {
        let p = self.datagram(dir, payload, ov);
        let meta = self.meta(dir);
        tl.push_with(t, p, meta);
        t
    }

    /// Emit a client → server datagram.
    pub fn client_send(&mut self, tl: &mut Timeline, t: i64, payload: Vec<u8>) -> i64 {
        self.send_with(
            tl,
            t,
            Direction::FromClient,
            payload,
            &UdpOverride::default(),
        )
    }

    /// Emit a server → client datagram.
    pub fn server_send(&mut self, tl: &mut Timeline, t: i64, payload: Vec<u8>) -> i64 {
        self.send_with(
            tl,
            t,
            Direction::FromServer,
            payload,
            &UdpOverride::default(),
        )
    }
}

/// DNS over UDP between a client and a resolver.
#[derive(Debug, Clone)]
pub struct DnsExchange {
    /// The underlying UDP flow (client port = source port of the queries).
    pub flow: UdpFlow,
}

impl DnsExchange {
    /// New exchange (resolver port is normally 53).
    pub fn new(client: Endpoint, resolver: Endpoint) -> Self {
        DnsExchange {
            flow: UdpFlow::new(client, resolver),
        }
    }

    /// Emit a query; returns its bytes (to build the matching response).
    pub fn query(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        id: u16,
        name: &str,
        qtype: u16,
        edns: bool,
    ) -> Vec<u8> {
        let q = dns::query(id, name, qtype, edns);
        self.flow.client_send(tl, t, q.clone());
        q
    }

    /// Emit a genuine response to `query`.
    pub fn answer(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        query: &[u8],
        rcode: u8,
        answers: &[Rr],
        flags: DnsFlags,
    ) -> Result<i64> {
        let r = dns::response(query, rcode, answers, flags)?;
        Ok(self.flow.server_send(tl, t, r))
    }

    /// Emit a forged response to `query` claiming to be the resolver, with IP overrides
    /// (the resolver's IP-ID state is not consumed).
    #[allow(clippy::too_many_arguments)]
    pub fn inject_answer(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        query: &[u8],
        rcode: u8,
        answers: &[Rr],
        flags: DnsFlags,
        ov: UdpOverride,
    ) -> Result<i64> {
        let r = dns::response(query, rcode, answers, flags)?;
        let ov = UdpOverride {
            ip_id: Some(ov.ip_id.unwrap_or_else(|| self.flow.server.ip_id.peek())),
            ..ov
        };
        Ok(self.flow.send_with(tl, t, Direction::FromServer, r, &ov))
    }

    /// Query at `t` and a NOERROR (RD|RA) answer `delay` later (2 packets). Returns the
    /// time of the answer.
    #[allow(clippy::too_many_arguments)]
    pub fn exchange(
        &mut self,
        tl: &mut Timeline,
        t: i64,
        id: u16,
        name: &str,
        qtype: u16,
        answers: &[Rr],
        delay: i64,
    ) -> Result<i64> {
        let q = self.query(tl, t, id, name, qtype, true);
        self.answer(
            tl,
            t + delay,
            &q,
            dns::rcode::NOERROR,
            answers,
            DnsFlags::RA,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{SlicedPacket, TransportSlice};

    fn session() -> TcpSession {
        TcpSession::new(
            Endpoint::client("192.0.2.10:50000".parse().unwrap()),
            Endpoint::server("203.0.113.34:80".parse().unwrap()),
        )
        .with_timestamps(TsClock::khz(1000, 5000))
    }

    struct Tcp {
        seq: u32,
        ack: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        sport: u16,
        len: usize,
        ip_id: u16,
    }

    fn parse(pkt: &[u8]) -> Tcp {
        let sp = SlicedPacket::from_ip(pkt).unwrap();
        let ip_id = match &sp.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => ip.header().identification(),
            _ => 0,
        };
        let Some(TransportSlice::Tcp(t)) = sp.transport else {
            panic!()
        };
        Tcp {
            seq: t.sequence_number(),
            ack: t.acknowledgment_number(),
            syn: t.syn(),
            fin: t.fin(),
            rst: t.rst(),
            sport: t.source_port(),
            len: t.payload().len(),
            ip_id,
        }
    }

    #[test]
    fn seq_ack_consistency() {
        let mut s = session();
        let mut tl = Timeline::new();
        let t0 = EPOCH_NS;
        let t = s.handshake(&mut tl, t0, 20_000_000);
        let t = s.client_send(&mut tl, t + 1000, b"GET / HTTP/1.1\r\n\r\n");
        let t = s.server_send_acked(&mut tl, t + 20_000_000, &vec![b'x'; 5000], 2);
        s.close(&mut tl, t + 1000, 20_000_000);
        let pkts: Vec<Tcp> = tl.entries().iter().map(|e| parse(&e.data)).collect();
        // Every client packet acks exactly the server's sent bytes so far, and vice versa.
        let (mut c_next, mut s_next) = (None::<u32>, None::<u32>);
        for p in &pkts {
            let from_client = p.sport == 50000;
            let end = p.seq + p.len as u32 + p.syn as u32 + p.fin as u32;
            if from_client {
                if let Some(sn) = s_next {
                    // Delayed ACKs may trail segments already in flight, never lead.
                    assert!(
                        (sn.wrapping_sub(p.ack) as i32) >= 0,
                        "client ack beyond data"
                    );
                    assert!(p.ack == sn || !p.fin, "FIN acks everything");
                }
                if let Some(cn) = c_next {
                    assert_eq!(p.seq, cn, "client seq continuous");
                }
                c_next = Some(end);
            } else {
                if let Some(cn) = c_next {
                    assert_eq!(p.ack, cn, "server acks client's next seq");
                }
                if let Some(sn) = s_next {
                    assert_eq!(p.seq, sn);
                }
                s_next = Some(end);
            }
        }
        assert_eq!(c_next.unwrap(), s.state.client_next_seq);
        assert_eq!(s_next.unwrap(), s.state.server_next_seq);
        assert_eq!(s.state.client_rcv_next, s.state.server_next_seq);
        assert_eq!(s.state.server_rcv_next, s.state.client_next_seq);
        // 5000 bytes at 1448 per segment = 4 segments, acked after 2 and 4.
        let data: Vec<usize> = pkts
            .iter()
            .filter(|p| p.sport == 80 && p.len > 0)
            .map(|p| p.len)
            .collect();
        assert_eq!(data, vec![1448, 1448, 1448, 656]);
        assert_eq!(pkts.len(), 3 + 1 + 4 + 2 + 3);
        // sorted timestamps
        assert!(tl.entries().windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        // sequential client IP IDs
        let ids: Vec<u16> = pkts
            .iter()
            .filter(|p| p.sport == 50000)
            .map(|p| p.ip_id)
            .collect();
        assert!(ids.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    }

    #[test]
    fn injection_does_not_advance_state() {
        let mut s = session();
        let mut tl = Timeline::new();
        let t = s.handshake(&mut tl, EPOCH_NS, 10_000_000);
        s.client_send(&mut tl, t, b"GET /blocked HTTP/1.1\r\nHost: x\r\n\r\n");
        let before_state = s.state;
        let before_server = s.server.clone();
        let n = tl.len();
        s.inject_from_server(
            &mut tl,
            t + 2_000_000,
            &Injection::rst().ttl(44).ip_id(0x1234),
        );
        s.inject_from_server(
            &mut tl,
            t + 2_000_000,
            &Injection::data(b"HTTP/1.1 403 Forbidden\r\n\r\n".to_vec()).seq_offset(1),
        );
        assert_eq!(tl.len(), n + 2);
        assert_eq!(s.state, before_state);
        assert_eq!(s.server, before_server);
        let forged = parse(&tl.entries()[n].data);
        assert!(forged.rst);
        assert_eq!(forged.seq, s.state.server_next_seq);
        assert_eq!(forged.ip_id, 0x1234);
        assert_eq!(tl.entries()[n].data[8], 44);
        let forged2 = parse(&tl.entries()[n + 1].data);
        assert_eq!(forged2.seq, s.state.server_next_seq.wrapping_add(1));
        assert_eq!(forged2.ack, s.state.client_next_seq);
        // default IP ID is the server's next (peeked, not consumed)
        assert_eq!(forged2.ip_id, s.server.ip_id.peek());
        // The real server continues at the same seq as the forged one.
        s.server_send(&mut tl, t + 20_000_000, b"HTTP/1.1 200 OK\r\n\r\n");
        let real = parse(&tl.entries().last().unwrap().data);
        assert_eq!(real.seq, forged.seq);
    }

    #[test]
    fn retransmit_and_refuse() {
        let mut s = session();
        let mut tl = Timeline::new();
        s.syn(&mut tl, EPOCH_NS);
        s.retransmit_client_last(&mut tl, EPOCH_NS + 1_000_000_000);
        s.refuse(&mut tl, EPOCH_NS + 1_010_000_000);
        let p: Vec<Tcp> = tl.entries().iter().map(|e| parse(&e.data)).collect();
        assert!(p[0].syn && p[1].syn);
        assert_eq!(p[0].seq, p[1].seq);
        assert_ne!(p[0].ip_id, p[1].ip_id);
        assert!(p[2].rst);
        assert_eq!(p[2].seq, 0);
        assert_eq!(p[2].ack, p[0].seq + 1);
        // TSval advanced on the retransmission (1 s at 1 kHz).
        let ts = |pkt: &[u8]| {
            let sp = SlicedPacket::from_ip(pkt).unwrap();
            let Some(TransportSlice::Tcp(t)) = sp.transport else {
                panic!()
            };
            t.options_iterator()
                .find_map(|o| match o {
                    Ok(etherparse::TcpOptionElement::Timestamp(v, _)) => Some(v),
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(
            ts(&tl.entries()[1].data).wrapping_sub(ts(&tl.entries()[0].data)),
            1000
        );
    }

    #[test]
    fn timeline_sorted_insert_is_stable() {
        let mut tl = Timeline::new();
        tl.push(30, vec![0x45, 3]);
        tl.push(10, vec![0x45, 1]);
        tl.push(30, vec![0x45, 4]);
        tl.push(20, vec![0x45, 2]);
        let order: Vec<u8> = tl.entries().iter().map(|e| e.data[1]).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        tl.push_frame(5, crate::linktype::ETHERNET, vec![0; 60]);
        assert!(tl.to_pcap_bytes(crate::linktype::RAW, false).is_err());
    }
}
