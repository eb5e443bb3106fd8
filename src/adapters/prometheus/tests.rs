use mlops_core::drift;

use super::*;
use crate::adapters::http::Failure;

fn ok(body: &str) -> Vec<Series> {
    parse_response(reqwest::StatusCode::OK, body.as_bytes()).expect("parse")
}

/// The error of an answer, in words.
fn parse_err(status: reqwest::StatusCode, body: &[u8]) -> String {
    parse_response(status, body)
        .map(|_| ())
        .map_err(|f: Failure| f.to_string())
        .expect_err("an error")
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
    let err = parse_err(
        reqwest::StatusCode::BAD_REQUEST,
        br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}"#,
    );
    assert_eq!(
        err,
        "HTTP 400 Bad Request: bad_data: 1:5: parse error: unclosed left parenthesis"
    );
    let err = parse_err(
        reqwest::StatusCode::BAD_GATEWAY,
        b"<html>bad gateway</html>",
    );
    assert!(err.starts_with("HTTP 502 Bad Gateway: <html>"), "{err}");
    let err = parse_err(
        reqwest::StatusCode::OK,
        b"{\"status\":\"success\",\"data\":{",
    );
    assert!(err.starts_with("malformed response"), "{err}");
    let err = parse_err(
        reqwest::StatusCode::OK,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"high"]}]}}"#,
    );
    assert!(err.contains("\"high\" is not a number"), "{err}");
    let err = parse_err(
        reqwest::StatusCode::OK,
        br#"{"status":"success","data":{"resultType":"string","result":[1,"abc"]}}"#,
    );
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
    let mut out = map_drift(&reference, &current, &VersionProfiles::new()).0;
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
    let d = &map_drift(&reference, &current, &VersionProfiles::new()).0[0];
    assert_eq!(d.report.status, drift::DriftStatus::Ok);
    assert!(d.report.psi.abs() < 1e-12 && d.report.js_distance < 1e-6);
    assert!(d.report.ks.statistic < 1e-12 && d.report.wasserstein_normed < 1e-12);
    assert!(
        map_drift(&[], &current, &VersionProfiles::new())
            .0
            .is_empty(),
        "no reference, no report"
    );
    let empty = buckets("f", &bounds, &[(100, &[0.0; 4])]);
    assert!(
        map_drift(&reference, &empty, &VersionProfiles::new())
            .0
            .is_empty(),
        "no current traffic, no report"
    );
}

/// A version with a profile in the registry is compared with it (spread over the live
/// buckets), not with the reference window; a feature the profile lacks keeps the window.
#[test]
fn a_versions_profile_is_the_reference_where_it_has_the_feature() {
    let bounds = ["1", "2", "3"];
    let live = [10.0, 40.0, 40.0, 10.0];
    let current = [
        buckets("f", &bounds, &[(100, &live)]),
        buckets("g", &bounds, &[(100, &live)]),
    ]
    .concat();
    let reference = [
        buckets("f", &bounds, &[(0, &live)]),
        buckets("g", &bounds, &[(0, &live)]),
    ]
    .concat();
    // The training data: f lies between 0 and 4, evenly — unlike the live traffic.
    let profile = drift::profile::Profile {
        format: drift::profile::FORMAT.into(),
        source: "train".into(),
        rows: 400,
        columns: vec![drift::profile::ColumnProfile {
            column: "f".into(),
            kind: drift::method::Kind::Numeric,
            rows: 400,
            missing: 0,
            unique: 400,
            edges: vec![0.0, 2.0, 4.0],
            counts: vec![200, 200],
            categories: std::collections::BTreeMap::new(),
        }],
    };
    let profiles = VersionProfiles::from([(
        ("fraud-detector".to_string(), 3),
        ("fraud-train@abc".to_string(), profile),
    )]);
    let out = map_drift(&reference, &current, &profiles).0;
    let f = out.iter().find(|d| d.feature == "f").expect("f");
    let g = out.iter().find(|d| d.feature == "g").expect("g");
    assert_eq!(f.reference, "profile fraud-train@abc");
    assert_eq!(f.reference_counts, vec![100.0, 100.0, 100.0, 100.0]);
    let expected = drift::psi_from_counts(&[100.0; 4], &live).expect("psi");
    assert!((f.report.psi - expected).abs() < 1e-12 && f.report.psi > 0.1);
    assert_eq!(g.reference, "window");
    assert!(g.report.psi.abs() < 1e-12);
    // Without a reference window, a profiled feature is still compared.
    let out = map_drift(&[], &current, &profiles).0;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].feature, "f");
}

/// Finding 18 of the second probe: every feature either has a row or a warning that names it
/// and says why; a profile that cannot be used is named too (it used to fall back to the
/// window without a word).
#[test]
fn every_feature_left_out_is_named_with_the_reason() {
    let bounds = ["1", "2", "3"];
    let live = [10.0, 40.0, 40.0, 10.0];
    let good = |f: &str, t: i64| buckets(f, &bounds, &[(t, &live)]);
    let only = |f: &str, t: i64, les: &[(&str, f64)]| -> Vec<Series> {
        les.iter()
            .map(|(le, v)| bucket(&[(t, *v)], f, le))
            .collect()
    };
    let mut reference = [good("ok", 0), good("reversed", 0), good("idle", 0)].concat();
    let mut current = [good("ok", 100), good("reversed", 100)].concat();
    current.extend(buckets("idle", &bounds, &[(100, &[0.0; 4])]));
    for (feature, les) in [
        ("no_inf", vec![("1", 10.0), ("2", 50.0)]),
        ("one_bucket", vec![("+Inf", 50.0)]),
        ("negative", vec![("1", -5.0), ("2", 50.0), ("+Inf", 60.0)]),
        ("nan", vec![("1", f64::NAN), ("2", 50.0), ("+Inf", 60.0)]),
        ("huge", vec![("1", 1e308), ("2", 1e308), ("+Inf", 1e308)]),
    ] {
        reference.extend(only(feature, 0, &les));
        current.extend(only(feature, 100, &les));
    }
    current.extend(good("no_reference", 100));
    let mut profile = drift::profile::Profile {
        format: drift::profile::FORMAT.into(),
        source: "train".into(),
        rows: 400,
        columns: vec![drift::profile::ColumnProfile {
            column: "reversed".into(),
            kind: drift::method::Kind::Numeric,
            rows: 400,
            missing: 0,
            unique: 400,
            edges: vec![4.0, 2.0, 0.0],
            counts: vec![200, 200],
            categories: std::collections::BTreeMap::new(),
        }],
    };
    profile.rows = 400;
    let profiles = VersionProfiles::from([(
        ("fraud-detector".to_string(), 3),
        ("fraud-train@abc".to_string(), profile),
    )]);
    let (out, warnings) = map_drift(&reference, &current, &profiles);
    let compared: Vec<&str> = out.iter().map(|d| d.feature.as_str()).collect();
    // A bucket that is not a count is left out and the rest compared, with a warning.
    assert_eq!(
        compared,
        ["nan", "negative", "ok", "reversed"],
        "{warnings:#?}"
    );
    let reversed = out.iter().find(|d| d.feature == "reversed").expect("row");
    assert_eq!(reversed.reference, "window");
    let said = |feature: &str, why: &str| {
        let name = format!("fraud-detector v3 {feature}: ");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&name) && w.contains(why)),
            "{feature}: {why}: {warnings:#?}"
        );
    };
    said(
        "reversed",
        "the training data profile fraud-train@abc cannot be used (its column's edges are unsorted",
    );
    said("reversed", "compared with the reference window");
    said(
        "no_inf",
        "not compared: the reference window's histogram has no +Inf bucket",
    );
    said(
        "one_bucket",
        "not compared: the reference window's histogram has only one bucket",
    );
    for bad in ["negative", "nan"] {
        said(
            bad,
            "bucket counts that are not counts (NaN, infinite, negative or above 2^53) were left out",
        );
    }
    said("huge", "not compared: bucket counts that are not counts");
    said(
        "idle",
        "not compared: no observations in the current window",
    );
    said(
        "no_reference",
        "not compared: no histogram in the reference window",
    );
    assert!(
        !warnings.iter().any(|w| w.contains(" ok: ")),
        "{warnings:#?}"
    );
    assert_eq!(warnings.len(), 8, "{warnings:#?}");
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
    assert_eq!(*p.endpoint.auth(), Auth::Bearer("tok-secret".into()));
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

#[test]
fn impossible_samples_and_gauges_read_as_missing() {
    // One sample at time 1e300 among good ones took the whole GPUs view down.
    let out = ok(
        r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"gpu":"0"},"value":[1e300,"1"]},
            {"metric":{"gpu":"1"},"value":[1700000000,"2"]}]}}"#,
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].label("gpu"), "1");
    // NaN, infinite, negative and absurd gauges are missing, not "NaN%" or "inf%".
    let mut series_in = Vec::new();
    for (gpu, util) in [
        ("0", f64::NAN),
        ("1", f64::INFINITY),
        ("2", -5.0),
        ("3", 1e308),
    ] {
        series_in.push(dcgm(DCGM_UTIL, gpu, &format!("GPU-{gpu}"), "", util));
        series_in.push(dcgm(DCGM_POWER, gpu, &format!("GPU-{gpu}"), "", util));
    }
    series_in.push(dcgm(DCGM_UTIL, "4", "GPU-4", "", 55.0));
    let gpus = map_gpus(&series_in, &[], "c");
    assert_eq!(gpus.len(), 5);
    for g in &gpus[..4] {
        assert!(g.util_pct.is_nan() && g.power_w.is_nan(), "{g:?}");
    }
    assert!((gpus[4].util_pct - 55.0).abs() < 1e-9);
}

#[test]
fn drift_ignores_buckets_that_are_not_counts() {
    let reference = buckets("x", &["1", "2"], &[(100, &[f64::NAN, f64::INFINITY, -3.0])]);
    let current = buckets("x", &["1", "2"], &[(200, &[f64::NAN, 1.0, 2.0])]);
    for d in map_drift(&reference, &current, &VersionProfiles::new()).0 {
        assert!(
            d.report.psi.is_finite() && d.psi_history.iter().all(|p| p.is_finite()),
            "{d:?}"
        );
    }
}

/// dcgm-exporter 1.x and some relabelling setups: `hostname`, `pod_name`, `pod_namespace`,
/// `container_name`.
fn old_style(name: &str, value: f64, extra: &[(&str, &str)]) -> Series {
    let mut labels = vec![
        ("__name__", name),
        ("gpu", "2"),
        ("hostname", "gpu-node-b"),
        ("pod_name", "fraud-detector-5d9c-x2"),
        ("pod_namespace", "ml-serving"),
        ("container_name", "server"),
    ];
    labels.extend_from_slice(extra);
    series(&labels, &[(100, value)])
}

#[test]
fn lowercase_hostname_and_older_pod_labels_name_node_and_workload() {
    let gpus = map_gpus(
        &[
            old_style(DCGM_UTIL, 42.0, &[]),
            old_style(DCGM_FB_USED, 1000.0, &[]),
            old_style(DCGM_FB_FREE, 3000.0, &[]),
        ],
        &[],
        "c",
    );
    assert_eq!(
        gpus.len(),
        1,
        "one GPU without a UUID, keyed by node and index"
    );
    let g = &gpus[0];
    assert_eq!(
        (g.node.as_str(), g.index, g.uuid.as_str()),
        ("gpu-node-b", 2, "")
    );
    assert_eq!(
        (
            g.pod.as_deref(),
            g.namespace.as_deref(),
            g.container.as_deref()
        ),
        (
            Some("fraud-detector-5d9c-x2"),
            Some("ml-serving"),
            Some("server")
        )
    );
    assert!((g.util_pct - 42.0).abs() < 1e-12);
    assert!((g.mem_total_mib - 4000.0).abs() < 1e-12);
}

#[test]
fn current_labels_win_over_older_ones_and_exported_ones_over_both() {
    // Both spellings: the current one wins.
    let both = old_style(
        DCGM_UTIL,
        1.0,
        &[
            ("Hostname", "gpu-node-a"),
            ("pod", "churn-model-1"),
            ("namespace", "prod"),
            ("container", "main"),
        ],
    );
    let g = &map_gpus(&[both], &[], "c")[0];
    assert_eq!(
        (
            g.node.as_str(),
            g.pod.as_deref(),
            g.namespace.as_deref(),
            g.container.as_deref()
        ),
        (
            "gpu-node-a",
            Some("churn-model-1"),
            Some("prod"),
            Some("main")
        )
    );
    // Service discovery renamed the older exporter's labels: `exported_pod_name` wins.
    let exported = old_style(
        DCGM_UTIL,
        1.0,
        &[
            ("exported_pod_name", "recsys-ranker-7"),
            ("exported_pod_namespace", "ranking"),
        ],
    );
    let g = &map_gpus(&[exported], &[], "c")[0];
    assert_eq!(
        (g.pod.as_deref(), g.namespace.as_deref()),
        (Some("recsys-ranker-7"), Some("ranking"))
    );
}

#[test]
fn util_history_is_keyed_like_the_gauges_in_every_label_spelling() {
    let mut range = old_style(DCGM_UTIL, 0.0, &[]);
    range.samples.push(Sample {
        time: DateTime::from_timestamp(160, 0).expect("time"),
        value: f64::NAN,
    });
    let unallocated = series(
        &[
            ("__name__", DCGM_UTIL),
            ("gpu", "0"),
            ("UUID", "GPU-z"),
            ("Hostname", "gpu-node-a"),
        ],
        &[(100, 0.0)],
    );
    let history = map_util_history(&[range.clone(), unallocated]);
    let gauges = map_gpus(&[range], &[], "c");
    assert_eq!(
        history[0].key,
        mlops_core::gpu::gpu_key(&gauges[0].uuid, &gauges[0].node, "2")
    );
    assert_eq!(history[0].pod.as_deref(), Some("fraud-detector-5d9c-x2"));
    assert_eq!(history[0].namespace.as_deref(), Some("ml-serving"));
    assert_eq!(history[0].points.len(), 2);
    assert!(
        history[0].points[1].1.is_nan(),
        "kept, and the core skips it"
    );
    assert_eq!(history[0].points[1].0.timestamp(), 160, "with its instant");
    assert_eq!(
        (history[1].key.as_str(), history[1].pod.as_deref()),
        ("GPU-z", None)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Any answer body — bytes, or Prometheus's envelope around any result — parses or fails
    /// with a reason, never a panic.
    #[test]
    fn any_answer_is_parsed_or_refused_without_a_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        kind in proptest::sample::select(vec!["vector", "matrix", "scalar", "string", "streams", ""]),
        result in "[\\[\\]{}\",:0-9a-z.eE+ -]{0,120}",
        code in proptest::sample::select(vec![200u16, 400, 422, 500, 503]),
    ) {
        let status = reqwest::StatusCode::from_u16(code).unwrap_or(reqwest::StatusCode::OK);
        let _ = parse_response(status, &bytes);
        let body = format!(r#"{{"status":"success","data":{{"resultType":"{kind}","result":{result}}}}}"#);
        let _ = parse_response(status, body.as_bytes());
        let body = format!(r#"{{"status":"success","data":{{"resultType":"{kind}","result":[{{"metric":{{"__name__":"x"}},"value":{result}}}]}}}}"#);
        let _ = parse_response(status, body.as_bytes());
    }
}

/// Cumulative buckets of `fraud-detector` `amount` for one version on one track.
fn on_track(version: &str, track: &str, bins: &[f64], times: &[i64]) -> Vec<Series> {
    let mut cum = 0.0;
    let les = ["1", "2", "3", "+Inf"];
    les.iter()
        .zip(bins)
        .map(|(le, n)| {
            cum += n;
            let points: Vec<(i64, f64)> = times.iter().map(|t| (*t, cum)).collect();
            series(
                &[
                    ("model", "fraud-detector"),
                    ("version", version),
                    ("track", track),
                    ("feature", "amount"),
                    ("le", le),
                ],
                &points,
            )
        })
        .collect()
}

/// The current window split by track gives each model's canary against its stable (the
/// stable's histogram the reference, PSI per point the history), and each version's own
/// drift summed over the tracks it was on.
#[test]
fn the_canary_track_is_compared_with_the_stable_track() {
    let stable = [100.0, 400.0, 400.0, 100.0];
    let canary = [300.0, 400.0, 200.0, 100.0];
    let mut current = on_track("3", "stable", &stable, &[100, 200]);
    current.extend(on_track("4", "canary", &canary, &[100, 200]));
    let rows = map_tracks(&current);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let d = &rows[0];
    assert!(d.is_canary_vs_stable());
    assert_eq!((d.version, d.reference.as_str()), (4, "stable v3"));
    assert_eq!(d.reference_counts, stable.to_vec());
    assert_eq!(d.current_counts, canary.to_vec());
    let want = drift::psi_from_counts(&stable, &canary).expect("psi");
    assert!((d.report.psi - want).abs() < 1e-12);
    assert_eq!(d.psi_history.len(), 2);
    assert_eq!(d.report.status, drift::DriftStatus::Drifted, "PSI {want}");

    // Alike tracks: no drift. Too little canary traffic: nothing to compare yet.
    let mut alike = on_track("3", "stable", &stable, &[100]);
    alike.extend(on_track("4", "canary", &stable.map(|n| n / 4.0), &[100]));
    assert_eq!(map_tracks(&alike)[0].report.status, drift::DriftStatus::Ok);
    let mut thin = on_track("3", "stable", &stable, &[100]);
    thin.extend(on_track("4", "canary", &[10.0, 40.0, 40.0, 10.0], &[100]));
    assert!(map_tracks(&thin).is_empty(), "100 canary observations");
    // No canary track: no row.
    assert!(map_tracks(&on_track("3", "stable", &stable, &[100])).is_empty());

    // A version seen on both tracks in the window (promoted in it) is one version's drift.
    let mut promoted = on_track("4", "canary", &[1.0, 4.0, 4.0, 1.0], &[100]);
    promoted.extend(on_track("4", "stable", &[9.0, 36.0, 36.0, 9.0], &[100]));
    let reference = on_track("4", "stable", &stable, &[0]);
    let own = map_drift(&reference, &promoted, &VersionProfiles::new()).0;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].current_counts, vec![10.0, 40.0, 40.0, 10.0]);
    assert!(!own[0].is_canary_vs_stable());
}

/// A canary that stopped serving earlier in the history is not compared now: its last point
/// is not the query's latest.
#[test]
fn a_canary_gone_before_the_latest_point_has_no_row() {
    let stable = [100.0, 400.0, 400.0, 100.0];
    let mut current = on_track("3", "stable", &stable, &[100, 200]);
    current.extend(on_track(
        "4",
        "canary",
        &[300.0, 400.0, 200.0, 100.0],
        &[100],
    ));
    assert!(map_tracks(&current).is_empty());
}
