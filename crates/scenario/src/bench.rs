//! Streaming generator of a large, realistic mixed capture for benchmarks.
//!
//! `flows` concurrent conversations are kept active; whenever one finishes a new one
//! starts in its slot, so flows begin and end throughout the capture. Each output packet
//! comes from a uniformly chosen active flow and the capture clock advances by an
//! exponentially distributed gap (mean `1 / pps`). Memory is O(flows), independent of
//! the packet count: each flow generates only its next small batch of packets on demand.
//!
//! Mix (by flow): HTTPS bulk downloads, HTTPS API calls (many small request/response
//! pairs), plain HTTP, DNS over UDP, QUIC-like UDP/443. ~20% of flows are IPv6, ~6% are
//! 802.1Q-tagged (and ~1% QinQ) when the link type is Ethernet.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::dns::{self, qtype, rcode, DnsFlags, Rr};
use crate::endpoint::{Endpoint, IpIdMode};
use crate::link::{self, FrameMeta, Vlan};
use crate::pcap::{linktype, PcapWriter};
use crate::rng::{splitmix64, Rng};
use crate::session::{TcpSession, Timeline, TsClock, UdpFlow, EPOCH_NS};
use crate::{http, quic, tls, Result};

/// Domains used for SNI / Host / DNS names.
pub const DOMAINS: &[&str] = &[
    "www.google.com",
    "www.youtube.com",
    "www.facebook.com",
    "www.wikipedia.org",
    "www.instagram.com",
    "www.reddit.com",
    "www.amazon.com",
    "twitter.com",
    "x.com",
    "www.linkedin.com",
    "www.netflix.com",
    "www.bing.com",
    "www.yahoo.com",
    "www.microsoft.com",
    "login.microsoftonline.com",
    "www.apple.com",
    "icloud.com",
    "github.com",
    "api.github.com",
    "objects.githubusercontent.com",
    "stackoverflow.com",
    "www.cloudflare.com",
    "cdn.jsdelivr.net",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "ajax.googleapis.com",
    "www.gstatic.com",
    "i.ytimg.com",
    "rr3.googlevideo.com",
    "scontent.xx.fbcdn.net",
    "static.xx.fbcdn.net",
    "pbs.twimg.com",
    "abs.twimg.com",
    "www.bbc.co.uk",
    "www.nytimes.com",
    "www.theguardian.com",
    "www.dw.com",
    "www.torproject.org",
    "signal.org",
    "telegram.org",
    "web.whatsapp.com",
    "discord.com",
    "www.twitch.tv",
    "open.spotify.com",
    "www.tiktok.com",
    "duckduckgo.com",
    "proton.me",
    "archive.org",
    "www.hrw.org",
    "www.amnesty.org",
    "update.example-cdn.net",
    "s3.amazonaws.com",
];

/// Generator parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// Packets to write.
    pub packets: u64,
    /// Concurrently active flows.
    pub flows: usize,
    /// PRNG seed.
    pub seed: u64,
    /// Link type of the output file.
    pub linktype: u32,
    /// Mean packet rate of capture time (packets per second).
    pub pps: f64,
    /// Timestamp of the first packet.
    pub start_ns: i64,
    /// A SYN flood mixed in: spoofed SYNs to [`BenchConfig::flood_target`],
    /// on average this many per packet of the real traffic (0: none). The
    /// real traffic is the same with or without the flood (the flood has its
    /// own random stream; its SYNs fall between real packets), so runs with
    /// and without it can be compared flow for flow.
    pub flood_per_packet: f64,
    /// The flooded server.
    pub flood_target: SocketAddr,
    /// Flood with data segments carrying the first bytes of a TLS record
    /// (a ClientHello that never completes) instead of SYNs.
    pub flood_partial_tls: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            packets: 1_000_000,
            flows: 2000,
            seed: 1,
            linktype: linktype::ETHERNET,
            pps: 100_000.0,
            start_ns: EPOCH_NS,
            flood_per_packet: 0.0,
            flood_target: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 80)), 443),
            flood_partial_tls: false,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchSummary {
    /// Packets written.
    pub packets: u64,
    /// Flows started (TCP + UDP conversations).
    pub flows: u64,
    /// TCP flows started.
    pub tcp_flows: u64,
    /// UDP flows started (DNS + QUIC).
    pub udp_flows: u64,
    /// Sum of frame lengths.
    pub frame_bytes: u64,
    /// File size in bytes.
    pub file_bytes: u64,
    /// IPv6 packets.
    pub ipv6_packets: u64,
    /// VLAN-tagged frames.
    pub vlan_packets: u64,
    /// Capture time span in ns (last - first timestamp).
    pub duration_ns: i64,
    /// Spoofed flood SYNs written (not counted in `packets`).
    pub flood_packets: u64,
}

impl BenchSummary {
    /// Mean frame size in bytes.
    pub fn mean_frame(&self) -> f64 {
        if self.packets == 0 {
            0.0
        } else {
            self.frame_bytes as f64 / self.packets as f64
        }
    }
}

type Pkt = (Vec<u8>, FrameMeta);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpPhase {
    Handshake,
    Hello,
    Request,
    Response,
    Close,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpKind {
    Bulk,
    Api,
    Http,
}

#[derive(Debug)]
enum State {
    Tcp {
        s: Box<TcpSession>,
        kind: TcpKind,
        phase: TcpPhase,
        host: &'static str,
        requests_left: u32,
        resp_left: usize,
        first_chunk: bool,
        rtt: i64,
        ack_every: usize,
    },
    Dns {
        ex: Box<UdpFlow>,
        host: &'static str,
        done: bool,
    },
    Quic {
        f: Box<UdpFlow>,
        phase: u8,
        left: usize,
        dcid: Vec<u8>,
    },
}

#[derive(Debug)]
struct Flow {
    rng: Rng,
    clock: i64,
    queue: VecDeque<Pkt>,
    state: State,
}

fn server_ip(host: &str, v6: bool) -> IpAddr {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let x = splitmix64(&mut h);
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x100 + (x & 0xff) as u16,
            0,
            0,
            0,
            (x >> 16) as u16,
            (x >> 32) as u16 | 1,
        ))
    } else {
        // Spread over the benchmarking range 198.18.0.0/15 and the
        // documentation ranges 203.0.113.0/24 and 198.51.100.0/24.
        let third = (x >> 8) as u8;
        let (a, b, c) = match x % 4 {
            0 => (198, 18, third),
            1 => (198, 19, third),
            2 => (203, 0, 113),
            _ => (198, 51, 100),
        };
        IpAddr::V4(Ipv4Addr::new(a, b, c, ((x >> 16) as u8).max(1)))
    }
}

fn server_ttl(ip: &IpAddr) -> u8 {
    let mut st = match ip {
        IpAddr::V4(a) => u32::from(*a) as u64,
        IpAddr::V6(a) => u128::from(*a) as u64,
    };
    let base = if splitmix64(&mut st).is_multiple_of(5) {
        128
    } else {
        64
    };
    base - 6 - (splitmix64(&mut st) % 18) as u8
}

struct Ctx {
    flows_started: u64,
    tcp: u64,
    udp: u64,
    vlan_enabled: bool,
}

fn new_flow(rng: &mut Rng, ctx: &mut Ctx, now: i64) -> Flow {
    let mut r = rng.fork();
    ctx.flows_started += 1;
    let v6 = r.chance(0.2);
    let host_no = r.below(250) as u32;
    let client_ip: IpAddr = if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            1,
            0,
            0,
            0,
            0x10,
            0x100 + host_no as u16,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            (host_no >> 8) as u8,
            (host_no as u8).max(2),
        ))
    };
    let port = r.range(32768, 60999) as u16;
    let mut frame = FrameMeta::default();
    if ctx.vlan_enabled {
        let v = r.f64();
        if v < 0.06 {
            frame.vlan = Vlan::Single(*r.pick(&[10u16, 20, 30, 100]));
        } else if v < 0.07 {
            frame.vlan = Vlan::QinQ {
                outer: 1000,
                inner: *r.pick(&[10u16, 20]),
            };
        }
    }
    let windows = r.chance(0.3);
    let mut client = Endpoint::client(SocketAddr::new(client_ip, port));
    client.mac = [0x02, 0x00, 0x5e, 0x10, (host_no >> 8) as u8, host_no as u8];
    if windows {
        client.ttl = 128;
    }
    client.ip_id = IpIdMode::Sequential {
        next: r.next_u16(),
        step: 1,
    };
    let host = *r.pick(DOMAINS);
    let kind = r.f64();
    let state = if kind < 0.33 {
        ctx.udp += 1;
        let res_ip: IpAddr = if v6 {
            "2001:db8:1::1".parse().expect("literal")
        } else {
            Ipv4Addr::new(192, 0, 2, 1).into()
        };
        let mut res = Endpoint::server(SocketAddr::new(res_ip, 53))
            .with_ttl(64)
            .with_ip_id(IpIdMode::Random(r.next_u64()))
            .with_df(false);
        res.mac = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
        client.df = false;
        let mut f = UdpFlow::new(client, res);
        f.frame = frame;
        State::Dns {
            ex: Box::new(f),
            host,
            done: false,
        }
    } else if kind < 0.41 {
        ctx.udp += 1;
        let sip = server_ip(host, v6);
        let server = Endpoint::server(SocketAddr::new(sip, 443))
            .with_ttl(server_ttl(&sip))
            .with_ip_id(IpIdMode::Zero);
        let mut f = UdpFlow::new(client, server);
        f.frame = frame;
        State::Quic {
            f: Box::new(f),
            phase: 0,
            left: r.lognormal(9.5, 1.5).min(3e6) as usize,
            dcid: r.bytes(8),
        }
    } else {
        ctx.tcp += 1;
        let (kind, dport) = match r.f64() {
            x if x < 0.35 => (TcpKind::Bulk, 443),
            x if x < 0.90 => (TcpKind::Api, 443),
            _ => (TcpKind::Http, 80),
        };
        let sip = server_ip(host, v6);
        let mut server = Endpoint::server(SocketAddr::new(sip, dport)).with_ttl(server_ttl(&sip));
        server.ip_id = if r.chance(0.5) {
            IpIdMode::Zero
        } else {
            IpIdMode::Sequential {
                next: r.next_u16(),
                step: 1,
            }
        };
        let mut s = TcpSession::new(client, server);
        s.set_isns(r.next_u32(), r.next_u32());
        if !windows {
            s.timestamps = Some(TsClock::khz(r.next_u32(), r.next_u32()));
        } else {
            s.wscale = Some(8);
        }
        s.frame = frame;
        let requests_left = match kind {
            TcpKind::Bulk => r.range(1, 3) as u32,
            TcpKind::Api => r.range(2, 20) as u32,
            TcpKind::Http => r.range(1, 4) as u32,
        };
        State::Tcp {
            s: Box::new(s),
            kind,
            phase: TcpPhase::Handshake,
            host,
            requests_left,
            resp_left: 0,
            first_chunk: false,
            rtt: r.range(5, 150) as i64 * 1_000_000,
            ack_every: if r.chance(0.5) { 1 } else { 2 },
        }
    };
    Flow {
        rng: r,
        clock: now,
        queue: VecDeque::new(),
        state,
    }
}

impl Flow {
    /// Generate the next batch into the queue. Returns false when the flow is finished.
    fn refill(&mut self, tl: &mut Timeline, pool: &[u8]) -> bool {
        let r = &mut self.rng;
        let t = self.clock;
        match &mut self.state {
            State::Dns { ex, host, done } => {
                if *done {
                    return false;
                }
                let qt = if ex.client.ip.is_ipv6() || r.chance(0.3) {
                    qtype::AAAA
                } else {
                    qtype::A
                };
                let id = r.next_u16();
                let q = dns::query(id, host, qt, r.chance(0.7));
                ex.client_send(tl, t, q.clone());
                let mut answers = Vec::new();
                let rc = if r.chance(0.03) {
                    rcode::NXDOMAIN
                } else {
                    if r.chance(0.3) {
                        answers.push(Rr::cname(host, 300, "edge.example-cdn.net"));
                    }
                    let owner = if answers.is_empty() {
                        *host
                    } else {
                        "edge.example-cdn.net"
                    };
                    for _ in 0..r.range(1, 3) {
                        let ip = server_ip(owner, qt == qtype::AAAA);
                        answers.push(match ip {
                            IpAddr::V4(a) => Rr::a(owner, 60, a),
                            IpAddr::V6(a) => Rr::aaaa(owner, 60, a),
                        });
                    }
                    rcode::NOERROR
                };
                if let Ok(resp) = dns::response(&q, rc, &answers, DnsFlags::RA) {
                    ex.server_send(tl, t + 10_000_000, resp);
                }
                *done = true;
            }
            State::Quic {
                f,
                phase,
                left,
                dcid,
            } => {
                let v6 = f.client.ip.is_ipv6();
                let max = if v6 { 1232 } else { 1252 };
                match *phase {
                    0 => {
                        f.client_send(tl, t, quic::initial(r));
                        let scid = r.bytes(8);
                        for len in [1200, 1200, r.range(200, 900) as usize] {
                            let p = quic::long_header(
                                r,
                                quic::LongType::Handshake,
                                quic::VERSION_1,
                                dcid,
                                &scid,
                                len,
                            );
                            f.server_send(tl, t + 30_000_000, p);
                        }
                        f.client_send(tl, t + 31_000_000, quic::short_header(r, dcid, 1200));
                        *phase = 1;
                    }
                    _ => {
                        if *left == 0 {
                            return false;
                        }
                        for i in 0..8 {
                            if *left == 0 {
                                break;
                            }
                            let n = (*left).min(max - 30);
                            *left -= n;
                            f.server_send(tl, t + i, quic::short_header(r, dcid, n + 30));
                            if i % 2 == 1 || *left == 0 || r.chance(0.3) {
                                let alen = r.range(40, 60) as usize;
                                let ack = quic::short_header(r, dcid, alen);
                                f.client_send(tl, t + i + 1, ack);
                            }
                        }
                    }
                }
            }
            State::Tcp {
                s,
                kind,
                phase,
                host,
                requests_left,
                resp_left,
                first_chunk,
                rtt,
                ack_every,
            } => {
                let rtt = *rtt;
                let ack_every = *ack_every;
                match *phase {
                    TcpPhase::Handshake => {
                        s.handshake(tl, t, rtt);
                        *phase = if *kind == TcpKind::Http {
                            TcpPhase::Request
                        } else {
                            TcpPhase::Hello
                        };
                    }
                    TcpPhase::Hello => {
                        let hello = tls::ClientHello::new(host, r)
                            .with_large_key_share(r.chance(0.3))
                            .with_pad_to(512)
                            .build();
                        let t2 = s.client_send(tl, t, &hello);
                        let flen = r.range(2500, 5500) as usize;
                        let flight = tls::server_flight(r, flen);
                        s.server_send_acked(tl, t2 + rtt, &flight, 2);
                        *phase = TcpPhase::Request;
                    }
                    TcpPhase::Request => {
                        let (req, resp) = match kind {
                            TcpKind::Http => {
                                let path = format!("/assets/{}.js", r.below(10000));
                                (
                                    http::get(host, &path),
                                    r.lognormal(8.6, 1.4).clamp(200.0, 5e6) as usize,
                                )
                            }
                            TcpKind::Api => (
                                {
                                    let n = r.range(150, 900) as usize;
                                    tls::app_data(r, n)
                                },
                                r.lognormal(6.8, 0.9).clamp(100.0, 2e5) as usize,
                            ),
                            TcpKind::Bulk => (
                                {
                                    let n = r.range(300, 1400) as usize;
                                    tls::app_data(r, n)
                                },
                                r.lognormal(8.8, 1.3).clamp(2000.0, 2e7) as usize,
                            ),
                        };
                        s.client_send(tl, t, &req);
                        *resp_left = resp;
                        *first_chunk = true;
                        *phase = TcpPhase::Response;
                    }
                    TcpPhase::Response => {
                        let seg = s.segment_size();
                        let n = (*resp_left).min(seg * 8);
                        let mut data = Vec::with_capacity(n + 256);
                        if *kind == TcpKind::Http && *first_chunk {
                            data.extend_from_slice(&http::response_head(
                                200,
                                "OK",
                                "application/javascript",
                                *resp_left,
                            ));
                        }
                        let off = r.below((pool.len() - seg * 8) as u64) as usize;
                        data.extend_from_slice(&pool[off..off + n]);
                        let start = if *first_chunk { t + rtt } else { t };
                        *first_chunk = false;
                        s.server_send_acked(tl, start, &data, ack_every);
                        if r.chance(0.01) {
                            s.retransmit_server_last(tl, start + 3 * rtt / 2);
                            s.client_ack(tl, start + 3 * rtt / 2 + 50_000);
                        }
                        *resp_left -= n;
                        if *resp_left == 0 {
                            *requests_left = requests_left.saturating_sub(1);
                            *phase = if *requests_left > 0 {
                                TcpPhase::Request
                            } else {
                                TcpPhase::Close
                            };
                        }
                    }
                    TcpPhase::Close => {
                        let x = r.f64();
                        if x < 0.80 {
                            s.close(tl, t, rtt);
                        } else if x < 0.95 {
                            s.close_by_server(tl, t, rtt);
                        } else {
                            s.rst_from_client(tl, t);
                        }
                        *phase = TcpPhase::Done;
                    }
                    TcpPhase::Done => return false,
                }
            }
        }
        self.clock = tl.last_ts().unwrap_or(t) + 1_000_000;
        for e in tl.drain() {
            self.queue.push_back((e.data, e.meta));
        }
        true
    }
}

/// Generate the capture into `w` (wrap files in a `BufWriter`).
pub fn generate<W: Write>(cfg: &BenchConfig, w: W) -> Result<BenchSummary> {
    let mut rng = Rng::new(cfg.seed);
    let mut out = PcapWriter::new(w, cfg.linktype, true)?;
    let mut ctx = Ctx {
        flows_started: 0,
        tcp: 0,
        udp: 0,
        vlan_enabled: cfg.linktype == linktype::ETHERNET,
    };
    let pool = rng.bytes(1 << 16);
    let nflows = cfg.flows.max(1);
    let mut flows: Vec<Flow> = (0..nflows)
        .map(|_| new_flow(&mut rng, &mut ctx, cfg.start_ns))
        .collect();
    let mut tl = Timeline::new();
    let mut buf = Vec::with_capacity(2048);
    let mut now = cfg.start_ns;
    let mean_gap = 1e9 / cfg.pps.max(1.0);
    let mut frng = Rng::new(cfg.seed ^ 0x5eed_f100d);
    let mut sum = BenchSummary::default();
    while sum.packets < cfg.packets {
        let i = rng.below(nflows as u64) as usize;
        let pkt = loop {
            if let Some(p) = flows[i].queue.pop_front() {
                break p;
            }
            if !flows[i].refill(&mut tl, &pool) {
                flows[i] = new_flow(&mut rng, &mut ctx, now);
            }
        };
        let gap = rng.exp(mean_gap).round() as i64;
        if cfg.flood_per_packet > 0.0 {
            let want = cfg.flood_per_packet;
            let n = want.floor() as u64 + u64::from(frng.f64() < want.fract());
            for j in 0..n {
                let at = now + gap * (j as i64 + 1) / (n as i64 + 1);
                buf.clear();
                let syn = flood_syn(&mut frng, cfg.flood_target, cfg.flood_partial_tls);
                link::frame_ip_into(&mut buf, cfg.linktype, &syn, &FrameMeta::default())?;
                out.write(at, &buf)?;
                sum.flood_packets += 1;
            }
        }
        now += gap;
        let (ip, meta) = pkt;
        buf.clear();
        link::frame_ip_into(&mut buf, cfg.linktype, &ip, &meta)?;
        out.write(now, &buf)?;
        sum.packets += 1;
        sum.frame_bytes += buf.len() as u64;
        if ip[0] >> 4 == 6 {
            sum.ipv6_packets += 1;
        }
        if meta.vlan != Vlan::None && cfg.linktype == linktype::ETHERNET {
            sum.vlan_packets += 1;
        }
    }
    sum.file_bytes = out.bytes_written();
    out.into_inner()?;
    sum.flows = ctx.flows_started;
    sum.tcp_flows = ctx.tcp;
    sum.udp_flows = ctx.udp;
    sum.duration_ns = now - cfg.start_ns;
    Ok(sum)
}

/// One spoofed SYN: a random source in 198.18.0.0/15 (benchmarking
/// addresses) with a random port, random ISN, IP ID and TTL, a Linux-like
/// option set.
/// With `partial_tls`, an ACK segment with the first 8 bytes of a TLS
/// handshake record of 4 KiB instead (a ClientHello that never completes).
fn flood_syn(rng: &mut Rng, target: SocketAddr, partial_tls: bool) -> Vec<u8> {
    let host = rng.below(1 << 17) as u32;
    let src = Ipv4Addr::from(0xc612_0000u32 | host);
    let sport = 1024 + rng.below(64_512) as u16;
    let mut t = crate::packet::TcpSpec::new(SocketAddr::new(IpAddr::V4(src), sport), target);
    t.flags = crate::packet::TcpFlags::SYN;
    t.seq = rng.next_u32();
    t.ip_id = rng.next_u16();
    t.ttl = 40 + rng.below(24) as u8;
    t.window = 64240;
    t.options = vec![crate::packet::TcpOpt::Mss(1460)];
    if partial_tls {
        t.flags = crate::packet::TcpFlags::ACK;
        t.options.clear();
        t.ack = rng.next_u32();
        t.payload = vec![0x16, 0x03, 0x01, 0x0f, 0xfb, 0x01, 0x00, 0x0f];
    }
    t.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_realistic() {
        let cfg = BenchConfig {
            packets: 20_000,
            flows: 300,
            seed: 9,
            ..BenchConfig::default()
        };
        let mut a = Vec::new();
        let sa = generate(&cfg, &mut a).unwrap();
        let mut b = Vec::new();
        let sb = generate(&cfg, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_eq!(sa.packets, 20_000);
        assert_eq!(sa.file_bytes as usize, a.len());
        let v6 = sa.ipv6_packets as f64 / sa.packets as f64;
        assert!((0.1..0.3).contains(&v6), "ipv6 share {v6}");
        assert!(sa.vlan_packets > 0);
        assert!(sa.flows > 300);
        let mean = sa.mean_frame();
        assert!((450.0..800.0).contains(&mean), "mean frame {mean}");
        // timestamps monotonic
        let recs = crate::catalogue::tests::records(&a);
        assert_eq!(recs.len(), 20_000);
        let other = generate(&BenchConfig { seed: 10, ..cfg }, Vec::new()).unwrap();
        assert_ne!(other, sa);
    }

    #[test]
    fn a_flood_leaves_the_real_traffic_as_it_was() {
        let cfg = BenchConfig {
            packets: 5_000,
            flows: 100,
            seed: 3,
            ..BenchConfig::default()
        };
        let mut plain = Vec::new();
        generate(&cfg, &mut plain).unwrap();
        let mut flooded = Vec::new();
        let sf = generate(
            &BenchConfig {
                flood_per_packet: 2.5,
                ..cfg
            },
            &mut flooded,
        )
        .unwrap();
        assert_eq!(sf.packets, 5_000);
        assert!(
            (11_500..13_500).contains(&sf.flood_packets),
            "{}",
            sf.flood_packets
        );
        // (timestamp, frame) of each record of a classic pcap
        let records = |b: &[u8]| {
            let mut v = Vec::new();
            let mut off = 24;
            while off + 16 <= b.len() {
                let u = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
                let ts = i64::from(u(off)) * 1_000_000_000 + i64::from(u(off + 4));
                let incl = u(off + 8) as usize;
                v.push((ts, b[off + 16..off + 16 + incl].to_vec()));
                off += 16 + incl;
            }
            v
        };
        let real = records(&plain);
        let all = records(&flooded);
        assert_eq!(all.len() as u64, 5_000 + sf.flood_packets);
        // Removing the SYNs to the flood target gives the plain capture back,
        // and timestamps never go backwards.
        let target = [203u8, 0, 113, 80];
        let mut rest = Vec::new();
        let mut last = i64::MIN;
        let mut sources = std::collections::HashSet::new();
        for r in &all {
            assert!(r.0 >= last);
            last = r.0;
            let ip = &r.1[14..];
            if r.1[12..14] == [8, 0] && ip[16..20] == target {
                assert_eq!(ip[33], 0x02, "a bare SYN");
                sources.insert((ip[12..16].to_vec(), ip[20..22].to_vec()));
            } else {
                rest.push(r.clone());
            }
        }
        assert_eq!(rest, real);
        assert!(
            sources.len() as u64 >= sf.flood_packets - 5,
            "sources repeat"
        );
    }
}
