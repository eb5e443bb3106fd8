//! One controller driving many concurrent rollouts on the kwok cluster: the time each reconcile
//! pass takes (observe → decide → effects → status write), and the time until every rollout is
//! Promoted. Each rollout has its own serving Deployment in the namespace `mlops-bench`, on
//! bench-only kwok nodes, and goes setWeight 50 → two analysis rounds (a PromQL query against the
//! real Prometheus) → setWeight 100 → promotion.
//!
//! Run with the test environment up: `eval "$(tests/env/up)"; cargo bench --bench controller_scale`
//! (`MLOPS_BENCH_ROLLOUTS`, default 500; `MLOPS_BENCH_CONCURRENCY`; `MLOPS_BENCH_TIMEOUT_SECONDS`,
//! the per-call deadline, default 10). Nothing else may hold the controller lease meanwhile.

// A benchmark is a script of steps: production code is held to 100 lines a function
// (clippy.toml), benchmarks are not.
#![allow(clippy::too_many_lines)]

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Node},
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use mlops_console::{
    adapters::{
        http::Auth,
        kube::{ModelRollout, crd, lease::Acquired},
        prometheus::PrometheusMetrics,
    },
    controller,
};
use tracing_subscriber::{Layer, layer::Context as LayerContext, prelude::*};

/// Pass timings read from the controller's per-pass tracing events (`controller::PASS_TARGET`):
/// how long each pass took, how late each requeued pass started, and how long each rollout
/// waited for its first pass after it was created.
#[derive(Default)]
struct Timings {
    passes: std::sync::Mutex<Vec<Duration>>,
    late: std::sync::Mutex<Vec<Duration>>,
    due: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    /// Rollouts not passed yet, by `namespace/name`: when their create was sent.
    created: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    first: std::sync::Mutex<Vec<Duration>>,
}

#[derive(Default)]
struct PassFields {
    rollout: String,
    elapsed_us: Option<u64>,
    requeue_ms: Option<u64>,
}

impl tracing::field::Visit for PassFields {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "elapsed_us" => self.elapsed_us = Some(value),
            "requeue_ms" => self.requeue_ms = Some(value),
            _ => {}
        }
    }

    fn record_u128(&mut self, field: &tracing::field::Field, value: u128) {
        self.record_u64(field, u64::try_from(value).unwrap_or(u64::MAX));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "rollout" {
            self.rollout = format!("{value:?}");
        }
    }
}

/// Take `key`'s instant out of `from` and record how long ago it was in `into`.
fn since(
    from: &std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    key: &str,
    now: Instant,
    into: &std::sync::Mutex<Vec<Duration>>,
) {
    let then = from.lock().ok().and_then(|mut m| m.remove(key));
    if let (Some(then), Ok(mut into)) = (then, into.lock()) {
        into.push(now.saturating_duration_since(then));
    }
}

struct PassLayer(Arc<Timings>);

impl<S: tracing::Subscriber> Layer<S> for PassLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: LayerContext<'_, S>) {
        if event.metadata().target() != controller::PASS_TARGET {
            return;
        }
        let now = Instant::now();
        let mut f = PassFields::default();
        event.record(&mut f);
        if let Some(us) = f.elapsed_us {
            // "pass finished": its duration, and when the next one is due.
            if let Ok(mut p) = self.0.passes.lock() {
                p.push(Duration::from_micros(us));
            }
            if let (Some(ms), Ok(mut due)) = (f.requeue_ms.filter(|ms| *ms > 0), self.0.due.lock())
            {
                due.insert(f.rollout, now + Duration::from_millis(ms));
            }
        } else {
            // "pass started": how long after it was due, and after the rollout's create.
            since(&self.0.due, &f.rollout, now, &self.0.late);
            since(&self.0.created, &f.rollout, now, &self.0.first);
        }
    }
}

const NS: &str = "mlops-bench";
const NODES: usize = 10;

fn var(k: &str) -> String {
    std::env::var(k)
        .unwrap_or_else(|_| panic!("{k} is not set: run `eval \"$(tests/env/up)\"` first"))
}

fn node(i: usize) -> Node {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": format!("bench-node-{i}"),
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "mlops.dev/bench": "true", "kubernetes.io/hostname": format!("bench-node-{i}")}
        },
        "spec": {"taints": [{"key": "mlops.dev/bench", "value": "true", "effect": "NoSchedule"}]},
        "status": {
            "allocatable": {"cpu": "1000", "memory": "4Ti", "pods": "1000"},
            "capacity": {"cpu": "1000", "memory": "4Ti", "pods": "1000"}
        }
    }))
    .expect("node")
}

fn deployment(i: usize) -> Deployment {
    let name = format!("bench-model-{i:03}");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {
            "app.kubernetes.io/name": name, "mlops.dev/model": name,
            "mlops.dev/version": "1", "mlops.dev/track": "stable"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name, "mlops.dev/track": "stable"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name, "mlops.dev/model": name,
                    "mlops.dev/version": "1", "mlops.dev/track": "stable"}},
                "spec": {
                    "nodeSelector": {"mlops.dev/bench": "true"},
                    "tolerations": [{"key": "mlops.dev/bench", "operator": "Exists"}],
                    "containers": [{"name": "server", "image": format!("registry.mlops.invalid/bench/{name}:v1")}]
                }
            }
        }
    }))
    .expect("deployment")
}

fn rollout(i: usize) -> ModelRollout {
    let name = format!("bench-model-{i:03}");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": format!("{name}-v2"), "namespace": NS},
        "spec": {
            "model": {"name": name, "version": 2},
            "stableVersion": 1,
            "deployment": name,
            "image": format!("registry.mlops.invalid/bench/{name}:v2"),
            "replicas": 1,
            "steps": [{"setWeight": 50}, {"analysis": {"count": 2}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 5, "failureLimit": 2, "metrics": [{
                "name": "error-rate", "kind": "errorRate",
                "canaryQuery": format!("(sum(rate(model_requests_total{{model=\"{name}\",code=~\"5..\"}}[1m])) / sum(rate(model_requests_total{{model=\"{name}\"}}[1m]))) or vector(0)"),
                "max": 0.05
            }]},
            "approval": {"required": 1}
        }
    }))
    .expect("rollout")
}

/// Run `f` over `items` with at most `n` in flight.
async fn each<T, F, Fut>(items: Vec<T>, n: usize, f: F)
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    futures::stream::iter(items).for_each_concurrent(n, f).await;
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn setup(client: &kube::Client, n: usize) {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..NODES {
        let _ = nodes.create(&PostParams::default(), &node(i)).await;
    }
    let nss: Api<Namespace> = Api::all(client.clone());
    // The previous run's namespace may still be terminating.
    while let Ok(Some(old)) = nss.get_opt(NS).await {
        if old.metadata.deletion_timestamp.is_none() {
            break;
        }
        eprintln!("  waiting for the previous {NS} to be deleted");
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NS}})).expect("namespace");
    let _ = nss.create(&PostParams::default(), &ns).await;
    let rollouts: Api<ModelRollout> = Api::namespaced(client.clone(), NS);
    let _ = rollouts
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let _ = deployments
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    // Wait for the previous run's objects to go.
    loop {
        let left = deployments
            .list(&ListParams::default())
            .await
            .map_or(0, |l| l.items.len());
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let started = Instant::now();
    each((0..n).collect(), 16, |i| {
        let deployments = deployments.clone();
        async move {
            deployments
                .create(&PostParams::default(), &deployment(i))
                .await
                .unwrap_or_else(|e| panic!("creating bench-model-{i:03}: {e}"));
        }
    })
    .await;
    loop {
        let ready = deployments
            .list(&ListParams::default())
            .await
            .map_or(0, |l| {
                l.items
                    .iter()
                    .filter(|d| d.status.as_ref().and_then(|s| s.ready_replicas) == Some(1))
                    .count()
            });
        eprintln!("  {ready}/{n} serving Deployments ready");
        if ready == n {
            break;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    eprintln!(
        "setup: {n} serving Deployments ready in {:.0?}",
        started.elapsed()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("MLOPS_BENCH_ROLLOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    // The per-call deadline of every Kubernetes call (as `timeout_seconds` in config.toml; 10 s
    // by default): `MLOPS_BENCH_TIMEOUT_SECONDS` to see what the deadline does under load.
    let timeout = std::env::var("MLOPS_BENCH_TIMEOUT_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    let cluster = mlops_console::adapters::kube::KubeCluster::connect_file_with(
        Path::new(&var("KUBECONFIG")),
        Some(&var("MLOPS_KUBE_CONTEXT")),
        None,
        timeout,
    )
    .await
    .expect("connect");
    let client = cluster.client();
    if let Err(e) = crd::install(client.clone(), Duration::from_secs(60)).await {
        panic!("installing the CRD: {e}");
    }
    setup(&client, n).await;

    let timings = Arc::new(Timings::default());
    let _ = tracing_subscriber::registry()
        .with(
            PassLayer(timings.clone()).with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target(controller::PASS_TARGET, tracing::Level::TRACE),
            ),
        )
        .try_init();
    let concurrency: u16 = std::env::var("MLOPS_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(controller::DEFAULT_CONCURRENCY);
    let ctx = Arc::new(controller::Context {
        cluster: cluster.clone(),
        metrics: Some(Arc::new(
            PrometheusMetrics::new(&var("MLOPS_PROMETHEUS_URL"), Auth::None)
                .expect("prometheus")
                .with_cluster(cluster.describe_context()),
        )),
        registry: None,
        id: format!("bench-{}", std::process::id()),
        concurrency,
        telemetry: Arc::new(controller::Telemetry::new(
            "bench",
            mlops_console::adapters::kube::DEFAULT_TIMEOUT,
        )),
    });
    let lease = cluster.lease(&ctx.id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while matches!(
        lease.try_acquire_or_renew(true).await.expect("lease"),
        Acquired::No { .. }
    ) {
        assert!(
            Instant::now() < deadline,
            "another controller holds the lease"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let driver = tokio::spawn(controller::lead(ctx.clone(), lease, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));

    let rollouts: Api<ModelRollout> = Api::namespaced(client.clone(), NS);
    let started = Instant::now();
    each((0..n).collect(), 16, |i| {
        let rollouts = rollouts.clone();
        let timings = timings.clone();
        async move {
            if let Ok(mut c) = timings.created.lock() {
                c.insert(format!("{NS}/bench-model-{i:03}-v2"), Instant::now());
            }
            rollouts
                .create(&PostParams::default(), &rollout(i))
                .await
                .unwrap_or_else(|e| panic!("creating rollout {i}: {e}"));
        }
    })
    .await;
    eprintln!("created {n} ModelRollouts in {:.1?}", started.elapsed());
    let mut all_done = None;
    let limit = Duration::from_secs(900);
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_secs(5)).await;
        // The API server is as loaded as it gets here: a list that misses the client's per-call
        // deadline is reported and tried again at the next tick, not the end of the run.
        let list = match rollouts.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "  {:>5.0?} listing the rollouts failed: {e}",
                    started.elapsed()
                );
                continue;
            }
        };
        let mut phases = std::collections::BTreeMap::<String, usize>::new();
        for r in &list.items {
            let p = r
                .status
                .as_ref()
                .map_or("Pending".into(), |s| s.phase.to_string());
            *phases.entry(p).or_default() += 1;
        }
        eprintln!("  {:>5.0?} {phases:?}", started.elapsed());
        let done: usize = ["Promoted", "RolledBack", "Failed"]
            .iter()
            .filter_map(|p| phases.get(*p))
            .sum();
        if done == n {
            all_done = Some((started.elapsed(), phases));
            break;
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), driver).await;

    let mut t = timings.passes.lock().map(|t| t.clone()).unwrap_or_default();
    t.sort();
    let mut late = timings.late.lock().map(|t| t.clone()).unwrap_or_default();
    late.sort();
    let per_second = {
        #[allow(clippy::cast_precision_loss)]
        let r = t.len() as f64 / started.elapsed().as_secs_f64();
        r
    };
    println!("rollouts: {n} (one controller, concurrency {concurrency}, {NODES} bench kwok nodes)");
    println!(
        "reconcile passes: {} ({per_second:.0}/s); latency p50 {:.1?}, p90 {:.1?}, p99 {:.1?}, max {:.1?}",
        t.len(),
        quantile(&t, 0.50),
        quantile(&t, 0.90),
        quantile(&t, 0.99),
        t.last().copied().unwrap_or_default()
    );
    println!(
        "requeued passes started late by: p50 {:.1?}, p90 {:.1?}, p99 {:.1?}, max {:.1?}",
        quantile(&late, 0.50),
        quantile(&late, 0.90),
        quantile(&late, 0.99),
        late.last().copied().unwrap_or_default()
    );
    let mut first = timings.first.lock().map(|t| t.clone()).unwrap_or_default();
    first.sort();
    println!(
        "first pass after the create: p50 {:.1?}, p90 {:.1?}, p99 {:.1?}, max {:.1?} ({} of {n} passed)",
        quantile(&first, 0.50),
        quantile(&first, 0.90),
        quantile(&first, 0.99),
        first.last().copied().unwrap_or_default(),
        first.len()
    );
    match all_done {
        Some((d, phases)) => println!("all {n} finished after {d:.1?}: {phases:?}"),
        None => println!("NOT all finished within {limit:?}"),
    }
    if std::env::var_os("MLOPS_BENCH_KEEP").is_none() {
        let _ = rollouts
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        let nss: Api<Namespace> = Api::all(client.clone());
        let _ = nss.delete(NS, &DeleteParams::default()).await;
        let nodes: Api<Node> = Api::all(client.clone());
        for i in 0..NODES {
            let _ = nodes
                .delete(&format!("bench-node-{i}"), &DeleteParams::default())
                .await;
        }
    }
}
