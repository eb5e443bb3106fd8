//! The two-sample Kolmogorov–Smirnov test, two-sided, as SciPy's `ks_2samp(…, method="auto")`
//! (`scipy/stats/_stats_py.py`, `_stats_pythran.py`):
//!
//! * the statistic D = max |F_ref − F_cur| over the pooled sample;
//! * `auto` is exact when max(n₁, n₂) ≤ 10 000, else asymptotic;
//! * exact: with g = gcd(n₁, n₂) and h = round(D · lcm), D is reported as h / lcm and the
//!   p-value is the share of lattice paths from (0, 0) to (n₁, n₂) that leave the band
//!   |x/n₁ − y/n₂| < h/lcm — for n₁ = n₂ the closed alternating sum (`_compute_prob_outside_square`),
//!   otherwise Hodges' "inside" recursion carried on 1 − p (Viehmann 2021,
//!   `_compute_outer_prob_inside_method`); a result outside [0, 1] falls back to asymptotic;
//! * asymptotic: the one-sample two-sided distribution `kstwo` at n = round(n₁n₂/(n₁+n₂)) (ties
//!   to even, as `np.round`) — not `kstwobign`, the n → ∞ limit.

use super::kolmogorov::kstwo_sf;

/// Above this sample size `auto` stops trying the exact distribution (SciPy's `MAX_AUTO_N`).
pub const MAX_EXACT_N: usize = 10_000;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KsMode {
    Exact,
    Asymptotic,
}

/// The statistic and p-value of [`ks_sorted`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    pub mode: KsMode,
}

/// KS on two sorted, finite, non-empty samples.
pub fn ks_sorted(a: &[f64], b: &[f64]) -> KsResult {
    let (n1, n2) = (a.len(), b.len());
    let (d_float, d_int) = statistic(a, b);
    if n1.max(n2) <= MAX_EXACT_N {
        let g = gcd(n1 as u64, n2 as u64);
        let lcm = (n1 as u64 / g) * n2 as u64;
        // The largest gap in units of 1/lcm: |i n₂ − j n₁| / g.
        let h = d_int / g;
        let d = h as f64 / lcm as f64;
        let p = if h == 0 {
            Some(1.0)
        } else if n1 == n2 {
            Some(outside_square(n1 as u64, h))
        } else {
            Some(outside_band(n1 as u64, n2 as u64, g, h))
        };
        if let Some(p) = p.filter(|p| (0.0..=1.0).contains(p)) {
            return KsResult {
                statistic: d,
                p_value: p,
                mode: KsMode::Exact,
            };
        }
    }
    KsResult {
        statistic: d_float,
        p_value: asymptotic_p(d_float, n1 as f64, n2 as f64),
        mode: KsMode::Asymptotic,
    }
}

/// The p-value `ks_2samp(method="auto")` gives statistic `d` for samples of sizes `n1` and `n2`:
/// exact up to 10 000 values (sizes that are whole numbers), else asymptotic. For binned data,
/// where D is known but not the samples.
#[allow(clippy::float_cmp)] // exact: whole counts are whole numbers
pub fn p_value(d: f64, n1: f64, n2: f64) -> f64 {
    let whole = |n: f64| n >= 1.0 && n.fract() == 0.0;
    if whole(n1) && whole(n2) && n1.max(n2) <= MAX_EXACT_N as f64 {
        let (n1, n2) = (n1 as u64, n2 as u64);
        let g = gcd(n1, n2);
        let lcm = (n1 / g) * n2;
        let h = (d * lcm as f64).round() as u64;
        let p = if h == 0 {
            1.0
        } else if n1 == n2 {
            outside_square(n1, h)
        } else {
            outside_band(n1, n2, g, h)
        };
        if (0.0..=1.0).contains(&p) {
            return p;
        }
    }
    asymptotic_p(d, n1, n2)
}

/// The asymptotic two-sided p-value of statistic `d` for samples of sizes `n1` and `n2`:
/// `kstwo.sf(d, round(n1 n2 / (n1 + n2)))`.
pub fn asymptotic_p(d: f64, n1: f64, n2: f64) -> f64 {
    let (m, n) = if n1 >= n2 { (n1, n2) } else { (n2, n1) };
    let en = (m * n / (m + n)).round_ties_even();
    if en < 1.0 || !d.is_finite() {
        return if d <= 0.0 { 1.0 } else { f64::NAN };
    }
    kstwo_sf(en as u64, d).clamp(0.0, 1.0)
}

/// D as SciPy computes it (the largest difference of the two ECDFs as floats), and the same
/// gap exactly, as max |i n₂ − j n₁| over the pooled sample.
fn statistic(a: &[f64], b: &[f64]) -> (f64, u64) {
    let (n1, n2) = (a.len(), b.len());
    let (nf1, nf2) = (n1 as f64, n2 as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut d = 0.0f64;
    let mut d_int = 0u64;
    while i < n1 || j < n2 {
        let x = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while i < n1 && a[i] <= x {
            i += 1;
        }
        while j < n2 && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / nf1 - j as f64 / nf2).abs());
        let gap = (i as u64 * n2 as u64).abs_diff(j as u64 * n1 as u64);
        d_int = d_int.max(gap);
    }
    (d, d_int)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// P(D_{n,n} ≥ h/n): 2 Σ_k (−1)^(k−1) C(2n, n − kh) / C(2n, n), each ratio a product of h
/// factors and the sum nested (Horner) to avoid cancellation.
fn outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut p = 0.0;
    let mut k = n / h;
    loop {
        let mut ratio = 1.0;
        for j in 0..h {
            ratio = (n - k * h - j) as f64 * ratio / (n + k * h + j + 1) as f64;
        }
        p = ratio * (1.0 - p);
        if k == 0 {
            break;
        }
        k -= 1;
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that touch |x/m − y/n| ≥ h/lcm. Walks the
/// columns x = 0..=m keeping, for the band's cells only, q = 1 − (paths staying inside)/C(x+y, y);
/// q obeys the same recursion as the share itself, q(x, y) = (x q(x−1, y) + y q(x, y−1))/(x + y),
/// and is 1 outside the band.
fn outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m >= n { (m, n) } else { (n, m) };
    let (mg, ng) = (i128::from(m / g), i128::from(n / g));
    let (h, n_len) = (i128::from(h), n as usize + 1);
    // Cells never written are outside every band seen so far: 1.
    let mut q = vec![1.0f64; n_len];
    let first_hi = (ceil_div(h, mg) as usize).min(n_len);
    for cell in &mut q[..first_hi] {
        *cell = 0.0;
    }
    let (mut lo, mut hi) = (0usize, first_hi);
    for x in 1..=m {
        let xi = i128::from(x);
        lo = ((floor_div(ng * xi - h, mg) + 1).max(0) as usize).min(n as usize);
        hi = (ceil_div(ng * xi + h, mg) as usize).min(n_len);
        if hi <= lo {
            return 1.0;
        }
        let xf = x as f64;
        let mut below = if lo == 0 { 0.0 } else { 1.0 };
        for (y, cell) in q.iter_mut().enumerate().take(hi).skip(lo) {
            let yf = y as f64;
            below = (*cell * xf + below * yf) / (xf + yf);
            *cell = below;
        }
    }
    let _ = lo;
    q[hi - 1]
}

fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    -((-a).div_euclid(b))
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
    }

    // scipy.stats.ks_2samp(a, b) with SciPy 1.17.1.
    #[test]
    fn exact_equal_sizes() {
        let r = ks_sorted(&[1., 2., 3., 4., 5.], &[3., 4., 5., 6., 7.]);
        assert_eq!(r.mode, KsMode::Exact);
        assert!(close(r.statistic, 0.4), "{r:?}");
        assert!(close(r.p_value, 0.873_015_873_015_873), "{r:?}");
    }

    #[test]
    fn exact_unequal_sizes() {
        let r = ks_sorted(&[1., 2., 3., 4., 5.], &sorted(&[3., 4., 5., 6., 7., 8.]));
        assert_eq!(r.mode, KsMode::Exact);
        assert!(close(r.statistic, 0.5), "{r:?}");
        assert!(close(r.p_value, 0.357_142_857_142_857_15), "{r:?}");
    }

    #[test]
    fn asymptotic_above_ten_thousand() {
        let a: Vec<f64> = (0..12_000).map(|i| f64::from(i) / 12_000.0).collect();
        let b: Vec<f64> = (0..3_000).map(|i| f64::from(i) / 3_000.0 + 0.03).collect();
        let r = ks_sorted(&a, &b);
        assert_eq!(r.mode, KsMode::Asymptotic);
        assert!(close(r.statistic, 0.030_083_333_333_333_35), "{r:?}");
        assert!(close(r.p_value, 0.025_440_316_895_805_28), "{r:?}");
    }

    #[test]
    fn identical_samples_have_p_one() {
        let a = [1., 2., 3.];
        let r = ks_sorted(&a, &a);
        assert!(close(r.statistic, 0.0) && close(r.p_value, 1.0), "{r:?}");
    }
}
