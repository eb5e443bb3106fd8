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

    /// Check the chain; the error names the first entry that does not fit.
    pub fn verify(entries: &[AuditEntry]) -> Result<(), CoreError> {
        let mut prev = GENESIS.to_string();
        for (i, e) in entries.iter().enumerate() {
            if e.prev_hash != prev || digest(e) != e.hash || e.seq != i as u64 + 1 {
                return Err(CoreError::Statistics(format!(
                    "audit entry #{} ({} {} by {}) does not match the chain: the log was altered",
                    i + 1,
                    e.action,
                    e.target,
                    e.actor
                )));
            }
            prev.clone_from(&e.hash);
        }
        Ok(())
    }
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
}
