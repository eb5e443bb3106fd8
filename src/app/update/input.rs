//! Keys: through the keymap in normal mode (an unbound `shift`+letter sorts by that column), into
//! the text input in the palette and filter. Text inputs are capped (`text_input`); in every one `ctrl-u` clears it and `ctrl-c` (like `esc`) cancels it; a paste
//! is one insertion.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::text_input::{COMMENT_MAX, LINE_MAX, insert_capped, is_cancel, is_full};

/// Text pasted into the terminal (bracketed paste): one insertion into the open text input, as
/// one line, cut to what the input holds. Outside a text input a paste does nothing: pasted text
/// never runs key bindings.
pub(in crate::app) fn paste(app: &mut App, text: &str) {
    match &mut app.overlay {
        Some(Overlay::Filter { input, .. }) => {
            insert_capped(input, text, LINE_MAX);
            let text = text_of(input);
            set_query(app, text);
        }
        Some(Overlay::Palette {
            input, selected, ..
        }) => {
            insert_capped(input, text, LINE_MAX);
            *selected = 0;
        }
        Some(Overlay::Confirm(confirm)) => {
            insert_capped(&mut confirm.comment, text, COMMENT_MAX);
            confirm.error = None;
        }
        Some(Overlay::Prompt(prompt)) => super::runs::prompt_paste(prompt, text),
        None | Some(Overlay::Help { .. } | Overlay::Columns(_)) => return,
    }
    app.dirty = true;
}

use super::{
    commands::confirm_input,
    dispatch,
    navigation::{set_filter, set_query},
    text_of,
};
use crate::app::{
    action::{Action, Effect, Namespace},
    keymap::{Key, Lookup},
    palette::{self, Run},
    rows::{self, filter::MAX_FILTER, table::Sort},
    screens::ScreenKind,
    state::{App, Overlay},
};

pub(super) fn input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    app.dirty = true;
    if super::runs_end::key(app, &key) {
        return;
    }
    if app.too_small() {
        // The screen says "resize the window, or press q to quit" and shows nothing else: a
        // key typed blind (`x`) must not open an abort dialog that appears once it grows.
        let k = Key::from_event(&key);
        if matches!(
            app.prefs.keymap.lookup(app.view().context(), &[k]),
            Lookup::Action(Action::Quit | Action::BackOrQuit)
        ) {
            app.quit = true;
        }
        app.pending.clear();
        return;
    }
    match &app.overlay {
        Some(Overlay::Palette { .. }) => palette_input(app, key, fx),
        Some(Overlay::Filter { .. }) => filter_input(app, key),
        Some(Overlay::Confirm(_)) => confirm_input(app, key, fx),
        Some(Overlay::Prompt(_)) => super::runs::prompt_input(app, key, fx),
        Some(Overlay::Columns(_)) => super::runs::columns_input(app, key),
        Some(Overlay::Help { .. }) if matches!(key.code, KeyCode::Esc) => app.overlay = None,
        None | Some(Overlay::Help { .. }) => keymap_input(app, key, fx),
    }
}

/// The actions the help leaves itself open for: scrolling and closing.
fn keeps_help_open(a: &Action) -> bool {
    matches!(
        a,
        Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom
            | Action::ToggleHelp
            | Action::Quit
            | Action::BackOrQuit
            | Action::Back
    )
}

/// A key outside a text input: through the keymap (sequences wait for their next key); an
/// unbound `shift`+letter sorts by that column.
fn keymap_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let k = Key::from_event(&key);
    app.pending.push(k);
    let context = app.view().context();
    match app.prefs.keymap.lookup(context, &app.pending) {
        Lookup::Action(a) => {
            app.pending.clear();
            if app.help_open() && !keeps_help_open(&a) {
                app.overlay = None;
            }
            if matches!(a, Action::SearchNext | Action::SearchPrev) && app.screen().kind.is_list() {
                // A list has no search to move through (`/` filters it): `N` sorts by NAME
                // there, as an unbound `shift`+letter does.
                unbound(app, &key);
            } else if matches!(app.screen().kind, ScreenKind::Raw { .. }) && !reads_a_document(&a) {
                // Letters typed into a raw document (`/policy` before `/` searched) must not
                // promote, open raw-of-raw or mark anything.
                app.warn(format!(
                    "{k} does nothing in a raw document: / searches, n/N move between matches, esc goes back"
                ));
            } else {
                dispatch(app, a, fx);
            }
        }
        Lookup::Pending => {}
        Lookup::None => {
            let several = app.pending.len() > 1;
            app.pending.clear();
            // An unknown key after a prefix: try it alone.
            if several && let Lookup::Action(a) = app.prefs.keymap.lookup(context, &[k]) {
                dispatch(app, a, fx);
            } else if !several {
                unbound(app, &key);
            }
        }
    }
}

/// A key bound to nothing here: `shift`+a column's letter sorts by it.
fn unbound(app: &mut App, key: &KeyEvent) {
    if app.overlay.is_none()
        && let KeyCode::Char(c) = key.code
        && c.is_ascii_uppercase()
    {
        sort_by(app, c);
    }
}

/// What a raw document answers to: moving through it, searching it, leaving it.
fn reads_a_document(a: &Action) -> bool {
    matches!(
        a,
        Action::NoOp
            | Action::Quit
            | Action::BackOrQuit
            | Action::Back
            | Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom
            | Action::OpenPalette
            | Action::OpenFilter
            | Action::ClearFilter
            | Action::SearchNext
            | Action::SearchPrev
            | Action::ToggleHelp
            | Action::NextView
            | Action::PrevView
            | Action::Show(_)
            | Action::Refresh
            | Action::HistoryBack
            | Action::HistoryForward
            | Action::HistoryToggle
            | Action::ShowMessages
    )
}

/// `shift` + a column's letter sorts by it; again reverses the order.
fn sort_by(app: &mut App, key: char) {
    let found = rows::sortable(app, app.screen())
        .into_iter()
        .find(|(_, _, k)| k.eq_ignore_ascii_case(&key))
        .map(|(field, header, _)| (field, header));
    let Some((field, header)) = found else {
        app.warn(format!(
            "shift-{} sorts nothing here (? lists the sort keys)",
            key.to_ascii_lowercase()
        ));
        return;
    };
    let s = app.screen_mut();
    let descending = s.sort.is_some_and(|o| o.field == field && !o.descending);
    s.sort = Some(Sort { field, descending });
    super::clamp_selection(app);
    app.info(format!(
        "sorted by {header} {}",
        if descending { "↓" } else { "↑" }
    ));
}

fn palette_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::Palette {
        input,
        selected,
        recalled,
    }) = &mut app.overlay
    else {
        return;
    };
    let text = text_of(input);
    let options = palette::completions(&text);
    if is_cancel(&key) {
        app.overlay = None;
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // The history: `up` on an empty palette or on a recalled command, and `ctrl-p`, go to the
    // one before; `down` on a recalled command, and `ctrl-n`, to the one after (past the
    // newest: an empty line again). Otherwise `up`/`down` move through the completions.
    let history = &app.palette_history;
    let older = !history.is_empty()
        && ((key.code == KeyCode::Up && (text.is_empty() || recalled.is_some()))
            || (ctrl && key.code == KeyCode::Char('p')));
    let newer = !history.is_empty()
        && ((key.code == KeyCode::Down && recalled.is_some())
            || (ctrl && key.code == KeyCode::Char('n')));
    if older || newer {
        let next = match (*recalled, older) {
            (None, true) => history.len().checked_sub(1),
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) => (i + 1 < history.len()).then_some(i + 1),
            (None, false) => None,
        };
        *recalled = next;
        *input = TextArea::from([next
            .and_then(|i| history.get(i))
            .cloned()
            .unwrap_or_default()]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        *selected = 0;
        return;
    }
    match key.code {
        KeyCode::Char('u') if ctrl => {
            *input = TextArea::default();
            *selected = 0;
        }
        KeyCode::Up => *selected = selected.saturating_sub(1),
        KeyCode::Down => {
            *selected = (*selected + 1).min(options.len().saturating_sub(1));
        }
        KeyCode::Tab => {
            if let Some(c) = options.get(*selected) {
                *input = TextArea::from([c.name.to_string()]);
                input.move_cursor(ratatui_textarea::CursorMove::End);
                *selected = 0;
            }
        }
        KeyCode::Enter => {
            app.overlay = None;
            let typed = text.trim();
            if !typed.is_empty() {
                let h = &mut app.palette_history;
                h.retain(|c| c != typed);
                h.push(typed.to_string());
                if h.len() > crate::app::state::PALETTE_HISTORY {
                    h.remove(0);
                }
            }
            run_typed(app, &text, &options, fx);
        }
        _ => {
            if !(ctrl && key.code == KeyCode::Char('m') || is_full(input, &key, LINE_MAX)) {
                input.input(key);
                *selected = 0;
                *recalled = None;
            }
        }
    }
}

/// `enter` in the palette: the command typed (or the only completion), with its argument.
fn run_typed(
    app: &mut App,
    text: &str,
    options: &[&palette::PaletteCommand],
    fx: &mut Vec<Effect>,
) {
    let typed = text.trim();
    if typed.is_empty() {
        return;
    }
    let chosen = palette::exact(typed).or_else(|| {
        if options.len() == 1 {
            options.first().copied()
        } else {
            None
        }
    });
    if let Some(c) = chosen {
        let (_, arg) = palette::split(typed);
        run_command(app, &c.run, arg, fx);
    } else {
        let hint = palette::closest(typed).map_or_else(
            || "type : then tab to see the commands".to_string(),
            |c| format!("did you mean :{c}?"),
        );
        app.warn(format!("unknown command \":{typed}\" — {hint}"));
    }
}

/// Carry out a palette command with its argument.
fn run_command(app: &mut App, run: &Run, arg: &str, fx: &mut Vec<Effect>) {
    match run {
        Run::Action(action) => {
            dispatch(app, action.clone(), fx);
            // `:rollouts churn`: the view, filtered.
            if !arg.is_empty() && matches!(action, Action::Show(_)) {
                set_filter(app, arg.chars().take(MAX_FILTER).collect());
            }
        }
        Run::Context | Run::Namespace if app.backends.cluster.as_deref() == Some("demo") => {
            app.warn(
                "the demo has one context and namespace; its clusters are a column — filter with cluster:NAME",
            );
        }
        Run::Context if arg.is_empty() => match clusters_listed(app) {
            Some(list) => app.info(list),
            None => app.warn("say which context: :ctx NAME"),
        },
        Run::Namespace if arg.is_empty() => app.warn("say which namespace: :ns NAME (or all)"),
        Run::Context => {
            app.info(format!("switching to context {arg}…"));
            fx.push(Effect::Switch {
                context: Some(arg.to_string()),
                namespace: Namespace::Keep,
            });
        }
        Run::Namespace => {
            let namespace = if arg.eq_ignore_ascii_case("all") {
                app.info("switching to every namespace…");
                Namespace::All
            } else {
                app.info(format!("switching to namespace {arg}…"));
                Namespace::One(arg.to_string())
            };
            fx.push(Effect::Switch {
                context: None,
                namespace,
            });
        }
    }
}

/// `:ctx` alone with several clusters: each one and how it answers, and how to narrow.
fn clusters_listed(app: &App) -> Option<String> {
    let snapshot = app.feeds.cluster.data.as_ref()?;
    let names = app.backends.cluster.as_deref()?;
    if !names.contains(',') {
        return None;
    }
    let each: Vec<String> = snapshot
        .clusters
        .iter()
        .map(|c| format!("{} ({})", c.name, c.health.word()))
        .collect();
    Some(format!(
        "clusters: {} — :ctx NAME shows one, :ctx all every one",
        each.join(", ")
    ))
}

fn filter_input(app: &mut App, key: KeyEvent) {
    let Some(Overlay::Filter { input, before, at }) = &mut app.overlay else {
        return;
    };
    if is_cancel(&key) {
        // Back to the filter as it was before `/` (a filter already applied stays); a search
        // also goes back to where the screen was.
        let (before, at) = (std::mem::take(before), *at);
        app.overlay = None;
        if app.screen().kind.is_list() {
            set_filter(app, before);
        } else {
            let s = app.screen_mut();
            (s.search, s.selected, s.offset) = (before, at.0, at.1);
        }
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => {
            *input = TextArea::default();
            set_query(app, String::new());
        }
        KeyCode::Enter => app.overlay = None,
        _ if is_full(input, &key, LINE_MAX) => {}
        _ => {
            input.input(key);
            let text = text_of(input);
            set_query(app, text);
        }
    }
}
