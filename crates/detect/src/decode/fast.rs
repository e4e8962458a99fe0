//! The direct path of [`super::decode`] for the frames that make up nearly
//! all traffic: fixed offsets, no intermediate slice structures. It returns
//! `None` for anything it does not fully handle (other link or ether types,
//! more than one VLAN tag, fragments, IPv4 AH, IPv6 extension headers, ICMP,
//! other protocols, any header that is short or inconsistent), and the
//! caller then decodes with etherparse, so errors are always named there.
//!
//! Length rules follow etherparse's lax slicing exactly: an IPv4 total length
//! smaller than the header, or larger than what was captured, falls back to
//! the captured bytes (the latter marks the payload incomplete); an IPv6
//! payload length of 0 takes the captured bytes; a UDP length that is below
//! 8 or beyond the captured bytes takes the captured bytes.

use super::{
    linktype, parse_tcp_options, tcp_flag_bits, IpInfo, Packet, TcpInfo, Transport, UdpInfo,
};
use crate::time::Nanos;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[inline]
pub(super) fn decode(linktype: u32, data: &[u8], ts: Nanos, wire_len: u32) -> Option<Packet<'_>> {
    let (ip, vlan, ether_version) = match linktype {
        linktype::ETHERNET => match be16(data, 12)? {
            0x0800 => (data.get(14..)?, None, Some(4)),
            0x86dd => (data.get(14..)?, None, Some(6)),
            0x8100 => {
                let tci = be16(data, 14)?;
                let version = match be16(data, 16)? {
                    0x0800 => 4,
                    0x86dd => 6,
                    _ => return None,
                };
                (data.get(18..)?, Some(tci & 0x0fff), Some(version))
            }
            _ => return None,
        },
        linktype::RAW
        | linktype::IPV4
        | linktype::IPV6
        | linktype::RAW_OLD
        | linktype::RAW_OLD_BSD => (data, None, None),
        _ => return None,
    };
    let version = ip.first()? >> 4;
    if ether_version.is_some_and(|v| v != version) {
        return None;
    }
    // (IP info, protocol, IP payload, captured less than declared, declared payload length)
    let (info, proto, payload, incomplete, declared) = match version {
        4 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            if ihl < 20 || ip.len() < ihl {
                return None;
            }
            let total = usize::from(be16(ip, 2)?);
            let frag = be16(ip, 6)?;
            // MF set or a fragment offset: etherparse reports the fragment.
            if frag & 0x3fff != 0 {
                return None;
            }
            let proto = ip[9];
            let (payload, incomplete) = if total < ihl {
                (&ip[ihl..], false)
            } else if total > ip.len() {
                (&ip[ihl..], true)
            } else {
                (&ip[ihl..total], false)
            };
            let info = IpInfo {
                src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
                ttl: ip[8],
                ip_id: be16(ip, 4)?,
                df: frag & 0x4000 != 0,
                version: 4,
                ecn: ip[1] & 3,
            };
            let declared = (total > ihl).then(|| (total - ihl) as u32);
            (info, proto, payload, incomplete, declared)
        }
        6 => {
            let h = ip.get(..40)?;
            let proto = h[6];
            let plen = usize::from(be16(h, 4)?);
            let rest = &ip[40..];
            let (payload, incomplete) = if plen == 0 && !rest.is_empty() {
                (rest, false)
            } else if rest.len() < plen {
                (rest, true)
            } else {
                (&rest[..plen], false)
            };
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&h[8..24]);
            d.copy_from_slice(&h[24..40]);
            let info = IpInfo {
                src: IpAddr::V6(Ipv6Addr::from(s)),
                dst: IpAddr::V6(Ipv6Addr::from(d)),
                ttl: h[7],
                ip_id: 0,
                df: false,
                version: 6,
                ecn: (h[1] >> 4) & 3,
            };
            (info, proto, payload, incomplete, Some(plen as u32))
        }
        _ => return None,
    };
    let l4 = match proto {
        6 => {
            let t = payload;
            let doff = usize::from(*t.get(12)? >> 4) * 4;
            if doff < 20 || t.len() < doff {
                return None;
            }
            let ip_payload_len = t.len() as u32;
            let hdr_len = doff as u32;
            let payload_len = if incomplete {
                declared.unwrap_or(ip_payload_len).saturating_sub(hdr_len)
            } else {
                ip_payload_len.saturating_sub(hdr_len)
            };
            Transport::Tcp(TcpInfo {
                sport: be16(t, 0)?,
                dport: be16(t, 2)?,
                seq: be32(t, 4)?,
                ack: be32(t, 8)?,
                flags: tcp_flag_bits(&t[..doff]),
                window: be16(t, 14)?,
                options: parse_tcp_options(&t[20..doff]),
                payload: &t[doff..],
                payload_len,
                header: &t[..doff],
            })
        }
        17 => {
            let u = payload;
            if u.len() < 8 {
                return None;
            }
            let len = usize::from(be16(u, 4)?);
            let slice = if u.len() < len || len < 8 {
                u
            } else {
                &u[..len]
            };
            Transport::Udp(UdpInfo {
                sport: be16(u, 0)?,
                dport: be16(u, 2)?,
                payload: &slice[8..],
            })
        }
        _ => return None,
    };
    Some(Packet {
        ts,
        wire_len,
        vlan,
        link_src: if linktype == linktype::ETHERNET {
            super::link_src(linktype, data)
        } else {
            None
        },
        ip: info,
        l4,
    })
}
