//! `mlops controller`: the reconcile loop over ModelRollouts on a real cluster. Watches (not
//! polling) through kube-runtime; a rollout is passed when something it depends on changes or its
//! next step falls due (`changes`); each pass (`reconcile`) observes the world from the watch
//! caches, asks the core's state machine what to do, carries out the effects through the core's
//! one interpreter and writes the status. Several replicas can run: only the holder of the Lease reconciles. A console with no
//! controller runs the same loop (`drive_embedded`).

mod changes;
mod command_audit;
mod defaults;
mod fair;
mod notify;
mod reconcile;
pub mod serve;
mod telemetry;
pub mod triggers;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use kube::{
    Api,
    runtime::{WatchStreamExt, reflector, watcher},
};
use mlops_core::{
    CoreError,
    audit::AuditRecord,
    ports::{QueryPort, RegistryPort},
};

use self::reconcile::{Pass, error_policy, reconcile};
pub use self::{
    changes::{SAFETY_RESYNC, Schedule},
    reconcile::{PASS_TARGET, ReconcileError},
    telemetry::Telemetry,
};
use crate::adapters::kube::{
    KubeCluster, LeaseLock, ModelRollout, PendingEvent, lease::Acquired,
    limits::WATCH_TIMEOUT_SECONDS,
};

/// What the controller works with: the cluster, and the stores its effects and analysis need.
pub struct Context {
    pub cluster: KubeCluster,
    /// Where analysis queries go (Prometheus).
    pub metrics: Option<Arc<dyn QueryPort>>,
    /// Where aliases move and versions are tagged (MLflow).
    pub registry: Option<Arc<dyn RegistryPort>>,
    /// This replica's identity in the Lease.
    pub id: String,
    /// Reconcile passes run at once, at most.
    pub concurrency: u16,
    /// What passes and the loop record for `/metrics` and the probes (served by
    /// `mlops controller`; a console keeps it unserved).
    pub telemetry: Arc<Telemetry>,
    /// When rollouts are passed: on change and when due (the default), or on a clock.
    pub schedule: Schedule,
}

use self::defaults::{CANARIES_READY_WITHIN, PASSES_GRACE, STOP_BUDGET};
pub use self::defaults::{DEFAULT_CONCURRENCY, SHUTDOWN_BUDGET};

/// Why leading ended.
enum Ended {
    /// Told to stop; the lease was released.
    Stopped,
    /// Someone else holds the lease now.
    Lost(CoreError),
    /// The lease could not be renewed for as long as it lasts (the API server unreachable):
    /// we stopped acting, as another replica may take it over.
    Unrenewable(CoreError),
}

/// Reconcile every ModelRollout while we hold the lease. Returns `Ok` when `stop` fires (the
/// lease is released within [`SHUTDOWN_BUDGET`]) and an error when the lease is lost to someone
/// else or cannot be renewed for as long as it lasts.
pub async fn lead(
    ctx: Arc<Context>,
    lease: LeaseLock,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), CoreError> {
    match lead_until(ctx, lease, stop, Notifications::Send).await {
        Ended::Stopped => Ok(()),
        Ended::Lost(e) | Ended::Unrenewable(e) => Err(e),
    }
}

/// Give the lease up, but never for longer than `within`.
async fn release_within(lease: &LeaseLock, within: Duration) {
    if tokio::time::timeout(within, lease.release()).await.is_err() {
        tracing::warn!(
            holder = lease.holder(),
            "could not release the lease within {} ms; it expires on its own",
            within.as_millis()
        );
    }
}

/// The one task that writes the passes' audit entries, in order, so no pass waits on the log;
/// it ends when every sender is gone, after writing what is queued.
fn write_audit(
    ctx: &Context,
) -> (
    tokio::sync::mpsc::UnboundedSender<AuditRecord>,
    tokio::task::JoinHandle<()>,
) {
    let (audit, mut to_audit) = tokio::sync::mpsc::unbounded_channel::<AuditRecord>();
    let log = ctx.cluster.audit_log().clone();
    let telemetry = ctx.telemetry.clone();
    let writer = tokio::spawn(async move {
        while let Some(record) = to_audit.recv().await {
            // The entry being written counts until it is written.
            telemetry.audit_queued(to_audit.len() + 1);
            if let Err(e) = log.append(record).await {
                crate::logging::warn_limited(
                    "controller.audit",
                    &format!("could not write an audit entry: {e}"),
                );
            }
            telemetry.audit_queued(to_audit.len());
        }
    });
    (audit, writer)
}

/// The task that records the passes' Events in the order they happened (each rollout's
/// Events read in order), so no pass waits on them; it ends when every sender is gone, after
/// recording what is queued.
fn write_events(
    ctx: &Context,
) -> (
    futures::channel::mpsc::UnboundedSender<PendingEvent>,
    tokio::task::JoinHandle<()>,
) {
    let (events, to_record) = futures::channel::mpsc::unbounded::<PendingEvent>();
    let cluster = ctx.cluster.clone();
    let writer = tokio::spawn(to_record.for_each(move |e| {
        let cluster = cluster.clone();
        async move { cluster.record_event(e).await }
    }));
    (events, writer)
}

/// Renew the lease every `renew_every` while we lead; ends when it is lost to someone else or
/// could not be renewed for as long as it lasts.
async fn renew(ctx: &Context, lease: &LeaseLock) -> Ended {
    let id = &ctx.id;
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(lease.params().renew_every).await;
        let attempt = lease.try_acquire_or_renew(false).await;
        lease_seen(ctx, &attempt);
        match attempt {
            Ok(Acquired::Yes { .. }) => renewed = tokio::time::Instant::now(),
            Ok(Acquired::No { .. }) => {
                return Ended::Lost(CoreError::backend(
                    "controller",
                    format!("{id} lost the lease"),
                ));
            }
            Err(e) if renewed.elapsed() >= lease.params().duration => {
                return Ended::Unrenewable(CoreError::backend(
                    "controller",
                    format!(
                        "{id} could not renew the lease for {} s, so another replica may hold it now: stopped acting ({e})",
                        renewed.elapsed().as_secs()
                    ),
                ));
            }
            Err(e) => crate::logging::warn_limited(
                "controller.renew",
                &format!("renewing the lease: {e}"),
            ),
        }
    }
}

/// Who sends notifications: only `mlops controller` (a console on someone's laptop that drives
/// the rollouts while no controller runs must not page anyone).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notifications {
    Send,
    Off,
}

async fn lead_until(
    ctx: Arc<Context>,
    lease: LeaseLock,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    notifications: Notifications,
) -> Ended {
    tokio::pin!(stop);
    let (deployments, deployment_watch, deployment_changes) =
        changes::watch_deployments(&ctx, ctx.schedule);
    // Not ready in time (no right to list Deployments everywhere, an API server in trouble):
    // give the lease up rather than hold it without acting.
    let ready = tokio::select! {
        r = tokio::time::timeout(CANARIES_READY_WITHIN, deployments.wait_until_ready()) => matches!(r, Ok(Ok(()))),
        () = &mut stop => {
            deployment_watch.abort();
            release_within(&lease, STOP_BUDGET).await;
            return Ended::Stopped;
        }
    };
    if !ready {
        deployment_watch.abort();
        release_within(&lease, STOP_BUDGET).await;
        return Ended::Unrenewable(CoreError::backend(
            "controller",
            format!(
                "could not list the serving Deployments (label mlops.dev/model) in every namespace within {} s",
                CANARIES_READY_WITHIN.as_secs()
            ),
        ));
    }
    let (rollouts, writer) = reflector::store::<ModelRollout>();
    let own = Arc::new(changes::OwnWrites::default());
    let triggers = changes::rollout_changes(&ctx, writer, own.clone());
    let more = changes::deployment_triggers(deployment_changes, rollouts.clone());
    let (audit, audit_writer) = write_audit(&ctx);
    let (events, event_writer) = write_events(&ctx);
    let (notify, notifier) = match notifications {
        Notifications::Send => {
            let (tx, task) = notify::start(&ctx);
            (Some(tx), Some(task))
        }
        Notifications::Off => (None, None),
    };
    let pass = Arc::new(Pass {
        ctx: ctx.clone(),
        deployments,
        own,
        audit,
        events,
        notify,
    });
    let (shutdown, shutting_down) = tokio::sync::oneshot::channel::<()>();
    let controller = fair::run(
        (triggers, more),
        rollouts,
        ctx.concurrency,
        async move {
            let _ = shutting_down.await;
        },
        reconcile,
        error_policy,
        pass,
    )
    .for_each(|r| async move {
        if let Err(e) = r {
            tracing::debug!(error = %e, "controller");
        }
    });
    let controller = async move {
        controller.await;
        deployment_watch.abort();
        // Deliveries not made are not in the ledger: the next leader makes them.
        if let Some(n) = notifier {
            n.abort();
        }
        // The passes (and their senders) are gone: let the writers finish what is queued.
        let _ = futures::join!(audit_writer, event_writer);
    };
    tokio::pin!(controller);
    let renew = renew(&ctx, &lease);
    tokio::select! {
        () = &mut controller => {
            release_within(&lease, STOP_BUDGET).await;
            Ended::Stopped
        }
        ended = renew => ended,
        () = &mut stop => {
            // Passes in flight may finish and the audit writer empty its queue, briefly; then
            // the lease goes back, so the next replica need not wait for it to expire.
            let started = tokio::time::Instant::now();
            let _ = shutdown.send(());
            if tokio::time::timeout(PASSES_GRACE, &mut controller).await.is_err() {
                tracing::warn!("passes still running {} ms after the stop: cut short", PASSES_GRACE.as_millis());
            }
            release_within(&lease, STOP_BUDGET.saturating_sub(started.elapsed())).await;
            Ended::Stopped
        }
    }
}

/// What a lease attempt says about who holds the lease, for `/metrics` and `/readyz`; any
/// answer, or none, shows the loop going round.
fn lease_seen(ctx: &Context, attempt: &Result<Acquired, CoreError>) {
    match attempt {
        Ok(Acquired::Yes { .. }) => ctx.telemetry.lease_seen(Some(ctx.id.clone())),
        Ok(Acquired::No { holder: Some(h) }) => ctx.telemetry.lease_seen(Some(h.clone())),
        Ok(Acquired::No { holder: None }) | Err(_) => ctx.telemetry.alive(),
    }
}

/// Every replica watches the ModelRollouts for `/metrics` (their phase, the canary's weight)
/// and `/readyz` (ready once the first list is in): the leader's passes keep a watch of their
/// own, started and stopped with leading.
fn watch_rollouts_for_metrics(ctx: &Context) -> tokio::task::JoinHandle<()> {
    let (rollouts, writer) = reflector::store::<ModelRollout>();
    ctx.telemetry.watch_rollouts(rollouts.clone());
    let watch = watcher(
        ctx.cluster.watched::<ModelRollout>(),
        watcher::Config::default().timeout(WATCH_TIMEOUT_SECONDS),
    )
    .default_backoff()
    .reflect(writer)
    .for_each(|_| futures::future::ready(()));
    let telemetry = ctx.telemetry.clone();
    tokio::spawn(async move {
        let synced = async move {
            if rollouts.wait_until_ready().await.is_ok() {
                telemetry.rollouts_synced();
            }
        };
        futures::join!(watch, synced);
    })
}

/// Until `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// SIGTERM or SIGINT.
pub async fn shutdown_signal() {
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
/// (which releases the lease for the next replica within [`SHUTDOWN_BUDGET`], even with calls
/// pending). Losing the lease to another replica ends the process; its replacement starts as a
/// follower. A lease that cannot be renewed (the API server unreachable for as long as the lease
/// lasts) makes it stop acting and wait, as a follower, to take the lease again. An API server
/// that cannot be reached while waiting is retried.
pub async fn run(ctx: Context) -> Result<(), CoreError> {
    let ctx = Arc::new(ctx);
    let lease = ctx.cluster.lease(&ctx.id);
    tracing::info!(id = %ctx.id, "controller starting; waiting for the lease");
    let (tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let metrics_watch = watch_rollouts_for_metrics(&ctx);
    let result = follow_and_lead(&ctx, &lease, stop).await;
    metrics_watch.abort();
    result
}

/// Follow until the lease is ours, lead until stopped or it cannot be renewed, and again.
async fn follow_and_lead(
    ctx: &Arc<Context>,
    lease: &LeaseLock,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), CoreError> {
    let renew_every = lease.params().renew_every;
    let mut announced = false;
    loop {
        // Follow until the lease is ours.
        loop {
            let attempt = tokio::select! {
                r = lease.try_acquire_or_renew(true) => r,
                () = stopped(&mut stop) => {
                    // The attempt may have won just before it was cut: give it back.
                    release_within(lease, STOP_BUDGET).await;
                    return Ok(());
                }
            };
            lease_seen(ctx, &attempt);
            match attempt {
                Ok(Acquired::Yes { from_console }) => {
                    if from_console {
                        // The console that drove the rollouts stops at its next renewal.
                        tracing::info!("took the lease from a console; letting it notice");
                        tokio::select! {
                            () = tokio::time::sleep(renew_every + Duration::from_secs(1)) => {}
                            () = stopped(&mut stop) => {
                                release_within(lease, STOP_BUDGET).await;
                                return Ok(());
                            }
                        }
                    }
                    break;
                }
                Ok(Acquired::No { .. }) => {}
                Err(e) => crate::logging::warn_limited("controller.lease", &e.to_string()),
            }
            tokio::select! {
                () = tokio::time::sleep(renew_every) => {}
                () = stopped(&mut stop) => return Ok(()),
            }
        }
        tracing::info!(id = %ctx.id, "leading");
        if !announced {
            println!(
                "{} leads ({}/{})",
                ctx.id,
                lease.params().namespace,
                lease.params().name
            );
            announced = true;
        }
        let mut until = stop.clone();
        let stopped = async move {
            let _ = until.wait_for(|s| *s).await;
        };
        match lead_until(ctx.clone(), lease.clone(), stopped, Notifications::Send).await {
            Ended::Stopped => return Ok(()),
            Ended::Lost(e) => return Err(e),
            Ended::Unrenewable(e) => tracing::warn!(error = %e, "stepping down"),
        }
    }
}

/// A console driving rollouts itself while no controller holds the lease: take the lease when it
/// is free, reconcile with the same code as `mlops controller`, step aside when a controller takes
/// it, and try again later. Ends (releasing the lease) when `stop` turns true.
pub async fn drive_embedded(ctx: Context, mut stop: tokio::sync::watch::Receiver<bool>) {
    // The lease covers every namespace: a user who cannot read ModelRollouts in all of them must
    // not take it (and block a console or controller that can).
    let all: Api<ModelRollout> = Api::all(ctx.cluster.client());
    let one = kube::api::ListParams::default().limit(1);
    let listed = tokio::select! {
        r = all.list(&one) => r,
        () = stopped(&mut stop) => return,
    };
    if let Err(e) = listed {
        tracing::info!(error = %e, "cannot list ModelRollouts in every namespace: this console will not drive rollouts");
        return;
    }
    let ctx = Arc::new(ctx);
    let lease = ctx.cluster.lease(&ctx.id);
    loop {
        if *stop.borrow() {
            return;
        }
        let attempt = tokio::select! {
            r = lease.try_acquire_or_renew(false) => r,
            () = stopped(&mut stop) => {
                release_within(&lease, STOP_BUDGET).await;
                return;
            }
        };
        match attempt {
            Ok(Acquired::Yes { .. }) => {
                tracing::info!(id = %ctx.id, "no controller holds the lease: this console drives the rollouts");
                let mut until = stop.clone();
                let stopped = async move {
                    let _ = until.wait_for(|s| *s).await;
                };
                match lead_until(ctx.clone(), lease.clone(), stopped, Notifications::Off).await {
                    Ended::Stopped => return,
                    Ended::Lost(e) => {
                        tracing::info!(error = %e, "a controller took over the rollouts");
                    }
                    Ended::Unrenewable(e) => tracing::warn!(error = %e, "stepping down"),
                }
            }
            Ok(Acquired::No { .. }) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the lease"),
        }
        tokio::select! {
            () = tokio::time::sleep(lease.params().renew_every) => {}
            () = stopped(&mut stop) => return,
        }
    }
}
