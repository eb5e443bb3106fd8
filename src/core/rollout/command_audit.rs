//! Auditing a command from the status alone. A command is recorded in its rollout's
//! `status.lastCommand` with everything its audit entry says (action, comment, details); the
//! controller, which alone may write the log when it runs, writes that entry in the sender's name
//! and marks the command audited (`audited`: the entry's number). The sender is told the command
//! is done once the mark is there.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RolloutRecord, START_ACTION, effects::target};
use crate::audit::AuditRecord;

/// What a rollout's start entry says, as `mlops rollout start` records it on the new rollout (an
/// annotation): the change ticket and the details. `audited`: the sender wrote the entry itself
/// (no controller ran), so nobody writes it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartEntry {
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub details: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audited: Option<u64>,
    /// When its sender sent the create, by the sender's clock: the entry's time within the
    /// rollout's creation second (`creationTimestamp` has whole seconds), so the timeline orders
    /// the start after what happened earlier in that second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<chrono::DateTime<chrono::Utc>>,
}

/// The audit entry `rollout`'s start still needs, in the name of `author` (its creator, as the
/// admission policy keeps it; `None`: unknown), from what its creator recorded (`recorded`):
/// - `None` once it is marked (`status.startAudited`) or its sender wrote it (`audited`);
/// - a rollout created without a record (with kubectl) is audited from its spec while it is new,
///   but one that has progressed without a mark was started before starts were audited this
///   way: its sender wrote the entry, and it is not written twice.
pub fn unaudited_start(
    rollout: &RolloutRecord,
    author: Option<&str>,
    recorded: Option<&StartEntry>,
) -> Option<AuditRecord> {
    if rollout.status.start_audited.is_some() || recorded.and_then(|r| r.audited).is_some() {
        return None;
    }
    let fresh = rollout.status == super::RolloutStatus::default();
    let (comment, details) = match recorded {
        Some(r) => (r.comment.clone(), r.details.clone()),
        None if fresh => (
            String::new(),
            format!(
                "created without mlops rollout start: {} v{} → v{}, {} steps, image {}",
                rollout.spec.model.name,
                rollout.spec.stable_version,
                rollout.spec.model.version,
                rollout.spec.steps.len(),
                rollout.spec.image
            ),
        ),
        None => return None,
    };
    // The sender's time, held to the creation second it claims to be in (a creator cannot
    // move the entry elsewhere in the log).
    let created = rollout.created;
    let time = recorded.and_then(|r| r.sent).map_or(created, |t| {
        t.clamp(created, created + chrono::Duration::milliseconds(999))
    });
    Some(AuditRecord {
        time,
        actor: author
            .filter(|a| !a.trim().is_empty())
            .unwrap_or("unknown (no mlops.dev/author annotation)")
            .to_string(),
        action: START_ACTION.to_string(),
        target: target(rollout),
        comment,
        details,
    })
}

/// A key naming the start of the rollout with the API server's `uid` (a rollout deleted and
/// created again under its name is another start): its entry carries it, so a writer that crashed
/// before marking finds it.
pub fn start_key(rollout: &RolloutRecord, uid: &str) -> String {
    hex_key(&[START_ACTION, &target(rollout), uid])
}

fn hex_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // 20 bytes: 40 hex digits, well inside a label value's 63 characters.
    h.finalize()[..20].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The audit entry `rollout`'s last command still needs: `None` when there is no command, when
/// it is marked audited, or when it was recorded before commands carried their entry (no
/// action: its sender audited it).
pub fn unaudited_command(rollout: &RolloutRecord) -> Option<AuditRecord> {
    let c = rollout.status.last_command.as_ref()?;
    if c.audited.is_some() || c.action.is_empty() {
        return None;
    }
    Some(AuditRecord {
        time: c.time,
        actor: c.user.clone(),
        action: c.action.clone(),
        target: target(rollout),
        comment: c.comment.clone(),
        details: c.details.clone(),
    })
}

/// A key naming `rollout`'s last command and nothing else (40 hex digits, a valid label value):
/// its entry carries it, so a writer that crashed between writing the entry and marking the
/// command finds the entry instead of writing a second one.
pub fn command_key(rollout: &RolloutRecord) -> Option<String> {
    let c = rollout.status.last_command.as_ref()?;
    Some(hex_key(&[
        target(rollout).as_str(),
        &c.user,
        &c.verb,
        &c.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    ]))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::rollout::{Command, Phase, RolloutSpec, RolloutStatus, Verb, record_command};

    fn rollout(status: RolloutStatus) -> RolloutRecord {
        RolloutRecord {
            name: "fraud-detector-v7".into(),
            namespace: "ml".into(),
            cluster: "uae".into(),
            created: Utc::now(),
            spec: RolloutSpec::test(),
            status,
            policy: None,
        }
    }

    fn progressing() -> RolloutStatus {
        RolloutStatus {
            phase: Phase::Progressing,
            ..RolloutStatus::default()
        }
    }

    #[test]
    fn a_recorded_command_carries_its_whole_audit_entry() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 17, 0, 0).unwrap();
        let before = rollout(progressing());
        let abort = Command::new(Verb::Abort, "alice", "p99 doubled");
        let after = record_command(
            "fraud-detector-v7",
            &before.spec,
            &before.status,
            &abort,
            at,
        )
        .expect("abort");
        let recorded = rollout(after.clone());
        let entry = unaudited_command(&recorded).expect("an entry to write");
        assert_eq!(
            entry,
            crate::rollout::command_audit(&before, &abort, &after, at),
            "the same entry as the sender would have written"
        );
        assert_eq!(entry.actor, "alice");
        assert_eq!(entry.action, "rollout.abort");
        assert_eq!(entry.target, "ml/fraud-detector-v7");
        assert_eq!(entry.comment, "p99 doubled");
        assert!(
            entry.details.starts_with("Progressing → RollingBack"),
            "{entry:?}"
        );
    }

    #[test]
    fn a_marked_or_legacy_command_needs_no_entry() {
        let mut status = progressing();
        assert_eq!(
            unaudited_command(&rollout(status.clone())),
            None,
            "no command"
        );
        let abort = Command::new(Verb::Abort, "alice", "why");
        let spec = RolloutSpec::test();
        status = record_command("r", &spec, &status, &abort, Utc::now()).expect("abort");
        let mut marked = status.clone();
        if let Some(c) = marked.last_command.as_mut() {
            c.audited = Some(42);
        }
        assert_eq!(unaudited_command(&rollout(marked)), None, "marked");
        let mut legacy = status;
        if let Some(c) = legacy.last_command.as_mut() {
            c.action.clear();
        }
        assert_eq!(unaudited_command(&rollout(legacy)), None, "legacy");
    }

    #[test]
    fn the_key_names_one_command() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 17, 0, 0).unwrap();
        let spec = RolloutSpec::test();
        let abort = Command::new(Verb::Abort, "alice", "why");
        let status = record_command("r", &spec, &progressing(), &abort, at).expect("abort");
        let key = command_key(&rollout(status.clone())).expect("a key");
        assert_eq!(key.len(), 40);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
        // The mark does not change it (the writer looks the entry up by it after a crash) …
        let mut marked = status.clone();
        if let Some(c) = marked.last_command.as_mut() {
            c.audited = Some(7);
        }
        assert_eq!(command_key(&rollout(marked)), Some(key.clone()));
        // … another moment, user or rollout does.
        let later = record_command(
            "r",
            &spec,
            &progressing(),
            &abort,
            at + chrono::Duration::nanoseconds(1),
        )
        .expect("abort");
        assert_ne!(command_key(&rollout(later)), Some(key.clone()));
        let bob = Command::new(Verb::Abort, "bob", "why");
        let by_bob = record_command("r", &spec, &progressing(), &bob, at).expect("abort");
        assert_ne!(command_key(&rollout(by_bob)), Some(key.clone()));
        let mut other = rollout(status);
        other.name = "churn-model-v4".into();
        assert_ne!(command_key(&other), Some(key));
        assert_eq!(command_key(&rollout(progressing())), None);
    }

    #[test]
    fn a_new_rollout_needs_its_start_entry_once() {
        let recorded = StartEntry {
            comment: "CHG-1".into(),
            details: "fraud v6 → v7".into(),
            audited: None,
            sent: None,
        };
        let fresh = rollout(RolloutStatus::default());
        let entry = unaudited_start(&fresh, Some("alice"), Some(&recorded)).expect("an entry");
        assert_eq!(entry.actor, "alice");
        assert_eq!(entry.action, START_ACTION);
        assert_eq!(entry.target, "ml/fraud-detector-v7");
        assert_eq!(
            (entry.comment.as_str(), entry.details.as_str()),
            ("CHG-1", "fraud v6 → v7")
        );
        assert_eq!(entry.time, fresh.created);
        // The sender's time within the creation second orders it; outside it, it is held there.
        let ms = chrono::Duration::milliseconds;
        for (sent, at) in [
            (fresh.created + ms(420), fresh.created + ms(420)),
            (fresh.created - ms(30), fresh.created),
            (fresh.created + ms(86_400_000), fresh.created + ms(999)),
        ] {
            let with = StartEntry {
                sent: Some(sent),
                ..recorded.clone()
            };
            let entry = unaudited_start(&fresh, Some("alice"), Some(&with)).expect("an entry");
            assert_eq!(entry.time, at);
        }
        // Marked, or written by its sender: nothing more.
        let mut marked = fresh.clone();
        marked.status.start_audited = Some(3);
        assert_eq!(
            unaudited_start(&marked, Some("alice"), Some(&recorded)),
            None
        );
        let by_sender = StartEntry {
            audited: Some(9),
            ..recorded.clone()
        };
        assert_eq!(
            unaudited_start(&fresh, Some("alice"), Some(&by_sender)),
            None
        );
        // Recorded, it is written even after the rollout has progressed (the controller got to it late).
        let progressed = rollout(progressing_with_history());
        assert!(unaudited_start(&progressed, Some("alice"), Some(&recorded)).is_some());
    }

    #[test]
    fn a_rollout_created_with_kubectl_is_audited_from_its_spec_only_while_new() {
        let fresh = rollout(RolloutStatus::default());
        let entry = unaudited_start(&fresh, None, None).expect("an entry");
        assert!(entry.actor.starts_with("unknown"), "{entry:?}");
        assert!(
            entry
                .details
                .starts_with("created without mlops rollout start"),
            "{entry:?}"
        );
        // Started before starts were audited by the controller: its sender wrote the entry.
        assert_eq!(
            unaudited_start(&rollout(progressing_with_history()), Some("bob"), None),
            None
        );
    }

    #[test]
    fn the_start_key_names_one_start() {
        let r = rollout(RolloutStatus::default());
        let key = start_key(&r, "uid-1");
        assert_eq!(key.len(), 40);
        assert_eq!(start_key(&r, "uid-1"), key);
        assert_ne!(start_key(&r, "uid-2"), key, "created again under the name");
        let mut other = r;
        other.name = "churn".into();
        assert_ne!(start_key(&other, "uid-1"), key);
    }

    fn progressing_with_history() -> RolloutStatus {
        let mut s = progressing();
        s.observed_generation = Some(1);
        s
    }
}
