//! The JSON as MLflow sends it. Missing fields default; numbers may arrive as strings
//! (protobuf's JSON mapping of int64) and doubles as "NaN"/"Infinity".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::adapters::http::parse_float;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct KeyValue {
    pub(super) key: String,
    pub(super) value: String,
}

pub(super) fn key_values(items: Vec<KeyValue>) -> BTreeMap<String, String> {
    items.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

/// A number that protobuf's JSON mapping may have turned into a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Number {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Number {
    pub(super) fn as_i64(&self) -> Result<i64, String> {
        match self {
            Number::Int(i) => Ok(*i),
            #[allow(clippy::float_cmp)] // exact: only whole numbers are integers
            Number::Float(f) if f.trunc() == *f && f.is_finite() => Ok(*f as i64),
            Number::Float(f) => Err(format!("{f} is not an integer")),
            Number::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not an integer")),
        }
    }

    pub(super) fn as_f64(&self) -> Result<f64, String> {
        match self {
            Number::Int(i) => Ok(*i as f64),
            Number::Float(f) => Ok(*f),
            Number::Text(s) => parse_float(s).ok_or_else(|| format!("{s:?} is not a number")),
        }
    }
}

pub(super) fn millis(field: &str, n: &Number) -> Result<DateTime<Utc>, String> {
    let ms = n.as_i64().map_err(|e| format!("{field}: {e}"))?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| format!("{field}: {ms} ms is outside the representable time range"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ExperimentsPage {
    pub(super) experiments: Vec<RawExperiment>,
    pub(super) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ExperimentGet {
    pub(super) experiment: RawExperiment,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawExperiment {
    pub(super) experiment_id: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) last_update_time: Option<Number>,
    #[serde(default)]
    pub(super) creation_time: Option<Number>,
    #[serde(default)]
    pub(super) tags: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RunsPage {
    pub(super) runs: Vec<RawRun>,
    pub(super) next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RunGet {
    pub(super) run: RawRun,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRun {
    pub(super) info: RawRunInfo,
    #[serde(default)]
    pub(super) data: RawRunData,
    #[serde(default)]
    pub(super) inputs: RawRunInputs,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRunInfo {
    #[serde(default)]
    pub(super) run_id: Option<String>,
    #[serde(default)]
    pub(super) run_uuid: Option<String>,
    pub(super) experiment_id: String,
    #[serde(default)]
    pub(super) run_name: Option<String>,
    #[serde(default)]
    pub(super) user_id: Option<String>,
    pub(super) status: String,
    #[serde(default)]
    pub(super) start_time: Option<Number>,
    #[serde(default)]
    pub(super) end_time: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawRunData {
    pub(super) metrics: Vec<RawMetric>,
    pub(super) params: Vec<KeyValue>,
    pub(super) tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawMetric {
    pub(super) key: String,
    pub(super) value: Number,
    #[serde(default)]
    pub(super) timestamp: Option<Number>,
    #[serde(default)]
    pub(super) step: Option<Number>,
    /// Set in `get-history-bulk-interval` answers, which mix runs.
    #[serde(default)]
    pub(super) run_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawRunInputs {
    pub(super) dataset_inputs: Vec<RawDatasetInput>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawDatasetInput {
    #[serde(default)]
    pub(super) tags: Vec<KeyValue>,
    pub(super) dataset: RawDataset,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawDataset {
    pub(super) name: String,
    pub(super) digest: String,
    pub(super) source_type: String,
    pub(super) source: String,
    pub(super) schema: String,
    pub(super) profile: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HistoryPage {
    pub(super) metrics: Vec<RawMetric>,
    pub(super) next_page_token: Option<String>,
}

pub(super) trait Page {
    type Item;
    fn split(self) -> (Vec<Self::Item>, Option<String>);
}

/// `registered-models/get`: `{"registered_model": {...}}`.
#[derive(Debug, Deserialize)]
pub(super) struct RegisteredModelBody {
    pub(super) registered_model: RawRegisteredModel,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RegisteredModelsPage {
    pub(super) registered_models: Vec<RawRegisteredModel>,
    pub(super) next_page_token: Option<String>,
}

impl Page for RegisteredModelsPage {
    type Item = RawRegisteredModel;
    fn split(self) -> (Vec<RawRegisteredModel>, Option<String>) {
        (self.registered_models, self.next_page_token)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ModelVersionsPage {
    pub(super) model_versions: Vec<RawModelVersion>,
    pub(super) next_page_token: Option<String>,
}

impl Page for ModelVersionsPage {
    type Item = RawModelVersion;
    fn split(self) -> (Vec<RawModelVersion>, Option<String>) {
        (self.model_versions, self.next_page_token)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRegisteredModel {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<KeyValue>,
    #[serde(default)]
    pub(super) aliases: Vec<RawAlias>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawAlias {
    pub(super) alias: String,
    pub(super) version: Number,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawModelVersion {
    pub(super) name: String,
    pub(super) version: Number,
    #[serde(default)]
    pub(super) creation_timestamp: Option<Number>,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) run_id: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<KeyValue>,
}

/// `MLflow`'s error body: `{"error_code": "...", "message": "..."}`.
#[derive(Deserialize)]
pub(super) struct ApiErrorBody {
    pub error_code: Option<String>,
    pub message: Option<String>,
}
