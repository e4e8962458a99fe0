//! Scenarios for the `dns_injection` detector: one per rule (positives) and
//! one per false-positive trap. The expected verdicts live in the
//! tamperwatch integration test `dns_fixtures.rs`.
//!
//! Common shape: a client 192.0.2.10 asks the resolver 198.51.100.53 (IP
//! TTL 56 at the client, sequential IP IDs, ~30 ms away). Most scenarios
//! first warm the resolver's baseline up with a few clean exchanges (each
//! from its own source port, as stub resolvers do).

use crate::catalogue::MS;
use crate::dns::{self, qtype, rcode, DnsFlags, Rr};
use crate::endpoint::Endpoint;
use crate::session::{DnsExchange, TcpSession, Timeline, UdpOverride, EPOCH_NS};
use crate::Result;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

const RTT: i64 = 30 * MS;
const ETHERNET: u32 = crate::pcap::linktype::ETHERNET;

fn exchange(port: u16) -> DnsExchange {
    exchange_with("198.51.100.53", port)
}

fn exchange_with(resolver: &str, port: u16) -> DnsExchange {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let r = Endpoint::server(SocketAddr::new(resolver.parse().expect("literal"), 53)).with_ttl(56);
    DnsExchange::new(c, r)
}

fn a(name: &str, ip: [u8; 4]) -> Rr {
    Rr::a(name, 300, Ipv4Addr::from(ip))
}

/// Four clean exchanges from ports 40001.. (the resolver's baseline).
fn warm_up(tl: &mut Timeline) -> Result<i64> {
    let mut t = EPOCH_NS;
    for i in 0..4u16 {
        let name = format!("site{i}.example");
        let mut x = exchange(40001 + i);
        t = x.exchange(
            tl,
            t,
            0x100 + i,
            &name,
            qtype::A,
            &[a(&name, [203, 0, 113, 10 + i as u8])],
            RTT + i64::from(i) * MS,
        )? + 100 * MS;
    }
    // site0 again: the resolver's cache answers it, at the round trip (the
    // resolver's fastest answer to a question it had answered, which
    // `too_fast` is judged against)
    let name = "site0.example";
    let mut x = exchange(40005);
    t = x.exchange(
        tl,
        t,
        0x104,
        name,
        qtype::A,
        &[a(name, [203, 0, 113, 10])],
        RTT,
    )? + 100 * MS;
    Ok(t)
}

fn bytes(tl: &Timeline) -> Result<Vec<u8>> {
    tl.to_pcap_bytes(ETHERNET, false)
}

fn forged(ttl: u8, ip_id: u16) -> UdpOverride {
    UdpOverride {
        ttl: Some(ttl),
        ip_id: Some(ip_id),
        df: Some(false),
    }
}

/// On-path race (GFW, Iran): the forged answer 10.10.34.34 arrives 2 ms
/// after the query, the resolver's real answer 30 ms later. Rules: race,
/// known_forged_answer.
pub fn dns_inject_race_iran() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(41001);
    let q = x.query(&mut tl, t, 0x2001, "blocked.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + 2 * MS,
        &q,
        rcode::NOERROR,
        &[a("blocked.example", [10, 10, 34, 34])],
        DnsFlags::RA,
        forged(61, 0x7a31),
    )?;
    x.answer(
        &mut tl,
        t + RTT,
        &q,
        rcode::NOERROR,
        &[a("blocked.example", [203, 0, 113, 80])],
        DnsFlags::RA,
    )?;
    bytes(&tl)
}

/// GFW race with an address from its public forged-answer pool (ChinaDNS
/// list): weak on its own, but the answer races the real one. Rules: race
/// (forged one: forged_answer_pool, ttl_mismatch, too_fast).
pub fn dns_inject_race_gfw_pool() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(41002);
    let q = x.query(&mut tl, t, 0x2002, "twitter.example", qtype::A, false);
    x.inject_answer(
        &mut tl,
        t + 3 * MS,
        &q,
        rcode::NOERROR,
        &[a("twitter.example", [159, 106, 121, 75])],
        DnsFlags::RA,
        forged(98, 0x1234),
    )?;
    x.answer(
        &mut tl,
        t + RTT,
        &q,
        rcode::NOERROR,
        &[a("twitter.example", [203, 0, 113, 81])],
        DnsFlags::RA,
    )?;
    bytes(&tl)
}

/// In-path replacement (Iran): the real answer is dropped, only the forged
/// 10.10.34.35 arrives. Rule: known_forged_answer; real_answer_arrived false.
pub fn dns_inject_inpath_iran() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(41003);
    let q = x.query(&mut tl, t, 0x2003, "blocked.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + 4 * MS,
        &q,
        rcode::NOERROR,
        &[a("blocked.example", [10, 10, 34, 35])],
        DnsFlags::RA,
        forged(59, 0x0bad),
    )?;
    // and the AAAA query gets d0::11
    let mut y = exchange(41004);
    let q6 = y.query(
        &mut tl,
        t + MS,
        0x2004,
        "blocked.example",
        qtype::AAAA,
        true,
    );
    let d0 = Rr::aaaa(
        "blocked.example",
        300,
        "d0::11".parse::<Ipv6Addr>().expect("literal"),
    );
    y.inject_answer(
        &mut tl,
        t + 5 * MS,
        &q6,
        rcode::NOERROR,
        &[d0],
        DnsFlags::RA,
        forged(59, 0x0bae),
    )?;
    bytes(&tl)
}

/// Turkmenistan: 127.0.0.1 with IP ID 30000, and the resolver's answer never
/// comes. Rules: known_forged_answer (with its IP ID), ip_id_marker.
pub fn dns_inject_turkmenistan() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(41005);
    let q = x.query(&mut tl, t, 0x2005, "blocked.example", qtype::A, false);
    x.inject_answer(
        &mut tl,
        t + 3 * MS,
        &q,
        rcode::NOERROR,
        &[a("blocked.example", [127, 0, 0, 1])],
        DnsFlags::RA,
        forged(102, 30000),
    )?;
    bytes(&tl)
}

/// An injector with a private address of its own (not in any list),
/// answering in 1 ms with another TTL; nothing else arrives. Rules:
/// bogon_answer, ttl_mismatch, too_fast.
pub fn dns_inject_bogon_fast() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(41006);
    let q = x.query(&mut tl, t, 0x2006, "news.example", qtype::A, true);
    x.inject_answer(
        &mut tl,
        t + MS,
        &q,
        rcode::NOERROR,
        &[a("news.example", [10, 1, 2, 3])],
        DnsFlags::RA,
        forged(62, 0x4444),
    )?;
    bytes(&tl)
}

/// A mangled forged answer: the question lacks QCLASS, EDNS is dropped,
/// the TTL is another and it is fast. Rules: malformed_question,
/// ttl_mismatch, too_fast.
pub fn dns_inject_malformed() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(41007);
    let q = x.query(&mut tl, t, 0x2007, "blocked.example", qtype::A, true);
    let mut r = dns::response(
        &q,
        rcode::NOERROR,
        &[a("blocked.example", [203, 0, 113, 99])],
        DnsFlags::RA,
    )?;
    // drop QCLASS (the two bytes after the question's QTYPE) and the OPT record
    let qend = 12 + "blocked.example".len() + 2 + 2;
    r.drain(qend..qend + 2);
    r[11] = 0; // ARCOUNT 0
    let keep = r.len() - 11; // OPT RR is 11 bytes at the end
    r.truncate(keep);
    x.flow.send_with(
        &mut tl,
        t + 2 * MS,
        crate::session::Direction::FromServer,
        r,
        &forged(63, 0x5555),
    );
    bytes(&tl)
}

// ---- traps ----

/// NXDOMAIN for a name that does not exist, and a SERVFAIL.
pub fn dns_trap_nxdomain() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(42001);
    let q = x.query(&mut tl, t, 0x3001, "doesnotexist.example", qtype::A, true);
    x.answer(&mut tl, t + RTT, &q, rcode::NXDOMAIN, &[], DnsFlags::RA)?;
    let mut y = exchange(42002);
    let q = y.query(&mut tl, t + MS, 0x3002, "broken.example", qtype::A, true);
    y.answer(
        &mut tl,
        t + 200 * MS,
        &q,
        rcode::SERVFAIL,
        &[],
        DnsFlags::RA,
    )?;
    bytes(&tl)
}

/// A resolver (or the network) duplicating its answer: two byte-identical
/// answers to one query (as in Zeek's dns-two-responses trace).
pub fn dns_trap_duplicates() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(42003);
    let q = x.query(&mut tl, t, 0x3003, "example.org", qtype::A, true);
    let r = dns::response(
        &q,
        rcode::NOERROR,
        &[a("example.org", [203, 0, 113, 90])],
        DnsFlags::RA,
    )?;
    let same = UdpOverride {
        ttl: None,
        ip_id: Some(0x6000),
        df: None,
    };
    x.flow.send_with(
        &mut tl,
        t + RTT,
        crate::session::Direction::FromServer,
        r.clone(),
        &same,
    );
    x.flow.send_with(
        &mut tl,
        t + RTT + 300_000,
        crate::session::Direction::FromServer,
        r,
        &same,
    );
    // and a client that retransmits its query: one answer to each copy
    let mut y = exchange(42004);
    let q = y.query(&mut tl, t + 10 * MS, 0x3004, "example.net", qtype::A, true);
    y.flow.client_send(&mut tl, t + 1010 * MS, q.clone());
    y.answer(
        &mut tl,
        t + 1010 * MS + RTT,
        &q,
        rcode::NOERROR,
        &[a("example.net", [203, 0, 113, 91])],
        DnsFlags::RA,
    )?;
    y.answer(
        &mut tl,
        t + 1012 * MS + RTT,
        &q,
        rcode::NOERROR,
        &[a("example.net", [203, 0, 113, 91])],
        DnsFlags::RA,
    )?;
    bytes(&tl)
}

/// Split horizon: the resolver answers local names with private addresses
/// (printer.lan), so it serves local zones; later a public-looking name it
/// also answers locally (nas.example.com → 192.168.1.5) stays clean.
pub fn dns_trap_local_zones() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(42005);
    x.exchange(
        &mut tl,
        t,
        0x3005,
        "printer.lan",
        qtype::A,
        &[a("printer.lan", [192, 168, 1, 20])],
        2 * MS,
    )?;
    let mut y = exchange(42006);
    y.exchange(
        &mut tl,
        t + 500 * MS,
        0x3006,
        "nas.home.arpa",
        qtype::A,
        &[a("nas.home.arpa", [192, 168, 1, 5])],
        2 * MS,
    )?;
    let mut z = exchange(42007);
    z.exchange(
        &mut tl,
        t + 1000 * MS,
        0x3007,
        "nas.example.com",
        qtype::A,
        &[a("nas.example.com", [192, 168, 1, 5])],
        RTT,
    )?;
    bytes(&tl)
}

/// The resolver's path changes: from some point all its answers arrive
/// with TTL 52 instead of 56.
pub fn dns_trap_route_change() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut t = warm_up(&mut tl)?;
    for i in 0..4u16 {
        let name = format!("after{i}.example");
        let mut x = exchange(42010 + i);
        x.flow.server.ttl = 52;
        t = x.exchange(
            &mut tl,
            t,
            0x3010 + i,
            &name,
            qtype::A,
            &[a(&name, [203, 0, 113, 40])],
            RTT,
        )? + 100 * MS;
    }
    bytes(&tl)
}

/// Round-robin: the same name asked three times gets three orderings and
/// sets of addresses; and a CNAME chain.
pub fn dns_trap_round_robin_cname() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let mut t = warm_up(&mut tl)?;
    let sets: [&[[u8; 4]]; 3] = [
        &[[203, 0, 113, 1], [203, 0, 113, 2]],
        &[[203, 0, 113, 2], [203, 0, 113, 3]],
        &[[203, 0, 113, 3], [203, 0, 113, 1]],
    ];
    for (i, s) in sets.iter().enumerate() {
        let rrs: Vec<Rr> = s.iter().map(|ip| a("rr.example", *ip)).collect();
        let mut x = exchange(42020 + i as u16);
        t = x.exchange(
            &mut tl,
            t,
            0x3020 + i as u16,
            "rr.example",
            qtype::A,
            &rrs,
            RTT,
        )? + 50 * MS;
    }
    let chain = [
        Rr::cname("www.example.com", 300, "www.cdn.example.net"),
        Rr::cname("www.cdn.example.net", 60, "edge.cdn.example.net"),
        a("edge.cdn.example.net", [203, 0, 113, 7]),
    ];
    let mut c = exchange(42030);
    c.exchange(&mut tl, t, 0x3030, "www.example.com", qtype::A, &chain, RTT)?;
    bytes(&tl)
}

/// A truncated UDP answer (TC, no records) followed by the client's retry
/// over TCP, which gets the full answer.
pub fn dns_trap_truncated_tcp_retry() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(42040);
    let q = x.query(&mut tl, t, 0x3040, "big.example", qtype::TXT, true);
    x.answer(
        &mut tl,
        t + RTT,
        &q,
        rcode::NOERROR,
        &[],
        DnsFlags(DnsFlags::RA.0 | 0x0200),
    )?;
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 42041));
    let r =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 53).into(), 53)).with_ttl(56);
    let mut s = TcpSession::new(c, r);
    let t2 = s.handshake(&mut tl, t + RTT + MS, RTT);
    let q = dns::query(0x3041, "big.example", qtype::TXT, true);
    let t3 = s.client_send(&mut tl, t2 + MS, &dns::tcp_frame(&q));
    let rrs: Vec<Rr> = (0..20)
        .map(|i| a("big.example", [203, 0, 113, i]))
        .collect();
    let resp = dns::response(&q, rcode::NOERROR, &rrs, DnsFlags::RA)?;
    let t4 = s.server_send(&mut tl, t3 + RTT, &dns::tcp_frame(&resp));
    s.close(&mut tl, t4 + MS, RTT);
    bytes(&tl)
}

/// Random loss: a query whose answer is lost, retried (new ID) and answered.
pub fn dns_trap_loss() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(42050);
    x.query(&mut tl, t, 0x3050, "lossy.example", qtype::A, true);
    let mut y = exchange(42051);
    y.exchange(
        &mut tl,
        t + 2000 * MS,
        0x3051,
        "lossy.example",
        qtype::A,
        &[a("lossy.example", [203, 0, 113, 60])],
        RTT,
    )?;
    bytes(&tl)
}

/// One ID for two questions: a stub that sends A and AAAA with the same ID
/// on one socket, answered AAAA first; and a DNS-over-TCP connection that
/// reuses one ID for two queries in turn. An answer belongs to the query with
/// its ID and question, not to the first query with its ID.
pub fn dns_trap_id_reuse() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    let mut x = exchange(42050);
    let qa = x.query(&mut tl, t, 0x3050, "dual.example", qtype::A, true);
    let q6 = x.query(
        &mut tl,
        t + MS / 10,
        0x3050,
        "dual.example",
        qtype::AAAA,
        true,
    );
    let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5);
    x.answer(
        &mut tl,
        t + RTT,
        &q6,
        rcode::NOERROR,
        &[Rr::aaaa("dual.example", 300, v6)],
        DnsFlags::RA,
    )?;
    x.answer(
        &mut tl,
        t + RTT + MS / 5,
        &qa,
        rcode::NOERROR,
        &[a("dual.example", [203, 0, 113, 5])],
        DnsFlags::RA,
    )?;
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 42051));
    let r =
        Endpoint::server(SocketAddr::new(Ipv4Addr::new(198, 51, 100, 53).into(), 53)).with_ttl(56);
    let mut s = TcpSession::new(c, r);
    let mut now = s.handshake(&mut tl, t + 200 * MS, RTT);
    for (name, ip) in [("one.example", 51), ("two.example", 52)] {
        let q = dns::query(0x3051, name, qtype::A, true);
        now = s.client_send(&mut tl, now + MS, &dns::tcp_frame(&q));
        let resp = dns::response(
            &q,
            rcode::NOERROR,
            &[a(name, [203, 0, 113, ip])],
            DnsFlags::RA,
        )?;
        now = s.server_send(&mut tl, now + RTT, &dns::tcp_frame(&resp));
    }
    s.close(&mut tl, now + MS, RTT);
    bytes(&tl)
}

/// A round-robin resolver rotating an NS RRset between its answers to a
/// query and to the query's retransmission. Each answer compresses the
/// second name against the first one's rdata, so the two answers differ in
/// their bytes, not in what they say.
pub fn dns_trap_rotated_rrset() -> Result<Vec<u8>> {
    let mut tl = Timeline::new();
    let t = warm_up(&mut tl)?;
    // The response's layout: header (12), question example.com NS (17),
    // then the first record, owner compressed (c0 0c): its rdata at 41, and
    // "ns.example.net" of it at 43.
    let ns = |first: u8, second: u8| -> Vec<Rr> {
        let rr = |data: Vec<u8>| Rr {
            name: "example.com".into(),
            ttl: 300,
            rdata: dns::Rdata::Other(qtype::NS, data),
        };
        let mut full = vec![1, first, 2, b'n', b's', 7];
        full.extend_from_slice(b"example");
        full.extend_from_slice(&[3, b'n', b'e', b't', 0]);
        vec![rr(full), rr(vec![1, second, 0xc0, 43])]
    };
    let mut y = exchange(42060);
    let q = y.query(&mut tl, t, 0x3060, "example.com", qtype::NS, true);
    y.flow.client_send(&mut tl, t + 1000 * MS, q.clone());
    y.answer(
        &mut tl,
        t + 1010 * MS,
        &q,
        rcode::NOERROR,
        &ns(b'a', b'b'),
        DnsFlags::RA,
    )?;
    y.answer(
        &mut tl,
        t + 1000 * MS + RTT,
        &q,
        rcode::NOERROR,
        &ns(b'b', b'a'),
        DnsFlags::RA,
    )?;
    bytes(&tl)
}
