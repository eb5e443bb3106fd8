//! `mlops install` and `mlops rollout list|get` against the real control plane: the CRD generated
//! from the Rust types is accepted, served and enforced by kube-apiserver.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use common::installed;
use kube::api::{DeleteParams, PostParams};
use mlops_console::adapters::kube::crd::ModelRollout;
use mlops_core::ports::ClusterPort;

fn mlops(args: &[&str]) -> (i32, String, String) {
    // The user's own config (e.g. readonly = true) must not leak into the tests.
    mlops_with_config("/nonexistent/mlops-test-config", args)
}

fn mlops_with_config(config_dir: &str, args: &[&str]) -> (i32, String, String) {
    common::outcome(common::mlops_cmd(args).env("MLOPS_CONFIG_DIR", config_dir))
}

fn rollout(name: &str, first_weight: u32) -> ModelRollout {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": {
            "model": {"name": "churn-model", "version": 8},
            "stableVersion": 7,
            "deployment": "churn-model",
            "image": "registry.mlops.invalid/models/churn-model:v8",
            "replicas": 2,
            "steps": [{"setWeight": first_weight}, {"analysis": {"count": 2}}, {"approval": {}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 30, "failureLimit": 2, "metrics": [{
                "name": "error-rate", "kind": "errorRate",
                "canaryQuery": "sum(rate(model_requests_total{model=\"churn-model\",track=\"canary\",code=~\"5..\"}[1m]))",
                "max": 0.05
            }]},
            "approval": {"required": 2}
        }
    }))
    .expect("a ModelRollout")
}

#[tokio::test]
async fn install_then_list_and_get_rollouts_as_json_and_enforce_the_schema() {
    let (code, out, err) = mlops(&["install", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (doc["crd"].as_str(), doc["established"].as_bool()),
        (Some("modelrollouts.mlops.dev"), Some(true))
    );
    // The install is on the record: who applied which roles and policies.
    let (code, out, err) = mlops(&[
        "audit",
        "list",
        "--action",
        "mlops.install",
        "--actor",
        "mlops-admin",
        "--limit",
        "1",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let entries: serde_json::Value = serde_json::from_str(&out).expect("json");
    let details = entries[0]["details"].as_str().unwrap_or_default();
    assert!(
        details.starts_with("modelrollouts.mlops.dev established; applied ")
            && details.contains("mlops-release-manager")
            && details.contains("mlops-rollout-commands"),
        "{out}"
    );
    // A second install (inside `installed`) is idempotent.
    let (cluster, api) = installed().await;
    let name = format!("churn-model-v8-{}", std::process::id());
    let _ = api.delete(&name, &DeleteParams::default()).await;
    api.create(&PostParams::default(), &rollout(&name, 20))
        .await
        .expect("the API server accepts a valid ModelRollout");

    let (code, out, err) = mlops(&["rollout", "list", "-n", "ml-serving", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let mine = list
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["name"] == name.as_str())
        .expect("listed");
    assert_eq!(mine["spec"]["model"]["version"], 8);
    assert_eq!(mine["spec"]["steps"][0]["setWeight"], 20);
    assert_eq!(
        mine["status"]["phase"], "Pending",
        "no status yet reads as Pending"
    );

    let (code, out, _) = mlops(&["rollout", "get", &name, "-n", "ml-serving"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("churn-model v8 (stable v7)") && out.contains("approvals: 0/2"),
        "{out}"
    );

    let (code, _, err) = mlops(&["rollout", "get", "no-such-rollout", "-n", "ml-serving"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("ModelRollout")
            && err.contains("ml-serving/no-such-rollout")
            && err.contains("not found"),
        "{err}"
    );

    // The console's snapshot of the cluster carries it too.
    let snap = cluster.snapshot().await.expect("snapshot");
    assert!(snap.rollouts.iter().any(|r| r.name == name));

    // A weight over 100 is refused by the API server, naming the field.
    let bad = api
        .create(
            &PostParams::default(),
            &rollout(&format!("{name}-bad"), 150),
        )
        .await
        .expect_err("rejected");
    let text = bad.to_string();
    assert!(text.contains("spec.steps[0].setWeight"), "{text}");

    api.delete(&name, &DeleteParams::default())
        .await
        .expect("clean up");
}

#[tokio::test]
async fn approvals_are_recorded_by_the_cli_and_two_at_once_are_both_kept() {
    let (cluster, api) = installed().await;
    let name = format!("churn-model-v8-approve-{}", std::process::id());
    let _ = api.delete(&name, &DeleteParams::default()).await;
    let created = api
        .create(&PostParams::default(), &rollout(&name, 20))
        .await
        .expect("create");

    // Not at a gate yet: the core refuses, naming the phase.
    let (code, _, err) = mlops(&[
        "rollout",
        "approve",
        &name,
        "-n",
        "ml-serving",
        "--comment",
        "looks good",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is Pending") && err.contains("approve"),
        "{err}"
    );

    // Put it at the approval gate, as the reconcile loop would.
    let mut at_gate = created.clone();
    at_gate.status = Some(mlops_core::rollout::RolloutStatus {
        phase: mlops_core::rollout::Phase::AwaitingApproval,
        current_step: 2,
        weight: 20,
        ..mlops_core::rollout::RolloutStatus::default()
    });
    api.replace_status(&name, &PostParams::default(), &at_gate)
        .await
        .expect("status");

    let (code, out, err) = mlops(&[
        "rollout",
        "approve",
        &name,
        "-n",
        "ml-serving",
        "--comment",
        "eval beats champion",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc["status"]["approvals"][0]["user"], "mlops-admin");
    assert_eq!(
        doc["status"]["approvals"][0]["comment"],
        "eval beats champion"
    );
    // The approval is in the audit log, an Event on the rollout that names its entry, and the
    // model version's tags in the registry.
    let (code, out, err) = mlops(&[
        "audit",
        "list",
        "--target",
        &format!("ml-serving/{name}"),
        "--action",
        "rollout.approve",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let entries: serde_json::Value = serde_json::from_str(&out).expect("json");
    let entry = entries
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_else(|| panic!("an audit entry of the approval: {out}"));
    assert_eq!(entry["actor"], "mlops-admin");
    let seq = entry["seq"].as_u64().expect("seq");
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(cluster.client(), "ml-serving");
    let listed = events
        .list(&kube::api::ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .expect("events");
    let event = listed
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("ApproveCommand"))
        .unwrap_or_else(|| panic!("an ApproveCommand Event on {name}: {:?}", listed.items));
    let message = event.message.clone().unwrap_or_default();
    assert!(
        message
            .starts_with("rollout.approve by mlops-admin: eval beats champion (AwaitingApproval")
            && message.ends_with(&format!("audit #{seq})")),
        "{message}"
    );
    assert_eq!(event.involved_object.kind.as_deref(), Some("ModelRollout"));
    let version = common::mlflow(
        "GET",
        "/api/2.0/mlflow/model-versions/get?name=churn-model&version=8",
        None,
    );
    let tags = version["model_version"]["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tag = |key: &str| {
        tags.iter()
            .find(|t| t["key"] == key)
            .and_then(|t| t["value"].as_str())
            .map_or_else(
                || panic!("tag {key} on churn-model v8: {tags:?}"),
                str::to_string,
            )
    };
    let approve = tag("mlops.action.approve");
    assert!(
        approve.starts_with("rollout.approve by mlops-admin at ")
            && approve.contains(": eval beats champion (rollout ml-serving/")
            && approve.contains(&name),
        "{approve}"
    );

    let (code, _, err) = mlops(&[
        "rollout",
        "approve",
        &name,
        "-n",
        "ml-serving",
        "--comment",
        "again",
    ]);
    assert_eq!(code, 1, "one approval per person");
    assert!(err.contains("already approved"), "{err}");

    // Two approvals at the same moment: the loser of the write conflict retries on fresh data.
    let (a, b) = tokio::join!(
        cluster.approve_as("ml-serving", &name, "dana.k", "ok"),
        cluster.approve_as("ml-serving", &name, "omar.h", "ok")
    );
    a.expect("dana's approval");
    b.expect("omar's approval");
    let users: Vec<String> = api
        .get(&name)
        .await
        .expect("get")
        .status
        .expect("status")
        .approvals
        .into_iter()
        .map(|x| x.user)
        .collect();
    assert_eq!(users.len(), 3, "{users:?}");
    for u in ["mlops-admin", "dana.k", "omar.h"] {
        assert!(users.iter().any(|x| x == u), "{u} recorded: {users:?}");
    }
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("clean up");
}

#[tokio::test]
async fn start_creates_a_rollout_from_a_template_with_the_image_from_the_registry() {
    let (_, api) = installed().await;
    for n in ["fraud-detector-v4", "recsys-ranker-v13"] {
        let _ = api.delete(n, &DeleteParams::default()).await;
    }
    // The registry's challenger of fraud-detector is v4, tagged with its image; the cluster serves v3.
    let (code, out, err) = mlops(&[
        "rollout",
        "start",
        "--model",
        "fraud-detector",
        "--version",
        "4",
        "--template",
        "canary-approval",
        "--approvers",
        "2",
        "-n",
        "ml-serving",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(r["name"], "fraud-detector-v4");
    assert_eq!(
        r["spec"]["stableVersion"], 3,
        "from the Deployment's mlops.dev/version"
    );
    assert_eq!(r["spec"]["replicas"], 2, "from the Deployment");
    let image = r["spec"]["image"].as_str().expect("image");
    assert!(
        image.contains("fraud-detector") && image.contains('4'),
        "{image}"
    );
    assert_eq!(r["spec"]["steps"][2], serde_json::json!({"approval": {}}));
    assert_eq!(r["spec"]["approval"]["required"], 2);
    assert!(
        api.get("fraud-detector-v4").await.is_ok(),
        "it is in the cluster"
    );

    let (code, _, err) = mlops(&[
        "rollout",
        "start",
        "--model",
        "fraud-detector",
        "--version",
        "4",
        "-n",
        "ml-serving",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = mlops(&[
        "rollout",
        "start",
        "--model",
        "fraud-detector",
        "--version",
        "4",
        "--template",
        "yolo",
        "-n",
        "ml-serving",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown template \"yolo\"") && err.contains("canary-approval"),
        "{err}"
    );
    let (code, _, err) = mlops(&[
        "rollout",
        "start",
        "--model",
        "fraud-detector",
        "--version",
        "5",
        "--image",
        "x:5",
        "--deployment",
        "nope",
        "-n",
        "ml-serving",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Deployment") && err.contains("ml-serving/nope") && err.contains("not found"),
        "{err}"
    );

    // --wait exits 4 (timed out: not 1, an error, nor 2, rolled back) with the reason when the
    // rollout has no outcome in time.
    let (code, _, err) = mlops(&[
        "rollout",
        "start",
        "--model",
        "recsys-ranker",
        "--version",
        "13",
        "--image",
        "registry.mlops.invalid/models/recsys-ranker:v13",
        "--wait",
        "--timeout",
        "3",
        "-n",
        "ml-serving",
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("ml-serving/recsys-ranker-v13 is still Pending after 3s"),
        "{err}"
    );
    // `rollout wait` says the same, and -o json names the outcome and its code.
    let (code, out, err) = mlops(&[
        "rollout",
        "wait",
        "recsys-ranker-v13",
        "--timeout",
        "2",
        "-n",
        "ml-serving",
        "-o",
        "json",
    ]);
    assert_eq!(code, 4, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["outcome"], "timed_out", "{doc:#}");
    assert_eq!(doc["exit_code"], 4, "{doc:#}");
    assert_eq!(
        doc["name"], "recsys-ranker-v13",
        "the rollout's own fields: {doc:#}"
    );
    for n in ["fraud-detector-v4", "recsys-ranker-v13"] {
        api.delete(n, &DeleteParams::default())
            .await
            .expect("clean up");
    }
}

#[tokio::test]
async fn start_takes_a_step_template_from_the_users_config() {
    let (_, api) = installed().await;
    let _ = api.delete("churn-model-v9", &DeleteParams::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[templates.slow-canary]\ndescription = \"5% for an hour behind an approval\"\nsteps = [\"setWeight 5\", \"analysis 4\", \"pause 1h\", \"approval\", \"setWeight 100\"]\n",
    )
    .expect("write config");
    let config = dir.path().to_str().expect("utf-8 path");
    let (code, out, err) = mlops_with_config(config, &["rollout", "templates", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let all: serde_json::Value = serde_json::from_str(&out).expect("json");
    let slow = all
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "slow-canary"))
        .unwrap_or_else(|| panic!("slow-canary listed: {all:#}"));
    assert_eq!(slow["builtin"], false);

    let (code, out, err) = mlops_with_config(
        config,
        &[
            "rollout",
            "start",
            "--model",
            "churn-model",
            "--version",
            "9",
            "--image",
            "registry.mlops.invalid/models/churn-model:v9",
            "--template",
            "slow-canary",
            "-n",
            "ml-serving",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        r["spec"]["steps"],
        serde_json::json!([
            {"setWeight": 5},
            {"analysis": {"count": 4}},
            {"pause": {"durationSeconds": 3600}},
            {"approval": {}},
            {"setWeight": 100}
        ])
    );
    let stored = api.get("churn-model-v9").await.expect("in the cluster");
    assert_eq!(stored.spec.rollout.steps.len(), 5);
    api.delete("churn-model-v9", &DeleteParams::default())
        .await
        .expect("clean up");

    // A template with a typo: `start` says which template is unknown and why it was not read.
    std::fs::write(
        dir.path().join("config.toml"),
        "[templates.slow-canary]\nsteps = [\"setWeigth 5\", \"setWeight 100\"]\n",
    )
    .expect("write config");
    let (code, _, err) = mlops_with_config(
        config,
        &[
            "rollout",
            "start",
            "--model",
            "churn-model",
            "--version",
            "9",
            "--image",
            "x:9",
            "--template",
            "slow-canary",
            "-n",
            "ml-serving",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown template \"slow-canary\"")
            && err.contains(
                "config.toml:2:11: template slow-canary: unknown step kind \"setweigth\""
            ),
        "{err}"
    );
    assert!(
        api.get_opt("churn-model-v9").await.expect("get").is_none(),
        "nothing created"
    );
}
