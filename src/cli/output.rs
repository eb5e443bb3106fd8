//! What CLI verbs print: one `-o` format for every verb, JSON through the serializer (exact and
//! stable), tables for people.

use std::{fmt::Write as _, process::ExitCode};

use clap::ValueEnum;
use mlops_core::{CoreError, rollout::RolloutRecord};
use serde::Serialize;

/// `-o`: how a verb prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// `value` as pretty JSON, or the table `table` builds.
pub fn render<T: Serialize + ?Sized>(
    output: Output,
    value: &T,
    table: impl FnOnce(&T) -> String,
) -> String {
    match output {
        Output::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
        Output::Table => table(value),
    }
}

/// Print what a verb returned (exit 0), or its error (exit 1).
pub fn finish(result: Result<String, CoreError>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mlops: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `mlops rollout list`.
pub fn rollout_table(rollouts: &[RolloutRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<28} {:<22} {:>7} {:<17} {:>6} {:>5}\n",
        "NAMESPACE", "NAME", "MODEL", "VERSION", "PHASE", "WEIGHT", "STEP"
    );
    for r in rollouts {
        let _ = writeln!(
            out,
            "{:<16} {:<28} {:<22} {:>7} {:<17} {:>5}% {:>5}",
            r.namespace,
            r.name,
            r.spec.model.name,
            r.spec.model.version,
            r.status.phase.as_str(),
            r.status.weight,
            r.step_label()
        );
    }
    out.trim_end().to_string()
}

/// `mlops rollout get`.
pub fn rollout_detail(r: &RolloutRecord) -> String {
    let mut out = format!(
        "name:     {}/{}\nmodel:    {} v{} (stable v{})\nphase:    {}  {}\nweight:   {}%  step {}\napprovals: {}/{}\n",
        r.namespace,
        r.name,
        r.spec.model.name,
        r.spec.model.version,
        r.spec.stable_version,
        r.status.phase,
        r.status.message,
        r.status.weight,
        r.step_label(),
        r.status.approvals.len(),
        r.spec.approval.required
    );
    for c in &r.status.conditions {
        let _ = writeln!(
            out,
            "condition: {} = {} ({}) {}",
            c.kind, c.status, c.reason, c.message
        );
    }
    out.push_str("steps:\n");
    for (i, s) in r.spec.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {s}", i + 1);
    }
    out.trim_end().to_string()
}
