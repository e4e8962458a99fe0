//! The tools' command lines (no root needed). Having an integration test
//! also makes `cargo test` build the binaries, which tamperwatch's live
//! censorship tests run.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin).args(args).output().expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const INJECT: &str = env!("CARGO_BIN_EXE_tw-inject");
const WIRE: &str = env!("CARGO_BIN_EXE_tw-wire");

#[test]
fn help_lists_the_options() {
    let (ok, text) = run(INJECT, &["--help"]);
    assert!(ok, "{text}");
    for o in [
        "--iface",
        "--sni",
        "--host",
        "--keyword",
        "--mode",
        "--ttl",
        "--ip-id",
        "--df",
        "--window",
        "--count-file",
    ] {
        assert!(text.contains(o), "{o} missing:\n{text}");
    }
    let (ok, text) = run(WIRE, &["--help"]);
    assert!(ok, "{text}");
    assert!(text.contains("--delay-ms"), "{text}");
}

#[test]
fn bad_arguments_are_refused() {
    let (ok, text) = run(INJECT, &["--iface", "lo"]);
    assert!(!ok && text.contains("nothing to block"), "{text}");
    let (ok, text) = run(
        INJECT,
        &["--iface", "lo", "--sni", "a.example", "--mode", "x"],
    );
    assert!(!ok && text.contains("unknown mode"), "{text}");
    let (ok, text) = run(
        INJECT,
        &["--iface", "lo", "--sni", "a.example", "--ip-id", "70000"],
    );
    assert!(!ok && text.contains("bad --ip-id"), "{text}");
    let (ok, text) = run(INJECT, &["--iface", "tw-no-such-if0", "--sni", "a.example"]);
    assert!(!ok && text.contains("tw-no-such-if0"), "{text}");
    let (ok, text) = run(WIRE, &["--a", "tw-no-such-if0", "--b", "lo"]);
    assert!(!ok && text.contains("tw-no-such-if0"), "{text}");
}
