//! `SuspendWatch::check` reads CLOCK_BOOTTIME, then CLOCK_MONOTONIC. A
//! capture thread descheduled between the two reads (a loaded 2-core
//! board, a cgroup CPU quota, a frozen cgroup, a debugger stop) sees
//! MONOTONIC late, so BOOTTIME minus MONOTONIC looks *smaller* by the
//! delay; kept, that low value made the next, normal reading look like a
//! suspension of the delay's length (found by the session-23 review, which
//! wrote this test; it failed before the fix).

use std::sync::{Arc, Mutex};
use tw_capture::clock::SuspendWatch;

const S: i64 = 1_000_000_000;

#[test]
fn a_thread_descheduled_between_the_two_reads_is_no_suspension() {
    // (boot, mono) readings; boot - mono is 10 s throughout (no suspension)
    let readings = Arc::new(Mutex::new(vec![
        (100 * S, 90 * S), // start
        // one check: BOOTTIME read at 101 s, then the thread waits 2.5 s
        // before reading MONOTONIC (91 s + 2.5 s)
        (101 * S, 93 * S + S / 2),
        // the next check, a second later, read without a delay
        (105 * S, 95 * S),
    ]));
    let r = readings.clone();
    let mut w = SuspendWatch::with_readings(Box::new(move || r.lock().unwrap().remove(0)));
    assert_eq!(w.check(), None);
    assert_eq!(w.check(), None, "a scheduling delay taken for a suspension");
}
