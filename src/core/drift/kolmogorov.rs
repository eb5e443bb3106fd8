//! The Kolmogorov–Smirnov distributions that SciPy's `ks_2samp` draws its asymptotic p-value
//! from: the one-sample two-sided statistic D_n (SciPy's `kstwo`, `scipy/stats/_ksstats.py`
//! `_kolmogn`) and the one-sided D_n⁺ (`scipy.special.smirnov`, xsf `cephes/kolmogorov.h`).
//!
//! statrs has neither, so they are written here from the published algorithms, choosing between
//! them exactly where SciPy does (Simard & L'Ecuyer 2011), so the p-values agree:
//!
//! * n·x ≤ 1 and n·x ≥ n − 1: Ruben–Gambino closed forms;
//! * x ≥ 0.5: 2 × the one-sided tail (exact there);
//! * n ≤ 140: Durbin's matrix (Marsaglia–Tsang–Wang) for n·x² ≤ 4, else 2 × the one-sided tail;
//! * n > 140: for the survival function, 0 from n·x² ≥ 370, 2 × the one-sided tail from
//!   n·x² ≥ 2.2; below, 1 − CDF with the CDF from Durbin's matrix when n ≤ 100 000 and
//!   n·x^1.5 ≤ 1.4, else from the Pelz–Good expansion.
//!
//! SciPy uses Pomeranz's recursion for n ≤ 140 and 0.754693 < n·x² ≤ 4; Durbin's matrix is exact
//! there too (the two differ in rounding only), so one exact method serves both ranges.

use std::f64::consts::{LN_2, PI};

use statrs::function::factorial::{ln_binomial, ln_factorial};

/// `exp` of anything below this is 0 in f64 (xsf's `MINLOG`).
const MIN_LOG: f64 = -708.396_418_532_264_1;
/// Rescaling step for the matrix powers: 2^128.
const SCALE_EXP: i32 = 128;

/// P(D_n ≥ x): the survival function of the two-sided one-sample statistic (SciPy's
/// `kstwo.sf(x, n)`).
pub fn kstwo_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        // Ruben–Gambino: P(D_n ≤ x) = n!/n^n (2t − 1)^n for 1/2n ≤ x ≤ 1/n.
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 / nf) * (2.0 * t - 1.0))
        } else {
            (ln_factorial(n) - nf * nf.ln() + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 4.0 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if nx2 >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// P(D_n ≤ d) by Durbin's matrix method as Marsaglia, Tsang and Wang (2003) evaluate it: the
/// (k, k) entry of H^n times n!/n^n, with d = (k − h)/n. Exact; O(m³ log n) for m = 2k − 1.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nf = n as f64;
    let nd = nf * d;
    if d >= 1.0 {
        return 1.0;
    }
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    // First column v and the factorial reciprocals w.
    let mut v = vec![0.0; m];
    let mut w = vec![0.0; m];
    let mut inv_fact = 1.0;
    for j in 1..=m {
        w[j - 1] = inv_fact;
        inv_fact /= j as f64;
        v[j - 1] = (1.0 - h.powi(j as i32)) * inv_fact;
    }
    let corner = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + corner) * inv_fact;

    let mut hm = vec![0.0; m * m];
    for col in 1..m {
        for row in (col - 1)..m {
            hm[row * m + col] = w[row + 1 - col];
        }
    }
    for row in 0..m {
        hm[row * m] = v[row];
    }
    for col in 0..m {
        hm[(m - 1) * m + col] = v[m - 1 - col];
    }

    // H^n by squaring, each factor rescaled by 2^-128 when its (k, k) entry grows past 2^128.
    let centre = (k - 1) * m + (k - 1);
    let mut power = identity(m);
    let mut power_exp: i64 = 0;
    let mut base_exp: i64 = 0;
    let mut e = n;
    let big = 2f64.powi(SCALE_EXP);
    while e > 0 {
        if e & 1 == 1 {
            power = matmul(&power, &hm, m);
            power_exp += base_exp;
            if power[centre].abs() > big {
                scale(&mut power, SCALE_EXP);
                power_exp += i64::from(SCALE_EXP);
            }
        }
        e >>= 1;
        if e > 0 {
            hm = matmul(&hm, &hm, m);
            base_exp *= 2;
            if hm[centre].abs() > big {
                scale(&mut hm, SCALE_EXP);
                base_exp += i64::from(SCALE_EXP);
            }
        }
    }
    let mut p = power[centre];
    // Times n!/n^n, one factor at a time, keeping p in range.
    let small = 2f64.powi(-SCALE_EXP);
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < small {
            p *= big;
            power_exp -= i64::from(SCALE_EXP);
        }
    }
    let p = if power_exp == 0 {
        p
    } else {
        ldexp(p, power_exp)
    };
    clip(p)
}

fn identity(m: usize) -> Vec<f64> {
    let mut a = vec![0.0; m * m];
    for i in 0..m {
        a[i * m + i] = 1.0;
    }
    a
}

fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for l in 0..m {
            let x = a[i * m + l];
            if x == 0.0 {
                continue;
            }
            let row = &b[l * m..(l + 1) * m];
            for (cj, bj) in c[i * m..(i + 1) * m].iter_mut().zip(row) {
                *cj += x * bj;
            }
        }
    }
    c
}

fn scale(a: &mut [f64], exp: i32) {
    let f = 2f64.powi(-exp);
    for x in a {
        *x *= f;
    }
}

/// x · 2^e without overflowing the intermediate power.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

/// The Pelz–Good (1976) approximation of P(D_n ≤ x): the Li-Chien/Korolyuk expansion in
/// 1/√n, each term rewritten with Jacobi theta functions so it converges for small z = x√n.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);

    // Σ over odd m = 2k − 1 of c(m) q^(m²), by Horner in q^(8k).
    let maxk = (16.0 * z / PI).ceil() as u32;
    let mut terms = [0.0f64; 4];
    for k in (1..=maxk).rev() {
        let m = f64::from(2 * k - 1);
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(f64::from(8 * k));
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (t, c) in terms.iter_mut().zip(coeffs) {
            *t = *t * qpower + c;
        }
    }
    let root_2pi = (2.0 * PI).sqrt();
    let divisors = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (t, d) in terms.iter_mut().zip(divisors) {
        *t = *t * q * root_2pi / d;
    }
    // The sums over all integers k in K2 and K3.
    let q = (-pi2 / 2.0 / z2).exp();
    let root3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let kf = f64::from(k);
        let k2 = kf * kf;
        let qk = q.powf(k2);
        k2extra += k2 * qk;
        let kpi = PI * kf;
        k3extra += (root3z + kpi) * (root3z - kpi) * k2 * qk;
    }
    terms[2] += k2extra * pi2 * root_2pi / (-36.0 * z3);
    terms[3] += k3extra * pi2 * root_2pi / (216.0 * z6);
    terms
        .iter()
        .enumerate()
        .map(|(i, t)| t / nf.powf(i as f64 / 2.0))
        .sum()
}

#[allow(clippy::float_cmp)] // exact: n·x on a whole number is xsf's own special case
/// P(D_n⁺ ≥ x): the one-sided Smirnov statistic's survival function (SciPy's
/// `scipy.special.smirnov(n, x)`), by the Birnbaum–Tingey sum
/// x Σ_{v=0}^{⌊n(1−x)⌋} C(n, v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v), each term in logarithms.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() || !(0.0..=1.0).contains(&x) || n == 0 {
        return f64::NAN;
    }
    let nf = n as f64;
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nx = nf * x;
    let nx_floor = nx.floor();
    let alpha = nx - nx_floor;
    // x ≤ 1/n: P(D⁺ < x) = x (1 + x)^(n−1).
    if nx_floor == 0.0 || (nx_floor == 1.0 && alpha == 0.0) {
        return clip(1.0 - x * (1.0 + x).powf(nf - 1.0));
    }
    if -2.0 * nf * x * x < MIN_LOG {
        return 0.0;
    }
    if nx_floor >= nf - 1.0 {
        return clip((1.0 - x).powf(nf));
    }
    if n > 1_000_000 {
        // xsf's approximation for n too large to sum: e^(−(6nx+1)²/18n).
        return clip((-(6.0 * nx + 1.0).powi(2) / 18.0 / nf).exp());
    }
    // Terms while 1 − x − v/n > 0.
    let last = n - nx_floor as u64 - 1;
    let ln_x = x.ln();
    let mut sum = 0.0;
    let mut largest = f64::NEG_INFINITY;
    for v in 0..=last {
        let vf = v as f64;
        let rest = (nf - vf - nx_floor - alpha) / nf; // 1 − x − v/n
        if rest <= 0.0 {
            break;
        }
        let ln_term = ln_binomial(n, v) + (vf - 1.0) * (x + vf / nf).ln() + (nf - vf) * rest.ln();
        largest = largest.max(ln_term);
        let term = (ln_term + ln_x).exp();
        sum += term;
        // Past the peak the terms only fall; stop once they cannot change the sum.
        if ln_term < largest - 40.0 * LN_2 && term < f64::EPSILON * sum * 1e-3 {
            break;
        }
    }
    clip(sum)
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    // Reference values from SciPy 1.17.1: scipy.stats.kstwo.sf(x, n), scipy.special.smirnov(n, x).
    #[test]
    fn smirnov_matches_scipy() {
        for (n, x, want) in [
            (10, 0.3, 0.135_463_555_6),
            (100, 0.1, 0.126_590_658_456_281_7),
            (1000, 0.05, 0.006_506_037_390_545_166),
        ] {
            let got = smirnov_sf(n, x);
            assert!(
                rel(got, want) < 1e-9,
                "smirnov({n}, {x}) = {got}, scipy {want}"
            );
        }
    }

    #[test]
    fn kstwo_matches_scipy_in_each_regime() {
        for (n, x, want) in [
            (5, 0.15, 0.9988),                          // n x ≤ 1: Ruben–Gambino
            (5, 0.19, 0.977_325_184),                   // Durbin, n ≤ 140
            (50, 0.1, 0.662_311_270_465_818_6),         // Durbin (SciPy: Pomeranz)
            (50, 0.2, 0.031_438_777_769_532_41),        // Durbin (SciPy: Pomeranz)
            (50, 0.3, 0.000_173_532_602_027_187_38),    // 2 × smirnov, n ≤ 140
            (500, 0.05, 0.158_662_602_238_153_87),      // Durbin, n > 140
            (500, 0.08, 0.003_130_505_819_935_626_8),   // 2 × smirnov
            (200_000, 0.002, 0.399_950_853_690_380_97), // Pelz–Good
            (200_000, 0.0005, 0.999_999_999_766_341),   // Pelz–Good, tiny D
        ] {
            let got = kstwo_sf(n, x);
            assert!(
                rel(got, want) < 1e-9,
                "kstwo.sf({x}, {n}) = {got}, scipy {want}"
            );
        }
    }
}
