//! Parameter sweeps: `p2psim sweep FILE` and `p2psim merge OUT DIR...`.
//!
//! A scenario's `sweep:` field names parameters — paths into the scenario
//! and the values to put there — and a number of replications. The sweep
//! runs every combination of the values (a point) once per replication,
//! in parallel, and writes one row per run to `sweep.csv`, with charts of
//! each key metric against the first parameter and a `report.html`.
//!
//! # A tour
//!
//! - [`spec`]: what `sweep:` may say ([`SweepSpec`], [`Parameter`]);
//! - [`path`]: the path syntax (`groups.0.protocol.Gossip.config.d`) and
//!   how a path is set in a scenario's serde form, with errors that name the
//!   segment that does not exist;
//! - `value`: a value written in RON (`Bernoulli(p: 0.02)`) as that serde
//!   form;
//! - [`grid`]: the [`Plan`] — every point's scenario, built and validated
//!   before anything runs, the replications and their seeds (common random
//!   numbers: replication r has the same seed at every point);
//! - [`table`]: `sweep.csv`, one row per run, sorted;
//! - [`runner`]: the runs on a rayon pool, each row appended to
//!   `sweep.partial.csv` as it ends, so that an interrupted sweep resumes;
//! - [`shard`]: one N-th of the runs (`--shard K/N`) and [`merge`], which
//!   joins shard folders;
//! - [`publish`](mod@publish): the sweep charts and `report.html`, drawn from
//!   the rows.
//!
//! ```
//! use std::path::Path;
//! let text = r#"(
//!     name: "two", seed: 1, duration: "1s",
//!     network: Graph(topology: Line, link: (latency: Constant("10ms"))),
//!     groups: [(name: "a", count: 2, protocol: Ping())],
//!     workload: [(group: "a", action: Ping(size: "100B", to: Node(1)),
//!                 arrivals: Every("100ms"), stop: "500ms")],
//!     sweep: (parameters: [(path: "network.link.latency", values: [Constant("5ms"), Constant("20ms")])],
//!             replications: 2),
//! )"#;
//! let file = Path::new("two.ron");
//! let scenario = scenarios::load::parse(file, text).unwrap();
//! let plan = scenarios::sweep::Plan::new(&scenario, file, text).unwrap();
//! assert_eq!((plan.points.len(), plan.runs()), (2, 4));
//! let dir = std::env::temp_dir().join(format!("p2psim-sweep-doc-{}", std::process::id()));
//! let done = scenarios::sweep::runner::run(&plan, file, text, &dir, &Default::default(), &|_, _| {}).unwrap();
//! assert!(done.complete());
//! let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
//! assert!(csv.starts_with("point,replication,seed,network.link.latency,trace_hash,"));
//! assert!(csv.contains("\n1,0,1,\"Constant(\"\"20ms\"\")\","));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::btree_map::{BTreeMap, Entry};
use std::path::{Path, PathBuf};

use crate::error::ScenarioError;

pub mod grid;
pub mod path;
pub mod publish;
pub mod runner;
pub mod shard;
pub mod spec;
pub mod table;
mod value;

pub use grid::{replication_seed, Plan};
pub use shard::{merge, Shard};
pub use spec::{Parameter, SweepSpec};

/// The files of a sweep's folder.
pub mod files {
    /// One row per run, sorted; written when every run of the folder is done.
    pub const CSV: &str = "sweep.csv";
    /// The rows of an unfinished sweep, in the order their runs ended.
    pub const PARTIAL: &str = "sweep.partial.csv";
    /// The scenario file the sweep ran.
    pub const SCENARIO: &str = reports::data::files::SCENARIO;
    /// The sweep's report.
    pub const REPORT: &str = reports::data::files::REPORT;
}

/// Why a sweep could not run or be merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The scenario file (or a point of its sweep) is not valid.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A folder's rows do not belong to this sweep, disagree, or are missing.
    #[error("{0}")]
    Data(String),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] reports::ChartError),
}

impl SweepError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        SweepError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The default output folder: `out/<name>-sweep/`, and for a shard its
/// subfolder `shard-K-of-N/`.
pub fn default_dir(name: &str, shard: Shard) -> PathBuf {
    let dir = Path::new("out").join(format!("{name}-sweep"));
    if shard == Shard::WHOLE {
        dir
    } else {
        dir.join(format!("shard-{}-of-{}", shard.k, shard.n))
    }
}

/// Adds `row` (read from `source`) to `rows`; a run already there must have
/// the same row, and is then kept once. Returns whether it was there.
fn insert_unique(
    rows: &mut BTreeMap<grid::Pair, (table::Row, PathBuf)>,
    row: table::Row,
    source: &Path,
) -> Result<bool, SweepError> {
    match rows.entry(row.pair) {
        Entry::Vacant(v) => {
            v.insert((row, source.to_path_buf()));
            Ok(false)
        }
        Entry::Occupied(o) if o.get().0 == row => Ok(true),
        Entry::Occupied(o) => Err(SweepError::Data(format!(
            "{} and {} have different results for point {} replication {}",
            o.get().1.display(),
            source.display(),
            row.pair.point,
            row.pair.replication
        ))),
    }
}
