//! The screens any view opens: an object's raw JSON (`y`, the same document as the CLI's
//! `-o json`), the messages of the session (`:messages`) and a pod in full; and the look-ups of
//! single objects they need.

use mlops_core::model::{Dataset, Pod, Run};

use super::{Keys, ViewModel, find_audit, find_gpu, find_version, identity, lineage};
use crate::app::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind},
    state::{App, Message},
};

/// Raw JSON, messages and pods, from whichever view opened them.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        match screen.kind {
            ScreenKind::Messages { .. } => Keys::of(
                messages(app, screen)
                    .iter()
                    .map(|m| identity(m.seq))
                    .collect(),
            ),
            _ => Keys::default(),
        }
    }

    fn drill(&self, _app: &App, _screen: &Screen) -> Option<ScreenKind> {
        None
    }

    fn raw(&self, _app: &App, screen: &Screen) -> Option<RawOf> {
        match &screen.kind {
            ScreenKind::Raw { of, .. } => Some(of.clone()),
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
            _ => None,
        }
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        let ScreenKind::PodDetail {
            cluster,
            namespace,
            name,
            ..
        } = &screen.kind
        else {
            return None;
        };
        let p = find_pod(app, cluster, namespace, name)?;
        Some((p.model.clone()?, p.version?))
    }

    fn wanted(&self, app: &App, screen: &Screen, out: &mut Vec<Source>) {
        match &screen.kind {
            ScreenKind::PodDetail { .. } => out.push(Source::Gpus),
            ScreenKind::Raw { of, .. } => raw_wanted(app, of, out),
            _ => {}
        }
    }
}

/// What the raw document of `of` is made from.
fn raw_wanted(app: &App, of: &RawOf, out: &mut Vec<Source>) {
    match of {
        RawOf::Experiment(_) => out.push(Source::Experiments),
        RawOf::Comparison(runs) => out.extend(runs.iter().map(|id| Source::Run(id.clone()))),
        RawOf::Version { .. } => out.push(Source::Models),
        RawOf::Dataset { model, version, .. } => {
            out.extend([Source::Models, Source::Drift]);
            out.extend(lineage::run_id_of(app, model, *version).map(Source::Run));
        }
        RawOf::Drift(_) => out.push(Source::Drift),
        RawOf::Serving(_) => out.push(Source::Serving),
        RawOf::Gpu { .. } => out.push(Source::Gpus),
        RawOf::AuditEntry(_) => out.push(Source::Audit),
        RawOf::Run(id) => out.push(Source::Run(id.clone())),
        RawOf::Rollout(_) | RawOf::Pod { .. } | RawOf::Trigger { .. } => {}
    }
}

/// The lines of `text` (0-based) where `query` occurs, ignoring case.
pub fn matching_lines(text: &str, query: &str) -> Vec<usize> {
    let query = query.to_lowercase();
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.to_lowercase().contains(&query))
        .map(|(i, _)| i)
        .collect()
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
        RawOf::Serving(k) => json(serde_json::to_string_pretty(
            super::serving::find_health(app, k).ok_or_else(missing)?,
        )),
        RawOf::Trigger {
            cluster,
            namespace,
            name,
        } => json(serde_json::to_string_pretty(
            super::triggers::find_trigger(app, cluster, namespace, name).ok_or_else(missing)?,
        )),
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
                .or_else(|| lineage::find_run(app, id))
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

pub fn find_pod<'a>(app: &'a App, cluster: &str, namespace: &str, name: &str) -> Option<&'a Pod> {
    app.feeds
        .cluster
        .data
        .as_ref()?
        .pods
        .iter()
        .find(|p| p.cluster == cluster && p.namespace == namespace && p.name == name)
}

/// The messages of this session, newest first, as the filter keeps them.
pub fn messages<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Message> {
    app.messages
        .iter()
        .rev()
        .filter(|m| super::matches(screen.filter.text(), &[&m.text]))
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
