//! `mlops lineage MODEL@VERSION | MODEL@ALIAS | dataset:DIGEST | deployment:NS/NAME`: the lineage
//! graph joined from the registry and the cluster — datasets → runs (and their experiments) →
//! model versions (and their aliases) → images → rollouts → Deployments → pods — and where the
//! two disagree. `-o tree` (the default) prints it as a tree from the start node; `-o json` as
//! `{"nodes":[{"id","kind","name","attributes"}],"edges":[{"from","to","relation"}],
//! "mismatches":[{"kind","message","nodes"}]}`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    process::ExitCode,
};

use anyhow::Result;
use mlops_core::{
    CoreError,
    lineage::{self, LineageGraph, LineageInputs, Mismatch, NodeKey, NodeKind},
    model::{Deployment, Pod, RegisteredModel},
    ports::RegistryPort,
    rollout::RolloutRecord,
};
use serde::Serialize;

use super::output::{self, Output, UsageError, safe};
use crate::{
    adapters::mlflow::{MlflowRegistry, RunQuery},
    wiring::Options,
};

#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    /// Where to start: MODEL@VERSION (fraud-detector@3), MODEL@ALIAS (fraud-detector@champion),
    /// dataset:DIGEST, or deployment:NAMESPACE/NAME.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Version(String, u32),
    Alias(String, String),
    Dataset(String),
    Deployment(String, String),
}

fn parse(target: &str) -> Result<Target, UsageError> {
    let t = target.trim();
    let bad = || {
        UsageError(format!(
            "{:?}: expected MODEL@VERSION, MODEL@ALIAS, dataset:DIGEST or deployment:NAMESPACE/NAME",
            mlops_core::text::truncate(t, 80)
        ))
    };
    if let Some(digest) = t.strip_prefix("dataset:") {
        let ok = !digest.is_empty() && digest.chars().all(|c| c.is_ascii_alphanumeric());
        return ok
            .then(|| Target::Dataset(digest.to_string()))
            .ok_or_else(bad);
    }
    if let Some(rest) = t.strip_prefix("deployment:") {
        let (ns, name) = rest.split_once('/').ok_or_else(bad)?;
        return (!ns.is_empty() && !name.is_empty())
            .then(|| Target::Deployment(ns.to_string(), name.to_string()))
            .ok_or_else(bad);
    }
    let (model, at) = t.rsplit_once('@').ok_or_else(bad)?;
    if model.is_empty() || at.is_empty() {
        return Err(bad());
    }
    Ok(match at.trim_start_matches('v').parse::<u32>() {
        Ok(v) => Target::Version(model.to_string(), v),
        Err(_) => Target::Alias(model.to_string(), at.to_string()),
    })
}

#[derive(Debug, Serialize)]
struct Node {
    id: String,
    kind: &'static str,
    name: String,
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Edge {
    from: String,
    to: String,
    relation: &'static str,
}

impl Node {
    /// The node `key` names, as the JSON prints it; `detail` is its one attribute, when given.
    fn of(key: &NodeKey, name: String, detail: Option<&str>) -> Self {
        Self {
            id: key.id(),
            kind: key.kind().json_name(),
            name,
            attributes: detail
                .map(|d| BTreeMap::from([("detail".to_string(), d.to_string())]))
                .unwrap_or_default(),
        }
    }
}

impl Edge {
    fn of(from: &NodeKey, to: &NodeKey) -> Self {
        Self {
            from: from.id(),
            to: to.id(),
            relation: lineage::relation(from.kind(), to.kind()),
        }
    }
}

#[derive(Debug, Serialize)]
struct Graph {
    start: String,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    mismatches: Vec<Mismatch>,
    /// The clusters named that did not answer (`context NAME: why`): what they serve and roll
    /// out is missing from the graph, and a mismatch may come of it.
    unread_clusters: Vec<String>,
}

/// What the cluster serves and rolls out, over every namespace.
struct Cluster {
    rollouts: Vec<RolloutRecord>,
    deployments: Vec<Deployment>,
    pods: Vec<Pod>,
}

pub fn run(args: &LineageArgs, options: &Options, output: &str) -> Result<ExitCode> {
    let out = Output::pick(
        output,
        &[Output::Tree, Output::Table, Output::Json],
        "lineage",
    )?;
    let target = parse(&args.target)?;
    let runtime = crate::wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let registry = options.require_registry()?;
        // Every cluster named (`--context a,b`): a version served in two shows both. One that
        // does not answer fails only itself, as in the list verbs: the graph says it is missing.
        let answers = super::each_cluster(options, true, async |c| {
            let (rollouts, deployments, pods) =
                futures::try_join!(c.rollouts(), c.deployments(), c.pods())?;
            Ok(vec![Cluster {
                rollouts,
                deployments,
                pods,
            }])
        })
        .await?;
        if !answers.answered() {
            return Ok(output::Partial {
                text: None,
                failed: answers.failed,
            });
        }
        let mut cluster = Cluster {
            rollouts: Vec::new(),
            deployments: Vec::new(),
            pods: Vec::new(),
        };
        for c in answers.items {
            cluster.rollouts.extend(c.rollouts);
            cluster.deployments.extend(c.deployments);
            cluster.pods.extend(c.pods);
        }
        let mut g = build(&registry, &cluster, &target).await?;
        g.unread_clusters = answers
            .failed
            .iter()
            .map(|e| output::error_text(e))
            .collect();
        let shown = if out == Output::Json {
            out
        } else {
            Output::Tree
        };
        Ok(output::Partial {
            text: Some(output::render(shown, &g, tree)),
            failed: answers.failed,
        })
    });
    Ok(output::finish_partial(result))
}

/// The versions a walk covers: the models (each once) and, by index into them, the versions.
struct Versions {
    models: Vec<RegisteredModel>,
    versions: Vec<(usize, u32)>,
}

impl Versions {
    fn one(model: RegisteredModel, version: u32) -> Self {
        Self {
            models: vec![model],
            versions: vec![(0, version)],
        }
    }
}

/// The most runs a dataset's digest is looked up for, and how many `runs/get` calls run at once.
const MOST_DATASET_RUNS: usize = 10_000;
const RUN_FETCHES: usize = 8;

/// How long the whole walk may take, every call to the registry included.
const WALK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// The versions the walk covers and the id of the node it starts from.
async fn versions_of(
    registry: &MlflowRegistry,
    cluster: &Cluster,
    target: &Target,
) -> Result<(Versions, String), CoreError> {
    match target {
        Target::Version(m, v) => {
            let model = registry.model(m).await?;
            model.require_version(*v)?;
            Ok((Versions::one(model, *v), lineage::version_id(m, *v)))
        }
        Target::Alias(m, a) => {
            let model = registry.model(m).await?;
            let v = model
                .aliases
                .get(a)
                .copied()
                .ok_or_else(|| CoreError::NotFound {
                    kind: "alias",
                    name: format!(
                        "{m}@{a} (aliases: {})",
                        model.aliases.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                })?;
            let start = NodeKey::Alias {
                model: m.clone(),
                alias: a.clone(),
            };
            Ok((Versions::one(model, v), start.id()))
        }
        Target::Deployment(ns, name) => {
            let d = cluster
                .deployments
                .iter()
                .find(|d| &d.namespace == ns && &d.name == name)
                .ok_or_else(|| CoreError::NotFound {
                    kind: "model-serving Deployment (label mlops.dev/model)",
                    name: format!("{ns}/{name}"),
                })?;
            let model = registry.model(&d.model).await?;
            let start = lineage::deployment_id(d);
            Ok((Versions::one(model, d.version), start))
        }
        Target::Dataset(digest) => dataset_versions(registry, digest).await,
    }
}

/// Forward from a dataset: the runs that used its digest (MLflow's own search over every
/// experiment, through the bounded paging), then every model version those runs logged —
/// indexed, not a copy of its model per version.
async fn dataset_versions(
    registry: &MlflowRegistry,
    digest: &str,
) -> Result<(Versions, String), CoreError> {
    let experiments: Vec<String> = registry
        .experiments()
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    let mut runs = std::collections::HashSet::new();
    // MLflow searches at most 100 experiments a call.
    for chunk in experiments.chunks(100) {
        let query = RunQuery {
            experiment_ids: chunk.to_vec(),
            filter: Some(format!("dataset.digest = '{digest}'")),
            order_by: Vec::new(),
            page_size: 1000,
        };
        let found = registry.search_runs(&query, MOST_DATASET_RUNS).await?;
        runs.extend(found.runs.into_iter().map(|r| r.id));
    }
    if runs.is_empty() {
        return Err(CoreError::NotFound {
            kind: "run trained on dataset",
            name: format!("digest {digest}"),
        });
    }
    let mut found = Versions {
        models: Vec::new(),
        versions: Vec::new(),
    };
    for model in registry.models().await? {
        let at = found.models.len();
        let before = found.versions.len();
        found.versions.extend(
            model
                .versions
                .iter()
                .filter(|v| v.run_id.as_ref().is_some_and(|r| runs.contains(r)))
                .map(|v| (at, v.version)),
        );
        if found.versions.len() > before {
            found.models.push(model);
        }
    }
    Ok((found, format!("dataset-digest:{digest}")))
}

/// The source runs of `versions`, each fetched once, a few at a time.
async fn source_runs(
    registry: &MlflowRegistry,
    versions: &Versions,
) -> Result<std::collections::HashMap<String, mlops_core::model::Run>, CoreError> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let ids: BTreeSet<&String> = versions
        .versions
        .iter()
        .filter_map(|(m, v)| versions.models[*m].version(*v)?.run_id.as_ref())
        .collect();
    futures::stream::iter(ids)
        .map(|id| async move { registry.run(id).await.map(|r| (id.clone(), r)) })
        .buffer_unordered(RUN_FETCHES)
        .try_collect()
        .await
}

async fn build(
    registry: &MlflowRegistry,
    cluster: &Cluster,
    target: &Target,
) -> Result<Graph, CoreError> {
    tokio::time::timeout(WALK_DEADLINE, walk_graph(registry, cluster, target))
        .await
        .unwrap_or_else(|_| {
            Err(CoreError::unavailable(
                registry.describe(),
                format!(
                    "the lineage walk took over {} s (the registry is slow or keeps paging); stopped",
                    WALK_DEADLINE.as_secs()
                ),
            ))
        })
}

async fn walk_graph(
    registry: &MlflowRegistry,
    cluster: &Cluster,
    target: &Target,
) -> Result<Graph, CoreError> {
    let (found, start) = versions_of(registry, cluster, target).await?;
    let runs = source_runs(registry, &found).await?;
    let mut parts = Vec::with_capacity(found.versions.len());
    let mut extra: Vec<Node> = Vec::new();
    let mut extra_edges: Vec<Edge> = Vec::new();
    let mut mismatches: Vec<Mismatch> = Vec::new();
    let mut seen_models = BTreeSet::new();
    for (m, version) in &found.versions {
        let model = &found.models[*m];
        let mv = model.require_version(*version)?;
        let run = mv.run_id.as_ref().and_then(|id| runs.get(id));
        let part = lineage::for_version(&LineageInputs {
            model,
            version: *version,
            run,
            rollouts: &cluster.rollouts,
            deployments: &cluster.deployments,
            pods: &cluster.pods,
        });
        parts.push(part);
        let version_node = NodeKey::version(&model.name, *version);
        for alias in model.aliases_of(*version) {
            let key = NodeKey::Alias {
                model: model.name.clone(),
                alias: alias.to_string(),
            };
            extra.push(Node::of(&key, format!("{}@{alias}", model.name), None));
            extra_edges.push(Edge::of(&key, &version_node));
        }
        if let Some(run) = run {
            let key = NodeKey::Experiment {
                id: run.experiment_id.clone(),
            };
            extra.push(Node::of(&key, run.experiment_id.clone(), None));
            extra_edges.push(Edge::of(&key, &NodeKey::Run { id: run.id.clone() }));
        }
        if seen_models.insert(model.name.clone()) {
            mismatches.extend(lineage::mismatches(model, &cluster.deployments));
        }
    }
    let g = LineageGraph::merge_all(parts);
    let mut nodes: Vec<Node> = g
        .nodes
        .iter()
        .map(|n| Node::of(&n.key, n.label.clone(), Some(&n.detail)))
        .collect();
    let mut edges: Vec<Edge> = g
        .edges
        .iter()
        .map(|&(a, b)| Edge::of(&g.nodes[a].key, &g.nodes[b].key))
        .collect();
    let mut ids: std::collections::HashSet<String> = nodes.iter().map(|n| n.id.clone()).collect();
    for n in extra {
        if ids.insert(n.id.clone()) {
            nodes.push(n);
        }
    }
    // A run's experiment and a version's aliases are found once per version: each edge once.
    let mut linked: std::collections::HashSet<(String, String)> = edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    edges.extend(
        extra_edges
            .into_iter()
            .filter(|e| linked.insert((e.from.clone(), e.to.clone()))),
    );
    // A dataset start names the digest: the first dataset node with it.
    let start = match target {
        Target::Dataset(digest) => g
            .nodes
            .iter()
            .find(|n| matches!(&n.key, NodeKey::Dataset { digest: d, .. } if d == digest))
            .map_or(start, |n| n.id.clone()),
        _ => start,
    };
    Ok(Graph {
        start,
        nodes,
        edges,
        mismatches,
        unread_clusters: Vec::new(),
    })
}

/// Print the nodes reached from `id` along the edges, downstream or upstream, each once.
fn walk(
    g: &Graph,
    id: &str,
    down: bool,
    depth: usize,
    seen: &mut BTreeSet<String>,
    s: &mut String,
    name: &dyn Fn(&str) -> String,
) {
    let next: Vec<&Edge> = g
        .edges
        .iter()
        .filter(|e| if down { e.from == id } else { e.to == id })
        .collect();
    for e in next {
        let other = if down { &e.to } else { &e.from };
        if !seen.insert(other.clone()) {
            continue;
        }
        let arrow = if down { "→" } else { "←" };
        let _ = writeln!(
            s,
            "{}{arrow} {} ({})",
            "  ".repeat(depth),
            name(other),
            e.relation
        );
        walk(g, other, down, depth + 1, seen, s, name);
    }
}

/// The graph as a tree from its start: downstream (what it became and where it runs) and
/// upstream (what it came from), then the mismatches.
fn tree(g: &Graph) -> String {
    let name = |id: &str| {
        g.nodes.iter().find(|n| n.id == id).map_or_else(
            || safe(id).into_owned(),
            |n| {
                let detail = n.attributes.get("detail").filter(|d| !d.is_empty());
                match detail {
                    Some(d) => format!("{} {}  {}", n.kind, safe(&n.name), safe(d)),
                    None => format!("{} {}", n.kind, safe(&n.name)),
                }
            },
        )
    };
    let mut s = name(&g.start);
    s.push('\n');
    let mut seen = BTreeSet::from([g.start.clone()]);
    walk(g, &g.start, true, 1, &mut seen, &mut s, &name);
    // Upstream: of the start, and of the model versions it leads to (an alias's or a
    // Deployment's version came from a run, trained on datasets).
    let mut from: Vec<String> = vec![g.start.clone()];
    from.extend(
        g.nodes
            .iter()
            .filter(|n| n.kind == NodeKind::ModelVersion.json_name() && seen.contains(&n.id))
            .map(|n| n.id.clone()),
    );
    for id in from {
        if id != g.start {
            let _ = writeln!(s, "{} came from:", name(&id));
        }
        walk(g, &id, false, 1, &mut seen, &mut s, &name);
    }
    for c in &g.unread_clusters {
        let _ = writeln!(s, "⚠ not read, so not in this lineage: {}", safe(c));
    }
    if g.mismatches.is_empty() {
        s.push_str("no mismatches between the registry and the cluster");
    } else {
        let _ = write!(s, "{} mismatch(es):", g.mismatches.len());
        for m in &g.mismatches {
            let _ = write!(s, "\n  ✗ {}: {}", m.kind, safe(&m.message));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_or_refused_naming_the_forms() {
        assert_eq!(
            parse("fraud-detector@3").ok(),
            Some(Target::Version("fraud-detector".into(), 3))
        );
        assert_eq!(
            parse("fraud-detector@v3").ok(),
            Some(Target::Version("fraud-detector".into(), 3))
        );
        assert_eq!(
            parse("fraud-detector@champion").ok(),
            Some(Target::Alias("fraud-detector".into(), "champion".into()))
        );
        assert_eq!(
            parse("dataset:550defdb").ok(),
            Some(Target::Dataset("550defdb".into()))
        );
        assert_eq!(
            parse("deployment:ml-serving/fraud-detector").ok(),
            Some(Target::Deployment(
                "ml-serving".into(),
                "fraud-detector".into()
            ))
        );
        for bad in [
            "fraud-detector",
            "@3",
            "dataset:",
            "dataset:x' or 1=1",
            "deployment:x",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.0.contains("expected MODEL@VERSION"), "{e}");
        }
    }
}
