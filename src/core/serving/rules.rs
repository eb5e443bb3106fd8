//! The Prometheus recording and alerting rules of the SLOs (`mlops slo rules`), so the burn
//! alerts page people when no console is open. Names follow Sloth's: the error ratio per window is
//! recorded as `slo:sli_error:ratio_rate<window>` (labelled `sloth_service`, `sloth_slo`,
//! `sloth_window` and the model, version and track), the objective as `slo:objective:ratio`, and
//! each model's alerts fire on the workbook's window pairs, worked out from the same
//! [`super::slo::ALERT_PAIRS`] the console decides its alerts with.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{
    runtime::Mapping,
    slo::{ALERT_PAIRS, SloConfig, SloSpec},
};
use crate::text::format_duration;

/// The alert's name; its `severity` label says page or ticket.
pub const ALERT_NAME: &str = "MlopsSLOErrorBudgetBurn";
pub const SLOTH_SERVICE: &str = "mlops-serving";
pub const SLOTH_SLO: &str = "availability";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// The recorded error ratio over `secs`.
pub fn ratio_record(secs: u64) -> String {
    format!("slo:sli_error:ratio_rate{}", format_duration_days(secs))
}

/// `30d`, `1d`, `6h`, `2m`: the largest whole unit (days included, as Sloth names its windows).
fn format_duration_days(secs: u64) -> String {
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else {
        format_duration(secs)
    }
}

/// A model selector for the recorded series: the model itself, or every model but those with
/// their own objective (the default's alerts).
fn selector(model: Option<&str>, own: &BTreeSet<&str>) -> String {
    match model {
        Some(m) => format!("model=\"{}\"", escape(m)),
        None if own.is_empty() => String::new(),
        None => format!(
            "model!~\"{}\"",
            own.iter()
                .map(|m| regex_escape(m))
                .collect::<Vec<_>>()
                .join("|")
        ),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        }
        if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The rules for every objective in `slos`, reading the runtime's series through `mapping`.
pub fn rules(slos: &SloConfig, mapping: &Mapping) -> RuleFile {
    let base = [("sloth_service", SLOTH_SERVICE), ("sloth_slo", SLOTH_SLO)];
    let mut windows: BTreeSet<u64> = BTreeSet::new();
    for spec in slos.specs() {
        windows.extend(spec.burn_windows().into_iter().map(|(_, s)| s));
    }
    let mut recordings: Vec<Rule> = windows
        .iter()
        .map(|&secs| {
            let w = format_duration_days(secs);
            Rule {
                record: Some(ratio_record(secs)),
                alert: None,
                expr: mapping.error_ratio_query(secs),
                labels: labels(&[base[0], base[1], ("sloth_window", w.as_str())]),
                annotations: BTreeMap::new(),
            }
        })
        .collect();
    let own: BTreeSet<&str> = slos.models.keys().map(String::as_str).collect();
    let mut specs: Vec<(Option<&str>, SloSpec)> = vec![(None, slos.default)];
    specs.extend(slos.models.iter().map(|(m, s)| (Some(m.as_str()), *s)));
    let mut alerts = Vec::new();
    let short = windows.iter().next().copied().unwrap_or(300);
    for (model, spec) in &specs {
        let sel = selector(*model, &own);
        recordings.extend(period_records(*model, spec, &sel, short));
        alerts.extend(alert_rules(spec, &sel));
    }
    RuleFile {
        groups: vec![
            RuleGroup {
                name: "mlops-slo-sli-recordings".into(),
                rules: recordings,
            },
            RuleGroup {
                name: "mlops-slo-alerts".into(),
                rules: alerts,
            },
        ],
    }
}

/// The objective, the budget and the SLO window's error ratio (averaged from the shortest
/// window's recording, as Sloth does) for one objective.
fn period_records(model: Option<&str>, spec: &SloSpec, sel: &str, short: u64) -> Vec<Rule> {
    let id = model.unwrap_or("default");
    let period = format_duration_days(spec.window_seconds());
    let meta = labels(&[
        ("sloth_service", SLOTH_SERVICE),
        ("sloth_slo", SLOTH_SLO),
        ("sloth_id", id),
    ]);
    let short_record = ratio_record(short);
    let sel_short = if sel.is_empty() {
        String::new()
    } else {
        format!("{{{sel}}}")
    };
    vec![
        Rule {
            record: Some("slo:objective:ratio".into()),
            alert: None,
            expr: format!("vector({})", spec.objective),
            labels: meta.clone(),
            annotations: BTreeMap::new(),
        },
        Rule {
            record: Some("slo:time_period:days".into()),
            alert: None,
            expr: format!("vector({})", spec.window_days),
            labels: meta.clone(),
            annotations: BTreeMap::new(),
        },
        Rule {
            record: Some(format!("slo:sli_error:ratio_rate{period}")),
            alert: None,
            expr: format!(
                "sum_over_time({short_record}{sel_short}[{period}]) / ignoring (sloth_window) count_over_time({short_record}{sel_short}[{period}])"
            ),
            labels: labels(&[
                ("sloth_service", SLOTH_SERVICE),
                ("sloth_slo", SLOTH_SLO),
                ("sloth_id", id),
                ("sloth_window", period.as_str()),
            ]),
            annotations: BTreeMap::new(),
        },
    ]
}

/// Page and ticket alerts for one objective: each pair of windows over its burn factor.
fn alert_rules(spec: &SloSpec, sel: &str) -> Vec<Rule> {
    let windows: BTreeMap<&str, u64> = spec.burn_windows().into_iter().collect();
    // 1 − 0.995 is 0.0050000000000000044 in floating point: written as 0.005.
    let budget = (spec.budget() * 1e12).round() / 1e12;
    let mut out = Vec::new();
    for severity in [super::Alert::Page, super::Alert::Ticket] {
        let terms: Vec<String> = ALERT_PAIRS
            .iter()
            .filter(|(a, ..)| *a == severity)
            .map(|(_, factor, long, short)| {
                let over = |name: &str| {
                    let secs = windows.get(name).copied().unwrap_or(300);
                    format!(
                        "max without (sloth_window) ({}{{{sel}}} > ({factor} * {budget}))",
                        ratio_record(secs)
                    )
                    .replace("{}", "")
                };
                format!("({} and {})", over(short), over(long))
            })
            .collect();
        out.push(Rule {
            record: None,
            alert: Some(ALERT_NAME.into()),
            expr: terms.join(" or "),
            labels: labels(&[
                ("severity", severity.as_str()),
                ("sloth_severity", severity.as_str()),
                ("sloth_service", SLOTH_SERVICE),
                ("sloth_slo", SLOTH_SLO),
            ]),
            annotations: labels(&[
                (
                    "summary",
                    "{{ $labels.model }} v{{ $labels.version }} ({{ $labels.track }}) is burning its error budget",
                ),
                (
                    "description",
                    &format!(
                        "Error ratio above the burn threshold of a {}% objective over {} days on both windows of a pair.",
                        spec.objective * 100.0,
                        spec.window_days
                    ),
                ),
                (
                    "runbook",
                    "mlops health --model {{ $labels.model }}; mlops timeline --model {{ $labels.model }}",
                ),
            ]),
        });
    }
    out
}
