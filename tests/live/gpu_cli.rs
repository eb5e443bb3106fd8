//! `mlops gpu`: bad flags and missing backends without the test environment, then `mlops gpu -o
//! json` on the real backends against an independent reading of the same sources — the DCGM
//! series straight from Prometheus's HTTP API (the gauges at the report's instant, the
//! utilisation history of its idle window) and the nodes and pods from kubectl.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    collections::{BTreeMap, HashMap},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

const MIB: f64 = 1024.0 * 1024.0;
/// How long the cluster may keep changing under the comparison (other tests create pods).
const DEADLINE: Duration = Duration::from_secs(90);

/// `mlops` without any backend or user config: no kubeconfig, no Prometheus.
fn bare(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .env("HOME", "/nonexistent/home")
        .env_remove("KUBECONFIG")
        .env_remove("MLOPS_CONTEXT")
        .env_remove("MLOPS_PROMETHEUS_URL")
        .output()
        .expect("run mlops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_flags_exit_2_and_missing_backends_say_which() {
    let (code, _, err) = bare(&["gpu", "-o", "csv"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gpu prints table, json"), "{err}");
    let (code, _, err) = bare(&["gpu", "--idle-window", "1 hour"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--idle-window \"1 hour\""), "{err}");
    let (code, _, err) = bare(&["gpu", "--idle-util-pct", "120"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at most 100"), "{err}");
    let (code, _, err) = bare(&["gpu", "--idle-window", "100d"]);
    assert_eq!(code, 2, "{err}");

    let (code, out, err) = bare(&["gpu", "-o", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("prometheus") && err.contains("MLOPS_PROMETHEUS_URL"),
        "{err}"
    );
    // A Prometheus nothing listens on: the error names the store, the request and the server.
    // The queries go out together, so whichever fails first is named.
    let (code, _, err) = bare(&[
        "gpu",
        "--prometheus-url",
        "http://127.0.0.1:9",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("prometheus")
            && err.contains("Connection refused")
            && err.contains("GET /api/v1/query")
            && err.contains("http://127.0.0.1:9"),
        "{err}"
    );
}

/// `--demo`: the demo platform's GPUs without any backend, through the same report — every
/// field of the JSON there, the demo's idle allocations found with the GPU-hours they wasted over
/// the simulated window, the same seed the same answer, filters and their mistakes as against a
/// cluster.
#[test]
fn the_demo_platform_answers_without_backends() {
    let run = |args: &[&str]| {
        let mut all = vec!["gpu", "--demo", "-o", "json"];
        all.extend_from_slice(args);
        let (code, out, err) = bare(&all);
        assert_eq!(code, 0, "{out}{err}");
        serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let report = run(&["--idle-window", "30m"]);
    let nodes = report["nodes"].as_array().expect("nodes");
    assert!(nodes.len() >= 10, "the demo's GPU nodes: {report:#}");
    let gpus: Vec<&Value> = nodes
        .iter()
        .flat_map(|n| n["gpus"].as_array().expect("gpus"))
        .collect();
    for key in [
        "uuid",
        "utilization",
        "memory_used_bytes",
        "memory_total_bytes",
        "power_watts",
        "temperature_celsius",
        "idle",
        "idle_gpu_hours",
    ] {
        assert!(gpus.iter().all(|g| !g[key].is_null()), "{key}: {report:#}");
    }
    for n in nodes {
        assert!(
            n["allocatable"].as_u64().is_some() && n["requested"].as_u64().is_some(),
            "{n:#}"
        );
    }
    // The demo serves some models on GPUs that do nothing: found, with the hours they wasted.
    let idle: Vec<&&Value> = gpus.iter().filter(|g| g["idle"] == true).collect();
    assert!(!idle.is_empty(), "{report:#}");
    for g in &idle {
        assert!(!g["pod"].is_null() && !g["model"].is_null(), "{g:#}");
        let hours = g["idle_gpu_hours"].as_f64().expect("hours");
        assert!(
            hours > 0.0 && hours <= 0.5 + 1e-9,
            "30 minutes at most: {g:#}"
        );
    }
    assert!(
        report["idle_gpu_hours"].as_f64().is_some_and(|h| h > 0.0),
        "{report:#}"
    );
    // The same seed gives the same GPUs; a node filter keeps to it; an unknown one is named.
    let again = run(&["--idle-window", "30m"]);
    assert_eq!(
        report["nodes"][0]["gpus"][0]["uuid"], again["nodes"][0]["gpus"][0]["uuid"],
        "same seed, same platform"
    );
    let first = nodes[0]["name"].as_str().expect("name");
    let one = run(&["--idle-window", "30m", "--node", first]);
    assert_eq!(one["nodes"].as_array().map(Vec::len), Some(1), "{one:#}");
    let (code, _, err) = bare(&["gpu", "--demo", "--node", "no-such-node"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no-such-node"), "{err}");
    let (code, _, err) = bare(&["gpu", "--seed", "3"]);
    assert_eq!(code, 2, "--seed without --demo: {err}");
}

// ---- the real backends ----

fn prometheus(path: &str, params: &[(&str, String)]) -> Vec<Value> {
    let base = common::env()
        .get("MLOPS_PROMETHEUS_URL")
        .trim_end_matches('/')
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{base}/api/v1/{path}"))
            .query(params)
            .send()
            .await
            .expect("ask Prometheus")
            .json()
            .await
            .expect("JSON from Prometheus")
    });
    assert_eq!(body["status"], "success", "{body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn kubectl(args: &[&str]) -> Value {
    let env = common::env();
    let out = Command::new(env.get("MLOPS_KUBECTL"))
        .args(args)
        .args(["--context", env.get("MLOPS_KUBE_CONTEXT"), "-o", "json"])
        .env("KUBECONFIG", env.get("KUBECONFIG"))
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kubectl JSON")
}

/// Per GPU node: allocatable `nvidia.com/gpu`, and the requests of its unfinished pods; and
/// each pod's model and version labels.
#[derive(Debug, PartialEq)]
struct Cluster {
    nodes: BTreeMap<String, (u64, u64)>,
    pods: BTreeMap<(String, String), (Option<String>, Option<u64>)>,
    /// Per (model, version, track): pods with GPU requests on GPU nodes, and their requests.
    versions: BTreeMap<(String, Option<u64>, String), (u64, u64)>,
}

fn cluster() -> Cluster {
    let count = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let mut nodes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for n in kubectl(&["get", "nodes"])["items"]
        .as_array()
        .expect("items")
    {
        let allocatable = count(&n["status"]["allocatable"]["nvidia.com/gpu"]);
        nodes.insert(
            n["metadata"]["name"].as_str().expect("name").to_string(),
            (allocatable, 0),
        );
    }
    let mut pods = BTreeMap::new();
    let mut versions: BTreeMap<(String, Option<u64>, String), (u64, u64)> = BTreeMap::new();
    for p in kubectl(&["get", "pods", "-A"])["items"]
        .as_array()
        .expect("items")
    {
        let labels = &p["metadata"]["labels"];
        pods.insert(
            (
                p["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            ),
            (
                labels["mlops.dev/model"].as_str().map(str::to_string),
                labels["mlops.dev/version"]
                    .as_str()
                    .and_then(|v| v.trim_start_matches('v').parse().ok()),
            ),
        );
        let phase = p["status"]["phase"].as_str().unwrap_or("");
        let Some(node) = p["spec"]["nodeName"].as_str() else {
            continue;
        };
        if phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let requested: u64 = p["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| count(&c["resources"]["requests"]["nvidia.com/gpu"]))
            .sum();
        if let Some(n) = nodes.get_mut(node) {
            n.1 += requested;
        }
        if let Some(model) = labels["mlops.dev/model"].as_str()
            && requested > 0
        {
            let track = match labels["mlops.dev/track"].as_str() {
                Some("canary") => "canary",
                _ => "stable",
            };
            let version = labels["mlops.dev/version"]
                .as_str()
                .and_then(|v| v.trim_start_matches('v').parse().ok());
            let v = versions
                .entry((model.to_string(), version, track.to_string()))
                .or_default();
            *v = (v.0 + 1, v.1 + requested);
        }
    }
    nodes.retain(|_, (a, r)| *a > 0 || *r > 0);
    Cluster {
        nodes,
        pods,
        versions,
    }
}

fn f(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap_or(f64::NAN)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// `mlops gpu -o json`, with the cluster read by kubectl just before and just after; retried
/// until the cluster held still around the run.
fn report_on_a_still_cluster(args: &[&str]) -> (Value, Cluster) {
    let started = Instant::now();
    loop {
        let before = cluster();
        let out = common::mlops_cmd(args).output().expect("run mlops gpu");
        let after = cluster();
        assert!(
            out.status.success(),
            "mlops gpu: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if before == after || started.elapsed() > DEADLINE {
            let report = serde_json::from_slice(&out.stdout).expect("JSON");
            return (report, after);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn gpu_json_equals_prometheus_and_the_cluster() {
    let (report, cluster) = report_on_a_still_cluster(&["gpu", "-o", "json"]);
    let at = report["at"].as_str().expect("at");
    let at = chrono::DateTime::parse_from_rfc3339(at).expect("an RFC 3339 time");
    let unix = |t: chrono::DateTime<chrono::FixedOffset>| {
        format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
    };

    // The gauges at the report's instant, straight from Prometheus.
    let gauges = prometheus(
        "query",
        &[
            ("query", "{__name__=~\"DCGM_FI_DEV_.*\"}".to_string()),
            ("time", unix(at)),
        ],
    );
    let mut truth: BTreeMap<String, HashMap<String, f64>> = BTreeMap::new();
    let mut labels: BTreeMap<String, Value> = BTreeMap::new();
    for s in &gauges {
        let uuid = s["metric"]["UUID"].as_str().expect("UUID").to_string();
        let name = s["metric"]["__name__"].as_str().expect("name").to_string();
        truth
            .entry(uuid.clone())
            .or_default()
            .insert(name.clone(), f(&s["value"][1]));
        if name == "DCGM_FI_DEV_GPU_UTIL" {
            labels.insert(uuid, s["metric"].clone());
        }
    }
    assert!(!truth.is_empty(), "the traffic process exports DCGM series");

    // The idle window's utilisation history, straight from Prometheus.
    let w = &report["idle_window"];
    let (step, window, threshold) = (
        w["step_seconds"].as_u64().expect("step"),
        w["window_seconds"].as_u64().expect("window"),
        w["util_threshold_pct"].as_f64().expect("threshold"),
    );
    assert_eq!((step, window, threshold), (60, 3600, 5.0), "the defaults");
    let end = chrono::DateTime::parse_from_rfc3339(w["end"].as_str().expect("end")).expect("end");
    assert_eq!(end.timestamp() % 60, 0, "the window ends on a whole step");
    let history = prometheus(
        "query_range",
        &[
            ("query", "DCGM_FI_DEV_GPU_UTIL".to_string()),
            (
                "start",
                unix(end - chrono::TimeDelta::seconds((window - step) as i64)),
            ),
            ("end", unix(end)),
            ("step", step.to_string()),
        ],
    );
    // Per GPU: idle instants while allocated (any pod), and the values of the current pod.
    let mut idle_steps: HashMap<String, u64> = HashMap::new();
    let mut current: HashMap<String, Vec<f64>> = HashMap::new();
    for s in &history {
        let m = &s["metric"];
        let uuid = m["UUID"].as_str().expect("UUID").to_string();
        let Some(pod) = m["pod"].as_str() else {
            continue;
        };
        let values: Vec<f64> = s["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|p| f(&p[1]))
            .collect();
        *idle_steps.entry(uuid.clone()).or_default() +=
            values.iter().filter(|v| **v < threshold).count() as u64;
        if labels.get(&uuid).and_then(|l| l["pod"].as_str()) == Some(pod) {
            current.insert(uuid, values);
        }
    }

    let nodes = report["nodes"].as_array().expect("nodes");
    let mut seen = 0;
    let mut wasted = 0.0;
    for n in nodes {
        let name = n["name"].as_str().expect("name");
        assert_eq!(n["cluster"], common::env().get("MLOPS_KUBE_CONTEXT"), "{n}");
        let (allocatable, requested) = cluster.nodes.get(name).copied().unwrap_or_else(|| {
            panic!(
                "{name} is not a GPU node of the cluster: {:?}",
                cluster.nodes
            )
        });
        assert_eq!(
            (n["allocatable"].as_u64(), n["requested"].as_u64()),
            (Some(allocatable), Some(requested)),
            "{name}: allocatable and requested as kubectl says"
        );
        for g in n["gpus"].as_array().expect("gpus") {
            seen += 1;
            let uuid = g["uuid"].as_str().expect("uuid");
            let t = &truth[uuid];
            let l = &labels[uuid];
            assert_eq!(l["Hostname"].as_str(), Some(name), "{uuid}");
            assert!(
                close(f(&g["utilization"]), t["DCGM_FI_DEV_GPU_UTIL"]),
                "{g}"
            );
            assert!(
                close(f(&g["power_watts"]), t["DCGM_FI_DEV_POWER_USAGE"]),
                "{g}"
            );
            assert!(
                close(f(&g["temperature_celsius"]), t["DCGM_FI_DEV_GPU_TEMP"]),
                "{g}"
            );
            let used = t["DCGM_FI_DEV_FB_USED"];
            let total = used + t["DCGM_FI_DEV_FB_FREE"];
            assert_eq!(
                g["memory_used_bytes"].as_u64(),
                Some((used * MIB).round() as u64),
                "{g}"
            );
            assert_eq!(
                g["memory_total_bytes"].as_u64(),
                Some((total * MIB).round() as u64),
                "{g}"
            );
            assert_eq!(g["pod"].as_str(), l["pod"].as_str(), "{g}");
            assert_eq!(g["namespace"].as_str(), l["namespace"].as_str(), "{g}");
            // The model version from the pod's labels in the cluster.
            if let (Some(ns), Some(pod)) = (g["namespace"].as_str(), g["pod"].as_str())
                && let Some((model, version)) = cluster.pods.get(&(ns.to_string(), pod.to_string()))
                && model.is_some()
            {
                assert_eq!(g["model"].as_str(), model.as_deref(), "{g}");
                assert_eq!(g["version"].as_u64(), *version, "{g}");
            }
            let hours = idle_steps.get(uuid).copied().unwrap_or(0) as f64 * step as f64 / 3600.0;
            assert!(
                close(g["idle_gpu_hours"].as_f64().expect("hours"), hours),
                "{g}: {hours}"
            );
            wasted += hours;
            let idle = g["pod"].is_string()
                && current
                    .get(uuid)
                    .is_some_and(|v| !v.is_empty() && v.iter().all(|v| *v < threshold));
            assert_eq!(g["idle"].as_bool(), Some(idle), "{g}");
        }
    }
    assert_eq!(
        seen,
        truth.len(),
        "every GPU Prometheus has is reported once"
    );
    assert!(close(
        report["idle_gpu_hours"].as_f64().expect("total"),
        wasted
    ));
    assert!(
        wasted > 0.0,
        "the traffic process keeps some allocated GPUs idle"
    );
    // Canary and stable per version: the requests of the cluster's pods by their labels.
    // Every pod with GPU requests is on a GPU node here, so the versions are the cluster's.
    let versions: BTreeMap<(String, Option<u64>, String), (u64, u64)> = report["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter(|v| v["pods"].as_u64() > Some(0))
        .map(|v| {
            (
                (
                    v["model"].as_str().expect("model").to_string(),
                    v["version"].as_u64(),
                    v["track"].as_str().expect("track").to_string(),
                ),
                (
                    v["pods"].as_u64().expect("pods"),
                    v["requested"].as_u64().expect("requested"),
                ),
            )
        })
        .collect();
    assert!(!versions.is_empty(), "{report}");
    assert_eq!(versions, cluster.versions, "canary and stable per version");
}

#[test]
fn gpu_filters_by_node_and_refuses_unknown_names() {
    let (all, _) = report_on_a_still_cluster(&["gpu", "-o", "json"]);
    let first = all["nodes"][0]["name"]
        .as_str()
        .expect("a GPU node")
        .to_string();
    let out = common::mlops_cmd(&["gpu", "--node", &first, "-o", "json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let one: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = one["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, [first.as_str()]);
    let out = common::mlops_cmd(&["gpu", "--cluster", "no-such-cluster"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no-such-cluster") && err.contains("known:"),
        "{err}"
    );
    // The table names every node with its allocation.
    let out = common::mlops_cmd(&["gpu"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{first} ("))
            && text.contains("allocatable")
            && text.contains("GPU-hours"),
        "{text}"
    );
}
