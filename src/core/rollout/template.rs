//! Step templates: the shipped ones, the compact step syntax user templates are written in, and
//! the default analysis.

use serde::Serialize;

use super::{AnalysisSpec, AnalysisStep, PauseStep, Step};
use crate::analysis::{self, MetricCheck};

/// A named list of steps `mlops rollout start --template NAME` builds a rollout from: one of the
/// shipped ones, or one from the user's `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub steps: Vec<Step>,
    /// Shipped with the binary (false: from the user's config).
    pub builtin: bool,
}

/// The step templates shipped with the binary.
pub fn templates() -> Vec<Template> {
    let a = |count| Step::Analysis(AnalysisStep { count });
    let t = |name: &str, description: &str, steps| Template {
        name: name.into(),
        description: description.into(),
        steps,
        builtin: true,
    };
    vec![
        t(
            "canary",
            "10% → 30% → 60% → 100%, three passing analyses at each weight",
            vec![
                Step::SetWeight(10),
                a(3),
                Step::SetWeight(30),
                a(3),
                Step::SetWeight(60),
                a(3),
                Step::SetWeight(100),
            ],
        ),
        t(
            "canary-approval",
            "10% with two passing analyses, then an approval gate, 50% for five minutes, 100%",
            vec![
                Step::SetWeight(10),
                a(2),
                Step::Approval {},
                Step::SetWeight(50),
                Step::Pause(PauseStep {
                    duration_seconds: Some(300),
                }),
                Step::SetWeight(100),
            ],
        ),
        t(
            "quick",
            "50% with one passing analysis, then 100%",
            vec![Step::SetWeight(50), a(1), Step::SetWeight(100)],
        ),
    ]
}

/// What a step in a template's compact form may look like, for error messages.
pub const STEP_SYNTAX: &str =
    "setWeight N (0-100), pause, pause DURATION (90s, 5m, 1h), analysis N, approval";

impl std::str::FromStr for Step {
    type Err = String;

    /// The compact form user templates are written in: `setWeight 10`, `pause 5m`,
    /// `pause` (until promoted), `analysis 3`, `approval`. Keywords ignore case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = |why: &str| format!("{why} in step {text:?} (a step is one of: {STEP_SYNTAX})");
        let number = |w: &str| w.trim_end_matches('%').parse::<u64>().ok();
        let keyword = words.first().map(|w| w.to_ascii_lowercase());
        match (keyword.as_deref(), &words[words.len().min(1)..]) {
            (Some("setweight"), [w]) => number(w)
                .and_then(|n| u8::try_from(n).ok())
                .filter(|n| *n <= 100)
                .map(Step::SetWeight)
                .ok_or_else(|| bad(&format!("weight {w:?} is not a number from 0 to 100"))),
            (Some("pause"), [] | ["until", "promoted"]) => Ok(Step::Pause(PauseStep {
                duration_seconds: None,
            })),
            (Some("pause"), [d]) => crate::text::parse_duration(d)
                .filter(|s| *s > 0)
                .map(|s| {
                    Step::Pause(PauseStep {
                        duration_seconds: Some(s),
                    })
                })
                .ok_or_else(|| bad(&format!("duration {d:?} is not like 90s, 5m or 1h"))),
            (Some("analysis"), []) => Ok(Step::Analysis(AnalysisStep { count: 1 })),
            (Some("analysis"), [n]) => number(n)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(|count| Step::Analysis(AnalysisStep { count }))
                .ok_or_else(|| bad(&format!("count {n:?} is not a number of 1 or more"))),
            (Some("approval"), []) => Ok(Step::Approval {}),
            (Some("setweight" | "pause" | "analysis" | "approval"), _) => {
                Err(bad("wrong number of arguments"))
            }
            (Some(other), _) => Err(bad(&format!("unknown step kind {other:?}"))),
            (None, _) => Err(bad("empty step")),
        }
    }
}

/// The analysis every template uses: error rate and p99 latency of the canary against stable,
/// from the model servers' request metrics.
pub fn default_analysis(model: &str) -> AnalysisSpec {
    let err = |track: &str| {
        format!(
            "sum(rate(model_requests_total{{model=\"{model}\",track=\"{track}\",code=~\"5..\"}}[1m])) / sum(rate(model_requests_total{{model=\"{model}\",track=\"{track}\"}}[1m]))"
        )
    };
    let p99 = |track: &str| {
        format!(
            "histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{model=\"{model}\",track=\"{track}\"}}[1m]))) * 1000"
        )
    };
    AnalysisSpec {
        interval_seconds: 30,
        failure_limit: 2,
        metrics: vec![
            MetricCheck {
                name: "error-rate".into(),
                kind: analysis::MetricKind::ErrorRate,
                canary_query: err("canary"),
                stable_query: Some(err("stable")),
                max: Some(0.05),
                max_ratio_to_stable: Some(2.0),
                budget: None,
            },
            MetricCheck {
                name: "latency-p99".into(),
                kind: analysis::MetricKind::LatencyP99,
                canary_query: p99("canary"),
                stable_query: Some(p99("stable")),
                max: Some(1000.0),
                max_ratio_to_stable: Some(1.5),
                budget: None,
            },
        ],
    }
}

/// The drift check of a rollout's analysis: the canary's input features (version `version`)
/// against the stable track's, from the model servers' feature-value histograms over the last
/// five minutes; fails when the largest PSI over the features is above `max_psi` (0.1 moderate,
/// 0.25 significant).
pub fn drift_check(model: &str, version: u32, max_psi: f64) -> MetricCheck {
    let buckets = |selector: String| {
        format!("sum by (feature, le) (increase(model_feature_value_bucket{{{selector}}}[5m]))")
    };
    MetricCheck {
        name: "drift".into(),
        kind: analysis::MetricKind::Drift,
        canary_query: buckets(format!(
            "model=\"{model}\",version=\"{version}\",track=\"canary\""
        )),
        stable_query: Some(buckets(format!("model=\"{model}\",track=\"stable\""))),
        max: Some(max_psi),
        max_ratio_to_stable: None,
        budget: None,
    }
}

/// The SLO window an `slo_burn` check's budget is a share of, unless said otherwise: 30 days.
pub const SLO_WINDOW_SECONDS: u64 = 30 * 24 * 3600;

/// The `slo_burn` check of a rollout's analysis: the burn rate of the canary (version `version`)
/// and of the stable track — each track's share of 5xx in `model_requests_total` over
/// `window_seconds` (at least a minute: a rate needs a few scrapes), divided by the error budget
/// `1 - objective`. It fails when the canary burns faster than `max_burn` while the stable does
/// not (14.4 over an hour is 2 % of a 30-day budget: the SRE workbook's paging threshold). It
/// also reads the canary's errors and the model's requests per second, from which the core adds
/// up how much of the budget of the SLO window (`slo_window_seconds`) the canary spent.
pub fn slo_burn_check(
    model: &str,
    version: u32,
    objective: f64,
    max_burn: f64,
    window_seconds: u64,
    slo_window_seconds: u64,
) -> MetricCheck {
    let window = window_seconds.max(60);
    let rate = |selector: &str| format!("sum(rate(model_requests_total{{{selector}}}[{window}s]))");
    let errors = |selector: &str| rate(&format!("{selector},code=~\"5..\""));
    let canary = format!("model=\"{model}\",version=\"{version}\",track=\"canary\"");
    let stable = format!("model=\"{model}\",track=\"stable\"");
    // The budget as PromQL works it out, `(1 - 0.995)`: the objective as given, not a float's
    // rounding of the difference.
    let burn = |selector: &str| {
        format!(
            "({} / {}) / (1 - {objective})",
            errors(selector),
            rate(selector)
        )
    };
    MetricCheck {
        name: "slo-burn".into(),
        kind: analysis::MetricKind::SloBurn,
        canary_query: burn(&canary),
        stable_query: Some(burn(&stable)),
        max: Some(max_burn),
        max_ratio_to_stable: None,
        budget: Some(analysis::ErrorBudget {
            objective,
            slo_window_seconds,
            rate_window_seconds: window,
            canary_errors_query: errors(&canary),
            requests_query: rate(&format!("model=\"{model}\"")),
        }),
    }
}
