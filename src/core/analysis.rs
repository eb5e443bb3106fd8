//! Canary analysis: metric checks with thresholds, evaluated on values measured for the canary and
//! the stable track. A value that could not be measured is inconclusive, never a pass.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a metric check measures; decides the wording of verdicts and the default queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    ErrorRate,
    LatencyP99,
    Drift,
    Custom,
}

impl MetricKind {
    /// How a value of this kind reads, wherever it is shown (the analysis reasons, the
    /// console's charts and table): an error rate as a percentage, latency in milliseconds.
    pub fn format(self, v: f64) -> String {
        match self {
            MetricKind::ErrorRate => format!("{:.2}%", v * 100.0),
            MetricKind::LatencyP99 => format!("{v:.1} ms"),
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
        }
    }

    fn sample(canary: Option<f64>, stable: Option<f64>) -> Sample {
        Sample {
            metric: "error-rate".into(),
            canary,
            stable,
            error: None,
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
}
