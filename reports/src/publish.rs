//! A run's tables, charts and report.html: written together after a run
//! ([`write_and_publish`]), or redrawn from its folder ([`publish`]).

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
    /// The tables could not be written.
    #[error("writing {dir}: {source}")]
    Tables {
        /// The folder.
        dir: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
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
/// them; returns the report's path. This is `p2psim report`.
pub fn publish(dir: &Path, version: &str) -> Result<PathBuf, PublishError> {
    let run = RunData::load(dir)?;
    let charts = render_run_charts(&run, dir).map_err(|source| PublishError::Chart {
        dir: dir.to_path_buf(),
        source,
    })?;
    report(dir, &run, &charts, version)
}

/// Writes `run`'s tables into `dir` and draws its charts and report.html,
/// the drawing on a thread of its own alongside the writing; returns the
/// report's path. This is `p2psim run`'s output.
///
/// The charts are drawn from `run` itself rather than from the files read
/// back (parsing gossip-100k's 390 MB `deliveries.csv` again took about
/// 2.5 s). They are the same: the tables hold
/// every value exactly (tests: `data`'s round trips, and this module's
/// check that [`publish`] on the folder redraws the same bytes), so a
/// report still shows exactly what its folder's files hold.
pub fn write_and_publish(
    dir: &Path,
    run: &RunData,
    version: &str,
) -> Result<PathBuf, PublishError> {
    let tables_failed = |source| PublishError::Tables {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(tables_failed)?;
    let (tables, charts) = std::thread::scope(|scope| {
        let tables = scope.spawn(|| run.write_tables(dir));
        let charts = render_run_charts(run, dir);
        let tables = tables
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (tables, charts)
    });
    tables.map_err(tables_failed)?;
    let charts = charts.map_err(|source| PublishError::Chart {
        dir: dir.to_path_buf(),
        source,
    })?;
    report(dir, run, &charts, version)
}

fn report(
    dir: &Path,
    run: &RunData,
    charts: &[crate::charts::Chart],
    version: &str,
) -> Result<PathBuf, PublishError> {
    write_report(dir, run, charts, version).map_err(|source| PublishError::Report {
        dir: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    /// The bytes of every chart and the report in `dir`, in name order.
    fn drawings(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "svg" || x == "png" || x == "html")
            })
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    }

    /// What `p2psim run` draws from memory, `p2psim report` draws again,
    /// byte for byte, from the files.
    #[test]
    fn the_folder_redraws_the_same_report_and_charts() {
        let dir = tempfile::tempdir().unwrap();
        let report = write_and_publish(dir.path(), &sample_run(), "test").unwrap();
        let drawn = drawings(dir.path());
        assert!(drawn.len() >= 11, "{} charts and report", drawn.len());
        assert_eq!(publish(dir.path(), "test").unwrap(), report);
        assert_eq!(drawings(dir.path()), drawn);
    }
}
