//! The test environment's second Kubernetes cluster (`tests/env/up --clusters 2`): its own etcd,
//! kube-apiserver, controller-manager, scheduler and kwok, the same seed with its nodes in other
//! regions (ap-southeast-1, us-east-1 instead of me-central-1, eu-west-1).
//!
//! `tests/run` starts it (`MLOPS_ENV_CLUSTERS=2`); a test binary run on its own against an
//! environment with one cluster starts it here, once, through the same script.

use std::{collections::HashMap, path::PathBuf, process::Command, sync::OnceLock};

/// Where the clusters are: one kubeconfig holding both clusters' contexts, and each one's own.
pub struct Clusters {
    /// Contexts of both clusters (`first_context`, `second_context` and their `-alice` ones);
    /// current context: the first cluster's admin.
    pub kubeconfig: PathBuf,
    /// The first cluster's admin context (`mlops-test`).
    pub first_context: String,
    /// The second cluster's admin context (`mlops-test-2`).
    pub second_context: String,
    /// The second cluster's alice context (no RBAC rights until a test grants some).
    pub second_context_alice: String,
    /// A kubeconfig with only the second cluster (contexts `mlops-test-2`, `mlops-test-2-alice`).
    pub second_kubeconfig: PathBuf,
    /// `https://127.0.0.1:PORT` of the second cluster's kube-apiserver.
    pub second_server: String,
    /// The second cluster's state dir (pids/, logs/, pki/).
    pub second_state_dir: PathBuf,
}

const SECOND: [&str; 5] = [
    "MLOPS_KUBECONFIG_2",
    "MLOPS_KUBE_CONTEXT_2",
    "MLOPS_KUBE_CONTEXT_ALICE_2",
    "MLOPS_KUBE_SERVER_2",
    "MLOPS_K8S_STATE_DIR_2",
];

/// The two clusters; starts the second one (`tests/env/up --clusters 2`) when the environment's
/// settings do not name it.
pub fn two_clusters() -> &'static Clusters {
    static CLUSTERS: OnceLock<Clusters> = OnceLock::new();
    CLUSTERS.get_or_init(|| {
        let env = super::env();
        let named = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let vars: HashMap<String, String> = if SECOND.iter().all(|k| named(k).is_some()) {
            std::env::vars().collect()
        } else {
            start_second(env.get("MLOPS_ENV_DIR"))
        };
        let get = |k: &str| {
            vars.get(k).cloned().unwrap_or_else(|| {
                panic!(
                    "tests/env/up --clusters 2 did not print {k}: {:?}",
                    vars.keys()
                )
            })
        };
        Clusters {
            kubeconfig: PathBuf::from(get("KUBECONFIG")),
            first_context: get("MLOPS_KUBE_CONTEXT"),
            second_context: get("MLOPS_KUBE_CONTEXT_2"),
            second_context_alice: get("MLOPS_KUBE_CONTEXT_ALICE_2"),
            second_kubeconfig: PathBuf::from(get("MLOPS_KUBECONFIG_2")),
            second_server: get("MLOPS_KUBE_SERVER_2"),
            second_state_dir: PathBuf::from(get("MLOPS_K8S_STATE_DIR_2")),
        }
    })
}

/// `tests/env/up --clusters 2 --json` on the environment's state dir (what runs keeps running).
fn start_second(state_dir: &str) -> HashMap<String, String> {
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/env/up"))
        .args(["--clusters", "2", "--json"])
        .env("MLOPS_ENV_DIR", state_dir)
        .output()
        .expect("run tests/env/up --clusters 2");
    assert!(
        out.status.success(),
        "tests/env/up --clusters 2 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("tests/env/up --json prints JSON");
    doc.as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect()
}

/// A client for `context` of the two clusters' kubeconfig.
pub async fn client(context: &str) -> kube::Client {
    let clusters = two_clusters();
    let kubeconfig = kube::config::Kubeconfig::read_from(&clusters.kubeconfig)
        .unwrap_or_else(|e| panic!("read {}: {e}", clusters.kubeconfig.display()));
    let options = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap_or_else(|e| panic!("context {context}: {e}"));
    kube::Client::try_from(config).unwrap_or_else(|e| panic!("client for {context}: {e}"))
}
