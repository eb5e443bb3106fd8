//! `mlops drift live` on the real Prometheus, MLflow and traffic process: each served version's
//! live features are compared with its training data profile from the registry; a shift
//! injected into one live feature shows as that feature drifted within the window, the others
//! stay put, and `--fail-on-drift` turns it into exit 3. The traffic process is reset when the
//! test ends.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ResetTraffic, mlops_cmd, traffic};
use serde_json::Value;

fn live(extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "drift",
        "live",
        "--model",
        "fraud-detector",
        "--window",
        "1m",
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = mlops_cmd(&args).output().expect("mlops");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

fn feature<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["features"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["feature"] == name && x["version"] == 3))
        .unwrap_or_else(|| panic!("fraud-detector v3 {name} in {doc:#}"))
}

/// `mlops drift live` polled until `done` says yes (at most 90 s).
fn poll(done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (code, doc) = live(&[]);
        assert_eq!(code, 0, "{doc:#}");
        if done(&doc) || started.elapsed() > Duration::from_secs(90) {
            return doc;
        }
        std::thread::sleep(Duration::from_secs(3));
    }
}

#[test]
fn a_shift_of_a_live_feature_shows_in_drift_live_within_the_window() {
    traffic("POST", "/control/reset", "{}");
    let _reset = ResetTraffic;
    let before = poll(|d| {
        feature(d, "amount")["psi"]
            .as_f64()
            .is_some_and(|p| p < 0.02)
    });
    let amount = feature(&before, "amount");
    assert_eq!(amount["status"], "ok", "{amount:#}");
    assert_eq!(before["window_seconds"], 60);
    assert!(
        before["features"]
            .as_array()
            .is_some_and(|f| f.iter().all(|x| x["model"] == "fraud-detector")),
        "--model keeps to one model: {before:#}"
    );
    for key in [
        "psi",
        "js_distance",
        "wasserstein_normed",
        "ks_statistic",
        "ks_p_value",
    ] {
        assert!(amount[key].is_number(), "{key}: {amount:#}");
    }
    assert!(
        amount["reference_rows"]
            .as_u64()
            .is_some_and(|n| n > 100_000),
        "{amount:#}"
    );
    assert!(before["canary_vs_stable"].is_array(), "{before:#}");
    // The reference is the data v3 was trained on: the drift profile logged with its source
    // run's training dataset in the real MLflow (800,000 rows), not an earlier window.
    assert!(
        amount["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("profile fraud-detection-train@")),
        "{amount:#}"
    );
    assert!(
        before["profiles"].as_array().is_some_and(|p| p
            .iter()
            .any(|x| x["model"] == "fraud-detector" && x["version"] == 3)),
        "{before:#}"
    );
    // Nothing left out about the version under test (versions other tests served briefly,
    // with no reference yet, are named in warnings, as they should be).
    assert!(
        before["warnings"]
            .as_array()
            .is_some_and(|w| !w.iter().any(|x| x
                .as_str()
                .is_some_and(|t| t.starts_with("fraud-detector v3 ")))),
        "{before:#}"
    );
    // Asked for, the window before is the reference instead.
    let (code, window) = live(&["--reference", "window"]);
    assert_eq!(code, 0, "{window:#}");
    assert_eq!(
        feature(&window, "amount")["reference"],
        "window",
        "{window:#}"
    );
    assert!(window["profiles"].as_array().is_some_and(Vec::is_empty));

    traffic(
        "POST",
        "/control/drift",
        r#"{"model":"fraud-detector","feature":"amount","shift":2.0}"#,
    );
    let after = poll(|d| {
        feature(d, "amount")["psi"]
            .as_f64()
            .is_some_and(|p| p > 0.5)
    });
    let amount = feature(&after, "amount");
    assert_eq!(amount["status"], "drifted", "{after:#}");
    assert!(
        amount["psi"].as_f64().is_some_and(|p| p > 0.5),
        "{amount:#}"
    );
    assert_eq!(
        feature(&after, "merchant_risk")["status"],
        "ok",
        "only the shifted feature moves: {after:#}"
    );
    assert!(
        after["drifted"].as_u64().is_some_and(|n| n >= 1),
        "{after:#}"
    );
    let (code, _) = live(&["--fail-on-drift"]);
    assert_eq!(code, 3, "--fail-on-drift exits 3 on drift");
}

/// The console's Drift view on the same real Prometheus and MLflow compares with the same
/// reference: a version's detail names its training data profile.
#[test]
fn the_drift_view_compares_with_the_training_data_profile_too() {
    let env = common::env();
    let config = tempfile::tempdir().expect("config dir");
    let script = format!(
        "MLOPS_PROMETHEUS_URL={} MLFLOW_TRACKING_URI={} {}; echo EXIT=$?; sleep 60",
        env.get("MLOPS_PROMETHEUS_URL"),
        env.get("MLFLOW_TRACKING_URI"),
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = common::tmux::Tmux::start(&script, 160, 45, config.path().to_str().expect("utf-8"));
    t.keys(&["4"]);
    t.wait_text("fraud-detector");
    t.keys(&["/"]);
    t.type_text("fraud-detector amount profile");
    t.keys(&["Enter", "Enter"]);
    let s = t.wait_text("training data fraud-detection-train@");
    assert!(s.contains("Drift › fraud-detector"), "{s}");
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");
}
