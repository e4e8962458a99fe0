//! Frame decoding: link layer → IP → TCP/UDP/ICMP, with etherparse's lax
//! slicing (lengths that disagree with the capture fall back to what was
//! captured: GRO super-frames and TSO's IPv4 total length 0 decode normally).
//!
//! Decoding never allocates and never panics; every frame that cannot be
//! decoded returns the [`DecodeError`] reason that the caller counts.

use crate::stats::{DecodeError, PacketProto};
use crate::time::Nanos;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// pcap `LINKTYPE_*` numbers understood by [`decode`].
pub mod linktype {
    /// BSD loopback: 4-byte address family in the writer's byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II, with optional 802.1Q / QinQ tags.
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4 or IPv6 (version nibble decides).
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address family, big-endian.
    pub const LOOP: u32 = 108;
    /// Linux cooked capture v1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;
    /// The old `DLT_RAW` value 12 that some writers still use for raw IP.
    pub const RAW_OLD: u32 = 12;
    /// The old `DLT_RAW` value 14 (OpenBSD).
    pub const RAW_OLD_BSD: u32 = 14;
}

/// TCP flag bits as they appear in the 12-bit flags field (NS and the three
/// reserved bits above the classic eight).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// PSH.
    pub const PSH: u16 = 0x008;
    /// ACK.
    pub const ACK: u16 = 0x010;
    /// URG.
    pub const URG: u16 = 0x020;
    /// ECE.
    pub const ECE: u16 = 0x040;
    /// CWR.
    pub const CWR: u16 = 0x080;
    /// NS (RFC 3540, historic).
    pub const NS: u16 = 0x100;
    /// The three reserved bits (some injectors set them).
    pub const RESERVED: u16 = 0xe00;
}

/// The IP layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6).
    pub ip_id: u16,
    /// IPv4 don't-fragment flag (false for IPv6).
    pub df: bool,
    /// 4 or 6.
    pub version: u8,
    /// The ECN field (RFC 3168): 0 not ECN-capable, 1 or 2 ECN-capable
    /// (ECT), 3 congestion experienced (CE: a router's AQM marked it
    /// instead of dropping it).
    pub ecn: u8,
}

/// Parsed TCP options that detectors and flow state use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// The segment carries SACK blocks.
    pub sack: bool,
    /// Timestamps (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// A Multipath TCP `MP_JOIN` (option 30, subtype 1: RFC 8684): a SYN
    /// that adds a subflow to an MPTCP connection.
    pub mptcp_join: bool,
    /// Options were cut short or malformed.
    pub malformed: bool,
}

/// A TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags, see [`tcp_flags`].
    pub flags: u16,
    /// Raw (unscaled) window.
    pub window: u16,
    /// Options.
    pub options: TcpOptions,
    /// Payload as captured (may be shorter than on the wire).
    pub payload: &'a [u8],
    /// Payload length on the wire, from the IP length when it is trustworthy.
    pub payload_len: u32,
    /// The TCP header as captured, options included (for
    /// [`tcp_checksum_ok`]).
    pub header: &'a [u8],
}

impl TcpInfo<'_> {
    /// Whether all of `f` are set.
    pub fn has(&self, f: u16) -> bool {
        self.flags & f == f
    }
    /// SYN set.
    pub fn syn(&self) -> bool {
        self.flags & tcp_flags::SYN != 0
    }
    /// ACK set.
    pub fn ack_flag(&self) -> bool {
        self.flags & tcp_flags::ACK != 0
    }
    /// RST set.
    pub fn rst(&self) -> bool {
        self.flags & tcp_flags::RST != 0
    }
    /// FIN set.
    pub fn fin(&self) -> bool {
        self.flags & tcp_flags::FIN != 0
    }
    /// Sequence space this segment occupies (payload, plus one each for SYN and FIN).
    pub fn seq_len(&self) -> u32 {
        self.payload_len + u32::from(self.syn()) + u32::from(self.fin())
    }
}

/// Whether a TCP segment's checksum is right (RFC 9293 3.1: the one's
/// complement sum over the IPv4 or IPv6 pseudo-header, the header and the
/// payload). `None` when that cannot be told: the segment was not captured
/// whole (snaplen), its length does not fit the field, or its checksum
/// field holds the pseudo-header's sum alone, which a sender leaves for
/// its card to finish (offload) and a receiving host's GRO writes over the
/// segments it merged (Linux's `tcp_gro_complete`). Not used on every
/// packet: a wrong one means damage only where the packets of the same
/// sender are otherwise right (see the HTTP detector).
pub fn tcp_checksum_ok(ip: &IpInfo, t: &TcpInfo<'_>) -> Option<bool> {
    fn add(sum: &mut u64, b: &[u8]) {
        let mut pairs = b.chunks_exact(2);
        for p in &mut pairs {
            *sum += u64::from(u16::from_be_bytes([p[0], p[1]]));
        }
        if let [last] = pairs.remainder() {
            *sum += u64::from(*last) << 8;
        }
    }
    fn fold(mut s: u64) -> u16 {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }
    if t.payload.len() != usize::try_from(t.payload_len).ok()? {
        return None;
    }
    let len = t.header.len() + t.payload.len();
    let mut sum: u64 = 0;
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(len).ok()?;
            add(&mut sum, &s.octets());
            add(&mut sum, &d.octets());
            add(&mut sum, &[0, 6]);
            add(&mut sum, &len.to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(len).ok()?;
            add(&mut sum, &s.octets());
            add(&mut sum, &d.octets());
            add(&mut sum, &len.to_be_bytes());
            add(&mut sum, &[0, 0, 0, 6]);
        }
        _ => return None,
    }
    // (left for the card, or written by GRO: the pseudo-header's sum, or
    // its complement)
    let pseudo = fold(sum);
    let field = u16::from_be_bytes([*t.header.get(16)?, *t.header.get(17)?]);
    if field == pseudo || field == !pseudo {
        return None;
    }
    // (the header is even-sized: the payload's odd byte is padded alone)
    add(&mut sum, t.header);
    add(&mut sum, t.payload);
    Some(fold(sum) == 0xffff)
}

/// A UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpInfo<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Payload as captured.
    pub payload: &'a [u8],
}

/// The header an ICMP error quotes (the packet that caused it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Source of the quoted packet.
    pub src: IpAddr,
    /// Destination of the quoted packet.
    pub dst: IpAddr,
    /// IP protocol number of the quoted packet.
    pub proto: u8,
    /// TTL left in the quoted packet.
    pub ttl: u8,
    /// Quoted source port (TCP/UDP), if present.
    pub sport: Option<u16>,
    /// Quoted destination port (TCP/UDP), if present.
    pub dport: Option<u16>,
    /// Quoted TCP sequence number, if present.
    pub tcp_seq: Option<u32>,
}

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpInfo {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// For errors (unreachable, time exceeded, ...): the quoted header.
    pub quoted: Option<Quoted>,
}

/// The transport part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// TCP.
    Tcp(TcpInfo<'a>),
    /// UDP.
    Udp(UdpInfo<'a>),
    /// ICMP or ICMPv6.
    Icmp(IcmpInfo),
    /// Any other IP protocol (number).
    Other(u8),
}

/// One decoded IP packet. Borrows the frame; no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Packet time.
    pub ts: Nanos,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Outer VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The link-layer (MAC) address of the frame's sender, where the link
    /// type carries one: Ethernet's source address, a Linux cooked
    /// header's 6-byte address (the sender's for frames in either
    /// direction). `None` for raw IP and loopback links, and for the
    /// all-zero address of `lo`. Tells devices apart: the client packets
    /// of one host all leave from its interface's address, while on a
    /// gateway's LAN side every device has its own.
    pub link_src: Option<[u8; 6]>,
    /// IP layer.
    pub ip: IpInfo,
    /// Transport layer.
    pub l4: Transport<'a>,
}

impl Packet<'_> {
    /// The protocol label for packet counters.
    pub fn proto(&self) -> PacketProto {
        match self.l4 {
            Transport::Tcp(_) => PacketProto::Tcp,
            Transport::Udp(_) => PacketProto::Udp,
            Transport::Icmp(i) if i.v6 => PacketProto::Icmpv6,
            Transport::Icmp(_) => PacketProto::Icmp,
            Transport::Other(_) => PacketProto::OtherIp,
        }
    }
}

/// Why a frame produced no [`Packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecoded {
    /// A well-formed frame that carries no IP (ARP, LLDP, ...). Not an error.
    NonIp,
    /// A frame that could not be decoded, with the reason.
    Error(DecodeError),
}

/// Decodes one captured frame of the given pcap link type.
///
/// Common frames (Ethernet with at most one 802.1Q tag, or raw IP; IPv4
/// without options that matter or IPv6 without extension headers; TCP or
/// UDP; not fragmented) take a direct path that reads the fixed header
/// offsets; everything else, and anything the direct path is unsure of, goes
/// through etherparse's lax slicing. Both give the same [`Packet`] for every
/// frame the direct path accepts (a differential test checks the fixtures,
/// the shared corpus and mutated frames).
#[inline]
pub fn decode(
    linktype: u32,
    data: &[u8],
    ts: Nanos,
    wire_len: u32,
) -> Result<Packet<'_>, Undecoded> {
    if let Some(p) = fast::decode(linktype, data, ts, wire_len) {
        return Ok(p);
    }
    decode_sliced(linktype, data, ts, wire_len)
}

/// [`decode`] through etherparse only (the reference the direct path is
/// tested against).
pub fn decode_sliced(
    linktype: u32,
    data: &[u8],
    ts: Nanos,
    wire_len: u32,
) -> Result<Packet<'_>, Undecoded> {
    let sliced = match linktype {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data)
            .map_err(|_| Undecoded::Error(DecodeError::LinkTruncated))?,
        linktype::LINUX_SLL => {
            // 2 packet type, 2 ARPHRD, 2 addr len, 8 addr, 2 protocol
            let (proto, rest) = split_ethertype(data, 14, 16)?;
            from_ether_type(proto, rest)
        }
        linktype::LINUX_SLL2 => {
            // 2 protocol, 2 reserved, 4 ifindex, 2 ARPHRD, 1 pkt type, 1 addr len, 8 addr
            let (proto, rest) = split_ethertype(data, 0, 20)?;
            from_ether_type(proto, rest)
        }
        linktype::RAW
        | linktype::IPV4
        | linktype::IPV6
        | linktype::RAW_OLD
        | linktype::RAW_OLD_BSD => from_ip(data)?,
        linktype::NULL | linktype::LOOP => {
            // The 4-byte family is in the writer's byte order (NULL) or
            // big-endian (LOOP); the IP version nibble is unambiguous, so
            // use it and only check that the header is there.
            let rest = data
                .get(4..)
                .ok_or(Undecoded::Error(DecodeError::LinkTruncated))?;
            match rest.first().map(|b| b >> 4) {
                Some(4 | 6) => from_ip(rest)?,
                Some(_) => return Err(Undecoded::NonIp),
                None => return Err(Undecoded::Error(DecodeError::LinkTruncated)),
            }
        }
        _ => return Err(Undecoded::Error(DecodeError::UnsupportedLinkType)),
    };
    let vlan = sliced.vlan_ids().first().map(|v| v.value());
    let mut p = convert(sliced, ts, wire_len, vlan)?;
    p.link_src = link_src(linktype, data);
    Ok(p)
}

/// The sender's link-layer address of a frame (see [`Packet::link_src`]).
#[inline]
pub fn link_src(linktype: u32, data: &[u8]) -> Option<[u8; 6]> {
    let at = match linktype {
        linktype::ETHERNET => 6,
        // 2 packet type, 2 ARPHRD, 2 address length, 8 address
        linktype::LINUX_SLL if data.get(4..6)? == [0, 6] => 6,
        // 2 protocol, 2 reserved, 4 ifindex, 2 ARPHRD, 1 packet type,
        // 1 address length, 8 address
        linktype::LINUX_SLL2 if *data.get(11)? == 6 => 12,
        _ => return None,
    };
    let a: [u8; 6] = data.get(at..at + 6)?.try_into().ok()?;
    (a != [0; 6]).then_some(a)
}

fn split_ethertype(data: &[u8], at: usize, header_len: usize) -> Result<(u16, &[u8]), Undecoded> {
    let proto = data
        .get(at..at + 2)
        .ok_or(Undecoded::Error(DecodeError::LinkTruncated))?;
    let rest = data
        .get(header_len..)
        .ok_or(Undecoded::Error(DecodeError::LinkTruncated))?;
    Ok((u16::from_be_bytes([proto[0], proto[1]]), rest))
}

fn from_ether_type(proto: u16, rest: &[u8]) -> LaxSlicedPacket<'_> {
    LaxSlicedPacket::from_ether_type(EtherType(proto), rest)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Undecoded> {
    match data.first().map(|b| b >> 4) {
        Some(4) => {
            LaxSlicedPacket::from_ip(data).map_err(|_| Undecoded::Error(DecodeError::Ipv4Header))
        }
        Some(6) => {
            LaxSlicedPacket::from_ip(data).map_err(|_| Undecoded::Error(DecodeError::Ipv6Header))
        }
        _ => Err(Undecoded::Error(DecodeError::Ipv4Header)),
    }
}

fn convert<'a>(
    p: LaxSlicedPacket<'a>,
    ts: Nanos,
    wire_len: u32,
    vlan: Option<u16>,
) -> Result<Packet<'a>, Undecoded> {
    use etherparse::err::Layer;
    let Some(net) = p.net else {
        return Err(match p.stop_err {
            Some((_, Layer::Ipv4Header | Layer::Ipv4Packet | Layer::IpAuthHeader)) => {
                Undecoded::Error(DecodeError::Ipv4Header)
            }
            Some((
                _,
                Layer::Ipv6Header
                | Layer::Ipv6Packet
                | Layer::Ipv6ExtHeader
                | Layer::Ipv6HopByHopHeader,
            )) => Undecoded::Error(DecodeError::Ipv6Header),
            Some((_, Layer::IpHeader)) => Undecoded::Error(DecodeError::Ipv4Header),
            Some(_) => Undecoded::Error(DecodeError::LinkTruncated),
            None => Undecoded::NonIp,
        });
    };
    let (ip, payload) = match &net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let ip = IpInfo {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                ttl: h.ttl(),
                ip_id: h.identification(),
                df: h.dont_fragment(),
                version: 4,
                ecn: h.ecn().value(),
            };
            (ip, v4.payload())
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let ip = IpInfo {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                ttl: h.hop_limit(),
                ip_id: 0,
                df: false,
                version: 6,
                ecn: h.traffic_class() & 3,
            };
            (ip, v6.payload())
        }
        LaxNetSlice::Arp(_) => return Err(Undecoded::NonIp),
    };
    if payload.fragmented {
        return Err(Undecoded::Error(DecodeError::Fragment));
    }
    let ipnum = payload.ip_number.0;
    // Wire payload length: trust the IP length unless it was unusable
    // (TSO's total length 0) and we fell back to the captured slice.
    let l4 = match p.transport {
        Some(TransportSlice::Tcp(t)) => {
            let hdr_len = t.header_slice().len() as u32;
            let ip_payload_len = payload.payload.len() as u32;
            let payload_len = if payload.incomplete {
                // Captured less than the IP length says (snaplen): the IP
                // length is the truth for sequence arithmetic.
                ip_declared_payload_len(&net)
                    .unwrap_or(ip_payload_len)
                    .saturating_sub(hdr_len)
            } else {
                ip_payload_len.saturating_sub(hdr_len)
            };
            Transport::Tcp(TcpInfo {
                sport: t.source_port(),
                dport: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: tcp_flag_bits(t.header_slice()),
                window: t.window_size(),
                options: parse_tcp_options(t.options()),
                payload: t.payload(),
                payload_len,
                header: t.header_slice(),
            })
        }
        Some(TransportSlice::Udp(u)) => Transport::Udp(UdpInfo {
            sport: u.source_port(),
            dport: u.destination_port(),
            payload: u.payload(),
        }),
        Some(TransportSlice::Icmpv4(i)) => {
            let t = i.type_u8();
            // 3 unreachable, 4 source quench, 5 redirect, 11 time exceeded, 12 parameter problem
            let quoted = if matches!(t, 3 | 4 | 5 | 11 | 12) {
                parse_quoted(i.payload())
            } else {
                None
            };
            Transport::Icmp(IcmpInfo {
                v6: false,
                icmp_type: t,
                code: i.code_u8(),
                quoted,
            })
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let t = i.type_u8();
            // 1 unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem
            let quoted = if (1..=4).contains(&t) {
                parse_quoted(i.payload())
            } else {
                None
            };
            Transport::Icmp(IcmpInfo {
                v6: true,
                icmp_type: t,
                code: i.code_u8(),
                quoted,
            })
        }
        Some(TransportSlice::Igmp(_)) => Transport::Other(ipnum),
        None => {
            return match (ipnum, p.stop_err) {
                (6, _) => Err(Undecoded::Error(DecodeError::TcpHeader)),
                (17, _) => Err(Undecoded::Error(DecodeError::UdpHeader)),
                (1 | 58, _) => Err(Undecoded::Error(DecodeError::IcmpHeader)),
                (
                    _,
                    Some((
                        _,
                        Layer::Ipv6ExtHeader
                        | Layer::Ipv6HopByHopHeader
                        | Layer::Ipv6DestOptionsHeader
                        | Layer::Ipv6RouteHeader
                        | Layer::Ipv6FragHeader
                        | Layer::IpAuthHeader,
                    )),
                ) => Err(Undecoded::Error(DecodeError::Ipv6Header)),
                (n, _) => Ok(Packet {
                    ts,
                    wire_len,
                    vlan,
                    link_src: None,
                    ip,
                    l4: Transport::Other(n),
                }),
            };
        }
    };
    Ok(Packet {
        ts,
        wire_len,
        vlan,
        link_src: None,
        ip,
        l4,
    })
}

fn ip_declared_payload_len(net: &LaxNetSlice<'_>) -> Option<u32> {
    match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let total = u32::from(h.total_len());
            let hl = h.slice().len() as u32;
            (total > hl).then(|| total - hl)
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let ext = v6.extensions().slice().len() as u32;
            u32::from(h.payload_length()).checked_sub(ext)
        }
        LaxNetSlice::Arp(_) => None,
    }
}

/// The 12 flag bits (including NS and the reserved bits) from a TCP header.
fn tcp_flag_bits(header: &[u8]) -> u16 {
    match (header.get(12), header.get(13)) {
        (Some(hi), Some(lo)) => (u16::from(hi & 0x0f) << 8) | u16::from(*lo),
        _ => 0,
    }
}

/// Parses TCP options without allocating. Malformed options set `malformed`
/// and stop the walk; what was read before stays.
pub fn parse_tcp_options(mut o: &[u8]) -> TcpOptions {
    let mut r = TcpOptions::default();
    while let Some((&kind, rest)) = o.split_first() {
        match kind {
            0 => break,
            1 => {
                o = rest;
                continue;
            }
            _ => {}
        }
        let Some(&len) = rest.first() else {
            r.malformed = true;
            break;
        };
        let len = usize::from(len);
        let Some(body) = o.get(2..len) else {
            r.malformed = true;
            break;
        };
        if len < 2 {
            r.malformed = true;
            break;
        }
        match (kind, body.len()) {
            (2, 2) => r.mss = Some(u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => r.wscale = Some(body[0]),
            (4, 0) => r.sack_permitted = true,
            (30, n) if n > 0 && body[0] >> 4 == 1 => r.mptcp_join = true,
            (5, n) if n % 8 == 0 && n > 0 => r.sack = true,
            (8, 8) => {
                let v = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                let e = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                r.timestamps = Some((v, e));
            }
            (2..=5 | 8, _) => r.malformed = true,
            _ => {}
        }
        o = o.get(len..).unwrap_or(&[]);
    }
    r
}

/// Reads the header quoted by an ICMP error: the IP header and the first
/// eight bytes of its payload (ports, and the TCP sequence number).
fn parse_quoted(b: &[u8]) -> Option<Quoted> {
    match b.first()? >> 4 {
        4 => {
            let ihl = usize::from(b.first()? & 0x0f) * 4;
            if ihl < 20 {
                return None;
            }
            let h = b.get(..20)?;
            let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
            let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
            Some(quoted_l4(src, dst, h[9], h[8], b.get(ihl..)))
        }
        6 => {
            let h = b.get(..40)?;
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&h[8..24]);
            d.copy_from_slice(&h[24..40]);
            // Extension headers in quotes are rare; only direct TCP/UDP get ports.
            Some(quoted_l4(
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                h[6],
                h[7],
                b.get(40..),
            ))
        }
        _ => None,
    }
}

fn quoted_l4(src: IpAddr, dst: IpAddr, proto: u8, ttl: u8, l4: Option<&[u8]>) -> Quoted {
    let mut q = Quoted {
        src,
        dst,
        proto,
        ttl,
        sport: None,
        dport: None,
        tcp_seq: None,
    };
    if let Some(l4) = l4.filter(|_| matches!(proto, 6 | 17)) {
        if let Some(p) = l4.get(..4) {
            q.sport = Some(u16::from_be_bytes([p[0], p[1]]));
            q.dport = Some(u16::from_be_bytes([p[2], p[3]]));
        }
        if proto == 6 {
            if let Some(s) = l4.get(4..8) {
                q.tcp_seq = Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
            }
        }
    }
    q
}

mod fast;

#[cfg(test)]
mod tests;
