//! The pipeline examples under `examples/pipelines/` (GitHub Actions, GitLab CI, Jenkins) as their
//! CI systems would run them — the commands between each file's `mlops-steps` markers, in bash —
//! against the real cluster, MLflow, Prometheus and `mlops controller`: each registers a version
//! of a model of the test's own, checks the policy gates and starts the canary with `--wait`,
//! and acts on the exit code. One example sees a promotion (0), one a rollback (2: the traffic
//! process fails half the canary's requests), one a rollout waiting at its approval gate (3).

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;

use kube::api::DeleteParams;
use serde_json::json;

use common::{ResetTraffic, controller::start as start_controller, installed, mlflow, traffic};

/// The model no other live test uses.
const MODEL: &str = "pipeline-model";

/// The lines between the markers, as the CI system hands them to the shell: the block's
/// indentation taken off, and (a Jenkinsfile's `'''` string) Groovy's `\\` read as `\`.
fn steps(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/pipelines")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("the example");
    let lines: Vec<&str> = text.lines().collect();
    let begin = lines
        .iter()
        .position(|l| l.trim() == "# mlops-steps-begin")
        .unwrap_or_else(|| panic!("{file} has no mlops-steps-begin"));
    let end = lines
        .iter()
        .position(|l| l.trim() == "# mlops-steps-end")
        .unwrap_or_else(|| panic!("{file} has no mlops-steps-end"));
    let indent = lines[begin].len() - lines[begin].trim_start().len();
    let block: Vec<String> = lines[begin..=end]
        .iter()
        .map(|l| l.get(indent..).unwrap_or(l.trim_start()).to_string())
        .collect();
    let block = block.join("\n");
    if file == "Jenkinsfile" {
        block.replace("\\\\", "\\")
    } else {
        block
    }
}

/// Run an example's steps with the test environment as its CI variables: (exit code, output).
fn run(file: &str, template: &str, config: &Path) -> (i32, String) {
    let env = common::env();
    let bin = Path::new(env!("CARGO_BIN_EXE_mlops"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let work = tempfile::tempdir().expect("work dir");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(steps(file))
        .current_dir(work.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("MODEL", MODEL)
        .env("MODEL_SOURCE", "s3://pipelines/pipeline-model")
        .env("IMAGE_REPO", "registry.mlops.invalid/models")
        .env("TEMPLATE", template)
        .env("TIMEOUT", "300")
        .env("NAMESPACE", "ml-serving")
        .env("MLFLOW_TRACKING_URI", env.get("MLFLOW_TRACKING_URI"))
        .env("KUBECONFIG", env.get("KUBECONFIG"))
        .env("MLOPS_CONTEXT", env.get("MLOPS_KUBE_CONTEXT"))
        .env("MLOPS_PROMETHEUS_URL", env.get("MLOPS_PROMETHEUS_URL"))
        .env("MLOPS_CONFIG_DIR", config)
        .output()
        .expect("bash");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The version number the example printed (`PROMOTED pipeline-model v7`).
fn version_in(output: &str, word: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{word} {MODEL} v")))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or_else(|| panic!("{word} in:\n{output}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_acts_on_the_rollouts_outcome() {
    let (cluster, api) = installed().await;
    common::own_serving_deployment(&cluster, MODEL).await;
    let _unregister = common::Unregister(MODEL);
    // Created once; MLflow refuses it afterwards, which is fine.
    let _ = mlflow(
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        Some(json!({"name": MODEL})),
    );
    let config = tempfile::tempdir().expect("config dir");
    traffic("POST", "/control/reset", "{}");
    let _reset = ResetTraffic;
    let _controller = start_controller(&format!("pipelines-{}", std::process::id()));

    // GitLab CI: a healthy canary is promoted; the job passes.
    let (code, out) = run("gitlab-ci.yml", "quick", config.path());
    assert_eq!(code, 0, "{out}");
    let promoted = version_in(&out, "PROMOTED");
    let d = cluster
        .serving("ml-serving", MODEL)
        .await
        .expect("the serving Deployment");
    assert_eq!(
        d.version.to_string(),
        promoted,
        "the stable is the new version"
    );

    // GitHub Actions: a template with an approval gate; the job hands over (exit 0) and says so.
    let (code, out) = run("github-actions.yml", "canary-approval", config.path());
    assert_eq!(code, 0, "{out}");
    let waiting = version_in(&out, "AWAITING_APPROVAL");
    let name = format!("{MODEL}-v{waiting}");
    let r = api.get(&name).await.expect("the rollout");
    assert_eq!(
        r.status.as_ref().map(|s| s.phase),
        Some(mlops_core::rollout::Phase::AwaitingApproval)
    );
    // `rollout wait --until approval` agrees: success at the gate; without it, exit 3.
    let wait = |until: &str| {
        common::mlops_cmd(&[
            "rollout",
            "wait",
            &name,
            "--until",
            until,
            "--timeout",
            "30",
            "-n",
            "ml-serving",
            "-o",
            "json",
        ])
        .output()
        .expect("mlops rollout wait")
    };
    let at_gate = wait("approval");
    assert_eq!(at_gate.status.code(), Some(0), "{at_gate:?}");
    let promoted_only = wait("promoted");
    assert_eq!(promoted_only.status.code(), Some(3), "{promoted_only:?}");
    let doc: serde_json::Value =
        serde_json::from_slice(&promoted_only.stdout).expect("rollout wait JSON");
    assert_eq!(doc["outcome"], "awaiting_approval", "{doc:#}");
    assert_eq!(doc["exit_code"], 3, "{doc:#}");

    // Aborted by an operator: `rollout wait` exits 2 and says it was an abort.
    let out = common::mlops_cmd(&[
        "rollout",
        "abort",
        &name,
        "--reason",
        "pipeline test",
        "-n",
        "ml-serving",
    ])
    .output()
    .expect("mlops rollout abort");
    assert!(out.status.success(), "{out:?}");
    let aborted = common::mlops_cmd(&[
        "rollout",
        "wait",
        &name,
        "--timeout",
        "120",
        "-n",
        "ml-serving",
        "-o",
        "json",
    ])
    .output()
    .expect("mlops rollout wait");
    assert_eq!(aborted.status.code(), Some(2), "{aborted:?}");
    let doc: serde_json::Value = serde_json::from_slice(&aborted.stdout).expect("JSON");
    assert_eq!(doc["outcome"], "aborted", "{doc:#}");

    // Jenkins: half the canary's requests fail; the analysis rolls it back and the build
    // fails with the rollback's code.
    traffic(
        "POST",
        "/control/degrade",
        &json!({"model": MODEL, "track": "canary", "error_rate": 0.5}).to_string(),
    );
    let (code, out) = run("Jenkinsfile", "quick", config.path());
    assert_eq!(code, 2, "{out}");
    let rolled_back = version_in(&out, "ROLLED_BACK");
    assert!(out.contains("RolledBack"), "the reason on stderr: {out}");
    traffic("POST", "/control/reset", "{}");

    for v in [&promoted, &rolled_back, &waiting] {
        let _ = api
            .delete(&format!("{MODEL}-v{v}"), &DeleteParams::default())
            .await;
    }
}
