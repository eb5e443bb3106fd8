//! `deploy/` rendered: `kubectl kustomize` of each overlay and `helm template` of the chart
//! (Helm built by `tests/env/helm/build`, `MLOPS_HELM`) are exactly the objects
//! `mlops install --controller --dry-run` prints for the same settings.

#[path = "../common/mod.rs"]
mod common;

use std::{collections::BTreeMap, process::Command};

use common::{kubectl, mlops_ok, stdout_of};

/// Objects by kind, namespace and name.
type Objects = BTreeMap<(String, String, String), serde_json::Value>;

/// The objects of a YAML stream (or a JSON `List`), as the API server's client reads them
/// (`kubectl create --dry-run=client`), keyed by kind, namespace and name.
fn objects(text: &str) -> Objects {
    let out = kubectl(
        &["create", "--dry-run=client", "-o", "json", "-f", "-"],
        Some(text),
    );
    let mut all = BTreeMap::new();
    for doc in serde_json::Deserializer::from_str(&out).into_iter::<serde_json::Value>() {
        let doc = doc.expect("kubectl prints JSON");
        let items = if doc["kind"] == "List" {
            doc["items"].as_array().cloned().unwrap_or_default()
        } else {
            vec![doc]
        };
        for o in items {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let key = (
                text(&o["kind"]),
                text(&o["metadata"]["namespace"]),
                text(&o["metadata"]["name"]),
            );
            assert!(all.insert(key.clone(), o).is_none(), "{key:?} twice");
        }
    }
    all
}

fn assert_same(what: &str, rendered: &Objects, printed: &Objects) {
    let keys = |m: &Objects| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(rendered),
        keys(printed),
        "{what}: not the same objects"
    );
    for (key, object) in rendered {
        assert_eq!(Some(object), printed.get(key), "{what}: {key:?} differs");
    }
}

fn helm() -> String {
    if let Ok(path) = std::env::var("MLOPS_HELM")
        && !path.is_empty()
    {
        return path;
    }
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/env/helm/build"))
        .output()
        .expect("run tests/env/helm/build");
    assert!(
        out.status.success(),
        "tests/env/helm/build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    stdout_of(program, args, &out)
}

#[test]
fn kustomize_and_helm_render_exactly_what_mlops_install_prints() {
    let env = common::env();
    let kubectl_bin = env.get("MLOPS_KUBECTL");
    let helm = helm();
    let printed = |args: &[&str]| {
        let mut all = vec!["install", "--controller", "--dry-run"];
        all.extend_from_slice(args);
        objects(&String::from_utf8_lossy(&mlops_ok(&all).stdout))
    };
    let cluster_wide = printed(&[]);
    let scoped = printed(&["--namespace-scoped", "-n", "ml-serving"]);
    assert!(cluster_wide.len() > 20 && scoped.len() == 6);
    // The YAML form is the same objects as the JSON.
    assert_same("-o yaml", &printed(&["-o", "yaml"]), &cluster_wide);

    let kustomized = |overlay: &str| {
        objects(&run(
            kubectl_bin,
            &["kustomize", &format!("deploy/kustomize/overlays/{overlay}")],
        ))
    };
    assert_same(
        "kustomize cluster-wide",
        &kustomized("cluster-wide"),
        &cluster_wide,
    );
    assert_same(
        "kustomize namespace-scoped",
        &kustomized("namespace-scoped"),
        &scoped,
    );

    let chart = "deploy/helm/mlops-controller";
    let templated = |args: &[&str]| {
        let mut all = vec!["template", "mlops", chart];
        all.extend_from_slice(args);
        objects(&run(&helm, &all))
    };
    // Helm creates the release's namespace itself (--create-namespace): the chart leaves it out.
    let without_namespace = |mut all: Objects, ns: &str| {
        let key = ("Namespace".to_string(), String::new(), ns.to_string());
        assert!(all.remove(&key).is_some(), "{key:?}");
        all
    };
    assert_same(
        "helm cluster-wide",
        &templated(&["--namespace", "mlops-system"]),
        &without_namespace(cluster_wide.clone(), "mlops-system"),
    );
    assert_same(
        "helm cluster-wide in another namespace",
        &templated(&["--namespace", "mlops-controller"]),
        &without_namespace(printed(&["-n", "mlops-controller"]), "mlops-controller"),
    );
    assert_same(
        "helm namespace-scoped",
        &templated(&["--namespace", "ml-serving", "--set", "namespaceScoped=true"]),
        &scoped,
    );
    // Values go where `mlops install` puts its flags.
    let changed = templated(&[
        "--namespace",
        "mlops-controller",
        "--set",
        "replicas=3",
        "--set",
        "image=registry.mlops.invalid/mlops:v9",
    ]);
    assert_same(
        "helm with values",
        &changed,
        &without_namespace(
            printed(&[
                "-n",
                "mlops-controller",
                "--replicas",
                "3",
                "--image",
                "registry.mlops.invalid/mlops:v9",
            ]),
            "mlops-controller",
        ),
    );
}
