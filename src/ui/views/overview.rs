//! Overview: rollouts by phase (those needing a human first), drift alerts, the GPU summary per
//! cluster, and recent events — what an on-call engineer needs in five seconds.

use std::collections::BTreeMap;

use mlops_core::{
    model::{EventKind, GpuSummary},
    rollout::Phase,
};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::Paragraph,
};

use super::rollouts::{phase_style, row as rollout_row};
use crate::{
    app::{App, feeds::Backend, rows},
    ui::widgets::{
        ListSpec, age_coarse, bar_spans, empty_state, feed_block, render_list, truncate,
    },
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let (rollouts, drift, gpus, events) = if area.width >= 110 {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
        let [rollouts, drift] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(top);
        let [gpus, events] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(bottom);
        (rollouts, drift, gpus, events)
    } else {
        // Narrow terminals: the rollouts get the full width, the rest stacks below.
        let rows =
            u16::try_from(rows::rollouts(app, &app.screen().filter).len()).unwrap_or(u16::MAX);
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length((rows + 3).clamp(5, area.height / 2)),
            Constraint::Length(7),
            Constraint::Min(3),
        ])
        .areas(area);
        let [gpus, drift] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(middle);
        (top, drift, gpus, bottom)
    };
    render_rollouts(app, frame, rollouts);
    render_drift(app, frame, drift);
    render_gpus(app, frame, gpus);
    render_events(app, frame, events);
}

fn render_rollouts(app: &App, frame: &mut Frame, area: Rect) {
    let items = rows::rollouts(app, &app.screen().filter);
    let mut counts: BTreeMap<Phase, usize> = BTreeMap::new();
    for r in &items {
        *counts.entry(r.status.phase).or_default() += 1;
    }
    let summary: Vec<Span> = counts
        .iter()
        .map(|(p, n)| Span::styled(format!(" {n} {p} "), phase_style(app, *p)))
        .collect();
    let spec = ListSpec {
        title: "Rollouts".into(),
        backend: Backend::Cluster,
        what: "rollouts",
        header: vec!["ROLLOUT", "PHASE", "CANARY WEIGHT", "STEP", "ANALYSIS"],
        widths: vec![
            Constraint::Min(18),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(5),
            Constraint::Length(13),
        ],
        bottom: Some(Line::from(summary)),
    };
    render_list(app, frame, area, &app.feeds.cluster, spec, &items, |r| {
        rollout_row(app, r, false)
    });
}

fn render_drift(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let feed = &app.feeds.drift;
    let alerts = rows::drift_alerts(app);
    let (block, greyed) = feed_block(
        app,
        &format!("Drift alerts ({})", alerts.len()),
        feed,
        Backend::Metrics,
        false,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if feed.data.is_none() {
        frame.render_widget(
            empty_state(app, feed, Backend::Metrics, "drift data"),
            inner,
        );
        return;
    }
    let mut lines: Vec<Line> = alerts
        .iter()
        .take(usize::from(inner.height))
        .map(|d| {
            let style = if d.report.status == mlops_core::drift::DriftStatus::Drifted {
                t.err
            } else {
                t.warn
            };
            Line::from(vec![
                Span::styled(format!("{:<8}", d.report.status.as_str()), style),
                Span::styled(truncate(&d.model, 16), t.text),
                Span::styled(format!(" {} ", truncate(&d.feature, 16)), t.accent),
                Span::styled(format!("PSI {:.2}", d.report.psi), t.muted),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "no drift: every monitored feature is within thresholds",
            t.ok,
        )));
    }
    let p = Paragraph::new(lines);
    frame.render_widget(if greyed { p.style(t.greyed) } else { p }, inner);
}

fn render_gpus(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let feed = &app.feeds.gpus;
    let (block, greyed) = feed_block(app, "GPUs", feed, Backend::Metrics, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(gpus) = &feed.data else {
        frame.render_widget(
            empty_state(app, feed, Backend::Metrics, "GPU metrics"),
            inner,
        );
        return;
    };
    let mut clusters: Vec<&str> = gpus.iter().map(|g| g.cluster.as_str()).collect();
    clusters.dedup();
    let mut lines = Vec::new();
    let all = GpuSummary::of(gpus);
    lines.push(Line::from(vec![
        Span::styled(format!("{} GPUs  ", all.total), t.text),
        Span::styled(format!("{} allocated  ", all.allocated), t.info),
        Span::styled(
            format!("{} allocated but idle", all.allocated_idle),
            if all.allocated_idle > 0 { t.warn } else { t.ok },
        ),
    ]));
    lines.push(Line::from(Span::styled(
        format!("{:.1} kW drawn", all.power_w / 1000.0),
        t.muted,
    )));
    for c in clusters {
        let subset: Vec<_> = gpus.iter().filter(|g| g.cluster == c).cloned().collect();
        let s = GpuSummary::of(&subset);
        let mut spans = vec![Span::styled(format!("{:<9}", truncate(c, 9)), t.text)];
        spans.extend(bar_spans(app, s.mean_util_pct, 12, t.bar));
        spans.push(Span::styled(format!(" {:>3.0}% ", s.mean_util_pct), t.text));
        spans.push(Span::styled(
            format!("{}/{}", s.allocated, s.total),
            t.muted,
        ));
        if s.allocated_idle > 0 {
            spans.push(Span::styled(format!(" {} idle", s.allocated_idle), t.warn));
        }
        lines.push(Line::from(spans));
    }
    let p = Paragraph::new(lines);
    frame.render_widget(if greyed { p.style(t.greyed) } else { p }, inner);
}

fn render_events(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let feed = &app.feeds.cluster;
    let (block, greyed) = feed_block(app, "Recent events", feed, Backend::Cluster, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(snap) = &feed.data else {
        frame.render_widget(empty_state(app, feed, Backend::Cluster, "events"), inner);
        return;
    };
    let width = usize::from(inner.width);
    let lines: Vec<Line> = snap
        .events
        .iter()
        .rev()
        .take(usize::from(inner.height))
        .map(|e| {
            let style = if e.kind == EventKind::Warning {
                t.warn
            } else {
                t.muted
            };
            let head = format!(
                "{:>4} {:<13} ",
                age_coarse(app.now, e.time),
                truncate(&e.reason, 13)
            );
            let rest = format!(
                "{} {}",
                e.object.trim_start_matches("modelrollout/"),
                e.message
            );
            Line::from(vec![
                Span::styled(head.clone(), style),
                Span::styled(
                    truncate(&rest, width.saturating_sub(head.chars().count())),
                    t.text,
                ),
            ])
        })
        .collect();
    let p = Paragraph::new(lines);
    frame.render_widget(if greyed { p.style(t.greyed) } else { p }, inner);
}
