//! Sweep charts: a metric against a parameter, one line per series, with a
//! 95 % confidence band over replications.
//!
//! A sweep asks how a metric responds to a parameter (delivery ratio against
//! loss rate, p99 latency against network size), usually for several
//! protocols or settings at once. Each point is the mean over the point's
//! replications; the shaded band is the 95 % confidence interval of that mean
//! (Student's t, see [`mean_ci95`]), so overlapping bands warn that a
//! difference between series may be noise. A point with one replication has
//! no band. When the parameter values are positive and span more than two
//! decades the parameter axis is logarithmic.

use std::path::Path;

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::render::{draw_note, emit, DrawResult, Figure, Frame, LegendEntry, Mark};
use super::stats::mean_ci95;
use super::style::{self, fmt_num, series_colour, MUTED};
use super::{Chart, ChartError, X_LABEL_AREA, Y_LABEL_AREA};

/// A sweep chart to draw: what is on the axes and the series.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepChart {
    /// The file stem, e.g. `delivery_vs_loss`.
    pub name: &'static str,
    /// The chart's title.
    pub title: String,
    /// The x-axis label, with its unit: `"loss rate (%)"`.
    pub parameter: String,
    /// Where the parameter's values have no numbers to place them by and
    /// sit at their indices 0, 1, 2…: each index's tick label (empty: the
    /// x values are numbers, labelled as such).
    pub x_ticks: Vec<String>,
    /// The y-axis label, with its unit: `"p99 latency (ms)"`.
    pub metric: String,
    /// The lines, one per protocol or setting.
    pub series: Vec<SweepSeries>,
}

/// One line of a sweep chart.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    /// The legend label.
    pub label: String,
    /// `(parameter value, the metric of each replication)`, in any order.
    /// Non-finite metric values (a replication that produced none) are
    /// ignored; a point with no finite values is not drawn.
    pub points: Vec<(f64, Vec<f64>)>,
}

/// The label of x position `v`: a number, or where the values sit at their
/// indices, the tick label of an index (none between indices).
fn x_label(ticks: &[String], v: f64) -> String {
    if ticks.is_empty() {
        return fmt_num(v);
    }
    let i = v.round();
    match ticks.get(i as usize) {
        Some(label) if (v - i).abs() < 1e-9 && i >= 0.0 => label.clone(),
        _ => String::new(),
    }
}

/// Draws `spec` and writes `<name>.svg` and `<name>.png` into `dir`.
pub fn render_sweep_chart(spec: &SweepChart, dir: &Path) -> Result<Chart, ChartError> {
    let fig = SweepFigure::new(spec);
    emit(
        Frame {
            name: spec.name,
            title: &spec.title,
            subtitle: None,
        },
        &fig,
        dir,
    )
}

/// A series' points: `(parameter, mean, half-width or NaN)`, by parameter.
struct Line {
    label: String,
    colour: RGBColor,
    points: Vec<(f64, f64, f64)>,
}

enum XAxis {
    Linear { lo: f64, hi: f64 },
    Log { lo: f64, hi: f64 },
}

struct SweepFigure<'a> {
    spec: &'a SweepChart,
    lines: Vec<Line>,
    x: XAxis,
    y: (f64, f64),
    /// Smallest and largest number of replications behind a point.
    reps: (usize, usize),
}

impl<'a> SweepFigure<'a> {
    fn new(spec: &'a SweepChart) -> Self {
        let mut reps = (usize::MAX, 0);
        let lines: Vec<Line> = spec
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut points: Vec<(f64, f64, f64)> = s
                    .points
                    .iter()
                    .filter(|(x, _)| x.is_finite())
                    .filter_map(|(x, values)| {
                        let finite: Vec<f64> =
                            values.iter().copied().filter(|v| v.is_finite()).collect();
                        if finite.is_empty() {
                            return None;
                        }
                        reps = (reps.0.min(finite.len()), reps.1.max(finite.len()));
                        let (mean, half) = mean_ci95(&finite);
                        Some((*x, mean, half))
                    })
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Line {
                    label: s.label.clone(),
                    colour: series_colour(i),
                    points,
                }
            })
            .collect();
        let xs = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (x_min, x_max) = xs().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let x = if x_min.is_finite() && x_min > 0.0 && x_max / x_min > 100.0 {
            let (lo, hi) = style::log_bounds(x_min, x_max);
            XAxis::Log { lo, hi }
        } else if x_min.is_finite() {
            let pad = if x_max > x_min {
                (x_max - x_min) * 0.04
            } else {
                x_min.abs().max(1.0) * 0.5
            };
            XAxis::Linear {
                lo: x_min - pad,
                hi: x_max + pad,
            }
        } else {
            XAxis::Linear { lo: 0.0, hi: 1.0 }
        };
        let band = |p: &(f64, f64, f64)| if p.2.is_finite() { p.2 } else { 0.0 };
        let (y_min, y_max) = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| (p.1 - band(p), p.1 + band(p))))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (lo, hi)| {
                (a.min(lo), b.max(hi))
            });
        let y = if y_min.is_finite() {
            let span = y_max - y_min;
            let pad = if span > 0.0 {
                span * 0.08
            } else {
                y_min.abs().max(1.0) * 0.1
            };
            // keep a non-negative metric's axis non-negative
            let lo = if y_min >= 0.0 {
                (y_min - pad).max(0.0)
            } else {
                y_min - pad
            };
            (lo, y_max + pad)
        } else {
            (0.0, 1.0)
        };
        if reps.1 == 0 {
            reps = (0, 0);
        }
        SweepFigure {
            spec,
            lines,
            x,
            y,
            reps,
        }
    }

    fn draw_on<DB: DrawingBackend, X>(&self, area: &DrawingArea<DB, Shift>, x: X) -> DrawResult
    where
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let (x_lo, x_hi) = (x.range().start, x.range().end);
        let ticks = &self.spec.x_ticks;
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(24)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x, self.y.0..self.y.1)?;
        style::style_mesh(&mut chart.configure_mesh())
            .x_desc(self.spec.parameter.as_str())
            .y_desc(self.spec.metric.as_str())
            .x_labels(if ticks.is_empty() { 10 } else { ticks.len() })
            .y_labels(7)
            .x_label_formatter(&|v| x_label(ticks, *v))
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()?;
        if self.lines.iter().all(|l| l.points.is_empty()) {
            return draw_note(&chart.plotting_area().strip_coord_spec(), "no data");
        }
        let clamp_x = |v: f64| v.clamp(x_lo, x_hi);
        // bands first, so every line lies on top of every band
        for l in &self.lines {
            for stretch in l.points.split(|p| !p.2.is_finite()) {
                match stretch {
                    [] => {}
                    // a point whose neighbours have no interval: an error bar
                    [p] => {
                        let x = clamp_x(p.0);
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x, p.1 - p.2), (x, p.1 + p.2)],
                            l.colour.mix(0.35).stroke_width(8),
                        )))?;
                    }
                    _ => {
                        let upper = stretch.iter().map(|p| (clamp_x(p.0), p.1 + p.2));
                        let lower = stretch.iter().rev().map(|p| (clamp_x(p.0), p.1 - p.2));
                        let band: Vec<(f64, f64)> = upper.chain(lower).collect();
                        chart
                            .draw_series(std::iter::once(Polygon::new(band, l.colour.mix(0.18))))?;
                    }
                }
            }
        }
        for l in &self.lines {
            let pts: Vec<(f64, f64)> = l.points.iter().map(|p| (clamp_x(p.0), p.1)).collect();
            chart.draw_series(LineSeries::new(
                pts.iter().copied(),
                l.colour.stroke_width(2),
            ))?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, l.colour.filled())))?;
        }
        Ok(())
    }
}

impl Figure for SweepFigure<'_> {
    fn legend(&self) -> Vec<LegendEntry> {
        let mut e: Vec<LegendEntry> = self
            .lines
            .iter()
            .map(|l| LegendEntry::new(l.label.clone(), Mark::LineDot(l.colour)))
            .collect();
        let has_band = self
            .lines
            .iter()
            .any(|l| l.points.iter().any(|p| p.2.is_finite()));
        let n = match self.reps {
            (0, _) => String::new(),
            (a, b) if a == b => format!("n = {a}"),
            (a, b) => format!("n = {a}–{b}"),
        };
        if has_band {
            e.push(LegendEntry::new(
                format!("mean ± 95 % CI ({n} replications)"),
                Mark::Band(MUTED),
            ));
        } else if !n.is_empty() {
            e.push(LegendEntry::new(
                format!("mean of {n} replications (no CI)"),
                Mark::Note,
            ));
        }
        if e.is_empty() {
            e.push(LegendEntry::new("no series", Mark::Note));
        }
        e
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        match self.x {
            XAxis::Linear { lo, hi } => self.draw_on(area, RangedCoordf64::from(lo..hi)),
            XAxis::Log { lo, hi } => self.draw_on(area, style::log_axis(lo, hi)),
        }
    }
}
