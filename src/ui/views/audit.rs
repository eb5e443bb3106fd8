//! Audit: every mutation, newest first, with the hash chain verified on screen; `enter` (or `d`)
//! opens an entry in full.

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::Cell,
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{self, table::Elide},
    },
    ui::table::{TableSpec, elide, render_table, shorten},
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let feed = &app.feeds.audit;
    let items = rows::audit(app, app.screen());
    let chain =
        feed.data
            .as_ref()
            .zip(app.audit_chain.as_ref())
            .map(|(all, verdict)| match verdict {
                Ok(()) => Line::from(Span::styled(
                    format!(" hash chain ✓ verified over {} entries ", all.len()),
                    t.ok,
                )),
                Err(e) => Line::from(Span::styled(format!(" ✗ {e} "), t.err)),
            });
    let spec = TableSpec {
        title: format!("Audit trail ({})", items.len()),
        backend: Backend::Cluster,
        what: "audit entries",
        columns: rows::audit::columns(),
        bottom: chain,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(app, frame, area, feed, spec, &items, |e, c, w| {
        let w = usize::from(w);
        match c.field {
            "action" => {
                let style = if e.action.contains("rolledback")
                    || e.action.contains("abort")
                    || e.action.contains("failed")
                    || e.action.contains("rollback")
                {
                    t.warn
                } else {
                    t.text
                };
                Some(Cell::from(Span::styled(shorten(&e.action, w), style)))
            }
            // A comment from a human; else what the controller recorded, dimmed.
            "comment" if e.comment.is_empty() => Some(Cell::from(Span::styled(
                elide(&e.details, w, Elide::End),
                t.muted,
            ))),
            "hash" => Some(Cell::from(Span::styled(
                e.hash.chars().take(w).collect::<String>(),
                t.muted,
            ))),
            _ => None,
        }
    });
}
