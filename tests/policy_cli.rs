//! `mlops policy check` and the gates of `rollout start`, on the real MLflow (versions' tags, their
//! runs' metrics, the champion alias) and the real cluster (its kwok nodes in two regions,
//! me-central-1 and eu-west-1).

mod common;

use std::process::Command;

const POLICY: &str = r#"
[regions]
"me-central-1" = "AE"
"eu-west-1" = "IE"

[default]
validation_tag = "validation_status=passed"
metric = "accuracy"
max_regression = 0.05
residency_tag = "data.residency"
change_ticket = true
"#;

fn mlops(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = common::mlops_cmd(args)
        .env("MLOPS_CONFIG_DIR", config)
        .output()
        .expect("run mlops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// MLflow's REST API, as curl sends it.
fn mlflow(method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
    let uri = common::env().get("MLFLOW_TRACKING_URI");
    let mut c = Command::new("curl");
    c.args(["-sS", "-X", method, &format!("{uri}{path}")]);
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "-d", &b.to_string()]);
    }
    let out = c.output().expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn set_residency(value: Option<&str>) {
    let key =
        serde_json::json!({"name": "fraud-detector", "version": "4", "key": "data.residency"});
    match value {
        Some(v) => {
            let mut body = key;
            body["value"] = v.into();
            mlflow("POST", "/api/2.0/mlflow/model-versions/set-tag", Some(body));
        }
        None => {
            mlflow(
                "DELETE",
                "/api/2.0/mlflow/model-versions/delete-tag",
                Some(key),
            );
        }
    }
}

/// The `accuracy` of the run behind fraud-detector `version`, read from MLflow directly.
fn accuracy(version: u32) -> f64 {
    let v = mlflow(
        "GET",
        &format!("/api/2.0/mlflow/model-versions/get?name=fraud-detector&version={version}"),
        None,
    );
    let run_id = v["model_version"]["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    let run = mlflow(
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"),
        None,
    );
    run["run"]["data"]["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["key"] == "accuracy"))
        .and_then(|m| m["value"].as_f64())
        .expect("accuracy")
}

#[test]
fn gates_are_decided_on_the_registry_and_the_clusters_regions() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("policy.toml"), POLICY).expect("policy");
    let config = dir.path();
    set_residency(None);

    // v4: validated, not worse than the champion v3, a ticket given: allowed.
    let (code, out, err) = mlops(
        config,
        &[
            "policy",
            "check",
            "fraud-detector@4",
            "--change",
            "CHG-77",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["allowed"], true, "{v:#}");
    let gate = |v: &serde_json::Value, name: &str| {
        v["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["gate"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("gate {name}: {v:#}"))
    };
    let metric = gate(&v, "evaluation metric");
    let evidence = metric["evidence"].as_str().unwrap_or_default();
    assert!(
        evidence.contains(&format!(
            "accuracy {} vs champion v3 {}",
            accuracy(4),
            accuracy(3)
        )),
        "the metrics of both runs, as MLflow has them: {evidence}"
    );
    assert_eq!(gate(&v, "change ticket")["evidence"], "CHG-77");

    // v2: its validation failed; without a ticket the ticket gate fails too; exit 1.
    let (code, out, _) = mlops(
        config,
        &["policy", "check", "fraud-detector@2", "-o", "json"],
    );
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        gate(&v, "validation")["evidence"],
        "tag validation_status=failed, not passed"
    );
    assert_eq!(gate(&v, "change ticket")["ok"], false);

    // Trained on data resident to Saudi Arabia: no region of this cluster is there.
    set_residency(Some("SA"));
    let (code, out, _) = mlops(
        config,
        &["policy", "check", "fraud-detector@4", "--change", "CHG-77"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ data residency")
            && out.contains("has no region there: its regions eu-west-1 (IE), me-central-1 (AE)"),
        "{out}"
    );
    let (code, _, err) = mlops(
        config,
        &[
            "rollout",
            "start",
            "--model",
            "fraud-detector",
            "--version",
            "4",
            "-n",
            "policy-gates",
            "--change",
            "CHG-77",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("start of rollout policy-gates/fraud-detector-v4 refused: policy refuses"),
        "{err}"
    );
    assert!(err.contains("data residency"), "{err}");

    // Resident to the UAE: allowed on this two-region cluster only if pinned to me-central-1.
    set_residency(Some("AE"));
    let (code, out, _) = mlops(
        config,
        &[
            "policy",
            "check",
            "fraud-detector@4",
            "--change",
            "CHG-77",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["pinned_regions"], serde_json::json!(["me-central-1"]));
    // Pinning is not built yet: start refuses rather than risk a pod in eu-west-1.
    let (code, _, err) = mlops(
        config,
        &[
            "rollout",
            "start",
            "--model",
            "fraud-detector",
            "--version",
            "4",
            "-n",
            "policy-gates",
            "--change",
            "CHG-77",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("pinning pods to regions is not built yet"),
        "{err}"
    );
    let (code, _, err) = mlops(
        config,
        &["rollout", "get", "fraud-detector-v4", "-n", "policy-gates"],
    );
    assert_eq!(code, 1, "nothing was created: {err}");
    set_residency(None);
}

/// Where the policy requires a change ticket, an approval without one is refused before anything
/// is sent; with one it goes on to the cluster (which does not know this rollout).
#[test]
fn an_approval_needs_the_change_ticket_the_policy_requires() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("policy.toml"), POLICY).expect("policy");
    let approve = [
        "rollout",
        "approve",
        "no-such-rollout",
        "-n",
        "policy-gates",
        "--comment",
        "ok",
    ];
    let (code, _, err) = mlops(dir.path(), &approve);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("approve of rollout policy-gates/no-such-rollout refused: policy.toml requires a change ticket"),
        "{err}"
    );
    let mut with_ticket = approve.to_vec();
    with_ticket.extend(["--change", "CHG-5"]);
    let (code, _, err) = mlops(dir.path(), &with_ticket);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("not found") && !err.contains("change ticket"),
        "{err}"
    );
}

#[test]
fn a_bad_policy_file_is_named_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("policy.toml"),
        "[regions]\n\"me-central-1\" = \"UAE\"\n[default]\nmax_regression = \"a lot\"\n",
    )
    .expect("policy");
    let (code, out, _) = mlops(dir.path(), &["config", "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("policy.toml:4:") && out.contains("\"a lot\""),
        "{out}"
    );
    let (code, _, err) = mlops(dir.path(), &["policy", "check", "fraud-detector@4"]);
    assert_eq!(code, 1);
    assert!(err.contains("policy.toml:4:"), "{err}");
}
