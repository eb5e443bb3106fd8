//! `mlops drift live` on the real Prometheus and traffic process: a shift injected into one live
//! feature shows as that feature drifted within the window, the others stay put, and
//! `--fail-on-drift` turns it into exit 3. The traffic process is reset when the test ends.

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
