//! Charts of a run (and of sweeps), as SVG and PNG files.
//!
//! [`render_run_charts`] draws, from a run's [`RunData`], in this order:
//!
//! - `latency_cdf` — the distribution of delivery latency, one curve per
//!   destination group: the median and the tail at once, and how groups
//!   differ;
//! - `timeline` — latency p50/p99 and delivery ratio per interval, with every
//!   fault marked: what a crash or a partition did, and how long recovery took;
//! - `hops` — a histogram of the hop counts of delivered copies: the path
//!   lengths the protocol achieved;
//! - `node_load` — bytes sent per node, busiest first: hot spots;
//! - `energy` — only where some node models energy (a battery): joules spent
//!   per node, busiest first, over each battery's charge at the end, emptied
//!   ones marked: who pays for the work and who does not last. A run without
//!   batteries has exactly the other five charts;
//! - `drops` — packets dropped by cause: why deliveries were lost.
//!
//! [`render_sweep_chart`] draws a metric against a parameter, one line per
//! series, each point the mean over its replications with a shaded 95 %
//! confidence band ([`mean_ci95`]).
//!
//! Every chart is written as `<name>.svg` and `<name>.png` (1000 × 600), each
//! atomically, and returned as a [`Chart`] holding the same SVG markup for the
//! HTML report. Each has a title, axis labels with units, and a legend in its
//! own rows above the plot, so it never covers data; the same group has the
//! same colour in every chart. A chart with nothing to show (no deliveries,
//! no drops) still draws its axes, with a note saying what is missing.
//!
//! Nothing here needs a system library: text is laid out (and, in the PNG
//! files, drawn) with DejaVu Sans, embedded in the binary through the `dejavu`
//! crate; the SVG files name the generic `sans-serif` family. Output is
//! deterministic: the same data give byte-identical files.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use plotters::style::RGBColor;

use crate::data::RunData;

mod drops;
mod energy;
mod hops;
mod latency_cdf;
mod node_load;
mod ranked;
mod raster;
mod render;
mod stats;
mod style;
mod sweep;
mod timeline;

#[cfg(test)]
mod tests;

pub use stats::{mean_ci95, t_975};
pub use sweep::{render_sweep_chart, SweepChart, SweepSeries};

/// One chart, written as `<name>.svg` and `<name>.png` in the run's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// The file stem, e.g. `latency_cdf`.
    pub name: &'static str,
    /// The chart's title, as drawn on it.
    pub title: String,
    /// The SVG document, for inlining into report.html.
    pub svg: String,
}

/// Why a chart could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// A chart file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// plotters could not draw the chart (or the embedded font could not be
    /// loaded).
    #[error("cannot draw the {chart} chart: {message}")]
    Draw {
        /// The chart's file stem.
        chart: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// The file stems of the charts [`render_run_charts`] draws for every run, in
/// its order.
pub const RUN_CHARTS: [&str; 5] = [
    latency_cdf::NAME,
    timeline::NAME,
    hops::NAME,
    node_load::NAME,
    drops::NAME,
];

/// The file stem of the chart [`render_run_charts`] adds, right after
/// `node_load`, when some node models energy.
pub const ENERGY_CHART: &str = energy::NAME;

/// Draws every chart of a run into `dir` (which must exist), as SVG and PNG,
/// and returns them in the order of [`RUN_CHARTS`], with [`ENERGY_CHART`]
/// after `node_load` when some node models energy (and no file of it
/// otherwise).
pub fn render_run_charts(run: &RunData, dir: &Path) -> Result<Vec<Chart>, ChartError> {
    use render::{emit, Frame};
    let subtitle = format!(
        "scenario {} · seed {}",
        run.summary.scenario, run.summary.seed
    );
    let frame = |name, title| Frame {
        name,
        title,
        subtitle: Some(subtitle.as_str()),
    };
    let colours = GroupColours::from_run(run);
    let mut charts = vec![
        emit(
            frame(latency_cdf::NAME, latency_cdf::TITLE),
            &latency_cdf::LatencyCdf::from_run(run, &colours),
            dir,
        )?,
        emit(
            frame(timeline::NAME, timeline::TITLE),
            &timeline::Timeline::from_run(run),
            dir,
        )?,
        emit(
            frame(hops::NAME, hops::TITLE),
            &hops::Hops::from_run(run),
            dir,
        )?,
        emit(
            frame(node_load::NAME, node_load::TITLE),
            &node_load::NodeLoad::from_run(run, &colours),
            dir,
        )?,
    ];
    if let Some(energy) = energy::Energy::from_run(run, &colours) {
        charts.push(emit(frame(energy::NAME, energy::TITLE), &energy, dir)?);
    }
    charts.push(emit(
        frame(drops::NAME, drops::TITLE),
        &drops::Drops::from_run(run),
        dir,
    )?);
    Ok(charts)
}

/// The group name of deliveries to a node missing from `nodes.csv`.
const UNKNOWN_GROUP: &str = "(unknown group)";

/// Pixels below the plot for x tick labels and the x-axis label.
const X_LABEL_AREA: u32 = 62;
/// Pixels left of the plot for y tick labels and the (rotated) y-axis label.
const Y_LABEL_AREA: u32 = 88;

/// A colour per node group, by the group's place in name order, so a group
/// has the same colour in every chart of a run.
#[derive(Debug)]
pub(crate) struct GroupColours {
    names: Vec<String>,
}

impl GroupColours {
    pub(crate) fn from_run(run: &RunData) -> Self {
        let names: BTreeSet<&str> = run.nodes.iter().map(|n| n.group.as_str()).collect();
        GroupColours {
            names: names.into_iter().map(String::from).collect(),
        }
    }

    /// The groups, in name order.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The colour of `group`; a group not in the run's nodes gets the colour
    /// after the last group's.
    pub(crate) fn get(&self, group: &str) -> RGBColor {
        let i = self
            .names
            .binary_search_by(|n| n.as_str().cmp(group))
            .unwrap_or(self.names.len());
        style::series_colour(i)
    }
}
