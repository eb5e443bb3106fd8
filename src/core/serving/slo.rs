//! Service level objectives per model: the error budget, the burn rate over the SRE workbook's
//! windows and the alert each pair of windows gives (page, ticket or none), decided here for the
//! console, `mlops health` and the Prometheus rules `mlops slo rules` writes.
//!
//! For a 30-day objective the windows are the workbook's: page when the burn rate is at least
//! 14.4 over 1 h and 5 m, or 6 over 6 h and 30 m; ticket at 3 over 1 d and 2 h, or 1 over 3 d and
//! 6 h. For another SLO window every burn window scales with it (as Pyrra does), never under
//! [`MIN_WINDOW_SECONDS`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ServingKey;

/// The workbook's windows for a 30-day SLO: (name, seconds).
pub const BURN_WINDOWS: [(&str, u64); 7] = [
    ("5m", 300),
    ("30m", 1_800),
    ("1h", 3_600),
    ("2h", 7_200),
    ("6h", 21_600),
    ("1d", 86_400),
    ("3d", 259_200),
];

/// The SLO window the workbook's windows are for.
pub const REFERENCE_DAYS: f64 = 30.0;

/// No burn window is shorter than this (a rate needs a few scrapes).
pub const MIN_WINDOW_SECONDS: u64 = 60;

/// The alerts: (severity, burn factor, long window, short window), long and short by name.
pub const ALERT_PAIRS: [(Alert, f64, &str, &str); 4] = [
    (Alert::Page, 14.4, "1h", "5m"),
    (Alert::Page, 6.0, "6h", "30m"),
    (Alert::Ticket, 3.0, "1d", "2h"),
    (Alert::Ticket, 1.0, "3d", "6h"),
];

/// The availability objective when config.toml sets none: 99.5 % of requests not answered 5xx.
pub const DEFAULT_OBJECTIVE: f64 = 0.995;
pub const DEFAULT_WINDOW_DAYS: f64 = 30.0;

/// The annotation on a serving Deployment that overrides its model's SLO:
/// `mlops.dev/slo: "objective=99.9%, window=28d"`.
pub const ANNOTATION: &str = "mlops.dev/slo";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alert {
    None,
    Ticket,
    Page,
}

impl Alert {
    pub fn as_str(self) -> &'static str {
        match self {
            Alert::None => "none",
            Alert::Ticket => "ticket",
            Alert::Page => "page",
        }
    }
}

/// One model's objective: the share of requests that must not fail, over a window of days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SloSpec {
    pub objective: f64,
    pub window_days: f64,
}

impl Default for SloSpec {
    fn default() -> Self {
        Self {
            objective: DEFAULT_OBJECTIVE,
            window_days: DEFAULT_WINDOW_DAYS,
        }
    }
}

impl SloSpec {
    /// The share of requests allowed to fail.
    pub fn budget(&self) -> f64 {
        1.0 - self.objective
    }

    /// The SLO window in seconds.
    pub fn window_seconds(&self) -> u64 {
        (self.window_days * 86_400.0).round() as u64
    }

    /// Each burn window (by its workbook name) scaled to this SLO's window.
    pub fn burn_windows(&self) -> Vec<(&'static str, u64)> {
        let scale = self.window_days / REFERENCE_DAYS;
        BURN_WINDOWS
            .iter()
            .map(|&(name, s)| {
                let scaled = ((s as f64) * scale).round() as u64;
                (name, scaled.max(MIN_WINDOW_SECONDS))
            })
            .collect()
    }

    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<String> {
        if !(self.objective > 0.0 && self.objective < 1.0) {
            return Some(format!(
                "objective {} is not a share between 0 and 1 (exclusive), like 0.995 or 99.5%",
                self.objective
            ));
        }
        if !(self.window_days >= 1.0 && self.window_days <= 366.0) {
            return Some(format!(
                "window of {} days is not between 1 and 366 days",
                self.window_days
            ));
        }
        None
    }

    /// Read `objective=99.9%, window=28d` (either key may be left out: the rest stays).
    pub fn with_annotation(mut self, text: &str) -> Result<Self, String> {
        for part in text
            .split([',', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (key, value) = part
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| format!("{ANNOTATION} {part:?} is not key=value"))?;
            match key {
                "objective" => {
                    self.objective = parse_objective(value).ok_or_else(|| {
                        format!("{ANNOTATION} objective {value:?} is not like 0.999 or 99.9%")
                    })?;
                }
                "window" => {
                    let secs = crate::text::parse_duration(value)
                        .filter(|s| *s > 0)
                        .ok_or_else(|| format!("{ANNOTATION} window {value:?} is not like 30d"))?;
                    self.window_days = secs as f64 / 86_400.0;
                }
                other => {
                    return Err(format!(
                        "{ANNOTATION} has an unknown key {other:?} (objective, window)"
                    ));
                }
            }
        }
        match self.problem() {
            Some(p) => Err(format!("{ANNOTATION}: {p}")),
            None => Ok(self),
        }
    }
}

/// `0.999` or `99.9%` → 0.999.
pub fn parse_objective(text: &str) -> Option<f64> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => t.parse::<f64>().ok()?,
    };
    (v > 0.0 && v < 1.0).then_some(v)
}

/// The objectives of config.toml: a default and per-model overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloConfig {
    pub default: SloSpec,
    pub models: BTreeMap<String, SloSpec>,
}

impl SloConfig {
    /// A model's SLO: its Deployment's annotation over config.toml's model entry over the
    /// default; with the annotation's problem when it could not be read (then it is ignored).
    pub fn spec_for(&self, model: &str, annotation: Option<&str>) -> (SloSpec, Option<String>) {
        let base = self.models.get(model).copied().unwrap_or(self.default);
        match annotation.map(|a| base.with_annotation(a)) {
            Some(Ok(spec)) => (spec, None),
            Some(Err(problem)) => (base, Some(problem)),
            None => (base, None),
        }
    }

    /// Every distinct spec in use (for the windows a port is asked for, and the rules).
    pub fn specs(&self) -> Vec<SloSpec> {
        let mut out = vec![self.default];
        for s in self.models.values() {
            if !out.contains(s) {
                out.push(*s);
            }
        }
        out
    }

    /// The error-ratio windows every spec needs: its burn windows and the SLO window.
    pub fn ratio_windows(&self) -> Vec<u64> {
        let mut w: Vec<u64> = self
            .specs()
            .iter()
            .flat_map(|s| {
                s.burn_windows()
                    .into_iter()
                    .map(|(_, secs)| secs)
                    .chain([s.window_seconds()])
            })
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    }
}

/// One model version's SLO now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloStatus {
    pub objective: f64,
    pub window_days: f64,
    /// The share of the window's budget left: 1 untouched, 0 spent, below 0 overspent.
    pub budget_remaining: Option<f64>,
    /// Burn rate by the workbook's window name.
    pub burn: BTreeMap<String, Option<f64>>,
    /// The windows' lengths in seconds (they differ from their names for an SLO window other
    /// than 30 days).
    pub burn_windows_seconds: BTreeMap<String, u64>,
    pub alert: Alert,
}

/// The burn rate of an error ratio against a spec.
pub fn burn_rate(error_ratio: f64, spec: &SloSpec) -> f64 {
    error_ratio / spec.budget()
}

/// The SLO status of `key` from the error ratios read per window.
pub fn status(
    spec: &SloSpec,
    key: &ServingKey,
    ratios: &BTreeMap<u64, BTreeMap<ServingKey, f64>>,
) -> SloStatus {
    let ratio = |secs: u64| {
        ratios
            .get(&secs)
            .and_then(|m| m.get(key))
            .copied()
            .filter(|v| v.is_finite())
    };
    let windows = spec.burn_windows();
    let burn: BTreeMap<String, Option<f64>> = windows
        .iter()
        .map(|&(name, secs)| (name.to_string(), ratio(secs).map(|r| burn_rate(r, spec))))
        .collect();
    SloStatus {
        objective: spec.objective,
        window_days: spec.window_days,
        budget_remaining: ratio(spec.window_seconds()).map(|r| 1.0 - burn_rate(r, spec)),
        alert: alert(&burn),
        burn,
        burn_windows_seconds: windows.iter().map(|&(n, s)| (n.to_string(), s)).collect(),
    }
}

/// The alert the burn rates give: the most severe pair whose both windows burn at least its
/// factor. A window without a value never alerts.
pub fn alert(burn: &BTreeMap<String, Option<f64>>) -> Alert {
    let at = |name: &str| burn.get(name).copied().flatten();
    ALERT_PAIRS
        .iter()
        .filter(|(_, factor, long, short)| {
            at(long).is_some_and(|b| b >= *factor) && at(short).is_some_and(|b| b >= *factor)
        })
        .map(|(a, ..)| *a)
        .max()
        .unwrap_or(Alert::None)
}
