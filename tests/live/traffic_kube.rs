//! Replica-ratio traffic on the real control plane: the canary Deployment is cut from the serving
//! one, pods are really scheduled onto GPU nodes and run through kwok, and abort and promote leave
//! the stable side as they should.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use mlops_console::adapters::kube::KubeCluster;
use mlops_core::{
    model::{Deployment, PodPhase, Track},
    rollout::{ModelRef, RolloutSpec},
};

async fn cluster() -> KubeCluster {
    let env = common::env();
    KubeCluster::connect_file(
        Path::new(env.get("KUBECONFIG")),
        Some(env.get("MLOPS_KUBE_CONTEXT")),
        Some("ml-serving"),
    )
    .await
    .expect("connect")
}

fn find<'a>(ds: &'a [Deployment], name: &str) -> Option<&'a Deployment> {
    ds.iter().find(|d| d.name == name)
}

/// Wait until the stable and canary Deployments have these many ready replicas.
async fn wait_ready(c: &KubeCluster, stable: u32, canary: u32) -> Vec<Deployment> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ds = c.deployments().await.expect("deployments");
        let s = find(&ds, "recsys-ranker").map(|d| (d.replicas, d.ready_replicas));
        let k =
            find(&ds, "recsys-ranker-canary").map_or((0, 0), |d| (d.replicas, d.ready_replicas));
        if s == Some((stable, stable)) && k == (canary, canary) {
            return ds;
        }
        assert!(
            Instant::now() < deadline,
            "stable {s:?} and canary {k:?} never reached {stable}/{canary}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn weights_abort_and_promote_move_real_pods() {
    let c = cluster().await;
    let before = c
        .serving("ml-serving", "recsys-ranker")
        .await
        .expect("seeded recsys-ranker");
    let spec = RolloutSpec {
        model: ModelRef {
            name: "recsys-ranker".into(),
            version: before.version + 1,
        },
        stable_version: before.version,
        deployment: "recsys-ranker".into(),
        image: "registry.mlops.invalid/models/recsys-ranker:canary-test".into(),
        replicas: 2,
        ..RolloutSpec::test()
    };

    c.split_replicas("ml-serving", &spec, 1, 1, &[])
        .await
        .expect("50%");
    c.split_replicas("ml-serving", &spec, 1, 1, &[])
        .await
        .expect("the same split again changes nothing");
    let ds = wait_ready(&c, 1, 1).await;
    let canary = find(&ds, "recsys-ranker-canary").expect("canary deployment");
    assert_eq!(
        (canary.track, canary.version),
        (Track::Canary, spec.model.version)
    );
    let pods = c.pods().await.expect("pods");
    let canary_pods: Vec<_> = pods
        .iter()
        .filter(|p| p.model.as_deref() == Some("recsys-ranker") && p.track == Track::Canary)
        .collect();
    assert_eq!(canary_pods.len(), 1);
    let p = canary_pods[0];
    assert_eq!(
        (p.phase, p.version, p.gpus, p.image.as_str()),
        (
            PodPhase::Running,
            Some(spec.model.version),
            1,
            spec.image.as_str()
        )
    );
    assert!(
        p.node.as_deref().is_some_and(|n| n.starts_with("gpu-")),
        "{p:?}"
    );

    c.split_replicas("ml-serving", &spec, spec.replicas, 0, &[])
        .await
        .expect("abort");
    wait_ready(&c, 2, 0).await;

    c.replace_stable("ml-serving", &spec, spec.model.version, &spec.image, &[])
        .await
        .expect("promote");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pods = c.pods().await.expect("pods");
        let stable: Vec<_> = pods
            .iter()
            .filter(|p| {
                p.model.as_deref() == Some("recsys-ranker")
                    && p.track == Track::Stable
                    && p.phase == PodPhase::Running
            })
            .collect();
        if stable.len() == 2
            && stable
                .iter()
                .all(|p| p.version == Some(spec.model.version) && p.image == spec.image)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stable never rolled to the new version: {stable:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Put the seeded version back for the other tests.
    let back = RolloutSpec {
        model: ModelRef {
            name: "recsys-ranker".into(),
            version: before.version,
        },
        image: before.image.clone(),
        ..spec
    };
    c.replace_stable("ml-serving", &back, back.model.version, &back.image, &[])
        .await
        .expect("restore");
    let restored = c
        .serving("ml-serving", "recsys-ranker")
        .await
        .expect("restored");
    assert_eq!(
        (restored.version, restored.image),
        (before.version, before.image)
    );
}

#[tokio::test]
async fn a_missing_serving_deployment_is_named() {
    let c = cluster().await;
    let spec = RolloutSpec {
        deployment: "no-such-deployment".into(),
        ..RolloutSpec::test()
    };
    let err = c
        .split_replicas("ml-serving", &spec, 9, 1, &[])
        .await
        .expect_err("missing");
    assert!(
        err.to_string().contains("ml-serving/no-such-deployment"),
        "{err}"
    );
}

#[tokio::test]
async fn a_serving_deployment_whose_selector_would_adopt_canary_pods_is_refused() {
    use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
    use kube::{
        Api,
        api::{DeleteParams, PostParams},
    };
    let c = cluster().await;
    let api: Api<K8sDeployment> = Api::namespaced(c.client(), "ml-serving");
    let name = format!("no-track-{}", std::process::id());
    let d: K8sDeployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"mlops.dev/model": "no-track", "mlops.dev/version": "1"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": {"containers": [{"name": "s", "image": "x:1"}]}}
        }
    }))
    .expect("deployment");
    api.create(&PostParams::default(), &d)
        .await
        .expect("create");
    let spec = RolloutSpec {
        deployment: name.clone(),
        ..RolloutSpec::test()
    };
    let result = c.split_replicas("ml-serving", &spec, 9, 1, &[]).await;
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("clean up");
    let err = result.expect_err("refused");
    assert!(
        err.to_string()
            .contains("selector must include mlops.dev/track"),
        "{err}"
    );
    assert!(
        api.get(&format!("{name}-canary")).await.is_err(),
        "no canary was created: never a partial traffic shift"
    );
}

#[tokio::test]
async fn gateway_api_route_weights_follow_the_canary_weight() {
    use k8s_openapi::api::core::v1::Service;
    use kube::{
        Api,
        api::{DeleteParams, DynamicObject, GroupVersionKind, PostParams},
        discovery::ApiResource,
    };
    let c = cluster().await;
    let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute");
    let routes: Api<DynamicObject> =
        Api::namespaced_with(c.client(), "ml-serving", &ApiResource::from_gvk(&gvk));
    let name = format!("fraud-route-{}", std::process::id());
    let route: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": {
            "parentRefs": [{"name": "ml-gateway"}],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v1/models/fraud-detector"}}],
                       "backendRefs": [{"name": "fraud-detector", "port": 80}]}]
        }
    }))
    .expect("route");
    routes
        .create(&PostParams::default(), &route)
        .await
        .expect("the test cluster serves the Gateway API CRDs");
    let spec = RolloutSpec {
        deployment: "fraud-detector".into(),
        http_route: Some(name.clone()),
        ..RolloutSpec::test()
    };
    let weights = |r: &DynamicObject| -> Vec<(String, u64)> {
        r.data
            .pointer("/spec/rules/0/backendRefs")
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or("").to_string(),
                    b["weight"].as_u64().unwrap_or(1),
                )
            })
            .collect()
    };

    c.set_route_weights("ml-serving", &spec, &name, 30)
        .await
        .expect("30%");
    let r = routes.get(&name).await.expect("route");
    assert_eq!(
        weights(&r),
        vec![
            ("fraud-detector".to_string(), 70),
            ("fraud-detector-canary".to_string(), 30)
        ]
    );
    assert!(
        r.data
            .pointer("/spec/rules/0/matches/0/path/value")
            .is_some(),
        "the rule's matches are kept"
    );
    let services: Api<Service> = Api::namespaced(c.client(), "ml-serving");
    let canary = services
        .get("fraud-detector-canary")
        .await
        .expect("canary Service");
    let selector = canary.spec.and_then(|s| s.selector).unwrap_or_default();
    assert_eq!(
        selector.get("mlops.dev/track").map(String::as_str),
        Some("canary")
    );

    c.set_route_weights("ml-serving", &spec, &name, 0)
        .await
        .expect("0%");
    let r = routes.get(&name).await.expect("route");
    assert_eq!(
        weights(&r),
        vec![
            ("fraud-detector".to_string(), 100),
            ("fraud-detector-canary".to_string(), 0)
        ]
    );

    let missing = RolloutSpec {
        http_route: Some("no-such-route".into()),
        ..spec.clone()
    };
    let e = c
        .set_route_weights("ml-serving", &missing, "no-such-route", 10)
        .await
        .expect_err("missing route");
    assert!(e.to_string().contains("ml-serving/no-such-route"), "{e}");

    routes
        .delete(&name, &DeleteParams::default())
        .await
        .expect("clean up route");
    let _ = services
        .delete("fraud-detector-canary", &DeleteParams::default())
        .await;
}
