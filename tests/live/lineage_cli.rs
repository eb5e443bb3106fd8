//! `mlops lineage` on the real MLflow and the real cluster: from a dataset digest forward to the
//! seeded fraud-detector Deployment and its pods on the kwok nodes, backward from that Deployment
//! to its run and datasets, and each kind of mismatch between registry and cluster, seeded through
//! MLflow's REST API (and put back when the test ends, also when it fails).

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use common::{mlflow, mlops_cmd};
use serde_json::{Value, json};

fn lineage(target: &str) -> (i32, Value, String) {
    let out = mlops_cmd(&["lineage", target, "-o", "json"])
        .output()
        .expect("mlops");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ids_of_kind<'a>(doc: &'a Value, kind: &str) -> Vec<&'a str> {
    doc["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter(|x| x["kind"] == kind)
                .filter_map(|x| x["id"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

fn tag(version: u32, key: &str) -> Option<String> {
    let v = mlflow(
        "GET",
        &format!("/api/2.0/mlflow/model-versions/get?name=fraud-detector&version={version}"),
        None,
    );
    v["model_version"]["tags"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["key"] == key))
        .and_then(|t| t["value"].as_str())
        .map(str::to_string)
}

fn set_tag(version: u32, key: &str, value: &str) {
    mlflow(
        "POST",
        "/api/2.0/mlflow/model-versions/set-tag",
        Some(
            json!({"name": "fraud-detector", "version": version.to_string(), "key": key, "value": value}),
        ),
    );
}

fn set_champion(version: u32) {
    mlflow(
        "POST",
        "/api/2.0/mlflow/registered-models/alias",
        Some(
            json!({"name": "fraud-detector", "alias": "champion", "version": version.to_string()}),
        ),
    );
}

/// Puts fraud-detector v3 back as it was: the champion, its image and validation tags.
struct Restore {
    image: String,
    validation: Option<String>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        set_champion(3);
        set_tag(3, "image", &self.image);
        match &self.validation {
            Some(v) => set_tag(3, "validation_status", v),
            None => {
                mlflow(
                    "DELETE",
                    "/api/2.0/mlflow/model-versions/delete-tag",
                    Some(
                        json!({"name": "fraud-detector", "version": "3", "key": "validation_status"}),
                    ),
                );
            }
        }
    }
}

#[test]
fn lineage_goes_from_data_to_pods_and_back_and_names_every_mismatch() {
    let run = mlflow(
        "GET",
        "/api/2.0/mlflow/model-versions/get?name=fraud-detector&version=3",
        None,
    )["model_version"]["run_id"]
        .as_str()
        .expect("v3's run")
        .to_string();
    let inputs = mlflow(
        "GET",
        &format!("/api/2.0/mlflow/runs/get?run_id={run}"),
        None,
    );
    let digest = inputs["run"]["inputs"]["dataset_inputs"][0]["dataset"]["digest"]
        .as_str()
        .expect("v3's run has a dataset")
        .to_string();

    // Forward from the dataset: the run, fraud-detector v3, its image, the seeded Deployment and
    // its pods on the kwok nodes.
    let (code, doc, err) = lineage(&format!("dataset:{digest}"));
    assert_eq!(code, 0, "{err}");
    assert!(
        doc["start"]
            .as_str()
            .is_some_and(|s| s.ends_with(&format!("@{digest}"))),
        "{doc:#}"
    );
    assert!(
        ids_of_kind(&doc, "run").contains(&format!("run:{run}").as_str()),
        "{doc:#}"
    );
    assert!(
        ids_of_kind(&doc, "model_version").contains(&"model version:fraud-detector/3"),
        "{doc:#}"
    );
    let deployments = ids_of_kind(&doc, "deployment");
    assert!(
        deployments
            .iter()
            .any(|d| d.ends_with("/ml-serving/fraud-detector")),
        "{deployments:?}"
    );
    let pods = ids_of_kind(&doc, "pod");
    let kubectl = std::process::Command::new(common::env().get("MLOPS_KUBECTL"))
        .args([
            "--kubeconfig",
            common::env().get("KUBECONFIG"),
            "get",
            "pods",
            "-n",
            "ml-serving",
            "-l",
            "mlops.dev/model=fraud-detector,mlops.dev/version=3,mlops.dev/track=stable",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .output()
        .expect("kubectl");
    let names = String::from_utf8_lossy(&kubectl.stdout).to_string();
    assert!(!names.trim().is_empty(), "seeded pods");
    for p in names.split_whitespace() {
        assert!(
            pods.iter()
                .any(|x| x.ends_with(&format!("/ml-serving/{p}"))),
            "pod {p} in {pods:?}"
        );
    }
    for e in doc["edges"].as_array().expect("edges") {
        for end in ["from", "to"] {
            assert!(
                doc["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .any(|n| n["id"] == e[end]),
                "an edge to a node that is not in the graph: {e}"
            );
        }
    }
    assert_eq!(
        doc["mismatches"],
        json!([]),
        "the seeded registry and cluster agree"
    );

    // Backward from the Deployment: its version, the run and the dataset.
    let (code, back, err) = lineage("deployment:ml-serving/fraud-detector");
    assert_eq!(code, 0, "{err}");
    assert!(
        ids_of_kind(&back, "run").contains(&format!("run:{run}").as_str()),
        "{back:#}"
    );
    assert!(
        ids_of_kind(&back, "dataset")
            .iter()
            .any(|d| d.ends_with(&format!("@{digest}"))),
        "{back:#}"
    );
    assert!(ids_of_kind(&back, "alias").contains(&"alias:fraud-detector@champion"));

    // Every kind of mismatch: the champion moves on to v4 (served nowhere) while the stable
    // track still serves v3, v3's recorded image changes, and its validation failed.
    let _restore = Restore {
        image: tag(3, "image").expect("v3's image tag"),
        validation: tag(3, "validation_status"),
    };
    set_champion(4);
    set_tag(
        3,
        "image",
        "registry.mlops.invalid/models/fraud-detector:v3-rebuilt",
    );
    set_tag(3, "validation_status", "failed");
    let (code, doc, err) = lineage("fraud-detector@3");
    assert_eq!(code, 0, "{err}");
    let kinds: Vec<&str> = doc["mismatches"]
        .as_array()
        .expect("mismatches")
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .collect();
    for kind in [
        "alias_not_served",
        "alias_moved_on",
        "image_differs",
        "failed_validation_served",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {doc:#}");
    }
    let moved = doc["mismatches"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["kind"] == "alias_moved_on"))
        .expect("alias_moved_on");
    assert!(
        moved["message"].as_str().is_some_and(|m| m
            .contains("ml-serving/fraud-detector serves fraud-detector v3")
            && m.contains("moved on to v4")),
        "{moved}"
    );
    // The tree says the same for people.
    let out = mlops_cmd(&["lineage", "fraud-detector@champion"])
        .output()
        .expect("mlops");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("alias fraud-detector@champion"), "{text}");
    assert!(text.contains("✗ alias_not_served"), "{text}");

    // The console lists the same mismatches under the model versions and counts them on the
    // Overview, from the same real registry and cluster.
    let env = common::env();
    let config = tempfile::tempdir().expect("config dir");
    let script = format!(
        "KUBECONFIG={} MLOPS_CONTEXT={} MLFLOW_TRACKING_URI={} {}; echo EXIT=$?; sleep 60",
        env.get("KUBECONFIG"),
        env.get("MLOPS_KUBE_CONTEXT"),
        env.get("MLFLOW_TRACKING_URI"),
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = common::tmux::Tmux::start(&script, 200, 50, config.path().to_str().expect("utf-8"));
    t.keys(&["3"]);
    let screen = t.wait_text("Registry and cluster disagree");
    for kind in [
        "alias_not_served",
        "alias_moved_on",
        "image_differs",
        "failed_validation_served",
    ] {
        assert!(screen.contains(kind), "{kind}:\n{screen}");
    }
    assert!(
        screen.contains("fraud-detector@champion points at v4"),
        "{screen}"
    );
    // A version's source run, from its lineage: the model it logged, read from the real
    // server's logged models.
    t.keys(&["/"]);
    t.type_text("fraud-detector");
    t.keys(&["Enter", "Enter"]);
    t.wait_text("Lineage: data → run");
    // The graph fills in as the version's run is read: `k` from the version reaches the run
    // only once its row is there (pressed before, it stayed on the version and opened that).
    t.wait_for("the run's row", |s| s.contains("▲ run "));
    t.keys(&["k", "Enter"]);
    let s = t.wait_text("READY · xgboost");
    assert!(
        s.contains("logged models") && s.contains("fraud-detector"),
        "{s}"
    );
    t.keys(&["1"]);
    t.wait_text("registry/cluster mismatch");
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");

    // Bad targets: a usage error, an unknown alias, a digest nothing used.
    let (code, _, err) = lineage("fraud-detector");
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = lineage("fraud-detector@nope");
    assert_eq!(code, 1);
    assert!(err.contains("fraud-detector@nope"), "{err}");
    let (code, _, err) = lineage("dataset:0000dead");
    assert_eq!(code, 1);
    assert!(err.contains("digest 0000dead"), "{err}");
}
