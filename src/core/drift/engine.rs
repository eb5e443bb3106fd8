//! Drift of a whole dataset: every column of the reference against the same column of the
//! current data, each with its method and threshold (Evidently's defaults unless overridden),
//! and the dataset's verdict from the share of drifted columns. A column that cannot be
//! compared (missing from a file, empty, numeric in one file and text in the other, a method
//! that does not fit it) is reported with the reason; the others still run.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    column::{Sample, compare, distinct_up_to},
    method::{DEFAULT_SHARE, Kind, Method},
    table::{Table, TableColumn, Values},
};

/// A column's own method and threshold (config: `[drift.features.NAME]` or
/// `[drift.models.MODEL.features.NAME]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ColumnOptions {
    pub method: Option<Method>,
    pub threshold: Option<f64>,
}

/// How a dataset is compared.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftOptions {
    /// Every column's method (Evidently's choice per column when `None`).
    pub method: Option<Method>,
    /// Every column's threshold (the method's default when `None`).
    pub threshold: Option<f64>,
    /// The share of drifted columns at which the dataset has drifted.
    pub share: f64,
    /// Only these columns (all when `None`).
    pub columns: Option<Vec<String>>,
    /// Columns compared as categories whatever they hold.
    pub categorical: BTreeSet<String>,
    /// Per-column overrides; they win over `method` and `threshold`, as Evidently's
    /// `per_column_method` wins over `method`.
    pub features: BTreeMap<String, ColumnOptions>,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            method: None,
            threshold: None,
            share: DEFAULT_SHARE,
            columns: None,
            categorical: BTreeSet::new(),
            features: BTreeMap::new(),
        }
    }
}

impl DriftOptions {
    fn for_column(&self, name: &str) -> (Option<Method>, Option<f64>) {
        let own = self.features.get(name).copied().unwrap_or_default();
        (own.method.or(self.method), own.threshold.or(self.threshold))
    }
}

/// Missing cells per file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub reference: usize,
    pub current: usize,
}

/// One column's result (`mlops drift -o json`'s `columns[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub column: String,
    /// `None` when the files disagree (numeric in one, text in the other).
    pub kind: Option<Kind>,
    /// `None` when the column could not be compared (see `problem`).
    pub method: Option<Method>,
    pub statistic: Option<f64>,
    /// What the threshold is compared with: the p-value of a test, or the distance.
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub drifted: bool,
    /// Non-missing values compared.
    pub reference_rows: usize,
    pub current_rows: usize,
    pub missing: Missing,
    /// Why the column was not compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Something to know about a column that was compared (a constant column, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ColumnDrift {
    /// `column` before it is compared: its row counts, no method, statistic or verdict yet.
    pub fn uncompared(column: String, reference_rows: usize, current_rows: usize) -> Self {
        Self {
            column,
            kind: None,
            method: None,
            statistic: None,
            score: None,
            threshold: None,
            drifted: false,
            reference_rows,
            current_rows,
            missing: Missing::default(),
            problem: None,
            note: None,
        }
    }
}

/// The dataset's result (`mlops drift -o json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub columns: Vec<ColumnDrift>,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// Drifted columns ÷ compared columns (0 when none could be compared).
    pub share: f64,
    /// `share ≥ drift_share`.
    pub dataset_drift: bool,
    pub drift_share: f64,
    /// Problems of the files themselves (ragged rows, duplicate headers), `FILE:LINE: …`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl DatasetDrift {
    /// Columns that were compared.
    pub fn compared(&self) -> usize {
        self.columns.iter().filter(|c| c.method.is_some()).count()
    }
}

/// Compare every column of `current` with `reference`.
pub fn compare_tables(reference: &Table, current: &Table, options: &DriftOptions) -> DatasetDrift {
    let names: Vec<String> = if let Some(list) = &options.columns {
        list.clone()
    } else {
        let mut names: Vec<String> = reference.columns.iter().map(|c| c.name.clone()).collect();
        for c in &current.columns {
            if reference.column(&c.name).is_none() {
                names.push(c.name.clone());
            }
        }
        names
    };
    let columns: Vec<ColumnDrift> = names
        .iter()
        .map(|name| {
            compare_column(
                name,
                reference.column(name),
                current.column(name),
                reference,
                current,
                options,
            )
        })
        .collect();
    let compared = columns.iter().filter(|c| c.method.is_some()).count();
    let drifted_columns = columns.iter().filter(|c| c.drifted).count();
    let share = if compared == 0 {
        0.0
    } else {
        drifted_columns as f64 / compared as f64
    };
    let mut problems = reference.problems.clone();
    problems.extend(current.problems.iter().cloned());
    DatasetDrift {
        columns,
        drifted_columns,
        share,
        dataset_drift: compared > 0 && share >= options.share,
        drift_share: options.share,
        problems,
    }
}

fn compare_column(
    name: &str,
    r: Option<&TableColumn>,
    c: Option<&TableColumn>,
    reference: &Table,
    current: &Table,
    options: &DriftOptions,
) -> ColumnDrift {
    let mut out = ColumnDrift {
        missing: Missing {
            reference: r.map_or(0, |c| c.missing),
            current: c.map_or(0, |c| c.missing),
        },
        ..ColumnDrift::uncompared(
            name.to_string(),
            r.map_or(0, TableColumn::rows),
            c.map_or(0, TableColumn::rows),
        )
    };
    let (r, c) = match (r, c) {
        (Some(r), Some(c)) => (r, c),
        (None, None) => {
            out.problem = Some(format!(
                "not a column of {} nor of {}",
                reference.name, current.name
            ));
            return out;
        }
        (None, Some(_)) => {
            out.problem = Some(format!(
                "only in {}: not a column of {}",
                current.name, reference.name
            ));
            return out;
        }
        (Some(_), None) => {
            out.problem = Some(format!(
                "only in {}: not a column of {}",
                reference.name, current.name
            ));
            return out;
        }
    };
    for (col, table) in [(r, reference), (c, current)] {
        if col.rows() == 0 {
            out.problem = Some(if col.missing == 0 {
                format!("no rows in {}", table.name)
            } else {
                format!("all {} values missing in {}", col.missing, table.name)
            });
            return out;
        }
    }
    let kind = if options.categorical.contains(name) {
        Kind::Categorical
    } else {
        match (&r.values, &c.values) {
            (Values::Numbers { .. }, Values::Numbers { .. }) if r.looks_categorical() => {
                Kind::Categorical
            }
            (Values::Numbers { .. }, Values::Numbers { .. }) => Kind::Numeric,
            (Values::Text { .. }, Values::Text { .. }) => Kind::Categorical,
            (Values::Numbers { .. }, Values::Text { first_text, .. }) => {
                out.problem = Some(mixed(reference, current, first_text));
                return out;
            }
            (Values::Text { first_text, .. }, Values::Numbers { .. }) => {
                out.problem = Some(mixed(current, reference, first_text));
                return out;
            }
        }
    };
    out.kind = Some(kind);
    let (method, threshold) = options.for_column(name);
    if let Some(m) = method
        && !m.accepts(kind)
    {
        out.problem = Some(m.refusal(kind));
        return out;
    }
    let (rs, cs) = match kind {
        Kind::Numeric => (
            Sample::Numeric(r.numbers().unwrap_or_default().to_vec()),
            Sample::Numeric(c.numbers().unwrap_or_default().to_vec()),
        ),
        Kind::Categorical => (
            Sample::Categorical(r.categories()),
            Sample::Categorical(c.categories()),
        ),
    };
    match compare(&rs, &cs, method, threshold) {
        Ok(v) => {
            out.method = Some(v.method);
            out.statistic = Some(v.statistic);
            out.score = Some(v.score);
            out.threshold = Some(v.threshold);
            out.drifted = v.drifted;
            out.note = note(&rs, &cs, v.method, v.score, &reference.name);
        }
        Err(e) => out.problem = Some(e.to_string()),
    }
    out
}

fn mixed(numeric: &Table, text: &Table, first_text: &(u64, String)) -> String {
    format!(
        "numeric in {} but text in {} ({}:{}: {:?}); compare it as categories with --categorical",
        numeric.name, text.name, text.name, first_text.0, first_text.1
    )
}

fn note(
    reference: &Sample,
    current: &Sample,
    method: Method,
    score: f64,
    reference_name: &str,
) -> Option<String> {
    let mut notes = Vec::new();
    if let (Sample::Numeric(r), Sample::Numeric(c), Method::Ks) = (reference, current, method)
        && let Some(span) = super::column::too_wide(r.iter().chain(c))
    {
        notes.push(format!(
            "{span}: too wide for wasserstein, psi or jensenshannon (their arithmetic \
             overflows), so compared with ks"
        ));
    }
    match reference {
        Sample::Numeric(v) if distinct_up_to(v.iter(), 2) == 1 => {
            notes.push(format!("constant in {reference_name} (zero variance)"));
            if method == Method::Wasserstein {
                notes.push("the distance is divided by Evidently's floor of 0.001".into());
            }
        }
        Sample::Categorical(c) if c.len() == 1 => {
            notes.push(format!("a single category in {reference_name}"));
        }
        _ => {}
    }
    if score.is_nan() {
        notes.push(format!("{method} is undefined here (a single category)"));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;
    use crate::drift::table::read_csv;

    fn table(name: &str, text: &str) -> Table {
        read_csv(text.as_bytes(), name, &BTreeSet::new()).expect("csv")
    }

    #[test]
    fn bad_columns_are_reported_and_the_rest_runs() {
        let mut r = String::from("x,empty,mixed,const,only_ref,cat\n");
        let mut c = String::from("x,empty,mixed,const,only_cur,cat\n");
        for i in 0..40 {
            r.push_str(&format!("{i},,{i},5,1,{}\n", ["a", "b", "c"][i % 3]));
            let text = if i == 7 {
                "seven".to_string()
            } else {
                i.to_string()
            };
            c.push_str(&format!(
                "{},,{text},5,1,{}\n",
                i + 20,
                ["a", "b", "c"][i % 2]
            ));
        }
        let d = compare_tables(
            &table("ref.csv", &r),
            &table("cur.csv", &c),
            &DriftOptions::default(),
        );
        let by = |n: &str| d.columns.iter().find(|c| c.column == n).expect(n);
        assert_eq!(by("x").method, Some(Method::Ks));
        assert!(by("x").drifted);
        assert_eq!(
            by("empty").problem.as_deref(),
            Some("all 40 values missing in ref.csv")
        );
        assert!(
            by("mixed")
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("cur.csv:9: \"seven\"")),
            "{:?}",
            by("mixed")
        );
        // Integers with one value: categorical, the Z-test, p = 1.
        assert_eq!(by("const").method, Some(Method::Z));
        assert_eq!(by("const").score, Some(1.0));
        assert!(
            by("only_ref")
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with("only in ref.csv"))
        );
        assert!(
            by("only_cur")
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with("only in cur.csv"))
        );
        assert_eq!(by("cat").method, Some(Method::ChiSquare));
        assert_eq!(d.compared(), 3);
        assert_eq!(d.drifted_columns, 2, "{d:#?}");
        assert!(d.dataset_drift);
    }

    #[test]
    fn overrides_per_column_win() {
        let r = table(
            "r",
            "a,b\n1.5,2.5\n2.5,3.5\n3.5,4.5\n4.5,5.5\n5.5,6.5\n6.5,7.5\n",
        );
        let c = table(
            "c",
            "a,b\n1.5,2.5\n2.5,3.5\n3.5,4.5\n4.5,5.5\n5.5,6.5\n7.5,9.5\n",
        );
        let mut o = DriftOptions {
            method: Some(Method::Psi),
            ..DriftOptions::default()
        };
        o.features.insert(
            "b".into(),
            ColumnOptions {
                method: Some(Method::Wasserstein),
                threshold: Some(0.5),
            },
        );
        let d = compare_tables(&r, &c, &o);
        assert_eq!(d.columns[0].method, Some(Method::Psi));
        assert_eq!(d.columns[1].method, Some(Method::Wasserstein));
        assert_eq!(d.columns[1].threshold, Some(0.5));
    }
}
