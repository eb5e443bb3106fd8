//! What the simulated model servers answer, per model version and track: a sample a minute of
//! request rate, error ratio and latency (a histogram's bucket rates, as the servers export),
//! from which the demo's `ServingPort` answers any window, as Prometheus does from counters.
//! Stable tracks were healthy before the simulation began; one model degrades slowly.

use std::collections::{BTreeMap, VecDeque};

use chrono::Duration;

use super::{Sim, SimRollout};
use crate::{
    demo::rng::Rng,
    model::Track,
    serving::{
        HistoryPoint, LatencySignal, ServingKey, Signal, SignalRequest, SignalSource, Signals,
    },
};

/// One sample a minute, a day of them at most.
pub(super) const SAMPLE_SECONDS: i64 = 60;
const KEPT: usize = 24 * 60;
/// The model whose stable version degrades slowly through the demo.
pub const DEGRADING: &str = "speech-asr";
/// The latency histogram's bounds (seconds), as the model servers export them.
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The spread of request latency (lognormal shape): p99 = median × e^(2.326 σ).
const SIGMA: f64 = 0.45;

/// A minute of one key: requests per second, the share answered 5xx, p99 latency (seconds).
#[derive(Debug, Clone, Copy)]
pub(super) struct Minute {
    at: i64,
    rps: f64,
    error: f64,
    p99: f64,
}

/// The healthy values of a stable model, from its name.
fn baseline(seed: u64, model: &str) -> (f64, f64) {
    let mut rng = Rng::fork(seed, &format!("serving/{model}"));
    (0.0008 + rng.range(0.0, 0.0015), 0.06 + rng.range(0.0, 0.12))
}

fn rollout_of<'a>(rollouts: &'a [SimRollout], model: &str) -> Option<&'a SimRollout> {
    rollouts
        .iter()
        .rev()
        .find(|r| r.record.spec.model.name == model && r.record.status.phase.is_active())
}

impl Sim {
    /// Sample every serving Deployment (with ready replicas) once a minute.
    pub(super) fn record_serving(&mut self) {
        let at = self.now.timestamp();
        let minutes_in = (self.now - self.start).num_seconds() as f64 / 60.0;
        let mut rng = Rng::fork(self.seed, &format!("serving/{at}"));
        for d in &self.deployments {
            if d.ready_replicas == 0 {
                continue;
            }
            let key = ServingKey::new(
                &d.namespace,
                &d.model,
                &d.version.to_string(),
                d.track.as_str(),
            );
            let (base_error, base_p99) = baseline(self.seed, &d.model);
            let live = rollout_of(&self.rollouts, &d.model);
            let (error, p99) = match (d.track, live) {
                (Track::Canary, Some(r)) => (r.canary_error, r.canary_latency_ms / 1000.0),
                (Track::Stable, Some(r)) => (r.stable_error, r.stable_latency_ms / 1000.0),
                _ if d.model == DEGRADING => {
                    // From healthy to several times its budget's pace over the demo's first hour.
                    let k = (minutes_in + 20.0).max(0.0) / 60.0;
                    (
                        base_error + 0.03 * k.min(1.5),
                        base_p99 * (1.0 + 1.5 * k.min(1.5)),
                    )
                }
                _ => (base_error, base_p99),
            };
            let rps = f64::from(d.ready_replicas) * 24.0;
            let noise = 1.0 + 0.1 * rng.normal();
            let samples = self.serving_history.entry(key).or_default();
            samples.push_back(Minute {
                at,
                rps: rps * noise.max(0.5),
                error: (error * (1.0 + 0.15 * rng.normal())).clamp(0.0, 1.0),
                p99: p99 * (1.0 + 0.04 * rng.normal()).max(0.5),
            });
            if samples.len() > KEPT {
                samples.pop_front();
            }
        }
    }

    /// The serving signals as Prometheus would answer them now.
    pub fn serving_signals(&self, request: &SignalRequest) -> Signals {
        let now = self.now.timestamp();
        let since = |w: u64| now - i64::try_from(w).unwrap_or(i64::MAX / 2);
        let mut current = Vec::new();
        let mut error_ratios: BTreeMap<u64, BTreeMap<ServingKey, f64>> = BTreeMap::new();
        let mut history = BTreeMap::new();
        for (key, samples) in &self.serving_history {
            let Some(last) = samples.back().filter(|m| now - m.at <= 2 * SAMPLE_SECONDS) else {
                continue; // no longer served
            };
            let recent: Vec<&Minute> = window(samples, since(request.window_seconds));
            let n = recent.len().max(1) as f64;
            let rps = recent.iter().map(|m| m.rps).sum::<f64>() / n;
            let error = weighted_error(&recent).unwrap_or(last.error);
            let p99 = recent.iter().map(|m| m.p99).sum::<f64>() / n;
            current.push(Signal {
                key: key.clone(),
                requests_per_second: Some(rps),
                errors_per_second: Some(rps * error),
                latency: Some(LatencySignal::Buckets(buckets(rps, p99))),
            });
            let (healthy, _) = baseline(self.seed, &key.model);
            for &w in &request.ratio_windows {
                let r = self.window_ratio(key, samples, since(w), w, healthy);
                error_ratios.entry(w).or_default().insert(key.clone(), r);
            }
            if let Some((range, step)) = request.history {
                history.insert(key.clone(), points(samples, since(range), step));
            }
        }
        Signals {
            at: Some(self.now),
            current,
            error_ratios,
            history,
            source: SignalSource {
                runtime: "demo".into(),
                latency: "histogram".into(),
                queries: BTreeMap::from([(
                    "requests".to_string(),
                    "the simulated model servers' requests, errors and latency".to_string(),
                )]),
                series: vec!["model_requests_total (simulated)".into()],
            },
            warnings: Vec::new(),
        }
    }

    /// The error ratio over `w` seconds: what was sampled in it, and for a stable track the
    /// healthy ratio for the part of the window before the simulation (it served then too).
    fn window_ratio(
        &self,
        key: &ServingKey,
        samples: &VecDeque<Minute>,
        from: i64,
        w: u64,
        healthy: f64,
    ) -> f64 {
        let inside = window(samples, from);
        let seen = weighted_error(&inside).unwrap_or(healthy);
        let origin = (self.start - Duration::seconds(super::WARMUP_SECONDS)).timestamp();
        if key.track != Track::Stable.as_str() || from >= origin {
            return seen;
        }
        let covered = (inside.len() as f64 * SAMPLE_SECONDS as f64).min(w as f64);
        let share = covered / w as f64;
        seen * share + healthy * (1.0 - share)
    }
}

fn window(samples: &VecDeque<Minute>, from: i64) -> Vec<&Minute> {
    samples.iter().filter(|m| m.at > from).collect()
}

fn weighted_error(minutes: &[&Minute]) -> Option<f64> {
    let requests: f64 = minutes.iter().map(|m| m.rps).sum();
    (requests > 0.0).then(|| minutes.iter().map(|m| m.rps * m.error).sum::<f64>() / requests)
}

/// Cumulative bucket rates of a lognormal latency with this p99.
fn buckets(rps: f64, p99: f64) -> Vec<(f64, f64)> {
    let median = p99 / (2.326 * SIGMA).exp();
    let cdf = |x: f64| {
        0.5 * (1.0
            + statrs::function::erf::erf((x / median).ln() / (SIGMA * std::f64::consts::SQRT_2)))
    };
    BOUNDS
        .iter()
        .map(|&le| (le, rps * cdf(le)))
        .chain([(f64::INFINITY, rps)])
        .collect()
}

fn points(samples: &VecDeque<Minute>, from: i64, step: u64) -> Vec<HistoryPoint> {
    let step = i64::try_from(step.max(60)).unwrap_or(60);
    let inside = window(samples, from);
    let mut out: Vec<HistoryPoint> = Vec::new();
    for chunk in inside.chunk_by(|a, b| a.at.div_euclid(step) == b.at.div_euclid(step)) {
        let Some(last) = chunk.last() else { continue };
        let n = chunk.len() as f64;
        out.push(HistoryPoint {
            time: chrono::DateTime::from_timestamp(last.at, 0).unwrap_or_default(),
            error_ratio: weighted_error(chunk),
            p99: Some(chunk.iter().map(|m| m.p99).sum::<f64>() / n),
        });
    }
    out
}
