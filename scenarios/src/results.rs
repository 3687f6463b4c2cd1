//! A run's outcome as the report's tables ([`reports::RunData`]).

use std::collections::BTreeMap;

use protocols::transport::Layered;
use protocols::transport_manager::TmNote;
use reports::data::{
    DeliveryRow, DiscoveryRow, FaultRow, IntervalRow, LookupRow, NodeRow, TransportRow,
};
use reports::summary::{
    CostJson, DiscoveryJson, LatencyMs, MeanMaxMs, RemovedJson, RequestsJson, SignalingJson,
    TransportsJson,
};
use reports::{RunData, RunSummary};
use sim_core::metrics::{nearest_rank, LatencySummary, TimeSeries};
use sim_core::{DropCause, Duration, Instant, Metrics, NodeId, TraceKind, TraceRecord};

use crate::build::Layout;
use crate::run::Outcome;
use crate::schema::Scenario;
use crate::services::{DiscoveryFigures, SignalingFigures};
use crate::transport::{NodeEvent, TransportNote};

/// The interval of `timeseries.csv`: the scenario's `output.interval`, or
/// else the smallest of 1, 2 or 5 × 10ᵏ ns that cuts the run into at most 200
/// intervals (so a 60 s run gets 500 ms intervals: 120 of them).
pub fn interval_for(scenario: &Scenario) -> Duration {
    if let Some(i) = scenario.output.interval {
        return i;
    }
    let target = scenario.duration.as_nanos().div_ceil(200).max(1);
    let mut decade = 1u64;
    loop {
        for step in [1, 2, 5] {
            let nice = decade.saturating_mul(step);
            if nice >= target {
                return Duration::from_nanos(nice);
            }
        }
        decade = decade.saturating_mul(10);
    }
}

/// Everything the report shows about `outcome`, a run of `scenario` whose
/// file text is `text`.
pub fn run_data(outcome: &Outcome, scenario: &Scenario, text: &str) -> RunData {
    let m = &outcome.metrics;
    let deliveries = m
        .deliveries
        .iter()
        .map(|d| DeliveryRow {
            message: d.msg,
            source: d.source.0,
            destination: d.destination.0,
            sent_ns: d.sent_at.as_nanos(),
            delivered_ns: d.delivered_at.as_nanos(),
            latency_ms: d.latency().as_millis_f64(),
            hops: d.hops,
        })
        .collect();
    let layout = Layout::of(scenario);
    let energy = |i: usize| m.energy.get(i).copied().flatten();
    let nodes = m
        .nodes
        .iter()
        .enumerate()
        .map(|(i, c)| NodeRow {
            node: i as u32,
            group: scenario.groups[layout.group_of(i as u32)].name.clone(),
            packets_sent: c.packets_sent,
            bytes_sent: c.bytes_sent,
            packets_received: c.packets_received,
            bytes_received: c.bytes_received,
            relays: c.relays,
            drops: c.drops,
            duplicates: c.duplicates,
            energy_j: energy(i).map(|e| e.spent_j),
            battery: energy(i).map(|e| e.charge),
        })
        .collect::<Vec<_>>();
    let transports = transport_rows(&outcome.notes);
    let mut summary = RunSummary::new(
        &outcome.scenario,
        outcome.seed,
        outcome.trace_hash.to_string(),
        &outcome.summary,
        &nodes,
        outcome.events,
        outcome.wall_s,
    );
    summary.transports = TransportsJson::from_rows(&transports);
    let services = &outcome.services;
    summary.discovery = services
        .discovery
        .as_ref()
        .map(|d| discovery_json(d, outcome.duration));
    summary.signaling = services.signaling.as_ref().map(signaling_json);
    RunData {
        summary,
        deliveries,
        timeseries: m
            .timeseries
            .as_ref()
            .map(|ts| intervals(ts, m))
            .unwrap_or_default(),
        nodes,
        faults: m.faults.iter().map(fault_row).collect(),
        lookups: m
            .lookups
            .iter()
            .map(|(&lookup, l)| LookupRow {
                lookup,
                node: l.node.0,
                started_ns: l.started_at.as_nanos(),
                done_ns: l.done.map(|d| d.at.as_nanos()),
                latency_ms: l.done.map(|d| (d.at - l.started_at).as_millis_f64()),
                hops: l.done.map(|d| d.hops),
                requests: l.done.map(|d| d.requests),
                success: l.done.map(|d| d.success),
            })
            .collect(),
        transports,
        discovery: services
            .discovery
            .as_ref()
            .map(discovery_rows)
            .unwrap_or_default(),
        scenario_text: text.to_string(),
    }
}

/// One row per message of the transport managers, from their notes: opened
/// by its first choice (or its refusal), closed by its delivery, giving up,
/// or lack of a route.
fn transport_rows(notes: &[(Instant, NodeId, NodeEvent)]) -> Vec<TransportRow> {
    let mut rows: Vec<TransportRow> = Vec::new();
    let mut open: BTreeMap<(NodeId, u64), usize> = BTreeMap::new();
    let row = |node: NodeId, to: NodeId, bytes: usize, at: Instant, message, outcome: &str| {
        TransportRow {
            message,
            node: node.0,
            to: to.0,
            bytes: bytes as u64,
            sent_ns: at.as_nanos(),
            first: None,
            attempts: 0,
            via: None,
            latency_ms: None,
            outcome: outcome.to_string(),
        }
    };
    for (at, node, event) in notes {
        let Layered::Transport(TransportNote::Manager(note)) = event else {
            continue;
        };
        let (node, at) = (*node, *at);
        match *note {
            TmNote::Chosen {
                msg,
                to,
                kind,
                attempt,
                len,
                ..
            } => {
                let i = *open.entry((node, msg)).or_insert_with(|| {
                    let mut r = row(node, to, len, at, Some(msg), "pending");
                    r.first = Some(format!("{kind:?}"));
                    rows.push(r);
                    rows.len() - 1
                });
                rows[i].attempts = u32::from(attempt) + 1;
            }
            TmNote::Delivered {
                msg,
                kind,
                attempts,
                latency,
                ..
            } => {
                if let Some(&i) = open.get(&(node, msg)) {
                    let r = &mut rows[i];
                    r.via = Some(format!("{kind:?}"));
                    r.attempts = u32::from(attempts);
                    r.latency_ms = Some(latency.as_millis_f64());
                    r.outcome = "delivered".into();
                }
            }
            TmNote::GaveUp { msg, attempts, .. } => {
                if let Some(&i) = open.get(&(node, msg)) {
                    rows[i].attempts = u32::from(attempts);
                    rows[i].outcome = "gave_up".into();
                }
            }
            TmNote::NoRoute { msg, to, len } => match open.get(&(node, msg)) {
                Some(&i) => rows[i].outcome = "no_route".into(),
                None => rows.push(row(node, to, len, at, Some(msg), "no_route")),
            },
            TmNote::QueueDropped { to, len, .. } => {
                rows.push(row(node, to, len, at, None, "queue_full"));
            }
            _ => {}
        }
    }
    rows
}

/// `count / of`, or 0 when `of` is 0.
fn ratio(count: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 / of as f64
    }
}

/// Percentiles of `durations` in milliseconds.
fn percentiles_ms(durations: &[Duration]) -> LatencyMs {
    let mut ns: Vec<u64> = durations.iter().map(|d| d.as_nanos()).collect();
    ns.sort_unstable();
    LatencyMs::from(&LatencySummary::from_sorted(&ns))
}

/// Mean and largest of `durations` in milliseconds.
fn mean_max_ms(durations: &[Duration]) -> MeanMaxMs {
    let l = percentiles_ms(durations);
    MeanMaxMs {
        mean: l.mean,
        max: l.max,
    }
}

/// The `discovery` object of a run that lasted `duration`.
fn discovery_json(f: &DiscoveryFigures, duration: Duration) -> DiscoveryJson {
    let answered = f.responses.len() as u64;
    let returned = f.returned();
    let staleness = f.staleness_sorted();
    let served = &f.served;
    let cost = |c: &protocols::discovery::Cost| CostJson {
        gateway: c.gateway,
        function: c.function,
        database: c.database,
        total: c.total(),
    };
    DiscoveryJson {
        discovers: f.discovers,
        answered,
        success_ratio: ratio(answered, f.discovers),
        unavailable: f.unavailable,
        timed_out: f.timed_out,
        returned,
        stale_returns: staleness.len() as u64,
        stale_share: ratio(staleness.len() as u64, returned),
        staleness_ms: percentiles_ms(&staleness),
        deaths: f.deaths,
        expired: f.expired,
        served: RequestsJson {
            register: served.register,
            heartbeat: served.heartbeat,
            discover: served.discover,
            health: served.health,
            total: served.total(),
        },
        rejected: f.rejected.total(),
        // A scenario lasts longer than zero.
        requests_per_s: served.total() as f64 / duration.as_secs_f64(),
        queue_wait_ms: mean_max_ms(&f.queue_waits),
        cold_starts: f.cold_starts,
        cost_usd: f.cost.total(),
        monthly_cost_usd: cost(&f.monthly),
    }
}

/// `discovery.csv`: one row per answered discover.
fn discovery_rows(f: &DiscoveryFigures) -> Vec<DiscoveryRow> {
    f.responses
        .iter()
        .map(|r| {
            let secs: Vec<f64> = r.stale.iter().map(|d| d.as_secs_f64()).collect();
            let n = secs.len();
            DiscoveryRow {
                message: r.msg,
                node: r.node.0,
                as_of_ns: r.as_of.as_nanos(),
                received_ns: r.at.as_nanos(),
                returned: r.returned,
                stale: n as u32,
                staleness_mean_s: (n > 0).then(|| secs.iter().sum::<f64>() / n as f64),
                staleness_max_s: secs.iter().copied().reduce(f64::max),
            }
        })
        .collect()
}

/// The `signaling` object.
fn signaling_json(f: &SignalingFigures) -> SignalingJson {
    let opened = f.setups.len() as u64;
    SignalingJson {
        joins: f.joins,
        join_ms: mean_max_ms(&f.join_times),
        refused: f.refused,
        join_timed_out: f.join_timed_out,
        connects: f.connects,
        channels_opened: opened,
        connect_ratio: ratio(opened, f.connects),
        setup_failed: f.setup_failed,
        setup_ms: percentiles_ms(&f.setups),
        direct_messages: f.direct_messages,
        direct_bytes: f.direct_bytes,
        no_channel: f.no_channel,
        relayed: f.relayed,
        removed: RemovedJson {
            left: f.removed.left,
            closed: f.removed.closed,
            idle_timeout: f.removed.idle_timeout,
            replaced: f.removed.replaced,
        },
    }
}

/// Merges the kernel's per-interval network figures with the message-level
/// figures computed from the message and delivery records.
fn intervals(ts: &TimeSeries, m: &Metrics) -> Vec<IntervalRow> {
    let width = ts.interval().as_nanos();
    let n = ts.rows().len();
    let slot = |t: u64| ((t / width) as usize).min(n.saturating_sub(1));
    let mut messages = vec![0u64; n];
    let mut expected = vec![0u64; n];
    let mut delivered_of_sent = vec![0u64; n];
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); n];
    for msg in m.messages.values() {
        let k = slot(msg.sent_at.as_nanos());
        messages[k] += 1;
        expected[k] += u64::from(msg.expected);
    }
    for d in &m.deliveries {
        delivered_of_sent[slot(d.sent_at.as_nanos())] += 1;
        latencies[slot(d.delivered_at.as_nanos())].push(d.latency().as_nanos());
    }
    ts.rows()
        .iter()
        .enumerate()
        .map(|(k, row)| {
            let lat = &mut latencies[k];
            lat.sort_unstable();
            let ms = |ns: u64| ns as f64 / 1e6;
            let (mean, p50, p99) = if lat.is_empty() {
                (0.0, 0.0, 0.0)
            } else {
                let sum: u128 = lat.iter().map(|&x| u128::from(x)).sum();
                (
                    sum as f64 / lat.len() as f64 / 1e6,
                    ms(nearest_rank(lat, 50)),
                    ms(nearest_rank(lat, 99)),
                )
            };
            IntervalRow {
                start_ns: k as u64 * width,
                end_ns: (k as u64 + 1) * width,
                messages: messages[k],
                expected: expected[k],
                delivered_of_sent: delivered_of_sent[k],
                deliveries: lat.len() as u64,
                latency_mean_ms: mean,
                latency_p50_ms: p50,
                latency_p99_ms: p99,
                packets_sent: row.packets_sent,
                bytes_sent: row.bytes_sent,
                drops: DropCause::ALL
                    .iter()
                    .map(|&c| (c.name().to_string(), row.drops[c as usize]))
                    .collect::<BTreeMap<_, _>>(),
                nodes_up: row.nodes_up,
            }
        })
        .collect()
}

fn fault_row(r: &TraceRecord) -> FaultRow {
    let node = r.node.0;
    let (kind, detail) = match r.kind {
        TraceKind::Crash => (
            "crash",
            format!(
                "node {node}{}",
                if r.size == 1 { ", state lost" } else { "" }
            ),
        ),
        TraceKind::Restart => ("restart", format!("node {node}")),
        TraceKind::BatteryEmpty => ("battery_empty", format!("node {node}, battery empty")),
        TraceKind::LinkFault => (
            "link",
            format!("link {node}–{}", r.peer.map_or(node, |p| p.0)),
        ),
        TraceKind::Partition => ("partition", format!("{} groups", r.size)),
        TraceKind::Heal => ("heal", "all partitions end".to_string()),
        // The kernel records only the kinds above as faults.
        other => (other.name(), String::new()),
    };
    FaultRow {
        time_ns: r.time.as_nanos(),
        kind: kind.to_string(),
        detail,
    }
}
