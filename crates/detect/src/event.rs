//! Detection events: one JSON object per line (the contract documented in
//! `docs/events.md`).

use crate::stats::Signature;
use crate::time::{rfc3339, Nanos};
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use std::net::IpAddr;

/// Transport of the flow an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// The oriented flow an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EventFlow {
    /// `tcp` or `udp`.
    pub proto: Transport,
    /// The side that opened the flow.
    pub client_ip: IpAddr,
    /// The client's port.
    pub client_port: u16,
    /// The side that was contacted.
    pub server_ip: IpAddr,
    /// The server's port.
    pub server_port: u16,
}

/// One detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stable identifier, derived from the flow, the signature and the packet
    /// time, so that a replay of a capture gives the same ids as the live run.
    pub id: String,
    /// Packet time of the packet that completed the evidence.
    pub ts: Nanos,
    /// Which signature fired.
    pub signature: Signature,
    /// 0.0 to 1.0.
    pub confidence: f64,
    /// The flow.
    pub flow: EventFlow,
    /// Domain from SNI, Host or the DNS query name, when known.
    pub target: Option<String>,
    /// Signature-specific evidence: which rules fired, which fields disagreed
    /// and by how much (documented per signature in `docs/signatures/`).
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// Builds an event with a deterministic id.
    pub fn new(
        signature: Signature,
        ts: Nanos,
        confidence: f64,
        flow: EventFlow,
        target: Option<String>,
        evidence: serde_json::Map<String, serde_json::Value>,
    ) -> Event {
        let id = event_id(signature, ts, &flow);
        Event {
            id,
            ts,
            signature,
            confidence: confidence.clamp(0.0, 1.0),
            flow,
            target,
            evidence,
        }
    }

    /// The JSON line (without the trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain data into a String cannot fail; fall back to an
        // empty object rather than panicking.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Event", 7)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("ts", &rfc3339(self.ts))?;
        st.serialize_field("signature", self.signature.as_str())?;
        // Three decimals are plenty and keep lines stable across platforms.
        st.serialize_field("confidence", &((self.confidence * 1000.0).round() / 1000.0))?;
        st.serialize_field("flow", &self.flow)?;
        st.serialize_field("target", &self.target)?;
        st.serialize_field("evidence", &self.evidence)?;
        st.end()
    }
}

/// FNV-1a over the identifying fields: deterministic across runs and
/// platforms (unlike the flow table's seeded hasher, on purpose).
fn event_id(sig: Signature, ts: Nanos, f: &EventFlow) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(sig.as_str().as_bytes());
    eat(&ts.to_be_bytes());
    eat(&[f.proto as u8]);
    for ip in [f.client_ip, f.server_ip] {
        match ip {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
    }
    eat(&f.client_port.to_be_bytes());
    eat(&f.server_port.to_be_bytes());
    format!("tw-{:016x}", h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> EventFlow {
        EventFlow {
            proto: Transport::Tcp,
            client_ip: "192.0.2.10".parse().unwrap(),
            client_port: 40000,
            server_ip: "203.0.113.5".parse().unwrap(),
            server_port: 443,
        }
    }

    #[test]
    fn json_line_has_the_contract_fields() {
        let mut ev = serde_json::Map::new();
        ev.insert("rules".into(), serde_json::json!(["data_after_rst"]));
        let e = Event::new(
            Signature::RstInjection,
            1_700_000_000_500_000_000,
            0.91234,
            flow(),
            Some("example.com".into()),
            ev,
        );
        let v: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(v["signature"], "rst_injection");
        assert_eq!(v["ts"], "2023-11-14T22:13:20.500000Z");
        assert_eq!(v["confidence"], 0.912);
        assert_eq!(v["flow"]["proto"], "tcp");
        assert_eq!(v["flow"]["client_ip"], "192.0.2.10");
        assert_eq!(v["flow"]["server_port"], 443);
        assert_eq!(v["target"], "example.com");
        assert_eq!(v["evidence"]["rules"][0], "data_after_rst");
        assert!(v["id"].as_str().unwrap().starts_with("tw-"));
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = Event::new(
            Signature::RstInjection,
            1,
            1.0,
            flow(),
            None,
            Default::default(),
        );
        let b = Event::new(
            Signature::RstInjection,
            1,
            0.5,
            flow(),
            None,
            Default::default(),
        );
        let c = Event::new(
            Signature::DnsInjection,
            1,
            1.0,
            flow(),
            None,
            Default::default(),
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id, "tw-".to_string() + &a.id[3..]);
    }
}
