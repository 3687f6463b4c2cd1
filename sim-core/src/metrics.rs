//! What a run measured: sends, deliveries with latency and hops, drops by cause,
//! and bytes per node.

use std::collections::BTreeMap;

use crate::protocol::NodeId;
use crate::time::{Duration, Instant};
use crate::trace::{TraceKind, TraceRecord};

/// Why a packet or datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropCause {
    /// Lost on a link (Bernoulli or Gilbert-Elliott loss).
    Loss,
    /// A drop-tail queue was full.
    QueueFull,
    /// Larger than the link's MTU.
    Mtu,
    /// The link was down, or the two nodes were in different partitions.
    LinkDown,
    /// The sender or the receiver was down.
    NodeDown,
    /// The receiving protocol could not parse the bytes.
    Malformed,
    /// No link between the two nodes in a graph network.
    NoRoute,
    /// A protocol's hop limit or lifetime ran out.
    Expired,
}

impl DropCause {
    /// Every cause, in report order.
    pub const ALL: [DropCause; 8] = [
        DropCause::Loss,
        DropCause::QueueFull,
        DropCause::Mtu,
        DropCause::LinkDown,
        DropCause::NodeDown,
        DropCause::Malformed,
        DropCause::NoRoute,
        DropCause::Expired,
    ];
    /// The cause's name in reports and summary.json.
    pub fn name(self) -> &'static str {
        match self {
            DropCause::Loss => "loss",
            DropCause::QueueFull => "queue_full",
            DropCause::Mtu => "mtu",
            DropCause::LinkDown => "link_down",
            DropCause::NodeDown => "node_down",
            DropCause::Malformed => "malformed",
            DropCause::NoRoute => "no_route",
            DropCause::Expired => "expired",
        }
    }
}

/// Per-node traffic counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Datagrams the node handed to the network.
    pub packets_sent: u64,
    /// Bytes the node handed to the network.
    pub bytes_sent: u64,
    /// Datagrams handed to the node's protocol.
    pub packets_received: u64,
    /// Bytes handed to the node's protocol.
    pub bytes_received: u64,
    /// Messages the node relayed for others (reported by its protocol).
    pub relays: u64,
    /// Drops recorded at the node, as sender or receiver.
    pub drops: u64,
    /// Copies of already-delivered messages the node received.
    pub duplicates: u64,
}

/// A message that a protocol reported as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    /// The node that sent it.
    pub source: NodeId,
    /// When the kernel saw it sent.
    pub sent_at: Instant,
    /// How many deliveries it should produce.
    pub expected: u32,
}

/// A lookup (DHT query) as the kernel saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupRecord {
    /// The node that ran it.
    pub node: NodeId,
    /// When it started.
    pub started_at: Instant,
    /// When and how it ended, if it did.
    pub done: Option<LookupEnd>,
}

/// How a lookup ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupEnd {
    /// When.
    pub at: Instant,
    /// Rounds of requests.
    pub hops: u32,
    /// Requests sent.
    pub requests: u32,
    /// Whether it found what it looked for.
    pub success: bool,
}

/// One delivery of an application message, a row of `deliveries.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The message's id.
    pub msg: u64,
    /// The node that sent it.
    pub source: NodeId,
    /// The node it was delivered at.
    pub destination: NodeId,
    /// When it was sent.
    pub sent_at: Instant,
    /// When it was delivered.
    pub delivered_at: Instant,
    /// How many network hops the delivered copy travelled.
    pub hops: u32,
}

impl DeliveryRecord {
    /// Delivery time minus send time.
    pub fn latency(&self) -> Duration {
        self.delivered_at - self.sent_at
    }
}

/// Everything the kernel counts during a run.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// Datagrams handed to the network.
    pub packets_sent: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Datagrams handed to a protocol.
    pub packets_delivered: u64,
    /// Drops by cause, indexed by `DropCause as usize`.
    pub drops: [u64; DropCause::ALL.len()],
    /// Per-node counters, indexed by node.
    pub nodes: Vec<NodeCounters>,
    /// Messages reported sent, by id.
    pub messages: BTreeMap<u64, MessageRecord>,
    /// Every delivery, in the order it happened.
    pub deliveries: Vec<DeliveryRecord>,
    /// Lookups by id.
    pub lookups: BTreeMap<u64, LookupRecord>,
    /// Workload commands addressed to a node that was down (not run).
    pub commands_to_down_nodes: u64,
    /// `Sent` or `LookupStarted` observations of an id already used: a
    /// protocol bug (message and lookup ids must be unique in a run), always
    /// zero in a correct run.
    pub reused_message_ids: u64,
    /// Deliveries of ids never reported sent: a protocol bug, always zero in a
    /// correct run (the property tests assert it).
    pub deliveries_without_send: u64,
    /// Per-interval network figures, if asked for
    /// ([`crate::Simulation::record_timeseries`]).
    pub timeseries: Option<TimeSeries>,
    /// Faults as they were applied (crashes, restarts, partitions, heals,
    /// link changes, batteries running out), in order.
    pub faults: Vec<TraceRecord>,
    /// Per-node energy, indexed by node, where the scenario models it
    /// (`None` for nodes without a battery; empty when nothing does).
    pub energy: Vec<Option<NodeEnergy>>,
}

/// What a node's battery went through in a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeEnergy {
    /// Energy spent, in joules.
    pub spent_j: f64,
    /// State of charge at the end, 0.0 to 1.0.
    pub charge: f64,
    /// When the battery ran out, if it did.
    pub emptied_at: Option<Instant>,
}

impl Metrics {
    /// Counters for `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Metrics {
            nodes: vec![NodeCounters::default(); nodes],
            ..Default::default()
        }
    }
    /// Drops of one cause.
    pub fn drops_of(&self, cause: DropCause) -> u64 {
        self.drops[cause as usize]
    }
    pub(crate) fn record_drop(&mut self, node: NodeId, cause: DropCause) {
        self.drops[cause as usize] += 1;
        if let Some(c) = self.nodes.get_mut(node.index()) {
            c.drops += 1;
        }
    }
    /// The run's summary figures.
    pub fn summary(&self) -> Summary {
        let mut latencies: Vec<u64> = self
            .deliveries
            .iter()
            .map(|d| d.latency().as_nanos())
            .collect();
        latencies.sort_unstable();
        let expected: u64 = self.messages.values().map(|m| u64::from(m.expected)).sum();
        let deliveries = self.deliveries.len() as u64;
        let hops: u64 = self.deliveries.iter().map(|d| u64::from(d.hops)).sum();
        Summary {
            messages: self.messages.len() as u64,
            expected_deliveries: expected,
            deliveries,
            delivery_ratio: if expected == 0 {
                0.0
            } else {
                deliveries as f64 / expected as f64
            },
            latency: LatencySummary::from_sorted(&latencies),
            hops_mean: if deliveries == 0 {
                0.0
            } else {
                hops as f64 / deliveries as f64
            },
            packets_sent: self.packets_sent,
            bytes_sent: self.bytes_sent,
            packets_delivered: self.packets_delivered,
            drops: DropCause::ALL
                .iter()
                .map(|&c| (c, self.drops_of(c)))
                .collect(),
            lookups: LookupSummary::of(self.lookups.values()),
        }
    }
}

/// What a run's lookups achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LookupSummary {
    /// Lookups started.
    pub started: u64,
    /// Lookups that ended, successful or not.
    pub done: u64,
    /// Lookups that found what they looked for.
    pub succeeded: u64,
    /// Mean rounds of requests of ended lookups.
    pub hops_mean: f64,
    /// Mean requests of ended lookups.
    pub requests_mean: f64,
    /// Latency of ended lookups.
    pub latency: LatencySummary,
}

impl LookupSummary {
    /// The summary of these lookups.
    pub fn of<'a>(lookups: impl Iterator<Item = &'a LookupRecord>) -> Self {
        let mut s = LookupSummary::default();
        let (mut hops, mut requests, mut latencies) = (0u64, 0u64, Vec::new());
        for l in lookups {
            s.started += 1;
            if let Some(end) = l.done {
                s.done += 1;
                s.succeeded += u64::from(end.success);
                hops += u64::from(end.hops);
                requests += u64::from(end.requests);
                latencies.push((end.at - l.started_at).as_nanos());
            }
        }
        if s.done > 0 {
            s.hops_mean = hops as f64 / s.done as f64;
            s.requests_mean = requests as f64 / s.done as f64;
        }
        latencies.sort_unstable();
        s.latency = LatencySummary::from_sorted(&latencies);
        s
    }
}

/// Network figures of one interval of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntervalCounters {
    /// Datagrams handed to the network.
    pub packets_sent: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Drops by cause, indexed by `DropCause as usize`.
    pub drops: [u64; DropCause::ALL.len()],
    /// Nodes up at the end of the interval.
    pub nodes_up: u32,
}

/// Per-interval network figures, folded from the trace records as the kernel
/// writes them, so they count exactly what the totals count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeSeries {
    interval: Duration,
    rows: Vec<IntervalCounters>,
    nodes_up: u32,
}

impl TimeSeries {
    /// Intervals of `interval` for a run of `nodes` nodes, all up at first.
    ///
    /// # Panics
    /// If `interval` is zero.
    pub fn new(interval: Duration, nodes: u32) -> Self {
        assert!(
            interval > Duration::ZERO,
            "a time series needs a positive interval"
        );
        TimeSeries {
            interval,
            rows: Vec::new(),
            nodes_up: nodes,
        }
    }
    /// The interval length.
    pub fn interval(&self) -> Duration {
        self.interval
    }
    /// The intervals so far, from time zero.
    pub fn rows(&self) -> &[IntervalCounters] {
        &self.rows
    }
    /// The interval holding `t`, creating it (and any before it) if needed.
    fn row(&mut self, t: Instant) -> &mut IntervalCounters {
        let k = (t.as_nanos() / self.interval.as_nanos()) as usize;
        let nodes_up = self.nodes_up;
        if self.rows.len() <= k {
            self.rows.resize(
                k + 1,
                IntervalCounters {
                    nodes_up,
                    ..IntervalCounters::default()
                },
            );
        }
        &mut self.rows[k]
    }
    /// Extends the series to cover `[0, end)`.
    pub fn close(&mut self, end: Instant) {
        if end > Instant::ZERO {
            self.row(Instant::from_nanos(end.as_nanos() - 1));
        }
    }
    pub(crate) fn record(&mut self, r: &TraceRecord) {
        match r.kind {
            TraceKind::Send => {
                let row = self.row(r.time);
                row.packets_sent += 1;
                row.bytes_sent += r.size;
            }
            TraceKind::Drop => {
                if let Some(cause) = r.cause {
                    self.row(r.time).drops[cause as usize] += 1;
                }
            }
            TraceKind::Crash | TraceKind::Restart => {
                if r.kind == TraceKind::Crash {
                    self.nodes_up -= 1;
                } else {
                    self.nodes_up += 1;
                }
                let up = self.nodes_up;
                self.row(r.time).nodes_up = up;
            }
            _ => {}
        }
    }
}

/// Latency percentiles in milliseconds (nearest-rank), zero when there is no
/// delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
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

impl LatencySummary {
    /// Percentiles of latencies given in nanoseconds, sorted ascending.
    pub fn from_sorted(sorted_ns: &[u64]) -> Self {
        if sorted_ns.is_empty() {
            return LatencySummary::default();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        let sum: u128 = sorted_ns.iter().map(|&x| u128::from(x)).sum();
        LatencySummary {
            p50: ms(nearest_rank(sorted_ns, 50)),
            p90: ms(nearest_rank(sorted_ns, 90)),
            p99: ms(nearest_rank(sorted_ns, 99)),
            mean: sum as f64 / sorted_ns.len() as f64 / 1e6,
            max: ms(*sorted_ns.last().expect("non-empty")),
        }
    }
}

/// The nearest-rank `pct`-th percentile of a sorted non-empty slice.
pub fn nearest_rank(sorted: &[u64], pct: u64) -> u64 {
    let rank = (pct as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The figures `p2psim run` prints and writes to summary.json.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Application messages sent.
    pub messages: u64,
    /// Deliveries the messages should have produced.
    pub expected_deliveries: u64,
    /// Deliveries that happened.
    pub deliveries: u64,
    /// `deliveries / expected_deliveries`.
    pub delivery_ratio: f64,
    /// Delivery latency.
    pub latency: LatencySummary,
    /// Mean hops of delivered copies.
    pub hops_mean: f64,
    /// Datagrams handed to the network.
    pub packets_sent: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Datagrams handed to protocols.
    pub packets_delivered: u64,
    /// Drops by cause, in [`DropCause::ALL`] order.
    pub drops: Vec<(DropCause, u64)>,
    /// Lookups (DHT queries), if the protocols ran any.
    pub lookups: LookupSummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 50), 50);
        assert_eq!(nearest_rank(&v, 99), 99);
        assert_eq!(nearest_rank(&[7], 99), 7);
        let s = LatencySummary::from_sorted(&[1_000_000, 3_000_000]);
        assert_eq!((s.p50, s.max, s.mean), (1.0, 3.0, 2.0));
    }
}
