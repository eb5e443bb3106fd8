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
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::{Axis, Block, BorderType, Borders, Cell, Row, Table, TableState},
};

use crate::{
    app::{App, rows},
    ui::{
        table::shorten,
        widgets::{line_chart, scatter_chart, step_chart, titled_block, window},
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
        render_scatter(app, frame, bottom, &c, x, y.as_ref());
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
    let keys = if diff_only {
        " only what differs (= everything) · p params→metric · x scatter · e export · ↑↓ best "
    } else {
        " everything (= only what differs) · p params→metric · x scatter · e export · ↑↓ best "
    };
    let width = usize::from(area.width.saturating_sub(4));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus)
        .title(Span::styled(
            format!(" {} ", shorten(&title, width)),
            t.title,
        ))
        .title_bottom(Span::styled(shorten(keys, width), t.muted));
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
    // Each run gets an equal share of what the name columns leave, at least 8 columns.
    let share = (inner_width.saturating_sub(KIND + NAME + 2) / n)
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
        .map(|r| compare_row(app, c, r, share))
        .collect();
    let mut widths = vec![Constraint::Length(KIND), Constraint::Length(NAME)];
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

/// Every compared run's history of `metric`, on one set of axes, with a legend of run names.
fn render_histories(app: &App, frame: &mut Frame, area: Rect, c: &Comparison, metric: &str) {
    let t = &app.prefs.theme;
    let styles: [Style; 8] = [
        t.accent, t.ok, t.warn, t.canary, t.info, t.stable, t.err, t.title,
    ];
    let headers = c.headers();
    let ids: Vec<String> = c.runs.iter().map(|r| r.id.clone()).collect();
    let feed = app.feeds.histories.get(&(metric.to_string(), ids));
    let histories = feed.and_then(|f| f.data.as_ref());
    let waiting = if histories.is_none() { c.runs.len() } else { 0 };
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (run, label) in c.runs.iter().zip(&headers) {
        let Some((_, points)) = histories.and_then(|h| h.iter().find(|(id, _)| *id == run.id))
        else {
            continue;
        };
        let pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.value.is_finite())
            .map(|p| (p.step as f64, p.value))
            .collect();
        if !pts.is_empty() {
            series.push((label.clone(), pts));
        }
    }
    let mut title = format!("{metric} history of {} runs", series.len());
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
    if series.is_empty() {
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
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, pts) in &series {
        for (_, y) in pts {
            lo = lo.min(*y);
            hi = hi.max(*y);
        }
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let chart = step_chart(app, block, &series, &styles)
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels(vec![
                    Span::raw(mlops_core::compare::number(lo)),
                    Span::raw(mlops_core::compare::number(hi)),
                ])
                .style(t.muted),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 1)));
    frame.render_widget(chart, area);
}

/// The marked runs as lines across the params that differ, ending at `metric` (parallel
/// coordinates): each axis spans its own values, bottom to top, as the line under the chart says.
fn render_parallel(app: &App, frame: &mut Frame, area: Rect, c: &Comparison, metric: &str) {
    let t = &app.prefs.theme;
    let styles: [Style; 8] = [
        t.accent, t.ok, t.warn, t.canary, t.info, t.stable, t.err, t.title,
    ];
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
    let ranges = p
        .axes
        .iter()
        .map(|a| format!("{} {}–{}", a.name, a.low, a.high))
        .collect::<Vec<_>>()
        .join(" · ");
    let width = usize::from(area.width.saturating_sub(4));
    let block = block.title_bottom(Span::styled(
        shorten(&format!(" {ranges} "), width),
        t.muted,
    ));
    let series: Vec<(String, Vec<(f64, f64)>)> = c
        .headers()
        .into_iter()
        .zip(&p.lines)
        .map(|(name, line)| {
            let points = line
                .iter()
                .enumerate()
                .filter_map(|(i, y)| y.map(|y| (i as f64, y)))
                .collect();
            (name, points)
        })
        .collect();
    let last = p.axes.len().saturating_sub(1).max(1) as f64;
    let label_width = width / p.axes.len().max(1);
    let chart = line_chart(block, &series, &styles)
        .x_axis(
            Axis::default()
                .bounds([0.0, last])
                .labels(
                    p.axes
                        .iter()
                        .map(|a| Span::raw(shorten(&a.name, label_width.max(3))))
                        .collect::<Vec<_>>(),
                )
                .style(t.muted),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, 1.0])
                .labels(vec![Span::raw("low"), Span::raw("high")])
                .style(t.muted),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 1)));
    frame.render_widget(chart, area);
}

/// The compared runs as points, `y` against `x`, each run its colour in the legend; each axis
/// spans its own values (numbers by their range, other values by their sorted order), as the
/// line under the chart says.
fn render_scatter(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    c: &Comparison,
    x: &RunField,
    y: Option<&RunField>,
) {
    let t = &app.prefs.theme;
    let styles: [Style; 8] = [
        t.accent, t.ok, t.warn, t.canary, t.info, t.stable, t.err, t.title,
    ];
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
    let Some(s) = y.and_then(|y| c.scatter(x, y)) else {
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
    let width = usize::from(area.width.saturating_sub(4));
    let ranges = format!(
        " x {} {}–{} · y {} {}–{} ",
        s.x.name, s.x.low, s.x.high, s.y.name, s.y.low, s.y.high
    );
    let block = block.title_bottom(Span::styled(shorten(&ranges, width), t.muted));
    let series: Vec<(String, Vec<(f64, f64)>)> = c
        .headers()
        .into_iter()
        .zip(&s.points)
        .filter_map(|(name, p)| p.map(|p| (name, vec![p])))
        .collect();
    let chart = scatter_chart(block, &series, &styles)
        .x_axis(
            Axis::default()
                .bounds([-0.05, 1.05])
                .labels(vec![
                    Span::raw(s.x.low.clone()),
                    Span::raw(s.x.high.clone()),
                ])
                .style(t.muted),
        )
        .y_axis(
            Axis::default()
                .bounds([-0.05, 1.05])
                .labels(vec![
                    Span::raw(s.y.low.clone()),
                    Span::raw(s.y.high.clone()),
                ])
                .style(t.muted),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 1)));
    frame.render_widget(chart, area);
}

/// One param or metric across the runs: `≠` where they differ, the best value in bold with the
/// way its metric improves.
fn compare_row<'a>(app: &App, c: &Comparison, r: &CompareRow, share: u16) -> Row<'a> {
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
            shorten(&mlops_core::text::line(&name), usize::from(NAME)),
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
