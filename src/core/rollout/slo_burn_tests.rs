//! The `slo_burn` check in the state machine: a canary that burns its error budget while the
//! stable does not is rolled back, naming the check; one that burns like the stable is promoted;
//! the budget it spent adds up in the status.

use chrono::{Duration, TimeZone};

use super::*;
use crate::analysis::{BudgetRates, Sample};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .expect("valid time")
        + Duration::seconds(secs)
}

/// A quick rollout with only the `slo_burn` check: 50 %, two passing rounds, 100 %.
fn spec() -> RolloutSpec {
    let mut spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(50),
        Step::Analysis(AnalysisStep { count: 2 }),
        Step::SetWeight(100),
    ]);
    spec.analysis.metrics = vec![slo_burn_check(
        "fraud-detector",
        7,
        0.995,
        14.4,
        30,
        SLO_WINDOW_SECONDS,
    )];
    spec
}

fn obs(secs: i64, samples: Option<Vec<Sample>>) -> Observation {
    Observation {
        now: t(secs),
        canary_ready: true,
        samples,
        generation: 1,
        gates: Gates::None,
    }
}

/// One round: the burn rates, and the canary's errors and the model's requests per second.
fn round(canary: f64, stable: f64, rates: Option<BudgetRates>) -> Vec<Sample> {
    vec![Sample {
        canary: Some(canary),
        stable: Some(stable),
        budget: rates,
        ..Sample::empty("slo-burn")
    }]
}

/// Started and at 50 %, its canary ready, at `t(1)`.
fn started(spec: &RolloutSpec) -> RolloutStatus {
    let s = reconcile(spec, &RolloutStatus::default(), &obs(0, None)).status;
    reconcile(spec, &s, &obs(1, None)).status
}

#[test]
fn the_check_reads_both_tracks_burn_rates_and_the_budget_rates() {
    let c = spec().analysis.metrics.remove(0);
    assert_eq!(c.kind, crate::analysis::MetricKind::SloBurn);
    assert!(
        c.canary_query.contains(
            "model=\"fraud-detector\",version=\"7\",track=\"canary\",code=~\"5..\"}[60s]"
        ) && c.canary_query.ends_with(") / (1 - 0.995)"),
        "{}",
        c.canary_query
    );
    let stable = c.stable_query.expect("a stable query");
    assert!(
        stable.contains("track=\"stable\"") && !stable.contains("version="),
        "{stable}"
    );
    let b = c.budget.expect("a budget");
    assert_eq!((b.objective, b.slo_window_seconds), (0.995, 30 * 86_400));
    assert_eq!(
        b.requests_query,
        "sum(rate(model_requests_total{model=\"fraud-detector\"}[60s]))"
    );
    assert!(b.canary_errors_query.contains("code=~\"5..\""));
    validate(&spec()).expect("valid");
}

#[test]
fn a_canary_burning_its_budget_is_rolled_back_by_the_check() {
    let spec = spec();
    let s = started(&spec);
    let s = reconcile(&spec, &s, &obs(1, Some(round(25.0, 0.4, None)))).status;
    assert_eq!(s.failures, 1);
    let d = reconcile(&spec, &s, &obs(31, Some(round(26.0, 0.5, None))));
    assert_eq!(d.status.phase, Phase::RolledBack);
    let back = d
        .status
        .history
        .iter()
        .find(|h| h.to == Phase::RollingBack)
        .expect("rolled back");
    assert_eq!(back.reason, "analysis failed 2 times (limit 2): slo-burn");
    let last = d.status.measurements.last().expect("measured");
    assert_eq!(
        last.reason,
        "canary burns 26.0× its error budget > max 14.4× (stable 0.5×)"
    );
    assert!(
        d.effects
            .iter()
            .any(|e| matches!(e, Effect::Event { message, .. }
            if message.contains("slo-burn"))),
        "the event names the check: {:?}",
        d.effects
    );
}

#[test]
fn a_canary_burning_like_its_stable_is_promoted() {
    let spec = spec();
    let s = started(&spec);
    let s = reconcile(&spec, &s, &obs(1, Some(round(0.5, 0.4, None)))).status;
    let s = reconcile(&spec, &s, &obs(31, Some(round(0.4, 0.4, None)))).status;
    let s = reconcile(&spec, &s, &obs(32, None)).status;
    assert_eq!(s.phase, Phase::Promoted, "{:?}", s.history);
    assert_eq!(s.failures, 0);
}

#[test]
fn a_stable_burning_too_does_not_roll_the_canary_back() {
    let spec = spec();
    let s = started(&spec);
    let s = reconcile(&spec, &s, &obs(1, Some(round(30.0, 20.0, None)))).status;
    let s = reconcile(&spec, &s, &obs(31, Some(round(30.0, 20.0, None)))).status;
    assert_eq!((s.phase, s.failures), (Phase::Progressing, 0));
    assert_eq!(
        s.latest_verdict(),
        Some(crate::analysis::Verdict::Inconclusive)
    );
}

#[test]
fn the_budget_spent_adds_up_over_the_rounds() {
    let spec = RolloutSpec {
        steps: vec![
            Step::SetWeight(50),
            Step::Analysis(AnalysisStep { count: 9 }),
            Step::SetWeight(100),
        ],
        ..spec()
    };
    let s = started(&spec);
    assert_eq!(s.canary_budget_spent, None, "nothing measured yet");
    // 0.5 errors/s of 100 requests/s: 30-day budget 0.005 × 100 × 2,592,000 = 1,296,000.
    let rates = Some(BudgetRates {
        canary_errors: 0.5,
        requests: 100.0,
    });
    // The first round counts from the step's start (t 1): nothing yet at t 1.
    let s = reconcile(&spec, &s, &obs(1, Some(round(1.0, 0.4, rates)))).status;
    let spent = s.canary_budget_spent.clone().expect("spent");
    assert_eq!((spent.fraction, spent.counted_seconds), (0.0, 0));
    // 30 s later: 15 errors.
    let s = reconcile(&spec, &s, &obs(31, Some(round(1.0, 0.4, rates)))).status;
    let spent = s.canary_budget_spent.clone().expect("spent");
    assert!(
        (spent.fraction - 15.0 / 1_296_000.0).abs() < 1e-15,
        "{spent:?}"
    );
    assert_eq!(spent.counted_seconds, 30);
    // A round without the rates adds nothing; one long after counts the rate window only.
    let s = reconcile(&spec, &s, &obs(61, Some(round(1.0, 0.4, None)))).status;
    assert_eq!(s.canary_budget_spent.as_ref(), Some(&spent));
    let s = reconcile(&spec, &s, &obs(3661, Some(round(1.0, 0.4, rates)))).status;
    let later = s.canary_budget_spent.expect("spent");
    assert_eq!(later.counted_seconds, 90, "30 s, then a 60 s rate window");
    assert!(
        (later.fraction - 45.0 / 1_296_000.0).abs() < 1e-15,
        "{later:?}"
    );
}

#[test]
fn a_spec_with_a_bad_slo_burn_check_is_refused_naming_the_field() {
    let bad = |change: &dyn Fn(&mut crate::analysis::MetricCheck)| {
        let mut spec = spec();
        change(&mut spec.analysis.metrics[0]);
        match validate(&spec) {
            Err(crate::CoreError::InvalidSpec { field, message }) => format!("{field}: {message}"),
            other => panic!("not refused: {other:?}"),
        }
    };
    let e = bad(&|m| m.max = Some(0.0));
    assert!(e.starts_with("spec.analysis.metrics[0].max: "), "{e}");
    assert!(e.contains("max burn rate above 0"), "{e}");
    let e = bad(&|m| m.stable_query = None);
    assert!(e.starts_with("spec.analysis.metrics[0].stableQuery"), "{e}");
    let e = bad(&|m| {
        if let Some(b) = m.budget.as_mut() {
            b.objective = 99.5;
        }
    });
    assert!(
        e.starts_with("spec.analysis.metrics[0].budget.objective: 99.5 is not"),
        "{e}"
    );
}
