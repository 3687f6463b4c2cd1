//! reports: a run's results as files.
//!
//! - [`atomic`]: every file is written to a temporary name in the same folder
//!   and renamed into place, so a crash never leaves half a file behind;
//! - [`summary`]: `summary.json`, the run's headline figures;
//! - [`data`]: the run's tables (`deliveries.csv`, `timeseries.csv`,
//!   `nodes.csv`, `faults.csv`) and [`RunData`], what every chart and the report
//!   are drawn from, read back from a run's folder by `p2psim report`;
//! - [`charts`]: the run's charts (latency CDF, timeline with faults, hop
//!   histogram, per-node load, per-node energy where batteries are modelled,
//!   drops by cause) and sweep charts with 95 % confidence bands, as SVG and
//!   PNG;
//! - [`html`]: `report.html`, one self-contained page (inline CSS and SVG, no
//!   script, nothing fetched) with the summary, charts, faults, node groups and
//!   the scenario file, every `summary.json` figure exact in a `data-value`;
//! - [`mod@publish`]: a run's tables, charts and report.html, written
//!   together after a run or redrawn from its folder;
//! - [`sweep_report`]: a sweep's `report.html`: its charts, the means per
//!   point, its parameters and seeds.

#![warn(missing_docs, missing_debug_implementations)]

pub mod atomic;
pub mod charts;
pub mod data;
pub mod html;
pub mod publish;
pub mod summary;
pub mod sweep_report;

pub use charts::{
    mean_ci95, render_run_charts, render_sweep_chart, Chart, ChartError, SweepChart, SweepSeries,
};
pub use data::RunData;
pub use publish::{publish, write_and_publish, PublishError};
pub use summary::RunSummary;
