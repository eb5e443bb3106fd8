//! Which rollouts a Deployment's change concerns, which changes bring a pass, and when the next
//! pass is due on a fake clock.

use std::time::Duration;

use chrono::TimeZone;
use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use mlops_core::rollout::{Phase, RolloutSpec, RolloutStatus};

use super::*;

fn rollout(ns: &str, name: &str, deployment: &str, phase: Option<Phase>) -> ModelRollout {
    let mut spec = RolloutSpec::test();
    spec.deployment = deployment.into();
    let mut mr = ModelRollout::new(
        name,
        crate::adapters::kube::crd::ModelRolloutSpec { rollout: spec },
    );
    mr.metadata.namespace = Some(ns.into());
    mr.metadata.generation = Some(1);
    mr.status = phase.map(|phase| RolloutStatus {
        phase,
        ..RolloutStatus::default()
    });
    mr
}

fn deployment(ns: &str, name: &str, ready: i32) -> K8sDeployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns, "uid": "u1",
            "labels": {"mlops.dev/model": "fraud", "mlops.dev/track": "canary"}},
        "spec": {"replicas": 2, "selector": {}, "template": {}},
        "status": {"replicas": 2, "readyReplicas": ready, "updatedReplicas": 2}
    }))
    .expect("deployment")
}

fn names(refs: &[ObjectRef<ModelRollout>]) -> Vec<String> {
    refs.iter()
        .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
        .collect()
}

#[test]
fn a_deployment_change_concerns_the_rollouts_it_serves_for() {
    let rollouts = [
        rollout("ml", "fraud-v7", "fraud", Some(Phase::Progressing)),
        rollout("ml", "fraud-v8", "fraud", None),
        rollout("ml", "churn-v2", "churn", Some(Phase::Progressing)),
        rollout("other", "fraud-v7", "fraud", Some(Phase::Progressing)),
        rollout("ml", "fraud-v6", "fraud", Some(Phase::Promoted)),
        rollout("ml", "fraud-canary-v1", "fraud-canary", Some(Phase::Paused)),
    ];
    // Its canary, by the canary's name; not a rollout whose stable Deployment has that name.
    let hits = rollouts_using(&deployment("ml", "fraud-canary", 1), &rollouts);
    assert_eq!(names(&hits), ["ml/fraud-v7", "ml/fraud-v8"]);
    assert_eq!(
        names(&rollouts_using(
            &deployment("ml", "fraud-canary-canary", 1),
            &rollouts
        )),
        ["ml/fraud-canary-v1"]
    );
    // Not the rollout of another namespace, nor a finished one.
    assert_eq!(
        names(&rollouts_using(
            &deployment("other", "fraud-canary", 1),
            &rollouts
        )),
        ["other/fraud-v7"]
    );
    // Its stable Deployment brings none: a pass reads nothing of it.
    assert!(rollouts_using(&deployment("ml", "fraud", 1), &rollouts).is_empty());
    // A Deployment no rollout uses, or one without a name, concerns none.
    assert!(rollouts_using(&deployment("ml", "unrelated", 1), &rollouts).is_empty());
    let mut nameless = deployment("ml", "fraud", 1);
    nameless.metadata.name = None;
    assert!(rollouts_using(&nameless, &rollouts).is_empty());
}

#[test]
fn a_canary_brings_a_pass_each_time_it_becomes_ready_and_when_deleted() {
    let mut r = Readiness::default();
    let apply = |d: &K8sDeployment| watcher::Event::Apply(d.clone());
    let passes =
        |r: &mut Readiness, e: watcher::Event<K8sDeployment>| r.brings_a_pass(&e).is_some();
    // Two of two ready: a pass; the same again (a heartbeat, an annotation, a resync): none.
    let ready = deployment("ml", "fraud-canary", 2);
    assert!(passes(&mut r, watcher::Event::InitApply(ready.clone())));
    let mut annotated = ready.clone();
    annotated.metadata.annotations = Some([("note".to_string(), "x".to_string())].into());
    annotated.metadata.resource_version = Some("99".into());
    assert!(!passes(&mut r, apply(&annotated)));
    // The controller scales it to 4: not ready, no pass; the pods on their way: none either.
    let mut scaled = ready.clone();
    if let Some(s) = scaled.spec.as_mut() {
        s.replicas = Some(4);
    }
    assert!(!passes(&mut r, apply(&scaled)));
    if let Some(s) = scaled.status.as_mut() {
        s.replicas = Some(4);
        s.ready_replicas = Some(3);
    }
    assert!(!passes(&mut r, apply(&scaled)));
    // All four ready: a pass.
    if let Some(s) = scaled.status.as_mut() {
        s.ready_replicas = Some(4);
    }
    assert!(passes(&mut r, apply(&scaled)));
    // A pod lost and replaced: a pass once it is ready again.
    let mut lost = scaled.clone();
    if let Some(s) = lost.status.as_mut() {
        s.ready_replicas = Some(3);
    }
    assert!(!passes(&mut r, apply(&lost)));
    assert!(passes(&mut r, apply(&scaled)));
    // Deleted: a pass (no canary is ready at zero).
    assert!(passes(&mut r, watcher::Event::Delete(scaled.clone())));
    // Relabelled to another track: what `canary_ready` reads changed.
    let mut stable = ready.clone();
    stable
        .metadata
        .labels
        .get_or_insert_default()
        .insert("mlops.dev/track".into(), "stable".into());
    assert!(passes(&mut r, apply(&ready)));
    assert!(passes(&mut r, apply(&stable)));
    assert!(!passes(&mut r, watcher::Event::InitDone));
}

#[test]
fn the_controllers_own_writes_bring_no_pass_but_a_command_after_them_does() {
    let own = OwnWrites::default();
    let mut mr = rollout("ml", "fraud-v7", "fraud", Some(Phase::Progressing));
    // Never written by us: someone else's change.
    assert!(!own.is_own(&mr));
    // Our write moved it to the next step: its watch event is ours.
    if let Some(s) = mr.status.as_mut() {
        s.current_step = 1;
    }
    own.wrote(&mr);
    assert!(own.is_own(&mr));
    // Then an operator pauses it: a pass.
    if let Some(s) = mr.status.as_mut() {
        s.user_paused = true;
    }
    assert!(!own.is_own(&mr));
    // Our write, then someone else's before the watch delivered ours.
    own.wrote(&mr);
    let mut theirs = mr.clone();
    theirs.metadata.generation = Some(2);
    assert!(!own.is_own(&theirs));
}

fn t(ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
        .single()
        .expect("valid time")
        + chrono::Duration::milliseconds(ms)
}

#[test]
fn the_next_pass_is_due_when_the_core_says_within_the_safety_resync() {
    let spec = RolloutSpec::test(); // analysis every 30 s
    let on_change = Schedule::OnChange {
        resync: Duration::from_secs(60),
    };
    let measuring = RolloutStatus {
        phase: Phase::Progressing,
        weight: 10,
        last_measurement_at: Some(t(0)),
        ..RolloutStatus::default()
    };
    // Analysis due at 30 s: from 12.5 s, 17.5 s later.
    assert_eq!(
        on_change.after(&spec, &measuring, t(12_500)),
        Some(Duration::from_millis(17_500))
    );
    // Overdue: soon, never a busy loop.
    assert_eq!(on_change.after(&spec, &measuring, t(45_000)), Some(AT_ONCE));
    // Waiting on a change (the canary, weight 0 and no analysis step yet): the safety resync.
    let waiting = RolloutStatus {
        phase: Phase::Progressing,
        ..RolloutStatus::default()
    };
    assert_eq!(
        on_change.after(&spec, &waiting, t(0)),
        Some(Duration::from_secs(60))
    );
    // Finished: nothing.
    let done = RolloutStatus {
        phase: Phase::Promoted,
        ..RolloutStatus::default()
    };
    assert_eq!(on_change.after(&spec, &done, t(0)), None);
    // A clock passes every 5 s whatever is due, and not on Deployments.
    let clock = Schedule::Clock {
        every: Duration::from_secs(5),
    };
    assert_eq!(
        clock.after(&spec, &waiting, t(0)),
        Some(Duration::from_secs(5))
    );
    assert_eq!(clock.after(&spec, &done, t(0)), None);
    assert!(!clock.on_change() && on_change.on_change());
}

#[test]
fn a_new_weight_that_scales_no_canary_is_passed_again_at_once() {
    let mut spec = RolloutSpec::test();
    spec.replicas = 1;
    let on_change = Schedule::OnChange {
        resync: Duration::from_secs(60),
    };
    let at = |weight: u8| RolloutStatus {
        phase: Phase::Progressing,
        weight,
        last_measurement_at: Some(t(0)),
        ..RolloutStatus::default()
    };
    // One replica: the canary has its one pod at 25 % and at 50 %: no Deployment changes, so no
    // watch event brings the next pass.
    assert_eq!(
        on_change.after_pass(&spec, &at(25), &at(50), t(0)),
        Some(AT_ONCE)
    );
    // 0 → 50 % scales the canary up: its readiness brings the pass; until then, what is due.
    assert_eq!(
        on_change.after_pass(&spec, &at(0), &at(50), t(0)),
        on_change.after(&spec, &at(50), t(0))
    );
    assert_eq!(
        on_change.after_pass(&spec, &at(50), &at(50), t(0)),
        Some(Duration::from_secs(30))
    );
    // A clock passes on its tick.
    let clock = Schedule::Clock {
        every: Duration::from_secs(5),
    };
    assert_eq!(
        clock.after_pass(&spec, &at(25), &at(50), t(0)),
        Some(Duration::from_secs(5))
    );
}
