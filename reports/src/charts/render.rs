//! From a figure to files: the frame every chart shares (title, subtitle,
//! legend above the plot) and the SVG and PNG output.
//!
//! A chart is drawn twice from the same [`Figure`], once on plotters' SVG
//! backend and once on its bitmap backend, so both files show the same thing.
//! The legend sits in its own rows between the title and the plot, never over
//! the data.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::raster::PngCanvas;
use super::style::{self, size, HEIGHT, INK, MUTED, WIDTH};
use super::{Chart, ChartError};
use crate::atomic::write_atomic;

/// What drawing returns: plotters' errors, boxed (their type depends on the
/// backend).
pub(crate) type DrawResult = Result<(), Box<dyn Error>>;

/// How a legend entry's sample is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mark {
    /// A solid line.
    Line(RGBColor),
    /// A solid line with a dot, for series drawn with markers.
    LineDot(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled box, for bars.
    Bar(RGBColor),
    /// A pale box, for shaded bands.
    Band(RGBColor),
    /// A short vertical tick.
    Tick(RGBColor),
    /// A dot alone, for values drawn as scattered points.
    Dot(RGBColor),
    /// A diagonal cross, for points marked as special (an emptied battery).
    Cross(RGBColor),
    /// No sample: the entry is a note.
    Note,
}

/// One legend entry.
#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) mark: Mark,
}

impl LegendEntry {
    pub(crate) fn new(label: impl Into<String>, mark: Mark) -> Self {
        LegendEntry {
            label: label.into(),
            mark,
        }
    }
}

/// A chart's content: its legend and the plot below it.
pub(crate) trait Figure {
    /// The legend entries, drawn in rows above the plot.
    fn legend(&self) -> Vec<LegendEntry>;
    /// Draws the plot (axes, data, notes) into `area`, the canvas below the
    /// title and the legend.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// A chart's name and headings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame<'a> {
    pub(crate) name: &'static str,
    pub(crate) title: &'a str,
    pub(crate) subtitle: Option<&'a str>,
}

/// Draws `fig` in `frame`, writes `<name>.svg` and `<name>.png` into `dir`
/// (each atomically) and returns the chart with its SVG markup.
pub(crate) fn emit(frame: Frame<'_>, fig: &impl Figure, dir: &Path) -> Result<Chart, ChartError> {
    style::ensure_fonts()?;
    let draw_err = |e: Box<dyn Error>| ChartError::Draw {
        chart: frame.name,
        message: e.to_string(),
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_framed(&root, frame, fig).map_err(draw_err)?;
    }

    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = PngCanvas::new(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw_framed(&root, frame, fig).map_err(draw_err)?;
    }
    let png = encode_png(&rgb).map_err(|e| draw_err(e.into()))?;

    let write = |ext: &str, bytes: &[u8]| {
        let path = dir.join(format!("{}.{ext}", frame.name));
        write_atomic(&path, |w| w.write_all(bytes))
            .map_err(|source| ChartError::Io { path, source })
    };
    write("svg", svg.as_bytes())?;
    write("png", &png)?;
    Ok(Chart {
        name: frame.name,
        title: frame.title.to_string(),
        svg,
    })
}

/// An 8-bit RGB PNG of the canvas.
fn encode_png(rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Space between the canvas edge and the plot, in pixels.
const MARGIN_SIDE: i32 = 16;
const MARGIN_BOTTOM: i32 = 10;
const TITLE_TOP: i32 = 12;
const TITLE_ROW: i32 = 38;
const SUBTITLE_ROW: i32 = 22;
const LEGEND_ROW: i32 = 26;
/// At most this many legend rows; entries that do not fit are summarised.
const LEGEND_MAX_ROWS: usize = 3;
const SWATCH: i32 = 30;
const SWATCH_GAP: i32 = 8;
const ENTRY_GAP: i32 = 28;

fn draw_framed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: Frame<'_>,
    fig: &impl Figure,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let centre = WIDTH as i32 / 2;
    let mut y = TITLE_TOP;
    root.draw_text(
        frame.title,
        &style::title_text().pos(Pos::new(HPos::Center, VPos::Top)),
        (centre, y),
    )?;
    y += TITLE_ROW;
    if let Some(sub) = frame.subtitle {
        let font = style::text(size::SUBTITLE, MUTED).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text(sub, &font, (centre, y - 6))?;
        y += SUBTITLE_ROW;
    }
    let rows = legend_rows(root, &fig.legend())?;
    for row in &rows {
        draw_legend_row(root, row, y + LEGEND_ROW / 2)?;
        y += LEGEND_ROW;
    }
    y += 4;
    let (_, rest) = root.split_vertically(y);
    let plot = rest.margin(0, MARGIN_BOTTOM, MARGIN_SIDE, MARGIN_SIDE);
    fig.draw(&plot)?;
    root.present()?;
    Ok(())
}

/// A legend row: entries with their widths, and the row's total width.
struct LegendRow {
    entries: Vec<(LegendEntry, i32)>,
    width: i32,
}

/// Lays the entries out in centred rows that fit the canvas width; what does
/// not fit in [`LEGEND_MAX_ROWS`] rows is replaced by a "+N more" note.
fn legend_rows<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<Vec<LegendRow>, Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let font = style::text(size::LEGEND, INK);
    let available = WIDTH as i32 - 2 * MARGIN_SIDE;
    let mut rows: Vec<LegendRow> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let (text_w, _) = root.estimate_text_size(&entry.label, &font)?;
        let swatch = if matches!(entry.mark, Mark::Note) {
            0
        } else {
            SWATCH + SWATCH_GAP
        };
        let w = swatch + text_w as i32;
        let fits = rows
            .last()
            .is_some_and(|r| r.width + ENTRY_GAP + w <= available);
        if !fits {
            if rows.len() == LEGEND_MAX_ROWS {
                let more = LegendEntry::new(format!("+{} more", entries.len() - i), Mark::Note);
                let (more_w, _) = root.estimate_text_size(&more.label, &font)?;
                let last = rows.last_mut().expect("LEGEND_MAX_ROWS > 0");
                while last.width + ENTRY_GAP + more_w as i32 > available && last.entries.len() > 1 {
                    let (_, w) = last.entries.pop().expect("more than one entry");
                    last.width -= ENTRY_GAP + w;
                }
                last.width += ENTRY_GAP + more_w as i32;
                last.entries.push((more, more_w as i32));
                break;
            }
            rows.push(LegendRow {
                entries: Vec::new(),
                width: -ENTRY_GAP,
            });
        }
        let row = rows.last_mut().expect("a row was just pushed");
        row.width += ENTRY_GAP + w;
        row.entries.push((entry.clone(), w));
    }
    Ok(rows)
}

fn draw_legend_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    row: &LegendRow,
    yc: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let ink = style::text(size::LEGEND, INK).pos(Pos::new(HPos::Left, VPos::Center));
    let muted = style::text(size::LEGEND, MUTED).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = (WIDTH as i32 - row.width) / 2;
    for (entry, w) in &row.entries {
        let text_x = match entry.mark {
            Mark::Note => x,
            mark => {
                draw_swatch(root, mark, x, yc)?;
                x + SWATCH + SWATCH_GAP
            }
        };
        let font = if matches!(entry.mark, Mark::Note) {
            &muted
        } else {
            &ink
        };
        root.draw_text(&entry.label, font, (text_x, yc))?;
        x += w + ENTRY_GAP;
    }
    Ok(())
}

fn draw_swatch<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    mark: Mark,
    x: i32,
    yc: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match mark {
        Mark::Line(c) => root.draw(&PathElement::new(
            vec![(x, yc), (x + SWATCH, yc)],
            c.stroke_width(3),
        ))?,
        Mark::LineDot(c) => {
            root.draw(&PathElement::new(
                vec![(x, yc), (x + SWATCH, yc)],
                c.stroke_width(3),
            ))?;
            root.draw(&Circle::new((x + SWATCH / 2, yc), 5, c.filled()))?;
        }
        Mark::Dashed(c) => {
            for k in 0..3 {
                let x0 = x + k * 11;
                root.draw(&PathElement::new(
                    vec![(x0, yc), (x0 + 7, yc)],
                    c.stroke_width(2),
                ))?;
            }
        }
        Mark::Bar(c) => root.draw(&Rectangle::new(
            [(x + 6, yc - 8), (x + SWATCH - 6, yc + 8)],
            c.filled(),
        ))?,
        Mark::Band(c) => {
            root.draw(&Rectangle::new(
                [(x, yc - 8), (x + SWATCH, yc + 8)],
                c.mix(0.2).filled(),
            ))?;
        }
        Mark::Tick(c) => root.draw(&PathElement::new(
            vec![(x + SWATCH / 2, yc - 8), (x + SWATCH / 2, yc + 8)],
            c.stroke_width(2),
        ))?,
        Mark::Dot(c) => root.draw(&Circle::new((x + SWATCH / 2, yc), 4, c.filled()))?,
        Mark::Cross(c) => root.draw(&Cross::new((x + SWATCH / 2, yc), 5, c.stroke_width(2)))?,
        Mark::Note => {}
    }
    Ok(())
}

/// Writes `note` in the middle of a plotting area, for charts with nothing to
/// plot: the axes stay, so the reader sees which chart is empty and why.
pub(crate) fn draw_note<DB: DrawingBackend>(plot: &DrawingArea<DB, Shift>, note: &str) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = plot.dim_in_pixel();
    let font = style::text(size::AXIS, MUTED).pos(Pos::new(HPos::Center, VPos::Center));
    plot.draw_text(note, &font, (w as i32 / 2, h as i32 / 2))?;
    Ok(())
}
