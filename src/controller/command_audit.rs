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
use crate::adapters::kube::{ModelRollout, err, names::FIELD_MANAGER};

/// What auditing the rollout's last command came to.
pub(super) enum Audited {
    /// Nothing to write: no command, or it is marked.
    Nothing,
    /// Written and marked: the rollout as it is now.
    Marked(Arc<ModelRollout>),
    /// Someone wrote the status in between: a new pass reads it again.
    Conflict,
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
    let api: Api<ModelRollout> = Api::namespaced(ctx.cluster.client(), &ns);
    let mut marked = ModelRollout::clone(mr);
    if let Some(c) = marked.status.as_mut().and_then(|s| s.last_command.as_mut()) {
        c.audited = Some(entry.seq);
    }
    // With the resourceVersion read: a write in between is a conflict, never overwritten.
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let written = match api.replace_status(&mr.name_any(), &params, &marked).await {
        Ok(r) => r,
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(Audited::Conflict),
        Err(e) => {
            return Err(err(
                &format!("marking the last command of {ns}/{} audited", mr.name_any()),
                e,
            ));
        }
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
