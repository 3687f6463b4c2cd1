//! From a run's folder of tables to its charts and report.html.

use std::path::{Path, PathBuf};

use crate::charts::{render_run_charts, ChartError};
use crate::data::{LoadError, RunData};
use crate::html::write_report;

/// Why a run's report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The folder's tables could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A chart could not be drawn or written.
    #[error("drawing the charts in {dir}: {source}")]
    Chart {
        /// The folder.
        dir: PathBuf,
        /// What went wrong.
        source: ChartError,
    },
    /// report.html could not be written.
    #[error("writing the report in {dir}: {source}")]
    Report {
        /// The folder.
        dir: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Reads the tables in `dir` and (re)draws every chart and report.html from
/// them; returns the report's path. `p2psim run` calls this right after
/// writing the tables, and `p2psim report` calls it alone, so a report always
/// shows exactly what its folder's files hold.
pub fn publish(dir: &Path, version: &str) -> Result<PathBuf, PublishError> {
    let run = RunData::load(dir)?;
    let charts = render_run_charts(&run, dir).map_err(|source| PublishError::Chart {
        dir: dir.to_path_buf(),
        source,
    })?;
    write_report(dir, &run, &charts, version).map_err(|source| PublishError::Report {
        dir: dir.to_path_buf(),
        source,
    })
}
