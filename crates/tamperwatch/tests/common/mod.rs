//! Helpers shared by the replay-based integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `../shared/corpus` beside the checkout, if present.
pub fn corpus() -> Option<PathBuf> {
    let p = root().join("../shared/corpus");
    p.is_dir().then_some(p)
}

/// Result of one `tamperwatch replay` run.
#[derive(Debug)]
pub struct Replay {
    pub status: i32,
    pub stderr: String,
    pub metrics: String,
    pub events: Vec<serde_json::Value>,
}

/// Runs `tamperwatch replay` on `files` with extra args.
pub fn replay(files: &[PathBuf], extra: &[&str]) -> Replay {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("metrics.prom");
    let e = dir.path().join("events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("replay")
        .arg("--metrics-out")
        .arg(&m)
        .arg("--events")
        .arg(&e)
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    let metrics = std::fs::read_to_string(&m).unwrap_or_default();
    let events = std::fs::read_to_string(&e)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every event line is complete JSON"))
        .collect();
    Replay {
        status: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        metrics,
        events,
    }
}

/// The value of a sample `name{labels}` in a text exposition (labels given
/// must all match; others are ignored). Sums when several series match.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.rsplit_once(' ') {
            Some(x) => x,
            None => continue,
        };
        let (n, l) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if n != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| l.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
        {
            let v: f64 = value.parse().unwrap();
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

/// Packets as counted by tcpdump, when it is installed.
pub fn tcpdump_count(file: &Path) -> Option<u64> {
    let out = Command::new("tcpdump")
        .arg("-nn")
        .arg("-r")
        .arg(file)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(out.stdout.iter().filter(|&&b| b == b'\n').count() as u64)
}
