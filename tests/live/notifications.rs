//! Notifications from `mlops controller` on the real API server, to receivers in this test
//! process (plain HTTP over a `TcpListener`): a rollout waits for approval and is promoted,
//! another is rolled back; a generic webhook and a Slack-compatible one get each event once,
//! a receiver that answers 500 for a while gets every event once it recovers (repeats only with
//! the same key), one that hangs and one that refuses delay nothing and are named in Events
//! without their secret path, a bad ConfigMap key and a bad annotation are named in Events, and a
//! restarted controller sends nothing it had delivered.

#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::{ConfigMap, Event as K8sEvent, Secret};
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::rollout::Phase;

use common::controller::{start as start_controller, wait_phase};

/// What the receiver got: (path, Idempotency-Key header, body, answered 200).
type Seen = Arc<Mutex<Vec<(String, String, serde_json::Value, bool)>>>;

/// The token every URL carries in its path, as a Slack URL does: it must never be shown.
const TOKEN: &str = "s3cr3t-t0ken";

/// A receiver on 127.0.0.1: `/ok/…` and `/slack/…` answer 200, `/flaky/…` 500 until
/// `flaky_until`, `/hang/…` never answers. Every request is recorded as it arrives.
fn receiver(flaky_until: Instant) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let record = record.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (mut length, mut key) = (0usize, String::new());
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    let (name, value) = h.split_once(':').unwrap_or((&h, ""));
                    match name.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "idempotency-key" => key = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                let mut stream = stream;
                if path.starts_with("/hang/") {
                    record.lock().expect("lock").push((path, key, json, false));
                    std::thread::sleep(Duration::from_secs(120));
                    return;
                }
                let fail = path.starts_with("/flaky/") && Instant::now() < flaky_until;
                record.lock().expect("lock").push((path, key, json, !fail));
                let status = if fail {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            });
        }
    });
    (port, seen)
}

/// `model` in MLflow with versions 1 and 2 and their image tags (promotion moves its alias);
/// deleted when the returned guard is dropped.
fn register(model: &str) -> common::Unregister {
    let name: &'static str = Box::leak(model.to_string().into_boxed_str());
    common::mlflow(
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        Some(serde_json::json!({"name": name})),
    );
    for version in ["1", "2"] {
        common::mlflow(
            "POST",
            "/api/2.0/mlflow/model-versions/create",
            Some(serde_json::json!({"name": name, "source": "s3://notify/model"})),
        );
        common::mlflow(
            "POST",
            "/api/2.0/mlflow/model-versions/set-tag",
            Some(
                serde_json::json!({"name": name, "version": version, "key": "image",
                "value": format!("registry.mlops.invalid/models/{name}:v{version}")}),
            ),
        );
    }
    common::Unregister(name)
}

fn rollout(
    name: &str,
    model: &str,
    steps: &serde_json::Value,
    annotations: &BTreeMap<&str, &str>,
) -> ModelRollout {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "model": {"name": model, "version": 2},
            "stableVersion": 1,
            "deployment": model,
            "image": format!("registry.mlops.invalid/models/{model}:v2"),
            "replicas": 2,
            "steps": steps,
            "analysis": {"intervalSeconds": 2, "failureLimit": 3, "metrics": [{
                "name": "error-rate", "kind": "errorRate",
                "canaryQuery": format!("sum(rate(model_requests_total{{model=\"{model}\",track=\"canary\",code=~\"5..\"}}[30s]))"),
                "max": 0.05
            }]},
            "approval": {"required": 1}
        }
    }))
    .expect("rollout")
}

/// Requests to `path` (a prefix), as (key, body).
fn got(seen: &Seen, path: &str) -> Vec<(String, serde_json::Value)> {
    seen.lock()
        .expect("lock")
        .iter()
        .filter(|(p, _, _, _)| p.starts_with(path))
        .map(|(_, k, b, _)| (k.clone(), b.clone()))
        .collect()
}

/// Wait until `check` holds, for at most `secs`.
async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn warnings(client: &kube::Client, ns: &str, rollout: &str) -> Vec<(String, String)> {
    Api::<K8sEvent>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(rollout))
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

/// The Warning Events of `rollout`, once one says `NotificationFailed` … `needle` (60 s at most).
async fn warned(
    client: &kube::Client,
    ns: &str,
    rollout: &str,
    needle: &str,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let w = warnings(client, ns, rollout).await;
        if w.iter()
            .any(|(r, m)| r == "NotificationFailed" && m.contains(needle))
        {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "no NotificationFailed Event {needle} on {rollout}: {w:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn the_controller_notifies_every_event_once_and_survives_bad_receivers() {
    let (ns, namespaces) = common::new_namespace("notify").await;
    let (cluster, _) = common::installed().await;
    let client = cluster.client();
    let api: Api<ModelRollout> = Api::namespaced(client.clone(), &ns);
    let (model_a, model_b) = (format!("{ns}-a"), format!("{ns}-b"));
    let _registered = (register(&model_a), register(&model_b));
    common::serving_deployment(&client, &ns, &model_a).await;
    common::serving_deployment(&client, &ns, &model_b).await;
    let (port, seen) = receiver(Instant::now() + Duration::from_secs(15));
    let refused = TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused_port = refused.local_addr().expect("addr").port();
    drop(refused);

    let data = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    };
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("mlops-notifications".into()),
            ..Default::default()
        },
        data: Some(data(&[
            ("destination.hook", "webhook".into()),
            ("destination.chat", "slack".into()),
            ("destination.flaky", "webhook".into()),
            ("destination.hang", "webhook".into()),
            ("destination.refused", "webhook".into()),
            ("destination.bad", "webhook".into()),
            (
                "subscribe.on-awaiting-approval",
                "hook, chat, flaky, hang".into(),
            ),
            ("subscribe.on-promoted", "hook flaky bad".into()),
            ("subscribe.on-rolledback", "hook".into()),
        ])),
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &cm)
        .await
        .expect("ConfigMap");
    let url = |path: &str| format!("http://127.0.0.1:{port}/{path}/{TOKEN}");
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("mlops-notifications".into()),
            ..Default::default()
        },
        string_data: Some(data(&[
            ("hook", url("ok")),
            ("chat", url("slack")),
            ("flaky", url("flaky")),
            ("hang", url("hang")),
            (
                "refused",
                format!("http://127.0.0.1:{refused_port}/x/{TOKEN}"),
            ),
            ("bad", format!("ftp://files.invalid/{TOKEN}")),
        ])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("Secret");

    let id = format!("notify-{}", std::process::id());
    let log = std::fs::File::create(format!(
        "{}/notify-controller.log",
        env!("CARGO_TARGET_TMPDIR")
    ))
    .expect("log file");
    let controller = common::controller::start_logging(
        common::mlops_cmd(&["controller", "--id", &id])
            .env("MLOPS_LOG", "info")
            .stderr(log),
    );

    // A: waits for approval (the hanging receiver delays nothing), is approved and promoted.
    let a = rollout(
        "notify-a",
        &model_a,
        &serde_json::json!([{"setWeight": 50}, {"approval": {}}, {"setWeight": 100}]),
        &BTreeMap::new(),
    );
    api.create(&PostParams::default(), &a)
        .await
        .expect("create a");
    let started = Instant::now();
    wait_phase(&api, "notify-a", Phase::AwaitingApproval, 90).await;
    eventually(30, "the webhook gets on-awaiting-approval", || {
        got(&seen, "/ok/")
            .iter()
            .any(|(_, b)| b["event"] == "on-awaiting-approval")
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "reaching the gate and notifying took {:?}",
        started.elapsed()
    );
    common::mlops_ok(&[
        "rollout",
        "approve",
        "notify-a",
        "-n",
        &ns,
        "--comment",
        "notify test",
    ]);
    let promoted = wait_phase(&api, "notify-a", Phase::Promoted, 90).await;
    let me = cluster.identity().await.expect("identity");

    // B: subscribed by its annotations (one names no trigger), paused, rolled back from the CLI.
    let annotations = BTreeMap::from([
        (
            "notifications.mlops.dev/subscribe.on-rolled-back",
            "hook, refused",
        ),
        ("notifications.mlops.dev/subscribe.on-explode", "hook"),
    ]);
    let b = rollout(
        "notify-b",
        &model_b,
        &serde_json::json!([{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]),
        &annotations,
    );
    api.create(&PostParams::default(), &b)
        .await
        .expect("create b");
    wait_phase(&api, "notify-b", Phase::Paused, 90).await;
    common::mlops_ok(&[
        "rollout",
        "rollback",
        "notify-b",
        "-n",
        &ns,
        "--reason",
        "notify test",
    ]);
    wait_phase(&api, "notify-b", Phase::RolledBack, 90).await;

    // The generic webhook: each event once, with the facts.
    eventually(
        30,
        "the webhook gets on-promoted and on-rolled-back",
        || got(&seen, "/ok/").len() >= 3,
    )
    .await;
    let ok = got(&seen, "/ok/");
    let events: Vec<(&str, &str)> = ok
        .iter()
        .map(|(_, b)| {
            (
                b["event"].as_str().unwrap_or(""),
                b["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("on-awaiting-approval", "notify-a"),
            ("on-promoted", "notify-a"),
            ("on-rolled-back", "notify-b"),
        ]
    );
    for (key, body) in &ok {
        assert_eq!(
            body["idempotencyKey"].as_str(),
            Some(key.as_str()),
            "{body}"
        );
        assert!(key.starts_with("mlops-"), "{key}");
        assert_eq!(
            body["link"],
            format!(
                "mlops rollout get {} -n {ns}",
                body["name"].as_str().unwrap_or("")
            )
        );
    }
    let promoted_body = &ok[1].1;
    assert_eq!(promoted_body["model"], model_a.as_str());
    assert_eq!(promoted_body["version"], 2);
    assert_eq!(promoted_body["rollout"], format!("{ns}/notify-a"));
    assert_eq!(promoted_body["phase"], "Promoted");
    assert_eq!(promoted_body["actor"], me.as_str(), "the approver acted");
    assert_eq!(ok[2].1["actor"], me.as_str());
    assert_eq!(ok[0].1["actor"], "controller");
    assert!(
        ok[2].1["reason"]
            .as_str()
            .unwrap_or("")
            .contains("rolled back"),
        "{}",
        ok[2].1
    );

    // Slack: its format, the same key.
    let chat = got(&seen, "/slack/");
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert_eq!(
        chat[0].0, ok[0].0,
        "the same event has the same key everywhere"
    );
    let text = chat[0].1["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with(&format!("{model_a} v2 is waiting for approval")),
        "{text}"
    );
    assert!(
        chat[0].1["blocks"].to_string().contains(&ok[0].0),
        "{}",
        chat[0].1
    );

    // The flaky receiver: 500 at first, then every event it is subscribed to, each key at least
    // once and no key it should not have.
    let want: std::collections::BTreeSet<String> = [ok[0].0.clone(), ok[1].0.clone()].into();
    eventually(
        90,
        "the flaky receiver gets both events after it recovers",
        || {
            let answered: std::collections::BTreeSet<String> = seen
                .lock()
                .expect("lock")
                .iter()
                .filter(|(p, _, _, ok)| p.starts_with("/flaky/") && *ok)
                .map(|(_, k, _, _)| k.clone())
                .collect();
            answered == want
        },
    )
    .await;
    let flaky = got(&seen, "/flaky/");
    assert!(flaky.iter().all(|(k, _)| want.contains(k)), "{flaky:?}");
    assert!(
        flaky.len() > want.len(),
        "the failures were retried: {flaky:?}"
    );

    // The ledger: what was delivered to whom.
    let awaiting = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ledger = api
                .get("notify-a")
                .await
                .expect("a")
                .status
                .expect("status")
                .notifications;
            let found = ledger.iter().find(|d| d.key == ok[0].0).cloned();
            match found {
                Some(d) if d.to.len() >= 3 => break d,
                other => assert!(
                    Instant::now() < deadline,
                    "the ledger: {other:?} in {ledger:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    assert!(
        awaiting.to.contains(&"hook".to_string()) && awaiting.to.contains(&"chat".to_string()),
        "{awaiting:?}"
    );
    assert!(
        !awaiting.done,
        "the hanging receiver still waits for it: {awaiting:?}"
    );
    let _ = promoted;

    // Events: the bad ConfigMap key, the bad URL, the bad annotation, the receivers that refuse
    // and hang — each named, no URL's secret path anywhere.
    let a_warnings = warned(&client, &ns, "notify-a", "to hang").await;
    let all_a = format!("{a_warnings:?}");
    assert!(
        all_a.contains("key subscribe.on-rolledback: unknown trigger \\\"on-rolledback\\\""),
        "{all_a}"
    );
    assert!(
        all_a.contains(&format!(
            "Secret {ns}/mlops-notifications key bad: the URL has the scheme \\\"ftp\\\""
        )),
        "{all_a}"
    );
    assert!(all_a.contains("timed out"), "{all_a}");
    assert!(
        all_a.contains(&format!("(http://127.0.0.1:{port}/…)")),
        "{all_a}"
    );
    let b_warnings = warned(&client, &ns, "notify-b", "to refused").await;
    let all_b = format!("{b_warnings:?}");
    assert!(
        all_b.contains("annotation notifications.mlops.dev/subscribe.on-explode: unknown trigger"),
        "{all_b}"
    );
    assert!(all_b.to_lowercase().contains("refused"), "{all_b}");
    assert!(
        !all_a.contains(TOKEN) && !all_b.contains(TOKEN),
        "a URL's secret path was shown"
    );

    // A restarted controller sends nothing it delivered (the ledger says so).
    // What it had not delivered (the hanging receiver never answers) it sends again, with the
    // same key.
    drop(controller);
    let before = got(&seen, "/ok/").len() + got(&seen, "/slack/").len();
    let hung = got(&seen, "/hang/").len();
    let _controller = start_controller(&format!("{id}-2"));
    eventually(
        30,
        "the new leader tries the hanging receiver again",
        || got(&seen, "/hang/").len() > hung,
    )
    .await;
    assert!(
        got(&seen, "/hang/").iter().all(|(k, _)| *k == ok[0].0),
        "the hanging receiver is subscribed to on-awaiting-approval only: {:?}",
        got(&seen, "/hang/")
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        got(&seen, "/ok/").len() + got(&seen, "/slack/").len(),
        before,
        "a delivered event was sent again after a restart"
    );
    // Whatever any receiver got, a repeat carries a key of an event it was subscribed to.
    let all_keys: std::collections::BTreeSet<String> = ok.iter().map(|(k, _)| k.clone()).collect();
    for (path, key, _, _) in seen.lock().expect("lock").iter() {
        assert!(all_keys.contains(key), "{path} got an unknown key {key}");
    }

    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
