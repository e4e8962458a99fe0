//! Live smoke tests of the pnet fallback (root only; skipped otherwise).

mod common;

use std::time::{Duration, Instant};

use common::*;
use tw_capture::{linktype, CaptureError, Next, PnetSource, RingConfig, Source};

fn cfg() -> RingConfig {
    RingConfig {
        block_timeout_ms: 20,
        ..RingConfig::default()
    }
}

#[test]
fn pnet_open_unknown_interface() {
    let e = PnetSource::open("tw-nonexist0", &cfg()).unwrap_err();
    assert!(matches!(e, CaptureError::NoSuchInterface { .. }), "{e}");
}

#[test]
fn pnet_sees_udp() {
    let Some(p) = net_pair("pnet_sees_udp") else {
        return;
    };
    in_netns(&p.a, || {
        let mut src = PnetSource::open("tw0", &cfg()).expect("open pnet");
        assert!(src.describe().contains("tw0"));
        send_udp("192.0.2.1:0", "192.0.2.2:9", "tw-pnet-", 20);
        let (seen, _) = collect(
            &mut src,
            "tw-pnet-",
            20,
            linktype::ETHERNET,
            Duration::from_secs(5),
        );
        assert!(seen.iter().all(|&s| s), "missing datagrams: {seen:?}");
        // A datagram larger than pnet's 4 KiB default buffer is not cut
        // (the veth MTU is 1500, so IP fragments it; the first fragment is 1514 bytes).
        let s = std::net::UdpSocket::bind("192.0.2.1:0").unwrap();
        let mut big = b"tw-pbig-000".to_vec();
        big.resize(6000, b'x');
        s.send_to(&big, "192.0.2.2:9").unwrap();
        let (seen, frames) = collect(
            &mut src,
            "tw-pbig-",
            1,
            linktype::ETHERNET,
            Duration::from_secs(5),
        );
        assert!(seen[0]);
        assert_eq!(frames[0].len(), 1514);
        let st = src.stats();
        assert!(st.packets >= 20);
        assert_eq!(st.kernel_drops, 0);
    });
}

#[test]
fn pnet_interface_gone() {
    let Some(p) = net_pair("pnet_interface_gone") else {
        return;
    };
    let a = p.a.clone();
    in_netns(&p.a, move || {
        let mut src = PnetSource::open("tw0", &cfg()).expect("open pnet");
        let _ = src.next().expect("next");
        assert!(ip(&["-n", &a, "link", "del", "tw0"]));
        expect_gone(&mut src, Duration::from_secs(5));
    });
}

#[test]
fn pnet_on_loopback_sees_each_packet_once() {
    let Some(p) = net_pair("pnet_on_loopback_sees_each_packet_once") else {
        return;
    };
    in_netns(&p.a, || {
        let mut src = PnetSource::open("lo", &cfg()).expect("open pnet on lo");
        send_udp("127.0.0.1:0", "127.0.0.1:9", "tw-plo-", 10);
        // collect() asserts each datagram is seen only once.
        let (seen, _) = collect(
            &mut src,
            "tw-plo-",
            10,
            linktype::ETHERNET,
            Duration::from_secs(5),
        );
        assert!(seen.iter().all(|&s| s), "missing datagrams: {seen:?}");
        // A little longer: no duplicate shows up late.
        let (late, _) = collect(
            &mut src,
            "tw-plo-",
            10,
            linktype::ETHERNET,
            Duration::from_millis(300),
        );
        assert!(late.iter().all(|&s| !s), "duplicates: {late:?}");
    });
}

/// Sends `n` UDP datagrams of `size` payload bytes starting with `marker`
/// from tw0 (namespace `ns`) as fast as possible, on another thread. The
/// capture reads while they are sent, or only afterwards when `read_after`.
/// Returns (marked frames seen, kernel drops reported).
fn flood(
    src: &mut PnetSource,
    ns: &str,
    marker: &'static [u8],
    n: u64,
    size: usize,
    read_after: bool,
) -> (u64, u64) {
    // The neighbour entry first: datagrams sent while ARP is unresolved
    // may be dropped before they reach the interface.
    send_udp("192.0.2.1:0", "192.0.2.2:9", "tw-prime-", 3);
    let (seen, _) = collect(
        src,
        "tw-prime-",
        3,
        linktype::ETHERNET,
        Duration::from_secs(5),
    );
    assert!(seen.iter().all(|&s| s), "priming datagrams: {seen:?}");

    let ns = ns.to_string();
    let sender = std::thread::spawn(move || {
        in_netns(&ns, move || {
            let s = std::net::UdpSocket::bind("192.0.2.1:0").unwrap();
            let mut payload = marker.to_vec();
            payload.resize(size, b'f');
            for _ in 0..n {
                s.send_to(&payload, "192.0.2.2:9").unwrap();
            }
        })
    });
    if read_after {
        while !sender.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let start = Instant::now();
    let (mut seen, mut drops) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(20) {
        match src.next().expect("next") {
            Next::Frame(f) => {
                let udp = f.data.get(12..14) == Some(&[0x08, 0x00]) && f.data.get(23) == Some(&17);
                if udp && f.data.get(42..42 + marker.len()) == Some(marker) {
                    assert_eq!(f.data.len(), 42 + size);
                    seen += 1;
                }
            }
            Next::Idle => {
                drops = src.stats().kernel_drops;
                if sender.is_finished() && seen + drops >= n {
                    break;
                }
            }
            Next::End => panic!("End from a live source"),
        }
    }
    sender.join().unwrap();
    (seen, src.stats().kernel_drops.max(drops))
}

/// A receive buffer far too small for a burst read only afterwards: the
/// kernel drops frames, and the drops are reported. Every datagram sent is
/// either seen or counted (drops may include a few other frames: ARP, ICMP).
#[test]
fn pnet_reports_kernel_drops() {
    let Some(p) = net_pair("pnet_reports_kernel_drops") else {
        return;
    };
    let a = p.a.clone();
    in_netns(&p.a, move || {
        let small = RingConfig {
            ring_bytes: 64 * 1024,
            ..cfg()
        };
        let mut src = PnetSource::open("tw0", &small).expect("open pnet");
        const N: u64 = 3000;
        let (seen, drops) = flood(&mut src, &a, b"tw-pdrop-", N, 600, true);
        eprintln!("pnet_reports_kernel_drops: seen {seen}, kernel drops {drops}");
        assert!(drops > 0, "no drops reported (seen {seen} of {N})");
        assert!(seen > 0);
        assert!(seen + drops >= N, "seen {seen} + dropped {drops} < {N}");
        let st = src.stats();
        assert!(st.packets >= seen);
        assert_eq!(st.kernel_drops, drops, "drops are accumulated, not lost");
    });
}

/// With the default (64 MiB) receive buffer, a burst of 20 000 frames sent
/// as fast as one core can is captured completely: nothing is dropped.
#[test]
fn pnet_loses_nothing_in_a_burst() {
    let Some(p) = net_pair("pnet_loses_nothing_in_a_burst") else {
        return;
    };
    let a = p.a.clone();
    in_netns(&p.a, move || {
        let mut src = PnetSource::open("tw0", &cfg()).expect("open pnet");
        eprintln!("{}", src.describe());
        const N: u64 = 20_000;
        let (seen, drops) = flood(&mut src, &a, b"tw-pburst-", N, 600, false);
        eprintln!("pnet_loses_nothing_in_a_burst: seen {seen}, kernel drops {drops}");
        assert_eq!(drops, 0);
        assert_eq!(seen, N);
    });
}
