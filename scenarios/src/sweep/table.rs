//! `sweep.csv`: one row per run, sorted by (point, replication).
//!
//! Columns: `point`, `replication`, `seed`, one column per parameter (its
//! value as written), `trace_hash`, then every number of the run's
//! `summary.json` by its dotted name, in name order (`bytes_sent`,
//! `deliveries`, `delivery_ratio`, `drops.expired`, …, `latency_ms.p50`, …,
//! `lookups.success_ratio`, …), with `energy.*` always present (zero where
//! nothing models energy), `discovery.*`, `signaling.*` and `transports.*`
//! present where some point of the sweep runs that protocol or the
//! transport manager, and `wall_s` left out, plus `duplicates` and
//! `relays`, the totals of `nodes.csv`. Every cell is a pure function of the
//! run, so the file is the same bytes whatever the number of threads or
//! shards. Floating-point numbers are written in their shortest form that
//! reads back exactly (and zero as `0`, never `-0`).
//!
//! The same format, unsorted and appended one row at a time, is
//! `sweep.partial.csv`, the record of an unfinished sweep that `--resume`
//! reads back.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use reports::atomic::write_atomic;
use reports::data::NodeRow;
use reports::{RunData, RunSummary};
use serde_json::Value;

use crate::schema::{GroupSpec, ProtocolSpec};
use crate::transport::TransportSpec;

use super::grid::{Pair, Plan};
use super::SweepError;

/// The columns before the parameters' (`point`, `replication`, `seed`) and
/// right after them (`trace_hash`).
const LEADING: [&str; 3] = ["point", "replication", "seed"];
const TRACE_HASH: &str = "trace_hash";

/// The columns that are not parameters or figures.
pub(crate) fn fixed_columns() -> [&'static str; 4] {
    [LEADING[0], LEADING[1], LEADING[2], TRACE_HASH]
}

/// Which of `summary.json`'s optional objects a sweep's rows hold as
/// columns: those of the protocols (and the transport manager) some point
/// of the sweep runs (so a gossip sweep's file has no discovery columns,
/// and every row of a discovery sweep has them all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Optional {
    /// `discovery.*`.
    pub discovery: bool,
    /// `signaling.*`.
    pub signaling: bool,
    /// `transports.*`.
    pub transports: bool,
}

impl Optional {
    /// Every optional object.
    pub const ALL: Optional = Optional {
        discovery: true,
        signaling: true,
        transports: true,
    };

    /// The objects of `plan`'s protocols.
    pub fn of(plan: &Plan) -> Self {
        let runs = |p: fn(&GroupSpec) -> bool| {
            plan.points
                .iter()
                .any(|point| point.scenario.groups.iter().any(p))
        };
        Optional {
            discovery: runs(|g| matches!(g.protocol, ProtocolSpec::Discovery(_))),
            signaling: runs(|g| matches!(g.protocol, ProtocolSpec::Signaling(_))),
            transports: runs(|g| matches!(g.transport, Some(TransportSpec::Manager(_)))),
        }
    }
}

/// The figure columns with the `optional` objects, in order.
pub fn figure_names(optional: Optional) -> Vec<String> {
    let blank = RunSummary::new(
        "",
        0,
        String::new(),
        &sim_core::Metrics::new(0).summary(),
        &[],
        0,
        0.0,
    );
    figures(&blank, &[], optional).into_keys().collect()
}

/// A run's figures by column name.
fn figures(
    summary: &RunSummary,
    nodes: &[NodeRow],
    optional: Optional,
) -> BTreeMap<String, String> {
    let mut json = serde_json::to_value(summary).expect("a summary has a JSON form");
    // Energy in every row, so that every run of a sweep has the same columns;
    // discovery, signaling and transports in every row of a sweep that runs
    // them (zero in a point that does not).
    json["energy"] = serde_json::to_value(&summary.energy).expect("energy has a JSON form");
    let fields = json.as_object_mut().expect("a summary is an object");
    fields.remove("discovery");
    fields.remove("signaling");
    fields.remove("transports");
    if optional.discovery {
        let d = summary.discovery.clone().unwrap_or_default();
        json["discovery"] = serde_json::to_value(d).expect("discovery has a JSON form");
    }
    if optional.signaling {
        let g = summary.signaling.clone().unwrap_or_default();
        json["signaling"] = serde_json::to_value(g).expect("signaling has a JSON form");
    }
    if optional.transports {
        json["transports"] =
            serde_json::to_value(&summary.transports).expect("transports have a JSON form");
    }
    let mut out = BTreeMap::new();
    flatten("", &json, &mut out);
    // In their own columns, or (wall time) not the same twice.
    for key in ["scenario", "seed", TRACE_HASH, "wall_s"] {
        out.remove(key);
    }
    let total = |f: fn(&NodeRow) -> u64| nodes.iter().map(f).sum::<u64>().to_string();
    out.insert("duplicates".into(), total(|n| n.duplicates));
    out.insert("relays".into(), total(|n| n.relays));
    out
}

/// The numbers of `v`, by dotted path.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Number(n) => {
            let cell = match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => u.to_string(),
                (None, Some(i), _) => i.to_string(),
                // Rust's `Display` of an f64 is the shortest string that
                // reads back to the same value; an empty sum's −0 is 0.
                (None, None, Some(0.0)) => "0".to_string(),
                (None, None, f) => f.map_or_else(String::new, |f| f.to_string()),
            };
            out.insert(prefix.to_string(), cell);
        }
        _ => {}
    }
}

/// The header of a plan's `sweep.csv`.
pub fn header(plan: &Plan) -> Vec<String> {
    LEADING
        .iter()
        .map(|s| s.to_string())
        .chain(plan.parameters.iter().map(|a| a.name.clone()))
        .chain([TRACE_HASH.to_string()])
        .chain(figure_names(Optional::of(plan)))
        .collect()
}

/// One row of `sweep.csv`: a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The run.
    pub pair: Pair,
    /// Its cells, in the header's order.
    pub cells: Vec<String>,
}

impl Row {
    /// The row of run `pair` of `plan`, which produced `data`.
    pub fn new(plan: &Plan, pair: Pair, data: &RunData) -> Row {
        let levels = &plan.points[pair.point].levels;
        let optional = Optional::of(plan);
        let mut figures = figures(&data.summary, &data.nodes, optional);
        let cells = [
            pair.point.to_string(),
            pair.replication.to_string(),
            data.summary.seed.to_string(),
        ]
        .into_iter()
        .chain(
            plan.parameters
                .iter()
                .zip(levels)
                .map(|(a, &l)| a.levels[l].written.clone()),
        )
        .chain([data.summary.trace_hash.clone()])
        .chain(
            figure_names(optional)
                .into_iter()
                .map(|name| figures.remove(&name).unwrap_or_default()),
        )
        .collect();
        Row { pair, cells }
    }

    /// The value of column `column` as a number (NaN if it is not one).
    pub fn number(&self, column: usize) -> f64 {
        self.cells
            .get(column)
            .and_then(|c| c.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// Whether the row is what `plan` would write for its run: in the grid,
    /// with the replication's seed and the point's values. Says what differs.
    fn check(&self, plan: &Plan) -> Result<(), String> {
        let Pair { point, replication } = self.pair;
        if point >= plan.points.len() || replication >= plan.replications {
            return Err(format!(
                "point {point} replication {replication} is not in this sweep of {} points × {} replications",
                plan.points.len(),
                plan.replications
            ));
        }
        let seed = plan.seed(replication).to_string();
        if self.cells[2] != seed {
            return Err(format!(
                "point {point} replication {replication} has seed {}, but this sweep gives it {seed}",
                self.cells[2]
            ));
        }
        let levels = &plan.points[point].levels;
        for (k, (axis, &l)) in plan.parameters.iter().zip(levels).enumerate() {
            let written = &axis.levels[l].written;
            if &self.cells[LEADING.len() + k] != written {
                return Err(format!(
                    "point {point} has {} = {}, but this sweep gives it {written}",
                    axis.name,
                    self.cells[LEADING.len() + k]
                ));
            }
        }
        Ok(())
    }
}

/// One CSV record, with its line end.
pub(crate) fn encode(cells: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells).expect("writing to memory");
    w.into_inner().expect("writing to memory")
}

/// Writes `rows` (sorted) under the plan's header to `path`, atomically.
pub fn write(path: &Path, plan: &Plan, rows: &[Row]) -> io::Result<()> {
    write_atomic(path, |w| {
        w.write_all(&encode(&header(plan)))?;
        rows.iter().try_for_each(|r| w.write_all(&encode(&r.cells)))
    })
}

/// What a `sweep.csv` or `sweep.partial.csv` holds.
#[derive(Debug)]
pub(crate) struct Read {
    /// Its rows, in file order.
    pub rows: Vec<Row>,
    /// The length of its complete lines: a line cut short by a crash
    /// (everything after the last line end) is not read.
    pub complete: u64,
}

/// Reads the rows of `path` (none if it does not exist), checking each
/// against `plan`.
pub(crate) fn read(path: &Path, plan: &Plan) -> Result<Read, SweepError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(SweepError::io(path, source)),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let bytes = &bytes[..complete];
    let bad = |line: u64, why: String| {
        SweepError::Data(format!(
            "{}:{line}: {why}; this file is not this sweep's",
            path.display()
        ))
    };
    let mut rows = Vec::new();
    if bytes.is_empty() {
        return Ok(Read { rows, complete: 0 });
    }
    let mut reader = csv::Reader::from_reader(bytes);
    let expected = header(plan);
    let found = reader.headers().map_err(|e| bad(1, e.to_string()))?;
    if found.iter().ne(expected.iter().map(String::as_str)) {
        return Err(bad(
            1,
            format!("its columns are not this sweep's ({})", expected.join(",")),
        ));
    }
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let cells: Vec<String> = record.iter().map(String::from).collect();
        let pair = match (cells[0].parse(), cells[1].parse()) {
            (Ok(point), Ok(replication)) => Pair { point, replication },
            _ => return Err(bad(line, "no point and replication".into())),
        };
        let row = Row { pair, cells };
        row.check(plan).map_err(|why| bad(line, why))?;
        rows.push(row);
    }
    Ok(Read {
        rows,
        complete: complete as u64,
    })
}
