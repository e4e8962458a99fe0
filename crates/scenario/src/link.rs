//! Link-layer framing of IP packets for each supported link type.

use crate::pcap::linktype;
use crate::{Error, Result};

/// Ethertype: IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype: IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// Ethertype: ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// TPID of an 802.1Q (C-)tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad (S-)tag (outer tag of QinQ).
pub const TPID_8021AD: u16 = 0x88A8;
/// Address family for IPv4 in a `LINKTYPE_NULL` header.
pub const NULL_AF_INET: u32 = 2;
/// Address family for IPv6 in a `LINKTYPE_NULL` header (macOS/Darwin value; BSDs use 24/28).
pub const NULL_AF_INET6: u32 = 30;
/// Linux SLL packet type: to us.
pub const SLL_HOST: u8 = 0;
/// Linux SLL packet type: sent by us.
pub const SLL_OUTGOING: u8 = 4;

/// VLAN tagging of an Ethernet frame (VLAN ids are 12-bit; PCP and DEI are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vlan {
    /// Untagged.
    #[default]
    None,
    /// One 802.1Q tag (TPID 0x8100).
    Single(u16),
    /// QinQ: outer 802.1ad S-tag (TPID 0x88A8) then inner 802.1Q C-tag.
    QinQ {
        /// Service (outer) VLAN id.
        outer: u16,
        /// Customer (inner) VLAN id.
        inner: u16,
    },
}

/// Per-packet link-layer metadata used when framing an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Source MAC (Ethernet; also the SLL/SLL2 link address).
    pub src_mac: [u8; 6],
    /// Destination MAC (Ethernet).
    pub dst_mac: [u8; 6],
    /// VLAN tags (Ethernet only).
    pub vlan: Vlan,
    /// Sent by the capturing host (SLL pkttype OUTGOING) rather than received (HOST).
    pub outgoing: bool,
    /// Interface index (SLL2).
    pub ifindex: u32,
    /// Pad Ethernet frames to the 60-byte minimum (as seen on received frames).
    pub pad_ethernet: bool,
}

impl Default for FrameMeta {
    fn default() -> Self {
        FrameMeta {
            src_mac: [0x02, 0, 0, 0, 0, 1],
            dst_mac: [0x02, 0, 0, 0, 0, 2],
            vlan: Vlan::None,
            outgoing: false,
            ifindex: 2,
            pad_ethernet: false,
        }
    }
}

fn ip_version(ip: &[u8]) -> u8 {
    ip.first().map(|b| b >> 4).unwrap_or(4)
}

/// Length of the link header [`frame_ip_into`] writes for this link type / metadata.
pub fn header_len(lt: u32, meta: &FrameMeta) -> Result<usize> {
    Ok(match lt {
        linktype::ETHERNET => {
            14 + match meta.vlan {
                Vlan::None => 0,
                Vlan::Single(_) => 4,
                Vlan::QinQ { .. } => 8,
            }
        }
        linktype::RAW => 0,
        linktype::NULL => 4,
        linktype::LINUX_SLL => 16,
        linktype::LINUX_SLL2 => 20,
        other => return Err(Error::UnsupportedLinkType(other)),
    })
}

/// Frame an IPv4/IPv6 packet for link type `lt`, appending to `out` (not cleared).
pub fn frame_ip_into(out: &mut Vec<u8>, lt: u32, ip: &[u8], meta: &FrameMeta) -> Result<()> {
    let v6 = ip_version(ip) == 6;
    let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
    let start = out.len();
    match lt {
        linktype::ETHERNET => {
            out.extend_from_slice(&meta.dst_mac);
            out.extend_from_slice(&meta.src_mac);
            match meta.vlan {
                Vlan::None => {}
                Vlan::Single(id) => {
                    out.extend_from_slice(&TPID_8021Q.to_be_bytes());
                    out.extend_from_slice(&(id & 0x0fff).to_be_bytes());
                }
                Vlan::QinQ { outer, inner } => {
                    out.extend_from_slice(&TPID_8021AD.to_be_bytes());
                    out.extend_from_slice(&(outer & 0x0fff).to_be_bytes());
                    out.extend_from_slice(&TPID_8021Q.to_be_bytes());
                    out.extend_from_slice(&(inner & 0x0fff).to_be_bytes());
                }
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(ip);
            if meta.pad_ethernet && out.len() - start < 60 {
                out.resize(start + 60, 0);
            }
        }
        linktype::RAW => out.extend_from_slice(ip),
        linktype::NULL => {
            let af = if v6 { NULL_AF_INET6 } else { NULL_AF_INET };
            // Host byte order of the capturing machine; we write little-endian.
            out.extend_from_slice(&af.to_le_bytes());
            out.extend_from_slice(ip);
        }
        linktype::LINUX_SLL => {
            let pkttype = if meta.outgoing {
                SLL_OUTGOING
            } else {
                SLL_HOST
            };
            out.extend_from_slice(&(pkttype as u16).to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&meta.src_mac);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(ip);
        }
        linktype::LINUX_SLL2 => {
            let pkttype = if meta.outgoing {
                SLL_OUTGOING
            } else {
                SLL_HOST
            };
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&meta.ifindex.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(pkttype);
            out.push(6);
            out.extend_from_slice(&meta.src_mac);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(ip);
        }
        other => return Err(Error::UnsupportedLinkType(other)),
    }
    Ok(())
}

/// Frame an IPv4/IPv6 packet for link type `lt`.
pub fn frame_ip(lt: u32, ip: &[u8], meta: &FrameMeta) -> Result<Vec<u8>> {
    let mut v = Vec::with_capacity(ip.len() + 24);
    frame_ip_into(&mut v, lt, ip, meta)?;
    Ok(v)
}

/// Ethernet frame with arbitrary ethertype and payload (no VLAN).
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Broadcast ARP "who-has `target_ip` tell `sender_ip`" request, padded to 60 bytes.
pub fn arp_request(
    sender_mac: [u8; 6],
    sender_ip: std::net::Ipv4Addr,
    target_ip: std::net::Ipv4Addr,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(46);
    p.extend_from_slice(&1u16.to_be_bytes()); // htype ethernet
    p.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    p.push(6);
    p.push(4);
    p.extend_from_slice(&1u16.to_be_bytes()); // request
    p.extend_from_slice(&sender_mac);
    p.extend_from_slice(&sender_ip.octets());
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&target_ip.octets());
    p.resize(46, 0);
    ethernet([0xff; 6], sender_mac, ETHERTYPE_ARP, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_lengths_and_fields() {
        let ip4 = [0x45u8; 20];
        let ip6 = [0x60u8; 40];
        let mut m = FrameMeta::default();
        for lt in [
            linktype::ETHERNET,
            linktype::RAW,
            linktype::NULL,
            linktype::LINUX_SLL,
            linktype::LINUX_SLL2,
        ] {
            let f = frame_ip(lt, &ip4, &m).unwrap();
            assert_eq!(f.len(), header_len(lt, &m).unwrap() + 20);
        }
        let f = frame_ip(linktype::ETHERNET, &ip6, &m).unwrap();
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        m.vlan = Vlan::Single(100);
        let f = frame_ip(linktype::ETHERNET, &ip4, &m).unwrap();
        assert_eq!(&f[12..18], &[0x81, 0x00, 0x00, 100, 0x08, 0x00]);
        m.vlan = Vlan::QinQ {
            outer: 10,
            inner: 20,
        };
        let f = frame_ip(linktype::ETHERNET, &ip4, &m).unwrap();
        assert_eq!(&f[12..22], &[0x88, 0xa8, 0, 10, 0x81, 0, 0, 20, 8, 0]);
        let f = frame_ip(linktype::NULL, &ip6, &m).unwrap();
        assert_eq!(&f[..4], &30u32.to_le_bytes());
        m.outgoing = true;
        let f = frame_ip(linktype::LINUX_SLL, &ip4, &m).unwrap();
        assert_eq!(&f[..6], &[0, 4, 0, 1, 0, 6]);
        assert_eq!(&f[14..16], &[8, 0]);
        let f = frame_ip(linktype::LINUX_SLL2, &ip6, &m).unwrap();
        assert_eq!(&f[..2], &[0x86, 0xdd]);
        assert_eq!(f[10], SLL_OUTGOING);
        assert!(frame_ip(999, &ip4, &m).is_err());
        m.vlan = Vlan::None;
        m.pad_ethernet = true;
        assert_eq!(frame_ip(linktype::ETHERNET, &ip4, &m).unwrap().len(), 60);
        assert_eq!(
            arp_request([2; 6], [192, 0, 2, 1].into(), [192, 0, 2, 2].into()).len(),
            60
        );
    }
}
