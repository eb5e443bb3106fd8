//! Reference profiles: what drift needs to know of a reference dataset without the dataset —
//! per column its kind, rows and missing cells, and its distribution as quantile bins (numeric)
//! or counts per category. `mlops drift profile REF.csv -o FILE.json` writes one; a model
//! version's profile is the reference for drift of live (binned) data.
//!
//! The format (JSON, `format: "mlops-drift-profile/1"`):
//!
//! ```json
//! {"format": "mlops-drift-profile/1", "source": "ref.csv", "rows": 1000,
//!  "columns": [
//!    {"column": "amount", "kind": "numeric", "rows": 990, "missing": 10, "unique": 812,
//!     "edges": [0.5, 3.1, …, 98.0], "counts": [99, 99, …, 99]},
//!    {"column": "plan", "kind": "categorical", "rows": 1000, "missing": 0, "unique": 3,
//!     "categories": {"basic": 500, "pro": 400, "team": 100}}]}
//! ```
//!
//! `edges` are the reference's quantiles at 0, 1/b, …, 1 (linear interpolation, duplicates
//! dropped), `counts` the reference values per bin (half-open bins, the last closed). A numeric
//! column with at most 20 unique values also keeps `categories` (each value's count, labelled as
//! written by [`super::column::format_number`]), so few-valued columns are compared exactly as
//! on raw data. Against a profile, PSI, Jensen–Shannon, chi-square and the Z-test are exact on
//! these bins or categories; KS (at the bin bounds) and Wasserstein (mass at bin midpoints) are
//! approximations, and say so in the column's note.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{
    column::{BINNED_ABOVE_UNIQUE, Sample, compare, distinct_up_to},
    engine::{ColumnDrift, DatasetDrift, DriftOptions, Missing},
    method::{FEW_VALUES, Kind, Method},
    report_from_bins,
    stattests::{jensen_shannon_of_shares, psi_of_counts, shares},
    table::{Table, Values},
};
use crate::error::CoreError;

pub const FORMAT: &str = "mlops-drift-profile/1";
/// Quantile bins per numeric column unless asked otherwise.
pub const DEFAULT_BINS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub format: String,
    /// Where it was made from (a file name).
    pub source: String,
    /// Data rows of the source.
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub column: String,
    pub kind: Kind,
    /// Non-missing values.
    pub rows: usize,
    pub missing: usize,
    /// Unique non-missing values.
    pub unique: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, u64>,
}

/// The profile of a table, `bins` quantile bins per numeric column.
pub fn profile(table: &Table, bins: usize, options: &DriftOptions) -> Profile {
    let bins = bins.max(1);
    let wanted: Option<HashSet<&str>> = options
        .columns
        .as_ref()
        .map(|l| l.iter().map(String::as_str).collect());
    let columns = table
        .columns
        .iter()
        .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(c.name.as_str())))
        .map(|c| {
            let categorical = options.categorical.contains(&c.name) || c.looks_categorical();
            if let (Values::Numbers { values, .. }, false) = (&c.values, categorical) {
                let sorted = super::column::sorted_copy(values);
                let unique = count_unique(&sorted);
                let edges = quantile_edges(&sorted, bins);
                let counts = super::stattests::histogram(&sorted, &edges)
                    .into_iter()
                    .map(|c| c as u64)
                    .collect();
                ColumnProfile {
                    column: c.name.clone(),
                    kind: Kind::Numeric,
                    rows: values.len(),
                    missing: c.missing,
                    unique,
                    edges,
                    counts,
                    categories: if unique <= BINNED_ABOVE_UNIQUE {
                        Sample::categories_of(values)
                    } else {
                        BTreeMap::new()
                    },
                }
            } else {
                let categories = c.categories();
                ColumnProfile {
                    column: c.name.clone(),
                    kind: Kind::Categorical,
                    rows: c.rows(),
                    missing: c.missing,
                    unique: categories.len(),
                    edges: Vec::new(),
                    counts: Vec::new(),
                    categories,
                }
            }
        })
        .collect();
    Profile {
        format: FORMAT.into(),
        source: table.name.clone(),
        rows: table.rows,
        columns,
    }
}

/// Read a profile, checking its format.
pub fn parse(text: &str, name: &str) -> Result<Profile, CoreError> {
    let p: Profile = serde_json::from_str(text).map_err(|e| {
        CoreError::Statistics(format!(
            "{name}:{}:{}: not a drift profile: {e}",
            e.line(),
            e.column()
        ))
    })?;
    if p.format != FORMAT {
        return Err(CoreError::Statistics(format!(
            "{name}: profile format {:?}, this version reads {FORMAT:?}",
            p.format
        )));
    }
    let mut names = std::collections::HashSet::new();
    for c in &p.columns {
        let shown = super::table::echo(&c.column);
        if !names.insert(c.column.as_str()) {
            return Err(CoreError::Statistics(format!(
                "{name}: column {shown} appears twice"
            )));
        }
        check_column(c, p.rows)
            .map_err(|e| CoreError::Statistics(format!("{name}: column {shown}: {e}")))?;
    }
    Ok(p)
}

/// Why the column's profile cannot be a real dataset's, if it cannot: edges that are not
/// finite and strictly increasing, counts or categories that do not add up to its `rows`
/// (or overflow), rows and missing cells that do not add up to the file's rows.
fn check_column(c: &ColumnProfile, file_rows: usize) -> Result<(), String> {
    if c.rows.checked_add(c.missing) != Some(file_rows) {
        return Err(format!(
            "rows {} and missing {} do not add up to the profile's rows {file_rows}",
            c.rows, c.missing
        ));
    }
    if c.unique > c.rows {
        return Err(format!("{} unique values in {} rows", c.unique, c.rows));
    }
    // A column with no values (all missing) has no bins: nothing to check, nothing to compare.
    let empty = c.rows == 0 && c.edges.is_empty() && c.counts.is_empty();
    if c.kind == Kind::Numeric && !empty {
        if c.edges.len() < 2 || c.edges.len() != c.counts.len() + 1 {
            return Err(format!(
                "{} edges for {} counts (a numeric column needs one edge more than counts)",
                c.edges.len(),
                c.counts.len()
            ));
        }
        if let Some(e) = c.edges.iter().find(|e| !e.is_finite()) {
            return Err(format!("edge {e} is not a finite number"));
        }
        if let Some(i) = c.edges.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!(
                "edges must increase: edge {} ({}) is not below edge {} ({})",
                i + 1,
                c.edges[i],
                i + 2,
                c.edges[i + 1]
            ));
        }
        match sum(c.counts.iter().copied()) {
            Some(n) if u64::try_from(c.rows).is_ok_and(|r| r == n) => {}
            Some(n) => {
                return Err(format!(
                    "the counts add up to {n}, not to its rows {}",
                    c.rows
                ));
            }
            None => return Err("the counts overflow when added up".into()),
        }
    }
    if !c.categories.is_empty() || c.kind == Kind::Categorical {
        match sum(c.categories.values().copied()) {
            Some(n) if u64::try_from(c.rows).is_ok_and(|r| r == n) => {}
            Some(n) => {
                return Err(format!(
                    "the categories add up to {n}, not to its rows {}",
                    c.rows
                ));
            }
            None => return Err("the category counts overflow when added up".into()),
        }
    }
    Ok(())
}

fn sum(counts: impl Iterator<Item = u64>) -> Option<u64> {
    counts.into_iter().try_fold(0u64, u64::checked_add)
}

fn count_unique(sorted: &[f64]) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    1 + sorted.windows(2).filter(|w| w[0] < w[1]).count()
}

/// Quantiles at i/bins (numpy's default linear interpolation), strictly increasing.
fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    if sorted.is_empty() {
        return Vec::new();
    }
    let last = (sorted.len() - 1) as f64;
    let mut edges: Vec<f64> = Vec::with_capacity(bins + 1);
    for i in 0..=bins {
        let pos = last * i as f64 / bins as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(sorted.len() - 1);
        let q = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64);
        if edges.last().is_none_or(|e| q > *e) {
            edges.push(q);
        }
    }
    if edges.len() == 1 {
        let v = edges[0];
        edges = vec![v - 0.5, v + 0.5];
    }
    edges
}

/// Counts of `values` in the profile's bins; values beyond the outer edges fall in the outer
/// bins (live data may leave the reference's range).
pub fn bin_counts(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0.0; bins];
    if bins == 0 {
        return counts;
    }
    for v in values {
        let i = edges[1..bins].partition_point(|e| e <= v).min(bins - 1);
        counts[i] += 1.0;
    }
    counts
}

/// Drift of `current` against a reference profile.
pub fn compare_profile(profile: &Profile, current: &Table, options: &DriftOptions) -> DatasetDrift {
    let reference_name = format!("profile of {}", profile.source);
    let wanted: Option<HashSet<&str>> = options
        .columns
        .as_ref()
        .map(|l| l.iter().map(String::as_str).collect());
    let mut columns: Vec<ColumnDrift> = profile
        .columns
        .iter()
        .filter(|p| {
            wanted
                .as_ref()
                .is_none_or(|w| w.contains(p.column.as_str()))
        })
        .map(|p| column_against_profile(p, current, options, &reference_name))
        .collect();
    // A column asked for that the profile does not have is said, not dropped.
    let profiled: HashSet<&str> = profile.columns.iter().map(|p| p.column.as_str()).collect();
    for name in options.columns.iter().flatten() {
        if !profiled.contains(name.as_str()) {
            columns.push(ColumnDrift {
                problem: Some(format!("not a column of the {reference_name}")),
                ..ColumnDrift::uncompared(
                    name.clone(),
                    0,
                    current
                        .column(name)
                        .map_or(0, super::table::TableColumn::rows),
                )
            });
        }
    }
    let compared = columns.iter().filter(|c| c.method.is_some()).count();
    let drifted_columns = columns.iter().filter(|c| c.drifted).count();
    let share = if compared == 0 {
        0.0
    } else {
        drifted_columns as f64 / compared as f64
    };
    DatasetDrift {
        columns,
        drifted_columns,
        share,
        dataset_drift: compared > 0 && share >= options.share,
        drift_share: options.share,
        problems: current.problems.clone(),
    }
}

fn column_against_profile(
    p: &ColumnProfile,
    current: &Table,
    options: &DriftOptions,
    reference_name: &str,
) -> ColumnDrift {
    let c = current.column(&p.column);
    let mut out = ColumnDrift {
        kind: Some(p.kind),
        missing: Missing {
            reference: p.missing,
            current: c.map_or(0, |c| c.missing),
        },
        ..ColumnDrift::uncompared(
            p.column.clone(),
            p.rows,
            c.map_or(0, super::table::TableColumn::rows),
        )
    };
    let Some(c) = c else {
        out.problem = Some(format!("not a column of {}", current.name));
        return out;
    };
    if p.rows == 0 || c.rows() == 0 {
        out.problem = Some(format!(
            "no values in {}",
            if p.rows == 0 {
                reference_name
            } else {
                &current.name
            }
        ));
        return out;
    }
    let own = options.features.get(&p.column).copied().unwrap_or_default();
    let (method, threshold) = (
        own.method.or(options.method),
        own.threshold.or(options.threshold),
    );
    let result = match (p.kind, c.numbers()) {
        (Kind::Categorical, _) => compare(
            &Sample::Categorical(p.categories.clone()),
            &Sample::Categorical(c.categories()),
            method,
            threshold,
        )
        .map(|v| (v, None)),
        (Kind::Numeric, None) => Err(CoreError::Statistics(format!(
            "numeric in {reference_name} but text in {}",
            current.name
        ))),
        (Kind::Numeric, Some(values)) => numeric_against_bins(p, values, method, threshold),
    };
    match result {
        Ok((v, note)) => {
            out.method = Some(v.method);
            out.statistic = Some(v.statistic);
            out.score = Some(v.score);
            out.threshold = Some(v.threshold);
            out.drifted = v.drifted;
            out.note = note;
        }
        Err(e) => out.problem = Some(e.to_string()),
    }
    out
}

fn numeric_against_bins(
    p: &ColumnProfile,
    values: &[f64],
    method: Option<Method>,
    threshold: Option<f64>,
) -> Result<(super::Verdict, Option<String>), CoreError> {
    if let Some(m) = method
        && !m.accepts(Kind::Numeric)
    {
        return Err(CoreError::Statistics(m.refusal(Kind::Numeric)));
    }
    let unique_current = distinct_up_to(values.iter(), FEW_VALUES + 1);
    let chosen_by_user = method.is_some();
    let method = method.unwrap_or_else(|| {
        // Pooled unique values: the profile's, plus what the current adds (a lower bound).
        let pooled = if p.categories.is_empty() {
            p.unique
        } else {
            Sample::categories_of(values)
                .keys()
                .chain(p.categories.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        Method::choose(Kind::Numeric, p.rows, pooled.max(unique_current))
    });
    let wide = super::column::too_wide(p.edges.iter().chain(values));
    let (method, wide_note) = match wide {
        Some(span) if super::column::needs_moderate_span(method) && chosen_by_user => {
            return Err(CoreError::Statistics(format!(
                "{span}: too wide for {method} (its arithmetic overflows); compare it with \
                 --method ks, which only ranks the values"
            )));
        }
        Some(span) if super::column::needs_moderate_span(method) => (
            Method::Ks,
            Some(format!(
                "{span}: too wide for {method} (its arithmetic overflows), so compared with ks"
            )),
        ),
        _ => (method, None),
    };
    // Few-valued columns: exact, as categories.
    if !p.categories.is_empty() && !matches!(method, Method::Ks | Method::Wasserstein) {
        let v = compare(
            &Sample::Categorical(p.categories.clone()),
            &Sample::Categorical(Sample::categories_of(values)),
            Some(method),
            threshold,
        )?;
        return Ok((v, None));
    }
    let counts = bin_counts(values, &p.edges);
    let reference: Vec<f64> = p.counts.iter().map(|c| *c as f64).collect();
    let (statistic, score, note) = match method {
        Method::Psi => {
            let d = psi_of_counts(&reference, &counts);
            (d, d, None)
        }
        Method::JensenShannon => {
            let d = jensen_shannon_of_shares(&shares(&reference), &shares(&counts));
            (d, d, None)
        }
        Method::ChiSquare | Method::Z => {
            let v = compare(
                &Sample::Categorical(indexed(&reference)),
                &Sample::Categorical(indexed(&counts)),
                Some(method),
                threshold,
            )?;
            (
                v.statistic,
                v.score,
                Some("on the profile's quantile bins".into()),
            )
        }
        Method::Ks => {
            let r = report_from_bins(&p.edges, &reference, &counts)?;
            let note = "approximate: KS at the profile's bin bounds";
            let note = wide_note.map_or_else(|| note.to_string(), |w| format!("{w}; {note}"));
            (r.ks.statistic, r.ks.p_value, Some(note))
        }
        Method::Wasserstein => {
            let r = report_from_bins(&p.edges, &reference, &counts)?;
            let note = "approximate: each bin's mass at its midpoint";
            (
                r.wasserstein_normed,
                r.wasserstein_normed,
                Some(note.into()),
            )
        }
    };
    let threshold = threshold.unwrap_or_else(|| method.default_threshold());
    Ok((
        super::Verdict {
            method,
            statistic,
            score,
            threshold,
            drifted: method.drifted(score, threshold),
        },
        note,
    ))
}

fn indexed(counts: &[f64]) -> BTreeMap<String, u64> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0.0)
        .map(|(i, c)| (format!("{i:04}"), *c as u64))
        .collect()
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::drift::{engine::compare_tables, table::read_csv};

    fn table(name: &str, text: &str) -> Table {
        read_csv(text.as_bytes(), name, &BTreeSet::new()).expect("csv")
    }

    fn data(shift: f64, rows: usize) -> String {
        let mut s = String::from("amount,plan,flag\n");
        for i in 0..rows {
            let x = (i as f64 * 0.618_033_988_7).fract() * 100.0 + shift;
            s.push_str(&format!(
                "{x:.3},{},{}\n",
                ["basic", "pro", "team"][i % 3],
                i % 2
            ));
        }
        s
    }

    #[test]
    fn profile_round_trips_and_keeps_categorical_results_exact() {
        let r = table("ref.csv", &data(0.0, 500));
        let p = profile(&r, 10, &DriftOptions::default());
        assert_eq!(p.columns[0].edges.len(), 11);
        assert_eq!(p.columns[0].counts.iter().sum::<u64>(), 500);
        let text = serde_json::to_string(&p).expect("json");
        let back = parse(&text, "p.json").expect("parse");
        assert_eq!(back, p);

        let c = table("cur.csv", &data(20.0, 400));
        let raw = compare_tables(&r, &c, &DriftOptions::default());
        let binned = compare_profile(&p, &c, &DriftOptions::default());
        assert_eq!(binned.columns[0].method, Some(Method::Ks));
        assert!(binned.columns[0].drifted && raw.columns[0].drifted);
        for i in 1..3 {
            assert_eq!(binned.columns[i].method, raw.columns[i].method);
            assert_eq!(binned.columns[i].score, raw.columns[i].score, "{i}");
        }
    }

    #[test]
    fn bad_profiles_are_named() {
        let err = parse("{\"format\": \"x\"", "p.json").expect_err("truncated");
        assert!(err.to_string().starts_with("p.json:1:"), "{err}");
        let err = parse(
            "{\"format\": \"other/2\", \"source\": \"s\", \"rows\": 0, \"columns\": []}",
            "p.json",
        )
        .expect_err("format");
        assert!(err.to_string().contains("other/2"), "{err}");
    }

    #[test]
    fn outer_bins_take_values_beyond_the_edges() {
        assert_eq!(
            bin_counts(&[-5.0, 0.0, 1.5, 2.0, 9.0], &[0.0, 1.0, 2.0]),
            vec![2.0, 3.0]
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A CSV of `rows` with a numeric column (some cells missing), a text column and a
        /// few-valued integer column.
        fn csv(values: &[(Option<f64>, u8)]) -> String {
            let mut s = String::from("x,plan,k\n");
            for (x, c) in values {
                let x = x.map_or_else(|| "NA".to_string(), |x| format!("{x}"));
                s.push_str(&format!(
                    "{x},{},{}\n",
                    ["a", "b", "c"][usize::from(*c % 3)],
                    c % 4
                ));
            }
            s
        }

        fn values() -> impl Strategy<Value = Vec<(Option<f64>, u8)>> {
            proptest::collection::vec(
                (proptest::option::weighted(0.9, -1e6..1e6f64), any::<u8>()),
                1..300,
            )
        }

        /// Found by the property below: a column of missing cells only was written with no
        /// bins, and `parse` refused the profile it had written.
        #[test]
        fn a_column_of_missing_cells_only_is_written_and_read_back() {
            let p = profile(
                &table("r.csv", "x,y\nNA,1\n,2\n"),
                10,
                &DriftOptions::default(),
            );
            let text = serde_json::to_string(&p).expect("json");
            assert_eq!(parse(&text, "r.json").expect("valid"), p);
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

            /// Every profile `mlops drift profile` writes is one `parse` accepts…
            #[test]
            fn every_written_profile_is_read_back(v in values(), bins in 1usize..60) {
                let p = profile(&table("r.csv", &csv(&v)), bins, &DriftOptions::default());
                let text = serde_json::to_string(&p).expect("json");
                prop_assert_eq!(parse(&text, "r.json").expect("valid"), p);
            }

            /// …and no count, row total or edge of it can be changed without `parse` saying so.
            #[test]
            fn a_changed_count_rows_or_edge_is_refused(
                v in values(),
                bins in 2usize..30,
                which in 0usize..4,
                pick in any::<prop::sample::Index>(),
            ) {
                let mut p = profile(&table("r.csv", &csv(&v)), bins, &DriftOptions::default());
                let numeric = p
                    .columns
                    .iter_mut()
                    .find(|c| c.kind == Kind::Numeric && !c.counts.is_empty());
                let Some(c) = numeric else { return Ok(()) };
                match which {
                    0 => { let i = pick.index(c.counts.len()); c.counts[i] += 1; }
                    1 => c.rows += 1,
                    2 if c.edges.len() > 2 => {
                        let i = pick.index(c.edges.len() - 1);
                        c.edges.swap(i, i + 1);
                    }
                    _ => { let i = pick.index(c.edges.len()); c.edges[i] = f64::NAN; }
                }
                let text = serde_json::to_string(&p).expect("json");
                prop_assert!(parse(&text, "r.json").is_err(), "accepted: {}", text);
            }
        }
    }
}
