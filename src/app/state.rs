//! The console's state: one owner, changed only by `update`. Rendering reads it.

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

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
    pub error: Option<String>,
}

pub struct App {
    pub stack: Vec<Screen>,
    pub mode: Mode,
    pub palette: TextArea<'static>,
    pub palette_selected: usize,
    pub filter_input: TextArea<'static>,
    pub confirm: Option<Confirm>,
    pub help_scroll: u16,
    pub pending: Vec<Key>,
    pub message: Option<Message>,
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
}

/// The smallest terminal the console draws in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

impl App {
    pub fn new(keymap: Keymap, theme: Theme, backends: BackendInfo, now: DateTime<Utc>) -> Self {
        Self {
            stack: vec![Screen::new(ScreenKind::Overview)],
            mode: Mode::Normal,
            palette: TextArea::default(),
            palette_selected: 0,
            filter_input: TextArea::default(),
            confirm: None,
            help_scroll: 0,
            pending: Vec::new(),
            message: None,
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
        self.message = Some(Message {
            text: text.into(),
            level: Level::Info,
            at: self.now,
        });
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            level: Level::Warn,
            at: self.now,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            level: Level::Error,
            at: self.now,
        });
    }
}
