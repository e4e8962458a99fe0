//! Live packet times on a steady timeline, whatever happens to the host's
//! clock.
//!
//! The kernel stamps captured packets with the real-time clock
//! (`CLOCK_REALTIME`; the pnet backend stamps them in user space with the
//! same clock). That clock is stepped while the daemon runs: by NTP (ntpd
//! steps offsets over 128 ms, systemd-timesyncd and chrony at start-up), by
//! an operator, by a leap second, and, on the small boards volunteers run
//! (a Raspberry Pi has no battery-backed clock), by hours or months when
//! the first time synchronisation after boot corrects the time saved at
//! the last shutdown. Detectors compare packet times: a step backwards in
//! the middle of a capture puts the answers to a client's SYNs before the
//! SYNs they answer, and a step forwards makes every connection under way
//! look as if it had stalled for the step's length. Replaying clean
//! captures with their second half stamped 1 to 10 s earlier, or 10 minutes
//! to 3 days later, gave events where there were none and lost real
//! detections (session 22: `docs/architecture.md`, "Packet time").
//!
//! [`SteadyClock`] maps the stamps onto a steady timeline: the real time at
//! the daemon's start, advanced by `CLOCK_BOOTTIME`, which is never stepped
//! and, unlike `CLOCK_MONOTONIC`, counts the time the host was suspended
//! (a connection that paused for a suspend really paused). The difference
//! between the two clocks changes only when the real-time clock is stepped
//! (both follow NTP's frequency corrections); its change since the start is
//! the clock's *correction*, and each capture thread's [`StepGuard`] takes
//! it off every stamp. A stamp taken just before a step and read just
//! after it is mapped with the correction of before, the one that keeps it
//! in time order and out of the future.
//!
//! The steady timeline is the clock at the start plus the time elapsed: a
//! clock that was wrong at the start and corrected later leaves the whole
//! timeline off by the correction. What the daemon writes (events, the
//! packet-time metric) adds the current correction back, so it is stamped
//! with the corrected clock. File sources keep the stamps they read: a
//! capture file holds no record of the steps its writer's clock took.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Nanoseconds since the epoch.
pub type Nanos = i64;

/// A change of the clocks' difference smaller than this is no step: the
/// two clocks are read one after the other, and a thread preempted in
/// between sees them apart by the time it waited. Steps smaller than this
/// are within the engine's tolerance for jitter (100 ms).
pub const STEP_MIN: Nanos = 20_000_000;

/// A frame stamped up to this long before the previous one of its capture
/// is plausible (captures jitter; the engine tolerates 100 ms).
pub const BACK_SLACK: Nanos = 100_000_000;

/// A frame stamped between this long before and [`AHEAD_CHECK`] after the
/// previous one of its capture is in line with it and taken as it is
/// (frames of one ring come in the order they were stamped, to within
/// microseconds). Anything else makes the guard read the clocks: a step
/// of [`STEP_MIN`] or more shows at its first frame on a busy link.
pub const BACK_CHECK: Nanos = 10_000_000;

/// See [`BACK_CHECK`]. A gap this long between frames is cheap to check:
/// a link that quiet carries at most fifty frames a second.
pub const AHEAD_CHECK: Nanos = STEP_MIN;

/// A stamp at most this far past the steady time at which it is read is
/// not from the future (the clocks are read after the kernel stamped it;
/// the margin covers the reads' own order).
pub const FUTURE_SLACK: Nanos = 50_000_000;

/// How long after a step frames may still arrive stamped by the clock of
/// before, at most (they waited in the ring's blocks: a block timeout, up
/// to 10 s, and the capture thread's backlog while the workers are
/// behind). Frames stamped after the step was learned end it sooner.
pub const PREVIOUS_KEPT: Nanos = 60_000_000_000;

/// Reads (real time, boot time), each in nanoseconds.
pub type Readings = Box<dyn Fn() -> (Nanos, Nanos) + Send + Sync>;

/// The host's clocks: `CLOCK_REALTIME` and `CLOCK_BOOTTIME`, read as close
/// together as the scheduler allows: real time between two boot-time
/// readings, again when those are more than a millisecond apart (a thread
/// preempted between two readings would see the clocks' difference move
/// by the time it waited, which looks like a step).
fn system_readings() -> (Nanos, Nanos) {
    bracketed(&mut read)
}

/// See [`system_readings`]; `read` reads one clock.
fn bracketed(read: &mut dyn FnMut(libc::clockid_t) -> Nanos) -> (Nanos, Nanos) {
    let mut r = (0, 0);
    for _ in 0..4 {
        let b1 = read(libc::CLOCK_BOOTTIME);
        let real = read(libc::CLOCK_REALTIME);
        let b2 = read(libc::CLOCK_BOOTTIME);
        r = (real, b1.saturating_add(b2.saturating_sub(b1) / 2));
        if b2.saturating_sub(b1) <= 1_000_000 {
            break;
        }
    }
    r
}

/// Notices that the host was suspended (a laptop's lid closed, a board put
/// to sleep): `CLOCK_BOOTTIME` counts the time the host was suspended and
/// `CLOCK_MONOTONIC` does not, so their difference grows by each
/// suspension's length. Meanwhile nothing was captured, and the servers
/// may have forgotten the connections under way: the capture treats it as a
/// link-down period.
pub struct SuspendWatch {
    read: Box<dyn FnMut() -> (Nanos, Nanos) + Send>,
    /// Boot time less monotonic time at the last check.
    last: Nanos,
}

impl std::fmt::Debug for SuspendWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuspendWatch")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

/// A suspension shorter than this is not told apart from the readings'
/// scheduling noise (it would not matter to any flow either).
pub const SUSPEND_MIN: Nanos = 2_000_000_000;

impl SuspendWatch {
    /// On the host's clocks.
    pub fn system() -> SuspendWatch {
        SuspendWatch::with_readings(Box::new(|| {
            (read(libc::CLOCK_BOOTTIME), read(libc::CLOCK_MONOTONIC))
        }))
    }

    /// On given (boot time, monotonic time) readings (tests).
    pub fn with_readings(mut read: Box<dyn FnMut() -> (Nanos, Nanos) + Send>) -> SuspendWatch {
        let (boot, mono) = read();
        SuspendWatch {
            read,
            last: boot.saturating_sub(mono),
        }
    }

    /// How long the host was suspended since the last check, if for
    /// [`SUSPEND_MIN`] or more.
    pub fn check(&mut self) -> Option<Nanos> {
        let (boot, mono) = (self.read)();
        let d = boot.saturating_sub(mono);
        let slept = d.saturating_sub(self.last);
        // The real difference never shrinks: one that looks smaller is a
        // reading whose thread was descheduled between the two clocks (its
        // monotonic reading late), and keeping it would make the next,
        // normal reading look like a suspension (found in review).
        self.last = self.last.max(d);
        (slept >= SUSPEND_MIN).then_some(slept)
    }
}

fn read(id: libc::clockid_t) -> Nanos {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the call's duration;
    // both clock ids exist on every Linux since 2.6.39.
    let rc = unsafe { libc::clock_gettime(id, &mut t) };
    if rc != 0 {
        return 0;
    }
    (t.tv_sec as Nanos)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as Nanos)
}

/// The steady timeline shared by a daemon's capture threads.
pub struct SteadyClock {
    read: Readings,
    /// Real time less boot time at the start.
    anchor: Nanos,
    /// The clocks' difference less `anchor`, as last measured: what the
    /// real-time clock was stepped by since the start, in all.
    correction: AtomicI64,
    /// Steps measured.
    steps: AtomicU64,
}

impl std::fmt::Debug for SteadyClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SteadyClock")
            .field("anchor", &self.anchor)
            .field("correction", &self.correction())
            .field("steps", &self.steps())
            .finish()
    }
}

/// What one reading of the clocks found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// The steady time now.
    pub now: Nanos,
    /// The correction now (see [`SteadyClock::correction`]).
    pub correction: Nanos,
}

impl SteadyClock {
    /// The host's clocks.
    pub fn system() -> SteadyClock {
        SteadyClock::with_readings(Box::new(system_readings))
    }

    /// Any clocks (tests simulate steps with these).
    pub fn with_readings(read: Readings) -> SteadyClock {
        let (real, boot) = read();
        SteadyClock {
            read,
            anchor: real.saturating_sub(boot),
            correction: AtomicI64::new(0),
            steps: AtomicU64::new(0),
        }
    }

    /// The steady time now.
    pub fn now(&self) -> Nanos {
        let (_, boot) = (self.read)();
        boot.saturating_add(self.anchor)
    }

    /// What the real-time clock was stepped by since the start, in all (as
    /// of the latest measure): a steady time plus this is the time by the
    /// clock as it is now.
    pub fn correction(&self) -> Nanos {
        self.correction.load(Ordering::Relaxed)
    }

    /// Steps measured since the start.
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }

    /// Reads the clocks; a difference that moved by [`STEP_MIN`] or more
    /// since the last measure is a step, recorded once however many
    /// threads measure it.
    pub fn measure(&self) -> Measure {
        let (real, boot) = (self.read)();
        let c = real.saturating_sub(boot).saturating_sub(self.anchor);
        let old = self.correction.load(Ordering::Relaxed);
        let correction = if c.abs_diff(old) >= STEP_MIN.unsigned_abs() {
            match self
                .correction
                .compare_exchange(old, c, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.steps.fetch_add(1, Ordering::Relaxed);
                    c
                }
                // another thread recorded it (or a newer one) first
                Err(now) => now,
            }
        } else {
            old
        };
        Measure {
            now: boot.saturating_add(self.anchor),
            correction,
        }
    }
}

/// One capture thread's mapping of its frames' stamps onto the steady
/// timeline. One compare-and-subtract per frame; the clocks are read only
/// when a frame's stamp is out of line with the one before (more than
/// [`BACK_CHECK`] before it, or more than [`AHEAD_CHECK`] after it) and at
/// each [`StepGuard::poll`].
///
/// Frames of one capture come in the order they were stamped, so after a
/// step those stamped before it (by the clock of before) come first, and
/// none of them was stamped after the guard learned of the step. While
/// such frames may still come, a frame takes the correction of before when
/// that keeps it in line with its predecessor and the current one does not
/// (the nearer when both do), or when the current one would put it in the
/// future; the first frame that can only have been stamped after the guard
/// learned of the step ends that.
#[derive(Debug)]
pub struct StepGuard {
    clock: std::sync::Arc<SteadyClock>,
    cur: Nanos,
    /// The correction before the latest step, and the steady time at which
    /// the guard learned of the step, while frames stamped before it may
    /// still come (until the steady time `prev_until` at most).
    prev: Option<(Nanos, Nanos)>,
    prev_until: Nanos,
    /// The steady time of the latest frame (`None`: none yet).
    last: Option<Nanos>,
}

impl StepGuard {
    /// A guard on `clock`.
    pub fn new(clock: std::sync::Arc<SteadyClock>) -> StepGuard {
        let cur = clock.correction();
        StepGuard {
            clock,
            cur,
            prev: None,
            prev_until: 0,
            last: None,
        }
    }

    /// The clock.
    pub fn clock(&self) -> &std::sync::Arc<SteadyClock> {
        &self.clock
    }

    /// The steady time of a frame stamped `ts` by the real-time clock.
    #[inline]
    pub fn steady(&mut self, ts: Nanos) -> Nanos {
        let s = ts.saturating_sub(self.cur);
        if let Some(last) = self.last {
            if in_line(s, last) {
                let out = match self.previous(ts) {
                    Some(sp) if in_line(sp, last) && sp.abs_diff(last) < s.abs_diff(last) => sp,
                    _ => s,
                };
                self.last = Some(last.max(out));
                return out;
            }
        }
        self.checked(ts)
    }

    /// The steady time of a frame stamped `ts` by the clock of before the
    /// latest step, if it can have been stamped before the guard learned
    /// of the step; otherwise no frame from now on can, and that ends it.
    #[inline]
    fn previous(&mut self, ts: Nanos) -> Option<Nanos> {
        let (p, learned) = self.prev?;
        let sp = ts.saturating_sub(p);
        if sp > learned.saturating_add(FUTURE_SLACK) {
            self.prev = None;
            return None;
        }
        Some(sp)
    }

    /// Reads the clocks and takes up a step (called about once a second,
    /// so that a step is known even while no frame shows it).
    pub fn poll(&mut self) -> Measure {
        let m = self.clock.measure();
        self.take(m);
        m
    }

    fn take(&mut self, m: Measure) {
        if m.correction != self.cur {
            self.prev = Some((self.cur, m.now));
            self.prev_until = m.now.saturating_add(PREVIOUS_KEPT);
            self.cur = m.correction;
        } else if self.prev.is_some() && m.now > self.prev_until {
            self.prev = None;
        }
    }

    #[cold]
    fn checked(&mut self, ts: Nanos) -> Nanos {
        let m = self.poll();
        let last = self.last;
        let plausible = |s: Nanos| {
            s <= m.now.saturating_add(FUTURE_SLACK)
                && last.is_none_or(|l| s >= l.saturating_sub(BACK_SLACK))
        };
        let lined = |s: Nanos| last.is_some_and(|l| in_line(s, l));
        let s = ts.saturating_sub(self.cur);
        let out = match self.previous(ts) {
            Some(sp) if plausible(sp) && (!plausible(s) || (lined(sp) && !lined(s))) => sp,
            _ => s,
        };
        self.last = Some(last.map_or(out, |l| l.max(out)));
        out
    }
}

/// A steady time `s` follows a capture's previous frame at `last` closely
/// enough to take as it is (see [`BACK_CHECK`]).
#[inline]
fn in_line(s: Nanos, last: Nanos) -> bool {
    s >= last.saturating_sub(BACK_CHECK) && s <= last.saturating_add(AHEAD_CHECK)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_suspension_is_the_growth_of_boot_time_over_monotonic_time() {
        use std::sync::{Arc, Mutex};
        let now = Arc::new(Mutex::new((100 * S, 90 * S)));
        let n = now.clone();
        let mut w = SuspendWatch::with_readings(Box::new(move || *n.lock().unwrap()));
        // a second later, awake: nothing
        *now.lock().unwrap() = (101 * S, 91 * S);
        assert_eq!(w.check(), None);
        // a second of monotonic time, 61 of boot time: 60 s asleep
        *now.lock().unwrap() = (162 * S, 92 * S);
        assert_eq!(w.check(), Some(60 * S));
        // awake again; jitter under the minimum is none
        *now.lock().unwrap() = (163 * S + S / 2, 93 * S);
        assert_eq!(w.check(), None);
        // the real clocks: no suspension while the test runs
        let mut sys = SuspendWatch::system();
        assert_eq!(sys.check(), None);
    }

    use super::*;
    use std::sync::Arc;

    const S: Nanos = 1_000_000_000;
    const MS: Nanos = 1_000_000;

    /// A simulated host: the true time (what a perfect clock reads), boot
    /// time = true time less 1000 s, real time = true time plus a step
    /// taken at a chosen true time.
    #[derive(Clone)]
    struct Host {
        t: Arc<AtomicI64>,
        step_at: Nanos,
        step: Nanos,
    }

    impl Host {
        fn new(step_at: Nanos, step: Nanos) -> Host {
            Host {
                t: Arc::new(AtomicI64::new(1_700_000_000 * S)),
                step_at,
                step,
            }
        }
        fn real_at(&self, t: Nanos) -> Nanos {
            if t >= self.step_at {
                t + self.step
            } else {
                t
            }
        }
        fn clock(&self) -> Arc<SteadyClock> {
            let h = self.clone();
            Arc::new(SteadyClock::with_readings(Box::new(move || {
                let t = h.t.load(Ordering::Relaxed);
                (h.real_at(t), t - 1000 * S)
            })))
        }
        fn set(&self, t: Nanos) {
            self.t.store(t, Ordering::Relaxed);
        }
    }

    /// Frames at true times `times` (relative to the start), each read
    /// `lag` after it was stamped, with a poll before every 64th as the
    /// daemon's capture loop does: their steady times less the start.
    fn run(host: &Host, g: &mut [&mut StepGuard], times: &[Nanos], lag: Nanos) -> Vec<Nanos> {
        let t0 = 1_700_000_000 * S;
        let n = g.len();
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                host.set(t0 + t + lag);
                let g = &mut g[i % n];
                if i % 64 == 63 {
                    g.poll();
                }
                g.steady(host.real_at(t0 + t)) - t0
            })
            .collect()
    }

    fn every(from: Nanos, to: Nanos, step: Nanos) -> Vec<Nanos> {
        (0..)
            .map(|i| from + i * step)
            .take_while(|&t| t < to)
            .collect()
    }

    #[test]
    fn without_a_step_stamps_are_kept() {
        let host = Host::new(Nanos::MAX, 0);
        let mut g = StepGuard::new(host.clock());
        let times = every(0, 5 * S, 7 * MS);
        assert_eq!(run(&host, &mut [&mut g], &times, MS), times);
        assert_eq!(g.clock().steps(), 0);
    }

    #[test]
    fn steps_back_and_forth_leave_the_timeline_steady() {
        // (the step, and how late frames are read: a step between a
        // frame's stamp and its read is the hard case)
        for step in [
            -3600 * S,
            -10 * S,
            -S,
            -150 * MS,
            150 * MS,
            S,
            600 * S,
            3 * 86_400 * S,
        ] {
            for lag in [0, MS, 30 * MS, 90 * MS] {
                let host = Host::new(1_700_000_000 * S + 2 * S, step);
                let clock = host.clock();
                let mut g = StepGuard::new(clock.clone());
                let times = every(0, 4 * S, 5 * MS);
                let got = run(&host, &mut [&mut g], &times, lag);
                assert_eq!(got, times, "step {step}, read {lag} late");
                assert_eq!(clock.steps(), 1, "step {step}");
                assert_eq!(clock.correction(), step);
            }
        }
    }

    /// Steps smaller than a frame's wait in the ring (the cases the review
    /// of session 22 found mapped wrong: a stamp taken before a step back,
    /// read after the guard learned of it, still looked plausible), and a
    /// capture seconds behind (the workers' queues full).
    #[test]
    fn frames_stamped_before_a_step_and_read_late_keep_their_place() {
        for (step, lag) in [
            (-120 * MS, 90 * MS),
            (-60 * MS, 90 * MS),
            (-30 * MS, 90 * MS),
            (30 * MS, 90 * MS),
            (80 * MS, 90 * MS),
            (-S, 1500 * MS),
            (-3 * S, 4 * S),
            (3 * S, 4 * S),
        ] {
            let host = Host::new(1_700_000_000 * S + 6 * S, step);
            let clock = host.clock();
            let mut g = StepGuard::new(clock.clone());
            let times = every(0, 12 * S, 5 * MS);
            let got = run(&host, &mut [&mut g], &times, lag);
            let worst = got
                .iter()
                .zip(&times)
                .map(|(g, t)| g.abs_diff(*t))
                .max()
                .unwrap_or(0);
            assert_eq!(worst, 0, "step {step}, read {lag} late");
            assert_eq!(clock.steps(), 1, "step {step}");
        }
    }

    #[test]
    fn a_preempted_reading_is_no_step() {
        // A host whose real time is boot time + 1000 s, read by a thread
        // preempted for 30 ms between its boot-time and real-time readings
        // every other time: read one after the other, the difference would
        // move by 30 ms, a step; bracketed, the preempted reading is taken
        // again.
        let t = std::cell::Cell::new(5_000 * S);
        let n = std::cell::Cell::new(0u32);
        let mut read = |id: libc::clockid_t| {
            n.set(n.get() + 1);
            // (the 2nd read of every 6: real time, after a preemption)
            if n.get() % 6 == 2 {
                t.set(t.get() + 30 * MS);
            }
            t.set(t.get() + 100);
            if id == libc::CLOCK_REALTIME {
                t.get() + 1000 * S
            } else {
                t.get()
            }
        };
        for _ in 0..10 {
            let (real, boot) = bracketed(&mut read);
            assert!((real - boot - 1000 * S).abs() < 1_000, "{real} {boot}");
        }
    }

    #[test]
    fn a_quiet_link_learns_the_step_at_its_next_frame_or_poll() {
        let host = Host::new(1_700_000_000 * S + 2 * S, -30 * S);
        let clock = host.clock();
        let mut g = StepGuard::new(clock.clone());
        // one frame a second
        let times = every(0, 10 * S, S);
        assert_eq!(run(&host, &mut [&mut g], &times, MS), times);
        // a poll alone, with no frame
        let host = Host::new(1_700_000_000 * S + 2 * S, 45 * S);
        let clock = host.clock();
        let mut g = StepGuard::new(clock.clone());
        host.set(1_700_000_000 * S + 3 * S);
        let m = g.poll();
        assert_eq!((m.correction, m.now), (45 * S, 1_700_000_000 * S + 3 * S));
        assert_eq!(clock.steps(), 1);
    }

    #[test]
    fn suspend_is_no_step() {
        // boot time counts the time suspended, as real time does
        let host = Host::new(Nanos::MAX, 0);
        let mut g = StepGuard::new(host.clock());
        let mut times = every(0, S, 10 * MS);
        times.extend(every(3600 * S, 3601 * S, 10 * MS));
        assert_eq!(run(&host, &mut [&mut g], &times, MS), times);
        assert_eq!(g.clock().steps(), 0);
    }

    #[test]
    fn jitter_and_small_differences_are_no_step() {
        let host = Host::new(1_700_000_000 * S + S, 10 * MS);
        let clock = host.clock();
        let mut g = StepGuard::new(clock.clone());
        // stamps a little out of order, as captures are
        let times: Vec<Nanos> = every(0, 3 * S, 10 * MS)
            .into_iter()
            .enumerate()
            .map(|(i, t)| if i % 7 == 3 { t - 15 * MS } else { t })
            .collect();
        let got = run(&host, &mut [&mut g], &times, MS);
        assert_eq!(clock.steps(), 0);
        // a 10 ms step under STEP_MIN is left in the stamps
        for (g, t) in got.iter().zip(&times) {
            assert!((g - t).abs() <= 10 * MS);
        }
    }

    #[test]
    fn two_capture_threads_count_one_step() {
        let host = Host::new(1_700_000_000 * S + S, -5 * S);
        let clock = host.clock();
        let mut a = StepGuard::new(clock.clone());
        let mut b = StepGuard::new(clock.clone());
        // (each thread gets every other frame)
        let times = every(0, 3 * S, 10 * MS);
        assert_eq!(run(&host, &mut [&mut a, &mut b], &times, 30 * MS), times);
        assert_eq!(clock.steps(), 1);
    }

    #[test]
    fn the_system_clocks_are_read() {
        let c = SteadyClock::system();
        let m = c.measure();
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as Nanos);
        // (the host's clock may be stepped while this runs: only sanity)
        assert!((m.now - real).abs() < 3600 * S, "{m:?} {real}");
        assert!(c.now() >= m.now);
    }
}
