//! The one interpreter of a rollout's effects. The state machine says *what* must become true
//! (`Effect`); `carry_out` decides which changes that takes in the world and what is recorded about
//! it (Events, audit entries, registry tags). The Kubernetes wing and the demo platform only
//! implement the primitive changes (`Infrastructure`), so the demo does exactly what a real
//! controller does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Effect, RolloutRecord, replica_split};
use crate::{audit::AuditRecord, error::CoreError};

/// The alias a promotion moves.
pub const CHAMPION_ALIAS: &str = "champion";

/// The primitive changes a rollout's effects are made of. Each must be idempotent: a pass that
/// crashes before its status write carries the same effects out again.
#[async_trait]
pub trait Infrastructure: Send + Sync {
    /// Who carries the effects out: the actor of audit entries and the `promoted_by` tag.
    fn actor(&self) -> &str;
    /// Whether a model registry is there to move aliases and tag versions in.
    fn has_registry(&self) -> bool;
    /// Run `stable` replicas of the serving version and `canary` replicas of the rollout's
    /// version (image `spec.image`).
    async fn split_replicas(
        &self,
        rollout: &RolloutRecord,
        stable: u32,
        canary: u32,
    ) -> Result<(), CoreError>;
    /// The stable track serves `version` with `image` on the rollout's replicas; the canary goes
    /// to zero.
    async fn replace_stable(
        &self,
        rollout: &RolloutRecord,
        version: u32,
        image: &str,
    ) -> Result<(), CoreError>;
    /// The weights of the rollout's HTTPRoute `route`: the stable backend `100 - canary`, the
    /// canary backend `canary`.
    async fn route_weights(
        &self,
        rollout: &RolloutRecord,
        route: &str,
        canary: u8,
    ) -> Result<(), CoreError>;
    /// The image the registry records for a model version (its `image` tag).
    async fn version_image(&self, model: &str, version: u32) -> Result<String, CoreError>;
    /// Point `model@alias` at `version`; says where it pointed before.
    async fn move_alias(
        &self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError>;
    async fn tag_version(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError>;
    /// An Event on the rollout (a Kubernetes Event on a real cluster).
    async fn record_event(
        &self,
        rollout: &RolloutRecord,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> Result<(), CoreError>;
    /// Append an entry to the audit log.
    async fn audit(&self, record: AuditRecord) -> Result<(), CoreError>;
}

/// The audit target of a rollout: `namespace/name` (a log belongs to one cluster; the demo's log,
/// which spans three, qualifies it with the cluster).
pub fn target(rollout: &RolloutRecord) -> String {
    format!("{}/{}", rollout.namespace, rollout.name)
}

/// The audit action of a phase transition made by whoever drives the rollout.
pub fn transition_action(reason: &str) -> String {
    format!("rollout.{}", reason.to_ascii_lowercase())
}

/// Carry out `effects` in order. The first failure stops the rest (the next pass repeats them).
pub async fn carry_out(
    infra: &dyn Infrastructure,
    rollout: &RolloutRecord,
    effects: &[Effect],
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let spec = &rollout.spec;
    for effect in effects {
        match effect {
            Effect::SetWeight { weight } => {
                let (stable, canary) = replica_split(spec.replicas, *weight);
                infra.split_replicas(rollout, stable, canary).await?;
                if let Some(route) = &spec.http_route {
                    infra.route_weights(rollout, route, *weight).await?;
                }
            }
            Effect::AbortCanary => {
                // Traffic first, so no request goes to a canary that is going away.
                if let Some(route) = &spec.http_route {
                    infra.route_weights(rollout, route, 0).await?;
                }
                infra.split_replicas(rollout, spec.replicas, 0).await?;
            }
            Effect::PromoteStable { version } => {
                infra.replace_stable(rollout, *version, &spec.image).await?;
                if let Some(route) = &spec.http_route {
                    infra.route_weights(rollout, route, 0).await?;
                }
            }
            Effect::RestoreStable { version } => {
                let image = infra
                    .version_image(&spec.model.name, *version)
                    .await
                    .map_err(|e| {
                        CoreError::backend(
                            "rollout",
                            format!("undoing the promotion needs the image of v{version}: {e}"),
                        )
                    })?;
                infra.replace_stable(rollout, *version, &image).await?;
                if let Some(route) = &spec.http_route {
                    infra.route_weights(rollout, route, 0).await?;
                }
            }
            Effect::MoveAlias {
                model,
                alias,
                version,
            } => {
                if !infra.has_registry() {
                    let message = format!(
                        "no model registry configured: {model}@{alias} not moved to v{version}"
                    );
                    infra
                        .record_event(rollout, "AliasNotMoved", &message, true)
                        .await?;
                    continue;
                }
                let previous = infra.move_alias(model, alias, *version).await?;
                infra
                    .audit(AuditRecord {
                        time: now,
                        actor: infra.actor().to_string(),
                        action: "registry.alias".into(),
                        target: format!("{model}@{alias}"),
                        comment: String::new(),
                        details: format!(
                            "{} → v{version} ({})",
                            previous.map_or_else(|| "unset".to_string(), |v| format!("v{v}")),
                            target(rollout)
                        ),
                    })
                    .await?;
            }
            Effect::TagVersion {
                model,
                version,
                key,
                value,
            } => {
                if infra.has_registry() {
                    infra.tag_version(model, *version, key, value).await?;
                    infra
                        .tag_version(model, *version, "promoted_by", infra.actor())
                        .await?;
                }
            }
            Effect::Event {
                reason,
                message,
                warning,
            } => {
                infra
                    .record_event(rollout, reason, message, *warning)
                    .await?;
                infra
                    .audit(AuditRecord {
                        time: now,
                        actor: infra.actor().to_string(),
                        action: transition_action(reason),
                        target: target(rollout),
                        comment: String::new(),
                        details: message.clone(),
                    })
                    .await?;
            }
        }
    }
    Ok(())
}
