//! The drift statistics on prepared data: sorted samples (Wasserstein), counts over shared bins
//! or categories (PSI, Jensen–Shannon, chi-square, the Z-test for proportions), and the binning
//! Evidently applies before PSI and Jensen–Shannon (`get_binned_data`).

use statrs::{
    distribution::{ChiSquared, ContinuousCDF},
    function::erf::{erf, erfc},
};

/// Evidently's share for an empty bin in PSI when no occupied bin's share is at most this
/// (`feel_zeroes`); otherwise an empty bin gets the smallest occupied share ÷ 10⁶.
pub const EMPTY_BIN_SHARE: f64 = 0.0001;
/// Evidently's floor for the reference's standard deviation under the normed Wasserstein.
pub const WASSERSTEIN_MIN_NORM: f64 = 0.001;

/// The first Wasserstein distance between two sorted samples: ∫ |F_a − F_b| over the pooled
/// values (`scipy.stats.wasserstein_distance`).
pub fn wasserstein_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut distance = 0.0;
    let mut x = match (a.first(), b.first()) {
        (Some(x), Some(y)) => x.min(*y),
        _ => return f64::NAN,
    };
    loop {
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        let next = match (a.get(i), b.get(j)) {
            (Some(p), Some(q)) => p.min(*q),
            (Some(p), None) => *p,
            (None, Some(q)) => *q,
            (None, None) => break,
        };
        distance += (i as f64 / n - j as f64 / m).abs() * (next - x);
        x = next;
    }
    distance
}

/// The population standard deviation (`np.std`, ddof 0).
pub fn std_population(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Evidently's normed Wasserstein: the distance ÷ max(σ_reference, 0.001).
pub fn wasserstein_normed_sorted(reference: &[f64], current: &[f64]) -> f64 {
    wasserstein_sorted(reference, current) / std_population(reference).max(WASSERSTEIN_MIN_NORM)
}

/// `numpy.histogram_bin_edges(pooled, bins="sturges")`: the bin width is ptp/(log₂ n + 1), the
/// number of bins ⌈ptp/width⌉, edges `linspace(min, max, bins + 1)`; a pooled sample of one
/// value gets the single bin [v − 0.5, v + 0.5].
#[allow(clippy::float_cmp)] // exact: numpy widens the range only when min == max
pub fn sturges_edges(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = (a.len() + b.len()) as f64;
    let (lo, hi) = a
        .iter()
        .chain(b)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    if lo == hi {
        return vec![lo - 0.5, hi + 0.5];
    }
    let width = (hi - lo) / (n.log2() + 1.0);
    let bins = ((hi - lo) / width).ceil().max(1.0) as usize;
    linspace(lo, hi, bins)
}

/// `numpy.linspace(lo, hi, bins + 1)`: i · step + lo, the last edge exactly `hi`.
pub fn linspace(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + lo).collect();
    if let Some(last) = edges.last_mut() {
        *last = hi;
    }
    edges
}

/// Counts per bin with numpy's rule: bins are half-open except the last, which is closed;
/// values outside the edges are not counted.
#[allow(clippy::float_cmp)] // exact: numpy closes the last bin on exactly the upper edge
pub fn histogram(data: &[f64], edges: &[f64]) -> Vec<f64> {
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0.0; bins];
    if bins == 0 {
        return counts;
    }
    let (lo, hi) = (edges[0], edges[bins]);
    for &v in data {
        if !(v >= lo && v <= hi) {
            continue;
        }
        let idx = if v == hi {
            bins - 1
        } else {
            edges
                .partition_point(|e| *e <= v)
                .saturating_sub(1)
                .min(bins - 1)
        };
        counts[idx] += 1.0;
    }
    counts
}

/// Counts ÷ their total.
pub fn shares(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| if total > 0.0 { c / total } else { 0.0 })
        .collect()
}

/// Evidently's `feel_zeroes`: each empty share becomes 0.0001, or the smallest occupied
/// share ÷ 10⁶ when that is 0.0001 or less, so PSI's logarithms stay finite.
pub fn fill_empty(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|s| *s != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if smallest <= EMPTY_BIN_SHARE {
        smallest / 1e6
    } else {
        EMPTY_BIN_SHARE
    };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

/// Population Stability Index of two share vectors over the same bins (already filled).
pub fn psi_of_shares(reference: &[f64], current: &[f64]) -> f64 {
    reference
        .iter()
        .zip(current)
        .map(|(r, c)| (r - c) * (r / c).ln())
        .sum()
}

/// PSI of two count vectors over the same bins, with Evidently's filling of empty bins.
pub fn psi_of_counts(reference: &[f64], current: &[f64]) -> f64 {
    let (mut r, mut c) = (shares(reference), shares(current));
    fill_empty(&mut r);
    fill_empty(&mut c);
    psi_of_shares(&r, &c)
}

/// Jensen–Shannon distance, natural log (`scipy.spatial.distance.jensenshannon`): each vector
/// normalised to sum 1, then √((KL(p‖m) + KL(q‖m))/2) with m the midpoint.
pub fn jensen_shannon_of_shares(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let (mut left, mut right) = (0.0, 0.0);
    for (p, q) in p.iter().zip(q) {
        let (p, q) = (p / sp, q / sq);
        let m = f64::midpoint(p, q);
        if p > 0.0 {
            left += p * (p / m).ln();
        }
        if q > 0.0 {
            right += q * (q / m).ln();
        }
    }
    ((left + right) / 2.0).max(0.0).sqrt()
}

/// Pearson's chi-square of the current counts against the reference's scaled to the current
/// total (Evidently's `chisquare` test): Σ (o − e)²/e and its p-value with k − 1 degrees of
/// freedom. A category the reference never saw makes the statistic infinite and p = 0.
pub fn chisquare(reference: &[f64], current: &[f64]) -> (f64, f64) {
    let (n_ref, n_cur): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    let scale = n_cur / n_ref;
    let statistic: f64 = reference
        .iter()
        .zip(current)
        .map(|(r, o)| {
            let e = r * scale;
            (o - e).powi(2) / e
        })
        .sum();
    let dof = reference.len().saturating_sub(1) as f64;
    let p = if statistic.is_nan() || dof == 0.0 {
        f64::NAN
    } else if statistic.is_infinite() {
        0.0
    } else {
        ChiSquared::new(dof).map_or(f64::NAN, |d| d.sf(statistic))
    };
    (statistic, p)
}

/// Evidently's two-proportion Z-test: with the first of the sorted categories as 0 and every
/// other as 1, z = (p₁ − p₂)/√(P(1 − P)(1/n₁ + 1/n₂)) over the shares of 1s, and the two-sided
/// p-value 2(1 − Φ(|z|)) — computed as that difference, so it reaches 0 as Evidently's does.
pub fn z_test(reference_ones: f64, n_ref: f64, current_ones: f64, n_cur: f64) -> (f64, f64) {
    let (p1, p2) = (reference_ones / n_ref, current_ones / n_cur);
    let pooled = (p1 * n_ref + p2 * n_cur) / (n_ref + n_cur);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur)).sqrt();
    let p = 2.0 * (1.0 - normal_cdf(z.abs()));
    (z, p)
}

/// Φ(x) as SciPy's `ndtr` (cephes) evaluates it: from erf near 0, from erfc in the tails, so
/// 1 − Φ rounds the way Evidently's p-value does.
pub fn normal_cdf(x: f64) -> f64 {
    let t = x * std::f64::consts::FRAC_1_SQRT_2;
    if t.abs() < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * erf(t)
    } else {
        let y = 0.5 * erfc(t.abs());
        if t > 0.0 { 1.0 - y } else { y }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
    }

    #[test]
    fn histogram_follows_numpy_edges() {
        let counts = histogram(&[0.0, 0.5, 1.0, 1.5, 2.0], &[0.0, 1.0, 2.0]);
        assert_eq!(counts, vec![2.0, 3.0], "last bin is closed");
    }

    #[test]
    fn sturges_matches_numpy() {
        // numpy.histogram_bin_edges(np.arange(10.0), "sturges"): 5 bins of 1.8.
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let e = sturges_edges(&a, &[]);
        assert_eq!(e.len(), 6);
        assert!(close(e[1], 1.8) && close(e[5], 9.0), "{e:?}");
        assert_eq!(sturges_edges(&[3.0], &[3.0]), vec![2.5, 3.5]);
    }

    #[test]
    fn wasserstein_matches_scipy() {
        // scipy.stats.wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0, ([0,1], [0,2]) == 0.5
        assert!(close(wasserstein_sorted(&[0., 1., 3.], &[5., 6., 8.]), 5.0));
        assert!(close(wasserstein_sorted(&[0., 1.], &[0., 2.]), 0.5));
    }

    #[test]
    fn chisquare_matches_scipy() {
        // scipy.stats.chisquare([30, 50, 20], [40, 40, 20]) = (5.0, 0.0820849986238988)
        let (s, p) = chisquare(&[40., 40., 20.], &[30., 50., 20.]);
        assert!(close(s, 5.0) && close(p, 0.082_084_998_623_898_8), "{s} {p}");
        let (s, p) = chisquare(&[10., 0.], &[5., 5.]);
        assert!(s.is_infinite() && p == 0.0);
    }

    #[test]
    fn z_test_matches_evidently() {
        // proportions_diff_z_stat_ind: 30/100 vs 45/100 → z = -2.1908902300206647,
        // p = 0.02845973691631065
        let (z, p) = z_test(30.0, 100.0, 45.0, 100.0);
        assert!(close(z, -2.190_890_230_020_664_7), "{z}");
        // statrs' erfc: about 4e-11 relative from SciPy's here (p-values are compared to 1e-6).
        assert!((p - 0.028_459_736_916_310_65).abs() < 1e-11, "{p}");
    }

    #[test]
    fn empty_bins_are_filled_as_evidently() {
        let mut s = [0.5, 0.0, 0.5];
        fill_empty(&mut s);
        assert_eq!(s, [0.5, 0.0001, 0.5]);
        let mut s = [0.999_95, 0.0, 0.000_05];
        fill_empty(&mut s);
        assert!(close(s[1], 0.000_05 / 1e6));
    }
}
