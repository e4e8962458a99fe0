//! The metrics endpoint behind TLS and basic authentication, configured with
//! a Prometheus exporter-toolkit web configuration file
//! (`tamperwatch run --web.config.file`), tested with real clients: curl and
//! a real Prometheus (Debian's `prometheus`) scraping over HTTPS with
//! `tls_config` and `basic_auth`.
//!
//! The daemon runs as root in a network namespace and drops to `nobody`
//! after start-up; the key file is root's with mode 0600, so the test also
//! shows that the files are read before the privilege drop. The bcrypt hash
//! is written as htpasswd and Go's bcrypt write it (`$2y$`).
//!
//! Needs root, curl, openssl and prometheus; skipped otherwise.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use support::{poll, Netns, TamperwatchProc, Topology, TwOptions};

const USER: &str = "prometheus";
const PASSWORD: &str = "correct horse battery staple";

fn prerequisites() -> bool {
    support::require_root_and(&["curl", "openssl", "prometheus"])
}

/// A self-signed certificate for 127.0.0.1 (openssl), key mode 0600.
fn certificate(dir: &Path) {
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=tamperwatch-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("tls.key"))
        .arg("-out")
        .arg(dir.join("tls.crt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(dir.join("tls.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// curl in `ns`: (HTTP status, headers, body, exit code).
fn curl(ns: &Netns, args: &[&str]) -> (u16, String, String, i32) {
    let mut a = vec![
        "-s",
        "--max-time",
        "5",
        "-D",
        "/dev/stderr",
        "-w",
        "\n%{http_code}",
    ];
    a.extend_from_slice(args);
    let out = ns.exec_timeout("curl", &a, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    (
        code.trim().parse().unwrap_or(0),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        body.to_string(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn tls_and_basic_auth_with_real_clients() {
    if !prerequisites() {
        return;
    }
    let topo = Topology::two_hosts();
    let ns = topo.client.ns.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    certificate(d);
    let hash = bcrypt::hash(PASSWORD, 10)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    // relative file names are relative to the web configuration file
    std::fs::write(
        d.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  min_version: TLS12\n\
             basic_auth_users:\n  {USER}: '{hash}'\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    )
    .unwrap();
    // tamperwatch (nobody after the drop) must not need to read anything later
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();

    // check-config validates the file and what it names
    let out = std::process::Command::new(support::daemon::binary())
        .args(["check-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let bad = d.join("bad.yml");
    std::fs::write(&bad, "basic_auth_users:\n  alice: plaintext\n").unwrap();
    let cfg = d.join("tw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[metrics]\nweb_config_file = {:?}\n",
            bad.display().to_string()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(support::daemon::binary())
        .args(["check-config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a bcrypt hash"), "{err}");

    let mut opts = TwOptions::on(&topo.client.iface, "ring");
    opts.args = vec![
        "--web.config.file".into(),
        d.join("web.yml").display().to_string(),
    ];
    let mut tw = TamperwatchProc::spawn(&ns, &opts);
    let ca = d.join("tls.crt").display().to_string();
    let url = "https://127.0.0.1:9874/metrics";
    let auth = format!("{USER}:{PASSWORD}");
    let up = poll(Duration::from_secs(15), Duration::from_millis(100), || {
        if let Some(st) = tw.try_status() {
            panic!("tamperwatch exited ({st}):\n{}", tw.stderr());
        }
        let (code, _, _, _) = curl(&ns, &["--cacert", &ca, "-u", &auth, url]);
        (code == 200).then_some(())
    });
    assert!(up.is_some(), "no HTTPS answer:\n{}", tw.stderr());

    // the right user: the exposition, with the configured header
    let (code, headers, body, _) = curl(&ns, &["--cacert", &ca, "-u", &auth, url]);
    assert_eq!(code, 200);
    assert!(body.contains("tamperwatch_packets_total"), "{body}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("x-frame-options: deny"),
        "{headers}"
    );
    // every path needs the user, /healthz too
    let (code, _, body, _) = curl(
        &ns,
        &[
            "--cacert",
            &ca,
            "-u",
            &auth,
            "https://127.0.0.1:9874/healthz",
        ],
    );
    assert_eq!((code, body.trim()), (200, "ok"));
    // a wrong password, an unknown user, no credentials: 401 with a challenge
    for args in [
        vec!["--cacert", &ca, "-u", "prometheus:wrong", url],
        vec![
            "--cacert",
            &ca,
            "-u",
            "mallory:correct horse battery staple",
            url,
        ],
        vec!["--cacert", &ca, url],
        vec!["--cacert", &ca, "https://127.0.0.1:9874/healthz"],
    ] {
        let (code, headers, body, _) = curl(&ns, &args);
        assert_eq!(code, 401, "{args:?}");
        assert!(
            headers
                .to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{headers}"
        );
        assert!(!body.contains("tamperwatch_"));
    }
    // plain HTTP to the TLS port gets nothing
    let (code, _, body, _) = curl(&ns, &["-u", &auth, "http://127.0.0.1:9874/metrics"]);
    assert_ne!(code, 200);
    assert!(!body.contains("tamperwatch_"));
    // a client that does not trust the certificate refuses it
    let (code, _, _, exit) = curl(&ns, &["-u", &auth, url]);
    assert_eq!((code, exit), (0, 60), "curl: certificate problem expected");
    // TLS 1.1 is refused (min_version TLS12)
    let (code, _, _, exit) = curl(
        &ns,
        &[
            "--cacert",
            &ca,
            "-u",
            &auth,
            "--tlsv1.1",
            "--tls-max",
            "1.1",
            url,
        ],
    );
    assert_eq!(code, 0);
    assert_ne!(exit, 0);

    // A real Prometheus scraping over HTTPS with basic auth; a second job
    // with a wrong password must fail.
    let pdir = tempfile::tempdir().unwrap();
    let pcfg = pdir.path().join("prometheus.yml");
    std::fs::write(
        &pcfg,
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n\
             - job_name: tamperwatch\n  scheme: https\n  tls_config:\n    ca_file: {ca}\n  basic_auth:\n    username: {USER}\n    password: '{PASSWORD}'\n  static_configs:\n  - targets: ['127.0.0.1:9874']\n\
             - job_name: wrong\n  scheme: https\n  tls_config:\n    ca_file: {ca}\n  basic_auth:\n    username: {USER}\n    password: wrong\n  static_configs:\n  - targets: ['127.0.0.1:9874']\n"
        ),
    )
    .unwrap();
    let mut c = ns.command("prometheus");
    c.arg(format!("--config.file={}", pcfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            pdir.path().join("data").display()
        ))
        .arg("--web.listen-address=127.0.0.1:9090")
        .arg("--log.level=warn");
    let mut prom = support::Guarded::spawn(c, "prometheus");
    let targets = poll(Duration::from_secs(40), Duration::from_millis(500), || {
        if let Some(st) = prom.try_status() {
            panic!("prometheus exited ({st}):\n{}", prom.log());
        }
        let (code, _, body, _) = curl(&ns, &["http://127.0.0.1:9090/api/v1/targets"]);
        if code != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let active = v["data"]["activeTargets"].as_array()?.clone();
        let health = |job: &str| {
            active.iter().find(|t| t["labels"]["job"] == job).map(|t| {
                (
                    t["health"].as_str().unwrap_or("").to_string(),
                    t["lastError"].as_str().unwrap_or("").to_string(),
                )
            })
        };
        let (ok, bad) = (health("tamperwatch")?, health("wrong")?);
        (ok.0 == "up" && bad.0 == "down").then_some((ok, bad))
    });
    let Some((ok, bad)) = targets else {
        panic!("prometheus targets never settled:\n{}", prom.log());
    };
    eprintln!("prometheus: tamperwatch job {ok:?}, wrong-password job {bad:?}");
    assert!(bad.1.contains("401"), "{bad:?}");
    let (_, _, body, _) = curl(
        &ns,
        &["http://127.0.0.1:9090/api/v1/query?query=tamperwatch_workers%7Bjob%3D%22tamperwatch%22%7D"],
    );
    assert!(body.contains("\"value\""), "{body}");
    drop(prom);

    let stopped = tw.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("capabilities dropped"),
        "{}",
        stopped.stderr
    );
}
