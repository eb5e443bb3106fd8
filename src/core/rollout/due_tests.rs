//! `next_due` on a fake clock: the machine moves exactly when the due time says, not before,
//! and a rollout that waits on a change has nothing due.

use chrono::{Duration, TimeZone};

use super::*;
use crate::analysis::Sample;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
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
        gates: Gates::None,
    }
}

fn measured(secs: i64) -> Observation {
    Observation {
        samples: Some(vec![Sample {
            canary: Some(0.01),
            stable: Some(0.01),
            ..Sample::empty("error-rate")
        }]),
        ..obs(secs, true)
    }
}

fn drive(spec: &RolloutSpec, status: &RolloutStatus, o: &Observation) -> RolloutStatus {
    reconcile(spec, status, o).status
}

/// No metrics: only the steps and the world move it.
fn unmeasured(steps: Vec<Step>) -> RolloutSpec {
    let mut spec = RolloutSpec::test().with_steps(steps);
    spec.analysis.metrics.clear();
    spec
}

#[test]
fn a_timed_pause_is_due_when_it_ends_and_not_before() {
    let spec = unmeasured(vec![
        Step::Pause(PauseStep {
            duration_seconds: Some(30),
        }),
        Step::SetWeight(100),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, true));
    assert_eq!(s.phase, Phase::Paused);
    assert_eq!(next_due(&spec, &s, t(0)), Some(t(30)));
    // A pass before then changes nothing: it was not needed.
    assert_eq!(drive(&spec, &s, &obs(29, true)), s);
    // At the due time it moves on.
    let after = drive(&spec, &s, &obs(30, true));
    assert_eq!(after.current_step, 1, "{after:?}");
}

#[test]
fn the_next_analysis_round_is_due_one_interval_after_the_last() {
    let spec = RolloutSpec::test();
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    // Canary traffic and never measured: at once.
    assert_eq!(next_due(&spec, &s, t(0)), Some(t(0)));
    let s = drive(&spec, &s, &measured(1));
    assert_eq!(s.last_measurement_at, Some(t(1)));
    assert_eq!(next_due(&spec, &s, t(1)), Some(t(31)));
    assert!(!analysis_due(&spec, &s, t(30)));
    assert!(analysis_due(&spec, &s, t(31)));
}

#[test]
fn the_earlier_of_a_pause_end_and_an_analysis_round() {
    let spec = RolloutSpec::test().with_steps(vec![
        Step::SetWeight(10),
        Step::Pause(PauseStep {
            duration_seconds: Some(45),
        }),
    ]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    let s = drive(&spec, &s, &measured(2));
    assert_eq!(s.current_step, 1, "canary ready: into the pause");
    // Measured at 2 (round due at 32), pause started at 2 (ends at 47).
    assert_eq!(next_due(&spec, &s, t(2)), Some(t(32)));
    let s = drive(&spec, &s, &measured(32));
    assert_eq!(next_due(&spec, &s, t(32)), Some(t(47)));
}

#[test]
fn waiting_on_a_change_has_nothing_due() {
    // The canary not ready yet: the Deployment's change brings the next pass.
    let spec = unmeasured(vec![Step::SetWeight(50), Step::Approval {}]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, false));
    assert_eq!(s.phase, Phase::Progressing);
    assert_eq!(next_due(&spec, &s, t(0)), None);
    // Awaiting an approval: a command brings it.
    let s = drive(&spec, &s, &obs(5, true));
    assert_eq!(s.phase, Phase::AwaitingApproval);
    assert_eq!(next_due(&spec, &s, t(5)), None);
    // An operator's pause, even in a timed pause step.
    let spec = unmeasured(vec![Step::Pause(PauseStep {
        duration_seconds: Some(10),
    })]);
    let mut s = drive(&spec, &RolloutStatus::default(), &obs(0, true));
    s.user_paused = true;
    assert_eq!(next_due(&spec, &s, t(0)), None);
}

#[test]
fn finished_rollouts_have_nothing_due_and_half_done_ones_are_due_at_once() {
    let spec = RolloutSpec::test();
    for phase in [Phase::Promoted, Phase::RolledBack, Phase::Failed] {
        let s = RolloutStatus {
            phase,
            weight: 100,
            ..RolloutStatus::default()
        };
        assert_eq!(next_due(&spec, &s, t(0)), None, "{phase}");
    }
    for phase in [Phase::Pending, Phase::RollingBack] {
        let s = RolloutStatus {
            phase,
            ..RolloutStatus::default()
        };
        assert_eq!(next_due(&spec, &s, t(9)), Some(t(9)), "{phase}");
    }
    // Waiting for the policy gates: decided again an interval later.
    let s = RolloutStatus {
        phase: Phase::Promoting,
        ..RolloutStatus::default()
    };
    assert_eq!(next_due(&spec, &s, t(0)), Some(t(30)));
}

#[test]
fn times_beyond_the_calendar_are_the_latest_time_not_a_panic() {
    let mut spec = unmeasured(vec![Step::Pause(PauseStep {
        duration_seconds: Some(u64::MAX),
    })]);
    let s = drive(&spec, &RolloutStatus::default(), &obs(0, true));
    assert_eq!(next_due(&spec, &s, t(0)), Some(DateTime::<Utc>::MAX_UTC));
    spec = RolloutSpec::test();
    spec.analysis.interval_seconds = u64::MAX;
    let s = RolloutStatus {
        phase: Phase::Progressing,
        weight: 10,
        last_measurement_at: Some(t(0)),
        ..RolloutStatus::default()
    };
    assert_eq!(next_due(&spec, &s, t(0)), Some(DateTime::<Utc>::MAX_UTC));
}
