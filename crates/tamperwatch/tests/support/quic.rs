//! QUIC in the censorship lab: `tw-quic` (from `tw-testtools`, quinn and
//! rustls) as a server inside the server's namespace and as a one-shot
//! client that reports its UDP port and whether the handshake completed.

use super::censor::tool;
use super::netns::{Guarded, Netns};
use super::poll;
use std::net::SocketAddr;
use std::time::Duration;

/// `tw-quic server` on some UDP addresses; killed on drop.
#[derive(Debug)]
pub struct QuicServer {
    proc: Guarded,
}

impl QuicServer {
    /// Starts it with a self-signed certificate for `names` and waits until
    /// every address listens.
    pub fn start(ns: &Netns, listen: &[SocketAddr], names: &[&str]) -> QuicServer {
        let bin = tool("tw-quic");
        let mut args: Vec<String> = vec!["server".into()];
        for a in listen {
            args.push("--listen".into());
            args.push(a.to_string());
        }
        for n in names {
            args.push("--name".into());
            args.push((*n).to_string());
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut proc = ns.spawn(bin.to_str().unwrap(), &a);
        let up = poll(Duration::from_secs(10), Duration::from_millis(20), || {
            (proc.log().matches("listening ").count() >= listen.len()).then_some(())
        });
        if up.is_none() || proc.try_status().is_some() {
            panic!("tw-quic server did not start:\n{}", proc.log());
        }
        QuicServer { proc }
    }

    /// What it printed (`accepted PEER sni=NAME` per handshake).
    pub fn log(&self) -> String {
        self.proc.log()
    }
}

/// One `tw-quic client` run.
#[derive(Debug, Clone)]
pub struct QuicAttempt {
    pub server: SocketAddr,
    pub sni: String,
    /// The client's UDP port (0 if it did not say).
    pub client_port: u16,
    /// The handshake (and an echo) completed.
    pub ok: bool,
    /// What it printed.
    pub output: String,
}

/// `tw-quic client --connect SERVER --sni SNI --timeout-ms ..` in `ns`.
pub fn quic_client(ns: &Netns, server: SocketAddr, sni: &str, timeout: Duration) -> QuicAttempt {
    let bin = tool("tw-quic");
    let ms = timeout.as_millis().to_string();
    let s = server.to_string();
    let out = ns.exec_timeout(
        bin.to_str().unwrap(),
        &["client", "--connect", &s, "--sni", sni, "--timeout-ms", &ms],
        timeout + Duration::from_secs(5),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let client_port = text
        .lines()
        .find_map(|l| l.strip_prefix("local_port="))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    QuicAttempt {
        server,
        sni: sni.to_string(),
        client_port,
        ok: out.status.success() && text.contains("ok rtt_ms="),
        output: text.trim().to_string(),
    }
}
