use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::{
    analysis::{Measurement, Verdict},
    audit::AuditLog,
    demo::DemoPlatform,
    drift::DriftStatus,
    model::{ClusterEvent, Driver, EventKind, ModelVersion},
    ports::{AuditPort, ClusterPort, MetricsPort, RegistryPort},
    rollout::{Phase, RolloutRecord, RolloutSpec, RolloutStatus, Transition},
};

/// A future the demo answers at once; `None` if it would wait.
fn ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 3, 0, 0)
        .single()
        .expect("a time")
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn transition(s: i64, from: Phase, to: Phase, step: usize, reason: &str) -> Transition {
    Transition {
        time: at(s),
        from,
        to,
        step,
        reason: reason.into(),
    }
}

/// fraud-detector v7 against v6: started, at 10 %, its analysis failed at +120 s and it
/// rolled back.
fn rolled_back() -> RolloutRecord {
    let mut status = RolloutStatus {
        phase: Phase::RolledBack,
        ..RolloutStatus::default()
    };
    status.history = vec![
        transition(
            0,
            Phase::Pending,
            Phase::Progressing,
            0,
            "started; step 1/5",
        ),
        transition(
            5,
            Phase::Progressing,
            Phase::Progressing,
            0,
            "waiting for canary at 10%",
        ),
        transition(
            30,
            Phase::Progressing,
            Phase::Progressing,
            1,
            "canary at 10%; step 2/5",
        ),
        transition(
            120,
            Phase::Progressing,
            Phase::RollingBack,
            1,
            "analysis failed 2 times (limit 2)",
        ),
        transition(
            121,
            Phase::RollingBack,
            Phase::RolledBack,
            1,
            "all traffic on stable version 6",
        ),
    ];
    status.measurements = vec![
        measurement(90, Verdict::Pass, "within limits"),
        measurement(120, Verdict::Fail, "canary 7.20% above max 5.00%"),
    ];
    RolloutRecord {
        name: "fraud-detector-v7".into(),
        namespace: "serving".into(),
        cluster: "prod".into(),
        created: at(0),
        spec: RolloutSpec::test(),
        status,
        policy: None,
    }
}

fn measurement(s: i64, verdict: Verdict, reason: &str) -> Measurement {
    Measurement {
        time: at(s),
        metric: "error-rate".into(),
        canary: Some(0.072),
        stable: Some(0.008),
        verdict,
        reason: reason.into(),
    }
}

fn event(s: i64, object: &str, reason: &str, message: &str) -> ClusterEvent {
    ClusterEvent {
        time: at(s),
        cluster: "prod".into(),
        namespace: "serving".into(),
        object: object.into(),
        reason: reason.into(),
        message: message.into(),
        kind: EventKind::Normal,
    }
}

fn snapshot(rollouts: Vec<RolloutRecord>, events: Vec<ClusterEvent>) -> ClusterSnapshot {
    ClusterSnapshot {
        clusters: Vec::new(),
        nodes: Vec::new(),
        pods: Vec::new(),
        deployments: Vec::new(),
        rollouts,
        events,
        driver: Driver::Nobody,
        identity: "me".into(),
        denied: BTreeMap::new(),
        triggers: crate::triggers::TriggersRead::default(),
        watches: Vec::new(),
    }
}

fn audit(records: &[(i64, &str, &str, &str, &str)]) -> Vec<AuditEntry> {
    let mut log = AuditLog::default();
    for (s, actor, action, target, comment) in records {
        log.append(crate::audit::AuditRecord {
            time: at(*s),
            actor: (*actor).into(),
            action: (*action).into(),
            target: (*target).into(),
            comment: (*comment).into(),
            details: String::new(),
        });
    }
    log.entries().to_vec()
}

fn inputs<'a>(
    snap: &'a ClusterSnapshot,
    audit: &'a [AuditEntry],
    models: &'a [RegisteredModel],
    alerts: &'a [Alert],
) -> Inputs<'a> {
    Inputs {
        snapshot: Some(snap),
        audit,
        models,
        drift: &[],
        alerts,
        gpus: &[],
        at: at(600),
        drift_windows: 3,
    }
}

#[test]
fn a_rolled_back_canary_reads_in_order_each_happening_once() {
    let snap = snapshot(
        vec![rolled_back()],
        vec![
            // The controller's Events of the phase changes, a second after (whole seconds).
            event(
                121,
                "modelrollout/fraud-detector-v7",
                "RollingBack",
                "Progressing → RollingBack",
            ),
            event(
                1,
                "modelrollout/fraud-detector-v7",
                "Progressing",
                "Pending → Progressing",
            ),
            event(
                122,
                "modelrollout/fraud-detector-v7",
                "RolledBack",
                "RollingBack → RolledBack",
            ),
            event(
                123,
                "deployment/fraud-detector-canary",
                "ScalingReplicaSet",
                "Scaled down replica set fraud-detector-canary-5f7 from 1 to 0",
            ),
            event(
                124,
                "pod/fraud-detector-canary-5f7-x1x2x",
                "Killing",
                "Stopping container server",
            ),
            event(
                50,
                "deployment/other-model",
                "ScalingReplicaSet",
                "not ours",
            ),
        ],
    );
    let audit = audit(&[
        (
            -1,
            "ci",
            "rollout.start",
            "serving/fraud-detector-v7",
            "validated v7",
        ),
        (
            0,
            "controller",
            "rollout.progressing",
            "serving/fraud-detector-v7",
            "",
        ),
        (
            120,
            "controller",
            "rollout.rollingback",
            "serving/fraud-detector-v7",
            "",
        ),
        (
            121,
            "controller",
            "rollout.rolledback",
            "serving/fraud-detector-v7",
            "",
        ),
    ]);
    let mut query = Query::since(at(-600));
    query.model = Some("fraud-detector".into());
    let got = build(&inputs(&snap, &audit, &[], &[]), &query);
    let kinds: Vec<(Source, Kind)> = got.iter().map(|e| (e.source, e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (Source::Audit, Kind::Command),
            (Source::Rollout, Kind::RolloutStarted),
            (Source::Rollout, Kind::Step),
            (Source::Rollout, Kind::Step),
            (Source::Rollout, Kind::CheckFailed),
            (Source::Rollout, Kind::Phase),
            (Source::Rollout, Kind::Phase),
            (Source::Kubernetes, Kind::Event),
            (Source::Kubernetes, Kind::Event),
        ],
        "{got:#?}"
    );
    assert!(got.windows(2).all(|w| w[0].at() <= w[1].at()));
    // An Event in whole seconds counts from the end of its second.
    assert_eq!(got[7].at(), at(123) + Duration::milliseconds(999));
    // The start, the rollback and the end: each once, the Event and the audit entry named.
    let also = |i: usize| got[i].details.get("also_in").cloned().unwrap_or_default();
    assert!(
        also(1).contains("kubernetes: Event Progressing"),
        "{}",
        also(1)
    );
    assert!(
        also(1).contains("audit: #2 rollout.progressing"),
        "{}",
        also(1)
    );
    assert!(
        also(5).contains("RollingBack") && also(5).contains("#3"),
        "{}",
        also(5)
    );
    assert!(got[6].summary.contains("RollingBack → RolledBack"));
    assert!(got[7].summary.contains("Scaled down"));
    assert_eq!(
        got[8].version,
        Some(7),
        "a pod gone since is its Deployment's"
    );
    // The start, the step to 10 % and the pipeline's command came within 30 min before the
    // failed check; the analysis-only step did not change anything.
    let marked: Vec<bool> = got.iter().map(|e| e.changed_before).collect();
    assert_eq!(
        marked,
        [true, true, true, false, false, false, false, false, false]
    );
    assert!(got[0].details["before_alert"].contains("analysis failed"));
}

#[test]
fn a_command_is_one_entry_from_the_audit_log_with_its_event_and_registry_tag() {
    let snap = snapshot(
        vec![rolled_back()],
        vec![event(
            301,
            "modelrollout/fraud-detector-v7",
            "AbortCommand",
            "rollout.abort by omar: p99 (… audit #1)",
        )],
    );
    let audit = audit(&[(
        300,
        "omar",
        "rollout.abort",
        "serving/fraud-detector-v7",
        "p99 regression",
    )]);
    let stamp = at(300).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let models = vec![RegisteredModel {
        name: "fraud-detector".into(),
        description: String::new(),
        aliases: BTreeMap::from([("champion".into(), 6)]),
        tags: BTreeMap::new(),
        versions: vec![ModelVersion {
            model: "fraud-detector".into(),
            version: 7,
            run_id: None,
            created: at(-86_400),
            status: "READY".into(),
            tags: BTreeMap::from([(
                "mlops.action.abort".into(),
                format!(
                    "rollout.abort by omar at {stamp}: p99 regression (rollout serving/fraud-detector-v7 on prod; now RolledBack at step 2/5)"
                ),
            )]),
        }],
    }];
    let mut query = Query::since(at(200));
    query.model = Some("fraud-detector".into());
    let got = build(&inputs(&snap, &audit, &models, &[]), &query);
    assert_eq!(got.len(), 1, "{got:#?}");
    let e = &got[0];
    assert_eq!((e.source, e.kind), (Source::Audit, Kind::Command));
    assert!(e.summary.contains("rollout.abort by omar: p99 regression"));
    let also = &e.details["also_in"];
    assert!(also.contains("kubernetes: Event AbortCommand"), "{also}");
    assert!(also.contains("registry: tag mlops.action.abort"), "{also}");
    // The version registered a day earlier is before `since`.
    query.since = at(-100_000);
    let got = build(&inputs(&snap, &audit, &models, &[]), &query);
    assert!(
        got.iter()
            .any(|e| e.kind == Kind::VersionRegistered && !e.details.contains_key("aliases_now"))
    );
}

fn alert(model: &str, started: i64, ended: Option<i64>) -> Alert {
    Alert {
        name: "MlopsSLOErrorBudgetBurn".into(),
        labels: BTreeMap::from([
            ("model".into(), model.into()),
            ("version".into(), "7".into()),
            ("severity".into(), "page".into()),
            ("track".into(), "canary".into()),
        ]),
        started: at(started),
        ended: ended.map(at),
        summary: "burning".into(),
    }
}

#[test]
fn changes_within_the_window_before_an_alert_of_their_model_are_marked() {
    let audit = audit(&[
        (0, "ana", "registry.alias", "fraud-detector@champion", ""),
        (1000, "ana", "registry.alias", "other@champion", ""),
        (
            2000,
            "ana",
            "registry.alias",
            "fraud-detector@challenger",
            "",
        ),
        (3700, "ana", "registry.alias", "fraud-detector@shadow", ""),
    ]);
    let snap = snapshot(Vec::new(), Vec::new());
    let alerts = vec![alert("fraud-detector", 3600, Some(4000))];
    let got = build(&inputs(&snap, &audit, &[], &alerts), &Query::since(at(-10)));
    let read: Vec<(Kind, Option<&str>, bool)> = got
        .iter()
        .map(|e| (e.kind, e.model.as_deref(), e.changed_before))
        .collect();
    assert_eq!(
        read,
        vec![
            // 60 min before: outside the 30 min window.
            (Kind::AliasMoved, Some("fraud-detector"), false),
            // Another model's alias.
            (Kind::AliasMoved, Some("other"), false),
            (Kind::AliasMoved, Some("fraud-detector"), true),
            (Kind::AlertFiring, Some("fraud-detector"), false),
            // After the alert started.
            (Kind::AliasMoved, Some("fraud-detector"), false),
            (Kind::AlertResolved, Some("fraud-detector"), false),
        ]
    );
    assert_eq!(got[3].version, Some(7));
    assert!(
        got[3]
            .summary
            .contains("MlopsSLOErrorBudgetBurn firing (page): burning")
    );
    assert_eq!(got[5].details["fired_for"], "6m 40s");
    // A longer window reaches the first.
    let mut wide = Query::since(at(-10));
    wide.window = Duration::minutes(61);
    assert!(build(&inputs(&snap, &audit, &[], &alerts), &wide)[0].changed_before);
}

#[test]
fn filters_keep_the_model_its_versionless_entries_and_its_nodes() {
    let mut snap = snapshot(
        vec![rolled_back()],
        vec![
            event(10, "node/gpu-1", "XidError", "GPU 5: Xid 79"),
            event(11, "node/gpu-2", "NodeNotReady", "elsewhere"),
            event(
                12,
                "deployment/fraud-detector",
                "ScalingReplicaSet",
                "stable",
            ),
        ],
    );
    snap.pods.push(crate::model::Pod {
        name: "fraud-detector-abc-1".into(),
        namespace: "serving".into(),
        cluster: "prod".into(),
        node: Some("gpu-1".into()),
        phase: crate::model::PodPhase::Running,
        model: Some("fraud-detector".into()),
        version: Some(6),
        track: crate::model::Track::Stable,
        gpus: 1,
        image: "i".into(),
    });
    let mut q = Query::since(at(5));
    q.model = Some("fraud-detector".into());
    q.version = Some(7);
    let got = build(&inputs(&snap, &[], &[], &[]), &q);
    let objects: Vec<&str> = got
        .iter()
        .filter_map(|e| e.details.get("object").map(String::as_str))
        .collect();
    assert_eq!(objects, ["node/gpu-1", "deployment/fraud-detector"]);
    let xid = got
        .iter()
        .find(|e| e.details.get("object").is_some_and(|o| o == "node/gpu-1"));
    assert_eq!(xid.map(|e| e.kind), Some(Kind::GpuXid));
    assert!(got.iter().all(|e| e.time >= at(5)));
    assert!(got.iter().all(|e| e.version.is_none_or(|v| v == 7)));
    q.model = Some("nobody".into());
    assert!(build(&inputs(&snap, &[], &[], &[]), &q).is_empty());
}

#[test]
fn a_gpu_xid_is_dated_by_its_node_event_and_is_one_entry_with_it() {
    let events = vec![event(10, "node/gpu-1", "XidError", "GPU 5: Xid 79")];
    let gpu = Gpu {
        cluster: "prod".into(),
        node: "gpu-1".into(),
        index: 5,
        uuid: "GPU-1".into(),
        product: "H100".into(),
        util_pct: 0.0,
        mem_used_mib: 0.0,
        mem_total_mib: 0.0,
        power_w: 0.0,
        temp_c: 0.0,
        pod: Some("fraud-detector-abc-1".into()),
        namespace: Some("serving".into()),
        container: None,
        model: Some("fraud-detector".into()),
        version: Some(6),
        xid: Some(79),
    };
    let snap = snapshot(Vec::new(), events.clone());
    let gpus = [gpu.clone()];
    let mut i = inputs(&snap, &[], &[], &[]);
    i.gpus = &gpus;
    let got = build(&i, &Query::since(at(0)));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].source, Source::Kubernetes);
    assert_eq!(
        got[0].model.as_deref(),
        Some("fraud-detector"),
        "from the GPU"
    );
    assert!(got[0].details["also_in"].contains("DCGM XID 79 of GPU 5"));
    // Without the Event: when it was read, saying so.
    let alone = from_gpus(&gpus, &[], at(600));
    assert_eq!(alone[0].time, at(600));
    assert!(alone[0].details["time"].contains("not known"));
    assert!(
        from_gpus(
            &[Gpu {
                xid: Some(0),
                ..gpu
            }],
            &[],
            at(0)
        )
        .is_empty()
    );
}

#[test]
fn drift_alerts_fire_and_resolve_at_their_windows() {
    let statuses = "oodddoooo";
    let status_history: Vec<DriftStatus> = statuses
        .chars()
        .map(|c| {
            if c == 'd' {
                DriftStatus::Drifted
            } else {
                DriftStatus::Ok
            }
        })
        .collect();
    let d = FeatureDrift {
        model: "fraud-detector".into(),
        version: 7,
        feature: "merchant_risk".into(),
        report: crate::drift::report_from_bins(&[0.0, 1.0, 2.0], &[5.0, 5.0], &[5.0, 5.0])
            .expect("a report"),
        edges: Vec::new(),
        reference_counts: Vec::new(),
        current_counts: Vec::new(),
        psi_history: vec![0.0; statuses.len()],
        status_history,
        reference: "window".into(),
        window_seconds: 60,
    };
    let got = from_drift(std::slice::from_ref(&d), at(0), 2);
    let read: Vec<(Kind, DateTime<Utc>)> = got.iter().map(|e| (e.kind, e.time)).collect();
    // Windows end at -8 … 0 min; two drifted in a row (the 4th, at -5 min) fire it, two ok in
    // a row (the 7th, at -2 min) resolve it.
    assert_eq!(
        read,
        [
            (Kind::DriftAlert, at(-300)),
            (Kind::DriftResolved, at(-120))
        ]
    );
    assert!(
        got[0]
            .summary
            .contains("merchant_risk: drift alert drifted against window")
    );
    assert!(got[1].summary.contains("resolved (drifted before)"));
    // Without the windows' length: only the level now, at the time read.
    let unknown = FeatureDrift {
        window_seconds: 0,
        status_history: vec![DriftStatus::Drifted; 3],
        ..d
    };
    let got = from_drift(&[unknown], at(0), 2);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].kind, got[0].time), (Kind::DriftAlert, at(0)));
}

#[test]
fn owners_know_pods_and_replicasets_gone_since_by_their_deployment() {
    let snap = snapshot(vec![rolled_back()], Vec::new());
    let o = Owners::of(&snap);
    let owner = |object: &str| o.object("serving", object);
    let canary = Some(("fraud-detector".to_string(), Some(7)));
    assert_eq!(owner("deployment/fraud-detector-canary"), canary);
    assert_eq!(owner("replicaset/fraud-detector-canary-5f7d9"), canary);
    assert_eq!(owner("pod/fraud-detector-canary-5f7d9-abcde"), canary);
    assert_eq!(
        owner("pod/fraud-detector-5f7d9-abcde"),
        Some(("fraud-detector".to_string(), None))
    );
    assert_eq!(owner("pod/other-5f7d9-abcde"), None);
    assert_eq!(
        owner("modelrollout/fraud-detector-v7"),
        Some(("fraud-detector".to_string(), Some(7)))
    );
    // A rollout no longer listed, by its name.
    assert_eq!(
        o.rollout("serving", "churn-v4"),
        Some(("churn".to_string(), 4))
    );
    assert_eq!(o.rollout("serving", "whatever"), None);
    assert_eq!(owner("nonsense"), None);
}

/// The API server keeps Events' times in whole seconds: the Events of a rollback decided at
/// 10.4 s, stamped 10 s, still come after it, and are no change before its failed check.
#[test]
fn events_in_whole_seconds_come_after_what_happened_within_their_second() {
    let mut r = rolled_back();
    let decided = at(120) + Duration::milliseconds(400);
    r.status.history[3].time = decided;
    r.status.measurements[1].time = decided;
    let snap = snapshot(
        vec![r],
        vec![event(
            120,
            "deployment/fraud-detector-canary",
            "ScalingReplicaSet",
            "Scaled down replica set fraud-detector-canary-5f7 from 1 to 0",
        )],
    );
    let got = build(&inputs(&snap, &[], &[], &[]), &Query::since(at(100)));
    let read: Vec<Kind> = got.iter().map(|e| e.kind).collect();
    assert_eq!(
        read,
        [Kind::CheckFailed, Kind::Phase, Kind::Event, Kind::Phase]
    );
    assert!(!got[2].changed_before);
    assert_eq!(got[2].time, at(120), "the time as the source said it");
}

#[test]
fn identical_sightings_are_kept_once_and_times_read_relative() {
    let events = vec![
        event(10, "deployment/x", "ScalingReplicaSet", "up"),
        event(10, "deployment/x", "ScalingReplicaSet", "up"),
    ];
    let got = merge(
        from_events(&events, &Owners::default()),
        &Query::since(at(0)),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(ago(at(0), at(42)), "42s ago");
    assert_eq!(ago(at(0), at(3_725)), "1h 2m ago");
    assert_eq!(ago(at(0), at(200_000)), "2d 7h ago");
    assert_eq!(ago(at(100), at(0)), "in 1m 40s");
}

/// The demo's fraud-detector canary fails its analysis and is rolled back: its timeline
/// reads as the story, from the demo's own ports.
#[test]
fn the_demos_rolled_back_canary_reads_as_a_story() {
    let demo = DemoPlatform::manual(7, t0());
    let wait = |demo: &DemoPlatform| {
        ready(async {
            demo.snapshot().await.map(|s| {
                s.rollouts
                    .iter()
                    .find(|r| r.spec.model.name == "fraud-detector")
                    .map(|r| r.status.phase)
            })
        })
    };
    for _ in 0..60 {
        if wait(&demo) == Some(Ok(Some(Phase::RolledBack))) {
            break;
        }
        demo.advance(10);
    }
    assert_eq!(wait(&demo), Some(Ok(Some(Phase::RolledBack))));
    let now = demo.now();
    let (snap, audit, models, drift, alerts, gpus) = ready(async {
        (
            demo.snapshot().await.expect("snapshot"),
            demo.entries().await.expect("audit"),
            RegistryPort::models(&demo).await.expect("models"),
            demo.drift().await.expect("drift"),
            demo.alerts(now - Duration::hours(2)).await.expect("alerts"),
            demo.gpus().await.expect("gpus"),
        )
    })
    .expect("the demo answers at once");
    let mut query = Query::since(now - Duration::hours(2));
    query.model = Some("fraud-detector".into());
    let got = build(
        &Inputs {
            snapshot: Some(&snap),
            audit: &audit,
            models: &models,
            drift: &drift,
            alerts: &alerts,
            gpus: &gpus,
            at: now,
            drift_windows: 3,
        },
        &query,
    );
    let first = |pred: &dyn Fn(&Entry) -> bool| {
        got.iter()
            .position(pred)
            .unwrap_or_else(|| panic!("not in {got:#?}"))
    };
    let start = first(&|e| e.kind == Kind::RolloutStarted);
    let step = first(&|e| e.kind == Kind::Step);
    let failed = first(&|e| e.kind == Kind::CheckFailed);
    let rollback = first(&|e| e.summary.contains("→ RollingBack"));
    let scaled_down = first(&|e| {
        e.source == Source::Kubernetes
            && e.summary.contains("canary")
            && e.summary.contains("Scaled down")
    });
    assert!(start < step && step < failed && failed < rollback && rollback < scaled_down);
    let sources: BTreeSet<Source> = got.iter().map(|e| e.source).collect();
    assert!(sources.len() >= 4, "{sources:?}");
    assert!(
        sources.contains(&Source::Alerts),
        "the SLO alert: {sources:?}"
    );
    assert!(
        got[start].changed_before,
        "the start came before the failed check"
    );
}
