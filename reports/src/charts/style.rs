//! The look every chart shares: canvas size, the embedded font, text sizes,
//! colours, the grid, and how numbers are written on axes.
//!
//! One place for these keeps the charts of a report consistent: the same
//! group has the same colour in every chart, p50 is always blue and p99 always
//! vermillion, and every axis uses the same light grid.

use std::sync::OnceLock;

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use super::ChartError;

/// Canvas width in pixels (PNG) and user units (SVG).
pub(crate) const WIDTH: u32 = 1000;
/// Canvas height in pixels (PNG) and user units (SVG).
pub(crate) const HEIGHT: u32 = 600;

/// The font family every text is drawn with. The name is what the SVG files
/// ask the viewer for; the glyphs used for layout and for the PNG files are
/// DejaVu Sans, registered under this name by [`ensure_fonts`].
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers DejaVu Sans (regular and bold) with plotters, once per process.
///
/// plotters' ab_glyph backend keeps a global font table; registering from
/// several threads at once is safe behind the `OnceLock`, and later calls
/// only read the stored outcome.
pub(crate) fn ensure_fonts() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let regular =
            plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular());
        let bold = plotters::style::register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold());
        regular.is_ok() && bold.is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw {
            chart: "(font)",
            message: "the embedded DejaVu Sans font could not be loaded".into(),
        })
    }
}

/// Text, axis lines and the "all" series: a soft black.
pub(crate) const INK: RGBColor = RGBColor(34, 34, 34);
/// Secondary text (notes, fault labels) and fault markers.
pub(crate) const MUTED: RGBColor = RGBColor(105, 105, 105);
/// The grid: light enough not to compete with the data.
pub(crate) const GRID: RGBColor = RGBColor(224, 224, 224);

/// Series colours: the Okabe–Ito palette (distinguishable with the common
/// colour-vision deficiencies), minus its yellow, which is unreadable on white.
pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(230, 159, 0),   // orange
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(120, 94, 60),   // brown (not Okabe–Ito; replaces the yellow)
];

/// The colour of the `i`-th series (cycling when there are more series than
/// colours).
pub(crate) fn series_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Median latency, wherever it is drawn.
pub(crate) const P50: RGBColor = PALETTE[0];
/// 99th-percentile latency, wherever it is drawn.
pub(crate) const P99: RGBColor = PALETTE[1];
/// Delivery ratio, wherever it is drawn.
pub(crate) const RATIO: RGBColor = PALETTE[2];
/// Mean lines drawn over bars (dark, so no bar colour is mistaken for it).
pub(crate) const MEAN: RGBColor = INK;
/// Bars of counts (hop histogram, drops).
pub(crate) const BAR: RGBColor = PALETTE[0];

/// Text sizes in plotters' units (the PNG glyph height in pixels; the SVG
/// font-size is this over 1.24).
pub(crate) mod size {
    pub(crate) const TITLE: f64 = 26.0;
    pub(crate) const SUBTITLE: f64 = 16.0;
    pub(crate) const AXIS: f64 = 19.0;
    pub(crate) const TICK: f64 = 16.0;
    pub(crate) const LEGEND: f64 = 17.0;
    pub(crate) const NOTE: f64 = 15.0;
}

/// A text style of the chart font.
pub(crate) fn text(size: f64, colour: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&colour)
}

/// The bold title style.
pub(crate) fn title_text() -> TextStyle<'static> {
    (FAMILY, size::TITLE, FontStyle::Bold)
        .into_font()
        .color(&INK)
}

/// Applies the shared axis look to a mesh: tick and axis-label fonts, a light
/// major grid, no minor grid, soft axis lines.
pub(crate) fn style_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    mesh.label_style(text(size::TICK, INK))
        .axis_desc_style(text(size::AXIS, INK))
        .bold_line_style(GRID.stroke_width(1))
        .max_light_lines(0)
        .axis_style(MUTED.stroke_width(1))
        .set_all_tick_mark_size(5)
}

/// An axis with the ticks we choose (whole hop counts, node ranks, decades of
/// a log axis) rather than plotters' own.
///
/// plotters' `WithKeyPoints` does the same but loses the value formatter its
/// mesh needs; this wrapper keeps the default one (the charts set their own
/// label formatters anyway).
#[derive(Clone, Debug)]
pub(crate) struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ticked<R> {
    pub(crate) fn new(inner: impl Into<R>, ticks: Vec<f64>) -> Self {
        Ticked {
            inner: inner.into(),
            ticks,
        }
    }
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // the ticks are the grid lines; no minor lines between them
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// A log axis over `lo..hi` (whole decades) with a tick at each decade.
pub(crate) fn log_axis(lo: f64, hi: f64) -> Ticked<LogCoord<f64>> {
    Ticked::new((lo..hi).log_scale(), decades(lo, hi))
}

/// A linear axis over `lo..hi` with the given ticks.
pub(crate) fn linear_axis(
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
) -> Ticked<plotters::coord::types::RangedCoordf64> {
    Ticked::new(lo..hi, ticks)
}

/// A linear axis from 0 for counts, which has whole-number ticks (about six)
/// and ends on one, and reaches at least 5 so that an axis of zeros still
/// reads as counts.
pub(crate) fn count_axis(max: f64) -> Ticked<plotters::coord::types::RangedCoordf64> {
    let m = if max.is_finite() {
        max.max(0.0).ceil() as u64
    } else {
        0
    };
    let step = integer_step(m, 7);
    let top = m.div_ceil(step).max(1) * step;
    let top = if top < 5 { 5 } else { top };
    let ticks = (0..=top / step).map(|k| (k * step) as f64).collect();
    linear_axis(0.0, top as f64, ticks)
}

/// Writes an axis value compactly: at most four significant digits, no
/// trailing zeros, SI prefixes: k from ten thousand, M from a million, G from a billion.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, " G")
    } else if a >= 1e6 {
        (v / 1e6, " M")
    } else if a >= 1e4 {
        (v / 1e3, " k")
    } else {
        (v, "")
    };
    let s = trim_decimals(scaled, 4);
    format!("{s}{suffix}")
}

/// `v` with `sig` significant digits, trailing zeros (and a bare point)
/// removed; `-0` written as `0`.
pub(crate) fn trim_decimals(v: f64, sig: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (sig - 1 - magnitude).clamp(0, 9) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// The smallest "nice" number (1, 2, 2.5 or 5 × 10^k) at least `v`; an axis
/// that ends there ends on a round tick. Non-positive or non-finite `v` gives 1.
pub(crate) fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        let candidate = m * base;
        if candidate >= v * (1.0 - 1e-12) {
            return candidate;
        }
    }
    10.0 * base
}

/// The top of a linear axis from 0 that shows `v`: the first multiple of a
/// nice step (about six steps to `v`) at or above it, so the data fill most of
/// the plot and the axis ends on a labelled tick.
pub(crate) fn nice_top(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let step = nice_ceil(v / 6.0);
    ((v / step) * (1.0 - 1e-12)).ceil() * step
}

/// An integer tick step (1, 2, 5, 10, 20, …) that puts at most `max_ticks`
/// ticks on `0..=span`.
pub(crate) fn integer_step(span: u64, max_ticks: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            if span / (step * m) < max_ticks {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// The decades (powers of ten) from `lo` to `hi`, both assumed to be powers of
/// ten with `lo < hi`: the ticks of a log axis.
pub(crate) fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().round() as i32, hi.log10().round() as i32);
    (a..=b).map(|e| 10f64.powi(e)).collect()
}

/// Bounds of a log axis covering `min_pos..=max` (both positive): whole
/// decades, at least one apart.
pub(crate) fn log_bounds(min_pos: f64, max: f64) -> (f64, f64) {
    let lo = 10f64.powf(min_pos.log10().floor());
    let mut hi = 10f64.powf(max.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_compactly() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.30000000000000004), "0.3");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(2500.0), "2500");
        assert_eq!(fmt_num(25_000.0), "25 k");
        assert_eq!(fmt_num(1_500_000.0), "1.5 M");
        assert_eq!(fmt_num(15_000_000.0), "15 M");
        assert_eq!(fmt_num(-0.0001), "-0.0001");
    }

    #[test]
    fn nice_ceilings_and_steps() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(53.0), 100.0);
        assert_eq!(nice_ceil(47.0), 50.0);
        assert_eq!(nice_ceil(1.0), 1.0);
        assert_eq!(nice_ceil(2.2), 2.5);
        assert_eq!(nice_top(54.0), 60.0);
        assert_eq!(nice_top(1.0), 1.0);
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(9.0), 10.0);
        assert_eq!(integer_step(6, 15), 1);
        assert_eq!(integer_step(40, 15), 5);
        assert_eq!(integer_step(400, 15), 50);
        assert_eq!(log_bounds(3.0, 5000.0), (1.0, 10_000.0));
        assert_eq!(decades(1.0, 1000.0), vec![1.0, 10.0, 100.0, 1000.0]);
        let ticks = |max: f64| count_axis(max).ticks;
        assert_eq!(ticks(0.0), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            ticks(125.0),
            (0..=7).map(|k| f64::from(k) * 20.0).collect::<Vec<_>>()
        );
        assert_eq!(count_axis(11.25).range(), 0.0..12.0);
    }
}
