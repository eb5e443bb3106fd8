//! The one Action enum. Keymaps name the bindable actions in `snake_case`; internal actions are
//! `#[serde(skip)]` so no keymap can bind them. Actions are data only; so are the `Effect`s that
//! `update` hands back for the event loop to carry out.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use mlops_core::{
    CoreError,
    model::ClusterChange,
    rollout::{Command, RolloutKey, RolloutRecord, Verb},
};
use serde::{Deserialize, Serialize};

use super::{
    feeds::{Payload, Source},
    screens::{VIEWS, ViewId},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Bound to a key, does nothing: how a keymap unbinds a key.
    NoOp,
    Quit,
    /// `q`: back from a detail, describe or raw screen (as k9s closes them); quit from a
    /// view's top screen. `ctrl-c` (and `:quit`) always quit.
    BackOrQuit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    OpenPalette,
    OpenFilter,
    ClearFilter,
    /// On a detail or raw screen: the next / previous match of the `/` search (`n` / `N`; in a
    /// list, where `/` filters, an unbound `shift`+letter sorts as before).
    SearchNext,
    SearchPrev,
    ToggleHelp,
    NextView,
    PrevView,
    /// Show a view as it was left (`show_<view>` in keymaps: `show_rollouts`). Named through
    /// the `VIEWS` table, so a new view needs no new action.
    #[serde(skip)]
    Show(ViewId),
    Refresh,
    /// `[`: back through the places visited.
    HistoryBack,
    /// `]`: forward through the places visited.
    HistoryForward,
    /// `-`: the last place visited.
    HistoryToggle,
    /// The selected object in full (`d`).
    Describe,
    /// The selected object's raw JSON, as the CLI's `-o json` (`y`).
    ShowRaw,
    /// The lineage of the model version the selected object belongs to (`J`).
    JumpToOwner,
    /// The incident timeline of the model version the selected object belongs to (`t`).
    OpenTimeline,
    /// The Overview's next / previous panel (`o` / `O`).
    NextPanel,
    PrevPanel,
    /// The log of status-bar messages (`:messages`).
    ShowMessages,
    Approve,
    Promote,
    PromoteFull,
    Abort,
    Rollback,
    Pause,
    Resume,
    /// Runs view: filter the runs with MLflow's syntax, on the server (`f`).
    FilterRuns,
    /// Runs view: mark or unmark the selected run for comparison (`space`).
    ToggleMark,
    /// Runs view: forget every mark (`M`; `u` brings them back).
    ClearMarks,
    /// Runs view: bring back the marks cleared last, with any marked since (`u`).
    RestoreMarks,
    /// Compare view's scatter: point at the next / previous run (`>` / `<`), named with its
    /// values under the plot.
    NextPoint,
    PrevPoint,
    /// Runs view: compare the marked runs (`c`).
    CompareRuns,
    /// Compare view: show only what differs between the runs, or everything (`=`).
    ToggleDiffOnly,
    /// Compare view: write the comparison to a file (`e`; .csv, .md or .json).
    ExportComparison,
    /// Compare view: params against the metric (parallel coordinates), or its histories (`p`).
    ToggleParallel,
    /// Runs view: choose which metrics and params are the table's columns (`o`).
    ChooseColumns,
    /// Compare view: the selected row becomes a scatter's x axis (`x`).
    ScatterAgainst,
    /// Internal: one second passed.
    #[serde(skip)]
    Tick(DateTime<Utc>),
    /// Internal: the terminal was resized.
    #[serde(skip)]
    Resize(u16, u16),
    /// Internal: a key for the open text input (palette, filter, comment).
    #[serde(skip)]
    Input(KeyEvent),
    /// Internal: text pasted into the terminal (bracketed paste), for the open text input.
    #[serde(skip)]
    Paste(String),
    /// Internal: a fetch finished.
    #[serde(skip)]
    Loaded(Source, Result<Box<Payload>, CoreError>),
    /// Internal: a rollout command finished.
    #[serde(skip)]
    CommandDone(Result<Box<RolloutRecord>, CoreError>),
    /// Internal: the cluster pushed a change through a watch.
    #[serde(skip)]
    ClusterChanged(Box<ClusterChange>),
    /// Internal: a context or namespace switch finished (the new cluster's description).
    #[serde(skip)]
    Switched(Result<String, String>),
    /// Internal: an export was written (where) or not (why).
    #[serde(skip)]
    Exported(Result<String, String>),
}

/// Something for the event loop to carry out, in a task of its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Fetch(Source),
    Command {
        target: RolloutKey,
        command: Command,
    },
    /// Write `contents` to `path` atomically (a comparison's export).
    Export {
        path: std::path::PathBuf,
        contents: String,
    },
    /// Connect to another kubeconfig context (`Some`) and/or namespace.
    Switch {
        context: Option<String>,
        namespace: Namespace,
    },
}

/// Which namespace a switch lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace {
    /// The one in use.
    Keep,
    /// Every namespace.
    All,
    One(String),
}

impl Action {
    /// Every action a keymap may bind but `Show`, in the order the help lists them.
    const PLAIN: [Action; 49] = [
        Action::NoOp,
        Action::Quit,
        Action::BackOrQuit,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Enter,
        Action::Back,
        Action::OpenPalette,
        Action::OpenFilter,
        Action::ClearFilter,
        Action::SearchNext,
        Action::SearchPrev,
        Action::ToggleHelp,
        Action::NextView,
        Action::PrevView,
        Action::Refresh,
        Action::HistoryBack,
        Action::HistoryForward,
        Action::HistoryToggle,
        Action::Describe,
        Action::ShowRaw,
        Action::JumpToOwner,
        Action::OpenTimeline,
        Action::NextPanel,
        Action::PrevPanel,
        Action::ShowMessages,
        Action::Approve,
        Action::Promote,
        Action::PromoteFull,
        Action::Abort,
        Action::Rollback,
        Action::Pause,
        Action::Resume,
        Action::FilterRuns,
        Action::ToggleMark,
        Action::ClearMarks,
        Action::RestoreMarks,
        Action::NextPoint,
        Action::PrevPoint,
        Action::CompareRuns,
        Action::ToggleDiffOnly,
        Action::ExportComparison,
        Action::ToggleParallel,
        Action::ChooseColumns,
        Action::ScatterAgainst,
    ];

    /// Every action a keymap may bind, for `config check` and the help overlay: the view
    /// switches (one per row of `VIEWS`) after `prev_view`, as the help lists them.
    pub fn bindable() -> Vec<Action> {
        let at = Self::PLAIN
            .iter()
            .position(|a| *a == Action::PrevView)
            .map_or(0, |i| i + 1);
        let mut all = Self::PLAIN[..at].to_vec();
        all.extend(VIEWS.iter().map(|v| Action::Show(v.id)));
        all.extend_from_slice(&Self::PLAIN[at..]);
        all
    }

    /// The rollout verb an action sends, if it is one.
    pub fn verb(&self) -> Option<Verb> {
        match self {
            Action::Approve => Some(Verb::Approve),
            Action::Promote => Some(Verb::Promote),
            Action::PromoteFull => Some(Verb::PromoteFull),
            Action::Abort => Some(Verb::Abort),
            Action::Rollback => Some(Verb::Rollback),
            Action::Pause => Some(Verb::Pause),
            Action::Resume => Some(Verb::Resume),
            _ => None,
        }
    }

    /// The `snake_case` name keymaps use.
    pub fn name(&self) -> String {
        if let Action::Show(view) = self {
            return format!("show_{}", view.info().palette);
        }
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{self:?}"))
    }

    pub fn from_name(name: &str) -> Option<Action> {
        if let Some(view) = name.strip_prefix("show_").and_then(ViewId::named) {
            return Some(Action::Show(view));
        }
        Self::PLAIN.iter().find(|a| a.name() == name).cloned()
    }

    /// One line for the help overlay. All help texts live here.
    pub fn description(&self) -> &'static str {
        match self {
            Action::NoOp => "nothing (unbinds the key)",
            Action::Quit => "quit",
            Action::BackOrQuit => "back from a detail; quit from a view's top",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "go to the top",
            Action::Bottom => "go to the bottom",
            Action::Enter => "open the selected item",
            Action::Back => "back / close",
            Action::OpenPalette => "command palette",
            Action::OpenFilter => "filter the list; search a detail or raw screen",
            Action::ClearFilter => "clear the filter",
            Action::SearchNext => "next match of a detail or raw screen's search",
            Action::SearchPrev => "previous match of the search",
            Action::ToggleHelp => "this help",
            Action::NextView => "next view",
            Action::PrevView => "previous view",
            Action::Show(view) => view.title(),
            Action::Refresh => "refresh now",
            Action::HistoryBack => "back through the places visited",
            Action::HistoryForward => "forward through the places visited",
            Action::HistoryToggle => "the last place visited",
            Action::Describe => "the selected object in full",
            Action::ShowRaw => "the selected object's raw JSON (as -o json)",
            Action::JumpToOwner => "jump to the model version's lineage",
            Action::OpenTimeline => "the model version's incident timeline",
            Action::NextPanel => "next panel",
            Action::PrevPanel => "previous panel",
            Action::ShowMessages => "the messages of this session",
            Action::Approve => "approve the rollout",
            Action::Promote => "promote to the next step",
            Action::PromoteFull => "promote fully",
            Action::Abort => "abort the rollout",
            Action::Rollback => "roll back",
            Action::Pause => "pause the rollout",
            Action::Resume => "resume the rollout",
            Action::FilterRuns => "filter runs on the server (MLflow syntax)",
            Action::ToggleMark => "mark the run for comparison",
            Action::ClearMarks => "clear the marks",
            Action::RestoreMarks => "bring back the marks cleared last",
            Action::NextPoint => "scatter: point at the next run",
            Action::PrevPoint => "scatter: point at the previous run",
            Action::CompareRuns => "compare the marked runs",
            Action::ToggleDiffOnly => "only what differs / everything",
            Action::ExportComparison => "export the comparison (.csv, .md, .json)",
            Action::ToggleParallel => "comparison: params → metric / histories",
            Action::ChooseColumns => "choose the metrics and params shown as columns",
            Action::ScatterAgainst => "comparison: scatter the selected row against this one",
            Action::Tick(_)
            | Action::Resize(..)
            | Action::Input(_)
            | Action::Paste(_)
            | Action::Loaded(..)
            | Action::CommandDone(_)
            | Action::ClusterChanged(_)
            | Action::Switched(_)
            | Action::Exported(_) => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in &Action::bindable() {
            assert_eq!(Action::from_name(&a.name()).as_ref(), Some(a));
        }
        assert_eq!(Action::Show(ViewId::Gpus).name(), "show_gpus");
        assert_eq!(
            Action::from_name("show_rollouts"),
            Some(Action::Show(ViewId::Rollouts))
        );
        assert_eq!(Action::from_name("show_nothing"), None);
        assert_eq!(
            Action::from_name("tick"),
            None,
            "internal actions cannot be bound"
        );
    }
}
