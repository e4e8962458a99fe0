//! Every evidence field, rule and contrast the binary writes on the
//! fixtures (and the shared corpus, when present) is documented: named in
//! backticks or quotes in its signature's page (`docs/signatures/`) or in
//! `docs/events.md`. Researchers read the evidence by those pages; a field
//! added to an event without a word there fails here (a documentation
//! audit of session 26 found eighteen).

mod common;

use serde_json::Value;
use std::collections::BTreeSet;

/// (signature, what, name) of every evidence key (at any depth) and every
/// string in `rules` and `contrast`.
fn names(ev: &Value, out: &mut BTreeSet<(String, &'static str, String)>) {
    fn walk(sig: &str, v: &Value, out: &mut BTreeSet<(String, &'static str, String)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    out.insert((sig.to_string(), "field", k.clone()));
                    if k == "rules" || k == "contrast" {
                        for r in x.as_array().into_iter().flatten() {
                            if let Some(r) = r.as_str() {
                                out.insert((sig.to_string(), "rule or contrast", r.to_string()));
                            }
                        }
                    }
                    walk(sig, x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(sig, x, out)),
            _ => {}
        }
    }
    let sig = ev["signature"].as_str().unwrap();
    walk(sig, &ev["evidence"], out);
}

#[test]
fn every_evidence_field_rule_and_contrast_is_documented() {
    let root = common::root();
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    if let Some(c) = common::corpus() {
        for d in walkdir(&c) {
            files.push(d);
        }
    }
    files.sort();
    let mut seen = BTreeSet::new();
    let mut events = 0;
    // one file at a time: fixtures overlap in time
    for f in &files {
        let r = common::replay(std::slice::from_ref(f), &["--workers", "1", "-q"]);
        for ev in &r.events {
            events += 1;
            names(ev, &mut seen);
        }
    }
    let signatures: BTreeSet<_> = seen.iter().map(|(s, _, _)| s.clone()).collect();
    assert_eq!(
        signatures.len(),
        5,
        "fixtures cover every signature: {signatures:?}"
    );
    let events_md = std::fs::read_to_string(root.join("docs/events.md")).unwrap();
    let mut missing = Vec::new();
    for (sig, what, name) in &seen {
        let page = std::fs::read_to_string(root.join(format!("docs/signatures/{sig}.md")))
            .unwrap_or_else(|e| panic!("docs/signatures/{sig}.md: {e}"));
        let named =
            |t: &str| t.contains(&format!("`{name}`")) || t.contains(&format!("\"{name}\""));
        if !named(&page) && !named(&events_md) {
            missing.push(format!("{sig}: {what} {name}"));
        }
    }
    eprintln!(
        "{events} events from {} files: {} names checked",
        files.len(),
        seen.len()
    );
    assert!(events >= 30, "only {events} events");
    assert!(
        missing.is_empty(),
        "undocumented in docs/signatures or docs/events.md: {missing:#?}"
    );
}

/// Capture files under `dir`, at any depth.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
    out
}
