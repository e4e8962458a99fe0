//! No allocation per packet in the steady state: once flows are set up,
//! decoding and every default detector process their packets without
//! touching the heap.
//!
//! A counting global allocator counts the allocations made by this test's
//! thread while it is switched on. The traffic (built with tw-scenario,
//! framed before counting starts): HTTPS downloads (handshake,
//! ClientHello, server flight, application data with the client's ACKs,
//! then a second request and a 1.4 MB answer), HTTP downloads (request, a
//! 1.4 MB response that pauses after its first 20 kB), a long QUIC-like UDP/443
//! exchange and a DNS client that sends query after query from one port
//! (past its fourth, each query makes the flow judge its oldest, as at the
//! flow's end: that must not allocate either unless it raises an event).
//! The first 800 ms set the flows up (their per-flow state is allocated
//! there, on demand); then every packet is counted, and there must be no
//! allocation at all. The flows are still open at the end (no
//! flow ends while counting: a flow's end builds its event evidence).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::session::UdpOverride;
use tw_scenario::{
    dns, http, linktype, quic, tls, Direction, Endpoint, Rng, TcpSession, Timeline, UdpFlow,
};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count() {
    // `try_with`: no panic while the thread-local is being torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is an atomic and the flag a const-initialised thread-local
// (neither allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

fn client(ip: IpAddr, port: u16) -> Endpoint {
    Endpoint::client(SocketAddr::new(ip, port))
}

fn server(ip: IpAddr, port: u16) -> Endpoint {
    Endpoint::server(SocketAddr::new(ip, port)).with_ttl(50)
}

/// The traffic, as (timestamp, Ethernet frame), in time order.
fn traffic() -> Vec<(i64, Vec<u8>)> {
    let mut rng = Rng::new(7);
    let mut tl = Timeline::new();
    let c4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let c6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10));
    // HTTPS and HTTP downloads, IPv4 and IPv6, started 20 ms apart.
    for i in 0..24u16 {
        let v6 = i % 4 == 3;
        let (cip, sip) = if v6 {
            (
                c6,
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, i + 1)),
            )
        } else {
            (c4, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1 + i as u8)))
        };
        let https = i % 2 == 0;
        let port = if https { 443 } else { 80 };
        let mut s = TcpSession::new(client(cip, 40000 + i), server(sip, port));
        let t = T0 + i64::from(i) * 20 * MS;
        let t = s.handshake(&mut tl, t, 30 * MS);
        if https {
            let hello = tls::client_hello(&format!("site{i}.example"), &mut rng);
            let t = s.client_send(&mut tl, t + MS, &hello);
            let flight = tls::server_flight(&mut rng, 2500);
            let t = s.server_send_acked(&mut tl, t + 30 * MS, &flight, 2);
            let t = s.client_send(&mut tl, t + MS, &tls::app_data(&mut rng, 300));
            let t = s.server_send_acked(&mut tl, t + 30 * MS, &tls::app_data(&mut rng, 20_000), 2);
            // the big download, after the warm-up
            let t = s.client_send(&mut tl, t.max(T0 + 900 * MS), &tls::app_data(&mut rng, 300));
            s.server_send_acked(&mut tl, t + 30 * MS, &tls::app_data(&mut rng, 1_400_000), 2);
        } else {
            let get = http::get(&format!("site{i}.example"), "/big");
            let t = s.client_send(&mut tl, t + MS, &get);
            let head = http::response_head(200, "OK", "application/octet-stream", 1_400_000);
            let t = s.server_send_acked(&mut tl, t + 30 * MS, &head, 2);
            let t = s.server_send_acked(&mut tl, t + MS, &http::filler(20_000), 2);
            s.server_send_acked(&mut tl, t.max(T0 + 900 * MS), &http::filler(1_380_000), 2);
        }
    }
    // A QUIC-like exchange on UDP/443: an Initial, then short-header
    // packets both ways.
    let mut q = UdpFlow::new(
        client(c4, 50443),
        server(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 80)), 443),
    );
    let ov = UdpOverride::default();
    let ip = q.datagram(Direction::FromClient, quic::initial(&mut rng), &ov);
    tl.push(T0, ip);
    let dcid = [7u8; 8];
    for k in 0..4000i64 {
        let t = T0 + 5 * MS + k * MS;
        let ip = q.datagram(
            Direction::FromServer,
            quic::short_header(&mut rng, &dcid, 1200),
            &ov,
        );
        tl.push(t, ip);
        if k % 2 == 0 {
            let ip = q.datagram(
                Direction::FromClient,
                quic::short_header(&mut rng, &dcid, 60),
                &ov,
            );
            tl.push(t + MS / 2, ip);
        }
    }
    // A DNS client that keeps one source port: query, answer, every 5 ms.
    let mut d = UdpFlow::new(
        client(c4, 53000),
        server(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 53)), 53),
    );
    for k in 0..800u16 {
        let t = T0 + i64::from(k) * 5 * MS;
        let query = dns::query(k, &format!("n{}.example", k % 50), 1, true);
        let rr = [dns::Rr::a(
            &format!("n{}.example", k % 50),
            300,
            Ipv4Addr::new(203, 0, 113, 200),
        )];
        let answer = dns::response(&query, 0, &rr, dns::DnsFlags::default()).unwrap();
        let ip = d.datagram(Direction::FromClient, query, &ov);
        tl.push(t, ip);
        let ip = d.datagram(Direction::FromServer, answer, &ov);
        tl.push(t + 2 * MS, ip);
    }
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    entries
        .iter()
        .map(|e| {
            let mut f = Vec::new();
            e.frame_into(&mut f, linktype::ETHERNET).unwrap();
            (e.ts_ns, f)
        })
        .collect()
}

#[test]
fn steady_state_allocates_nothing() {
    let frames = traffic();
    let mut engine = Engine::new(
        EngineConfig::default(),
        default_detectors(&DetectorsConfig::default()),
    );
    // Every flow has started and sent its first data by then.
    let warm = frames.partition_point(|(ts, _)| *ts < T0 + 800 * MS);
    COUNTING.with(|c| c.set(true));
    for (ts, f) in &frames[..warm] {
        engine.process_frame(linktype::ETHERNET, f, *ts, f.len() as u32);
    }
    COUNTING.with(|c| c.set(false));
    // Reported, not asserted: what setting up the flows cost.
    let setup = ALLOCATIONS.swap(0, Ordering::Relaxed);
    let tracked = engine.flows_tracked();
    let before = engine.stats().total_packets();
    COUNTING.with(|c| c.set(true));
    for (ts, f) in &frames[warm..] {
        engine.process_frame(linktype::ETHERNET, f, *ts, f.len() as u32);
    }
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let counted = engine.stats().total_packets() - before;
    let untracked = engine.stats().untracked_packets;
    let errors: u64 = engine.stats().decode_errors.iter().sum();
    let mut events = 0;
    engine.drain_events(|_| events += 1);
    eprintln!(
        "{} frames, {warm} to warm up ({tracked} flows, {setup} allocations), {counted} counted: {allocations} allocations; \
         {} flows tracked at the end, {events} events",
        frames.len(),
        engine.flows_tracked()
    );
    // The test means something only if the traffic is what it claims.
    assert_eq!(errors, 0, "decode errors");
    assert_eq!(untracked, 0, "untracked packets");
    assert!(counted > 30_000, "{counted}");
    assert_eq!(tracked, 26, "flows set up during warm-up");
    assert_eq!(engine.flows_tracked(), 26, "no flow ended or started");
    assert_eq!(events, 0, "clean traffic");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations over {counted} packets of established flows"
    );
}
