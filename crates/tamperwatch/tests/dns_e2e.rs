//! Live censorship harness for the `dns_injection` signature, with real
//! components: client — router — wire — server in network namespaces
//! (`support::censor`), Debian's `unbound` in the server authoritative for
//! a test zone (`support::dns`), `dig` and a python3 client in the client,
//! tamperwatch capturing on the client's interface (UDP flows end after
//! 2 s idle, when the detector weighs them).
//!
//! The wire (`tw-wire`) delays each direction by 20 ms, so the resolver is
//! 40 ms away while an injector in the router (`tw-dns-inject`) answers in
//! well under a millisecond: its forged answer wins the race, as in the
//! wild. The resolver's packets arrive with TTL 49, the injector's with
//! what it is told. Each test checks from a tcpdump capture in the client
//! that the forged answer really arrived first (and by how much), and
//! compares tamperwatch's DNS counters with the capture.
//!
//! Scenarios (each with its own topology; they may run in parallel):
//! - `onpath_race`: tw-dns-inject answers `blocked.example` (and
//!   subdomains; UDP and TCP, IPv4 and IPv6, A and AAAA) with Iran's
//!   10.10.34.34 / d0::11 while the real answer still passes;
//! - `inpath_forged_only`: the router also drops the queries for blocked
//!   names, so only the forged answer arrives;
//! - `mangled_turkmenistan_injector`: answers without QCLASS, IP ID 30000,
//!   TTL 102, 127.0.0.1 (on-path for `blocked.example`, in-path for
//!   `www.blocked.example`);
//! - `clean_and_lookalikes`: no censor; NXDOMAIN, retransmitted queries,
//!   round-robin answers, CNAME chains, a truncated answer and its TCP
//!   retry, private answers for local zones, random loss of answers: no
//!   event may be raised, lost answers are `unanswered`.
//!
//! Assertions about the detector's verdicts are marked `DETECTOR:` in the
//! failure messages; everything else is about the lab itself.
//!
//! Needs root (network namespaces), unbound, dig, tcpdump, python3,
//! iptables and nft; skipped otherwise.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::censor::{self, SERVER_TTL};
use support::dns::{dig, repeat_query, Dig, DnsDump, DnsPkt, Unbound};
use support::injector::Injector;
use support::{metric_value, Guarded, Netns, TamperwatchProc, Topology, TwOptions};

/// One-way delay of the wire between router and server.
const ONE_WAY: Duration = Duration::from_millis(20);
/// How long events and metrics may take to settle after the last query
/// (UDP flows end 2 s after their last packet).
const SETTLE: Duration = Duration::from_secs(8);
/// The resolver's answers at the client.
const RESOLVER_TTL: u8 = SERVER_TTL - 1;
const BLOCKED: &str = "blocked.example";
const WWW_BLOCKED: &str = "www.blocked.example";
const ALLOWED: &str = "allowed.example";
const OTHER_BLOCKED: &str = "other-blocked.example";
/// `|07|blocked|07|example|00|`: the blocked name (and its subdomains) in
/// a query, for the in-path string match.
const BLOCKED_WIRE: &str = "|07|blocked|07|example|00|";

fn prerequisites() -> bool {
    if !support::require_root() {
        return false;
    }
    let missing: Vec<&str> = ["unbound", "dig", "tcpdump", "python3", "iptables", "nft"]
        .into_iter()
        .filter(|p| !censor::have(p))
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: missing {missing:?}");
        return false;
    }
    true
}

/// What the detector is expected to say about one query.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Nothing.
    Clean,
    /// One `dns_injection` event naming the query; `real`: the resolver's
    /// answer reached the client too (on-path).
    Injected {
        real: bool,
        /// Rules the event must list.
        rules: Vec<&'static str>,
        /// The fingerprint the evidence must name.
        fingerprint: Option<&'static str>,
        /// The forged address.
        forged: IpAddr,
    },
}

/// One query the scenario made.
#[derive(Debug, Clone)]
struct Query {
    label: String,
    dig: Dig,
    /// "udp" or "tcp".
    proto: &'static str,
    expect: Expect,
}

/// One scenario's running parts. Fields drop in order: processes first,
/// the namespaces last.
struct Lab {
    label: &'static str,
    tw: TamperwatchProc,
    dump: Option<DnsDump>,
    inject: Option<Injector>,
    resolver: Unbound,
    _wire: Guarded,
    topo: Topology,
    queries: Vec<Query>,
    /// Retransmitted queries sent by the python3 client.
    repeats: Vec<String>,
    setup_failures: Vec<String>,
    t0: Instant,
}

impl Lab {
    fn new(label: &'static str) -> Lab {
        let t0 = Instant::now();
        let (topo, wire) = censor::client_router_far_server(ONE_WAY);
        let s = &topo.server;
        let resolver = Unbound::start(&s.ns, &[IpAddr::V4(s.addr4), IpAddr::V6(s.addr6)]);
        let c = &topo.client;
        // Fresh veths spend about a second on duplicate address detection
        // of their link-local addresses, and IPv6 neighbour discovery waits
        // for it: the first IPv6 query could take longer than dig waits.
        // Both paths must work before anything is measured.
        for a in [IpAddr::V4(s.addr4), IpAddr::V6(s.addr6)] {
            assert!(
                support::wait_for_tcp(&c.ns, a, 53, Duration::from_secs(8)),
                "the resolver's {a}:53 does not accept TCP connections from the client"
            );
        }
        let mut opts = TwOptions::on(&c.iface, "ring");
        opts.overrides = "[flows]\nudp_timeout = 2\ntcp_closed_linger = 1\n".into();
        let tw = TamperwatchProc::start(&c.ns, &opts);
        let dump = Some(DnsDump::start(&c.ns, &c.iface));
        Lab {
            label,
            tw,
            dump,
            inject: None,
            resolver,
            _wire: wire,
            topo,
            queries: Vec::new(),
            repeats: Vec::new(),
            setup_failures: Vec::new(),
            t0,
        }
    }

    fn resolver_addr(&self, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(self.topo.server.addr6)
        } else {
            IpAddr::V4(self.topo.server.addr4)
        }
    }

    fn router(&self) -> Netns {
        self.topo.router().ns.clone()
    }

    fn start_injector(&mut self, ttl: u8, args: &[&str]) {
        let r = self.topo.router().clone();
        self.inject = Some(Injector::start_tool(
            "tw-dns-inject",
            &r.ns,
            &r.client_iface,
            args,
            ttl,
        ));
    }

    /// `dig` for `name`; `extra` e.g. `["+noedns"]` or `["+tcp"]`.
    fn dig(&mut self, name: &str, qtype: &str, v6: bool, extra: &[&str]) -> Dig {
        dig(
            &self.topo.client.ns,
            self.resolver_addr(v6),
            name,
            qtype,
            extra,
        )
    }

    fn record(&mut self, d: Dig, v6: bool, extra: &[&str], expect: Expect) {
        let proto = if extra.contains(&"+tcp") {
            "tcp"
        } else {
            "udp"
        };
        self.queries.push(Query {
            label: format!(
                "{} {}{}{}",
                d.name,
                d.qtype,
                if v6 { " v6" } else { "" },
                extra.iter().map(|e| format!(" {e}")).collect::<String>()
            ),
            dig: d,
            proto,
            expect,
        });
    }

    /// A query that must get the real answer `want` (empty: any NOERROR).
    fn allowed(&mut self, name: &str, qtype: &str, v6: bool, extra: &[&str], want: &[&str]) {
        let d = self.dig(name, qtype, v6, extra);
        let want: Vec<IpAddr> = want.iter().map(|a| a.parse().unwrap()).collect();
        let mut got = d.addrs.clone();
        got.sort();
        let mut w = want.clone();
        w.sort();
        if d.status != "NOERROR" || (!want.is_empty() && got != w) {
            self.setup_failures.push(format!(
                "{name} {qtype} (v6 {v6}, {extra:?}) should answer {want:?}: status {:?}, {:?}\n{}",
                d.status, d.addrs, d.output
            ));
        }
        self.record(d, v6, extra, Expect::Clean);
    }

    /// A query the injector answers. `dig_sees_forged`: dig must print the
    /// forged address (it takes the first answer).
    #[allow(clippy::too_many_arguments)]
    fn blocked(
        &mut self,
        name: &str,
        qtype: &str,
        v6: bool,
        extra: &[&str],
        expect: Expect,
        dig_sees_forged: bool,
    ) {
        let d = self.dig(name, qtype, v6, extra);
        if let (true, Expect::Injected { forged, .. }) = (dig_sees_forged, &expect) {
            if d.addrs != [*forged] {
                self.setup_failures.push(format!(
                    "{name} {qtype} (v6 {v6}, {extra:?}): dig should print the forged {forged}, \
                     printed {:?} (status {:?})\n{}",
                    d.addrs, d.status, d.output
                ));
            }
        }
        self.record(d, v6, extra, expect);
    }

    /// Waits for flows to end and events to be counted, stops everything
    /// and checks; returns the failures and a report.
    fn check(mut self, strict_clean: bool) -> Outcome {
        let fetched_at = self.t0.elapsed();
        let want_events = self
            .queries
            .iter()
            .filter(|q| q.expect != Expect::Clean)
            .count();
        let dns_events = |t: &str| {
            metric_value(
                t,
                "tamperwatch_events_total",
                &[("signature", "dns_injection")],
            )
            .unwrap_or(0.0)
        };
        // Settled: the expected events are counted and no flow is left
        // open (UDP flows end 2 s after their last packet).
        let (_, settled) = self.tw.wait_until(SETTLE, |t| {
            dns_events(t) >= want_events as f64
                && metric_value(t, "tamperwatch_flows_active", &[]).unwrap_or(1.0) == 0.0
        });
        std::thread::sleep(Duration::from_millis(300));
        let text = self.tw.scrape();
        let stopped = self.tw.stop();
        let inj_ttl = self.inject.as_ref().map(|i| i.ttl);
        let injections = self.inject.take().map(Injector::finish);
        let pkts = self.dump.take().map(DnsDump::finish).unwrap_or_default();
        let all_events = self.tw.events();
        let mut failures = std::mem::take(&mut self.setup_failures);
        let mut report = vec![format!(
            "[{}] {} queries ({want_events} injected); queried at {fetched_at:?}, settled: {settled}, \
             SIGTERM→exit {:?}",
            self.label,
            self.queries.len(),
            stopped.took
        )];
        for e in &all_events {
            report.push(format!("event: {e}"));
        }
        let dns: Vec<&Value> = all_events
            .iter()
            .filter(|e| e["signature"] == "dns_injection")
            .collect();
        if strict_clean {
            for e in &all_events {
                failures.push(format!("DETECTOR: FALSE POSITIVE on clean traffic: {e}"));
            }
        }

        // The injector's account: (name, client port) of every injection.
        let injected: Vec<(String, u16, u16, String)> = injections
            .iter()
            .flatten()
            .map(|l| {
                (
                    l.get("name").cloned().unwrap_or_default(),
                    l.get("client_port")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0),
                    l.get("id").and_then(|p| p.parse().ok()).unwrap_or(0),
                    l.get("proto").cloned().unwrap_or_default(),
                )
            })
            .collect();
        if let Some(lines) = &injections {
            report.push(format!("  tw-dns-inject: {} injections", lines.len()));
        }

        // Per name: queries expected to be injected, events, injections.
        let names: BTreeSet<String> = self.queries.iter().map(|q| q.dig.name.clone()).collect();
        let port_of = |e: &Value| e["flow"]["client_port"].as_u64().unwrap_or(0) as u16;
        for name in &names {
            let qs: Vec<&Query> = self
                .queries
                .iter()
                .filter(|q| &q.dig.name == name)
                .collect();
            let want: Vec<&Query> = qs
                .iter()
                .copied()
                .filter(|q| q.expect != Expect::Clean)
                .collect();
            let evs: Vec<&&Value> = dns
                .iter()
                .filter(|e| e["target"].as_str() == Some(name))
                .collect();
            let inj_ports: BTreeSet<u16> = injected
                .iter()
                .filter(|i| &i.0 == name)
                .map(|i| i.1)
                .collect();
            if !want.is_empty() && inj_ports.len() != want.len() {
                failures.push(format!(
                    "{name}: tw-dns-inject answered {} client ports {inj_ports:?}, {} queries were to be injected",
                    inj_ports.len(),
                    want.len()
                ));
            }
            if want.is_empty() {
                for e in &evs {
                    failures.push(format!(
                        "DETECTOR: FALSE POSITIVE for {name} (not injected): {e}"
                    ));
                }
                if !inj_ports.is_empty() {
                    failures.push(format!("{name}: tw-dns-inject answered it ({inj_ports:?})"));
                }
                continue;
            }
            if evs.len() != want.len() {
                failures.push(format!(
                    "DETECTOR: {name}: {} dns_injection events, want {} (one per injected query; \
                     injected client ports {inj_ports:?}, event ports {:?})",
                    evs.len(),
                    want.len(),
                    evs.iter().map(|e| port_of(e)).collect::<Vec<_>>()
                ));
            }
            let ev_ports: BTreeSet<u16> = evs.iter().map(|e| port_of(e)).collect();
            if !ev_ports.is_subset(&inj_ports) {
                failures.push(format!(
                    "DETECTOR: {name}: events for client ports {ev_ports:?}, injected were {inj_ports:?}"
                ));
            }
            for e in &evs {
                let ev = &e["evidence"];
                // The expectations of this name's queries of the event's
                // type (the same for all of them in these scenarios).
                let qtype = ev["query"]["type"].as_str().unwrap_or("");
                let q = want
                    .iter()
                    .find(|q| q.dig.qtype == qtype)
                    .unwrap_or(&want[0]);
                let Expect::Injected {
                    real,
                    rules,
                    fingerprint,
                    ..
                } = &q.expect
                else {
                    unreachable!()
                };
                let got_rules: Vec<&str> = ev["rules"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                report.push(format!(
                    "  detected {name} port {}: rules {got_rules:?}, confidence {}, real_answer_arrived {}, \
                     fingerprint {}, forged {}",
                    port_of(e),
                    e["confidence"],
                    ev["real_answer_arrived"],
                    ev["fingerprint"]["name"],
                    ev["forged"]
                ));
                for r in rules {
                    if !got_rules.contains(r) {
                        failures.push(format!(
                            "DETECTOR: {name} port {}: rule {r:?} missing from {got_rules:?}: {e}",
                            port_of(e)
                        ));
                    }
                }
                if ev["real_answer_arrived"].as_bool() != Some(*real) {
                    failures.push(format!(
                        "DETECTOR: {name} port {}: real_answer_arrived {} (want {real}): {e}",
                        port_of(e),
                        ev["real_answer_arrived"]
                    ));
                }
                if let Some(fp) = fingerprint {
                    if ev["fingerprint"]["name"].as_str() != Some(fp) {
                        failures.push(format!(
                            "DETECTOR: {name} port {}: fingerprint {} (want {fp:?}): {e}",
                            port_of(e),
                            ev["fingerprint"]["name"]
                        ));
                    }
                }
                if ev["query"]["name"].as_str() != Some(name) {
                    failures.push(format!(
                        "{name}: evidence.query.name {}",
                        ev["query"]["name"]
                    ));
                }
                // Every answer is marked: the forged one (the one with the
                // forged address, or with another TTL than the resolver's)
                // looks forged, the resolver's does not.
                let answers = ev["answers"].as_array().cloned().unwrap_or_default();
                let want_n = if *real { 2 } else { 1 };
                if answers.len() != want_n {
                    failures.push(format!(
                        "DETECTOR: {name} port {}: {} answers in the evidence, want {want_n}: {e}",
                        port_of(e),
                        answers.len()
                    ));
                }
                for a in &answers {
                    let is_forged = a["ip_ttl"].as_u64() != Some(u64::from(RESOLVER_TTL));
                    if a["looks_forged"].as_bool() != Some(is_forged) {
                        failures.push(format!(
                            "DETECTOR: {name} port {}: the {} answer (ip_ttl {}, addresses {}) has looks_forged {} : {e}",
                            port_of(e),
                            if is_forged { "forged" } else { "resolver's" },
                            a["ip_ttl"],
                            a["addresses"],
                            a["looks_forged"]
                        ));
                    }
                }
            }
        }
        for e in &dns {
            let t = e["target"].as_str().unwrap_or("");
            if !names.contains(t) {
                failures.push(format!("dns_injection event for an unknown name: {e}"));
            }
        }

        // The capture: queries, answers, the race.
        if pkts.is_empty() {
            failures.push("tcpdump captured nothing".into());
        }
        let queries_seen: Vec<&DnsPkt> = pkts.iter().filter(|p| !p.response).collect();
        let answers_seen: Vec<&DnsPkt> = pkts.iter().filter(|p| p.response).collect();
        // A retransmission (same socket, ID and question) is the same query.
        let distinct: BTreeSet<(bool, u16, u16, String)> = queries_seen
            .iter()
            .map(|p| (p.tcp, p.sport, p.id, p.qname.clone()))
            .collect();
        let unanswered = distinct
            .iter()
            .filter(|(tcp, port, id, _)| {
                !answers_seen
                    .iter()
                    .any(|a| a.tcp == *tcp && a.dport == *port && a.id == *id)
            })
            .count();
        let mut by_rcode: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &answers_seen {
            let r = match a.rcode {
                0 => "noerror",
                1 => "formerr",
                2 => "servfail",
                3 => "nxdomain",
                5 => "refused",
                _ => "other",
            };
            *by_rcode.entry(r).or_default() += 1;
        }
        report.push(format!(
            "  capture: {} query packets ({} distinct queries), {} answers {by_rcode:?}, {unanswered} unanswered",
            queries_seen.len(),
            distinct.len(),
            answers_seen.len()
        ));
        let m =
            |name: &str, labels: &[(&str, &str)]| metric_value(&text, name, labels).unwrap_or(0.0);
        let got_q = m("tamperwatch_dns_queries_total", &[]);
        report.push(format!(
            "  metrics: dns_queries {got_q}, answers noerror {} nxdomain {}, unanswered {}, dns events {}",
            m("tamperwatch_dns_answers_total", &[("rcode", "noerror")]),
            m("tamperwatch_dns_answers_total", &[("rcode", "nxdomain")]),
            m("tamperwatch_dns_unanswered_total", &[]),
            dns_events(&text)
        ));
        if got_q != distinct.len() as f64 {
            failures.push(format!(
                "DETECTOR: tamperwatch_dns_queries_total = {got_q}, the capture holds {} distinct queries \
                 ({} query packets; docs/metrics.md: a retransmitted query counts once)",
                distinct.len(),
                queries_seen.len()
            ));
        }
        for r in [
            "noerror", "formerr", "servfail", "nxdomain", "refused", "other",
        ] {
            let got = m("tamperwatch_dns_answers_total", &[("rcode", r)]);
            let want = by_rcode.get(r).copied().unwrap_or(0);
            if got != want as f64 {
                failures.push(format!(
                    "tamperwatch_dns_answers_total{{rcode=\"{r}\"}} = {got}, the capture holds {want}"
                ));
            }
        }
        let got_un = m("tamperwatch_dns_unanswered_total", &[]);
        if got_un != unanswered as f64 {
            failures.push(format!(
                "DETECTOR: tamperwatch_dns_unanswered_total = {got_un}, the capture holds {unanswered} unanswered queries"
            ));
        }
        if dns_events(&text) != dns.len() as f64 {
            failures.push(format!(
                "tamperwatch_events_total{{signature=\"dns_injection\"}} = {}, events written = {}",
                dns_events(&text),
                dns.len()
            ));
        }

        // The race: for every injection, the forged answer (the injector's
        // TTL) and the resolver's (TTL 49) to that port and ID.
        let mut leads = Vec::new();
        for (name, port, id, proto) in &injected {
            let tcp = proto == "tcp";
            let to_q: Vec<&&DnsPkt> = answers_seen
                .iter()
                .filter(|a| a.tcp == tcp && a.dport == *port && a.id == *id)
                .collect();
            let forged = to_q.iter().find(|a| Some(a.ttl) == inj_ttl);
            let real = to_q.iter().find(|a| a.ttl == RESOLVER_TTL);
            let q = self.queries.iter().find(|q| {
                &q.dig.name == name && q.proto == proto.as_str() && q.expect != Expect::Clean
            });
            let want_real = matches!(
                q.map(|q| &q.expect),
                Some(Expect::Injected { real: true, .. })
            );
            match (forged, real) {
                (None, _) => failures.push(format!(
                    "race {name} port {port} id {id}: the forged answer is not in the client's capture"
                )),
                (Some(f), Some(r)) if want_real => {
                    if r.ts <= f.ts {
                        failures.push(format!(
                            "race {name} port {port}: the resolver's answer arrived {:.1} ms BEFORE the forged one",
                            (f.ts - r.ts) * 1e3
                        ));
                    } else {
                        leads.push(format!("{:.1}", (r.ts - f.ts) * 1e3));
                    }
                }
                (Some(_), None) if want_real => failures.push(format!(
                    "race {name} port {port}: the resolver's answer never arrived (on-path expected)"
                )),
                (Some(_), Some(r)) => failures.push(format!(
                    "in-path {name} port {port}: the resolver's answer arrived (ts {:.3}): the drop rule missed",
                    r.ts
                )),
                (Some(_), None) => leads.push("-".into()),
            }
        }
        if !leads.is_empty() {
            report.push(format!(
                "  race: the forged answer led the resolver's by (ms; - = the resolver's never came): {}",
                leads.join(" ")
            ));
        }
        report.push(format!("  total {:?}", self.t0.elapsed()));
        eprintln!("{}", report.join("\n"));
        Outcome {
            label: self.label,
            failures,
            text,
            resolver_log: self.resolver.log(),
            pkts,
            queries: std::mem::take(&mut self.queries),
        }
    }
}

/// What [`Lab::check`] found.
struct Outcome {
    label: &'static str,
    failures: Vec<String>,
    /// The last scrape.
    text: String,
    resolver_log: String,
    pkts: Vec<DnsPkt>,
    queries: Vec<Query>,
}

impl Outcome {
    fn assert_ok(self) {
        if !self.failures.is_empty() {
            let lines: Vec<&str> = self.resolver_log.lines().collect();
            panic!(
                "[{}] {} failures:\n  {}\n--- unbound log (tail) ---\n{}",
                self.label,
                self.failures.len(),
                self.failures.join("\n  "),
                lines[lines.len().saturating_sub(10)..].join("\n")
            );
        }
    }
}

fn injected(
    real: bool,
    rules: &[&'static str],
    fingerprint: Option<&'static str>,
    forged: &str,
) -> Expect {
    Expect::Injected {
        real,
        rules: rules.to_vec(),
        fingerprint,
        forged: forged.parse().unwrap(),
    }
}

/// Queries that teach tamperwatch the resolver (its TTL, RTT, flags) on
/// both address families.
fn warm_up(lab: &mut Lab) {
    for _ in 0..3 {
        lab.allowed(ALLOWED, "A", false, &[], &["198.51.100.80"]);
    }
    lab.allowed(ALLOWED, "AAAA", false, &[], &["2001:db8:2::80"]);
    // Also over IPv6, so that neighbour discovery is done before a race.
    lab.allowed(ALLOWED, "A", true, &[], &["198.51.100.80"]);
}

/// (a) On-path: tw-dns-inject answers `blocked.example` and its
/// subdomains (A 10.10.34.34, AAAA d0::11, TTL 40, random IP ID, UDP and
/// TCP) while the router forwards the query, so the resolver's answer
/// arrives ~40 ms later. One event per blocked query with `race` and
/// `known_forged_answer`; nothing for the allowed names.
#[test]
fn onpath_race() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("on-path race");
    lab.start_injector(40, &["--name", BLOCKED, "--tcp"]);
    warm_up(&mut lab);
    let ir = |addr: &str| {
        injected(
            true,
            &["race", "known_forged_answer"],
            Some("tw.ir_1"),
            addr,
        )
    };
    let ir6 = injected(
        true,
        &["race", "known_forged_answer"],
        Some("tw.ir_4"),
        "d0::11",
    );
    lab.blocked(BLOCKED, "A", false, &[], ir("10.10.34.34"), true);
    lab.blocked(BLOCKED, "A", false, &["+noedns"], ir("10.10.34.34"), true);
    lab.blocked(BLOCKED, "AAAA", false, &[], ir6.clone(), true);
    lab.blocked(WWW_BLOCKED, "A", false, &[], ir("10.10.34.34"), true);
    lab.blocked(BLOCKED, "A", true, &[], ir("10.10.34.34"), true);
    lab.blocked(BLOCKED, "A", false, &["+tcp"], ir("10.10.34.34"), true);
    lab.allowed(OTHER_BLOCKED, "A", false, &[], &["198.51.100.83"]);
    lab.allowed(ALLOWED, "A", false, &["+noedns"], &["198.51.100.80"]);
    lab.check(false).assert_ok();
}

/// (b) In-path: the router drops every query for a blocked name (an
/// iptables string match on the query's name), so the resolver never
/// answers; tw-dns-inject's answer is the only one. Events with
/// `known_forged_answer` and `real_answer_arrived: false`.
#[test]
fn inpath_forged_only() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("in-path forged only");
    let r = lab.router();
    for ipt in ["iptables", "ip6tables"] {
        for proto in ["udp", "tcp"] {
            r.exec_ok(
                ipt,
                &[
                    "-A",
                    "FORWARD",
                    "-p",
                    proto,
                    "--dport",
                    "53",
                    "-m",
                    "string",
                    "--algo",
                    "bm",
                    "--hex-string",
                    BLOCKED_WIRE,
                    "-j",
                    "DROP",
                ],
            );
        }
    }
    lab.start_injector(40, &["--name", BLOCKED]);
    warm_up(&mut lab);
    let ir = injected(
        false,
        &["known_forged_answer"],
        Some("tw.ir_1"),
        "10.10.34.34",
    );
    let ir6 = injected(false, &["known_forged_answer"], Some("tw.ir_4"), "d0::11");
    lab.blocked(BLOCKED, "A", false, &[], ir.clone(), true);
    lab.blocked(BLOCKED, "A", false, &[], ir.clone(), true);
    lab.blocked(BLOCKED, "A", false, &["+noedns"], ir.clone(), true);
    lab.blocked(BLOCKED, "AAAA", false, &[], ir6, true);
    lab.blocked(WWW_BLOCKED, "A", false, &[], ir.clone(), true);
    lab.blocked(BLOCKED, "A", true, &[], ir, true);
    lab.allowed(OTHER_BLOCKED, "A", false, &[], &["198.51.100.83"]);
    lab.allowed(ALLOWED, "A", false, &[], &["198.51.100.80"]);
    lab.check(false).assert_ok();
}

/// (c) A mangled injector like Turkmenistan's: 127.0.0.1 with IP ID
/// 30000, TTL 102, EDNS dropped, and the echoed question without its
/// QCLASS. On-path for `blocked.example` (the resolver's answer follows),
/// in-path for `www.blocked.example` (its queries are dropped). The
/// fingerprint `tw.tm_1` (127.0.0.1 with IP ID 30000) and
/// `malformed_question` are expected in every event.
#[test]
fn mangled_turkmenistan_injector() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("mangled injector (TM)");
    let r = lab.router();
    r.exec_ok(
        "iptables",
        &[
            "-A",
            "FORWARD",
            "-p",
            "udp",
            "--dport",
            "53",
            "-m",
            "string",
            "--algo",
            "bm",
            "--hex-string",
            "|03|www|07|blocked|07|example|00|",
            "-j",
            "DROP",
        ],
    );
    lab.start_injector(
        102,
        &[
            "--name",
            BLOCKED,
            "--no-qclass",
            "--ip-id",
            "30000",
            "--answer-a",
            "127.0.0.1",
            "--answer-aaaa",
            "none",
            "--drop-edns",
        ],
    );
    warm_up(&mut lab);
    let tm_rules = ["malformed_question"];
    let on = injected(true, &tm_rules, Some("tw.tm_1"), "127.0.0.1");
    let inp = injected(false, &tm_rules, Some("tw.tm_1"), "127.0.0.1");
    // dig rejects the mangled answer (it is not "the" answer), so what it
    // prints is not checked.
    lab.blocked(BLOCKED, "A", false, &[], on.clone(), false);
    lab.blocked(BLOCKED, "A", false, &["+noedns"], on, false);
    lab.blocked(WWW_BLOCKED, "A", false, &[], inp.clone(), false);
    lab.blocked(WWW_BLOCKED, "A", false, &["+noedns"], inp, false);
    lab.allowed(ALLOWED, "A", false, &[], &["198.51.100.80"]);
    let out = lab.check(false);
    for q in &out.queries {
        if q.expect != Expect::Clean {
            eprintln!(
                "  dig {}: status {:?}, addrs {:?}, warnings {:?}, timed out {}",
                q.label, q.dig.status, q.dig.addrs, q.dig.warnings, q.dig.timed_out
            );
        }
    }
    // The forged answers as they arrived: TTL 102, IP ID 30000.
    let forged: Vec<(u8, u16)> = out
        .pkts
        .iter()
        .filter(|p| p.response && p.ttl == 102)
        .map(|p| (p.ttl, p.ip_id))
        .collect();
    let mut out = out;
    if forged.len() != 4 || forged.iter().any(|f| *f != (102, 30000)) {
        out.failures.push(format!(
            "forged answers at the client (ttl, ip id): {forged:?}"
        ));
    }
    out.assert_ok();
}

/// (d) No censor, and everything that looks a little like injection:
/// NXDOMAIN, a client retransmitting its query (both copies answered),
/// round-robin answers in changing order (also to a retransmission),
/// A and AAAA on one socket, a CNAME chain, a truncated UDP answer and
/// dig's TCP retry, private answers for local zones (`nas.home.arpa`,
/// `printer.lan`), the blocked names themselves, and a spell of random
/// loss of answers (nftables `numgen random mod 3 == 0 drop`): queries
/// that time out are unanswered, not injected. No event may be raised.
#[test]
fn clean_and_lookalikes() {
    if !prerequisites() {
        return;
    }
    let mut lab = Lab::new("clean + look-alikes");
    warm_up(&mut lab);
    lab.allowed(BLOCKED, "A", false, &[], &["198.51.100.81"]);
    lab.allowed(WWW_BLOCKED, "A", false, &["+noedns"], &["198.51.100.82"]);
    lab.allowed(BLOCKED, "AAAA", true, &[], &["2001:db8:2::81"]);
    for (i, name) in ["nope.example", "missing.blocked.example", "x.nope.example"]
        .iter()
        .enumerate()
    {
        let d = lab.dig(name, "A", i == 1, &[]);
        if d.status != "NXDOMAIN" {
            lab.setup_failures
                .push(format!("{name}: status {:?}, want NXDOMAIN", d.status));
        }
        lab.record(d, i == 1, &[], Expect::Clean);
    }
    let rr = [
        "198.51.100.90",
        "198.51.100.91",
        "198.51.100.92",
        "198.51.100.93",
    ];
    let mut orders = BTreeSet::new();
    for _ in 0..4 {
        lab.allowed("rr.example", "A", false, &[], &rr);
        orders.insert(format!("{:?}", lab.queries.last().unwrap().dig.addrs));
    }
    eprintln!("rr.example: {} different orders in 4 queries", orders.len());
    lab.allowed("cname.example", "A", false, &[], &["198.51.100.84"]);
    if lab.queries.last().unwrap().dig.cnames != 2 {
        let o = lab.queries.last().unwrap().dig.output.clone();
        lab.setup_failures
            .push(format!("cname.example: want a chain of 2 CNAMEs:\n{o}"));
    }
    // 40 A records: 669 bytes, truncated over UDP without EDNS; dig retries
    // over TCP.
    let d = lab.dig("big.example", "A", false, &["+noedns"]);
    if !d.retried_tcp || d.addrs.len() != support::dns::BIG_RECORDS {
        lab.setup_failures.push(format!(
            "big.example +noedns: want TC and a TCP retry with {} records:\n{}",
            support::dns::BIG_RECORDS,
            d.output
        ));
    }
    lab.record(d, false, &["+noedns"], Expect::Clean);
    lab.allowed("big.example", "A", false, &[], &[]);
    lab.allowed("nas.home.arpa", "A", false, &[], &["192.168.1.10"]);
    lab.allowed("printer.lan", "A", false, &[], &["192.168.1.20"]);
    lab.allowed("nas.home.arpa", "A", true, &[], &["192.168.1.10"]);
    // Retransmissions: the same query (ID, question, socket) twice, 5 ms
    // apart; the resolver answers both.
    let cns = lab.topo.client.ns.clone();
    let r4 = lab.resolver_addr(false);
    for (name, qtypes) in [
        (ALLOWED, "A"),
        ("rr.example", "A"),
        ("rr.example", "A,AAAA"),
        (ALLOWED, "A,AAAA"),
    ] {
        let rep = repeat_query(&cns, r4, name, qtypes, 2, Duration::from_millis(5));
        eprintln!("retransmitted {name} {qtypes}: {rep:?}");
        if rep.answers != rep.sent {
            lab.setup_failures.push(format!(
                "retransmitted {name} {qtypes}: {} answers to {} packets",
                rep.answers, rep.sent
            ));
        }
        lab.repeats
            .push(format!("{name} {qtypes} port {}", rep.client_port));
    }
    // Random loss of a third of the resolver's answers for a while: at
    // most 12 queries, stopping after 3 have timed out.
    let r = lab.router();
    r.nft(
        "table inet loss {\n  chain lossy {\n    type filter hook forward priority 0; policy accept;\n    \
         udp sport 53 numgen random mod 3 == 0 counter drop\n  }\n}\n",
    );
    let mut lost = 0;
    for _ in 0..12 {
        let d = lab.dig(ALLOWED, "A", false, &["+time=1"]);
        if d.timed_out {
            lost += 1;
        } else if d.addrs != ["198.51.100.80".parse::<IpAddr>().unwrap()] {
            lab.setup_failures.push(format!(
                "under loss: allowed.example answered {:?}",
                d.addrs
            ));
        }
        lab.record(d, false, &["+time=1"], Expect::Clean);
        if lost == 3 {
            break;
        }
    }
    let counter = r.exec_ok("nft", &["list", "table", "inet", "loss"]);
    r.exec_ok("nft", &["delete", "table", "inet", "loss"]);
    eprintln!(
        "loss: {lost} of the queries timed out; {}",
        counter
            .lines()
            .find(|l| l.contains("counter"))
            .unwrap_or("")
            .trim()
    );
    lab.allowed(ALLOWED, "A", false, &[], &["198.51.100.80"]);
    let out = lab.check(true);
    // Under loss, every timed-out dig is one unanswered query.
    let unanswered =
        metric_value(&out.text, "tamperwatch_dns_unanswered_total", &[]).unwrap_or(0.0);
    let mut out = out;
    if unanswered != f64::from(lost) {
        out.failures.push(format!(
            "DETECTOR: tamperwatch_dns_unanswered_total = {unanswered}, {lost} digs timed out"
        ));
    }
    out.assert_ok();
}
