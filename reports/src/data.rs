//! A run's results as tables: what the CSV files hold, and the in-memory form
//! the charts and the HTML report are drawn from.
//!
//! `p2psim run` writes these tables; `p2psim report DIR` reads them back with
//! [`RunData::load`] and draws the same charts and report, so a report never
//! shows anything its folder's CSV files do not hold.
//!
//! Times are integer nanoseconds of virtual time (`*_ns`); latencies are
//! milliseconds.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::summary::RunSummary;

/// One delivery: a row of `deliveries.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// The message's id.
    pub message: u64,
    /// The node that sent it.
    pub source: u32,
    /// The node it was delivered at.
    pub destination: u32,
    /// When it was sent.
    pub sent_ns: u64,
    /// When it was delivered.
    pub delivered_ns: u64,
    /// `delivered_ns − sent_ns`, in milliseconds.
    pub latency_ms: f64,
    /// Network hops of the copy delivered.
    pub hops: u32,
}

/// One interval of the run: a row of `timeseries.csv`.
///
/// `messages`, `expected` and `delivered_of_sent` are about the messages
/// *sent* in the interval (so `delivered_of_sent / expected` is the delivery
/// ratio of what was sent then, however late it arrived); `deliveries` and the
/// latencies are about deliveries that *happened* in the interval; packets,
/// bytes and drops are network events in the interval; `nodes_up` is the
/// number of nodes up at the interval's end.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalRow {
    /// Start of the interval (inclusive).
    pub start_ns: u64,
    /// End of the interval (exclusive).
    pub end_ns: u64,
    /// Application messages sent.
    pub messages: u64,
    /// Deliveries those messages should produce.
    pub expected: u64,
    /// Deliveries those messages produced (at any time).
    pub delivered_of_sent: u64,
    /// Deliveries that happened in the interval.
    pub deliveries: u64,
    /// Mean latency of the deliveries in the interval (0 if none).
    pub latency_mean_ms: f64,
    /// Median latency of the deliveries in the interval (0 if none).
    pub latency_p50_ms: f64,
    /// 99th-percentile latency of the deliveries in the interval (0 if none).
    pub latency_p99_ms: f64,
    /// Datagrams handed to the network.
    pub packets_sent: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Drops by cause name, one column each in the CSV (`drop_loss`,
    /// `drop_queue_full`, …).
    pub drops: BTreeMap<String, u64>,
    /// Nodes up at the end of the interval.
    pub nodes_up: u32,
}

impl IntervalRow {
    /// Delivery ratio of the messages sent in the interval, if any were.
    pub fn delivery_ratio(&self) -> Option<f64> {
        (self.expected > 0).then(|| self.delivered_of_sent as f64 / self.expected as f64)
    }
    /// All drops in the interval.
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }
}

/// One node's totals: a row of `nodes.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    /// The node's id.
    pub node: u32,
    /// The node's group in the scenario.
    pub group: String,
    /// Datagrams sent.
    pub packets_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Datagrams received.
    pub packets_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Messages it relayed for others.
    pub relays: u64,
    /// Drops recorded at this node (as sender or receiver).
    pub drops: u64,
    /// Copies of already-delivered messages it received.
    pub duplicates: u64,
    /// Energy spent in joules, where the scenario models energy (empty
    /// otherwise).
    pub energy_j: Option<f64>,
    /// The battery's state of charge at the end, 0.0 to 1.0, where the
    /// scenario models energy (empty otherwise). Exactly 0.0 means the
    /// battery ran out and the node went down for good; what it spent says
    /// how busy it was, this says whether it lasted.
    pub battery: Option<f64>,
}

impl NodeRow {
    /// Whether the node's battery ran out: its charge at the end is exactly
    /// zero, as the kernel leaves an emptied battery (it clamps the charge at
    /// zero and the node goes down for good).
    pub fn battery_emptied(&self) -> bool {
        self.battery == Some(0.0)
    }
}

/// One lookup (DHT query): a row of `lookups.csv`. The `done_ns` and later
/// columns are empty for a lookup still running when the run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupRow {
    /// The lookup's id.
    pub lookup: u64,
    /// The node that ran it.
    pub node: u32,
    /// When it started.
    pub started_ns: u64,
    /// When it ended.
    pub done_ns: Option<u64>,
    /// `done_ns − started_ns` in milliseconds.
    pub latency_ms: Option<f64>,
    /// Rounds of requests.
    pub hops: Option<u32>,
    /// Requests sent.
    pub requests: Option<u32>,
    /// Whether it found what it looked for.
    pub success: Option<bool>,
}

/// One message a transport manager sent: a row of `transports.csv`, in
/// the order the messages first left their queues (or were refused).
///
/// `outcome` is `delivered` (acknowledged by the peer), `gave_up` (no
/// transport tried delivered it), `no_route` (no transport held reaches the
/// peer), `queue_full` (refused at a full priority queue: no id, no
/// transport) or `pending` (still unacknowledged when the run ended).
/// Transports are named as the seed names them (`BitChat`, `BetaNet`,
/// `Quic`, `WebSocket`) or `Raw`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransportRow {
    /// The message's id at its sender (none if refused at the queue).
    pub message: Option<u64>,
    /// The sender.
    pub node: u32,
    /// The recipient.
    pub to: u32,
    /// The message's length.
    pub bytes: u64,
    /// When its first attempt left (or it was refused).
    pub sent_ns: u64,
    /// The transport chosen first.
    pub first: Option<String>,
    /// Transports tried.
    pub attempts: u32,
    /// The transport that delivered it.
    pub via: Option<String>,
    /// From the first attempt to the acknowledgement, in milliseconds.
    pub latency_ms: Option<f64>,
    /// What became of it (see above).
    pub outcome: String,
}

/// One discover request answered 200: a row of `discovery.csv`. The
/// staleness columns are empty when no returned peer was stale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryRow {
    /// The request's message id.
    pub message: u64,
    /// The client that asked.
    pub node: u32,
    /// When the registry took its view (the response's `timestamp`).
    pub as_of_ns: u64,
    /// When the response arrived.
    pub received_ns: u64,
    /// Peers returned.
    pub returned: u32,
    /// Of those, peers that were dead.
    pub stale: u32,
    /// Their mean staleness, in seconds.
    pub staleness_mean_s: Option<f64>,
    /// Their largest staleness, in seconds.
    pub staleness_max_s: Option<f64>,
}

/// A fault applied during the run: a row of `faults.csv`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRow {
    /// When it was applied.
    pub time_ns: u64,
    /// What kind: crash, restart, partition, heal, link.
    pub kind: String,
    /// Which node or link, in words.
    pub detail: String,
}

/// Everything a run's report is drawn from.
#[derive(Clone, Debug, PartialEq)]
pub struct RunData {
    /// The headline figures (`summary.json`).
    pub summary: RunSummary,
    /// Every delivery (`deliveries.csv`).
    pub deliveries: Vec<DeliveryRow>,
    /// Per-interval figures (`timeseries.csv`).
    pub timeseries: Vec<IntervalRow>,
    /// Per-node totals (`nodes.csv`).
    pub nodes: Vec<NodeRow>,
    /// Faults applied (`faults.csv`).
    pub faults: Vec<FaultRow>,
    /// Lookups (`lookups.csv`).
    pub lookups: Vec<LookupRow>,
    /// Transport managers' messages (`transports.csv`, written only when
    /// some node runs one).
    pub transports: Vec<TransportRow>,
    /// Answered discovers (`discovery.csv`, written where the summary has
    /// discovery figures).
    pub discovery: Vec<DiscoveryRow>,
    /// The scenario file's text (`scenario.ron`).
    pub scenario_text: String,
}

/// File names inside a run's folder.
pub mod files {
    /// The summary.
    pub const SUMMARY: &str = "summary.json";
    /// Deliveries.
    pub const DELIVERIES: &str = "deliveries.csv";
    /// Time series.
    pub const TIMESERIES: &str = "timeseries.csv";
    /// Nodes.
    pub const NODES: &str = "nodes.csv";
    /// Faults.
    pub const FAULTS: &str = "faults.csv";
    /// Lookups.
    pub const LOOKUPS: &str = "lookups.csv";
    /// Transport managers' messages.
    pub const TRANSPORTS: &str = "transports.csv";
    /// Answered discovers.
    pub const DISCOVERY: &str = "discovery.csv";
    /// A copy of the scenario file the run used.
    pub const SCENARIO: &str = "scenario.ron";
    /// The HTML report.
    pub const REPORT: &str = "report.html";
}

/// Why a run's folder could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file's contents are not what the run writes.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

impl RunData {
    /// Reads a run's folder back.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let summary_path = dir.join(files::SUMMARY);
        let summary_text = read(&summary_path)?;
        let summary = serde_json::from_str(&summary_text).map_err(|e| LoadError::Format {
            path: summary_path,
            message: e.to_string(),
        })?;
        Ok(RunData {
            summary,
            deliveries: read_csv(&dir.join(files::DELIVERIES))?,
            timeseries: read_timeseries(&dir.join(files::TIMESERIES))?,
            nodes: read_csv(&dir.join(files::NODES))?,
            faults: read_csv(&dir.join(files::FAULTS))?,
            lookups: read_csv(&dir.join(files::LOOKUPS))?,
            transports: read_optional_csv(&dir.join(files::TRANSPORTS))?,
            discovery: read_optional_csv(&dir.join(files::DISCOVERY))?,
            scenario_text: read(&dir.join(files::SCENARIO))?,
        })
    }

    /// Writes every table, the summary and the scenario copy into `dir`,
    /// each atomically.
    pub fn write_tables(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.summary.write(&dir.join(files::SUMMARY))?;
        write_csv(&dir.join(files::DELIVERIES), &self.deliveries)?;
        write_timeseries(&dir.join(files::TIMESERIES), &self.timeseries)?;
        write_csv(&dir.join(files::NODES), &self.nodes)?;
        write_csv(&dir.join(files::FAULTS), &self.faults)?;
        write_csv(&dir.join(files::LOOKUPS), &self.lookups)?;
        if !self.transports.is_empty() {
            write_csv(&dir.join(files::TRANSPORTS), &self.transports)?;
        }
        if self.summary.discovery.is_some() {
            write_csv(&dir.join(files::DISCOVERY), &self.discovery)?;
        }
        write_atomic(&dir.join(files::SCENARIO), |w| {
            w.write_all(self.scenario_text.as_bytes())
        })
    }
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, LoadError> {
    let text = read(path)?;
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| LoadError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A table that only some runs write: none when the file is absent.
fn read_optional_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, LoadError> {
    if path.exists() {
        read_csv(path)
    } else {
        Ok(Vec::new())
    }
}

/// A row type of a CSV table, with its header, so that a table with no rows
/// still says what its columns are.
trait Table: Serialize {
    const HEADER: &'static [&'static str];
}

impl Table for DeliveryRow {
    const HEADER: &'static [&'static str] = &[
        "message",
        "source",
        "destination",
        "sent_ns",
        "delivered_ns",
        "latency_ms",
        "hops",
    ];
}

impl Table for NodeRow {
    const HEADER: &'static [&'static str] = &[
        "node",
        "group",
        "packets_sent",
        "bytes_sent",
        "packets_received",
        "bytes_received",
        "relays",
        "drops",
        "duplicates",
        "energy_j",
        "battery",
    ];
}

impl Table for LookupRow {
    const HEADER: &'static [&'static str] = &[
        "lookup",
        "node",
        "started_ns",
        "done_ns",
        "latency_ms",
        "hops",
        "requests",
        "success",
    ];
}

impl Table for TransportRow {
    const HEADER: &'static [&'static str] = &[
        "message",
        "node",
        "to",
        "bytes",
        "sent_ns",
        "first",
        "attempts",
        "via",
        "latency_ms",
        "outcome",
    ];
}

impl Table for DiscoveryRow {
    const HEADER: &'static [&'static str] = &[
        "message",
        "node",
        "as_of_ns",
        "received_ns",
        "returned",
        "stale",
        "staleness_mean_s",
        "staleness_max_s",
    ];
}

impl Table for FaultRow {
    const HEADER: &'static [&'static str] = &["time_ns", "kind", "detail"];
}

fn write_csv<T: Table>(path: &Path, rows: &[T]) -> io::Result<()> {
    write_atomic(path, |w| {
        let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(w);
        csv.write_record(T::HEADER)?;
        for row in rows {
            csv.serialize(row)?;
        }
        csv.flush()
    })
}

/// The fixed columns of `timeseries.csv` before the drop columns.
const TIMESERIES_FIXED: [&str; 11] = [
    "start_ns",
    "end_ns",
    "messages",
    "expected",
    "delivered_of_sent",
    "deliveries",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "packets_sent",
    "bytes_sent",
];

/// `timeseries.csv` has one `drop_<cause>` column per cause, which the csv
/// crate's serde support cannot flatten from a map; the rows are written and
/// read field by field.
fn write_timeseries(path: &Path, rows: &[IntervalRow]) -> io::Result<()> {
    let causes: Vec<&String> = rows
        .first()
        .map(|r| r.drops.keys().collect())
        .unwrap_or_default();
    write_atomic(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let mut header: Vec<String> = TIMESERIES_FIXED.iter().map(|s| s.to_string()).collect();
        header.extend(causes.iter().map(|c| format!("drop_{c}")));
        header.push("nodes_up".into());
        csv.write_record(&header)?;
        for r in rows {
            let mut rec = vec![
                r.start_ns.to_string(),
                r.end_ns.to_string(),
                r.messages.to_string(),
                r.expected.to_string(),
                r.delivered_of_sent.to_string(),
                r.deliveries.to_string(),
                format!("{:.6}", r.latency_mean_ms),
                format!("{:.6}", r.latency_p50_ms),
                format!("{:.6}", r.latency_p99_ms),
                r.packets_sent.to_string(),
                r.bytes_sent.to_string(),
            ];
            rec.extend(
                causes
                    .iter()
                    .map(|c| r.drops.get(*c).copied().unwrap_or(0).to_string()),
            );
            rec.push(r.nodes_up.to_string());
            csv.write_record(&rec)?;
        }
        csv.flush()
    })
}

fn read_timeseries(path: &Path) -> Result<Vec<IntervalRow>, LoadError> {
    let format = |message: String| LoadError::Format {
        path: path.to_path_buf(),
        message,
    };
    let text = read(path)?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format(e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    let fixed = TIMESERIES_FIXED.len();
    if header.len() < fixed + 1
        || header[..fixed] != TIMESERIES_FIXED
        || header.last().map(String::as_str) != Some("nodes_up")
    {
        return Err(format(format!(
            "expected the columns {} … drop_<cause> … nodes_up",
            TIMESERIES_FIXED.join(",")
        )));
    }
    let causes: Vec<String> = header[fixed..header.len() - 1]
        .iter()
        .map(|h| {
            h.strip_prefix("drop_")
                .map(String::from)
                .ok_or_else(|| format(format!("unexpected column {h:?}")))
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format(e.to_string()))?;
        let int = |i: usize| {
            record[i]
                .parse::<u64>()
                .map_err(|e| format(format!("column {}: {e}", header[i])))
        };
        let float = |i: usize| {
            record[i]
                .parse::<f64>()
                .map_err(|e| format(format!("column {}: {e}", header[i])))
        };
        let mut drops = BTreeMap::new();
        for (k, cause) in causes.iter().enumerate() {
            drops.insert(cause.clone(), int(fixed + k)?);
        }
        rows.push(IntervalRow {
            start_ns: int(0)?,
            end_ns: int(1)?,
            messages: int(2)?,
            expected: int(3)?,
            delivered_of_sent: int(4)?,
            deliveries: int(5)?,
            latency_mean_ms: float(6)?,
            latency_p50_ms: float(7)?,
            latency_p99_ms: float(8)?,
            packets_sent: int(9)?,
            bytes_sent: int(10)?,
            drops,
            nodes_up: u32::try_from(int(header.len() - 1)?).map_err(|e| format(e.to_string()))?,
        });
    }
    Ok(rows)
}

/// A small, consistent run for tests of the charts and the report.
#[cfg(test)]
pub(crate) fn sample_run() -> RunData {
    use crate::summary::LatencyMs;
    let causes = ["link_down", "loss", "queue_full"];
    let deliveries: Vec<DeliveryRow> = (0..200u64)
        .map(|i| {
            let sent = i * 50_000_000;
            let latency = 5_000_000 + (i % 17) * 3_000_000;
            DeliveryRow {
                message: i / 4,
                source: (i % 5) as u32,
                destination: (i % 7) as u32 + 5,
                sent_ns: sent,
                delivered_ns: sent + latency,
                latency_ms: latency as f64 / 1e6,
                hops: (i % 6) as u32 + 1,
            }
        })
        .collect();
    let timeseries = (0..10u64)
        .map(|k| IntervalRow {
            start_ns: k * 1_000_000_000,
            end_ns: (k + 1) * 1_000_000_000,
            messages: 5,
            expected: 25,
            delivered_of_sent: if k == 4 { 10 } else { 20 },
            deliveries: 20,
            latency_mean_ms: 20.0 + k as f64,
            latency_p50_ms: 18.0 + k as f64,
            latency_p99_ms: 50.0 + 2.0 * k as f64,
            packets_sent: 100 + k,
            bytes_sent: 10_000 * (k + 1),
            drops: causes.iter().map(|c| (c.to_string(), k % 3)).collect(),
            nodes_up: if k == 4 { 11 } else { 12 },
        })
        .collect();
    let nodes = (0..12u32)
        .map(|n| NodeRow {
            node: n,
            group: if n < 5 {
                "senders".into()
            } else {
                "receivers".into()
            },
            packets_sent: 10 * u64::from(n),
            bytes_sent: 1000 * u64::from(n * n),
            packets_received: 7,
            bytes_received: 700,
            relays: u64::from(n % 3),
            drops: u64::from(n % 2),
            duplicates: u64::from(n % 4),
            energy_j: None,
            battery: None,
        })
        .collect();
    RunData {
        summary: RunSummary {
            scenario: "sample".into(),
            seed: 7,
            trace_hash: "0123456789abcdef".into(),
            messages: 50,
            deliveries: 200,
            delivery_ratio: 0.8,
            latency_ms: LatencyMs {
                p50: 29.0,
                p90: 47.0,
                p99: 53.0,
                mean: 29.5,
                max: 53.0,
            },
            hops_mean: 3.5,
            drops: causes.iter().map(|c| (c.to_string(), 9)).collect(),
            lookups: crate::summary::LookupsJson {
                started: 10,
                done: 9,
                succeeded: 8,
                success_ratio: 0.8,
                hops_mean: 3.25,
                requests_mean: 12.5,
                latency_ms: LatencyMs {
                    p50: 80.0,
                    p90: 120.0,
                    p99: 150.0,
                    mean: 85.5,
                    max: 150.0,
                },
            },
            energy: crate::summary::EnergyJson::default(),
            transports: crate::summary::TransportsJson::default(),
            discovery: None,
            signaling: None,
            packets_sent: 1045,
            bytes_sent: 550_000,
            events: 5000,
            wall_s: 0.01,
        },
        deliveries,
        timeseries,
        nodes,
        faults: vec![
            FaultRow {
                time_ns: 4_000_000_000,
                kind: "crash".into(),
                detail: "node 3".into(),
            },
            FaultRow {
                time_ns: 5_000_000_000,
                kind: "restart".into(),
                detail: "node 3".into(),
            },
        ],
        scenario_text: "(name: \"sample\", seed: 7)".into(),
        transports: vec![
            TransportRow {
                message: Some(65_536),
                node: 1,
                to: 2,
                bytes: 300,
                sent_ns: 2_000_000_000,
                first: Some("BitChat".into()),
                attempts: 2,
                via: Some("BetaNet".into()),
                latency_ms: Some(10_040.5),
                outcome: "delivered".into(),
            },
            TransportRow {
                message: None,
                node: 1,
                to: 3,
                bytes: 40_000,
                sent_ns: 2_500_000_000,
                first: None,
                attempts: 0,
                via: None,
                latency_ms: None,
                outcome: "queue_full".into(),
            },
        ],
        lookups: vec![
            LookupRow {
                lookup: 1,
                node: 2,
                started_ns: 1_000_000_000,
                done_ns: Some(1_080_000_000),
                latency_ms: Some(80.0),
                hops: Some(3),
                requests: Some(12),
                success: Some(true),
            },
            LookupRow {
                lookup: 2,
                node: 3,
                started_ns: 9_000_000_000,
                done_ns: None,
                latency_ms: None,
                hops: None,
                requests: None,
                success: None,
            },
        ],
        discovery: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_through_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let run = sample_run();
        run.write_tables(dir.path()).unwrap();
        let back = RunData::load(dir.path()).unwrap();
        assert_eq!(back, run);
    }

    /// The header a table is written with is the one serde would derive
    /// from its fields, in their order: `read_csv` finds columns by name,
    /// so a header out of step with the fields would shift every value.
    #[test]
    fn headers_name_the_fields_in_order() {
        fn derived<T: Table>(row: &T) -> String {
            let mut csv = csv::Writer::from_writer(Vec::new());
            csv.serialize(row).unwrap();
            let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
            text.lines().next().unwrap().to_string()
        }
        let run = sample_run();
        assert_eq!(derived(&run.deliveries[0]), DeliveryRow::HEADER.join(","));
        assert_eq!(derived(&run.nodes[0]), NodeRow::HEADER.join(","));
        assert_eq!(derived(&run.lookups[0]), LookupRow::HEADER.join(","));
        assert_eq!(derived(&run.faults[0]), FaultRow::HEADER.join(","));
        assert_eq!(derived(&run.transports[0]), TransportRow::HEADER.join(","));
        assert!(NodeRow::HEADER.ends_with(&["energy_j", "battery"]));
        let row = DiscoveryRow {
            message: 1,
            node: 2,
            as_of_ns: 3,
            received_ns: 4,
            returned: 5,
            stale: 0,
            staleness_mean_s: None,
            staleness_max_s: None,
        };
        assert_eq!(derived(&row), DiscoveryRow::HEADER.join(","));
    }

    #[test]
    fn discovery_csv_is_written_and_read_only_with_discovery_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = sample_run();
        run.write_tables(dir.path()).unwrap();
        assert!(!dir.path().join(files::DISCOVERY).exists());
        assert_eq!(RunData::load(dir.path()).unwrap(), run);

        run.summary.discovery = Some(crate::summary::DiscoveryJson {
            discovers: 2,
            answered: 2,
            success_ratio: 1.0,
            ..Default::default()
        });
        run.discovery = vec![
            DiscoveryRow {
                message: 7,
                node: 1,
                as_of_ns: 10_000,
                received_ns: 12_000,
                returned: 3,
                stale: 1,
                staleness_mean_s: Some(12.5),
                staleness_max_s: Some(12.5),
            },
            DiscoveryRow {
                message: 8,
                node: 2,
                as_of_ns: 20_000,
                received_ns: 21_000,
                returned: 3,
                stale: 0,
                staleness_mean_s: None,
                staleness_max_s: None,
            },
        ];
        run.write_tables(dir.path()).unwrap();
        assert_eq!(RunData::load(dir.path()).unwrap(), run);
    }

    #[test]
    fn energy_and_battery_round_trip_through_nodes_csv() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = sample_run();
        // spent, ran out; spent a third, two thirds left; not modelled
        run.nodes[0].energy_j = Some(41_580.0);
        run.nodes[0].battery = Some(0.0);
        run.nodes[1].energy_j = Some(0.1 + 0.2);
        run.nodes[1].battery = Some(2.0 / 3.0);
        run.write_tables(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(files::NODES)).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(NodeRow::HEADER.join(",").as_str()));
        assert!(lines.next().unwrap().ends_with(",41580.0,0.0"), "{text}");
        assert!(
            lines.nth(1).unwrap().ends_with(",,"),
            "empty when not modelled"
        );
        let back = RunData::load(dir.path()).unwrap();
        assert_eq!(back.nodes, run.nodes);
        assert_eq!(
            back.nodes[1].battery.map(f64::to_bits),
            Some((2.0f64 / 3.0).to_bits())
        );
    }

    #[test]
    fn empty_tables_keep_their_headers() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = sample_run();
        run.faults.clear();
        run.deliveries.clear();
        run.write_tables(dir.path()).unwrap();
        let faults = std::fs::read_to_string(dir.path().join(files::FAULTS)).unwrap();
        assert_eq!(faults, "time_ns,kind,detail\n");
        assert_eq!(RunData::load(dir.path()).unwrap(), run);
    }

    #[test]
    fn a_mangled_table_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        sample_run().write_tables(dir.path()).unwrap();
        std::fs::write(dir.path().join(files::TIMESERIES), "start_ns,oops\n1,2\n").unwrap();
        assert!(matches!(
            RunData::load(dir.path()),
            Err(LoadError::Format { .. })
        ));
        std::fs::remove_file(dir.path().join(files::NODES)).unwrap();
        assert!(RunData::load(dir.path()).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any deliveries and node totals come back exactly as written,
        /// floats included: `p2psim run` draws its charts from the values
        /// it writes, `p2psim report` from the values it reads.
        #[test]
        fn any_rows_round_trip_exactly(
            rows in proptest::collection::vec(
                (proptest::prelude::any::<(u64, u32, u32, u64, u64, u32)>(),
                 proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO),
                0..20,
            ),
            energy in proptest::option::of(proptest::num::f64::POSITIVE | proptest::num::f64::ZERO),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut run = sample_run();
            run.deliveries = rows
                .iter()
                .map(|&((message, source, destination, sent_ns, delivered_ns, hops), latency_ms)| {
                    DeliveryRow { message, source, destination, sent_ns, delivered_ns, latency_ms, hops }
                })
                .collect();
            run.nodes[0].energy_j = energy;
            run.nodes[0].battery = energy.map(|e| e / (1.0 + e));
            run.write_tables(dir.path()).unwrap();
            proptest::prop_assert_eq!(RunData::load(dir.path()).unwrap(), run);
        }
    }
}
