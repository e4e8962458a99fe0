//! A static web server inside a namespace: nginx with a generated config
//! in a tempdir (never /etc/nginx), or `python3 -m http.server` when nginx
//! is missing. Listens on port 80 of the given addresses only.

use super::netns::{wait_for_tcp, Guarded, Netns};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The files every server serves: (path, size in bytes).
pub const DEFAULT_FILES: &[(&str, usize)] = &[
    ("/index.html", 0), // generated HTML, size set at start
    ("/small.txt", 10 * 1024),
    ("/medium.bin", 100 * 1024),
    ("/big.bin", 1024 * 1024),
];

/// Which server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Python,
}

/// A running web server; killed on drop.
#[derive(Debug)]
pub struct WebServer {
    proc: Guarded,
    kind: Kind,
    addrs: Vec<IpAddr>,
    files: Vec<(String, usize)>,
    dir: tempfile::TempDir,
}

/// Deterministic, incompressible-looking content of `len` bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn nginx_available() -> bool {
    Command::new("sh")
        .args(["-c", "command -v nginx"])
        .output()
        .is_ok_and(|o| o.status.success())
}

impl WebServer {
    /// Serves the default files on `addrs` port 80 in `ns`, nginx if
    /// installed, else python3; waits until the port answers.
    pub fn start(ns: &Netns, addrs: &[IpAddr]) -> WebServer {
        Self::start_with(ns, addrs, &[])
    }

    /// Like [`WebServer::start`], with extra files (`path` like `/a/b.html`).
    pub fn start_with(ns: &Netns, addrs: &[IpAddr], extra: &[(&str, &[u8])]) -> WebServer {
        let kind = if nginx_available() {
            Kind::Nginx
        } else {
            Kind::Python
        };
        Self::start_kind(ns, addrs, extra, kind)
    }

    /// Starts a given kind of server.
    pub fn start_kind(
        ns: &Netns,
        addrs: &[IpAddr],
        extra: &[(&str, &[u8])],
        kind: Kind,
    ) -> WebServer {
        assert!(!addrs.is_empty());
        let dir = tempfile::tempdir().expect("tempdir");
        // nginx or python may read as another user: make the tree readable.
        set_mode(dir.path(), 0o755);
        let www = dir.path().join("www");
        std::fs::create_dir(&www).unwrap();
        set_mode(&www, 0o755);
        let mut files = Vec::new();
        let index = "<!doctype html>\n<html><head><title>tamperwatch test</title></head>\n\
                     <body><p>Hello from the test server.</p>\n\
                     <a href=\"/small.txt\">small</a> <a href=\"/big.bin\">big</a></body></html>\n";
        write_file(&www, "/index.html", index.as_bytes(), &mut files);
        let small: String = (0..)
            .map(|i| format!("line {i:05} of the small text file.....\n"))
            .take(300)
            .collect();
        write_file(
            &www,
            "/small.txt",
            &small.as_bytes()[..10 * 1024],
            &mut files,
        );
        write_file(
            &www,
            "/medium.bin",
            &pseudo_random(100 * 1024, 7),
            &mut files,
        );
        write_file(
            &www,
            "/big.bin",
            &pseudo_random(1024 * 1024, 42),
            &mut files,
        );
        for (p, data) in extra {
            write_file(&www, p, data, &mut files);
        }
        let proc = match kind {
            Kind::Nginx => {
                let conf = nginx_conf(dir.path(), &www, addrs);
                let conf_path = dir.path().join("nginx.conf");
                std::fs::write(&conf_path, conf).unwrap();
                for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                    std::fs::create_dir_all(dir.path().join("tmp").join(t)).unwrap();
                }
                let mut c = ns.command("nginx");
                c.args(["-p"])
                    .arg(dir.path())
                    .arg("-e")
                    .arg(dir.path().join("error.log"))
                    .arg("-c")
                    .arg(&conf_path);
                Guarded::spawn(c, &format!("nginx@{}", ns.name()))
            }
            Kind::Python => {
                let mut c = ns.command("python3");
                c.args(["-m", "http.server", "80", "--bind"])
                    .arg(addrs[0].to_string())
                    .arg("--directory")
                    .arg(&www);
                Guarded::spawn(c, &format!("python3-http@{}", ns.name()))
            }
        };
        let mut ws = WebServer {
            proc,
            kind,
            addrs: addrs.to_vec(),
            files,
            dir,
        };
        for a in ws.listening_addrs() {
            if !wait_for_tcp(ns, a, 80, Duration::from_secs(10)) {
                let status = ws.proc.try_status();
                panic!(
                    "{:?} server did not come up on {a}:80 (status {status:?}):\n{}\n{}",
                    ws.kind,
                    ws.proc.log(),
                    ws.error_log()
                );
            }
        }
        ws
    }

    fn listening_addrs(&self) -> Vec<IpAddr> {
        match self.kind {
            Kind::Nginx => self.addrs.clone(),
            Kind::Python => vec![self.addrs[0]],
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Files served: (URL path, size).
    pub fn files(&self) -> &[(String, usize)] {
        &self.files
    }

    /// Size of the file at `path`.
    pub fn size(&self, path: &str) -> usize {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no file {path}"))
            .1
    }

    /// `http://ADDR/path` for the first address (brackets for IPv6).
    pub fn url(&self, path: &str) -> String {
        url_for(self.addrs[0], path)
    }

    /// The document root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    /// nginx's error log (empty for python).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The server's stdout/stderr.
    pub fn log(&self) -> String {
        self.proc.log()
    }
}

/// `http://ADDR[:port]/path`.
pub fn url_for(addr: IpAddr, path: &str) -> String {
    match addr {
        IpAddr::V4(a) => format!("http://{a}{path}"),
        IpAddr::V6(a) => format!("http://[{a}]{path}"),
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn write_file(www: &Path, path: &str, data: &[u8], files: &mut Vec<(String, usize)>) {
    let rel = path.trim_start_matches('/');
    let full = www.join(rel);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).unwrap();
        set_mode(parent, 0o755);
    }
    std::fs::write(&full, data).unwrap();
    set_mode(&full, 0o644);
    files.retain(|(p, _)| p != path);
    files.push((path.to_string(), data.len()));
}

fn nginx_conf(dir: &Path, www: &Path, addrs: &[IpAddr]) -> String {
    let d = dir.display();
    let listens: String = addrs
        .iter()
        .map(|a| match a {
            IpAddr::V4(a) => format!("        listen {a}:80;\n"),
            IpAddr::V6(a) => format!("        listen [{a}]:80;\n"),
        })
        .collect();
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ text/html html; text/plain txt; application/octet-stream bin; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 5;
    server {{
{listens}        server_name _;
        root {www};
        index index.html;
    }}
}}
",
        www = www.display()
    )
}
