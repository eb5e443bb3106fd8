//! Rollouts: every canary with phase, weight bar, step k/n, analysis verdict and age; rows that
//! need a human first.

use mlops_core::{
    analysis::Verdict,
    rollout::{Phase, RolloutRecord},
};
use ratatui::{
    Frame,
    layout::Rect,
    style::Style,
    text::{Line, Span},
    widgets::Cell,
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{self, table::Column},
    },
    ui::{
        table::{TableSpec, render_table},
        widgets::{age_coarse, bar_spans},
    },
};

pub fn phase_style(app: &App, p: Phase) -> Style {
    let t = &app.prefs.theme;
    match p {
        Phase::AwaitingApproval | Phase::Paused => t.warn,
        Phase::RollingBack | Phase::RolledBack | Phase::Failed => t.err,
        Phase::Promoted => t.ok,
        Phase::Progressing | Phase::Promoting | Phase::Pending => t.info,
    }
}

/// The phase as the list shows it: a timed pause step reads `Pausing 85s`, distinct from an
/// operator's `Paused`.
pub fn phase_label(app: &App, r: &RolloutRecord) -> String {
    match r.pause_left(app.now) {
        Some(left) => format!("Pausing {left}s"),
        None => r.status.phase.as_str().to_string(),
    }
}

pub fn verdict_span<'a>(app: &App, r: &RolloutRecord) -> Span<'a> {
    let t = &app.prefs.theme;
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

/// One cell of a rollout row, styled, in `width` cells.
pub fn cell<'a>(
    app: &App,
    r: &RolloutRecord,
    c: &Column<RolloutRecord>,
    width: u16,
) -> Option<Cell<'a>> {
    let t = &app.prefs.theme;
    Some(match c.field {
        "phase" => Cell::from(Span::styled(
            crate::ui::table::shorten(&phase_label(app, r), usize::from(width)),
            phase_style(app, r.status.phase),
        )),
        "weight" => {
            let pct = format!("{:>3}%", r.status.weight);
            let bar = usize::from(width).saturating_sub(pct.len() + 1);
            if bar >= 4 {
                let mut spans = bar_spans(app, f64::from(r.status.weight), bar, t.canary);
                spans.push(Span::styled(format!(" {pct}"), t.text));
                Cell::from(Line::from(spans))
            } else {
                Cell::from(Span::styled(pct, t.canary))
            }
        }
        "analysis" => {
            let s = verdict_span(app, r);
            let text = crate::ui::table::shorten(&s.content, usize::from(width));
            Cell::from(Span::styled(text, s.style))
        }
        "age" => Cell::from(age_coarse(app.now, r.created)),
        "model" => Cell::from(crate::ui::table::shorten(
            &format!("v{} → v{}", r.spec.stable_version, r.spec.model.version),
            usize::from(width),
        )),
        _ => return None,
    })
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let items = rows::rollouts(app, app.screen());
    let spec = TableSpec {
        title: format!("Rollouts ({})", items.len()),
        backend: Backend::Cluster,
        what: "rollouts",
        columns: rows::rollouts::columns(),
        bottom: None,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(
        app,
        frame,
        area,
        &app.feeds.cluster,
        spec,
        &items,
        |r, c, w| cell(app, r, c, w),
    );
}
