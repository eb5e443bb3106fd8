//! The lineage graph: dataset → run → model version → image → rollout → deployment → pods, walkable
//! backward (where did this come from) and forward (where does it run). Its vocabulary — each
//! node's key and id, its kind's names, what an edge means — is defined here once, for the
//! console and `mlops lineage` alike.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{
    model::{Deployment, Pod, RegisteredModel, Run, Track},
    rollout::{RolloutKey, RolloutRecord},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    Dataset,
    Run,
    ModelVersion,
    Image,
    Rollout,
    Deployment,
    Pod,
    /// A registry alias (`model@champion`), pointing at a version: the CLI's graph names it.
    Alias,
    /// An experiment, containing its runs: the CLI's graph names it.
    Experiment,
}

impl NodeKind {
    /// The kinds of a version's graph (`for_version`), upstream first.
    pub const ORDER: [NodeKind; 7] = [
        NodeKind::Dataset,
        NodeKind::Run,
        NodeKind::ModelVersion,
        NodeKind::Image,
        NodeKind::Rollout,
        NodeKind::Deployment,
        NodeKind::Pod,
    ];

    /// The kind in words, as node ids and the console name it ("model version").
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Dataset => "dataset",
            NodeKind::Run => "run",
            NodeKind::ModelVersion => "model version",
            NodeKind::Image => "image",
            NodeKind::Rollout => "rollout",
            NodeKind::Deployment => "deployment",
            NodeKind::Pod => "pod",
            NodeKind::Alias => "alias",
            NodeKind::Experiment => "experiment",
        }
    }

    /// The kind as `mlops lineage -o json` names it (`model_version`): documented, stable.
    pub fn json_name(self) -> &'static str {
        match self {
            NodeKind::ModelVersion => "model_version",
            other => other.as_str(),
        }
    }
}

/// What an edge from a `from` node to a `to` node means, as `mlops lineage -o json` names it.
pub fn relation(from: NodeKind, to: NodeKind) -> &'static str {
    match (from, to) {
        (NodeKind::Alias, _) => "points_at",
        (NodeKind::Experiment, _) => "contains",
        (NodeKind::Dataset, _) => "trained",
        (NodeKind::Run, _) => "logged",
        (NodeKind::ModelVersion, _) => "packaged_as",
        (NodeKind::Image, NodeKind::Rollout) => "rolled_out_by",
        (_, NodeKind::Pod) => "runs",
        _ => "deployed_as",
    }
}

/// What a node is and what identifies it. Its id (`model version:fraud/3`) and its kind are made
/// here alone, so callers match on the key instead of building ids or parsing them back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeKey {
    Dataset {
        name: String,
        digest: String,
    },
    Run {
        id: String,
    },
    ModelVersion {
        model: String,
        version: u32,
    },
    Image {
        reference: String,
    },
    Rollout(RolloutKey),
    Deployment {
        cluster: String,
        namespace: String,
        name: String,
    },
    Pod {
        cluster: String,
        namespace: String,
        name: String,
    },
    Alias {
        model: String,
        alias: String,
    },
    Experiment {
        id: String,
    },
}

impl NodeKey {
    pub fn kind(&self) -> NodeKind {
        match self {
            NodeKey::Dataset { .. } => NodeKind::Dataset,
            NodeKey::Run { .. } => NodeKind::Run,
            NodeKey::ModelVersion { .. } => NodeKind::ModelVersion,
            NodeKey::Image { .. } => NodeKind::Image,
            NodeKey::Rollout(_) => NodeKind::Rollout,
            NodeKey::Deployment { .. } => NodeKind::Deployment,
            NodeKey::Pod { .. } => NodeKind::Pod,
            NodeKey::Alias { .. } => NodeKind::Alias,
            NodeKey::Experiment { .. } => NodeKind::Experiment,
        }
    }

    /// The node's id: its kind in words, a colon, what identifies it
    /// (`deployment:uae-prod/ml-serving/fraud`). Stable: `mlops lineage -o json` prints it.
    pub fn id(&self) -> String {
        let what = match self {
            NodeKey::Dataset { name, digest } => format!("{name}@{digest}"),
            NodeKey::Run { id } | NodeKey::Experiment { id } => id.clone(),
            NodeKey::ModelVersion { model, version } => format!("{model}/{version}"),
            NodeKey::Image { reference } => reference.clone(),
            NodeKey::Rollout(k) => format!("{}/{}/{}", k.cluster, k.namespace, k.name),
            NodeKey::Deployment {
                cluster,
                namespace,
                name,
            }
            | NodeKey::Pod {
                cluster,
                namespace,
                name,
            } => format!("{cluster}/{namespace}/{name}"),
            NodeKey::Alias { model, alias } => format!("{model}@{alias}"),
        };
        format!("{}:{what}", self.kind().as_str())
    }

    pub fn version(model: &str, version: u32) -> Self {
        NodeKey::ModelVersion {
            model: model.to_string(),
            version,
        }
    }

    pub fn deployment(d: &Deployment) -> Self {
        NodeKey::Deployment {
            cluster: d.cluster.clone(),
            namespace: d.namespace.clone(),
            name: d.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageNode {
    /// `key.id()`, kept for lookups by id.
    pub id: String,
    pub key: NodeKey,
    pub kind: NodeKind,
    pub label: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageGraph {
    pub nodes: Vec<LineageNode>,
    /// (from, to) as indexes into `nodes`, pointing downstream.
    pub edges: Vec<(usize, usize)>,
}

impl LineageGraph {
    fn add(&mut self, key: NodeKey, label: String, detail: String) -> usize {
        if let Some(i) = self.find_key(&key) {
            return i;
        }
        self.nodes.push(LineageNode {
            id: key.id(),
            kind: key.kind(),
            key,
            label,
            detail,
        });
        self.nodes.len() - 1
    }

    fn link(&mut self, from: usize, to: usize) {
        if !self.edges.contains(&(from, to)) {
            self.edges.push((from, to));
        }
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    pub fn find_key(&self, key: &NodeKey) -> Option<usize> {
        self.nodes.iter().position(|n| n.key == *key)
    }

    /// Every node reachable downstream (`forward`) or upstream of `start`, excluding `start`.
    pub fn walk(&self, start: usize, forward: bool) -> Vec<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            for &(a, b) in &self.edges {
                let next = if forward && a == n {
                    b
                } else if !forward && b == n {
                    a
                } else {
                    continue;
                };
                if next != start && seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        seen.into_iter().collect()
    }

    pub fn of_kind(&self, kind: NodeKind) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].kind == kind)
            .collect()
    }
}

impl LineageGraph {
    /// Add `other`'s nodes and edges (a node with the same id is the same node).
    pub fn merge(&mut self, other: &LineageGraph) {
        *self = Self::merge_all([std::mem::take(self), other.clone()]);
    }

    /// The union of `parts`: each node once (by id), each edge once — in one pass, indexed, so
    /// thousands of versions' graphs merge in linear time.
    pub fn merge_all(parts: impl IntoIterator<Item = LineageGraph>) -> LineageGraph {
        let mut g = LineageGraph::default();
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut edges: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
        for part in parts {
            let index: Vec<usize> = part
                .nodes
                .into_iter()
                .map(|n| {
                    *at.entry(n.id.clone()).or_insert_with(|| {
                        g.nodes.push(n);
                        g.nodes.len() - 1
                    })
                })
                .collect();
            for (a, b) in part.edges {
                let e = (index[a], index[b]);
                if edges.insert(e) {
                    g.edges.push(e);
                }
            }
        }
        g
    }
}

/// One disagreement between the registry and a cluster, with the ids of the nodes it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// `alias_not_served`, `alias_moved_on`, `image_differs`, `failed_validation_served`.
    pub kind: &'static str,
    pub message: String,
    pub nodes: Vec<String>,
}

/// The tag a version's validation result is read from, and the value that passes.
pub const VALIDATION_TAG: (&str, &str) = ("validation_status", "passed");

/// The id of a model version's node.
pub fn version_id(model: &str, version: u32) -> String {
    NodeKey::version(model, version).id()
}

/// The id of a Deployment's node.
pub fn deployment_id(d: &Deployment) -> String {
    NodeKey::deployment(d).id()
}

/// Where the registry and the clusters disagree about `model`, from what the clusters serve
/// (`deployments` with replicas): the champion alias on a version no cluster serves while some
/// serve the model; a stable track serving a version the champion alias has moved on from; a
/// Deployment whose image is not the one recorded for its version (its `image` tag); a served
/// version whose validation tag says it did not pass.
pub fn mismatches(model: &RegisteredModel, deployments: &[Deployment]) -> Vec<Mismatch> {
    let served: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| d.model == model.name && d.replicas > 0)
        .collect();
    let mut out = Vec::new();
    let champion = model.aliases.get(crate::rollout::CHAMPION_ALIAS).copied();
    if let Some(c) = champion
        && !served.is_empty()
        && !served.iter().any(|d| d.version == c)
    {
        out.push(Mismatch {
            kind: "alias_not_served",
            message: format!(
                "{}@{} points at v{c}, which no cluster serves",
                model.name,
                crate::rollout::CHAMPION_ALIAS
            ),
            nodes: vec![version_id(&model.name, c)],
        });
    }
    for d in &served {
        let where_ = format!("{}/{}/{}", d.cluster, d.namespace, d.name);
        if let Some(c) = champion
            && d.track == Track::Stable
            && d.version != c
        {
            out.push(Mismatch {
                kind: "alias_moved_on",
                message: format!(
                    "{where_} serves {} v{} on the stable track; {}@{} has moved on to v{c}",
                    model.name,
                    d.version,
                    model.name,
                    crate::rollout::CHAMPION_ALIAS
                ),
                nodes: vec![deployment_id(d), version_id(&model.name, d.version)],
            });
        }
        let Some(v) = model.version(d.version) else {
            continue;
        };
        if let Some(recorded) = v.image()
            && !d.image.is_empty()
            && d.image != recorded
        {
            out.push(Mismatch {
                kind: "image_differs",
                message: format!(
                    "{where_} runs {}, not {recorded} as recorded for {} v{}",
                    d.image, model.name, d.version
                ),
                nodes: vec![deployment_id(d), version_id(&model.name, d.version)],
            });
        }
        let (key, passed) = VALIDATION_TAG;
        if let Some(result) = v.tags.get(key)
            && result != passed
        {
            out.push(Mismatch {
                kind: "failed_validation_served",
                message: format!(
                    "{where_} serves {} v{}, whose validation says {key}={result}",
                    model.name, d.version
                ),
                nodes: vec![deployment_id(d), version_id(&model.name, d.version)],
            });
        }
    }
    out
}

/// Everything the graph of one model version is built from.
pub struct LineageInputs<'a> {
    pub model: &'a RegisteredModel,
    pub version: u32,
    pub run: Option<&'a Run>,
    pub rollouts: &'a [RolloutRecord],
    pub deployments: &'a [Deployment],
    pub pods: &'a [Pod],
}

/// The lineage of one model version, upstream to its data and downstream to the pods serving it.
pub fn for_version(inputs: &LineageInputs<'_>) -> LineageGraph {
    let mut g = LineageGraph::default();
    let model = inputs.model;
    let Some(mv) = model.version(inputs.version) else {
        return g;
    };
    let aliases = model.aliases_of(mv.version).join(", ");
    let mv_node = g.add(
        NodeKey::version(&model.name, mv.version),
        format!("{} v{}", model.name, mv.version),
        if aliases.is_empty() {
            mv.status.clone()
        } else {
            format!("@{aliases}")
        },
    );
    if let Some(run) = inputs.run {
        let run_node = g.add(
            NodeKey::Run { id: run.id.clone() },
            run.name.clone(),
            format!("{} {}", &run.id[..run.id.len().min(8)], run.status.as_str()),
        );
        g.link(run_node, mv_node);
        for d in &run.datasets {
            let ds = g.add(
                NodeKey::Dataset {
                    name: d.name.clone(),
                    digest: d.digest.clone(),
                },
                d.name.clone(),
                format!("digest {} · {}", d.digest, d.region),
            );
            g.link(ds, run_node);
        }
    }
    let image = mv.image().map(str::to_string);
    let image_node = image.as_ref().map(|img| {
        let key = NodeKey::Image {
            reference: img.clone(),
        };
        g.add(key, img.clone(), String::new())
    });
    if let Some(i) = image_node {
        g.link(mv_node, i);
    }
    let upstream_of_serving = image_node.unwrap_or(mv_node);
    for r in inputs
        .rollouts
        .iter()
        .filter(|r| r.spec.model.name == model.name && r.spec.model.version == mv.version)
    {
        let rn = g.add(
            NodeKey::Rollout(r.key()),
            r.name.clone(),
            format!("{} · {}%", r.status.phase, r.status.weight),
        );
        g.link(upstream_of_serving, rn);
    }
    for d in inputs
        .deployments
        .iter()
        .filter(|d| d.model == model.name && d.version == mv.version && d.replicas > 0)
    {
        let dn = g.add(
            NodeKey::deployment(d),
            format!("{}/{}", d.cluster, d.name),
            format!(
                "{} {}/{} ready",
                d.track.as_str(),
                d.ready_replicas,
                d.replicas
            ),
        );
        let rollout = g
            .of_kind(NodeKind::Rollout)
            .into_iter()
            .find(|r| matches!(&g.nodes[*r].key, NodeKey::Rollout(k) if k.cluster == d.cluster));
        g.link(rollout.unwrap_or(upstream_of_serving), dn);
        for p in inputs.pods.iter().filter(|p| {
            p.cluster == d.cluster
                && p.model.as_deref() == Some(model.name.as_str())
                && p.version == Some(mv.version)
                && p.track == d.track
        }) {
            let pn = g.add(
                NodeKey::Pod {
                    cluster: p.cluster.clone(),
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                },
                p.name.clone(),
                format!("{:?} on {}", p.phase, p.node.as_deref().unwrap_or("-")),
            );
            g.link(dn, pn);
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;

    use super::*;
    use crate::model::{Dataset, ModelVersion, PodPhase, RunStatus, Track};

    #[test]
    fn node_ids_and_names_are_made_in_one_place() {
        let key = |k: NodeKey| (k.id(), k.kind().json_name());
        assert_eq!(
            key(NodeKey::version("fraud", 3)),
            ("model version:fraud/3".into(), "model_version")
        );
        assert_eq!(
            key(NodeKey::Rollout(RolloutKey {
                cluster: "uae".into(),
                namespace: "ml".into(),
                name: "fraud-v4".into(),
            })),
            ("rollout:uae/ml/fraud-v4".into(), "rollout")
        );
        assert_eq!(
            key(NodeKey::Dataset {
                name: "tx".into(),
                digest: "9f2c".into()
            }),
            ("dataset:tx@9f2c".into(), "dataset")
        );
        assert_eq!(
            key(NodeKey::Alias {
                model: "fraud".into(),
                alias: "champion".into()
            }),
            ("alias:fraud@champion".into(), "alias")
        );
        assert_eq!(
            key(NodeKey::Experiment { id: "7".into() }),
            ("experiment:7".into(), "experiment")
        );
        assert_eq!(
            relation(NodeKind::Alias, NodeKind::ModelVersion),
            "points_at"
        );
        assert_eq!(
            relation(NodeKind::Image, NodeKind::Rollout),
            "rolled_out_by"
        );
        assert_eq!(relation(NodeKind::Deployment, NodeKind::Pod), "runs");
        assert_eq!(
            relation(NodeKind::Rollout, NodeKind::Deployment),
            "deployed_as"
        );
    }

    #[test]
    fn walks_from_data_to_pods_and_back() {
        let run = Run {
            id: "abcdef0123456789".into(),
            experiment_id: "1".into(),
            name: "xgb-42".into(),
            status: RunStatus::Finished,
            user: "u".into(),
            start: Utc::now(),
            end: None,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            datasets: vec![Dataset {
                name: "tx-2026-10".into(),
                digest: "9f2c1a7e".into(),
                source: "s3://x".into(),
                region: "me-central-1".into(),
                schema: None,
                profile: None,
            }],
            tags: BTreeMap::new(),
        };
        let model = RegisteredModel {
            name: "fraud".into(),
            description: String::new(),
            aliases: BTreeMap::from([("champion".into(), 3)]),
            tags: BTreeMap::new(),
            versions: vec![ModelVersion {
                model: "fraud".into(),
                version: 3,
                run_id: Some(run.id.clone()),
                created: Utc::now(),
                status: "READY".into(),
                tags: BTreeMap::from([("image".into(), "reg/fraud:3".into())]),
            }],
        };
        let deployments = vec![Deployment {
            name: "fraud".into(),
            namespace: "ml".into(),
            cluster: "uae".into(),
            model: "fraud".into(),
            version: 3,
            track: Track::Stable,
            replicas: 2,
            ready_replicas: 2,
            image: "reg/fraud:3".into(),
            slo: None,
        }];
        let pods: Vec<Pod> = (0..2)
            .map(|i| Pod {
                name: format!("fraud-{i}"),
                namespace: "ml".into(),
                cluster: "uae".into(),
                node: Some("n1".into()),
                phase: PodPhase::Running,
                model: Some("fraud".into()),
                version: Some(3),
                track: Track::Stable,
                gpus: 1,
                image: "reg/fraud:3".into(),
            })
            .collect();
        let g = for_version(&LineageInputs {
            model: &model,
            version: 3,
            run: Some(&run),
            rollouts: &[],
            deployments: &deployments,
            pods: &pods,
        });
        let ds = g.find("dataset:tx-2026-10@9f2c1a7e").expect("dataset node");
        let forward: Vec<NodeKind> = g.walk(ds, true).iter().map(|i| g.nodes[*i].kind).collect();
        for kind in [
            NodeKind::Run,
            NodeKind::ModelVersion,
            NodeKind::Image,
            NodeKind::Deployment,
            NodeKind::Pod,
        ] {
            assert!(
                forward.contains(&kind),
                "{kind:?} downstream of the dataset"
            );
        }
        let pod = g.find("pod:uae/ml/fraud-1").expect("pod node");
        assert_eq!(
            g.find_key(&NodeKey::Pod {
                cluster: "uae".into(),
                namespace: "ml".into(),
                name: "fraud-1".into()
            }),
            Some(pod)
        );
        assert_eq!(
            g.find(&version_id("fraud", 3)),
            g.find_key(&NodeKey::version("fraud", 3))
        );
        assert_eq!(version_id("fraud", 3), "model version:fraud/3");
        let back = g.walk(pod, false);
        assert!(
            back.contains(&ds),
            "the pod traces back to its training data"
        );
        assert_eq!(g.of_kind(NodeKind::Pod).len(), 2);
        assert!(
            mismatches(&model, &deployments).is_empty(),
            "the registry and the cluster agree"
        );
        // The champion moves on to v4 (not served), v3's image and validation disagree.
        let mut moved = model.clone();
        moved.aliases.insert("champion".into(), 4);
        let mut v3 = moved.versions[0].clone();
        v3.tags.insert("image".into(), "reg/fraud:3-rebuilt".into());
        v3.tags.insert("validation_status".into(), "failed".into());
        moved.versions = vec![v3];
        let kinds: Vec<&str> = mismatches(&moved, &deployments)
            .iter()
            .map(|m| m.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "alias_not_served",
                "alias_moved_on",
                "image_differs",
                "failed_validation_served"
            ]
        );
        // Merging a graph into itself adds nothing.
        let mut twice = g.clone();
        twice.merge(&g);
        assert_eq!(twice, g);
    }
}
