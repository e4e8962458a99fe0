//! What the bounded tables cost, and sizing them to a memory ceiling.
//!
//! Every table the engine keeps is allocated once with a fixed capacity, so
//! its worst case is known from the configuration: [`plan`] adds them up
//! (flow slots and their index, the per-server table and its index, the
//! throttling judge's bounded queues, and an allowance for the detector
//! state that confirmed flows hold), and [`fit`] scales the flow and server
//! tables down, in proportion, until the total fits a ceiling.
//!
//! Detector state is the one part that is not a fixed table. The plan
//! reserves [`DETECTOR_STATE_PER_FLOW`] bytes for each confirmed flow, an
//! average (most flows hold only their target name; an HTTP response's first
//! 2 KiB or a rate measurement, 1,024 bytes, only some); the worst case of an
//! unconfirmed flow ([`unconfirmed_state_per_flow`]: a target name and a DNS
//! flow's query records, what a flood of spoofed queries fills); and the
//! ClientHello reassembly buffers, which the engine bounds
//! (`EngineConfig::max_hello_buffers`, 4 KiB each).

use crate::detectors::throttle::{History, RateRecord};
use crate::detectors::ServerState;
use crate::engine::EngineConfig;
use crate::flow::Slot;
use crate::lru::Node;
use std::mem::size_of;
use std::net::IpAddr;

/// Bytes reserved per confirmed flow for detector state (see the module docs).
pub const DETECTOR_STATE_PER_FLOW: usize = 1024;

/// Bytes reserved per unconfirmed flow: what one may hold before its server
/// answers (a target name of up to 255 bytes, a DNS flow's query records
/// with their names, a QUIC Initial's SNI), which a flood of spoofed DNS
/// queries or data segments fills.
pub fn unconfirmed_state_per_flow() -> usize {
    use crate::detectors::dns::{DnsFlow, QueryRec, QUERIES_PER_FLOW};
    // a query record keeps a short name inline and a long one (up to 255
    // bytes) on the heap; a second, different answer (boxed) comes only
    // with an answer, which makes the flow confirmed
    256 + size_of::<DnsFlow>() + QUERIES_PER_FLOW * (size_of::<QueryRec>() + 256)
}

/// Bytes of one ClientHello reassembly buffer at its largest.
pub fn hello_buffer_bytes() -> usize {
    crate::detectors::HELLO_MAX + size_of::<crate::detectors::HelloBuf>() + 32
}

/// Smallest tables [`fit`] will make.
pub const MIN_FLOWS: usize = 1024;
/// Smallest unconfirmed table [`fit`] will make.
pub const MIN_UNCONFIRMED: usize = 256;
/// Smallest per-server table [`fit`] will make.
pub const MIN_SERVERS: usize = 256;
/// Fewest ClientHello reassembly buffers [`fit`] will leave.
pub const MIN_HELLO_BUFFERS: usize = 64;
/// Smallest judge queue [`fit`] will make.
pub const MIN_JUDGE_PENDING: usize = 1024;
/// Smallest set of judge comparison records [`fit`] will make.
pub const MIN_JUDGE_REFS: usize = 256;

/// Bytes of a `hashbrown` table reserved for `cap` entries of `entry` bytes
/// (buckets are a power of two at most 7/8 full, plus a control byte each).
fn hash_table_bytes(cap: usize, entry: usize) -> usize {
    let buckets = if cap < 8 {
        if cap < 4 {
            4
        } else {
            8
        }
    } else {
        (cap.saturating_mul(8) / 7)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX)
    };
    buckets.saturating_mul(entry + 1).saturating_add(16)
}

/// The worst case of each part, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Flow slots, their free list and index (confirmed and unconfirmed).
    pub flow_tables: usize,
    /// The allowance for detector state: confirmed flows' average,
    /// unconfirmed flows' worst case, and the bounded ClientHello
    /// reassembly buffers.
    pub detector_state: usize,
    /// The per-server table and its index.
    pub servers: usize,
    /// The throttling judge's bounded queues (shared by all workers).
    pub judge: usize,
}

impl MemoryPlan {
    /// The sum.
    pub fn total(&self) -> usize {
        self.flow_tables + self.detector_state + self.servers + self.judge
    }
}

/// Bytes of one flow slot (the flow, its LRU links) as the table stores it.
pub fn slot_bytes() -> usize {
    size_of::<Slot>()
}

/// The worst case of the tables `cfg` describes, for `workers` engines each
/// holding `1/workers` of the flows and servers (as the pipeline splits them).
pub fn plan(cfg: &EngineConfig, workers: usize) -> MemoryPlan {
    let n = workers.max(1);
    let mf = cfg.flows.max_flows.div_ceil(n);
    let mu = cfg.flows.max_unconfirmed.div_ceil(n);
    let ms = cfg.max_servers.div_ceil(n);
    let slots = mf + mu;
    let flow_tables = slots * (slot_bytes() + size_of::<u32>()) + crate::flow::index_bytes(slots);
    let servers = ms * size_of::<Node<IpAddr, ServerState>>()
        + ms * size_of::<u32>()
        + hash_table_bytes(ms, size_of::<(IpAddr, u32)>());
    let history = cfg.detectors.throttle.history_targets.max(1);
    let t = &cfg.detectors.throttle;
    let judge = (t.max_pending.max(1) + t.max_refs.max(1)) * size_of::<RateRecord>()
        + history * (size_of::<History>() + 64);
    MemoryPlan {
        flow_tables: n * flow_tables,
        detector_state: n
            * (mf * DETECTOR_STATE_PER_FLOW
                + mu * unconfirmed_state_per_flow()
                + cfg.max_hello_buffers.div_ceil(n) * hello_buffer_bytes()),
        servers: n * servers,
        judge,
    }
}

/// Why a ceiling cannot be met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a memory ceiling of {limit} bytes is too small: the smallest tables need {needed} bytes")]
pub struct TooSmall {
    /// The ceiling asked for.
    pub limit: usize,
    /// What the smallest tables need.
    pub needed: usize,
}

/// Scales the flow and unconfirmed table sizes of `cfg` (and the throttling
/// judge's queues with them) down (never up), keeping their ratios, until [`plan`] fits `limit` bytes for `workers`
/// engines; the per-server table (small, and what cross-flow evidence rests
/// on) shrinks only if the smallest flow tables still do not fit. Returns
/// the plan.
pub fn fit(cfg: &mut EngineConfig, workers: usize, limit: usize) -> Result<MemoryPlan, TooSmall> {
    if plan(cfg, workers).total() <= limit {
        return Ok(plan(cfg, workers));
    }
    let (f0, u0, s0) = (
        cfg.flows.max_flows,
        cfg.flows.max_unconfirmed,
        cfg.max_servers,
    );
    let (p0, r0, h0) = (
        cfg.detectors.throttle.max_pending,
        cfg.detectors.throttle.max_refs,
        cfg.max_hello_buffers,
    );
    // The judge's queues hold at most a few records per measured flow: they
    // shrink with the flow tables.
    let flows_at = |c: &mut EngineConfig, x: f64| {
        c.flows.max_flows = ((f0 as f64 * x) as usize).max(MIN_FLOWS.min(f0));
        c.flows.max_unconfirmed = ((u0 as f64 * x) as usize).max(MIN_UNCONFIRMED.min(u0));
        c.max_hello_buffers = ((h0 as f64 * x) as usize).max(MIN_HELLO_BUFFERS.min(h0));
        let t = &mut c.detectors.throttle;
        t.max_pending = ((p0 as f64 * x) as usize).max(MIN_JUDGE_PENDING.min(p0));
        t.max_refs = ((r0 as f64 * x) as usize).max(MIN_JUDGE_REFS.min(r0));
    };
    let servers_at = |c: &mut EngineConfig, x: f64| {
        c.max_servers = ((s0 as f64 * x) as usize).max(MIN_SERVERS.min(s0));
    };
    // Bisect a scale factor (the plan is monotone in it): flows first.
    let bisect = |c: &mut EngineConfig, set: &dyn Fn(&mut EngineConfig, f64)| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..40 {
            let mid = (lo + hi) / 2.0;
            set(c, mid);
            if plan(c, workers).total() <= limit {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        set(c, lo);
    };
    bisect(cfg, &flows_at);
    if plan(cfg, workers).total() > limit {
        bisect(cfg, &servers_at);
    }
    let p = plan(cfg, workers);
    if p.total() > limit {
        return Err(TooSmall {
            limit,
            needed: p.total(),
        });
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashbrown_reserves_what_the_plan_says() {
        // The plan's index estimate must not be below what hashbrown takes.
        for cap in [1usize, 7, 8, 100, 1000, 4096, 131_072] {
            let t: hashbrown::HashTable<u32> = hashbrown::HashTable::with_capacity(cap);
            let buckets = t.capacity() * 8 / 7 + 1;
            assert!(
                hash_table_bytes(cap, 4) >= buckets.min(t.capacity() + 1) * 5,
                "cap {cap}: capacity {}",
                t.capacity()
            );
            assert!(t.capacity() >= cap);
        }
    }

    #[test]
    fn fitting_shrinks_in_proportion_and_respects_the_ceiling() {
        let cfg = EngineConfig::default();
        let full = plan(&cfg, 1).total();
        for workers in [1, 2, 4] {
            for mib in [32usize, 64, 128, 256] {
                let mut c = EngineConfig::default();
                let limit = mib << 20;
                let p = fit(&mut c, workers, limit).unwrap();
                assert!(p.total() <= limit, "{mib} MiB: {p:?}");
                assert_eq!(p, plan(&c, workers));
                if full > limit {
                    // Close to the ceiling (within 2%), not far below it.
                    assert!(p.total() * 100 >= limit * 98 || c.flows.max_flows == MIN_FLOWS);
                    let ratio = c.flows.max_flows as f64 / c.flows.max_unconfirmed as f64;
                    assert!((ratio - 4.0).abs() < 0.05, "{ratio}");
                    // Servers shrink only when the smallest flow tables do not fit.
                    assert!(c.max_servers == 16_384 || c.flows.max_flows == MIN_FLOWS);
                } else {
                    assert_eq!(c.flows.max_flows, 131_072);
                }
            }
        }
        let mut c = EngineConfig::default();
        let e = fit(&mut c, 1, 1 << 20).unwrap_err();
        assert!(e.needed > 1 << 20);
    }

    #[test]
    fn a_larger_ceiling_never_gives_smaller_tables() {
        let mut last = 0;
        for mib in (8..700).step_by(7) {
            let mut c = EngineConfig::default();
            if fit(&mut c, 2, mib << 20).is_ok() {
                assert!(c.flows.max_flows >= last);
                last = c.flows.max_flows;
            }
        }
        assert_eq!(last, 131_072);
    }
}
