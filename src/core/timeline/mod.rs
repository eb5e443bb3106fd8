//! One incident timeline: what the cluster's Events, the rollouts' histories, the audit log, the
//! model registry, live drift, the metrics store's alerts and the GPUs say happened to a model,
//! merged into one time order, so that an engineer paged at night reads which model is
//! unhealthy, since when, and what changed just before.
//!
//! Pure: `sources` turns each source's data (as the ports give it) into entries, and [`merge`]
//! keeps those of the model (and version) asked for since the time asked for, folds the same
//! happening seen by two sources into one entry (a phase change is in the rollout's history, a
//! Kubernetes Event and the audit log), sorts them, and marks `changed_before` the changes (a
//! rollout step, a command, an alias moved, a tag set) that came within a window before an
//! alert started. It fetches nothing: the CLI and the console fetch and hand the data in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    audit::AuditEntry,
    model::{Alert, ClusterSnapshot, FeatureDrift, Gpu, RegisteredModel},
};

pub mod sources;
#[cfg(test)]
mod tests;

pub use sources::{
    Owners, from_alerts, from_audit, from_drift, from_events, from_gpus, from_registry,
    from_rollouts,
};

/// How long before an alert started a change is marked `changed_before` (by default).
pub const CHANGED_BEFORE: Duration = Duration::minutes(30);

/// Two sightings of the same happening (a phase change in the rollout's history and as a
/// Kubernetes Event) at most this far apart are one entry: the controller records the Event
/// and the audit entry right after it decides, but the Event's time is the API server's, in
/// whole seconds.
pub const SAME_WITHIN: Duration = Duration::seconds(30);

/// Where an entry comes from. The order is the order of trust: when two sources saw the same
/// happening, the entry is the first's, and names the others in its details (`also_in`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The rollout's own status: its history of phases and steps, its analysis.
    #[default]
    Rollout,
    /// The cluster's audit log: every command, who sent it and why.
    Audit,
    /// Kubernetes Events of the model's rollouts, Deployments, ReplicaSets, pods and nodes.
    Kubernetes,
    /// The model registry: versions, aliases, tags.
    Registry,
    /// The metrics store's alerting rules (`ALERTS`, `/api/v1/alerts`).
    Alerts,
    /// Live drift of the model's features.
    Drift,
    /// The GPUs' XID faults (DCGM).
    Gpu,
}

impl Source {
    pub const ALL: [Source; 7] = [
        Source::Rollout,
        Source::Audit,
        Source::Kubernetes,
        Source::Registry,
        Source::Alerts,
        Source::Drift,
        Source::Gpu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rollout => "rollout",
            Source::Audit => "audit",
            Source::Kubernetes => "kubernetes",
            Source::Registry => "registry",
            Source::Alerts => "alerts",
            Source::Drift => "drift",
            Source::Gpu => "gpu",
        }
    }
}

/// What happened. At the same time, causes come before what they caused: a command or a
/// failed check before the phase change it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An operator's command (or a pipeline's start), with its user and comment.
    Command,
    /// A round of the canary's analysis failed.
    CheckFailed,
    /// An alert of the metrics store started firing.
    AlertFiring,
    /// A drift alert started firing (drifted or warning).
    DriftAlert,
    /// A GPU reported an XID error.
    GpuXid,
    /// A model version registered.
    VersionRegistered,
    /// An alias (`champion`) moved to another version.
    AliasMoved,
    /// A version tag set (`promoted_at`, `mlops.action.*`).
    TagSet,
    /// A rollout left Pending: its canary starts.
    RolloutStarted,
    /// A rollout moved on within its phase: a weight set, a step done, an analysis counted.
    Step,
    /// A rollout changed phase (Paused, RollingBack, RolledBack, Promoted, …).
    Phase,
    /// A Kubernetes Event (its reason says what).
    Event,
    /// Any other audit entry.
    Audit,
    /// An alert of the metrics store resolved.
    AlertResolved,
    /// A drift alert resolved.
    DriftResolved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RolloutStarted => "rollout_started",
            Kind::Step => "step",
            Kind::Phase => "phase",
            Kind::CheckFailed => "check_failed",
            Kind::Command => "command",
            Kind::Audit => "audit",
            Kind::Event => "event",
            Kind::VersionRegistered => "version_registered",
            Kind::AliasMoved => "alias_moved",
            Kind::TagSet => "tag_set",
            Kind::DriftAlert => "drift_alert",
            Kind::DriftResolved => "drift_resolved",
            Kind::AlertFiring => "alert_firing",
            Kind::AlertResolved => "alert_resolved",
            Kind::GpuXid => "gpu_xid",
        }
    }

    /// Something that starts an incident: an alert firing, a failed check, a GPU fault.
    pub fn is_alert(self) -> bool {
        matches!(
            self,
            Kind::AlertFiring | Kind::DriftAlert | Kind::CheckFailed | Kind::GpuXid
        )
    }
}

/// One happening on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub time: DateTime<Utc>,
    pub source: Source,
    pub kind: Kind,
    pub model: Option<String>,
    pub version: Option<u32>,
    /// One line: what happened.
    pub summary: String,
    /// Everything else the source said, by name (the object, the user, the comment, the
    /// message, the labels, and `also_in`: the other sources that saw it).
    pub details: BTreeMap<String, String>,
    /// A change (a deploy, an alias moved, a config or tag change, a command) within the window
    /// before an alert of the same model started.
    pub changed_before: bool,
    /// Whether it changed something (`changed_before` may mark it).
    #[serde(skip)]
    pub change: bool,
    /// What names the happening whatever the source (`phase:ns/name:RolledBack`): entries with
    /// the same name within [`SAME_WITHIN`] are one.
    #[serde(skip)]
    pub same: Option<String>,
    /// Models it concerns besides `model` (a node's Event concerns every model on the node).
    #[serde(skip)]
    pub related: BTreeSet<String>,
    /// How this source names its sighting (`Event RolledBack on modelrollout/x`), for `also_in`.
    #[serde(skip)]
    pub sighting: String,
}

impl Entry {
    /// An entry of `source`; `model`, the details and the marks are added by the builders.
    pub fn new(time: DateTime<Utc>, source: Source, kind: Kind, summary: String) -> Self {
        Self {
            time,
            source,
            kind,
            model: None,
            version: None,
            summary: match crate::text::line(&summary) {
                std::borrow::Cow::Borrowed(_) => summary,
                std::borrow::Cow::Owned(safe) => safe,
            },
            details: BTreeMap::new(),
            changed_before: false,
            change: false,
            same: None,
            related: BTreeSet::new(),
            sighting: String::new(),
        }
    }

    #[must_use]
    pub fn of(mut self, model: Option<&str>, version: Option<u32>) -> Self {
        self.model = model.map(str::to_string);
        self.version = version;
        self
    }

    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        if !value.is_empty() {
            self.details.insert(key.to_string(), value);
        }
        self
    }

    #[must_use]
    pub fn same_as(mut self, key: String) -> Self {
        self.same = Some(key);
        self
    }

    #[must_use]
    pub fn changing(mut self) -> Self {
        self.change = true;
        self
    }

    #[must_use]
    pub fn seen_as(mut self, sighting: impl Into<String>) -> Self {
        self.sighting = sighting.into();
        self
    }

    /// When it happened, for ordering: a Kubernetes Event's time in whole seconds (the API
    /// server keeps `lastTimestamp` so) counts from the end of its second, so that what
    /// happened within that second (the rollback whose Events they are) is not put after it.
    pub fn at(&self) -> DateTime<Utc> {
        if self.source == Source::Kubernetes && self.time.timestamp_subsec_nanos() == 0 {
            self.time + Duration::milliseconds(999)
        } else {
            self.time
        }
    }

    /// Whether it concerns `model`.
    pub fn concerns(&self, model: &str) -> bool {
        self.model.as_deref() == Some(model) || self.related.contains(model)
    }
}

/// What a timeline is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Only this model's entries (and those of its nodes, its alerts …); `None`: every model's.
    pub model: Option<String>,
    /// Only this version's entries and the model's entries of no version (aliases, the stable
    /// Deployment's Events); `None`: every version's.
    pub version: Option<u32>,
    /// Nothing before this.
    pub since: DateTime<Utc>,
    /// How long before an alert a change is marked (`CHANGED_BEFORE`).
    pub window: Duration,
}

impl Query {
    /// Everything since `since`, changes marked within [`CHANGED_BEFORE`] of an alert.
    pub fn since(since: DateTime<Utc>) -> Self {
        Self {
            model: None,
            version: None,
            since,
            window: CHANGED_BEFORE,
        }
    }

    fn wants(&self, e: &Entry) -> bool {
        e.time >= self.since
            && self.model.as_deref().is_none_or(|m| e.concerns(m))
            && self
                .version
                .is_none_or(|v| e.version.is_none_or(|have| have == v))
    }
}

/// The entries `query` asks for, the same happening once, oldest first, changes before an
/// alert marked.
pub fn merge(entries: impl IntoIterator<Item = Entry>, query: &Query) -> Vec<Entry> {
    let mut wanted: Vec<Entry> = entries.into_iter().filter(|e| query.wants(e)).collect();
    wanted.sort_by(order);
    let mut out = dedupe(wanted);
    out.sort_by(order);
    mark_changes(&mut out, query.window);
    out
}

/// Oldest first; at the same time causes first (`Kind`), then in the order of trust and by
/// summary, so the
/// same data always reads the same.
fn order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    a.at()
        .cmp(&b.at())
        .then(a.kind.cmp(&b.kind))
        .then(a.source.cmp(&b.source))
        .then_with(|| a.summary.cmp(&b.summary))
}

/// One entry per happening: entries that name the same happening within [`SAME_WITHIN`] fold
/// into the most trusted source's; identical entries (the same source, time and summary) are
/// kept once.
fn dedupe(sorted: Vec<Entry>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(sorted.len());
    let mut named: HashMap<String, Vec<usize>> = HashMap::new();
    let mut identical: BTreeSet<(DateTime<Utc>, Source, String)> = BTreeSet::new();
    for e in sorted {
        if let Some(key) = &e.same {
            let earlier = named.get(key).and_then(|at| {
                at.iter()
                    .copied()
                    .find(|&i| (out[i].time - e.time).abs() <= SAME_WITHIN)
            });
            if let Some(i) = earlier {
                fold(&mut out[i], e);
                continue;
            }
            named.entry(key.clone()).or_default().push(out.len());
        } else if !identical.insert((e.time, e.source, e.summary.clone())) {
            continue;
        }
        out.push(e);
    }
    out
}

/// `other` seen as well as `kept`: the more trusted source's entry stays, with the other's
/// sighting in `also_in`, its model and version where it had none, and its details where it
/// had none of that name.
fn fold(kept: &mut Entry, mut other: Entry) {
    if other.source < kept.source {
        std::mem::swap(kept, &mut other);
    }
    let also = format!("{}: {}", other.source.as_str(), other.sighting);
    match kept.details.get_mut("also_in") {
        Some(v) => {
            v.push_str("; ");
            v.push_str(&also);
        }
        None => {
            kept.details.insert("also_in".into(), also);
        }
    }
    if kept.model.is_none() {
        kept.model = other.model.take();
    }
    if kept.version.is_none() {
        kept.version = other.version;
    }
    kept.change |= other.change;
    kept.related.extend(other.related);
    for (k, v) in other.details {
        kept.details.entry(k).or_insert(v);
    }
}

/// Mark the changes within `window` before each alert (strictly before: what happened with it
/// is its consequence, not its cause) that concerns their model (an alert of
/// no model, the changes of every model).
fn mark_changes(sorted: &mut [Entry], window: Duration) {
    let alerts: Vec<(DateTime<Utc>, Option<String>, String)> = sorted
        .iter()
        .filter(|e| e.kind.is_alert())
        .map(|e| (e.at(), e.model.clone(), e.summary.clone()))
        .collect();
    for e in sorted.iter_mut().filter(|e| e.change) {
        let before = alerts.iter().find(|(at, model, _)| {
            e.at() < *at
                && *at - e.at() <= window
                && model
                    .as_deref()
                    .is_none_or(|m| e.concerns(m) || e.model.is_none())
        });
        if let Some((at, _, summary)) = before {
            e.changed_before = true;
            let before = ago(e.at(), *at);
            let before = before.trim_end_matches(" ago");
            e.details
                .insert("before_alert".into(), format!("{before} before: {summary}"));
        }
    }
}

/// What every source gave, as the ports give it; a source that did not answer is empty (the
/// caller says so beside the timeline).
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub snapshot: Option<&'a ClusterSnapshot>,
    pub audit: &'a [AuditEntry],
    pub models: &'a [RegisteredModel],
    pub drift: &'a [FeatureDrift],
    pub alerts: &'a [Alert],
    pub gpus: &'a [Gpu],
    /// When the drift rows and the GPUs were read.
    pub at: DateTime<Utc>,
    /// Windows in a row a drift alert holds for (`[drift] alert_after`).
    pub drift_windows: usize,
}

/// The timeline of `inputs` that `query` asks for: every source's entries, merged.
pub fn build(inputs: &Inputs<'_>, query: &Query) -> Vec<Entry> {
    let owners = inputs.snapshot.map(Owners::of).unwrap_or_default();
    let (rollouts, events) = inputs
        .snapshot
        .map_or((&[][..], &[][..]), |s| (&s.rollouts[..], &s.events[..]));
    let all = from_rollouts(rollouts)
        .into_iter()
        .chain(from_events(events, &owners))
        .chain(from_audit(inputs.audit, &owners))
        .chain(from_registry(inputs.models))
        .chain(from_drift(inputs.drift, inputs.at, inputs.drift_windows))
        .chain(from_alerts(inputs.alerts))
        .chain(from_gpus(inputs.gpus, events, inputs.at));
    merge(all, query)
}

/// `1h 5m ago`, `42s ago`, `in 3m` (a clock ahead): how long before `now` `time` was, in the
/// two largest units.
pub fn ago(time: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - time).num_seconds();
    let span = secs.unsigned_abs();
    let text = match span {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    };
    if secs < 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}
