//! The controller writes people's commands into the audit log: a rollout whose
//! `status.lastCommand` carries its entry (`rollout::unaudited_command`) but no mark gets the
//! entry written in the sender's name with the controller's own rights, then the command's Event,
//! and the pass writes the mark (`lastCommand.audited`: the entry's number) with the status it
//! writes anyway, in one request. The sender waits for the mark before telling its user the
//! command is done. A pass that crashed or lost its status write between the entry and the mark
//! finds the entry by its key (`rollout::command_key`) and does not write a second one; only the
//! leader runs passes.

use std::sync::Arc;

use kube::{Resource, ResourceExt};
use mlops_core::{
    CoreError,
    rollout::{self, Verb},
};

use super::Context;
use crate::adapters::kube::{
    ModelRollout,
    rbac::{AUTHOR_ANNOTATION, START_AUDIT_ANNOTATION},
};

/// Write the start entry of a new rollout (`rollout::unaudited_start`) in its author's name with
/// the controller's rights; the rollout comes back marked (`status.startAudited`), for the pass to
/// write with its status. `mlops rollout start` waits for the mark, so people starting rollouts
/// need no write rights on the audit log. A crash before the mark finds the entry by its key and
/// does not write a second one. `None`: nothing to write.
pub(super) async fn audit_start(
    mr: &Arc<ModelRollout>,
    ctx: &Context,
) -> Result<Option<Arc<ModelRollout>>, CoreError> {
    let record = mr.record(&ctx.cluster.describe_context());
    let annotations = mr.metadata.annotations.as_ref();
    let author = annotations.and_then(|a| a.get(AUTHOR_ANNOTATION));
    let recorded = annotations.and_then(|a| a.get(START_AUDIT_ANNOTATION));
    let parsed = recorded.map(|json| {
        serde_json::from_str::<rollout::StartEntry>(json).unwrap_or_else(|e| rollout::StartEntry {
            details: format!(
                "the rollout's {START_AUDIT_ANNOTATION} annotation is unreadable ({e})"
            ),
            ..rollout::StartEntry::default()
        })
    });
    let Some(entry) =
        rollout::unaudited_start(&record, author.map(String::as_str), parsed.as_ref())
    else {
        return Ok(None);
    };
    let key = rollout::start_key(&record, mr.metadata.uid.as_deref().unwrap_or_default());
    let log = ctx.cluster.audit_log();
    let entry = match log.find_command(&key).await? {
        Some(written) => written,
        None => log.append_keyed(entry, Some(&key)).await?,
    };
    let mut marked = ModelRollout::clone(mr);
    marked
        .status
        .get_or_insert_with(Default::default)
        .start_audited = Some(entry.seq);
    Ok(Some(Arc::new(marked)))
}

/// Write the last command's entry (in its sender's name) and its Event; the rollout comes back
/// marked (`lastCommand.audited`), for the pass to write with its status. `None`: no command, or
/// it is marked.
pub(super) async fn audit_command(
    mr: &Arc<ModelRollout>,
    ctx: &Context,
) -> Result<Option<Arc<ModelRollout>>, CoreError> {
    let record = mr.record(&ctx.cluster.describe_context());
    let (Some(entry), Some(key)) = (
        rollout::unaudited_command(&record),
        rollout::command_key(&record),
    ) else {
        return Ok(None);
    };
    let log = ctx.cluster.audit_log();
    // A pass that lost its status write finds the entry, and its Event posted.
    let (entry, new) = match log.find_command(&key).await? {
        Some(written) => (written, false),
        None => (log.append_keyed(entry, Some(&key)).await?, true),
    };
    let ns = mr.namespace().unwrap_or_default();
    let mut marked = ModelRollout::clone(mr);
    if let Some(c) = marked.status.as_mut().and_then(|s| s.last_command.as_mut()) {
        c.audited = Some(entry.seq);
    }
    // The command as an Event on the rollout, as its audit entry says it, reported in the
    // sender's name.
    let verb = Verb::ALL
        .iter()
        .copied()
        .find(|v| v.audit_action() == entry.action);
    if let Some(verb) = verb.filter(|_| new) {
        ctx.cluster
            .post_event(
                &ns,
                &marked.object_ref(&()),
                verb.event_reason(),
                &rollout::command_event(&entry),
                matches!(verb, Verb::Abort | Verb::Rollback),
                &entry.actor,
            )
            .await;
    }
    Ok(Some(Arc::new(marked)))
}
