//! One rollout: where it stands, its step timeline, live canary-versus-stable charts, analysis
//! measurements, approvals and events, and the verbs that act on it.

use mlops_core::{
    analysis::Verdict,
    model::RolloutSeries,
    rollout::RolloutKey,
    rollout::{Phase, RolloutRecord},
};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Style,
    symbols,
    text::{Line, Span},
    widgets::{Axis, Block, BorderType, Borders, Chart, Dataset, GraphType, Paragraph},
};

use super::rollouts::{phase_style, verdict_span};
use crate::{
    app::{Action, App, feeds::Backend, rows},
    ui::widgets::{age_coarse, bar_spans, empty_state, feed_block, truncate},
};

fn boxed<'a>(app: &App, title: &str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.theme.border)
        .title(Span::styled(format!(" {title} "), app.theme.title))
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, key: &RolloutKey) {
    let feed = &app.feeds.cluster;
    let Some(r) = rows::find_rollout(app, key) else {
        let (block, _) = feed_block(app, &key.name, feed, Backend::Cluster, true);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            empty_state(app, feed, Backend::Cluster, "this rollout"),
            inner,
        );
        return;
    };
    let [head, middle, bottom] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(8),
        Constraint::Length(8),
    ])
    .areas(area);
    render_head(app, frame, head, r);
    let [steps, charts] =
        Layout::horizontal([Constraint::Length(34), Constraint::Min(30)]).areas(middle);
    render_steps(app, frame, steps, r);
    render_charts(app, frame, charts, key);
    let [measures, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    render_measurements(app, frame, measures, r);
    render_approvals_events(app, frame, side, r);
}

fn render_head(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord) {
    let t = &app.theme;
    let (block, greyed) = feed_block(
        app,
        &format!("{} · {}/{}", r.name, r.cluster, r.namespace),
        &app.feeds.cluster,
        Backend::Cluster,
        true,
    );
    let mut weight = vec![Span::styled("canary ", t.muted)];
    weight.extend(bar_spans(app, f64::from(r.status.weight), 30, t.canary));
    weight.push(Span::styled(format!(" {}%  ", r.status.weight), t.text));
    weight.push(Span::styled(format!("step {}  ", r.step_label()), t.text));
    weight.push(verdict_span(app, r));
    let hint = |a: Action, label: &str| {
        app.keymap
            .key_for("rollouts", &a)
            .map(|k| {
                vec![
                    Span::styled(k, t.key),
                    Span::styled(format!(" {label}  "), t.muted),
                ]
            })
            .unwrap_or_default()
    };
    let mut keys = Vec::new();
    for (a, l) in [
        (Action::Approve, "approve"),
        (Action::Promote, "promote"),
        (Action::PromoteFull, "full"),
        (Action::Abort, "abort"),
        (Action::Rollback, "rollback"),
        (Action::Pause, "pause"),
        (Action::Resume, "resume"),
    ] {
        keys.extend(hint(a, l));
    }
    let lines = vec![
        Line::from(vec![
            Span::styled("model ", t.muted),
            Span::styled(format!("{} ", r.spec.model.name), t.accent),
            Span::styled(format!("v{} ", r.spec.stable_version), t.stable),
            Span::styled("→ ", t.muted),
            Span::styled(format!("v{}", r.spec.model.version), t.canary),
            Span::styled(
                format!(
                    "   image {}   replicas {}   created {} ago",
                    r.spec.image,
                    r.spec.replicas,
                    age_coarse(app.now, r.created)
                ),
                t.muted,
            ),
        ]),
        Line::from(vec![
            Span::styled("phase ", t.muted),
            Span::styled(r.status.phase.as_str(), phase_style(app, r.status.phase)),
            Span::styled(format!("  {}", r.status.message), t.text),
        ]),
        Line::from(weight),
        Line::from(keys),
    ];
    let p = Paragraph::new(lines).block(block);
    frame.render_widget(if greyed { p.style(t.greyed) } else { p }, area);
}

fn render_steps(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord) {
    let t = &app.theme;
    let done_all = r.status.phase == Phase::Promoted;
    let lines: Vec<Line> = r
        .spec
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (mark, style): (&str, Style) = if done_all || i < r.status.current_step {
                ("✓", t.ok)
            } else if i == r.status.current_step && r.status.phase.is_active() {
                ("▶", t.accent)
            } else if i == r.status.current_step
                && matches!(r.status.phase, Phase::RolledBack | Phase::Failed)
            {
                ("✗", t.err)
            } else {
                ("·", t.muted)
            };
            Line::from(vec![
                Span::styled(format!(" {mark} {:>2}. ", i + 1), style),
                Span::styled(s.to_string(), style),
            ])
        })
        .collect();
    let mut lines = lines;
    let end = match r.status.phase {
        Phase::Promoted => Span::styled(" ✓ promoted", t.ok),
        Phase::RolledBack => Span::styled(" ✗ rolled back", t.err),
        Phase::Failed => Span::styled(" ✗ failed", t.err),
        _ => Span::styled(" · promote", t.muted),
    };
    lines.push(Line::from(end));
    for c in r.status.conditions.iter().filter(|c| !c.status) {
        lines.push(Line::from(Span::styled(
            format!(" {}: {}", c.kind, c.message),
            t.err,
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(boxed(app, "Steps")),
        area,
    );
}

fn render_charts(app: &App, frame: &mut Frame, area: Rect, key: &RolloutKey) {
    let t = &app.theme;
    let feed = app.feeds.series.get(key);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let Some(series) = feed.and_then(|f| f.data.as_ref()) else {
        let b = boxed(app, "Canary vs stable");
        let inner = b.inner(area);
        frame.render_widget(b, area);
        let empty = crate::app::feeds::Feed::<RolloutSeries>::default();
        frame.render_widget(
            empty_state(
                app,
                feed.unwrap_or(&empty),
                Backend::Metrics,
                "canary metrics",
            ),
            inner,
        );
        return;
    };
    chart(
        app,
        frame,
        top,
        "Error rate (%)",
        series,
        &series.canary_error_rate,
        &series.stable_error_rate,
        100.0,
    );
    chart(
        app,
        frame,
        bottom,
        "Latency p99 (ms)",
        series,
        &series.canary_p99_ms,
        &series.stable_p99_ms,
        1.0,
    );
    let _ = t;
}

#[allow(clippy::too_many_arguments)]
fn chart(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    title: &str,
    s: &RolloutSeries,
    canary: &[f64],
    stable: &[f64],
    scale: f64,
) {
    let t = &app.theme;
    let t0 = s.times.first().map_or(0, chrono::DateTime::timestamp);
    let pts = |v: &[f64]| -> Vec<(f64, f64)> {
        s.times
            .iter()
            .zip(v)
            .filter(|(_, y)| y.is_finite())
            .map(|(x, y)| ((x.timestamp() - t0) as f64, y * scale))
            .collect()
    };
    let (c, st) = (pts(canary), pts(stable));
    let ymax = c
        .iter()
        .chain(&st)
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-6)
        * 1.15;
    let xmax = st.last().or(c.last()).map_or(1.0, |p| p.0).max(1.0);
    let last = |v: &[(f64, f64)]| {
        v.last()
            .map_or_else(|| "—".into(), |p| format!("{:.2}", p.1))
    };
    let datasets = vec![
        Dataset::default()
            .name(format!("stable {}", last(&st)))
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.stable)
            .data(&st),
        Dataset::default()
            .name(format!("canary {}", last(&c)))
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.canary)
            .data(&c),
    ];
    let minutes = xmax / 60.0;
    let chart = Chart::new(datasets)
        .block(boxed(app, title))
        .x_axis(
            Axis::default()
                .bounds([0.0, xmax])
                .labels(vec![Span::raw(format!("-{minutes:.0}m")), Span::raw("now")])
                .style(t.muted),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .labels(vec![Span::raw("0"), Span::raw(format!("{ymax:.1}"))])
                .style(t.muted),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::TopLeft))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    frame.render_widget(chart, area);
}

fn render_measurements(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord) {
    let t = &app.theme;
    let rows = usize::from(area.height.saturating_sub(2));
    let mut lines: Vec<Line> = r
        .status
        .measurements
        .iter()
        .rev()
        .take(rows)
        .map(|m| {
            let (mark, style) = match m.verdict {
                Verdict::Pass => ("✓", t.ok),
                Verdict::Fail => ("✗", t.err),
                Verdict::Inconclusive => ("?", t.warn),
            };
            let v = |x: Option<f64>| x.map_or_else(|| "—".into(), |x| format!("{x:.4}"));
            Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::styled(format!("{} ", m.time.format("%H:%M:%S")), t.muted),
                Span::styled(format!("{:<12}", m.metric), t.text),
                Span::styled(format!("canary {:<9}", v(m.canary)), t.canary),
                Span::styled(format!("stable {:<9}", v(m.stable)), t.stable),
                Span::styled(truncate(&m.reason, 30), t.muted),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(" no measurements yet", t.muted)));
    }
    frame.render_widget(
        Paragraph::new(lines).block(boxed(
            app,
            &format!(
                "Analysis (failures {}/{})",
                r.status.failures, r.spec.analysis.failure_limit
            ),
        )),
        area,
    );
}

fn render_approvals_events(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord) {
    let t = &app.theme;
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "approvals {}/{}",
            r.status.approvals.len(),
            r.spec.approval.required
        ),
        t.header,
    ))];
    for a in &r.status.approvals {
        lines.push(Line::from(vec![
            Span::styled(format!(" ✓ {} ", a.user), t.ok),
            Span::styled(format!("{} ", a.time.format("%H:%M")), t.muted),
            Span::styled(truncate(&a.comment, 40), t.text),
        ]));
    }
    lines.push(Line::from(Span::styled("events", t.header)));
    if let Some(snap) = &app.feeds.cluster.data {
        let object = format!("modelrollout/{}", r.name);
        for e in snap
            .events
            .iter()
            .rev()
            .filter(|e| e.object == object && e.cluster == r.cluster)
            .take(6)
        {
            lines.push(Line::from(vec![
                Span::styled(format!(" {} ", e.time.format("%H:%M:%S")), t.muted),
                Span::styled(
                    truncate(&e.message, 60),
                    if e.kind == mlops_core::model::EventKind::Warning {
                        t.warn
                    } else {
                        t.text
                    },
                ),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(boxed(app, "Approvals & events")),
        area,
    );
}
