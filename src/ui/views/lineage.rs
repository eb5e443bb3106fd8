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
        rows::{self, columns, lineage::Relation},
    },
    ui::{
        table::{TableSpec, render_table, shorten},
        widgets::{ListSpec, age_coarse, render_list},
    },
};

pub fn render_versions(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let items = rows::model_versions(app, app.screen());
    let spec = TableSpec {
        title: format!("Model versions ({})", items.len()),
        backend: Backend::Registry,
        what: "registered models",
        columns: columns::model_versions(),
        bottom: None,
        sort: app.screen().sort,
        focused: true,
    };
    let items: Vec<&_> = items.iter().collect();
    render_table(
        app,
        frame,
        area,
        &app.feeds.models,
        spec,
        &items,
        |(m, v), c, w| {
            let w = usize::from(w);
            match c.field {
                "alias" => {
                    let aliases = m
                        .aliases_of(v.version)
                        .iter()
                        .map(|a| format!("@{a}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    Some(Cell::from(Span::styled(shorten(&aliases, w), t.accent)))
                }
                "validation" => {
                    let validation = v.tags.get("validation_status").map_or("—", String::as_str);
                    let style = match validation {
                        "passed" => t.ok,
                        "failed" => t.err,
                        _ => t.warn,
                    };
                    Some(Cell::from(Span::styled(shorten(validation, w), style)))
                }
                "created" => Some(Cell::from(age_coarse(app.now, v.created))),
                "run" => Some(Cell::from(
                    v.run_id
                        .as_deref()
                        .map(|r| r.chars().take(w.min(8)).collect::<String>())
                        .unwrap_or_default(),
                )),
                _ => None,
            }
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
    // A node is drawn `├` under its parent, `└` when it is the last of its kind.
    let last: std::collections::HashSet<String> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| rows.get(i + 1).is_none_or(|next| next.kind != r.kind))
        .map(|(_, r)| r.id.clone())
        .collect();
    render_list(app, frame, area, &app.feeds.models, spec, &rows, |r| {
        let depth = NodeKind::ORDER
            .iter()
            .position(|k| *k == r.kind)
            .unwrap_or(0);
        let branch = match (depth, last.contains(&r.id)) {
            (0, _) => "",
            (_, true) => "└ ",
            (_, false) => "├ ",
        };
        let (marker, style) = match r.relation {
            Relation::Upstream => ("▲", t.muted),
            Relation::Focus => ("●", t.accent),
            Relation::Downstream => ("▼", t.info),
        };
        let link = if r.target.is_some() || r.kind == NodeKind::Pod {
            " ⏎"
        } else {
            ""
        };
        Row::new(vec![
            Cell::from(Span::styled(marker, style)),
            Cell::from(Span::styled(r.kind.as_str(), t.muted)),
            Cell::from(format!("{}{branch}{}", "  ".repeat(depth), r.label)),
            Cell::from(format!("{}{link}", r.detail)),
        ])
    });
}
