//! Builders for tests (this crate's and the console's, through the `test-support` feature).

use super::{AnalysisSpec, AnalysisStep, ApprovalGate, ModelRef, RolloutSpec, Step};
use crate::analysis::{self, MetricCheck};

/// Builders for tests and the demo: `RolloutSpec::test()`.
impl RolloutSpec {
    pub fn test() -> Self {
        Self {
            model: ModelRef {
                name: "fraud-detector".into(),
                version: 7,
            },
            stable_version: 6,
            deployment: "fraud-detector".into(),
            image: "registry.local/fraud-detector:7".into(),
            replicas: 10,
            http_route: None,
            steps: vec![
                Step::SetWeight(10),
                Step::Analysis(AnalysisStep { count: 2 }),
                Step::SetWeight(50),
                Step::Approval {},
                Step::SetWeight(100),
            ],
            analysis: AnalysisSpec {
                interval_seconds: 30,
                failure_limit: 2,
                metrics: vec![MetricCheck {
                    name: "error-rate".into(),
                    kind: analysis::MetricKind::ErrorRate,
                    canary_query: "canary".into(),
                    stable_query: Some("stable".into()),
                    max: Some(0.05),
                    max_ratio_to_stable: Some(2.0),
                    budget: None,
                }],
            },
            approval: ApprovalGate { required: 1 },
        }
    }

    #[must_use]
    pub fn with_steps(mut self, steps: Vec<Step>) -> Self {
        self.steps = steps;
        self
    }
}
