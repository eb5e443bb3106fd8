//! What CLI verbs print: one `-o` format for every verb, JSON through the serializer (exact and
//! stable), tables for people. Nothing from outside reaches the terminal raw: every field of a
//! table or detail and every error goes through the core's one sanitiser (`mlops_core::text`);
//! JSON is escaped by the serializer, and the characters it leaves raw that a terminal would act
//! on (DEL, C1 controls, bidirectional overrides) are written as `\uXXXX`, which is the same JSON.

use std::{borrow::Cow, fmt::Write as _, process::ExitCode};

use mlops_core::{CoreError, rollout::RolloutRecord, text};
use serde::Serialize;

use super::table;
use crate::app::rows;

/// `-o`: how a verb prints its result. Each verb says which it takes (`Output::pick`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Csv,
    Markdown,
    Tree,
    Yaml,
}

impl Output {
    pub const ALL: [Output; 6] = [
        Output::Table,
        Output::Json,
        Output::Csv,
        Output::Markdown,
        Output::Tree,
        Output::Yaml,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Output::Table => "table",
            Output::Json => "json",
            Output::Csv => "csv",
            Output::Markdown => "markdown",
            Output::Tree => "tree",
            Output::Yaml => "yaml",
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

/// Exit code of `--fail-on-drift` when drift was found (`mlops drift`, `mlops drift live`).
pub const DRIFT_EXIT: u8 = 3;

/// `value` as pretty JSON, or the text `text` builds (a table, CSV, Markdown or a tree, as the
/// verb chose from `-o`). The builder must pass every outside field through [`safe`].
pub fn render<T: Serialize + ?Sized>(
    output: Output,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> String {
    match output {
        Output::Json => json(value),
        Output::Table | Output::Csv | Output::Markdown | Output::Tree | Output::Yaml => text(value),
    }
}

/// Pretty JSON that is safe on a terminal and exactly the value: serde_json escapes C0 controls;
/// DEL, C1 controls and bidirectional controls, which it writes raw, are escaped here (they can
/// only occur inside strings, so the document parses to the same value).
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    escape_json(serde_json::to_string_pretty(value).unwrap_or_default())
}

/// `value` as YAML, block style: mappings and lists one item a line, every string in double
/// quotes with JSON's escapes (which YAML reads the same), so nothing in a value can change the
/// document's shape; safe on a terminal as [`json`] is.
pub fn yaml<T: Serialize + ?Sized>(value: &T) -> String {
    let value = serde_json::to_value(value).unwrap_or_default();
    let mut out = String::new();
    yaml_value(&value, 0, &mut out);
    escape_json(out.trim_end().to_string())
}

fn yaml_scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        serde_json::Value::Array(a) if a.is_empty() => "[]".into(),
        serde_json::Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => false,
    }
}

fn yaml_value(v: &serde_json::Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        serde_json::Value::Object(o) if !o.is_empty() => {
            for (k, item) in o {
                let key = serde_json::to_string(k).unwrap_or_default();
                if is_block(item) {
                    let _ = writeln!(out, "{pad}{key}:");
                    yaml_value(item, indent + 2, out);
                } else {
                    let _ = writeln!(out, "{pad}{key}: {}", yaml_scalar(item));
                }
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            for item in a {
                if is_block(item) {
                    // The item's first line goes after the dash, the rest under it.
                    let mut inner = String::new();
                    yaml_value(item, indent + 2, &mut inner);
                    let body = inner.trim_start();
                    let _ = write!(out, "{pad}- {body}");
                } else {
                    let _ = writeln!(out, "{pad}- {}", yaml_scalar(item));
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", yaml_scalar(other));
        }
    }
}

/// [`json`] on one line (JSON Lines: `audit export`).
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> String {
    escape_json(serde_json::to_string(value).unwrap_or_default())
}

fn escape_json(out: String) -> String {
    if !out.chars().any(needs_json_escape) {
        return out;
    }
    let mut escaped = String::with_capacity(out.len() + 16);
    for c in out.chars() {
        if needs_json_escape(c) {
            let _ = write!(escaped, "\\u{:04x}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

fn needs_json_escape(c: char) -> bool {
    c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) || text::is_bidi_control(c)
}

/// Print a verb's result and a newline on stdout. A reader that went away (`mlops audit export |
/// head`) ends the output quietly, as it does for any Unix tool — never a panic.
pub fn print(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
}

/// A field from outside (a server, a file), as one line that is safe on a terminal.
pub fn safe(s: &str) -> Cow<'_, str> {
    text::line(s)
}

/// `s` made safe and cut to `max` characters (ending in `…` when cut), for a table cell.
pub fn cut(s: &str, max: usize) -> String {
    text::truncate(&text::line(s), max).into_owned()
}

/// An error as printed on stderr: safe on a terminal, line breaks kept.
pub fn error_text(e: &dyn std::fmt::Display) -> String {
    text::block(&e.to_string()).into_owned()
}

/// Print what a verb returned (exit 0), or its error (exit 1).
pub fn finish(result: Result<String, CoreError>) -> ExitCode {
    finish_with(result)
}

/// As [`finish`], for a verb whose failures are not all the core's (`rollout start --wait`: the
/// rollout's own outcome).
pub fn finish_with<E: std::fmt::Display>(result: Result<String, E>) -> ExitCode {
    match result {
        Ok(out) => {
            print(&out);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mlops: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// What a read verb over several clusters prints: the text of what the clusters that answered
/// returned (`None` when none did), and why each other one did not.
#[derive(Debug)]
pub struct Partial {
    pub text: Option<String>,
    pub failed: Vec<CoreError>,
}

/// Print what the clusters that answered returned on stdout and name each that did not on
/// stderr (`mlops: context NAME: why`): exit 1 when any did not, as `kubectl get` does with
/// some of its reads failing. A verb's own error (one cluster read) is printed as [`finish`]
/// prints it.
pub fn finish_partial(result: Result<Partial, CoreError>) -> ExitCode {
    let partial = match result {
        Ok(p) => p,
        Err(e) => return finish(Err(e)),
    };
    if let Some(text) = &partial.text {
        print(text);
    }
    for e in &partial.failed {
        eprintln!("mlops: {}", error_text(e));
    }
    if partial.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `mlops rollout list`: the console's rollout columns (a canary's versions, phase, weight, step,
/// analysis), after the namespace, which the console does not show; a CLUSTER column first
/// when `clusters` (several were read).
pub fn rollout_table(rollouts: &[RolloutRecord], clusters: bool) -> String {
    let cluster = table::column("CLUSTER", false, |r: &RolloutRecord| r.cluster.clone());
    let namespace = table::column("NAMESPACE", false, |r: &RolloutRecord| r.namespace.clone());
    let console = rows::rollouts::columns();
    let mut shown = if clusters { vec![&cluster] } else { Vec::new() };
    shown.push(&namespace);
    shown.extend(table::pick(
        &console,
        &["name", "model", "phase", "weight", "step", "analysis"],
    ));
    table::table(&shown, rollouts)
}

/// `mlops rollout get`.
pub fn rollout_detail(r: &RolloutRecord) -> String {
    let mut out = format!(
        "name:     {}/{}\nmodel:    {} v{} (stable v{})\nphase:    {}  {}\nweight:   {}%  step {}\napprovals: {}/{}\n",
        safe(&r.namespace),
        safe(&r.name),
        safe(&r.spec.model.name),
        r.spec.model.version,
        r.spec.stable_version,
        r.status.phase,
        safe(&r.status.message),
        r.status.weight,
        r.step_label(),
        r.status.approvals.len(),
        r.spec.approval.required
    );
    if let Some(spent) = &r.status.canary_budget_spent {
        let _ = writeln!(
            out,
            "budget:   {} (SLO {}; {}s of the rollout counted)",
            spent.words(r.spec.model.version),
            spent.slo(),
            spent.counted_seconds
        );
    }
    for c in &r.status.conditions {
        let _ = writeln!(
            out,
            "condition: {} = {} ({}) {}",
            safe(&c.kind),
            c.status,
            safe(&c.reason),
            safe(&c.message)
        );
    }
    out.push_str("steps:\n");
    for (i, s) in r.spec.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {}", i + 1, safe(&s.to_string()));
    }
    if let Some(p) = &r.policy {
        let ticket = p
            .change
            .as_deref()
            .map(|c| format!(" ({})", safe(c)))
            .unwrap_or_default();
        let _ = writeln!(out, "policy at start{ticket}:");
        for c in &p.start.checks {
            let mark = if c.ok { "✓" } else { "✗" };
            let _ = writeln!(out, "  {mark} {}  {}", safe(&c.gate), safe(&c.evidence));
        }
        out.push_str("  (decided again before promotion: condition PolicyGates)\n");
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use mlops_core::{
        analysis::BudgetSpent,
        rollout::{RolloutRecord, RolloutSpec, RolloutStatus},
    };

    /// Issue 25: `rollout get` says how much of the SLO window's error budget the canary spent.
    #[test]
    fn rollout_get_shows_the_budget_the_canary_spent() {
        let mut r = RolloutRecord {
            name: "fraud-detector-v7".into(),
            namespace: "ml-serving".into(),
            cluster: "prod".into(),
            created: chrono::Utc::now(),
            spec: RolloutSpec::test(),
            status: RolloutStatus::default(),
            policy: None,
        };
        assert!(!super::rollout_detail(&r).contains("budget:"), "none yet");
        r.status.canary_budget_spent = Some(BudgetSpent {
            fraction: 0.031,
            objective: 0.995,
            slo_window_seconds: 30 * 86_400,
            counted_seconds: 5400,
        });
        let text = super::rollout_detail(&r);
        assert!(
            text.contains(
                "budget:   v7 canary: 3.1 % of the budget (SLO 99.5 % over 30d; 5400s of the \
                 rollout counted)"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&super::json(&r)).expect("json");
        assert_eq!(json["status"]["canaryBudgetSpent"]["fraction"], 0.031);
    }
}
