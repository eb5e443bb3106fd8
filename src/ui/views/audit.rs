//! Audit: every mutation, newest first, with the hash chain verified on screen.

use mlops_core::audit::AuditLog;
use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    text::{Line, Span},
    widgets::{Cell, Row},
};

use crate::{
    app::{App, select, state::Backend},
    ui::widgets::{ListTable, empty_state, feed_block, window},
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let feed = &app.feeds.audit;
    let items = select::audit(app, &app.screen().filter);
    let (mut block, greyed) = feed_block(
        app,
        &format!("Audit trail ({})", items.len()),
        feed,
        Backend::Cluster,
        true,
    );
    if let Some(all) = &feed.data {
        let chain = match AuditLog::verify(all) {
            Ok(()) => Span::styled(
                format!(" hash chain ✓ verified over {} entries ", all.len()),
                t.ok,
            ),
            Err(e) => Span::styled(format!(" ✗ {e} "), t.err),
        };
        block = block.title_bottom(Line::from(chain));
    }
    if items.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            empty_state(app, feed, Backend::Cluster, "audit entries"),
            inner,
        );
        return;
    }
    let (offset, height) = window(app, area, items.len());
    let rows = items
        .iter()
        .skip(offset)
        .take(height)
        .map(|e| {
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
        })
        .collect();
    ListTable {
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
            Constraint::Length(34),
            Constraint::Min(20),
            Constraint::Length(8),
        ],
        rows,
        selected: app.screen().selected.checked_sub(offset),
        greyed,
    }
    .render(app, frame, area, block);
}
