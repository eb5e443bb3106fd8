//! `mlops controller`: the reconcile loop over ModelRollouts on a real cluster. Watches (not
//! polling) through kube-runtime; each pass (`reconcile`) observes the world, asks the core's state
//! machine what to do, carries out the effects through the core's one interpreter and writes the
//! status. Several replicas can run: only the holder of the Lease reconciles. A console with no
//! controller runs the same loop (`drive_embedded`).

mod reconcile;

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use kube::{
    Api,
    runtime::{
        Controller, PredicateConfig, WatchStreamExt,
        reflector::{self},
        watcher,
    },
};
use mlops_core::{
    CoreError,
    audit::AuditRecord,
    ports::{QueryPort, RegistryPort},
};

pub use self::reconcile::{PASS_TARGET, ReconcileError};
use self::reconcile::{Pass, error_policy, needs_a_pass, reconcile};
use crate::adapters::kube::{
    KubeCluster, LeaseLock, ModelRollout, lease::Acquired, names::TRACK_LABEL,
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
}

/// Reconcile passes at once unless `--concurrency` says otherwise: enough to keep hundreds of
/// rollouts on time, few enough not to queue up in the API server.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// Reconcile every ModelRollout while we hold the lease. Returns `Ok` when `stop` fires (the
/// lease is released) and an error when the lease is lost to someone else.
pub async fn lead(
    ctx: Arc<Context>,
    lease: LeaseLock,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), CoreError> {
    // Canary Deployments, watched: passes read readiness from this cache, not the API server.
    let (canaries, writer) = reflector::store::<K8sDeployment>();
    let canary_watch = watcher(
        Api::<K8sDeployment>::all(ctx.cluster.client()),
        watcher::Config::default().labels(&format!("{TRACK_LABEL}=canary")),
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
        lease.release().await;
        return Err(CoreError::backend(
            "controller",
            "could not list the canary Deployments (label mlops.dev/track=canary) in every namespace within 30 s",
        ));
    }
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
        let lease = lease.clone();
        async move {
            loop {
                tokio::time::sleep(lease.params().renew_every).await;
                match lease.try_acquire_or_renew(false).await {
                    Ok(Acquired::Yes { .. }) => {}
                    Ok(Acquired::No) => {
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
            lease.release().await;
            Ok(())
        }
        e = renew => Err(e),
    }
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
    let lease = ctx.cluster.lease(&ctx.id);
    let renew_every = lease.params().renew_every;
    tracing::info!(id = %ctx.id, "controller starting; waiting for the lease");
    let (tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    loop {
        match lease.try_acquire_or_renew(true).await? {
            Acquired::Yes { from_console } => {
                if from_console {
                    // The console that drove the rollouts stops at its next renewal.
                    tracing::info!("took the lease from a console; letting it notice");
                    tokio::time::sleep(renew_every + Duration::from_secs(1)).await;
                }
                break;
            }
            Acquired::No => {
                tokio::select! {
                    () = tokio::time::sleep(renew_every) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
    }
    tracing::info!(id = %ctx.id, "leading");
    println!(
        "{} leads ({}/{})",
        ctx.id,
        lease.params().namespace,
        lease.params().name
    );
    lead(ctx, lease, async move {
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
    let lease = ctx.cluster.lease(&ctx.id);
    loop {
        if *stop.borrow() {
            return;
        }
        match lease.try_acquire_or_renew(false).await {
            Ok(Acquired::Yes { .. }) => {
                tracing::info!(id = %ctx.id, "no controller holds the lease: this console drives the rollouts");
                let mut until = stop.clone();
                let stopped = async move {
                    let _ = until.wait_for(|s| *s).await;
                };
                match lead(ctx.clone(), lease.clone(), stopped).await {
                    Ok(()) => return,
                    Err(e) => tracing::info!(error = %e, "a controller took over the rollouts"),
                }
            }
            Ok(Acquired::No) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the lease"),
        }
        tokio::select! {
            () = tokio::time::sleep(lease.params().renew_every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
