//! The canary rollout state machine, as pure functions.
//!
//! `reconcile(spec, status, observation)` and `apply_command(spec, status, command)` return a new
//! status and the effects to carry out; they never perform I/O. Effects are declarative ("the canary
//! weight is 40"), so carrying them out twice after a crash changes nothing twice, and reconciling
//! the status they produced with the same observation yields no new effects.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    analysis::{self, Measurement, MetricCheck, Sample, Verdict},
    error::CoreError,
};

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
            approvals: Vec::new(),
            history: Vec::new(),
            conditions: Vec::new(),
            observed_generation: None,
            user_paused: false,
            undo_promotion: false,
            message: String::new(),
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
}

impl RolloutRecord {
    /// "k/n" for the step column: the step under way, counted from 1.
    pub fn step_label(&self) -> String {
        let total = self.spec.steps.len();
        let current = if self.status.phase.is_terminal() {
            total
        } else {
            (self.status.current_step + 1).min(total)
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "command")]
pub enum Command {
    Promote { full: bool },
    Approve { user: String, comment: String },
    Abort { user: String, reason: String },
    Rollback { user: String, reason: String },
    Pause { user: String },
    Resume { user: String },
}

impl Command {
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Promote { full: false } => "promote",
            Command::Promote { full: true } => "promote --full",
            Command::Approve { .. } => "approve",
            Command::Abort { .. } => "abort",
            Command::Rollback { .. } => "rollback",
            Command::Pause { .. } => "pause",
            Command::Resume { .. } => "resume",
        }
    }
}

/// Check a spec before anything moves; the error names the offending field.
pub fn validate(spec: &RolloutSpec) -> Result<(), CoreError> {
    let invalid = |field: String, message: String| Err(CoreError::InvalidSpec { field, message });
    if spec.model.name.trim().is_empty() {
        return invalid(
            "spec.model.name".into(),
            "must name a registered model".into(),
        );
    }
    if spec.model.version == 0 {
        return invalid("spec.model.version".into(), "must be 1 or more".into());
    }
    if spec.steps.is_empty() {
        return invalid("spec.steps".into(), "must have at least one step".into());
    }
    if spec.replicas == 0 {
        return invalid("spec.replicas".into(), "must be 1 or more".into());
    }
    let mut previous = 0u8;
    let mut has_analysis_step = false;
    for (i, step) in spec.steps.iter().enumerate() {
        match step {
            Step::SetWeight(w) => {
                if *w > 100 {
                    return invalid(
                        format!("spec.steps[{i}].setWeight"),
                        format!("{w} is over 100"),
                    );
                }
                if *w <= previous {
                    return invalid(
                        format!("spec.steps[{i}].setWeight"),
                        format!("{w} is not above the previous weight {previous}"),
                    );
                }
                previous = *w;
            }
            Step::Analysis(a) => {
                has_analysis_step = true;
                if a.count == 0 {
                    return invalid(
                        format!("spec.steps[{i}].analysis.count"),
                        "must be 1 or more".into(),
                    );
                }
            }
            Step::Approval {} => {
                if spec.approval.required == 0 {
                    return invalid(
                        "spec.approval.required".into(),
                        format!("is 0 but spec.steps[{i}] is an approval step"),
                    );
                }
            }
            Step::Pause(_) => {}
        }
    }
    if has_analysis_step && spec.analysis.metrics.is_empty() {
        return invalid(
            "spec.analysis.metrics".into(),
            "an analysis step needs at least one metric".into(),
        );
    }
    if spec.analysis.failure_limit == 0 {
        return invalid(
            "spec.analysis.failureLimit".into(),
            "must be 1 or more".into(),
        );
    }
    if spec.analysis.interval_seconds == 0 {
        return invalid(
            "spec.analysis.intervalSeconds".into(),
            "must be 1 or more".into(),
        );
    }
    for (i, m) in spec.analysis.metrics.iter().enumerate() {
        if m.canary_query.trim().is_empty() {
            return invalid(
                format!("spec.analysis.metrics[{i}].canaryQuery"),
                format!("metric {:?} has no query", m.name),
            );
        }
        if m.max.is_none() && m.max_ratio_to_stable.is_none() {
            return invalid(
                format!("spec.analysis.metrics[{i}]"),
                format!(
                    "metric {:?} has no threshold (max or maxRatioToStable)",
                    m.name
                ),
            );
        }
        if m.max_ratio_to_stable.is_some() && m.stable_query.is_none() {
            return invalid(
                format!("spec.analysis.metrics[{i}].stableQuery"),
                format!(
                    "metric {:?} compares with stable but has no stable query",
                    m.name
                ),
            );
        }
    }
    Ok(())
}

/// Whether the driver should query the metrics store before the next `reconcile`.
pub fn analysis_due(spec: &RolloutSpec, status: &RolloutStatus, now: DateTime<Utc>) -> bool {
    if !status.phase.is_active() || spec.analysis.metrics.is_empty() {
        return false;
    }
    let in_analysis_step = matches!(spec.steps.get(status.current_step), Some(Step::Analysis(_)));
    if status.weight == 0 && !in_analysis_step {
        return false;
    }
    match status.last_measurement_at {
        None => true,
        Some(last) => now - last >= seconds(spec.analysis.interval_seconds),
    }
}

/// Replicas for (stable, canary) that approximate `weight` percent on the canary.
pub fn replica_split(total: u32, weight: u8) -> (u32, u32) {
    let weight = u32::from(weight.min(100));
    if weight == 0 {
        return (total, 0);
    }
    if weight == 100 {
        return (0, total);
    }
    let canary = (total * weight)
        .div_ceil(100)
        .clamp(1, total.saturating_sub(1).max(1));
    (total - canary, canary)
}

fn seconds(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000))
}

struct Machine<'a> {
    spec: &'a RolloutSpec,
    status: RolloutStatus,
    effects: Vec<Effect>,
    now: DateTime<Utc>,
}

impl Machine<'_> {
    fn transition(&mut self, to: Phase, reason: impl Into<String>) {
        let reason = reason.into();
        let from = self.status.phase;
        if from == to && self.status.message == reason {
            return;
        }
        if from != to {
            self.effects.push(Effect::Event {
                reason: to.as_str().to_string(),
                message: format!("{from} → {to}: {reason}"),
                warning: matches!(to, Phase::RollingBack | Phase::RolledBack | Phase::Failed),
            });
        }
        self.status.history.push(Transition {
            time: self.now,
            from,
            to,
            step: self.status.current_step,
            reason: reason.clone(),
        });
        trim_front(&mut self.status.history, MAX_HISTORY);
        self.status.phase = to;
        self.status.message = reason;
    }

    fn set_weight(&mut self, weight: u8) {
        if self.status.weight != weight {
            self.status.weight = weight;
            self.effects.push(Effect::SetWeight { weight });
        }
    }

    fn advance(&mut self, reason: &str) {
        self.status.current_step += 1;
        self.status.step_started_at = Some(self.now);
        self.status.passes_in_step = 0;
        let step = self.status.current_step;
        let total = self.spec.steps.len();
        self.transition(
            Phase::Progressing,
            format!("{reason}; step {}/{total}", (step + 1).min(total)),
        );
    }

    fn record(&mut self, samples: &[Sample]) {
        let mut round = Vec::new();
        for check in &self.spec.analysis.metrics {
            let sample = samples
                .iter()
                .find(|s| s.metric == check.name)
                .cloned()
                .unwrap_or(Sample {
                    metric: check.name.clone(),
                    canary: None,
                    stable: None,
                    error: None,
                });
            round.push(analysis::evaluate(check, &sample, self.now));
        }
        self.status.last_measurement_at = Some(self.now);
        match analysis::overall(&round) {
            Some(Verdict::Fail) => self.status.failures += 1,
            Some(Verdict::Pass) => self.status.passes_in_step += 1,
            _ => {}
        }
        self.status.measurements.extend(round);
        trim_front(&mut self.status.measurements, MAX_MEASUREMENTS);
    }

    /// Run the state machine until it waits on the world.
    fn run(&mut self, canary_ready: bool) {
        // Each pass either waits (returns) or moves one step/phase; bound the loop by the spec's size.
        for _ in 0..self.spec.steps.len() + 4 {
            match self.status.phase {
                Phase::Pending => {
                    if let Err(e) = validate(self.spec) {
                        self.fail_invalid(&e);
                        return;
                    }
                    set_condition(&mut self.status, "SpecValid", true, "Valid", "", self.now);
                    self.status.step_started_at = Some(self.now);
                    let total = self.spec.steps.len();
                    self.transition(Phase::Progressing, format!("started; step 1/{total}"));
                }
                Phase::Promoted | Phase::RolledBack | Phase::Failed => return,
                Phase::Promoting => {
                    let version = self.spec.model.version;
                    self.status.weight = 100;
                    self.effects.push(Effect::PromoteStable { version });
                    self.effects.push(Effect::MoveAlias {
                        model: self.spec.model.name.clone(),
                        alias: "champion".into(),
                        version,
                    });
                    self.effects.push(Effect::TagVersion {
                        model: self.spec.model.name.clone(),
                        version,
                        key: "promoted_at".into(),
                        value: self.now.to_rfc3339(),
                    });
                    self.transition(Phase::Promoted, format!("version {version} is stable"));
                    return;
                }
                Phase::RollingBack => {
                    self.status.weight = 0;
                    if self.status.undo_promotion {
                        let version = self.spec.stable_version;
                        self.effects.push(Effect::RestoreStable { version });
                        self.effects.push(Effect::MoveAlias {
                            model: self.spec.model.name.clone(),
                            alias: "champion".into(),
                            version,
                        });
                    } else {
                        self.effects.push(Effect::AbortCanary);
                    }
                    let reason =
                        format!("all traffic on stable version {}", self.spec.stable_version);
                    self.transition(Phase::RolledBack, reason);
                    return;
                }
                Phase::Progressing | Phase::Paused | Phase::AwaitingApproval => {
                    if self.status.failures >= self.spec.analysis.failure_limit {
                        let reason = format!(
                            "analysis failed {} times (limit {})",
                            self.status.failures, self.spec.analysis.failure_limit
                        );
                        self.transition(Phase::RollingBack, reason);
                        continue;
                    }
                    if self.status.user_paused {
                        if self.status.phase != Phase::Paused {
                            self.transition(Phase::Paused, "paused by operator");
                        }
                        return;
                    }
                    if !self.run_step(canary_ready) {
                        return;
                    }
                }
            }
        }
    }

    /// Execute the current step; true when the machine moved and should run again.
    fn run_step(&mut self, canary_ready: bool) -> bool {
        let Some(step) = self.spec.steps.get(self.status.current_step).cloned() else {
            self.transition(Phase::Promoting, "all steps complete");
            return true;
        };
        let started = self.status.step_started_at.unwrap_or(self.now);
        match step {
            Step::SetWeight(w) => {
                let changed = self.status.weight != w;
                self.set_weight(w);
                if changed || !canary_ready {
                    self.transition(Phase::Progressing, format!("waiting for canary at {w}%"));
                    return false;
                }
                self.advance(&format!("canary at {w}%"));
                true
            }
            Step::Pause(PauseStep {
                duration_seconds: Some(d),
            }) => {
                if self.now - started >= seconds(d) {
                    self.advance(&format!("paused {d}s"));
                    return true;
                }
                self.transition(Phase::Paused, format!("pausing {d}s"));
                false
            }
            Step::Pause(PauseStep {
                duration_seconds: None,
            }) => {
                self.transition(Phase::Paused, "paused until promoted");
                false
            }
            Step::Analysis(a) => {
                if self.status.passes_in_step >= a.count {
                    self.advance(&format!("analysis passed {} times", a.count));
                    return true;
                }
                self.transition(
                    Phase::Progressing,
                    format!("analysis {}/{}", self.status.passes_in_step, a.count),
                );
                false
            }
            Step::Approval {} => {
                let have = self.approvals_since_gate();
                let need = self.spec.approval.required as usize;
                if have >= need {
                    self.advance(&format!("approved by {have}/{need}"));
                    return true;
                }
                self.transition(
                    Phase::AwaitingApproval,
                    format!("waiting for approval ({have}/{need})"),
                );
                false
            }
        }
    }

    fn approvals_since_gate(&self) -> usize {
        self.status.approvals.len()
    }

    fn fail_invalid(&mut self, error: &CoreError) {
        let message = error.to_string();
        set_condition(
            &mut self.status,
            "SpecValid",
            false,
            "InvalidSpec",
            &message,
            self.now,
        );
        self.transition(Phase::Failed, message);
    }
}

fn trim_front<T>(v: &mut Vec<T>, max: usize) {
    if v.len() > max {
        let excess = v.len() - max;
        v.drain(..excess);
    }
}

fn set_condition(
    status: &mut RolloutStatus,
    kind: &str,
    value: bool,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) {
    if let Some(c) = status.conditions.iter_mut().find(|c| c.kind == kind) {
        if c.status != value || c.reason != reason || c.message != message {
            c.status = value;
            c.reason = reason.into();
            c.message = message.into();
            c.last_transition_time = now;
        }
    } else {
        status.conditions.push(Condition {
            kind: kind.into(),
            status: value,
            reason: reason.into(),
            message: message.into(),
            last_transition_time: now,
        });
    }
}

/// Move the rollout forward as far as the observation allows.
pub fn reconcile(spec: &RolloutSpec, status: &RolloutStatus, obs: &Observation) -> Decision {
    let mut m = Machine {
        spec,
        status: status.clone(),
        effects: Vec::new(),
        now: obs.now,
    };
    m.status.observed_generation = Some(obs.generation);
    if let Some(samples) = &obs.samples
        && m.status.phase.is_active()
    {
        m.record(samples);
    }
    m.run(obs.canary_ready);
    Decision {
        status: m.status,
        effects: m.effects,
    }
}

/// Apply an operator's command, refusing what the current phase does not allow.
pub fn apply_command(
    name: &str,
    spec: &RolloutSpec,
    status: &RolloutStatus,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Decision, CoreError> {
    command_decision(name, spec, status, command, now, true)
}

/// The command's own change to the status — an approval added, a pause flag, the phase a
/// promote or abort moves to — without running the machine on: for a cluster where the
/// controller carries out the consequences (traffic, registry) on its next reconcile.
pub fn record_command(
    name: &str,
    spec: &RolloutSpec,
    status: &RolloutStatus,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<RolloutStatus, CoreError> {
    command_decision(name, spec, status, command, now, false).map(|d| d.status)
}

fn command_decision(
    name: &str,
    spec: &RolloutSpec,
    status: &RolloutStatus,
    command: &Command,
    now: DateTime<Utc>,
    run_on: bool,
) -> Result<Decision, CoreError> {
    let refuse = |hint: &str| {
        Err(CoreError::IllegalCommand {
            rollout: name.to_string(),
            phase: status.phase.to_string(),
            command: command.verb().to_string(),
            hint: hint.to_string(),
        })
    };
    let mut m = Machine {
        spec,
        status: status.clone(),
        effects: Vec::new(),
        now,
    };
    let phase = status.phase;
    match command {
        Command::Promote { full } => {
            if !phase.is_active() {
                return refuse(
                    "only a Progressing, Paused or AwaitingApproval rollout can be promoted",
                );
            }
            let gate_ahead = spec.steps[status.current_step.min(spec.steps.len())..]
                .iter()
                .any(|s| matches!(s, Step::Approval {}));
            let approved = status.approvals.len() >= spec.approval.required as usize;
            if phase == Phase::AwaitingApproval && !approved {
                return refuse("it waits for approval; use approve");
            }
            if *full && gate_ahead && !approved {
                return refuse("an approval step lies ahead; --full cannot skip an approval gate");
            }
            m.status.user_paused = false;
            if *full {
                m.transition(Phase::Promoting, "promoted in full by operator");
            } else {
                m.advance("step skipped by operator");
            }
        }
        Command::Approve { user, comment } => {
            if phase != Phase::AwaitingApproval {
                return refuse("only a rollout waiting at an approval step can be approved");
            }
            if status.approvals.iter().any(|a| a.user == *user) {
                return Err(CoreError::DuplicateApproval {
                    rollout: name.to_string(),
                    user: user.clone(),
                });
            }
            m.status.approvals.push(Approval {
                user: user.clone(),
                time: now,
                comment: comment.clone(),
            });
        }
        Command::Abort { user, reason } => {
            if !phase.is_active() && phase != Phase::Pending {
                return refuse("only a rollout under way can be aborted");
            }
            m.transition(Phase::RollingBack, format!("aborted by {user}: {reason}"));
        }
        Command::Rollback { user, reason } => {
            if phase == Phase::Promoted {
                m.status.undo_promotion = true;
            } else if !phase.is_active() {
                return refuse("only a rollout under way or promoted can be rolled back");
            }
            m.transition(
                Phase::RollingBack,
                format!("rolled back by {user}: {reason}"),
            );
        }
        Command::Pause { user } => {
            if !phase.is_active() {
                return refuse("only a rollout under way can be paused");
            }
            if status.user_paused {
                return refuse("it is already paused by an operator");
            }
            m.status.user_paused = true;
            m.transition(Phase::Paused, format!("paused by {user}"));
        }
        Command::Resume { user } => {
            if !status.user_paused {
                return refuse("it is not paused by an operator");
            }
            m.status.user_paused = false;
            m.transition(Phase::Progressing, format!("resumed by {user}"));
        }
    }
    if run_on {
        // Let the machine take the command's consequences at once (e.g. leave a satisfied gate).
        m.run(false);
    } else {
        // Only the status change is recorded; effects are the reconcile loop's to carry out.
        m.effects.clear();
    }
    Ok(Decision {
        status: m.status,
        effects: m.effects,
    })
}

/// A named list of steps `mlops rollout start --template NAME` builds a rollout from: one of the
/// shipped ones, or one from the user's `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
    /// Shipped with the binary (false: from the user's config).
    pub builtin: bool,
}

/// The step templates shipped with the binary.
pub fn templates() -> Vec<Template> {
    let a = |count| Step::Analysis(AnalysisStep { count });
    let t = |name: &str, description: &str, steps| Template {
        name: name.into(),
        description: description.into(),
        steps,
        builtin: true,
    };
    vec![
        t(
            "canary",
            "10% → 30% → 60% → 100%, three passing analyses at each weight",
            vec![
                Step::SetWeight(10),
                a(3),
                Step::SetWeight(30),
                a(3),
                Step::SetWeight(60),
                a(3),
                Step::SetWeight(100),
            ],
        ),
        t(
            "canary-approval",
            "10% with two passing analyses, then an approval gate, 50% for five minutes, 100%",
            vec![
                Step::SetWeight(10),
                a(2),
                Step::Approval {},
                Step::SetWeight(50),
                Step::Pause(PauseStep {
                    duration_seconds: Some(300),
                }),
                Step::SetWeight(100),
            ],
        ),
        t(
            "quick",
            "50% with one passing analysis, then 100%",
            vec![Step::SetWeight(50), a(1), Step::SetWeight(100)],
        ),
    ]
}

/// Check a template's steps as `validate` would check them in a rollout (an approval gate of one,
/// the default analysis). Errors name `steps[i]`.
pub fn validate_steps(steps: &[Step]) -> Result<(), CoreError> {
    let spec = RolloutSpec {
        model: ModelRef {
            name: "template".into(),
            version: 1,
        },
        stable_version: 0,
        deployment: "template".into(),
        image: "template".into(),
        replicas: 1,
        http_route: None,
        steps: steps.to_vec(),
        analysis: default_analysis("template"),
        approval: ApprovalGate { required: 1 },
    };
    validate(&spec).map_err(|e| match e {
        CoreError::InvalidSpec { field, message } => CoreError::InvalidSpec {
            field: field.trim_start_matches("spec.").to_string(),
            message,
        },
        other => other,
    })
}

/// What a step in a template's compact form may look like, for error messages.
pub const STEP_SYNTAX: &str =
    "setWeight N (0-100), pause, pause DURATION (90s, 5m, 1h), analysis N, approval";

impl std::str::FromStr for Step {
    type Err = String;

    /// The compact form user templates are written in: `setWeight 10`, `pause 5m`,
    /// `pause` (until promoted), `analysis 3`, `approval`. Keywords ignore case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = |why: &str| format!("{why} in step {text:?} (a step is one of: {STEP_SYNTAX})");
        let number = |w: &str| w.trim_end_matches('%').parse::<u64>().ok();
        let keyword = words.first().map(|w| w.to_ascii_lowercase());
        match (keyword.as_deref(), &words[words.len().min(1)..]) {
            (Some("setweight"), [w]) => number(w)
                .and_then(|n| u8::try_from(n).ok())
                .filter(|n| *n <= 100)
                .map(Step::SetWeight)
                .ok_or_else(|| bad(&format!("weight {w:?} is not a number from 0 to 100"))),
            (Some("pause"), [] | ["until", "promoted"]) => Ok(Step::Pause(PauseStep {
                duration_seconds: None,
            })),
            (Some("pause"), [d]) => parse_duration(d)
                .filter(|s| *s > 0)
                .map(|s| {
                    Step::Pause(PauseStep {
                        duration_seconds: Some(s),
                    })
                })
                .ok_or_else(|| bad(&format!("duration {d:?} is not like 90s, 5m or 1h"))),
            (Some("analysis"), []) => Ok(Step::Analysis(AnalysisStep { count: 1 })),
            (Some("analysis"), [n]) => number(n)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(|count| Step::Analysis(AnalysisStep { count }))
                .ok_or_else(|| bad(&format!("count {n:?} is not a number of 1 or more"))),
            (Some("approval"), []) => Ok(Step::Approval {}),
            (Some("setweight" | "pause" | "analysis" | "approval"), _) => {
                Err(bad("wrong number of arguments"))
            }
            (Some(other), _) => Err(bad(&format!("unknown step kind {other:?}"))),
            (None, _) => Err(bad("empty step")),
        }
    }
}

/// `90`, `90s`, `5m`, `1h` → seconds.
fn parse_duration(text: &str) -> Option<u64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
}

/// The analysis every template uses: error rate and p99 latency of the canary against stable,
/// from the model servers' request metrics.
pub fn default_analysis(model: &str) -> AnalysisSpec {
    let err = |track: &str| {
        format!(
            "sum(rate(model_requests_total{{model=\"{model}\",track=\"{track}\",code=~\"5..\"}}[1m])) / sum(rate(model_requests_total{{model=\"{model}\",track=\"{track}\"}}[1m]))"
        )
    };
    let p99 = |track: &str| {
        format!(
            "histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{model=\"{model}\",track=\"{track}\"}}[1m]))) * 1000"
        )
    };
    AnalysisSpec {
        interval_seconds: 30,
        failure_limit: 2,
        metrics: vec![
            MetricCheck {
                name: "error-rate".into(),
                kind: analysis::MetricKind::ErrorRate,
                canary_query: err("canary"),
                stable_query: Some(err("stable")),
                max: Some(0.05),
                max_ratio_to_stable: Some(2.0),
            },
            MetricCheck {
                name: "latency-p99".into(),
                kind: analysis::MetricKind::LatencyP99,
                canary_query: p99("canary"),
                stable_query: Some(p99("stable")),
                max: Some(1000.0),
                max_ratio_to_stable: Some(1.5),
            },
        ],
    }
}

/// Builders for tests and the demo: `RolloutSpec::test()`.
impl RolloutSpec {
    pub fn test() -> Self {
        Self {
            model: ModelRef {
                name: "fraud-detector".into(),
                version: 7,
            },
            stable_version: 6,
            deployment: "fraud-detector".into(),
            image: "registry.local/fraud-detector:7".into(),
            replicas: 10,
            http_route: None,
            steps: vec![
                Step::SetWeight(10),
                Step::Analysis(AnalysisStep { count: 2 }),
                Step::SetWeight(50),
                Step::Approval {},
                Step::SetWeight(100),
            ],
            analysis: AnalysisSpec {
                interval_seconds: 30,
                failure_limit: 2,
                metrics: vec![MetricCheck {
                    name: "error-rate".into(),
                    kind: analysis::MetricKind::ErrorRate,
                    canary_query: "canary".into(),
                    stable_query: Some("stable".into()),
                    max: Some(0.05),
                    max_ratio_to_stable: Some(2.0),
                }],
            },
            approval: ApprovalGate { required: 1 },
        }
    }

    #[must_use]
    pub fn with_steps(mut self, steps: Vec<Step>) -> Self {
        self.steps = steps;
        self
    }
}

/// What carrying out `decision` changes, in words, for a confirmation dialog: phase, step,
/// traffic and replicas, registry aliases, approvals.
pub fn preview(
    spec: &RolloutSpec,
    before: &RolloutStatus,
    decision: &Decision,
    current_champion: Option<u32>,
) -> Vec<String> {
    let after = &decision.status;
    let total = spec.steps.len();
    let mut lines = Vec::new();
    if before.phase != after.phase {
        lines.push(format!("phase: {} → {}", before.phase, after.phase));
    }
    if before.current_step != after.current_step && !after.phase.is_terminal() {
        lines.push(format!(
            "step: {}/{total} → {}/{total} ({})",
            (before.current_step + 1).min(total),
            (after.current_step + 1).min(total),
            spec.steps
                .get(after.current_step)
                .map_or_else(|| "done".to_string(), ToString::to_string)
        ));
    }
    if after.approvals.len() != before.approvals.len() {
        let who: Vec<&str> = after.approvals.iter().map(|a| a.user.as_str()).collect();
        lines.push(format!(
            "approvals: {}/{} → {}/{} ({})",
            before.approvals.len(),
            spec.approval.required,
            after.approvals.len(),
            spec.approval.required,
            who.join(", ")
        ));
    }
    let split = |w: u8| replica_split(spec.replicas, w);
    for e in &decision.effects {
        match e {
            Effect::SetWeight { weight } => {
                let (s0, c0) = split(before.weight);
                let (s1, c1) = split(*weight);
                lines.push(format!(
                    "canary traffic: {}% → {weight}%; replicas stable {s0} → {s1}, canary {c0} → {c1}",
                    before.weight
                ));
            }
            Effect::AbortCanary => {
                let (_, c0) = split(before.weight);
                lines.push(format!(
                    "canary traffic: {}% → 0%; canary replicas {c0} → 0; stable v{} back to {} replicas",
                    before.weight, spec.stable_version, spec.replicas
                ));
            }
            Effect::PromoteStable { version } => lines.push(format!(
                "stable track: v{} → v{version} on {} replicas; canary removed",
                spec.stable_version, spec.replicas
            )),
            Effect::RestoreStable { version } => lines.push(format!(
                "stable track: v{} → v{version} on {} replicas (undo promotion)",
                spec.model.version, spec.replicas
            )),
            Effect::MoveAlias {
                model,
                alias,
                version,
            } => lines.push(format!(
                "registry: {model}@{alias} {} → v{version}",
                current_champion.map_or_else(|| "unset".to_string(), |v| format!("v{v}"))
            )),
            Effect::TagVersion { .. } | Effect::Event { .. } => {}
        }
    }
    if !decision.effects.iter().any(|e| {
        matches!(
            e,
            Effect::SetWeight { .. }
                | Effect::AbortCanary
                | Effect::PromoteStable { .. }
                | Effect::RestoreStable { .. }
        )
    }) {
        lines.push(format!("traffic: unchanged (canary {}%)", after.weight));
    }
    lines
}

#[cfg(test)]
mod tests;
