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
    match app.mode {
        Mode::Filter => {
            insert_capped(&mut app.filter_input, text, LINE_MAX);
            let text = text_of(&app.filter_input);
            set_filter(app, text);
        }
        Mode::Palette => {
            insert_capped(&mut app.palette, text, LINE_MAX);
            app.palette_selected = 0;
        }
        Mode::Confirm => {
            if let Some(confirm) = app.confirm.as_mut() {
                insert_capped(&mut confirm.comment, text, COMMENT_MAX);
                confirm.error = None;
            }
        }
        Mode::Prompt => super::runs::prompt_paste(app, text),
        Mode::Normal | Mode::Help | Mode::Columns => return,
    }
    app.dirty = true;
}

use super::{commands::confirm_input, dispatch, navigation::set_filter, text_of};
use crate::app::{
    action::{Action, Effect, Namespace},
    keymap::{Key, Lookup},
    palette::{self, Run},
    rows::{self, filter::MAX_FILTER, table::Sort},
    state::{App, Mode},
};

pub(super) fn input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    app.dirty = true;
    match app.mode {
        Mode::Palette => palette_input(app, key, fx),
        Mode::Filter => filter_input(app, key),
        Mode::Confirm => confirm_input(app, key, fx),
        Mode::Prompt => super::runs::prompt_input(app, key, fx),
        Mode::Columns => super::runs::columns_input(app, key),
        Mode::Normal | Mode::Help => {
            if app.mode == Mode::Help && matches!(key.code, KeyCode::Esc) {
                app.mode = Mode::Normal;
                return;
            }
            let k = Key::from_event(&key);
            app.pending.push(k);
            let context = app.view().context();
            match app.keymap.lookup(context, &app.pending) {
                Lookup::Action(a) => {
                    app.pending.clear();
                    // Help stays open only for scrolling and closing.
                    if app.mode == Mode::Help
                        && !matches!(
                            a,
                            Action::Up
                                | Action::Down
                                | Action::PageUp
                                | Action::PageDown
                                | Action::Top
                                | Action::Bottom
                                | Action::ToggleHelp
                                | Action::Quit
                                | Action::Back
                        )
                    {
                        app.mode = Mode::Normal;
                    }
                    dispatch(app, a, fx);
                }
                Lookup::Pending => {}
                Lookup::None => {
                    let several = app.pending.len() > 1;
                    app.pending.clear();
                    // An unknown key after a prefix: try it alone.
                    if several && let Lookup::Action(a) = app.keymap.lookup(context, &[k]) {
                        dispatch(app, a, fx);
                    } else if !several
                        && app.mode == Mode::Normal
                        && let KeyCode::Char(c) = key.code
                        && c.is_ascii_uppercase()
                    {
                        sort_by(app, c);
                    }
                }
            }
        }
    }
}

/// `shift` + a column's letter sorts by it; again reverses the order.
fn sort_by(app: &mut App, key: char) {
    let found = rows::columns::sortable(app, app.screen())
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
    let text = text_of(&app.palette);
    let options = palette::completions(&text);
    if is_cancel(&key) {
        app.mode = Mode::Normal;
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => {
            app.palette = TextArea::default();
            app.palette_selected = 0;
        }
        KeyCode::Up => app.palette_selected = app.palette_selected.saturating_sub(1),
        KeyCode::Down => {
            app.palette_selected = (app.palette_selected + 1).min(options.len().saturating_sub(1));
        }
        KeyCode::Tab => {
            if let Some(c) = options.get(app.palette_selected) {
                app.palette = TextArea::from([c.name.to_string()]);
                app.palette.move_cursor(ratatui_textarea::CursorMove::End);
                app.palette_selected = 0;
            }
        }
        KeyCode::Enter => {
            app.mode = Mode::Normal;
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
        _ => {
            if !(ctrl && key.code == KeyCode::Char('m') || is_full(&app.palette, &key, LINE_MAX)) {
                app.palette.input(key);
                app.palette_selected = 0;
            }
        }
    }
}

/// Carry out a palette command with its argument.
fn run_command(app: &mut App, run: &Run, arg: &str, fx: &mut Vec<Effect>) {
    match run {
        Run::Action(action) => {
            dispatch(app, action.clone(), fx);
            // `:rollouts churn`: the view, filtered.
            if !arg.is_empty() && crate::app::screens::ViewId::shown_by(action).is_some() {
                set_filter(app, arg.chars().take(MAX_FILTER).collect());
            }
        }
        Run::Context | Run::Namespace if app.backends.cluster.as_deref() == Some("demo") => {
            app.warn(
                "the demo has one context and namespace; its clusters are a column — filter with cluster:NAME",
            );
        }
        Run::Context if arg.is_empty() => app.warn("say which context: :ctx NAME"),
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

fn filter_input(app: &mut App, key: KeyEvent) {
    if is_cancel(&key) {
        app.mode = Mode::Normal;
        set_filter(app, String::new());
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => {
            app.filter_input = TextArea::default();
            set_filter(app, String::new());
        }
        KeyCode::Enter => app.mode = Mode::Normal,
        _ if is_full(&app.filter_input, &key, LINE_MAX) => {}
        _ => {
            app.filter_input.input(key);
            let text = text_of(&app.filter_input);
            set_filter(app, text);
        }
    }
}
