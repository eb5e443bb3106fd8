//! The real cluster (with the model registry, when one is configured) as the ports a rollout's
//! effects go through (`rollout::Infrastructure`). What each effect takes is decided by the core's
//! `carry_out`; this file only wires the primitive changes: the Deployments (`traffic::replicas`),
//! the Gateway API router (`traffic::gateway_api`), the registry as it is, Kubernetes Events and
//! audit entries.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::ObjectReference;
use mlops_core::{
    CoreError,
    audit::AuditRecord,
    ports::RegistryPort,
    rollout::{self, Effect, Infrastructure, Recorder, RolloutRecord, Workload},
};

use super::{KubeCluster, rollouts::PendingEvent, traffic::GatewayApi};

/// One reconcile pass's view of the world it changes.
pub struct KubeInfra {
    pub cluster: KubeCluster,
    pub registry: Option<Arc<dyn RegistryPort>>,
    /// Who acts: the controller's lease identity.
    pub actor: String,
    /// The ModelRollout the Events are about.
    pub object: ObjectReference,
    /// Audit entries go to one writer task, so a pass never waits on the log.
    pub audit: tokio::sync::mpsc::UnboundedSender<AuditRecord>,
    /// Events go to a writer too: a pass waits on its changes and its status, not on them.
    pub events: futures::channel::mpsc::UnboundedSender<PendingEvent>,
    /// The regions the rollout's pods must run in (data residency), from its
    /// `mlops.dev/regions` annotation; empty: anywhere.
    pub regions: Vec<String>,
}

/// The regions a ModelRollout pins its pods to (`rbac::REGIONS_ANNOTATION`); empty: anywhere.
pub fn pinned_regions(mr: &super::ModelRollout) -> Vec<String> {
    mr.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(super::rbac::REGIONS_ANNOTATION))
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl KubeInfra {
    /// Carry `effects` of `rollout` out on this cluster (and registry) through the core's one
    /// interpreter: the Deployments, the rollout's router (its HTTPRoute's weights where it names
    /// one), the registry, Events and the audit log.
    pub async fn carry_out(
        &self,
        rollout: &RolloutRecord,
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let gateway_api = GatewayApi {
            cluster: &self.cluster,
        };
        let infra = Infrastructure {
            actor: &self.actor,
            workload: self,
            gateway_api: &gateway_api,
            registry: self.registry.as_deref(),
            recorder: self,
        };
        rollout::carry_out(&infra, rollout, effects, now).await
    }
}

#[async_trait]
impl Workload for KubeInfra {
    async fn split_replicas(
        &self,
        r: &RolloutRecord,
        stable: u32,
        canary: u32,
    ) -> Result<(), CoreError> {
        self.cluster
            .split_replicas(&r.namespace, &r.spec, stable, canary, &self.regions)
            .await
    }

    async fn replace_stable(
        &self,
        r: &RolloutRecord,
        version: u32,
        image: &str,
    ) -> Result<(), CoreError> {
        self.cluster
            .replace_stable(&r.namespace, &r.spec, version, image, &self.regions)
            .await
    }
}

#[async_trait]
impl Recorder for KubeInfra {
    async fn event(
        &self,
        r: &RolloutRecord,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> Result<(), CoreError> {
        let queued = self.events.unbounded_send(PendingEvent {
            namespace: r.namespace.clone(),
            object: self.object.clone(),
            reason: reason.to_string(),
            message: message.to_string(),
            warning,
            instance: self.actor.clone(),
            at: Utc::now(),
        });
        if queued.is_err() {
            crate::logging::warn_limited(
                "kube.event",
                "could not record an Event: the Event writer has stopped",
            );
        }
        Ok(())
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), CoreError> {
        self.audit
            .send(record)
            .map_err(|_| CoreError::backend("controller", "the audit writer has stopped"))
    }
}
