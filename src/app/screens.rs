//! The views and the screens on the navigation stack. `VIEWS` is the one table of views: its id,
//! title, keymap section, palette names and the action that shows it. Adding a view is a row here,
//! its rows in `app/rows` and its drawing in `ui/views`.

use mlops_core::rollout::RolloutKey;

use super::action::Action;

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

/// One view's row in the table.
#[derive(Debug)]
pub struct ViewInfo {
    pub id: ViewId,
    pub title: &'static str,
    /// The keymap section for the view's own keys.
    pub context: &'static str,
    /// The palette command (`:rollouts`) and its aliases.
    pub palette: &'static str,
    pub aliases: &'static [&'static str],
    /// The action that shows the view (bound to `1`…`7` by default).
    pub show: Action,
    /// The palette's one-line description.
    pub help: &'static str,
    /// The screen the view opens on.
    pub screen: ScreenKind,
}

/// Every view, in tab order.
pub const VIEWS: [ViewInfo; 7] = [
    ViewInfo {
        id: ViewId::Overview,
        title: "Overview",
        context: "overview",
        palette: "overview",
        aliases: &["home", "o"],
        show: Action::ShowOverview,
        help: "rollouts, drift alerts, GPUs, events",
        screen: ScreenKind::Overview,
    },
    ViewInfo {
        id: ViewId::Experiments,
        title: "Experiments",
        context: "experiments",
        palette: "experiments",
        aliases: &["exp", "runs"],
        show: Action::ShowExperiments,
        help: "experiments and their runs",
        screen: ScreenKind::Experiments,
    },
    ViewInfo {
        id: ViewId::Lineage,
        title: "Lineage",
        context: "lineage",
        palette: "lineage",
        aliases: &["lin", "models"],
        show: Action::ShowLineage,
        help: "dataset → run → version → rollout → pods",
        screen: ScreenKind::Lineage,
    },
    ViewInfo {
        id: ViewId::Drift,
        title: "Drift",
        context: "drift",
        palette: "drift",
        aliases: &["dr"],
        show: Action::ShowDrift,
        help: "live feature drift (KS, PSI, Wasserstein)",
        screen: ScreenKind::Drift,
    },
    ViewInfo {
        id: ViewId::Gpus,
        title: "GPUs",
        context: "gpus",
        palette: "gpus",
        aliases: &["gpu", "nodes"],
        show: Action::ShowGpus,
        help: "GPU utilisation and allocation",
        screen: ScreenKind::Gpus,
    },
    ViewInfo {
        id: ViewId::Rollouts,
        title: "Rollouts",
        context: "rollouts",
        palette: "rollouts",
        aliases: &["ro", "rollout", "canary"],
        show: Action::ShowRollouts,
        help: "canary rollouts",
        screen: ScreenKind::Rollouts,
    },
    ViewInfo {
        id: ViewId::Audit,
        title: "Audit",
        context: "audit",
        palette: "audit",
        aliases: &["log"],
        show: Action::ShowAudit,
        help: "the audit trail",
        screen: ScreenKind::Audit,
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

    pub fn screen(self) -> ScreenKind {
        self.info().screen.clone()
    }

    /// The view an action shows, if it shows one.
    pub fn shown_by(action: &Action) -> Option<ViewId> {
        VIEWS.iter().find(|v| v.show == *action).map(|v| v.id)
    }

    /// Its place in the tab order.
    pub fn index(self) -> usize {
        VIEWS.iter().position(|v| v.id == self).unwrap_or(0)
    }
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

    /// Whether the screen is a list (detail screens are not).
    pub fn is_list(&self) -> bool {
        !matches!(
            self,
            ScreenKind::RunDetail { .. }
                | ScreenKind::DriftDetail { .. }
                | ScreenKind::RolloutDetail(_)
        )
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
