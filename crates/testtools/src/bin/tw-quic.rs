//! tw-quic: a QUIC (RFC 9000, version 1) server and client for tamperwatch's
//! live tests, built on quinn and rustls (no system libraries).
//!
//! `tw-quic server --listen ADDR:PORT [--listen ...] [--name NAME ...]`
//! serves QUIC with a self-signed certificate for the names given (default
//! `localhost`), ALPN `tw-quic` and `h3`; it accepts every connection,
//! answers one bidirectional stream by echoing it, and prints
//! `listening ADDR` per address, then `accepted PEER sni=NAME` per
//! handshake. Exits 0 on SIGTERM/SIGINT.
//!
//! `tw-quic client --connect ADDR:PORT --sni NAME [--timeout-ms N]`
//! prints `local_port=N` as soon as its UDP socket is bound, then tries one
//! handshake (certificates are not verified) and a short echo on a stream,
//! and prints `ok rtt_ms=...` (exit 0) or `failed: REASON` (exit 1) when the
//! handshake did not complete within the timeout (default 4000 ms). quinn
//! pads every client Initial to 1200 bytes and retransmits them on its
//! probe timeout (about 1 s, doubling), so a blocked handshake shows
//! several Initials.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::rustls;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "tw-quic", about = "QUIC client and server (test tool)")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve QUIC on the given UDP addresses.
    Server {
        /// UDP address to listen on (repeatable), e.g. 198.51.100.2:443.
        #[arg(long, required = true)]
        listen: Vec<SocketAddr>,
        /// A name of the self-signed certificate (repeatable).
        #[arg(long = "name", default_value = "localhost")]
        names: Vec<String>,
    },
    /// Try one QUIC handshake.
    Client {
        /// The server's UDP address.
        #[arg(long)]
        connect: SocketAddr,
        /// The SNI of the ClientHello.
        #[arg(long)]
        sni: String,
        /// Give up after this many milliseconds.
        #[arg(long = "timeout-ms", default_value_t = 4000)]
        timeout_ms: u64,
    },
}

const ALPN: &[&[u8]] = &[b"tw-quic", b"h3"];

fn main() {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tw-quic: tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    let r = rt.block_on(async {
        match args.cmd {
            Cmd::Server { listen, names } => server(listen, names).await,
            Cmd::Client {
                connect,
                sni,
                timeout_ms,
            } => client(connect, &sni, Duration::from_millis(timeout_ms)).await,
        }
    });
    match r {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("tw-quic: {e:#}");
            std::process::exit(2);
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn out(line: &str) {
    let mut o = std::io::stdout();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

async fn server(listen: Vec<SocketAddr>, names: Vec<String>) -> Result<i32> {
    let cert = rcgen::generate_simple_self_signed(names).context("self-signed certificate")?;
    let cert_der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3")?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key)
        .context("server certificate")?;
    tls.alpn_protocols = ALPN.iter().map(|a| a.to_vec()).collect();
    let qtls = QuicServerConfig::try_from(tls).context("QUIC server TLS")?;
    let cfg = quinn::ServerConfig::with_crypto(Arc::new(qtls));
    let mut endpoints = Vec::new();
    for addr in &listen {
        let ep = quinn::Endpoint::server(cfg.clone(), *addr)
            .with_context(|| format!("listening on {addr}"))?;
        out(&format!("listening {addr}"));
        endpoints.push(ep);
    }
    let mut tasks = Vec::new();
    for ep in endpoints {
        tasks.push(tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                tokio::spawn(async move {
                    let peer = incoming.remote_address();
                    let Ok(conn) = incoming.await else {
                        return;
                    };
                    let sni = conn
                        .handshake_data()
                        .and_then(|d| {
                            d.downcast::<quinn::crypto::rustls::HandshakeData>()
                                .ok()
                                .and_then(|h| h.server_name)
                        })
                        .unwrap_or_default();
                    out(&format!("accepted {peer} sni={sni}"));
                    // Echo one stream, then let the client close.
                    if let Ok((mut send, mut recv)) = conn.accept_bi().await {
                        if let Ok(data) = recv.read_to_end(4096).await {
                            let _ = send.write_all(&data).await;
                            let _ = send.finish();
                        }
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(10), conn.closed()).await;
                });
            }
        }));
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    for t in tasks {
        t.abort();
    }
    eprintln!("tw-quic: server stopped");
    Ok(0)
}

/// Accepts any certificate: the tests care about the handshake's packets.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

async fn client(connect: SocketAddr, sni: &str, timeout: Duration) -> Result<i32> {
    if sni.is_empty() {
        bail!("--sni must not be empty");
    }
    let p = provider();
    let mut tls = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(p)))
        .with_no_client_auth();
    tls.alpn_protocols = ALPN.iter().map(|a| a.to_vec()).collect();
    let qtls = QuicClientConfig::try_from(tls).context("QUIC client TLS")?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(qtls));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(timeout.max(Duration::from_millis(100)))
        .context("idle timeout")?;
    transport.max_idle_timeout(Some(idle));
    cfg.transport_config(Arc::new(transport));
    let bind: SocketAddr = if connect.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(bind).context("binding the UDP socket")?;
    let local = sock.local_addr()?;
    out(&format!("local_port={}", local.port()));
    let runtime = quinn::default_runtime().context("no async runtime")?;
    let ep = quinn::Endpoint::new(quinn::EndpointConfig::default(), None, sock, runtime)
        .context("client endpoint")?;
    let t0 = Instant::now();
    let attempt = async {
        let conn = ep
            .connect_with(cfg, connect, sni)
            .context("starting the handshake")?
            .await
            .context("handshake")?;
        let rtt = t0.elapsed();
        let (mut send, mut recv) = conn.open_bi().await.context("opening a stream")?;
        send.write_all(b"tw-quic ping").await.context("sending")?;
        send.finish().context("finishing the stream")?;
        let echo = recv.read_to_end(4096).await.context("reading the echo")?;
        if echo != b"tw-quic ping" {
            bail!("echo mismatch: {echo:?}");
        }
        conn.close(0u32.into(), b"done");
        Ok::<_, anyhow::Error>(rtt)
    };
    let r = tokio::time::timeout(timeout, attempt).await;
    let code = match r {
        Ok(Ok(rtt)) => {
            out(&format!("ok rtt_ms={:.1}", rtt.as_secs_f64() * 1e3));
            0
        }
        Ok(Err(e)) => {
            out(&format!("failed: {e:#}"));
            1
        }
        Err(_) => {
            out(&format!("failed: no handshake within {timeout:?}"));
            1
        }
    };
    // Let the CONNECTION_CLOSE go out (success) without waiting long.
    let _ = tokio::time::timeout(Duration::from_millis(200), ep.wait_idle()).await;
    Ok(code)
}
