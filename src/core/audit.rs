//! The audit trail: every mutation, who made it, why, and a SHA-256 chain over the entries so that
//! editing or dropping one is detected by `verify`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CoreError;

/// One entry of the log. Reading one refuses any field it does not have
/// (`deny_unknown_fields`): its hash must cover everything it carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// The fields of an entry: all it may carry, and all its hash covers (`hash` itself aside).
pub const FIELDS: [&str; 9] = [
    "seq",
    "time",
    "actor",
    "action",
    "target",
    "comment",
    "details",
    "prev_hash",
    "hash",
];

/// An entry as read from an export line, and the names of any fields it carries beyond an
/// entry's own ([`FIELDS`]): those are not covered by its hash, so [`Checker::push`] reports
/// them. The entry's own fields are read as strictly as ever (a wrong type, a field missing or
/// given twice is an error).
pub fn parse_entry(json: &str) -> Result<(AuditEntry, Vec<String>), serde_json::Error> {
    match serde_json::from_str::<AuditEntry>(json) {
        Ok(entry) => Ok((entry, Vec::new())),
        Err(e) if e.is_data() && e.to_string().starts_with("unknown field") => {
            // Rare (a tampered line): read it again, once for the entry and once for the names.
            let entry = serde_json::from_str::<Lenient>(json)?.into();
            let keys: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)?;
            let extra = keys
                .keys()
                .filter(|k| !FIELDS.contains(&k.as_str()))
                .cloned()
                .collect();
            Ok((entry, extra))
        }
        Err(e) => Err(e),
    }
}

/// [`AuditEntry`] without `deny_unknown_fields`: reads a line that carries more.
#[derive(Deserialize)]
struct Lenient {
    seq: u64,
    time: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    comment: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl From<Lenient> for AuditEntry {
    fn from(l: Lenient) -> Self {
        AuditEntry {
            seq: l.seq,
            time: l.time,
            actor: l.actor,
            action: l.action,
            target: l.target,
            comment: l.comment,
            details: l.details,
            prev_hash: l.prev_hash,
            hash: l.hash,
        }
    }
}

/// Whether `text` is a hash as entries carry them: 64 hex digits (either case).
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where a log being checked begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The whole log: the first entry is #1 and chains after nothing (the genesis link).
    Genesis,
    /// A window (`audit export --since`): the first entry's link to the one before it is not
    /// checked, since that entry is not there — unless the first entry is #1, which must chain
    /// after the genesis link.
    Anywhere,
    /// Resuming from a checkpoint: the first entry is the one whose hash is this (lowercase hex)
    /// or the one right after it (its `prev_hash` is this).
    Checkpoint(String),
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
    /// It carries fields an entry does not have, which its hash does not cover: added after it
    /// was written.
    ExtraFields,
    /// The first entry is neither the checkpoint given nor the one right after it.
    StartMismatch,
    /// The last entry's hash is not the head expected: entries were removed from the end, or
    /// the chain was rewritten and re-hashed.
    HeadMismatch,
}

/// One problem, at the entry `seq` (its line in the file, or its position in the log, is
/// `line`, from 1; both are 0 for a problem of a log with no entries).
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
/// An empty result means the log verifies. The `line` of each finding is the entry's position.
pub fn check(entries: &[AuditEntry], start: Start) -> Vec<Finding> {
    let mut checker = Checker::new(start);
    for (i, e) in entries.iter().enumerate() {
        checker.push(e, i + 1, &[]);
    }
    checker.finish(None).findings
}

/// The entry before the one being checked: what its successor must chain after.
struct Link {
    seq: u64,
    line: usize,
    hash: String,
    what: String,
}

/// The chain checked one entry at a time, in the order they were stored or exported, as a file
/// is read: it keeps the entry before and the findings, never the log.
pub struct Checker {
    start: Start,
    prev: Option<Link>,
    entries: usize,
    first_seq: Option<u64>,
    findings: Vec<Finding>,
}

/// What [`Checker::finish`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub entries: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The last entry's hash: the head of what was checked.
    pub head_hash: Option<String>,
    /// Whether the first entry was checked against an anchor: the genesis link (it is #1, or
    /// the whole log was asked for) or the checkpoint given. A window without one is not.
    pub start_anchored: bool,
    /// Whether the first entry's link was checked against the genesis link.
    pub from_genesis: bool,
    /// Whether the last entry was checked against an expected head.
    pub end_anchored: bool,
    pub findings: Vec<Finding>,
}

impl Checker {
    pub fn new(start: Start) -> Self {
        Checker {
            start,
            prev: None,
            entries: 0,
            first_seq: None,
            findings: Vec::new(),
        }
    }

    /// Check the next entry, found at `line` (of the file, or its position in the log), which
    /// carried the fields `extra` beyond an entry's own (see [`parse_entry`]).
    pub fn push(&mut self, e: &AuditEntry, line: usize, extra: &[String]) {
        let what = format!(
            "entry #{} ({} {} by {})",
            e.seq, e.action, e.target, e.actor
        );
        let mut found = |problem: Problem, message: String| {
            self.findings.push(Finding {
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
        if !extra.is_empty() {
            let names: Vec<String> = extra.iter().map(|n| format!("`{n}`")).collect();
            found(
                Problem::ExtraFields,
                format!(
                    "{what} carries {} its hash does not cover ({}): added after it was written",
                    if extra.len() == 1 {
                        "a field"
                    } else {
                        "fields"
                    },
                    names.join(", ")
                ),
            );
        }
        match &self.prev {
            None => {
                if let Some((problem, message)) = first_problem(&self.start, e, &what) {
                    found(problem, message);
                }
            }
            Some(p) => {
                if let Some((problem, message)) = link_problem(p, e, &what) {
                    found(problem, message);
                }
            }
        }
        if self.first_seq.is_none() {
            self.first_seq = Some(e.seq);
        }
        self.entries += 1;
        self.prev = Some(Link {
            seq: e.seq,
            line,
            hash: e.hash.clone(),
            what,
        });
    }

    /// What was found, with the last entry checked against `expect_head` (a hash) when given.
    pub fn finish(mut self, expect_head: Option<&str>) -> Checked {
        if let Some(head) = expect_head {
            let head = head.to_ascii_lowercase();
            match &self.prev {
                Some(last) if last.hash != head => self.findings.push(Finding {
                    seq: last.seq,
                    line: last.line,
                    problem: Problem::HeadMismatch,
                    message: format!(
                        "the log ends at {}, whose hash is {}, not at the expected head {head}: entries after it were removed, or the chain was rewritten",
                        last.what, last.hash
                    ),
                }),
                Some(_) => {}
                None => self.findings.push(Finding {
                    seq: 0,
                    line: 0,
                    problem: Problem::HeadMismatch,
                    message: format!(
                        "the log has no entries, but its head was expected to be {head}: every entry was removed"
                    ),
                }),
            }
        }
        let from_genesis = self.start == Start::Genesis || self.first_seq == Some(1);
        Checked {
            entries: self.entries,
            first_seq: self.first_seq,
            last_seq: self.prev.as_ref().map(|p| p.seq),
            head_hash: self.prev.map(|p| p.hash),
            start_anchored: from_genesis || matches!(self.start, Start::Checkpoint(_)),
            from_genesis,
            end_anchored: expect_head.is_some(),
            findings: self.findings,
        }
    }
}

/// What is wrong with the first entry, given where the log was to begin.
fn first_problem(start: &Start, e: &AuditEntry, what: &str) -> Option<(Problem, String)> {
    match start {
        Start::Genesis if e.seq != 1 => Some((
            Problem::Truncated,
            format!("the log begins at {what}, not at entry 1: the entries before it were removed"),
        )),
        Start::Checkpoint(h) if e.hash != *h && e.prev_hash != *h => Some((
            Problem::StartMismatch,
            format!(
                "the log begins at {what}, which is neither the checkpoint (the entry whose hash is {h}) nor the entry right after it: entries after the checkpoint were removed, or the chain was rewritten"
            ),
        )),
        // Entry #1 chains after nothing, wherever the log was to begin.
        _ if e.seq == 1 && e.prev_hash != GENESIS => Some((
            Problem::Unchained,
            format!(
                "{what} does not chain after the start of the log: its prev_hash is not the genesis link (64 zeros)"
            ),
        )),
        // The first entry of a window, or one that begins the log as it should.
        _ => None,
    }
}

/// What is wrong with the link from `p` to the entry after it, `e`.
fn link_problem(p: &Link, e: &AuditEntry, what: &str) -> Option<(Problem, String)> {
    if e.seq <= p.seq {
        return Some((
            Problem::Reordered,
            format!(
                "{what} comes after #{}: entries out of order or repeated",
                p.seq
            ),
        ));
    }
    if e.seq > p.seq + 1 {
        let message = if e.seq == p.seq + 2 {
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
        };
        return Some((Problem::Removed, message));
    }
    (e.prev_hash != p.hash).then(|| {
        (
            Problem::Unchained,
            format!(
                "{what} does not chain after #{}: one of the two was changed and re-hashed, or put in",
                p.seq
            ),
        )
    })
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

    #[test]
    fn a_field_the_hash_does_not_cover_is_named() {
        let log = log_of(2);
        let line = serde_json::to_string(&log[1]).expect("json");
        let added = line.replacen('{', "{\"approved_by\":\"mallory\",\"override\":true,", 1);
        let (entry, extra) = parse_entry(&added).expect("read leniently");
        assert_eq!(entry, log[1]);
        assert_eq!(extra, ["approved_by", "override"]);
        let mut c = Checker::new(Start::Genesis);
        c.push(&log[0], 1, &[]);
        c.push(&entry, 3, &extra);
        let f = c.finish(None).findings;
        assert_eq!(problems(&f), vec![(2, Problem::ExtraFields)]);
        assert_eq!(f[0].line, 3);
        assert!(
            f[0].message.contains("(`approved_by`, `override`)"),
            "{}",
            f[0]
        );
        // The strict type refuses it outright (the cluster's entries are read so).
        let e = serde_json::from_str::<AuditEntry>(&added).expect_err("strict");
        assert!(e.to_string().contains("unknown field `approved_by`"), "{e}");
        // Other errors are errors still.
        assert!(parse_entry("{\"seq\": 1}").is_err());
        assert!(parse_entry(&added.replacen("\"seq\":2", "\"seq\":\"2\"", 1)).is_err());
    }

    #[test]
    fn anchors_pin_the_start_and_the_end() {
        let log = log_of(8);
        let run = |entries: &[AuditEntry], start: Start, head: Option<&str>| {
            let mut c = Checker::new(start);
            for (i, e) in entries.iter().enumerate() {
                c.push(e, i + 1, &[]);
            }
            c.finish(head)
        };
        let head = log[7].hash.as_str();
        let whole = run(&log, Start::Genesis, Some(head));
        assert!(whole.findings.is_empty(), "{:?}", whole.findings);
        assert!(whole.start_anchored && whole.end_anchored && whole.from_genesis);
        assert_eq!(whole.head_hash.as_deref(), Some(head));
        // A window without anchors verifies, and says it is not anchored.
        let window = run(&log[3..6], Start::Anywhere, None);
        assert!(window.findings.is_empty());
        assert!(!window.start_anchored && !window.end_anchored && !window.from_genesis);
        // A file that starts at #1 is checked against the genesis link without being asked.
        let auto = run(&log[..4], Start::Anywhere, None);
        assert!(auto.from_genesis && auto.start_anchored);
        let mut forged = log[..3].to_vec();
        forged[0].prev_hash = "f".repeat(64);
        forged[0].hash = digest(&forged[0]);
        assert_eq!(
            problems(&run(&forged, Start::Anywhere, None).findings),
            vec![(1, Problem::Unchained), (2, Problem::Unchained)]
        );
        // Removed at the end: only the expected head tells.
        let f = run(&log[..6], Start::Genesis, Some(head)).findings;
        assert_eq!(problems(&f), vec![(6, Problem::HeadMismatch)]);
        assert_eq!(f[0].line, 6);
        let f = run(&[], Start::Genesis, Some(head)).findings;
        assert_eq!(problems(&f), vec![(0, Problem::HeadMismatch)]);
        // A checkpoint: the file starts at it or right after it, and nowhere else.
        let at = Start::Checkpoint(log[2].hash.clone());
        assert!(run(&log[2..], at.clone(), Some(head)).findings.is_empty());
        assert!(run(&log[3..], at.clone(), Some(head)).findings.is_empty());
        assert_eq!(
            problems(&run(&log[4..], at, None).findings),
            vec![(5, Problem::StartMismatch)]
        );
    }

    /// Every field of an entry, changed to something else.
    fn change(e: &mut AuditEntry, field: usize, text: &str) {
        let other = |s: &str| format!("{s}{text}x");
        match field {
            0 => e.seq += 1,
            1 => e.time += chrono::TimeDelta::seconds(1),
            2 => e.actor = other(&e.actor),
            3 => e.action = other(&e.action),
            4 => e.target = other(&e.target),
            5 => e.comment = other(&e.comment),
            6 => e.details = other(&e.details),
            7 => e.prev_hash = other(&e.prev_hash),
            _ => e.hash = other(&e.hash),
        }
    }

    proptest::proptest! {
        #[test]
        fn an_untouched_chain_verifies_with_both_ends_anchored(n in 1usize..24) {
            let log = log_of(n);
            let head = log[n - 1].hash.clone();
            let mut c = Checker::new(Start::Genesis);
            for (i, e) in log.iter().enumerate() {
                c.push(e, i + 1, &[]);
            }
            let checked = c.finish(Some(&head));
            proptest::prop_assert!(checked.findings.is_empty(), "{:?}", checked.findings);
            // Every line of an export reads back as it was, with nothing extra.
            for e in &log {
                let line = serde_json::to_string(e).expect("json");
                proptest::prop_assert_eq!(parse_entry(&line).expect("reads"), (e.clone(), Vec::new()));
            }
        }

        #[test]
        fn any_change_to_one_field_of_one_entry_is_caught(
            n in 1usize..16,
            at in 0usize..16,
            field in 0usize..9,
            text in "\\PC{0,8}",
        ) {
            let mut log = log_of(n);
            let at = at % n;
            change(&mut log[at], field, &text);
            let f = check(&log, Start::Genesis);
            proptest::prop_assert!(!f.is_empty(), "field {field} of entry {at} changed unnoticed");
            proptest::prop_assert_eq!(f[0].seq, log[at].seq);
        }

        #[test]
        fn a_field_added_to_any_entry_is_caught(
            n in 1usize..12,
            at in 0usize..12,
            name in "[a-z_]{1,12}",
            value in proptest::prelude::any::<i64>(),
        ) {
            proptest::prop_assume!(!FIELDS.contains(&name.as_str()));
            let log = log_of(n);
            let at = at % n;
            let mut c = Checker::new(Start::Genesis);
            for (i, e) in log.iter().enumerate() {
                let mut line = serde_json::to_string(e).expect("json");
                if i == at {
                    line = line.replacen('{', &format!("{{\"{name}\":{value},"), 1);
                }
                let (entry, extra) = parse_entry(&line).expect("reads");
                c.push(&entry, i + 1, &extra);
            }
            let f = c.finish(None).findings;
            proptest::prop_assert_eq!(problems(&f), vec![(log[at].seq, Problem::ExtraFields)]);
            let named = format!("`{name}`");
            proptest::prop_assert!(f[0].message.contains(&named), "{}", f[0]);
        }

        #[test]
        fn entries_removed_at_either_end_are_caught_by_the_anchors(
            n in 2usize..20,
            cut in 1usize..19,
        ) {
            let log = log_of(n);
            let cut = cut.min(n - 1);
            let head = log[n - 1].hash.clone();
            // Removed at the start: a window unless the file must begin at the genesis link.
            proptest::prop_assert!(check(&log[cut..], Start::Anywhere).is_empty());
            proptest::prop_assert_eq!(
                problems(&check(&log[cut..], Start::Genesis)),
                vec![(log[cut].seq, Problem::Truncated)]
            );
            // Removed at the end: unnoticed unless the head is expected.
            let mut c = Checker::new(Start::Genesis);
            for (i, e) in log[..n - cut].iter().enumerate() {
                c.push(e, i + 1, &[]);
            }
            proptest::prop_assert_eq!(
                problems(&c.finish(Some(&head)).findings),
                vec![(log[n - cut - 1].seq, Problem::HeadMismatch)]
            );
        }

        #[test]
        fn a_chain_rewritten_and_rehashed_whole_is_caught_by_the_head(
            n in 1usize..16,
            at in 0usize..16,
        ) {
            let log = log_of(n);
            let head = log[n - 1].hash.clone();
            let at = at % n;
            // Rewrite one entry and re-hash it and every entry after it.
            let mut forged: Vec<AuditEntry> = log[..at].to_vec();
            for (i, e) in log[at..].iter().enumerate() {
                let mut e = e.clone();
                if i == 0 {
                    e.actor = "mallory".into();
                }
                e.prev_hash = forged.last().map_or_else(|| GENESIS.to_string(), |p| p.hash.clone());
                e.hash = digest(&e);
                forged.push(e);
            }
            proptest::prop_assert!(check(&forged, Start::Genesis).is_empty());
            let mut c = Checker::new(Start::Genesis);
            for (i, e) in forged.iter().enumerate() {
                c.push(e, i + 1, &[]);
            }
            proptest::prop_assert_eq!(
                problems(&c.finish(Some(&head)).findings),
                vec![(n as u64, Problem::HeadMismatch)]
            );
        }
    }
}
