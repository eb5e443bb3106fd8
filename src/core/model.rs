//! Domain types shared by every adapter and view: clusters, nodes, GPUs, pods, deployments,
//! experiments, runs, datasets, registered models and versions, and what the ports carry
//! (cluster snapshots and watch changes, live drift, rollout series). Plain data, no behaviour
//! beyond small derived facts (e.g. whether a GPU is allocated but idle).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    drift::{DriftReport, DriftStatus},
    rollout::RolloutRecord,
};

pub use crate::{
    clusters::{Cluster, ClusterHealth},
    watches::{ClusterChange, ClusterResource, Driver, WatchHealth, WatchState},
};

/// Below this utilisation (percent) an allocated GPU counts as idle.
pub const IDLE_GPU_UTIL_PCT: f64 = 5.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub cluster: String,
    pub region: String,
    pub zone: String,
    pub gpu_capacity: u32,
    pub gpu_product: Option<String>,
    pub ready: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    Stable,
    Canary,
}

impl Track {
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    pub node: Option<String>,
    pub phase: PodPhase,
    pub model: Option<String>,
    pub version: Option<u32>,
    pub track: Track,
    pub gpus: u32,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    pub model: String,
    pub version: u32,
    pub track: Track,
    pub replicas: u32,
    pub ready_replicas: u32,
    pub image: String,
    /// Its `mlops.dev/slo` annotation, which overrides the model's SLO (`serving::slo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
}

/// One GPU as the metrics store (DCGM exporter) and the cluster (allocation) see it together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub cluster: String,
    pub node: String,
    pub index: u32,
    pub uuid: String,
    pub product: String,
    pub util_pct: f64,
    pub mem_used_mib: f64,
    pub mem_total_mib: f64,
    pub power_w: f64,
    pub temp_c: f64,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    /// The container of `pod` that holds the GPU, when the exporter says.
    #[serde(default)]
    pub container: Option<String>,
    pub model: Option<String>,
    pub version: Option<u32>,
    /// The last XID error the driver reported for this GPU (DCGM's `DCGM_FI_DEV_XID_ERRORS`),
    /// when it reported one: a GPU fault, whatever the utilisation says.
    #[serde(default)]
    pub xid: Option<u32>,
}

impl Gpu {
    pub fn is_allocated(&self) -> bool {
        self.pod.is_some()
    }

    /// Allocated to a pod but doing (almost) nothing: money spent for no work.
    pub fn is_allocated_idle(&self) -> bool {
        self.is_allocated() && self.util_pct < IDLE_GPU_UTIL_PCT
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuSummary {
    pub total: usize,
    pub allocated: usize,
    pub allocated_idle: usize,
    pub mean_util_pct: f64,
    pub power_w: f64,
}

impl GpuSummary {
    pub fn of(gpus: &[Gpu]) -> Self {
        let total = gpus.len();
        let allocated = gpus.iter().filter(|g| g.is_allocated()).count();
        let allocated_idle = gpus.iter().filter(|g| g.is_allocated_idle()).count();
        let mean_util_pct = if total == 0 {
            0.0
        } else {
            gpus.iter().map(|g| g.util_pct).sum::<f64>() / total as f64
        };
        Self {
            total,
            allocated,
            allocated_idle,
            mean_util_pct,
            power_w: gpus.iter().map(|g| g.power_w).sum(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Normal,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterEvent {
    pub time: DateTime<Utc>,
    pub cluster: String,
    pub namespace: String,
    pub object: String,
    pub reason: String,
    pub message: String,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    /// How many runs it has; `None` until counted (MLflow has no call that counts runs, so an
    /// adapter counts them when it loads them).
    pub run_count: Option<usize>,
    pub last_update: DateTime<Utc>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

/// A dataset as logged against a run: the digest identifies its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source: String,
    /// Where the data lives (data residency), e.g. `me-central-1`.
    pub region: String,
    /// The schema as logged with the dataset (JSON text, e.g. MLflow's `{"mlflow_colspec": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The profile as logged with the dataset (JSON text, e.g. `{"num_rows": 5000}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Dataset {
    /// The schema in a line: `3 columns: amount (double), age (long), …`, or the text as logged
    /// when it is not MLflow's column spec.
    pub fn schema_summary(&self) -> Option<String> {
        let text = self.schema.as_deref()?;
        let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let cols = parsed
            .as_ref()
            .and_then(|v| v.get("mlflow_colspec"))
            .and_then(serde_json::Value::as_array);
        Some(match cols {
            Some(cols) => {
                let named: Vec<String> = cols
                    .iter()
                    .map(|c| {
                        let field =
                            |k: &str| c.get(k).and_then(serde_json::Value::as_str).unwrap_or("?");
                        format!("{} ({})", field("name"), field("type"))
                    })
                    .collect();
                let n = named.len();
                let columns = if n == 1 { "column" } else { "columns" };
                format!("{n} {columns}: {}", named.join(", "))
            }
            None => text.to_string(),
        })
    }

    /// The profile in a line: `num_rows=5000, …` for an object, the text as logged otherwise.
    pub fn profile_summary(&self) -> Option<String> {
        let text = self.profile.as_deref()?;
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(m)) => Some(
                m.iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        // A drift profile's columns: their names, not their bins.
                        serde_json::Value::Array(items) if k == "columns" => format!(
                            "columns=[{}]",
                            items
                                .iter()
                                .filter_map(|c| c.get("column").and_then(|n| n.as_str()))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        other => format!("{k}={other}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => Some(text.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub experiment_id: String,
    pub name: String,
    pub status: RunStatus,
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric.
    pub metrics: BTreeMap<String, f64>,
    pub datasets: Vec<Dataset>,
    pub tags: BTreeMap<String, String>,
}

/// At most `max` of `points`, evenly spread, the first and the last always kept: a history
/// thinned for a chart that cannot show more.
pub fn thin(points: Vec<MetricPoint>, max: usize) -> Vec<MetricPoint> {
    let n = points.len();
    if n <= max || max < 2 {
        return if max == 0 { Vec::new() } else { points };
    }
    // Index i of the kept points: round(i * (n - 1) / (max - 1)), strictly increasing.
    (0..max)
        .map(|i| points[(i * (n - 1) + (max - 1) / 2) / (max - 1)])
        .collect()
}

/// What a runs search asks the registry: MLflow's own filter and order syntax, evaluated by the
/// server, one page of `page_size` runs at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RunQuery {
    pub experiment_ids: Vec<String>,
    /// `metrics.accuracy > 0.9 and params.optimizer = 'adam'`
    pub filter: Option<String>,
    /// `metrics.loss ASC`, `attributes.start_time DESC`
    pub order_by: Vec<String>,
    pub page_size: u32,
}

/// One page of a runs search, and the token of the next page if there is one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPage {
    pub runs: Vec<Run>,
    pub next_page_token: Option<String>,
}

/// A run's metric or param by name, as MLflow's filter and order name them: `metrics.loss`,
/// `params.optimizer`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunField {
    Metric(String),
    Param(String),
}

impl RunField {
    /// `metrics.loss`, `params.optimizer` (MLflow's singular `metric.`/`param.` and backquoted
    /// names too).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let (kind, key) = spec.split_once('.').ok_or_else(|| {
            format!("{spec:?} is not a metric or param: write metrics.NAME or params.NAME")
        })?;
        let key = key.trim().trim_matches('`').trim();
        if key.is_empty() {
            return Err(format!("{spec:?} names no {}", kind.trim()));
        }
        match kind.trim() {
            "metrics" | "metric" => Ok(Self::Metric(key.to_string())),
            "params" | "param" => Ok(Self::Param(key.to_string())),
            other => Err(format!(
                "{spec:?}: {other:?} is neither metrics nor params (write metrics.NAME or params.NAME)"
            )),
        }
    }

    /// `metrics.loss`: how it is written in config and in the console.
    pub fn spec(&self) -> String {
        match self {
            Self::Metric(k) => format!("metrics.{k}"),
            Self::Param(k) => format!("params.{k}"),
        }
    }

    /// The name alone: `loss`.
    pub fn key(&self) -> &str {
        match self {
            Self::Metric(k) | Self::Param(k) => k,
        }
    }

    /// MLflow's `order_by` key: ``metrics.`loss` ``, quoted so any name works.
    pub fn order_key(&self) -> String {
        match self {
            Self::Metric(k) => format!("metrics.`{k}`"),
            Self::Param(k) => format!("params.`{k}`"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub step: i64,
    pub timestamp: DateTime<Utc>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub model: String,
    pub version: u32,
    pub run_id: Option<String>,
    pub created: DateTime<Utc>,
    pub status: String,
    pub tags: BTreeMap<String, String>,
}

/// The version tag that records the container image a model version is served with.
pub const IMAGE_TAG: &str = "image";

impl ModelVersion {
    /// The container image this version is served from, from its registry tags.
    pub fn image(&self) -> Option<&str> {
        self.tags.get(IMAGE_TAG).map(String::as_str)
    }
}

/// A model a run logged (MLflow 3's logged models): what the run produced, before and apart
/// from any registered version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    pub id: String,
    pub name: String,
    pub experiment_id: String,
    pub source_run_id: Option<String>,
    pub model_type: Option<String>,
    /// `READY`, `PENDING`, `UPLOAD_FAILED` (MLflow's `LOGGED_MODEL_` prefix taken off).
    pub status: String,
    pub artifact_uri: String,
    pub created: DateTime<Utc>,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric logged against the model.
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    pub description: String,
    pub aliases: BTreeMap<String, u32>,
    pub tags: BTreeMap<String, String>,
    pub versions: Vec<ModelVersion>,
}

impl RegisteredModel {
    pub fn latest_version(&self) -> Option<u32> {
        self.versions.iter().map(|v| v.version).max()
    }

    pub fn version(&self, version: u32) -> Option<&ModelVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The version, or `NotFound` naming the model and the version.
    pub fn require_version(&self, version: u32) -> Result<&ModelVersion, crate::CoreError> {
        self.version(version)
            .ok_or_else(|| crate::CoreError::NotFound {
                kind: "model version",
                name: format!("{} v{version}", self.name),
            })
    }

    pub fn aliases_of(&self, version: u32) -> Vec<&str> {
        self.aliases
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(a, _)| a.as_str())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub rollouts: Vec<RolloutRecord>,
    pub events: Vec<ClusterEvent>,
    pub driver: Driver,
    /// The user's identity as the cluster sees it.
    pub identity: String,
    /// The command verbs the cluster refuses the user, per namespace with rollouts: namespace →
    /// RBAC verb (`Verb::rbac_verb`) → why, naming the user; the rest is allowed or not asked.
    pub denied: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub triggers: crate::triggers::TriggersRead,
    /// The health of each watch behind this snapshot (a port that watches), one entry per
    /// cluster and resource; empty for a port that lists (the demo).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watches: Vec<WatchHealth>,
}

/// Live drift of one feature of one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub model: String,
    pub version: u32,
    pub feature: String,
    pub report: DriftReport,
    /// Bin edges and counts of the reference and the current window, for the histogram view.
    pub edges: Vec<f64>,
    pub reference_counts: Vec<f64>,
    pub current_counts: Vec<f64>,
    /// PSI over recent windows, oldest first, for the trend sparkline.
    pub psi_history: Vec<f64>,
    /// The status of each recent window, oldest first (the last is the current window's): what
    /// an alert must hold for ([`FeatureDrift::alert`]).
    #[serde(default)]
    pub status_history: Vec<DriftStatus>,
    /// What the live window was compared with: `window` (an earlier window of the same
    /// servers), `profile <dataset>` (the version's training data profile in the registry) or
    /// `stable v<N>` (a canary track against the stable track over the same window; `version`
    /// is then the canary's).
    #[serde(default)]
    pub reference: String,
    /// How long each window of `status_history` is, in seconds (0: not known): the last
    /// window ends when the rows were read, each one before it this much earlier.
    #[serde(default)]
    pub window_seconds: u64,
}

impl FeatureDrift {
    /// A canary track compared with its stable track (`reference` is `stable vN`), rather than
    /// a version with its training data or an earlier window.
    pub fn is_canary_vs_stable(&self) -> bool {
        self.reference == "stable" || self.reference.starts_with("stable ")
    }

    /// What an alert on this feature says, over its recent windows: an alert of a level
    /// (`drifted`, `warning`) fires once the windows have been at that level or worse
    /// `windows` times in a row, and resolves only once they have been below it `windows`
    /// times in a row — a Prometheus alert's `for:` and `keep_firing_for:`. One window
    /// drifting on its own (a test's 5 % false positives, a burst) does not raise it, and one
    /// window back under the threshold does not clear it, so a feature near its threshold does
    /// not flap. A row without a history (an older source) is its current status.
    pub fn alert(&self, windows: usize) -> DriftStatus {
        self.alert_levels(windows)
            .last()
            .copied()
            .unwrap_or(self.report.status)
    }

    /// The alert's level after each window of `status_history` (oldest first), as
    /// [`FeatureDrift::alert`] decides it: where it fired and where it resolved.
    pub fn alert_levels(&self, windows: usize) -> Vec<DriftStatus> {
        let n = windows.max(1);
        // Per level (drifted, warning): whether it fires, and how long the windows have been
        // on the other side of it than the alert.
        let mut state = [(false, 0usize); 2];
        let levels = [DriftStatus::Drifted, DriftStatus::Warning];
        self.status_history
            .iter()
            .map(|s| {
                for ((on, run), level) in state.iter_mut().zip(levels) {
                    if (*s >= level) == *on {
                        *run = 0;
                    } else {
                        *run += 1;
                        if *run >= n {
                            *on = !*on;
                            *run = 0;
                        }
                    }
                }
                if state[0].0 {
                    DriftStatus::Drifted
                } else if state[1].0 {
                    DriftStatus::Warning
                } else {
                    DriftStatus::Ok
                }
            })
            .collect()
    }

    /// What the row was compared with, in a word or two for a table: `window`, `profile` or
    /// `stable v3`.
    pub fn against(&self) -> &str {
        if self.reference.starts_with("profile") {
            "profile"
        } else if self.reference.is_empty() {
            "window"
        } else {
            &self.reference
        }
    }
}

/// An alert of the metrics store (Prometheus's alerting rules) over the stretch of time it
/// fired: from the `ALERTS` series and the alerts the store holds now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule's name (`alertname`), e.g. `MlopsSLOErrorBudgetBurn`.
    pub name: String,
    /// Its labels but `alertname` and `alertstate`: `severity`, `model`, `version`, `track`, …
    pub labels: BTreeMap<String, String>,
    /// When it started firing, as near as the store says.
    pub started: DateTime<Utc>,
    /// When it stopped firing; `None` while it fires.
    pub ended: Option<DateTime<Utc>>,
    /// Its `summary` (else `description`) annotation, when the store holds it now.
    #[serde(default)]
    pub summary: String,
}

impl Alert {
    /// A label's value, when the alert has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Canary-versus-stable series for a rollout's detail view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutSeries {
    pub times: Vec<DateTime<Utc>>,
    pub canary_error_rate: Vec<f64>,
    pub stable_error_rate: Vec<f64>,
    pub canary_p99_ms: Vec<f64>,
    pub stable_p99_ms: Vec<f64>,
}

#[cfg(test)]
mod thin_tests {
    use super::*;

    fn points(n: i64) -> Vec<MetricPoint> {
        (0..n)
            .map(|step| MetricPoint {
                step,
                timestamp: chrono::DateTime::UNIX_EPOCH,
                value: step as f64,
            })
            .collect()
    }

    #[test]
    fn thinning_keeps_the_ends_and_spreads_the_rest() {
        let t = thin(points(2500), 500);
        assert_eq!(t.len(), 500);
        assert_eq!(t[0].step, 0);
        assert_eq!(t[499].step, 2499);
        assert!(t.windows(2).all(|w| w[0].step < w[1].step));
        assert_eq!(thin(points(10), 500).len(), 10);
        assert!(thin(points(10), 0).is_empty());
    }

    fn with_history(history: &str) -> FeatureDrift {
        let status = |c| match c {
            'd' => DriftStatus::Drifted,
            'w' => DriftStatus::Warning,
            _ => DriftStatus::Ok,
        };
        let status_history: Vec<DriftStatus> = history.chars().map(status).collect();
        FeatureDrift {
            model: "m".into(),
            version: 1,
            feature: "f".into(),
            report: crate::drift::DriftReport {
                ks: crate::drift::Ks {
                    statistic: 0.0,
                    p_value: 1.0,
                },
                psi: 0.0,
                js_distance: 0.0,
                wasserstein_normed: 0.0,
                reference_len: 1,
                current_len: 1,
                status: status_history
                    .last()
                    .copied()
                    .unwrap_or(DriftStatus::Drifted),
            },
            edges: Vec::new(),
            reference_counts: Vec::new(),
            current_counts: Vec::new(),
            psi_history: Vec::new(),
            status_history,
            reference: "stable v3".into(),
            window_seconds: 0,
        }
    }

    #[test]
    fn an_alert_fires_after_windows_in_a_row_and_resolves_after_as_many_below() {
        let alert = |h: &str| with_history(h).alert(3);
        assert_eq!(alert("oood"), DriftStatus::Ok, "one window: pending");
        assert_eq!(alert("odod"), DriftStatus::Ok, "never three in a row");
        assert_eq!(alert("oddd"), DriftStatus::Drifted);
        assert_eq!(
            alert("ddwd"),
            DriftStatus::Warning,
            "drifted broken by a warning"
        );
        assert_eq!(
            alert("dddodo"),
            DriftStatus::Drifted,
            "one window below keeps it"
        );
        assert_eq!(alert("dddooo"), DriftStatus::Ok, "three below resolve it");
        assert_eq!(
            alert("dddoow"),
            DriftStatus::Warning,
            "drifted resolved; warnings held"
        );
        assert_eq!(with_history("od").alert(1), DriftStatus::Drifted);
        assert_eq!(
            with_history("").alert(3),
            DriftStatus::Drifted,
            "no history"
        );
        assert!(with_history("").is_canary_vs_stable());
        assert_eq!(with_history("").against(), "stable v3");
    }
}

#[cfg(test)]
mod dataset_tests {
    use super::*;

    fn dataset(schema: Option<&str>, profile: Option<&str>) -> Dataset {
        Dataset {
            name: "d".into(),
            digest: "1".into(),
            source: "s3://b/d".into(),
            region: String::new(),
            schema: schema.map(str::to_string),
            profile: profile.map(str::to_string),
        }
    }

    #[test]
    fn schema_and_profile_read_in_a_line_or_as_logged() {
        let d = dataset(
            Some(
                r#"{"mlflow_colspec": [{"type": "double", "name": "amount"}, {"type": "long", "name": "label"}]}"#,
            ),
            Some(r#"{"num_rows": 5000, "source": "x"}"#),
        );
        assert_eq!(
            d.schema_summary().as_deref(),
            Some("2 columns: amount (double), label (long)")
        );
        assert_eq!(
            d.profile_summary().as_deref(),
            Some("num_rows=5000, source=x")
        );
        let drift = dataset(
            None,
            Some(
                r#"{"num_rows": 9, "format": "mlops-drift-profile/1", "columns": [{"column": "amount", "edges": [0, 1], "counts": [9]}, {"column": "age"}]}"#,
            ),
        );
        assert_eq!(
            drift.profile_summary().as_deref(),
            Some("columns=[amount age], format=mlops-drift-profile/1, num_rows=9")
        );
        let odd = dataset(Some("not json"), Some("[1, 2]"));
        assert_eq!(odd.schema_summary().as_deref(), Some("not json"));
        assert_eq!(odd.profile_summary().as_deref(), Some("[1, 2]"));
        assert_eq!(dataset(None, None).schema_summary(), None);
    }
}

#[cfg(test)]
mod run_field_tests {
    use super::*;

    #[test]
    fn fields_parse_both_spellings_and_bad_ones_say_why() {
        assert_eq!(
            RunField::parse("metrics.loss"),
            Ok(RunField::Metric("loss".into()))
        );
        assert_eq!(
            RunField::parse(" param.`max depth` "),
            Ok(RunField::Param("max depth".into()))
        );
        assert_eq!(
            RunField::Param("max depth".into()).order_key(),
            "params.`max depth`"
        );
        let e = RunField::parse("tags.x").expect_err("tags");
        assert!(e.contains("neither metrics nor params"), "{e}");
        let e = RunField::parse("loss").expect_err("no kind");
        assert!(e.contains("metrics.NAME"), "{e}");
        assert!(RunField::parse("metrics.").is_err());
    }
}

impl ClusterSnapshot {
    /// The clusters whose rows are not live, with their state.
    pub fn stale_clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.iter().filter(|c| !c.health.is_ok())
    }

    /// Whether the rows of `cluster` are stale (its cluster is down, forbidden or connecting).
    pub fn is_stale(&self, cluster: &str) -> bool {
        self.clusters
            .iter()
            .any(|c| c.name == cluster && !c.health.is_ok())
    }
}
