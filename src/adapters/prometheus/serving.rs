//! Serving signals from Prometheus: the runtime mapping's queries (`mlops_core::serving::runtime`)
//! at the window asked for, the error ratio over every burn window, and the sparklines' history.
//! A query that fails while the requests query answered is a warning, not a failed read.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use mlops_core::{
    CoreError,
    ports::ServingPort,
    serving::{
        HistoryPoint, LatencySignal, Mapping, ServingKey, Signal, SignalRequest, SignalSource,
        Signals, runtime::at_window,
    },
};

use super::{PrometheusMetrics, Series};

impl PrometheusMetrics {
    /// Serving signals read through `mapping` (default: the built-in `default` runtime's).
    #[must_use]
    pub fn with_serving(mut self, mapping: Mapping) -> Self {
        self.serving = Arc::new(mapping);
        self
    }

    async fn keyed(&self, query: &str) -> Result<BTreeMap<ServingKey, f64>, CoreError> {
        Ok(self
            .query(query, None)
            .await?
            .iter()
            .filter_map(|s| Some((ServingKey::of_labels(&s.labels)?, s.last()?.value)))
            .filter(|(_, v)| v.is_finite())
            .collect())
    }

    async fn latency(&self, window: u64) -> Result<BTreeMap<ServingKey, LatencySignal>, CoreError> {
        let m = &self.serving;
        let scale = m.latency_scale;
        if let Some(q) = &m.latency_buckets {
            let mut out: BTreeMap<ServingKey, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self.query(&at_window(q, window), None).await? {
                let (Some(key), Some(v), Ok(le)) = (
                    ServingKey::of_labels(&s.labels),
                    s.last().map(|p| p.value),
                    s.label("le").parse::<f64>(),
                ) else {
                    continue;
                };
                out.entry(key).or_default().push((le * scale, v));
            }
            return Ok(out
                .into_iter()
                .map(|(k, b)| (k, LatencySignal::Buckets(b)))
                .collect());
        }
        match &m.latency_mean {
            Some(q) => Ok(self
                .keyed(&at_window(q, window))
                .await?
                .into_iter()
                .map(|(k, v)| (k, LatencySignal::Mean(v * scale)))
                .collect()),
            None => Ok(BTreeMap::new()),
        }
    }

    /// Error ratio and p99 over the last `range`, one point every `step`.
    async fn serving_history(
        &self,
        range: u64,
        step: u64,
    ) -> Result<BTreeMap<ServingKey, Vec<HistoryPoint>>, CoreError> {
        let m = &self.serving;
        let w = step.max(60);
        let ratio = m.error_ratio_query(w);
        let p99 = match (&m.latency_buckets, &m.latency_mean) {
            (Some(b), _) => Some(format!(
                "histogram_quantile(0.99, {}) * {}",
                at_window(b, w),
                m.latency_scale
            )),
            (None, Some(q)) => Some(format!("({}) * {}", at_window(q, w), m.latency_scale)),
            (None, None) => None,
        };
        let end = Utc::now();
        let start = end - TimeDelta::seconds(i64::try_from(range).unwrap_or(3600));
        let step_d = Duration::from_secs(step.max(1));
        let ratios = self.query_range(&ratio, start, end, step_d).await?;
        let p99s = match p99 {
            Some(q) => self.query_range(&q, start, end, step_d).await?,
            None => Vec::new(),
        };
        let mut out: BTreeMap<ServingKey, BTreeMap<i64, HistoryPoint>> = BTreeMap::new();
        let mut put = |series: &[Series], is_ratio: bool| {
            for s in series {
                let Some(key) = ServingKey::of_labels(&s.labels) else {
                    continue;
                };
                for p in &s.samples {
                    let point = out
                        .entry(key.clone())
                        .or_default()
                        .entry(p.time.timestamp())
                        .or_insert(HistoryPoint {
                            time: p.time,
                            error_ratio: None,
                            p99: None,
                        });
                    let v = p.value.is_finite().then_some(p.value);
                    if is_ratio {
                        point.error_ratio = v;
                    } else {
                        point.p99 = v;
                    }
                }
            }
        };
        put(&ratios, true);
        put(&p99s, false);
        Ok(out
            .into_iter()
            .map(|(k, points)| (k, points.into_values().collect()))
            .collect())
    }
}

#[async_trait]
impl ServingPort for PrometheusMetrics {
    async fn serving_signals(&self, request: &SignalRequest) -> Result<Signals, CoreError> {
        let m = Arc::clone(&self.serving);
        let w = request.window_seconds;
        // The requests query decides whether the store is there: its failure fails the read.
        let requests = self.keyed(&at_window(&m.requests, w)).await?;
        let mut warnings = Vec::new();
        let mut note = |what: &str, e: &CoreError| warnings.push(format!("{what}: {e}"));
        let errors = self
            .keyed(&at_window(&m.errors, w))
            .await
            .unwrap_or_else(|e| {
                note("errors", &e);
                BTreeMap::new()
            });
        let latency = self.latency(w).await.unwrap_or_else(|e| {
            note("latency", &e);
            BTreeMap::new()
        });
        let mut error_ratios = BTreeMap::new();
        for &secs in &request.ratio_windows {
            match self.keyed(&m.error_ratio_query(secs)).await {
                Ok(r) => {
                    error_ratios.insert(secs, r);
                }
                Err(e) => note(&format!("error ratio over {secs}s"), &e),
            }
        }
        let history = match request.history {
            Some((range, step)) => self.serving_history(range, step).await.unwrap_or_else(|e| {
                note("history", &e);
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        };
        let current = requests
            .iter()
            .map(|(key, &rps)| Signal {
                key: key.clone(),
                requests_per_second: Some(rps),
                errors_per_second: errors.get(key).copied(),
                latency: latency.get(key).cloned(),
            })
            .collect();
        Ok(Signals {
            at: Some(Utc::now()),
            current,
            error_ratios,
            history,
            source: SignalSource {
                runtime: m.runtime.clone(),
                latency: match m.latency_form() {
                    mlops_core::serving::LatencyForm::Histogram => "histogram".into(),
                    mlops_core::serving::LatencyForm::Mean => "mean".into(),
                },
                queries: m.queries(),
                series: m.series.clone(),
            },
            warnings,
        })
    }
}
