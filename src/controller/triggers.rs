//! RolloutTriggers in the controller: what a verified webhook delivery or a poll of the registry
//! starts, and the triggers' status. Only the lease holder acts; the rollout's name is
//! deterministic in (trigger, version) (`triggers::rollout_name`), so a start that is repeated —
//! MLflow's retries, a delivery and a poll of the same change, a restart, the other replica —
//! finds the rollout there and starts nothing more. The decisions are the core's
//! (`mlops_core::triggers`); the rollout is started by the one start path
//! (`adapters::kube::start`), with the same gates and annotations as `mlops rollout start`.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use kube::Resource as _;
use mlops_core::{
    CoreError,
    rollout::{self, Template},
    triggers::{
        self, Claimant, Condition, LastEvent, POLL, RegistryEvent, TriggerStatus,
        signature::{self, Headers, ReplayGuard},
    },
};
use tokio::sync::Mutex;

use super::Context;
use crate::{
    adapters::kube::{
        start::{Origin, StartFailed, StartPlan, start_rollout},
        triggers::RolloutTrigger,
    },
    config::policy::PolicyFile,
};

/// How often the registry is polled for what a webhook may have missed, unless told otherwise.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(30);

/// What the triggers need besides the controller's context.
pub struct TriggerConfig {
    /// The step templates a trigger may name (shipped and config.toml's).
    pub templates: Vec<Template>,
    /// policy.toml's gates, where there is one.
    pub policy: Option<PolicyFile>,
    /// The Secret (namespace, name) holding MLflow's shared secret; `None`: no webhooks.
    pub secret: Option<(String, String)>,
    pub poll_every: Duration,
}

/// The triggers' worker, shared by the webhook receiver and the poller.
pub struct Triggers {
    ctx: Arc<Context>,
    config: TriggerConfig,
    replays: std::sync::Mutex<ReplayGuard>,
    /// One act at a time in this replica: a start and the status write that records it.
    acting: Mutex<()>,
}

/// What the receiver answers a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub text: String,
}

impl Answer {
    fn new(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

/// What came of asking for a rollout of a version.
enum Fired {
    Started(String),
    AlreadyStarted(String),
}

impl Triggers {
    pub fn new(ctx: Arc<Context>, config: TriggerConfig) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            config,
            replays: std::sync::Mutex::new(ReplayGuard::default()),
            acting: Mutex::new(()),
        })
    }

    /// A webhook delivery: verified, then acted on by the lease holder. A replica that does not
    /// hold the lease answers 503 (MLflow retries, with the same delivery id, and the poll
    /// finds what the retries miss) rather than accept what it will not act on.
    pub async fn deliver(&self, headers: &Headers, body: &[u8]) -> Answer {
        if !self.ctx.telemetry.leads() {
            return Answer::new(503, "this replica does not hold the lease; retry");
        }
        let Some((ns, name)) = &self.config.secret else {
            return Answer::new(503, "no webhook secret configured (--webhook-secret)");
        };
        let secret = match self.ctx.cluster.webhook_secret(ns, name).await {
            Ok(s) => s,
            Err(e) => {
                crate::logging::warn_limited("triggers.secret", &e.to_string());
                return Answer::new(503, "the webhook secret cannot be read; retry");
            }
        };
        let now = Utc::now();
        let verified = signature::verify(&secret, headers, body, now.timestamp()).and_then(|v| {
            let mut guard = self
                .replays
                .lock()
                .map_err(|_| signature::Rejected::MalformedSignature)?;
            guard.admit(&v, now.timestamp()).map(|()| v)
        });
        let delivery = headers.delivery_id.clone().unwrap_or_default();
        let verified = match verified {
            Ok(v) => v,
            Err(why) => {
                // Untrusted: the body only says which triggers to show the rejection on.
                let claimed = triggers::parse_webhook(body).ok();
                tracing::warn!(delivery = %mlops_core::text::truncate(&delivery, 64), reason = %why, "webhook delivery rejected");
                self.record_rejection(claimed.as_ref(), &delivery, &why.to_string())
                    .await;
                let code = match why {
                    signature::Rejected::Replayed(_) => 409,
                    _ => 401,
                };
                return Answer::new(code, format!("rejected: {why}"));
            }
        };
        let event = match triggers::parse_webhook(body) {
            Ok(e) => e,
            Err(why) => {
                tracing::warn!(delivery = %verified.delivery_id, reason = %why, "webhook body refused");
                return Answer::new(400, format!("not an MLflow webhook body: {why}"));
            }
        };
        match self.on_event(&event, &verified.delivery_id).await {
            Ok(done) => Answer::new(200, done),
            Err(e) => {
                // Not done: let MLflow's retry (same id) in.
                if let Ok(mut guard) = self.replays.lock() {
                    guard.forget(&verified.delivery_id);
                }
                Answer::new(503, format!("not done, retry: {e}"))
            }
        }
    }

    /// A verified event: every trigger it matches starts its rollout.
    async fn on_event(&self, event: &RegistryEvent, delivery: &str) -> Result<String, CoreError> {
        let all = self.ctx.cluster.all_triggers().await?;
        let lost = contested(&all);
        let mut done = Vec::new();
        for t in &all {
            let record = t.record();
            let Some(version) = triggers::matches(&record.spec, event) else {
                continue;
            };
            let _acting = self.acting.lock().await;
            let mut status = self.fresh_status(&record.namespace, &record.name).await?;
            let outcome =
                if let Some(winner) = lost.get(&(record.namespace.clone(), record.name.clone())) {
                    Err(format!(
                        "Deployment {} is claimed by the older trigger {winner}",
                        record.spec.deployment
                    ))
                } else {
                    self.fire(t, version, delivery)
                        .await
                        .map_err(|e| e.to_string())
                };
            let reason = note(&mut status, &outcome);
            status.last_event = Some(LastEvent {
                kind: event.kind(),
                version: Some(version),
                time: Utc::now(),
                delivery_id: delivery.to_string(),
                verdict: "verified".into(),
                reason: reason.clone(),
            });
            self.write_status(&record.namespace, &record.name, &status)
                .await;
            done.push(format!("{}/{}: {reason}", record.namespace, record.name));
        }
        Ok(if done.is_empty() {
            format!("verified; no trigger matches {}", event.kind())
        } else {
            done.join("; ")
        })
    }

    /// Show a rejected delivery on the triggers of the model its body names (if it names one).
    async fn record_rejection(&self, claimed: Option<&RegistryEvent>, delivery: &str, why: &str) {
        let Some(model) = claimed.and_then(RegistryEvent::model) else {
            return;
        };
        let Ok(all) = self.ctx.cluster.all_triggers().await else {
            return;
        };
        for t in all.iter().filter(|t| t.spec.trigger.model == model) {
            let record = t.record();
            let _acting = self.acting.lock().await;
            let Ok(mut status) = self.fresh_status(&record.namespace, &record.name).await else {
                continue;
            };
            status.last_event = Some(LastEvent {
                kind: claimed.map(RegistryEvent::kind).unwrap_or_default(),
                version: claimed.and_then(RegistryEvent::version),
                time: Utc::now(),
                delivery_id: mlops_core::text::truncate(delivery, 64).into_owned(),
                verdict: "rejected".into(),
                reason: why.to_string(),
            });
            self.write_status(&record.namespace, &record.name, &status)
                .await;
            self.ctx
                .cluster
                .post_event(
                    &record.namespace,
                    &t.object_ref(&()),
                    "DeliveryRejected",
                    &format!("webhook delivery rejected: {why}"),
                    true,
                    &self.ctx.id,
                )
                .await;
        }
    }

    async fn fresh_status(&self, ns: &str, name: &str) -> Result<TriggerStatus, CoreError> {
        Ok(self.ctx.cluster.trigger(ns, name).await?.status)
    }

    async fn write_status(&self, ns: &str, name: &str, status: &TriggerStatus) {
        if let Err(e) = self.ctx.cluster.set_trigger_status(ns, name, status).await {
            crate::logging::warn_limited("triggers.status", &e.to_string());
        }
    }

    /// Roll `version` out as trigger `t` says, once: the rollout's name is the trigger's and the
    /// version's, so one that exists was started already.
    async fn fire(
        &self,
        t: &RolloutTrigger,
        version: u32,
        delivery: &str,
    ) -> Result<Fired, CoreError> {
        let record = t.record();
        let ns = record.namespace.clone();
        let name = triggers::rollout_name(&record.name, version);
        if self.ctx.cluster.rollout_exists(&ns, &name).await? {
            return Ok(Fired::AlreadyStarted(name));
        }
        let steps = self.template(&record.spec.template)?;
        let spec = rollout::RolloutSpec {
            model: rollout::ModelRef {
                name: record.spec.model.clone(),
                version,
            },
            stable_version: 0,
            deployment: record.spec.deployment.clone(),
            image: "from-the-registry".into(),
            replicas: 1,
            http_route: None,
            steps,
            analysis: rollout::default_analysis(&record.spec.model),
            approval: rollout::ApprovalGate { required: 1 },
        };
        rollout::validate(&spec)?;
        let plan = StartPlan {
            namespace: ns.clone(),
            name: name.clone(),
            spec,
            image_given: false,
            change: None,
            origin: Some(Origin {
                trigger: record.name.clone(),
                delivery: delivery.to_string(),
            }),
        };
        let started = start_rollout(
            &self.ctx.cluster,
            self.ctx.registry.as_deref(),
            self.config.policy.as_ref(),
            plan,
        )
        .await;
        match started {
            Ok(s) => {
                if let Some(e) = s.untagged {
                    crate::logging::warn_limited(
                        "triggers.tags",
                        &format!(
                            "rollout {ns}/{name} started; the registry's tags were not set: {e}"
                        ),
                    );
                }
                tracing::info!(trigger = %record.name, namespace = %ns, rollout = %name, delivery, "trigger started a rollout");
                self.ctx
                    .cluster
                    .post_event(
                        &ns,
                        &t.object_ref(&()),
                        "RolloutStarted",
                        &format!(
                            "started ModelRollout {name} ({} v{version}, delivery {delivery})",
                            record.spec.model
                        ),
                        false,
                        &self.ctx.id,
                    )
                    .await;
                Ok(Fired::Started(name))
            }
            // Another start won the race: it exists now.
            Err(_)
                if self
                    .ctx
                    .cluster
                    .rollout_exists(&ns, &name)
                    .await
                    .unwrap_or(false) =>
            {
                Ok(Fired::AlreadyStarted(name))
            }
            Err(StartFailed::Core(e)) => Err(e),
            Err(e @ StartFailed::NoImage(_)) => Err(CoreError::backend("registry", e.to_string())),
        }
    }

    fn template(&self, name: &str) -> Result<Vec<rollout::Step>, CoreError> {
        self.config
            .templates
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.steps.clone())
            .ok_or_else(|| CoreError::NotFound {
                kind: "step template",
                name: name.to_string(),
            })
    }

    /// Poll the registry for each trigger every `poll_every` while this replica leads (the
    /// first poll within a second of taking the lease).
    pub async fn poll_forever(self: Arc<Self>) {
        let mut last: Option<tokio::time::Instant> = None;
        loop {
            let due = last.is_none_or(|at| at.elapsed() >= self.config.poll_every);
            if !self.ctx.telemetry.leads() {
                last = None;
            } else if due {
                last = Some(tokio::time::Instant::now());
                if let Err(e) = self.poll_once().await {
                    crate::logging::warn_limited(
                        "triggers.poll",
                        &format!("polling the triggers: {e}"),
                    );
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One poll: each trigger's readiness (model, Deployment, template, a contested
    /// Deployment), and what changed in its model since its cursor.
    pub async fn poll_once(&self) -> Result<(), CoreError> {
        let all = self.ctx.cluster.all_triggers().await?;
        let lost = contested(&all);
        for t in &all {
            let record = t.record();
            let _acting = self.acting.lock().await;
            let mut status = self.fresh_status(&record.namespace, &record.name).await?;
            let before = status.clone();
            let now = Utc::now();
            match self.check(t, &lost).await {
                Err((reason, message)) => {
                    if reason == "DeploymentContested"
                        || before.not_ready().map(|(r, _)| r) != Some(reason.as_str())
                    {
                        self.ctx
                            .cluster
                            .post_event(
                                &record.namespace,
                                &t.object_ref(&()),
                                &reason,
                                &message,
                                true,
                                &self.ctx.id,
                            )
                            .await;
                    }
                    status.set_ready(Err((reason, message)), now);
                }
                Ok((condition, model)) => {
                    status.set_ready(Ok(()), now);
                    let (fire, cursor) =
                        triggers::poll::poll(&condition, &model, &status.poll, now);
                    status.poll = cursor;
                    if let Some(version) = fire {
                        let outcome = self.fire(t, version, POLL).await.map_err(|e| e.to_string());
                        let reason = note(&mut status, &outcome);
                        status.last_event = Some(LastEvent {
                            kind: format!("poll: {condition}"),
                            version: Some(version),
                            time: now,
                            delivery_id: POLL.into(),
                            verdict: "verified".into(),
                            reason,
                        });
                    }
                }
            }
            // The cursor's time moves on every poll: the status says when the registry was read.
            if status != before {
                self.write_status(&record.namespace, &record.name, &status)
                    .await;
            }
        }
        Ok(())
    }

    /// Whether trigger `t` can act: its condition, template, Deployment and model, and that it
    /// owns its Deployment. The reason (a `Ready=False` reason) and a message naming what is
    /// wrong otherwise.
    async fn check(
        &self,
        t: &RolloutTrigger,
        lost: &std::collections::BTreeMap<(String, String), String>,
    ) -> Result<(Condition, mlops_core::model::RegisteredModel), (String, String)> {
        let r = t.record();
        let condition = r
            .spec
            .when
            .condition()
            .map_err(|e| ("InvalidWhen".to_string(), e))?;
        if let Some(winner) = lost.get(&(r.namespace.clone(), r.name.clone())) {
            return Err((
                "DeploymentContested".into(),
                format!(
                    "Deployment {}/{} is claimed by the older RolloutTrigger {winner}: this one does nothing",
                    r.namespace, r.spec.deployment
                ),
            ));
        }
        if let Err(e) = self.template(&r.spec.template) {
            let known: Vec<&str> = self
                .config
                .templates
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            return Err((
                "TemplateNotFound".into(),
                format!("{e} (known: {})", known.join(", ")),
            ));
        }
        if let Err(e) = self
            .ctx
            .cluster
            .serving(&r.namespace, &r.spec.deployment)
            .await
        {
            return Err(("DeploymentNotFound".into(), e.to_string()));
        }
        let Some(registry) = &self.ctx.registry else {
            return Err((
                "NoRegistry".into(),
                "the controller has no registry (MLFLOW_TRACKING_URI)".into(),
            ));
        };
        match registry.model(&r.spec.model).await {
            Ok(m) => Ok((condition, m)),
            Err(e @ CoreError::NotFound { .. }) => Err(("ModelNotFound".into(), e.to_string())),
            Err(e) => Err(("RegistryUnavailable".into(), e.to_string())),
        }
    }
}

/// Record what came of a start in `status`; the reason the last event shows.
fn note(status: &mut TriggerStatus, outcome: &Result<Fired, String>) -> String {
    match outcome {
        Ok(Fired::Started(name)) => {
            status.started_rollout = Some(name.clone());
            format!("started {name}")
        }
        Ok(Fired::AlreadyStarted(name)) => format!("{name} was started already: nothing more"),
        Err(e) => format!("not started: {e}"),
    }
}

/// The triggers that lose their Deployment to an older one.
fn contested(all: &[RolloutTrigger]) -> std::collections::BTreeMap<(String, String), String> {
    let claimants: Vec<Claimant> = all
        .iter()
        .map(|t| Claimant {
            namespace: t.metadata.namespace.clone().unwrap_or_default(),
            name: t.metadata.name.clone().unwrap_or_default(),
            deployment: t.spec.trigger.deployment.clone(),
            created: t.created(),
        })
        .collect();
    triggers::contested(&claimants)
}
