//! Per-packet costs, with criterion: `cargo bench -p tw-detect --bench per_packet`.
//!
//! The input is the benchmark mix of `tw_scenario::bench` (TLS and HTTP over
//! TCP, DNS, QUIC-like UDP, 20% IPv6, 802.1Q tags), generated in memory:
//! - `decode/direct` and `decode/etherparse`: decoding alone, through
//!   `decode` (the direct path, etherparse for the rest) and through
//!   etherparse only;
//! - `engine/all_detectors` and `engine/no_detectors`: decoding, the flow
//!   table, the per-server table and every default detector (or none) over
//!   40,000 packets of 2,000 concurrent flows (26 MB: the frames stay in
//!   the last-level cache, as the file reader's 1 MiB buffer keeps them),
//!   from an empty engine.
//!
//! Figures are per packet (criterion's throughput in elements); the
//! whole-process comparison with tcpdump is `tests/bench/compare.sh`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use tw_detect::decode::{decode, decode_sliced};
use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::bench::{generate, BenchConfig};

/// A generated capture held as the file reader holds it: frames one after
/// the other in one buffer (the pcap itself), with their offsets.
struct Frames {
    pcap: Vec<u8>,
    /// (offset, captured length, timestamp)
    at: Vec<(usize, usize, i64)>,
}

impl Frames {
    fn iter(&self) -> impl Iterator<Item = (&[u8], i64)> {
        self.at.iter().map(|&(o, n, ts)| (&self.pcap[o..o + n], ts))
    }
}

fn frames(packets: u64, flows: usize) -> Frames {
    let mut pcap = Vec::new();
    let cfg = BenchConfig {
        packets,
        flows,
        seed: 1,
        ..BenchConfig::default()
    };
    generate(&cfg, &mut pcap).expect("generate");
    let mut at = Vec::new();
    let mut off = 24;
    let u = |o: usize| u32::from_le_bytes([pcap[o], pcap[o + 1], pcap[o + 2], pcap[o + 3]]);
    while off + 16 <= pcap.len() {
        let ts = i64::from(u(off)) * 1_000_000_000 + i64::from(u(off + 4));
        let incl = u(off + 8) as usize;
        at.push((off + 16, incl, ts));
        off += 16 + incl;
    }
    Frames { pcap, at }
}

const ETHERNET: u32 = 1;

fn decoding(c: &mut Criterion) {
    let f = frames(20_000, 500);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(f.at.len() as u64));
    g.bench_function("direct", |b| {
        b.iter(|| {
            for (d, ts) in f.iter() {
                let _ = black_box(decode(ETHERNET, d, ts, d.len() as u32));
            }
        })
    });
    g.bench_function("etherparse", |b| {
        b.iter(|| {
            for (d, ts) in f.iter() {
                let _ = black_box(decode_sliced(ETHERNET, d, ts, d.len() as u32));
            }
        })
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    let f = frames(40_000, 2000);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(f.at.len() as u64));
    g.sample_size(20);
    for (name, detectors) in [("all_detectors", true), ("no_detectors", false)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let d = if detectors {
                        default_detectors(&DetectorsConfig::default())
                    } else {
                        Vec::new()
                    };
                    Engine::new(EngineConfig::default(), d)
                },
                |mut e| {
                    for (d, ts) in f.iter() {
                        e.process_frame(ETHERNET, d, ts, d.len() as u32);
                    }
                    e
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, decoding, engine);
criterion_main!(benches);
