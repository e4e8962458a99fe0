//! docs/metrics.md must list every metric the registry exports, and name no
//! metric that does not exist.

use tw_metrics::{Metrics, VantageInfo};

#[test]
fn metrics_doc_matches_the_registry() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/metrics.md"
    ))
    .unwrap();
    let m = Metrics::new(Some(VantageInfo {
        vantage: "v".into(),
        country: "c".into(),
        network: "n".into(),
    }));
    m.interface("eth0");
    let names = m.metric_names();
    let ours: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("tamperwatch_"))
        .collect();
    assert!(ours.len() >= 20, "{ours:?}");
    for n in &ours {
        assert!(
            doc.contains(&format!("`{n}`")),
            "docs/metrics.md does not describe {n}"
        );
    }
    // every `tamperwatch_...` name in the doc exists
    for word in doc.split('`') {
        if word.starts_with("tamperwatch_") && !word.contains(' ') && !word.contains('{') {
            assert!(
                names.iter().any(|n| n == word),
                "docs/metrics.md names {word}, which is not exported"
            );
        }
    }
}
