//! Link-wide facts that detectors compare one flow with ("other servers
//! answer at the same time"), kept so that every worker sees the same
//! values as a single engine would.
//!
//! With one worker the engine updates its [`LinkClock`] from every frame.
//! With several, the dispatcher (which sees every frame in capture order)
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

/// Classifies a raw frame (fixed-offset parsing for the common frames, the
/// full decoder for the rest).
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
fn fast(linktype: u32, d: &[u8]) -> Option<Option<LinkEvent>> {
    let ip = match linktype {
        lt::ETHERNET => {
            let mut off = 12;
            let mut et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
            for _ in 0..2 {
                if et == 0x8100 || et == 0x88a8 {
                    off += 4;
                    et = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
                }
            }
            if et != 0x0800 && et != 0x86dd {
                return Some(None);
            }
            d.get(off + 2..)?
        }
        lt::RAW | lt::IPV4 | lt::IPV6 => d,
        _ => return None,
    };
    let (proto, l4) = match ip.first()? >> 4 {
        4 if ip[0] == 0x45 && ip.get(6)? & 0x3f == 0 && *ip.get(7)? == 0 => {
            (*ip.get(9)?, ip.get(20..)?)
        }
        6 => (*ip.get(6)?, ip.get(40..)?),
        _ => return None,
    };
    Some(match proto {
        6 => {
            let flags = *l4.get(13)?;
            (flags & 0x12 == 0x12 && flags & 0x04 == 0).then_some(LinkEvent::SynAck)
        }
        17 => {
            let sport = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
            (sport == 443 && l4.len() > 8).then_some(LinkEvent::QuicReply)
        }
        _ => None,
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
}
