//! What the simulated metrics store records: canary-vs-stable series and live drift windows.

use chrono::Duration;

use super::{DRIFT_SAMPLE, DRIFT_WINDOW_SECONDS, SERIES_POINTS, Sim, WARMUP_SECONDS};

/// Windows of canary-vs-stable drift simulated before the demo's start.
const CANARY_WARMUP_WINDOWS: i64 = 12;
use crate::demo::rng::Rng;
use crate::drift;

impl Sim {
    pub(super) fn record_series(&mut self) {
        let now = self.now;
        for r in &mut self.rollouts {
            if r.record.status.phase.is_terminal() && !r.series.times.is_empty() {
                continue;
            }
            let mut rng = Rng::fork(
                self.seed,
                &format!("series/{}/{}", r.place, (now - self.start).num_seconds()),
            );
            let canary_live = r.record.status.weight > 0 && r.record.status.phase.is_active();
            r.series.times.push(now);
            r.series
                .stable_error_rate
                .push((r.stable_error * (1.0 + 0.12 * rng.normal())).max(0.0));
            r.series
                .stable_p99_ms
                .push(r.stable_latency_ms * (1.0 + 0.04 * rng.normal()));
            r.series.canary_error_rate.push(if canary_live {
                (r.canary_error * (1.0 + 0.12 * rng.normal())).max(0.0)
            } else {
                f64::NAN
            });
            r.series.canary_p99_ms.push(if canary_live {
                r.canary_latency_ms * (1.0 + 0.04 * rng.normal())
            } else {
                f64::NAN
            });
            if r.series.times.len() > SERIES_POINTS {
                r.series.times.remove(0);
                r.series.stable_error_rate.remove(0);
                r.series.stable_p99_ms.remove(0);
                r.series.canary_error_rate.remove(0);
                r.series.canary_p99_ms.remove(0);
            }
        }
    }

    pub(super) fn refresh_drift(&mut self) {
        let window = self.rel().div_euclid(DRIFT_WINDOW_SECONDS);
        let hours_in = ((self.now - self.start).num_seconds() + WARMUP_SECONDS) as f64 / 3600.0;
        for f in &mut self.features {
            let shift = f.drift_sd_per_hour * hours_in * f.sd;
            let mut rng = Rng::fork(
                self.seed,
                &format!("cur/{}/{}/{window}", f.model, f.feature),
            );
            let current: Vec<f64> = (0..DRIFT_SAMPLE)
                .map(|_| f.mean + shift + f.sd * rng.normal())
                .collect();
            f.current_counts = drift::histogram(&current, &f.edges);
            // As the live servers report it: histograms, compared by the binned statistics the
            // Prometheus adapter uses. Every window's PSI and status are kept (the trend, and
            // alerts that must hold for several windows); the full report waits until asked for.
            if let (Ok(psi), Ok(status)) = (
                drift::psi_from_counts(&f.reference_counts, &f.current_counts),
                drift::status_from_bins(&f.edges, &f.reference_counts, &f.current_counts),
            ) {
                f.psi_history.push_back(psi);
                f.status_history.push_back(status);
                if f.psi_history.len() > 60 {
                    f.psi_history.pop_front();
                }
                if f.status_history.len() > 60 {
                    f.status_history.pop_front();
                }
            }
            f.report = None;
        }
        self.refresh_canary_drift(window, hours_in);
    }

    /// Each live canary of a monitored model against its stable over the same window, through
    /// the core's canary-vs-stable row (what the Prometheus adapter builds from the servers'
    /// histograms): the canary gets its weight's share of the traffic, with the stable's inputs
    /// unless its scenario says its feature pipeline differs.
    fn refresh_canary_drift(&mut self, window: i64, hours_in: f64) {
        // Sampling every canary's traffic costs; the warm-up before the demo's start keeps only
        // the last minutes of it, enough for the trend and the alerts.
        if self.now < self.start - Duration::seconds(CANARY_WARMUP_WINDOWS * DRIFT_WINDOW_SECONDS) {
            return;
        }
        let mut rows = Vec::new();
        let mut live = std::collections::BTreeSet::new();
        for r in &self.rollouts {
            let status = &r.record.status;
            if status.weight == 0 || !status.phase.is_active() {
                continue;
            }
            let (model, version) = (&r.record.spec.model.name, r.record.spec.model.version);
            // The model's traffic in a window, split by the canary's weight: enough that the
            // comparison's own noise stays well under its thresholds (at 10 % the canary's 4,000
            // values put the normed Wasserstein distance of alike tracks near 0.02; 800 values
            // would reach its 0.1 threshold in one window in a hundred).
            let traffic = 40 * DRIFT_SAMPLE;
            let canary_n = traffic * usize::from(status.weight) / 100;
            let stable_n = traffic - canary_n;
            for f in self.features.iter().filter(|f| f.model == *model) {
                let offset = r
                    .canary_inputs
                    .iter()
                    .find(|(name, _)| *name == f.feature)
                    .map_or(0.0, |(_, sd)| *sd);
                let mut rng = Rng::fork(
                    self.seed,
                    &format!("canary/{model}/{version}/{}/{window}", f.feature),
                );
                let mean = f.mean + f.drift_sd_per_hour * hours_in * f.sd;
                let stable_counts = sampled_counts(&mut rng, stable_n, mean, f.sd, &f.edges);
                let canary_counts =
                    sampled_counts(&mut rng, canary_n, mean + offset * f.sd, f.sd, &f.edges);
                let key = (model.clone(), version, f.feature.clone());
                let (psis, statuses) = self.canary_history.entry(key.clone()).or_default();
                live.insert(key);
                let mut psi_history: Vec<f64> = psis.iter().copied().collect();
                if let Ok(psi) = drift::psi_from_counts(&stable_counts, &canary_counts) {
                    psi_history.push(psi);
                }
                let row = drift::live::TrackWindow {
                    model: model.clone(),
                    feature: f.feature.clone(),
                    canary_version: version,
                    stable_versions: vec![f.version],
                    edges: f.edges.clone(),
                    stable_counts,
                    canary_counts,
                    psi_history,
                    status_history: statuses.iter().copied().collect(),
                }
                .into_drift();
                // A window with too little canary traffic to compare leaves no trace.
                if let Some(row) = row {
                    psis.extend(row.psi_history.last());
                    statuses.push_back(row.report.status);
                    if psis.len() > 60 {
                        psis.pop_front();
                    }
                    if statuses.len() > 60 {
                        statuses.pop_front();
                    }
                    rows.push(row);
                }
            }
        }
        self.canary_history.retain(|k, _| live.contains(k));
        self.canary_drift = rows;
    }
}

/// A histogram of `n` values of Normal(`mean`, `sd`) over `edges`' bins, drawn bin by bin: each
/// bin's expected count plus normal noise of its Poisson spread. What counting a sample of that
/// size gives, for one draw per bin instead of one per value (the canaries' traffic is thousands
/// of values a window).
fn sampled_counts(rng: &mut Rng, n: usize, mean: f64, sd: f64, edges: &[f64]) -> Vec<f64> {
    let cdf = |x: f64| drift::stattests::normal_cdf((x - mean) / sd);
    edges
        .windows(2)
        .map(|w| {
            let expected = n as f64 * (cdf(w[1]) - cdf(w[0]));
            (expected + expected.sqrt() * rng.normal()).round().max(0.0)
        })
        .collect()
}
