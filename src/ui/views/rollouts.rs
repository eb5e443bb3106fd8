//! Rollouts: every canary with phase, weight bar, step k/n, analysis verdict and age; rows that
//! need a human first.

use mlops_core::{
    analysis::Verdict,
    rollout::{Phase, RolloutRecord},
};
use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Cell, Row},
};

use crate::{
    app::{App, feeds::Backend, rows},
    ui::widgets::{ListSpec, age_coarse, bar_spans, render_list},
};

pub fn phase_style(app: &App, p: Phase) -> Style {
    let t = &app.theme;
    match p {
        Phase::AwaitingApproval | Phase::Paused => t.warn,
        Phase::RollingBack | Phase::RolledBack | Phase::Failed => t.err,
        Phase::Promoted => t.ok,
        Phase::Progressing | Phase::Promoting | Phase::Pending => t.info,
    }
}

pub fn verdict_span<'a>(app: &App, r: &RolloutRecord) -> Span<'a> {
    let t = &app.theme;
    match r.status.latest_verdict() {
        Some(Verdict::Pass) => Span::styled("✓ pass", t.ok),
        Some(Verdict::Fail) => Span::styled(
            format!(
                "✗ fail {}/{}",
                r.status.failures, r.spec.analysis.failure_limit
            ),
            t.err,
        ),
        Some(Verdict::Inconclusive) => Span::styled("? inconclusive", t.warn),
        None => Span::styled("—", t.muted),
    }
}

pub fn row<'a>(app: &App, r: &RolloutRecord, wide: bool) -> Row<'a> {
    let t = &app.theme;
    let mut weight = bar_spans(app, f64::from(r.status.weight), 10, t.canary);
    weight.push(Span::styled(format!(" {:>3}%", r.status.weight), t.text));
    let mut cells = vec![
        Cell::from(r.name.clone()),
        Cell::from(Span::styled(
            r.status.phase.as_str(),
            phase_style(app, r.status.phase),
        )),
        Cell::from(Line::from(weight)),
        Cell::from(r.step_label()),
        Cell::from(verdict_span(app, r)),
    ];
    if wide {
        cells.insert(1, Cell::from(r.cluster.clone()));
        cells.insert(
            2,
            Cell::from(format!(
                "v{} → v{}",
                r.spec.stable_version, r.spec.model.version
            )),
        );
        cells.push(Cell::from(age_coarse(app.now, r.created)));
    }
    Row::new(cells)
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let items = rows::rollouts(app, &app.screen().filter);
    let spec = ListSpec {
        title: format!("Rollouts ({})", items.len()),
        backend: Backend::Cluster,
        what: "rollouts",
        header: vec![
            "NAME",
            "CLUSTER",
            "VERSIONS",
            "PHASE",
            "CANARY WEIGHT",
            "STEP",
            "ANALYSIS",
            "AGE",
        ],
        widths: vec![
            Constraint::Min(20),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(5),
            Constraint::Length(14),
            Constraint::Length(4),
        ],
        bottom: None,
    };
    render_list(app, frame, area, &app.feeds.cluster, spec, &items, |r| {
        row(app, r, true)
    });
}
