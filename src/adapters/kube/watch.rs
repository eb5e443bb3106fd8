//! Watches: ModelRollouts and the Lease, as a stream of `ClusterChange`s.

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api,
    runtime::{WatchStreamExt, watcher},
};
use mlops_core::{
    model::{ClusterChange, Driver},
    ports::ChangeStream,
    rollout::RolloutRecord,
};

use super::{KubeCluster, crd::ModelRollout, lease::driver_of, limits::WATCH_TIMEOUT_SECONDS};

impl KubeCluster {
    /// Watch ModelRollouts (in the namespace, or all) and the Lease; each change comes out as
    /// a `ClusterChange`. The watches retry with backoff on their own.
    pub(super) fn watch_changes(&self) -> ChangeStream {
        let context = self.context.clone();
        let rollouts: Api<ModelRollout> = match &self.namespace {
            Some(ns) => Api::namespaced(self.watch_client.clone(), ns),
            None => Api::all(self.watch_client.clone()),
        };
        let rollouts = watcher(
            rollouts,
            watcher::Config::default().timeout(WATCH_TIMEOUT_SECONDS),
        )
        .default_backoff()
        .scan(Vec::new(), move |init: &mut Vec<RolloutRecord>, ev| {
            let change = match ev {
                Ok(watcher::Event::Apply(r)) => {
                    Some(ClusterChange::Rollout(Box::new(r.record(&context))))
                }
                Ok(watcher::Event::Delete(r)) => Some(ClusterChange::RolloutDeleted {
                    cluster: context.clone(),
                    namespace: r.metadata.namespace.clone().unwrap_or_default(),
                    name: r.metadata.name.clone().unwrap_or_default(),
                }),
                Ok(watcher::Event::Init) => {
                    init.clear();
                    None
                }
                Ok(watcher::Event::InitApply(r)) => {
                    init.push(r.record(&context));
                    None
                }
                Ok(watcher::Event::InitDone) => Some(ClusterChange::Rollouts(std::mem::take(init))),
                Err(e) => {
                    tracing::debug!(error = %e, "watching ModelRollouts");
                    None
                }
            };
            futures::future::ready(Some(change))
        })
        .filter_map(futures::future::ready);
        let driver_id = self.driver_id.clone();
        let leases: Api<Lease> = Api::namespaced(self.watch_client.clone(), &self.lease.namespace);
        let lease = watcher(
            leases,
            watcher::Config::default()
                .fields(&format!("metadata.name={}", self.lease.name))
                .timeout(WATCH_TIMEOUT_SECONDS),
        )
        .default_backoff()
        .filter_map(move |ev| {
            futures::future::ready(match ev {
                Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l)) => {
                    Some(ClusterChange::Driver(driver_of(&l, driver_id.as_deref())))
                }
                Ok(watcher::Event::Delete(_)) => Some(ClusterChange::Driver(Driver::Nobody)),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(e) => {
                    tracing::debug!(error = %e, "watching the lease");
                    None
                }
            })
        });
        Box::pin(futures::stream::select(rollouts, lease))
    }
}
