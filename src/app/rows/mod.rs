//! The rows each list screen shows, filtered and sorted. Shared by `update` (selection, drill-down)
//! and the views (rendering), so both always agree on what row N is and which object it is.
//! `columns` says what each list's columns hold; `table` filters and sorts by them; `filter` is
//! the `/` syntax; `wanted` says which data the screen on show needs; `lineage` builds the rows of
//! a lineage graph.

use mlops_core::{
    audit::AuditEntry,
    drift::DriftStatus,
    model::{Experiment, FeatureDrift, Gpu, Run},
    rollout::{Phase, RolloutKey, RolloutRecord},
};

pub mod columns;
pub mod details;
pub mod filter;
pub mod lineage;
pub mod overview;
pub mod run_columns;
pub mod table;
pub mod wanted;

pub use self::filter::matches;
use self::{columns::VersionRow, lineage::LineageRow, table::filter_and_sort};
use super::{
    feeds::{Feed, RunList, RunsKey},
    screens::{DriftKey, Screen, ScreenKind},
    state::App,
};

/// How urgently a rollout needs a human, for sorting: lower first.
pub fn attention(phase: Phase) -> u8 {
    match phase {
        Phase::AwaitingApproval => 0,
        Phase::RollingBack => 1,
        Phase::Failed => 2,
        Phase::Paused => 3,
        Phase::Progressing | Phase::Promoting | Phase::Pending => 4,
        Phase::RolledBack => 5,
        Phase::Promoted => 6,
    }
}

/// A GPU's state in a word: `IDLE` (allocated but idle), `busy`, `free`.
pub fn gpu_state(g: &Gpu) -> &'static str {
    if g.is_allocated_idle() {
        "IDLE"
    } else if g.is_allocated() {
        "busy"
    } else {
        "free"
    }
}

pub fn rollouts<'a>(app: &'a App, screen: &Screen) -> Vec<&'a RolloutRecord> {
    let Some(snap) = &app.feeds.cluster.data else {
        return Vec::new();
    };
    let mut all: Vec<&RolloutRecord> = snap.rollouts.iter().collect();
    // The default order: what needs a human first, then the newest.
    all.sort_by(|a, b| {
        attention(a.status.phase)
            .cmp(&attention(b.status.phase))
            .then(b.created.cmp(&a.created))
    });
    filter_and_sort(
        all,
        &columns::rollouts(),
        &screen.filter,
        screen.sort,
        &["namespace"],
    )
    .0
}

pub fn experiments<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Experiment> {
    let Some(list) = &app.feeds.experiments.data else {
        return Vec::new();
    };
    let mut all: Vec<&Experiment> = list.iter().collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.last_update));
    filter_and_sort(
        all,
        &columns::experiments(),
        &screen.filter,
        screen.sort,
        &[],
    )
    .0
}

/// The runs search a Runs screen shows: its experiment, its server filter (`f`), and the
/// column it is sorted by as MLflow's order. The server sorts, so the order holds across pages
/// not loaded yet; unsorted, the newest first.
pub fn runs_key(screen: &Screen) -> Option<RunsKey> {
    let ScreenKind::Runs {
        experiment_id,
        filter,
        ..
    } = &screen.kind
    else {
        return None;
    };
    let order_by = screen
        .sort
        .and_then(|s| {
            run_columns::run_order(s.field)
                .map(|k| format!("{k} {}", if s.descending { "DESC" } else { "ASC" }))
        })
        .into_iter()
        .collect();
    Some(RunsKey {
        experiment_id: experiment_id.clone(),
        filter: filter.trim().to_string(),
        order_by,
    })
}

/// The runs `ids` as loaded (a run not loaded yet is left out until it is).
fn loaded_runs<'a>(app: &'a App, ids: &[String]) -> Vec<&'a Run> {
    ids.iter()
        .filter_map(|id| {
            lineage::find_run(app, id).or_else(|| app.marks.iter().find(|m| m.id == *id))
        })
        .collect()
}

/// The comparison of the runs `ids`; `None` until every one has loaded. Drawing a frame asks
/// for it several times (rows, keys, chart, table): the one worked out after the last action
/// (`App::compared`) is used when it is of these runs.
pub fn comparison_of<'a>(
    app: &'a App,
    ids: &[String],
) -> Option<std::borrow::Cow<'a, mlops_core::compare::Comparison>> {
    if let Some((cached, c)) = &app.compared
        && cached == ids
    {
        return Some(std::borrow::Cow::Borrowed(c));
    }
    compare_fresh(app, ids).map(std::borrow::Cow::Owned)
}

fn compare_fresh(app: &App, ids: &[String]) -> Option<mlops_core::compare::Comparison> {
    let loaded: Vec<Run> = loaded_runs(app, ids).into_iter().cloned().collect();
    (loaded.len() == ids.len() && !loaded.is_empty())
        .then(|| mlops_core::compare::Comparison::of(&loaded, &app.directions))
}

/// The comparison the screen on show needs, worked out once after an action for the frames
/// drawn until the next one; `None` off the Compare screen (or its raw JSON).
pub fn comparison_to_keep(app: &App) -> Option<(Vec<String>, mlops_core::compare::Comparison)> {
    let ids = match &app.screen().kind {
        ScreenKind::Compare { runs, .. }
        | ScreenKind::Raw {
            of: super::screens::RawOf::Comparison(runs),
            ..
        } => runs.clone(),
        _ => return None,
    };
    let c = compare_fresh(app, &ids)?;
    Some((ids, c))
}

/// The comparison a Compare screen shows; `None` until its runs have loaded.
pub fn comparison<'a>(
    app: &'a App,
    screen: &Screen,
) -> Option<std::borrow::Cow<'a, mlops_core::compare::Comparison>> {
    match &screen.kind {
        ScreenKind::Compare { runs, .. } => comparison_of(app, runs),
        _ => None,
    }
}

/// The rows of a Compare screen: params then metrics, only the differing ones when asked.
pub fn compare_rows(app: &App, screen: &Screen) -> Vec<mlops_core::compare::Row> {
    let ScreenKind::Compare { diff_only, .. } = &screen.kind else {
        return Vec::new();
    };
    comparison(app, screen).map_or_else(Vec::new, |c| c.rows(*diff_only))
}

/// The metric a Compare screen charts: the selected row's, or the first metric when a param is
/// selected.
pub fn compare_chart_metric(app: &App, screen: &Screen) -> Option<String> {
    let rows = compare_rows(app, screen);
    rows.get(screen.selected)
        .filter(|r| r.kind == "metric")
        .or_else(|| rows.iter().find(|r| r.kind == "metric"))
        .map(|r| r.name.clone())
}

/// What the Runs screen's search has loaded so far.
pub fn run_list<'a>(app: &'a App, screen: &Screen) -> Option<&'a Feed<RunList>> {
    runs_key(screen).and_then(|k| app.feeds.runs.get(&k))
}

/// The loaded runs of the Runs screen in the server's order; `/` narrows them.
pub fn runs<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Run> {
    let all = loaded_runs_of(app, screen);
    filter_and_sort(
        all,
        &run_columns::columns(app, screen),
        &screen.filter,
        None,
        &[],
    )
    .0
}

/// Every loaded run of the Runs screen, in the server's order, before `/` narrows them.
pub fn loaded_runs_of<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Run> {
    run_list(app, screen)
        .and_then(|f| f.data.as_ref())
        .map_or_else(Vec::new, |list| list.runs.iter().collect())
}

pub fn model_versions<'a>(app: &'a App, screen: &Screen) -> Vec<VersionRow<'a>> {
    let Some(models) = &app.feeds.models.data else {
        return Vec::new();
    };
    let all: Vec<VersionRow<'a>> = models
        .iter()
        .flat_map(|m| m.versions.iter().rev().map(move |v| (m, v)))
        .collect();
    filter_and_sort(
        &all,
        &columns::model_versions(),
        &screen.filter,
        screen.sort,
        &[],
    )
    .0
    .into_iter()
    .copied()
    .collect()
}

pub fn drift<'a>(app: &'a App, screen: &Screen) -> Vec<&'a FeatureDrift> {
    let Some(list) = &app.feeds.drift.data else {
        return Vec::new();
    };
    let mut all: Vec<&FeatureDrift> = list.iter().collect();
    // The default order: the worst first.
    all.sort_by(|a, b| {
        b.report
            .status
            .cmp(&a.report.status)
            .then(b.report.psi.total_cmp(&a.report.psi))
    });
    filter_and_sort(all, &columns::drift(), &screen.filter, screen.sort, &[]).0
}

/// The drift row a key names.
pub fn find_drift<'a>(app: &'a App, key: &DriftKey) -> Option<&'a FeatureDrift> {
    app.feeds.drift.data.as_ref()?.iter().find(|d| key.is(d))
}

/// Features whose drift alerts — not ok for `[drift] alert_after` windows in a row — the worst
/// alert first.
pub fn drift_alerts(app: &App) -> Vec<&FeatureDrift> {
    let after = app.drift_alert_after;
    let mut alerts: Vec<&FeatureDrift> = drift(app, &Screen::new(ScreenKind::Drift))
        .into_iter()
        .filter(|d| d.alert(after) != DriftStatus::Ok)
        .collect();
    // Stable: within an alert status, the Drift view's order (worst window first).
    alerts.sort_by_key(|d| std::cmp::Reverse(d.alert(after)));
    alerts
}

pub fn gpus<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Gpu> {
    let Some(list) = &app.feeds.gpus.data else {
        return Vec::new();
    };
    filter_and_sort(
        list,
        &columns::gpus(),
        &screen.filter,
        screen.sort,
        &["product"],
    )
    .0
}

pub fn audit<'a>(app: &'a App, screen: &Screen) -> Vec<&'a AuditEntry> {
    let Some(list) = &app.feeds.audit.data else {
        return Vec::new();
    };
    filter_and_sort(
        list.iter().rev(),
        &columns::audit(),
        &screen.filter,
        screen.sort,
        &["details"],
    )
    .0
}

/// What the filter of `screen` could not make sense of, in words.
pub fn filter_problems(app: &App, screen: &Screen) -> Vec<String> {
    let fields: Vec<&str> = match &screen.kind {
        ScreenKind::Overview | ScreenKind::Rollouts => {
            let mut f = table::field_names(&columns::rollouts());
            f.push("namespace");
            f
        }
        ScreenKind::Experiments => table::field_names(&columns::experiments()),
        ScreenKind::Runs { .. } => table::field_names(&run_columns::columns(app, screen)),
        ScreenKind::Lineage => table::field_names(&columns::model_versions()),
        ScreenKind::Drift => table::field_names(&columns::drift()),
        ScreenKind::Gpus => table::field_names(&columns::gpus()),
        ScreenKind::Audit => table::field_names(&columns::audit()),
        _ => Vec::new(),
    };
    filter::Filter::parse(&screen.filter, &fields).problems
}

/// Why the cluster does not let the user `verb` the rollouts of `namespace`, when it does not
/// (asked of the cluster with each snapshot; nothing is denied in the demo).
pub fn denied<'a>(
    app: &'a App,
    namespace: &str,
    verb: mlops_core::rollout::Verb,
) -> Option<&'a str> {
    app.feeds
        .cluster
        .data
        .as_ref()?
        .denied
        .get(namespace)?
        .get(verb.rbac_verb())
        .map(String::as_str)
}

pub fn find_rollout<'a>(app: &'a App, key: &RolloutKey) -> Option<&'a RolloutRecord> {
    app.feeds
        .cluster
        .data
        .as_ref()?
        .rollouts
        .iter()
        .find(|r| r.is(key))
}

/// The identity of every row of a list screen, in order: the selection follows its object across
/// re-sorts, watch events and verbs.
pub fn keys(app: &App, screen: &Screen) -> Vec<String> {
    match &screen.kind {
        ScreenKind::Overview => overview::keys(app, screen),
        ScreenKind::Rollouts => rollouts(app, screen)
            .iter()
            .map(|r| format!("{}/{}/{}", r.cluster, r.namespace, r.name))
            .collect(),
        ScreenKind::Experiments => experiments(app, screen)
            .iter()
            .map(|e| e.id.clone())
            .collect(),
        ScreenKind::Runs { .. } => runs(app, screen).iter().map(|r| r.id.clone()).collect(),
        ScreenKind::Lineage => model_versions(app, screen)
            .iter()
            .map(|(m, v)| format!("{}@{}", m.name, v.version))
            .collect(),
        ScreenKind::LineageGraph { .. } => lineage::rows(app, screen)
            .iter()
            .map(|r| r.id.clone())
            .collect(),
        ScreenKind::Drift => drift(app, screen)
            .iter()
            .map(|d| format!("{}/{}/{}", d.model, d.version, d.feature))
            .collect(),
        ScreenKind::Gpus => gpus(app, screen)
            .iter()
            .map(|g| format!("{}/{}/{}", g.cluster, g.node, g.index))
            .collect(),
        ScreenKind::Audit => audit(app, screen)
            .iter()
            .map(|e| e.seq.to_string())
            .collect(),
        ScreenKind::Messages { .. } => details::messages(app, screen)
            .iter()
            .map(|m| m.seq.to_string())
            .collect(),
        ScreenKind::Compare { .. } => compare_rows(app, screen)
            .iter()
            .map(|r| format!("{}/{}", r.kind, r.name))
            .collect(),
        _ => Vec::new(),
    }
}

/// Number of selectable rows on a screen.
pub fn len(app: &App, screen: &Screen) -> usize {
    match &screen.kind {
        ScreenKind::Overview => overview::keys(app, screen).len(),
        ScreenKind::Rollouts => rollouts(app, screen).len(),
        ScreenKind::Experiments => experiments(app, screen).len(),
        ScreenKind::Runs { .. } => runs(app, screen).len(),
        ScreenKind::Lineage => model_versions(app, screen).len(),
        ScreenKind::LineageGraph { .. } => lineage::rows(app, screen).len(),
        ScreenKind::Drift => drift(app, screen).len(),
        ScreenKind::Gpus => gpus(app, screen).len(),
        ScreenKind::Audit => audit(app, screen).len(),
        ScreenKind::Messages { .. } => details::messages(app, screen).len(),
        ScreenKind::Compare { .. } => compare_rows(app, screen).len(),
        _ => 0,
    }
}

/// The screen that `enter` on the selected row opens.
pub fn drill(app: &App, screen: &Screen) -> Option<ScreenKind> {
    let i = screen.selected;
    match &screen.kind {
        ScreenKind::Overview => overview::drill(app, screen),
        ScreenKind::Rollouts => rollouts(app, screen)
            .get(i)
            .map(|r| ScreenKind::RolloutDetail(r.key())),
        ScreenKind::Experiments => experiments(app, screen).get(i).map(|e| ScreenKind::Runs {
            experiment_id: e.id.clone(),
            name: e.name.clone(),
            filter: String::new(),
        }),
        ScreenKind::Runs { experiment_id, .. } => {
            runs(app, screen).get(i).map(|r| ScreenKind::RunDetail {
                experiment_id: experiment_id.clone(),
                run_id: r.id.clone(),
                name: r.name.clone(),
            })
        }
        ScreenKind::Lineage => {
            model_versions(app, screen)
                .get(i)
                .map(|(m, v)| ScreenKind::LineageGraph {
                    model: m.name.clone(),
                    version: v.version,
                })
        }
        ScreenKind::LineageGraph { .. } => {
            let row: &LineageRow = &lineage::rows(app, screen).into_iter().nth(i)?;
            row.target
                .clone()
                .or_else(|| details::describe(app, screen))
        }
        ScreenKind::Drift => drift(app, screen)
            .get(i)
            .map(|d| ScreenKind::DriftDetail(DriftKey::of(d))),
        ScreenKind::Gpus => {
            let g = gpus(app, screen).into_iter().nth(i)?;
            let model = g.model.clone()?;
            let version = g.version?;
            Some(ScreenKind::LineageGraph { model, version })
        }
        ScreenKind::Audit => audit(app, screen)
            .get(i)
            .map(|e| ScreenKind::AuditEntry(e.seq)),
        _ => None,
    }
}
