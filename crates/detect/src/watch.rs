//! The operator's watch list: named groups of domain patterns. Metric labels
//! carry a group's name (or `other`), never a raw domain or address.
//!
//! Patterns: `example.com` matches the name and every name below it;
//! `*.example.com` only names below it; `=example.com` only the name itself.
//! Matching is case-insensitive; the first group that matches wins.

/// The label for targets in no group.
pub const OTHER: &str = "other";

/// Compiled watch list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchList {
    groups: Vec<(String, Vec<Pattern>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Below(String),
    SelfAndBelow(String),
}

/// A bad pattern or group name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("watch list group {group:?}: {reason}")]
pub struct WatchError {
    /// The group.
    pub group: String,
    /// What is wrong.
    pub reason: String,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

impl WatchList {
    /// Builds a list from (group, patterns) pairs, in order.
    pub fn new<'a>(
        groups: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<WatchList, WatchError> {
        let mut out = vec![];
        for (g, pats) in groups {
            let err = |reason: String| WatchError {
                group: g.to_string(),
                reason,
            };
            if g == OTHER
                || !g
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                || g.is_empty()
                || g.len() > 40
            {
                return Err(err(
                    "group names are 1-40 letters, digits, '_' or '-', and not \"other\"".into(),
                ));
            }
            let mut ps = vec![];
            for p in pats {
                let p = p.trim().to_ascii_lowercase();
                let (kind, name) = if let Some(n) = p.strip_prefix("*.") {
                    (1, n)
                } else if let Some(n) = p.strip_prefix('=') {
                    (2, n)
                } else {
                    (0, p.as_str())
                };
                let name = name.trim_end_matches('.');
                if !valid_name(name) {
                    return Err(err(format!("bad pattern {p:?}")));
                }
                ps.push(match kind {
                    1 => Pattern::Below(name.into()),
                    2 => Pattern::Exact(name.into()),
                    _ => Pattern::SelfAndBelow(name.into()),
                });
            }
            out.push((g.to_string(), ps));
        }
        Ok(WatchList { groups: out })
    }

    /// Group names, in order (the metric label values, `other` excluded).
    pub fn names(&self) -> Vec<&str> {
        self.groups.iter().map(|(g, _)| g.as_str()).collect()
    }

    /// The name of group `i`.
    pub fn name(&self, i: usize) -> Option<&str> {
        self.groups.get(i).map(|(g, _)| g.as_str())
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The index of the group `domain` belongs to, if any.
    pub fn group_of(&self, domain: &str) -> Option<usize> {
        let d = domain.trim_end_matches('.');
        let below = |n: &str| {
            d.len() > n.len()
                && d[d.len() - n.len()..].eq_ignore_ascii_case(n)
                && d.as_bytes()[d.len() - n.len() - 1] == b'.'
        };
        self.groups.iter().position(|(_, ps)| {
            ps.iter().any(|p| match p {
                Pattern::Exact(n) => d.eq_ignore_ascii_case(n),
                Pattern::Below(n) => below(n),
                Pattern::SelfAndBelow(n) => d.eq_ignore_ascii_case(n) || below(n),
            })
        })
    }

    /// The label for `domain`: its group's name or [`OTHER`].
    pub fn label(&self, domain: Option<&str>) -> &str {
        domain
            .and_then(|d| self.group_of(d))
            .and_then(|i| self.groups.get(i))
            .map_or(OTHER, |(g, _)| g.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> WatchList {
        let tw = vec![
            "twitter.com".to_string(),
            "*.twimg.com".into(),
            "=t.co".into(),
        ];
        let yt = vec!["youtube.com".to_string()];
        WatchList::new([("twitter", tw.as_slice()), ("youtube", yt.as_slice())]).unwrap()
    }

    #[test]
    fn patterns() {
        let w = list();
        assert_eq!(w.label(Some("twitter.com")), "twitter");
        assert_eq!(w.label(Some("API.Twitter.com.")), "twitter");
        assert_eq!(w.label(Some("pbs.twimg.com")), "twitter");
        assert_eq!(w.label(Some("twimg.com")), "other");
        assert_eq!(w.label(Some("t.co")), "twitter");
        assert_eq!(w.label(Some("x.t.co")), "other");
        assert_eq!(w.label(Some("nottwitter.com")), "other");
        assert_eq!(w.label(Some("www.youtube.com")), "youtube");
        assert_eq!(w.label(None), "other");
        assert_eq!(w.names(), vec!["twitter", "youtube"]);
    }

    #[test]
    fn bad_lists_are_rejected() {
        let p = vec!["ok.example".to_string()];
        assert!(WatchList::new([("other", p.as_slice())]).is_err());
        assert!(WatchList::new([("bad name", p.as_slice())]).is_err());
        let bad = vec!["exa mple.com".to_string()];
        assert!(WatchList::new([("g", bad.as_slice())]).is_err());
    }
}
