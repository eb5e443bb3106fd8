//! Governance on the real API server with real RBAC: users by client certificate (signed by the
//! test cluster's CA, their group in O=), bound to the roles `mlops install` ships through the
//! groups its bindings name. What each may do is decided by the server — RBAC and the admission
//! policies `mlops install` applies — and the CLI quotes the server's refusal.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use kube::api::{Api, DeleteParams, PostParams};
use mlops_console::adapters::kube::{KubeCluster, crd::ModelRollout};
use mlops_core::rollout::{CommandRecord, Phase, RolloutStatus};

/// A kubeconfig for `name` in `group` (a client certificate from the cluster's CA). No controller
/// runs in these tests, so whoever sends a command writes its audit entry: people who may act
/// are also in the audit log's writers (`tests/live/audit_controller.rs` has the controller
/// write it, for people bound in one namespace only).
fn user(dir: &Path, name: &str, group: &str) -> PathBuf {
    let writes = group != "mlops-viewers";
    let groups: &[&str] = if writes {
        &[
            group,
            mlops_console::adapters::kube::rbac::AUDIT_WRITERS_GROUP,
        ]
    } else {
        &[group]
    };
    common::users::kubeconfig(dir, name, groups)
}

/// `mlops ARGS` as the user of `kubeconfig`: (exit code, stdout, stderr).
fn mlops_as(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    common::outcome(
        common::mlops_cmd(args)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("MLOPS_CONTEXT"),
    )
}

fn rollout(ns: &str, name: &str) -> ModelRollout {
    common::gated_rollout(ns, name)
}

async fn connect(kubeconfig: &Path) -> KubeCluster {
    KubeCluster::connect_file(kubeconfig, None, None)
        .await
        .expect("connect")
}

/// A new namespace `PREFIX-PID` (as the admin), the namespaces API and its ModelRollouts API.
async fn namespace(
    prefix: &str,
) -> (
    String,
    Api<k8s_openapi::api::core::v1::Namespace>,
    Api<ModelRollout>,
) {
    let (ns, namespaces) = common::new_namespace(prefix).await;
    let api = Api::namespaced(common::installed().await.0.client(), &ns);
    (ns, namespaces, api)
}

/// Put a rollout at its approval gate (as the admin, whom the policies do not check).
async fn at_gate(api: &Api<ModelRollout>, name: &str) {
    let mut mr = api.get(name).await.expect("get");
    mr.status = Some(RolloutStatus {
        phase: Phase::AwaitingApproval,
        current_step: 1,
        weight: 10,
        ..RolloutStatus::default()
    });
    api.replace_status(name, &PostParams::default(), &mr)
        .await
        .expect("status");
}

/// The rollout with an approval by `user` added to its status and `lastCommand` naming `verb`:
/// what a user could send with kubectl, without the console.
async fn approval_written_directly(
    api: &Api<ModelRollout>,
    name: &str,
    user: &str,
    verb: &str,
) -> ModelRollout {
    let mut mr = api.get(name).await.expect("get");
    if let Some(s) = mr.status.as_mut() {
        s.approvals.push(mlops_core::rollout::Approval {
            user: user.into(),
            time: chrono::Utc::now(),
            comment: "written directly".into(),
        });
        s.last_command = Some(CommandRecord {
            verb: verb.into(),
            user: user.into(),
            time: chrono::Utc::now(),
            ..CommandRecord::default()
        });
    }
    mr
}

#[tokio::test]
async fn each_role_may_do_what_the_server_allows_and_the_cli_quotes_its_refusals() {
    let env = common::env();
    let admin_kubeconfig = PathBuf::from(env.get("KUBECONFIG"));
    // Install twice: idempotent.
    for _ in 0..2 {
        let (code, out, err) = mlops_as(&admin_kubeconfig, &["install", "-o", "json"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let vic = user(dir.path(), "vic", "mlops-viewers");
    let olga = user(dir.path(), "olga", "mlops-operators");
    let rita = user(dir.path(), "rita", "mlops-release-managers");
    let remy = user(dir.path(), "remy", "mlops-release-managers");

    let (ns, namespaces, api) = namespace("mlops-rbac").await;

    // Rita starts two rollouts; the author annotation names her (the server checks it).
    let as_rita = connect(&rita).await;
    for name in ["gate", "live", "done"] {
        as_rita
            .create_rollout(&ns, name, rollout(&ns, name).spec.rollout)
            .await
            .unwrap_or_else(|e| panic!("rita creates {name}: {e}"));
    }
    let gate = api.get("gate").await.expect("gate");
    assert_eq!(
        gate.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("mlops.dev/author"))
            .map(String::as_str),
        Some("rita")
    );
    // Nobody writes someone else's name as the author.
    let mut forged = rollout(&ns, "forged");
    forged.metadata.annotations =
        Some([("mlops.dev/author".to_string(), "remy".to_string())].into());
    let e = Api::<ModelRollout>::namespaced(as_rita.client(), &ns)
        .create(&PostParams::default(), &forged)
        .await
        .expect_err("a forged author is refused");
    assert!(
        e.to_string()
            .contains("must name who creates the rollout (rita)"),
        "{e}"
    );
    // The admin creates one with no author.
    api.create(&PostParams::default(), &rollout(&ns, "orphan"))
        .await
        .expect("orphan");
    at_gate(&api, "gate").await;
    at_gate(&api, "orphan").await;
    let mut live = api.get("live").await.expect("live");
    live.status = Some(RolloutStatus {
        phase: Phase::Progressing,
        weight: 10,
        ..RolloutStatus::default()
    });
    api.replace_status("live", &PostParams::default(), &live)
        .await
        .expect("live status");

    let approve = [
        "rollout",
        "approve",
        "gate",
        "-n",
        &ns,
        "--comment",
        "eval ok CHG-7",
    ];
    // A viewer: RBAC refuses the status write; the CLI quotes it.
    let (code, _, err) = mlops_as(&vic, &approve);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the cluster refused it")
            && err.contains("User \"vic\" cannot update resource \"modelrollouts/status\""),
        "{err}"
    );
    // An operator: may abort, not approve — the admission policy says which verb is missing.
    let (code, _, err) = mlops_as(&olga, &approve);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("you (olga) cannot approve modelrollouts in {ns}")),
        "{err}"
    );
    let (code, out, err) = mlops_as(
        &olga,
        &[
            "rollout",
            "abort",
            "live",
            "-n",
            &ns,
            "--reason",
            "INC-42 error budget",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        api.get("live").await.expect("live").status.map(|s| s.phase),
        Some(Phase::RollingBack)
    );
    // … and roll back a promoted one, but a viewer may not.
    let mut done = api.get("done").await.expect("done");
    done.status = Some(RolloutStatus {
        phase: Phase::Promoted,
        current_step: 3,
        weight: 100,
        ..RolloutStatus::default()
    });
    api.replace_status("done", &PostParams::default(), &done)
        .await
        .expect("done status");
    let rollback = [
        "rollout",
        "rollback",
        "done",
        "-n",
        &ns,
        "--reason",
        "INC-43 regression",
    ];
    let (code, _, err) = mlops_as(&vic, &rollback);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the cluster refused it"), "{err}");
    let (code, out, err) = mlops_as(&olga, &rollback);
    assert_eq!(code, 0, "{out}{err}");
    let done = api
        .get("done")
        .await
        .expect("done")
        .status
        .unwrap_or_default();
    assert_eq!(
        (done.phase, done.undo_promotion),
        (Phase::RollingBack, true)
    );
    // The console asks the server the same question before offering a verb.
    let as_olga = connect(&olga).await;
    assert_eq!(as_olga.may("abort", &ns).await.expect("ssar"), Ok(()));
    assert_eq!(
        as_olga.may("approve", &ns).await.expect("ssar"),
        Err(format!("you (olga) cannot approve modelrollouts in {ns}"))
    );
    // The console's snapshot carries the same answers, so the TUI shows approve disabled.
    let snapshot = mlops_core::ports::ClusterPort::snapshot(&as_olga)
        .await
        .expect("snapshot as olga");
    let denied = snapshot.denied.get(&ns).cloned().unwrap_or_default();
    assert_eq!(
        denied.get("approve").map(String::as_str),
        Some(format!("you (olga) cannot approve modelrollouts in {ns}").as_str()),
        "{denied:?}"
    );
    assert!(!denied.contains_key("abort"), "{denied:?}");
    // An operator cannot pass an approval off as another command.
    let sneaky = approval_written_directly(&api, "gate", "olga", "abort").await;
    let e = Api::<ModelRollout>::namespaced(as_olga.client(), &ns)
        .replace_status("gate", &PostParams::default(), &sneaky)
        .await
        .expect_err("an approval written as an abort");
    assert!(
        e.to_string().contains("the change is approve, not abort"),
        "{e}"
    );

    // The author cannot approve their own rollout: refused by the CLI, and by the server when
    // the write is sent directly.
    let (code, _, err) = mlops_as(&rita, &approve);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("two-person rule: rita started it"), "{err}");
    let own = approval_written_directly(&api, "gate", "rita", "approve").await;
    let e = Api::<ModelRollout>::namespaced(as_rita.client(), &ns)
        .replace_status("gate", &PostParams::default(), &own)
        .await
        .expect_err("the author approving directly");
    assert!(
        e.to_string()
            .contains("two-person rule: rita started this rollout"),
        "{e}"
    );

    // A second release manager approves.
    let (code, out, err) = mlops_as(&remy, &approve);
    assert_eq!(code, 0, "{out}{err}");
    let approvals: Vec<String> = api
        .get("gate")
        .await
        .expect("gate")
        .status
        .map(|s| s.approvals.into_iter().map(|a| a.user).collect())
        .unwrap_or_default();
    assert_eq!(approvals, vec!["remy".to_string()]);
    // A rollout whose author is unknown cannot be approved under the rule.
    let (code, _, err) = mlops_as(
        &remy,
        &["rollout", "approve", "orphan", "-n", &ns, "--comment", "x"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("who started the rollout cannot be determined"),
        "{err}"
    );

    // Only what the server took is in the audit log: olga's abort, not her refused approval.
    let (code, out, err) = mlops_as(
        &admin_kubeconfig,
        &["audit", "list", "--target", &ns, "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json");
    let actions: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or("").to_string(),
                e["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("olga".into(), "rollout.abort".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("remy".into(), "rollout.approve".into())),
        "{actions:?}"
    );
    for refused in [
        ("olga", "rollout.approve"),
        ("vic", "rollout.approve"),
        ("rita", "rollout.approve"),
    ] {
        assert!(
            !actions.contains(&(refused.0.into(), refused.1.into())),
            "a refused command is not audited as done: {actions:?}"
        );
    }
    // A viewer reads the log but cannot write to it.
    let (code, _, err) = mlops_as(&vic, &["audit", "list", "--limit", "1"]);
    assert_eq!(code, 0, "{err}");

    // A rollout started under a policy that requires change tickets: the server refuses an
    // approval whose comment does not start with one, however it is sent.
    let policy = mlops_core::policy::Recorded::test(
        mlops_core::policy::Policy {
            change_ticket: true,
            ..mlops_core::policy::Policy::default()
        },
        "CHG-9",
        Vec::new(),
    );
    as_rita
        .create_pinned_rollout(
            &ns,
            "ticketed",
            rollout(&ns, "ticketed").spec.rollout,
            &mlops_console::adapters::kube::StartNote {
                change: "CHG-9".into(),
                policy: Some(policy),
                ..Default::default()
            },
        )
        .await
        .expect("rita starts a rollout under the policy");
    at_gate(&api, "ticketed").await;
    let as_remy = connect(&remy).await;
    let e = as_remy
        .approve_as(&ns, "ticketed", "remy", "looks fine")
        .await
        .expect_err("an approval without a ticket, sent past the CLI");
    assert!(
        e.to_string()
            .contains("requires a change ticket with every approval"),
        "{e}"
    );
    let (code, _, err) = mlops_as(
        &remy,
        &[
            "rollout",
            "approve",
            "ticketed",
            "-n",
            &ns,
            "--comment",
            "looks fine",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("started under requires a change ticket"),
        "{err}"
    );
    let (code, out, err) = mlops_as(
        &remy,
        &[
            "rollout",
            "approve",
            "ticketed",
            "-n",
            &ns,
            "--comment",
            "looks fine",
            "--change",
            "CHG-9",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let comment = api
        .get("ticketed")
        .await
        .expect("ticketed")
        .status
        .and_then(|s| s.approvals.last().map(|a| a.comment.clone()));
    assert_eq!(comment.as_deref(), Some("CHG-9: looks fine"));

    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}

/// Identity from the enterprise: a kubeconfig whose user is an `exec` credential plugin (as
/// kubelogin hands over an OIDC token) — here a script printing a bearer token the test cluster
/// knows as `dana` in the operators' group. The console is dana, may what operators may, and
/// never prints the token.
#[tokio::test]
async fn an_exec_credential_plugin_identifies_the_user_and_its_token_is_never_shown() {
    let env = common::env();
    let admin_kubeconfig = PathBuf::from(env.get("KUBECONFIG"));
    let (code, out, err) = mlops_as(&admin_kubeconfig, &["install", "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let token_file = format!("{}/pki/dana-token", env.get("MLOPS_K8S_STATE_DIR"));
    let token = std::fs::read_to_string(&token_file)
        .expect("dana's token (tests/env/k8s/start)")
        .trim()
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}\\n' \"$(cat {token_file})\"\n"
        ),
    )
    .expect("plugin");
    let _ = Command::new("chmod")
        .args(["+x", plugin.to_str().expect("utf-8")])
        .status();
    let kubeconfig = dir.path().join("dana.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: dana\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\ncontexts:\n- name: dana\n  context:\n    cluster: test\n    user: dana\ncurrent-context: dana\n",
            env.get("MLOPS_KUBE_SERVER"),
            env.get("MLOPS_KUBE_CA_FILE"),
            plugin.display()
        ),
    )
    .expect("kubeconfig");

    let dana = connect(&kubeconfig).await;
    assert_eq!(dana.identity().await.expect("identity"), "dana");
    let (ns, namespaces, api) = namespace("mlops-exec").await;
    assert_eq!(dana.may("pause", &ns).await.expect("ssar"), Ok(()));
    let mut mr = rollout(&ns, "gate");
    mr.metadata.annotations =
        Some([("mlops.dev/author".to_string(), "someone".to_string())].into());
    api.create(&PostParams::default(), &mr)
        .await
        .expect("rollout");
    at_gate(&api, "gate").await;
    let (code, out, err) = mlops_as(
        &kubeconfig,
        &[
            "rollout",
            "approve",
            "gate",
            "-n",
            &ns,
            "--comment",
            "not mine to approve",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!("you (dana) cannot approve modelrollouts in {ns}")),
        "{err}"
    );
    assert!(
        !out.contains(&token) && !err.contains(&token),
        "the token is never printed:\n{out}\n{err}"
    );
    let (code, out, err) = mlops_as(
        &kubeconfig,
        &["audit", "list", "--actor", "dana", "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(&token) && !err.contains(&token));
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
