//! What the detail keys open for the selected row or the screen on show: `d` (describe: the
//! object in full), `y` (its raw JSON), `J` (jump to its owner: the model version's lineage), and
//! the messages list.

use mlops_core::{
    audit::AuditEntry,
    model::{Dataset, Gpu, ModelVersion, Pod, RegisteredModel, Run},
};

use super::{audit, drift, gpus, lineage, model_versions, overview, rollouts, runs};
use crate::app::{
    screens::{DriftKey, Panel, RawOf, Screen, ScreenKind},
    state::{App, Message},
};

/// The screen `d` opens: the selected object in full.
pub fn describe(app: &App, screen: &Screen) -> Option<ScreenKind> {
    let i = screen.selected;
    let view = screen.kind.view();
    match &screen.kind {
        ScreenKind::Audit => audit(app, screen)
            .get(i)
            .map(|e| ScreenKind::AuditEntry(e.seq)),
        ScreenKind::Gpus => gpus(app, screen).get(i).map(|g| ScreenKind::GpuDetail {
            cluster: g.cluster.clone(),
            node: g.node.clone(),
            index: g.index,
        }),
        ScreenKind::Lineage => {
            model_versions(app, screen)
                .get(i)
                .map(|(m, v)| ScreenKind::VersionDetail {
                    model: m.name.clone(),
                    version: v.version,
                })
        }
        ScreenKind::LineageGraph { model, version } => {
            let row = lineage::rows(app, screen).into_iter().nth(i)?;
            match row.kind {
                mlops_core::lineage::NodeKind::ModelVersion => Some(ScreenKind::VersionDetail {
                    model: model.clone(),
                    version: *version,
                }),
                mlops_core::lineage::NodeKind::Pod => {
                    let (cluster, namespace, name) = split3(row.id.trim_start_matches("pod:"))?;
                    Some(ScreenKind::PodDetail {
                        cluster,
                        namespace,
                        name,
                        from: view,
                    })
                }
                _ => row.target,
            }
        }
        // Rollouts, runs, experiments and drift rows already open a full detail with enter.
        _ => super::drill(app, screen),
    }
}

fn split3(s: &str) -> Option<(String, String, String)> {
    let mut parts = s.splitn(3, '/');
    Some((
        parts.next()?.to_string(),
        parts.next()?.to_string(),
        parts.next()?.to_string(),
    ))
}

/// The object whose raw document `y` shows: the one on a detail screen, or the selected row.
pub fn raw_of(app: &App, screen: &Screen) -> Option<RawOf> {
    let i = screen.selected;
    match &screen.kind {
        ScreenKind::Overview => match screen.panel {
            Panel::Rollouts => rollouts(app, screen)
                .get(i)
                .map(|r| RawOf::Rollout(r.key())),
            Panel::Drift => overview::alerts(app, screen)
                .get(i)
                .map(|d| RawOf::Drift(DriftKey::of(d))),
            Panel::Gpus => overview::attention_gpus(app, screen)
                .get(i)
                .map(|g| RawOf::Gpu {
                    cluster: g.cluster.clone(),
                    node: g.node.clone(),
                    index: g.index,
                }),
            Panel::Events => None,
        },
        ScreenKind::Rollouts => rollouts(app, screen)
            .get(i)
            .map(|r| RawOf::Rollout(r.key())),
        ScreenKind::RolloutDetail(k) => Some(RawOf::Rollout(k.clone())),
        ScreenKind::Audit => audit(app, screen).get(i).map(|e| RawOf::AuditEntry(e.seq)),
        ScreenKind::AuditEntry(seq) => Some(RawOf::AuditEntry(*seq)),
        ScreenKind::Gpus => gpus(app, screen).get(i).map(|g| RawOf::Gpu {
            cluster: g.cluster.clone(),
            node: g.node.clone(),
            index: g.index,
        }),
        ScreenKind::GpuDetail {
            cluster,
            node,
            index,
        } => Some(RawOf::Gpu {
            cluster: cluster.clone(),
            node: node.clone(),
            index: *index,
        }),
        ScreenKind::PodDetail {
            cluster,
            namespace,
            name,
            ..
        } => Some(RawOf::Pod {
            cluster: cluster.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
        }),
        ScreenKind::Lineage => model_versions(app, screen)
            .get(i)
            .map(|(m, v)| RawOf::Version {
                model: m.name.clone(),
                version: v.version,
            }),
        ScreenKind::VersionDetail { model, version }
        | ScreenKind::LineageGraph { model, version } => Some(RawOf::Version {
            model: model.clone(),
            version: *version,
        }),
        ScreenKind::Experiments => super::experiments(app, screen)
            .get(i)
            .map(|e| RawOf::Experiment(e.id.clone())),
        ScreenKind::Runs { .. } => runs(app, screen).get(i).map(|r| RawOf::Run(r.id.clone())),
        ScreenKind::RunDetail { run_id, .. } => Some(RawOf::Run(run_id.clone())),
        ScreenKind::DatasetDetail {
            model,
            version,
            name,
        } => Some(RawOf::Dataset {
            model: model.clone(),
            version: *version,
            name: name.clone(),
        }),
        ScreenKind::Drift => drift(app, screen)
            .get(i)
            .map(|d| RawOf::Drift(DriftKey::of(d))),
        ScreenKind::DriftDetail(k) => Some(RawOf::Drift(k.clone())),
        ScreenKind::Raw { of, .. } => Some(of.clone()),
        ScreenKind::Compare { runs, .. } => Some(RawOf::Comparison(runs.clone())),
        ScreenKind::Messages { .. } => None,
    }
}

/// The raw document of `of` as pretty JSON — for a rollout, the same document as
/// `mlops rollout get -o json` — or why there is none.
pub fn raw_document(app: &App, of: &RawOf) -> Result<String, String> {
    let json = |v: Result<String, serde_json::Error>| v.map_err(|e| e.to_string());
    let missing = || format!("{} is not loaded (yet)", of.label());
    match of {
        RawOf::Rollout(k) => {
            let r = super::find_rollout(app, k).ok_or_else(missing)?;
            json(serde_json::to_string_pretty(r))
        }
        RawOf::AuditEntry(seq) => json(serde_json::to_string_pretty(
            find_audit(app, *seq).ok_or_else(missing)?,
        )),
        RawOf::Gpu {
            cluster,
            node,
            index,
        } => json(serde_json::to_string_pretty(
            find_gpu(app, cluster, node, *index).ok_or_else(missing)?,
        )),
        RawOf::Pod {
            cluster,
            namespace,
            name,
        } => json(serde_json::to_string_pretty(
            find_pod(app, cluster, namespace, name).ok_or_else(missing)?,
        )),
        RawOf::Version { model, version } => {
            let (m, v) = find_version(app, model, *version).ok_or_else(missing)?;
            json(serde_json::to_string_pretty(&serde_json::json!({
                "model": m.name,
                "version": v,
                "aliases": m.aliases_of(v.version),
            })))
        }
        RawOf::Dataset {
            model,
            version,
            name,
        } => {
            let (run, d) = find_dataset(app, model, *version, name).ok_or_else(missing)?;
            json(serde_json::to_string_pretty(&serde_json::json!({
                "dataset": d,
                "run_id": run.id,
                "model": model,
                "version": version,
            })))
        }
        RawOf::Run(id) => {
            let run = app
                .feeds
                .run
                .get(id)
                .and_then(|f| f.data.as_ref())
                .or_else(|| super::lineage::find_run(app, id))
                .ok_or_else(missing)?;
            json(serde_json::to_string_pretty(run))
        }
        RawOf::Comparison(ids) => super::comparison_of(app, ids)
            .map(|c| c.json())
            .ok_or_else(missing),
        RawOf::Experiment(id) => json(serde_json::to_string_pretty(
            app.feeds
                .experiments
                .data
                .as_ref()
                .and_then(|es| es.iter().find(|e| e.id == *id))
                .ok_or_else(missing)?,
        )),
        RawOf::Drift(k) => json(serde_json::to_string_pretty(
            super::find_drift(app, k).ok_or_else(missing)?,
        )),
    }
}

/// The lineage of the model version the selected object belongs to (`J`: jump to owner).
pub fn owner(app: &App, screen: &Screen) -> Option<ScreenKind> {
    let i = screen.selected;
    let lineage = |model: &str, version: u32| ScreenKind::LineageGraph {
        model: model.to_string(),
        version,
    };
    match &screen.kind {
        ScreenKind::Overview => match screen.panel {
            Panel::Rollouts => rollouts(app, screen)
                .get(i)
                .map(|r| lineage(&r.spec.model.name, r.spec.model.version)),
            Panel::Drift => overview::alerts(app, screen)
                .get(i)
                .map(|d| lineage(&d.model, d.version)),
            Panel::Gpus => {
                let g = overview::attention_gpus(app, screen).into_iter().nth(i)?;
                Some(lineage(g.model.as_deref()?, g.version?))
            }
            Panel::Events => None,
        },
        ScreenKind::Rollouts => rollouts(app, screen)
            .get(i)
            .map(|r| lineage(&r.spec.model.name, r.spec.model.version)),
        ScreenKind::RolloutDetail(k) => {
            super::find_rollout(app, k).map(|r| lineage(&r.spec.model.name, r.spec.model.version))
        }
        ScreenKind::Drift => drift(app, screen)
            .get(i)
            .map(|d| lineage(&d.model, d.version)),
        ScreenKind::DriftDetail(k) => Some(lineage(&k.model, k.version)),
        ScreenKind::Gpus => {
            let g = gpus(app, screen).into_iter().nth(i)?;
            Some(lineage(g.model.as_deref()?, g.version?))
        }
        ScreenKind::GpuDetail {
            cluster,
            node,
            index,
        } => {
            let g = find_gpu(app, cluster, node, *index)?;
            Some(lineage(g.model.as_deref()?, g.version?))
        }
        ScreenKind::PodDetail {
            cluster,
            namespace,
            name,
            ..
        } => {
            let p = find_pod(app, cluster, namespace, name)?;
            Some(lineage(p.model.as_deref()?, p.version?))
        }
        ScreenKind::Lineage => model_versions(app, screen)
            .get(i)
            .map(|(m, v)| lineage(&m.name, v.version)),
        ScreenKind::VersionDetail { model, version }
        | ScreenKind::DatasetDetail { model, version, .. } => Some(lineage(model, *version)),
        _ => None,
    }
}

pub fn find_audit(app: &App, seq: u64) -> Option<&AuditEntry> {
    app.feeds.audit.data.as_ref()?.iter().find(|e| e.seq == seq)
}

pub fn find_gpu<'a>(app: &'a App, cluster: &str, node: &str, index: u32) -> Option<&'a Gpu> {
    app.feeds
        .gpus
        .data
        .as_ref()?
        .iter()
        .find(|g| g.cluster == cluster && g.node == node && g.index == index)
}

pub fn find_pod<'a>(app: &'a App, cluster: &str, namespace: &str, name: &str) -> Option<&'a Pod> {
    app.feeds
        .cluster
        .data
        .as_ref()?
        .pods
        .iter()
        .find(|p| p.cluster == cluster && p.namespace == namespace && p.name == name)
}

pub fn find_version<'a>(
    app: &'a App,
    model: &str,
    version: u32,
) -> Option<(&'a RegisteredModel, &'a ModelVersion)> {
    let m = app
        .feeds
        .models
        .data
        .as_ref()?
        .iter()
        .find(|m| m.name == model)?;
    Some((m, m.version(version)?))
}

/// The messages of this session, newest first, as the filter keeps them.
pub fn messages<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Message> {
    app.messages
        .iter()
        .rev()
        .filter(|m| super::matches(&screen.filter, &[&m.text]))
        .collect()
}

/// The dataset `name` of the run behind a model version, with that run.
pub fn find_dataset<'a>(
    app: &'a App,
    model: &str,
    version: u32,
    name: &str,
) -> Option<(&'a Run, &'a Dataset)> {
    let run_id = lineage::run_id_of(app, model, version)?;
    let run = lineage::find_run(app, &run_id)?;
    let d = run.datasets.iter().find(|d| d.name == name)?;
    Some((run, d))
}
