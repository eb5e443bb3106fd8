//! `mlops policy check` and the gates of `rollout start`, on the real MLflow (versions' tags, their
//! runs' metrics, the champion alias) and the real cluster (its kwok nodes in two regions,
//! me-central-1 and eu-west-1).

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

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
    common::outcome(common::mlops_cmd(args).env("MLOPS_CONFIG_DIR", config))
}

use common::mlflow;

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

#[tokio::test]
async fn gates_are_decided_on_the_registry_and_the_clusters_regions() {
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
    // At most 4 decimals, no trailing zeros: the evidence reads `0.9252`, not every digit.
    let short = |v: f64| {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    assert!(
        evidence.contains(&format!(
            "accuracy {} vs champion v3 {}",
            short(accuracy(4)),
            short(accuracy(3))
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
    let (code, _, err) = mlops(
        config,
        &["rollout", "get", "fraud-detector-v4", "-n", "policy-gates"],
    );
    assert_eq!(code, 1, "the refused start created nothing: {err}");
    pinned_to_the_resident_region(config).await;
    decided_again_before_promotion(config).await;
    set_residency(None);
}

/// A serving Deployment `fraud-detector` (v3, 4 replicas) in `namespace`, as a model server is —
/// but its pods carry no `mlops.dev/model` label, so the traffic process (which serves every pod
/// with one) does not add this test's pods to the metrics other tests read.
fn serving(namespace: &str) -> k8s_openapi::api::apps::v1::Deployment {
    let labels = serde_json::json!({"app.kubernetes.io/name": "fraud-detector",
        "mlops.dev/model": "fraud-detector", "mlops.dev/version": "3", "mlops.dev/track": "stable"});
    let pod_labels = serde_json::json!({"app.kubernetes.io/name": "fraud-detector",
        "mlops.dev/version": "3", "mlops.dev/track": "stable"});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "fraud-detector", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "fraud-detector", "mlops.dev/track": "stable"}},
            "template": {"metadata": {"labels": pod_labels}, "spec": {"containers": [{
                "name": "server", "image": "registry.mlops.invalid/models/fraud-detector:v3"}]}}
        }
    }))
    .expect("deployment")
}

/// The regions of the nodes the pods of `namespace` matching `selector` run on, once `want` of
/// them are scheduled.
async fn regions_of_pods(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    want: usize,
) -> Vec<String> {
    use k8s_openapi::api::core::v1::{Node, Pod};
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), namespace);
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let list = pods
            .list(&kube::api::ListParams::default().labels(selector))
            .await
            .expect("pods");
        let placed: Vec<String> = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .collect();
        if placed.len() >= want {
            let mut regions = Vec::new();
            for n in placed {
                let node = nodes.get(&n).await.expect("node");
                regions.push(
                    node.metadata
                        .labels
                        .and_then(|l| l.get("topology.kubernetes.io/region").cloned())
                        .unwrap_or_default(),
                );
            }
            return regions;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{want} pods {selector} in {namespace} not scheduled: {} are",
            placed.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Resident to the UAE on a cluster with nodes in the UAE and in Ireland: `rollout start` pins the
/// rollout to me-central-1, and the canary and then the promoted stable pods — placed by the
/// real scheduler among kwok nodes of both regions — land only there.
async fn pinned_to_the_resident_region(config: &std::path::Path) {
    use kube::api::{Api, PostParams};
    use mlops_console::adapters::kube::{crd::ModelRollout, effects};
    use mlops_core::rollout::Effect;
    let admin = common::installed().await.0;
    let (ns, namespaces) = common::new_namespace("policy-pin").await;
    Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(admin.client(), &ns)
        .create(&PostParams::default(), &serving(&ns))
        .await
        .expect("serving deployment");
    start_v4(config, &ns, "CHG-77");
    let mr = Api::<ModelRollout>::namespaced(admin.client(), &ns)
        .get("fraud-detector-v4")
        .await
        .expect("the rollout");
    assert_eq!(
        effects::pinned_regions(&mr),
        vec!["me-central-1".to_string()]
    );
    // The start's audit entry carries the change ticket and the policy's evidence; the model
    // version's tags say who started it where.
    let target = format!("{ns}/fraud-detector-v4");
    let (code, out, err) = mlops(
        config,
        &[
            "audit",
            "list",
            "--target",
            &target,
            "--action",
            "rollout.start",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let entries: serde_json::Value = serde_json::from_str(&out).expect("json");
    let entry = &entries[0];
    assert_eq!(entry["comment"], "CHG-77", "{out}");
    let details = entry["details"].as_str().unwrap_or_default();
    assert!(
        details.contains(
            "pinned to me-central-1; policy passed: validation ✓ tag validation_status=passed"
        ) && details.contains("data residency ✓")
            && details.contains("change ticket ✓ CHG-77"),
        "{details}"
    );
    let version = mlflow(
        "GET",
        "/api/2.0/mlflow/model-versions/get?name=fraud-detector&version=4",
        None,
    );
    let start = version["model_version"]["tags"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["key"] == "mlops.action.start"))
        .and_then(|t| t["value"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        start.starts_with("rollout.start by mlops-admin at ")
            && start.contains(&format!(": CHG-77 (rollout {target} on ")),
        "{start}"
    );
    // What the controller does with it: the core's interpreter on the kube wing, with the
    // rollout's regions (as `reconcile` builds it).
    let (audit, _keep) = tokio::sync::mpsc::unbounded_channel();
    let (events, _events) = futures::channel::mpsc::unbounded();
    let infra = effects::KubeInfra {
        cluster: admin.clone(),
        registry: None,
        actor: "policy-test".into(),
        object: kube::Resource::object_ref(&mr, &()),
        audit,
        events,
        regions: effects::pinned_regions(&mr),
    };
    let record = mr.record(&admin.describe_context());
    infra
        .carry_out(
            &record,
            &[Effect::SetWeight { weight: 50 }],
            chrono::Utc::now(),
        )
        .await
        .expect("canary at 50%");
    let canary = regions_of_pods(&admin.client(), &ns, "mlops.dev/track=canary", 2).await;
    assert_eq!(canary, vec!["me-central-1"; 2], "canary pods");
    let d = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(admin.client(), &ns)
        .get("fraud-detector-canary")
        .await
        .expect("canary deployment");
    let affinity = serde_json::to_value(
        d.spec
            .and_then(|s| s.template.spec)
            .and_then(|p| p.affinity),
    )
    .expect("json");
    assert_eq!(
        affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchExpressions"][0]["values"],
        serde_json::json!(["me-central-1"]),
        "{affinity}"
    );
    infra
        .carry_out(
            &record,
            &[Effect::PromoteStable { version: 4 }],
            chrono::Utc::now(),
        )
        .await
        .expect("promoted");
    let stable = regions_of_pods(
        &admin.client(),
        &ns,
        "mlops.dev/track=stable,mlops.dev/version=4",
        4,
    )
    .await;
    assert_eq!(stable, vec!["me-central-1"; 4], "promoted stable pods");
    let _ = namespaces
        .delete(&ns, &kube::api::DeleteParams::default())
        .await;
}

/// `mlops rollout start` of fraud-detector v4 in `ns` with the change ticket `ticket`: it starts.
fn start_v4(config: &std::path::Path, ns: &str, ticket: &str) {
    let (code, out, err) = mlops(
        config,
        &[
            "rollout",
            "start",
            "--model",
            "fraud-detector",
            "--version",
            "4",
            "-n",
            ns,
            "--change",
            ticket,
            "--image",
            "registry.mlops.invalid/models/fraud-detector:v4",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
}

fn set_validation(value: &str) {
    mlflow(
        "POST",
        "/api/2.0/mlflow/model-versions/set-tag",
        Some(serde_json::json!({"name": "fraud-detector", "version": "4",
            "key": "validation_status", "value": value})),
    );
}

/// `rollout start` of fraud-detector v4 in `ns` under the policy, then put at the end of its
/// steps (Promoting), as if its canary had gone through them.
async fn started_and_promoting(
    config: &std::path::Path,
    api: &kube::Api<mlops_console::adapters::kube::crd::ModelRollout>,
    ns: &str,
) {
    start_v4(config, ns, "CHG-78");
    let mut mr = api.get("fraud-detector-v4").await.expect("the rollout");
    assert!(mr.record("c").policy.is_some(), "started under the policy");
    let steps = mr.spec.rollout.steps.len();
    mr.status = Some(mlops_core::rollout::RolloutStatus {
        phase: mlops_core::rollout::Phase::Promoting,
        current_step: steps,
        weight: 50,
        ..mlops_core::rollout::RolloutStatus::default()
    });
    api.replace_status("fraud-detector-v4", &kube::api::PostParams::default(), &mr)
        .await
        .expect("status: Promoting");
}

/// Why the rollout rolled back: the reason of its transition to RollingBack.
fn rollback_reason(status: &mlops_core::rollout::RolloutStatus) -> String {
    status
        .history
        .iter()
        .find(|h| h.to == mlops_core::rollout::Phase::RollingBack)
        .map(|h| h.reason.clone())
        .unwrap_or_default()
}

/// fraud-detector-v4 deleted, and gone.
async fn deleted(api: &kube::Api<mlops_console::adapters::kube::crd::ModelRollout>) {
    api.delete("fraud-detector-v4", &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api
        .get_opt("fraud-detector-v4")
        .await
        .ok()
        .flatten()
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout is not gone"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The phase the real controller brings the rollout to (waits up to 90 s for `want`).
async fn controller_brings(
    api: &kube::Api<mlops_console::adapters::kube::crd::ModelRollout>,
    want: mlops_core::rollout::Phase,
) -> mlops_core::rollout::RolloutStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let status = api
            .get("fraud-detector-v4")
            .await
            .expect("the rollout")
            .status
            .unwrap_or_default();
        if status.phase == want {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not {want} within 90 s: {status:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// Leaves fraud-detector as the other tests expect it, whatever happens: v4 validated, v3 the
/// champion.
struct Restore;
impl Drop for Restore {
    fn drop(&mut self) {
        set_validation("passed");
        set_residency(None);
        mlflow(
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            Some(
                serde_json::json!({"name": "fraud-detector", "alias": "champion", "version": "3"}),
            ),
        );
    }
}

/// The real `mlops controller` decides the gates again before it promotes: a version whose
/// validation was revoked since its start is rolled back, naming the gate; a version that still
/// passes is promoted, with the evidence in the PolicyGates condition.
async fn decided_again_before_promotion(config: &std::path::Path) {
    use mlops_console::adapters::kube::crd::ModelRollout;
    use mlops_core::rollout::{POLICY_CONDITION, Phase};
    let admin = common::installed().await.0;
    let (ns, namespaces) = common::new_namespace("policy-promote").await;
    kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(admin.client(), &ns)
        .create(&kube::api::PostParams::default(), &serving(&ns))
        .await
        .expect("serving deployment");
    let api = kube::Api::<ModelRollout>::namespaced(admin.client(), &ns);
    let _restore = Restore;
    let controller = || common::controller::spawn(&format!("policy-test-{}", std::process::id()));

    // Validation revoked after the start: rolled back before anything is promoted. The
    // controller starts once the rollout waits in Promoting.
    started_and_promoting(config, &api, &ns).await;
    set_validation("revoked");
    let running = controller();
    let status = controller_brings(&api, Phase::RolledBack).await;
    drop(running);
    set_validation("passed");
    let why = rollback_reason(&status);
    assert!(
        why.contains("policy gates failed before promotion")
            && why.contains("validation: tag validation_status=revoked, not passed"),
        "{why}"
    );
    let gates = status
        .conditions
        .iter()
        .find(|c| c.kind == POLICY_CONDITION)
        .expect("the PolicyGates condition");
    assert!(!gates.status, "{gates:?}");

    // Residency that no longer holds (the version's data now resident to SA): rolled back
    // before promotion, the cluster's regions and their countries named.
    deleted(&api).await;
    started_and_promoting(config, &api, &ns).await;
    set_residency(Some("SA"));
    let running = controller();
    let status = controller_brings(&api, Phase::RolledBack).await;
    drop(running);
    set_residency(Some("AE"));
    let why = rollback_reason(&status);
    assert!(
        why.contains("policy gates failed before promotion")
            && why.contains("data residency: trained on data resident to SA")
            && why.contains("eu-west-1 (IE), me-central-1 (AE)"),
        "{why}"
    );

    // Still passing: promoted, the evidence in the condition.
    deleted(&api).await;
    started_and_promoting(config, &api, &ns).await;
    let running = controller();
    let status = controller_brings(&api, Phase::Promoted).await;
    drop(running);
    let gates = status
        .conditions
        .iter()
        .find(|c| c.kind == POLICY_CONDITION)
        .expect("the PolicyGates condition");
    assert!(
        gates.status
            && gates
                .message
                .starts_with("policy passed: validation ✓ tag validation_status=passed")
            && gates.message.contains("data residency ✓")
            && gates.message.contains("change ticket ✓ CHG-78"),
        "{gates:?}"
    );
    let _ = namespaces
        .delete(&ns, &kube::api::DeleteParams::default())
        .await;
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
