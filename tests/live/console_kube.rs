//! The console on the real control plane, in a real terminal: while no `mlops controller` holds
//! the lease it drives rollouts itself with the embedded core (and the status bar says so); a
//! headless controller that starts takes the lease from it; the Rollouts view follows changes
//! through watches, not refreshes (the refresh interval here is an hour).

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{controller, installed, mlops_ok, seeded, tmux::Tmux};
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::{model::Driver, rollout::Phase};

async fn wait_until<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_drives_rollouts_until_a_controller_takes_over_and_follows_them_by_watch() {
    let env = common::env();
    let (cluster, api) = installed().await;
    let before = cluster
        .serving("ml-serving", "fraud-detector")
        .await
        .expect("seeded fraud-detector");
    let name = "fraud-detector-console";
    let _ = api.delete(name, &DeleteParams::default()).await;
    // A controller left by an earlier test may still hold the lease until it expires.
    wait_until("the lease to be free", 40, || async {
        cluster.driver().await == Driver::Nobody
    })
    .await;

    // The console, refreshing once an hour: whatever changes on screen comes from watches.
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "refresh_seconds = 3600\n",
    )
    .expect("config");
    let script = format!(
        "KUBECONFIG={} MLOPS_CONTEXT={} MLOPS_PROMETHEUS_URL={} MLFLOW_TRACKING_URI={} {}; echo EXIT=$?; sleep 60",
        env.get("KUBECONFIG"),
        env.get("MLOPS_KUBE_CONTEXT"),
        env.get("MLOPS_PROMETHEUS_URL"),
        env.get("MLFLOW_TRACKING_URI"),
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = Tmux::start(&script, 180, 40, config.path().to_str().expect("utf-8"));
    t.wait_text("rollouts: embedded core");
    match cluster.driver().await {
        Driver::Controller { holder } => assert!(
            holder.starts_with("console:"),
            "the console holds the lease: {holder}"
        ),
        other => panic!("the lease is not held by the console: {other:?}"),
    }
    t.keys(&["6"]);
    t.wait_text("Rollouts");

    // A rollout created behind the console's back shows up, and the console drives it.
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": {
            "model": {"name": "fraud-detector", "version": before.version + 5},
            "stableVersion": before.version,
            "deployment": "fraud-detector",
            "image": "registry.mlops.invalid/models/fraud-detector:console",
            "replicas": 2,
            "steps": [{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 5, "failureLimit": 1, "metrics": []},
            "approval": {"required": 1}
        }
    }))
    .expect("rollout");
    let started_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    let uid = api
        .create(&PostParams::default(), &mr)
        .await
        .expect("create")
        .metadata
        .uid
        .expect("uid");
    // Events of an earlier rollout of the same name may still be around: only this one's count.
    let ours = format!("involvedObject.name={name},involvedObject.uid={uid}");
    t.wait_text(name);
    wait_until(
        "the console to drive the rollout to its pause",
        90,
        || async {
            api.get(name)
                .await
                .ok()
                .and_then(|r| r.status)
                .is_some_and(|s| s.phase == Phase::Paused && s.weight == 50)
        },
    )
    .await;
    let screen = t.wait_for("the paused rollout on screen", |s| {
        s.lines()
            .any(|l| l.contains(name) && l.contains("Paused") && l.contains("2/3"))
    });
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client(), "ml-serving");
    let mine = events
        .list(&ListParams::default().fields(&ours))
        .await
        .expect("events");
    assert!(
        !mine.items.is_empty()
            && mine.items.iter().all(|e| e
                .reporting_instance
                .as_deref()
                .is_some_and(|i| i.starts_with("console:"))),
        "every transition was carried out by the console:\n{screen}"
    );
    let canary = cluster
        .serving("ml-serving", "fraud-detector-canary")
        .await
        .expect("the console made the canary Deployment");
    assert_eq!(canary.replicas, 1, "50% of 2 replicas");

    // A headless controller starts: it takes the lease from the console, which steps aside.
    let headless = controller::start("ctl-console-test");
    t.wait_text("rollouts: controller ctl-console-test");

    // An abort from the CLI: the controller carries it out; the console shows it by watch.
    mlops_ok(&[
        "rollout",
        "abort",
        name,
        "-n",
        "ml-serving",
        "--reason",
        "console test",
    ]);
    t.wait_for("the rolled-back rollout on screen", |s| {
        s.lines()
            .any(|l| l.contains(name) && l.contains("RolledBack"))
    });
    let mine = events
        .list(&ListParams::default().fields(&ours))
        .await
        .expect("events");
    assert!(
        mine.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("RolledBack")
                && e.reporting_instance.as_deref() == Some("ctl-console-test")),
        "the rollback was the controller's"
    );

    // The Audit view reads the cluster's log: the CLI's abort and the controller's rollback, in a
    // chain verified on screen.
    let log = cluster.audit_log().clone();
    wait_until("the controller's rollback in the audit log", 30, || async {
        log.entries().await.is_ok_and(|all| {
            all.iter().any(|e| {
                e.action == "rollout.rolledback"
                    && e.actor == "ctl-console-test"
                    && e.target == format!("ml-serving/{name}")
                    && e.time >= started_at
            })
        })
    })
    .await;
    t.keys(&["7"]);
    t.wait_for("the audit log with the abort and the rollback", |s| {
        s.contains("hash chain ✓ verified")
            && s.lines().any(|l| l.contains("abort") && l.contains(name))
            && s.lines()
                .any(|l| l.contains("rollout.rolledback") && l.contains("ctl-console-test"))
    });

    // The console quits cleanly; the controller releases the lease on SIGTERM.
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");
    drop(headless);
    wait_until("the lease to be released", 10, || async {
        cluster.driver().await == Driver::Nobody
    })
    .await;
    let _ = api.delete(name, &DeleteParams::default()).await;
    cluster
        .split_replicas("ml-serving", &seeded(&before), before.replicas, 0, &[])
        .await
        .expect("restore fraud-detector");
}
