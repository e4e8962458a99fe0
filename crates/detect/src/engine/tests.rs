//! Engine tests on small hand-built raw IPv4 packets (link type RAW).
use super::*;
use crate::decode::linktype;
use crate::detectors::Detector;
use crate::stats::{EvictionReason, Signature};
use std::sync::{Arc, Mutex};

const C: [u8; 4] = [192, 0, 2, 10];
const S: [u8; 4] = [203, 0, 113, 5];
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

/// IPv4 (20 bytes, no options) + TCP (20 bytes) + payload of `len` zero bytes.
#[allow(clippy::too_many_arguments)]
fn tcp(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    len: usize,
    ttl: u8,
    id: u16,
) -> Vec<u8> {
    let total = (40 + len) as u16;
    let mut b = vec![0x45, 0];
    b.extend(total.to_be_bytes());
    b.extend(id.to_be_bytes());
    b.extend([0x40, 0, ttl, 6, 0, 0]);
    b.extend(src);
    b.extend(dst);
    b.extend(sport.to_be_bytes());
    b.extend(dport.to_be_bytes());
    b.extend(seq.to_be_bytes());
    b.extend(ack.to_be_bytes());
    b.extend([0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    b.extend(std::iter::repeat_n(0u8, len));
    b
}

fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, len: usize) -> Vec<u8> {
    let total = (28 + len) as u16;
    let mut b = vec![0x45, 0];
    b.extend(total.to_be_bytes());
    b.extend([0, 1, 0, 0, 64, 17, 0, 0]);
    b.extend(src);
    b.extend(dst);
    b.extend(sport.to_be_bytes());
    b.extend(dport.to_be_bytes());
    b.extend(((8 + len) as u16).to_be_bytes());
    b.extend([0, 0]);
    b.extend(std::iter::repeat_n(0u8, len));
    b
}

const MS: Nanos = MILLI;
const T0: Nanos = 1_700_000_000 * SECOND;

fn feed(e: &mut Engine, t: Nanos, b: &[u8]) {
    e.process_frame(linktype::RAW, b, T0 + t, b.len() as u32);
}

/// A clean HTTP-like exchange: handshake, request, response, FIN both ways.
fn clean_exchange(e: &mut Engine, t: Nanos, cport: u16) {
    feed(e, t, &tcp(C, cport, S, 80, 100, 0, SYN, 0, 64, 1));
    feed(
        e,
        t + 20 * MS,
        &tcp(S, 80, C, cport, 900, 101, SYN | ACK, 0, 50, 7),
    );
    feed(
        e,
        t + 21 * MS,
        &tcp(C, cport, S, 80, 101, 901, ACK, 0, 64, 2),
    );
    feed(
        e,
        t + 22 * MS,
        &tcp(C, cport, S, 80, 101, 901, PSH | ACK, 100, 64, 3),
    );
    feed(
        e,
        t + 45 * MS,
        &tcp(S, 80, C, cport, 901, 201, PSH | ACK, 500, 50, 8),
    );
    feed(
        e,
        t + 46 * MS,
        &tcp(S, 80, C, cport, 1401, 201, FIN | ACK, 0, 50, 9),
    );
    feed(
        e,
        t + 47 * MS,
        &tcp(C, cport, S, 80, 201, 1402, FIN | ACK, 0, 64, 4),
    );
    feed(
        e,
        t + 70 * MS,
        &tcp(S, 80, C, cport, 1402, 202, ACK, 0, 50, 10),
    );
}

fn finished(e: &Engine, p: FlowProto, o: FlowOutcome) -> u64 {
    e.stats().flows_finished[p.idx()][o.idx()]
}

#[test]
fn clean_tcp_flow_closes() {
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    clean_exchange(&mut e, 0, 40000);
    assert_eq!(e.stats().flows_started[FlowProto::Tcp.idx()], 1);
    assert_eq!(e.stats().flows_active[FlowProto::Tcp.idx()], 1);
    assert_eq!(e.flows_tracked(), 1);
    // Linger passes: the flow ends as closed.
    e.tick(T0 + 30 * SECOND);
    assert_eq!(finished(&e, FlowProto::Tcp, FlowOutcome::Closed), 1);
    assert_eq!(e.stats().flows_active[FlowProto::Tcp.idx()], 0);
    assert_eq!(e.flows_tracked(), 0);
    assert_eq!(e.stats().packets[PacketProto::Tcp.idx()], 8);
    assert_eq!(e.stats().total_decode_errors(), 0);
}

#[test]
fn the_flows_held_at_once_are_a_high_water_mark() {
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    // three flows open together, then a fourth after they all ended
    for (i, port) in [40_010, 40_011, 40_012].into_iter().enumerate() {
        clean_exchange(&mut e, i as Nanos * MS, port);
    }
    assert_eq!(e.stats().flows_peak, 3);
    e.tick(T0 + 30 * SECOND);
    assert_eq!(e.flows_tracked(), 0);
    clean_exchange(&mut e, 31 * SECOND, 40_013);
    assert_eq!(e.stats().flows_active[FlowProto::Tcp.idx()], 1);
    assert_eq!(e.stats().flows_peak, 3);
    // UDP flows count with TCP ones
    for port in [50_000, 50_001, 50_002] {
        feed(&mut e, 32 * SECOND, &udp(C, port, S, 53, 20));
    }
    assert_eq!(e.stats().flows_peak, 4);
}

#[test]
fn unanswered_syns_time_out_and_refused_is_refused() {
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    for i in 0..3 {
        feed(
            &mut e,
            i * SECOND,
            &tcp(C, 40001, S, 443, 5, 0, SYN, 0, 64, i as u16),
        );
    }
    feed(&mut e, 0, &tcp(C, 40002, S, 22, 5, 0, SYN, 0, 64, 9));
    feed(
        &mut e,
        10 * MS,
        &tcp(S, 22, C, 40002, 0, 6, RST | ACK, 0, 50, 0),
    );
    e.tick(T0 + 200 * SECOND);
    assert_eq!(
        finished(&e, FlowProto::Tcp, FlowOutcome::HandshakeTimeout),
        1
    );
    assert_eq!(finished(&e, FlowProto::Tcp, FlowOutcome::Refused), 1);
    assert_eq!(e.stats().total_flows(), 2);
}

#[test]
fn lone_rst_and_stray_acks_create_no_state() {
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    feed(&mut e, 0, &tcp(S, 443, C, 40003, 77, 0, RST, 0, 50, 0));
    feed(&mut e, 1, &tcp(S, 443, C, 40004, 77, 1, ACK, 0, 50, 0));
    feed(
        &mut e,
        2,
        &tcp(S, 443, C, 40005, 77, 1, FIN | ACK, 0, 50, 0),
    );
    assert_eq!(e.flows_tracked(), 0);
    assert_eq!(e.stats().untracked_packets, 3);
    assert_eq!(e.stats().total_flows(), 0);
}

#[test]
fn frames_stamped_a_second_before_the_newest_are_counted() {
    // in time order, with captures' jitter (50 ms back), then the
    // capture's clock stepped back 2.5 s: two frames stamped more than a
    // second before the newest, then one after it (the clock caught up)
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    let u = udp(C, 40000, S, 53, 40);
    for t in [0, 100, 50, 1000, 3000, 500, 1900, 3100] {
        feed(&mut e, t * MS, &u);
    }
    assert_eq!(e.stats().packets_behind, 2);
    // the same through the linked path (several workers: the dispatcher's
    // link clock)
    let mut d = Engine::new(EngineConfig::default(), vec![]);
    let mut link = crate::link::LinkClock::default();
    for t in [0, 100, 50, 1000, 3000, 500, 1900, 3100] {
        let ts = T0 + t * MS;
        link.now = link.now.max(ts);
        d.process_frame_linked(crate::decode::linktype::RAW, &u, ts, u.len() as u32, link);
    }
    assert_eq!(d.stats().packets_behind, 2);
}

#[test]
fn udp_answered_and_unanswered() {
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    feed(&mut e, 0, &udp(C, 5000, S, 53, 30));
    feed(&mut e, 30 * MS, &udp(S, 53, C, 5000, 60));
    feed(&mut e, 0, &udp(C, 5001, S, 53, 30));
    e.finish();
    assert_eq!(finished(&e, FlowProto::Udp, FlowOutcome::Answered), 1);
    assert_eq!(finished(&e, FlowProto::Udp, FlowOutcome::Unanswered), 1);
}

#[derive(Debug, Default)]
struct Seen {
    packets: Vec<(Dir, u16, u16)>,
    ends: Vec<(FlowOutcome, Option<Nanos>)>,
    untracked: usize,
    icmp_with_flow: usize,
    rtt: Option<Nanos>,
    /// (client port, target) of each flow that ended.
    targets: Vec<(u16, Option<String>)>,
}

#[derive(Debug)]
struct Recorder(Arc<Mutex<Seen>>);

impl Detector for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn on_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        pkt: &Packet<'_>,
        flow: &mut Flow,
        dir: Dir,
        server: &mut ServerState,
    ) {
        let Transport::Tcp(t) = pkt.l4 else { return };
        let mut s = self.0.lock().unwrap();
        s.packets.push((dir, t.sport, flow.client_port()));
        s.rtt = server.rtt_min;
        if t.rst() {
            // at most one event per flow and signature
            ctx.emit(flow, Signature::RstInjection, 0.9, None, Default::default());
            ctx.emit(flow, Signature::RstInjection, 0.9, None, Default::default());
        }
    }
    fn on_untracked(&mut self, _: &mut Ctx<'_>, _: &Packet<'_>) {
        self.0.lock().unwrap().untracked += 1;
    }
    fn on_icmp(
        &mut self,
        _: &mut Ctx<'_>,
        _: &Packet<'_>,
        _: &crate::decode::IcmpInfo,
        flow: Option<&mut Flow>,
    ) {
        if flow.is_some() {
            self.0.lock().unwrap().icmp_with_flow += 1;
        }
    }
    fn on_flow_end(
        &mut self,
        _: &mut Ctx<'_>,
        flow: &mut Flow,
        o: FlowOutcome,
        _: &mut ServerState,
    ) {
        let mut s = self.0.lock().unwrap();
        s.ends.push((o, flow.handshake_rtt()));
        s.targets.push((
            flow.client_port(),
            flow.ext.target.as_deref().map(String::from),
        ));
    }
}

#[test]
fn detector_hooks_see_oriented_packets_and_emit_once() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut e = Engine::new(
        EngineConfig::default(),
        vec![Box::new(Recorder(seen.clone()))],
    );
    clean_exchange(&mut e, 0, 40010);
    // a flow reset by the server, twice
    feed(&mut e, SECOND, &tcp(C, 40011, S, 80, 100, 0, SYN, 0, 64, 1));
    feed(
        &mut e,
        SECOND + 20 * MS,
        &tcp(S, 80, C, 40011, 900, 101, SYN | ACK, 0, 50, 7),
    );
    feed(
        &mut e,
        SECOND + 21 * MS,
        &tcp(C, 40011, S, 80, 101, 901, ACK, 0, 64, 2),
    );
    feed(
        &mut e,
        SECOND + 30 * MS,
        &tcp(S, 80, C, 40011, 901, 101, RST, 0, 50, 8),
    );
    feed(
        &mut e,
        SECOND + 31 * MS,
        &tcp(S, 80, C, 40011, 901, 101, RST, 0, 50, 8),
    );
    // an unrelated lone RST
    feed(&mut e, 2 * SECOND, &tcp(S, 80, C, 1, 1, 1, RST, 0, 50, 8));
    e.finish();
    let mut events = vec![];
    e.drain_events(|ev| events.push(ev));
    assert_eq!(events.len(), 1, "one event per flow and signature");
    assert_eq!(events[0].flow.client_port, 40011);
    assert_eq!(e.stats().events[Signature::RstInjection.idx()], 1);
    let s = seen.lock().unwrap();
    assert_eq!(s.packets[0], (Dir::ToServer, 40010, 40010));
    assert_eq!(s.packets[1], (Dir::ToClient, 80, 40010));
    assert_eq!(s.untracked, 1);
    assert_eq!(s.rtt, Some(20 * MS));
    let outcomes: Vec<_> = s.ends.iter().map(|x| x.0).collect();
    assert!(outcomes.contains(&FlowOutcome::Closed), "{outcomes:?}");
    assert!(
        outcomes.contains(&FlowOutcome::ResetByServer),
        "{outcomes:?}"
    );
    assert!(s.ends.iter().all(|x| x.1 == Some(20 * MS)));
}

#[test]
fn icmp_errors_reach_the_quoted_flow() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut e = Engine::new(
        EngineConfig::default(),
        vec![Box::new(Recorder(seen.clone()))],
    );
    let syn = tcp(C, 40020, S, 80, 100, 0, SYN, 0, 1, 1);
    feed(&mut e, 0, &syn);
    let mut icmp = vec![0x45, 0, 0, 56, 0, 1, 0, 0, 250, 1, 0, 0, 198, 51, 100, 1];
    icmp.extend(C);
    icmp.extend([11, 0, 0, 0, 0, 0, 0, 0]);
    icmp.extend(&syn[..28]);
    feed(&mut e, MS, &icmp);
    assert_eq!(seen.lock().unwrap().icmp_with_flow, 1);
    assert_eq!(e.stats().packets[PacketProto::Icmp.idx()], 1);
}

#[test]
fn midstream_flow_is_oriented_by_ports() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut e = Engine::new(
        EngineConfig::default(),
        vec![Box::new(Recorder(seen.clone()))],
    );
    // Capture starts mid-connection: server data first.
    feed(
        &mut e,
        0,
        &tcp(S, 443, C, 51000, 5000, 700, PSH | ACK, 1000, 50, 1),
    );
    feed(&mut e, MS, &tcp(C, 51000, S, 443, 700, 6000, ACK, 0, 64, 1));
    let s = seen.lock().unwrap();
    assert_eq!(s.packets[0], (Dir::ToClient, 443, 51000));
    assert_eq!(s.packets[1], (Dir::ToServer, 51000, 51000));
}

#[test]
fn syn_flood_churns_only_the_unconfirmed_table() {
    let cfg = EngineConfig {
        flows: FlowConfig {
            max_flows: 64,
            max_unconfirmed: 128,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut e = Engine::new(cfg, vec![]);
    // A real connection, established before the flood.
    feed(&mut e, 0, &tcp(C, 40030, S, 443, 100, 0, SYN, 0, 64, 1));
    feed(
        &mut e,
        20 * MS,
        &tcp(S, 443, C, 40030, 900, 101, SYN | ACK, 0, 50, 7),
    );
    feed(
        &mut e,
        21 * MS,
        &tcp(C, 40030, S, 443, 101, 901, ACK, 0, 64, 2),
    );
    // 20,000 SYNs from spoofed sources.
    for i in 0..20_000u32 {
        let src = [198, 18, (i >> 8) as u8, i as u8];
        feed(
            &mut e,
            SECOND + Nanos::from(i) * 1000,
            &tcp(src, (i % 60000) as u16 + 1024, S, 443, i, 0, SYN, 0, 64, 0),
        );
    }
    assert!(e.flows_tracked() <= 64 + 128);
    assert_eq!(
        e.stats().evictions[EvictionReason::HalfOpenFull.idx()],
        20_000 - 128
    );
    // the real flow is still there and still in use
    feed(
        &mut e,
        2 * SECOND,
        &tcp(S, 443, C, 40030, 901, 101, PSH | ACK, 100, 50, 8),
    );
    assert_eq!(e.stats().evictions[EvictionReason::TableFull.idx()], 0);
    e.finish();
    assert_eq!(
        e.stats().flows_finished[0][FlowOutcome::Unfinished.idx()],
        1 + 128
    );
    assert_eq!(e.stats().flows_active[0], 0);
}

#[test]
fn full_confirmed_table_evicts_least_recent() {
    let cfg = EngineConfig {
        flows: FlowConfig {
            max_flows: 4,
            max_unconfirmed: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut e = Engine::new(cfg, vec![]);
    for i in 0..10u16 {
        clean_exchange(&mut e, Nanos::from(i) * 100 * MS, 41000 + i);
    }
    assert_eq!(e.stats().evictions[EvictionReason::TableFull.idx()], 6);
    assert_eq!(e.flows_tracked(), 4);
    assert_eq!(e.stats().flows_finished[0][FlowOutcome::Evicted.idx()], 6);
}

#[test]
fn replay_is_deterministic() {
    let run = || {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut e = Engine::new(
            EngineConfig::default(),
            vec![Box::new(Recorder(seen.clone()))],
        );
        for i in 0..50u16 {
            clean_exchange(&mut e, Nanos::from(i) * 7 * MS, 42000 + i);
            feed(
                &mut e,
                Nanos::from(i) * 7 * MS + 3 * MS,
                &tcp(S, 80, C, 42000 + i, 901, 101, RST, 0, 50, 8),
            );
        }
        e.finish();
        let mut ev = vec![];
        e.drain_events(|x| ev.push(x.to_json_line()));
        let ends = seen.lock().unwrap().ends.clone();
        (e.stats().clone(), ev, ends)
    };
    assert_eq!(run(), run());
}

#[test]
fn shard_key_is_per_server() {
    let key = |b: Vec<u8>| shard_key(&crate::decode::decode(linktype::RAW, &b, 0, 0).unwrap());
    let a = key(tcp(C, 40000, S, 443, 1, 0, SYN, 0, 64, 0));
    let b = key(tcp(S, 443, C, 40000, 1, 0, SYN | ACK, 0, 64, 0));
    let other_client = key(tcp([192, 0, 2, 99], 51234, S, 443, 1, 0, SYN, 0, 64, 0));
    let other_server = key(tcp(C, 40000, [203, 0, 113, 6], 443, 1, 0, SYN, 0, 64, 0));
    assert_eq!(a, b);
    assert_eq!(a, other_client);
    assert_ne!(a, other_server);
}

#[test]
fn capture_drops_mark_events_lossy() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut e = Engine::new(EngineConfig::default(), vec![Box::new(Recorder(seen))]);
    feed(&mut e, 0, &tcp(C, 40040, S, 80, 100, 0, SYN, 0, 64, 1));
    e.note_kernel_drops(12);
    feed(
        &mut e,
        20 * MS,
        &tcp(S, 80, C, 40040, 900, 101, SYN | ACK, 0, 50, 7),
    );
    feed(
        &mut e,
        30 * MS,
        &tcp(S, 80, C, 40040, 901, 101, RST, 0, 50, 8),
    );
    let mut ev = vec![];
    e.drain_events(|x| ev.push(x));
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].evidence["capture_lossy"],
        serde_json::Value::Bool(true)
    );
    assert!((ev[0].confidence - 0.45).abs() < 1e-9);
}

#[test]
fn sharded_engines_agree_with_one() {
    // Flows to three servers, with 4-tuples reused after long idle gaps
    // (a new flow each time), fed to one engine and to two shards.
    let mut packets = vec![];
    for round in 0..3i64 {
        for (k, srv) in [[203, 0, 113, 5], [203, 0, 113, 6], [198, 51, 100, 7]]
            .into_iter()
            .enumerate()
        {
            let t = round * 400 * SECOND + k as i64 * 3 * SECOND;
            let cport = 43000 + (k as u16);
            let isn = 100 + round as u32 * 1000;
            packets.push((t, tcp(C, cport, srv, 80, isn, 0, SYN, 0, 64, 1)));
            // a retransmitted SYN (same ISN) is the same flow
            packets.push((t + 5 * MS, tcp(C, cport, srv, 80, isn, 0, SYN, 0, 64, 1)));
            packets.push((
                t + 20 * MS,
                tcp(srv, 80, C, cport, 900, isn + 1, SYN | ACK, 0, 50, 7),
            ));
            packets.push((
                t + 21 * MS,
                tcp(C, cport, srv, 80, isn + 1, 901, PSH | ACK, 10, 64, 2),
            ));
            packets.push((t + 22 * MS, udp(C, 6000, srv, 53, 20)));
        }
    }
    packets.sort_by_key(|p| p.0);
    let mut one = Engine::new(EngineConfig::default(), vec![]);
    let mut two = [
        Engine::new(EngineConfig::default(), vec![]),
        Engine::new(EngineConfig::default(), vec![]),
    ];
    for (t, b) in &packets {
        feed(&mut one, *t, b);
        let k = shard_of_frame(linktype::RAW, b).unwrap();
        feed(&mut two[(k % 2) as usize], *t, b);
    }
    one.finish();
    let mut merged = Stats::default();
    for e in two.iter_mut() {
        e.finish();
        merged.merge(e.stats());
    }
    assert_eq!(one.stats(), &merged);
    // 400 s gaps: TCP flows are replaced by the new SYN (port reuse), UDP
    // flows (30 s timeout) expired in between.
    assert_eq!(one.stats().flows_started[FlowProto::Tcp.idx()], 9);
    assert_eq!(one.stats().flows_started[FlowProto::Udp.idx()], 3 * 3);
}

#[test]
fn fast_shard_agrees_with_the_decoder() {
    // raw IPv4 TCP/UDP, with Ethernet and VLAN framing, IPv6, and frames
    // the fast path leaves to the decoder (ICMP, options)
    let mut frames = vec![];
    for b in [
        tcp(C, 40000, S, 443, 1, 0, SYN, 10, 64, 0),
        udp(S, 53, C, 5000, 30),
    ] {
        frames.push((linktype::RAW, b.clone()));
        let mut eth = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0, 0, 100, 0x08, 0];
        eth.extend(&b);
        frames.push((linktype::ETHERNET, eth));
    }
    let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    v6.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend([0x13, 0x88, 0, 53, 0, 8, 0, 0]);
    frames.push((linktype::RAW, v6));
    // Ties: equal ranks decide by port, equal ports by address (both
    // directions, both families, addresses whose order flips between their
    // first and last bytes).
    let v6_udp = |a: [u8; 16], pa: u16, b: [u8; 16], pb: u16| {
        let mut f = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        f.extend(a);
        f.extend(b);
        f.extend(pa.to_be_bytes());
        f.extend(pb.to_be_bytes());
        f.extend([0, 8, 0, 0]);
        f
    };
    let (x6, y6) = (
        [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff],
        [0x20, 1, 0x0d, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    let (x4, y4) = ([192, 0, 2, 200], [198, 51, 100, 1]);
    for (pa, pb) in [
        (5000, 5000),
        (5000, 6000),
        (6000, 5000),
        (443, 443),
        (80, 443),
        (443, 80),
    ] {
        for (a4, b4, a6, b6) in [(x4, y4, x6, y6), (y4, x4, y6, x6)] {
            frames.push((linktype::RAW, tcp(a4, pa, b4, pb, 1, 0, SYN, 0, 64, 0)));
            frames.push((linktype::RAW, udp(a4, pa, b4, pb, 8)));
            frames.push((linktype::RAW, v6_udp(a6, pa, b6, pb)));
        }
    }
    for (lt, f) in &frames {
        let full = shard_key(&crate::decode::decode(*lt, f, 0, 0).unwrap());
        assert_eq!(fast_shard(*lt, f), Some(full));
        assert_eq!(shard_of_frame(*lt, f), Some(full));
    }
    // truncated frames never panic
    for (lt, f) in &frames {
        for cut in 0..f.len() {
            let _ = shard_of_frame(*lt, &f[..cut]);
        }
    }
}

/// A TCP segment carrying `payload`.
fn tcp_data(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = tcp(
        src,
        sport,
        dst,
        dport,
        seq,
        1,
        ACK | PSH,
        payload.len(),
        64,
        1,
    );
    let at = b.len() - payload.len();
    b[at..].copy_from_slice(payload);
    b
}

#[test]
fn clienthello_reassembly_buffers_are_bounded() {
    // Flows (picked up mid-stream, as a flood of spoofed data segments
    // would make them) whose ClientHello is cut in two: only
    // `max_hello_buffers` of them may be reassembling at once.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cfg = EngineConfig {
        max_hello_buffers: 3,
        ..EngineConfig::default()
    };
    let mut e = Engine::new(cfg, vec![Box::new(Recorder(seen.clone()))]);
    let mut rng = tw_scenario::Rng::new(7);
    let hello = tw_scenario::tls::client_hello("cut.example", &mut rng);
    assert!(hello.len() > 100);
    let (head, tail) = hello.split_at(40);
    // five flows send their first part: three get a buffer
    for p in 0..5u16 {
        feed(
            &mut e,
            MS * u64::from(p) as i64,
            &tcp_data(C, 41000 + p, S, 443, 1000, head),
        );
    }
    assert_eq!(e.sh.hello_buffers, 3);
    assert_eq!(e.stats().hello_buffers_exhausted, 2, "two refused, counted");
    // all five send the rest: the three buffered ones are read, which frees
    // their buffers
    for p in 0..5u16 {
        feed(
            &mut e,
            10 * MS + MS * i64::from(p),
            &tcp_data(C, 41000 + p, S, 443, 1000 + head.len() as u32, tail),
        );
    }
    assert_eq!(e.sh.hello_buffers, 0);
    // a new flow gets a buffer again
    feed(&mut e, 20 * MS, &tcp_data(C, 41010, S, 443, 1000, head));
    assert_eq!(e.sh.hello_buffers, 1);
    // and a flow that ends while reassembling gives its buffer back
    e.finish();
    assert_eq!(e.sh.hello_buffers, 0);
    let mut got = seen.lock().unwrap().targets.clone();
    got.sort();
    let named: Vec<u16> = got
        .iter()
        .filter(|(_, t)| t.as_deref() == Some("cut.example"))
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(named, vec![41000, 41001, 41002], "{got:?}");
}

#[test]
fn direction_state_keeps_optional_values() {
    // The presence bits of `DirState`: set when seen, first value kept.
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    feed(&mut e, 0, &tcp(C, 40100, S, 80, 100, 0, SYN, 0, 64, 1));
    feed(
        &mut e,
        MS,
        &tcp(S, 80, C, 40100, 900, 101, SYN | ACK, 0, 50, 7),
    );
    feed(
        &mut e,
        2 * MS,
        &tcp(C, 40100, S, 80, 101, 901, ACK, 0, 64, 2),
    );
    let (key, _) = FlowKey::new(6, C.into(), 40100, S.into(), 80);
    let at = |e: &mut Engine| {
        let slot = e.tables.find(&key).expect("tracked");
        let f = e.tables.flow_mut(slot).expect("flow");
        (f.dirs[0], f.dirs[1])
    };
    let (c, s) = at(&mut e);
    assert_eq!((c.isn(), s.isn()), (Some(100), Some(900)));
    assert_eq!((c.first_payload(), c.fin_seen()), (None, false));
    // no TCP options in these segments
    assert_eq!(c.wscale(), None);
    feed(
        &mut e,
        3 * MS,
        &tcp(C, 40100, S, 80, 101, 901, ACK | PSH, 10, 64, 3),
    );
    feed(
        &mut e,
        4 * MS,
        &tcp(C, 40100, S, 80, 101, 901, ACK | PSH, 10, 64, 4),
    );
    feed(
        &mut e,
        5 * MS,
        &tcp(C, 40100, S, 80, 111, 901, FIN | ACK, 0, 64, 5),
    );
    feed(
        &mut e,
        6 * MS,
        &tcp(S, 80, C, 40100, 901, 112, RST, 0, 50, 8),
    );
    feed(
        &mut e,
        7 * MS,
        &tcp(S, 80, C, 40100, 901, 112, RST, 0, 50, 9),
    );
    let (c, s) = at(&mut e);
    assert_eq!(c.first_payload(), Some((T0 + 3 * MS, 101)), "the first one");
    assert_eq!(c.next_seq, 112, "past the FIN, the retransmission aside");
    assert!(c.fin_seen());
    assert_eq!(c.payload_bytes, 20);
    assert_eq!((s.first_payload(), s.fin_seen()), (None, false));
    let f = {
        let slot = e.tables.find(&key).expect("tracked");
        e.tables.flow_mut(slot).expect("flow").first_rst
    };
    assert_eq!(f, Some(Dir::ToClient), "the server reset first");
    assert_eq!((c.ttl_max, s.ttl_max), (64, 50));
    assert_eq!(c.isn(), Some(100));
    // A SYN with MSS, window scale and timestamps.
    let mut syn = tcp(C, 40101, S, 80, 500, 0, SYN, 0, 64, 1);
    syn[3] += 20; // IP total length
    syn[32] = 0xa0; // TCP header of 40 bytes
    syn.extend([
        2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 0,
    ]);
    feed(&mut e, 8 * MS, &syn);
    let (key, _) = FlowKey::new(6, C.into(), 40101, S.into(), 80);
    let slot = e.tables.find(&key).expect("tracked");
    let c = e.tables.flow_mut(slot).expect("flow").dirs[0];
    assert_eq!(c.wscale(), Some(7));
    assert_eq!((c.isn(), c.first_payload()), (Some(500), None));
}

/// A DNS flow keeps one query record per query it asked (up to
/// `QUERIES_PER_FLOW`), not the four a growing `Vec` reserves at its first
/// push for elements of this size: most flows ask once. Reserving four made
/// the 2M-packet benchmark's peak RSS 102 MB instead of 75 MB.
#[test]
fn a_dns_flow_holds_one_query_record_per_query() {
    use crate::detectors::dns::QUERIES_PER_FLOW;
    let mut e = Engine::new(
        EngineConfig::default(),
        crate::detectors::default_detectors(&crate::detectors::DetectorsConfig::default()),
    );
    let query = |id: u16, name: &str| {
        let dns = tw_scenario::dns::query(id, name, 1, false);
        let mut b = udp(C, 40_000, S, 53, dns.len());
        let at = b.len() - dns.len();
        b[at..].copy_from_slice(&dns);
        b
    };
    let (key, _) = crate::flow::FlowKey::new(17, C.into(), 40_000, S.into(), 53);
    for n in 1..=QUERIES_PER_FLOW + 2 {
        feed(
            &mut e,
            n as Nanos * MS,
            &query(n as u16, &format!("q{n}.example")),
        );
        let slot = e.tables.find(&key).expect("the DNS flow");
        let flow = e.tables.flow_mut(slot).expect("its state");
        let dns = flow.ext.dns.as_ref().expect("its queries");
        let held = n.min(QUERIES_PER_FLOW);
        assert_eq!(dns.queries.len(), held, "after {n} queries");
        assert_eq!(dns.queries.capacity(), held, "after {n} queries");
    }
}

/// An HTTP flow keeps the first `BODY_KEEP` bytes of its response in a buffer
/// of exactly that size, whatever the segments: a first segment of 1,448
/// bytes and a second used to double the buffer to 2,896.
#[test]
fn an_http_response_is_kept_in_body_keep_bytes() {
    use crate::detectors::http::BODY_KEEP;
    let mut e = Engine::new(
        EngineConfig::default(),
        crate::detectors::default_detectors(&crate::detectors::DetectorsConfig::default()),
    );
    let cp = 40_001;
    feed(&mut e, 0, &tcp(C, cp, S, 80, 100, 0, SYN, 0, 64, 1));
    feed(
        &mut e,
        MS,
        &tcp(S, 80, C, cp, 900, 101, SYN | ACK, 0, 50, 7),
    );
    feed(&mut e, 2 * MS, &tcp(C, cp, S, 80, 101, 901, ACK, 0, 64, 2));
    let req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    feed(&mut e, 3 * MS, &tcp_data(C, cp, S, 80, 101, req));
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".to_vec();
    resp.resize(1448, b'x');
    let mut seq = 901u32;
    let (key, _) = crate::flow::FlowKey::new(6, C.into(), cp, S.into(), 80);
    for (i, want) in [(0, 1448), (1, BODY_KEEP), (2, BODY_KEEP)] {
        feed(&mut e, (10 + i) * MS, &tcp_data(S, 80, C, cp, seq, &resp));
        seq = seq.wrapping_add(resp.len() as u32);
        let slot = e.tables.find(&key).expect("the HTTP flow");
        let flow = e.tables.flow_mut(slot).expect("its state");
        let h = flow.ext.http.as_ref().expect("an HTTP request was seen");
        let first = h.first.as_ref().expect("the response");
        assert_eq!(first.bytes.len(), want, "after segment {i}");
        assert_eq!(first.bytes.capacity(), want, "after segment {i}");
    }
}

/// Looking a flow up ahead of its frame (`lookup_hash`, then the prefetches)
/// asks for the slot the frame's flow is in: the hash is the one the table
/// files the flow under, from either direction. Were it another (ports
/// swapped, another key), the prefetch would fetch the wrong line and the
/// replay would be no faster, with nothing else to show it.
#[test]
fn lookahead_asks_for_the_flows_own_slot() {
    let mut e = Engine::new(EngineConfig::default(), vec![]);
    let frames = [
        tcp(C, 40_100, S, 443, 100, 0, SYN, 0, 64, 1),
        tcp(S, 443, C, 40_100, 900, 101, SYN | ACK, 0, 50, 7),
        tcp(C, 40_100, S, 443, 101, 901, ACK, 0, 64, 2),
        tcp_data(C, 40_100, S, 443, 101, b"\x16\x03\x01\x00\x05hello"),
        tcp(S, 443, C, 40_100, 901, 112, ACK, 0, 50, 8),
    ];
    // other flows, so that the right slot is not the only one
    for p in 0..50u16 {
        feed(&mut e, 0, &udp(C, 50_000 + p, S, 53, 30));
    }
    let (key, _) = crate::flow::FlowKey::new(6, C.into(), 40_100, S.into(), 443);
    for (i, f) in frames.iter().enumerate() {
        let h = e.lookup_hash(linktype::RAW, f).expect("a TCP frame");
        // the prefetches change nothing
        e.prefetch_index(h);
        e.prefetch_flow(h);
        if i > 0 {
            assert_eq!(e.tables.candidate(h), e.tables.find(&key), "frame {i}");
        }
        feed(&mut e, (i as Nanos + 1) * MS, f);
        assert_eq!(e.tables.candidate(h), e.tables.find(&key), "frame {i}");
        assert!(e.tables.find(&key).is_some());
    }
    // not TCP or UDP: nothing to look up
    let mut icmp = udp(C, 1, S, 2, 8);
    icmp[9] = 1;
    assert_eq!(e.lookup_hash(linktype::RAW, &icmp), None);
}

/// A server's entry (its baselines) goes an hour after its last packet, at
/// the first sweep point (a multiple of a minute) past that, whatever the
/// table's fill; a full table makes room by evicting its least recently
/// seen entry, and counts it.
#[test]
fn a_silent_servers_entry_goes_after_an_hour_and_a_full_table_counts_evictions() {
    let cfg = EngineConfig {
        max_servers: 2,
        ..EngineConfig::default()
    };
    let mut e = Engine::new(cfg, vec![]);
    let servers = [[203, 0, 113, 1], [203, 0, 113, 2], [203, 0, 113, 3]];
    for (i, s) in servers.iter().enumerate() {
        let t = i as i64 * SECOND;
        feed(
            &mut e,
            t,
            &tcp(C, 40000 + i as u16, *s, 443, 1, 0, SYN, 0, 64, 1),
        );
    }
    assert_eq!(e.stats().server_evictions, 1, "the third evicted the first");
    assert_eq!(e.sh.servers.len(), 2);
    assert!(e.sh.servers.peek(&IpAddr::from(servers[0])).is_none());
    // The SYNs go unanswered; when their flows end (75 s) each reads its
    // server's entry, the first making room again.
    e.tick(T0 + 100 * SECOND);
    let evicted = e.stats().server_evictions;
    assert!(evicted >= 2, "{evicted}");
    assert_eq!(e.sh.servers.len(), 2);
    // The last packets came at T0 + 1 s and T0 + 2 s: both entries go at
    // the first sweep point (a multiple of a minute) more than an hour after
    // T0 + 2 s (here the same one for both), not a nanosecond before it.
    let due = T0 + 2 * SECOND + SERVER_IDLE;
    let g = due - due.rem_euclid(SERVER_SWEEP_EVERY) + SERVER_SWEEP_EVERY;
    assert!(g - (T0 + SECOND) > SERVER_IDLE && g - SERVER_SWEEP_EVERY <= due);
    e.tick(g - 1);
    assert_eq!(e.sh.servers.len(), 2);
    e.tick(g);
    assert_eq!(e.sh.servers.len(), 0);
    assert_eq!(
        e.stats().server_evictions,
        evicted,
        "idle entries go uncounted"
    );
    // a server heard from again gets a fresh entry
    let t = g - T0 + SECOND;
    feed(
        &mut e,
        t,
        &tcp(C, 40009, servers[1], 443, 1, 0, SYN, 0, 64, 1),
    );
    let s = e.sh.servers.peek(&IpAddr::from(servers[1])).unwrap();
    assert_eq!((s.flows, s.first_seen), (1, T0 + t));
}
