//! Drift: the model servers' feature histograms, reference window against the current one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mlops_core::{drift, model::FeatureDrift};

use super::Series;
use crate::adapters::http::parse_float;

pub(super) type FeatureKey = (String, u32, String);

/// Cumulative bucket counts by upper bound, ascending (`+Inf` last).
pub(super) type Cumulative = Vec<(f64, f64)>;

pub(super) fn feature_key(s: &Series) -> Option<(FeatureKey, f64)> {
    let version = s.label("version").parse().ok()?;
    let le = parse_float(s.label("le"))?;
    if le.is_nan() {
        return None;
    }
    Some((
        (
            s.label("model").to_string(),
            version,
            s.label("feature").to_string(),
        ),
        le,
    ))
}

pub(super) fn sort_cumulative(c: &mut Cumulative) {
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
}

/// Sorted by bound, with the buckets of one bound summed: the series of one feature split by a
/// label summed away here (a version seen on both tracks in the window, say).
pub(super) fn merge_cumulative(c: &mut Cumulative) {
    sort_cumulative(c);
    c.dedup_by(|later, kept| {
        if later.0.total_cmp(&kept.0).is_eq() {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
}

/// Per-bin counts from cumulative buckets; `increase()` extrapolates, so a bucket may come out
/// a hair below the one before it: such differences count as zero.
pub(super) fn bins_of(c: &Cumulative) -> Vec<f64> {
    let mut prev = 0.0;
    c.iter()
        .map(|&(_, v)| {
            let n = (v - prev).max(0.0);
            prev = prev.max(v);
            n
        })
        .collect()
}

/// Bin edges from the finite upper bounds: the open outer bins get one neighbouring width.
pub(super) fn edges_of(bounds: &[f64]) -> Vec<f64> {
    let k = bounds.len();
    let (lo_w, hi_w) = if k >= 2 {
        (bounds[1] - bounds[0], bounds[k - 1] - bounds[k - 2])
    } else {
        (1.0, 1.0)
    };
    let mut edges = Vec::with_capacity(k + 2);
    if let (Some(first), Some(last)) = (bounds.first(), bounds.last()) {
        edges.push(first - lo_w);
        edges.extend_from_slice(bounds);
        edges.push(last + hi_w);
    }
    edges
}

/// The largest count read as one: above 2^53 a float no longer counts one by one, and no
/// histogram has observed that much (1e308 is a broken exporter, not traffic).
const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

fn is_count(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_COUNT).contains(&v)
}

/// Reference profiles by model version: where each came from (shown), and the profile.
pub type VersionProfiles = BTreeMap<(String, u32), (String, drift::profile::Profile)>;

/// `fraud-detector v3 amount`: a feature as warnings name it.
fn feature_name(key: &FeatureKey) -> String {
    format!("{} v{} {}", key.0, key.1, key.2)
}

/// What is wrong with a histogram's bounds for drift (`+Inf` last, at least one finite bound).
fn bounds_problem(bounds: &[f64]) -> Option<&'static str> {
    if bounds.len() < 2 {
        Some("only one bucket")
    } else if !bounds.last().is_some_and(|b| b.is_infinite()) {
        Some("no +Inf bucket")
    } else {
        None
    }
}

/// What a feature's current window is compared with: its version's profile where it has a
/// numeric column of that name that fits the live buckets, else the reference window (bounds
/// with `+Inf` last, counts per bucket, and what it is); or why it cannot be compared. A
/// profile that does not fit is named in `warnings`.
fn reference_for(
    key: &FeatureKey,
    window: Option<Cumulative>,
    first_current: Option<&Cumulative>,
    profiles: &VersionProfiles,
    warnings: &mut Vec<String>,
) -> Result<(Vec<f64>, Vec<f64>, String), String> {
    if let Some((source, profile)) = profiles.get(&(key.0.clone(), key.1))
        && let Some(column) = profile.columns.iter().find(|c| c.column == key.2)
        && let Some(first) = first_current
    {
        // Merged and sorted by bound already (`map_drift`).
        let bounds: Vec<f64> = first.iter().map(|b| b.0).collect();
        let fitted = match bounds_problem(&bounds) {
            Some(p) => Err(format!("the live histogram has {p}")),
            None if column.counts.is_empty() => Err("its column has no bins (categorical)".into()),
            None => match drift::live::rebin(column, &bounds[..bounds.len() - 1]) {
                None => Err("its column's edges are unsorted or do not match its counts".into()),
                Some(counts) if counts.iter().sum::<f64>() > 0.0 => Ok(counts),
                Some(_) => Err("its column's bins are empty".into()),
            },
        };
        match fitted {
            Ok(counts) => return Ok((bounds, counts, format!("profile {source}"))),
            Err(why) => warnings.push(format!(
                "{}: the training data profile {source} cannot be used ({why}); compared with the reference window",
                feature_name(key)
            )),
        }
    }
    let Some(mut reference) = window else {
        return Err("no histogram in the reference window".into());
    };
    sort_cumulative(&mut reference);
    let bounds: Vec<f64> = reference.iter().map(|b| b.0).collect();
    if let Some(p) = bounds_problem(&bounds) {
        return Err(format!("the reference window's histogram has {p}"));
    }
    let counts = bins_of(&reference);
    if counts.iter().sum::<f64>() > 0.0 {
        Ok((bounds, counts, "window".to_string()))
    } else {
        Err("no observations in the reference window".into())
    }
}

type Windows = (
    BTreeMap<FeatureKey, Cumulative>,
    BTreeMap<FeatureKey, BTreeMap<DateTime<Utc>, Cumulative>>,
    std::collections::BTreeSet<FeatureKey>,
);

/// The reference window's cumulative buckets per feature, the current window's per feature and
/// evaluation time (merged, sorted by bound), and the features with a bucket count that is not
/// a count (NaN, infinite, negative, beyond any real count): that bucket is left out, so drift
/// is never computed, nor an alert raised, from it; and the feature is named.
fn read_windows(reference: &[Series], current: &[Series]) -> Windows {
    let mut not_counts: std::collections::BTreeSet<FeatureKey> = std::collections::BTreeSet::new();
    let mut refs: BTreeMap<FeatureKey, Cumulative> = BTreeMap::new();
    for s in reference {
        if let (Some((key, le)), Some(sample)) = (feature_key(s), s.last()) {
            if is_count(sample.value) {
                refs.entry(key).or_default().push((le, sample.value));
            } else {
                not_counts.insert(key);
            }
        }
    }
    // Per feature, per evaluation time: the cumulative buckets.
    let mut curs: BTreeMap<FeatureKey, BTreeMap<DateTime<Utc>, Cumulative>> = BTreeMap::new();
    for s in current {
        if let Some((key, le)) = feature_key(s) {
            if s.samples.iter().any(|p| !is_count(p.value)) {
                not_counts.insert(key.clone());
            }
            let times = curs.entry(key).or_default();
            for sample in s.samples.iter().filter(|p| is_count(p.value)) {
                times
                    .entry(sample.time)
                    .or_default()
                    .push((le, sample.value));
            }
        }
    }
    for times in curs.values_mut() {
        for c in times.values_mut() {
            merge_cumulative(c);
        }
    }
    (refs, curs, not_counts)
}

/// Each version's features, the current window against its reference; with a warning for each
/// feature left out (and why) and for each profile that could not be used.
pub(super) fn map_drift(
    reference: &[Series],
    current: &[Series],
    profiles: &VersionProfiles,
) -> (Vec<FeatureDrift>, Vec<String>) {
    let mut warnings = Vec::new();
    let (mut refs, curs, not_counts) = read_windows(reference, current);
    let mut out = Vec::new();
    for (key, times) in curs {
        let window = refs.remove(&key);
        let not_compared = |why: &str| {
            let why = if not_counts.contains(&key) {
                format!(
                    "bucket counts that are not counts (NaN, infinite, negative or above 2^53) were left out, and then {why}"
                )
            } else {
                why.to_string()
            };
            format!("{}: not compared: {why}", feature_name(&key))
        };
        let (bounds, reference_counts, source) = match reference_for(
            &key,
            window,
            times.values().next_back(),
            profiles,
            &mut warnings,
        ) {
            Ok(r) => r,
            Err(why) => {
                warnings.push(not_compared(&why));
                continue;
            }
        };
        let edges = edges_of(&bounds[..bounds.len() - 1]);
        let mut psi_history = Vec::new();
        let mut status_history = Vec::new();
        let mut latest = None;
        let mut other_bounds = false;
        for (_, c) in times {
            if c.iter().map(|b| b.0).ne(bounds.iter().copied()) {
                other_bounds = true;
                continue;
            }
            let counts = bins_of(&c);
            if counts.iter().sum::<f64>() <= 0.0 {
                continue;
            }
            if let Ok(psi) = drift::psi_from_counts(&reference_counts, &counts) {
                psi_history.push(psi);
            }
            if let Ok(s) = drift::status_from_bins(&edges, &reference_counts, &counts) {
                status_history.push(s);
            }
            latest = Some(counts);
        }
        let Some(current_counts) = latest else {
            warnings.push(not_compared(if other_bounds {
                "the current window's buckets differ from the reference's"
            } else {
                "no observations in the current window"
            }));
            continue;
        };
        let report = match drift::report_from_bins(&edges, &reference_counts, &current_counts) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(not_compared(&e.to_string()));
                continue;
            }
        };
        if not_counts.contains(&key) {
            warnings.push(format!(
                "{}: bucket counts that are not counts (NaN, infinite, negative or above 2^53) were left out",
                feature_name(&key)
            ));
        }
        let (model, version, feature) = key;
        out.push(FeatureDrift {
            model,
            version,
            feature,
            report,
            edges,
            reference_counts,
            current_counts,
            psi_history,
            status_history,
            reference: source,
            window_seconds: 0,
        });
    }
    (out, warnings)
}

/// One feature of one model on the two tracks: cumulative buckets per evaluation time, and how
/// many observations each version had in the latest window.
#[derive(Default)]
struct OnTracks {
    canary: BTreeMap<DateTime<Utc>, Cumulative>,
    stable: BTreeMap<DateTime<Utc>, Cumulative>,
    canary_versions: BTreeMap<(u32, DateTime<Utc>), f64>,
    stable_versions: BTreeMap<(u32, DateTime<Utc>), f64>,
}

/// The versions seen at `now`, by how many observations they had, most first.
fn most_observed(seen: &BTreeMap<(u32, DateTime<Utc>), f64>, now: DateTime<Utc>) -> Vec<u32> {
    let mut v: Vec<(u32, f64)> = seen
        .iter()
        .filter(|((_, at), _)| *at == now)
        .map(|((k, _), n)| (*k, *n))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    v.into_iter().map(|(k, _)| k).collect()
}

/// Canary against stable from the current window's series split by `track` (`canary`, and
/// `stable` or none): per model serving both tracks and feature, the stable's histogram the
/// reference and the canary's the current, the PSI of each evaluation time the history. A
/// feature with too few observations on a track, or whose tracks' buckets differ, is left out.
pub(super) fn map_tracks(current: &[Series]) -> Vec<FeatureDrift> {
    let mut by: BTreeMap<(String, String), OnTracks> = BTreeMap::new();
    for s in current {
        let Some(((model, version, feature), le)) = feature_key(s) else {
            continue;
        };
        let canary = match s.label("track") {
            "canary" => true,
            "stable" | "" => false,
            _ => continue,
        };
        let t = by.entry((model, feature)).or_default();
        let (times, seen) = if canary {
            (&mut t.canary, &mut t.canary_versions)
        } else {
            (&mut t.stable, &mut t.stable_versions)
        };
        for sample in s.samples.iter().filter(|p| is_count(p.value)) {
            times
                .entry(sample.time)
                .or_default()
                .push((le, sample.value));
        }
        if le.is_infinite()
            && let Some(last) = s.last().filter(|p| is_count(p.value))
        {
            *seen.entry((version, last.time)).or_default() += last.value;
        }
    }
    // The latest evaluation time of the query: a canary is compared only while it serves.
    let now = by
        .values()
        .flat_map(|t| t.stable.keys().chain(t.canary.keys()))
        .max()
        .copied();
    let Some(now) = now else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ((model, feature), mut t) in by {
        let Some(&canary_version) = most_observed(&t.canary_versions, now).first() else {
            continue;
        };
        let mut psi_history = Vec::new();
        let mut statuses = Vec::new();
        let mut latest = None;
        for (time, canary) in &mut t.canary {
            let Some(stable) = t.stable.get_mut(time) else {
                continue;
            };
            merge_cumulative(canary);
            merge_cumulative(stable);
            let bounds: Vec<f64> = stable.iter().map(|b| b.0).collect();
            if canary.iter().map(|b| b.0).ne(bounds.iter().copied())
                || bounds.len() < 2
                || !bounds.last().is_some_and(|b| b.is_infinite())
            {
                continue;
            }
            let (s, c) = (bins_of(stable), bins_of(canary));
            if !drift::live::comparable(&s, &c) {
                continue;
            }
            if let Ok(psi) = drift::psi_from_counts(&s, &c) {
                psi_history.push(psi);
            }
            let edges = edges_of(&bounds[..bounds.len() - 1]);
            if let Ok(status) = drift::status_from_bins(&edges, &s, &c) {
                statuses.push(status);
            }
            latest = Some((*time, bounds, s, c));
        }
        let Some((time, bounds, stable_counts, canary_counts)) = latest else {
            continue;
        };
        // Too little traffic on a track in the latest window: nothing to say about it now.
        if time != now {
            continue;
        }
        // The latest window's status is the row's own.
        statuses.pop();
        let row = drift::live::TrackWindow {
            model: model.clone(),
            feature,
            canary_version,
            stable_versions: most_observed(&t.stable_versions, now),
            edges: edges_of(&bounds[..bounds.len() - 1]),
            stable_counts,
            canary_counts,
            psi_history,
            status_history: statuses,
        };
        out.extend(row.into_drift());
    }
    out
}
