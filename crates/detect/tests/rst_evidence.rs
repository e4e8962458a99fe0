//! The RST detector's evidence fields agree with each other (found in
//! review, session 16).

use std::net::{Ipv4Addr, SocketAddr};
use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::{linktype, Endpoint, Injection, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;

/// Replays `tl` through an engine with the default detectors; the events as JSON.
fn run(tl: Timeline) -> Vec<serde_json::Value> {
    let dets = default_detectors(&DetectorsConfig::default());
    let mut engine = Engine::new(EngineConfig::default(), dets);
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    let mut f = Vec::new();
    for e in &entries {
        e.frame_into(&mut f, linktype::ETHERNET).unwrap();
        engine.process_frame(linktype::ETHERNET, &f, e.ts_ns, f.len() as u32);
    }
    engine.finish();
    let mut out = vec![];
    engine.drain_events(|e| out.push(serde_json::to_value(&e).unwrap()));
    out
}

/// `ttl_difference` is the distance from the RST's TTL to the server's
/// range; `ttl_server` was the server's *last* TTL, so with a server whose
/// TTLs varied in the flow the three fields disagreed. It is now the edge
/// of the range nearest the RST's, on either side.
#[test]
fn rst_ttl_evidence_fields_agree() {
    for (rst_ttl, edge) in [(58u8, 54i64), (47, 52)] {
        let mut tl = Timeline::new();
        let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), 52001));
        let srv = Endpoint::server(SocketAddr::new(Ipv4Addr::new(203, 0, 113, 34).into(), 80))
            .with_ttl(54);
        let mut s = TcpSession::new(c, srv);
        // SYN/ACK at TTL 54, then the response's first bytes at TTL 52 (two
        // frontends two hops apart, tolerated: the range is 52..54)
        let t = s.handshake(&mut tl, T0, 80 * MS);
        let t = s.client_send(
            &mut tl,
            t + MS,
            b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
        );
        s.server.ttl = 52;
        let t = s.server_send(&mut tl, t + 80 * MS, &[b'x'; 100]);
        s.client_ack(&mut tl, t + MS);
        // a forged RST, then the server's data goes on (data_after_rst)
        s.inject_from_server(&mut tl, t + 2 * MS, &Injection::rst_ack().ttl(rst_ttl));
        s.server_send(&mut tl, t + 40 * MS, &[b'y'; 100]);
        let ev = run(tl);
        let rst: Vec<_> = ev
            .iter()
            .filter(|e| e["signature"] == "rst_injection")
            .collect();
        assert_eq!(rst.len(), 1, "{ev:?}");
        let e = &rst[0]["evidence"];
        let server = e["ttl_server"].as_i64().unwrap();
        assert_eq!(server, edge, "{e}");
        assert_eq!(e["ttl_rst"].as_i64().unwrap(), i64::from(rst_ttl));
        assert_eq!(
            e["ttl_difference"].as_i64().unwrap(),
            (i64::from(rst_ttl) - server).abs(),
            "{e}"
        );
    }
}
