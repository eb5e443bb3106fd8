//! What brings a rollout's next pass: a change it depends on, or the time its next step falls due
//! — not a clock. Its serving Deployments (stable and canary, watched by the model label) map to
//! the rollouts that use them when their readiness changes; the rollout's own watch brings its
//! spec and the commands people write into its status; the core's `next_due` says when the clock
//! alone would move it (an analysis round, a pause's end), and a long safety resync catches what
//! a lost watch event would miss. The controller's own status writes bring no pass.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use kube::{
    ResourceExt,
    runtime::{
        PredicateConfig, WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use mlops_core::rollout::{self, RolloutSpec, RolloutStatus};

use super::Context;
use crate::adapters::kube::{
    ModelRollout,
    limits::WATCH_TIMEOUT_SECONDS,
    names::{MODEL_LABEL, TRACK_LABEL, canary_name},
};

/// How often every rollout under way is passed at least, whatever changed: a watch event lost
/// (or a fact outside the cluster, a registry tag) is seen within this.
pub const SAFETY_RESYNC: Duration = Duration::from_secs(300);

/// The soonest a pass comes again after one that found something due at once.
const AT_ONCE: Duration = Duration::from_millis(100);

/// How passes are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// On change and when the next step falls due, and at least every `resync`.
    OnChange { resync: Duration },
    /// Every rollout under way every `every` (or its analysis interval, if shorter), whether or
    /// not anything changed; Deployment changes bring no pass. How the controller passed before
    /// (5 s): kept to compare against (`mlops controller --resync-every`).
    Clock { every: Duration },
}

impl Default for Schedule {
    fn default() -> Self {
        Self::OnChange {
            resync: SAFETY_RESYNC,
        }
    }
}

impl Schedule {
    /// How long after a pass that left `status` (at `now`) the next one is due on its own;
    /// `None`: only on a change (a finished rollout).
    pub(super) fn after(
        self,
        spec: &RolloutSpec,
        status: &RolloutStatus,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        if status.phase.is_terminal() {
            return None;
        }
        match self {
            Self::Clock { every } => {
                Some(Duration::from_secs(spec.analysis.interval_seconds.max(1)).min(every))
            }
            Self::OnChange { resync } => {
                Some(rollout::next_due(spec, status, now).map_or(resync, |due| {
                    (due - now)
                        .to_std()
                        .unwrap_or(AT_ONCE)
                        .clamp(AT_ONCE, resync)
                }))
            }
        }
    }

    /// [`Self::after`] a pass that moved the rollout from `before` to `after`. A new weight
    /// whose canary replicas are those already there (a small rollout: one canary pod at 25 %
    /// and at 50 %) changes no Deployment, so no watch event will bring the pass that finds the
    /// canary ready: that one comes at once.
    pub(super) fn after_pass(
        self,
        spec: &RolloutSpec,
        before: &RolloutStatus,
        after: &RolloutStatus,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let due = self.after(spec, after, now);
        let canary = |w: u8| rollout::replica_split(spec.replicas, w).1;
        if self.on_change()
            && before.weight != after.weight
            && canary(before.weight) == canary(after.weight)
        {
            return due.map(|d| d.min(AT_ONCE));
        }
        due
    }

    /// Whether changes bring passes (a serving Deployment's readiness, for the rollouts that
    /// use it) and the controller's own writes are told apart; on a clock they are not.
    pub(super) fn on_change(self) -> bool {
        matches!(self, Self::OnChange { .. })
    }
}

/// The one fact of a canary Deployment a pass reads (`canary_ready`: its wanted replicas all
/// ready, under the canary track label), once it holds: `Some` of what it holds for (the
/// Deployment, its track, the replicas), `None` while the replicas are not all ready. Anything
/// else (the pods' churn on the way there, `status.replicas`, a condition's heartbeat, an
/// annotation) brings no pass.
pub(super) fn settled(d: &K8sDeployment) -> Option<u64> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let ready = d
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    if want != ready {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    d.metadata.uid.hash(&mut h);
    d.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(TRACK_LABEL))
        .hash(&mut h);
    want.hash(&mut h);
    Some(h.finish())
}

/// The canary Deployments' changes that bring a pass: each time one becomes ready at its wanted
/// replicas (again, after it was not: a new scale, a pod lost and replaced), and when one is
/// deleted (a deleted canary counts as ready at zero). The controller's own scale of a canary
/// makes it not ready, so it brings no pass until the pods are ready.
#[derive(Default)]
pub(super) struct Readiness(HashMap<(String, String), u64>);

impl Readiness {
    /// Whether the watch event `e` brings a pass for the rollouts using its Deployment.
    pub(super) fn brings_a_pass<'a>(
        &mut self,
        e: &'a watcher::Event<K8sDeployment>,
    ) -> Option<&'a K8sDeployment> {
        let key = |d: &K8sDeployment| (d.namespace().unwrap_or_default(), d.name_any());
        match e {
            watcher::Event::Apply(d) | watcher::Event::InitApply(d) => {
                if let Some(h) = settled(d) {
                    (self.0.insert(key(d), h) != Some(h)).then_some(d)
                } else {
                    self.0.remove(&key(d));
                    None
                }
            }
            watcher::Event::Delete(d) => {
                self.0.remove(&key(d));
                Some(d)
            }
            watcher::Event::Init | watcher::Event::InitDone => None,
        }
    }
}

/// The rollouts under way whose canary `deployment` is (`<deployment>-canary` in the rollout's
/// namespace). A finished rollout needs no pass for it, and a stable Deployment brings none: a
/// pass reads nothing of its readiness (it is read when a pass changes it).
pub(super) fn rollouts_using<'a>(
    deployment: &K8sDeployment,
    rollouts: impl IntoIterator<Item = &'a ModelRollout>,
) -> Vec<ObjectRef<ModelRollout>> {
    let (Some(ns), Some(name)) = (
        deployment.metadata.namespace.as_deref(),
        deployment.metadata.name.as_deref(),
    ) else {
        return Vec::new();
    };
    rollouts
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some(ns))
        .filter(|r| canary_name(&r.spec.rollout.deployment) == name)
        .filter(|r| !r.status.as_ref().is_some_and(|s| s.phase.is_terminal()))
        .map(ObjectRef::from_obj)
        .collect()
}

/// The part of a rollout whose change calls for a pass (a predicate: `Some` hash): a new spec
/// or what a command changes (phase, step, approvals, pause, undo, the command itself).
#[allow(clippy::unnecessary_wraps)]
pub(super) fn needs_a_pass(mr: &ModelRollout) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    mr.metadata.generation.hash(&mut h);
    if let Some(s) = &mr.status {
        (
            s.phase.as_str(),
            s.current_step,
            s.approvals.len(),
            s.user_paused,
            s.undo_promotion,
            // A command to audit; the controller's own mark needs no pass.
            s.last_command.as_ref().map(|c| c.time),
        )
            .hash(&mut h);
    }
    Some(h.finish())
}

/// The rollouts as the controller last wrote them (what [`needs_a_pass`] saw of each write): the
/// watch event of its own write brings no pass — the pass that wrote it already asked for the
/// next one.
#[derive(Default)]
pub(super) struct OwnWrites(Mutex<HashMap<ObjectRef<ModelRollout>, Option<u64>>>);

impl OwnWrites {
    /// The controller wrote `mr` (the API server's answer).
    pub(super) fn wrote(&self, mr: &ModelRollout) {
        if let Ok(mut w) = self.0.lock() {
            w.insert(ObjectRef::from_obj(mr), needs_a_pass(mr));
        }
    }

    /// `mr` is what the controller last wrote, as far as a pass is concerned (forgotten then:
    /// the next change is someone else's).
    pub(super) fn is_own(&self, mr: &ModelRollout) -> bool {
        let Ok(mut w) = self.0.lock() else {
            return false;
        };
        let key = ObjectRef::from_obj(mr);
        match w.get(&key) {
            Some(h) if *h == needs_a_pass(mr) => {
                w.remove(&key);
                true
            }
            Some(_) => {
                w.remove(&key);
                false
            }
            None => false,
        }
    }
}

/// The rollouts' watch as triggers: every change a pass is needed for, less the controller's
/// own writes; the cache is kept in `writer`.
pub(super) fn rollout_changes(
    ctx: &Context,
    writer: reflector::store::Writer<ModelRollout>,
    own: Arc<OwnWrites>,
) -> impl Stream<Item = Result<ModelRollout, watcher::Error>> + Send + 'static {
    watcher(
        ctx.cluster.watched::<ModelRollout>(),
        watcher::Config::default().timeout(WATCH_TIMEOUT_SECONDS),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(needs_a_pass, PredicateConfig::default())
    .filter(move |r| futures::future::ready(!matches!(r, Ok(mr) if own.is_own(mr))))
}

/// The serving Deployments (label `mlops.dev/model`), watched: passes read readiness from this
/// cache, not the API server. The store, the task that keeps it, and the readiness changes (sent
/// only when `schedule` passes on them).
pub(super) fn watch_deployments(
    ctx: &Context,
    schedule: Schedule,
) -> (
    Store<K8sDeployment>,
    tokio::task::JoinHandle<()>,
    futures::channel::mpsc::UnboundedReceiver<K8sDeployment>,
) {
    let (store, writer) = reflector::store::<K8sDeployment>();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut readiness = Readiness::default();
    let watch = watcher(
        ctx.cluster.watched::<K8sDeployment>(),
        watcher::Config::default()
            .labels(MODEL_LABEL)
            .timeout(WATCH_TIMEOUT_SECONDS),
    )
    .default_backoff()
    .reflect(writer)
    .for_each(move |e| {
        if let (Ok(e), true) = (e, schedule.on_change())
            && let Some(d) = readiness.brings_a_pass(&e)
        {
            let _ = tx.unbounded_send(d.clone());
        }
        futures::future::ready(())
    });
    (store, tokio::spawn(watch), rx)
}

/// The passes the Deployments' changes bring: each change, the rollouts (in `rollouts`, the
/// controller's cache) that use the Deployment.
pub(super) fn deployment_triggers(
    changes: futures::channel::mpsc::UnboundedReceiver<K8sDeployment>,
    rollouts: Store<ModelRollout>,
) -> impl Stream<Item = ObjectRef<ModelRollout>> + Send + 'static {
    changes.flat_map(move |d| {
        let all = rollouts.state();
        let hits = rollouts_using(&d, all.iter().map(AsRef::as_ref));
        if !hits.is_empty() {
            tracing::trace!(deployment = %d.name_any(), rollouts = hits.len(), "readiness changed");
        }
        futures::stream::iter(hits)
    })
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
