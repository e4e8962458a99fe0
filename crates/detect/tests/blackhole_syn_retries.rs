//! A client retrying a port that drops its SYNs is not residual blocking
//! (found by the sixth red-team review, session 20).
//!
//! Four BitTorrent peers share one address (a carrier-grade NAT): one is
//! reachable on port 51413, the others' ports drop SYNs. The client retries
//! every peer every 30 s. The first failure on each port is the documented
//! `syn_unanswered` look-alike (a port the server's own firewall drops,
//! 0.7); each event then opened a residual window on its own (client,
//! server, port), and every retry became 0.85 "residual blocking". A
//! SYN-stage event opens no window now: such a port is blocked, or closed,
//! whether or not a window is open.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{Endpoint, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 60 * MS;

fn session(cport: u16, sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::new(192, 0, 2, 10).into(), cport));
    let s = Endpoint::server(SocketAddr::new(
        Ipv4Addr::new(198, 51, 100, 77).into(),
        sport,
    ));
    TcpSession::new(c, s)
}

#[test]
fn retries_to_a_port_that_drops_syns_stay_at_first_strength() {
    let mut tl = Timeline::new();
    let mut cport = 40_000u16;
    for round in 0..3i64 {
        let t = T0 + round * 30 * S;
        // the reachable peer: a short exchange, closed
        let mut ok = session(cport, 51_413);
        cport += 1;
        let t1 = ok.handshake(&mut tl, t + 1_500 * MS, RTT);
        let t1 = ok.client_send(&mut tl, t1 + MS, b"\x13BitTorrent protocol");
        let t1 = ok.server_send(&mut tl, t1 + RTT, b"\x13BitTorrent protocol");
        ok.close(&mut tl, t1 + MS, RTT);
        // the unreachable ones: three SYNs each, unanswered
        for port in [6_881u16, 6_882] {
            let mut s = session(cport, port);
            cport += 1;
            s.syn(&mut tl, t + S);
            for k in [1, 3] {
                s.retransmit_client_last(&mut tl, t + S + k * S);
            }
        }
    }
    // flows end in order
    let mut s = session(cport, 443);
    let t = s.handshake(&mut tl, T0 + 400 * S, RTT);
    s.close(&mut tl, t + 10 * MS, RTT);
    let ev = common::events_of(tl, "blackhole");
    assert_eq!(ev.len(), 6, "{ev:?}");
    for e in &ev {
        assert_eq!(e["evidence"]["stage"], "syn", "{e}");
        assert_eq!(e["evidence"]["residual"], false, "{e}");
        assert_eq!(e["confidence"], 0.7, "{e}");
    }
}
