//! The state machine: `reconcile(spec, status, observation)` moves a rollout as far as the world
//! allows and says which effects to carry out.

use chrono::{DateTime, Duration, Utc};

use super::{
    Condition, Decision, Effect, Gates, MAX_HISTORY, MAX_MEASUREMENTS, Observation,
    POLICY_CONDITION, PauseStep, Phase, RolloutSpec, RolloutStatus, Step, Transition, validate,
};
use crate::{
    analysis::{self, Sample, Verdict},
    error::CoreError,
};

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
    let weight = u64::from(weight.min(100));
    if weight == 0 || total == 0 {
        return (total, 0);
    }
    if weight == 100 {
        return (0, total);
    }
    // In u64: replicas from the cluster may be anything up to u32::MAX.
    let canary = (u64::from(total) * weight)
        .div_ceil(100)
        .clamp(1, u64::from(total.saturating_sub(1).max(1)));
    let canary = u32::try_from(canary).unwrap_or(total);
    (total.saturating_sub(canary), canary)
}

/// `s` seconds; a duration longer than time itself (a pause of u64::MAX seconds from the
/// cluster) is the longest there is, never a panic.
fn seconds(s: u64) -> Duration {
    i64::try_from(s)
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or(Duration::MAX)
}

/// One run of the machine over a copy of the status; `command` drives it too.
pub(super) struct Machine<'a> {
    pub(super) spec: &'a RolloutSpec,
    pub(super) status: RolloutStatus,
    pub(super) effects: Vec<Effect>,
    pub(super) now: DateTime<Utc>,
}

/// A phase change as its event (and the audit) says it: `Paused → RollingBack: aborted by …`.
pub(super) fn event_message(from: &str, to: &str, reason: &str) -> String {
    format!("{from} → {to}: {reason}")
}

/// The phase an event's message says the rollout moved to (as `event_message` wrote it).
pub(super) fn event_to(message: &str) -> Option<&str> {
    let (change, _) = message.split_once(": ")?;
    change.rsplit_once(" → ").map(|(_, to)| to)
}

impl Machine<'_> {
    pub(super) fn transition(&mut self, to: Phase, reason: impl Into<String>) {
        let reason = reason.into();
        let from = self.status.phase;
        if from == to && self.status.message == reason {
            return;
        }
        // The event and the audit name phases by the words the rows use: a timed pause step
        // is `Pausing`, an operator's pause `Paused`.
        let from_word = super::phase_word(self.spec, &self.status);
        self.status.history.push(Transition {
            time: self.now,
            from,
            to,
            step: self.status.current_step,
            reason: reason.clone(),
        });
        trim_front(&mut self.status.history, MAX_HISTORY);
        self.status.phase = to;
        self.status.message.clone_from(&reason);
        if from != to {
            let to_word = super::phase_word(self.spec, &self.status);
            self.effects.push(Effect::Event {
                reason: to.as_str().to_string(),
                message: event_message(from_word, to_word, &reason),
                warning: matches!(to, Phase::RollingBack | Phase::RolledBack | Phase::Failed),
            });
        }
    }

    fn set_weight(&mut self, weight: u8) {
        if self.status.weight != weight {
            self.status.weight = weight;
            self.effects.push(Effect::SetWeight { weight });
        }
    }

    pub(super) fn advance(&mut self, reason: &str) {
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
                .unwrap_or_else(|| Sample::empty(check.name.clone()));
            round.push(analysis::evaluate(check, &sample, self.now));
            self.spend_budget(check, &sample);
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

    /// Add what the canary spent of its error budget since the previous round, where `check`
    /// has a budget and the round measured both its rates. The time since the previous round
    /// (or since the step began, for the first) counts up to the rate window: the rates say
    /// nothing of what came before it.
    fn spend_budget(&mut self, check: &analysis::MetricCheck, sample: &Sample) {
        let (Some(budget), Some(rates)) = (&check.budget, sample.budget) else {
            return;
        };
        let Some(since) = self
            .status
            .last_measurement_at
            .or(self.status.step_started_at)
        else {
            return;
        };
        #[allow(clippy::cast_precision_loss)] // seconds, far below 2^52
        let seconds = ((self.now - since).num_milliseconds().max(0) as f64 / 1000.0)
            .min(budget.rate_window_seconds as f64);
        if let Some(spent) = budget.add(self.status.canary_budget_spent.as_ref(), rates, seconds) {
            self.status.canary_budget_spent = Some(spent);
        }
    }

    /// Run the state machine until it waits on the world.
    pub(super) fn run(&mut self, canary_ready: bool, gates: &Gates) {
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
                    if !self.gates_allow(gates) {
                        if self.status.phase == Phase::RollingBack {
                            continue;
                        }
                        return;
                    }
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
                            "analysis failed {} times (limit {}){}",
                            self.status.failures,
                            self.spec.analysis.failure_limit,
                            failed_last(&self.status)
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

    /// Whether the policy gates let the rollout be promoted now. A failed gate rolls it back,
    /// naming the gate; gates not yet decided (or not decidable) keep it waiting in Promoting.
    fn gates_allow(&mut self, gates: &Gates) -> bool {
        match gates {
            Gates::None => true,
            Gates::Unchecked => false,
            Gates::Unknown(why) => {
                let message = format!("not promoted until the policy gates can be decided: {why}");
                set_condition(
                    &mut self.status,
                    POLICY_CONDITION,
                    false,
                    "Undecided",
                    &message,
                    self.now,
                );
                false
            }
            Gates::Decided(v) if v.allowed => {
                let evidence = v.evidence();
                set_condition(
                    &mut self.status,
                    POLICY_CONDITION,
                    true,
                    "Passed",
                    &evidence,
                    self.now,
                );
                true
            }
            Gates::Decided(v) => {
                let why = v.refusal().unwrap_or_else(|| v.evidence());
                set_condition(
                    &mut self.status,
                    POLICY_CONDITION,
                    false,
                    "Failed",
                    &why,
                    self.now,
                );
                self.transition(
                    Phase::RollingBack,
                    format!("policy gates failed before promotion: {why}"),
                );
                false
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
                    format!(
                        "analysis step: {} of {} passing runs so far",
                        self.status.passes_in_step, a.count
                    ),
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

/// The checks that failed in the latest round, as a rollback's reason names them
/// (`: error-rate, slo-burn`); empty when none did.
fn failed_last(status: &RolloutStatus) -> String {
    let Some(last) = status.measurements.last().map(|m| m.time) else {
        return String::new();
    };
    let failed: Vec<&str> = status
        .measurements
        .iter()
        .filter(|m| m.time == last && m.verdict == Verdict::Fail)
        .map(|m| m.metric.as_str())
        .collect();
    if failed.is_empty() {
        String::new()
    } else {
        format!(": {}", failed.join(", "))
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
    m.run(obs.canary_ready, &obs.gates);
    Decision {
        status: m.status,
        effects: m.effects,
    }
}
