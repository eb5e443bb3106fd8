//! Checks of a spec before anything moves; each error names the offending field.

use super::{ApprovalGate, ModelRef, RolloutSpec, Step, default_analysis};
use crate::error::CoreError;

/// Check a spec before anything moves; the error names the offending field.
pub fn validate(spec: &RolloutSpec) -> Result<(), CoreError> {
    let invalid = |field: String, message: String| Err(CoreError::InvalidSpec { field, message });
    if spec.model.name.trim().is_empty() {
        return invalid(
            "spec.model.name".into(),
            "must name a registered model".into(),
        );
    }
    if spec.model.version == 0 {
        return invalid("spec.model.version".into(), "must be 1 or more".into());
    }
    if spec.steps.is_empty() {
        return invalid("spec.steps".into(), "must have at least one step".into());
    }
    if spec.replicas == 0 {
        return invalid("spec.replicas".into(), "must be 1 or more".into());
    }
    let mut previous = 0u8;
    let mut has_analysis_step = false;
    for (i, step) in spec.steps.iter().enumerate() {
        match step {
            Step::SetWeight(w) => {
                if *w > 100 {
                    return invalid(
                        format!("spec.steps[{i}].setWeight"),
                        format!("{w} is over 100"),
                    );
                }
                if *w <= previous {
                    return invalid(
                        format!("spec.steps[{i}].setWeight"),
                        format!("{w} is not above the previous weight {previous}"),
                    );
                }
                previous = *w;
            }
            Step::Analysis(a) => {
                has_analysis_step = true;
                if a.count == 0 {
                    return invalid(
                        format!("spec.steps[{i}].analysis.count"),
                        "must be 1 or more".into(),
                    );
                }
            }
            Step::Approval {} => {
                if spec.approval.required == 0 {
                    return invalid(
                        "spec.approval.required".into(),
                        format!("is 0 but spec.steps[{i}] is an approval step"),
                    );
                }
            }
            Step::Pause(_) => {}
        }
    }
    if has_analysis_step && spec.analysis.metrics.is_empty() {
        return invalid(
            "spec.analysis.metrics".into(),
            "an analysis step needs at least one metric".into(),
        );
    }
    if spec.analysis.failure_limit == 0 {
        return invalid(
            "spec.analysis.failureLimit".into(),
            "must be 1 or more".into(),
        );
    }
    if spec.analysis.interval_seconds == 0 {
        return invalid(
            "spec.analysis.intervalSeconds".into(),
            "must be 1 or more".into(),
        );
    }
    validate_metrics(spec)
}

/// Each metric check of a spec: a query, a threshold, what the threshold compares with.
fn validate_metrics(spec: &RolloutSpec) -> Result<(), CoreError> {
    let invalid = |field: String, message: String| Err(CoreError::InvalidSpec { field, message });
    for (i, m) in spec.analysis.metrics.iter().enumerate() {
        if m.canary_query.trim().is_empty() {
            return invalid(
                format!("spec.analysis.metrics[{i}].canaryQuery"),
                format!("metric {:?} has no query", m.name),
            );
        }
        if m.max.is_none() && m.max_ratio_to_stable.is_none() {
            return invalid(
                format!("spec.analysis.metrics[{i}]"),
                format!(
                    "metric {:?} has no threshold (max or maxRatioToStable)",
                    m.name
                ),
            );
        }
        if m.kind == crate::analysis::MetricKind::SloBurn {
            slo_burn(i, m)?;
        }
        if m.max_ratio_to_stable.is_some() && m.stable_query.is_none() {
            return invalid(
                format!("spec.analysis.metrics[{i}].stableQuery"),
                format!(
                    "metric {:?} compares with stable but has no stable query",
                    m.name
                ),
            );
        }
    }
    Ok(())
}

/// An `slo_burn` check: a positive max burn rate, the stable's burn to tell the canary's
/// doing from the model's, and a budget whose objective is a share of requests.
fn slo_burn(i: usize, m: &crate::analysis::MetricCheck) -> Result<(), CoreError> {
    let invalid = |field: &str, message: String| {
        Err(CoreError::InvalidSpec {
            field: format!("spec.analysis.metrics[{i}]{field}"),
            message,
        })
    };
    if !m.max.is_some_and(|v| v.is_finite() && v > 0.0) {
        return invalid(
            ".max",
            format!(
                "slo_burn metric {:?} needs a max burn rate above 0 (such as 14.4)",
                m.name
            ),
        );
    }
    if m.stable_query.is_none() {
        return invalid(
            ".stableQuery",
            format!(
                "slo_burn metric {:?} compares with the stable's burn but has no stable query",
                m.name
            ),
        );
    }
    if let Some(b) = &m.budget {
        if !(b.objective > 0.0 && b.objective < 1.0) {
            return invalid(
                ".budget.objective",
                format!(
                    "{} is not an availability objective: a number between 0 and 1 such as 0.995",
                    b.objective
                ),
            );
        }
        if b.slo_window_seconds == 0 || b.rate_window_seconds == 0 {
            return invalid(
                ".budget",
                "sloWindowSeconds and rateWindowSeconds must be 1 or more".into(),
            );
        }
    }
    Ok(())
}

/// Check a template's steps as `validate` would check them in a rollout (an approval gate of one,
/// the default analysis). Errors name `steps[i]`.
pub fn validate_steps(steps: &[Step]) -> Result<(), CoreError> {
    let spec = RolloutSpec {
        model: ModelRef {
            name: "template".into(),
            version: 1,
        },
        stable_version: 0,
        deployment: "template".into(),
        image: "template".into(),
        replicas: 1,
        http_route: None,
        steps: steps.to_vec(),
        analysis: default_analysis("template"),
        approval: ApprovalGate { required: 1 },
    };
    validate(&spec).map_err(|e| match e {
        CoreError::InvalidSpec { field, message } => CoreError::InvalidSpec {
            field: field.trim_start_matches("spec.").to_string(),
            message,
        },
        other => other,
    })
}
