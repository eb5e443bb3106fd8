//! Timeline: one incident's story in one time order — Kubernetes Events, rollout steps and phase
//! changes, commands with their user and comment, registry events, drift and metrics-store
//! alerts, GPU faults — each with its source; the changes just before an alert marked `◆` (and
//! in the warning colour), alerts `▲`. `enter` (or `d`) opens an entry with every detail.

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::Cell,
};

use super::details::{fields, show, when};
use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{
            self,
            table::Elide,
            timeline::{ALERT, CHANGED_BEFORE, scope},
        },
    },
    ui::{
        table::{TableSpec, elide, render_table},
        widgets::age_coarse,
    },
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let screen = app.screen();
    let (all, order) = rows::timeline::rows(app, screen);
    let items: Vec<_> = order.iter().filter_map(|&i| all.get(i as usize)).collect();
    let marked = items.iter().filter(|e| e.changed_before).count();
    let alerts = items.iter().filter(|e| e.kind.is_alert()).count();
    let title = match scope(&screen.kind) {
        (Some(m), Some(v)) => format!("Timeline of {m} v{v} ({})", items.len()),
        (Some(m), None) => format!("Timeline of {m} ({})", items.len()),
        _ => format!("Timeline, every model ({})", items.len()),
    };
    let bottom = Line::from(vec![
        Span::styled(format!(" {ALERT} {alerts} alerts "), t.err),
        Span::styled(
            format!(" {CHANGED_BEFORE} {marked} changed before an alert "),
            t.warn,
        ),
        Span::styled(
            format!(" last {}h ", rows::timeline::SPAN.num_hours()),
            t.muted,
        ),
    ]);
    let spec = TableSpec {
        title,
        backend: Backend::Cluster,
        what: "timeline entries",
        columns: rows::timeline::columns(),
        bottom: Some(bottom),
        sort: screen.sort,
        focused: true,
    };
    render_table(
        app,
        frame,
        area,
        &app.feeds.cluster,
        spec,
        &items,
        |e, c, w| {
            let w = usize::from(w);
            let style = if e.changed_before {
                t.warn
            } else if e.kind.is_alert() {
                t.err
            } else {
                t.text
            };
            match c.field {
                "ago" => Some(Cell::from(Span::styled(
                    format!("{} ago", age_coarse(app.now, e.time)),
                    t.muted,
                ))),
                "mark" => Some(Cell::from(Span::styled(rows::timeline::mark(e), style))),
                "summary" => Some(Cell::from(Span::styled(
                    elide(&e.summary, w, Elide::End),
                    style,
                ))),
                "source" => Some(Cell::from(Span::styled(e.source.as_str(), t.accent))),
                _ => None,
            }
        },
    );
}

/// One entry in full: when, where from, what, and every detail its sources gave.
pub fn render_entry(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let Some(e) = rows::timeline::selected(app, app.screen()) else {
        let lines = vec![Line::from(Span::styled(
            "the entry is not there (any more): it left the timeline's span or its source changed",
            t.warn,
        ))];
        return show(app, frame, area, "Timeline entry", lines);
    };
    let model = match (&e.model, e.version) {
        (Some(m), Some(v)) => format!("{m} v{v}"),
        (Some(m), None) => m.clone(),
        _ => "—".into(),
    };
    let mark = if e.changed_before {
        format!("{CHANGED_BEFORE} changed shortly before an alert")
    } else if e.kind.is_alert() {
        format!("{ALERT} an alert")
    } else {
        "—".into()
    };
    let mut pairs = vec![
        ("time", when(app, e.time), None),
        ("source", e.source.as_str().to_string(), Some(t.accent)),
        ("kind", e.kind.as_str().to_string(), None),
        ("model", model, None),
        ("summary", e.summary.clone(), None),
        (
            "mark",
            mark,
            Some(if e.changed_before { t.warn } else { t.text }),
        ),
    ];
    for (k, v) in &e.details {
        pairs.push((k.as_str(), v.clone(), Some(t.muted)));
    }
    let lines = fields(app, pairs);
    show(app, frame, area, "Timeline entry", lines);
}
