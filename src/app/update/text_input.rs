//! What every text input (filter, palette, a command's comment) shares: the caps, the keys that
//! cancel, and a capped insertion. A leaf: `input` and `commands` both use it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

/// The most characters the filter and the command palette hold.
pub const LINE_MAX: usize = crate::app::rows::filter::MAX_FILTER;
/// The most characters an approval, abort or rollback comment holds.
pub const COMMENT_MAX: usize = 4096;

/// Whether `key` cancels a text input: `esc`, or `ctrl-c`.
pub(super) fn is_cancel(key: &KeyEvent) -> bool {
    key.code == KeyCode::Esc
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
}

/// Whether `key` would add a character to an input that already holds `max`.
pub(super) fn is_full(t: &TextArea<'_>, key: &KeyEvent, max: usize) -> bool {
    let adds = matches!(key.code, KeyCode::Char(_))
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    adds && chars_in(t) >= max
}

fn chars_in(t: &TextArea<'_>) -> usize {
    t.lines().iter().map(|l| l.chars().count()).sum()
}

/// Insert `text` as one line, cut to what is left of `max`.
pub(super) fn insert_capped(t: &mut TextArea<'_>, text: &str, max: usize) {
    let room = max.saturating_sub(chars_in(t));
    let line: String = mlops_core::text::line(text).chars().take(room).collect();
    t.insert_str(line);
}
