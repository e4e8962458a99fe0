//! Live: a request that goes unanswered while the capture's link goes down
//! is not a `blackhole` event (the silence is explained), while the same
//! request dropped on a working link is.
//!
//! client — router — server in network namespaces; nftables in the router
//! drops the client's HTTP request (every packet from the client to port 80
//! longer than 100 bytes: the handshake passes, the request and its
//! retransmissions do not), so the server completes the handshake and then
//! hears nothing: the trap in `docs/signatures/blackhole.md` that a replay
//! reports at 0.6. tamperwatch captures on the client's interface.
//!
//! - the control: the client retransmits for 5 s and resets; one
//!   `blackhole` event (stage `http_request`);
//! - the Wi-Fi drop: the same (to the server's second address, so that it
//!   is not residual blocking after the control), but 3.6 s after the
//!   request the router's end
//!   of the client's veth goes down, so the client's interface loses its
//!   carrier (its later packets, the reset among them, are never sent nor
//!   captured) and stays so until the flow has timed out: no event, and
//!   `tamperwatch_link_down_excused_total{signature="blackhole"}` is 1.
//!   (The build before reported it: `request_retransmitted` and
//!   `server_silent_after_request`, the client's retransmissions up to 3 s
//!   captured.)
//!
//! Needs root (network namespaces), nft and python3; skipped otherwise.
//! About 15 s. Everything (namespaces, processes) is torn down by guards,
//! also when an assertion fails.

mod support;

use std::time::{Duration, Instant};
use support::{metric_value, TamperwatchProc, Topology, TwOptions};

/// A server that accepts and reads forever, answering nothing.
const SERVER: &str = r#"
import socket, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80))
s.listen(16)
def serve(c):
    while c.recv(65536):
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A client: from port argv[2], connects to argv[1]:80, sends an HTTP
/// request, waits argv[3] seconds, then resets the connection.
const CLIENT: &str = r#"
import socket, struct, sys, time
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.bind(("0.0.0.0", int(sys.argv[2])))
c.settimeout(5)
c.connect((sys.argv[1], 80))
c.send(b"GET /index.html HTTP/1.1\r\nHost: news.example\r\nUser-Agent: link-down-test\r\nAccept: */*\r\nX-Padding: " + b"p" * 120 + b"\r\n\r\n")
print("sent", flush=True)
time.sleep(float(sys.argv[3]))
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
"#;

const CONTROL_PORT: u16 = 41001;
/// The dropped request's server (the server's second address).
const SERVER_2: &str = "198.51.100.3";
const DROPPED_PORT: u16 = 41002;

#[test]
fn a_request_silenced_by_a_link_drop_is_not_a_blackhole() {
    if !support::require_root_and(&["nft", "python3"]) {
        return;
    }
    let t0 = Instant::now();
    let note = |s: &str| eprintln!("[link_down {:>6.2}s] {s}", t0.elapsed().as_secs_f64());
    let topo = Topology::client_router_server();
    let router = &topo.router().ns;
    router.nft(
        "table inet linkdown {\n chain drop_requests {\n  type filter hook forward priority 0;\n  \
         ip saddr 192.0.2.2 tcp dport 80 ip length > 100 drop\n }\n}\n",
    );
    // a second address for the dropped request: a failure on the control's
    // (client, server, port) would be residual blocking
    topo.server
        .ns
        .ip(&["addr", "add", "198.51.100.3/24", "dev", &topo.server.iface]);
    let _server = topo.server.ns.spawn("python3", &["-c", SERVER]);
    assert!(
        support::wait_for_tcp(
            &topo.client.ns,
            topo.server.addr4.into(),
            80,
            Duration::from_secs(10)
        ),
        "server not listening"
    );
    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.overrides = "[flows]\ntcp_closed_linger = 1\ntcp_established_timeout = 3\n\
                      tcp_closing_timeout = 3\ntcp_handshake_timeout = 3\n\
                      tcp_unconfirmed_timeout = 3\nudp_timeout = 3\n"
        .into();
    let mut tw = TamperwatchProc::start(&topo.client.ns, &opts);
    let client = |server: &str, port: u16, wait: &str| {
        let mut c = topo.client.ns.command("python3");
        c.args(["-c", CLIENT, server, &port.to_string(), wait]);
        support::netns::Guarded::spawn(c, &format!("client:{port}"))
    };

    // the control: dropped on a working link
    note("control: request dropped in the router, link up");
    let mut a = client(&topo.server.addr4.to_string(), CONTROL_PORT, "5");
    a.wait_timeout(Duration::from_secs(15));
    let (text, ok) = tw.wait_until(Duration::from_secs(10), |m| {
        metric_value(m, "tamperwatch_events_total", &[("signature", "blackhole")]) == Some(1.0)
    });
    let bh = tw.events_of("blackhole");
    assert!(ok, "control: no blackhole event\n{bh:?}\n{text}");
    assert_eq!(bh.len(), 1, "{bh:?}");
    assert_eq!(bh[0]["flow"]["client_port"], CONTROL_PORT, "{:?}", bh[0]);
    assert_eq!(bh[0]["evidence"]["stage"], "http_request", "{:?}", bh[0]);
    note(&format!("control: {}", bh[0]));

    // the Wi-Fi drop: the carrier goes 3.6 s after the request
    note("dropped: request dropped in the router, then the carrier lost");
    let mut b = client(SERVER_2, DROPPED_PORT, "5");
    std::thread::sleep(Duration::from_millis(3600));
    router.ip(&["link", "set", &topo.router().client_iface, "down"]);
    note("carrier lost");
    let (text, ok) = tw.wait_until(Duration::from_secs(15), |m| {
        metric_value(
            m,
            "tamperwatch_link_down_excused_total",
            &[("signature", "blackhole")],
        ) == Some(1.0)
    });
    router.ip(&["link", "set", &topo.router().client_iface, "up"]);
    note("carrier back");
    b.wait_timeout(Duration::from_secs(10));
    let bh = tw.events_of("blackhole");
    assert!(
        ok,
        "the dropped request was not excused\n{bh:?}\n{text}\n{}",
        tw.stderr()
    );
    assert_eq!(
        metric_value(&text, "tamperwatch_capture_up", &[("interface", "eth0")]),
        Some(0.0),
        "the capture saw its interface down"
    );
    assert_eq!(bh.len(), 1, "only the control: {bh:?}");
    assert_eq!(
        metric_value(
            &text,
            "tamperwatch_events_total",
            &[("signature", "blackhole")]
        ),
        Some(1.0)
    );
    assert!(tw.stop().status.success());
    note("done");
}
