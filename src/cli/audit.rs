//! `mlops audit …`: the cluster's hash-chained audit log, read (`list`), taken away (`export`, JSON
//! Lines) and checked (`verify`, the cluster's log or an exported file, offline).

use std::{fmt::Write as _, process::ExitCode};

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
    /// edited, inserted, removed or reordered entry is named by its seq; exit 1 if any.
    Verify {
        /// An `audit export` file; without it, the cluster's log.
        file: Option<std::path::PathBuf>,
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
            super::cluster_verb(options, async |c| {
                let mut entries = c.audit_log().entries_between(since, until).await?;
                entries.retain(|e| {
                    actor.as_ref().is_none_or(|a| &e.actor == a)
                        && target
                            .as_ref()
                            .is_none_or(|t| e.target.contains(t.as_str()))
                        && action
                            .as_ref()
                            .is_none_or(|a| e.action.contains(a.as_str()))
                });
                entries.reverse();
                if let Some(n) = limit {
                    entries.truncate(*n);
                }
                Ok(output::render(out, &entries, |e| table(e)))
            })
        }
        AuditCmd::Export { since, until } => {
            let (since, until) = window(since.as_ref(), until.as_ref())?;
            super::cluster_verb(options, async |c| {
                let entries = c.audit_log().entries_between(since, until).await?;
                Ok(json_lines(&entries))
            })
        }
        AuditCmd::Verify { file: Some(path) } => {
            let result = std::fs::read_to_string(path)
                .map_err(|e| {
                    let what = format!("reading {}: {e}", path.display());
                    CoreError::backend("audit", what).caused_by(e)
                })
                .and_then(|text| read_json_lines(&path.display().to_string(), &text))
                .map(|entries| {
                    // An export of a window starts after entry 1: its first link is not checked.
                    let start = match entries.first() {
                        Some(e) if e.seq > 1 => Start::Anywhere,
                        _ => Start::Genesis,
                    };
                    report(path.display().to_string(), &entries, start)
                });
            Ok(verified(result, out))
        }
        AuditCmd::Verify { file: None } => {
            let runtime = crate::wiring::tokio_runtime(1)?;
            let result = runtime.block_on(async {
                let c = options.cluster().await?;
                let entries = c.audit_log().entries().await?;
                Ok(report(
                    format!("the audit log of {}", c.describe_context()),
                    &entries,
                    Start::Genesis,
                ))
            });
            Ok(verified(result, out))
        }
    }
}

/// `audit verify -o json`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub source: String,
    pub entries: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Whether the first entry's link to the one before it was checked (a whole log) or not (an
    /// export of a window).
    pub from_genesis: bool,
    pub ok: bool,
    pub findings: Vec<Finding>,
}

fn report(source: String, entries: &[AuditEntry], start: Start) -> Report {
    let findings = audit::check(entries, start);
    Report {
        source,
        entries: entries.len(),
        first_seq: entries.first().map(|e| e.seq),
        last_seq: entries.last().map(|e| e.seq),
        from_genesis: start == Start::Genesis,
        ok: findings.is_empty(),
        findings,
    }
}

fn verified(result: Result<Report, CoreError>, out: Output) -> ExitCode {
    match result {
        Ok(r) => {
            let ok = r.ok;
            let text = output::render(out, &r, |r| {
                let mut s = String::new();
                let range = match (r.first_seq, r.last_seq) {
                    (Some(a), Some(b)) => format!(" (#{a}–#{b})"),
                    _ => String::new(),
                };
                let _ = write!(s, "{}: {} entries{range}", safe(&r.source), r.entries);
                if !r.from_genesis {
                    s.push_str(
                        ", a window: its first entry's link to the one before is not checked",
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
            });
            if ok {
                output::print(&text);
                ExitCode::SUCCESS
            } else {
                // The report is the result, on stdout; the verdict is the exit code.
                output::print(&text);
                ExitCode::FAILURE
            }
        }
        Err(e) => output::finish(Err(e)),
    }
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

/// Parse an export. A line that is not an entry is named by its number; blank lines are skipped.
pub fn read_json_lines(source: &str, text: &str) -> Result<Vec<AuditEntry>, CoreError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(line).map_err(|e| {
            let what = format!("{source}: line {}: not an audit entry ({e})", i + 1);
            CoreError::malformed("audit", what).caused_by(e)
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// `mlops audit list`: the console's audit columns, with the time in full (the console's drops
/// the year to fit a screen) and the comment alone (the console shows an entry's details where it
/// has none, cut to the screen; here they would run on for lines: `-o json` has them).
fn table(entries: &[AuditEntry]) -> String {
    let console = rows::audit::columns();
    let time = super::table::column("TIME (UTC)", false, |e: &AuditEntry| {
        e.time.format("%Y-%m-%d %H:%M:%S").to_string()
    });
    let comment = super::table::column("COMMENT", false, |e: &AuditEntry| e.comment.clone());
    let mut shown = super::table::pick(&console, &["seq"]);
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
        let back = read_json_lines("x.jsonl", &text).expect("reads");
        assert_eq!(back, log.entries());
        let e = read_json_lines("x.jsonl", &format!("{text}\n{{\"seq\": 3}}")).expect_err("bad");
        assert!(e.to_string().contains("x.jsonl: line 3"), "{e}");
    }
}
