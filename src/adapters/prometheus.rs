//! The Prometheus adapter: a small typed client for `/api/v1/query` and `/api/v1/query_range`,
//! and the [`MetricsPort`] on top of it — GPUs from the DCGM exporter's gauges, feature drift from
//! the model servers' `model_feature_value_bucket` histograms, and canary-versus-stable series
//! from `model_requests_total` / `model_request_duration_seconds_bucket`.
//!
//! Owns the HTTP conversation with one Prometheus and the mapping of its answers; it must not
//! talk to the cluster (a GPU's model and version come from the metrics alone). TLS is verified,
//! every request has a timeout, the optional bearer token (`MLOPS_PROMETHEUS_TOKEN`) is never
//! shown.
//!
//! # Drift from binned data
//!
//! The reference is each bucket's increase over [`DriftWindows`]' reference window (default
//! `[now-6h, now-1h]`), the current distribution its increase over the last `current` (15 min),
//! per model, version and feature (summed over namespaces and tracks). The bins are the
//! histogram's buckets; the outer two, open-ended, get edges one neighbouring bucket wide.
//!
//! * PSI: [`mlops_core::drift::psi_from_counts`] — exact on these bins.
//! * Jensen–Shannon distance: on the same shares with the core's empty-bin floor — exact on these
//!   bins.
//! * KS statistic: the largest gap between the two cumulative distributions at the bucket
//!   bounds, a lower bound of the statistic of the raw samples; p-value from the Kolmogorov
//!   distribution with the window counts as sample sizes.
//! * Wasserstein (normed): each bin's mass at its midpoint, divided by the reference's binned
//!   standard deviation — an approximation.
//! * Status: the rule of [`mlops_core::drift::report`] (KS p < 0.05 up to 1000 reference
//!   observations, else Wasserstein ≥ 0.1; warning from PSI ≥ 0.05).
//!
//! A feature whose reference or current window saw no observations is left out: there is
//! nothing to compare.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use mlops_core::{
    CoreError, drift,
    model::Gpu,
    ports::{FeatureDrift, MetricsPort, RolloutSeries},
};
use reqwest::Url;
use serde::Deserialize;

use super::mlflow::{
    Auth, http_client, parse_base_url, parse_float, shown_url, snippet, status_text,
    transport_error,
};

/// Per-request timeout unless [`PrometheusMetrics::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The span and resolution of [`MetricsPort::rollout_series`].
pub const ROLLOUT_WINDOW: Duration = Duration::from_secs(30 * 60);
pub const ROLLOUT_STEP: Duration = Duration::from_secs(10);
/// The rate window of the rollout series (as the rollout analysis queries use).
const RATE_WINDOW: &str = "1m";
/// Longest piece of a query quoted in an error.
const QUERY_SNIPPET: usize = 200;

const DCGM_UTIL: &str = "DCGM_FI_DEV_GPU_UTIL";
const DCGM_FB_USED: &str = "DCGM_FI_DEV_FB_USED";
const DCGM_FB_FREE: &str = "DCGM_FI_DEV_FB_FREE";
const DCGM_POWER: &str = "DCGM_FI_DEV_POWER_USAGE";
const DCGM_TEMP: &str = "DCGM_FI_DEV_GPU_TEMP";
/// The five DCGM gauges in one request.
const DCGM_QUERY: &str = "{__name__=~\"DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_FB_FREE|DCGM_FI_DEV_POWER_USAGE|DCGM_FI_DEV_GPU_TEMP\"}";
/// Which model versions serve where: to name the model behind a GPU's pod.
const SERVING_QUERY: &str = "group by (namespace, model, version, track) (model_requests_total)";

/// The windows drift is computed over, as offsets back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftWindows {
    /// The reference window is `[now - reference_start_ago, now - reference_end_ago]`.
    pub reference_start_ago: Duration,
    pub reference_end_ago: Duration,
    /// The current window: the last `current`.
    pub current: Duration,
    /// `psi_history` covers the last `history`, one point every `history_step`.
    pub history: Duration,
    pub history_step: Duration,
}

impl Default for DriftWindows {
    fn default() -> Self {
        Self {
            reference_start_ago: Duration::from_secs(6 * 3600),
            reference_end_ago: Duration::from_secs(3600),
            current: Duration::from_secs(15 * 60),
            history: Duration::from_secs(2 * 3600),
            history_step: Duration::from_secs(5 * 60),
        }
    }
}

/// One sample: Prometheus's "NaN", "+Inf" and "-Inf" become the matching `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub time: DateTime<Utc>,
    pub value: f64,
}

/// One series of a query's answer: its labels (with `__name__` when Prometheus keeps it) and
/// its samples, oldest first. An instant vector gives one sample per series; a scalar gives one
/// series without labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Series {
    /// A label's value, "" when absent (as `PromQL` treats it).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    pub fn last(&self) -> Option<Sample> {
        self.samples.last().copied()
    }
}

/// One Prometheus behind [`MetricsPort`].
#[derive(Clone)]
pub struct PrometheusMetrics {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    timeout: Duration,
    cluster: String,
    windows: DriftWindows,
    backend: String,
}

impl fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("base", &shown_url(&self.base))
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("cluster", &self.cluster)
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl PrometheusMetrics {
    /// A client for the Prometheus at `url` (http or https, with any path prefix).
    pub fn new(url: &str, auth: Auth) -> Result<Self, CoreError> {
        let mut auth = auth;
        let base = parse_base_url("the Prometheus URL", url, &mut auth)
            .map_err(|m| CoreError::backend("prometheus", m))?;
        let http = http_client("prometheus")?;
        let backend = format!("prometheus {}", shown_url(&base));
        Ok(Self {
            http,
            base,
            auth,
            timeout: DEFAULT_TIMEOUT,
            cluster: String::new(),
            windows: DriftWindows::default(),
            backend,
        })
    }

    /// `MLOPS_PROMETHEUS_URL`, with `MLOPS_PROMETHEUS_TOKEN` as a bearer token when set.
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let url = get("MLOPS_PROMETHEUS_URL").ok_or_else(|| {
            CoreError::backend(
                "prometheus",
                "MLOPS_PROMETHEUS_URL is not set (e.g. http://127.0.0.1:9090)",
            )
        })?;
        let auth = get("MLOPS_PROMETHEUS_TOKEN").map_or(Auth::None, Auth::Bearer);
        Self::new(&url, auth)
    }

    /// The per-request timeout (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The cluster name GPUs get when their series carry no `cluster` label (default "").
    #[must_use]
    pub fn with_cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = cluster.into();
        self
    }

    #[must_use]
    pub fn with_drift_windows(mut self, windows: DriftWindows) -> Self {
        self.windows = windows;
        self
    }

    pub fn base_url(&self) -> String {
        shown_url(&self.base)
    }

    /// An instant query at `at` (default: the server's now).
    pub async fn query(
        &self,
        promql: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Series>, CoreError> {
        let mut params = vec![("query", promql.to_string())];
        if let Some(at) = at {
            params.push(("time", unix_seconds(at)));
        }
        self.call("query", promql, &params).await
    }

    /// A range query over `[start, end]`, one point every `step`.
    pub async fn query_range(
        &self,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<Series>, CoreError> {
        if step.is_zero() {
            return Err(self.error("query_range", promql, "the step must be positive"));
        }
        let params = vec![
            ("query", promql.to_string()),
            ("start", unix_seconds(start)),
            ("end", unix_seconds(end)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        self.call("query_range", promql, &params).await
    }

    fn error(&self, endpoint: &str, promql: &str, what: &str) -> CoreError {
        CoreError::backend(
            &self.backend,
            format!("GET /api/v1/{endpoint} {}: {what}", quote_query(promql)),
        )
    }

    async fn call(
        &self,
        endpoint: &str,
        promql: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>, CoreError> {
        let fail = |what: String| self.error(endpoint, promql, &what);
        let url = self
            .base
            .join(&format!("api/v1/{endpoint}"))
            .map_err(|e| fail(format!("building the URL: {e}")))?;
        let request = self
            .http
            .get(url)
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .query(params);
        let response = self
            .auth
            .apply(request)
            .send()
            .await
            .map_err(|e| fail(transport_error(e, self.timeout)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(transport_error(e, self.timeout)))?;
        parse_response(status, &bytes).map_err(fail)
    }

    /// [`MetricsPort::drift`] as of `now`.
    pub async fn drift_at(&self, now: DateTime<Utc>) -> Result<Vec<FeatureDrift>, CoreError> {
        let w = self.windows;
        let reference_len = w.reference_start_ago.saturating_sub(w.reference_end_ago);
        if reference_len.is_zero() || w.current.is_zero() || w.history_step.is_zero() {
            return Err(CoreError::backend(
                &self.backend,
                format!("drift windows must not be empty: {w:?}"),
            ));
        }
        let increase = |window: Duration| {
            format!(
                "sum by (model, version, feature, le) (increase(model_feature_value_bucket[{}s]))",
                window.as_secs().max(1)
            )
        };
        let steps = (w.history.as_secs() / w.history_step.as_secs().max(1)).max(1);
        let start = now - delta(w.history_step) * i32::try_from(steps).unwrap_or(i32::MAX);
        let (reference_query, current_query) = (increase(reference_len), increase(w.current));
        let (reference, current) = futures::try_join!(
            self.query(&reference_query, Some(now - delta(w.reference_end_ago))),
            self.query_range(&current_query, start, now, w.history_step),
        )?;
        Ok(map_drift(&reference, &current))
    }
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn unix_seconds(t: DateTime<Utc>) -> String {
    let ms = t.timestamp_millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn quote_query(promql: &str) -> String {
    let one_line: String = promql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > QUERY_SNIPPET {
        format!(
            "`{}…`",
            one_line.chars().take(QUERY_SNIPPET).collect::<String>()
        )
    } else {
        format!("`{one_line}`")
    }
}

/// A label value inside double quotes in `PromQL`.
fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ------------------------------------------------------------------------------------------
// The answer as Prometheus sends it.

#[derive(Debug, Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Vector(Vec<RawInstant>),
    Matrix(Vec<RawRange>),
    Scalar(RawPoint),
    String(RawPoint),
}

#[derive(Debug, Deserialize)]
struct RawInstant {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: RawPoint,
}

#[derive(Debug, Deserialize)]
struct RawRange {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<RawPoint>,
}

/// `[1435781451.781, "1"]`
#[derive(Debug, Deserialize)]
struct RawPoint(f64, String);

impl RawPoint {
    fn sample(&self) -> Result<Sample, String> {
        let ms = (self.0 * 1000.0).round();
        let time = (ms.is_finite())
            .then(|| DateTime::from_timestamp_millis(ms as i64))
            .flatten()
            .ok_or_else(|| format!("sample time {} is not a valid Unix time", self.0))?;
        let value = parse_float(&self.1)
            .ok_or_else(|| format!("sample value {:?} is not a number", self.1))?;
        Ok(Sample { time, value })
    }
}

/// Prometheus's answer as series, or what went wrong in words: HTTP status, `errorType` and
/// `error` when Prometheus says, else the start of the body.
fn parse_response(status: reqwest::StatusCode, body: &[u8]) -> Result<Vec<Series>, String> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) if status.is_success() => {
            return Err(format!(
                "malformed response: {e} ({}; body starts: {})",
                status_text(status),
                snippet(body)
            ));
        }
        Err(_) => {
            let hint = match status.as_u16() {
                401 | 403 => " (check MLOPS_PROMETHEUS_TOKEN)",
                _ => "",
            };
            return Err(format!("{}: {}{hint}", status_text(status), snippet(body)));
        }
    };
    if envelope.status != "success" || !status.is_success() {
        return Err(format!(
            "{}: {}: {}",
            status_text(status),
            envelope.error_type.as_deref().unwrap_or("error"),
            envelope.error.as_deref().unwrap_or("(no message)")
        ));
    }
    let malformed = |m: String| format!("malformed response: {m}");
    match envelope.data {
        None => Err(malformed("status success without data".into())),
        Some(QueryData::Vector(v)) => v
            .into_iter()
            .map(|s| {
                Ok(Series {
                    samples: vec![s.value.sample().map_err(malformed)?],
                    labels: s.metric,
                })
            })
            .collect(),
        Some(QueryData::Matrix(m)) => m
            .into_iter()
            .map(|s| {
                Ok(Series {
                    samples: s
                        .values
                        .iter()
                        .map(RawPoint::sample)
                        .collect::<Result<_, _>>()
                        .map_err(malformed)?,
                    labels: s.metric,
                })
            })
            .collect(),
        Some(QueryData::Scalar(p)) => Ok(vec![Series {
            labels: BTreeMap::new(),
            samples: vec![p.sample().map_err(malformed)?],
        }]),
        Some(QueryData::String(p)) => {
            Err(format!("the query gives a string ({:?}), not numbers", p.1))
        }
    }
}

// ------------------------------------------------------------------------------------------
// GPUs.

/// The pod label of the workload: `exported_pod` when Prometheus's service discovery put its
/// own (the exporter's) `pod` label on the series, else `pod`.
fn workload_label<'a>(s: &'a Series, name: &str) -> &'a str {
    match s.labels.get(&format!("exported_{name}")) {
        Some(v) => v,
        None => s.label(name),
    }
}

/// The model version a pod serves, from its name: the longest model of the serving series (in
/// its namespace) that prefixes the name, the track from a `-canary-` in it, and the version
/// when that model serves exactly one version on that track.
fn model_of_pod(pod: &str, namespace: &str, serving: &[Series]) -> (Option<String>, Option<u32>) {
    let in_ns = |s: &&Series| namespace.is_empty() || s.label("namespace") == namespace;
    let Some(model) = serving
        .iter()
        .filter(in_ns)
        .map(|s| s.label("model"))
        .filter(|m| !m.is_empty() && pod.starts_with(&format!("{m}-")))
        .max_by_key(|m| m.len())
    else {
        return (None, None);
    };
    let track = if pod[model.len()..].contains("-canary-") {
        "canary"
    } else {
        "stable"
    };
    let mut versions: Vec<&str> = serving
        .iter()
        .filter(in_ns)
        .filter(|s| s.label("model") == model && s.label("track") == track)
        .map(|s| s.label("version"))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let version = match versions.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    };
    (Some(model.to_string()), version)
}

/// Join the DCGM gauges per GPU (by `UUID`, else `Hostname`+`gpu`). A gauge the exporter does
/// not export reads NaN.
fn map_gpus(dcgm: &[Series], serving: &[Series], default_cluster: &str) -> Vec<Gpu> {
    struct Acc<'a> {
        labels: &'a Series,
        values: HashMap<&'a str, Sample>,
    }
    let mut by_gpu: BTreeMap<String, Acc> = BTreeMap::new();
    for s in dcgm {
        let Some(sample) = s.last() else { continue };
        let name = s.label("__name__");
        let node = [s.label("Hostname"), s.label("node"), s.label("instance")]
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let key = match s.label("UUID") {
            "" => format!("{node}/{}", s.label("gpu")),
            uuid => uuid.to_string(),
        };
        let acc = by_gpu.entry(key).or_insert_with(|| Acc {
            labels: s,
            values: HashMap::new(),
        });
        // The utilisation series' labels win; within one gauge, the newest sample.
        if name == DCGM_UTIL {
            acc.labels = s;
        }
        match acc.values.get(name) {
            Some(old) if old.time > sample.time => {}
            _ => {
                acc.values.insert(name, sample);
            }
        }
    }
    let mut gpus: Vec<Gpu> = by_gpu
        .into_values()
        .map(|acc| {
            let s = acc.labels;
            let value = |name: &str| acc.values.get(name).map_or(f64::NAN, |v| v.value);
            let pod = Some(workload_label(s, "pod").to_string()).filter(|p| !p.is_empty());
            let namespace =
                Some(workload_label(s, "namespace").to_string()).filter(|n| !n.is_empty());
            let (mut model, mut version) = (
                Some(s.label("model").to_string()).filter(|m| !m.is_empty()),
                s.label("version").parse().ok(),
            );
            if model.is_none()
                && let Some(p) = &pod
            {
                (model, version) = model_of_pod(p, namespace.as_deref().unwrap_or(""), serving);
            }
            Gpu {
                cluster: match s.label("cluster") {
                    "" => default_cluster.to_string(),
                    c => c.to_string(),
                },
                node: [s.label("Hostname"), s.label("node"), s.label("instance")]
                    .into_iter()
                    .find(|v| !v.is_empty())
                    .unwrap_or_default()
                    .to_string(),
                index: s.label("gpu").parse().unwrap_or(0),
                uuid: s.label("UUID").to_string(),
                product: s.label("modelName").to_string(),
                util_pct: value(DCGM_UTIL),
                mem_used_mib: value(DCGM_FB_USED),
                mem_total_mib: value(DCGM_FB_USED) + value(DCGM_FB_FREE),
                power_w: value(DCGM_POWER),
                temp_c: value(DCGM_TEMP),
                pod,
                namespace,
                model,
                version,
            }
        })
        .collect();
    gpus.sort_by(|a, b| {
        (&a.cluster, &a.node, a.index, &a.uuid).cmp(&(&b.cluster, &b.node, b.index, &b.uuid))
    });
    gpus
}

// ------------------------------------------------------------------------------------------
// Drift.

type FeatureKey = (String, u32, String);

/// Cumulative bucket counts by upper bound, ascending (`+Inf` last).
type Cumulative = Vec<(f64, f64)>;

fn feature_key(s: &Series) -> Option<(FeatureKey, f64)> {
    let version = s.label("version").parse().ok()?;
    let le = parse_float(s.label("le"))?;
    if le.is_nan() {
        return None;
    }
    Some((
        (
            s.label("model").to_string(),
            version,
            s.label("feature").to_string(),
        ),
        le,
    ))
}

fn sort_cumulative(c: &mut Cumulative) {
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
}

/// Per-bin counts from cumulative buckets; `increase()` extrapolates, so a bucket may come out
/// a hair below the one before it: such differences count as zero.
fn bins_of(c: &Cumulative) -> Vec<f64> {
    let mut prev = 0.0;
    c.iter()
        .map(|&(_, v)| {
            let n = (v - prev).max(0.0);
            prev = prev.max(v);
            n
        })
        .collect()
}

/// Bin edges from the finite upper bounds: the open outer bins get one neighbouring width.
fn edges_of(bounds: &[f64]) -> Vec<f64> {
    let k = bounds.len();
    let (lo_w, hi_w) = if k >= 2 {
        (bounds[1] - bounds[0], bounds[k - 1] - bounds[k - 2])
    } else {
        (1.0, 1.0)
    };
    let mut edges = Vec::with_capacity(k + 2);
    if let (Some(first), Some(last)) = (bounds.first(), bounds.last()) {
        edges.push(first - lo_w);
        edges.extend_from_slice(bounds);
        edges.push(last + hi_w);
    }
    edges
}

fn map_drift(reference: &[Series], current: &[Series]) -> Vec<FeatureDrift> {
    let mut refs: BTreeMap<FeatureKey, Cumulative> = BTreeMap::new();
    for s in reference {
        if let (Some((key, le)), Some(sample)) = (feature_key(s), s.last()) {
            refs.entry(key).or_default().push((le, sample.value));
        }
    }
    // Per feature, per evaluation time: the cumulative buckets.
    let mut curs: BTreeMap<FeatureKey, BTreeMap<DateTime<Utc>, Cumulative>> = BTreeMap::new();
    for s in current {
        if let Some((key, le)) = feature_key(s) {
            let times = curs.entry(key).or_default();
            for sample in &s.samples {
                times
                    .entry(sample.time)
                    .or_default()
                    .push((le, sample.value));
            }
        }
    }
    let mut out = Vec::new();
    for (key, times) in curs {
        let Some(mut reference) = refs.remove(&key) else {
            tracing::debug!(?key, "no reference window for this feature; drift left out");
            continue;
        };
        sort_cumulative(&mut reference);
        let bounds: Vec<f64> = reference.iter().map(|b| b.0).collect();
        if bounds.len() < 2 || bounds.last().is_some_and(|b| b.is_finite()) {
            tracing::debug!(?key, ?bounds, "buckets without +Inf or a bound; left out");
            continue;
        }
        let reference_counts = bins_of(&reference);
        if reference_counts.iter().sum::<f64>() <= 0.0 {
            continue;
        }
        let mut psi_history = Vec::new();
        let mut latest = None;
        for (_, mut c) in times {
            sort_cumulative(&mut c);
            if c.iter().map(|b| b.0).ne(bounds.iter().copied()) {
                tracing::warn!(
                    ?key,
                    "bucket bounds differ between the windows; point skipped"
                );
                continue;
            }
            let counts = bins_of(&c);
            if counts.iter().sum::<f64>() <= 0.0 {
                continue;
            }
            if let Ok(psi) = drift::psi_from_counts(&reference_counts, &counts) {
                psi_history.push(psi);
            }
            latest = Some(counts);
        }
        let Some(current_counts) = latest else {
            continue;
        };
        let edges = edges_of(&bounds[..bounds.len() - 1]);
        let Ok(report) = drift::report_from_bins(&edges, &reference_counts, &current_counts) else {
            continue;
        };
        let (model, version, feature) = key;
        out.push(FeatureDrift {
            model,
            version,
            feature,
            report,
            edges,
            reference_counts,
            current_counts,
            psi_history,
        });
    }
    out
}

// ------------------------------------------------------------------------------------------
// Rollout series.

/// `<model>-v<version>` → (model, version).
fn parse_rollout_name(name: &str) -> Option<(&str, u32)> {
    let (model, version) = name.rsplit_once("-v")?;
    (!model.is_empty())
        .then_some(())
        .and_then(|()| version.parse().ok())
        .map(|v| (model, v))
}

/// The four queries of a rollout: canary = the new version on any track, stable = the model's
/// stable track serving another version.
fn rollout_queries(model: &str, version: u32) -> [String; 4] {
    let m = promql_string(model);
    let v = promql_string(&version.to_string());
    let canary = format!("model={m},version={v}");
    let stable = format!("model={m},track=\"stable\",version!={v}");
    let error_rate = |sel: &str| {
        format!(
            "sum(rate(model_requests_total{{{sel},code=~\"5..\"}}[{RATE_WINDOW}])) / sum(rate(model_requests_total{{{sel}}}[{RATE_WINDOW}]))"
        )
    };
    let p99 = |sel: &str| {
        format!(
            "histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{{sel}}}[{RATE_WINDOW}]))) * 1000"
        )
    };
    [
        error_rate(&canary),
        error_rate(&stable),
        p99(&canary),
        p99(&stable),
    ]
}

/// One value per grid time; NaN where the series has none (e.g. no canary yet).
fn on_grid(series: &[Series], times: &[DateTime<Utc>]) -> Vec<f64> {
    let by_time: HashMap<i64, f64> = series
        .first()
        .map(|s| {
            s.samples
                .iter()
                .map(|p| (p.time.timestamp_millis(), p.value))
                .collect()
        })
        .unwrap_or_default();
    times
        .iter()
        .map(|t| {
            by_time
                .get(&t.timestamp_millis())
                .copied()
                .unwrap_or(f64::NAN)
        })
        .collect()
}

#[async_trait]
impl MetricsPort for PrometheusMetrics {
    fn describe(&self) -> String {
        format!(
            "prometheus {} ({})",
            shown_url(&self.base),
            self.auth.kind()
        )
    }

    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError> {
        let (dcgm, serving) = futures::try_join!(
            self.query(DCGM_QUERY, None),
            self.query(SERVING_QUERY, None)
        )?;
        Ok(map_gpus(&dcgm, &serving, &self.cluster))
    }

    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError> {
        self.drift_at(Utc::now()).await
    }

    /// Series for a rollout named `<model>-v<version>` (the demo's and the controller's naming):
    /// the last [`ROLLOUT_WINDOW`] every [`ROLLOUT_STEP`]. `cluster` only appears in errors: one
    /// Prometheus serves one cluster set here.
    async fn rollout_series(
        &self,
        cluster: &str,
        rollout: &str,
    ) -> Result<RolloutSeries, CoreError> {
        let Some((model, version)) = parse_rollout_name(rollout) else {
            return Err(CoreError::NotFound {
                kind: "rollout",
                name: format!(
                    "{cluster}/{rollout} (series need a rollout named <model>-v<version>)"
                ),
            });
        };
        let step_ms = i64::try_from(ROLLOUT_STEP.as_millis()).unwrap_or(10_000);
        // Align the grid so successive refreshes sample the same instants.
        let end_ms = Utc::now().timestamp_millis().div_euclid(step_ms) * step_ms;
        let end = DateTime::from_timestamp_millis(end_ms).unwrap_or_else(Utc::now);
        let start = end - delta(ROLLOUT_WINDOW);
        let [ce, se, cp, sp] = rollout_queries(model, version);
        let (ce, se, cp, sp) = futures::try_join!(
            self.query_range(&ce, start, end, ROLLOUT_STEP),
            self.query_range(&se, start, end, ROLLOUT_STEP),
            self.query_range(&cp, start, end, ROLLOUT_STEP),
            self.query_range(&sp, start, end, ROLLOUT_STEP),
        )?;
        if ce.is_empty() && se.is_empty() && cp.is_empty() && sp.is_empty() {
            return Err(CoreError::NotFound {
                kind: "rollout",
                name: format!(
                    "{cluster}/{rollout} (no model_requests_total series for model {model:?} in the last {} min)",
                    ROLLOUT_WINDOW.as_secs() / 60
                ),
            });
        }
        let n = ROLLOUT_WINDOW.as_millis() / ROLLOUT_STEP.as_millis();
        let times: Vec<DateTime<Utc>> = (0..=n)
            .map(|k| start + delta(ROLLOUT_STEP) * i32::try_from(k).unwrap_or(0))
            .collect();
        Ok(RolloutSeries {
            canary_error_rate: on_grid(&ce, &times),
            stable_error_rate: on_grid(&se, &times),
            canary_p99_ms: on_grid(&cp, &times),
            stable_p99_ms: on_grid(&sp, &times),
            times,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Vec<Series> {
        parse_response(reqwest::StatusCode::OK, body.as_bytes()).expect("parse")
    }

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            samples: samples
                .iter()
                .map(|&(t, value)| Sample {
                    time: DateTime::from_timestamp(t, 0).expect("time"),
                    value,
                })
                .collect(),
        }
    }

    #[test]
    fn vectors_matrices_and_scalars_parse_with_special_values() {
        let v = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"model":"fraud-detector"},"value":[1795874306.481,"137.1"]},
                {"metric":{},"value":[1795874306.481,"NaN"]}]}}"#,
        );
        assert_eq!(v[0].label("model"), "fraud-detector");
        assert_eq!(v[0].samples[0].time.timestamp_millis(), 1_795_874_306_481);
        assert!((v[0].samples[0].value - 137.1).abs() < 1e-12);
        assert!(v[1].samples[0].value.is_nan());
        let m = ok(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"le":"+Inf"},"values":[[1,"1"],[2,"+Inf"],[3,"-Inf"]]}]}}"#,
        );
        let values: Vec<f64> = m[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, f64::INFINITY, f64::NEG_INFINITY]);
        let s = ok(r#"{"status":"success","data":{"resultType":"scalar","result":[5,"+Inf"]}}"#);
        assert!(s[0].labels.is_empty() && s[0].samples[0].value.is_infinite());
    }

    #[test]
    fn errors_say_status_type_and_message() {
        let err = parse_response(
            reqwest::StatusCode::BAD_REQUEST,
            br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}"#,
        )
        .expect_err("error");
        assert_eq!(
            err,
            "HTTP 400 Bad Request: bad_data: 1:5: parse error: unclosed left parenthesis"
        );
        let err = parse_response(
            reqwest::StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
        )
        .expect_err("html");
        assert!(err.starts_with("HTTP 502 Bad Gateway: <html>"), "{err}");
        let err = parse_response(
            reqwest::StatusCode::OK,
            b"{\"status\":\"success\",\"data\":{",
        )
        .expect_err("truncated");
        assert!(err.starts_with("malformed response"), "{err}");
        let err = parse_response(
            reqwest::StatusCode::OK,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"high"]}]}}"#,
        )
        .expect_err("bad value");
        assert!(err.contains("\"high\" is not a number"), "{err}");
        let err = parse_response(
            reqwest::StatusCode::OK,
            br#"{"status":"success","data":{"resultType":"string","result":[1,"abc"]}}"#,
        )
        .expect_err("string");
        assert!(err.contains("string"), "{err}");
    }

    fn dcgm(name: &str, gpu: &str, uuid: &str, pod: &str, value: f64) -> Series {
        series(
            &[
                ("__name__", name),
                ("gpu", gpu),
                ("UUID", uuid),
                ("Hostname", "gpu-node-0"),
                ("modelName", "NVIDIA H100 80GB HBM3"),
                ("pod", pod),
                ("namespace", if pod.is_empty() { "" } else { "ml-serving" }),
            ],
            &[(100, value)],
        )
    }

    #[test]
    fn dcgm_gauges_join_per_gpu_and_name_the_model_from_the_pod() {
        let mut series_in = Vec::new();
        for (gpu, uuid, pod, util) in [
            ("0", "GPU-a", "fraud-detector-76f47f449-6d2hs", 0.5),
            ("1", "GPU-b", "", 0.0),
            ("2", "GPU-c", "fraud-detector-canary-5d9-x1", 40.0),
        ] {
            series_in.push(dcgm(DCGM_UTIL, gpu, uuid, pod, util));
            series_in.push(dcgm(DCGM_FB_USED, gpu, uuid, pod, 1000.0));
            series_in.push(dcgm(DCGM_FB_FREE, gpu, uuid, pod, 80_000.0));
            series_in.push(dcgm(DCGM_POWER, gpu, uuid, pod, 70.0));
        }
        let serving = vec![
            series(
                &[
                    ("namespace", "ml-serving"),
                    ("model", "fraud-detector"),
                    ("version", "3"),
                    ("track", "stable"),
                ],
                &[(100, 1.0)],
            ),
            series(
                &[
                    ("namespace", "ml-serving"),
                    ("model", "fraud-detector"),
                    ("version", "4"),
                    ("track", "canary"),
                ],
                &[(100, 1.0)],
            ),
            series(
                &[
                    ("namespace", "ml-serving"),
                    ("model", "fraud"),
                    ("version", "1"),
                    ("track", "stable"),
                ],
                &[(100, 1.0)],
            ),
        ];
        let gpus = map_gpus(&series_in, &serving, "prod");
        assert_eq!(gpus.len(), 3);
        let a = &gpus[0];
        assert_eq!(
            (a.index, a.uuid.as_str(), a.cluster.as_str()),
            (0, "GPU-a", "prod")
        );
        assert_eq!(a.node, "gpu-node-0");
        assert_eq!(a.product, "NVIDIA H100 80GB HBM3");
        assert!((a.mem_total_mib - 81_000.0).abs() < 1e-9);
        assert!(a.temp_c.is_nan(), "a gauge not exported reads NaN");
        assert_eq!(a.pod.as_deref(), Some("fraud-detector-76f47f449-6d2hs"));
        assert_eq!(
            (a.model.as_deref(), a.version),
            (Some("fraud-detector"), Some(3)),
            "the longest model prefix wins"
        );
        assert!(a.is_allocated_idle());
        assert!(gpus[1].pod.is_none() && gpus[1].model.is_none() && !gpus[1].is_allocated());
        assert_eq!(
            (gpus[2].model.as_deref(), gpus[2].version),
            (Some("fraud-detector"), Some(4))
        );
    }

    #[test]
    fn exported_pod_labels_win_over_the_exporters_own() {
        let s = series(
            &[
                ("__name__", DCGM_UTIL),
                ("gpu", "0"),
                ("UUID", "GPU-x"),
                ("Hostname", "n"),
                ("pod", "dcgm-exporter-abc"),
                ("exported_pod", ""),
                ("cluster", "eu"),
            ],
            &[(1, 3.0)],
        );
        let gpus = map_gpus(&[s], &[], "default");
        assert_eq!(gpus[0].pod, None);
        assert_eq!(gpus[0].cluster, "eu");
    }

    fn bucket(t: &[(i64, f64)], feature: &str, le: &str) -> Series {
        series(
            &[
                ("model", "fraud-detector"),
                ("version", "3"),
                ("feature", feature),
                ("le", le),
            ],
            t,
        )
    }

    /// Cumulative buckets with per-bin counts `bins` (the last is the +Inf bin).
    fn buckets(feature: &str, bounds: &[&str], samples: &[(i64, &[f64])]) -> Vec<Series> {
        let mut les: Vec<&str> = bounds.to_vec();
        les.push("+Inf");
        les.iter()
            .enumerate()
            .map(|(i, le)| {
                let points: Vec<(i64, f64)> = samples
                    .iter()
                    .map(|(t, bins)| (*t, bins[..=i].iter().sum()))
                    .collect();
                bucket(&points, feature, le)
            })
            .collect()
    }

    #[test]
    fn drift_from_histogram_increases() {
        let bounds = ["5", "45", "65", "85", "105", "125", "165"];
        let base = [2.0, 17.0, 15.0, 19.0, 19.0, 15.0, 14.0, 2.0].map(|c| c * 100.0);
        let shifted = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 22.0].map(|c| c * 100.0);
        let reference = buckets("amount", &bounds, &[(0, &base)]);
        let current = buckets("amount", &bounds, &[(100, &base), (200, &shifted)]);
        let mut out = map_drift(&reference, &current);
        assert_eq!(out.len(), 1);
        let d = out.remove(0);
        assert_eq!(
            (d.model.as_str(), d.version, d.feature.as_str()),
            ("fraud-detector", 3, "amount")
        );
        assert_eq!(
            d.edges,
            vec![-35.0, 5.0, 45.0, 65.0, 85.0, 105.0, 125.0, 165.0, 205.0]
        );
        assert_eq!(d.reference_counts, base.to_vec());
        assert_eq!(
            d.current_counts,
            shifted.to_vec(),
            "the latest point is the current window"
        );
        assert_eq!(d.psi_history.len(), 2);
        assert!(
            d.psi_history[0].abs() < 1e-12,
            "same distribution, no drift"
        );
        let expected = drift::psi_from_counts(&base, &shifted).expect("psi");
        assert!((d.report.psi - expected).abs() < 1e-12);
        assert!((d.psi_history[1] - expected).abs() < 1e-12);
        assert_eq!(d.report.status, drift::DriftStatus::Drifted);
        assert!(
            d.report.ks.statistic > 0.4 && d.report.ks.p_value < 1e-6,
            "{:?}",
            d.report.ks
        );
        assert!(
            d.report.wasserstein_normed > 1.0,
            "{}",
            d.report.wasserstein_normed
        );
        assert!(d.report.js_distance > 0.3 && d.report.js_distance < 2f64.ln().sqrt());
        assert_eq!(
            (d.report.reference_len, d.report.current_len),
            (10_300, 10_000)
        );
    }

    #[test]
    fn same_bins_give_no_drift_and_missing_windows_are_left_out() {
        let bounds = ["1", "2", "3"];
        let base = [10.0, 40.0, 40.0, 10.0];
        let reference = buckets("f", &bounds, &[(0, &base)]);
        let current = buckets("f", &bounds, &[(100, &base)]);
        let d = &map_drift(&reference, &current)[0];
        assert_eq!(d.report.status, drift::DriftStatus::Ok);
        assert!(d.report.psi.abs() < 1e-12 && d.report.js_distance < 1e-6);
        assert!(d.report.ks.statistic < 1e-12 && d.report.wasserstein_normed < 1e-12);
        assert!(
            map_drift(&[], &current).is_empty(),
            "no reference, no report"
        );
        let empty = buckets("f", &bounds, &[(100, &[0.0; 4])]);
        assert!(
            map_drift(&reference, &empty).is_empty(),
            "no current traffic, no report"
        );
    }

    #[test]
    fn report_from_bins_matches_the_core_on_point_masses() {
        // With every sample on a bin midpoint, binned KS and Wasserstein are the exact ones.
        let edges = [0.0, 1.0, 2.0, 3.0];
        let (r, c) = ([30.0, 40.0, 30.0], [10.0, 40.0, 50.0]);
        let sample = |counts: &[f64]| -> Vec<f64> {
            counts
                .iter()
                .enumerate()
                .flat_map(|(i, n)| std::iter::repeat_n(i as f64 + 0.5, *n as usize))
                .collect()
        };
        let report = drift::report_from_bins(&edges, &r, &c).expect("report");
        let ks = drift::ks_2samp(&sample(&r), &sample(&c)).expect("ks");
        assert!((report.ks.statistic - ks.statistic).abs() < 1e-12);
        assert!((report.ks.p_value - ks.p_value).abs() < 1e-9);
        let w = drift::wasserstein_normed(&sample(&r), &sample(&c)).expect("w");
        assert!(
            (report.wasserstein_normed - w).abs() < 1e-9,
            "{} vs {w}",
            report.wasserstein_normed
        );
        assert!(drift::report_from_bins(&edges[..2], &r, &c).is_err());
    }

    #[test]
    fn rollout_names_and_queries() {
        assert_eq!(
            parse_rollout_name("fraud-detector-v4"),
            Some(("fraud-detector", 4))
        );
        assert_eq!(
            parse_rollout_name("my-v2-model-v12"),
            Some(("my-v2-model", 12))
        );
        assert_eq!(parse_rollout_name("fraud-detector"), None);
        assert_eq!(parse_rollout_name("-v4"), None);
        let [ce, se, cp, _] = rollout_queries("fraud\"x", 4);
        assert!(
            ce.contains(r#"model="fraud\"x",version="4",code=~"5..""#),
            "{ce}"
        );
        assert!(se.contains(r#"track="stable",version!="4""#), "{se}");
        assert!(cp.starts_with("histogram_quantile(0.99"), "{cp}");
        let t0 = DateTime::from_timestamp(0, 0).expect("t");
        let t1 = DateTime::from_timestamp(10, 0).expect("t");
        let grid = on_grid(&[series(&[], &[(10, 0.5)])], &[t0, t1]);
        assert!(grid[0].is_nan() && (grid[1] - 0.5).abs() < 1e-12);
        assert!(on_grid(&[], &[t0]).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn env_and_secrets() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        let p = PrometheusMetrics::from_lookup(lookup(&[
            (
                "MLOPS_PROMETHEUS_URL",
                "https://prom.example.com/prometheus",
            ),
            ("MLOPS_PROMETHEUS_TOKEN", "tok-secret"),
        ]))
        .expect("from env");
        assert_eq!(p.auth, Auth::Bearer("tok-secret".into()));
        for shown in [p.describe(), format!("{p:?}")] {
            assert!(!shown.contains("tok-secret"), "{shown}");
        }
        assert_eq!(p.base_url(), "https://prom.example.com/prometheus");
        let err = PrometheusMetrics::from_lookup(lookup(&[])).expect_err("unset");
        assert!(err.to_string().contains("MLOPS_PROMETHEUS_URL is not set"));
        assert_eq!(
            unix_seconds(DateTime::from_timestamp_millis(1_500).expect("t")),
            "1.500"
        );
        assert_eq!(promql_string("a\\b\"c"), r#""a\\b\"c""#);
    }
}
