//! The one interpreter of a rollout's effects. The state machine says *what* must become true
//! (`Effect`); `carry_out` decides which changes that takes in the world and what is recorded about
//! it (Events, audit entries, registry tags). The Kubernetes wing and the demo platform only
//! implement the primitive changes, one port per concern: the serving Deployments (`Workload`),
//! the router that splits traffic (`TrafficRouter`, one implementation per router), the model
//! registry (the core's `RegistryPort`) and where things are recorded (`Recorder`). So the demo
//! does exactly what a real controller does, and a second service mesh is one more router.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Effect, RolloutRecord, RolloutSpec, replica_split};
use crate::{audit::AuditRecord, error::CoreError, ports::RegistryPort};

/// The alias a promotion moves.
pub const CHAMPION_ALIAS: &str = "champion";

/// The serving Deployments of a rollout: its stable track and its canary. Each change must be
/// idempotent: a pass that crashes before its status write carries the same effects out again.
#[async_trait]
pub trait Workload: Send + Sync {
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
}

/// What splits a rollout's traffic between stable and canary, beside its replicas: one
/// implementation per router (Gateway API HTTPRoute weights; `ReplicaRatio` where the replicas
/// alone split it). Idempotent, as `Workload`.
#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// Send `canary` percent of the rollout's traffic to the canary and the rest to stable.
    async fn set_weight(&self, rollout: &RolloutRecord, canary: u8) -> Result<(), CoreError>;
}

/// The replica ratio: one Service selects the pods of both tracks, so the split of replicas
/// (`Workload::split_replicas`) already is the split of traffic; nothing more to set.
pub struct ReplicaRatio;

#[async_trait]
impl TrafficRouter for ReplicaRatio {
    async fn set_weight(&self, _rollout: &RolloutRecord, _canary: u8) -> Result<(), CoreError> {
        Ok(())
    }
}

/// How a rollout's traffic is routed, as its spec says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing<'a> {
    /// By the replica ratio alone.
    ReplicaRatio,
    /// By the weights of the Gateway API HTTPRoute `route`.
    GatewayApi { route: &'a str },
}

impl RolloutSpec {
    pub fn routing(&self) -> Routing<'_> {
        match &self.http_route {
            Some(route) => Routing::GatewayApi { route },
            None => Routing::ReplicaRatio,
        }
    }
}

/// Where what a rollout's effects did is recorded.
#[async_trait]
pub trait Recorder: Send + Sync {
    /// An Event on the rollout (a Kubernetes Event on a real cluster).
    async fn event(
        &self,
        rollout: &RolloutRecord,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> Result<(), CoreError>;
    /// Append an entry to the audit log.
    async fn audit(&self, record: AuditRecord) -> Result<(), CoreError>;
}

/// What carrying out a rollout's effects changes and records, by concern.
pub struct Infrastructure<'a> {
    /// Who carries the effects out: the actor of audit entries and the `promoted_by` tag.
    pub actor: &'a str,
    pub workload: &'a dyn Workload,
    /// The router of rollouts with an HTTPRoute (`Routing::GatewayApi`); the others' traffic
    /// follows their replicas (`ReplicaRatio`).
    pub gateway_api: &'a dyn TrafficRouter,
    /// The model registry aliases move and versions are tagged in, when one is configured.
    pub registry: Option<&'a dyn RegistryPort>,
    pub recorder: &'a dyn Recorder,
}

impl Infrastructure<'_> {
    /// The router that splits `rollout`'s traffic.
    fn router(&self, rollout: &RolloutRecord) -> &dyn TrafficRouter {
        match rollout.spec.routing() {
            Routing::ReplicaRatio => &ReplicaRatio,
            Routing::GatewayApi { .. } => self.gateway_api,
        }
    }
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
    infra: &Infrastructure<'_>,
    rollout: &RolloutRecord,
    effects: &[Effect],
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    for effect in effects {
        carry_out_one(infra, rollout, effect, now).await?;
    }
    Ok(())
}

async fn carry_out_one(
    infra: &Infrastructure<'_>,
    rollout: &RolloutRecord,
    effect: &Effect,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let spec = &rollout.spec;
    let router = infra.router(rollout);
    match effect {
        Effect::SetWeight { weight } => {
            let (stable, canary) = replica_split(spec.replicas, *weight);
            infra
                .workload
                .split_replicas(rollout, stable, canary)
                .await?;
            router.set_weight(rollout, *weight).await
        }
        Effect::AbortCanary => {
            // Traffic first, so no request goes to a canary that is going away.
            router.set_weight(rollout, 0).await?;
            infra
                .workload
                .split_replicas(rollout, spec.replicas, 0)
                .await
        }
        Effect::PromoteStable { version } => {
            infra
                .workload
                .replace_stable(rollout, *version, &spec.image)
                .await?;
            router.set_weight(rollout, 0).await
        }
        Effect::RestoreStable { version } => {
            let image = restored_image(infra, rollout, *version).await?;
            infra
                .workload
                .replace_stable(rollout, *version, &image)
                .await?;
            router.set_weight(rollout, 0).await
        }
        Effect::MoveAlias {
            model,
            alias,
            version,
        } => move_alias(infra, rollout, (model, alias, *version), now).await,
        Effect::TagVersion {
            model,
            version,
            key,
            value,
        } => {
            if let Some(registry) = infra.registry {
                registry
                    .set_version_tag(model, *version, key, value)
                    .await?;
                registry
                    .set_version_tag(model, *version, "promoted_by", infra.actor)
                    .await?;
            }
            Ok(())
        }
        Effect::Event {
            reason,
            message,
            warning,
        } => {
            infra
                .recorder
                .event(rollout, reason, message, *warning)
                .await?;
            infra
                .recorder
                .audit(AuditRecord {
                    time: now,
                    actor: infra.actor.to_string(),
                    action: transition_action(reason),
                    target: target(rollout),
                    comment: String::new(),
                    details: message.clone(),
                })
                .await
        }
    }
}

/// The image of `version`, which undoing a promotion serves again: its `image` tag in the
/// registry.
async fn restored_image(
    infra: &Infrastructure<'_>,
    rollout: &RolloutRecord,
    version: u32,
) -> Result<String, CoreError> {
    let found = match infra.registry {
        Some(registry) => {
            crate::registry::version_image(registry, &rollout.spec.model.name, version).await
        }
        None => Err(CoreError::not_configured(
            "the model registry",
            "the controller needs MLFLOW_TRACKING_URI to read a version's image",
        )),
    };
    found.map_err(|e| {
        CoreError::of_kind(
            e.kind(),
            "rollout",
            format!("undoing the promotion needs the image of v{version}: {e}"),
        )
        .caused_by(e)
    })
}

/// Point `model@alias` at `version` and audit the move; without a registry, say on the rollout
/// that it did not move.
async fn move_alias(
    infra: &Infrastructure<'_>,
    rollout: &RolloutRecord,
    (model, alias, version): (&str, &str, u32),
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let Some(registry) = infra.registry else {
        let message =
            format!("no model registry configured: {model}@{alias} not moved to v{version}");
        return infra
            .recorder
            .event(rollout, "AliasNotMoved", &message, true)
            .await;
    };
    let previous = registry.set_alias(model, alias, version).await?;
    infra
        .recorder
        .audit(AuditRecord {
            time: now,
            actor: infra.actor.to_string(),
            action: "registry.alias".into(),
            target: format!("{model}@{alias}"),
            comment: String::new(),
            details: format!(
                "{} → v{version} ({})",
                previous.map_or_else(|| "unset".to_string(), |v| format!("v{v}")),
                target(rollout)
            ),
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::rollout::{RolloutSpec, RolloutStatus};

    /// Every port at once, writing down what was asked of it, in order.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Log {
        fn note(&self, what: String) {
            self.0.lock().expect("log").push(what);
        }

        fn taken(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().expect("log"))
        }
    }

    #[async_trait]
    impl Workload for Log {
        async fn split_replicas(
            &self,
            _: &RolloutRecord,
            stable: u32,
            canary: u32,
        ) -> Result<(), CoreError> {
            self.note(format!("split {stable}/{canary}"));
            Ok(())
        }

        async fn replace_stable(
            &self,
            _: &RolloutRecord,
            version: u32,
            image: &str,
        ) -> Result<(), CoreError> {
            self.note(format!("stable v{version} {image}"));
            Ok(())
        }
    }

    #[async_trait]
    impl TrafficRouter for Log {
        async fn set_weight(&self, r: &RolloutRecord, canary: u8) -> Result<(), CoreError> {
            let route = r.spec.http_route.as_deref().unwrap_or("-");
            self.note(format!("route {route} {canary}"));
            Ok(())
        }
    }

    #[async_trait]
    impl Recorder for Log {
        async fn event(
            &self,
            _: &RolloutRecord,
            reason: &str,
            _: &str,
            warning: bool,
        ) -> Result<(), CoreError> {
            self.note(format!("event {reason} warning={warning}"));
            Ok(())
        }

        async fn audit(&self, record: AuditRecord) -> Result<(), CoreError> {
            self.note(format!("audit {}", record.action));
            Ok(())
        }
    }

    fn record(route: Option<&str>) -> RolloutRecord {
        let mut spec = RolloutSpec::test();
        spec.http_route = route.map(str::to_string);
        RolloutRecord {
            name: "fraud-detector-v7".into(),
            namespace: "ml-serving".into(),
            cluster: "test".into(),
            created: Utc::now(),
            spec,
            status: RolloutStatus::default(),
            policy: None,
        }
    }

    /// Poll once: the log answers at once.
    fn now<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("nothing here waits"),
        }
    }

    fn run(log: &Log, r: &RolloutRecord, effects: &[Effect]) -> Result<Vec<String>, CoreError> {
        let infra = Infrastructure {
            actor: "controller",
            workload: log,
            gateway_api: log,
            registry: None,
            recorder: log,
        };
        now(carry_out(&infra, r, effects, Utc::now()))?;
        Ok(log.taken())
    }

    #[test]
    fn each_rollout_goes_through_the_router_its_spec_names() {
        let log = Log::default();
        // The replica ratio: the replicas are the split; no router is asked.
        let plain = record(None);
        assert_eq!(plain.spec.routing(), Routing::ReplicaRatio);
        let done = run(&log, &plain, &[Effect::SetWeight { weight: 40 }]);
        assert_eq!(done, Ok(vec!["split 6/4".to_string()]));
        // An HTTPRoute: its weights too; on an abort, traffic first.
        let routed = record(Some("fraud"));
        assert_eq!(
            routed.spec.routing(),
            Routing::GatewayApi { route: "fraud" }
        );
        let done = run(
            &log,
            &routed,
            &[Effect::SetWeight { weight: 40 }, Effect::AbortCanary],
        );
        assert_eq!(
            done,
            Ok(
                ["split 6/4", "route fraud 40", "route fraud 0", "split 10/0"]
                    .map(String::from)
                    .to_vec()
            )
        );
    }

    #[test]
    fn without_a_registry_aliases_stay_said_and_a_promotion_cannot_be_undone() {
        let log = Log::default();
        let r = record(None);
        let moved = Effect::MoveAlias {
            model: "fraud-detector".into(),
            alias: CHAMPION_ALIAS.into(),
            version: 7,
        };
        let tagged = Effect::TagVersion {
            model: "fraud-detector".into(),
            version: 7,
            key: "k".into(),
            value: "v".into(),
        };
        assert_eq!(
            run(&log, &r, &[moved, tagged]),
            Ok(vec!["event AliasNotMoved warning=true".to_string()])
        );
        let e = run(&log, &r, &[Effect::RestoreStable { version: 6 }]).expect_err("no image");
        assert!(
            e.to_string().starts_with(
                "rollout: undoing the promotion needs the image of v6: the model registry is not configured"
            ),
            "{e}"
        );
        assert!(log.taken().is_empty(), "nothing changed");
    }
}
