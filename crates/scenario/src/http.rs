//! HTTP/1.1 request/response byte builders.

/// `GET path HTTP/1.1` with Host and typical browser headers.
pub fn get(host: &str, path: &str) -> Vec<u8> {
    request("GET", host, path, &[], b"")
}

/// Arbitrary request; adds Content-Length when `body` is non-empty.
pub fn request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut s = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    );
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    let mut v = s.into_bytes();
    v.extend_from_slice(body);
    v
}

/// Response status line + headers for a body of `body_len` bytes (no body).
pub fn response_head(status: u16, reason: &str, content_type: &str, body_len: usize) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nServer: nginx/1.24.0\r\nContent-Type: {content_type}\r\nContent-Length: {body_len}\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes()
}

/// Full response with `body`.
pub fn response(status: u16, reason: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = response_head(status, reason, content_type, body.len());
    v.extend_from_slice(body);
    v
}

/// Deterministic HTML-ish filler body of exactly `len` bytes.
pub fn filler(len: usize) -> Vec<u8> {
    const CHUNK: &[u8] = b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>\n";
    CHUNK.iter().copied().cycle().take(len).collect()
}

/// `200 OK` text/html response with a filler body of `body_len` bytes.
pub fn ok_html(body_len: usize) -> Vec<u8> {
    response(200, "OK", "text/html; charset=utf-8", &filler(body_len))
}

/// A typical censor block page response (status 403, `Connection: close`).
pub fn block_page() -> Vec<u8> {
    let body = b"<html><head><title>Blocked</title></head><body>Access to this site has been blocked.</body></html>";
    let mut v = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let g = get("example.com", "/index.html");
        assert!(g.starts_with(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n"));
        assert!(g.ends_with(b"\r\n\r\n"));
        let r = ok_html(1000);
        let s = String::from_utf8(r.clone()).unwrap();
        let (head, body) = s.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("Content-Length: 1000"));
        assert_eq!(body.len(), 1000);
        let p = request("POST", "h", "/", &[("X-A", "1")], b"abc");
        assert!(p.ends_with(b"Content-Length: 3\r\n\r\nabc"));
        assert!(block_page().starts_with(b"HTTP/1.1 403"));
    }
}
