//! The operator's watch list: named groups of domain patterns. Metric labels
//! carry a group's name (or `other`), never a raw domain or address.
//!
//! Patterns: `example.com` matches the name and every name below it;
//! `*.example.com` only names below it; `=example.com` only the name itself.
//! Matching is case-insensitive; the first group that matches wins.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The label for targets in no group.
pub const OTHER: &str = "other";

/// Compiled watch list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchList {
    groups: Vec<(String, Vec<Pattern>)>,
    /// Every pattern's name, with the first group that matches the name
    /// itself and the first that matches names below it: a lookup costs one
    /// probe per label of the domain, not one comparison per pattern (lists
    /// built from test lists hold thousands, and every connection and query
    /// with a target is looked up).
    index: HashMap<Box<[u8]>, Hits, BuildHasherDefault<ahash::AHasher>>,
}

/// The first group (index) with a pattern for a name that matches the name
/// itself (`=name` or `name`), and the first with one that matches names
/// below it (`*.name` or `name`); `u32::MAX`: none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hits {
    itself: u32,
    below: u32,
}

/// Longest name a pattern holds (see `valid_name`).
const NAME_MAX: usize = 253;

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
        let mut index: HashMap<Box<[u8]>, Hits, _> = HashMap::default();
        for (gi, (_, ps)) in out.iter().enumerate() {
            let gi = u32::try_from(gi).unwrap_or(u32::MAX);
            for p in ps {
                let (name, itself, below) = match p {
                    Pattern::Exact(n) => (n, true, false),
                    Pattern::Below(n) => (n, false, true),
                    Pattern::SelfAndBelow(n) => (n, true, true),
                };
                let h = index.entry(name.as_bytes().into()).or_insert(Hits {
                    itself: u32::MAX,
                    below: u32::MAX,
                });
                if itself {
                    h.itself = h.itself.min(gi);
                }
                if below {
                    h.below = h.below.min(gi);
                }
            }
        }
        Ok(WatchList { groups: out, index })
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

    /// The index of the group `domain` belongs to, if any: the first group
    /// with a pattern that matches it, in any letter case.
    pub fn group_of(&self, domain: &str) -> Option<usize> {
        if self.index.is_empty() {
            return None;
        }
        let d = domain.trim_end_matches('.').as_bytes();
        // A pattern's name is at most NAME_MAX bytes: only the name itself
        // (if that short) and its suffixes after a dot in the last
        // NAME_MAX + 1 bytes can match one.
        let start = d.len().saturating_sub(NAME_MAX + 1);
        let mut buf = [0u8; NAME_MAX + 1];
        let tail = &mut buf[..d.len() - start];
        tail.copy_from_slice(&d[start..]);
        tail.make_ascii_lowercase();
        let mut best = u32::MAX;
        if start == 0 {
            if let Some(h) = self.index.get(&*tail) {
                best = h.itself;
            }
        }
        for (i, _) in tail.iter().enumerate().filter(|(_, c)| **c == b'.') {
            if let Some(h) = tail.get(i + 1..).and_then(|n| self.index.get(n)) {
                best = best.min(h.below);
            }
        }
        (best != u32::MAX).then_some(best as usize)
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

    /// The list as it was matched before the index: every pattern of every
    /// group in order, the first match wins.
    fn group_of_by_scan(w: &WatchList, domain: &str) -> Option<usize> {
        let d = domain.trim_end_matches('.');
        let below = |n: &str| {
            d.len() > n.len()
                && d[d.len() - n.len()..].eq_ignore_ascii_case(n)
                && d.as_bytes()[d.len() - n.len() - 1] == b'.'
        };
        w.groups.iter().position(|(_, ps)| {
            ps.iter().any(|p| match p {
                Pattern::Exact(n) => d.eq_ignore_ascii_case(n),
                Pattern::Below(n) => below(n),
                Pattern::SelfAndBelow(n) => d.eq_ignore_ascii_case(n) || below(n),
            })
        })
    }

    #[test]
    fn the_first_matching_group_wins_across_kinds() {
        let a = vec!["*.example.com".to_string(), "=exact.example".into()];
        let b = vec!["example.com".to_string(), "exact.example".into()];
        let c = vec!["=example.com".to_string(), "x.exact.example".into()];
        let w = WatchList::new([
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
        ])
        .unwrap();
        assert_eq!(w.group_of("example.com"), Some(1));
        assert_eq!(w.group_of("www.Example.COM."), Some(0));
        assert_eq!(w.group_of("exact.example"), Some(0));
        assert_eq!(w.group_of("x.exact.example"), Some(1));
        assert_eq!(w.group_of("y.x.exact.example"), Some(1));
        assert_eq!(w.group_of("com"), None);
        assert_eq!(w.group_of(""), None);
        assert_eq!(w.group_of("."), None);
        // names longer than any pattern still match below one
        let long = format!("{}.example.com", "a.".repeat(200));
        assert_eq!(w.group_of(&long), Some(0));
        assert_eq!(WatchList::default().group_of("example.com"), None);
    }

    proptest::proptest! {
        #[test]
        fn the_index_matches_as_a_scan_of_every_pattern_does(
            groups in proptest::collection::vec(
                proptest::collection::vec("(\\*\\.|=)?[abAB]{1,2}(\\.[abAB]{1,2}){0,2}", 0..5),
                0..5,
            ),
            domains in proptest::collection::vec("[abAB.]{0,12}", 1..20),
        ) {
            let names: Vec<String> = (0..groups.len()).map(|i| format!("g{i}")).collect();
            let w = WatchList::new(
                names.iter().map(String::as_str).zip(groups.iter().map(Vec::as_slice)),
            )
            .unwrap();
            for d in &domains {
                proptest::prop_assert_eq!(w.group_of(d), group_of_by_scan(&w, d), "{:?}", d);
            }
        }
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
