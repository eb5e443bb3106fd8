//! What `mlops controller` tells Prometheus and its probes: one registry of the controller's
//! metrics (`/metrics`), and the health the probes read (`/healthz`, `/readyz`). Passes record
//! what they did here (their duration, errors, analysis verdicts, approvals waited for, rollouts
//! finished); the rollouts' state and the lease are read at each scrape from the watch cache and
//! the last lease attempt, so a series never outlives what it describes. Every replica serves
//! them; only the lease holder runs passes. Nothing here does I/O.

use std::{
    fmt,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use kube::runtime::reflector::Store;
use mlops_core::{
    ErrorKind,
    rollout::{Phase, RolloutRecord, RolloutStatus},
};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet},
    metrics::{
        MetricType,
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use super::ReconcileError;
use crate::adapters::kube::{ModelRollout, requests};

/// The labels of a pass that failed: why, in one word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// One analysis check's verdict on one round.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AnalysisResult {
    namespace: String,
    model: String,
    check: String,
    result: &'static str,
}

/// One notification delivery attempt: its trigger, destination and `sent` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Notified {
    event: &'static str,
    destination: String,
    result: &'static str,
}

/// A stage of a pass (`audit`, `measure`, `gates`, `effects`, `status`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Stage {
    stage: &'static str,
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// The controller's metrics and health; shared by the passes, the loop and the HTTP server.
pub struct Telemetry {
    registry: Registry,
    live: Arc<Live>,
    /// The loop's last sign of life (a lease attempt that ended, either way).
    beat: Mutex<Instant>,
    /// The loop is alive while it showed a sign of life within this.
    alive_within: Duration,
    reconcile_duration: Histogram,
    stages: Family<Stage, Histogram>,
    passes: Counter,
    errors: Family<Reason, Counter>,
    analysis: Family<AnalysisResult, Counter>,
    approval_wait: Histogram,
    rollout_duration: Family<Outcome, Histogram>,
    audit_queue: Gauge,
    notifications: Family<Notified, Counter>,
}

/// The lease as this replica last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LeaseSeen {
    /// No lease attempt has answered yet.
    Unknown,
    /// Nobody holds it.
    Free,
    Held(String),
}

/// What the scrape reads as it is: the rollouts' watch cache and the lease as last seen.
struct Live {
    id: String,
    rollouts: OnceLock<Store<ModelRollout>>,
    rollouts_synced: AtomicBool,
    holder: Mutex<LeaseSeen>,
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Buckets from 1 ms to about 33 s, doubling: a pass and its stages.
fn pass_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 16)
}

/// Buckets from 1 s to about 12 days, doubling: waits and rollouts last minutes to days.
fn long_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(1.0, 2.0, 21)
}

impl Telemetry {
    /// The metrics of the replica `id`, registered once; `call_timeout` (each call to the API
    /// server) sets how long its loop may take to go round and still count as alive.
    pub fn new(id: &str, call_timeout: Duration) -> Self {
        let alive_within = super::defaults::alive_within(call_timeout);
        let live = Arc::new(Live {
            id: id.to_string(),
            rollouts: OnceLock::new(),
            rollouts_synced: AtomicBool::new(false),
            holder: Mutex::new(LeaseSeen::Unknown),
        });
        let reconcile_duration = Histogram::new(pass_buckets());
        let approval_wait = Histogram::new(long_buckets());
        let rollout_duration =
            Family::<Outcome, Histogram>::new_with_constructor(|| Histogram::new(long_buckets()));
        let mut registry = Registry::default();
        registry.register(
            "mlops_controller_reconcile_duration_seconds",
            "How long one reconcile pass of one rollout took",
            reconcile_duration.clone(),
        );
        let stages =
            Family::<Stage, Histogram>::new_with_constructor(|| Histogram::new(pass_buckets()));
        registry.register(
            "mlops_controller_reconcile_stage_seconds",
            "How long passes waited in each stage that ran: audit, measure (the metrics store), gates, effects, status (the write)",
            stages.clone(),
        );
        let passes = Counter::default();
        registry.register(
            "mlops_controller_reconcile_passes",
            "Reconcile passes run, failed or not",
            passes.clone(),
        );
        let errors = Family::default();
        registry.register(
            "mlops_controller_reconcile_errors",
            "Reconcile passes that failed, by reason",
            errors.clone(),
        );
        let analysis = Family::default();
        registry.register(
            "mlops_rollout_analysis_results",
            "Analysis verdicts by namespace, model, check and result (pass, fail, inconclusive)",
            analysis.clone(),
        );
        registry.register(
            "mlops_rollout_approval_wait_seconds",
            "Time rollouts waited at an approval step before leaving it",
            approval_wait.clone(),
        );
        registry.register(
            "mlops_rollout_duration_seconds",
            "From a rollout's creation to its end, by outcome (Promoted, RolledBack, Aborted, Failed)",
            rollout_duration.clone(),
        );
        let audit_queue = Gauge::default();
        registry.register(
            "mlops_controller_audit_queue_depth",
            "Audit entries waiting for the audit writer",
            audit_queue.clone(),
        );
        registry.register(
            "mlops_controller_kube_requests",
            "Requests to the Kubernetes API server by verb and HTTP status (error: no answer)",
            requests::api_requests().clone(),
        );
        let notifications = Family::default();
        registry.register(
            "mlops_controller_notifications",
            "Notification delivery attempts by event, destination and result (sent, failed)",
            notifications.clone(),
        );
        registry.register_collector(Box::new(live.clone()));
        Self {
            registry,
            live,
            beat: Mutex::new(Instant::now()),
            alive_within,
            reconcile_duration,
            stages,
            passes,
            errors,
            analysis,
            approval_wait,
            rollout_duration,
            audit_queue,
            notifications,
        }
    }

    /// A notification delivery attempt ended.
    pub fn notified(&self, event: &'static str, destination: &str, sent: bool) {
        self.notifications
            .get_or_create(&Notified {
                event,
                destination: destination.to_string(),
                result: if sent { "sent" } else { "failed" },
            })
            .inc();
    }

    /// Everything, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The rollouts' watch cache the scrape reads (set once; later calls are ignored).
    pub(super) fn watch_rollouts(&self, store: Store<ModelRollout>) {
        let _ = self.live.rollouts.set(store);
    }

    /// The first list of the rollouts is in the cache.
    pub(super) fn rollouts_synced(&self) {
        self.live.rollouts_synced.store(true, Ordering::Relaxed);
    }

    /// A lease attempt answered: `holder` holds it (`None`: nobody).
    pub(super) fn lease_seen(&self, holder: Option<String>) {
        if let Ok(mut h) = self.live.holder.lock() {
            *h = holder.map_or(LeaseSeen::Free, LeaseSeen::Held);
        }
        self.alive();
    }

    /// Whether this replica held the lease when it last looked (RolloutTriggers act only then).
    pub fn leads(&self) -> bool {
        self.live
            .holder
            .lock()
            .is_ok_and(|h| matches!(&*h, LeaseSeen::Held(who) if *who == self.live.id))
    }

    /// The loop is going round.
    pub(super) fn alive(&self) {
        if let Ok(mut b) = self.beat.lock() {
            *b = Instant::now();
        }
    }

    /// Why the loop does not count as alive (`None`: it does).
    pub fn not_alive(&self) -> Option<String> {
        let since = self.beat.lock().map_or(Duration::MAX, |b| b.elapsed());
        stale(since, self.alive_within)
    }

    /// Why the replica is not ready yet (empty: ready).
    pub fn not_ready(&self) -> Vec<&'static str> {
        let mut why = Vec::new();
        if !self.live.rollouts_synced.load(Ordering::Relaxed) {
            why.push("the first list of ModelRollouts has not synced yet");
        }
        if self
            .live
            .holder
            .lock()
            .map_or(true, |h| *h == LeaseSeen::Unknown)
        {
            why.push("the lease has not been read yet");
        }
        why
    }

    pub(super) fn audit_queued(&self, depth: usize) {
        self.audit_queue
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A stage of a pass that ran took `took`.
    pub(super) fn stage_took(&self, stage: &'static str, took: Duration) {
        self.stages
            .get_or_create(&Stage { stage })
            .observe(took.as_secs_f64());
    }

    /// One pass ended after `elapsed`, failed with `error` or not.
    pub(super) fn pass_finished(&self, elapsed: Duration, error: Option<&ReconcileError>) {
        self.reconcile_duration.observe(elapsed.as_secs_f64());
        self.passes.inc();
        if let Some(e) = error {
            self.errors
                .get_or_create(&Reason { reason: reason(e) })
                .inc();
        }
    }

    /// A pass wrote `after` over `before` at `now`: its new verdicts, a wait for approval that
    /// ended, a rollout that ended.
    pub(super) fn status_written(
        &self,
        before: &RolloutRecord,
        after: &RolloutStatus,
        now: DateTime<Utc>,
    ) {
        let was = &before.status;
        let known = was.measurements.last().map(|m| m.time);
        for m in after
            .measurements
            .iter()
            .filter(|m| known.is_none_or(|t| m.time > t))
        {
            self.analysis
                .get_or_create(&AnalysisResult {
                    namespace: before.namespace.clone(),
                    model: before.spec.model.name.clone(),
                    check: m.metric.clone(),
                    result: m.verdict.as_str(),
                })
                .inc();
        }
        if was.phase == Phase::AwaitingApproval
            && after.phase != Phase::AwaitingApproval
            && let Some(since) = entered(was, Phase::AwaitingApproval)
        {
            self.approval_wait.observe(seconds(now - since));
        }
        if !was.phase.is_terminal()
            && let Some(outcome) = outcome(after)
        {
            self.rollout_duration
                .get_or_create(&Outcome { outcome })
                .observe(seconds(now - before.created));
        }
    }
}

/// Why a loop last seen `since` ago is not alive, if it is not.
fn stale(since: Duration, within: Duration) -> Option<String> {
    (since > within).then(|| {
        format!(
            "the controller's loop has not gone round for {} s (more than {} s)",
            since.as_secs(),
            within.as_secs()
        )
    })
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

/// Why a pass failed, in one word: the status write, or the kind of the core's error.
fn reason(e: &ReconcileError) -> &'static str {
    match e {
        ReconcileError::StatusWrite { .. } => "status_write",
        ReconcileError::Core(e) => match e.kind() {
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Denied => "denied",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Malformed => "malformed",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NotConfigured => "not_configured",
            ErrorKind::Refused => "refused",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Statistics => "statistics",
            ErrorKind::Other => "other",
        },
    }
}

/// When the rollout last entered `phase`, from its history.
fn entered(status: &RolloutStatus, phase: Phase) -> Option<DateTime<Utc>> {
    status
        .history
        .iter()
        .rev()
        .find(|t| t.to == phase)
        .map(|t| t.time)
}

/// How a rollout in a final phase ended: `Aborted` when an operator's abort rolled it back.
fn outcome(status: &RolloutStatus) -> Option<&'static str> {
    match status.phase {
        Phase::Promoted => Some("Promoted"),
        Phase::Failed => Some("Failed"),
        Phase::RolledBack => {
            let aborted = status
                .history
                .iter()
                .rev()
                .find(|t| t.to == Phase::RollingBack)
                .is_some_and(|t| t.reason.starts_with("aborted"));
            Some(if aborted { "Aborted" } else { "RolledBack" })
        }
        _ => None,
    }
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let holder = match self.holder.lock().map(|h| h.clone()) {
            Ok(LeaseSeen::Held(h)) => Some(h),
            _ => None,
        };
        {
            let mut e = encoder.encode_descriptor(
                "mlops_controller_lease_holder",
                "The holder of the controller's Lease as this replica last saw it (1)",
                None,
                MetricType::Gauge,
            )?;
            if let Some(h) = &holder {
                e.encode_family(&[("holder", h.as_str())])?
                    .encode_gauge(&1_i64)?;
            }
        }
        encoder
            .encode_descriptor(
                "mlops_controller_leader",
                "1 while this replica holds the Lease and reconciles, else 0",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&[("id", self.id.as_str())])?
            .encode_gauge(&i64::from(holder.as_deref() == Some(self.id.as_str())))?;
        let Some(store) = self.rollouts.get() else {
            return Ok(());
        };
        let mut rollouts = store.state();
        rollouts.sort_by_key(|r| (r.metadata.namespace.clone(), r.metadata.name.clone()));
        encode_rollouts(&mut encoder, &rollouts, Utc::now())
    }
}

/// The labels that name a rollout and its model version.
fn rollout_labels(mr: &ModelRollout) -> Vec<(&'static str, String)> {
    let spec = &mr.spec.rollout;
    vec![
        (
            "namespace",
            mr.metadata.namespace.clone().unwrap_or_default(),
        ),
        ("rollout", mr.metadata.name.clone().unwrap_or_default()),
        ("model", spec.model.name.clone()),
        ("version", spec.model.version.to_string()),
    ]
}

/// The series of each rollout in the cache: its phase, the canary's weight, how long it has
/// waited for approval.
fn encode_rollouts(
    encoder: &mut DescriptorEncoder,
    rollouts: &[Arc<ModelRollout>],
    now: DateTime<Utc>,
) -> Result<(), fmt::Error> {
    let status = |mr: &ModelRollout| mr.status.clone().unwrap_or_default();
    {
        let mut e = encoder.encode_descriptor(
            "mlops_rollout",
            "One series per ModelRollout: its model version and phase",
            None,
            MetricType::Info,
        )?;
        for mr in rollouts {
            let mut labels = rollout_labels(mr);
            labels.push(("phase", status(mr).phase.as_str().to_string()));
            e.encode_info(&labels)?;
        }
    }
    {
        let mut e = encoder.encode_descriptor(
            "mlops_rollout_canary_weight",
            "The canary's share of traffic in percent, as last set",
            None,
            MetricType::Gauge,
        )?;
        for mr in rollouts {
            e.encode_family(&rollout_labels(mr))?
                .encode_gauge(&i64::from(status(mr).weight))?;
        }
    }
    let mut e = encoder.encode_descriptor(
        "mlops_rollout_awaiting_approval_seconds",
        "How long a rollout now waiting at an approval step has waited",
        None,
        MetricType::Gauge,
    )?;
    for mr in rollouts {
        let s = status(mr);
        if s.phase != Phase::AwaitingApproval {
            continue;
        }
        if let Some(since) = entered(&s, Phase::AwaitingApproval).or(s.step_started_at) {
            e.encode_family(&rollout_labels(mr))?
                .encode_gauge(&seconds(now - since))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
