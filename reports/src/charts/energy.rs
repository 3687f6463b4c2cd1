//! `energy`: energy spent per node, busiest first, and the charge each
//! battery had left at the end.
//!
//! Where a scenario models batteries (phones over a BLE mesh), the questions
//! are who pays for the protocol's work and whether they last: a relay that
//! carries everyone's traffic drains first, and a node whose battery runs out
//! goes down for good, which the delivery figures show only indirectly.
//!
//! The upper panel is drawn as `node_load` is ([`Ranked`]: bars by group, the
//! mean, the busiest tenth's share). The lower panel, on the same ranks,
//! shows each node's state of charge at the end as a dot in its group's
//! colour, and a cross at 0 % for each battery that ran out, so drain can be
//! read against work node by node. Beyond
//! [`BARS_UP_TO`](super::ranked::BARS_UP_TO) nodes dots would
//! pile into a smear, so the lower panel shows instead, for each of
//! [`CHARGE_BINS`] runs of consecutive ranks, the mean charge as a line and
//! the lowest to highest as a band, and the legend counts the emptied
//! batteries.
//!
//! Nodes that model no energy are left out; a run in which none does has no
//! energy chart at all (see [`Energy::from_run`]).

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::ranked::{rank_axis, Quantity, Ranked};
use super::render::{draw_note, DrawResult, Figure, LegendEntry, Mark};
use super::style::{self, fmt_num, INK, MUTED};
use super::{GroupColours, X_LABEL_AREA, Y_LABEL_AREA};
use crate::data::{NodeRow, RunData};

/// The chart's file stem.
pub(crate) const NAME: &str = "energy";
/// The chart's title.
pub(crate) const TITLE: &str = "Energy spent per node (busiest first)";

/// Energy spent, in joules (fractions of one included).
const ENERGY_SPENT: Quantity = Quantity {
    noun: "energy",
    verb: "spent",
    symbol: "J",
    whole: false,
};

/// Beyond [`BARS_UP_TO`](super::ranked::BARS_UP_TO) nodes, the charge panel summarises at most this many
/// runs of consecutive ranks (a few pixels each).
const CHARGE_BINS: usize = 200;
/// The energy panel's share of the height of the two plots.
const SPENT_SHARE: f64 = 0.6;
/// The charge axis runs a little past 100 %, so a full battery's dot is not
/// cut by the frame.
const CHARGE_TOP: f64 = 105.0;

/// The energy of a run's nodes.
pub(crate) struct Energy {
    /// Energy spent by the nodes that model it.
    spent: Ranked,
    /// Each ranked node's state of charge at the end in % (where nodes.csv
    /// has it) and its group's colour, busiest first.
    charge: Vec<(Option<f64>, RGBColor)>,
    /// Ranked nodes whose battery ran out.
    emptied: usize,
    /// Nodes that model no energy, not drawn.
    unmodelled: usize,
}

/// Charge over a run of ranks: `(centre rank, lowest, mean, highest)` in %.
type ChargeBin = (f64, f64, f64, f64);

impl Energy {
    /// The energy chart of a run, or `None` when no node models energy: such
    /// a run keeps the charts it always had.
    pub(crate) fn from_run(run: &RunData, colours: &GroupColours) -> Option<Self> {
        let modelled: Vec<(&NodeRow, f64)> = run
            .nodes
            .iter()
            .filter_map(|n| n.energy_j.map(|e| (n, e)))
            .collect();
        if modelled.is_empty() {
            return None;
        }
        let unmodelled = run.nodes.len() - modelled.len();
        let by_id: BTreeMap<u32, &NodeRow> = modelled.iter().map(|&(n, _)| (n.node, n)).collect();
        let spent = Ranked::new(ENERGY_SPENT, modelled, colours);
        let ranked: Vec<&NodeRow> = spent.nodes().map(|id| by_id[&id]).collect();
        Some(Energy {
            charge: ranked
                .iter()
                .map(|n| (n.battery.map(|b| 100.0 * b), colours.get(&n.group)))
                .collect(),
            emptied: ranked.iter().filter(|n| n.battery_emptied()).count(),
            spent,
            unmodelled,
        })
    }

    /// How many consecutive ranks one bin of the charge panel holds, so
    /// that there are at most [`CHARGE_BINS`] bins.
    fn bin_width(&self) -> usize {
        self.charge.len().div_ceil(CHARGE_BINS).max(1)
    }

    /// The charge of runs of [`Energy::bin_width`] consecutive ranks (the
    /// last may be shorter); runs with no charge figure are left out.
    fn charge_bins(&self) -> Vec<ChargeBin> {
        let width = self.bin_width();
        self.charge
            .chunks(width)
            .enumerate()
            .filter_map(|(k, bin)| {
                let values: Vec<f64> = bin.iter().filter_map(|c| c.0).collect();
                if values.is_empty() {
                    return None;
                }
                let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                // ranks k·width + 1 ..= k·width + len
                let centre = (k * width) as f64 + (bin.len() + 1) as f64 / 2.0;
                Some((centre, min, mean, max))
            })
            .collect()
    }

    /// The lower panel: charge at the end on the ranks of the upper one.
    fn draw_charge<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(area)
            .margin_top(14)
            .margin_right(24)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                rank_axis(self.spent.len()),
                style::linear_axis(0.0, CHARGE_TOP, vec![0.0, 50.0, 100.0]),
            )?;
        style::style_mesh(&mut chart.configure_mesh())
            .disable_x_mesh()
            .x_desc(self.spent.rank_desc())
            .y_desc("charge at end (%)")
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()?;
        if self.charge.iter().all(|c| c.0.is_none()) {
            return draw_note(
                &chart.plotting_area().strip_coord_spec(),
                "no battery figures",
            );
        }
        let ranked = || {
            self.charge
                .iter()
                .enumerate()
                .filter_map(|(i, &(c, colour))| c.map(|c| ((i + 1) as f64, c, colour)))
        };
        if self.spent.bars() {
            // as with the bars above: a few nodes get big dots, hundreds small
            let radius = if self.charge.len() > 60 { 3 } else { 5 };
            chart.draw_series(
                ranked()
                    .filter(|p| p.1 > 0.0)
                    .map(|(r, c, colour)| Circle::new((r, c), radius, colour.filled())),
            )?;
            chart.draw_series(
                ranked()
                    .filter(|p| p.1 == 0.0)
                    .map(|(r, _, _)| Cross::new((r, 0.0), 5, INK.stroke_width(2))),
            )?;
        } else {
            let bins = self.charge_bins();
            let upper = bins.iter().map(|b| (b.0, b.3));
            let lower = bins.iter().rev().map(|b| (b.0, b.1));
            chart.draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                MUTED.mix(0.25),
            )))?;
            chart.draw_series(LineSeries::new(
                bins.iter().map(|b| (b.0, b.2)),
                MUTED.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

impl Figure for Energy {
    fn legend(&self) -> Vec<LegendEntry> {
        let mut charge = Vec::new();
        if self.spent.bars() {
            charge.push(LegendEntry::new("charge at end", Mark::Dot(MUTED)));
            if self.emptied > 0 {
                charge.push(LegendEntry::new(
                    format!("battery emptied ({})", self.emptied),
                    Mark::Cross(INK),
                ));
            }
        } else {
            charge.push(LegendEntry::new(
                format!("charge at end, mean per {} ranks", self.bin_width()),
                Mark::Line(MUTED),
            ));
            charge.push(LegendEntry::new("lowest–highest", Mark::Band(MUTED)));
            charge.push(LegendEntry::new(
                format!(
                    "{} of {} batteries emptied",
                    self.emptied,
                    self.charge.len()
                ),
                Mark::Note,
            ));
        }
        let mut e = self.spent.legend(charge);
        if self.unmodelled > 0 {
            let s = if self.unmodelled == 1 { "" } else { "s" };
            e.push(LegendEntry::new(
                format!("{} node{s} without a battery (not shown)", self.unmodelled),
                Mark::Note,
            ));
        }
        e
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        // the plots (not the panels: the lower one holds the rank axis) split
        // SPENT_SHARE : rest
        let plots_h = f64::from(area.dim_in_pixel().1) - f64::from(X_LABEL_AREA) - 22.0;
        let top_h = 8 + (plots_h * SPENT_SHARE) as i32;
        let (top, bottom) = area.split_vertically(top_h);
        self.spent.draw(&top, false)?;
        self.draw_charge(&bottom)
    }
}
