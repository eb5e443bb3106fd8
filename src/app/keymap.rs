//! Keymaps: key sequences to Actions, per context (`global` and one section per view). The
//! embedded `default` keymap is the base; a named one (e.g. `vim`) merges over it, then the user's
//! `keymap.toml` merges over that, per key. Binding a key to `no_op` unbinds it.

use std::{collections::BTreeMap, fmt, path::Path};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use toml::Spanned;

use super::{action::Action, screens::VIEWS};
use crate::config::ConfigError;

pub const EMBEDDED: [(&str, &str); 2] = [
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

/// Sections a keymap may have: `global` and one per view.
pub fn contexts() -> impl Iterator<Item = &'static str> {
    std::iter::once("global").chain(VIEWS.iter().map(|v| v.context))
}

/// One key with its modifiers, normalised so `P` and `shift-p` are the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Self {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match e.code {
            KeyCode::Char(c) => {
                // The character already says whether shift was held.
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Self { code, mods }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix, m) = if lower.starts_with("ctrl-") {
                ("ctrl-", KeyModifiers::CONTROL)
            } else if lower.starts_with("alt-") {
                ("alt-", KeyModifiers::ALT)
            } else if lower.starts_with("shift-") {
                ("shift-", KeyModifiers::SHIFT)
            } else {
                break;
            };
            if rest.len() == prefix.len() {
                break;
            }
            mods |= m;
            rest = &rest[prefix.len()..];
        }
        let named = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => Some(KeyCode::Enter),
            "esc" | "escape" => Some(KeyCode::Esc),
            "tab" => Some(KeyCode::Tab),
            "backtab" => Some(KeyCode::BackTab),
            "space" => Some(KeyCode::Char(' ')),
            "up" => Some(KeyCode::Up),
            "down" => Some(KeyCode::Down),
            "left" => Some(KeyCode::Left),
            "right" => Some(KeyCode::Right),
            "pageup" | "pgup" => Some(KeyCode::PageUp),
            "pagedown" | "pgdn" => Some(KeyCode::PageDown),
            "home" => Some(KeyCode::Home),
            "end" => Some(KeyCode::End),
            "backspace" => Some(KeyCode::Backspace),
            "delete" | "del" => Some(KeyCode::Delete),
            "insert" => Some(KeyCode::Insert),
            f if f.len() >= 2
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                f[1..].parse::<u8>().ok().map(KeyCode::F)
            }
            _ => None,
        };
        let code = if let Some(c) = named {
            c
        } else {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_control() => {
                    return Err(format!(
                        "{} is a control character, not a key; write ctrl-/alt- and a letter, or a name like esc, tab, enter",
                        c.escape_unicode()
                    ));
                }
                (Some(c), None) => KeyCode::Char(c),
                _ => return Err("a key is one character or a name like enter, esc, tab, space, up, pageup, f1, with ctrl-/alt-/shift- in front".into()),
            }
        };
        let code = match (code, mods.contains(KeyModifiers::SHIFT)) {
            (KeyCode::Char(c), true) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c.to_ascii_uppercase())
            }
            (KeyCode::Tab, true) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            (c, _) => c,
        };
        let code = match code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            c => c,
        };
        Ok(Self { code, mods })
    }
}

impl Ord for Key {
    /// By modifiers, then by how the key is written: a stable order for maps and the help.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.mods
            .bits()
            .cmp(&other.mods.bits())
            .then_with(|| self.to_string().cmp(&other.to_string()))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::F(n) => write!(f, "f{n}"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            other => write!(f, "{other:?}"),
        }
    }
}

pub type Sequence = Vec<Key>;

pub fn sequence_label(seq: &[Key]) -> String {
    seq.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The result of feeding keys to the keymap.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Action(Action),
    /// The keys so far begin a longer binding: wait for more.
    Pending,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    pub name: String,
    sections: BTreeMap<String, BTreeMap<Sequence, Action>>,
}

impl Keymap {
    /// Look up `keys` in `context`, then in `global`.
    pub fn lookup(&self, context: &str, keys: &[Key]) -> Lookup {
        let mut pending = false;
        for section in [context, "global"] {
            let Some(map) = self.sections.get(section) else {
                continue;
            };
            if let Some(a) = map.get(keys) {
                return Lookup::Action(a.clone());
            }
            pending |= map
                .keys()
                .any(|s| s.len() > keys.len() && s.starts_with(keys));
        }
        if pending {
            Lookup::Pending
        } else {
            Lookup::None
        }
    }

    /// The bindings for the help overlay: (section, keys, action), unbound keys left out.
    pub fn bindings(&self, context: &str) -> Vec<(String, Vec<String>, Action)> {
        let all = Action::bindable();
        let mut out = Vec::new();
        for section in [context, "global"] {
            let Some(map) = self.sections.get(section) else {
                continue;
            };
            let mut by_action: Vec<(Action, Vec<String>)> = Vec::new();
            for (seq, action) in map {
                if *action == Action::NoOp {
                    continue;
                }
                // A global key shadowed in this context is not shown under global.
                if section == "global"
                    && context != "global"
                    && self
                        .sections
                        .get(context)
                        .is_some_and(|m| m.contains_key(seq))
                {
                    continue;
                }
                match by_action.iter_mut().find(|(a, _)| a == action) {
                    Some((_, keys)) => keys.push(sequence_label(seq)),
                    None => by_action.push((action.clone(), vec![sequence_label(seq)])),
                }
            }
            by_action.sort_by_key(|(a, _)| all.iter().position(|b| b == a));
            out.extend(
                by_action
                    .into_iter()
                    .map(|(a, k)| (section.to_string(), k, a)),
            );
            if section == "global" {
                break;
            }
        }
        out
    }

    /// The first key bound to `action` in `context` or global, for hints in the UI.
    pub fn key_for(&self, context: &str, action: &Action) -> Option<String> {
        for section in [context, "global"] {
            if let Some((seq, _)) = self
                .sections
                .get(section)
                .and_then(|m| m.iter().find(|(_, a)| *a == action))
            {
                return Some(sequence_label(seq));
            }
        }
        None
    }

    fn empty(name: &str) -> Self {
        Self {
            name: name.into(),
            sections: BTreeMap::new(),
        }
    }

    /// The embedded keymap `name` (tests, snapshots).
    pub fn embedded(name: &str) -> Self {
        let mut errors = Vec::new();
        load(Path::new("/nonexistent"), name, &mut errors)
    }
}

type RawKeymap = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<String>>>;

/// Merge one keymap file into `into`, reporting every bad section, key or action.
fn merge(text: &str, path: &Path, into: &mut Keymap, errors: &mut Vec<ConfigError>) {
    let raw: RawKeymap = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            errors.push(ConfigError::from_toml(path, text, &e));
            return;
        }
    };
    for (section, bindings) in raw {
        // The same key written two ways in one section ("P" and "shift-p"): which one wins
        // would depend on the order of a map; say so.
        let mut written: BTreeMap<Sequence, (String, usize)> = BTreeMap::new();
        if !contexts().any(|c| c == section.get_ref().as_str()) {
            errors.push(ConfigError::at(
                path,
                text,
                section.span().start,
                section.get_ref(),
                format!(
                    "unknown section (known: {})",
                    contexts().collect::<Vec<_>>().join(", ")
                ),
            ));
            continue;
        }
        for (keys, action) in bindings {
            let seq: Result<Sequence, String> =
                keys.get_ref().split_whitespace().map(Key::parse).collect();
            let seq = match seq {
                Ok(s) if !s.is_empty() => s,
                Ok(_) => {
                    errors.push(ConfigError::at(
                        path,
                        text,
                        keys.span().start,
                        keys.get_ref(),
                        "empty key",
                    ));
                    continue;
                }
                Err(why) => {
                    errors.push(ConfigError::at(
                        path,
                        text,
                        keys.span().start,
                        keys.get_ref(),
                        format!("invalid key ({why})"),
                    ));
                    continue;
                }
            };
            let Some(act) = Action::from_name(action.get_ref()) else {
                errors.push(ConfigError::at(
                    path,
                    text,
                    action.span().start,
                    action.get_ref(),
                    format!(
                        "unknown action{}",
                        suggest(action.get_ref())
                            .map(|s| format!(" (did you mean \"{s}\"?)"))
                            .unwrap_or_default()
                    ),
                ));
                continue;
            };
            if let Some((first, at)) = written.get(&seq) {
                errors.push(ConfigError::at(
                    path,
                    text,
                    keys.span().start,
                    keys.get_ref(),
                    format!(
                        "the same key as \"{first}\" (line {}) in this section; bind it once",
                        line_of(text, *at)
                    ),
                ));
                continue;
            }
            written.insert(seq.clone(), (keys.get_ref().clone(), keys.span().start));
            let map = into.sections.entry(section.get_ref().clone()).or_default();
            if act == Action::NoOp && section.get_ref() == "global" {
                map.remove(&seq);
            } else {
                map.insert(seq, act);
            }
        }
    }
}

/// The line (from 1) of byte `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |t| t.matches('\n').count()) + 1
}

fn suggest(name: &str) -> Option<String> {
    Action::bindable()
        .iter()
        .map(Action::name)
        .map(|n| (strsim(&n, name), n))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, for "did you mean".
pub fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Every error of the embedded keymaps and of the user's keymap over `base` (for
/// `mlops config check`).
pub fn check(dir: &Path, base: &str) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (name, text) in EMBEDDED {
        let path = std::path::PathBuf::from(format!("<embedded>/keymaps/{name}.toml"));
        parse_file(text, &path, &mut errors);
    }
    load(dir, base, &mut errors);
    errors
}

/// Validate one keymap file on its own.
pub fn parse_file(text: &str, path: &Path, errors: &mut Vec<ConfigError>) {
    merge(text, path, &mut Keymap::empty("check"), errors);
}

/// `default`, then the embedded `name` over it, then the user's `keymap.toml`.
pub fn load(dir: &Path, name: &str, errors: &mut Vec<ConfigError>) -> Keymap {
    let mut km = Keymap::empty(name);
    merge(
        EMBEDDED[0].1,
        Path::new("<embedded>/keymaps/default.toml"),
        &mut km,
        errors,
    );
    if name != "default" {
        match EMBEDDED.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => merge(
                text,
                Path::new(&format!("<embedded>/keymaps/{n}.toml")),
                &mut km,
                errors,
            ),
            None => errors.push(ConfigError::about_file(
                &dir.join("config.toml"),
                name,
                format!(
                    "unknown keymap {:?} (known: default, vim); using \"default\"",
                    mlops_core::text::truncate(name, 60)
                ),
            )),
        }
    }
    let user = dir.join("keymap.toml");
    // Unreadable, not a regular file, too large or not UTF-8: reported, never silently ignored.
    if let Some(text) = crate::config::read_optional(&user, errors) {
        // Merge into a copy: a file that does not parse at all leaves the keymap untouched.
        let mut candidate = km.clone();
        merge(&text, &user, &mut candidate, errors);
        km = candidate;
    }
    km
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Key {
        Key::parse(s).expect("valid key")
    }

    #[test]
    fn a_key_written_twice_or_a_control_character_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("keymap.toml"),
            "[rollouts]\nP = \"abort\"\n\"shift-p\" = \"promote\"\n\"\\u0000\" = \"quit\"\n",
        )
        .expect("write");
        let mut errors = Vec::new();
        load(dir.path(), "default", &mut errors);
        let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{msgs:#?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("the same key as") && m.contains("bind it once")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("control character")),
            "{msgs:#?}"
        );
    }

    #[test]
    fn keys_parse_and_normalise() {
        assert_eq!(k("shift-p"), k("P"));
        assert_eq!(
            k("ctrl-C"),
            Key {
                code: KeyCode::Char('c'),
                mods: KeyModifiers::CONTROL
            }
        );
        assert_eq!(k("shift-tab"), k("backtab"));
        assert_eq!(k("f5").code, KeyCode::F(5));
        assert_eq!(k("ctrl--").code, KeyCode::Char('-'));
        assert!(Key::parse("hyper-x").is_err());
        let ev = KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&ev), k("P"));
    }

    #[test]
    fn embedded_keymaps_parse_cleanly() {
        for (name, text) in EMBEDDED {
            let mut errors = Vec::new();
            parse_file(text, Path::new(name), &mut errors);
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }

    #[test]
    fn context_then_global_and_sequences() {
        let km = Keymap::embedded("vim");
        assert_eq!(
            km.lookup("rollouts", &[k("a")]),
            Lookup::Action(Action::Approve)
        );
        assert_eq!(
            km.lookup("gpus", &[k("q")]),
            Lookup::Action(Action::BackOrQuit)
        );
        assert_eq!(km.lookup("gpus", &[k("g")]), Lookup::Pending);
        assert_eq!(
            km.lookup("gpus", &[k("g"), k("g")]),
            Lookup::Action(Action::Top)
        );
        assert_eq!(km.lookup("gpus", &[k("ctrl-x")]), Lookup::None);
    }

    #[test]
    fn user_file_merges_unbinds_and_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("keymap.toml"),
            "[global]\nq = \"no_op\"\nctrl-q = \"quit\"\nx = \"qiut\"\n\"hyper-y\" = \"quit\"\n[rollouts]\na = \"no_op\"\n[bogus]\nz = \"quit\"\n",
        )
        .expect("write");
        let mut errors = Vec::new();
        let km = load(dir.path(), "default", &mut errors);
        assert_eq!(km.lookup("overview", &[k("q")]), Lookup::None, "q unbound");
        assert_eq!(
            km.lookup("overview", &[k("ctrl-q")]),
            Lookup::Action(Action::Quit)
        );
        assert_eq!(
            km.lookup("rollouts", &[k("a")]),
            Lookup::Action(Action::NoOp),
            "a unbound in rollouts"
        );
        assert_eq!(
            km.lookup("overview", &[k("j")]),
            Lookup::Action(Action::Down),
            "the rest kept"
        );
        let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{msgs:#?}");
        assert!(
            msgs.iter().any(|m| m.contains(":4:")
                && m.contains("did you mean \"quit\"")
                && m.contains("\"qiut\"")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains(":5:") && m.contains("invalid key")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains(":8:") && m.contains("unknown section")),
            "{msgs:#?}"
        );
        let help = km.bindings("rollouts");
        assert!(
            help.iter()
                .all(|(_, keys, _)| !keys.contains(&"q".to_string()))
        );
    }
}

/// Property test: any text in keymap.toml is read or refused with errors located in that file,
/// never a panic.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_keymap_text_is_read_or_refused_with_a_location(
            text in crate::config::fuzz::tomlish(),
        ) {
            let mut errors = Vec::new();
            super::parse_file(&text, std::path::Path::new("x.toml"), &mut errors);
            prop_assert!(errors.iter().all(|e| e.file == "x.toml"));
        }
    }
}
