//! Publishing per-worker [`Stats`] to the shared registry.

use prometheus::{IntCounter, IntGauge};
use std::sync::PoisonError;
use tw_detect::stats::{FlowProto, Stats};

use crate::Metrics;

/// Publishes one worker's [`Stats`] to [`Metrics`].
///
/// Each worker owns one publisher and calls [`StatsPublisher::publish`] with
/// its current stats every few thousand packets and when idle. The publisher
/// adds the growth since its previous publish to the counters, and adjusts the
/// `tamperwatch_flows_active` gauge by the signed change, so the publishers of
/// several workers sum correctly in the shared registry.
#[derive(Debug, Clone, Default)]
pub struct StatsPublisher {
    last: Stats,
}

fn add_counter(c: &IntCounter, last: u64, now: u64) {
    // Counters only grow; if a worker's stats were reset, resynchronise.
    if now > last {
        c.inc_by(now - last);
    }
}

fn add_counters<const N: usize>(c: &[IntCounter; N], last: &[u64; N], now: &[u64; N]) {
    for ((c, &l), &n) in c.iter().zip(last).zip(now) {
        add_counter(c, l, n);
    }
}

fn add_gauge(g: &IntGauge, last: u64, now: u64) {
    let d = i128::from(now) - i128::from(last);
    if d != 0 {
        g.add(i64::try_from(d).unwrap_or(if d > 0 { i64::MAX } else { i64::MIN }));
    }
}

impl StatsPublisher {
    /// A publisher that has published nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stats as of the previous publish.
    pub fn last(&self) -> &Stats {
        &self.last
    }

    /// Adds the change from the previous publish to `now` to `m`.
    pub fn publish(&mut self, m: &Metrics, now: &Stats) {
        let last = &self.last;
        add_counters(&m.packets, &last.packets, &now.packets);
        add_counters(&m.bytes, &last.bytes, &now.bytes);
        add_counters(&m.decode_errors, &last.decode_errors, &now.decode_errors);
        for p in 0..FlowProto::COUNT {
            add_gauge(
                &m.flows_active[p],
                last.flows_active[p],
                now.flows_active[p],
            );
        }
        add_counters(&m.flows_started, &last.flows_started, &now.flows_started);
        for p in 0..FlowProto::COUNT {
            add_counters(
                &m.flows_finished[p],
                &last.flows_finished[p],
                &now.flows_finished[p],
            );
        }
        add_counters(&m.evictions, &last.evictions, &now.evictions);
        add_counter(
            &m.untracked_packets,
            last.untracked_packets,
            now.untracked_packets,
        );
        add_counter(&m.packets_behind, last.packets_behind, now.packets_behind);
        add_counter(
            &m.server_evictions,
            last.server_evictions,
            now.server_evictions,
        );
        add_counter(
            &m.throttle_records_dropped,
            last.throttle_records_dropped,
            now.throttle_records_dropped,
        );
        add_counter(
            &m.hello_buffers_exhausted,
            last.hello_buffers_exhausted,
            now.hello_buffers_exhausted,
        );
        add_counter(
            &m.blackhole_first_hop_handshake,
            last.blackhole_first_hop_handshake,
            now.blackhole_first_hop_handshake,
        );
        add_counter(
            &m.rst_server_end_reject,
            last.rst_server_end_reject,
            now.rst_server_end_reject,
        );
        add_counter(
            &m.blackhole_port_scan,
            last.blackhole_port_scan,
            now.blackhole_port_scan,
        );
        add_counter(
            &m.blackhole_inbound,
            last.blackhole_inbound,
            now.blackhole_inbound,
        );
        add_counter(
            &m.blackhole_https_upgrade,
            last.blackhole_https_upgrade,
            now.blackhole_https_upgrade,
        );
        add_counters(&m.events, &last.events, &now.events);
        add_counters(
            &m.captive_withheld,
            &last.captive_withheld,
            &now.captive_withheld,
        );
        add_counters(&m.captive_checks, &last.captive_checks, &now.captive_checks);
        add_gauge(&m.captive_open, last.captive_open, now.captive_open);
        add_counters(&m.rst_by_stage, &last.rst_by_stage, &now.rst_by_stage);
        add_counters(&m.rst_first_hop, &last.rst_first_hop, &now.rst_first_hop);
        add_counter(&m.dns_queries, last.dns_queries, now.dns_queries);
        add_counters(&m.dns_answers, &last.dns_answers, &now.dns_answers);
        add_counter(&m.dns_unanswered, last.dns_unanswered, now.dns_unanswered);
        add_counters(
            &m.dns_moves_excused,
            &last.dns_moves_excused,
            &now.dns_moves_excused,
        );
        add_counter(&m.http_requests, last.http_requests, now.http_requests);
        add_counter(
            &m.http_damaged_segments,
            last.http_damaged_segments,
            now.http_damaged_segments,
        );
        add_counter(
            &m.tls_client_hellos,
            last.tls_client_hellos,
            now.tls_client_hellos,
        );
        add_counter(&m.quic_attempts, last.quic_attempts, now.quic_attempts);
        add_counters(&m.blackholes, &last.blackholes, &now.blackholes);
        add_counters(
            &m.blackhole_server_busy,
            &last.blackhole_server_busy,
            &now.blackhole_server_busy,
        );
        add_counters(
            &m.link_down_excused,
            &last.link_down_excused,
            &now.link_down_excused,
        );
        let ring = tw_detect::stats::RESIDUAL_RING as u64;
        for i in last
            .residual_count
            .max(now.residual_count.saturating_sub(ring))..now.residual_count
        {
            if let Some(ms) = now.residual_ms.get((i % ring) as usize) {
                m.residual_seconds.observe(f64::from(*ms) / 1000.0);
            }
        }
        let rows = m.group_rows();
        let zero = [0u64; tw_detect::stats::Signature::COUNT];
        for (i, row) in now.by_group.iter().enumerate() {
            // The engine's last row is `other`, like the registry's.
            let target = if i + 1 == now.by_group.len() {
                rows.last()
            } else {
                rows.get(i)
            };
            if let Some(t) = target {
                add_counters(t, last.by_group.get(i).unwrap_or(&zero), row);
            }
        }
        let rows = m.group_target_rows();
        let zero = [0u64; tw_detect::stats::GroupTarget::COUNT];
        for (i, row) in now.group_targets.iter().enumerate() {
            let target = if i + 1 == now.group_targets.len() {
                rows.last()
            } else {
                rows.get(i)
            };
            if let Some(t) = target {
                add_counters(t, last.group_targets.get(i).unwrap_or(&zero), row);
            }
        }
        let rows = m.downloads.read().unwrap_or_else(PoisonError::into_inner);
        for (i, n) in now.downloads.iter().enumerate() {
            // the engine's last row is `other`, like the registry's
            let c = if i + 1 == now.downloads.len() {
                rows.last()
            } else {
                rows.get(i)
            };
            if let Some(c) = c {
                add_counter(c, last.downloads.get(i).copied().unwrap_or(0), *n);
            }
        }
        drop(rows);
        let ring = tw_detect::stats::GOODPUT_RING as u64;
        let rows = m.goodput.read().unwrap_or_else(PoisonError::into_inner);
        let n = now.by_group.len().max(1);
        for i in last
            .goodput_count
            .max(now.goodput_count.saturating_sub(ring))..now.goodput_count
        {
            if let Some((row, kbps)) = now.goodput.get((i % ring) as usize) {
                // the engine's last row is `other`, like the registry's
                let r = usize::from(*row);
                let h = if r + 1 >= n { rows.last() } else { rows.get(r) };
                if let Some(h) = h {
                    h.observe(f64::from(*kbps) * 1000.0 / 8.0);
                }
            }
        }
        drop(rows);
        let rows = m
            .throttle_limit
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for (i, (ts, bps)) in now.throttle_limit.iter().enumerate() {
            if last.throttle_limit.get(i).is_some_and(|(t, _)| t == ts) {
                continue;
            }
            let g = if i + 1 == now.throttle_limit.len() {
                rows.last()
            } else {
                rows.get(i)
            };
            if let Some(g) = g {
                g.set(i64::try_from(*bps / 8).unwrap_or(i64::MAX));
            }
        }
        drop(rows);
        self.last.clone_from(now);
    }

    /// Publishes `last` (the worker's final stats) and then withdraws this
    /// worker's share of `tamperwatch_flows_active`, for a worker that stops
    /// while the daemon goes on.
    pub fn retire(mut self, m: &Metrics, last: &Stats) {
        self.publish(m, last);
        for p in 0..FlowProto::COUNT {
            add_gauge(&m.flows_active[p], self.last.flows_active[p], 0);
        }
    }
}
