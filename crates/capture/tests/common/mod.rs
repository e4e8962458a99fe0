//! Shared helpers of the live tests: throw-away network namespaces joined by
//! a veth pair, documentation addresses only (192.0.2.0/24, 198.51.100.0/24).
//! Live tests need root; without it (or without `ip netns`) they print why
//! and return.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tw_capture::{CaptureError, Next, Source};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces `a` and `b`; veth `tw0` (192.0.2.1/24) in `a` is paired
/// with `tw1` (192.0.2.2/24) in `b`. Both namespaces are deleted on drop
/// (even when the test panics), which also deletes the veth pair.
pub struct NetPair {
    pub a: String,
    pub b: String,
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Creates the pair, or returns None (after printing why) when the test
/// cannot run here.
pub fn net_pair(test: &str) -> Option<NetPair> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("{test}: skipped (needs root for AF_PACKET and network namespaces)");
        return None;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tag = format!("twcap-{}-{n}", std::process::id());
    let pair = NetPair {
        a: format!("{tag}-a"),
        b: format!("{tag}-b"),
    };
    if !ip(&["netns", "add", &pair.a]) || !ip(&["netns", "add", &pair.b]) {
        eprintln!("{test}: skipped (`ip netns add` failed: no CAP_SYS_ADMIN or no iproute2)");
        return None;
    }
    let (a, b) = (pair.a.as_str(), pair.b.as_str());
    let ok = ip(&[
        "-n", a, "link", "add", "tw0", "type", "veth", "peer", "name", "tw1", "netns", b,
    ]) && ip(&["-n", a, "addr", "add", "192.0.2.1/24", "dev", "tw0"])
        && ip(&["-n", b, "addr", "add", "192.0.2.2/24", "dev", "tw1"])
        && ip(&["-n", a, "link", "set", "lo", "up"])
        && ip(&["-n", b, "link", "set", "lo", "up"])
        && ip(&["-n", a, "link", "set", "tw0", "up"])
        && ip(&["-n", b, "link", "set", "tw1", "up"]);
    assert!(ok, "{test}: setting up the veth pair failed");
    Some(pair)
}

/// Runs `f` on a new thread that has joined network namespace `ns`
/// (setns affects only the calling thread).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).expect("open netns");
        // SAFETY: a valid namespace fd; only this thread changes namespace.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread panicked")
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Sends `n` UDP datagrams with payload `"{marker}{i}"` from `from` to `to`.
pub fn send_udp(from: &str, to: &str, marker: &str, n: usize) {
    let s = std::net::UdpSocket::bind(from).expect("bind udp");
    for i in 0..n {
        s.send_to(format!("{marker}{i:03}").as_bytes(), to)
            .expect("send");
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads frames until all `n` datagrams `"{marker}{i}"` were seen or the
/// deadline passes; checks the frames and returns which were seen, and
/// copies of the matching frames.
pub fn collect(
    src: &mut dyn Source,
    marker: &str,
    n: usize,
    want_linktype: u32,
    deadline: Duration,
) -> (Vec<bool>, Vec<Vec<u8>>) {
    let start = Instant::now();
    let mut seen = vec![false; n];
    let mut frames = Vec::new();
    let t0 = now_ns();
    while start.elapsed() < deadline && !seen.iter().all(|&s| s) {
        match src.next() {
            Ok(Next::Frame(f)) => {
                // Only UDP over IPv4 (optionally 802.1Q-tagged) counts: the
                // ICMP port-unreachable replies quote the datagram too.
                let tag = if f.data.get(12..14) == Some(&[0x81, 0x00]) {
                    4
                } else {
                    0
                };
                let is_udp = f.data.get(12 + tag..14 + tag) == Some(&[0x08, 0x00])
                    && f.data.get(23 + tag) == Some(&17);
                if let Some(pos) = find(f.data, marker.as_bytes()).filter(|_| is_udp) {
                    assert_eq!(f.linktype, want_linktype);
                    assert!(f.orig_len as usize >= f.data.len());
                    assert_eq!(f.iface, 0);
                    let dt = (f.ts_ns - t0).abs();
                    assert!(
                        dt < 5_000_000_000,
                        "timestamp {} is {dt} ns from now",
                        f.ts_ns
                    );
                    let digits = f
                        .data
                        .get(pos + marker.len()..pos + marker.len() + 3)
                        .unwrap_or_default();
                    let i: usize = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(usize::MAX);
                    assert!(i < n, "bad index after marker {marker}: {digits:?}");
                    assert!(!seen[i], "datagram {i} seen twice");
                    seen[i] = true;
                    frames.push(f.data.to_vec());
                }
            }
            Ok(Next::Idle) => {}
            Ok(Next::End) => panic!("live source returned End"),
            Err(e) => panic!("live source error: {e}"),
        }
    }
    (seen, frames)
}

/// After the capture interface is deleted, `next()` must report
/// InterfaceGone (after any frames / Idle) within a few seconds, and keep
/// reporting it.
pub fn expect_gone(src: &mut dyn Source, deadline: Duration) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < deadline,
            "no InterfaceGone within {deadline:?}"
        );
        match src.next() {
            Ok(_) => continue,
            Err(CaptureError::InterfaceGone { iface }) => {
                assert_eq!(iface, "tw0");
                break;
            }
            Err(e) => panic!("expected InterfaceGone, got {e}"),
        }
    }
    assert!(matches!(
        src.next(),
        Err(CaptureError::InterfaceGone { .. })
    ));
}
