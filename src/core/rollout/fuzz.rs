//! Property tests: whatever a ModelRollout's spec and status say — they come from the cluster,
//! where anyone with write access can put any number in them — the core decides, refuses or
//! previews without panicking (in debug builds, an arithmetic overflow is a panic too).

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::analysis::Sample;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any::<u8>().prop_map(Step::SetWeight),
        proptest::option::of(any::<u64>())
            .prop_map(|duration_seconds| Step::Pause(PauseStep { duration_seconds })),
        any::<u32>().prop_map(|count| Step::Analysis(AnalysisStep { count })),
        Just(Step::Approval {}),
    ]
}

fn time() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    // Anything chrono can hold, from year -262143 to 262142.
    proptest::option::of(
        (-8_210_266_876_800i64..8_210_298_412_799)
            .prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default()),
    )
}

prop_compose! {
    fn spec()(
        steps in proptest::collection::vec(step(), 0..7),
        replicas in any::<u32>(),
        required in any::<u32>(),
        interval in any::<u64>(),
        failure_limit in any::<u32>(),
        version in any::<u32>(),
        stable in any::<u32>(),
    ) -> RolloutSpec {
        let mut s = RolloutSpec::test().with_steps(steps);
        s.replicas = replicas;
        s.approval.required = required;
        s.analysis.interval_seconds = interval;
        s.analysis.failure_limit = failure_limit;
        s.model.version = version;
        s.stable_version = stable;
        s
    }
}

prop_compose! {
    fn status()(
        phase in proptest::sample::select(Phase::ALL.to_vec()),
        current_step in any::<usize>(),
        weight in any::<u8>(),
        step_started_at in time(),
        last_measurement_at in time(),
        failures in any::<u32>(),
        passes_in_step in any::<u32>(),
        approvers in 0usize..4,
        user_paused in any::<bool>(),
        undo_promotion in any::<bool>(),
        observed_generation in proptest::option::of(any::<i64>()),
    ) -> RolloutStatus {
        RolloutStatus {
            phase,
            current_step,
            weight,
            step_started_at,
            last_measurement_at,
            failures,
            passes_in_step,
            approvals: (0..approvers)
                .map(|i| Approval {
                    user: format!("user{i}"),
                    time: Utc::now(),
                    comment: String::new(),
                })
                .collect(),
            user_paused,
            undo_promotion,
            observed_generation,
            ..RolloutStatus::default()
        }
    }
}

fn samples() -> impl Strategy<Value = Option<Vec<Sample>>> {
    let value = proptest::option::of(prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]);
    proptest::option::of(proptest::collection::vec(
        (value.clone(), value).prop_map(|(canary, stable)| Sample {
            canary,
            stable,
            ..Sample::empty("error-rate")
        }),
        0..3,
    ))
}

/// Any verdict of the policy gates, as the driver may observe them.
fn gates() -> impl Strategy<Value = super::Gates> {
    prop_oneof![
        Just(super::Gates::None),
        Just(super::Gates::Unchecked),
        ".{0,40}".prop_map(super::Gates::Unknown),
        (any::<bool>(), ".{0,40}").prop_map(|(ok, evidence)| {
            super::Gates::Decided(crate::policy::Verdict {
                model: "m".into(),
                version: 1,
                cluster: "c".into(),
                allowed: ok,
                checks: vec![crate::policy::Check {
                    gate: "validation".into(),
                    ok,
                    evidence,
                }],
                pinned_regions: None,
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_spec_and_status_from_the_cluster_is_decided_without_a_panic(
        spec in spec(),
        status in status(),
        canary_ready in any::<bool>(),
        samples in samples(),
        now in time(),
        generation in any::<i64>(),
        gates in gates(),
    ) {
        let now = now.unwrap_or_else(Utc::now);
        let _ = validate(&spec);
        let _ = analysis_due(&spec, &status, now);
        let _ = super::gates_due(&status);
        let obs = Observation { now, canary_ready, samples, generation, gates };
        let decision = reconcile(&spec, &status, &obs);
        let record = RolloutRecord {
            name: "r".into(),
            namespace: "ns".into(),
            cluster: "c".into(),
            created: now,
            spec: spec.clone(),
            status: status.clone(),
            policy: None,
        };
        for verb in Verb::ALL {
            let command = Command::new(verb, "someone", "why");
            if let Ok(d) = apply_command("r", &spec, &status, &command, now) {
                let _ = preview(&spec, &status, &d, Alias::Unset);
                let _ = command_audit(&record, &command, &d.status, now);
            }
            let _ = record_command("r", &spec, &status, &command, now);
        }
        let _ = preview(&spec, &status, &decision, Alias::At(3));
        let _ = status.latest_verdict();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any CSV a user hands `mlops drift` is read (bad rows named) or refused, never a panic.
    #[test]
    fn any_csv_is_read_or_refused_without_a_panic(
        text in "[a-z0-9,.\"\n\r -]{0,300}",
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let none = std::collections::BTreeSet::new();
        let _ = crate::drift::table::read_csv(text.as_bytes(), "x.csv", &none);
        let _ = crate::drift::table::read_csv(bytes.as_slice(), "x.csv", &none);
    }
}
