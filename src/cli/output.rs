//! What CLI verbs print: one `-o` format for every verb, JSON through the serializer (exact and
//! stable), tables for people.

use std::{fmt::Write as _, process::ExitCode};

use mlops_core::{CoreError, rollout::RolloutRecord};
use serde::Serialize;

/// `-o`: how a verb prints its result. Each verb says which it takes (`Output::pick`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Csv,
    Markdown,
    Tree,
}

impl Output {
    pub const ALL: [Output; 5] = [
        Output::Table,
        Output::Json,
        Output::Csv,
        Output::Markdown,
        Output::Tree,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Output::Table => "table",
            Output::Json => "json",
            Output::Csv => "csv",
            Output::Markdown => "markdown",
            Output::Tree => "tree",
        }
    }

    /// The format `-o VALUE` names, if `verb` takes it (the error lists the ones it does).
    pub fn pick(value: &str, accepted: &[Output], verb: &str) -> Result<Output, UsageError> {
        let wanted = value.trim().to_ascii_lowercase();
        let names: Vec<&str> = accepted.iter().map(|o| o.name()).collect();
        accepted
            .iter()
            .copied()
            .find(|o| o.name() == wanted || (wanted == "md" && *o == Output::Markdown))
            .ok_or_else(|| UsageError(format!("-o {value:?}: {verb} prints {}", names.join(", "))))
    }
}

/// A command line that is well-formed for clap but wrong for the verb: exit code 2, like
/// clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `value` as pretty JSON, or the text `text` builds (a table, CSV, Markdown or a tree, as the
/// verb chose from `-o`).
pub fn render<T: Serialize + ?Sized>(
    output: Output,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> String {
    match output {
        Output::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
        Output::Table | Output::Csv | Output::Markdown | Output::Tree => text(value),
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
