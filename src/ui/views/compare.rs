//! The Compare view: the marked runs' params and metrics side by side (the best value of each
//! metric highlighted, differing names marked `≠`), and the selected metric's history of every
//! run overlaid in one chart with a legend.

use std::fmt::Write as _;

use mlops_core::{
    compare::{Comparison, Direction, Row as CompareRow},
    model::RunField,
};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Modifier,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Cell, Row, Table, TableState},
};

use crate::{
    app::{App, rows},
    ui::{
        plot::{Axis, Kind, Plot, Series},
        table::shorten,
        widgets::{titled_block, window},
    },
};

/// Width of the kind and name columns.
const KIND: u16 = 6;
const NAME: u16 = 22;

pub fn render(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    diff_only: bool,
    parallel: bool,
    scatter_x: Option<&RunField>,
) {
    let t = &app.prefs.theme;
    let screen = app.screen();
    let Some(c) = rows::comparison(app, screen) else {
        let block = titled_block(app, "Compare", true);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let why = app
            .backend_error(crate::app::feeds::Backend::Registry)
            .map_or_else(
                || "loading the runs…".to_string(),
                |e| {
                    format!(
                        "registry unavailable: {}",
                        mlops_core::text::line(&e.to_string())
                    )
                },
            );
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled(why, t.muted)),
            inner,
        );
        return;
    };
    let rows_all = c.rows(diff_only);
    let table_height = u16::try_from(rows_all.len() + 3)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_mul(3) / 5)
        .max(5);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(6)]).areas(area);
    render_table(app, frame, top, &c, &rows_all, diff_only);
    let metric = rows::compare_chart_metric(app, screen);
    if let Some(x) = scatter_x {
        // The y axis: the selected row, or the first metric when the x axis is selected.
        let y = rows_all
            .get(screen.selected)
            .map(CompareRow::field)
            .filter(|f| f != x)
            .or_else(|| {
                rows_all
                    .iter()
                    .map(CompareRow::field)
                    .find(|f| f != x && matches!(f, RunField::Metric(_)))
            });
        render_scatter(app, frame, bottom, &c, &rows_all, (x, y.as_ref()));
    } else if let Some(m) = metric.as_deref().filter(|_| parallel) {
        render_parallel(app, frame, bottom, &c, m);
    } else if let Some(m) = metric {
        render_histories(app, frame, bottom, &c, &m);
    } else {
        let block = titled_block(app, "History", false);
        let inner = block.inner(bottom);
        frame.render_widget(block, bottom);
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled("these runs logged no metrics", t.muted)),
            inner,
        );
    }
}

fn render_table(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    c: &Comparison,
    rows_all: &[CompareRow],
    diff_only: bool,
) {
    let t = &app.prefs.theme;
    let title = format!(
        "Compare {} runs · {} params and {} metrics differ",
        c.runs.len(),
        c.differing_params.len(),
        c.differing_metrics.len(),
    );
    let keys: Vec<String> = [
        if diff_only {
            "only what differs (= everything)"
        } else {
            "everything (= only what differs)"
        },
        "p params→metric",
        "x scatter",
        "e export",
        "↑↓ best",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let width = usize::from(area.width.saturating_sub(4));
    // As many whole hints as the border holds (the first was cut in the middle at 80
    // columns); `?` lists them all.
    let keys = match mlops_core::text::wrap_items(&keys, width.saturating_sub(10)).as_slice() {
        [all] => format!(" {all} "),
        [first, ..] => format!(" {first} · ? more "),
        [] => String::new(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus)
        .title(Span::styled(
            format!(" {} ", shorten(&title, width)),
            t.title,
        ))
        .title_bottom(Span::styled(keys, t.muted));
    if rows_all.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled(
                "nothing differs between these runs (= shows everything)",
                t.muted,
            )),
            inner,
        );
        return;
    }
    let inner_width = area.width.saturating_sub(2);
    let n = u16::try_from(c.runs.len()).unwrap_or(u16::MAX).max(1);
    // The NAME column as wide as its longest name (with its `≠ `), at most NAME: the runs'
    // names get the rest (they read `dap…doe-136` beside 14 empty columns).
    let name_w = rows_all
        .iter()
        .map(|r| r.name.chars().count() + 2)
        .max()
        .map_or(NAME, |w| u16::try_from(w).unwrap_or(NAME).clamp(4, NAME));
    // Each run gets an equal share of what the name columns leave, at least 8 columns.
    let share = (inner_width.saturating_sub(KIND + name_w + 2) / n)
        .saturating_sub(1)
        .max(8);
    let mut header = vec![
        Cell::from(Span::styled("", t.header)),
        Cell::from(Span::styled("NAME", t.header)),
    ];
    header.extend(c.headers().iter().map(|h| {
        Cell::from(Span::styled(
            shorten(&mlops_core::text::line(h), usize::from(share)),
            t.header,
        ))
    }));
    let (offset, height) = window(app, area, rows_all.len());
    let rows: Vec<Row> = rows_all
        .iter()
        .skip(offset)
        .take(height)
        .map(|r| compare_row(app, c, r, name_w, share))
        .collect();
    let mut widths = vec![Constraint::Length(KIND), Constraint::Length(name_w)];
    widths.extend((0..c.runs.len()).map(|_| Constraint::Length(share)));
    let selected = app.screen().selected.checked_sub(offset);
    let mut state = TableState::default().with_selected(selected);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.header))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(t.selection);
    frame.render_stateful_widget(table, area, &mut state);
}

/// Every compared run's history of `metric`, on one set of axes, each run its glyph and colour,
/// named in the legend under the plot.
fn render_histories(app: &App, frame: &mut Frame, area: Rect, c: &Comparison, metric: &str) {
    let t = &app.prefs.theme;
    let ids: Vec<String> = c.runs.iter().map(|r| r.id.clone()).collect();
    let feed = app.feeds.histories.get(&(metric.to_string(), ids));
    let histories = feed.and_then(|f| f.data.as_ref());
    let waiting = if histories.is_none() { c.runs.len() } else { 0 };
    // One series per run, in the table's order, so a run keeps its glyph and colour.
    let series: Vec<Series> = c
        .runs
        .iter()
        .zip(c.headers())
        .map(|(run, name)| {
            let points: Vec<(f64, f64)> = histories
                .and_then(|h| h.iter().find(|(id, _)| *id == run.id))
                .map(|(_, points)| {
                    points
                        .iter()
                        .filter(|p| p.value.is_finite())
                        .map(|p| (p.step as f64, p.value))
                        .collect()
                })
                .unwrap_or_default();
            let note = if points.is_empty() && histories.is_some() {
                "no history".to_string()
            } else {
                String::new()
            };
            Series { name, points, note }
        })
        .collect();
    let drawn = series.iter().filter(|s| !s.points.is_empty()).count();
    let mut title = format!("{metric} history of {drawn} runs");
    if waiting > 0 {
        let _ = write!(title, " · loading {waiting}…");
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Span::styled(
            format!(" {} ", mlops_core::text::line(&title)),
            t.title,
        ));
    if drawn == 0 {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let text = if let Some(e) = feed.and_then(|f| f.error.as_ref()) {
            format!(
                "history unavailable: {}",
                mlops_core::text::line(&e.to_string())
            )
        } else if waiting > 0 {
            "loading metric histories…".to_string()
        } else {
            format!("no run has a history of {metric}")
        };
        frame.render_widget(
            crate::ui::widgets::paragraph(Line::from(Span::styled(text, t.muted))),
            inner,
        );
        return;
    }
    let points = || series.iter().flat_map(|s| s.points.iter());
    let lo = points().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = points().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let palette = t.series();
    let plot = Plot {
        block,
        kind: Kind::Curves,
        series: &series,
        palette: &palette,
        x: Axis::steps(&series),
        y: Axis {
            bounds: [lo, hi],
            labels: vec![
                mlops_core::compare::number(lo),
                mlops_core::compare::number(hi),
            ],
            title: String::new(),
        },
        focus: None,
        muted: t.muted,
    };
    frame.render_widget(plot, area);
}

/// What each axis spans: on the chart's bottom border when it fits there, else wrapped whole
/// under the chart (on the border it was cut in the middle: `dropout 0.0–0.1 ·…2 ·
/// n_estimators`); the area left for the chart, and the border's text.
fn ranges_under(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    ranges: &[String],
) -> (Rect, Option<String>) {
    // On the border when they fit there whole.
    let one = ranges.join(" · ");
    if one.chars().count() + 4 <= usize::from(area.width.saturating_sub(2)) {
        return (area, Some(format!(" {one} ")));
    }
    let lines = mlops_core::text::wrap_items(ranges, usize::from(area.width.saturating_sub(2)));
    let rows = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(5));
    let [chart, under] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(rows)]).areas(area);
    frame.render_widget(
        crate::ui::widgets::paragraph(
            lines
                .into_iter()
                .map(|l| Line::from(Span::styled(format!(" {l}"), app.prefs.theme.muted)))
                .collect::<Vec<_>>(),
        ),
        under,
    );
    (chart, None)
}

/// The marked runs as lines across the params that differ, ending at `metric` (parallel
/// coordinates): each axis spans its own values, bottom to top, as the line under the chart says.
fn render_parallel(app: &App, frame: &mut Frame, area: Rect, c: &Comparison, metric: &str) {
    let t = &app.prefs.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Span::styled(
            format!(
                " params → {}, parallel coordinates (p: histories) ",
                mlops_core::text::line(metric)
            ),
            t.title,
        ));
    let Some(p) = c.parallel(metric) else {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled(format!("no run logged {metric}"), t.muted)),
            inner,
        );
        return;
    };
    let ranges: Vec<String> = p
        .axes
        .iter()
        .map(|a| format!("{} {}–{}", a.name, a.low, a.high))
        .collect();
    let width = usize::from(area.width.saturating_sub(4));
    let (area, border) = ranges_under(app, frame, area, &ranges);
    let block = match border {
        Some(b) => block.title_bottom(Span::styled(b, t.muted)),
        None => block,
    };
    let series: Vec<Series> = c
        .headers()
        .into_iter()
        .zip(&p.lines)
        .map(|(name, line)| {
            let points = line
                .iter()
                .enumerate()
                .filter_map(|(i, y)| y.map(|y| (i as f64, y)))
                .collect();
            Series {
                name,
                points,
                note: String::new(),
            }
        })
        .collect();
    let last = p.axes.len().saturating_sub(1).max(1) as f64;
    let label_width = width / p.axes.len().max(1);
    let palette = t.series();
    let plot = Plot {
        block,
        kind: Kind::Curves,
        series: &series,
        palette: &palette,
        x: Axis {
            bounds: [0.0, last],
            labels: p
                .axes
                .iter()
                .map(|a| shorten(&a.name, label_width.max(3)))
                .collect(),
            title: String::new(),
        },
        y: Axis {
            bounds: [0.0, 1.0],
            labels: vec!["low".into(), "high".into()],
            title: String::new(),
        },
        focus: None,
        muted: t.muted,
    };
    frame.render_widget(plot, area);
}

/// The compared runs as points, `y` against `x`, each run its glyph and colour, named in the
/// legend under the plot; the best run on `y` (else on `x`) is pointed at with its values. Each
/// axis spans its own values (numbers by their range, other values by their sorted order), as
/// the line under the chart says.
fn render_scatter(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    c: &Comparison,
    rows_all: &[CompareRow],
    (x, y): (&RunField, Option<&RunField>),
) {
    let t = &app.prefs.theme;
    let title = match y {
        Some(y) => format!(" {} against {} (x again: histories) ", y.spec(), x.spec()),
        None => format!(" against {} (x again: histories) ", x.spec()),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Span::styled(
            mlops_core::text::line(&title).into_owned(),
            t.title,
        ));
    let Some((s, y)) = y.and_then(|y| Some((c.scatter(x, y)?, y))) else {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let why = match y {
            Some(y) => format!("no run has both {} and {}", x.spec(), y.spec()),
            None => "select another param or metric for the y axis".to_string(),
        };
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled(why, t.muted)),
            inner,
        );
        return;
    };
    let ranges = [
        format!("x {} {}–{}", s.x.name, s.x.low, s.x.high),
        format!("y {} {}–{}", s.y.name, s.y.low, s.y.high),
    ];
    let (area, border) = ranges_under(app, frame, area, &ranges);
    let block = match border {
        Some(b) => block.title_bottom(Span::styled(b, t.muted)),
        None => block,
    };
    // One series per run, in the table's order, so a run keeps its glyph and colour.
    let series: Vec<Series> = c
        .headers()
        .into_iter()
        .zip(&s.points)
        .map(|(name, p)| Series {
            name,
            points: p.iter().copied().collect(),
            note: if p.is_some() {
                String::new()
            } else {
                "no value".into()
            },
        })
        .collect();
    let palette = t.series();
    let axis = |a: &mlops_core::compare::Axis| Axis {
        bounds: [-0.05, 1.05],
        labels: vec![a.low.clone(), a.high.clone()],
        title: String::new(),
    };
    let plot = Plot {
        block,
        kind: Kind::Points,
        series: &series,
        palette: &palette,
        x: axis(&s.x),
        y: axis(&s.y),
        focus: match app.screen().point {
            Some(i) => pointed(rows_all, &s.points, x, y, i),
            None => scatter_focus(rows_all, &s.points, x, y),
        },
        muted: t.muted,
    };
    frame.render_widget(plot, area);
}

/// The run the user pointed at with `<` / `>`, with its values as the table shows them (or that
/// it has none to plot).
fn pointed(
    rows_all: &[CompareRow],
    points: &[Option<(f64, f64)>],
    x: &RunField,
    y: &RunField,
    i: usize,
) -> Option<(usize, String)> {
    let row = |f: &RunField| rows_all.iter().find(|r| r.field() == *f);
    let (x_row, y_row) = (row(x)?, row(y)?);
    let value = |r: &CompareRow| {
        r.values
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "—".into())
    };
    let note = if points.get(i).copied().flatten().is_some() {
        "< > other runs"
    } else {
        "not plotted: a value is missing; < > other runs"
    };
    Some((
        i,
        format!("x={}, y={} ({note})", value(x_row), value(y_row)),
    ))
}

/// The run the scatter points at: the best on `y`, else on `x` (a param has no best), with its
/// values as the table shows them.
fn scatter_focus(
    rows_all: &[CompareRow],
    points: &[Option<(f64, f64)>],
    x: &RunField,
    y: &RunField,
) -> Option<(usize, String)> {
    let row = |f: &RunField| rows_all.iter().find(|r| r.field() == *f);
    let (x_row, y_row) = (row(x)?, row(y)?);
    let (axis, best) = [(y, y_row), (x, x_row)]
        .into_iter()
        .find_map(|(f, r)| Some((f, r.best?)))?;
    points.get(best).copied().flatten()?;
    let value = |r: &CompareRow| {
        r.values
            .get(best)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "—".into())
    };
    let name = match axis {
        RunField::Metric(m) | RunField::Param(m) => m,
    };
    Some((
        best,
        format!("x={}, y={} (best {name})", value(x_row), value(y_row)),
    ))
}

/// One param or metric across the runs: `≠` where they differ, the best value in bold with the
/// way its metric improves.
fn compare_row<'a>(app: &App, c: &Comparison, r: &CompareRow, name_w: u16, share: u16) -> Row<'a> {
    let t = &app.prefs.theme;
    let name = if r.differs {
        format!("≠ {}", r.name)
    } else {
        format!("  {}", r.name)
    };
    let name_style = if r.differs { t.warn } else { t.text };
    let mut cells = vec![
        Cell::from(Span::styled(r.kind, t.muted)),
        Cell::from(Span::styled(
            shorten(&mlops_core::text::line(&name), usize::from(name_w)),
            name_style,
        )),
    ];
    cells.extend(r.values.iter().enumerate().map(|(i, v)| {
        let text = v.as_deref().unwrap_or("—");
        let best = r.best == Some(i) && r.differs;
        let style = if best {
            t.ok.add_modifier(Modifier::BOLD)
        } else if v.is_none() {
            t.muted
        } else {
            t.text
        };
        let shown = if best {
            let arrow = match c.best.get(&r.name).map(|b| b.direction) {
                Some(Direction::Lower) => "↓",
                _ => "↑",
            };
            format!("{arrow}{text}")
        } else {
            text.to_string()
        };
        Cell::from(Span::styled(
            shorten(&mlops_core::text::line(&shown), usize::from(share)),
            style,
        ))
    }));
    Row::new(cells)
}
