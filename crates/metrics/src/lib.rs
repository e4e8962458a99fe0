//! tw-metrics: the Prometheus registry of tamperwatch and its HTTP exposition
//! server.
//!
//! * [`Metrics`] owns a private [`prometheus::Registry`] and a handle for
//!   every label value, resolved once at construction and stored in arrays
//!   indexed by the label enum's `idx()`: nothing is looked up per packet.
//!   Every label value of every fixed label set is exported from the first
//!   scrape (with value 0), so `rate()` and dashboards work from the start.
//! * Pipeline workers keep plain counters ([`tw_detect::stats::Stats`]) and a
//!   [`StatsPublisher`] each, which adds the difference since its previous
//!   publish to the shared registry.
//! * [`serve`] exposes `/metrics`, `/` and `/healthz` over HTTP/1.1;
//!   [`Metrics::render`] gives the same text for `--metrics-out`.
//!
//! # Privacy
//!
//! Labels only ever take values from fixed enums, from the build, or from
//! operator configuration (interface names, [`VantageInfo`]). No packet
//! content, address or port ever becomes a label value; a unit test checks the
//! rendered output against an allow-list of label names and rejects any label
//! value that parses as an IP address.

mod publish;
mod server;
pub mod web;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::core::Collector;
use prometheus::{
    Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tw_detect::detectors::rst::LocalResets;
use tw_detect::stats::{
    BlackholeStage, DecodeError, DnsMoveExcuse, DnsRcode, EvictionReason, FlowOutcome, FlowProto,
    GroupTarget, LinkDownExcused, PacketProto, RstStage, Signature,
};
use tw_detect::time::{Nanos, SECOND};

pub use publish::StatsPublisher;
pub use server::{
    bind, capture_health, router, serve, serve_web, Health, HealthFn, CONTENT_TYPE, DEFAULT_LISTEN,
    SHUTDOWN_GRACE,
};

/// Errors of the metrics server.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The listen address is taken by another process.
    #[error(
        "cannot listen for metrics on {addr}: address already in use \
         (is another tamperwatch or exporter running there?); choose another listen address"
    )]
    AddrInUse {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Any other failure to bind the listen address (permissions, no such address, ...).
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The HTTP server failed while running.
    #[error("metrics HTTP server failed: {0}")]
    Serve(#[source] io::Error),
}

/// Defines a fieldless label enum like those of `tw_detect::stats`.
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
            /// Index into per-variant handle arrays.
            pub const fn idx(self) -> usize { self as usize }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

label_enum!(
    /// Why an event was not written (`tamperwatch_events_dropped_total{reason}`).
    DropReason {
        /// The queue between the workers and the event writer was full.
        QueueFull => "queue_full",
        /// The sink failed to write the event.
        SinkError => "sink_error",
    }
);

label_enum!(
    /// Where events are written (`tamperwatch_events_written_total{sink}`).
    Sink {
        /// The JSON-lines event file.
        File => "file",
        /// Standard output.
        Stdout => "stdout",
    }
);

/// Operator-set description of where this instance observes the network,
/// exported as `tamperwatch_vantage_info{vantage, country, network} 1`.
///
/// When [`Metrics::new`] gets `None` the `tamperwatch_vantage_info` family is
/// registered but has no series, so nothing is exported (rather than a series
/// with empty labels that would look like real, if blank, configuration).
/// Individual fields may be empty strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VantageInfo {
    /// Name of the vantage point (e.g. `"home-fiber-1"`).
    pub vantage: String,
    /// Country code of the vantage point (e.g. `"DE"`).
    pub country: String,
    /// Network the vantage point is on (e.g. an ISP name or `"AS3320"`).
    pub network: String,
}

/// Capture-health handles of one interface, from [`Metrics::interface`].
/// Cheap to clone; all clones update the same series.
#[derive(Debug, Clone)]
pub struct InterfaceMetrics {
    name: Arc<str>,
    up: IntGauge,
    packets: IntCounter,
    kernel_drops: IntCounter,
    kernel_freezes: IntCounter,
}

impl InterfaceMetrics {
    /// The interface name (the `interface` label value).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Sets `tamperwatch_capture_up`: whether the capture on this interface is open.
    pub fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }
    /// Whether the capture was last reported open.
    pub fn is_up(&self) -> bool {
        self.up.get() != 0
    }
    /// Adds frames received from this interface.
    pub fn add_packets(&self, n: u64) {
        self.packets.inc_by(n);
    }
    /// Adds frames the kernel dropped (e.g. from `PACKET_STATISTICS`, which
    /// resets on every read, so pass each read's value).
    pub fn add_kernel_drops(&self, n: u64) {
        self.kernel_drops.inc_by(n);
    }
    /// Adds times the kernel ring froze (TPACKET_V3 `tp_freeze_q_cnt`).
    pub fn add_kernel_freezes(&self, n: u64) {
        self.kernel_freezes.inc_by(n);
    }
}

/// The registry and pre-resolved handles of every tamperwatch metric.
///
/// Share it as `Arc<Metrics>`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    names: Vec<String>,
    vantage: Option<VantageInfo>,

    pub(crate) packets: [IntCounter; PacketProto::COUNT],
    pub(crate) bytes: [IntCounter; PacketProto::COUNT],
    pub(crate) decode_errors: [IntCounter; DecodeError::COUNT],
    pub(crate) flows_active: [IntGauge; FlowProto::COUNT],
    pub(crate) flows_started: [IntCounter; FlowProto::COUNT],
    pub(crate) flows_finished: [[IntCounter; FlowOutcome::COUNT]; FlowProto::COUNT],
    pub(crate) evictions: [IntCounter; EvictionReason::COUNT],
    pub(crate) untracked_packets: IntCounter,
    pub(crate) packets_behind: IntCounter,
    pub(crate) server_evictions: IntCounter,
    pub(crate) throttle_records_dropped: IntCounter,
    pub(crate) hello_buffers_exhausted: IntCounter,
    pub(crate) blackhole_first_hop_handshake: IntCounter,
    pub(crate) rst_server_end_reject: IntCounter,
    pub(crate) blackhole_port_scan: IntCounter,
    pub(crate) blackhole_inbound: IntCounter,
    pub(crate) blackhole_https_upgrade: IntCounter,
    pub(crate) events: [IntCounter; Signature::COUNT],
    pub(crate) captive_withheld: [IntCounter; Signature::COUNT],
    pub(crate) captive_checks: [IntCounter; 2],
    pub(crate) captive_open: IntGauge,
    pub(crate) rst_by_stage: [IntCounter; RstStage::COUNT],
    pub(crate) rst_first_hop: [IntCounter; 2],
    pub(crate) dns_queries: IntCounter,
    pub(crate) dns_answers: [IntCounter; DnsRcode::COUNT],
    pub(crate) dns_unanswered: IntCounter,
    pub(crate) dns_moves_excused: [IntCounter; DnsMoveExcuse::COUNT],
    pub(crate) http_requests: IntCounter,
    pub(crate) http_damaged_segments: IntCounter,
    pub(crate) tls_client_hellos: IntCounter,
    pub(crate) quic_attempts: IntCounter,
    pub(crate) blackholes: [IntCounter; BlackholeStage::COUNT],
    pub(crate) blackhole_server_busy: [IntCounter; BlackholeStage::COUNT],
    pub(crate) link_down_excused: [IntCounter; LinkDownExcused::COUNT],
    detections: IntCounterVec,
    pub(crate) residual_seconds: prometheus::Histogram,
    goodput_vec: prometheus::HistogramVec,
    /// Per watch-list group (the last row is `other`).
    pub(crate) goodput: std::sync::RwLock<Vec<prometheus::Histogram>>,
    downloads_vec: IntCounterVec,
    /// Per watch-list group (the last row is `other`).
    pub(crate) downloads: std::sync::RwLock<Vec<IntCounter>>,
    limit_vec: IntGaugeVec,
    /// Per watch-list group (the last row is `other`).
    pub(crate) throttle_limit: std::sync::RwLock<Vec<IntGauge>>,
    /// Per watch-list group (the last row is `other`), per signature.
    pub(crate) by_group: std::sync::RwLock<Vec<[IntCounter; Signature::COUNT]>>,
    group_targets_vec: IntCounterVec,
    /// Per watch-list group (the last row is `other`), per target kind.
    pub(crate) group_targets: std::sync::RwLock<Vec<[IntCounter; GroupTarget::COUNT]>>,
    events_dropped: [IntCounter; DropReason::COUNT],
    events_written: [IntCounter; Sink::COUNT],

    capture_up: IntGaugeVec,
    capture_packets: IntCounterVec,
    capture_kernel_drops: IntCounterVec,
    capture_kernel_freezes: IntCounterVec,
    interfaces: Mutex<Vec<InterfaceMetrics>>,

    workers: IntGauge,
    flow_table_capacity: IntGaugeVec,
    start_time: Gauge,
    last_packet_ns: AtomicI64,
    last_packet: Gauge,
    /// Steps of the host's clock recorded, and what they add up to (live
    /// packet times are on a steady timeline: `tw_capture::clock`).
    clock_steps_seen: AtomicU64,
    clock_steps: IntCounter,
    clock_correction_ns: AtomicI64,
    clock_correction: Gauge,
    config_reload_ok: IntGauge,
    config_reload_ts: Gauge,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("families", &self.names.len())
            .field("vantage", &self.vantage)
            .finish_non_exhaustive()
    }
}

/// Registers collectors and remembers their family names.
struct Builder {
    registry: Registry,
    names: Vec<String>,
}

const DEFINITION: &str = "static metric definitions are valid and unique";

impl Builder {
    fn register<C: Collector + Clone + 'static>(&mut self, c: C) -> C {
        self.names
            .extend(c.desc().iter().map(|d| d.fq_name.clone()));
        self.registry
            .register(Box::new(c.clone()))
            .expect(DEFINITION);
        c
    }
    fn counter(&mut self, name: &str, help: &str) -> IntCounter {
        self.register(IntCounter::new(name, help).expect(DEFINITION))
    }
    fn gauge(&mut self, name: &str, help: &str) -> Gauge {
        self.register(Gauge::new(name, help).expect(DEFINITION))
    }
    fn int_gauge(&mut self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::new(name, help).expect(DEFINITION))
    }
    fn counter_vec(&mut self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.register(IntCounterVec::new(Opts::new(name, help), labels).expect(DEFINITION))
    }
    fn int_gauge_vec(&mut self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.register(IntGaugeVec::new(Opts::new(name, help), labels).expect(DEFINITION))
    }
}

/// Resolves one counter per enum value.
fn per_value<E: Copy, const N: usize>(
    vec: &IntCounterVec,
    all: &[E],
    label: fn(E) -> &'static str,
) -> [IntCounter; N] {
    std::array::from_fn(|i| vec.with_label_values(&[label(all[i])]))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The `version` label of `tamperwatch_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The `commit` label: `TAMPERWATCH_COMMIT` at build time, else empty.
pub const COMMIT: &str = match option_env!("TAMPERWATCH_COMMIT") {
    Some(c) => c,
    None => "",
};

impl Metrics {
    /// Builds the registry with every metric and every fixed label value.
    ///
    /// `tamperwatch_start_time_seconds` is set to now, and
    /// `tamperwatch_config_last_reload_successful` to 1 with its timestamp
    /// now: the binary builds `Metrics` after loading its configuration, and
    /// reports later reloads with [`Metrics::record_config_reload`].
    ///
    /// On Linux the standard `process_*` metrics (CPU seconds, resident and
    /// virtual memory, open file descriptors, threads, start time) of this
    /// process are registered too.
    pub fn new(vantage: Option<VantageInfo>) -> Metrics {
        let mut b = Builder {
            registry: Registry::new(),
            names: Vec::new(),
        };

        let build_info = b.int_gauge_vec(
            "tamperwatch_build_info",
            "Always 1; labels give the tamperwatch version, git commit (if known), \
             rustc version and target triple it was built with.",
            &["version", "commit", "rustc", "target"],
        );
        build_info
            .with_label_values(&[VERSION, COMMIT, env!("TW_RUSTC_VERSION"), env!("TW_TARGET")])
            .set(1);

        let vantage_info = b.int_gauge_vec(
            "tamperwatch_vantage_info",
            "Always 1; labels describe the vantage point as configured by the operator. \
             Absent when no vantage is configured.",
            &["vantage", "country", "network"],
        );
        if let Some(v) = &vantage {
            vantage_info
                .with_label_values(&[v.vantage.as_str(), v.country.as_str(), v.network.as_str()])
                .set(1);
        }

        let packets = b.counter_vec(
            "tamperwatch_packets_total",
            "Frames processed by the pipeline, by protocol.",
            &["proto"],
        );
        let bytes = b.counter_vec(
            "tamperwatch_bytes_total",
            "Bytes of frames processed (original wire length), by protocol.",
            &["proto"],
        );
        let decode_errors = b.counter_vec(
            "tamperwatch_decode_errors_total",
            "Frames that could not be (fully) decoded, by reason.",
            &["reason"],
        );
        let flows_active = b.int_gauge_vec(
            "tamperwatch_flows_active",
            "Flows currently tracked, by transport protocol.",
            &["proto"],
        );
        let flows_started = b.counter_vec(
            "tamperwatch_flows_started_total",
            "Flows that started being tracked, by transport protocol.",
            &["proto"],
        );
        let flows_finished = b.counter_vec(
            "tamperwatch_flows_finished_total",
            "Flows that ended, by transport protocol and outcome; the denominators \
             for detection rates.",
            &["proto", "outcome"],
        );
        let evictions = b.counter_vec(
            "tamperwatch_flow_evictions_total",
            "Flow-table entries removed before their flow ended, by reason.",
            &["reason"],
        );
        let untracked_packets = b.counter(
            "tamperwatch_untracked_packets_total",
            "Packets that matched no tracked flow and started none (e.g. a lone RST).",
        );
        let packets_behind = b.counter(
            "tamperwatch_packets_behind_total",
            "Packets stamped more than a second before the newest packet before them: the \
             capture's clock stepped back while a file was written, or captures merged out of \
             order. Detections near them may be wrong.",
        );
        let server_evictions = b.counter(
            "tamperwatch_server_evictions_total",
            "Per-server entries (baselines) removed because the per-server table was full.",
        );
        let throttle_records_dropped = b.counter(
            "tamperwatch_throttle_records_dropped_total",
            "Flow-rate records the throttling judge dropped because its queue was full.",
        );
        let hello_buffers_exhausted = b.counter(
            "tamperwatch_hello_reassembly_refused_total",
            "ClientHellos spread over segments left unassembled: every reassembly buffer was in use.",
        );
        let blackhole_first_hop_handshake = b.counter(
            "tamperwatch_blackhole_first_hop_handshake_total",
            "TLS ClientHellos acknowledged and never answered over a handshake completed at the first hop (a local TLS or TCP proxy, or a server on the local network): not judged as blackhole.",
        );
        let rst_server_end_reject = b.counter(
            "tamperwatch_rst_server_end_reject_total",
            "Connections whose server RSTs had the shape of the server's own firewall answering the client's segments (over the server's path, answering ACKs the client sent a round trip before) while the server's output went on: a fail2ban ban or a rate limit at the server's end, not reported as rst_injection.",
        );
        let blackhole_port_scan = b.counter(
            "tamperwatch_blackhole_port_scan_total",
            "Connections whose SYNs went unanswered during a port scan of their server (ten ports or more of one address within ten seconds, such as nmap run against your own server): not judged as blackhole.",
        );
        let blackhole_inbound = b.counter(
            "tamperwatch_blackhole_inbound_total",
            "Connections to the vantage point's own address (scans from outside of a gateway's WAN address or a host's global IPv6 address) whose SYNs or requests went unanswered: its own firewall's doing, not judged as blackhole.",
        );
        let blackhole_https_upgrade = b.counter(
            "tamperwatch_blackhole_https_upgrade_total",
            "Connections whose SYNs to port 443 went unanswered at a server that serves plain HTTP on port 80 (no redirect to HTTPS): a browser trying https:// first at an HTTP-only site (Chrome's HTTPS-Upgrades); not judged as blackhole.",
        );
        let events = b.counter_vec(
            "tamperwatch_events_total",
            "Interference events detected, by signature.",
            &["signature"],
        );
        let captive_withheld = b.counter_vec(
            "tamperwatch_captive_portal_events_withheld_total",
            "Events not emitted because their flow overlapped a captive-portal period (a login page intercepting every site), by signature.",
            &["signature"],
        );
        let captive_checks = b.counter_vec(
            "tamperwatch_connectivity_checks_total",
            "Operating systems' connectivity checks seen answered, by result: portal (a captive portal answered) or online (the expected answer).",
            &["result"],
        );
        let captive_open = b.int_gauge(
            "tamperwatch_captive_portal",
            "1 while a captive-portal period is open (a connectivity check was answered by a portal lately and none as expected since).",
        );
        let rst_by_stage = b.counter_vec(
            "tamperwatch_rst_injections_total",
            "rst_injection events by the connection stage the reset hit.",
            &["stage"],
        );
        let rst_first_hop = b.counter_vec(
            "tamperwatch_rst_first_hop_total",
            "Resets that passed the rst_injection rules but came from the first hop (an initial TTL, no router passed them on), by action: reported (an event marked first_hop) or counted (rst_injection.local_resets = \"count\": no event).",
            &["action"],
        );
        let dns_queries = b.counter(
            "tamperwatch_dns_queries_total",
            "DNS queries seen (retransmissions of a query not counted); the denominator of dns_injection.",
        );
        let dns_answers = b.counter_vec(
            "tamperwatch_dns_answers_total",
            "DNS answers seen, by response code (duplicates and forged answers included).",
            &["rcode"],
        );
        let dns_unanswered = b.counter(
            "tamperwatch_dns_unanswered_total",
            "DNS queries that got no answer before their flow ended (or within 5 s, when a busy socket's newer queries needed their record).",
        );
        let dns_moves_excused = b.counter_vec(
            "tamperwatch_dns_route_moves_excused_total",
            "DNS answers that would have been dns_injection events on ttl_mismatch and too_fast alone, excused as their resolver's route moving: moved (min_baseline_answers names in a row came over the new path) or quiet (held, and at the end of the hold it was one of at least two names in a row over the new path, nothing since over the old one), same_answer (what the resolver said lately to the same question) or faster (needed too_fast, and the resolver's clean answers since were as fast).",
            &["reason"],
        );
        let http_requests = b.counter(
            "tamperwatch_http_requests_total",
            "HTTP/1.x requests seen (the first of each connection); the denominator of http_injection.",
        );
        let http_damaged_segments = b.counter(
            "tamperwatch_http_damaged_segments_total",
            "Server segments of HTTP connections damaged on the way (a wrong TCP checksum where the server's SYN/ACK had a right one): skipped, neither part of a response nor a second one.",
        );
        let tls_client_hellos = b.counter(
            "tamperwatch_tls_client_hellos_total",
            "TLS ClientHellos seen (connections whose first client data is a TLS handshake).",
        );
        let quic_attempts = b.counter(
            "tamperwatch_quic_attempts_total",
            "QUIC connection attempts (UDP/443 flows that start with a client Initial).",
        );
        let blackholes = b.counter_vec(
            "tamperwatch_blackholes_total",
            "blackhole events by the stage at which traffic disappeared.",
            &["stage"],
        );
        let blackhole_server_busy = b.counter_vec(
            "tamperwatch_blackhole_server_busy_total",
            "Failures not reported as blackhole because the same server and port answered the same request (request stages: the SNI, or the HTTP Host and request line) or another connection (syn) meanwhile: a busy server, by stage.",
            &["stage"],
        );
        let link_down_excused = b.counter_vec(
            "tamperwatch_link_down_excused_total",
            "Flows not reported because a capture interface was down (no carrier, or administratively) during their silence (blackhole) or their download (throttling), by the signature they would have raised.",
            &["signature"],
        );
        let detections = b.counter_vec(
            "tamperwatch_detections_total",
            "Events by signature and watch-list group (the operator's named groups of domains, or \"other\").",
            &["signature", "group"],
        );
        let group_targets_vec = b.counter_vec(
            "tamperwatch_group_targets_total",
            "Connections and queries per watch-list group, by kind: the denominators of tamperwatch_detections_total per group.",
            &["group", "kind"],
        );
        let residual_seconds = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "tamperwatch_residual_block_seconds",
                "How long residual blocking lasted: from a detection on a (client, server, port) to the first success on it after failures.",
            )
            .buckets(vec![5.0, 15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 600.0]),
        )
        .expect(DEFINITION);
        let residual_seconds = b.register(residual_seconds);
        let goodput_vec = b.register(
            prometheus::HistogramVec::new(
                prometheus::HistogramOpts::new(
                    "tamperwatch_goodput_bytes_per_second",
                    "Delivered rate (bytes per second) of measured TCP downloads (flows that delivered at least \
                     throttling.reference_min_kib over at least a second, or looked rate-limited for \
                     throttling.min_duration_secs), one observation per flow at its end, by watch-list group.",
                )
                .buckets(vec![
                    4e3, 8e3, 16e3, 32e3, 64e3, 128e3, 256e3, 512e3, 1e6, 2e6, 4e6, 8e6, 16e6,
                    32e6, 64e6, 128e6,
                ]),
                &["group"],
            )
            .expect(DEFINITION),
        );
        let downloads_vec = b.counter_vec(
            "tamperwatch_downloads_judged_total",
            "TCP downloads judged for throttling (flows that delivered at least throttling.reference_min_kib over at \
             least a second, or looked rate-limited for throttling.min_duration_secs), counted once per flow at its \
             first judgment (a checkpoint while it runs, or its end), by watch-list group: the denominator of \
             throttling detections.",
            &["group"],
        );
        let limit_vec = b.int_gauge_vec(
            "tamperwatch_throttling_limit_bytes_per_second",
            "Estimated rate limit (the delivered rate plateau, bytes per second) of the latest \
             throttling detection per watch-list group; 0 before any.",
            &["group"],
        );
        let events_dropped = b.counter_vec(
            "tamperwatch_events_dropped_total",
            "Detected events that were not written, by reason.",
            &["reason"],
        );
        let events_written = b.counter_vec(
            "tamperwatch_events_written_total",
            "Events written, by sink.",
            &["sink"],
        );

        let capture_up = b.int_gauge_vec(
            "tamperwatch_capture_up",
            "1 while the capture on the interface is open and the interface is up with a carrier, 0 otherwise.",
            &["interface"],
        );
        let capture_packets = b.counter_vec(
            "tamperwatch_capture_packets_total",
            "Frames received from the interface's capture.",
            &["interface"],
        );
        let capture_kernel_drops = b.counter_vec(
            "tamperwatch_capture_kernel_drops_total",
            "Frames the kernel dropped before tamperwatch could read them.",
            &["interface"],
        );
        let capture_kernel_freezes = b.counter_vec(
            "tamperwatch_capture_kernel_freezes_total",
            "Times the kernel capture ring was full and froze the queue.",
            &["interface"],
        );

        let workers = b.int_gauge("tamperwatch_workers", "Pipeline worker threads running.");
        let flow_table_capacity = b.int_gauge_vec(
            "tamperwatch_flow_table_capacity",
            "Flows the tables can hold (all workers), after the memory ceiling.",
            &["table"],
        );
        for t in ["confirmed", "unconfirmed"] {
            flow_table_capacity.with_label_values(&[t]).set(0);
        }
        let start_time = b.gauge(
            "tamperwatch_start_time_seconds",
            "Start time of the tamperwatch process since the Unix epoch, in seconds.",
        );
        start_time.set(unix_now());
        let last_packet = b.gauge(
            "tamperwatch_last_packet_timestamp_seconds",
            "Capture timestamp of the newest packet processed, since the Unix epoch, \
             in seconds (0 before the first packet).",
        );
        let clock_steps = b.counter(
            "tamperwatch_clock_steps_total",
            "Steps of the host's real-time clock seen by the live capture (NTP, an operator, \
             a board without a battery-backed clock setting its time after boot). Packet \
             times are kept steady across them.",
        );
        let clock_correction = b.gauge(
            "tamperwatch_clock_correction_seconds",
            "What the host's real-time clock was stepped by since the start, in all (0 when \
             never stepped). Added to the steady packet times in what the daemon writes.",
        );
        let config_reload_ok = b.int_gauge(
            "tamperwatch_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded, 0 if it failed.",
        );
        config_reload_ok.set(1);
        let config_reload_ts = b.gauge(
            "tamperwatch_config_last_reload_success_timestamp_seconds",
            "Time of the last successful configuration (re)load since the Unix epoch, \
             in seconds.",
        );
        config_reload_ts.set(start_time.get());

        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::for_self();
            b.names.extend(pc.desc().iter().map(|d| d.fq_name.clone()));
            b.registry.register(Box::new(pc)).expect(DEFINITION);
        }

        let ps = |p: PacketProto| p.as_str();
        let fp = |p: FlowProto| p.as_str();
        Metrics {
            packets: per_value(&packets, PacketProto::ALL, ps),
            bytes: per_value(&bytes, PacketProto::ALL, ps),
            decode_errors: per_value(&decode_errors, DecodeError::ALL, DecodeError::as_str),
            flows_active: std::array::from_fn(|i| {
                flows_active.with_label_values(&[FlowProto::ALL[i].as_str()])
            }),
            flows_started: per_value(&flows_started, FlowProto::ALL, fp),
            flows_finished: std::array::from_fn(|p| {
                std::array::from_fn(|o| {
                    flows_finished.with_label_values(&[
                        FlowProto::ALL[p].as_str(),
                        FlowOutcome::ALL[o].as_str(),
                    ])
                })
            }),
            evictions: per_value(&evictions, EvictionReason::ALL, EvictionReason::as_str),
            untracked_packets,
            packets_behind,
            server_evictions,
            throttle_records_dropped,
            hello_buffers_exhausted,
            blackhole_first_hop_handshake,
            rst_server_end_reject,
            blackhole_port_scan,
            blackhole_inbound,
            blackhole_https_upgrade,
            events: per_value(&events, Signature::ALL, Signature::as_str),
            captive_withheld: per_value(&captive_withheld, Signature::ALL, Signature::as_str),
            captive_checks: per_value(&captive_checks, &["portal", "online"], |r| r),
            captive_open,
            rst_by_stage: per_value(&rst_by_stage, RstStage::ALL, RstStage::as_str),
            rst_first_hop: per_value(&rst_first_hop, &LocalResets::ACTIONS, |a| a),
            dns_queries,
            dns_answers: per_value(&dns_answers, DnsRcode::ALL, DnsRcode::as_str),
            dns_unanswered,
            dns_moves_excused: per_value(
                &dns_moves_excused,
                DnsMoveExcuse::ALL,
                DnsMoveExcuse::as_str,
            ),
            http_requests,
            http_damaged_segments,
            tls_client_hellos,
            quic_attempts,
            blackholes: per_value(&blackholes, BlackholeStage::ALL, BlackholeStage::as_str),
            blackhole_server_busy: per_value(
                &blackhole_server_busy,
                BlackholeStage::ALL,
                BlackholeStage::as_str,
            ),
            link_down_excused: per_value(
                &link_down_excused,
                LinkDownExcused::ALL,
                LinkDownExcused::as_str,
            ),
            by_group: std::sync::RwLock::new(Self::group_rows_of(&detections, &[])),
            group_targets: std::sync::RwLock::new(Self::target_rows_of(&group_targets_vec, &[])),
            group_targets_vec,
            detections,
            residual_seconds,
            goodput: std::sync::RwLock::new(Self::rows_of(&goodput_vec, &[])),
            goodput_vec,
            downloads: std::sync::RwLock::new(Self::rows_of(&downloads_vec, &[])),
            downloads_vec,
            throttle_limit: std::sync::RwLock::new(Self::rows_of(&limit_vec, &[])),
            limit_vec,
            events_dropped: per_value(&events_dropped, DropReason::ALL, DropReason::as_str),
            events_written: per_value(&events_written, Sink::ALL, Sink::as_str),
            capture_up,
            capture_packets,
            capture_kernel_drops,
            capture_kernel_freezes,
            interfaces: Mutex::new(Vec::new()),
            workers,
            flow_table_capacity,
            start_time,
            last_packet_ns: AtomicI64::new(i64::MIN),
            last_packet,
            clock_steps_seen: AtomicU64::new(0),
            clock_steps,
            clock_correction_ns: AtomicI64::new(0),
            clock_correction,
            config_reload_ok,
            config_reload_ts,
            registry: b.registry,
            names: b.names,
            vantage,
        }
    }

    /// The underlying registry (e.g. to register more collectors).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The vantage description given at construction.
    pub fn vantage(&self) -> Option<&VantageInfo> {
        self.vantage.as_ref()
    }

    /// Names of every registered metric family, sorted, including families
    /// that currently have no series (`tamperwatch_vantage_info` without a
    /// vantage) and, on Linux, the `process_*` families.
    pub fn metric_names(&self) -> Vec<String> {
        let mut n = self.names.clone();
        n.sort_unstable();
        n.dedup();
        n
    }

    /// The registry in the Prometheus text exposition format 0.0.4
    /// (the body served at `/metrics`, see [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out) {
            // Only fails on malformed metric families, which the fixed
            // definitions above cannot produce.
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }

    /// Capture-health handles for the interface `name` (an operator-configured
    /// interface name, used as the `interface` label). Call once per interface
    /// at start-up; the series are initialised to 0 (capture not up yet).
    /// Calling it again with the same name returns handles to the same series.
    pub fn interface(&self, name: &str) -> InterfaceMetrics {
        let mut list = self
            .interfaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = list.iter().find(|i| &*i.name == name) {
            return i.clone();
        }
        let im = InterfaceMetrics {
            name: name.into(),
            up: self.capture_up.with_label_values(&[name]),
            packets: self.capture_packets.with_label_values(&[name]),
            kernel_drops: self.capture_kernel_drops.with_label_values(&[name]),
            kernel_freezes: self.capture_kernel_freezes.with_label_values(&[name]),
        };
        list.push(im.clone());
        im
    }

    /// Removes an interface's series (the capture moved to another one:
    /// the default route moved); `/healthz` no longer counts it.
    pub fn forget_interface(&self, name: &str) {
        let mut list = self
            .interfaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        list.retain(|i| &*i.name != name);
        let _ = self.capture_up.remove_label_values(&[name]);
        let _ = self.capture_packets.remove_label_values(&[name]);
        let _ = self.capture_kernel_drops.remove_label_values(&[name]);
        let _ = self.capture_kernel_freezes.remove_label_values(&[name]);
    }

    /// Every interface registered with [`Metrics::interface`], in order.
    pub fn interfaces(&self) -> Vec<InterfaceMetrics> {
        self.interfaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Declares the watch-list groups (once, before publishing): every
    /// (signature, group) series, `other` included, exists from then on.
    /// Without a call, only `other` exists.
    pub fn set_watch_groups(&self, groups: &[&str]) {
        let rows = Self::group_rows_of(&self.detections, groups);
        *self
            .by_group
            .write()
            .unwrap_or_else(PoisonError::into_inner) = rows;
        let targets = Self::target_rows_of(&self.group_targets_vec, groups);
        *self
            .group_targets
            .write()
            .unwrap_or_else(PoisonError::into_inner) = targets;
        *self.goodput.write().unwrap_or_else(PoisonError::into_inner) =
            Self::rows_of(&self.goodput_vec, groups);
        *self
            .downloads
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Self::rows_of(&self.downloads_vec, groups);
        *self
            .throttle_limit
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Self::rows_of(&self.limit_vec, groups);
    }

    /// One series of `v` per watch-list group, `other` last.
    fn rows_of<B: prometheus::core::MetricVecBuilder>(
        v: &prometheus::core::MetricVec<B>,
        groups: &[&str],
    ) -> Vec<B::M> {
        groups
            .iter()
            .copied()
            .chain(std::iter::once(tw_detect::watch::OTHER))
            .map(|g| v.with_label_values(&[g]))
            .collect()
    }

    fn target_rows_of(v: &IntCounterVec, groups: &[&str]) -> Vec<[IntCounter; GroupTarget::COUNT]> {
        groups
            .iter()
            .copied()
            .chain(std::iter::once(tw_detect::watch::OTHER))
            .map(|g| {
                std::array::from_fn(|i| v.with_label_values(&[g, GroupTarget::ALL[i].as_str()]))
            })
            .collect()
    }

    pub(crate) fn group_target_rows(&self) -> Vec<[IntCounter; GroupTarget::COUNT]> {
        self.group_targets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn group_rows_of(v: &IntCounterVec, groups: &[&str]) -> Vec<[IntCounter; Signature::COUNT]> {
        groups
            .iter()
            .copied()
            .chain(std::iter::once(tw_detect::watch::OTHER))
            .map(|g| std::array::from_fn(|i| v.with_label_values(&[Signature::ALL[i].as_str(), g])))
            .collect()
    }

    pub(crate) fn group_rows(&self) -> Vec<[IntCounter; Signature::COUNT]> {
        self.by_group
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets `tamperwatch_flow_table_capacity`: the confirmed and unconfirmed
    /// (half-open) tables' sizes in use.
    pub fn set_flow_table_capacity(&self, confirmed: usize, unconfirmed: usize) {
        for (t, n) in [("confirmed", confirmed), ("unconfirmed", unconfirmed)] {
            self.flow_table_capacity
                .with_label_values(&[t])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Sets `tamperwatch_workers`.
    pub fn set_workers(&self, n: usize) {
        self.workers.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Reports the capture timestamp of a processed packet; the exported
    /// `tamperwatch_last_packet_timestamp_seconds` only moves forward, so
    /// several workers may call this concurrently (e.g. at each publish with
    /// their newest packet time).
    ///
    /// Live packet times are on a steady timeline (`tw_capture::clock`):
    /// the gauge shows them by the host's clock as corrected now (see
    /// [`Metrics::clock_stepped`]).
    pub fn observe_packet_time(&self, ts: Nanos) {
        self.last_packet_ns.fetch_max(ts, Ordering::Relaxed);
        self.publish_last_packet();
    }

    fn publish_last_packet(&self) {
        // Re-publish until the gauge reflects the maximum seen at our last
        // look, so a slower concurrent caller cannot leave an older value.
        loop {
            let cur = self.last_packet_ns.load(Ordering::Relaxed);
            let c = self.clock_correction_ns.load(Ordering::Relaxed);
            if cur != i64::MIN {
                self.last_packet
                    .set(cur.saturating_add(c) as f64 / SECOND as f64);
            }
            if self.last_packet_ns.load(Ordering::Relaxed) == cur
                && self.clock_correction_ns.load(Ordering::Relaxed) == c
            {
                break;
            }
        }
    }

    /// Reports the live capture's clock: `steps` measured since the start
    /// (a running total, which several capture threads report, each about
    /// once a second), and the `correction` they add up to (nanoseconds),
    /// read after `steps` (so at least as new). A report of fewer steps
    /// than one already made is stale and ignored. Returns whether this
    /// call was the first to report the latest steps (its caller logs them).
    pub fn clock_stepped(&self, steps: u64, correction: Nanos) -> bool {
        let old = self.clock_steps_seen.fetch_max(steps, Ordering::Relaxed);
        if steps < old {
            return false;
        }
        if self.clock_correction_ns.swap(correction, Ordering::Relaxed) != correction {
            self.clock_correction.set(correction as f64 / SECOND as f64);
            self.publish_last_packet();
        }
        if steps == old {
            return false;
        }
        self.clock_steps.inc_by(steps - old);
        true
    }

    /// What the host's clock was stepped by since the start (nanoseconds;
    /// 0 in replays): added to a packet time, it gives the time by the
    /// clock as corrected now.
    pub fn clock_correction_ns(&self) -> Nanos {
        self.clock_correction_ns.load(Ordering::Relaxed)
    }

    /// Reports a configuration reload: sets
    /// `tamperwatch_config_last_reload_successful`, and on success its
    /// timestamp to now.
    pub fn record_config_reload(&self, ok: bool) {
        self.config_reload_ok.set(i64::from(ok));
        if ok {
            self.config_reload_ts.set(unix_now());
        }
    }

    /// The `tamperwatch_events_dropped_total` counter for `reason`.
    pub fn events_dropped(&self, reason: DropReason) -> &IntCounter {
        &self.events_dropped[reason.idx()]
    }

    /// The `tamperwatch_events_written_total` counter for `sink`.
    pub fn events_written(&self, sink: Sink) -> &IntCounter {
        &self.events_written[sink.idx()]
    }

    /// `tamperwatch_start_time_seconds`.
    pub fn start_time_seconds(&self) -> f64 {
        self.start_time.get()
    }
}

#[cfg(test)]
mod tests;
