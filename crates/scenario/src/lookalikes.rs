//! Clean look-alikes found by review (2026-12-05): traffic that must raise
//! no event, built at test time (`crates/tamperwatch/tests/lookalikes.rs`)
//! rather than committed; `tw-scenario lookalikes DIR` writes them all.

use crate::catalogue::MS;
use crate::dns::{qtype, rcode, DnsFlags, Rdata, Rr};
use crate::endpoint::Endpoint;
use crate::session::{DnsExchange, Timeline, EPOCH_NS};
use crate::throttle_scenarios::{download, App, Download, Limiter};
use crate::Result;
use std::net::{Ipv4Addr, SocketAddr};

const S: i64 = 1_000 * MS;
const RTT: i64 = 30 * MS;

fn exchange(port: u16, ttl: u8) -> DnsExchange {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let r =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 53).into(), 53)).with_ttl(ttl);
    DnsExchange::new(c, r)
}

fn a(name: &str, ttl: u32, ip: [u8; 4]) -> Rr {
    Rr::a(name, ttl, Ipv4Addr::from(ip))
}

fn warm_up(tl: &mut Timeline) -> Result<i64> {
    let mut t = EPOCH_NS;
    for i in 0..4u16 {
        let name = format!("site{i}.example");
        let mut x = exchange(40001 + i, 56);
        t = x.exchange(
            tl,
            t,
            0x100 + i,
            &name,
            qtype::A,
            &[a(&name, 300, [203, 0, 113, 10 + i as u8])],
            RTT + i64::from(i) * MS,
        )? + 100 * MS;
    }
    Ok(t)
}

fn rrsig(sig: u8) -> Rr {
    // type covered A, alg 13, labels 2, original TTL 300, expiration,
    // inception, key tag, signer "example.org", 64-byte signature
    let mut d = vec![0, 1, 13, 2, 0, 0, 1, 44];
    d.extend_from_slice(&[0x6a, 0, 0, sig]); // expiration
    d.extend_from_slice(&[0x69, 0, 0, sig]); // inception
    d.extend_from_slice(&[0x12, 0x34]);
    d.extend_from_slice(&[
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g', 0,
    ]);
    d.extend((0..64u8).map(|i| i.wrapping_mul(sig)));
    Rr {
        name: "example.org".into(),
        ttl: 300,
        rdata: Rdata::Other(46, d),
    }
}

/// A validating client (DO) retransmits its query after 1 s; the resolver
/// (anycast, several caches: or an online signer) answers both copies with
/// the same A record, signed at different times (different RRSIGs).
pub fn lookalike_dns_rrsig() -> Result<Vec<u8>> {
    rrsig_pair(true, 42100, 0x4100)
}

/// The same, on a resolver's first lookup (no baseline yet).
pub fn lookalike_dns_rrsig_cold() -> Result<Vec<u8>> {
    rrsig_pair(false, 42102, 0x4102)
}

/// A query (to the warmed-up resolver when `warm`) that the client sends
/// again after 1 s, answered twice: (time after the first copy, rcode,
/// records) each.
fn answered_twice(
    warm: bool,
    port: u16,
    id: u16,
    name: &str,
    answers: [(i64, u8, &[Rr]); 2],
) -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = if warm { warm_up(&mut tl)? } else { EPOCH_NS };
    let mut y = exchange(port, 56);
    let q = y.query(&mut tl, t, id, name, qtype::A, true);
    y.flow.client_send(&mut tl, t + 1000 * MS, q.clone());
    for (after, rc, rrs) in answers {
        y.answer(&mut tl, t + after, &q, rc, rrs, DnsFlags::RA)?;
    }
    tl.to_pcap_bytes(crate::pcap::linktype::ETHERNET, false)
}

/// The RRSIG look-alike, after the resolver's warm-up or without it.
fn rrsig_pair(warm: bool, port: u16, id: u16) -> Result<Vec<u8>> {
    let first = [a("example.org", 300, [203, 0, 113, 90]), rrsig(3)];
    let second = [a("example.org", 287, [203, 0, 113, 90]), rrsig(5)];
    answered_twice(
        warm,
        port,
        id,
        "example.org",
        [
            (1010 * MS, rcode::NOERROR, &first),
            (1000 * MS + RTT, rcode::NOERROR, &second),
        ],
    )
}

/// Answers differing only in the DNS TTL (a cache answering the
/// retransmission a second later).
pub fn lookalike_dns_cache_ttl() -> Result<Vec<u8>> {
    let first = [a("example.org", 300, [203, 0, 113, 90])];
    let second = [a("example.org", 299, [203, 0, 113, 90])];
    answered_twice(
        true,
        42101,
        0x4101,
        "example.org",
        [
            (1010 * MS, rcode::NOERROR, &first),
            (1000 * MS + RTT, rcode::NOERROR, &second),
        ],
    )
}

/// An anycast resolver's route moves to a closer site: from some point all
/// its answers arrive with IP TTL 60 (instead of 56) in 12 ms (instead of
/// 30 ms). Clean lookups of ordinary names.
pub fn lookalike_dns_anycast_closer() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut t = warm_up(&mut tl)?;
    for i in 0..6u16 {
        let name = format!("after{i}.example");
        let mut x = exchange(42110 + i, 60);
        t = x.exchange(
            &mut tl,
            t,
            0x4110 + i,
            &name,
            qtype::A,
            &[a(&name, 300, [203, 0, 113, 40 + i as u8])],
            12 * MS,
        )? + 100 * MS;
    }
    tl.to_pcap_bytes(crate::pcap::linktype::ETHERNET, false)
}

/// A NAT64/DNS64 network (RFC 6147): AAAA lookups of IPv4-only names are
/// answered with 64:ff9b::/96 addresses embedding the public IPv4 address.
/// Midway the resolver's route changes once (IP TTL 56 -> 52, the
/// `dns_trap_route_change` situation).
pub fn lookalike_dns_dns64_route_change() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut t = warm_up(&mut tl)?;
    for i in 0..3u16 {
        let name = format!("v4only{i}.example");
        let mut x = exchange(42120 + i, 52);
        let ip = std::net::Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xcb00, 0x7100 + i);
        t = x.exchange(
            &mut tl,
            t,
            0x4120 + i,
            &name,
            qtype::AAAA,
            &[Rr::aaaa(&name, 300, ip)],
            RTT,
        )? + 100 * MS;
    }
    tl.to_pcap_bytes(crate::pcap::linktype::ETHERNET, false)
}

/// A client retransmits its query after 1 s (same ID, as Windows' and
/// glibc's stubs do); the anycast resolver's two frontends answer each
/// copy from their own caches: a geo-balanced CDN name, two address sets.
/// Same resolver, same IP TTL, normal timing.
pub fn lookalike_dns_retransmit_other_cache() -> Result<Vec<u8>> {
    let name = "cdn.example.org";
    let first = [
        a(name, 20, [203, 0, 113, 90]),
        a(name, 20, [203, 0, 113, 91]),
    ];
    let second = [
        a(name, 20, [198, 51, 100, 7]),
        a(name, 20, [198, 51, 100, 8]),
    ];
    answered_twice(
        true,
        42130,
        0x4130,
        name,
        [
            (1005 * MS, rcode::NOERROR, &first),
            (1000 * MS + RTT, rcode::NOERROR, &second),
        ],
    )
}

fn http_get(port: u16, tl: &mut Timeline, req: &[u8]) -> (crate::session::TcpSession, i64) {
    let mut s = crate::catalogue::v4_session(port, 80);
    let t = s.handshake(tl, EPOCH_NS, 80 * MS);
    let t = s.client_send(tl, t + MS, req);
    (s, t)
}

/// HTTP look-alikes: a POST with `Expect: 100-continue` (interim 100, then
/// the final answer); a HEAD then a GET on one connection; a response
/// retransmitted repacketized (two segments coalesced; a segment cut at
/// another boundary).
pub fn lookalike_http_lookalikes() -> Result<Vec<u8>> {
    use crate::session::Injection;
    let mut tl = Timeline::new();
    // 100-continue
    let (mut a, t) = http_get(53301, &mut tl,
        b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let t = a.server_send(&mut tl, t + 80 * MS, b"HTTP/1.1 100 Continue\r\n\r\n");
    let t = a.client_send(&mut tl, t + MS, b"hello");
    let t = a.server_send(&mut tl, t + 80 * MS, &crate::http::ok_html(400));
    a.close(&mut tl, t + MS, 80 * MS);
    // HEAD, then GET
    let (mut b, t) = http_get(
        53302,
        &mut tl,
        b"HEAD / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    let t = b.server_send(
        &mut tl,
        t + 80 * MS,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4000\r\n\r\n",
    );
    let t = b.client_send(&mut tl, t + MS, &crate::http::get("example.com", "/"));
    let t = b.server_send(&mut tl, t + 80 * MS, &crate::http::ok_html(4000));
    b.close(&mut tl, t + MS, 80 * MS);
    // repacketized retransmissions
    let (mut c, t) = http_get(53303, &mut tl, &crate::http::get("example.com", "/"));
    let resp = crate::http::ok_html(3000);
    let t = c.server_send(&mut tl, t + 80 * MS, &resp);
    let total = resp.len() as i64;
    let mut co = Injection::data(resp[..2896.min(resp.len())].to_vec());
    co.flags = crate::packet::TcpFlags::ACK;
    let t = c.inject_from_server(&mut tl, t + 300 * MS, &co.seq_offset(-total));
    let mut cut = Injection::data(resp[700..2148].to_vec());
    cut.flags = crate::packet::TcpFlags::ACK;
    let t = c.inject_from_server(&mut tl, t + 300 * MS, &cut.seq_offset(700 - total));
    c.close(&mut tl, t + MS, 80 * MS);
    tl.to_pcap_bytes(crate::pcap::linktype::ETHERNET, false)
}

const FAST: Limiter = Limiter::Link {
    bps: 4e6,
    queue: 48_000,
};

/// A video server pacing itself at 400 kbit/s for 2 MB, from the start.
fn paced_video(port: u16) -> Download<'static> {
    let mut d = Download::bulk(
        [203, 0, 113, 80],
        "video.throttled.example",
        port,
        EPOCH_NS,
        FAST,
        0,
    );
    d.app = App::Paced {
        bps: 400_000.0,
        bytes: 2_000_000,
    };
    d
}

/// The paced video beside a 4 MB download from another server starting 5 s
/// later, both losing `loss` of their segments in bursts of `burst`.
fn paced_beside_download(ports: (u16, u16), loss: f64, burst: u32) -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut paced = paced_video(ports.0);
    let mut fast = Download::bulk(
        [198, 51, 100, 20],
        "fast.example",
        ports.1,
        EPOCH_NS + 5 * S,
        FAST,
        4_000_000,
    );
    for d in [&mut paced, &mut fast] {
        d.loss = loss;
        d.loss_burst = burst;
    }
    download(&mut tl, &paced)?;
    download(&mut tl, &fast)?;
    crate::throttle_scenarios::finish(tl)
}

/// A client on Wi-Fi (1% random loss on everything) streams from a server
/// that paces itself (a video server's per-connection pacing, BBR at its
/// bottleneck or nginx `limit_rate`) at 400 kbit/s for 40 s, while a bulk
/// download from another server runs at once.
pub fn lookalike_thr_paced_lossy() -> Result<Vec<u8>> {
    paced_beside_download((50201, 50202), 0.01, 1)
}

/// A 16 MB download at full speed from 5 s on over a bufferbloated 4
/// Mbit/s access link, keeping ~48 KB standing in the link's queue (+96
/// ms) once it has filled it.
fn bloating_download(port: u16) -> Download<'static> {
    let bulk_start = EPOCH_NS + 5 * S;
    let mut fast = Download::bulk(
        [198, 51, 100, 20],
        "fast.example",
        port,
        bulk_start,
        FAST,
        16_000_000,
    );
    fast.queue_delay = (bulk_start + 200 * MS, bulk_start + 120 * S, 96 * MS);
    fast
}

/// A video server pacing itself at 400 kbit/s (no loss) while the same
/// client downloads a file at full speed over the same bufferbloated 4
/// Mbit/s access link: the download keeps ~48 KB standing in the link's
/// queue (+96 ms) for every flow through it, the video's included.
pub fn lookalike_thr_paced_shared_queue() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let bloating = bloating_download(50212);
    let end = download(&mut tl, &bloating)?;
    let mut paced = paced_video(50211);
    paced.queue_delay = (bloating.queue_delay.0, end, 96 * MS);
    download(&mut tl, &paced)?;
    crate::throttle_scenarios::finish(tl)
}

/// The paced video (400 kbit/s, 40 s) while a cloud backup fills the
/// client's 2 Mbit/s uplink from 8 s on: every ACK the client sends waits
/// 350 ms in the uplink's buffer, so the video's RTT rises from 30 to 380
/// ms on a flat rate, a shaper's shape. An app update downloads 12 MB at
/// full speed from 19 s on, its ACKs in the same queue. (The upload itself
/// is not in the capture: the detector does not measure uploads.) The
/// server's timestamps show that its data reach the client as fast as
/// before: the queue is on the way to the server (red-team review, session
/// 27: `shaper` + `targeted`, 0.55).
pub fn lookalike_thr_paced_uplink_queue() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let backup = (EPOCH_NS + 8 * S, EPOCH_NS + 120 * S, 350 * MS);
    let mut paced = paced_video(50261);
    paced.uplink_queue = backup;
    download(&mut tl, &paced)?;
    let mut update = Download::bulk(
        [198, 51, 100, 20],
        "update.example",
        50262,
        EPOCH_NS + 19 * S,
        FAST,
        12_000_000,
    );
    update.uplink_queue = backup;
    download(&mut tl, &update)?;
    crate::throttle_scenarios::finish(tl)
}

/// As `lookalike_thr_paced_shared_queue`, with a second download (3
/// Mbit/s, from another server) that starts 8 s after the first filled the
/// shared queue: it measures the queue into its own minimum RTT, so it shows
/// no standing queue of its own, and it runs more than four times faster
/// than the video.
pub fn lookalike_thr_paced_shared_queue_second_download() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let bloating = bloating_download(50252);
    let bulk_start = bloating.start;
    let end = download(&mut tl, &bloating)?;
    let mut second = Download::bulk(
        [198, 51, 100, 21],
        "cdn.example",
        50253,
        bulk_start + 8 * S,
        Limiter::Link {
            bps: 3e6,
            queue: 12_000,
        },
        8_000_000,
    );
    // it saw the standing queue from its SYN on
    second.owd = 15 * MS + 48 * MS;
    download(&mut tl, &second)?;
    let mut paced = paced_video(50251);
    paced.queue_delay = (bloating.queue_delay.0, end, 96 * MS);
    download(&mut tl, &paced)?;
    crate::throttle_scenarios::finish(tl)
}

/// As `lookalike_thr_paced_lossy`, the Wi-Fi losing segments in bursts of
/// three (interference) at 0.4% of bursts.
pub fn lookalike_thr_paced_bursty_loss() -> Result<Vec<u8>> {
    paced_beside_download((50221, 50222), 0.004, 3)
}

/// The paced video over Wi-Fi that fades: every 2 s the link drops
/// everything for 40 ms (every flow at once), while a 20 MB download from
/// another server runs over the same 8 Mbit/s link. Each fade costs the
/// video about one segment and the download one burst: per byte the
/// download looks clean and the video policed, but their losses come at
/// the same moments.
pub fn lookalike_thr_paced_fades() -> Result<Vec<u8>> {
    paced_through_fades((50241, 50242), (2 * S, 40 * MS), 0.0, 20_000_000)
}

/// As `lookalike_thr_paced_fades`, with fades of 100 ms: long enough to
/// take everything the download has in flight, so that its retransmission,
/// after a timeout, arrives in order and it shows no hole, only silence.
pub fn lookalike_thr_paced_long_fades() -> Result<Vec<u8>> {
    paced_through_fades((50261, 50262), (2 * S, 100 * MS), 0.0, 36_000_000)
}

/// As `lookalike_thr_paced_fades`, on a link that also loses 0.3% of the
/// segments at random: the download loses so often that its latest record
/// holds only its last 16 loss events, not those of the video's first
/// fades.
pub fn lookalike_thr_paced_fades_lossy() -> Result<Vec<u8>> {
    paced_through_fades((50263, 50264), (2 * S, 40 * MS), 0.003, 36_000_000)
}

/// The paced video and a download of `bytes` from another server over an
/// 8 Mbit/s link, starting 5 s later, both through `fade` (period,
/// duration) and losing `loss` of their segments.
fn paced_through_fades(
    ports: (u16, u16),
    fade: (i64, i64),
    loss: f64,
    bytes: usize,
) -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut paced = paced_video(ports.0);
    let mut fast = Download::bulk(
        [198, 51, 100, 20],
        "fast.example",
        ports.1,
        EPOCH_NS + 5 * S,
        Limiter::Link {
            bps: 8e6,
            queue: 24_000,
        },
        bytes,
    );
    for d in [&mut paced, &mut fast] {
        d.fade = fade;
        d.loss = loss;
    }
    download(&mut tl, &paced)?;
    download(&mut tl, &fast)?;
    crate::throttle_scenarios::finish(tl)
}

/// A name usually downloaded fast (three 600 KB downloads at 4 Mbit/s),
/// then a live stream from it that the server paces at 300 kbit/s, over
/// Wi-Fi that loses segments in bursts of three. Nothing else runs.
pub fn lookalike_thr_history_paced_bursty() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = crate::throttle_scenarios::fast_history(&mut tl, [50231, 50232, 50233])?;
    let mut paced = Download::bulk(
        [203, 0, 113, 80],
        "news.example",
        50234,
        t + 30 * S,
        FAST,
        0,
    );
    paced.app = App::Paced {
        bps: 300_000.0,
        bytes: 1_500_000,
    };
    paced.loss = 0.004;
    paced.loss_burst = 3;
    download(&mut tl, &paced)?;
    crate::throttle_scenarios::finish(tl)
}

/// A CDN that caps every connection (a per-connection token bucket at
/// 600 kbit/s) for every name it serves: two names on its address, both
/// held at the cap, while a download from elsewhere runs at 4 Mbit/s.
pub fn lookalike_thr_cdn_cap_every_name() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let cap = Limiter::Policer {
        bps: 600_000.0,
        burst: 32_000,
    };
    let cdn = [203, 0, 113, 80];
    download(
        &mut tl,
        &Download::bulk(
            cdn,
            "video.throttled.example",
            50241,
            EPOCH_NS,
            cap,
            1_500_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            cdn,
            "static.cdn.example",
            50242,
            EPOCH_NS + 2 * S,
            cap,
            1_500_000,
        ),
    )?;
    download(
        &mut tl,
        &Download::bulk(
            [198, 51, 100, 20],
            "fast.example",
            50243,
            EPOCH_NS + 4 * S,
            FAST,
            4_000_000,
        ),
    )?;
    crate::throttle_scenarios::finish(tl)
}

/// A corporate (Active Directory) DNS server at 10.0.0.53: it recurses
/// for internet names (AA clear) and is authoritative for the company's
/// zone under its public domain, whose hosts have private addresses
/// (split horizon): `fileserver.corp.example.com` -> 10.1.2.3, AA set.
pub fn lookalike_dns_ad_split_horizon() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut t = EPOCH_NS;
    let ad = |port: u16| {
        let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(10, 0, 5, 10).into(), port));
        let r =
            Endpoint::server(SocketAddr::new(Ipv4Addr::new(10, 0, 0, 53).into(), 53)).with_ttl(127);
        DnsExchange::new(c, r)
    };
    for i in 0..4u16 {
        let name = format!("site{i}.example");
        t = ad(40001 + i).exchange(
            &mut tl,
            t,
            0x100 + i,
            &name,
            qtype::A,
            &[a(&name, 300, [203, 0, 113, 10 + i as u8])],
            20 * MS,
        )? + 100 * MS;
    }
    for (i, host) in ["fileserver", "printer01", "intranet"]
        .into_iter()
        .enumerate()
    {
        let name = format!("{host}.corp.example.com");
        let mut x = ad(42140 + i as u16);
        let q = x.query(&mut tl, t, 0x4140 + i as u16, &name, qtype::A, true);
        t = x.answer(
            &mut tl,
            t + MS,
            &q,
            rcode::NOERROR,
            &[a(&name, 1200, [10, 1, 2, 3 + i as u8])],
            DnsFlags::AA | DnsFlags::RA,
        )? + 100 * MS;
    }
    tl.to_pcap_bytes(crate::pcap::linktype::ETHERNET, false)
}

/// A forwarding resolver whose upstream times out: the client (a stub that
/// retransmits after 1 s) gets SERVFAIL for its first copy of the query
/// and the answer for the second, before the resolver has any baseline
/// (the first lookups after the daemon started).
pub fn lookalike_dns_servfail_then_answer() -> Result<Vec<u8>> {
    let answer = [a("slow.example.org", 300, [203, 0, 113, 77])];
    answered_twice(
        false,
        42140,
        0x4140,
        "slow.example.org",
        [
            (2000 * MS, rcode::SERVFAIL, &[]),
            (2100 * MS, rcode::NOERROR, &answer),
        ],
    )
}

/// Internet radio: a server sending 8 KB every 500 ms (128 kbit/s) for
/// 40 s over a clean, fast, 30 ms path, while the user downloads 20 MB from
/// another server. The server has nothing in flight between its chunks, so
/// it echoes the client's last timestamp only with its next chunk: those
/// echoes are the wait for it (about 470 ms), not the path's RTT; counted
/// as RTT samples, every bin showed a "standing queue" (a shaper at
/// 123 kbit/s, the download its contrast).
pub fn lookalike_thr_radio_chunks() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut radio = Download::bulk(
        [203, 0, 113, 80],
        "radio.example",
        50401,
        EPOCH_NS,
        Limiter::Link {
            bps: 20e6,
            queue: 64_000,
        },
        0,
    );
    radio.app = App::Chunks {
        chunk: 8_000,
        every: 500 * MS,
        count: 80,
    };
    let fast = Download::bulk(
        [198, 51, 100, 20],
        "fast.example",
        50402,
        EPOCH_NS + 5 * S,
        Limiter::Link {
            bps: 8e6,
            queue: 24_000,
        },
        20_000_000,
    );
    download(&mut tl, &radio)?;
    download(&mut tl, &fast)?;
    crate::throttle_scenarios::finish(tl)
}

/// A look-alike: its name and its capture's bytes.
pub type Lookalike = (&'static str, fn() -> Result<Vec<u8>>);

/// Every look-alike.
pub fn lookalikes() -> Vec<Lookalike> {
    vec![
        ("dns_rrsig", lookalike_dns_rrsig as fn() -> Result<Vec<u8>>),
        ("dns_rrsig_cold", lookalike_dns_rrsig_cold),
        ("dns_cache_ttl", lookalike_dns_cache_ttl),
        ("dns_anycast_closer", lookalike_dns_anycast_closer),
        ("dns_dns64_route_change", lookalike_dns_dns64_route_change),
        (
            "dns_retransmit_other_cache",
            lookalike_dns_retransmit_other_cache,
        ),
        ("dns_ad_split_horizon", lookalike_dns_ad_split_horizon),
        (
            "dns_servfail_then_answer",
            lookalike_dns_servfail_then_answer,
        ),
        ("http_lookalikes", lookalike_http_lookalikes),
        (
            "thr_history_paced_bursty",
            lookalike_thr_history_paced_bursty,
        ),
        ("thr_paced_lossy", lookalike_thr_paced_lossy),
        ("thr_paced_shared_queue", lookalike_thr_paced_shared_queue),
        ("thr_paced_bursty_loss", lookalike_thr_paced_bursty_loss),
        ("thr_cdn_cap_every_name", lookalike_thr_cdn_cap_every_name),
        ("thr_paced_fades", lookalike_thr_paced_fades),
        ("thr_paced_long_fades", lookalike_thr_paced_long_fades),
        ("thr_paced_fades_lossy", lookalike_thr_paced_fades_lossy),
        (
            "thr_paced_shared_queue_second_download",
            lookalike_thr_paced_shared_queue_second_download,
        ),
        ("thr_radio_chunks", lookalike_thr_radio_chunks),
        ("thr_paced_uplink_queue", lookalike_thr_paced_uplink_queue),
    ]
}
