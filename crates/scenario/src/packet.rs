//! Low-level IPv4/IPv6 + TCP/UDP/ICMP packet builder. Every builder returns a complete IP
//! packet (no link header) with correct lengths and checksums.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::{BitOr, BitOrAssign};

use crate::checksum;

/// IP protocol number: ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number: TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number: UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number: ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// IPv4 header parameters. `build` fills in total length and header checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol number of the payload.
    pub proto: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Don't Fragment.
    pub df: bool,
    /// More Fragments.
    pub mf: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// DSCP/ECN byte.
    pub tos: u8,
    /// Reserved ("evil") flag bit.
    pub reserved_flag: bool,
}

impl Ipv4Header {
    /// Header with ttl 64, id 0, DF set, no fragmentation.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Self {
        Ipv4Header {
            src,
            dst,
            proto,
            ttl: 64,
            id: 0,
            df: true,
            mf: false,
            frag_offset: 0,
            tos: 0,
            reserved_flag: false,
        }
    }

    /// Append the 20-byte header for a payload of `payload_len` bytes.
    pub fn write_into(&self, out: &mut Vec<u8>, payload_len: usize) {
        let start = out.len();
        let total = (20 + payload_len) as u16;
        let flags_frag = ((self.reserved_flag as u16) << 15)
            | ((self.df as u16) << 14)
            | ((self.mf as u16) << 13)
            | (self.frag_offset & 0x1fff);
        out.extend_from_slice(&[0x45, self.tos]);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&flags_frag.to_be_bytes());
        out.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let c = checksum::checksum(&out[start..start + 20]);
        out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
    }

    /// Complete IPv4 packet: header + `payload` (payload used verbatim).
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(20 + payload.len());
        self.write_into(&mut v, payload.len());
        v.extend_from_slice(payload);
        v
    }
}

/// IPv6 fixed header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header (payload protocol).
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// 20-bit flow label.
    pub flow_label: u32,
}

impl Ipv6Header {
    /// Header with hop limit 64, flow label 0.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8) -> Self {
        Ipv6Header {
            src,
            dst,
            next_header,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    /// Append the 40-byte header for a payload of `payload_len` bytes.
    pub fn write_into(&self, out: &mut Vec<u8>, payload_len: usize) {
        let first =
            (6u32 << 28) | ((self.traffic_class as u32) << 20) | (self.flow_label & 0xfffff);
        out.extend_from_slice(&first.to_be_bytes());
        out.extend_from_slice(&(payload_len as u16).to_be_bytes());
        out.push(self.next_header);
        out.push(self.hop_limit);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
    }

    /// Complete IPv6 packet: header + `payload`.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(40 + payload.len());
        self.write_into(&mut v, payload.len());
        v.extend_from_slice(payload);
        v
    }
}

/// Shared IP-level parameters of the transport builders.
#[allow(clippy::too_many_arguments)]
fn ip_header_into(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ttl: u8,
    ip_id: u16,
    df: bool,
    tos: u8,
    flow_label: u32,
    payload_len: usize,
) {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Header {
            src: s,
            dst: d,
            proto,
            ttl,
            id: ip_id,
            df,
            mf: false,
            frag_offset: 0,
            tos,
            reserved_flag: false,
        }
        .write_into(out, payload_len),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Header {
            src: s,
            dst: d,
            next_header: proto,
            hop_limit: ttl,
            traffic_class: tos,
            flow_label,
        }
        .write_into(out, payload_len),
        _ => panic!("mixed IPv4/IPv6 addresses: {src} -> {dst}"),
    }
}

/// TCP flags (the 12 bits after the data offset: 3 reserved bits, AE/NS, CWR ... FIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No flags.
    pub const NONE: TcpFlags = TcpFlags(0);
    /// FIN.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// SYN.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// RST.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// PSH.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// ACK.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// URG.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECE.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// CWR.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// NS / AE (bit 8).
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// The three reserved bits (0x200, 0x400, 0x800).
    pub const RESERVED: TcpFlags = TcpFlags(0xE00);
    /// SYN|ACK.
    pub const SYN_ACK: TcpFlags = TcpFlags(0x012);
    /// PSH|ACK.
    pub const PSH_ACK: TcpFlags = TcpFlags(0x018);
    /// FIN|ACK.
    pub const FIN_ACK: TcpFlags = TcpFlags(0x011);
    /// RST|ACK.
    pub const RST_ACK: TcpFlags = TcpFlags(0x014);

    /// All bits of `other` set in `self`.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sequence space consumed by SYN/FIN.
    pub fn seq_len(self) -> u32 {
        self.contains(TcpFlags::SYN) as u32 + self.contains(TcpFlags::FIN) as u32
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

/// A TCP option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOpt {
    /// End of option list (kind 0).
    Eol,
    /// No-operation (kind 1).
    Nop,
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// SACK blocks (kind 5).
    Sack(Vec<(u32, u32)>),
    /// Timestamps: (TSval, TSecr) (kind 8).
    Timestamps(u32, u32),
    /// Any other option: kind + data (length byte is computed).
    Raw(u8, Vec<u8>),
}

impl TcpOpt {
    /// Append the encoded option.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            TcpOpt::Eol => out.push(0),
            TcpOpt::Nop => out.push(1),
            TcpOpt::Mss(m) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&m.to_be_bytes());
            }
            TcpOpt::WindowScale(s) => out.extend_from_slice(&[3, 3, *s]),
            TcpOpt::SackPermitted => out.extend_from_slice(&[4, 2]),
            TcpOpt::Sack(blocks) => {
                out.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            TcpOpt::Timestamps(v, e) => {
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&v.to_be_bytes());
                out.extend_from_slice(&e.to_be_bytes());
            }
            TcpOpt::Raw(kind, data) => {
                out.extend_from_slice(&[*kind, (2 + data.len()) as u8]);
                out.extend_from_slice(data);
            }
        }
    }

    /// Encode a list, padded with EOL bytes to a multiple of 4.
    pub fn encode_list(opts: &[TcpOpt]) -> Vec<u8> {
        let mut v = Vec::with_capacity(40);
        for o in opts {
            o.encode_into(&mut v);
        }
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }
}

/// Parameters of a single TCP segment inside an IPv4/IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSpec {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub ip_id: u16,
    /// IPv4 Don't Fragment (ignored for IPv6).
    pub df: bool,
    /// IPv4 TOS / IPv6 traffic class.
    pub tos: u8,
    /// IPv6 flow label (ignored for IPv4).
    pub flow_label: u32,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (written even without the ACK flag).
    pub ack: u32,
    /// Flags, including reserved bits.
    pub flags: TcpFlags,
    /// Window field (unscaled, as on the wire).
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options (EOL-padded to a multiple of 4).
    pub options: Vec<TcpOpt>,
    /// Payload.
    pub payload: Vec<u8>,
    /// Write this TCP checksum instead of the correct one (decoder tests).
    pub checksum_override: Option<u16>,
}

impl TcpSpec {
    /// A bare ACK segment between two socket addresses (ttl 64, DF, window 65535).
    /// Panics at `build` time if the address families differ.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        TcpSpec {
            src: src.ip(),
            dst: dst.ip(),
            sport: src.port(),
            dport: dst.port(),
            ttl: 64,
            ip_id: 0,
            df: true,
            tos: 0,
            flow_label: 0,
            seq: 0,
            ack: 0,
            flags: TcpFlags::ACK,
            window: 65535,
            urgent: 0,
            options: Vec::new(),
            payload: Vec::new(),
            checksum_override: None,
        }
    }

    /// Build the IP packet. Panics if `src` and `dst` are of different families.
    pub fn build(&self) -> Vec<u8> {
        let opts = TcpOpt::encode_list(&self.options);
        build_tcp_raw(self, &opts, &self.payload)
    }
}

/// Build a TCP packet using pre-encoded options and an external payload slice.
pub(crate) fn build_tcp_raw(s: &TcpSpec, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    let tcp_len = 20 + opts.len() + payload.len();
    let ip_len = if s.src.is_ipv4() { 20 } else { 40 };
    let mut v = Vec::with_capacity(ip_len + tcp_len);
    ip_header_into(
        &mut v,
        s.src,
        s.dst,
        PROTO_TCP,
        s.ttl,
        s.ip_id,
        s.df,
        s.tos,
        s.flow_label,
        tcp_len,
    );
    let t = v.len();
    let doff = ((20 + opts.len()) / 4) as u8;
    v.extend_from_slice(&s.sport.to_be_bytes());
    v.extend_from_slice(&s.dport.to_be_bytes());
    v.extend_from_slice(&s.seq.to_be_bytes());
    v.extend_from_slice(&s.ack.to_be_bytes());
    v.push((doff << 4) | ((s.flags.0 >> 8) as u8 & 0x0f));
    v.push(s.flags.0 as u8);
    v.extend_from_slice(&s.window.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&s.urgent.to_be_bytes());
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    let c = s
        .checksum_override
        .unwrap_or_else(|| checksum::transport(s.src, s.dst, PROTO_TCP, &v[t..]));
    v[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
    v
}

/// Parameters of a UDP datagram inside an IPv4/IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpSpec {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification.
    pub ip_id: u16,
    /// IPv4 Don't Fragment.
    pub df: bool,
    /// IPv4 TOS / IPv6 traffic class.
    pub tos: u8,
    /// Payload.
    pub payload: Vec<u8>,
    /// IPv4 only: write a zero ("no checksum") UDP checksum.
    pub zero_checksum: bool,
}

impl UdpSpec {
    /// A UDP datagram (ttl 64, DF clear, id 0).
    pub fn new(src: SocketAddr, dst: SocketAddr, payload: Vec<u8>) -> Self {
        UdpSpec {
            src: src.ip(),
            dst: dst.ip(),
            sport: src.port(),
            dport: dst.port(),
            ttl: 64,
            ip_id: 0,
            df: false,
            tos: 0,
            payload,
            zero_checksum: false,
        }
    }

    /// Build the IP packet. Panics if address families differ.
    pub fn build(&self) -> Vec<u8> {
        let udp_len = 8 + self.payload.len();
        let mut v = Vec::with_capacity(40 + udp_len);
        ip_header_into(
            &mut v, self.src, self.dst, PROTO_UDP, self.ttl, self.ip_id, self.df, self.tos, 0,
            udp_len,
        );
        let u = v.len();
        v.extend_from_slice(&self.sport.to_be_bytes());
        v.extend_from_slice(&self.dport.to_be_bytes());
        v.extend_from_slice(&(udp_len as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.payload);
        if !(self.zero_checksum && self.src.is_ipv4()) {
            let mut c = checksum::transport(self.src, self.dst, PROTO_UDP, &v[u..]);
            if c == 0 {
                c = 0xffff;
            }
            v[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
        }
        v
    }
}

/// ICMPv4 message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Kind {
    /// Type 11 (code 0 = TTL exceeded in transit, 1 = fragment reassembly).
    TimeExceeded {
        /// Code.
        code: u8,
    },
    /// Type 3 (code 3 = port unreachable, 4 = frag needed (uses `next_hop_mtu`), 13 = admin
    /// prohibited, ...).
    DestUnreachable {
        /// Code.
        code: u8,
        /// Next-hop MTU (code 4).
        next_hop_mtu: u16,
    },
    /// Type 8.
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence.
        seq: u16,
    },
    /// Type 0.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence.
        seq: u16,
    },
}

/// An ICMPv4 message. For errors, `data` is the quoted original packet (possibly cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Spec {
    /// Source (e.g. the router).
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// IP TTL.
    pub ttl: u8,
    /// IP identification.
    pub ip_id: u16,
    /// Message kind.
    pub kind: Icmpv4Kind,
    /// Message body (quoted packet or echo data).
    pub data: Vec<u8>,
}

fn ipv4_src(pkt: &[u8]) -> Ipv4Addr {
    if pkt.len() >= 20 {
        Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15])
    } else {
        Ipv4Addr::UNSPECIFIED
    }
}

fn ipv6_src(pkt: &[u8]) -> Ipv6Addr {
    if pkt.len() >= 40 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&pkt[8..24]);
        Ipv6Addr::from(a)
    } else {
        Ipv6Addr::UNSPECIFIED
    }
}

impl Icmpv4Spec {
    /// Time exceeded (TTL expired in transit) from `router` to the original packet's
    /// source, quoting the first `quote_len` bytes of `original` (28 = header + 8 bytes,
    /// the RFC 792 minimum; RFC 1812 routers quote more).
    pub fn time_exceeded(router: Ipv4Addr, original: &[u8], quote_len: usize) -> Self {
        Icmpv4Spec {
            src: router,
            dst: ipv4_src(original),
            ttl: 250,
            ip_id: 0,
            kind: Icmpv4Kind::TimeExceeded { code: 0 },
            data: original[..quote_len.min(original.len())].to_vec(),
        }
    }

    /// Destination unreachable with `code`, quoting `quote_len` bytes of `original`.
    pub fn dest_unreachable(from: Ipv4Addr, original: &[u8], code: u8, quote_len: usize) -> Self {
        Icmpv4Spec {
            src: from,
            dst: ipv4_src(original),
            ttl: 64,
            ip_id: 0,
            kind: Icmpv4Kind::DestUnreachable {
                code,
                next_hop_mtu: 0,
            },
            data: original[..quote_len.min(original.len())].to_vec(),
        }
    }

    /// Build the IPv4 packet.
    pub fn build(&self) -> Vec<u8> {
        let (t, c, rest): (u8, u8, [u8; 4]) = match self.kind {
            Icmpv4Kind::TimeExceeded { code } => (11, code, [0; 4]),
            Icmpv4Kind::DestUnreachable { code, next_hop_mtu } => {
                let m = next_hop_mtu.to_be_bytes();
                (3, code, [0, 0, m[0], m[1]])
            }
            Icmpv4Kind::EchoRequest { id, seq } => (8, 0, be_pair(id, seq)),
            Icmpv4Kind::EchoReply { id, seq } => (0, 0, be_pair(id, seq)),
        };
        let mut msg = Vec::with_capacity(8 + self.data.len());
        msg.extend_from_slice(&[t, c, 0, 0]);
        msg.extend_from_slice(&rest);
        msg.extend_from_slice(&self.data);
        let ck = checksum::checksum(&msg);
        msg[2..4].copy_from_slice(&ck.to_be_bytes());
        Ipv4Header {
            ttl: self.ttl,
            id: self.ip_id,
            df: false,
            ..Ipv4Header::new(self.src, self.dst, PROTO_ICMP)
        }
        .build(&msg)
    }
}

fn be_pair(a: u16, b: u16) -> [u8; 4] {
    let a = a.to_be_bytes();
    let b = b.to_be_bytes();
    [a[0], a[1], b[0], b[1]]
}

/// ICMPv6 message kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Kind {
    /// Type 3 (code 0 = hop limit exceeded).
    TimeExceeded {
        /// Code.
        code: u8,
    },
    /// Type 1 (code 1 = admin prohibited, 4 = port unreachable, ...).
    DestUnreachable {
        /// Code.
        code: u8,
    },
    /// Type 2.
    PacketTooBig {
        /// MTU.
        mtu: u32,
    },
    /// Type 128.
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence.
        seq: u16,
    },
    /// Type 129.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence.
        seq: u16,
    },
}

/// An ICMPv6 message. For errors, `data` is the quoted original packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Spec {
    /// Source.
    pub src: Ipv6Addr,
    /// Destination.
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
    /// Message kind.
    pub kind: Icmpv6Kind,
    /// Body.
    pub data: Vec<u8>,
}

impl Icmpv6Spec {
    /// Hop limit exceeded from `router` to the original's source, quoting up to
    /// `quote_len` bytes (RFC 4443: as much as fits in 1280 bytes).
    pub fn time_exceeded(router: Ipv6Addr, original: &[u8], quote_len: usize) -> Self {
        Icmpv6Spec {
            src: router,
            dst: ipv6_src(original),
            hop_limit: 250,
            kind: Icmpv6Kind::TimeExceeded { code: 0 },
            data: original[..quote_len.min(original.len()).min(1232)].to_vec(),
        }
    }

    /// Destination unreachable with `code`.
    pub fn dest_unreachable(from: Ipv6Addr, original: &[u8], code: u8, quote_len: usize) -> Self {
        Icmpv6Spec {
            src: from,
            dst: ipv6_src(original),
            hop_limit: 64,
            kind: Icmpv6Kind::DestUnreachable { code },
            data: original[..quote_len.min(original.len()).min(1232)].to_vec(),
        }
    }

    /// Build the IPv6 packet.
    pub fn build(&self) -> Vec<u8> {
        let (t, c, rest): (u8, u8, [u8; 4]) = match self.kind {
            Icmpv6Kind::TimeExceeded { code } => (3, code, [0; 4]),
            Icmpv6Kind::DestUnreachable { code } => (1, code, [0; 4]),
            Icmpv6Kind::PacketTooBig { mtu } => (2, 0, mtu.to_be_bytes()),
            Icmpv6Kind::EchoRequest { id, seq } => (128, 0, be_pair(id, seq)),
            Icmpv6Kind::EchoReply { id, seq } => (129, 0, be_pair(id, seq)),
        };
        let mut msg = Vec::with_capacity(8 + self.data.len());
        msg.extend_from_slice(&[t, c, 0, 0]);
        msg.extend_from_slice(&rest);
        msg.extend_from_slice(&self.data);
        let ck = checksum::transport(self.src.into(), self.dst.into(), PROTO_ICMPV6, &msg);
        msg[2..4].copy_from_slice(&ck.to_be_bytes());
        Ipv6Header {
            hop_limit: self.hop_limit,
            ..Ipv6Header::new(self.src, self.dst, PROTO_ICMPV6)
        }
        .build(&msg)
    }
}

/// Split a complete, unfragmented IPv4 packet (20-byte header) into fragments carrying at
/// most `max_payload` bytes each (rounded down to a multiple of 8, minimum 8). DF is
/// cleared; the ID, TTL and addresses are kept; header checksums recomputed. Returns the
/// original packet as the single element if it already fits.
pub fn fragment_ipv4(packet: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    assert!(
        packet.len() >= 20 && packet[0] >> 4 == 4,
        "not an IPv4 packet"
    );
    let ihl = ((packet[0] & 0x0f) as usize) * 4;
    let total = (u16::from_be_bytes([packet[2], packet[3]]) as usize).min(packet.len());
    let payload = &packet[ihl..total];
    let chunk = (max_payload & !7).max(8);
    if payload.len() <= chunk {
        return vec![packet[..total].to_vec()];
    }
    let base_off = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
    let orig_mf = packet[6] & 0x20 != 0;
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let end = (off + chunk).min(payload.len());
        let last = end == payload.len();
        let mut f = Vec::with_capacity(ihl + end - off);
        f.extend_from_slice(&packet[..ihl]);
        f.extend_from_slice(&payload[off..end]);
        f[2..4].copy_from_slice(&((ihl + end - off) as u16).to_be_bytes());
        let mf = !last || orig_mf;
        let fo = base_off + (off / 8) as u16;
        let ff = ((mf as u16) << 13) | fo;
        f[6..8].copy_from_slice(&ff.to_be_bytes());
        f[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[..ihl]);
        f[10..12].copy_from_slice(&c.to_be_bytes());
        out.push(f);
        off = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn verify_tcp(pkt: &[u8]) {
        let sp = SlicedPacket::from_ip(pkt).expect("etherparse parses");
        let Some(TransportSlice::Tcp(tcp)) = sp.transport else {
            panic!("not tcp")
        };
        let expect = match sp.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header().to_header();
                assert_eq!(h.header_checksum, h.calc_header_checksum());
                tcp.to_header()
                    .calc_checksum_ipv4(&h, tcp.payload())
                    .unwrap()
            }
            Some(NetSlice::Ipv6(ip)) => tcp
                .to_header()
                .calc_checksum_ipv6(&ip.header().to_header(), tcp.payload())
                .unwrap(),
            _ => panic!("no ip"),
        };
        assert_eq!(tcp.checksum(), expect, "tcp checksum");
    }

    #[test]
    fn tcp_checksums_v4_v6_with_options_and_odd_payload() {
        for (s, d) in [
            ("192.0.2.1:40000", "203.0.113.34:80"),
            ("[2001:db8::1]:40000", "[2001:db8::2]:443"),
        ] {
            let mut spec = TcpSpec::new(sa(s), sa(d));
            spec.flags = TcpFlags::SYN;
            spec.seq = 0xdead_beef;
            spec.options = vec![
                TcpOpt::Mss(1460),
                TcpOpt::SackPermitted,
                TcpOpt::Timestamps(1, 0),
                TcpOpt::Nop,
                TcpOpt::WindowScale(7),
            ];
            spec.payload = b"hello world".to_vec();
            let p = spec.build();
            verify_tcp(&p);
            let sp = SlicedPacket::from_ip(&p).unwrap();
            let Some(TransportSlice::Tcp(tcp)) = sp.transport else {
                panic!()
            };
            assert!(tcp.syn());
            assert_eq!(tcp.sequence_number(), 0xdead_beef);
            assert_eq!(tcp.options().len(), 20);
            assert_eq!(tcp.payload(), b"hello world");
            // Reserved bits land in the low nibble of byte 12; the checksum (verified
            // independently: pseudo-header + segment sums to zero) covers them.
            spec.flags = TcpFlags::SYN | TcpFlags::RESERVED | TcpFlags::NS;
            let p = spec.build();
            let off = if s.starts_with('[') { 40 } else { 20 };
            assert_eq!(p[off + 12] & 0x0f, 0x0f);
            assert_eq!(
                checksum::transport(spec.src, spec.dst, PROTO_TCP, &p[off..]),
                0,
                "checksum verifies"
            );
        }
    }

    #[test]
    fn udp_and_icmp_checksums() {
        let u = UdpSpec::new(sa("192.0.2.1:5353"), sa("192.0.2.53:53"), vec![1, 2, 3]).build();
        let sp = SlicedPacket::from_ip(&u).unwrap();
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) = (sp.net, sp.transport)
        else {
            panic!()
        };
        let h = udp.to_header();
        assert_eq!(
            h.checksum,
            h.calc_checksum_ipv4(&ip.header().to_header(), udp.payload())
                .unwrap()
        );
        let u6 = UdpSpec::new(sa("[::1]:1"), sa("[::2]:53"), vec![9; 33]).build();
        let sp = SlicedPacket::from_ip(&u6).unwrap();
        let (Some(NetSlice::Ipv6(ip)), Some(TransportSlice::Udp(udp))) = (sp.net, sp.transport)
        else {
            panic!()
        };
        let h = udp.to_header();
        assert_eq!(
            h.checksum,
            h.calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
                .unwrap()
        );

        let orig = TcpSpec::new(sa("192.0.2.1:1"), sa("8.8.8.8:80")).build();
        let icmp = Icmpv4Spec::time_exceeded("192.0.2.1".parse().unwrap(), &orig, 28).build();
        assert_eq!(icmp.len(), 20 + 8 + 28);
        assert_eq!(checksum::checksum(&icmp[20..]), 0);
        assert_eq!(checksum::checksum(&icmp[..20]), 0);
        assert_eq!(&icmp[16..20], &[192, 0, 2, 1]);
        let sp = SlicedPacket::from_ip(&icmp).unwrap();
        assert!(matches!(sp.transport, Some(TransportSlice::Icmpv4(_))));

        let orig6 =
            UdpSpec::new(sa("[2001:db8::1]:1"), sa("[2001:db8::9]:53"), vec![0; 10]).build();
        let i6 = Icmpv6Spec::time_exceeded("2001:db8::fe".parse().unwrap(), &orig6, 1000).build();
        assert_eq!(i6.len(), 40 + 8 + orig6.len());
        let sum = checksum::transport(
            "2001:db8::fe".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            PROTO_ICMPV6,
            &i6[40..],
        );
        assert_eq!(sum, 0, "icmpv6 checksum verifies to zero");
    }

    #[test]
    fn fragments() {
        let mut u = UdpSpec::new(sa("192.0.2.1:5000"), sa("192.0.2.2:53"), vec![7; 1800]);
        u.ip_id = 0x1234;
        let p = u.build();
        let frags = fragment_ipv4(&p, 1480);
        assert_eq!(frags.len(), 2);
        assert_eq!(frags[0].len(), 1500);
        assert_eq!(frags[1].len(), 20 + 1808 - 1480);
        assert_eq!(&frags[0][6..8], &[0x20, 0x00]); // MF, offset 0
        assert_eq!(u16::from_be_bytes([frags[1][6], frags[1][7]]), 1480 / 8);
        for f in &frags {
            assert_eq!(checksum::checksum(&f[..20]), 0);
            assert_eq!(&f[4..6], &[0x12, 0x34]);
        }
        assert_eq!(fragment_ipv4(&p, 4000).len(), 1);
    }
}
