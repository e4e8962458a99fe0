//! Scenarios for the `throttling` detector (expected verdicts in the
//! tamperwatch test `throttle_fixtures.rs`).
//!
//! Downloads are produced by a small TCP simulation rather than written by
//! hand: a NewReno-like sender (slow start, congestion avoidance, fast
//! retransmit with partial ACKs, retransmission timeouts with go-back-N), a
//! path with a one-way delay each way, and a limiter upstream of the client
//! (the vantage point): a link that serialises at a rate behind a drop-tail
//! queue (a shaper, or just a slow or fast link), a token-bucket policer,
//! random loss, or a link whose rate changes over time. The client ACKs
//! every second segment (at once when data is out of order, after 40 ms
//! otherwise) and echoes TCP timestamps, so the capture carries everything a
//! receiver-side vantage point would see. Bulk server segments are recorded
//! with a 52-byte snap length (IP and TCP headers; the original length is
//! kept), which keeps the fixtures small.
//!
//! Client 192.0.2.10; servers in 203.0.113.0/24 and 198.51.100.0/24.

use crate::catalogue::MS;
use crate::endpoint::Endpoint;
use crate::packet::TcpFlags;
use crate::rng::Rng;
use crate::session::{Direction, TcpSession, Timeline, TsClock, EPOCH_NS};
use crate::{tls, Result};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv4Addr, SocketAddr};

const S: i64 = 1_000 * MS;
const RAW: u32 = crate::pcap::linktype::RAW;

/// What limits the server-to-client direction, upstream of the vantage point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limiter {
    /// A link serialising at `bps` behind a drop-tail queue of `queue` bytes
    /// (a slow or fast link, or a shaper).
    Link { bps: f64, queue: usize },
    /// A token bucket: `bps` refill, `burst` bytes deep; packets beyond it
    /// are dropped (a policer). The link itself is fast (100 Mbit/s).
    Policer { bps: f64, burst: usize },
    /// A link whose rate alternates between two values every `period`
    /// (congestion that comes and goes).
    Varying {
        bps: [f64; 2],
        period: i64,
        queue: usize,
    },
}

/// What the server application sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum App {
    /// `bytes` available at once (a file download).
    Bulk { bytes: usize },
    /// `count` chunks of `chunk` bytes, one every `every` (video segments).
    Chunks {
        chunk: usize,
        every: i64,
        count: usize,
    },
    /// The application paces itself at `bps` for `bytes`.
    Paced { bps: f64, bytes: usize },
}

impl App {
    fn total(&self) -> usize {
        match *self {
            App::Bulk { bytes } | App::Paced { bytes, .. } => bytes,
            App::Chunks { chunk, count, .. } => chunk * count,
        }
    }
    /// Bytes the application has handed to TCP by time `dt` after the start.
    fn available(&self, dt: i64) -> usize {
        match *self {
            App::Bulk { bytes } => bytes,
            App::Chunks {
                chunk,
                every,
                count,
            } => chunk * (((dt.max(0) / every.max(1)) + 1) as usize).min(count),
            App::Paced { bps, bytes } => {
                (((dt.max(0) as f64) / S as f64 * bps / 8.0) as usize + 4 * 1448).min(bytes)
            }
        }
    }
    /// When more data becomes available after `dt`, if ever.
    fn next_release(&self, dt: i64) -> Option<i64> {
        match *self {
            App::Bulk { .. } => None,
            App::Chunks { every, count, .. } => {
                let k = dt.max(0) / every.max(1) + 1;
                (k < count as i64).then_some(k * every)
            }
            App::Paced { .. } => Some(dt + 30 * MS),
        }
    }
}

/// One simulated download.
#[derive(Debug, Clone, Copy)]
pub struct Download<'a> {
    /// Server address (port 443).
    pub server: [u8; 4],
    /// SNI in the ClientHello.
    pub sni: &'a str,
    /// Client port.
    pub cport: u16,
    /// SYN time.
    pub start: i64,
    /// One-way delay each way.
    pub owd: i64,
    /// The limiter.
    pub limiter: Limiter,
    /// Random loss probability on the server-to-client path.
    pub loss: f64,
    /// Reordering on the server-to-client path: the probability that a
    /// segment is held back by `reorder_delay` (after the limiter), so the
    /// segments behind it overtake it.
    pub reorder: f64,
    /// How long a reordered segment is held back.
    pub reorder_delay: i64,
    /// The application.
    pub app: App,
    /// Client receive window, bytes (window scale 7).
    pub rwnd: usize,
    /// Seed of the random loss.
    pub seed: u64,
    /// A standing queue that another flow keeps on the shared
    /// server-to-client link: (from, until, added delay) (look-alikes).
    pub queue_delay: (i64, i64, i64),
    /// Segments lost together at each random loss (bursty Wi-Fi loss; 1:
    /// independent losses) (look-alikes).
    pub loss_burst: u32,
    /// Wi-Fi fades on the client's link, shared by every flow through it:
    /// (period, duration): every segment that would reach the client in
    /// the first `duration` of each `period` of the capture's clock is lost
    /// (0: none) (look-alikes).
    pub fade: (i64, i64),
    /// A standing queue on the client's uplink (an upload filling it):
    /// (from, until, added delay) for the client's ACKs (look-alikes).
    pub uplink_queue: (i64, i64, i64),
}

impl Download<'_> {
    /// Bulk download of `bytes` through `limiter`, 30 ms RTT, no random loss.
    pub fn bulk<'a>(
        server: [u8; 4],
        sni: &'a str,
        cport: u16,
        start: i64,
        limiter: Limiter,
        bytes: usize,
    ) -> Download<'a> {
        Download {
            server,
            sni,
            cport,
            start,
            owd: 15 * MS,
            limiter,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: 0,
            app: App::Bulk { bytes },
            rwnd: 4 << 20,
            seed: u64::from(cport),
            queue_delay: (0, 0, 0),
            loss_burst: 1,
            fade: (0, 0),
            uplink_queue: (0, 0, 0),
        }
    }

    /// How long the uplink's queue holds a client segment sent at `t`.
    fn uplink_delay(&self, t: i64) -> i64 {
        let (from, until, qd) = self.uplink_queue;
        if (from..until).contains(&t) {
            qd
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A data segment reaches the client: (offset, len, the client time of
    /// the newest ACK the server had seen when it sent the segment: its
    /// timestamp echo, when the server sent it).
    Data(u64, u32, i64, i64),
    /// An ACK reaches the server: (ack offset, client send time).
    Ack(u64, i64),
    /// Retransmission timer check (generation).
    Rto(u64),
    /// The client's delayed-ACK timer (generation).
    DelAck(u64),
    /// The application has more data.
    App,
}

/// The simulation's event queue: (time, insertion order, event).
type Queue = BinaryHeap<Reverse<(i64, u64, Ev)>>;

struct Sender {
    una: u64,
    nxt: u64,
    high: u64,
    cwnd: f64,
    ssthresh: f64,
    dupacks: u32,
    recover: Option<u64>,
    rto: i64,
    rto_gen: u64,
    ts_recent: i64,
    /// First-transmission send times by segment end (Karn: retransmitted
    /// segments give no sample).
    sent: BTreeMap<u64, i64>,
    srtt: Option<(f64, f64)>,
}

impl Sender {
    fn base_rto(&self, rtt: i64) -> i64 {
        match self.srtt {
            Some((s, v)) => ((s + 4.0 * v) as i64).max(200 * MS),
            None => (3 * rtt).max(200 * MS),
        }
    }
    fn sample(&mut self, a: u64, t: i64) {
        if let Some(sent) = self.sent.remove(&a) {
            let r = (t - sent) as f64;
            self.srtt = Some(match self.srtt {
                None => (r, r / 2.0),
                Some((s, v)) => (s + (r - s) / 8.0, v + ((r - s).abs() - v) / 4.0),
            });
        }
        self.sent = self.sent.split_off(&(a + 1));
    }
}

struct Limit {
    kind: Limiter,
    free_at: i64,
    tokens: f64,
    last: i64,
}

impl Limit {
    /// When a packet of `size` bytes sent at `t` leaves the limiter, or
    /// `None` when it is dropped.
    fn pass(&mut self, t: i64, size: usize) -> Option<i64> {
        match self.kind {
            Limiter::Link { bps, queue } => self.serialise(t, size, bps, queue),
            Limiter::Varying { bps, period, queue } => {
                let phase = ((t - EPOCH_NS) / period.max(1)) as usize % 2;
                self.serialise(t, size, bps[phase], queue)
            }
            Limiter::Policer { bps, burst } => {
                self.tokens =
                    (self.tokens + (t - self.last) as f64 / S as f64 * bps / 8.0).min(burst as f64);
                self.last = t;
                if self.tokens >= size as f64 {
                    self.tokens -= size as f64;
                    self.serialise(t, size, 100e6, usize::MAX / 2)
                } else {
                    None
                }
            }
        }
    }

    fn serialise(&mut self, t: i64, size: usize, bps: f64, queue: usize) -> Option<i64> {
        let backlog = ((self.free_at - t).max(0) as f64 / S as f64 * bps / 8.0) as usize;
        if backlog + size > queue + 1500 {
            return None;
        }
        let tx = (size as f64 * 8.0 / bps * S as f64) as i64;
        self.free_at = self.free_at.max(t) + tx;
        Some(self.free_at)
    }
}

fn session(server: [u8; 4], cport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), 443));
    TcpSession::new(c, s).with_timestamps(TsClock::khz(0x1000_0000, 0x7000_0000))
}

/// The client's TSval at `t` (the session's 1 kHz clock).
fn client_tsval(t: i64) -> u32 {
    0x1000_0000u32.wrapping_add((t as i128 * 1000 / 1_000_000_000) as u64 as u32)
}

/// Simulates `d` into `tl`; returns the time of its last packet.
pub fn download(tl: &mut Timeline, d: &Download<'_>) -> Result<i64> {
    let rtt = 2 * d.owd;
    let mut s = session(d.server, d.cport);
    s.client.window = u16::try_from((d.rwnd >> 7).clamp(1, 65_535)).unwrap_or(u16::MAX);
    // (a SYN sent while the uplink holds a queue waits in it too; the
    // SYN/ACK carries the server's clock when it sent it, one way before
    // it arrives, as its data do)
    let synack = d.start + rtt + d.uplink_delay(d.start);
    s.syn(tl, d.start);
    s.server_sent_at = Some(synack - d.owd);
    s.syn_ack(tl, synack);
    s.server_sent_at = None;
    let t = s.client_ack(tl, synack + s.ack_delay_ns / 4);
    let mut rng = Rng::new(d.seed);
    let hello = tls::client_hello(d.sni, &mut rng);
    let t_hello = s.client_send(tl, t + MS, &hello);
    let base = s.state.server_next_seq;
    let mss = s.segment_size() as u64;
    let total = d.app.total() as u64;
    let app_start = t_hello + d.owd;
    let mut lim = Limit {
        kind: d.limiter,
        free_at: 0,
        tokens: match d.limiter {
            Limiter::Policer { burst, .. } => burst as f64,
            _ => 0.0,
        },
        last: app_start,
    };
    let mut snd = Sender {
        una: 0,
        nxt: 0,
        high: 0,
        cwnd: 10.0 * mss as f64,
        ssthresh: f64::INFINITY,
        dupacks: 0,
        recover: None,
        rto: (3 * (rtt + d.uplink_queue.2)).max(200 * MS),
        rto_gen: 0,
        ts_recent: t_hello,
        sent: BTreeMap::new(),
        srtt: None,
    };
    // client receive state
    let mut rcv_nxt: u64 = 0;
    let mut ooo: BTreeMap<u64, u64> = BTreeMap::new();
    let mut unacked_segs = 0u32;
    let mut delack_gen = 0u64;
    let mut q: BinaryHeap<Reverse<(i64, u64, Ev)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut push = |q: &mut BinaryHeap<Reverse<(i64, u64, Ev)>>, t: i64, e: Ev| {
        order += 1;
        q.push(Reverse((t, order, e)));
    };
    // what the server sends, and when it reaches the client
    let burst_left = std::cell::Cell::new(0u32);
    let send = |q: &mut BinaryHeap<Reverse<(i64, u64, Ev)>>,
                push: &mut dyn FnMut(&mut Queue, i64, Ev),
                lim: &mut Limit,
                rng: &mut Rng,
                t: i64,
                off: u64,
                len: u32,
                echo: i64| {
        if let Some(out) = lim.pass(t, len as usize + 52) {
            let at_client = out + d.owd;
            let lost = if d.fade.0 > 0 && (at_client - EPOCH_NS).rem_euclid(d.fade.0) < d.fade.1 {
                true
            } else if burst_left.get() > 0 {
                burst_left.set(burst_left.get() - 1);
                true
            } else if rng.chance(d.loss) {
                burst_left.set(d.loss_burst.saturating_sub(1));
                true
            } else {
                false
            };
            if !lost {
                let late = if d.reorder > 0.0 && rng.chance(d.reorder) {
                    d.reorder_delay
                } else {
                    0
                };
                let (from, until, qd) = d.queue_delay;
                let qd = if (from..until).contains(&out) { qd } else { 0 };
                push(q, out + d.owd + late + qd, Ev::Data(off, len, echo, t));
            }
        }
    };
    let fill = |snd: &mut Sender,
                q: &mut BinaryHeap<Reverse<(i64, u64, Ev)>>,
                push: &mut dyn FnMut(&mut Queue, i64, Ev),
                lim: &mut Limit,
                rng: &mut Rng,
                t: i64| {
        let avail = (d.app.available(t - app_start) as u64).min(total);
        let was_idle = snd.una == snd.nxt;
        let mut i = 0i64;
        while snd.nxt < avail
            && ((snd.nxt - snd.una) as f64) < snd.cwnd
            && snd.nxt - snd.una < d.rwnd as u64
        {
            let len = mss.min(avail - snd.nxt) as u32;
            // back-to-back segments leave 12 µs apart (line rate)
            send(
                q,
                push,
                lim,
                rng,
                t + i * 12_000,
                snd.nxt,
                len,
                snd.ts_recent,
            );
            if snd.nxt >= snd.high {
                snd.sent.insert(snd.nxt + u64::from(len), t + i * 12_000);
            } else {
                snd.sent.remove(&(snd.nxt + u64::from(len)));
            }
            snd.nxt += u64::from(len);
            snd.high = snd.high.max(snd.nxt);
            i += 1;
        }
        if was_idle && snd.nxt > snd.una {
            snd.rto_gen += 1;
            push(q, t + snd.rto, Ev::Rto(snd.rto_gen));
        }
    };
    fill(&mut snd, &mut q, &mut push, &mut lim, &mut rng, app_start);
    if let Some(r) = d.app.next_release(0) {
        push(&mut q, app_start + r, Ev::App);
    }
    let mut last = t_hello;
    let mut steps = 0u64;
    while let Some(Reverse((t, _, ev))) = q.pop() {
        steps += 1;
        if steps > 5_000_000 || snd.una >= total {
            break;
        }
        match ev {
            Ev::Data(off, len, echo, sent) => {
                // the server's packet as the client sees it (its TSval
                // from when the server sent it: a queue on the way
                // delays it, and the timestamps show where)
                s.state.server_next_seq = base.wrapping_add(off as u32);
                s.state.server_ts_recent = client_tsval(echo);
                s.server_sent_at = Some(sent);
                s.packet(
                    tl,
                    t,
                    Direction::FromServer,
                    TcpFlags::ACK,
                    &vec![0u8; len as usize],
                );
                s.server_sent_at = None;
                last = t;
                let end = off + u64::from(len);
                let mut in_order = false;
                if off <= rcv_nxt && end > rcv_nxt {
                    rcv_nxt = end;
                    while let Some((&o, &e)) = ooo.iter().next() {
                        if o > rcv_nxt {
                            break;
                        }
                        rcv_nxt = rcv_nxt.max(e);
                        ooo.remove(&o);
                    }
                    in_order = true;
                } else if off > rcv_nxt {
                    ooo.insert(off, end);
                }
                unacked_segs += 1;
                if !in_order || !ooo.is_empty() || unacked_segs >= 2 {
                    s.state.client_rcv_next = base.wrapping_add(rcv_nxt as u32);
                    s.client_ack(tl, t + 20_000);
                    last = t + 20_000;
                    unacked_segs = 0;
                    let up = d.uplink_delay(t + 20_000);
                    push(
                        &mut q,
                        t + 20_000 + d.owd + up,
                        Ev::Ack(rcv_nxt, t + 20_000),
                    );
                } else {
                    delack_gen += 1;
                    push(&mut q, t + 40 * MS, Ev::DelAck(delack_gen));
                }
            }
            Ev::DelAck(g) => {
                if g == delack_gen && unacked_segs > 0 {
                    s.state.client_rcv_next = base.wrapping_add(rcv_nxt as u32);
                    s.client_ack(tl, t);
                    last = t;
                    unacked_segs = 0;
                    push(&mut q, t + d.owd + d.uplink_delay(t), Ev::Ack(rcv_nxt, t));
                }
            }
            Ev::Ack(a, sent) => {
                snd.ts_recent = snd.ts_recent.max(sent);
                if a > snd.una {
                    snd.sample(a, t);
                    let acked = (a - snd.una) as f64;
                    snd.una = a;
                    snd.nxt = snd.nxt.max(a);
                    snd.dupacks = 0;
                    match snd.recover {
                        Some(r) if a < r => {
                            // partial ACK: retransmit the next hole
                            let len = mss.min(snd.high - a) as u32;
                            send(
                                &mut q,
                                &mut push,
                                &mut lim,
                                &mut rng,
                                t,
                                a,
                                len,
                                snd.ts_recent,
                            );
                        }
                        Some(_) => {
                            snd.recover = None;
                            snd.cwnd = snd.ssthresh;
                        }
                        None => {
                            if snd.cwnd < snd.ssthresh {
                                snd.cwnd += acked;
                            } else {
                                snd.cwnd += mss as f64 * acked / snd.cwnd;
                            }
                        }
                    }
                    snd.rto = snd.base_rto(rtt);
                    snd.rto_gen += 1;
                    if snd.una < snd.nxt {
                        push(&mut q, t + snd.rto, Ev::Rto(snd.rto_gen));
                    }
                } else if a == snd.una && snd.nxt > snd.una {
                    snd.dupacks += 1;
                    if snd.dupacks == 3 && snd.recover.is_none() {
                        let flight = (snd.nxt - snd.una) as f64;
                        snd.ssthresh = (flight / 2.0).max(2.0 * mss as f64);
                        snd.cwnd = snd.ssthresh + 3.0 * mss as f64;
                        snd.recover = Some(snd.nxt);
                        let len = mss.min(snd.high - a) as u32;
                        send(
                            &mut q,
                            &mut push,
                            &mut lim,
                            &mut rng,
                            t,
                            a,
                            len,
                            snd.ts_recent,
                        );
                    } else if snd.recover.is_some() {
                        snd.cwnd += mss as f64;
                    }
                }
                fill(&mut snd, &mut q, &mut push, &mut lim, &mut rng, t);
            }
            Ev::Rto(g) => {
                if g == snd.rto_gen && snd.una < snd.nxt {
                    let flight = (snd.nxt - snd.una) as f64;
                    snd.ssthresh = (flight / 2.0).max(2.0 * mss as f64);
                    snd.cwnd = mss as f64;
                    snd.recover = None;
                    snd.dupacks = 0;
                    snd.nxt = snd.una; // go back N
                    snd.sent.clear();
                    snd.rto = (snd.rto * 2).min(3 * S);
                    snd.rto_gen += 1;
                    push(&mut q, t + snd.rto, Ev::Rto(snd.rto_gen));
                    fill(&mut snd, &mut q, &mut push, &mut lim, &mut rng, t);
                }
            }
            Ev::App => {
                fill(&mut snd, &mut q, &mut push, &mut lim, &mut rng, t);
                if let Some(r) = d.app.next_release(t - app_start) {
                    push(&mut q, app_start + r, Ev::App);
                }
            }
        }
    }
    s.state.server_next_seq = base.wrapping_add(total as u32);
    s.state.client_rcv_next = base.wrapping_add(total as u32);
    Ok(s.close_by_server(tl, last + MS, rtt))
}

/// Writes the capture (raw IP), recording only the headers of bulk server data.
pub fn finish(mut tl: Timeline) -> Result<Vec<u8>> {
    for e in tl.entries_mut() {
        if e.data.len() > 120 && e.data.get(12..16) != Some(&[192, 0, 2, 10][..]) {
            e.snaplen = Some(52);
        }
    }
    tl.to_pcap_bytes(RAW, false)
}

/// The throttled server of the fixtures.
pub const THROTTLED: [u8; 4] = [203, 0, 113, 80];
const OTHER: [u8; 4] = [198, 51, 100, 20];
const OTHER2: [u8; 4] = [198, 51, 100, 21];
/// The fixtures' policer: 150 kbit/s, a 16 kB bucket.
pub const POLICE: Limiter = Limiter::Policer {
    bps: 150_000.0,
    burst: 16_000,
};
/// The fixtures' fast link: 4 Mbit/s, a 48 kB queue.
pub const FAST: Limiter = Limiter::Link {
    bps: 4e6,
    queue: 48_000,
};

/// Twitter 2021-style: the throttled name is policed at 150 kbit/s (drops
/// above it) for 40 s while two other servers deliver 8 Mbit/s links at the
/// same time. Expected: one `throttling` event (policer, targeted).
pub fn thr_policed_targeted() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "video.throttled.example",
            50001,
            EPOCH_NS,
            POLICE,
            450_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER,
            "fast.example",
            50002,
            EPOCH_NS + 5 * S,
            FAST,
            1_200_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER2,
            "cdn.example",
            50003,
            EPOCH_NS + 20 * S,
            FAST,
            1_200_000,
        ),
    )?;
    finish(tl)
}

/// SNI-triggered: one server address, two names; the throttled name is
/// policed, the other name on the same address is fast. Expected: one event
/// with rule `same_server_other_name`.
pub fn thr_policed_same_server() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "video.throttled.example",
            50011,
            EPOCH_NS,
            POLICE,
            400_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "static.other.example",
            50012,
            EPOCH_NS + 4 * S,
            FAST,
            1_200_000,
        ),
    )?;
    finish(tl)
}

/// A shaper (500 kbit/s behind a 48 KB queue) aimed at one name while
/// another server is fast. Expected: one event, mode `shaper`.
pub fn thr_shaped_targeted() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let shaper = Limiter::Link {
        bps: 500_000.0,
        queue: 32_000,
    };
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "video.throttled.example",
            50021,
            EPOCH_NS,
            shaper,
            1_300_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER,
            "fast.example",
            50022,
            EPOCH_NS + 6 * S,
            FAST,
            1_200_000,
        ),
    )?;
    finish(tl)
}

/// Three 600 KB downloads of `news.example` from the throttled address at
/// 4 Mbit/s, one after the other (a name's history of being fast), from
/// `EPOCH_NS`; returns the time of the last one's last packet.
pub fn fast_history(tl: &mut Timeline, ports: [u16; 3]) -> Result<i64> {
    let mut t = EPOCH_NS;
    for (i, port) in ports.into_iter().enumerate() {
        t = download(
            tl,
            &Download::bulk(
                THROTTLED,
                "news.example",
                port,
                t + (i as i64 + 1) * S,
                FAST,
                600_000,
            ),
        )?;
    }
    Ok(t)
}

/// History: three fast downloads from a name, then (with nothing else on the
/// link) a policed one. Expected: one event, rule `history`.
pub fn thr_history_drop() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = fast_history(&mut tl, [50031, 50032, 50033])?;
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "news.example",
            50034,
            t + 30 * S,
            POLICE,
            400_000,
        ),
    )?;
    finish(tl)
}

/// Trap: the whole link is slow (everything policed at the same rate):
/// no contrast, no event.
pub fn thr_trap_slow_link() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "video.throttled.example",
            50041,
            EPOCH_NS,
            POLICE,
            400_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER,
            "fast.example",
            50042,
            EPOCH_NS + 2 * S,
            POLICE,
            400_000,
        ),
    )?;
    finish(tl)
}

/// Trap: random loss (2%) on the whole link; two downloads at once.
pub fn thr_trap_random_loss() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let link = Limiter::Link {
        bps: 1.5e6,
        queue: 32_000,
    };
    let mut a = Download::bulk(
        THROTTLED,
        "video.throttled.example",
        50051,
        EPOCH_NS,
        link,
        2_000_000,
    );
    a.loss = 0.02;
    let mut b = Download::bulk(OTHER, "fast.example", 50052, EPOCH_NS + S, link, 2_000_000);
    b.loss = 0.02;
    download(&mut tl, &a)?;
    download(&mut tl, &b)?;
    finish(tl)
}

/// Trap: a path that reorders and loses nothing: 5% of segments are held
/// back 10 ms and overtaken by the next ones. The watched name streams at a
/// steady 400 kbit/s (its own pace: a plateau with a flat RTT), another
/// server is fast. Holes filled well within half an RTT are reordering, not
/// the loss bursts of a policer.
pub fn thr_trap_reordering() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut paced = Download::bulk(
        THROTTLED,
        "video.throttled.example",
        50151,
        EPOCH_NS,
        FAST,
        0,
    );
    paced.app = App::Paced {
        bps: 400_000.0,
        bytes: 1_000_000,
    };
    let mut fast = Download::bulk(OTHER, "fast.example", 50152, EPOCH_NS + S, FAST, 1_200_000);
    for d in [&mut paced, &mut fast] {
        d.reorder = 0.05;
        d.reorder_delay = 10 * MS;
    }
    download(&mut tl, &paced)?;
    download(&mut tl, &fast)?;
    finish(tl)
}

/// Trap: a policed flow too short to show a rate (6 s), a fast one beside it.
pub fn thr_trap_short() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "video.throttled.example",
            50061,
            EPOCH_NS,
            POLICE,
            100_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(OTHER, "fast.example", 50062, EPOCH_NS + S, FAST, 1_200_000),
    )?;
    finish(tl)
}

/// Trap: application-limited flows: video segments (300 KB every 4 s) and
/// a server pacing itself at 400 kbit/s, while another server is fast.
pub fn thr_trap_app_limited() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut video = Download::bulk(
        THROTTLED,
        "video.throttled.example",
        50071,
        EPOCH_NS,
        FAST,
        0,
    );
    video.app = App::Chunks {
        chunk: 300_000,
        every: 4 * S,
        count: 6,
    };
    let mut paced = Download::bulk(OTHER2, "radio.example", 50072, EPOCH_NS + S, FAST, 0);
    paced.app = App::Paced {
        bps: 400_000.0,
        bytes: 600_000,
    };
    download(&mut tl, &video)?;
    download(&mut tl, &paced)?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER,
            "fast.example",
            50073,
            EPOCH_NS + 5 * S,
            FAST,
            1_200_000,
        ),
    )?;
    finish(tl)
}

/// Trap: a client whose receive window (16 KB) holds the rate down over a
/// 200 ms path with a little loss, while another server is fast.
pub fn thr_trap_receive_window() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut a = Download::bulk(
        THROTTLED,
        "video.throttled.example",
        50081,
        EPOCH_NS,
        FAST,
        1_000_000,
    );
    a.rwnd = 16 * 1024;
    a.owd = 100 * MS;
    a.loss = 0.01;
    download(&mut tl, &a)?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER,
            "fast.example",
            50082,
            EPOCH_NS + 3 * S,
            FAST,
            1_200_000,
        ),
    )?;
    finish(tl)
}

/// Trap: congestion that comes and goes (the bottleneck alternates between
/// 600 kbit/s and 6 Mbit/s every 4 s), while another server is fast.
pub fn thr_trap_congestion() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let varying = Limiter::Varying {
        bps: [600_000.0, 6e6],
        period: 4 * S,
        queue: 64_000,
    };
    download(
        &mut tl,
        &Download::bulk(
            THROTTLED,
            "video.throttled.example",
            50091,
            EPOCH_NS,
            varying,
            1_800_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            OTHER,
            "fast.example",
            50092,
            EPOCH_NS + 3 * S,
            FAST,
            1_200_000,
        ),
    )?;
    finish(tl)
}
