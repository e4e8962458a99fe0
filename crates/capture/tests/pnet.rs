//! Live smoke tests of the pnet fallback (root only; skipped otherwise).

mod common;

use std::time::Duration;

use common::*;
use tw_capture::{linktype, CaptureError, PnetSource, RingConfig, Source};

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
