//! `mlops gpu [--cluster C] [--node N]`: every node's GPUs from the DCGM gauges in Prometheus,
//! joined with the cluster's allocation (allocatable and requested `nvidia.com/gpu`, the model
//! version behind each pod), allocated-but-idle GPUs with the GPU-hours they wasted over the idle
//! window, and canary versus stable GPU use per model version. The joining and counting is the
//! core's (`mlops_core::gpu`); this file fetches and prints.

use std::{collections::BTreeSet, fmt::Write as _, process::ExitCode, time::Duration};

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use mlops_core::{
    CoreError,
    demo::DemoPlatform,
    gpu::{self, Allocation, GpuFilter, GpuReport, GpuRow, IdlePolicy, UtilHistory},
    model::{Gpu, Node},
    ports::{ClusterPort, MetricsPort},
};

use super::{
    output::{self, Output, UsageError, safe},
    table::{column, table},
};
use crate::{
    app::rows::table::Column,
    wiring::{self, Options},
};

/// How far back the gauges are read: a scrape still being written is not half-seen (and a
/// second look at the same instant gives the same answer).
const SETTLE: TimeDelta = TimeDelta::seconds(1);

#[derive(Debug, Args)]
pub struct GpuArgs {
    /// Only this cluster (the kubeconfig context, or the `cluster` label of the DCGM series).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Only this node.
    #[arg(long)]
    pub node: Option<String>,
    /// An allocated GPU under this utilisation (percent) is idle (default: `[gpu]
    /// idle_util_pct`, 5).
    #[arg(long)]
    pub idle_util_pct: Option<f64>,
    /// Count idle GPU-hours over this window, e.g. 30m, 6h (default: `[gpu] idle_window`, 1h).
    #[arg(long)]
    pub idle_window: Option<String>,
    /// The demo platform's GPUs (`mlops demo`'s) instead of a cluster and Prometheus: the
    /// platform runs through the idle window up to now, a step at a time.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo platform (with --demo; the same seed as `mlops demo --seed`).
    #[arg(long, default_value_t = 7, requires = "demo")]
    pub seed: u64,
}

pub fn run(args: &GpuArgs, options: &Options, output: Output) -> Result<ExitCode> {
    for e in &options.config_errors {
        eprintln!("warning: {e}");
    }
    let policy = policy(args, options)?;
    let filter = GpuFilter {
        cluster: args.cluster.clone(),
        node: args.node.clone(),
    };
    let runtime = wiring::tokio_runtime(1)?;
    let (report, failed) = if args.demo {
        (
            Some(runtime.block_on(demo_fetch(args.seed, policy, &filter))?),
            Vec::new(),
        )
    } else {
        runtime.block_on(fetch(options, policy, &filter))?
    };
    let text = report.map(|report| {
        let shown = Shown {
            report,
            unread_clusters: failed.iter().map(|e| output::error_text(e)).collect(),
        };
        output::render(output, &shown, shown_table)
    });
    Ok(output::finish_partial(Ok(output::Partial { text, failed })))
}

/// What `mlops gpu` prints: the report, and the clusters named that did not answer (`context
/// NAME: why`). Their GPUs are left out, not shown as allocated to nothing.
#[derive(Debug, serde::Serialize)]
struct Shown {
    #[serde(flatten)]
    report: GpuReport,
    unread_clusters: Vec<String>,
}

fn shown_table(s: &Shown) -> String {
    let mut out = gpu_table(&s.report);
    for c in &s.unread_clusters {
        let _ = write!(out, "\n⚠ not read, so its GPUs are not above: {}", safe(c));
    }
    out
}

/// `[gpu]` from config.toml with the flags over it.
fn policy(args: &GpuArgs, options: &Options) -> Result<IdlePolicy> {
    // Settings with errors were replaced by defaults when loaded, so this is a valid policy.
    let mut policy = options.settings.gpu.policy();
    if let Some(pct) = args.idle_util_pct {
        policy.util_pct = pct;
    }
    if let Some(w) = &args.idle_window {
        let secs = mlops_core::text::parse_duration(w.trim()).ok_or_else(|| {
            UsageError(format!(
                "--idle-window {w:?}: a duration like 90s, 30m or 6h"
            ))
        })?;
        policy.window = Duration::from_secs(secs);
        // A window shorter than the configured step is measured in steps of a tenth of it.
        if policy.window < policy.step {
            policy.step = Duration::from_secs((secs / 10).max(1));
        }
    }
    if let Some(problem) = policy.problem() {
        return Err(UsageError(format!("the idle policy: {problem}")).into());
    }
    Ok(policy)
}

/// The instant of the window's end: `at` rounded down to whole steps, so runs a few seconds
/// apart see the same instants.
fn window_end(at: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
    let ms = at.timestamp_millis().div_euclid(step_ms) * step_ms;
    DateTime::from_timestamp_millis(ms).unwrap_or(at)
}

/// The report over every cluster named that answered (none: `None`), and why each other one
/// did not; their GPUs are left out of the report.
async fn fetch(
    options: &Options,
    policy: IdlePolicy,
    filter: &GpuFilter,
) -> Result<(Option<GpuReport>, Vec<CoreError>), CoreError> {
    // Requested GPUs are counted over every namespace, whatever -n says; over every cluster
    // named (`--context a,b`), their GPUs named by the series' `cluster` label. A cluster that
    // does not answer fails only itself, as in the list verbs.
    let answers = if options.has_cluster() {
        Some(
            super::each_cluster(options, true, async |c| {
                let (nodes, pods) = futures::try_join!(c.nodes(), c.pods())?;
                Ok(vec![(ClusterPort::describe(c), nodes, pods)])
            })
            .await?,
        )
    } else {
        None
    };
    let (mut nodes, mut pods, mut names) = (Vec::new(), Vec::new(), Vec::new());
    let (failed, unread) = match answers {
        Some(a) if !a.answered() => return Ok((None, a.failed)),
        Some(a) => {
            for (name, n, p) in a.items {
                names.push(name);
                nodes.extend(n);
                pods.extend(p);
            }
            (a.failed, a.unread)
        }
        None => (Vec::new(), Vec::new()),
    };
    let name = match (names.as_slice(), unread.is_empty()) {
        ([one], true) => Some(one.clone()),
        _ => None,
    };
    let metrics = options.require_metrics(name)?;
    let now = Utc::now() - SETTLE;
    let at = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let end = window_end(at, policy.step);
    let (mut gpus, history) = futures::try_join!(
        metrics.gpus_at(Some(at)),
        metrics.gpu_util_history(end, &policy),
    )?;
    gpus.retain(|g| !unread.contains(&g.cluster));
    check_filter(filter, &gpus, &nodes)?;
    let report = gpu::report(
        &gpus,
        &history,
        Allocation {
            nodes: &nodes,
            pods: &pods,
        },
        policy,
        at,
        end,
        filter,
    );
    Ok((Some(report), failed))
}

/// `--demo`: the demo platform started one idle window ago and run to now a step at a time;
/// each step's utilisation is one point of each GPU's history, as each step of Prometheus's range
/// query is. The same core report as against a real cluster and Prometheus.
async fn demo_fetch(
    seed: u64,
    policy: IdlePolicy,
    filter: &GpuFilter,
) -> Result<GpuReport, CoreError> {
    let step = i64::try_from(policy.step.as_secs().max(1)).unwrap_or(60);
    let end = window_end(Utc::now(), policy.step);
    let steps = (policy.window.as_secs() / policy.step.as_secs().max(1)).max(1);
    let start = end - TimeDelta::seconds(step) * i32::try_from(steps).unwrap_or(i32::MAX);
    let demo = DemoPlatform::manual(seed, start);
    let mut history: std::collections::BTreeMap<_, Vec<(DateTime<Utc>, f64)>> =
        std::collections::BTreeMap::new();
    for k in 1..=steps {
        demo.advance(step);
        let at = start + TimeDelta::seconds(step) * i32::try_from(k).unwrap_or(i32::MAX);
        for g in MetricsPort::gpus(&demo).await? {
            let key = gpu::gpu_key(&g.uuid, &g.node, &g.index.to_string());
            history
                .entry((key, g.pod, g.namespace))
                .or_default()
                .push((at, g.util_pct));
        }
    }
    let history: Vec<UtilHistory> = history
        .into_iter()
        .map(|((key, pod, namespace), points)| UtilHistory {
            key,
            pod,
            namespace,
            points,
        })
        .collect();
    let (gpus, cluster) = futures::try_join!(MetricsPort::gpus(&demo), demo.snapshot())?;
    check_filter(filter, &gpus, &cluster.nodes)?;
    Ok(gpu::report(
        &gpus,
        &history,
        Allocation {
            nodes: &cluster.nodes,
            pods: &cluster.pods,
        },
        policy,
        end,
        end,
        filter,
    ))
}

/// A `--cluster` or `--node` that names nothing is a mistake, not an empty answer.
fn check_filter(filter: &GpuFilter, gpus: &[Gpu], nodes: &[Node]) -> Result<(), CoreError> {
    let known = |of_gpu: fn(&Gpu) -> &str, of_node: fn(&Node) -> &str| {
        gpus.iter()
            .map(of_gpu)
            .chain(nodes.iter().map(of_node))
            .map(str::to_string)
            .collect::<BTreeSet<String>>()
    };
    let check = |wanted: Option<&String>, kind: &'static str, known: BTreeSet<String>| match wanted
    {
        Some(w) if !known.contains(w) => {
            let list: Vec<String> = known.into_iter().take(20).collect();
            Err(CoreError::NotFound {
                kind,
                name: format!("{w} (known: {})", list.join(", ")),
            })
        }
        _ => Ok(()),
    };
    check(
        filter.cluster.as_ref(),
        "cluster",
        known(|g| g.cluster.as_str(), |n| n.cluster.as_str()),
    )?;
    check(
        filter.node.as_ref(),
        "node",
        known(|g| g.node.as_str(), |n| n.name.as_str()),
    )
}

fn number(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0}{unit}"))
}

fn gib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".into(),
        |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0 * 1024.0)),
    )
}

/// The columns of one node's GPUs in `mlops gpu` (the namespace of a GPU's pod is in `-o json`;
/// the pod's name alone keeps the table narrow).
fn gpu_columns() -> Vec<Column<GpuRow>> {
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    vec![
        column("GPU", true, |g: &GpuRow| g.index.to_string()),
        column("UUID", false, |g: &GpuRow| {
            g.uuid.chars().take(14).collect()
        }),
        column("UTIL", true, |g: &GpuRow| number(g.utilization, "%")),
        column("MEM GiB", true, |g: &GpuRow| {
            format!("{}/{}", gib(g.memory_used_bytes), gib(g.memory_total_bytes))
        }),
        column("POWER", true, |g: &GpuRow| number(g.power_watts, "W")),
        column("TEMP", true, |g: &GpuRow| {
            number(g.temperature_celsius, "C")
        }),
        column("POD", false, move |g: &GpuRow| or_dash(g.pod.as_deref())),
        column("MODEL", false, move |g: &GpuRow| {
            or_dash(g.model.as_deref())
        }),
        column("VERSION", true, |g: &GpuRow| version(g.version)),
        column("TRACK", false, |g: &GpuRow| {
            g.track.map_or("-", |t| t.as_str()).to_string()
        }),
        column("IDLE", false, |g: &GpuRow| {
            if g.idle { "IDLE" } else { "" }.to_string()
        }),
        column("IDLE-H", true, |g: &GpuRow| {
            format!("{:.2}", g.idle_gpu_hours)
        }),
    ]
}

/// The columns of the per-version table of `mlops gpu`: canary against stable.
fn version_columns() -> Vec<Column<gpu::VersionRow>> {
    type V = gpu::VersionRow;
    vec![
        column("MODEL", false, |v: &V| v.model.clone()),
        column("VERSION", true, |v: &V| version(v.version)),
        column("TRACK", false, |v: &V| v.track.as_str().to_string()),
        column("PODS", true, |v: &V| v.pods.to_string()),
        column("REQUESTED", true, |v: &V| v.requested.to_string()),
        column("GPUS", true, |v: &V| v.gpus.to_string()),
        column("UTIL", true, |v: &V| number(v.mean_utilization, "%")),
        column("IDLE", true, |v: &V| v.idle_gpus.to_string()),
        column("IDLE-H", true, |v: &V| format!("{:.2}", v.idle_gpu_hours)),
    ]
}

fn version(v: Option<u32>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("v{v}"))
}

/// `mlops gpu` for people: per node its allocation and GPUs, then per version canary and stable.
pub fn gpu_table(r: &GpuReport) -> String {
    let mut out = String::new();
    let count = |v: Option<u32>| v.map_or_else(|| "?".into(), |v| v.to_string());
    let gpus = gpu_columns();
    let gpus: Vec<&Column<GpuRow>> = gpus.iter().collect();
    for n in &r.nodes {
        let _ = writeln!(
            out,
            "{} ({}): {} allocatable, {} requested, {} reporting",
            safe(&n.name),
            safe(&n.cluster),
            count(n.allocatable),
            count(n.requested),
            n.gpus.len()
        );
        if n.gpus.is_empty() {
            continue;
        }
        for line in table(&gpus, &n.gpus).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !r.versions.is_empty() {
        let versions = version_columns();
        let versions: Vec<&Column<gpu::VersionRow>> = versions.iter().collect();
        let _ = writeln!(out, "\n{}", table(&versions, &r.versions));
    }
    let w = &r.idle_window;
    let _ = write!(
        out,
        "\n{} allocated GPUs idle (under {}% for the last {}), {:.2} GPU-hours wasted in that window",
        r.idle_gpus,
        w.util_threshold_pct,
        mlops_core::text::format_duration(w.window_seconds),
        r.idle_gpu_hours
    );
    out.trim_start().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_on_whole_steps() {
        let at = DateTime::from_timestamp_millis(1_000_059_999).expect("time");
        assert_eq!(
            window_end(at, Duration::from_secs(60)).timestamp_millis(),
            1_000_020_000
        );
    }

    #[test]
    fn an_empty_report_prints_the_summary() {
        let now = Utc::now();
        let r = gpu::report(
            &[],
            &[],
            Allocation::default(),
            IdlePolicy::default(),
            now,
            now,
            &GpuFilter::default(),
        );
        let text = gpu_table(&r);
        assert!(
            text.starts_with("0 allocated GPUs idle (under 5% for the last 1h)"),
            "{text}"
        );
    }
}
