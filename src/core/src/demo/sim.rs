//! The simulated platform: its state and how one simulated second passes. Rollouts are driven by
//! the real state machine in `crate::rollout` with analysis samples drawn from the simulated
//! traffic, so the demo shows the product's true behaviour.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::{
    catalog::{
        ADJECTIVES, ANIMALS, CLUSTERS, CPU_NODES_PER_CLUSTER, EXPERIMENTS, FEATURES,
        GPU_NODES_PER_CLUSTER, GPUS_PER_NODE, MODELS, PINNED_VERSIONS, SERVED, SERVING_NAMESPACE,
        USERS,
    },
    rng::Rng,
};
use crate::{
    analysis::{MetricCheck, MetricKind, Sample},
    audit::{AuditLog, AuditRecord},
    drift::{self, DriftReport},
    error::CoreError,
    model::{
        Cluster, ClusterEvent, Dataset, Deployment, EventKind, Experiment, Gpu, MetricPoint,
        ModelVersion, Node, Pod, PodPhase, RegisteredModel, Run, RunStatus, Track,
    },
    ports::{FeatureDrift, RolloutSeries},
    rollout::{
        self, AnalysisSpec, AnalysisStep, ApprovalGate, Command, Effect, ModelRef, Observation,
        PauseStep, RolloutRecord, RolloutSpec, RolloutStatus, Step,
    },
};

/// Seconds a new pod stays Pending before it runs, as a kubelet would take.
const POD_START_SECONDS: i64 = 8;
const SERIES_EVERY_SECONDS: i64 = 5;
const SERIES_POINTS: usize = 360;
const DRIFT_WINDOW_SECONDS: i64 = 15;
const DRIFT_SAMPLE: usize = 1000;
const MAX_EVENTS: usize = 300;
/// How far before "now" the simulation starts, so the demo opens with history.
pub const WARMUP_SECONDS: i64 = 20 * 60;
pub const CONTROLLER: &str = "mlops-controller (embedded)";

struct Scenario {
    cluster: &'static str,
    model: &'static str,
    version: u32,
    /// Seconds relative to the demo's start at which the rollout is created.
    at: i64,
    steps: Vec<Step>,
    interval: u64,
    failure_limit: u32,
    approvals: u32,
    canary_error: f64,
    canary_latency_ms: f64,
}

fn scenarios() -> Vec<Scenario> {
    let a = |count| Step::Analysis(AnalysisStep { count });
    vec![
        Scenario {
            cluster: "eu-prod",
            model: "search-embedder",
            version: 3,
            at: -19 * 60,
            steps: vec![
                Step::SetWeight(10),
                a(2),
                Step::SetWeight(50),
                a(2),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.006,
            canary_latency_ms: 95.0,
        },
        Scenario {
            cluster: "uae-prod",
            model: "credit-scorer",
            version: 9,
            at: -18 * 60,
            steps: vec![Step::SetWeight(10), a(5), Step::SetWeight(100)],
            interval: 30,
            failure_limit: 3,
            approvals: 1,
            canary_error: 0.009,
            canary_latency_ms: 260.0,
        },
        Scenario {
            cluster: "eu-prod",
            model: "churn-model",
            version: 4,
            at: -12 * 60,
            steps: vec![
                Step::SetWeight(20),
                a(2),
                Step::Approval {},
                Step::SetWeight(50),
                Step::Pause(PauseStep {
                    duration_seconds: Some(120),
                }),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 2,
            approvals: 2,
            canary_error: 0.007,
            canary_latency_ms: 120.0,
        },
        Scenario {
            cluster: "uae-prod",
            model: "pricing-model",
            version: 5,
            at: -8 * 60,
            steps: vec![
                Step::SetWeight(50),
                Step::SetWeight(30),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.008,
            canary_latency_ms: 90.0,
        },
        Scenario {
            cluster: "us-prod",
            model: "recsys-ranker",
            version: 12,
            at: -2 * 60,
            steps: vec![
                Step::SetWeight(10),
                a(3),
                Step::SetWeight(25),
                a(3),
                Step::SetWeight(50),
                a(3),
                Step::SetWeight(100),
            ],
            interval: 60,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.007,
            canary_latency_ms: 140.0,
        },
        Scenario {
            cluster: "uae-prod",
            model: "fraud-detector",
            version: 7,
            at: -40,
            steps: vec![
                Step::SetWeight(10),
                a(3),
                Step::SetWeight(30),
                a(3),
                Step::SetWeight(60),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 3,
            approvals: 1,
            canary_error: 0.072,
            canary_latency_ms: 310.0,
        },
    ]
}

/// Operator commands the demo's history contains: (seconds from start, model, user, command).
fn scripted_commands() -> Vec<(i64, &'static str, Command)> {
    vec![
        (
            -16 * 60,
            "credit-scorer",
            Command::Abort {
                user: "omar.h".into(),
                reason: "p99 latency regression on eu traffic".into(),
            },
        ),
        (
            -5 * 60,
            "churn-model",
            Command::Approve {
                user: "dana.k".into(),
                comment: "offline eval +1.8% AUC vs champion; drift on monthly_charges is seasonal"
                    .into(),
            },
        ),
    ]
}

struct SimRollout {
    record: RolloutRecord,
    canary_error: f64,
    canary_latency_ms: f64,
    stable_error: f64,
    stable_latency_ms: f64,
    series: RolloutSeries,
}

struct SimFeature {
    model: String,
    version: u32,
    feature: String,
    mean: f64,
    sd: f64,
    drift_sd_per_hour: f64,
    reference: Vec<f64>,
    edges: Vec<f64>,
    reference_counts: Vec<f64>,
    current_counts: Vec<f64>,
    current: Vec<f64>,
    report: Option<DriftReport>,
    psi_history: VecDeque<f64>,
}

struct GpuState {
    gpu: Gpu,
    target: f64,
}

pub struct Sim {
    seed: u64,
    pub start: DateTime<Utc>,
    pub now: DateTime<Utc>,
    rng: Rng,
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub deployments: Vec<Deployment>,
    pub pods: Vec<Pod>,
    pod_started: HashMap<String, DateTime<Utc>>,
    gpus: Vec<GpuState>,
    idle_models: Vec<&'static str>,
    pub experiments: Vec<Experiment>,
    pub runs: Vec<Run>,
    pub models: Vec<RegisteredModel>,
    rollouts: Vec<SimRollout>,
    pending_scenarios: Vec<Scenario>,
    pending_commands: Vec<(i64, &'static str, Command)>,
    pub events: VecDeque<ClusterEvent>,
    pub audit: AuditLog,
    features: Vec<SimFeature>,
    pod_counter: u64,
}

fn image_of(model: &str, version: u32) -> String {
    format!("registry.local/ml/{model}:v{version}")
}

impl Sim {
    /// Build the platform as it was `WARMUP_SECONDS` before `start`, then run up to `start`.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        let origin = start - Duration::seconds(WARMUP_SECONDS);
        let mut sim = Sim {
            seed,
            start,
            now: origin,
            rng: Rng::fork(seed, "sim"),
            clusters: Vec::new(),
            nodes: Vec::new(),
            deployments: Vec::new(),
            pods: Vec::new(),
            pod_started: HashMap::new(),
            gpus: Vec::new(),
            idle_models: SERVED.iter().filter(|s| s.3).map(|s| s.0).collect(),
            experiments: Vec::new(),
            runs: Vec::new(),
            models: Vec::new(),
            rollouts: Vec::new(),
            pending_scenarios: scenarios(),
            pending_commands: scripted_commands(),
            events: VecDeque::new(),
            audit: AuditLog::default(),
            features: Vec::new(),
            pod_counter: 0,
        };
        sim.build_infrastructure();
        sim.build_registry();
        sim.build_serving();
        sim.build_features();
        // Pods that exist at the origin have long been running.
        for p in &mut sim.pods {
            p.phase = PodPhase::Running;
        }
        sim.sync_ready();
        sim.advance_to(start);
        sim
    }

    fn build_infrastructure(&mut self) {
        let mut rng = Rng::fork(self.seed, "infra");
        for (c, region, product) in CLUSTERS {
            self.clusters.push(Cluster {
                name: c.into(),
                region: region.into(),
            });
            for n in 0..GPU_NODES_PER_CLUSTER + CPU_NODES_PER_CLUSTER {
                let gpu = n < GPU_NODES_PER_CLUSTER;
                let name = if gpu {
                    format!("{c}-gpu-{n}")
                } else {
                    format!("{c}-cpu-{}", n - GPU_NODES_PER_CLUSTER)
                };
                let zone = format!("{region}{}", ["a", "b", "c"][n % 3]);
                self.nodes.push(Node {
                    name: name.clone(),
                    cluster: c.into(),
                    region: region.into(),
                    zone,
                    gpu_capacity: if gpu { GPUS_PER_NODE } else { 0 },
                    gpu_product: gpu.then(|| product.to_string()),
                    ready: true,
                });
                if gpu {
                    for i in 0..GPUS_PER_NODE {
                        let mem_total = 81_559.0;
                        self.gpus.push(GpuState {
                            gpu: Gpu {
                                cluster: c.into(),
                                node: name.clone(),
                                index: i,
                                uuid: format!("GPU-{}", rng.hex(8)),
                                product: product.into(),
                                util_pct: 0.0,
                                mem_used_mib: 0.0,
                                mem_total_mib: mem_total,
                                power_w: 60.0,
                                temp_c: 31.0,
                                pod: None,
                                namespace: None,
                                model: None,
                                version: None,
                            },
                            target: 0.0,
                        });
                    }
                }
            }
        }
    }

    fn build_registry(&mut self) {
        let mut rng = Rng::fork(self.seed, "registry");
        let now = self.now;
        let total_share: u32 = EXPERIMENTS.iter().map(|e| e.2).sum();
        let mut datasets: Vec<Vec<Dataset>> = Vec::new();
        for (i, (name, region, share)) in EXPERIMENTS.iter().enumerate() {
            let runs = (2000 * share / total_share) as usize
                + usize::from(
                    i < (2000
                        - EXPERIMENTS
                            .iter()
                            .map(|e| (2000 * e.2 / total_share) as usize)
                            .sum::<usize>()),
                );
            self.experiments.push(Experiment {
                id: format!("{}", 100 + i),
                name: (*name).into(),
                run_count: Some(runs),
                last_update: now,
                tags: BTreeMap::from([(
                    "team".into(),
                    format!("team-{}", name.split('-').next().unwrap_or(name)),
                )]),
            });
            datasets.push(
                (0..3)
                    .map(|m| Dataset {
                        name: format!("{name}-2026-{:02}", 8 + m),
                        digest: rng.hex(8),
                        source: format!("s3://ml-data-{region}/{name}/2026-{:02}/", 8 + m),
                        region: (*region).into(),
                    })
                    .collect(),
            );
        }
        let optimizers = ["adam", "adamw", "sgd"];
        let lrs = ["0.001", "0.003", "0.01", "0.03", "0.1"];
        for (ei, exp) in self.experiments.clone().iter().enumerate() {
            let mut latest = now - Duration::days(90);
            for k in 0..exp.run_count.unwrap_or(0) {
                let start = now - Duration::seconds(rng.below(60 * 86_400) as i64);
                latest = latest.max(start);
                let depth = 3 + rng.below(10);
                let lr = *rng.pick(&lrs);
                let quality = (rng.normal() * 0.25 + 0.5 + (depth as f64 - 7.0).abs() * -0.03)
                    .clamp(0.0, 1.0);
                let status = match rng.below(40) {
                    0 => RunStatus::Failed,
                    1 => RunStatus::Killed,
                    2 => RunStatus::Running,
                    _ => RunStatus::Finished,
                };
                let mut metrics = BTreeMap::new();
                if status != RunStatus::Failed {
                    metrics.insert("accuracy".into(), 0.80 + 0.15 * quality);
                    metrics.insert("auc".into(), 0.84 + 0.14 * quality);
                    metrics.insert("f1".into(), 0.70 + 0.2 * quality);
                    metrics.insert("loss".into(), 0.55 - 0.4 * quality);
                    metrics.insert(
                        "latency_ms".into(),
                        20.0 + depth as f64 * 6.0 + rng.range(0.0, 10.0),
                    );
                }
                let ds = &datasets[ei];
                let mut used = vec![ds[rng.below(ds.len())].clone()];
                if rng.chance(0.3) {
                    let other = ds[rng.below(ds.len())].clone();
                    if !used.contains(&other) {
                        used.push(other);
                    }
                }
                self.runs.push(Run {
                    id: rng.hex(32),
                    experiment_id: exp.id.clone(),
                    name: format!("{}-{}-{}", rng.pick(&ADJECTIVES), rng.pick(&ANIMALS), k),
                    status,
                    user: (*rng.pick(&USERS)).into(),
                    start,
                    end: (status != RunStatus::Running)
                        .then(|| start + Duration::seconds(300 + rng.below(7200) as i64)),
                    params: BTreeMap::from([
                        ("learning_rate".into(), lr.to_string()),
                        ("max_depth".into(), depth.to_string()),
                        (
                            "n_estimators".into(),
                            ["100", "200", "400", "800"][rng.below(4)].into(),
                        ),
                        (
                            "batch_size".into(),
                            ["64", "128", "256", "512"][rng.below(4)].into(),
                        ),
                        ("optimizer".into(), (*rng.pick(&optimizers)).into()),
                        (
                            "dropout".into(),
                            ["0.0", "0.1", "0.2", "0.3"][rng.below(4)].into(),
                        ),
                    ]),
                    metrics,
                    datasets: used,
                    tags: BTreeMap::from([("mlflow.source.git.commit".into(), rng.hex(7))]),
                });
            }
            self.experiments[ei].last_update = latest;
        }
        for (mi, name) in MODELS.iter().enumerate() {
            let pinned = PINNED_VERSIONS.iter().find(|p| p.0 == *name).map(|p| p.1);
            let count = pinned.unwrap_or(2 + rng.below(9) as u32);
            let exp = &self.experiments[mi % self.experiments.len()];
            let exp_runs: Vec<&Run> = self
                .runs
                .iter()
                .filter(|r| r.experiment_id == exp.id && r.status == RunStatus::Finished)
                .collect();
            let mut versions = Vec::new();
            for v in 1..=count {
                let run = exp_runs
                    .get(rng.below(exp_runs.len().max(1)))
                    .map(|r| r.id.clone());
                let created = now
                    - Duration::days(i64::from(count - v) * 9 + 1)
                    - Duration::seconds(rng.below(86_400) as i64);
                let validation = if v == count && pinned.is_none() && rng.chance(0.3) {
                    "pending"
                } else if rng.chance(0.08) {
                    "failed"
                } else {
                    "passed"
                };
                versions.push(ModelVersion {
                    model: (*name).into(),
                    version: v,
                    run_id: run,
                    created,
                    status: "READY".into(),
                    tags: BTreeMap::from([
                        ("image".into(), image_of(name, v)),
                        ("validation_status".into(), validation.into()),
                    ]),
                });
            }
            let mut aliases = BTreeMap::new();
            let champion = if count > 1 { count - 1 } else { count };
            aliases.insert("champion".into(), champion);
            if count > champion {
                aliases.insert("challenger".into(), count);
            }
            self.models.push(RegisteredModel {
                name: (*name).into(),
                description: format!("{name} served from the {} experiment", exp.name),
                aliases,
                tags: BTreeMap::from([
                    ("owner".into(), format!("team-{}", exp.name)),
                    ("tier".into(), if mi < 16 { "1" } else { "2" }.into()),
                ]),
                versions,
            });
        }
    }

    fn champion(&self, model: &str) -> u32 {
        self.models
            .iter()
            .find(|m| m.name == model)
            .and_then(|m| m.aliases.get("champion").copied())
            .unwrap_or(1)
    }

    fn build_serving(&mut self) {
        for (model, cluster, replicas, _) in SERVED {
            let version = self.champion(model);
            self.deployments.push(Deployment {
                name: model.into(),
                namespace: SERVING_NAMESPACE.into(),
                cluster: cluster.into(),
                model: model.into(),
                version,
                track: Track::Stable,
                replicas,
                ready_replicas: 0,
                image: image_of(model, version),
            });
        }
        self.sync_pods();
    }

    fn build_features(&mut self) {
        for (model, feature, mean, sd, drift_rate) in FEATURES {
            let version = self.champion(model);
            let mut rng = Rng::fork(self.seed, &format!("ref/{model}/{feature}"));
            let reference: Vec<f64> = (0..DRIFT_SAMPLE)
                .map(|_| mean + sd * rng.normal())
                .collect();
            let lo = mean - 4.0 * sd;
            let edges: Vec<f64> = (0..=24).map(|i| lo + f64::from(i) * sd / 3.0).collect();
            let reference_counts = drift::histogram(&reference, &edges);
            self.features.push(SimFeature {
                model: model.into(),
                version,
                feature: feature.into(),
                mean,
                sd,
                drift_sd_per_hour: drift_rate,
                current: reference.clone(),
                reference,
                edges,
                current_counts: reference_counts.clone(),
                reference_counts,
                report: None,
                psi_history: VecDeque::new(),
            });
        }
        self.refresh_drift();
    }

    /// Step one simulated second at a time up to `t`; a long gap is skipped in bulk.
    pub fn advance_to(&mut self, t: DateTime<Utc>) {
        let gap = (t - self.now).num_seconds();
        if gap > 3 * 3600 {
            // Jump (e.g. a laptop that slept): keep the last hour of behaviour.
            self.now = t - Duration::seconds(3600);
        }
        while self.now + Duration::seconds(1) <= t {
            self.now += Duration::seconds(1);
            self.step();
        }
    }

    fn rel(&self) -> i64 {
        (self.now - self.start).num_seconds()
    }

    fn step(&mut self) {
        let rel = self.rel();
        let due: Vec<Scenario> = {
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_scenarios)
                .into_iter()
                .partition(|s| s.at <= rel);
            self.pending_scenarios = rest;
            due
        };
        for s in due {
            self.create_rollout(&s);
        }
        let commands: Vec<(i64, &str, Command)> = {
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_commands)
                .into_iter()
                .partition(|c| c.0 <= rel);
            self.pending_commands = rest;
            due
        };
        for (_, model, cmd) in commands {
            if let Some(r) = self
                .rollouts
                .iter()
                .find(|r| r.record.spec.model.name == model)
            {
                let (cluster, ns, name) = (
                    r.record.cluster.clone(),
                    r.record.namespace.clone(),
                    r.record.name.clone(),
                );
                if let Err(e) = self.command(&cluster, &ns, &name, &cmd) {
                    self.event(
                        &cluster,
                        &name,
                        "CommandRefused",
                        &e.to_string(),
                        EventKind::Warning,
                    );
                }
            }
        }
        self.sync_pods();
        self.reconcile_rollouts();
        self.move_gpus();
        if rel.rem_euclid(SERIES_EVERY_SECONDS) == 0 {
            self.record_series();
        }
        if rel.rem_euclid(DRIFT_WINDOW_SECONDS) == 0 {
            self.refresh_drift();
        }
        if rel == -6 * 60 {
            self.event("us-prod", "node/us-prod-gpu-2", "XidError", "GPU 5: Xid 79 (GPU fallen off the bus); device health check failed once, recovered", EventKind::Warning);
        }
    }

    fn event(&mut self, cluster: &str, object: &str, reason: &str, message: &str, kind: EventKind) {
        self.events.push_back(ClusterEvent {
            time: self.now,
            cluster: cluster.into(),
            namespace: SERVING_NAMESPACE.into(),
            object: object.into(),
            reason: reason.into(),
            message: message.into(),
            kind,
        });
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
    }

    fn create_rollout(&mut self, s: &Scenario) {
        let stable_version = self.champion(s.model);
        let replicas = self
            .deployments
            .iter()
            .find(|d| d.model == s.model && d.track == Track::Stable)
            .map_or(2, |d| d.replicas);
        let q = |track: &str, what: &str| match what {
            "err" => format!(
                "sum(rate(model_requests_total{{model=\"{}\",track=\"{track}\",code=~\"5..\"}}[1m])) / sum(rate(model_requests_total{{model=\"{}\",track=\"{track}\"}}[1m]))",
                s.model, s.model
            ),
            _ => format!(
                "histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{model=\"{}\",track=\"{track}\"}}[1m]))) * 1000",
                s.model
            ),
        };
        let spec = RolloutSpec {
            model: ModelRef {
                name: s.model.into(),
                version: s.version,
            },
            stable_version,
            deployment: s.model.into(),
            image: image_of(s.model, s.version),
            replicas,
            http_route: None,
            steps: s.steps.clone(),
            analysis: AnalysisSpec {
                interval_seconds: s.interval,
                failure_limit: s.failure_limit,
                metrics: vec![
                    MetricCheck {
                        name: "error-rate".into(),
                        kind: MetricKind::ErrorRate,
                        canary_query: q("canary", "err"),
                        stable_query: Some(q("stable", "err")),
                        max: Some(0.05),
                        max_ratio_to_stable: Some(2.0),
                    },
                    MetricCheck {
                        name: "latency-p99".into(),
                        kind: MetricKind::LatencyP99,
                        canary_query: q("canary", "p99"),
                        stable_query: Some(q("stable", "p99")),
                        max: Some(400.0),
                        max_ratio_to_stable: Some(1.5),
                    },
                ],
            },
            approval: ApprovalGate {
                required: s.approvals,
            },
        };
        let name = format!("{}-v{}", s.model, s.version);
        let mut rng = Rng::fork(self.seed, &name);
        self.rollouts.push(SimRollout {
            record: RolloutRecord {
                name: name.clone(),
                namespace: SERVING_NAMESPACE.into(),
                cluster: s.cluster.into(),
                created: self.now,
                spec,
                status: RolloutStatus::default(),
            },
            canary_error: s.canary_error,
            canary_latency_ms: s.canary_latency_ms,
            stable_error: 0.006 + rng.range(0.0, 0.004),
            stable_latency_ms: 110.0 + rng.range(0.0, 60.0),
            series: RolloutSeries::default(),
        });
        self.event(
            s.cluster,
            &format!("modelrollout/{name}"),
            "Created",
            &format!(
                "rollout of {} v{} created by ci-pipeline",
                s.model, s.version
            ),
            EventKind::Normal,
        );
        self.audit.append(AuditRecord {
            time: self.now,
            actor: "ci-pipeline".into(),
            action: "rollout.start".into(),
            target: format!("{}/{}/{name}", s.cluster, SERVING_NAMESPACE),
            comment: format!("validated {} v{}", s.model, s.version),
            details: String::new(),
        });
    }

    /// Apply an operator command through the core, then carry out its effects.
    pub fn command(
        &mut self,
        cluster: &str,
        namespace: &str,
        name: &str,
        cmd: &Command,
    ) -> Result<RolloutRecord, CoreError> {
        let idx = self
            .rollouts
            .iter()
            .position(|r| {
                r.record.cluster == cluster
                    && r.record.namespace == namespace
                    && r.record.name == name
            })
            .ok_or_else(|| CoreError::NotFound {
                kind: "rollout",
                name: format!("{cluster}/{namespace}/{name}"),
            })?;
        let r = &self.rollouts[idx].record;
        let decision = rollout::apply_command(name, &r.spec, &r.status, cmd, self.now)?;
        let (actor, comment) = match cmd {
            Command::Approve { user, comment } => (user.clone(), comment.clone()),
            Command::Abort { user, reason } | Command::Rollback { user, reason } => {
                (user.clone(), reason.clone())
            }
            Command::Pause { user } | Command::Resume { user } => (user.clone(), String::new()),
            Command::Promote { .. } => ("operator".into(), String::new()),
        };
        self.audit.append(AuditRecord {
            time: self.now,
            actor,
            action: format!("rollout.{}", cmd.verb().replace(' ', "")),
            target: format!("{cluster}/{namespace}/{name}"),
            comment,
            details: format!("phase {} → {}", r.status.phase, decision.status.phase),
        });
        self.rollouts[idx].record.status = decision.status;
        self.apply_effects(idx, &decision.effects);
        Ok(self.rollouts[idx].record.clone())
    }

    fn canary_ready(&self, r: &RolloutRecord) -> bool {
        let (_, want) = rollout::replica_split(r.spec.replicas, r.status.weight);
        let canary = self.deployments.iter().find(|d| {
            d.cluster == r.cluster && d.model == r.spec.model.name && d.track == Track::Canary
        });
        match canary {
            Some(d) => d.replicas == want && d.ready_replicas == want,
            None => want == 0,
        }
    }

    fn reconcile_rollouts(&mut self) {
        for idx in 0..self.rollouts.len() {
            let r = &self.rollouts[idx];
            if r.record.status.phase.is_terminal() {
                continue;
            }
            let samples =
                rollout::analysis_due(&r.record.spec, &r.record.status, self.now).then(|| {
                    let mut rng = Rng::fork(
                        self.seed,
                        &format!("{}/{}", r.record.name, self.now.timestamp()),
                    );
                    vec![
                        Sample {
                            metric: "error-rate".into(),
                            canary: Some((r.canary_error * (1.0 + 0.15 * rng.normal())).max(0.0)),
                            stable: Some((r.stable_error * (1.0 + 0.15 * rng.normal())).max(0.0)),
                            error: None,
                        },
                        Sample {
                            metric: "latency-p99".into(),
                            canary: Some(r.canary_latency_ms * (1.0 + 0.05 * rng.normal())),
                            stable: Some(r.stable_latency_ms * (1.0 + 0.05 * rng.normal())),
                            error: None,
                        },
                    ]
                });
            let obs = Observation {
                now: self.now,
                canary_ready: self.canary_ready(&r.record),
                samples,
                generation: 1,
            };
            let before = r.record.status.phase;
            let decision = rollout::reconcile(&r.record.spec, &r.record.status, &obs);
            let after = decision.status.phase;
            self.rollouts[idx].record.status = decision.status;
            self.apply_effects(idx, &decision.effects);
            if before != after
                && matches!(
                    after,
                    rollout::Phase::RolledBack | rollout::Phase::Promoted | rollout::Phase::Failed
                )
            {
                let rec = &self.rollouts[idx].record;
                let target = format!("{}/{}/{}", rec.cluster, rec.namespace, rec.name);
                let message = rec.status.message.clone();
                self.audit.append(AuditRecord {
                    time: self.now,
                    actor: CONTROLLER.into(),
                    action: format!("rollout.{}", after.as_str().to_lowercase()),
                    target,
                    comment: message,
                    details: format!("phase {before} → {after}"),
                });
            }
        }
    }

    fn apply_effects(&mut self, idx: usize, effects: &[Effect]) {
        let rec = self.rollouts[idx].record.clone();
        let model = rec.spec.model.name.clone();
        for e in effects {
            match e {
                Effect::SetWeight { weight } => {
                    let (stable, canary) = rollout::replica_split(rec.spec.replicas, *weight);
                    self.set_replicas(&rec.cluster, &model, Track::Stable, stable, None);
                    self.set_replicas(
                        &rec.cluster,
                        &model,
                        Track::Canary,
                        canary,
                        Some(rec.spec.model.version),
                    );
                }
                Effect::PromoteStable { version } => {
                    self.set_replicas(&rec.cluster, &model, Track::Canary, 0, None);
                    self.set_stable_version(&rec.cluster, &model, *version, rec.spec.replicas);
                }
                Effect::AbortCanary => {
                    self.set_replicas(&rec.cluster, &model, Track::Canary, 0, None);
                    self.set_replicas(&rec.cluster, &model, Track::Stable, rec.spec.replicas, None);
                }
                Effect::RestoreStable { version } => {
                    self.set_stable_version(&rec.cluster, &model, *version, rec.spec.replicas);
                }
                Effect::MoveAlias {
                    model,
                    alias,
                    version,
                } => {
                    if let Some(m) = self.models.iter_mut().find(|m| m.name == *model) {
                        let from = m.aliases.insert(alias.clone(), *version);
                        if m.aliases.get("challenger") == Some(version) {
                            m.aliases.remove("challenger");
                        }
                        self.audit.append(AuditRecord {
                            time: self.now,
                            actor: CONTROLLER.into(),
                            action: "registry.alias".into(),
                            target: format!("{model}@{alias}"),
                            comment: format!(
                                "{} → v{version}",
                                from.map_or_else(|| "unset".to_string(), |v| format!("v{v}"))
                            ),
                            details: String::new(),
                        });
                    }
                }
                Effect::TagVersion {
                    model,
                    version,
                    key,
                    value,
                } => {
                    if let Some(v) = self
                        .models
                        .iter_mut()
                        .find(|m| m.name == *model)
                        .and_then(|m| m.versions.iter_mut().find(|v| v.version == *version))
                    {
                        v.tags.insert(key.clone(), value.clone());
                        v.tags.insert("promoted_by".into(), CONTROLLER.into());
                    }
                }
                Effect::Event {
                    reason,
                    message,
                    warning,
                } => {
                    let kind = if *warning {
                        EventKind::Warning
                    } else {
                        EventKind::Normal
                    };
                    self.event(
                        &rec.cluster,
                        &format!("modelrollout/{}", rec.name),
                        reason,
                        message,
                        kind,
                    );
                }
            }
        }
    }

    fn set_replicas(
        &mut self,
        cluster: &str,
        model: &str,
        track: Track,
        replicas: u32,
        version: Option<u32>,
    ) {
        if let Some(d) = self
            .deployments
            .iter_mut()
            .find(|d| d.cluster == cluster && d.model == model && d.track == track)
        {
            d.replicas = replicas;
            return;
        }
        if replicas == 0 {
            return;
        }
        let version = version.unwrap_or_else(|| self.champion(model));
        self.deployments.push(Deployment {
            name: format!("{model}-{}", track.as_str()),
            namespace: SERVING_NAMESPACE.into(),
            cluster: cluster.into(),
            model: model.into(),
            version,
            track,
            replicas,
            ready_replicas: 0,
            image: image_of(model, version),
        });
    }

    fn set_stable_version(&mut self, cluster: &str, model: &str, version: u32, replicas: u32) {
        if let Some(d) = self
            .deployments
            .iter_mut()
            .find(|d| d.cluster == cluster && d.model == model && d.track == Track::Stable)
        {
            d.version = version;
            d.image = image_of(model, version);
            d.replicas = replicas;
        }
        // A rolling update: the old pods go, new ones start.
        self.pods.retain(|p| {
            !(p.cluster == cluster
                && p.model.as_deref() == Some(model)
                && p.track == Track::Stable
                && p.version != Some(version))
        });
        self.sync_pods();
    }

    /// Make the pods match the deployments, as the `ReplicaSet` controller and the scheduler would.
    fn sync_pods(&mut self) {
        self.deployments
            .retain(|d| d.replicas > 0 || d.track == Track::Stable);
        let mut rng = Rng::fork(self.seed, &format!("pods/{}", self.now.timestamp()));
        for d in self.deployments.clone() {
            let mine = |p: &Pod| {
                p.cluster == d.cluster
                    && p.model.as_deref() == Some(d.model.as_str())
                    && p.track == d.track
            };
            let have = self.pods.iter().filter(|p| mine(p)).count() as u32;
            if have > d.replicas {
                let mut excess = have - d.replicas;
                while excess > 0 {
                    if let Some(pos) = self.pods.iter().rposition(&mine) {
                        let p = self.pods.remove(pos);
                        self.pod_started.remove(&p.name);
                    }
                    excess -= 1;
                }
            }
            for _ in have..d.replicas {
                self.pod_counter += 1;
                let name = format!("{}-{}-{}", d.name, rng.hex(5), rng.hex(5));
                self.pod_started.insert(name.clone(), self.now);
                self.pods.push(Pod {
                    name,
                    namespace: d.namespace.clone(),
                    cluster: d.cluster.clone(),
                    node: None,
                    phase: PodPhase::Pending,
                    model: Some(d.model.clone()),
                    version: Some(d.version),
                    track: d.track,
                    gpus: 1,
                    image: d.image.clone(),
                });
            }
        }
        // Drop pods whose deployment is gone.
        let deployments = &self.deployments;
        self.pods.retain(|p| {
            deployments.iter().any(|d| {
                d.cluster == p.cluster
                    && Some(d.model.as_str()) == p.model.as_deref()
                    && d.track == p.track
            })
        });
        self.schedule();
        self.sync_ready();
    }

    fn schedule(&mut self) {
        // Free the GPUs of pods that are gone.
        let live: std::collections::HashSet<(String, String)> = self
            .pods
            .iter()
            .map(|p| (p.cluster.clone(), p.name.clone()))
            .collect();
        for g in &mut self.gpus {
            if let Some(pod) = &g.gpu.pod
                && !live.contains(&(g.gpu.cluster.clone(), pod.clone()))
            {
                g.gpu.pod = None;
                g.gpu.namespace = None;
                g.gpu.model = None;
                g.gpu.version = None;
                g.target = 0.0;
            }
        }
        for p in self.pods.iter_mut().filter(|p| p.node.is_none()) {
            if let Some(g) = self
                .gpus
                .iter_mut()
                .find(|g| g.gpu.cluster == p.cluster && g.gpu.pod.is_none())
            {
                g.gpu.pod = Some(p.name.clone());
                g.gpu.namespace = Some(p.namespace.clone());
                g.gpu.model.clone_from(&p.model);
                g.gpu.version = p.version;
                p.node = Some(g.gpu.node.clone());
            }
        }
        let now = self.now;
        for p in &mut self.pods {
            if p.phase == PodPhase::Pending
                && p.node.is_some()
                && self
                    .pod_started
                    .get(&p.name)
                    .is_none_or(|t| (now - *t).num_seconds() >= POD_START_SECONDS)
            {
                p.phase = PodPhase::Running;
            }
        }
    }

    fn sync_ready(&mut self) {
        for d in &mut self.deployments {
            d.ready_replicas = self
                .pods
                .iter()
                .filter(|p| {
                    p.cluster == d.cluster
                        && p.model.as_deref() == Some(d.model.as_str())
                        && p.track == d.track
                        && p.phase == PodPhase::Running
                })
                .count() as u32;
        }
    }

    fn move_gpus(&mut self) {
        let idle_models = &self.idle_models;
        for g in &mut self.gpus {
            if g.gpu.pod.is_some() && g.target == 0.0 {
                let idle = g
                    .gpu
                    .model
                    .as_deref()
                    .is_some_and(|m| idle_models.contains(&m));
                g.target = if idle {
                    self.rng.range(0.5, 3.0)
                } else {
                    self.rng.range(35.0, 92.0)
                };
            }
            let noise = if g.gpu.pod.is_some() && g.target > 5.0 {
                self.rng.normal() * 3.0
            } else {
                self.rng.normal() * 0.3
            };
            let util =
                (g.gpu.util_pct + (g.target - g.gpu.util_pct) * 0.15 + noise).clamp(0.0, 100.0);
            g.gpu.util_pct = (util * 10.0).round() / 10.0;
            g.gpu.mem_used_mib = if g.gpu.pod.is_some() {
                (18_000.0 + g.target * 520.0).round()
            } else {
                512.0
            };
            g.gpu.power_w = (62.0 + g.gpu.util_pct * 6.1).round();
            g.gpu.temp_c = (31.0 + g.gpu.util_pct * 0.42).round();
        }
    }

    fn record_series(&mut self) {
        let now = self.now;
        for (i, r) in self.rollouts.iter_mut().enumerate() {
            if r.record.status.phase.is_terminal() && !r.series.times.is_empty() {
                continue;
            }
            let mut rng = Rng::fork(self.seed, &format!("series/{i}/{}", now.timestamp()));
            let canary_live = r.record.status.weight > 0 && r.record.status.phase.is_active();
            r.series.times.push(now);
            r.series
                .stable_error_rate
                .push((r.stable_error * (1.0 + 0.12 * rng.normal())).max(0.0));
            r.series
                .stable_p99_ms
                .push(r.stable_latency_ms * (1.0 + 0.04 * rng.normal()));
            r.series.canary_error_rate.push(if canary_live {
                (r.canary_error * (1.0 + 0.12 * rng.normal())).max(0.0)
            } else {
                f64::NAN
            });
            r.series.canary_p99_ms.push(if canary_live {
                r.canary_latency_ms * (1.0 + 0.04 * rng.normal())
            } else {
                f64::NAN
            });
            if r.series.times.len() > SERIES_POINTS {
                r.series.times.remove(0);
                r.series.stable_error_rate.remove(0);
                r.series.stable_p99_ms.remove(0);
                r.series.canary_error_rate.remove(0);
                r.series.canary_p99_ms.remove(0);
            }
        }
    }

    fn refresh_drift(&mut self) {
        let window = self.now.timestamp().div_euclid(DRIFT_WINDOW_SECONDS);
        let hours_in = ((self.now - self.start).num_seconds() + WARMUP_SECONDS) as f64 / 3600.0;
        for f in &mut self.features {
            let shift = f.drift_sd_per_hour * hours_in * f.sd;
            let mut rng = Rng::fork(
                self.seed,
                &format!("cur/{}/{}/{window}", f.model, f.feature),
            );
            let current: Vec<f64> = (0..DRIFT_SAMPLE)
                .map(|_| f.mean + shift + f.sd * rng.normal())
                .collect();
            // PSI is linear to compute; the full report (with sorts for KS and Wasserstein) waits
            // until someone asks for it.
            if let Ok(psi) = drift::psi(&f.reference, &current) {
                f.psi_history.push_back(psi);
                if f.psi_history.len() > 60 {
                    f.psi_history.pop_front();
                }
            }
            f.current_counts = drift::histogram(&current, &f.edges);
            f.current = current;
            f.report = None;
        }
    }

    pub fn gpus(&self) -> Vec<Gpu> {
        self.gpus.iter().map(|g| g.gpu.clone()).collect()
    }

    pub fn rollouts(&self) -> Vec<RolloutRecord> {
        self.rollouts.iter().map(|r| r.record.clone()).collect()
    }

    pub fn rollout_series(&self, cluster: &str, name: &str) -> Option<RolloutSeries> {
        self.rollouts
            .iter()
            .find(|r| r.record.cluster == cluster && r.record.name == name)
            .map(|r| r.series.clone())
    }

    pub fn drift(&mut self) -> Vec<FeatureDrift> {
        for f in &mut self.features {
            if f.report.is_none() {
                f.report = Some(
                    drift::report(&f.reference, &f.current)
                        .unwrap_or_else(|_| unreachable_report()),
                );
            }
        }
        self.features
            .iter()
            .map(|f| FeatureDrift {
                model: f.model.clone(),
                version: f.version,
                feature: f.feature.clone(),
                report: f.report.clone().unwrap_or_else(unreachable_report),
                edges: f.edges.clone(),
                reference_counts: f.reference_counts.clone(),
                current_counts: f.current_counts.clone(),
                psi_history: f.psi_history.iter().copied().collect(),
            })
            .collect()
    }

    /// A run's metric history, regenerated from the seed so 2,000 runs cost no memory for it.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError> {
        let run = self
            .runs
            .iter()
            .find(|r| r.id == run_id)
            .ok_or_else(|| CoreError::NotFound {
                kind: "run",
                name: run_id.into(),
            })?;
        let last = *run.metrics.get(key).ok_or_else(|| CoreError::NotFound {
            kind: "metric",
            name: format!("{key} of run {run_id}"),
        })?;
        let mut rng = Rng::fork(self.seed, &format!("hist/{run_id}/{key}"));
        let steps = 30;
        let first = if key == "loss" || key == "latency_ms" {
            last * 2.5
        } else {
            last * 0.6
        };
        Ok((0..steps)
            .map(|s| {
                let p = f64::from(s) / f64::from(steps - 1);
                let ease = 1.0 - (-4.0 * p).exp();
                let noise = if s == steps - 1 {
                    0.0
                } else {
                    rng.normal() * 0.01 * last.abs()
                };
                MetricPoint {
                    step: i64::from(s),
                    timestamp: run.start + Duration::seconds(i64::from(s) * 60),
                    value: first + (last - first) * ease / (1.0 - (-4.0f64).exp()) + noise,
                }
            })
            .collect())
    }
}

fn unreachable_report() -> DriftReport {
    DriftReport {
        ks: drift::Ks {
            statistic: 0.0,
            p_value: 1.0,
        },
        psi: 0.0,
        js_distance: 0.0,
        wasserstein_normed: 0.0,
        reference_len: 0,
        current_len: 0,
        status: drift::DriftStatus::Ok,
    }
}
