//! Live: an intercepting Squid in the client's router that denies a site
//! by an ACL answers with its own access-denied page over a connection it
//! terminated itself. Every packet the client sees is the proxy's, so
//! nothing disagrees; the page is known by Squid's `X-Squid-Error:
//! ERR_ACCESS_DENIED` header (built-in fingerprint
//! `tw.squid_access_denied`), and its SYN/ACK and page came with an
//! initial TTL: `origin: first_hop` (the fifth red-team review's miss,
//! session 21; `docs/signatures/http_injection.md`).
//!
//! client — router (squid, nftables REDIRECT of port 80) — wire (20 ms
//! each way) — server (nginx) in network namespaces. The allowed site's
//! pages and its own 404 pass through the same proxy and raise nothing.
//!
//! Needs root, squid, nginx, nft and curl; skipped otherwise. About 20 s.

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::censor::{self, curl, ALLOWED, BLOCKED};
use support::web::WebServer;
use support::{Guarded, TamperwatchProc, TwOptions};

#[test]
fn an_intercepting_squids_access_denied_page_is_reported() {
    if !support::require_root_and(&["squid", "nginx", "nft", "curl"]) {
        return;
    }
    let (topo, _wire) = censor::client_router_far_server(Duration::from_millis(20));
    let server = &topo.server;
    let live = IpAddr::V4(server.addr4);
    let _web = WebServer::start(&server.ns, &[live]);

    // the proxy in the router
    let router = topo.router().ns.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // (names from a hosts file: squid looks the intercepted Host up)
    std::fs::write(
        dir.path().join("hosts"),
        format!("{live} {ALLOWED} {BLOCKED}\n"),
    )
    .unwrap();
    let conf = dir.path().join("squid.conf");
    std::fs::write(
        &conf,
        format!(
            "http_port 3128\n\
             http_port 3129 intercept\n\
             acl blocked dstdomain {BLOCKED}\n\
             http_access deny blocked\n\
             http_access allow all\n\
             cache deny all\n\
             hosts_file {d}/hosts\n\
             dns_nameservers 127.0.0.1\n\
             host_verify_strict off\n\
             client_dst_passthru on\n\
             pid_filename {d}/squid.pid\n\
             access_log {d}/access.log\n\
             cache_log {d}/cache.log\n\
             cache_effective_user proxy\n\
             coredump_dir {d}\n"
        ),
    )
    .unwrap();
    let _proxy: Guarded = router.spawn("squid", &["-N", "-f", conf.to_str().unwrap()]);
    let listening = support::poll(Duration::from_secs(20), Duration::from_millis(200), || {
        let out = router.exec("ss", &["-Hltn"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(":3129")
            .then_some(())
    });
    assert!(
        listening.is_some(),
        "squid did not start: {}",
        std::fs::read_to_string(dir.path().join("cache.log")).unwrap_or_default()
    );
    router.nft(&format!(
        "table ip proxy {{\n  chain pre {{\n    type nat hook prerouting priority -100;\n    iifname \"{}\" tcp dport 80 redirect to :3129\n  }}\n}}\n",
        topo.router().client_iface
    ));

    let tw = TamperwatchProc::start(&topo.client.ns, &TwOptions::on(&topo.client.iface, "ring"));
    let c = &topo.client.ns;
    let t = Duration::from_secs(5);
    let log = || std::fs::read_to_string(dir.path().join("access.log")).unwrap_or_default();
    for _ in 0..2 {
        let f = curl(c, "http", ALLOWED, live, 0, "/index.html", t);
        assert!(f.ok(), "through the proxy: {f:?}\n{}", log());
    }
    let f = curl(c, "http", ALLOWED, live, 0, "/nothing.html", t);
    assert_eq!(f.code, 404, "the origin's own 404: {f:?}");
    let mut denied = vec![];
    for path in ["/", "/some/page"] {
        let f = curl(c, "http", BLOCKED, live, 0, path, t);
        assert_eq!(f.code, 403, "squid's denial: {f:?}\n{}", log());
        denied.push(u64::from(f.client_port));
    }
    let f = curl(c, "http", ALLOWED, live, 0, "/small.txt", t);
    assert!(f.ok(), "through the proxy: {f:?}");

    let (_, ok) = tw.wait_until(Duration::from_secs(20), |_| {
        tw.events_of("http_injection").len() >= 2
    });
    assert!(ok, "events {:?}\n{}", tw.events(), tw.stderr());
    let ev = tw.events_of("http_injection");
    assert_eq!(ev.len(), 2, "{ev:?}");
    for e in &ev {
        let port = e["flow"]["client_port"].as_u64().unwrap();
        assert!(denied.contains(&port), "not a denied fetch: {e}");
        assert_eq!(e["target"], BLOCKED, "{e}");
        let x = &e["evidence"];
        assert_eq!(x["fingerprint"]["name"], "tw.squid_access_denied", "{e}");
        assert_eq!(x["origin"], "first_hop", "{e}");
        assert_eq!(x["response"]["status"], 403, "{e}");
        assert_eq!(e["confidence"], 0.6, "{e}");
    }
    // nothing else: the allowed pages and the origin's 404 are clean
    assert_eq!(tw.events().len(), 2, "{:?}", tw.events());
}
