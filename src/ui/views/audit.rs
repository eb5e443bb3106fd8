//! Audit: every mutation, newest first, with the hash chain verified on screen.

use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    text::{Line, Span},
    widgets::{Cell, Row},
};

use crate::{
    app::{App, feeds::Backend, rows},
    ui::widgets::{ListSpec, render_list},
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let feed = &app.feeds.audit;
    let items = rows::audit(app, &app.screen().filter);
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
    let spec = ListSpec {
        title: format!("Audit trail ({})", items.len()),
        backend: Backend::Cluster,
        what: "audit entries",
        header: vec![
            "   #",
            "TIME (UTC)",
            "ACTOR",
            "ACTION",
            "TARGET",
            "COMMENT",
            "HASH",
        ],
        widths: vec![
            Constraint::Length(4),
            Constraint::Length(14),
            Constraint::Length(16),
            Constraint::Length(20),
            // What was changed matters more than the comment: it gets the larger share.
            Constraint::Fill(3),
            Constraint::Fill(2),
            Constraint::Length(8),
        ],
        bottom: chain,
    };
    render_list(app, frame, area, feed, spec, &items, |e| {
        let style = if e.action.contains("rolledback")
            || e.action.contains("abort")
            || e.action.contains("failed")
        {
            t.warn
        } else {
            t.text
        };
        Row::new(vec![
            Cell::from(format!("{:>4}", e.seq)),
            Cell::from(e.time.format("%m-%d %H:%M:%S").to_string()),
            Cell::from(e.actor.clone()),
            Cell::from(Span::styled(e.action.clone(), style)),
            Cell::from(e.target.clone()),
            Cell::from(e.comment.clone()),
            Cell::from(Span::styled(
                e.hash.chars().take(8).collect::<String>(),
                t.muted,
            )),
        ])
    });
}
