//! Notifications, decided: which events a rollout's status holds (`events`), which of them are
//! still owed to someone (`pending`), the idempotency key each carries, what a destination is
//! subscribed to (`config`), and the bodies sent (`payload`). Pure functions; the controller's
//! sender carries them out over HTTP and records deliveries in `status.notifications`.
//!
//! Events are read from what the status already keeps — its transitions (`history`) and its
//! analysis rounds (`measurements`) — rather than from one pass's old and new status, so a
//! transition made by an operator's command, or one whose notification a stopped controller never
//! sent, is found again by whichever replica leads next. The key is a hash of the rollout's uid,
//! the trigger and the transition's time and step: the same event always has the same key.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::rollout::Delivery;
use crate::{
    analysis::{MetricKind, Verdict},
    rollout::{MAX_MEASUREMENTS, Phase, RolloutRecord, Transition},
};

pub mod config;
pub mod payload;
#[cfg(test)]
mod tests;

/// Events older than this are never sent: a controller down for longer, or notifications
/// configured for a namespace whose rollouts already moved, does not page about the past.
pub const MAX_AGE_HOURS: i64 = 24;
/// Deliveries `status.notifications` keeps (oldest dropped first).
pub const MAX_LEDGER: usize = 50;
/// Who acted when no operator's command caused the event.
pub const CONTROLLER_ACTOR: &str = "controller";

/// What happened, as a subscription names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Trigger {
    AwaitingApproval,
    Paused,
    RolledBack,
    Promoted,
    Failed,
    DriftAlert,
}

impl Trigger {
    pub const ALL: [Trigger; 6] = [
        Trigger::AwaitingApproval,
        Trigger::Paused,
        Trigger::RolledBack,
        Trigger::Promoted,
        Trigger::Failed,
        Trigger::DriftAlert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::AwaitingApproval => "on-awaiting-approval",
            Trigger::Paused => "on-paused",
            Trigger::RolledBack => "on-rolled-back",
            Trigger::Promoted => "on-promoted",
            Trigger::Failed => "on-failed",
            Trigger::DriftAlert => "on-drift-alert",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Every trigger's name, for error messages.
    pub fn names() -> String {
        Trigger::ALL.map(Trigger::as_str).join(", ")
    }

    /// The trigger of a phase change to `to`, if it has one.
    fn of_phase(to: Phase) -> Option<Trigger> {
        match to {
            Phase::AwaitingApproval => Some(Trigger::AwaitingApproval),
            Phase::Paused => Some(Trigger::Paused),
            Phase::RolledBack => Some(Trigger::RolledBack),
            Phase::Promoted => Some(Trigger::Promoted),
            Phase::Failed => Some(Trigger::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of one rollout, with every fact a notification carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub trigger: Trigger,
    /// The idempotency key: the same for every delivery of this event, to every destination.
    pub key: String,
    pub time: DateTime<Utc>,
    pub namespace: String,
    pub rollout: String,
    pub model: String,
    pub version: u32,
    /// The phase the rollout moved to (for a drift alert, the phase it was in).
    pub phase: Phase,
    pub reason: String,
    /// Who acted: the user of the command that caused it, or `controller`.
    pub actor: String,
}

impl Event {
    /// The command that opens the rollout.
    pub fn link(&self) -> String {
        format!("mlops rollout get {} -n {}", self.rollout, self.namespace)
    }
}

/// The idempotency key of an event: `mlops-` and 24 hex digits of a hash of what identifies it.
pub fn key(uid: &str, trigger: Trigger, time: DateTime<Utc>, step: usize) -> String {
    let mut h = Sha256::new();
    h.update(format!("{uid}\n{trigger}\n{}\n{step}", time.to_rfc3339()));
    let digest = h.finalize();
    let mut out = String::from("mlops-");
    for b in digest.iter().take(12) {
        use std::fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Every event the rollout's status holds, oldest first.
pub fn events(record: &RolloutRecord, uid: &str) -> Vec<Event> {
    let s = &record.status;
    let event = |trigger, time, step, phase, reason: &str, actor: String| Event {
        trigger,
        key: key(uid, trigger, time, step),
        time,
        namespace: record.namespace.clone(),
        rollout: record.name.clone(),
        model: record.spec.model.name.clone(),
        version: record.spec.model.version,
        phase,
        reason: reason.to_string(),
        actor,
    };
    let mut out = Vec::new();
    for (i, t) in s.history.iter().enumerate() {
        if t.from == t.to {
            continue;
        }
        if let Some(trigger) = Trigger::of_phase(t.to) {
            let actor = actor(record, i);
            let reason = with_cause(&s.history[..i], t);
            out.push(event(trigger, t.time, t.step, t.to, &reason, actor));
        }
    }
    for m in drift_alerts(record) {
        let phase = phase_at(&s.history, m.time).unwrap_or(s.phase);
        let reason = format!("drift check {} failed: {}", m.metric, m.reason);
        out.push(event(
            Trigger::DriftAlert,
            m.time,
            usize::MAX,
            phase,
            &reason,
            CONTROLLER_ACTOR.into(),
        ));
    }
    out.sort_by_key(|e| e.time);
    out
}

/// The events not yet delivered to every destination subscribed to them, and not older than
/// [`MAX_AGE_HOURS`] at `now`.
pub fn pending(record: &RolloutRecord, uid: &str, now: DateTime<Utc>) -> Vec<Event> {
    let oldest = now - Duration::hours(MAX_AGE_HOURS);
    events(record, uid)
        .into_iter()
        .filter(|e| e.time >= oldest)
        .filter(|e| {
            !record
                .status
                .notifications
                .iter()
                .any(|d| d.key == e.key && d.done)
        })
        .collect()
}

/// The ledger after `event` went to `destination` (or, with `None`, after it was found to be owed
/// to nobody more); `done` when every destination subscribed to it has it now. Bounded to
/// [`MAX_LEDGER`] entries, the oldest events dropped first.
pub fn record_delivery(
    ledger: &[Delivery],
    event: &Event,
    destination: Option<&str>,
    done: bool,
) -> Vec<Delivery> {
    let mut out = ledger.to_vec();
    let i = out
        .iter()
        .position(|d| d.key == event.key)
        .unwrap_or_else(|| {
            out.push(Delivery {
                key: event.key.clone(),
                event: event.trigger.as_str().into(),
                time: event.time,
                to: Vec::new(),
                done: false,
            });
            out.len() - 1
        });
    if let Some(dest) = destination
        && !out[i].to.iter().any(|d| d == dest)
    {
        out[i].to.push(dest.to_string());
    }
    out[i].done |= done;
    out.sort_by_key(|d| d.time);
    if out.len() > MAX_LEDGER {
        let excess = out.len() - MAX_LEDGER;
        out.drain(..excess);
    }
    out
}

/// Whether `destination` already has `event`, according to the ledger.
pub fn delivered(ledger: &[Delivery], key: &str, destination: &str) -> bool {
    ledger
        .iter()
        .any(|d| d.key == key && (d.done || d.to.iter().any(|t| t == destination)))
}

/// Who caused the transition at `index`: the user of `status.lastCommand` when the command's
/// transition is this one or one of the three phase changes before it, with no phase the rollout
/// reached on its own in between (an approval that leads on to promotion), else the controller.
fn actor(record: &RolloutRecord, index: usize) -> String {
    let s = &record.status;
    let Some(cmd) = &s.last_command else {
        return CONTROLLER_ACTOR.into();
    };
    let mut changes = 0;
    for j in (0..=index).rev() {
        let t = &s.history[j];
        if t.time == cmd.time {
            return cmd.user.clone();
        }
        if t.from == t.to {
            continue;
        }
        changes += 1;
        // A phase the rollout reached on its own starts a new chain of causes.
        if changes > 3
            || (j < index
                && matches!(
                    t.to,
                    Phase::RollingBack | Phase::Paused | Phase::AwaitingApproval | Phase::Failed
                ))
        {
            break;
        }
    }
    CONTROLLER_ACTOR.into()
}

/// The reason of an end reached through `RollingBack` or `Promoting` begins with why the
/// rollout went there (`rolled back by remy: bad canary; all traffic on stable version 6`).
fn with_cause(before: &[Transition], t: &Transition) -> String {
    if !matches!(t.from, Phase::RollingBack | Phase::Promoting) {
        return t.reason.clone();
    }
    match before.iter().rev().find(|b| b.from != b.to) {
        Some(cause) if cause.to == t.from && cause.reason != t.reason => {
            format!("{}; {}", cause.reason, t.reason)
        }
        _ => t.reason.clone(),
    }
}

/// The first failing round of each run of failing rounds of a drift check: a drift alert. A run
/// whose start fell out of the kept measurements is not alerted again.
fn drift_alerts(record: &RolloutRecord) -> Vec<&crate::analysis::Measurement> {
    let s = &record.status;
    let full = s.measurements.len() >= MAX_MEASUREMENTS;
    let mut out = Vec::new();
    for check in record
        .spec
        .analysis
        .metrics
        .iter()
        .filter(|m| m.kind == MetricKind::Drift)
    {
        let mut before: Option<Verdict> = None;
        for m in s.measurements.iter().filter(|m| m.metric == check.name) {
            if m.verdict == Verdict::Fail
                && before.is_none_or(|b| b != Verdict::Fail)
                && (before.is_some() || !full)
            {
                out.push(m);
            }
            before = Some(m.verdict);
        }
    }
    out
}

/// The phase the rollout was in at `time`.
fn phase_at(history: &[Transition], time: DateTime<Utc>) -> Option<Phase> {
    history.iter().rev().find(|t| t.time <= time).map(|t| t.to)
}
