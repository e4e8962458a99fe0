//! The Prometheus side of deploy/: `promtool check rules`, the rule unit
//! tests (`promtool test rules`, every alert covered by a firing case),
//! `promtool check config` on the shipped configurations, and
//! `promtool check metrics` on a scrape written by a replay.
//!
//! Needs promtool (Debian's `prometheus` package); skipped without it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn promtool() -> bool {
    let ok = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: promtool not installed (apt-get install prometheus)");
    }
    ok
}

/// Runs promtool with `args` in `dir`; panics with its output on failure.
fn promtool_ok(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

fn rules_file() -> PathBuf {
    repo().join("deploy/prometheus/tamperwatch.rules.yml")
}

fn test_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/prometheus/tests"))
        .expect("deploy/prometheus/tests")
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    v.sort();
    v
}

/// `- alert: NAME` and `- record: NAME` entries of the rules file.
fn rule_names(kind: &str) -> Vec<String> {
    let text = std::fs::read_to_string(rules_file()).unwrap();
    let key = format!("- {kind}:");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(&key))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn rules_are_valid() {
    if !promtool() {
        return;
    }
    let out = promtool_ok(&repo(), &["check", "rules", rules_file().to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn rule_unit_tests_pass() {
    if !promtool() {
        return;
    }
    let files = test_files();
    assert!(files.len() >= 3, "{files:?}");
    let dir = repo().join("deploy/prometheus/tests");
    let mut args = vec!["test", "rules"];
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    args.extend(names.iter().map(String::as_str));
    let t0 = std::time::Instant::now();
    let out = promtool_ok(&dir, &args);
    assert_eq!(out.matches("SUCCESS").count(), files.len(), "{out}");
    eprintln!(
        "promtool test rules: {} files in {:?}",
        files.len(),
        t0.elapsed()
    );
}

/// Every alert has a test case in which it fires (an `alertname:` followed
/// by `exp_labels` before the next case), and every recording rule is
/// evaluated by some test.
#[test]
fn every_rule_is_tested() {
    let tests: Vec<String> = test_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let alerts = rule_names("alert");
    assert!(alerts.len() >= 10, "{alerts:?}");
    let mut untested = Vec::new();
    for a in &alerts {
        let fires = tests.iter().any(|t| {
            t.split("alertname:").skip(1).any(|case| {
                case.trim_start().starts_with(&format!("{a}\n")) && case.contains("exp_labels")
            })
        });
        if !fires {
            untested.push(a.clone());
        }
    }
    assert!(
        untested.is_empty(),
        "alerts without a firing test case: {untested:?}"
    );
    // ... and a row in the operator guide's alert table.
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operator-guide.md"),
    )
    .unwrap();
    let undocumented: Vec<&String> = alerts
        .iter()
        .filter(|a| !guide.contains(&format!("| `{a}` |")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "alerts missing from docs/operator-guide.md#alerts: {undocumented:?}"
    );
    // Recording rules: used by a test, or (transitively) by an alert or
    // another exercised recording rule.
    let all = tests.join("\n");
    let rules = std::fs::read_to_string(rules_file()).unwrap();
    let blocks: Vec<(bool, String, String)> = rules
        .split("\n      - ")
        .skip(1)
        .filter_map(|b| {
            let (kind, rest) = b.split_once(':')?;
            let name = rest.lines().next()?.trim().to_string();
            Some((kind == "alert", name, rest.to_string()))
        })
        .collect();
    let mut exercised: Vec<String> = blocks
        .iter()
        .filter(|(is_alert, ..)| *is_alert)
        .map(|(_, _, body)| body.clone())
        .collect();
    exercised.push(all);
    loop {
        let before = exercised.len();
        for (is_alert, name, body) in &blocks {
            if !is_alert
                && exercised.iter().any(|e| e.contains(name.as_str()))
                && !exercised.contains(body)
            {
                exercised.push(body.clone());
            }
        }
        if exercised.len() == before {
            break;
        }
    }
    for r in rule_names("record") {
        assert!(
            exercised.iter().any(|e| e.contains(&r)),
            "recording rule {r} is not exercised by any test"
        );
    }
}

#[test]
fn shipped_configs_are_valid() {
    if !promtool() {
        return;
    }
    let d = repo().join("deploy/prometheus");
    promtool_ok(&d, &["check", "config", "prometheus.yml"]);
    promtool_ok(&d, &["check", "config", "central.yml"]);
    promtool_ok(&d, &["check", "config", "--agent", "agent.yml"]);
}

/// A replay's exposition passes `promtool check metrics` (the linter of
/// metric names, types, units and help).
#[test]
fn replay_scrape_passes_check_metrics() {
    if !promtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("metrics.prom");
    let fixtures = repo().join("tests/fixtures");
    let out = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("-q")
        .arg("--events")
        .arg(dir.path().join("events.jsonl"))
        .arg("--metrics-out")
        .arg(&prom)
        .arg(fixtures.join("rst_inject_gfw_burst.pcap"))
        .arg(fixtures.join("dns_inject_race_iran.pcap"))
        .arg(fixtures.join("mixed_small.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("tamperwatch_events_total{signature=\"rst_injection\"}"));
    let out = Command::new("sh")
        .arg("-c")
        .arg("promtool check metrics < \"$1\"")
        .arg("sh")
        .arg(&prom)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}
