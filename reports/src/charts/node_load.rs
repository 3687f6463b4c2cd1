//! `node_load`: bytes sent per node, busiest first.
//!
//! Sorting the nodes by load turns a table of thousands of rows into one
//! shape: a flat profile means the protocol spreads its work, a steep head
//! means hot spots (a hub of a scale-free topology, a DHT node that owns a
//! popular key, a relay everyone routes through). Bars are coloured by node
//! group, with the same colours as the latency CDF; the legend says what share
//! of all bytes the busiest tenth of the nodes sent and where the mean lies.
//! When loads span more than two decades the byte axis is logarithmic.

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::render::{draw_note, DrawResult, Figure, LegendEntry, Mark};
use super::style::{self, fmt_num, INK, MEAN};
use super::{GroupColours, X_LABEL_AREA, Y_LABEL_AREA};
use crate::data::RunData;

/// The chart's file stem.
pub(crate) const NAME: &str = "node_load";
/// The chart's title.
pub(crate) const TITLE: &str = "Bytes sent per node (busiest first)";

/// Up to this many nodes each is a bar; beyond, the sorted loads are a line.
const BARS_UP_TO: usize = 300;
/// A line is drawn through at most this many ranks.
const LINE_POINTS: usize = 1000;

enum YAxis {
    /// Linear from 0 to at least `max`, in units of `unit` bytes (named
    /// `unit_name`).
    Linear {
        max: f64,
        unit: f64,
        unit_name: &'static str,
    },
    /// Logarithmic in bytes, whole decades.
    Log { lo: f64, hi: f64 },
}

/// The per-node load of a run.
pub(crate) struct NodeLoad {
    /// `(bytes sent, colour)`, busiest first.
    loads: Vec<(u64, RGBColor)>,
    /// `(group, colour, nodes)` in name order.
    groups: Vec<(String, RGBColor, usize)>,
    y: YAxis,
    mean: f64,
    /// Share of all bytes the busiest tenth sent, and how many nodes that is.
    head_share: Option<(usize, f64)>,
    zero_nodes: usize,
}

impl NodeLoad {
    pub(crate) fn from_run(run: &RunData, colours: &GroupColours) -> Self {
        let mut nodes: Vec<(u64, u32, RGBColor)> = run
            .nodes
            .iter()
            .map(|n| (n.bytes_sent, n.node, colours.get(&n.group)))
            .collect();
        nodes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let loads: Vec<(u64, RGBColor)> = nodes.iter().map(|&(b, _, c)| (b, c)).collect();
        let mut groups: Vec<(String, RGBColor, usize)> = Vec::new();
        for name in colours.names() {
            let count = run.nodes.iter().filter(|n| &n.group == name).count();
            if count > 0 {
                groups.push((name.clone(), colours.get(name), count));
            }
        }
        let total: u64 = loads.iter().map(|l| l.0).sum();
        let n = loads.len();
        let max = loads.first().map_or(0, |l| l.0) as f64;
        let min_pos = loads
            .iter()
            .map(|l| l.0)
            .filter(|&b| b > 0)
            .min()
            .map(|b| b as f64);
        let y = match min_pos {
            Some(min_pos) if max / min_pos > 100.0 => {
                // just below the smallest load, so its bar has a height
                let (lo, hi) = style::log_bounds(min_pos * 0.99, max);
                YAxis::Log { lo, hi }
            }
            _ => {
                let (unit, unit_name) = byte_unit(max);
                YAxis::Linear {
                    max: max / unit,
                    unit,
                    unit_name,
                }
            }
        };
        let head_share = (total > 0 && n > 0).then(|| {
            let k = n.div_ceil(10);
            let head: u64 = loads[..k].iter().map(|l| l.0).sum();
            (k, head as f64 / total as f64)
        });
        NodeLoad {
            zero_nodes: loads.iter().filter(|l| l.0 == 0).count(),
            mean: if n == 0 { 0.0 } else { total as f64 / n as f64 },
            loads,
            groups,
            y,
            head_share,
        }
    }

    fn bars(&self) -> bool {
        self.loads.len() <= BARS_UP_TO
    }

    fn draw_on<DB: DrawingBackend, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        y: Y,
        y_desc: &str,
        scale: f64,
        fmt: &dyn Fn(&f64) -> String,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let n = self.loads.len().max(1);
        let floor = y.range().start;
        // rank 1 gets a tick of its own unless the next tick would crowd it
        let step = style::integer_step(n as u64, 16);
        let first = if step >= 5 { Some(1) } else { None };
        let ticks: Vec<f64> = first
            .into_iter()
            .chain((1..=n as u64).filter(|r| r % step == 0))
            .map(|r| r as f64)
            .collect();
        let x = style::linear_axis(0.4, n as f64 + 0.6, ticks);
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(24)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x, y)?;
        style::style_mesh(&mut chart.configure_mesh())
            .disable_x_mesh()
            .x_desc("node rank (1 = most bytes sent)")
            .y_desc(y_desc)
            .y_labels(7)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(fmt)
            .draw()?;
        if self.loads.is_empty() {
            return draw_note(&chart.plotting_area().strip_coord_spec(), "no nodes");
        }
        if self.mean == 0.0 {
            return draw_note(&chart.plotting_area().strip_coord_spec(), "no bytes sent");
        }
        let value = |b: u64| (b as f64 / scale).max(floor);
        if self.bars() {
            // thin bars get no gap, so hundreds of nodes still read as a profile
            let half = if n > 60 { 0.5 } else { 0.4 };
            chart.draw_series(self.loads.iter().enumerate().filter(|(_, l)| l.0 > 0).map(
                |(i, &(b, c))| {
                    let r = (i + 1) as f64;
                    Rectangle::new([(r - half, floor), (r + half, value(b))], c.filled())
                },
            ))?;
        } else {
            let m = LINE_POINTS.min(n);
            let pts = (0..m).map(|k| {
                let i = if m == 1 { 0 } else { k * (n - 1) / (m - 1) };
                ((i + 1) as f64, value(self.loads[i].0))
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

/// The unit that writes `max` bytes with at most four digits.
fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1e10 {
        (1e9, "GB")
    } else if max >= 1e7 {
        (1e6, "MB")
    } else if max >= 1e4 {
        (1e3, "kB")
    } else {
        (1.0, "B")
    }
}

/// `v` bytes with a unit, three significant digits: "42.5 kB".
fn fmt_bytes(v: f64) -> String {
    let (unit, name) = if v >= 1e9 {
        (1e9, "GB")
    } else if v >= 1e6 {
        (1e6, "MB")
    } else if v >= 1e3 {
        (1e3, "kB")
    } else {
        (1.0, "B")
    };
    format!("{} {name}", style::trim_decimals(v / unit, 3))
}

impl Figure for NodeLoad {
    fn legend(&self) -> Vec<LegendEntry> {
        let mut e = Vec::new();
        if self.loads.is_empty() {
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
                format!("nodes (n = {})", self.loads.len()),
                Mark::Line(INK),
            ));
        }
        e.push(LegendEntry::new(
            format!("mean = {}", fmt_bytes(self.mean)),
            Mark::Dashed(MEAN),
        ));
        if let Some((k, share)) = self.head_share {
            let who = if k == 1 {
                "busiest node".to_string()
            } else {
                format!("busiest {k} nodes (10 %)")
            };
            e.push(LegendEntry::new(
                format!(
                    "{who} sent {} % of bytes",
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
                format!("{n}{s} sent nothing (not shown)"),
                Mark::Note,
            ));
        }
        e
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        match self.y {
            // whole bytes get whole-number ticks
            YAxis::Linear {
                max,
                unit,
                unit_name,
            } if unit == 1.0 => self.draw_on(
                area,
                style::count_axis(max),
                &format!("bytes sent ({unit_name})"),
                unit,
                &|v: &f64| fmt_num(*v),
            ),
            YAxis::Linear {
                max,
                unit,
                unit_name,
            } => self.draw_on(
                area,
                RangedCoordf64::from(0f64..style::nice_top(max)),
                &format!("bytes sent ({unit_name})"),
                unit,
                &|v: &f64| fmt_num(*v),
            ),
            YAxis::Log { lo, hi } => self.draw_on(
                area,
                style::log_axis(lo, hi),
                "bytes sent (log scale)",
                1.0,
                &|v: &f64| fmt_bytes(*v),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    #[test]
    fn loads_are_sorted_and_the_head_share_is_reported() {
        let run = sample_run();
        let load = NodeLoad::from_run(&run, &GroupColours::from_run(&run));
        let bytes: Vec<u64> = load.loads.iter().map(|l| l.0).collect();
        assert!(bytes.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(bytes[0], 121_000);
        // nodes 0..12 send 1000·n² bytes: the busiest two (11, 10) send 221 of 506 k
        let (k, share) = load.head_share.unwrap();
        assert_eq!(k, 2);
        assert!((share - 221.0 / 506.0).abs() < 1e-12);
        // 1 kB to 121 kB spans more than two decades; the axis starts a
        // decade below the smallest load, which is a whole decade
        assert!(matches!(load.y, YAxis::Log { lo, hi } if lo == 100.0 && hi == 1e6));
    }

    #[test]
    fn bytes_are_written_with_units() {
        assert_eq!(fmt_bytes(0.0), "0 B");
        assert_eq!(fmt_bytes(42_500.0), "42.5 kB");
        assert_eq!(fmt_bytes(1e6), "1 MB");
        assert_eq!(byte_unit(5_000.0), (1.0, "B"));
        assert_eq!(byte_unit(50_000.0), (1e3, "kB"));
    }
}
