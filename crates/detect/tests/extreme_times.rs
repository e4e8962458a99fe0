//! Packet times are input too. A pcapng interface's `if_tsoffset` (an i64
//! count of seconds, saturated to nanoseconds) puts two interfaces of one
//! file up to 2^63 ns apart, and a crafted file can make time jump back and
//! forth between them. The engine processes times from the epoch to 2^62 ns
//! (`time::in_range`) and counts the frames outside. Every fixture is
//! replayed with every default detector, its times moved to the ends of
//! that range and scrambled between them, and outside it: nothing may panic
//! (these tests run with overflow checks, so an unchecked subtraction of
//! two times fails here; a release build would wrap it into nonsense).

use tw_capture::{FileSource, Next, Source};
use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::stats::{DecodeError, Stats};
use tw_detect::time::LATEST;
use tw_detect::{Engine, EngineConfig};

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() > 50, "{}", dir.display());
    files
}

/// Every frame of `file`: (linktype, data, ts, wire length).
fn frames(file: &std::path::Path) -> Vec<(u32, Vec<u8>, i64, u32)> {
    let mut src = FileSource::open(file).unwrap();
    let mut v = vec![];
    while let Next::Frame(f) = src.next().unwrap() {
        v.push((f.linktype, f.data.to_vec(), f.ts_ns, f.orig_len));
    }
    v
}

fn replay(fr: &[(u32, Vec<u8>, i64, u32)], time: impl Fn(usize, i64) -> i64) -> (Stats, usize) {
    let mut e = Engine::new(
        EngineConfig::default(),
        default_detectors(&DetectorsConfig::default()),
    );
    for (k, (lt, d, ts, wl)) in fr.iter().enumerate() {
        e.process_frame(*lt, d, time(k, *ts), *wl);
    }
    e.finish();
    let mut n = 0;
    e.drain_events(|_| n += 1);
    (e.stats().clone(), n)
}

#[test]
fn times_at_the_ends_of_the_range_never_panic() {
    let (lo, hi) = (0, LATEST);
    let mut frames_seen = 0;
    for f in fixtures() {
        let fr = frames(&f);
        let Some(first) = fr.first().map(|x| x.2) else {
            continue;
        };
        frames_seen += fr.len();
        let last = fr.iter().map(|x| x.2).max().unwrap_or(first);
        let span = last - first;
        let rel = |ts: i64| (ts - first).clamp(0, span);
        // the whole capture just under the top, and just over the bottom
        replay(&fr, |_, ts| hi - span + rel(ts));
        replay(&fr, |_, ts| lo + rel(ts));
        // every other frame 2^62 ns away, in both directions
        replay(&fr, |k, ts| {
            if k % 2 == 0 {
                hi - span + rel(ts)
            } else {
                lo + rel(ts)
            }
        });
        // a run at the top, then the rest at the bottom (time goes back once)
        let half = fr.len() / 2;
        replay(&fr, |k, ts| {
            if k < half {
                hi - span + rel(ts)
            } else {
                lo + rel(ts)
            }
        });
        // and the other way round (one jump forward of 2^62 ns)
        replay(&fr, |k, ts| {
            if k < half {
                lo + rel(ts)
            } else {
                hi - span + rel(ts)
            }
        });
    }
    assert!(frames_seen > 10_000, "{frames_seen}");
}

#[test]
fn times_outside_the_range_are_counted_and_left_out() {
    let out = DecodeError::TimeOutOfRange.idx();
    let mut with_events = 0;
    for f in fixtures() {
        let fr = frames(&f);
        let Some(first) = fr.first().map(|x| x.2) else {
            continue;
        };
        let (plain, events) = replay(&fr, |_, ts| ts);
        with_events += usize::from(events > 0);
        assert_eq!(plain.decode_errors[out], 0, "{}", f.display());
        for (name, time) in [
            ("before 1970", i64::MIN / 2 - first),
            ("after 2116", LATEST + 1 - first),
            (
                "at the top of an i64",
                i64::MAX - first - 3_600 * 1_000_000_000,
            ),
        ] {
            let (st, n) = replay(&fr, |_, ts| ts.saturating_add(time));
            let what = format!("{} {name}", f.display());
            assert_eq!((n, st.decode_errors[out]), (0, fr.len() as u64), "{what}");
            assert_eq!(st.flows_started, [0, 0], "{what}");
            assert_eq!(st.packets.iter().sum::<u64>(), fr.len() as u64, "{what}");
        }
        // Every other frame out of range: the others are processed as if
        // the out-of-range ones were not there (they move no clock).
        let (mixed, n_mixed) = replay(&fr, |k, ts| if k % 2 == 1 { -ts } else { ts });
        assert_eq!(
            mixed.decode_errors[out],
            (fr.len() / 2) as u64,
            "{}",
            f.display()
        );
        let evens: Vec<_> = fr.iter().step_by(2).cloned().collect();
        let (alone, n_alone) = replay(&evens, |_, ts| ts);
        assert_eq!(
            (
                n_mixed,
                mixed.flows_started,
                mixed.flows_finished,
                mixed.events
            ),
            (
                n_alone,
                alone.flows_started,
                alone.flows_finished,
                alone.events
            ),
            "{}",
            f.display()
        );
    }
    assert!(with_events >= 20, "{with_events}");
}
