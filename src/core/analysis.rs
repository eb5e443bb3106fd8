//! Canary analysis: metric checks with thresholds, evaluated on values measured for the canary and
//! the stable track. A value that could not be measured is inconclusive, never a pass.
//!
//! An `slo_burn` check judges burn rates (a track's error ratio over its SLO's error budget,
//! `1 - objective`) and says how much of the SLO window's budget the canary spent (`budget`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod budget;

pub use budget::{BudgetRates, BudgetSpent, ErrorBudget};

/// What a metric check measures; decides the wording of verdicts and the default queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    ErrorRate,
    LatencyP99,
    Drift,
    Custom,
    /// The canary's burn rate of its SLO's error budget against the stable's (issue 25 names it
    /// `slo_burn`; `sloBurn`, as the other kinds are spelt, is read too).
    #[serde(rename = "slo_burn", alias = "sloBurn")]
    SloBurn,
}

/// Every name a kind is read from, as the CRD's schema lists them: what serde writes, and the
/// alias of `slo_burn`.
const KIND_NAMES: [&str; 6] = [
    "errorRate",
    "latencyP99",
    "drift",
    "custom",
    "slo_burn",
    "sloBurn",
];

impl JsonSchema for MetricKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MetricKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "What a metric check measures.",
            "type": "string",
            "enum": KIND_NAMES,
        })
    }
}

impl MetricKind {
    /// How a value of this kind reads, wherever it is shown (the analysis reasons, the
    /// console's charts and table): an error rate as a percentage, latency in milliseconds.
    pub fn format(self, v: f64) -> String {
        match self {
            MetricKind::ErrorRate => format!("{:.2}%", v * 100.0),
            MetricKind::LatencyP99 => format!("{v:.1} ms"),
            MetricKind::SloBurn => format!("{v:.1}×"),
            MetricKind::Drift | MetricKind::Custom => format!("{v:.4}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricCheck {
    pub name: String,
    pub kind: MetricKind,
    /// `PromQL` for the canary track.
    pub canary_query: String,
    /// `PromQL` for the stable track; optional for absolute thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_query: Option<String>,
    /// The canary fails if its value is above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The canary fails if its value is above stable × this ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio_to_stable: Option<f64>,
    /// For an `slo_burn` check: the SLO and the queries that say how much of its error budget
    /// the canary spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<ErrorBudget>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The values read for one check at one time; `None` means the metrics store gave nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub metric: String,
    pub canary: Option<f64>,
    pub stable: Option<f64>,
    /// Why a value is missing, when the store said (e.g. it is down); with a value, what it
    /// was measured on, when that matters (the feature that drifted most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a check with a `budget`: the rates its budget queries gave (`None`: not measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetRates>,
}

impl Sample {
    /// A sample with nothing measured (yet): each value missing.
    pub fn empty(metric: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            canary: None,
            stable: None,
            error: None,
            budget: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub time: DateTime<Utc>,
    pub metric: String,
    pub canary: Option<f64>,
    pub stable: Option<f64>,
    pub verdict: Verdict,
    pub reason: String,
}

/// Judge one sample against its check.
pub fn evaluate(check: &MetricCheck, sample: &Sample, time: DateTime<Utc>) -> Measurement {
    let (verdict, reason) = judge(check, sample);
    Measurement {
        time,
        metric: check.name.clone(),
        canary: sample.canary,
        stable: sample.stable,
        verdict,
        reason,
    }
}

fn judge(check: &MetricCheck, sample: &Sample) -> (Verdict, String) {
    let (verdict, reason) = judge_value(check, sample);
    match (&sample.error, sample.canary.filter(|v| v.is_finite())) {
        (Some(note), Some(_)) => (verdict, format!("{reason} ({note})")),
        _ => (verdict, reason),
    }
}

fn judge_value(check: &MetricCheck, sample: &Sample) -> (Verdict, String) {
    let Some(canary) = sample.canary.filter(|v| v.is_finite()) else {
        return (
            Verdict::Inconclusive,
            match &sample.error {
                Some(e) => format!("no canary value: {e}"),
                None => "no canary value".into(),
            },
        );
    };
    if check.kind == MetricKind::SloBurn
        && let Some(max) = check.max
    {
        return judge_burn(canary, sample, max);
    }
    if let Some(max) = check.max
        && canary > max
    {
        let f = |v| check.kind.format(v);
        return (
            Verdict::Fail,
            format!("canary {} > max {}", f(canary), f(max)),
        );
    }
    if let Some(ratio) = check.max_ratio_to_stable {
        let Some(stable) = sample.stable.filter(|v| v.is_finite()) else {
            return (
                Verdict::Inconclusive,
                match &sample.error {
                    Some(e) => format!("no stable value to compare: {e}"),
                    None => "no stable value to compare".into(),
                },
            );
        };
        // A stable value of zero would make every canary fail on a ratio; compare with a floor.
        let limit = (stable * ratio).max(f64::EPSILON);
        if canary > limit {
            return (
                Verdict::Fail,
                format!(
                    "canary {} > stable {} × {ratio} = {}",
                    check.kind.format(canary),
                    check.kind.format(stable),
                    check.kind.format(limit)
                ),
            );
        }
    }
    (Verdict::Pass, "within thresholds".into())
}

/// An `slo_burn` check: the canary fails when it burns its error budget faster than `max` while
/// the stable does not. A stable that burns too means the whole model is in trouble, not the
/// canary's doing: inconclusive, and said so; no stable value to tell: inconclusive.
fn judge_burn(canary: f64, sample: &Sample, max: f64) -> (Verdict, String) {
    let f = |v| MetricKind::SloBurn.format(v);
    if canary <= max {
        return (Verdict::Pass, "within thresholds".into());
    }
    let burns = format!(
        "canary burns {} its error budget > max {}",
        f(canary),
        f(max)
    );
    match sample.stable.filter(|v| v.is_finite()) {
        // The store's note on the missing value follows in parentheses (`judge`).
        None => (
            Verdict::Inconclusive,
            format!("{burns}, no stable value to compare"),
        ),
        Some(stable) if stable > max => (
            Verdict::Inconclusive,
            format!(
                "{burns}, but the stable burns {} too: the whole model is in trouble, not the canary",
                f(stable)
            ),
        ),
        Some(stable) => (Verdict::Fail, format!("{burns} (stable {})", f(stable))),
    }
}

/// The verdict of a round of measurements: any fail fails, else any inconclusive is inconclusive.
pub fn overall(measurements: &[Measurement]) -> Option<Verdict> {
    if measurements.is_empty() {
        return None;
    }
    if measurements.iter().any(|m| m.verdict == Verdict::Fail) {
        Some(Verdict::Fail)
    } else if measurements
        .iter()
        .any(|m| m.verdict == Verdict::Inconclusive)
    {
        Some(Verdict::Inconclusive)
    } else {
        Some(Verdict::Pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> MetricCheck {
        MetricCheck {
            name: "error-rate".into(),
            kind: MetricKind::ErrorRate,
            canary_query: "c".into(),
            stable_query: Some("s".into()),
            max: Some(0.05),
            max_ratio_to_stable: Some(2.0),
            budget: None,
        }
    }

    fn sample(canary: Option<f64>, stable: Option<f64>) -> Sample {
        Sample {
            canary,
            stable,
            ..Sample::empty("error-rate")
        }
    }

    #[test]
    fn missing_canary_is_inconclusive_not_pass() {
        let m = evaluate(&check(), &sample(None, Some(0.01)), Utc::now());
        assert_eq!(m.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn absolute_and_ratio_thresholds() {
        assert_eq!(
            evaluate(&check(), &sample(Some(0.06), Some(0.05)), Utc::now()).verdict,
            Verdict::Fail
        );
        assert_eq!(
            evaluate(&check(), &sample(Some(0.03), Some(0.01)), Utc::now()).verdict,
            Verdict::Fail
        );
        assert_eq!(
            evaluate(&check(), &sample(Some(0.015), Some(0.01)), Utc::now()).verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate(&check(), &sample(Some(f64::NAN), Some(0.01)), Utc::now()).verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn overall_prefers_fail_then_inconclusive() {
        let t = Utc::now();
        let pass = evaluate(&check(), &sample(Some(0.01), Some(0.01)), t);
        let inc = evaluate(&check(), &sample(None, None), t);
        let fail = evaluate(&check(), &sample(Some(0.9), Some(0.01)), t);
        assert_eq!(overall(std::slice::from_ref(&pass)), Some(Verdict::Pass));
        assert_eq!(
            overall(&[pass.clone(), inc.clone()]),
            Some(Verdict::Inconclusive)
        );
        assert_eq!(overall(&[pass, inc, fail]), Some(Verdict::Fail));
        assert_eq!(overall(&[]), None);
    }

    /// UX walk M10: a failed check's reason mixed formats with the values beside it
    /// (`canary 307.5 ms … canary 307.4899 > stable 130.6931 × 1.5`).
    #[test]
    fn reasons_read_in_the_metrics_own_units() {
        let latency = MetricCheck {
            name: "latency-p99".into(),
            kind: MetricKind::LatencyP99,
            max: None,
            max_ratio_to_stable: Some(1.5),
            ..check()
        };
        let m = evaluate(
            &latency,
            &sample(Some(307.4899), Some(130.6931)),
            Utc::now(),
        );
        assert_eq!(
            m.reason,
            "canary 307.5 ms > stable 130.7 ms × 1.5 = 196.0 ms"
        );
        let m = evaluate(&check(), &sample(Some(0.0697), Some(0.01)), Utc::now());
        assert_eq!(m.reason, "canary 6.97% > max 5.00%");
    }

    fn burn() -> MetricCheck {
        MetricCheck {
            name: "slo-burn".into(),
            kind: MetricKind::SloBurn,
            max: Some(14.4),
            max_ratio_to_stable: None,
            ..check()
        }
    }

    #[test]
    fn a_burning_canary_fails_while_the_stable_does_not() {
        let m = evaluate(&burn(), &sample(Some(16.2), Some(0.4)), Utc::now());
        assert_eq!(m.verdict, Verdict::Fail);
        assert_eq!(
            m.reason,
            "canary burns 16.2× its error budget > max 14.4× (stable 0.4×)"
        );
        let m = evaluate(&burn(), &sample(Some(3.0), Some(0.4)), Utc::now());
        assert_eq!(m.verdict, Verdict::Pass);
        // At the max is within it.
        let m = evaluate(&burn(), &sample(Some(14.4), Some(20.0)), Utc::now());
        assert_eq!(m.verdict, Verdict::Pass);
    }

    #[test]
    fn a_stable_that_burns_too_is_not_the_canarys_doing() {
        let m = evaluate(&burn(), &sample(Some(30.0), Some(15.0)), Utc::now());
        assert_eq!(m.verdict, Verdict::Inconclusive);
        assert!(
            m.reason.contains("the stable burns 15.0× too")
                && m.reason.contains("whole model is in trouble"),
            "{}",
            m.reason
        );
    }

    #[test]
    fn a_burn_without_values_to_compare_is_inconclusive() {
        let m = evaluate(&burn(), &sample(None, Some(0.4)), Utc::now());
        assert_eq!(m.verdict, Verdict::Inconclusive);
        let m = evaluate(&burn(), &sample(Some(30.0), None), Utc::now());
        assert_eq!(m.verdict, Verdict::Inconclusive);
        assert!(m.reason.contains("no stable value"), "{}", m.reason);
        let m = evaluate(&burn(), &sample(Some(30.0), Some(f64::NAN)), Utc::now());
        assert_eq!(m.verdict, Verdict::Inconclusive);
        let down = Sample {
            error: Some("prometheus is down".into()),
            ..sample(Some(30.0), None)
        };
        let m = evaluate(&burn(), &down, Utc::now());
        assert_eq!(
            m.reason,
            "canary burns 30.0× its error budget > max 14.4×, no stable value to compare \
             (prometheus is down)"
        );
    }

    #[test]
    fn the_kind_is_slo_burn_and_reads_sloburn_too() {
        assert_eq!(
            serde_json::to_string(&MetricKind::SloBurn).expect("json"),
            "\"slo_burn\""
        );
        for name in ["\"slo_burn\"", "\"sloBurn\""] {
            let kind: MetricKind = serde_json::from_str(name).expect(name);
            assert_eq!(kind, MetricKind::SloBurn);
        }
        // The schema the CRD is made of lists every name a kind is read from.
        let schema = serde_json::to_value(schemars::schema_for!(MetricKind)).expect("schema");
        for kind in [
            MetricKind::ErrorRate,
            MetricKind::LatencyP99,
            MetricKind::Drift,
            MetricKind::Custom,
            MetricKind::SloBurn,
        ] {
            let name = serde_json::to_value(kind).expect("json");
            assert!(
                schema["enum"].as_array().is_some_and(|e| e.contains(&name)),
                "{name} in {schema}"
            );
        }
        assert_eq!(MetricKind::SloBurn.format(16.24), "16.2×");
    }
}
