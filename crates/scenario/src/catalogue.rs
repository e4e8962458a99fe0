//! Built-in named scenarios.
//!
//! Adding one: write a `fn my_scenario() -> Result<Vec<u8>>` returning the file bytes
//! (usually `timeline.to_pcap_bytes(..)`) and add one line to [`CATALOGUE`] with its
//! expected counts.
//!
//! Counting conventions for [`Expected`]:
//! * `packets`: records in the file (what `tcpdump -r` prints).
//! * `tcp_flows` / `udp_flows`: distinct bidirectional 5-tuples carried by TCP/UDP
//!   packets (IP-in-ICMP quotes excluded). A fragmented datagram counts once (its first
//!   fragment carries the ports; reassembly yields the same flow).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::blackhole_scenarios as bhs;
use crate::dns::{self, qtype, rcode, DnsFlags, Rr};
use crate::dns_scenarios as dnss;
use crate::endpoint::{Endpoint, IpIdMode};
use crate::http_scenarios as https;
use crate::link::{self, Vlan};
use crate::packet::{fragment_ipv4, Icmpv4Spec, Icmpv6Spec, UdpSpec};
use crate::pcap::{linktype, PcapNgWriter};
use crate::rng::Rng;
use crate::rst_scenarios as rst;
use crate::session::{Direction, DnsExchange, TcpSession, Timeline, TsClock, UdpFlow, EPOCH_NS};
use crate::throttle_scenarios as thr;
use crate::{http, quic, tls, Error, Result};

/// Expected contents of a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Packet records in the file.
    pub packets: usize,
    /// Distinct TCP flows.
    pub tcp_flows: usize,
    /// Distinct UDP flows.
    pub udp_flows: usize,
}

/// Output container of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// A named built-in scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Name (file stem in `write-all`).
    pub name: &'static str,
    /// One-line description, including what the counts consist of.
    pub description: &'static str,
    /// Link type (for pcapng: of the first interface).
    pub linktype: u32,
    /// File format.
    pub format: Format,
    /// Expected counts.
    pub expected: Expected,
    /// Produce the complete file bytes (deterministic).
    pub generate: fn() -> Result<Vec<u8>>,
}

impl Scenario {
    /// Write the scenario to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        std::fs::write(path, (self.generate)()?)?;
        Ok(())
    }

    /// File name used by [`write_all`]: `NAME.pcap` (pcapng files too, as requested by
    /// the fixture layout; the magic number tells readers the format).
    pub fn file_name(&self) -> String {
        format!("{}.pcap", self.name)
    }
}

const fn sc(
    name: &'static str,
    linktype: u32,
    format: Format,
    (packets, tcp_flows, udp_flows): (usize, usize, usize),
    generate: fn() -> Result<Vec<u8>>,
    description: &'static str,
) -> Scenario {
    Scenario {
        name,
        description,
        linktype,
        format,
        expected: Expected {
            packets,
            tcp_flows,
            udp_flows,
        },
        generate,
    }
}

use linktype::{ETHERNET, LINUX_SLL, LINUX_SLL2, NULL, RAW};
use Format::{Pcap, PcapNg};

/// The registry. One line per scenario: name, link type, format, (packets, tcp flows,
/// udp flows), generator, description.
pub static CATALOGUE: &[Scenario] = &[
    sc("tcp_http_clean", ETHERNET, Pcap, (15, 1, 0), tcp_http_clean,
        "IPv4 HTTP/1.1: handshake(3), GET(1), 200 response in 5 segments + 3 client ACKs, FIN both ways(3) = 15 pkts, 1 TCP flow"),
    sc("tcp_tls_clean", ETHERNET, Pcap, (26, 1, 0), tcp_tls_clean,
        "IPv4 TLS to :443: handshake(3), ClientHello SNI www.example.com(1), server flight 4 segs + 2 ACKs, client records(1), 8-seg response + 4 ACKs, FIN both ways(3) = 26 pkts, 1 TCP flow"),
    sc("tcp_rst_by_server_abort", ETHERNET, Pcap, (9, 1, 0), tcp_rst_by_server_abort,
        "IPv4 HTTP: handshake(3), GET(1), 2 response segs + 1 ACK, server RST|ACK at its next seq (SO_LINGER 0 abort, genuine TTL/IP-ID/window/timestamps)(1) + client data(1) = 9 pkts, 1 TCP flow"),
    sc("tcp_syn_unanswered", ETHERNET, Pcap, (3, 1, 0), tcp_syn_unanswered,
        "IPv4 SYN to :443 + 2 retransmissions at +1 s and +3 s, no answer = 3 pkts, 1 TCP flow"),
    sc("tcp_refused", ETHERNET, Pcap, (2, 1, 0), tcp_refused,
        "IPv4 SYN to :8080 answered by RST|ACK (seq 0, ack ISN+1, window 0) = 2 pkts, 1 TCP flow"),
    sc("udp_dns_clean", ETHERNET, Pcap, (6, 0, 3), udp_dns_clean,
        "IPv4 DNS to 192.0.2.1:53 from 3 source ports: A example.com (1 answer), AAAA example.com (1 answer), NXDOMAIN doesnotexist.example = 6 pkts, 3 UDP flows"),
    sc("mixed_small", ETHERNET, Pcap, (32, 4, 3), mixed_small,
        "32 pkts: IPv4 HTTP (9, server data seg truncated to snaplen 96), IPv6 TLS (9), 802.1Q vlan 100 DNS (2), QinQ 200/300 TCP handshake+RST (4), TTL-1 SYN + ICMP time-exceeded quoting it (2), ICMPv6 time-exceeded quoting UDP (1), fragmented 1.8 KB DNS response in 2 IPv4 fragments (2), QUIC Initial pair (2), ARP request (1); 4 TCP + 3 UDP flows"),
    sc("linktypes_sll", LINUX_SLL, Pcap, (11, 2, 0), linktypes_sll,
        "LINKTYPE_LINUX_SLL, µs: IPv4 HTTP exchange (9) + IPv6 refused SYN (2) = 11 pkts, 2 TCP flows"),
    sc("linktypes_sll2", LINUX_SLL2, Pcap, (11, 2, 0), linktypes_sll2,
        "LINKTYPE_LINUX_SLL2, ns: IPv4 HTTP exchange (9) + IPv6 refused SYN (2) = 11 pkts, 2 TCP flows"),
    sc("linktypes_raw", RAW, Pcap, (11, 2, 0), linktypes_raw,
        "LINKTYPE_RAW, ns: IPv4 HTTP exchange (9) + IPv6 refused SYN (2) = 11 pkts, 2 TCP flows"),
    sc("linktypes_null", NULL, Pcap, (11, 2, 0), linktypes_null,
        "LINKTYPE_NULL (AF 2 / AF 30 little-endian), µs: IPv4 HTTP exchange (9) + IPv6 refused SYN (2) = 11 pkts, 2 TCP flows"),
    sc("pcapng_multi_iface", ETHERNET, PcapNg, (13, 1, 1), pcapng_multi_iface,
        "pcapng, if0 Ethernet tsresol µs: IPv4 HTTP exchange (9); if1 LINUX_SLL tsresol ns: DNS A query+answer twice from one port (4) = 13 pkts, 1 TCP + 1 UDP flow. NB: libpcap <= 1.10 (tcpdump) refuses mixed link types"),
    sc("pcapng_multi_iface_eth", ETHERNET, PcapNg, (13, 1, 1), pcapng_multi_iface_eth,
        "pcapng, two Ethernet interfaces (eth0 tsresol µs, eth1 tsresol ns), same content as pcapng_multi_iface = 13 pkts, 1 TCP + 1 UDP flow; readable by tcpdump"),
    sc("rst_inject_data_after", ETHERNET, Pcap, (8, 1, 0), rst::rst_inject_data_after,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_data_after"),
    sc("rst_inject_gfw_burst", ETHERNET, Pcap, (7, 1, 0), rst::rst_inject_gfw_burst,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_gfw_burst"),
    sc("rst_inject_same_seq_burst", ETHERNET, Pcap, (7, 1, 0), rst::rst_inject_same_seq_burst,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_same_seq_burst"),
    sc("rst_inject_inpath", ETHERNET, Pcap, (5, 1, 0), rst::rst_inject_inpath,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_inpath"),
    sc("rst_inject_copied_ip_id", ETHERNET, Pcap, (5, 1, 0), rst::rst_inject_copied_ip_id,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_copied_ip_id"),
    sc("rst_inject_after_syn", ETHERNET, Pcap, (10, 2, 0), rst::rst_inject_after_syn,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_after_syn"),
    sc("rst_inject_sandvine", ETHERNET, Pcap, (5, 1, 0), rst::rst_inject_sandvine,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_sandvine"),
    sc("rst_inject_henan", ETHERNET, Pcap, (6, 1, 0), rst::rst_inject_henan,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_henan"),
    sc("rst_inject_mid_stream", ETHERNET, Pcap, (6, 1, 0), rst::rst_inject_mid_stream,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_mid_stream"),
    sc("rst_inject_seq_behind", ETHERNET, Pcap, (6, 1, 0), rst::rst_inject_seq_behind,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_seq_behind"),
    sc("rst_inject_large_hello", ETHERNET, Pcap, (7, 1, 0), rst::rst_inject_large_hello,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_large_hello"),
    sc("rst_trap_server_abort", ETHERNET, Pcap, (10, 1, 0), rst::rst_trap_server_abort,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_server_abort"),
    sc("rst_trap_server_abort_late_ack", ETHERNET, Pcap, (10, 1, 0), rst::rst_trap_server_abort_late_ack,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_server_abort_late_ack"),
    sc("rst_trap_server_abort_no_data", ETHERNET, Pcap, (5, 1, 0), rst::rst_trap_server_abort_no_data,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_server_abort_no_data"),
    sc("rst_trap_client_abort", ETHERNET, Pcap, (12, 2, 0), rst::rst_trap_client_abort,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_client_abort"),
    sc("rst_trap_after_fin", ETHERNET, Pcap, (8, 1, 0), rst::rst_trap_after_fin,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_after_fin"),
    sc("rst_trap_lone_and_duplicates", ETHERNET, Pcap, (11, 3, 0), rst::rst_trap_lone_and_duplicates,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_lone_and_duplicates"),
    sc("rst_trap_loss", ETHERNET, Pcap, (13, 1, 0), rst::rst_trap_loss,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_loss"),
    sc("rst_trap_route_change", ETHERNET, Pcap, (11, 1, 0), rst::rst_trap_route_change,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_route_change"),
    sc("rst_trap_load_balanced", ETHERNET, Pcap, (9, 1, 0), rst::rst_trap_load_balanced,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_load_balanced"),
    sc("rst_trap_idle_timeout", ETHERNET, Pcap, (7, 1, 0), rst::rst_trap_idle_timeout,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_idle_timeout"),
    sc("rst_trap_refused", ETHERNET, Pcap, (12, 3, 0), rst::rst_trap_refused,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_refused"),
    sc("rst_trap_server_closes", ETHERNET, Pcap, (107, 6, 0), rst::rst_trap_server_closes,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_server_closes"),
    sc("rst_trap_syn_retry_after_refusal", ETHERNET, Pcap, (14, 1, 0), rst::rst_trap_syn_retry_after_refusal,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_syn_retry_after_refusal"),
    sc("rst_trap_nat_idle_reset", ETHERNET, Pcap, (24, 3, 0), rst::rst_trap_nat_idle_reset,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_trap_nat_idle_reset"),
    sc("rst_inject_v6_no_ack", ETHERNET, Pcap, (6, 1, 0), rst::rst_inject_v6_no_ack,
        "rst_injection fixture: see tw_scenario::rst_scenarios::rst_inject_v6_no_ack"),
    sc("dns_inject_race_iran", ETHERNET, Pcap, (13, 0, 6), dnss::dns_inject_race_iran,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_inject_race_iran"),
    sc("dns_inject_race_gfw_pool", ETHERNET, Pcap, (13, 0, 6), dnss::dns_inject_race_gfw_pool,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_inject_race_gfw_pool"),
    sc("dns_inject_inpath_iran", ETHERNET, Pcap, (14, 0, 7), dnss::dns_inject_inpath_iran,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_inject_inpath_iran"),
    sc("dns_inject_turkmenistan", ETHERNET, Pcap, (12, 0, 6), dnss::dns_inject_turkmenistan,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_inject_turkmenistan"),
    sc("dns_inject_bogon_fast", ETHERNET, Pcap, (12, 0, 6), dnss::dns_inject_bogon_fast,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_inject_bogon_fast"),
    sc("dns_inject_malformed", ETHERNET, Pcap, (12, 0, 6), dnss::dns_inject_malformed,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_inject_malformed"),
    sc("dns_trap_nxdomain", ETHERNET, Pcap, (14, 0, 7), dnss::dns_trap_nxdomain,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_nxdomain"),
    sc("dns_trap_duplicates", ETHERNET, Pcap, (17, 0, 7), dnss::dns_trap_duplicates,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_duplicates"),
    sc("dns_trap_local_zones", ETHERNET, Pcap, (16, 0, 8), dnss::dns_trap_local_zones,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_local_zones"),
    sc("dns_trap_route_change", ETHERNET, Pcap, (18, 0, 9), dnss::dns_trap_route_change,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_route_change"),
    sc("dns_trap_round_robin_cname", ETHERNET, Pcap, (18, 0, 9), dnss::dns_trap_round_robin_cname,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_round_robin_cname"),
    sc("dns_trap_truncated_tcp_retry", ETHERNET, Pcap, (20, 1, 6), dnss::dns_trap_truncated_tcp_retry,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_truncated_tcp_retry"),
    sc("dns_trap_loss", ETHERNET, Pcap, (13, 0, 7), dnss::dns_trap_loss,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_loss"),
    sc("dns_trap_id_reuse", ETHERNET, Pcap, (24, 1, 6), dnss::dns_trap_id_reuse,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_id_reuse"),
    sc("dns_trap_rotated_rrset", ETHERNET, Pcap, (14, 0, 6), dnss::dns_trap_rotated_rrset,
        "dns_injection fixture: see tw_scenario::dns_scenarios::dns_trap_rotated_rrset"),
    sc("http_inject_iran_race", ETHERNET, Pcap, (6, 1, 0), https::http_inject_iran_race,
        "http_injection fixture: see tw_scenario::http_scenarios::http_inject_iran_race"),
    sc("http_inject_sandvine_redirect", ETHERNET, Pcap, (6, 1, 0), https::http_inject_sandvine_redirect,
        "http_injection fixture: see tw_scenario::http_scenarios::http_inject_sandvine_redirect"),
    sc("http_inject_inpath_page", ETHERNET, Pcap, (5, 1, 0), https::http_inject_inpath_page,
        "http_injection fixture: see tw_scenario::http_scenarios::http_inject_inpath_page"),
    sc("http_trap_server_pages", ETHERNET, Pcap, (25, 3, 0), https::http_trap_server_pages,
        "http_injection fixture: see tw_scenario::http_scenarios::http_trap_server_pages"),
    sc("http_block_server_side_scaled", ETHERNET, Pcap, (8, 1, 0), https::http_block_server_side_scaled,
        "http_injection fixture: see tw_scenario::http_scenarios::http_block_server_side_scaled"),
    sc("http_trap_keepalive", ETHERNET, Pcap, (11, 1, 0), https::http_trap_keepalive,
        "http_injection fixture: see tw_scenario::http_scenarios::http_trap_keepalive"),
    sc("http_trap_syn_proxy", ETHERNET, Pcap, (11, 1, 0), https::http_trap_syn_proxy,
        "http_injection fixture: see tw_scenario::http_scenarios::http_trap_syn_proxy"),
    sc("http_trap_syn_proxy_short", ETHERNET, Pcap, (28, 3, 0), https::http_trap_syn_proxy_short,
        "http_injection fixture: see tw_scenario::http_scenarios::http_trap_syn_proxy_short"),
    sc("bh_tls_retransmitted", ETHERNET, Pcap, (16, 2, 0), bhs::bh_tls_retransmitted,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_tls_retransmitted"),
    sc("bh_http_unacknowledged", ETHERNET, Pcap, (6, 1, 0), bhs::bh_http_unacknowledged,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_http_unacknowledged"),
    sc("bh_serverhello_dropped", ETHERNET, Pcap, (6, 1, 0), bhs::bh_serverhello_dropped,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_serverhello_dropped"),
    sc("bh_residual_after_rst", ETHERNET, Pcap, (18, 3, 0), bhs::bh_residual_after_rst,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_residual_after_rst"),
    sc("bh_residual_ends", ETHERNET, Pcap, (26, 4, 0), bhs::bh_residual_ends,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_residual_ends"),
    sc("bh_server_silent", ETHERNET, Pcap, (5, 1, 0), bhs::bh_server_silent,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_server_silent"),
    sc("bh_syn_port_blocked", ETHERNET, Pcap, (20, 3, 0), bhs::bh_syn_port_blocked,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_syn_port_blocked"),
    sc("bh_transfer_frozen", ETHERNET, Pcap, (66, 3, 0), bhs::bh_transfer_frozen,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_transfer_frozen"),
    sc("bh_trap_transfer_stalls", ETHERNET, Pcap, (212, 10, 0), bhs::bh_trap_transfer_stalls,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_transfer_stalls"),
    sc("captive_portal_cafe", ETHERNET, Pcap, (74, 9, 5), crate::captive_scenarios::captive_portal_cafe,
        "captive-portal fixture: see tw_scenario::captive_scenarios::captive_portal_cafe"),
    sc("captive_portal_login_page", ETHERNET, Pcap, (48, 7, 0), crate::captive_scenarios::captive_portal_login_page,
        "captive-portal fixture: see tw_scenario::captive_scenarios::captive_portal_login_page"),
    sc("bh_quic_blocked", ETHERNET, Pcap, (11, 1, 1), bhs::bh_quic_blocked,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_quic_blocked"),
    sc("bh_trap_server_down", ETHERNET, Pcap, (16, 3, 0), bhs::bh_trap_server_down,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_server_down"),
    sc("bh_trap_loss_recovered", ETHERNET, Pcap, (9, 1, 0), bhs::bh_trap_loss_recovered,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_loss_recovered"),
    sc("bh_trap_loss_acked_late", ETHERNET, Pcap, (8, 1, 0), bhs::bh_trap_loss_acked_late,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_loss_acked_late"),
    sc("bh_trap_answered_then_client_reset", ETHERNET, Pcap, (8, 1, 0), bhs::bh_trap_answered_then_client_reset,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_answered_then_client_reset"),
    sc("bh_trap_pmtu", ETHERNET, Pcap, (17, 2, 0), bhs::bh_trap_pmtu,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_pmtu"),
    sc("bh_trap_impatient_and_icmp", ETHERNET, Pcap, (9, 2, 0), bhs::bh_trap_impatient_and_icmp,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_impatient_and_icmp"),
    sc("bh_trap_quic_no_contrast", ETHERNET, Pcap, (3, 0, 1), bhs::bh_trap_quic_no_contrast,
        "blackhole fixture: see tw_scenario::blackhole_scenarios::bh_trap_quic_no_contrast"),
    sc("thr_policed_targeted", RAW, Pcap, (4226, 3, 0), thr::thr_policed_targeted,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_policed_targeted"),
    sc("thr_policed_same_server", RAW, Pcap, (2353, 2, 0), thr::thr_policed_same_server,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_policed_same_server"),
    sc("thr_shaped_targeted", RAW, Pcap, (3587, 2, 0), thr::thr_shaped_targeted,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_shaped_targeted"),
    sc("thr_history_drop", RAW, Pcap, (2944, 4, 0), thr::thr_history_drop,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_history_drop"),
    sc("thr_trap_slow_link", RAW, Pcap, (1100, 2, 0), thr::thr_trap_slow_link,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_slow_link"),
    sc("thr_trap_random_loss", RAW, Pcap, (5357, 2, 0), thr::thr_trap_random_loss,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_random_loss"),
    sc("thr_trap_reordering", RAW, Pcap, (4019, 2, 0), thr::thr_trap_reordering,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_reordering"),
    sc("thr_trap_short", RAW, Pcap, (1941, 2, 0), thr::thr_trap_short,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_short"),
    sc("thr_trap_app_limited", RAW, Pcap, (5082, 3, 0), thr::thr_trap_app_limited,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_app_limited"),
    sc("thr_trap_receive_window", RAW, Pcap, (2956, 2, 0), thr::thr_trap_receive_window,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_receive_window"),
    sc("thr_trap_congestion", RAW, Pcap, (4419, 2, 0), thr::thr_trap_congestion,
        "throttling fixture: see tw_scenario::throttle_scenarios::thr_trap_congestion"),
];

/// All built-in scenarios.
pub fn catalogue() -> &'static [Scenario] {
    CATALOGUE
}

/// Look a scenario up by name.
pub fn find_scenario(name: &str) -> Result<&'static Scenario> {
    CATALOGUE
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::UnknownScenario(name.into()))
}

/// Write every scenario as `dir/NAME.pcap`; returns the paths.
pub fn write_all(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for s in CATALOGUE {
        let p = dir.join(s.file_name());
        s.write(&p)?;
        out.push(p);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Shared building blocks

/// Milliseconds in ns.
pub const MS: i64 = 1_000_000;
/// Microseconds in ns.
pub const US: i64 = 1_000;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("valid literal socket address")
}

/// Standard IPv4 client (192.0.2.10:`port`) ↔ server (203.0.113.34:`sport`) session
/// with 1 kHz timestamps.
pub fn v4_session(port: u16, sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let s = Endpoint::server(SocketAddr::new(
        Ipv4Addr::new(203, 0, 113, 34).into(),
        sport,
    ));
    TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000))
}

/// Standard IPv6 client (2001:db8:1::10) ↔ server (2001:db8:ffff::34) session.
pub fn v6_session(port: u16, sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(
        "2001:db8:1::10"
            .parse::<Ipv6Addr>()
            .expect("literal")
            .into(),
        port,
    ));
    let s = Endpoint::server(SocketAddr::new(
        "2001:db8:ffff::34"
            .parse::<Ipv6Addr>()
            .expect("literal")
            .into(),
        sport,
    ));
    TcpSession::new(c, s).with_timestamps(TsClock::khz(0x2000_0000, 0x5000_0000))
}

/// Small HTTP exchange (9 pkts): handshake, GET, 1-segment 200, client ACK, close.
/// Returns the timeline index of the server's data segment and the end time.
fn small_http(s: &mut TcpSession, tl: &mut Timeline, t: i64, rtt: i64) -> (i64, i64) {
    let t = s.handshake(tl, t, rtt);
    let t = s.client_send(tl, t + 200 * US, &http::get("example.com", "/"));
    let data_ts = t + rtt;
    let t = s.server_send(tl, data_ts, &http::ok_html(900));
    let t = s.client_ack(tl, t + 40 * US);
    let t = s.close(tl, t + 5 * MS, rtt);
    (data_ts, t)
}

fn linktype_timeline() -> Timeline {
    let mut tl = Timeline::new();
    let mut s = v4_session(50001, 80);
    small_http(&mut s, &mut tl, EPOCH_NS, 20 * MS);
    let mut s6 = v6_session(50002, 8443);
    let t = EPOCH_NS + 100 * MS + 123;
    s6.syn(&mut tl, t);
    s6.refuse(&mut tl, t + 15 * MS + 456);
    tl
}

// ---------------------------------------------------------------------------------------
// Scenarios

fn tcp_http_clean() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(51000, 80);
    let rtt = 25 * MS;
    let t = s.handshake(&mut tl, EPOCH_NS, rtt);
    let t = s.client_send(
        &mut tl,
        t + 300 * US,
        &http::get("example.com", "/index.html"),
    );
    let t = s.server_send_acked(&mut tl, t + rtt, &http::ok_html(6000), 2);
    s.close(&mut tl, t + 100 * MS, rtt);
    tl.to_pcap_bytes(ETHERNET, false)
}

fn tcp_tls_clean() -> Result<Vec<u8>> {
    let mut rng = Rng::new(0x7115);
    let mut tl = Timeline::new();
    let mut s = v4_session(51001, 443);
    let rtt = 30 * MS;
    let t = s.handshake(&mut tl, EPOCH_NS, rtt);
    let hello = tls::ClientHello::new("www.example.com", &mut rng)
        .with_pad_to(512)
        .build();
    let t = s.client_send(&mut tl, t + 200 * US, &hello);
    let t = s.server_send_acked(&mut tl, t + rtt, &tls::server_flight(&mut rng, 4500), 2);
    let mut client = tls::app_data(&mut rng, 74);
    client.extend_from_slice(&tls::app_data(&mut rng, 420));
    let t = s.client_send(&mut tl, t + 500 * US, &client);
    let t = s.server_send_acked(&mut tl, t + rtt, &tls::app_data(&mut rng, 11000), 2);
    s.close(&mut tl, t + 200 * MS, rtt);
    tl.to_pcap_bytes(ETHERNET, false)
}

fn tcp_rst_by_server_abort() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(51002, 80);
    let rtt = 20 * MS;
    let t = s.handshake(&mut tl, EPOCH_NS, rtt);
    let t = s.client_send(&mut tl, t + 200 * US, &http::get("example.com", "/stream"));
    let t = s.server_send_acked(&mut tl, t + rtt, &http::ok_html(2000), 2);
    // Client keeps talking; server application aborts (SO_LINGER {1, 0} + close()).
    let t = s.client_send(&mut tl, t + 2 * MS, &http::get("example.com", "/next"));
    s.rst_from_server(&mut tl, t + rtt);
    tl.to_pcap_bytes(ETHERNET, false)
}

fn tcp_syn_unanswered() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(51003, 443);
    s.syn(&mut tl, EPOCH_NS);
    s.retransmit_client_last(&mut tl, EPOCH_NS + 1000 * MS);
    s.retransmit_client_last(&mut tl, EPOCH_NS + 3000 * MS);
    tl.to_pcap_bytes(ETHERNET, false)
}

fn tcp_refused() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut s = v4_session(51004, 8080);
    s.syn(&mut tl, EPOCH_NS);
    s.refuse(&mut tl, EPOCH_NS + 18 * MS);
    tl.to_pcap_bytes(ETHERNET, false)
}

fn resolver(client_port: u16) -> DnsExchange {
    let c = Endpoint::client(SocketAddr::new(
        Ipv4Addr::new(192, 0, 2, 10).into(),
        client_port,
    ));
    let r = Endpoint::server(sa("192.0.2.1:53"))
        .with_ttl(64)
        .with_ip_id(IpIdMode::Zero)
        .with_df(false);
    let mut ex = DnsExchange::new(c, r);
    ex.flow.client.df = false;
    ex
}

fn udp_dns_clean() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = EPOCH_NS;
    let a = Rr::a("example.com", 3600, Ipv4Addr::new(203, 0, 113, 34));
    resolver(40001).exchange(&mut tl, t, 0x1a2b, "example.com", qtype::A, &[a], 12 * MS)?;
    let aaaa = Rr::aaaa(
        "example.com",
        3600,
        "2001:db8:220:1:248:1893:25c8:1946"
            .parse()
            .expect("literal"),
    );
    resolver(40002).exchange(
        &mut tl,
        t + 100 * US,
        0x1a2c,
        "example.com",
        qtype::AAAA,
        &[aaaa],
        14 * MS,
    )?;
    let mut ex = resolver(40003);
    let q = ex.query(
        &mut tl,
        t + 50 * MS,
        0x3c4d,
        "doesnotexist.example",
        qtype::A,
        true,
    );
    ex.answer(&mut tl, t + 80 * MS, &q, rcode::NXDOMAIN, &[], DnsFlags::RA)?;
    tl.to_pcap_bytes(ETHERNET, false)
}

fn mixed_small() -> Result<Vec<u8>> {
    let mut rng = Rng::new(0x5eed);
    let mut tl = Timeline::new();
    let t0 = EPOCH_NS;

    // a. IPv4 HTTP (9), server data segment truncated to 96 bytes.
    let mut a = v4_session(52000, 80);
    let (data_ts, _) = small_http(&mut a, &mut tl, t0, 20 * MS);
    if let Some(e) = tl
        .entries_mut()
        .iter_mut()
        .find(|e| e.ts_ns == data_ts && e.data.len() > 900)
    {
        e.snaplen = Some(96);
    }

    // b. IPv6 TLS (9).
    let mut b = v6_session(52001, 443);
    let t = b.handshake(&mut tl, t0 + 2 * MS, 30 * MS);
    let t = b.client_send(
        &mut tl,
        t + 100 * US,
        &tls::ClientHello::new("ipv6.example.net", &mut rng).build(),
    );
    let t = b.server_send(&mut tl, t + 30 * MS, &tls::server_flight(&mut rng, 1000));
    let t = b.client_ack(&mut tl, t + 40 * US);
    b.close(&mut tl, t + 10 * MS, 30 * MS);

    // c. 802.1Q VLAN 100 DNS (2).
    let mut c = resolver(52002);
    c.flow.frame.vlan = Vlan::Single(100);
    let ans = Rr::a("vlan.example.com", 300, Ipv4Addr::new(198, 51, 100, 7));
    c.exchange(
        &mut tl,
        t0 + 3 * MS,
        0x0100,
        "vlan.example.com",
        qtype::A,
        &[ans],
        9 * MS,
    )?;

    // d. QinQ TCP handshake + client RST (4).
    let mut d = v4_session(52003, 22).with_vlan(Vlan::QinQ {
        outer: 200,
        inner: 300,
    });
    let t = d.handshake(&mut tl, t0 + 4 * MS, 15 * MS);
    d.rst_from_client(&mut tl, t + MS);

    // e. TTL-1 SYN (traceroute-style) and the router's ICMP time exceeded (2).
    let mut e = v4_session(52004, 443);
    e.client.ttl = 1;
    e.syn(&mut tl, t0 + 5 * MS);
    let syn = tl
        .entries()
        .iter()
        .rev()
        .find(|x| x.ts_ns == t0 + 5 * MS)
        .map(|x| x.data.clone())
        .unwrap_or_default();
    let icmp = Icmpv4Spec::time_exceeded(Ipv4Addr::new(192, 0, 2, 1), &syn, syn.len()).build();
    tl.push_with(t0 + 5 * MS + 800 * US, icmp, e.meta(Direction::FromServer));

    // f. ICMPv6 hop limit exceeded quoting a UDP datagram (1).
    let orig = UdpSpec {
        ttl: 1,
        ..UdpSpec::new(
            sa("[2001:db8:1::10]:33434"),
            sa("[2001:db8:ffff::34]:33435"),
            vec![0; 24],
        )
    }
    .build();
    let i6 = Icmpv6Spec::time_exceeded("2001:db8:1::1".parse().expect("literal"), &orig, 1232);
    tl.push_with(t0 + 6 * MS, i6.build(), b.meta(Direction::FromServer));

    // g. A large DNS response (~1.8 KB, 110 A records) arriving in two IPv4 fragments
    //    (2); the query was sent over another path and is not in the capture.
    let many: Vec<Rr> = (0..110u8)
        .map(|i| Rr::a("big.example.com", 300, Ipv4Addr::new(198, 51, 100, i)))
        .collect();
    let resp = dns::response_for(
        0x0bad,
        "big.example.com",
        qtype::A,
        true,
        rcode::NOERROR,
        &many,
        DnsFlags::RA,
    )?;
    let big = UdpSpec {
        ip_id: 0x4242,
        ttl: 57,
        ..UdpSpec::new(sa("198.51.100.53:53"), sa("192.0.2.10:52005"), resp)
    }
    .build();
    for (i, f) in fragment_ipv4(&big, 1480).into_iter().enumerate() {
        tl.push_with(
            t0 + 7 * MS + i as i64 * 10 * US,
            f,
            a.meta(Direction::FromServer),
        );
    }

    // h. QUIC Initial from client and server (2).
    let mut q = UdpFlow::new(
        Endpoint::client(sa("192.0.2.10:52006")),
        Endpoint::server(sa("203.0.113.34:443")),
    );
    q.client.df = true;
    q.client_send(&mut tl, t0 + 8 * MS, quic::initial(&mut rng));
    let dcid = rng.bytes(8);
    let scid = rng.bytes(8);
    let sinit = quic::long_header(
        &mut rng,
        quic::LongType::Initial,
        quic::VERSION_1,
        &dcid,
        &scid,
        1200,
    );
    q.server_send(&mut tl, t0 + 33 * MS, sinit);

    // i. ARP request (1).
    tl.push_frame(
        t0 + 9 * MS,
        ETHERNET,
        link::arp_request(
            [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01],
            Ipv4Addr::new(192, 0, 2, 10),
            Ipv4Addr::new(192, 0, 2, 1),
        ),
    );
    tl.to_pcap_bytes(ETHERNET, false)
}

fn linktypes_sll() -> Result<Vec<u8>> {
    linktype_timeline().to_pcap_bytes(LINUX_SLL, false)
}

fn linktypes_sll2() -> Result<Vec<u8>> {
    linktype_timeline().to_pcap_bytes(LINUX_SLL2, true)
}

fn linktypes_raw() -> Result<Vec<u8>> {
    linktype_timeline().to_pcap_bytes(RAW, true)
}

fn linktypes_null() -> Result<Vec<u8>> {
    linktype_timeline().to_pcap_bytes(NULL, false)
}

fn pcapng_multi_iface() -> Result<Vec<u8>> {
    pcapng_two_ifaces(LINUX_SLL, "any")
}

fn pcapng_multi_iface_eth() -> Result<Vec<u8>> {
    pcapng_two_ifaces(ETHERNET, "eth1")
}

/// if0: Ethernet, µs, HTTP exchange; if1: `lt1`, ns, two DNS exchanges.
fn pcapng_two_ifaces(lt1: u32, name1: &str) -> Result<Vec<u8>> {
    let mut w = PcapNgWriter::new(Vec::new())?;
    let eth = w.add_interface_named(ETHERNET, 6, Some("eth0"))?;
    let second = w.add_interface_named(lt1, 9, Some(name1))?;
    let mut a = Timeline::new();
    let mut s = v4_session(53000, 80);
    small_http(&mut s, &mut a, EPOCH_NS, 20 * MS);
    let mut b = Timeline::new();
    let mut ex = resolver(53001);
    let ans = [Rr::a("example.com", 3600, Ipv4Addr::new(203, 0, 113, 34))];
    ex.exchange(
        &mut b,
        EPOCH_NS + 1_234_567,
        1,
        "example.com",
        qtype::A,
        &ans,
        7 * MS + 89,
    )?;
    ex.exchange(
        &mut b,
        EPOCH_NS + 9_876_543,
        2,
        "example.com",
        qtype::A,
        &ans,
        3 * MS + 21,
    )?;
    // Interleave the two interfaces in time order.
    let mut ia = a.entries().iter().peekable();
    let mut ib = b.entries().iter().peekable();
    let mut buf = Vec::new();
    loop {
        let take_a = match (ia.peek(), ib.peek()) {
            (Some(x), Some(y)) => x.ts_ns <= y.ts_ns,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (e, iface, lt) = if take_a {
            (ia.next(), eth, ETHERNET)
        } else {
            (ib.next(), second, lt1)
        };
        if let Some(e) = e {
            e.frame_into(&mut buf, lt)?;
            w.write(iface, e.ts_ns, &buf)?;
        }
    }
    w.into_inner()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Minimal pcap/pcapng reader: (linktype, frame) per record.
    pub(crate) fn records(b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let magic = u32::from_le_bytes(b[..4].try_into().unwrap());
        if magic == 0x0A0D0D0A {
            let mut lts = Vec::new();
            let mut off = 0;
            while off < b.len() {
                let bt = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
                let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
                let body = &b[off + 8..off + len - 4];
                if bt == 1 {
                    lts.push(u16::from_le_bytes(body[..2].try_into().unwrap()) as u32);
                } else if bt == 6 {
                    let iface = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
                    let cap = u32::from_le_bytes(body[12..16].try_into().unwrap()) as usize;
                    out.push((lts[iface], body[20..20 + cap].to_vec()));
                }
                off += len;
            }
        } else {
            let lt = u32::from_le_bytes(b[20..24].try_into().unwrap());
            let mut off = 24;
            while off < b.len() {
                let incl = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
                out.push((lt, b[off + 16..off + 16 + incl].to_vec()));
                off += 16 + incl;
            }
        }
        out
    }

    fn ip_of(lt: u32, f: &[u8]) -> Option<&[u8]> {
        Some(match lt {
            ETHERNET => {
                let mut off = 12;
                loop {
                    let et = u16::from_be_bytes([f[off], f[off + 1]]);
                    if et == 0x8100 || et == 0x88a8 {
                        off += 4;
                    } else if et == 0x0800 || et == 0x86dd {
                        break &f[off + 2..];
                    } else {
                        return None;
                    }
                }
            }
            RAW => f,
            NULL => &f[4..],
            LINUX_SLL => &f[16..],
            LINUX_SLL2 => &f[20..],
            _ => return None,
        })
    }

    /// (packets, tcp flows, udp flows)
    pub(crate) fn count(b: &[u8]) -> (usize, usize, usize) {
        let recs = records(b);
        let mut tcp = HashSet::new();
        let mut udp = HashSet::new();
        for (lt, f) in &recs {
            let Some(ip) = ip_of(*lt, f) else { continue };
            let (proto, src, dst, l4): (u8, Vec<u8>, Vec<u8>, &[u8]) = match ip[0] >> 4 {
                4 => {
                    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
                    if frag != 0 {
                        continue;
                    }
                    (ip[9], ip[12..16].to_vec(), ip[16..20].to_vec(), &ip[20..])
                }
                6 => (ip[6], ip[8..24].to_vec(), ip[24..40].to_vec(), &ip[40..]),
                _ => continue,
            };
            if l4.len() < 4 || !(proto == 6 || proto == 17) {
                continue;
            }
            let mut a = (src, [l4[0], l4[1]]);
            let mut z = (dst, [l4[2], l4[3]]);
            if a > z {
                std::mem::swap(&mut a, &mut z);
            }
            if proto == 6 {
                tcp.insert((a, z));
            } else {
                udp.insert((a, z));
            }
        }
        (recs.len(), tcp.len(), udp.len())
    }

    #[test]
    fn every_scenario_matches_expected_counts_and_is_deterministic() {
        for s in catalogue() {
            let b = (s.generate)().unwrap();
            let got = count(&b);
            let e = s.expected;
            assert_eq!(
                got,
                (e.packets, e.tcp_flows, e.udp_flows),
                "scenario {}",
                s.name
            );
            assert_eq!(b, (s.generate)().unwrap(), "deterministic {}", s.name);
        }
        let names: HashSet<_> = catalogue().iter().map(|s| s.name).collect();
        assert_eq!(names.len(), catalogue().len(), "unique names");
        assert!(find_scenario("nope").is_err());
    }

    #[test]
    fn all_ip_packets_parse_with_valid_checksums() {
        use etherparse::{NetSlice, SlicedPacket, TransportSlice};
        for s in catalogue() {
            let b = (s.generate)().unwrap();
            for (lt, f) in records(&b) {
                let Some(ip) = ip_of(lt, &f) else { continue };
                let Ok(sp) = SlicedPacket::from_ip(ip) else {
                    // only truncated frames may fail to slice (one in
                    // mixed_small; bulk data in the throttling fixtures is
                    // recorded headers-only)
                    assert!(
                        s.name == "mixed_small" || s.name.starts_with("thr_"),
                        "{}",
                        s.name
                    );
                    continue;
                };
                if let (Some(NetSlice::Ipv4(v4)), Some(TransportSlice::Tcp(t))) =
                    (&sp.net, &sp.transport)
                {
                    // etherparse's TcpHeader cannot hold the reserved bits, so
                    // its recomputed checksum would be wrong for those segments.
                    if t.slice()[12] & 0x0e != 0 {
                        continue;
                    }
                    let h = v4.header().to_header();
                    assert_eq!(h.header_checksum, h.calc_header_checksum());
                    assert_eq!(
                        t.checksum(),
                        t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap(),
                        "{}",
                        s.name
                    );
                }
                if let (Some(NetSlice::Ipv6(v6)), Some(TransportSlice::Tcp(t))) =
                    (&sp.net, &sp.transport)
                {
                    let h = v6.header().to_header();
                    assert_eq!(
                        t.checksum(),
                        t.to_header().calc_checksum_ipv6(&h, t.payload()).unwrap()
                    );
                }
                if let (Some(NetSlice::Ipv4(v4)), Some(TransportSlice::Udp(u))) =
                    (&sp.net, &sp.transport)
                {
                    let h = v4.header().to_header();
                    assert_eq!(
                        u.checksum(),
                        u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn mixed_small_has_one_truncated_record_and_an_arp_frame() {
        let b = (find_scenario("mixed_small").unwrap().generate)().unwrap();
        let mut off = 24;
        let mut truncated = Vec::new();
        let mut arp = 0;
        while off < b.len() {
            let incl = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
            let orig = u32::from_le_bytes(b[off + 12..off + 16].try_into().unwrap()) as usize;
            if incl < orig {
                truncated.push((incl, orig));
            }
            if b[off + 16 + 12..off + 16 + 14] == [0x08, 0x06] {
                arp += 1;
            }
            off += 16 + incl;
        }
        assert_eq!(truncated.len(), 1);
        assert_eq!(truncated[0].0, 96);
        assert_eq!(arp, 1);
    }

    #[test]
    fn tls_and_dns_payloads_are_decodable() {
        use etherparse::{SlicedPacket, TransportSlice};
        let b = (find_scenario("tcp_tls_clean").unwrap().generate)().unwrap();
        let sni = records(&b).iter().find_map(|(lt, f)| {
            let sp = SlicedPacket::from_ip(ip_of(*lt, f)?).ok()?;
            match sp.transport? {
                TransportSlice::Tcp(t)
                    if t.payload().first() == Some(&0x16) && t.destination_port() == 443 =>
                {
                    tls::sni_of(t.payload())
                }
                _ => None,
            }
        });
        assert_eq!(sni.as_deref(), Some("www.example.com"));
        let b = (find_scenario("udp_dns_clean").unwrap().generate)().unwrap();
        let msgs: Vec<dns::Message> = records(&b)
            .iter()
            .filter_map(|(lt, f)| {
                let sp = SlicedPacket::from_ip(ip_of(*lt, f)?).ok()?;
                match sp.transport? {
                    TransportSlice::Udp(u) => dns::parse(u.payload()).ok(),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(msgs.len(), 6);
        assert_eq!(
            msgs.iter().filter(|m| m.rcode() == rcode::NXDOMAIN).count(),
            1
        );
        assert_eq!(msgs.iter().filter(|m| m.is_response()).count(), 3);
    }
}
