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
    views::render(app, frame, body);
    let search = search(app, frame.buffer_mut(), body);
    render_crumbs(app, frame, crumbs, search.as_deref());
    status::render(app, frame, status, search.as_deref());
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
        Some(Overlay::Prompt(_)) => {}
        None => status::message_overflow(app, frame, body),
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
    let current = app.view();
    // Every title whole when they fit; else the current view's whole and the others' first
    // three letters (`2:Exp`), so the last views never fall off a narrow terminal; the name
    // goes first when even those would not fit beside it.
    let label = |i: usize, v: &crate::app::screens::ViewInfo, short: bool| {
        if short && v.id != current {
            format!(
                "{}:{}",
                (i + 1) % 10,
                v.title.chars().take(3).collect::<String>()
            )
        } else {
            format!("{}:{}", (i + 1) % 10, v.title)
        }
    };
    let width = |short: bool| -> usize {
        VIEWS
            .iter()
            .enumerate()
            .map(|(i, v)| label(i, v, short).chars().count() + 1)
            .sum()
    };
    let room = usize::from(area.width);
    let short = width(false) + 8 > room;
    let mut spans = if width(short) + 8 <= room {
        vec![Span::styled(" mlops ", t.status_key), Span::raw(" ")]
    } else {
        Vec::new()
    };
    for (i, v) in VIEWS.iter().enumerate() {
        let style = if v.id == current {
            t.accent
                .patch(Style::default().add_modifier(ratatui::style::Modifier::UNDERLINED))
        } else {
            t.muted
        };
        spans.push(Span::styled(label(i, v, short), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(crate::ui::widgets::paragraph(Line::from(spans)), area);
}

/// A detail or raw screen's `/` search: every match drawn in `body` highlighted; what it found,
/// for the bar and the breadcrumbs (a raw document's match among all its lines; elsewhere the
/// matches on the screen).
fn search(app: &App, buffer: &mut ratatui::buffer::Buffer, body: Rect) -> Option<String> {
    let screen = app.screen();
    if screen.kind.is_list() || screen.search.is_empty() {
        return None;
    }
    let on_screen = highlight(buffer, body, &screen.search, app.prefs.theme.selection);
    if let crate::app::screens::ScreenKind::Raw { of, .. } = &screen.kind {
        let document = crate::app::rows::details::raw_document(app, of).unwrap_or_default();
        let lines = crate::app::rows::details::matching_lines(&document, &screen.search);
        return Some(match lines.get(screen.selected) {
            _ if lines.is_empty() => "no match".to_string(),
            Some(line) => format!(
                "match {} of {} (line {})",
                screen.selected + 1,
                lines.len(),
                line + 1
            ),
            None => format!("{} lines match", lines.len()),
        });
    }
    Some(match on_screen {
        0 => "no match on this screen".to_string(),
        1 => "1 match on this screen".to_string(),
        n => format!("{n} matches on this screen"),
    })
}

/// Patch `style` over every occurrence of `query` (ignoring case) drawn in `area`; how many.
fn highlight(buffer: &mut ratatui::buffer::Buffer, area: Rect, query: &str, style: Style) -> usize {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let query: Vec<char> = query.chars().map(fold).collect();
    if query.is_empty() {
        return 0;
    }
    let mut found = 0;
    for y in area.top()..area.bottom() {
        // The row as characters, each with the column it is drawn at.
        let row: Vec<(u16, char)> = (area.left()..area.right())
            .flat_map(|x| buffer[(x, y)].symbol().chars().map(move |c| (x, fold(c))))
            .collect();
        let mut i = 0;
        while i + query.len() <= row.len() {
            if row[i..i + query.len()]
                .iter()
                .zip(&query)
                .all(|((_, c), q)| c == q)
            {
                for (x, _) in &row[i..i + query.len()] {
                    let cell = &mut buffer[(*x, y)];
                    cell.set_style(cell.style().patch(style));
                }
                found += 1;
                i += query.len();
            } else {
                i += 1;
            }
        }
    }
    found
}

fn render_crumbs(app: &App, frame: &mut Frame, area: Rect, search: Option<&str>) {
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
    if let Some(found) = search
        && !matches!(app.overlay, Some(Overlay::Filter { .. }))
    {
        spans.push(Span::styled(
            format!("   /{} ({found}; n/N)", app.screen().search),
            t.warn,
        ));
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
    fn a_search_highlights_each_match_whatever_its_case_and_counts_them() {
        let area = Rect::new(0, 0, 24, 2);
        let mut buffer = Buffer::empty(area);
        ratatui::widgets::Paragraph::new("Policy gates: policy\nno match here")
            .render(area, &mut buffer);
        let mark =
            ratatui::style::Style::default().add_modifier(ratatui::style::Modifier::REVERSED);
        assert_eq!(super::highlight(&mut buffer, area, "POLICY", mark), 2);
        let marked: String = (0..24)
            .map(|x| {
                let c = &buffer[(x, 0)];
                if c.modifier.contains(ratatui::style::Modifier::REVERSED) {
                    c.symbol().to_string()
                } else {
                    "_".to_string()
                }
            })
            .collect();
        assert_eq!(marked, "Policy________policy____");
        assert_eq!(super::highlight(&mut buffer, area, "absent", mark), 0);
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
