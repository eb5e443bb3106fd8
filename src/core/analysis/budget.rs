//! How much of its SLO's error budget a canary spent: the canary's 5xx during the rollout over the
//! budget of the whole model for the SLO window, `(1 - objective) × the model's requests over the
//! window`, the requests estimated from the model's request rate.
//!
//! Each analysis round of an `slo_burn` check reads two rates besides the burn rates: the
//! canary's errors per second and the model's requests per second (both tracks). The time since
//! the previous round, at most the queries' rate window (a rate says nothing of what came before
//! it), is spent at those rates: `errors/s × seconds / ((1 - objective) × requests/s × window)`.
//! The rounds' shares add up in the rollout's status (`canaryBudgetSpent`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The SLO an `slo_burn` check burns, and the queries of the rates its spend is worked out from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBudget {
    /// The availability objective: the share of requests that must not fail (0.995).
    pub objective: f64,
    /// The SLO's window, whose budget the spend is a share of (30 days).
    pub slo_window_seconds: u64,
    /// How far back the rate queries look.
    pub rate_window_seconds: u64,
    /// `PromQL`: the canary's 5xx per second.
    pub canary_errors_query: String,
    /// `PromQL`: the model's requests per second, both tracks.
    pub requests_query: String,
}

/// The rates an `slo_burn` check's budget queries gave in one round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetRates {
    /// The canary's errors (5xx) per second.
    pub canary_errors: f64,
    /// The model's requests per second, both tracks.
    pub requests: f64,
}

/// How much of the SLO window's error budget a rollout's canary has spent so far, as the
/// rollout's status records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetSpent {
    /// The share of the budget spent: 0.031 is 3.1 %.
    pub fraction: f64,
    /// The objective and window of the SLO whose budget it is.
    pub objective: f64,
    pub slo_window_seconds: u64,
    /// The seconds of the rollout the estimate covers (rounds with both rates measured).
    pub counted_seconds: u64,
}

impl ErrorBudget {
    /// The share of the SLO window's budget spent in `seconds` at `rates`; `None` when it cannot
    /// be told: no requests (no budget to speak of), a rate that is not a number, an objective
    /// outside (0, 1) or an empty window.
    pub fn spent(&self, rates: BudgetRates, seconds: f64) -> Option<f64> {
        let budget_per_second = (1.0 - self.objective) * rates.requests;
        #[allow(clippy::cast_precision_loss)] // a window of seconds, far below 2^52
        let window = self.slo_window_seconds as f64;
        let valid = self.objective > 0.0
            && self.objective < 1.0
            && window > 0.0
            && rates.requests > 0.0
            && rates.canary_errors >= 0.0
            && rates.canary_errors.is_finite()
            && budget_per_second.is_finite();
        valid.then(|| rates.canary_errors * seconds.max(0.0) / (budget_per_second * window))
    }

    /// `spent` added to what a rollout had spent before (`None`: nothing yet).
    pub fn add(
        &self,
        before: Option<&BudgetSpent>,
        rates: BudgetRates,
        seconds: f64,
    ) -> Option<BudgetSpent> {
        let share = self.spent(rates, seconds)?;
        let (fraction, counted) = before.map_or((0.0, 0), |b| (b.fraction, b.counted_seconds));
        // Whole seconds counted; the share itself keeps the fractions.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let seconds = seconds.max(0.0).round() as u64;
        Some(BudgetSpent {
            fraction: fraction + share,
            objective: self.objective,
            slo_window_seconds: self.slo_window_seconds,
            counted_seconds: counted.saturating_add(seconds),
        })
    }
}

impl BudgetSpent {
    /// The share in percent as it reads: `3.1 %`; two significant digits while under 0.1 %
    /// (`0.0049 %`: minutes of a canary are a small share of a month), `<0.0001 %` below that,
    /// `0 %` for nothing.
    pub fn percent(&self) -> String {
        let p = self.fraction * 100.0;
        if p <= 0.0 || !p.is_finite() {
            "0 %".into()
        } else if p < 0.0001 {
            "<0.0001 %".into()
        } else if p < 0.1 {
            // p in [1e-4, 0.1): floor(log10 p) in -4..=-2, so 3 to 5 decimals.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let decimals = (1.0 - p.log10().floor()) as usize;
            format!("{p:.decimals$} %")
        } else {
            format!("{p:.1} %")
        }
    }

    /// How it reads wherever a rollout is shown: `v7 canary: 3.1 % of the budget`.
    pub fn words(&self, version: u32) -> String {
        format!("v{version} canary: {} of the budget", self.percent())
    }

    /// The SLO it is a share of: `99.5 % over 30d`.
    pub fn slo(&self) -> String {
        let w = self.slo_window_seconds;
        let window = if w > 0 && w.is_multiple_of(86_400) {
            format!("{}d", w / 86_400)
        } else {
            crate::text::format_duration(w)
        };
        format!(
            "{} % over {window}",
            crate::policy::metric_value(self.objective * 100.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> ErrorBudget {
        ErrorBudget {
            objective: 0.995,
            slo_window_seconds: 30 * 24 * 3600,
            rate_window_seconds: 60,
            canary_errors_query: "e".into(),
            requests_query: "r".into(),
        }
    }

    #[test]
    fn spent_is_the_canarys_errors_over_the_windows_budget() {
        // 100 requests/s for 30 days with 0.5 % allowed to fail: 1,296,000 errors of budget.
        // One error a second for an hour is 3,600 of them.
        let rates = BudgetRates {
            canary_errors: 1.0,
            requests: 100.0,
        };
        let share = budget().spent(rates, 3600.0).expect("a share");
        assert!((share - 3600.0 / 1_296_000.0).abs() < 1e-12, "{share}");
    }

    #[test]
    fn no_requests_or_a_bad_objective_tells_nothing() {
        let none = BudgetRates {
            canary_errors: 0.0,
            requests: 0.0,
        };
        assert_eq!(budget().spent(none, 60.0), None);
        let rates = BudgetRates {
            canary_errors: 1.0,
            requests: 10.0,
        };
        for objective in [0.0, 1.0, 1.5, f64::NAN] {
            let b = ErrorBudget {
                objective,
                ..budget()
            };
            assert_eq!(b.spent(rates, 60.0), None, "{objective}");
        }
        let nan = BudgetRates {
            canary_errors: f64::NAN,
            requests: 10.0,
        };
        assert_eq!(budget().spent(nan, 60.0), None);
    }

    #[test]
    fn rounds_add_up_and_read_in_percent() {
        let rates = BudgetRates {
            canary_errors: 2.0,
            requests: 100.0,
        };
        let b = budget();
        let one = b.add(None, rates, 30.0).expect("first");
        let two = b.add(Some(&one), rates, 30.0).expect("second");
        assert_eq!(two.counted_seconds, 60);
        assert!((two.fraction - 2.0 * one.fraction).abs() < 1e-15);
        let spent = BudgetSpent {
            fraction: 0.031,
            ..two
        };
        assert_eq!(spent.words(7), "v7 canary: 3.1 % of the budget");
        assert_eq!(spent.slo(), "99.5 % over 30d");
        let at = |fraction| BudgetSpent {
            fraction,
            ..spent.clone()
        };
        assert_eq!(at(0.000_42).percent(), "0.042 %");
        assert_eq!(at(0.000_048_79).percent(), "0.0049 %");
        assert_eq!(at(0.000_001_2).percent(), "0.00012 %");
        assert_eq!(at(0.000_000_1).percent(), "<0.0001 %");
        assert_eq!(at(0.001).percent(), "0.1 %");
        assert_eq!(at(f64::NAN).percent(), "0 %");
        let nothing = BudgetSpent {
            fraction: 0.0,
            ..spent
        };
        assert_eq!(nothing.percent(), "0 %");
    }
}
