//! One function per source: what a port gives, as timeline entries. Each says which model (and
//! version) an entry concerns, whether it changed something, and what names the happening
//! whatever the source (`same`), so `merge` can fold two sightings into one.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::{Entry, Kind, Source};
use crate::{
    analysis::Verdict,
    audit::AuditEntry,
    drift::DriftStatus,
    model::{Alert, ClusterEvent, ClusterSnapshot, EventKind, FeatureDrift, Gpu, RegisteredModel},
    rollout::{self, Phase, RolloutRecord, Step, Verb},
};

/// Which model (and version) the cluster's objects belong to, learned from a snapshot: its
/// rollouts, Deployments and pods, and the models each node runs.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    rollouts: HashMap<(String, String), (String, u32)>,
    deployments: HashMap<(String, String), (String, Option<u32>)>,
    pods: HashMap<(String, String), (String, Option<u32>)>,
    nodes: HashMap<String, BTreeSet<String>>,
}

/// A model and, when known, its version.
pub type Owner = (String, Option<u32>);

impl Owners {
    pub fn of(snapshot: &ClusterSnapshot) -> Self {
        let mut o = Owners::default();
        for d in &snapshot.deployments {
            o.deployments.insert(
                (d.namespace.clone(), d.name.clone()),
                (d.model.clone(), Some(d.version)),
            );
        }
        for r in &snapshot.rollouts {
            let (ns, model) = (&r.namespace, &r.spec.model);
            o.rollouts.insert(
                (ns.clone(), r.name.clone()),
                (model.name.clone(), model.version),
            );
            // A canary Deployment scaled away is no longer listed; its Events still are.
            o.deployments
                .entry((ns.clone(), format!("{}-canary", r.spec.deployment)))
                .or_insert_with(|| (model.name.clone(), Some(model.version)));
            o.deployments
                .entry((ns.clone(), r.spec.deployment.clone()))
                .or_insert_with(|| (model.name.clone(), None));
        }
        for p in &snapshot.pods {
            let Some(model) = &p.model else { continue };
            o.pods.insert(
                (p.namespace.clone(), p.name.clone()),
                (model.clone(), p.version),
            );
            if let Some(node) = &p.node {
                o.nodes
                    .entry(node.clone())
                    .or_default()
                    .insert(model.clone());
            }
        }
        o
    }

    /// The model of a rollout `namespace/name`; a rollout no longer listed is read from its
    /// name when it follows `<model>-v<version>`.
    pub fn rollout(&self, namespace: &str, name: &str) -> Option<(String, u32)> {
        self.rollouts
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .or_else(|| {
                let (model, version) = name.rsplit_once("-v")?;
                Some((model.to_string(), version.parse().ok()?))
            })
    }

    /// The owner of an Event's object (`deployment/x`, `pod/x-5d9c7-abcde`, …): a pod or a
    /// ReplicaSet gone since is known by the Deployment its name starts with.
    pub fn object(&self, namespace: &str, object: &str) -> Option<Owner> {
        let (kind, name) = object.split_once('/')?;
        let key = |n: &str| (namespace.to_string(), n.to_string());
        let deployment = |n: &str| self.deployments.get(&key(n)).cloned();
        match kind {
            "modelrollout" => self.rollout(namespace, name).map(|(m, v)| (m, Some(v))),
            "deployment" => deployment(name),
            "replicaset" => deployment(without_suffixes(name, 1)?),
            "pod" => self
                .pods
                .get(&key(name))
                .cloned()
                .or_else(|| deployment(without_suffixes(name, 2)?)),
            _ => None,
        }
    }

    /// The models a node runs pods of.
    pub fn node_models(&self, node: &str) -> BTreeSet<String> {
        self.nodes.get(node).cloned().unwrap_or_default()
    }
}

/// `name` less its last `n` `-suffix`es (a ReplicaSet's hash, a pod's).
fn without_suffixes(name: &str, n: usize) -> Option<&str> {
    let mut rest = name;
    for _ in 0..n {
        rest = rest.rsplit_once('-')?.0;
    }
    Some(rest)
}

fn phase_key(namespace: &str, name: &str, phase: &str) -> String {
    format!("phase:{namespace}/{name}:{phase}")
}

fn command_key(model: &str, action: &str) -> String {
    format!("command:{model}:{action}")
}

/// The rollouts' histories (the start, each step, each phase change) and their failed analysis
/// rounds.
pub fn from_rollouts(rollouts: &[RolloutRecord]) -> Vec<Entry> {
    let mut out = Vec::new();
    for r in rollouts {
        let (model, version) = (r.spec.model.name.as_str(), r.spec.model.version);
        let at = format!("{}/{}", r.namespace, r.name);
        for t in &r.status.history {
            let total = r.spec.steps.len();
            let step = format!("{}/{total}", (t.step + 1).min(total));
            let (kind, summary) = if t.from == Phase::Pending && t.to == Phase::Progressing {
                let summary = format!(
                    "rollout {} started: {model} v{version} against stable v{}; {}",
                    r.name, r.spec.stable_version, t.reason
                );
                (Kind::RolloutStarted, summary)
            } else if t.from == t.to {
                (Kind::Step, format!("{}: {}", r.name, t.reason))
            } else {
                let summary = format!("{}: {} → {}: {}", r.name, t.from, t.to, t.reason);
                (Kind::Phase, summary)
            };
            let mut e = Entry::new(t.time, Source::Rollout, kind, summary)
                .of(Some(model), Some(version))
                .detail("rollout", &at)
                .detail("cluster", &r.cluster)
                .detail("step", step)
                .detail("reason", &t.reason)
                .seen_as(format!("history of {at}"));
            if t.from != t.to {
                e = e.same_as(phase_key(&r.namespace, &r.name, t.to.as_str()));
            }
            let moves_traffic = matches!(r.spec.steps.get(t.step), Some(Step::SetWeight(_)));
            if kind == Kind::RolloutStarted || t.to == Phase::Promoted || moves_traffic {
                e = e.changing();
            }
            out.push(e);
        }
        out.extend(failed_rounds(r));
    }
    out
}

/// Each analysis round of `r` with a failing check, one entry per round.
fn failed_rounds(r: &RolloutRecord) -> Vec<Entry> {
    let mut rounds: Vec<(DateTime<Utc>, Vec<&crate::analysis::Measurement>)> = Vec::new();
    for m in &r.status.measurements {
        match rounds.last_mut() {
            Some((t, ms)) if *t == m.time => ms.push(m),
            _ => rounds.push((m.time, vec![m])),
        }
    }
    let at = format!("{}/{}", r.namespace, r.name);
    rounds
        .into_iter()
        .filter(|(_, ms)| ms.iter().any(|m| m.verdict == Verdict::Fail))
        .map(|(time, ms)| {
            let failed: Vec<String> = ms
                .iter()
                .filter(|m| m.verdict == Verdict::Fail)
                .map(|m| format!("{}: {}", m.metric, m.reason))
                .collect();
            let mut e = Entry::new(
                time,
                Source::Rollout,
                Kind::CheckFailed,
                format!("{}: analysis failed — {}", r.name, failed.join("; ")),
            )
            .of(Some(&r.spec.model.name), Some(r.spec.model.version))
            .detail("rollout", &at)
            .detail("cluster", &r.cluster)
            .seen_as(format!("analysis of {at}"));
            for m in ms {
                e = e.detail(
                    &format!("check.{}", m.metric),
                    format!("{}: {}", m.verdict.as_str(), m.reason),
                );
            }
            e
        })
        .collect()
}

/// Kubernetes Events of the objects `owners` knows (and of every node: a node's Event concerns
/// the models it runs).
pub fn from_events(events: &[ClusterEvent], owners: &Owners) -> Vec<Entry> {
    events
        .iter()
        .map(|ev| {
            let owner = owners.object(&ev.namespace, &ev.object);
            let node = ev.object.strip_prefix("node/");
            let xid = node.is_some() && ev.reason.to_ascii_lowercase().contains("xid");
            let kind = if xid { Kind::GpuXid } else { Kind::Event };
            let mut e = Entry::new(
                ev.time,
                Source::Kubernetes,
                kind,
                format!("{} {}: {}", ev.object, ev.reason, ev.message),
            )
            .of(
                owner.as_ref().map(|(m, _)| m.as_str()),
                owner.as_ref().and_then(|(_, v)| *v),
            )
            .detail("object", &ev.object)
            .detail("namespace", &ev.namespace)
            .detail("cluster", &ev.cluster)
            .detail("reason", &ev.reason)
            .detail("message", &ev.message)
            .detail(
                "type",
                match ev.kind {
                    EventKind::Warning => "Warning",
                    EventKind::Normal => "Normal",
                },
            )
            .seen_as(format!("Event {} on {}", ev.reason, ev.object));
            if let Some(node) = node {
                e.related = owners.node_models(node);
                if xid {
                    e = e.same_as(format!("xid:{node}"));
                }
            }
            if let Some(name) = ev.object.strip_prefix("modelrollout/") {
                if Phase::ALL.iter().any(|p| p.as_str() == ev.reason) {
                    e = e.same_as(phase_key(&ev.namespace, name, &ev.reason));
                } else if let (Some(verb), Some((model, _))) = (
                    Verb::ALL.iter().find(|v| v.event_reason() == ev.reason),
                    &owner,
                ) {
                    e = e
                        .same_as(command_key(model, verb.audit_action()))
                        .changing();
                }
            }
            if ev.reason == "ScalingReplicaSet" {
                e = e.changing();
            }
            e
        })
        .collect()
}

/// The audit log: commands with their user and comment, phase changes, alias moves.
pub fn from_audit(entries: &[AuditEntry], owners: &Owners) -> Vec<Entry> {
    entries
        .iter()
        .map(|a| {
            let by = if a.comment.is_empty() {
                format!("{} by {}", a.action, a.actor)
            } else {
                format!("{} by {}: {}", a.action, a.actor, a.comment)
            };
            let mut e = Entry::new(a.time, Source::Audit, Kind::Audit, String::new())
                .detail("seq", a.seq.to_string())
                .detail("actor", &a.actor)
                .detail("action", &a.action)
                .detail("target", &a.target)
                .detail("comment", &a.comment)
                .detail("details", &a.details)
                .seen_as(format!("#{} {}", a.seq, a.action));
            if let Some((model, alias)) = a.target.split_once('@') {
                e = e.of(Some(model), None);
                if a.action == "registry.alias" {
                    e.kind = Kind::AliasMoved;
                    e = e.changing();
                    e.summary = crate::text::line(&format!(
                        "{model}@{alias} moved {} by {}",
                        a.details, a.actor
                    ))
                    .into_owned();
                    return e;
                }
            }
            e.summary = if a.details.is_empty() {
                crate::text::line(&by).into_owned()
            } else {
                crate::text::line(&format!("{by} ({})", a.details)).into_owned()
            };
            // `namespace/name`, or the demo's `cluster/namespace/name`.
            let mut parts = a.target.rsplitn(3, '/');
            let (Some(name), Some(ns)) = (parts.next(), parts.next()) else {
                return e;
            };
            let owner = owners.rollout(ns, name);
            if let Some((model, version)) = &owner {
                e = e.of(Some(model), Some(*version));
            }
            let phase = a.action.strip_prefix("rollout.").and_then(|p| {
                Phase::ALL
                    .iter()
                    .find(|ph| ph.as_str().eq_ignore_ascii_case(p))
            });
            if let Some(phase) = phase {
                e.kind = Kind::Phase;
                e = e.same_as(phase_key(ns, name, phase.as_str()));
            } else if a.action == rollout::START_ACTION {
                e.kind = Kind::Command;
                e = e.changing();
            } else if Verb::ALL.iter().any(|v| v.audit_action() == a.action) {
                e.kind = Kind::Command;
                e = e.changing();
                if let Some((model, _)) = &owner {
                    e = e.same_as(command_key(model, &a.action));
                }
            }
            e
        })
        .collect()
}

/// The registry: each version registered, and the tags that carry when they were set
/// (`promoted_at`, and `mlops.action.*`, the registry's copy of a command).
pub fn from_registry(models: &[RegisteredModel]) -> Vec<Entry> {
    let mut out = Vec::new();
    for m in models {
        for v in &m.versions {
            let aliases = m.aliases_of(v.version).join(", ");
            out.push(
                Entry::new(
                    v.created,
                    Source::Registry,
                    Kind::VersionRegistered,
                    format!("{} v{} registered ({})", m.name, v.version, v.status),
                )
                .of(Some(&m.name), Some(v.version))
                .detail("run_id", v.run_id.clone().unwrap_or_default())
                .detail("image", v.image().unwrap_or_default())
                .detail("aliases_now", aliases)
                .seen_as(format!("{} v{}", m.name, v.version))
                .changing(),
            );
            for (key, value) in &v.tags {
                if let Some(e) = tag_entry(m, v.version, key, value) {
                    out.push(e);
                }
            }
        }
    }
    out
}

/// A version tag as an entry, when it says when it was set.
fn tag_entry(m: &RegisteredModel, version: u32, key: &str, value: &str) -> Option<Entry> {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.to_utc());
    let (time, same) = if key == "promoted_at" {
        (parse(value)?, None)
    } else if key.starts_with("mlops.action.") {
        // `rollout.abort by omar at 2026-…Z: why (rollout …)`, as `rollout::action_tags` writes.
        let (action, rest) = value.split_once(" by ")?;
        let (_, after) = rest.split_once(" at ")?;
        let stamp = after.split(' ').next()?.trim_end_matches(':');
        (parse(stamp)?, Some(command_key(&m.name, action)))
    } else {
        return None;
    };
    let mut e = Entry::new(
        time,
        Source::Registry,
        Kind::TagSet,
        format!("{} v{version}: tag {key} set", m.name),
    )
    .of(Some(&m.name), Some(version))
    .detail("tag", key)
    .detail("value", value)
    .seen_as(format!("tag {key} of {} v{version}", m.name))
    .changing();
    e.same = same;
    Some(e)
}

/// Drift alerts firing and resolving: each feature's alert level after each window (an alert
/// holds for `windows` windows in a row, `FeatureDrift::alert_levels`), each window dated back
/// from `at`, when the rows were read.
pub fn from_drift(drift: &[FeatureDrift], at: DateTime<Utc>, windows: usize) -> Vec<Entry> {
    let mut out = Vec::new();
    for d in drift {
        let levels = d.alert_levels(windows);
        let n = levels.len();
        let step = Duration::seconds(i64::try_from(d.window_seconds).unwrap_or(0));
        let mut was = DriftStatus::Ok;
        for (i, level) in levels.into_iter().enumerate() {
            if level == was || (d.window_seconds == 0 && i + 1 < n) {
                continue;
            }
            let back = i32::try_from(n - 1 - i).unwrap_or(i32::MAX);
            let time = at - step * back;
            let (kind, what) = if level == DriftStatus::Ok {
                (
                    Kind::DriftResolved,
                    format!("resolved ({} before)", was.as_str()),
                )
            } else {
                (Kind::DriftAlert, format!("alert {}", level.as_str()))
            };
            let psi = if d.psi_history.len() == n {
                format!("{:.3}", d.psi_history[i])
            } else {
                String::new()
            };
            let mut e = Entry::new(
                time,
                Source::Drift,
                kind,
                format!(
                    "{} v{} {}: drift {what} against {}",
                    d.model,
                    d.version,
                    d.feature,
                    d.against()
                ),
            )
            .of(Some(&d.model), Some(d.version))
            .detail("feature", &d.feature)
            .detail("reference", &d.reference)
            .detail("psi", psi)
            .seen_as(format!("drift of {}", d.feature));
            if d.window_seconds == 0 {
                e = e.detail(
                    "time",
                    "when it started is not known (no window length): shown when read",
                );
            }
            out.push(e);
            was = level;
        }
    }
    out
}

/// The metrics store's alerts: one entry when each started firing, one when it resolved. An
/// alert belongs to the model its `model` label names.
pub fn from_alerts(alerts: &[Alert]) -> Vec<Entry> {
    let mut out = Vec::new();
    for a in alerts {
        let model = a.label("model");
        let version = a
            .label("version")
            .and_then(|v| v.trim_start_matches('v').parse().ok());
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let severity = a.label("severity").unwrap_or("no severity");
        let said = if a.summary.is_empty() {
            String::new()
        } else {
            format!(": {}", a.summary)
        };
        let entry = |time, kind, what: &str| {
            Entry::new(
                time,
                Source::Alerts,
                kind,
                format!("{} {what} ({severity}){said}", a.name),
            )
            .of(model, version)
            .detail("alert", &a.name)
            .detail("labels", labels.join(", "))
            .detail("summary", &a.summary)
            .seen_as(format!("alert {}", a.name))
        };
        out.push(entry(a.started, Kind::AlertFiring, "firing"));
        if let Some(ended) = a.ended {
            out.push(entry(ended, Kind::AlertResolved, "resolved").detail(
                "fired_for",
                super::ago(a.started, ended).trim_end_matches(" ago"),
            ));
        }
    }
    out
}

/// GPUs that reported an XID error, dated by the node's XID Event when there is one (DCGM
/// keeps only the last XID, not when it came); else when they were read (`at`).
pub fn from_gpus(gpus: &[Gpu], events: &[ClusterEvent], at: DateTime<Utc>) -> Vec<Entry> {
    gpus.iter()
        .filter_map(|g| {
            let xid = g.xid.filter(|x| *x != 0)?;
            let object = format!("node/{}", g.node);
            let seen = events
                .iter()
                .filter(|e| e.object == object && e.reason.to_ascii_lowercase().contains("xid"))
                .map(|e| e.time)
                .max();
            let mut e = Entry::new(
                seen.unwrap_or(at),
                Source::Gpu,
                Kind::GpuXid,
                format!("GPU {} on {}: XID {xid}", g.index, g.node),
            )
            .of(g.model.as_deref(), g.version)
            .detail("node", &g.node)
            .detail("cluster", &g.cluster)
            .detail("uuid", &g.uuid)
            .detail("pod", g.pod.clone().unwrap_or_default())
            .same_as(format!("xid:{}", g.node))
            .seen_as(format!("DCGM XID {xid} of GPU {}", g.index));
            if seen.is_none() {
                e = e.detail(
                    "time",
                    "when it happened is not known (DCGM keeps the last XID): shown when read",
                );
            }
            Some(e)
        })
        .collect()
}
