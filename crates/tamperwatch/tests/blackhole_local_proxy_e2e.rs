//! Live: a dead HTTPS server behind a TCP proxy in the client's router is
//! not a `blackhole` event (the fifth red-team review's finding, session 20;
//! `docs/signatures/blackhole.md`, traps).
//!
//! client — router — wire (20 ms each way) — server in network namespaces.
//! The router sends the client's TCP/443 to a local nginx `stream` proxy
//! (nftables REDIRECT) that picks the upstream by the ClientHello's SNI
//! (`ssl_preread`), the shape of router "transparent proxy" setups, SNI
//! routers and TLS-inspecting gateways: `allowed.example` goes to the
//! server's nginx, `down.example` to a second server address whose packets
//! the server drops (a dead origin). The proxy completes the client's
//! handshake and acknowledges its ClientHello itself, then waits for the
//! dead origin; curl gives up after 6 s: a ClientHello acknowledged and
//! never answered, which the build before reported at 0.7
//! (`acknowledged_never_answered`). Now: no event, counted in
//! `tamperwatch_blackhole_first_hop_handshake_total`; the fetches through
//! the proxy to the live server work and raise nothing either. (The far
//! server's own dropped ServerHello stays reported: `http_blackhole_e2e`.)
//!
//! Needs root, nginx with its stream module (Debian: libnginx-mod-stream),
//! nft and curl; skipped otherwise. About 20 s.

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::censor::{self, curl, TlsWeb, ALLOWED};
use support::{metric_value, Guarded, TamperwatchProc, TwOptions};

const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
/// The dead origin: a second address of the server, whose packets it drops.
const DEAD: &str = "198.51.100.3";

#[test]
fn a_dead_origin_behind_a_local_tls_proxy_is_not_a_blackhole() {
    if !support::require_root_and(&["nginx", "nft", "curl"]) {
        return;
    }
    if !std::path::Path::new(STREAM_MODULE).exists() {
        eprintln!("skipped: no nginx stream module at {STREAM_MODULE} (libnginx-mod-stream)");
        return;
    }
    let (topo, _wire) = censor::client_router_far_server(Duration::from_millis(20));
    let server = &topo.server;
    let _web = TlsWeb::start(&server.ns, &[IpAddr::V4(server.addr4)]);
    server
        .ns
        .ip(&["addr", "add", &format!("{DEAD}/24"), "dev", &server.iface]);
    server.ns.nft(&format!(
        "table ip dead {{\n  chain input {{\n    type filter hook input priority 0;\n    ip daddr {DEAD} drop\n  }}\n}}\n"
    ));

    // the proxy in the router
    let router = topo.router().ns.clone();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    let d = dir.path().display();
    std::fs::write(
        &conf,
        format!(
            "load_module {STREAM_MODULE};\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             daemon off;\n\
             events {{}}\n\
             stream {{\n\
               map $ssl_preread_server_name $up {{\n\
                 down.example {DEAD}:443;\n\
                 default {}:443;\n\
               }}\n\
               server {{\n\
                 listen 8443;\n\
                 ssl_preread on;\n\
                 proxy_pass $up;\n\
                 proxy_connect_timeout 15s;\n\
               }}\n\
             }}\n",
            server.addr4
        ),
    )
    .unwrap();
    let _proxy: Guarded = router.spawn("nginx", &["-c", conf.to_str().unwrap()]);
    let listening = support::poll(Duration::from_secs(10), Duration::from_millis(100), || {
        let out = router.exec("ss", &["-Hltn"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(":8443")
            .then_some(())
    });
    assert!(
        listening.is_some(),
        "the proxy did not start: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    router.nft(&format!(
        "table ip proxy {{\n  chain pre {{\n    type nat hook prerouting priority -100;\n    iifname \"{}\" tcp dport 443 redirect to :8443\n  }}\n}}\n",
        topo.router().client_iface
    ));

    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    // (the proxy keeps its side open until its upstream gives up: the
    // flows end by their closing timeout)
    opts.overrides = "[flows]\ntcp_closed_linger = 1\ntcp_closing_timeout = 3\n".into();
    let tw = TamperwatchProc::start(&topo.client.ns, &opts);

    let c = &topo.client.ns;
    let live = IpAddr::V4(server.addr4);
    let dead: IpAddr = DEAD.parse().unwrap();
    for _ in 0..3 {
        let f = curl(
            c,
            "https",
            ALLOWED,
            live,
            0,
            "/index.html",
            Duration::from_secs(5),
        );
        assert!(f.ok(), "through the proxy: {f:?}");
    }
    let mut hung = vec![];
    for _ in 0..2 {
        let f = curl(
            c,
            "https",
            "down.example",
            dead,
            0,
            "/",
            Duration::from_secs(6),
        );
        assert!(
            !f.ok() && f.client_port != 0,
            "the dead origin answered? {f:?}"
        );
        hung.push(f.client_port);
    }
    let f = curl(
        c,
        "https",
        ALLOWED,
        live,
        0,
        "/index.html",
        Duration::from_secs(5),
    );
    assert!(f.ok(), "through the proxy: {f:?}");

    let (text, ok) = tw.wait_until(Duration::from_secs(20), |t| {
        metric_value(t, "tamperwatch_blackhole_first_hop_handshake_total", &[])
            .is_some_and(|v| v >= 2.0)
    });
    assert!(
        ok,
        "the hung connections {hung:?} were not counted; events {:?}\n{}\n{}",
        tw.events(),
        text.lines()
            .filter(|l| l.starts_with("tamperwatch_flows") || l.contains("first_hop"))
            .collect::<Vec<_>>()
            .join("\n"),
        tw.stderr()
    );
    let bh = tw.events_of("blackhole");
    assert!(bh.is_empty(), "{bh:?}");
    assert!(tw.events().is_empty(), "{:?}", tw.events());
    drop(text);
}
