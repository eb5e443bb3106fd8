//! RolloutTriggers in the simulation, kept the way the controller keeps them: each is polled
//! against the simulated registry with the core's own decisions (`triggers::poll`,
//! `When::condition`, `rollout_name`), a version it fires on is rolled out under the trigger's
//! template, and a forged webhook delivery is rejected by the core's signature check. The
//! script moves an alias one trigger watches, so the demo shows a trigger start a rollout.

use super::Sim;
use crate::{
    demo::{catalog::SERVING_NAMESPACE, scenarios::Scenario},
    model::Track,
    rollout::templates,
    triggers::{
        self, LastEvent, POLL, RegistryEvent, TriggerRecord, TriggerSpec, TriggerStatus, When,
        signature::{self, Headers},
    },
};

/// How often the simulated controller polls the registry for its triggers (seconds).
pub(super) const POLL_SECONDS: i64 = 30;
/// The cluster the demo's triggers live in.
pub(super) const TRIGGER_CLUSTER: &str = "us-prod";
/// The model whose `staging` alias the script moves (at `ALIAS_MOVED_AT`).
const ALIAS_MODEL: &str = "eta-predictor";
/// When the script points `staging` at the model's newest version (seconds from the start).
const ALIAS_MOVED_AT: i64 = -5 * 60;
/// When a forged delivery (signed with the wrong secret) reaches the webhook.
const FORGED_AT: i64 = -3 * 60;
/// The webhook's shared secret in the simulation (the forged delivery does not know it).
const SECRET: &str = "demo-webhook-secret";

/// The demo's triggers, before any poll.
pub(super) fn seeded() -> Vec<TriggerRecord> {
    let t = |name: &str, model: &str, when: When, deployment: &str, template: &str| TriggerRecord {
        namespace: SERVING_NAMESPACE.into(),
        name: name.into(),
        cluster: TRIGGER_CLUSTER.into(),
        spec: TriggerSpec {
            model: model.into(),
            when,
            deployment: deployment.into(),
            template: template.into(),
        },
        status: TriggerStatus::default(),
    };
    vec![
        t(
            "eta-predictor-staging",
            ALIAS_MODEL,
            When {
                alias: Some("staging".into()),
                ..When::default()
            },
            ALIAS_MODEL,
            "quick",
        ),
        t(
            "image-tagger-created",
            "image-tagger",
            When {
                version_created: Some(true),
                ..When::default()
            },
            "image-tagger",
            "canary",
        ),
        // Both an alias and a tag: the core's `When::condition` refuses it (Ready=False).
        t(
            "demand-forecast-validated",
            "demand-forecast",
            When {
                alias: Some("champion".into()),
                tag: Some("validation_status=passed".into()),
                ..When::default()
            },
            "demand-forecast",
            "canary",
        ),
    ]
}

impl Sim {
    /// The script's registry changes and webhook deliveries, and a poll every `POLL_SECONDS`.
    pub(super) fn step_triggers(&mut self) {
        let rel = self.rel();
        if rel == ALIAS_MOVED_AT {
            let newest = self
                .models
                .iter()
                .find(|m| m.name == ALIAS_MODEL)
                .and_then(|m| m.versions.iter().map(|v| v.version).max());
            if let Some(v) = newest {
                // The model and version exist: the simulated registry cannot refuse.
                let _ = self.set_alias(ALIAS_MODEL, "staging", v);
            }
        }
        if rel == FORGED_AT {
            self.forged_delivery();
        }
        if rel.rem_euclid(POLL_SECONDS) == 0 {
            self.poll_triggers();
        }
    }

    /// Poll each trigger as the controller does: check it, read its model, and roll out what
    /// the core's `poll` says changed since its cursor.
    pub(super) fn poll_triggers(&mut self) {
        let now = self.now;
        for i in 0..self.triggers.len() {
            let record = self.triggers[i].clone();
            let mut status = record.status.clone();
            match self.check_trigger(&record) {
                Err((reason, message)) => status.set_ready(Err((reason, message)), now),
                Ok(condition) => {
                    status.set_ready(Ok(()), now);
                    let Ok(model) = self.model(&record.spec.model).cloned() else {
                        continue;
                    };
                    let (fire, cursor) =
                        triggers::poll::poll(&condition, &model, &status.poll, now);
                    status.poll = cursor;
                    if let Some(version) = fire {
                        let name = self.fire_trigger(&record, version);
                        status.started_rollout = Some(name.clone());
                        status.last_event = Some(LastEvent {
                            kind: format!("poll: {condition}"),
                            version: Some(version),
                            time: now,
                            delivery_id: POLL.into(),
                            verdict: "verified".into(),
                            reason: format!("started {name}"),
                        });
                    }
                }
            }
            self.triggers[i].status = status;
        }
    }

    /// Whether a trigger can act, with the controller's `Ready=False` reasons.
    fn check_trigger(&self, r: &TriggerRecord) -> Result<triggers::Condition, (String, String)> {
        let condition = r
            .spec
            .when
            .condition()
            .map_err(|e| ("InvalidWhen".to_string(), e))?;
        if !templates().iter().any(|t| t.name == r.spec.template) {
            return Err((
                "TemplateNotFound".into(),
                format!("no step template {:?}", r.spec.template),
            ));
        }
        if !self.deployments.iter().any(|d| {
            d.cluster == TRIGGER_CLUSTER && d.name == r.spec.deployment && d.track == Track::Stable
        }) {
            return Err((
                "DeploymentNotFound".into(),
                format!("Deployment {}/{} not found", r.namespace, r.spec.deployment),
            ));
        }
        if let Err(e) = self.model(&r.spec.model) {
            return Err(("ModelNotFound".into(), e.to_string()));
        }
        Ok(condition)
    }

    /// Start the rollout of `version` for trigger `r` (named by the core's `rollout_name`),
    /// under its template's steps; its name.
    fn fire_trigger(&mut self, r: &TriggerRecord, version: u32) -> String {
        let name = triggers::rollout_name(&r.name, version);
        if self.rollouts.iter().any(|x| x.record.name == name) {
            return name;
        }
        let steps = templates()
            .into_iter()
            .find(|t| t.name == r.spec.template)
            .map(|t| t.steps)
            .unwrap_or_default();
        let Some(model) = crate::demo::catalog::SERVED
            .iter()
            .map(|s| s.0)
            .find(|m| *m == r.spec.model)
        else {
            return name;
        };
        let scenario = Scenario {
            cluster: TRIGGER_CLUSTER,
            model,
            version: Some(version),
            at: self.rel(),
            steps,
            interval: 30,
            failure_limit: 2,
            approvals: 0,
            canary_error: 0.005,
            canary_latency_ms: 105.0,
            route: None,
            canary_inputs: &[],
            policy: None,
            slo_burn: None,
        };
        let place = self.rollouts.len() + 100;
        self.create_rollout_as(
            place,
            &scenario,
            &name,
            &format!("rolloutTrigger/{}", r.name),
        );
        name
    }

    /// A delivery signed with the wrong secret: the core's signature check rejects it, and the
    /// triggers of the model it names record the rejection (as the controller does).
    fn forged_delivery(&mut self) {
        let body = br#"{"entity":"model_version","action":"created","timestamp":"0","data":{"name":"image-tagger","version":"9"}}"#;
        let delivery = "d-7f3a9c";
        let ts = self.now.timestamp().to_string();
        let headers = Headers {
            delivery_id: Some(delivery.into()),
            timestamp: Some(ts.clone()),
            signature: Some(signature::sign("not-the-secret", delivery, &ts, body)),
        };
        let Err(why) = signature::verify(SECRET, &headers, body, self.now.timestamp()) else {
            return;
        };
        let claimed = triggers::parse_webhook(body).ok();
        let model = claimed
            .as_ref()
            .and_then(RegistryEvent::model)
            .map(str::to_string);
        let now = self.now;
        for t in self
            .triggers
            .iter_mut()
            .filter(|t| Some(&t.spec.model) == model.as_ref())
        {
            t.status.last_event = Some(LastEvent {
                kind: claimed
                    .as_ref()
                    .map(RegistryEvent::kind)
                    .unwrap_or_default(),
                version: claimed.as_ref().and_then(RegistryEvent::version),
                time: now,
                delivery_id: delivery.into(),
                verdict: "rejected".into(),
                reason: why.to_string(),
            });
        }
    }
}
