//! Canary-vs-stable drift where users meet it, on the real cluster, Prometheus and traffic
//! process: a canary Deployment of fraud-detector is started in the kwok cluster (the traffic
//! process serves it as the canary track), one of its input features is shifted on the canary
//! track only, and `mlops drift live -o json`, the console's Drift view and its Overview alerts
//! show that feature of the canary drifted against the stable — the others not. The canary is
//! removed and the traffic process reset when the test ends.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ResetTraffic, installed, mlops_cmd, seeded, traffic};
use serde_json::Value;

fn live(config: &std::path::Path) -> Value {
    let out = mlops_cmd(&[
        "drift",
        "live",
        "--model",
        "fraud-detector",
        "--window",
        "1m",
        "-o",
        "json",
    ])
    .env("MLOPS_CONFIG_DIR", config)
    .output()
    .expect("mlops");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// fraud-detector's canary against its stable, once `done` says so (at most 150 s).
fn poll(config: &std::path::Path, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let doc = live(config);
        let canary = doc["canary_vs_stable"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["model"] == "fraud-detector"))
            .cloned()
            .unwrap_or(Value::Null);
        if done(&canary) {
            return canary;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "never came: {doc:#}"
        );
        std::thread::sleep(Duration::from_secs(3));
    }
}

fn feature<'a>(canary: &'a Value, name: &str) -> &'a Value {
    canary["features"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["feature"] == name))
        .unwrap_or_else(|| panic!("{name} in {canary:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_whose_inputs_differ_shows_in_drift_live_the_drift_view_and_the_overview() {
    let (cluster, _) = installed().await;
    // The console's and the CLI's live window: one minute; an alert after two windows in a row.
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "[drift]\nlive_window = \"1m\"\nalert_after = 2\n",
    )
    .expect("config.toml");
    let dir = config.path();
    let before = cluster
        .serving("ml-serving", "fraud-detector")
        .await
        .expect("seeded fraud-detector");
    traffic("POST", "/control/reset", "{}");
    let _reset = ResetTraffic;
    // A canary of a version of its own, with five times the canary's usual traffic so a
    // one-minute window holds enough observations on both tracks.
    let version = before.version + 200 + std::process::id() % 1000;
    let mut canary = seeded(&before);
    canary.model.version = version;
    canary.image = "registry.mlops.invalid/models/fraud-detector:canary-drift".into();
    cluster
        .split_replicas("ml-serving", &canary, before.replicas, 1, &[])
        .await
        .expect("start the canary");
    traffic(
        "POST",
        "/control/traffic",
        r#"{"model":"fraud-detector","track":"canary","rps_factor":5}"#,
    );

    let result = std::panic::AssertUnwindSafe(async {
        // Alike at first: the canary is compared with the stable, and nothing drifted.
        let alike = poll(dir, |c| {
            c["version"] == version
                && feature(c, "amount")["psi"]
                    .as_f64()
                    .is_some_and(|p| p < 0.1)
        });
        let stable = format!("stable v{}", before.version);
        assert_eq!(alike["reference"], stable.as_str(), "{alike:#}");
        assert_eq!(feature(&alike, "amount")["status"], "ok", "{alike:#}");

        // The canary's `amount` shifts by three standard deviations; the stable's stays.
        traffic(
            "POST",
            "/control/drift",
            r#"{"model":"fraud-detector","feature":"amount","shift":3,"track":"canary"}"#,
        );
        // Drifted in one window first; an alert once two windows in a row have drifted.
        let drifted = poll(dir, |c| {
            c["feature"] == "amount"
                && c["status"] == "drifted"
                && c["psi"].as_f64().is_some_and(|p| p > 0.25)
        });
        assert_eq!(drifted["reference"], stable.as_str(), "{drifted:#}");
        assert_eq!(
            feature(&drifted, "merchant_risk")["status"],
            "ok",
            "only the shifted feature: {drifted:#}"
        );
        let alerting = poll(dir, |c| feature(c, "amount")["alert"] == "drifted");
        let history = feature(&alerting, "amount")["status_history"]
            .as_array()
            .expect("status_history")
            .clone();
        assert!(
            history.len() >= 2 && history[history.len() - 2..].iter().all(|s| s == "drifted"),
            "{alerting:#}"
        );

        // The console on the same backends: the Overview's drift alerts name the canary's
        // feature against the stable, and its detail says what it was compared with.
        let env = common::env();
        let script = format!(
            "MLOPS_PROMETHEUS_URL={} {}; echo EXIT=$?; sleep 60",
            env.get("MLOPS_PROMETHEUS_URL"),
            env!("CARGO_BIN_EXE_mlops")
        );
        let t = common::tmux::Tmux::start(&script, 160, 45, dir.to_str().expect("utf-8"));
        let s = t.wait_for("the canary's alert", |s| {
            s.lines().any(|l| {
                l.contains("fraud-detector")
                    && l.contains("amount")
                    && l.contains("stable ")
                    && l.contains("drifted")
            })
        });
        assert!(s.contains("Drift alerts"), "{s}");
        assert!(s.contains("canary vs stable"), "the needs-you line: {s}");
        t.keys(&["4"]);
        t.keys(&["/"]);
        t.type_text(&format!("amount {stable}"));
        t.keys(&["Enter", "Enter"]);
        let s = t.wait_text("(same window)");
        assert!(
            s.contains(&format!("fraud-detector v{version} canary · amount")),
            "{s}"
        );
        // Stable and canary differ by glyph as well as colour (`█` and `▒`).
        assert!(s.contains("█ stable") && s.contains("▒ canary"), "{s}");
        t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
        t.wait_text("EXIT=0");
    });
    let outcome = futures::FutureExt::catch_unwind(result).await;
    cluster
        .split_replicas("ml-serving", &seeded(&before), before.replicas, 0, &[])
        .await
        .expect("remove the canary");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
