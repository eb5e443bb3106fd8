//! `mlops controller` passes a rollout when something it depends on changes, not on a clock:
//! with the safety resync set to an hour, a rollout waiting for its canary is not passed again
//! while nothing changes (the passes counter on `/metrics` stays put), and it advances as soon as
//! its canary Deployment becomes ready (a kwok node uncordoned: the canary's pod is scheduled
//! and ready), then waits at its approval gate without being passed again.

// A test is a script of steps, read top to bottom.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Node},
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::rollout::Phase;

use common::{
    controller::{spawn_with, wait_phase},
    installed, mlops_cmd,
};

const NS: &str = "mlops-passes";
const NODE: &str = "passes-node";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `GET /metrics` on the controller, or `None` while nothing answers.
fn metrics(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out.split_once("\r\n\r\n")?.1.to_string())
}

/// The reconcile passes the controller has run so far.
fn passes(port: u16) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = metrics(port).and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("mlops_controller_reconcile_passes_total ")?
                    .parse()
                    .ok()
            })
        }) {
            return v;
        }
        assert!(Instant::now() < deadline, "no passes counter on /metrics");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn node(unschedulable: bool) -> Node {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": NODE,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "mlops.dev/passes": "true", "kubernetes.io/hostname": NODE}
        },
        "spec": {"unschedulable": unschedulable,
            "taints": [{"key": "mlops.dev/passes", "value": "true", "effect": "NoSchedule"}]},
        "status": {
            "allocatable": {"cpu": "100", "memory": "100Gi", "pods": "100"},
            "capacity": {"cpu": "100", "memory": "100Gi", "pods": "100"}
        }
    }))
    .expect("node")
}

fn serving() -> Deployment {
    let labels = serde_json::json!({"app.kubernetes.io/name": "passes-model",
        "mlops.dev/model": "passes-model", "mlops.dev/version": "1", "mlops.dev/track": "stable"});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "passes-model", "namespace": NS, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "passes-model", "mlops.dev/track": "stable"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"mlops.dev/passes": "true"},
                    "tolerations": [{"key": "mlops.dev/passes", "operator": "Exists"}],
                    "containers": [{"name": "server", "image": "registry.mlops.invalid/passes-model:v1"}]
                }
            }
        }
    }))
    .expect("deployment")
}

async fn ready_replicas(api: &Api<Deployment>, name: &str) -> i32 {
    api.get_opt(name)
        .await
        .expect("get deployment")
        .and_then(|d| d.status?.ready_replicas)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_rollout_is_passed_when_its_canary_becomes_ready_and_not_while_it_idles() {
    let (cluster, _) = installed().await;
    let client = cluster.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let nss: Api<Namespace> = Api::all(client.clone());
    // Left over from an earlier run.
    let _ = nss.delete(NS, &DeleteParams::default()).await;
    let _ = nodes.delete(NODE, &DeleteParams::default()).await;
    while nss.get_opt(NS).await.expect("namespace").is_some()
        || nodes.get_opt(NODE).await.expect("node").is_some()
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    nodes
        .create(&PostParams::default(), &node(false))
        .await
        .expect("create node");
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NS}})).expect("namespace");
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    deployments
        .create(&PostParams::default(), &serving())
        .await
        .expect("create deployment");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready_replicas(&deployments, "passes-model").await < 2 {
        assert!(
            Instant::now() < deadline,
            "the serving Deployment never got ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The node takes no new pods: the canary's pod will wait for it.
    nodes
        .patch(
            NODE,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");

    // A controller of this namespace alone whose safety resync is an hour: only a change (or a
    // step falling due, and this rollout has no timed step and no analysis) brings a pass.
    let port = free_port();
    let (controller, lines) = spawn_with(
        mlops_cmd(&[
            "controller",
            "--id",
            "passes-test",
            "--safety-resync",
            "3600",
        ])
        .args([
            "--watch-namespace",
            NS,
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
        ]),
    );
    let line = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the controller takes the lease within 60 s");
    assert!(line.contains("leads"), "{line}");

    let api: Api<ModelRollout> = Api::namespaced(client.clone(), NS);
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": "passes-model-v2", "namespace": NS},
        "spec": {
            "model": {"name": "passes-model", "version": 2},
            "stableVersion": 1,
            "deployment": "passes-model",
            "image": "registry.mlops.invalid/passes-model:v2",
            "replicas": 2,
            "steps": [{"setWeight": 50}, {"approval": {}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 5, "failureLimit": 2, "metrics": []},
            "approval": {"required": 1}
        }
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create rollout");

    // It waits for its canary, whose pod cannot be scheduled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = api.get("passes-model-v2").await.expect("get rollout");
        let waiting = r.status.as_ref().is_some_and(|s| {
            s.phase == Phase::Progressing && s.message.contains("waiting for canary at 50%")
        });
        if waiting
            && deployments
                .get_opt("passes-model-canary")
                .await
                .expect("canary")
                .is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never waited for its canary: {:#?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Idle: nothing it depends on changes, so no pass comes (a clock of 5 s would have brought
    // three or more in 16 s). The watch events of the controller's own write and of the
    // canary's creation may still be on their way: let them settle first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_from = passes(port);
    tokio::time::sleep(Duration::from_secs(16)).await;
    let idle_to = passes(port);
    assert_eq!(
        ready_replicas(&deployments, "passes-model-canary").await,
        0,
        "the canary's pod was not to be scheduled yet"
    );
    assert!(
        idle_to - idle_from < 1.0,
        "an idle rollout was passed {} times in 16 s",
        idle_to - idle_from
    );
    assert_eq!(
        api.get("passes-model-v2")
            .await
            .expect("get")
            .status
            .map(|s| s.current_step),
        Some(0)
    );

    // The canary becomes ready: the rollout moves on at once, long before any resync.
    let uncordoned = Instant::now();
    nodes
        .patch(
            NODE,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"unschedulable": false}})),
        )
        .await
        .expect("uncordon");
    let r = wait_phase(&api, "passes-model-v2", Phase::AwaitingApproval, 60).await;
    assert_eq!(r.status.as_ref().map(|s| s.weight), Some(50));
    eprintln!(
        "advanced {:.1?} after the node was uncordoned",
        uncordoned.elapsed()
    );
    assert!(ready_replicas(&deployments, "passes-model-canary").await >= 1);

    // Waiting for an approval is idle too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting_from = passes(port);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let waiting_to = passes(port);
    assert!(
        waiting_to - waiting_from < 1.0,
        "a rollout awaiting approval was passed {} times in 12 s",
        waiting_to - waiting_from
    );

    drop(controller);
    let _ = nss.delete(NS, &DeleteParams::default()).await;
    let _ = nodes.delete(NODE, &DeleteParams::default()).await;
}
