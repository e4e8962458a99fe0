use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tw_detect::stats::{
    DecodeError, EvictionReason, FlowOutcome, FlowProto, LinkDownExcused, PacketProto, Signature,
    Stats,
};

use crate::*;

fn vantage() -> VantageInfo {
    VantageInfo {
        vantage: "lab-1".into(),
        country: "DE".into(),
        network: "AS3320".into(),
    }
}

/// One parsed sample line: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A small parser for the text exposition format (enough for our output:
/// quoted label values with `\\`, `\"` and `\n` escapes).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("bad line {line:?}"),
        };
        let mut labels = BTreeMap::new();
        let rest = if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices();
            let end;
            loop {
                // label name
                let mut lname = String::new();
                let mut c = chars.next().expect("label or }");
                if c.1 == '}' {
                    end = Some(c.0);
                    break;
                }
                while c.1 != '=' {
                    lname.push(c.1);
                    c = chars.next().expect("=");
                }
                assert_eq!(chars.next().map(|c| c.1), Some('"'), "{line}");
                let mut val = String::new();
                loop {
                    let (_, ch) = chars.next().expect("closing quote");
                    match ch {
                        '\\' => match chars.next().expect("escape").1 {
                            'n' => val.push('\n'),
                            e => val.push(e),
                        },
                        '"' => break,
                        ch => val.push(ch),
                    }
                }
                assert!(
                    labels.insert(lname, val).is_none(),
                    "duplicate label in {line}"
                );
                match chars.next().expect(", or }") {
                    (_, ',') => continue,
                    (i, '}') => {
                        end = Some(i);
                        break;
                    }
                    (_, c) => panic!("unexpected {c:?} in {line}"),
                }
            }
            &r[end.expect("end") + 1..]
        } else {
            rest
        };
        let value = rest
            .trim()
            .split(' ')
            .next()
            .expect("value")
            .parse()
            .expect("number");
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

fn value(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<f64> = parse(&m.render())
        .into_iter()
        .filter(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
        .collect();
    assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
    found[0]
}

fn sample_stats(scale: u64) -> Stats {
    let mut s = Stats::default();
    for (i, p) in PacketProto::ALL.iter().enumerate() {
        s.packets[p.idx()] = scale * (i as u64 + 1);
        s.bytes[p.idx()] = scale * 100 * (i as u64 + 1);
    }
    for d in DecodeError::ALL {
        s.decode_errors[d.idx()] = scale;
    }
    s.flows_active = [3 * scale, scale];
    s.flows_started = [10 * scale, 5 * scale];
    for p in FlowProto::ALL {
        for o in FlowOutcome::ALL {
            s.flows_finished[p.idx()][o.idx()] = scale * (o.idx() as u64 + 1);
        }
    }
    for e in EvictionReason::ALL {
        s.evictions[e.idx()] = scale;
    }
    s.untracked_packets = 7 * scale;
    s.packets_behind = 17 * scale;
    s.server_evictions = 11 * scale;
    s.throttle_records_dropped = 13 * scale;
    s.hello_buffers_exhausted = 17 * scale;
    s.blackhole_first_hop_handshake = 19 * scale;
    s.rst_server_end_reject = 23 * scale;
    s.blackhole_port_scan = 29 * scale;
    s.blackhole_inbound = 31 * scale;
    s.blackhole_https_upgrade = 31 * scale;
    for g in Signature::ALL {
        s.events[g.idx()] = scale * (g.idx() as u64 + 2);
    }
    for x in LinkDownExcused::ALL {
        s.link_down_excused[x.idx()] = scale * (x.idx() as u64 + 3);
    }
    for x in BlackholeStage::ALL {
        s.blackhole_server_busy[x.idx()] = scale * (x.idx() as u64 + 5);
    }
    for (i, n) in s.rst_first_hop.iter_mut().enumerate() {
        *n = scale * (i as u64 + 7);
    }
    s
}

/// Asserts that the registry's exported values equal `want`.
fn assert_matches(m: &Metrics, want: &Stats) {
    for p in PacketProto::ALL {
        let l = [("proto", p.as_str())];
        assert_eq!(
            value(m, "tamperwatch_packets_total", &l),
            want.packets[p.idx()] as f64
        );
        assert_eq!(
            value(m, "tamperwatch_bytes_total", &l),
            want.bytes[p.idx()] as f64
        );
    }
    for d in DecodeError::ALL {
        let v = value(
            m,
            "tamperwatch_decode_errors_total",
            &[("reason", d.as_str())],
        );
        assert_eq!(v, want.decode_errors[d.idx()] as f64);
    }
    for p in FlowProto::ALL {
        let l = [("proto", p.as_str())];
        assert_eq!(
            value(m, "tamperwatch_flows_active", &l),
            want.flows_active[p.idx()] as f64
        );
        let started = value(m, "tamperwatch_flows_started_total", &l);
        assert_eq!(started, want.flows_started[p.idx()] as f64);
        for o in FlowOutcome::ALL {
            let l = [("proto", p.as_str()), ("outcome", o.as_str())];
            let v = value(m, "tamperwatch_flows_finished_total", &l);
            assert_eq!(v, want.flows_finished[p.idx()][o.idx()] as f64);
        }
    }
    for e in EvictionReason::ALL {
        let v = value(
            m,
            "tamperwatch_flow_evictions_total",
            &[("reason", e.as_str())],
        );
        assert_eq!(v, want.evictions[e.idx()] as f64);
    }
    let v = value(m, "tamperwatch_untracked_packets_total", &[]);
    assert_eq!(v, want.untracked_packets as f64);
    let v = value(m, "tamperwatch_packets_behind_total", &[]);
    assert_eq!(v, want.packets_behind as f64);
    let v = value(m, "tamperwatch_server_evictions_total", &[]);
    assert_eq!(v, want.server_evictions as f64);
    let v = value(m, "tamperwatch_throttle_records_dropped_total", &[]);
    assert_eq!(v, want.throttle_records_dropped as f64);
    let v = value(m, "tamperwatch_hello_reassembly_refused_total", &[]);
    assert_eq!(v, want.hello_buffers_exhausted as f64);
    let v = value(m, "tamperwatch_blackhole_first_hop_handshake_total", &[]);
    assert_eq!(v, want.blackhole_first_hop_handshake as f64);
    let v = value(m, "tamperwatch_rst_server_end_reject_total", &[]);
    assert_eq!(v, want.rst_server_end_reject as f64);
    let v = value(m, "tamperwatch_blackhole_port_scan_total", &[]);
    assert_eq!(v, want.blackhole_port_scan as f64);
    let v = value(m, "tamperwatch_blackhole_inbound_total", &[]);
    assert_eq!(v, want.blackhole_inbound as f64);
    let v = value(m, "tamperwatch_blackhole_https_upgrade_total", &[]);
    assert_eq!(v, want.blackhole_https_upgrade as f64);
    for x in LinkDownExcused::ALL {
        let v = value(
            m,
            "tamperwatch_link_down_excused_total",
            &[("signature", x.as_str())],
        );
        assert_eq!(v, want.link_down_excused[x.idx()] as f64);
    }
    for x in BlackholeStage::ALL {
        let v = value(
            m,
            "tamperwatch_blackhole_server_busy_total",
            &[("stage", x.as_str())],
        );
        assert_eq!(v, want.blackhole_server_busy[x.idx()] as f64);
    }
    for (i, a) in tw_detect::detectors::rst::LocalResets::ACTIONS
        .iter()
        .enumerate()
    {
        let v = value(m, "tamperwatch_rst_first_hop_total", &[("action", a)]);
        assert_eq!(v, want.rst_first_hop[i] as f64);
    }
    for g in Signature::ALL {
        let v = value(m, "tamperwatch_events_total", &[("signature", g.as_str())]);
        assert_eq!(v, want.events[g.idx()] as f64);
    }
}

#[test]
fn publish_adds_deltas() {
    let m = Metrics::new(None);
    let mut p = StatsPublisher::new();
    p.publish(&m, &sample_stats(1));
    assert_matches(&m, &sample_stats(1));
    // Publishing the same stats again changes nothing.
    p.publish(&m, &sample_stats(1));
    assert_matches(&m, &sample_stats(1));
    p.publish(&m, &sample_stats(4));
    assert_matches(&m, &sample_stats(4));
    // flows_active may go down.
    let mut s = sample_stats(4);
    s.flows_active = [1, 0];
    p.publish(&m, &s);
    assert_matches(&m, &s);
    assert_eq!(p.last(), &s);
}

#[test]
fn two_workers_sum() {
    let m = Metrics::new(None);
    let (mut pa, mut pb) = (StatsPublisher::new(), StatsPublisher::new());
    let mut a = sample_stats(2);
    let mut b = sample_stats(3);
    pa.publish(&m, &a);
    pb.publish(&m, &b);
    // Worker a's flows close, worker b's grow; both keep counting.
    a.flows_active = [0, 1];
    a.packets[PacketProto::Udp.idx()] += 50;
    b.flows_active = [20, 9];
    b.events[Signature::DnsInjection.idx()] += 4;
    pa.publish(&m, &a);
    pb.publish(&m, &b);
    pa.publish(&m, &a);
    let mut sum = a.clone();
    sum.merge(&b);
    assert_matches(&m, &sum);
    assert_eq!(
        value(&m, "tamperwatch_flows_active", &[("proto", "tcp")]),
        20.0
    );

    // A retiring worker withdraws its active flows but keeps its counts.
    a.flows_active = [2, 2];
    pa.retire(&m, &a);
    sum = a.clone();
    sum.merge(&b);
    sum.flows_active = b.flows_active;
    assert_matches(&m, &sum);
}

#[test]
fn render_initialises_every_series() {
    let m = Metrics::new(None);
    let text = m.render();
    let samples = parse(&text);
    let has = |name: &str, labels: &[(&str, &str)]| {
        samples.iter().any(|s| {
            s.name == name
                && s.value == 0.0
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    };
    for p in PacketProto::ALL {
        assert!(
            has("tamperwatch_packets_total", &[("proto", p.as_str())]),
            "{p}"
        );
        assert!(
            has("tamperwatch_bytes_total", &[("proto", p.as_str())]),
            "{p}"
        );
    }
    for d in DecodeError::ALL {
        assert!(
            has("tamperwatch_decode_errors_total", &[("reason", d.as_str())]),
            "{d}"
        );
    }
    for p in FlowProto::ALL {
        assert!(has("tamperwatch_flows_active", &[("proto", p.as_str())]));
        assert!(has(
            "tamperwatch_flows_started_total",
            &[("proto", p.as_str())]
        ));
        for o in FlowOutcome::ALL {
            let l = [("proto", p.as_str()), ("outcome", o.as_str())];
            assert!(has("tamperwatch_flows_finished_total", &l), "{p} {o}");
        }
    }
    for e in EvictionReason::ALL {
        assert!(has(
            "tamperwatch_flow_evictions_total",
            &[("reason", e.as_str())]
        ));
    }
    assert!(has("tamperwatch_untracked_packets_total", &[]));
    assert!(has("tamperwatch_packets_behind_total", &[]));
    for s in Signature::ALL {
        assert!(has(
            "tamperwatch_events_total",
            &[("signature", s.as_str())]
        ));
    }
    for r in DropReason::ALL {
        assert!(has(
            "tamperwatch_events_dropped_total",
            &[("reason", r.as_str())]
        ));
    }
    for s in Sink::ALL {
        assert!(has(
            "tamperwatch_events_written_total",
            &[("sink", s.as_str())]
        ));
    }
    assert!(has("tamperwatch_workers", &[]));
    assert!(has("tamperwatch_last_packet_timestamp_seconds", &[]));

    // Every registered family shows up with HELP and TYPE, except
    // vantage_info without a vantage.
    let names = m.metric_names();
    for n in [
        "tamperwatch_build_info",
        "tamperwatch_vantage_info",
        "tamperwatch_capture_up",
        "tamperwatch_capture_packets_total",
        "tamperwatch_capture_kernel_drops_total",
        "tamperwatch_capture_kernel_freezes_total",
        "tamperwatch_start_time_seconds",
        "tamperwatch_config_last_reload_successful",
        "tamperwatch_config_last_reload_success_timestamp_seconds",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} not registered");
    }
    for n in &names {
        let present = text.contains(&format!("# TYPE {n} "));
        let capture = n.starts_with("tamperwatch_capture_");
        let expected = n != "tamperwatch_vantage_info" && !capture;
        assert_eq!(present, expected, "{n}");
        if present {
            assert!(text.contains(&format!("# HELP {n} ")), "{n}");
        }
        assert!(
            n.starts_with("tamperwatch_") || n.starts_with("process_"),
            "{n} lacks the tamperwatch_ prefix"
        );
        let counter = text.contains(&format!("# TYPE {n} counter"));
        if present {
            assert_eq!(counter, n.ends_with("_total"), "{n}: _total iff counter");
        }
    }
    #[cfg(target_os = "linux")]
    {
        assert!(names.iter().any(|n| n == "process_resident_memory_bytes"));
        assert!(names.iter().any(|n| n == "process_cpu_seconds_total"));
        assert!(text.contains("\nprocess_resident_memory_bytes "));
    }

    // build_info
    let b: Vec<_> = samples
        .iter()
        .filter(|s| s.name == "tamperwatch_build_info")
        .collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].value, 1.0);
    assert_eq!(b[0].labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(b[0].labels.contains_key("commit"));
    assert!(!b[0].labels["rustc"].is_empty());
    assert!(!b[0].labels["target"].is_empty());

    // start time and config reload defaults
    let start = value(&m, "tamperwatch_start_time_seconds", &[]);
    assert!(start > 1.6e9, "{start}");
    assert_eq!(start, m.start_time_seconds());
    assert_eq!(
        value(&m, "tamperwatch_config_last_reload_successful", &[]),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "tamperwatch_config_last_reload_success_timestamp_seconds",
            &[]
        ),
        start
    );
}

#[test]
fn vantage_info_exported_when_configured() {
    let m = Metrics::new(Some(vantage()));
    let l = [
        ("vantage", "lab-1"),
        ("country", "DE"),
        ("network", "AS3320"),
    ];
    assert_eq!(value(&m, "tamperwatch_vantage_info", &l), 1.0);
    assert_eq!(m.vantage(), Some(&vantage()));
    assert!(!Metrics::new(None)
        .render()
        .contains("tamperwatch_vantage_info{"));
}

#[test]
fn interfaces_and_gauges() {
    let m = Metrics::new(None);
    let eth = m.interface("eth0");
    let l = [("interface", "eth0")];
    assert_eq!(value(&m, "tamperwatch_capture_up", &l), 0.0);
    assert_eq!(value(&m, "tamperwatch_capture_kernel_drops_total", &l), 0.0);
    assert_eq!(
        value(&m, "tamperwatch_capture_kernel_freezes_total", &l),
        0.0
    );
    eth.set_up(true);
    eth.add_packets(10);
    eth.clone().add_kernel_drops(2);
    m.interface("eth0").add_kernel_freezes(1);
    assert_eq!(m.interfaces().len(), 1);
    assert_eq!(value(&m, "tamperwatch_capture_up", &l), 1.0);
    assert_eq!(value(&m, "tamperwatch_capture_packets_total", &l), 10.0);
    assert_eq!(value(&m, "tamperwatch_capture_kernel_drops_total", &l), 2.0);
    assert_eq!(
        value(&m, "tamperwatch_capture_kernel_freezes_total", &l),
        1.0
    );

    // the capture moved to another interface (the default route did)
    m.interface("wlan0").set_up(true);
    m.forget_interface("eth0");
    assert_eq!(m.interfaces().len(), 1);
    assert_eq!(m.interfaces()[0].name(), "wlan0");
    assert!(!m.render().contains("interface=\"eth0\""));
    assert_eq!(
        value(&m, "tamperwatch_capture_up", &[("interface", "wlan0")]),
        1.0
    );

    m.set_workers(3);
    assert_eq!(value(&m, "tamperwatch_workers", &[]), 3.0);

    m.observe_packet_time(1_700_000_000_500_000_000);
    m.observe_packet_time(1_600_000_000_000_000_000); // older: ignored
    assert_eq!(
        value(&m, "tamperwatch_last_packet_timestamp_seconds", &[]),
        1_700_000_000.5
    );
    // A step of the host's clock (live packet times are steady): the
    // packet time is shown by the corrected clock, the step counted once
    // however many capture threads report it.
    assert_eq!(value(&m, "tamperwatch_clock_steps_total", &[]), 0.0);
    assert!(m.clock_stepped(1, -2_500_000_000));
    assert!(!m.clock_stepped(1, -2_500_000_000));
    assert_eq!(m.clock_correction_ns(), -2_500_000_000);
    assert_eq!(value(&m, "tamperwatch_clock_steps_total", &[]), 1.0);
    assert_eq!(value(&m, "tamperwatch_clock_correction_seconds", &[]), -2.5);
    assert_eq!(
        value(&m, "tamperwatch_last_packet_timestamp_seconds", &[]),
        1_699_999_998.0
    );
    m.observe_packet_time(1_700_000_001_000_000_000);
    assert_eq!(
        value(&m, "tamperwatch_last_packet_timestamp_seconds", &[]),
        1_699_999_998.5
    );
    assert!(m.clock_stepped(3, 0));
    assert_eq!(value(&m, "tamperwatch_clock_steps_total", &[]), 3.0);
    // a stale report (fewer steps) changes nothing; one of as many steps
    // with a newer correction (read after a step the other thread counted)
    // is taken, and counts no step
    assert!(!m.clock_stepped(2, 7));
    assert_eq!(m.clock_correction_ns(), 0);
    assert!(!m.clock_stepped(3, 5));
    assert_eq!(m.clock_correction_ns(), 5);
    assert_eq!(value(&m, "tamperwatch_clock_steps_total", &[]), 3.0);
    assert!(!m.clock_stepped(3, 0));
    assert_eq!(m.clock_correction_ns(), 0);
    assert_eq!(
        value(&m, "tamperwatch_last_packet_timestamp_seconds", &[]),
        1_700_000_001.0
    );

    m.record_config_reload(false);
    assert_eq!(
        value(&m, "tamperwatch_config_last_reload_successful", &[]),
        0.0
    );
    m.record_config_reload(true);
    assert_eq!(
        value(&m, "tamperwatch_config_last_reload_successful", &[]),
        1.0
    );

    m.events_dropped(DropReason::QueueFull).inc_by(2);
    m.events_written(Sink::Stdout).inc();
    assert_eq!(
        value(
            &m,
            "tamperwatch_events_dropped_total",
            &[("reason", "queue_full")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &m,
            "tamperwatch_events_written_total",
            &[("sink", "stdout")]
        ),
        1.0
    );
}

#[test]
fn concurrent_packet_time_is_the_maximum() {
    let m = Arc::new(Metrics::new(None));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..2000i64 {
                    m.observe_packet_time((i * 4 + t) * 1_000_000);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let want = ((1999i64 * 4 + 3) * 1_000_000) as f64 / 1e9;
    assert_eq!(
        value(&m, "tamperwatch_last_packet_timestamp_seconds", &[]),
        want
    );
}

/// No label may carry a client address: only allow-listed label names, and
/// no value that parses as an IP address (or address:port).
#[test]
fn privacy_label_allow_list() {
    const ALLOWED: &[&str] = &[
        "proto",
        "reason",
        "outcome",
        "signature",
        "stage",
        "rcode",
        "group",
        "le",
        "interface",
        "sink",
        "version",
        "commit",
        "rustc",
        "target",
        "vantage",
        "country",
        "network",
        "kind",
        "table",
        "result",
        "action",
    ];
    let m = Metrics::new(Some(vantage()));
    let eth = m.interface("eth0");
    eth.set_up(true);
    eth.add_packets(5);
    m.interface("wlan0");
    let mut p = StatsPublisher::new();
    p.publish(&m, &sample_stats(3));
    m.observe_packet_time(1_700_000_000_000_000_000);
    m.events_written(Sink::File).inc();
    let samples = parse(&m.render());
    assert!(samples.len() > 60, "{}", samples.len());
    for s in &samples {
        for (k, v) in &s.labels {
            assert!(
                ALLOWED.contains(&k.as_str()),
                "label {k} of {} not allow-listed",
                s.name
            );
            assert!(
                v.parse::<IpAddr>().is_err(),
                "{}{{{k}={v:?}}} is an IP address",
                s.name
            );
            assert!(
                v.parse::<SocketAddr>().is_err(),
                "{}{{{k}={v:?}}} is an address",
                s.name
            );
        }
    }
}

#[test]
fn names_sorted_unique() {
    let n = Metrics::new(None).metric_names();
    let mut s = n.clone();
    s.sort();
    s.dedup();
    assert_eq!(n, s);
    assert!(n.len() >= 23, "{n:?}");
}

// ---- HTTP ----

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let raw = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head/body");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.split(' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"));
    let status = parts.next().expect("status").parse().expect("status code");
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), MetricsError>>,
}

async fn start(metrics: Arc<Metrics>, health: HealthFn) -> Server {
    let listener = bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, metrics, health, async move {
        let _ = rx.await;
    }));
    Server {
        addr,
        stop: Some(tx),
        task,
    }
}

impl Server {
    async fn stop(mut self) {
        self.stop
            .take()
            .expect("running")
            .send(())
            .expect("server alive");
        tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .expect("server stops promptly")
            .expect("join")
            .expect("serve ok");
    }
}

#[tokio::test]
async fn http_metrics_landing_404() {
    let m = Arc::new(Metrics::new(Some(VantageInfo {
        vantage: "<lab>".into(),
        ..vantage()
    })));
    m.set_workers(2);
    let srv = start(m.clone(), capture_health(m.clone())).await;

    let r = request(srv.addr, "GET", "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(CONTENT_TYPE));
    assert!(r.body.contains("tamperwatch_workers 2\n"), "{}", r.body);
    assert!(r
        .body
        .contains("# TYPE tamperwatch_packets_total counter\n"));
    assert!(r
        .body
        .contains("tamperwatch_packets_total{proto=\"tcp\"} 0\n"));

    let r = request(srv.addr, "GET", "/").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .expect("ct")
        .starts_with("text/html"));
    assert!(r.body.contains("href=\"metrics\""));
    assert!(r.body.contains("href=\"healthz\""));
    assert!(r.body.contains(VERSION));
    assert!(
        r.body.contains("&lt;lab&gt;"),
        "vantage is escaped: {}",
        r.body
    );

    let r = request(srv.addr, "GET", "/nope").await;
    assert_eq!(r.status, 404);
    let r = request(srv.addr, "GET", "/metrics/x").await;
    assert_eq!(r.status, 404);
    let r = request(srv.addr, "POST", "/metrics").await;
    assert_eq!(r.status, 405);
    let r = request(srv.addr, "HEAD", "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    srv.stop().await;
}

#[tokio::test]
async fn http_healthz() {
    let m = Arc::new(Metrics::new(None));
    let eth = m.interface("eth0");
    let srv = start(m.clone(), capture_health(m.clone())).await;

    let r = request(srv.addr, "GET", "/healthz").await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("capture not up on: eth0"), "{}", r.body);

    eth.set_up(true);
    let r = request(srv.addr, "GET", "/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "ok\n");
    srv.stop().await;

    // A custom health function.
    let srv = start(
        m.clone(),
        Arc::new(|| Health::unhealthy("degraded: ring overrun")),
    )
    .await;
    let r = request(srv.addr, "GET", "/healthz").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body, "unhealthy: degraded: ring overrun\n");
    srv.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_with_idle_connection() {
    let m = Arc::new(Metrics::new(None));
    let srv = start(m.clone(), Arc::new(|| Health::Healthy)).await;
    let addr = srv.addr;
    // A keep-alive connection that has finished one request, and one that
    // never sent anything, must not hold up shutdown.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let _silent = TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(50)).await;
    srv.stop().await;
    // The listener is closed.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_stalled_request() {
    let listener = bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let m = Arc::new(Metrics::new(None));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let grace = Duration::from_millis(200);
    let task = tokio::spawn(server::serve_with_grace(
        listener,
        m,
        Arc::new(|| Health::Healthy),
        async move {
            let _ = rx.await;
        },
        grace,
    ));
    // Half a request: hyper waits for the rest of the head.
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = std::time::Instant::now();
    tx.send(()).expect("alive");
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("stops within the grace period")
        .expect("join")
        .expect("serve ok");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn bind_reports_port_in_use() {
    let taken = bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr");
    let err = bind(addr).await.expect_err("port is taken");
    assert!(matches!(err, MetricsError::AddrInUse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&addr.to_string()) && msg.contains("already in use"),
        "{msg}"
    );
}

#[test]
fn default_listen_is_loopback() {
    let a: SocketAddr = DEFAULT_LISTEN.parse().expect("valid");
    assert!(a.ip().is_loopback());
    assert_eq!(a.port(), 9874);
}
