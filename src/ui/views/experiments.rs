//! Experiments → runs → one run: params, metrics, datasets and metric curves.

use mlops_core::model::{MetricPoint, RunStatus};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Style,
    symbols,
    text::{Line, Span},
    widgets::{Axis, Block, BorderType, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row},
};

use crate::{
    app::{App, feeds::Backend, rows},
    ui::widgets::{ListSpec, age_coarse, render_list, truncate},
};

pub fn render_experiments(app: &App, frame: &mut Frame, area: Rect) {
    let items = rows::experiments(app, &app.screen().filter);
    let spec = ListSpec {
        title: format!("Experiments ({})", items.len()),
        backend: Backend::Registry,
        what: "experiments",
        header: vec!["EXPERIMENT", "ID", "  RUNS", "UPDATED", "TAGS"],
        widths: vec![
            Constraint::Min(20),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
        bottom: None,
    };
    render_list(
        app,
        frame,
        area,
        &app.feeds.experiments,
        spec,
        &items,
        |e| {
            Row::new(vec![
                Cell::from(e.name.clone()),
                Cell::from(e.id.clone()),
                Cell::from(
                    e.run_count
                        .map_or_else(|| "     —".to_string(), |n| format!("{n:>6}")),
                ),
                Cell::from(age_coarse(app.now, e.last_update)),
                Cell::from(
                    e.tags
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            ])
        },
    );
}

fn status_style(app: &App, s: RunStatus) -> Style {
    match s {
        RunStatus::Finished => app.theme.ok,
        RunStatus::Running => app.theme.info,
        RunStatus::Failed => app.theme.err,
        RunStatus::Killed => app.theme.warn,
    }
}

fn metric(v: Option<&f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.4}"))
}

pub fn render_runs(app: &App, frame: &mut Frame, area: Rect, experiment_id: &str) {
    let empty = crate::app::feeds::Feed::default();
    let feed = app.feeds.runs.get(experiment_id).unwrap_or(&empty);
    let items = rows::runs(app, experiment_id, &app.screen().filter);
    let spec = ListSpec {
        title: format!("Runs ({})", items.len()),
        backend: Backend::Registry,
        what: "runs",
        header: vec![
            "RUN", "ID", "STATUS", "USER", "STARTED", "ACCURACY", "AUC", "LOSS", "LR", "DEPTH",
        ],
        widths: vec![
            Constraint::Min(16),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(5),
        ],
        bottom: None,
    };
    render_list(app, frame, area, feed, spec, &items, |r| {
        Row::new(vec![
            Cell::from(r.name.clone()),
            Cell::from(r.id.chars().take(8).collect::<String>()),
            Cell::from(Span::styled(r.status.as_str(), status_style(app, r.status))),
            Cell::from(r.user.clone()),
            Cell::from(age_coarse(app.now, r.start)),
            Cell::from(metric(r.metrics.get("accuracy"))),
            Cell::from(metric(r.metrics.get("auc"))),
            Cell::from(metric(r.metrics.get("loss"))),
            Cell::from(r.params.get("learning_rate").cloned().unwrap_or_default()),
            Cell::from(r.params.get("max_depth").cloned().unwrap_or_default()),
        ])
    });
}

pub fn render_run(app: &App, frame: &mut Frame, area: Rect, experiment_id: &str, run_id: &str) {
    let t = &app.theme;
    let run = app
        .feeds
        .runs
        .get(experiment_id)
        .and_then(|f| f.data.as_ref())
        .and_then(|rs| rs.iter().find(|r| r.id == run_id));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus);
    let Some(run) = run else {
        let inner = block.inner(area);
        frame.render_widget(block.title(" Run "), area);
        frame.render_widget(Paragraph::new(Span::styled("loading run…", t.muted)), inner);
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
    frame.render_widget(
        Paragraph::new(lines).block(block.clone().title(Span::styled(" Run ", t.title))),
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
            Paragraph::new(Span::styled("loading metric history…", t.muted)),
            inner,
        );
        return;
    };
    render_curves(app, frame, chart, chart_block, metrics);
}

fn render_curves(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    metrics: &[(String, Vec<MetricPoint>)],
) {
    let t = &app.theme;
    let styles = [t.accent, t.ok, t.warn, t.canary, t.info];
    // Each curve normalised to 0–1 so metrics of different scales share one chart.
    let data: Vec<(String, Vec<(f64, f64)>)> = metrics
        .iter()
        .filter(|(_, pts)| !pts.is_empty())
        .map(|(k, pts)| {
            let (lo, hi) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                    (lo.min(p.value), hi.max(p.value))
                });
            let span = if hi > lo { hi - lo } else { 1.0 };
            let last = pts.last().map_or(0.0, |p| p.value);
            (
                format!("{k} ({last:.3})"),
                pts.iter()
                    .map(|p| (p.step as f64, (p.value - lo) / span))
                    .collect(),
            )
        })
        .collect();
    let max_step = data
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let datasets: Vec<Dataset> = data
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| {
            Dataset::default()
                .name(name.clone())
                .marker(symbols::Marker::Braille)
                .graph_type(GraphType::Line)
                .style(styles[i % styles.len()])
                .data(pts)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .title(Span::styled("step", t.muted))
                .bounds([0.0, max_step])
                .labels(vec![Span::raw("0"), Span::raw(format!("{max_step:.0}"))])
                .style(t.muted),
        )
        .y_axis(
            Axis::default()
                .title(Span::styled("min–max", t.muted))
                .bounds([0.0, 1.0])
                .labels(vec![Span::raw("min"), Span::raw("max")])
                .style(t.muted),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    frame.render_widget(chart, area);
}
