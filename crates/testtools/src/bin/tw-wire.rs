//! tw-wire: a userspace layer-2 wire between two interfaces that delays
//! every frame by a fixed time, standing in for netem (absent here) so
//! that a server behind it is "far away" and an on-path injector in front
//! of it wins the race, as real injectors do.
//!
//! Frames are relayed unmodified (Ethernet header included) through
//! AF_PACKET sockets with PACKET_VNET_HDR, so checksum-offload and GSO
//! metadata of veth frames pass through. Order is kept per direction.
//! Exits 0 on SIGTERM/SIGINT.

use anyhow::{Context, Result};
use clap::Parser;
use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tw_testtools::sys::{self, PacketOpts, PacketSocket, VNET_HDR_LEN};

#[derive(Debug, Parser)]
#[command(
    name = "tw-wire",
    about = "Userspace L2 wire with a fixed delay (test tool)"
)]
struct Args {
    /// One end of the wire.
    #[arg(long)]
    a: String,
    /// The other end.
    #[arg(long)]
    b: String,
    /// One-way delay in milliseconds, both directions.
    #[arg(long = "delay-ms", default_value_t = 20)]
    delay_ms: u64,
    /// Overrides the delay from a to b.
    #[arg(long = "delay-ab-ms")]
    delay_ab_ms: Option<u64>,
    /// Overrides the delay from b to a.
    #[arg(long = "delay-ba-ms")]
    delay_ba_ms: Option<u64>,
}

/// Virtio-net header flag: the checksum still has to be computed.
const NEEDS_CSUM: u8 = 1;

struct Direction {
    rx: PacketSocket,
    tx: PacketSocket,
    delay: Duration,
    label: String,
}

fn open(from: &str, to: &str, delay: Duration) -> Result<Direction> {
    let rx = PacketSocket::open(
        from,
        PacketOpts {
            promisc: true,
            ignore_outgoing: true,
            vnet_hdr: true,
            ..Default::default()
        },
    )
    .with_context(|| format!("receive socket on {from}"))?;
    let tx = PacketSocket::open(
        to,
        PacketOpts {
            send_only: true,
            vnet_hdr: true,
            ..Default::default()
        },
    )
    .with_context(|| format!("send socket on {to}"))?;
    Ok(Direction {
        rx,
        tx,
        delay,
        label: format!("{from}->{to}"),
    })
}

fn run(d: Direction, stop: &AtomicBool, relayed: &AtomicU64) -> Result<()> {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 65536 + 256];
    let mut errors = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let wait = queue
            .front()
            .map(|(due, _)| due.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        // Round up so that we never spin on a sub-millisecond wait.
        let ms = wait.as_micros().div_ceil(1000) as i32;
        if sys::poll_readable(d.rx.as_raw_fd(), ms)? {
            while let Some(meta) = d.rx.try_recv(&mut buf)? {
                if meta.pkttype == sys::PACKET_OUTGOING || meta.len <= VNET_HDR_LEN {
                    continue;
                }
                let mut frame = buf[..meta.len.min(buf.len())].to_vec();
                // Keep only "needs checksum": DATA_VALID is receive-only.
                frame[0] &= NEEDS_CSUM;
                queue.push_back((Instant::now() + d.delay, frame));
            }
        }
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _)| *due <= now) {
            let (_, frame) = queue.pop_front().expect("front exists");
            match d.tx.send(&frame) {
                Ok(()) => {
                    relayed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    errors += 1;
                    if errors <= 10 {
                        eprintln!("tw-wire: {}: send of {} bytes: {e}", d.label, frame.len());
                    }
                }
            }
        }
    }
    if errors > 0 {
        eprintln!("tw-wire: {}: {errors} send errors", d.label);
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let stop = sys::stop_flag();
    let ab = Duration::from_millis(args.delay_ab_ms.unwrap_or(args.delay_ms));
    let ba = Duration::from_millis(args.delay_ba_ms.unwrap_or(args.delay_ms));
    let d1 = open(&args.a, &args.b, ab)?;
    let d2 = open(&args.b, &args.a, ba)?;
    let relayed = AtomicU64::new(0);
    eprintln!(
        "tw-wire: relaying {} <-> {} (delay {:?} / {:?})",
        args.a, args.b, ab, ba
    );
    // One direction failing stops the other.
    let go = |d| {
        let r = run(d, stop, &relayed);
        if r.is_err() {
            stop.store(true, Ordering::SeqCst);
        }
        r
    };
    let r = std::thread::scope(|s| {
        let h1 = s.spawn(|| go(d1));
        let h2 = s.spawn(|| go(d2));
        let r1 = h1.join().expect("relay thread");
        let r2 = h2.join().expect("relay thread");
        r1.and(r2)
    });
    eprintln!(
        "tw-wire: stopped after relaying {} frames",
        relayed.load(Ordering::Relaxed)
    );
    r
}
