use std::{collections::BTreeMap, fmt::Write as _};

use chrono::{TimeZone, Utc};

use super::{signature::*, *};
use crate::model::{ModelVersion, RegisteredModel};

fn spec(when: When) -> TriggerSpec {
    TriggerSpec {
        model: "fraud-detector".into(),
        when,
        deployment: "fraud-detector".into(),
        template: "canary".into(),
    }
}

fn alias(a: &str) -> When {
    When {
        alias: Some(a.into()),
        ..When::default()
    }
}

/// RFC 4231, test cases 1 and 6 (a key longer than a block).
#[test]
fn hmac_sha256_matches_rfc_4231() {
    let hex = |b: &[u8]| {
        b.iter().fold(String::new(), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
    };
    assert_eq!(
        hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(
        hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn base64_pads_like_python() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
}

fn headers(id: &str, ts: i64, sig: String) -> Headers {
    Headers {
        delivery_id: Some(id.into()),
        timestamp: Some(ts.to_string()),
        signature: Some(sig),
    }
}

#[test]
fn a_delivery_signed_with_the_secret_is_verified_and_others_are_not() {
    let body = br#"{"entity":"model_version_alias","action":"created"}"#;
    let now = 1_760_000_000;
    let good = headers("d-1", now, sign("s3cret", "d-1", &now.to_string(), body));
    assert_eq!(
        verify("s3cret", &good, body, now),
        Ok(Verified {
            delivery_id: "d-1".into(),
            timestamp: now
        })
    );
    assert_eq!(
        verify("other", &good, body, now),
        Err(Rejected::BadSignature)
    );
    assert_eq!(
        verify("s3cret", &good, b"{}", now),
        Err(Rejected::BadSignature)
    );
    let moved = headers("d-2", now, sign("s3cret", "d-1", &now.to_string(), body));
    assert_eq!(
        verify("s3cret", &moved, body, now),
        Err(Rejected::BadSignature)
    );
    let unversioned = headers("d-1", now, "v2,abc".into());
    assert_eq!(
        verify("s3cret", &unversioned, body, now),
        Err(Rejected::MalformedSignature)
    );
    let mut missing = good.clone();
    missing.signature = None;
    assert_eq!(
        verify("s3cret", &missing, body, now),
        Err(Rejected::MissingHeader("X-MLflow-Signature"))
    );
}

#[test]
fn a_stale_or_future_timestamp_is_rejected_even_when_signed() {
    let body = b"{}";
    let now = 1_760_000_000;
    for (ts, ok) in [(now - 300, true), (now - 301, false), (now + 301, false)] {
        let h = headers("d", ts, sign("k", "d", &ts.to_string(), body));
        assert_eq!(verify("k", &h, body, now).is_ok(), ok, "timestamp {ts}");
    }
    let h = headers(
        "d",
        now - 400,
        sign("k", "d", &(now - 400).to_string(), body),
    );
    assert_eq!(verify("k", &h, body, now), Err(Rejected::Stale(-400)));
}

#[test]
fn a_delivery_id_is_admitted_once_until_forgotten() {
    let mut guard = ReplayGuard::default();
    let d = Verified {
        delivery_id: "abc".into(),
        timestamp: 0,
    };
    assert_eq!(guard.admit(&d, 10), Ok(()));
    assert_eq!(guard.admit(&d, 11), Err(Rejected::Replayed("abc".into())));
    guard.forget("abc");
    assert_eq!(guard.admit(&d, 12), Ok(()));
}

#[test]
fn when_names_exactly_one_condition() {
    assert_eq!(
        alias("champion").condition(),
        Ok(Condition::Alias("champion".into()))
    );
    let tag = When {
        tag: Some("validation_status=passed".into()),
        ..When::default()
    };
    assert_eq!(
        tag.condition(),
        Ok(Condition::Tag {
            key: "validation_status".into(),
            value: "passed".into()
        })
    );
    let bad_tag = When {
        tag: Some("validation_status".into()),
        ..When::default()
    };
    assert!(
        bad_tag
            .condition()
            .expect_err("an error")
            .contains("KEY=VALUE")
    );
    assert!(
        When::default()
            .condition()
            .expect_err("an error")
            .contains("names nothing")
    );
    let two = When {
        alias: Some("a".into()),
        version_created: Some(true),
        ..When::default()
    };
    assert!(
        two.condition()
            .expect_err("an error")
            .contains("more than one")
    );
}

const ALIAS_BODY: &str = r#"{"entity": "model_version_alias", "action": "created", "timestamp": "2026-12-06T17:00:00+00:00", "data": {"name": "fraud-detector", "alias": "champion", "version": "7"}}"#;

#[test]
fn mlflow_bodies_are_read_and_others_named() {
    assert_eq!(
        parse_webhook(ALIAS_BODY.as_bytes()),
        Ok(RegistryEvent::AliasSet {
            model: "fraud-detector".into(),
            alias: "champion".into(),
            version: 7
        })
    );
    let tag = r#"{"entity":"model_version_tag","action":"set","timestamp":"t","data":{"name":"m","version":"2","key":"k","value":"v"}}"#;
    assert!(matches!(
        parse_webhook(tag.as_bytes()),
        Ok(RegistryEvent::TagSet { version: 2, .. })
    ));
    let other = r#"{"entity":"prompt","action":"created","timestamp":"t","data":{}}"#;
    assert_eq!(
        parse_webhook(other.as_bytes()).map(|e| e.kind()),
        Ok("prompt.created".into())
    );
    assert!(
        parse_webhook(b"[1,2]")
            .expect_err("an error")
            .contains("not an MLflow webhook body")
    );
    let bad_version = ALIAS_BODY.replace("\"7\"", "\"seven\"");
    assert!(
        parse_webhook(bad_version.as_bytes())
            .expect_err("an error")
            .contains("not a version number")
    );
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    assert!(
        parse_webhook(&big)
            .expect_err("an error")
            .contains("at most")
    );
}

#[test]
fn an_event_matches_only_its_model_and_condition() {
    let event = parse_webhook(ALIAS_BODY.as_bytes()).expect("body");
    assert_eq!(matches(&spec(alias("champion")), &event), Some(7));
    assert_eq!(matches(&spec(alias("challenger")), &event), None);
    let mut other_model = spec(alias("champion"));
    other_model.model = "churn-model".into();
    assert_eq!(matches(&other_model, &event), None);
    let created = spec(When {
        version_created: Some(true),
        ..When::default()
    });
    assert_eq!(matches(&created, &event), None);
}

#[test]
fn rollout_names_are_deterministic_valid_and_distinct() {
    assert_eq!(rollout_name("fraud-on-champion", 7), "fraud-on-champion-v7");
    let long = "a".repeat(80);
    let n = rollout_name(&long, 12);
    assert!(n.len() <= 63 && n.ends_with("-v12"), "{n}");
    assert_eq!(n, rollout_name(&long, 12));
    assert_ne!(rollout_name(&format!("{long}b"), 12), n);
}

fn version(v: u32, minute: u32, tags: &[(&str, &str)]) -> ModelVersion {
    ModelVersion {
        model: "fraud-detector".into(),
        version: v,
        run_id: None,
        created: Utc
            .with_ymd_and_hms(2026, 12, 1, 0, minute, 0)
            .single()
            .expect("time"),
        status: "READY".into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
    }
}

fn model(aliases: &[(&str, u32)], versions: Vec<ModelVersion>) -> RegisteredModel {
    RegisteredModel {
        name: "fraud-detector".into(),
        description: String::new(),
        aliases: aliases
            .iter()
            .map(|(a, v)| ((*a).to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        tags: BTreeMap::new(),
        versions,
    }
}

#[test]
fn a_poll_fires_on_an_alias_that_moved_but_not_on_the_first_look() {
    let now = Utc::now();
    let c = Condition::Alias("champion".into());
    let m3 = model(
        &[("champion", 3)],
        vec![version(3, 0, &[]), version(4, 1, &[])],
    );
    let (fire, cursor) = poll::poll(&c, &m3, &PollCursor::default(), now);
    assert_eq!((fire, cursor.alias_version), (None, Some(3)));
    let (fire, same) = poll::poll(&c, &m3, &cursor, now);
    assert_eq!(fire, None);
    let m4 = model(
        &[("champion", 4)],
        vec![version(3, 0, &[]), version(4, 1, &[])],
    );
    let (fire, moved) = poll::poll(&c, &m4, &same, now);
    assert_eq!((fire, moved.alias_version), (Some(4), Some(4)));
}

#[test]
fn a_poll_fires_on_a_newer_version_and_a_newly_tagged_one() {
    let now = Utc::now();
    let created = Condition::VersionCreated;
    let before = model(&[], vec![version(1, 0, &[])]);
    let (_, cursor) = poll::poll(&created, &before, &PollCursor::default(), now);
    let after = model(&[], vec![version(1, 0, &[]), version(2, 5, &[])]);
    assert_eq!(poll::poll(&created, &after, &cursor, now).0, Some(2));
    assert_eq!(poll::poll(&created, &before, &cursor, now).0, None);

    let tag = Condition::Tag {
        key: "validation_status".into(),
        value: "passed".into(),
    };
    let one = model(
        &[],
        vec![
            version(1, 0, &[("validation_status", "passed")]),
            version(2, 1, &[]),
        ],
    );
    let (_, cursor) = poll::poll(&tag, &one, &PollCursor::default(), now);
    assert_eq!(cursor.tagged, vec![1]);
    let two = model(
        &[],
        vec![
            version(1, 0, &[("validation_status", "passed")]),
            version(2, 1, &[("validation_status", "passed")]),
        ],
    );
    let (fire, next) = poll::poll(&tag, &two, &cursor, now);
    assert_eq!((fire, next.tagged), (Some(2), vec![1, 2]));
}

#[test]
fn the_older_trigger_keeps_a_contested_deployment() {
    let t = |name: &str, minute: u32, d: &str| Claimant {
        namespace: "ml".into(),
        name: name.into(),
        deployment: d.into(),
        created: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, minute, 0)
            .single()
            .expect("time"),
    };
    let lost = contested(&[
        t("newer", 5, "fraud"),
        t("older", 1, "fraud"),
        t("alone", 0, "churn"),
    ]);
    assert_eq!(lost.len(), 1);
    assert_eq!(
        lost.get(&("ml".to_string(), "newer".to_string())),
        Some(&"older".to_string())
    );
}

#[test]
fn ready_keeps_its_transition_time_while_unchanged() {
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let t1 = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 1, 0)
        .single()
        .expect("time");
    let mut s = TriggerStatus::default();
    s.set_ready(Err(("ModelNotFound".into(), "no model m".into())), t0);
    s.set_ready(Err(("ModelNotFound".into(), "no model m".into())), t1);
    assert_eq!(s.conditions[0].last_transition_time, t0);
    assert_eq!(s.not_ready(), Some(("ModelNotFound", "no model m")));
    s.set_ready(Ok(()), t1);
    assert_eq!((s.conditions.len(), s.not_ready()), (1, None));
}
