//! `mlops install --controller` on the real API server (with kwok running the pods): the
//! manifests pass a server-side dry run and store nothing; installed twice with a change they are
//! applied in place (nothing duplicated, the CRD's stored versions intact) and the Deployment
//! becomes available; the controller run with only its ServiceAccount's token and CA (the
//! in-cluster configuration) drives a rollout to Promoted without a single 403 (and goes on when
//! its token is rotated and the old one revoked); and an install over a CRD that stores another
//! version is refused before it writes. (`deploy/` rendered: `install_deploy.rs`.)

// A test is a script of steps, read top to bottom.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{Service, ServiceAccount},
        policy::v1::PodDisruptionBudget,
        rbac::v1::{ClusterRoleBinding, Role},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};
use mlops_console::adapters::kube::ModelRollout;
use mlops_core::rollout::Phase;

use common::{controller::wait_phase, installed, kubectl, mlops_cmd, mlops_ok};

/// The tests here install into the one cluster and compete for one Lease: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CRD: &str = "modelrollouts.mlops.dev";

fn json(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn wait_available(api: &Api<Deployment>, name: &str, want: i32) -> Deployment {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let d = api.get(name).await.expect("get deployment");
        let available = d
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0);
        let updated = d
            .status
            .as_ref()
            .and_then(|s| s.updated_replicas)
            .unwrap_or(0);
        if available == want && updated == want {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never had {want} available replicas: {:#?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether there is no `mlops-controller` in `api`.
async fn absent<K>(api: &Api<K>) -> bool
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt("mlops-controller")
        .await
        .expect("get")
        .is_none()
}

async fn stored_versions(crds: &Api<CustomResourceDefinition>) -> Vec<String> {
    crds.get(CRD)
        .await
        .expect("the CRD")
        .status
        .and_then(|s| s.stored_versions)
        .unwrap_or_default()
}

#[tokio::test]
async fn the_manifests_pass_a_server_side_dry_run_and_nothing_is_stored() {
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    let roles: Api<Role> = Api::namespaced(cluster.client(), "ml-serving");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "ml-serving");
    assert!(absent(&roles).await);

    let out = mlops_ok(&[
        "install",
        "--controller",
        "--namespace-scoped",
        "-n",
        "ml-serving",
        "--dry-run=server",
        "-o",
        "json",
    ]);
    let doc = json(&out);
    assert_eq!(doc["dryRun"], true);
    let applied: Vec<String> = serde_json::from_value(doc["applied"].clone()).expect("applied");
    for want in [
        "ServiceAccount/ml-serving/mlops-controller",
        "Role/ml-serving/mlops-controller",
        "RoleBinding/ml-serving/mlops-controller",
        "Deployment/ml-serving/mlops-controller",
        "PodDisruptionBudget/ml-serving/mlops-controller",
        "Service/ml-serving/mlops-controller-metrics",
    ] {
        assert!(applied.contains(&want.to_string()), "{want}: {applied:?}");
    }
    assert_eq!(applied.len(), 6, "nothing cluster-scoped: {applied:?}");
    // Checked by the server, stored nowhere.
    assert!(absent(&roles).await);
    assert!(absent(&deployments).await);

    let out = mlops_ok(&[
        "install",
        "--controller",
        "--image",
        "registry.mlops.invalid/mlops:dry",
        "--dry-run=server",
        "-o",
        "json",
    ]);
    let applied: Vec<String> =
        serde_json::from_value(json(&out)["applied"].clone()).expect("applied");
    let printed = json(&mlops_ok(&["install", "--controller", "--dry-run"]));
    let objects = printed["items"].as_array().map_or(0, Vec::len);
    // Every object but the two CRDs (ModelRollout, RolloutTrigger: applied and waited for on
    // their own, skipped in a dry run).
    assert_eq!(applied.len(), objects - 2, "{applied:?}");
    for want in [
        "ClusterRole/mlops-controller",
        "Role/mlops-system/mlops-controller",
        "Deployment/mlops-system/mlops-controller",
        "ValidatingAdmissionPolicy/mlops-rollout-commands",
    ] {
        assert!(applied.contains(&want.to_string()), "{want}: {applied:?}");
    }
    let system: Api<Deployment> = Api::namespaced(cluster.client(), "mlops-system");
    assert!(absent(&system).await);
}

#[tokio::test]
async fn installed_twice_with_a_change_it_is_applied_in_place_and_the_crd_keeps_its_versions() {
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    let (ns, namespaces) = common::new_namespace("mlops-install").await;
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    let versions_before = stored_versions(&crds).await;
    assert_eq!(versions_before, vec!["v1alpha1".to_string()]);

    mlops_ok(&[
        "install",
        "--controller",
        "-n",
        &ns,
        "--image",
        "registry.mlops.invalid/mlops:v1",
    ]);
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), &ns);
    let first = wait_available(&deployments, "mlops-controller", 2).await;
    let pod = first
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .expect("pod spec");
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("registry.mlops.invalid/mlops:v1"));
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("mlops-controller")
    );

    let out = mlops_ok(&[
        "install",
        "--controller",
        "-n",
        &ns,
        "--image",
        "registry.mlops.invalid/mlops:v2",
        "--replicas",
        "3",
        "-o",
        "json",
    ]);
    assert_eq!(json(&out)["established"], true);
    let second = wait_available(&deployments, "mlops-controller", 3).await;
    assert_eq!(
        second.metadata.uid, first.metadata.uid,
        "updated, not replaced"
    );
    assert_eq!(second.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let image = second
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers[0].image.clone());
    assert_eq!(image.as_deref(), Some("registry.mlops.invalid/mlops:v2"));

    // Nothing duplicated: one of each, by the labels the install sets.
    let mine = ListParams::default().labels("app.kubernetes.io/name=mlops-controller");
    let count = |n: usize, what: &str| assert_eq!(n, 1, "{what}");
    count(
        deployments.list(&mine).await.expect("list").items.len(),
        "Deployment",
    );
    let services: Api<Service> = Api::namespaced(cluster.client(), &ns);
    count(
        services.list(&mine).await.expect("list").items.len(),
        "Service",
    );
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(cluster.client(), &ns);
    count(pdbs.list(&mine).await.expect("list").items.len(), "PDB");
    let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client(), &ns);
    count(
        accounts.list(&mine).await.expect("list").items.len(),
        "ServiceAccount",
    );
    let bindings: Api<ClusterRoleBinding> = Api::all(cluster.client());
    let binding = bindings.get("mlops-controller").await.expect("binding");
    let subjects: Vec<(String, Option<String>)> = binding
        .subjects
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name, s.namespace))
        .collect();
    assert_eq!(
        subjects,
        vec![("mlops-controller".to_string(), Some(ns.clone()))]
    );
    assert_eq!(stored_versions(&crds).await, versions_before);

    // Back to the shared install for the other tests.
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    mlops_ok(&["install"]);
}

/// A directory laid out like a pod's ServiceAccount mount: a fresh bound token (TokenRequest),
/// the cluster's CA and the namespace.
/// An upgrade from the release before the controller wrote the audit log: its bindings gave
/// each group the audit writer. A binding's role cannot change in place, so `mlops install`
/// makes readers' bindings under new names and deletes the old ones — or every operator would
/// keep writing the log directly.
#[tokio::test]
async fn an_upgrade_deletes_the_earlier_releases_audit_writer_bindings() {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    let bindings: Api<RoleBinding> = Api::namespaced(cluster.client(), "mlops-system");
    for (name, group) in [
        ("mlops-operator-audit", "mlops-operators"),
        ("mlops-controller-audit", ""),
    ] {
        let subject = if group.is_empty() {
            serde_json::json!({"kind": "ServiceAccount", "name": "mlops-controller", "namespace": "mlops-system"})
        } else {
            serde_json::json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group})
        };
        let old: RoleBinding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "mlops-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mlops-audit-writer"},
            "subjects": [subject],
        }))
        .expect("a RoleBinding");
        let _ = bindings.delete(name, &DeleteParams::default()).await;
        bindings
            .create(&PostParams::default(), &old)
            .await
            .expect("the earlier release's binding");
    }

    let out = mlops_ok(&["install", "-o", "json"]);
    let doc = json(&out);
    let deleted: Vec<&str> = doc["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert_eq!(
        deleted,
        [
            "RoleBinding/mlops-system/mlops-operator-audit",
            "RoleBinding/mlops-system/mlops-controller-audit"
        ],
        "{doc}"
    );
    for name in ["mlops-operator-audit", "mlops-controller-audit"] {
        assert!(
            bindings.get_opt(name).await.expect("get").is_none(),
            "{name} is gone"
        );
    }
    let reader = bindings
        .get("mlops-operator-audit-reader")
        .await
        .expect("the operators read the log");
    assert_eq!(reader.role_ref.name, "mlops-audit-reader");

    // Installed again, there is nothing left to delete.
    let again = json(&mlops_ok(&["install", "-o", "json"]));
    assert_eq!(again["deleted"], serde_json::json!([]), "{again}");
}

fn service_account_dir(dir: &std::path::Path, namespace: &str) {
    let env = common::env();
    let token = kubectl(
        &[
            "create",
            "token",
            "mlops-controller",
            "-n",
            namespace,
            "--duration",
            "1h",
        ],
        None,
    );
    std::fs::write(dir.join("token"), token.trim()).expect("token");
    std::fs::copy(env.get("MLOPS_KUBE_CA_FILE"), dir.join("ca.crt")).expect("ca");
    std::fs::write(dir.join("namespace"), namespace).expect("namespace");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn get(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "GET {url}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_controller_with_only_its_service_accounts_token_and_ca_drives_a_rollout() {
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    drive_as_the_service_account(&cluster, "ml-serving", "mlops-system", &[]).await;
}

/// A namespace-scoped install: the controller with a Role in its namespace only (and the audit
/// log's binding a cluster admin adds in mlops-system) drives a rollout there.
#[tokio::test]
async fn a_namespace_scoped_controller_with_only_its_role_drives_a_rollout_in_its_namespace() {
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    let (ns, namespaces) = common::new_namespace("mlops-scoped").await;
    let out = mlops_ok(&[
        "install",
        "--controller",
        "--namespace-scoped",
        "-n",
        &ns,
        "--image",
        "registry.mlops.invalid/mlops:scoped",
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("a cluster admin installs it once"), "{said}");
    // The one grant outside the namespace, as the docs tell a cluster admin to add it.
    let audit_binding = format!("mlops-controller-{ns}-audit");
    kubectl(
        &[
            "create",
            "rolebinding",
            &audit_binding,
            "-n",
            "mlops-system",
            "--clusterrole",
            "mlops-audit-writer",
            "--serviceaccount",
            &format!("{ns}:mlops-controller"),
        ],
        None,
    );
    let watch = format!("--watch-namespace={ns}");
    drive_as_the_service_account(&cluster, &ns, &ns, &[&watch]).await;
    // Its Lease is in its namespace, not mlops-system's.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(cluster.client(), &ns);
    assert!(!absent(&leases).await, "the Lease {ns}/mlops-controller");
    let _ = kubectl(
        &[
            "delete",
            "rolebinding",
            &audit_binding,
            "-n",
            "mlops-system",
        ],
        None,
    );
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}

/// `mlops controller` with only the ServiceAccount `account_ns/mlops-controller`'s token and
/// the CA drives a rollout in `namespace` to Promoted: every request allowed, audited.
async fn drive_as_the_service_account(
    cluster: &mlops_console::adapters::kube::KubeCluster,
    namespace: &str,
    account_ns: &str,
    extra: &[&str],
) {
    const MODEL: &str = "incluster-model";
    common::serving_deployment(&cluster.client(), namespace, MODEL).await;
    let api: Api<ModelRollout> = Api::namespaced(cluster.client(), namespace);
    let name = format!("{MODEL}-incluster");
    let _ = api.delete(&name, &DeleteParams::default()).await;
    let stable = cluster
        .serving(namespace, MODEL)
        .await
        .expect("the serving Deployment");
    let next = stable.version + 1;
    let image = format!("registry.mlops.invalid/models/{MODEL}:v{next}");

    let dir = tempfile::tempdir().expect("tempdir");
    service_account_dir(dir.path(), account_ns);
    let server = common::env().get("MLOPS_KUBE_SERVER");
    let (host, port) = server
        .trim_start_matches("https://")
        .rsplit_once(':')
        .expect("https://HOST:PORT");
    let metrics = format!("127.0.0.1:{}", free_port());
    let log_path = dir.path().join("controller.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let id = format!("incluster-{}", std::process::id());
    // Only the ServiceAccount: no kubeconfig, no context, no home with one, no registry.
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlops"));
    command
        .args(["controller", "--id", &id, "--metrics-addr", &metrics])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .env("KUBERNETES_SERVICE_HOST", host)
        .env("KUBERNETES_SERVICE_PORT", port)
        .env("MLOPS_SERVICE_ACCOUNT_DIR", dir.path())
        .env(
            "MLOPS_PROMETHEUS_URL",
            common::env().get("MLOPS_PROMETHEUS_URL"),
        )
        .env("RUST_LOG", "info");
    let controller = common::controller::start_logging(command.stderr(log));

    let mr: ModelRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "mlops.dev/v1alpha1", "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "model": {"name": MODEL, "version": next},
            "stableVersion": stable.version,
            "deployment": MODEL,
            "image": image,
            "replicas": 2,
            "steps": [{"setWeight": 50}, {"approval": {}}, {"setWeight": 100}],
            "analysis": {"intervalSeconds": 5, "failureLimit": 1, "metrics": []},
            "approval": {"required": 1}
        }
    }))
    .expect("rollout");
    api.create(&PostParams::default(), &mr)
        .await
        .expect("create the rollout");
    let at_gate = wait_phase(&api, &name, Phase::AwaitingApproval, 120).await;
    assert_eq!(at_gate.status.as_ref().map(|s| s.weight), Some(50));
    mlops_ok(&[
        "rollout",
        "approve",
        &name,
        "-n",
        namespace,
        "--comment",
        "in-cluster test",
    ]);
    wait_phase(&api, &name, Phase::Promoted, 120).await;
    let promoted = cluster
        .serving(namespace, MODEL)
        .await
        .expect("the serving Deployment");
    assert_eq!(
        (promoted.version, promoted.image.as_str()),
        (next, image.as_str())
    );

    // Every request the controller made was allowed: it counts them by verb and status.
    let scraped = get(&format!("http://{metrics}/metrics"));
    let requests: Vec<&str> = scraped
        .lines()
        .filter(|l| l.starts_with("mlops_controller_kube_requests_total{"))
        .collect();
    assert!(
        requests
            .iter()
            .any(|l| l.contains("verb=\"create\"") && l.contains("code=\"201\"")),
        "{requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("verb=\"update\"") && l.contains("code=\"200\"")),
        "{requests:#?}"
    );
    let refused: Vec<&&str> = requests
        .iter()
        .filter(|l| l.contains("code=\"401\"") || l.contains("code=\"403\""))
        .collect();
    assert!(refused.is_empty(), "requests refused: {refused:#?}");
    // The audit log has the controller's entries (ConfigMaps in mlops-system).
    let audit = cluster.audit_log().entries().await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.actor == id && e.target.contains(&name)),
        "no audit entry by {id} for {name}"
    );
    drop(controller);
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        !text.contains("403") && !text.to_lowercase().contains("forbidden"),
        "the controller was refused something:\n{text}"
    );
    let _ = api.delete(&name, &DeleteParams::default()).await;
}

/// Puts the CRD back as `mlops install` leaves it, also when the test fails.
struct RestoreCrd;

impl Drop for RestoreCrd {
    fn drop(&mut self) {
        let env = common::env();
        let kubectl = |args: &[&str]| {
            let _ = Command::new(env.get("MLOPS_KUBECTL"))
                .args(args)
                .env("KUBECONFIG", env.get("KUBECONFIG"))
                .output();
        };
        kubectl(&[
            "patch",
            "crd",
            CRD,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"storedVersions":["v1alpha1"]}}"#,
        ]);
        kubectl(&[
            "patch",
            "crd",
            CRD,
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/versions/1/name","value":"v1alpha0"},{"op":"remove","path":"/spec/versions/1"}]"#,
        ]);
        let _ = mlops_cmd(&["install"]).output();
    }
}

#[tokio::test]
async fn an_install_over_a_crd_that_stores_a_version_we_do_not_serve_is_refused_and_writes_nothing()
{
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    let restore = RestoreCrd;
    // As an older release would have left it: a version of its own, in which objects are stored.
    kubectl(
        &[
            "patch",
            "crd",
            CRD,
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/versions/-","value":{"name":"v1alpha0","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}]"#,
        ],
        None,
    );
    kubectl(
        &[
            "patch",
            "crd",
            CRD,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"storedVersions":["v1alpha0","v1alpha1"]}}"#,
        ],
        None,
    );
    let before = crds.get(CRD).await.expect("the CRD");

    let out = mlops_cmd(&["install", "--controller"])
        .output()
        .expect("run mlops install");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for want in [
        CRD,
        "stores ModelRollouts as v1alpha0",
        "nothing was changed",
        "v1alpha1",
    ] {
        assert!(stderr.contains(want), "{want:?} not in: {stderr}");
    }
    let after = crds.get(CRD).await.expect("the CRD");
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    let system: Api<Deployment> = Api::namespaced(cluster.client(), "mlops-system");
    assert!(absent(&system).await, "nothing applied");
    drop(restore);
    assert_eq!(stored_versions(&crds).await, vec!["v1alpha1".to_string()]);
    let versions: Vec<String> = crds
        .get(CRD)
        .await
        .expect("the CRD")
        .spec
        .versions
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(versions, vec!["v1alpha1".to_string()]);
}

/// A token bound to a Secret of the test's own: deleting the Secret makes the API server refuse
/// the token (401), as a rotated-away token is.
fn bound_token(secret: &str) -> String {
    kubectl(
        &[
            "create",
            "token",
            "mlops-controller",
            "-n",
            "mlops-system",
            "--duration",
            "1h",
            "--bound-object-kind",
            "Secret",
            "--bound-object-name",
            secret,
        ],
        None,
    )
    .trim()
    .to_string()
}

/// The kubelet rotates a pod's bound token in place; the controller reads the file again (kube-rs
/// re-reads a token file every 60 s), so it goes on after the old token stops working.
#[tokio::test]
async fn a_rotated_token_is_read_again_and_the_controller_goes_on_after_the_old_one_is_revoked() {
    let _serial = SERIAL.lock().await;
    let (cluster, _) = installed().await;
    let pid = std::process::id();
    let (old, new) = (
        format!("mlops-token-old-{pid}"),
        format!("mlops-token-new-{pid}"),
    );
    for s in [&old, &new] {
        let _ = kubectl(
            &[
                "delete",
                "secret",
                s,
                "-n",
                "mlops-system",
                "--ignore-not-found",
            ],
            None,
        );
        kubectl(
            &["create", "secret", "generic", s, "-n", "mlops-system"],
            None,
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    service_account_dir(dir.path(), "mlops-system");
    std::fs::write(dir.path().join("token"), bound_token(&old)).expect("token");
    let server = common::env().get("MLOPS_KUBE_SERVER");
    let (host, port) = server
        .trim_start_matches("https://")
        .rsplit_once(':')
        .expect("https://HOST:PORT");
    let metrics = format!("127.0.0.1:{}", free_port());
    let id = format!("rotation-{pid}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlops"));
    command
        .args(["controller", "--id", &id, "--metrics-addr", &metrics])
        .env_clear()
        .env("HOME", dir.path())
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .env("KUBERNETES_SERVICE_HOST", host)
        .env("KUBERNETES_SERVICE_PORT", port)
        .env("MLOPS_SERVICE_ACCOUNT_DIR", dir.path());
    let controller = common::controller::start_with(&mut command);

    // Rotated as the kubelet does it (a new file moved over the old), then given time to be read.
    let staged = dir.path().join("token.new");
    std::fs::write(&staged, bound_token(&new)).expect("token");
    std::fs::rename(&staged, dir.path().join("token")).expect("rotate");
    tokio::time::sleep(Duration::from_secs(70)).await;
    kubectl(&["delete", "secret", &old, "-n", "mlops-system"], None);
    // The API server refuses the old token within about 10 s (its token cache); three renewals
    // after that the controller still holds the Lease, and was never refused.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(cluster.client(), "mlops-system");
    let renewal = || async {
        let spec = leases
            .get("mlops-controller")
            .await
            .expect("the Lease")
            .spec
            .expect("spec");
        (spec.holder_identity, spec.renew_time)
    };
    let (holder, first) = renewal().await;
    assert_eq!(holder.as_deref(), Some(id.as_str()));
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (holder, second) = renewal().await;
    assert_eq!(holder.as_deref(), Some(id.as_str()));
    assert_ne!(first, second, "the Lease is renewed with the new token");
    let scraped = get(&format!("http://{metrics}/metrics"));
    let refused: Vec<&str> = scraped
        .lines()
        .filter(|l| l.starts_with("mlops_controller_kube_requests_total{"))
        .filter(|l| l.contains("code=\"401\"") || l.contains("code=\"403\""))
        .collect();
    assert!(
        refused.is_empty(),
        "refused after the rotation: {refused:#?}"
    );
    drop(controller);
    let _ = kubectl(&["delete", "secret", &new, "-n", "mlops-system"], None);
}
