//! `summary.json`: the figures `p2psim run` prints, as JSON.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sim_core::Summary;

use crate::atomic::write_atomic;

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

/// What the run's lookups (DHT queries) achieved; all zero when there were
/// none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupsJson {
    /// Lookups started.
    pub started: u64,
    /// Lookups that ended, successful or not.
    pub done: u64,
    /// Lookups that found what they looked for.
    pub succeeded: u64,
    /// `succeeded / started` (0 when none started).
    pub success_ratio: f64,
    /// Mean rounds of requests of ended lookups.
    pub hops_mean: f64,
    /// Mean requests of ended lookups.
    pub requests_mean: f64,
    /// Latency of ended lookups.
    pub latency_ms: LatencyMs,
}

/// The contents of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Application messages sent.
    pub messages: u64,
    /// Deliveries.
    pub deliveries: u64,
    /// Deliveries over expected deliveries.
    pub delivery_ratio: f64,
    /// Delivery latency.
    pub latency_ms: LatencyMs,
    /// Mean hops of delivered copies.
    pub hops_mean: f64,
    /// Drops by cause name.
    pub drops: BTreeMap<String, u64>,
    /// Lookups (DHT queries).
    pub lookups: LookupsJson,
    /// Datagrams sent.
    pub packets_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Kernel events processed.
    pub events: u64,
    /// Wall-clock seconds of the event loop.
    pub wall_s: f64,
}

impl From<&sim_core::metrics::LatencySummary> for LatencyMs {
    fn from(l: &sim_core::metrics::LatencySummary) -> Self {
        LatencyMs {
            p50: l.p50,
            p90: l.p90,
            p99: l.p99,
            mean: l.mean,
            max: l.max,
        }
    }
}

impl From<&sim_core::metrics::LookupSummary> for LookupsJson {
    fn from(l: &sim_core::metrics::LookupSummary) -> Self {
        LookupsJson {
            started: l.started,
            done: l.done,
            succeeded: l.succeeded,
            success_ratio: if l.started == 0 {
                0.0
            } else {
                l.succeeded as f64 / l.started as f64
            },
            hops_mean: l.hops_mean,
            requests_mean: l.requests_mean,
            latency_ms: LatencyMs::from(&l.latency),
        }
    }
}

impl RunSummary {
    /// The summary of a run.
    pub fn new(
        scenario: &str,
        seed: u64,
        trace_hash: String,
        s: &Summary,
        events: u64,
        wall_s: f64,
    ) -> Self {
        RunSummary {
            scenario: scenario.to_string(),
            seed,
            trace_hash,
            messages: s.messages,
            deliveries: s.deliveries,
            delivery_ratio: s.delivery_ratio,
            latency_ms: LatencyMs::from(&s.latency),
            hops_mean: s.hops_mean,
            drops: s
                .drops
                .iter()
                .map(|(c, n)| (c.name().to_string(), *n))
                .collect(),
            lookups: LookupsJson::from(&s.lookups),
            packets_sent: s.packets_sent,
            bytes_sent: s.bytes_sent,
            events,
            wall_s,
        }
    }

    /// Writes it as pretty JSON to `path`, atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_atomic(path, |w| {
            serde_json::to_writer_pretty(&mut *w, self)?;
            w.write_all(b"\n")
        })
    }
}
