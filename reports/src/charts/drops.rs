//! `drops`: packets dropped, by cause.
//!
//! Lost deliveries have a reason, and the cause says which knob to turn:
//! `queue_full` is congestion, `loss` is the link model, `link_down` and
//! `node_down` are faults, `expired` is a hop limit or TTL, `mtu` an
//! oversized datagram. Horizontal bars, largest first, keep the cause names
//! readable; each bar is labelled with its count and share. Causes with no
//! drops are left out, unless nothing was dropped at all, when every cause is
//! shown at zero so the chart says so rather than looking broken.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{draw_note, DrawResult, Figure, LegendEntry, Mark};
use super::style::{self, fmt_num, size, BAR, INK};
use super::X_LABEL_AREA;
use crate::data::RunData;

/// The chart's file stem.
pub(crate) const NAME: &str = "drops";
/// The chart's title.
pub(crate) const TITLE: &str = "Packet drops by cause";

/// Room for cause names left of the bars.
const CAUSE_LABEL_AREA: u32 = 150;

/// The drops of a run by cause.
pub(crate) struct Drops {
    /// `(cause, drops)`, largest first (ties by name).
    causes: Vec<(String, u64)>,
    total: u64,
}

impl Drops {
    pub(crate) fn from_run(run: &RunData) -> Self {
        let all: Vec<(String, u64)> = run
            .summary
            .drops
            .iter()
            .map(|(c, n)| (c.clone(), *n))
            .collect();
        let total = all.iter().map(|c| c.1).sum();
        let mut causes: Vec<(String, u64)> = if total == 0 {
            all
        } else {
            all.into_iter().filter(|c| c.1 > 0).collect()
        };
        causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Drops { causes, total }
    }
}

impl Figure for Drops {
    fn legend(&self) -> Vec<LegendEntry> {
        if self.causes.is_empty() {
            return vec![LegendEntry::new("no drop causes recorded", Mark::Note)];
        }
        let mut e = vec![LegendEntry::new(
            format!("packets dropped (total {})", self.total),
            Mark::Bar(BAR),
        )];
        if self.total == 0 {
            e.push(LegendEntry::new("nothing was dropped", Mark::Note));
        }
        e
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let k = self.causes.len().max(1);
        let max = self.causes.first().map_or(0, |c| c.1) as f64;
        // headroom right of the longest bar for its label
        let x_axis = style::count_axis(max * 1.25);
        // bottom-up: the largest cause at the top; cause i is the band i..i+1
        let names: Vec<&str> = self.causes.iter().rev().map(|c| c.0.as_str()).collect();
        let label = |v: &f64| {
            let i = v.floor();
            if (v - i - 0.5).abs() < 1e-9 && i >= 0.0 {
                names
                    .get(i as usize)
                    .map_or_else(String::new, |s| s.to_string())
            } else {
                String::new()
            }
        };
        let ticks = (0..names.len()).map(|i| i as f64 + 0.5).collect();
        let mut chart = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(24)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(CAUSE_LABEL_AREA)
            .build_cartesian_2d(x_axis, style::linear_axis(0.0, k as f64, ticks))?;
        style::style_mesh(&mut chart.configure_mesh())
            .disable_y_mesh()
            .x_desc("packets dropped (count)")
            .y_desc("cause")
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&label)
            .draw()?;
        if self.causes.is_empty() {
            return draw_note(
                &chart.plotting_area().strip_coord_spec(),
                "no drop causes recorded",
            );
        }
        // bars fill 70 % of their band, but are never thicker than 60 px
        let band_px = f64::from(chart.plotting_area().dim_in_pixel().1) / k as f64;
        let half = (0.35f64).min(30.0 / band_px.max(1.0));
        let font = style::text(size::TICK, INK).pos(Pos::new(HPos::Left, VPos::Center));
        for i in 0..names.len() {
            let count = self.causes[k - 1 - i].1;
            let y = i as f64 + 0.5;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - half), (count as f64, y + half)],
                BAR.filled(),
            )))?;
            let text = if self.total == 0 {
                "0".to_string()
            } else {
                format!(
                    "{count} ({} %)",
                    style::trim_decimals(100.0 * count as f64 / self.total as f64, 3)
                )
            };
            let at = EmptyElement::at((count as f64, y)) + Text::new(text, (6, 0), font.clone());
            chart.draw_series(std::iter::once(at))?;
        }
        if self.total == 0 {
            draw_note(&chart.plotting_area().strip_coord_spec(), "no drops")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    #[test]
    fn zero_causes_are_left_out_unless_all_are_zero() {
        let mut run = sample_run();
        run.summary.drops.insert("mtu".into(), 0);
        run.summary.drops.insert("loss".into(), 20);
        let d = Drops::from_run(&run);
        let names: Vec<&str> = d.causes.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["loss", "link_down", "queue_full"]);
        assert_eq!(d.total, 38);

        for v in run.summary.drops.values_mut() {
            *v = 0;
        }
        let d = Drops::from_run(&run);
        assert_eq!(d.causes.len(), 4);
        assert_eq!(d.total, 0);
    }
}
