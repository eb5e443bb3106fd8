//! The console's state: one owner, changed only by `update`. Rendering reads it. It is grouped by
//! concern: where the user is (`Nav`), the one overlay open (`Overlay`), what the user chose
//! (`Prefs`, read once at start), the Experiments view's own state (`RunsState`), the data
//! (`Feeds`) and the rows worked out from it (`Memo`).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use mlops_core::rollout::{Command, RolloutKey};
use ratatui_textarea::TextArea;

use super::{
    feeds::{Backend, BackendInfo, Feeds},
    keymap::{Key, Keymap},
    rows::memo::Memo,
    screens::{Screen, ScreenKind, ViewId},
};
use crate::config::{ConfigError, Theme};

/// The one overlay open over the screen, with its own state: at most one at a time, by
/// construction (a popup stack one deep).
#[derive(Debug, Clone)]
pub enum Overlay {
    /// The command palette (`:`): what is typed, and the completion selected.
    Palette {
        input: TextArea<'static>,
        selected: usize,
        /// Which command of the history is recalled into the input, if one is.
        recalled: Option<usize>,
    },
    /// The `/` filter being typed (the screen's filter follows every keystroke), and the
    /// filter as it was when `/` was pressed (what `esc` or `ctrl-c` go back to).
    Filter {
        input: TextArea<'static>,
        before: String,
        /// Where a detail or raw screen was (its `selected`, `offset`) when `/` was pressed: a
        /// cancelled search goes back there.
        at: (usize, usize),
    },
    /// The help (`?`), scrolled this many lines.
    Help { scroll: u16 },
    /// A mutation waiting for confirmation.
    Confirm(Box<Confirm>),
    /// A one-line question at the bottom: the runs filter, an export's path.
    Prompt(Prompt),
    /// The Runs table's column chooser.
    Columns(ColumnPicker),
}

/// Which overlay is open, without its state (derived from `App::overlay`, never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Palette,
    Filter,
    Help,
    Confirm,
    Prompt,
    Columns,
}

/// What a prompt's answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// MLflow's filter for the Runs view, evaluated by the server.
    RunsFilter,
    /// Where to write the comparison on show (`.csv`, `.md` or `.json`).
    Export,
}

/// A one-line question and the answer typed so far.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub label: &'static str,
    pub input: TextArea<'static>,
}

/// The most runs a comparison holds.
pub const MAX_MARKS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Counts up through the session: the message's identity in the `:messages` list.
    pub seq: u64,
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

/// How many status-bar messages `:messages` keeps.
pub const MAX_MESSAGES: usize = 500;

/// A mutation waiting for confirmation, with the preview of what it will change.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub target: RolloutKey,
    pub command: Command,
    pub title: String,
    pub preview: Vec<String>,
    pub comment: TextArea<'static>,
    /// The comment is required (approve, abort, rollback).
    pub needs_comment: bool,
    /// What an approval needs beyond its comment (a change ticket where the rollout's policy
    /// or policy.toml asks for one), as the core decides it (`rollout::approval_needs`).
    pub needs: mlops_core::rollout::ApprovalNeeds,
    pub error: Option<String>,
}

/// The Runs table's column chooser: every metric and param of the loaded runs, ticked when
/// shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPicker {
    pub experiment_id: String,
    pub options: Vec<(mlops_core::model::RunField, bool)>,
    pub selected: usize,
}

/// Where the user is: the screens of the view on show, every other view as it was left, and
/// the places visited (`[`, `]`, `-`).
#[derive(Debug, Clone)]
pub struct Nav {
    /// The screens of the view on show: its root, then what was drilled into.
    pub stack: Vec<Screen>,
    /// Every other view's stack as it was left.
    pub views: HashMap<ViewId, Vec<Screen>>,
    /// Places visited, and where in them we are.
    pub history: Vec<Vec<Screen>>,
    pub history_pos: usize,
    /// The place `-` goes back to: the one shown before this one.
    pub history_last: Option<usize>,
}

impl Default for Nav {
    fn default() -> Self {
        Self {
            stack: vec![Screen::new(ScreenKind::Root(ViewId::Overview))],
            views: HashMap::new(),
            history: Vec::new(),
            history_pos: 0,
            history_last: None,
        }
    }
}

/// What the user chose, read once from the configuration and the flags when the console starts
/// (`Prefs::new` gives the defaults; `cli::console` fills in the rest from the options).
pub struct Prefs {
    pub keymap: Keymap,
    pub theme: Theme,
    /// What was wrong with the configuration (the console runs on defaults for those).
    pub config_errors: Vec<ConfigError>,
    pub readonly: bool,
    /// How often live data is fetched again.
    pub refresh: Duration,
    /// Which way each metric improves (`[compare]` in config.toml).
    pub directions: mlops_core::compare::Directions,
    /// `[experiments] run_columns`: the Runs table's columns of an experiment not chosen yet.
    pub default_run_columns: Vec<mlops_core::model::RunField>,
    /// `[drift] alert_after`: windows in a row a live drift status must hold to alert.
    pub drift_alert_after: usize,
    /// `policy.toml`, whose rules for a rollout's cluster and namespace add to what an approval
    /// needs (as they do for `mlops rollout approve`).
    pub policy: Option<crate::config::policy::PolicyFile>,
    /// `[slo]`: the objectives serving health is judged by.
    pub slos: mlops_core::serving::slo::SloConfig,
}

impl Prefs {
    /// The defaults, with this keymap and theme.
    pub fn new(keymap: Keymap, theme: Theme) -> Self {
        Self {
            keymap,
            theme,
            config_errors: Vec::new(),
            readonly: false,
            refresh: Duration::from_std(mlops_core::defaults::REFRESH).unwrap_or(Duration::MAX),
            directions: mlops_core::compare::Directions::default(),
            default_run_columns: Vec::new(),
            drift_alert_after: crate::config::settings::DEFAULT_ALERT_AFTER,
            policy: None,
            slos: mlops_core::serving::slo::SloConfig::default(),
        }
    }
}

/// The Experiments view's own state: the runs marked for comparison, the columns chosen, and
/// the comparison on show.
#[derive(Debug, Clone, Default)]
pub struct RunsState {
    /// Runs marked for comparison (`space` in the Runs view), in the order marked.
    pub marks: Vec<mlops_core::model::Run>,
    /// The marks `M` cleared last, for `u` (`restore_marks`) to bring back.
    pub cleared_marks: Vec<mlops_core::model::Run>,
    /// The runs search `end` is reading to its last page (`update::runs_end`), until a key.
    pub to_the_end: Option<super::feeds::RunsKey>,
    /// The metrics and params the user chose as the Runs table's columns (`o`), by experiment.
    pub columns: HashMap<String, Vec<mlops_core::model::RunField>>,
    /// The comparison on show, worked out after the last action for the frames drawn until the
    /// next (`rows::comparison_of`); cleared while an action is handled.
    pub compared: Option<(Vec<String>, mlops_core::compare::Comparison)>,
    /// Where the last comparison was exported to, as typed: the next export's default.
    pub last_export: Option<String>,
}

pub struct App {
    pub nav: Nav,
    /// The overlay open over the screen, if any.
    pub overlay: Option<Overlay>,
    /// The keys of a sequence typed so far.
    pub pending: Vec<Key>,
    pub message: Option<Message>,
    /// Every message of this session (`:messages`), oldest first.
    pub messages: VecDeque<Message>,
    /// The config errors were seen in `:messages`; until then the status bar keeps a marker.
    pub config_seen: bool,
    /// The palette commands run this session, oldest first (at most [`PALETTE_HISTORY`]):
    /// `up` on an empty palette (or `ctrl-p`) recalls them, `down` (`ctrl-n`) comes back.
    pub palette_history: Vec<String>,
    pub feeds: Feeds,
    pub prefs: Prefs,
    pub backends: BackendInfo,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub quit: bool,
    pub dirty: bool,
    /// The audit chain's verdict for the loaded entries (verified when they load).
    pub audit_chain: Option<Result<(), String>>,
    pub runs: RunsState,
    /// The rows of the lists on show, worked out once per (data, filter, sort).
    pub memo: Memo,
}

/// The smallest terminal the console draws in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// How many palette commands the history keeps.
pub const PALETTE_HISTORY: usize = 50;

impl App {
    pub fn new(prefs: Prefs, backends: BackendInfo, now: DateTime<Utc>) -> Self {
        Self {
            nav: Nav::default(),
            overlay: None,
            pending: Vec::new(),
            message: None,
            messages: VecDeque::new(),
            config_seen: false,
            palette_history: Vec::new(),
            feeds: Feeds::default(),
            prefs,
            backends,
            now,
            size: (120, 40),
            quit: false,
            dirty: true,
            audit_chain: None,
            runs: RunsState::default(),
            memo: Memo::default(),
        }
    }

    pub fn screen(&self) -> &Screen {
        // The stack always holds at least the root screen.
        &self.nav.stack[self.nav.stack.len() - 1]
    }

    pub fn screen_mut(&mut self) -> &mut Screen {
        let last = self.nav.stack.len() - 1;
        &mut self.nav.stack[last]
    }

    pub fn view(&self) -> ViewId {
        self.screen().kind.view()
    }

    /// Whether the help is open.
    pub fn help_open(&self) -> bool {
        matches!(self.overlay, Some(Overlay::Help { .. }))
    }

    /// Which overlay is open.
    pub fn mode(&self) -> Mode {
        match &self.overlay {
            None => Mode::Normal,
            Some(Overlay::Palette { .. }) => Mode::Palette,
            Some(Overlay::Filter { .. }) => Mode::Filter,
            Some(Overlay::Help { .. }) => Mode::Help,
            Some(Overlay::Confirm(_)) => Mode::Confirm,
            Some(Overlay::Prompt(_)) => Mode::Prompt,
            Some(Overlay::Columns(_)) => Mode::Columns,
        }
    }

    /// The confirmation open, if one is.
    pub fn confirm(&self) -> Option<&Confirm> {
        match &self.overlay {
            Some(Overlay::Confirm(c)) => Some(c),
            _ => None,
        }
    }

    /// The column chooser open, if it is.
    pub fn column_picker(&self) -> Option<&ColumnPicker> {
        match &self.overlay {
            Some(Overlay::Columns(p)) => Some(p),
            _ => None,
        }
    }

    /// Whether the terminal is too small to draw in (keys do nothing then but quit).
    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_SIZE.0 || self.size.1 < MIN_SIZE.1
    }

    /// Rows available to a list: the terminal less header, table header, borders and status bar.
    pub fn list_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6)).max(1)
    }

    /// The error of a backend's sources, if its last fetch failed.
    pub fn backend_error(&self, b: Backend) -> Option<&mlops_core::CoreError> {
        self.feeds.backend_error(b)
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.say(Level::Info, text.into());
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.say(Level::Warn, text.into());
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.say(Level::Error, text.into());
    }

    /// Show a message in the status bar and keep it in the `:messages` log.
    fn say(&mut self, level: Level, text: String) {
        let seq = self.messages.back().map_or(1, |m| m.seq + 1);
        let m = Message {
            seq,
            text,
            level,
            at: self.now,
        };
        self.messages.push_back(m.clone());
        while self.messages.len() > MAX_MESSAGES {
            self.messages.pop_front();
        }
        self.message = Some(m);
    }
}
