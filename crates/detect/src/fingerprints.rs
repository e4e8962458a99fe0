//! Known forged DNS answers: the addresses censors put in injected answers.
//!
//! Lists are text; the binary reads the files, this module parses them (no
//! I/O here). Two formats:
//! - the OONI blocking-fingerprints CSV (`fingerprints_dns.csv`: `name,
//!   scope, other_names, location_found, pattern_type, pattern, ...`), of
//!   which rows with `location_found = dns` and `pattern_type = full` are
//!   used; rows with scope `fp` are known false positives: an answer matching
//!   one is never flagged by a fingerprint;
//! - plain lists, one address per line, `#` comments.
//!
//! An entry is *strong* when its address can never be a real answer for a
//! public name (a private or otherwise special address such as Iran's
//! 10.10.34.34): a match is sufficient for an event. An entry that is a
//! real public address (the GFW's forged-answer pools are addresses of
//! unrelated hosts) is *weak*: a match counts as one rule among others.

use crate::dns::is_bogon;
use std::collections::HashMap;
use std::net::IpAddr;

/// One known forged answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsFingerprint {
    /// Identifier, e.g. `ooni.ir_4`.
    pub name: String,
    /// The forged address.
    pub addr: IpAddr,
    /// Only when the answer's IP ID is this (Turkmenistan's 127.0.0.1 answers carry 30000).
    pub ip_id: Option<u16>,
    /// A known false positive (OONI scope `fp`): never flag.
    pub false_positive: bool,
    /// Where the entry comes from.
    pub source: String,
}

impl DnsFingerprint {
    /// Whether a match suffices for an event.
    pub fn strong(&self) -> bool {
        !self.false_positive && is_bogon(self.addr)
    }
}

/// A set of fingerprints, looked up by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFingerprints {
    by_addr: HashMap<IpAddr, Vec<DnsFingerprint>>,
}

/// A problem in a list, with its line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{list}: line {line}: {reason}")]
pub struct ListError {
    /// List name (file name).
    pub list: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The list shipped with tamperwatch (`config/dns-fingerprints.csv`).
pub const BUILTIN_CSV: &str = include_str!("../../../config/dns-fingerprints.csv");

impl DnsFingerprints {
    /// The shipped list.
    pub fn builtin() -> Result<DnsFingerprints, ListError> {
        let mut f = DnsFingerprints::default();
        f.add_list("dns-fingerprints.csv (built in)", BUILTIN_CSV)?;
        Ok(f)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_addr.values().map(Vec::len).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// Adds a list in either format (CSV when the first line is the OONI header).
    pub fn add_list(&mut self, list: &str, text: &str) -> Result<usize, ListError> {
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches('\u{feff}');
        if first.starts_with("name,scope,") {
            self.add_ooni_csv(list, text)
        } else {
            self.add_plain(list, text)
        }
    }

    fn insert(&mut self, f: DnsFingerprint) {
        self.by_addr.entry(f.addr).or_default().push(f);
    }

    fn add_plain(&mut self, list: &str, text: &str) -> Result<usize, ListError> {
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let l = line.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            let addr: IpAddr = l.parse().map_err(|_| ListError {
                list: list.into(),
                line: i + 1,
                reason: format!("{l:?} is not an IP address"),
            })?;
            self.insert(DnsFingerprint {
                name: format!("{list}:{}", i + 1),
                addr,
                ip_id: None,
                false_positive: false,
                source: list.into(),
            });
            n += 1;
        }
        Ok(n)
    }

    fn add_ooni_csv(&mut self, list: &str, text: &str) -> Result<usize, ListError> {
        let mut n = 0;
        for (line, row) in ooni_rows(list, text)? {
            if row.location != "dns" || row.kind != "full" {
                continue;
            }
            let Ok(addr) = row.pattern.trim().parse::<IpAddr>() else {
                // non-address DNS patterns (CNAMEs) are not used
                continue;
            };
            let ip_id = match row.ip_id.as_str() {
                "" => None,
                s => Some(s.parse::<u16>().map_err(|_| ListError {
                    list: list.into(),
                    line,
                    reason: format!("bad ip_id {s:?}"),
                })?),
            };
            self.insert(DnsFingerprint {
                name: row.name,
                addr,
                ip_id,
                false_positive: row.scope == "fp",
                source: if row.source.is_empty() {
                    list.to_string()
                } else {
                    row.source
                },
            });
            n += 1;
        }
        Ok(n)
    }

    /// The entry matching an answer address (and IP ID), if any. A known
    /// false positive wins over everything else.
    pub fn lookup(&self, addr: IpAddr, ip_id: u16) -> Option<&DnsFingerprint> {
        let v = self.by_addr.get(&addr)?;
        if let Some(fp) = v.iter().find(|f| f.false_positive) {
            return Some(fp);
        }
        v.iter().find(|f| f.ip_id.is_none_or(|id| id == ip_id))
    }
}

/// One row of an OONI blocking-fingerprints CSV.
struct OoniRow {
    name: String,
    scope: String,
    location: String,
    kind: String,
    pattern: String,
    source: String,
    ip_id: String,
}

/// The rows of an OONI-format CSV with their 1-based line numbers.
fn ooni_rows(list: &str, text: &str) -> Result<Vec<(usize, OoniRow)>, ListError> {
    let mut lines = text.lines().enumerate();
    let header = match lines.next() {
        Some((_, h)) => split_csv(h.trim_start_matches('\u{feff}')),
        None => return Ok(vec![]),
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(c_name), Some(c_scope), Some(c_loc), Some(c_type), Some(c_pat)) = (
        col("name"),
        col("scope"),
        col("location_found"),
        col("pattern_type"),
        col("pattern"),
    ) else {
        return Err(ListError {
            list: list.into(),
            line: 1,
            reason: "missing OONI columns".into(),
        });
    };
    let (c_src, c_ipid) = (col("source"), col("ip_id"));
    Ok(lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let f = split_csv(line);
            let get = |c: Option<usize>| c.and_then(|c| f.get(c)).cloned().unwrap_or_default();
            let row = OoniRow {
                name: get(Some(c_name)),
                scope: get(Some(c_scope)),
                location: get(Some(c_loc)),
                kind: get(Some(c_type)),
                pattern: get(Some(c_pat)),
                source: get(c_src),
                ip_id: get(c_ipid),
            };
            (i + 1, row)
        })
        .collect())
}

/// Splits one CSV line (RFC 4180 quoting; no multi-line fields).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let cur = out.last_mut();
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(s) = cur {
                    s.push('"');
                }
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => {
                if let Some(s) = cur {
                    s.push(c);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_parses_and_knows_iran() {
        let f = DnsFingerprints::builtin().unwrap();
        assert!(f.len() >= 40);
        let ir = f.lookup("10.10.34.34".parse().unwrap(), 1).unwrap();
        assert!(ir.strong());
        assert!(f.lookup("d0::11".parse().unwrap(), 0).unwrap().strong());
        // Turkmenistan's 127.0.0.1 only with IP ID 30000
        assert!(f.lookup("127.0.0.1".parse().unwrap(), 30000).is_some());
        assert!(f.lookup("127.0.0.1".parse().unwrap(), 1234).is_none());
        // ChinaDNS's public addresses are weak
        assert!(!f
            .lookup("159.106.121.75".parse().unwrap(), 0)
            .unwrap()
            .strong());
        assert!(f.lookup("203.0.113.5".parse().unwrap(), 0).is_none());
    }

    #[test]
    fn ooni_csv_with_quotes_and_fp_rows() {
        let csv = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n\
            ooni.x_1,nat,\"a, b\",dns,full,10.10.34.34,5,IR,ooni,,\"notes, with comma\"\n\
            ooni.x_2,fp,,dns,full,198.51.100.7,5,,ooni,,known CDN\n\
            ooni.x_3,nat,,dns,full,198.51.100.7,5,,ooni,,\n\
            ooni.x_4,nat,,dns,full,blockpage.example,5,,ooni,,cname\n\
            ooni.x_5,nat,,body,contains,blocked,5,,ooni,,http\n";
        let mut f = DnsFingerprints::default();
        assert_eq!(f.add_list("t.csv", csv).unwrap(), 3);
        assert_eq!(
            f.lookup("10.10.34.34".parse().unwrap(), 0).unwrap().name,
            "ooni.x_1"
        );
        assert!(
            f.lookup("198.51.100.7".parse().unwrap(), 0)
                .unwrap()
                .false_positive
        );
        assert_eq!(split_csv("a,\"b \"\"c\"\"\",d"), vec!["a", "b \"c\"", "d"]);
    }

    #[test]
    fn plain_lists() {
        let mut f = DnsFingerprints::default();
        assert_eq!(
            f.add_list("p.txt", "# comment\n198.51.100.9\n\n2001:db8::9 # tail\n")
                .unwrap(),
            2
        );
        let e = f
            .add_list("p.txt", "198.51.100.9\nnot-an-ip\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("p.txt: line 2"));
    }
}

/// Where an HTTP fingerprint looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpLocation {
    /// The response body.
    Body,
    /// A response header (lower-case name).
    Header(String),
}

/// How an HTTP fingerprint's pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The whole value.
    Full,
    /// The start of the value.
    Prefix,
    /// Anywhere in the value.
    Contains,
}

/// A known block page (or a known false positive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFingerprint {
    /// Identifier.
    pub name: String,
    /// OONI scope: `nat`, `isp`, `prod`, `inst`, `vbw` (vague blocking word), `fp` (false positive).
    pub scope: String,
    /// Where to look.
    pub location: HttpLocation,
    /// How to match.
    pub kind: MatchKind,
    /// The pattern (bytes).
    pub pattern: Vec<u8>,
    /// Source.
    pub source: String,
}

impl HttpFingerprint {
    /// Known false positive: a match means "not a block page".
    pub fn false_positive(&self) -> bool {
        self.scope == "fp"
    }
    /// Vague: never grounds for an event alone.
    pub fn vague(&self) -> bool {
        self.scope == "vbw"
    }
    fn matches(&self, v: &[u8]) -> bool {
        let p = self.pattern.as_slice();
        match self.kind {
            MatchKind::Full => v == p,
            MatchKind::Prefix => v.starts_with(p),
            MatchKind::Contains => !p.is_empty() && v.windows(p.len()).any(|w| w == p),
        }
    }
}

/// HTTP block-page fingerprints.
#[derive(Debug, Clone, Default)]
pub struct HttpFingerprints {
    entries: Vec<HttpFingerprint>,
    /// Rows skipped because their pattern type is not supported (regexp).
    pub skipped: usize,
    /// One automaton over every body pattern of kind `contains` (operator
    /// lists hold hundreds: one pass over the body finds them all), with
    /// the entry index of each pattern.
    body_contains: Option<(aho_corasick::AhoCorasick, Vec<usize>)>,
}

impl PartialEq for HttpFingerprints {
    fn eq(&self, o: &Self) -> bool {
        self.entries == o.entries && self.skipped == o.skipped
    }
}
impl Eq for HttpFingerprints {}

/// The HTTP list shipped with tamperwatch (`config/http-fingerprints.csv`).
pub const BUILTIN_HTTP_CSV: &str = include_str!("../../../config/http-fingerprints.csv");

impl HttpFingerprints {
    /// The shipped list.
    pub fn builtin() -> Result<HttpFingerprints, ListError> {
        let mut f = HttpFingerprints::default();
        f.add_ooni_csv("http-fingerprints.csv (built in)", BUILTIN_HTTP_CSV)?;
        Ok(f)
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds rows of an OONI `fingerprints_http.csv`-format list.
    pub fn add_ooni_csv(&mut self, list: &str, text: &str) -> Result<usize, ListError> {
        let mut n = 0;
        for (_, row) in ooni_rows(list, text)? {
            let location = match row.location.as_str() {
                "body" => HttpLocation::Body,
                l if l.starts_with("header.") => {
                    HttpLocation::Header(l["header.".len()..].to_ascii_lowercase())
                }
                _ => continue,
            };
            let kind = match row.kind.as_str() {
                "full" => MatchKind::Full,
                "prefix" => MatchKind::Prefix,
                "contains" => MatchKind::Contains,
                _ => {
                    self.skipped += 1;
                    continue;
                }
            };
            if row.pattern.is_empty() {
                continue;
            }
            self.entries.push(HttpFingerprint {
                name: row.name,
                scope: row.scope,
                location,
                kind,
                pattern: row.pattern.into_bytes(),
                source: if row.source.is_empty() {
                    list.to_string()
                } else {
                    row.source
                },
            });
            n += 1;
        }
        self.build();
        Ok(n)
    }

    fn build(&mut self) {
        let idx: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, f)| f.location == HttpLocation::Body && f.kind == MatchKind::Contains)
            .map(|(i, _)| i)
            .collect();
        let pats: Vec<&[u8]> = idx
            .iter()
            .filter_map(|&i| self.entries.get(i).map(|f| f.pattern.as_slice()))
            .collect();
        self.body_contains = aho_corasick::AhoCorasick::new(pats)
            .ok()
            .map(|ac| (ac, idx));
    }

    /// The fingerprint a response matches: known false positives are
    /// checked first and win (`Some(fp)` with `false_positive()`).
    pub fn lookup<'a>(
        &self,
        headers: impl Fn(&str) -> Option<&'a [u8]>,
        body: &[u8],
    ) -> Option<&HttpFingerprint> {
        // Every entry the response matches, in list order.
        let mut hits: Vec<usize> = vec![];
        if let Some((ac, idx)) = &self.body_contains {
            for m in ac.find_overlapping_iter(body) {
                if let Some(&i) = idx.get(m.pattern().as_usize()) {
                    hits.push(i);
                }
            }
        }
        for (i, f) in self.entries.iter().enumerate() {
            let hit = match &f.location {
                HttpLocation::Body => f.kind != MatchKind::Contains && f.matches(body),
                HttpLocation::Header(h) => headers(h).is_some_and(|v| f.matches(v)),
            };
            if hit {
                hits.push(i);
            }
        }
        hits.sort_unstable();
        hits.dedup();
        let mut first = None;
        for f in hits.iter().filter_map(|&i| self.entries.get(i)) {
            if f.false_positive() {
                return Some(f);
            }
            first = first.or(Some(f));
        }
        first
    }
}

#[cfg(test)]
mod http_tests {
    use super::*;

    #[test]
    fn builtin_http_list_knows_the_iranian_iframe() {
        let f = HttpFingerprints::builtin().unwrap();
        let body = br#"<html><head><title>403</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site" style="width: 100%"></iframe></body></html>"#;
        let m = f.lookup(|_| None, body).unwrap();
        assert_eq!(m.name, "tw.ir_iframe");
        assert!(f.lookup(|_| None, b"<html>hello</html>").is_none());
    }

    /// Squid's access-denied page (an ACL block by an intercepting or
    /// filtering proxy: `X-Squid-Error: ERR_ACCESS_DENIED 0`), not its
    /// other errors (a dead origin behind it: `ERR_CONNECT_FAIL 111`), and
    /// squidGuard's block redirect.
    #[test]
    fn builtin_http_list_knows_squids_access_denied() {
        let f = HttpFingerprints::builtin().unwrap();
        let page = b"<title>ERROR: The requested URL could not be retrieved</title>";
        let denied: &[u8] = b"ERR_ACCESS_DENIED 0";
        let m = f.lookup(|h| (h == "x-squid-error").then_some(denied), page);
        assert_eq!(m.unwrap().name, "tw.squid_access_denied");
        let failed: &[u8] = b"ERR_CONNECT_FAIL 111";
        assert!(f
            .lookup(|h| (h == "x-squid-error").then_some(failed), page)
            .is_none());
        let loc: &[u8] = b"http://10.0.0.1/cgi-bin/squidGuard.cgi?clientaddr=192.0.2.10&targetgroup=porn&url=http://x.example/";
        let m = f.lookup(|h| (h == "location").then_some(loc), b"");
        assert_eq!(m.unwrap().name, "tw.squidguard_redirect");
    }

    #[test]
    fn the_published_ooni_list_loads_and_matches() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/ooni-blocking-fingerprints/fingerprints_http.csv"
        );
        let Ok(text) = std::fs::read_to_string(p) else {
            eprintln!("skipped: ../shared/data is absent");
            return;
        };
        let mut f = HttpFingerprints::default();
        let n = f.add_ooni_csv("fingerprints_http.csv", &text).unwrap();
        assert!(n > 1500, "{n}");
        assert_eq!(f.skipped, 14); // the regexp rows
        let page = b"<html><head><title>Application Control Violation</title></head></html>";
        let builtin = HttpFingerprints::builtin().unwrap();
        assert!(builtin.lookup(|_| None, page).is_some());
        // a plain page matches nothing in 1,700 patterns
        assert!(f
            .lookup(|_| None, b"<html><body>hello world</body></html>")
            .is_none());
    }

    #[test]
    fn fp_rows_win_and_headers_match() {
        let csv = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n\
            a,isp,,header.location,prefix,http://block.example/,5,,,,\n\
            b,fp,,body,contains,Cloudflare,5,,,,\n\
            c,isp,,body,contains,Access denied,5,,,,\n\
            d,isp,,body,regexp,^x+$,5,,,,\n";
        let mut f = HttpFingerprints::default();
        assert_eq!(f.add_ooni_csv("t", csv).unwrap(), 3);
        assert_eq!(f.skipped, 1);
        let loc: &[u8] = b"http://block.example/?u=1";
        assert_eq!(
            f.lookup(|h| (h == "location").then_some(loc), b"")
                .unwrap()
                .name,
            "a"
        );
        let m = f.lookup(|_| None, b"Access denied by Cloudflare").unwrap();
        assert!(m.false_positive());
    }
}
