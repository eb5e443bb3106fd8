//! How serving numbers read wherever they are shown (the console, `mlops health`): a missing
//! value is `—`, never a zero.

use super::{Latency, LatencyForm, ModelHealth};

pub const MISSING: &str = "—";

pub fn rps(v: Option<f64>) -> String {
    v.map_or_else(
        || MISSING.into(),
        |v| {
            if v >= 100.0 {
                format!("{v:.0}/s")
            } else {
                format!("{v:.1}/s")
            }
        },
    )
}

/// An error ratio as a percentage.
pub fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.into(), |v| format!("{:.2}%", v * 100.0))
}

/// Seconds as milliseconds (or seconds past ten of them).
pub fn seconds(v: Option<f64>) -> String {
    v.map_or_else(
        || MISSING.into(),
        |v| {
            if v >= 10.0 {
                format!("{v:.1} s")
            } else {
                format!("{:.0} ms", v * 1000.0)
            }
        },
    )
}

/// p99, marked `~` when it is only the mean.
pub fn p99(l: &Latency) -> String {
    match (l.estimate, l.p99) {
        (LatencyForm::Mean, Some(_)) => format!("~{} mean", seconds(l.p99)),
        _ => seconds(l.p99),
    }
}

pub fn burn(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.into(), |v| format!("{v:.1}×"))
}

/// The budget left, as a percentage (negative when overspent).
pub fn budget(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.into(), |v| format!("{:.0}%", v * 100.0))
}

/// The row's burn over the workbook's 1 h window (the paging window).
pub fn burn_1h(h: &ModelHealth) -> Option<f64> {
    h.slo
        .as_ref()
        .and_then(|s| s.burn.get("1h").copied().flatten())
}

/// The alert word, or what is missing.
pub fn alert(h: &ModelHealth) -> String {
    match (&h.slo, &h.source.missing) {
        (Some(s), _) => s.alert.as_str().to_string(),
        (None, Some(_)) => "no series".into(),
        (None, None) => MISSING.into(),
    }
}

/// `7/8` ready of desired, or `—` without a Deployment.
pub fn replicas(h: &ModelHealth) -> String {
    h.replicas
        .map_or_else(|| MISSING.into(), |r| format!("{}/{}", r.ready, r.desired))
}
