//! `mlops models` and `mlops runs` against the real, seeded MLflow of `tests/env/up`: the models
//! the seeder registered, runs searched page by page with the server's filter and ordering, the
//! server's own message for a bad filter, and a comparison of runs this test logs through the
//! REST API (and deletes again).

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use common::{env, mlops_cmd, mlops_ok};
use serde_json::{Value, json};

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn mlflow() -> String {
    env()
        .get("MLFLOW_TRACKING_URI")
        .trim_end_matches('/')
        .to_string()
}

/// POST to MLflow's REST API; the answer.
fn post(endpoint: &str, body: &Value) -> Value {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .arg("--data")
        .arg(body.to_string())
        .arg(format!("{}/api/2.0/mlflow/{endpoint}", mlflow()))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{endpoint}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn models_list_and_get_read_the_seeded_registry() {
    let all = json_of(&mlops_ok(&["models", "list", "-o", "json"]));
    let names: Vec<&str> = all
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for m in ["fraud-detector", "churn-model", "recsys-ranker"] {
        assert!(names.contains(&m), "{m} in {names:?}");
    }
    // The filter is MLflow's, evaluated by the server.
    let fraud = json_of(&mlops_ok(&[
        "models",
        "list",
        "--filter",
        "name LIKE 'fraud%'",
        "-o",
        "json",
    ]));
    let fraud: Vec<&str> = fraud
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(fraud, vec!["fraud-detector"]);
    let one = json_of(&mlops_ok(&[
        "models",
        "get",
        "fraud-detector",
        "-o",
        "json",
    ]));
    assert_eq!(one["aliases"]["champion"], json!(3), "{one}");
    assert_eq!(one["aliases"]["challenger"], json!(4), "{one}");
    assert!(one["versions"].as_array().is_some_and(|v| v.len() >= 4));
    let table =
        String::from_utf8(mlops_ok(&["models", "get", "fraud-detector"]).stdout).expect("utf-8");
    assert!(
        table.contains("@champion") && table.contains("fraud-detector:v3"),
        "{table}"
    );
    // The models runs logged (MLflow 3), by experiment and by run.
    let version = &one["versions"][0];
    let run = version["run_id"].as_str().expect("a source run");
    let logged = json_of(&mlops_ok(&[
        "models",
        "logged",
        "--experiment",
        "fraud-detection",
        "--run",
        run,
        "-o",
        "json",
    ]));
    assert_eq!(
        logged["experiment"]["name"],
        json!("fraud-detection"),
        "{logged}"
    );
    let models = logged["logged_models"].as_array().expect("an array");
    assert!(
        models.iter().any(|m| m["name"] == json!("fraud-detector")
            && m["source_run_id"] == json!(run)
            && m["status"] == json!("READY")),
        "{logged}"
    );
    let table = String::from_utf8(
        mlops_ok(&["models", "logged", "--experiment", "fraud-detection"]).stdout,
    )
    .expect("utf-8");
    assert!(table.starts_with("NAME") && table.contains(run), "{table}");
    let out = mlops_cmd(&[
        "models",
        "logged",
        "--experiment",
        "fraud-detection",
        "--run",
        "0123456789abcdef0123456789abcdef",
    ])
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0123456789abcdef0123456789abcdef"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A model that does not exist: exit 1, named.
    let out = mlops_cmd(&["models", "get", "no-such-model"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runs_search_follows_pages_in_the_servers_order_and_shows_its_message() {
    let out = json_of(&mlops_ok(&[
        "runs",
        "search",
        "--experiment",
        "fraud-detection",
        "--order-by",
        "metrics.accuracy DESC",
        "--order-by",
        "attributes.run_id ASC",
        "--page-size",
        "50",
        "--max-results",
        "120",
        "-o",
        "json",
    ]));
    assert_eq!(out["experiment"]["name"], "fraud-detection");
    assert_eq!(out["pages"], json!(3), "120 runs in pages of 50");
    let ids: Vec<&str> = out["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 120);
    // The same order the server gives in one page.
    let direct = post(
        "runs/search",
        &json!({
            "experiment_ids": [out["experiment"]["id"]],
            "order_by": ["metrics.accuracy DESC", "attributes.run_id ASC"],
            "max_results": 120,
        }),
    );
    let want: Vec<&str> = direct["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["info"]["run_id"].as_str())
        .collect();
    assert_eq!(ids, want);
    // A filter the server evaluates…
    let good = json_of(&mlops_ok(&[
        "runs",
        "search",
        "--experiment",
        "fraud-detection",
        "--filter",
        "metrics.accuracy > 0.95",
        "-o",
        "json",
    ]));
    let runs = good["runs"].as_array().expect("runs");
    assert!(!runs.is_empty());
    assert!(
        runs.iter()
            .all(|r| r["metrics"]["accuracy"].as_f64().is_some_and(|a| a > 0.95)),
        "{good}"
    );
    // …and one it refuses, with its message.
    let bad = mlops_cmd(&[
        "runs",
        "search",
        "--experiment",
        "fraud-detection",
        "--filter",
        "metrics.accuracy >> 2",
    ])
    .output()
    .expect("run");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("INVALID_PARAMETER_VALUE") && err.contains(">>"),
        "{err}"
    );
    let missing = mlops_cmd(&["runs", "search", "--experiment", "no-such-experiment"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-experiment"));
}

#[test]
fn runs_compare_names_exactly_the_params_and_metrics_that_differ() {
    let name = format!("compare-{}", std::process::id());
    let experiment = post("experiments/create", &json!({"name": name}))["experiment_id"]
        .as_str()
        .expect("experiment id")
        .to_string();
    let mut ids = Vec::new();
    for (opt, acc, extra) in [("adam", 0.91, false), ("sgd", 0.91, true)] {
        let run = post(
            "runs/create",
            &json!({"experiment_id": experiment, "run_name": format!("run-{opt}")}),
        );
        let id = run["run"]["info"]["run_id"]
            .as_str()
            .expect("run id")
            .to_string();
        let mut params = vec![
            json!({"key": "lr", "value": "0.1"}),
            json!({"key": "optimizer", "value": opt}),
        ];
        if extra {
            params.push(json!({"key": "dropout", "value": "0.2"}));
        }
        post(
            "runs/log-batch",
            &json!({
                "run_id": id,
                "params": params,
                "metrics": [
                    {"key": "accuracy", "value": acc, "timestamp": 0, "step": 0},
                    {"key": "loss", "value": if extra { 0.2 } else { 0.3 }, "timestamp": 0, "step": 0},
                ],
            }),
        );
        ids.push(id);
    }
    let c = json_of(&mlops_ok(&[
        "runs", "compare", &ids[0], &ids[1], "-o", "json",
    ]));
    assert_eq!(
        c["differing_params"],
        json!(["dropout", "optimizer"]),
        "{c}"
    );
    assert_eq!(c["differing_metrics"], json!(["loss"]), "{c}");
    assert_eq!(c["runs"][0]["params"]["optimizer"], "adam");
    assert_eq!(c["runs"][1]["metrics"]["loss"], json!(0.2));
    let csv = String::from_utf8(
        mlops_ok(&[
            "runs",
            "compare",
            &ids[0],
            &ids[1],
            "--diff-only",
            "-o",
            "csv",
        ])
        .stdout,
    )
    .expect("utf-8");
    assert_eq!(
        csv.trim_end().lines().collect::<Vec<_>>(),
        vec![
            format!("kind,name,{},{}", ids[0], ids[1]).as_str(),
            "param,dropout,,0.2",
            "param,optimizer,adam,sgd",
            "metric,loss,0.3000,0.2000",
        ]
    );
    let md = String::from_utf8(
        mlops_ok(&["runs", "compare", &ids[0], &ids[1], "-o", "markdown"]).stdout,
    )
    .expect("utf-8");
    assert!(md.starts_with("| | name | run-adam | run-sgd |"), "{md}");
    // An unknown run: exit 1, named; one run is not a comparison (usage, exit 2).
    let out = mlops_cmd(&[
        "runs",
        "compare",
        &ids[0],
        "0123456789abcdef0123456789abcdef",
    ])
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0123456789abcdef"));
    let out = mlops_cmd(&["runs", "compare", &ids[0]])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    post("experiments/delete", &json!({"experiment_id": experiment}));
}
