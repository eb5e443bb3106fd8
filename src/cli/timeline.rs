//! `mlops timeline [--model M] [--version V] [--since 2h]`: one incident timeline — the model's
//! Kubernetes Events, its rollouts' steps and phase changes, every command with its user and
//! comment (audit), registry events, drift and metrics-store alerts and GPU XID faults — merged
//! in one time order, each entry with its source, the changes just before an alert marked. The
//! merging is the core's (`mlops_core::timeline`); this file fetches every source at once and
//! prints. A source that fails or is not configured is a warning beside the entries, never a
//! failed command while another answered.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use mlops_core::{
    CoreError,
    audit::AuditEntry,
    demo::DemoPlatform,
    model::{Alert, ClusterSnapshot, FeatureDrift, Gpu, RegisteredModel},
    text,
    timeline::{self, Entry, Inputs, Query},
};
use serde::Serialize;

use super::output::{self, Output, UsageError};
use crate::{
    app::rows,
    event_loop::Context,
    wiring::{self, Options},
};

/// How far back the demo platform starts before now (`--demo`): long enough for its canaries
/// to have been started, measured and rolled back.
const DEMO_RUN: Duration = Duration::minutes(10);

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Only this model's entries: its rollouts, Deployments, pods and nodes, audit entries,
    /// registry versions and aliases, drift and alerts (any alert with its `model` label).
    #[arg(long)]
    pub model: Option<String>,
    /// Only this version's entries and the model's entries of no version (with --model).
    #[arg(long, requires = "model")]
    pub version: Option<u32>,
    /// How far back: 90s, 30m, 2h.
    #[arg(long, default_value = "2h")]
    pub since: String,
    /// A change (a rollout step, a command, an alias moved, a tag set) this long before an
    /// alert started is marked "changed before".
    #[arg(long, default_value = "30m")]
    pub window: String,
    /// The demo platform's timeline (`mlops demo`'s) instead of a cluster, MLflow and
    /// Prometheus: the platform run for the last 10 minutes up to now.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo platform (with --demo; the same seed as `mlops demo --seed`).
    #[arg(long, default_value_t = 7, requires = "demo")]
    pub seed: u64,
}

/// What `-o json` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// The sources that did not answer (or are not configured), each in a sentence.
    pub warnings: Vec<String>,
}

pub fn run(args: &TimelineArgs, options: &Options, output: Output) -> Result<ExitCode> {
    let duration = |flag: &str, value: &str| {
        text::parse_duration(value.trim())
            .and_then(|s| i64::try_from(s).ok())
            .and_then(Duration::try_seconds)
            .ok_or_else(|| UsageError(format!("{flag} {value:?}: {}", text::DURATION_FORMS)))
    };
    let since = duration("--since", &args.since)?;
    let window = duration("--window", &args.window)?;
    let runtime = wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let (ports, problems) = if args.demo {
            (demo_ports(args.seed, options), Vec::new())
        } else {
            let backends = wiring::real(options).await;
            (backends.ports, backends.problems)
        };
        let now = (ports.clock)();
        let query = Query {
            model: args.model.clone(),
            version: args.version,
            since: now - since,
            window,
        };
        let report = report(
            &ports,
            &query,
            now,
            options.settings.drift.alert_after,
            problems,
        );
        report.await.map(|r| (r, now))
    });
    match result {
        Ok((report, now)) => {
            for w in &report.warnings {
                eprintln!("mlops: warning: {}", output::safe(w));
            }
            output::print(&output::render(output, &report, |r| table(&r.entries, now)));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(output::finish(Err(e))),
    }
}

/// The demo platform behind every port, started [`DEMO_RUN`] ago and run up to now.
fn demo_ports(seed: u64, options: &Options) -> Context {
    let demo = DemoPlatform::manual(seed, Utc::now() - DEMO_RUN);
    demo.advance(DEMO_RUN.num_seconds());
    let clock = demo.clone();
    let p = std::sync::Arc::new(demo);
    Context {
        cluster: Some(p.clone()),
        registry: Some(p.clone()),
        metrics: Some(p.clone()),
        audit: Some(p.clone()),
        serving: Some(p),
        serving_windows: options.settings.slo.config().ratio_windows(),
        clock: std::sync::Arc::new(move || clock.now()),
        timeout: options.timeout,
        runs_page_size: crate::config::settings::RUNS_PAGE_SIZE,
        switcher: None,
    }
}

/// Every source fetched at once; each one's failure a warning. Fails only when no source
/// answered.
async fn report(
    ports: &Context,
    query: &Query,
    now: DateTime<Utc>,
    drift_windows: usize,
    problems: Vec<String>,
) -> Result<Report, CoreError> {
    let (snapshot, audit, models, drift, alerts, gpus) = fetch(ports, query).await;
    let mut warnings = problems;
    let mut failed = Vec::new();
    for (name, error) in [
        ("kubernetes", snapshot.as_ref().err()),
        ("audit", audit.as_ref().err()),
        ("registry", models.as_ref().err()),
        ("drift", drift.as_ref().err()),
        ("alerts", alerts.as_ref().err()),
        ("gpus", gpus.as_ref().err()),
    ] {
        if let Some(e) = error {
            warnings.push(format!("{name}: {e}"));
            failed.push(e.clone());
        }
    }
    let answered = 6 - failed.len();
    if answered == 0 {
        return Err(failed.swap_remove(0));
    }
    let entries = timeline::build(
        &Inputs {
            snapshot: snapshot.as_ref().ok(),
            audit: audit.as_deref().unwrap_or_default(),
            models: models.as_deref().unwrap_or_default(),
            drift: drift.as_deref().unwrap_or_default(),
            alerts: alerts.as_deref().unwrap_or_default(),
            gpus: gpus.as_deref().unwrap_or_default(),
            at: now,
            drift_windows,
        },
        query,
    );
    Ok(Report { entries, warnings })
}

type Fetched = (
    Result<ClusterSnapshot, CoreError>,
    Result<Vec<AuditEntry>, CoreError>,
    Result<Vec<RegisteredModel>, CoreError>,
    Result<Vec<FeatureDrift>, CoreError>,
    Result<Vec<Alert>, CoreError>,
    Result<Vec<Gpu>, CoreError>,
);

/// Each source through its port, all at once; a port not configured answers so.
async fn fetch(ports: &Context, query: &Query) -> Fetched {
    let missing = |what: &str| CoreError::not_configured(what, "");
    let snapshot = async {
        match &ports.cluster {
            Some(c) => c.snapshot().await,
            None => Err(missing("the cluster")),
        }
    };
    let audit = async {
        match &ports.audit {
            Some(a) => a.entries().await,
            None => Err(missing("the audit log")),
        }
    };
    let models = async {
        match (&ports.registry, &query.model) {
            // One model with every version and tag.
            (Some(r), Some(m)) => r.model(m).await.map(|m| vec![m]),
            (Some(r), None) => r.models().await,
            (None, _) => Err(missing("the model registry")),
        }
    };
    let metrics = |what: &'static str| {
        ports
            .metrics
            .clone()
            .ok_or_else(|| missing(&format!("the metrics store ({what})")))
    };
    let drift = async { metrics("drift")?.drift().await };
    let alerts = async { metrics("alerts")?.alerts(query.since).await };
    let gpus = async { metrics("GPUs")?.gpus().await };
    tokio::join!(snapshot, audit, models, drift, alerts, gpus)
}

/// The console's Timeline columns, how long ago after the time.
fn table(entries: &[Entry], now: DateTime<Utc>) -> String {
    let columns = rows::timeline::columns();
    let ago = super::table::column("AGO", true, move |e: &Entry| timeline::ago(e.time, now));
    let mut shown = super::table::pick(&columns, &["time"]);
    shown.push(&ago);
    shown.extend(super::table::pick(
        &columns,
        &["mark", "source", "kind", "model", "summary"],
    ));
    super::table::table(&shown, entries)
}
