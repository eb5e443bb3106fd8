//! `mlops audit …`: the cluster's hash-chained audit log, read (`list`), taken away (`export`, JSON
//! Lines) and checked (`verify`, the cluster's log or an exported file, offline).

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader, Read as _},
    path::Path,
    process::ExitCode,
};

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use mlops_core::{
    CoreError,
    audit::{self, AuditEntry, Finding, Start},
};
use serde::Serialize;

use super::output::{self, Output, UsageError, safe};
use crate::{app::rows, wiring::Options};

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Entries of the cluster's audit log, newest first.
    List {
        /// Only entries written at or after this: a time (2026-11-30T08:00:00Z), a day
        /// (2026-11-30, midnight UTC) or a duration ago (30m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only entries written before this (same forms as --since).
        #[arg(long)]
        until: Option<String>,
        /// Only this actor's entries (exact).
        #[arg(long)]
        actor: Option<String>,
        /// Only entries whose target contains this (`ml-serving/churn-model-v4`, `churn`).
        #[arg(long)]
        target: Option<String>,
        /// Only entries whose action contains this (`rollout.approve`, `abort`).
        #[arg(long)]
        action: Option<String>,
        /// At most this many entries (the newest).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// The log as JSON Lines on stdout, oldest first: one entry a line with its own fields (seq,
    /// time, actor, action, target, comment, details, prev_hash, hash). `audit verify FILE`
    /// checks it anywhere, without the cluster.
    Export {
        /// From this time on (forms as `list --since`).
        #[arg(long)]
        since: Option<String>,
        /// Before this time.
        #[arg(long)]
        until: Option<String>,
    },
    /// Check the hash chain of the cluster's log, or of an exported file (JSON Lines): every
    /// edited, inserted, removed or reordered entry, and every field an entry's hash does not
    /// cover, is named by its seq and line; exit 1 if any. Anchor the ends to catch entries
    /// removed there or a chain rewritten whole: --from-genesis or --from-hash for the start,
    /// --expect-head for the end.
    Verify {
        /// An `audit export` file; without it, the cluster's log.
        file: Option<std::path::PathBuf>,
        /// The hash the last entry must have (64 hex digits): a head you trust, as an earlier
        /// `audit verify` printed it. Catches entries removed from the end and a chain
        /// rewritten and re-hashed whole.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// The file must hold the log from its first entry (#1, after the genesis link): catches
        /// entries removed from the start. The cluster's log is always checked so.
        #[arg(long, conflicts_with = "from_hash")]
        from_genesis: bool,
        /// The file starts at the entry with this hash (64 hex digits), or right after it: a
        /// checkpoint, such as the head of an earlier verified export. Catches entries removed
        /// between the checkpoint and the file's first entry.
        #[arg(long, value_name = "HASH", requires = "file")]
        from_hash: Option<String>,
    },
}

/// When `text` means: a time, a day (midnight UTC) or a duration before `now`.
pub fn parse_when(flag: &str, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UsageError> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.to_utc());
    }
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let secs = match t.strip_suffix('d') {
        Some(days) => days.parse::<u64>().ok().and_then(|d| d.checked_mul(86_400)),
        None => mlops_core::text::parse_duration(t),
    };
    secs.and_then(|secs| i64::try_from(secs).ok())
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| {
            UsageError(format!(
                "{flag} {text:?}: a time (2026-11-30T08:00:00Z), a day (2026-11-30) or a duration ago (30m, 24h, 7d)"
            ))
        })
}

/// `--since` and `--until`, when given.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn window(since: Option<&String>, until: Option<&String>) -> Result<Window, UsageError> {
    let now = Utc::now();
    Ok((
        since.map(|s| parse_when("--since", s, now)).transpose()?,
        until.map(|u| parse_when("--until", u, now)).transpose()?,
    ))
}

pub fn run(command: &AuditCmd, options: &Options, out: Output) -> Result<ExitCode> {
    match command {
        AuditCmd::List {
            since,
            until,
            actor,
            target,
            action,
            limit,
        } => {
            let (since, until) = window(since.as_ref(), until.as_ref())?;
            let wanted = |e: &AuditEntry| {
                actor.as_ref().is_none_or(|a| &e.actor == a)
                    && target
                        .as_ref()
                        .is_none_or(|t| e.target.contains(t.as_str()))
                    && action
                        .as_ref()
                        .is_none_or(|a| e.action.contains(a.as_str()))
            };
            super::cluster_read(async || {
                let answers = super::each_cluster(options, false, async |c| {
                    let entries = c.audit_log().entries_between(since, until).await?;
                    let cluster = c.describe_context();
                    Ok(entries
                        .into_iter()
                        .filter(|e| wanted(e))
                        .map(|entry| ClusterEntry {
                            cluster: cluster.clone(),
                            entry,
                        })
                        .collect())
                })
                .await?;
                Ok(answers.printed(|a| {
                    let entries = newest_first(&a.items, a.several(), *limit);
                    if a.several() {
                        output::render(out, &entries, |e| table(e, true))
                    } else {
                        // One cluster: the entries as the log holds them, no cluster field.
                        let own: Vec<&AuditEntry> = entries.iter().map(|e| &e.entry).collect();
                        output::render(out, &own, |_| table(&entries, false))
                    }
                }))
            })
        }
        AuditCmd::Export { since, until } => {
            let (since, until) = window(since.as_ref(), until.as_ref())?;
            super::cluster_verb(options, async |c| {
                let entries = c.audit_log().entries_between(since, until).await?;
                Ok(json_lines(&entries))
            })
        }
        AuditCmd::Verify {
            file,
            expect_head,
            from_genesis,
            from_hash,
        } => {
            let expect_head = expect_head
                .as_deref()
                .map(|h| hash_flag("--expect-head", h))
                .transpose()?;
            let from_hash = from_hash
                .as_deref()
                .map(|h| hash_flag("--from-hash", h))
                .transpose()?;
            let start = match (from_hash, *from_genesis) {
                (Some(h), _) => Start::Checkpoint(h),
                (None, true) => Start::Genesis,
                (None, false) => Start::Anywhere,
            };
            if let Some(path) = file {
                return Ok(verified(
                    verify_file(path, start, expect_head.as_deref()),
                    out,
                ));
            }
            // The cluster's log always begins at entry #1.
            let runtime = crate::wiring::tokio_runtime(1)?;
            let result = runtime.block_on(async {
                let c = options.cluster().await?;
                let entries = c.audit_log().entries().await?;
                let mut checker = audit::Checker::new(Start::Genesis);
                for (i, e) in entries.iter().enumerate() {
                    checker.push(e, i + 1, &[]);
                }
                let source = format!("the audit log of {}", c.describe_context());
                Ok(report(source, checker.finish(expect_head.as_deref())))
            });
            Ok(verified(result, out))
        }
    }
}

/// A `--expect-head` or `--from-hash` value: 64 hex digits, as entries carry them (lowercase).
fn hash_flag(flag: &str, value: &str) -> Result<String, UsageError> {
    let hash = value.trim();
    if audit::is_hash(hash) {
        Ok(hash.to_ascii_lowercase())
    } else {
        let shown = mlops_core::text::truncate(&safe(value), 80).into_owned();
        Err(UsageError(format!(
            "{flag} {shown:?}: an entry's hash, 64 hex digits (the `hash` of an exported line, or the head `audit verify` prints)"
        )))
    }
}

/// `audit verify -o json`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub source: String,
    pub entries: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Whether the first entry's link to the one before it was checked against the genesis
    /// link (a whole log, or a file that starts at #1) or not (an export of a window).
    pub from_genesis: bool,
    /// The last entry's hash: give it as `--expect-head` to pin this log's end later.
    pub head_hash: Option<String>,
    /// Whether the start was checked against an anchor: the genesis link, or `--from-hash`.
    /// Without one, entries removed before the first go unnoticed.
    pub start_anchored: bool,
    /// Whether the end was checked against an anchor (`--expect-head`). Without one, entries
    /// removed after the last, or a chain rewritten whole, go unnoticed.
    pub end_anchored: bool,
    pub ok: bool,
    pub findings: Vec<Finding>,
}

fn report(source: String, checked: audit::Checked) -> Report {
    Report {
        source,
        entries: checked.entries,
        first_seq: checked.first_seq,
        last_seq: checked.last_seq,
        from_genesis: checked.from_genesis,
        head_hash: checked.head_hash,
        start_anchored: checked.start_anchored,
        end_anchored: checked.end_anchored,
        ok: checked.findings.is_empty(),
        findings: checked.findings,
    }
}

/// The longest line an export may have. The cluster keeps each entry in a ConfigMap (at most
/// 1 MiB), and the export writes a few characters as `\uXXXX`: an entry's line is far shorter
/// than this, and a longer line is refused after reading this much of it.
pub const MAX_LINE_BYTES: u64 = 4 * 1024 * 1024;

/// Check an export, read a line at a time: the memory is one line and the findings, never the
/// file. Only a regular file is read (a FIFO or a device is refused before a byte is read).
fn verify_file(path: &Path, start: Start, expect_head: Option<&str>) -> Result<Report, CoreError> {
    let source = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        CoreError::backend("audit", format!("{source}: cannot read: {e}")).caused_by(e)
    };
    let file = crate::files::open_regular(path, "an audit export").map_err(unreadable)?;
    let mut checker = audit::Checker::new(start);
    read_json_lines(&source, BufReader::new(file), |entry, line, extra| {
        checker.push(&entry, line, extra);
    })?;
    Ok(report(source, checker.finish(expect_head)))
}

fn verified(result: Result<Report, CoreError>, out: Output) -> ExitCode {
    match result {
        Ok(r) => {
            let ok = r.ok;
            let text = output::render(out, &r, report_text);
            // The report is the result, on stdout; the verdict is the exit code.
            output::print(&text);
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => output::finish(Err(e)),
    }
}

/// `audit verify` for people: what was checked, how its ends are anchored, the verdict.
fn report_text(r: &Report) -> String {
    let mut s = String::new();
    let range = match (r.first_seq, r.last_seq) {
        (Some(a), Some(b)) => format!(" (#{a}–#{b})"),
        _ => String::new(),
    };
    let _ = write!(s, "{}: {} entries{range}", safe(&r.source), r.entries);
    if let (Some(head), Some(last)) = (&r.head_hash, r.last_seq) {
        let _ = write!(s, "\nhead: {} (the hash of #{last})", safe(head));
    }
    let first = r.first_seq.map_or_else(String::new, |f| format!(" #{f}"));
    if !r.start_anchored {
        let _ = write!(
            s,
            "\nstart: not anchored, a window from{first}: entries removed before it would go unnoticed (--from-genesis: the file must begin at entry #1; --from-hash HASH: at a checkpoint)"
        );
    } else if r.from_genesis {
        s.push_str(
            "\nstart: anchored, checked against the genesis link (the log begins at entry #1)",
        );
    } else {
        s.push_str("\nstart: anchored, checked against the checkpoint given (--from-hash)");
    }
    if r.end_anchored {
        s.push_str("\nend: anchored, checked against the head given (--expect-head)");
    } else {
        s.push_str(
            "\nend: not anchored: entries removed from the end, or a chain rewritten and re-hashed whole, would go unnoticed (--expect-head HASH: the head you trust, as an earlier check printed it)",
        );
    }
    if r.ok {
        s.push_str("\n✓ the hash chain verifies");
    } else {
        let _ = write!(s, "\n✗ {} problem(s):", r.findings.len());
        for f in &r.findings {
            let _ = write!(s, "\n  line {}: {}", f.line, safe(&f.message));
        }
    }
    s
}

/// Entries as JSON Lines, one entry (its own fields) a line.
pub fn json_lines(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&output::json_line(e));
        out.push('\n');
    }
    // `finish` adds the last newline.
    out.pop();
    out
}

/// Read an export a line at a time and hand each entry to `each` with its line in the file
/// (from 1, blank lines counted, and skipped) and the names of any fields it carries beyond an
/// entry's own. A line longer than [`MAX_LINE_BYTES`], not UTF-8, or not an entry is an error
/// naming it.
pub fn read_json_lines(
    source: &str,
    mut reader: impl BufRead,
    mut each: impl FnMut(AuditEntry, usize, &[String]),
) -> Result<(), CoreError> {
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        line += 1;
        buf.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| {
                CoreError::backend("audit", format!("{source}: line {line}: cannot read: {e}"))
                    .caused_by(e)
            })?;
        if read == 0 {
            return Ok(());
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if read as u64 > MAX_LINE_BYTES {
            return Err(CoreError::malformed(
                "audit",
                format!(
                    "{source}: line {line} is longer than {}, the most an audit entry's line may be",
                    crate::files::size(MAX_LINE_BYTES)
                ),
            ));
        }
        let text = std::str::from_utf8(&buf).map_err(|e| {
            CoreError::malformed(
                "audit",
                format!(
                    "{source}: line {line}: not UTF-8 text (invalid byte at column {})",
                    e.valid_up_to() + 1
                ),
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let (entry, extra) = audit::parse_entry(text).map_err(|e| {
            let what = format!(
                "{source}: line {line}: not an audit entry ({})",
                json_error(&e)
            );
            CoreError::malformed("audit", what).caused_by(e)
        })?;
        each(entry, line, &extra);
    }
}

/// serde_json's message without its position: the line is the file's, the column the line's.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    if e.column() > 0 {
        format!("{message}, at column {}", e.column())
    } else {
        message.to_string()
    }
}

/// An audit entry with the cluster (kubeconfig context) whose log holds it: what `audit list`
/// prints over several clusters (`cluster` beside the entry's own fields in `-o json`; the entry's
/// hash covers only its own).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterEntry {
    pub cluster: String,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Entries read oldest first, newest first, at most `limit` of them: one log in its own order
/// reversed; several merged by time (then seq, then cluster), since their seqs are unrelated.
pub fn newest_first(
    all: &[ClusterEntry],
    several: bool,
    limit: Option<usize>,
) -> Vec<ClusterEntry> {
    let mut entries = all.to_vec();
    if several {
        entries.sort_by(|a, b| {
            (b.entry.time, b.entry.seq, &a.cluster).cmp(&(a.entry.time, a.entry.seq, &b.cluster))
        });
    } else {
        entries.reverse();
    }
    if let Some(n) = limit {
        entries.truncate(n);
    }
    entries
}

/// `mlops audit list`: the console's audit columns, with the time in full (the console's drops
/// the year to fit a screen) and the comment alone (the console shows an entry's details where it
/// has none, cut to the screen; here they would run on for lines: `-o json` has them).
/// A CLUSTER column first when `clusters` (several logs were read).
fn table(entries: &[ClusterEntry], clusters: bool) -> String {
    let console: Vec<_> = rows::audit::columns()
        .into_iter()
        .map(|c| super::table::lift(c, |e: &ClusterEntry| &e.entry))
        .collect();
    let cluster = super::table::column("CLUSTER", false, |e: &ClusterEntry| e.cluster.clone());
    let time = super::table::column("TIME (UTC)", false, |e: &ClusterEntry| {
        e.entry.time.format("%Y-%m-%d %H:%M:%S").to_string()
    });
    let comment =
        super::table::column("COMMENT", false, |e: &ClusterEntry| e.entry.comment.clone());
    let mut shown = if clusters { vec![&cluster] } else { Vec::new() };
    shown.extend(super::table::pick(&console, &["seq"]));
    shown.push(&time);
    shown.extend(super::table::pick(&console, &["actor", "action", "target"]));
    shown.push(&comment);
    let mut out = super::table::table(&shown, entries);
    if entries.is_empty() {
        out.push_str("\n(no entries)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cluster: &str, seq: u64, minute: u32) -> ClusterEntry {
        ClusterEntry {
            cluster: cluster.into(),
            entry: AuditEntry {
                seq,
                time: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 8, minute, 0)
                    .single()
                    .expect("time"),
                actor: "alice".into(),
                action: "rollout.start".into(),
                target: format!("ml-serving/{cluster}-{seq}"),
                comment: String::new(),
                details: String::new(),
                prev_hash: String::new(),
                hash: String::new(),
            },
        }
    }

    #[test]
    fn several_logs_merge_newest_first_and_one_keeps_its_order() {
        let read = vec![
            entry("eu", 1, 0),
            entry("eu", 2, 5),
            entry("us", 1, 3),
            entry("us", 2, 9),
        ];
        let order = |all: &[ClusterEntry]| -> Vec<String> {
            all.iter()
                .map(|e| format!("{}#{}", e.cluster, e.entry.seq))
                .collect()
        };
        assert_eq!(
            order(&newest_first(&read, true, None)),
            ["us#2", "eu#2", "us#1", "eu#1"]
        );
        assert_eq!(order(&newest_first(&read, true, Some(2))), ["us#2", "eu#2"]);
        // One log: its own order reversed, whatever the clocks said.
        let one = vec![entry("eu", 1, 9), entry("eu", 2, 0)];
        assert_eq!(order(&newest_first(&one, false, None)), ["eu#2", "eu#1"]);
        // The table has a CLUSTER column only over several; the JSON a `cluster` beside the
        // entry's own fields.
        let several = table(&newest_first(&read, true, None), true);
        assert!(several.starts_with("CLUSTER  #  TIME (UTC)"), "{several}");
        assert!(
            several.lines().nth(1).is_some_and(|l| l.starts_with("us ")),
            "{several}"
        );
        let single = table(&one, false);
        assert!(single.starts_with("#  TIME (UTC)"), "{single}");
        let json: serde_json::Value = serde_json::from_str(&output::json(&read[0])).expect("json");
        assert_eq!(json["cluster"], "eu");
        assert_eq!(json["seq"], 1);
        assert_eq!(json["target"], "ml-serving/eu-1");
    }

    #[test]
    fn times_days_and_durations_ago() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .expect("now")
            .to_utc();
        let at = |s| parse_when("--since", s, now).expect(s).to_rfc3339();
        assert_eq!(at("2026-11-30T08:00:00Z"), "2026-11-30T08:00:00+00:00");
        assert_eq!(at("2026-11-29"), "2026-11-29T00:00:00+00:00");
        assert_eq!(at("90m"), "2026-11-30T10:30:00+00:00");
        assert_eq!(at("2d"), "2026-11-28T12:00:00+00:00");
        let e = parse_when("--since", "yesterday", now).expect_err("bad");
        assert!(e.to_string().contains("--since \"yesterday\""), "{e}");
    }

    #[test]
    fn an_export_reads_back_and_a_bad_line_is_named() {
        let mut log = audit::AuditLog::default();
        for a in ["rollout.start", "rollout.approve"] {
            log.append(audit::AuditRecord {
                time: Utc::now(),
                actor: "alice".into(),
                action: a.into(),
                target: "ml-serving/churn".into(),
                comment: "tab\there \"quoted\"\nnewline".into(),
                details: String::new(),
            });
        }
        let text = json_lines(log.entries());
        assert_eq!(text.lines().count(), 2, "one entry a line:\n{text}");
        let read = |text: &str| {
            let mut back = Vec::new();
            read_json_lines("x.jsonl", text.as_bytes(), |e, line, extra| {
                back.push((e, line, extra.to_vec()));
            })
            .map(|()| back)
        };
        let back = read(&text).expect("reads");
        let entries: Vec<AuditEntry> = back.iter().map(|(e, _, _)| e.clone()).collect();
        assert_eq!(entries, log.entries());
        // Lines are the file's, blank ones counted.
        let spaced = text.replace('\n', "\n\n  \r\n");
        let lines: Vec<usize> = read(&spaced)
            .expect("reads")
            .iter()
            .map(|(_, l, _)| *l)
            .collect();
        assert_eq!(lines, [1, 4]);
        let e = read(&format!("{text}\n{{\"seq\": 3}}")).expect_err("bad");
        assert!(e.to_string().contains("x.jsonl: line 3"), "{e}");
        // A field the hash does not cover is read, and named.
        let extra = text.replacen("\"hash\"", "\"approved_by\":\"mallory\",\"hash\"", 1);
        let back = read(&extra).expect("reads");
        assert_eq!(back[0].2, ["approved_by"]);
        assert!(back[1].2.is_empty());
        // A field given twice is still an error.
        let twice = text.replacen("\"actor\"", "\"actor\":\"bob\",\"actor\"", 1);
        let e = read(&twice).expect_err("twice");
        assert!(
            e.to_string()
                .contains("line 1: not an audit entry (duplicate field `actor`"),
            "{e}"
        );
    }
}
