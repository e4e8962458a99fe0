//! `tamperwatch run`: live capture on one or more interfaces.
//!
//! Threads: one capture thread per interface (plain thread, owns its ring),
//! N detection workers, one event-sink thread; tokio on the main thread
//! serves HTTP and waits for signals.

use crate::config::{Backend, Config};
use crate::pipeline::{spawn_workers, Dispatcher, EventBackpressure, LinkStates, Reloadable};
use crate::sink::{self, SinkConfig};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tw_capture::clock::{SteadyClock, StepGuard};
use tw_capture::{CaptureError, Next, PnetSource, RingConfig, RingSource, Source};
use tw_metrics::{InterfaceMetrics, Metrics};

/// Exit status when every capture interface has failed or disappeared, so
/// that a service manager restarts the daemon.
pub const EXIT_CAPTURE_LOST: i32 = 3;

fn ring_config(cfg: &Config) -> RingConfig {
    let c = &cfg.capture;
    RingConfig {
        ring_bytes: c.ring_size_mib as usize * 1024 * 1024,
        block_bytes: c.block_size_kib as usize * 1024,
        block_timeout_ms: c.block_timeout_ms,
        snaplen: c.snaplen,
        promiscuous: c.promiscuous,
        ..RingConfig::default()
    }
}

/// Whether this host forwards IPv4 or IPv6 packets (a router).
fn forwards() -> bool {
    [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ]
    .iter()
    .any(|p| std::fs::read_to_string(p).is_ok_and(|v| v.trim() == "1"))
}

/// Opens the capture(s) of one interface: one source, or `capture.fanout`
/// sources in one `PACKET_FANOUT` group (hash mode: a flow's packets, both
/// directions, always land in the same source).
fn open_sources(cfg: &Config, iface: &str) -> Result<Vec<Box<dyn Source>>, CaptureError> {
    let c = &cfg.capture;
    let n = c.fanout.max(1);
    let mut rc = ring_config(cfg);
    let mut v: Vec<Box<dyn Source>> = Vec::new();
    match c.backend {
        Backend::Ring if n > 1 => {
            // The kernel picks a group id no other socket on the host uses
            // (another daemon's group must never be joined by accident);
            // the other rings join it.
            rc.fanout = Some((0, tw_capture::FanoutMode::Hash));
            rc.fanout_unique = true;
            let first = RingSource::open(iface, &rc)?;
            let id = first.fanout_id().unwrap_or(0);
            v.push(Box::new(first));
            rc.fanout_unique = false;
            rc.fanout = Some((id, tw_capture::FanoutMode::Hash));
            for _ in 1..n {
                v.push(Box::new(RingSource::open(iface, &rc)?));
            }
        }
        Backend::Ring => v.push(Box::new(RingSource::open(iface, &rc)?)),
        Backend::Pnet => {
            // pnet cannot ask for a unique id: one from the process and the
            // interface, unlikely to meet another program's.
            let group = (std::process::id().wrapping_mul(0x9e37)
                ^ tw_capture::interface_index(iface)
                    .unwrap_or(0)
                    .wrapping_mul(0x85eb)) as u16;
            rc.fanout = (n > 1).then_some((group, tw_capture::FanoutMode::Hash));
            for _ in 0..n {
                v.push(Box::new(PnetSource::open(iface, &rc)?));
            }
        }
    }
    Ok(v)
}

/// Partly filled batches go out at least this often (packet time).
const FLUSH_EVERY_NS: i64 = 100_000_000;

/// What every capture thread hands the workers besides frames: the kernel
/// drop count and the link-down periods; and the steady timeline its
/// frames' times are put on (`tw_capture::clock`: the kernel stamps them
/// with the host's real-time clock, which can be stepped), with the
/// metrics that report the clock's steps.
#[derive(Clone)]
struct ToWorkers {
    drops_total: Arc<AtomicU64>,
    links: Arc<LinkStates>,
    clock: Arc<SteadyClock>,
    metrics: Arc<Metrics>,
    /// The capture is on the default route's interface, not on one named
    /// in the configuration: it moves when the default route does.
    follow_default_route: bool,
}

/// How a wait for a deleted interface ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// An interface of the same name is back: capturing on it.
    Back,
    /// The default route is on another interface, followed: capturing
    /// there (its name).
    Moved(String),
    /// Stopped (SIGINT/SIGTERM) meanwhile.
    Stopped,
}

/// Waits, after the capture's interface was deleted (or before it first
/// exists), for an interface of the same name to bind to
/// ([`Source::reattach`], tried every 500 ms) or, when following the
/// default route, for the route to settle on another interface (checked
/// every second). Keeps the watchdog fed and packet time going (ticks, so
/// flows under way end as idle).
fn wait_for_interface(
    src: &mut dyn Source,
    d: &mut Dispatcher,
    clock: &SteadyClock,
    tick_lag_ns: i64,
    stop: &AtomicBool,
    beat: &sd_notify::Heartbeat,
    mut follow: Option<(&mut RouteFollow, &str)>,
) -> Result<Waited, CaptureError> {
    let mut tries: u32 = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(Waited::Stopped);
        }
        beat.beat();
        d.flush(Some(clock.now().saturating_sub(tick_lag_ns)));
        if tries.is_multiple_of(5) && src.reattach()? {
            return Ok(Waited::Back);
        }
        if tries.is_multiple_of(10) {
            if let Some((f, name)) = follow.as_mut() {
                if let Some(def) = f.follow(src, name, clock.now()) {
                    return Ok(Waited::Moved(def));
                }
            }
        }
        tries = tries.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Following the default route (no interface named): which interface it is
/// on, read from `/proc/net/route` once a second.
#[derive(Debug)]
struct RouteFollow {
    /// Still following (not when the backend cannot move, or the routing
    /// table is too large to read every second).
    on: bool,
    /// The last check that found the route on the captured interface.
    seen_at: i64,
    /// Another interface the route was found on by the last check (moved to
    /// when found there by two checks in a row).
    moving: Option<String>,
    /// A tunnel the route went to, said once.
    tunnel_said: Option<String>,
}

/// Reading the routing table taking longer than this (a router holding
/// a full Internet table) ends the following: the capture thread reads it.
const ROUTE_READ_MAX: Duration = Duration::from_millis(20);

impl RouteFollow {
    fn new(on: bool, now: i64) -> RouteFollow {
        RouteFollow {
            on,
            seen_at: now,
            moving: None,
            tunnel_said: None,
        }
    }

    /// The interface to move to, if the default route has been on it (not
    /// a tunnel, not `current`) for two checks in a row.
    fn check(&mut self, current: &str, now: i64) -> Option<String> {
        if !self.on {
            return None;
        }
        let t0 = Instant::now();
        let route = tw_capture::default_route_interface();
        if t0.elapsed() > ROUTE_READ_MAX {
            tracing::warn!(took = ?t0.elapsed(), "the routing table is too large to read every second: no longer following the default route");
            self.on = false;
            return None;
        }
        match route {
            Ok(def) if def == current => {}
            // A VPN that takes the default route: the link it runs over is
            // still this one, and inside the tunnel is the network of its
            // far end, not this link's.
            Ok(def) if tw_capture::interface_is_tunnel(&def) => {
                if self.tunnel_said.as_deref() != Some(def.as_str()) {
                    tracing::info!(tunnel = %def, interface = %current, "the default route moved to a tunnel: staying on the interface it runs over");
                    self.tunnel_said = Some(def);
                }
            }
            Ok(def) => {
                if self.moving.as_deref() == Some(def.as_str()) {
                    self.moving = None;
                    return Some(def);
                }
                self.moving = Some(def);
                return None;
            }
            // (no default route at all, offline: stay)
            Err(_) => {}
        }
        self.moving = None;
        self.seen_at = now;
        None
    }

    /// [`RouteFollow::check`], and `src` moved there: the interface it
    /// captures on now, if it moved.
    fn follow(&mut self, src: &mut dyn Source, current: &str, now: i64) -> Option<String> {
        let def = self.check(current, now)?;
        match src.move_to(&def) {
            Ok(true) => {
                tracing::warn!(from = %current, to = %def, "the default route moved to another interface: capturing there");
                Some(def)
            }
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(to = %def, error = %e, "the default route moved to another interface, which cannot be captured: staying");
                self.on = false;
                None
            }
        }
    }
}

/// Reports the clock's steps measured so far (logged once, whichever
/// capture thread measured them). Called at every poll: the steps first,
/// then the correction, which is then at least as new.
fn report_clock(clock: &SteadyClock, metrics: &Metrics) {
    let steps = clock.steps();
    let correction = clock.correction();
    if metrics.clock_stepped(steps, correction) {
        tracing::warn!(
            correction_s = correction as f64 / 1e9,
            steps,
            "the host's clock was stepped; packet times stay steady, events are written by the corrected clock"
        );
    }
}

/// The host was asleep (a laptop's lid closed) since the last check:
/// nothing was captured, and servers may have forgotten the connections
/// under way. A link-down period from the poll before (`since.0`), as for a
/// link that went down, published before any batch or tick stamped after
/// the resume reaches the workers (found in review, session 23: checked
/// only at the once-a-second poll, the idle tick before it let flows whose
/// timeouts ran out in the sleep be judged first). Not when this capture
/// already holds a period (its link is down).
fn noticed_suspension(
    suspend: &mut tw_capture::clock::SuspendWatch,
    links: &LinkStates,
    since: (i64, Option<i64>),
    down: bool,
    clock: &SteadyClock,
    what: &str,
) {
    if let Some(slept) = suspend.check() {
        tracing::info!(interface = %what, seconds = slept / 1_000_000_000, "the host was suspended: treated as a link-down period");
        if !down && links.went_down(since.0, since.1) {
            links.came_up(clock.now());
        }
    }
}

fn capture_loop(
    tick_lag_ns: i64,
    mut src: Box<dyn Source>,
    mut d: Dispatcher,
    mut im: InterfaceMetrics,
    to_workers: ToWorkers,
    stop: Arc<AtomicBool>,
    beat: sd_notify::Heartbeat,
) -> (Result<(), CaptureError>, InterfaceMetrics) {
    let ToWorkers {
        drops_total,
        links,
        clock,
        metrics,
        follow_default_route,
    } = to_workers;
    let mut route = RouteFollow::new(follow_default_route && src.can_reattach(), clock.now());
    // the host's own addresses, for the detectors (read again every 10 s)
    links.note_local(&tw_capture::local_addresses());
    let mut polls: u32 = 0;
    if follow_default_route && !route.on {
        tracing::info!(interface = %src.describe(), "capturing on the default route's interface; this backend (pnet, or fanout above 1) cannot follow the route if it moves");
    }
    let mut guard = StepGuard::new(clock.clone());
    let mut suspend = tw_capture::clock::SuspendWatch::system();
    let mut last = src.stats();
    // When the interface's state was last read (steady time, the packet
    // time of a live capture): a change noticed at one poll happened after
    // the poll before.
    let mut polled_ns = clock.now();
    // The packet time of the last frame captured, and whether this capture
    // holds a link-down period open (its interface went down having
    // carried packets lately: `LinkStates::went_down`).
    let mut last_frame_ts: Option<i64> = None;
    let mut holds_period = false;
    if last.link_down {
        // (later changes are acted on below; the state at start must be
        // too: found in review, session 16). No link-down period: the
        // interface carried nothing in this run, so no flow's silence is
        // explained by it (found in review, session lp: an unplugged eth0
        // beside wlan0 excused every block for the daemon's life).
        im.set_up(false);
        tracing::warn!(interface = %src.describe(), "interface down (administratively, or no carrier) at start: capturing nothing until it is up");
    }
    let mut last_stats_at = Instant::now();
    let mut last_flush = Instant::now();
    let mut n: u32 = 0;
    // Packet time of the last flush: a steady trickle (never idle, far from
    // 1024 frames) must not sit in a half-filled batch.
    let mut last_flush_ts = i64::MIN;
    let can_reattach = src.can_reattach();
    let mut failed = None;
    let result = loop {
        let idle = match src.next() {
            Ok(Next::Frame(f)) => {
                let ts = guard.steady(f.ts_ns);
                last_frame_ts = Some(ts);
                d.push(f.linktype, f.data, ts, f.orig_len);
                n = n.wrapping_add(1);
                if ts.saturating_sub(last_flush_ts) >= FLUSH_EVERY_NS {
                    if last_flush_ts != i64::MIN {
                        noticed_suspension(
                            &mut suspend,
                            &links,
                            (polled_ns, last_frame_ts),
                            last.link_down || holds_period,
                            &clock,
                            src.describe(),
                        );
                        d.flush(None);
                        last_flush = Instant::now();
                    }
                    last_flush_ts = ts;
                }
                false
            }
            Ok(Next::Idle) => true,
            Ok(Next::End) => break Ok(()),
            Err(e) => {
                failed = Some(e);
                true
            }
        };
        if let Some(e) = failed.take() {
            if !(can_reattach && matches!(e, CaptureError::InterfaceGone { .. })) {
                break Err(e);
            }
            // Deleted (a PPP link redialling, a USB modem unplugged, a
            // VPN's device removed), or not there yet at the start: wait for an interface of the same
            // name, and capture there, as for an interface that went down.
            // Meanwhile it is down: the detectors excuse the silences it
            // explains, and ticks keep packet time going.
            tracing::warn!(interface = %src.describe(), error = %e, "no such interface (deleted, or not made yet): waiting for an interface of that name, to capture there");
            im.set_up(false);
            if !last.link_down {
                holds_period = links.went_down(polled_ns, last_frame_ts);
                last.link_down = true;
            }
            let name = im.name().to_string();
            let waited = wait_for_interface(
                &mut *src,
                &mut d,
                &clock,
                tick_lag_ns,
                &stop,
                &beat,
                route.on.then_some((&mut route, name.as_str())),
            );
            match waited {
                Ok(Waited::Back) => {
                    tracing::info!(interface = %src.describe(), "an interface of that name is back: capturing on it");
                }
                Ok(Waited::Moved(def)) => {
                    metrics.forget_interface(&name);
                    im = metrics.interface(&def);
                    im.set_up(false);
                }
                Ok(Waited::Stopped) => break Ok(()),
                Err(e) => break Err(e),
            }
            // (the next poll of the interface's state sets the capture up,
            // ends the link-down period, and says so)
            last_stats_at = Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or(last_stats_at);
            continue;
        }
        // Every frame: a trickle of packets (a few per second) would
        // otherwise hold off a SIGTERM for minutes.
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        // Every 64 frames at least: at a steady 10-60 packets a second the
        // ring never goes idle, and the watchdog, the flush and the link
        // state must not wait for 1024 frames (a minute).
        if idle || n.is_multiple_of(64) {
            beat.beat();
            // Bounded latency: partly filled batches go out at least every 100 ms;
            // an idle capture also advances packet time so flows expire.
            if idle || last_flush.elapsed() >= Duration::from_millis(100) {
                noticed_suspension(
                    &mut suspend,
                    &links,
                    (polled_ns, last_frame_ts),
                    last.link_down || holds_period,
                    &clock,
                    src.describe(),
                );
                // Idle: advance packet time, but not past frames the kernel
                // may still hold in a block it has not handed over.
                d.flush(idle.then(|| clock.now().saturating_sub(tick_lag_ns)));
                last_flush = Instant::now();
            }
            if last_stats_at.elapsed() >= Duration::from_secs(1) {
                let s = src.stats();
                let at = guard.poll().now;
                report_clock(&clock, &metrics);
                polls = polls.wrapping_add(1);
                if polls.is_multiple_of(10) {
                    links.note_local(&tw_capture::local_addresses());
                }
                if s.link_down != last.link_down {
                    im.set_up(!s.link_down);
                    // the workers excuse silences and stalls in the period
                    // (from the poll before this one, when it was still up)
                    if s.link_down {
                        holds_period = links.went_down(polled_ns, last_frame_ts);
                        tracing::warn!(interface = %src.describe(), "interface down (administratively, or no carrier): capturing nothing until it is up again");
                    } else {
                        if std::mem::take(&mut holds_period) {
                            links.came_up(at);
                        }
                        tracing::info!(interface = %src.describe(), "interface up again: capturing");
                    }
                }
                polled_ns = at;
                im.add_packets(s.packets.saturating_sub(last.packets));
                let nd = s.kernel_drops.saturating_sub(last.kernel_drops);
                im.add_kernel_drops(nd);
                im.add_kernel_freezes(s.kernel_freezes.saturating_sub(last.kernel_freezes));
                drops_total.fetch_add(nd, Ordering::Relaxed);
                last = s;
                let seen_at = route.seen_at;
                if let Some(def) = route.follow(&mut *src, im.name(), at) {
                    // The flows under way on the old interface went out of
                    // sight: a link-down period from the last check that
                    // found the route there, as for a link that went down.
                    if std::mem::take(&mut holds_period) || links.went_down(seen_at, last_frame_ts)
                    {
                        links.came_up(at);
                    }
                    metrics.forget_interface(im.name());
                    im = metrics.interface(&def);
                    last.link_down = src.stats().link_down;
                    im.set_up(!last.link_down);
                    route.seen_at = at;
                }
                last_stats_at = Instant::now();
            }
        }
    };
    let s = src.stats();
    im.add_packets(s.packets.saturating_sub(last.packets));
    im.add_kernel_drops(s.kernel_drops.saturating_sub(last.kernel_drops));
    im.add_kernel_freezes(s.kernel_freezes.saturating_sub(last.kernel_freezes));
    d.flush(None);
    if holds_period {
        // no longer watched: the period this capture held open ends
        links.came_up(clock.now());
    }
    // A capture that ended (interface lost) no longer feeds the watchdog's
    // judgement; the others keep it fed.
    beat.finish();
    // (with the interface it was on last: the default route's may have
    // moved)
    (result, im)
}

/// A configuration reload (SIGHUP): reads `path` again (the defaults
/// without one), keeps the command line's interfaces and applies the
/// detector settings (`rst_injection`, `dns_injection`, `http_injection`
/// with their fingerprint files, `blackhole`, the watch list's patterns) to
/// every worker from its next batch. Anything else that changed is
/// reported as needing a restart. An invalid file, or a watch list whose
/// groups changed, is rejected and the running configuration stays.
fn reload(
    path: Option<&Path>,
    cli: &CliOverrides,
    current: &mut Config,
    cell: &Reloadable,
    metrics: &Metrics,
) {
    let reject = |why: String| {
        tracing::error!(reason = %why, "configuration reload rejected; the running configuration stays");
        metrics.record_config_reload(false);
    };
    let mut new = match Config::load_or_default(path) {
        Ok(c) => c,
        Err(e) => return reject(format!("{e:#}")),
    };
    if !cli.interfaces.is_empty() {
        new.capture.interfaces = cli.interfaces.clone();
    }
    if let Some(w) = &cli.web_config_file {
        new.metrics.web_config_file = w.clone();
    }
    let names = |c: &Config| c.watch().map(|w| w.names().join(",")).unwrap_or_default();
    if names(&new) != names(current) {
        return reject(format!(
            "watch_list groups changed ({} -> {}): adding or removing a group needs a restart",
            names(current),
            names(&new)
        ));
    }
    let mut restart = Vec::new();
    macro_rules! keep {
        ($($f:ident),*) => {$(
            if new.$f != current.$f {
                restart.push(stringify!($f));
                new.$f = current.$f.clone();
            }
        )*};
    }
    keep!(capture, pipeline, flows, events, metrics, vantage, log, security);
    if !restart.is_empty() {
        tracing::warn!(sections = %restart.join(", "), "configuration reload: these settings need a restart and keep their running values");
    }
    cell.publish(new.engine().detectors);
    *current = new;
    metrics.record_config_reload(true);
    tracing::info!(path = ?path, "configuration reloaded: detector settings and watch list applied");
}

/// Runs the daemon until SIGINT/SIGTERM; returns the exit code. SIGHUP
/// reloads `path` (see [`reload`]).
/// Settings given on the command line (they win over the file, at reloads too).
#[derive(Debug, Default)]
pub struct CliOverrides {
    /// `-i IFACE`.
    pub interfaces: Vec<String>,
    /// `--web.config.file`.
    pub web_config_file: Option<String>,
}

pub fn run(cfg: Config, path: Option<PathBuf>, cli: CliOverrides) -> Result<i32> {
    let mut cfg = cfg;
    let mut ifaces = cfg.capture.interfaces.clone();
    // none named: the default route's interface, followed when the route
    // moves (a laptop's Ethernet plugged in beside its Wi-Fi)
    let follow_default_route = ifaces.is_empty();
    if ifaces.is_empty() {
        let i = tw_capture::default_route_interface()
            .map_err(|e| anyhow::anyhow!("no interface given and {e}; use -i IFACE"))?;
        if tw_capture::interface_is_tunnel(&i) {
            tracing::warn!(interface = %i, "the default route is on a tunnel (a VPN): what is captured there crosses the network of the tunnel's far end, not this link's; name the interface the tunnel runs over with -i to watch this link");
        }
        ifaces.push(i);
    }
    if ifaces.len() > 1 && forwards() {
        tracing::warn!(interfaces = %ifaces.join(","), "this host forwards packets between interfaces (a router): capturing on both sides sees each forwarded connection twice (before and after NAT), doubling its events; capture one side (docs/operator-guide.md, \"On a gateway\")");
    }
    let metrics = Arc::new(cfg.new_metrics());
    let workers_n = cfg.workers();
    metrics.set_workers(workers_n);
    tracing::info!("{}", cfg.tables_summary());
    {
        let e = cfg.engine();
        metrics.set_flow_table_capacity(e.flows.max_flows, e.flows.max_unconfirmed);
    }
    // Everything privileged happens on this single thread: bind, open the
    // captures and the event file, then drop privileges (capabilities are
    // per thread), and only then start the other threads.
    let target = crate::privdrop::target(&cfg.security.user)?;
    let listen = cfg.listen_addr()?;
    let listener = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async { anyhow::Ok(tw_metrics::bind(listen).await?.into_std()?) })?;
    tracing::info!(%listen, "metrics endpoint listening");
    // TLS certificate and key, user list: read while still privileged.
    let web = cfg.web_config()?;
    if let Some(w) = &web {
        tracing::info!(file = %w.path.display(), tls = w.tls(), basic_auth = w.basic_auth(), "metrics endpoint web configuration");
    }

    // Open every capture first: fail early when none can be opened.
    let mut sources = Vec::new();
    // Interfaces that do not exist yet, beside others that do (a PPP uplink
    // not dialled yet): with the ring backend (one ring), their capture is
    // opened now, while privileged, and waits for them.
    let mut absent = Vec::new();
    let can_wait = cfg.capture.backend == Backend::Ring && cfg.capture.fanout <= 1;
    for i in &ifaces {
        let im = metrics.interface(i);
        match open_sources(&cfg, i) {
            Err(CaptureError::NoSuchInterface { .. }) if can_wait => {
                im.set_up(false);
                match RingSource::open_waiting(i, &ring_config(&cfg)) {
                    Ok(s) => absent.push((i.clone(), s, im)),
                    Err(e) => tracing::error!(interface = %i, error = %e, "cannot open capture"),
                }
            }
            Ok(v) => {
                im.set_up(true);
                tracing::info!(interface = %i, backend = ?cfg.capture.backend, fanout = v.len(), "capture open");
                let n = v.len();
                // The interface is down only once all of its rings stopped.
                let rings = Arc::new(AtomicUsize::new(n));
                for (k, s) in v.into_iter().enumerate() {
                    let name = if n > 1 { format!("{i}#{k}") } else { i.clone() };
                    sources.push((name, s, im.clone(), rings.clone()));
                }
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
    for (i, s, im) in absent {
        tracing::warn!(interface = %i, "no such interface (yet): its capture waits for it");
        let s: Box<dyn Source> = Box::new(s);
        sources.push((i, s, im, Arc::new(AtomicUsize::new(1))));
    }

    let event_file = cfg.event_file();
    if let (Some(f), Some(t)) = (&event_file, &target) {
        crate::privdrop::prepare_event_dir(f, t)?;
    }
    let sink = sink::open(SinkConfig {
        file: event_file.clone(),
        rotate_bytes: cfg.events.rotate_size_mib * 1024 * 1024,
        keep: cfg.events.rotate_keep,
        stdout: cfg.events.stdout,
    })?;
    if let (Some(f), Some(t)) = (&event_file, &target) {
        crate::privdrop::hand_over_event_file(f, t);
    }
    let notifier = sd_notify::Notifier::from_env();
    let dropped = crate::privdrop::drop_privileges(target.as_ref())?;
    match &target {
        Some(t) => {
            tracing::info!(user = %t.name, uid = t.uid, gid = t.gid, "capabilities dropped; running as an unprivileged user")
        }
        None => tracing::info!("capabilities dropped"),
    }
    if !dropped.bounding_left.is_empty() {
        tracing::info!(caps = ?dropped.bounding_left, "bounding set kept these (no CAP_SETPCAP); none is effective or permitted and no_new_privs is set");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("tw-io")
        .build()?;
    let listener = {
        let _g = rt.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (ev_tx, ev_rx) = crossbeam_channel::bounded(8192);
    let sink = sink.spawn(ev_rx, metrics.clone())?;
    let drops = Arc::new(AtomicU64::new(0));
    let cell = Arc::new(Reloadable::default());
    let links = Arc::new(LinkStates::default());
    let workers = spawn_workers(
        workers_n,
        &cfg.engine(),
        &metrics,
        &ev_tx,
        &drops,
        crate::pipeline::WorkerOptions {
            backpressure: EventBackpressure::Drop,
            reload: Some(cell.clone()),
            lookahead: crate::pipeline::LookaheadMode::Auto,
            link_states: Some(links.clone()),
        },
    )?;
    drop(ev_tx);

    let stop = Arc::new(AtomicBool::new(false));
    // the steady timeline of every capture's packet times
    let clock = Arc::new(SteadyClock::system());
    // how far behind the wall clock an idle tick stays (a block the kernel
    // has not retired yet holds up to block_timeout_ms of frames)
    let tick_lag_ns = (i64::from(cfg.capture.block_timeout_ms) + 100) * 1_000_000;
    let mut beats = Vec::new();
    let alive = Arc::new(AtomicUsize::new(sources.len()));
    let all_gone = Arc::new(tokio::sync::Notify::new());
    let mut captures = Vec::new();
    for (name, src, im, rings) in sources {
        let d = workers.dispatcher();
        let (stop, alive, all_gone) = (stop.clone(), alive.clone(), all_gone.clone());
        let to_workers = ToWorkers {
            drops_total: drops.clone(),
            links: links.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            follow_default_route,
        };
        let beat = sd_notify::Heartbeat::new(&name);
        beats.push(beat.clone());
        let h = std::thread::Builder::new().name(format!("tw-cap-{name}")).spawn(move || {
            let (r, im) = capture_loop(tick_lag_ns, src, d, im, to_workers, stop, beat);
            if let Err(e) = &r {
                if rings.fetch_sub(1, Ordering::SeqCst) == 1 {
                    im.set_up(false);
                }
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
    let server = rt.spawn(tw_metrics::serve_web(
        listener,
        metrics.clone(),
        health,
        async move {
            let _ = shut_rx.await;
        },
        web,
    ));
    tracing::info!(interfaces = %ifaces.join(","), workers = workers_n, "tamperwatch running");
    let lost = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        // Captures open, workers and event sink running, metrics served.
        if let Some(n) = &notifier {
            n.ready(&format!("capturing on {}", ifaces.join(", ")));
        }
        let mut watchdog = notifier.as_ref().and_then(|n| n.watchdog_interval()).map(|p| {
            let mut i = tokio::time::interval(p);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        let lost = loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break false }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); break false }
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    reload(path.as_deref(), &cli, &mut cfg, &cell, &metrics);
                }
                _ = all_gone.notified() => { tracing::error!("every capture interface is gone"); break true }
                _ = async {
                    match watchdog.as_mut() {
                        Some(i) => { i.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    if let Some(n) = &notifier {
                        n.watchdog(&beats);
                    }
                }
            }
        };
        if let Some(n) = &notifier {
            n.stopping();
        }
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

/// systemd service notification (`sd_notify(3)`), written on std's
/// `UnixDatagram`: `READY=1` once capture is open, `WATCHDOG=1` every half
/// `WATCHDOG_USEC` while every capture thread is still looping, and
/// `STOPPING=1` at shutdown. Does nothing unless `NOTIFY_SOCKET` is set
/// (a path, or `@name` for an abstract socket).
pub mod sd_notify {
    use std::os::unix::net::UnixDatagram;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};

    fn now_ms() -> u64 {
        static T0: OnceLock<Instant> = OnceLock::new();
        T0.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    /// A capture thread's sign of life: the monotonic time of its last loop.
    #[derive(Debug, Clone)]
    pub struct Heartbeat {
        name: Arc<str>,
        last_ms: Arc<AtomicU64>,
    }

    impl Heartbeat {
        pub fn new(name: &str) -> Heartbeat {
            Heartbeat {
                name: name.into(),
                last_ms: Arc::new(AtomicU64::new(now_ms())),
            }
        }
        /// Called by the capture loop at least every block timeout.
        pub fn beat(&self) {
            self.last_ms.store(now_ms(), Ordering::Relaxed);
        }
        /// The capture ended: never counts as stalled.
        pub fn finish(&self) {
            self.last_ms.store(u64::MAX, Ordering::Relaxed);
        }
        fn age(&self) -> Duration {
            Duration::from_millis(now_ms().saturating_sub(self.last_ms.load(Ordering::Relaxed)))
        }
    }

    /// Where notifications go.
    #[derive(Debug)]
    pub struct Notifier {
        sock: UnixDatagram,
        addr: Target,
        watchdog: Option<Duration>,
        connected: bool,
    }

    #[derive(Debug)]
    enum Target {
        Path(PathBuf),
        Abstract(Vec<u8>),
    }

    impl Notifier {
        /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`; `None`
        /// without `NOTIFY_SOCKET` (not started by systemd as Type=notify).
        pub fn from_env() -> Option<Notifier> {
            let sock = std::env::var_os("NOTIFY_SOCKET")?;
            let usec = std::env::var("WATCHDOG_USEC")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&u| u > 0);
            let for_us = std::env::var("WATCHDOG_PID")
                .ok()
                .and_then(|p| p.parse::<u32>().ok())
                .is_none_or(|p| p == std::process::id());
            let n = Notifier::new(
                &sock.to_string_lossy(),
                usec.filter(|_| for_us).map(Duration::from_micros),
            );
            if n.is_none() {
                tracing::warn!(socket = ?sock, "NOTIFY_SOCKET set but unusable; no service notifications");
            }
            n
        }

        /// A notifier for socket `path` (`@name`: abstract) and watchdog
        /// timeout `watchdog`.
        pub fn new(path: &str, watchdog: Option<Duration>) -> Option<Notifier> {
            let addr = match path.strip_prefix('@') {
                Some(name) => Target::Abstract(name.as_bytes().to_vec()),
                None if path.starts_with('/') => Target::Path(path.into()),
                None => return None,
            };
            let sock = UnixDatagram::unbound().ok()?;
            // Connected now, so that notifications still reach a socket
            // the daemon may no longer open after dropping its privileges.
            let connected = match &addr {
                Target::Path(p) => sock.connect(p).is_ok(),
                Target::Abstract(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(name)
                        .and_then(|a| sock.connect_addr(&a))
                        .is_ok()
                }
            };
            Some(Notifier {
                sock,
                addr,
                watchdog,
                connected,
            })
        }

        /// How often to send `WATCHDOG=1`: half the timeout.
        pub fn watchdog_interval(&self) -> Option<Duration> {
            self.watchdog
                .map(|w| (w / 2).max(Duration::from_millis(10)))
        }

        /// Sends one notification; failures are logged, never fatal.
        pub fn send(&self, msg: &str) -> bool {
            let r = match &self.addr {
                _ if self.connected => self.sock.send(msg.as_bytes()),
                Target::Path(p) => self.sock.send_to(msg.as_bytes(), p),
                Target::Abstract(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(name)
                        .and_then(|a| self.sock.send_to_addr(msg.as_bytes(), &a))
                }
            };
            if let Err(e) = &r {
                tracing::warn!(error = %e, "sd_notify failed");
            }
            r.is_ok()
        }

        /// `READY=1` with a status line.
        pub fn ready(&self, status: &str) {
            self.send(&format!(
                "READY=1\nSTATUS={status}\nMAINPID={}",
                std::process::id()
            ));
        }

        /// `WATCHDOG=1` if every capture thread looped within the watchdog
        /// interval; otherwise nothing (systemd then kills and restarts a
        /// daemon whose capture is stuck).
        pub fn watchdog(&self, beats: &[Heartbeat]) {
            let limit = self.watchdog_interval().unwrap_or(Duration::MAX);
            match beats.iter().find(|b| b.age() > limit) {
                None => {
                    self.send("WATCHDOG=1");
                }
                Some(b) => {
                    tracing::warn!(interface = %b.name, stalled_ms = b.age().as_millis() as u64, "capture thread stalled: not feeding the watchdog");
                }
            }
        }

        /// `STOPPING=1`.
        pub fn stopping(&self) {
            self.send("STOPPING=1");
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn recv(s: &UnixDatagram) -> String {
            let mut buf = [0u8; 512];
            let n = s.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        }

        #[test]
        fn path_socket() {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("notify");
            let srv = UnixDatagram::bind(&p).unwrap();
            srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let n = Notifier::new(p.to_str().unwrap(), Some(Duration::from_millis(400))).unwrap();
            assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(200)));
            n.ready("capturing on eth0");
            let m = recv(&srv);
            assert!(
                m.starts_with("READY=1\nSTATUS=capturing on eth0\nMAINPID="),
                "{m}"
            );
            let b = Heartbeat::new("eth0");
            n.watchdog(std::slice::from_ref(&b));
            assert_eq!(recv(&srv), "WATCHDOG=1");
            n.stopping();
            assert_eq!(recv(&srv), "STOPPING=1");
        }

        #[test]
        fn stalled_capture_starves_the_watchdog() {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("notify");
            let srv = UnixDatagram::bind(&p).unwrap();
            srv.set_nonblocking(true).unwrap();
            let n = Notifier::new(p.to_str().unwrap(), Some(Duration::from_millis(40))).unwrap();
            let b = Heartbeat::new("eth0");
            std::thread::sleep(Duration::from_millis(60));
            n.watchdog(std::slice::from_ref(&b));
            let mut buf = [0u8; 64];
            assert!(
                srv.recv(&mut buf).is_err(),
                "no WATCHDOG=1 for a stalled capture"
            );
            b.beat();
            n.watchdog(std::slice::from_ref(&b));
            srv.set_nonblocking(false).unwrap();
            assert_eq!(recv(&srv), "WATCHDOG=1");
        }

        #[test]
        fn abstract_socket() {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("tamperwatch-test-{}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let srv = UnixDatagram::bind_addr(&addr).unwrap();
            srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let n = Notifier::new(&format!("@{name}"), None).unwrap();
            assert_eq!(n.watchdog_interval(), None);
            n.stopping();
            assert_eq!(recv(&srv), "STOPPING=1");
        }

        #[test]
        fn relative_path_is_refused() {
            assert!(Notifier::new("notify.sock", None).is_none());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;
    use tw_capture::{CaptureStats, FileSource, Frame};

    type Frames = Vec<(u32, Vec<u8>, i64, u32)>;

    /// A fixture's frames handed out as a live ring would, each stamped by
    /// a host clock that is stepped by `step` at `step_at`, and read 2 ms
    /// after its stamp (the host's true time, for the guard's readings).
    struct Stepped {
        frames: Frames,
        i: usize,
        now: Arc<AtomicI64>,
        step_at: i64,
        step: i64,
    }

    impl Source for Stepped {
        fn next(&mut self) -> Result<Next<'_>, CaptureError> {
            let Some((lt, data, t, wl)) = self.frames.get(self.i) else {
                return Ok(Next::End);
            };
            self.i += 1;
            self.now.store(t + 2_000_000, Ordering::Relaxed);
            let ts = if *t >= self.step_at {
                t + self.step
            } else {
                *t
            };
            Ok(Next::Frame(Frame {
                ts_ns: ts,
                linktype: *lt,
                data,
                orig_len: *wl,
                iface: 0,
            }))
        }
        fn stats(&mut self) -> CaptureStats {
            CaptureStats::default()
        }
        fn describe(&self) -> &str {
            "stepped"
        }
    }

    fn frames(name: &str) -> Frames {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(name);
        let mut src = FileSource::open(&p).unwrap();
        let mut v = vec![];
        while let Next::Frame(f) = src.next().unwrap() {
            v.push((f.linktype, f.data.to_vec(), f.ts_ns, f.orig_len));
        }
        v
    }

    /// The events of `capture_loop` over the frames, the host's clock
    /// stepped by `step` at the frame `at`/10 of the way; and the steps
    /// its guard saw.
    fn live_events(fr: &Frames, at: usize, step: i64) -> (Vec<String>, u64) {
        let cfg = Config::defaults();
        let metrics = Arc::new(cfg.new_metrics());
        let (tx, rx) = crossbeam_channel::unbounded();
        let links = Arc::new(LinkStates::default());
        let drops = Arc::new(AtomicU64::new(0));
        let ws = spawn_workers(
            1,
            &cfg.engine(),
            &metrics,
            &tx,
            &drops,
            crate::pipeline::WorkerOptions {
                backpressure: EventBackpressure::Block,
                reload: None,
                lookahead: crate::pipeline::LookaheadMode::Off,
                link_states: Some(links.clone()),
            },
        )
        .unwrap();
        drop(tx);
        let now = Arc::new(AtomicI64::new(fr[0].2));
        let step_at = fr[fr.len() * at / 10].2;
        let n2 = now.clone();
        let clock = Arc::new(SteadyClock::with_readings(Box::new(move || {
            let t = n2.load(Ordering::Relaxed);
            let real = if t >= step_at { t + step } else { t };
            (real, t - 1_000_000_000_000)
        })));
        let src = Stepped {
            frames: fr.clone(),
            i: 0,
            now,
            step_at,
            step,
        };
        let (r, _) = capture_loop(
            0,
            Box::new(src),
            ws.dispatcher(),
            metrics.interface("stepped"),
            ToWorkers {
                drops_total: drops,
                links,
                clock: clock.clone(),
                metrics: metrics.clone(),
                follow_default_route: false,
            },
            Arc::new(AtomicBool::new(false)),
            sd_notify::Heartbeat::new("stepped"),
        );
        r.unwrap();
        ws.join();
        let mut v: Vec<String> = rx.try_iter().map(|e| e.to_json_line()).collect();
        v.sort();
        (v, clock.steps())
    }

    /// The capture loop puts its frames on the steady timeline: with the
    /// host's clock stepped back 3 s or forward 10 minutes, a live capture
    /// gives the events of the unstepped one (fed the stamps as they are,
    /// the refused connection's reset is a false `rst_injection` after the
    /// step back, and the late-acknowledged request a false `blackhole`
    /// after the step forward: `pipeline`'s
    /// `a_stepped_host_clock_changes_no_live_event`).
    #[test]
    fn the_capture_loop_keeps_packet_times_steady_across_clock_steps() {
        for (name, at, step) in [
            ("rst_trap_refused.pcap", 9, -3_000_000_000),
            ("bh_syn_port_blocked.pcap", 3, -3_000_000_000),
            ("bh_trap_loss_acked_late.pcap", 9, 600_000_000_000),
        ] {
            let fr = frames(name);
            let (clean, steps) = live_events(&fr, at, 0);
            assert_eq!(steps, 0, "{name}");
            let (stepped, steps) = live_events(&fr, at, step);
            assert_eq!(steps, 1, "{name}");
            assert_eq!(stepped, clean, "{name}");
        }
    }
}
