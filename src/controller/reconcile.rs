//! One reconcile pass over one ModelRollout: observe (canary readiness from the watched canary
//! Deployments, analysis samples from the metrics store), decide (the core's state machine), carry
//! out the effects (the core's interpreter on the kube wing's ports) and write the
//! status with the resourceVersion read.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use kube::{
    Api, Resource, ResourceExt,
    api::PostParams,
    runtime::{
        controller::Action,
        reflector::{ObjectRef, Store},
    },
};
use mlops_core::{
    CoreError,
    analysis::{BudgetRates, MetricKind, Sample},
    audit::AuditRecord,
    drift,
    model::Track,
    policy,
    rollout::{self, Gates, Observation, RolloutRecord, RolloutSpec},
};

use super::Context;
use crate::adapters::kube::{
    ModelRollout, effects::KubeInfra, map_deployment, names::FIELD_MANAGER, names::canary_name,
    rbac::POLICY_ANNOTATION,
};

/// The tracing target of one event per pass (`pass started`, `pass finished` with `elapsed_us`,
/// `requeue_ms` and the time spent in each stage): operators read it in the log, the scale
/// benchmark measures with it.
pub const PASS_TARGET: &str = "mlops::controller::pass";

/// Where a pass's time went: what it waited on (the audit of a start or a command, the metrics
/// store, the policy gates, the effects, the status write), each stage that ran. The rest of the
/// pass is the state machine and bookkeeping.
#[derive(Debug, Default, Clone, Copy)]
struct Stages {
    audit: Option<Duration>,
    measure: Option<Duration>,
    gates: Option<Duration>,
    effects: Option<Duration>,
    status: Option<Duration>,
}

impl Stages {
    /// The stages that ran, by name (as in the log's `*_us` fields and the metric's `stage`).
    fn ran(&self) -> impl Iterator<Item = (&'static str, Duration)> {
        [
            ("audit", self.audit),
            ("measure", self.measure),
            ("gates", self.gates),
            ("effects", self.effects),
            ("status", self.status),
        ]
        .into_iter()
        .filter_map(|(stage, took)| took.map(|t| (stage, t)))
    }
}

/// Microseconds, for the log.
fn us(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// `work`'s outcome, and how long it took.
async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, Option<Duration>) {
    let started = std::time::Instant::now();
    let out = work.await;
    (out, Some(started.elapsed()))
}

/// Why a pass failed; the controller logs it and tries again later.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("writing the status of {rollout}: {source}")]
    StatusWrite {
        rollout: String,
        #[source]
        source: kube::Error,
    },
}

/// What a reconcile pass reads besides the rollout: the context and the watched serving
/// Deployments.
pub(super) struct Pass {
    pub ctx: Arc<Context>,
    pub deployments: Store<K8sDeployment>,
    /// The controller's own status writes, so their watch events bring no pass.
    pub own: Arc<super::changes::OwnWrites>,
    /// Transitions for the audit log, written in order by one task so passes never wait on it.
    pub audit: tokio::sync::mpsc::UnboundedSender<AuditRecord>,
    /// The passes' Events, recorded by a writer task of their own.
    pub events: futures::channel::mpsc::UnboundedSender<crate::adapters::kube::PendingEvent>,
    /// The notification sender (`None`: this driver sends none).
    pub notify: Option<super::notify::Notifier>,
}

/// The canary pods for `weight` are all ready, according to the watched Deployments (no API call: this runs on every pass of every rollout).
fn canary_ready(pass: &Pass, namespace: &str, spec: &RolloutSpec, weight: u8) -> bool {
    let (_, want) = rollout::replica_split(spec.replicas, weight);
    let canary = canary_name(&spec.deployment);
    let d = pass
        .deployments
        .get(&ObjectRef::new(&canary).within(namespace))
        .and_then(|d| map_deployment(&d, &pass.ctx.cluster.describe_context()))
        .filter(|d| d.track == Track::Canary);
    match d {
        Some(d) => d.replicas == want && d.ready_replicas == want,
        None => want == 0,
    }
}

/// One analysis round: each metric's canary and stable query. A store that is down or returns
/// nothing gives no value, which the core judges inconclusive — never a pass; the store's error
/// goes into the measurement's reason. A check with a budget (`slo_burn`) also reads the rates
/// the core works out the canary's spend from; without them it spends nothing this round.
async fn measure(ctx: &Context, spec: &RolloutSpec) -> Vec<Sample> {
    let mut out = Vec::new();
    for m in &spec.analysis.metrics {
        if m.kind == MetricKind::Drift {
            out.push(measure_drift(ctx, m).await);
            continue;
        }
        let (canary, canary_error) = instant(ctx, &m.canary_query).await;
        let (stable, stable_error) = match &m.stable_query {
            Some(q) => instant(ctx, q).await,
            None => (None, None),
        };
        let budget = match &m.budget {
            Some(b) => match (
                instant(ctx, &b.canary_errors_query).await,
                instant(ctx, &b.requests_query).await,
            ) {
                ((Some(canary_errors), _), (Some(requests), _)) => Some(BudgetRates {
                    canary_errors,
                    requests,
                }),
                _ => None,
            },
            None => None,
        };
        out.push(Sample {
            metric: m.name.clone(),
            canary,
            stable,
            error: canary_error.or(stable_error),
            budget,
        });
    }
    out
}

/// One instant query's value (`None` when the store gave nothing or no number), with the store's
/// error, cut to a line's length, when it failed.
async fn instant(ctx: &Context, query: &str) -> (Option<f64>, Option<String>) {
    let Some(store) = ctx.metrics.as_ref() else {
        return (None, Some("no metrics store configured".to_string()));
    };
    match store.value(query).await {
        Ok(v) => (v.filter(|v| v.is_finite()), None),
        Err(e) => {
            crate::logging::warn_limited(
                &format!("analysis {query}"),
                &format!("analysis query failed: {e}"),
            );
            (
                None,
                Some(mlops_core::text::truncate(&e.to_string(), 160).into_owned()),
            )
        }
    }
}

/// The policy gates of a rollout started under a policy (its annotation `mlops.dev/policy`),
/// decided again on fresh facts — the registry's tags and metrics, the cluster's node regions —
/// when it is about to be promoted. What cannot be decided keeps it waiting, never promoted.
async fn gates(ctx: &Context, mr: &ModelRollout, record: &RolloutRecord) -> Gates {
    let Some(raw) = mr
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POLICY_ANNOTATION))
    else {
        return Gates::None;
    };
    if !rollout::gates_due(&record.status) {
        return Gates::Unchecked;
    }
    // `record` carries the policy when its annotation reads; else say why it does not.
    if record.policy.is_none() {
        let why = serde_json::from_str::<policy::Recorded>(raw)
            .err()
            .map_or_else(String::new, |e| e.to_string());
        return Gates::Unknown(format!(
            "its annotation {POLICY_ANNOTATION} cannot be read: {why}"
        ));
    }
    let Some(registry) = ctx.registry.as_ref() else {
        return Gates::Unknown(
            "the controller has no model registry to decide them with (MLFLOW_TRACKING_URI)".into(),
        );
    };
    let regions = match ctx.cluster.nodes().await {
        Ok(nodes) => nodes.into_iter().map(|n| n.region).collect(),
        Err(e) => return Gates::Unknown(format!("the cluster's node regions: {e}")),
    };
    mlops_core::policy_facts::gates(registry.as_ref(), record, regions).await
}

/// A drift metric: its queries give the canary's and the stable's feature-value histogram
/// buckets (`sum by (feature, le) (increase(model_feature_value_bucket{…,track="canary"}[5m]))`);
/// the value is the largest PSI of a feature's canary distribution against its stable one, the
/// feature named with it. No stable query, or no feature with traffic on both tracks: no value.
async fn measure_drift(ctx: &Context, m: &mlops_core::analysis::MetricCheck) -> Sample {
    let sample = |canary: Option<f64>, note: String| Sample {
        canary,
        error: Some(note),
        ..Sample::empty(m.name.clone())
    };
    let Some(store) = ctx.metrics.as_ref() else {
        return sample(None, "no metrics store configured".into());
    };
    let Some(stable_query) = m.stable_query.as_ref() else {
        return sample(
            None,
            "a drift metric needs the stable track's histogram query".into(),
        );
    };
    let buckets = |rows: Vec<(std::collections::BTreeMap<String, String>, f64)>| {
        rows.iter()
            .filter_map(|(labels, v)| drift::live::Bucket::from_series(labels, *v))
            .collect::<Vec<_>>()
    };
    let (canary, stable) =
        match futures::try_join!(store.vector(&m.canary_query), store.vector(stable_query)) {
            Ok((c, s)) => (buckets(c), buckets(s)),
            Err(e) => {
                crate::logging::warn_limited(
                    &format!("analysis {}", m.name),
                    &format!("drift query failed: {e}"),
                );
                return sample(
                    None,
                    mlops_core::text::truncate(&e.to_string(), 160).into_owned(),
                );
            }
        };
    match drift::live::canary_vs_stable(&canary, &stable) {
        Ok(Some((feature, psi))) => {
            sample(Some(psi), format!("PSI of {feature}, canary vs stable"))
        }
        Ok(None) => sample(
            None,
            "no feature with observations on both tracks yet".into(),
        ),
        Err(e) => sample(None, e.to_string()),
    }
}

pub(super) async fn reconcile(
    mr: Arc<ModelRollout>,
    pass: Arc<Pass>,
) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let key = format!("{}/{}", mr.namespace().unwrap_or_default(), mr.name_any());
    tracing::trace!(target: PASS_TARGET, rollout = %key, "pass started");
    let mut stages = Stages::default();
    let r = reconcile_once(&mr, &pass, &mut stages).await;
    pass.ctx
        .telemetry
        .pass_finished(started.elapsed(), r.as_ref().err());
    for (stage, took) in stages.ran() {
        pass.ctx.telemetry.stage_took(stage, took);
    }
    let requeue_ms = r
        .as_ref()
        .ok()
        .copied()
        .flatten()
        .map_or(0, |d| d.as_millis());
    tracing::debug!(
        target: PASS_TARGET,
        rollout = %key,
        elapsed_us = started.elapsed().as_micros(),
        requeue_ms,
        audit_us = us(stages.audit),
        measure_us = us(stages.measure),
        gates_us = us(stages.gates),
        effects_us = us(stages.effects),
        status_us = us(stages.status),
        "pass finished"
    );
    r.map(|after| after.map_or_else(Action::await_change, Action::requeue))
}

/// `mr` with its start and its last command in the audit log (`command_audit`), each marked in
/// its status; the pass writes the marks with its own status, in one write.
async fn audited(
    mr: &Arc<ModelRollout>,
    ctx: &super::Context,
) -> Result<Arc<ModelRollout>, mlops_core::CoreError> {
    use super::command_audit::{audit_command, audit_start};
    let mut current = Arc::clone(mr);
    if let Some(marked) = audit_start(&current, ctx).await? {
        current = marked;
    }
    if let Some(marked) = audit_command(&current, ctx).await? {
        current = marked;
    }
    Ok(current)
}

/// One pass; says when the next is due (`None`: only when the rollout changes).
async fn reconcile_once(
    mr: &Arc<ModelRollout>,
    pass: &Pass,
    stages: &mut Stages,
) -> Result<Option<Duration>, ReconcileError> {
    let ctx = &pass.ctx;
    // The status as stored: what this pass's status is written over.
    let stored = mr.record(&ctx.cluster.describe_context());
    // A rollout's start, and a person's command, are audited before anything else happens to it.
    let (audited, took) = timed(audited(mr, ctx)).await;
    stages.audit = took;
    let mr = &audited?;
    let ns = mr.namespace().unwrap_or_default();
    let record = mr.record(&ctx.cluster.describe_context());
    if record.status.phase.is_terminal() {
        if record.status == stored.status {
            offer_notifications(pass, mr, &record);
            return Ok(None);
        }
        let (written, took) = timed(write_marks(pass, mr, &stored, &record)).await;
        stages.status = took;
        return written;
    }
    let now = Utc::now();
    let samples = if rollout::analysis_due(&record.spec, &record.status, now) {
        let (samples, took) = timed(measure(ctx, &record.spec)).await;
        stages.measure = took;
        Some(samples)
    } else {
        None
    };
    let (gates, took) = timed(gates(ctx, mr, &record)).await;
    stages.gates = took;
    let obs = Observation {
        now,
        canary_ready: canary_ready(pass, &ns, &record.spec, record.status.weight),
        samples,
        generation: mr.metadata.generation.unwrap_or(0),
        gates,
    };
    let mut decision = rollout::reconcile(&record.spec, &record.status, &obs);
    // Deliveries made since the status was read are written with it.
    let delivered = pass
        .notify
        .as_ref()
        .map_or(0, |n| n.merge(&record, &mut decision.status));
    // Effects first: a crash before the status write repeats them, and they are idempotent.
    let infra = KubeInfra {
        cluster: ctx
            .cluster
            .clone()
            .with_serving_cache(pass.deployments.clone()),
        registry: ctx.registry.clone(),
        actor: ctx.id.clone(),
        object: mr.object_ref(&()),
        audit: pass.audit.clone(),
        events: pass.events.clone(),
        regions: crate::adapters::kube::effects::pinned_regions(mr),
    };
    let (carried, took) = timed(infra.carry_out(&record, &decision.effects, now)).await;
    stages.effects = took;
    if let Err(e) = carried {
        // The audit marks are not held back by effects that failed: the person who sent the
        // command is told it is audited, and the effects are tried again on the next pass.
        let _ = write_marks(pass, mr, &stored, &record).await;
        return Err(e.into());
    }
    if decision.status == stored.status {
        offer_notifications(pass, mr, &record);
    } else {
        let (written, took) = timed(write_status(
            pass,
            mr,
            &stored,
            &decision.status,
            now,
            delivered,
        ))
        .await;
        stages.status = took;
        if let Some(again) = written? {
            return Ok(Some(again));
        }
    }
    // When its next step falls due (or, on a clock, the next tick).
    Ok(ctx
        .schedule
        .after_pass(&record.spec, &record.status, &decision.status, Utc::now()))
}

/// Write `status` over `record`'s (read at `mr`'s resourceVersion). `Some(after)`: someone
/// wrote in between (an approval, a command), so the rollout is passed again on fresh data.
async fn write_status(
    pass: &Pass,
    mr: &ModelRollout,
    record: &RolloutRecord,
    status: &rollout::RolloutStatus,
    now: chrono::DateTime<Utc>,
    delivered: usize,
) -> Result<Option<Duration>, ReconcileError> {
    let ctx = &pass.ctx;
    let ns = mr.namespace().unwrap_or_default();
    let api: Api<ModelRollout> = Api::namespaced(ctx.cluster.client(), &ns);
    let mut updated = mr.clone();
    updated.status = Some(status.clone());
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api.replace_status(&mr.name_any(), &params, &updated).await {
        Ok(answer) => {
            if ctx.schedule.on_change() {
                pass.own.wrote(&answer);
            }
            ctx.telemetry.status_written(record, status, now);
            if let Some(n) = &pass.notify {
                n.written(record, delivered);
            }
            let mut written = record.clone();
            written.status = status.clone();
            offer_notifications(pass, mr, &written);
            Ok(None)
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some(super::defaults::AFTER_CONFLICT)),
        Err(source) => Err(ReconcileError::StatusWrite {
            rollout: format!("{ns}/{}", mr.name_any()),
            source,
        }),
    }
}

/// Write the audit marks `audited` carries over the `stored` status, alone (nothing when it
/// carries none).
async fn write_marks(
    pass: &Pass,
    mr: &ModelRollout,
    stored: &RolloutRecord,
    audited: &RolloutRecord,
) -> Result<Option<Duration>, ReconcileError> {
    if audited.status == stored.status {
        return Ok(None);
    }
    write_status(pass, mr, stored, &audited.status, Utc::now(), 0).await
}

/// The rollout's events that are owed a notification go to the sender (a channel send).
fn offer_notifications(pass: &Pass, mr: &ModelRollout, record: &RolloutRecord) {
    if let Some(n) = &pass.notify {
        n.offer(mr, record);
    }
}

#[allow(clippy::needless_pass_by_value)] // the signature kube-runtime calls
pub(super) fn error_policy(mr: Arc<ModelRollout>, e: &ReconcileError, _pass: Arc<Pass>) -> Action {
    // Retried soon: written once a minute per rollout unless the cause changes.
    let target = format!(
        "{}/{}",
        mr.metadata.namespace.as_deref().unwrap_or_default(),
        mr.metadata.name.as_deref().unwrap_or_default()
    );
    crate::logging::warn_limited(
        &format!("reconcile {target}"),
        &format!("reconcile of {target} failed: {e}"),
    );
    Action::requeue(super::defaults::AFTER_FAILURE)
}
