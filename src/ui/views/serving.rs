//! Serving: every served model version and track, worst first — the SLO alert (a glyph as well as
//! a colour), request rate, error ratio, latency, replicas, GPUs, the paging window's burn and
//! the budget left; `enter` opens one with every burn window, the alert each pair gives, its
//! sparklines and the series it came from.

use mlops_core::serving::{Alert, ModelHealth, ServingKey, slo::ALERT_PAIRS, text};
use ratatui::{
    Frame,
    layout::Rect,
    style::Style,
    text::{Line, Span},
    widgets::Cell,
};

use super::details::{fields, missing, show};
use crate::{
    app::{App, feeds::Backend, rows},
    ui::{
        table::{TableSpec, render_table},
        widgets::sparkline,
    },
};

/// The glyph and style of an alert, so it reads without colour too.
pub fn alert_mark(app: &App, h: &ModelHealth) -> (String, Style) {
    let t = &app.prefs.theme;
    match (h.slo.as_ref().map(|s| s.alert), &h.source.missing) {
        (Some(Alert::Page), _) => ("✖ page".into(), t.err),
        (Some(Alert::Ticket), _) => ("▲ ticket".into(), t.warn),
        (Some(Alert::None), _) => ("✓ ok".into(), t.ok),
        (None, Some(_)) => ("? no data".into(), t.muted),
        (None, None) => ("—".into(), t.muted),
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = rows::serving::rows(app, app.screen());
    let report = rows::serving::report(app);
    let notes: Vec<String> = report
        .map(|r| {
            r.warnings
                .iter()
                .cloned()
                .chain(r.models.iter().filter_map(|h| h.source.missing.clone()))
                .collect()
        })
        .unwrap_or_default();
    let bottom = notes.first().map(|n| {
        let more = if notes.len() > 1 {
            format!(" (+{} more: enter on a row)", notes.len() - 1)
        } else {
            String::new()
        };
        Line::from(Span::styled(format!(" {n}{more} "), t.warn))
    });
    let paging = report.map_or(0, |r| r.paging_models().len());
    let spec = TableSpec {
        title: format!(
            "Serving ({}) · {} paging · worst first",
            items.len(),
            paging
        ),
        backend: Backend::Metrics,
        what: "served model versions",
        columns: rows::serving::columns(),
        bottom,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(
        app,
        frame,
        area,
        &app.feeds.serving,
        spec,
        &items,
        |h, c, _w| match c.field {
            "alert" => {
                let (mark, style) = alert_mark(app, h);
                Some(Cell::from(Span::styled(mark, style)))
            }
            "errors" if h.error_ratio.is_some_and(|e| e >= 0.01) => Some(Cell::from(
                Line::from(Span::styled(text::ratio(h.error_ratio), t.warn)).right_aligned(),
            )),
            "burn1h" if text::burn_1h(h).is_some_and(|b| b >= 1.0) => Some(Cell::from(
                Line::from(Span::styled(text::burn(text::burn_1h(h)), t.warn)).right_aligned(),
            )),
            _ => None,
        },
    );
}

/// One served model version in full.
pub fn render_detail(app: &App, frame: &mut Frame, area: Rect, key: &ServingKey) {
    let t = &app.prefs.theme;
    let title = format!("{} v{} {}", key.model, key.version, key.track);
    let Some(h) = rows::serving::find_health(app, key) else {
        return missing(
            app,
            frame,
            area,
            &title,
            &app.feeds.serving,
            Backend::Metrics,
            "this model version's serving health",
        );
    };
    let (mark, style) = alert_mark(app, h);
    let l = &h.latency_seconds;
    let latency = match l.estimate {
        mlops_core::serving::LatencyForm::Histogram => format!(
            "p50 {} · p95 {} · p99 {}",
            text::seconds(l.p50),
            text::seconds(l.p95),
            text::seconds(l.p99)
        ),
        mlops_core::serving::LatencyForm::Mean => format!(
            "mean {} (the runtime exports no histogram: no quantiles)",
            text::seconds(l.p99)
        ),
    };
    let errors: Vec<f64> = h.history.iter().filter_map(|p| p.error_ratio).collect();
    let p99s: Vec<f64> = h.history.iter().filter_map(|p| p.p99).collect();
    let spark = |v: &[f64]| {
        if v.is_empty() {
            "—".to_string()
        } else {
            sparkline(v, 40)
        }
    };
    let mut pairs = vec![
        ("alert", mark, Some(style)),
        (
            "namespace",
            format!("{} · {}", h.namespace, h.cluster),
            None,
        ),
        ("requests", text::rps(h.requests_per_second), None),
        ("errors (5xx)", text::ratio(h.error_ratio), None),
        ("latency", latency, None),
        ("replicas", text::replicas(h), None),
        ("GPUs", h.gpus.to_string(), None),
        ("errors, 1 h", spark(&errors), Some(t.warn)),
        ("p99, 1 h", spark(&p99s), Some(t.accent)),
    ];
    if let Some(m) = &h.source.missing {
        pairs.push(("missing", m.clone(), Some(t.warn)));
    }
    let mut lines = fields(app, pairs);
    lines.extend(slo_lines(app, h));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!("source: runtime {}", h.source.runtime),
        t.muted,
    )));
    for s in &h.source.series {
        lines.push(Line::from(Span::styled(format!("  {s}"), t.muted)));
    }
    show(app, frame, area, &title, lines);
}

/// The SLO: objective, budget, each window's burn and what each pair of windows says.
fn slo_lines<'a>(app: &App, h: &ModelHealth) -> Vec<Line<'a>> {
    let t = &app.prefs.theme;
    let Some(s) = &h.slo else {
        return vec![Line::from(Span::styled(
            "SLO: no burn without series".to_string(),
            t.muted,
        ))];
    };
    let mut out = vec![
        Line::default(),
        Line::from(Span::styled(
            format!(
                "SLO {:.2}% of requests not 5xx over {} days · {}",
                s.objective * 100.0,
                s.window_days,
                if h.track == "stable" {
                    format!("budget left {}", text::budget(s.budget_remaining))
                } else {
                    "the budget is the model's (its stable row); a rollout's slo_burn check counts what a canary spends".to_string()
                }
            ),
            t.title,
        )),
    ];
    // A window's length, when the SLO's window scaled it away from its name.
    let window = |name: &str| {
        let secs = s.burn_windows_seconds.get(name).copied().unwrap_or(0);
        let nominal = mlops_core::serving::slo::BURN_WINDOWS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, s)| *s);
        if secs == nominal {
            name.to_string()
        } else {
            format!("{name} ({})", mlops_core::text::format_duration(secs))
        }
    };
    for (alert, factor, long, short) in ALERT_PAIRS {
        let b = |n: &str| s.burn.get(n).copied().flatten();
        let fires = b(long).is_some_and(|v| v >= factor) && b(short).is_some_and(|v| v >= factor);
        let (mark, style) = if fires {
            (format!("✖ {}", alert.as_str()), t.err)
        } else {
            ("  —".to_string(), t.muted)
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {mark:<9}"), style),
            Span::styled(
                format!(
                    "burn ≥ {factor} over {} and {}: {} and {}",
                    window(long),
                    window(short),
                    text::burn(b(long)),
                    text::burn(b(short))
                ),
                t.text,
            ),
        ]));
    }
    out
}
