//! One rollout: where it stands, its step timeline, live canary-versus-stable charts, analysis
//! measurements, approvals and events, and the verbs that act on it.

use mlops_core::{
    analysis::{MetricKind, Verdict},
    model::RolloutSeries,
    rollout::{self, Command, Phase, RolloutKey, RolloutRecord, Verb},
};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Style,
    symbols,
    text::{Line, Span},
    widgets::{Axis, Block, BorderType, Borders, Chart, Dataset, GraphType},
};

use super::rollouts::{phase_label, phase_style, verdict_span};
use crate::{
    app::{Action, App, feeds::Backend, rows},
    ui::widgets::{age_coarse, bar_spans, empty_state, feed_block},
};

fn boxed<'a>(app: &App, title: &str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.prefs.theme.border)
        .title(Span::styled(
            format!(" {} ", mlops_core::text::line(title)),
            app.prefs.theme.title,
        ))
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
    if area.height < COMPACT_BELOW {
        render_compact(app, frame, area, r, key);
        return;
    }
    let head_text = head_lines(app, r, None);
    let [head, middle, bottom] = Layout::vertical([
        Constraint::Length(head_height(&head_text, area.width)),
        Constraint::Min(8),
        Constraint::Length(8),
    ])
    .areas(area);
    render_head(app, frame, head, r, head_text);
    let [steps, charts] =
        Layout::horizontal([Constraint::Length(34), Constraint::Min(30)]).areas(middle);
    match &r.policy {
        Some(policy) => {
            let [steps, gates] =
                Layout::vertical([Constraint::Length(steps_height(r)), Constraint::Min(4)])
                    .areas(steps);
            render_steps(app, frame, steps, r);
            render_policy(app, frame, gates, r, policy);
        }
        None => render_steps(app, frame, steps, r),
    }
    render_charts(app, frame, charts, key, r);
    let [measures, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    render_measurements(app, frame, measures, r);
    render_approvals_events(app, frame, side, r);
}

/// Below this many rows the charts cannot be read (at 80×24 they were empty boxes two rows
/// high, hiding the steps behind the policy gates): the latest values go in the head instead,
/// and the steps, gates, analysis and events share the room.
const COMPACT_BELOW: u16 = 30;

/// The rows the steps panel needs: every step, its end, failed conditions and the borders.
fn steps_height(r: &RolloutRecord) -> u16 {
    let failed = r.status.conditions.iter().filter(|c| !c.status).count();
    u16::try_from(r.spec.steps.len() + failed + 3).unwrap_or(u16::MAX)
}

fn render_compact(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord, key: &RolloutKey) {
    let head_text = head_lines(app, r, Some(latest_values(app, key, r)));
    let head_h = head_height(&head_text, area.width);
    // The steps as tall as they need, leaving the analysis and events at least 6 rows.
    let steps_h = steps_height(r).min(area.height.saturating_sub(head_h + 6).max(4));
    let [head, middle, bottom] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(steps_h),
        Constraint::Min(4),
    ])
    .areas(area);
    render_head(app, frame, head, r, head_text);
    match &r.policy {
        Some(policy) => {
            let [steps, gates] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(middle);
            render_steps(app, frame, steps, r);
            render_policy(app, frame, gates, r, policy);
        }
        None => render_steps(app, frame, middle, r),
    }
    let [measures, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    render_measurements(app, frame, measures, r);
    render_approvals_events(app, frame, side, r);
}

/// The canary's and the stable track's latest error rate and p99 latency in one line, for a
/// terminal too short for the charts.
fn latest_values(app: &App, key: &RolloutKey, r: &RolloutRecord) -> Line<'static> {
    let t = &app.prefs.theme;
    let Some(series) = app.feeds.series.get(key).and_then(|f| f.data.as_ref()) else {
        return Line::from(Span::styled("now   no canary metrics yet", t.muted));
    };
    let mut spans = vec![Span::styled("now", t.muted)];
    for (name, canary, stable, kind) in [
        (
            "errors",
            &series.canary_error_rate,
            &series.stable_error_rate,
            MetricKind::ErrorRate,
        ),
        (
            "p99",
            &series.canary_p99_ms,
            &series.stable_p99_ms,
            MetricKind::LatencyP99,
        ),
    ] {
        spans.push(Span::styled(format!("  {name} "), t.muted));
        spans.push(Span::styled(
            format!("canary {} ", canary_now(r, canary, kind)),
            t.canary,
        ));
        spans.push(Span::styled(
            format!("stable {}", last_value(stable, kind)),
            t.stable,
        ));
    }
    Line::from(spans)
}

/// The latest finite value of a series, as its kind reads.
fn last_value(v: &[f64], kind: MetricKind) -> String {
    v.iter()
        .rev()
        .find(|x| x.is_finite())
        .map_or_else(|| "—".into(), |x| kind.format(*x))
}

/// The canary's latest value, or that it serves nothing (after a rollback the title still
/// read `canary 6.97%` for a canary with no replicas).
fn canary_now(r: &RolloutRecord, v: &[f64], kind: MetricKind) -> String {
    if matches!(r.status.phase, Phase::RolledBack | Phase::Failed) && r.status.weight == 0 {
        "— (not serving)".to_string()
    } else {
        last_value(v, kind)
    }
}

/// The head's text: model, image, replicas and age; phase; canary weight, step and verdict; the
/// error budget the canary spent, with an `slo_burn` check; the latest values when the charts
/// are not shown (`now`); the verbs.
fn head_lines(app: &App, r: &RolloutRecord, now: Option<Line<'static>>) -> Vec<Line<'static>> {
    let t = &app.prefs.theme;
    let mut weight = vec![Span::styled("canary ", t.muted)];
    weight.extend(bar_spans(app, f64::from(r.status.weight), 30, t.canary));
    weight.push(Span::styled(format!(" {}%  ", r.status.weight), t.text));
    weight.push(Span::styled(format!("step {}  ", r.step_label()), t.text));
    weight.push(verdict_span(app, r));
    let mut lines = vec![
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
            Span::styled(phase_label(app, r), phase_style(app, r.status.phase)),
            Span::styled(format!("  {}", r.status.message), t.text),
        ]),
        Line::from(weight),
    ];
    if let Some(spent) = &r.status.canary_budget_spent {
        lines.push(Line::from(vec![
            Span::styled("budget ", t.muted),
            Span::styled(spent.words(r.spec.model.version), t.canary),
            Span::styled(format!("  (SLO {})", spent.slo()), t.muted),
        ]));
    }
    lines.extend(now);
    lines.push(Line::from(verb_hints(app, r)));
    lines
}

/// The rows the head takes `width` columns wide: its lines wrapped (at 80 columns the first,
/// with the image, ran off the edge), and its borders.
fn head_height(lines: &[Line<'static>], width: u16) -> u16 {
    let p =
        crate::ui::widgets::paragraph(lines.to_vec()).wrap(ratatui::widgets::Wrap { trim: false });
    u16::try_from(p.line_count(width.saturating_sub(2))).unwrap_or(u16::MAX) + 2
}

fn render_head(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    r: &RolloutRecord,
    lines: Vec<Line<'static>>,
) {
    let t = &app.prefs.theme;
    let (block, greyed) = feed_block(
        app,
        &format!("{} · {}/{}", r.name, r.cluster, r.namespace),
        &app.feeds.cluster,
        Backend::Cluster,
        true,
    );
    let p = crate::ui::widgets::paragraph(lines)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .block(block);
    frame.render_widget(if greyed { p.style(t.greyed) } else { p }, area);
}

/// The verbs the rollout's phase allows now, with their keys; "read-only" under `--readonly`.
fn verb_hints<'a>(app: &App, r: &RolloutRecord) -> Vec<Span<'a>> {
    let t = &app.prefs.theme;
    if app.prefs.readonly {
        return vec![Span::styled("read-only: no verbs", t.warn)];
    }
    let allowed: Vec<Span> = Verb::ALL
        .iter()
        .filter(|v| {
            rollout::apply_command(
                &r.name,
                &r.spec,
                &r.status,
                &Command::new(**v, "you", "check"),
                app.now,
            )
            .is_ok()
        })
        .filter_map(|v| {
            let action = Action::bindable()
                .into_iter()
                .find(|a| a.verb() == Some(*v))?;
            let key = app.prefs.keymap.key_for("rollouts", &action)?;
            let name = v.as_str().trim_start_matches("promote ");
            // The phase allows it but the cluster does not let this user: shown, disabled.
            if rows::denied(app, &r.namespace, *v).is_some() {
                return Some(vec![Span::styled(
                    format!("{key} {name} (not allowed)  "),
                    t.greyed,
                )]);
            }
            Some(vec![
                Span::styled(key, t.key),
                Span::styled(format!(" {name}  "), t.muted),
            ])
        })
        .flatten()
        .collect();
    if allowed.is_empty() {
        vec![Span::styled(
            format!("no verbs: a {} rollout takes none", r.status.phase),
            t.muted,
        )]
    } else {
        allowed
    }
}

fn render_steps(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord) {
    let t = &app.prefs.theme;
    let done_all = r.status.phase == Phase::Promoted;
    // An invalid spec names its step: `spec.steps[1].setWeight: …`.
    let invalid = r
        .status
        .conditions
        .iter()
        .find(|c| c.kind == "SpecValid" && !c.status)
        .and_then(|c| {
            let rest = c.message.split("steps[").nth(1)?;
            rest.split(']').next()?.parse::<usize>().ok()
        });
    let lines: Vec<Line> = r
        .spec
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (mark, style): (&str, Style) = if invalid == Some(i) {
                ("✗", t.err)
            } else if invalid.is_some() {
                ("·", t.muted)
            } else if done_all || i < r.status.current_step {
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
    // Too short for every step: scrolled so the current one shows, the count on the border.
    let total = lines.len();
    let inner = usize::from(area.height.saturating_sub(2));
    let mut block = boxed(app, "Steps");
    let mut scroll = 0;
    if total > inner && inner > 0 {
        scroll = r
            .status
            .current_step
            .saturating_sub(inner / 2)
            .min(total - inner);
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" {}–{} of {total} ", scroll + 1, scroll + inner),
                t.muted,
            ))
            .right_aligned(),
        );
    }
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .scroll((u16::try_from(scroll).unwrap_or(0), 0))
            .block(block),
        area,
    );
}

/// The policy the rollout started under as a checklist — each gate with its evidence at the
/// start — and how the gates were found again before promotion.
fn render_policy(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    r: &RolloutRecord,
    policy: &mlops_core::policy::Recorded,
) {
    let t = &app.prefs.theme;
    let mut lines = vec![Line::from(Span::styled(
        match &policy.change {
            Some(c) => format!("at start · {c}"),
            None => "at start".to_string(),
        },
        t.muted,
    ))];
    for c in &policy.start.checks {
        let (mark, style) = if c.ok { ("✓", t.ok) } else { ("✗", t.err) };
        lines.push(Line::from(Span::styled(
            format!("{mark} {}", c.gate),
            style,
        )));
        lines.push(Line::from(Span::styled(
            format!("  {}", c.evidence),
            t.muted,
        )));
    }
    let again = r
        .status
        .conditions
        .iter()
        .find(|c| c.kind == rollout::POLICY_CONDITION);
    lines.push(match again {
        Some(c) if c.status => Line::from(Span::styled("before promotion: ✓ passed", t.ok)),
        Some(c) if c.reason == "Failed" => {
            Line::from(Span::styled("before promotion: ✗ failed", t.err))
        }
        Some(_) => Line::from(Span::styled("before promotion: undecided", t.warn)),
        None => Line::from(Span::styled("before promotion: checked again", t.muted)),
    });
    let p = crate::ui::widgets::paragraph(lines).wrap(ratatui::widgets::Wrap { trim: false });
    // Cut by a short terminal: the border says so (nothing is cut silently).
    let rows = p.line_count(area.width.saturating_sub(2));
    let mut block = boxed(app, "Policy gates");
    if rows > usize::from(area.height.saturating_sub(2)) {
        block = block.title_bottom(
            Line::from(Span::styled(" ↓ more: y shows the record ", t.muted)).right_aligned(),
        );
    }
    frame.render_widget(p.block(block), area);
}

fn render_charts(app: &App, frame: &mut Frame, area: Rect, key: &RolloutKey, r: &RolloutRecord) {
    let t = &app.prefs.theme;
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
        MetricKind::ErrorRate,
        r,
    );
    chart(
        app,
        frame,
        bottom,
        "Latency p99 (ms)",
        series,
        &series.canary_p99_ms,
        &series.stable_p99_ms,
        MetricKind::LatencyP99,
        r,
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
    kind: MetricKind,
    r: &RolloutRecord,
) {
    let t = &app.prefs.theme;
    let scale = if kind == MetricKind::ErrorRate {
        100.0
    } else {
        1.0
    };
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

    // The latest values in the title, each with its series' marker: no legend over the data.
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Line::from(vec![
            Span::styled(format!(" {} ", mlops_core::text::line(title)), t.title),
            Span::styled(
                format!("⣿ canary {} ", canary_now(r, canary, kind)),
                t.canary,
            ),
            Span::styled(format!("• stable {} ", last_value(stable, kind)), t.stable),
        ]));
    let inner = block.inner(area);
    if inner.height < 3 || c.len() + st.len() < 2 {
        // Too small to plot (or nothing yet): the numbers are in the title.
        frame.render_widget(block, area);
        return;
    }
    let ymax = c
        .iter()
        .chain(&st)
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-6)
        * 1.15;
    let xmax = st.last().or(c.last()).map_or(1.0, |p| p.0).max(1.0);
    let datasets = vec![
        // Different markers, so the two lines differ without colour too.
        Dataset::default()
            .marker(symbols::Marker::Dot)
            .graph_type(GraphType::Line)
            .style(t.stable)
            .data(&st),
        Dataset::default()
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.canary)
            .data(&c),
    ];
    let minutes = xmax / 60.0;
    let since = if minutes < 1.0 {
        "-<1m".to_string()
    } else {
        format!("-{minutes:.0}m")
    };
    let top = match kind {
        MetricKind::ErrorRate => format!("{ymax:.2}"),
        _ => format!("{ymax:.0}"),
    };
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([0.0, xmax])
                .labels(vec![Span::raw(since), Span::raw("now")])
                .style(t.muted),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .labels(vec![Span::raw("0"), Span::raw(top)])
                .style(t.muted),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

fn render_measurements(app: &App, frame: &mut Frame, area: Rect, r: &RolloutRecord) {
    let t = &app.prefs.theme;
    let rows = usize::from(area.height.saturating_sub(2));
    let kind_of = |metric: &str| {
        r.spec
            .analysis
            .metrics
            .iter()
            .find(|m| m.name == metric)
            .map_or(MetricKind::Custom, |m| m.kind)
    };
    let mut lines: Vec<Line> = Vec::new();
    for m in r.status.measurements.iter().rev().take(rows) {
        let (mark, style) = match m.verdict {
            Verdict::Pass => ("✓", t.ok),
            Verdict::Fail => ("✗", t.err),
            Verdict::Inconclusive => ("?", t.warn),
        };
        let kind = kind_of(&m.metric);
        let v = |x: Option<f64>| x.map_or_else(|| "—".into(), |x| kind.format(x));
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} "), style),
            Span::styled(format!("{} ", m.time.format("%H:%M:%S")), t.muted),
            Span::styled(format!("{} ", m.metric), t.text),
            Span::styled(format!("canary {} ", v(m.canary)), t.canary),
            Span::styled(format!("stable {} ", v(m.stable)), t.stable),
            // The reason in full: it wraps, it is never cut.
            Span::styled(
                m.reason.clone(),
                if m.verdict == Verdict::Pass {
                    t.muted
                } else {
                    style
                },
            ),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(" no measurements yet", t.muted)));
    }
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(boxed(
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
    let t = &app.prefs.theme;
    let gated = r
        .spec
        .steps
        .iter()
        .any(|s| matches!(s, mlops_core::rollout::Step::Approval {}));
    let mut lines = vec![Line::from(Span::styled(
        if gated {
            format!(
                "approvals {}/{}",
                r.status.approvals.len(),
                r.spec.approval.required
            )
        } else {
            "no approval gate".to_string()
        },
        t.header,
    ))];
    // One line per approval (its comment cut at the end: the audit and `y` have it whole), so
    // the events below keep their room.
    let inner_w = usize::from(area.width.saturating_sub(2));
    for a in &r.status.approvals {
        let head = format!(" ✓ {} {} ", a.user, a.time.format("%H:%M"));
        let room = inner_w.saturating_sub(head.chars().count());
        lines.push(Line::from(vec![
            Span::styled(format!(" ✓ {} ", a.user), t.ok),
            Span::styled(format!("{} ", a.time.format("%H:%M")), t.muted),
            Span::styled(
                crate::ui::table::elide(&a.comment, room, crate::app::rows::table::Elide::End),
                t.text,
            ),
        ]));
    }
    // Newest first; `j`/`k` scroll through older ones (only the last one or two showed).
    let events = rows::rollouts::events(app, &r.key());
    let skip = app.screen().offset.min(events.len().saturating_sub(1));
    lines.push(Line::from(Span::styled(
        match events.len() {
            0 => "events: none yet".to_string(),
            // Newest first.
            n if n > 1 => format!("events {}–{n} of {n} (j/k)", skip + 1),
            _ => "events".to_string(),
        },
        t.header,
    )));
    for e in events.iter().skip(skip) {
        lines.push(Line::from(vec![
            Span::styled(format!(" {} ", e.time.format("%H:%M:%S")), t.muted),
            Span::styled(
                e.message.clone(),
                if e.kind == mlops_core::model::EventKind::Warning {
                    t.warn
                } else {
                    t.text
                },
            ),
        ]));
    }
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(boxed(app, "Approvals & events")),
        area,
    );
}
