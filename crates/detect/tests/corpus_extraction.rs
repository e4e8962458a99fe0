//! Target extraction on CensorLab's trigger captures (`../shared/corpus`,
//! skipped when absent): every DNS query name, TLS SNI and HTTP Host the
//! experiments sent must be read, and nothing in these captures (requests
//! only, nothing was censored) may raise an event.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tw_capture::{FileSource, Next, Source};
use tw_detect::detectors::{default_detectors, Ctx, Detector, DetectorsConfig, ServerState};
use tw_detect::flow::Flow;
use tw_detect::stats::FlowOutcome;
use tw_detect::{Engine, EngineConfig};

#[derive(Debug)]
struct Targets(Arc<Mutex<Vec<String>>>);

impl Detector for Targets {
    fn name(&self) -> &'static str {
        "targets"
    }
    fn on_flow_end(
        &mut self,
        _: &mut Ctx<'_>,
        flow: &mut Flow,
        _: FlowOutcome,
        _: &mut ServerState,
    ) {
        if let Some(t) = &flow.ext.target {
            self.0.lock().unwrap().push(t.to_string());
        }
    }
}

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/censorlab");
    p.is_dir().then_some(p)
}

fn run(file: &Path) -> (Vec<String>, usize) {
    let seen = Arc::new(Mutex::new(vec![]));
    let mut dets = default_detectors(&DetectorsConfig::default());
    // the recorder runs after the detectors (which fill in the DNS target)
    dets.push(Box::new(Targets(seen.clone())));
    let mut e = Engine::new(EngineConfig::default(), dets);
    let mut src = FileSource::open(file).unwrap();
    while let Next::Frame(f) = src.next().unwrap() {
        e.process_frame(f.linktype, f.data, f.ts_ns, f.orig_len);
    }
    e.finish();
    let mut n = 0;
    e.drain_events(|_| n += 1);
    let v = seen.lock().unwrap().clone();
    (v, n)
}

fn labels(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join("labels.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1).map(str::to_lowercase))
        .collect()
}

#[test]
fn censorlab_dns_query_names() {
    let Some(c) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let (targets, events) = run(&c.join("02_dns_injection/test.pcap"));
    assert_eq!(events, 0);
    let got: BTreeSet<String> = targets.into_iter().collect();
    assert_eq!(got, labels(&c.join("02_dns_injection")));
}

#[test]
fn censorlab_tls_sni() {
    let Some(c) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let (targets, events) = run(&c.join("03_tls_sni/test.pcap"));
    assert_eq!(events, 0);
    let got: BTreeSet<String> = targets.into_iter().collect();
    assert_eq!(got, labels(&c.join("03_tls_sni")));
}

#[test]
fn censorlab_http_hosts() {
    let Some(c) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let (targets, events) = run(&c.join("01_http_keyword/test.pcap"));
    assert_eq!(events, 0);
    // one request per labelled row, each with a Host header
    let rows = std::fs::read_to_string(c.join("01_http_keyword/labels.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(targets.len(), rows);
    assert!(
        targets.iter().all(|t| t == "example.com"),
        "{:?}",
        &targets[..5]
    );
}

#[test]
fn gfw_report_quic_victim_sni() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/quic-sni/quic_victim_client_anon.pcap");
    if !p.is_file() {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    }
    let (targets, events) = run(&p);
    assert_eq!(events, 0);
    // every Initial is decrypted (RFC 9001 initial keys) and names the test site
    assert_eq!(targets.len(), 42);
    assert!(
        targets.iter().all(|t| t == "http3check.net"),
        "{:?}",
        &targets[..3]
    );
}
