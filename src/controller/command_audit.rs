//! The controller writes people's commands into the audit log: a rollout whose
//! `status.lastCommand` carries its entry (`rollout::unaudited_command`) but no mark gets the
//! entry written in the sender's name with the controller's own rights, then the mark
//! (`lastCommand.audited`: the entry's number) in its status, then the command's Event. The sender
//! waits for the mark before telling its user the command is done. A pass that crashed between
//! the entry and the mark finds the entry by its key (`rollout::command_key`) and does not write
//! a second one; only the leader runs passes.

use std::sync::Arc;

use kube::{Api, Resource, ResourceExt, api::PostParams};
use mlops_core::{
    CoreError,
    rollout::{self, Verb},
};

use super::Context;
use crate::adapters::kube::{
    ModelRollout, err,
    names::FIELD_MANAGER,
    rbac::{AUTHOR_ANNOTATION, START_AUDIT_ANNOTATION},
};

/// What auditing the rollout's last command came to.
pub(super) enum Audited {
    /// Nothing to write: no command, or it is marked.
    Nothing,
    /// Written and marked: the rollout as it is now.
    Marked(Arc<ModelRollout>),
    /// Someone wrote the status in between: a new pass reads it again.
    Conflict,
}

/// Write the start entry of a new rollout (`rollout::unaudited_start`) in its author's name with
/// the controller's rights, then mark it (`status.startAudited`): `mlops rollout start` waits for
/// the mark, so people starting rollouts need no write rights on the audit log. A crash before the
/// mark finds the entry by its key and does not write a second one.
pub(super) async fn audit_start(
    mr: &Arc<ModelRollout>,
    ctx: &Context,
) -> Result<Audited, CoreError> {
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
        return Ok(Audited::Nothing);
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
    Ok(match mark(ctx, &marked, "the start").await? {
        Some(written) => Audited::Marked(Arc::new(written)),
        None => Audited::Conflict,
    })
}

/// Write `marked`'s status with the resourceVersion it was read at: `None` when someone wrote it
/// in between (a conflict, never overwritten). `what` is marked audited.
async fn mark(
    ctx: &Context,
    marked: &ModelRollout,
    what: &str,
) -> Result<Option<ModelRollout>, CoreError> {
    let ns = marked.namespace().unwrap_or_default();
    let api: Api<ModelRollout> = Api::namespaced(ctx.cluster.client(), &ns);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api
        .replace_status(&marked.name_any(), &params, marked)
        .await
    {
        Ok(r) => Ok(Some(r)),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
        Err(e) => Err(err(
            &format!("marking {what} of {ns}/{} audited", marked.name_any()),
            e,
        )),
    }
}

pub(super) async fn audit_command(
    mr: &Arc<ModelRollout>,
    ctx: &Context,
) -> Result<Audited, CoreError> {
    let record = mr.record(&ctx.cluster.describe_context());
    let (Some(entry), Some(key)) = (
        rollout::unaudited_command(&record),
        rollout::command_key(&record),
    ) else {
        return Ok(Audited::Nothing);
    };
    let log = ctx.cluster.audit_log();
    let entry = match log.find_command(&key).await? {
        Some(written) => written,
        None => log.append_keyed(entry, Some(&key)).await?,
    };
    let ns = mr.namespace().unwrap_or_default();
    let mut marked = ModelRollout::clone(mr);
    if let Some(c) = marked.status.as_mut().and_then(|s| s.last_command.as_mut()) {
        c.audited = Some(entry.seq);
    }
    let Some(written) = mark(ctx, &marked, "the last command").await? else {
        return Ok(Audited::Conflict);
    };
    // The command as an Event on the rollout, as its audit entry says it, reported in the
    // sender's name.
    let verb = Verb::ALL
        .iter()
        .copied()
        .find(|v| v.audit_action() == entry.action);
    if let Some(verb) = verb {
        ctx.cluster
            .post_event(
                &ns,
                &written.object_ref(&()),
                verb.event_reason(),
                &rollout::command_event(&entry),
                matches!(verb, Verb::Abort | Verb::Rollback),
                &entry.actor,
            )
            .await;
    }
    Ok(Audited::Marked(Arc::new(written)))
}
