//! A scan of the vantage point's own address is not blocking (session 22;
//! the tenth red-team review, at a gateway).
//!
//! A router's WAN address (or a host's global IPv6 address) is scanned
//! from the Internet all day. A scanner that retries its SYNs to a port the
//! firewall drops, while a port forward (a torrent client) answers on
//! another port, has exactly the shape of port blocking, with the vantage
//! point as the "server": `syn_unanswered` + `same_server_other_port`, 0.7,
//! one event per port. Knowing its own addresses (a live run reads its
//! interfaces'; a replay takes `[vantage] local_addresses`), the detector
//! counts such failures (`tamperwatch_blackhole_inbound_total`) instead.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::{Endpoint, TcpSession, Timeline};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const T0: i64 = 1_700_000_000 * S;
const RTT: i64 = 40 * MS;

/// The gateway's public address.
const GATEWAY: [u8; 4] = [198, 18, 0, 2];

fn session(client: [u8; 4], cport: u16, server: [u8; 4], sport: u16) -> TcpSession {
    let c = Endpoint::client(SocketAddr::new(Ipv4Addr::from(client).into(), cport));
    let s = Endpoint::server(SocketAddr::new(Ipv4Addr::from(server).into(), sport));
    TcpSession::new(c, s)
}

/// A peer's connection to the forwarded port at `t`, with data both ways.
fn forwarded(tl: &mut Timeline, t: i64) {
    let mut s = session([203, 0, 113, 60], 40_000, GATEWAY, 51413);
    let t = s.handshake(tl, t, RTT);
    let t = s.client_send(tl, t + MS, &[0x13; 68]);
    let t = s.server_send(tl, t + RTT, &[0x13; 68]);
    s.close(tl, t + MS, RTT);
}

/// A scanner's SYNs to `port` of `server` at `t`, retried at 1, 3 and 7 s,
/// never answered.
fn scanned(tl: &mut Timeline, server: [u8; 4], port: u16, t: i64) {
    let mut s = session([203, 0, 113, 50], 50_000 + port, server, port);
    s.syn(tl, t);
    for d in [1, 3, 7] {
        s.retransmit_client_last(tl, t + d * S);
    }
}

/// A connection a long while later, so that every flow ends in order.
fn later(tl: &mut Timeline, t: i64) {
    let mut s = session([192, 0, 2, 10], 41_000, [203, 0, 113, 80], 443);
    let t = s.handshake(tl, t, RTT);
    s.close(tl, t + 10 * MS, RTT);
}

/// The blackhole events and the inbound count, with `local` as the
/// configured addresses (`live`: handed in as a live capture does instead).
fn replay(tl: Timeline, local: &[IpAddr], live: bool) -> (Vec<serde_json::Value>, u64) {
    let cfg = EngineConfig {
        local_addresses: if live { vec![] } else { local.to_vec() },
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg, default_detectors(&DetectorsConfig::default()));
    if live {
        // as a live capture reads them: each with its interface's prefix
        // (the router's LAN side, 198.18.0.1/24, holds the scanned host)
        let nets: Vec<(IpAddr, u8)> = local.iter().map(|a| (*a, 24)).collect();
        engine.note_local_addresses(&tw_detect::local::LocalAddrs::with_networks(&nets, 1));
    }
    let (engine, ev) = common::replay_through(engine, tl);
    let out = ev
        .into_iter()
        .filter(|v| v["signature"] == "blackhole")
        .collect();
    (out, engine.stats().blackhole_inbound)
}

fn scan_of_the_gateway() -> Timeline {
    let mut tl = Timeline::new();
    forwarded(&mut tl, T0);
    for (i, port) in [22u16, 23, 445].into_iter().enumerate() {
        scanned(&mut tl, GATEWAY, port, T0 + 2 * S + i as i64 * 100 * MS);
    }
    // the forwarded port again, while the scanner retries
    let mut s = session([203, 0, 113, 61], 40_001, GATEWAY, 51413);
    let t = s.handshake(&mut tl, T0 + 4 * S, RTT);
    s.close(&mut tl, t + MS, RTT);
    later(&mut tl, T0 + 300 * S);
    tl
}

#[test]
fn without_its_addresses_the_scan_looks_like_port_blocking() {
    let (ev, inbound) = replay(scan_of_the_gateway(), &[], false);
    assert_eq!(ev.len(), 3, "{ev:#?}");
    for e in &ev {
        assert_eq!(e["flow"]["server_ip"], "198.18.0.2");
        assert_eq!(e["evidence"]["rules"][0], "syn_unanswered");
    }
    assert_eq!(inbound, 0);
}

#[test]
fn a_scan_of_the_vantage_points_own_address_is_counted_not_reported() {
    let own: Vec<IpAddr> = vec![IpAddr::from(GATEWAY), "2001:db8::2".parse().unwrap()];
    for live in [false, true] {
        let (ev, inbound) = replay(scan_of_the_gateway(), &own, live);
        assert!(ev.is_empty(), "live {live}: {ev:#?}");
        assert_eq!(inbound, 3, "live {live}");
    }
}

#[test]
fn a_scan_of_a_host_on_the_vantage_points_own_network_is_counted() {
    // the gateway captures for a LAN host reached from outside (an IPv6
    // pinhole, a DMZ): the host is in the subnet of the gateway's interface
    let (ev, inbound) = replay(
        scan_of_the_gateway(),
        &[IpAddr::from([198, 18, 0, 1])],
        true,
    );
    assert!(ev.is_empty(), "{ev:#?}");
    assert_eq!(inbound, 3);
    // configured addresses are exact: the neighbour is not the vantage point
    let (ev, inbound) = replay(
        scan_of_the_gateway(),
        &[IpAddr::from([198, 18, 0, 1])],
        false,
    );
    assert_eq!((ev.len(), inbound), (3, 0));
}

#[test]
fn blocking_of_another_server_is_still_reported() {
    // the same SYN drops, to an outside server whose other port works
    let server = [203, 0, 113, 90];
    let mut tl = Timeline::new();
    let mut s = session([192, 0, 2, 10], 40_100, server, 80);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(
        &mut tl,
        t + MS,
        b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
    );
    let t = s.server_send(
        &mut tl,
        t + RTT,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    );
    s.close(&mut tl, t + MS, RTT);
    let mut s = session([192, 0, 2, 10], 40_101, server, 443);
    s.syn(&mut tl, T0 + 2 * S);
    for d in [1, 3, 7] {
        s.retransmit_client_last(&mut tl, T0 + (2 + d) * S);
    }
    let mut s = session([192, 0, 2, 10], 40_102, [203, 0, 113, 91], 443);
    let t = s.handshake(&mut tl, T0 + 4 * S, RTT);
    s.close(&mut tl, t + MS, RTT);
    later(&mut tl, T0 + 300 * S);
    let own = [IpAddr::from([192, 0, 2, 10]), IpAddr::from(GATEWAY)];
    let (ev, inbound) = replay(tl, &own, false);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["flow"]["server_ip"], "203.0.113.90");
    assert_eq!(inbound, 0);
}
