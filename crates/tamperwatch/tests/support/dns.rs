//! DNS for the censorship lab: a real resolver (Debian's `unbound`) in the
//! server's namespace, authoritative for a test zone; `dig` in the client;
//! a python3 client that repeats a query on one socket; tcpdump recording
//! the DNS packets the client received, read back by a small pcap reader.
//!
//! The zone `example.` (SOA, NS, everything else NXDOMAIN):
//!
//! | name | data |
//! | --- | --- |
//! | `allowed.example` | A 198.51.100.80, AAAA 2001:db8:2::80 |
//! | `blocked.example` | A 198.51.100.81, AAAA 2001:db8:2::81 |
//! | `www.blocked.example` | A 198.51.100.82 |
//! | `other-blocked.example` | A 198.51.100.83 |
//! | `cname.example` | CNAME `alias.example` → CNAME `www.cdn.example` → A 198.51.100.84 |
//! | `rr.example` | four A records 198.51.100.90-93 (unbound rotates their order) |
//! | `big.example` | 40 A records (669 bytes: truncated over UDP without EDNS) |
//!
//! and the local zones `home.arpa.` (`nas.home.arpa` A 192.168.1.10) and
//! `lan.` (`printer.lan` A 192.168.1.20), as a home router's resolver has.

use super::netns::{Guarded, Netns};
use super::{poll, run_bounded};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every address of the zone, by name (A records only).
pub const ZONE_A: &[(&str, &[&str])] = &[
    ("allowed.example", &["198.51.100.80"]),
    ("blocked.example", &["198.51.100.81"]),
    ("www.blocked.example", &["198.51.100.82"]),
    ("other-blocked.example", &["198.51.100.83"]),
    ("cname.example", &["198.51.100.84"]),
    (
        "rr.example",
        &[
            "198.51.100.90",
            "198.51.100.91",
            "198.51.100.92",
            "198.51.100.93",
        ],
    ),
    ("nas.home.arpa", &["192.168.1.10"]),
    ("printer.lan", &["192.168.1.20"]),
];

/// Records in `big.example`.
pub const BIG_RECORDS: usize = 40;

fn zone_file() -> String {
    let mut z = String::from(
        "$ORIGIN example.\n$TTL 300\n\
         @ IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60\n\
         @ IN NS ns.example.\n\
         ns IN A 198.51.100.2\n\
         allowed IN A 198.51.100.80\n\
         allowed IN AAAA 2001:db8:2::80\n\
         blocked IN A 198.51.100.81\n\
         blocked IN AAAA 2001:db8:2::81\n\
         www.blocked IN A 198.51.100.82\n\
         other-blocked IN A 198.51.100.83\n\
         cname IN CNAME alias\n\
         alias IN CNAME www.cdn\n\
         www.cdn IN A 198.51.100.84\n",
    );
    for i in 90..94 {
        z += &format!("rr IN A 198.51.100.{i}\n");
    }
    for i in 0..BIG_RECORDS {
        z += &format!("big IN A 198.51.100.{}\n", 100 + i);
    }
    z
}

/// unbound serving the test zone on the given addresses, port 53, in the
/// foreground; killed on drop.
#[derive(Debug)]
pub struct Unbound {
    proc: Guarded,
    dir: tempfile::TempDir,
}

impl Unbound {
    /// Writes the zone and configuration, starts unbound and waits (≤ 10 s)
    /// until it answers `allowed.example` on the first address (from `ns`
    /// itself).
    pub fn start(ns: &Netns, addrs: &[IpAddr]) -> Unbound {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("example.zone"), zone_file()).unwrap();
        let mut conf = format!(
            "server:
    port: 53
    do-daemonize: no
    chroot: \"\"
    username: \"\"
    directory: \"{d}\"
    pidfile: \"{d}/unbound.pid\"
    use-syslog: no
    logfile: \"\"
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 0.0.0.0/0 allow
    access-control: ::/0 allow
    module-config: \"iterator\"
    do-not-query-localhost: yes
    rrset-roundrobin: yes
    minimal-responses: yes
    local-zone: \"home.arpa.\" static
    local-data: \"nas.home.arpa. 300 IN A 192.168.1.10\"
    local-zone: \"lan.\" static
    local-data: \"printer.lan. 300 IN A 192.168.1.20\"
",
            d = d.display()
        );
        for a in addrs {
            conf += &format!("    interface: {a}\n");
        }
        conf += &format!(
            "auth-zone:
    name: \"example.\"
    zonefile: \"{}/example.zone\"
    for-downstream: yes
    for-upstream: no
    fallback-enabled: no
",
            d.display()
        );
        let conf_path = d.join("unbound.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut proc = ns.spawn("unbound", &["-d", "-c", conf_path.to_str().unwrap()]);
        let first = addrs[0];
        let up = poll(Duration::from_secs(10), Duration::from_millis(50), || {
            if proc.try_status().is_some() {
                return Some(false);
            }
            let d = dig(ns, first, "allowed.example", "A", &["+time=1"]);
            (d.status == "NOERROR").then_some(true)
        });
        if up != Some(true) {
            panic!(
                "unbound did not answer on {first} ({:?}):\n{}",
                proc.try_status(),
                proc.log()
            );
        }
        Unbound { proc, dir }
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// One `dig` run.
#[derive(Debug, Clone, Default)]
pub struct Dig {
    pub name: String,
    pub qtype: String,
    pub server: Option<IpAddr>,
    /// `status:` of the answer dig printed ("" when none: timed out).
    pub status: String,
    /// The header flags dig printed ("qr aa rd ra").
    pub flags: String,
    /// Addresses in the answer section (A and AAAA), in order.
    pub addrs: Vec<IpAddr>,
    /// CNAMEs in the answer section.
    pub cnames: usize,
    /// dig said "Truncated, retrying in TCP mode."
    pub retried_tcp: bool,
    /// dig got no answer.
    pub timed_out: bool,
    /// dig warned about the message (malformed, mismatched question...).
    pub warnings: Vec<String>,
    /// dig's output, for reports.
    pub output: String,
}

/// `dig @SERVER NAME TYPE +tries=1 +time=2 EXTRA..` in `ns` (bounded), parsed.
pub fn dig(ns: &Netns, server: IpAddr, name: &str, qtype: &str, extra: &[&str]) -> Dig {
    let at = format!("@{server}");
    let mut args = vec![at.as_str(), name, qtype, "+tries=1", "+time=2"];
    args.extend_from_slice(extra);
    let out = ns.exec_timeout("dig", &args, Duration::from_secs(15));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut d = Dig {
        name: name.into(),
        qtype: qtype.into(),
        server: Some(server),
        ..Default::default()
    };
    let mut in_answer = false;
    for line in text.lines() {
        let l = line.trim();
        if let Some(i) = l.find("status: ") {
            let rest = &l[i + 8..];
            // Several answers (TC then TCP): the last one counts.
            d.status = rest.split(',').next().unwrap_or("").trim().to_string();
        }
        if let Some(f) = l.strip_prefix(";; flags: ") {
            d.flags = f.split(';').next().unwrap_or("").trim().to_string();
        }
        if l.contains("Truncated, retrying in TCP mode") {
            d.retried_tcp = true;
        }
        if l.contains("timed out") || l.contains("no servers could be reached") {
            d.timed_out = true;
        }
        if l.starts_with(";; Warning") || l.starts_with(";; WARNING") || l.contains("malformed") {
            d.warnings.push(l.to_string());
        }
        if l.starts_with(";; ANSWER SECTION") {
            in_answer = true;
            d.addrs.clear();
            d.cnames = 0;
            continue;
        }
        if l.is_empty() || l.starts_with(";;") {
            in_answer = false;
            continue;
        }
        if in_answer {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() >= 5 {
                match f[3] {
                    "A" | "AAAA" => {
                        if let Ok(a) = f[4].parse() {
                            d.addrs.push(a);
                        }
                    }
                    "CNAME" => d.cnames += 1,
                    _ => {}
                }
            }
        }
    }
    if d.status.is_empty() && !d.timed_out && !out.status.success() {
        d.timed_out = true;
    }
    d.output = text;
    d
}

const REPEATER: &str = r#"
import socket, struct, sys, time, random
server, name, qtypes, repeat, gap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ':' in server else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.connect((server, 53))
codes = {'A': 1, 'AAAA': 28}
sent = {}
for qt in qtypes.split(','):
    qid = random.randrange(1, 65535)
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\x00' + struct.pack('>HH', codes[qt], 1)
    for i in range(repeat):
        s.send(q)
        if i + 1 < repeat:
            time.sleep(gap)
    sent[qid] = qt
s.settimeout(0.5)
got = []
deadline = time.time() + 1.5
while time.time() < deadline:
    try:
        got.append(s.recv(4096))
    except socket.timeout:
        break
print('port', s.getsockname()[1])
print('sent', len(sent) * repeat)
print('answers', len(got))
print('distinct', len(set(got)))
"#;

/// What [`repeat_query`] saw.
#[derive(Debug, Clone)]
pub struct Repeated {
    pub client_port: u16,
    pub sent: usize,
    pub answers: usize,
    /// Distinct answer payloads (round-robin order makes repeats differ).
    pub distinct: usize,
}

/// A python3 client on one UDP socket: for each of `qtypes` (e.g. "A" or
/// "A,AAAA") one query with its own ID, sent `repeat` times `gap` apart
/// (a retransmission: same ID, same question); collects answers for up to
/// 1.5 s.
pub fn repeat_query(
    ns: &Netns,
    server: IpAddr,
    name: &str,
    qtypes: &str,
    repeat: usize,
    gap: Duration,
) -> Repeated {
    let (s, r, g) = (
        server.to_string(),
        repeat.to_string(),
        format!("{:.3}", gap.as_secs_f64()),
    );
    let out = ns.exec_timeout(
        "python3",
        &["-c", REPEATER, &s, name, qtypes, &r, &g],
        Duration::from_secs(10),
    );
    let text = super::check_output("python3 repeat_query", &out);
    let get = |k: &str| -> usize {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("repeat_query printed no {k:?}: {text}"))
    };
    Repeated {
        client_port: get("port ") as u16,
        sent: get("sent "),
        answers: get("answers "),
        distinct: get("distinct "),
    }
}

/// One DNS packet the client's capture holds (UDP, or a TCP segment with
/// a whole length-prefixed message).
#[derive(Debug, Clone, PartialEq)]
pub struct DnsPkt {
    /// Seconds (capture clock).
    pub ts: f64,
    pub tcp: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub ttl: u8,
    pub ip_id: u16,
    pub id: u16,
    pub response: bool,
    pub tc: bool,
    pub rcode: u8,
    /// The question's name, lower case (empty when unreadable).
    pub qname: String,
    pub ancount: u16,
}

impl DnsPkt {
    /// The client's port (the side that is not 53).
    pub fn client_port(&self) -> u16 {
        if self.response {
            self.dport
        } else {
            self.sport
        }
    }
}

/// tcpdump writing the client's DNS packets (port 53) to a pcap.
#[derive(Debug)]
pub struct DnsDump {
    proc: Guarded,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl DnsDump {
    pub fn start(ns: &Netns, iface: &str) -> DnsDump {
        let dir = tempfile::tempdir().expect("tempdir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let file = dir.path().join("dns.pcap");
        let mut proc = ns.spawn(
            "tcpdump",
            &[
                "--immediate-mode",
                "-U",
                "-n",
                "-i",
                iface,
                "-w",
                file.to_str().unwrap(),
                "port 53",
            ],
        );
        let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
            proc.log().contains("listening on").then_some(())
        });
        if up.is_none() || proc.try_status().is_some() {
            panic!("tcpdump did not start:\n{}", proc.log());
        }
        DnsDump {
            proc,
            file,
            _dir: dir,
        }
    }

    /// Stops tcpdump and reads its capture.
    pub fn finish(mut self) -> Vec<DnsPkt> {
        self.proc.signal(libc::SIGINT);
        if self.proc.wait_timeout(Duration::from_secs(5)).is_none() {
            self.proc.kill();
        }
        read_dns(&self.file)
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Every DNS packet of a pcap file (Ethernet link type) written by
/// tcpdump.
pub fn read_dns(path: &Path) -> Vec<DnsPkt> {
    super::pcap::read_frames(path)
        .iter()
        .filter_map(|(ts, f)| decode(f, *ts))
        .collect()
}

fn decode(f: &[u8], ts: f64) -> Option<DnsPkt> {
    let et = be16(f, 12)?;
    let ip = f.get(14..)?;
    let (src, dst, ttl, ip_id, proto, l4): (IpAddr, IpAddr, u8, u16, u8, &[u8]) = match et {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0xf) * 4;
            let total = usize::from(be16(ip, 2)?).min(ip.len());
            let s: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                s.into(),
                d.into(),
                ip[8],
                be16(ip, 4)?,
                ip[9],
                ip.get(ihl..total)?,
            )
        }
        0x86dd => {
            let plen = usize::from(be16(ip, 4)?);
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                s.into(),
                d.into(),
                ip[7],
                0,
                ip[6],
                ip.get(40..(40 + plen).min(ip.len()))?,
            )
        }
        _ => return None,
    };
    let (sport, dport, tcp, msg) = match proto {
        17 => (be16(l4, 0)?, be16(l4, 2)?, false, l4.get(8..)?),
        6 => {
            let off = usize::from(*l4.get(12)? >> 4) * 4;
            let payload = l4.get(off..)?;
            let len = usize::from(be16(payload, 0)?);
            (be16(l4, 0)?, be16(l4, 2)?, true, payload.get(2..2 + len)?)
        }
        _ => return None,
    };
    if sport != 53 && dport != 53 {
        return None;
    }
    let flags = be16(msg, 2)?;
    let mut qname = String::new();
    let mut pos = 12;
    if be16(msg, 4)? > 0 {
        while let Some(&len) = msg.get(pos) {
            if len == 0 || len > 63 {
                break;
            }
            let label = msg.get(pos + 1..pos + 1 + usize::from(len))?;
            if !qname.is_empty() {
                qname.push('.');
            }
            qname.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
            pos += 1 + usize::from(len);
        }
    }
    Some(DnsPkt {
        ts,
        tcp,
        src,
        dst,
        sport,
        dport,
        ttl,
        ip_id,
        id: be16(msg, 0)?,
        response: flags & 0x8000 != 0,
        tc: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        qname,
        ancount: be16(msg, 6)?,
    })
}

/// Runs `program args..` in `ns`, bounded, ignoring the result (cleanup).
pub fn best_effort(ns: &Netns, program: &str, args: &[&str]) {
    let mut c = ns.command(program);
    c.args(args);
    let _ = run_bounded(c, Duration::from_secs(10));
}

/// A resolver (python3) that answers every A query with Iran's forged
/// address 10.10.34.34: each answer is a `dns_injection` event.
const FORGING_RESPONDER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    q, a = s.recvfrom(4096)
    if len(q) < 12:
        continue
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    hdr = q[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04" + bytes([10, 10, 34, 34])
    s.sendto(hdr + question + ans, a)
"#;

/// Starts [`FORGING_RESPONDER`] on the server's IPv4 address, port 53.
pub fn forging_responder(topo: &super::Topology) -> super::Guarded {
    let s = &topo.server;
    let g =
        s.ns.spawn("python3", &["-c", FORGING_RESPONDER, &s.addr4.to_string()]);
    let up = super::poll(Duration::from_secs(5), Duration::from_millis(20), || {
        g.log().contains("ready").then_some(())
    });
    assert!(up.is_some(), "DNS responder did not start:\n{}", g.log());
    g
}
