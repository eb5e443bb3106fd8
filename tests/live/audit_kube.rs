//! The audit log on the real control plane: every operator command from the CLI is recorded, as
//! the user the cluster says made it, in a SHA-256 chain kept as create-only ConfigMaps in
//! `mlops-system`; two writers racing for the next number both land, in one chain; an edited
//! entry breaks the chain where it was edited.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use common::{installed, mlops_cmd, mlops_ok};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{DeleteParams, PostParams},
};
use mlops_console::adapters::kube::KubeAudit;
use mlops_core::audit::{AuditLog, AuditRecord};

fn record(actor: &str, action: &str) -> AuditRecord {
    AuditRecord {
        time: chrono::Utc::now(),
        actor: actor.into(),
        action: action.into(),
        target: "test".into(),
        comment: String::new(),
        details: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_audited_in_one_verified_chain_even_with_racing_writers() {
    let (cluster, api) = installed().await;
    let log = cluster.audit_log().clone();
    let before = log.entries().await.expect("entries").len();
    let name = "churn-model-v30";
    let _ = api.delete(name, &DeleteParams::default()).await;

    // start and abort from the CLI (no controller needed: commands are recorded); a pause the
    // core refuses (the rollout is still Pending) changes nothing, so it is not in the log.
    for args in [
        vec![
            "rollout",
            "start",
            "--model",
            "churn-model",
            "--version",
            "30",
            "--image",
            "registry.mlops.invalid/models/churn-model:v30",
            "--template",
            "quick",
            "-n",
            "ml-serving",
        ],
        vec![
            "rollout",
            "abort",
            name,
            "-n",
            "ml-serving",
            "--reason",
            "audit test",
        ],
    ] {
        mlops_ok(&args);
        if args[1] == "start" {
            let out = mlops_cmd(&["rollout", "pause", name, "-n", "ml-serving"])
                .output()
                .expect("mlops");
            assert!(
                !out.status.success(),
                "pause of a Pending rollout is refused"
            );
        }
    }
    let all = log.entries().await.expect("entries");
    AuditLog::verify(&all).expect("the chain verifies");
    let ours: Vec<_> = all[before..]
        .iter()
        .filter(|e| e.target == format!("ml-serving/{name}"))
        .collect();
    let actions: Vec<&str> = ours.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["rollout.start", "rollout.abort"], "{ours:#?}");
    let me = cluster.identity().await.expect("identity");
    assert!(ours.iter().all(|e| e.actor == me), "{ours:#?}");
    assert_eq!(ours[1].comment, "audit test");
    assert!(
        ours[1].details.starts_with("Pending → "),
        "{:?}",
        ours[1].details
    );

    // Two writers with their own idea of the head race for the next numbers: all land, chained.
    let other = KubeAudit::new(cluster.client());
    let (a, b) = tokio::join!(
        async {
            for i in 0..5 {
                log.append(record("writer-a", &format!("a{i}")))
                    .await
                    .expect("a");
            }
        },
        async {
            for i in 0..5 {
                other
                    .append(record("writer-b", &format!("b{i}")))
                    .await
                    .expect("b");
            }
        }
    );
    let ((), ()) = (a, b);
    let all = log.entries().await.expect("entries");
    AuditLog::verify(&all).expect("one chain after the race");
    for w in ["writer-a", "writer-b"] {
        assert_eq!(all.iter().filter(|e| e.actor == w).count() % 5, 0, "{w}");
    }

    // Someone with rights edits an entry in place: the chain check names it.
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client(), "mlops-system");
    let victim = all[all.len() - 3].clone();
    let cm_name = format!("mlops-audit-{:010}", victim.seq);
    let original = cms.get(&cm_name).await.expect("entry");
    let mut forged = original.clone();
    let mut entry = victim.clone();
    entry.actor = "mallory".into();
    forged.data = Some(std::collections::BTreeMap::from([(
        "entry.json".to_string(),
        serde_json::to_string(&entry).expect("json"),
    )]));
    cms.replace(&cm_name, &PostParams::default(), &forged)
        .await
        .expect("forge");
    let err = AuditLog::verify(&log.entries().await.expect("entries")).expect_err("forged");
    assert!(
        err.to_string().contains(&format!("#{}", victim.seq)),
        "{err}"
    );
    let mut back = cms.get(&cm_name).await.expect("entry");
    back.data = original.data.clone();
    cms.replace(&cm_name, &PostParams::default(), &back)
        .await
        .expect("restore");
    AuditLog::verify(&log.entries().await.expect("entries")).expect("restored");
    let _ = api.delete(name, &DeleteParams::default()).await;
}
