//! tw-scenario: deterministic, scripted pcap/pcapng writers for tamperwatch.
//!
//! Layers, bottom-up:
//!
//! * [`pcap`]: classic pcap ([`PcapWriter`]) and pcapng ([`PcapNgWriter`]) file writers.
//! * [`link`]: link-layer framing of IP packets (Ethernet + 802.1Q/QinQ, Linux SLL/SLL2,
//!   raw, BSD null) and a few non-IP frames (ARP).
//! * [`packet`]: a low-level IPv4/IPv6/TCP/UDP/ICMP packet builder with correct checksums
//!   ([`TcpSpec`], [`UdpSpec`], [`Icmpv4Spec`], [`Icmpv6Spec`], [`fragment_ipv4`]).
//! * [`session`]: stateful [`TcpSession`] / [`UdpFlow`] helpers emitting into a sorted
//!   [`Timeline`], including forged-packet injection ([`Injection`]).
//! * application payloads: [`dns`], [`tls`], [`http`], [`quic`].
//! * [`catalogue`]: the built-in named scenarios (`tw-scenario list`).
//! * [`bench`]: the streaming large-capture generator (`tw-scenario bench`).
//!
//! Everything is deterministic: randomness only comes from the seeded [`Rng`].
//!
//! ```
//! use tw_scenario::{catalogue::v4_session, http, linktype, Injection, Timeline};
//! use tw_scenario::session::EPOCH_NS;
//!
//! let mut tl = Timeline::new();
//! let mut s = v4_session(50000, 80);
//! let ms = 1_000_000;
//! let t = s.handshake(&mut tl, EPOCH_NS, 20 * ms);
//! let t = s.client_send(&mut tl, t + ms, &http::get("blocked.example", "/"));
//! // An on-path injector answers first, with the wrong TTL and IP ID...
//! s.inject_from_server(&mut tl, t + 2 * ms, &Injection::data(http::block_page()).ttl(45).ip_id(0));
//! s.inject_from_server(&mut tl, t + 2 * ms, &Injection::rst().ttl(45).seq_offset(1));
//! // ...and the real server's response arrives later at the same sequence number.
//! s.server_send(&mut tl, t + 20 * ms, &http::ok_html(500));
//! let bytes = tl.to_pcap_bytes(linktype::ETHERNET, false).unwrap();
//! assert_eq!(tl.len(), 3 + 1 + 2 + 1);
//! assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
//! ```
//!
//! Vantage point convention: scenarios are captured **near the client** (the host or LAN
//! that tamperwatch watches), so client packets appear before the server's reply by a full
//! RTT and the client's ACKs follow server data almost immediately.

pub mod bench;
pub mod blackhole_scenarios;
pub mod captive_scenarios;
pub mod catalogue;
pub mod checksum;
pub mod dns;
pub mod dns_scenarios;
pub mod endpoint;
pub mod http;
pub mod http_scenarios;
pub mod link;
pub mod lookalikes;
pub mod packet;
pub mod pcap;
pub mod quic;
pub mod rng;
pub mod rst_scenarios;
pub mod session;
pub mod throttle_scenarios;
pub mod tls;

pub use catalogue::{catalogue, find_scenario, Expected, Scenario};
pub use endpoint::{Endpoint, IpIdMode};
pub use link::{FrameMeta, Vlan};
pub use packet::{
    fragment_ipv4, Icmpv4Kind, Icmpv4Spec, Icmpv6Kind, Icmpv6Spec, Ipv4Header, Ipv6Header,
    TcpFlags, TcpOpt, TcpSpec, UdpSpec,
};
pub use pcap::{linktype, PcapNgWriter, PcapWriter};
pub use rng::Rng;
pub use session::{
    Direction, DnsExchange, Injection, TcpSession, TcpState, Timeline, TimelineEntry, TsClock,
    UdpFlow,
};

/// Errors produced by the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Underlying I/O failure.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A timestamp cannot be represented in the output format (pcap: 0..=u32::MAX seconds).
    #[error("timestamp {0} ns cannot be represented in the output format")]
    TimestampOutOfRange(i64),
    /// The link type has no framing implementation here.
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
    /// A pre-framed (non-IP) frame was written to a file whose link type cannot carry it.
    #[error("pre-framed {frame_linktype} frame cannot be written to link type {linktype}")]
    FrameLinkTypeMismatch {
        /// The link type the frame was built for.
        frame_linktype: u32,
        /// The file's link type.
        linktype: u32,
    },
    /// pcapng: interface id not registered with `add_interface`.
    #[error("unknown pcapng interface id {0}")]
    UnknownInterface(u32),
    /// pcapng: timestamp resolution exponent not supported (0..=9 base-10 exponents only).
    #[error("unsupported pcapng tsresol exponent {0} (expected 0..=9)")]
    BadTsResol(u8),
    /// A frame is larger than what the format can record.
    #[error("frame of {0} bytes is too large")]
    FrameTooLarge(usize),
    /// `catalogue`: no scenario of that name.
    #[error("unknown scenario {0:?}")]
    UnknownScenario(String),
    /// DNS: a name label is empty or longer than 63 bytes, or the name exceeds 255 bytes.
    #[error("invalid DNS name {0:?}")]
    BadDnsName(String),
    /// DNS: the bytes do not form a message this crate can parse.
    #[error("malformed DNS message: {0}")]
    MalformedDns(&'static str),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
