//! Rollouts started by the registry: a `RolloutTrigger` says "when a version of model M gets
//! alias A (or tag K=V, or is created), roll it out to Deployment D with template T". This module
//! owns the decisions — what a trigger's `when` means, reading MLflow's webhook body, which
//! triggers an event matches, what a poll of the registry finds, which of two triggers owns a
//! Deployment, and the rollout's name, deterministic in (trigger, version) so that creating it
//! is idempotent across retries, restarts and replicas. The controller does the I/O.

pub mod poll;
pub mod signature;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, fmt::Write as _};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The annotation on a rollout a trigger started: the trigger's name.
pub const TRIGGERED_BY_ANNOTATION: &str = "mlops.dev/triggered-by";
/// The annotation on a rollout a trigger started: the delivery id, or `poll`.
pub const DELIVERY_ANNOTATION: &str = "mlops.dev/trigger-delivery";
/// The audit action of a rollout a trigger started.
pub const TRIGGER_START_ACTION: &str = "trigger.start";
/// What a rollout found by polling records instead of a delivery id.
pub const POLL: &str = "poll";
/// The largest webhook body read (1 MiB); a longer one is answered 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// When a trigger fires: exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct When {
    /// A version gets this alias (also when the alias moves to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// A version gets this tag, `KEY=VALUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// A version is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_created: Option<bool>,
}

/// `spec` of a RolloutTrigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpec {
    /// The registered model.
    pub model: String,
    pub when: When,
    /// The serving Deployment in the trigger's namespace.
    pub deployment: String,
    /// A step template: shipped, or from the controller's config.toml.
    pub template: String,
}

/// `when`, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Alias(String),
    Tag { key: String, value: String },
    VersionCreated,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Alias(a) => write!(f, "alias {a}"),
            Condition::Tag { key, value } => write!(f, "tag {key}={value}"),
            Condition::VersionCreated => f.write_str("version created"),
        }
    }
}

impl When {
    /// The one condition `when` names, or why it names none or several.
    pub fn condition(&self) -> Result<Condition, String> {
        let mut found = Vec::new();
        if let Some(a) = &self.alias {
            if a.trim().is_empty() {
                return Err("spec.when.alias is empty".into());
            }
            found.push(Condition::Alias(a.trim().to_string()));
        }
        if let Some(t) = &self.tag {
            let Some((k, v)) = t.split_once('=') else {
                return Err(format!(
                    "spec.when.tag {:?} is not KEY=VALUE (e.g. \"validation_status=passed\")",
                    crate::text::truncate(t, 80)
                ));
            };
            if k.trim().is_empty() {
                return Err(format!("spec.when.tag {t:?} has an empty key"));
            }
            found.push(Condition::Tag {
                key: k.trim().to_string(),
                value: v.trim().to_string(),
            });
        }
        match self.version_created {
            Some(true) => found.push(Condition::VersionCreated),
            Some(false) => {
                return Err("spec.when.versionCreated is false: nothing to wait for".into());
            }
            None => {}
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err("spec.when names nothing: give one of alias, tag (KEY=VALUE) or versionCreated: true".into()),
            _ => Err("spec.when names more than one of alias, tag and versionCreated: give one".into()),
        }
    }
}

/// What the registry said happened, from a webhook or a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    VersionCreated {
        model: String,
        version: u32,
    },
    AliasSet {
        model: String,
        alias: String,
        version: u32,
    },
    TagSet {
        model: String,
        version: u32,
        key: String,
        value: String,
    },
    /// An event of MLflow's we do not act on (prompts, deletions, a test ping).
    Other {
        entity: String,
        action: String,
    },
}

impl RegistryEvent {
    /// The kind as the trigger's status shows it.
    pub fn kind(&self) -> String {
        match self {
            RegistryEvent::VersionCreated { .. } => "model_version.created".into(),
            RegistryEvent::AliasSet { alias, .. } => {
                format!("model_version_alias.created ({alias})")
            }
            RegistryEvent::TagSet { key, value, .. } => {
                format!("model_version_tag.set ({key}={value})")
            }
            RegistryEvent::Other { entity, action } => format!("{entity}.{action}"),
        }
    }

    pub fn model(&self) -> Option<&str> {
        match self {
            RegistryEvent::VersionCreated { model, .. }
            | RegistryEvent::AliasSet { model, .. }
            | RegistryEvent::TagSet { model, .. } => Some(model),
            RegistryEvent::Other { .. } => None,
        }
    }

    pub fn version(&self) -> Option<u32> {
        match self {
            RegistryEvent::VersionCreated { version, .. }
            | RegistryEvent::AliasSet { version, .. }
            | RegistryEvent::TagSet { version, .. } => Some(*version),
            RegistryEvent::Other { .. } => None,
        }
    }
}

/// MLflow's webhook body: `{entity, action, timestamp, data}`.
#[derive(Debug, Deserialize)]
struct Body {
    entity: String,
    action: String,
    #[allow(dead_code)]
    timestamp: String,
    data: serde_json::Map<String, serde_json::Value>,
}

/// Read a webhook body as MLflow sends it; anything else is an error saying what is wrong.
pub fn parse_webhook(body: &[u8]) -> Result<RegistryEvent, String> {
    if body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "body of {} bytes (at most {MAX_BODY_BYTES})",
            body.len()
        ));
    }
    let b: Body = serde_json::from_slice(body).map_err(|e| {
        format!("not an MLflow webhook body {{entity, action, timestamp, data}}: {e}")
    })?;
    let text = |key: &str| -> Result<String, String> {
        b.data
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "{}.{}: data.{key} is missing or not a string",
                    b.entity, b.action
                )
            })
    };
    let version = || -> Result<u32, String> {
        let v = text("version")?;
        v.parse::<u32>().map_err(|_| {
            format!(
                "{}.{}: data.version {:?} is not a version number",
                b.entity,
                b.action,
                crate::text::truncate(&v, 40)
            )
        })
    };
    Ok(match (b.entity.as_str(), b.action.as_str()) {
        ("model_version", "created") => RegistryEvent::VersionCreated {
            model: text("name")?,
            version: version()?,
        },
        ("model_version_alias", "created") => RegistryEvent::AliasSet {
            model: text("name")?,
            alias: text("alias")?,
            version: version()?,
        },
        ("model_version_tag", "set") => RegistryEvent::TagSet {
            model: text("name")?,
            version: version()?,
            key: text("key")?,
            value: text("value")?,
        },
        _ => RegistryEvent::Other {
            entity: crate::text::truncate(&b.entity, 60).into_owned(),
            action: crate::text::truncate(&b.action, 60).into_owned(),
        },
    })
}

/// The version `event` asks `spec` to roll out, if it matches.
pub fn matches(spec: &TriggerSpec, event: &RegistryEvent) -> Option<u32> {
    if event.model() != Some(spec.model.as_str()) {
        return None;
    }
    let condition = spec.when.condition().ok()?;
    match (condition, event) {
        (Condition::Alias(a), RegistryEvent::AliasSet { alias, version, .. }) if &a == alias => {
            Some(*version)
        }
        (
            Condition::Tag { key, value },
            RegistryEvent::TagSet {
                key: k,
                value: v,
                version,
                ..
            },
        ) if &key == k && &value == v => Some(*version),
        (Condition::VersionCreated, RegistryEvent::VersionCreated { version, .. }) => {
            Some(*version)
        }
        _ => None,
    }
}

/// The rollout a trigger starts for `version`: `<trigger>-v<version>`, a valid object name
/// (a long trigger name is cut and a digest of the whole keeps it unique). The same
/// (trigger, version) always gives the same name: creating it a second time finds it exists.
pub fn rollout_name(trigger: &str, version: u32) -> String {
    let name = format!("{trigger}-v{version}");
    if name.len() <= 63 {
        return name;
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(name.as_bytes());
    let hex = digest.iter().take(4).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let suffix = format!("-{hex}-v{version}");
    let mut head: String = trigger.chars().take(63 - suffix.len()).collect();
    while head.ends_with(['-', '.']) {
        head.pop();
    }
    format!("{head}{suffix}")
}

/// What the poller remembers of the registry for one trigger (in its status, so a restart
/// does not fire again on what was seen before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollCursor {
    /// When the registry was last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polled_at: Option<DateTime<Utc>>,
    /// The version the alias pointed at (alias triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_version: Option<u32>,
    /// The newest version creation time seen, MLflow's `creation_timestamp` in ms (version
    /// created triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<i64>,
    /// The versions carrying the tag (tag triggers), at most [`MAX_TAGGED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tagged: Vec<u32>,
}

/// The most tagged versions a cursor keeps (the newest).
pub const MAX_TAGGED: usize = 64;

/// A trigger as the claim on Deployments sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub namespace: String,
    pub name: String,
    pub deployment: String,
    pub created: DateTime<Utc>,
}

/// For each trigger that loses a Deployment to another: the winner's name. The older trigger
/// wins (then the name, so every replica agrees).
pub fn contested(all: &[Claimant]) -> BTreeMap<(String, String), String> {
    let mut owner: BTreeMap<(&str, &str), &Claimant> = BTreeMap::new();
    for c in all {
        let key = (c.namespace.as_str(), c.deployment.as_str());
        match owner.get(&key) {
            Some(o) if (o.created, &o.name) <= (c.created, &c.name) => {}
            _ => {
                owner.insert(key, c);
            }
        }
    }
    all.iter()
        .filter_map(|c| {
            let o = owner.get(&(c.namespace.as_str(), c.deployment.as_str()))?;
            (o.name != c.name).then(|| ((c.namespace.clone(), c.name.clone()), o.name.clone()))
        })
        .collect()
}

/// The last event a trigger received, as its status keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastEvent {
    /// `model_version_alias.created (champion)`, …
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub time: DateTime<Utc>,
    /// MLflow's `X-MLflow-Delivery-Id`, or `poll`.
    pub delivery_id: String,
    /// `verified`, or `rejected`.
    pub verdict: String,
    /// Why it was rejected, or what came of it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// One condition of a trigger (`Ready`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerCondition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: DateTime<Utc>,
}

/// `status` of a RolloutTrigger, kept by the controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<LastEvent>,
    /// The last rollout this trigger started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_rollout: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TriggerCondition>,
    #[serde(default)]
    pub poll: PollCursor,
}

impl TriggerStatus {
    /// Set the `Ready` condition; the transition time moves only when the status does.
    pub fn set_ready(&mut self, ready: Result<(), (String, String)>, now: DateTime<Utc>) {
        let (status, reason, message) = match ready {
            Ok(()) => ("True".to_string(), "Ready".to_string(), String::new()),
            Err((reason, message)) => ("False".to_string(), reason, message),
        };
        let before = self.conditions.iter().find(|c| c.type_ == "Ready");
        let time = match before {
            Some(c) if c.status == status => c.last_transition_time,
            _ => now,
        };
        self.conditions.retain(|c| c.type_ != "Ready");
        self.conditions.push(TriggerCondition {
            type_: "Ready".into(),
            status,
            reason,
            message,
            last_transition_time: time,
        });
    }

    /// The `Ready` condition's reason and message when it is False.
    pub fn not_ready(&self) -> Option<(&str, &str)> {
        self.conditions
            .iter()
            .find(|c| c.type_ == "Ready" && c.status == "False")
            .map(|c| (c.reason.as_str(), c.message.as_str()))
    }
}

/// The RolloutTriggers as a cluster snapshot holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TriggersRead {
    Listed(Vec<TriggerRecord>),
    /// Why they could not be read, in a sentence ("RolloutTrigger CRD not installed (mlops
    /// install)", the verb and resource a 403 refused).
    Unavailable(String),
}

impl Default for TriggersRead {
    fn default() -> Self {
        TriggersRead::Listed(Vec::new())
    }
}

impl TriggersRead {
    /// The triggers read (none when they could not be).
    pub fn listed(&self) -> &[TriggerRecord] {
        match self {
            TriggersRead::Listed(all) => all,
            TriggersRead::Unavailable(_) => &[],
        }
    }

    /// Why they could not be read.
    pub fn unavailable(&self) -> Option<&str> {
        match self {
            TriggersRead::Listed(_) => None,
            TriggersRead::Unavailable(why) => Some(why),
        }
    }
}

/// What a snapshot says when the RolloutTrigger CRD is not installed.
pub const CRD_MISSING: &str = "RolloutTrigger CRD not installed (mlops install)";

/// A trigger as the CLI and the console show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRecord {
    pub namespace: String,
    pub name: String,
    /// The cluster (kubeconfig context) it was read from, as `RolloutRecord::cluster`; empty
    /// where no cluster is known (a record from before this field).
    #[serde(default)]
    pub cluster: String,
    pub spec: TriggerSpec,
    pub status: TriggerStatus,
}
