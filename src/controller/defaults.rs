//! The controller's timings and bounds, said once: how many passes run at once, how long a stop
//! may take, how soon a pass comes again. The reconcile loop and the pass read them from here;
//! nothing here acts.

use std::time::Duration;

/// Reconcile passes at once unless `--concurrency` says otherwise: enough to keep hundreds of
/// rollouts on time, few enough not to queue up in the API server.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// From SIGTERM (or the console quitting) to the lease released and the process gone, at most.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);
/// The part of [`SHUTDOWN_BUDGET`] the loop itself may use: passes in flight and the audit
/// writer get [`PASSES_GRACE`], releasing the lease what is left; the rest is for the process
/// to end.
pub(super) const STOP_BUDGET: Duration = Duration::from_millis(1500);
/// How long passes in flight may finish (and queued audit entries be written) after a stop.
pub(super) const PASSES_GRACE: Duration = Duration::from_millis(800);

/// How long the watch of the serving Deployments may take to list them all before leading: a
/// replica that cannot (no right to list them everywhere, an API server in trouble) gives the
/// lease up rather than hold it without acting.
pub(super) const CANARIES_READY_WITHIN: Duration = Duration::from_secs(30);

/// The next pass after a status write lost to another writer (an approval, a command): soon,
/// on fresh data.
pub(super) const AFTER_CONFLICT: Duration = Duration::from_millis(200);
/// The next pass after a failed one (its warning is written once a minute per rollout unless the
/// cause changes).
pub(super) const AFTER_FAILURE: Duration = Duration::from_secs(5);

/// `/healthz` fails once the loop has not gone round for this long: a lease attempt is two
/// calls of at most `call_timeout` each, every renewal period (5 s), and before leading the
/// canaries' watch may take [`CANARIES_READY_WITHIN`]; a minute on top covers both.
pub(super) fn alive_within(call_timeout: Duration) -> Duration {
    call_timeout.saturating_mul(2) + Duration::from_secs(60)
}
