//! Which drift method a column gets, its default threshold, and how its score becomes a
//! decision — Evidently 0.7's defaults (`evidently/legacy/calculations/stattests/registry.py`
//! `_get_default_stattest`, and each test's `StatTest(default_threshold=…)` and comparison).

use std::{fmt, str::FromStr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Reference sizes up to this get statistical tests; above, distances (Evidently's 1000).
pub const SMALL_REFERENCE: usize = 1000;
/// A numeric column with at most this many unique values (reference and current pooled) is
/// compared as categories.
pub const FEW_VALUES: usize = 5;
/// Binary: at most this many unique values gets the Z-test instead of chi-square.
pub const BINARY_VALUES: usize = 2;
/// The default share of drifted columns at which the dataset has drifted (`drift_share`).
pub const DEFAULT_SHARE: f64 = 0.5;

/// How a column's values are compared.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Numeric,
    Categorical,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Numeric => "numeric",
            Kind::Categorical => "categorical",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A drift method, by Evidently's name for it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov; score: p-value.
    Ks,
    /// Wasserstein distance ÷ the reference's standard deviation; score: the distance.
    Wasserstein,
    /// Jensen–Shannon distance (natural log) over Sturges bins or categories.
    JensenShannon,
    /// Pearson's chi-square of the current counts against the reference's; score: p-value.
    ChiSquare,
    /// Z-test for two proportions (binary columns); score: p-value.
    Z,
    /// Population Stability Index over Sturges bins or categories.
    Psi,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Ks,
        Method::Wasserstein,
        Method::JensenShannon,
        Method::ChiSquare,
        Method::Z,
        Method::Psi,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::Wasserstein => "wasserstein",
            Method::JensenShannon => "jensenshannon",
            Method::ChiSquare => "chisquare",
            Method::Z => "z",
            Method::Psi => "psi",
        }
    }

    /// A statistical test, whose score is a p-value (drift when it is small); otherwise a
    /// distance (drift when it is large).
    pub fn is_test(self) -> bool {
        matches!(self, Method::Ks | Method::ChiSquare | Method::Z)
    }

    /// Evidently's `default_threshold`: 0.05 for the tests, 0.1 for the distances.
    pub fn default_threshold(self) -> f64 {
        if self.is_test() { 0.05 } else { 0.1 }
    }

    /// Whether `score` means drift at `threshold`, with Evidently's comparison for each method:
    /// KS `p ≤ t`, chi-square and Z `p < t`, the distances `d ≥ t`. A NaN score never drifts.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Method::Ks => score <= threshold,
            Method::ChiSquare | Method::Z => score < threshold,
            Method::Wasserstein | Method::JensenShannon | Method::Psi => score >= threshold,
        }
    }

    /// Whether the method may be asked for on a column of this kind, as Evidently registers
    /// them: KS and Wasserstein for numbers, chi-square and Z for categories, PSI and
    /// Jensen–Shannon for both. (The automatic choice still gives chi-square and Z to numeric
    /// columns with few values, as Evidently's does.)
    pub fn accepts(self, kind: Kind) -> bool {
        match self {
            Method::Ks | Method::Wasserstein => kind == Kind::Numeric,
            Method::ChiSquare | Method::Z => kind == Kind::Categorical,
            Method::JensenShannon | Method::Psi => true,
        }
    }

    /// Why the method does not fit a column of this kind.
    pub fn refusal(self, kind: Kind) -> String {
        match kind {
            Kind::Categorical => format!(
                "{self} needs numbers and this column is categorical (text, --categorical, or integers with at most 10 unique values)"
            ),
            Kind::Numeric => format!(
                "{self} compares categories and this column is numeric (compare it as categories with --categorical)"
            ),
        }
    }

    /// Evidently's default for a column: by the reference's size (non-missing values), the
    /// column's kind, and the number of unique values in reference and current together.
    pub fn choose(kind: Kind, reference_rows: usize, unique_values: usize) -> Method {
        let categorical_test = if unique_values > BINARY_VALUES {
            Method::ChiSquare
        } else {
            Method::Z
        };
        match (kind, reference_rows <= SMALL_REFERENCE) {
            (Kind::Numeric, true) if unique_values > FEW_VALUES => Method::Ks,
            (Kind::Numeric | Kind::Categorical, true) => categorical_test,
            (Kind::Numeric, false) if unique_values > FEW_VALUES => Method::Wasserstein,
            (Kind::Numeric | Kind::Categorical, false) => Method::JensenShannon,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
                format!(
                    "unknown drift method {s:?}: one of auto, {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;

    #[test]
    fn evidently_defaults() {
        use Kind::{Categorical as C, Numeric as N};
        use Method::*;
        let cases = [
            (N, 1000, 6, Ks),
            (N, 1000, 5, ChiSquare),
            (N, 1000, 3, ChiSquare),
            (N, 1000, 2, Z),
            (N, 1000, 1, Z),
            (C, 1000, 3, ChiSquare),
            (C, 50, 2, Z),
            (C, 1000, 40, ChiSquare),
            (N, 1001, 6, Wasserstein),
            (N, 1001, 5, JensenShannon),
            (N, 1001, 2, JensenShannon),
            (C, 1001, 2, JensenShannon),
            (C, 5000, 30, JensenShannon),
        ];
        for (kind, rows, unique, want) in cases {
            assert_eq!(
                Method::choose(kind, rows, unique),
                want,
                "{kind} {rows} {unique}"
            );
        }
    }

    #[test]
    fn comparisons_follow_each_test() {
        assert!(
            Method::Ks.drifted(0.05, 0.05),
            "KS drifts at p == threshold"
        );
        assert!(!Method::ChiSquare.drifted(0.05, 0.05));
        assert!(!Method::Z.drifted(0.05, 0.05));
        assert!(Method::Psi.drifted(0.1, 0.1));
        assert!(!Method::Wasserstein.drifted(f64::NAN, 0.1));
        assert!(!Method::Ks.drifted(f64::NAN, 0.05));
    }

    #[test]
    fn names_parse() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
        }
        assert!("kolmogorov".parse::<Method>().is_err());
    }
}
