//! `mlops controller --metrics-addr`: `/healthz`, `/readyz` (503 saying why while the API server
//! cannot be reached, 200 once the rollouts are listed and the lease read), `/metrics` read
//! directly and through the test environment's Prometheus (a scrape target the test adds in
//! `MLOPS_PROMETHEUS_SD_DIR`) while a rollout waits at its approval gate and after it is
//! promoted; a port already taken is a clear error and leaves the serving replica alone.

// A test is a script of steps, read top to bottom.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use kube::api::{DeleteParams, PostParams};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::rollout::Phase;

use common::{
    controller::{spawn_with, wait_phase},
    installed, mlops_cmd, mlops_ok,
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `GET path` on the controller: the status and body, or `None` while nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Poll `path` until `ok` holds for its answer.
fn wait_for(port: u16, path: &str, secs: u64, ok: impl Fn(u16, &str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some((status, body)) = get(port, path) {
            if ok(status, &body) {
                return body;
            }
            last = Some((status, body));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("GET {path} never answered as expected; last: {last:?}");
}

/// The value of the series written exactly as `series` in an exposition.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// An instant query of the test Prometheus: each series' labels and value.
fn prometheus(query: &str) -> Vec<(serde_json::Value, f64)> {
    let url = format!("{}/api/v1/query", common::env().get("MLOPS_PROMETHEUS_URL"));
    let out = Command::new("curl")
        .args(["-sf", "-m", "10", &url, "--data-urlencode"])
        .arg(format!("query={query}"))
        .output()
        .expect("curl");
    assert!(out.status.success(), "query {query} failed");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let v = r["value"][1].as_str().and_then(|v| v.parse().ok());
            (r["metric"].clone(), v.unwrap_or(f64::NAN))
        })
        .collect()
}

/// Wait until Prometheus answers `query` with exactly one series of value `want`.
fn wait_prometheus(query: &str, want: f64, secs: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = prometheus(query);
        if let [(labels, v)] = got.as_slice()
            && (*v - want).abs() < 1e-9
        {
            return labels.clone();
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered {query} with {want}: {got:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The scrape target the test adds (removed when dropped).
struct Target(std::path::PathBuf);

impl Target {
    fn add(port: u16, run: &str) -> Self {
        let dir = common::env().get("MLOPS_PROMETHEUS_SD_DIR");
        let path = std::path::Path::new(dir).join(format!("controller-metrics-{run}.json"));
        let doc = serde_json::json!([{
            "targets": [format!("127.0.0.1:{port}")],
            "labels": {"test_run": run},
        }]);
        // Written beside, then renamed: Prometheus never reads half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, doc.to_string()).expect("write the target");
        std::fs::rename(&tmp, &path).expect("add the target");
        Self(path)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn the_controller_serves_its_metrics_and_probes_and_prometheus_reads_them() {
    let (cluster, api) = installed().await;
    let run = format!("{}", std::process::id());
    let name = "churn-model-metrics";
    let _ = api.delete(name, &DeleteParams::default()).await;
    // No degradation left over from another test: the canary's analysis passes.
    let reset = Command::new("curl")
        .args(["-sf", "-X", "POST", "-d", "{}"])
        .arg(format!(
            "{}/control/reset",
            common::env().get("MLOPS_TRAFFIC_URL")
        ))
        .status()
        .expect("curl");
    assert!(reset.success(), "reset the traffic process");

    // 1. An API server that refuses connections: alive, not ready, and it says why.
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = dir.path().join("refused.kubeconfig");
    std::fs::write(
        &refused,
        "apiVersion: v1\nkind: Config\nclusters: [{name: h, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: h, context: {cluster: h, user: u}}]\ncurrent-context: h\nusers: [{name: u, user: {token: x}}]\n",
    )
    .expect("kubeconfig");
    let port = free_port();
    let (unready, _) = spawn_with(
        mlops_cmd(&["controller", "--id", &format!("unready-{run}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .env("KUBECONFIG", &refused)
            .env_remove("MLOPS_CONTEXT"),
    );
    wait_for(port, "/healthz", 30, |s, b| s == 200 && b == "ok\n");
    let why = wait_for(port, "/readyz", 30, |s, _| s == 503);
    assert!(
        why.contains("ModelRollouts") && why.contains("lease"),
        "{why}"
    );
    let text = wait_for(port, "/metrics", 30, |s, b| {
        s == 200 && b.contains(r#"mlops_controller_kube_requests_total{verb="get",code="error"}"#)
    });
    assert!(!text.contains("mlops_rollout_info{"), "{text}");
    assert_eq!(get(port, "/nope").map(|(s, _)| s), Some(404));
    drop(unready);

    // 2. The real cluster: ready once listed and the lease read.
    let port = free_port();
    let id = format!("metrics-{run}");
    let (mut controller, lines) = spawn_with(
        mlops_cmd(&["controller", "--id", &id]).args(["--metrics-addr", &format!(":{port}")]),
    );
    let line = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the controller takes the lease within 60 s");
    assert!(line.contains("leads"), "{line}");
    wait_for(port, "/readyz", 60, |s, b| s == 200 && b == "ready\n");
    let text = wait_for(port, "/metrics", 10, |s, _| s == 200);
    assert_eq!(
        value(&text, &format!(r#"mlops_controller_leader{{id="{id}"}}"#)),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"mlops_controller_lease_holder{{holder="{id}"}}"#)
        ),
        Some(1.0)
    );

    // A second replica on the same port: a clear error, and the first serves on.
    let out = mlops_cmd(&["controller", "--id", &format!("clash-{run}")])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run a second controller");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("cannot serve /metrics on 127.0.0.1:{port}"))
            && stderr.contains("--metrics-addr"),
        "{stderr}"
    );
    assert!(controller.is_running());
    assert_eq!(get(port, "/healthz").map(|(s, _)| s), Some(200));

    // 3. A rollout at its approval gate, seen directly and through Prometheus.
    let _target = Target::add(port, &run);
    let before = cluster
        .serving("ml-serving", "churn-model")
        .await
        .expect("seeded churn-model");
    let next = before.version + 1;
    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": {
            "model": {"name": "churn-model", "version": next},
            "stableVersion": before.version,
            "deployment": "churn-model",
            "image": format!("registry.mlops.invalid/models/churn-model:v{next}"),
            "replicas": 2,
            "steps": [{"setWeight": 50}, {"analysis": {"count": 1}}, {"approval": {}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 5, "failureLimit": 3, "metrics": [{
                "name": "error-rate", "kind": "errorRate",
                "canaryQuery": format!("sum(rate(model_requests_total{{model=\"churn-model\",version=\"{next}\",track=\"canary\",code=~\"5..\"}}[30s])) / sum(rate(model_requests_total{{model=\"churn-model\",version=\"{next}\",track=\"canary\"}}[30s]))"),
                "max": 0.05
            }]},
            "approval": {"required": 1}
        }
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create");
    wait_phase(&api, name, Phase::AwaitingApproval, 120).await;
    let labels =
        format!(r#"namespace="ml-serving",rollout="{name}",model="churn-model",version="{next}""#);
    let text = wait_for(port, "/metrics", 10, |_, b| {
        b.contains(&format!(
            r#"mlops_rollout_info{{{labels},phase="AwaitingApproval"}} 1"#
        ))
    });
    assert_eq!(
        value(&text, &format!("mlops_rollout_canary_weight{{{labels}}}")),
        Some(50.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            &format!("mlops_rollout_awaiting_approval_seconds{{{labels}}}")
        )
        .is_some_and(|v| v >= 0.0),
        "{text}"
    );
    assert!(
        value(&text, "mlops_controller_reconcile_passes_total").is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            r#"mlops_rollout_analysis_results_total{namespace="ml-serving",model="churn-model",check="error-rate",result="pass"}"#
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            r#"mlops_controller_kube_requests_total{verb="update",code="200"}"#
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    let scraped = wait_prometheus(
        &format!(
            r#"mlops_rollout_info{{test_run="{run}",rollout="{name}",phase="AwaitingApproval"}}"#
        ),
        1.0,
        60,
    );
    assert_eq!(scraped["model"], "churn-model");
    assert_eq!(scraped["version"], next.to_string());
    assert_eq!(scraped["namespace"], "ml-serving");
    wait_prometheus(
        &format!(
            r#"mlops_rollout_canary_weight{{test_run="{run}",model="churn-model",version="{next}"}}"#
        ),
        50.0,
        30,
    );

    // 4. Approved and promoted: the phase, the weight, the wait and the outcome.
    mlops_ok(&[
        "rollout",
        "approve",
        name,
        "-n",
        "ml-serving",
        "--comment",
        "metrics test",
    ]);
    wait_phase(&api, name, Phase::Promoted, 90).await;
    let text = wait_for(port, "/metrics", 10, |_, b| {
        b.contains(&format!(
            r#"mlops_rollout_info{{{labels},phase="Promoted"}} 1"#
        ))
    });
    assert_eq!(
        value(&text, &format!("mlops_rollout_canary_weight{{{labels}}}")),
        Some(100.0)
    );
    assert!(!text.contains(&format!(
        "mlops_rollout_awaiting_approval_seconds{{{labels}}}"
    )));
    assert_eq!(
        value(&text, "mlops_rollout_approval_wait_seconds_count"),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"mlops_rollout_duration_seconds_count{outcome="Promoted"}"#
        ),
        Some(1.0),
        "{text}"
    );
    wait_prometheus(
        &format!(r#"mlops_rollout_info{{test_run="{run}",rollout="{name}",phase="Promoted"}}"#),
        1.0,
        60,
    );
    wait_prometheus(
        &format!(r#"mlops_controller_leader{{test_run="{run}",id="{id}"}}"#),
        1.0,
        30,
    );

    // Put the stable side back as the seed had it, and the rollout away.
    mlops_ok(&[
        "rollout",
        "rollback",
        name,
        "-n",
        "ml-serving",
        "--reason",
        "metrics test done",
    ]);
    wait_phase(&api, name, Phase::RolledBack, 60).await;
    let _ = api.delete(name, &DeleteParams::default()).await;
    wait_for(port, "/metrics", 30, |_, b| !b.contains(name));
}
