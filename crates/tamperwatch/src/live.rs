//! `tamperwatch run`: live capture on one or more interfaces.
//!
//! Threads: one capture thread per interface (plain thread, owns its ring),
//! N detection workers, one event-sink thread; tokio on the main thread
//! serves HTTP and waits for signals.

use crate::config::{Backend, Config};
use crate::pipeline::{spawn_workers, Dispatcher, EventBackpressure};
use crate::sink::{self, SinkConfig};
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tw_capture::{CaptureError, Next, PnetSource, RingConfig, RingSource, Source};
use tw_metrics::{InterfaceMetrics, Metrics};

/// Exit status when every capture interface has failed or disappeared, so
/// that a service manager restarts the daemon.
pub const EXIT_CAPTURE_LOST: i32 = 3;

fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn open_source(cfg: &Config, iface: &str) -> Result<Box<dyn Source>, CaptureError> {
    let c = &cfg.capture;
    let rc = RingConfig {
        ring_bytes: c.ring_size_mib as usize * 1024 * 1024,
        block_bytes: c.block_size_kib as usize * 1024,
        block_timeout_ms: c.block_timeout_ms,
        snaplen: c.snaplen,
        promiscuous: c.promiscuous,
        ..RingConfig::default()
    };
    Ok(match c.backend {
        Backend::Ring => Box::new(RingSource::open(iface, &rc)?),
        Backend::Pnet => Box::new(PnetSource::open(iface, &rc)?),
    })
}

fn capture_loop(
    mut src: Box<dyn Source>,
    mut d: Dispatcher,
    im: InterfaceMetrics,
    drops_total: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Result<(), CaptureError> {
    let mut last = src.stats();
    let mut last_stats_at = Instant::now();
    let mut last_flush = Instant::now();
    let mut n: u32 = 0;
    let result = loop {
        let idle = match src.next() {
            Ok(Next::Frame(f)) => {
                d.push(f.linktype, f.data, f.ts_ns, f.orig_len);
                n = n.wrapping_add(1);
                false
            }
            Ok(Next::Idle) => true,
            Ok(Next::End) => break Ok(()),
            Err(e) => break Err(e),
        };
        if idle || n % 1024 == 0 {
            if stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            // Bounded latency: partly filled batches go out at least every 100 ms;
            // an idle capture also advances packet time so flows expire.
            if idle || last_flush.elapsed() >= Duration::from_millis(100) {
                d.flush(idle.then(wall_ns));
                last_flush = Instant::now();
            }
            if last_stats_at.elapsed() >= Duration::from_secs(1) {
                let s = src.stats();
                im.add_packets(s.packets.saturating_sub(last.packets));
                let nd = s.kernel_drops.saturating_sub(last.kernel_drops);
                im.add_kernel_drops(nd);
                im.add_kernel_freezes(s.kernel_freezes.saturating_sub(last.kernel_freezes));
                drops_total.fetch_add(nd, Ordering::Relaxed);
                last = s;
                last_stats_at = Instant::now();
            }
        }
    };
    let s = src.stats();
    im.add_packets(s.packets.saturating_sub(last.packets));
    im.add_kernel_drops(s.kernel_drops.saturating_sub(last.kernel_drops));
    im.add_kernel_freezes(s.kernel_freezes.saturating_sub(last.kernel_freezes));
    d.flush(None);
    result
}

/// Runs the daemon until SIGINT/SIGTERM; returns the exit code.
pub fn run(cfg: Config) -> Result<i32> {
    let mut ifaces = cfg.capture.interfaces.clone();
    if ifaces.is_empty() {
        ifaces.push(
            tw_capture::default_route_interface()
                .map_err(|e| anyhow::anyhow!("no interface given and {e}; use -i IFACE"))?,
        );
    }
    let metrics = Arc::new(Metrics::new(crate::vantage(&cfg)));
    let workers_n = cfg.workers();
    metrics.set_workers(workers_n);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("tw-io")
        .build()?;
    let listen = cfg.listen_addr()?;
    let listener = rt.block_on(tw_metrics::bind(listen))?;
    tracing::info!(%listen, "metrics endpoint listening");

    // Open every capture first: fail early when none can be opened.
    let mut sources = Vec::new();
    for i in &ifaces {
        let im = metrics.interface(i);
        match open_source(&cfg, i) {
            Ok(s) => {
                im.set_up(true);
                tracing::info!(interface = %i, backend = ?cfg.capture.backend, "capture open");
                sources.push((i.clone(), s, im));
            }
            Err(e) => {
                im.set_up(false);
                tracing::error!(interface = %i, error = %e, "cannot open capture");
            }
        }
    }
    if sources.is_empty() {
        bail!("no capture could be opened on {}", ifaces.join(", "));
    }

    let (ev_tx, ev_rx) = crossbeam_channel::bounded(8192);
    let sink = sink::spawn(
        SinkConfig {
            file: cfg.event_file(),
            rotate_bytes: cfg.events.rotate_size_mib * 1024 * 1024,
            keep: cfg.events.rotate_keep,
            stdout: cfg.events.stdout,
        },
        ev_rx,
        metrics.clone(),
    )?;
    let drops = Arc::new(AtomicU64::new(0));
    let workers = spawn_workers(
        workers_n,
        &cfg.engine(),
        &metrics,
        &ev_tx,
        EventBackpressure::Drop,
        &drops,
    )?;
    drop(ev_tx);

    let stop = Arc::new(AtomicBool::new(false));
    let alive = Arc::new(AtomicUsize::new(sources.len()));
    let all_gone = Arc::new(tokio::sync::Notify::new());
    let mut captures = Vec::new();
    for (name, src, im) in sources {
        let d = workers.dispatcher();
        let (stop, drops, alive, all_gone) =
            (stop.clone(), drops.clone(), alive.clone(), all_gone.clone());
        let h = std::thread::Builder::new().name(format!("tw-cap-{name}")).spawn(move || {
            let r = capture_loop(src, d, im.clone(), drops, stop);
            if let Err(e) = &r {
                im.set_up(false);
                tracing::error!(interface = %name, error = %e, "capture stopped; other interfaces continue");
            }
            if alive.fetch_sub(1, Ordering::SeqCst) == 1 {
                all_gone.notify_one();
            }
            r.is_ok()
        })?;
        captures.push(h);
    }

    let health = tw_metrics::capture_health(metrics.clone());
    let (shut_tx, shut_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(tw_metrics::serve(
        listener,
        metrics.clone(),
        health,
        async move {
            let _ = shut_rx.await;
        },
    ));
    tracing::info!(interfaces = %ifaces.join(","), workers = workers_n, "tamperwatch running");
    let lost = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let lost = tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); false }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); false }
            _ = all_gone.notified() => { tracing::error!("every capture interface is gone"); true }
        };
        anyhow::Ok(lost)
    })?;
    stop.store(true, Ordering::SeqCst);
    for h in captures {
        let _ = h.join();
    }
    // Captures dropped their dispatchers (flushing them); workers finish
    // the packets in hand, then the sink writes and flushes every event.
    let stats = workers.join();
    let written = sink.join().map(|s| s.written).unwrap_or(0);
    let _ = shut_tx.send(());
    let _ = rt.block_on(server);
    let packets: u64 = stats.iter().map(|s| s.total_packets()).sum();
    tracing::info!(packets, events_written = written, "stopped");
    Ok(if lost { EXIT_CAPTURE_LOST } else { 0 })
}
