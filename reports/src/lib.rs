//! reports: a run's results as files.
//!
//! - [`atomic`]: every file is written to a temporary name in the same folder
//!   and renamed into place, so a crash never leaves half a file behind;
//! - [`summary`]: `summary.json`, the run's headline figures;
//! - [`data`]: the run's tables (`deliveries.csv`, `timeseries.csv`,
//!   `nodes.csv`, `faults.csv`) and [`RunData`], what every chart and the report
//!   are drawn from, read back from a run's folder by `p2psim report`.

#![warn(missing_docs, missing_debug_implementations)]

pub mod atomic;
pub mod charts;
pub mod data;
pub mod summary;

pub use data::RunData;
pub use summary::RunSummary;
