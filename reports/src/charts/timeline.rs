//! `timeline`: latency and delivery ratio over the run, with the faults
//! marked.
//!
//! This is the chart that shows cause and effect: a crash or a partition is
//! a dashed vertical line (labelled above the plot), and the panels below show
//! what it did to latency (p50 and p99 of the deliveries in each interval, top)
//! and to the delivery ratio (of the messages sent in each interval, bottom).
//! The two panels share the time axis rather than one plot with two y axes,
//! so neither quantity is read against the wrong scale. Intervals with no
//! deliveries (or no messages sent) are gaps, not zeros. A run with many
//! faults (churn) gets short unlabelled ticks instead, so the data stay
//! visible.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{draw_note, DrawResult, Figure, LegendEntry, Mark};
use super::style::{self, fmt_num, size, MUTED, P50, P99, RATIO};
use super::{X_LABEL_AREA, Y_LABEL_AREA};
use crate::data::RunData;

/// Both panels: linear time against a linear value.
type Linear2d = Cartesian2d<RangedCoordf64, RangedCoordf64>;

/// The chart's file stem.
pub(crate) const NAME: &str = "timeline";
/// The chart's title.
pub(crate) const TITLE: &str = "Latency and delivery ratio over time";

/// Up to this many faults each gets a dashed line and a label; beyond, a tick.
const LABELLED_FAULTS_UP_TO: usize = 30;
/// Up to this many intervals every point gets a marker.
const MARKERS_UP_TO: usize = 60;
/// Rows of fault labels above the plot, and their height.
const LABEL_ROWS: usize = 2;
const LABEL_ROW_H: i32 = 19;
/// Longest fault label, in characters.
const LABEL_MAX_CHARS: usize = 32;

struct Fault {
    t: f64,
    label: String,
}

/// The time series of a run.
pub(crate) struct Timeline {
    t0: f64,
    t1: f64,
    interval_s: Option<f64>,
    /// Interval midpoints, seconds.
    mids: Vec<f64>,
    p50: Vec<Option<f64>>,
    p99: Vec<Option<f64>>,
    ratio: Vec<Option<f64>>,
    latency_top: f64,
    faults: Vec<Fault>,
    faults_total: usize,
}

impl Timeline {
    pub(crate) fn from_run(run: &RunData) -> Self {
        let ts = &run.timeseries;
        let secs = |ns: u64| ns as f64 / 1e9;
        let (t0, mut t1) = match (ts.first(), ts.last()) {
            (Some(a), Some(b)) => (secs(a.start_ns), secs(b.end_ns)),
            _ => (0.0, 1.0),
        };
        if t1 <= t0 {
            t1 = t0 + 1.0;
        }
        let interval_s = ts
            .first()
            .map(|r| secs(r.end_ns.saturating_sub(r.start_ns)));
        let mids = ts
            .iter()
            .map(|r| (secs(r.start_ns) + secs(r.end_ns)) / 2.0)
            .collect();
        let finite = |v: f64| v.is_finite().then_some(v);
        let p50: Vec<_> = ts
            .iter()
            .map(|r| {
                (r.deliveries > 0)
                    .then_some(r.latency_p50_ms)
                    .and_then(finite)
            })
            .collect();
        let p99: Vec<_> = ts
            .iter()
            .map(|r| {
                (r.deliveries > 0)
                    .then_some(r.latency_p99_ms)
                    .and_then(finite)
            })
            .collect();
        let ratio = ts
            .iter()
            .map(|r| r.delivery_ratio().and_then(finite))
            .collect();
        let latency_max = p50
            .iter()
            .chain(&p99)
            .flatten()
            .copied()
            .fold(0.0, f64::max);
        let faults = run
            .faults
            .iter()
            .map(|f| Fault {
                t: secs(f.time_ns),
                label: fault_label(&f.kind, &f.detail),
            })
            .filter(|f| f.t >= t0 && f.t <= t1)
            .collect();
        Timeline {
            t0,
            t1,
            interval_s,
            mids,
            p50,
            p99,
            ratio,
            latency_top: style::nice_top(latency_max * 1.05),
            faults,
            faults_total: run.faults.len(),
        }
    }

    fn labelled(&self) -> bool {
        !self.faults.is_empty() && self.faults.len() <= LABELLED_FAULTS_UP_TO
    }

    /// Draws one panel's series, with gaps where there is no value.
    fn draw_series<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Linear2d>,
        values: &[Option<f64>],
        colour: RGBColor,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let all_markers = self.mids.len() <= MARKERS_UP_TO;
        for run in runs(&self.mids, values) {
            if run.len() > 1 {
                chart.draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))?;
            }
            if all_markers || run.len() == 1 {
                chart.draw_series(run.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
            }
        }
        Ok(())
    }

    /// Dashed lines (or ticks, for many faults) across one panel.
    fn draw_faults<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Linear2d>,
        y_top: f64,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        if self.labelled() {
            let style = MUTED.stroke_width(1);
            for f in &self.faults {
                chart.draw_series(DashedLineSeries::new(
                    vec![(f.t, 0.0), (f.t, y_top)],
                    6,
                    4,
                    style,
                ))?;
            }
        } else {
            let tick = y_top * 0.05;
            let style = MUTED.mix(0.7).stroke_width(1);
            chart.draw_series(
                self.faults
                    .iter()
                    .map(|f| PathElement::new(vec![(f.t, y_top), (f.t, y_top - tick)], style)),
            )?;
        }
        Ok(())
    }
}

/// "crash node 3", shortened to [`LABEL_MAX_CHARS`].
fn fault_label(kind: &str, detail: &str) -> String {
    let full = if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} {detail}")
    };
    if full.chars().count() <= LABEL_MAX_CHARS {
        full
    } else {
        let mut s: String = full.chars().take(LABEL_MAX_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// The stretches of consecutive `Some` values, as points.
fn runs(xs: &[f64], ys: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (x, y) in xs.iter().zip(ys) {
        match y {
            Some(y) => current.push((*x, *y)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl Figure for Timeline {
    fn legend(&self) -> Vec<LegendEntry> {
        let mut e = vec![
            LegendEntry::new("latency p50", Mark::LineDot(P50)),
            LegendEntry::new("latency p99", Mark::LineDot(P99)),
            LegendEntry::new("delivery ratio", Mark::LineDot(RATIO)),
        ];
        if self.labelled() {
            e.push(LegendEntry::new(
                format!("fault ({})", self.faults.len()),
                Mark::Dashed(MUTED),
            ));
        } else if !self.faults.is_empty() {
            e.push(LegendEntry::new(
                format!("faults ({}, unlabelled)", self.faults.len()),
                Mark::Tick(MUTED),
            ));
        }
        if self.faults.len() < self.faults_total {
            e.push(LegendEntry::new(
                format!(
                    "{} faults outside the recorded time",
                    self.faults_total - self.faults.len()
                ),
                Mark::Note,
            ));
        }
        if let Some(w) = self.interval_s {
            e.push(LegendEntry::new(
                format!("per {} s interval", fmt_num(w)),
                Mark::Note,
            ));
        }
        e
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let band_h = if self.labelled() {
            LABEL_ROWS as i32 * LABEL_ROW_H + 4
        } else {
            0
        };
        let (band, panels) = area.split_vertically(band_h);
        // the plots (not the panels, the lower one holds the time axis) split 55:45
        let plots_h = panels.dim_in_pixel().1 as f64 - f64::from(X_LABEL_AREA) - 18.0;
        let top_h = 4 + (plots_h * 0.55) as i32;
        let (top, bottom) = panels.split_vertically(top_h);

        let mut lat = ChartBuilder::on(&top)
            .margin_top(4)
            .margin_right(24)
            .x_label_area_size(0)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(self.t0..self.t1, 0f64..self.latency_top)?;
        style::style_mesh(&mut lat.configure_mesh())
            .y_desc("latency (ms)")
            .x_labels(12)
            .y_labels(6)
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()?;
        self.draw_faults(&mut lat, self.latency_top)?;
        self.draw_series(&mut lat, &self.p99, P99)?;
        self.draw_series(&mut lat, &self.p50, P50)?;
        if self.mids.is_empty() {
            draw_note(
                &lat.plotting_area().strip_coord_spec(),
                "no intervals recorded",
            )?;
        } else if self.p50.iter().all(Option::is_none) {
            draw_note(&lat.plotting_area().strip_coord_spec(), "no deliveries")?;
        }

        let ratio_top = 1.05;
        let mut ratio = ChartBuilder::on(&bottom)
            .margin_top(14)
            .margin_right(24)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(self.t0..self.t1, 0f64..ratio_top)?;
        style::style_mesh(&mut ratio.configure_mesh())
            .x_desc("time (s)")
            .y_desc("delivery ratio (0–1)")
            .x_labels(12)
            .y_labels(6)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()?;
        self.draw_faults(&mut ratio, ratio_top)?;
        self.draw_series(&mut ratio, &self.ratio, RATIO)?;
        if !self.mids.is_empty() && self.ratio.iter().all(Option::is_none) {
            draw_note(
                &ratio.plotting_area().strip_coord_spec(),
                "no messages sent",
            )?;
        }

        if self.labelled() {
            self.draw_fault_labels(&band, &lat)?;
        }
        Ok(())
    }
}

impl Timeline {
    /// Fault labels in the band above the top panel, each starting at its
    /// line. Labels are placed in time order, each in the highest row where it
    /// overlaps no other label and its leader line, which runs down through
    /// the rows below, crosses no label. (Earlier leaders are left of every
    /// later label, so a later label never covers them.) A label is left out
    /// when no row has room; its line stays.
    fn draw_fault_labels<DB: DrawingBackend>(
        &self,
        band: &DrawingArea<DB, Shift>,
        lat: &ChartContext<'_, DB, Linear2d>,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let font = style::text(size::NOTE, MUTED);
        let base = band.get_base_pixel();
        let (band_w, band_h) = band.dim_in_pixel();
        let mut row_end = [i32::MIN; LABEL_ROWS];
        let mut faults: Vec<&Fault> = self.faults.iter().collect();
        faults.sort_by(|a, b| a.t.total_cmp(&b.t));
        for f in faults {
            let (px, _) = lat.backend_coord(&(f.t, self.latency_top));
            let x = px - base.0;
            let (w, _) = band.estimate_text_size(&f.label, &font)?;
            let w = w as i32;
            // left-aligned after the line, or right-aligned before it near the right edge
            let (start, anchor_x, h) = if x + 4 + w <= band_w as i32 {
                (x + 4, x + 4, HPos::Left)
            } else {
                (x - 4 - w, x - 4, HPos::Right)
            };
            let free =
                |r: usize| start > row_end[r] + 8 && row_end[..r].iter().all(|&end| end + 4 < x);
            let Some(row) = (0..LABEL_ROWS).rev().find(|&r| free(r)) else {
                continue;
            };
            row_end[row] = start + w;
            let y = band_h as i32 - (row as i32 + 1) * LABEL_ROW_H;
            band.draw_text(&f.label, &font.pos(Pos::new(h, VPos::Top)), (anchor_x, y))?;
            // a short leader from the label row down to the plot
            band.draw(&PathElement::new(
                vec![(x, y + 2), (x, band_h as i32)],
                MUTED.stroke_width(1),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_series() {
        let xs = [0.5, 1.5, 2.5, 3.5, 4.5];
        let ys = [Some(1.0), None, Some(2.0), Some(3.0), None];
        assert_eq!(
            runs(&xs, &ys),
            vec![vec![(0.5, 1.0)], vec![(2.5, 2.0), (3.5, 3.0)]]
        );
    }

    #[test]
    fn long_fault_labels_are_shortened() {
        assert_eq!(fault_label("crash", "node 3"), "crash node 3");
        assert_eq!(fault_label("heal", ""), "heal");
        let long = fault_label("partition", "nodes 1, 2, 3, 4, 5, 6, 7, 8, 9 | rest");
        assert_eq!(long.chars().count(), LABEL_MAX_CHARS);
        assert!(long.ends_with('…'));
    }
}
