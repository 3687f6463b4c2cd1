//! The PNG canvas: plotters' bitmap backend with its text drawing replaced.
//!
//! Implementation note: plotters 0.3.7 rasterises ab_glyph text without each
//! glyph's left side bearing (letters drift apart or together: "deliver y")
//! and puts the baseline half an em below the anchor whatever the anchor
//! says. [`PngCanvas`] delegates every shape to [`BitMapBackend`] and lays
//! text out itself with the same font and scale plotters measures with (so
//! widths, and hence the layout, match the SVG): glyphs at their kerned pen
//! positions, the anchor applied to the font's ascent–descent box, rotation
//! as plotters does it.

use std::io;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

/// DejaVu Sans, parsed once.
struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

fn fonts() -> Option<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Some(Fonts {
                regular: FontRef::try_from_slice(dejavu::sans::regular()).ok()?,
                bold: FontRef::try_from_slice(dejavu::sans::bold()).ok()?,
            })
        })
        .as_ref()
}

/// An RGB buffer to draw a chart on, for the PNG file.
pub(crate) struct PngCanvas<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> PngCanvas<'a> {
    /// A canvas over `buf`, `size.0 × size.1` RGB pixels.
    pub(crate) fn new(buf: &'a mut [u8], size: (u32, u32)) -> Self {
        PngCanvas {
            inner: BitMapBackend::with_buffer(buf, size),
        }
    }
}

type BitMapError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;
type Result<T> = std::result::Result<T, DrawingErrorKind<BitMapError>>;

impl DrawingBackend for PngCanvas<'_> {
    type ErrorType = BitMapError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<()> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<()> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<()> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<()> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<()> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<()> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<()> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<()> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, (iw, ih): (u32, u32), src: &[u8]) -> Result<()> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<()> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let fonts = fonts().ok_or_else(|| {
            DrawingErrorKind::FontError(Box::new(io::Error::other("DejaVu Sans did not load")))
        })?;
        let font = if matches!(style.style(), FontStyle::Bold) {
            &fonts.bold
        } else {
            &fonts.regular
        };
        // the scale plotters measures text with, so widths match the layout
        let scale = PxScale::from(style.size() as f32);
        let scaled = font.as_scaled(scale);

        let mut glyphs = Vec::with_capacity(text.len());
        let mut caret = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(scale, ab_glyph::point(caret, scaled.ascent())));
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        let (width, height) = (caret, scaled.ascent() - scaled.descent());
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let transform = style.transform();
        for glyph in glyphs {
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x as i32 + dx, bounds.min.y as i32 + dy);
            let mut result = Ok(());
            outline.draw(|x, y, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (tx, ty) = transform.transform(x0 + x as i32, y0 + y as i32);
                let c = BackendColor {
                    alpha: color.alpha * f64::from(coverage.min(1.0)),
                    rgb: color.rgb,
                };
                result = self.inner.draw_pixel((pos.0 + tx, pos.1 + ty), c);
            });
            result?;
        }
        Ok(())
    }
}
