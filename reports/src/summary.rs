//! `summary.json`: the figures `p2psim run` prints, as JSON.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sim_core::Summary;

use crate::atomic::write_atomic;
use crate::data::{NodeRow, TransportRow};

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

/// What the run's batteries went through, over the nodes that model energy;
/// all zero when none does.
///
/// It is drawn from the per-node rows of `nodes.csv` ([`EnergyJson::from_nodes`])
/// rather than from the kernel, so the summary and the table cannot disagree,
/// and `summary.json` holds it only when some node models energy: a run
/// without batteries writes the same file it always did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyJson {
    /// Nodes that model energy (those with an `energy_j` figure).
    pub nodes: u64,
    /// Energy they spent, in joules.
    pub total_j: f64,
    /// `total_j / nodes`.
    pub mean_j: f64,
    /// The most one node spent, in joules.
    pub max_j: f64,
    /// Batteries that ran out (state of charge exactly 0 at the end): those
    /// nodes went down for good.
    pub batteries_emptied: u64,
    /// Mean state of charge at the end, 0.0 to 1.0, over the nodes with a
    /// battery figure.
    pub charge_mean: f64,
}

impl EnergyJson {
    /// The energy figures of a run's nodes. Sums run in node order, so the
    /// same rows give the same bits.
    pub fn from_nodes(nodes: &[NodeRow]) -> Self {
        let spent: Vec<f64> = nodes.iter().filter_map(|n| n.energy_j).collect();
        let charges: Vec<f64> = nodes.iter().filter_map(|n| n.battery).collect();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        EnergyJson {
            nodes: spent.len() as u64,
            total_j: spent.iter().sum(),
            mean_j: mean(&spent),
            max_j: spent.iter().copied().fold(0.0, f64::max),
            batteries_emptied: nodes.iter().filter(|n| n.battery_emptied()).count() as u64,
            charge_mean: mean(&charges),
        }
    }

    /// Whether no node models energy (what `summary.json` then leaves out).
    pub fn is_unmodelled(&self) -> bool {
        self.nodes == 0
    }
}

/// Messages of one outcome or choice, by transport.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub struct ByTransport {
    /// BitChat (the BLE mesh).
    pub bitchat: u64,
    /// BetaNet (HTX).
    pub betanet: u64,
    /// QUIC.
    pub quic: u64,
    /// WebSocket (the relay).
    pub websocket: u64,
    /// Raw datagrams.
    pub raw: u64,
}

impl ByTransport {
    fn add(&mut self, name: Option<&str>) {
        match name {
            Some("BitChat") => self.bitchat += 1,
            Some("BetaNet") => self.betanet += 1,
            Some("Quic") => self.quic += 1,
            Some("WebSocket") => self.websocket += 1,
            Some("Raw") => self.raw += 1,
            _ => {}
        }
    }
}

/// What the transport managers of a run did with their messages, drawn
/// from `transports.csv`'s rows ([`TransportsJson::from_rows`]); all zero
/// (and absent from `summary.json`) when no node runs one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransportsJson {
    /// Messages handed to a manager, refused ones included.
    pub messages: u64,
    /// Acknowledged by their peers.
    pub delivered: u64,
    /// `delivered / messages` (0 when none).
    pub delivery_ratio: f64,
    /// Mean time from first attempt to acknowledgement of the delivered
    /// ones, in milliseconds.
    pub latency_ms_mean: f64,
    /// Attempts after the first, over all messages.
    pub failovers: u64,
    /// Given up after every transport tried.
    pub gave_up: u64,
    /// No transport reached the peer.
    pub no_route: u64,
    /// Refused at a full priority queue.
    pub queue_dropped: u64,
    /// The transport chosen first.
    pub chosen: ByTransport,
    /// The transport that delivered.
    pub delivered_by: ByTransport,
}

impl TransportsJson {
    /// The figures of a run's manager messages; sums in row order.
    pub fn from_rows(rows: &[TransportRow]) -> Self {
        let mut t = TransportsJson {
            messages: rows.len() as u64,
            ..TransportsJson::default()
        };
        let mut latency = 0.0;
        for r in rows {
            t.chosen.add(r.first.as_deref());
            t.delivered_by.add(r.via.as_deref());
            t.failovers += u64::from(r.attempts.saturating_sub(1));
            match r.outcome.as_str() {
                "delivered" => {
                    t.delivered += 1;
                    latency += r.latency_ms.unwrap_or(0.0);
                }
                "gave_up" => t.gave_up += 1,
                "no_route" => t.no_route += 1,
                "queue_full" => t.queue_dropped += 1,
                _ => {}
            }
        }
        if t.messages > 0 {
            t.delivery_ratio = t.delivered as f64 / t.messages as f64;
        }
        if t.delivered > 0 {
            t.latency_ms_mean = latency / t.delivered as f64;
        }
        t
    }

    /// Whether no manager sent anything (what `summary.json` then leaves
    /// out).
    pub fn is_unused(&self) -> bool {
        self.messages == 0
    }
}

/// Requests by endpoint of the discovery registry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestsJson {
    /// `POST /register`.
    pub register: u64,
    /// `POST /heartbeat`.
    pub heartbeat: u64,
    /// `GET /discover`.
    pub discover: u64,
    /// `GET /health`.
    pub health: u64,
    /// All four.
    pub total: u64,
}

/// A cost in US dollars, by service and in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostJson {
    /// API Gateway.
    pub gateway: f64,
    /// Lambda: invocations and compute.
    pub function: f64,
    /// DynamoDB.
    pub database: f64,
    /// All three.
    pub total: f64,
}

/// Mean and largest of a set of durations, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeanMaxMs {
    /// Mean (0 when there is none).
    pub mean: f64,
    /// Largest (0 when there is none).
    pub max: f64,
}

/// What the discovery registries and their clients did: present in
/// `summary.json` only where the scenario runs discovery.
///
/// A returned peer is *stale* when the peer behind it had stopped keeping
/// its registration alive (it stopped heartbeating, crashed or ran out of
/// battery) by the time the registry answered; its staleness is the
/// response's `as_of` minus that time (`scenarios::services` has the rule).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryJson {
    /// Discover requests issued.
    pub discovers: u64,
    /// Discovers answered 200.
    pub answered: u64,
    /// `answered / discovers` (0 when none was issued).
    pub success_ratio: f64,
    /// Discovers answered 503: the registry's queue was full.
    pub unavailable: u64,
    /// Discovers that got no answer within the client's request timeout.
    pub timed_out: u64,
    /// Peers returned, over all answers.
    pub returned: u64,
    /// Returned peers that were dead.
    pub stale_returns: u64,
    /// `stale_returns / returned` (0 when nothing was returned).
    pub stale_share: f64,
    /// The staleness of the stale returns.
    pub staleness_ms: LatencyMs,
    /// Clients whose heartbeats ended (stopped, crashed, battery empty).
    pub deaths: u64,
    /// Registrations the TTL removed.
    pub expired: u64,
    /// Requests the registries served, by endpoint.
    pub served: RequestsJson,
    /// Requests answered 503 because the queue was full.
    pub rejected: u64,
    /// Served requests per second of simulated time.
    pub requests_per_s: f64,
    /// How long served requests waited in the registries' queues.
    pub queue_wait_ms: MeanMaxMs,
    /// Requests that paid a cold start.
    pub cold_starts: u64,
    /// What the registries' usage cost over the run, in dollars.
    pub cost_usd: f64,
    /// The same extrapolated to a 30-day month, by service.
    pub monthly_cost_usd: CostJson,
}

/// Signaling servers' removals of joined peers, by reason.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RemovedJson {
    /// They said `leave`.
    pub left: u64,
    /// Their connection closed.
    pub closed: u64,
    /// Nothing arrived from them for the idle timeout (2 h by default).
    pub idle_timeout: u64,
    /// Another connection joined with their id.
    pub replaced: u64,
}

/// What the signaling servers and peers did: present in `summary.json`
/// only where the scenario runs signaling. Connection set-up is also the
/// run's message latency (a `Connect` is a message, its channel opening
/// the delivery).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalingJson {
    /// Joins completed (the bootstrap list arrived).
    pub joins: u64,
    /// From `Join` to the bootstrap list.
    pub join_ms: MeanMaxMs,
    /// Joins refused with HTTP 429 (the server's connection limit).
    pub refused: u64,
    /// Joins that did not complete within the set-up timeout.
    pub join_timed_out: u64,
    /// `Connect` attempts.
    pub connects: u64,
    /// Attempts whose data channel opened.
    pub channels_opened: u64,
    /// `channels_opened / connects` (0 when none was attempted).
    pub connect_ratio: f64,
    /// Attempts that failed (timed out, or the peer was unknown).
    pub setup_failed: u64,
    /// Set-up time of the opened channels, `Connect` to channel open.
    pub setup_ms: LatencyMs,
    /// Messages that arrived on direct channels.
    pub direct_messages: u64,
    /// Their bytes.
    pub direct_bytes: u64,
    /// `SendDirect`s that named a peer without an open channel.
    pub no_channel: u64,
    /// Offers, answers and candidates the servers relayed.
    pub relayed: u64,
    /// Joined peers removed, by reason.
    pub removed: RemovedJson,
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
    /// Energy, where the scenario models it; absent from `summary.json`
    /// otherwise (and from files written before energy was modelled).
    #[serde(default, skip_serializing_if = "EnergyJson::is_unmodelled")]
    pub energy: EnergyJson,
    /// Transport managers' messages, where some node runs one; absent from
    /// `summary.json` otherwise.
    #[serde(default, skip_serializing_if = "TransportsJson::is_unused")]
    pub transports: TransportsJson,
    /// Discovery, where the scenario runs it; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryJson>,
    /// Signaling, where the scenario runs it; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signaling: Option<SignalingJson>,
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
    /// The summary of a run whose `nodes.csv` rows are `nodes` (its energy
    /// figures are drawn from them); a run with transport managers sets
    /// [`RunSummary::transports`] from its rows after.
    pub fn new(
        scenario: &str,
        seed: u64,
        trace_hash: String,
        s: &Summary,
        nodes: &[NodeRow],
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
            energy: EnergyJson::from_nodes(nodes),
            transports: TransportsJson::default(),
            discovery: None,
            signaling: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    fn node(n: u32, energy_j: Option<f64>, battery: Option<f64>) -> NodeRow {
        NodeRow {
            energy_j,
            battery,
            ..sample_run().nodes[n as usize].clone()
        }
    }

    #[test]
    fn transport_figures_of_the_sample_rows() {
        let t = TransportsJson::from_rows(&sample_run().transports);
        assert_eq!((t.messages, t.delivered, t.queue_dropped), (2, 1, 1));
        assert_eq!((t.failovers, t.gave_up, t.no_route), (1, 0, 0));
        assert_eq!(t.delivery_ratio, 0.5);
        assert_eq!(t.latency_ms_mean, 10_040.5);
        assert_eq!((t.chosen.bitchat, t.delivered_by.betanet), (1, 1));
        assert_eq!(t.chosen.betanet + t.chosen.quic, 0);
        assert!(TransportsJson::from_rows(&[]).is_unused());
    }

    #[test]
    fn energy_figures_of_hand_made_nodes() {
        let nodes = [
            node(0, Some(30.0), Some(0.0)),
            node(1, Some(10.0), Some(0.5)),
            node(2, None, None),
            node(3, Some(5.0), Some(1.0)),
            node(4, Some(15.0), Some(0.0)),
        ];
        assert_eq!(
            EnergyJson::from_nodes(&nodes),
            EnergyJson {
                nodes: 4,
                total_j: 60.0,
                mean_j: 15.0,
                max_j: 30.0,
                batteries_emptied: 2,
                charge_mean: 0.375,
            }
        );
        let none = EnergyJson::from_nodes(&sample_run().nodes);
        assert_eq!(none, EnergyJson::default());
        assert!(none.is_unmodelled() && EnergyJson::from_nodes(&[]).is_unmodelled());
    }

    #[test]
    fn new_draws_energy_from_the_node_rows() {
        let metrics = sim_core::Metrics::new(2);
        let nodes = [node(0, Some(2.5), Some(0.75)), node(1, None, None)];
        let s = RunSummary::new("x", 1, "00".into(), &metrics.summary(), &nodes, 3, 0.5);
        assert_eq!(s.energy, EnergyJson::from_nodes(&nodes));
        assert_eq!((s.energy.nodes, s.energy.max_j), (1, 2.5));
    }

    #[test]
    fn summary_json_has_energy_only_where_modelled_and_reads_older_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let read = || -> (RunSummary, serde_json::Value) {
            let text = std::fs::read_to_string(&path).unwrap();
            (
                serde_json::from_str(&text).unwrap(),
                serde_json::from_str(&text).unwrap(),
            )
        };
        // No energy: no `energy` key, so the file is what it was before
        // energy was modelled, and such a file reads back with zeros.
        let plain = sample_run().summary;
        plain.write(&path).unwrap();
        let (back, json) = read();
        assert!(json.get("energy").is_none(), "{json}");
        assert_eq!(back, plain);

        let mut modelled = plain;
        modelled.energy = EnergyJson::from_nodes(&[node(0, Some(1.5), Some(0.25))]);
        modelled.write(&path).unwrap();
        let (back, json) = read();
        assert_eq!(json["energy"]["nodes"], 1);
        assert_eq!(json["energy"]["charge_mean"], 0.25);
        assert_eq!(back, modelled);
    }
}
