//! Keys: through the keymap in normal mode, into the text input in the palette and filter.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::{commands::confirm_input, dispatch, navigation::set_filter, text_of};
use crate::app::{
    action::{Action, Effect},
    keymap::{Key, Lookup},
    palette,
    state::{App, Mode},
};

pub(super) fn input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    app.dirty = true;
    match app.mode {
        Mode::Palette => palette_input(app, key, fx),
        Mode::Filter => filter_input(app, key),
        Mode::Confirm => confirm_input(app, key, fx),
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
                    }
                }
            }
        }
    }
}

fn palette_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let text = text_of(&app.palette);
    let options = palette::completions(&text);
    match key.code {
        KeyCode::Esc => app.mode = Mode::Normal,
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
                dispatch(app, c.action.clone(), fx);
            } else {
                let hint = palette::closest(typed).map_or_else(
                    || "type : then tab to see the commands".to_string(),
                    |c| format!("did you mean :{c}?"),
                );
                app.warn(format!("unknown command \":{typed}\" — {hint}"));
            }
        }
        _ => {
            if !(key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('m')) {
                app.palette.input(key);
                app.palette_selected = 0;
            }
        }
    }
}

fn filter_input(app: &mut App, key: KeyEvent) {
    match key.code {
        KeyCode::Esc => {
            app.mode = Mode::Normal;
            set_filter(app, String::new());
        }
        KeyCode::Enter => app.mode = Mode::Normal,
        _ => {
            app.filter_input.input(key);
            let text = text_of(&app.filter_input);
            set_filter(app, text);
        }
    }
}
