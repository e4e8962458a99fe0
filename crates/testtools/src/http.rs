//! The Host of an HTTP/1.x request.

use crate::tls::normalise_name;

/// The start of an HTTP/1.x request found at the start of a TCP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// The Host header (lowercased, port and trailing dot removed), if the
    /// segment holds it.
    pub host: Option<String>,
}

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// Parses `METHOD SP target SP HTTP/1.x` and the header lines that follow
/// in this segment; `None` when the payload does not start a request.
pub fn request(payload: &[u8]) -> Option<Request> {
    let line_end = find(payload, b"\n")?;
    let line = trim_cr(&payload[..line_end]);
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !METHODS.contains(&method)
        || target.is_empty()
        || !version.starts_with("HTTP/1.")
    {
        return None;
    }
    let mut host = None;
    for raw in payload[line_end + 1..].split(|&b| b == b'\n') {
        let h = trim_cr(raw);
        if h.is_empty() {
            break; // end of headers
        }
        let Some(colon) = h.iter().position(|&b| b == b':') else {
            continue;
        };
        if h[..colon].eq_ignore_ascii_case(b"host") {
            host = host_value(&h[colon + 1..]);
            break;
        }
    }
    Some(Request {
        method: method.to_string(),
        target: target.to_string(),
        host,
    })
}

/// The Host of the request at the start of `payload`, if any.
pub fn host(payload: &[u8]) -> Option<String> {
    request(payload)?.host
}

fn host_value(v: &[u8]) -> Option<String> {
    let v = std::str::from_utf8(v).ok()?.trim();
    let name = if let Some(rest) = v.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next()?
    } else {
        match v.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => v,
        }
    };
    normalise_name(name.as_bytes())
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_like_request() {
        let r = request(
            b"GET /index.html HTTP/1.1\r\nHost: Blocked.Example\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/index.html");
        assert_eq!(r.host.as_deref(), Some("blocked.example"));
    }

    #[test]
    fn host_forms() {
        let h = |v: &str| host(format!("GET / HTTP/1.1\r\n{v}\r\n\r\n").as_bytes());
        assert_eq!(
            h("host:blocked.example:8080").as_deref(),
            Some("blocked.example")
        );
        assert_eq!(
            h("HOST:   blocked.example.  ").as_deref(),
            Some("blocked.example")
        );
        assert_eq!(h("Host: [2001:db8::1]:80").as_deref(), Some("2001:db8::1"));
        assert_eq!(h("Host: 198.51.100.2").as_deref(), Some("198.51.100.2"));
        assert_eq!(
            h("X-Host: a.example\r\nHost: b.example").as_deref(),
            Some("b.example")
        );
        assert_eq!(h("Accept: */*"), None);
        // Headers end at the blank line: a Host in the body is not the Host.
        assert_eq!(
            host(b"POST / HTTP/1.0\nContent-Length: 20\n\nHost: blocked.example"),
            None
        );
        // LF-only line ends.
        assert_eq!(
            host(b"HEAD / HTTP/1.0\nHost: a.example\n\n").as_deref(),
            Some("a.example")
        );
    }

    #[test]
    fn not_requests() {
        for p in [
            &b""[..],
            b"GET / HTTP/1.1",          // no line end yet
            b"HTTP/1.1 200 OK\r\n\r\n", // a response
            b"get / HTTP/1.1\r\n\r\n",  // methods are case-sensitive
            b"GET  / HTTP/1.1\r\n\r\n", // double space
            b"GET / HTTP/2\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\n",
        ] {
            assert_eq!(request(p), None, "{:?}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn find_works() {
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"abc", b"abcd"), None);
        assert_eq!(find(b"abc", b""), Some(0));
    }
}
