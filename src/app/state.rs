//! The console's state: one owner, changed only by `update`. Rendering reads it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use mlops_core::{
    audit::AuditEntry,
    model::{Experiment, Gpu, MetricPoint, RegisteredModel, Run},
    ports::{ClusterSnapshot, FeatureDrift, RolloutSeries},
    rollout::Command,
};
use ratatui_textarea::TextArea;

use crate::config::{ConfigError, Keymap, Theme, keymap::Key};

/// The top-level views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewId {
    Overview,
    Experiments,
    Lineage,
    Drift,
    Gpus,
    Rollouts,
    Audit,
}

impl ViewId {
    pub const ALL: [ViewId; 7] = [
        ViewId::Overview,
        ViewId::Experiments,
        ViewId::Lineage,
        ViewId::Drift,
        ViewId::Gpus,
        ViewId::Rollouts,
        ViewId::Audit,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ViewId::Overview => "Overview",
            ViewId::Experiments => "Experiments",
            ViewId::Lineage => "Lineage",
            ViewId::Drift => "Drift",
            ViewId::Gpus => "GPUs",
            ViewId::Rollouts => "Rollouts",
            ViewId::Audit => "Audit",
        }
    }

    /// The keymap section for this view.
    pub fn context(self) -> &'static str {
        match self {
            ViewId::Overview => "overview",
            ViewId::Experiments => "experiments",
            ViewId::Lineage => "lineage",
            ViewId::Drift => "drift",
            ViewId::Gpus => "gpus",
            ViewId::Rollouts => "rollouts",
            ViewId::Audit => "audit",
        }
    }

    pub fn screen(self) -> ScreenKind {
        match self {
            ViewId::Overview => ScreenKind::Overview,
            ViewId::Experiments => ScreenKind::Experiments,
            ViewId::Lineage => ScreenKind::Lineage,
            ViewId::Drift => ScreenKind::Drift,
            ViewId::Gpus => ScreenKind::Gpus,
            ViewId::Rollouts => ScreenKind::Rollouts,
            ViewId::Audit => ScreenKind::Audit,
        }
    }
}

/// A rollout's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RolloutKey {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

/// What a screen on the navigation stack shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenKind {
    Overview,
    Experiments,
    Runs {
        experiment_id: String,
        name: String,
    },
    RunDetail {
        experiment_id: String,
        run_id: String,
        name: String,
    },
    Lineage,
    LineageGraph {
        model: String,
        version: u32,
    },
    Drift,
    DriftDetail {
        model: String,
        feature: String,
    },
    Gpus,
    Rollouts,
    RolloutDetail(RolloutKey),
    Audit,
}

impl ScreenKind {
    pub fn view(&self) -> ViewId {
        match self {
            ScreenKind::Overview => ViewId::Overview,
            ScreenKind::Experiments | ScreenKind::Runs { .. } | ScreenKind::RunDetail { .. } => {
                ViewId::Experiments
            }
            ScreenKind::Lineage | ScreenKind::LineageGraph { .. } => ViewId::Lineage,
            ScreenKind::Drift | ScreenKind::DriftDetail { .. } => ViewId::Drift,
            ScreenKind::Gpus => ViewId::Gpus,
            ScreenKind::Rollouts | ScreenKind::RolloutDetail(_) => ViewId::Rollouts,
            ScreenKind::Audit => ViewId::Audit,
        }
    }

    /// The breadcrumb for this screen.
    pub fn crumb(&self) -> String {
        match self {
            ScreenKind::Runs { name, .. } | ScreenKind::RunDetail { name, .. } => name.clone(),
            ScreenKind::LineageGraph { model, version } => format!("{model} v{version}"),
            ScreenKind::DriftDetail { model, feature } => format!("{model} · {feature}"),
            ScreenKind::RolloutDetail(k) => k.name.clone(),
            other => other.view().title().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub kind: ScreenKind,
    pub selected: usize,
    /// The first row shown; kept by `update` so scrolling is stable.
    pub offset: usize,
    pub filter: String,
}

impl Screen {
    pub fn new(kind: ScreenKind) -> Self {
        Self {
            kind,
            selected: 0,
            offset: 0,
            filter: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Palette,
    Filter,
    Help,
    Confirm,
}

/// Where data comes from; at most one fetch per source is in flight, one queued.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    Cluster,
    Experiments,
    Models,
    Gpus,
    Drift,
    Audit,
    Runs(String),
    Run(String),
    RunMetrics(String),
    Series(RolloutKey),
}

impl Source {
    /// The backend behind the source, for greying out views.
    pub fn backend(&self) -> Backend {
        match self {
            Source::Cluster | Source::Audit => Backend::Cluster,
            Source::Experiments
            | Source::Models
            | Source::Runs(_)
            | Source::Run(_)
            | Source::RunMetrics(_) => Backend::Registry,
            Source::Gpus | Source::Drift | Source::Series(_) => Backend::Metrics,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Cluster,
    Registry,
    Metrics,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Cluster, Backend::Registry, Backend::Metrics];

    pub fn label(self) -> &'static str {
        match self {
            Backend::Cluster => "k8s",
            Backend::Registry => "registry",
            Backend::Metrics => "metrics",
        }
    }
}

/// Each metric of a run with its history.
pub type MetricHistories = Vec<(String, Vec<MetricPoint>)>;

/// One source's latest data, when it came, and the last error.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed<T> {
    pub data: Option<T>,
    pub updated: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub in_flight: bool,
    pub queued: bool,
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Self {
            data: None,
            updated: None,
            error: None,
            in_flight: false,
            queued: false,
        }
    }
}

impl<T> Feed<T> {
    pub fn is_stale(&self, now: DateTime<Utc>, every: Duration) -> bool {
        self.updated.is_none_or(|u| now - u >= every)
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Feeds {
    pub cluster: Feed<ClusterSnapshot>,
    pub experiments: Feed<Vec<Experiment>>,
    pub models: Feed<Vec<RegisteredModel>>,
    pub gpus: Feed<Vec<Gpu>>,
    pub drift: Feed<Vec<FeatureDrift>>,
    pub audit: Feed<Vec<AuditEntry>>,
    pub runs: HashMap<String, Feed<Vec<Run>>>,
    pub run: HashMap<String, Feed<Run>>,
    pub run_metrics: HashMap<String, Feed<MetricHistories>>,
    pub series: HashMap<RolloutKey, Feed<RolloutSeries>>,
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

/// Static facts about the backends, for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendInfo {
    pub cluster: Option<String>,
    pub registry: Option<String>,
    pub metrics: Option<String>,
}

impl BackendInfo {
    pub fn describe(&self, b: Backend) -> Option<&str> {
        match b {
            Backend::Cluster => self.cluster.as_deref(),
            Backend::Registry => self.registry.as_deref(),
            Backend::Metrics => self.metrics.as_deref(),
        }
    }
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
        let f = &self.feeds;
        let errors: Vec<Option<&String>> = match b {
            Backend::Cluster => vec![f.cluster.error.as_ref(), f.audit.error.as_ref()],
            Backend::Registry => {
                let mut v = vec![f.experiments.error.as_ref(), f.models.error.as_ref()];
                v.extend(f.runs.values().map(|x| x.error.as_ref()));
                v
            }
            Backend::Metrics => vec![f.gpus.error.as_ref(), f.drift.error.as_ref()],
        };
        errors.into_iter().flatten().next().map(String::as_str)
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
