//! reports: a run's results as files.
//!
//! - [`atomic`]: every file is written to a temporary name in the same folder
//!   and renamed into place, so a crash never leaves half a file behind;
//! - [`summary`]: `summary.json`, the run's headline figures;
//! - [`tables`]: CSV tables (`deliveries.csv`).

#![warn(missing_docs, missing_debug_implementations)]

pub mod atomic;
pub mod summary;
pub mod tables;

pub use summary::RunSummary;
