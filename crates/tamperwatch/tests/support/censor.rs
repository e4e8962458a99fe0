//! The censorship lab: client — router — wire — server, where the wire is
//! `tw-wire` (a userspace layer-2 relay from the `tw-testtools` crate)
//! delaying every frame, so that the server is "far" and a censor in the
//! router is close to the client, as in the wild; the server's packets
//! leave it with TTL [`SERVER_TTL`]. nginx serves HTTP and HTTPS for a few
//! names ([`TlsWeb`]); small python3 servers play applications that reset
//! ([`ResetServer`]); tcpdump records what the client received
//! ([`Tcpdump`]); [`curl`] fetches a name through `--resolve`.

use super::netns::{wait_for_tcp, Builder, Guarded, Host, Netns, Router, Topology};
use super::pcap::{self, Seg};
use super::{poll, run_bounded};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub const ALLOWED: &str = "allowed.example";
pub const BLOCKED: &str = "blocked.example";
/// The SNI entry of a ClientHello for `blocked.example`: name type 0,
/// length 15, the name (what a router's string match looks for).
pub const BLOCKED_SNI_HEX: &str = "|00000f|blocked.example";

/// iptables-nft in `router` (`table`, or the default filter table): the
/// TLS connections to port 443 whose ClientHello names `blocked.example`
/// get `action` (`-j ...`).
pub fn match_blocked_sni(router: &Netns, table: Option<&str>, action: &[&str]) {
    let mut a = match table {
        Some(t) => vec!["-t", t],
        None => vec![],
    };
    a.extend_from_slice(&[
        "-A",
        "FORWARD",
        "-p",
        "tcp",
        "--dport",
        "443",
        "-m",
        "string",
        "--algo",
        "bm",
        "--hex-string",
        BLOCKED_SNI_HEX,
    ]);
    a.extend_from_slice(action);
    router.exec_ok("iptables", &a);
}
pub const OTHER_BLOCKED: &str = "other-blocked.example";
/// Every name the server serves.
pub const NAMES: &[&str] = &[ALLOWED, BLOCKED, OTHER_BLOCKED];
/// IPv4 TTL / IPv6 hop limit of the server's packets (one router hop
/// later they arrive with one less).
pub const SERVER_TTL: u8 = 50;

/// Whether `program` is on the PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The path of a `tw-testtools` binary (`tw-inject`, `tw-wire`), built
/// once per test process with the cargo that runs the tests (a no-op when
/// it is fresh: `cargo test --workspace` has built it already) into the
/// target directory of this test executable.
pub fn tool(name: &str) -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("test executable has no grandparent")?
            .to_path_buf();
        let target = profile_dir.parent().ok_or("no target dir")?;
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = Command::new(cargo);
        c.args(["build", "--quiet", "-p", "tw-testtools", "--bins"])
            .arg("--target-dir")
            .arg(target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile {
            "debug" => {}
            "release" => {
                c.arg("--release");
            }
            p => {
                c.args(["--profile", p]);
            }
        }
        let out = run_bounded(c, Duration::from_secs(300));
        if !out.status.success() {
            eprintln!(
                "support: building tw-testtools failed ({}); using what is there:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(profile_dir)
    });
    let dir = dir
        .as_ref()
        .unwrap_or_else(|e| panic!("locating tw-testtools: {e}"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} does not exist (cargo build -p tw-testtools)",
        p.display()
    );
    p
}

/// client (`eth0` 192.0.2.2, 2001:db8:1::2) ⟷ (`eth-c`) router (`eth-s`)
/// ⟷ (`w-r`) wire (`w-s`) ⟷ server (`eth0` 198.51.100.2, 2001:db8:2::2):
/// addresses and names as [`Topology::client_router_server`], with the
/// `tw-wire` relay delaying each direction by `one_way`. The server sends
/// with TTL [`SERVER_TTL`]. Returns the topology and the relay (drop the
/// relay first; the topology kills it anyway).
pub fn client_router_far_server(one_way: Duration) -> (Topology, Guarded) {
    let mut b: Builder = Topology::builder();
    let c = b.add_ns("c");
    let r = b.add_ns("r");
    let w = b.add_ns("w");
    let s = b.add_ns("s");
    b.veth(&c, "eth0", &r, "eth-c");
    b.veth(&r, "eth-s", &w, "w-r");
    b.veth(&w, "w-s", &s, "eth0");
    b.addr(&c, "eth0", "192.0.2.2/24");
    b.addr(&c, "eth0", "2001:db8:1::2/64");
    b.addr(&r, "eth-c", "192.0.2.1/24");
    b.addr(&r, "eth-c", "2001:db8:1::1/64");
    b.addr(&r, "eth-s", "198.51.100.1/24");
    b.addr(&r, "eth-s", "2001:db8:2::1/64");
    b.addr(&s, "eth0", "198.51.100.2/24");
    b.addr(&s, "eth0", "2001:db8:2::2/64");
    b.forwarding(&r);
    let r4c = Ipv4Addr::new(192, 0, 2, 1);
    let r6c: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let r4s = Ipv4Addr::new(198, 51, 100, 1);
    let r6s: Ipv6Addr = "2001:db8:2::1".parse().unwrap();
    b.default_via(&c, r4c, r6c);
    b.default_via(&s, r4s, r6s);
    let ttl = SERVER_TTL.to_string();
    s.sysctl("net.ipv4.ip_default_ttl", &ttl);
    for k in ["all", "default", "eth0"] {
        s.sysctl(&format!("net.ipv6.conf.{k}.hop_limit"), &ttl);
    }
    let client = Host {
        ns: c,
        iface: "eth0".into(),
        addr4: Ipv4Addr::new(192, 0, 2, 2),
        addr6: "2001:db8:1::2".parse().unwrap(),
    };
    let server = Host {
        ns: s,
        iface: "eth0".into(),
        addr4: Ipv4Addr::new(198, 51, 100, 2),
        addr6: "2001:db8:2::2".parse().unwrap(),
    };
    let router = Router {
        ns: r,
        client_iface: "eth-c".into(),
        client_addr4: r4c,
        client_addr6: r6c,
        server_iface: "eth-s".into(),
        server_addr4: r4s,
        server_addr6: r6s,
    };
    let topo = b.finish(client, server, Some(router));
    topo.wire_sized_frames();
    let ms = one_way.as_millis().to_string();
    let wire_bin = tool("tw-wire");
    let mut wire = w.spawn(
        wire_bin.to_str().unwrap(),
        &["--a", "w-r", "--b", "w-s", "--delay-ms", &ms],
    );
    let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
        wire.log().contains("relaying").then_some(())
    });
    if up.is_none() || wire.try_status().is_some() {
        panic!("tw-wire did not start:\n{}", wire.log());
    }
    (topo, wire)
}

/// nginx serving `www` on port 80 and 443 (TLS, one self-signed
/// certificate for every name of [`NAMES`], made with openssl) of the
/// server's addresses. Paths: `/index.html`, `/big.bin` (1 MiB), `/large.bin` (8 MiB),
/// `/slow.bin` (1 MiB at 16 KiB/s), `/paced.bin` (1 MiB at 50 KiB/s: a
/// server pacing itself at 400 kbit/s), `/close` (`return 444`: nginx
/// closes without a response).
#[derive(Debug)]
pub struct TlsWeb {
    proc: Guarded,
    dir: tempfile::TempDir,
}

impl TlsWeb {
    pub fn start(ns: &Netns, addrs: &[IpAddr]) -> TlsWeb {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let www = d.join("www");
        std::fs::create_dir(&www).unwrap();
        std::fs::write(
            www.join("index.html"),
            "<!doctype html><title>censorship lab</title><p>Hello.</p>\n",
        )
        .unwrap();
        let big = super::web::pseudo_random(1024 * 1024, 3);
        std::fs::write(www.join("big.bin"), &big).unwrap();
        std::fs::write(www.join("slow.bin"), &big).unwrap();
        std::fs::write(www.join("paced.bin"), &big).unwrap();
        std::fs::write(www.join("large.bin"), big.repeat(8)).unwrap();
        for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(d.join("tmp").join(t)).unwrap();
        }
        let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
        let san = NAMES
            .iter()
            .map(|n| format!("DNS:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = Command::new("openssl");
        c.args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:prime256v1")
            .args(["-nodes", "-days", "2", "-subj", "/CN=allowed.example"])
            .arg("-addext")
            .arg(format!("subjectAltName={san}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert);
        super::check_output("openssl req", &run_bounded(c, Duration::from_secs(30)));
        let mut listens = String::new();
        for a in addrs {
            let a = match a {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
            };
            listens += &format!("        listen {a}:80;\n        listen {a}:443 ssl;\n");
        }
        let conf = format!(
            "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ text/html html; application/octet-stream bin; }}
    default_type application/octet-stream;
    keepalive_timeout 5;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    server {{
{listens}        server_name {names} _;
        root {www};
        location = /close {{ return 444; }}
        location = /slow.bin {{ limit_rate 16k; }}
        location = /paced.bin {{ limit_rate 50k; }}
    }}
}}
",
            d = d.display(),
            cert = cert.display(),
            key = key.display(),
            www = www.display(),
            names = NAMES.join(" "),
        );
        let conf_path = d.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut c = ns.command("nginx");
        c.arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .arg("-c")
            .arg(&conf_path);
        let mut proc = Guarded::spawn(c, &format!("nginx-tls@{}", ns.name()));
        for a in addrs {
            for port in [80, 443] {
                if !wait_for_tcp(ns, *a, port, Duration::from_secs(10)) {
                    panic!(
                        "nginx did not come up on {a}:{port} ({:?}):\n{}\n{}",
                        proc.try_status(),
                        proc.log(),
                        std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
                    );
                }
            }
        }
        TlsWeb { proc, dir }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// How a [`ResetServer`] ends each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// Reads the request, then closes with SO_LINGER 0 (an RST, no data).
    AfterRequest,
    /// Reads the request, sends a response without a length (delimited by
    /// the close), waits 50 ms and closes with SO_LINGER 0 (data, then RST).
    AfterResponse,
}

/// `python3 -c` a server on `addr:port` (`args[0]`, `args[1]`; `args[2]`
/// is the script's `arg`) in `ns`, once it is listening. The script
/// defines `handle(c)` for each accepted connection, with
/// `read_request(c)` (true once a whole request header came) at hand.
fn python_server(ns: &Netns, what: &str, script: &str, args: &[&str]) -> Guarded {
    let script = format!("{SERVER_PRELUDE}{script}{SERVER_LOOP}");
    let mut argv = vec!["-c", script.as_str()];
    argv.extend_from_slice(args);
    let mut proc = ns.spawn("python3", &argv);
    let up = poll(Duration::from_secs(10), Duration::from_millis(20), || {
        proc.log().contains("listening").then_some(())
    });
    if up.is_none() || proc.try_status().is_some() {
        panic!("{what} {args:?} did not start:\n{}", proc.log());
    }
    proc
}

const SERVER_PRELUDE: &str = r#"
import socket, struct, sys, threading, time
addr, port, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
def read_request(c):
    d = b''
    while b'\r\n\r\n' not in d:
        x = c.recv(4096)
        if not x:
            return False
        d += x
    return True
"#;

const SERVER_LOOP: &str = r#"
print('listening', flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// Handler of [`ResetServer`]; `arg` is the mode.
const RESET_SERVER: &str = r#"
def handle(c):
    try:
        c.settimeout(5)
        read_request(c)
        if arg == 'after-response':
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, then a reset\n')
            time.sleep(0.05)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    finally:
        c.close()
"#;

/// A python3 server on `addr:port` that ends connections with an RST (an
/// application abort, not a censor).
#[derive(Debug)]
pub struct ResetServer {
    proc: Guarded,
}

impl ResetServer {
    pub fn start(ns: &Netns, addr: IpAddr, port: u16, kind: ResetKind) -> ResetServer {
        let mode = match kind {
            ResetKind::AfterRequest => "after-request",
            ResetKind::AfterResponse => "after-response",
        };
        let (a, p) = (addr.to_string(), port.to_string());
        ResetServer {
            proc: python_server(ns, "reset server", RESET_SERVER, &[&a, &p, mode]),
        }
    }
}

/// Handler of [`PortalServer`]; `arg` is the path of the file whose
/// presence means "not logged in".
const PORTAL_SERVER: &str = r#"
import os
def handle(c):
    try:
        c.settimeout(5)
        d = b''
        while b'\r\n\r\n' not in d:
            x = c.recv(4096)
            if not x:
                return
            d += x
        parts = d.split(b' ', 2)
        path = parts[1] if len(parts) > 2 else b'/'
        if path == b'/generate_204' and not os.path.exists(arg):
            c.sendall(b'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
        else:
            c.sendall(b'HTTP/1.1 302 Found\r\nLocation: http://192.168.88.1/login\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    finally:
        c.close()
"#;

/// A captive portal's web server (python3) on `0.0.0.0:port`: every
/// request gets a redirect to its login page, except `/generate_204`
/// once `locked` (a file) is gone: 204, as after a login.
#[derive(Debug)]
pub struct PortalServer {
    _proc: Guarded,
}

impl PortalServer {
    pub fn start(ns: &Netns, port: u16, locked: &std::path::Path) -> PortalServer {
        let (p, l) = (port.to_string(), locked.display().to_string());
        PortalServer {
            _proc: python_server(ns, "portal server", PORTAL_SERVER, &["0.0.0.0", &p, &l]),
        }
    }
}

/// Handler of [`PacedServer`]; `arg` is the rate in bytes/s.
const PACED_SERVER: &str = r#"
rate = int(arg)
body = bytes(range(256)) * 4096
def handle(c):
    try:
        c.setsockopt(socket.SOL_SOCKET, 47, rate)  # SO_MAX_PACING_RATE, bytes/s
        if read_request(c):
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % len(body) + body)
    finally:
        c.close()
"#;

/// A python3 HTTP server on `addr:port` whose every connection the kernel
/// paces smoothly at `bytes_per_sec` (`SO_MAX_PACING_RATE`: a video
/// server pacing itself, BBR at its bottleneck); it answers any request
/// with 1 MiB.
#[derive(Debug)]
pub struct PacedServer {
    _proc: Guarded,
}

impl PacedServer {
    pub fn start(ns: &Netns, addr: IpAddr, port: u16, bytes_per_sec: u64) -> PacedServer {
        let (a, p, r) = (
            addr.to_string(),
            port.to_string(),
            bytes_per_sec.to_string(),
        );
        PacedServer {
            _proc: python_server(ns, "paced server", PACED_SERVER, &[&a, &p, &r]),
        }
    }
}

/// Handler of [`SinkServer`]: reads and forgets whatever comes.
const SINK_SERVER: &str = r#"
def handle(c):
    try:
        while c.recv(65536):
            pass
    finally:
        c.close()
"#;

/// A python3 server on `addr:port` that takes whatever a client sends and
/// answers nothing: the far end of an upload (a cloud backup).
#[derive(Debug)]
pub struct SinkServer {
    _proc: Guarded,
}

impl SinkServer {
    pub fn start(ns: &Netns, addr: IpAddr, port: u16) -> SinkServer {
        let (a, p) = (addr.to_string(), port.to_string());
        SinkServer {
            _proc: python_server(ns, "sink server", SINK_SERVER, &[&a, &p, "-"]),
        }
    }
}

const UDP_UPLOADER: &str = r#"
import socket, sys, time
addr, port, bps, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
block = b'\0' * 1200
gap = len(block) * 8 / bps
t = time.monotonic()
end = t + secs
print('uploading', flush=True)
while t < end:
    s.sendto(block, (addr, port))
    t += gap
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
"#;

const UDP_SINK: &str = r#"
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    s.recv(65536)
"#;

/// An upload at a constant `bps` over UDP from `client` to `addr:port` in
/// `server` (a python3 sink reads it there), for `secs` seconds (or until
/// dropped): it does not back off, so a bottleneck slower than `bps`
/// keeps its buffer full for as long as it runs (a standing queue on an
/// uplink, where a TCP upload's queue drains after its losses now and
/// then).
pub fn udp_upload(
    client: &Netns,
    server: &Netns,
    addr: IpAddr,
    port: u16,
    bps: u64,
    secs: u64,
) -> (Guarded, Guarded) {
    let (a, p) = (addr.to_string(), port.to_string());
    let sink = server.spawn("python3", &["-c", UDP_SINK, &a, &p]);
    // (its socket bound before the first datagram)
    std::thread::sleep(Duration::from_millis(300));
    let (b, t) = (bps.to_string(), secs.to_string());
    let up = client.spawn("python3", &["-c", UDP_UPLOADER, &a, &p, &b, &t]);
    (sink, up)
}

const UPLOADER: &str = r#"
import socket, sys, time
addr, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c = socket.create_connection((addr, port), timeout=10)
print('uploading from port', c.getsockname()[1], flush=True)
end = time.time() + secs
block = b'\0' * 65536
while time.time() < end:
    c.sendall(block)
c.close()
"#;

/// A python3 client in `ns` that uploads zeros to `addr:port` (a
/// [`SinkServer`]) as fast as its path takes them, for `secs` seconds (or
/// until dropped).
pub fn upload(ns: &Netns, addr: IpAddr, port: u16, secs: u64) -> Guarded {
    ns.spawn(
        "python3",
        &[
            "-c",
            UPLOADER,
            &addr.to_string(),
            &port.to_string(),
            &secs.to_string(),
        ],
    )
}

const ABORTING_CLIENT: &str = r#"
import socket, struct, sys
addr, port, host, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = socket.create_connection((addr, port), timeout=5)
print(c.getsockname()[1], flush=True)
c.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (path, host)).encode())
c.recv(1000)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
c.close()
"#;

/// A python3 client that requests `path` from `host` at `addr:port`,
/// reads the first bytes of the answer and aborts with an RST (SO_LINGER
/// 0); returns its local port.
pub fn aborting_client(ns: &Netns, addr: IpAddr, port: u16, host: &str, path: &str) -> u16 {
    let (a, p) = (addr.to_string(), port.to_string());
    let out = ns.exec_timeout(
        "python3",
        &["-c", ABORTING_CLIENT, &a, &p, host, path],
        Duration::from_secs(10),
    );
    let text = super::check_output("aborting client", &out);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("aborting client printed {text:?}"))
}

const UPLOADING_CLIENT: &str = r#"
import socket, sys
addr, port, host, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = socket.create_connection((addr, port), timeout=5)
print(c.getsockname()[1], flush=True)
c.sendall(('POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n'
           'Content-Length: %d\r\n\r\n' % (host, size)).encode())
chunk = b'x' * 16384
sent = 0
try:
    while sent < size:
        sent += c.send(chunk[:size - sent])
    c.recv(1000)
    print('not reset', flush=True)
except OSError as e:
    print('reset after %d bytes: %s' % (sent, e), flush=True)
c.close()
"#;

/// A python3 client that POSTs `size` bytes to `host` at `addr:port` and
/// keeps sending until the server resets it (an upload the server's
/// application rejects by closing); returns its local port and what
/// happened.
pub fn uploading_client(
    ns: &Netns,
    addr: IpAddr,
    port: u16,
    host: &str,
    size: usize,
) -> (u16, String) {
    let (a, p, n) = (addr.to_string(), port.to_string(), size.to_string());
    let out = ns.exec_timeout(
        "python3",
        &["-c", UPLOADING_CLIENT, &a, &p, host, &n],
        Duration::from_secs(20),
    );
    let text = super::check_output("uploading client", &out);
    let mut lines = text.lines();
    let port = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("uploading client printed {text:?}"));
    (port, lines.collect::<Vec<_>>().join(" "))
}

/// One curl run (one connection).
#[derive(Debug, Clone)]
pub struct Fetch {
    /// "http" or "https".
    pub scheme: String,
    pub name: String,
    pub server: IpAddr,
    pub server_port: u16,
    /// The client's port (0 when curl did not connect).
    pub client_port: u16,
    /// HTTP status (0: none).
    pub code: u16,
    /// curl's exit status.
    pub exit: i32,
    pub error: String,
}

impl Fetch {
    pub fn ok(&self) -> bool {
        self.exit == 0 && self.code == 200
    }
}

/// `curl -k --resolve NAME:PORT:ADDR SCHEME://NAME[:PORT]PATH` in `ns`,
/// bounded by `max_time`; `port` 0 is the scheme's default.
pub fn curl(
    ns: &Netns,
    scheme: &str,
    name: &str,
    addr: IpAddr,
    port: u16,
    path: &str,
    max_time: Duration,
) -> Fetch {
    let port = match (port, scheme) {
        (0, "https") => 443,
        (0, _) => 80,
        (p, _) => p,
    };
    let resolve_addr = match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let resolve = format!("{name}:{port}:{resolve_addr}");
    let url = format!("{scheme}://{name}:{port}{path}");
    let mt = format!("{:.3}", max_time.as_secs_f64());
    let out = ns.exec_timeout(
        "curl",
        &[
            "-s",
            "-k",
            "-o",
            "/dev/null",
            "--max-time",
            &mt,
            "--resolve",
            &resolve,
            "-w",
            "%{local_port} %{http_code} %{errormsg}",
            &url,
        ],
        max_time + Duration::from_secs(5),
    );
    let w = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut it = w.splitn(3, ' ');
    let client_port = it.next().and_then(|p| p.trim().parse().ok()).unwrap_or(0);
    let code = it.next().and_then(|c| c.trim().parse().ok()).unwrap_or(0);
    let error = it.next().unwrap_or("").trim().to_string();
    Fetch {
        scheme: scheme.into(),
        name: name.into(),
        server: addr,
        server_port: port,
        client_port,
        code,
        exit: out.status.code().unwrap_or(-1),
        error,
    }
}

/// tcpdump writing a pcap of the TCP segments on `iface` (immediate mode,
/// packet-buffered, so that nothing waits in its buffers at the stop).
#[derive(Debug)]
pub struct Tcpdump {
    proc: Guarded,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tcpdump {
    pub fn start(ns: &Netns, iface: &str) -> Tcpdump {
        let dir = tempfile::tempdir().expect("tempdir");
        // tcpdump drops privileges to its own user: let it write here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let file = dir.path().join("capture.pcap");
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
                "tcp",
            ],
        );
        let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
            proc.log().contains("listening on").then_some(())
        });
        if up.is_none() || proc.try_status().is_some() {
            panic!("tcpdump did not start:\n{}", proc.log());
        }
        Tcpdump {
            proc,
            file,
            _dir: dir,
        }
    }

    /// Stops tcpdump and reads its capture.
    pub fn finish(mut self) -> Vec<Seg> {
        self.proc.signal(libc::SIGINT);
        if self.proc.wait_timeout(Duration::from_secs(5)).is_none() {
            self.proc.kill();
        }
        pcap::read_tcp(&self.file)
    }
}
