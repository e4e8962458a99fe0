//! tw-inject: an on-path TCP RST and block-page injector for tamperwatch's
//! live tests.
//!
//! Sniffs the client-facing interface (AF_PACKET), forwards nothing itself
//! (the kernel router forwards everything), and for each client→server TCP
//! segment carrying a blocked trigger sends forged resets through a raw
//! socket. One line per injection goes to stdout and, with
//! `--count-file`, is appended to that file:
//!
//! ```text
//! inject mode=gfw trigger=sni name=blocked.example client=192.0.2.2 client_port=40000 server=198.51.100.2 server_port=443 seq=... ack=... packets=3 ttl=40
//! ```
//!
//! Exits 0 on SIGTERM/SIGINT.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use tw_testtools::inject::{Blocklist, Forger, IpId, Mode};
use tw_testtools::packet;
use tw_testtools::sys::{self, PacketOpts, PacketSocket, Rand, RawSender};

#[derive(Debug, Parser)]
#[command(name = "tw-inject", about = "On-path TCP RST injector (test tool)")]
struct Args {
    /// The client-facing interface to sniff (segments arriving on it are
    /// client→server).
    #[arg(long)]
    iface: String,
    /// Block TLS ClientHellos with this SNI (and its subdomains); repeatable.
    #[arg(long = "sni", value_name = "NAME")]
    sni: Vec<String>,
    /// Block HTTP requests with this Host (and its subdomains); repeatable.
    #[arg(long = "host", value_name = "NAME")]
    host: Vec<String>,
    /// Block any client segment containing this string; repeatable.
    #[arg(long = "keyword", value_name = "STRING")]
    keyword: Vec<String>,
    /// rst: one RST+ACK to the client; gfw: a burst of three with seq +0,
    /// +1460, +4380; rst-both: rst plus an RST+ACK to the server; page: an
    /// Iran-style 403 block page (iframe to http://10.10.34.34) in one
    /// PSH+FIN+ACK segment, then an RST+ACK, both to the client.
    #[arg(long, default_value = "rst")]
    mode: Mode,
    /// IP TTL (IPv6 hop limit) of the forged packets.
    #[arg(long, default_value_t = 40)]
    ttl: u8,
    /// IPv4 ID of the forged packets: random, copy (the trigger's) or a
    /// number (Linux replaces 0 with its own).
    #[arg(long = "ip-id", default_value = "random")]
    ip_id: IpId,
    /// Set DF on the forged IPv4 packets (default: clear).
    #[arg(long)]
    df: bool,
    /// TCP window of the forged packets.
    #[arg(long, default_value_t = 0)]
    window: u16,
    /// Append one line per injection to this file (created at start-up, so
    /// its existence also says the sniffer is ready).
    #[arg(long = "count-file", value_name = "PATH")]
    count_file: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.sni.is_empty() && args.host.is_empty() && args.keyword.is_empty() {
        bail!("nothing to block: give --sni, --host or --keyword");
    }
    let blocklist = Blocklist {
        sni: args.sni.clone(),
        hosts: args.host.clone(),
        keywords: args.keyword.clone(),
    };
    let forger = Forger {
        mode: args.mode,
        ttl: args.ttl,
        ip_id: args.ip_id,
        df: args.df,
        window: args.window,
    };
    let stop = sys::stop_flag();
    let sock = PacketSocket::open(
        &args.iface,
        PacketOpts {
            cooked: true,
            ignore_outgoing: true,
            ..Default::default()
        },
    )
    .with_context(|| format!("AF_PACKET socket on {}", args.iface))?;
    let mut raw = RawSender::open().context("raw IP socket")?;
    let mut count = match &args.count_file {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?,
        ),
        None => None,
    };
    let mut rand = Rand::from_kernel();
    eprintln!(
        "tw-inject: listening on {} (mode {:?}, ttl {}, ip-id {:?}, df {}, window {})",
        args.iface, args.mode, args.ttl, args.ip_id, args.df, args.window
    );
    let mut buf = vec![0u8; 65536 + 256];
    let mut injections = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if !sys::poll_readable(sock.as_raw_fd(), 200)? {
            continue;
        }
        while let Some(meta) = sock.try_recv(&mut buf)? {
            if meta.pkttype == sys::PACKET_OUTGOING
                || !(meta.protocol == libc::ETH_P_IP as u16
                    || meta.protocol == libc::ETH_P_IPV6 as u16)
            {
                continue;
            }
            let Some(seg) = packet::parse(&buf[..meta.len.min(buf.len())]) else {
                continue;
            };
            if !Forger::eligible(&seg) {
                continue;
            }
            let Some(trigger) = blocklist.check(seg.payload) else {
                continue;
            };
            let forged = forger.forge(&seg, &mut || rand.u16_nonzero());
            let mut sent = 0;
            for f in &forged {
                match raw.send(f.dst, &f.packet) {
                    Ok(()) => sent += 1,
                    Err(e) => eprintln!("tw-inject: sending to {}: {e}", f.dst),
                }
            }
            injections += 1;
            let (kind, name) = trigger.parts();
            let line = format!(
                "inject mode={} trigger={kind} name={name} client={} client_port={} server={} server_port={} seq={} ack={} packets={sent} ttl={}\n",
                mode_name(args.mode),
                ip(seg.src),
                seg.sport,
                ip(seg.dst),
                seg.dport,
                seg.seq,
                seg.ack,
                args.ttl
            );
            print!("{line}");
            let _ = std::io::stdout().flush();
            if let Some(f) = count.as_mut() {
                f.write_all(line.as_bytes())
                    .context("writing the count file")?;
            }
        }
    }
    eprintln!("tw-inject: stopped after {injections} injections");
    Ok(())
}

fn ip(a: IpAddr) -> String {
    a.to_string()
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Rst => "rst",
        Mode::Gfw => "gfw",
        Mode::RstBoth => "rst-both",
        Mode::Page => "page",
    }
}
