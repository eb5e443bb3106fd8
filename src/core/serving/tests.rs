use std::collections::BTreeMap;

use chrono::Utc;

use super::{
    rules::{ALERT_NAME, rules},
    runtime::{Mapping, Runtime, check_query},
    slo::{Alert, SloConfig, SloSpec, alert, status},
    *,
};
use crate::model::{Deployment, Pod, PodPhase, Track};

fn key(model: &str, version: &str, track: &str) -> ServingKey {
    ServingKey::new("ml", model, version, track)
}

#[test]
fn quantiles_interpolate_within_a_bucket_as_prometheus_does() {
    // 100 observations: 50 under 0.1 s, 90 under 0.5 s, all under 1 s.
    let b = [
        (0.1, 50.0),
        (0.5, 90.0),
        (1.0, 100.0),
        (f64::INFINITY, 100.0),
    ];
    assert!((histogram_quantile(0.5, &b).expect("p50") - 0.1).abs() < 1e-9);
    // rank 95: between 0.5 (90) and 1.0 (100): 0.5 + 0.5 × 5/10.
    assert!((histogram_quantile(0.95, &b).expect("p95") - 0.75).abs() < 1e-9);
    // In +Inf: the highest finite bound.
    let tail = [(0.1, 10.0), (f64::INFINITY, 100.0)];
    assert_eq!(histogram_quantile(0.99, &tail), Some(0.1));
    assert_eq!(
        histogram_quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]),
        None
    );
    assert_eq!(
        histogram_quantile(0.5, &[(0.1, 3.0)]),
        None,
        "no +Inf bucket"
    );
}

#[test]
fn burn_windows_scale_with_the_slo_window_and_never_go_under_a_minute() {
    let month = SloSpec::default();
    assert_eq!(month.burn_windows()[2], ("1h", 3600));
    let day = SloSpec {
        objective: 0.99,
        window_days: 1.0,
    };
    let w: BTreeMap<_, _> = day.burn_windows().into_iter().collect();
    assert_eq!(w["1h"], 120);
    assert_eq!(w["5m"], 60, "10 s is clamped to a minute");
    assert_eq!(w["6h"], 720);
}

#[test]
fn alerts_need_both_windows_of_a_pair() {
    let burn = |pairs: &[(&str, f64)]| -> BTreeMap<String, Option<f64>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), Some(*v)))
            .collect()
    };
    assert_eq!(alert(&burn(&[("1h", 15.0), ("5m", 20.0)])), Alert::Page);
    assert_eq!(
        alert(&burn(&[("1h", 15.0), ("5m", 2.0)])),
        Alert::None,
        "the short window says it stopped"
    );
    assert_eq!(alert(&burn(&[("6h", 6.5), ("30m", 7.0)])), Alert::Page);
    assert_eq!(alert(&burn(&[("1d", 3.5), ("2h", 4.0)])), Alert::Ticket);
    assert_eq!(
        alert(&burn(&[
            ("1h", 20.0),
            ("5m", 20.0),
            ("3d", 1.5),
            ("6h", 1.5)
        ])),
        Alert::Page,
        "the most severe wins"
    );
    let mut missing = burn(&[("1h", 20.0)]);
    missing.insert("5m".into(), None);
    assert_eq!(alert(&missing), Alert::None);
}

#[test]
fn the_status_reads_burn_and_budget_from_the_ratios() {
    let spec = SloSpec {
        objective: 0.99,
        window_days: 30.0,
    };
    let k = key("fraud", "7", "canary");
    let mut ratios: BTreeMap<u64, BTreeMap<ServingKey, f64>> = BTreeMap::new();
    for (_, secs) in spec.burn_windows() {
        ratios.entry(secs).or_default().insert(k.clone(), 0.2);
    }
    ratios
        .entry(spec.window_seconds())
        .or_default()
        .insert(k.clone(), 0.0025);
    let s = status(&spec, &k, &ratios);
    assert!((s.burn["1h"].expect("1h") - 20.0).abs() < 1e-9);
    assert_eq!(s.alert, Alert::Page);
    assert!((s.budget_remaining.expect("budget") - 0.75).abs() < 1e-9);
}

#[test]
fn annotations_override_config_and_bad_ones_are_named() {
    let config = SloConfig {
        default: SloSpec::default(),
        models: BTreeMap::from([(
            "fraud".to_string(),
            SloSpec {
                objective: 0.999,
                window_days: 30.0,
            },
        )]),
    };
    assert!((config.spec_for("fraud", None).0.objective - 0.999).abs() < 1e-12);
    assert_eq!(config.spec_for("other", None).0, SloSpec::default());
    let (spec, problem) = config.spec_for("fraud", Some("objective=99%, window=7d"));
    assert_eq!(problem, None);
    assert!((spec.objective - 0.99).abs() < 1e-12);
    assert!((spec.window_days - 7.0).abs() < 1e-12);
    let (spec, problem) = config.spec_for("fraud", Some("objective=1.5"));
    assert!(
        (spec.objective - 0.999).abs() < 1e-12,
        "a bad annotation is ignored"
    );
    assert!(problem.expect("problem").contains("objective \"1.5\""));
    let (_, problem) = config.spec_for("fraud", Some("budget=3"));
    assert!(problem.expect("problem").contains("unknown key \"budget\""));
}

fn deployment(model: &str, version: u32, track: Track, ready: u32) -> Deployment {
    Deployment {
        name: format!("{model}-{}", track.as_str()),
        namespace: "ml".into(),
        cluster: "uae".into(),
        model: model.into(),
        version,
        track,
        replicas: 2,
        ready_replicas: ready,
        image: String::new(),
        slo: None,
    }
}

fn signal(k: ServingKey, rps: f64, eps: f64) -> Signal {
    Signal {
        key: k,
        requests_per_second: Some(rps),
        errors_per_second: Some(eps),
        latency: Some(LatencySignal::Buckets(vec![
            (0.1, rps * 0.5),
            (0.5, rps),
            (f64::INFINITY, rps),
        ])),
    }
}

#[test]
fn health_puts_the_worst_first_and_never_invents_zeros() {
    let slos = SloConfig::default();
    let bad = key("fraud", "8", "canary");
    let mut ratios: BTreeMap<u64, BTreeMap<ServingKey, f64>> = BTreeMap::new();
    for secs in slos.ratio_windows() {
        ratios.entry(secs).or_default().insert(bad.clone(), 0.5);
    }
    let signals = Signals {
        current: vec![
            signal(key("fraud", "7", "stable"), 90.0, 0.1),
            signal(bad.clone(), 10.0, 5.0),
        ],
        error_ratios: ratios,
        source: SignalSource {
            runtime: "default".into(),
            latency: "histogram".into(),
            queries: BTreeMap::new(),
            series: vec!["model_requests_total".into()],
        },
        ..Signals::default()
    };
    let deployments = vec![
        deployment("fraud", 7, Track::Stable, 2),
        deployment("fraud", 8, Track::Canary, 1),
        deployment("churn", 3, Track::Stable, 2),
    ];
    let pods = vec![Pod {
        name: "fraud-canary-0".into(),
        namespace: "ml".into(),
        cluster: "uae".into(),
        node: Some("n".into()),
        phase: PodPhase::Running,
        model: Some("fraud".into()),
        version: Some(8),
        track: Track::Canary,
        gpus: 2,
        image: String::new(),
    }];
    let report = assemble(
        &signals,
        &Inputs {
            cluster: "uae",
            deployments: &deployments,
            pods: &pods,
            slos: &slos,
            window_seconds: 300,
            now: Utc::now(),
        },
    );
    let order: Vec<(&str, &str)> = report
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.version.as_str()))
        .collect();
    assert_eq!(order, [("fraud", "8"), ("churn", "3"), ("fraud", "7")]);
    let canary = &report.models[0];
    assert_eq!(canary.slo.as_ref().map(|s| s.alert), Some(Alert::Page));
    assert!((canary.error_ratio.expect("ratio") - 0.5).abs() < 1e-9);
    assert_eq!(
        canary.replicas,
        Some(Replicas {
            ready: 1,
            desired: 2
        })
    );
    assert_eq!(canary.gpus, 2);
    assert!(canary.latency_seconds.p99.is_some());
    let churn = &report.models[1];
    assert_eq!(churn.requests_per_second, None, "no series: no number");
    assert_eq!(churn.error_ratio, None);
    assert_eq!(churn.slo, None);
    assert!(
        churn
            .source
            .missing
            .as_deref()
            .is_some_and(|m| m.contains("no series for churn v3 (stable)")),
        "{churn:?}"
    );
    assert_eq!(
        report.paging_models().into_iter().collect::<Vec<_>>(),
        ["fraud"]
    );
}

#[test]
fn a_runtime_without_any_series_says_so() {
    let signals = Signals {
        source: SignalSource {
            runtime: "triton".into(),
            latency: "mean".into(),
            queries: BTreeMap::new(),
            series: vec!["nv_inference_request_success".into()],
        },
        ..Signals::default()
    };
    let report = assemble(
        &signals,
        &Inputs {
            cluster: "uae",
            deployments: &[],
            pods: &[],
            slos: &SloConfig::default(),
            window_seconds: 300,
            now: Utc::now(),
        },
    );
    assert!(
        report.warnings[0].starts_with("no series for nv_inference_request_success"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn user_queries_are_checked_and_replace_the_runtimes() {
    assert!(check_query("requests", "sum(rate(x[$window]))").is_ok());
    assert!(check_query("requests", "sum(rate(x[5m]))").is_err());
    assert!(check_query("errors", "sum(rate(x[$window])").is_err());
    assert!(check_query("errors", "sum(rate(x{a=\")\"}[$window]))").is_ok());
    let m = Mapping::builtin(Runtime::Default)
        .with_queries(
            &BTreeMap::from([(
                "latency_mean".to_string(),
                "sum by (model, version, track) (rate(my_latency_sum[$window])) / sum by (model, version, track) (rate(my_latency_count[$window]))".to_string(),
            )]),
            Some(0.001),
        )
        .expect("valid");
    assert_eq!(m.latency_form(), LatencyForm::Mean);
    assert_eq!(m.latency_buckets, None);
    assert!(
        m.series.contains(&"my_latency_sum".to_string()),
        "{:?}",
        m.series
    );
    assert!(
        Mapping::builtin(Runtime::Default)
            .with_queries(&BTreeMap::from([("p99".into(), "x[$window]".into())]), None)
            .is_err()
    );
}

#[test]
fn every_builtin_runtime_has_balanced_queries_with_a_window() {
    for r in [
        Runtime::Default,
        Runtime::Kserve,
        Runtime::Triton,
        Runtime::Seldon,
        Runtime::Bentoml,
    ] {
        let m = Mapping::builtin(r);
        for (signal, q) in m.queries() {
            check_query(&signal, &q).unwrap_or_else(|e| panic!("{}: {e}", r.as_str()));
        }
        assert!(!m.series.is_empty());
    }
}

#[test]
fn rules_record_each_window_and_alert_per_objective() {
    let slos = SloConfig {
        default: SloSpec::default(),
        models: BTreeMap::from([(
            "fraud".to_string(),
            SloSpec {
                objective: 0.99,
                window_days: 1.0,
            },
        )]),
    };
    let file = rules(&slos, &Mapping::builtin(Runtime::Default));
    let records: Vec<&str> = file.groups[0]
        .rules
        .iter()
        .filter_map(|r| r.record.as_deref())
        .collect();
    for name in [
        "slo:sli_error:ratio_rate5m",
        "slo:sli_error:ratio_rate1h",
        "slo:sli_error:ratio_rate3d",
        "slo:sli_error:ratio_rate2m",
        "slo:sli_error:ratio_rate30d",
        "slo:objective:ratio",
    ] {
        assert!(records.contains(&name), "{name} in {records:?}");
    }
    let alerts = &file.groups[1].rules;
    assert_eq!(
        alerts.len(),
        4,
        "page and ticket for the default and for fraud"
    );
    assert!(
        alerts
            .iter()
            .all(|a| a.alert.as_deref() == Some(ALERT_NAME))
    );
    let default_page = &alerts[0].expr;
    assert!(default_page.contains("model!~\"fraud\""), "{default_page}");
    assert!(default_page.contains("(14.4 * 0.005"), "{default_page}");
    let fraud_page = &alerts[2].expr;
    assert!(
        fraud_page.contains("slo:sli_error:ratio_rate2m{model=\"fraud\"} > (14.4 * 0.01"),
        "{fraud_page}"
    );
}
