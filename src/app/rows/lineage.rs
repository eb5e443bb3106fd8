//! The rows of a lineage screen: the graph of one model version laid out upstream → downstream,
//! each row knowing which screen `enter` opens.

use mlops_core::lineage::{self, LineageInputs, NodeKey, NodeKind};

use super::filter::matches;
use crate::app::{
    screens::{Screen, ScreenKind},
    state::App,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Upstream,
    Focus,
    Downstream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageRow {
    /// The node's id in the graph: the row's identity.
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    pub detail: String,
    pub relation: Relation,
    pub target: Option<ScreenKind>,
}

/// The run behind a model version, from whichever feed has it.
pub fn find_run<'a>(app: &'a App, run_id: &str) -> Option<&'a mlops_core::model::Run> {
    if let Some(r) = app.feeds.run.get(run_id).and_then(|f| f.data.as_ref()) {
        return Some(r);
    }
    app.feeds
        .runs
        .values()
        .filter_map(|f| f.data.as_ref())
        .flat_map(|v| v.runs.iter())
        .find(|r| r.id == run_id)
}

/// Where the registry and the clusters disagree, over every model (`lineage::mismatches`, the
/// same as `mlops lineage`): empty until both the registry and the cluster have answered.
pub fn mismatches(app: &App) -> Vec<mlops_core::lineage::Mismatch> {
    let (Some(models), Some(snapshot)) = (&app.feeds.models.data, &app.feeds.cluster.data) else {
        return Vec::new();
    };
    models
        .iter()
        .flat_map(|m| mlops_core::lineage::mismatches(m, &snapshot.deployments))
        .collect()
}

pub fn run_id_of(app: &App, model: &str, version: u32) -> Option<String> {
    app.feeds
        .models
        .data
        .as_ref()?
        .iter()
        .find(|m| m.name == model)?
        .version(version)?
        .run_id
        .clone()
}

pub fn rows(app: &App, screen: &Screen) -> Vec<LineageRow> {
    let ScreenKind::LineageGraph { model, version } = &screen.kind else {
        return Vec::new();
    };
    let Some(m) = app
        .feeds
        .models
        .data
        .as_ref()
        .and_then(|ms| ms.iter().find(|m| m.name == *model))
    else {
        return Vec::new();
    };
    let run = m
        .version(*version)
        .and_then(|v| v.run_id.as_deref())
        .and_then(|id| find_run(app, id));
    let (rollouts, deployments, pods) = match &app.feeds.cluster.data {
        Some(s) => (
            s.rollouts.as_slice(),
            s.deployments.as_slice(),
            s.pods.as_slice(),
        ),
        None => (&[][..], &[][..], &[][..]),
    };
    let g = lineage::for_version(&LineageInputs {
        model: m,
        version: *version,
        run,
        rollouts,
        deployments,
        pods,
    });
    let focus = g.find_key(&NodeKey::version(model, *version));
    let upstream = focus.map(|f| g.walk(f, false)).unwrap_or_default();
    let mut out = Vec::new();
    for kind in NodeKind::ORDER {
        for i in g.of_kind(kind) {
            let n = &g.nodes[i];
            if !matches(&screen.filter, &[&n.label, &n.detail, kind.as_str()]) {
                continue;
            }
            let relation = if Some(i) == focus {
                Relation::Focus
            } else if upstream.contains(&i) {
                Relation::Upstream
            } else {
                Relation::Downstream
            };
            let target = match kind {
                NodeKind::Run => run.map(|r| ScreenKind::RunDetail {
                    experiment_id: r.experiment_id.clone(),
                    run_id: r.id.clone(),
                    name: r.name.clone(),
                }),
                NodeKind::Rollout => match &n.key {
                    NodeKey::Rollout(k) => Some(ScreenKind::RolloutDetail(k.clone())),
                    _ => None,
                },
                NodeKind::Dataset => Some(ScreenKind::DatasetDetail {
                    model: model.clone(),
                    version: *version,
                    name: n.label.clone(),
                }),
                _ => None,
            };
            out.push(LineageRow {
                id: n.id.clone(),
                kind,
                label: n.label.clone(),
                detail: n.detail.clone(),
                relation,
                target,
            });
        }
    }
    out
}
