//! The bodies sent: one JSON object for a generic webhook, Slack's incoming-webhook format
//! (`text` and `blocks`) for a Slack-compatible one. Both carry the same facts and the key.

use serde_json::{Value, json};

use super::{Event, config::Kind};

/// The header that carries the idempotency key on every delivery.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The body for a destination of `kind`.
pub fn body(kind: Kind, event: &Event) -> Value {
    match kind {
        Kind::Webhook => webhook(event),
        Kind::Slack => slack(event),
    }
}

/// The generic webhook's JSON (documented in docs/src/operations/notifications.md).
pub fn webhook(e: &Event) -> Value {
    json!({
        "event": e.trigger.as_str(),
        "idempotencyKey": e.key,
        "model": e.model,
        "version": e.version,
        "rollout": format!("{}/{}", e.namespace, e.rollout),
        "namespace": e.namespace,
        "name": e.rollout,
        "phase": e.phase.as_str(),
        "reason": e.reason,
        "actor": e.actor,
        "time": e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "link": e.link(),
    })
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn headline(e: &Event) -> String {
    let what = match e.trigger {
        super::Trigger::AwaitingApproval => "is waiting for approval",
        super::Trigger::Paused => "is paused",
        super::Trigger::RolledBack => "was rolled back",
        super::Trigger::Promoted => "was promoted",
        super::Trigger::Failed => "failed",
        super::Trigger::DriftAlert => "drifts",
    };
    format!("{} v{} {what}", e.model, e.version)
}

/// Slack's incoming-webhook body: `text` (the notification's fallback) and `blocks`.
pub fn slack(e: &Event) -> Value {
    let title = headline(e);
    let time = e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let text = format!(
        "{title} ({}/{}, {}): {} — by {}",
        e.namespace, e.rollout, e.phase, e.reason, e.actor
    );
    json!({
        "text": escape(&text),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Rollout*\n{}/{}", escape(&e.namespace), escape(&e.rollout))},
                {"type": "mrkdwn", "text": format!("*Phase*\n{}", e.phase)},
                {"type": "mrkdwn", "text": format!("*Who acted*\n{}", escape(&e.actor))},
                {"type": "mrkdwn", "text": format!("*When*\n{time}")},
            ]},
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*Reason*\n{}", escape(&e.reason))}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("`{}` · {} · key {}", escape(&e.link()), e.trigger, e.key)},
            ]},
        ],
    })
}
