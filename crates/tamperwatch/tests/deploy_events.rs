//! `tamperwatch events`: reading event files with their rotations, time,
//! signature and domain filters, client and target anonymisation, CSV and
//! JSON-lines output, damaged lines.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("events")
        .args(args)
        .output()
        .expect("run tamperwatch events")
}

fn ok(args: &[&str]) -> (String, String) {
    let o = tw(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        o.status.success(),
        "events {args:?} failed ({}):\n{err}",
        o.status
    );
    (out, err)
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ev(id: u32, ts: &str, sig: &str, client: &str, target: Option<&str>) -> Value {
    let mut e = json!({
        "id": format!("tw-{id:016x}"), "ts": ts, "signature": sig, "confidence": 0.9,
        "flow": {"proto": if sig == "dns_injection" {"udp"} else {"tcp"}, "client_ip": client, "client_port": 40000 + id,
                 "server_ip": "203.0.113.5", "server_port": if sig == "dns_injection" {53} else {443}},
        "target": target,
        "evidence": {"rules": ["data_after_rst", "ttl_mismatch"], "ttl_rst": 40}
    });
    if let (Some(t), "dns_injection") = (target, sig) {
        e["evidence"]["query"] = json!({"name": t, "type": "A"});
        e["evidence"]["note"] = json!(format!("asked for {t} from {client}"));
    }
    e
}

/// events.jsonl.2 (oldest), .1, and the current file, plus a stray
/// `events.jsonl.bak` that is not a rotation.
fn write_files(dir: &Path) -> PathBuf {
    let p = dir.join("events.jsonl");
    let files: [(&str, Vec<Value>); 3] = [
        (
            "events.jsonl.2",
            vec![
                ev(
                    1,
                    "2026-11-27T10:00:00.000000Z",
                    "rst_injection",
                    "192.0.2.10",
                    Some("blocked.example"),
                ),
                ev(
                    2,
                    "2026-11-27T10:30:00.000000Z",
                    "dns_injection",
                    "192.0.2.11",
                    Some("www.blocked.example"),
                ),
            ],
        ),
        (
            "events.jsonl.1",
            vec![
                ev(
                    3,
                    "2026-11-27T11:00:00.000000Z",
                    "rst_injection",
                    "2001:db8:1:2::10",
                    Some("notblocked.example"),
                ),
                ev(
                    4,
                    "2026-11-27T11:30:00.000000Z",
                    "rst_injection",
                    "192.0.2.12",
                    None,
                ),
            ],
        ),
        (
            "events.jsonl",
            vec![
                ev(
                    5,
                    "2026-11-27T12:00:00.000000Z",
                    "dns_injection",
                    "2001:db8:1:2::11",
                    Some("Blocked.Example"),
                ),
                ev(
                    6,
                    "2026-11-27T12:30:00.000000Z",
                    "rst_injection",
                    "192.0.2.13",
                    Some("allowed.example"),
                ),
            ],
        ),
    ];
    for (name, evs) in files {
        let mut text: String = evs.iter().map(|e| format!("{e}\n")).collect();
        if name == "events.jsonl" {
            // A line cut short by a crash, and an empty line.
            text.push_str("\n{\"id\":\"tw-00000000000000");
        }
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(
        dir.join("events.jsonl.bak"),
        format!(
            "{}\n",
            ev(
                99,
                "2026-11-27T12:00:00Z",
                "rst_injection",
                "192.0.2.99",
                None
            )
        ),
    )
    .unwrap();
    p
}

/// Which of the written events these are (by client port: an export that
/// anonymises the client replaces the event ids with keyed hashes).
fn ids(v: &[Value]) -> Vec<u64> {
    v.iter()
        .map(|e| e["flow"]["client_port"].as_u64().unwrap() - 40000)
        .collect()
}

#[test]
fn rotations_oldest_first_and_damaged_lines_skipped() {
    let d = tempfile::tempdir().unwrap();
    let p = write_files(d.path());
    let ps = p.to_str().unwrap();
    let (out, err) = ok(&[ps, "--client", "keep"]);
    assert_eq!(ids(&jsonl(&out)), [1, 2, 3, 4, 5, 6]);
    assert!(
        err.contains("6 events written, 7 lines read from 3 files, 1 skipped"),
        "{err}"
    );
    assert!(err.contains("events.jsonl:4: not JSON"), "{err}");
    // Fields pass through unchanged with keep/keep.
    let orig = ev(
        1,
        "2026-11-27T10:00:00.000000Z",
        "rst_injection",
        "192.0.2.10",
        Some("blocked.example"),
    );
    assert_eq!(jsonl(&out)[0], orig);
    let (out, _) = ok(&[ps, "--no-rotated", "-q"]);
    assert_eq!(ids(&jsonl(&out)), [5, 6]);
    // A rotated file alone works too.
    let (out, _) = ok(&[d.path().join("events.jsonl.1").to_str().unwrap(), "-q"]);
    assert_eq!(ids(&jsonl(&out)), [3, 4]);
    // Default: the configuration's event file.
    let cfg = d.path().join("tw.toml");
    std::fs::write(&cfg, format!("[events]\nfile = {ps:?}\n")).unwrap();
    let (out, _) = ok(&["-c", cfg.to_str().unwrap(), "-q"]);
    assert_eq!(ids(&jsonl(&out)).len(), 6);
    // Nothing to read: an error naming the file.
    let o = tw(&[d.path().join("nope.jsonl").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.jsonl"));
}

#[test]
fn filters() {
    let d = tempfile::tempdir().unwrap();
    let p = write_files(d.path());
    let ps = p.to_str().unwrap();
    // since inclusive, until exclusive.
    let (out, _) = ok(&[
        ps,
        "-q",
        "--since",
        "2026-11-27T10:30:00Z",
        "--until",
        "2026-11-27T12:00:00Z",
    ]);
    assert_eq!(ids(&jsonl(&out)), [2, 3, 4]);
    // Offsets: 13:00+02:00 is 11:00Z.
    let (out, _) = ok(&[ps, "-q", "--until", "2026-11-27T13:00:00+02:00"]);
    assert_eq!(ids(&jsonl(&out)), [1, 2]);
    let (out, _) = ok(&[ps, "-q", "--signature", "dns_injection"]);
    assert_eq!(ids(&jsonl(&out)), [2, 5]);
    let (out, _) = ok(&[
        ps,
        "-q",
        "--signature",
        "dns_injection",
        "--signature",
        "rst_injection",
        "--since",
        "2026-11-27T12:00:00Z",
    ]);
    assert_eq!(ids(&jsonl(&out)), [5, 6]);
    // A domain and its subdomains, any case; not look-alikes, not events without a target.
    let (out, _) = ok(&[ps, "-q", "--domain", "blocked.example"]);
    assert_eq!(ids(&jsonl(&out)), [1, 2, 5]);
    let (out, _) = ok(&[
        ps,
        "-q",
        "--domain",
        "allowed.example",
        "--domain",
        "notblocked.example",
    ]);
    assert_eq!(ids(&jsonl(&out)), [3, 6]);
    // Bad times are refused with the reason.
    let o = tw(&[ps, "--since", "yesterday"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("RFC 3339"));
    let o = tw(&[
        ps,
        "--since",
        "2026-11-27T12:00:00Z",
        "--until",
        "2026-11-27T11:00:00Z",
    ]);
    assert!(!o.status.success());
}

#[test]
fn client_anonymisation() {
    let d = tempfile::tempdir().unwrap();
    let p = write_files(d.path());
    let ps = p.to_str().unwrap();
    // Truncate is the default.
    let (out, _) = ok(&[ps, "-q"]);
    let v = jsonl(&out);
    let clients: Vec<&str> = v
        .iter()
        .map(|e| e["flow"]["client_ip"].as_str().unwrap())
        .collect();
    assert_eq!(
        clients,
        [
            "192.0.2.0/24",
            "192.0.2.0/24",
            "2001:db8:1::/48",
            "192.0.2.0/24",
            "2001:db8:1::/48",
            "192.0.2.0/24"
        ]
    );
    // The address is also scrubbed from the evidence.
    assert_eq!(
        v[4]["evidence"]["note"],
        "asked for Blocked.Example from 2001:db8:1::/48"
    );
    assert!(
        !out.contains("192.0.2.1") && !out.contains("2001:db8:1:2::"),
        "{out}"
    );
    // Ports and servers stay.
    assert_eq!(v[0]["flow"]["client_port"], 40001);
    assert_eq!(v[0]["flow"]["server_ip"], "203.0.113.5");
    let (out, _) = ok(&[ps, "-q", "--client", "drop"]);
    for e in jsonl(&out) {
        assert!(e["flow"]["client_ip"].is_null(), "{e}");
    }
    assert!(
        !out.contains("192.0.2.") && !out.contains("2001:db8:1:"),
        "{out}"
    );
}

#[test]
fn target_anonymisation_and_salt() {
    let d = tempfile::tempdir().unwrap();
    let p = write_files(d.path());
    let ps = p.to_str().unwrap();
    let salt = d.path().join("export-salt");
    let (out, err) = ok(&[ps, "--target", "hash", "--client", "keep"]);
    assert!(err.contains("created a new salt file"), "{err}");
    // Created next to the event file, 0600, 64 hex digits.
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&salt).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let s = std::fs::read_to_string(&salt).unwrap();
    assert_eq!(s.trim().len(), 64);
    assert!(s.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let v = jsonl(&out);
    let targets: Vec<Option<&str>> = v.iter().map(|e| e["target"].as_str()).collect();
    for t in targets.iter().flatten() {
        assert!(t.starts_with("h-") && t.len() == 18, "{t}");
    }
    assert_eq!(targets[3], None, "no target stays null");
    // Same name (any case) → same hash; different names differ.
    assert_eq!(targets[0], targets[4]);
    assert_ne!(targets[0], targets[1]);
    // The name is gone from the evidence too.
    assert_eq!(v[4]["evidence"]["query"]["name"].as_str(), targets[4]);
    assert!(!out.to_lowercase().contains("blocked.example"), "{out}");
    // Stable across exports with the same salt...
    let (again, err) = ok(&[ps, "--target", "hash", "--client", "keep"]);
    assert!(!err.contains("created"), "{err}");
    assert_eq!(again, out);
    // ...and different with another salt.
    let other = d.path().join("other-salt");
    std::fs::write(&other, "another salt of enough length\n").unwrap();
    let (third, _) = ok(&[
        ps,
        "-q",
        "--target",
        "hash",
        "--salt-file",
        other.to_str().unwrap(),
    ]);
    assert_ne!(jsonl(&third)[0]["target"], v[0]["target"]);
    // A too short salt is refused.
    std::fs::write(&other, "short\n").unwrap();
    let o = tw(&[
        ps,
        "--target",
        "hash",
        "--salt-file",
        other.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 16"));
    // Drop.
    let (out, _) = ok(&[ps, "-q", "--target", "drop"]);
    for e in jsonl(&out) {
        assert!(e["target"].is_null(), "{e}");
    }
    assert!(!out.to_lowercase().contains("blocked.example"), "{out}");
}

/// Splits RFC 4180 CSV into records of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut recs = Vec::new();
    let mut rec = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => rec.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                rec.push(std::mem::take(&mut field));
                recs.push(std::mem::take(&mut rec));
            }
            (false, c) => field.push(c),
        }
    }
    recs
}

#[test]
fn csv_output() {
    let d = tempfile::tempdir().unwrap();
    let p = write_files(d.path());
    let out_file = d.path().join("export.csv");
    ok(&[
        p.to_str().unwrap(),
        "-q",
        "--format",
        "csv",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&out_file).unwrap();
    let recs = parse_csv(&text);
    assert_eq!(recs.len(), 7, "{text}");
    assert_eq!(
        recs[0].join(","),
        "id,ts,signature,confidence,proto,client_ip,client_port,server_ip,server_port,target,rules,capture_lossy,evidence"
    );
    for r in &recs[1..] {
        assert_eq!(r.len(), 13, "{r:?}");
        let evidence: Value = serde_json::from_str(&r[12]).unwrap();
        assert_eq!(evidence["rules"][0], "data_after_rst");
    }
    // the client is cut to its /24, so the id (a hash over the full
    // address) is replaced by a keyed one
    assert!(
        recs[1][0].starts_with("tw-a") && recs[1][0].len() == 20,
        "{}",
        recs[1][0]
    );
    assert_eq!(recs[1][5], "192.0.2.0/24");
    assert_eq!(recs[1][9], "blocked.example");
    assert_eq!(recs[1][10], "data_after_rst ttl_mismatch");
    assert_eq!(recs[1][11], "false");
    assert_eq!(recs[4][9], "", "no target: empty field");
}

/// The real event format, from a replay of the fixtures, round-trips.
#[test]
fn replayed_events_export() {
    let d = tempfile::tempdir().unwrap();
    let events = d.path().join("events.jsonl");
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let o = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(["replay", "-q", "--events"])
        .arg(&events)
        .arg(fx.join("rst_inject_gfw_burst.pcap"))
        .arg(fx.join("dns_inject_race_gfw_pool.pcap"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written = std::fs::read_to_string(&events).unwrap();
    let n = written.lines().count();
    assert!(n >= 2, "{written}");
    let (out, err) = ok(&[events.to_str().unwrap(), "--client", "keep"]);
    assert_eq!(out, written, "keep/keep export is the file itself");
    assert!(err.contains(&format!("{n} events written")), "{err}");
    let (out, _) = ok(&[
        events.to_str().unwrap(),
        "-q",
        "--target",
        "drop",
        "--client",
        "drop",
        "--format",
        "csv",
    ]);
    assert_eq!(parse_csv(&out).len(), n + 1);
    assert!(!out.contains("192.0.2.10"));
}
