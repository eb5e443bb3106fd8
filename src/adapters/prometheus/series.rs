//! Canary-versus-stable series for a rollout's detail view.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{RATE_WINDOW, Series, promql_string};

/// `<model>-v<version>` → (model, version).
pub(super) fn parse_rollout_name(name: &str) -> Option<(&str, u32)> {
    let (model, version) = name.rsplit_once("-v")?;
    (!model.is_empty())
        .then_some(())
        .and_then(|()| version.parse().ok())
        .map(|v| (model, v))
}

/// The four queries of a rollout: canary = the new version on any track, stable = the model's
/// stable track serving another version.
pub(super) fn rollout_queries(model: &str, version: u32) -> [String; 4] {
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
pub(super) fn on_grid(series: &[Series], times: &[DateTime<Utc>]) -> Vec<f64> {
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
