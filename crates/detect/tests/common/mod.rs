//! What the scenario tests share: a timeline through an engine.

use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::{linktype, Timeline};

/// Replays `tl` (in time order, as Ethernet frames) through an engine with
/// the detectors of `cfg`, to its end: the engine (for its counters) and
/// the events as JSON (each also printed, for a failing test's output).
pub fn replay_with(tl: Timeline, cfg: &DetectorsConfig) -> (Engine, Vec<serde_json::Value>) {
    replay_through(
        Engine::new(EngineConfig::default(), default_detectors(cfg)),
        tl,
    )
}

/// [`replay_with`] through a given engine.
pub fn replay_through(mut engine: Engine, tl: Timeline) -> (Engine, Vec<serde_json::Value>) {
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    let mut f = Vec::new();
    for e in &entries {
        e.frame_into(&mut f, linktype::ETHERNET).unwrap();
        engine.process_frame(linktype::ETHERNET, &f, e.ts_ns, f.len() as u32);
    }
    engine.finish();
    let mut out = vec![];
    engine.drain_events(|e| {
        let v = serde_json::to_value(&e).unwrap();
        eprintln!("event: {v}");
        out.push(v);
    });
    (engine, out)
}

/// [`replay_with`] the default detectors.
pub fn replay(tl: Timeline) -> (Engine, Vec<serde_json::Value>) {
    replay_with(tl, &DetectorsConfig::default())
}

/// The events of one signature from [`replay`].
#[allow(dead_code)]
pub fn events_of(tl: Timeline, signature: &str) -> Vec<serde_json::Value> {
    replay_of(tl, signature).1
}

/// [`replay`], keeping the events of one signature (and the engine, for
/// its counters).
#[allow(dead_code)]
pub fn replay_of(tl: Timeline, signature: &str) -> (Engine, Vec<serde_json::Value>) {
    let (e, ev) = replay(tl);
    let ev = ev
        .into_iter()
        .filter(|e| e["signature"] == signature)
        .collect();
    (e, ev)
}

/// The DNS tests' resolver, 203.0.113.53, asked by the client 192.0.2.10
/// from `port`; its answers arrive with IP TTL `ttl`.
#[allow(dead_code)]
pub fn resolver(port: u16, ttl: u8) -> tw_scenario::DnsExchange {
    use std::net::{Ipv4Addr, SocketAddr};
    let c =
        tw_scenario::Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), port));
    let r =
        tw_scenario::Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 53).into(), 53))
            .with_ttl(ttl);
    tw_scenario::DnsExchange::new(c, r)
}

/// An A lookup of `name` from a new socket on `port` at `t`, answered with
/// `addr` by [`resolver`] over `(ttl, rtt)`: the answer's time.
#[allow(dead_code)]
pub fn lookup_a(
    tl: &mut Timeline,
    port: u16,
    t: i64,
    name: &str,
    addr: std::net::Ipv4Addr,
    (ttl, rtt): (u8, i64),
) -> i64 {
    use tw_scenario::dns::{qtype, Rr};
    resolver(port, ttl)
        .exchange(tl, t, port, name, qtype::A, &[Rr::a(name, 300, addr)], rtt)
        .unwrap()
}

/// `n` engines with the default detectors sharing one throttling judge, as
/// the pipeline's workers do (worker `w` is the `w`th).
#[allow(dead_code)]
pub fn workers_sharing_judge(n: usize) -> Vec<Engine> {
    let cfg = DetectorsConfig::default();
    let judge = tw_detect::detectors::throttle::SharedJudge::new(
        cfg.throttle.clone(),
        cfg.watch.clone(),
        n,
    );
    (0..n)
        .map(|w| {
            let mut e = Engine::new(
                EngineConfig {
                    detectors: cfg.clone(),
                    ..EngineConfig::default()
                },
                default_detectors(&cfg),
            );
            e.share_judge(judge.clone(), w);
            e
        })
        .collect()
}

/// A TCP session from the client 192.0.2.10, port `cport`, to `server`'s
/// port `sport`, whose packets arrive with IP TTL `ttl` (timestamps on).
#[allow(dead_code)]
pub fn session_with_ttl(
    server: [u8; 4],
    cport: u16,
    sport: u16,
    ttl: u8,
) -> tw_scenario::TcpSession {
    use std::net::{Ipv4Addr, SocketAddr};
    let c =
        tw_scenario::Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = tw_scenario::Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport))
        .with_ttl(ttl);
    tw_scenario::TcpSession::new(c, s)
        .with_timestamps(tw_scenario::session::TsClock::khz(0x1000_0000, 0x7000_0000))
}

/// SYNs from 192.0.2.10 to `server`'s port 443 never answered (four, at 0,
/// 1, 3 and 7 s after `t`: a client's connect timeout).
#[allow(dead_code)]
pub fn https_dropped(tl: &mut Timeline, server: [u8; 4], cport: u16, t: i64) {
    let mut s = session_with_ttl(server, cport, 443, 51);
    s.syn(tl, t);
    for k in [1, 3, 7] {
        s.retransmit_client_last(tl, t + k * 1_000_000_000);
    }
}

/// A download over `s` from `t0` (handshake over `rtt`, a GET): 40 chunks
/// of 4 KB, one every 10 ms, each acknowledged by the client; from chunk
/// 20 on, each ACK is answered `after` it by `rst` (the first eight) while
/// the server's data goes on (a firewall at the server's end banning the
/// client: see `rst_server_reject.rs`).
#[allow(dead_code)]
pub fn banned_download(
    mut s: tw_scenario::TcpSession,
    t0: i64,
    rtt: i64,
    after: i64,
    rst: &tw_scenario::Injection,
) -> Timeline {
    const MS: i64 = 1_000_000;
    let mut tl = Timeline::new();
    let t = s.handshake(&mut tl, t0, rtt);
    let get = tw_scenario::http::get("site.example", "/big");
    let mut t = s.client_send(&mut tl, t + MS, &get) + rtt;
    for i in 0..40 {
        let sent = s.server_send(&mut tl, t, &[0x41; 4096]);
        let acked = s.client_ack(&mut tl, sent + MS);
        if (20..28).contains(&i) {
            // (its seq: what this ACK acknowledged, all the server sent)
            s.inject_from_server(&mut tl, acked + after, rst);
        }
        t += 10 * MS;
    }
    tl
}
