//! Rollout commands: the preview and confirmation of a verb, then the effect that sends it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mlops_core::rollout::{self, Alias, Command, RolloutKey, RolloutRecord, Verb};
use ratatui_textarea::TextArea;

use super::{force, text_of};
use crate::app::{
    action::Effect,
    feeds::Source,
    rows,
    screens::{Panel, ScreenKind, ViewId},
    state::{App, Confirm, Overlay},
};

/// A command came back from the cluster: say what it led to and refresh what it changed.
pub(super) fn command_done(
    app: &mut App,
    result: Result<Box<RolloutRecord>, mlops_core::CoreError>,
    fx: &mut Vec<Effect>,
) {
    match result {
        Ok(r) => app.info(format!(
            "{}: now {} — {}",
            r.name, r.status.phase, r.status.message
        )),
        Err(e) => app.error(e.to_string()),
    }
    force(app, Source::Cluster, fx);
    force(app, Source::Audit, fx);
    app.dirty = true;
}

/// The rollout a verb applies to: the one in the detail view, or the selected row.
fn target_rollout(app: &App) -> Option<RolloutKey> {
    let screen = app.screen();
    match &screen.kind {
        ScreenKind::RolloutDetail(k) => Some(k.clone()),
        ScreenKind::Root(ViewId::Overview) if screen.panel != Panel::Rollouts => None,
        ScreenKind::Root(ViewId::Rollouts | ViewId::Overview) => rows::rollouts(app, screen)
            .get(screen.selected)
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

/// What the console knows of the champion alias of `model`: a preview never claims what was not
/// loaded.
fn champion(app: &App, model: &str) -> Alias {
    match app.feeds.models.data.as_ref() {
        None => Alias::Unknown,
        Some(models) => models
            .iter()
            .find(|m| m.name == model)
            .and_then(|m| m.aliases.get(rollout::CHAMPION_ALIAS).copied())
            .map_or(Alias::Unset, Alias::At),
    }
}

/// Ask the core what `command` would do to the rollout `key`, in words; an error when the
/// rollout's phase refuses it.
fn preview(app: &App, key: &RolloutKey, command: &Command) -> Result<Vec<String>, String> {
    let record = rows::find_rollout(app, key)
        .ok_or_else(|| format!("rollout {} is not loaded yet", key.name))?;
    // The preview is of the change, not of the comment still to be typed (a promotion
    // against a failing analysis is refused without one).
    let mut previewed = command.clone();
    if previewed.comment.trim().is_empty() {
        previewed.comment = "(preview)".into();
    }
    let decision = rollout::apply_command(
        &record.name,
        &record.spec,
        &record.status,
        &previewed,
        app.now,
    )
    .map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    if matches!(command.verb, Verb::Promote | Verb::PromoteFull)
        && let Some(why) = rollout::failing_analysis(&record.spec, &record.status)
    {
        lines.push(format!("⚠ {why}"));
    }
    lines.extend(rollout::preview(
        &record.spec,
        &record.status,
        &decision,
        champion(app, &record.spec.model.name),
    ));
    // An approval or a promotion moves the rollout towards the gates: show them.
    if matches!(
        command.verb,
        Verb::Approve | Verb::Promote | Verb::PromoteFull
    ) && let Some(policy) = &record.policy
    {
        lines.extend(policy.preview_lines());
    }
    Ok(lines)
}

pub(super) fn begin_command(app: &mut App, verb: Verb, fx: &mut Vec<Effect>) {
    app.dirty = true;
    if app.prefs.readonly {
        app.warn(format!("read-only mode: cannot {verb}"));
        return;
    }
    let Some(key) = target_rollout(app) else {
        app.warn(format!("select a rollout to {verb}"));
        return;
    };
    // What the cluster does not allow is not offered: its reason instead of a dialog.
    if let Some(why) = rows::denied(app, &key.namespace, verb) {
        app.error(why.to_string());
        return;
    }
    let command = Command::new(verb, identity(app), "");
    // Ask the core what would happen: a refused command is refused before any dialog.
    match preview(app, &key, &command) {
        Err(e) => app.error(e),
        Ok(preview) => {
            // A promotion moves the champion alias: read it if it is not loaded (the preview
            // says "unknown" until it arrives, then shows it).
            if app.feeds.models.data.is_none() && app.backends.registry.is_some() {
                force(app, Source::Models, fx);
            }
            // What an approval needs is the core's to say, as for the CLI: the rollout's
            // recorded policy and policy.toml's rules for its cluster and namespace.
            let needs = match rows::find_rollout(app, &key) {
                Some(r) if verb == Verb::Approve => {
                    let config = app
                        .prefs
                        .policy
                        .as_ref()
                        .map(|p| p.for_target(&r.cluster, &r.namespace));
                    rollout::approval_needs(r, config.as_ref())
                }
                _ => rollout::ApprovalNeeds::default(),
            };
            let needs_comment = rows::find_rollout(app, &key).map_or(verb.needs_comment(), |r| {
                verb.needs_comment_on(&r.spec, &r.status)
            });
            let mut comment = TextArea::default();
            comment.set_placeholder_text(if needs.ticket == Some(rollout::TicketRule::Started) {
                "CHG-123: why (this rollout's policy requires a change ticket)"
            } else if needs.ticket.is_some() {
                "CHG-123: why (policy.toml requires a change ticket here)"
            } else if needs_comment {
                "a comment is required"
            } else {
                "optional comment"
            });
            app.overlay = Some(Overlay::Confirm(Box::new(Confirm {
                title: format!("{verb} {} ({})", key.name, key.cluster),
                target: key,
                command,
                preview,
                comment,
                needs_comment,
                needs,
                error: None,
            })));
        }
    }
}

/// New data arrived while a confirmation is open: say what the command would do now.
pub(super) fn refresh_preview(app: &mut App) {
    let Some(Overlay::Confirm(confirm)) = &app.overlay else {
        return;
    };
    let result = preview(app, &confirm.target, &confirm.command);
    if let Some(Overlay::Confirm(confirm)) = &mut app.overlay {
        match result {
            Ok(lines) => confirm.preview = lines,
            Err(e) => confirm.error = Some(e),
        }
        app.dirty = true;
    }
}

pub(super) fn confirm_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::Confirm(confirm)) = &mut app.overlay else {
        return;
    };
    if super::text_input::is_cancel(&key) {
        app.overlay = None;
        app.info("cancelled: nothing changed");
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => {
            confirm.comment = TextArea::default();
            confirm.error = None;
        }
        KeyCode::Enter => {
            let comment = text_of(&confirm.comment).trim().to_string();
            if confirm.needs_comment && comment.is_empty() {
                confirm.error = Some("a comment is required for the audit trail".into());
                return;
            }
            let mut command = confirm.command.clone();
            command.comment = comment;
            // An approval is made and checked by the core, as the CLI's is: the ticket at the
            // head of the comment (CHG-123: why).
            if command.verb == Verb::Approve {
                let approval = Command::approve(command.user.clone(), None, &command.comment)
                    .and_then(|c| confirm.needs.check(&c.comment).map(|()| c));
                match approval {
                    Ok(c) => command = c,
                    Err(e @ rollout::ApprovalRefused::NoTicket(_)) => {
                        confirm.error =
                            Some(format!("{e}: start the comment with it (CHG-123: why)"));
                        return;
                    }
                    Err(e) => {
                        confirm.error = Some(e.to_string());
                        return;
                    }
                }
            }
            let target = confirm.target.clone();
            app.info(format!("sending {} to {}…", command.verb(), target.name));
            app.overlay = None;
            fx.push(Effect::Command { target, command });
        }
        _ if super::text_input::is_full(&confirm.comment, &key, super::text_input::COMMENT_MAX) => {
        }
        _ => {
            confirm.comment.input(key);
            confirm.error = None;
        }
    }
}
