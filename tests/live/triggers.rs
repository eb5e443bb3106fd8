//! RolloutTriggers on the real MLflow (SQL backend, webhooks delivered over https to the
//! controller, private addresses allowed for the test) and the real API server: setting an alias
//! through MLflow's REST API starts exactly one rollout, which progresses; setting it again, a
//! replayed delivery, a badly signed one and a controller restart start nothing more; a change
//! no webhook reports is found by the poll; bad triggers get a Ready=False condition naming why.

#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use mlops_console::adapters::kube::{crd::ModelRollout, triggers::RolloutTrigger};
use mlops_core::triggers::{DELIVERY_ANNOTATION, POLL, TRIGGERED_BY_ANNOTATION, signature::sign};
use serde_json::{Value, json};

const MODEL: &str = "trigger-model";
const TRIGGER: &str = "trigger-model-on-champion";
const SECRET: &str = "webhook-test-secret-7f3a";

/// Deletes the MLflow webhook the test registered, also when it fails.
struct DeleteWebhook(String);

impl Drop for DeleteWebhook {
    fn drop(&mut self) {
        let id = self.0.clone();
        let _ = std::panic::catch_unwind(|| {
            common::mlflow("DELETE", &format!("/api/2.0/mlflow/webhooks/{id}"), None)
        });
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `mlops controller` receiving webhooks on `port`, polling every `poll` seconds.
fn controller(id: &str, port: u16, poll: u64) -> common::controller::Controller {
    let env = common::env();
    let mut c = common::mlops_cmd(&["controller", "--id", id]);
    c.env("MLOPS_CONTROLLER_WEBHOOK_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "MLOPS_CONTROLLER_WEBHOOK_CERT",
            env.get("MLOPS_WEBHOOK_CERT"),
        )
        .env("MLOPS_CONTROLLER_WEBHOOK_KEY", env.get("MLOPS_WEBHOOK_KEY"))
        .env(
            "MLOPS_CONTROLLER_WEBHOOK_SECRET",
            "mlops-system/mlops-webhook",
        )
        .env("MLOPS_CONTROLLER_TRIGGER_POLL", poll.to_string());
    common::controller::start_with(&mut c)
}

/// A delivery sent by the test itself, signed with `secret`: the HTTP status it got.
fn send(port: u16, id: &str, body: &str, secret: &str) -> u16 {
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = sign(secret, id, &ts, body.as_bytes());
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            common::env().get("MLOPS_WEBHOOK_CA"),
            "-X",
            "POST",
            &format!("https://127.0.0.1:{port}/webhooks/mlflow"),
            "-H",
            "Content-Type: application/json",
            "-H",
            &format!("X-MLflow-Delivery-Id: {id}"),
            "-H",
            &format!("X-MLflow-Timestamp: {ts}"),
            "-H",
            &format!("X-MLflow-Signature: {signature}"),
            "--data-binary",
            "@-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            if let Some(mut stdin) = child.stdin.take() {
                // The receiver may stop reading an oversized body: not an error here.
                let _ = stdin.write_all(body.as_bytes());
            }
            child.wait_with_output()
        })
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

async fn wait_for<T>(what: &str, within: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn new_version(version_image: bool) -> u32 {
    let v = common::mlflow(
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        Some(json!({"name": MODEL, "source": format!("s3://triggers/{MODEL}")})),
    );
    let version: u32 = v["model_version"]["version"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a new version: {v}"));
    if version_image {
        common::mlflow(
            "POST",
            "/api/2.0/mlflow/model-versions/set-tag",
            Some(
                json!({"name": MODEL, "version": version.to_string(), "key": "image",
                "value": format!("registry.mlops.invalid/models/{MODEL}:v{version}")}),
            ),
        );
    }
    version
}

fn set_alias(version: u32) {
    common::mlflow(
        "POST",
        "/api/2.0/mlflow/registered-models/alias",
        Some(json!({"name": MODEL, "alias": "champion", "version": version.to_string()})),
    );
}

/// The rollouts in ml-serving this trigger started.
async fn started(rollouts: &Api<ModelRollout>) -> Vec<ModelRollout> {
    rollouts
        .list(&ListParams::default())
        .await
        .expect("list rollouts")
        .items
        .into_iter()
        .filter(|r| {
            r.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(TRIGGERED_BY_ANNOTATION))
                .is_some_and(|t| t == TRIGGER)
        })
        .collect()
}

fn trigger(name: &str, model: &str, deployment: &str) -> RolloutTrigger {
    serde_json::from_value(json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "RolloutTrigger",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": {"model": model, "when": {"alias": "champion"}, "deployment": deployment, "template": "quick"}
    }))
    .expect("trigger")
}

async fn status(triggers: &Api<RolloutTrigger>, name: &str) -> Value {
    let t = triggers.get(name).await.expect("the trigger");
    serde_json::to_value(t.status).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_starts_exactly_one_rollout_per_version() {
    let (cluster, rollouts) = common::installed().await;
    let triggers: Api<RolloutTrigger> = Api::namespaced(cluster.client(), "ml-serving");
    // What an earlier run left.
    for name in [TRIGGER, "trigger-model-copy", "trigger-model-missing"] {
        let _ = triggers.delete(name, &DeleteParams::default()).await;
    }
    for r in started(&rollouts).await {
        let _ = rollouts
            .delete(
                &r.metadata.name.unwrap_or_default(),
                &DeleteParams::default(),
            )
            .await;
    }
    let _unregister = common::Unregister(MODEL);
    common::mlflow(
        "DELETE",
        "/api/2.0/mlflow/registered-models/delete",
        Some(json!({"name": MODEL})),
    );
    common::mlflow(
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        Some(json!({"name": MODEL})),
    );
    // The serving Deployment back at version 1 (an earlier run promoted others).
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(cluster.client(), "ml-serving");
    for d in [MODEL.to_string(), format!("{MODEL}-canary")] {
        let _ = deployments.delete(&d, &DeleteParams::default()).await;
    }
    wait_for(
        "the old serving Deployment to go",
        Duration::from_secs(30),
        async || {
            deployments
                .get_opt(MODEL)
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
    common::own_serving_deployment(&cluster, MODEL).await;
    let v1 = new_version(true);
    set_alias(v1);
    let v2 = new_version(true);

    let secrets: Api<Secret> = Api::namespaced(cluster.client(), "mlops-system");
    let _ = secrets
        .delete("mlops-webhook", &DeleteParams::default())
        .await;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "mlops-webhook"}, "stringData": {"secret": SECRET}
    }))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("the webhook Secret");
    triggers
        .create(&PostParams::default(), &trigger(TRIGGER, MODEL, MODEL))
        .await
        .expect("the trigger");

    // Webhooks only (a poll an hour away, after the first one that takes its bearings).
    let port = free_port();
    let first = controller(&format!("triggers-a-{}", std::process::id()), port, 3600);
    let bearings = wait_for("the first poll", Duration::from_secs(30), async || {
        let s = status(&triggers, TRIGGER).await;
        (s["poll"]["aliasVersion"] == json!(v1)).then_some(s)
    })
    .await;
    assert_eq!(bearings["conditions"][0]["status"], "True", "{bearings:#}");
    assert!(
        started(&rollouts).await.is_empty(),
        "the alias the trigger found started nothing"
    );

    let hook = common::mlflow(
        "POST",
        "/api/2.0/mlflow/webhooks",
        Some(json!({"name": format!("triggers-{}", std::process::id()),
            "url": format!("https://127.0.0.1:{port}/webhooks/mlflow"),
            "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}],
            "secret": SECRET, "status": "ACTIVE"})),
    );
    let hook_id = hook["webhook"]["webhook_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a webhook: {hook}"))
        .to_string();
    let _delete_hook = DeleteWebhook(hook_id.clone());
    // MLflow's own test delivery reaches the receiver over TLS and is verified (no trigger
    // matches its example model).
    let tested = common::mlflow(
        "POST",
        &format!("/api/2.0/mlflow/webhooks/{hook_id}/test"),
        Some(json!({})),
    );
    assert_eq!(tested["result"]["success"], true, "{tested:#}");
    // MLflow re-reads its webhooks every second in the test environment.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The alias moves through MLflow's REST API: the delivery starts the rollout.
    set_alias(v2);
    let name = mlops_core::triggers::rollout_name(TRIGGER, v2);
    let r = wait_for("the rollout", Duration::from_secs(60), async || {
        rollouts.get_opt(&name).await.ok().flatten()
    })
    .await;
    let annotations = r.metadata.annotations.clone().unwrap_or_default();
    let delivery = annotations
        .get(DELIVERY_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    assert!(
        delivery.len() >= 32 && delivery != POLL,
        "started by MLflow's delivery, not a poll: {annotations:?}"
    );
    assert_eq!(r.spec.rollout.model.version, v2);
    // The status is written once the rollout is created.
    let s = wait_for(
        "the trigger's status",
        Duration::from_secs(30),
        async || {
            let s = status(&triggers, TRIGGER).await;
            (s["lastEvent"]["deliveryId"] == json!(delivery)).then_some(s)
        },
    )
    .await;
    assert_eq!(s["lastEvent"]["verdict"], "verified", "{s:#}");
    assert_eq!(s["startedRollout"], json!(name), "{s:#}");
    // The audit log says the trigger started it, with the delivery id.
    let out = common::mlops_ok(&["audit", "list", "--action", "rollout.start", "-o", "json"]);
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).expect("audit JSON");
    assert!(
        entries
            .iter()
            .any(|e| e["details"].as_str().is_some_and(|d| d
                .contains(&format!("RolloutTrigger {TRIGGER}"))
                && d.contains(&delivery))),
        "an audit entry naming the trigger and delivery {delivery}"
    );
    // …and it progresses on the cluster.
    wait_for(
        "the rollout to progress",
        Duration::from_secs(120),
        async || {
            let r = rollouts.get(&name).await.ok()?;
            let st = r.status?;
            (st.weight > 0 || st.phase == mlops_core::rollout::Phase::Promoted).then_some(())
        },
    )
    .await;

    // The same alias set again: a new delivery, verified, and nothing more started.
    set_alias(v2);
    wait_for("the second delivery", Duration::from_secs(60), async || {
        let s = status(&triggers, TRIGGER).await;
        (s["lastEvent"]["deliveryId"] != json!(delivery)).then_some(())
    })
    .await;
    let s = status(&triggers, TRIGGER).await;
    assert_eq!(s["lastEvent"]["verdict"], "verified", "{s:#}");
    assert!(
        s["lastEvent"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("started already"),
        "{s:#}"
    );
    assert_eq!(started(&rollouts).await.len(), 1);

    // A delivery the test signs and sends twice: the second is a replay.
    let body = json!({"entity": "model_version_alias", "action": "created",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "data": {"name": MODEL, "alias": "champion", "version": v2.to_string()}})
    .to_string();
    let id = format!("replay-{}", std::process::id());
    assert_eq!(send(port, &id, &body, SECRET), 200);
    assert_eq!(send(port, &id, &body, SECRET), 409);
    let s = status(&triggers, TRIGGER).await;
    assert_eq!(s["lastEvent"]["verdict"], "rejected", "{s:#}");
    assert!(
        s["lastEvent"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("replayed"),
        "{s:#}"
    );
    // Signed with another secret: rejected, and said so.
    assert_eq!(
        send(
            port,
            &format!("forged-{}", std::process::id()),
            &body,
            "another-secret"
        ),
        401
    );
    let s = status(&triggers, TRIGGER).await;
    assert_eq!(s["lastEvent"]["verdict"], "rejected", "{s:#}");
    assert!(
        s["lastEvent"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("signature does not match"),
        "{s:#}"
    );
    // Not MLflow's body, and an oversized one: refused; the receiver goes on.
    assert_eq!(
        send(
            port,
            &format!("junk-{}", std::process::id()),
            "[1,2,3]",
            SECRET
        ),
        400
    );
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1_100_000));
    assert_eq!(
        send(port, &format!("big-{}", std::process::id()), &big, SECRET),
        413
    );
    assert_eq!(started(&rollouts).await.len(), 1);
    wait_for(
        "the first rollout's end",
        Duration::from_secs(240),
        async || {
            let r = rollouts.get(&name).await.ok()?;
            r.status?.phase.is_terminal().then_some(())
        },
    )
    .await;
    drop(first);

    // A change no webhook reports (the webhook is gone, the controller down): the poll finds it.
    common::mlflow(
        "DELETE",
        &format!("/api/2.0/mlflow/webhooks/{hook_id}"),
        None,
    );
    let v3 = new_version(true);
    set_alias(v3);
    let second = controller(&format!("triggers-b-{}", std::process::id()), port, 2);
    let polled = mlops_core::triggers::rollout_name(TRIGGER, v3);
    let r = wait_for("the polled rollout", Duration::from_secs(60), async || {
        rollouts.get_opt(&polled).await.ok().flatten()
    })
    .await;
    assert_eq!(
        r.metadata
            .annotations
            .unwrap_or_default()
            .get(DELIVERY_ANNOTATION)
            .map(String::as_str),
        Some(POLL)
    );

    // Bad triggers: one claiming the same Deployment (the older keeps it), one naming a model
    // the registry does not have.
    triggers
        .create(
            &PostParams::default(),
            &trigger("trigger-model-copy", MODEL, MODEL),
        )
        .await
        .expect("the second trigger");
    triggers
        .create(
            &PostParams::default(),
            &trigger(
                "trigger-model-missing",
                "no-such-model-in-mlflow",
                "fraud-detector",
            ),
        )
        .await
        .expect("the third trigger");
    let ready = async |name: &str| {
        let s = status(&triggers, name).await;
        let c = s["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Ready")?
            .clone();
        (c["status"] == "False").then_some(c)
    };
    let contested = wait_for(
        "the contested trigger",
        Duration::from_secs(30),
        async || ready("trigger-model-copy").await,
    )
    .await;
    assert_eq!(contested["reason"], "DeploymentContested", "{contested:#}");
    assert!(
        contested["message"]
            .as_str()
            .unwrap_or("")
            .contains(TRIGGER),
        "{contested:#}"
    );
    let missing = wait_for(
        "the trigger of a missing model",
        Duration::from_secs(30),
        async || ready("trigger-model-missing").await,
    )
    .await;
    assert_eq!(missing["reason"], "ModelNotFound", "{missing:#}");
    assert!(
        missing["message"]
            .as_str()
            .unwrap_or("")
            .contains("no-such-model-in-mlflow"),
        "{missing:#}"
    );
    drop(second);

    // A restart: the polls that follow start nothing more.
    let before = status(&triggers, TRIGGER).await["poll"]["polledAt"].clone();
    let third = controller(&format!("triggers-c-{}", std::process::id()), port, 2);
    wait_for("two more polls", Duration::from_secs(30), async || {
        let now = status(&triggers, TRIGGER).await["poll"]["polledAt"].clone();
        (now != before).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        started(&rollouts).await.len(),
        2,
        "one rollout per version, no more"
    );

    // `mlops triggers list|get` show it.
    let out = common::mlops_ok(&["triggers", "get", TRIGGER, "-n", "ml-serving", "-o", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("triggers get JSON");
    assert_eq!(doc["status"]["startedRollout"], json!(polled), "{doc:#}");
    let out = common::mlops_ok(&["triggers", "list", "-n", "ml-serving"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.contains("trigger-model-copy") && l.contains("DeploymentContested")),
        "{table}"
    );
    drop(third);
    for name in [TRIGGER, "trigger-model-copy", "trigger-model-missing"] {
        let _ = triggers.delete(name, &DeleteParams::default()).await;
    }
}
