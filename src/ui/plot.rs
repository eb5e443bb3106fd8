//! Charts that read the same without colour: every series has a glyph of its own as well as a
//! colour (on its points, and on a curve's points every few cells), the axes carry their values,
//! and a legend under the plot names every series by glyph and colour. The legend is never drawn
//! over the plot: the plot gets what the legend leaves. Views build a [`Plot`] and render it.

use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style},
    symbols::Marker,
    text::{Line, Span},
    widgets::{
        Block, Widget,
        canvas::{Canvas, Line as Segment},
    },
};

/// One glyph per series, as many as a comparison holds runs (`MAX_MARKS`), each a cell wide:
/// the shapes first, then ASCII signs.
pub const GLYPHS: [char; 20] = [
    '●', '×', '▲', '◆', '○', '+', '■', '▼', '◇', '□', '△', '▽', '*', '#', '@', '%', '&', '$', '=',
    '~',
];

/// The glyph of the `i`-th series.
pub fn glyph(i: usize) -> char {
    GLYPHS[i % GLYPHS.len()]
}

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Curves through the points, the series' glyph on a point every few cells and on the last.
    Curves,
    /// The points alone, each its series' glyph.
    Points,
}

/// One series: its name and its points; `note` follows the name in the legend (its values).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub note: String,
}

/// An axis: the values at its ends (`bounds`), the labels spread evenly along it from the low end,
/// and a title (on the x axis, between the labels).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Axis {
    pub bounds: [f64; 2],
    pub labels: Vec<String>,
    pub title: String,
}

impl Axis {
    /// The x axis of metric histories: from step 0 to the last step any series reached.
    pub fn steps(series: &[Series]) -> Axis {
        let last = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(1.0, f64::max);
        Axis {
            bounds: [0.0, last],
            labels: vec!["0".into(), format!("{last:.0}")],
            title: "step".into(),
        }
    }
}

/// A chart, drawn into its block: the plot with its axes, and the legend under it.
pub struct Plot<'a> {
    pub block: Block<'a>,
    pub kind: Kind,
    pub series: &'a [Series],
    /// The series' colours in turn ([`crate::config::Theme::series`]); empty: no colour.
    pub palette: &'a [Style],
    pub x: Axis,
    pub y: Axis,
    /// The series pointed at, and what to say of it: its glyph in reverse video, and a line
    /// `▶ name: text` over the legend.
    pub focus: Option<(usize, String)>,
    /// The axes, their labels and the legend's notes.
    pub muted: Style,
}

/// The fewest cells between two glyphs of one curve, with one curve; each more curve adds two,
/// so many curves do not bury the braille under glyphs.
const GLYPH_SPACING: u16 = 6;

impl Plot<'_> {
    fn style(&self, i: usize) -> Style {
        if self.palette.is_empty() {
            Style::default()
        } else {
            self.palette[i % self.palette.len()]
        }
    }

    /// The legend's lines for `width` columns and at most `max_rows` rows where the names can be
    /// cut (with `…`) to fit; whole entries are never dropped.
    fn legend(&self, width: u16, max_rows: usize) -> Vec<Line<'static>> {
        let width = usize::from(width);
        let mut lines = Vec::new();
        if let Some((i, text)) = &self.focus
            && let Some(s) = self.series.get(*i)
        {
            let line = format!("▶ {} {}: {text}", glyph(*i), s.name);
            lines.push(Line::from(Span::styled(
                cut(&line, width),
                self.style(*i).add_modifier(Modifier::BOLD),
            )));
        }
        let longest = self
            .series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        // The longest names that let every entry fit in `max_rows`, down to 4 characters.
        let mut limit = longest;
        let mut rows = self.legend_rows(limit, width);
        while rows.len() > max_rows && limit > 4 {
            limit -= 1;
            rows = self.legend_rows(limit, width);
        }
        lines.extend(rows);
        lines
    }

    /// The legend's entries laid out in rows of `width`, names cut at `limit` characters.
    fn legend_rows(&self, limit: usize, width: usize) -> Vec<Line<'static>> {
        let mut entries: Vec<Vec<Span<'static>>> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut spans = vec![Span::styled(
                    format!("{} {}", glyph(i), cut(&s.name, limit)),
                    self.style(i),
                )];
                if !s.note.is_empty() {
                    spans.push(Span::styled(format!(" {}", s.note), self.muted));
                }
                spans
            })
            .collect();
        let colours = self.palette.len();
        if colours > 0 && self.series.len() > colours {
            entries.push(vec![Span::styled(
                format!("(colours repeat after {colours}; the glyphs differ)"),
                self.muted,
            )]);
        }
        let mut rows: Vec<Line<'static>> = Vec::new();
        let mut used = 0;
        for entry in entries {
            let len: usize = entry.iter().map(|s| s.content.chars().count()).sum();
            match rows.last_mut() {
                Some(row) if used + 2 + len <= width => {
                    row.spans.push(Span::raw("  "));
                    row.spans.extend(entry);
                    used += 2 + len;
                }
                _ => {
                    rows.push(Line::from(entry));
                    used = len;
                }
            }
        }
        rows
    }

    /// The cell of a point in `area` for the axes' bounds, if it is within them.
    fn cell(&self, area: Rect, (x, y): (f64, f64)) -> Option<(u16, u16)> {
        let [x0, x1] = self.x.bounds;
        let [y0, y1] = self.y.bounds;
        if !(x0..=x1).contains(&x) || !(y0..=y1).contains(&y) || x1 <= x0 || y1 <= y0 {
            return None;
        }
        let col = ((x - x0) / (x1 - x0) * f64::from(area.width - 1)).round() as u16;
        let row = ((y1 - y) / (y1 - y0) * f64::from(area.height - 1)).round() as u16;
        Some((area.x + col, area.y + row))
    }

    /// The y labels' column, the axis lines and the x labels; returns the area left to plot in.
    fn axes(&self, area: Rect, buf: &mut Buffer) -> Rect {
        let label_w = self
            .y
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .min(usize::from(area.width / 3)) as u16;
        let plot_h = area.height - 2;
        let axis_x = area.x + label_w;
        let n = self.y.labels.len();
        for (j, label) in self.y.labels.iter().enumerate() {
            let up = if n > 1 {
                usize::from(plot_h - 1) * j / (n - 1)
            } else {
                0
            };
            let row = area.y + plot_h - 1 - up as u16;
            let text = format!(
                "{:>w$}",
                cut(label, usize::from(label_w)),
                w = label_w.into()
            );
            buf.set_string(area.x, row, text, self.muted);
        }
        for row in area.y..area.y + plot_h {
            buf.set_string(axis_x, row, "│", self.muted);
        }
        let rule = format!("└{}", "─".repeat(usize::from(area.right() - axis_x - 1)));
        buf.set_string(axis_x, area.y + plot_h, rule, self.muted);
        let plot = Rect::new(axis_x + 1, area.y, area.right() - axis_x - 1, plot_h);
        self.x_labels(Rect::new(plot.x, area.y + plot_h + 1, plot.width, 1), buf);
        plot
    }

    /// The x labels along `row`: two at its ends; more, each in an equal share of the row (the
    /// first to the left of its share, the last to the right, the others centred), cut to fit
    /// it; the title between them where it fits.
    fn x_labels(&self, row: Rect, buf: &mut Buffer) {
        let n = self.x.labels.len();
        let w = usize::from(row.width);
        let mut taken = vec![false; w];
        let mut put = |start: usize, text: &str, buf: &mut Buffer| {
            let len = text.chars().count();
            if start + len <= w && !taken[start..start + len].iter().any(|t| *t) {
                buf.set_string(row.x + start as u16, row.y, text, self.muted);
                // A space either side stays free, so labels never run together.
                let (lo, hi) = (start.saturating_sub(1), (start + len + 1).min(w));
                taken[lo..hi].iter_mut().for_each(|t| *t = true);
            }
        };
        for (k, label) in self.x.labels.iter().enumerate() {
            let (lo, hi) = if n > 2 {
                (w * k / n, w * (k + 1) / n)
            } else {
                (0, w)
            };
            let room = if n > 2 { hi - lo - 1 } else { w / 2 - 1 };
            let label = cut(label, room.max(1));
            let len = label.chars().count();
            let start = match k {
                0 => lo,
                _ if k == n - 1 => hi.saturating_sub(len),
                _ => lo + (hi - lo - len) / 2,
            };
            put(start, &label, buf);
        }
        if !self.x.title.is_empty() {
            let len = self.x.title.chars().count();
            put(w.saturating_sub(len) / 2, &self.x.title, buf);
        }
    }

    /// The curves in braille, in their colours.
    fn curves(&self, plot: Rect, buf: &mut Buffer) {
        let colour = |i: usize| self.style(i).fg.unwrap_or(Color::Reset);
        Canvas::default()
            .marker(Marker::Braille)
            .x_bounds(self.x.bounds)
            .y_bounds(self.y.bounds)
            .paint(|ctx| {
                for (i, s) in self.series.iter().enumerate() {
                    for pair in s.points.windows(2) {
                        ctx.draw(&Segment::new(
                            pair[0].0,
                            pair[0].1,
                            pair[1].0,
                            pair[1].1,
                            colour(i),
                        ));
                    }
                    if let [only] = s.points[..] {
                        ctx.draw(&Segment::new(only.0, only.1, only.0, only.1, colour(i)));
                    }
                    ctx.layer();
                }
            })
            .render(plot, buf);
    }

    /// Each series' glyph on its points, the focused series last so nothing covers it. A
    /// curve's glyphs go on a point every few cells, staggered between the series, and on its
    /// last point; where another curve's glyph is already, on the next point instead, so
    /// curves that run together still each show theirs.
    fn glyphs(&self, plot: Rect, buf: &mut Buffer) {
        let n = self.series.len().max(1) as u16;
        let spacing = GLYPH_SPACING + 2 * n;
        let focus = self.focus.as_ref().map(|f| f.0);
        let order = (0..self.series.len())
            .filter(|i| Some(*i) != focus)
            .chain(focus);
        let mut taken: Vec<(u16, u16)> = Vec::new();
        for i in order {
            let s = &self.series[i];
            let mut style = self.style(i);
            if Some(i) == focus {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            let mut next = plot.x + spacing * (i as u16 % n) / n;
            for (k, p) in s.points.iter().enumerate() {
                let Some(cell) = self.cell(plot, *p) else {
                    continue;
                };
                let last = k + 1 == s.points.len();
                let free = !taken.contains(&cell);
                if self.kind == Kind::Points || (free && cell.0 >= next) || last {
                    buf.set_string(cell.0, cell.1, glyph(i).to_string(), style);
                    taken.push(cell);
                    next = cell.0 + spacing;
                }
            }
        }
    }
}

impl Widget for Plot<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = self.block.inner(area);
        (&self.block).render(area, buf);
        if inner.is_empty() {
            return;
        }
        // The legend takes up to a third of the rows (more where its entries need them), the
        // plot the rest: at least a row of plot and its two axis rows, or none.
        let max_rows = usize::from(inner.height / 3).max(1);
        let legend = self.legend(inner.width, max_rows);
        let legend_h = u16::try_from(legend.len())
            .unwrap_or(u16::MAX)
            .min(inner.height);
        let plot_h = inner.height - legend_h;
        if plot_h >= 3 && inner.width >= 8 {
            let plot = self.axes(Rect::new(inner.x, inner.y, inner.width, plot_h), buf);
            if self.kind == Kind::Curves {
                self.curves(plot, buf);
            }
            self.glyphs(plot, buf);
        }
        for (k, line) in legend.iter().enumerate() {
            let row = inner.y + plot_h + k as u16;
            if row < inner.bottom() {
                buf.set_line(inner.x, row, line, inner.width);
            }
        }
    }
}

/// `v` to four significant digits (`0.5319`, `81.63`, `204.1`, `12345`), in exponent form
/// below 0.001 and from a million: short enough for a legend.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() {
        format!("{v}")
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 4);
        format!("{v:.*}", decimals as usize)
    }
}

/// `s` cut to `max` characters, ending in `…` when cut.
fn cut(s: &str, max: usize) -> String {
    crate::ui::widgets::truncate(&mlops_core::text::line(s), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(0.531_94), "0.5319");
        assert_eq!(short_number(81.6308), "81.63");
        assert_eq!(short_number(204.06), "204.1");
        assert_eq!(short_number(12_345.6), "12346");
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(-0.25), "-0.2500");
        assert_eq!(short_number(2.5e-5), "2.50e-5");
    }

    #[test]
    fn a_glyph_for_every_run_a_comparison_holds() {
        assert!(GLYPHS.len() >= crate::app::state::MAX_MARKS);
        for (i, a) in GLYPHS.iter().enumerate() {
            assert!(!GLYPHS[i + 1..].contains(a), "{a} twice");
            assert_eq!(Span::raw(a.to_string()).width(), 1, "{a}");
        }
    }
}
