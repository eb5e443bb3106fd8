//! Lineage: every model version with its aliases and image; drilling in walks the graph from the
//! data it was trained on to the pods serving it.

use mlops_core::lineage::NodeKind;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Cell, Row},
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{self, lineage::Relation, table::Elide},
    },
    ui::{
        table::{TableSpec, elide, render_table, shorten},
        widgets::{ListSpec, age_coarse, render_list, titled_block},
    },
};

/// The registry/cluster mismatches that concern `only` (a node id), or every one: a box under the
/// list, so an on-call engineer sees them where the versions are. Returns the area left above.
fn render_mismatches(app: &App, frame: &mut Frame, area: Rect, only: Option<&str>) -> Rect {
    let t = &app.prefs.theme;
    let found: Vec<_> = rows::lineage::mismatches(app)
        .into_iter()
        .filter(|m| only.is_none_or(|id| m.nodes.iter().any(|n| n == id)))
        .collect();
    if found.is_empty() {
        return area;
    }
    // Each message wraps (its middle names the Deployment and the version); at most 8 lines.
    let width = usize::from(area.width.saturating_sub(2)).max(20);
    let lines: Vec<Line> = found
        .iter()
        .map(|m| {
            Line::from(vec![
                Span::styled(format!("⚠ {}: ", m.kind), t.warn),
                Span::styled(mlops_core::text::line(&m.message).into_owned(), t.text),
            ])
        })
        .collect();
    let needed: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    let shown = u16::try_from(needed.min(8)).unwrap_or(8);
    let [rest, boxed] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(shown + 2)]).areas(area);
    let block = titled_block(
        app,
        &format!("Registry and cluster disagree ({})", found.len()),
        false,
    )
    .border_style(t.warn);
    let lines = crate::ui::widgets::paragraph(lines).wrap(ratatui::widgets::Wrap { trim: false });
    frame.render_widget(lines.block(block), boxed);
    rest
}

pub fn render_versions(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let area = render_mismatches(app, frame, area, None);
    let items = rows::model_versions(app, app.screen());
    let spec = TableSpec {
        title: format!("Model versions ({})", items.len()),
        backend: Backend::Registry,
        what: "registered models",
        columns: rows::lineage::columns(),
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
    let t = &app.prefs.theme;
    let area = match &app.screen().kind {
        crate::app::screens::ScreenKind::LineageGraph { model, version } => render_mismatches(
            app,
            frame,
            area,
            Some(&mlops_core::lineage::version_id(model, *version)),
        ),
        _ => area,
    };
    let rows = rows::lineage::rows(app, app.screen());
    let depth_of = |kind: NodeKind| NodeKind::ORDER.iter().position(|k| *k == kind).unwrap_or(0);
    // The node's name is what gets copied into kubectl: it takes the width it needs (up to all
    // but 20 columns), the detail what is left; whatever is cut shows `…` where it was.
    let rest = usize::from(area.width.saturating_sub(2 + 1 + 13 + 3));
    let needed = rows
        .iter()
        .map(|r| depth_of(r.kind) * 2 + 2 + mlops_core::text::line(&r.label).chars().count())
        .max()
        .unwrap_or(0);
    let node_width = needed
        .max(30)
        .min(rest.saturating_sub(20))
        .max(rest.min(10));
    let detail_width = rest.saturating_sub(node_width);
    let spec = ListSpec {
        title: "Lineage: data → run → version → image → rollout → deployment → pods".into(),
        backend: Backend::Registry,
        what: "lineage for this version",
        header: vec!["", "KIND", "NODE", "DETAIL"],
        widths: vec![
            Constraint::Length(1),
            Constraint::Length(13),
            Constraint::Length(u16::try_from(node_width).unwrap_or(u16::MAX)),
            Constraint::Length(u16::try_from(detail_width).unwrap_or(u16::MAX)),
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
        let depth = depth_of(r.kind);
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
        let indent = format!("{}{branch}", "  ".repeat(depth));
        let label_room = node_width.saturating_sub(indent.chars().count());
        let detail_room = detail_width.saturating_sub(link.chars().count());
        Row::new(vec![
            Cell::from(Span::styled(marker, style)),
            Cell::from(Span::styled(r.kind.as_str(), t.muted)),
            // Names keep their distinguishing end (`churn-model-58ca5-2f585`); prose its start.
            Cell::from(format!("{indent}{}", shorten(&r.label, label_room))),
            Cell::from(format!(
                "{}{link}",
                elide(&r.detail, detail_room, Elide::End)
            )),
        ])
    });
}
