//! Test support shared by tamperwatch's integration tests: network
//! namespaces joined by veth pairs ([`netns`]), a web server inside one
//! ([`web`]), the tamperwatch daemon inside one ([`daemon`]), a Prometheus
//! text parser ([`metric_value`]) and a bounded command runner.
//!
//! Everything that touches the network needs root; call [`require_root`]
//! first and return when it says no:
//!
//! ```ignore
//! mod support;
//! #[test]
//! fn t() {
//!     if !support::require_root() { return; }
//!     let topo = support::Topology::two_hosts();
//!     ...
//! }
//! ```
//!
//! Each test file compiles this module separately and uses part of it.
#![allow(dead_code, unused_imports)]

pub mod censor;
pub mod daemon;
pub mod dns;
pub mod injector;
pub mod netns;
pub mod pcap;
pub mod quic;
pub mod web;

pub use daemon::{TamperwatchProc, TwOptions};
pub use netns::{wait_for_tcp, Guarded, Host, Netns, Router, Topology};
pub use web::WebServer;

use std::io::Read;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// True when this process can create network namespaces (root, `ip netns`
/// working). Otherwise prints why the test is skipped and returns false;
/// the caller returns early.
pub fn require_root() -> bool {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = OK.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root".into());
        }
        netns::probe()
    });
    match r {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipped: needs root and network namespaces ({why})");
            false
        }
    }
}

/// [`require_root`], and every program of `tools` on the PATH; otherwise
/// prints what is missing (the test is skipped) and returns false.
pub fn require_root_and(tools: &[&str]) -> bool {
    if !require_root() {
        return false;
    }
    let missing: Vec<&str> = tools.iter().copied().filter(|p| !censor::have(p)).collect();
    if !missing.is_empty() {
        eprintln!("skipped: missing {missing:?}");
        return false;
    }
    true
}

/// Runs `cmd` with stdin closed, collecting stdout and stderr, for at most
/// `timeout`; on timeout the process is killed and "(timed out after ..)"
/// is appended to stderr (the status is then the kill's).
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let (status, timed_out) = wait_bounded(&mut child, timeout);
    let stdout = t_out.join().unwrap_or_default();
    let mut stderr = t_err.join().unwrap_or_default();
    if timed_out {
        stderr.extend_from_slice(format!("(timed out after {timeout:?})").as_bytes());
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Waits for `child` at most `timeout`; kills it when time is up. Returns
/// the status and whether it timed out.
pub fn wait_bounded(child: &mut std::process::Child, timeout: Duration) -> (ExitStatus, bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return (s, false),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                let s = child.wait().expect("wait after kill");
                return (s, true);
            }
        }
    }
}

/// Panics with the command's output unless it succeeded; returns stdout.
pub fn check_output(what: &str, out: &Output) -> String {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout`
/// (always at least one call). Returns the last `Some`, or `None`.
pub fn poll<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The value of the Prometheus series `name` in exposition `text` whose
/// labels include every `(label, value)` pair given; when several series
/// match (e.g. no labels given for a labelled family) their sum. `None`
/// when no series matches.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found: Option<f64> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, series_labels, value)) = parse_sample(line) else {
            continue;
        };
        if series != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| series_labels.iter().any(|(sk, sv)| sk == k && sv == v))
        {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// A sample's labels: (name, value) pairs.
type Labels = Vec<(String, String)>;

/// One sample line: name, labels, value (a timestamp after it is ignored).
fn parse_sample(line: &str) -> Option<(&str, Labels, f64)> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut end = None;
        loop {
            // Skip separators.
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' || c == ' ' {
                    chars.next();
                } else {
                    break;
                }
            }
            match chars.peek() {
                Some(&(i, '}')) => {
                    end = Some(i + 1);
                    break;
                }
                None => break,
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return None;
            }
            let mut val = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => val.push('\n'),
                        Some(o) => val.push(o),
                        None => return None,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    o => val.push(o),
                }
            }
            if !closed {
                return None;
            }
            labels.push((key.trim().to_string(), val));
        }
        rest = &r[end?..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::metric_value;

    #[test]
    fn parses_exposition() {
        let t = "# HELP x_total X.\n# TYPE x_total counter\n\
                 x_total{proto=\"tcp\"} 12\nx_total{proto=\"udp\"} 3\n\
                 y 1.5\nz{a=\"q\\\"u,o}te\",b=\"2\"} 7 1700000000\n";
        assert_eq!(metric_value(t, "x_total", &[("proto", "tcp")]), Some(12.0));
        assert_eq!(metric_value(t, "x_total", &[]), Some(15.0));
        assert_eq!(metric_value(t, "x_total", &[("proto", "icmp")]), None);
        assert_eq!(metric_value(t, "y", &[]), Some(1.5));
        assert_eq!(
            metric_value(t, "z", &[("a", "q\"u,o}te"), ("b", "2")]),
            Some(7.0)
        );
        assert_eq!(metric_value(t, "x", &[]), None);
    }
}
