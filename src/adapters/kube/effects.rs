//! The real cluster (with the model registry, when one is configured) as the `Infrastructure` a
//! rollout's effects change. What each effect takes is decided by the core's `carry_out`; this
//! file only makes the primitive changes: Deployments, HTTPRoute weights, registry aliases and
//! tags, Kubernetes Events, audit entries.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::ObjectReference;
use mlops_core::{
    CoreError,
    audit::AuditRecord,
    ports::RegistryPort,
    rollout::{Infrastructure, RolloutRecord},
};

use super::KubeCluster;

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
    fn registry(&self) -> Result<&Arc<dyn RegistryPort>, CoreError> {
        self.registry.as_ref().ok_or_else(|| {
            CoreError::backend(
                "controller",
                "no model registry configured (MLFLOW_TRACKING_URI)",
            )
        })
    }
}

#[async_trait]
impl Infrastructure for KubeInfra {
    fn actor(&self) -> &str {
        &self.actor
    }

    fn has_registry(&self) -> bool {
        self.registry.is_some()
    }

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

    async fn route_weights(
        &self,
        r: &RolloutRecord,
        route: &str,
        canary: u8,
    ) -> Result<(), CoreError> {
        self.cluster
            .set_route_weights(&r.namespace, &r.spec, route, canary)
            .await
    }

    async fn version_image(&self, model: &str, version: u32) -> Result<String, CoreError> {
        let m = self.registry()?.model(model).await?;
        m.version(version)
            .and_then(|v| v.image().map(str::to_string))
            .ok_or_else(|| CoreError::NotFound {
                kind: "image tag of model version",
                name: format!("{model} v{version}"),
            })
    }

    async fn move_alias(
        &self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError> {
        self.registry()?.set_alias(model, alias, version).await
    }

    async fn tag_version(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError> {
        self.registry()?
            .set_version_tag(model, version, key, value)
            .await
    }

    async fn record_event(
        &self,
        r: &RolloutRecord,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> Result<(), CoreError> {
        self.cluster
            .post_event(
                &r.namespace,
                &self.object,
                reason,
                message,
                warning,
                &self.actor,
            )
            .await;
        Ok(())
    }

    async fn audit(&self, record: AuditRecord) -> Result<(), CoreError> {
        self.audit
            .send(record)
            .map_err(|_| CoreError::backend("controller", "the audit writer has stopped"))
    }
}
