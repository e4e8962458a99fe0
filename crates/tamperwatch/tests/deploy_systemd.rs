//! The systemd side: the unit file carries the hardening the operators were
//! promised, its `systemd-analyze security` exposure stays at 2.0 or better
//! (when systemd-analyze is installed), and the daemon speaks sd_notify: a
//! fake `NOTIFY_SOCKET` gets `READY=1` only once capture is open (and never
//! from a daemon that cannot open it), then `WATCHDOG=1` every half
//! `WATCHDOG_USEC`, then `STOPPING=1` on SIGTERM.
//!
//! The live part needs root (network namespaces); skipped otherwise.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{daemon, metric_value, Guarded, Topology, TwOptions};

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd/tamperwatch.service")
}

#[test]
fn unit_is_hardened() {
    let text = std::fs::read_to_string(unit_path()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for want in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30s",
        "ExecStartPre=/usr/bin/tamperwatch check-config /etc/tamperwatch/tamperwatch.toml",
        "ExecStart=/usr/bin/tamperwatch run -c /etc/tamperwatch/tamperwatch.toml",
        "Restart=on-failure",
        "AmbientCapabilities=CAP_NET_RAW",
        "CapabilityBoundingSet=CAP_NET_RAW",
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_PACKET",
        "SystemCallFilter=@system-service",
        "StateDirectory=tamperwatch",
    ] {
        assert!(lines.contains(&want), "unit lacks {want:?}");
    }
    // The event file of the default configuration is in the state directory.
    let cfg = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/tamperwatch.toml"),
    )
    .unwrap();
    assert!(cfg.contains("file = \"/var/lib/tamperwatch/events.jsonl\""));
}

#[test]
fn systemd_analyze_security_score() {
    let have = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("skipped: systemd-analyze not installed");
        return;
    }
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager", "--threshold=20"])
        .arg(unit_path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score in:\n{text}"));
    eprintln!("{line}");
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line:?}"));
    assert!(score <= 2.0, "exposure {score} (documented: 2.0):\n{text}");
    assert!(out.status.success(), "above the threshold:\n{text}");
}

fn recv(sock: &UnixDatagram, timeout: Duration) -> Option<String> {
    sock.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 1024];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn spawn(
    ns: &support::Netns,
    iface: &str,
    dir: &Path,
    notify: &Path,
    watchdog_usec: u64,
) -> Guarded {
    let mut opts = TwOptions::on(iface, "ring");
    opts.listen = "127.0.0.1:9874".into();
    let cfg = dir.join("tamperwatch.toml");
    std::fs::write(&cfg, daemon::config_text(&opts, dir)).unwrap();
    let mut c = ns.command(daemon::binary());
    c.arg("run").arg("-c").arg(&cfg);
    c.env("NOTIFY_SOCKET", notify);
    c.env("WATCHDOG_USEC", watchdog_usec.to_string());
    c.env_remove("WATCHDOG_PID");
    Guarded::spawn(c, "tamperwatch (sd_notify)")
}

#[test]
fn sd_notify_ready_watchdog_stopping() {
    if !support::require_root() {
        return;
    }
    let topo = Topology::two_hosts();
    let c = &topo.client;
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    let t0 = Instant::now();
    let mut tw = spawn(&c.ns, &c.iface, dir.path(), &notify, 400_000);
    let ready = recv(&sock, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no notification within 15 s:\n{}", tw.log()));
    let took = t0.elapsed();
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    assert!(
        ready.contains(&format!("STATUS=capturing on {}", c.iface)),
        "{ready:?}"
    );
    assert!(
        ready.contains(&format!("MAINPID={}", tw.pid())),
        "{ready:?}"
    );
    // Ready means: capture open and metrics served.
    let out = c.ns.exec_timeout(
        "curl",
        &["-sf", "--max-time", "3", "http://127.0.0.1:9874/metrics"],
        Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        metric_value(&text, "tamperwatch_capture_up", &[("interface", &c.iface)]),
        Some(1.0),
        "capture not up when READY=1 arrived:\n{text}"
    );
    // WATCHDOG=1 every 200 ms.
    let w0 = Instant::now();
    let mut pings = 0;
    while w0.elapsed() < Duration::from_millis(1500) {
        match recv(&sock, Duration::from_millis(500)) {
            Some(m) if m == "WATCHDOG=1" => pings += 1,
            Some(m) => panic!("unexpected notification {m:?}"),
            None => break,
        }
    }
    assert!(
        (5..=10).contains(&pings),
        "{pings} watchdog pings in 1.5 s (want ~7)"
    );
    tw.signal(libc::SIGTERM);
    let mut stopping = false;
    while let Some(m) = recv(&sock, Duration::from_secs(5)) {
        if m == "STOPPING=1" {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1:\n{}", tw.log());
    let st = tw.wait_timeout(Duration::from_secs(10));
    assert!(st.is_some_and(|s| s.success()), "{st:?}\n{}", tw.log());
    eprintln!("READY=1 {took:?} after the start; {pings} watchdog pings in 1.5 s");
}

#[test]
fn sd_notify_no_ready_when_capture_fails() {
    if !support::require_root() {
        return;
    }
    let topo = Topology::two_hosts();
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    let mut tw = spawn(&topo.client.ns, "nosuchif0", dir.path(), &notify, 400_000);
    let st = tw.wait_timeout(Duration::from_secs(15));
    assert_eq!(st.and_then(|s| s.code()), Some(1), "{}", tw.log());
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    let got = sock
        .recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    assert!(
        got.is_none(),
        "a daemon that could not capture notified {got:?}"
    );
}
