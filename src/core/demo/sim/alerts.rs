//! The simulated metrics store's alerting rule: the error-budget burn of each model version's
//! track, as `mlops slo rules` writes it for Prometheus (`MlopsSLOErrorBudgetBurn`, labels
//! `severity`, `model`, `version`, `track`). It pages when the error rate over the last minute
//! burns the budget of a 99.9 % objective 14.4 times as fast as it may, and resolves when it
//! no longer does.

use std::collections::BTreeMap;

use super::Sim;
use crate::{demo::catalog::SERVING_NAMESPACE, model::Alert};

/// The alert's name, as the generated rules name it.
pub const SLO_ALERT: &str = "MlopsSLOErrorBudgetBurn";
/// The error budget of the objective: 0.1 % of requests may fail.
const ERROR_BUDGET: f64 = 0.001;
/// How many times as fast as allowed the budget burns before it pages.
const PAGE_BURN: f64 = 14.4;
/// Points of the series (one every 5 s) the error rate is averaged over: a minute.
const RATE_POINTS: usize = 12;
/// The most alerts kept (the oldest resolved ones go first).
const MAX_ALERTS: usize = 200;

impl Sim {
    /// Evaluate the rule on each rollout's track as the series last recorded it: an alert
    /// starts when a track burns too fast, and ends when it stops (or stops serving).
    pub(super) fn evaluate_alerts(&mut self) {
        let now = self.now;
        for r in &self.rollouts {
            let series = &r.series;
            let spec = &r.record.spec;
            for (track, version, rates) in [
                ("canary", spec.model.version, &series.canary_error_rate),
                ("stable", spec.stable_version, &series.stable_error_rate),
            ] {
                let recent: Vec<f64> = rates
                    .iter()
                    .rev()
                    .take(RATE_POINTS)
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect();
                // A finished rollout's series are no longer recorded: its alerts resolve.
                let burn = if recent.len() < RATE_POINTS || r.record.status.phase.is_terminal() {
                    0.0
                } else {
                    recent.iter().sum::<f64>() / recent.len() as f64 / ERROR_BUDGET
                };
                let labels: BTreeMap<String, String> = [
                    ("cluster", r.record.cluster.clone()),
                    ("namespace", SERVING_NAMESPACE.to_string()),
                    ("model", spec.model.name.clone()),
                    ("version", version.to_string()),
                    ("track", track.to_string()),
                    ("severity", "page".to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let open = self
                    .alerts
                    .iter_mut()
                    .find(|a| a.ended.is_none() && a.labels == labels);
                match (open, burn > PAGE_BURN) {
                    (None, true) => self.alerts.push(Alert {
                        name: SLO_ALERT.into(),
                        summary: format!(
                            "{} v{version} {track}: the error budget burns {burn:.0}x as fast as a 99.9% objective allows",
                            spec.model.name
                        ),
                        labels,
                        started: now,
                        ended: None,
                    }),
                    (Some(a), false) => a.ended = Some(now),
                    _ => {}
                }
            }
        }
        while self.alerts.len() > MAX_ALERTS {
            let Some(i) = self.alerts.iter().position(|a| a.ended.is_some()) else {
                break;
            };
            self.alerts.remove(i);
        }
    }

    /// The alerts that fired at any time since `since`.
    pub fn alerts_since(&self, since: chrono::DateTime<chrono::Utc>) -> Vec<Alert> {
        self.alerts
            .iter()
            .filter(|a| a.ended.is_none_or(|e| e >= since))
            .cloned()
            .collect()
    }
}
