use chrono::{Duration, TimeZone};

use super::*;
use crate::{CoreError, analysis::Sample};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .expect("valid time")
        + Duration::seconds(secs)
}

fn obs(secs: i64, ready: bool) -> Observation {
    Observation {
        now: t(secs),
        canary_ready: ready,
        samples: None,
        generation: 1,
        gates: crate::rollout::Gates::None,
    }
}

fn with_samples(secs: i64, canary: f64, stable: f64) -> Observation {
    Observation {
        samples: Some(vec![Sample {
            canary: Some(canary),
            stable: Some(stable),
            ..Sample::empty("error-rate")
        }]),
        ..obs(secs, true)
    }
}

fn drive(spec: &RolloutSpec, status: &RolloutStatus, o: &Observation) -> RolloutStatus {
    reconcile(spec, status, o).status
}

#[test]
fn pending_starts_and_sets_first_weight() {
    let spec = RolloutSpec::test();
    let d = reconcile(&spec, &RolloutStatus::default(), &obs(0, false));
    assert_eq!(d.status.phase, Phase::Progressing);
    assert_eq!(d.status.weight, 10);
    assert!(d.effects.contains(&Effect::SetWeight { weight: 10 }));
    assert_eq!(d.status.current_step, 0);
    assert_eq!(d.status.observed_generation, Some(1));
}

#[test]
fn reconcile_is_idempotent_while_waiting() {
    let spec = RolloutSpec::test();
    let first = reconcile(&spec, &RolloutStatus::default(), &obs(0, false));
    let second = reconcile(&spec, &first.status, &obs(0, false));
    assert_eq!(second.status, first.status);
    assert!(
        second.effects.is_empty(),
        "no effect twice: {:?}",
        second.effects
    );
}

#[test]
fn weight_step_advances_only_when_canary_is_ready() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(5, false));
    assert_eq!(s.current_step, 0);
    let s = drive(&spec, &s, &obs(10, true));
    assert_eq!(s.current_step, 1, "moved to the analysis step");
    assert_eq!(s.phase, Phase::Progressing);
}

#[test]
fn analysis_passes_then_next_weight_then_approval_gate() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    assert!(analysis_due(&spec, &s, t(1)));
    let s = drive(&spec, &s, &with_samples(1, 0.01, 0.01));
    assert_eq!(s.passes_in_step, 1);
    assert!(!analysis_due(&spec, &s, t(10)), "interval not yet elapsed");
    assert!(analysis_due(&spec, &s, t(31)));
    let d = reconcile(&spec, &s, &with_samples(31, 0.01, 0.01));
    assert_eq!(d.status.current_step, 2);
    assert_eq!(d.status.weight, 50);
    assert!(d.effects.contains(&Effect::SetWeight { weight: 50 }));
    let s = drive(&spec, &d.status, &obs(40, true));
    assert_eq!(s.phase, Phase::AwaitingApproval);
    assert_eq!(s.current_step, 3);
}

fn awaiting_approval() -> (RolloutSpec, RolloutStatus) {
    let spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(20),
        Step::Approval {},
        Step::SetWeight(100),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    assert_eq!(s.phase, Phase::AwaitingApproval);
    (spec, s)
}

#[test]
fn approval_moves_past_the_gate_and_promotes() {
    let (spec, s) = awaiting_approval();
    let cmd = Command::new(Verb::Approve, "alice", "evidence looks good");
    let d = apply_command("r", &spec, &s, &cmd, t(2)).expect("approve accepted");
    assert_eq!(d.status.approvals.len(), 1);
    assert_eq!(d.status.approvals[0].comment, "evidence looks good");
    // Who approved and why is in the history, as for every verb.
    assert!(
        d.status
            .history
            .iter()
            .any(|h| h.reason == "approved by alice: evidence looks good (1/1)"),
        "{:#?}",
        d.status.history
    );
    assert_eq!(d.status.current_step, 2);
    assert_eq!(d.status.weight, 100);
    let d = reconcile(&spec, &d.status, &obs(3, true));
    assert_eq!(d.status.phase, Phase::Promoted);
    assert!(d.effects.contains(&Effect::PromoteStable { version: 7 }));
    assert!(d.effects.contains(&Effect::MoveAlias {
        model: "fraud-detector".into(),
        alias: "champion".into(),
        version: 7
    }));
    // Promoted is terminal: reconciling again does nothing.
    let again = reconcile(&spec, &d.status, &obs(4, true));
    assert!(again.effects.is_empty());
    assert_eq!(again.status.phase, Phase::Promoted);
}

#[test]
fn two_person_rule_needs_distinct_users() {
    let (mut spec, s) = awaiting_approval();
    spec.approval.required = 2;
    let approve = |user: &str| Command::new(Verb::Approve, user, "");
    let d = apply_command("r", &spec, &s, &approve("alice"), t(2)).expect("first approval");
    assert_eq!(d.status.phase, Phase::AwaitingApproval);
    let dup = apply_command("r", &spec, &d.status, &approve("alice"), t(3));
    assert!(matches!(dup, Err(CoreError::DuplicateApproval { .. })));
    let d = apply_command("r", &spec, &d.status, &approve("bob"), t(4)).expect("second approval");
    assert_eq!(d.status.current_step, 2);
}

#[test]
fn promote_cannot_bypass_an_approval_gate() {
    let (spec, s) = awaiting_approval();
    let err = apply_command(
        "r",
        &spec,
        &s,
        &Command::new(Verb::Promote, "operator", ""),
        t(2),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("use approve"), "{err}");
    let early = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let err = apply_command(
        "r",
        &spec,
        &early,
        &Command::new(Verb::PromoteFull, "operator", ""),
        t(1),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("approval gate"), "{err}");
}

#[test]
fn promote_full_without_gates_goes_straight_to_promoted() {
    let spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(10),
        Step::Pause(PauseStep {
            duration_seconds: None,
        }),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let d = apply_command(
        "r",
        &spec,
        &s,
        &Command::new(Verb::PromoteFull, "operator", ""),
        t(1),
    )
    .expect("accepted");
    assert_eq!(d.status.phase, Phase::Promoted);
}

#[test]
fn indefinite_pause_waits_for_promote() {
    let spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(10),
        Step::Pause(PauseStep {
            duration_seconds: None,
        }),
        Step::SetWeight(100),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    assert_eq!(s.phase, Phase::Paused);
    let s = drive(&spec, &s, &obs(10_000, true));
    assert_eq!(s.phase, Phase::Paused, "still paused much later");
    let d = apply_command(
        "r",
        &spec,
        &s,
        &Command::new(Verb::Promote, "operator", ""),
        t(10_001),
    )
    .expect("accepted");
    assert_eq!(d.status.current_step, 2);
    assert_eq!(d.status.weight, 100);
}

#[test]
fn timed_pause_ends_by_itself() {
    let spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(10),
        Step::Pause(PauseStep {
            duration_seconds: Some(60),
        }),
        Step::SetWeight(30),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    assert_eq!(s.phase, Phase::Paused);
    let s = drive(&spec, &s, &obs(30, true));
    assert_eq!(s.phase, Phase::Paused);
    let s = drive(&spec, &s, &obs(61, true));
    assert_eq!(s.current_step, 2);
    assert_eq!(s.weight, 30);
}

#[test]
fn failing_analysis_rolls_back_at_the_failure_limit() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    let s = drive(&spec, &s, &with_samples(2, 0.2, 0.01));
    assert_eq!(s.failures, 1);
    assert_eq!(s.phase, Phase::Progressing);
    let d = reconcile(&spec, &s, &with_samples(40, 0.2, 0.01));
    assert_eq!(d.status.phase, Phase::RolledBack);
    assert_eq!(d.status.weight, 0);
    assert!(d.effects.contains(&Effect::AbortCanary));
    assert!(
        d.effects
            .iter()
            .any(|e| matches!(e, Effect::Event { warning: true, .. }))
    );
    let last = d.status.history.last().expect("history");
    assert_eq!(last.to, Phase::RolledBack);
}

#[test]
fn inconclusive_measurements_neither_pass_nor_fail() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    let o = Observation {
        samples: Some(vec![]),
        ..obs(2, true)
    };
    let s = drive(&spec, &s, &o);
    assert_eq!((s.failures, s.passes_in_step), (0, 0));
    assert_eq!(s.latest_verdict(), Some(Verdict::Inconclusive));
    assert_eq!(
        s.current_step, 1,
        "an unreachable metrics store does not pass analysis"
    );
}

#[test]
fn illegal_commands_are_refused_with_the_phase() {
    let spec = RolloutSpec::test();
    let rolled_back = RolloutStatus {
        phase: Phase::RolledBack,
        ..RolloutStatus::default()
    };
    for cmd in [
        Command::new(Verb::Promote, "operator", ""),
        Command::new(Verb::PromoteFull, "operator", ""),
        Command::new(Verb::Approve, "a", ""),
        Command::new(Verb::Abort, "a", ""),
        Command::new(Verb::Pause, "a", ""),
        Command::new(Verb::Resume, "a", ""),
    ] {
        let err = apply_command("fraud-v7", &spec, &rolled_back, &cmd, t(0)).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("fraud-v7 is RolledBack"), "{text}");
        assert!(text.contains(cmd.verb()), "{text}");
    }
}

#[test]
fn abort_and_rollback_of_a_promoted_rollout() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let d = apply_command(
        "r",
        &spec,
        &s,
        &Command::new(Verb::Abort, "bob", "bad"),
        t(1),
    )
    .expect("abort");
    assert_eq!(d.status.phase, Phase::RolledBack);
    assert!(d.effects.contains(&Effect::AbortCanary));

    let promoted = RolloutStatus {
        phase: Phase::Promoted,
        weight: 100,
        ..RolloutStatus::default()
    };
    let d = apply_command(
        "r",
        &spec,
        &promoted,
        &Command::new(Verb::Rollback, "bob", "regression"),
        t(1),
    )
    .expect("rollback");
    assert_eq!(d.status.phase, Phase::RolledBack);
    assert!(d.effects.contains(&Effect::RestoreStable { version: 6 }));
    assert!(d.effects.contains(&Effect::MoveAlias {
        model: "fraud-detector".into(),
        alias: "champion".into(),
        version: 6
    }));
}

#[test]
fn operator_pause_holds_every_step_until_resume() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let d =
        apply_command("r", &spec, &s, &Command::new(Verb::Pause, "a", ""), t(1)).expect("pause");
    assert_eq!(d.status.phase, Phase::Paused);
    let history_len = d.status.history.len();
    let s = drive(&spec, &d.status, &obs(100, true));
    assert_eq!(s.phase, Phase::Paused);
    assert_eq!(
        s.current_step, 0,
        "a ready canary does not advance a paused rollout"
    );
    assert_eq!(
        s.history.len(),
        history_len,
        "reconciling a paused rollout adds no history"
    );
    assert!(apply_command("r", &spec, &s, &Command::new(Verb::Pause, "a", ""), t(101)).is_err());
    let d = apply_command("r", &spec, &s, &Command::new(Verb::Resume, "a", ""), t(102))
        .expect("resume");
    let s = drive(&spec, &d.status, &obs(103, true));
    assert_eq!(s.current_step, 1);
}

#[test]
fn invalid_specs_fail_with_the_field_named() {
    let cases: Vec<(RolloutSpec, &str)> = vec![
        (RolloutSpec::test().with_steps(vec![]), "spec.steps"),
        (
            RolloutSpec::test().with_steps(vec![Step::SetWeight(150)]),
            "spec.steps[0].setWeight",
        ),
        (
            RolloutSpec::test().with_steps(vec![Step::SetWeight(40), Step::SetWeight(20)]),
            "spec.steps[1].setWeight",
        ),
        (
            RolloutSpec {
                model: ModelRef {
                    name: String::new(),
                    version: 1,
                },
                ..RolloutSpec::test()
            },
            "spec.model.name",
        ),
        (
            {
                let mut s = RolloutSpec::test();
                s.analysis.metrics.clear();
                s
            },
            "spec.analysis.metrics",
        ),
        (
            {
                let mut s = RolloutSpec::test();
                s.analysis.metrics[0].max = None;
                s.analysis.metrics[0].max_ratio_to_stable = None;
                s
            },
            "spec.analysis.metrics[0]",
        ),
    ];
    for (spec, field) in cases {
        let d = reconcile(&spec, &RolloutStatus::default(), &obs(0, true));
        assert_eq!(d.status.phase, Phase::Failed, "{field}");
        assert!(
            d.effects
                .iter()
                .all(|e| !matches!(e, Effect::SetWeight { .. })),
            "no traffic shift for {field}"
        );
        let cond = d
            .status
            .conditions
            .iter()
            .find(|c| c.kind == "SpecValid")
            .expect("condition");
        assert!(!cond.status);
        assert!(
            cond.message.contains(field),
            "{} should name {field}",
            cond.message
        );
    }
}

#[test]
fn replica_split_approximates_weight() {
    assert_eq!(replica_split(10, 0), (10, 0));
    assert_eq!(replica_split(10, 10), (9, 1));
    assert_eq!(replica_split(10, 25), (7, 3));
    assert_eq!(replica_split(10, 100), (0, 10));
    assert_eq!(
        replica_split(3, 1),
        (2, 1),
        "any weight gets at least one canary"
    );
    assert_eq!(replica_split(1, 50), (0, 1));
}

#[test]
fn spec_serializes_like_a_custom_resource() {
    let spec = RolloutSpec::test();
    let json = serde_json::to_value(&spec).expect("serializes");
    assert_eq!(json["steps"][0], serde_json::json!({"setWeight": 10}));
    assert_eq!(
        json["steps"][1],
        serde_json::json!({"analysis": {"count": 2}})
    );
    assert_eq!(json["analysis"]["failureLimit"], 2);
    let back: RolloutSpec = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, spec);
}

#[test]
fn every_shipped_template_is_a_valid_spec() {
    for t in templates() {
        let spec = RolloutSpec {
            analysis: default_analysis("m"),
            ..RolloutSpec::test().with_steps(t.steps)
        };
        validate(&spec).unwrap_or_else(|e| panic!("template {}: {e}", t.name));
    }
}

#[test]
fn steps_parse_from_the_compact_form_and_print_back() {
    let parsed: Vec<Step> = [
        "setWeight 10",
        "SETWEIGHT 20%",
        "pause",
        "pause 5m",
        "pause 90",
        "analysis 3",
        "analysis",
        "approval",
    ]
    .iter()
    .map(|s| s.parse().expect(s))
    .collect();
    assert_eq!(
        parsed,
        vec![
            Step::SetWeight(10),
            Step::SetWeight(20),
            Step::Pause(PauseStep {
                duration_seconds: None
            }),
            Step::Pause(PauseStep {
                duration_seconds: Some(300)
            }),
            Step::Pause(PauseStep {
                duration_seconds: Some(90)
            }),
            Step::Analysis(AnalysisStep { count: 3 }),
            Step::Analysis(AnalysisStep { count: 1 }),
            Step::Approval {},
        ]
    );
    for t in templates() {
        for step in t.steps {
            let text = step.to_string().replace('×', "");
            let again: Step = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(again, step, "{text}");
        }
    }
}

#[test]
fn bad_steps_say_what_is_wrong_and_what_is_valid() {
    for (text, says) in [
        ("setWeight 120", "\"120\" is not a number from 0 to 100"),
        ("setweigth 10", "unknown step kind \"setweigth\""),
        ("pause 5 minutes", "wrong number of arguments"),
        ("pause 5w", "\"5w\" is not like 90s"),
        ("analysis 0", "count \"0\""),
        ("", "empty step"),
    ] {
        let e = text.parse::<Step>().expect_err(text);
        assert!(e.contains(says), "{text:?}: {e}");
        assert!(e.contains("approval"), "lists the valid forms: {e}");
    }
}

#[test]
fn recorded_commands_change_only_the_status_and_the_controller_carries_them_out() {
    let (spec, s) = awaiting_approval();
    let approve = Command::new(Verb::Approve, "alice", "ok");
    let recorded = record_command("r", &spec, &s, &approve, t(2)).expect("approve");
    assert_eq!(
        (recorded.phase, recorded.approvals.len(), recorded.weight),
        (Phase::AwaitingApproval, 1, 20),
        "still at the gate"
    );
    let d = reconcile(&spec, &recorded, &obs(3, true));
    assert_eq!(d.status.weight, 100, "the next reconcile leaves the gate");
    assert!(d.effects.contains(&Effect::SetWeight { weight: 100 }));

    let abort = Command::new(Verb::Abort, "bob", "bad");
    let recorded = record_command("r", &spec, &s, &abort, t(4)).expect("abort");
    assert_eq!(
        (recorded.phase, recorded.weight),
        (Phase::RollingBack, 20),
        "traffic untouched until the controller acts"
    );
    let d = reconcile(&spec, &recorded, &obs(5, true));
    assert_eq!(d.status.phase, Phase::RolledBack);
    assert!(d.effects.contains(&Effect::AbortCanary));
    assert!(
        record_command("r", &spec, &d.status, &abort, t(6)).is_err(),
        "refusals are the same"
    );
}

#[test]
fn pause_and_resume_previews_say_what_holds() {
    // M9: an operator's pause previewed only as "traffic: unchanged".
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let pause =
        apply_command("r", &spec, &s, &Command::new(Verb::Pause, "a", ""), t(1)).expect("pause");
    let lines = preview(&spec, &s, &pause, Alias::Unknown);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("hold: at step 1/") && l.contains("until someone resumes")),
        "{lines:#?}"
    );
    let resume = apply_command(
        "r",
        &spec,
        &pause.status,
        &Command::new(Verb::Resume, "a", ""),
        t(2),
    )
    .expect("resume");
    let lines = preview(&spec, &pause.status, &resume, Alias::Unknown);
    assert!(
        lines.iter().any(|l| l.starts_with("hold: released")),
        "{lines:#?}"
    );
}

/// Found by the property tests: replicas and pause lengths from the cluster at their limits
/// overflowed (a panic in debug builds, a wrong split in release).
#[test]
fn replica_splits_and_pauses_at_their_limits() {
    assert_eq!(
        replica_split(u32::MAX, 50),
        (u32::MAX / 2, u32::MAX / 2 + 1)
    );
    assert_eq!(replica_split(0, 50), (0, 0));
    assert_eq!(replica_split(1, 50), (0, 1));
    let spec = RolloutSpec::test().with_steps(vec![Step::Pause(PauseStep {
        duration_seconds: Some(u64::MAX),
    })]);
    let status = RolloutStatus {
        phase: Phase::Progressing,
        step_started_at: Some(t(0)),
        ..RolloutStatus::default()
    };
    let d = reconcile(
        &spec,
        &status,
        &Observation {
            now: t(10),
            canary_ready: true,
            samples: None,
            generation: 0,
            gates: crate::rollout::Gates::None,
        },
    );
    assert_eq!(
        d.status.phase,
        Phase::Paused,
        "still pausing: {}",
        d.status.message
    );
}

fn verdict(allowed: bool) -> crate::policy::Verdict {
    crate::policy::Verdict {
        model: "m".into(),
        version: 2,
        cluster: "prod".into(),
        allowed,
        checks: vec![crate::policy::Check {
            gate: "validation".into(),
            ok: allowed,
            evidence: if allowed {
                "tag validation_status=passed".into()
            } else {
                "tag validation_status=revoked, not passed".into()
            },
        }],
        pinned_regions: None,
    }
}

#[test]
fn a_rollout_under_a_policy_waits_in_promoting_until_its_gates_are_decided() {
    let spec = RolloutSpec::test().with_steps(vec![Step::SetWeight(10)]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    // The canary is ready and the last step done: the rollout reaches Promoting and waits
    // there, with nothing promoted, until the driver decides the gates.
    let unchecked = Observation {
        gates: Gates::Unchecked,
        ..obs(1, true)
    };
    let d = reconcile(&spec, &s, &unchecked);
    assert_eq!(d.status.phase, Phase::Promoting);
    assert!(
        !d.effects
            .iter()
            .any(|e| matches!(e, Effect::PromoteStable { .. })),
        "{:?}",
        d.effects
    );
    assert!(gates_due(&d.status));
    // Gates that cannot be decided (the registry is down) keep it waiting, saying why.
    let unknown = reconcile(
        &spec,
        &d.status,
        &Observation {
            gates: Gates::Unknown("mlflow: connection refused".into()),
            ..obs(2, true)
        },
    );
    assert_eq!(unknown.status.phase, Phase::Promoting);
    assert!(unknown.effects.is_empty());
    let c = unknown
        .status
        .conditions
        .iter()
        .find(|c| c.kind == POLICY_CONDITION)
        .expect("condition");
    assert!(
        !c.status && c.message.contains("connection refused"),
        "{c:?}"
    );
    // Passed: promoted, with the evidence in the condition.
    let passed = reconcile(
        &spec,
        &unknown.status,
        &Observation {
            gates: Gates::Decided(verdict(true)),
            ..obs(3, true)
        },
    );
    assert_eq!(passed.status.phase, Phase::Promoted);
    assert!(passed.effects.contains(&Effect::PromoteStable {
        version: spec.model.version
    }));
    let c = passed
        .status
        .conditions
        .iter()
        .find(|c| c.kind == POLICY_CONDITION)
        .expect("condition");
    assert!(c.status && c.message.contains("validation ✓"), "{c:?}");
}

#[test]
fn a_gate_that_fails_before_promotion_rolls_the_canary_back_naming_it() {
    let spec = RolloutSpec::test().with_steps(vec![Step::SetWeight(10)]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = reconcile(
        &spec,
        &s,
        &Observation {
            gates: Gates::Unchecked,
            ..obs(1, true)
        },
    )
    .status;
    let d = reconcile(
        &spec,
        &s,
        &Observation {
            gates: Gates::Decided(verdict(false)),
            ..obs(2, true)
        },
    );
    assert_eq!(d.status.phase, Phase::RolledBack);
    assert!(d.effects.contains(&Effect::AbortCanary), "{:?}", d.effects);
    assert!(
        !d.effects
            .iter()
            .any(|e| matches!(e, Effect::PromoteStable { .. })),
        "{:?}",
        d.effects
    );
    let why = d
        .status
        .history
        .iter()
        .find(|h| h.to == Phase::RollingBack)
        .map(|h| h.reason.clone())
        .unwrap_or_default();
    assert!(
        why.contains("policy gates failed before promotion")
            && why.contains("validation: tag validation_status=revoked"),
        "{why}"
    );
}

/// Promoting a canary whose analysis has failed needs a reason (UX walk M5: it needed none and
/// the preview did not warn); the same promotion with a comment goes through, and one whose
/// analysis passes needs none.
#[test]
fn promoting_against_a_failing_analysis_needs_a_comment_and_says_what_failed() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &obs(1, true));
    assert!(crate::rollout::failing_analysis(&spec, &s).is_none());
    assert!(!Verb::Promote.needs_comment_on(&spec, &s));
    let failing = drive(&spec, &s, &with_samples(2, 0.2, 0.01));
    let why = crate::rollout::failing_analysis(&spec, &failing).expect("failing");
    assert!(
        why.contains(&format!(
            "1 of {} failures allowed",
            spec.analysis.failure_limit
        )) && why.contains("error-rate"),
        "{why}"
    );
    for verb in [Verb::Promote, Verb::PromoteFull] {
        assert!(verb.needs_comment_on(&spec, &failing));
        let refused = apply_command("r", &spec, &failing, &Command::new(verb, "u", " "), t(3));
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("needs a comment")),
            "{verb}: {refused:?}"
        );
        let with_reason = Command::new(verb, "u", "CAB accepted the error rate");
        let done = apply_command("r", &spec, &failing, &with_reason, t(3));
        // (This spec's approval step refuses `--full` for its own reason.)
        assert!(
            done.as_ref()
                .map_or_else(|e| !e.to_string().contains("comment"), |_| true),
            "{verb}: {done:?}"
        );
        assert!(
            verb == Verb::PromoteFull || done.is_ok(),
            "{verb}: {done:?}"
        );
    }
    // Other verbs are as they were.
    assert!(!Verb::Pause.needs_comment_on(&spec, &failing));
}

/// UX walk M10: the abort preview of a rollout waiting out a timed pause step said `phase:
/// Paused → RolledBack`: it named the phase by another word than the row (`Pausing 29s`) and
/// skipped `RollingBack`, which the audit then recorded. It now names every phase it passes
/// through, by the words the rows and the events use.
#[test]
fn the_abort_preview_names_every_phase_it_passes_through_by_the_rows_words() {
    let spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(20),
        Step::Pause(PauseStep {
            duration_seconds: Some(60),
        }),
        Step::SetWeight(100),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, true));
    let s = drive(&spec, &s, &obs(1, true));
    assert_eq!(s.phase, Phase::Paused, "{s:?}");
    assert!(!s.user_paused);
    assert_eq!(phase_word(&spec, &s), "Pausing");
    let abort =
        apply_command("r", &spec, &s, &Command::new(Verb::Abort, "a", "x"), t(2)).expect("abort");
    let lines = preview(&spec, &s, &abort, Alias::Unknown);
    assert!(
        lines.contains(&"phase: Pausing → RollingBack → RolledBack".to_string()),
        "{lines:#?}"
    );
    // The events (and so the audit) use the same words.
    let events: Vec<&str> = abort
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        events[0].starts_with("Pausing → RollingBack: "),
        "{events:?}"
    );
    assert!(
        events[1].starts_with("RollingBack → RolledBack: "),
        "{events:?}"
    );
    // An operator's pause is `Paused`, and its resume says so.
    let paused = apply_command("r", &spec, &s, &Command::new(Verb::Pause, "a", ""), t(3))
        .expect("pause")
        .status;
    assert_eq!(phase_word(&spec, &paused), "Paused");
    let resumed = apply_command(
        "r",
        &spec,
        &paused,
        &Command::new(Verb::Resume, "a", ""),
        t(4),
    )
    .expect("resume");
    assert!(
        resumed.effects.iter().any(|e| matches!(
            e,
            Effect::Event { message, .. } if message.starts_with("Paused → ")
        )),
        "{:?}",
        resumed.effects
    );
}
