//! The console's read model is fed by watches, not lists: with the refresh interval at an hour,
//! a pod created, changed and deleted shows in `:messages`' cache figure from the watch alone;
//! the API server killed and restarted under an open console: the status bar says the pods
//! watch is reconnecting, and afterwards the console holds exactly the pods the API server
//! lists (no duplicate, no ghost); a user who may not list pods in every namespace still sees
//! their namespace's.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{path::Path, time::Duration};

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};

use common::{
    replica::{Replica, Scratch},
    tmux::Tmux,
};

fn pod(ns: &str, name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "watch-test"}},
        "spec": {"containers": [{"name": "c", "image": "img/watch:1"}]},
    }))
    .expect("a Pod")
}

/// A config that refreshes once an hour: whatever changes on screen came by watch.
fn hourly_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("config dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "drive_rollouts = false\nrefresh_seconds = 3600\ntimeout_seconds = 5\n",
    )
    .expect("config.toml");
    dir
}

/// The pods line of the `:messages` watch list: "…  3 pods · 1.2 KiB  namespace x  live".
fn pods_line(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.contains(" pods · ") && !l.contains("reconnecting"))
}

fn pods_shown(screen: &str) -> Option<usize> {
    let line = pods_line(screen)?;
    let before = line.split(" pods · ").next()?;
    before
        .split_whitespace()
        .last()?
        .replace(',', "")
        .parse()
        .ok()
}

fn open_messages(t: &Tmux) {
    t.keys(&[":"]);
    t.type_text("messages");
    t.keys(&["Enter"]);
}

/// The console (in tmux, 200×50) on `kubeconfig`, in namespace `ns` when given.
fn console(kubeconfig: &str, ns: Option<&str>, context: Option<&str>, config: &Path) -> Tmux {
    let context = context
        .map(|c| format!("MLOPS_CONTEXT={c} "))
        .unwrap_or_default();
    let ns = ns.map(|ns| format!(" -n {ns}")).unwrap_or_default();
    let command = format!(
        "KUBECONFIG={kubeconfig} {context}{}{ns}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mlops")
    );
    Tmux::start(&command, 200, 50, &config.display().to_string())
}

#[tokio::test]
async fn a_pod_created_changed_and_deleted_shows_from_the_watch_alone() {
    let env = common::env();
    let (ns, _) = common::new_namespace("mlops-watch").await;
    let _cleanup = Scratch(ns.clone());
    let (cluster, _) = common::installed().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), &ns);
    let config = hourly_config();
    let t = console(
        env.get("KUBECONFIG"),
        Some(&ns),
        Some(env.get("MLOPS_KUBE_CONTEXT")),
        config.path(),
    );
    t.wait_within("the Overview", 60, |s| s.contains("Overview"));
    open_messages(&t);
    t.wait_within("an empty pods watch", 60, |s| pods_shown(s) == Some(0));
    // Created.
    pods.create(&PostParams::default(), &pod(&ns, "watched"))
        .await
        .expect("create the pod");
    let s = t.wait_within("one pod", 30, |s| pods_shown(s) == Some(1));
    assert!(pods_line(&s).is_some_and(|l| l.contains("live")), "{s}");
    let before = pods_line(&s).map(str::to_string);
    // Changed: a label added; the row is replaced, not added.
    pods.patch(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {
            "mlops.dev/model": "watch-model-with-a-much-longer-name-than-before-it-was-labelled"}}})),
    )
    .await
    .expect("label the pod");
    // The label reaches the row: the cache figure's bytes grow, the count stays one.
    let s = t.wait_within("the labelled pod", 30, |s| {
        pods_shown(s) == Some(1) && pods_line(s).map(str::to_string) != before
    });
    assert_eq!(pods_shown(&s), Some(1), "{s}");
    // Deleted (at once: kwok would otherwise keep it terminating).
    pods.delete("watched", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete the pod");
    t.wait_within("no pod", 30, |s| pods_shown(s) == Some(0));
    t.keys(&["q"]);
}

#[tokio::test]
async fn the_api_server_restarted_under_an_open_console_leaves_no_ghost_or_double() {
    let env = common::env();
    let pid = std::process::id();
    let (ns, _) = common::new_namespace("mlops-watch-restart").await;
    let _cleanup = Scratch(ns.clone());
    let (cluster, _) = common::installed().await;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), &ns);
    for name in ["keep-1", "keep-2", "gone"] {
        pods.create(&PostParams::default(), &pod(&ns, name))
            .await
            .expect("create a pod");
    }
    let replica = Replica::start(env.get("MLOPS_K8S_STATE_DIR"), &format!("watch-{pid}"));
    let config = hourly_config();
    let t = console(
        &replica.kubeconfig,
        Some(&ns),
        Some(env.get("MLOPS_KUBE_CONTEXT")),
        config.path(),
    );
    t.wait_within("the Overview", 60, |s| s.contains("Overview"));
    open_messages(&t);
    t.wait_within("three pods", 60, |s| pods_shown(s) == Some(3));

    // The console's API server dies; through the cluster's own, one pod goes and two come.
    replica.script("kill");
    let s = t.wait_within("the pods watch reconnecting", 60, |s| {
        s.contains("reconnecting, stale")
            && s.lines()
                .any(|l| l.contains("3 pods · ") && l.contains("reconnecting since"))
    });
    // The bar names a watch and how stale it is; the pods stay shown meanwhile (stale).
    assert!(s.contains("⟳ "), "{s}");
    pods.delete("gone", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete a pod");
    for name in ["new-1", "new-2"] {
        pods.create(&PostParams::default(), &pod(&ns, name))
            .await
            .expect("create a pod");
    }
    replica.script("restart");

    // The watches resume: the status bar no longer says reconnecting, and the console holds
    // exactly what the API server lists.
    let s = t.wait_within("four pods, live", 90, |s| {
        pods_shown(s) == Some(4) && !s.contains("reconnecting")
    });
    let listed = pods
        .list(&ListParams::default())
        .await
        .expect("list the pods");
    assert_eq!(
        pods_shown(&s),
        Some(listed.items.len()),
        "the console holds what the API server lists:\n{s}"
    );
    // And it stays so (no late ghost).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pods_shown(&t.screen()), Some(4), "{}", t.screen());
    t.keys(&["q"]);
}

#[tokio::test]
async fn a_user_who_may_not_list_pods_everywhere_sees_their_namespaces() {
    let (ns, _) = common::new_namespace("mlops-watch-rbac").await;
    let _cleanup = Scratch(ns.clone());
    let (cluster, _) = common::installed().await;
    let client = cluster.client();
    let name = format!("watcher-{}", std::process::id());
    // May read pods, events, deployments and rollouts in `ns` only.
    let role: k8s_openapi::api::rbac::v1::Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "watch-reader", "namespace": ns},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["mlops.dev"], "resources": ["modelrollouts", "rollouttriggers"],
             "verbs": ["get", "list", "watch"]},
        ],
    }))
    .expect("a Role");
    Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("create the role");
    let binding: k8s_openapi::api::rbac::v1::RoleBinding =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "watch-reader", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "watch-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}],
        }))
        .expect("a RoleBinding");
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("bind the role");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.create(&PostParams::default(), &pod(&ns, "mine"))
        .await
        .expect("create a pod");
    // The user's kubeconfig, its context in their namespace (no `-n`: the console asks for
    // every namespace first).
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = common::users::kubeconfig(dir.path(), &name, &[]);
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let text = text.replace(
        &format!("    user: {name}\n"),
        &format!("    user: {name}\n    namespace: {ns}\n"),
    );
    std::fs::write(&kubeconfig, text).expect("kubeconfig");
    let config = hourly_config();
    let t = console(&kubeconfig.display().to_string(), None, None, config.path());
    t.wait_within("the Overview", 60, |s| s.contains("Overview"));
    open_messages(&t);
    let s = t.wait_within("their namespace's pod", 60, |s| pods_shown(s) == Some(1));
    let line = pods_line(&s).unwrap_or_default();
    assert!(
        line.contains(&format!("namespace {ns} only"))
            && line.contains("listing in every namespace is forbidden"),
        "the health line says it fell back:\n{s}"
    );
    // Nodes are cluster-wide: refused, and said so.
    assert!(
        s.lines()
            .any(|l| l.contains(" nodes · ") && l.contains("forbidden")),
        "{s}"
    );
    t.keys(&["q"]);
}
