//! Operator commands (promote, approve, abort, rollback, pause, resume): refused when the phase
//! does not allow them, otherwise the status they lead to.

use chrono::{DateTime, Utc};

use super::{
    Approval, Command, Decision, Phase, RolloutSpec, RolloutStatus, Step, machine::Machine,
};
use crate::error::CoreError;

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
