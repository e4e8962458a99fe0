//! Property tests: random and mutated packets (bit flips, overwrites,
//! truncation, splicing of the project's fixture frames) through the frame
//! decoder and the whole engine with the default detectors. No panic, and
//! the engine's tracked flows never exceed its configured tables.
//!
//! Cases per property: proptest's default (256), or the `PROPTEST_CASES`
//! environment variable, e.g. for a long run:
//! `PROPTEST_CASES=1000000 cargo test --release -p tw-detect --test fuzz_props`.
//! See docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../../../fuzz/src/detect.rs"]
mod targets;

use proptest::prelude::*;
use std::sync::OnceLock;
use tw_capture::{FileSource, Next, Source};

/// (link type, frame) of every frame of every fixture capture.
fn fixture_frames() -> &'static [(u32, Vec<u8>)] {
    static F: OnceLock<Vec<(u32, Vec<u8>)>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("tests/fixtures")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        let mut out = vec![];
        for p in paths {
            let Ok(mut src) = FileSource::open(&p) else {
                continue;
            };
            while let Ok(Next::Frame(f)) = src.next() {
                out.push((f.linktype, f.data.to_vec()));
            }
        }
        assert!(out.len() > 100, "fixture frames: {}", out.len());
        out
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Splice(usize, usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        2 => (any::<usize>(), prop_oneof![Just(0u8), Just(0xff), any::<u8>()])
            .prop_map(|(i, v)| Edit::Set(i, v)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(o, a, b, c)| Edit::Splice(o, a, b, c)),
    ]
}

/// Fixture frame `idx`, edited. Edits index modulo the frame's length.
fn mutated(idx: usize, edits: &[Edit]) -> (u32, Vec<u8>) {
    let all = fixture_frames();
    let (lt, f) = &all[idx % all.len()];
    let mut f = f.clone();
    for e in edits {
        if f.is_empty() {
            break;
        }
        let n = f.len();
        match *e {
            Edit::Flip(i, b) => f[i % n] ^= 1 << b,
            Edit::Set(i, v) => f[i % n] = v,
            Edit::Truncate(i) => f.truncate(i % n),
            Edit::Splice(other, at, from, len) => {
                let o = &all[other % all.len()].1;
                if !o.is_empty() {
                    let from = from % o.len();
                    let src = &o[from..(from + len % 128).min(o.len())];
                    let at = at % n;
                    f.splice(at..(at + src.len()).min(n), src.iter().copied());
                }
            }
        }
    }
    (*lt, f)
}

fn frame_with(lt: u32, f: &[u8]) -> Vec<u8> {
    let sel = targets::LINKTYPES
        .iter()
        .position(|&l| l == lt)
        .unwrap_or(targets::LINKTYPES.len() - 1);
    let mut v = vec![sel as u8];
    v.extend_from_slice(f);
    v
}

proptest! {
    #[test]
    fn random_frames_decode(sel in any::<u8>(), f in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut v = vec![sel];
        v.extend_from_slice(&f);
        targets::decode_frame(&v);
    }

    #[test]
    fn mutated_fixture_frames_decode_and_parse(
        idx in any::<usize>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (lt, f) = mutated(idx, &edits);
        targets::decode_frame(&frame_with(lt, &f));
        if let Ok(p) = tw_detect::decode::decode(lt, &f, 0, f.len() as u32) {
            let payload = match &p.l4 {
                tw_detect::decode::Transport::Tcp(t) => t.payload,
                tw_detect::decode::Transport::Udp(u) => u.payload,
                _ => &[][..],
            };
            targets::dns(payload);
            targets::tls(payload);
            targets::quic(payload);
        }
    }

    /// Sequences of mutated fixture frames (mutations of addresses and
    /// ports make new flows: the small tables fill and evict) with random
    /// clock steps, out-of-order ones included.
    #[test]
    fn engine_survives_mutated_sequences(
        frames in prop::collection::vec(
            (any::<usize>(), prop::collection::vec(edit(), 0..4), -2_000i64..30_000),
            1..120,
        ),
    ) {
        let mut ts = 1_700_000_000_000_000_000i64;
        let input: Vec<(u32, i64, Vec<u8>)> = frames
            .iter()
            .map(|(idx, edits, step_ms)| {
                ts += step_ms * 1_000_000;
                let (lt, f) = mutated(*idx, edits);
                (lt, ts, f)
            })
            .collect();
        targets::engine_frames(
            &targets::small_engine_config(),
            input.iter().map(|(lt, ts, f)| (*lt, *ts, f.as_slice())),
        );
    }

    /// The engine target's own input format, random bytes.
    #[test]
    fn engine_random_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        targets::engine(&data);
    }
}

/// A flood of distinct flows (SYNs, UDP, RSTs from many spoofed sources)
/// never grows the tables past their size.
#[test]
fn flood_of_flows_stays_bounded() {
    let mut frames = vec![];
    let mut ts = 1_700_000_000_000_000_000i64;
    for i in 0u32..5_000 {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let proto = [6u8, 17][(i % 2) as usize];
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[192, 0, 2, (i % 7) as u8]);
        let sport = (1024 + i % 60_000) as u16;
        let dport: u16 = [443, 53, 80][(i % 3) as usize];
        if proto == 6 {
            let flags = if i % 5 == 0 { 0x04 } else { 0x02 };
            ip.extend_from_slice(&sport.to_be_bytes());
            ip.extend_from_slice(&dport.to_be_bytes());
            ip.extend_from_slice(&i.to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        } else {
            ip.extend_from_slice(&sport.to_be_bytes());
            ip.extend_from_slice(&dport.to_be_bytes());
            ip.extend_from_slice(&[0, 12, 0, 0, 0xab, 0xcd, 1, 0]);
        }
        let len = ip.len() as u16;
        ip[2..4].copy_from_slice(&len.to_be_bytes());
        ts += 1_000_000;
        frames.push((tw_detect::decode::linktype::RAW, ts, ip));
    }
    targets::engine_frames(
        &targets::small_engine_config(),
        frames.iter().map(|(lt, ts, f)| (*lt, *ts, f.as_slice())),
    );
}
