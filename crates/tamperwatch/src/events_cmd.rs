//! `tamperwatch events`: exports event files (with their rotations) as JSON
//! lines or CSV, filtered by time, signature and target, with the client
//! address and the target anonymised on the way out.
//!
//! Files are read oldest first: for each file given, `FILE.N` ... `FILE.1`,
//! then `FILE`. Lines that are not JSON events (a line cut short by a crash,
//! foreign text) are skipped and counted on stderr; they never stop an
//! export.
//!
//! Anonymisation:
//! - `--client keep|truncate|drop`: the client address as written, cut to
//!   its /24 (IPv4) or /48 (IPv6) network written as a prefix
//!   (`192.0.2.0/24`), or removed (`null`). Applied to `flow.client_ip` and
//!   to any string in the evidence equal to the client address. The event's
//!   `id` (a hash that includes the full client address) is then replaced
//!   by a keyed hash of it (`tw-a` + 16 hex digits, keyed with the salt).
//! - `--target keep|hash|drop`: the target domain as written, replaced by a
//!   keyed hash `h-` + 16 hex digits (HMAC-SHA-256 of the lower-cased name
//!   with the salt file's contents as key, first 64 bits), or removed.
//!   Every occurrence of the name inside evidence strings is replaced the
//!   same way (a DNS event's `query.name`, for instance), and so are the
//!   names of other flows (a throttling event's `comparisons[].target`).
//!
//! The salt file (`--salt-file`, default `export-salt` next to the first
//! event file) is created with 32 random bytes (hex) and mode 0600 when it
//! does not exist. The same salt gives the same hash for a name in every
//! export, so exports can be joined; a new salt makes new exports
//! unlinkable to old ones. Keep it secret: with the salt, anyone can hash a
//! list of candidate names and find them.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use tw_detect::time::{parse_rfc3339, Nanos};

/// What to do with the client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientMode {
    /// As written.
    Keep,
    /// IPv4 /24, IPv6 /48, written as a prefix.
    Truncate,
    /// Removed (null).
    Drop,
}

/// What to do with the target domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetMode {
    /// As written.
    Keep,
    /// Keyed hash (HMAC-SHA-256 with the salt file), `h-` + 16 hex digits.
    Hash,
    /// Removed (null).
    Drop,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, the event format of docs/events.md.
    Jsonl,
    /// RFC 4180 CSV with a header line; the evidence as a JSON string.
    Csv,
}

/// `tamperwatch events` arguments.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Event files (default: the configuration's `[events] file`). Their
    /// rotations FILE.1 ... FILE.N are read too, oldest first.
    pub files: Vec<PathBuf>,
    /// Configuration file whose `[events] file` to read (default: built-in defaults).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Do not read the rotated files FILE.1 ... FILE.N.
    #[arg(long)]
    pub no_rotated: bool,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-27T00:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Nanos>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Nanos>,
    /// Only this signature (repeatable), e.g. rst_injection.
    #[arg(long = "signature")]
    pub signatures: Vec<String>,
    /// Only events whose target is this domain or one of its subdomains
    /// (repeatable; case-insensitive).
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// The client address: keep, truncate (IPv4 /24, IPv6 /48) or drop.
    #[arg(long, value_enum, default_value = "truncate")]
    pub client: ClientMode,
    /// The target domain: keep, hash (keyed with the salt file) or drop.
    #[arg(long, value_enum, default_value = "keep")]
    pub target: TargetMode,
    /// Salt (key) file for `--target hash`; created (32 random bytes, mode
    /// 0600) if missing. Default: `export-salt` next to the first event file.
    #[arg(long)]
    pub salt_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// No summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_time(s: &str) -> Result<Nanos, String> {
    parse_rfc3339(s).ok_or_else(|| {
        format!("{s:?} is not an RFC 3339 time (e.g. 2026-11-27T12:00:00Z or 2026-11-27T14:00:00+02:00)")
    })
}

/// The file and its rotations, oldest first: FILE.N ... FILE.1, FILE.
/// Missing files are left out; a missing FILE with no rotations is an error
/// for the caller to report.
pub fn with_rotations(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u64, PathBuf)> = Vec::new();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let (Some(name), Ok(rd)) = (path.file_name(), std::fs::read_dir(&dir)) {
        let prefix = format!("{}.", name.to_string_lossy());
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(num) = n.strip_prefix(&prefix) {
                if let Ok(i) = num.parse::<u64>() {
                    if !num.starts_with('0') && e.path().is_file() {
                        rotated.push((i, path.with_file_name(&n)));
                    }
                }
            }
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        out.push(path.to_path_buf());
    }
    out
}

/// The client address cut to its /24 or /48, as a prefix.
pub fn truncate_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("{net}/48")
        }
    }
}

/// HMAC-SHA-256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer);
    out
}

/// The exported form of a hashed target: `h-` and the first 64 bits of
/// HMAC-SHA-256(salt, lower-cased name without a trailing dot), in hex.
pub fn hash_target(salt: &[u8], name: &str) -> String {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let mac = hmac_sha256(salt, n.as_bytes());
    let mut s = String::with_capacity(18);
    s.push_str("h-");
    for b in &mac[..8] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// An event id keyed with the salt (HMAC-SHA-256, first 64 bits), for
/// exports that anonymise the client: `tw-a` + 16 hex digits (the `a` marks
/// an anonymised id; the daemon's own are `tw-` + 16 hex digits).
pub fn hash_id(salt: &[u8], id: &str) -> String {
    let mac = hmac_sha256(salt, format!("event-id:{id}").as_bytes());
    let mut s = String::with_capacity(20);
    s.push_str("tw-a");
    for b in &mac[..8] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Reads the salt file, creating it (32 random bytes as hex, mode 0600)
/// when it does not exist.
pub fn load_or_create_salt(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => {
            let t = b.trim_ascii();
            if t.len() < 16 {
                bail!(
                    "salt file {} holds {} bytes; it needs at least 16 (delete it to make a new one)",
                    path.display(),
                    t.len()
                );
            }
            Ok(t.to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            File::open("/dev/urandom")
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut raw))
                .context("reading /dev/urandom for a new salt")?;
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| {
                    format!(
                        "cannot create the salt file {} (choose one with --salt-file)",
                        path.display()
                    )
                })?;
            writeln!(f, "{hex}")?;
            eprintln!(
                "tamperwatch events: created a new salt file {}",
                path.display()
            );
            Ok(hex.into_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read salt file {}", path.display())),
    }
}

/// Whether `target` is `domain` or a subdomain of it (case-insensitive).
fn in_domain(target: &str, domain: &str) -> bool {
    let t = target.trim_end_matches('.').to_ascii_lowercase();
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    t == d || (t.len() > d.len() && t.ends_with(&d) && t.as_bytes()[t.len() - d.len() - 1] == b'.')
}

/// Replaces, in every string inside `v`, occurrences of `from` (ASCII
/// case-insensitive) with `to`. With `to` `None` (drop), a string equal to
/// `from` becomes null and occurrences inside longer strings become "-".
fn scrub(v: &mut Value, from: &str, to: Option<&str>) {
    match v {
        Value::String(s) => {
            if s.eq_ignore_ascii_case(from) {
                *v = to.map_or(Value::Null, |t| Value::String(t.to_string()));
            } else if let Some(r) = replace_ci(s, from, to.unwrap_or("-")) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, from, to)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub(x, from, to)),
        _ => {}
    }
}

/// `s` with every ASCII-case-insensitive occurrence of `from` replaced, or
/// `None` when there is none.
fn replace_ci(s: &str, from: &str, to: &str) -> Option<String> {
    if from.is_empty() {
        return None;
    }
    let ls = s.to_ascii_lowercase();
    let lf = from.to_ascii_lowercase();
    if !ls.contains(&lf) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(p) = ls[i..].find(&lf) {
        out.push_str(&s[i..i + p]);
        out.push_str(to);
        i += p + lf.len();
    }
    out.push_str(&s[i..]);
    Some(out)
}

/// Cuts `evidence.request_line` (e.g. `GET /path?q HTTP/1.1`) to its method.
fn strip_request_path(ev: &mut Value) {
    if let Some(line) = ev
        .get_mut("evidence")
        .and_then(|e| e.get_mut("request_line"))
    {
        let method = line
            .as_str()
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_owned);
        *line = method.map_or(Value::Null, Value::String);
    }
}

impl Filter {
    /// Names of *other* flows in the evidence (a throttling event's
    /// comparison flows) go the way of the target.
    fn other_targets(&self, ev: &mut Value) {
        let Some(list) = ev
            .get_mut("evidence")
            .and_then(|e| e.get_mut("comparisons"))
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        for c in list {
            if let Some(t) = c.get_mut("target") {
                *t = match (self.target, t.as_str()) {
                    (TargetMode::Hash, Some(name)) => Value::String(hash_target(&self.salt, name)),
                    (TargetMode::Keep, _) => continue,
                    _ => Value::Null,
                };
            }
        }
    }
}

/// The filters and anonymisation of one export.
#[derive(Debug)]
pub struct Filter {
    pub since: Option<Nanos>,
    pub until: Option<Nanos>,
    pub signatures: BTreeSet<String>,
    pub domains: Vec<String>,
    pub client: ClientMode,
    pub target: TargetMode,
    pub salt: Vec<u8>,
}

impl Filter {
    /// The event as exported, or `None` when a filter excludes it. `Err`
    /// when the line is not an event (no `ts`, `signature` or `flow`).
    pub fn apply(&self, mut ev: Value) -> Result<Option<Value>, &'static str> {
        let ts = ev
            .get("ts")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .ok_or("no valid ts")?;
        let sig = ev
            .get("signature")
            .and_then(Value::as_str)
            .ok_or("no signature")?;
        if !ev.get("flow").is_some_and(Value::is_object) {
            return Err("no flow");
        }
        if self.since.is_some_and(|s| ts < s) || self.until.is_some_and(|u| ts >= u) {
            return Ok(None);
        }
        if !self.signatures.is_empty() && !self.signatures.contains(sig) {
            return Ok(None);
        }
        let target = ev.get("target").and_then(Value::as_str).map(str::to_owned);
        if !self.domains.is_empty()
            && !target
                .as_deref()
                .is_some_and(|t| self.domains.iter().any(|d| in_domain(t, d)))
        {
            return Ok(None);
        }

        // The client address.
        let client = ev["flow"]
            .get("client_ip")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(c) = client {
            let replacement = match self.client {
                ClientMode::Keep => None,
                ClientMode::Truncate => Some(
                    c.parse::<IpAddr>()
                        .map(truncate_ip)
                        .map_or(Value::Null, Value::String),
                ),
                ClientMode::Drop => Some(Value::Null),
            };
            if let Some(r) = replacement {
                ev["flow"]["client_ip"] = r.clone();
                if let Some(e) = ev.get_mut("evidence") {
                    scrub(e, &c, r.as_str());
                }
                // The event id hashes the full client address with fields
                // the export shows: a search over the hosts of the /24 finds
                // it (found in review, session 15). Keyed with the salt, it
                // stays unique and joinable between exports, and reveals
                // nothing without the salt.
                if let Some(id) = ev.get("id").and_then(Value::as_str) {
                    ev["id"] = Value::String(hash_id(&self.salt, id));
                }
            }
        }

        // The target.
        if let Some(t) = target.filter(|t| !t.is_empty()) {
            let replacement = match self.target {
                TargetMode::Keep => None,
                TargetMode::Hash => Some(Value::String(hash_target(&self.salt, &t))),
                TargetMode::Drop => Some(Value::Null),
            };
            if let Some(r) = replacement {
                ev["target"] = r.clone();
                if let Some(e) = ev.get_mut("evidence") {
                    scrub(e, t.trim_end_matches('.'), r.as_str());
                }
            }
        }
        // An HTTP request line names the page as much as the domain does:
        // with the target hashed or dropped, only its method is kept.
        if self.target != TargetMode::Keep {
            strip_request_path(&mut ev);
            self.other_targets(&mut ev);
        }
        Ok(Some(ev))
    }
}

/// Field order of docs/events.md for the top level and `flow`; other
/// keys follow in their (sorted) order.
const TOP_ORDER: &[&str] = &[
    "id",
    "ts",
    "signature",
    "confidence",
    "flow",
    "target",
    "evidence",
];
const FLOW_ORDER: &[&str] = &[
    "proto",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
];

fn ordered(v: &Value, order: &[&str], nested: Option<(&str, &[&str])>) -> String {
    let Value::Object(m) = v else {
        return v.to_string();
    };
    let mut keys: Vec<&String> = Vec::with_capacity(m.len());
    keys.extend(
        order
            .iter()
            .filter_map(|k| m.get_key_value(*k).map(|(k, _)| k)),
    );
    keys.extend(m.keys().filter(|k| !order.contains(&k.as_str())));
    let mut out = String::from("{");
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        match nested {
            Some((name, inner)) if name == k => out.push_str(&ordered(&m[k], inner, None)),
            _ => out.push_str(&m[k].to_string()),
        }
    }
    out.push('}');
    out
}

/// An event as one JSON line, fields in the order of docs/events.md.
pub fn json_line(ev: &Value) -> String {
    ordered(ev, TOP_ORDER, Some(("flow", FLOW_ORDER)))
}

/// CSV columns.
pub const CSV_HEADER: &str = "id,ts,signature,confidence,proto,client_ip,client_port,server_ip,server_port,target,rules,capture_lossy,evidence";

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// One CSV record (without the line end) for an exported event.
pub fn csv_record(ev: &Value) -> String {
    let text = |v: Option<&Value>| -> String {
        match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    };
    let flow = ev.get("flow");
    let f = |k: &str| text(flow.and_then(|f| f.get(k)));
    let evidence = ev.get("evidence");
    let rules = evidence
        .and_then(|e| e.get("rules"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let lossy = evidence
        .and_then(|e| e.get("capture_lossy"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let fields = [
        text(ev.get("id")),
        text(ev.get("ts")),
        text(ev.get("signature")),
        text(ev.get("confidence")),
        f("proto"),
        f("client_ip"),
        f("client_port"),
        f("server_ip"),
        f("server_port"),
        text(ev.get("target")),
        rules,
        lossy.to_string(),
        evidence.map(Value::to_string).unwrap_or_default(),
    ];
    let mut out = String::new();
    for (i, v) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, v);
    }
    out
}

/// What an export did.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub lines: u64,
    pub written: u64,
    pub malformed: u64,
    pub first_malformed: Option<String>,
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Runs `tamperwatch events`; returns the exit code.
pub fn run(args: EventsArgs) -> Result<i32> {
    let mut files = args.files.clone();
    if files.is_empty() {
        let cfg = crate::config::Config::load_or_default(args.config.as_deref())?;
        match cfg.event_file() {
            Some(f) => files.push(f),
            None => bail!("the configuration writes no event file ([events] file = \"\"); name the files to read"),
        }
    }
    let mut inputs = Vec::new();
    for f in &files {
        let list = if args.no_rotated {
            if f.exists() {
                vec![f.clone()]
            } else {
                Vec::new()
            }
        } else {
            with_rotations(f)
        };
        if list.is_empty() {
            bail!("no event file {} (nor rotations of it)", f.display());
        }
        inputs.extend(list);
    }
    if let (Some(s), Some(u)) = (args.since, args.until) {
        if u <= s {
            bail!("--until must be after --since");
        }
    }
    // the salt keys hashed targets, and the ids of events whose client is
    // cut or removed (an unkeyed id would give the address back)
    let salt = if args.target == TargetMode::Hash || args.client != ClientMode::Keep {
        let p = args.salt_file.clone().unwrap_or_else(|| {
            files[0]
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("export-salt")
        });
        load_or_create_salt(&p)?
    } else {
        Vec::new()
    };
    let filter = Filter {
        since: args.since,
        until: args.until,
        signatures: args.signatures.iter().cloned().collect(),
        domains: args.domains.clone(),
        client: args.client,
        target: args.target,
        salt,
    };
    let out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut summary = Summary::default();
    match export(&inputs, &filter, args.format, &mut out, &mut summary) {
        Ok(()) => {}
        Err(e) if is_broken_pipe(&e) => return Ok(0),
        Err(e) => return Err(e),
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
        r => r.context("writing the export")?,
    }
    if !args.quiet {
        eprintln!(
            "tamperwatch events: {} events written, {} lines read from {} files{}",
            summary.written,
            summary.lines,
            summary.files,
            match &summary.first_malformed {
                Some(f) => format!(
                    ", {} skipped (not an event; first at {f})",
                    summary.malformed
                ),
                None => String::new(),
            }
        );
    }
    Ok(0)
}

/// Exports the events of `inputs` (in order) through `filter` to `out`.
pub fn export(
    inputs: &[PathBuf],
    filter: &Filter,
    format: Format,
    out: &mut impl Write,
    summary: &mut Summary,
) -> Result<()> {
    if format == Format::Csv {
        writeln!(out, "{CSV_HEADER}")?;
    }
    for path in inputs {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        summary.files += 1;
        let mut r = BufReader::with_capacity(256 * 1024, f);
        let mut line = Vec::new();
        let mut n = 0u64;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)
                .with_context(|| format!("reading {}", path.display()))?
                == 0
            {
                break;
            }
            n += 1;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            summary.lines += 1;
            let parsed = serde_json::from_slice::<Value>(text)
                .map_err(|_| "not JSON")
                .and_then(|v| filter.apply(v));
            match parsed {
                Ok(Some(ev)) => {
                    match format {
                        Format::Jsonl => {
                            out.write_all(json_line(&ev).as_bytes())?;
                            out.write_all(b"\n")?;
                        }
                        Format::Csv => {
                            out.write_all(csv_record(&ev).as_bytes())?;
                            out.write_all(b"\r\n")?;
                        }
                    }
                    summary.written += 1;
                }
                Ok(None) => {}
                Err(why) => {
                    summary.malformed += 1;
                    summary
                        .first_malformed
                        .get_or_insert_with(|| format!("{}:{n}: {why}", path.display()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_ip("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(
            truncate_ip("2001:db8:1:2:3::9".parse().unwrap()),
            "2001:db8:1::/48"
        );
    }

    #[test]
    fn domains_and_hashes() {
        assert!(in_domain("www.blocked.example", "blocked.example"));
        assert!(in_domain("Blocked.Example.", "blocked.example"));
        assert!(!in_domain("notblocked.example", "blocked.example"));
        assert_eq!(
            hash_target(b"0123456789abcdef", "Blocked.Example."),
            hash_target(b"0123456789abcdef", "blocked.example")
        );
        assert_ne!(
            hash_target(b"0123456789abcdef", "blocked.example"),
            hash_target(b"fedcba9876543210", "blocked.example")
        );
        assert_eq!(
            replace_ci("GET http://Blocked.example/x", "blocked.EXAMPLE", "h-1").as_deref(),
            Some("GET http://h-1/x")
        );
    }

    #[test]
    fn request_path_goes_with_the_target() {
        let ev = serde_json::json!({"ts":"2026-01-01T00:00:00.000000Z","signature":"http_injection",
            "flow":{"client_ip":"192.0.2.10"},"target":"blocked.example",
            "evidence":{"request_line":"GET /search?q=secret HTTP/1.1","rules":["x"]}});
        let f = |target| Filter {
            since: None,
            until: None,
            signatures: BTreeSet::new(),
            domains: vec![],
            client: ClientMode::Truncate,
            target,
            salt: b"0123456789abcdef".to_vec(),
        };
        for mode in [TargetMode::Hash, TargetMode::Drop] {
            let out = f(mode).apply(ev.clone()).unwrap().unwrap();
            assert_eq!(out["evidence"]["request_line"], "GET", "{mode:?}");
            assert!(!out.to_string().contains("secret"), "{out}");
        }
        let kept = f(TargetMode::Keep).apply(ev.clone()).unwrap().unwrap();
        assert_eq!(
            kept["evidence"]["request_line"],
            "GET /search?q=secret HTTP/1.1"
        );
    }

    #[test]
    fn an_anonymised_clients_event_id_is_keyed() {
        // The daemon's id hashes the full client address with fields an
        // export shows: left as it was, a search over the 256 hosts of the
        // /24 (and the nanoseconds below the microsecond) finds the client.
        let ev = serde_json::json!({"id":"tw-0123456789abcdef","ts":"2026-01-01T00:00:00.000000Z",
            "signature":"rst_injection","flow":{"client_ip":"192.0.2.10"},"target":null,"evidence":{}});
        let f = |client, salt: &[u8]| Filter {
            since: None,
            until: None,
            signatures: BTreeSet::new(),
            domains: vec![],
            client,
            target: TargetMode::Keep,
            salt: salt.to_vec(),
        };
        let salt = b"0123456789abcdef";
        let kept = f(ClientMode::Keep, salt)
            .apply(ev.clone())
            .unwrap()
            .unwrap();
        assert_eq!(kept["id"], "tw-0123456789abcdef");
        for mode in [ClientMode::Truncate, ClientMode::Drop] {
            let out = f(mode, salt).apply(ev.clone()).unwrap().unwrap();
            let id = out["id"].as_str().unwrap().to_owned();
            assert!(id.starts_with("tw-a") && id.len() == 20, "{id}");
            assert_eq!(
                id,
                hash_id(salt, "tw-0123456789abcdef"),
                "stable for one salt"
            );
            assert!(!out.to_string().contains("0123456789abcdef"), "{out}");
            let other = f(mode, b"another salt, 16+")
                .apply(ev.clone())
                .unwrap()
                .unwrap();
            assert_ne!(other["id"], out["id"], "a new salt, unlinkable ids");
        }
    }

    #[test]
    fn comparison_targets_go_with_the_target() {
        let ev = serde_json::json!({"ts":"2026-01-01T00:00:00.000000Z","signature":"throttling",
            "flow":{"client_ip":"192.0.2.10"},"target":"video.example",
            "evidence":{"comparisons":[{"target":"Fast.Example","rate_bps":1e7},{"target":null}]}});
        let f = |target| Filter {
            since: None,
            until: None,
            signatures: BTreeSet::new(),
            domains: vec![],
            client: ClientMode::Keep,
            target,
            salt: b"0123456789abcdef".to_vec(),
        };
        let h = f(TargetMode::Hash).apply(ev.clone()).unwrap().unwrap();
        let c = &h["evidence"]["comparisons"];
        assert_eq!(
            c[0]["target"],
            hash_target(b"0123456789abcdef", "fast.example")
        );
        assert_eq!(c[0]["rate_bps"], 1e7);
        assert!(c[1]["target"].is_null());
        let d = f(TargetMode::Drop).apply(ev.clone()).unwrap().unwrap();
        assert!(d["evidence"]["comparisons"][0]["target"].is_null());
        assert!(!d.to_string().to_lowercase().contains("fast.example"));
        let k = f(TargetMode::Keep).apply(ev).unwrap().unwrap();
        assert_eq!(k["evidence"]["comparisons"][0]["target"], "Fast.Example");
    }

    #[test]
    fn csv_quotes() {
        let ev: Value = serde_json::json!({"id":"tw-1","ts":"2026-01-01T00:00:00.000000Z","signature":"rst_injection",
            "confidence":0.9,"flow":{"proto":"tcp","client_ip":null,"client_port":1,"server_ip":"203.0.113.1","server_port":80},
            "target":"a,b","evidence":{"rules":["x","y"],"note":"say \"hi\""}});
        let r = csv_record(&ev);
        assert!(r.starts_with("tw-1,2026-01-01T00:00:00.000000Z,rst_injection,0.9,tcp,,1,203.0.113.1,80,\"a,b\",x y,false,\"{"), "{r}");
        assert!(r.contains(r#"{""note"":""say \""hi\"""",""rules"#), "{r}");
    }
}
