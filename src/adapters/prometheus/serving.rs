//! Serving signals from Prometheus: the runtime mapping's queries (`mlops_core::serving::runtime`)
//! at the window asked for, the error ratio over every burn window, and the sparklines' history.
//! A query that fails while the requests query answered is a warning, not a failed read.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

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
        self.ratios = Arc::default();
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

/// Error ratios already read, by window: a ratio over a long window barely moves between two
/// refreshes, so it is read again only once `window / RATIO_REFRESH_DIVISOR` has passed (a
/// 30-day ratio hourly) instead of on every refresh of the console.
#[derive(Debug, Default)]
pub struct RatioCache {
    read: BTreeMap<u64, (Instant, BTreeMap<ServingKey, f64>)>,
}

impl RatioCache {
    /// How long a ratio over `window_seconds` is kept.
    #[must_use]
    pub fn keep_for(window_seconds: u64) -> Duration {
        Duration::from_secs(window_seconds / mlops_core::defaults::RATIO_REFRESH_DIVISOR)
    }

    /// The ratio over `window_seconds` read less than its keep time before `now`.
    fn fresh(&self, window_seconds: u64, now: Instant) -> Option<&BTreeMap<ServingKey, f64>> {
        let (at, ratios) = self.read.get(&window_seconds)?;
        (now.saturating_duration_since(*at) < Self::keep_for(window_seconds)).then_some(ratios)
    }

    fn put(&mut self, window_seconds: u64, ratios: &BTreeMap<ServingKey, f64>, at: Instant) {
        if Self::keep_for(window_seconds) > Duration::ZERO {
            self.read.insert(window_seconds, (at, ratios.clone()));
        }
    }
}

impl PrometheusMetrics {
    /// The ratios of `windows` still fresh at `now`, and the windows to read again.
    fn fresh_ratios(
        &self,
        windows: &[u64],
        now: Instant,
    ) -> (BTreeMap<u64, BTreeMap<ServingKey, f64>>, Vec<u64>) {
        let cache = self
            .ratios
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut fresh = BTreeMap::new();
        let mut stale = Vec::new();
        for &secs in windows {
            match cache.fresh(secs, now) {
                Some(r) => {
                    fresh.insert(secs, r.clone());
                }
                None => stale.push(secs),
            }
        }
        (fresh, stale)
    }

    fn keep_ratio(&self, window_seconds: u64, ratios: &BTreeMap<ServingKey, f64>, at: Instant) {
        self.ratios
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(window_seconds, ratios, at);
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
        let now = Instant::now();
        let (mut error_ratios, stale) = self.fresh_ratios(&request.ratio_windows, now);
        let mapping = &m;
        let read = futures::future::join_all(stale.iter().map(|&secs| async move {
            (secs, self.keyed(&mapping.error_ratio_query(secs)).await)
        }))
        .await;
        for (secs, answer) in read {
            match answer {
                Ok(r) => {
                    self.keep_ratio(secs, &r, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ratios(v: f64) -> BTreeMap<ServingKey, f64> {
        BTreeMap::from([(
            ServingKey {
                namespace: "ml-serving".into(),
                model: "churn".into(),
                version: "3".into(),
                track: "stable".into(),
            },
            v,
        )])
    }

    #[test]
    fn long_windows_are_read_again_only_once_a_720th_of_them_has_passed() {
        assert_eq!(RatioCache::keep_for(30 * 86_400), Duration::from_secs(3600));
        assert_eq!(RatioCache::keep_for(3 * 86_400), Duration::from_secs(360));
        assert_eq!(RatioCache::keep_for(3600), Duration::from_secs(5));
        assert_eq!(RatioCache::keep_for(300), Duration::ZERO);

        let p = PrometheusMetrics::new("http://127.0.0.1:1", crate::adapters::http::Auth::None)
            .expect("client");
        let t0 = Instant::now();
        for secs in [300, 3600, 30 * 86_400] {
            p.keep_ratio(secs, &ratios(0.01), t0);
        }
        let windows = [300, 3600, 30 * 86_400];
        let (fresh, stale) = p.fresh_ratios(&windows, t0 + Duration::from_secs(4));
        assert_eq!(stale, vec![300], "the 5-minute ratio is never kept");
        assert_eq!(
            fresh.keys().copied().collect::<Vec<_>>(),
            vec![3600, 30 * 86_400]
        );
        assert_eq!(fresh[&3600], ratios(0.01));

        let (_, stale) = p.fresh_ratios(&windows, t0 + Duration::from_secs(3599));
        assert_eq!(stale, vec![300, 3600]);
        let (_, stale) = p.fresh_ratios(&windows, t0 + Duration::from_secs(3600));
        assert_eq!(
            stale,
            windows.to_vec(),
            "an hour on, the 30-day ratio is read again"
        );

        // Another mapping reads other series: nothing read through the old one is kept.
        let p = p.with_serving(mlops_core::serving::Mapping::builtin(
            mlops_core::serving::Runtime::Triton,
        ));
        let (fresh, _) = p.fresh_ratios(&windows, t0 + Duration::from_secs(4));
        assert!(fresh.is_empty());
    }
}
