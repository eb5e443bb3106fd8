//! A poll of the registry for one trigger: what changed since its cursor (kept apart from the
//! trigger types so that the cluster snapshot, which holds triggers, and the registry's model
//! types do not import each other).

use chrono::{DateTime, Utc};

use super::{Condition, MAX_TAGGED, PollCursor};
use crate::model::RegisteredModel;

/// A poll: what changed in `model` since `cursor` for `condition`, as the version to roll out
/// (the newest, if several), and the cursor to keep. The first poll of a trigger (no cursor)
/// only takes its bearings: what was true before the trigger existed does not fire it.
pub fn poll(
    condition: &Condition,
    model: &RegisteredModel,
    cursor: &PollCursor,
    now: DateTime<Utc>,
) -> (Option<u32>, PollCursor) {
    let first = cursor.polled_at.is_none();
    let mut next = PollCursor {
        polled_at: Some(now),
        ..PollCursor::default()
    };
    let fire = match condition {
        Condition::Alias(alias) => {
            let current = model.aliases.get(alias).copied();
            next.alias_version = current;
            match current {
                Some(v) if !first && cursor.alias_version != Some(v) => Some(v),
                _ => None,
            }
        }
        Condition::VersionCreated => {
            let newest = model.versions.iter().max_by_key(|v| (v.created, v.version));
            let seen = cursor.created_ms.unwrap_or(i64::MIN);
            next.created_ms = newest
                .map(|v| v.created.timestamp_millis())
                .or(cursor.created_ms);
            match newest {
                Some(v) if !first && v.created.timestamp_millis() > seen => Some(v.version),
                _ => None,
            }
        }
        Condition::Tag { key, value } => {
            let mut tagged: Vec<u32> = model
                .versions
                .iter()
                .filter(|v| v.tags.get(key) == Some(value))
                .map(|v| v.version)
                .collect();
            tagged.sort_unstable();
            let new = tagged
                .iter()
                .rev()
                .find(|v| {
                    !cursor.tagged.contains(v)
                        && cursor.tagged.first().is_none_or(|oldest| *v > oldest)
                })
                .copied();
            let keep = tagged.len().saturating_sub(MAX_TAGGED);
            next.tagged = tagged.split_off(keep);
            if first { None } else { new }
        }
    };
    (fire, next)
}
