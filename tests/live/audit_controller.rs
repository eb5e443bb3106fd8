//! Least privilege for people, on the real API server: users bound to the shipped roles by a
//! RoleBinding in their own namespace only (no group, nothing in `mlops-system`). With the
//! controller running, it writes every command's audit entry in the sender's name, and a command
//! is acknowledged once its entry is written; without one, a sender who may not write the log is
//! told exactly what is missing. Nobody but the controller (and the log's writers) may create an
//! entry or mark a command audited.
//!
//! This binary runs the controller (the Lease is the cluster's), so it is one test, in order.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{path::Path, time::Duration};

use k8s_openapi::api::{core::v1::ConfigMap, rbac::v1::RoleBinding};
use kube::api::{Api, DeleteParams, PostParams};
use mlops_console::adapters::kube::{KubeCluster, crd::ModelRollout};
use mlops_core::{
    audit::AuditEntry,
    rollout::{Phase, RolloutStatus},
};

/// `mlops ARGS` as the user of `kubeconfig`, waiting `wait` seconds at most for an entry.
fn mlops_as(kubeconfig: &Path, wait: u64, args: &[&str]) -> (i32, String, String) {
    common::outcome(
        common::mlops_cmd(args)
            .env("KUBECONFIG", kubeconfig)
            .env("MLOPS_AUDIT_TIMEOUT", wait.to_string())
            .env_remove("MLOPS_CONTEXT"),
    )
}

fn rollout(ns: &str, name: &str, author: &str, status: RolloutStatus) -> ModelRollout {
    let mut mr = common::gated_rollout(ns, name);
    mr.metadata.annotations = Some([("mlops.dev/author".to_string(), author.to_string())].into());
    mr.status = Some(status);
    mr
}

fn progressing() -> RolloutStatus {
    RolloutStatus {
        phase: Phase::Progressing,
        weight: 10,
        ..RolloutStatus::default()
    }
}

/// The entries of people's commands on `target`, oldest first (the controller's own transitions
/// left out).
async fn entries_of(admin: &KubeCluster, target: &str) -> Vec<AuditEntry> {
    let mut all = admin.audit_log().entries().await.expect("the log");
    all.retain(|e| e.target == target && !e.actor.starts_with(CONTROLLER));
    all
}

/// The lease identity of the test's controllers.
const CONTROLLER: &str = "least-privilege-test";

#[tokio::test(flavor = "multi_thread")]
async fn people_bound_in_one_namespace_act_and_the_controller_writes_the_log() {
    let (admin, _) = common::installed().await;
    let (ns, namespaces) = common::new_namespace("mlops-least").await;
    let api: Api<ModelRollout> = Api::namespaced(admin.client(), &ns);
    // Users in no group, bound to the shipped ClusterRoles in this namespace only.
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings: Api<RoleBinding> = Api::namespaced(admin.client(), &ns);
    let mut kubeconfigs = std::collections::BTreeMap::new();
    for (user, role) in [
        ("vic", "mlops-viewer"),
        ("olga", "mlops-operator"),
        ("rita", "mlops-release-manager"),
        ("remy", "mlops-release-manager"),
    ] {
        let rb: RoleBinding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": user, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}],
        }))
        .expect("a RoleBinding");
        bindings
            .create(&PostParams::default(), &rb)
            .await
            .expect("binding");
        kubeconfigs.insert(user, common::users::kubeconfig(dir.path(), user, &[]));
    }
    let (vic, olga, rita, remy) = (
        &kubeconfigs["vic"],
        &kubeconfigs["olga"],
        &kubeconfigs["rita"],
        &kubeconfigs["remy"],
    );
    for (name, status) in [
        ("live", progressing()),
        ("paused-later", progressing()),
        (
            "gate",
            RolloutStatus {
                phase: Phase::AwaitingApproval,
                current_step: 1,
                weight: 10,
                ..RolloutStatus::default()
            },
        ),
    ] {
        let mr = rollout(&ns, name, "remy", status);
        api.create(&PostParams::default(), &mr)
            .await
            .expect("rollout");
        let mut created = api.get(name).await.expect("get");
        created.status = mr.status;
        api.replace_status(name, &PostParams::default(), &created)
            .await
            .expect("status");
    }

    // No controller: olga may abort but not write the log; she is told exactly that, and
    // nothing changes.
    let abort = [
        "rollout",
        "abort",
        "live",
        "-n",
        &ns,
        "--reason",
        "p99 doubled",
    ];
    let (code, out, err) = mlops_as(olga, 5, &abort);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("it could not be audited")
            && err.contains("no controller")
            && err.contains("you (olga) cannot create configmaps in mlops-system"),
        "{err}"
    );
    let live = api.get("live").await.expect("live");
    assert_eq!(
        live.status.as_ref().map(|s| s.phase),
        Some(Phase::Progressing)
    );

    // Nobody but the log's writers creates an entry, even one that looks right.
    let as_olga = KubeCluster::connect_file(olga, None, None)
        .await
        .expect("connect");
    let forged: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "mlops-audit-9999999999", "namespace": "mlops-system",
            "labels": {"mlops.dev/audit": "entry"}},
        "data": {"entry.json": "{}"},
    }))
    .expect("a ConfigMap");
    let e = Api::<ConfigMap>::namespaced(as_olga.client(), "mlops-system")
        .create(&PostParams::default(), &forged)
        .await
        .expect_err("olga writes no audit entry");
    assert!(
        e.to_string()
            .contains("User \"olga\" cannot create resource \"configmaps\""),
        "{e}"
    );

    // No controller: starting a rollout is refused the same way, before anything is created.
    common::serving_deployment(&admin.client(), &ns, "audited-model").await;
    let start = [
        "rollout",
        "start",
        "--model",
        "audited-model",
        "--version",
        "8",
        "--image",
        "registry.mlops.invalid/models/audited-model:v8",
        "--template",
        "quick",
        "-n",
        &ns,
        "-o",
        "json",
    ];
    let (code, out, err) = mlops_as(rita, 5, &start);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("it could not be audited")
            && err.contains("you (rita) cannot create configmaps in mlops-system"),
        "{err}"
    );
    assert!(
        api.get_opt("audited-model-v8")
            .await
            .expect("get")
            .is_none(),
        "nothing created"
    );

    let controller = common::controller::start(CONTROLLER);

    // A release manager bound in this namespace only starts a rollout: the controller writes the
    // start entry in her name and marks it; she is told once it is written.
    let (code, out, err) = mlops_as(rita, 20, &start);
    assert_eq!(code, 0, "{out}{err}");
    let started: serde_json::Value = serde_json::from_str(&out).expect("json");
    let starts = entries_of(&admin, &format!("{ns}/audited-model-v8")).await;
    assert_eq!(
        starts
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect::<Vec<_>>(),
        vec![("rita", "rollout.start")],
        "{starts:#?}"
    );
    assert!(
        starts[0].details.starts_with("audited-model v1 → v8"),
        "{starts:#?}"
    );
    assert_eq!(
        started["status"]["startAudited"],
        serde_json::json!(starts[0].seq),
        "{out}"
    );
    // Nobody marks a start audited but the controller, or claims at creation that it was.
    let mut forged = common::gated_rollout(&ns, "self-audited");
    forged.metadata.annotations = Some(
        [
            ("mlops.dev/author".to_string(), "rita".to_string()),
            (
                "mlops.dev/start-audit".to_string(),
                r#"{"comment":"","details":"","audited":1}"#.to_string(),
            ),
        ]
        .into(),
    );
    let as_rita = KubeCluster::connect_file(rita, None, None)
        .await
        .expect("connect");
    let e = Api::<ModelRollout>::namespaced(as_rita.client(), &ns)
        .create(&PostParams::default(), &forged)
        .await
        .expect_err("a start claimed audited is refused");
    assert!(
        e.to_string().contains("may say its entry is written only"),
        "{e}"
    );
    let mut remarked = api.get("audited-model-v8").await.expect("get");
    if let Some(s) = remarked.status.as_mut() {
        s.start_audited = Some(1);
    }
    let e = Api::<ModelRollout>::namespaced(as_rita.client(), &ns)
        .replace_status("audited-model-v8", &PostParams::default(), &remarked)
        .await
        .expect_err("a start mark of one's own is refused");
    assert!(
        e.to_string().contains("Forbidden") || e.to_string().contains("forbidden"),
        "{e}"
    );

    // A viewer is refused by the server.
    let (code, out, err) = mlops_as(vic, 20, &["rollout", "pause", "live", "-n", &ns]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("User \"vic\" cannot update resource \"modelrollouts/status\""),
        "{err}"
    );
    // The operator aborts; acknowledged once the controller has written the entry, with the
    // rollout as the abort left it, marked with the entry's number.
    let (code, out, err) = mlops_as(olga, 20, &[&abort[..], &["-o", "json"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let answered: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(answered["status"]["phase"], "RollingBack", "{out}");
    let live = api.get("live").await.expect("live");
    let command = live
        .status
        .as_ref()
        .and_then(|s| s.last_command.clone())
        .expect("the abort is recorded");
    let target = format!("{ns}/live");
    let entries = entries_of(&admin, &target).await;
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str(), e.comment.as_str()))
            .collect::<Vec<_>>(),
        vec![("olga", "rollout.abort", "p99 doubled")],
        "{entries:#?}"
    );
    assert_eq!(
        command.audited,
        Some(entries[0].seq),
        "the mark names the entry"
    );
    assert_eq!(
        answered["status"]["lastCommand"]["audited"],
        serde_json::json!(entries[0].seq),
        "{out}"
    );
    assert!(
        entries[0].details.starts_with("Progressing → RollingBack"),
        "{entries:#?}"
    );

    // Nobody marks their own command audited (it would never be written).
    let mut own_mark = api.get("paused-later").await.expect("get");
    if let Some(s) = own_mark.status.as_mut() {
        s.user_paused = true;
        s.phase = Phase::Paused;
        s.last_command = Some(mlops_core::rollout::CommandRecord {
            verb: "pause".into(),
            user: "olga".into(),
            time: chrono::Utc::now(),
            action: "rollout.pause".into(),
            audited: Some(1),
            ..Default::default()
        });
    }
    let e = Api::<ModelRollout>::namespaced(as_olga.client(), &ns)
        .replace_status("paused-later", &PostParams::default(), &own_mark)
        .await
        .expect_err("a mark of one's own is refused");
    assert!(
        e.to_string()
            .contains("status.lastCommand.audited is the controller's to set"),
        "{e}"
    );

    // The author cannot approve; a second release manager can.
    let approve = |who: &Path| {
        mlops_as(
            who,
            20,
            &[
                "rollout",
                "approve",
                "gate",
                "-n",
                &ns,
                "--comment",
                "CHG-9: eval ok",
            ],
        )
    };
    let (code, out, err) = approve(remy);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("two-person rule"), "{err}");
    let (code, out, err) = approve(rita);
    assert_eq!(code, 0, "{out}{err}");
    let gate = entries_of(&admin, &format!("{ns}/gate")).await;
    assert_eq!(
        gate.iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect::<Vec<_>>(),
        vec![("rita", "rollout.approve")],
        "{gate:#?}"
    );

    // The controller dies: its Lease lives on a while, so a command is recorded but not
    // acknowledged, and the user is told so; the next controller writes its entry, once.
    controller.die();
    let (code, out, err) = mlops_as(olga, 3, &["rollout", "pause", "paused-later", "-n", &ns]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("not acknowledged")
            && err.contains("has not written its audit entry within 3s"),
        "{err}"
    );
    let _controller = common::controller::start(&format!("{CONTROLLER}-2"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let paused = loop {
        let e = entries_of(&admin, &format!("{ns}/paused-later")).await;
        if !e.is_empty() || std::time::Instant::now() > deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        paused
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect::<Vec<_>>(),
        vec![("olga", "rollout.pause")],
        "{paused:#?}"
    );
    // Written once: a few more passes add nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        entries_of(&admin, &format!("{ns}/paused-later"))
            .await
            .len(),
        1
    );
    assert_eq!(entries_of(&admin, &target).await.len(), 1);
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
