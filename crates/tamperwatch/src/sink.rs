//! Event sinks: a JSON-lines file (appended, flushed after every batch,
//! rotated by size) and standard output, fed by one thread.

use crossbeam_channel::Receiver;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tw_detect::Event;
use tw_metrics::{DropReason, Metrics, Sink};

/// Where events go.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub file: Option<PathBuf>,
    /// Rotate when the file would pass this size (0: never).
    pub rotate_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
    pub stdout: bool,
}

/// Live packet times are on a steady timeline (`tw_capture::clock`), the
/// host's clock as it was at the start: after a step of that clock (NTP, a
/// board without a battery-backed clock setting its time after boot), an
/// event is written by the clock as corrected now. Its `ts`, and every
/// `ts` in its evidence (DNS queries and answers, the first injected
/// packet), move by the correction; its `id` was made from the steady time
/// and stays.
fn by_corrected_clock(e: &mut Event, correction: i64) {
    fn walk(v: &mut serde_json::Value, c: i64, depth: u8) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    match v {
                        serde_json::Value::String(s) if k == "ts" => {
                            if let Some(t) = tw_detect::time::parse_rfc3339(s) {
                                *s = tw_detect::time::rfc3339(t.saturating_add(c));
                            }
                        }
                        _ if depth < 4 => walk(v, c, depth + 1),
                        _ => {}
                    }
                }
            }
            serde_json::Value::Array(a) if depth < 4 => {
                for v in a {
                    walk(v, c, depth + 1);
                }
            }
            _ => {}
        }
    }
    e.ts = e.ts.saturating_add(correction);
    for v in e.evidence.values_mut() {
        walk(v, correction, 0);
    }
}

/// What the sink thread did.
#[derive(Debug, Default, Clone)]
pub struct SinkSummary {
    pub written: u64,
    pub errors: u64,
}

struct FileSink {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    size: u64,
    rotate_bytes: u64,
    keep: u32,
    /// (device, inode) of the open file: when the path names another file
    /// (logrotate renamed ours, or it was deleted), the sink reopens it.
    id: Option<(u64, u64)>,
    /// The file's length after the last successful flush, and whether a
    /// write failed since (then the tail past it may hold a partial line,
    /// cut off when the file is reopened).
    good: u64,
    dirty: bool,
    /// Lines in the buffer since the last successful flush.
    unflushed: u64,
    /// Lines flushed to a file and not yet counted as written.
    done: u64,
    /// When rotation last failed (it is paused for a minute then).
    rotate_failed: Option<std::time::Instant>,
}

impl FileSink {
    fn open_file(path: &Path) -> std::io::Result<File> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new().create(true).append(true).open(path)
    }

    fn new(path: &Path, rotate_bytes: u64, keep: u32) -> std::io::Result<FileSink> {
        let mut f = FileSink {
            path: path.to_owned(),
            out: None,
            size: 0,
            rotate_bytes,
            keep,
            id: None,
            good: 0,
            dirty: false,
            unflushed: 0,
            done: 0,
            rotate_failed: None,
        };
        f.reopen()?;
        Ok(f)
    }

    /// (Re)opens the path. After a failed write to the same file, cuts the
    /// partial tail, so that every line in it stays complete JSON.
    fn reopen(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let f = Self::open_file(&self.path)?;
        let meta = f.metadata()?;
        let id = (meta.dev(), meta.ino());
        let mut len = meta.len();
        if self.dirty && self.id == Some(id) && len > self.good {
            if f.set_len(self.good).is_ok() {
                len = self.good;
            } else {
                // cannot cut it (an append-only file): end the partial line
                // instead, so that the next lines are whole
                use std::io::Write as _;
                let mut g = &f;
                g.write_all(b"\n")?;
                len += 1;
            }
        }
        self.dirty = false;
        self.id = Some(id);
        self.good = len;
        self.size = len;
        self.out = Some(BufWriter::with_capacity(64 * 1024, f));
        Ok(())
    }

    /// Before a batch: reopens when the path no longer names the open file
    /// (renamed by logrotate's `create` mode, or deleted), notices a file
    /// truncated in place (`copytruncate`), and retries after errors.
    fn ensure_open(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if self.out.is_some() {
            match std::fs::metadata(&self.path) {
                Ok(m) if Some((m.dev(), m.ino())) == self.id => {
                    if m.len() < self.good {
                        // truncated in place: appends go to its new end
                        self.good = m.len();
                        self.size = m.len();
                    }
                    return Ok(());
                }
                // cannot look (a directory the daemon's user may not search):
                // keep writing to the file it has open
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Ok(()),
                _ => {
                    // the old file is someone else's now: finish it, start a new one
                    let _ = self.flush();
                    self.out = None;
                    self.dirty = false;
                    self.id = None;
                }
            }
        }
        self.reopen()
    }

    /// Throws away what is buffered (its lines are lost) after an error;
    /// returns how many were lost.
    fn fail(&mut self) -> u64 {
        self.dirty = true;
        if let Some(o) = self.out.take() {
            // into_parts: dropping a BufWriter would try to write the rest
            let (f, _) = o.into_parts();
            // cut the partial line now (it also frees the space it took);
            // if that fails too, the next reopen tries again. Only cut a
            // file longer than what was good (copytruncate may have emptied
            // it meanwhile: never extend it with zeros).
            let longer = f.metadata().is_ok_and(|m| m.len() > self.good);
            if !longer || f.set_len(self.good).is_ok() {
                self.dirty = false;
            }
        }
        self.size = self.good;
        std::mem::take(&mut self.unflushed)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.flush()?;
        self.out = None;
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        // Rotations numbered `keep` and above go: the one that would pass
        // the limit, and any left from a larger `rotate_keep` before (found
        // in review, session 15: lowering it left the old files for ever).
        for i in rotation_numbers(&self.path) {
            if i >= self.keep {
                let _ = std::fs::remove_file(name(i));
            }
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for i in (1..self.keep).rev() {
                let from = name(i);
                if from.exists() {
                    std::fs::rename(&from, name(i + 1))?;
                }
            }
            std::fs::rename(&self.path, name(1))?;
        }
        self.id = None;
        self.reopen()
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let n = line.len() as u64 + 1;
        if self.out.is_none() {
            self.reopen()?;
        }
        let rotation_paused = self
            .rotate_failed
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(60));
        if self.rotate_bytes > 0
            && self.size > 0
            && self.size + n > self.rotate_bytes
            && !rotation_paused
        {
            if let Err(e) = self.rotate() {
                // keep appending past the limit rather than losing events;
                // try again in a minute
                tracing::error!(path = %self.path.display(), error = %e, "cannot rotate the event file; appending past rotate_size_mib");
                self.rotate_failed = Some(std::time::Instant::now());
                if self.out.is_none() {
                    self.reopen()?;
                }
            } else {
                self.rotate_failed = None;
            }
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| std::io::Error::other("event file not open"))?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        self.size += n;
        self.unflushed += 1;
        Ok(())
    }

    /// Flushes (the lines flushed are counted in `done`).
    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(o) = self.out.as_mut() {
            o.flush()?;
            self.good = self.size;
            self.done += std::mem::take(&mut self.unflushed);
        }
        Ok(())
    }

    /// Flushes; returns how many lines reached a file since the last call.
    fn commit(&mut self) -> std::io::Result<u64> {
        self.flush()?;
        Ok(std::mem::take(&mut self.done))
    }
}

/// Opens the file sink now (so that a bad path fails at start-up) and
/// returns the thread that writes every event received until the channel
/// closes.
pub fn spawn(
    cfg: SinkConfig,
    rx: Receiver<Event>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<std::thread::JoinHandle<SinkSummary>> {
    open(cfg)?.spawn(rx, metrics)
}

/// An event sink whose file is open and whose thread is not started yet
/// (the daemon opens the file before dropping its privileges and starts
/// the thread after).
pub struct OpenSink {
    cfg: SinkConfig,
    file: Option<FileSink>,
}

impl std::fmt::Debug for OpenSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSink").field("cfg", &self.cfg).finish()
    }
}

/// Opens the file sink (a bad path fails here).
pub fn open(cfg: SinkConfig) -> anyhow::Result<OpenSink> {
    let file = match &cfg.file {
        Some(p) => Some(
            FileSink::new(p, cfg.rotate_bytes, cfg.keep)
                .map_err(|e| anyhow::anyhow!("cannot open event file {}: {e}", p.display()))?,
        ),
        None => None,
    };
    Ok(OpenSink { cfg, file })
}

impl OpenSink {
    /// Starts the thread that writes every event received until the
    /// channel closes.
    pub fn spawn(
        self,
        rx: Receiver<Event>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<std::thread::JoinHandle<SinkSummary>> {
        let OpenSink { cfg, mut file } = self;
        spawn_thread(cfg, file.take(), rx, metrics)
    }
}

fn spawn_thread(
    cfg: SinkConfig,
    mut file: Option<FileSink>,
    rx: Receiver<Event>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<std::thread::JoinHandle<SinkSummary>> {
    let h = std::thread::Builder::new().name("tw-events".into()).spawn(move || {
        let mut summary = SinkSummary::default();
        let stdout = std::io::stdout();
        let mut last_error_logged: Option<std::time::Instant> = None;
        let mut failing = false;
        let mut report = |f: &FileSink, what: &str, err: &std::io::Error, failing: &mut bool| {
            *failing = true;
            if last_error_logged.is_none_or(|t| t.elapsed().as_secs() >= 60) {
                tracing::error!(path = %f.path.display(), error = %err, "{what}; events are being lost (tamperwatch_events_dropped_total{{reason=\"sink_error\"}}) until it works again");
                last_error_logged = Some(std::time::Instant::now());
            }
        };
        let lost = |n: u64, summary: &mut SinkSummary| {
            summary.errors += n;
            metrics.events_dropped(DropReason::SinkError).inc_by(n);
        };
        while let Ok(first) = rx.recv() {
            let mut out = stdout.lock();
            if let Some(f) = file.as_mut() {
                if let Err(err) = f.ensure_open() {
                    report(f, "cannot open the event file", &err, &mut failing);
                }
            }
            let mut batch = vec![first];
            while let Ok(e) = rx.try_recv() {
                batch.push(e);
                if batch.len() >= 4096 {
                    break;
                }
            }
            let mut stdout_ok = 0u64;
            let correction = metrics.clock_correction_ns();
            for mut e in batch.drain(..) {
                if correction != 0 {
                    by_corrected_clock(&mut e, correction);
                }
                let line = e.to_json_line();
                if let Some(f) = file.as_mut() {
                    if let Err(err) = f.write_line(&line) {
                        let n = f.fail() + 1;
                        lost(n, &mut summary);
                        report(f, "cannot write the event file", &err, &mut failing);
                    }
                }
                if cfg.stdout {
                    match writeln!(out, "{line}") {
                        Ok(()) => {
                            metrics.events_written(Sink::Stdout).inc();
                            stdout_ok += 1;
                        }
                        // lost, unless the file has it
                        Err(_) if file.is_none() => lost(1, &mut summary),
                        Err(_) => {}
                    }
                }
            }
            if let Some(f) = file.as_mut() {
                match f.commit() {
                    Ok(n) => {
                        metrics.events_written(Sink::File).inc_by(n);
                        summary.written += n;
                        if failing && n > 0 {
                            failing = false;
                            tracing::info!(path = %f.path.display(), "event file writable again");
                        }
                    }
                    Err(err) => {
                        let n = f.fail();
                        lost(n, &mut summary);
                        report(f, "cannot flush the event file", &err, &mut failing);
                    }
                }
            } else {
                summary.written += stdout_ok;
            }
            let _ = out.flush();
        }
        if let Some(f) = file.as_mut() {
            match f.commit() {
                Ok(n) => {
                    metrics.events_written(Sink::File).inc_by(n);
                    summary.written += n;
                }
                Err(_) => {
                    let n = f.fail();
                    lost(n, &mut summary);
                }
            }
        }
        summary
    })?;
    Ok(h)
}

/// The numbers N of the files `PATH.N` beside `path` (its rotations).
fn rotation_numbers(path: &std::path::Path) -> Vec<u32> {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{}.", base.to_string_lossy());
    rd.flatten()
        .filter_map(|e| {
            let n = e.file_name();
            let n = n.to_str()?.strip_prefix(&prefix)?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tw_detect::event::{EventFlow, Transport};
    use tw_detect::stats::Signature;

    fn ev(i: i64) -> Event {
        let flow = EventFlow {
            proto: Transport::Tcp,
            client_ip: "192.0.2.1".parse().unwrap(),
            client_port: 1,
            server_ip: "203.0.113.1".parse().unwrap(),
            server_port: 80,
        };
        Event::new(
            Signature::RstInjection,
            i,
            0.9,
            flow,
            None,
            Default::default(),
        )
    }

    #[test]
    fn events_are_written_by_the_corrected_clock() {
        let mut e = ev(1_700_000_000_000_000_000);
        let id = e.id.clone();
        let ev_json: serde_json::Value = serde_json::json!({
            "query": {"name": "a.example", "ts": "2023-11-14T22:13:20.000000Z"},
            "answers": [{"ts": "2023-11-14T22:13:20.250000Z", "ttl": 50}, {"ttl": 51}],
            "ts_note": "2023-11-14T22:13:20.000000Z",
            "rules": ["ts"],
        });
        e.evidence = ev_json.as_object().unwrap().clone();
        by_corrected_clock(&mut e, 3 * 86_400 * 1_000_000_000 + 500_000_000);
        let v: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(v["ts"], "2023-11-17T22:13:20.500000Z");
        assert_eq!(v["id"], id.as_str());
        let ev = &v["evidence"];
        assert_eq!(ev["query"]["ts"], "2023-11-17T22:13:20.500000Z");
        assert_eq!(ev["answers"][0]["ts"], "2023-11-17T22:13:20.750000Z");
        assert_eq!(ev["answers"][1]["ttl"], 51);
        // only fields named `ts` move
        assert_eq!(ev["ts_note"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(ev["rules"][0], "ts");
    }

    #[test]
    fn a_lowered_rotate_keep_removes_the_older_rotations() {
        // rotations .1 ... .5 left by rotate_keep = 5; now it is 2
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        for i in 1..=5 {
            std::fs::write(
                dir.path().join(format!("events.jsonl.{i}")),
                format!("{i}\n"),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("events.jsonl.bak"), "not a rotation\n").unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let m = Arc::new(Metrics::new(None));
        let cfg = SinkConfig {
            file: Some(path.clone()),
            rotate_bytes: 300,
            keep: 2,
            stdout: false,
        };
        let h = spawn(cfg, rx, m).unwrap();
        for i in 0..6 {
            tx.send(ev(i)).unwrap();
        }
        drop(tx);
        h.join().unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "events.jsonl",
                "events.jsonl.1",
                "events.jsonl.2",
                "events.jsonl.bak"
            ],
            "{left:?}"
        );
        // the two kept are this run's, not the old ones
        for i in [1, 2] {
            let t = std::fs::read_to_string(dir.path().join(format!("events.jsonl.{i}"))).unwrap();
            assert!(t.contains("rst_injection"), "events.jsonl.{i}: {t}");
        }
    }

    #[test]
    fn writes_flushes_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/events.jsonl");
        let (tx, rx) = crossbeam_channel::unbounded();
        let m = Arc::new(Metrics::new(None));
        let h = spawn(
            SinkConfig {
                file: Some(path.clone()),
                rotate_bytes: 1000,
                keep: 2,
                stdout: false,
            },
            rx,
            m.clone(),
        )
        .unwrap();
        for i in 0..40 {
            tx.send(ev(i)).unwrap();
        }
        drop(tx);
        let s = h.join().unwrap();
        assert_eq!(s.written, 40);
        let mut lines = 0;
        for p in [
            path.clone(),
            dir.path().join("sub/events.jsonl.1"),
            dir.path().join("sub/events.jsonl.2"),
        ] {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.len() <= 1000,
                "{} is {} bytes",
                p.display(),
                text.len()
            );
            for l in text.lines() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["signature"], "rst_injection");
                lines += 1;
            }
        }
        assert!(!dir.path().join("sub/events.jsonl.3").exists());
        assert!(lines < 40, "older files were rotated away");
        assert_eq!(m.events_written(Sink::File).get(), 40);
    }

    #[test]
    fn unwritable_path_fails_at_start() {
        let (_tx, rx) = crossbeam_channel::unbounded();
        let r = spawn(
            SinkConfig {
                file: Some("/proc/nonexistent/events.jsonl".into()),
                rotate_bytes: 0,
                keep: 0,
                stdout: false,
            },
            rx,
            Arc::new(Metrics::new(None)),
        );
        assert!(r.is_err());
    }

    /// A sink thread on `path` and a way to feed it one batch at a time.
    struct Rig {
        tx: Option<crossbeam_channel::Sender<Event>>,
        h: Option<std::thread::JoinHandle<SinkSummary>>,
        m: Arc<Metrics>,
        sent: u64,
    }

    impl Rig {
        fn new(path: &Path) -> Rig {
            let (tx, rx) = crossbeam_channel::unbounded();
            let m = Arc::new(Metrics::new(None));
            let h = spawn(
                SinkConfig {
                    file: Some(path.to_owned()),
                    rotate_bytes: 0,
                    keep: 0,
                    stdout: false,
                },
                rx,
                m.clone(),
            )
            .unwrap();
            Rig {
                tx: Some(tx),
                h: Some(h),
                m,
                sent: 0,
            }
        }
        fn written(&self) -> u64 {
            self.m.events_written(Sink::File).get()
        }
        fn dropped(&self) -> u64 {
            self.m.events_dropped(DropReason::SinkError).get()
        }
        /// Sends `n` events and waits until the sink accounted for them.
        fn batch(&mut self, n: u64) {
            for i in 0..n {
                if let Some(tx) = &self.tx {
                    tx.send(ev((self.sent + i) as i64)).unwrap();
                }
            }
            self.sent += n;
            let t0 = std::time::Instant::now();
            while self.written() + self.dropped() < self.sent {
                assert!(t0.elapsed().as_secs() < 10, "sink stuck");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        fn finish(mut self) -> SinkSummary {
            drop(self.tx.take());
            self.h.take().unwrap().join().unwrap()
        }
    }

    /// Every line of `p` is a complete event; returns their timestamps.
    fn complete_lines(p: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "partial last line in {}",
            p.display()
        );
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l:?}", p.display()));
                v["id"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        let r = unsafe { libc::geteuid() } == 0;
        if !r {
            eprintln!("skipped: needs root (mount)");
        }
        r
    }

    /// A small tmpfs mounted on a temporary directory, unmounted on drop.
    struct Tmpfs(tempfile::TempDir);
    impl Tmpfs {
        fn new(size: &str) -> Tmpfs {
            let d = tempfile::tempdir().unwrap();
            let st = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(d.path())
                .status()
                .unwrap();
            assert!(st.success());
            Tmpfs(d)
        }
        fn path(&self) -> &Path {
            self.0.path()
        }
    }
    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    #[test]
    fn dev_full_loses_events_and_counts_them() {
        let mut r = Rig::new(Path::new("/dev/full"));
        // 64 KB of lines overflow the buffer mid-batch, the rest fail at the flush
        r.batch(400);
        r.batch(3);
        let s = r.finish();
        assert_eq!(s.written, 0);
        assert_eq!(s.errors, 403);
    }

    #[test]
    fn disk_full_loses_then_resumes_with_complete_lines() {
        if !root() {
            return;
        }
        let fs = Tmpfs::new("256k");
        let path = fs.path().join("events.jsonl");
        let mut r = Rig::new(&path);
        r.batch(10);
        assert_eq!(r.written(), 10);
        // fill the file system
        let filler = fs.path().join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 1 << 20]);
        let mut batches = 0;
        while r.dropped() == 0 {
            r.batch(7);
            batches += 1;
            assert!(batches < 200, "never full");
        }
        let (before, lost) = (r.written(), r.dropped());
        // More while full: lost, nothing panics. (The sink takes events as
        // they come: when it wakes for the first ones alone, a line or a
        // few may still fit in the slack of the file's last page, left by
        // cutting the failed tail; seen once in CI, session 22. A line is
        // over 100 bytes.)
        r.batch(20);
        let slipped = r.written() - before;
        assert!(r.dropped() > lost, "nothing lost while full");
        assert!(slipped * 100 <= 4096, "{slipped} written while full");
        let lines = complete_lines(&path);
        assert_eq!(
            lines.len() as u64,
            r.written(),
            "the file holds exactly the events counted as written"
        );
        // space again: writing resumes
        let before = r.written();
        std::fs::remove_file(&filler).unwrap();
        r.batch(5);
        assert_eq!(r.written(), before + 5);
        let s = r.finish();
        assert_eq!(s.written + s.errors, 10 + 7 * batches + 20 + 5);
        let lines = complete_lines(&path);
        assert_eq!(lines.len() as u64, s.written);
    }

    #[test]
    fn event_directory_removed_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/events.jsonl");
        let mut r = Rig::new(&path);
        r.batch(3);
        std::fs::remove_dir_all(dir.path().join("sub")).unwrap();
        r.batch(4);
        assert_eq!((r.written(), r.dropped()), (7, 0));
        r.finish();
        assert_eq!(complete_lines(&path).len(), 4);
    }

    #[test]
    fn deleted_or_renamed_file_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut r = Rig::new(&path);
        r.batch(2);
        std::fs::remove_file(&path).unwrap();
        r.batch(3);
        assert_eq!(complete_lines(&path).len(), 3, "a new file at the path");
        std::fs::rename(&path, dir.path().join("old")).unwrap();
        r.batch(4);
        r.finish();
        assert_eq!(complete_lines(&path).len(), 4);
        assert_eq!(complete_lines(&dir.path().join("old")).len(), 3);
    }

    #[test]
    fn logrotate_create_and_copytruncate() {
        let have = std::process::Command::new("sh")
            .args(["-c", "command -v logrotate"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            eprintln!("skipped: logrotate not installed");
            return;
        }
        for mode in ["create", "copytruncate"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("events.jsonl");
            let conf = dir.path().join("logrotate.conf");
            std::fs::write(
                &conf,
                format!(
                    "{} {{\n  rotate 3\n  {mode}\n  missingok\n}}\n",
                    path.display()
                ),
            )
            .unwrap();
            let mut r = Rig::new(&path);
            r.batch(6);
            let out = std::process::Command::new("logrotate")
                .arg("-f")
                .arg("-s")
                .arg(dir.path().join("state"))
                .arg(&conf)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{mode}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            r.batch(5);
            let s = r.finish();
            assert_eq!(s.written, 11, "{mode}");
            let rotated = complete_lines(&dir.path().join("events.jsonl.1"));
            let current = complete_lines(&path);
            assert_eq!((rotated.len(), current.len()), (6, 5), "{mode}");
            // nothing lost, nothing twice
            let mut all: Vec<_> = rotated.into_iter().chain(current).collect();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), 11, "{mode}");
        }
    }

    #[test]
    fn failing_rotation_keeps_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        // `events.jsonl.1` is a non-empty directory: the rename onto it fails
        std::fs::create_dir_all(dir.path().join("events.jsonl.1/x")).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let m = Arc::new(Metrics::new(None));
        let h = spawn(
            SinkConfig {
                file: Some(path.clone()),
                rotate_bytes: 600,
                keep: 1,
                stdout: false,
            },
            rx,
            m.clone(),
        )
        .unwrap();
        for i in 0..20 {
            tx.send(ev(i)).unwrap();
        }
        drop(tx);
        let s = h.join().unwrap();
        assert_eq!((s.written, s.errors), (20, 0));
        assert_eq!(complete_lines(&path).len(), 20);
        assert!(dir.path().join("events.jsonl.1/x").is_dir());
    }
}
