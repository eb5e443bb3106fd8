//! Smoke test of the Prometheus adapter against the real Prometheus 2.42 and traffic process
//! started by `tests/env/up`: 6 h of backfilled history plus live scrapes every 5 s. No mocks.
//!
//! The drift test changes the traffic process (`POST /control/drift`); a guard resets it when
//! the test ends, also when it fails.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use mlops_console::adapters::{
    http::Auth,
    prometheus::{DriftWindows, PrometheusMetrics, Series},
};
use mlops_core::{CoreError, drift::DriftStatus, ports::MetricsPort};

/// The longest any test here waits for the live data to move.
const DEADLINE: Duration = Duration::from_secs(90);

fn prometheus() -> PrometheusMetrics {
    PrometheusMetrics::new(common::env().get("MLOPS_PROMETHEUS_URL"), Auth::None)
        .expect("prometheus")
}

use common::{ResetTraffic, traffic};

fn history_range() -> (DateTime<Utc>, DateTime<Utc>) {
    let state = traffic("GET", "/control/state", "");
    let at = |k: &str| {
        DateTime::from_timestamp(state["history"][k].as_i64().expect("history range"), 0)
            .expect("time")
    };
    (at("start"), at("end"))
}

fn one(series: Vec<Series>, what: &str) -> Series {
    assert_eq!(series.len(), 1, "{what}: {series:?}");
    series.into_iter().next().expect("one series")
}

#[tokio::test]
async fn one_series_holds_hours_old_seeded_and_live_samples() {
    let p = prometheus();
    let selector =
        r#"model_requests_total{model="fraud-detector",version="3",track="stable",code="200"}"#;
    let (history_start, history_end) = history_range();
    let now = Utc::now();
    assert!(
        history_end - history_start >= TimeDelta::hours(5),
        "{history_start}..{history_end}"
    );

    // Raw samples an hour into the seeded history, and raw samples of the last minute.
    let seeded_at = history_start + TimeDelta::hours(1);
    let seeded = one(
        p.query(&format!("{selector}[5m]"), Some(seeded_at))
            .await
            .expect("seeded"),
        "seeded",
    );
    let live = one(
        p.query(&format!("{selector}[1m]"), Some(now))
            .await
            .expect("live"),
        "live",
    );
    assert_eq!(
        seeded.labels, live.labels,
        "backfill and scrapes are one series"
    );
    assert!(seeded.samples.len() >= 5, "30 s history steps: {seeded:?}");
    assert!(
        seeded
            .samples
            .iter()
            .all(|s| s.time <= seeded_at && s.time >= seeded_at - TimeDelta::minutes(5))
    );
    assert!(live.samples.len() >= 5, "5 s scrapes: {live:?}");
    assert!(
        live.samples
            .iter()
            .all(|s| s.time > now - TimeDelta::seconds(61))
    );
    let seeded_max = seeded
        .samples
        .iter()
        .map(|s| s.value)
        .fold(f64::MIN, f64::max);
    let live_min = live
        .samples
        .iter()
        .map(|s| s.value)
        .fold(f64::MAX, f64::min);
    assert!(
        seeded_max < live_min,
        "the live counter continues the history: {seeded_max} vs {live_min}"
    );

    // A range query from the history into the present: one series, no gaps, no resets.
    let step = Duration::from_secs(60);
    let range = one(
        p.query_range(selector, seeded_at, now, step)
            .await
            .expect("range"),
        "range",
    );
    let expected_points = (now - seeded_at).num_seconds() / 60 + 1;
    assert_eq!(
        range.samples.len() as i64,
        expected_points,
        "a point every minute"
    );
    assert!(range.samples.first().is_some_and(|s| s.time < history_end));
    assert!(
        range
            .last()
            .is_some_and(|s| s.time > now - TimeDelta::seconds(61))
    );
    assert!(
        range.samples.windows(2).all(|w| w[0].value <= w[1].value),
        "a counter"
    );

    let err = p.query("sum(rate(", None).await.expect_err("bad PromQL");
    let text = err.to_string();
    assert!(
        text.contains("HTTP 400") && text.contains("bad_data") && text.contains("sum(rate("),
        "{text}"
    );
}

#[tokio::test]
async fn gpus_join_the_dcgm_gauges_and_know_their_pods() {
    let p = prometheus();
    // The exporter is scraped every 5 s: while pods come and go (other tests create some), the
    // scraped allocation may lag the traffic process's by a scrape. Wait until they agree.
    let started = Instant::now();
    let (gpus, state) = loop {
        let gpus = p.gpus().await.expect("gpus");
        let state = traffic("GET", "/control/state", "");
        let pods = |v: Vec<String>| v.into_iter().collect::<std::collections::BTreeSet<_>>();
        let scraped = pods(
            gpus.iter()
                .map(|g| format!("{}={}", g.uuid, g.pod.clone().unwrap_or_default()))
                .collect(),
        );
        let truth = pods(
            state["gpus"]
                .as_array()
                .expect("gpus")
                .iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        t["uuid"].as_str().unwrap_or(""),
                        t["pod"].as_str().unwrap_or("")
                    )
                })
                .collect(),
        );
        if scraped == truth || started.elapsed() > DEADLINE {
            break (gpus, state);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let truth = state["gpus"].as_array().expect("gpus");
    assert_eq!(gpus.len(), truth.len(), "one per GPU the exporter serves");
    for t in truth {
        let uuid = t["uuid"].as_str().expect("uuid");
        let g = gpus
            .iter()
            .find(|g| g.uuid == uuid)
            .unwrap_or_else(|| panic!("{uuid} missing"));
        assert_eq!(g.node, t["node"].as_str().expect("node"));
        assert_eq!(i64::from(g.index), t["gpu"].as_i64().expect("gpu"));
        let pod = t["pod"].as_str().expect("pod");
        assert_eq!(g.pod.as_deref().unwrap_or(""), pod, "{g:?}");
        assert!(
            g.mem_total_mib > 0.0 && g.mem_used_mib <= g.mem_total_mib,
            "{g:?}"
        );
        assert!(g.power_w > 0.0 && g.temp_c > 0.0, "{g:?}");
        if t["idle"].as_bool() == Some(true) {
            assert!(
                g.is_allocated_idle(),
                "the traffic process says idle: {g:?}"
            );
        }
    }
    let allocated: Vec<_> = gpus.iter().filter(|g| g.is_allocated()).collect();
    assert!(!allocated.is_empty(), "{gpus:?}");
    // The k8s seed runs fraud-detector v3 as stable (pods labelled so); the metrics alone must
    // say the same.
    let fraud: Vec<_> = allocated
        .iter()
        .filter(|g| {
            g.pod
                .as_deref()
                .is_some_and(|p| p.starts_with("fraud-detector-"))
        })
        .collect();
    assert!(!fraud.is_empty(), "{allocated:?}");
    for g in fraud {
        assert_eq!(
            (g.model.as_deref(), g.version),
            (Some("fraud-detector"), Some(3)),
            "{g:?}"
        );
        assert_eq!(g.namespace.as_deref(), Some("ml-serving"));
    }
}

/// The fraud-detector v3 drift of one feature, polled until `done` says yes or the deadline.
async fn poll_feature(
    p: &PrometheusMetrics,
    feature: &str,
    done: impl Fn(f64) -> bool,
) -> (f64, Vec<mlops_core::model::FeatureDrift>) {
    let started = Instant::now();
    loop {
        let all = p.drift().await.expect("drift");
        let psi = all
            .iter()
            .find(|d| d.model == "fraud-detector" && d.version == 3 && d.feature == feature)
            .unwrap_or_else(|| panic!("fraud-detector v3 {feature} in {all:?}"))
            .report
            .psi;
        if done(psi) || started.elapsed() > DEADLINE {
            return (psi, all);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

#[tokio::test]
async fn drift_follows_a_shift_of_the_live_feature() {
    // A one-minute current window so a shift shows within about a minute.
    let p = prometheus().with_drift_windows(DriftWindows {
        current: Duration::from_secs(60),
        history: Duration::from_secs(10 * 60),
        history_step: Duration::from_secs(60),
        ..DriftWindows::default()
    });
    traffic("POST", "/control/reset", "{}");
    let _reset = ResetTraffic;

    let (psi, before) = poll_feature(&p, "amount", |psi| psi < 0.02).await;
    assert!(psi < 0.02, "no drift before the shift: PSI {psi}");
    // Each served version's own features (a canary's rows against its stable are others). A
    // version an earlier test served may still have traffic in the window: every version of a
    // model has its 3 features, however many versions there are.
    let mut features: std::collections::BTreeMap<(&str, u32), Vec<&str>> =
        std::collections::BTreeMap::default();
    for d in before.iter().filter(|d| !d.is_canary_vs_stable()) {
        features
            .entry((d.model.as_str(), d.version))
            .or_default()
            .push(d.feature.as_str());
    }
    for m in ["fraud-detector", "churn-model", "recsys-ranker"] {
        let of_m: Vec<_> = features.iter().filter(|((x, _), _)| *x == m).collect();
        assert!(!of_m.is_empty(), "{m} is served: {features:?}");
        for ((_, v), f) in of_m {
            assert_eq!(f.len(), 3, "3 features of {m} v{v}: {features:?}");
        }
    }
    let amount = before
        .iter()
        .find(|d| d.model == "fraud-detector" && d.feature == "amount")
        .expect("amount");
    assert_eq!(amount.report.status, DriftStatus::Ok, "{:?}", amount.report);
    assert_eq!(amount.edges.len(), amount.reference_counts.len() + 1);
    assert!(
        amount.report.reference_len > 100_000,
        "hours of reference traffic: {:?}",
        amount.report
    );
    assert_eq!(amount.psi_history.last().copied(), Some(amount.report.psi));

    let answer = traffic(
        "POST",
        "/control/drift",
        r#"{"model":"fraud-detector","feature":"amount","shift":2.0}"#,
    );
    assert!(
        !answer["matched"].as_array().is_none_or(Vec::is_empty),
        "{answer}"
    );

    let (psi, after) = poll_feature(&p, "amount", |psi| psi > 0.5).await;
    assert!(psi > 0.5, "a 2 sd shift drifts the feature: PSI {psi}");
    let drifted = after
        .iter()
        .find(|d| d.model == "fraud-detector" && d.feature == "amount")
        .expect("amount");
    assert_eq!(
        drifted.report.status,
        DriftStatus::Drifted,
        "{:?}",
        drifted.report
    );
    assert!(
        drifted.report.wasserstein_normed > 0.5,
        "{:?}",
        drifted.report
    );
    let other = after
        .iter()
        .find(|d| d.model == "fraud-detector" && d.feature == "merchant_risk")
        .expect("merchant_risk");
    assert!(
        other.report.psi < 0.02,
        "only the shifted feature moves: {:?}",
        other.report
    );
}

#[tokio::test]
async fn rollout_series_come_from_the_traffic_metrics() {
    let p = prometheus();
    // fraud-detector v3 serves as stable: as a "canary" name it has all the traffic and no
    // other stable version to compare with.
    let s = p
        .rollout_series("test", "fraud-detector-v3")
        .await
        .expect("series");
    assert_eq!(s.times.len(), 181, "30 min at 10 s");
    assert_eq!(s.canary_error_rate.len(), s.times.len());
    let recent = |v: &[f64]| v[v.len() - 6..].to_vec();
    for e in recent(&s.canary_error_rate) {
        assert!((0.0..0.2).contains(&e), "5xx share of live traffic: {e}");
    }
    for ms in recent(&s.canary_p99_ms) {
        assert!(ms > 1.0 && ms < 10_000.0, "p99 in ms: {ms}");
    }
    assert!(
        s.stable_error_rate.iter().all(|v| v.is_nan()),
        "no other stable version"
    );

    let err = p
        .rollout_series("test", "no-such-model-v1")
        .await
        .expect_err("unknown");
    assert!(
        matches!(
            err,
            CoreError::NotFound {
                kind: "rollout",
                ..
            }
        ),
        "{err}"
    );
    let err = p
        .rollout_series("test", "not-a-rollout-name")
        .await
        .expect_err("bad name");
    assert!(err.to_string().contains("<model>-v<version>"), "{err}");
}

#[tokio::test]
async fn failures_name_the_endpoint_the_status_and_the_cause() {
    let closed = PrometheusMetrics::new("http://127.0.0.1:1", Auth::None).expect("client");
    let text = closed.gpus().await.expect_err("refused").to_string();
    assert!(
        text.starts_with("prometheus: ")
            && text.contains("GET /api/v1/query")
            && text.contains("at http://127.0.0.1:1"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("connection refused"), "{text}");

    // The traffic process is an HTTP server, but not a Prometheus.
    let wrong =
        PrometheusMetrics::new(common::env().get("MLOPS_TRAFFIC_URL"), Auth::None).expect("client");
    let text = wrong.query("up", None).await.expect_err("404").to_string();
    assert!(
        text.contains("HTTP 404 Not Found") && text.contains("GET /api/v1/query `up`"),
        "{text}"
    );
}
