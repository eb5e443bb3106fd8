//! The test environment's second cluster (`tests/env/up --clusters 2`): both API servers answer
//! through the one kubeconfig that holds both contexts, they are two clusters (an object made in
//! one is not in the other), and their kwok nodes are in different regions.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::{
    Api,
    api::{DeleteParams, ListParams, PostParams},
};

const REGION: &str = "topology.kubernetes.io/region";

/// The regions of the cluster's kwok nodes (label `type=kwok`), and how many nodes there are.
async fn regions(client: kube::Client) -> (BTreeSet<String>, usize) {
    let nodes: Api<Node> = Api::all(client);
    let list = nodes
        .list(&ListParams::default().labels("type=kwok"))
        .await
        .expect("list the kwok nodes");
    let regions = list
        .items
        .iter()
        .map(|n| {
            n.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(REGION))
                .cloned()
                .unwrap_or_else(|| panic!("node {:?} has no {REGION}", n.metadata.name))
        })
        .collect();
    (regions, list.items.len())
}

#[tokio::test]
async fn both_api_servers_answer_and_their_nodes_are_in_different_regions() {
    let clusters = common::clusters::two_clusters();
    assert_ne!(clusters.first_context, clusters.second_context);
    let first = common::clusters::client(&clusters.first_context).await;
    let second = common::clusters::client(&clusters.second_context).await;

    let v1 = first.apiserver_version().await.expect("first API server");
    let v2 = second.apiserver_version().await.expect("second API server");
    assert_eq!(
        v1.git_version, v2.git_version,
        "both from the same cached binaries"
    );

    let (r1, n1) = regions(first.clone()).await;
    let (r2, n2) = regions(second.clone()).await;
    assert!(n1 >= 6 && n2 >= 6, "seeded kwok nodes: {n1} and {n2}");
    assert!(
        r1.contains("me-central-1") && r1.contains("eu-west-1"),
        "{r1:?}"
    );
    assert!(!r2.is_empty(), "second cluster's regions");
    assert!(
        r1.is_disjoint(&r2),
        "the clusters share a region: {r1:?} and {r2:?}"
    );

    // Two clusters, not two views of one: a ConfigMap made in the second is absent from the first.
    let name = format!("env-clusters-{}", std::process::id());
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let in_second: Api<ConfigMap> = Api::namespaced(second, "default");
    let in_first: Api<ConfigMap> = Api::namespaced(first, "default");
    in_second
        .create(&PostParams::default(), &cm)
        .await
        .expect("create in the second cluster");
    let seen_first = in_first.get_opt(&name).await.expect("get in the first");
    let seen_second = in_second.get_opt(&name).await.expect("get in the second");
    let _ = in_second.delete(&name, &DeleteParams::default()).await;
    assert!(seen_second.is_some(), "made in the second cluster");
    assert!(
        seen_first.is_none(),
        "the first cluster sees the second's object"
    );
}

#[tokio::test]
async fn the_second_cluster_has_its_own_kubeconfig_and_the_same_seed() {
    let clusters = common::clusters::two_clusters();
    let own = kube::config::Kubeconfig::read_from(&clusters.second_kubeconfig)
        .expect("the second cluster's own kubeconfig");
    let names: BTreeSet<_> = own.contexts.iter().map(|c| c.name.clone()).collect();
    assert!(names.contains(&clusters.second_context), "{names:?}");
    assert!(!names.contains(&clusters.first_context), "{names:?}");
    let server = own
        .clusters
        .iter()
        .find_map(|c| c.cluster.as_ref()?.server.clone())
        .expect("a server");
    assert_eq!(server, clusters.second_server);

    // the seed's model servers run there too, on its own nodes
    let second = common::clusters::client(&clusters.second_context).await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(second, "ml-serving");
    let list = pods
        .list(&ListParams::default().labels("app.kubernetes.io/component=model-server"))
        .await
        .expect("model-server pods in the second cluster");
    assert!(
        list.items.len() >= 5,
        "{} model-server pods",
        list.items.len()
    );
    assert!(list.items.iter().all(|p| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.contains("me-central-1") && !n.contains("eu-west-1"))
    }));
}
