//! One column's drift: its values (numbers, or counts per category — missing values already
//! set aside), the method Evidently would choose for it, and the verdict.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    ks::ks_sorted,
    method::{Kind, Method},
    stattests::{
        chisquare, fill_empty, histogram, jensen_shannon_of_shares, psi_of_shares, sturges_edges,
        wasserstein_normed_unsorted, z_test,
    },
};
use crate::error::CoreError;

/// Evidently bins a numeric column for PSI and Jensen–Shannon only when its reference has more
/// than this many unique values; otherwise each value is its own bin.
pub const BINNED_ABOVE_UNIQUE: usize = 20;

/// A column's non-missing values.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// Finite numbers, in any order.
    Numeric(Vec<f64>),
    /// How often each category occurs.
    Categorical(BTreeMap<String, u64>),
}

impl Sample {
    pub fn kind(&self) -> Kind {
        match self {
            Sample::Numeric(_) => Kind::Numeric,
            Sample::Categorical(_) => Kind::Categorical,
        }
    }

    /// Non-missing values.
    pub fn len(&self) -> usize {
        match self {
            Sample::Numeric(v) => v.len(),
            Sample::Categorical(c) => c.values().sum::<u64>() as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Categories from numbers, for a numeric column compared as categories.
    pub fn categories_of(values: &[f64]) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for v in values {
            *counts.entry(format_number(*v)).or_insert(0) += 1;
        }
        counts
    }
}

/// A number as a category label: integers without a fraction, others in the shortest form
/// that reads back the same.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The outcome of one method on one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub method: Method,
    /// The method's statistic: D for KS, χ² for chi-square, z for the Z-test, the distance for
    /// the distances.
    pub statistic: f64,
    /// What the threshold is compared with: the p-value of a test, the distance itself.
    pub score: f64,
    pub threshold: f64,
    pub drifted: bool,
}

/// Compare `current` with `reference` by `method` (Evidently's default when `None`) at
/// `threshold` (the method's default when `None`).
pub fn compare(
    reference: &Sample,
    current: &Sample,
    method: Option<Method>,
    threshold: Option<f64>,
) -> Result<Verdict, CoreError> {
    if reference.is_empty() || current.is_empty() {
        let which = if reference.is_empty() {
            "reference"
        } else {
            "current"
        };
        return Err(CoreError::Statistics(format!(
            "no values in the {which} sample"
        )));
    }
    let (statistic, score, method) = match (reference, current) {
        (Sample::Numeric(r), Sample::Numeric(c)) => numeric(r, c, method)?,
        (Sample::Categorical(r), Sample::Categorical(c)) => {
            let pooled = pool(r, c);
            let method = method.unwrap_or_else(|| {
                Method::choose(Kind::Categorical, reference.len(), pooled.len())
            });
            if !method.accepts(Kind::Categorical) {
                return Err(CoreError::Statistics(method.refusal(Kind::Categorical)));
            }
            let (s, p) = on_counts(method, &pooled);
            (s, p, method)
        }
        _ => {
            return Err(CoreError::Statistics(format!(
                "the reference is {}, the current sample {}",
                reference.kind(),
                current.kind()
            )));
        }
    };
    let threshold = threshold.unwrap_or_else(|| method.default_threshold());
    Ok(Verdict {
        method,
        statistic,
        score,
        threshold,
        drifted: method.drifted(score, threshold),
    })
}

/// Per category (sorted the way Evidently's Z-test sorts them: as numbers when every label is
/// one), the reference's and the current count.
type Pooled = Vec<(f64, f64)>;

fn pool(r: &BTreeMap<String, u64>, c: &BTreeMap<String, u64>) -> Pooled {
    let mut keys: Vec<&String> = r.keys().chain(c.keys()).collect();
    keys.sort();
    keys.dedup();
    let numbers: Option<Vec<f64>> = keys.iter().map(|k| k.trim().parse().ok()).collect();
    let mut rows: Vec<(&String, Option<f64>)> = match numbers {
        Some(n) => keys.into_iter().zip(n.into_iter().map(Some)).collect(),
        None => keys.into_iter().map(|k| (k, None)).collect(),
    };
    rows.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.0.cmp(b.0),
    });
    rows.into_iter()
        .map(|(k, _)| {
            (
                r.get(k).copied().unwrap_or(0) as f64,
                c.get(k).copied().unwrap_or(0) as f64,
            )
        })
        .collect()
}

/// A count-based method on pooled category counts: (statistic, score).
fn on_counts(method: Method, pooled: &Pooled) -> (f64, f64) {
    let reference: Vec<f64> = pooled.iter().map(|p| p.0).collect();
    let current: Vec<f64> = pooled.iter().map(|p| p.1).collect();
    let (n_ref, n_cur): (f64, f64) = (reference.iter().sum(), current.iter().sum());
    match method {
        Method::ChiSquare => chisquare(&reference, &current),
        Method::Z => {
            let single = |v: &[f64]| v.iter().filter(|c| **c > 0.0).count() == 1;
            let same_single = single(&reference)
                && single(&current)
                && reference.iter().position(|c| *c > 0.0) == current.iter().position(|c| *c > 0.0);
            if same_single {
                return (0.0, 1.0);
            }
            // The first category is 0, every other 1.
            let (r_first, c_first) = pooled.first().copied().unwrap_or((0.0, 0.0));
            z_test(n_ref - r_first, n_ref, n_cur - c_first, n_cur)
        }
        Method::JensenShannon => {
            let d = jensen_shannon_of_shares(&divide(&reference, n_ref), &divide(&current, n_cur));
            (d, d)
        }
        Method::Psi | Method::Ks | Method::Wasserstein => {
            let (mut r, mut c) = (divide(&reference, n_ref), divide(&current, n_cur));
            fill_empty(&mut r);
            fill_empty(&mut c);
            let d = psi_of_shares(&r, &c);
            (d, d)
        }
    }
}

fn divide(counts: &[f64], total: f64) -> Vec<f64> {
    counts.iter().map(|c| c / total).collect()
}

/// The widest span of values the moment and bin methods (Wasserstein's standard deviation,
/// Sturges bins) can take: beyond it a square overflows to ∞ and the score would be 0 or NaN,
/// "ok" for the wrong reason.
pub const WIDEST_SPAN: f64 = 1e150;

/// The span of `values` in words when it is wider than [`WIDEST_SPAN`].
pub fn too_wide<'a>(values: impl Iterator<Item = &'a f64>) -> Option<String> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    let span = hi - lo;
    // Wider, or not a number at all (∞ − ∞).
    let wide = matches!(
        span.partial_cmp(&WIDEST_SPAN),
        Some(std::cmp::Ordering::Greater) | None
    );
    (lo <= hi && wide).then(|| format!("values from {lo:e} to {hi:e}"))
}

/// Whether `method` squares or bins the values (and so overflows on too wide a span).
pub fn needs_moderate_span(method: Method) -> bool {
    matches!(
        method,
        Method::Wasserstein | Method::Psi | Method::JensenShannon
    )
}

fn numeric(r: &[f64], c: &[f64], method: Option<Method>) -> Result<(f64, f64, Method), CoreError> {
    let wide = || too_wide(r.iter().chain(c));
    let method = match method {
        Some(m) if !m.accepts(Kind::Numeric) => {
            return Err(CoreError::Statistics(m.refusal(Kind::Numeric)));
        }
        Some(m)
            if needs_moderate_span(m)
                && let Some(span) = wide() =>
        {
            return Err(CoreError::Statistics(format!(
                "{span}: too wide for {m} (its arithmetic overflows); compare it with \
                 --method ks, which only ranks the values"
            )));
        }
        Some(m) => m,
        None => {
            let unique = distinct_up_to(r.iter().chain(c), super::method::FEW_VALUES + 1);
            match Method::choose(Kind::Numeric, r.len(), unique) {
                // Evidently's choice would overflow: KS ranks, and the note says so.
                m if needs_moderate_span(m) && wide().is_some() => Method::Ks,
                m => m,
            }
        }
    };
    let sorted = sorted_copy;
    Ok(match method {
        Method::Ks => {
            let ks = ks_sorted(&sorted(r), &sorted(c));
            (ks.statistic, ks.p_value, method)
        }
        Method::Wasserstein => {
            let d = wasserstein_normed_unsorted(r, c);
            (d, d, method)
        }
        Method::JensenShannon | Method::Psi
            if distinct_up_to(r.iter(), BINNED_ABOVE_UNIQUE + 1) > BINNED_ABOVE_UNIQUE =>
        {
            // Sturges bins over both samples, shares of each sample's length.
            let edges = sturges_edges(r, c);
            let (hr, hc) = (histogram(r, &edges), histogram(c, &edges));
            let (mut sr, mut sc) = (divide(&hr, r.len() as f64), divide(&hc, c.len() as f64));
            let d = if method == Method::Psi {
                fill_empty(&mut sr);
                fill_empty(&mut sc);
                psi_of_shares(&sr, &sc)
            } else {
                jensen_shannon_of_shares(&sr, &sc)
            };
            (d, d, method)
        }
        Method::JensenShannon | Method::Psi | Method::ChiSquare | Method::Z => {
            let (s, p) = on_counts(method, &pool_numbers(&sorted(r), &sorted(c)));
            (s, p, method)
        }
    })
}

/// `values` sorted ascending (no NaN: missing values were dropped before).
pub fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// Counts per distinct value of two sorted samples, in ascending order of value.
fn pool_numbers(r: &[f64], c: &[f64]) -> Pooled {
    let (mut i, mut j) = (0usize, 0usize);
    let mut out = Vec::new();
    while i < r.len() || j < c.len() {
        let x = match (r.get(i), c.get(j)) {
            (Some(a), Some(b)) => a.min(*b),
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while i < r.len() && r[i] <= x {
            i += 1;
        }
        while j < c.len() && c[j] <= x {
            j += 1;
        }
        out.push(((i - i0) as f64, (j - j0) as f64));
    }
    out
}

/// The number of distinct values, counting no further than `cap`.
#[allow(clippy::float_cmp)] // exact: distinct values are distinct bit for bit (bar ±0)
pub fn distinct_up_to<'a>(values: impl Iterator<Item = &'a f64>, cap: usize) -> usize {
    let mut seen: Vec<f64> = Vec::with_capacity(cap);
    for v in values {
        if !seen.iter().any(|s| s == v) {
            seen.push(*v);
            if seen.len() >= cap {
                break;
            }
        }
    }
    seen.len()
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;

    fn cats(pairs: &[(&str, u64)]) -> Sample {
        Sample::Categorical(pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect())
    }

    #[test]
    fn small_numeric_gets_ks() {
        let r: Vec<f64> = (0..100).map(f64::from).collect();
        let c: Vec<f64> = (0..100).map(|i| f64::from(i) + 30.0).collect();
        let v = compare(&Sample::Numeric(r), &Sample::Numeric(c), None, None).expect("ks");
        assert_eq!(v.method, Method::Ks);
        assert!((v.statistic - 0.3).abs() < 1e-12 && v.drifted, "{v:?}");
    }

    #[test]
    fn binary_numeric_gets_z_and_categories_chisquare() {
        let r = Sample::Numeric([0.0; 70].iter().chain(&[1.0; 30]).copied().collect());
        let c = Sample::Numeric([0.0; 55].iter().chain(&[1.0; 45]).copied().collect());
        let v = compare(&r, &c, None, None).expect("z");
        assert_eq!(v.method, Method::Z);
        // statrs' erfc is good to ~1e-10 relative here; SciPy's p-value is 0.02845973691631065.
        assert!((v.score - 0.028_459_736_916_310_65).abs() < 1e-11, "{v:?}");
        let v = compare(
            &cats(&[("a", 40), ("b", 40), ("c", 20)]),
            &cats(&[("a", 30), ("b", 50), ("c", 20)]),
            None,
            None,
        )
        .expect("chi");
        assert_eq!(v.method, Method::ChiSquare);
        assert!((v.score - 0.082_084_998_623_898_8).abs() < 1e-12 && !v.drifted);
    }

    #[test]
    fn same_single_category_has_p_one() {
        let v = compare(&cats(&[("x", 5)]), &cats(&[("x", 9)]), None, None).expect("z");
        assert_eq!((v.method, v.score, v.drifted), (Method::Z, 1.0, false));
    }

    #[test]
    fn numeric_methods_refuse_categories() {
        let err = compare(
            &cats(&[("a", 1)]),
            &cats(&[("a", 1)]),
            Some(Method::Ks),
            None,
        )
        .expect_err("ks on categories");
        assert!(err.to_string().contains("ks needs numbers"), "{err}");
        let n = Sample::Numeric(vec![1.0, 2.0]);
        let err = compare(&n, &n, Some(Method::ChiSquare), None).expect_err("chi on numbers");
        assert!(
            err.to_string().contains("chisquare compares categories"),
            "{err}"
        );
    }
}
