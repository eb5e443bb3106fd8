//! The simulated platform: its state and how one simulated second passes. Rollouts are driven by
//! the real state machine in `crate::rollout` with analysis samples drawn from the simulated
//! traffic, so the demo shows the product's true behaviour.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::{
    catalog::{SERVED, SERVING_NAMESPACE},
    rng::Rng,
    scenarios::{Scenario, scenarios, scripted_commands},
};
use crate::{
    audit::AuditLog,
    drift::{self, DriftReport, DriftStatus},
    error::CoreError,
    model::{
        Cluster, ClusterEvent, Deployment, EventKind, Experiment, FeatureDrift, Gpu, LoggedModel,
        MetricPoint, Node, Pod, PodPhase, RegisteredModel, RolloutSeries, Run,
    },
    rollout::{self, Command, RolloutRecord},
};

mod alerts;
mod build;
mod cluster;
mod infra;
mod metrics;
mod registry;
mod rollouts;
mod serving;
mod triggers;

/// Seconds a new pod stays Pending before it runs, as a kubelet would take.
const POD_START_SECONDS: i64 = 8;
const SERIES_EVERY_SECONDS: i64 = 5;
const SERIES_POINTS: usize = 360;
const DRIFT_WINDOW_SECONDS: i64 = 15;
/// Observations per current window.
const DRIFT_SAMPLE: usize = 1000;
/// Observations in a feature's reference profile: more than 1,000, so the drift decision is the
/// normed Wasserstein distance (as Evidently chooses for large references), which does not flap
/// between windows the way a KS p-value on fresh samples does.
const REFERENCE_SAMPLE: usize = 5000;
const MAX_EVENTS: usize = 300;
/// How far before "now" the simulation starts, so the demo opens with history.
pub const WARMUP_SECONDS: i64 = 20 * 60;
pub const CONTROLLER: &str = "mlops-controller (embedded)";

struct SimRollout {
    record: RolloutRecord,
    /// Its scenario's place in the script, which keys the noise of its series: a scenario added
    /// to the script changes no other rollout's.
    place: usize,
    canary_error: f64,
    canary_latency_ms: f64,
    stable_error: f64,
    stable_latency_ms: f64,
    series: RolloutSeries,
    canary_inputs: &'static [(&'static str, f64)],
}

struct SimFeature {
    model: String,
    version: u32,
    feature: String,
    mean: f64,
    sd: f64,
    drift_sd_per_hour: f64,
    edges: Vec<f64>,
    reference_counts: Vec<f64>,
    current_counts: Vec<f64>,
    report: Option<DriftReport>,
    psi_history: VecDeque<f64>,
    status_history: VecDeque<DriftStatus>,
}

/// A canary feature's PSI and status in the windows it could be compared in, oldest first.
type CanaryHistory = (VecDeque<f64>, VecDeque<DriftStatus>);

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
    /// The script's rollouts not created yet, each with its place in the script.
    pending_scenarios: Vec<(usize, Scenario)>,
    pending_commands: Vec<(i64, &'static str, Command)>,
    pub events: VecDeque<ClusterEvent>,
    pub audit: AuditLog,
    /// HTTPRoute backend weights (stable, canary) by (cluster, namespace, route).
    pub routes: BTreeMap<(String, String, String), (u8, u8)>,
    features: Vec<SimFeature>,
    /// Each live canary's features against its stable's over the same window, and the PSI and
    /// status history of each (model, canary version, feature).
    canary_drift: Vec<FeatureDrift>,
    canary_history: BTreeMap<(String, u32, String), CanaryHistory>,
    pod_counter: u64,
    /// A sample a minute per served model version and track (`serving`).
    serving_history: BTreeMap<crate::serving::ServingKey, VecDeque<serving::Minute>>,
    /// The simulated metrics store's alerts (`alerts`), oldest first.
    alerts: Vec<crate::model::Alert>,
    /// The RolloutTriggers, their status kept as the controller keeps it (`triggers`).
    pub triggers: Vec<crate::triggers::TriggerRecord>,
}

/// Poll a future that needs nothing from outside the simulation; `None` if it would wait.
pub(super) fn run_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
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
            pending_scenarios: scenarios().into_iter().enumerate().collect(),
            pending_commands: scripted_commands(),
            events: VecDeque::new(),
            audit: AuditLog::default(),
            routes: BTreeMap::new(),
            features: Vec::new(),
            canary_drift: Vec::new(),
            canary_history: BTreeMap::new(),
            pod_counter: 0,
            serving_history: BTreeMap::new(),
            alerts: Vec::new(),
            triggers: triggers::seeded(),
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

    pub(super) fn rel(&self) -> i64 {
        (self.now - self.start).num_seconds()
    }

    fn step(&mut self) {
        let rel = self.rel();
        let due: Vec<(usize, Scenario)> = {
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_scenarios)
                .into_iter()
                .partition(|(_, s)| s.at <= rel);
            self.pending_scenarios = rest;
            due
        };
        for (place, s) in due {
            self.create_rollout(place, &s);
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
        self.step_triggers();
        self.sync_pods();
        self.reconcile_rollouts();
        self.move_gpus();
        if rel.rem_euclid(SERIES_EVERY_SECONDS) == 0 {
            self.record_series();
        }
        if rel.rem_euclid(DRIFT_WINDOW_SECONDS) == 0 {
            self.refresh_drift();
        }
        if rel.rem_euclid(serving::SAMPLE_SECONDS) == 0 {
            self.record_serving();
            self.evaluate_alerts();
        }
        if rel == -6 * 60 {
            self.event("us-prod", "node/us-prod-gpu-2", "XidError", "GPU 5: Xid 79 (GPU fallen off the bus); device health check failed once, recovered", EventKind::Warning);
            // DCGM keeps reporting the last XID of the GPU.
            if let Some(g) = self
                .gpus
                .iter_mut()
                .find(|g| g.gpu.node == "us-prod-gpu-2" && g.gpu.index == 5)
            {
                g.gpu.xid = Some(79);
            }
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

    /// The models the runs of `experiment_id` logged (by `run_id` only, when given): one for
    /// each run a registered version came from, as MLflow 3 logs a model before registering it;
    /// newest first.
    pub fn logged_models(&self, experiment_id: &str, run_id: Option<&str>) -> Vec<LoggedModel> {
        let mut found: BTreeMap<String, LoggedModel> = BTreeMap::new();
        for m in &self.models {
            for v in &m.versions {
                let Some(run) = v
                    .run_id
                    .as_deref()
                    .filter(|id| run_id.is_none_or(|want| want == *id))
                    .and_then(|id| self.runs.iter().find(|r| r.id == id))
                    .filter(|r| r.experiment_id == experiment_id)
                else {
                    continue;
                };
                let id = format!("m-{}-{}", m.name, &run.id[..run.id.len().min(12)]);
                found.entry(id.clone()).or_insert_with(|| LoggedModel {
                    artifact_uri: format!(
                        "mlflow-artifacts:/{experiment_id}/models/{id}/artifacts"
                    ),
                    name: m.name.clone(),
                    experiment_id: experiment_id.to_string(),
                    source_run_id: Some(run.id.clone()),
                    model_type: v.tags.get("framework").cloned(),
                    status: "READY".into(),
                    created: run.end.unwrap_or(run.start),
                    params: run.params.clone(),
                    metrics: run.metrics.clone(),
                    tags: BTreeMap::new(),
                    id,
                });
            }
        }
        let mut out: Vec<LoggedModel> = found.into_values().collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        out
    }

    pub fn model(&self, name: &str) -> Result<&RegisteredModel, CoreError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| CoreError::NotFound {
                kind: "registered model",
                name: name.to_string(),
            })
    }

    /// Point `model@alias` at `version`; where it pointed before.
    pub fn set_alias(
        &mut self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError> {
        let m = self
            .models
            .iter_mut()
            .find(|m| m.name == model)
            .ok_or_else(|| CoreError::NotFound {
                kind: "registered model",
                name: model.to_string(),
            })?;
        if m.version(version).is_none() {
            return Err(CoreError::NotFound {
                kind: "model version",
                name: format!("{model} v{version}"),
            });
        }
        let previous = m.aliases.insert(alias.to_string(), version);
        // As the registry's convention goes, the challenger that became champion is no longer one.
        if alias == rollout::CHAMPION_ALIAS && m.aliases.get("challenger") == Some(&version) {
            m.aliases.remove("challenger");
        }
        Ok(previous)
    }

    pub fn set_version_tag(
        &mut self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError> {
        let v = self
            .models
            .iter_mut()
            .find(|m| m.name == model)
            .and_then(|m| m.versions.iter_mut().find(|v| v.version == version))
            .ok_or_else(|| CoreError::NotFound {
                kind: "model version",
                name: format!("{model} v{version}"),
            })?;
        v.tags.insert(key.to_string(), value.to_string());
        Ok(())
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

    /// Every monitored feature's latest window against its reference, and each live canary's
    /// against its stable.
    pub fn drift(&mut self) -> Vec<FeatureDrift> {
        for f in &mut self.features {
            if f.report.is_none() {
                f.report =
                    drift::report_from_bins(&f.edges, &f.reference_counts, &f.current_counts).ok();
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
                status_history: f.status_history.iter().copied().collect(),
                reference: "window".into(),
                window_seconds: DRIFT_WINDOW_SECONDS.unsigned_abs(),
            })
            .chain(self.canary_drift.iter().cloned().map(|mut d| {
                d.window_seconds = DRIFT_WINDOW_SECONDS.unsigned_abs();
                d
            }))
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
