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
//! - `target/hello_info`: a ClientHello's ALPN and JA4-style fingerprint
//!   (once per TLS connection);
//! - `target/group_of_38` and `target/group_of_4000`: a target's watch-list
//!   group (once per connection or query with a target), with the default
//!   list's 38 patterns and with 4,000 (a list made from test lists), for
//!   names in and out of the list.
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

fn targets(c: &mut Criterion) {
    let mut g = c.benchmark_group("target");
    let mut rng = tw_scenario::rng::Rng::new(1);
    let record = tw_scenario::tls::client_hello("www.example.com", &mut rng);
    let hs = record[5..].to_vec();
    g.throughput(Throughput::Elements(1));
    g.bench_function("hello_info", |b| {
        b.iter(|| tw_detect::proto::hello_info(black_box(&hs), false))
    });
    // the default list's shape: 11 groups, 38 patterns
    let small: Vec<(String, Vec<String>)> = (0..11)
        .map(|g| {
            let n = if g < 5 { 4 } else { 3 };
            (
                format!("g{g}"),
                (0..n).map(|i| format!("service{g}-{i}.example")).collect(),
            )
        })
        .collect();
    let big: Vec<(String, Vec<String>)> = vec![(
        "list".into(),
        (0..4000).map(|i| format!("site{i}.example")).collect(),
    )];
    let names: Vec<String> = (0..64)
        .map(|i| match i % 4 {
            0 => format!("www.service{}-1.example", i % 11),
            1 => format!("cdn.site{}.example", i * 61),
            2 => format!("api.v2.unlisted{i}.example.com"),
            _ => format!("unlisted{i}.example.org"),
        })
        .collect();
    for (label, groups) in [("group_of_38", small), ("group_of_4000", big)] {
        let w = tw_detect::watch::WatchList::new(
            groups.iter().map(|(g, p)| (g.as_str(), p.as_slice())),
        )
        .unwrap();
        g.throughput(Throughput::Elements(names.len() as u64));
        g.bench_function(label, |b| {
            b.iter(|| {
                names
                    .iter()
                    .filter_map(|n| w.group_of(black_box(n)))
                    .count()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decoding, engine, targets);
criterion_main!(benches);
