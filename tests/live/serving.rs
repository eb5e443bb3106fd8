//! Serving health and SLOs where users meet them, on the real cluster, Prometheus and traffic
//! process: `mlops health -o json` agrees with PromQL the test computes itself; the rules
//! `mlops slo rules` writes load into the test Prometheus, and their page alert fires when a
//! canary's errors are raised through the traffic process (and `mlops health --fail-on-page`
//! exits 3, the console's Serving view says page), and resolves after.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ResetTraffic, installed, mlops_cmd, seeded, traffic};
use mlops_console::adapters::{http::Auth, prometheus::PrometheusMetrics};
use serde_json::Value;

fn prometheus() -> PrometheusMetrics {
    PrometheusMetrics::new(common::env().get("MLOPS_PROMETHEUS_URL"), Auth::None).expect("url")
}

async fn instant(query: &str) -> Option<f64> {
    prometheus()
        .query(query, None)
        .await
        .expect("query")
        .first()
        .and_then(mlops_console::adapters::prometheus::Series::last)
        .map(|p| p.value)
}

fn health(config: &std::path::Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["health", "-o", "json"];
    all.extend_from_slice(args);
    let out = mlops_cmd(&all)
        .env("MLOPS_CONFIG_DIR", config)
        .output()
        .expect("mlops health");
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), doc)
}

fn row<'a>(doc: &'a Value, model: &str, version: &str, track: &str) -> Option<&'a Value> {
    doc["models"]
        .as_array()?
        .iter()
        .find(|m| m["model"] == model && m["version"] == version && m["track"] == track)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_agrees_with_promql_and_the_cluster() {
    let (cluster, _) = installed().await;
    let config = tempfile::tempdir().expect("config dir");
    let stable = cluster
        .serving("ml-serving", "recsys-ranker")
        .await
        .expect("seeded recsys-ranker");
    let version = stable.version.to_string();
    let sel = format!("model=\"recsys-ranker\",version=\"{version}\",track=\"stable\"");
    // Rates move between two reads: each attempt reads the CLI and PromQL back to back, and
    // a few attempts are allowed for the window to hold still.
    let started = Instant::now();
    loop {
        let (code, doc) = health(config.path(), &["--window", "1m"]);
        assert_eq!(code, 0, "{doc:#}");
        let rps_q = format!("sum(rate(model_requests_total{{{sel}}}[1m]))");
        let err_q = format!(
            "sum(rate(model_requests_total{{{sel},code=~\"5..\"}}[1m])) / sum(rate(model_requests_total{{{sel}}}[1m]))"
        );
        let p99_q = format!(
            "histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{{sel}}}[1m])))"
        );
        let (rps, err, p99) = (
            instant(&rps_q).await.expect("rps"),
            instant(&err_q).await.expect("errors"),
            instant(&p99_q).await.expect("p99"),
        );
        let r = row(&doc, "recsys-ranker", &version, "stable")
            .unwrap_or_else(|| panic!("recsys-ranker v{version} stable in {doc:#}"))
            .clone();
        assert_eq!(doc["window_seconds"], 60, "{doc:#}");
        assert_eq!(
            r["cluster"].as_str().map(str::is_empty),
            Some(false),
            "{r:#}"
        );
        // The Deployment's replicas, from the cluster.
        assert_eq!(r["replicas"]["desired"], stable.replicas, "{r:#}");
        assert!(r["slo"]["burn"]["1h"].as_f64().is_some(), "{r:#}");
        assert_eq!(r["slo"]["alert"], "none", "{r:#}");
        assert!(
            r["source"]["series"]
                .to_string()
                .contains("model_requests_total")
        );
        let got = (
            r["requests_per_second"].as_f64().expect("rps"),
            r["error_ratio"].as_f64().expect("error_ratio"),
            r["latency_seconds"]["p99"].as_f64().expect("p99"),
        );
        if close(got.0, rps, 0.1) && (got.1 - err).abs() < 0.003 && close(got.2, p99, 0.15) {
            // The burn rate is the error ratio over the window against the 99.5 % default.
            let burn5m = r["slo"]["burn"]["5m"].as_f64().expect("5m");
            let ratio5m = instant(&err_q.replace("[1m]", "[5m]"))
                .await
                .expect("5m ratio");
            assert!(
                (burn5m - ratio5m / 0.005).abs() < 0.5,
                "burn {burn5m} against ratio {ratio5m}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "mlops health {got:?} against PromQL ({rps}, {err}, {p99})"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A runtime whose series the Prometheus does not have: said in the warnings and on each served
/// version's row, whose numbers are missing, never zeros.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_without_series_says_so_and_shows_no_zeros() {
    installed().await;
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "[serving]\nruntime = \"triton\"\n",
    )
    .expect("config.toml");
    let (code, doc) = health(config.path(), &[]);
    assert_eq!(code, 0, "{doc:#}");
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("no series for nv_inference_request_success"),
        "{doc:#}"
    );
    let models = doc["models"].as_array().expect("models");
    assert!(
        !models.is_empty(),
        "the cluster's serving Deployments are listed: {doc:#}"
    );
    for m in models {
        assert!(m["requests_per_second"].is_null(), "{m:#}");
        assert!(m["error_ratio"].is_null(), "{m:#}");
        assert!(m["slo"].is_null(), "{m:#}");
        assert!(
            m["source"]["missing"]
                .as_str()
                .is_some_and(|s| s.starts_with("no series for")),
            "{m:#}"
        );
    }
    let out = mlops_cmd(&["health"])
        .env("MLOPS_CONFIG_DIR", config.path())
        .output()
        .expect("mlops health");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("no series"), "{table}");
}

fn annotate(value: &str) -> std::process::Output {
    let env = common::env();
    std::process::Command::new(env.get("MLOPS_KUBECTL"))
        .args([
            "--context",
            env.get("MLOPS_KUBE_CONTEXT"),
            "-n",
            "ml-serving",
        ])
        .args(["annotate", "--overwrite", "deployment/churn-model", value])
        .env("KUBECONFIG", env.get("KUBECONFIG"))
        .output()
        .expect("kubectl annotate")
}

/// Takes the annotation off churn-model's Deployment, also when the test fails.
struct Unannotate;

impl Drop for Unannotate {
    fn drop(&mut self) {
        let _ = annotate("mlops.dev/slo-");
    }
}

/// The `mlops.dev/slo` annotation on a serving Deployment overrides config.toml's objective
/// and window; a bad one is named in the warnings and ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployments_slo_annotation_overrides_the_config() {
    installed().await;
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "[slo]\nobjective = 0.995\n",
    )
    .expect("config.toml");
    let _undo = Unannotate;
    let out = annotate("mlops.dev/slo=objective=99%, window=7d");
    assert!(out.status.success(), "{out:?}");
    let churn = |doc: &Value| -> Value {
        doc["models"]
            .as_array()
            .and_then(|m| {
                m.iter()
                    .find(|m| m["model"] == "churn-model" && m["track"] == "stable")
            })
            .cloned()
            .unwrap_or_else(|| panic!("churn-model in {doc:#}"))
    };
    let (_, doc) = health(config.path(), &["--model", "churn-model"]);
    let slo = churn(&doc)["slo"].clone();
    assert_eq!(slo["objective"], 0.99, "{doc:#}");
    assert_eq!(slo["window_days"], 7.0, "{doc:#}");
    // A week's window scales the paging hour to 14 minutes.
    assert_eq!(slo["burn_windows_seconds"]["1h"], 840, "{doc:#}");

    let out = annotate("mlops.dev/slo=objective=150%");
    assert!(out.status.success(), "{out:?}");
    let (_, doc) = health(config.path(), &["--model", "churn-model"]);
    assert_eq!(churn(&doc)["slo"]["objective"], 0.995, "ignored: {doc:#}");
    assert!(
        doc["warnings"]
            .to_string()
            .contains("ml-serving/churn-model: mlops.dev/slo objective"),
        "{doc:#}"
    );
}

async fn http(method: reqwest::Method, path: &str) -> (u16, String) {
    let url = format!(
        "{}/{path}",
        common::env()
            .get("MLOPS_PROMETHEUS_URL")
            .trim_end_matches('/')
    );
    let answer = reqwest::Client::new()
        .request(method, &url)
        .send()
        .await
        .expect("prometheus");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

async fn page_alert_for(model: &str, version: &str) -> bool {
    let (_, body) = http(reqwest::Method::GET, "api/v1/alerts").await;
    let doc: Value = serde_json::from_str(&body).expect("alerts JSON");
    doc["data"]["alerts"].as_array().is_some_and(|a| {
        a.iter().any(|x| {
            x["labels"]["alertname"] == "MlopsSLOErrorBudgetBurn"
                && x["labels"]["severity"] == "page"
                && x["labels"]["model"] == model
                && x["labels"]["version"] == version
                && x["state"] == "firing"
        })
    })
}

/// Removes the rule file and reloads Prometheus, also when the test fails.
struct RuleFile(std::path::PathBuf);

impl Drop for RuleFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let url = format!(
            "{}/-/reload",
            common::env()
                .get("MLOPS_PROMETHEUS_URL")
                .trim_end_matches('/')
        );
        let _ = std::process::Command::new("curl")
            .args(["-fsS", "-X", "POST", &url])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_rules_load_and_page_when_a_canary_burns_then_resolve() {
    let (cluster, _) = installed().await;
    // fraud-detector's objective: 99 % over a day, so the paging windows (1 h and 5 m for a
    // month) scale to 2 m and 1 m and the alert fires within minutes.
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "[slo.models.fraud-detector]\nobjective = \"99%\"\nwindow = \"1d\"\n",
    )
    .expect("config.toml");
    let out = mlops_cmd(&["slo", "rules"])
        .env("MLOPS_CONFIG_DIR", config.path())
        .output()
        .expect("mlops slo rules");
    assert!(out.status.success(), "{out:?}");
    let rules = String::from_utf8(out.stdout).expect("utf-8");
    assert!(rules.contains("slo:sli_error:ratio_rate2m"), "{rules}");
    let path = std::path::Path::new(common::env().get("MLOPS_PROMETHEUS_RULES_DIR"))
        .join("mlops-slo-test.yml");
    std::fs::write(&path, &rules).expect("rule file");
    let _rules = RuleFile(path);
    let (status, body) = http(reqwest::Method::POST, "-/reload").await;
    assert_eq!(status, 200, "Prometheus refused the rules: {body}");
    let (_, loaded) = http(reqwest::Method::GET, "api/v1/rules").await;
    let loaded: Value = serde_json::from_str(&loaded).expect("rules JSON");
    let groups = loaded["data"]["groups"].as_array().expect("groups").clone();
    let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    assert!(
        names.contains(&"mlops-slo-sli-recordings") && names.contains(&"mlops-slo-alerts"),
        "{names:?}"
    );

    // A canary of a version of its own whose every answer is a 5xx.
    let before = cluster
        .serving("ml-serving", "fraud-detector")
        .await
        .expect("seeded fraud-detector");
    traffic("POST", "/control/reset", "{}");
    let _reset = ResetTraffic;
    let version = before.version + 300 + std::process::id() % 1000;
    let v = version.to_string();
    let mut canary = seeded(&before);
    canary.model.version = version;
    canary.image = "registry.mlops.invalid/models/fraud-detector:canary-slo".into();
    cluster
        .split_replicas("ml-serving", &canary, before.replicas, 1, &[])
        .await
        .expect("start the canary");
    let result = std::panic::AssertUnwindSafe(async {
        traffic(
            "POST",
            "/control/degrade",
            &format!(
                r#"{{"model":"fraud-detector","version":"{v}","track":"canary","error_rate":1.0}}"#
            ),
        );
        let started = Instant::now();
        while !page_alert_for("fraud-detector", &v).await {
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "the page alert never fired"
            );
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        // The CLI says the same, and exits 3 for scripts.
        let (code, doc) = health(
            config.path(),
            &["--model", "fraud-detector", "--fail-on-page"],
        );
        let r = row(&doc, "fraud-detector", &v, "canary").expect("the canary's row");
        assert_eq!(r["slo"]["alert"], "page", "{r:#}");
        assert_eq!(r["slo"]["objective"], 0.99, "{r:#}");
        assert_eq!(code, 3, "{doc:#}");
        assert!(
            doc["models"]
                .as_array()
                .is_some_and(|m| m.iter().all(|m| m["model"] == "fraud-detector")),
            "--model narrows: {doc:#}"
        );

        // The console's Serving view on the same backends, worst first.
        let env = common::env();
        let script = format!(
            "MLOPS_PROMETHEUS_URL={} {}; echo EXIT=$?; sleep 60",
            env.get("MLOPS_PROMETHEUS_URL"),
            env!("CARGO_BIN_EXE_mlops")
        );
        let t = common::tmux::Tmux::start(&script, 160, 45, config.path().to_str().expect("utf-8"));
        // Other live tests may have left models paging too: this one is among them.
        let s = t.wait_for("the paging model on the Overview", |s| {
            s.contains("paging")
                && s.lines()
                    .any(|l| l.contains("✖ page") && l.contains("fraud-detector"))
        });
        assert!(s.contains("Serving ("), "{s}");
        t.keys(&["8"]);
        let s = t.wait_for("the Serving view", |s| {
            s.lines()
                .any(|l| l.contains("✖ page") && l.contains("fraud-detector") && l.contains(&v))
        });
        let first = s
            .lines()
            .find(|l| l.contains("fraud-detector") || l.contains("✓ ok"))
            .unwrap_or_default()
            .to_string();
        assert!(first.contains("✖ page"), "worst first: {s}");
        t.keys(&["C-c"]);
        t.wait_text("EXIT=0");

        // Errors back to normal: the short window clears and the alert resolves.
        traffic("POST", "/control/reset", "{}");
        let started = Instant::now();
        while page_alert_for("fraud-detector", &v).await {
            assert!(
                started.elapsed() < Duration::from_secs(240),
                "the page alert never resolved"
            );
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    let outcome = futures::FutureExt::catch_unwind(result).await;
    cluster
        .split_replicas("ml-serving", &seeded(&before), before.replicas, 0, &[])
        .await
        .expect("remove the canary");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
