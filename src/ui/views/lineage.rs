//! Lineage: every model version with its aliases and image; drilling in walks the graph from the
//! data it was trained on to the pods serving it.

use mlops_core::lineage::NodeKind;
use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    text::Span,
    widgets::{Cell, Row},
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{self, lineage::Relation},
    },
    ui::widgets::{ListSpec, age_coarse, render_list},
};

pub fn render_versions(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let items = rows::model_versions(app, &app.screen().filter);
    let spec = ListSpec {
        title: format!("Model versions ({})", items.len()),
        backend: Backend::Registry,
        what: "registered models",
        header: vec![
            "MODEL",
            "VERSION",
            "ALIASES",
            "VALIDATION",
            "CREATED",
            "RUN",
            "IMAGE",
        ],
        widths: vec![
            Constraint::Length(20),
            Constraint::Length(7),
            Constraint::Length(22),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
        bottom: None,
    };
    render_list(
        app,
        frame,
        area,
        &app.feeds.models,
        spec,
        &items,
        |(m, v)| {
            let aliases = m
                .aliases_of(v.version)
                .iter()
                .map(|a| format!("@{a}"))
                .collect::<Vec<_>>()
                .join(" ");
            let validation = v.tags.get("validation_status").map_or("—", String::as_str);
            let vstyle = match validation {
                "passed" => t.ok,
                "failed" => t.err,
                _ => t.warn,
            };
            Row::new(vec![
                Cell::from(m.name.clone()),
                Cell::from(format!("v{}", v.version)),
                Cell::from(Span::styled(aliases, t.accent)),
                Cell::from(Span::styled(validation.to_string(), vstyle)),
                Cell::from(age_coarse(app.now, v.created)),
                Cell::from(
                    v.run_id
                        .as_deref()
                        .map(|r| r.chars().take(8).collect::<String>())
                        .unwrap_or_default(),
                ),
                Cell::from(v.image().unwrap_or("—").to_string()),
            ])
        },
    );
}

pub fn render_graph(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let rows = rows::lineage::rows(app, app.screen());
    let spec = ListSpec {
        title: "Lineage: data → run → version → image → rollout → deployment → pods".into(),
        backend: Backend::Registry,
        what: "lineage for this version",
        header: vec!["", "KIND", "NODE", "DETAIL"],
        widths: vec![
            Constraint::Length(1),
            Constraint::Length(13),
            Constraint::Min(30),
            Constraint::Min(20),
        ],
        bottom: None,
    };
    render_list(app, frame, area, &app.feeds.models, spec, &rows, |r| {
        let depth = NodeKind::ORDER
            .iter()
            .position(|k| *k == r.kind)
            .unwrap_or(0);
        let (marker, style) = match r.relation {
            Relation::Upstream => ("▲", t.muted),
            Relation::Focus => ("●", t.accent),
            Relation::Downstream => ("▼", t.info),
        };
        let link = if r.target.is_some() { " ⏎" } else { "" };
        Row::new(vec![
            Cell::from(Span::styled(marker, style)),
            Cell::from(Span::styled(r.kind.as_str(), t.muted)),
            Cell::from(format!(
                "{}{}{}",
                "  ".repeat(depth),
                if depth > 0 { "└ " } else { "" },
                r.label
            )),
            Cell::from(format!("{}{link}", r.detail)),
        ])
    });
}
