//! The tamperwatch daemon running inside a namespace, with a generated
//! configuration in a tempdir, scraped over HTTP from inside the namespace.

use super::netns::{Guarded, Netns};
use super::{metric_value, poll, run_bounded};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// How to start the daemon.
#[derive(Debug, Clone)]
pub struct TwOptions {
    /// `capture.interfaces`.
    pub interfaces: Vec<String>,
    /// `capture.backend`: "ring" or "pnet".
    pub backend: String,
    /// `metrics.listen`, inside the namespace.
    pub listen: String,
    /// Extra TOML merged over the generated file (tables are merged key by
    /// key), e.g. `"[flows]\ntcp_closed_linger = 1\n"`.
    pub overrides: String,
    /// Extra command-line arguments after `run -c FILE`.
    pub args: Vec<String>,
    /// `TAMPERWATCH_LOG` (e.g. "debug").
    pub log_level: String,
    /// How long to wait for `/metrics` to answer.
    pub start_timeout: Duration,
}

impl Default for TwOptions {
    fn default() -> Self {
        TwOptions {
            interfaces: Vec::new(),
            backend: "ring".into(),
            listen: "127.0.0.1:9874".into(),
            overrides: String::new(),
            args: Vec::new(),
            log_level: "info".into(),
            start_timeout: Duration::from_secs(15),
        }
    }
}

impl TwOptions {
    /// Capturing on `iface` with `backend`.
    pub fn on(iface: &str, backend: &str) -> TwOptions {
        TwOptions {
            interfaces: vec![iface.to_string()],
            backend: backend.to_string(),
            ..Default::default()
        }
    }
}

/// The built binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_tamperwatch")
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The generated configuration text for `opts` with files in `dir`.
pub fn config_text(opts: &TwOptions, dir: &Path) -> String {
    let mut t: toml::Table = toml::toml! {
        [capture]
        ring_size_mib = 16
        block_size_kib = 256
        block_timeout_ms = 50

        [pipeline]
        workers = 1

        [flows]
        tcp_closed_linger = 1

        [events]
        rotate_size_mib = 0

        [log]
        format = "text"
    };
    let cap = t["capture"].as_table_mut().unwrap();
    cap.insert(
        "interfaces".into(),
        toml::Value::Array(
            opts.interfaces
                .iter()
                .map(|i| toml::Value::String(i.clone()))
                .collect(),
        ),
    );
    cap.insert("backend".into(), opts.backend.clone().into());
    t["events"].as_table_mut().unwrap().insert(
        "file".into(),
        dir.join("events.jsonl").display().to_string().into(),
    );
    let mut m = toml::Table::new();
    m.insert("listen".into(), opts.listen.clone().into());
    t.insert("metrics".into(), m.into());
    if !opts.overrides.is_empty() {
        let over: toml::Table = opts
            .overrides
            .parse()
            .unwrap_or_else(|e| panic!("bad TwOptions::overrides: {e}"));
        merge(&mut t, over);
    }
    toml::to_string(&t).expect("serialise config")
}

/// A running `tamperwatch run` inside a namespace. Killed on drop (its
/// output is printed if the test is panicking).
#[derive(Debug)]
pub struct TamperwatchProc {
    ns: Netns,
    proc: Guarded,
    dir: tempfile::TempDir,
    listen: String,
    config: String,
    started: Instant,
}

/// How the daemon ended.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// From the signal to the exit.
    pub took: Duration,
    pub stderr: String,
}

impl TamperwatchProc {
    /// Writes the config, starts `tamperwatch run -c CONFIG` in `ns` and
    /// waits until `/metrics` answers; panics with the daemon's output if
    /// it exits or does not answer in time.
    pub fn start(ns: &Netns, opts: &TwOptions) -> TamperwatchProc {
        let mut tw = Self::spawn(ns, opts);
        let ok = poll(opts.start_timeout, Duration::from_millis(100), || {
            if let Some(st) = tw.proc.try_status() {
                panic!(
                    "tamperwatch exited during start-up ({st}):\n{}\n--- config ---\n{}",
                    tw.stderr(),
                    tw.config
                );
            }
            tw.try_scrape()
                .filter(|t| t.contains("tamperwatch_"))
                .map(|_| ())
        });
        if ok.is_none() {
            panic!(
                "tamperwatch /metrics on {} did not answer within {:?}:\n{}",
                tw.listen,
                opts.start_timeout,
                tw.stderr()
            );
        }
        tw
    }

    /// Writes the config and starts the daemon without waiting for it.
    pub fn spawn(ns: &Netns, opts: &TwOptions) -> TamperwatchProc {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_text(opts, dir.path());
        let cfg_path = dir.path().join("tamperwatch.toml");
        std::fs::write(&cfg_path, &config).expect("write config");
        let mut c = ns.command(binary());
        c.arg("run").arg("-c").arg(&cfg_path).args(&opts.args);
        c.env("TAMPERWATCH_LOG", &opts.log_level);
        let proc = Guarded::spawn(c, &format!("tamperwatch@{}", ns.name()));
        TamperwatchProc {
            ns: ns.clone(),
            proc,
            dir,
            listen: opts.listen.clone(),
            config,
            started: Instant::now(),
        }
    }

    /// The daemon's exit status, if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.proc.try_status()
    }

    /// The metrics text, or `None` if the endpoint does not answer.
    pub fn try_scrape(&self) -> Option<String> {
        let url = format!("http://{}/metrics", self.listen);
        let mut c = self.ns.command("curl");
        c.args(["-sf", "--max-time", "3", &url]);
        let out = run_bounded(c, Duration::from_secs(5));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The metrics text; panics (with the daemon's output) on failure.
    pub fn scrape(&self) -> String {
        self.try_scrape().unwrap_or_else(|| {
            panic!(
                "scraping http://{}/metrics failed; tamperwatch output:\n{}",
                self.listen,
                self.stderr()
            )
        })
    }

    /// GET `path` (e.g. "/healthz") from inside the namespace: (HTTP
    /// status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.listen);
        let mut c = self.ns.command("curl");
        c.args(["-s", "--max-time", "3", "-w", "\n%{http_code}", &url]);
        let out = run_bounded(c, Duration::from_secs(5));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// One metric from a fresh scrape (see [`metric_value`]).
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        metric_value(&self.scrape(), name, labels)
    }

    /// Scrapes every 100 ms until `pred(text)` holds, at most `timeout`.
    /// Returns the last scrape and whether `pred` held.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> (String, bool) {
        let mut last = String::new();
        let ok = poll(timeout, Duration::from_millis(100), || {
            last = self.scrape();
            pred(&last).then_some(())
        });
        (last, ok.is_some())
    }

    /// The daemon's stderr (and stdout) so far.
    pub fn stderr(&self) -> String {
        self.proc.log()
    }

    /// The generated configuration.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The tempdir holding config, events file, etc.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The events file path.
    pub fn events_path(&self) -> PathBuf {
        self.dir.path().join("events.jsonl")
    }

    /// Events written so far, one JSON value per line; panics on a line
    /// that is not JSON. Empty if the file does not exist.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.events_path()).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("events line {}: {e}: {l}", i + 1))
            })
            .collect()
    }

    /// The events of one signature written so far (see [`Self::events`]).
    #[allow(dead_code)]
    pub fn events_of(&self, signature: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["signature"] == signature)
            .collect()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Time since the start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends SIGTERM and waits at most `timeout` for the exit; panics (with
    /// the output) if the daemon does not exit in time.
    pub fn stop_within(&mut self, timeout: Duration) -> Stopped {
        let t0 = Instant::now();
        self.proc.signal(libc::SIGTERM);
        match self.proc.wait_timeout(timeout) {
            Some(status) => Stopped {
                status,
                took: t0.elapsed(),
                stderr: self.stderr(),
            },
            None => {
                self.proc.kill();
                panic!(
                    "tamperwatch did not exit within {timeout:?} of SIGTERM:\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// SIGTERM, wait (≤ 10 s), assert exit status 0.
    pub fn stop(&mut self) -> Stopped {
        let s = self.stop_within(Duration::from_secs(10));
        assert!(
            s.status.success(),
            "tamperwatch exited with {} after SIGTERM:\n{}",
            s.status,
            s.stderr
        );
        s
    }

    /// Waits at most `timeout` for the daemon to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.proc.wait_timeout(timeout)
    }
}

impl Drop for TamperwatchProc {
    fn drop(&mut self) {
        let running = self.proc.try_status().is_none();
        self.proc.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- tamperwatch output ({}) ---\n{}--- config ---\n{}",
                if running { "killed" } else { "exited" },
                self.stderr(),
                self.config
            );
        }
    }
}
