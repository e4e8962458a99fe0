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

const QUIC: &str = env!("CARGO_BIN_EXE_tw-quic");

#[test]
fn tw_quic_command_line() {
    let (ok, text) = run(QUIC, &["server", "--help"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("--listen") && text.contains("--name"),
        "{text}"
    );
    let (ok, text) = run(QUIC, &["client", "--help"]);
    assert!(ok, "{text}");
    for o in ["--connect", "--sni", "--timeout-ms"] {
        assert!(text.contains(o), "{o} missing:\n{text}");
    }
    let (ok, text) = run(QUIC, &["server"]);
    assert!(!ok && text.contains("--listen"), "{text}");
    let (ok, text) = run(QUIC, &["client", "--connect", "nowhere", "--sni", "a"]);
    assert!(!ok && text.contains("--connect"), "{text}");
}

#[test]
fn tw_quic_over_loopback() {
    // Loopback only: a server on an ephemeral port of 127.0.0.1, one handshake.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    drop(sock);
    let mut server = Command::new(QUIC)
        .args(["server", "--listen", &addr, "--name", "allowed.example"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn server");
    let mut stdout = server.stdout.take().unwrap();
    let mut first = [0u8; 9];
    use std::io::Read;
    stdout.read_exact(&mut first).expect("server output");
    assert_eq!(&first, b"listening");
    let (ok, text) = run(
        QUIC,
        &[
            "client",
            "--connect",
            &addr,
            "--sni",
            "allowed.example",
            "--timeout-ms",
            "3000",
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "{text}");
    assert!(text.starts_with("local_port="), "{text}");
    assert!(text.contains("ok rtt_ms="), "{text}");
}
