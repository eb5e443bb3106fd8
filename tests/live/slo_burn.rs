//! The `slo_burn` check on the real control plane, Prometheus and traffic process, with
//! `mlops controller` driving (issue 25): two rollouts started with `rollout start --max-burn
//! 14.4`, in a namespace of their own with serving Deployments of models no other live test uses
//! (credit-scorer, price-optimizer). The canary of price-optimizer answers half its requests with
//! a 5xx (through the traffic process) and is rolled back by the check, whose reason names it;
//! the canary of credit-scorer fails as often as its stable does and is promoted. `rollout get`
//! says how much of the month's error budget the burning canary spent. The namespace is deleted
//! and the traffic process reset when the test ends.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ResetTraffic, controller::start as start_controller, new_namespace, traffic};
use serde_json::Value;

/// A serving Deployment of `model` at `version` in `namespace`, as the seeded model servers are:
/// its pods carry `mlops.dev/model`, so the traffic process serves them.
fn serving(namespace: &str, model: &str, version: u32) -> k8s_openapi::api::apps::v1::Deployment {
    let labels = serde_json::json!({"app.kubernetes.io/name": model,
        "app.kubernetes.io/component": "model-server", "mlops.dev/model": model,
        "mlops.dev/version": version.to_string(), "mlops.dev/track": "stable"});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": model, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": model, "mlops.dev/track": "stable"}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "server", "image": format!("registry.mlops.invalid/models/{model}:v{version}")}]}}
        }
    }))
    .expect("deployment")
}

/// `mlops ARGS -n NAMESPACE` with the config in `config`: (exit code, stdout, stderr).
fn mlops(config: &std::path::Path, namespace: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["-n", namespace]);
    common::outcome(common::mlops_cmd(&all).env("MLOPS_CONFIG_DIR", config))
}

fn get(config: &std::path::Path, namespace: &str, name: &str) -> Value {
    let (code, out, err) = mlops(config, namespace, &["rollout", "get", name, "-o", "json"]);
    assert_eq!(code, 0, "rollout get {name}: {err}");
    serde_json::from_str(&out).expect("JSON")
}

/// Both rollouts, once each has ended (at most 240 s).
fn ended(config: &std::path::Path, namespace: &str, names: [&str; 2]) -> [Value; 2] {
    let started = Instant::now();
    loop {
        let docs = names.map(|n| get(config, namespace, n));
        if docs.iter().all(|d| {
            matches!(
                d["status"]["phase"].as_str(),
                Some("Promoted" | "RolledBack" | "Failed")
            )
        }) {
            return docs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "not ended: {:#}\n{:#}",
            docs[0]["status"],
            docs[1]["status"]
        );
        std::thread::sleep(Duration::from_secs(3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burning_canary_is_rolled_back_by_slo_burn_and_one_burning_like_its_stable_promoted() {
    let (cluster, _) = common::installed().await;
    let (ns, namespaces) = new_namespace("slo-burn").await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(cluster.client(), &ns);
    for (model, version) in [("credit-scorer", 5), ("price-optimizer", 3)] {
        deployments
            .create(
                &kube::api::PostParams::default(),
                &serving(&ns, model, version),
            )
            .await
            .expect("serving deployment");
    }
    traffic("POST", "/control/reset", "{}");
    let _reset = ResetTraffic;
    // Ten times the catalogue's traffic, so a minute's window holds enough of the canaries'
    // requests (a tenth of the model's) for error ratios that mean something.
    for model in ["credit-scorer", "price-optimizer"] {
        traffic(
            "POST",
            "/control/traffic",
            &format!(r#"{{"model":"{model}","rps_factor":10}}"#),
        );
    }
    // credit-scorer fails one request in a hundred on both tracks (a burn of 2 at 99.5 %);
    // price-optimizer's canary one in two (a burn of 100), its stable as it was.
    traffic(
        "POST",
        "/control/degrade",
        r#"{"model":"credit-scorer","error_rate":0.01}"#,
    );
    traffic(
        "POST",
        "/control/degrade",
        r#"{"model":"price-optimizer","version":"4","track":"canary","error_rate":0.5}"#,
    );
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "[templates.slo]\ndescription = \"50% with two passing analyses, then 100%\"\n\
         steps = [\"setWeight 50\", \"analysis 2\", \"setWeight 100\"]\n",
    )
    .expect("config.toml");
    let dir = config.path();
    let _controller = start_controller(&format!("slo-burn-{}", std::process::id()));

    let result = std::panic::AssertUnwindSafe(async {
        for (model, version) in [("credit-scorer", "6"), ("price-optimizer", "4")] {
            let image = format!("registry.mlops.invalid/models/{model}:v{version}");
            let (code, out, err) = mlops(
                dir,
                &ns,
                &[
                    "rollout",
                    "start",
                    "--model",
                    model,
                    "--version",
                    version,
                    "--template",
                    "slo",
                    "--image",
                    &image,
                    "--max-burn",
                    "14.4",
                    "-o",
                    "json",
                ],
            );
            assert_eq!(code, 0, "start {model}: {err}");
            let doc: Value = serde_json::from_str(&out).expect("JSON");
            let check = doc["spec"]["analysis"]["metrics"]
                .as_array()
                .and_then(|m| m.iter().find(|m| m["kind"] == "slo_burn"))
                .cloned()
                .unwrap_or_else(|| panic!("an slo_burn check: {doc:#}"));
            assert_eq!(check["max"], 14.4, "{check:#}");
            assert_eq!(check["budget"]["objective"], 0.995, "{check:#}");
        }
        let [promoted, rolled_back] = ended(dir, &ns, ["credit-scorer-v6", "price-optimizer-v4"]);

        // The canary that burns like its stable: promoted.
        assert_eq!(promoted["status"]["phase"], "Promoted", "{promoted:#}");
        let burns = |doc: &Value| -> Vec<Value> {
            doc["status"]["measurements"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter(|m| m["metric"] == "slo-burn")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        assert!(
            burns(&promoted).iter().any(|m| m["verdict"] == "Pass"),
            "{promoted:#}"
        );

        // The burning canary: rolled back by the slo_burn check, which its reason names.
        assert_eq!(
            rolled_back["status"]["phase"], "RolledBack",
            "{rolled_back:#}"
        );
        let history = rolled_back["status"]["history"]
            .as_array()
            .expect("history");
        let reason = history
            .iter()
            .find(|h| h["to"] == "RollingBack")
            .and_then(|h| h["reason"].as_str())
            .unwrap_or_else(|| panic!("a rollback: {rolled_back:#}"));
        assert!(
            reason.starts_with("analysis failed 2 times (limit 2): ")
                && reason.contains("slo-burn"),
            "{reason}"
        );
        let failed = burns(&rolled_back)
            .into_iter()
            .rfind(|m| m["verdict"] == "Fail")
            .unwrap_or_else(|| panic!("a failed slo-burn round: {rolled_back:#}"));
        let why = failed["reason"].as_str().expect("reason");
        assert!(
            why.starts_with("canary burns ") && why.contains("its error budget > max 14.4×"),
            "{why}"
        );
        assert!(
            failed["canary"].as_f64().is_some_and(|b| b > 14.4)
                && failed["stable"].as_f64().is_some_and(|b| b < 14.4),
            "{failed:#}"
        );

        // How much of the month's budget it spent: in the status, and in words in `rollout get`.
        let spent = &rolled_back["status"]["canaryBudgetSpent"];
        assert!(
            spent["fraction"]
                .as_f64()
                .is_some_and(|f| f > 0.0 && f < 0.01)
                && spent["countedSeconds"].as_u64().is_some_and(|s| s > 0),
            "{rolled_back:#}"
        );
        let (code, text, err) = mlops(dir, &ns, &["rollout", "get", "price-optimizer-v4"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            text.lines().any(|l| l.starts_with("budget:   v4 canary: ")
                && l.contains(" % of the budget (SLO 99.5 % over 30d;")),
            "{text}"
        );
    });
    let outcome = futures::FutureExt::catch_unwind(result).await;
    let _ = namespaces
        .delete(&ns, &kube::api::DeleteParams::default())
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
