//! The container image: builds deploy/docker/Dockerfile with podman from
//! the repository's tracked files, then runs the image with runc the way
//! the Dockerfile's header tells operators to (`--cap-drop ALL --cap-add
//! NET_RAW --read-only`, an event volume, no_new_privs) inside a network
//! namespace, and checks that it captures, drops its last capability,
//! detects a forged DNS answer, writes the event to the volume and stops
//! cleanly on SIGTERM.
//!
//! runc is driven directly with an OCI spec (podman's own `run` cannot set
//! resource limits in this workplace's sandbox); the spec says exactly what
//! `podman run` would: capabilities, read-only root, the volume.
//!
//! Needs root, podman, runc, dig, python3 and the two base images locally
//! (`rust:1.89-slim-bookworm` and `gcr.io/distroless/cc-debian12`: pulled,
//! or made offline by deploy/docker/standin-bases.sh); skipped otherwise.
//! The build compiles tamperwatch in release mode (about two minutes here).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::Topology;

const BASES: &[&str] = &[
    "docker.io/library/rust:1.89-slim-bookworm",
    "gcr.io/distroless/cc-debian12:latest",
];

fn podman() -> Command {
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
    c
}

fn prerequisites() -> bool {
    if !support::require_root_and(&["podman", "runc", "dig", "python3", "git"]) {
        return false;
    }
    for b in BASES {
        let ok = podman()
            .args(["image", "exists", b])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: base image {b} not present (deploy/docker/standin-bases.sh makes stand-ins)");
            return false;
        }
    }
    true
}

fn ok(c: &mut Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn image_builds_and_runs_with_only_net_raw() {
    if !prerequisites() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    let ctx = work.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    // the build context: the tracked files (no target/ or captures)
    let archive = work.path().join("src.tar");
    ok(
        Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["archive", "--format=tar", "-o"])
            .arg(&archive)
            .arg("HEAD"),
        "git archive",
    );
    ok(
        Command::new("tar")
            .arg("-C")
            .arg(&ctx)
            .arg("-xf")
            .arg(&archive),
        "tar",
    );
    let tag = format!("localhost/tamperwatch-test:{}", std::process::id());
    let t0 = std::time::Instant::now();
    ok(
        podman()
            .args([
                "build",
                "-q",
                "--network",
                "host",
                "-f",
                "deploy/docker/Dockerfile",
                "-t",
                &tag,
                ".",
            ])
            .current_dir(&ctx),
        "podman build",
    );
    let size = ok(
        podman().args(["image", "inspect", "--format", "{{.Size}}", &tag]),
        "inspect",
    );
    let size: f64 = size.trim().parse().unwrap_or(0.0);
    eprintln!("image built in {:?}: {:.1} MB", t0.elapsed(), size / 1e6);
    assert!(size > 0.0 && size < 40e6, "runtime image too large: {size}");

    // the image's file system, as a runc bundle
    let bundle = work.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    let events = work.path().join("events");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::create_dir_all(&events).unwrap();
    let cid = ok(podman().args(["create", &tag]), "podman create");
    let cid = cid.trim();
    let tar = work.path().join("rootfs.tar");
    ok(
        podman().args(["export", "-o"]).arg(&tar).arg(cid),
        "podman export",
    );
    ok(podman().args(["rm", cid]), "podman rm");
    ok(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-xf")
            .arg(&tar),
        "tar",
    );
    assert!(
        !rootfs.join("bin/sh").exists(),
        "the runtime image has no shell"
    );

    let topo = Topology::two_hosts();
    let _dns = support::dns::forging_responder(&topo);
    let ns_path = format!("/run/netns/{}", topo.client.ns.name());
    ok(
        Command::new("runc").arg("spec").current_dir(&bundle),
        "runc spec",
    );
    let spec_path = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    let caps = serde_json::json!(["CAP_NET_RAW"]);
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!([
        "/usr/bin/tamperwatch",
        "run",
        "-c",
        "/etc/tamperwatch/tamperwatch.toml",
        "-i",
        topo.client.iface
    ]);
    spec["process"]["env"] = serde_json::json!(["PATH=/usr/bin", "TAMPERWATCH_LOG=info"]);
    spec["process"]["capabilities"] = serde_json::json!({
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": [], "ambient": []
    });
    spec["process"]["noNewPrivileges"] = true.into();
    if let Some(p) = spec["process"].as_object_mut() {
        p.remove("rlimits");
    }
    spec["root"]["readonly"] = true.into();
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "destination": "/var/lib/tamperwatch", "type": "bind",
            "source": events.display().to_string(), "options": ["rbind", "rw"]
        }));
    let linux = spec["linux"].as_object_mut().unwrap();
    linux.remove("resources");
    let ns = linux["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "network");
    ns.push(serde_json::json!({"type": "network", "path": ns_path}));
    std::fs::write(&spec_path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();

    let id = format!("tw-test-{}", std::process::id());
    let log = work.path().join("container.log");
    let logf = std::fs::File::create(&log).unwrap();
    let mut c = Command::new("runc");
    c.args(["--systemd-cgroup=false", "run", &id])
        .current_dir(&bundle)
        .stdout(logf.try_clone().unwrap())
        .stderr(logf);
    let mut child = c.spawn().unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let up = support::poll(Duration::from_secs(20), Duration::from_millis(100), || {
        read_log().contains("tamperwatch running").then_some(())
    });
    assert!(up.is_some(), "the container did not start:\n{}", read_log());

    // its process: uid 0 inside, but no capability left, no_new_privs
    let state = ok(Command::new("runc").args(["state", &id]), "runc state");
    let pid = serde_json::from_str::<serde_json::Value>(&state).unwrap()["pid"]
        .as_u64()
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |f: &str| {
        status
            .lines()
            .find(|l| l.starts_with(f))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("CapEff:"), "0000000000000000", "{status}");
    assert_eq!(field("CapPrm:"), "0000000000000000", "{status}");
    assert_eq!(
        field("CapBnd:"),
        "0000000000002000",
        "only CAP_NET_RAW bounded: {status}"
    );
    assert_eq!(field("NoNewPrivs:"), "1");

    // a forged DNS answer: one event in the volume
    let dig = topo.client.ns.exec_timeout(
        "dig",
        &[
            &format!("@{}", topo.server.addr4),
            "blocked.example",
            "A",
            "+short",
            "+tries=1",
            "+time=2",
        ],
        Duration::from_secs(5),
    );
    assert!(String::from_utf8_lossy(&dig.stdout).contains("10.10.34.34"));
    // DNS events come when the query's flow ends (udp_timeout, 30 s by
    // default); SIGTERM ends every flow and flushes
    std::thread::sleep(Duration::from_millis(500));
    ok(
        Command::new("runc").args(["kill", &id, "TERM"]),
        "runc kill",
    );
    let (st, timed_out) = support::wait_bounded(&mut child, Duration::from_secs(15));
    assert!(!timed_out, "no exit after SIGTERM:\n{}", read_log());
    let _ = Command::new("runc")
        .args(["delete", "--force", &id])
        .status();
    let _ = podman()
        .args(["rmi", &tag])
        .stdout(std::process::Stdio::null())
        .status();
    assert!(st.success(), "{st:?}\n{}", read_log());
    let text = std::fs::read_to_string(events.join("events.jsonl")).unwrap_or_default();
    eprintln!("container log:\n{}", read_log());
    assert_eq!(text.lines().count(), 1, "{text}");
    let e: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(e["signature"], "dns_injection");
}
