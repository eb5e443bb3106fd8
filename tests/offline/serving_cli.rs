//! `mlops health` and `mlops slo rules` as a user runs them, on the demo (`--demo`) and offline:
//! the JSON's names, the exit code for a paging model, the rules' names, and `[serving]` / `[slo]`
//! mistakes named by `config check` at their line.

use std::process::Command;

fn mlops(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env("MLOPS_CONFIG_DIR", config)
        .env_remove("MLOPS_PROMETHEUS_URL")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run mlops")
}

#[test]
fn health_on_the_demo_prints_the_documented_json_and_pages_exit_3() {
    let dir = tempfile::tempdir().expect("dir");
    let out = mlops(dir.path(), &["health", "--demo", "-o", "json"]);
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for key in ["at", "window_seconds", "models", "warnings"] {
        assert!(!doc[key].is_null(), "{key} in {doc:#}");
    }
    let models = doc["models"].as_array().expect("models");
    let first = &models[0];
    for key in [
        "model",
        "version",
        "track",
        "cluster",
        "requests_per_second",
        "error_ratio",
        "latency_seconds",
        "replicas",
        "slo",
        "source",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first:#}");
    }
    for w in ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] {
        assert!(
            first["slo"]["burn"].get(w).is_some(),
            "burn {w} in {first:#}"
        );
    }
    // The demo opens with fraud-detector's canary burning its budget: it pages, and is first.
    assert_eq!(first["model"], "fraud-detector", "{first:#}");
    assert_eq!(first["track"], "canary");
    assert_eq!(first["slo"]["alert"], "page");
    assert!(
        first["latency_seconds"]["p99"]
            .as_f64()
            .is_some_and(|p| p > 0.0)
    );
    let code = mlops(dir.path(), &["health", "--demo", "--fail-on-page"])
        .status
        .code();
    assert_eq!(code, Some(3), "a paging model fails the script");
    let quiet = mlops(
        dir.path(),
        &[
            "health",
            "--demo",
            "--fail-on-page",
            "--model",
            "search-embedder",
        ],
    );
    assert_eq!(quiet.status.code(), Some(0), "{quiet:?}");
    let table = String::from_utf8_lossy(&quiet.stdout).to_string();
    assert!(table.starts_with("MODEL"), "{table}");
    assert!(table.contains("search-embedder"), "{table}");
    assert!(!table.contains("fraud-detector"), "{table}");
    let bad = mlops(dir.path(), &["health", "--demo", "--window", "10s"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--window \"10s\""));
}

#[test]
fn slo_rules_are_sloth_named_yaml_or_json_per_objective() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[slo]\nobjective = 0.999\n[slo.models.fraud-detector]\nobjective = \"99%\"\nwindow = \"7d\"\n",
    )
    .expect("config");
    let out = mlops(dir.path(), &["slo", "rules"]);
    assert!(out.status.success(), "{out:?}");
    let yaml = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        yaml.starts_with("\"groups\":\n  - \"name\": \"mlops-slo-sli-recordings\""),
        "{yaml}"
    );
    assert!(
        yaml.contains("\"record\": \"slo:sli_error:ratio_rate5m\""),
        "{yaml}"
    );
    let json = mlops(dir.path(), &["slo", "rules", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let alerts = doc["groups"][1]["rules"].as_array().expect("alerts");
    let exprs: Vec<&str> = alerts.iter().filter_map(|a| a["expr"].as_str()).collect();
    assert_eq!(
        alerts.len(),
        4,
        "page and ticket for the default and fraud-detector"
    );
    assert!(
        exprs[0].contains("(14.4 * 0.001)"),
        "the default 99.9 %: {exprs:?}"
    );
    // A week's window scales the paging windows: 1 h → 14 m.
    assert!(
        exprs[2].contains("slo:sli_error:ratio_rate14m{model=\"fraud-detector\"} > (14.4 * 0.01)"),
        "{exprs:?}"
    );
    let usage = mlops(dir.path(), &["slo", "rules", "-o", "csv"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn serving_and_slo_mistakes_are_named_at_their_line() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[serving]\nruntime = \"tritonx\"\n[slo]\nobjective = 1.5\n[slo.models.fraud]\nwindow = \"soon\"\n",
    )
    .expect("config");
    let out = mlops(dir.path(), &["config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for expected in [
        "config.toml:2:",
        "[serving] runtime is one of default, kserve, triton, seldon, bentoml",
        "\"tritonx\"",
        "config.toml:4:",
        "[slo] objective is a share between 0 and 1",
        "config.toml:6:",
        "[slo.models.fraud] window is a duration",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    std::fs::write(
        dir.path().join("config.toml"),
        "[serving.queries]\nrequests = \"sum(rate(x[5m]))\"\n",
    )
    .expect("config");
    let text = String::from_utf8_lossy(&mlops(dir.path(), &["config", "check"]).stdout).to_string();
    assert!(text.contains("no $window"), "{text}");
}
