//! Multipath TCP subflows (second red-team review, session 26).
//!
//! An MPTCP connection (Linux with `net.mptcp.enabled`, curl `--mptcp`,
//! Apple's Siri and Maps) adds subflows with `MP_JOIN` SYNs: over a second
//! interface (a laptop's LTE modem beside its Wi-Fi), or to an address or
//! port the server announced. When a subflow's path fails (the modem in a
//! coverage hole) its data is retransmitted unanswered while the connection
//! carries on over the others: `request_retransmitted` +
//! `server_silent_after_request` at 0.85 when tamperwatch captures both
//! interfaces; a port the server announced and its own firewall drops gave
//! `syn_unanswered` at 0.7 per connection. Such subflows are not judged; the
//! connection's first subflow (`MP_CAPABLE`) is, like any connection.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use tw_scenario::{Endpoint, TcpOpt, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

/// MP_JOIN on a SYN: subtype 1, address ID 2, the token, a random number.
fn mp_join() -> TcpOpt {
    TcpOpt::Raw(30, vec![0x10, 2, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7])
}

fn session(client: Ipv4Addr, cport: u16, sport: u16, join: bool) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(client.into(), cport));
    let s = Endpoint::server(SocketAddr::new(SERVER.into(), sport));
    let s = TcpSession::new(c, s);
    if join {
        s.with_syn_option(mp_join())
    } else {
        s
    }
}

/// The connection's first subflow over Wi-Fi, answered; a second subflow
/// from the LTE address (`join`: with MP_JOIN) whose 310-byte chunk is
/// sent six times and never acknowledged; other servers answering
/// meanwhile (the link works).
fn dark_subflow(join: bool) -> Timeline {
    let mut tl = Timeline::new();
    let mut wifi = session(Ipv4Addr::new(192, 0, 2, 23), 38_000, 443, false);
    let t = wifi.handshake(&mut tl, T0, RTT);
    let t = wifi.client_send(&mut tl, t + MS, &[0x17; 517]);
    let t = wifi.server_send(&mut tl, t + RTT, &[0x17; 4000]);
    let mut lte = session(Ipv4Addr::new(198, 18, 5, 9), 38_544, 443, join);
    let t = lte.handshake(&mut tl, t + 100 * MS, 2 * RTT);
    let sent = lte.client_send(&mut tl, t + 3 * S, &[0x17; 310]);
    let mut rto = 300 * MS;
    let mut at = sent;
    for _ in 0..6 {
        at += rto;
        lte.retransmit_client_last(&mut tl, at);
        rto *= 2;
    }
    // the Wi-Fi subflow carries the data on, and other sites load
    let t = wifi.client_send(&mut tl, sent + 10 * MS, &[0x17; 310]);
    let t = wifi.server_send(&mut tl, t + RTT, &[0x17; 2000]);
    wifi.close(&mut tl, t + 30 * S, RTT);
    other_sites(&mut tl, sent, 39_000);
    tl
}

/// Eight other sites loading, one every 2 s from `t`: the link works.
fn other_sites(tl: &mut Timeline, t: i64, port0: u16) {
    for i in 0..8u16 {
        let mut other = TcpSession::new(
            Endpoint::client(SocketAddr::new(
                Ipv4Addr::new(192, 0, 2, 23).into(),
                port0 + i,
            )),
            Endpoint::server(SocketAddr::new(
                Ipv4Addr::new(198, 51, 100, 40 + i as u8).into(),
                443,
            )),
        );
        let t = other.handshake(tl, t + i64::from(i) * 2 * S, RTT);
        let t = other.client_send(tl, t + MS, &[0x17; 400]);
        let t = other.server_send(tl, t + RTT, &[0x17; 1500]);
        other.close(tl, t + MS, RTT);
    }
}

/// Port 443 answers; the server announced port 10443 (ADD_ADDR with a
/// port), which its own firewall drops: the client's three SYNs to it
/// (`join`: with MP_JOIN).
fn announced_port_dropped(join: bool) -> Timeline {
    let mut tl = Timeline::new();
    let c = Ipv4Addr::new(192, 0, 2, 23);
    let mut main = session(c, 38_100, 443, false);
    let t = main.handshake(&mut tl, T0, RTT);
    let t = main.client_send(&mut tl, t + MS, &[0x17; 517]);
    let t = main.server_send(&mut tl, t + RTT, &[0x17; 3000]);
    let mut sub = session(c, 38_101, 10_443, join);
    sub.syn(&mut tl, t + 10 * MS);
    for k in [1, 3] {
        sub.retransmit_client_last(&mut tl, t + 10 * MS + k * S);
    }
    other_sites(&mut tl, t + 10 * MS, 39_100);
    main.close(&mut tl, t + 20 * S, RTT);
    tl
}

/// Without MP_JOIN each is an event (the scenarios have the shape of a
/// block); with it, none. (Failed before: 0.85 and 0.7.)
#[test]
fn a_lost_subflow_is_not_judged() {
    for (name, scenario) in [
        ("dark subflow", dark_subflow as fn(bool) -> Timeline),
        ("announced port dropped", announced_port_dropped),
    ] {
        let plain = common::events_of(scenario(false), "blackhole");
        assert_eq!(plain.len(), 1, "{name} without MP_JOIN: {plain:#?}");
        let joined = common::events_of(scenario(true), "blackhole");
        assert!(joined.is_empty(), "{name}: {joined:#?}");
    }
}
