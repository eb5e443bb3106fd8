//! `mlops controller` on the real control plane, Prometheus and traffic process: a rollout moves
//! through its weights as canary pods become Running, waits at its approval gate, is approved from
//! the CLI and promoted (the registry's champion alias moves); a canary degraded through the
//! traffic process fails its analysis and is rolled back automatically.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use mlops_console::adapters::{kube::ModelRollout, mlflow::MlflowRegistry};
use mlops_core::{ports::RegistryPort, rollout::Phase};

/// The tests here compete for one Lease: they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

use common::{
    controller::{
        spawn as spawn_controller, start as start_controller, start_with as start_controller_with,
        wait_phase,
    },
    installed, mlops_cmd, mlops_ok, seeded,
};

fn traffic(path: &str, body: &serde_json::Value) {
    let url = format!("{}{path}", common::env().get("MLOPS_TRAFFIC_URL"));
    let out = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &body.to_string(),
            &url,
        ])
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "POST {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn spec(
    model: &str,
    version: u32,
    stable: u32,
    image: &str,
    steps: &serde_json::Value,
    count_limit: (u32, u32),
) -> serde_json::Value {
    serde_json::json!({
        "model": {"name": model, "version": version},
        "stableVersion": stable,
        "deployment": model,
        "image": image,
        "replicas": 2,
        "steps": steps,
        "analysis": {"intervalSeconds": 5, "failureLimit": count_limit.1, "metrics": [{
            "name": "error-rate", "kind": "errorRate",
            "canaryQuery": format!("sum(rate(model_requests_total{{model=\"{model}\",version=\"{version}\",track=\"canary\",code=~\"5..\"}}[30s])) / sum(rate(model_requests_total{{model=\"{model}\",version=\"{version}\",track=\"canary\"}}[30s]))"),
            "max": 0.05
        }]},
        "approval": {"required": 1}
    })
}

#[tokio::test]
async fn the_controller_promotes_an_approved_canary_and_rolls_back_a_degraded_one() {
    let _serial = SERIAL.lock().await;
    let env = common::env();
    let (cluster, api) = installed().await;
    let registry = MlflowRegistry::new(
        env.get("MLFLOW_TRACKING_URI"),
        mlops_console::adapters::http::Auth::None,
    )
    .expect("registry");
    let churn_before = cluster
        .serving("ml-serving", "churn-model")
        .await
        .expect("seeded churn-model");
    let recsys_before = cluster
        .serving("ml-serving", "recsys-ranker")
        .await
        .expect("seeded recsys-ranker");
    for n in ["churn-model-ctl", "recsys-ranker-ctl"] {
        let _ = api.delete(n, &DeleteParams::default()).await;
    }
    traffic("/control/reset", &serde_json::json!({}));
    let id = format!("test-{}", std::process::id());
    let _controller = start_controller(&id);
    let driver = mlops_core::ports::ClusterPort::snapshot(&cluster)
        .await
        .expect("snapshot")
        .driver;
    assert_eq!(
        driver,
        mlops_core::model::Driver::Controller { holder: id.clone() },
        "the console names the lease holder"
    );

    // 1. Weights, analysis, the approval gate, approval from the CLI, promotion and registry sync.
    let next = churn_before.version + 1;
    let image = format!("registry.mlops.invalid/models/churn-model:v{next}");
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": "churn-model-ctl", "namespace": "ml-serving"},
        "spec": spec("churn-model", next, churn_before.version, &image,
            &serde_json::json!([{"setWeight": 50}, {"analysis": {"count": 1}}, {"approval": {}}, {"setWeight": 100}]), (1, 3))
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    let at_gate = wait_phase(&api, "churn-model-ctl", Phase::AwaitingApproval, 150).await;
    let status = at_gate.status.expect("status");
    assert_eq!(status.weight, 50);
    assert!(
        status
            .history
            .iter()
            .any(|t| t.reason.contains("canary at 50%")),
        "{:#?}",
        status.history
    );
    assert!(
        status
            .measurements
            .iter()
            .any(|m| m.verdict == mlops_core::analysis::Verdict::Pass),
        "{:#?}",
        status.measurements
    );
    let canary = cluster
        .deployments()
        .await
        .expect("deployments")
        .into_iter()
        .find(|d| d.name == "churn-model-canary")
        .expect("canary");
    assert_eq!(
        (canary.replicas, canary.ready_replicas, canary.version),
        (1, 1, next)
    );

    mlops_ok(&[
        "rollout",
        "approve",
        "churn-model-ctl",
        "-n",
        "ml-serving",
        "--comment",
        "controller test",
    ]);
    let promoted = wait_phase(&api, "churn-model-ctl", Phase::Promoted, 90).await;
    assert_eq!(promoted.status.as_ref().map(|s| s.approvals.len()), Some(1));
    // The approval carries its user and comment into the status and the audit log, under the
    // action name the demo uses.
    let me = cluster.identity().await.expect("identity");
    let approvals: Vec<(String, String)> = promoted
        .status
        .as_ref()
        .map(|s| {
            s.approvals
                .iter()
                .map(|a| (a.user.clone(), a.comment.clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(approvals, vec![(me.clone(), "controller test".to_string())]);
    let history: Vec<String> = promoted
        .status
        .as_ref()
        .map(|s| s.history.iter().map(|t| t.reason.clone()).collect())
        .unwrap_or_default();
    assert!(
        history
            .iter()
            .any(|r| r.contains(&format!("approved by {me}: controller test"))),
        "{history:#?}"
    );
    let audit = cluster.audit_log().entries().await.expect("audit");
    assert!(
        audit.iter().any(|e| e.action == "rollout.approve"
            && e.actor == me
            && e.comment == "controller test"
            && e.target == "ml-serving/churn-model-ctl"),
        "{:#?}",
        &audit[audit.len().saturating_sub(8)..]
    );
    let stable = cluster
        .serving("ml-serving", "churn-model")
        .await
        .expect("stable");
    assert_eq!(
        (stable.version, stable.image.as_str(), stable.replicas),
        (next, image.as_str(), 2)
    );
    let champion = registry
        .models()
        .await
        .expect("models")
        .into_iter()
        .find(|m| m.name == "churn-model")
        .and_then(|m| m.aliases.get("champion").copied());
    assert_eq!(
        champion,
        Some(next),
        "the registry's champion alias moved to the promoted version"
    );
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client(), "ml-serving");
    let ours = events
        .list(&ListParams::default().fields("involvedObject.name=churn-model-ctl"))
        .await
        .expect("events");
    assert!(
        ours.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Promoted")),
        "an Event for the promotion"
    );

    // 1b. Undo the promotion from the CLI: the stable side goes back to the previous version (its
    //     image from the registry's tag) and so does the champion alias.
    mlops_ok(&[
        "rollout",
        "rollback",
        "churn-model-ctl",
        "-n",
        "ml-serving",
        "--reason",
        "undo test",
    ]);
    wait_phase(&api, "churn-model-ctl", Phase::RolledBack, 60).await;
    let stable = cluster
        .serving("ml-serving", "churn-model")
        .await
        .expect("stable");
    assert_eq!(
        (stable.version, stable.image.as_str()),
        (churn_before.version, churn_before.image.as_str())
    );
    let champion = registry
        .models()
        .await
        .expect("models")
        .into_iter()
        .find(|m| m.name == "churn-model")
        .and_then(|m| m.aliases.get("champion").copied());
    assert_eq!(
        champion,
        Some(churn_before.version),
        "the champion alias moved back"
    );

    // 2. A canary whose error rate the traffic process degrades fails analysis and rolls back.
    let rnext = recsys_before.version + 1;
    traffic(
        "/control/degrade",
        &serde_json::json!({"model": "recsys-ranker", "version": rnext.to_string(), "error_rate": 0.5}),
    );
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": "recsys-ranker-ctl", "namespace": "ml-serving"},
        "spec": spec("recsys-ranker", rnext, recsys_before.version, &format!("registry.mlops.invalid/models/recsys-ranker:v{rnext}"),
            &serde_json::json!([{"setWeight": 50}, {"analysis": {"count": 5}}, {"setWeight": 100}]), (5, 2))
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    let rolled_back = wait_phase(&api, "recsys-ranker-ctl", Phase::RolledBack, 180).await;
    let st = rolled_back.status.expect("status");
    assert!(st.failures >= 2, "{st:#?}");
    assert_eq!(st.weight, 0);
    let ds = cluster.deployments().await.expect("deployments");
    let canary = ds
        .iter()
        .find(|d| d.name == "recsys-ranker-canary")
        .map_or(0, |d| d.replicas);
    let stable = ds
        .iter()
        .find(|d| d.name == "recsys-ranker")
        .map(|d| (d.replicas, d.version));
    assert_eq!(
        (canary, stable),
        (0, Some((2, recsys_before.version))),
        "all traffic back on stable"
    );

    // 3. An operator aborts a paused rollout from the CLI; the controller puts traffic back.
    let fraud_before = cluster
        .serving("ml-serving", "fraud-detector")
        .await
        .expect("seeded fraud-detector");
    let _ = api
        .delete("fraud-detector-ctl", &DeleteParams::default())
        .await;
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": "fraud-detector-ctl", "namespace": "ml-serving"},
        "spec": spec("fraud-detector", fraud_before.version + 1, fraud_before.version, "registry.mlops.invalid/models/fraud-detector:ctl",
            &serde_json::json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]), (1, 2))
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    let paused = wait_phase(&api, "fraud-detector-ctl", Phase::Paused, 90).await;
    assert_eq!(paused.status.as_ref().map(|s| s.weight), Some(50));
    let out = mlops_ok(&[
        "rollout",
        "abort",
        "fraud-detector-ctl",
        "-n",
        "ml-serving",
        "--reason",
        "operator test",
        "-o",
        "json",
    ]);
    let recorded: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        recorded["status"]["phase"], "RollingBack",
        "the CLI records the command; the controller acts"
    );
    wait_phase(&api, "fraud-detector-ctl", Phase::RolledBack, 60).await;
    let ds = cluster.deployments().await.expect("deployments");
    assert_eq!(
        ds.iter()
            .find(|d| d.name == "fraud-detector-canary")
            .map_or(0, |d| d.replicas),
        0
    );
    assert_eq!(
        ds.iter()
            .find(|d| d.name == "fraud-detector")
            .map(|d| d.replicas),
        Some(2)
    );
    let _ = api
        .delete("fraud-detector-ctl", &DeleteParams::default())
        .await;
    let fraud_back = seeded(&fraud_before);
    cluster
        .split_replicas("ml-serving", &fraud_back, fraud_back.replicas, 0, &[])
        .await
        .expect("restore fraud-detector");

    // 4. An invalid rollout (weights going down) fails with a condition naming the field, and no
    //    traffic moves.
    let _ = api
        .delete("fraud-detector-bad", &DeleteParams::default())
        .await;
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": "fraud-detector-bad", "namespace": "ml-serving"},
        "spec": spec("fraud-detector", fraud_before.version + 1, fraud_before.version, "x:1",
            &serde_json::json!([{"setWeight": 40}, {"setWeight": 20}]), (1, 2))
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("the schema allows it; the core does not");
    let failed = wait_phase(&api, "fraud-detector-bad", Phase::Failed, 60).await;
    let cond = failed
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.kind == "SpecValid")
        .expect("condition");
    assert!(
        !cond.status && cond.message.contains("spec.steps[1].setWeight"),
        "{cond:?}"
    );
    let ds = cluster.deployments().await.expect("deployments");
    assert_eq!(
        ds.iter()
            .find(|d| d.name == "fraud-detector-canary")
            .map_or(0, |d| d.replicas),
        0,
        "no partial traffic shift"
    );
    let _ = api
        .delete("fraud-detector-bad", &DeleteParams::default())
        .await;

    // Put the seeded state back for the other tests.
    traffic("/control/reset", &serde_json::json!({}));
    for n in ["churn-model-ctl", "recsys-ranker-ctl"] {
        let _ = api.delete(n, &DeleteParams::default()).await;
    }
    let back = seeded(&churn_before);
    cluster
        .replace_stable("ml-serving", &back, back.model.version, &back.image, &[])
        .await
        .expect("restore churn-model");
    registry
        .set_alias("churn-model", "champion", churn_before.version)
        .await
        .expect("restore alias");
    let scale_back = seeded(&recsys_before);
    cluster
        .split_replicas("ml-serving", &scale_back, scale_back.replicas, 0, &[])
        .await
        .expect("restore recsys-ranker");
}

#[tokio::test]
async fn a_second_replica_waits_then_takes_over_and_resumes_without_repeating_or_skipping_a_step() {
    let _serial = SERIAL.lock().await;
    let (cluster, api) = installed().await;
    let before = cluster
        .serving("ml-serving", "recsys-ranker")
        .await
        .expect("seeded recsys-ranker");
    let name = "recsys-ranker-failover";
    let _ = api.delete(name, &DeleteParams::default()).await;
    let first = start_controller(&format!("first-{}", std::process::id()));
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": "ml-serving"},
        // Another version than the degraded canary of the other test, whose errors linger in rate windows.
        "spec": spec("recsys-ranker", before.version + 2, before.version, "registry.mlops.invalid/models/recsys-ranker:failover",
            &serde_json::json!([{"setWeight": 25}, {"pause": {"durationSeconds": 10}}, {"setWeight": 50}, {"pause": {}}]), (1, 2))
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = api.get(name).await.expect("get").status.unwrap_or_default();
        if st.phase == Phase::Paused && st.current_step == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never paused at step 2: {st:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A second replica stays passive while the first holds the lease.
    let (second, second_out) = spawn_controller(&format!("second-{}", std::process::id()));
    assert!(
        second_out.recv_timeout(Duration::from_secs(8)).is_err(),
        "the second replica must not lead while the first is alive"
    );
    // The first dies mid-rollout (mid-pause); the second takes over once the lease expires.
    first.die();
    let line = second_out
        .recv_timeout(Duration::from_secs(45))
        .expect("the second replica takes over");
    assert!(line.contains("leads"), "{line}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let st = loop {
        let st = api.get(name).await.expect("get").status.unwrap_or_default();
        if st.phase == Phase::Paused && st.current_step == 3 {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "never resumed to the last pause: {st:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(st.weight, 50);
    for step in ["canary at 25%", "canary at 50%", "paused 10s"] {
        let n = st
            .history
            .iter()
            .filter(|t| t.reason.starts_with(step))
            .count();
        assert_eq!(n, 1, "{step:?} happened exactly once: {:#?}", st.history);
    }
    drop(second);
    let _ = api.delete(name, &DeleteParams::default()).await;
    let back = seeded(&before);
    cluster
        .split_replicas("ml-serving", &back, back.replicas, 0, &[])
        .await
        .expect("restore recsys-ranker");
}

#[tokio::test]
async fn with_prometheus_down_analysis_is_inconclusive_and_the_rollout_never_advances() {
    let _serial = SERIAL.lock().await;
    let (cluster, api) = installed().await;
    let before = cluster
        .serving("ml-serving", "churn-model")
        .await
        .expect("seeded churn-model");
    let name = "churn-model-noprom";
    let _ = api.delete(name, &DeleteParams::default()).await;
    // A Prometheus that is down: nothing listens on the port (bound, then closed).
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let controller = start_controller_with(
        mlops_cmd(&[
            "controller",
            "--id",
            &format!("noprom-{}", std::process::id()),
        ])
        .env("MLOPS_PROMETHEUS_URL", &down),
    );
    let next = before.version + 3;
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": spec("churn-model", next, before.version, &format!("registry.mlops.invalid/models/churn-model:v{next}"),
            &serde_json::json!([{"setWeight": 50}, {"analysis": {"count": 1}}, {"setWeight": 100}]), (1, 1))
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    // Three analysis rounds (every 5 s) against the dead store.
    let deadline = Instant::now() + Duration::from_secs(120);
    let st = loop {
        let st = api.get(name).await.expect("get").status.unwrap_or_default();
        if st.measurements.len() >= 3 {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "no measurements recorded: {st:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        st.measurements
            .iter()
            .all(|m| m.verdict == mlops_core::analysis::Verdict::Inconclusive),
        "a store that is down is never a pass (nor a fail): {:#?}",
        st.measurements
    );
    let reason = &st.measurements[0].reason;
    assert!(
        reason.starts_with("no canary value: ") && reason.contains("prometheus"),
        "the reason names the store's error: {reason}"
    );
    assert_eq!(
        (
            st.phase,
            st.weight,
            st.current_step,
            st.failures,
            st.passes_in_step
        ),
        (Phase::Progressing, 50, 1, 0, 0),
        "the rollout waits at its analysis step: it neither advances nor rolls back"
    );
    drop(controller);
    let _ = api.delete(name, &DeleteParams::default()).await;
    cluster
        .split_replicas("ml-serving", &seeded(&before), before.replicas, 0, &[])
        .await
        .expect("restore churn-model");
}

/// Canary-vs-stable drift as an analysis metric: the traffic process shifts one input feature of
/// the canary track only; the controller measures the largest PSI of the canary's feature
/// histograms against the stable's, fails the analysis on it and rolls the canary back, naming
/// the feature.
#[tokio::test]
async fn a_canary_whose_inputs_drift_from_the_stables_fails_analysis_and_rolls_back() {
    let _serial = SERIAL.lock().await;
    let (cluster, api) = installed().await;
    let before = cluster
        .serving("ml-serving", "fraud-detector")
        .await
        .expect("seeded fraud-detector");
    let name = "fraud-detector-drift";
    let _ = api.delete(name, &DeleteParams::default()).await;
    traffic("/control/reset", &serde_json::json!({}));
    let _controller = start_controller(&format!("drift-{}", std::process::id()));
    // A version of its own: a canary of another run in the last five minutes is not this one.
    let version = before.version + 100 + std::process::id() % 1000;
    let mut s = spec(
        "fraud-detector",
        version,
        before.version,
        "registry.mlops.invalid/models/fraud-detector:drift",
        &serde_json::json!([{"setWeight": 50}, {"analysis": {"count": 30}}, {"setWeight": 100}]),
        (1, 2),
    );
    s["analysis"]["metrics"] = serde_json::json!([mlops_core::rollout::drift_check(
        "fraud-detector",
        version,
        0.25
    )]);
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": s,
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    // Without drift the check passes on the real traffic (no false alarm from a small sample)…
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = api.get(name).await.expect("get").status.unwrap_or_default();
        let drift: Vec<_> = st
            .measurements
            .iter()
            .filter(|m| m.metric == "drift")
            .collect();
        assert!(
            drift
                .iter()
                .all(|m| m.verdict != mlops_core::analysis::Verdict::Fail),
            "a false alarm before any drift: {drift:#?}"
        );
        if drift
            .iter()
            .any(|m| m.verdict == mlops_core::analysis::Verdict::Pass)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drift check never passed: {st:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // … then the canary's `amount` shifts by four standard deviations; the stable's stays.
    traffic(
        "/control/drift",
        &serde_json::json!({"model": "fraud-detector", "feature": "amount", "shift": 4, "track": "canary"}),
    );
    let rolled_back = wait_phase(&api, name, Phase::RolledBack, 240).await;
    traffic("/control/reset", &serde_json::json!({}));
    let st = rolled_back.status.expect("status");
    let failed: Vec<_> = st
        .measurements
        .iter()
        .filter(|m| m.metric == "drift" && m.verdict == mlops_core::analysis::Verdict::Fail)
        .collect();
    assert!(failed.len() >= 2, "{:#?}", st.measurements);
    assert!(
        failed.iter().all(|m| m.canary.is_some_and(|psi| psi > 0.25)
            && m.reason
                .contains("> max 0.2500 (PSI of amount, canary vs stable)")),
        "{failed:#?}"
    );
    let _ = api.delete(name, &DeleteParams::default()).await;
    let back = seeded(&before);
    cluster
        .split_replicas("ml-serving", &back, back.replicas, 0, &[])
        .await
        .expect("restore fraud-detector");
}
