//! The minimum Rust version is honest: the workspace's `rust-version` is at
//! least every locked dependency's, and the Dockerfile builds with that
//! version. (Clippy's `incompatible_msrv` lint, on by default, keeps the
//! project's own code within it.)

use std::process::Command;

fn version(s: &str) -> Vec<u32> {
    s.split('.').filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn rust_version_covers_every_dependency_and_the_image() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = env!("CARGO_PKG_RUST_VERSION");
    assert!(!ours.is_empty(), "the workspace declares rust-version");
    let mut too_new = Vec::new();
    for p in m["packages"].as_array().unwrap() {
        if let Some(rv) = p["rust_version"].as_str() {
            if version(rv) > version(ours) {
                too_new.push(format!("{} {} needs {rv}", p["name"], p["version"]));
            }
        }
    }
    assert!(
        too_new.is_empty(),
        "rust-version {ours} is below: {too_new:?}"
    );
    let dockerfile = std::fs::read_to_string(root.join("deploy/docker/Dockerfile")).unwrap();
    let short: Vec<&str> = ours.split('.').take(2).collect();
    let want = format!("FROM rust:{}-slim-bookworm", short.join("."));
    assert!(
        dockerfile.contains(&want),
        "the Dockerfile builds with {want}"
    );
}
