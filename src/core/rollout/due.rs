//! When a rollout's next pass is due on its own: the time at which the state machine would move
//! (or measure) with nothing else in the world changed. Anything else that moves a rollout — its
//! canary becoming ready, a command, a new spec — is a change the driver sees and passes on; this
//! is what the clock alone brings.

use chrono::{DateTime, Duration, Utc};

use super::{PauseStep, Phase, RolloutSpec, RolloutStatus, Step};

/// The earliest time the machine, run again with the same observation, would do something it
/// did not do at `now`: the next analysis round, the end of a timed pause, the policy gates
/// decided again. `None`: nothing is due on the clock — the rollout waits on a change (its
/// canary, a command, an approval, a new spec) or is finished. A time at or before `now` means
/// at once.
pub fn next_due(
    spec: &RolloutSpec,
    status: &RolloutStatus,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match status.phase {
        Phase::Promoted | Phase::RolledBack | Phase::Failed => return None,
        // Left in the middle of a pass (a write lost, a crash): the machine moves on at once.
        Phase::Pending | Phase::RollingBack => return Some(now),
        // The gates are decided on fresh facts (the registry, the nodes' regions) every pass
        // while it waits to be promoted: again one analysis interval later.
        Phase::Promoting => return Some(now + interval(spec)),
        Phase::Progressing | Phase::Paused | Phase::AwaitingApproval => {}
    }
    [analysis_at(spec, status, now), pause_ends(spec, status)]
        .into_iter()
        .flatten()
        .min()
}

/// The analysis interval; at least a second.
fn interval(spec: &RolloutSpec) -> Duration {
    i64::try_from(spec.analysis.interval_seconds.max(1))
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or(Duration::MAX)
}

/// When the next analysis round is due (the rule of `analysis_due`), if one is.
fn analysis_at(
    spec: &RolloutSpec,
    status: &RolloutStatus,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if spec.analysis.metrics.is_empty() {
        return None;
    }
    let in_analysis_step = matches!(spec.steps.get(status.current_step), Some(Step::Analysis(_)));
    if status.weight == 0 && !in_analysis_step {
        return None;
    }
    Some(match status.last_measurement_at {
        None => now,
        Some(last) => last
            .checked_add_signed(interval(spec))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    })
}

/// When the current timed pause step ends, if the rollout is in one (an operator's pause holds
/// it until resumed: no time ends that).
fn pause_ends(spec: &RolloutSpec, status: &RolloutStatus) -> Option<DateTime<Utc>> {
    if status.user_paused {
        return None;
    }
    let Some(Step::Pause(PauseStep {
        duration_seconds: Some(d),
    })) = spec.steps.get(status.current_step)
    else {
        return None;
    };
    let started = status.step_started_at?;
    let d = i64::try_from(*d)
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or(Duration::MAX);
    Some(
        started
            .checked_add_signed(d)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}
