//! A SYN flood of 1,000,000 spoofed sources mixed into realistic traffic
//! (`tw_scenario::bench` with `flood_per_packet`; the same real traffic as
//! without the flood), replayed with flow tables configured far larger than
//! the memory ceiling allows:
//! - peak memory (VmHWM, from the replay summary) stays under the ceiling
//!   plus a small constant, while the same run without a ceiling takes
//!   hundreds of MiB (so the ceiling is what bounds it);
//! - the evictions are counted;
//! - the real flows are still tracked: their outcomes (closed, reset,
//!   answered) are those of the run without the flood.
//!
//! Throughput under the flood is measured by `tests/bench/compare.sh`'s flood
//! row (docs/performance.md), not here.

mod common;
use common::*;
use std::io::BufWriter;
use std::path::Path;
use tw_scenario::bench::{generate, BenchConfig};

const CEILING_MIB: u64 = 64;
/// Binary, thread stacks, read buffers, allocator slack.
const CONSTANT_MIB: u64 = 16;

fn write(path: &Path, flood_per_packet: f64) {
    write_kind(path, flood_per_packet, false);
}

fn write_kind(path: &Path, flood_per_packet: f64, partial_tls: bool) {
    let cfg = BenchConfig {
        packets: 100_000,
        flows: 1000,
        seed: 5,
        flood_per_packet,
        flood_partial_tls: partial_tls,
        ..BenchConfig::default()
    };
    let f = std::fs::File::create(path).unwrap();
    let s = generate(&cfg, BufWriter::with_capacity(1 << 20, f)).unwrap();
    let want = (flood_per_packet * 100_000.0) as u64;
    assert!(
        s.flood_packets.abs_diff(want) < want / 50 + 1,
        "{}",
        s.flood_packets
    );
}

fn peak_kib(stderr: &str) -> u64 {
    let l = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("peak memory"))
        .unwrap_or_else(|| panic!("no peak memory line in {stderr}"));
    l.split_whitespace()
        .nth(2)
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap()
}

fn run(cap: &Path, dir: &Path, ceiling_mib: u64) -> Replay {
    let cfg = dir.join(format!("tw-{ceiling_mib}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[flows]\nmemory_limit_mib = {ceiling_mib}\nmax_flows = 2000000\nmax_unconfirmed = 2000000\n"
        ),
    )
    .unwrap();
    let r = replay(
        &[cap.to_path_buf()],
        &["--workers", "1", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    r
}

#[test]
fn syn_flood_stays_under_the_memory_ceiling_and_real_flows_are_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.pcap");
    let flood = dir.path().join("flood.pcap");
    write(&plain, 0.0);
    write(&flood, 10.0);

    let base = run(&plain, dir.path(), CEILING_MIB);
    let limited = run(&flood, dir.path(), CEILING_MIB);
    let unlimited = run(&flood, dir.path(), 0);
    let (pb, pl, pu) = (
        peak_kib(&base.stderr),
        peak_kib(&limited.stderr),
        peak_kib(&unlimited.stderr),
    );
    eprintln!("peak memory: no flood {pb} KiB, flood with a {CEILING_MIB} MiB ceiling {pl} KiB, flood without one {pu} KiB");
    assert!(
        limited.stderr.contains("scaled down to the memory ceiling"),
        "{}",
        limited.stderr
    );
    assert!(
        pl <= (CEILING_MIB + CONSTANT_MIB) * 1024,
        "flood peak {pl} KiB over the ceiling"
    );
    // Without the ceiling, the configured tables let the flood take far more:
    // this is what the ceiling prevents.
    assert!(
        pu > 4 * (CEILING_MIB + CONSTANT_MIB) * 1024,
        "the flood without a ceiling took only {pu} KiB: the test shows nothing"
    );

    // Evictions are counted, by reason.
    let ev = |r: &Replay, reason: &str| {
        metric(
            &r.metrics,
            "tamperwatch_flow_evictions_total",
            &[("reason", reason)],
        )
        .unwrap_or(0.0)
    };
    assert!(
        ev(&limited, "half_open_full") > 900_000.0,
        "{}",
        limited.metrics
    );
    assert_eq!(ev(&base, "half_open_full"), 0.0);

    // The real flows are tracked as without the flood.
    let fin = |r: &Replay, proto: &str, outcome: &str| {
        metric(
            &r.metrics,
            "tamperwatch_flows_finished_total",
            &[("proto", proto), ("outcome", outcome)],
        )
        .unwrap_or(0.0)
    };
    for (proto, outcome) in [
        ("tcp", "closed"),
        ("tcp", "reset_by_client"),
        ("tcp", "reset_by_server"),
        ("udp", "answered"),
    ] {
        let (a, b) = (fin(&base, proto, outcome), fin(&limited, proto, outcome));
        eprintln!("{proto} {outcome}: {a} without the flood, {b} under it");
        assert_eq!(a, b, "{proto} {outcome}");
    }
    assert!(fin(&base, "tcp", "closed") > 1000.0);
}

/// The same with a flood of spoofed data segments that each start a
/// ClientHello and never finish it: every one would hold a 4 KiB reassembly
/// buffer, but only `max_hello_buffers` (scaled with the ceiling) may exist.
#[test]
fn partial_clienthello_flood_stays_under_the_memory_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("tls-flood.pcap");
    write_kind(&flood, 3.0, true);
    let limited = run(&flood, dir.path(), CEILING_MIB);
    let pl = peak_kib(&limited.stderr);
    eprintln!(
        "peak memory under a partial-ClientHello flood with a {CEILING_MIB} MiB ceiling: {pl} KiB"
    );
    assert!(
        pl <= (CEILING_MIB + CONSTANT_MIB) * 1024,
        "flood peak {pl} KiB over the ceiling"
    );
    let evicted = metric(
        &limited.metrics,
        "tamperwatch_flow_evictions_total",
        &[("reason", "half_open_full")],
    )
    .unwrap_or(0.0);
    assert!(evicted > 250_000.0, "{}", limited.metrics);
}
