//! Link-wide facts that detectors compare one flow with ("other servers
//! answer at the same time"), kept so that every worker sees the same
//! values as a single engine would.
//!
//! With one worker the engine updates its [`LinkClock`] from every frame,
//! with [`link_event`] on the raw frame. With several, the dispatcher (which sees every frame in capture order)
//! updates one clock and attaches its value to each frame it hands out, so
//! a worker knows, for each of its packets, what had happened on the whole
//! link up to that packet: decisions stay identical with 1 and N workers.

use crate::decode::linktype as lt;
use crate::time::Nanos;

/// Times of the latest link-wide successes, as of a packet (0: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkClock {
    /// The latest SYN/ACK from any server.
    pub last_synack: Nanos,
    /// The latest UDP datagram from any server's port 443 (QUIC).
    pub last_quic_reply: Nanos,
    /// The newest packet time of any frame so far: a clock that never goes
    /// back, the same for every worker (throttling stamps its records with
    /// it, so that frames out of time order cannot reorder decisions).
    pub now: Nanos,
}

impl LinkClock {
    /// Folds in one frame.
    pub fn observe(&mut self, linktype: u32, frame: &[u8], ts: Nanos) {
        self.note(link_event(linktype, frame), ts);
    }

    /// Folds in what one frame said.
    pub fn note(&mut self, e: Option<LinkEvent>, ts: Nanos) {
        self.now = self.now.max(ts);
        match e {
            Some(LinkEvent::SynAck) => self.last_synack = self.last_synack.max(ts),
            Some(LinkEvent::QuicReply) => self.last_quic_reply = self.last_quic_reply.max(ts),
            None => {}
        }
    }
}

/// What a frame says about the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// A server completed a TCP handshake (SYN/ACK).
    SynAck,
    /// A server answered on UDP port 443.
    QuicReply,
}

/// Classifies a raw frame: fixed-offset parsing for the common frames, the
/// full decoder for the rest. The answer is the decoder's ([`of_packet`] of
/// the decoded frame; `crates/detect/tests/decode_fast.rs` checks it on every
/// fixture and corpus frame and on mutated copies), and a single engine and
/// every dispatcher use this same function, so their clocks agree.
pub fn link_event(linktype: u32, d: &[u8]) -> Option<LinkEvent> {
    if let Some(e) = fast(linktype, d) {
        return e;
    }
    of_packet(&crate::decode::decode(linktype, d, 0, 0).ok()?)
}

/// What a decoded packet says about the link (the same answer as
/// [`link_event`] gives for its frame).
pub fn of_packet(p: &crate::decode::Packet<'_>) -> Option<LinkEvent> {
    match p.l4 {
        crate::decode::Transport::Tcp(t) if t.syn() && t.ack_flag() && !t.rst() => {
            Some(LinkEvent::SynAck)
        }
        crate::decode::Transport::Udp(u) if u.sport == 443 && !u.payload.is_empty() => {
            Some(LinkEvent::QuicReply)
        }
        _ => None,
    }
}

/// `Some(answer)` when the fast path could read the frame.
/// The common frames, read at fixed offsets with the decoder's length rules
/// (etherparse's lax slicing, as `decode::fast`): `None` whenever the
/// decoder might answer otherwise, which then decides.
fn fast(linktype: u32, d: &[u8]) -> Option<Option<LinkEvent>> {
    let be16 = |b: &[u8], at: usize| Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
    let (ip, ether_version) = match linktype {
        lt::ETHERNET => {
            let mut off = 12;
            let mut et = be16(d, 12)?;
            for _ in 0..2 {
                if et == 0x8100 || et == 0x88a8 {
                    off += 4;
                    et = be16(d, off)?;
                }
            }
            let version = match et {
                0x0800 => 4,
                0x86dd => 6,
                // Anything else is the decoder's business: a third tag, a
                // 0x9100 tag, MACsec, which it reads through, and what is
                // not IP at all (rare: ARP and the like).
                _ => return None,
            };
            (d.get(off + 2..)?, Some(version))
        }
        lt::RAW | lt::IPV4 | lt::IPV6 => (d, None),
        _ => return None,
    };
    let version = ip.first()? >> 4;
    if ether_version.is_some_and(|v| v != version) {
        return None;
    }
    // the IP payload: a declared length that is too short or longer than
    // what was captured gives way to the captured bytes
    let (proto, payload) = match version {
        4 => {
            if ip[0] != 0x45 || be16(ip, 6)? & 0x3fff != 0 {
                return None;
            }
            let total = usize::from(be16(ip, 2)?);
            let payload = if total < 20 || total > ip.len() {
                ip.get(20..)?
            } else {
                ip.get(20..total)?
            };
            (*ip.get(9)?, payload)
        }
        6 => {
            let h = ip.get(..40)?;
            let plen = usize::from(be16(h, 4)?);
            let rest = ip.get(40..)?;
            let payload = if plen == 0 || rest.len() < plen {
                rest
            } else {
                rest.get(..plen)?
            };
            (h[6], payload)
        }
        _ => return None,
    };
    fast_l4(proto, payload)
}

/// The link event of a transport header (`None`: only the decoder can say:
/// another protocol, an IPv6 extension header, a header cut short).
fn fast_l4(proto: u8, l4: &[u8]) -> Option<Option<LinkEvent>> {
    Some(match proto {
        6 => {
            let doff = usize::from(*l4.get(12)? >> 4) * 4;
            if doff < 20 || l4.len() < doff {
                return None;
            }
            let flags = l4[13];
            (flags & 0x12 == 0x12 && flags & 0x04 == 0).then_some(LinkEvent::SynAck)
        }
        17 => {
            if l4.len() < 8 {
                return None;
            }
            let sport = u16::from_be_bytes([l4[0], l4[1]]);
            let declared = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
            // the datagram's own length, unless it is impossible (then
            // what was captured): Ethernet padding is not payload
            let len = if declared < 8 || declared > l4.len() {
                l4.len()
            } else {
                declared
            };
            (sport == 443 && len > 8).then_some(LinkEvent::QuicReply)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_full_paths_agree() {
        // IPv4 TCP SYN/ACK, raw
        let mut syn_ack = vec![
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 203, 0, 113, 5, 192, 0, 2, 10,
        ];
        syn_ack.extend([
            0, 80, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        assert_eq!(link_event(lt::RAW, &syn_ack), Some(LinkEvent::SynAck));
        // with IP options the decoder decides, the same way
        let mut with_opts = syn_ack.clone();
        with_opts[0] = 0x46;
        with_opts.splice(20..20, [1, 1, 1, 0]);
        with_opts[3] = 44;
        assert_eq!(link_event(lt::RAW, &with_opts), Some(LinkEvent::SynAck));
        let mut rst = syn_ack.clone();
        rst[33] = 0x14;
        assert_eq!(link_event(lt::RAW, &rst), None);
        // UDP from 443
        let mut q = vec![
            0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, 203, 0, 113, 5, 192, 0, 2, 10,
        ];
        q.extend([1, 0xbb, 0xc3, 0x50, 0, 13, 0, 0, 0x40]);
        assert_eq!(link_event(lt::RAW, &q), Some(LinkEvent::QuicReply));
        let mut c = LinkClock::default();
        c.observe(lt::RAW, &syn_ack, 5);
        c.observe(lt::RAW, &q, 7);
        c.observe(lt::RAW, &syn_ack, 3);
        assert_eq!(
            c,
            LinkClock {
                last_synack: 5,
                last_quic_reply: 7,
                now: 7,
            }
        );
        for cut in 0..syn_ack.len() {
            let _ = link_event(lt::RAW, &syn_ack[..cut]);
        }
    }

    /// Frames the fixed-offset reading used to answer differently from the
    /// decoder (found in review, session 15): the decoder's answer now,
    /// whichever path gives it.
    #[test]
    fn frames_the_fixed_offsets_misread() {
        let decoded = |l: u32, f: &[u8]| {
            crate::decode::decode(l, f, 0, 0)
                .ok()
                .and_then(|p| of_packet(&p))
        };
        let v6 = |next: u8, plen: u8| {
            let mut f = vec![0x60, 0, 0, 0, 0, plen, next, 64];
            f.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            f.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            f
        };
        let synack_tcp = [
            1, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0,
        ];
        // a SYN/ACK behind an IPv6 hop-by-hop header (next header 0): the
        // protocol is not byte 6 of the IPv6 header
        let mut hbh = v6(0, 28);
        hbh.extend([6, 0, 1, 4, 0, 0, 0, 0]);
        hbh.extend(synack_tcp);
        assert_eq!(decoded(lt::RAW, &hbh), Some(LinkEvent::SynAck));
        assert_eq!(link_event(lt::RAW, &hbh), Some(LinkEvent::SynAck));
        // an empty datagram from port 443, padded to Ethernet's 60 bytes:
        // the padding is not payload
        let mut eth = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0];
        eth.extend([
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 203, 0, 113, 5, 192, 0, 2, 10,
        ]);
        eth.extend([1, 0xbb, 0x13, 0x88, 0, 8, 0, 0]);
        eth.resize(60, 0);
        assert_eq!(decoded(lt::ETHERNET, &eth), None);
        assert_eq!(link_event(lt::ETHERNET, &eth), None);
        // an IPv4 total length that ends inside the TCP header: what was
        // declared, not what was captured
        let mut short = vec![0x45, 0, 0, 30, 0, 1, 0x40, 0, 64, 6, 0, 0, 203, 0, 113, 5];
        short.extend([192, 0, 2, 10]);
        short.extend(synack_tcp);
        assert_eq!(link_event(lt::RAW, &short), decoded(lt::RAW, &short));
        // an IPv4 SYN/ACK behind a 0x9100 tag, behind unmodified MACsec, and
        // behind three tags: the decoder reads through them all
        let synack_v4 = {
            let mut f = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 203, 0, 113, 5];
            f.extend([192, 0, 2, 10]);
            f.extend(synack_tcp);
            f
        };
        let macs = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        for (what, head) in [
            ("0x9100 tag", &[0x91, 0x00, 0, 5, 0x08, 0x00][..]),
            ("MACsec", &[0x88, 0xe5, 0, 0, 0, 0, 0, 1, 0x08, 0x00][..]),
            (
                "three tags",
                &[
                    0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x91, 0x00, 0, 3, 0x08, 0x00,
                ][..],
            ),
        ] {
            let mut f = macs.to_vec();
            f.extend(head);
            f.extend(&synack_v4);
            assert_eq!(decoded(lt::ETHERNET, &f), Some(LinkEvent::SynAck), "{what}");
            assert_eq!(
                link_event(lt::ETHERNET, &f),
                Some(LinkEvent::SynAck),
                "{what}"
            );
        }
        // an IPv6 SYN/ACK with its payload length: the fixed offsets decide
        let mut plain = v6(6, 20);
        plain.extend(synack_tcp);
        assert_eq!(fast(lt::RAW, &plain), Some(Some(LinkEvent::SynAck)));
    }
}
