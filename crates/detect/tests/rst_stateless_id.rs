//! `ip_id_out_of_sequence` and a reset with IP ID 0 and DF (session 23,
//! the eleventh red-team review). A stack that resets a connection it has
//! no state for (a server after a restart, a carrier NAT that lost its
//! table) sends IP ID 0 with DF: there is no counter for it to be out of.
//! A reset whose ID is far from the server's counter otherwise still
//! counts.

mod common;

use tw_scenario::session::{Injection, EPOCH_NS};
use tw_scenario::{http, Timeline};

const MS: i64 = 1_000_000;
const RTT: i64 = 80 * MS;

/// A server (sequential IP IDs, DF) answers one request on a keep-alive
/// connection; the next request is reset 2 ms later (far sooner than the
/// round trip) by something at TTL 40 with IP ID `id` and DF.
fn reset_with_id(id: u16) -> Vec<serde_json::Value> {
    let mut tl = Timeline::new();
    let mut s = common::session_with_ttl([203, 0, 113, 70], 54601, 80, 52);
    let t = s.handshake(&mut tl, EPOCH_NS, RTT);
    let t = s.client_send(&mut tl, t + MS, &http::get("api.example", "/a"));
    let t = s.server_send(&mut tl, t + RTT, &http::ok_html(600));
    let t = s.client_send(&mut tl, t + 2_000 * MS, &http::get("api.example", "/b"));
    s.inject_from_server(
        &mut tl,
        t + 2 * MS,
        &Injection::rst_ack().ttl(40).ip_id(id).df(true),
    );
    common::events_of(tl, "rst_injection")
}

fn rules(ev: &[serde_json::Value]) -> Vec<String> {
    ev.iter()
        .flat_map(|e| {
            e["evidence"]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_reset_with_id_zero_and_df_is_not_out_of_sequence() {
    // far from the server's counter: the rule counts (the control)
    let far = reset_with_id(0x9000);
    assert!(
        rules(&far).iter().any(|r| r == "ip_id_out_of_sequence"),
        "{far:?}"
    );
    // ID 0 with DF: a stateless reset, no counter to be out of (it counted
    // before session 23)
    let zero = reset_with_id(0);
    assert!(
        !rules(&zero).iter().any(|r| r == "ip_id_out_of_sequence"),
        "{zero:?}"
    );
}
