//! What the injector blocks and what it forges.

use crate::packet::{self, Forge, Segment, ACK, FIN, PSH, RST, SYN};
use std::net::IpAddr;

/// Why a segment triggered an injection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A ClientHello whose SNI matched.
    Sni(String),
    /// An HTTP request whose Host matched.
    Host(String),
    /// A configured keyword found in the payload.
    Keyword(String),
}

impl Trigger {
    /// ("sni" | "host" | "keyword", the name or keyword).
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Trigger::Sni(n) => ("sni", n),
            Trigger::Host(n) => ("host", n),
            Trigger::Keyword(k) => ("keyword", k),
        }
    }
}

/// Blocked names and keywords. A name blocks itself and its subdomains
/// (`blocked.example` blocks `www.blocked.example`, not
/// `other-blocked.example`).
#[derive(Debug, Clone, Default)]
pub struct Blocklist {
    pub sni: Vec<String>,
    pub hosts: Vec<String>,
    pub keywords: Vec<String>,
}

/// Whether `name` is `pattern` or a subdomain of it (both lowercase).
pub fn name_matches(name: &str, pattern: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    name == pattern
        || (name.len() > pattern.len()
            && name.ends_with(&pattern)
            && name.as_bytes()[name.len() - pattern.len() - 1] == b'.')
}

impl Blocklist {
    /// The trigger in a client→server payload, if any.
    pub fn check(&self, payload: &[u8]) -> Option<Trigger> {
        if payload.is_empty() {
            return None;
        }
        if !self.sni.is_empty() {
            if let Some(sni) = crate::tls::sni(payload) {
                if self.sni.iter().any(|p| name_matches(&sni, p)) {
                    return Some(Trigger::Sni(sni));
                }
            }
        }
        if !self.hosts.is_empty() {
            if let Some(host) = crate::http::host(payload) {
                if self.hosts.iter().any(|p| name_matches(&host, p)) {
                    return Some(Trigger::Host(host));
                }
            }
        }
        self.keywords
            .iter()
            .find(|k| crate::http::find(payload, k.as_bytes()).is_some())
            .map(|k| Trigger::Keyword(k.clone()))
    }
}

/// What to send per trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One RST+ACK to the client: seq = the trigger's ack, ack = the
    /// trigger's seq + payload length.
    Rst,
    /// Three RST+ACKs to the client with seq +0, +1460, +4380 (the GFW's
    /// "type 2" burst).
    Gfw,
    /// The RST+ACK to the client and one to the server claiming to be the
    /// client (seq = trigger seq + length, ack = trigger ack).
    RstBoth,
    /// An Iran-style block page ([`IR_BLOCK_PAGE`]: 403, an iframe to
    /// `http://10.10.34.34`) to the client in one PSH+FIN+ACK segment (seq =
    /// the trigger's ack, ack = the trigger's seq + length), then an RST+ACK
    /// to the client right after the FIN (seq + page length + 1).
    Page,
}

/// The block page of `--mode page`: Iran's national block page as OONI and
/// Citizen Lab describe it (a 403 whose body is an iframe to
/// `http://10.10.34.34`), delimited by the close (no Content-Length).
pub const IR_BLOCK_PAGE: &[u8] = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n\
<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1256\">\
<title>M1-6</title></head><body><iframe src=\"http://10.10.34.34?type=Invalid Site&policy=MainPolicy \" \
style=\"width: 100%; height: 100%\" scrolling=\"no\" marginwidth=\"0\" marginheight=\"0\" \
frameborder=\"0\" vspace=\"0\" hspace=\"0\"></iframe></body></html>";

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rst" => Ok(Mode::Rst),
            "gfw" => Ok(Mode::Gfw),
            "rst-both" => Ok(Mode::RstBoth),
            "page" => Ok(Mode::Page),
            o => Err(format!("unknown mode {o:?} (rst, gfw, rst-both, page)")),
        }
    }
}

/// IP identification of the forged IPv4 packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpId {
    Random,
    /// The trigger packet's IP ID.
    Copy,
    /// A fixed value (Linux replaces 0 on raw sockets).
    Fixed(u16),
}

impl std::str::FromStr for IpId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(IpId::Random),
            "copy" => Ok(IpId::Copy),
            n => n
                .parse()
                .map(IpId::Fixed)
                .map_err(|_| format!("bad --ip-id {n:?} (random, copy or 0-65535)")),
        }
    }
}

/// How forged packets look.
#[derive(Debug, Clone)]
pub struct Forger {
    pub mode: Mode,
    pub ttl: u8,
    pub ip_id: IpId,
    pub df: bool,
    pub window: u16,
}

/// A forged packet and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forged {
    /// Sent to the client (claiming to be the server), else to the server.
    pub to_client: bool,
    pub dst: IpAddr,
    pub packet: Vec<u8>,
}

/// The GFW burst's sequence offsets.
pub const GFW_STEPS: [u32; 3] = [0, 1460, 4380];

impl Forger {
    /// Whether `s` (seen arriving from the client) can trigger: a data
    /// segment of an established connection.
    pub fn eligible(s: &Segment<'_>) -> bool {
        !s.payload.is_empty() && s.flags & ACK != 0 && s.flags & (SYN | RST) == 0
    }

    /// The packets to send for trigger segment `t`; `rand` gives random IP
    /// IDs.
    pub fn forge(&self, t: &Segment<'_>, rand: &mut dyn FnMut() -> u16) -> Vec<Forged> {
        let next = t.seq.wrapping_add(t.payload.len() as u32);
        let id = |rand: &mut dyn FnMut() -> u16| match self.ip_id {
            IpId::Random => rand(),
            IpId::Copy => t.ip_id,
            IpId::Fixed(n) => n,
        };
        let to_client = |seq: u32, ip_id: u16| Forge {
            src: t.dst,
            dst: t.src,
            ttl: self.ttl,
            ip_id,
            df: self.df,
            sport: t.dport,
            dport: t.sport,
            seq,
            ack: next,
            flags: RST | ACK,
            window: self.window,
        };
        if self.mode == Mode::Page {
            let page = Forge {
                flags: PSH | FIN | ACK,
                ..to_client(t.ack, id(rand))
            };
            // The FIN takes one sequence number after the page.
            let after = t.ack.wrapping_add(IR_BLOCK_PAGE.len() as u32 + 1);
            return vec![
                Forged {
                    to_client: true,
                    dst: t.src,
                    packet: packet::build(&page, IR_BLOCK_PAGE),
                },
                Forged {
                    to_client: true,
                    dst: t.src,
                    packet: packet::build(&to_client(after, id(rand)), &[]),
                },
            ];
        }
        let steps: &[u32] = match self.mode {
            Mode::Gfw => &GFW_STEPS,
            Mode::Rst | Mode::RstBoth | Mode::Page => &[0],
        };
        let mut out: Vec<Forged> = steps
            .iter()
            .map(|&step| Forged {
                to_client: true,
                dst: t.src,
                packet: packet::build(&to_client(t.ack.wrapping_add(step), id(rand)), &[]),
            })
            .collect();
        if self.mode == Mode::RstBoth {
            let f = Forge {
                src: t.src,
                dst: t.dst,
                ttl: self.ttl,
                ip_id: id(rand),
                df: self.df,
                sport: t.sport,
                dport: t.dport,
                seq: next,
                ack: t.ack,
                flags: RST | ACK,
                window: self.window,
            };
            out.push(Forged {
                to_client: false,
                dst: t.dst,
                packet: packet::build(&f, &[]),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::parse;

    fn blocklist() -> Blocklist {
        Blocklist {
            sni: vec!["blocked.example".into(), "Other-Blocked.Example.".into()],
            hosts: vec!["blocked.example".into()],
            keywords: vec!["forbidden-word".into()],
        }
    }

    #[test]
    fn names_match_on_label_boundaries() {
        assert!(name_matches("blocked.example", "blocked.example"));
        assert!(name_matches("www.blocked.example", "blocked.example"));
        assert!(name_matches("blocked.example", "Blocked.Example."));
        assert!(!name_matches("other-blocked.example", "blocked.example"));
        assert!(!name_matches("blocked.example.net", "blocked.example"));
        assert!(!name_matches("example", "blocked.example"));
    }

    #[test]
    fn triggers() {
        let b = blocklist();
        let mut rng = tw_scenario::Rng::new(1);
        let hello = |n: &str, rng: &mut tw_scenario::Rng| tw_scenario::tls::client_hello(n, rng);
        assert_eq!(
            b.check(&hello("blocked.example", &mut rng)),
            Some(Trigger::Sni("blocked.example".into()))
        );
        assert_eq!(
            b.check(&hello("other-blocked.example", &mut rng)),
            Some(Trigger::Sni("other-blocked.example".into()))
        );
        assert_eq!(b.check(&hello("allowed.example", &mut rng)), None);
        let get = |h: &str| tw_scenario::http::get(h, "/index.html");
        assert_eq!(
            b.check(&get("blocked.example")),
            Some(Trigger::Host("blocked.example".into()))
        );
        // Host blocking is separate from SNI blocking.
        assert_eq!(b.check(&get("other-blocked.example")), None);
        assert_eq!(b.check(&get("allowed.example")), None);
        assert_eq!(
            b.check(b"GET /?q=forbidden-word HTTP/1.1\r\nHost: allowed.example\r\n\r\n"),
            Some(Trigger::Keyword("forbidden-word".into()))
        );
        assert_eq!(b.check(b""), None);
        assert_eq!(Blocklist::default().check(&get("blocked.example")), None);
    }

    fn trigger_packet(payload: &[u8]) -> Vec<u8> {
        packet::build(
            &Forge {
                src: "192.0.2.2".parse().unwrap(),
                dst: "198.51.100.2".parse().unwrap(),
                ttl: 64,
                ip_id: 0x4242,
                df: true,
                sport: 40000,
                dport: 80,
                seq: 0xffff_fff0, // wraps
                ack: 777,
                flags: PSH | ACK,
                window: 502,
            },
            payload,
        )
    }

    fn forger(mode: Mode, ip_id: IpId) -> Forger {
        Forger {
            mode,
            ttl: 40,
            ip_id,
            df: false,
            window: 0,
        }
    }

    #[test]
    fn rst_mode() {
        let pkt = trigger_packet(&[b'x'; 100]);
        let t = parse(&pkt).unwrap();
        assert!(Forger::eligible(&t));
        let out = forger(Mode::Rst, IpId::Copy).forge(&t, &mut || unreachable!());
        assert_eq!(out.len(), 1);
        assert!(out[0].to_client);
        assert_eq!(out[0].dst, t.src);
        let r = parse(&out[0].packet).unwrap();
        assert_eq!((r.src, r.dst), (t.dst, t.src));
        assert_eq!((r.sport, r.dport), (80, 40000));
        assert_eq!(r.seq, 777);
        assert_eq!(r.ack, 0xffff_fff0u32.wrapping_add(100));
        assert_eq!(r.flags, RST | ACK);
        assert_eq!((r.ttl, r.ip_id, r.df, r.window), (40, 0x4242, false, 0));
    }

    #[test]
    fn gfw_mode_burst() {
        let pkt = trigger_packet(b"GET / HTTP/1.1\r\n");
        let t = parse(&pkt).unwrap();
        let mut ids = [7u16, 8, 9].into_iter();
        let out = forger(Mode::Gfw, IpId::Random).forge(&t, &mut || ids.next().unwrap());
        let seqs: Vec<u32> = out.iter().map(|f| parse(&f.packet).unwrap().seq).collect();
        assert_eq!(seqs, vec![777, 777 + 1460, 777 + 4380]);
        let ids: Vec<u16> = out
            .iter()
            .map(|f| parse(&f.packet).unwrap().ip_id)
            .collect();
        assert_eq!(ids, vec![7, 8, 9]);
        assert!(out.iter().all(|f| f.to_client));
    }

    #[test]
    fn rst_both_mode() {
        let pkt = trigger_packet(b"abc");
        let t = parse(&pkt).unwrap();
        let out = forger(Mode::RstBoth, IpId::Fixed(5)).forge(&t, &mut || 0);
        assert_eq!(out.len(), 2);
        let s = parse(&out[1].packet).unwrap();
        assert!(!out[1].to_client);
        assert_eq!(out[1].dst, t.dst);
        assert_eq!((s.src, s.dst, s.sport, s.dport), (t.src, t.dst, 40000, 80));
        assert_eq!((s.seq, s.ack), (0xffff_fff3, 777));
        assert_eq!(s.ip_id, 5);
    }

    #[test]
    fn page_mode() {
        let req = b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
        let pkt = trigger_packet(req);
        let t = parse(&pkt).unwrap();
        let mut ids = [21u16, 22].into_iter();
        let f = Forger {
            window: 8192,
            ..forger(Mode::Page, IpId::Random)
        };
        let out = f.forge(&t, &mut || ids.next().unwrap());
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|f| f.to_client && f.dst == t.src));
        let page = parse(&out[0].packet).unwrap();
        assert_eq!((page.sport, page.dport), (80, 40000));
        assert_eq!(page.flags, PSH | FIN | ACK);
        assert_eq!(page.seq, 777);
        assert_eq!(page.ack, 0xffff_fff0u32.wrapping_add(req.len() as u32));
        assert_eq!(
            (page.ttl, page.ip_id, page.df, page.window),
            (40, 21, false, 8192)
        );
        assert_eq!(page.payload, IR_BLOCK_PAGE);
        let text = String::from_utf8_lossy(page.payload);
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{text}");
        // What tamperwatch's shipped fingerprint tw.ir_iframe looks for.
        assert!(text.contains("<iframe src=\"http://10.10.34.3"), "{text}");
        let rst = parse(&out[1].packet).unwrap();
        assert_eq!(rst.flags, RST | ACK);
        assert_eq!(rst.seq, 777 + IR_BLOCK_PAGE.len() as u32 + 1);
        assert_eq!(rst.ack, page.ack);
        assert!(rst.payload.is_empty());
        assert_eq!(rst.ip_id, 22);
        assert_eq!("page".parse::<Mode>(), Ok(Mode::Page));
    }

    #[test]
    fn eligibility() {
        let pkt = trigger_packet(b"");
        assert!(!Forger::eligible(&parse(&pkt).unwrap()));
        let mut pkt = trigger_packet(b"x");
        pkt[20 + 13] = SYN | ACK;
        assert!(!Forger::eligible(&parse(&pkt).unwrap()));
    }

    #[test]
    fn options_parse() {
        assert_eq!("gfw".parse::<Mode>(), Ok(Mode::Gfw));
        assert!("x".parse::<Mode>().is_err());
        assert_eq!("copy".parse::<IpId>(), Ok(IpId::Copy));
        assert_eq!("65535".parse::<IpId>(), Ok(IpId::Fixed(65535)));
        assert!("65536".parse::<IpId>().is_err());
    }
}
