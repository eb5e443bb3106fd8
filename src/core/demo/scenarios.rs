//! The demo's script: the rollouts it starts (when, where, with which steps and how good the canary
//! is) and the operator commands in its history.

use crate::{
    policy::{MetricRule, Policy},
    rollout::{AnalysisStep, Command, PauseStep, Step, Verb},
};

pub(super) struct Scenario {
    pub(super) cluster: &'static str,
    pub(super) model: &'static str,
    /// The canary's version; `None`: the version after the champion (the catalogue's latest of a
    /// model whose versions are not pinned).
    pub(super) version: Option<u32>,
    /// Seconds relative to the demo's start at which the rollout is created.
    pub(super) at: i64,
    pub(super) steps: Vec<Step>,
    pub(super) interval: u64,
    pub(super) failure_limit: u32,
    pub(super) approvals: u32,
    pub(super) canary_error: f64,
    pub(super) canary_latency_ms: f64,
    /// The Gateway API HTTPRoute whose weights follow the canary (replica ratio alone without).
    pub(super) route: Option<&'static str>,
    /// Input features the canary sees differently from the stable (its own feature pipeline):
    /// the shift of each, in the feature's standard deviations.
    pub(super) canary_inputs: &'static [(&'static str, f64)],
    /// Started under the release policy (`release_policy`), as `rollout start` records
    /// policy.toml's rules, with the canary version's `validation_status` tag set to this.
    pub(super) policy: Option<&'static str>,
    /// Started with `--max-burn`: an `slo_burn` check against this availability SLO.
    pub(super) slo_burn: Option<SloBurn>,
}

/// The `slo_burn` check of a scenario's rollout, as `rollout start --max-burn MAX
/// --slo-objective OBJECTIVE` adds it.
pub(super) struct SloBurn {
    pub(super) objective: f64,
    pub(super) max_burn: f64,
}

/// Region → country, for the residency gate (the demo's clusters' regions).
pub(super) const COUNTRIES: [(&str, &str); 3] = [
    ("me-central-1", "AE"),
    ("eu-west-1", "IE"),
    ("us-east-1", "US"),
];

/// The release policy of the demo's policy-gated rollouts, as a platform team would write it in
/// policy.toml: a validated version, accuracy no more than 0.02 under the champion's, training
/// data resident where the cluster runs.
pub(super) fn release_policy() -> Policy {
    Policy {
        validation_tag: Some(("validation_status".into(), "passed".into())),
        metric: Some(MetricRule {
            name: "accuracy".into(),
            higher_is_better: true,
            max_regression: 0.02,
        }),
        residency_tag: Some("data.residency".into()),
        regions: COUNTRIES
            .iter()
            .map(|(r, c)| ((*r).to_string(), (*c).to_string()))
            .collect(),
        change_ticket: false,
    }
}

// Data: the demo's script of rollouts, one literal per scenario; splitting it would only scatter
// the script.
#[allow(clippy::too_many_lines)]
pub(super) fn scenarios() -> Vec<Scenario> {
    let a = |count| Step::Analysis(AnalysisStep { count });
    vec![
        Scenario {
            cluster: "eu-prod",
            model: "search-embedder",
            version: Some(3),
            at: -19 * 60,
            steps: vec![
                Step::SetWeight(10),
                a(2),
                Step::SetWeight(50),
                a(2),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.006,
            canary_latency_ms: 95.0,
            route: None,
            canary_inputs: &[],
            policy: None,
            slo_burn: None,
        },
        Scenario {
            cluster: "uae-prod",
            model: "credit-scorer",
            version: Some(9),
            at: -18 * 60,
            steps: vec![Step::SetWeight(10), a(5), Step::SetWeight(100)],
            interval: 30,
            failure_limit: 3,
            approvals: 1,
            canary_error: 0.009,
            canary_latency_ms: 260.0,
            route: None,
            canary_inputs: &[],
            // Started while its validation was still running: the validation gate failed at
            // start, and says so (an operator aborted it).
            policy: Some("pending"),
            slo_burn: None,
        },
        Scenario {
            cluster: "eu-prod",
            model: "churn-model",
            version: Some(4),
            at: -12 * 60,
            steps: vec![
                Step::SetWeight(20),
                a(2),
                Step::Approval {},
                Step::SetWeight(50),
                Step::Pause(PauseStep {
                    duration_seconds: Some(120),
                }),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 2,
            approvals: 2,
            canary_error: 0.007,
            canary_latency_ms: 120.0,
            route: Some("churn-model"),
            canary_inputs: &[],
            // The release manager's screen: every gate passes, with its evidence.
            policy: Some("passed"),
            slo_burn: None,
        },
        Scenario {
            cluster: "uae-prod",
            model: "pricing-model",
            version: Some(5),
            at: -8 * 60,
            steps: vec![
                Step::SetWeight(50),
                Step::SetWeight(30),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.008,
            canary_latency_ms: 90.0,
            route: None,
            canary_inputs: &[],
            policy: None,
            slo_burn: None,
        },
        Scenario {
            cluster: "us-prod",
            model: "recsys-ranker",
            version: Some(12),
            at: -2 * 60,
            steps: vec![
                Step::SetWeight(10),
                a(3),
                Step::SetWeight(25),
                a(3),
                Step::SetWeight(50),
                a(3),
                Step::SetWeight(100),
            ],
            interval: 60,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.007,
            canary_latency_ms: 140.0,
            route: Some("recsys-ranker"),
            canary_inputs: &[],
            policy: None,
            slo_burn: None,
        },
        Scenario {
            cluster: "uae-prod",
            model: "fraud-detector",
            version: Some(7),
            at: -40,
            steps: vec![
                Step::SetWeight(10),
                a(3),
                Step::SetWeight(30),
                a(3),
                Step::SetWeight(60),
                Step::SetWeight(100),
            ],
            interval: 30,
            failure_limit: 3,
            approvals: 1,
            canary_error: 0.072,
            canary_latency_ms: 310.0,
            route: None,
            // The canary reads merchant_risk from the new feature store.
            canary_inputs: &[("merchant_risk", 0.8)],
            policy: None,
            slo_burn: None,
        },
        // Started with `--max-burn 14.4` against its 99.5 % availability SLO: the canary answers
        // one request in eight with a 5xx, burning its error budget some 25 times faster than
        // the SLO allows while the stable burns under 2×, and the slo-burn check rolls it back.
        Scenario {
            cluster: "us-prod",
            model: "image-tagger",
            version: None,
            at: -7 * 60,
            steps: vec![Step::SetWeight(10), a(3), Step::SetWeight(100)],
            interval: 30,
            failure_limit: 2,
            approvals: 1,
            canary_error: 0.125,
            canary_latency_ms: 120.0,
            route: None,
            canary_inputs: &[],
            policy: None,
            slo_burn: Some(SloBurn {
                objective: 0.995,
                max_burn: 14.4,
            }),
        },
    ]
}

/// Operator commands the demo's history contains: (seconds from start, model, user, command).
pub(super) fn scripted_commands() -> Vec<(i64, &'static str, Command)> {
    vec![
        (
            -16 * 60,
            "credit-scorer",
            Command::new(
                Verb::Abort,
                "omar.h",
                "p99 latency regression on eu traffic",
            ),
        ),
        (
            -5 * 60,
            "churn-model",
            Command::new(
                Verb::Approve,
                "dana.k",
                "offline eval +1.8% AUC vs champion; drift on monthly_charges is seasonal",
            ),
        ),
    ]
}
