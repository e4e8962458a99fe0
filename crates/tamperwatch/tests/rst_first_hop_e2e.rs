//! Live: the client's own router resetting a connection it lost track of
//! is a first-hop reset: reported and marked by default, only counted with
//! `rst_injection.local_resets = "count"`.
//!
//! client — router — wire (20 ms each way, `tw-wire`) — server in network
//! namespaces. The router forwards with an nftables firewall that answers
//! packets of connections it does not know with a reset (`ct state invalid
//! reject with tcp reset`, `nf_conntrack_tcp_loose = 0`) and forgets
//! established connections after 3 s of silence (`nf_conntrack_tcp_timeout_
//! established = 3`): the red-team finding of session 19 (documented in
//! `docs/signatures/rst_injection.md`, known false-positive risk), with an
//! idle timeout standing in for a reload or a reboot. The server (TTL 50,
//! 49 at the client) answers a keep-alive connection's first request; the
//! client is silent for 5 s and sends its second request, which the router
//! resets itself (TTL 64). Two daemons capture on the client's interface at
//! once, one with the default configuration and one with `local_resets =
//! "count"`. A second connection without the pause is answered (the router
//! works) and raises nothing.
//!
//! Needs root (network namespaces), nft and python3; skipped otherwise.
//! About 15 s. Everything is torn down by guards, also when an assertion
//! fails.

mod support;

use std::time::Duration;
use support::censor;
use support::{metric_value, TamperwatchProc, TwOptions};

/// A keep-alive HTTP/1.1 server on argv[1]:80: `/big` 30000 bytes, anything
/// else 3 bytes.
const SERVER: &str = r#"
import socket, sys, threading
def handle(c):
    buf = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            buf += d
            while b"\r\n\r\n" in buf:
                req, buf = buf.split(b"\r\n\r\n", 1)
                body = b"b" * 30000 if req.split(b" ")[1] == b"/big" else b"ok\n"
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 80))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// To argv[1]:80: `GET /big`, read it whole, sleep argv[2] seconds, `GET
/// /ok`. Prints "PORT answered" or "PORT reset" (or the error).
const CLIENT: &str = r#"
import socket, sys, time
c = socket.create_connection((sys.argv[1], 80), timeout=5)
port = c.getsockname()[1]
def get(path):
    c.sendall(b"GET %s HTTP/1.1\r\nHost: origin.example\r\n\r\n" % path)
get(b"/big")
got = b""
while len(got) < 30000 or b"\r\n\r\n" not in got:
    d = c.recv(65536)
    if not d:
        break
    got += d
time.sleep(float(sys.argv[2]))
try:
    get(b"/ok")
    d = c.recv(4096)
    print(port, "answered" if d.startswith(b"HTTP/1.1 200") else "closed", flush=True)
except ConnectionResetError:
    print(port, "reset", flush=True)
except Exception as e:
    print(port, "error", repr(e), flush=True)
c.close()
"#;

const FIREWALL: &str = "table inet fw {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid reject with tcp reset
  }
}
";

fn run_client(topo: &support::Topology, pause_s: &str) -> (u16, String) {
    let server = topo.server.addr4.to_string();
    let out = topo.client.ns.exec_timeout(
        "python3",
        &["-c", CLIENT, &server, pause_s],
        Duration::from_secs(20),
    );
    let text = support::check_output("client", &out);
    let mut it = text.split_whitespace();
    let port = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (port, it.collect::<Vec<_>>().join(" "))
}

#[test]
fn the_routers_own_reset_is_first_hop() {
    if !support::require_root_and(&["nft", "python3"]) {
        return;
    }
    let (topo, _wire) = censor::client_router_far_server(Duration::from_millis(20));
    let router = topo.router().ns.clone();
    // the firewall first: its `ct` rule starts connection tracking in the
    // namespace, which creates the sysctls below
    router.nft(FIREWALL);
    router.sysctl("net.netfilter.nf_conntrack_tcp_loose", "0");
    router.sysctl("net.netfilter.nf_conntrack_tcp_timeout_established", "3");
    let server = &topo.server;
    let _server = server
        .ns
        .spawn("python3", &["-c", SERVER, &server.addr4.to_string()]);
    let listening = support::poll(Duration::from_secs(10), Duration::from_millis(100), || {
        let out = server.ns.exec("ss", &["-Hltn"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("{}:80", server.addr4))
            .then_some(())
    });
    assert!(listening.is_some(), "server not listening");

    let linger = "[flows]\ntcp_closed_linger = 1\n";
    let mut report = TwOptions::on(&topo.client.iface, "ring");
    report.overrides = linger.into();
    let mut count = TwOptions::on(&topo.client.iface, "ring");
    count.listen = "127.0.0.1:9875".into();
    count.overrides = format!("{linger}[rst_injection]\nlocal_resets = \"count\"\n");
    let tw_report = TamperwatchProc::start(&topo.client.ns, &report);
    let tw_count = TamperwatchProc::start(&topo.client.ns, &count);

    // the router works: no pause, answered
    let (clean_port, what) = run_client(&topo, "0");
    assert_eq!(what, "answered", "the connection without a pause");
    // 5 s of silence: the router forgot the connection and resets the
    // second request itself
    let (port, what) = run_client(&topo, "5");
    assert_eq!(
        what, "reset",
        "setup: the router should have reset the request after the pause"
    );

    let settled = |tw: &TamperwatchProc, action: &str| {
        tw.wait_until(Duration::from_secs(15), |t| {
            metric_value(t, "tamperwatch_rst_first_hop_total", &[("action", action)])
                .is_some_and(|v| v >= 1.0)
        })
    };
    let (text, ok) = settled(&tw_report, "reported");
    assert!(
        ok,
        "default configuration: no first-hop reset reported; events {:?}\n{}",
        tw_report.events(),
        tw_report.stderr()
    );
    assert_eq!(
        metric_value(
            &text,
            "tamperwatch_rst_first_hop_total",
            &[("action", "counted")]
        ),
        Some(0.0)
    );
    let (text, ok) = settled(&tw_count, "counted");
    assert!(
        ok,
        "local_resets = count: nothing counted; events {:?}\n{}",
        tw_count.events(),
        tw_count.stderr()
    );
    assert_eq!(
        metric_value(
            &text,
            "tamperwatch_rst_first_hop_total",
            &[("action", "reported")]
        ),
        Some(0.0)
    );

    // the default: one event, for the paused connection, marked first_hop
    let ev = tw_report.events_of("rst_injection");
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0];
    assert_eq!(e["flow"]["client_port"], port, "{e}");
    assert_eq!(e["evidence"]["first_hop"], true, "{e}");
    assert_eq!(e["evidence"]["rst"]["ttl"], 64, "{e}");
    assert_eq!(e["evidence"]["ttl_server"], 49, "{e}");
    // count: no event at all
    let ev = tw_count.events_of("rst_injection");
    assert!(ev.is_empty(), "{ev:?}");
    for tw in [&tw_report, &tw_count] {
        assert!(
            tw.events()
                .iter()
                .all(|e| e["flow"]["client_port"] != clean_port),
            "an event for the clean connection: {:?}",
            tw.events()
        );
    }
    drop(tw_count);
    drop(tw_report);
}
