//! The simulated metrics store's alerting rules: the rules `mlops slo rules` writes
//! (`MlopsSLOErrorBudgetBurn`, labels `severity`, `model`, `version`, `track`), evaluated once a
//! minute on the simulated servers' error ratios by the core's own SLO decision
//! (`serving::slo::status` over the default objective, as `mlops health` and the console judge
//! it): an alert starts when a track's burn pages or tickets, and ends when it no longer does
//! (or the track stops serving).

use std::collections::BTreeMap;

use super::Sim;
use crate::{
    model::Alert,
    serving::{
        self, SignalRequest,
        rules::ALERT_NAME,
        slo::{self, SloConfig},
    },
};

/// The alert's name, as the generated rules name it.
pub const SLO_ALERT: &str = ALERT_NAME;
/// The most alerts kept (the oldest resolved ones go first).
const MAX_ALERTS: usize = 200;

impl Sim {
    pub(super) fn evaluate_alerts(&mut self) {
        let now = self.now;
        let slos = SloConfig::default();
        let signals = self.serving_signals(&SignalRequest {
            window_seconds: crate::defaults::SERVING_WINDOW_SECONDS,
            ratio_windows: slos.ratio_windows(),
            history: None,
        });
        let mut firing: Vec<(BTreeMap<String, String>, String)> = Vec::new();
        for signal in &signals.current {
            let key = &signal.key;
            let (spec, _) = slos.spec_for(&key.model, None);
            let status = slo::status(&spec, key, &signals.error_ratios);
            if status.alert == serving::Alert::None {
                continue;
            }
            let cluster = self
                .deployments
                .iter()
                .find(|d| d.model == key.model)
                .map_or_else(String::new, |d| d.cluster.clone());
            let labels: BTreeMap<String, String> = [
                ("cluster", cluster),
                ("namespace", key.namespace.clone()),
                ("model", key.model.clone()),
                ("version", key.version.clone()),
                ("track", key.track.clone()),
                ("severity", status.alert.as_str().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let burn = status.burn.get("1h").copied().flatten().unwrap_or(0.0);
            let summary = format!(
                "{} v{} {}: the error budget burns {burn:.1}x as fast as a {}% objective allows",
                key.model,
                key.version,
                key.track,
                spec.objective * 100.0
            );
            firing.push((labels, summary));
        }
        for a in self.alerts.iter_mut().filter(|a| a.ended.is_none()) {
            if !firing.iter().any(|(l, _)| *l == a.labels) {
                a.ended = Some(now);
            }
        }
        for (labels, summary) in firing {
            let open = self
                .alerts
                .iter()
                .any(|a| a.ended.is_none() && a.labels == labels);
            if !open {
                self.alerts.push(Alert {
                    name: SLO_ALERT.into(),
                    summary,
                    labels,
                    started: now,
                    ended: None,
                });
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
