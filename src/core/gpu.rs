//! The GPU report: each node's GPUs as the metrics store sees them (utilisation, memory, power,
//! temperature), joined with what the cluster allocated (nodes' allocatable GPUs, pods'
//! `nvidia.com/gpu` requests, the model version each pod serves), allocated-but-idle GPUs with
//! the GPU-hours they wasted over a window, and canary-versus-stable GPU use per model version.
//!
//! Pure: the adapters fetch, this module joins and counts. It must not do I/O.
//!
//! # Idle GPU-hours
//!
//! The utilisation history of a window `W` comes as one value per step `s` (a range query over
//! `(end - W, end]`, so `W / s` instants, each standing for the `s` seconds before it). A GPU's
//! wasted GPU-hours are
//!
//! ```text
//! idle_gpu_hours = s / 3600 × #{ instants where the GPU was allocated to a pod and its
//!                                utilisation was under the threshold }
//! ```
//!
//! summed over every pod it was allocated to in the window. An instant counts once per GPU
//! however many series or points carry it, and only the window's own instants count: a point
//! outside `(end - W, end]`, or off the step grid (not `end - k·s`), is ignored, so one GPU never
//! wastes more than `W` (a server that answers 1.5 M points a millisecond apart gives at most
//! `W / s` instants, not 25,000 GPU-hours in one hour). A GPU is `idle` when it is allocated
//! now and every known value of its current allocation in the window was under the threshold.
//! Values that are not numbers (NaN, infinite, outside 0–100) count neither as idle nor as
//! busy.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Gpu, IDLE_GPU_UTIL_PCT, Node, Pod, PodPhase, Track};

/// Bytes in one MiB (DCGM reports framebuffer memory in MiB).
const MIB: f64 = 1024.0 * 1024.0;

/// When an allocated GPU counts as idle, and over which window its waste is counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdlePolicy {
    /// Utilisation (percent) under which an allocated GPU does no useful work.
    pub util_pct: f64,
    /// How far back the waste is counted.
    pub window: Duration,
    /// The resolution of the utilisation history.
    pub step: Duration,
}

impl Default for IdlePolicy {
    fn default() -> Self {
        Self {
            util_pct: IDLE_GPU_UTIL_PCT,
            window: Duration::from_secs(3600),
            step: Duration::from_secs(60),
        }
    }
}

/// Prometheus answers at most this many points per series in one range query.
pub const MAX_POINTS: u64 = 11_000;

impl IdlePolicy {
    /// What is wrong with the policy, if anything: a threshold in (0, 100], a step of at least
    /// one second, a window of whole steps, at most [`MAX_POINTS`] of them.
    pub fn problem(&self) -> Option<String> {
        let (w, s) = (self.window.as_secs(), self.step.as_secs());
        if !(self.util_pct > 0.0 && self.util_pct <= 100.0) {
            return Some(format!(
                "the idle threshold {} must be above 0 and at most 100 (percent)",
                self.util_pct
            ));
        }
        if s == 0 {
            return Some("the idle step must be at least 1s".into());
        }
        // The size first: a window far too long is that, whether or not it divides evenly
        // (18446744073709551615s was called "not a whole number of steps").
        if w / s > MAX_POINTS {
            return Some(format!(
                "the idle window ({}) holds {} steps of {}; at most {MAX_POINTS} steps (a window up to {} at this step)",
                crate::text::format_duration(w),
                crate::text::thousands(w / s),
                crate::text::format_duration(s),
                crate::text::format_duration(MAX_POINTS * s),
            ));
        }
        if w < s || w % s != 0 {
            return Some(format!(
                "the idle window ({w}s) must be a whole number of steps ({s}s)"
            ));
        }
        None
    }

    /// How many instants the window holds.
    pub fn points(&self) -> u64 {
        self.window.as_secs() / self.step.as_secs().max(1)
    }
}

/// One GPU's utilisation over the window while it carried one set of allocation labels (a GPU
/// that moved from one pod to another has one history per pod).
#[derive(Debug, Clone, PartialEq)]
pub struct UtilHistory {
    /// The GPU's UUID, or `node/index` when the exporter sends no UUID (as [`gpu_key`]).
    pub key: String,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    /// The series' points, (instant, utilisation), oldest first. Only those on the window's
    /// step grid count (see the module's doc).
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// The key that joins a GPU's gauges and its history: the UUID, else `node/index`.
pub fn gpu_key(uuid: &str, node: &str, index: &str) -> String {
    if uuid.is_empty() {
        format!("{node}/{index}")
    } else {
        uuid.to_string()
    }
}

/// The window the idle figures cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub window_seconds: u64,
    pub step_seconds: u64,
    pub util_threshold_pct: f64,
}

/// One GPU in the report. Gauges that are missing or not believable are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuRow {
    pub index: u32,
    pub uuid: String,
    pub product: String,
    /// Percent.
    pub utilization: Option<f64>,
    pub memory_used_bytes: Option<u64>,
    pub memory_total_bytes: Option<u64>,
    pub power_watts: Option<f64>,
    pub temperature_celsius: Option<f64>,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub container: Option<String>,
    pub model: Option<String>,
    pub version: Option<u32>,
    /// `stable` or `canary`, for an allocated GPU.
    pub track: Option<Track>,
    pub idle: bool,
    pub idle_gpu_hours: f64,
    pub xid: Option<u32>,
}

/// One node: what the cluster allocated and what its GPUs do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    pub name: String,
    pub cluster: String,
    /// The node's allocatable `nvidia.com/gpu`; `None` when the cluster does not know the node
    /// (or no cluster was asked).
    pub allocatable: Option<u32>,
    /// The `nvidia.com/gpu` requests of the pods scheduled there that have not finished.
    pub requested: Option<u32>,
    pub gpus: Vec<GpuRow>,
}

/// The GPU use of one model version on one track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionRow {
    pub model: String,
    pub version: Option<u32>,
    pub track: Track,
    /// Pods of this version that request GPUs (not finished).
    pub pods: usize,
    /// Their `nvidia.com/gpu` requests.
    pub requested: u32,
    /// The GPUs the metrics store shows allocated to its pods.
    pub gpus: usize,
    pub mean_utilization: Option<f64>,
    pub idle_gpus: usize,
    pub idle_gpu_hours: f64,
}

/// `mlops gpu`: every node's GPUs, and per model version canary versus stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuReport {
    /// When the gauges were read.
    pub at: DateTime<Utc>,
    pub idle_window: IdleWindow,
    pub nodes: Vec<NodeRow>,
    pub versions: Vec<VersionRow>,
    pub idle_gpus: usize,
    pub idle_gpu_hours: f64,
}

/// What the cluster says: its nodes and pods (both empty when no cluster was asked; nodes it
/// does not list then have no allocatable or requested count).
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocation<'a> {
    pub nodes: &'a [Node],
    pub pods: &'a [Pod],
}

/// Which nodes to report; `None` is every one.
#[derive(Debug, Clone, Default)]
pub struct GpuFilter {
    pub cluster: Option<String>,
    pub node: Option<String>,
}

impl GpuFilter {
    fn keeps(&self, cluster: &str, node: &str) -> bool {
        self.cluster.as_deref().is_none_or(|c| c == cluster)
            && self.node.as_deref().is_none_or(|n| n == node)
    }
}

fn believable(v: f64) -> Option<f64> {
    v.is_finite().then_some(v).filter(|v| *v >= 0.0)
}

fn under(v: f64, threshold: f64) -> bool {
    v.is_finite() && (0.0..=100.0).contains(&v) && v < threshold
}

/// A pod that still holds what it requested.
fn holds_resources(p: &Pod) -> bool {
    !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed)
}

/// The track of a pod the cluster does not know, from its name (`…-canary-…`).
fn track_from_name(pod: &str) -> Track {
    if pod.contains("-canary-") || pod.ends_with("-canary") {
        Track::Canary
    } else {
        Track::Stable
    }
}

/// The `nvidia.com/gpu` requests per node of the pods that still hold them.
pub fn requested_per_node(pods: &[Pod]) -> HashMap<&str, u32> {
    let mut requested: HashMap<&str, u32> = HashMap::new();
    for p in pods.iter().filter(|p| holds_resources(p)) {
        if let Some(n) = &p.node {
            *requested.entry(n.as_str()).or_default() += p.gpus;
        }
    }
    requested
}

/// GPUs requested and allocatable over the GPU nodes (nodes with allocatable GPUs).
pub fn requested_of_allocatable(nodes: &[Node], pods: &[Pod]) -> (u32, u32) {
    let requested = requested_per_node(pods);
    nodes
        .iter()
        .filter(|n| n.gpu_capacity > 0)
        .fold((0, 0), |(r, a), n| {
            (
                r + requested.get(n.name.as_str()).copied().unwrap_or(0),
                a + n.gpu_capacity,
            )
        })
}

/// The window's instants: `end - k·step` for `k` in `0..window / step`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    end_ms: i64,
    step_ms: i64,
    points: i64,
}

impl Grid {
    fn new(end: DateTime<Utc>, policy: IdlePolicy) -> Self {
        let step_ms = i64::try_from(policy.step.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        Self {
            end_ms: end.timestamp_millis(),
            step_ms,
            points: i64::try_from(policy.points()).unwrap_or(i64::MAX),
        }
    }

    /// Which of the window's instants `at` is (`k`, counted back from the end), if it is one.
    fn instant(&self, at: DateTime<Utc>) -> Option<i64> {
        let back = self.end_ms.checked_sub(at.timestamp_millis())?;
        (back >= 0 && back % self.step_ms == 0)
            .then_some(back / self.step_ms)
            .filter(|k| *k < self.points)
    }
}

/// The utilisation history of the window, as idleness: per GPU the instants it was allocated and
/// idle (all its pods), and whether its current allocation has been idle throughout.
struct Idleness<'a> {
    history: &'a [UtilHistory],
    policy: IdlePolicy,
    grid: Grid,
    /// Per GPU the window's instants (`k`) at which it was allocated and idle, each once.
    idle_instants: HashMap<&'a str, HashSet<i64>>,
}

impl<'a> Idleness<'a> {
    fn new(history: &'a [UtilHistory], policy: IdlePolicy, end: DateTime<Utc>) -> Self {
        let grid = Grid::new(end, policy);
        let mut idle_instants: HashMap<&str, HashSet<i64>> = HashMap::new();
        for h in history.iter().filter(|h| h.pod.is_some()) {
            let idle = h
                .points
                .iter()
                .filter(|(_, v)| under(*v, policy.util_pct))
                .filter_map(|(at, _)| grid.instant(*at));
            idle_instants
                .entry(h.key.as_str())
                .or_default()
                .extend(idle);
        }
        Self {
            history,
            policy,
            grid,
            idle_instants,
        }
    }

    /// The GPU-hours GPU `key` was allocated and idle in the window: at most the window.
    fn hours(&self, key: &str) -> f64 {
        let step_hours = self.policy.step.as_secs_f64() / 3600.0;
        self.idle_instants.get(key).map_or(0, HashSet::len) as f64 * step_hours
    }

    /// Whether `g`'s current allocation has values at the window's instants and all are under
    /// the threshold.
    fn now_idle(&self, key: &str, g: &Gpu) -> bool {
        let mut known = self
            .history
            .iter()
            .filter(|h| h.key == key && h.pod == g.pod && h.namespace == g.namespace)
            .flat_map(|h| h.points.iter().copied())
            .filter(|(at, _)| self.grid.instant(*at).is_some())
            .map(|(_, v)| v)
            .filter(|v| v.is_finite() && (0.0..=100.0).contains(v))
            .peekable();
        known.peek().is_some() && known.all(|v| v < self.policy.util_pct)
    }
}

/// A report's node rows by (cluster, node).
type Nodes = BTreeMap<(String, String), NodeRow>;

/// The GPU nodes the cluster knows (allocatable GPUs, or pods requesting some), as `filter`
/// keeps them, before any GPU is placed on them.
fn allocated_nodes(cluster: Allocation<'_>, filter: &GpuFilter) -> Nodes {
    let requested = requested_per_node(cluster.pods);
    let mut nodes = Nodes::new();
    for n in cluster.nodes {
        let wanted = n.gpu_capacity > 0 || requested.get(n.name.as_str()).is_some_and(|r| *r > 0);
        if wanted && filter.keeps(&n.cluster, &n.name) {
            nodes.insert(
                (n.cluster.clone(), n.name.clone()),
                NodeRow {
                    name: n.name.clone(),
                    cluster: n.cluster.clone(),
                    allocatable: Some(n.gpu_capacity),
                    requested: Some(requested.get(n.name.as_str()).copied().unwrap_or(0)),
                    gpus: Vec::new(),
                },
            );
        }
    }
    nodes
}

/// A model version on a track.
type VersionKey = (String, Option<u32>, Track);

/// The per-version rows as GPUs and pods are counted in.
#[derive(Default)]
struct Versions {
    rows: BTreeMap<VersionKey, VersionRow>,
    /// Sum and count of the believable utilisations of each version's GPUs.
    util: HashMap<VersionKey, (f64, usize)>,
}

impl Versions {
    fn row(&mut self, model: &str, version: Option<u32>, track: Track) -> &mut VersionRow {
        self.rows
            .entry((model.to_string(), version, track))
            .or_insert_with(|| VersionRow {
                model: model.to_string(),
                version,
                track,
                pods: 0,
                requested: 0,
                gpus: 0,
                mean_utilization: None,
                idle_gpus: 0,
                idle_gpu_hours: 0.0,
            })
    }

    /// A GPU allocated to `model` v`version` on `track`.
    fn count_gpu(&mut self, model: &str, version: Option<u32>, track: Track, g: &GpuRow) {
        let row = self.row(model, version, track);
        row.gpus += 1;
        row.idle_gpus += usize::from(g.idle);
        row.idle_gpu_hours += g.idle_gpu_hours;
        if let Some(u) = g.utilization {
            let sum = self
                .util
                .entry((model.to_string(), version, track))
                .or_default();
            *sum = (sum.0 + u, sum.1 + 1);
        }
    }

    /// What each version's pods requested, on the nodes reported.
    fn count_requests(&mut self, pods: &[Pod], nodes: &Nodes) {
        let reported: std::collections::HashSet<&str> =
            nodes.values().map(|n| n.name.as_str()).collect();
        for p in pods.iter().filter(|p| holds_resources(p) && p.gpus > 0) {
            let (Some(model), Some(node)) = (&p.model, &p.node) else {
                continue;
            };
            if reported.contains(node.as_str()) {
                let row = self.row(model, p.version, p.track);
                row.pods += 1;
                row.requested += p.gpus;
            }
        }
    }

    fn finish(mut self) -> Vec<VersionRow> {
        for (k, row) in &mut self.rows {
            row.mean_utilization = self
                .util
                .get(k)
                .filter(|(_, n)| *n > 0)
                .map(|(sum, n)| sum / *n as f64);
        }
        self.rows.into_values().collect()
    }
}

/// One GPU's row: its gauges (what is believable), the pod it is allocated to (`pod`, as the
/// cluster knows it) and what that pod serves, its idleness.
fn gpu_row(g: &Gpu, pod: Option<&Pod>, idleness: &Idleness<'_>) -> GpuRow {
    let key = gpu_key(&g.uuid, &g.node, &g.index.to_string());
    let track = g.pod.as_ref().map(|name| match pod {
        Some(p) => p.track,
        None => track_from_name(name),
    });
    GpuRow {
        index: g.index,
        uuid: g.uuid.clone(),
        product: g.product.clone(),
        utilization: believable(g.util_pct).filter(|u| *u <= 100.0),
        memory_used_bytes: believable(g.mem_used_mib).map(|m| (m * MIB).round() as u64),
        memory_total_bytes: believable(g.mem_total_mib).map(|m| (m * MIB).round() as u64),
        power_watts: believable(g.power_w),
        temperature_celsius: believable(g.temp_c),
        pod: g.pod.clone(),
        namespace: g.namespace.clone(),
        container: g.container.clone(),
        model: pod
            .and_then(|p| p.model.clone())
            .or_else(|| g.model.clone()),
        version: pod.and_then(|p| p.version).or(g.version),
        track,
        idle: g.is_allocated() && idleness.now_idle(&key, g),
        idle_gpu_hours: idleness.hours(&key),
        xid: g.xid,
    }
}

/// Join the gauges (`gpus`, read at `at`), the utilisation histories of the window ending at
/// `end`, and the cluster's allocation.
pub fn report(
    gpus: &[Gpu],
    history: &[UtilHistory],
    cluster: Allocation<'_>,
    policy: IdlePolicy,
    at: DateTime<Utc>,
    end: DateTime<Utc>,
    filter: &GpuFilter,
) -> GpuReport {
    let idleness = Idleness::new(history, policy, end);
    let pods: HashMap<(&str, &str), &Pod> = cluster
        .pods
        .iter()
        .map(|p| ((p.namespace.as_str(), p.name.as_str()), p))
        .collect();
    let mut nodes = allocated_nodes(cluster, filter);
    // A node the cluster knows belongs to the cluster's name for it.
    let node_cluster: HashMap<&str, &str> = cluster
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.cluster.as_str()))
        .collect();
    let mut versions = Versions::default();
    for g in gpus {
        let cluster_name = node_cluster
            .get(g.node.as_str())
            .map_or(g.cluster.as_str(), |c| *c);
        if !filter.keeps(cluster_name, &g.node) {
            continue;
        }
        let pod = match (&g.namespace, &g.pod) {
            (Some(ns), Some(p)) => pods.get(&(ns.as_str(), p.as_str())).copied(),
            (None, Some(p)) => cluster.pods.iter().find(|c| &c.name == p),
            _ => None,
        };
        let row = gpu_row(g, pod, &idleness);
        if let (Some(m), Some(t)) = (&row.model, row.track) {
            versions.count_gpu(m, row.version, t, &row);
        }
        nodes
            .entry((cluster_name.to_string(), g.node.clone()))
            .or_insert_with(|| NodeRow {
                name: g.node.clone(),
                cluster: cluster_name.to_string(),
                allocatable: None,
                requested: None,
                gpus: Vec::new(),
            })
            .gpus
            .push(row);
    }
    versions.count_requests(cluster.pods, &nodes);
    let mut nodes: Vec<NodeRow> = nodes.into_values().collect();
    for n in &mut nodes {
        n.gpus
            .sort_by(|a, b| (a.index, &a.uuid).cmp(&(b.index, &b.uuid)));
    }
    let all = nodes.iter().flat_map(|n| n.gpus.iter());
    let (idle_gpus, idle_gpu_hours) = all.fold((0, 0.0), |(n, h), g| {
        (n + usize::from(g.idle), h + g.idle_gpu_hours)
    });
    let window_seconds = policy.window.as_secs();
    GpuReport {
        at,
        idle_window: IdleWindow {
            start: end - chrono::TimeDelta::seconds(i64::try_from(window_seconds).unwrap_or(0)),
            end,
            window_seconds,
            step_seconds: policy.step.as_secs(),
            util_threshold_pct: policy.util_pct,
        },
        nodes,
        versions: versions.finish(),
        idle_gpus,
        idle_gpu_hours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(node: &str, index: u32, util: f64, pod: Option<&str>) -> Gpu {
        Gpu {
            cluster: "c".into(),
            node: node.into(),
            index,
            uuid: format!("GPU-{node}-{index}"),
            product: "H100".into(),
            util_pct: util,
            mem_used_mib: 1024.0,
            mem_total_mib: 81_559.0,
            power_w: 300.0,
            temp_c: 50.0,
            pod: pod.map(str::to_string),
            namespace: pod.map(|_| "ml".to_string()),
            container: pod.map(|_| "server".to_string()),
            model: None,
            version: None,
            xid: None,
        }
    }

    fn node(name: &str, gpus: u32) -> Node {
        Node {
            name: name.into(),
            cluster: "c".into(),
            region: String::new(),
            zone: String::new(),
            gpu_capacity: gpus,
            gpu_product: None,
            ready: true,
        }
    }

    fn pod(name: &str, node: &str, gpus: u32, version: u32, track: Track) -> Pod {
        Pod {
            name: name.into(),
            namespace: "ml".into(),
            cluster: "c".into(),
            node: Some(node.into()),
            phase: PodPhase::Running,
            model: Some("fraud".into()),
            version: Some(version),
            track,
            gpus,
            image: String::new(),
        }
    }

    /// One point a minute, the last at `end`.
    fn history(end: DateTime<Utc>, key: &str, pod: Option<&str>, values: &[f64]) -> UtilHistory {
        let n = i64::try_from(values.len()).expect("few");
        UtilHistory {
            key: key.into(),
            pod: pod.map(str::to_string),
            namespace: pod.map(|_| "ml".to_string()),
            points: (0..n)
                .zip(values)
                .map(|(i, v)| (end - chrono::TimeDelta::minutes(n - 1 - i), *v))
                .collect(),
        }
    }

    #[test]
    fn idle_hours_count_allocated_steps_under_the_threshold() {
        let policy = IdlePolicy {
            util_pct: 5.0,
            window: Duration::from_secs(600),
            step: Duration::from_secs(60),
        };
        let gpus = [
            gpu("n1", 0, 0.0, Some("fraud-1")),
            gpu("n1", 1, 80.0, Some("fraud-canary-1")),
            gpu("n1", 2, 0.0, None),
        ];
        let now = Utc::now();
        // Idle for 4 steps under another pod (the 4 minutes before the current one's), then 3
        // under the current one.
        let mut old = history(
            now,
            "GPU-n1-0",
            Some("old"),
            &[0.0, 1.0, 2.0, 4.9, 80.0, 80.0, 80.0, 80.0],
        );
        old.points.truncate(4);
        let history = [
            old,
            history(now, "GPU-n1-0", Some("fraud-1"), &[0.0, f64::NAN, 3.0, 1.0]),
            // Busy but for two steps: not idle now, 2 steps wasted.
            history(
                now,
                "GPU-n1-1",
                Some("fraud-canary-1"),
                &[1.0, 2.0, 50.0, 80.0],
            ),
            // Unallocated: never waste.
            history(now, "GPU-n1-2", None, &[0.0; 10]),
        ];
        let nodes = [node("n1", 8), node("cpu", 0)];
        let pods = [
            pod("fraud-1", "n1", 1, 3, Track::Stable),
            pod("fraud-canary-1", "n1", 2, 4, Track::Canary),
        ];
        let alloc = Allocation {
            nodes: &nodes,
            pods: &pods,
        };
        let r = report(
            &gpus,
            &history,
            alloc,
            policy,
            now,
            now,
            &GpuFilter::default(),
        );
        assert_eq!(r.nodes.len(), 1, "the CPU node has no GPUs");
        let n = &r.nodes[0];
        assert_eq!((n.allocatable, n.requested), (Some(8), Some(3)));
        let g = &n.gpus;
        assert!(g[0].idle && !g[1].idle && !g[2].idle);
        assert!((g[0].idle_gpu_hours - 7.0 / 60.0).abs() < 1e-12);
        assert!((g[1].idle_gpu_hours - 2.0 / 60.0).abs() < 1e-12);
        assert!(g[2].idle_gpu_hours.abs() < 1e-12);
        assert_eq!(g[0].memory_used_bytes, Some(1024 * 1024 * 1024));
        assert_eq!(
            (g[1].model.as_deref(), g[1].version),
            (Some("fraud"), Some(4))
        );
        assert_eq!(r.idle_gpus, 1);
        assert_eq!(requested_of_allocatable(&nodes, &pods), (3, 8));
        let by_track: Vec<(Option<u32>, Track, u32, usize, usize)> = r
            .versions
            .iter()
            .map(|v| (v.version, v.track, v.requested, v.gpus, v.idle_gpus))
            .collect();
        assert_eq!(
            by_track,
            [
                (Some(3), Track::Stable, 1, 1, 1),
                (Some(4), Track::Canary, 2, 1, 0)
            ]
        );
    }

    /// Finding 17 of the second hostile probe: 1.5 M points a millisecond apart for one GPU gave
    /// 25,000 GPU-hours in a 1 h window. Only the window's instants count, each once.
    #[test]
    fn idle_hours_never_exceed_the_window_whatever_the_points() {
        let policy = IdlePolicy::default();
        let end = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let ms = chrono::TimeDelta::milliseconds;
        // Every millisecond of the window and two minutes before and after it, all idle.
        let flood: Vec<(DateTime<Utc>, f64)> =
            (-120_000..3_720_000).map(|i| (end - ms(i), 0.0)).collect();
        let mut repeated = history(end, "GPU-n1-0", Some("p"), &[0.0; 60]);
        repeated.points.extend(repeated.points.clone());
        let hist = [
            UtilHistory {
                key: "GPU-n1-0".into(),
                pod: Some("p".into()),
                namespace: Some("ml".into()),
                points: flood,
            },
            // The same instants again, as a second series of the same GPU (its labels changed).
            repeated,
        ];
        let r = report(
            &[gpu("n1", 0, 0.0, Some("p"))],
            &hist,
            Allocation::default(),
            policy,
            end,
            end,
            &GpuFilter::default(),
        );
        assert!(
            (r.idle_gpu_hours - 1.0).abs() < 1e-9,
            "one GPU idle for the whole hour: {}",
            r.idle_gpu_hours
        );
        assert!(r.idle_gpus == 1);
        // Points only off the grid or outside the window: no waste, and not called idle.
        let off: Vec<(DateTime<Utc>, f64)> = (1..60)
            .map(|i| (end - ms(i * 60_000 + 1), 0.0))
            .chain([(end + ms(60_000), 0.0), (end - ms(3_600_000), 0.0)])
            .collect();
        let r = report(
            &[gpu("n1", 0, 0.0, Some("p"))],
            &[UtilHistory {
                key: "GPU-n1-0".into(),
                pod: Some("p".into()),
                namespace: Some("ml".into()),
                points: off,
            }],
            Allocation::default(),
            policy,
            end,
            end,
            &GpuFilter::default(),
        );
        assert!(r.idle_gpu_hours.abs() < 1e-12, "{}", r.idle_gpu_hours);
        assert!(!r.nodes[0].gpus[0].idle);
    }

    #[test]
    fn bad_gauges_are_none_and_unknown_nodes_have_no_allocation() {
        let mut g = gpu("n9", 0, f64::NAN, Some("x-canary-abc"));
        g.power_w = f64::INFINITY;
        g.mem_used_mib = f64::NAN;
        let now = Utc::now();
        let r = report(
            &[g],
            &[history(now, "GPU-n9-0", Some("x-canary-abc"), &[f64::NAN])],
            Allocation::default(),
            IdlePolicy::default(),
            now,
            now,
            &GpuFilter {
                cluster: Some("c".into()),
                node: None,
            },
        );
        let n = &r.nodes[0];
        assert_eq!((n.allocatable, n.requested), (None, None));
        let g = &n.gpus[0];
        assert_eq!(
            (g.utilization, g.power_watts, g.memory_used_bytes),
            (None, None, None)
        );
        assert!(!g.idle, "no known value: not called idle");
        assert_eq!(g.track, Some(Track::Canary));
        let none = report(
            &[gpu("n9", 0, 1.0, None)],
            &[],
            Allocation::default(),
            IdlePolicy::default(),
            now,
            now,
            &GpuFilter {
                cluster: None,
                node: Some("other".into()),
            },
        );
        assert!(none.nodes.is_empty());
    }

    #[test]
    fn policies_are_checked() {
        let ok = IdlePolicy::default();
        assert_eq!(ok.problem(), None);
        assert_eq!(ok.points(), 60);
        let bad = |util_pct: f64, window: u64, step: u64| {
            IdlePolicy {
                util_pct,
                window: Duration::from_secs(window),
                step: Duration::from_secs(step),
            }
            .problem()
            .unwrap_or_default()
        };
        assert!(bad(0.0, 60, 60).contains("threshold"));
        assert!(bad(f64::NAN, 60, 60).contains("threshold"));
        assert!(bad(5.0, 60, 0).contains("at least 1s"));
        assert!(bad(5.0, 90, 60).contains("whole number"));
        assert!(bad(5.0, 86_400 * 30, 60).contains("at most 11000"));
        let huge = bad(5.0, u64::MAX, 60);
        assert!(
            huge.contains("at most 11000") && !huge.contains("whole number"),
            "{huge}"
        );
    }
}
