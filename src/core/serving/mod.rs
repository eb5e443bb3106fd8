//! Serving health per model version and track: request rate, error ratio, latency quantiles,
//! replicas, GPUs and the SLO's burn, worked out here from the signals a [`ServingPort`] reads
//! (Prometheus through a runtime mapping, or the demo's simulation) and the cluster's snapshot.
//! The console's Overview panel and Serving view, `mlops health` and the `slo_burn` check all
//! read what [`assemble`] makes; none works a number out again.
//!
//! A value that could not be read stays `None` and says why ("no series for …"): health is never
//! a zero invented for a missing series.
//!
//! [`ServingPort`]: crate::ports::ServingPort

pub mod rules;
pub mod runtime;
pub mod slo;
pub mod summary;
#[cfg(test)]
mod tests;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Deployment, Pod, PodPhase};
pub use runtime::{LatencyForm, Mapping, Runtime};
pub use slo::{Alert, SloSpec, SloStatus};

/// One served model version on one track, as the metrics store labels it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServingKey {
    pub namespace: String,
    pub model: String,
    pub version: String,
    pub track: String,
}

impl ServingKey {
    pub fn new(namespace: &str, model: &str, version: &str, track: &str) -> Self {
        Self {
            namespace: namespace.into(),
            model: model.into(),
            version: version.into(),
            track: if track.is_empty() {
                "stable".into()
            } else {
                track.into()
            },
        }
    }

    /// The key of a vector sample's labels (a missing `track` is the stable one).
    pub fn of_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| labels.get(k).map_or("", String::as_str);
        let model = get("model");
        (!model.is_empty())
            .then(|| Self::new(get("namespace"), model, get("version"), get("track")))
    }

    fn same_serving(&self, model: &str, version: u32, track: &str) -> bool {
        self.model == model && self.version == version.to_string() && self.track == track
    }
}

/// Latency as a runtime reports it over the window: a histogram's bucket rates (`le` in
/// seconds, cumulative), or only a mean (runtimes with counters alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LatencySignal {
    Buckets(Vec<(f64, f64)>),
    Mean(f64),
}

/// What the metrics store says about one key over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub key: ServingKey,
    pub requests_per_second: Option<f64>,
    pub errors_per_second: Option<f64>,
    pub latency: Option<LatencySignal>,
}

/// A point of the sparklines: the error ratio and p99 latency (seconds) at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub time: DateTime<Utc>,
    pub error_ratio: Option<f64>,
    pub p99: Option<f64>,
}

/// What a [`crate::ports::ServingPort`] is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRequest {
    /// The window of rates and quantiles (`mlops health --window`).
    pub window_seconds: u64,
    /// The windows error ratios are wanted over (the burn windows and the SLO windows).
    pub ratio_windows: Vec<u64>,
    /// Sparkline history: how far back and the step, when wanted.
    pub history: Option<(u64, u64)>,
}

/// Where the numbers came from: the runtime mapping, its queries and the series they read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalSource {
    pub runtime: String,
    /// `histogram` or `mean` (a runtime with counters alone).
    pub latency: String,
    /// Signal name → the query (PromQL with `$window`), or the simulation's word for it.
    pub queries: BTreeMap<String, String>,
    /// The series the queries read, for "no series for …".
    pub series: Vec<String>,
}

/// Everything a port read in one go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    pub at: Option<DateTime<Utc>>,
    pub current: Vec<Signal>,
    /// Window (seconds) → key → error ratio over that window.
    pub error_ratios: BTreeMap<u64, BTreeMap<ServingKey, f64>>,
    pub history: BTreeMap<ServingKey, Vec<HistoryPoint>>,
    pub source: SignalSource,
    /// What could not be read (a query that failed while others answered).
    pub warnings: Vec<String>,
}

/// Latency quantiles in seconds; `estimate` says whether they came from a histogram or are the
/// mean alone (then p50/p95/p99 all hold the mean, and `estimate` is `mean`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub estimate: LatencyForm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replicas {
    pub ready: u32,
    pub desired: u32,
}

/// Where a row's numbers came from, and what was missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowSource {
    pub runtime: String,
    pub series: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// The health of one served model version on one track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHealth {
    pub model: String,
    pub version: String,
    pub track: String,
    pub namespace: String,
    pub cluster: String,
    pub requests_per_second: Option<f64>,
    pub error_ratio: Option<f64>,
    pub latency_seconds: Latency,
    pub replicas: Option<Replicas>,
    pub gpus: u32,
    pub slo: Option<SloStatus>,
    pub source: RowSource,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryPoint>,
}

impl ModelHealth {
    /// How bad it is, for "worst first": paging burn, then ticket, then errors, then latency.
    pub fn severity(&self) -> (u8, f64, f64) {
        let alert = match self.slo.as_ref().map(|s| s.alert) {
            Some(Alert::Page) => 3,
            Some(Alert::Ticket) => 2,
            _ if self.source.missing.is_some() => 1,
            _ => 0,
        };
        (
            alert,
            self.error_ratio.unwrap_or(0.0),
            self.latency_seconds.p99.unwrap_or(0.0),
        )
    }

    pub fn pages(&self) -> bool {
        self.slo.as_ref().is_some_and(|s| s.alert == Alert::Page)
    }
}

/// The health of every served model version: the `mlops health -o json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub at: DateTime<Utc>,
    pub window_seconds: u64,
    pub models: Vec<ModelHealth>,
    pub warnings: Vec<String>,
}

impl HealthReport {
    /// The models (names) with a version that pages.
    pub fn paging_models(&self) -> BTreeSet<&str> {
        self.models
            .iter()
            .filter(|m| m.pages())
            .map(|m| m.model.as_str())
            .collect()
    }
}

/// The quantile `q` of a histogram given as (upper bound, cumulative rate) pairs, as
/// Prometheus's `histogram_quantile` works it out: linear within the bucket, the highest finite
/// bound when it falls in `+Inf`; `None` without observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, c)| !le.is_nan() && c.is_finite())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total = b.last().filter(|(le, _)| le.is_infinite())?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (i, &(le, cum)) in b.iter().enumerate() {
        if cum >= rank {
            if le.is_infinite() {
                return Some(if i == 0 { 0.0 } else { b[i - 1].0 });
            }
            let width = cum - below;
            if width <= 0.0 {
                return Some(le);
            }
            return Some(lower + (le - lower) * (rank - below) / width);
        }
        lower = le;
        below = cum;
    }
    None
}

fn latency_of(signal: Option<&LatencySignal>, form: LatencyForm) -> Latency {
    match signal {
        Some(LatencySignal::Buckets(b)) => Latency {
            p50: histogram_quantile(0.5, b),
            p95: histogram_quantile(0.95, b),
            p99: histogram_quantile(0.99, b),
            estimate: LatencyForm::Histogram,
        },
        Some(LatencySignal::Mean(m)) => {
            let m = m.is_finite().then_some(*m);
            Latency {
                p50: m,
                p95: m,
                p99: m,
                estimate: LatencyForm::Mean,
            }
        }
        None => Latency {
            p50: None,
            p95: None,
            p99: None,
            estimate: form,
        },
    }
}

/// What `assemble` is given besides the signals.
pub struct Inputs<'a> {
    pub cluster: &'a str,
    pub deployments: &'a [Deployment],
    pub pods: &'a [Pod],
    pub slos: &'a slo::SloConfig,
    pub window_seconds: u64,
    pub now: DateTime<Utc>,
}

/// Put together the health of every served model version: one row per key the metrics store
/// has, and one per serving Deployment it has nothing for (saying so); worst first.
pub fn assemble(signals: &Signals, inputs: &Inputs<'_>) -> HealthReport {
    let mut warnings = signals.warnings.clone();
    let form = if signals.source.latency == "mean" {
        LatencyForm::Mean
    } else {
        LatencyForm::Histogram
    };
    let mut keys: BTreeMap<ServingKey, Option<&Signal>> = signals
        .current
        .iter()
        .map(|s| (s.key.clone(), Some(s)))
        .collect();
    for d in inputs.deployments {
        let served = keys
            .keys()
            .any(|k| k.same_serving(&d.model, d.version, d.track.as_str()));
        if !served {
            keys.insert(
                ServingKey::new(
                    &d.namespace,
                    &d.model,
                    &d.version.to_string(),
                    d.track.as_str(),
                ),
                None,
            );
        }
    }
    if signals.current.is_empty() && !signals.source.series.is_empty() {
        warnings.push(format!(
            "no series for {} (serving runtime {:?}): check [serving] in config.toml",
            signals.source.series.join(", "),
            signals.source.runtime
        ));
    }
    let mut models: Vec<ModelHealth> = keys
        .into_iter()
        .map(|(key, signal)| row(&key, signal, signals, inputs, form, &mut warnings))
        .collect();
    models.sort_by(|a, b| {
        let (x, y) = (a.severity(), b.severity());
        y.0.cmp(&x.0)
            .then(y.1.total_cmp(&x.1))
            .then(y.2.total_cmp(&x.2))
            .then_with(|| (&a.model, &a.version, &a.track).cmp(&(&b.model, &b.version, &b.track)))
    });
    HealthReport {
        at: signals.at.unwrap_or(inputs.now),
        window_seconds: inputs.window_seconds,
        models,
        warnings,
    }
}

fn row(
    key: &ServingKey,
    signal: Option<&Signal>,
    signals: &Signals,
    inputs: &Inputs<'_>,
    form: LatencyForm,
    warnings: &mut Vec<String>,
) -> ModelHealth {
    let deployment = inputs.deployments.iter().find(|d| {
        key.same_serving(&d.model, d.version, d.track.as_str())
            && (key.namespace.is_empty() || d.namespace == key.namespace)
    });
    let gpus = inputs
        .pods
        .iter()
        .filter(|p| p.phase == PodPhase::Running && p.track.as_str() == key.track)
        .filter(|p| {
            p.model.as_deref() == Some(key.model.as_str())
                && p.version.is_some_and(|v| v.to_string() == key.version)
        })
        .map(|p| p.gpus)
        .sum();
    let rps = signal
        .and_then(|s| s.requests_per_second)
        .filter(|v| v.is_finite());
    let errors = signal
        .and_then(|s| s.errors_per_second)
        .filter(|v| v.is_finite());
    let error_ratio = match (rps, errors) {
        (Some(r), Some(e)) if r > 0.0 => Some(e / r),
        (Some(_), None) => Some(0.0),
        _ => None,
    };
    let missing = signal.is_none().then(|| {
        format!(
            "no series for {} v{} ({}) in {}",
            key.model,
            key.version,
            key.track,
            if signals.source.series.is_empty() {
                "the metrics store".to_string()
            } else {
                signals.source.series.join(", ")
            }
        )
    });
    let (spec, problem) = inputs
        .slos
        .spec_for(&key.model, deployment.and_then(|d| d.slo.as_deref()));
    if let Some(p) = problem {
        let text = format!(
            "{}/{}: {p}",
            key.namespace,
            deployment.map_or(key.model.as_str(), |d| d.name.as_str())
        );
        if !warnings.contains(&text) {
            warnings.push(text);
        }
    }
    ModelHealth {
        model: key.model.clone(),
        version: key.version.clone(),
        track: key.track.clone(),
        namespace: key.namespace.clone(),
        cluster: deployment.map_or_else(|| inputs.cluster.to_string(), |d| d.cluster.clone()),
        requests_per_second: rps,
        error_ratio,
        latency_seconds: latency_of(signal.and_then(|s| s.latency.as_ref()), form),
        replicas: deployment.map(|d| Replicas {
            ready: d.ready_replicas,
            desired: d.replicas,
        }),
        gpus,
        slo: signal.map(|_| {
            let mut s = slo::status(&spec, key, &signals.error_ratios);
            // The budget is the model's, spent by all its traffic: a canary's own ratio over
            // the SLO window covers only its life. Its share is the rollout's (`slo_burn`).
            if key.track != "stable" {
                s.budget_remaining = None;
            }
            s
        }),
        source: RowSource {
            runtime: signals.source.runtime.clone(),
            series: signals.source.series.clone(),
            missing,
        },
        history: signals.history.get(key).cloned().unwrap_or_default(),
    }
}
