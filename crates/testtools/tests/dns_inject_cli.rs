//! tw-dns-inject's command line (no root needed).

use std::process::Command;

const DNS_INJECT: &str = env!("CARGO_BIN_EXE_tw-dns-inject");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(DNS_INJECT).args(args).output().expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn help_lists_the_options() {
    let (ok, text) = run(&["--help"]);
    assert!(ok, "{text}");
    for o in [
        "--iface",
        "--name",
        "--answer-a",
        "--answer-aaaa",
        "--dns-ttl",
        "--ttl",
        "--ip-id",
        "--df",
        "--no-qclass",
        "--drop-edns",
        "--aa",
        "--no-ra",
        "--tcp",
        "--count-file",
    ] {
        assert!(text.contains(o), "{o} missing:\n{text}");
    }
}

#[test]
fn bad_arguments_are_refused() {
    let (ok, text) = run(&["--iface", "lo"]);
    assert!(!ok && text.contains("--name"), "{text}");
    let (ok, text) = run(&["--iface", "lo", "--name", "a.example", "--answer-a", "x"]);
    assert!(!ok && text.contains("not an address"), "{text}");
    let (ok, text) = run(&[
        "--iface",
        "lo",
        "--name",
        "a.example",
        "--answer-a",
        "none",
        "--answer-aaaa",
        "none",
    ]);
    assert!(!ok && text.contains("nothing to answer"), "{text}");
    let (ok, text) = run(&["--iface", "lo", "--name", "a.example", "--ip-id", "70000"]);
    assert!(!ok && text.contains("bad --ip-id"), "{text}");
    let (ok, text) = run(&["--iface", "tw-no-such-if0", "--name", "a.example"]);
    assert!(!ok && text.contains("tw-no-such-if0"), "{text}");
}
