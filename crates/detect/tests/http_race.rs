//! An injected block page racing the real answer is named the forged
//! response whichever arrives first (a regression found in review, session
//! 16: the timing gate for lone responses also picked which of two was
//! forged).

use tw_detect::detectors::{default_detectors, DetectorsConfig};
use tw_detect::{Engine, EngineConfig};
use tw_scenario::catalogue::v4_session;
use tw_scenario::{http, linktype, Injection, TcpFlags, Timeline};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000_000_000_000;
const RTT: i64 = 80 * MS;

fn run(tl: Timeline) -> Vec<serde_json::Value> {
    let dets = default_detectors(&DetectorsConfig::default());
    let mut engine = Engine::new(EngineConfig::default(), dets);
    let mut entries = tl.into_entries();
    entries.sort_by_key(|e| e.ts_ns);
    let mut f = Vec::new();
    for e in &entries {
        e.frame_into(&mut f, linktype::ETHERNET).unwrap();
        engine.process_frame(linktype::ETHERNET, &f, e.ts_ns, f.len() as u32);
    }
    engine.finish();
    let mut out = vec![];
    engine.drain_events(|e| {
        out.push(serde_json::to_value(&e).unwrap());
    });
    out
}

fn iran_page() -> Vec<u8> {
    let body = br#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"><title>M1-6</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy" style="width: 100%; height: 100%" scrolling="no" marginwidth="0" marginheight="0" frameborder="0" vspace="0" hspace="0"></iframe></body></html>"#;
    http::response(403, "Forbidden", "text/html", body)
}

/// Iran's block page (TTL 60, no DF) racing the real answer (TTL 52, DF),
/// `injected_after` the request; the real answer one RTT after it. The
/// server sends no ACK before its answer (the usual case).
fn race(port: u16, injected_after: i64) -> Timeline {
    let mut tl = Timeline::new();
    let mut s = v4_session(port, 80);
    let t = s.handshake(&mut tl, T0, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("blocked.example", "/"));
    let page = iran_page();
    let mut inj = Injection::data(page)
        .ttl(60)
        .ip_id(0x2b67)
        .df(false)
        .window(65160);
    inj.flags = TcpFlags(TcpFlags::PSH_ACK.0 | TcpFlags::FIN.0);
    let real = http::ok_html(300);
    if injected_after < RTT {
        s.inject_from_server(&mut tl, t + injected_after, &inj);
        s.server_send(&mut tl, t + RTT, &real);
    } else {
        s.server_send(&mut tl, t + RTT, &real);
        let inj = inj.seq_offset(-(real.len() as i64));
        s.inject_from_server(&mut tl, t + injected_after, &inj);
    }
    tl
}

/// When two responses conflict, "the one whose headers fit the SYN/ACK
/// worse is the forged one" (http_injection.md). Since 095e418 TTL, DF and
/// window are held against the SYN/ACK alone only for an *early* response;
/// when the injected page loses the race (arrives after the real answer),
/// neither response is early, both score 0, and the first (the real
/// server's 200) is named the forged one: `response` is the real page,
/// `other_response` Iran's, and `block_page` (matched against the "forged"
/// one only) is missing. Before 095e418 the page's TTL and DF picked it.
#[test]
fn injected_page_that_loses_the_race_is_still_the_forged_one() {
    for (what, after) in [("wins the race", 2 * MS), ("loses the race", RTT + 10 * MS)] {
        let ev: Vec<_> = run(race(53401, after))
            .into_iter()
            .filter(|e| e["signature"] == "http_injection")
            .collect();
        assert_eq!(ev.len(), 1, "{what}");
        let e = &ev[0]["evidence"];
        assert_eq!(e["response"]["status"], 403, "{what}: {e}");
        assert!(
            e["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "block_page"),
            "{what}: {e}"
        );
    }
}

/// Found in review (session 16): http_injection.md says `response_after_request_ms` and
/// `handshake_rtt_ms` "are there when the server sent no ACK before the
/// response, that is when TTL, DF and window were held against the SYN/ACK
/// alone", and its example event (with `conflicting_responses`) carries
/// them. Since 1b50d01 a conflicting pair is judged against the SYN/ACK
/// alone without them (`alone && gate`).
#[test]
fn conflicting_responses_carry_the_timing_the_docs_promise() {
    let ev: Vec<_> = run(race(53402, 2 * MS))
        .into_iter()
        .filter(|e| e["signature"] == "http_injection")
        .collect();
    assert_eq!(ev.len(), 1);
    let e = &ev[0]["evidence"];
    assert!(
        e.get("ip_ids_server").is_none(),
        "no ACK before the response: {e}"
    );
    assert!(e.get("response_after_request_ms").is_some(), "{e}");
    assert!(e.get("handshake_rtt_ms").is_some(), "{e}");
}
