//! Input filter of the `config` fuzz target, shared with the replay test
//! (`crates/tamperwatch/tests/fuzz_corpus.rs`, which runs
//! `tamperwatch check-config` on each corpus file).

/// Whether a TOML text names files to read (`fingerprint_files`, or any key
/// containing "files"): the parser would then read files named by the
/// input (`/dev/zero`, `/dev/stdin`), operators' paths rather than hostile
/// input, so such inputs are skipped.
pub fn names_files(text: &str) -> bool {
    fn walk(v: &toml::Value) -> bool {
        match v {
            toml::Value::Table(t) => t.iter().any(|(k, v)| k.contains("files") || walk(v)),
            toml::Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    toml::from_str::<toml::Value>(text).is_ok_and(|v| walk(&v))
}
