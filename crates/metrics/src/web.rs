//! TLS and basic authentication for the metrics endpoint, configured with
//! the Prometheus exporter-toolkit web configuration file (the file of
//! `--web.config.file` in node_exporter and other exporters):
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/tamperwatch/tls.crt
//!   key_file: /etc/tamperwatch/tls.key
//!   # client_auth_type: RequireAndVerifyClientCert
//!   # client_ca_file: /etc/tamperwatch/clients.pem
//!   # min_version: TLS12
//! basic_auth_users:
//!   prometheus: $2y$10$...   # bcrypt (htpasswd -nBC 10 prometheus)
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! ```
//!
//! Every key of the exporter-toolkit format is recognised. What tamperwatch
//! cannot honour is refused with the reason rather than silently ignored:
//! TLS 1.0 and 1.1, `RequestClientCert` and `RequireAnyClientCert` (client
//! certificates that are not verified), `client_allowed_sans`, and cipher
//! suites or curves that rustls does not implement. `http_server_config.http2`
//! is accepted and has no effect (the endpoint speaks HTTP/1.1, which every
//! Prometheus scrapes). The files are read once, at start-up, before the
//! daemon drops its privileges (so the key may be readable by root only).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderName, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// Errors of the web configuration file.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not match the format.
    #[error("{path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_norway::Error,
    },
    /// A setting is invalid or not supported.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    http_server_config: Option<HttpFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    /// Accepted for compatibility; the endpoint speaks HTTP/1.1.
    #[serde(default)]
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// Response headers the exporter-toolkit lets a web configuration set.
const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// A login that passed: (user, SHA-256 of `user:password`).
type Verified = (String, [u8; 32]);

/// A loaded web configuration.
#[derive(Clone)]
pub struct WebConfig {
    /// The file it came from.
    pub path: PathBuf,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) users: Arc<BTreeMap<String, String>>,
    pub(crate) headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    /// Successful logins (user, SHA-256 of user:password): bcrypt costs tens
    /// of milliseconds per check, and Prometheus sends the same credentials
    /// every scrape.
    pub(crate) verified: Arc<Mutex<Vec<Verified>>>,
    /// At most two bcrypt checks at a time: wrong passwords cannot take
    /// every core away from the capture.
    pub(crate) checks: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    /// Reads and checks the file (and the certificate and key files it names).
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the contents of `path` (relative file names in it are
    /// relative to the file's directory, as in the exporter-toolkit).
    pub fn parse(path: &Path, text: &str) -> Result<WebConfig, WebConfigError> {
        let invalid = |reason: String| WebConfigError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_norway::from_str(text).map_err(|source| WebConfigError::Yaml {
                path: path.to_owned(),
                source,
            })?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = match file.tls_server_config {
            Some(t) => Some(Arc::new(tls_config(&t, dir).map_err(invalid)?)),
            None => None,
        };
        let users = file.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') || user.is_empty() {
                return Err(invalid(format!(
                    "basic_auth_users: user name {user:?} is empty or contains ':'"
                )));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(invalid(format!(
                    "basic_auth_users.{user}: not a bcrypt hash (make one with `htpasswd -nBC 10 {user}`)"
                )));
            }
        }
        let mut headers = Vec::new();
        if let Some(h) = file.http_server_config.and_then(|h| h.headers) {
            for (k, v) in h {
                if !ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(&k)) {
                    return Err(invalid(format!(
                        "http_server_config.headers: {k} may not be set (allowed: {})",
                        ALLOWED_HEADERS.join(", ")
                    )));
                }
                let name = HeaderName::try_from(k.as_str())
                    .map_err(|e| invalid(format!("http_server_config.headers: {k}: {e}")))?;
                let value = HeaderValue::try_from(v.as_str())
                    .map_err(|e| invalid(format!("http_server_config.headers.{k}: {e}")))?;
                headers.push((name, value));
            }
        }
        Ok(WebConfig {
            path: path.to_owned(),
            tls,
            users: Arc::new(users),
            headers: Arc::new(headers),
            verified: Arc::default(),
            checks: Arc::new(tokio::sync::Semaphore::new(2)),
        })
    }

    /// Whether the endpoint speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need a user and password.
    pub fn basic_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether `header` holds credentials that passed before (no bcrypt).
    pub(crate) fn known(&self, header: Option<&str>) -> bool {
        match header.and_then(decode_basic) {
            _ if self.users.is_empty() => true,
            Some((user, pass)) => self.seen(&user, &login_digest(&user, &pass)),
            None => false,
        }
    }

    fn seen(&self, user: &str, digest: &[u8; 32]) -> bool {
        let v = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        v.iter().any(|(u, d)| u == user && d == digest)
    }

    /// Checks an `Authorization` header value.
    pub(crate) fn authorized(&self, header: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, pass)) = header.and_then(decode_basic) else {
            return false;
        };
        let digest = login_digest(&user, &pass);
        if self.seen(&user, &digest) {
            return true;
        }
        let ok = match self.users.get(&user) {
            Some(hash) => bcrypt::verify(&pass, hash).unwrap_or(false),
            None => {
                // as slow as a known user: no timing oracle for user names
                let _ = bcrypt::verify(&pass, DUMMY_HASH);
                false
            }
        };
        if ok {
            let mut v = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if v.len() >= 64 {
                v.clear();
            }
            v.push((user, digest));
        }
        ok
    }
}

fn login_digest(user: &str, pass: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(user.as_bytes());
    h.update(b":");
    h.update(pass.as_bytes());
    h.finalize().into()
}

/// bcrypt of an unguessable string, cost 10 (the exporter-toolkit's default).
const DUMMY_HASH: &str = "$2b$10$1mJp8G5XzT7l2kQ9s0v3Ue0Jm5n2e9f4iSx0l1bq3cQ0y1W2z3a4u";

/// `Basic base64(user:password)` → (user, password).
fn decode_basic(h: &str) -> Option<(String, String)> {
    let (scheme, rest) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(rest.trim())?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Standard base64 with padding (what HTTP basic authentication uses).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) || b.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for chunk in b.chunks(4) {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { val(*c)? };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

fn read(dir: &Path, p: &Path) -> Result<Vec<u8>, String> {
    let full = dir.join(p);
    std::fs::read(&full).map_err(|e| format!("{}: {e}", full.display()))
}

fn tls_config(t: &TlsFile, dir: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::crypto::ring as provider;
    if t.client_allowed_sans.is_some() {
        return Err("tls_server_config.client_allowed_sans is not supported".into());
    }
    match (&t.cert_file, &t.cert) {
        (Some(_), None) | (None, Some(_)) => {}
        _ => return Err("tls_server_config needs exactly one of cert_file and cert".into()),
    }
    match (&t.key_file, &t.key) {
        (Some(_), None) | (None, Some(_)) => {}
        _ => return Err("tls_server_config needs exactly one of key_file and key".into()),
    }
    let certs_pem = match (&t.cert_file, &t.cert) {
        (Some(f), _) => read(dir, f)?,
        (_, c) => c.clone().unwrap_or_default().into_bytes(),
    };
    let key_pem = match (&t.key_file, &t.key) {
        (Some(f), _) => read(dir, f)?,
        (_, k) => k.clone().unwrap_or_default().into_bytes(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&certs_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config: certificate: {e}"))?;
    if certs.is_empty() {
        return Err("tls_server_config: no certificate in the PEM data".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("tls_server_config: key: {e}"))?;

    let version = |v: &Option<String>, default: u8| -> Result<u8, String> {
        match v.as_deref() {
            None | Some("") => Ok(default),
            Some("TLS13") => Ok(13),
            Some("TLS12") => Ok(12),
            Some(x @ ("TLS10" | "TLS11")) => Err(format!(
                "tls_server_config: {x} is not supported (TLS 1.2 and 1.3 only)"
            )),
            Some(x) => Err(format!("tls_server_config: unknown TLS version {x:?}")),
        }
    };
    let (min, max) = (version(&t.min_version, 12)?, version(&t.max_version, 13)?);
    if min > max {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect();

    let mut prov = provider::default_provider();
    if let Some(names) = &t.cipher_suites {
        // Go's list names TLS 1.2 suites; TLS 1.3 suites are always on.
        let mut keep: Vec<rustls::SupportedCipherSuite> = prov
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .collect();
        for n in names {
            let s = prov
                .cipher_suites
                .iter()
                .find(|s| format!("{:?}", s.suite()) == *n)
                .ok_or_else(|| {
                    format!("tls_server_config.cipher_suites: {n} is not implemented by rustls")
                })?;
            keep.push(*s);
        }
        prov.cipher_suites = keep;
    }
    if let Some(curves) = &t.curve_preferences {
        let mut groups = Vec::new();
        for c in curves {
            let name = match c.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                "CurveP521" => rustls::NamedGroup::secp521r1,
                x => {
                    return Err(format!(
                        "tls_server_config.curve_preferences: unknown curve {x}"
                    ))
                }
            };
            let g = prov
                .kx_groups
                .iter()
                .find(|g| g.name() == name)
                .ok_or_else(|| {
                    format!("tls_server_config.curve_preferences: {c} is not implemented by rustls")
                })?;
            groups.push(*g);
        }
        prov.kx_groups = groups;
    }
    let prov = Arc::new(prov);
    let builder = rustls::ServerConfig::builder_with_provider(prov.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;

    let client_auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match client_auth {
        "NoClientCert" | "" => builder.with_no_client_auth(),
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let pem = match (&t.client_ca_file, &t.client_ca) {
                (Some(f), None) => read(dir, f)?,
                (None, Some(c)) => c.clone().into_bytes(),
                _ => {
                    return Err(format!(
                        "tls_server_config: client_auth_type {client_auth} needs exactly one of client_ca_file and client_ca"
                    ))
                }
            };
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| format!("tls_server_config: client CA: {e}"))?;
                roots
                    .add(c)
                    .map_err(|e| format!("tls_server_config: client CA: {e}"))?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                prov,
            );
            let v = if client_auth == "VerifyClientCertIfGiven" {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| format!("tls_server_config: client CA: {e}"))?,
            )
        }
        x @ ("RequestClientCert" | "RequireAnyClientCert") => {
            return Err(format!(
                "tls_server_config: client_auth_type {x} (client certificates that are not verified) is not supported"
            ))
        }
        x => return Err(format!("tls_server_config: unknown client_auth_type {x:?}")),
    };
    if (t.client_ca_file.is_some() || t.client_ca.is_some())
        && matches!(client_auth, "NoClientCert" | "")
    {
        return Err(
            "tls_server_config: a client CA is set but client_auth_type is NoClientCert (say RequireAndVerifyClientCert or VerifyClientCertIfGiven)".into(),
        );
    }
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key: {e}"))?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_decoding() {
        // "alice:s3cret:with colon"
        let h = "Basic YWxpY2U6czNjcmV0OndpdGggY29sb24=";
        assert_eq!(
            decode_basic(h),
            Some(("alice".into(), "s3cret:with colon".into()))
        );
        assert_eq!(base64_decode("YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode("YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode("YWJj"), Some(b"abc".to_vec()));
        assert_eq!(base64_decode("YWJ"), None);
        assert_eq!(base64_decode("Y==="), None);
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(decode_basic("Basic !!!!"), None);
    }

    #[test]
    fn dummy_hash_is_a_hash() {
        assert!(DUMMY_HASH.parse::<bcrypt::HashParts>().is_ok());
        assert!(!bcrypt::verify("", DUMMY_HASH).unwrap_or(true));
    }

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(Path::new("/nonexistent/web.yml"), text)
    }

    #[test]
    fn users_and_headers() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        // Go's bcrypt and htpasswd write $2y$: the same algorithm
        let hash_y = hash.replacen("$2b$", "$2y$", 1);
        let w = parse(&format!(
            "basic_auth_users:\n  alice: '{hash}'\n  bob: '{hash_y}'\nhttp_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n"
        ))
        .unwrap();
        assert!(w.basic_auth() && !w.tls());
        let basic = |u: &str, p: &str| {
            let raw = format!("{u}:{p}");
            // tiny encoder for the test
            const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let b = raw.as_bytes();
            let mut s = String::new();
            for c in b.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for i in 0..4 {
                    if i <= c.len() {
                        s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                    } else {
                        s.push('=');
                    }
                }
            }
            format!("Basic {s}")
        };
        assert!(w.authorized(Some(&basic("alice", "secret"))));
        assert!(w.authorized(Some(&basic("alice", "secret")))); // cached
        assert!(w.authorized(Some(&basic("bob", "secret"))));
        assert!(!w.authorized(Some(&basic("alice", "wrong"))));
        assert!(!w.authorized(Some(&basic("carol", "secret"))));
        assert!(!w.authorized(None));
        assert_eq!(w.headers.len(), 1);
        // an empty file: nothing required
        let none = parse("").unwrap();
        assert!(none.authorized(None) && !none.tls());
    }

    #[test]
    fn refusals_say_why() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(err("basic_auth_users:\n  alice: plain\n").contains("not a bcrypt hash"));
        assert!(err("nonsense: 1\n").contains("unknown field"));
        assert!(err("http_server_config:\n  headers:\n    Server: x\n").contains("may not be set"));
        assert!(err("tls_server_config:\n  cert_file: a.crt\n").contains("key_file"));
        assert!(
            err("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n")
                .contains("/nonexistent/a.crt")
        );
    }

    #[test]
    fn tls_settings() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        std::fs::write(d.join("c.pem"), c.cert.pem()).unwrap();
        std::fs::write(d.join("k.pem"), c.key_pair.serialize_pem()).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["x".into()]).unwrap();
        std::fs::write(d.join("other-k.pem"), other.key_pair.serialize_pem()).unwrap();
        let file = d.join("web.yml");
        let load = |extra: &str| {
            WebConfig::parse(
                &file,
                &format!("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n{extra}"),
            )
        };
        let w = load("").unwrap();
        assert!(w.tls() && !w.basic_auth());
        assert!(load("  min_version: TLS13\n").is_ok());
        assert!(load("  max_version: TLS12\n  prefer_server_cipher_suites: false\n").is_ok());
        assert!(load("  curve_preferences: [X25519, CurveP256]\n").is_ok());
        assert!(load("  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n").is_ok());
        assert!(
            load("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: c.pem\n")
                .is_ok()
        );
        assert!(
            load("  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: c.pem\n").is_ok()
        );
        let err = |extra: &str| load(extra).unwrap_err().to_string();
        assert!(err("  min_version: TLS10\n").contains("not supported"));
        assert!(err("  min_version: TLS13\n  max_version: TLS12\n").contains("above"));
        assert!(err("  client_auth_type: RequestClientCert\n").contains("not supported"));
        assert!(err("  client_auth_type: RequireAndVerifyClientCert\n").contains("client_ca_file"));
        assert!(err("  client_ca_file: c.pem\n").contains("NoClientCert"));
        assert!(err("  client_auth_type: ''\n  client_ca_file: c.pem\n").contains("NoClientCert"));
        assert!(err("  client_allowed_sans: [a]\n").contains("not supported"));
        assert!(err("  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n").contains("not implemented"));
        assert!(err("  curve_preferences: [CurveP521]\n").contains("not implemented"));
        let mismatched = WebConfig::parse(
            &file,
            "tls_server_config:\n  cert_file: c.pem\n  key_file: other-k.pem\n",
        );
        assert!(mismatched
            .unwrap_err()
            .to_string()
            .contains("certificate and key"));
    }
}
