//! `hops`: how many network hops the delivered copies took.
//!
//! The hop count is the path length a protocol actually achieved: against the
//! topology's diameter it shows whether routing finds short paths and, for
//! flooding or gossip, how far messages travel before they arrive. Each bar
//! is the number of deliveries with that hop count, labelled with its share;
//! a dashed line marks the mean.

use plotters::coord::ranged1d::Ranged;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{draw_note, DrawResult, Figure, LegendEntry, Mark};
use super::style::{self, fmt_num, size, BAR, MEAN, MUTED};
use super::{X_LABEL_AREA, Y_LABEL_AREA};
use crate::data::RunData;

/// The chart's file stem.
pub(crate) const NAME: &str = "hops";
/// The chart's title.
pub(crate) const TITLE: &str = "Hop count of delivered messages";

/// Up to this many bars each is labelled with its share of deliveries.
const SHARE_LABELS_UP_TO: usize = 20;

/// The hop-count histogram of a run.
pub(crate) struct Hops {
    /// `(hops, deliveries)` for every hop count from the least to the most
    /// seen, zeros included.
    counts: Vec<(u32, u64)>,
    total: u64,
    mean: f64,
}

impl Hops {
    pub(crate) fn from_run(run: &RunData) -> Self {
        let lo = run.deliveries.iter().map(|d| d.hops).min().unwrap_or(0);
        let hi = run.deliveries.iter().map(|d| d.hops).max().unwrap_or(0);
        let mut counts: Vec<(u32, u64)> = (lo..=hi).map(|h| (h, 0)).collect();
        for d in &run.deliveries {
            counts[(d.hops - lo) as usize].1 += 1;
        }
        let total = run.deliveries.len() as u64;
        let mean = if total == 0 {
            f64::NAN
        } else {
            run.deliveries
                .iter()
                .map(|d| f64::from(d.hops))
                .sum::<f64>()
                / total as f64
        };
        if total == 0 {
            counts.clear();
        }
        Hops {
            counts,
            total,
            mean,
        }
    }
}

impl Figure for Hops {
    fn legend(&self) -> Vec<LegendEntry> {
        if self.total == 0 {
            return vec![LegendEntry::new("no deliveries", Mark::Note)];
        }
        vec![
            LegendEntry::new(format!("deliveries (n = {})", self.total), Mark::Bar(BAR)),
            LegendEntry::new(
                format!("mean = {} hops", style::trim_decimals(self.mean, 3)),
                Mark::Dashed(MEAN),
            ),
        ]
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = match (self.counts.first(), self.counts.last()) {
            (Some(a), Some(b)) => (a.0, b.0),
            _ => (0, 5),
        };
        let step = style::integer_step(u64::from(hi - lo), 15);
        let ticks: Vec<f64> = (u64::from(lo)..=u64::from(hi))
            .filter(|h| h % step == 0)
            .map(|h| h as f64)
            .collect();
        let max_count = self.counts.iter().map(|c| c.1).max().unwrap_or(0);
        // headroom for the share labels over the bars
        let y_axis = style::count_axis(max_count as f64 * 1.1);
        let y_top = y_axis.range().end;
        let x_range = style::linear_axis(f64::from(lo) - 0.6, f64::from(hi) + 0.6, ticks);
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(24)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x_range, y_axis)?;
        style::style_mesh(&mut chart.configure_mesh())
            .disable_x_mesh()
            .x_desc("hops per delivery (count)")
            .y_desc("deliveries (count)")
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()?;
        if self.total == 0 {
            return draw_note(&chart.plotting_area().strip_coord_spec(), "no deliveries");
        }
        chart.draw_series(self.counts.iter().filter(|c| c.1 > 0).map(|&(h, c)| {
            let x = f64::from(h);
            Rectangle::new([(x - 0.4, 0.0), (x + 0.4, c as f64)], BAR.filled())
        }))?;
        if self.counts.len() <= SHARE_LABELS_UP_TO {
            let font = style::text(size::NOTE, MUTED).pos(Pos::new(HPos::Center, VPos::Bottom));
            for &(h, c) in self.counts.iter().filter(|c| c.1 > 0) {
                let share = 100.0 * c as f64 / self.total as f64;
                let label = format!("{} %", style::trim_decimals(share, 3));
                let above_bar = EmptyElement::at((f64::from(h), c as f64))
                    + Text::new(label, (0, -4), font.clone());
                chart.draw_series(std::iter::once(above_bar))?;
            }
        }
        chart.draw_series(DashedLineSeries::new(
            vec![(self.mean, 0.0), (self.mean, y_top)],
            8,
            5,
            MEAN.stroke_width(2),
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    #[test]
    fn counts_cover_every_hop_count_seen() {
        let mut run = sample_run();
        run.deliveries.truncate(3); // hops 1, 2, 3
        run.deliveries[2].hops = 4;
        let h = Hops::from_run(&run);
        assert_eq!(h.counts, vec![(1, 1), (2, 1), (3, 0), (4, 1)]);
        assert!((h.mean - 7.0 / 3.0).abs() < 1e-12);
    }
}
