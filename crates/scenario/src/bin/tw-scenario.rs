//! `tw-scenario`: write built-in scenarios and benchmark captures.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tw_scenario::bench::{self, BenchConfig};
use tw_scenario::catalogue::{self, Format};
use tw_scenario::pcap::linktype;

#[derive(Debug, Parser)]
#[command(
    name = "tw-scenario",
    version,
    about = "Write deterministic pcap scenarios for tamperwatch"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// List built-in scenarios with their expected packet/flow counts.
    List,
    /// Write one scenario.
    Write {
        /// Scenario name (see `list`).
        name: String,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write every clean look-alike (tw_scenario::lookalikes) as DIR/NAME.pcap.
    Lookalikes {
        /// Output directory.
        dir: PathBuf,
    },
    /// Write every scenario as DIR/NAME.pcap.
    WriteAll {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
    /// Write a large realistic mixed capture (streamed, constant memory per flow).
    Bench {
        /// Packets to write.
        #[arg(long, default_value_t = 1_000_000)]
        packets: u64,
        /// Concurrently active flows.
        #[arg(long, default_value_t = 2000)]
        flows: usize,
        /// PRNG seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Mean packet rate of capture time.
        #[arg(long, default_value_t = 100_000.0)]
        pps: f64,
        /// Link type: ethernet, raw, sll, sll2, null.
        #[arg(long, default_value = "ethernet")]
        linktype: String,
        /// Mix in a SYN flood: this many spoofed SYNs from random sources in
        /// 198.18.0.0/15, spread over the capture (on top of --packets).
        #[arg(long, default_value_t = 0)]
        flood_syns: u64,
        /// The flooded server (IPv4 address:port).
        #[arg(long, default_value = "203.0.113.80:443")]
        flood_target: std::net::SocketAddrV4,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn parse_linktype(s: &str) -> Result<u32> {
    Ok(match s {
        "ethernet" | "eth" | "en10mb" => linktype::ETHERNET,
        "raw" => linktype::RAW,
        "sll" | "linux_sll" => linktype::LINUX_SLL,
        "sll2" | "linux_sll2" => linktype::LINUX_SLL2,
        "null" | "loopback" => linktype::NULL,
        other => bail!("unknown link type {other:?} (ethernet, raw, sll, sll2, null)"),
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::List => {
            let mut text = String::new();
            for s in catalogue::catalogue() {
                let e = s.expected;
                let fmt = match s.format {
                    Format::Pcap => "pcap",
                    Format::PcapNg => "pcapng",
                };
                text.push_str(&format!(
                    "{:<26} {:<7} {:<11} packets={:<3} tcp_flows={} udp_flows={}\n    {}\n",
                    s.name,
                    fmt,
                    linktype::name(s.linktype),
                    e.packets,
                    e.tcp_flows,
                    e.udp_flows,
                    s.description
                ));
            }
            // Tolerate a closed pipe (`tw-scenario list | head`).
            if let Err(e) = std::io::stdout().write_all(text.as_bytes()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
        Cmd::Write { name, output } => {
            let s = catalogue::find_scenario(&name)?;
            s.write(&output)
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "{} -> {} ({} packets)",
                s.name,
                output.display(),
                s.expected.packets
            );
        }
        Cmd::Lookalikes { dir } => {
            std::fs::create_dir_all(&dir)?;
            for (name, f) in tw_scenario::lookalikes::lookalikes() {
                let p = dir.join(format!("{name}.pcap"));
                std::fs::write(&p, f()?)?;
                println!("{}", p.display());
            }
        }
        Cmd::WriteAll { dir } => {
            let paths = catalogue::write_all(&dir)
                .with_context(|| format!("writing scenarios to {}", dir.display()))?;
            for p in &paths {
                println!("{}", p.display());
            }
            println!("{} scenarios written", paths.len());
        }
        Cmd::Bench {
            packets,
            flows,
            seed,
            pps,
            linktype,
            flood_syns,
            flood_target,
            output,
        } => {
            let cfg = BenchConfig {
                packets,
                flows,
                seed,
                pps,
                linktype: parse_linktype(&linktype)?,
                flood_per_packet: flood_syns as f64 / packets.max(1) as f64,
                flood_target: flood_target.into(),
                ..BenchConfig::default()
            };
            let f =
                File::create(&output).with_context(|| format!("creating {}", output.display()))?;
            let start = Instant::now();
            let sum = bench::generate(&cfg, BufWriter::with_capacity(1 << 20, f))?;
            let el = start.elapsed().as_secs_f64();
            println!("wrote {}", output.display());
            println!("packets:        {}", sum.packets);
            println!(
                "flows started:  {} (tcp {}, udp {}), {} concurrent",
                sum.flows, sum.tcp_flows, sum.udp_flows, cfg.flows
            );
            println!("frame bytes:    {}", sum.frame_bytes);
            println!("file bytes:     {}", sum.file_bytes);
            println!("mean frame:     {:.1} B", sum.mean_frame());
            println!(
                "ipv6 packets:   {} ({:.1}%)",
                sum.ipv6_packets,
                100.0 * sum.ipv6_packets as f64 / sum.packets.max(1) as f64
            );
            println!("vlan frames:    {}", sum.vlan_packets);
            if sum.flood_packets > 0 {
                println!(
                    "flood SYNs:     {} to {} (spoofed sources)",
                    sum.flood_packets, cfg.flood_target
                );
            }
            println!("capture span:   {:.3} s", sum.duration_ns as f64 / 1e9);
            println!(
                "generated in {:.2} s ({:.0} pkts/s)",
                el,
                sum.packets as f64 / el.max(1e-9)
            );
        }
    }
    Ok(())
}
