//! Rendering: `render(&App, &mut Frame)` reads the state and draws it; it never changes anything.
//! One file per view under `views/`; the frame (header, breadcrumbs, status bar) and the
//! overlays (help, palette, confirmation) here.

mod overlays;
pub mod plot;
mod status;
pub mod table;
pub mod views;
pub mod widgets;

use ratatui::{
    Frame,
    layout::{Alignment, Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, Wrap},
};

use crate::app::{
    App,
    screens::VIEWS,
    state::{MIN_SIZE, Overlay},
};

/// The largest area the console draws, in cells (columns, rows): more than a 4K screen holds at
/// the smallest readable font. A bigger terminal (tmux allows 10000×10000) gets the console in
/// its top-left 1000×500 cells and the rest left blank, so ratatui's two buffers of the area stay
/// under about 40 MB (at 4000×4000 they took 1.5 GB).
pub const MAX_AREA: (u16, u16) = (1000, 500);

/// The area drawn on a terminal of `width` × `height` cells: its top-left, at most [`MAX_AREA`].
pub fn drawn_area(width: u16, height: u16) -> Rect {
    Rect::new(0, 0, width.min(MAX_AREA.0), height.min(MAX_AREA.1))
}

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(Block::default().style(app.prefs.theme.text), area);
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        too_small(app, frame, area);
        return;
    }
    let [header, crumbs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, frame, header);
    render_crumbs(app, frame, crumbs);
    views::render(app, frame, body);
    status::render(app, frame, status);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => overlays::help(app, frame, body, *scroll),
        Some(Overlay::Palette {
            input, selected, ..
        }) => {
            overlays::palette(app, frame, body, input, *selected);
        }
        Some(Overlay::Confirm(c)) => overlays::confirm(app, frame, body, c),
        Some(Overlay::Columns(picker)) => overlays::columns(app, frame, body, picker),
        Some(Overlay::Filter { .. }) => status::filter_problems(app, frame, body),
        Some(Overlay::Prompt(_)) | None => {}
    }
    no_raw_controls(frame.buffer_mut());
}

/// The last guard between what the views drew and the terminal: a cell that still holds a
/// control character or a bidi control (text from a server that a view drew without going
/// through `text::line`) shows `�` instead. ratatui drops most zero-width controls itself, but
/// not all (U+202E reached the screen in the Overview's drift alerts and events).
fn no_raw_controls(buffer: &mut ratatui::buffer::Buffer) {
    for cell in &mut buffer.content {
        if cell
            .symbol()
            .chars()
            .any(|c| c.is_control() || mlops_core::text::is_bidi_control(c))
        {
            cell.set_symbol("\u{FFFD}");
        }
    }
}

fn too_small(app: &App, frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from(Span::styled("Terminal too small", app.prefs.theme.warn)),
        Line::from(format!(
            "{}×{} — mlops needs at least {}×{}",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        )),
        Line::from(Span::styled(
            "resize the window, or press q to quit",
            app.prefs.theme.muted,
        )),
    ];
    let y = area.height.saturating_sub(3) / 2;
    let r = Rect {
        x: area.x,
        y: area.y + y,
        width: area.width,
        height: area.height.min(3),
    };
    frame.render_widget(
        crate::ui::widgets::paragraph(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        r,
    );
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let mut spans = vec![Span::styled(" mlops ", t.status_key), Span::raw(" ")];
    let current = app.view();
    for (i, v) in VIEWS.iter().enumerate() {
        let label = format!("{}:{}", i + 1, v.title);
        let style = if v.id == current {
            t.accent
                .patch(Style::default().add_modifier(ratatui::style::Modifier::UNDERLINED))
        } else {
            t.muted
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(crate::ui::widgets::paragraph(Line::from(spans)), area);
}

fn render_crumbs(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let mut spans = vec![Span::raw(" ")];
    for (i, s) in app.nav.stack.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" › ", t.muted));
        }
        let style = if i + 1 == app.nav.stack.len() {
            t.breadcrumb.patch(t.title)
        } else {
            t.breadcrumb
        };
        spans.push(Span::styled(s.kind.crumb(), style));
    }
    let filter = &app.screen().filter;
    if !filter.is_empty() && !matches!(app.overlay, Some(Overlay::Filter { .. })) {
        spans.push(Span::styled(format!("   /{filter}"), t.warn));
    }
    if !app.pending.is_empty() {
        let keys: Vec<String> = app.pending.iter().map(ToString::to_string).collect();
        spans.push(Span::styled(
            format!("   keys: {} …", keys.join(" ")),
            t.key,
        ));
    }
    frame.render_widget(crate::ui::widgets::paragraph(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use ratatui::{buffer::Buffer, layout::Rect, widgets::Widget};

    #[test]
    fn no_control_character_drawn_by_any_widget_reaches_the_terminal() {
        let area = Rect::new(0, 0, 20, 1);
        let mut buffer = Buffer::empty(area);
        // Cells as a widget that forgot `text::line` can leave them (ratatui drops most
        // zero-width controls, but a bidi override reached the screen from a table cell).
        ratatui::widgets::Paragraph::new("abcd").render(area, &mut buffer);
        buffer[(1, 0)].set_symbol("\u{202e}");
        buffer[(2, 0)].set_symbol("b\u{9b}");
        super::no_raw_controls(&mut buffer);
        let drawn: String = buffer
            .content
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert!(
            !drawn
                .chars()
                .any(|c| c.is_control() || mlops_core::text::is_bidi_control(c)),
            "{drawn:?}"
        );
        assert!(drawn.starts_with("a\u{fffd}\u{fffd}d"), "{drawn:?}");
    }

    #[test]
    fn a_paragraph_shows_one_replacement_for_each_escape_sequence() {
        let p = super::widgets::paragraph("m\u{1b}]0;PWNED\u{7}\u{1b}[31mRED\u{202e}");
        let area = Rect::new(0, 0, 20, 1);
        let mut buffer = Buffer::empty(area);
        p.render(area, &mut buffer);
        let drawn: String = buffer
            .content
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert_eq!(drawn.trim_end(), "m\u{fffd}\u{fffd}RED\u{fffd}");
    }
}
