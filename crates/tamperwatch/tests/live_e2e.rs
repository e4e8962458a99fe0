//! Live end-to-end: tamperwatch captures in a network namespace while curl
//! fetches files from nginx in another; the metrics must account for the
//! traffic, with no drops, no decode errors and no events (clean traffic),
//! and SIGTERM must stop the daemon cleanly.
//!
//! Needs root (network namespaces); skipped otherwise.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::{metric_value, poll, Guarded, TamperwatchProc, Topology, TwOptions, WebServer};

/// One curl run (one TCP connection): fetches `url`, checks status 200 and
/// the size.
fn fetch(topo: &Topology, url: &str, size: usize) {
    let out = topo.client.ns.exec_timeout(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "10",
            "-w",
            "%{http_code} %{size_download} %{num_connects}",
            url,
        ],
        Duration::from_secs(15),
    );
    let w = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        w.trim(),
        format!("200 {size} 1"),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// tcpdump counting TCP frames on the client interface, as a reference.
struct FrameCounter {
    proc: Guarded,
}

impl FrameCounter {
    fn start(topo: &Topology) -> Option<FrameCounter> {
        let have = std::process::Command::new("sh")
            .args(["-c", "command -v tcpdump"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            return None;
        }
        let proc = topo.client.ns.spawn(
            "tcpdump",
            &["-i", &topo.client.iface, "-n", "-w", "/dev/null", "tcp"],
        );
        let mut fc = FrameCounter { proc };
        let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
            fc.proc.log().contains("listening on").then_some(())
        });
        if up.is_none() || fc.proc.try_status().is_some() {
            eprintln!(
                "tcpdump did not start; no reference count:\n{}",
                fc.proc.log()
            );
            return None;
        }
        Some(fc)
    }

    /// Stops tcpdump: (frames the kernel matched, dropped by kernel). The
    /// kernel's count, not tcpdump's "captured", which misses frames still
    /// in tcpdump's ring when it stops.
    fn finish(mut self) -> Option<(u64, u64)> {
        self.proc.signal(libc::SIGINT);
        self.proc.wait_timeout(Duration::from_secs(5))?;
        let log = self.proc.log();
        let num = |what: &str| {
            log.lines()
                .find(|l| l.contains(what))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        Some((num("received by filter")?, num("dropped by kernel")?))
    }
}

/// The shared scenario; `backend` is "ring" or "pnet"; `overrides` is
/// merged into the daemon's configuration.
fn live_capture(backend: &str, overrides: &str) {
    let t0 = Instant::now();
    let topo = Topology::two_hosts();
    let (c, s) = (&topo.client, &topo.server);
    let web = WebServer::start(&s.ns, &[IpAddr::V4(s.addr4), IpAddr::V6(s.addr6)]);
    let iface = c.iface.as_str();
    let mut tw = TamperwatchProc::start(
        &c.ns,
        &TwOptions {
            overrides: overrides.to_string(),
            ..TwOptions::on(iface, backend)
        },
    );
    let up = tw.metric("tamperwatch_capture_up", &[("interface", iface)]);
    assert_eq!(up, Some(1.0), "capture_up; stderr:\n{}", tw.stderr());
    let reference = FrameCounter::start(&topo);

    // 3 rounds of 4 fetches, one connection each; the last over IPv6.
    let v6 = |p: &str| format!("http://[{}]{p}", s.addr6);
    let mut connections = 0u32;
    let mut bytes = 0usize;
    for _ in 0..3 {
        for p in ["/index.html", "/small.txt", "/big.bin"] {
            fetch(&topo, &web.url(p), web.size(p));
            bytes += web.size(p);
            connections += 1;
        }
        fetch(&topo, &v6("/medium.bin"), web.size("/medium.bin"));
        bytes += web.size("/medium.bin");
        connections += 1;
    }
    let fetched_at = t0.elapsed();

    // A lower bound that holds even with 64 KiB GSO frames: handshake,
    // request, response and close are at least 7 frames per connection,
    // plus one frame per 64 KiB of body.
    let min_frames = u64::from(connections) * 7 + (bytes / 65536) as u64;
    // tcpdump's kernel count, when it had no drops.
    let reference = match reference.and_then(FrameCounter::finish) {
        Some((seen, 0)) => {
            assert!(
                seen >= min_frames,
                "tcpdump saw {seen} TCP frames, fewer than {min_frames}?"
            );
            Some(seen)
        }
        Some((seen, dropped)) => {
            eprintln!("tcpdump dropped {dropped} of {seen}; using the lower bound");
            None
        }
        None => None,
    };
    // The ring must see exactly what tcpdump saw. pnet cannot report the
    // frames its socket buffer overflowed on, so it only has to reach the
    // lower bound.
    let exact = backend == "ring";
    let want_frames = reference.filter(|_| exact).unwrap_or(min_frames);

    let tcp = |t: &str| metric_value(t, "tamperwatch_packets_total", &[("proto", "tcp")]);
    let started = |t: &str| metric_value(t, "tamperwatch_flows_started_total", &[("proto", "tcp")]);
    // The interface's frame counter is updated about once a second.
    let cap = |t: &str| {
        metric_value(
            t,
            "tamperwatch_capture_packets_total",
            &[("interface", iface)],
        )
    };
    let all_in = |t: &str| {
        let n = tcp(t).unwrap_or(0.0);
        n >= reference.unwrap_or(min_frames) as f64
            && started(t).unwrap_or(0.0) >= f64::from(connections)
            && cap(t).unwrap_or(0.0) >= n
    };
    let (mut text, ok) = tw.wait_until(Duration::from_secs(5), all_in);
    if !ok && !exact {
        text = tw.scrape();
    }
    assert!(
        tcp(&text).unwrap_or(0.0) >= want_frames as f64
            && started(&text).unwrap_or(0.0) >= f64::from(connections),
        "after 5 s: packets_total{{proto=tcp}} = {:?} (want ≥ {want_frames}), \
         flows_started_total{{proto=tcp}} = {:?} (want ≥ {connections})\n{text}\n--- stderr ---\n{}",
        tcp(&text),
        started(&text),
        tw.stderr()
    );
    let seen = tcp(&text).unwrap_or(0.0) as u64;
    if let Some(r) = reference {
        if exact {
            // Every TCP frame tcpdump saw, and no more (nothing else runs there).
            assert_eq!(seen, r, "tcp frames: tamperwatch {seen}, tcpdump {r}");
        } else {
            assert!(seen <= r, "tcp frames: tamperwatch {seen} > tcpdump {r}");
            if seen < r {
                eprintln!(
                    "{backend}: {} of {r} TCP frames lost (socket buffer)",
                    r - seen
                );
            }
        }
    }
    let captured = cap(&text);
    assert!(
        captured.unwrap_or(0.0) >= seen as f64,
        "capture_packets_total = {captured:?}, want ≥ {seen}\n{text}"
    );
    let drops = metric_value(
        &text,
        "tamperwatch_capture_kernel_drops_total",
        &[("interface", iface)],
    );
    match backend {
        "ring" => assert_eq!(drops, Some(0.0), "kernel drops\n{text}"),
        // pnet cannot see kernel drops: the series is 0 or absent.
        _ => assert!(matches!(drops, None | Some(0.0)), "kernel drops {drops:?}"),
    }
    let decode_errors = metric_value(&text, "tamperwatch_decode_errors_total", &[]);
    assert!(
        matches!(decode_errors, None | Some(0.0)),
        "decode errors {decode_errors:?}\n{text}"
    );
    assert_eq!(
        metric_value(&text, "tamperwatch_capture_up", &[("interface", iface)]),
        Some(1.0)
    );

    // Closed flows end after tcp_closed_linger (1 s in the generated
    // config), and clean traffic makes no interference events. Only with
    // a lossless capture: a FIN that pnet lost keeps its flow open, and a
    // lost segment is a real anomaly in what tamperwatch saw.
    let finished =
        |t: &str| metric_value(t, "tamperwatch_flows_finished_total", &[("proto", "tcp")]);
    let events = |t: &str| metric_value(t, "tamperwatch_events_total", &[]);
    if exact {
        let (text, ok) = tw.wait_until(Duration::from_secs(5), |t| {
            finished(t).unwrap_or(0.0) >= f64::from(connections)
        });
        assert!(
            ok,
            "flows_finished_total{{proto=tcp}} = {:?}, want ≥ {connections}\n{text}",
            finished(&text)
        );
        // Each connection is one flow: none was split (with several rings
        // in a fanout group, both directions of a flow reach the same one).
        assert_eq!(
            started(&text),
            Some(f64::from(connections)),
            "flows_started_total{{proto=tcp}}\n{text}"
        );
        assert!(
            matches!(events(&text), None | Some(0.0)),
            "events on clean traffic: {:?}\n{text}\n{:#?}",
            events(&text),
            tw.events()
        );
    } else {
        let text = tw.scrape();
        eprintln!(
            "{backend}: flows finished {:?} of {connections}, events {:?}",
            finished(&text),
            events(&text)
        );
    }

    let stopped = tw.stop();
    assert!(
        stopped.took < Duration::from_secs(5),
        "SIGTERM to exit took {:?}",
        stopped.took
    );
    assert!(tw.events_path().exists(), "events file was not created");
    let evs = tw.events();
    assert!(
        evs.is_empty() || !exact,
        "events on clean traffic: {evs:#?}"
    );
    assert!(
        stopped.stderr.contains("stopped"),
        "no final log line:\n{}",
        stopped.stderr
    );
    eprintln!(
        "{backend}: {connections} connections, {seen} TCP frames (tcpdump: {reference:?}); fetches done at {fetched_at:?}, \
         SIGTERM→exit {:?}, total {:?}",
        stopped.took,
        t0.elapsed()
    );
}

#[test]
fn ring_backend_counts_live_traffic() {
    if !support::require_root() {
        return;
    }
    live_capture("ring", "");
}

/// Two rings in a `PACKET_FANOUT` group (hash mode), two workers: every
/// frame exactly once, every connection one flow.
#[test]
fn ring_fanout_counts_live_traffic() {
    if !support::require_root() {
        return;
    }
    live_capture("ring", "[capture]\nfanout = 2\n[pipeline]\nworkers = 2\n");
}

#[test]
fn pnet_backend_counts_live_traffic() {
    if !support::require_root() {
        return;
    }
    live_capture("pnet", "");
}

/// `run -i <missing>` fails fast, naming the interface. Needs no root or
/// namespace: the metrics endpoint binds an ephemeral loopback port.
#[test]
fn missing_interface_exits_nonzero_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let iface = format!("tw-nx-{}", std::process::id() % 100_000);
    let opts = TwOptions {
        interfaces: vec!["placeholder0".into()],
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let cfg = dir.path().join("tw.toml");
    std::fs::write(&cfg, support::daemon::config_text(&opts, dir.path())).unwrap();
    let mut cmd = std::process::Command::new(support::daemon::binary());
    cmd.arg("run").arg("-c").arg(&cfg).args(["-i", &iface]);
    let t0 = Instant::now();
    let out = support::run_bounded(cmd, Duration::from_secs(10));
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exited {}: {stderr}", out.status);
    assert!(
        stderr.contains(&iface),
        "message does not name {iface}:\n{stderr}"
    );
    assert!(
        !stderr.contains("placeholder0"),
        "-i must override the config:\n{stderr}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// The support module's router topology, as later censor tests use it:
/// forwarding (v4 and v6), an nftables counter and a tbf shaper in the
/// router, wire-sized frames, and tamperwatch on the router's client side
/// seeing MSS-sized frames.
#[test]
fn router_topology_forwards_filters_and_shapes() {
    if !support::require_root() {
        return;
    }
    let t0 = Instant::now();
    let topo = Topology::client_router_server();
    topo.wire_sized_frames();
    let (s, r) = (&topo.server, topo.router());
    let web = WebServer::start(&s.ns, &[IpAddr::V4(s.addr4), IpAddr::V6(s.addr6)]);
    r.ns.nft(
        "table inet tw {
            chain forward_c {
                type filter hook forward priority 0; policy accept;
                tcp sport 80 counter
            }
        }",
    );
    let tw = TamperwatchProc::start(&r.ns, &TwOptions::on(&r.client_iface, "ring"));
    fetch(&topo, &web.url("/big.bin"), web.size("/big.bin"));
    fetch(
        &topo,
        &format!("http://[{}]/small.txt", s.addr6),
        web.size("/small.txt"),
    );
    let rules = r.ns.nft_cmd(&["list", "table", "inet", "tw"]);
    let forwarded: u64 = rules
        .split("packets ")
        .nth(1)
        .and_then(|x| x.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in:\n{rules}"));
    // 1 MiB in ≤ 1448-byte segments.
    assert!(forwarded >= 700, "forwarded {forwarded} frames:\n{rules}");
    // The router's capture on eth-c sees every forwarded server frame
    // (and the client's).
    let (text, ok) = tw.wait_until(Duration::from_secs(5), |t| {
        metric_value(t, "tamperwatch_packets_total", &[("proto", "tcp")]).unwrap_or(0.0)
            > forwarded as f64
    });
    assert!(ok, "router capture, want > {forwarded} tcp frames:\n{text}");

    // A 4 Mbit/s shaper: 1 MiB takes about 2 s.
    r.ns.tc(&[
        "qdisc",
        "add",
        "dev",
        &r.client_iface,
        "root",
        "tbf",
        "rate",
        "4mbit",
        "burst",
        "16kb",
        "latency",
        "100ms",
    ]);
    let t = Instant::now();
    fetch(&topo, &web.url("/big.bin"), web.size("/big.bin"));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "shaped fetch took {took:?}"
    );
    assert!(r
        .ns
        .tc(&["-s", "qdisc", "show", "dev", &r.client_iface])
        .contains("tbf"));
    drop(tw);
    eprintln!("router topology: total {:?}", t0.elapsed());
}
