use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::{config::*, *};
use crate::{
    analysis::{Measurement, MetricCheck},
    rollout::{CommandRecord, RolloutSpec, RolloutStatus},
};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("time")
}

fn t(secs: i64, from: Phase, to: Phase, step: usize, reason: &str) -> Transition {
    Transition {
        time: at(secs),
        from,
        to,
        step,
        reason: reason.into(),
    }
}

fn record(status: RolloutStatus) -> RolloutRecord {
    RolloutRecord {
        name: "fraud-v7".into(),
        namespace: "ml-serving".into(),
        cluster: "prod".into(),
        created: at(0),
        spec: RolloutSpec::test(),
        status,
        policy: None,
    }
}

/// Started, at the approval gate (approved by remy), promoted.
fn promoted() -> RolloutRecord {
    record(RolloutStatus {
        phase: Phase::Promoted,
        history: vec![
            t(1, Phase::Pending, Phase::Progressing, 0, "started"),
            t(
                60,
                Phase::Progressing,
                Phase::AwaitingApproval,
                3,
                "waiting for 1 approval",
            ),
            t(
                90,
                Phase::AwaitingApproval,
                Phase::Progressing,
                4,
                "approved by remy: ok",
            ),
            t(
                95,
                Phase::Progressing,
                Phase::Promoting,
                5,
                "all steps done",
            ),
            t(100, Phase::Promoting, Phase::Promoted, 5, "promoted"),
        ],
        last_command: Some(CommandRecord {
            verb: "approve".into(),
            user: "remy".into(),
            time: at(90),
            ..CommandRecord::default()
        }),
        ..RolloutStatus::default()
    })
}

#[test]
fn transitions_give_events_named_after_what_happened() {
    let e = events(&promoted(), "uid-1");
    let got: Vec<(Trigger, &str, &str)> = e
        .iter()
        .map(|e| (e.trigger, e.actor.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Trigger::AwaitingApproval,
                "controller",
                "waiting for 1 approval"
            ),
            (Trigger::Promoted, "remy", "all steps done; promoted"),
        ]
    );
    assert_eq!(e[1].phase, Phase::Promoted);
    assert_eq!(e[1].link(), "mlops rollout get fraud-v7 -n ml-serving");
    assert_eq!((e[1].model.as_str(), e[1].version), ("fraud-detector", 7));
}

#[test]
fn keys_are_stable_and_differ_by_rollout_trigger_and_time() {
    let a = events(&promoted(), "uid-1");
    let b = events(&promoted(), "uid-1");
    assert_eq!(a, b, "the same status gives the same keys");
    let other = events(&promoted(), "uid-2");
    assert_ne!(a[0].key, other[0].key, "a recreated rollout has new keys");
    assert_ne!(a[0].key, a[1].key);
    assert!(
        a[0].key.starts_with("mlops-") && a[0].key.len() == 30,
        "{}",
        a[0].key
    );
    assert_ne!(
        key("u", Trigger::Paused, at(1), 2),
        key("u", Trigger::Paused, at(2), 2)
    );
}

#[test]
fn a_rollback_caused_by_analysis_is_the_controllers_even_after_an_approval() {
    let mut r = promoted();
    r.status.history.truncate(3);
    r.status.history.push(t(
        120,
        Phase::Progressing,
        Phase::RollingBack,
        4,
        "analysis failed",
    ));
    r.status.history.push(t(
        125,
        Phase::RollingBack,
        Phase::RolledBack,
        4,
        "rolled back",
    ));
    let e = events(&r, "u");
    let last = e.last().expect("an event");
    assert_eq!(
        (last.trigger, last.actor.as_str()),
        (Trigger::RolledBack, "controller")
    );

    // An operator's rollback is theirs.
    r.status.history.truncate(3);
    r.status.history.push(t(
        130,
        Phase::Progressing,
        Phase::RollingBack,
        4,
        "rolled back by ana",
    ));
    r.status.history.push(t(
        131,
        Phase::RollingBack,
        Phase::RolledBack,
        4,
        "rolled back",
    ));
    r.status.last_command = Some(CommandRecord {
        verb: "rollback".into(),
        user: "ana".into(),
        time: at(130),
        ..CommandRecord::default()
    });
    let e = events(&r, "u");
    assert_eq!(e.last().map(|e| e.actor.as_str()), Some("ana"));
    assert_eq!(
        e.last().map(|e| e.reason.as_str()),
        Some("rolled back by ana; rolled back"),
        "the cause comes first"
    );
}

#[test]
fn a_message_change_in_the_same_phase_is_no_event() {
    let r = record(RolloutStatus {
        history: vec![t(1, Phase::Paused, Phase::Paused, 1, "still paused")],
        ..RolloutStatus::default()
    });
    assert!(events(&r, "u").is_empty());
}

fn drift_spec() -> RolloutSpec {
    let mut spec = RolloutSpec::test();
    spec.analysis.metrics.push(MetricCheck {
        name: "drift".into(),
        kind: MetricKind::Drift,
        canary_query: "c".into(),
        stable_query: Some("s".into()),
        max: Some(0.2),
        max_ratio_to_stable: None,
        budget: None,
    });
    spec
}

fn m(secs: i64, metric: &str, verdict: Verdict) -> Measurement {
    Measurement {
        time: at(secs),
        metric: metric.into(),
        canary: Some(0.3),
        stable: None,
        verdict,
        reason: "PSI 0.30 > 0.2".into(),
    }
}

#[test]
fn a_drift_alert_is_the_first_failing_round_of_a_drift_check() {
    let mut r = record(RolloutStatus {
        phase: Phase::Progressing,
        history: vec![t(1, Phase::Pending, Phase::Progressing, 0, "started")],
        measurements: vec![
            m(10, "drift", Verdict::Pass),
            m(10, "error-rate", Verdict::Fail),
            m(20, "drift", Verdict::Fail),
            m(30, "drift", Verdict::Fail),
            m(40, "drift", Verdict::Pass),
            m(50, "drift", Verdict::Fail),
        ],
        ..RolloutStatus::default()
    });
    r.spec = drift_spec();
    let alerts: Vec<_> = events(&r, "u")
        .into_iter()
        .filter(|e| e.trigger == Trigger::DriftAlert)
        .collect();
    assert_eq!(
        alerts.iter().map(|e| e.time).collect::<Vec<_>>(),
        vec![at(20), at(50)]
    );
    assert_eq!(alerts[0].phase, Phase::Progressing);
    assert!(
        alerts[0].reason.contains("PSI 0.30"),
        "{}",
        alerts[0].reason
    );
}

#[test]
fn the_ledger_stops_what_was_delivered_and_stays_bounded() {
    let r = promoted();
    let now = at(200);
    let owed = pending(&r, "u", now);
    assert_eq!(owed.len(), 2);
    let ledger = record_delivery(&[], &owed[0], Some("slack"), false);
    assert!(delivered(&ledger, &owed[0].key, "slack"));
    assert!(!delivered(&ledger, &owed[0].key, "hook"));
    let mut r2 = r.clone();
    r2.status.notifications = ledger.clone();
    assert_eq!(pending(&r2, "u", now).len(), 2, "not done: hook still owed");
    r2.status.notifications = record_delivery(&ledger, &owed[0], Some("hook"), true);
    assert_eq!(r2.status.notifications[0].to, vec!["slack", "hook"]);
    assert_eq!(pending(&r2, "u", now), vec![owed[1].clone()]);

    // Too old: not owed at all.
    assert!(pending(&r, "u", at(100 + MAX_AGE_HOURS * 3600 + 1)).is_empty());

    let mut big = Vec::new();
    for i in 0..(MAX_LEDGER as i64 + 10) {
        let mut e = owed[0].clone();
        e.key = format!("k{i}");
        e.time = at(i);
        big = record_delivery(&big, &e, None, true);
    }
    assert_eq!(big.len(), MAX_LEDGER);
    assert_eq!(big[0].key, "k10", "the oldest go first");
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[test]
fn a_config_map_names_destinations_and_subscriptions() {
    let (c, problems) = parse_config_map(
        "ml",
        &data(&[
            ("destination.oncall", "slack"),
            ("destination.audit", " webhook\n"),
            ("subscribe.on-rolled-back", "oncall, audit"),
            ("subscribe.on-promoted", "audit"),
        ]),
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(c.destinations.get("oncall"), Some(&Kind::Slack));
    assert_eq!(c.destinations.get("audit"), Some(&Kind::Webhook));
    let own = Subscriptions::new();
    assert_eq!(
        destinations_for(&c, &own, Trigger::RolledBack)
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["audit", "oncall"]
    );
    assert!(destinations_for(&c, &own, Trigger::Paused).is_empty());

    let (own, problems) = parse_annotations(
        "ml",
        "r",
        &data(&[
            ("notifications.mlops.dev/subscribe.on-paused", "oncall"),
            ("mlops.dev/author", "remy"),
        ]),
        &c,
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(destinations_for(&c, &own, Trigger::Paused).len(), 1);
}

#[test]
fn a_bad_config_names_the_key_and_why_and_the_rest_is_used() {
    let (c, problems) = parse_config_map(
        "ml",
        &data(&[
            ("destination.oncall", "slack"),
            ("destination.pager", "pagerduty"),
            ("destination.bad name", "webhook"),
            ("subscribe.on-rolledback", "oncall"),
            ("subscribe.on-promoted", "oncall, nobody"),
            ("url", "https://x"),
        ]),
    );
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert_eq!(problems.len(), 5, "{all}");
    assert!(all.contains("ConfigMap ml/mlops-notifications key destination.pager: unknown destination type \"pagerduty\""), "{all}");
    assert!(all.contains("key subscribe.on-rolledback: unknown trigger \"on-rolledback\" (valid: on-awaiting-approval,"), "{all}");
    assert!(all.contains("no destination \"nobody\""), "{all}");
    assert!(all.contains("key url: unknown key"), "{all}");
    assert!(
        all.contains("\"bad name\" is not a destination name"),
        "{all}"
    );
    // What was good is kept.
    assert_eq!(
        destinations_for(&c, &Subscriptions::new(), Trigger::Promoted)
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["oncall"]
    );

    let (_, problems) = parse_annotations(
        "ml",
        "r",
        &data(&[("notifications.mlops.dev/subscribe.on-paused", "")]),
        &c,
    );
    assert_eq!(
        problems[0].to_string(),
        "ModelRollout ml/r annotation notifications.mlops.dev/subscribe.on-paused: names no destination"
    );
}

#[test]
fn urls_are_checked_and_shown_without_their_secret() {
    assert!(check_url("https://hooks.slack.com/services/T/B/X").is_ok());
    assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
    assert_eq!(
        check_url("ftp://x/y").err().unwrap_or_default(),
        "has the scheme \"ftp\" (want http or https)"
    );
    assert_eq!(
        check_url("hooks.slack.com").err().unwrap_or_default(),
        "is not a URL (want http://… or https://…)"
    );
    assert_eq!(
        check_url("https:///path").err().unwrap_or_default(),
        "has no host"
    );
    assert_eq!(
        redacted("https://hooks.slack.com/services/T/B/SECRET"),
        "https://hooks.slack.com/…"
    );
    assert_eq!(
        redacted("http://user:pw@10.0.0.1:80/x"),
        "http://10.0.0.1:80/…"
    );
    assert_eq!(redacted("http://h:1"), "http://h:1");
}

#[test]
fn payloads_carry_the_facts_and_the_key() {
    let e = &events(&promoted(), "u")[1];
    let w = payload::webhook(e);
    assert_eq!(w["event"], "on-promoted");
    assert_eq!(w["idempotencyKey"], e.key.as_str());
    assert_eq!(w["rollout"], "ml-serving/fraud-v7");
    assert_eq!(
        (w["model"].as_str(), w["version"].as_u64()),
        (Some("fraud-detector"), Some(7))
    );
    assert_eq!(
        (w["phase"].as_str(), w["actor"].as_str()),
        (Some("Promoted"), Some("remy"))
    );
    assert_eq!(w["link"], "mlops rollout get fraud-v7 -n ml-serving");
    assert_eq!(w["time"], "2027-01-15T08:01:40.000Z");

    let mut odd = e.clone();
    odd.reason = "a <b> & c".into();
    let s = payload::slack(&odd);
    let text = s["text"].as_str().expect("text");
    assert!(text.starts_with("fraud-detector v7 was promoted (ml-serving/fraud-v7, Promoted): a &lt;b&gt; &amp; c — by remy"), "{text}");
    let all = s["blocks"].to_string();
    assert!(
        all.contains(&e.key) && all.contains("mlops rollout get fraud-v7 -n ml-serving"),
        "{all}"
    );
}
