//! The Prometheus adapter: a small typed client for `/api/v1/query` and `/api/v1/query_range`,
//! and the [`MetricsPort`] on top of it — GPUs from the DCGM exporter's gauges, feature drift from
//! the model servers' `model_feature_value_bucket` histograms, and canary-versus-stable series
//! from `model_requests_total` / `model_request_duration_seconds_bucket`.
//!
//! Owns the HTTP conversation with one Prometheus and the mapping of its answers; it must not
//! talk to the cluster (a GPU's model and version come from the metrics alone). `profiled`
//! wraps it to compare live features with each version's training data profile, read through
//! the registry port (never the MLflow adapter itself). TLS is verified,
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

use std::{collections::BTreeMap, fmt, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use mlops_core::{
    CoreError,
    gpu::{IdlePolicy, UtilHistory},
    model::{FeatureDrift, Gpu, RolloutSeries},
    ports::{MetricsPort, QueryPort},
};

mod alerts;
mod gpus;
mod histograms;
mod profiled;

pub use self::{
    histograms::VersionProfiles,
    profiled::{PROFILES_TTL, ProfiledDrift},
};
mod series;
mod serving;
#[cfg(test)]
mod tests;
mod wire;

use self::{
    gpus::{map_gpus, map_util_history},
    histograms::{map_drift, map_tracks},
    series::{on_grid, parse_rollout_name, rollout_queries},
    wire::parse_response,
};
use super::http::{Auth, Endpoint, Failure, Tls};

/// Per-request timeout unless [`PrometheusMetrics::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = crate::adapters::defaults::CALL_TIMEOUT;
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
/// The last XID error (a GPU fault); absent or 0 when there was none.
const DCGM_XID: &str = "DCGM_FI_DEV_XID_ERRORS";
/// The five DCGM gauges in one request.
const DCGM_QUERY: &str = "{__name__=~\"DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_FB_FREE|DCGM_FI_DEV_POWER_USAGE|DCGM_FI_DEV_GPU_TEMP|DCGM_FI_DEV_XID_ERRORS\"}";
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

impl DriftWindows {
    /// A current window of `current` (the default's, or `[drift] live_window`): the
    /// history one point per window, or every five minutes for a longer one; the reference as
    /// the default's.
    pub fn current(current: Duration) -> Self {
        Self {
            current,
            history_step: current.min(Duration::from_secs(5 * 60)),
            ..Self::default()
        }
    }
}

impl Default for DriftWindows {
    fn default() -> Self {
        Self {
            reference_start_ago: Duration::from_secs(6 * 3600),
            reference_end_ago: Duration::from_secs(3600),
            current: mlops_core::defaults::LIVE_WINDOW,
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
    endpoint: Endpoint,
    cluster: String,
    windows: DriftWindows,
    /// How the serving runtime's series map to model, version and track (`[serving]`).
    serving: std::sync::Arc<mlops_core::serving::Mapping>,
    /// Error ratios over long windows, kept while they are fresh (`serving::RatioCache`).
    ratios: std::sync::Arc<std::sync::Mutex<serving::RatioCache>>,
}

impl fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("endpoint", &self.endpoint)
            .field("cluster", &self.cluster)
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl PrometheusMetrics {
    /// A client for the Prometheus at `url` (http or https, with any path prefix).
    pub fn new(url: &str, auth: Auth) -> Result<Self, CoreError> {
        Ok(Self {
            endpoint: Endpoint::new("prometheus", "the Prometheus URL", url, auth)?,
            cluster: String::new(),
            windows: DriftWindows::default(),
            serving: std::sync::Arc::new(mlops_core::serving::Mapping::builtin(
                mlops_core::serving::Runtime::Default,
            )),
            ratios: std::sync::Arc::default(),
        })
    }

    /// `MLOPS_PROMETHEUS_URL`, with `MLOPS_PROMETHEUS_TOKEN` as a bearer token when set.
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let url = get("MLOPS_PROMETHEUS_URL").ok_or_else(|| {
            CoreError::not_configured(
                "the metrics store (Prometheus)",
                "MLOPS_PROMETHEUS_URL is not set (e.g. http://127.0.0.1:9090)",
            )
        })?;
        let auth = get("MLOPS_PROMETHEUS_TOKEN").map_or(Auth::None, Auth::Bearer);
        Self::new(&url, auth)
    }

    /// Certificates checked as `tls` says: a private CA, or (explicitly) not at all.
    pub fn with_tls(mut self, tls: &Tls) -> Result<Self, CoreError> {
        self.endpoint = self.endpoint.with_tls(tls)?;
        Ok(self)
    }

    /// The per-request timeout (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.endpoint = self.endpoint.with_timeout(timeout);
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
        self.endpoint.base_url()
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
        self.endpoint
            .fail(
                &format!("GET /api/v1/{endpoint} {}", quote_query(promql)),
                Failure::Malformed(what.to_string()),
            )
            .into()
    }

    async fn call(
        &self,
        endpoint: &str,
        promql: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Series>, CoreError> {
        let shown = format!("GET /api/v1/{endpoint} {}", quote_query(promql));
        let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = self
            .endpoint
            .send(
                reqwest::Method::GET,
                &format!("api/v1/{endpoint}"),
                &shown,
                &query,
                None,
            )
            .await?;
        parse_response(answer.status, &answer.body)
            .map_err(|failure| self.endpoint.fail(&shown, failure).into())
    }

    /// The GPUs as the DCGM gauges say at `at` (default: the server's now).
    pub async fn gpus_at(&self, at: Option<DateTime<Utc>>) -> Result<Vec<Gpu>, CoreError> {
        let (dcgm, serving) =
            futures::try_join!(self.query(DCGM_QUERY, at), self.query(SERVING_QUERY, at))?;
        Ok(map_gpus(&dcgm, &serving, &self.cluster))
    }

    /// Each GPU's utilisation over the policy's window ending at `end`: one range query of
    /// `DCGM_FI_DEV_GPU_UTIL` over `(end - window, end]`, one point per step (the window's
    /// `window / step` instants, each standing for the step before it).
    pub async fn gpu_util_history(
        &self,
        end: DateTime<Utc>,
        policy: &IdlePolicy,
    ) -> Result<Vec<UtilHistory>, CoreError> {
        if let Some(problem) = policy.problem() {
            return Err(self.error("query_range", DCGM_UTIL, &problem));
        }
        let start = end - delta(policy.window) + delta(policy.step);
        let util = self.query_range(DCGM_UTIL, start, end, policy.step).await?;
        Ok(map_util_history(&util))
    }

    /// [`MetricsPort::drift`] as of `now`.
    pub async fn drift_at(&self, now: DateTime<Utc>) -> Result<Vec<FeatureDrift>, CoreError> {
        self.drift_against(now, &VersionProfiles::new()).await
    }

    /// Drift as of `now`, each version's features against its profile in `profiles` where it
    /// has one (the data it was trained on), else against the reference window.
    pub async fn drift_against(
        &self,
        now: DateTime<Utc>,
        profiles: &VersionProfiles,
    ) -> Result<Vec<FeatureDrift>, CoreError> {
        self.drift_noting(now, profiles).await.map(|(d, _)| d)
    }

    /// [`Self::drift_against`], with a warning for each feature left out (buckets without
    /// `+Inf`, one bucket, counts that are not counts, …) and each profile that did not fit.
    pub async fn drift_noting(
        &self,
        now: DateTime<Utc>,
        profiles: &VersionProfiles,
    ) -> Result<(Vec<FeatureDrift>, Vec<String>), CoreError> {
        let w = self.windows;
        let reference_len = w.reference_start_ago.saturating_sub(w.reference_end_ago);
        if reference_len.is_zero() || w.current.is_zero() || w.history_step.is_zero() {
            return Err(CoreError::backend(
                self.endpoint.backend(),
                format!("drift windows must not be empty: {w:?}"),
            ));
        }
        let increase = |by: &str, window: Duration| {
            format!(
                "sum by ({by}) (increase(model_feature_value_bucket[{}s]))",
                window.as_secs().max(1)
            )
        };
        let steps = (w.history.as_secs() / w.history_step.as_secs().max(1)).max(1);
        let start = now - delta(w.history_step) * i32::try_from(steps).unwrap_or(i32::MAX);
        // The current window split by track too: summed over tracks it is each version's,
        // and per track each model's canary against its stable.
        let reference_query = increase("model, version, feature, le", reference_len);
        let current_query = increase("model, version, track, feature, le", w.current);
        let (reference, current) = futures::try_join!(
            self.query(&reference_query, Some(now - delta(w.reference_end_ago))),
            self.query_range(&current_query, start, now, w.history_step),
        )?;
        let (mut out, warnings) = map_drift(&reference, &current, profiles);
        out.extend(map_tracks(&current));
        for d in &mut out {
            d.window_seconds = w.history_step.as_secs();
        }
        Ok((out, warnings))
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

#[async_trait]
impl QueryPort for PrometheusMetrics {
    async fn value(&self, query: &str) -> Result<Option<f64>, CoreError> {
        Ok(self
            .query(query, None)
            .await?
            .first()
            .and_then(Series::last)
            .map(|p| p.value))
    }

    async fn vector(&self, query: &str) -> Result<Vec<(BTreeMap<String, String>, f64)>, CoreError> {
        Ok(self
            .query(query, None)
            .await?
            .into_iter()
            .filter_map(|s| {
                let v = s.last()?.value;
                Some((s.labels, v))
            })
            .collect())
    }
}

#[async_trait]
impl MetricsPort for PrometheusMetrics {
    fn describe(&self) -> String {
        format!(
            "prometheus {} ({})",
            self.endpoint.base_url(),
            self.endpoint.auth_kind()
        )
    }

    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError> {
        self.gpus_at(None).await
    }

    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError> {
        self.drift_at(Utc::now()).await
    }

    async fn drift_noting(&self) -> Result<(Vec<FeatureDrift>, Vec<String>), CoreError> {
        PrometheusMetrics::drift_noting(self, Utc::now(), &VersionProfiles::new()).await
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

    async fn alerts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<mlops_core::model::Alert>, CoreError> {
        self.alerts_between(since, Utc::now()).await
    }
}
