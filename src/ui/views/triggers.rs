//! Triggers: each RolloutTrigger with what it watches, whether it is ready (the reason when not),
//! the last event it received (verified, or rejected and why) and the rollout it started;
//! `enter` opens that rollout. When the triggers cannot be read (the CRD not installed, a 403)
//! the view says why, greyed, and the other views go on.

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::{Cell, Paragraph, Wrap},
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{self, table::Elide},
    },
    ui::{
        table::{TableSpec, elide, render_table},
        widgets::{age, feed_block},
    },
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let feed = &app.feeds.cluster;
    if let Some(why) = rows::triggers::read(app).and_then(|r| r.unavailable()) {
        let (block, _) = feed_block(app, "Triggers", feed, Backend::Cluster, true);
        let inner = block.inner(area);
        frame.render_widget(block.border_style(t.muted), area);
        let text = vec![
            Line::from(Span::styled(format!("⚠ {why}"), t.warn)),
            Line::from(Span::styled(
                "the RolloutTriggers cannot be listed; the other views are unaffected",
                t.muted,
            )),
        ];
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
        return;
    }
    let items = rows::triggers::triggers(app, app.screen());
    let spec = TableSpec {
        title: format!("Triggers ({})", items.len()),
        backend: Backend::Cluster,
        what: "RolloutTriggers",
        columns: rows::triggers::shown_columns(app),
        bottom: None,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(app, frame, area, feed, spec, &items, |r, c, w| {
        let w = usize::from(w);
        match c.field {
            "ready" => {
                let text = rows::triggers::ready_text(r);
                let style = match text.as_str() {
                    "True" => t.ok,
                    "—" => t.muted,
                    _ => t.err,
                };
                Some(Cell::from(Span::styled(elide(&text, w, Elide::End), style)))
            }
            "age" => Some(Cell::from(Span::styled(
                r.status
                    .last_event
                    .as_ref()
                    .map_or_else(|| "—".into(), |e| age(app.now, e.time)),
                t.muted,
            ))),
            "verdict" => {
                let text = rows::triggers::verdict_text(r);
                let style = if text.starts_with("rejected") {
                    t.err
                } else if text == "verified" {
                    t.ok
                } else {
                    t.muted
                };
                Some(Cell::from(Span::styled(elide(&text, w, Elide::End), style)))
            }
            "started" if r.status.started_rollout.is_none() => {
                Some(Cell::from(Span::styled("—", t.muted)))
            }
            _ => None,
        }
    });
}
