use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kube::runtime::{reflector, watcher};
use mlops_core::{
    analysis::{Measurement, Verdict},
    rollout::{Phase, RolloutRecord, RolloutSpec, RolloutStatus, Transition},
};

use super::{Telemetry, stale};
use crate::{
    adapters::kube::{ModelRollout, crd::ModelRolloutSpec},
    controller::ReconcileError,
};

fn rollout(name: &str, model: &str, status: RolloutStatus) -> ModelRollout {
    let mut spec = RolloutSpec::test();
    spec.model.name = model.into();
    let mut mr = ModelRollout::new(name, ModelRolloutSpec { rollout: spec });
    mr.metadata.namespace = Some("ml".into());
    mr.status = Some(status);
    mr
}

fn transition(ago_s: i64, to: Phase, reason: &str) -> Transition {
    Transition {
        time: Utc::now() - TimeDelta::seconds(ago_s),
        from: Phase::Progressing,
        to,
        step: 3,
        reason: reason.into(),
    }
}

fn status(phase: Phase, weight: u8, history: Vec<Transition>) -> RolloutStatus {
    RolloutStatus {
        phase,
        weight,
        history,
        ..RolloutStatus::default()
    }
}

/// The value of the series written exactly as `series` (name and labels), if there is one.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn telemetry_with(
    rollouts: Vec<ModelRollout>,
) -> (Telemetry, reflector::store::Writer<ModelRollout>) {
    let t = Telemetry::new("me", Duration::from_secs(10));
    let (store, mut writer) = reflector::store::<ModelRollout>();
    writer.apply_watcher_event(&watcher::Event::Init);
    for mr in rollouts {
        writer.apply_watcher_event(&watcher::Event::InitApply(mr));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    t.watch_rollouts(store);
    (t, writer)
}

#[test]
fn each_rollout_is_a_series_with_its_model_version_and_phase() {
    let waiting = rollout(
        "fraud-v7",
        "fraud-detector",
        status(
            Phase::AwaitingApproval,
            50,
            vec![transition(90, Phase::AwaitingApproval, "step 4/5")],
        ),
    );
    let done = rollout("odd-v7", "odd\"name", status(Phase::Promoted, 100, vec![]));
    let (t, mut writer) = telemetry_with(vec![waiting, done.clone()]);
    let text = t.encode();
    let labels = r#"namespace="ml",rollout="fraud-v7",model="fraud-detector",version="7""#;
    assert_eq!(
        value(
            &text,
            &format!("mlops_rollout_info{{{labels},phase=\"AwaitingApproval\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("mlops_rollout_canary_weight{{{labels}}}")),
        Some(50.0)
    );
    let waited = value(
        &text,
        &format!("mlops_rollout_awaiting_approval_seconds{{{labels}}}"),
    )
    .expect("the wait of the rollout at its approval step");
    assert!((90.0..120.0).contains(&waited), "{waited}");
    // A label value is escaped; a rollout not waiting has no wait.
    let odd = r#"namespace="ml",rollout="odd-v7",model="odd\"name",version="7""#;
    assert_eq!(
        value(
            &text,
            &format!("mlops_rollout_info{{{odd},phase=\"Promoted\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text
            .contains(r#"mlops_rollout_awaiting_approval_seconds{namespace="ml",rollout="odd-v7""#)
    );
    assert!(text.contains("# TYPE mlops_rollout info"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    // Gone from the cache, gone from the scrape.
    writer.apply_watcher_event(&watcher::Event::Delete(done));
    assert!(!t.encode().contains("odd-v7"));
}

#[test]
fn the_lease_holder_and_the_leader() {
    let (t, _writer) = telemetry_with(vec![]);
    let text = t.encode();
    assert!(!text.contains("mlops_controller_lease_holder{"), "{text}");
    assert_eq!(
        value(&text, r#"mlops_controller_leader{id="me"}"#),
        Some(0.0)
    );
    t.lease_seen(Some("other".into()));
    let text = t.encode();
    assert_eq!(
        value(&text, r#"mlops_controller_lease_holder{holder="other"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&text, r#"mlops_controller_leader{id="me"}"#),
        Some(0.0)
    );
    t.lease_seen(Some("me".into()));
    let text = t.encode();
    assert_eq!(
        value(&text, r#"mlops_controller_leader{id="me"}"#),
        Some(1.0)
    );
    assert!(!text.contains(r#"holder="other""#));
}

#[test]
fn ready_once_the_rollouts_are_listed_and_the_lease_read() {
    let t = Telemetry::new("me", Duration::from_secs(10));
    assert_eq!(t.not_ready().len(), 2, "{:?}", t.not_ready());
    t.rollouts_synced();
    assert_eq!(t.not_ready(), vec!["the lease has not been read yet"]);
    t.lease_seen(None);
    assert!(t.not_ready().is_empty());
    assert_eq!(t.not_alive(), None);
    assert_eq!(stale(Duration::from_secs(5), Duration::from_secs(80)), None);
    let why = stale(Duration::from_secs(81), Duration::from_secs(80)).expect("stale");
    assert!(why.contains("81 s"), "{why}");
}

fn measurement(ago_s: i64, verdict: Verdict) -> Measurement {
    Measurement {
        time: Utc::now() - TimeDelta::seconds(ago_s),
        metric: "error-rate".into(),
        canary: Some(0.1),
        stable: Some(0.01),
        verdict,
        reason: String::new(),
    }
}

#[test]
fn passes_verdicts_waits_and_outcomes() {
    let t = Telemetry::new("me", Duration::from_secs(10));
    t.pass_finished(Duration::from_millis(3), None);
    let failed = ReconcileError::StatusWrite {
        rollout: "ml/a".into(),
        source: kube::Error::Service("refused".into()),
    };
    t.pass_finished(Duration::from_millis(5), Some(&failed));
    t.stage_took("status", Duration::from_millis(40));
    t.stage_took("status", Duration::from_millis(60));
    t.stage_took("measure", Duration::from_millis(2));
    let now = Utc::now();
    let mut before = RolloutRecord {
        name: "a".into(),
        namespace: "ml".into(),
        cluster: "c".into(),
        created: now - TimeDelta::seconds(600),
        spec: RolloutSpec::test(),
        status: status(
            Phase::AwaitingApproval,
            50,
            vec![transition(120, Phase::AwaitingApproval, "step 4/5")],
        ),
        policy: None,
    };
    let earlier = measurement(300, Verdict::Pass);
    before.status.measurements = vec![earlier.clone()];
    let mut after = status(Phase::Promoted, 100, before.status.history.clone());
    after.measurements = vec![earlier, measurement(0, Verdict::Fail)];
    t.status_written(&before, &after, now);
    // The same status again (a repeated pass) counts nothing new.
    let mut promoted = before.clone();
    promoted.status = after.clone();
    t.status_written(&promoted, &after, now);
    // An operator's abort, then rolled back.
    let mut rolling_back = before.clone();
    rolling_back.status = status(
        Phase::RollingBack,
        50,
        vec![transition(10, Phase::RollingBack, "aborted by alice")],
    );
    let rolled_back = status(Phase::RolledBack, 0, rolling_back.status.history.clone());
    t.status_written(&rolling_back, &rolled_back, now);
    let text = t.encode();
    let v = |series: &str| value(&text, series);
    assert_eq!(
        v("mlops_controller_reconcile_passes_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        v(r#"mlops_controller_reconcile_errors_total{reason="status_write"}"#),
        Some(1.0)
    );
    assert_eq!(
        v("mlops_controller_reconcile_duration_seconds_count"),
        Some(2.0)
    );
    assert_eq!(
        v(r#"mlops_controller_reconcile_stage_seconds_count{stage="status"}"#),
        Some(2.0),
        "{text}"
    );
    let waited =
        v(r#"mlops_controller_reconcile_stage_seconds_sum{stage="status"}"#).expect("status sum");
    assert!((0.099..=0.101).contains(&waited), "{waited}");
    assert_eq!(
        v(r#"mlops_controller_reconcile_stage_seconds_count{stage="measure"}"#),
        Some(1.0)
    );
    // A stage no pass ran has no series.
    assert_eq!(
        v(r#"mlops_controller_reconcile_stage_seconds_count{stage="effects"}"#),
        None
    );
    let check = r#"namespace="ml",model="fraud-detector",check="error-rate""#;
    assert_eq!(
        v(&format!(
            "mlops_rollout_analysis_results_total{{{check},result=\"fail\"}}"
        )),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        v(&format!(
            "mlops_rollout_analysis_results_total{{{check},result=\"pass\"}}"
        )),
        None
    );
    assert_eq!(v("mlops_rollout_approval_wait_seconds_count"), Some(1.0));
    let waited = v("mlops_rollout_approval_wait_seconds_sum").expect("sum");
    assert!((119.0..=121.0).contains(&waited), "{waited}");
    assert_eq!(
        v(r#"mlops_rollout_duration_seconds_count{outcome="Promoted"}"#),
        Some(1.0)
    );
    assert_eq!(
        v(r#"mlops_rollout_duration_seconds_sum{outcome="Promoted"}"#),
        Some(600.0)
    );
    assert_eq!(
        v(r#"mlops_rollout_duration_seconds_count{outcome="Aborted"}"#),
        Some(1.0)
    );
    assert_eq!(
        v(r#"mlops_rollout_duration_seconds_count{outcome="RolledBack"}"#),
        None
    );
    t.audit_queued(3);
    assert_eq!(
        value(&t.encode(), "mlops_controller_audit_queue_depth"),
        Some(3.0)
    );
}

/// Requests to the API server are in the registry under their own name.
#[test]
fn api_requests_are_served() {
    let t = Telemetry::new("me", Duration::from_secs(10));
    crate::adapters::kube::requests::api_requests()
        .get_or_create(&crate::adapters::kube::requests::ApiRequest {
            verb: "list",
            code: "200".into(),
        })
        .inc();
    let text = t.encode();
    assert!(
        value(
            &text,
            r#"mlops_controller_kube_requests_total{verb="list",code="200"}"#
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
}
