//! One per-node figure, nodes sorted busiest first: what the `node_load` and
//! `energy` charts draw, kept in one place so both read the same way.
//!
//! Bars are coloured by node group; beyond [`BARS_UP_TO`] nodes the sorted
//! values are one line (bars a pixel wide would only alias). The mean is a
//! dashed line, and the legend says what share of the total the busiest tenth
//! of the nodes account for. When the values span more than two decades the
//! value axis is logarithmic.

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::render::{draw_note, DrawResult, LegendEntry, Mark};
use super::style::{self, fmt_num, Ticked, INK, MEAN};
use super::{GroupColours, X_LABEL_AREA, Y_LABEL_AREA};
use crate::data::NodeRow;

/// Up to this many nodes each is a bar; beyond, the sorted values are a line.
pub(super) const BARS_UP_TO: usize = 300;
/// A line is drawn through at most this many ranks.
const LINE_POINTS: usize = 1000;

/// What a ranked figure measures, in the words of its axes and legend:
/// "bytes sent", "energy spent".
#[derive(Clone, Copy, Debug)]
pub(super) struct Quantity {
    /// What a node has more or less of: "bytes", "energy".
    pub(super) noun: &'static str,
    /// What it did with it: "sent", "spent".
    pub(super) verb: &'static str,
    /// The unit's symbol, which SI prefixes go in front of: "B", "J".
    pub(super) symbol: &'static str,
    /// Whether every value is a whole number of the unit, so that an axis in
    /// the unit itself gets whole-number ticks.
    pub(super) whole: bool,
}

enum YAxis {
    /// Linear from 0 to at least `max`, in units of `unit` (named
    /// `unit_name`).
    Linear {
        max: f64,
        unit: f64,
        unit_name: String,
    },
    /// Logarithmic, whole decades.
    Log { lo: f64, hi: f64 },
}

/// Per-node values of one [`Quantity`], busiest first.
pub(super) struct Ranked {
    quantity: Quantity,
    /// `(value, node, colour)`, largest first, ties by node id.
    values: Vec<(f64, u32, RGBColor)>,
    /// `(group, colour, nodes)` in name order.
    groups: Vec<(String, RGBColor, usize)>,
    y: YAxis,
    mean: f64,
    /// Share of the total the busiest tenth account for, and how many nodes
    /// that is.
    head_share: Option<(usize, f64)>,
    zero_nodes: usize,
}

impl Ranked {
    /// Ranks `rows`, each a node and its value.
    pub(super) fn new<'a>(
        quantity: Quantity,
        rows: impl IntoIterator<Item = (&'a NodeRow, f64)>,
        colours: &GroupColours,
    ) -> Self {
        let rows: Vec<(&NodeRow, f64)> = rows.into_iter().collect();
        let mut values: Vec<(f64, u32, RGBColor)> = rows
            .iter()
            .map(|&(n, v)| (v, n.node, colours.get(&n.group)))
            .collect();
        values.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut groups: Vec<(String, RGBColor, usize)> = Vec::new();
        for name in colours.names() {
            let count = rows.iter().filter(|(n, _)| &n.group == name).count();
            if count > 0 {
                groups.push((name.clone(), colours.get(name), count));
            }
        }
        let total: f64 = values.iter().map(|v| v.0).sum();
        let n = values.len();
        let max = values.first().map_or(0.0, |v| v.0);
        let min_pos = values
            .iter()
            .map(|v| v.0)
            .filter(|&v| v > 0.0)
            .min_by(f64::total_cmp);
        let y = match min_pos {
            Some(min_pos) if max / min_pos > 100.0 => {
                // just below the smallest value, so its bar has a height
                let (lo, hi) = style::log_bounds(min_pos * 0.99, max);
                YAxis::Log { lo, hi }
            }
            _ => {
                let (unit, prefix) = axis_unit(max);
                YAxis::Linear {
                    max: max / unit,
                    unit,
                    unit_name: format!("{prefix}{}", quantity.symbol),
                }
            }
        };
        let head_share = (total > 0.0 && n > 0).then(|| {
            let k = n.div_ceil(10);
            let head: f64 = values[..k].iter().map(|v| v.0).sum();
            (k, head / total)
        });
        Ranked {
            quantity,
            zero_nodes: values.iter().filter(|v| v.0 == 0.0).count(),
            mean: if n == 0 { 0.0 } else { total / n as f64 },
            values,
            groups,
            y,
            head_share,
        }
    }

    /// How many nodes are ranked.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The nodes' ids, busiest first.
    pub(super) fn nodes(&self) -> impl Iterator<Item = u32> + '_ {
        self.values.iter().map(|v| v.1)
    }

    /// Whether each node is a bar (else the values are one line).
    pub(super) fn bars(&self) -> bool {
        self.values.len() <= BARS_UP_TO
    }

    /// "bytes sent".
    fn measure(&self) -> String {
        format!("{} {}", self.quantity.noun, self.quantity.verb)
    }

    /// The label of the rank axis.
    pub(super) fn rank_desc(&self) -> String {
        format!("node rank (1 = most {})", self.measure())
    }

    /// `v` in the quantity's unit, SI-prefixed, three significant digits.
    fn fmt_value(&self, v: f64) -> String {
        fmt_si(v, self.quantity.symbol)
    }

    /// The legend: the groups (or the line), the mean, then `panel` (the
    /// entries of a panel drawn with this one, placed before the notes so
    /// that a legend cut short keeps them), the busiest tenth's share and,
    /// on a log axis, the nodes at zero it cannot show.
    pub(super) fn legend(&self, panel: Vec<LegendEntry>) -> Vec<LegendEntry> {
        let mut e = Vec::new();
        if self.values.is_empty() {
            return vec![LegendEntry::new("no nodes", Mark::Note)];
        }
        if self.bars() {
            for (name, colour, count) in &self.groups {
                let s = if *count == 1 { "" } else { "s" };
                e.push(LegendEntry::new(
                    format!("{name} ({count} node{s})"),
                    Mark::Bar(*colour),
                ));
            }
        } else {
            e.push(LegendEntry::new(
                format!("nodes (n = {})", self.values.len()),
                Mark::Line(INK),
            ));
        }
        e.push(LegendEntry::new(
            format!("mean = {}", self.fmt_value(self.mean)),
            Mark::Dashed(MEAN),
        ));
        e.extend(panel);
        let Quantity { noun, verb, .. } = self.quantity;
        if let Some((k, share)) = self.head_share {
            let who = if k == 1 {
                "busiest node".to_string()
            } else {
                format!("busiest {k} nodes (10 %)")
            };
            e.push(LegendEntry::new(
                format!(
                    "{who} {verb} {} % of {noun}",
                    style::trim_decimals(share * 100.0, 3)
                ),
                Mark::Note,
            ));
        }
        if self.zero_nodes > 0 && matches!(self.y, YAxis::Log { .. }) {
            let (n, s) = (
                self.zero_nodes,
                if self.zero_nodes == 1 {
                    " node"
                } else {
                    " nodes"
                },
            );
            e.push(LegendEntry::new(
                format!("{n}{s} {verb} nothing (not shown)"),
                Mark::Note,
            ));
        }
        e
    }

    /// Draws the ranked values into `area`; with `rank_labels` false the rank
    /// axis has no labels (a panel below it carries them).
    pub(super) fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        rank_labels: bool,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let measure = self.measure();
        match &self.y {
            // whole units get whole-number ticks
            YAxis::Linear {
                max,
                unit,
                unit_name,
            } if *unit == 1.0 && self.quantity.whole => self.draw_on(
                area,
                rank_labels,
                style::count_axis(*max),
                &format!("{measure} ({unit_name})"),
                *unit,
                &|v: &f64| fmt_num(*v),
            ),
            YAxis::Linear {
                max,
                unit,
                unit_name,
            } => self.draw_on(
                area,
                rank_labels,
                RangedCoordf64::from(0f64..style::nice_top(*max)),
                &format!("{measure} ({unit_name})"),
                *unit,
                &|v: &f64| fmt_num(*v),
            ),
            YAxis::Log { lo, hi } => self.draw_on(
                area,
                rank_labels,
                style::log_axis(*lo, *hi),
                &format!("{measure} (log scale)"),
                1.0,
                &|v: &f64| self.fmt_value(*v),
            ),
        }
    }

    fn draw_on<DB: DrawingBackend, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        rank_labels: bool,
        y: Y,
        y_desc: &str,
        scale: f64,
        fmt: &dyn Fn(&f64) -> String,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let n = self.values.len().max(1);
        let floor = y.range().start;
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(24)
            .x_label_area_size(if rank_labels { X_LABEL_AREA } else { 0 })
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(rank_axis(n), y)?;
        let rank_desc = self.rank_desc();
        let mut mesh = chart.configure_mesh();
        style::style_mesh(&mut mesh)
            .disable_x_mesh()
            .y_desc(y_desc)
            .y_labels(7)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(fmt);
        if rank_labels {
            mesh.x_desc(rank_desc);
        }
        mesh.draw()?;
        if self.values.is_empty() {
            return draw_note(&chart.plotting_area().strip_coord_spec(), "no nodes");
        }
        if self.mean == 0.0 {
            return draw_note(
                &chart.plotting_area().strip_coord_spec(),
                &format!("no {}", self.measure()),
            );
        }
        let value = |v: f64| (v / scale).max(floor);
        if self.bars() {
            // thin bars get no gap, so hundreds of nodes still read as a profile
            let half = if n > 60 { 0.5 } else { 0.4 };
            chart.draw_series(
                self.values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.0 > 0.0)
                    .map(|(i, &(v, _, c))| {
                        let r = (i + 1) as f64;
                        Rectangle::new([(r - half, floor), (r + half, value(v))], c.filled())
                    }),
            )?;
        } else {
            let m = LINE_POINTS.min(n);
            let pts = (0..m).map(|k| {
                let i = if m == 1 { 0 } else { k * (n - 1) / (m - 1) };
                ((i + 1) as f64, value(self.values[i].0))
            });
            chart.draw_series(LineSeries::new(pts, INK.stroke_width(2)))?;
        }
        let mean = (self.mean / scale).max(floor);
        chart.draw_series(DashedLineSeries::new(
            vec![(0.4, mean), (n as f64 + 0.6, mean)],
            8,
            5,
            MEAN.stroke_width(2),
        ))?;
        Ok(())
    }
}

/// The rank axis of `n` nodes (at least 1): rank 1 gets a tick of its own
/// unless the next tick would crowd it. A panel drawn under a [`Ranked`] one
/// uses it too, so both line up.
pub(super) fn rank_axis(n: usize) -> Ticked<RangedCoordf64> {
    let step = style::integer_step(n as u64, 16);
    let first = if step >= 5 { Some(1) } else { None };
    let ticks: Vec<f64> = first
        .into_iter()
        .chain((1..=n as u64).filter(|r| r % step == 0))
        .map(|r| r as f64)
        .collect();
    style::linear_axis(0.4, n as f64 + 0.6, ticks)
}

/// The unit (a power of a thousand) and its SI prefix that write `max` with
/// at most four digits.
fn axis_unit(max: f64) -> (f64, &'static str) {
    if max >= 1e10 {
        (1e9, "G")
    } else if max >= 1e7 {
        (1e6, "M")
    } else if max >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    }
}

/// `v` with an SI prefix and `symbol`, three significant digits: "42.5 kB".
pub(super) fn fmt_si(v: f64, symbol: &str) -> String {
    let (unit, prefix) = if v >= 1e9 {
        (1e9, "G")
    } else if v >= 1e6 {
        (1e6, "M")
    } else if v >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    format!("{} {prefix}{symbol}", style::trim_decimals(v / unit, 3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::node_load::BYTES_SENT;
    use crate::data::sample_run;

    #[test]
    fn values_are_sorted_and_the_head_share_is_reported() {
        let run = sample_run();
        let bytes = run.nodes.iter().map(|n| (n, n.bytes_sent as f64));
        let load = Ranked::new(BYTES_SENT, bytes, &GroupColours::from_run(&run));
        let values: Vec<f64> = load.values.iter().map(|v| v.0).collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(values[0], 121_000.0);
        // nodes 0..12 send 1000·n² bytes: the busiest two (11, 10) send 221 of 506 k
        let (k, share) = load.head_share.unwrap();
        assert_eq!(k, 2);
        assert!((share - 221.0 / 506.0).abs() < 1e-12);
        // 1 kB to 121 kB spans more than two decades; the axis starts a
        // decade below the smallest load, which is a whole decade
        assert!(matches!(load.y, YAxis::Log { lo, hi } if lo == 100.0 && hi == 1e6));
        assert_eq!(load.rank_desc(), "node rank (1 = most bytes sent)");
    }

    #[test]
    fn values_are_written_with_units() {
        assert_eq!(fmt_si(0.0, "B"), "0 B");
        assert_eq!(fmt_si(42_500.0, "B"), "42.5 kB");
        assert_eq!(fmt_si(1e6, "B"), "1 MB");
        assert_eq!(fmt_si(0.125, "J"), "0.125 J");
        assert_eq!(axis_unit(5_000.0), (1.0, ""));
        assert_eq!(axis_unit(50_000.0), (1e3, "k"));
    }
}
