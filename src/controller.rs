//! `mlops controller`: the reconcile loop over ModelRollouts on a real cluster. Watches (not
//! polling) through kube-runtime; each pass observes the world (canary readiness, analysis samples
//! from Prometheus), asks the core's state machine what to do, carries out the effects
//! (replica-ratio traffic, registry aliases, Kubernetes Events) and writes the status with the
//! resourceVersion it read. Several replicas can run: only the holder of the Lease reconciles.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use k8s_openapi::{
    api::{coordination::v1::Lease, core::v1::Event as K8sEvent},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time},
};
use kube::{
    Api, Resource, ResourceExt,
    api::PostParams,
    runtime::{
        Controller, PredicateConfig, WatchStreamExt,
        controller::Action,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use mlops_core::{
    CoreError,
    analysis::Sample,
    audit::AuditRecord,
    model::Track,
    ports::RegistryPort,
    rollout::{self, Effect, Observation, RolloutSpec},
};

use crate::{
    adapters::{kube::KubeCluster, mlflow::MlflowRegistry, prometheus::PrometheusMetrics},
    crd::{FIELD_MANAGER, ModelRollout},
};

pub const LEASE_NAME: &str = "mlops-controller";
pub const LEASE_NAMESPACE: &str = "mlops-system";
const LEASE_SECONDS: i32 = 15;
const RENEW_EVERY: Duration = Duration::from_secs(5);

pub struct Context {
    pub cluster: KubeCluster,
    pub metrics: Option<PrometheusMetrics>,
    pub registry: Option<MlflowRegistry>,
    pub id: String,
    /// Reconcile passes run at once, at most.
    pub concurrency: u16,
    /// When set, how long each reconcile pass took and how late it started (the scale benchmark
    /// reads them).
    pub timings: Option<Arc<Timings>>,
}

/// Per-pass timings, for the scale benchmark.
#[derive(Default)]
pub struct Timings {
    /// How long each pass took: observe, decide, carry out, write the status.
    pub passes: std::sync::Mutex<Vec<Duration>>,
    /// How long after it was due each requeued pass started (waiting for a free slot).
    pub late: std::sync::Mutex<Vec<Duration>>,
    due: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Timings {
    fn started(&self, key: &str, at: std::time::Instant) {
        let due = self.due.lock().ok().and_then(|mut d| d.remove(key));
        if let (Some(due), Ok(mut late)) = (due, self.late.lock()) {
            late.push(at.saturating_duration_since(due));
        }
    }

    fn finished(&self, key: &str, started: std::time::Instant, requeue: Option<Duration>) {
        let now = std::time::Instant::now();
        if let Ok(mut p) = self.passes.lock() {
            p.push(now - started);
        }
        if let (Some(after), Ok(mut due)) = (requeue, self.due.lock()) {
            due.insert(key.to_string(), now + after);
        }
    }
}

/// Reconcile passes at once unless `--concurrency` says otherwise: enough to keep hundreds of
/// rollouts on time, few enough not to queue up in the API server.
pub const DEFAULT_CONCURRENCY: u16 = 16;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(String);

impl From<CoreError> for ReconcileError {
    fn from(e: CoreError) -> Self {
        Self(e.to_string())
    }
}

/// The canary pods for `weight` are all ready, according to the watched canary Deployments (no
/// API call: this runs on every pass of every rollout).
fn canary_ready(pass: &Pass, namespace: &str, spec: &RolloutSpec, weight: u8) -> bool {
    let (_, want) = rollout::replica_split(spec.replicas, weight);
    let canary = format!("{}-canary", spec.deployment);
    let d = pass
        .canaries
        .get(&ObjectRef::new(&canary).within(namespace))
        .and_then(|d| {
            crate::adapters::kube::map_deployment(&d, &pass.ctx.cluster.describe_context())
        })
        .filter(|d| d.track == Track::Canary);
    match d {
        Some(d) => d.replicas == want && d.ready_replicas == want,
        None => want == 0,
    }
}

/// One analysis round: each metric's canary and stable query. A store that is down or returns
/// nothing gives no value, which the core judges inconclusive — never a pass; the store's error
/// goes into the measurement's reason.
async fn measure(ctx: &Context, spec: &RolloutSpec) -> Vec<Sample> {
    let mut out = Vec::new();
    for m in &spec.analysis.metrics {
        let value = |q: Option<String>| async move {
            let Some(q) = q else {
                return (None, None);
            };
            let Some(prom) = ctx.metrics.as_ref() else {
                return (None, Some("no metrics store configured".to_string()));
            };
            match prom.query(&q, None).await {
                Ok(series) => (
                    series
                        .first()
                        .and_then(crate::adapters::prometheus::Series::last)
                        .map(|p| p.value)
                        .filter(|v| v.is_finite()),
                    None,
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "analysis query failed");
                    let mut e = e.to_string();
                    if e.len() > 160 {
                        let cut = (0..=160)
                            .rev()
                            .find(|i| e.is_char_boundary(*i))
                            .unwrap_or(0);
                        e.truncate(cut);
                        e.push('…');
                    }
                    (None, Some(e))
                }
            }
        };
        let (canary, canary_error) = value(Some(m.canary_query.clone())).await;
        let (stable, stable_error) = value(m.stable_query.clone()).await;
        out.push(Sample {
            metric: m.name.clone(),
            canary,
            stable,
            error: canary_error.or(stable_error),
        });
    }
    out
}

async fn event(pass: &Pass, mr: &ModelRollout, reason: &str, message: &str, warning: bool) {
    let ctx = &pass.ctx;
    let ns = mr.namespace().unwrap_or_default();
    let _ = pass.audit.send(AuditRecord {
        time: Utc::now(),
        actor: ctx.id.clone(),
        action: reason.to_string(),
        target: format!("{ns}/{}", mr.name_any()),
        comment: String::new(),
        details: message.to_string(),
    });
    let api: Api<K8sEvent> = Api::namespaced(ctx.cluster.client(), &ns);
    let now = Utc::now();
    let ev = K8sEvent {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.", mr.name_any())),
            namespace: Some(ns.clone()),
            ..ObjectMeta::default()
        },
        involved_object: mr.object_ref(&()),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some(if warning { "Warning" } else { "Normal" }.into()),
        first_timestamp: Some(Time(jiff_now(now))),
        last_timestamp: Some(Time(jiff_now(now))),
        event_time: Some(MicroTime(jiff_now(now))),
        reporting_component: Some(FIELD_MANAGER.into()),
        reporting_instance: Some(ctx.id.clone()),
        action: Some(reason.to_string()),
        count: Some(1),
        ..K8sEvent::default()
    };
    if let Err(e) = api.create(&PostParams::default(), &ev).await {
        tracing::warn!(error = %e, "could not record an Event");
    }
}

fn jiff_now(now: chrono::DateTime<Utc>) -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::from_second(now.timestamp())
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

async fn carry_out(
    pass: &Pass,
    mr: &ModelRollout,
    spec: &RolloutSpec,
    effects: &[Effect],
) -> Result<(), CoreError> {
    let ctx = &pass.ctx;
    let ns = mr.namespace().unwrap_or_default();
    for e in effects {
        match e {
            Effect::SetWeight { weight } => {
                ctx.cluster.set_weight(&ns, spec, *weight).await?;
                if let Some(route) = &spec.http_route {
                    ctx.cluster
                        .set_route_weights(&ns, spec, route, *weight)
                        .await?;
                }
            }
            Effect::AbortCanary => {
                if let Some(route) = &spec.http_route {
                    ctx.cluster.set_route_weights(&ns, spec, route, 0).await?;
                }
                ctx.cluster.abort_canary(&ns, spec).await?;
            }
            Effect::PromoteStable { .. } => {
                ctx.cluster.promote_stable(&ns, spec).await?;
                if let Some(route) = &spec.http_route {
                    ctx.cluster.set_route_weights(&ns, spec, route, 0).await?;
                }
            }
            Effect::RestoreStable { version } => {
                // The image of the version to go back to comes from the registry's `image` tag.
                let registry = ctx.registry.as_ref().ok_or_else(|| {
                    CoreError::backend("controller", format!("undoing the promotion needs the registry (MLFLOW_TRACKING_URI) for the image of v{version}"))
                })?;
                let models = registry.models().await?;
                let image = models
                    .iter()
                    .find(|m| m.name == spec.model.name)
                    .and_then(|m| m.version(*version))
                    .and_then(|v| v.image().map(str::to_string))
                    .ok_or_else(|| {
                        CoreError::backend(
                            "controller",
                            format!(
                                "{} v{version} has no `image` tag in the registry",
                                spec.model.name
                            ),
                        )
                    })?;
                let back = RolloutSpec {
                    model: rollout::ModelRef {
                        name: spec.model.name.clone(),
                        version: *version,
                    },
                    image,
                    ..spec.clone()
                };
                ctx.cluster.promote_stable(&ns, &back).await?;
            }
            Effect::MoveAlias {
                model,
                alias,
                version,
            } => match &ctx.registry {
                Some(r) => r.set_alias(model, alias, *version).await?,
                None => {
                    tracing::warn!(%model, %alias, version, "no registry configured: alias not moved");
                }
            },
            Effect::TagVersion {
                model,
                version,
                key,
                value,
            } => {
                if let Some(r) = &ctx.registry {
                    r.set_version_tag(model, *version, key, value).await?;
                    r.set_version_tag(model, *version, "promoted_by", &ctx.id)
                        .await?;
                }
            }
            Effect::Event {
                reason,
                message,
                warning,
            } => event(pass, mr, reason, message, *warning).await,
        }
    }
    Ok(())
}

/// What a reconcile pass reads besides the rollout: the context and the watched canary
/// Deployments.
struct Pass {
    ctx: Arc<Context>,
    canaries: Store<K8sDeployment>,
    /// Transitions for the audit log, written in order by one task so passes never wait on it.
    audit: tokio::sync::mpsc::UnboundedSender<AuditRecord>,
}

async fn reconcile(mr: Arc<ModelRollout>, pass: Arc<Pass>) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let key = format!("{}/{}", mr.namespace().unwrap_or_default(), mr.name_any());
    if let Some(t) = &pass.ctx.timings {
        t.started(&key, started);
    }
    let r = reconcile_once(&mr, &pass).await;
    if let Some(t) = &pass.ctx.timings {
        t.finished(&key, started, r.as_ref().ok().copied().flatten());
    }
    r.map(|after| after.map_or_else(Action::await_change, Action::requeue))
}

/// One pass; says when the next is due (`None`: only when the rollout changes).
async fn reconcile_once(
    mr: &Arc<ModelRollout>,
    pass: &Pass,
) -> Result<Option<Duration>, ReconcileError> {
    let ctx = &pass.ctx;
    let ns = mr.namespace().unwrap_or_default();
    let record = mr.record(&ctx.cluster.describe_context());
    if record.status.phase.is_terminal() {
        return Ok(None);
    }
    let now = Utc::now();
    let samples = if rollout::analysis_due(&record.spec, &record.status, now) {
        Some(measure(ctx, &record.spec).await)
    } else {
        None
    };
    let obs = Observation {
        now,
        canary_ready: canary_ready(pass, &ns, &record.spec, record.status.weight),
        samples,
        generation: mr.metadata.generation.unwrap_or(0),
    };
    let decision = rollout::reconcile(&record.spec, &record.status, &obs);
    // Effects first: a crash before the status write repeats them, and they are idempotent.
    carry_out(pass, mr, &record.spec, &decision.effects).await?;
    if decision.status != record.status {
        let api: Api<ModelRollout> = Api::namespaced(ctx.cluster.client(), &ns);
        let mut updated = ModelRollout::clone(mr);
        updated.status = Some(decision.status.clone());
        match api
            .replace_status(
                &mr.name_any(),
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &updated,
            )
            .await
        {
            Ok(_) => {}
            // Someone wrote in between (an approval, a command): reconcile again on fresh data.
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Ok(Some(Duration::from_millis(200)));
            }
            Err(e) => {
                return Err(ReconcileError(format!(
                    "writing the status of {ns}/{}: {e}",
                    mr.name_any()
                )));
            }
        }
    }
    if decision.status.phase.is_terminal() {
        Ok(None)
    } else {
        Ok(Some(Duration::from_secs(
            record.spec.analysis.interval_seconds.clamp(1, 5),
        )))
    }
}

fn error_policy(_mr: Arc<ModelRollout>, e: &ReconcileError, _pass: Arc<Pass>) -> Action {
    tracing::warn!(error = %e, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// Lease holders that are a console driving rollouts itself (not `mlops controller`) carry this
/// prefix. A headless controller takes the lease from such a holder rather than waiting.
pub const CONSOLE_PREFIX: &str = "console:";

/// Try to hold the Lease: take it when free or expired, renew it when ours. A headless controller
/// (`preempt_console`) also takes it from a console driving rollouts itself. True when we hold it.
pub async fn try_lead(
    cluster: &KubeCluster,
    id: &str,
    preempt_console: bool,
) -> Result<bool, CoreError> {
    Ok(acquire(cluster, id, preempt_console).await?.is_some())
}

/// Like `try_lead`; on success says whether a console was holding the lease (it needs a moment
/// to notice before we act).
async fn acquire(
    cluster: &KubeCluster,
    id: &str,
    preempt_console: bool,
) -> Result<Option<bool>, CoreError> {
    let api: Api<Lease> = Api::namespaced(cluster.client(), LEASE_NAMESPACE);
    let now = Utc::now();
    let micro = MicroTime(jiff_now(now));
    match api.get_opt(LEASE_NAME).await.map_err(|e| {
        CoreError::backend(
            "kubernetes",
            format!("reading Lease {LEASE_NAMESPACE}/{LEASE_NAME}: {e}"),
        )
    })? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAME.into()),
                    namespace: Some(LEASE_NAMESPACE.into()),
                    ..ObjectMeta::default()
                },
                spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                    holder_identity: Some(id.into()),
                    lease_duration_seconds: Some(LEASE_SECONDS),
                    acquire_time: Some(micro.clone()),
                    renew_time: Some(micro),
                    ..Default::default()
                }),
            };
            Ok(api
                .create(&PostParams::default(), &lease)
                .await
                .is_ok()
                .then_some(false))
        }
        Some(mut lease) => {
            let spec = lease.spec.clone().unwrap_or_default();
            let holder = spec.holder_identity.clone().unwrap_or_default();
            let renewed = spec.renew_time.as_ref().map_or(0, |t| t.0.as_second());
            let expired = holder.is_empty()
                || now.timestamp() - renewed
                    > i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
            let from_console =
                holder != id && !expired && preempt_console && holder.starts_with(CONSOLE_PREFIX);
            if holder != id && !expired && !from_console {
                return Ok(None);
            }
            let mut new = spec;
            if holder != id {
                new.acquire_time = Some(micro.clone());
                new.lease_transitions = Some(new.lease_transitions.unwrap_or(0) + 1);
            }
            new.holder_identity = Some(id.into());
            new.lease_duration_seconds = Some(LEASE_SECONDS);
            new.renew_time = Some(micro);
            lease.spec = Some(new);
            // The resourceVersion we read makes this a compare-and-swap: two candidates cannot both win.
            Ok(api
                .replace(LEASE_NAME, &PostParams::default(), &lease)
                .await
                .is_ok()
                .then_some(from_console))
        }
    }
}

/// Give the Lease up if we hold it, so the next candidate need not wait for it to expire.
pub async fn release(cluster: &KubeCluster, id: &str) {
    let api: Api<Lease> = Api::namespaced(cluster.client(), LEASE_NAMESPACE);
    let Ok(Some(mut lease)) = api.get_opt(LEASE_NAME).await else {
        return;
    };
    let mut spec = lease.spec.clone().unwrap_or_default();
    if spec.holder_identity.as_deref() != Some(id) {
        return;
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    lease.spec = Some(spec);
    match api
        .replace(LEASE_NAME, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => tracing::info!(%id, "released the lease"),
        Err(e) => tracing::warn!(error = %e, "releasing the lease"),
    }
}

/// Reconcile every ModelRollout while we hold the lease. Returns `Ok` when `stop` fires (the
/// lease is released) and an error when the lease is lost to someone else.
pub async fn lead(
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), CoreError> {
    // Canary Deployments, watched: passes read readiness from this cache, not the API server.
    let (canaries, writer) = reflector::store::<K8sDeployment>();
    let canary_watch = watcher(
        Api::<K8sDeployment>::all(ctx.cluster.client()),
        watcher::Config::default().labels("mlops.dev/track=canary"),
    )
    .default_backoff()
    .reflect(writer)
    .for_each(|_| futures::future::ready(()));
    let canary_watch = tokio::spawn(canary_watch);
    // Not ready in time (no right to list Deployments everywhere, an API server in trouble):
    // give the lease up rather than hold it without acting.
    if !matches!(
        tokio::time::timeout(Duration::from_secs(30), canaries.wait_until_ready()).await,
        Ok(Ok(()))
    ) {
        canary_watch.abort();
        release(&ctx.cluster, &ctx.id).await;
        return Err(CoreError::backend(
            "controller",
            "could not list the canary Deployments (label mlops.dev/track=canary) in every namespace within 30 s",
        ));
    }
    // Our own status writes (a measurement, mostly) need no new pass: the requeue brings the next
    // one. A new spec or what a command changes (phase, step, approvals, pause, undo) does.
    let (rollouts, writer) = reflector::store::<ModelRollout>();
    let triggers = watcher(
        Api::<ModelRollout>::all(ctx.cluster.client()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(needs_a_pass, PredicateConfig::default());
    let (audit, mut to_audit) = tokio::sync::mpsc::unbounded_channel::<AuditRecord>();
    let log = ctx.cluster.audit_log().clone();
    let audit_writer = tokio::spawn(async move {
        while let Some(record) = to_audit.recv().await {
            if let Err(e) = log.append(record).await {
                tracing::warn!(error = %e, "could not write an audit entry");
            }
        }
    });
    let pass = Arc::new(Pass {
        ctx: ctx.clone(),
        canaries,
        audit,
    });
    let controller = Controller::for_stream(triggers, rollouts)
        .with_config(kube::runtime::controller::Config::default().concurrency(ctx.concurrency))
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, pass)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller");
            }
        });
    let controller = async move {
        controller.await;
        canary_watch.abort();
        // The passes (and their senders) are gone: let the writer finish what is queued.
        let _ = tokio::time::timeout(Duration::from_secs(5), audit_writer).await;
    };
    let renew = {
        let ctx = ctx.clone();
        async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                match try_lead(&ctx.cluster, &ctx.id, false).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return CoreError::backend(
                            "controller",
                            format!("{} lost the lease", ctx.id),
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "renewing the lease"),
                }
            }
        }
    };
    tokio::select! {
        () = controller => {
            release(&ctx.cluster, &ctx.id).await;
            Ok(())
        }
        e = renew => Err(e),
    }
}

/// The part of a rollout whose change calls for a reconcile pass now (a predicate: `Some` hash).
#[allow(clippy::unnecessary_wraps)]
fn needs_a_pass(mr: &ModelRollout) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    mr.metadata.generation.hash(&mut h);
    if let Some(s) = &mr.status {
        (
            s.phase.as_str(),
            s.current_step,
            s.approvals.len(),
            s.user_paused,
            s.undo_promotion,
        )
            .hash(&mut h);
    }
    Some(h.finish())
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `mlops controller`: wait for the Lease, then reconcile while renewing it, until SIGTERM/SIGINT
/// (which releases the lease for the next replica). Losing the lease ends the process; its
/// replacement starts as a follower.
pub async fn run(ctx: Context) -> Result<(), CoreError> {
    let ctx = Arc::new(ctx);
    tracing::info!(id = %ctx.id, "controller starting; waiting for the lease");
    let (tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    loop {
        match acquire(&ctx.cluster, &ctx.id, true).await? {
            Some(from_console) => {
                if from_console {
                    // The console that drove the rollouts stops at its next renewal.
                    tracing::info!("took the lease from a console; letting it notice");
                    tokio::time::sleep(RENEW_EVERY + Duration::from_secs(1)).await;
                }
                break;
            }
            None => {
                tokio::select! {
                    () = tokio::time::sleep(RENEW_EVERY) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
    }
    tracing::info!(id = %ctx.id, "leading");
    println!("{} leads ({LEASE_NAMESPACE}/{LEASE_NAME})", ctx.id);
    lead(ctx, async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await
}

/// A console driving rollouts itself while no controller holds the lease: take the lease when it
/// is free, reconcile with the same code as `mlops controller`, step aside when a controller takes
/// it, and try again later. Ends (releasing the lease) when `stop` turns true.
pub async fn drive_embedded(ctx: Context, mut stop: tokio::sync::watch::Receiver<bool>) {
    // The lease covers every namespace: a user who cannot read ModelRollouts in all of them must
    // not take it (and block a console or controller that can).
    let all: Api<ModelRollout> = Api::all(ctx.cluster.client());
    if let Err(e) = all.list(&kube::api::ListParams::default().limit(1)).await {
        tracing::info!(error = %e, "cannot list ModelRollouts in every namespace: this console will not drive rollouts");
        return;
    }
    let ctx = Arc::new(ctx);
    loop {
        if *stop.borrow() {
            return;
        }
        match try_lead(&ctx.cluster, &ctx.id, false).await {
            Ok(true) => {
                tracing::info!(id = %ctx.id, "no controller holds the lease: this console drives the rollouts");
                let mut until = stop.clone();
                let stopped = async move {
                    let _ = until.wait_for(|s| *s).await;
                };
                match lead(ctx.clone(), stopped).await {
                    Ok(()) => return,
                    Err(e) => tracing::info!(error = %e, "a controller took over the rollouts"),
                }
            }
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the lease"),
        }
        tokio::select! {
            () = tokio::time::sleep(RENEW_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
