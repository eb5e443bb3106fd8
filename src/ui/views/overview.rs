//! Overview: what needs a human, in one line; then four panels that take the focus in turn (`o`):
//! rollouts (those needing a human first), drift alerts, GPUs that need a look (faults and idle
//! allocations, with the per-cluster summary on the border), and recent events. `enter` opens the
//! focused panel's selected item.

use std::collections::BTreeMap;

use mlops_core::{drift::DriftStatus, model::EventKind, rollout::Phase};
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::Cell,
};

use super::rollouts::{cell as rollout_cell, phase_style};
use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{
            self, overview,
            table::{Column, Elide, Value, Width},
        },
        screens::Panel,
    },
    ui::{
        table::{TableSpec, render_table, shorten},
        widgets::age_coarse,
    },
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    // Serving leads: as many models as fit in a quarter of the screen (the worst first).
    let served = overview::serving_models(app, app.screen());
    let models = u16::try_from(served.len()).unwrap_or(0);
    let serving_height = (models + 3).clamp(4, (area.height / 4).max(4));
    let [needs, serving, area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(serving_height),
        Constraint::Min(3),
    ])
    .areas(area);
    render_needs_you(app, frame, needs);
    super::overview_serving::render(app, &served, frame, serving);
    let (rollouts, drift, gpus, events) = if area.width >= 110 {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
        let [rollouts, drift] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(top);
        let [gpus, events] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(bottom);
        (rollouts, drift, gpus, events)
    } else {
        // Narrow terminals: the rollouts get the full width, the rest stacks below.
        let rows = u16::try_from(rows::rollouts(app, app.screen()).len()).unwrap_or(u16::MAX);
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Length((rows + 3).clamp(5, area.height / 2)),
            Constraint::Length(7),
            Constraint::Min(3),
        ])
        .areas(area);
        // Drift on the left, as in the wide layout: `o` goes through the panels in the order
        // they are read (it went Rollouts → Drift on the right → GPUs on the left).
        let [drift, gpus] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(middle);
        (top, drift, gpus, bottom)
    };
    render_rollouts(app, frame, rollouts);
    render_drift(app, frame, drift);
    render_gpus(app, frame, gpus);
    render_events(app, frame, events);
}

/// "needs you: 1 approval waiting on you · 2 drifted features · 4 idle GPUs", or all clear.
fn render_needs_you(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = overview::needs_you(app);
    let unknown = overview::needs_you_unknown(app);
    // On a narrow terminal every item keeps its count in a word or two, rather than the last
    // ones (idle GPUs, XID faults, mismatches) falling off the edge; narrower still, the label
    // shrinks to a sign and the separators to commas.
    let length = |label: usize, short_words: bool, sep: usize| {
        label
            + items
                .iter()
                .map(|(what, n, _)| {
                    let what = if short_words {
                        short(what)
                    } else {
                        what.as_str()
                    };
                    n.to_string().len() + 1 + what.chars().count()
                })
                .sum::<usize>()
            + sep * items.len().saturating_sub(1)
    };
    let width = usize::from(area.width);
    // The line counts the whole platform; under a `/` filter (which the panels obey) it says
    // so, rather than "4 idle GPUs" beside a filtered "no idle or faulted GPUs".
    let filtered = !app.screen().filter.is_empty();
    let full = if filtered {
        " needs you (unfiltered): "
    } else {
        " needs you: "
    };
    let full_len = full.chars().count();
    let compact = length(full_len, false, 3) > width;
    let tight = compact && length(full_len, true, 3) > width;
    let (label, sep) = if tight {
        let label = if filtered {
            " ⚠ unfiltered: "
        } else {
            " ⚠ "
        };
        // Narrower still, the separators lose their space.
        let squeezed = length(label.chars().count(), true, 2) > width;
        (label, if squeezed { "," } else { ", " })
    } else {
        (full, " · ")
    };
    let mut spans = vec![Span::styled(label, t.title)];
    if items.is_empty() && unknown.is_empty() {
        spans.push(Span::styled("nothing — all clear", t.ok));
    }
    for (i, (what, n, _)) in items.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep, t.muted));
        }
        let what = if compact { short(what) } else { what.as_str() };
        let style = if what.contains("approval") || what.contains("idle") {
            t.warn
        } else {
            t.err
        };
        spans.push(Span::styled(format!("{n} {what}"), style));
    }
    if !unknown.is_empty() {
        if !items.is_empty() {
            spans.push(Span::styled(" · ", t.muted));
        }
        spans.push(Span::styled(
            format!("{} not known yet (loading or down)", unknown.join(", ")),
            t.muted,
        ));
    }
    frame.render_widget(crate::ui::widgets::paragraph(Line::from(spans)), area);
}

/// A needs-you item in a word or two, for a narrow terminal.
fn short(what: &str) -> &str {
    if what.contains("paging") {
        "paging"
    } else if what.contains("approval") {
        "to approve"
    } else if what.contains("failing") {
        "failing"
    } else if what.contains("drifted") {
        "drifted"
    } else if what.contains("idle") {
        what
    } else if what.contains("XID") {
        if what.starts_with("GPUs") {
            "XID faults"
        } else {
            "XID fault"
        }
    } else if what.contains("mismatches") {
        "mismatches"
    } else if what.contains("mismatch") {
        "mismatch"
    } else {
        what
    }
}

/// Whether `panel` has the focus: its selection is drawn, `enter` opens its item.
fn focused(app: &App, panel: Panel) -> bool {
    app.screen().panel == panel
}

/// The selection a panel shows: its own when focused, none otherwise.
fn spec<'a, T>(
    app: &App,
    panel: Panel,
    title: String,
    backend: Backend,
    what: &'static str,
    columns: Vec<Column<T>>,
    bottom: Option<Line<'a>>,
) -> TableSpec<'a, T> {
    TableSpec {
        title,
        backend,
        what,
        columns,
        bottom,
        sort: if focused(app, panel) {
            app.screen().sort
        } else {
            None
        },
        focused: focused(app, panel),
    }
}

fn render_rollouts(app: &App, frame: &mut Frame, area: Rect) {
    let items = rows::rollouts(app, app.screen());
    // Counted by the word the rows show: a timed pause step is `Pausing`, an operator's pause
    // `Paused` (the footer said "1 Paused" beside a row reading "Pausing 88s").
    let mut counts: BTreeMap<(Phase, bool), usize> = BTreeMap::new();
    for r in &items {
        let pausing = r.pause_left(app.now).is_some();
        *counts.entry((r.status.phase, pausing)).or_default() += 1;
    }
    let summary: Vec<Span> = counts
        .iter()
        .map(|((p, pausing), n)| {
            let word = if *pausing {
                "Pausing".to_string()
            } else {
                p.to_string()
            };
            Span::styled(format!(" {n} {word} "), phase_style(app, *p))
        })
        .collect();
    let cols: Vec<Column<_>> = rows::rollouts::columns()
        .into_iter()
        .filter(|c| {
            matches!(
                c.field,
                "name" | "cluster" | "phase" | "weight" | "step" | "analysis"
            )
        })
        .collect();
    let s = spec(
        app,
        Panel::Rollouts,
        "Rollouts".into(),
        Backend::Cluster,
        "rollouts",
        cols,
        Some(Line::from(summary)),
    );
    render_table(
        app,
        frame,
        area,
        &app.feeds.cluster,
        s,
        &items,
        |r, c, w| rollout_cell(app, r, c, w),
    );
}

fn render_drift(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = overview::alerts(app, app.screen());
    let cols: Vec<Column<_>> = rows::drift::columns()
        .into_iter()
        .filter(|c| matches!(c.field, "model" | "feature" | "against" | "status" | "psi"))
        .map(|mut c| {
            // Always shown, in a word: a canary's row (against its stable) must not pass for
            // the version's own.
            if c.field == "against" {
                c.priority = 0;
                c.width = Width::Fixed(7);
                c.value = Box::new(|d| {
                    Value::text(if d.is_canary_vs_stable() {
                        "stable"
                    } else {
                        d.against()
                    })
                });
            }
            // Every row here is an alert: at 80 columns the model and feature names win over
            // the word saying how (they read `fra…tector mer…t_risk`); the Drift view has it.
            if c.field == "status" {
                c.priority = c.priority.max(4);
            }
            c
        })
        .collect();
    let s = spec(
        app,
        Panel::Drift,
        format!("Drift alerts ({})", items.len()),
        Backend::Metrics,
        "drift alerts: every monitored feature is within thresholds",
        cols,
        None,
    );
    render_table(app, frame, area, &app.feeds.drift, s, &items, |d, c, w| {
        (c.field == "status").then(|| {
            // The alert's status: what held for the last windows, not one window's.
            let alert = d.alert(app.prefs.drift_alert_after);
            let style = if alert == DriftStatus::Drifted {
                t.err
            } else {
                t.warn
            };
            Cell::from(Span::styled(shorten(alert.as_str(), usize::from(w)), style))
        })
    });
}

fn gpu_columns() -> Vec<Column<mlops_core::model::Gpu>> {
    let mut cols: Vec<Column<_>> = rows::gpus::columns()
        .into_iter()
        .filter(|c| matches!(c.field, "cluster" | "node" | "gpu" | "state" | "model"))
        .collect();
    cols.push(Column {
        field: "xid",
        header: "HEALTH",
        sort_key: None,
        priority: 0,
        width: Width::Fixed(7),
        right: false,
        elide: Elide::Middle,
        value: Box::new(|g| match g.xid {
            Some(x) => Value::number(f64::from(x), format!("XID {x}")),
            None => Value::text("ok"),
        }),
    });
    cols
}

fn render_gpus(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = overview::attention_gpus(app, app.screen());
    let totals = rows::gpus::totals(app);
    let summary = totals.summary.as_ref().map(|s| {
        Line::from(vec![
            Span::styled(
                format!(" {} GPUs · {} allocated · ", s.total, s.allocated),
                t.muted,
            ),
            Span::styled(
                format!("{} idle", s.allocated_idle),
                if s.allocated_idle > 0 { t.warn } else { t.ok },
            ),
            Span::styled(
                format!(
                    " · {:.0}% util · {:.1} kW ",
                    s.mean_util_pct,
                    s.power_w / 1000.0
                ),
                t.muted,
            ),
        ])
    });
    let s = spec(
        app,
        Panel::Gpus,
        format!("GPUs needing a look ({})", items.len()),
        Backend::Metrics,
        "idle or faulted GPUs",
        gpu_columns(),
        summary,
    );
    render_table(app, frame, area, &app.feeds.gpus, s, &items, |g, c, w| {
        let w = usize::from(w);
        match c.field {
            "state" => Some(Cell::from(Span::styled(
                shorten(rows::gpu_state(g), w),
                if g.is_allocated_idle() {
                    t.warn
                } else {
                    t.muted
                },
            ))),
            "xid" => Some(match g.xid {
                Some(x) => Cell::from(Span::styled(shorten(&format!("XID {x}"), w), t.err)),
                None => Cell::from(Span::styled("ok", t.ok)),
            }),
            _ => None,
        }
    });
}

fn event_columns() -> Vec<Column<mlops_core::model::ClusterEvent>> {
    vec![
        Column {
            field: "age",
            header: "AGE",
            sort_key: None,
            priority: 1,
            width: Width::Fixed(4),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|e| Value::number(e.time.timestamp() as f64, "")),
        },
        Column {
            field: "reason",
            header: "REASON",
            sort_key: None,
            priority: 0,
            width: Width::Flex { min: 8, max: 16 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.reason.clone())),
        },
        Column {
            field: "object",
            header: "OBJECT",
            sort_key: None,
            priority: 2,
            width: Width::Flex { min: 10, max: 24 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| {
                Value::text(e.object.trim_start_matches("modelrollout/").to_string())
            }),
        },
        Column {
            field: "message",
            header: "MESSAGE",
            sort_key: None,
            priority: 0,
            width: Width::Flex { min: 16, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|e| Value::text(e.message.clone())),
        },
    ]
}

fn render_events(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = overview::events(app, app.screen());
    let s = spec(
        app,
        Panel::Events,
        "Recent events".into(),
        Backend::Cluster,
        "events",
        event_columns(),
        None,
    );
    render_table(
        app,
        frame,
        area,
        &app.feeds.cluster,
        s,
        &items,
        |e, c, w| {
            let style = if e.kind == EventKind::Warning {
                t.warn
            } else {
                t.muted
            };
            match c.field {
                "age" => Some(Cell::from(Span::styled(age_coarse(app.now, e.time), style))),
                "reason" => Some(Cell::from(Span::styled(
                    shorten(&e.reason, usize::from(w)),
                    style,
                ))),
                _ => None,
            }
        },
    );
}
