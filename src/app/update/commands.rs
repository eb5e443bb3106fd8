//! Rollout commands: the preview and confirmation of a verb, then the effect that sends it.

use crossterm::event::{KeyCode, KeyEvent};
use mlops_core::rollout::{self, Command, RolloutKey, RolloutRecord};
use ratatui_textarea::TextArea;

use super::{force, text_of};
use crate::app::{
    action::{Action, Effect},
    feeds::Source,
    rows,
    screens::ScreenKind,
    state::{App, Confirm, Mode},
};

/// A command came back from the cluster: say what it led to and refresh what it changed.
pub(super) fn command_done(
    app: &mut App,
    result: Result<Box<RolloutRecord>, String>,
    fx: &mut Vec<Effect>,
) {
    match result {
        Ok(r) => app.info(format!(
            "{}: now {} — {}",
            r.name, r.status.phase, r.status.message
        )),
        Err(e) => app.error(e),
    }
    force(app, Source::Cluster, fx);
    force(app, Source::Audit, fx);
    app.dirty = true;
}

/// The rollout a verb applies to: the one in the detail view, or the selected row.
fn target_rollout(app: &App) -> Option<RolloutKey> {
    match &app.screen().kind {
        ScreenKind::RolloutDetail(k) => Some(k.clone()),
        ScreenKind::Rollouts | ScreenKind::Overview => rows::rollouts(app, &app.screen().filter)
            .get(app.screen().selected)
            .map(|r| r.key()),
        _ => None,
    }
}

fn identity(app: &App) -> String {
    app.feeds
        .cluster
        .data
        .as_ref()
        .map_or_else(|| "unknown".into(), |s| s.identity.clone())
}

pub(super) fn begin_command(app: &mut App, action: &Action) {
    app.dirty = true;
    let verb = action.description();
    if app.readonly {
        app.warn(format!("read-only mode: cannot {verb}"));
        return;
    }
    let Some(key) = target_rollout(app) else {
        app.warn(format!("select a rollout to {verb}"));
        return;
    };
    let Some(record) = rows::find_rollout(app, &key).cloned() else {
        app.warn(format!("rollout {} is not loaded yet", key.name));
        return;
    };
    let user = identity(app);
    let (command, needs_comment) = match action {
        Action::Approve => (
            Command::Approve {
                user,
                comment: String::new(),
            },
            true,
        ),
        Action::Promote => (Command::Promote { full: false }, false),
        Action::PromoteFull => (Command::Promote { full: true }, false),
        Action::Abort => (
            Command::Abort {
                user,
                reason: String::new(),
            },
            true,
        ),
        Action::Rollback => (
            Command::Rollback {
                user,
                reason: String::new(),
            },
            true,
        ),
        Action::Pause => (Command::Pause { user }, false),
        _ => (Command::Resume { user }, false),
    };
    // Ask the core what would happen: a refused command is refused before any dialog.
    match rollout::apply_command(
        &record.name,
        &record.spec,
        &record.status,
        &command,
        app.now,
    ) {
        Err(e) => app.error(e.to_string()),
        Ok(decision) => {
            let champion = app
                .feeds
                .models
                .data
                .as_ref()
                .and_then(|ms| ms.iter().find(|m| m.name == record.spec.model.name))
                .and_then(|m| m.aliases.get("champion").copied());
            let preview = rollout::preview(&record.spec, &record.status, &decision, champion);
            let mut comment = TextArea::default();
            comment.set_placeholder_text(if needs_comment {
                "a comment is required"
            } else {
                "optional comment"
            });
            app.confirm = Some(Confirm {
                title: format!("{} {} ({})", command.verb(), record.name, record.cluster),
                target: key,
                command,
                preview,
                comment,
                needs_comment,
                error: None,
            });
            app.mode = Mode::Confirm;
        }
    }
}

pub(super) fn confirm_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(confirm) = app.confirm.as_mut() else {
        app.mode = Mode::Normal;
        return;
    };
    if super::input::is_cancel(&key) {
        app.confirm = None;
        app.mode = Mode::Normal;
        app.info("cancelled: nothing changed");
        return;
    }
    match key.code {
        KeyCode::Enter => {
            let comment = text_of(&confirm.comment).trim().to_string();
            if confirm.needs_comment && comment.is_empty() {
                confirm.error = Some("a comment is required for the audit trail".into());
                return;
            }
            let mut command = confirm.command.clone();
            match &mut command {
                Command::Approve { comment: c, .. } => c.clone_from(&comment),
                Command::Abort { reason, .. } | Command::Rollback { reason, .. } => {
                    reason.clone_from(&comment);
                }
                _ => {}
            }
            let target = confirm.target.clone();
            app.info(format!("sending {} to {}…", command.verb(), target.name));
            app.confirm = None;
            app.mode = Mode::Normal;
            fx.push(Effect::Command { target, command });
        }
        _ if super::input::is_full(&confirm.comment, &key, super::input::COMMENT_MAX) => {}
        _ => {
            confirm.comment.input(key);
            confirm.error = None;
        }
    }
}
