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
}

impl FileSink {
    fn open(path: &Path) -> std::io::Result<(BufWriter<File>, u64)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        let size = f.metadata()?.len();
        Ok((BufWriter::with_capacity(64 * 1024, f), size))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(mut o) = self.out.take() {
            o.flush()?;
        }
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(name(self.keep));
            for i in (1..self.keep).rev() {
                let from = name(i);
                if from.exists() {
                    std::fs::rename(&from, name(i + 1))?;
                }
            }
            std::fs::rename(&self.path, name(1))?;
        }
        let (o, size) = Self::open(&self.path)?;
        self.out = Some(o);
        self.size = size;
        Ok(())
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let n = line.len() as u64 + 1;
        if self.out.is_none() {
            let (o, size) = Self::open(&self.path)?;
            self.out = Some(o);
            self.size = size;
        }
        if self.rotate_bytes > 0 && self.size > 0 && self.size + n > self.rotate_bytes {
            self.rotate()?;
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| std::io::Error::other("event file not open"))?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        self.size += n;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
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
        Some(p) => {
            let (o, size) = FileSink::open(p)
                .map_err(|e| anyhow::anyhow!("cannot open event file {}: {e}", p.display()))?;
            Some(FileSink {
                path: p.clone(),
                out: Some(o),
                size,
                rotate_bytes: cfg.rotate_bytes,
                keep: cfg.keep,
            })
        }
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
        while let Ok(first) = rx.recv() {
            let mut out = stdout.lock();
            let mut handle = |e: Event, summary: &mut SinkSummary| {
                let line = e.to_json_line();
                let mut ok = true;
                if let Some(f) = file.as_mut() {
                    match f.write_line(&line) {
                        Ok(()) => metrics.events_written(Sink::File).inc(),
                        Err(err) => {
                            ok = false;
                            f.out = None; // reopen on the next event
                            if last_error_logged.is_none_or(|t| t.elapsed().as_secs() >= 60) {
                                tracing::error!(path = %f.path.display(), error = %err, "cannot write event file; events are being lost");
                                last_error_logged = Some(std::time::Instant::now());
                            }
                        }
                    }
                }
                if cfg.stdout {
                    match writeln!(out, "{line}") {
                        Ok(()) => metrics.events_written(Sink::Stdout).inc(),
                        Err(_) => ok = false,
                    }
                }
                if ok {
                    summary.written += 1;
                } else {
                    summary.errors += 1;
                    metrics.events_dropped(DropReason::SinkError).inc();
                }
            };
            handle(first, &mut summary);
            while let Ok(e) = rx.try_recv() {
                handle(e, &mut summary);
            }
            if let Some(f) = file.as_mut() {
                if let Err(err) = f.flush() {
                    tracing::error!(path = %f.path.display(), error = %err, "cannot flush event file");
                    f.out = None;
                }
            }
            let _ = out.flush();
        }
        if let Some(f) = file.as_mut() {
            let _ = f.flush();
        }
        summary
    })?;
    Ok(h)
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
}
