//! Several clusters in one console, against two real API servers (`tests/env/up --clusters 2`:
//! one kubeconfig with both clusters' contexts, the second cluster's state dir in
//! `MLOPS_K8S_STATE_DIR_2`).
//!
//! - The console's port over both: rows of both; the second API server stopped (SIGSTOP: it
//!   takes connections and never answers, as a hung server does) greys only its cluster, its
//!   last rows kept and marked with the reason; started again (SIGCONT), it is live again.
//! - `rollout list --context a,b -o json` prints each rollout's `cluster`; a mutating verb given
//!   two contexts refuses.
//! - `rollout get`, `triggers list` and `audit list` over both name each item's cluster (a
//!   `cluster` field, a CLUSTER column); with one context they print as they always did.
//! - A read over both with the second API server stopped prints the first's items, names the
//!   second on stderr (`context NAME: why`) and exits 1, as `kubectl get` does.
//! - The console on both (in tmux): the second API server stopped, the status bar names it down
//!   while both clusters' rows stay on the Rollouts view; resumed, the marker goes.

#[path = "../common/mod.rs"]
mod common;

use std::{
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use mlops_console::adapters::kube::{
    KubeCluster,
    multi::{Member, MultiCluster},
};
use mlops_core::{model::ClusterHealth, ports::ClusterPort};

/// The two clusters' settings, as `tests/env/up --clusters 2` exports them.
struct Two {
    kubeconfig: PathBuf,
    first: String,
    second: String,
    second_state: PathBuf,
    /// Held while the test runs: two of them stop the second API server (SIGSTOP), which
    /// any other test using it at the same time would take for a failure of its own.
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

fn two() -> Two {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let get = |k: &str| {
        std::env::var(k).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!(
                "{k} is not set: start two clusters with `tests/env/up --clusters 2` and export its settings"
            )
        })
    };
    Two {
        kubeconfig: PathBuf::from(get("KUBECONFIG")),
        first: get("MLOPS_KUBE_CONTEXT"),
        second: get("MLOPS_KUBE_CONTEXT_2"),
        second_state: PathBuf::from(get("MLOPS_K8S_STATE_DIR_2")),
        _one_at_a_time: ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    }
}

fn mlops(two: &Two, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env("KUBECONFIG", &two.kubeconfig)
        .env_remove("MLOPS_CONTEXT")
        .env_remove("MLFLOW_TRACKING_URI")
        .env(
            "MLOPS_CONFIG_DIR",
            std::env::temp_dir().join("mlops-live-multicluster"),
        )
        .output()
        .expect("run mlops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The second cluster's kube-apiserver, stopped while this lives and resumed however the test
/// ends.
struct Stopped(String);

impl Stopped {
    fn apiserver(two: &Two) -> Self {
        let pid = std::fs::read_to_string(two.second_state.join("pids/kube-apiserver.pid"))
            .expect("the second cluster's kube-apiserver pid")
            .trim()
            .to_string();
        signal("-STOP", &pid);
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

fn signal(sig: &str, pid: &str) {
    let ok = Command::new("kill")
        .args([sig, pid])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

async fn member(two: &Two, context: &str) -> Member {
    let c = KubeCluster::connect_file_with(
        &two.kubeconfig,
        Some(context),
        None,
        Duration::from_secs(3),
    )
    .await
    .unwrap_or_else(|e| panic!("connect to {context}: {e}"));
    Member {
        name: context.to_string(),
        port: Arc::new(c),
    }
}

fn pods_of(s: &mlops_core::model::ClusterSnapshot, cluster: &str) -> usize {
    s.pods.iter().filter(|p| p.cluster == cluster).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cluster_greys_only_its_own_rows_and_comes_back() {
    let two = two();
    for c in [&two.first, &two.second] {
        let (code, _, err) = mlops(&two, &["--context", c, "install"]);
        assert_eq!(code, 0, "install on {c}: {err}");
    }
    let multi = MultiCluster::new(vec![
        member(&two, &two.first).await,
        member(&two, &two.second).await,
    ]);
    let s = multi.snapshot().await.expect("both clusters answer");
    let (first_pods, second_pods) = (pods_of(&s, &two.first), pods_of(&s, &two.second));
    assert!(
        first_pods > 0 && second_pods > 0,
        "{first_pods} / {second_pods}"
    );
    assert!(
        s.clusters.iter().all(|c| c.health.is_ok()),
        "{:?}",
        s.clusters
    );

    {
        let _stopped = Stopped::apiserver(&two);
        let s = multi
            .snapshot()
            .await
            .expect("the first cluster still answers");
        assert!(!s.is_stale(&two.first), "{:?}", s.clusters);
        assert!(s.is_stale(&two.second), "{:?}", s.clusters);
        let second = s
            .clusters
            .iter()
            .find(|c| c.name == two.second)
            .expect("the second cluster");
        assert!(
            matches!(second.health, ClusterHealth::Down { .. }),
            "{:?}",
            second.health
        );
        assert!(second.health.reason().is_some_and(|r| !r.is_empty()));
        // Its last rows stay, marked; the live cluster's rows are still read.
        assert_eq!(pods_of(&s, &two.second), second_pods);
        assert_eq!(pods_of(&s, &two.first), first_pods);
    }

    // Started again: live within the client's retry.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = multi.snapshot().await.expect("snapshot");
        if !s.is_stale(&two.second) {
            assert_eq!(pods_of(&s, &two.second), second_pods);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second cluster is still marked after 60 s: {:?}",
            s.clusters
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[test]
fn rollout_list_over_two_contexts_names_each_rollouts_cluster() {
    let two = two();
    for c in [&two.first, &two.second] {
        install_with_a_rollout(&two, c);
    }
    let both = format!("{},{}", two.first, two.second);
    let (code, out, err) = mlops(
        &two,
        &[
            "--context",
            &both,
            "-n",
            "ml-serving",
            "rollout",
            "list",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let rollouts: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
    let clusters: std::collections::BTreeSet<&str> = rollouts
        .iter()
        .filter(|r| r["name"] == "churn-model-v9")
        .map(|r| r["cluster"].as_str().expect("a cluster field"))
        .collect();
    assert_eq!(
        clusters,
        [two.first.as_str(), two.second.as_str()]
            .into_iter()
            .collect()
    );
    // The table has a CLUSTER column with both.
    let (code, out, err) = mlops(
        &two,
        &["--context", &both, "-n", "ml-serving", "rollout", "list"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("CLUSTER"), "{out}");
    assert!(out.contains(&two.second), "{out}");

    // A command acts on exactly one cluster.
    let (code, _, err) = mlops(
        &two,
        &[
            "--context",
            &both,
            "-n",
            "ml-serving",
            "rollout",
            "abort",
            "churn-model-v9",
            "--reason",
            "no",
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("acts on exactly one cluster; --context got 2"),
        "{err}"
    );
}

/// `mlops` with a config whose calls time out after 3 s (a stopped API server answers nothing).
fn mlops_quick(two: &Two, args: &[&str]) -> (i32, String, String) {
    quick(two, args, false)
}

/// `mlops_quick` with the test environment's model registry (`MLFLOW_TRACKING_URI`) when
/// `registry`.
fn quick(two: &Two, args: &[&str], registry: bool) -> (i32, String, String) {
    let dir = std::env::temp_dir().join("mlops-live-multicluster-quick");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), "timeout_seconds = 3\n").expect("config.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlops"));
    cmd.args(args)
        .env("KUBECONFIG", &two.kubeconfig)
        .env_remove("MLOPS_CONTEXT")
        .env("MLOPS_CONFIG_DIR", &dir);
    if !registry {
        cmd.env_remove("MLFLOW_TRACKING_URI");
    }
    let out = cmd.output().expect("run mlops");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Installed on cluster `c`, with the rollout `churn-model-v9` in ml-serving.
fn install_with_a_rollout(two: &Two, c: &str) {
    let (code, _, err) = mlops(two, &["--context", c, "install"]);
    assert_eq!(code, 0, "install on {c}: {err}");
    let (code, _, err) = mlops(
        two,
        &[
            "--context",
            c,
            "rollout",
            "start",
            "--model",
            "churn-model",
            "--version",
            "9",
            "--image",
            "img/churn-model:9",
            "-n",
            "ml-serving",
        ],
    );
    assert!(
        code == 0 || err.contains("exists already"),
        "start on {c}: {err}"
    );
}

/// Installed in both clusters, with the rollout `churn-model-v9` and the RolloutTrigger
/// `churn-multi` in ml-serving of each.
async fn both_with_a_rollout_and_a_trigger(two: &Two) {
    use kube::api::{Api, Patch, PatchParams};
    use mlops_console::adapters::kube::triggers::RolloutTrigger;
    for c in [&two.first, &two.second] {
        install_with_a_rollout(two, c);
        let cluster =
            KubeCluster::connect_file_with(&two.kubeconfig, Some(c), None, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("connect to {c}: {e}"));
        let triggers: Api<RolloutTrigger> = Api::namespaced(cluster.client(), "ml-serving");
        let t: RolloutTrigger = serde_json::from_value(serde_json::json!({
            "apiVersion": "mlops.dev/v1alpha1", "kind": "RolloutTrigger",
            "metadata": {"name": "churn-multi", "namespace": "ml-serving"},
            "spec": {"model": "churn-model", "when": {"alias": "champion"},
                     "deployment": "churn-model", "template": "quick"}
        }))
        .expect("trigger");
        triggers
            .patch(
                "churn-multi",
                &PatchParams::apply("live-multicluster").force(),
                &Patch::Apply(&t),
            )
            .await
            .unwrap_or_else(|e| panic!("apply the trigger on {c}: {e}"));
    }
}

/// The `cluster` field of each item of a JSON array that `keep` keeps.
fn clusters_of(
    out: &str,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> std::collections::BTreeSet<String> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not a JSON array ({e}): {out}"));
    all.iter()
        .filter(|v| keep(v))
        .map(|v| v["cluster"].as_str().expect("a cluster field").to_string())
        .collect()
}

/// `triggers list` over both: each cluster's trigger, with its cluster; with one, as before.
fn triggers_over_both(two: &Two, both: &str, expected: &std::collections::BTreeSet<String>) {
    // A CLUSTER column in the table.
    let (code, out, err) = mlops(
        two,
        &[
            "--context",
            both,
            "-n",
            "ml-serving",
            "triggers",
            "list",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(clusters_of(&out, |t| t["name"] == "churn-multi"), *expected);
    let (code, out, err) = mlops(
        two,
        &["--context", both, "-n", "ml-serving", "triggers", "list"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("CLUSTER"), "{out}");
    // One cluster: no CLUSTER column, as before.
    let (code, out, err) = mlops(
        two,
        &[
            "--context",
            &two.second,
            "-n",
            "ml-serving",
            "triggers",
            "list",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAMESPACE"), "{out}");
    assert!(out.contains("churn-multi"), "{out}");
}

/// `audit list` over both: each cluster's log, each entry with its cluster; with one, the log's
/// own entries.
fn audit_over_both(two: &Two, both: &str, expected: &std::collections::BTreeSet<String>) {
    let (code, out, err) = mlops(
        two,
        &[
            "--context",
            both,
            "audit",
            "list",
            "--action",
            "mlops.install",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        clusters_of(&out, |e| e["action"] == "mlops.install"),
        *expected
    );
    let (code, out, err) = mlops(two, &["--context", both, "audit", "list", "--limit", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("CLUSTER"), "{out}");
    assert_eq!(out.lines().count(), 4, "a header and the 3 newest: {out}");
    // One cluster: the log's own entries, no cluster field.
    let (code, out, err) = mlops(
        two,
        &[
            "--context",
            &two.first,
            "audit",
            "list",
            "--limit",
            "1",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let one: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
    assert_eq!(one.len(), 1, "{out}");
    assert!(one[0].get("cluster").is_none(), "{out}");
    assert!(one[0]["hash"].is_string(), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_get_triggers_and_audit_over_two_contexts_name_each_cluster() {
    let two = two();
    both_with_a_rollout_and_a_trigger(&two).await;
    let both = format!("{},{}", two.first, two.second);
    let expected: std::collections::BTreeSet<String> =
        [two.first.clone(), two.second.clone()].into();

    // `rollout get`: the rollout of each cluster, each with its cluster.
    let (code, out, err) = mlops(
        &two,
        &[
            "--context",
            &both,
            "-n",
            "ml-serving",
            "rollout",
            "get",
            "churn-model-v9",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        clusters_of(&out, |r| r["name"] == "churn-model-v9"),
        expected
    );
    let (code, out, err) = mlops(
        &two,
        &[
            "--context",
            &both,
            "-n",
            "ml-serving",
            "rollout",
            "get",
            "churn-model-v9",
        ],
    );
    assert_eq!(code, 0, "{err}");
    for c in [&two.first, &two.second] {
        assert!(out.contains(&format!("cluster:  {c}\n")), "{out}");
    }
    // In neither: the error names the contexts searched.
    let (code, out, err) = mlops(
        &two,
        &[
            "--context",
            &both,
            "-n",
            "ml-serving",
            "rollout",
            "get",
            "no-such-rollout",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains(&format!(
            "\"no-such-rollout\" not found in any of the contexts {}, {}",
            two.first, two.second
        )),
        "{err}"
    );

    triggers_over_both(&two, &both, &expected);
    audit_over_both(&two, &both, &expected);
}

/// `gpu` and `lineage` over both contexts with the second stopped: the first's GPUs and serving
/// only, the second named in `unread_clusters` and on stderr, exit 1.
fn gpu_and_lineage_with_one_down(two: &Two, both: &str, down: &str) {
    let unread = |doc: &serde_json::Value| -> Vec<String> {
        doc["unread_clusters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (code, out, err) = mlops_quick(two, &["--context", both, "gpu", "-o", "json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(down), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("gpu JSON");
    let clusters: std::collections::BTreeSet<&str> = doc["nodes"]
        .as_array()
        .map(|n| n.iter().filter_map(|n| n["cluster"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        clusters,
        [two.first.as_str()].into(),
        "the first cluster's GPU nodes, none of the stopped one's: {out}"
    );
    let gpus_of = |c: &str| {
        doc["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["cluster"] == c)
            .flat_map(|n| n["gpus"].as_array().into_iter().flatten())
            .count()
    };
    assert!(gpus_of(&two.first) > 0, "{out}");
    let named = unread(&doc);
    assert!(
        named.len() == 1 && named[0].starts_with(&format!("context {}: ", two.second)),
        "{named:?}"
    );
    let (code, out, err) = quick(
        two,
        &[
            "--context",
            both,
            "lineage",
            "fraud-detector@champion",
            "-o",
            "json",
        ],
        true,
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(down), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("lineage JSON");
    let named = unread(&doc);
    assert!(
        named.len() == 1 && named[0].starts_with(&format!("context {}: ", two.second)),
        "{named:?}"
    );
    assert!(
        doc["nodes"].as_array().is_some_and(|n| n.len() > 1),
        "the first cluster's and the registry's part of the lineage: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_over_two_contexts_with_one_down_prints_the_others_and_exits_1() {
    let two = two();
    both_with_a_rollout_and_a_trigger(&two).await;
    let both = format!("{},{}", two.first, two.second);
    let _stopped = Stopped::apiserver(&two);
    let list = |args: &[&str]| {
        let mut all = vec!["--context", &both, "-n", "ml-serving"];
        all.extend_from_slice(args);
        mlops_quick(&two, &all)
    };
    let down = format!("mlops: context {}: ", two.second);
    for verb in [&["rollout", "list"][..], &["triggers", "list"][..]] {
        let (code, out, err) = list(&[verb, &["-o", "json"]].concat());
        assert_eq!(code, 1, "{verb:?}: {out}\n{err}");
        // The first cluster's items, and only its.
        let first: std::collections::BTreeSet<String> = [two.first.clone()].into();
        assert_eq!(clusters_of(&out, |_| true), first, "{verb:?}: {out}");
        assert!(err.contains(&down), "{verb:?}: {err}");
        assert!(!err.contains(&format!("context {}:", two.first)), "{err}");
        // The table too, with its CLUSTER column.
        let (code, out, err) = list(verb);
        assert_eq!(code, 1, "{verb:?}: {err}");
        assert!(out.starts_with("CLUSTER"), "{out}");
        assert!(
            out.contains(&two.first) && !out.contains(&two.second),
            "{out}"
        );
        assert!(err.contains(&down), "{err}");
    }
    // `rollout get`: found in the first; the second named.
    let (code, out, err) = list(&["rollout", "get", "churn-model-v9", "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        clusters_of(&out, |_| true),
        [two.first.clone()].into(),
        "{out}"
    );
    assert!(err.contains(&down), "{err}");
    gpu_and_lineage_with_one_down(&two, &both, &down);
    // The stopped cluster alone: its error, as with one cluster always.
    let (code, out, err) = mlops_quick(
        &two,
        &[
            "--context",
            &two.second,
            "-n",
            "ml-serving",
            "rollout",
            "list",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("mlops: kubernetes: listing ModelRollouts"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_marks_a_stopped_cluster_on_screen_and_keeps_the_others_rows() {
    let two = two();
    both_with_a_rollout_and_a_trigger(&two).await;
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "timeout_seconds = 3\nrefresh_seconds = 1\n",
    )
    .expect("config.toml");
    let command = format!(
        "env -u MLOPS_CONTEXT -u MLFLOW_TRACKING_URI -u MLOPS_PROMETHEUS_URL KUBECONFIG={} {} --readonly --context {},{}; echo EXIT=$?; sleep 60",
        two.kubeconfig.display(),
        env!("CARGO_BIN_EXE_mlops"),
        two.first,
        two.second
    );
    let t = common::tmux::Tmux::start(&command, 200, 50, config.path().to_str().expect("utf-8"));
    t.keys(&["6"]);
    // The rollout's row of a cluster: its CLUSTER cell is the cluster's name whole
    // (`mlops-test` is a prefix of `mlops-test-2`).
    let rows = |s: &str, cluster: &str| {
        s.lines()
            .filter(|l| l.contains("churn-model-v9") && l.contains(&format!(" {cluster} ")))
            .count()
    };
    let down = |cluster: &str| format!("{cluster} down");
    t.wait_within("churn-model-v9 of both clusters", 60, |s| {
        rows(s, &two.first) == 1 && rows(s, &two.second) == 1
    });
    {
        let _stopped = Stopped::apiserver(&two);
        let s = t.wait_within("the stopped cluster named down", 60, |s| {
            s.contains(&down(&two.second))
        });
        assert!(!s.contains(&down(&two.first)), "only the stopped one: {s}");
        assert_eq!(rows(&s, &two.first), 1, "the live cluster's row: {s}");
        assert_eq!(rows(&s, &two.second), 1, "its last row stays: {s}");
    }
    let s = t.wait_within("the marker gone once it answers again", 90, |s| {
        !s.contains(&down(&two.second))
    });
    assert_eq!(rows(&s, &two.second), 1, "{s}");
    t.keys(&["C-c"]);
    t.wait_text("EXIT=0");
}
