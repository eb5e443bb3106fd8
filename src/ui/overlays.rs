//! Overlays drawn over the body: the help generated from the active keymap, the command palette
//! with completion, and the confirmation dialog with its preview and comment.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Clear, Wrap},
};

use ratatui_textarea::TextArea;

use super::table::shorten;
use crate::app::{
    App,
    help::{self, HelpLine},
    palette,
    state::{ColumnPicker, Confirm},
};

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
        .border_style(app.prefs.theme.border_focus)
        .title(Span::styled(title, app.prefs.theme.title))
        .style(app.prefs.theme.overlay)
}

pub fn help(app: &App, frame: &mut Frame, area: Rect, scroll: u16) {
    let t = &app.prefs.theme;
    let width = help::box_width(app).min(area.width);
    let (rows, keys_w) = help::rows(app);
    // Keys are short (`ctrl-c`, `g g`); one too long for its column is cut with `…`.
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|l| match l {
            HelpLine::Heading(h) => Line::from(Span::styled(h, t.header)),
            HelpLine::Entry(k, text) => Line::from(vec![
                Span::styled(format!("  {:<keys_w$} ", shorten(&k, keys_w)), t.key),
                Span::styled(text, t.text),
            ]),
            HelpLine::Note(n) => Line::from(Span::styled(n, t.muted)),
            HelpLine::Blank => Line::from(""),
        })
        .collect();
    let total = lines.len();
    let visible = help::visible(area.height);
    let height = u16::try_from(total.min(visible) + 2).unwrap_or(u16::MAX);
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    let shown_to = (usize::from(scroll) + visible).min(total);
    let more = if shown_to < total {
        format!(" ↓ {} more ", total - shown_to)
    } else {
        String::new()
    };
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .block(
                overlay_block(app, format!(" Help — {} ", app.view().title()))
                    .title_bottom(Line::from(Span::styled(more, t.muted)).right_aligned()),
            )
            .scroll((scroll, 0)),
        r,
    );
}

pub fn palette(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    typed_input: &TextArea<'static>,
    selected: usize,
) {
    let t = &app.prefs.theme;
    let typed = typed_input.lines().join(" ");
    let options = palette::completions(&typed);
    let width = 84.min(area.width);
    let help_w = usize::from(width.saturating_sub(2)).saturating_sub(36);
    // The selected command's description in full under the list when its row cuts it.
    let full: Vec<String> = options
        .get(selected)
        .filter(|c| c.help.chars().count() > help_w)
        .map(|c| mlops_core::text::wrap(c.help, usize::from(width.saturating_sub(4))))
        .unwrap_or_default();
    let extra = if full.is_empty() { 0 } else { full.len() + 1 };
    let height = u16::try_from(options.len() + 4 + extra)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let r = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + 1,
        width,
        height,
    };
    frame.render_widget(Clear, r);
    let block = overlay_block(app, " : command ".into());
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let [colon, text] =
        Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
    frame.render_widget(
        crate::ui::widgets::paragraph(Span::styled(": ", t.key)),
        colon,
    );
    let mut ta = typed_input.clone();
    ta.set_style(t.overlay);
    ta.set_cursor_line_style(t.overlay);
    frame.render_widget(&ta, text);
    let mut lines: Vec<Line> = options
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let style = if i == selected { t.selection } else { t.text };
            let name = format!("{}{}", c.name, c.args);
            Line::from(vec![
                Span::styled(format!(" {:<20}", shorten(&name, 20)), style),
                Span::styled(format!(" {:<12} ", whole_words(c.aliases, 12)), t.muted),
                Span::styled(
                    super::table::elide(c.help, help_w, crate::app::rows::table::Elide::End),
                    t.muted,
                ),
            ])
        })
        .collect();
    if options.is_empty() {
        lines.push(Line::from(Span::styled(
            " no matching command — enter to see a suggestion",
            t.warn,
        )));
    }
    if !full.is_empty() {
        lines.push(Line::from(""));
        lines.extend(
            full.into_iter()
                .map(|l| Line::from(Span::styled(format!(" {l}"), t.text))),
        );
    }
    frame.render_widget(crate::ui::widgets::paragraph(lines), list);
}

/// As many of `words` as fit in `width` characters, whole, then `…` if some were left out.
fn whole_words(words: &[&str], width: usize) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        let sep = usize::from(!out.is_empty());
        let rest = words.len() - i - 1;
        // Room for this word, and for " …" after it when more follow.
        let need = out.chars().count() + sep + w.chars().count() + if rest > 0 { 2 } else { 0 };
        if need > width {
            if out.is_empty() {
                out.push('…');
            } else {
                out.push_str(" …");
            }
            return out;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

pub fn confirm(app: &App, frame: &mut Frame, area: Rect, c: &Confirm) {
    let t = &app.prefs.theme;
    let width = area.width.min(84);
    let inner_w = width.saturating_sub(2);
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
            "Comment (optional, goes to the audit trail):"
        },
        t.header,
    )));
    // The preview's height is the rows its lines wrap to, so the comment's label always shows.
    let preview = crate::ui::widgets::paragraph(lines).wrap(Wrap { trim: false });
    let preview_h = u16::try_from(preview.line_count(inner_w)).unwrap_or(u16::MAX);
    // A refusal (the rollout moved on under the dialog) wraps inside the box, whole.
    let error = c
        .error
        .as_deref()
        .map(|e| mlops_core::text::wrap(e, usize::from(inner_w)))
        .unwrap_or_default();
    let error_h = u16::try_from(error.len()).unwrap_or(u16::MAX).max(1);
    let height = (preview_h + 4 + error_h).min(area.height);
    let r = centered(area, width, height);
    frame.render_widget(Clear, r);
    let block = overlay_block(app, format!(" Confirm: {} ", c.title));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [p, input, err, hint] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(error_h),
        Constraint::Length(1),
    ])
    .areas(inner);
    // When the terminal is too short for it all, the end of the preview (the label) stays.
    let overflow = preview_h.saturating_sub(p.height);
    frame.render_widget(preview.scroll((overflow, 0)), p);
    let mut ta = c.comment.clone();
    ta.set_style(t.selection);
    ta.set_cursor_line_style(t.selection);
    frame.render_widget(&ta, input);
    frame.render_widget(
        crate::ui::widgets::paragraph(
            error
                .into_iter()
                .map(|l| Line::from(Span::styled(l, t.err)))
                .collect::<Vec<_>>(),
        ),
        err,
    );
    frame.render_widget(
        crate::ui::widgets::paragraph(Span::styled(
            "enter confirm · esc or ctrl-c cancel (nothing changes) · ctrl-u clear",
            t.muted,
        )),
        hint,
    );
}

/// The Runs table's column chooser: every metric and param of the loaded runs, ticked when
/// shown, the selected one highlighted; scrolls with the selection.
pub fn columns(app: &App, frame: &mut Frame, area: Rect, picker: &ColumnPicker) {
    let t = &app.prefs.theme;
    let rows = u16::try_from(picker.options.len()).unwrap_or(u16::MAX);
    let r = centered(area, 56, rows.saturating_add(2).max(5));
    frame.render_widget(Clear, r);
    let shown = picker.options.iter().filter(|(_, on)| *on).count();
    let block = overlay_block(app, format!(" Columns ({shown} chosen) ")).title_bottom(
        Line::from(Span::styled(
            " space ticks · enter shows · esc leaves ",
            t.muted,
        ))
        .right_aligned(),
    );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let height = usize::from(inner.height);
    let offset = picker.selected.saturating_sub(height.saturating_sub(1));
    let width = usize::from(inner.width);
    let lines: Vec<Line> = picker
        .options
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, (field, on))| {
            let style = if i == picker.selected {
                t.selection
            } else {
                t.text
            };
            let (kind, kind_style) = match field {
                mlops_core::model::RunField::Metric(_) => ("metric", t.accent),
                mlops_core::model::RunField::Param(_) => ("param ", t.muted),
            };
            let kind_style = if i == picker.selected {
                style
            } else {
                kind_style
            };
            Line::from(vec![
                Span::styled(if *on { " [x] " } else { " [ ] " }, style),
                Span::styled(format!("{kind} "), kind_style),
                Span::styled(shorten(field.key(), width.saturating_sub(13)), style),
            ])
        })
        .collect();
    frame.render_widget(crate::ui::widgets::paragraph(lines), inner);
}
