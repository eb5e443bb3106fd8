//! One controller driving many concurrent rollouts on the kwok cluster, run twice in one process:
//! first passing every rollout on a clock as the controller did before (`Schedule::Clock`, every
//! 5 s), then on change and when due (the default). For each: reconcile passes and the
//! controller's API requests per rollout-minute (a rollout-minute: one rollout under way for a
//! minute, from its create until the benchmark's watch sees it finished), the time each pass takes
//! (observe → decide → effects → status write), and the time until every rollout is Promoted;
//! then the ratios. Each rollout has its own serving Deployment in the namespace `mlops-bench`,
//! on bench-only kwok nodes, and goes setWeight 50 → a 30 s pause → two analysis rounds (a
//! PromQL query against the real Prometheus) every 30 s → setWeight 100 → promotion.
//!
//! Run with the test environment up: `eval "$(tests/env/up)"; cargo bench --bench controller_scale`
//! (`MLOPS_BENCH_ROLLOUTS`, default 2000; `MLOPS_BENCH_MODES`, default `clock,change`;
//! `MLOPS_BENCH_INTERVAL_SECONDS` and `MLOPS_BENCH_PAUSE_SECONDS`, default 30;
//! `MLOPS_BENCH_CLOCK_SECONDS`, default 5; `MLOPS_BENCH_LIMIT_SECONDS` per mode, default 900;
//! `MLOPS_BENCH_CONCURRENCY`; `MLOPS_BENCH_TIMEOUT_SECONDS`, the per-call deadline, default 10).
//! Nothing else may hold the controller lease meanwhile.

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
    /// Each pass's duration with the time it waited in each stage (`STAGES`), in µs.
    passes: std::sync::Mutex<Vec<PassStages>>,
    late: std::sync::Mutex<Vec<Duration>>,
    due: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    /// Rollouts not passed yet, by `namespace/name`: when their create was sent.
    created: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
    first: std::sync::Mutex<Vec<Duration>>,
}

/// The stages a pass reports its time in (the `*_us` fields of "pass finished").
const STAGES: [&str; 5] = ["audit", "measure", "gates", "effects", "status"];

/// One pass: how long it took, and its time in each of `STAGES` (µs).
type PassStages = (Duration, [u64; STAGES.len()]);

#[derive(Default)]
struct PassFields {
    rollout: String,
    elapsed_us: Option<u64>,
    requeue_ms: Option<u64>,
    stages: [u64; STAGES.len()],
}

impl tracing::field::Visit for PassFields {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "elapsed_us" => self.elapsed_us = Some(value),
            "requeue_ms" => self.requeue_ms = Some(value),
            name => {
                if let Some(i) = STAGES
                    .iter()
                    .position(|s| name.strip_suffix("_us") == Some(*s))
                {
                    self.stages[i] = value;
                }
            }
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
                p.push((Duration::from_micros(us), f.stages));
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

/// The rollout of bench-model-`i` to `version` (from the one before): setWeight 50, a timed
/// pause, two passing analysis rounds, setWeight 100, with analysis every `shape.interval`.
fn rollout(i: usize, version: u32, shape: Shape) -> ModelRollout {
    let name = format!("bench-model-{i:03}");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": format!("{name}-v{version}"), "namespace": NS},
        "spec": {
            "model": {"name": name, "version": version},
            "stableVersion": version - 1,
            "deployment": name,
            "image": format!("registry.mlops.invalid/bench/{name}:v{version}"),
            "replicas": 1,
            "steps": [{"setWeight": 50}, {"pause": {"durationSeconds": shape.pause}},
                {"analysis": {"count": 2}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": shape.interval, "failureLimit": 2, "metrics": [{
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

/// What each rollout goes through: analysis every `interval` seconds, a pause of `pause`.
#[derive(Clone, Copy)]
struct Shape {
    interval: u64,
    pause: u64,
}

fn env_or<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's API requests so far, by verb (`mlops_controller_kube_requests_total`, summed
/// over status codes): the controller's and the benchmark's own, which the caller subtracts.
fn requests(telemetry: &controller::Telemetry) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in telemetry.encode().lines() {
        let Some(rest) = line.strip_prefix("mlops_controller_kube_requests_total{verb=\"") else {
            continue;
        };
        let (verb, rest) = rest.split_once('"').unwrap_or_default();
        if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *out.entry(verb.to_string()).or_default() += v;
        }
    }
    out
}

impl Timings {
    fn reset(&self) {
        if let Ok(mut v) = self.passes.lock() {
            v.clear();
        }
        for v in [&self.late, &self.first] {
            if let Ok(mut v) = v.lock() {
                v.clear();
            }
        }
        for m in [&self.due, &self.created] {
            if let Ok(mut m) = m.lock() {
                m.clear();
            }
        }
    }
}

/// One mode's results.
struct Report {
    mode: String,
    passes: Vec<Duration>,
    stages: Vec<PassStages>,
    late: Vec<Duration>,
    first: Vec<Duration>,
    rollout_minutes: f64,
    /// The controller's API requests by verb (the benchmark's own taken out).
    requests: std::collections::BTreeMap<String, f64>,
    finished: Option<Duration>,
    phases: std::collections::BTreeMap<String, usize>,
    /// CPU seconds by process at the mode's start and end, and how long it ran.
    cpu: (
        std::collections::BTreeMap<String, f64>,
        std::collections::BTreeMap<String, f64>,
        Duration,
    ),
}

impl Report {
    #[allow(clippy::cast_precision_loss)]
    fn per_rollout_minute(&self, count: f64) -> f64 {
        count / self.rollout_minutes.max(f64::MIN_POSITIVE)
    }

    fn total_requests(&self) -> f64 {
        self.requests.values().sum()
    }
}

struct Bench {
    cluster: mlops_console::adapters::kube::KubeCluster,
    /// A client whose requests are not counted with the controller's: the progress watch.
    uncounted: kube::Client,
    n: usize,
    concurrency: u16,
    shape: Shape,
    timings: Arc<Timings>,
}

/// Drive `version` of every rollout to the end under `schedule`, from a fresh lease and
/// controller, and measure.
async fn run_mode(
    bench: &Bench,
    mode: &str,
    schedule: controller::Schedule,
    version: u32,
) -> Report {
    let client = bench.cluster.client();
    let n = bench.n;
    let rollouts: Api<ModelRollout> = Api::namespaced(client.clone(), NS);
    // The previous mode's rollouts go first: each mode's controller sees only its own. A
    // delete that misses the per-call deadline under load is sent again.
    loop {
        let _ = rollouts
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let left = rollouts
            .list(&ListParams::default().limit(1))
            .await
            .map_or(1, |l| l.items.len());
        if left == 0 {
            break;
        }
        eprintln!("[{mode}] waiting for the previous rollouts to be deleted");
    }
    bench.timings.reset();
    let telemetry = Arc::new(controller::Telemetry::new(
        &format!("bench-{mode}"),
        mlops_console::adapters::kube::DEFAULT_TIMEOUT,
    ));
    let ctx = Arc::new(controller::Context {
        cluster: bench.cluster.clone(),
        metrics: Some(Arc::new(
            PrometheusMetrics::new(&var("MLOPS_PROMETHEUS_URL"), Auth::None)
                .expect("prometheus")
                .with_cluster(bench.cluster.describe_context()),
        )),
        registry: None,
        id: format!("bench-{mode}-{}", std::process::id()),
        concurrency: bench.concurrency,
        telemetry: telemetry.clone(),
        schedule,
    });
    let before = requests(&telemetry);
    let lease = bench.cluster.lease(&ctx.id);
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

    let started = Instant::now();
    let cpu_before = cpu_by_process();
    let created = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let shape = bench.shape;
    each((0..n).collect(), 16, |i| {
        let rollouts = rollouts.clone();
        let timings = bench.timings.clone();
        let created = created.clone();
        async move {
            let key = format!("{NS}/bench-model-{i:03}-v{version}");
            if let Ok(mut c) = timings.created.lock() {
                c.insert(key.clone(), Instant::now());
            }
            if let Ok(mut c) = created.lock() {
                c.insert(key, Instant::now());
            }
            rollouts
                .create(&PostParams::default(), &rollout(i, version, shape))
                .await
                .unwrap_or_else(|e| panic!("creating rollout {i}: {e}"));
        }
    })
    .await;
    eprintln!(
        "[{mode}] created {n} ModelRollouts in {:.1?}",
        started.elapsed()
    );
    // Progress comes from a watch of the rollouts on a client of its own (not counted with the
    // controller's requests): listing 2,000 rollouts every 5 s would read every one from etcd
    // each time, a load on the API server no operator puts there.
    let (progress, writer) = kube::runtime::reflector::store::<ModelRollout>();
    let progress_watch = tokio::spawn({
        use futures::StreamExt;
        use kube::runtime::WatchStreamExt;
        kube::runtime::watcher(
            Api::<ModelRollout>::namespaced(bench.uncounted.clone(), NS),
            kube::runtime::watcher::Config::default(),
        )
        .default_backoff()
        .reflect(writer)
        .for_each(|_| futures::future::ready(()))
    });
    let mut finished_at = std::collections::HashMap::<String, Instant>::new();
    let mut all_done = None;
    let mut phases = std::collections::BTreeMap::<String, usize>::new();
    let limit = Duration::from_secs(env_or("MLOPS_BENCH_LIMIT_SECONDS", 900));
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let list = progress
            .state()
            .into_iter()
            .filter(|r| {
                r.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.ends_with(&format!("-v{version}")))
            })
            .collect::<Vec<_>>();
        if list.is_empty() {
            continue;
        }
        phases.clear();
        let now = Instant::now();
        for r in &list {
            let phase = r.status.as_ref().map(|s| s.phase);
            let p = phase.map_or("Pending".into(), |p| p.to_string());
            *phases.entry(p).or_default() += 1;
            if phase.is_some_and(mlops_core::rollout::Phase::is_terminal) {
                let key = format!("{NS}/{}", r.metadata.name.as_deref().unwrap_or_default());
                finished_at.entry(key).or_insert(now);
            }
        }
        eprintln!("  [{mode}] {:>5.0?} {phases:?}", started.elapsed());
        if finished_at.len() == n {
            all_done = Some(started.elapsed());
            break;
        }
    }
    let cpu = (cpu_before, cpu_by_process(), started.elapsed());
    let _ = stop_tx.send(true);
    progress_watch.abort();
    let _ = tokio::time::timeout(Duration::from_secs(10), driver).await;
    let end = Instant::now();
    let after = requests(&telemetry);
    let mut controller_requests = std::collections::BTreeMap::new();
    for (verb, v) in &after {
        let mut d = v - before.get(verb).copied().unwrap_or(0.0);
        // The benchmark's own: its creates (its progress watch has a client of its own).
        #[allow(clippy::cast_precision_loss)]
        if verb == "create" {
            d -= n as f64;
        }
        if d > 0.0 {
            controller_requests.insert(verb.clone(), d);
        }
    }
    let rollout_minutes: f64 = created.lock().map_or(0.0, |c| {
        c.iter()
            .map(|(k, t)| {
                finished_at
                    .get(k)
                    .copied()
                    .unwrap_or(end)
                    .saturating_duration_since(*t)
                    .as_secs_f64()
                    / 60.0
            })
            .sum()
    });
    let take = |m: &std::sync::Mutex<Vec<Duration>>| {
        let mut v = m.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort();
        v
    };
    let stages = bench
        .timings
        .passes
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let mut passes: Vec<Duration> = stages.iter().map(|p| p.0).collect();
    passes.sort();
    Report {
        mode: mode.to_string(),
        passes,
        stages,
        late: take(&bench.timings.late),
        first: take(&bench.timings.first),
        rollout_minutes,
        requests: controller_requests,
        finished: all_done,
        phases,
        cpu,
    }
}

fn print(r: &Report, n: usize) {
    let q = |v: &[Duration]| {
        format!(
            "p50 {:.1?}, p90 {:.1?}, p99 {:.1?}, max {:.1?}",
            quantile(v, 0.50),
            quantile(v, 0.90),
            quantile(v, 0.99),
            v.last().copied().unwrap_or_default()
        )
    };
    #[allow(clippy::cast_precision_loss)]
    let passes = r.passes.len() as f64;
    println!("[{}]", r.mode);
    println!(
        "  reconcile passes: {} over {:.0} rollout-minutes: {:.2} per rollout-minute",
        r.passes.len(),
        r.rollout_minutes,
        r.per_rollout_minute(passes)
    );
    println!("  pass latency: {}", q(&r.passes));
    print_stages(&r.stages);
    println!(
        "  API requests: {:.0} ({:.2} per rollout-minute) {:?}",
        r.total_requests(),
        r.per_rollout_minute(r.total_requests()),
        r.requests
    );
    println!("  requeued passes started late by: {}", q(&r.late));
    println!(
        "  first pass after the create: {} ({} of {n} passed)",
        q(&r.first),
        r.first.len()
    );
    match r.finished {
        Some(d) => println!("  all {n} finished after {d:.1?}: {:?}", r.phases),
        None => println!("  NOT all finished: {:?}", r.phases),
    }
    print_cpu(&r.cpu.0, &r.cpu.1, r.cpu.2);
}

/// Where the passes' time went: each stage's percentiles over the passes that waited on it
/// (1 ms or more), and the split of the slowest 1 % of passes.
#[allow(clippy::cast_precision_loss)]
fn print_stages(passes: &[PassStages]) {
    for (i, stage) in STAGES.iter().enumerate() {
        let mut waited: Vec<Duration> = passes
            .iter()
            .filter(|(_, s)| s[i] >= 1_000)
            .map(|(_, s)| Duration::from_micros(s[i]))
            .collect();
        if waited.is_empty() {
            continue;
        }
        waited.sort();
        println!(
            "    {stage:<8} in {:>6} passes: p50 {:.1?}, p99 {:.1?}",
            waited.len(),
            quantile(&waited, 0.50),
            quantile(&waited, 0.99)
        );
    }
    let mut slowest = passes.to_vec();
    slowest.sort_by_key(|p| std::cmp::Reverse(p.0));
    slowest.truncate(passes.len().div_ceil(100));
    if slowest.is_empty() {
        return;
    }
    let n = slowest.len() as f64;
    let mean = |f: &dyn Fn(&PassStages) -> f64| slowest.iter().map(f).sum::<f64>() / n / 1000.0;
    let split: Vec<String> = STAGES
        .iter()
        .enumerate()
        .map(|(i, stage)| format!("{stage} {:.0} ms", mean(&|p| p.1[i] as f64)))
        .collect();
    let rest = mean(&|p| p.0.as_micros() as f64 - p.1.iter().sum::<u64>() as f64);
    println!(
        "    slowest 1 % ({} passes), mean: {}, the rest {rest:.0} ms",
        slowest.len(),
        split.join(", ")
    );
}

/// CPU seconds used so far by each process on the machine, by name (the processes of the
/// environment share its cores with the controller: the API server, etcd, the
/// controller-manager, kwok, Prometheus, the traffic simulator).
#[allow(clippy::cast_precision_loss)]
fn cpu_by_process() -> std::collections::BTreeMap<String, f64> {
    // Linux's USER_HZ: /proc counts CPU time in hundredths of a second.
    const TICKS: f64 = 100.0;
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid … utime(14) stime(15): comm may hold spaces, so split after ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // After the comm: state is 0, so utime (field 14) is 11 and stime 12.
        let cpu = (ticks(11) + ticks(12)) as f64 / TICKS;
        *out.entry(comm.to_string()).or_insert(0.0) += cpu;
    }
    out
}

/// The CPU each process used between two `cpu_by_process` readings, the busiest first.
fn print_cpu(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
    over: Duration,
) {
    let mut used: Vec<(&String, f64)> = after
        .iter()
        .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v >= 1.0)
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let secs = over.as_secs_f64().max(f64::MIN_POSITIVE);
    let line: Vec<String> = used
        .iter()
        .take(10)
        .map(|(k, v)| format!("{k} {:.0} %", 100.0 * v / secs))
        .collect();
    println!(
        "  CPU over the run (% of one core; the machine has {}): {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        line.join(", ")
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = env_or("MLOPS_BENCH_ROLLOUTS", 2000);
    // The per-call deadline of every Kubernetes call (as `timeout_seconds` in config.toml; 10 s
    // by default): `MLOPS_BENCH_TIMEOUT_SECONDS` to see what the deadline does under load.
    let timeout = Duration::from_secs(env_or("MLOPS_BENCH_TIMEOUT_SECONDS", 10));
    let shape = Shape {
        interval: env_or("MLOPS_BENCH_INTERVAL_SECONDS", 30),
        pause: env_or("MLOPS_BENCH_PAUSE_SECONDS", 30),
    };
    let clock_every = Duration::from_secs(env_or("MLOPS_BENCH_CLOCK_SECONDS", 5));
    let modes = std::env::var("MLOPS_BENCH_MODES").unwrap_or_else(|_| "clock,change".into());
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
    let uncounted = {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(var("KUBECONFIG")).expect("the kubeconfig");
        let options = kube::config::KubeConfigOptions {
            context: Some(var("MLOPS_KUBE_CONTEXT")),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("the kubeconfig's context");
        kube::Client::try_from(config).expect("a client")
    };
    let bench = Bench {
        cluster: cluster.clone(),
        uncounted,
        n,
        concurrency: env_or("MLOPS_BENCH_CONCURRENCY", controller::DEFAULT_CONCURRENCY),
        shape,
        timings,
    };
    let mut reports = Vec::new();
    // Each mode rolls every model one version further: 1 → 2, then 2 → 3.
    for (k, mode) in modes.split(',').map(str::trim).enumerate() {
        let schedule = match mode {
            "clock" => controller::Schedule::Clock { every: clock_every },
            "change" => controller::Schedule::default(),
            other => panic!("MLOPS_BENCH_MODES: unknown mode {other} (clock, change)"),
        };
        let label = match mode {
            "clock" => format!("clock: every {clock_every:?} (the controller before)"),
            _ => "on change and when due (safety resync 5 min)".to_string(),
        };
        let version = u32::try_from(k).unwrap_or(0) + 2;
        reports.push(run_mode(&bench, &label, schedule, version).await);
    }
    println!(
        "rollouts: {n} (one controller, concurrency {}, {NODES} bench kwok nodes); each: setWeight 50, pause {} s, 2 analysis rounds every {} s, setWeight 100",
        bench.concurrency, shape.pause, shape.interval
    );
    for r in &reports {
        print(r, n);
    }
    if let [clock, change] = reports.as_slice() {
        #[allow(clippy::cast_precision_loss)]
        let ratio = |a: &Report, b: &Report, f: &dyn Fn(&Report) -> f64| {
            a.per_rollout_minute(f(a)) / b.per_rollout_minute(f(b)).max(f64::MIN_POSITIVE)
        };
        #[allow(clippy::cast_precision_loss)]
        let passes = |r: &Report| r.passes.len() as f64;
        println!(
            "clock / on change: passes per rollout-minute ×{:.2}, API requests per rollout-minute ×{:.2}, pass p99 {:.1?} → {:.1?}",
            ratio(clock, change, &passes),
            ratio(clock, change, &Report::total_requests),
            quantile(&clock.passes, 0.99),
            quantile(&change.passes, 0.99)
        );
    }
    if std::env::var_os("MLOPS_BENCH_KEEP").is_none() {
        let rollouts: Api<ModelRollout> = Api::namespaced(client.clone(), NS);
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
