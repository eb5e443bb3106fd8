//! The Kubernetes API server killed (SIGKILL) and restarted under a running `mlops controller`
//! and a running console: nothing is lost and the watches resume. A command and a new rollout
//! sent through another API server while this one is down are carried out once it is back, the
//! canary watch sees the new canary's pods, and the console, which only learns of rollouts by
//! watch here (it refreshes once an hour), shows both.
//!
//! Destructive, so in a binary of its own. It kills only an API server of its own — a second
//! kube-apiserver for the test cluster's etcd, started by `tests/env/k8s/apiserver-replica` —
//! so other tests using the cluster are not disturbed, and stops it before it ends (also when it
//! fails). It creates one namespace and deletes it.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::{apps::v1::Deployment, coordination::v1::Lease, core::v1::Namespace};
use kube::{Api, api::PostParams};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::rollout::Phase;

use common::{
    controller::start_logging as start_controller,
    mlops_cmd,
    replica::{Replica, Scratch},
    tmux::Tmux,
};

fn serving(ns: &str, name: &str) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {
            "mlops.dev/model": name, "mlops.dev/version": "1", "mlops.dev/track": "stable"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name, "mlops.dev/track": "stable"}},
            "template": {
                "metadata": {"labels": {"app": name, "mlops.dev/model": name,
                                        "mlops.dev/version": "1", "mlops.dev/track": "stable"}},
                "spec": {"containers": [{"name": "server", "image": format!("img/{name}:1"),
                                         "resources": {"requests": {"cpu": "10m"}}}]}
            }
        }
    }))
    .expect("a Deployment")
}

async fn wait_phase(api: &Api<ModelRollout>, name: &str, want: Phase, secs: u64, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = api.get(name).await;
        if let Ok(r) = &r
            && r.status.as_ref().map(|s| s.phase) == Some(want)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {want}: {:#?}\ncontroller log:\n{}",
            r.map(|r| r.status),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn nothing_is_lost_when_the_api_server_dies_under_a_controller_and_a_console() {
    let env = common::env();
    let pid = std::process::id();
    let (cluster, _) = common::installed().await;
    let client = cluster.client();
    let ns = format!("mlops-restart-{pid}");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))
                .expect("a Namespace"),
        )
        .await
        .expect("create the namespace");
    let _cleanup = Scratch(ns.clone());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    for name in ["restart-a", "restart-b"] {
        deployments
            .create(&PostParams::default(), &serving(&ns, name))
            .await
            .expect("create a serving Deployment");
    }
    let rollouts: Api<ModelRollout> = Api::namespaced(client.clone(), &ns);

    // The console and the controller talk to an API server of their own.
    let replica = Replica::start(env.get("MLOPS_K8S_STATE_DIR"), &format!("restart-{pid}"));
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "drive_rollouts = false\nrefresh_seconds = 3600\ntimeout_seconds = 5\n[templates.restart]\nsteps = [\"setWeight 50\", \"pause\"]\n",
    )
    .expect("config.toml");
    let on_replica = |args: &[&str]| {
        let mut c = mlops_cmd(args);
        c.env("KUBECONFIG", &replica.kubeconfig)
            .env("MLOPS_CONFIG_DIR", config.path());
        c
    };
    let id = format!("restart-test-{pid}");
    let log = config.path().join("controller.log");
    let mut controller = start_controller(
        on_replica(&["controller", "--id", &id])
            // No registry: these models are not in MLflow (the alias stays where it is).
            .env_remove("MLFLOW_TRACKING_URI")
            .env("MLOPS_LOG", "info,kube=warn")
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log"))),
    );
    let console = Tmux::start(
        &format!(
            "KUBECONFIG={} MLOPS_CONTEXT={} {} -n {ns}; echo EXIT=$?; sleep 60",
            replica.kubeconfig,
            env.get("MLOPS_KUBE_CONTEXT"),
            env!("CARGO_BIN_EXE_mlops")
        ),
        160,
        40,
        &config.path().display().to_string(),
    );
    console.keys(&["6"]);
    console.wait_within("the Rollouts view", 60, |s| s.contains("Rollouts ("));

    // A rollout before the outage, driven to its pause at 50 %.
    let start = |model: &str, server: &mut Command| {
        let out = server
            .args([
                "rollout",
                "start",
                "--model",
                model,
                "--version",
                "2",
                "--image",
                &format!("img/{model}:2"),
                "--template",
                "restart",
                "-n",
                &ns,
            ])
            .output()
            .expect("run mlops rollout start");
        assert!(
            out.status.success(),
            "start {model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    start("restart-a", &mut on_replica(&[]));
    wait_phase(&rollouts, "restart-a-v2", Phase::Paused, 120, &log).await;
    console.wait_within("restart-a-v2 paused", 60, |s| {
        s.lines()
            .any(|l| l.contains("restart-a-v2") && l.contains("Paused"))
    });

    // The API server dies. Through the cluster's own API server, meanwhile: a command for the
    // first rollout, and a second rollout.
    replica.script("kill");
    let mut main = mlops_cmd(&[]);
    main.env("MLOPS_CONFIG_DIR", config.path());
    // The controller cannot write the command's audit entry while its API server is down: the
    // CLI says the command is recorded but not acknowledged (it waits 3 s here, not 20).
    let out = mlops_cmd(&["rollout", "promote", "restart-a-v2", "--full", "-n", &ns])
        .env("MLOPS_AUDIT_TIMEOUT", "3")
        .output()
        .expect("promote");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && said.contains("not acknowledged")
            && said.contains("the command is recorded in the rollout's status"),
        "promote: {said}"
    );
    // A new rollout is created, and likewise not acknowledged until its start entry is written.
    main.env("MLOPS_AUDIT_TIMEOUT", "3");
    let out = main
        .args([
            "rollout",
            "start",
            "--model",
            "restart-b",
            "--version",
            "2",
            "--image",
            "img/restart-b:2",
            "--template",
            "restart",
            "-n",
            &ns,
        ])
        .output()
        .expect("run mlops rollout start");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && said.contains("not acknowledged: the rollout is created")
            && said.contains("has not written its start entry"),
        "start restart-b: {said}"
    );
    std::thread::sleep(Duration::from_secs(2));
    replica.script("restart");

    // Nothing lost: the command is carried out, the new rollout driven to its pause (its
    // canary's readiness comes from the resumed canary watch).
    wait_phase(&rollouts, "restart-a-v2", Phase::Promoted, 120, &log).await;
    wait_phase(&rollouts, "restart-b-v2", Phase::Paused, 120, &log).await;
    // … and its audit entry written once the controller could.
    let promoted = rollouts.get("restart-a-v2").await.expect("restart-a-v2");
    let command = promoted
        .status
        .as_ref()
        .and_then(|s| s.last_command.clone())
        .expect("the promote is recorded");
    assert_eq!(command.verb, "promote");
    assert!(
        command.audited.is_some(),
        "the controller wrote the promote's entry after the restart: {command:?}"
    );
    let started = rollouts.get("restart-b-v2").await.expect("restart-b-v2");
    assert!(
        started
            .status
            .as_ref()
            .and_then(|s| s.start_audited)
            .is_some(),
        "the controller wrote restart-b's start entry after the restart: {:?}",
        started.status
    );
    // The console's watches resumed: both changes are on screen without a refresh.
    let screen = console.wait_within("both rollouts after the restart", 90, |s| {
        s.lines()
            .any(|l| l.contains("restart-a-v2") && l.contains("Promoted"))
            && s.lines()
                .any(|l| l.contains("restart-b-v2") && l.contains("Paused"))
    });
    assert!(
        screen.contains(&id),
        "the status bar names the controller:\n{screen}"
    );
    // The controller rode it out and still holds the lease.
    assert!(controller.is_running(), "the controller is still running");
    let leases: Api<Lease> = Api::namespaced(client.clone(), "mlops-system");
    let lease = leases.get("mlops-controller").await.expect("the lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some(id.as_str())
    );

    console.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    let s = console.wait_within("the console's exit", 30, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    drop(controller);
}
