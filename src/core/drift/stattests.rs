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
/// values (`scipy.stats.wasserstein_distance`). One merge: each step takes the smaller head, adds
/// |F_a − F_b| times the gap since the previous value, then moves the CDF it came from; equal
/// values add zero-width gaps, so every gap is weighted by the CDFs after all values equal to
/// its left end, as SciPy's `searchsorted(…, "right")` does.
pub fn wasserstein_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (Some(&a0), Some(&b0)) = (a.first(), b.first()) else {
        return f64::NAN;
    };
    let mut merge = Merge::new(a.len(), b.len(), a0.min(b0));
    merge.run(a, b);
    merge.distance
}

/// The running state of the Wasserstein merge: values taken from each sample so far (as f64,
/// exact below 2⁵³), the last value, the sum.
struct Merge {
    taken_a: f64,
    taken_b: f64,
    inv_n: f64,
    inv_m: f64,
    previous: f64,
    distance: f64,
}

impl Merge {
    fn new(n: usize, m: usize, first: f64) -> Self {
        Self {
            taken_a: 0.0,
            taken_b: 0.0,
            inv_n: 1.0 / n as f64,
            inv_m: 1.0 / m as f64,
            previous: first,
            distance: 0.0,
        }
    }

    /// Merge two sorted runs whose values all lie at or above every value merged so far.
    fn run(&mut self, a: &[f64], b: &[f64]) {
        // (A bucket of [`wasserstein_unsorted`] starts with the counts below it.)
        let (mut i, mut j) = (0usize, 0usize);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i], b[j]);
            let take_a = x <= y;
            let v = if take_a { x } else { y };
            self.step(v);
            if take_a {
                self.taken_a += 1.0;
                i += 1;
            } else {
                self.taken_b += 1.0;
                j += 1;
            }
        }
        for &v in &a[i..] {
            self.step(v);
            self.taken_a += 1.0;
        }
        for &v in &b[j..] {
            self.step(v);
            self.taken_b += 1.0;
        }
    }

    fn step(&mut self, v: f64) {
        let gap = (self.taken_a * self.inv_n - self.taken_b * self.inv_m).abs();
        self.distance += gap * (v - self.previous);
        self.previous = v;
    }
}

/// The same distance without sorting: ∫ |F_a − F_b| bucket by bucket over the pooled range.
/// Both samples are tallied into the same equal-width buckets (count, and Σ (right edge − v)
/// per bucket). Where F_a − F_b cannot change sign inside a bucket — its value at the left edge
/// and the largest steps the bucket's values could take keep it on one side of 0 — the integral
/// over the bucket is |∫ (F_a − F_b)|, which the tallies give in closed form:
/// ∫_L^R F_a = (below_a · (R − L) + Σ (R − aᵢ)) / n. Only the buckets where it may change sign
/// (where the two CDFs cross) are sorted and merged value by value, as [`wasserstein_sorted`]
/// does. The result equals SciPy's to rounding (about 1e-12 relative); the work is two linear
/// passes over each sample plus a few small sorts.
pub fn wasserstein_unsorted(a: &[f64], b: &[f64]) -> f64 {
    let range = |v: &[f64]| {
        v.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(*x), hi.max(*x))
            })
    };
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let ((lo_a, hi_a), (lo_b, hi_b)) = (range(a), range(b));
    let (lo, hi) = (lo_a.min(lo_b), hi_a.max(hi_b));
    if hi <= lo {
        return 0.0;
    }
    let grid = Grid::new(
        lo,
        hi,
        ((a.len() + b.len()) / BUCKET_SIZE).clamp(1, 1 << 16),
    );
    let ta = grid.tally(a);
    let tb = grid.tally(b);
    let (inv_n, inv_m) = (1.0 / a.len() as f64, 1.0 / b.len() as f64);
    let (mut below_a, mut below_b) = (0.0f64, 0.0f64);
    let mut distance = 0.0;
    // Buckets to merge exactly: (bucket, counts below its left edge).
    let mut crossings: Vec<(usize, f64, f64)> = Vec::new();
    for k in 0..grid.buckets {
        let (ka, kb) = (f64::from(ta.counts[k]), f64::from(tb.counts[k]));
        let left = below_a * inv_n - below_b * inv_m;
        if left - kb * inv_m >= 0.0 || left + ka * inv_n <= 0.0 {
            let width = grid.edge(k + 1) - grid.edge(k);
            distance += (left * width + ta.gaps[k] * inv_n - tb.gaps[k] * inv_m).abs();
        } else {
            crossings.push((k, below_a, below_b));
        }
        below_a += ka;
        below_b += kb;
    }
    if crossings.is_empty() {
        return distance;
    }
    // The crossing buckets' values, gathered in one more pass over each sample.
    let mut slot = vec![u32::MAX; grid.buckets];
    for (i, (k, _, _)) in crossings.iter().enumerate() {
        slot[*k] = i as u32;
    }
    let gather = |values: &[f64], index: &[u16]| {
        let mut runs: Vec<Vec<f64>> = vec![Vec::new(); crossings.len()];
        for (v, k) in values.iter().zip(index) {
            let s = slot[usize::from(*k)];
            if s != u32::MAX {
                runs[s as usize].push(*v);
            }
        }
        for r in &mut runs {
            r.sort_unstable_by(f64::total_cmp);
        }
        runs
    };
    let (runs_a, runs_b) = (gather(a, &ta.index), gather(b, &tb.index));
    for (((k, below_a, below_b), ra), rb) in crossings.iter().zip(&runs_a).zip(&runs_b) {
        let mut merge = Merge::new(a.len(), b.len(), grid.edge(*k));
        merge.taken_a = *below_a;
        merge.taken_b = *below_b;
        merge.run(ra, rb);
        merge.step(grid.edge(k + 1));
        distance += merge.distance;
    }
    distance
}

/// Pooled values per bucket of [`wasserstein_unsorted`], on average.
const BUCKET_SIZE: usize = 64;

/// Equal-width buckets over [lo, hi]; the last one is closed.
struct Grid {
    lo: f64,
    hi: f64,
    width: f64,
    scale: f64,
    buckets: usize,
}

/// One sample on a grid: each value's bucket, and per bucket the count and Σ (right edge − v).
struct Tally {
    index: Vec<u16>,
    counts: Vec<u32>,
    gaps: Vec<f64>,
}

impl Grid {
    fn new(lo: f64, hi: f64, buckets: usize) -> Self {
        Self {
            lo,
            hi,
            width: (hi - lo) / buckets as f64,
            scale: buckets as f64 / (hi - lo),
            buckets,
        }
    }

    fn edge(&self, k: usize) -> f64 {
        if k >= self.buckets {
            self.hi
        } else {
            self.lo + k as f64 * self.width
        }
    }

    fn tally(&self, values: &[f64]) -> Tally {
        let last = self.buckets - 1;
        let mut counts = vec![0u32; self.buckets];
        let mut gaps = vec![0.0f64; self.buckets];
        let index = values
            .iter()
            .map(|v| {
                let k = (((v - self.lo) * self.scale) as usize).min(last);
                counts[k] += 1;
                gaps[k] += self.edge(k + 1) - v;
                k as u16
            })
            .collect();
        Tally {
            index,
            counts,
            gaps,
        }
    }
}

/// Evidently's normed Wasserstein on unsorted samples: the distance ÷ max(σ_reference, 0.001).
pub fn wasserstein_normed_unsorted(reference: &[f64], current: &[f64]) -> f64 {
    wasserstein_unsorted(reference, current) / std_population(reference).max(WASSERSTEIN_MIN_NORM)
}

/// The population standard deviation (`np.std`, ddof 0).
pub fn std_population(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Evidently's normed Wasserstein on sorted samples: the distance ÷ max(σ_reference, 0.001).
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
    f64::midpoint(left, right).max(0.0).sqrt()
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
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
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
        assert!(close(
            wasserstein_unsorted(&[3., 0., 1.], &[8., 5., 6.]),
            5.0
        ));
        assert!(close(wasserstein_unsorted(&[1., 0.], &[0., 2.]), 0.5));
        assert_eq!(wasserstein_unsorted(&[2., 2.], &[2.]), 0.0);
    }

    #[test]
    fn bucketed_and_sorted_wasserstein_agree() {
        let mut state = 88_172_645_463_325_252u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        // Skewed, tied and spread-out samples of unequal sizes.
        let a: Vec<f64> = (0..3000).map(|_| (-next().ln()).powi(3)).collect();
        let b: Vec<f64> = (0..2100)
            .map(|i| if i % 3 == 0 { 1.0 } else { next() * 4.0 })
            .collect();
        let sorted = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v
        };
        let want = wasserstein_sorted(&sorted(&a), &sorted(&b));
        let got = wasserstein_unsorted(&a, &b);
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
        // Large, shifted and not: mostly closed-form buckets, a few crossings.
        for shift in [0.0, 0.05, 1.0] {
            let a: Vec<f64> = (0..40_000).map(|_| next() + next() + next()).collect();
            let b: Vec<f64> = (0..25_000)
                .map(|_| next() + next() + next() + shift)
                .collect();
            let want = wasserstein_sorted(&sorted(&a), &sorted(&b));
            let got = wasserstein_unsorted(&a, &b);
            assert!(
                (got - want).abs() <= 1e-11 * want,
                "shift {shift}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn chisquare_matches_scipy() {
        // scipy.stats.chisquare([30, 50, 20], [40, 40, 20]) = (5.0, 0.0820849986238988)
        let (s, p) = chisquare(&[40., 40., 20.], &[30., 50., 20.]);
        assert!(
            close(s, 5.0) && close(p, 0.082_084_998_623_898_8),
            "{s} {p}"
        );
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
