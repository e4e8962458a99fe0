//! tw-dns-inject: an on-path DNS injector for tamperwatch's live tests.
//!
//! Sniffs DNS queries (UDP/53, and with `--tcp` TCP/53) arriving on the
//! client-facing interface of a router (AF_PACKET), forwards nothing itself
//! (the kernel router forwards everything), and for each query whose name
//! is blocked (`--name`, subdomains too) sends a forged answer to the
//! client through a raw socket, claiming to come from the resolver. One
//! line per injection goes to stdout and, with `--count-file`, is appended
//! to that file:
//!
//! ```text
//! inject proto=udp name=blocked.example qtype=A id=4660 client=192.0.2.2 client_port=40000 resolver=198.51.100.2 answers=10.10.34.34 ttl=40 ip_id=1234 qclass=echo edns=echo
//! ```
//!
//! Exits 0 on SIGTERM/SIGINT.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use tw_testtools::dns::{self, AnswerSpec, IpSpec};
use tw_testtools::inject::IpId;
use tw_testtools::sys::{self, PacketOpts, PacketSocket, Rand, RawSender};

#[derive(Debug, Parser)]
#[command(name = "tw-dns-inject", about = "On-path DNS injector (test tool)")]
struct Args {
    /// The client-facing interface to sniff (queries arriving on it are
    /// client→resolver).
    #[arg(long)]
    iface: String,
    /// Answer queries for this name and its subdomains; repeatable.
    #[arg(long = "name", value_name = "NAME", required = true)]
    names: Vec<String>,
    /// Address for A queries; repeatable; "none": leave A queries alone.
    #[arg(long = "answer-a", value_name = "ADDR|none")]
    answer_a: Vec<String>,
    /// Address for AAAA queries; repeatable; "none": leave AAAA queries
    /// alone.
    #[arg(long = "answer-aaaa", value_name = "ADDR|none")]
    answer_aaaa: Vec<String>,
    /// DNS TTL of the forged records.
    #[arg(long = "dns-ttl", default_value_t = 60)]
    dns_ttl: u32,
    /// IP TTL (IPv6 hop limit) of the forged packets (the resolver's
    /// arrive with another).
    #[arg(long, default_value_t = 40)]
    ttl: u8,
    /// IPv4 ID of the forged packets: random, copy (the query's) or a
    /// number (e.g. 30000, Turkmenistan's; Linux replaces 0).
    #[arg(long = "ip-id", default_value = "random")]
    ip_id: IpId,
    /// Set DF on the forged IPv4 packets (default: clear).
    #[arg(long)]
    df: bool,
    /// Echo the question without its QCLASS (the answers follow QTYPE).
    #[arg(long = "no-qclass")]
    no_qclass: bool,
    /// No OPT record in the answer even when the query had EDNS.
    #[arg(long = "drop-edns")]
    drop_edns: bool,
    /// Set AA in the forged answers.
    #[arg(long)]
    aa: bool,
    /// Clear RA in the forged answers (default: set).
    #[arg(long = "no-ra")]
    no_ra: bool,
    /// Also answer queries over TCP (one forged segment continuing the
    /// connection).
    #[arg(long)]
    tcp: bool,
    /// Append one line per injection to this file (created at start-up, so
    /// its existence also says the sniffer is ready).
    #[arg(long = "count-file", value_name = "PATH")]
    count_file: Option<PathBuf>,
}

fn addrs<T: std::str::FromStr>(given: &[String], default: T) -> Result<Vec<T>> {
    if given.is_empty() {
        return Ok(vec![default]);
    }
    if given.iter().any(|g| g == "none") {
        if given.len() > 1 {
            bail!("\"none\" cannot be combined with addresses");
        }
        return Ok(Vec::new());
    }
    given
        .iter()
        .map(|g| {
            g.parse()
                .map_err(|_| anyhow::anyhow!("{g:?} is not an address"))
        })
        .collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let names: Vec<String> = args
        .names
        .iter()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let spec = AnswerSpec {
        a: addrs(&args.answer_a, Ipv4Addr::new(10, 10, 34, 34))?,
        aaaa: addrs(&args.answer_aaaa, "d0::11".parse::<Ipv6Addr>()?)?,
        dns_ttl: args.dns_ttl,
        no_qclass: args.no_qclass,
        drop_edns: args.drop_edns,
        aa: args.aa,
        ra: !args.no_ra,
    };
    if spec.a.is_empty() && spec.aaaa.is_empty() {
        bail!("nothing to answer with: --answer-a and --answer-aaaa are both none");
    }
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
    let list = |v: &[String]| v.join(",");
    eprintln!(
        "tw-dns-inject: listening on {} (names {}, A {:?}, AAAA {:?}, ttl {}, ip-id {:?}, df {}, \
         no-qclass {}, drop-edns {}, tcp {})",
        args.iface,
        list(&names),
        spec.a,
        spec.aaaa,
        args.ttl,
        args.ip_id,
        args.df,
        spec.no_qclass,
        spec.drop_edns,
        args.tcp
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
            let Some(q) = dns::parse_packet(&buf[..meta.len.min(buf.len())]) else {
                continue;
            };
            if q.tcp.is_some() && !args.tcp {
                continue;
            }
            if dns::blocked(&q.name, &names).is_none() {
                continue;
            }
            let msg = dns::QueryMsg {
                id: q.id,
                flags: q.flags,
                qname_wire: q.qname_wire,
                name: q.name.clone(),
                qtype: q.qtype,
                qclass: q.qclass,
                edns: q.edns,
            };
            let Some(answer) = dns::answer(&msg, &spec) else {
                continue;
            };
            let ip_id = match args.ip_id {
                IpId::Random => rand.u16_nonzero(),
                IpId::Copy => q.ip_id,
                IpId::Fixed(n) => n,
            };
            let ip = IpSpec {
                ttl: args.ttl,
                ip_id,
                df: args.df,
            };
            let pkt = dns::forge(&q, &answer, ip);
            if let Err(e) = raw.send(q.src, &pkt) {
                eprintln!("tw-dns-inject: sending to {}: {e}", q.src);
                continue;
            }
            injections += 1;
            let answers: Vec<String> = match q.qtype {
                dns::TYPE_A => spec.a.iter().map(ToString::to_string).collect(),
                _ => spec.aaaa.iter().map(ToString::to_string).collect(),
            };
            let line = format!(
                "inject proto={} name={} qtype={} id={} client={} client_port={} resolver={} answers={} ttl={} ip_id={} qclass={} edns={}\n",
                q.proto(),
                q.name,
                dns::qtype_name(q.qtype),
                q.id,
                q.src,
                q.sport,
                q.dst,
                answers.join(","),
                args.ttl,
                if q.src.is_ipv4() { ip_id.to_string() } else { "-".into() },
                if spec.no_qclass { "dropped" } else { "echo" },
                match (q.edns.is_some(), spec.drop_edns) {
                    (false, _) => "none",
                    (true, false) => "echo",
                    (true, true) => "dropped",
                }
            );
            print!("{line}");
            let _ = std::io::stdout().flush();
            if let Some(f) = count.as_mut() {
                f.write_all(line.as_bytes())
                    .context("writing the count file")?;
            }
        }
    }
    eprintln!("tw-dns-inject: stopped after {injections} injections");
    Ok(())
}
