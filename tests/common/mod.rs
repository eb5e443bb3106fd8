//! The shared real-backend environment for integration tests: one per test run.
//!
//! `tests/run` starts it with `tests/env/up` and exports its settings; a test binary run on its
//! own (plain `cargo test`) starts it here once, through the same script, and leaves it running
//! for the next run (`tests/env/down` stops it).

#![allow(dead_code)]

pub mod clusters;
pub mod controller;
pub mod hostile;
pub mod replica;
pub mod tmux;
pub mod users;

use std::{collections::HashMap, process::Command, sync::OnceLock};

pub struct TestEnv {
    vars: HashMap<String, String>,
}

impl TestEnv {
    /// A setting printed by `tests/env/up`, e.g. `MLFLOW_TRACKING_URI`.
    pub fn get(&self, key: &str) -> &str {
        self.vars.get(key).map_or_else(
            || panic!("tests/env/up did not print {key}: {:?}", self.vars.keys()),
            String::as_str,
        )
    }
}

const KEYS: [&str; 4] = [
    "KUBECONFIG",
    "MLFLOW_TRACKING_URI",
    "MLOPS_PROMETHEUS_URL",
    "MLOPS_TRAFFIC_URL",
];

pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<TestEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        if KEYS
            .iter()
            .all(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()))
        {
            return TestEnv {
                vars: std::env::vars().collect(),
            };
        }
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/env/up"))
            .arg("--json")
            .output()
            .expect("run tests/env/up");
        assert!(
            out.status.success(),
            "tests/env/up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("tests/env/up --json prints JSON");
        let vars = doc
            .as_object()
            .expect("an object")
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
        TestEnv { vars }
    })
}

/// The `mlops` binary with the test environment's cluster, Prometheus and MLflow, and without the
/// user's own config (e.g. `readonly = true` must not leak into the tests).
pub fn mlops_cmd(args: &[&str]) -> Command {
    let env = env();
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlops"));
    c.args(args)
        .env("KUBECONFIG", env.get("KUBECONFIG"))
        .env("MLOPS_CONTEXT", env.get("MLOPS_KUBE_CONTEXT"))
        .env("MLOPS_PROMETHEUS_URL", env.get("MLOPS_PROMETHEUS_URL"))
        .env("MLFLOW_TRACKING_URI", env.get("MLFLOW_TRACKING_URI"))
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        // `mlops controller` serves /metrics on any free port, so replicas never collide.
        .env("MLOPS_CONTROLLER_METRICS_ADDR", "127.0.0.1:0");
    c
}

/// `mlops install` run, then the cluster and its ModelRollouts in `ml-serving`.
pub async fn installed() -> (
    mlops_console::adapters::kube::KubeCluster,
    kube::Api<mlops_console::adapters::kube::crd::ModelRollout>,
) {
    let out = mlops_cmd(&["install"]).output().expect("run mlops install");
    assert!(
        out.status.success(),
        "mlops install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = env();
    let cluster = mlops_console::adapters::kube::KubeCluster::connect_file(
        std::path::Path::new(env.get("KUBECONFIG")),
        Some(env.get("MLOPS_KUBE_CONTEXT")),
        Some("ml-serving"),
    )
    .await
    .expect("connect to the test cluster");
    let api = kube::Api::namespaced(cluster.client(), "ml-serving");
    (cluster, api)
}

/// A spec that puts a seeded serving Deployment back as it was (version, image, replicas).
pub fn seeded(d: &mlops_core::model::Deployment) -> mlops_core::rollout::RolloutSpec {
    mlops_core::rollout::RolloutSpec {
        model: mlops_core::rollout::ModelRef {
            name: d.model.clone(),
            version: d.version,
        },
        deployment: d.name.clone(),
        image: d.image.clone(),
        replicas: d.replicas,
        ..mlops_core::rollout::RolloutSpec::test()
    }
}

/// Run `mlops` with `args` and insist that it succeeds; its output.
pub fn mlops_ok(args: &[&str]) -> std::process::Output {
    let out = mlops_cmd(args).output().expect("run mlops");
    assert!(
        out.status.success(),
        "mlops {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A new namespace `PREFIX-PID`, created as the admin; the namespaces API to delete it with.
pub async fn new_namespace(
    prefix: &str,
) -> (String, kube::Api<k8s_openapi::api::core::v1::Namespace>) {
    let admin = installed().await.0;
    let ns = format!("{prefix}-{}", std::process::id());
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(admin.client());
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).expect("ns");
    namespaces
        .create(&kube::api::PostParams::default(), &namespace)
        .await
        .expect("namespace");
    (ns, namespaces)
}

/// `openssl ARGS` in `dir`, which must succeed.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// MLflow's REST API, as curl sends it.
pub fn mlflow(method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
    let uri = env().get("MLFLOW_TRACKING_URI");
    let mut c = Command::new("curl");
    c.args(["-sS", "-X", method, &format!("{uri}{path}")]);
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "-d", &b.to_string()]);
    }
    let out = c.output().expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// A plain HTTP/1.1 request to the traffic process (std only, so a `Drop` can use it).
pub fn traffic(method: &str, path: &str, body: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let url = env().get("MLOPS_TRAFFIC_URL");
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the traffic process");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, json) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{method} {path}: {head}\n{json}"
    );
    serde_json::from_str(json).expect("JSON")
}

/// Resets the traffic process's rules when dropped.
/// A serving Deployment of `model` of the test's own at version 1 in ml-serving (kwok runs its
/// two pods), created once: a model no seeded test uses.
pub async fn own_serving_deployment(
    cluster: &mlops_console::adapters::kube::KubeCluster,
    model: &str,
) {
    serving_deployment(&cluster.client(), "ml-serving", model).await;
}

/// A serving Deployment of `model` at version 1 in `namespace` (kwok runs its two pods); one
/// that exists already is kept. Name a model of the test's own, never a seeded one
/// (`fraud-detector`…): the traffic process serves every labelled pod, so a stable v1 of a seeded
/// model would be in Prometheus's window for the next 30 minutes of the run (the Prometheus
/// smoke test reads fraud-detector's stable versions).
pub async fn serving_deployment(client: &kube::Client, namespace: &str, model: &str) {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::{Api, api::PostParams};
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": model, "labels": {"mlops.dev/model": model, "mlops.dev/version": "1"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": model, "mlops.dev/track": "stable"}},
            "template": {
                "metadata": {"labels": {"app": model, "mlops.dev/track": "stable", "mlops.dev/model": model, "mlops.dev/version": "1"}},
                "spec": {"containers": [{"name": "server", "image": format!("registry.mlops.invalid/models/{model}:v1")}]}
            }
        }
    }))
    .expect("deployment");
    match deployments.create(&PostParams::default(), &d).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("create the serving Deployment: {e}"),
    }
}

/// Deletes a registered model a test made from MLflow when the test ends, also when it fails:
/// the registry tests count the seeded models.
pub struct Unregister(pub &'static str);

impl Drop for Unregister {
    fn drop(&mut self) {
        let name = self.0;
        let _ = std::panic::catch_unwind(|| {
            mlflow(
                "DELETE",
                "/api/2.0/mlflow/registered-models/delete",
                Some(serde_json::json!({ "name": name })),
            )
        });
    }
}

pub struct ResetTraffic;

impl Drop for ResetTraffic {
    fn drop(&mut self) {
        traffic("POST", "/control/reset", "{}");
    }
}

/// Run a prepared `mlops` command: (exit code, stdout, stderr).
pub fn outcome(command: &mut Command) -> (i32, String, String) {
    let out = command.output().expect("run mlops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl ARGS` (with `stdin`) as the test environment's admin, which must succeed; its stdout.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    let env = env();
    let mut child = std::process::Command::new(env.get("MLOPS_KUBECTL"))
        .args(args)
        .env("KUBECONFIG", env.get("KUBECONFIG"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    stdout_of("kubectl", args, &child.wait_with_output().expect("kubectl"))
}

/// The stdout of a command that must have succeeded.
pub fn stdout_of(program: &str, args: &[&str], out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A churn-model rollout with an approval gate in its second step (no status), for the
/// governance tests.
pub fn gated_rollout(ns: &str, name: &str) -> mlops_console::adapters::kube::crd::ModelRollout {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "model": {"name": "churn-model", "version": 8},
            "stableVersion": 7,
            "deployment": "churn-model",
            "image": "registry.mlops.invalid/models/churn-model:v8",
            "replicas": 2,
            "steps": [{"setWeight": 10}, {"approval": {}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 30, "failureLimit": 2, "metrics": []},
            "approval": {"required": 1}
        }
    }))
    .expect("a ModelRollout")
}
