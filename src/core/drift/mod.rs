//! Drift statistics, computed the way Evidently computes them so the numbers match:
//! two-sample Kolmogorov–Smirnov, Population Stability Index and Jensen–Shannon distance on
//! Sturges-binned shares (Evidently's `get_binned_data`), and the normed Wasserstein distance
//! (distance ÷ the reference's standard deviation).
//!
//! The KS p-value uses the asymptotic Kolmogorov distribution with Stephens' small-sample
//! correction; `SciPy`'s `ks_2samp` uses an exact method for small samples, so p-values agree to
//! about two decimals there and closely for large samples.

pub mod kolmogorov;
pub mod ks;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Evidently's floor for an empty bin's share, so logarithms stay finite.
const EMPTY_BIN_SHARE: f64 = 0.0001;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ks {
    pub statistic: f64,
    pub p_value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum DriftStatus {
    Ok,
    Warning,
    Drifted,
}

impl DriftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Ok => "ok",
            DriftStatus::Warning => "warning",
            DriftStatus::Drifted => "drifted",
        }
    }
}

/// The statistics of one feature, reference versus current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub ks: Ks,
    pub psi: f64,
    pub js_distance: f64,
    pub wasserstein_normed: f64,
    pub reference_len: usize,
    pub current_len: usize,
    pub status: DriftStatus,
}

/// Thresholds as Evidently's defaults: KS p < 0.05, PSI ≥ 0.1, Wasserstein (normed) ≥ 0.1.
/// Drifted when the method Evidently would pick for this size says so; warning when PSI passes
/// half its threshold.
pub fn report(reference: &[f64], current: &[f64]) -> Result<DriftReport, CoreError> {
    let ks = ks_2samp(reference, current)?;
    let psi = psi(reference, current)?;
    let js_distance = jensen_shannon(reference, current)?;
    let wasserstein_normed = wasserstein_normed(reference, current)?;
    let status = status_of(reference.len(), ks.p_value, wasserstein_normed, psi);
    Ok(DriftReport {
        ks,
        psi,
        js_distance,
        wasserstein_normed,
        reference_len: reference.len(),
        current_len: current.len(),
        status,
    })
}

fn finite_sorted(name: &str, data: &[f64]) -> Result<Vec<f64>, CoreError> {
    finite(name, data)?;
    let mut v = data.to_vec();
    v.sort_by(f64::total_cmp);
    Ok(v)
}

#[allow(clippy::float_cmp)] // exact: a zero distance over a zero spread is no drift
/// The drift statistics of two count vectors over the same bins — e.g. Prometheus histogram buckets. PSI and
/// Jensen–Shannon are exact on the bins; KS is measured at the bin bounds (a lower bound of the
/// raw-sample statistic); Wasserstein puts each bin's mass at its midpoint (approximate).
pub fn report_from_bins(
    edges: &[f64],
    reference: &[f64],
    current: &[f64],
) -> Result<DriftReport, CoreError> {
    if edges.len() != reference.len() + 1 {
        return Err(CoreError::Statistics(format!(
            "{} bins need {} edges, got {}",
            reference.len(),
            reference.len() + 1,
            edges.len()
        )));
    }
    let psi = psi_from_counts(reference, current)?;
    let (n, m): (f64, f64) = (reference.iter().sum(), current.iter().sum());

    // KS at the bucket bounds.
    let (mut fr, mut fc, mut d) = (0.0, 0.0, 0.0f64);
    for (r, c) in reference.iter().zip(current) {
        fr += r / n;
        fc += c / m;
        d = d.max((fr - fc).abs());
    }
    let ks = Ks {
        statistic: d,
        p_value: ks_p_value(d, n, m),
    };

    // Jensen–Shannon on the floored shares, as on the Sturges bins.
    let js_distance = js_from_shares(&shares(reference), &shares(current));

    // Wasserstein with each bin's mass at its midpoint.
    let mids: Vec<f64> = edges
        .windows(2)
        .map(|w| f64::midpoint(w[0], w[1]))
        .collect();
    let (mut cr, mut cc, mut w1) = (0.0, 0.0, 0.0);
    for i in 0..mids.len().saturating_sub(1) {
        cr += reference[i] / n;
        cc += current[i] / m;
        w1 += (cr - cc).abs() * (mids[i + 1] - mids[i]);
    }
    let mean = mids.iter().zip(reference).map(|(x, c)| x * c).sum::<f64>() / n;
    let var = mids
        .iter()
        .zip(reference)
        .map(|(x, c)| c * (x - mean).powi(2))
        .sum::<f64>()
        / n;
    let sd = var.sqrt();
    let wasserstein_normed = if sd > 0.0 {
        w1 / sd
    } else if w1 == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };

    let reference_len = n.round() as usize;
    let status = status_of(reference_len, ks.p_value, wasserstein_normed, psi);
    Ok(DriftReport {
        ks,
        psi,
        js_distance,
        wasserstein_normed,
        reference_len,
        current_len: m.round() as usize,
        status,
    })
}

/// Evidently's rule: KS p < 0.05 for up to 1000 reference rows, normed Wasserstein ≥ 0.1 above;
/// a warning when PSI passes half its 0.1 threshold.
fn status_of(reference_len: usize, ks_p: f64, wasserstein_normed: f64, psi: f64) -> DriftStatus {
    let drifted = if reference_len <= 1000 {
        ks_p < 0.05
    } else {
        wasserstein_normed >= 0.1
    };
    if drifted {
        DriftStatus::Drifted
    } else if psi >= 0.05 {
        DriftStatus::Warning
    } else {
        DriftStatus::Ok
    }
}

/// The asymptotic two-sided p-value of a KS statistic `d` for samples of sizes `n` and `m`.
pub fn ks_p_value(d: f64, n: f64, m: f64) -> f64 {
    let en = (n * m / (n + m)).sqrt();
    kolmogorov_q((en + 0.12 + 0.11 / en) * d)
}

/// Two-sample Kolmogorov–Smirnov test, two-sided.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<Ks, CoreError> {
    let a = finite_sorted("reference", a)?;
    let b = finite_sorted("current", b)?;
    let (n, m) = (a.len(), b.len());
    let (mut i, mut j) = (0usize, 0usize);
    let mut d: f64 = 0.0;
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let p_value = ks_p_value(d, n as f64, m as f64);
    Ok(Ks {
        statistic: d,
        p_value,
    })
}

/// The survival function of the Kolmogorov distribution, Q(λ) = 2 Σ (-1)^{k-1} e^{-2k²λ²}.
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    let mut previous_term: f64 = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = sign * 2.0 * (-2.0 * k * k * lambda * lambda).exp();
        sum += term;
        if term.abs() <= 1e-12 * previous_term.abs() || term.abs() <= 1e-300 {
            return sum.clamp(0.0, 1.0);
        }
        sign = -sign;
        previous_term = term;
    }
    // Did not converge: only for λ so small the p-value is 1.
    1.0
}

#[allow(clippy::float_cmp)] // exact: equal extremes mean one value, which needs a bin of its own
/// Sturges bin edges over both samples together, as `numpy.histogram_bin_edges(…, "sturges")`.
fn sturges_edges(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = a.len() + b.len();
    let (lo, hi) = a
        .iter()
        .chain(b)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let bins = ((n as f64).log2() + 1.0).ceil().max(1.0) as usize;
    (0..=bins)
        .map(|i| lo + (hi - lo) * i as f64 / bins as f64)
        .collect()
}

#[allow(clippy::float_cmp)] // exact: numpy closes the last bin on exactly the upper edge
/// Counts per bin with numpy's rule: bins are half-open except the last, which is closed.
pub fn histogram(data: &[f64], edges: &[f64]) -> Vec<f64> {
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0.0; bins];
    if bins == 0 {
        return counts;
    }
    let (lo, hi) = (edges[0], edges[bins]);
    for &v in data {
        if v < lo || v > hi {
            continue;
        }
        let idx = if v == hi {
            bins - 1
        } else {
            // First edge greater than v, minus one.
            edges
                .partition_point(|e| *e <= v)
                .saturating_sub(1)
                .min(bins - 1)
        };
        counts[idx] += 1.0;
    }
    counts
}

fn shares(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| {
            let s = if total > 0.0 { c / total } else { 0.0 };
            if s == 0.0 { EMPTY_BIN_SHARE } else { s }
        })
        .collect()
}

fn finite(name: &str, data: &[f64]) -> Result<(), CoreError> {
    if data.is_empty() {
        return Err(CoreError::Statistics(format!("{name} sample is empty")));
    }
    match data.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(CoreError::Statistics(format!(
            "{name} sample has a non-finite value at index {i}: {}",
            data[i]
        ))),
        None => Ok(()),
    }
}

/// Shares per Sturges bin; binning needs no sorting, so this stays linear.
fn binned(reference: &[f64], current: &[f64]) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    finite("reference", reference)?;
    finite("current", current)?;
    let edges = sturges_edges(reference, current);
    Ok((
        shares(&histogram(reference, &edges)),
        shares(&histogram(current, &edges)),
    ))
}

/// PSI from two already-binned count vectors of the same bins (e.g. Prometheus histograms).
pub fn psi_from_counts(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    if reference.len() != current.len() || reference.is_empty() {
        return Err(CoreError::Statistics(format!(
            "PSI needs the same non-empty bins: reference has {}, current has {}",
            reference.len(),
            current.len()
        )));
    }
    let (r, c) = (shares(reference), shares(current));
    Ok(r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum())
}

/// Population Stability Index on Sturges bins.
pub fn psi(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    let (r, c) = binned(reference, current)?;
    Ok(r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum())
}

/// Jensen–Shannon distance (natural log), as `scipy.spatial.distance.jensenshannon`.
pub fn jensen_shannon(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    let (p, q) = binned(reference, current)?;
    Ok(js_from_shares(&p, &q))
}

/// Jensen–Shannon distance (natural log) of two share vectors over the same bins.
fn js_from_shares(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let mut js = 0.0;
    for (p, q) in p.iter().zip(q) {
        let (p, q) = (p / sp, q / sq);
        let m = f64::midpoint(p, q);
        if p > 0.0 {
            js += 0.5 * p * (p / m).ln();
        }
        if q > 0.0 {
            js += 0.5 * q * (q / m).ln();
        }
    }
    js.max(0.0).sqrt()
}

/// First Wasserstein distance between the two empirical distributions.
pub fn wasserstein(a: &[f64], b: &[f64]) -> Result<f64, CoreError> {
    let a = finite_sorted("reference", a)?;
    let b = finite_sorted("current", b)?;
    let mut all: Vec<f64> = a.iter().chain(&b).copied().collect();
    all.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut distance = 0.0;
    for w in all.windows(2) {
        let x = w[0];
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        distance += (i as f64 / n - j as f64 / m).abs() * (w[1] - w[0]);
    }
    Ok(distance)
}

/// Wasserstein distance divided by the reference's (population) standard deviation.
pub fn wasserstein_normed(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    let d = wasserstein(reference, current)?;
    let n = reference.len() as f64;
    let mean = reference.iter().sum::<f64>() / n;
    let var = reference.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    if sd == 0.0 {
        return Ok(if d == 0.0 { 0.0 } else { f64::INFINITY });
    }
    Ok(d / sd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ks_statistic_matches_scipy() {
        // scipy.stats.ks_2samp([1,2,3,4,5], [3,4,5,6,7,8]).statistic == 0.5
        let ks = ks_2samp(&[1., 2., 3., 4., 5.], &[3., 4., 5., 6., 7., 8.]).expect("ks");
        assert!(close(ks.statistic, 0.5, 1e-12), "{}", ks.statistic);
        let same = ks_2samp(&[1., 2., 3.], &[1., 2., 3.]).expect("ks");
        assert!(close(same.statistic, 0.0, 1e-12));
        assert!(close(same.p_value, 1.0, 1e-9));
    }

    #[test]
    fn ks_p_value_is_small_for_shifted_large_samples() {
        let a: Vec<f64> = (0..2000).map(|i| f64::from(i) / 2000.0).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 0.1).collect();
        let ks = ks_2samp(&a, &b).expect("ks");
        assert!(close(ks.statistic, 0.1, 1e-3), "{}", ks.statistic);
        // scipy gives 1.7e-9 (asymp); the Kolmogorov approximation lands in the same decade.
        assert!(ks.p_value < 1e-7 && ks.p_value > 1e-11, "{}", ks.p_value);
    }

    #[test]
    fn histogram_follows_numpy_edges() {
        let counts = histogram(&[0.0, 0.5, 1.0, 1.5, 2.0], &[0.0, 1.0, 2.0]);
        assert_eq!(counts, vec![2.0, 3.0], "last bin is closed");
    }

    #[test]
    fn psi_zero_for_identical_and_positive_for_shift() {
        let a: Vec<f64> = (0..500).map(|i| f64::from(i % 50)).collect();
        assert!(psi(&a, &a).expect("psi").abs() < 1e-12);
        let b: Vec<f64> = a.iter().map(|v| v + 20.0).collect();
        assert!(psi(&a, &b).expect("psi") > 1.0);
    }

    #[test]
    fn psi_from_counts_known_value() {
        // shares r=[.5,.5], c=[.25,.75]: (.25)ln2 + (-.25)ln(2/3)
        let v = psi_from_counts(&[50., 50.], &[25., 75.]).expect("psi");
        let expected = 0.25 * 2f64.ln() - 0.25 * (0.5f64 / 0.75).ln();
        assert!(close(v, expected, 1e-12));
        assert!(psi_from_counts(&[1.0], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn wasserstein_matches_scipy() {
        // scipy.stats.wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0
        let d = wasserstein(&[0., 1., 3.], &[5., 6., 8.]).expect("w");
        assert!(close(d, 5.0, 1e-12), "{d}");
        // scipy.stats.wasserstein_distance([0,1], [0,2]) == 0.5
        let d = wasserstein(&[0., 1.], &[0., 2.]).expect("w");
        assert!(close(d, 0.5, 1e-12), "{d}");
    }

    #[test]
    fn js_distance_bounds() {
        let a = [1., 2., 3., 4.];
        assert!(jensen_shannon(&a, &a).expect("js") < 1e-9);
        let far = jensen_shannon(&a, &[100., 101., 102., 103.]).expect("js");
        assert!(far > 0.8 && far <= 2f64.ln().sqrt() + 1e-9, "{far}");
    }

    #[test]
    fn bad_samples_are_named() {
        let err = ks_2samp(&[], &[1.0]).expect_err("empty");
        assert!(err.to_string().contains("reference sample is empty"));
        let err = psi(&[1.0], &[f64::NAN]).expect_err("nan");
        assert!(
            err.to_string()
                .contains("current sample has a non-finite value at index 0")
        );
    }

    #[test]
    fn report_flags_drift() {
        let a: Vec<f64> = (0..800).map(|i| (f64::from(i) * 0.37).sin()).collect();
        let b: Vec<f64> = a.iter().map(|v| v + 0.8).collect();
        let r = report(&a, &b).expect("report");
        assert_eq!(r.status, DriftStatus::Drifted);
        let r = report(&a, &a).expect("report");
        assert_eq!(r.status, DriftStatus::Ok);
    }
}
