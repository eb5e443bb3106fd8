//! Overlays drawn over the body: the help generated from the active keymap, the command palette
//! with completion, and the confirmation dialog with its preview and comment.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap},
};

use crate::app::{App, palette};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn overlay_block<'a>(app: &App, title: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.theme.border_focus)
        .title(Span::styled(title, app.theme.title))
        .style(app.theme.overlay)
}

pub fn help(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let context = app.view().context();
    let mut lines = Vec::new();
    let mut section = String::new();
    for (sec, keys, action) in app.keymap.bindings(context) {
        if sec != section {
            if !section.is_empty() {
                lines.push(Line::from(""));
            }
            lines.push(Line::from(Span::styled(
                if sec == "global" {
                    "everywhere".to_string()
                } else {
                    format!("in {}", app.view().title())
                },
                t.header,
            )));
            section = sec;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<16}", keys.join("  ")), t.key),
            Span::styled(action.description(), t.text),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!(
            "keymap: {} · theme: {} · ↑↓ scroll · esc close",
            app.keymap.name, app.theme.name
        ),
        t.muted,
    )));
    if !app.config_errors.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(
                "{} config error(s): run `mlops config check`",
                app.config_errors.len()
            ),
            t.warn,
        )));
    }
    let width = 64;
    let height = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .block(overlay_block(
                app,
                " Help — keys of the active keymap ".into(),
            ))
            .scroll((app.help_scroll, 0)),
        r,
    );
}

pub fn palette(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let typed = app.palette.lines().join(" ");
    let options = palette::completions(&typed);
    let height = (options.len() as u16 + 4).min(area.height);
    let r = Rect {
        x: area.x + (area.width.saturating_sub(60)) / 2,
        y: area.y + 1,
        width: 60.min(area.width),
        height,
    };
    frame.render_widget(Clear, r);
    let block = overlay_block(app, " : command ".into());
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let [colon, text] =
        Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
    frame.render_widget(Paragraph::new(Span::styled(": ", t.key)), colon);
    let mut ta = app.palette.clone();
    ta.set_style(t.overlay);
    ta.set_cursor_line_style(t.overlay);
    frame.render_widget(&ta, text);
    let mut lines: Vec<Line> = options
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let style = if i == app.palette_selected {
                t.selection
            } else {
                t.text
            };
            Line::from(vec![
                Span::styled(format!(" {:<12}", c.name), style),
                Span::styled(format!(" {:<16}", c.aliases.join(" ")), t.muted),
                Span::styled(c.help, t.muted),
            ])
        })
        .collect();
    if options.is_empty() {
        lines.push(Line::from(Span::styled(
            " no matching command — enter to see a suggestion",
            t.warn,
        )));
    }
    frame.render_widget(Paragraph::new(lines), list);
}

pub fn confirm(app: &App, frame: &mut Frame, area: Rect) {
    let Some(c) = &app.confirm else { return };
    let t = &app.theme;
    let mut lines = vec![Line::from(Span::styled("This will change:", t.header))];
    for p in &c.preview {
        lines.push(Line::from(vec![
            Span::styled("  • ", t.accent),
            Span::styled(p.clone(), t.text),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        if c.needs_comment {
            "Comment (required, goes to the audit trail):"
        } else {
            "Comment (optional):"
        },
        t.header,
    )));
    let preview_h = lines.len() as u16;
    let height = preview_h + 6;
    let r = centered(area, 76, height);
    frame.render_widget(Clear, r);
    let block = overlay_block(app, format!(" Confirm: {} ", c.title));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [p, input, err, hint] = Layout::vertical([
        Constraint::Length(preview_h),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), p);
    let mut ta = c.comment.clone();
    ta.set_style(t.selection);
    ta.set_cursor_line_style(t.selection);
    frame.render_widget(&ta, input);
    if let Some(e) = &c.error {
        frame.render_widget(Paragraph::new(Span::styled(e.clone(), t.err)), err);
    }
    frame.render_widget(
        Paragraph::new(Span::styled(
            "enter confirm · esc cancel (nothing changes)",
            t.muted,
        )),
        hint,
    );
}
