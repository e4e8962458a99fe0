//! Plain counters kept by one pipeline worker.
//!
//! The hot path increments plain `u64` fields (no atomics, no labels); the
//! binary publishes the difference between two snapshots to the Prometheus
//! registry, whose handles are resolved once per label value at start-up.
//! Every label value that can ever appear is listed in the `ALL` arrays
//! below, so the exported label sets are small fixed enums.

/// Defines a fieldless enum with a stable metric label and an `ALL` list.
macro_rules! label_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl $name {
            /// Every variant, in declaration order (index = discriminant).
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// Number of variants.
            pub const COUNT: usize = Self::ALL.len();
            /// The metric label value.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$var => $label),+ }
            }
            /// Index into per-variant counter arrays.
            pub const fn idx(self) -> usize { self as usize }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

label_enum!(
    /// Protocol of a captured frame, for packet and byte counters.
    PacketProto {
        Tcp => "tcp",
        Udp => "udp",
        Icmp => "icmp",
        Icmpv6 => "icmpv6",
        OtherIp => "other_ip",
        NonIp => "non_ip",
    }
);

label_enum!(
    /// Why a frame could not be decoded (or was only partly decoded).
    DecodeError {
        /// The capture's link type is not one we decode.
        UnsupportedLinkType => "unsupported_link_type",
        /// The link-layer header (Ethernet, SLL, VLAN, null) is cut short.
        LinkTruncated => "link_truncated",
        /// IPv4 header malformed or cut short.
        Ipv4Header => "ipv4_header",
        /// IPv6 header or extension headers malformed or cut short.
        Ipv6Header => "ipv6_header",
        /// TCP header malformed or cut short.
        TcpHeader => "tcp_header",
        /// UDP header cut short.
        UdpHeader => "udp_header",
        /// ICMP/ICMPv6 header cut short.
        IcmpHeader => "icmp_header",
        /// The IP payload is shorter than the header claims (snaplen or damage).
        PayloadTruncated => "payload_truncated",
        /// A non-first IP fragment: counted, not reassembled, not tracked.
        Fragment => "fragment",
        /// The frame's capture time is outside the years 1970-2116 (see
        /// [`crate::time::in_range`]): a damaged or crafted file. Not
        /// processed, and it does not move packet time.
        TimeOutOfRange => "time_out_of_range",
    }
);

label_enum!(
    /// Transport protocol of a tracked flow.
    FlowProto {
        Tcp => "tcp",
        Udp => "udp",
    }
);

label_enum!(
    /// How a flow ended. These are the denominators detections are compared with.
    FlowOutcome {
        /// TCP: both sides sent FIN (or one FIN and the flow went idle after data both ways).
        Closed => "closed",
        /// TCP: an RST claimed from the server side ended an established flow.
        ResetByServer => "reset_by_server",
        /// TCP: the client side sent the RST.
        ResetByClient => "reset_by_client",
        /// TCP: the SYN was answered by an RST (port closed or rejected).
        Refused => "refused",
        /// TCP: SYN(s) sent, never answered.
        HandshakeTimeout => "handshake_timeout",
        /// TCP: established, then went idle without FIN or RST.
        IdleTimeout => "idle_timeout",
        /// UDP: at least one datagram came back from the server.
        Answered => "answered",
        /// UDP: nothing came back from the server.
        Unanswered => "unanswered",
        /// Evicted to make room before it ended (see evictions by reason).
        Evicted => "evicted",
        /// Still open when the capture or the daemon ended.
        Unfinished => "unfinished",
    }
);

label_enum!(
    /// Why a flow-table entry was removed early.
    EvictionReason {
        /// The table was full; the least recently seen flow made room.
        TableFull => "table_full",
        /// The half-open (bare SYN) table was full.
        HalfOpenFull => "half_open_full",
    }
);

label_enum!(
    /// Detection signatures (the `signature` field of events).
    Signature {
        RstInjection => "rst_injection",
        DnsInjection => "dns_injection",
        HttpInjection => "http_injection",
        Blackhole => "blackhole",
        Throttling => "throttling",
    }
);

label_enum!(
    /// What is counted per watch-list group as the denominator of its
    /// detections: connections and queries whose target is in the group.
    GroupTarget {
        /// TCP flows that ended, with a TLS SNI or HTTP Host.
        TcpFlow => "tcp_flow",
        /// UDP/443 flows that ended, opened by a QUIC Initial with an SNI.
        QuicFlow => "quic_flow",
        /// DNS queries (retransmissions not counted), by query name.
        DnsQuery => "dns_query",
    }
);

label_enum!(
    /// When, in a TCP connection, a reset was injected.
    RstStage {
        /// Before the server's SYN/ACK (the SYN itself triggered it).
        AfterSyn => "after_syn",
        /// After the handshake, before the client sent data.
        AfterHandshake => "after_handshake",
        /// After the client's first data (request, ClientHello), before any server data.
        AfterRequest => "after_request",
        /// After the server had sent data.
        Later => "later",
    }
);

label_enum!(
    /// DNS response codes, grouped.
    DnsRcode {
        NoError => "noerror",
        FormErr => "formerr",
        ServFail => "servfail",
        NxDomain => "nxdomain",
        Refused => "refused",
        Other => "other",
    }
);

impl DnsRcode {
    /// The label of a numeric RCODE.
    pub fn of(rcode: u8) -> DnsRcode {
        match rcode {
            0 => DnsRcode::NoError,
            1 => DnsRcode::FormErr,
            2 => DnsRcode::ServFail,
            3 => DnsRcode::NxDomain,
            5 => DnsRcode::Refused,
            _ => DnsRcode::Other,
        }
    }
}

label_enum!(
    /// How an answer whose only rules were path rules (`ttl_mismatch`,
    /// `too_fast`) was excused as its resolver's route moving.
    DnsMoveExcuse {
        /// `min_baseline` distinct names in a row came over the answer's
        /// path, the answer among them.
        Moved => "moved",
        /// Held, and decided at the end of the hold (or of the input) with
        /// the answer among at least two names in a row over its path and
        /// nothing over another path since.
        Quiet => "quiet",
        /// It said what the resolver had said to the same question lately
        /// (its rcode and records; among the last eight questions the
        /// resolver answered): nothing was changed, whoever sent it.
        SameAnswer => "same_answer",
        /// Held for its speed (a verdict that needed `too_fast`), and the
        /// resolver's clean answers since were as fast: its round trip got
        /// shorter (a mobile link or a bloated uplink recovering).
        Faster => "faster",
    }
);

label_enum!(
    /// Where in a connection traffic was blackholed.
    BlackholeStage {
        /// SYNs never answered.
        Syn => "syn",
        /// The TLS ClientHello went out, nothing came back.
        TlsClientHello => "tls_clienthello",
        /// The HTTP request went out, nothing came back.
        HttpRequest => "http_request",
        /// Other first data went out, nothing came back.
        Request => "request",
        /// QUIC Initials never answered.
        QuicInitial => "quic_initial",
        /// The server's data stopped in mid-transfer, and nothing of the
        /// server's came back in the connection after it.
        Transfer => "transfer",
    }
);

label_enum!(
    /// Signatures whose would-be events a link-down period of the live
    /// capture excused (see [`crate::linkdown`]).
    LinkDownExcused {
        /// A flow whose silence overlapped a period.
        Blackhole => "blackhole",
        /// A rate-limited record whose span overlapped a period.
        Throttling => "throttling",
    }
);

/// Counters of one worker. All fields only grow, except `flows_active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Frames seen, by protocol.
    pub packets: [u64; PacketProto::COUNT],
    /// Captured frame bytes (original length), by protocol.
    pub bytes: [u64; PacketProto::COUNT],
    /// Undecodable or partly decodable frames, by reason.
    pub decode_errors: [u64; DecodeError::COUNT],
    /// Flows currently tracked, by protocol (a gauge).
    pub flows_active: [u64; FlowProto::COUNT],
    /// Most flows tracked at once (the high-water mark of `flows_active`
    /// summed over protocols). Merged over workers, the sum of each one's
    /// peak: an upper bound of the whole, exact with one worker.
    pub flows_peak: u64,
    /// Flows started, by protocol.
    pub flows_started: [u64; FlowProto::COUNT],
    /// Flows finished, by protocol and outcome.
    pub flows_finished: [[u64; FlowOutcome::COUNT]; FlowProto::COUNT],
    /// Flow-table evictions by reason.
    pub evictions: [u64; EvictionReason::COUNT],
    /// Packets that matched no flow and created none (e.g. a lone RST).
    pub untracked_packets: u64,
    /// Frames stamped more than [`crate::engine::BEHIND`] before the newest
    /// frame before them: the capture's clock stepped back, or captures
    /// merged out of order. Processed all the same; detections near them
    /// may be wrong.
    pub packets_behind: u64,
    /// Per-server entries removed because the per-server table was full
    /// (`max_servers`); entries idle for [`crate::engine::SERVER_IDLE`] go
    /// uncounted.
    pub server_evictions: u64,
    /// Flow-rate records the throttling judge dropped because its queue was
    /// full (`max_pending`): flows left out of the comparisons.
    pub throttle_records_dropped: u64,
    /// ClientHellos spread over several segments that were not reassembled
    /// because every reassembly buffer (`max_hello_buffers`) was in use.
    pub hello_buffers_exhausted: u64,
    /// Events emitted by signature.
    pub events: [u64; Signature::COUNT],
    /// Events withheld because their flow overlapped a captive-portal
    /// period ([`crate::link::Captive`]), by signature.
    pub captive_withheld: [u64; Signature::COUNT],
    /// Connectivity checks answered by a captive portal, and as expected
    /// (counted by one engine of several).
    pub captive_checks: [u64; 2],
    /// 1 while a captive-portal period is open (one engine of several).
    pub captive_open: u64,
    /// `rst_injection` events by stage.
    pub rst_by_stage: [u64; RstStage::COUNT],
    /// Resets from the first hop that passed the rules, by what was done:
    /// reported, counted (`crate::detectors::rst::LocalResets`).
    pub rst_first_hop: [u64; 2],
    /// DNS queries seen (retransmissions not counted).
    pub dns_queries: u64,
    /// DNS answers seen, by rcode (duplicates and forged ones included).
    pub dns_answers: [u64; DnsRcode::COUNT],
    /// DNS queries that got no answer.
    pub dns_unanswered: u64,
    /// Answers whose only rules were path rules, excused as their
    /// resolver's route moving, by how.
    pub dns_moves_excused: [u64; DnsMoveExcuse::COUNT],
    /// HTTP/1.x requests seen (first request of a flow).
    pub http_requests: u64,
    /// Server segments of HTTP connections with a wrong TCP checksum where
    /// the SYN/ACK's was right (damaged on the way; the client dropped
    /// them): skipped, not responses.
    pub http_damaged_segments: u64,
    /// TLS ClientHellos (flows whose first client data is a TLS handshake).
    pub tls_client_hellos: u64,
    /// QUIC connection attempts (UDP/443 flows starting with a client Initial).
    pub quic_attempts: u64,
    /// `blackhole` events by stage.
    pub blackholes: [u64; BlackholeStage::COUNT],
    /// Blackhole failures not reported because the same server and port
    /// answered the same request (request stages) or another connection
    /// (SYN stage) meanwhile: a busy server (see `detectors::blackhole`).
    pub blackhole_server_busy: [u64; BlackholeStage::COUNT],
    /// TLS ClientHellos acknowledged and never answered over a handshake
    /// completed at the first hop (a local proxy's): not judged.
    pub blackhole_first_hop_handshake: u64,
    /// Unanswered SYNs of a port scan of their server (ten ports or more of
    /// one address within ten seconds): not reported.
    pub blackhole_port_scan: u64,
    /// `blackhole` failures of connections to the vantage point's own
    /// address (scans from outside), not reported.
    pub blackhole_inbound: u64,
    /// Unanswered SYNs to port 443 of a server that serves plain HTTP on
    /// port 80 (a browser's `https://` upgrade): not reported.
    pub blackhole_https_upgrade: u64,
    /// Connections whose server RSTs had the shape of the server host's (or
    /// its firewall's) reply to the client's segments while the server's
    /// own output went on (a fail2ban ban, a rate limit): not reported (see
    /// `detectors::rst`).
    pub rst_server_end_reject: u64,
    /// Flows that would have raised an event but for a link-down period of
    /// the live capture (blackhole: per flow; throttling: per flow, at its
    /// first excused record).
    pub link_down_excused: [u64; LinkDownExcused::COUNT],
    /// Events by watch-list group (index; the last entry is `other`) and
    /// signature. Sized by the engine from its watch list.
    pub by_group: Vec<[u64; Signature::COUNT]>,
    /// Targets per watch-list group (same rows as `by_group`), by kind: the
    /// denominators of `by_group`.
    pub group_targets: Vec<[u64; GroupTarget::COUNT]>,
    /// How long residual blocking lasted (ms), the latest
    /// [`RESIDUAL_RING`] observations, at `residual_count % RESIDUAL_RING`.
    pub residual_ms: [u32; RESIDUAL_RING],
    /// Residual-blocking periods observed (ended by a success).
    pub residual_count: u64,
    /// Downloads judged for throttling per watch-list row (same rows as
    /// `by_group`): TCP flows counted once, at their first judgment (a
    /// checkpoint or their end). The denominator of `throttling` events.
    pub downloads: Vec<u64>,
    /// Goodput of measured TCP flows (watch-list row, kbit/s), the latest
    /// [`GOODPUT_RING`] observations, at `goodput_count % GOODPUT_RING`.
    pub goodput: [(u16, u32); GOODPUT_RING],
    /// Goodput observations so far.
    pub goodput_count: u64,
    /// The latest throttling detection per watch-list row: (packet time,
    /// estimated limit in bit/s).
    pub throttle_limit: Vec<(i64, u64)>,
}

/// Goodput observations kept between two publications.
pub const GOODPUT_RING: usize = 256;

/// Residual-blocking observations kept between two publications.
pub const RESIDUAL_RING: usize = 64;

impl Default for Stats {
    fn default() -> Self {
        Stats {
            packets: [0; PacketProto::COUNT],
            bytes: [0; PacketProto::COUNT],
            decode_errors: [0; DecodeError::COUNT],
            flows_active: [0; FlowProto::COUNT],
            flows_peak: 0,
            flows_started: [0; FlowProto::COUNT],
            flows_finished: [[0; FlowOutcome::COUNT]; FlowProto::COUNT],
            evictions: [0; EvictionReason::COUNT],
            untracked_packets: 0,
            packets_behind: 0,
            server_evictions: 0,
            throttle_records_dropped: 0,
            hello_buffers_exhausted: 0,
            events: [0; Signature::COUNT],
            captive_withheld: [0; Signature::COUNT],
            captive_checks: [0; 2],
            captive_open: 0,
            rst_by_stage: [0; RstStage::COUNT],
            rst_first_hop: [0; 2],
            dns_queries: 0,
            dns_answers: [0; DnsRcode::COUNT],
            dns_unanswered: 0,
            dns_moves_excused: [0; DnsMoveExcuse::COUNT],
            http_requests: 0,
            http_damaged_segments: 0,
            tls_client_hellos: 0,
            quic_attempts: 0,
            blackholes: [0; BlackholeStage::COUNT],
            blackhole_server_busy: [0; BlackholeStage::COUNT],
            blackhole_first_hop_handshake: 0,
            blackhole_port_scan: 0,
            blackhole_inbound: 0,
            blackhole_https_upgrade: 0,
            rst_server_end_reject: 0,
            link_down_excused: [0; LinkDownExcused::COUNT],
            by_group: Vec::new(),
            group_targets: Vec::new(),
            residual_ms: [0; RESIDUAL_RING],
            residual_count: 0,
            downloads: Vec::new(),
            goodput: [(0, 0); GOODPUT_RING],
            goodput_count: 0,
            throttle_limit: Vec::new(),
        }
    }
}

impl Stats {
    /// Total frames seen.
    pub fn total_packets(&self) -> u64 {
        self.packets.iter().sum()
    }
    /// Total decode errors.
    pub fn total_decode_errors(&self) -> u64 {
        self.decode_errors.iter().sum()
    }
    /// Total flows started.
    pub fn total_flows(&self) -> u64 {
        self.flows_started.iter().sum()
    }
    /// Adds `other` into `self` (used to sum workers for a summary).
    pub fn merge(&mut self, other: &Stats) {
        fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        add(&mut self.packets, &other.packets);
        add(&mut self.bytes, &other.bytes);
        add(&mut self.decode_errors, &other.decode_errors);
        add(&mut self.flows_active, &other.flows_active);
        self.flows_peak += other.flows_peak;
        add(&mut self.flows_started, &other.flows_started);
        for (a, b) in self.flows_finished.iter_mut().zip(&other.flows_finished) {
            add(a, b);
        }
        add(&mut self.evictions, &other.evictions);
        self.untracked_packets += other.untracked_packets;
        self.packets_behind += other.packets_behind;
        self.server_evictions += other.server_evictions;
        self.throttle_records_dropped += other.throttle_records_dropped;
        self.hello_buffers_exhausted += other.hello_buffers_exhausted;
        add(&mut self.events, &other.events);
        add(&mut self.captive_withheld, &other.captive_withheld);
        add(&mut self.captive_checks, &other.captive_checks);
        self.captive_open += other.captive_open;
        add(&mut self.rst_by_stage, &other.rst_by_stage);
        add(&mut self.rst_first_hop, &other.rst_first_hop);
        self.dns_queries += other.dns_queries;
        add(&mut self.dns_answers, &other.dns_answers);
        self.dns_unanswered += other.dns_unanswered;
        add(&mut self.dns_moves_excused, &other.dns_moves_excused);
        self.http_requests += other.http_requests;
        self.http_damaged_segments += other.http_damaged_segments;
        self.tls_client_hellos += other.tls_client_hellos;
        self.quic_attempts += other.quic_attempts;
        add(&mut self.blackholes, &other.blackholes);
        add(
            &mut self.blackhole_server_busy,
            &other.blackhole_server_busy,
        );
        self.blackhole_first_hop_handshake += other.blackhole_first_hop_handshake;
        self.blackhole_port_scan += other.blackhole_port_scan;
        self.blackhole_inbound += other.blackhole_inbound;
        self.blackhole_https_upgrade += other.blackhole_https_upgrade;
        self.rst_server_end_reject += other.rst_server_end_reject;
        add(&mut self.link_down_excused, &other.link_down_excused);
        if self.by_group.len() < other.by_group.len() {
            self.by_group
                .resize(other.by_group.len(), [0; Signature::COUNT]);
        }
        for (a, b) in self.by_group.iter_mut().zip(&other.by_group) {
            add(a, b);
        }
        if self.group_targets.len() < other.group_targets.len() {
            self.group_targets
                .resize(other.group_targets.len(), [0; GroupTarget::COUNT]);
        }
        for (a, b) in self.group_targets.iter_mut().zip(&other.group_targets) {
            add(a, b);
        }
        if self.downloads.len() < other.downloads.len() {
            self.downloads.resize(other.downloads.len(), 0);
        }
        for (a, b) in self.downloads.iter_mut().zip(&other.downloads) {
            *a += b;
        }
        // the ring of the sum is only an approximation; counts add up
        self.residual_count += other.residual_count;
        self.goodput_count += other.goodput_count;
        if self.throttle_limit.len() < other.throttle_limit.len() {
            self.throttle_limit
                .resize(other.throttle_limit.len(), (0, 0));
        }
        for (a, b) in self.throttle_limit.iter_mut().zip(&other.throttle_limit) {
            if b.0 > a.0 {
                *a = *b;
            }
        }
    }

    /// Records a measured flow's goodput (bit/s) for watch-list row `row`.
    pub fn observe_goodput(&mut self, row: usize, bps: f64) {
        let i = (self.goodput_count % GOODPUT_RING as u64) as usize;
        if let Some(slot) = self.goodput.get_mut(i) {
            *slot = (
                u16::try_from(row).unwrap_or(u16::MAX),
                (bps / 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32,
            );
        }
        self.goodput_count += 1;
    }

    /// Records how long a residual-blocking period lasted.
    pub fn observe_residual(&mut self, ms: u32) {
        let i = (self.residual_count % RESIDUAL_RING as u64) as usize;
        if let Some(slot) = self.residual_ms.get_mut(i) {
            *slot = ms;
        }
        self.residual_count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_indexed() {
        for (i, s) in Signature::ALL.iter().enumerate() {
            assert_eq!(s.idx(), i);
        }
        let mut l: Vec<_> = DecodeError::ALL.iter().map(|d| d.as_str()).collect();
        l.sort_unstable();
        l.dedup();
        assert_eq!(l.len(), DecodeError::COUNT);
        assert_eq!(Signature::RstInjection.to_string(), "rst_injection");
    }

    #[test]
    fn merge_adds() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        a.packets[PacketProto::Tcp.idx()] = 2;
        b.packets[PacketProto::Tcp.idx()] = 3;
        b.flows_finished[FlowProto::Udp.idx()][FlowOutcome::Answered.idx()] = 1;
        a.merge(&b);
        assert_eq!(a.total_packets(), 5);
        assert_eq!(a.flows_finished[1][FlowOutcome::Answered.idx()], 1);
    }
}
