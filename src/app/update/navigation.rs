//! Moving around: views, drill-down and back, the selection, the filter.

use ratatui_textarea::TextArea;

use super::is_list;
use crate::app::{
    action::Action,
    rows,
    screens::{Screen, ViewId},
    state::{App, Mode},
};

pub(super) fn show(app: &mut App, view: ViewId) {
    app.stack = vec![Screen::new(view.screen())];
    app.mode = Mode::Normal;
    app.pending.clear();
    app.dirty = true;
}

pub(super) fn enter(app: &mut App) {
    let Some(kind) = rows::drill(app, app.screen()) else {
        return;
    };
    app.stack.push(Screen::new(kind));
    app.dirty = true;
}

pub(super) fn open_filter(app: &mut App) {
    if rows::len(app, app.screen()) == 0
        && app.screen().filter.is_empty()
        && !is_list(&app.screen().kind)
    {
        app.warn("this screen has no list to filter");
    } else {
        app.mode = Mode::Filter;
        app.filter_input = TextArea::from([app.screen().filter.clone()]);
        app.filter_input
            .move_cursor(ratatui_textarea::CursorMove::End);
    }
    app.dirty = true;
}

pub(super) fn back(app: &mut App) {
    app.dirty = true;
    if app.mode != Mode::Normal {
        app.mode = Mode::Normal;
        app.confirm = None;
        return;
    }
    if !app.screen().filter.is_empty() {
        set_filter(app, String::new());
        return;
    }
    if app.stack.len() > 1 {
        app.stack.pop();
    }
}

pub(super) fn set_filter(app: &mut App, filter: String) {
    let s = app.screen_mut();
    if s.filter != filter {
        s.filter = filter;
        s.selected = 0;
        s.offset = 0;
    }
    app.dirty = true;
}

pub(super) fn clamp_selection(app: &mut App) {
    let len = rows::len(app, app.screen());
    let h = app.list_height();
    let s = app.screen_mut();
    if len == 0 {
        s.selected = 0;
        s.offset = 0;
        return;
    }
    s.selected = s.selected.min(len - 1);
    if s.selected < s.offset {
        s.offset = s.selected;
    } else if s.selected >= s.offset + h {
        s.offset = s.selected + 1 - h;
    }
    s.offset = s.offset.min(len.saturating_sub(1));
}

pub(super) fn move_selection(app: &mut App, action: &Action) {
    if app.mode == Mode::Help {
        app.help_scroll = match action {
            Action::Up => app.help_scroll.saturating_sub(1),
            Action::Down => app.help_scroll.saturating_add(1),
            Action::PageUp => app.help_scroll.saturating_sub(10),
            Action::PageDown => app.help_scroll.saturating_add(10),
            Action::Top => 0,
            _ => app.help_scroll,
        };
        app.dirty = true;
        return;
    }
    let len = rows::len(app, app.screen());
    if len == 0 {
        return;
    }
    let page = app.list_height().max(1);
    let s = app.screen_mut();
    s.selected = match action {
        Action::Up => s.selected.saturating_sub(1),
        Action::Down => (s.selected + 1).min(len - 1),
        Action::PageUp => s.selected.saturating_sub(page),
        Action::PageDown => (s.selected + page).min(len - 1),
        Action::Top => 0,
        _ => len - 1,
    };
    clamp_selection(app);
    app.dirty = true;
}
