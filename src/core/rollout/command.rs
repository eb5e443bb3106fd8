//! Operator commands (promote, approve, abort, rollback, pause, resume): refused when the phase
//! does not allow them, otherwise the status they lead to.

use chrono::{DateTime, Utc};

use super::{
    Approval, Command, CommandRecord, Decision, Gates, PauseStep, Phase, RolloutRecord,
    RolloutSpec, RolloutStatus, Step, Verb, effects::target, machine::Machine,
};
use crate::{
    audit::{AuditEntry, AuditRecord},
    error::CoreError,
};

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
    let by = command.by();
    match command.verb {
        Verb::Promote | Verb::PromoteFull => {
            if command.comment.trim().is_empty() && super::failing_analysis(spec, status).is_some()
            {
                return refuse(
                    "its canary's analysis is failing; promoting it anyway needs a comment saying why",
                );
            }
            if let Err(hint) = promote(&mut m, command.verb == Verb::PromoteFull, &by) {
                return refuse(hint);
            }
        }
        Verb::Approve => {
            if phase != Phase::AwaitingApproval {
                return refuse("only a rollout waiting at an approval step can be approved");
            }
            approve(&mut m, name, command, &by)?;
        }
        Verb::Abort => {
            if !phase.is_active() && phase != Phase::Pending {
                return refuse("only a rollout under way can be aborted");
            }
            m.transition(Phase::RollingBack, format!("aborted {by}"));
        }
        Verb::Rollback => {
            if phase == Phase::Promoted {
                m.status.undo_promotion = true;
            } else if !phase.is_active() {
                return refuse("only a rollout under way or promoted can be rolled back");
            }
            m.transition(Phase::RollingBack, format!("rolled back {by}"));
        }
        Verb::Pause => {
            if !phase.is_active() {
                return refuse("only a rollout under way can be paused");
            }
            if status.user_paused {
                return refuse("it is already paused by an operator");
            }
            m.status.user_paused = true;
            m.transition(Phase::Paused, format!("paused {by}"));
        }
        Verb::Resume => {
            if !status.user_paused {
                return refuse(&not_paused_hint(spec, status, now));
            }
            // The event names the operator's pause it ends (`Paused`), so the flag goes after.
            m.transition(Phase::Progressing, format!("resumed {by}"));
            m.status.user_paused = false;
        }
    }
    let details = command_details(status, &m.status, spec.steps.len());
    m.status.last_command = Some(CommandRecord {
        verb: command.verb.rbac_verb().to_string(),
        user: command.user.clone(),
        time: now,
        action: command.verb.audit_action().to_string(),
        comment: command.comment.clone(),
        details,
        audited: None,
    });
    if run_on {
        // Let the machine take the command's consequences at once (e.g. leave a satisfied gate).
        // No policy is decided here: a promotion waits in Promoting for the driver's check
        // where the rollout carries one (the driver's next pass decides it).
        m.run(false, &Gates::None);
    } else {
        // Only the status change is recorded; effects are the reconcile loop's to carry out.
        m.effects.clear();
    }
    Ok(Decision {
        status: m.status,
        effects: m.effects,
    })
}

/// Skip the current step, or with `full` go straight to promotion; the hint of a refusal when the
/// phase or an approval gate does not allow it.
fn promote(m: &mut Machine<'_>, full: bool, by: &str) -> Result<(), &'static str> {
    let (spec, status) = (m.spec, &m.status);
    let phase = status.phase;
    if !phase.is_active() {
        return Err("only a Progressing, Paused or AwaitingApproval rollout can be promoted");
    }
    let gate_ahead = spec.steps[status.current_step.min(spec.steps.len())..]
        .iter()
        .any(|s| matches!(s, Step::Approval {}));
    let approved = status.approvals.len() >= spec.approval.required as usize;
    if phase == Phase::AwaitingApproval && !approved {
        return Err("it waits for approval; use approve");
    }
    if full && gate_ahead && !approved {
        return Err("an approval step lies ahead; --full cannot skip an approval gate");
    }
    m.status.user_paused = false;
    if full {
        m.transition(Phase::Promoting, format!("promoted in full {by}"));
    } else {
        m.advance(&format!("step skipped {by}"));
    }
    Ok(())
}

/// Add `command`'s approval to a rollout waiting at its gate; a second one by the same user is
/// refused.
fn approve(m: &mut Machine<'_>, name: &str, command: &Command, by: &str) -> Result<(), CoreError> {
    if m.status.approvals.iter().any(|a| a.user == command.user) {
        return Err(CoreError::DuplicateApproval {
            rollout: name.to_string(),
            user: command.user.clone(),
        });
    }
    m.status.approvals.push(Approval {
        user: command.user.clone(),
        time: m.now,
        comment: command.comment.clone(),
    });
    // Who approved and why goes into the history as every verb does; the next pass moves on
    // once the gate has its approvals.
    let need = m.spec.approval.required;
    m.transition(
        Phase::AwaitingApproval,
        format!("approved {by} ({}/{need})", m.status.approvals.len()),
    );
    Ok(())
}

/// The two-person rule: nobody approves a rollout they started. `author` is who created it, as
/// the cluster recorded it; a rollout whose author is not known cannot be approved under the rule.
pub fn check_two_person(name: &str, author: Option<&str>, approver: &str) -> Result<(), CoreError> {
    let refuse = |reason: String| {
        Err(CoreError::Refused {
            rollout: name.to_string(),
            command: Verb::Approve.as_str().to_string(),
            reason,
        })
    };
    match author.map(str::trim).filter(|a| !a.is_empty()) {
        None => refuse(
            "two-person rule: who started it cannot be determined (no mlops.dev/author annotation), so nobody can approve it as a second person".into(),
        ),
        Some(a) if a == approver => refuse(format!(
            "two-person rule: {approver} started it and cannot also approve it"
        )),
        Some(_) => Ok(()),
    }
}

/// Why resume is refused: not paused by an operator — and if the rollout is waiting out a
/// timed pause step, how long is left and what skips it.
fn not_paused_hint(spec: &RolloutSpec, status: &RolloutStatus, now: DateTime<Utc>) -> String {
    match spec.steps.get(status.current_step) {
        Some(Step::Pause(PauseStep {
            duration_seconds: Some(d),
        })) if status.phase == Phase::Paused => {
            let left = status.step_started_at.map_or(*d, |s| {
                let done = u64::try_from((now - s).num_seconds().max(0)).unwrap_or(0);
                d.saturating_sub(done)
            });
            format!(
                "it is not paused by an operator: it waits out its {d}s pause step ({left}s left); promote skips the pause"
            )
        }
        Some(Step::Pause(PauseStep {
            duration_seconds: None,
        })) if status.phase == Phase::Paused => {
            "it is not paused by an operator: it waits at a pause step until promoted; promote goes on"
                .to_string()
        }
        _ => "it is not paused by an operator".to_string(),
    }
}

/// The message of the Event a command leaves on its rollout: its audit entry in one line.
pub fn command_event(entry: &AuditEntry) -> String {
    let comment = if entry.comment.is_empty() {
        String::new()
    } else {
        format!(": {}", entry.comment)
    };
    format!(
        "{} by {}{comment} ({}; audit #{})",
        entry.action, entry.actor, entry.details, entry.seq
    )
}

/// The model-version tags an action on `rollout` leaves in the registry: `mlops.last_action`
/// and `mlops.action.VERB` (the last of each verb), each saying who, when, why and what came of
/// it. MLflow keeps at most 5000 characters of a tag's value.
pub fn action_tags(
    action: &str,
    actor: &str,
    time: DateTime<Utc>,
    comment: &str,
    rollout: &RolloutRecord,
) -> [(String, String); 2] {
    let verb = action.rsplit('.').next().unwrap_or(action);
    let comment = if comment.is_empty() {
        String::new()
    } else {
        format!(": {comment}")
    };
    let text = format!(
        "{action} by {actor} at {}{comment} (rollout {} on {}; now {} at step {}/{})",
        time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        target(rollout),
        rollout.cluster,
        rollout.status.phase,
        (rollout.status.current_step + 1).min(rollout.spec.steps.len()),
        rollout.spec.steps.len()
    );
    let text = crate::text::truncate(&text, 4000).into_owned();
    [
        ("mlops.last_action".to_string(), text.clone()),
        (format!("mlops.action.{verb}"), text),
    ]
}

/// The tags of `command` once recorded on `rollout` (see `action_tags`).
pub fn command_tags(rollout: &RolloutRecord, command: &Command) -> [(String, String); 2] {
    let time = rollout
        .status
        .last_command
        .as_ref()
        .map_or_else(Utc::now, |c| c.time);
    action_tags(
        command.verb.audit_action(),
        &command.user,
        time,
        &command.comment,
        rollout,
    )
}

/// Leave `tags` on the rollout's model version in the registry.
pub async fn tag_version(
    registry: &dyn crate::ports::RegistryPort,
    rollout: &RolloutRecord,
    tags: &[(String, String)],
) -> Result<(), CoreError> {
    for (key, value) in tags {
        registry
            .set_version_tag(
                &rollout.spec.model.name,
                rollout.spec.model.version,
                key,
                value,
            )
            .await?;
    }
    Ok(())
}

/// The audit entry of an operator's command — who sent it, the verb, the rollout, why, and the
/// phase it leads to — the same on every platform.
pub fn command_audit(
    rollout: &RolloutRecord,
    command: &Command,
    after: &RolloutStatus,
    now: DateTime<Utc>,
) -> AuditRecord {
    AuditRecord {
        time: now,
        actor: command.user.clone(),
        action: command.verb.audit_action().to_string(),
        target: target(rollout),
        comment: command.comment.clone(),
        details: command_details(&rollout.status, after, rollout.spec.steps.len()),
    }
}

/// The details of a command's audit entry: the phase it leads from and to, and the step.
fn command_details(before: &RolloutStatus, after: &RolloutStatus, steps: usize) -> String {
    format!(
        "{} → {} at step {}/{}",
        before.phase,
        after.phase,
        (after.current_step + 1).min(steps),
        steps
    )
}

/// What sending an operator's command came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The rollout as it is afterwards.
    pub rollout: RolloutRecord,
    /// Why the registry did not take the command's tags, if it did not. The command is done and
    /// audited by then, so this is for a warning, never a failure.
    pub untagged: Option<CoreError>,
}

/// Send `command` to the rollout `key` through the cluster (which records and audits it), then
/// leave its tags on the rollout's model version in the registry, where one is configured
/// (`command_tags`): the one way the CLI and the console send a command.
pub async fn send_and_tag(
    cluster: &dyn crate::ports::ClusterPort,
    registry: Option<&dyn crate::ports::RegistryPort>,
    key: &super::RolloutKey,
    command: Command,
) -> Result<Sent, CoreError> {
    let tags_of = command.clone();
    let rollout = cluster
        .rollout_command(&key.cluster, &key.namespace, &key.name, command)
        .await?;
    let untagged = match registry {
        Some(registry) => tag_version(registry, &rollout, &command_tags(&rollout, &tags_of))
            .await
            .err(),
        None => None,
    };
    Ok(Sent { rollout, untagged })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{
        demo::{DEMO_USER, DemoPlatform},
        ports::{ClusterPort, RegistryPort},
    };

    /// The demo answers at once: poll a call to it once.
    fn now<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the demo answers at once"),
        }
    }

    #[test]
    fn a_command_is_sent_then_tagged_in_the_registry() {
        let demo = DemoPlatform::manual(7, Utc::now());
        let waiting = now(demo.snapshot())
            .expect("snapshot")
            .rollouts
            .into_iter()
            .find(|r| r.status.phase == Phase::AwaitingApproval)
            .expect("a rollout at its approval gate");
        let key = waiting.key();
        let approve = Command::approve(DEMO_USER, Some("CHG-1"), "eval ok").expect("approval");
        let sent = now(send_and_tag(&demo, Some(&demo), &key, approve)).expect("sent");
        assert_eq!(sent.untagged, None);
        assert!(
            sent.rollout
                .status
                .approvals
                .iter()
                .any(|a| a.comment == "CHG-1: eval ok")
        );
        let model = now(demo.model(&waiting.spec.model.name)).expect("model");
        let tag = model
            .version(waiting.spec.model.version)
            .and_then(|v| v.tags.get("mlops.action.approve").cloned())
            .unwrap_or_default();
        assert!(tag.starts_with("rollout.approve by you@demo at "), "{tag}");
        // A command the phase refuses is refused, and nothing is tagged.
        let resume = Command::new(Verb::Resume, DEMO_USER, "");
        let refused = now(send_and_tag(&demo, None, &key, resume));
        assert!(
            matches!(refused, Err(CoreError::IllegalCommand { .. })),
            "{refused:?}"
        );
    }
}
