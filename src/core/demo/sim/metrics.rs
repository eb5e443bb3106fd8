//! What the simulated metrics store records: canary-vs-stable series and live drift windows.

use super::{DRIFT_SAMPLE, DRIFT_WINDOW_SECONDS, SERIES_POINTS, Sim, WARMUP_SECONDS};
use crate::demo::rng::Rng;
use crate::drift;

impl Sim {
    pub(super) fn record_series(&mut self) {
        let now = self.now;
        for (i, r) in self.rollouts.iter_mut().enumerate() {
            if r.record.status.phase.is_terminal() && !r.series.times.is_empty() {
                continue;
            }
            let mut rng = Rng::fork(
                self.seed,
                &format!("series/{i}/{}", (now - self.start).num_seconds()),
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
            // PSI is linear to compute; the full report (with sorts for KS and Wasserstein) waits
            // until someone asks for it.
            if let Ok(psi) = drift::psi(&f.reference, &current) {
                f.psi_history.push_back(psi);
                if f.psi_history.len() > 60 {
                    f.psi_history.pop_front();
                }
            }
            f.current_counts = drift::histogram(&current, &f.edges);
            f.current = current;
            f.report = None;
        }
    }
}
