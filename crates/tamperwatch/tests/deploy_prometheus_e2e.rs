//! A real Prometheus (Debian's `prometheus` binary) scraping a live
//! tamperwatch in the censorship lab of `support::censor`: client — router —
//! 20 ms wire — server with nginx, an on-path `tw-inject` in the router
//! resetting connections to `blocked.example`, tamperwatch capturing on the
//! client. Prometheus runs in the client's namespace with a generated
//! configuration (1 s scrapes and rule evaluations) and a test copy of
//! deploy/prometheus/tamperwatch.rules.yml whose windows and `for:`
//! durations are shortened (1h → 1m, 1d → 10m, 15m → 1m, 5m → 30s, every
//! `for:` → 5s; the expressions are unchanged). The test asks Prometheus's
//! HTTP API for `tamperwatch_events_total{signature="rst_injection"}`,
//! compares it with the events written, and waits for the alerts
//! TamperwatchSignatureShareHigh and TamperwatchSignatureAboveBaseline to
//! fire for rst_injection (and TamperwatchGroupAboveBaseline for the
//! watch-list group `lab`, blocked.example), while TamperwatchCaptureDown does not; then
//! evaluates every query of the Grafana dashboard there (each must succeed;
//! the share and watched-group panels must show the events).
//!
//! Needs root, prometheus, nginx, openssl, curl and python3; skipped otherwise.

mod support;

use serde_json::Value;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::censor::{self, curl, TlsWeb, ALLOWED, BLOCKED};
use support::{poll, Guarded, Netns, TamperwatchProc, TwOptions};

const BLOCKED_FETCHES: usize = 6;
const ALLOWED_FETCHES: usize = 3;

fn prerequisites() -> bool {
    if !support::require_root() {
        return false;
    }
    let missing: Vec<&str> = ["prometheus", "nginx", "openssl", "curl", "python3"]
        .into_iter()
        .filter(|p| !censor::have(p))
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: missing {missing:?}");
        return false;
    }
    true
}

/// The rules with test-sized windows and `for:` durations.
fn test_rules() -> String {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/tamperwatch.rules.yml");
    let text = std::fs::read_to_string(p).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let l = if line.trim_start().starts_with("for:") {
            let indent = &line[..line.len() - line.trim_start().len()];
            format!("{indent}for: 5s")
        } else {
            line.replace("[1h]", "[1m]")
                .replace("offset 1h", "offset 1m")
                .replace("[6d] offset 1d", "[10m] offset 10m")
                .replace("[1d]", "[10m]")
                .replace("[15m]", "[1m]")
                .replace("[5m]", "[30s]")
        };
        out.push_str(&l);
        out.push('\n');
    }
    out
}

struct Prometheus {
    proc: Guarded,
    ns: Netns,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(ns: &Netns, target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("tamperwatch.rules.yml"), test_rules()).unwrap();
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{rules:?}]\n\
             scrape_configs:\n  - job_name: tamperwatch\n    static_configs:\n      - targets: [{target:?}]\n        labels: {{instance: lab-vantage}}\n",
            rules = d.join("tamperwatch.rules.yml").display().to_string(),
        );
        let cfg_path = d.join("prometheus.yml");
        std::fs::write(&cfg_path, &cfg).unwrap();
        let mut c = ns.command("prometheus");
        c.arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!("--storage.tsdb.path={}", d.join("data").display()))
            .arg("--web.listen-address=127.0.0.1:9090")
            .arg("--log.level=warn");
        let mut proc = Guarded::spawn(c, &format!("prometheus@{}", ns.name()));
        let ready = poll(Duration::from_secs(30), Duration::from_millis(200), || {
            if let Some(st) = proc.try_status() {
                panic!("prometheus exited ({st}):\n{}", proc.log());
            }
            let out = ns.exec_timeout(
                "curl",
                &["-sf", "--max-time", "2", "http://127.0.0.1:9090/-/ready"],
                Duration::from_secs(4),
            );
            out.status.success().then_some(())
        });
        assert!(
            ready.is_some(),
            "prometheus not ready in 30 s:\n{}",
            proc.log()
        );
        Prometheus {
            proc,
            ns: ns.clone(),
            _dir: dir,
        }
    }

    fn api(&self, path: &str, query: Option<&str>) -> Value {
        let url = format!("http://127.0.0.1:9090{path}");
        let mut args = vec!["-sf", "--max-time", "3", "-G", &url];
        let q;
        if let Some(query) = query {
            q = format!("query={query}");
            args.push("--data-urlencode");
            args.push(&q);
        }
        let out = self.ns.exec_timeout("curl", &args, Duration::from_secs(5));
        assert!(
            out.status.success(),
            "GET {path} {query:?} failed:\n{}",
            self.proc.log()
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["status"], "success", "{v}");
        v["data"].clone()
    }

    /// Instant query: (labels, value) of each series.
    fn query(&self, q: &str) -> Vec<(Value, f64)> {
        let d = self.api("/api/v1/query", Some(q));
        d["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metric"].clone(),
                    r["value"][1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }

    /// Firing alerts: (alertname, labels).
    fn firing(&self) -> Vec<(String, Value)> {
        let d = self.api("/api/v1/alerts", None);
        d["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap().to_string(),
                    a["labels"].clone(),
                )
            })
            .collect()
    }
}

fn start_injector(ns: &Netns, iface: &str) -> (Guarded, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let count_file: PathBuf = dir.path().join("injections.txt");
    let bin = censor::tool("tw-inject");
    let mut proc = ns.spawn(
        bin.to_str().unwrap(),
        &[
            "--iface",
            iface,
            "--ttl",
            "40",
            "--count-file",
            count_file.to_str().unwrap(),
            "--mode",
            "rst",
            "--sni",
            BLOCKED,
            "--host",
            BLOCKED,
        ],
    );
    let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
        (count_file.exists() && proc.log().contains("listening")).then_some(())
    });
    assert!(
        up.is_some() && proc.try_status().is_none(),
        "tw-inject did not start:\n{}",
        proc.log()
    );
    (proc, dir)
}

#[test]
fn prometheus_scrapes_detection_and_alerts_fire() {
    if !prerequisites() {
        return;
    }
    let t0 = Instant::now();
    let (topo, _wire) = censor::client_router_far_server(Duration::from_millis(20));
    let s = &topo.server;
    let _web = TlsWeb::start(&s.ns, &[IpAddr::V4(s.addr4)]);
    let c = &topo.client;
    let mut opts = TwOptions::on(&c.iface, "ring");
    opts.overrides = "[flows]\ntcp_closed_linger = 1\n[vantage]\nname = \"lab-vantage\"\ncountry = \"ZZ\"\nnetwork = \"AS64496\"\n[watch_list]\nlab = [\"blocked.example\"]\n".into();
    let mut tw = TamperwatchProc::start(&c.ns, &opts);
    let prom = Prometheus::start(&c.ns, "127.0.0.1:9874");
    let r = topo.router().clone();
    let (mut inject, _inject_dir) = start_injector(&r.ns, &r.client_iface);
    // Prometheus applies new targets after up to 5 s; rates need the
    // zeros before the first event, so wait for three good scrapes.
    let scraped = poll(Duration::from_secs(30), Duration::from_millis(500), || {
        prom.query(r#"sum_over_time(up{job="tamperwatch"}[1m])"#)
            .first()
            .filter(|(_, v)| *v >= 3.0)
            .map(|_| ())
    });
    assert!(
        scraped.is_some(),
        "Prometheus did not scrape tamperwatch three times in 30 s"
    );
    let scraping_at = t0.elapsed();
    let server = IpAddr::V4(s.addr4);
    let mut blocked = 0;
    for i in 0..BLOCKED_FETCHES.max(ALLOWED_FETCHES) {
        if i < ALLOWED_FETCHES {
            let f = curl(
                &c.ns,
                "https",
                ALLOWED,
                server,
                0,
                "/index.html",
                Duration::from_secs(5),
            );
            assert!(f.ok(), "allowed fetch failed: {f:?}");
        }
        if i < BLOCKED_FETCHES {
            let f = curl(
                &c.ns,
                if i % 2 == 0 { "https" } else { "http" },
                BLOCKED,
                server,
                0,
                "/index.html",
                Duration::from_secs(5),
            );
            assert!(
                f.exit != 0 && f.code == 0,
                "blocked fetch was not reset: {f:?}"
            );
            blocked += 1;
        }
    }
    let fetched = t0.elapsed();

    // The detection series, as Prometheus stored it, equals the events written.
    let q = r#"tamperwatch_events_total{job="tamperwatch",signature="rst_injection"}"#;
    let mut last = Vec::new();
    let counted = poll(Duration::from_secs(20), Duration::from_millis(500), || {
        last = prom.query(q);
        last.first()
            .map(|(_, v)| *v)
            .filter(|v| *v >= blocked as f64)
    });
    let events: Vec<Value> = tw
        .events()
        .into_iter()
        .filter(|e| e["signature"] == "rst_injection")
        .collect();
    assert_eq!(
        counted,
        Some(blocked as f64),
        "Prometheus has {last:?}; events written: {}",
        events.len()
    );
    assert_eq!(events.len(), blocked, "{events:?}");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].0["instance"], "lab-vantage");
    let vantage = prom.query("tamperwatch_vantage_info");
    assert_eq!(vantage.len(), 1);
    assert_eq!(vantage[0].0["country"], "ZZ");
    let detected_at = t0.elapsed();

    // The alerts.
    let mut firing = Vec::new();
    let fired = poll(Duration::from_secs(45), Duration::from_secs(1), || {
        firing = prom.firing();
        let has = |name: &str| {
            firing.iter().any(|(n, l)| {
                n == name && l["signature"] == "rst_injection" && l["instance"] == "lab-vantage"
            })
        };
        (has("TamperwatchSignatureShareHigh")
            && has("TamperwatchSignatureAboveBaseline")
            && has("TamperwatchGroupAboveBaseline"))
        .then_some(())
    });
    let share =
        prom.query(r#"tamperwatch:signature_share:ratio_rate1h{signature="rst_injection"}"#);
    if fired.is_none() {
        let rules = prom.api("/api/v1/rules", None);
        for g in rules["groups"].as_array().unwrap() {
            for r in g["rules"].as_array().unwrap() {
                if r["type"] == "alerting" {
                    eprintln!(
                        "rule {} state {} health {} err {} alerts {}",
                        r["name"], r["state"], r["health"], r["lastError"], r["alerts"]
                    );
                }
            }
        }
        eprintln!(
            "events increase: {:?}",
            prom.query(
                r#"sum by (instance, job, signature) (increase(tamperwatch_events_total[1m]))"#
            )
        );
    }
    assert!(
        fired.is_some(),
        "alerts did not fire in 45 s; firing: {firing:?}; share: {share:?}"
    );
    let names: Vec<&str> = firing.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"TamperwatchCaptureDown"), "{firing:?}");
    assert!(!names.contains(&"TamperwatchExporterDown"), "{firing:?}");
    let blind = prom.query("tamperwatch:vantage_blind");
    assert_eq!(blind.first().map(|b| b.1), Some(0.0), "{blind:?}");
    let up = prom.query(r#"up{job="tamperwatch"}"#);
    assert_eq!(up.first().map(|u| u.1), Some(1.0));
    eprintln!(
        "Prometheus scraping at {scraping_at:?}; fetched at {fetched:?}; Prometheus had {blocked} rst_injection events at {detected_at:?}; \
         alerts firing at {:?} ({names:?}); share {:?}",
        t0.elapsed(),
        share.first().map(|s| s.1)
    );
    // The watched group's share of its own connections (every connection to
    // blocked.example was reset): the recording rules per group.
    let gshare = prom
        .query(r#"tamperwatch:group_share:ratio_rate1h{group="lab",signature="rst_injection"}"#);
    assert!(
        gshare.first().is_some_and(|g| g.1 > 0.5),
        "group share {gshare:?}"
    );
    eprintln!(
        "group lab rst_injection share: {:?}",
        gshare.first().map(|g| g.1)
    );
    // Every query of the Grafana dashboard evaluates on this Prometheus
    // (a matching error such as many-to-many only shows at evaluation), and
    // the detection panels see the events: per signature and per group.
    let mut seen = Vec::new();
    for (title, expr) in dashboard_queries() {
        let r = prom.query(&expr);
        seen.push((title, expr, r));
    }
    let found = |title: &str, label: &str, value: &str| {
        seen.iter().any(|(t, _, r)| {
            t.starts_with(title) && r.iter().any(|(m, v)| m[label] == value && *v > 0.0)
        })
    };
    assert!(
        found("Detections as a share", "signature", "rst_injection"),
        "the share panel shows no rst_injection: {seen:?}"
    );
    assert!(
        found("Watched groups", "group", "lab"),
        "the group panel shows no group lab: {seen:?}"
    );
    assert!(
        found("Top target groups", "group", "lab"),
        "the top groups table shows no group lab: {seen:?}"
    );
    inject.signal(libc::SIGTERM);
    let _ = inject.wait_timeout(Duration::from_secs(5));
    tw.stop();
}

/// (panel title, expr) of every target of deploy/grafana's dashboard, with
/// Grafana's variables replaced as "All" and a 5 minute range.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana/dashboards/tamperwatch.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().unwrap().iter().collect();
    while let Some(p) = stack.pop() {
        stack.extend(p["panels"].as_array().into_iter().flatten());
        for t in p["targets"].as_array().into_iter().flatten() {
            let e = t["expr"].as_str().unwrap();
            let e = ["instance", "signature", "country", "vantage", "group"]
                .iter()
                .fold(e.to_string(), |e, v| e.replace(&format!("${v}"), ".*"))
                .replace("$__rate_interval", "1m")
                .replace("$__range", "5m");
            out.push((p["title"].as_str().unwrap_or("").to_string(), e));
        }
    }
    assert!(out.len() > 10, "{out:?}");
    out
}
