//! The views and the screens on the navigation stack. `VIEWS` is the one table of views: its id,
//! title, keymap section, palette names and help. A view is this table's row, its model in
//! `app/rows/<view>.rs` (chosen by `rows::model`) and its drawing in `ui/views/<view>.rs`
//! (chosen by `ui::views::render`); every view's top screen is `ScreenKind::Root(id)`.

use std::collections::HashMap;

use mlops_core::{model::FeatureDrift, rollout::RolloutKey};

use super::rows::{filter::FilterText, table::Sort};

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
    Serving,
    Timeline,
    Triggers,
}

/// One view's row in the table.
#[derive(Debug)]
pub struct ViewInfo {
    pub id: ViewId,
    pub title: &'static str,
    /// The keymap section for the view's own keys.
    pub context: &'static str,
    /// The palette command (`:rollouts`) and its aliases; `show_<palette>` is the action that
    /// shows the view in keymaps (bound to `1`…`7` by default).
    pub palette: &'static str,
    pub aliases: &'static [&'static str],
    /// The palette's one-line description.
    pub help: &'static str,
}

/// Every view, in tab order.
pub const VIEWS: [ViewInfo; 10] = [
    ViewInfo {
        id: ViewId::Overview,
        title: "Overview",
        context: "overview",
        palette: "overview",
        aliases: &["home", "o"],
        help: "rollouts, drift alerts, GPUs, events",
    },
    ViewInfo {
        id: ViewId::Experiments,
        title: "Experiments",
        context: "experiments",
        palette: "experiments",
        aliases: &["exp", "runs"],
        help: "experiments and their runs",
    },
    ViewInfo {
        id: ViewId::Lineage,
        title: "Lineage",
        context: "lineage",
        palette: "lineage",
        aliases: &["lin", "models"],
        help: "dataset → run → version → rollout → pods",
    },
    ViewInfo {
        id: ViewId::Drift,
        title: "Drift",
        context: "drift",
        palette: "drift",
        aliases: &["dr"],
        help: "live feature drift (KS, PSI, Wasserstein)",
    },
    ViewInfo {
        id: ViewId::Gpus,
        title: "GPUs",
        context: "gpus",
        palette: "gpus",
        aliases: &["gpu", "nodes"],
        help: "GPU utilisation and allocation",
    },
    ViewInfo {
        id: ViewId::Rollouts,
        title: "Rollouts",
        context: "rollouts",
        palette: "rollouts",
        aliases: &["ro", "rollout", "canary"],
        help: "canary rollouts",
    },
    ViewInfo {
        id: ViewId::Audit,
        title: "Audit",
        context: "audit",
        palette: "audit",
        aliases: &["log"],
        help: "the audit trail",
    },
    ViewInfo {
        id: ViewId::Serving,
        title: "Serving",
        context: "serving",
        palette: "serving",
        aliases: &["health", "slo"],
        help: "serving health and SLO burn per model version",
    },
    ViewInfo {
        id: ViewId::Timeline,
        title: "Timeline",
        context: "timeline",
        palette: "timeline",
        aliases: &["tl", "incident", "events"],
        help: "one incident timeline: events, rollouts, commands, registry, alerts",
    },
    ViewInfo {
        id: ViewId::Triggers,
        title: "Triggers",
        context: "triggers",
        palette: "triggers",
        aliases: &["trig", "mrt", "rollouttriggers"],
        help: "RolloutTriggers: what each watches, its last event, the rollout it started",
    },
];

impl ViewId {
    /// Every view, in tab order.
    pub fn all() -> impl Iterator<Item = ViewId> {
        VIEWS.iter().map(|v| v.id)
    }

    pub fn info(self) -> &'static ViewInfo {
        VIEWS.iter().find(|v| v.id == self).unwrap_or(&VIEWS[0])
    }

    pub fn title(self) -> &'static str {
        self.info().title
    }

    /// The keymap section for this view.
    pub fn context(self) -> &'static str {
        self.info().context
    }

    /// The screen the view opens on.
    pub fn screen(self) -> ScreenKind {
        ScreenKind::Root(self)
    }

    /// The view whose palette name is `name`.
    pub fn named(name: &str) -> Option<ViewId> {
        VIEWS.iter().find(|v| v.palette == name).map(|v| v.id)
    }

    /// Its place in the tab order.
    pub fn index(self) -> usize {
        VIEWS.iter().position(|v| v.id == self).unwrap_or(0)
    }
}

/// One drift row: a version's feature against its reference, or (`canary`) a model's canary
/// track against its stable track — both can exist for the canary's version at once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DriftKey {
    pub model: String,
    pub version: u32,
    pub feature: String,
    pub canary: bool,
}

impl DriftKey {
    pub fn of(d: &FeatureDrift) -> Self {
        Self {
            model: d.model.clone(),
            version: d.version,
            feature: d.feature.clone(),
            canary: d.is_canary_vs_stable(),
        }
    }

    pub fn is(&self, d: &FeatureDrift) -> bool {
        d.model == self.model
            && d.version == self.version
            && d.feature == self.feature
            && d.is_canary_vs_stable() == self.canary
    }
}

/// What a screen on the navigation stack shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenKind {
    /// A view's top screen: its list (the Overview's panels).
    Root(ViewId),
    Runs {
        experiment_id: String,
        name: String,
        /// MLflow's filter, evaluated by the server (`f`); empty: every run.
        filter: String,
    },
    /// The marked runs side by side (`c`); `diff_only` hides what every run has alike (`=`),
    /// `parallel` charts the params against a metric instead of its histories (`p`);
    /// `scatter_x` plots the selected row against this param or metric (`x`).
    Compare {
        runs: Vec<String>,
        diff_only: bool,
        parallel: bool,
        scatter_x: Option<mlops_core::model::RunField>,
    },
    RunDetail {
        experiment_id: String,
        run_id: String,
        name: String,
    },
    LineageGraph {
        model: String,
        version: u32,
    },
    DriftDetail(DriftKey),
    RolloutDetail(RolloutKey),
    /// One audit entry in full: comment, details, hash and the previous hash.
    AuditEntry(u64),
    /// One GPU in full, with its node and what it serves.
    GpuDetail {
        cluster: String,
        node: String,
        index: u32,
    },
    /// One pod in full, opened from `from`'s screens.
    PodDetail {
        cluster: String,
        namespace: String,
        name: String,
        from: ViewId,
    },
    /// One model version in full: aliases, tags, run, where it is served.
    VersionDetail {
        model: String,
        version: u32,
    },
    /// A dataset a model version was trained on: where it lives, the run that read it, and how
    /// the model's live features drift from it.
    DatasetDetail {
        model: String,
        version: u32,
        name: String,
    },
    /// The timeline of one model (and version), opened with `t` from anything that belongs to
    /// a model version.
    TimelineOf {
        model: String,
        version: Option<u32>,
    },
    /// One timeline entry in full, among the entries of the model (and version) it was
    /// opened from (`None`: every model's).
    TimelineEntry {
        model: Option<String>,
        version: Option<u32>,
        id: u64,
    },
    /// The raw JSON of an object (the same document as the CLI's `-o json`).
    Raw {
        of: RawOf,
        from: ViewId,
    },
    /// The status-bar messages of this session, newest first.
    Messages {
        from: ViewId,
    },
    /// One served model version on one track: its rates, latency, SLO windows and budget, and
    /// the series it was read from.
    ServingDetail(mlops_core::serving::ServingKey),
}

/// An object whose raw document `y` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawOf {
    Rollout(RolloutKey),
    AuditEntry(u64),
    Gpu {
        cluster: String,
        node: String,
        index: u32,
    },
    Pod {
        cluster: String,
        namespace: String,
        name: String,
    },
    Version {
        model: String,
        version: u32,
    },
    Run(String),
    Experiment(String),
    /// The comparison of these runs (as `mlops runs compare -o json`).
    Comparison(Vec<String>),
    Dataset {
        model: String,
        version: u32,
        name: String,
    },
    Drift(DriftKey),
    Serving(mlops_core::serving::ServingKey),
    Trigger {
        cluster: String,
        namespace: String,
        name: String,
    },
}

impl RawOf {
    /// What the breadcrumb calls it.
    pub fn label(&self) -> String {
        match self {
            RawOf::Rollout(k) => k.name.clone(),
            RawOf::AuditEntry(seq) => format!("audit #{seq}"),
            RawOf::Gpu { node, index, .. } => format!("{node} GPU {index}"),
            RawOf::Pod { name, .. } | RawOf::Dataset { name, .. } => name.clone(),
            RawOf::Version { model, version } => format!("{model} v{version}"),
            RawOf::Run(id) | RawOf::Experiment(id) => id.clone(),
            RawOf::Comparison(runs) => format!("comparison of {} runs", runs.len()),
            RawOf::Drift(k) => ScreenKind::DriftDetail(k.clone()).crumb(),
            RawOf::Serving(k) => ScreenKind::ServingDetail(k.clone()).crumb(),
            RawOf::Trigger {
                namespace, name, ..
            } => format!("{namespace}/{name}"),
        }
    }
}

impl ScreenKind {
    pub fn view(&self) -> ViewId {
        match self {
            ScreenKind::Root(v) => *v,
            ScreenKind::Runs { .. } | ScreenKind::RunDetail { .. } | ScreenKind::Compare { .. } => {
                ViewId::Experiments
            }
            ScreenKind::LineageGraph { .. }
            | ScreenKind::VersionDetail { .. }
            | ScreenKind::DatasetDetail { .. } => ViewId::Lineage,
            ScreenKind::DriftDetail(_) => ViewId::Drift,
            ScreenKind::GpuDetail { .. } => ViewId::Gpus,
            ScreenKind::RolloutDetail(_) => ViewId::Rollouts,
            ScreenKind::AuditEntry(_) => ViewId::Audit,
            ScreenKind::ServingDetail(_) => ViewId::Serving,
            ScreenKind::TimelineOf { .. } | ScreenKind::TimelineEntry { .. } => ViewId::Timeline,
            ScreenKind::PodDetail { from, .. }
            | ScreenKind::Raw { from, .. }
            | ScreenKind::Messages { from } => *from,
        }
    }

    /// The breadcrumb for this screen.
    pub fn crumb(&self) -> String {
        match self {
            ScreenKind::Root(v) => v.title().to_string(),
            ScreenKind::Runs { name, .. }
            | ScreenKind::RunDetail { name, .. }
            | ScreenKind::PodDetail { name, .. }
            | ScreenKind::DatasetDetail { name, .. } => name.clone(),
            ScreenKind::LineageGraph { model, version } => format!("{model} v{version}"),
            ScreenKind::DriftDetail(k) if k.canary => {
                format!("{} v{} canary · {}", k.model, k.version, k.feature)
            }
            ScreenKind::DriftDetail(k) => format!("{} · {}", k.model, k.feature),
            ScreenKind::RolloutDetail(k) => k.name.clone(),
            ScreenKind::AuditEntry(seq) => format!("#{seq}"),
            ScreenKind::TimelineOf {
                model,
                version: Some(v),
            } => format!("{model} v{v}"),
            ScreenKind::TimelineOf { model, .. } => model.clone(),
            ScreenKind::TimelineEntry { .. } => "entry".to_string(),
            ScreenKind::GpuDetail { node, index, .. } => format!("{node} GPU {index}"),
            ScreenKind::VersionDetail { model, version } => format!("{model} v{version} (detail)"),
            ScreenKind::Raw { of, .. } => format!("{} (raw)", of.label()),
            ScreenKind::Messages { .. } => "messages".to_string(),
            ScreenKind::Compare { runs, .. } => format!("compare {} runs", runs.len()),
            ScreenKind::ServingDetail(k) => format!("{} v{} {}", k.model, k.version, k.track),
        }
    }

    /// Whether the screen is a list (detail screens are not).
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            ScreenKind::Root(_)
                | ScreenKind::Runs { .. }
                | ScreenKind::Compare { .. }
                | ScreenKind::LineageGraph { .. }
                | ScreenKind::TimelineOf { .. }
                | ScreenKind::Messages { .. }
        )
    }

    /// Whether this is the top screen of `view`.
    pub fn is_root(&self, view: ViewId) -> bool {
        *self == ScreenKind::Root(view)
    }
}

/// The Overview's panels, each a list that takes the focus in turn (`o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Panel {
    #[default]
    Rollouts,
    Drift,
    Gpus,
    Events,
    /// Serving health, one line per model (drawn first; last in `o`'s round, so the round
    /// through the older panels is as it was).
    Serving,
}

impl Panel {
    pub const ALL: [Panel; 5] = [
        Panel::Rollouts,
        Panel::Drift,
        Panel::Gpus,
        Panel::Events,
        Panel::Serving,
    ];

    #[must_use]
    pub fn next(self, forward: bool) -> Panel {
        let i = Panel::ALL.iter().position(|p| *p == self).unwrap_or(0);
        let n = Panel::ALL.len();
        Panel::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub kind: ScreenKind,
    pub selected: usize,
    /// The identity of the selected row: the selection follows it when the list changes order.
    pub anchor: Option<u64>,
    /// The first row shown; kept by `update` so scrolling is stable.
    pub offset: usize,
    /// The `/` filter: its text, parsed once when it changes.
    pub filter: FilterText,
    /// A column the user sorted by (`None`: the list's own order).
    pub sort: Option<Sort>,
    /// On the Overview: the panel with the focus, and where the others were left.
    pub panel: Panel,
    pub panels: HashMap<Panel, (usize, Option<u64>)>,
    /// The view this screen was opened from when that is another view (a rollout opened from
    /// the Overview): `esc` goes back there, along the path the user came by.
    pub opened_from: Option<ViewId>,
    /// On a detail or raw screen, the `/` search: every match is highlighted; in a raw document
    /// `selected` is which of the matching lines is the current one (`n` / `N` move it).
    pub search: String,
    /// In the Compare view's scatter, the run pointed at (`<` / `>`); `None`: the best.
    pub point: Option<usize>,
}

impl Screen {
    pub fn new(kind: ScreenKind) -> Self {
        Self {
            kind,
            selected: 0,
            anchor: None,
            offset: 0,
            filter: FilterText::default(),
            sort: None,
            panel: Panel::Rollouts,
            panels: HashMap::new(),
            opened_from: None,
            search: String::new(),
            point: None,
        }
    }
}
