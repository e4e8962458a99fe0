//! Configuration: `config/tamperwatch.toml` is both the documented file and
//! the embedded default.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The documented default configuration, embedded.
pub const DEFAULT_TOML: &str = include_str!("../../../config/tamperwatch.toml");

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub capture: Capture,
    pub pipeline: Pipeline,
    pub flows: Flows,
    pub rst_injection: RstInjection,
    pub dns_injection: DnsInjection,
    pub http_injection: HttpInjection,
    pub blackhole: Blackhole,
    pub throttling: Throttling,
    pub watch_list: std::collections::BTreeMap<String, Vec<String>>,
    pub events: Events,
    pub metrics: MetricsCfg,
    pub vantage: Vantage,
    pub log: Log,
    pub security: Security,
    /// The DNS fingerprint lists, loaded when the configuration is.
    #[serde(skip)]
    pub dns_fingerprints: std::sync::Arc<tw_detect::fingerprints::DnsFingerprints>,
    /// The HTTP block-page lists, loaded when the configuration is.
    #[serde(skip)]
    pub http_fingerprints: std::sync::Arc<tw_detect::fingerprints::HttpFingerprints>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Ring,
    Pnet,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub interfaces: Vec<String>,
    pub backend: Backend,
    pub ring_size_mib: u32,
    pub block_size_kib: u32,
    pub block_timeout_ms: u32,
    pub snaplen: u32,
    pub promiscuous: bool,
    pub fanout: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Flows {
    pub memory_limit_mib: u64,
    pub max_flows: usize,
    pub max_unconfirmed: usize,
    pub max_servers: usize,
    pub tcp_unconfirmed_timeout: u32,
    pub tcp_handshake_timeout: u32,
    pub tcp_established_timeout: u32,
    pub tcp_closing_timeout: u32,
    pub tcp_closed_linger: u32,
    pub udp_timeout: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RstInjection {
    pub enabled: bool,
    pub ttl_tolerance: u8,
    pub too_fast_share: f64,
    pub min_rtt_for_timing_ms: u32,
    pub idle_reset_after_secs: u32,
    pub min_score: f64,
    pub local_resets: LocalResets,
}

/// `rst_injection.local_resets`: what to do with a reset from the first hop.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LocalResets {
    Report,
    Count,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsInjection {
    pub enabled: bool,
    pub ttl_tolerance: u8,
    pub too_fast_share: f64,
    pub min_rtt_for_timing_ms: u32,
    pub min_baseline_answers: u8,
    pub min_score: f64,
    pub path_hold_secs: u32,
    pub local_zones: Vec<String>,
    pub builtin_fingerprints: bool,
    pub fingerprint_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpInjection {
    pub enabled: bool,
    pub ttl_tolerance: u8,
    pub min_score: f64,
    pub builtin_fingerprints: bool,
    pub fingerprint_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Blackhole {
    pub enabled: bool,
    pub residual_window_secs: u32,
    pub contrast_window_secs: u32,
    pub pmtu_suspect_bytes: u32,
    pub ignore_quic: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Throttling {
    pub enabled: bool,
    pub min_duration_secs: u32,
    pub contrast_factor: f64,
    pub history_factor: f64,
    pub history_min_flows: u32,
    pub history_max_age_hours: u32,
    pub reference_min_kib: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Events {
    pub file: String,
    pub rotate_size_mib: u64,
    pub rotate_keep: u32,
    pub stdout: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsCfg {
    pub listen: String,
    /// Prometheus exporter-toolkit web configuration (TLS, basic auth);
    /// empty: plain HTTP, no authentication.
    #[serde(default)]
    pub web_config_file: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Vantage {
    pub name: String,
    pub country: String,
    pub network: String,
    /// The vantage point's own addresses, for replays (a live run adds its
    /// interfaces' addresses): connections to them are not judged as
    /// `blackhole`.
    #[serde(default)]
    pub local_addresses: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// The user `tamperwatch run` switches to after opening its captures,
    /// its listener and its event file, when started as root. Empty: stay
    /// the starting user (capabilities are dropped either way).
    pub user: String,
}

/// A partial file: every key optional, merged over the defaults.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv @ toml::Value::Table(_)) if v.is_table() => merge(bv, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

impl Config {
    /// The embedded defaults.
    pub fn defaults() -> Config {
        // The embedded file is checked by a unit test; should it ever fail
        // to parse, the error is reported like any other config error.
        Self::parse_str(DEFAULT_TOML, "built-in defaults").unwrap_or_else(|e| {
            eprintln!("{e:#}");
            std::process::exit(1)
        })
    }

    /// Parses a complete or partial file; keys not given keep their defaults.
    /// Unknown keys and bad values are errors with line and column.
    pub fn parse_str(text: &str, name: &str) -> Result<Config> {
        Self::parse_in(text, name, None)
    }

    /// Like [`Config::parse_str`], with relative paths resolved in `base_dir`.
    pub fn parse_in(text: &str, name: &str, base_dir: Option<&Path>) -> Result<Config> {
        let over: toml::Value = toml::from_str(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let mut base: toml::Value = toml::from_str(DEFAULT_TOML).context("built-in defaults")?;
        if name != "built-in defaults" {
            // Check the file against the schema on its own first, so that
            // unknown keys are reported with their position in *this* file.
            check_keys(text, name)?;
        }
        merge(&mut base, over);
        let mut cfg: Config = base
            .try_into()
            .map_err(|e: toml::de::Error| anyhow::anyhow!("{name}: {e}"))?;
        cfg.validate()
            .with_context(|| format!("{name}: invalid value"))?;
        cfg.load_fingerprints(base_dir)?;
        if let Some(b) = base_dir {
            cfg.resolve_paths(b)?;
        }
        Ok(cfg)
    }

    /// Makes the file's relative paths relative to its directory, as the
    /// fingerprint lists (and the web configuration's certificate files,
    /// and Prometheus' own files) are, not to the working directory, which
    /// is `/` under systemd and wherever the operator stands for
    /// `check-config`. Paths given on the command line stay relative to the
    /// working directory.
    fn resolve_paths(&mut self, base_dir: &Path) -> Result<()> {
        for (key, value) in [
            ("events.file", &mut self.events.file),
            ("metrics.web_config_file", &mut self.metrics.web_config_file),
        ] {
            if value.is_empty() || Path::new(value.as_str()).is_absolute() {
                continue;
            }
            let joined = base_dir.join(value.as_str());
            *value = joined.into_os_string().into_string().map_err(|p| {
                anyhow::anyhow!(
                    "{key}: {value:?} is relative and the configuration's directory {} is not UTF-8: \
                     give an absolute path",
                    Path::new(&p).display()
                )
            })?;
        }
        // (read relative to it already; stored resolved so that the
        // effective configuration check-config prints reads the same files
        // from anywhere: found in review, session 16)
        for p in self
            .dns_injection
            .fingerprint_files
            .iter_mut()
            .chain(self.http_injection.fingerprint_files.iter_mut())
        {
            if p.is_relative() {
                let joined = base_dir.join(&*p);
                if joined.to_str().is_none() {
                    // (the effective configuration is TOML: UTF-8 only)
                    bail!(
                        "fingerprint_files: {} is relative and the configuration's directory is \
                         not UTF-8: give an absolute path",
                        p.display()
                    );
                }
                *p = joined;
            }
        }
        Ok(())
    }

    /// Reads the DNS fingerprint lists (relative paths are relative to the
    /// configuration file's directory).
    fn load_fingerprints(&mut self, base_dir: Option<&Path>) -> Result<()> {
        use tw_detect::fingerprints::DnsFingerprints;
        let d = &self.dns_injection;
        let mut f = if d.builtin_fingerprints {
            DnsFingerprints::builtin()?
        } else {
            DnsFingerprints::default()
        };
        for p in &d.fingerprint_files {
            let path = match base_dir {
                Some(b) if p.is_relative() => b.join(p),
                _ => p.clone(),
            };
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "dns_injection.fingerprint_files: reading {}",
                    path.display()
                )
            })?;
            f.add_list(&path.display().to_string(), &text)?;
        }
        self.dns_fingerprints = std::sync::Arc::new(f);
        let h = &self.http_injection;
        let mut hf = if h.builtin_fingerprints {
            tw_detect::fingerprints::HttpFingerprints::builtin()?
        } else {
            tw_detect::fingerprints::HttpFingerprints::default()
        };
        for p in &h.fingerprint_files {
            let path = match base_dir {
                Some(b) if p.is_relative() => b.join(p),
                _ => p.clone(),
            };
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "http_injection.fingerprint_files: reading {}",
                    path.display()
                )
            })?;
            hf.add_ooni_csv(&path.display().to_string(), &text)?;
        }
        self.http_fingerprints = std::sync::Arc::new(hf);
        Ok(())
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        // the file's directory, made absolute: a path relative to it must
        // not stay relative to the working directory (`check-config
        // sub/tw.toml` prints paths usable from anywhere)
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Self::parse_in(&text, &path.display().to_string(), Some(&dir))
    }

    /// Loads `path` or the defaults.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config> {
        match path {
            Some(p) => Self::load(p),
            None => Ok(Self::defaults()),
        }
    }

    fn validate(&self) -> Result<()> {
        let c = &self.capture;
        if c.ring_size_mib == 0 || c.ring_size_mib > 4096 {
            bail!(
                "capture.ring_size_mib must be 1..=4096 (got {})",
                c.ring_size_mib
            );
        }
        if !c.block_size_kib.is_power_of_two() || c.block_size_kib < 4 || c.block_size_kib > 65536 {
            bail!(
                "capture.block_size_kib must be a power of two from 4 to 65536 (got {})",
                c.block_size_kib
            );
        }
        if u64::from(c.block_size_kib) > u64::from(c.ring_size_mib) * 1024 {
            bail!("capture.block_size_kib is larger than the ring");
        }
        // the kernel's TPACKET_V3 ring: 2 to 65,536 blocks (as the ring
        // itself checks when it opens)
        let blocks = u64::from(c.ring_size_mib) * 1024 / u64::from(c.block_size_kib);
        if !(2..=65_536).contains(&blocks) {
            bail!(
                "capture.ring_size_mib / capture.block_size_kib must give 2..=65536 blocks (got {blocks}: {} MiB in blocks of {} KiB)",
                c.ring_size_mib,
                c.block_size_kib
            );
        }
        if c.block_timeout_ms == 0 || c.block_timeout_ms > 10_000 {
            bail!(
                "capture.block_timeout_ms must be 1..=10000 (got {})",
                c.block_timeout_ms
            );
        }
        if !(64..=262_144).contains(&c.snaplen) {
            bail!("capture.snaplen must be 64..=262144 (got {})", c.snaplen);
        }
        if !(1..=64).contains(&c.fanout) {
            bail!("capture.fanout must be 1..=64 (got {})", c.fanout);
        }
        if self.pipeline.workers > 256 {
            bail!("pipeline.workers must be at most 256");
        }
        let f = &self.flows;
        if f.max_flows == 0 || f.max_unconfirmed == 0 || f.max_servers == 0 {
            bail!("flows.max_flows, max_unconfirmed and max_servers must be positive");
        }
        if f.max_flows > 50_000_000 || f.max_unconfirmed > 50_000_000 || f.max_servers > 50_000_000
        {
            bail!("flows table sizes above 50,000,000 are not supported");
        }
        if f.memory_limit_mib > 1 << 20 {
            bail!("flows.memory_limit_mib must be at most 1048576 (1 TiB)");
        }
        self.check_memory_ceiling()?;
        for (k, v) in [
            ("tcp_unconfirmed_timeout", f.tcp_unconfirmed_timeout),
            ("tcp_handshake_timeout", f.tcp_handshake_timeout),
            ("tcp_established_timeout", f.tcp_established_timeout),
            ("tcp_closing_timeout", f.tcp_closing_timeout),
            ("tcp_closed_linger", f.tcp_closed_linger),
            ("udp_timeout", f.udp_timeout),
        ] {
            if v == 0 {
                bail!("flows.{k} must be at least 1 second");
            }
        }
        let r = &self.rst_injection;
        if r.ttl_tolerance == 0 {
            bail!("rst_injection.ttl_tolerance must be at least 1");
        }
        if !(0.0..=1.0).contains(&r.too_fast_share) {
            bail!("rst_injection.too_fast_share must be between 0 and 1");
        }
        if !(0.0..=2.0).contains(&r.min_score) {
            bail!("rst_injection.min_score must be between 0 and 2");
        }
        let d = &self.dns_injection;
        // (a NaN is in no range: refused too)
        if !(0.0..=2.0).contains(&d.min_score) {
            bail!("dns_injection.min_score must be between 0 and 2");
        }
        if self.http_injection.ttl_tolerance == 0 {
            // (a difference of 0 would be a mismatch: every response)
            bail!("http_injection.ttl_tolerance must be at least 1");
        }
        if !(0.0..=2.0).contains(&self.http_injection.min_score) {
            bail!("http_injection.min_score must be between 0 and 2");
        }
        if !(0.0..=1.0).contains(&d.too_fast_share) {
            bail!("dns_injection.too_fast_share must be between 0 and 1");
        }
        if d.min_baseline_answers == 0 || d.min_baseline_answers > 8 {
            bail!("dns_injection.min_baseline_answers must be 1..=8");
        }
        if d.path_hold_secs > 3600 {
            // (a resolver's entry outlives its last packet by an hour)
            bail!("dns_injection.path_hold_secs must be 0..=3600");
        }
        // A longer contrast window would keep a server's answer "recent"
        // after the own network's answers count as the link working again
        // (10 minutes without answers from beyond it): a carrier's cut-off
        // would then read as the server blocking its client (found in
        // review, session 25).
        let link_window = tw_detect::link::LOCAL_WINDOW / tw_detect::time::SECOND;
        if i64::from(self.blackhole.contrast_window_secs) > link_window {
            bail!(
                "blackhole.contrast_window_secs must be at most {link_window} (the link clock's \
                 own-network window; docs/signatures/blackhole.md)"
            );
        }
        let t = &self.throttling;
        if !(5..=3600).contains(&t.min_duration_secs) {
            bail!("throttling.min_duration_secs must be 5..=3600");
        }
        if !(1.5..=1000.0).contains(&t.contrast_factor) {
            bail!("throttling.contrast_factor must be between 1.5 and 1000");
        }
        if !(2.0..=1000.0).contains(&t.history_factor) {
            bail!("throttling.history_factor must be between 2 and 1000");
        }
        if t.history_min_flows == 0 || !(1..=87_600).contains(&t.history_max_age_hours) {
            bail!(
                "throttling.history_min_flows must be positive and history_max_age_hours 1..=87600"
            );
        }
        if !(16..=1 << 30).contains(&t.reference_min_kib) {
            bail!("throttling.reference_min_kib must be 16..=1073741824 (1 TiB)");
        }
        let e = &self.events;
        if e.rotate_size_mib > 1 << 20 {
            bail!("events.rotate_size_mib must be at most 1048576 (1 TiB; 0: never rotate)");
        }
        if e.rotate_keep > 1000 {
            bail!("events.rotate_keep must be at most 1000 (0: keep no rotated file)");
        }
        self.watch()?;
        self.listen_addr()?;
        if self.security.user.contains('\0') {
            bail!("security.user must not contain NUL");
        }
        Ok(())
    }

    /// The compiled watch list (empty groups dropped).
    pub fn watch(&self) -> Result<tw_detect::watch::WatchList> {
        let groups = self
            .watch_list
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(g, p)| (g.as_str(), p.as_slice()));
        Ok(tw_detect::watch::WatchList::new(groups)?)
    }

    /// The metrics registry for this configuration (vantage labels, watch groups).
    pub fn new_metrics(&self) -> tw_metrics::Metrics {
        let m = tw_metrics::Metrics::new(crate::vantage(self));
        if let Ok(w) = self.watch() {
            m.set_watch_groups(&w.names());
        }
        m
    }

    /// The web configuration of the metrics endpoint (TLS, basic auth), if
    /// one is set: read now, with the files it names (call it before
    /// dropping privileges).
    pub fn web_config(&self) -> Result<Option<tw_metrics::web::WebConfig>> {
        if self.metrics.web_config_file.is_empty() {
            return Ok(None);
        }
        let p = Path::new(&self.metrics.web_config_file);
        Ok(Some(tw_metrics::web::WebConfig::load(p).with_context(
            || format!("metrics.web_config_file {}", p.display()),
        )?))
    }

    /// The metrics listen address.
    pub fn listen_addr(&self) -> Result<SocketAddr> {
        self.metrics.listen.parse().with_context(|| {
            format!(
                "metrics.listen: {:?} is not an address:port",
                self.metrics.listen
            )
        })
    }

    /// The event file, if any.
    pub fn event_file(&self) -> Option<PathBuf> {
        (!self.events.file.is_empty()).then(|| PathBuf::from(&self.events.file))
    }

    /// Worker count after resolving 0 (auto): one per CPU core, minus one
    /// for the capture thread.
    pub fn workers(&self) -> usize {
        match self.pipeline.workers {
            0 => cpu_cores().saturating_sub(1).max(1),
            n => n,
        }
    }

    /// Worker count for `replay`: `requested` (`--workers`) or else the
    /// configured count, 0 meaning one per CPU core. Unlike the daemon,
    /// replay has no capture thread to leave a core for.
    pub fn replay_workers(&self, requested: Option<usize>) -> usize {
        match requested.unwrap_or(self.pipeline.workers) {
            0 => cpu_cores(),
            n => n,
        }
    }

    /// Whether the tables can be made to fit `flows.memory_limit_mib` with
    /// this many workers (checked again when `replay --workers` overrides
    /// the configured count).
    pub fn check_memory_ceiling(&self) -> Result<()> {
        if self.flows.memory_limit_mib > 0 {
            let mut e = self.engine_unbounded();
            tw_detect::memory::fit(&mut e, self.workers(), self.memory_limit_bytes()).map_err(
                |e| {
                    anyhow::anyhow!(
                        "flows.memory_limit_mib with {} workers: {e}",
                        self.workers()
                    )
                },
            )?;
        }
        Ok(())
    }

    /// The memory ceiling in bytes (0: none).
    pub fn memory_limit_bytes(&self) -> usize {
        usize::try_from(self.flows.memory_limit_mib << 20).unwrap_or(usize::MAX)
    }

    /// The detection engine's settings, with the flow and server tables
    /// scaled down to `flows.memory_limit_mib` when the configured sizes
    /// would not fit it (see [`tw_detect::memory`]).
    pub fn engine(&self) -> tw_detect::EngineConfig {
        let mut e = self.engine_unbounded();
        if self.flows.memory_limit_mib > 0 {
            // validate() has checked that the ceiling can be met.
            let _ = tw_detect::memory::fit(&mut e, self.workers(), self.memory_limit_bytes());
        }
        e
    }

    /// What the tables cost at their worst for this configuration.
    pub fn memory_plan(&self) -> tw_detect::memory::MemoryPlan {
        tw_detect::memory::plan(&self.engine(), self.workers())
    }

    /// One line on the table sizes in use and their worst-case memory.
    pub fn tables_summary(&self) -> String {
        let e = self.engine();
        let p = self.memory_plan();
        let mib = |b: usize| b as f64 / 1048576.0;
        let shrunk = e.flows.max_flows < self.flows.max_flows
            || e.flows.max_unconfirmed < self.flows.max_unconfirmed
            || e.max_servers < self.flows.max_servers;
        format!(
            "tables: max_flows {}, max_unconfirmed {}, max_servers {}{}; worst case {:.1} MiB \
             (flow slots {:.1}, detector state {:.1}, servers {:.1}, judge {:.1}){}",
            e.flows.max_flows,
            e.flows.max_unconfirmed,
            e.max_servers,
            if shrunk {
                " (scaled down to the memory ceiling)"
            } else {
                ""
            },
            mib(p.total()),
            mib(p.flow_tables),
            mib(p.detector_state),
            mib(p.servers),
            mib(p.judge),
            match self.flows.memory_limit_mib {
                0 => String::from(", no ceiling"),
                m => format!(", ceiling {m} MiB"),
            }
        )
    }

    /// The detection engine's settings as configured, before the ceiling.
    fn engine_unbounded(&self) -> tw_detect::EngineConfig {
        use tw_detect::time::SECOND;
        let f = &self.flows;
        let s = |v: u32| i64::from(v) * SECOND;
        tw_detect::EngineConfig {
            flows: tw_detect::flow::FlowConfig {
                max_flows: f.max_flows,
                max_unconfirmed: f.max_unconfirmed,
                tcp_unconfirmed_timeout: s(f.tcp_unconfirmed_timeout),
                tcp_handshake_timeout: s(f.tcp_handshake_timeout),
                tcp_established_timeout: s(f.tcp_established_timeout),
                tcp_closing_timeout: s(f.tcp_closing_timeout),
                tcp_closed_linger: s(f.tcp_closed_linger),
                udp_timeout: s(f.udp_timeout),
            },
            max_servers: f.max_servers,
            detectors: tw_detect::detectors::DetectorsConfig {
                rst: tw_detect::detectors::rst::RstConfig {
                    enabled: self.rst_injection.enabled,
                    ttl_tolerance: self.rst_injection.ttl_tolerance,
                    too_fast_share: self.rst_injection.too_fast_share,
                    min_rtt_for_timing: i64::from(self.rst_injection.min_rtt_for_timing_ms)
                        * tw_detect::time::MILLI,
                    idle_reset_after: s(self.rst_injection.idle_reset_after_secs),
                    min_score: self.rst_injection.min_score,
                    local_resets: match self.rst_injection.local_resets {
                        LocalResets::Report => tw_detect::detectors::rst::LocalResets::Report,
                        LocalResets::Count => tw_detect::detectors::rst::LocalResets::Count,
                    },
                },
                dns: tw_detect::detectors::dns::DnsConfig {
                    enabled: self.dns_injection.enabled,
                    ttl_tolerance: self.dns_injection.ttl_tolerance,
                    too_fast_share: self.dns_injection.too_fast_share,
                    min_rtt_for_timing: i64::from(self.dns_injection.min_rtt_for_timing_ms)
                        * tw_detect::time::MILLI,
                    min_baseline: self.dns_injection.min_baseline_answers,
                    min_score: self.dns_injection.min_score,
                    path_hold: s(self.dns_injection.path_hold_secs),
                    local_zones: self.dns_injection.local_zones.clone(),
                    fingerprints: self.dns_fingerprints.clone(),
                },
                http: tw_detect::detectors::http::HttpConfig {
                    enabled: self.http_injection.enabled,
                    ttl_tolerance: self.http_injection.ttl_tolerance,
                    min_score: self.http_injection.min_score,
                    fingerprints: self.http_fingerprints.clone(),
                },
                watch: self.watch().unwrap_or_default(),
                blackhole: tw_detect::detectors::blackhole::BlackholeConfig {
                    enabled: self.blackhole.enabled,
                    residual_window: s(self.blackhole.residual_window_secs),
                    contrast_window: s(self.blackhole.contrast_window_secs),
                    pmtu_suspect_bytes: self.blackhole.pmtu_suspect_bytes,
                    ignore_quic: self.blackhole.ignore_quic,
                },
                throttle: tw_detect::detectors::throttle::ThrottleConfig {
                    enabled: self.throttling.enabled,
                    min_duration: s(self.throttling.min_duration_secs),
                    contrast_factor: self.throttling.contrast_factor,
                    history_factor: self.throttling.history_factor,
                    history_min_flows: self.throttling.history_min_flows,
                    history_max_age: i64::from(self.throttling.history_max_age_hours)
                        * 3600
                        * SECOND,
                    reference_min_bytes: self.throttling.reference_min_kib.saturating_mul(1024),
                    ..Default::default()
                },
            },
            local_addresses: self.vantage.local_addresses.clone(),
            ..Default::default()
        }
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Deserialises the file alone into a schema where every field is optional,
/// so that unknown keys and wrong types are reported against its own lines.
fn check_keys(text: &str, name: &str) -> Result<()> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        capture: Option<PCapture>,
        pipeline: Option<PPipeline>,
        flows: Option<PFlows>,
        rst_injection: Option<PRst>,
        dns_injection: Option<PDns>,
        http_injection: Option<PHttp>,
        blackhole: Option<PBlackhole>,
        throttling: Option<PThrottling>,
        watch_list: Option<std::collections::BTreeMap<String, Vec<String>>>,
        events: Option<PEvents>,
        metrics: Option<PMetrics>,
        vantage: Option<PVantage>,
        log: Option<PLog>,
        security: Option<PSecurity>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PCapture {
        interfaces: Option<Vec<String>>,
        backend: Option<Backend>,
        ring_size_mib: Option<u32>,
        block_size_kib: Option<u32>,
        block_timeout_ms: Option<u32>,
        snaplen: Option<u32>,
        promiscuous: Option<bool>,
        fanout: Option<u32>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PPipeline {
        workers: Option<usize>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PFlows {
        memory_limit_mib: Option<u64>,
        max_flows: Option<usize>,
        max_unconfirmed: Option<usize>,
        max_servers: Option<usize>,
        tcp_unconfirmed_timeout: Option<u32>,
        tcp_handshake_timeout: Option<u32>,
        tcp_established_timeout: Option<u32>,
        tcp_closing_timeout: Option<u32>,
        tcp_closed_linger: Option<u32>,
        udp_timeout: Option<u32>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PRst {
        enabled: Option<bool>,
        ttl_tolerance: Option<u8>,
        too_fast_share: Option<f64>,
        min_rtt_for_timing_ms: Option<u32>,
        idle_reset_after_secs: Option<u32>,
        min_score: Option<f64>,
        local_resets: Option<LocalResets>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PDns {
        enabled: Option<bool>,
        ttl_tolerance: Option<u8>,
        too_fast_share: Option<f64>,
        min_rtt_for_timing_ms: Option<u32>,
        min_baseline_answers: Option<u8>,
        min_score: Option<f64>,
        path_hold_secs: Option<u32>,
        local_zones: Option<Vec<String>>,
        builtin_fingerprints: Option<bool>,
        fingerprint_files: Option<Vec<PathBuf>>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PHttp {
        enabled: Option<bool>,
        ttl_tolerance: Option<u8>,
        min_score: Option<f64>,
        builtin_fingerprints: Option<bool>,
        fingerprint_files: Option<Vec<PathBuf>>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PBlackhole {
        enabled: Option<bool>,
        residual_window_secs: Option<u32>,
        contrast_window_secs: Option<u32>,
        pmtu_suspect_bytes: Option<u32>,
        ignore_quic: Option<bool>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PThrottling {
        enabled: Option<bool>,
        min_duration_secs: Option<u32>,
        contrast_factor: Option<f64>,
        history_factor: Option<f64>,
        history_min_flows: Option<u32>,
        history_max_age_hours: Option<u32>,
        reference_min_kib: Option<u64>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PEvents {
        file: Option<String>,
        rotate_size_mib: Option<u64>,
        rotate_keep: Option<u32>,
        stdout: Option<bool>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PMetrics {
        listen: Option<String>,
        web_config_file: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PVantage {
        name: Option<String>,
        country: Option<String>,
        network: Option<String>,
        local_addresses: Option<Vec<std::net::IpAddr>>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PLog {
        format: Option<LogFormat>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct PSecurity {
        user: Option<String>,
    }
    toml::from_str::<P>(text)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// CPU cores this process may use (1 when that cannot be told).
fn cpu_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse_and_validate() {
        let c = Config::parse_str(DEFAULT_TOML, "built-in defaults").unwrap();
        assert_eq!(c.capture.backend, Backend::Ring);
        assert_eq!(c.capture.ring_size_mib, 64);
        assert_eq!(c.metrics.listen, tw_metrics::DEFAULT_LISTEN);
        assert_eq!(c.engine().flows.max_flows, 131_072);
        // The documented defaults are the detectors' own defaults.
        // (except the watch list, which only the file has)
        let mut d = c.engine().detectors;
        assert_eq!(d.watch.len(), 11);
        d.watch = Default::default();
        assert_eq!(d, tw_detect::detectors::DetectorsConfig::default());
        assert_eq!(c.engine().flows, tw_detect::flow::FlowConfig::default());
    }

    #[test]
    fn contrast_window_is_at_most_the_link_clocks_window() {
        let ok = Config::parse_str("[blackhole]\ncontrast_window_secs = 600\n", "t.toml").unwrap();
        assert_eq!(
            ok.engine().detectors.blackhole.contrast_window,
            600 * tw_detect::time::SECOND
        );
        let e =
            Config::parse_str("[blackhole]\ncontrast_window_secs = 601\n", "t.toml").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("contrast_window_secs must be at most 600"),
            "{msg}"
        );
    }

    #[test]
    fn partial_files_merge_over_defaults() {
        let c = Config::parse_str(
            "[pipeline]\nworkers = 2\n[capture]\ninterfaces = [\"eth1\"]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.pipeline.workers, 2);
        assert_eq!(c.capture.interfaces, vec!["eth1".to_string()]);
        assert_eq!(c.capture.snaplen, 65535);
    }

    #[test]
    fn local_resets_reaches_the_detector() {
        let c = Config::parse_str("", "t.toml").unwrap();
        assert_eq!(c.rst_injection.local_resets, LocalResets::Report);
        let c = Config::parse_str("[rst_injection]\nlocal_resets = \"count\"\n", "t.toml").unwrap();
        assert_eq!(
            c.engine().detectors.rst.local_resets,
            tw_detect::detectors::rst::LocalResets::Count
        );
        let e =
            Config::parse_str("[rst_injection]\nlocal_resets = \"drop\"\n", "t.toml").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("line 2") && msg.contains("local_resets"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_line_and_column() {
        let e = Config::parse_str("[capture]\nsnaplen = 100\nring_sise_mib = 3\n", "t.toml")
            .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("t.toml") && msg.contains("line 3") && msg.contains("ring_sise_mib"),
            "{msg}"
        );
        let e = Config::parse_str("[capture]\nbackend = \"bpf\"\n", "t.toml").unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("line 2") && msg.contains("column"), "{msg}");
        let e = Config::parse_str("[flows]\nmax_flows = -1\n", "t.toml").unwrap_err();
        assert!(format!("{e:#}").contains("line 2"));
        let e = Config::parse_str("[capture]\nblock_size_kib = 1000\n", "t.toml").unwrap_err();
        assert!(format!("{e:#}").contains("power of two"));
        // sizes the ring would refuse when it opens (found in review,
        // session 15): 2 to 65,536 blocks
        for (ring, block) in [(4096, 4), (1, 1024), (300, 4)] {
            let t = format!("[capture]\nring_size_mib = {ring}\nblock_size_kib = {block}\n");
            let e = format!("{:#}", Config::parse_str(&t, "t.toml").unwrap_err());
            assert!(
                e.contains("2..=65536 blocks"),
                "{ring} MiB / {block} KiB: {e}"
            );
        }
        // values that overflowed, stalled or disabled a rule (review,
        // session 15): refused with the key's name, never a panic
        for (t, key) in [
            (
                "[throttling]\nreference_min_kib = 9223372036854775807\n",
                "reference_min_kib",
            ),
            (
                "[events]\nrotate_size_mib = 17592186044416\n",
                "rotate_size_mib",
            ),
            ("[events]\nrotate_keep = 3000000\n", "rotate_keep"),
            (
                "[dns_injection]\nmin_score = nan\n",
                "dns_injection.min_score",
            ),
            (
                "[http_injection]\nmin_score = -5.0\n",
                "http_injection.min_score",
            ),
            (
                "[http_injection]\nttl_tolerance = 0\n",
                "http_injection.ttl_tolerance",
            ),
            (
                "[rst_injection]\nttl_tolerance = 0\n",
                "rst_injection.ttl_tolerance",
            ),
        ] {
            let e = format!("{:#}", Config::parse_str(t, "t.toml").unwrap_err());
            assert!(e.contains(key), "{t}: {e}");
        }
        for (ring, block) in [(256, 4), (2, 1024), (4096, 65536)] {
            let t = format!("[capture]\nring_size_mib = {ring}\nblock_size_kib = {block}\n");
            assert!(
                Config::parse_str(&t, "t.toml").is_ok(),
                "{ring} MiB / {block} KiB"
            );
        }
        let e = Config::parse_str("[metrics]\nlisten = \"nowhere\"\n", "t.toml").unwrap_err();
        assert!(format!("{e:#}").contains("metrics.listen"));
        assert!(Config::parse_str("[bogus]\n", "t.toml").is_err());
    }

    #[test]
    fn fingerprint_files_are_loaded_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("extra.txt"), "198.51.100.66\n").unwrap();
        let p = dir.path().join("tw.toml");
        std::fs::write(&p, "[dns_injection]\nfingerprint_files = [\"extra.txt\"]\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert!(c
            .dns_fingerprints
            .lookup("198.51.100.66".parse().unwrap(), 0)
            .is_some());
        assert!(c
            .dns_fingerprints
            .lookup("10.10.34.34".parse().unwrap(), 0)
            .is_some());
        std::fs::write(dir.path().join("bad.txt"), "x\n").unwrap();
        std::fs::write(
            &p,
            "[dns_injection]\nfingerprint_files = [\"bad.txt\"]\nbuiltin_fingerprints = false\n",
        )
        .unwrap();
        let e = format!("{:#}", Config::load(&p).unwrap_err());
        assert!(e.contains("bad.txt: line 1"), "{e}");
        std::fs::write(
            &p,
            "[dns_injection]\nfingerprint_files = [\"missing.txt\"]\n",
        )
        .unwrap();
        assert!(format!("{:#}", Config::load(&p).unwrap_err()).contains("missing.txt"));
    }

    #[test]
    fn relative_file_paths_are_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tw.toml");
        std::fs::write(
            &p,
            "[events]\nfile = \"ev/events.jsonl\"\n[metrics]\nweb_config_file = \"\"\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.event_file(), Some(dir.path().join("ev/events.jsonl")));
        assert_eq!(c.metrics.web_config_file, "");
        // absolute paths and parse_str (no file) stay as written
        std::fs::write(&p, "[events]\nfile = \"/var/tmp/e.jsonl\"\n").unwrap();
        assert_eq!(
            Config::load(&p).unwrap().event_file(),
            Some(PathBuf::from("/var/tmp/e.jsonl"))
        );
        let c = Config::parse_str("[events]\nfile = \"e.jsonl\"\n", "t.toml").unwrap();
        assert_eq!(c.event_file(), Some(PathBuf::from("e.jsonl")));
        // the web configuration is looked for beside the config file
        std::fs::write(dir.path().join("web.yml"), "# no TLS, no users\n{}\n").unwrap();
        std::fs::write(&p, "[metrics]\nweb_config_file = \"web.yml\"\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(
            PathBuf::from(&c.metrics.web_config_file),
            dir.path().join("web.yml")
        );
        assert!(c.web_config().unwrap().is_some());
        // the effective configuration printed by check-config names the
        // resolved path and reads back the same
        let again = Config::parse_str(&c.to_toml(), "printed").unwrap();
        assert_eq!(again.metrics.web_config_file, c.metrics.web_config_file);
    }

    #[test]
    fn effective_config_round_trips() {
        let c = Config::defaults();
        let again = Config::parse_str(&c.to_toml(), "x").unwrap();
        assert_eq!(c, again);
    }
}
