//! Replays the pcap/pcapng fuzz corpus and crashes (`fuzz/corpus/pcap/`,
//! `fuzz/artifacts/pcap/`) through the target body the `pcap` fuzz target
//! runs (`fuzz/src/capture.rs`), on stable, and mutates the project's
//! fixture captures with proptest. See docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../../../fuzz/src/capture.rs"]
mod targets;

#[allow(dead_code)]
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use proptest::prelude::*;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn pcap_corpus() {
    assert!(replay::replay(DIR, "pcap", targets::pcap) > 0);
}

fn seeds() -> Vec<Vec<u8>> {
    replay::inputs(DIR, "pcap")
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![Just(0u8), Just(0xff), any::<u8>()]
        )
            .prop_map(|(i, v)| Edit::Set(i, v)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(a, b, c)| Edit::Splice(a, b, c)),
    ]
}

fn apply(mut f: Vec<u8>, other: &[u8], edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if f.is_empty() {
            break;
        }
        let n = f.len();
        match *e {
            Edit::Flip(i, b) => f[i % n] ^= 1 << b,
            Edit::Set(i, v) => f[i % n] = v,
            Edit::Truncate(i) => f.truncate(i % n),
            Edit::Splice(at, from, len) => {
                if !other.is_empty() {
                    let from = from % other.len();
                    let len = len % 256;
                    let src = &other[from..(from + len).min(other.len())];
                    f.splice(at % n..(at % n + len).min(n), src.iter().copied());
                }
            }
        }
    }
    f
}

proptest! {
    // Cases: proptest's default (256), or PROPTEST_CASES.
    #[test]
    fn mutated_captures_read_to_the_end(
        a in any::<usize>(),
        b in any::<usize>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let s = seeds();
        let f = apply(s[a % s.len()].clone(), &s[b % s.len()], &edits);
        targets::pcap(&f);
    }

    #[test]
    fn random_bytes_after_a_valid_header(
        pcapng in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut f = if pcapng {
            // section header block (28 bytes, little-endian, no options)
            let mut h = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
            h.extend_from_slice(&[0xff; 8]);
            h.extend_from_slice(&[28, 0, 0, 0]);
            h
        } else {
            let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
            h.extend_from_slice(&[0; 8]);
            h.extend_from_slice(&[0xff, 0xff, 0, 0, 1, 0, 0, 0]);
            h
        };
        f.extend_from_slice(&tail);
        targets::pcap(&f);
    }
}
