//! Moving around: views, drill-down and back, the selection, the filter.

use ratatui_textarea::TextArea;

use crate::app::{
    action::Action,
    rows::{self, filter::FilterText},
    screens::{Screen, ScreenKind, ViewId},
    state::{App, Overlay},
};

/// Most places the history remembers.
const HISTORY: usize = 50;

/// Go to `stack` (a view's screens), remembering where we were: in the view's own memory (its
/// drill stack, selection and filter come back when it is shown again) and, when the view
/// changes, in the history (`[`, `]`, `-`).
pub(super) fn go(app: &mut App, stack: Vec<Screen>) {
    let view = app.view();
    app.nav.views.insert(view, app.nav.stack.clone());
    if app.nav.history.is_empty() {
        app.nav.history.push(app.nav.stack.clone());
        app.nav.history_pos = 0;
    }
    let pos = app.nav.history_pos.min(app.nav.history.len() - 1);
    if stack.first().map(|s| s.kind.view()) == Some(view) {
        // Drilling in (or back to the top) within a view is not a new place: the history
        // remembers views, as k9s does, and each view remembers its own drill stack.
        app.nav.history[pos].clone_from(&stack);
    } else {
        app.nav.history[pos].clone_from(&app.nav.stack);
        app.nav.history.truncate(pos + 1);
        app.nav.history.push(stack.clone());
        let mut last = pos;
        if app.nav.history.len() > HISTORY {
            app.nav.history.remove(0);
            last = last.saturating_sub(1);
        }
        app.nav.history_pos = app.nav.history.len() - 1;
        app.nav.history_last = Some(last);
    }
    app.nav.stack = stack;
    app.overlay = None;
    app.pending.clear();
    clamp_selection(app);
    app.dirty = true;
}

/// Show `view` as it was left (its drill stack, selection and filter); showing the view already
/// on screen goes back to its top.
pub(super) fn show(app: &mut App, view: ViewId) {
    let stack = if view == app.view() {
        let mut root = app.nav.stack[0].clone();
        if !root.kind.is_root(view) {
            root = Screen::new(view.screen());
        }
        vec![root]
    } else {
        app.nav
            .views
            .get(&view)
            .cloned()
            .unwrap_or_else(|| vec![Screen::new(view.screen())])
    };
    go(app, stack);
}

/// Open the screen `kind`: on the current view's stack, or — when it belongs to another view (a
/// GPU's model version in Lineage) — in that view, so the tab bar and the breadcrumb agree.
pub(super) fn open(app: &mut App, kind: ScreenKind) {
    let view = kind.view();
    let stack = if view == app.view() {
        let mut stack = app.nav.stack.clone();
        stack.push(Screen::new(kind));
        stack
    } else {
        let root = view.screen();
        if kind == root {
            vec![Screen::new(kind)]
        } else {
            let mut opened = Screen::new(kind);
            opened.opened_from = Some(app.view());
            vec![Screen::new(root), opened]
        }
    };
    go(app, stack);
}

/// The Overview's focus moves to the next (or previous) panel; each keeps its selection.
pub(super) fn switch_panel(app: &mut App, forward: bool) {
    if !app.screen().kind.is_root(ViewId::Overview) {
        app.warn("panels are on the Overview");
        return;
    }
    let s = app.screen_mut();
    let here = s.panel;
    s.panels.insert(here, (s.selected, s.anchor));
    s.panel = here.next(forward);
    let (selected, anchor) = s.panels.get(&s.panel).copied().unwrap_or((0, None));
    s.selected = selected;
    s.anchor = anchor;
    s.offset = 0;
    s.sort = None;
    clamp_selection(app);
    app.dirty = true;
}

pub(super) fn enter(app: &mut App) {
    if let Some(kind) = rows::drill(app, app.screen()) {
        open(app, kind);
    }
}

/// `[` (back), `]` (forward) and `-` (the last place) through the history.
pub(super) fn history(app: &mut App, action: &Action) {
    if app.nav.history.is_empty() {
        app.warn("no history yet");
        return;
    }
    let pos = app.nav.history_pos.min(app.nav.history.len() - 1);
    let target = match action {
        Action::HistoryBack => pos.checked_sub(1),
        Action::HistoryForward => (pos + 1 < app.nav.history.len()).then_some(pos + 1),
        // `-` toggles between this place and the one shown before it.
        _ => app
            .nav
            .history_last
            .filter(|&l| l != pos && l < app.nav.history.len())
            .or(pos.checked_sub(1))
            .or((pos + 1 < app.nav.history.len()).then_some(pos + 1)),
    };
    let Some(target) = target else {
        app.info(if matches!(action, Action::HistoryForward) {
            "at the newest place in the history"
        } else {
            "at the oldest place in the history"
        });
        return;
    };
    let view = app.view();
    app.nav.views.insert(view, app.nav.stack.clone());
    app.nav.history[pos] = app.nav.stack.clone();
    app.nav.history_pos = target;
    app.nav.history_last = Some(pos);
    app.nav.stack = app.nav.history[target].clone();
    app.overlay = None;
    app.pending.clear();
    clamp_selection(app);
    app.dirty = true;
}

/// `/`: filter a list; on a detail or raw screen, search it (as `less` and k9s's describe do).
pub(super) fn open_filter(app: &mut App) {
    let before = if app.screen().kind.is_list() {
        app.screen().filter.text().to_string()
    } else {
        app.screen().search.clone()
    };
    let mut input = TextArea::from([before.clone()]);
    input.move_cursor(ratatui_textarea::CursorMove::End);
    let at = (app.screen().selected, app.screen().offset);
    app.overlay = Some(Overlay::Filter { input, before, at });
    app.dirty = true;
}

/// What `/` typed: the list's filter, or the detail screen's search.
pub(super) fn set_query(app: &mut App, text: String) {
    if app.screen().kind.is_list() {
        set_filter(app, text);
    } else if app.screen().search != text {
        app.screen_mut().search = text;
        seek_match(app, Seek::Here);
        app.dirty = true;
    }
}

/// Where `n` / `N` and typing look for the search's next match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seek {
    /// The first match from the current one on (as the search is typed).
    Here,
    Next,
    Prev,
}

/// Move a raw document to its search's match (wrapping round at either end), with two lines
/// above it; say so when there is none. Other detail screens show every match highlighted
/// where they are, so `n`/`N` only say how to find more.
pub(super) fn seek_match(app: &mut App, seek: Seek) {
    app.dirty = true;
    let query = app.screen().search.clone();
    if query.is_empty() {
        if seek != Seek::Here {
            app.warn("no search: / searches this screen");
        }
        return;
    }
    let ScreenKind::Raw { of, .. } = &app.screen().kind else {
        if seek != Seek::Here {
            app.info("every match on this screen is highlighted; y shows the raw document to search through");
        }
        return;
    };
    let document = rows::details::raw_document(app, of).unwrap_or_default();
    let count = document.lines().count().max(1);
    let lines = rows::details::matching_lines(&document, &query);
    if lines.is_empty() {
        app.warn(format!("no match for \"{query}\""));
        return;
    }
    // The current match is counted among the matches (not by its line: a live document grows
    // above it as the rollout moves on, and "match 2 of 3" stays true).
    let (current, offset) = (app.screen().selected, app.screen().offset);
    let last = lines.len() - 1;
    let k = match seek {
        Seek::Here => lines.iter().position(|&l| l >= offset).unwrap_or(0),
        Seek::Next if current >= last => 0,
        Seek::Next => current + 1,
        Seek::Prev if current == 0 || current > last => last,
        Seek::Prev => current - 1,
    };
    if lines.len() > 1 {
        if seek == Seek::Next && k == 0 {
            app.info("search wrapped to the top");
        } else if seek == Seek::Prev && k == last {
            app.info("search wrapped to the bottom");
        }
    }
    let max = count.saturating_sub(app.list_height().max(1));
    let s = app.screen_mut();
    s.selected = k;
    s.offset = lines[k].saturating_sub(2).min(max);
}

pub(super) fn back(app: &mut App) {
    app.dirty = true;
    if app.overlay.take().is_some() {
        return;
    }
    if !app.screen().filter.is_empty() {
        set_filter(app, String::new());
        return;
    }
    if !app.screen().search.is_empty() {
        app.screen_mut().search.clear();
        return;
    }
    if app.nav.stack.len() > 1 {
        // Back along the path the user came by: a screen opened from another view (the
        // Overview's rollout) goes back to that view, as it was left.
        let from = app.nav.stack.pop().and_then(|s| s.opened_from);
        if let Some(view) = from {
            show(app, view);
        }
    }
}

pub(super) fn set_filter(app: &mut App, filter: String) {
    let s = app.screen_mut();
    if s.filter.text() != filter {
        s.filter = FilterText::new(filter);
        // The selected row stays selected when the filter keeps it; otherwise the top.
        s.selected = 0;
        s.offset = 0;
    }
    clamp_selection(app);
    app.dirty = true;
}

/// Keep the selection on its row's object (found by identity after a re-sort, a watch event or
/// a verb), inside the list, and visible.
pub(super) fn clamp_selection(app: &mut App) {
    if !app.screen().kind.is_list() {
        // A detail or raw screen's `offset` is how far its text is scrolled (and a raw
        // document's `selected` the line of the search's match): a refresh keeps both.
        return;
    }
    let keys = rows::keys(app, app.screen());
    let h = app.list_height();
    let s = app.screen_mut();
    if keys.is_empty() {
        s.selected = 0;
        s.offset = 0;
        return;
    }
    // The anchor is usually still where it was: only look for it when it moved.
    if let Some(a) = s.anchor
        && keys.get(s.selected) != Some(a)
        && let Some(i) = keys.position(a)
    {
        s.selected = i;
    }
    s.selected = s.selected.min(keys.len() - 1);
    s.anchor = keys.get(s.selected);
    if s.selected < s.offset {
        s.offset = s.selected;
    } else if s.selected >= s.offset + h {
        s.offset = s.selected + 1 - h;
    }
    s.offset = s.offset.min(keys.len().saturating_sub(1));
}

/// The selection moved: it now follows the row it moved to.
pub(super) fn select(app: &mut App, index: usize) {
    let keys = rows::keys(app, app.screen());
    let s = app.screen_mut();
    s.selected = index;
    s.anchor = keys.get(index);
}

pub(super) fn move_selection(app: &mut App, action: &Action) {
    if let Some(Overlay::Help { scroll }) = app.overlay {
        // Scroll the help itself, within its length; the list underneath stays put.
        let max = crate::app::help::max_scroll(app);
        let body = crate::app::help::body_height(app);
        let page = u16::try_from(crate::app::help::visible(body)).unwrap_or(10);
        let scroll = match action {
            Action::Up => scroll.saturating_sub(1),
            Action::Down => scroll.saturating_add(1),
            Action::PageUp => scroll.saturating_sub(page),
            Action::PageDown => scroll.saturating_add(page),
            Action::Top => 0,
            _ => max,
        }
        .min(max);
        app.overlay = Some(Overlay::Help { scroll });
        app.dirty = true;
        return;
    }
    if !app.screen().kind.is_list() {
        scroll_detail(app, action);
        return;
    }
    let len = rows::len(app, app.screen());
    if len == 0 {
        return;
    }
    let page = app.list_height().max(1);
    let current = app.screen().selected;
    let index = match action {
        Action::Up => current.saturating_sub(1),
        Action::Down => (current + 1).min(len - 1),
        Action::PageUp => current.saturating_sub(page),
        Action::PageDown => (current + page).min(len - 1),
        Action::Top => 0,
        _ => len - 1,
    };
    select(app, index);
    clamp_selection(app);
    app.dirty = true;
}

/// A detail screen scrolls its text (`offset` is the first line shown).
fn scroll_detail(app: &mut App, action: &Action) {
    let page = app.list_height().max(1);
    let max = match &app.screen().kind {
        ScreenKind::Raw { of, .. } => rows::details::raw_document(app, of)
            .map_or(1, |t| t.lines().count())
            .saturating_sub(page),
        // A rollout's detail scrolls its events (newest first), one at a time.
        ScreenKind::RolloutDetail(key) => rows::rollouts::events(app, key).len().saturating_sub(1),
        _ => 60usize.saturating_sub(page),
    };
    let s = app.screen_mut();
    s.offset = match action {
        Action::Up => s.offset.saturating_sub(1),
        Action::Down => s.offset + 1,
        Action::PageUp => s.offset.saturating_sub(page),
        Action::PageDown => s.offset + page,
        Action::Top => 0,
        _ => max,
    }
    .min(max);
    app.dirty = true;
}
