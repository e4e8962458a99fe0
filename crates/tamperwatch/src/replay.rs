//! `tamperwatch replay`: the live pipeline over capture files, at full speed.

use crate::config::Config;
use crate::pipeline::{EventBackpressure, Worker};
use crate::sink::{self, SinkConfig};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tw_capture::{FileSource, Next, Source};
use tw_detect::stats::{DecodeError, FlowOutcome, FlowProto, PacketProto, Signature};
use tw_detect::Stats;

/// Where replay events go.
#[derive(Debug, Clone)]
pub enum EventsOut {
    /// The config's sinks.
    Config,
    /// Standard output only.
    Stdout,
    /// This file only.
    File(PathBuf),
}

pub struct ReplayArgs {
    pub config: Config,
    pub events: EventsOut,
    pub metrics_out: Option<PathBuf>,
    pub workers: Option<usize>,
    pub lookahead: crate::pipeline::LookaheadMode,
    pub files: Vec<PathBuf>,
    pub quiet: bool,
    /// Set to the signal's number by [`watch_signals`], which the caller
    /// starts before anything else.
    pub stop: Arc<AtomicI32>,
}

/// Runs a replay; returns the process exit code.
pub fn run(a: ReplayArgs) -> Result<i32> {
    let started = Instant::now();
    let stop = a.stop.clone();
    let cfg = &a.config;
    let metrics = Arc::new(cfg.new_metrics());
    let sink_cfg = match &a.events {
        EventsOut::Config => SinkConfig {
            file: cfg.event_file(),
            rotate_bytes: cfg.events.rotate_size_mib * 1024 * 1024,
            keep: cfg.events.rotate_keep,
            stdout: cfg.events.stdout,
        },
        EventsOut::Stdout => SinkConfig {
            file: None,
            rotate_bytes: 0,
            keep: 0,
            stdout: true,
        },
        EventsOut::File(p) => SinkConfig {
            file: Some(p.clone()),
            rotate_bytes: 0,
            keep: 0,
            stdout: false,
        },
    };
    let (ev_tx, ev_rx) = crossbeam_channel::bounded(4096);
    let sink = sink::spawn(sink_cfg, ev_rx, metrics.clone())?;
    let mut workers = cfg.replay_workers(a.workers).max(1);
    // Several workers each read every file: a pipe or a device can be read
    // only once, so such an input is replayed by one worker.
    if workers > 1 {
        if let Some(f) = a
            .files
            .iter()
            .find(|f| !std::fs::metadata(f).is_ok_and(|m| m.is_file()))
        {
            eprintln!(
                "warning: {} is not a regular file (a pipe is read once): replaying with 1 worker",
                f.display()
            );
            workers = 1;
        }
    }
    metrics.set_workers(workers);
    let drops = Arc::new(AtomicU64::new(0));
    let engine_cfg = {
        let mut c = cfg.clone();
        c.pipeline.workers = workers;
        c.check_memory_ceiling()?;
        if !a.quiet {
            eprintln!("{}", c.tables_summary());
        }
        let e = c.engine();
        metrics.set_flow_table_capacity(e.flows.max_flows, e.flows.max_unconfirmed);
        e
    };

    let total_bytes: u64 = a
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = (!a.quiet && std::io::stderr().is_terminal() && total_bytes > 64 * 1024 * 1024).then(
        || {
            let b = indicatif::ProgressBar::new(total_bytes);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        },
    );

    // (files read, their errors, each worker's counters, the share of frames
    // looked up ahead)
    let (files_read, read_errors, stats, lookahead): (usize, Vec<_>, Vec<Stats>, f64) =
        if workers == 1 {
            // One worker: no threads, no copies.
            let mut w = Worker::new(
                &engine_cfg,
                metrics.clone(),
                ev_tx.clone(),
                EventBackpressure::Block,
                drops.clone(),
            );
            let mut ahead = crate::pipeline::Lookahead::new(a.lookahead);
            let (read, errors) = read_files(
                &a.files,
                &mut |lt, data, ts, wl| ahead.frame(&mut w, lt, data, ts, wl, None),
                bar.as_ref(),
                &stop,
            );
            ahead.drain(&mut w);
            let share = ahead.share();
            (read, errors, vec![w.finish()], share)
        } else {
            // Every worker reads the files itself (from the page cache) and
            // keeps its shard: no thread copies frames for another, none
            // decodes frames written on another core.
            let mut readers = crate::pipeline::shard_readers(
                workers,
                &engine_cfg,
                &metrics,
                &ev_tx,
                &drops,
                a.lookahead,
            );
            crate::pipeline::pace_together(&mut readers, crate::pipeline::PACE_LEAD);
            let first = readers.remove(0);
            let files = &a.files;
            let stop_ref = &stop;
            std::thread::scope(|sc| -> Result<(usize, Vec<_>, Vec<Stats>, f64)> {
                let mut handles = Vec::new();
                for (i, mut r) in readers.into_iter().enumerate() {
                    let h = std::thread::Builder::new()
                        .name(format!("tw-worker-{}", i + 1))
                        .spawn_scoped(sc, move || {
                            // errors are reported by the first reader
                            let _ = read_files(
                                files,
                                &mut |lt, data, ts, wl| r.push(lt, data, ts, wl),
                                None,
                                stop_ref,
                            );
                            let share = r.lookahead_share();
                            (r.finish(), share)
                        })?;
                    handles.push(h);
                }
                let mut r = first;
                let (read, errors) = read_files(
                    files,
                    &mut |lt, data, ts, wl| r.push(lt, data, ts, wl),
                    bar.as_ref(),
                    stop_ref,
                );
                let mut shares = vec![r.lookahead_share()];
                let mut all = vec![r.finish()];
                for h in handles {
                    let (st, share) = h
                        .join()
                        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
                    all.push(st);
                    shares.push(share);
                }
                let share = shares.iter().sum::<f64>() / shares.len() as f64;
                Ok((read, errors, all, share))
            })?
        };
    drop(ev_tx);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let sink_summary = sink
        .join()
        .map_err(|_| anyhow::anyhow!("event sink thread panicked"))?;
    let mut total = Stats::default();
    for s in &stats {
        total.merge(s);
    }
    if let Some(p) = &a.metrics_out {
        std::fs::write(p, metrics.render()).with_context(|| format!("writing {}", p.display()))?;
    }
    let elapsed = started.elapsed();
    if !a.quiet {
        eprint!(
            "{}",
            summary(
                &total,
                files_read,
                a.files.len(),
                workers,
                elapsed.as_secs_f64(),
                sink_summary.written
            )
        );
        eprintln!(
            "  {:<16} {}: {:.0}% of frames looked up ahead",
            "lookahead",
            a.lookahead.name(),
            lookahead * 100.0
        );
        if let Some(kib) = peak_rss_kib() {
            eprintln!("  {:<16} {} KiB (VmHWM)", "peak memory", thousands(kib));
        }
    }
    for e in &read_errors {
        eprintln!("error: {e}");
    }
    let sig = stop.load(Ordering::SeqCst);
    if sig != 0 {
        // the frames read before the signal went through every detector,
        // flows ended, and every event is in the sink, flushed
        eprintln!(
            "interrupted by signal {sig}: stopped reading; {} events written",
            sink_summary.written
        );
        return Ok(128 + sig);
    }
    if sink_summary.errors > 0 {
        // events were detected but not all written: the run failed at what
        // it was asked for (found in review, session 15: it exited 0)
        eprintln!(
            "error: {} event(s) could not be written ({} written)",
            sink_summary.errors, sink_summary.written
        );
        return Ok(1);
    }
    Ok(if read_errors.is_empty() { 0 } else { 1 })
}

/// Watches SIGINT and SIGTERM: the first sets the flag to its number (the
/// replay stops reading, lets the workers finish and the sink flush); a
/// second one exits at once. The handlers are in place when this returns
/// (the caller runs it first, so that a signal during the set-up stops the
/// replay cleanly instead of killing it: found by the fault test on a
/// loaded machine, when the handlers were registered later, by a thread
/// that had not yet run). The flag, and whether the handlers are in place.
pub fn watch_signals() -> (Arc<AtomicI32>, bool) {
    let stop = Arc::new(AtomicI32::new(0));
    let flag = stop.clone();
    // the thread says when its handlers are registered (or failed to be)
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("tw-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    return;
                };
                let _ = ready_tx.send(());
                for _ in 0..2 {
                    let n = tokio::select! {
                        _ = term.recv() => libc::SIGTERM,
                        _ = int.recv() => libc::SIGINT,
                    };
                    if stop.swap(n, Ordering::SeqCst) != 0 {
                        std::process::exit(128 + n);
                    }
                }
            });
        });
    // (a closed channel: the thread could not register them)
    let ok = spawned.is_ok() && ready_rx.recv().is_ok();
    (flag, ok)
}

/// Called per frame: link type, captured bytes, time, wire length.
type FrameFn<'a> = dyn FnMut(u32, &[u8], i64, u32) + 'a;

/// Reads one file, calling `f` per frame. A damaged file is read up to the
/// damage; the error names the file and byte offset.
/// Reads `files` in turn into `f` until the end or a stop signal; the
/// progress bar, if any, follows the bytes read. Returns how many files
/// were read to their end, and the errors of the others.
fn read_files(
    files: &[PathBuf],
    f: &mut FrameFn<'_>,
    bar: Option<&indicatif::ProgressBar>,
    stop: &AtomicI32,
) -> (usize, Vec<tw_capture::CaptureError>) {
    let (mut read, mut errors, mut done_bytes) = (0, Vec::new(), 0u64);
    for path in files {
        if stop.load(Ordering::Relaxed) != 0 {
            break;
        }
        let r = read_file(path, f, bar, done_bytes, stop);
        done_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        match r {
            Ok(()) => read += 1,
            Err(e) => errors.push(e),
        }
    }
    (read, errors)
}

fn read_file(
    path: &std::path::Path,
    f: &mut FrameFn<'_>,
    bar: Option<&indicatif::ProgressBar>,
    base: u64,
    stop: &AtomicI32,
) -> Result<(), tw_capture::CaptureError> {
    let mut src = FileSource::open(path)?;
    let mut n: u32 = 0;
    loop {
        if n.is_multiple_of(1024) && stop.load(Ordering::Relaxed) != 0 {
            break;
        }
        match src.next()? {
            Next::Frame(fr) => f(fr.linktype, fr.data, fr.ts_ns, fr.orig_len),
            Next::End => break,
            Next::Idle => {}
        }
        n = n.wrapping_add(1);
        if n.is_multiple_of(65_536) {
            if let Some(b) = bar {
                b.set_position(base + src.bytes_read());
            }
        }
    }
    Ok(())
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The process's peak resident memory so far (Linux `VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// The human summary printed on stderr.
pub fn summary(
    t: &Stats,
    files_ok: usize,
    files: usize,
    workers: usize,
    secs: f64,
    written: u64,
) -> String {
    let mut s = String::new();
    let pk = t.total_packets();
    let line = |s: &mut String, k: &str, v: String| s.push_str(&format!("  {k:<16} {v}\n"));
    s.push_str("tamperwatch replay summary\n");
    line(
        &mut s,
        "files",
        format!("{files_ok} of {files} read completely"),
    );
    line(&mut s, "workers", workers.to_string());
    line(&mut s, "packets", thousands(pk));
    let by: Vec<String> = PacketProto::ALL
        .iter()
        .filter(|p| t.packets[p.idx()] > 0)
        .map(|p| format!("{} {}", p.as_str(), thousands(t.packets[p.idx()])))
        .collect();
    line(&mut s, "  by protocol", by.join(", "));
    line(&mut s, "bytes", thousands(t.bytes.iter().sum()));
    line(
        &mut s,
        "flows",
        format!(
            "{} (tcp {}, udp {})",
            thousands(t.total_flows()),
            thousands(t.flows_started[FlowProto::Tcp.idx()]),
            thousands(t.flows_started[FlowProto::Udp.idx()])
        ),
    );
    line(
        &mut s,
        "  held at once",
        if workers > 1 {
            format!(
                "at most {} (peaks of the workers added)",
                thousands(t.flows_peak)
            )
        } else {
            thousands(t.flows_peak)
        },
    );
    for p in FlowProto::ALL {
        let by: Vec<String> = FlowOutcome::ALL
            .iter()
            .filter(|o| t.flows_finished[p.idx()][o.idx()] > 0)
            .map(|o| {
                format!(
                    "{} {}",
                    o.as_str(),
                    thousands(t.flows_finished[p.idx()][o.idx()])
                )
            })
            .collect();
        if !by.is_empty() {
            line(&mut s, &format!("  {} outcomes", p.as_str()), by.join(", "));
        }
    }
    let errs: Vec<String> = DecodeError::ALL
        .iter()
        .filter(|e| t.decode_errors[e.idx()] > 0)
        .map(|e| format!("{} {}", e.as_str(), thousands(t.decode_errors[e.idx()])))
        .collect();
    line(
        &mut s,
        "decode errors",
        if errs.is_empty() {
            "0".into()
        } else {
            format!(
                "{} ({})",
                thousands(t.total_decode_errors()),
                errs.join(", ")
            )
        },
    );
    line(&mut s, "untracked", thousands(t.untracked_packets));
    if t.packets_behind > 0 {
        line(
            &mut s,
            "out of order",
            format!(
                "{} packets stamped over 1 s before an earlier one (the capture's clock was stepped back, or files merged out of order): detections near them may be wrong",
                thousands(t.packets_behind)
            ),
        );
    }
    let evs: Vec<String> = Signature::ALL
        .iter()
        .map(|g| format!("{} {}", g.as_str(), t.events[g.idx()]))
        .collect();
    line(
        &mut s,
        "events",
        format!("{} ({})", t.events.iter().sum::<u64>(), evs.join(", ")),
    );
    line(&mut s, "events written", thousands(written));
    line(&mut s, "elapsed", format!("{secs:.3} s"));
    let rate = if secs > 0.0 { pk as f64 / secs } else { 0.0 };
    line(
        &mut s,
        "rate",
        format!("{} packets/s", thousands(rate as u64)),
    );
    s
}
