//! Small drawing helpers shared by the views: ages, bars, sparklines, feed state, tables.

use chrono::{DateTime, Utc};
use mlops_core::{CoreError, ErrorKind};
use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Cell, Paragraph, Row, Table},
};

use crate::app::{
    App,
    feeds::{Backend, Feed},
};

/// A paragraph of `text` with every span made safe for a terminal (`text::line`): what a view
/// writes in prose (a rollout's message, a run's tags, a model's description) can come from a
/// server and carry escape sequences or bidi controls. Every view's paragraphs go through here.
pub fn paragraph<'a>(text: impl Into<ratatui::text::Text<'a>>) -> Paragraph<'a> {
    let mut text = text.into();
    text.lines = text.lines.into_iter().map(safe_line).collect();
    Paragraph::new(text)
}

/// `line` with every span made safe for a terminal, as [`paragraph`] (block titles).
pub fn safe_line<'a>(line: impl Into<Line<'a>>) -> Line<'a> {
    let mut line = line.into();
    for span in &mut line.spans {
        if let std::borrow::Cow::Owned(clean) = mlops_core::text::line(&span.content) {
            span.content = clean.into();
        }
    }
    line
}

/// "12s", "5m", "3h", "2d": coarse on purpose, so an idle screen does not change every second.
pub fn age(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Age for columns that should not tick every second: under a minute reads "<1m".
pub fn age_coarse(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    if (now - t).num_seconds() < 60 {
        "<1m".into()
    } else {
        age(now, t)
    }
}

/// A horizontal bar of `width` cells for `pct` (0–100), with eighth-block precision.
pub fn bar(pct: f64, width: usize) -> (String, String) {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let pct = if pct.is_finite() {
        pct.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let eighths = (pct / 100.0 * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let mut filled = "█".repeat(full);
    let mut used = full;
    if full < width && !eighths.is_multiple_of(8) {
        filled.push(PARTS[eighths % 8]);
        used += 1;
    }
    (filled, "·".repeat(width.saturating_sub(used)))
}

pub fn bar_spans<'a>(app: &App, pct: f64, width: usize, fill: Style) -> Vec<Span<'a>> {
    let (f, e) = bar(pct, width);
    vec![
        Span::styled(f, fill),
        Span::styled(e, app.prefs.theme.bar_empty),
    ]
}

/// A sparkline of `values` in block characters, scaled to their own maximum.
pub fn sparkline(values: &[f64], width: usize) -> String {
    let max = values
        .iter()
        .rev()
        .take(width)
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    sparkline_to(values, width, max)
}

/// A sparkline of the last `width` of `values` in block characters on a scale from 0 to `top`,
/// so sparklines drawn to one `top` compare row to row.
pub fn sparkline_to(values: &[f64], width: usize, top: f64) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .rev()
        .take(width)
        .rev()
        .copied()
        .filter(|v| v.is_finite())
        .map(|v| {
            if top <= 0.0 {
                TICKS[0]
            } else {
                TICKS[((v / top) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// The block around a view fed by `feed` from `backend`: titled, greyed out with the reason and
/// the age of the last data when the backend is failing.
pub fn feed_block<'a, T>(
    app: &App,
    title: &str,
    feed: &Feed<T>,
    backend: Backend,
    focused: bool,
) -> (Block<'a>, bool) {
    let t = &app.prefs.theme;
    let mut spans = vec![Span::styled(
        format!(" {} ", mlops_core::text::line(title)),
        t.title,
    )];
    let down = feed.error.is_some();
    if let Some(err) = &feed.error {
        let last = feed.updated.map_or_else(
            || "no data yet".to_string(),
            |u| format!("last data {} ago", age(app.now, u)),
        );
        spans.push(Span::styled(
            format!(
                "⚠ {} {}: {} · {last} ",
                backend.label(),
                if refused(err) { "refused us" } else { "down" },
                truncate(&mlops_core::text::line(&err.to_string()), 60)
            ),
            t.err,
        ));
    } else if feed.in_flight && feed.data.is_none() {
        spans.push(Span::styled("loading… ", t.muted));
    }
    let border = if down {
        t.greyed
    } else if focused {
        t.border_focus
    } else {
        t.border
    };
    (
        Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(border)
            .title(Line::from(spans)),
        down,
    )
}

/// A titled block that is not fed by a backend (details, messages).
pub fn titled_block<'a>(app: &App, title: &str, focused: bool) -> Block<'a> {
    let t = &app.prefs.theme;
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focused { t.border_focus } else { t.border })
        .title(Line::from(Span::styled(
            format!(" {} ", mlops_core::text::line(title)),
            t.title,
        )))
}

/// What to show inside a block that has no data: why, and what to do.
/// Whether a backend's error is a refusal of who we are (missing or wrong credentials, no
/// permission): the server is up, the credentials or permissions are what to check — not
/// "down". Decided from the error's kind, never from its text.
fn refused(err: &CoreError) -> bool {
    err.kind() == ErrorKind::Denied
}

pub fn empty_state<T>(
    app: &App,
    feed: &Feed<T>,
    backend: Backend,
    what: &str,
) -> Paragraph<'static> {
    let t = &app.prefs.theme;
    let text = if app.backends.describe(backend).is_none() {
        vec![
            Line::from(Span::styled(
                format!("{} is not configured", backend.label()),
                t.warn,
            )),
            Line::from(Span::styled(configure_hint(backend), t.muted)),
        ]
    } else if let Some(e) = &feed.error {
        vec![Line::from(Span::styled(
            format!(
                "{} {}: {}",
                backend.label(),
                if refused(e) {
                    "refused us"
                } else {
                    "unavailable"
                },
                mlops_core::text::line(&e.to_string())
            ),
            t.err,
        ))]
    } else if feed.data.is_none() {
        vec![Line::from(Span::styled(
            format!("loading {what}…"),
            t.muted,
        ))]
    } else {
        vec![Line::from(Span::styled(format!("no {what}"), t.muted))]
    };
    // The reason wraps: at 80 columns its end (often the cause and what to check) is the part
    // that matters.
    Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: false })
}

pub fn configure_hint(b: Backend) -> &'static str {
    match b {
        Backend::Cluster => "set KUBECONFIG or --context, or run `mlops demo`",
        Backend::Registry => "set MLFLOW_TRACKING_URI, or run `mlops demo`",
        Backend::Metrics => "set MLOPS_PROMETHEUS_URL or --prometheus-url, or run `mlops demo`",
    }
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Draw a selectable table of the rows in `offset..offset+height`, the selected one highlighted.
pub struct ListTable<'a> {
    pub header: Vec<&'static str>,
    pub widths: Vec<Constraint>,
    pub rows: Vec<Row<'a>>,
    /// Index (in `rows`) of the selected row, if it is among them.
    pub selected: Option<usize>,
    pub greyed: bool,
}

impl ListTable<'_> {
    pub fn render(self, app: &App, frame: &mut Frame, area: Rect, block: Block<'_>) {
        let t = &app.prefs.theme;
        let header = Row::new(self.header.iter().map(|h| Cell::from(*h))).style(t.header);
        let rows: Vec<Row> = self
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                if Some(i) == self.selected {
                    r.style(t.selection)
                } else {
                    r
                }
            })
            .collect();
        let mut table = Table::new(rows, self.widths)
            .header(header)
            .block(block)
            .column_spacing(1);
        if self.greyed {
            table = table.style(t.greyed);
        }
        frame.render_widget(table, area);
    }
}

/// What a list view shows around its rows.
pub struct ListSpec<'a> {
    pub title: String,
    pub backend: Backend,
    /// What the rows are, for the empty state ("no rollouts", "loading runs…").
    pub what: &'static str,
    pub header: Vec<&'static str>,
    pub widths: Vec<Constraint>,
    /// A line on the bottom border (e.g. counts by phase, the audit chain's verdict).
    pub bottom: Option<Line<'a>>,
}

/// A list view: the feed's block, the visible window of `items` as rows (the selected one
/// highlighted), or the empty state that says why there is nothing.
pub fn render_list<'a, T, F>(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    feed: &Feed<impl Sized>,
    spec: ListSpec<'a>,
    items: &[T],
    row: F,
) where
    F: Fn(&T) -> Row<'a>,
{
    let (mut block, greyed) = feed_block(app, &spec.title, feed, spec.backend, true);
    if let Some(bottom) = spec.bottom {
        block = block.title_bottom(safe_line(bottom));
    }
    if items.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(empty_state(app, feed, spec.backend, spec.what), inner);
        return;
    }
    let (offset, height) = window(app, area, items.len());
    ListTable {
        header: spec.header,
        widths: spec.widths,
        rows: items.iter().skip(offset).take(height).map(row).collect(),
        selected: app.screen().selected.checked_sub(offset),
        greyed,
    }
    .render(app, frame, area, block);
}

/// The visible window of a list: (offset, height) for `area` with borders and a header row.
pub fn window(app: &App, area: Rect, len: usize) -> (usize, usize) {
    let height = usize::from(area.height.saturating_sub(3));
    let s = app.screen();
    let mut offset = s.offset.min(len.saturating_sub(1));
    if s.selected >= offset + height && height > 0 {
        offset = s.selected + 1 - height;
    }
    (offset, height)
}

pub fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The style a status message of `level` is drawn in, on the bar, in its box and in `:messages`.
pub fn level_style(app: &App, level: crate::app::state::Level) -> ratatui::style::Style {
    let t = &app.prefs.theme;
    match level {
        crate::app::state::Level::Info => t.info,
        crate::app::state::Level::Warn => t.warn,
        crate::app::state::Level::Error => t.err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_sparklines() {
        assert_eq!(bar(50.0, 4), ("██".into(), "··".into()));
        assert_eq!(bar(100.0, 3).0, "███");
        assert_eq!(bar(f64::NAN, 2), (String::new(), "··".into()));
        assert_eq!(bar(12.5, 1), ("▏".into(), String::new()));
        assert_eq!(sparkline(&[0.0, 1.0, 2.0], 10), "▁▅█");
        assert_eq!(sparkline(&[0.0, 0.0], 10), "▁▁");
        assert_eq!(sparkline_to(&[0.0, 1.0, 2.0], 10, 8.0), "▁▂▃");
        assert_eq!(sparkline_to(&[0.3, 0.05], 10, 0.3), "█▂");
    }

    #[test]
    fn ages_are_coarse() {
        let now = Utc::now();
        assert_eq!(age(now, now - chrono::Duration::seconds(5)), "5s");
        assert_eq!(age(now, now - chrono::Duration::seconds(125)), "2m");
        assert_eq!(age_coarse(now, now - chrono::Duration::seconds(5)), "<1m");
        assert_eq!(age(now, now - chrono::Duration::days(3)), "3d");
    }
}
