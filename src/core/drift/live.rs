//! Canary against stable on live histograms: per feature, the canary track's bucket counts
//! against the stable track's over the same window (PSI, the stable track the reference) — the
//! drift metric of a rollout's analysis (`MetricKind::Drift`).

use std::collections::BTreeMap;

use crate::error::CoreError;

/// One cumulative bucket of a feature-value histogram (`model_feature_value_bucket`): the
/// observations of `feature` at or below `le`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub feature: String,
    pub le: f64,
    pub cumulative: f64,
}

impl Bucket {
    /// A bucket from one series of a histogram query (labels `feature` and `le`, `+Inf` for the
    /// last) and its value; `None` when a label is missing or `le` is not a number.
    pub fn from_series(labels: &BTreeMap<String, String>, cumulative: f64) -> Option<Self> {
        Some(Self {
            feature: labels.get("feature")?.clone(),
            le: labels.get("le")?.parse().ok()?,
            cumulative,
        })
    }
}

/// Per feature, bin counts from cumulative buckets sorted by bound; a bucket a hair below the
/// one before it (`increase()` extrapolates) counts as zero. A count that is not one (NaN,
/// infinite, negative) leaves its feature out.
fn bins(buckets: &[Bucket]) -> BTreeMap<String, (Vec<f64>, Vec<f64>)> {
    let mut by_feature: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut bad = std::collections::BTreeSet::new();
    for b in buckets {
        if b.le.is_nan() || !b.cumulative.is_finite() || b.cumulative < 0.0 {
            bad.insert(b.feature.clone());
            continue;
        }
        by_feature
            .entry(b.feature.clone())
            .or_default()
            .push((b.le, b.cumulative));
    }
    by_feature
        .into_iter()
        .filter(|(f, _)| !bad.contains(f))
        .map(|(f, mut c)| {
            c.sort_by(|a, b| a.0.total_cmp(&b.0));
            let bounds = c.iter().map(|b| b.0).collect();
            let mut prev = 0.0_f64;
            let counts = c
                .iter()
                .map(|&(_, v)| {
                    let n = (v - prev).max(0.0);
                    prev = prev.max(v);
                    n
                })
                .collect();
            (f, (bounds, counts))
        })
        .collect()
}

/// A reference profile's numeric column spread over a live histogram's buckets: each profile
/// bin's count laid evenly over its range (a bin of one value, at that value), summed per
/// bucket — bucket `j` holds what lies in (`bounds[j-1]`, `bounds[j]`], the last bucket
/// (`+Inf`) everything above the last bound. `bounds` are the finite upper bounds, ascending.
/// `None` for a column without bins (categorical) or with edges and counts that disagree.
pub fn rebin(column: &super::profile::ColumnProfile, bounds: &[f64]) -> Option<Vec<f64>> {
    let (edges, counts) = (&column.edges, &column.counts);
    if counts.is_empty()
        || edges.len() != counts.len() + 1
        || edges.windows(2).any(|w| w[1] < w[0] || w[0].is_nan())
        || bounds.windows(2).any(|w| w[1] <= w[0])
    {
        return None;
    }
    let mut out = vec![0.0; bounds.len() + 1];
    // The share of [lo, hi] at or below x.
    let below = |lo: f64, hi: f64, x: f64| {
        if hi <= lo {
            if x >= lo { 1.0 } else { 0.0 }
        } else {
            ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
        }
    };
    for (i, &n) in counts.iter().enumerate() {
        let (lo, hi) = (edges[i], edges[i + 1]);
        let n = n as f64;
        let mut before = 0.0;
        for (j, &b) in bounds.iter().enumerate() {
            let upto = below(lo, hi, b);
            out[j] += n * (upto - before);
            before = upto;
        }
        out[bounds.len()] += n * (1.0 - before);
    }
    Some(out)
}

/// The fewest observations of a feature on each track before it is compared: below that, PSI
/// measures the sample's noise (about bins ÷ observations), not drift.
pub const MIN_OBSERVATIONS: f64 = 200.0;

/// The largest PSI, over the features both tracks report with the same buckets and at least
/// [`MIN_OBSERVATIONS`] each, of the canary's distribution against the stable's; and that
/// feature. `None` when no feature can be compared yet (too little traffic on a track).
pub fn canary_vs_stable(
    canary: &[Bucket],
    stable: &[Bucket],
) -> Result<Option<(String, f64)>, CoreError> {
    let canary = bins(canary);
    let stable = bins(stable);
    let mut worst: Option<(String, f64)> = None;
    for (feature, (bounds, reference)) in &stable {
        let Some((canary_bounds, current)) = canary.get(feature) else {
            continue;
        };
        if canary_bounds != bounds || !comparable(reference, current) {
            continue;
        }
        let psi = super::psi_from_counts(reference, current)?;
        if worst.as_ref().is_none_or(|(_, w)| psi > *w) {
            worst = Some((feature.clone(), psi));
        }
    }
    Ok(worst)
}

/// Enough observations on both tracks to compare them: at least [`MIN_OBSERVATIONS`] each.
pub fn comparable(stable: &[f64], canary: &[f64]) -> bool {
    stable.iter().sum::<f64>() >= MIN_OBSERVATIONS && canary.iter().sum::<f64>() >= MIN_OBSERVATIONS
}

/// What a canary-vs-stable drift row says it was compared with: `stable v3` (the versions on
/// the stable track, most observed first).
pub fn stable_reference(versions: &[u32]) -> String {
    if versions.is_empty() {
        return "stable".into();
    }
    let listed: Vec<String> = versions.iter().map(|v| format!("v{v}")).collect();
    format!("stable {}", listed.join(","))
}

/// One feature of a model's canary track against its stable track over the same window: the
/// stable's histogram the reference, the canary's the current — the measure a rollout's drift
/// check gates on, as a drift row (`reference` says `stable vN`) with the full report, for the
/// Drift view, the Overview's alerts and `mlops drift live`.
#[derive(Debug, Clone)]
pub struct TrackWindow {
    pub model: String,
    pub feature: String,
    /// The version on the canary track.
    pub canary_version: u32,
    /// The versions on the stable track, most observed first.
    pub stable_versions: Vec<u32>,
    /// Bin edges (one more than the counts).
    pub edges: Vec<f64>,
    pub stable_counts: Vec<f64>,
    pub canary_counts: Vec<f64>,
    /// PSI of the canary against the stable in recent windows, oldest first.
    pub psi_history: Vec<f64>,
    /// The status of the earlier windows, oldest first; the current window's is appended.
    pub status_history: Vec<super::DriftStatus>,
}

impl TrackWindow {
    /// The drift row; `None` while either track has too few observations to compare
    /// ([`MIN_OBSERVATIONS`]) or the bins do not fit the edges.
    pub fn into_drift(self) -> Option<crate::model::FeatureDrift> {
        if !comparable(&self.stable_counts, &self.canary_counts) {
            return None;
        }
        let report =
            super::report_from_bins(&self.edges, &self.stable_counts, &self.canary_counts).ok()?;
        let mut status_history = self.status_history;
        status_history.push(report.status);
        Some(crate::model::FeatureDrift {
            status_history,
            reference: stable_reference(&self.stable_versions),
            model: self.model,
            version: self.canary_version,
            feature: self.feature,
            report,
            edges: self.edges,
            reference_counts: self.stable_counts,
            current_counts: self.canary_counts,
            psi_history: self.psi_history,
            window_seconds: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(feature: &str, counts: &[f64]) -> Vec<Bucket> {
        let mut cum = 0.0;
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cum += c;
                Bucket {
                    feature: feature.into(),
                    le: if i + 1 == counts.len() {
                        f64::INFINITY
                    } else {
                        i as f64
                    },
                    cumulative: cum,
                }
            })
            .collect()
    }

    fn column(edges: &[f64], counts: &[u64]) -> crate::drift::profile::ColumnProfile {
        crate::drift::profile::ColumnProfile {
            column: "amount".into(),
            kind: crate::drift::method::Kind::Numeric,
            rows: usize::try_from(counts.iter().sum::<u64>()).expect("small"),
            missing: 0,
            unique: 100,
            edges: edges.to_vec(),
            counts: counts.to_vec(),
            categories: BTreeMap::new(),
        }
    }

    #[test]
    fn a_profile_is_spread_over_live_buckets_keeping_every_count() {
        // Bins [0,10) 100, [10,20) 300; buckets ≤5, ≤10, ≤15, +Inf.
        let c = column(&[0.0, 10.0, 20.0], &[100, 300]);
        let r = rebin(&c, &[5.0, 10.0, 15.0]).expect("numeric");
        let want = [50.0, 50.0, 150.0, 150.0];
        assert!(
            r.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9),
            "{r:?}"
        );
        // Buckets beyond the profile's range get nothing; the total is kept.
        let r = rebin(&c, &[-5.0, 30.0]).expect("numeric");
        assert!((r[0]).abs() < 1e-9 && (r[1] - 400.0).abs() < 1e-9 && r[2].abs() < 1e-9);
        // A bin of one value sits at that value.
        let r = rebin(&column(&[3.0, 3.0, 5.0], &[10, 10]), &[3.0, 4.0]).expect("numeric");
        assert!(
            (r[0] - 10.0).abs() < 1e-9 && (r[1] - 5.0).abs() < 1e-9,
            "{r:?}"
        );
        // Edges and counts that disagree, or a categorical column: no bins.
        assert!(rebin(&column(&[0.0, 1.0], &[1, 2]), &[0.5]).is_none());
        assert!(rebin(&column(&[], &[]), &[0.5]).is_none());
    }

    #[test]
    fn the_feature_that_drifted_most_is_named_with_its_psi() {
        let stable = [
            hist("amount", &[100.0, 400.0, 400.0, 100.0]),
            hist("age", &[250.0; 4]),
        ]
        .concat();
        let canary = [
            hist("amount", &[400.0, 400.0, 100.0, 100.0]),
            hist("age", &[250.0; 4]),
        ]
        .concat();
        let (feature, psi) = canary_vs_stable(&canary, &stable)
            .expect("computed")
            .expect("a feature");
        assert_eq!(feature, "amount");
        let want = crate::drift::psi_from_counts(
            &[100.0, 400.0, 400.0, 100.0],
            &[400.0, 400.0, 100.0, 100.0],
        )
        .expect("psi");
        assert!((psi - want).abs() < 1e-12 && psi > 0.25, "{psi}");
        // The same distributions: no drift.
        let (_, same) = canary_vs_stable(&stable, &stable)
            .expect("computed")
            .expect("a feature");
        assert!(same.abs() < 1e-12, "{same}");
    }

    #[test]
    fn buckets_are_read_from_prometheus_labels() {
        let labels = |le: &str| {
            BTreeMap::from([
                ("feature".to_string(), "amount".to_string()),
                ("le".to_string(), le.to_string()),
            ])
        };
        assert_eq!(
            Bucket::from_series(&labels("+Inf"), 3.0).map(|b| b.le),
            Some(f64::INFINITY)
        );
        assert_eq!(
            Bucket::from_series(&labels("0.5"), 3.0).map(|b| b.le),
            Some(0.5)
        );
        assert_eq!(Bucket::from_series(&labels("x"), 3.0), None);
        assert_eq!(Bucket::from_series(&BTreeMap::new(), 3.0), None);
    }

    #[test]
    fn nothing_to_compare_without_traffic_on_both_tracks_or_with_bad_counts() {
        let stable = hist("amount", &[100.0, 400.0, 400.0, 100.0]);
        assert_eq!(canary_vs_stable(&[], &stable).expect("ok"), None);
        assert_eq!(
            canary_vs_stable(&hist("amount", &[0.0; 4]), &stable).expect("ok"),
            None
        );
        // Too few observations to tell drift from noise.
        assert_eq!(
            canary_vs_stable(&hist("amount", &[40.0, 0.0, 0.0, 9.0]), &stable).expect("ok"),
            None
        );
        let mut nan = hist("amount", &[100.0; 4]);
        nan[1].cumulative = f64::NAN;
        assert_eq!(canary_vs_stable(&nan, &stable).expect("ok"), None);
        // Different buckets on the two tracks are not compared.
        let mut other = hist("amount", &[100.0; 4]);
        other[0].le = -5.0;
        assert_eq!(canary_vs_stable(&other, &stable).expect("ok"), None);
    }
}
