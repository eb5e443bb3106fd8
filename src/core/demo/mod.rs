//! The embedded demo platform: an in-process, deterministic simulation of an ML platform (three
//! clusters, a model registry with 40 models and 2,000 runs, GPU metrics, drift and canary
//! rollouts) behind the same ports as the real adapters. No configuration, no network.
//!
//! Time is simulated: each port call first advances the simulation to the clock's "now", so an
//! idle console costs nothing and the same seed and clock readings always give the same platform.

pub mod catalog;
pub mod rng;
mod scenarios;
mod search;
mod sim;

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use self::sim::{CONTROLLER, Sim, WARMUP_SECONDS};
use crate::{
    audit::AuditEntry,
    error::CoreError,
    model::{
        ClusterSnapshot, Driver, Experiment, FeatureDrift, Gpu, MetricPoint, RegisteredModel,
        RolloutSeries, Run, RunPage, RunQuery,
    },
    ports::{AuditPort, ClusterPort, MetricsPort, RegistryPort},
    rollout::{Command, RolloutRecord},
};

/// The identity the demo's operator acts as.
pub const DEMO_USER: &str = "you@demo";

/// The fastest the demo's time may run: each simulated second is a step of the simulation, so
/// this is also the most steps per wall-clock second.
pub const MAX_SPEED: f64 = 1000.0;

/// How far the demo's clock may run ahead of its start: far beyond any session, far below where
/// date arithmetic would overflow. The clock stops there rather than panic.
const MAX_SPAN_SECONDS: f64 = 100.0 * 365.25 * 86_400.0;

/// The simulated time `elapsed_seconds` of wall-clock time after `start`, at `speed`: never
/// before `start`, never more than [`MAX_SPAN_SECONDS`] after it, whatever the inputs.
fn simulated_now(start: DateTime<Utc>, elapsed_seconds: f64, speed: f64) -> DateTime<Utc> {
    let seconds = elapsed_seconds * speed;
    let seconds = if seconds.is_nan() {
        0.0
    } else {
        seconds.clamp(0.0, MAX_SPAN_SECONDS)
    };
    Duration::try_milliseconds((seconds * 1000.0) as i64)
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(start)
}

#[derive(Debug, Clone)]
enum Clock {
    /// Simulated time runs `speed` times as fast as the wall clock from `started`.
    Real { started: Instant, speed: f64 },
    /// Time moves only when told (tests, snapshots).
    Manual,
}

struct Inner {
    sim: Sim,
    clock: Clock,
    manual_now: DateTime<Utc>,
}

/// The demo platform; clone it freely, every clone sees the same simulation.
#[derive(Clone)]
pub struct DemoPlatform {
    inner: Arc<Mutex<Inner>>,
}

impl DemoPlatform {
    /// A platform whose time follows the wall clock, `speed` times as fast, from `start`.
    pub fn new(seed: u64, start: DateTime<Utc>, speed: f64) -> Self {
        Self::with_clock(
            seed,
            start,
            Clock::Real {
                started: Instant::now(),
                speed: if speed.is_nan() {
                    0.0
                } else {
                    speed.clamp(0.0, MAX_SPEED)
                },
            },
        )
    }

    /// A platform whose time moves only through `advance`.
    pub fn manual(seed: u64, start: DateTime<Utc>) -> Self {
        Self::with_clock(seed, start, Clock::Manual)
    }

    fn with_clock(seed: u64, start: DateTime<Utc>, clock: Clock) -> Self {
        let sim = Sim::new(seed, start);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                sim,
                clock,
                manual_now: start,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent-enough simulation; keep going.
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now = match g.clock {
            Clock::Real { started, speed } => {
                simulated_now(g.sim.start, started.elapsed().as_secs_f64(), speed)
            }
            Clock::Manual => g.manual_now,
        };
        g.sim.advance_to(now);
        g
    }

    /// Move a manual clock forward.
    pub fn advance(&self, seconds: i64) {
        {
            let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(t) =
                Duration::try_seconds(seconds).and_then(|d| g.manual_now.checked_add_signed(d))
            {
                g.manual_now = t;
            }
        }
        drop(self.lock());
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.lock().sim.now
    }

    /// The drift rows now, as the metrics port gives them (for tests without a runtime).
    #[cfg(test)]
    pub(crate) fn drift_now(&self) -> Vec<FeatureDrift> {
        self.lock().sim.drift()
    }

    /// Run a closure on the simulation (tests and the bench use it to read state directly).
    pub fn with_sim<T>(&self, f: impl FnOnce(&Sim) -> T) -> T {
        f(&self.lock().sim)
    }
}

#[async_trait]
impl ClusterPort for DemoPlatform {
    fn describe(&self) -> String {
        "demo (3 clusters)".into()
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError> {
        let g = self.lock();
        let s = &g.sim;
        Ok(ClusterSnapshot {
            clusters: s.clusters.clone(),
            nodes: s.nodes.clone(),
            pods: s.pods.clone(),
            deployments: s.deployments.clone(),
            rollouts: s.rollouts(),
            events: s.events.iter().cloned().collect(),
            driver: Driver::Embedded,
            identity: DEMO_USER.into(),
            // The demo's user may do everything.
            denied: std::collections::BTreeMap::new(),
            triggers: crate::triggers::TriggersRead::Listed(s.triggers.clone()),
            // The demo lists; it has no watches.
            watches: Vec::new(),
        })
    }

    async fn rollout_command(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        command: Command,
    ) -> Result<RolloutRecord, CoreError> {
        self.lock().sim.command(cluster, namespace, name, &command)
    }
}

#[async_trait]
impl RegistryPort for DemoPlatform {
    fn describe(&self) -> String {
        "demo registry".into()
    }

    async fn experiments(&self) -> Result<Vec<Experiment>, CoreError> {
        Ok(self.lock().sim.experiments.clone())
    }

    async fn runs(&self, experiment_id: &str) -> Result<Vec<Run>, CoreError> {
        self.lock().sim.experiment_runs(experiment_id)
    }

    async fn runs_page(
        &self,
        query: &RunQuery,
        page_token: Option<&str>,
    ) -> Result<RunPage, CoreError> {
        self.lock().sim.runs_page(query, page_token)
    }

    async fn run(&self, run_id: &str) -> Result<Run, CoreError> {
        self.lock().sim.run(run_id)
    }

    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError> {
        self.lock().sim.metric_history(run_id, key)
    }

    async fn logged_models(
        &self,
        experiment_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<crate::model::LoggedModel>, CoreError> {
        Ok(self.lock().sim.logged_models(experiment_id, run_id))
    }

    async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError> {
        Ok(self.lock().sim.models.clone())
    }

    async fn model(&self, name: &str) -> Result<RegisteredModel, CoreError> {
        self.lock().sim.model(name).cloned()
    }

    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError> {
        self.lock().sim.set_alias(model, alias, version)
    }

    async fn set_version_tag(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError> {
        self.lock().sim.set_version_tag(model, version, key, value)
    }
}

#[async_trait]
impl MetricsPort for DemoPlatform {
    fn describe(&self) -> String {
        "demo metrics".into()
    }

    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError> {
        Ok(self.lock().sim.gpus())
    }

    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError> {
        Ok(self.lock().sim.drift())
    }

    async fn rollout_series(
        &self,
        cluster: &str,
        rollout: &str,
    ) -> Result<RolloutSeries, CoreError> {
        self.lock()
            .sim
            .rollout_series(cluster, rollout)
            .ok_or_else(|| CoreError::NotFound {
                kind: "rollout",
                name: format!("{cluster}/{rollout}"),
            })
    }

    async fn alerts(&self, since: DateTime<Utc>) -> Result<Vec<crate::model::Alert>, CoreError> {
        Ok(self.lock().sim.alerts_since(since))
    }
}

#[async_trait]
impl crate::ports::ServingPort for DemoPlatform {
    async fn serving_signals(
        &self,
        request: &crate::serving::SignalRequest,
    ) -> Result<crate::serving::Signals, CoreError> {
        Ok(self.lock().sim.serving_signals(request))
    }
}

#[async_trait]
impl AuditPort for DemoPlatform {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError> {
        Ok(self.lock().sim.audit.entries().to_vec())
    }
}

#[cfg(test)]
mod tests;
