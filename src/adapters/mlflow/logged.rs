//! MLflow 3's logged models (`logged-models/search`): the models runs logged, as MLflow sends
//! them and mapped to the core's [`LoggedModel`]. A server older than MLflow 3 has no such
//! endpoint: it has no logged models, which is an answer, not a failure.

use std::collections::BTreeMap;

use mlops_core::{CoreError, model::LoggedModel};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{
    MlflowRegistry,
    paging::{Bounds, Pager},
    wire::{KeyValue, Number, key_values, millis},
};
use crate::adapters::http::{CallError, Failure};

/// Models asked for per `logged-models/search` request, and the most read in all.
const PAGE_SIZE: u32 = 100;
const MOST: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchPage {
    models: Vec<RawLoggedModel>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawLoggedModel {
    info: RawInfo,
    #[serde(default)]
    data: RawData,
}

#[derive(Debug, Deserialize)]
struct RawInfo {
    model_id: String,
    experiment_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    creation_timestamp_ms: Option<Number>,
    #[serde(default)]
    artifact_uri: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawData {
    params: Vec<KeyValue>,
    metrics: Vec<RawModelMetric>,
}

#[derive(Debug, Deserialize)]
struct RawModelMetric {
    key: String,
    value: Number,
    #[serde(default)]
    timestamp: Option<Number>,
    #[serde(default)]
    step: Option<Number>,
}

fn map(raw: RawLoggedModel) -> Result<LoggedModel, String> {
    let RawLoggedModel { info, data } = raw;
    if info.model_id.is_empty() {
        return Err("a logged model without model_id".into());
    }
    let id = info.model_id;
    let context = |m: String| format!("logged model {id}: {m}");
    let created = match &info.creation_timestamp_ms {
        Some(n) => millis("creation_timestamp_ms", n).map_err(context)?,
        None => return Err(context("no creation_timestamp_ms".into())),
    };
    // The latest value of each metric: by step, then by time.
    let mut latest: BTreeMap<String, ((i64, i64), f64)> = BTreeMap::new();
    for m in data.metrics {
        let value = m
            .value
            .as_f64()
            .map_err(|e| context(format!("metric {}: {e}", m.key)))?;
        let at = (
            m.step.as_ref().and_then(|n| n.as_i64().ok()).unwrap_or(0),
            m.timestamp
                .as_ref()
                .and_then(|n| n.as_i64().ok())
                .unwrap_or(0),
        );
        match latest.get(&m.key) {
            Some((seen, _)) if *seen > at => {}
            _ => {
                latest.insert(m.key, (at, value));
            }
        }
    }
    Ok(LoggedModel {
        name: info.name,
        experiment_id: info.experiment_id,
        source_run_id: info.source_run_id.filter(|s| !s.is_empty()),
        model_type: info.model_type.filter(|s| !s.is_empty()),
        status: info.status.trim_start_matches("LOGGED_MODEL_").to_string(),
        artifact_uri: info.artifact_uri,
        created,
        params: key_values(data.params),
        metrics: latest.into_iter().map(|(k, (_, v))| (k, v)).collect(),
        tags: key_values(info.tags),
        id,
    })
}

/// The server has no `logged-models` endpoint (before MLflow 3).
fn no_endpoint(e: &CallError) -> bool {
    matches!(
        &e.failure,
        Failure::Api { status, code, .. }
            if *status == reqwest::StatusCode::NOT_FOUND
                || code.as_deref() == Some("ENDPOINT_NOT_FOUND")
    )
}

impl MlflowRegistry {
    /// The models logged in `experiment_id` (by `run_id` only, when given), newest first,
    /// at most [`MOST`]; none from a server without logged models.
    pub(super) async fn search_logged_models(
        &self,
        experiment_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<LoggedModel>, CoreError> {
        const ENDPOINT: &str = "logged-models/search";
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pager = Pager::new(Bounds::up_to(MOST, PAGE_SIZE));
        loop {
            let mut body = json!({
                "experiment_ids": [experiment_id],
                "max_results": PAGE_SIZE,
                "order_by": [{"field_name": "creation_timestamp", "ascending": false}],
            });
            if let Some(run) = run_id {
                body["filter"] = json!(format!("source_run_id = '{}'", run.replace('\'', "\\'")));
            }
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page: SearchPage = match self.call(Method::POST, ENDPOINT, &[], Some(&body)).await {
                Ok(p) => p,
                Err(e) if no_endpoint(&e) => return Ok(Vec::new()),
                Err(e) => return Err(CoreError::from(e)),
            };
            let added = page.models.len();
            for raw in page.models {
                out.push(map(raw).map_err(|m| self.malformed("POST", ENDPOINT, &m))?);
            }
            if out.len() >= MOST {
                break;
            }
            match pager
                .next(added, page.next_page_token)
                .map_err(|m| self.malformed("POST", ENDPOINT, &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.truncate(MOST);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_model_maps_with_its_latest_metrics_and_bad_ones_are_named() {
        let raw: RawLoggedModel = serde_json::from_str(
            r#"{"info": {"model_id": "m-1", "experiment_id": "3", "name": "model",
                "creation_timestamp_ms": 1796056285351, "artifact_uri": "mlflow-artifacts:/3/models/m-1/artifacts",
                "status": "LOGGED_MODEL_READY", "model_type": "sklearn", "source_run_id": "r1",
                "tags": [{"key": "team", "value": "risk"}]},
               "data": {"params": [{"key": "alpha", "value": "0.5"}],
                "metrics": [{"key": "auc", "value": 0.8, "step": 1, "timestamp": 5},
                            {"key": "auc", "value": 0.9, "step": 2, "timestamp": 4}]}}"#,
        )
        .expect("json");
        let m = map(raw).expect("maps");
        assert_eq!(m.id, "m-1");
        assert_eq!(m.status, "READY");
        assert_eq!(m.source_run_id.as_deref(), Some("r1"));
        assert!((m.metrics["auc"] - 0.9).abs() < 1e-12, "the latest step");
        assert_eq!(m.params["alpha"], "0.5");
        assert_eq!(m.tags["team"], "risk");
        let bad: RawLoggedModel = serde_json::from_str(
            r#"{"info": {"model_id": "m-2", "experiment_id": "3", "creation_timestamp_ms": "soon"}}"#,
        )
        .expect("json");
        let e = map(bad).expect_err("bad time");
        assert!(
            e.contains("m-2") && e.contains("creation_timestamp_ms"),
            "{e}"
        );
        let none: RawLoggedModel =
            serde_json::from_str(r#"{"info": {"model_id": "m-3", "experiment_id": "3"}}"#)
                .expect("json");
        assert!(map(none).expect_err("no time").contains("m-3"));
    }
}
