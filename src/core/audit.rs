//! The audit trail: every mutation, who made it, why, and a SHA-256 chain over the entries so that
//! editing or dropping one is detected by `verify`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CoreError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub comment: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The entry that follows `prev` (or starts the chain) in any store of the log.
    pub fn after(prev: Option<&AuditEntry>, r: AuditRecord) -> AuditEntry {
        let mut entry = AuditEntry {
            seq: prev.map_or(1, |p| p.seq + 1),
            time: r.time,
            actor: r.actor,
            action: r.action,
            target: r.target,
            comment: r.comment,
            details: r.details,
            prev_hash: prev.map_or_else(|| GENESIS.to_string(), |p| p.hash.clone()),
            hash: String::new(),
        };
        entry.hash = digest(&entry);
        entry
    }
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn digest(e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    for part in [
        e.prev_hash.as_str(),
        &e.seq.to_string(),
        &e.time.to_rfc3339(),
        &e.actor,
        &e.action,
        &e.target,
        &e.comment,
        &e.details,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What is being recorded; the log adds sequence number and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub time: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub comment: String,
    pub details: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
}

impl AuditLog {
    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    pub fn append(&mut self, r: AuditRecord) -> &AuditEntry {
        let entry = AuditEntry::after(self.entries.last(), r);
        self.entries.push(entry);
        let last = self.entries.len() - 1;
        &self.entries[last]
    }

    /// Check the whole log (it starts at entry 1); the error names the first entry that does
    /// not fit. [`check`] finds every problem, in a whole log or a window of it.
    pub fn verify(entries: &[AuditEntry]) -> Result<(), CoreError> {
        match check(entries, Start::Genesis).first() {
            None => Ok(()),
            Some(f) => Err(CoreError::Statistics(format!("{f}: the log was altered"))),
        }
    }
}

/// Where a log being checked begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The whole log: the first entry is #1 and chains after nothing.
    Genesis,
    /// A window (`audit export --since`): the first entry's link to the one before it is not
    /// checked, since that entry is not there.
    Anywhere,
}

/// What is wrong with one place in a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Its fields do not hash to its `hash`: the entry was changed after it was written.
    Edited,
    /// Its `hash` is right for its fields, but it does not chain after the entry before it:
    /// the entry before it was changed and re-hashed, or this one was put in.
    Unchained,
    /// It appears before an entry with a lower `seq`, or twice.
    Reordered,
    /// Entries are missing before it (`seq` jumps).
    Removed,
    /// The whole log does not begin with entry #1.
    Truncated,
}

/// One problem, at the entry `seq` (its position in the file or log is `line`, from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub seq: u64,
    pub line: usize,
    pub problem: Problem,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every place where `entries` (in the order they were stored or exported) do not form one
/// unbroken chain: edited entries, entries put in, entries removed, entries out of order.
/// An empty result means the log verifies.
pub fn check(entries: &[AuditEntry], start: Start) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut prev: Option<&AuditEntry> = None;
    for (i, e) in entries.iter().enumerate() {
        let line = i + 1;
        let what = format!(
            "entry #{} ({} {} by {})",
            e.seq, e.action, e.target, e.actor
        );
        let mut found = |problem: Problem, message: String| {
            out.push(Finding {
                seq: e.seq,
                line,
                problem,
                message,
            });
        };
        if digest(e) != e.hash {
            found(
                Problem::Edited,
                format!("{what} was edited: its fields do not hash to its hash"),
            );
        }
        match prev {
            None if start == Start::Genesis && (e.seq != 1 || e.prev_hash != GENESIS) => found(
                Problem::Truncated,
                format!(
                    "the log begins at {what}, not at entry 1: the entries before it were removed"
                ),
            ),
            Some(p) if e.seq <= p.seq => found(
                Problem::Reordered,
                format!(
                    "{what} comes after #{}: entries out of order or repeated",
                    p.seq
                ),
            ),
            Some(p) if e.seq > p.seq + 1 => found(
                Problem::Removed,
                if e.seq == p.seq + 2 {
                    format!(
                        "entry #{} is missing (between #{} and #{})",
                        p.seq + 1,
                        p.seq,
                        e.seq
                    )
                } else {
                    format!(
                        "entries #{}–#{} are missing (between #{} and #{})",
                        p.seq + 1,
                        e.seq - 1,
                        p.seq,
                        e.seq
                    )
                },
            ),
            Some(p) if e.prev_hash != p.hash => found(
                Problem::Unchained,
                format!(
                    "{what} does not chain after #{}: one of the two was changed and re-hashed, or put in",
                    p.seq
                ),
            ),
            // The first entry of a window, or one that chains as it should.
            None | Some(_) => {}
        }
        prev = Some(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(action: &str) -> AuditRecord {
        AuditRecord {
            time: Utc::now(),
            actor: "alice".into(),
            action: action.into(),
            target: "rollout/fraud".into(),
            comment: "ok".into(),
            details: String::new(),
        }
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let mut log = AuditLog::default();
        log.append(rec("approve"));
        log.append(rec("promote"));
        log.append(rec("abort"));
        assert!(AuditLog::verify(log.entries()).is_ok());
        let mut altered = log.entries().to_vec();
        altered[1].actor = "mallory".into();
        let err = AuditLog::verify(&altered).expect_err("tampered");
        assert!(err.to_string().contains("#2"), "{err}");
        let mut dropped = log.entries().to_vec();
        dropped.remove(1);
        assert!(AuditLog::verify(&dropped).is_err());
    }

    fn log_of(n: usize) -> Vec<AuditEntry> {
        let mut log = AuditLog::default();
        for i in 0..n {
            log.append(rec(&format!("rollout.step-{i}")));
        }
        log.entries().to_vec()
    }

    fn problems(f: &[Finding]) -> Vec<(u64, Problem)> {
        f.iter().map(|f| (f.seq, f.problem.clone())).collect()
    }

    #[test]
    fn check_names_every_edit_insertion_removal_and_reordering_by_seq() {
        let log = log_of(6);
        assert!(check(&log, Start::Genesis).is_empty());
        // Edited in place.
        let mut edited = log.clone();
        edited[2].comment = "approved by nobody".into();
        assert_eq!(
            problems(&check(&edited, Start::Genesis)),
            vec![(3, Problem::Edited)]
        );
        // Edited and re-hashed: the next entry no longer chains after it.
        let mut rehashed = log.clone();
        rehashed[2].actor = "mallory".into();
        rehashed[2].hash = digest(&rehashed[2]);
        assert_eq!(
            problems(&check(&rehashed, Start::Genesis)),
            vec![(4, Problem::Unchained)]
        );
        // Removed in the middle, and at the start.
        let mut removed = log.clone();
        removed.drain(2..4);
        let f = check(&removed, Start::Genesis);
        assert_eq!(problems(&f), vec![(5, Problem::Removed)]);
        assert!(f[0].message.contains("#3–#4 are missing"), "{}", f[0]);
        assert_eq!(
            problems(&check(&log[1..], Start::Genesis)),
            vec![(2, Problem::Truncated)]
        );
        // Reordered.
        let mut swapped = log.clone();
        swapped.swap(1, 2);
        let f = problems(&check(&swapped, Start::Genesis));
        assert!(f.contains(&(2, Problem::Reordered)), "{f:?}");
        // Inserted: a well-formed entry that chains after nothing in the log.
        let mut inserted = log.clone();
        let mut forged = AuditEntry::after(Some(&log[1]), rec("rollout.approve"));
        forged.prev_hash = "f".repeat(64);
        forged.hash = digest(&forged);
        inserted.insert(2, forged);
        let f = problems(&check(&inserted, Start::Genesis));
        assert_eq!(f[0], (3, Problem::Unchained), "{f:?}");
        // A window checks its inner links only.
        assert!(check(&log[2..5], Start::Anywhere).is_empty());
    }
}
