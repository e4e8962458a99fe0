//! Live hardening checks of `tamperwatch run` in network namespaces:
//!
//! - `drops_every_privilege`: started as root, the running daemon holds no
//!   capability (effective, permitted, inheritable, bounding, ambient, in
//!   every thread), has `NoNewPrivs` set and runs as `nobody` with no
//!   supplementary groups, while it still captures (packets counted) and
//!   writes events (a forged DNS answer with a known censor address, from
//!   a python3 responder in the server namespace, queried with dig).
//!
//! Needs root (network namespaces), dig, python3 and a `nobody` user;
//! skipped otherwise.

mod support;

use std::path::Path;
use std::time::Duration;
use support::{censor, metric_value, Guarded, TamperwatchProc, Topology, TwOptions};

fn prerequisites() -> bool {
    if !support::require_root() {
        return false;
    }
    let missing: Vec<&str> = ["dig", "python3"]
        .into_iter()
        .filter(|p| !censor::have(p))
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: missing {missing:?}");
        return false;
    }
    if std::process::Command::new("id")
        .arg("nobody")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("skipped: no user nobody");
        return false;
    }
    true
}

fn id_of(what: &str) -> u32 {
    let out = std::process::Command::new("id")
        .args([what, "nobody"])
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric id")
}

/// `Field:` of a `/proc/.../status` file, whitespace-normalised.
fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in\n{status}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn start_responder(topo: &Topology) -> Guarded {
    support::dns::forging_responder(topo)
}

fn query(topo: &Topology, name: &str) -> String {
    let out = topo.client.ns.exec_timeout(
        "dig",
        &[
            &format!("@{}", topo.server.addr4),
            name,
            "A",
            "+short",
            "+tries=1",
            "+time=2",
        ],
        Duration::from_secs(10),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Event lines of `path` as JSON.
fn read_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn drops_every_privilege() {
    if !prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let _dns = start_responder(&topo);
    // The event directory does not exist yet: the daemon creates it for
    // the unprivileged user (its parent must be searchable by that user).
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        base.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let events = base.path().join("state/events.jsonl");
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.overrides = format!(
        "[flows]\nudp_timeout = 1\n[events]\nfile = {:?}\n[security]\nuser = \"nobody\"\n",
        events.display().to_string()
    );
    let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);

    let status = std::fs::read_to_string(format!("/proc/{}/status", tw.pid())).unwrap();
    let (uid, gid) = (id_of("-u"), id_of("-g"));
    for f in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(&status, f),
            "0000000000000000",
            "{f}\n{status}\n{}",
            tw.stderr()
        );
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1", "{status}");
    assert_eq!(
        status_field(&status, "Uid"),
        format!("{uid} {uid} {uid} {uid}")
    );
    assert_eq!(
        status_field(&status, "Gid"),
        format!("{gid} {gid} {gid} {gid}")
    );
    assert_eq!(status_field(&status, "Groups"), "", "{status}");
    // Every thread (captures, workers, sink, HTTP) started after the drop.
    for t in std::fs::read_dir(format!("/proc/{}/task", tw.pid())).unwrap() {
        let st = std::fs::read_to_string(t.unwrap().path().join("status")).unwrap_or_default();
        if st.is_empty() {
            continue; // the thread ended meanwhile
        }
        for f in ["CapEff", "CapPrm", "CapBnd"] {
            assert_eq!(status_field(&st, f), "0000000000000000", "thread {f}\n{st}");
        }
        assert_eq!(status_field(&st, "Uid"), format!("{uid} {uid} {uid} {uid}"));
    }
    // The event directory belongs to the unprivileged user (rotation
    // renames in it).
    let meta = std::fs::metadata(events.parent().unwrap()).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);

    // Capture and detection still work.
    for _ in 0..3 {
        assert_eq!(query(&topo, "blocked.example"), "10.10.34.34");
    }
    let iface = topo.client.iface.clone();
    let (text, ok) = tw.wait_until(Duration::from_secs(10), |t| {
        metric_value(
            t,
            "tamperwatch_capture_packets_total",
            &[("interface", &iface)],
        )
        .unwrap_or(0.0)
            >= 6.0
            && metric_value(t, "tamperwatch_events_total", &[]).unwrap_or(0.0) >= 1.0
    });
    assert!(
        ok,
        "no packets or no events after the drop:\n{text}\n{}",
        tw.stderr()
    );
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let evs = read_events(&events);
    assert!(
        evs.iter().any(|e| e["signature"] == "dns_injection"),
        "no dns_injection event written: {evs:#?}\n{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("capabilities dropped"),
        "{}",
        stopped.stderr
    );
}

/// `tamperwatch_detections_total{signature="dns_injection",group=G}`.
fn dns_detections(t: &str, group: &str) -> f64 {
    metric_value(
        t,
        "tamperwatch_detections_total",
        &[("signature", "dns_injection"), ("group", group)],
    )
    .unwrap_or(0.0)
}

#[test]
fn sighup_reload() {
    if !prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let _dns = start_responder(&topo);
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.overrides = "[flows]\nudp_timeout = 1\n[dns_injection]\nbuiltin_fingerprints = false\n\
                      [watch_list]\ntest = [\"nothing.example\"]\n"
        .into();
    let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
    // The daemon reads its file again as `nobody`.
    std::fs::set_permissions(
        tw.dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cfg_path = tw.dir().join("tamperwatch.toml");
    let hup = |tw: &TamperwatchProc| {
        // SAFETY: kill(2) on the daemon's pid.
        unsafe { libc::kill(tw.pid() as i32, libc::SIGHUP) };
    };
    let reload_metric = |t: &str| metric_value(t, "tamperwatch_config_last_reload_successful", &[]);

    // Without the fingerprint lists a lone answer with a censor's address
    // is not enough for an event.
    for _ in 0..3 {
        assert_eq!(query(&topo, "blocked.example"), "10.10.34.34");
    }
    std::thread::sleep(Duration::from_secs(3));
    let text = tw.scrape();
    assert_eq!(
        metric_value(&text, "tamperwatch_events_total", &[]).unwrap_or(0.0),
        0.0,
        "events before the reload:\n{text}"
    );

    // A valid new file: fingerprints on, blocked.example in group "test".
    let new = tw
        .config()
        .replace(
            "builtin_fingerprints = false",
            "builtin_fingerprints = true",
        )
        .replace("\"nothing.example\"", "\"blocked.example\"");
    assert_ne!(new, tw.config());
    std::fs::write(&cfg_path, &new).unwrap();
    hup(&tw);
    let ok = support::poll(Duration::from_secs(5), Duration::from_millis(50), || {
        tw.stderr().contains("configuration reloaded").then_some(())
    });
    assert!(ok.is_some(), "no reload:\n{}", tw.stderr());
    assert_eq!(reload_metric(&tw.scrape()), Some(1.0));
    for _ in 0..3 {
        assert_eq!(query(&topo, "blocked.example"), "10.10.34.34");
    }
    let (text, ok) = tw.wait_until(Duration::from_secs(10), |t| {
        dns_detections(t, "test") >= 1.0
    });
    assert!(
        ok,
        "no dns_injection detection in group test after the reload:\n{text}\n{}",
        tw.stderr()
    );
    let before = dns_detections(&text, "test");

    // An invalid file: rejected with the reason, the old settings stay.
    std::fs::write(
        &cfg_path,
        new.replace("ring_size_mib = 16", "ring_size_mib = 0"),
    )
    .unwrap();
    hup(&tw);
    let (text, ok) = tw.wait_until(Duration::from_secs(5), |t| reload_metric(t) == Some(0.0));
    assert!(
        ok,
        "reload of an invalid file not reported:\n{text}\n{}",
        tw.stderr()
    );
    let log = tw.stderr();
    assert!(
        log.contains("configuration reload rejected") && log.contains("capture.ring_size_mib"),
        "{log}"
    );
    for _ in 0..3 {
        assert_eq!(query(&topo, "blocked.example"), "10.10.34.34");
    }
    let (text, ok) = tw.wait_until(Duration::from_secs(10), |t| {
        dns_detections(t, "test") > before
    });
    assert!(
        ok,
        "detection stopped after a rejected reload:\n{text}\n{}",
        tw.stderr()
    );

    // The DNS detector turned off by a reload: the same forged answers give
    // no detection and no query is counted; turned on again, they do.
    let reloads = |tw: &TamperwatchProc| tw.stderr().matches("configuration reloaded").count();
    let reload_to = |tw: &TamperwatchProc, text: &str| {
        let n = reloads(tw);
        std::fs::write(&cfg_path, text).unwrap();
        hup(tw);
        let ok = support::poll(Duration::from_secs(5), Duration::from_millis(50), || {
            (reloads(tw) > n).then_some(())
        });
        assert!(ok.is_some(), "reload not applied:\n{}", tw.stderr());
        assert_eq!(reload_metric(&tw.scrape()), Some(1.0));
    };
    let off = new.replace("[dns_injection]\n", "[dns_injection]\nenabled = false\n");
    assert_ne!(off, new);
    reload_to(&tw, &off);
    let text = tw.scrape();
    let (detected, queries) = (
        dns_detections(&text, "test"),
        metric_value(&text, "tamperwatch_dns_queries_total", &[]),
    );
    for _ in 0..3 {
        assert_eq!(query(&topo, "blocked.example"), "10.10.34.34");
    }
    std::thread::sleep(Duration::from_secs(3));
    let text = tw.scrape();
    assert_eq!(dns_detections(&text, "test"), detected, "{text}");
    assert_eq!(
        metric_value(&text, "tamperwatch_dns_queries_total", &[]),
        queries,
        "queries counted with the detector off:\n{text}"
    );
    reload_to(&tw, &new);
    for _ in 0..3 {
        assert_eq!(query(&topo, "blocked.example"), "10.10.34.34");
    }
    let (text, ok) = tw.wait_until(Duration::from_secs(10), |t| {
        dns_detections(t, "test") > detected
    });
    assert!(
        ok,
        "no detection after the detector was turned on again:\n{text}\n{}",
        tw.stderr()
    );
    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}
