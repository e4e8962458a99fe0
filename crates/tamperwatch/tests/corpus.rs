//! Real-world captures from `../shared/corpus` (skipped when absent): every
//! capture must be read completely, decode without errors or panics, give
//! sensible flow counts, and agree with tcpdump's packet count.

mod common;
use common::*;
use std::path::PathBuf;

fn pcaps(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap" | "pcapng")
            ) {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

#[test]
fn every_shared_capture_decodes() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let files = pcaps(&corpus);
    assert!(
        files.len() >= 20,
        "expected the shared corpus, found {} files",
        files.len()
    );
    for f in &files {
        let r = replay(std::slice::from_ref(f), &["--quiet"]);
        assert_eq!(r.status, 0, "{}: {}", f.display(), r.stderr);
        let packets = metric(&r.metrics, "tamperwatch_packets_total", &[]).unwrap();
        let errors = metric(&r.metrics, "tamperwatch_decode_errors_total", &[]).unwrap();
        let tcp = metric(
            &r.metrics,
            "tamperwatch_flows_started_total",
            &[("proto", "tcp")],
        )
        .unwrap();
        let udp = metric(
            &r.metrics,
            "tamperwatch_flows_started_total",
            &[("proto", "udp")],
        )
        .unwrap();
        let active = metric(&r.metrics, "tamperwatch_flows_active", &[]).unwrap();
        let finished = metric(&r.metrics, "tamperwatch_flows_finished_total", &[]).unwrap();
        assert!(packets > 0.0, "{}", f.display());
        assert_eq!(errors, 0.0, "{}: decode errors\n{}", f.display(), r.metrics);
        let untracked = metric(&r.metrics, "tamperwatch_untracked_packets_total", &[]).unwrap();
        assert!(
            tcp + udp >= 1.0 || untracked == packets,
            "{}: no flows",
            f.display()
        );
        assert!(
            tcp + udp <= packets,
            "{}: more flows than packets",
            f.display()
        );
        // At the end of a replay every flow has ended, one way or another.
        assert_eq!(active, 0.0, "{}", f.display());
        assert_eq!(finished, tcp + udp, "{}", f.display());
        if let Some(n) = tcpdump_count(f) {
            assert_eq!(
                packets as u64,
                n,
                "{}: tcpdump counts {n} packets",
                f.display()
            );
        }
    }
}

#[test]
fn known_captures_have_the_expected_flows() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    // Zeek's dns-two-responses: one query, two identical answers: one UDP flow, answered.
    let r = replay(&[corpus.join("zeek/dns-two-responses.pcap")], &["--quiet"]);
    assert_eq!(
        metric(&r.metrics, "tamperwatch_packets_total", &[("proto", "udp")]),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_flows_finished_total",
            &[("proto", "udp"), ("outcome", "answered")]
        ),
        Some(1.0)
    );
    // A lone RST creates no flow.
    let r = replay(&[corpus.join("zeek/single-rst.pcap")], &["--quiet"]);
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_flows_started_total",
            &[("proto", "tcp")]
        ),
        Some(0.0)
    );
    assert_eq!(
        metric(&r.metrics, "tamperwatch_untracked_packets_total", &[]),
        Some(1.0)
    );
    // The Citizen Lab capture: two HTTP flows.
    let r = replay(
        &[corpus.join("badtraffic/adhose-trickle-riseupvpn.pcap")],
        &["--quiet"],
    );
    assert_eq!(
        metric(
            &r.metrics,
            "tamperwatch_flows_started_total",
            &[("proto", "tcp")]
        ),
        Some(2.0)
    );
}

#[test]
fn one_and_two_workers_agree_on_the_corpus() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus is absent");
        return;
    };
    let files = pcaps(&corpus);
    let one = replay(&files, &["--quiet", "--workers", "1"]);
    let two = replay(&files, &["--quiet", "--workers", "2"]);
    assert_eq!(one.status, 0);
    assert_eq!(two.status, 0);
    for name in [
        "tamperwatch_packets_total",
        "tamperwatch_flows_started_total",
        "tamperwatch_flows_finished_total",
        "tamperwatch_events_total",
    ] {
        assert_eq!(
            metric(&one.metrics, name, &[]),
            metric(&two.metrics, name, &[]),
            "{name}"
        );
    }
    let ids = |r: &Replay| {
        let mut v: Vec<String> = r
            .events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&one), ids(&two));
}
