//! The console's watch-fed read model against many pods on the kwok cluster: the time from
//! starting the watches to the first data in the stores (every initial list whole), the
//! process's RSS once they are synced, and the cache figure of each watch. For comparison, the
//! time one paged list of every pod (whole objects) takes, after the RSS was read.
//!
//! Run with the test environment up: `eval "$(tests/env/up)"; cargo bench --bench watch_scale`
//! (`MLOPS_BENCH_PODS`, default 20000: pods in the namespace `mlops-bench-watch`, bound to
//! bench-only kwok nodes; made once and kept for the next run unless `MLOPS_BENCH_CLEANUP=1`).

// A benchmark is a script of steps: production code is held to 100 lines a function
// (clippy.toml), benchmarks are not.
#![allow(clippy::too_many_lines)]

use std::{
    path::Path,
    time::{Duration, Instant},
};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::{
    Api,
    api::{ListParams, PostParams},
};
use mlops_console::adapters::kube::KubeCluster;

const NS: &str = "mlops-bench-watch";
const NODES: usize = 20;

fn var(k: &str) -> String {
    std::env::var(k)
        .unwrap_or_else(|_| panic!("{k} is not set: run `eval \"$(tests/env/up)\"` first"))
}

fn node(i: usize) -> Node {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": format!("bench-watch-node-{i}"),
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "mlops.dev/bench": "true",
                       "kubernetes.io/hostname": format!("bench-watch-node-{i}")}
        },
        "spec": {"taints": [{"key": "mlops.dev/bench", "value": "true", "effect": "NoSchedule"}]},
        "status": {
            "allocatable": {"cpu": "1000", "memory": "4Ti", "pods": "2000"},
            "capacity": {"cpu": "1000", "memory": "4Ti", "pods": "2000"}
        }
    }))
    .expect("node")
}

/// A pod as a workload has it: labels, a container with requests, env and a probe; bound to a
/// bench node (no scheduler needed).
fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("bench-pod-{i:05}"),
            "namespace": NS,
            "labels": {"app": format!("bench-app-{}", i % 100), "mlops.dev/bench": "true",
                       "pod-template-hash": "5d8f7c9b6d"},
            "annotations": {"bench.mlops.dev/note": "a pod of the watch benchmark"}
        },
        "spec": {
            "nodeName": format!("bench-watch-node-{}", i % NODES),
            "tolerations": [{"key": "mlops.dev/bench", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{
                "name": "server",
                "image": format!("registry.example/bench/app-{}:1.0.{}", i % 100, i % 7),
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [{"name": "MODE", "value": "serve"}, {"name": "WORKERS", "value": "4"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
            }]
        }
    }))
    .expect("pod")
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn setup(client: &kube::Client, n: usize) {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..NODES {
        let _ = nodes.create(&PostParams::default(), &node(i)).await;
    }
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NS}})).expect("namespace");
    let _ = nss.create(&PostParams::default(), &ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let have: std::collections::HashSet<String> = pods
        .list_metadata(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|m| m.metadata.name)
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<usize> = (0..n)
        .filter(|i| !have.contains(&format!("bench-pod-{i:05}")))
        .collect();
    let started = Instant::now();
    let count = missing.len();
    futures::stream::iter(missing)
        .for_each_concurrent(32, |i| {
            let pods = pods.clone();
            async move {
                if let Err(e) = pods.create(&PostParams::default(), &pod(i)).await {
                    eprintln!("creating bench-pod-{i:05}: {e}");
                }
            }
        })
        .await;
    eprintln!(
        "setup: {count} pods created in {:.1?} ({} were there)",
        started.elapsed(),
        have.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("MLOPS_BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (kubeconfig, context) = (var("KUBECONFIG"), var("MLOPS_KUBE_CONTEXT"));
    let connect = || {
        KubeCluster::connect_file_with(
            Path::new(&kubeconfig),
            Some(&context),
            None,
            Duration::from_secs(30),
        )
    };
    let admin = connect().await.expect("connect");
    setup(&admin.client(), n).await;
    drop(admin);
    let before = rss_kib();
    let cluster = connect().await.expect("connect");
    let started = Instant::now();
    let model = cluster.read_model();
    model.settle(Duration::from_secs(600)).await;
    let synced = started.elapsed();
    let read = model.read().expect("read the stores");
    let snapshot_started = Instant::now();
    let snap = mlops_core::ports::ClusterPort::snapshot(&cluster)
        .await
        .expect("a snapshot");
    let snapshot_took = snapshot_started.elapsed();
    let after = rss_kib();
    println!(
        "pods in the cluster: {} (of them {n} bench pods in {NS}); nodes: {}",
        read.pods.len(),
        read.nodes.len()
    );
    println!("start → every watch's first list in its store: {synced:.2?}");
    println!("a snapshot read from the stores afterwards: {snapshot_took:.2?}");
    println!(
        "RSS: {:.1} MiB before the watches, {:.1} MiB once synced (+{:.1} MiB)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0
    );
    for w in &snap.watches {
        println!(
            "  {:<12} {:<28} {}",
            w.resource.plural(),
            w.figure(),
            w.scope
        );
    }
    drop((read, snap));
    // For comparison: one paged list of every pod, whole objects.
    let pods: Api<Pod> = Api::all(cluster.client());
    let list_started = Instant::now();
    let mut total = 0usize;
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(500);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = pods.list(&params).await.expect("list pods");
        total += page.items.len();
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    println!(
        "one paged list of the {total} pods (pages of 500, whole objects): {:.2?}",
        list_started.elapsed()
    );
    if std::env::var("MLOPS_BENCH_CLEANUP").as_deref() == Ok("1") {
        let nss: Api<Namespace> = Api::all(cluster.client());
        let _ = nss.delete(NS, &kube::api::DeleteParams::default()).await;
        eprintln!("deleting the namespace {NS}");
    }
}
