//! Kubernetes objects mapped to the core's types. Bad labels are ignored, never fatal.

use std::collections::BTreeMap;

use chrono::Utc;
use k8s_openapi::{
    api::{
        apps::v1::Deployment as K8sDeployment,
        core::v1::{Event as K8sEvent, Node as K8sNode, Pod as K8sPod},
    },
    apimachinery::pkg::api::resource::Quantity,
};
use mlops_core::model::{ClusterEvent, Deployment, EventKind, Node, Pod, PodPhase, Track};

use super::names::{
    GPU_PRODUCT_LABEL, GPU_RESOURCE, MODEL_LABEL, REGION_LABEL, TRACK_LABEL, VERSION_LABEL,
    ZONE_LABEL,
};

fn label<'a>(labels: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    labels.and_then(|l| l.get(key)).map(String::as_str)
}

fn gpus(q: Option<&Quantity>) -> u32 {
    q.and_then(|q| q.0.parse::<u32>().ok()).unwrap_or(0)
}

pub(super) fn map_node(n: &K8sNode, cluster: &str) -> Node {
    let labels = n.metadata.labels.as_ref();
    let status = n.status.as_ref();
    let capacity = gpus(
        status
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(GPU_RESOURCE)),
    );
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    Node {
        name: n.metadata.name.clone().unwrap_or_default(),
        cluster: cluster.into(),
        region: label(labels, REGION_LABEL).unwrap_or("").into(),
        zone: label(labels, ZONE_LABEL).unwrap_or("").into(),
        gpu_capacity: capacity,
        gpu_product: label(labels, GPU_PRODUCT_LABEL).map(str::to_string),
        ready,
    }
}

fn track(labels: Option<&BTreeMap<String, String>>) -> Track {
    if label(labels, TRACK_LABEL) == Some("canary") {
        Track::Canary
    } else {
        Track::Stable
    }
}

pub(super) fn map_pod(p: &K8sPod, cluster: &str) -> Pod {
    let labels = p.metadata.labels.as_ref();
    let spec = p.spec.as_ref();
    let gpu_requests: u32 = spec.map_or(0, |s| {
        s.containers
            .iter()
            .map(|c| {
                gpus(
                    c.resources
                        .as_ref()
                        .and_then(|r| r.requests.as_ref())
                        .and_then(|r| r.get(GPU_RESOURCE)),
                )
            })
            .fold(0u32, u32::saturating_add)
    });
    let phase = match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    };
    Pod {
        name: p.metadata.name.clone().unwrap_or_default(),
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        cluster: cluster.into(),
        node: spec.and_then(|s| s.node_name.clone()),
        phase,
        model: label(labels, MODEL_LABEL).map(str::to_string),
        version: label(labels, VERSION_LABEL).and_then(|v| v.trim_start_matches('v').parse().ok()),
        track: track(labels),
        gpus: gpu_requests,
        image: spec
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
    }
}

pub fn map_deployment(d: &K8sDeployment, cluster: &str) -> Option<Deployment> {
    let labels = d.metadata.labels.as_ref();
    let model = label(labels, MODEL_LABEL)?.to_string();
    Some(Deployment {
        name: d.metadata.name.clone().unwrap_or_default(),
        namespace: d.metadata.namespace.clone().unwrap_or_default(),
        cluster: cluster.into(),
        model,
        version: label(labels, VERSION_LABEL)
            .and_then(|v| v.trim_start_matches('v').parse().ok())
            .unwrap_or(0),
        track: track(labels),
        replicas: d
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0),
        ready_replicas: d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0),
        image: d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        slo: d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(mlops_core::serving::slo::ANNOTATION))
            .cloned(),
    })
}

pub(super) fn map_event(e: &K8sEvent, cluster: &str) -> ClusterEvent {
    let time = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .map_or_else(Utc::now, super::time::from_k8s);
    ClusterEvent {
        time,
        cluster: cluster.into(),
        namespace: e.metadata.namespace.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object
                .kind
                .as_deref()
                .unwrap_or("object")
                .to_lowercase(),
            e.involved_object.name.as_deref().unwrap_or("")
        ),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        kind: if e.type_.as_deref() == Some("Warning") {
            EventKind::Warning
        } else {
            EventKind::Normal
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_pod_mapping_reads_the_labels_we_rely_on() {
        let node: K8sNode = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gpu-1", "labels": {REGION_LABEL: "me-central-1", ZONE_LABEL: "me-central-1a", GPU_PRODUCT_LABEL: "H100"}},
            "status": {"allocatable": {GPU_RESOURCE: "8"}, "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .expect("node json");
        let n = map_node(&node, "ctx");
        assert_eq!(
            (n.region.as_str(), n.gpu_capacity, n.ready),
            ("me-central-1", 8, true)
        );
        let pod: K8sPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ml", "labels": {"mlops.dev/model": "fraud", "mlops.dev/version": "3", "mlops.dev/track": "canary"}},
            "spec": {"nodeName": "gpu-1", "containers": [{"name": "s", "image": "img:3", "resources": {"requests": {GPU_RESOURCE: "1"}}}]},
            "status": {"phase": "Running"}
        }))
        .expect("pod json");
        let p = map_pod(&pod, "ctx");
        assert_eq!(
            (p.model.as_deref(), p.version, p.track, p.gpus, p.phase),
            (Some("fraud"), Some(3), Track::Canary, 1, PodPhase::Running)
        );
        let greedy: K8sPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "g"},
            "spec": {"containers": [
                {"name": "a", "resources": {"requests": {GPU_RESOURCE: "4294967295"}}},
                {"name": "b", "resources": {"requests": {GPU_RESOURCE: "4294967295"}}}]}
        }))
        .expect("pod json");
        assert_eq!(
            map_pod(&greedy, "ctx").gpus,
            u32::MAX,
            "a sum past u32 saturates"
        );
        let bad: K8sPod = serde_json::from_value(serde_json::json!({"metadata": {"name": "x", "labels": {"mlops.dev/version": "seven"}}})).expect("json");
        let p = map_pod(&bad, "ctx");
        assert_eq!(
            (p.version, p.phase, p.gpus),
            (None, PodPhase::Unknown, 0),
            "bad labels are ignored, not fatal"
        );
    }
}

/// Property tests: whatever values the API server (or whoever wrote the object) put where a node,
/// pod, Deployment or Event has values, the mapping gives a value, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::adapters::fuzz::edited;

    const NODE: &str = r#"{"metadata": {"name": "gpu-1", "labels": {"topology.kubernetes.io/region": "me-central-1", "topology.kubernetes.io/zone": "a", "nvidia.com/gpu.product": "H100"}},
        "status": {"allocatable": {"nvidia.com/gpu": "8"}, "conditions": [{"type": "Ready", "status": "True"}]}}"#;
    const NODE_LEAVES: [&str; 7] = [
        "/metadata/name",
        "/metadata/labels",
        "/metadata/labels/topology.kubernetes.io~1region",
        "/status/allocatable/nvidia.com~1gpu",
        "/status/conditions",
        "/status/conditions/0/status",
        "/status",
    ];
    const POD: &str = r#"{"metadata": {"name": "p", "namespace": "ml", "labels": {"mlops.dev/model": "fraud", "mlops.dev/version": "3", "mlops.dev/track": "canary"}},
        "spec": {"nodeName": "gpu-1", "containers": [
            {"name": "s", "image": "img:3", "resources": {"requests": {"nvidia.com/gpu": "1"}}},
            {"name": "t", "image": "img:3", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]},
        "status": {"phase": "Running"}}"#;
    const POD_LEAVES: [&str; 9] = [
        "/metadata/labels",
        "/metadata/labels/mlops.dev~1version",
        "/metadata/labels/mlops.dev~1track",
        "/spec/nodeName",
        "/spec/containers",
        "/spec/containers/0/resources/requests/nvidia.com~1gpu",
        "/spec/containers/1/resources/requests/nvidia.com~1gpu",
        "/spec/containers/0/image",
        "/status/phase",
    ];
    const DEPLOYMENT: &str = r#"{"metadata": {"name": "fraud-canary", "namespace": "ml", "labels": {"mlops.dev/model": "fraud", "mlops.dev/version": "v3", "mlops.dev/track": "canary"}},
        "spec": {"replicas": 2, "selector": {}, "template": {"spec": {"containers": [{"name": "s", "image": "img:3"}]}}},
        "status": {"readyReplicas": 2}}"#;
    const DEPLOYMENT_LEAVES: [&str; 7] = [
        "/metadata/labels",
        "/metadata/labels/mlops.dev~1model",
        "/metadata/labels/mlops.dev~1version",
        "/spec/replicas",
        "/spec/template/spec/containers",
        "/status/readyReplicas",
        "/status",
    ];
    const EVENT: &str = r#"{"metadata": {"name": "e", "namespace": "ml", "creationTimestamp": "2026-11-30T10:00:00Z"},
        "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Scheduled", "message": "ok", "type": "Normal",
        "lastTimestamp": "2026-11-30T10:00:00Z", "eventTime": "2026-11-30T10:00:00.000000Z"}"#;
    const EVENT_LEAVES: [&str; 7] = [
        "/lastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
        "/involvedObject/kind",
        "/involvedObject/name",
        "/type",
        "/message",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn any_node_json_is_mapped_without_a_panic(v in edited(NODE, &NODE_LEAVES)) {
            if let Ok(n) = serde_json::from_value::<K8sNode>(v) {
                let _ = map_node(&n, "ctx");
            }
        }

        #[test]
        fn any_pod_json_is_mapped_without_a_panic(v in edited(POD, &POD_LEAVES)) {
            if let Ok(p) = serde_json::from_value::<K8sPod>(v) {
                let _ = map_pod(&p, "ctx");
            }
        }

        #[test]
        fn any_deployment_json_is_mapped_without_a_panic(v in edited(DEPLOYMENT, &DEPLOYMENT_LEAVES)) {
            if let Ok(d) = serde_json::from_value::<K8sDeployment>(v) {
                let _ = map_deployment(&d, "ctx");
            }
        }

        #[test]
        fn any_event_json_is_mapped_without_a_panic(v in edited(EVENT, &EVENT_LEAVES)) {
            if let Ok(e) = serde_json::from_value::<K8sEvent>(v) {
                let _ = map_event(&e, "ctx");
            }
        }
    }
}
