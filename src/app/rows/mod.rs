//! The rows each list screen shows, filtered and sorted. Shared by `update` (selection, drill-down)
//! and the views (rendering), so both always agree on what row N is. `wanted` says which data the
//! screen on show needs; `lineage` builds the rows of a lineage graph; `filter` is the `/` filter.

use mlops_core::{
    audit::AuditEntry,
    drift::DriftStatus,
    model::{Experiment, FeatureDrift, Gpu, ModelVersion, RegisteredModel, Run},
    rollout::{Phase, RolloutKey, RolloutRecord},
};

mod filter;
pub mod lineage;
pub mod wanted;

pub use self::filter::matches;
use self::lineage::LineageRow;
use super::{
    screens::{Screen, ScreenKind},
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

pub fn rollouts<'a>(app: &'a App, filter: &str) -> Vec<&'a RolloutRecord> {
    let Some(snap) = &app.feeds.cluster.data else {
        return Vec::new();
    };
    let mut v: Vec<&RolloutRecord> = snap
        .rollouts
        .iter()
        .filter(|r| {
            matches(
                filter,
                &[
                    &r.name,
                    &r.cluster,
                    &r.namespace,
                    r.status.phase.as_str(),
                    &r.spec.model.name,
                ],
            )
        })
        .collect();
    v.sort_by(|a, b| {
        attention(a.status.phase)
            .cmp(&attention(b.status.phase))
            .then(b.created.cmp(&a.created))
    });
    v
}

pub fn experiments<'a>(app: &'a App, filter: &str) -> Vec<&'a Experiment> {
    let Some(list) = &app.feeds.experiments.data else {
        return Vec::new();
    };
    let mut v: Vec<&Experiment> = list
        .iter()
        .filter(|e| matches(filter, &[&e.name, &e.id]))
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.last_update));
    v
}

pub fn runs<'a>(app: &'a App, experiment_id: &str, filter: &str) -> Vec<&'a Run> {
    let Some(list) = app
        .feeds
        .runs
        .get(experiment_id)
        .and_then(|f| f.data.as_ref())
    else {
        return Vec::new();
    };
    let mut v: Vec<&Run> = list
        .iter()
        .filter(|r| {
            filter.is_empty()
                || matches(
                    filter,
                    &[
                        &r.name,
                        &r.id,
                        &r.user,
                        r.status.as_str(),
                        r.params.get("optimizer").map_or("", String::as_str),
                    ],
                )
        })
        .collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.start));
    v
}

pub fn model_versions<'a>(
    app: &'a App,
    filter: &str,
) -> Vec<(&'a RegisteredModel, &'a ModelVersion)> {
    let Some(models) = &app.feeds.models.data else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for m in models {
        for mv in m.versions.iter().rev() {
            let aliases = m.aliases_of(mv.version).join(" ");
            if matches(filter, &[&m.name, &format!("v{}", mv.version), &aliases]) {
                v.push((m, mv));
            }
        }
    }
    v
}

pub fn drift<'a>(app: &'a App, filter: &str) -> Vec<&'a FeatureDrift> {
    let Some(list) = &app.feeds.drift.data else {
        return Vec::new();
    };
    let mut v: Vec<&FeatureDrift> = list
        .iter()
        .filter(|d| matches(filter, &[&d.model, &d.feature, d.report.status.as_str()]))
        .collect();
    v.sort_by(|a, b| {
        b.report
            .status
            .cmp(&a.report.status)
            .then(b.report.psi.total_cmp(&a.report.psi))
    });
    v
}

pub fn drift_alerts(app: &App) -> Vec<&FeatureDrift> {
    drift(app, "")
        .into_iter()
        .filter(|d| d.report.status != DriftStatus::Ok)
        .collect()
}

pub fn gpus<'a>(app: &'a App, filter: &str) -> Vec<&'a Gpu> {
    let Some(list) = &app.feeds.gpus.data else {
        return Vec::new();
    };
    list.iter()
        .filter(|g| {
            let idle = if g.is_allocated_idle() { "idle" } else { "" };
            matches(
                filter,
                &[
                    &g.cluster,
                    &g.node,
                    g.model.as_deref().unwrap_or("free"),
                    g.pod.as_deref().unwrap_or(""),
                    idle,
                ],
            )
        })
        .collect()
}

pub fn audit<'a>(app: &'a App, filter: &str) -> Vec<&'a AuditEntry> {
    let Some(list) = &app.feeds.audit.data else {
        return Vec::new();
    };
    list.iter()
        .rev()
        .filter(|e| matches(filter, &[&e.actor, &e.action, &e.target, &e.comment]))
        .collect()
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

/// Number of selectable rows on a screen.
pub fn len(app: &App, screen: &Screen) -> usize {
    let f = screen.filter.as_str();
    match &screen.kind {
        ScreenKind::Overview | ScreenKind::Rollouts => rollouts(app, f).len(),
        ScreenKind::Experiments => experiments(app, f).len(),
        ScreenKind::Runs { experiment_id, .. } => runs(app, experiment_id, f).len(),
        ScreenKind::Lineage => model_versions(app, f).len(),
        ScreenKind::LineageGraph { .. } => lineage::rows(app, screen).len(),
        ScreenKind::Drift => drift(app, f).len(),
        ScreenKind::Gpus => gpus(app, f).len(),
        ScreenKind::Audit => audit(app, f).len(),
        ScreenKind::RunDetail { .. }
        | ScreenKind::DriftDetail { .. }
        | ScreenKind::RolloutDetail(_) => 0,
    }
}

/// The screen that `enter` on the selected row opens.
pub fn drill(app: &App, screen: &Screen) -> Option<ScreenKind> {
    let f = screen.filter.as_str();
    let i = screen.selected;
    match &screen.kind {
        ScreenKind::Overview | ScreenKind::Rollouts => rollouts(app, f)
            .get(i)
            .map(|r| ScreenKind::RolloutDetail(r.key())),
        ScreenKind::Experiments => experiments(app, f).get(i).map(|e| ScreenKind::Runs {
            experiment_id: e.id.clone(),
            name: e.name.clone(),
        }),
        ScreenKind::Runs { experiment_id, .. } => {
            runs(app, experiment_id, f)
                .get(i)
                .map(|r| ScreenKind::RunDetail {
                    experiment_id: experiment_id.clone(),
                    run_id: r.id.clone(),
                    name: r.name.clone(),
                })
        }
        ScreenKind::Lineage => {
            model_versions(app, f)
                .get(i)
                .map(|(m, v)| ScreenKind::LineageGraph {
                    model: m.name.clone(),
                    version: v.version,
                })
        }
        ScreenKind::LineageGraph { .. } => lineage::rows(app, screen)
            .get(i)
            .and_then(|row: &LineageRow| row.target.clone()),
        ScreenKind::Drift => drift(app, f).get(i).map(|d| ScreenKind::DriftDetail {
            model: d.model.clone(),
            feature: d.feature.clone(),
        }),
        ScreenKind::Gpus => {
            let g = gpus(app, f).into_iter().nth(i)?;
            let model = g.model.clone()?;
            let version = g.version?;
            Some(ScreenKind::LineageGraph { model, version })
        }
        ScreenKind::Audit
        | ScreenKind::RunDetail { .. }
        | ScreenKind::DriftDetail { .. }
        | ScreenKind::RolloutDetail(_) => None,
    }
}
