//! Experiments → runs → one run: params, metrics, datasets and metric curves.

use std::fmt::Write as _;

use mlops_core::model::{MetricPoint, RunStatus};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Cell},
};

use crate::{
    app::{App, feeds::Backend, rows, screens::ScreenKind},
    ui::{
        plot::{Axis, Kind, Plot, Series},
        table::{TableSpec, render_table, shorten},
        widgets::{age_coarse, truncate},
    },
};

pub fn render_experiments(app: &App, frame: &mut Frame, area: Rect) {
    let items = rows::experiments(app, app.screen());
    let spec = TableSpec {
        title: format!("Experiments ({})", items.len()),
        backend: Backend::Registry,
        what: "experiments",
        columns: rows::experiments::columns(),
        bottom: None,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(
        app,
        frame,
        area,
        &app.feeds.experiments,
        spec,
        &items,
        |e, c, _| (c.field == "updated").then(|| Cell::from(age_coarse(app.now, e.last_update))),
    );
}

fn status_style(app: &App, s: RunStatus) -> Style {
    match s {
        RunStatus::Finished => app.prefs.theme.ok,
        RunStatus::Running => app.prefs.theme.info,
        RunStatus::Failed => app.prefs.theme.err,
        RunStatus::Killed => app.prefs.theme.warn,
    }
}

pub fn render_runs(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let empty = crate::app::feeds::Feed::default();
    let feed = rows::run_list(app, app.screen()).unwrap_or(&empty);
    let list = feed.data.as_ref();
    let items = rows::runs(app, app.screen());
    let held = list.map_or(0, |l| l.runs.len());
    let loaded = list.map_or(0, crate::app::feeds::RunList::read);
    let skipped = list.map_or(0, crate::app::feeds::RunList::skipped);
    let more = list.is_some_and(|l| l.next.is_some());
    let filter = match &app.screen().kind {
        ScreenKind::Runs { filter, .. } => filter.trim(),
        _ => "",
    };
    // How many are loaded, and whether the server has more (read as the list scrolls).
    let mut title = if list.is_none() {
        "Runs".to_string()
    } else if items.len() == held {
        format!(
            "Runs ({loaded}{})",
            if more { "+ · more as you scroll" } else { "" }
        )
    } else {
        format!(
            "Runs ({} of {held}{} loaded)",
            items.len(),
            if more || held < loaded { "+" } else { "" }
        )
    };
    // Pages scrolled far past are dropped (memory stays bounded) and read again on the way back.
    if held < loaded {
        let _ = write!(title, " · {}–{} held", skipped + 1, skipped + held);
    }
    if !filter.is_empty() {
        let _ = write!(title, " · server filter: {}", truncate(filter, 48));
    }
    if !app.runs.marks.is_empty() {
        let _ = write!(title, " · {} marked", app.runs.marks.len());
    }
    if let Some(rejected) = list.and_then(|l| l.rejected.as_ref()) {
        // The server's own words: what it refused, without our "mlflow:" in front.
        let rejected = match rejected {
            mlops_core::CoreError::Rejected { message, .. } => message.clone(),
            other => other.to_string(),
        };
        // The server refused the filter: its message in place of the rows; the registry is up.
        let block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(t.border_focus)
            .title(Span::styled(
                format!(" {} ", mlops_core::text::line(&title)),
                t.title,
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let lines = vec![
            Line::from(Span::styled(
                if filter.is_empty() {
                    "the server refused this search:"
                } else {
                    "the server refused this filter:"
                },
                t.warn,
            )),
            Line::from(Span::styled(
                mlops_core::text::line(&rejected).into_owned(),
                t.err,
            )),
            Line::from(""),
            Line::from(Span::styled(
                "f edits it (MLflow syntax: metrics.loss < 0.3 and params.optimizer = 'adam'); an empty filter shows every run",
                t.muted,
            )),
        ];
        frame.render_widget(
            crate::ui::widgets::paragraph(lines).wrap(ratatui::widgets::Wrap { trim: false }),
            inner,
        );
        return;
    }
    let spec = TableSpec {
        title,
        backend: Backend::Registry,
        what: "runs",
        columns: rows::experiments::run_columns::columns(app, app.screen()),
        bottom: None,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(app, frame, area, feed, spec, &items, |r, c, w| {
        match c.field {
            "name" if app.runs.marks.iter().any(|m| m.id == r.id) => Some(Cell::from(
                Span::styled(shorten(&format!("● {}", r.name), usize::from(w)), t.accent),
            )),
            "status" => Some(Cell::from(Span::styled(
                shorten(r.status.as_str(), usize::from(w)),
                status_style(app, r.status),
            ))),
            "started" => Some(Cell::from(age_coarse(app.now, r.start))),
            _ => None,
        }
    });
}

pub fn render_run(app: &App, frame: &mut Frame, area: Rect, run_id: &str) {
    let t = &app.prefs.theme;
    let run = rows::lineage::find_run(app, run_id);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus);
    let Some(run) = run else {
        let inner = block.inner(area);
        frame.render_widget(block.title(" Run "), area);
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled("loading run…", t.muted)),
            inner,
        );
        return;
    };
    let [info, chart] =
        Layout::horizontal([Constraint::Length(46), Constraint::Min(20)]).areas(area);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("run      ", t.muted),
            Span::styled(run.name.clone(), t.title),
        ]),
        Line::from(vec![
            Span::styled("id       ", t.muted),
            Span::raw(run.id.clone()),
        ]),
        Line::from(vec![
            Span::styled("status   ", t.muted),
            Span::styled(run.status.as_str(), status_style(app, run.status)),
        ]),
        Line::from(vec![
            Span::styled("user     ", t.muted),
            Span::raw(run.user.clone()),
        ]),
        Line::from(vec![
            Span::styled("started  ", t.muted),
            Span::raw(run.start.format("%Y-%m-%d %H:%M UTC").to_string()),
        ]),
        Line::from(""),
        Line::from(Span::styled("params", t.header)),
    ];
    for (k, v) in &run.params {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<16}"), t.muted),
            Span::raw(v.clone()),
        ]));
    }
    lines.push(Line::from(Span::styled("metrics", t.header)));
    for (k, v) in &run.metrics {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<16}"), t.muted),
            Span::raw(format!("{v:.4}")),
        ]));
    }
    lines.push(Line::from(Span::styled("datasets", t.header)));
    for d in &run.datasets {
        lines.push(Line::from(vec![
            Span::styled(format!("  {}", truncate(&d.name, 22)), t.accent),
            Span::styled(format!(" {} {}", d.digest, d.region), t.muted),
        ]));
    }
    logged_models(app, run, &mut lines);
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .block(block.clone().title(Span::styled(" Run ", t.title))),
        info,
    );

    let metrics = app
        .feeds
        .run_metrics
        .get(run_id)
        .and_then(|f| f.data.as_ref());
    let chart_block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Span::styled(" Metric history ", t.title));
    let Some(metrics) = metrics else {
        let inner = chart_block.inner(chart);
        frame.render_widget(chart_block, chart);
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled("loading metric history…", t.muted)),
            inner,
        );
        return;
    };
    render_curves(app, frame, chart, chart_block, metrics);
}

/// The models a run logged (MLflow 3): what it produced, registered or not.
fn logged_models(app: &App, run: &mlops_core::model::Run, lines: &mut Vec<Line<'static>>) {
    let t = &app.prefs.theme;
    lines.push(Line::from(Span::styled("logged models", t.header)));
    let logged = app
        .feeds
        .logged_models
        .get(&(run.experiment_id.clone(), run.id.clone()));
    match logged.map(|f| (f.data.as_ref(), f.error.as_ref())) {
        Some((Some(models), _)) if !models.is_empty() => {
            for m in models {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {}", truncate(&m.name, 26)), t.accent),
                    Span::styled(
                        format!(
                            " {}{}",
                            m.status,
                            m.model_type
                                .as_deref()
                                .map(|k| format!(" · {k}"))
                                .unwrap_or_default()
                        ),
                        t.muted,
                    ),
                ]));
                lines.push(Line::from(Span::styled(format!("    {}", m.id), t.muted)));
            }
        }
        Some((Some(_), _)) => lines.push(Line::from(Span::styled("  none", t.muted))),
        Some((None, Some(e))) => lines.push(Line::from(Span::styled(
            format!("  unavailable: {}", mlops_core::text::line(&e.to_string())),
            t.warn,
        ))),
        _ => lines.push(Line::from(Span::styled("  loading…", t.muted))),
    }
}

/// Every metric's curve on one chart, each on its own scale (its lowest value at the bottom, its
/// highest at the top), so metrics of different scales share it: the legend under the plot names
/// each by glyph and colour with its own lowest and highest value, the ends of its axis.
fn render_curves(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    metrics: &[(String, Vec<MetricPoint>)],
) {
    let t = &app.prefs.theme;
    let number = crate::ui::plot::short_number;
    let series: Vec<Series> = metrics
        .iter()
        .filter(|(_, pts)| !pts.is_empty())
        .map(|(k, pts)| {
            let (lo, hi) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                    (lo.min(p.value), hi.max(p.value))
                });
            let span = if hi > lo { hi - lo } else { 1.0 };
            Series {
                name: k.clone(),
                points: pts
                    .iter()
                    .map(|p| (p.step as f64, (p.value - lo) / span))
                    .collect(),
                note: format!("min {} max {}", number(lo), number(hi)),
            }
        })
        .collect();
    let palette = t.series();
    let plot = Plot {
        block,
        kind: Kind::Curves,
        series: &series,
        palette: &palette,
        x: Axis::steps(&series),
        y: Axis {
            bounds: [0.0, 1.0],
            labels: vec!["min".into(), "max".into()],
            title: String::new(),
        },
        focus: None,
        muted: t.muted,
    };
    frame.render_widget(plot, area);
}
