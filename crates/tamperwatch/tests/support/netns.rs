//! Network namespaces for tests: [`Topology`] creates uniquely named
//! namespaces (`tw-<pid>-<n><role>`), veth pairs between them, addresses
//! from the documentation ranges only, routes and forwarding, and deletes
//! it all on drop (also when the test panics), killing every process left
//! in its namespaces.
//!
//! Interfaces are created directly inside their namespaces, so their names
//! never appear in (or collide with) the host's namespace; the presets use
//! `eth0` on end hosts and `eth-c`/`eth-s` on the router.

use super::{check_output, run_bounded};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Timeout of helper commands (`ip`, `nft`, `tc`, `sysctl`).
const CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// Creates and deletes a probe namespace once: can this process use
/// `ip netns` at all?
pub(crate) fn probe() -> Result<(), String> {
    let name = format!("tw-{}-probe", std::process::id());
    let out = ip(&["netns", "add", &name]);
    if !out.status.success() {
        return Err(format!(
            "`ip netns add` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let out = ip(&["netns", "del", &name]);
    if !out.status.success() {
        return Err(format!(
            "`ip netns del` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn ip(args: &[&str]) -> Output {
    let mut c = Command::new("ip");
    c.args(args);
    run_bounded(c, CMD_TIMEOUT)
}

fn ip_ok(args: &[&str]) -> String {
    check_output(&format!("ip {}", args.join(" ")), &ip(args))
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence/permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Deletes `tw-<pid>-*` namespaces whose creating process is dead (left
/// behind by a crashed run), killing what still runs in them. Namespaces
/// of live processes (concurrently running tests) are left alone. Runs
/// once per process.
pub fn cleanup_stale() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let me = std::process::id() as i32;
        let out = ip(&["netns", "list"]);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "tw-123-4c" or "tw-123-4c (id: 7)"
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            let Some(rest) = name.strip_prefix("tw-") else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me || pid <= 1 || pid_alive(pid) {
                continue;
            }
            let ns = Netns {
                name: name.to_string(),
            };
            ns.kill_all();
            let _ = ip(&["netns", "del", name]);
            eprintln!("support: removed stale namespace {name} (pid {pid} is gone)");
        }
    });
}

/// A network namespace, by name. A cheap handle: the [`Topology`] that
/// created it deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// The namespace's name (as in `ip netns list`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME program`, to be configured and run by the caller.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `program args..` in the namespace (at most 30 s).
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.exec_timeout(program, args, Duration::from_secs(30))
    }

    /// Runs `program args..` in the namespace for at most `timeout`.
    pub fn exec_timeout(&self, program: &str, args: &[&str], timeout: Duration) -> Output {
        let mut c = self.command(program);
        c.args(args);
        run_bounded(c, timeout)
    }

    /// Runs `program args..` in the namespace; panics with its output
    /// unless it succeeds. Returns stdout.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.exec(program, args);
        check_output(
            &format!("[{}] {program} {}", self.name, args.join(" ")),
            &out,
        )
    }

    /// `bash -c script` in the namespace, checked.
    pub fn sh(&self, script: &str) -> String {
        self.exec_ok("bash", &["-c", script])
    }

    /// Starts `program args..` in the namespace, stdout and stderr to a log
    /// file; the process is killed when the guard drops.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Guarded {
        let mut c = self.command(program);
        c.args(args);
        Guarded::spawn(c, &format!("{program}@{}", self.name))
    }

    /// `ip ARGS` in the namespace, checked (`ip -n NAME ...`).
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        ip_ok(&a)
    }

    /// Loads an nftables ruleset (`nft -f -` text) in the namespace; panics
    /// with nft's message (which names the line) if it is rejected.
    pub fn nft(&self, ruleset: &str) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rules.nft");
        std::fs::write(&path, ruleset).expect("write ruleset");
        let out = self.exec_timeout("nft", &["-f", path.to_str().unwrap()], CMD_TIMEOUT);
        if !out.status.success() {
            panic!(
                "[{}] nft rejected the ruleset: {}\n--- ruleset ---\n{ruleset}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// `nft ARGS` in the namespace, checked; returns stdout (e.g.
    /// `nft(&["list", "ruleset"])` or counters).
    pub fn nft_cmd(&self, args: &[&str]) -> String {
        self.exec_ok("nft", args)
    }

    /// `tc ARGS` in the namespace, checked; returns stdout.
    pub fn tc(&self, args: &[&str]) -> String {
        self.exec_ok("tc", args)
    }

    /// `sysctl -w KEY=VALUE` in the namespace, checked (procps' sysctl
    /// exits 0 on some failures, e.g. a key that is not per-namespace, so
    /// any message on stderr is a failure too).
    pub fn sysctl(&self, key: &str, value: &str) {
        let out = self.exec_timeout(
            "sysctl",
            &["-q", "-w", &format!("{key}={value}")],
            CMD_TIMEOUT,
        );
        if !out.status.success() || !out.stderr.is_empty() {
            panic!(
                "[{}] sysctl {key}={value} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }

    /// Processes running in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let out = ip(&["netns", "pids", &self.name]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// SIGKILLs every process in the namespace.
    pub fn kill_all(&self) {
        for pid in self.pids() {
            // SAFETY: plain kill(2) on a pid.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }

    /// Sets offloads of `iface` off (TSO/GSO/GRO, checksums) when `ethtool`
    /// exists; otherwise limits GSO to one segment with `ip link`, so the
    /// capture sees wire-sized frames. Returns whether ethtool was used.
    pub fn wire_sized_frames(&self, iface: &str) -> bool {
        let have_ethtool = Command::new("sh")
            .args(["-c", "command -v ethtool"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if have_ethtool {
            let out = self.exec(
                "ethtool",
                &[
                    "-K", iface, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off",
                ],
            );
            if out.status.success() {
                return true;
            }
        }
        self.ip(&["link", "set", "dev", iface, "gso_max_segs", "1"]);
        false
    }
}

/// An end host: its namespace, its interface towards the peer (or the
/// router), and its addresses.
#[derive(Debug, Clone)]
pub struct Host {
    pub ns: Netns,
    pub iface: String,
    pub addr4: Ipv4Addr,
    pub addr6: Ipv6Addr,
}

impl Host {
    /// `ip netns exec` shorthand.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.ns.exec(program, args)
    }

    pub fn addr(&self) -> IpAddr {
        IpAddr::V4(self.addr4)
    }
}

/// The router of [`Topology::client_router_server`]: forwards between its
/// client-side and server-side interfaces. Censors go here (nftables, tc).
#[derive(Debug, Clone)]
pub struct Router {
    pub ns: Netns,
    /// Towards the client, with `client_addr4`/`client_addr6`.
    pub client_iface: String,
    pub client_addr4: Ipv4Addr,
    pub client_addr6: Ipv6Addr,
    /// Towards the server.
    pub server_iface: String,
    pub server_addr4: Ipv4Addr,
    pub server_addr6: Ipv6Addr,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A set of namespaces and links, deleted on drop.
///
/// Presets: [`Topology::two_hosts`] and [`Topology::client_router_server`].
/// Custom shapes: [`Topology::new`], [`Topology::add_ns`],
/// [`Topology::veth`], then `ns.ip(&["addr", "add", ...])`.
#[derive(Debug)]
pub struct Topology {
    id: u32,
    namespaces: Vec<Netns>,
    links: Vec<(Netns, String)>,
    /// The client end host (captures run here in the live tests).
    pub client: Host,
    /// The server end host.
    pub server: Host,
    /// The router, for [`Topology::client_router_server`].
    pub router: Option<Router>,
}

/// A topology under construction: namespaces are deleted on drop until
/// [`Builder::finish`] hands them to a [`Topology`].
#[derive(Debug)]
pub struct Builder {
    id: u32,
    namespaces: Vec<Netns>,
    links: Vec<(Netns, String)>,
}

impl Drop for Builder {
    fn drop(&mut self) {
        teardown(&mut self.namespaces);
    }
}

fn teardown(namespaces: &mut Vec<Netns>) {
    for ns in namespaces.iter().rev() {
        ns.kill_all();
    }
    // Give killed processes a moment to go, then delete the namespaces.
    let deadline = Instant::now() + Duration::from_secs(2);
    while namespaces.iter().any(|n| !n.pids().is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for ns in namespaces.drain(..).rev() {
        let out = ip(&["netns", "del", &ns.name]);
        if !out.status.success() {
            eprintln!(
                "support: cannot delete namespace {}: {}",
                ns.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
}

impl Builder {
    /// Creates a namespace named `tw-<pid>-<n><role>` (`role`: a few
    /// letters) with `lo` up.
    pub fn add_ns(&mut self, role: &str) -> Netns {
        let name = format!("tw-{}-{}{}", std::process::id(), self.id, role);
        ip_ok(&["netns", "add", &name]);
        let ns = Netns { name };
        self.namespaces.push(ns.clone());
        ns.ip(&["link", "set", "lo", "up"]);
        // No router advertisements or autoconf surprises; addresses are static.
        ns.sysctl("net.ipv6.conf.all.accept_ra", "0");
        ns.sysctl("net.ipv6.conf.default.accept_ra", "0");
        ns
    }

    /// A veth pair: `a_if` in `a`, `b_if` in `b`, both up (interface names
    /// at most 15 characters).
    pub fn veth(&mut self, a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
        assert!(
            a_if.len() <= 15 && b_if.len() <= 15,
            "interface names ≤ 15 chars"
        );
        a.ip(&[
            "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
        ]);
        a.ip(&["link", "set", a_if, "up"]);
        b.ip(&["link", "set", b_if, "up"]);
        self.links.push((a.clone(), a_if.to_string()));
        self.links.push((b.clone(), b_if.to_string()));
    }

    /// Adds `addr/prefix` (v4 or v6; v6 without duplicate address detection).
    pub fn addr(&mut self, ns: &Netns, iface: &str, cidr: &str) {
        if cidr.contains(':') {
            ns.ip(&["-6", "addr", "add", cidr, "dev", iface, "nodad"]);
        } else {
            ns.ip(&["addr", "add", cidr, "dev", iface]);
        }
    }

    /// Default routes (v4 and v6) via the given gateway addresses.
    pub fn default_via(&mut self, ns: &Netns, gw4: Ipv4Addr, gw6: Ipv6Addr) {
        ns.ip(&["route", "add", "default", "via", &gw4.to_string()]);
        ns.ip(&["-6", "route", "add", "default", "via", &gw6.to_string()]);
    }

    /// Enables IPv4 and IPv6 forwarding in `ns`.
    pub fn forwarding(&mut self, ns: &Netns) {
        ns.sysctl("net.ipv4.ip_forward", "1");
        ns.sysctl("net.ipv6.conf.all.forwarding", "1");
    }

    /// Hands the namespaces over to a [`Topology`] that deletes them.
    pub fn finish(mut self, client: Host, server: Host, router: Option<Router>) -> Topology {
        Topology {
            id: self.id,
            namespaces: std::mem::take(&mut self.namespaces),
            links: std::mem::take(&mut self.links),
            client,
            server,
            router,
        }
    }
}

impl Topology {
    /// Starts a custom topology (removing stale namespaces of crashed runs
    /// first).
    pub fn builder() -> Builder {
        cleanup_stale();
        Builder {
            id: COUNTER.fetch_add(1, Ordering::Relaxed),
            namespaces: Vec::new(),
            links: Vec::new(),
        }
    }

    /// client (`eth0`, 192.0.2.1/24, 2001:db8:1::1/64) ⟷ server (`eth0`,
    /// 192.0.2.2/24, 2001:db8:1::2/64), one veth pair, one subnet.
    pub fn two_hosts() -> Topology {
        let mut b = Self::builder();
        let c = b.add_ns("c");
        let s = b.add_ns("s");
        b.veth(&c, "eth0", &s, "eth0");
        b.addr(&c, "eth0", "192.0.2.1/24");
        b.addr(&c, "eth0", "2001:db8:1::1/64");
        b.addr(&s, "eth0", "192.0.2.2/24");
        b.addr(&s, "eth0", "2001:db8:1::2/64");
        let client = Host {
            ns: c,
            iface: "eth0".into(),
            addr4: Ipv4Addr::new(192, 0, 2, 1),
            addr6: "2001:db8:1::1".parse().unwrap(),
        };
        let server = Host {
            ns: s,
            iface: "eth0".into(),
            addr4: Ipv4Addr::new(192, 0, 2, 2),
            addr6: "2001:db8:1::2".parse().unwrap(),
        };
        b.finish(client, server, None)
    }

    /// client (`eth0`, 192.0.2.2/24, 2001:db8:1::2/64)
    /// ⟷ (`eth-c`, 192.0.2.1, 2001:db8:1::1) router (`eth-s`, 198.51.100.1,
    /// 2001:db8:2::1) ⟷ server (`eth0`, 198.51.100.2/24, 2001:db8:2::2/64).
    /// The router forwards; end hosts route by default through it.
    pub fn client_router_server() -> Topology {
        let mut b = Self::builder();
        let c = b.add_ns("c");
        let r = b.add_ns("r");
        let s = b.add_ns("s");
        b.veth(&c, "eth0", &r, "eth-c");
        b.veth(&r, "eth-s", &s, "eth0");
        b.addr(&c, "eth0", "192.0.2.2/24");
        b.addr(&c, "eth0", "2001:db8:1::2/64");
        b.addr(&r, "eth-c", "192.0.2.1/24");
        b.addr(&r, "eth-c", "2001:db8:1::1/64");
        b.addr(&r, "eth-s", "198.51.100.1/24");
        b.addr(&r, "eth-s", "2001:db8:2::1/64");
        b.addr(&s, "eth0", "198.51.100.2/24");
        b.addr(&s, "eth0", "2001:db8:2::2/64");
        b.forwarding(&r);
        let (r4c, r6c) = (
            Ipv4Addr::new(192, 0, 2, 1),
            "2001:db8:1::1".parse().unwrap(),
        );
        let (r4s, r6s) = (
            Ipv4Addr::new(198, 51, 100, 1),
            "2001:db8:2::1".parse().unwrap(),
        );
        b.default_via(&c, r4c, r6c);
        b.default_via(&s, r4s, r6s);
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
        b.finish(client, server, Some(router))
    }

    /// The router; panics for topologies without one.
    pub fn router(&self) -> &Router {
        self.router.as_ref().expect("this topology has no router")
    }

    /// Every namespace of the topology.
    pub fn namespaces(&self) -> &[Netns] {
        &self.namespaces
    }

    /// Every veth end: (namespace, interface).
    pub fn links(&self) -> &[(Netns, String)] {
        &self.links
    }

    /// Makes every veth end send wire-sized frames (no 64 KiB GSO
    /// super-frames; see [`Netns::wire_sized_frames`]), so that captures see
    /// one frame per MSS like on a real wire. Without this, veth passes
    /// GSO frames of up to 64 KiB through unsegmented.
    pub fn wire_sized_frames(&self) {
        for (ns, iface) in &self.links {
            ns.wire_sized_frames(iface);
        }
    }

    /// The topology's number, unique in this process.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        teardown(&mut self.namespaces);
    }
}

/// Polls until a TCP connection from `ns` to `addr:port` succeeds (bash's
/// `/dev/tcp`), for at most `timeout`. Returns whether it did.
pub fn wait_for_tcp(ns: &Netns, addr: IpAddr, port: u16, timeout: Duration) -> bool {
    let script = format!("exec 3<>/dev/tcp/{addr}/{port}");
    super::poll(timeout, Duration::from_millis(50), || {
        let out = ns.exec_timeout("bash", &["-c", &script], Duration::from_secs(2));
        out.status.success().then_some(())
    })
    .is_some()
}

/// A child process that is killed (SIGKILL) and reaped when dropped. Its
/// stdout and stderr go to a log file, shown by [`Guarded::log`].
#[derive(Debug)]
pub struct Guarded {
    child: Option<Child>,
    label: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    status: Option<ExitStatus>,
}

impl Guarded {
    /// Spawns `cmd` (stdin closed, stdout+stderr to a log file).
    pub fn spawn(mut cmd: Command, label: &str) -> Guarded {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("output.log");
        let f = std::fs::File::create(&log).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup log"))
            .stderr(f);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {label} ({cmd:?}): {e}"));
        Guarded {
            child: Some(child),
            label: label.to_string(),
            log,
            _dir: dir,
            status: None,
        }
    }

    /// Wraps a child spawned by the caller (its output is the caller's).
    pub fn adopt(child: Child, label: &str) -> Guarded {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("output.log");
        Guarded {
            child: Some(child),
            label: label.to_string(),
            log,
            _dir: dir,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// What the process wrote so far (empty for adopted children).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`) unless the process was reaped.
    pub fn signal(&self, sig: i32) {
        if let (Some(c), None) = (&self.child, self.status) {
            // SAFETY: plain kill(2) on our own, not yet reaped, child.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// The exit status if it has exited (non-blocking).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(c) = self.child.as_mut() {
                self.status = c.try_wait().ok().flatten();
            }
        }
        self.status
    }

    /// Waits at most `timeout` for the exit; `None` if still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        super::poll(timeout, Duration::from_millis(10), || self.try_status())
    }

    /// Kills (SIGKILL) and reaps the process.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            self.status = c.wait().ok();
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}
