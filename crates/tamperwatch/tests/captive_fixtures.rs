//! Captive portals (`tw_detect::link::Captive`) on the generated fixtures
//! (`tw_scenario::captive_scenarios`): what a portal intercepts before its
//! login is withheld and counted; what comes after it, or after the period
//! lapsed, is reported. With one worker and with several.

mod common;
use common::*;
use serde_json::Value;

fn run(name: &str, workers: &str) -> (Vec<Value>, String) {
    let r = replay(
        &[root().join(format!("tests/fixtures/{name}.pcap"))],
        &["--quiet", "--workers", workers],
    );
    assert_eq!(r.status, 0, "{name}: {}", r.stderr);
    (r.events, r.metrics)
}

fn summary(ev: &[Value]) -> Vec<(String, String, u64)> {
    ev.iter()
        .map(|e| {
            (
                e["signature"].as_str().unwrap().to_string(),
                e["flow"]["server_ip"].as_str().unwrap().to_string(),
                e["flow"]["server_port"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_cafe_portal_before_the_login_raises_nothing_and_a_block_after_it_does() {
    for workers in ["1", "2"] {
        let (ev, m) = run("captive_portal_cafe", workers);
        // Without the portal's period: the portal's forged DNS answer
        // (dns_injection 0.9) and its intercepted HTTP next to dropped HTTPS
        // (blackhole 0.7 on 203.0.113.50:443) were reported.
        assert_eq!(
            summary(&ev),
            vec![("blackhole".into(), "203.0.113.51".into(), 443)],
            "workers {workers}"
        );
        let withheld = |sig: &str| {
            metric(
                &m,
                "tamperwatch_captive_portal_events_withheld_total",
                &[("signature", sig)],
            )
        };
        assert_eq!(withheld("dns_injection"), Some(1.0), "workers {workers}");
        // (since session 23 the portal's redirect to its login page on
        // port 80 shows no server working: the dropped HTTPS has no
        // contrast, and there is no blackhole event to withhold)
        assert_eq!(withheld("blackhole"), Some(0.0), "workers {workers}");
        assert_eq!(withheld("rst_injection"), Some(0.0));
        let checks = |r: &str| {
            metric(
                &m,
                "tamperwatch_connectivity_checks_total",
                &[("result", r)],
            )
        };
        // at home, and after the login: as expected; at the café: a portal
        assert_eq!(checks("online"), Some(2.0), "workers {workers}");
        assert_eq!(checks("portal"), Some(1.0), "workers {workers}");
        assert_eq!(
            metric(&m, "tamperwatch_captive_portal", &[]),
            Some(0.0),
            "ended by the login"
        );
    }
}

#[test]
fn a_portal_period_lapses_ten_minutes_after_its_last_answer() {
    for workers in ["1", "2"] {
        let (ev, m) = run("captive_portal_login_page", workers);
        // nine minutes after the check (its login page, a 200 where a 204
        // was due): withheld; twelve minutes after it: reported
        assert_eq!(
            summary(&ev),
            vec![("blackhole".into(), "203.0.113.51".into(), 443)],
            "workers {workers}"
        );
        assert_eq!(
            metric(
                &m,
                "tamperwatch_captive_portal_events_withheld_total",
                &[("signature", "blackhole")]
            ),
            Some(1.0)
        );
        assert_eq!(
            metric(
                &m,
                "tamperwatch_connectivity_checks_total",
                &[("result", "portal")]
            ),
            Some(1.0)
        );
        assert_eq!(metric(&m, "tamperwatch_captive_portal", &[]), Some(0.0));
    }
}
