//! The console's state: one owner, changed only by `update`. Rendering reads it.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use mlops_core::rollout::{Command, RolloutKey};
use ratatui_textarea::TextArea;

use super::{
    feeds::{Backend, BackendInfo, Feeds},
    keymap::{Key, Keymap},
    screens::{Screen, ScreenKind, ViewId},
};
use crate::config::{ConfigError, Theme};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Palette,
    Filter,
    Help,
    Confirm,
    /// A one-line question at the bottom (`prompt`): the runs filter, an export's path.
    Prompt,
    /// The Runs table's column chooser (`column_picker`).
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
    /// The comment must start with a change ticket (an approval of a rollout whose policy
    /// requires one).
    pub needs_ticket: bool,
    pub error: Option<String>,
}

pub struct App {
    /// The screens of the view on show: its root, then what was drilled into.
    pub stack: Vec<Screen>,
    /// Every other view's stack as it was left.
    pub views: HashMap<ViewId, Vec<Screen>>,
    /// Places visited (`[`, `]`, `-`), and where in them we are.
    pub history: Vec<Vec<Screen>>,
    pub history_pos: usize,
    /// The place `-` goes back to: the one shown before this one.
    pub history_last: Option<usize>,
    pub mode: Mode,
    pub palette: TextArea<'static>,
    pub palette_selected: usize,
    pub filter_input: TextArea<'static>,
    pub confirm: Option<Confirm>,
    pub help_scroll: u16,
    pub pending: Vec<Key>,
    pub message: Option<Message>,
    /// Every message of this session (`:messages`), oldest first.
    pub messages: VecDeque<Message>,
    /// The config errors were seen in `:messages`; until then the status bar keeps a marker.
    pub config_seen: bool,
    pub feeds: Feeds,
    pub keymap: Keymap,
    pub theme: Theme,
    pub config_errors: Vec<ConfigError>,
    pub readonly: bool,
    pub refresh: Duration,
    pub backends: BackendInfo,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub quit: bool,
    pub dirty: bool,
    /// The audit chain's verdict for the loaded entries (verified when they load).
    pub audit_chain: Option<Result<(), String>>,
    pub prompt: Option<Prompt>,
    /// Runs marked for comparison (`space` in the Runs view), in the order marked.
    pub marks: Vec<mlops_core::model::Run>,
    /// Which way each metric improves (`[compare]` in config.toml).
    pub directions: mlops_core::compare::Directions,
    /// The metrics and params the user chose as the Runs table's columns (`o`), by experiment.
    pub run_columns: HashMap<String, Vec<mlops_core::model::RunField>>,
    /// `[experiments] run_columns` in config.toml: the columns of an experiment not chosen yet.
    pub default_run_columns: Vec<mlops_core::model::RunField>,
    /// The comparison on show, worked out after the last action for the frames drawn until the
    /// next (`rows::comparison_of`); cleared while an action is handled.
    pub compared: Option<(Vec<String>, mlops_core::compare::Comparison)>,
    /// The column chooser while it is open (`Mode::Columns`).
    pub column_picker: Option<ColumnPicker>,
    /// `[drift] alert_after`: windows in a row a live drift status must hold to alert.
    pub drift_alert_after: usize,
}

/// The Runs table's column chooser: every metric and param of the loaded runs, ticked when
/// shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPicker {
    pub experiment_id: String,
    pub options: Vec<(mlops_core::model::RunField, bool)>,
    pub selected: usize,
}

/// The smallest terminal the console draws in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

impl App {
    pub fn new(keymap: Keymap, theme: Theme, backends: BackendInfo, now: DateTime<Utc>) -> Self {
        Self {
            stack: vec![Screen::new(ScreenKind::Overview)],
            views: HashMap::new(),
            history: Vec::new(),
            history_pos: 0,
            history_last: None,
            mode: Mode::Normal,
            palette: TextArea::default(),
            palette_selected: 0,
            filter_input: TextArea::default(),
            confirm: None,
            help_scroll: 0,
            pending: Vec::new(),
            message: None,
            messages: VecDeque::new(),
            config_seen: false,
            feeds: Feeds::default(),
            keymap,
            theme,
            config_errors: Vec::new(),
            readonly: false,
            refresh: Duration::seconds(5),
            backends,
            now,
            size: (120, 40),
            quit: false,
            dirty: true,
            audit_chain: None,
            prompt: None,
            marks: Vec::new(),
            directions: mlops_core::compare::Directions::default(),
            run_columns: HashMap::new(),
            default_run_columns: Vec::new(),
            drift_alert_after: crate::config::settings::DEFAULT_ALERT_AFTER,
            column_picker: None,
            compared: None,
        }
    }

    pub fn screen(&self) -> &Screen {
        // The stack always holds at least the root screen.
        &self.stack[self.stack.len() - 1]
    }

    pub fn screen_mut(&mut self) -> &mut Screen {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    pub fn view(&self) -> ViewId {
        self.screen().kind.view()
    }

    /// Rows available to a list: the terminal less header, table header, borders and status bar.
    pub fn list_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6)).max(1)
    }

    /// The first error among a backend's sources, if its last fetch failed.
    pub fn backend_error(&self, b: Backend) -> Option<&str> {
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
