//! `latency_cdf`: the distribution of delivery latency, one curve per
//! destination group.
//!
//! A CDF shows the whole distribution at once — the median, the tail and
//! how they differ between groups (a far group, a constrained group) — where
//! a mean or a single percentile hides the tail. Deliveries are grouped by the
//! group of the node they were delivered at; with more than one group an
//! "all destinations" curve is added. Dashed guides mark p50 and p99. When
//! latencies span more than two decades the latency axis is logarithmic, so
//! both the bulk and the tail stay readable.

use std::collections::BTreeMap;

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{draw_note, DrawResult, Figure, LegendEntry, Mark};
use super::style::{self, fmt_num, size, INK, MUTED};
use super::{GroupColours, X_LABEL_AREA, Y_LABEL_AREA};
use crate::data::RunData;

/// The chart's file stem.
pub(crate) const NAME: &str = "latency_cdf";
/// The chart's title.
pub(crate) const TITLE: &str = "Delivery latency distribution (CDF by destination group)";

/// Above this many deliveries a curve is drawn through 1001 quantiles rather
/// than as an exact step function, which keeps the SVG small.
const EXACT_STEPS_UP_TO: usize = 2000;
const QUANTILES: usize = 1000;

struct Curve {
    label: String,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

enum XAxis {
    Linear { max: f64 },
    Log { lo: f64, hi: f64 },
}

/// The latency CDF of a run.
pub(crate) struct LatencyCdf {
    curves: Vec<Curve>,
    x: XAxis,
}

impl LatencyCdf {
    pub(crate) fn from_run(run: &RunData, colours: &GroupColours) -> Self {
        // Millions of deliveries: each finds its group by the destination's
        // index into a table, not by a search of node ids and group names.
        let mut names: Vec<&str> = run.nodes.iter().map(|n| n.group.as_str()).collect();
        names.push(super::UNKNOWN_GROUP);
        names.sort_unstable();
        names.dedup();
        let unknown = names.binary_search(&super::UNKNOWN_GROUP).expect("pushed");
        let mut group_of = vec![
            unknown;
            run.nodes
                .iter()
                .map(|n| n.node as usize + 1)
                .max()
                .unwrap_or(0)
        ];
        for n in &run.nodes {
            group_of[n.node as usize] = names.binary_search(&n.group.as_str()).expect("listed");
        }
        let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        let mut all = Vec::with_capacity(run.deliveries.len());
        for d in &run.deliveries {
            if d.latency_ms.is_finite() && d.latency_ms >= 0.0 {
                let group = group_of
                    .get(d.destination as usize)
                    .copied()
                    .unwrap_or(unknown);
                latencies[group].push(d.latency_ms);
                all.push(d.latency_ms);
            }
        }
        let by_group: BTreeMap<&str, Vec<f64>> = names
            .into_iter()
            .zip(latencies)
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let max = all.iter().copied().fold(0.0, f64::max);
        let min_pos = all
            .iter()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let x = if min_pos.is_finite() && max / min_pos > 100.0 {
            let (lo, hi) = style::log_bounds(min_pos, max);
            XAxis::Log { lo, hi }
        } else {
            XAxis::Linear {
                max: style::nice_top(max),
            }
        };
        let several = by_group.len() > 1;
        let mut curves: Vec<Curve> = by_group
            .into_iter()
            .map(|(group, mut v)| Curve {
                label: format!("{group} (n = {})", v.len()),
                colour: colours.get(group),
                points: cdf_points(&mut v),
            })
            .collect();
        if several {
            let n = all.len();
            curves.push(Curve {
                label: format!("all destinations (n = {n})"),
                colour: INK,
                points: cdf_points(&mut all),
            });
        }
        LatencyCdf { curves, x }
    }

    fn draw_on<DB: DrawingBackend, X>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x: X,
        x_desc: &str,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let (x_lo, x_hi) = (x.range().start, x.range().end);
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(48)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x, 0f64..1f64)?;
        style::style_mesh(&mut chart.configure_mesh())
            .x_desc(x_desc)
            .y_desc("deliveries with latency ≤ x (%)")
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(v * 100.0))
            .draw()?;

        if self.curves.is_empty() {
            return draw_note(&chart.plotting_area().strip_coord_spec(), "no deliveries");
        }
        // p50 and p99 guides, labelled in the right margin
        let guide = MUTED.mix(0.8).stroke_width(1);
        let base = area.get_base_pixel();
        for (p, label) in [(0.5, "p50"), (0.99, "p99")] {
            chart.draw_series(DashedLineSeries::new(
                vec![(x_lo, p), (x_hi, p)],
                6,
                5,
                guide,
            ))?;
            let (px, py) = chart.backend_coord(&(x_hi, p));
            let font = style::text(size::NOTE, MUTED).pos(Pos::new(HPos::Left, VPos::Center));
            area.draw_text(label, &font, (px - base.0 + 6, py - base.1))?;
        }
        // the "all" curve (last) underneath the groups' curves
        let (groups, all) = if self.curves.len() > 1 {
            self.curves.split_at(self.curves.len() - 1)
        } else {
            (&self.curves[..], &[][..])
        };
        for c in all.iter().chain(groups) {
            let pts = c.points.iter().map(|&(v, p)| (v.clamp(x_lo, x_hi), p));
            chart.draw_series(LineSeries::new(pts, c.colour.stroke_width(2)))?;
        }
        Ok(())
    }
}

/// The CDF of `v` as a polyline: exact steps for small samples, the
/// quantiles at 0, 0.001, …, 1 for large ones. Sorts `v`.
fn cdf_points(v: &mut [f64]) -> Vec<(f64, f64)> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let nf = n as f64;
    if n <= EXACT_STEPS_UP_TO {
        // at each distinct value the CDF jumps from the share below it to
        // the share at or below it
        let mut pts = Vec::with_capacity(2 * n);
        let mut below = 0;
        for (i, &x) in v.iter().enumerate() {
            if i + 1 == n || v[i + 1] != x {
                pts.push((x, below as f64 / nf));
                pts.push((x, (i + 1) as f64 / nf));
                below = i + 1;
            }
        }
        pts
    } else {
        (0..=QUANTILES)
            .map(|k| {
                let p = k as f64 / QUANTILES as f64;
                let idx = ((p * nf).ceil() as usize).clamp(1, n) - 1;
                (v[idx], p)
            })
            .collect()
    }
}

impl Figure for LatencyCdf {
    fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = self
            .curves
            .iter()
            .map(|c| LegendEntry::new(c.label.clone(), Mark::Line(c.colour)))
            .collect();
        if entries.is_empty() {
            entries.push(LegendEntry::new("no deliveries", Mark::Note));
        }
        entries
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        match self.x {
            XAxis::Linear { max } => {
                self.draw_on(area, RangedCoordf64::from(0f64..max), "latency (ms)")
            }
            XAxis::Log { lo, hi } => {
                self.draw_on(area, style::log_axis(lo, hi), "latency (ms, log scale)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_samples_are_exact_steps() {
        let pts = cdf_points(&mut [3.0, 1.0, 1.0, 2.0]);
        assert_eq!(
            pts,
            vec![
                (1.0, 0.0),
                (1.0, 0.5),
                (2.0, 0.5),
                (2.0, 0.75),
                (3.0, 0.75),
                (3.0, 1.0)
            ]
        );
    }

    #[test]
    fn large_samples_are_quantiles() {
        let mut v: Vec<f64> = (0..10_000).map(f64::from).collect();
        let pts = cdf_points(&mut v);
        assert_eq!(pts.len(), QUANTILES + 1);
        assert_eq!(pts[0], (0.0, 0.0));
        assert_eq!(pts[500], (4999.0, 0.5));
        assert_eq!(*pts.last().unwrap(), (9999.0, 1.0));
    }
}
