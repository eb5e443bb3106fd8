//! Smoke test of the Kubernetes adapter against the real control plane (etcd, kube-apiserver,
//! controller-manager, scheduler, kwok) started by `tests/env/up`.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{path::Path, time::Duration};

use k8s_openapi::api::core::v1::Pod as K8sPod;
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use mlops_console::adapters::kube::KubeCluster;
use mlops_core::{model::PodPhase, ports::ClusterPort};

async fn cluster(context_key: &str) -> KubeCluster {
    let env = common::env();
    KubeCluster::connect_file(
        Path::new(env.get("KUBECONFIG")),
        Some(env.get(context_key)),
        None,
    )
    .await
    .expect("connect to the test cluster")
}

#[tokio::test]
async fn lists_seeded_nodes_across_two_regions_with_gpus() {
    let c = cluster("MLOPS_KUBE_CONTEXT").await;
    let nodes = c.nodes().await.expect("nodes");
    let mut regions: Vec<&str> = nodes.iter().map(|n| n.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    assert!(
        regions.contains(&"me-central-1") && regions.contains(&"eu-west-1"),
        "{regions:?}"
    );
    let gpu_nodes: Vec<_> = nodes.iter().filter(|n| n.gpu_capacity > 0).collect();
    assert!(gpu_nodes.len() >= 4, "{nodes:?}");
    assert!(gpu_nodes.iter().all(|n| n.gpu_capacity == 8 && n.ready));
}

#[tokio::test]
async fn snapshot_has_model_servers_running_on_gpu_nodes_and_knows_who_we_are() {
    let c = cluster("MLOPS_KUBE_CONTEXT").await;
    let snap = c.snapshot().await.expect("snapshot");
    let models: Vec<&str> = snap.deployments.iter().map(|d| d.model.as_str()).collect();
    for m in ["fraud-detector", "churn-model", "recsys-ranker"] {
        assert!(models.contains(&m), "{m} in {models:?}");
    }
    let gpu_nodes: Vec<&str> = snap
        .nodes
        .iter()
        .filter(|n| n.gpu_capacity > 0)
        .map(|n| n.name.as_str())
        .collect();
    // Only the seeded model servers: a sibling test's pod may not be scheduled yet, and another
    // suite's model servers may still be going away.
    let seeded = ["fraud-detector", "churn-model", "recsys-ranker"];
    let servers: Vec<_> = snap
        .pods
        .iter()
        .filter(|p| p.model.as_deref().is_some_and(|m| seeded.contains(&m)))
        .filter(|p| !p.name.starts_with("smoke-"))
        .collect();
    assert!(!servers.is_empty());
    for p in &servers {
        assert_eq!(p.gpus, 1, "{p:?}");
        assert!(
            p.node.as_deref().is_some_and(|n| gpu_nodes.contains(&n)),
            "{} runs on a GPU node: {:?}",
            p.name,
            p.node
        );
    }
    assert!(
        !snap.identity.is_empty() && snap.identity != "unknown",
        "{}",
        snap.identity
    );
    let alice = cluster("MLOPS_KUBE_CONTEXT_ALICE").await;
    assert_eq!(alice.identity().await.expect("identity"), "alice");
    let refused = alice.pods().await.expect_err("alice may not list pods");
    assert!(refused.to_string().contains("listing pods"), "{refused}");
}

#[tokio::test]
async fn watches_a_new_gpu_pod_become_running() {
    let c = cluster("MLOPS_KUBE_CONTEXT").await;
    let name = format!("smoke-{}", std::process::id());
    let pod: K8sPod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml-serving", "labels": {"mlops.dev/model": "smoke", "mlops.dev/version": "1"}},
        "spec": {"containers": [{"name": "s", "image": "registry.mlops.invalid/smoke:1",
            "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}}]}
    }))
    .expect("pod");
    let api: Api<K8sPod> = Api::namespaced(c.client(), "ml-serving");
    api.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let running = c
        .wait_pod_running("ml-serving", &name, Duration::from_secs(90))
        .await;
    let _ = api.delete(&name, &DeleteParams::default()).await;
    let p = running.expect("the pod runs");
    assert_eq!(p.phase, PodPhase::Running);
    assert!(
        p.node.is_some_and(|n| n.starts_with("gpu-")),
        "scheduled onto a GPU node"
    );
}

/// The API server lists Events by name, not time: with more than a page of them, the newest
/// must still be read (the first page alone held the alphabetically first objects' Events, so
/// the Overview and the timeline missed what just happened to a model named late in the
/// alphabet).
#[tokio::test]
async fn the_newest_events_are_read_whatever_their_objects_names() {
    use k8s_openapi::api::core::v1::{Event as K8sEvent, Namespace};
    let env = common::env();
    let admin = cluster("MLOPS_KUBE_CONTEXT").await;
    let ns = "events-order";
    let namespaces: Api<Namespace> = Api::all(admin.client());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))
                .expect("namespace"),
        )
        .await;
    let events: Api<K8sEvent> = Api::namespaced(admin.client(), ns);
    let event = |name: &str, object: &str, age_s: i64| -> K8sEvent {
        let at = (chrono::Utc::now() - chrono::TimeDelta::seconds(age_s))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": object, "namespace": ns},
            "reason": "Tested", "message": format!("{object} event"), "type": "Normal",
            "firstTimestamp": at, "lastTimestamp": at,
        }))
        .expect("event")
    };
    for i in 0..520 {
        let name = format!("aaa-{i:04}");
        let _ = events
            .create(&PostParams::default(), &event(&name, &name, 3600 + i))
            .await;
    }
    events
        .create(&PostParams::default(), &event("zzz-newest", "zzz-model", 1))
        .await
        .or_else(|e| match e {
            kube::Error::Api(a) if a.code == 409 => Ok(event("zzz-newest", "zzz-model", 1)),
            e => Err(e),
        })
        .expect("the newest event");
    let c = KubeCluster::connect_file(
        Path::new(env.get("KUBECONFIG")),
        Some(env.get("MLOPS_KUBE_CONTEXT")),
        Some(ns),
    )
    .await
    .expect("connect");
    let read = c.events().await.expect("events");
    assert!(
        read.iter().any(|e| e.object.contains("zzz-model")),
        "the newest event is missing from {} read",
        read.len()
    );
    assert!(read.len() <= 500, "bounded: {}", read.len());
}
