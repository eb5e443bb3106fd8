//! Mapping MLflow's JSON to the core's types. Errors are plain strings; the caller adds the
//! endpoint.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use mlops_core::model::{
    Dataset, Experiment, MetricPoint, ModelVersion, RegisteredModel, Run, RunStatus,
};

use super::{
    REGION_KEYS,
    wire::{
        Number, RawDataset, RawDatasetInput, RawExperiment, RawMetric, RawModelVersion,
        RawRegisteredModel, RawRun, key_values, millis,
    },
};

pub(super) fn map_experiment(
    e: RawExperiment,
    count: Option<(usize, Option<DateTime<Utc>>)>,
) -> Experiment {
    // A time that is not one (out of range, not a number) says nothing about when the
    // experiment was last worked on: it is left out, not a reason to drop every experiment.
    let updated = e
        .last_update_time
        .as_ref()
        .and_then(|n| millis("last_update_time", n).ok())
        .or_else(|| {
            e.creation_time
                .as_ref()
                .and_then(|n| millis("creation_time", n).ok())
        });
    let (run_count, latest_run) = match count {
        Some((n, latest)) => (Some(n), latest),
        None => (None, None),
    };
    // MLflow bumps last_update_time only for changes to the experiment itself; its latest run
    // says more about when it was last worked on.
    let last_update = updated
        .into_iter()
        .chain(latest_run)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    Experiment {
        id: e.experiment_id,
        name: e.name,
        run_count,
        last_update,
        tags: key_values(e.tags),
    }
}

pub(super) fn run_status(s: &str) -> Result<RunStatus, String> {
    match s {
        "RUNNING" | "SCHEDULED" => Ok(RunStatus::Running),
        "FINISHED" => Ok(RunStatus::Finished),
        "FAILED" => Ok(RunStatus::Failed),
        "KILLED" => Ok(RunStatus::Killed),
        other => Err(format!(
            "unknown run status {other:?} (expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED)"
        )),
    }
}

pub(super) fn map_run(raw: RawRun) -> Result<Run, String> {
    let RawRun { info, data, inputs } = raw;
    let id = info
        .run_id
        .filter(|s| !s.is_empty())
        .or(info.run_uuid.filter(|s| !s.is_empty()))
        .ok_or_else(|| "a run without run_id".to_string())?;
    let context = |m: String| format!("run {id}: {m}");
    let status = run_status(&info.status).map_err(context)?;
    let start = match &info.start_time {
        Some(n) => millis("start_time", n).map_err(context)?,
        None => return Err(context("no start_time".into())),
    };
    // MLflow reports an unset end time as absent, null or 0.
    let end = match &info.end_time {
        Some(n) if n.as_i64().is_ok_and(|ms| ms > 0) => {
            Some(millis("end_time", n).map_err(context)?)
        }
        Some(n) => {
            n.as_i64().map_err(|m| context(format!("end_time: {m}")))?;
            None
        }
        None => None,
    };
    let tags = key_values(data.tags);
    let mut metrics = BTreeMap::new();
    for m in data.metrics {
        let value = m
            .value
            .as_f64()
            .map_err(|e| context(format!("metric {}: {e}", m.key)))?;
        metrics.insert(m.key, value);
    }
    let datasets = inputs.dataset_inputs.into_iter().map(map_dataset).collect();
    Ok(Run {
        name: info
            .run_name
            .filter(|n| !n.is_empty())
            .or_else(|| tags.get("mlflow.runName").cloned())
            .unwrap_or_default(),
        user: info
            .user_id
            .filter(|u| !u.is_empty())
            .or_else(|| tags.get("mlflow.user").cloned())
            .unwrap_or_default(),
        id,
        experiment_id: info.experiment_id,
        status,
        start,
        end,
        params: key_values(data.params),
        metrics,
        datasets,
        tags,
    })
}

/// A dataset input: `source` is the location inside `MLflow`'s JSON source description
/// (`{"uri": …}`, `{"url": …}`, `{"path": …}`), else the raw text; `region` comes from an input
/// tag or a source field named like [`REGION_KEYS`], else is empty.
pub(super) fn map_dataset(input: RawDatasetInput) -> Dataset {
    let RawDataset {
        name,
        digest,
        source_type,
        source,
        schema,
        profile,
    } = input.dataset;
    // MLflow logs `{}` (or nothing) when a dataset has no schema or profile.
    let logged = |s: String| Some(s).filter(|s| !matches!(s.trim(), "" | "{}" | "null"));
    let tags = key_values(input.tags);
    let parsed = serde_json::from_str::<serde_json::Value>(&source)
        .ok()
        .filter(serde_json::Value::is_object);
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let location = ["uri", "url", "path", "table_name", "location"]
        .iter()
        .find_map(|k| field(k));
    let region = REGION_KEYS
        .iter()
        .find_map(|k| {
            tags.get(*k)
                .filter(|v| !v.is_empty())
                .cloned()
                .or_else(|| field(k))
        })
        .unwrap_or_default();
    let source = match location {
        Some(l) => l,
        None if source.is_empty() => source_type,
        None => source,
    };
    Dataset {
        name,
        digest,
        source,
        region,
        schema: logged(schema),
        profile: logged(profile),
    }
}

pub(super) fn map_metric_point(m: &RawMetric) -> Result<MetricPoint, String> {
    let context = |e: String| format!("metric {}: {e}", m.key);
    let timestamp = match &m.timestamp {
        Some(n) => millis("timestamp", n).map_err(context)?,
        None => return Err(context("no timestamp".into())),
    };
    let step = match &m.step {
        Some(n) => n.as_i64().map_err(|e| context(format!("step: {e}")))?,
        None => 0,
    };
    Ok(MetricPoint {
        step,
        timestamp,
        value: m.value.as_f64().map_err(context)?,
    })
}

pub(super) fn version_number(model: &str, n: &Number) -> Result<u32, String> {
    n.as_i64()
        .ok()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("model {model}: version {n:?} is not a version number"))
}

pub(super) fn map_models(
    models: Vec<RawRegisteredModel>,
    versions: Vec<RawModelVersion>,
) -> Result<Vec<RegisteredModel>, String> {
    let mut by_model: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    for v in versions {
        let version = version_number(&v.name, &v.version)?;
        let created = match &v.creation_timestamp {
            Some(n) => millis("creation_timestamp", n)
                .map_err(|e| format!("model {} version {version}: {e}", v.name))?,
            None => DateTime::UNIX_EPOCH,
        };
        by_model
            .entry(v.name.clone())
            .or_default()
            .push(ModelVersion {
                model: v.name,
                version,
                run_id: v.run_id.filter(|r| !r.is_empty()),
                created,
                status: v.status.unwrap_or_default(),
                tags: key_values(v.tags),
            });
    }
    models
        .into_iter()
        .map(|m| {
            let mut aliases = BTreeMap::new();
            for a in m.aliases {
                aliases.insert(a.alias, version_number(&m.name, &a.version)?);
            }
            let mut versions = by_model.remove(&m.name).unwrap_or_default();
            versions.sort_by_key(|v| v.version);
            Ok(RegisteredModel {
                description: m.description.unwrap_or_default(),
                tags: key_values(m.tags),
                aliases,
                versions,
                name: m.name,
            })
        })
        .collect()
}
