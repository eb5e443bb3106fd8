//! Drift statistics and decisions, computed the way Evidently 0.7 and SciPy compute them so the
//! numbers and the verdicts match (tests/live/drift_peers.rs checks them against both).
//!
//! # What is implemented, and where it was read
//!
//! From SciPy 1.17.1 (`scipy/stats/_stats_py.py` `ks_2samp`, `_compute_prob_outside_square`,
//! `_attempt_exact_2kssamp`; `scipy/stats/_stats_pythran.py` `_compute_outer_prob_inside_method`;
//! `scipy/stats/_ksstats.py` `_kolmogn`, `_kolmogn_DMTW`, `_kolmogn_PelzGood`; xsf
//! `include/xsf/cephes/kolmogorov.h` `_smirnov`), in [`ks`] and [`kolmogorov`]:
//!
//! * `ks_2samp(method="auto")`: exact when max(n₁, n₂) ≤ 10 000, else asymptotic. The asymptotic
//!   p-value is `kstwo.sf(D, round(n₁n₂/(n₁+n₂)))` — the exact one-sample distribution of D_n
//!   at the effective size, not `kstwobign` (the n → ∞ limit, used only by `method="asymp"`
//!   of the one-sample `kstest`).
//!
//! From Evidently 0.7.23 (`evidently/legacy/calculations/stattests/registry.py`
//! `_get_default_stattest`; `ks_stattest.py`, `wasserstein_distance_norm.py`, `jensenshannon.py`,
//! `chisquare_stattest.py`, `z_stattest.py`, `psi.py`, `utils.py` `get_binned_data`;
//! `evidently/legacy/calculations/data_drift.py` `get_one_column_drift`, `get_dataset_drift`;
//! `evidently/core/datasets.py` `infer_column_type`), in [`method`], [`column`], [`stattests`]:
//!
//! * missing values (and ±∞) are dropped before anything else; "reference rows" below are the
//!   reference's non-missing values;
//! * method choice: reference ≤ 1000 rows — numeric with more than 5 unique values (reference
//!   and current pooled) → `ks`; otherwise (numeric ≤ 5 unique, or categorical) → `chisquare`
//!   when more than 2 unique, `z` when 2 or fewer. Reference > 1000 rows — numeric with more
//!   than 5 unique → `wasserstein`, otherwise (numeric ≤ 5, or categorical) → `jensenshannon`;
//! * default thresholds: 0.05 for `ks`, `chisquare`, `z`; 0.1 for `wasserstein`,
//!   `jensenshannon`, `psi`;
//! * decisions: `ks` drifts when p ≤ threshold; `chisquare` and `z` when p < threshold;
//!   the distances when distance ≥ threshold. The score is the p-value or the distance;
//! * `wasserstein`: `wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)`;
//! * `jensenshannon` and `psi` bin as `get_binned_data`: a numeric column whose reference has
//!   more than 20 unique values gets Sturges bins over both samples pooled
//!   (`np.histogram_bin_edges(…, "sturges")`), shares = counts ÷ each sample's size; every other
//!   column gets one bin per value seen in either sample. PSI fills empty bins with 0.0001, or
//!   with the smallest occupied share ÷ 10⁶ when that is ≤ 0.0001; Jensen–Shannon fills
//!   nothing (`scipy.spatial.distance.jensenshannon`, natural log);
//! * `chisquare`: the current counts against the reference counts × n_cur/n_ref over the union
//!   of categories, `scipy.stats.chisquare`, k − 1 degrees of freedom;
//! * `z`: categories sorted, the first is 0 and all others 1; the two-proportion z and
//!   p = 2(1 − Φ(|z|)); p = 1 when both samples hold the same single value;
//! * dataset drift: drifted columns ÷ columns ≥ `drift_share` (default 0.5);
//! * column types (Evidently's `infer_column_type` on the reference): floats are numeric;
//!   integers are categorical when they have at most 10 unique values (and no missing value,
//!   which pandas would turn into floats), numeric otherwise; text is categorical.
//!
//! Beyond Evidently: samples may arrive binned ([`report_from_bins`], live histograms and
//! reference profiles, [`profile`]); PSI, Jensen–Shannon and chi-square are exact on such bins,
//! KS and Wasserstein are approximations there (see [`report_from_bins`]).

pub mod column;
pub mod engine;
pub mod kolmogorov;
pub mod ks;
pub mod live;
pub mod method;
pub mod profile;
pub mod stattests;
pub mod table;

use serde::{Deserialize, Serialize};

pub use self::{
    column::{Sample, Verdict, compare},
    engine::{ColumnDrift, DatasetDrift, DriftOptions, Missing, compare_tables},
    method::{Kind, Method},
    stattests::histogram,
};
use crate::error::CoreError;

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

/// The statistics of one numeric feature, reference versus current (the live Drift view).
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

/// Every statistic of a numeric feature; the status is the verdict of the method Evidently
/// would choose (KS p ≤ 0.05 up to 1000 reference values, normed Wasserstein ≥ 0.1 above, the
/// categorical tests for five or fewer unique values), a warning when PSI passes half its 0.1
/// threshold.
pub fn report(reference: &[f64], current: &[f64]) -> Result<DriftReport, CoreError> {
    let a = finite_sorted("reference", reference)?;
    let b = finite_sorted("current", current)?;
    let k = ks::ks_sorted(&a, &b);
    let ks = Ks {
        statistic: k.statistic,
        p_value: k.p_value,
    };
    let (r, c) = (Sample::Numeric(a.clone()), Sample::Numeric(b.clone()));
    let psi = compare(&r, &c, Some(Method::Psi), None)?.score;
    let js_distance = compare(&r, &c, Some(Method::JensenShannon), None)?.score;
    let wasserstein_normed = stattests::wasserstein_normed_sorted(&a, &b);
    let unique = column::distinct_up_to(a.iter().chain(&b), method::FEW_VALUES + 1);
    let drifted = match Method::choose(Kind::Numeric, a.len(), unique) {
        Method::Ks => Method::Ks.drifted(ks.p_value, Method::Ks.default_threshold()),
        Method::Wasserstein => Method::Wasserstein.drifted(wasserstein_normed, 0.1),
        other => compare(&r, &c, Some(other), None)?.drifted,
    };
    Ok(DriftReport {
        ks,
        psi,
        js_distance,
        wasserstein_normed,
        reference_len: a.len(),
        current_len: b.len(),
        status: status_of(drifted, psi),
    })
}

fn finite_sorted(name: &str, data: &[f64]) -> Result<Vec<f64>, CoreError> {
    finite(name, data)?;
    Ok(column::sorted_copy(data))
}

/// The drift statistics of two count vectors over the same bins — e.g. Prometheus histogram
/// buckets, or a reference profile's quantile bins. PSI and Jensen–Shannon are exact on the
/// bins; KS is measured at the bin bounds (a lower bound of the raw-sample statistic) with the
/// p-value `ks_2samp` would give that statistic and these counts (exact up to 10 000 whole
/// counts, else asymptotic); Wasserstein puts each bin's mass at its midpoint (approximate).
pub fn report_from_bins(
    edges: &[f64],
    reference: &[f64],
    current: &[f64],
) -> Result<DriftReport, CoreError> {
    binned(edges, reference, current, true)
}

/// The status [`report_from_bins`] gives these counts, without what deciding it does not need:
/// the KS p-value (exact, and costly, up to 10 000 counts) is only computed where the method is
/// KS — for every window of a drift history.
pub fn status_from_bins(
    edges: &[f64],
    reference: &[f64],
    current: &[f64],
) -> Result<DriftStatus, CoreError> {
    binned(edges, reference, current, false).map(|r| r.status)
}

/// The binned statistics; without `p_value`, the KS p-value is NaN unless the decision needs it.
fn binned(
    edges: &[f64],
    reference: &[f64],
    current: &[f64],
    p_value: bool,
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
    let reference_len = n.round() as usize;
    let ks = Ks {
        statistic: d,
        p_value: if p_value || reference_len <= method::SMALL_REFERENCE {
            ks::p_value(d, n, m)
        } else {
            f64::NAN
        },
    };
    let js_distance = stattests::jensen_shannon_of_shares(
        &stattests::shares(reference),
        &stattests::shares(current),
    );

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
    let wasserstein_normed = w1 / var.sqrt().max(stattests::WASSERSTEIN_MIN_NORM);

    let drifted = if reference_len <= method::SMALL_REFERENCE {
        Method::Ks.drifted(ks.p_value, Method::Ks.default_threshold())
    } else {
        Method::Wasserstein.drifted(wasserstein_normed, Method::Wasserstein.default_threshold())
    };
    Ok(DriftReport {
        ks,
        psi,
        js_distance,
        wasserstein_normed,
        reference_len,
        current_len: m.round() as usize,
        status: status_of(drifted, psi),
    })
}

/// Drifted by the chosen method; otherwise a warning when PSI passes half its 0.1 threshold.
fn status_of(drifted: bool, psi: f64) -> DriftStatus {
    if drifted {
        DriftStatus::Drifted
    } else if psi >= 0.05 {
        DriftStatus::Warning
    } else {
        DriftStatus::Ok
    }
}

/// The asymptotic two-sided p-value of a KS statistic `d` for samples of sizes `n` and `m`, as
/// SciPy's `ks_2samp` computes it above 10 000 values.
pub fn ks_p_value(d: f64, n: f64, m: f64) -> f64 {
    ks::asymptotic_p(d, n, m)
}

/// Two-sample Kolmogorov–Smirnov test, two-sided, as `scipy.stats.ks_2samp`.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<Ks, CoreError> {
    let a = finite_sorted("reference", a)?;
    let b = finite_sorted("current", b)?;
    let k = ks::ks_sorted(&a, &b);
    Ok(Ks {
        statistic: k.statistic,
        p_value: k.p_value,
    })
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

/// PSI from two already-binned count vectors of the same bins (e.g. Prometheus histograms),
/// empty bins filled as Evidently fills them.
pub fn psi_from_counts(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    if reference.len() != current.len() || reference.is_empty() {
        return Err(CoreError::Statistics(format!(
            "PSI needs the same non-empty bins: reference has {}, current has {}",
            reference.len(),
            current.len()
        )));
    }
    Ok(stattests::psi_of_counts(reference, current))
}

/// Population Stability Index as Evidently's `psi` test computes it on raw samples.
pub fn psi(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    finite("reference", reference)?;
    finite("current", current)?;
    Ok(compare(
        &Sample::Numeric(reference.to_vec()),
        &Sample::Numeric(current.to_vec()),
        Some(Method::Psi),
        None,
    )?
    .score)
}

/// Jensen–Shannon distance (natural log) as Evidently's `jensenshannon` test computes it.
pub fn jensen_shannon(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    finite("reference", reference)?;
    finite("current", current)?;
    Ok(compare(
        &Sample::Numeric(reference.to_vec()),
        &Sample::Numeric(current.to_vec()),
        Some(Method::JensenShannon),
        None,
    )?
    .score)
}

/// First Wasserstein distance between the two empirical distributions.
pub fn wasserstein(a: &[f64], b: &[f64]) -> Result<f64, CoreError> {
    let a = finite_sorted("reference", a)?;
    let b = finite_sorted("current", b)?;
    Ok(stattests::wasserstein_sorted(&a, &b))
}

/// Wasserstein distance ÷ max(the reference's population standard deviation, 0.001), as
/// Evidently's `wasserstein` test.
pub fn wasserstein_normed(reference: &[f64], current: &[f64]) -> Result<f64, CoreError> {
    let a = finite_sorted("reference", reference)?;
    let b = finite_sorted("current", current)?;
    Ok(stattests::wasserstein_normed_sorted(&a, &b))
}

/// A p-value as every table and detail writes it: three significant digits from 0.001 (`0.427`,
/// `1.00`, `0.00123`), two in exponent form under it (`8.1e-29`), and `<1e-300` below that,
/// where the number has underflowed to zero or nearly.
pub fn p_value_text(p: f64) -> String {
    if p.is_nan() {
        return "nan".into();
    }
    // Rounded to three significant digits first, so 0.9996 reads 1.00, not 1.000.
    let p = format!("{p:.2e}").parse::<f64>().unwrap_or(p);
    if p < 1e-300 {
        "<1e-300".into()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        let decimals = (2 - p.log10().floor() as i32).max(0);
        format!("{p:.*}", decimals as usize)
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;

    #[test]
    fn p_values_have_one_format() {
        assert_eq!(p_value_text(8.1e-29), "8.1e-29");
        assert_eq!(p_value_text(0.4271), "0.427");
        assert_eq!(p_value_text(1.0), "1.00");
        assert_eq!(p_value_text(0.9996), "1.00");
        assert_eq!(p_value_text(0.0), "<1e-300");
        assert_eq!(p_value_text(0.034_56), "0.0346");
        assert_eq!(p_value_text(0.001_234), "0.00123");
        assert_eq!(p_value_text(0.000_123_4), "1.2e-4");
        assert_eq!(p_value_text(f64::NAN), "nan");
    }

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
