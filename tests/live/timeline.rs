//! `mlops timeline` on the real cluster, MLflow and Prometheus: a model version of the test's own
//! is registered and rolled out with `mlops rollout start` while `mlops controller` runs; the
//! traffic process makes half its canary's requests fail, so the default analysis fails and the
//! controller rolls it back. The version's timeline then lists, in order, the registration, the
//! start, the steps, the failing check, the rollback and the Kubernetes Events of its canary
//! going away — from at least four sources, each happening once.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use kube::{Api, api::DeleteParams};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::rollout::Phase;
use serde_json::{Value, json};

use common::{controller::start as start_controller, installed, mlflow, mlops_cmd, traffic};

/// The model no other live test uses: its own registered model and serving Deployment.
const MODEL: &str = "timeline-model";

/// A new version of [`MODEL`] in MLflow, with its image tag: its number.
fn register() -> u32 {
    // Created once; MLflow refuses it afterwards, which is fine.
    let _ = mlflow(
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        Some(json!({"name": MODEL})),
    );
    let v = mlflow(
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        Some(json!({"name": MODEL, "source": "s3://timeline/model"})),
    );
    let version = v["model_version"]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("a version: {v}"))
        .to_string();
    mlflow(
        "POST",
        "/api/2.0/mlflow/model-versions/set-tag",
        Some(json!({"name": MODEL, "version": version, "key": "image",
            "value": format!("registry.mlops.invalid/models/{MODEL}:v{version}")})),
    );
    version.parse().expect("a number")
}

/// A version of [`MODEL`] other than the serving Deployment's 1.
fn register_canary() -> u32 {
    match register() {
        1 => register(),
        v => v,
    }
}

async fn wait_phase(api: &Api<ModelRollout>, name: &str, want: Phase, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = api.get(name).await.expect("get rollout");
        let phase = r.status.as_ref().map_or(Phase::Pending, |s| s.phase);
        if phase == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {want}: {:#?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An entry's time to the second (`2026-12-06T14:36:38`).
fn second_of(e: &Value) -> String {
    text(e, "time").get(..19).unwrap_or_default().to_string()
}

fn text(e: &Value, key: &str) -> String {
    e[key].as_str().unwrap_or_default().to_string()
}

/// `mlops timeline --model MODEL --version V --since Ns -o json`.
fn timeline(version: u32, since: Duration) -> Value {
    let out = mlops_cmd(&[
        "timeline",
        "--model",
        MODEL,
        "--version",
        &version.to_string(),
        "--since",
        &format!("{}s", since.as_secs() + 30),
        "-o",
        "json",
    ])
    .output()
    .expect("run mlops timeline");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn a_rolled_back_canarys_timeline_reads_start_steps_failed_check_rollback_and_events() {
    let started = Instant::now();
    let (cluster, api) = installed().await;
    common::own_serving_deployment(&cluster, MODEL).await;
    let _unregister = common::Unregister(MODEL);
    let version = register_canary();
    let name = format!("{MODEL}-v{version}");
    let _ = api.delete(&name, &DeleteParams::default()).await;
    traffic("POST", "/control/reset", "{}");
    traffic(
        "POST",
        "/control/degrade",
        &json!({"model": MODEL, "version": version.to_string(), "track": "canary", "error_rate": 0.5})
            .to_string(),
    );
    let controller = start_controller(&format!("timeline-{}", std::process::id()));
    let out = mlops_cmd(&[
        "rollout",
        "start",
        "--model",
        MODEL,
        "--version",
        &version.to_string(),
        "--template",
        "quick",
        "-n",
        "ml-serving",
    ])
    .output()
    .expect("run mlops rollout start");
    assert!(
        out.status.success(),
        "rollout start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_phase(&api, &name, Phase::RolledBack, 300).await;
    drop(controller);
    traffic("POST", "/control/reset", "{}");

    // The Deployment controller's Events of the canary going away come a moment later.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (entries, stdout) = loop {
        let v = timeline(version, started.elapsed());
        let entries = v["entries"].as_array().cloned().unwrap_or_default();
        let rollback = entries
            .iter()
            .position(|e| text(e, "summary").contains("→ RollingBack"));
        let after = rollback.is_some_and(|r| {
            entries[r..].iter().any(|e| {
                text(e, "source") == "kubernetes"
                    && text(&e["details"], "object").contains(&format!("{MODEL}-canary"))
            })
        });
        if after || Instant::now() > deadline {
            break (entries, v.to_string());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let at = |what: &str, pred: &dyn Fn(&Value) -> bool| {
        entries
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no {what} in {stdout}"))
    };
    let registered = at("registration", &|e| text(e, "kind") == "version_registered");
    let command = at("rollout start", &|e| {
        text(e, "kind") == "command" && text(&e["details"], "action") == "rollout.start"
    });
    let start = at("start", &|e| {
        text(e, "kind") == "rollout_started" && text(e, "summary").contains(&name)
    });
    let step = at("step", &|e| {
        text(e, "kind") == "step" && text(e, "summary").contains("canary at 50%")
    });
    let failed = at("failed check", &|e| text(e, "kind") == "check_failed");
    let rollback = at("rollback", &|e| {
        text(e, "summary").contains("→ RollingBack")
    });
    let rolled_back = at("rolled back", &|e| {
        text(e, "summary").contains("→ RolledBack")
    });
    let events = at("the canary's Events after the rollback", &|e| {
        text(e, "source") == "kubernetes"
            && text(&e["details"], "object").contains(&format!("{MODEL}-canary"))
            && second_of(e) >= second_of(&entries[rollback])
    });
    assert!(
        registered < command
            && command <= start
            && start < step
            && step < failed
            && failed < rollback
            && rollback < rolled_back
            && rolled_back <= events,
        "out of order: {stdout}"
    );
    // One time order, an Event's whole second counting from its end (`Entry::at`).
    assert!(
        entries
            .windows(2)
            .all(|w| second_of(&w[0]) <= second_of(&w[1])),
        "{stdout}"
    );
    // Each happening once: the rollback is in the rollout's history, a Kubernetes Event and
    // the audit log, and is one entry naming the others.
    let rollbacks: Vec<&Value> = entries
        .iter()
        .filter(|e| text(e, "summary").contains("→ RollingBack"))
        .collect();
    assert_eq!(rollbacks.len(), 1, "{stdout}");
    let also = text(&rollbacks[0]["details"], "also_in");
    assert!(
        also.contains("kubernetes: Event RollingBack") && also.contains("audit: #"),
        "{also}"
    );
    let sources: std::collections::BTreeSet<String> =
        entries.iter().map(|e| text(e, "source")).collect();
    for s in ["rollout", "kubernetes", "audit", "registry"] {
        assert!(sources.contains(s), "{s} not in {sources:?}");
    }
    // The registration and the start came within 30 minutes before the failed check.
    assert_eq!(
        entries[registered]["changed_before"],
        json!(true),
        "{stdout}"
    );
    assert_eq!(entries[command]["changed_before"], json!(true), "{stdout}");
    assert!(
        entries.iter().all(|e| text(e, "model") == MODEL),
        "{stdout}"
    );
    let _ = api.delete(&name, &DeleteParams::default()).await;
}
