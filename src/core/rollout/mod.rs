//! The canary rollout state machine, as pure functions.
//!
//! `reconcile(spec, status, observation)` and `apply_command(spec, status, command)` return a new
//! status and the effects to carry out; they never perform I/O. Effects are declarative ("the canary
//! weight is 40"), so carrying them out twice after a crash changes nothing twice, and reconciling
//! the status they produced with the same observation yields no new effects.
//!
//! This module holds the types (spec, status, record, effects, commands); the files beside it hold
//! the functions: `validate` (spec checks), `machine` (reconcile), `command` (operator commands,
//! sent and tagged), `approval` (what an approval needs and records),
//! `template` (step templates and their compact syntax), `preview` (what a command will change),
//! `effects` (carrying effects out through the ports of an `Infrastructure`).

use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::{self, Measurement, MetricCheck, Sample, Verdict};

mod approval;
mod command;
mod command_audit;
mod due;
mod effects;
#[cfg(test)]
mod fuzz;
mod machine;
pub mod outcome;
mod preview;
mod template;
#[cfg(any(test, feature = "test-support"))]
mod testing;
mod validate;

pub use approval::{ApprovalNeeds, ApprovalRefused, TicketRule, approval_comment, approval_needs};
pub use command::{
    Sent, action_tags, apply_command, check_two_person, command_audit, command_event, command_tags,
    record_command, send_and_tag, tag_version,
};
pub use command_audit::{StartEntry, command_key, start_key, unaudited_command, unaudited_start};
pub use due::next_due;
pub use effects::{
    CHAMPION_ALIAS, Infrastructure, Recorder, ReplicaRatio, Routing, TrafficRouter, Workload,
    carry_out, target, transition_action,
};
pub use machine::{analysis_due, reconcile, replica_split};
pub use preview::{Alias, preview};
pub use template::{
    SLO_WINDOW_SECONDS, STEP_SYNTAX, Template, default_analysis, drift_check, slo_burn_check,
    templates,
};
pub use validate::{validate, validate_steps};

/// How many measurements the status keeps (oldest dropped first).
pub const MAX_MEASUREMENTS: usize = 60;
/// How many transitions the status keeps.
pub const MAX_HISTORY: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelRef {
    pub name: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseStep {
    /// Pause for this long; without it, pause until promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisStep {
    /// Passing measurement rounds needed to leave the step.
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    SetWeight(#[schemars(range(max = 100))] u8),
    Pause(PauseStep),
    Analysis(AnalysisStep),
    Approval {},
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::SetWeight(w) => write!(f, "setWeight {w}"),
            Step::Pause(PauseStep {
                duration_seconds: Some(d),
            }) => write!(f, "pause {d}s"),
            Step::Pause(PauseStep {
                duration_seconds: None,
            }) => write!(f, "pause until promoted"),
            Step::Analysis(a) => write!(f, "analysis ×{}", a.count),
            Step::Approval {} => write!(f, "approval"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisSpec {
    pub interval_seconds: u64,
    pub failure_limit: u32,
    pub metrics: Vec<MetricCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalGate {
    pub required: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    pub model: ModelRef,
    /// The version the stable track serves before the rollout.
    pub stable_version: u32,
    /// The serving Deployment the canary is cut from.
    pub deployment: String,
    pub image: String,
    pub replicas: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<String>,
    pub steps: Vec<Step>,
    pub analysis: AnalysisSpec,
    pub approval: ApprovalGate,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum Phase {
    Pending,
    Progressing,
    Paused,
    AwaitingApproval,
    Promoting,
    Promoted,
    RollingBack,
    RolledBack,
    Failed,
}

impl Phase {
    pub const ALL: [Phase; 9] = [
        Phase::Pending,
        Phase::Progressing,
        Phase::Paused,
        Phase::AwaitingApproval,
        Phase::Promoting,
        Phase::Promoted,
        Phase::RollingBack,
        Phase::RolledBack,
        Phase::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::AwaitingApproval => "AwaitingApproval",
            Phase::Promoting => "Promoting",
            Phase::Promoted => "Promoted",
            Phase::RollingBack => "RollingBack",
            Phase::RolledBack => "RolledBack",
            Phase::Failed => "Failed",
        }
    }

    /// The rollout is under way: the canary may be taking traffic.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Phase::Progressing | Phase::Paused | Phase::AwaitingApproval
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Promoted | Phase::RolledBack | Phase::Failed)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub user: String,
    pub time: DateTime<Utc>,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub time: DateTime<Utc>,
    pub from: Phase,
    pub to: Phase,
    pub step: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
    pub last_transition_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    pub phase: Phase,
    pub current_step: usize,
    /// The canary's share of traffic, in percent, as last set.
    pub weight: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_measurement_at: Option<DateTime<Utc>>,
    pub failures: u32,
    pub passes_in_step: u32,
    pub measurements: Vec<Measurement>,
    /// How much of its SLO window's error budget the canary has spent so far, added up over
    /// the rounds of its `slo_burn` check (`analysis::budget`); `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_budget_spent: Option<analysis::BudgetSpent>,
    pub approvals: Vec<Approval>,
    pub history: Vec<Transition>,
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Paused by an operator, whatever the step.
    pub user_paused: bool,
    /// Rolling back a rollout that had already been promoted: the stable track goes back too.
    pub undo_promotion: bool,
    pub message: String,
    /// The last operator command written into this status: which RBAC verb it is, who sent it,
    /// when. The cluster's admission policy checks each status write by a person against it
    /// (the change must be that command, sent by that user, who holds that verb).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_command: Option<CommandRecord>,
    /// Notifications delivered (the controller's sender records them; bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Delivery>,
    /// The sequence number of the rollout's start entry in the audit log, once the controller
    /// has written it from what its creator recorded (`command_audit::unaudited_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_audited: Option<u64>,
}

/// One event's notifications, as `status.notifications` records them (`crate::notify` decides
/// them; the controller's sender records them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The event's idempotency key.
    pub key: String,
    /// Its trigger (`on-promoted`, …).
    pub event: String,
    /// When the event happened.
    pub time: DateTime<Utc>,
    /// The destinations it was delivered to.
    pub to: Vec<String>,
    /// Every destination subscribed to it has it: it is not looked at again.
    pub done: bool,
}

/// An operator command as recorded in the status (`status.lastCommand`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandRecord {
    /// The RBAC verb on `modelrollouts` (`Verb::rbac_verb`).
    pub verb: String,
    pub user: String,
    pub time: DateTime<Utc>,
    /// The action of its audit entry (`rollout.abort`, `Verb::audit_action`), with the entry's
    /// comment and details below: whoever writes the log (the controller, with its own rights)
    /// writes the entry from the status alone. Empty in commands recorded before the controller
    /// wrote the log (their senders audited them).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    /// The sequence number of its audit entry once it is written (`command_audit::audited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audited: Option<u64>,
}

impl Default for RolloutStatus {
    fn default() -> Self {
        Self {
            phase: Phase::Pending,
            current_step: 0,
            weight: 0,
            step_started_at: None,
            last_measurement_at: None,
            failures: 0,
            passes_in_step: 0,
            measurements: Vec::new(),
            canary_budget_spent: None,
            approvals: Vec::new(),
            history: Vec::new(),
            conditions: Vec::new(),
            observed_generation: None,
            user_paused: false,
            undo_promotion: false,
            message: String::new(),
            last_command: None,
            notifications: Vec::new(),
            start_audited: None,
        }
    }
}

impl RolloutStatus {
    /// The verdict of the latest measurement round.
    pub fn latest_verdict(&self) -> Option<Verdict> {
        let last = self.measurements.last()?.time;
        let round: Vec<Measurement> = self
            .measurements
            .iter()
            .filter(|m| m.time == last)
            .cloned()
            .collect();
        analysis::overall(&round)
    }
}

/// A rollout as stored in a cluster: identity, spec and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRecord {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    pub created: DateTime<Utc>,
    pub spec: RolloutSpec,
    pub status: RolloutStatus,
    /// The policy it was started under, with the verdict at its start; `None`: no policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::Recorded>,
}

/// A rollout's address: the cluster, namespace and name that identify it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RolloutKey {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

impl RolloutRecord {
    pub fn key(&self) -> RolloutKey {
        RolloutKey {
            cluster: self.cluster.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether this is the rollout `key` names.
    pub fn is(&self, key: &RolloutKey) -> bool {
        self.cluster == key.cluster && self.namespace == key.namespace && self.name == key.name
    }

    /// Seconds left of a timed pause step the rollout waits out (not an operator's pause).
    pub fn pause_left(&self, now: DateTime<Utc>) -> Option<u64> {
        let d = timed_pause(&self.spec, &self.status)?;
        let done = self.status.step_started_at.map_or(0, |s| {
            u64::try_from((now - s).num_seconds().max(0)).unwrap_or(0)
        });
        Some(d.saturating_sub(done))
    }

    /// "k/n" for the step column: the step under way, counted from 1.
    /// A finished rollout shows where it stopped: `7/7` when promoted, `2/6` when rolled back
    /// at its second step, `0/3` when it never started (an invalid spec).
    pub fn step_label(&self) -> String {
        let total = self.spec.steps.len();
        let started = self
            .status
            .history
            .iter()
            .any(|t| t.to == Phase::Progressing);
        let current = match self.status.phase {
            Phase::Promoted => total,
            Phase::Failed | Phase::Pending if !started => 0,
            _ => (self.status.current_step + 1).min(total),
        };
        format!("{current}/{total}")
    }
}

/// What the world looks like to the controller at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub now: DateTime<Utc>,
    /// The canary pods for the current weight are Running and ready.
    pub canary_ready: bool,
    /// Measured values, present only when `analysis_due` said so and the driver queried.
    pub samples: Option<Vec<Sample>>,
    pub generation: i64,
    /// The policy gates, decided again when `gates_due` said so.
    pub gates: Gates,
}

/// The policy gates of a rollout as whoever drives it found them before promoting it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Gates {
    /// The rollout was started under no policy: nothing to check.
    #[default]
    None,
    /// It carries a policy, not decided in this pass (the driver decides it when `gates_due`).
    Unchecked,
    /// Decided on fresh facts.
    Decided(crate::policy::Verdict),
    /// The facts could not be gathered or the recorded policy cannot be read: the rollout waits
    /// — it is never promoted unchecked.
    Unknown(String),
}

/// The status condition that says how the policy gates were found before promotion.
pub const POLICY_CONDITION: &str = "PolicyGates";

/// Whether the driver must decide the policy gates of a rollout that carries a policy for this
/// pass: it is about to be promoted.
pub fn gates_due(status: &RolloutStatus) -> bool {
    status.phase == Phase::Promoting
}

/// Something the driver must make true in the world. Each is idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "effect")]
pub enum Effect {
    /// Send `weight` percent of traffic to the canary (replica ratio or route weights).
    SetWeight { weight: u8 },
    /// The stable track now serves the rollout's version; the canary goes to zero.
    PromoteStable { version: u32 },
    /// All traffic back to stable, canary scaled to zero.
    AbortCanary,
    /// The stable track goes back to `version` (undoing a promotion).
    RestoreStable { version: u32 },
    MoveAlias {
        model: String,
        alias: String,
        version: u32,
    },
    TagVersion {
        model: String,
        version: u32,
        key: String,
        value: String,
    },
    Event {
        reason: String,
        message: String,
        warning: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: RolloutStatus,
    pub effects: Vec<Effect>,
}

/// How long the timed pause step a rollout waits out lasts (`None`: it is not in one; an
/// operator's pause is not a timed step).
fn timed_pause(spec: &RolloutSpec, status: &RolloutStatus) -> Option<u64> {
    if status.phase != Phase::Paused || status.user_paused {
        return None;
    }
    match spec.steps.get(status.current_step) {
        Some(Step::Pause(PauseStep {
            duration_seconds: Some(d),
        })) => Some(*d),
        _ => None,
    }
}

/// The word for a rollout's phase that its row, counts and previews use: `Pausing` while it
/// waits out a timed pause step, unlike an operator's `Paused`.
pub fn phase_word(spec: &RolloutSpec, status: &RolloutStatus) -> &'static str {
    if timed_pause(spec, status).is_some() {
        "Pausing"
    } else {
        status.phase.as_str()
    }
}

/// The audit action of a rollout's creation (`mlops rollout start`, a pipeline).
pub const START_ACTION: &str = "rollout.start";

/// What an operator can do to a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    /// Skip the current step (a pause, a weight).
    Promote,
    /// Go straight to promotion (never past an approval gate).
    PromoteFull,
    Approve,
    Abort,
    Rollback,
    Pause,
    Resume,
}

impl Verb {
    pub const ALL: [Verb; 7] = [
        Verb::Approve,
        Verb::Promote,
        Verb::PromoteFull,
        Verb::Abort,
        Verb::Rollback,
        Verb::Pause,
        Verb::Resume,
    ];

    /// The verb as the CLI names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Promote => "promote",
            Verb::PromoteFull => "promote --full",
            Verb::Approve => "approve",
            Verb::Abort => "abort",
            Verb::Rollback => "rollback",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
        }
    }

    /// The action its audit entry records, the same on every platform.
    pub fn audit_action(self) -> &'static str {
        match self {
            Verb::Promote => "rollout.promote",
            Verb::PromoteFull => "rollout.promote-full",
            Verb::Approve => "rollout.approve",
            Verb::Abort => "rollout.abort",
            Verb::Rollback => "rollout.rollback",
            Verb::Pause => "rollout.pause",
            Verb::Resume => "rollout.resume",
        }
    }

    /// The reason of the Kubernetes Event a command leaves on its rollout.
    pub fn event_reason(self) -> &'static str {
        match self {
            Verb::Promote => "PromoteCommand",
            Verb::PromoteFull => "PromoteFullCommand",
            Verb::Approve => "ApproveCommand",
            Verb::Abort => "AbortCommand",
            Verb::Rollback => "RollbackCommand",
            Verb::Pause => "PauseCommand",
            Verb::Resume => "ResumeCommand",
        }
    }

    /// The custom RBAC verb on `modelrollouts` (group `mlops.dev`) that allows it: roles grant
    /// these, the console asks for them (SelfSubjectAccessReview), and the cluster's admission
    /// policy requires them of each status write. Both promotes are `promote`.
    pub fn rbac_verb(self) -> &'static str {
        match self {
            Verb::Promote | Verb::PromoteFull => "promote",
            Verb::Approve => "approve",
            Verb::Abort => "abort",
            Verb::Rollback => "rollback",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
        }
    }

    /// Whether the audit trail needs a reason for it.
    pub fn needs_comment(self) -> bool {
        matches!(self, Verb::Approve | Verb::Abort | Verb::Rollback)
    }

    /// Whether the audit trail needs a reason for it on a rollout as it is now: as
    /// [`Verb::needs_comment`], and a promotion against a failing analysis
    /// ([`failing_analysis`]).
    pub fn needs_comment_on(self, spec: &RolloutSpec, status: &RolloutStatus) -> bool {
        self.needs_comment()
            || (matches!(self, Verb::Promote | Verb::PromoteFull)
                && failing_analysis(spec, status).is_some())
    }
}

/// What speaks against promoting now, in words: the canary's analysis failures so far and the
/// checks that failed last; `None` while nothing failed. A promotion then needs a reason (the
/// confirmation shows this first; the CLI asks for `--comment`).
pub fn failing_analysis(spec: &RolloutSpec, status: &RolloutStatus) -> Option<String> {
    if status.failures == 0 {
        return None;
    }
    // The latest failing measurement of each metric, newest first.
    let mut seen = std::collections::HashSet::new();
    let failed: Vec<String> = status
        .measurements
        .iter()
        .rev()
        .filter(|m| m.verdict == Verdict::Fail && seen.insert(m.metric.clone()))
        .map(|m| format!("{}: {}", m.metric, m.reason))
        .collect();
    let checks = if failed.is_empty() {
        String::new()
    } else {
        format!(" — {}", failed.join("; "))
    };
    Some(format!(
        "the canary's analysis is failing: {} of {} failures allowed{checks}",
        status.failures, spec.analysis.failure_limit
    ))
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's command: the verb, who sends it and why. The user and the comment go into the
/// rollout's history and the audit log, whatever the verb.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Command {
    pub verb: Verb,
    pub user: String,
    #[serde(default)]
    pub comment: String,
}

impl Command {
    pub fn new(verb: Verb, user: impl Into<String>, comment: impl Into<String>) -> Self {
        Self {
            verb,
            user: user.into(),
            comment: comment.into(),
        }
    }

    pub fn verb(&self) -> &'static str {
        self.verb.as_str()
    }

    /// "by dana: load test done", or "by dana" without a comment.
    pub fn by(&self) -> String {
        if self.comment.trim().is_empty() {
            format!("by {}", self.user)
        } else {
            format!("by {}: {}", self.user, self.comment.trim())
        }
    }
}

#[cfg(test)]
mod due_tests;
#[cfg(test)]
mod slo_burn_tests;
#[cfg(test)]
mod tests;
