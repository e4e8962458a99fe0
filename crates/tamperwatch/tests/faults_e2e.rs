//! Faults: SIGTERM at random points during a replay and during a live
//! capture (every line of the event file is complete JSON, every event
//! detected before the signal is in it, and the count matches what the
//! daemon says it wrote), and the capture interface disappearing, going
//! down and up, or losing its carrier while the daemon runs.
//!
//! The random points come from a seed printed by each test (set
//! `TW_FAULT_SEED` to replay one). The live tests need root (network
//! namespaces), dig and python3; they are skipped otherwise.

mod common;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{metric_value, Guarded, TamperwatchProc, Topology, TwOptions};

/// The scenario tool's generator, seeded per test (the seed is printed).
fn seeded(name: &str) -> tw_scenario::Rng {
    let seed = std::env::var("TW_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{name}: TW_FAULT_SEED={seed}");
    tw_scenario::Rng::new(seed)
}

/// Every line is a complete JSON event; returns them.
fn complete_events(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{}: the last line is cut",
        path.display()
    );
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("{}: not a complete JSON line ({e}): {l:?}", path.display())
            })
        })
        .collect()
}

/// The fixtures that raise events, `copies` times over.
fn event_fixtures(copies: usize) -> Vec<std::path::PathBuf> {
    let dir = common::root().join("tests/fixtures");
    let mut one: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            ["rst_inject_", "dns_inject_", "http_inject_", "bh_", "thr_"]
                .iter()
                .any(|x| n.starts_with(x))
        })
        .collect();
    one.sort();
    (0..copies).flat_map(|_| one.clone()).collect()
}

#[test]
fn sigterm_during_replay_leaves_complete_flushed_events() {
    let files = event_fixtures(30);
    let dir = tempfile::tempdir().unwrap();
    // the whole run, for its length
    let t0 = Instant::now();
    let full = common::replay(&files, &["--quiet"]);
    let whole = t0.elapsed();
    assert_eq!(full.status, 0, "{}", full.stderr);
    assert!(full.events.len() >= 20, "{}", full.events.len());
    eprintln!("full replay: {} events in {whole:?}", full.events.len());
    let mut rng = seeded("replay");
    let mut interrupted = 0;
    // The signal comes at a random moment in the first 60% of the shortest
    // run seen: the full run above may have shared the machine with other
    // tests and taken longer than the rounds do (CI: 5.8 s, then rounds that
    // finished in under 4.6 s, and only 2 of 6 were interrupted). A round
    // that finished first shortens it; rounds go on until 3 were interrupted
    // (at most 12).
    let mut shortest = whole;
    for round in 0..12 {
        if round >= 6 && interrupted >= 3 {
            break;
        }
        let ev = dir.path().join(format!("events-{round}.jsonl"));
        let m = dir.path().join(format!("metrics-{round}.prom"));
        let child = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
            .arg("replay")
            .arg("--events")
            .arg(&ev)
            .arg("--metrics-out")
            .arg(&m)
            .args(&files)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let at = Duration::from_millis(20 + rng.below(shortest.as_millis() as u64 * 6 / 10));
        std::thread::sleep(at);
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        if code == Some(0) {
            shortest = shortest.min(started.elapsed());
        }
        let events = complete_events(&ev);
        let metrics = std::fs::read_to_string(&m).unwrap_or_default();
        let written = metric_value(
            &metrics,
            "tamperwatch_events_written_total",
            &[("sink", "file")],
        );
        eprintln!(
            "round {round}: SIGTERM at {at:?}: exit {code:?}, {} events in the file",
            events.len()
        );
        match code {
            Some(143) => {
                interrupted += 1;
                assert!(stderr.contains("interrupted by signal 15"), "{stderr}");
                assert!(
                    stderr.contains(&format!("{} events written", events.len())),
                    "{stderr}"
                );
            }
            // the replay finished before the signal arrived
            Some(0) => assert_eq!(events.len(), full.events.len()),
            other => panic!("exit {other:?}:\n{stderr}"),
        }
        assert_eq!(written, Some(events.len() as f64), "events_written_total");
        assert_eq!(
            metric_value(&metrics, "tamperwatch_events_dropped_total", &[]),
            Some(0.0)
        );
    }
    assert!(interrupted >= 3, "most rounds must be interrupted mid-run");
}

/// A SIGTERM while the replay is still setting up stops it cleanly too.
/// The handlers used to be registered after the set-up (configuration,
/// tables, sink), by a thread that might not have run yet: a signal then
/// killed the process (found when the test above signalled at 23 ms on a
/// loaded machine). Here a configuration with a 200,000-line fingerprint
/// list makes the set-up last long enough to signal in the middle of it.
#[test]
fn sigterm_during_set_up_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("big.txt");
    let text: String = (0..200_000u32)
        .map(|i| format!("{}\n", std::net::Ipv4Addr::from(0x0a00_0000 + i)))
        .collect();
    std::fs::write(&list, text).unwrap();
    let cfg = dir.path().join("tw.toml");
    std::fs::write(
        &cfg,
        format!("[dns_injection]\nfingerprint_files = [{list:?}]\n[events]\nfile = \"\"\n"),
    )
    .unwrap();
    // how long loading that configuration takes here
    let t0 = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    let load = t0.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eprintln!("loading the configuration takes {load:?}");
    let child = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("-c")
        .arg(&cfg)
        .arg("--events")
        .arg(dir.path().join("events.jsonl"))
        .args(event_fixtures(1))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(load / 3);
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{:?}:\n{stderr}", out.status);
    assert!(stderr.contains("interrupted by signal 15"), "{stderr}");
}

fn live_prerequisites() -> bool {
    support::require_root_and(&["dig", "python3"])
}

/// A second veth link between the topology's two hosts, `name` at both
/// ends, with `a4` on the client's end and `b4` on the server's.
fn second_link(c: &support::Netns, s: &support::Netns, name: &str, a4: &str, b4: &str) {
    c.ip(&[
        "link",
        "add",
        name,
        "type",
        "veth",
        "peer",
        "name",
        name,
        "netns",
        s.name(),
    ]);
    for (ns, a) in [(c, a4), (s, b4)] {
        ns.ip(&["addr", "add", a, "dev", name]);
        ns.ip(&["link", "set", name, "up"]);
    }
}

/// Three DNS queries from `c` to `server`, where nothing listens: each is
/// answered by ICMP port unreachable (two packets a query).
fn queries_to(c: &support::Netns, server: &str) {
    for i in 0..3 {
        c.exec_timeout(
            "dig",
            &[
                &format!("@{server}"),
                &format!("q{i}.example"),
                "+tries=1",
                "+time=1",
            ],
            Duration::from_secs(5),
        );
    }
}

fn responder(topo: &Topology) -> Guarded {
    support::dns::forging_responder(topo)
}

/// dig in a loop from the client until `stop`.
fn querier(topo: &Topology, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    let ns = topo.client.ns.clone();
    let server = format!("@{}", topo.server.addr4);
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let _ = ns.exec_timeout(
                "dig",
                &[
                    &server,
                    &format!("q{n}.blocked.example"),
                    "A",
                    "+short",
                    "+tries=1",
                    "+time=1",
                ],
                Duration::from_secs(5),
            );
            n += 1;
        }
        n
    })
}

#[test]
fn sigterm_during_live_capture_leaves_every_detected_event() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let _resp = responder(&topo);
    let mut rng = seeded("live");
    for round in 0..4 {
        let mut opts = TwOptions::on(&topo.client.iface, "ring");
        opts.overrides = "[flows]\nudp_timeout = 1\n".into();
        let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
        let stop = Arc::new(AtomicBool::new(false));
        let q = querier(&topo, stop.clone());
        // at least 1.5 s: DNS events come when a query's flow ends (1 s idle)
        std::thread::sleep(Duration::from_millis(1500 + rng.below(2500)));
        // what the daemon had detected just before the signal
        let detected = tw
            .metric(
                "tamperwatch_events_total",
                &[("signature", "dns_injection")],
            )
            .unwrap_or(0.0);
        let stopped = tw.stop();
        stop.store(true, Ordering::Relaxed);
        let queries = q.join().unwrap();
        let events = complete_events(&tw.events_path());
        let said = stopped
            .stderr
            .lines()
            .find(|l| l.contains("stopped"))
            .and_then(|l| l.split("events_written=").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<usize>().ok());
        eprintln!(
            "round {round}: {queries} queries, {detected} detected before SIGTERM, {} in the file, daemon said {said:?}, stopped in {:?}",
            events.len(),
            stopped.took
        );
        assert!(detected >= 1.0, "no event before the signal");
        assert!(
            events.len() as f64 >= detected,
            "events detected before the signal are missing"
        );
        assert_eq!(said, Some(events.len()), "{}", stopped.stderr);
        assert!(events.iter().all(|e| e["signature"] == "dns_injection"));
    }
}

/// A backend that cannot capture again on a new interface (pnet, or rings
/// in a fanout group) loses the interface for good: with every capture
/// lost, the daemon exits 3 for the service manager to restart it.
#[test]
fn interface_removed_exits_with_status_3_when_it_cannot_be_waited_for() {
    if !live_prerequisites() {
        return;
    }
    for (backend, fanout) in [("pnet", 1), ("ring", 2)] {
        let topo = Topology::two_hosts();
        let mut opts = TwOptions::on(&topo.client.iface, backend);
        opts.overrides = format!("[capture]\nfanout = {fanout}\n");
        let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
        let t0 = Instant::now();
        topo.client.ns.ip(&["link", "del", &topo.client.iface]);
        let status = tw.wait_exit(Duration::from_secs(15));
        let took = t0.elapsed();
        let status = status
            .unwrap_or_else(|| panic!("{backend}: still running 15 s later:\n{}", tw.stderr()));
        eprintln!("{backend}, fanout {fanout}: interface removed: exit {status:?} after {took:?}");
        assert_eq!(status.code(), Some(3), "{}", tw.stderr());
        assert!(tw.stderr().contains("eth0"), "{}", tw.stderr());
    }
}

/// The ring backend (the default) waits for an interface deleted while
/// running to be made again under its name (a PPP link redialling makes a
/// new `ppp0`, a USB modem plugged back in a new `wwan0`) and captures on
/// it, without any privilege left: it binds the packet socket it already
/// holds. Meanwhile the capture is down (`tamperwatch_capture_up` 0,
/// `/healthz` 503) and the daemon keeps running.
#[test]
fn interface_removed_and_made_again_is_captured_again() {
    removed_and_made_again(false);
}

/// The same, set down, then deleted and made again at once with the same
/// index (`ip link add ... index N`): the kernel unbinds the packet socket
/// from the deleted interface (a down one reports nothing), and a capture
/// that only compared the name's index took the new interface coming up for
/// the old one, and stayed unbound: blind, while saying it was up (found in
/// review, session 22). The socket's own binding (`getsockname`) tells.
#[test]
fn interface_made_again_with_the_same_index_is_captured_again() {
    removed_and_made_again(true);
}

fn removed_and_made_again(same_index: bool) {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let _resp = responder(&topo);
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.overrides = "[flows]\nudp_timeout = 1\n".into();
    if same_index {
        // one look a second while down: the name is missing for a moment
        // between the deletion and the new interface, and a look then
        // would find the deletion by the name alone
        opts.overrides += "[capture]\nblock_timeout_ms = 1000\n";
    }
    let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
    let count = |tw: &TamperwatchProc| {
        tw.metric(
            "tamperwatch_events_total",
            &[("signature", "dns_injection")],
        )
        .unwrap_or(0.0)
    };
    let dig = |name: &str| {
        topo.client.ns.exec_timeout(
            "dig",
            &[
                &format!("@{}", topo.server.addr4),
                name,
                "A",
                "+short",
                "+tries=1",
                "+time=2",
            ],
            Duration::from_secs(5),
        )
    };
    dig("before.blocked.example");
    let (_, ok) = tw.wait_until(Duration::from_secs(5), |m| {
        metric_value(
            m,
            "tamperwatch_events_total",
            &[("signature", "dns_injection")],
        )
        .unwrap_or(0.0)
            >= 1.0
    });
    assert!(ok, "no event before:\n{}", tw.stderr());
    let (c, s) = (&topo.client.ns, &topo.server.ns);
    let index = c
        .ip(&["-o", "link", "show", "eth0"])
        .split(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(index.parse::<u32>().is_ok(), "{index}");
    if same_index {
        // set down first (the capture waits for it to come up), then
        // deleted and made again with the same index (both ends: deleting
        // one end of a veth pair deletes both)
        c.ip(&["link", "set", "eth0", "down"]);
        let (_, down) = tw.wait_until(Duration::from_secs(5), |m| {
            metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(0.0)
        });
        assert!(down, "capture_up not 0 while down");
        let made = c.exec(
            "sh",
            &[
                "-c",
                &format!(
                    "printf 'link del eth0\\nlink add eth0 index {index} type veth peer name eth0 netns {}\\n' | ip -batch -",
                    s.name()
                ),
            ],
        );
        assert!(made.status.success(), "{made:?}");
        assert_eq!(
            c.ip(&["-o", "link", "show", "eth0"])
                .split(':')
                .next()
                .unwrap_or_default()
                .trim(),
            index
        );
    } else {
        // deleting one end of the veth pair deletes both
        c.ip(&["link", "del", "eth0"]);
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            tw.try_status().is_none(),
            "exited when the interface was deleted:\n{}",
            tw.stderr()
        );
        let (_, down) = tw.wait_until(Duration::from_secs(5), |m| {
            metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(0.0)
        });
        assert!(down, "capture_up not 0 without the interface");
        assert_eq!(tw.get("/healthz").0, 503);
        assert!(tw.stderr().contains("no such interface"), "{}", tw.stderr());
    }
    let packets_before = tw
        .metric(
            "tamperwatch_capture_packets_total",
            &[("interface", "eth0")],
        )
        .unwrap_or(0.0);
    if !same_index {
        // made again: a new interface (another index), same name and addresses
        c.ip(&[
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            s.name(),
        ]);
    }
    for (ns, a4, a6) in [
        (c, "192.0.2.1/24", "2001:db8:1::1/64"),
        (s, "192.0.2.2/24", "2001:db8:1::2/64"),
    ] {
        ns.ip(&["addr", "add", a4, "dev", "eth0"]);
        ns.ip(&["addr", "add", a6, "dev", "eth0", "nodad"]);
        ns.ip(&["link", "set", "eth0", "up"]);
    }
    let (_, up) = tw.wait_until(Duration::from_secs(10), |m| {
        metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(1.0)
    });
    assert!(up, "capture_up not back to 1:\n{}", tw.stderr());
    assert!(tw.stderr().contains("is back"), "{}", tw.stderr());
    // (bound again with no capability left)
    assert!(
        tw.stderr().contains("capabilities dropped"),
        "{}",
        tw.stderr()
    );
    let before = count(&tw);
    let mut after = before;
    for i in 0..10 {
        dig(&format!("after{i}.blocked.example"));
        after = count(&tw);
        if after > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        after > before,
        "no event on the new interface:\n{}",
        tw.stderr()
    );
    // the capture's counters are read once a second, while the event is
    // written as soon as the answer is seen: wait for the next reading
    let (m, counted) = tw.wait_until(Duration::from_secs(5), |m| {
        metric_value(
            m,
            "tamperwatch_capture_packets_total",
            &[("interface", "eth0")],
        )
        .unwrap_or(0.0)
            > packets_before
    });
    assert!(
        counted,
        "{packets_before} -> {:?}\n{}",
        metric_value(
            &m,
            "tamperwatch_capture_packets_total",
            &[("interface", "eth0")]
        ),
        tw.stderr()
    );
    assert_eq!(tw.get("/healthz").0, 200);
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

/// An interface that does not exist yet when the daemon starts, beside
/// one that does (a PPP uplink dialled after boot), is captured once it is
/// made. (All of them missing is a start-up error: `live_e2e`'s
/// `missing_interface_exits_nonzero_naming_it`.)
#[test]
fn an_interface_missing_at_start_is_captured_once_made() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.interfaces.push("eth9".into());
    let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
    let eth9 = [("interface", "eth9")];
    assert_eq!(tw.metric("tamperwatch_capture_up", &eth9), Some(0.0));
    assert_eq!(tw.get("/healthz").0, 503);
    assert!(
        tw.stderr().contains("no such interface (yet)"),
        "{}",
        tw.stderr()
    );
    let (c, s) = (&topo.client.ns, &topo.server.ns);
    second_link(c, s, "eth9", "203.0.113.1/24", "203.0.113.2/24");
    let (_, up) = tw.wait_until(Duration::from_secs(10), |m| {
        metric_value(m, "tamperwatch_capture_up", &eth9) == Some(1.0)
    });
    assert!(up, "capture_up of eth9 not 1:\n{}", tw.stderr());
    queries_to(c, "203.0.113.2");
    let (m, seen) = tw.wait_until(Duration::from_secs(5), |m| {
        metric_value(m, "tamperwatch_capture_packets_total", &eth9).unwrap_or(0.0) >= 6.0
    });
    assert!(seen, "eth9's packets not captured:\n{m}\n{}", tw.stderr());
    assert_eq!(tw.get("/healthz").0, 200);
    assert!(tw.try_status().is_none());
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

/// With no interface named, the daemon captures on the default route's
/// interface and moves with the route: a laptop's Ethernet plugged in
/// beside its Wi-Fi, a gateway failing over to its mobile uplink. Before,
/// it stayed on the old interface, up and silent: blind without knowing.
#[test]
fn the_default_routes_interface_is_followed() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let (c, s) = (&topo.client.ns, &topo.server.ns);
    // a second link, and a host beyond both
    second_link(c, s, "eth1", "198.51.100.1/24", "198.51.100.2/24");
    s.ip(&["addr", "add", "203.0.113.10/32", "dev", "lo"]);
    c.ip(&["route", "add", "default", "via", "192.0.2.2", "dev", "eth0"]);
    let opts = TwOptions {
        interfaces: vec![],
        ..TwOptions::default()
    };
    let mut tw = TamperwatchProc::start(c, &opts);
    let dig = || queries_to(c, "203.0.113.10");
    let on = |m: &str, i: &str, name: &str| metric_value(m, name, &[("interface", i)]);
    let m = tw.scrape();
    assert_eq!(on(&m, "eth0", "tamperwatch_capture_up"), Some(1.0), "{m}");
    assert_eq!(on(&m, "eth1", "tamperwatch_capture_up"), None, "{m}");
    dig();
    let (_, seen) = tw.wait_until(Duration::from_secs(5), |m| {
        on(m, "eth0", "tamperwatch_capture_packets_total").unwrap_or(0.0) >= 6.0
    });
    assert!(seen, "eth0's packets not captured:\n{}", tw.stderr());
    c.ip(&[
        "route",
        "replace",
        "default",
        "via",
        "198.51.100.2",
        "dev",
        "eth1",
    ]);
    let (m, moved) = tw.wait_until(Duration::from_secs(10), |m| {
        on(m, "eth1", "tamperwatch_capture_up") == Some(1.0)
            && on(m, "eth0", "tamperwatch_capture_up").is_none()
    });
    assert!(
        moved,
        "the capture did not move to eth1:\n{m}\n{}",
        tw.stderr()
    );
    assert!(
        tw.stderr().contains("default route moved"),
        "{}",
        tw.stderr()
    );
    dig();
    let (m, seen) = tw.wait_until(Duration::from_secs(5), |m| {
        on(m, "eth1", "tamperwatch_capture_packets_total").unwrap_or(0.0) >= 6.0
    });
    assert!(seen, "eth1's packets not captured:\n{m}\n{}", tw.stderr());
    assert_eq!(tw.get("/healthz").0, 200);
    // A VPN takes the default route: inside its tunnel is the network of
    // the far end, not this link's. The capture stays on the link.
    c.ip(&["tuntap", "add", "dev", "tun0", "mode", "tun"]);
    c.ip(&["link", "set", "tun0", "up"]);
    c.ip(&["addr", "add", "10.8.0.2/24", "dev", "tun0"]);
    c.ip(&["route", "replace", "default", "dev", "tun0"]);
    let (_, said) = tw.wait_until(Duration::from_secs(10), |_| {
        tw.stderr().contains("the default route moved to a tunnel")
    });
    assert!(said, "{}", tw.stderr());
    std::thread::sleep(Duration::from_secs(3));
    let m = tw.scrape();
    assert_eq!(on(&m, "eth1", "tamperwatch_capture_up"), Some(1.0), "{m}");
    assert_eq!(on(&m, "tun0", "tamperwatch_capture_up"), None, "{m}");
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

/// Following the default route, the interface that carries it is deleted
/// (a USB Ethernet adapter or modem unplugged) and the route falls back to
/// another: the capture moves there instead of waiting for the old name
/// (found in review, session 22: it waited, blind, for good).
#[test]
fn deleting_the_default_routes_interface_moves_the_capture_to_the_next() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let (c, s) = (&topo.client.ns, &topo.server.ns);
    second_link(c, s, "eth1", "198.51.100.1/24", "198.51.100.2/24");
    s.ip(&["addr", "add", "203.0.113.10/32", "dev", "lo"]);
    c.ip(&[
        "route",
        "add",
        "default",
        "via",
        "192.0.2.2",
        "dev",
        "eth0",
        "metric",
        "100",
    ]);
    c.ip(&[
        "route",
        "add",
        "default",
        "via",
        "198.51.100.2",
        "dev",
        "eth1",
        "metric",
        "600",
    ]);
    let opts = TwOptions {
        interfaces: vec![],
        ..TwOptions::default()
    };
    let mut tw = TamperwatchProc::start(c, &opts);
    let on = |m: &str, i: &str, name: &str| metric_value(m, name, &[("interface", i)]);
    assert_eq!(
        tw.metric("tamperwatch_capture_up", &[("interface", "eth0")]),
        Some(1.0)
    );
    c.ip(&["link", "del", "eth0"]);
    let (m, moved) = tw.wait_until(Duration::from_secs(10), |m| {
        on(m, "eth1", "tamperwatch_capture_up") == Some(1.0)
            && on(m, "eth0", "tamperwatch_capture_up").is_none()
    });
    assert!(
        moved,
        "the capture did not move to eth1:\n{m}\n{}",
        tw.stderr()
    );
    queries_to(c, "203.0.113.10");
    let (m, seen) = tw.wait_until(Duration::from_secs(5), |m| {
        on(m, "eth1", "tamperwatch_capture_packets_total").unwrap_or(0.0) >= 6.0
    });
    assert!(seen, "eth1's packets not captured:\n{m}\n{}", tw.stderr());
    assert_eq!(tw.get("/healthz").0, 200);
    assert!(tw.try_status().is_none());
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

#[test]
fn interface_down_and_up_keeps_capturing() {
    // (the ring backend: the pnet backend treats a down interface as gone)
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let _resp = responder(&topo);
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.overrides = "[flows]\nudp_timeout = 1\n".into();
    let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
    let count = |tw: &TamperwatchProc| {
        tw.metric(
            "tamperwatch_events_total",
            &[("signature", "dns_injection")],
        )
        .unwrap_or(0.0)
    };
    let dig = |name: &str| {
        topo.client.ns.exec_timeout(
            "dig",
            &[
                &format!("@{}", topo.server.addr4),
                name,
                "A",
                "+short",
                "+tries=1",
                "+time=2",
            ],
            Duration::from_secs(5),
        )
    };
    dig("before.blocked.example");
    let (_, ok) = tw.wait_until(Duration::from_secs(5), |m| {
        metric_value(
            m,
            "tamperwatch_events_total",
            &[("signature", "dns_injection")],
        )
        .unwrap_or(0.0)
            >= 1.0
    });
    assert!(ok);
    let ns = &topo.client.ns;
    ns.ip(&["link", "set", &topo.client.iface, "down"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        tw.try_status().is_none(),
        "exited on link down:\n{}",
        tw.stderr()
    );
    // reported down, still running
    let (_, down) = tw.wait_until(Duration::from_secs(5), |m| {
        metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(0.0)
    });
    assert!(down, "capture_up not 0 while the link is down");
    assert!(tw.stderr().contains("interface down"), "{}", tw.stderr());
    ns.ip(&["link", "set", &topo.client.iface, "up"]);
    let (_, up) = tw.wait_until(Duration::from_secs(10), |m| {
        metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(1.0)
    });
    assert!(up, "capture_up not back to 1:\n{}", tw.stderr());
    let before = count(&tw);
    let mut after = before;
    for i in 0..10 {
        dig(&format!("after{i}.blocked.example"));
        after = count(&tw);
        if after > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        after > before,
        "no event after the link came back:\n{}",
        tw.stderr()
    );
    let stopped = tw.stop();
    assert!(stopped.status.success());
}

#[test]
fn carrier_loss_marks_the_capture_down_until_it_returns() {
    // The far end of the veth goes down: the capture interface stays
    // administratively up but has no carrier (operstate LOWERLAYERDOWN) and
    // carries nothing. The socket is not told (no ENETDOWN), so this is
    // the case only the interface's flags show. Both backends.
    if !live_prerequisites() {
        return;
    }
    for backend in ["ring", "pnet"] {
        let topo = Topology::two_hosts();
        let _resp = responder(&topo);
        let mut tw =
            TamperwatchProc::start(&topo.client.ns, &TwOptions::on(&topo.client.iface, backend));
        let up_is = |tw: &TamperwatchProc, want: f64, secs: u64| {
            tw.wait_until(Duration::from_secs(secs), |m| {
                metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(want)
            })
            .1
        };
        assert!(up_is(&tw, 1.0, 5), "{backend}: not up at start");
        assert_eq!(tw.get("/healthz").0, 200, "{backend}");
        topo.server
            .ns
            .ip(&["link", "set", &topo.server.iface, "down"]);
        let out = topo.client.ns.exec_timeout(
            "ip",
            &["-o", "link", "show", "eth0"],
            Duration::from_secs(5),
        );
        let flags = String::from_utf8_lossy(&out.stdout);
        assert!(
            flags.contains("NO-CARRIER") && flags.contains(",UP"),
            "{backend}: the client's interface should be up without carrier: {flags}"
        );
        assert!(
            up_is(&tw, 0.0, 5),
            "{backend}: capture_up not 0 without carrier:\n{}",
            tw.stderr()
        );
        assert_eq!(tw.get("/healthz").0, 503, "{backend}");
        assert!(
            tw.try_status().is_none(),
            "{backend}: exited on carrier loss"
        );
        assert!(tw.stderr().contains("interface down"), "{}", tw.stderr());
        topo.server
            .ns
            .ip(&["link", "set", &topo.server.iface, "up"]);
        assert!(
            up_is(&tw, 1.0, 10),
            "{backend}: capture_up not back to 1:\n{}",
            tw.stderr()
        );
        // and it still sees traffic
        let before = tw
            .metric("tamperwatch_packets_total", &[("proto", "udp")])
            .unwrap_or(0.0);
        let mut seen = false;
        for _ in 0..10 {
            topo.client.ns.exec_timeout(
                "dig",
                &[
                    &format!("@{}", topo.server.addr4),
                    "back.example",
                    "A",
                    "+short",
                    "+tries=1",
                    "+time=1",
                ],
                Duration::from_secs(4),
            );
            if tw
                .metric("tamperwatch_packets_total", &[("proto", "udp")])
                .unwrap_or(0.0)
                > before
            {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        assert!(seen, "{backend}: no packets after the carrier came back");
        assert!(tw.stop().status.success(), "{backend}");
    }
}

/// Found in review (session 16): the daemon started while the interface already has no carrier
/// (a cable unplugged at boot, a bridge without ports yet, Wi-Fi not yet
/// associated). capture_loop's first `last = src.stats()` already says
/// link_down, so no transition is ever seen and capture_up stays at the 1
/// set when the capture opened.
#[test]
fn no_carrier_at_start_marks_the_capture_down() {
    if !live_prerequisites() {
        return;
    }
    let mut wrong = Vec::new();
    for backend in ["ring", "pnet"] {
        let topo = Topology::two_hosts();
        topo.server
            .ns
            .ip(&["link", "set", &topo.server.iface, "down"]);
        // wait for the kernel's linkwatch to clear IFF_RUNNING (operstate)
        let t0 = std::time::Instant::now();
        loop {
            let out = topo.client.ns.exec_timeout(
                "ip",
                &["-o", "link", "show", "eth0"],
                Duration::from_secs(5),
            );
            if String::from_utf8_lossy(&out.stdout).contains("NO-CARRIER") {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "operstate never changed"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let tw =
            TamperwatchProc::start(&topo.client.ns, &TwOptions::on(&topo.client.iface, backend));
        let (m, ok) = tw.wait_until(Duration::from_secs(5), |m| {
            metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(0.0)
        });
        let up = metric_value(&m, "tamperwatch_capture_up", &[("interface", "eth0")]);
        let health = tw.get("/healthz").0;
        if !ok || health != 503 {
            wrong.push(format!(
                "{backend}: capture_up {up:?} without carrier since start (healthz {health})"
            ));
        }
        // and up once the carrier comes
        topo.server
            .ns
            .ip(&["link", "set", &topo.server.iface, "up"]);
        let (_, back) = tw.wait_until(Duration::from_secs(10), |m| {
            metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(1.0)
        });
        if !back {
            wrong.push(format!("{backend}: capture_up not 1 once the carrier came"));
        }
        drop(tw);
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// Found in review (session 16): the same for an interface administratively down at start (ring:
/// the socket gets ENETDOWN at once and `down` is set, but the first stats
/// read, before that, already saw the interface not up).
#[test]
fn admin_down_at_start_marks_the_capture_down() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    topo.client
        .ns
        .ip(&["link", "set", &topo.client.iface, "down"]);
    let tw = TamperwatchProc::start(&topo.client.ns, &TwOptions::on(&topo.client.iface, "ring"));
    let (m, ok) = tw.wait_until(Duration::from_secs(5), |m| {
        metric_value(m, "tamperwatch_capture_up", &[("interface", "eth0")]) == Some(0.0)
    });
    let up = metric_value(&m, "tamperwatch_capture_up", &[("interface", "eth0")]);
    drop(tw);
    assert!(ok, "ring: capture_up {up:?} while down since start");
}

/// A scan of the vantage point's own address from outside (SYNs to a port
/// its firewall drops, retried by the scanner's kernel, while a service of
/// its own answers on another port): a live run knows its interfaces'
/// addresses and counts the failure in `tamperwatch_blackhole_inbound_total`
/// instead of reporting its own firewall as blocking (tenth red-team
/// review, session 22).
#[test]
fn a_scan_of_this_hosts_own_address_is_counted_not_reported() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let (c, s) = (&topo.client.ns, &topo.server.ns);
    c.nft("table inet f {\n chain input {\n  type filter hook input priority 0;\n  tcp dport 23 drop\n }\n}\n");
    let _web = c.spawn(
        "python3",
        &["-m", "http.server", "8080", "--bind", "192.0.2.1"],
    );
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.overrides = "[flows]\ntcp_unconfirmed_timeout = 2\ntcp_handshake_timeout = 2\n".into();
    // The far side is a few hops away (its packets arrive with TTL 60), and
    // the host fetches pages from it meanwhile: SYN/ACKs from beyond the
    // host's own network show the link working. (Since session 25 its own
    // service's SYN/ACKs, sent with an initial TTL, do not while such
    // answers come: `LinkEvent::Local`.)
    s.sysctl("net.ipv4.ip_default_ttl", "60");
    let far = topo.server.addr4.to_string();
    let _far_web = s.spawn("python3", &["-m", "http.server", "8081", "--bind", &far]);
    let mut tw = TamperwatchProc::start(c, &opts);
    std::thread::sleep(Duration::from_millis(500));
    // the host's own service answers the outside; meanwhile its port 23,
    // dropped, is tried for 6 s (the scanner's kernel resends the SYN)
    let scan = s.spawn(
        "python3",
        &[
            "-c",
            "import socket\ns=socket.socket()\ns.settimeout(6)\ntry:\n s.connect(('192.0.2.1',23))\nexcept Exception as e:\n print('scan', e)\n",
        ],
    );
    let fetch = |ns: &support::Netns, url: &str| {
        let args = ["-s", "-o", "/dev/null", "--max-time", "3", url];
        ns.exec_timeout("curl", &args, Duration::from_secs(5));
    };
    for _ in 0..3 {
        fetch(s, "http://192.0.2.1:8080/");
        fetch(c, &format!("http://{far}:8081/"));
        std::thread::sleep(Duration::from_millis(700));
    }
    drop(scan);
    let (m, counted) = tw.wait_until(Duration::from_secs(20), |m| {
        metric_value(m, "tamperwatch_blackhole_inbound_total", &[]).unwrap_or(0.0) >= 1.0
    });
    assert!(counted, "not counted:\n{m}\n{}", tw.stderr());
    assert_eq!(
        metric_value(
            &m,
            "tamperwatch_events_total",
            &[("signature", "blackhole")]
        ),
        Some(0.0),
        "{m}"
    );
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

/// On a router, capturing both sides of its NAT doubles every forwarded
/// connection's events (tenth red-team review): the daemon says so at
/// start, and does not on a host that forwards nothing.
#[test]
fn capturing_both_sides_of_a_router_is_warned_about() {
    if !live_prerequisites() {
        return;
    }
    let topo = Topology::client_router_server();
    let r = &topo.router.as_ref().unwrap().ns;
    let mut opts = TwOptions::on("eth-c", "ring");
    opts.interfaces.push("eth-s".into());
    let mut tw = TamperwatchProc::start(r, &opts);
    assert!(
        tw.stderr().contains("forwards packets between interfaces"),
        "{}",
        tw.stderr()
    );
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    // the client forwards nothing: one interface or two, no warning
    let c = &topo.client.ns;
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.interfaces.push("lo".into());
    let mut tw = TamperwatchProc::start(c, &opts);
    assert!(!tw.stderr().contains("forwards packets"), "{}", tw.stderr());
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}
