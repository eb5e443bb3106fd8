//! `mlops health [--model M] [--window 5m] [--fail-on-page]`: serving health per model version
//! and track — request rate, error ratio, latency quantiles, replicas, GPUs and the SLO's burn
//! and alert — from Prometheus through the `[serving]` runtime mapping and the cluster's serving
//! Deployments (or `--demo`'s simulated platform), put together by the core
//! (`mlops_core::serving::assemble`), the same rows as the console's Serving view.
//! `mlops slo rules` writes the SLOs' Prometheus recording and alerting rules.

use std::{fmt::Write as _, process::ExitCode};

use anyhow::Result;
use chrono::Utc;
use clap::{Args, Subcommand};
use mlops_core::{
    CoreError,
    demo::DemoPlatform,
    model::{Deployment, Pod},
    ports::{ClusterPort, ServingPort},
    serving::{self, HealthReport, Inputs, SignalRequest, rules},
};

use super::{
    output::{self, Output, UsageError, safe},
    table::{pick, table},
};
use crate::{
    app::rows::serving::columns,
    wiring::{self, Options},
};

/// Exit code of `--fail-on-page` when a model version pages.
pub const PAGE_EXIT: u8 = 3;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Only this model's versions.
    #[arg(long)]
    pub model: Option<String>,
    /// The window of the rates and quantiles, e.g. 1m, 5m, 1h (the burn rates have their own).
    #[arg(long, default_value = "5m")]
    pub window: String,
    /// Exit 3 when a model version's SLO alert is a page (for scripts and cron).
    #[arg(long)]
    pub fail_on_page: bool,
    /// The demo platform's serving, as `mlops demo --seed` opens on it.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo platform (with --demo).
    #[arg(long, default_value_t = 7, requires = "demo")]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum SloCmd {
    /// The Prometheus recording and alerting rules of the SLOs in config.toml (`[slo]`), reading
    /// the `[serving]` runtime's series; `-o yaml` (default) or `-o json`. Load the file with
    /// Prometheus's `rule_files`.
    Rules,
}

pub fn run(args: &HealthArgs, options: &Options, output: Output) -> Result<ExitCode> {
    for e in &options.config_errors {
        eprintln!("warning: {e}");
    }
    let window = mlops_core::text::parse_duration(args.window.trim())
        .filter(|s| *s >= 60)
        .ok_or_else(|| {
            UsageError(format!(
                "--window {:?}: a duration of a minute or more, like 5m or 1h",
                args.window
            ))
        })?;
    let runtime = wiring::tokio_runtime(1)?;
    let result = if args.demo {
        runtime.block_on(demo_report(args.seed, options, window))
    } else {
        runtime.block_on(report(options, window))
    };
    let mut report = match result {
        Ok(r) => r,
        Err(e) => return Ok(output::finish(Err(e))),
    };
    if let Some(m) = &args.model {
        report.models.retain(|h| &h.model == m);
        if report.models.is_empty() {
            report
                .warnings
                .push(format!("no serving health for model {m:?}"));
        }
    }
    output::print(&output::render(output, &report, health_table));
    if args.fail_on_page && !report.paging_models().is_empty() {
        return Ok(ExitCode::from(PAGE_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

fn request(options: &Options, window: u64) -> SignalRequest {
    SignalRequest {
        window_seconds: window,
        ratio_windows: options.settings.slo.config().ratio_windows(),
        history: None,
    }
}

/// Deployments and pods of every cluster named (`--context a,b`); the metrics store's series
/// name their clusters. A cluster that cannot be read is a warning naming it; the others' rows
/// are kept.
async fn every_cluster(options: &Options) -> (String, Vec<Deployment>, Vec<Pod>, Vec<String>) {
    match futures::try_join!(
        super::each_cluster(options, true, async |c| c.deployments().await),
        super::each_cluster(options, true, async |c| c.pods().await),
    ) {
        Ok((d, p)) => {
            let mut warnings: Vec<String> = Vec::new();
            for e in d.failed.iter().chain(&p.failed) {
                let said = e.to_string();
                if !warnings.contains(&said) {
                    warnings.push(said);
                }
            }
            (String::new(), d.items, p.items, warnings)
        }
        Err(e) => (
            String::new(),
            Vec::new(),
            Vec::new(),
            vec![format!("the clusters: {e}")],
        ),
    }
}

async fn report(options: &Options, window: u64) -> Result<HealthReport, CoreError> {
    // Without a cluster the rows have no replicas; the metrics store alone still answers.
    let (cluster, deployments, pods, mut warnings) = if options.is_multi() {
        every_cluster(options).await
    } else if options.has_cluster() {
        let mut all = options.clone();
        all.namespace = None;
        match all.cluster().await {
            Ok(c) => match futures::try_join!(c.deployments(), c.pods()) {
                Ok((d, p)) => (c.describe_context(), d, p, Vec::new()),
                Err(e) => (
                    c.describe_context(),
                    Vec::new(),
                    Vec::new(),
                    vec![format!("the cluster: {e}")],
                ),
            },
            Err(e) => (
                String::new(),
                Vec::new(),
                Vec::new(),
                vec![format!("the cluster: {e}")],
            ),
        }
    } else {
        (String::new(), Vec::new(), Vec::new(), Vec::new())
    };
    let metrics = options.require_metrics(Some(cluster.clone()))?;
    let signals = metrics.serving_signals(&request(options, window)).await?;
    let mut r = assemble(&signals, &cluster, &deployments, &pods, options, window);
    r.warnings.append(&mut warnings);
    Ok(r)
}

async fn demo_report(seed: u64, options: &Options, window: u64) -> Result<HealthReport, CoreError> {
    // As `mlops demo --seed` opens: the platform has run its warm-up up to now.
    let demo = DemoPlatform::manual(seed, Utc::now());
    let snapshot = demo.snapshot().await?;
    let signals = demo.serving_signals(&request(options, window)).await?;
    Ok(assemble(
        &signals,
        "demo",
        &snapshot.deployments,
        &snapshot.pods,
        options,
        window,
    ))
}

fn assemble(
    signals: &serving::Signals,
    cluster: &str,
    deployments: &[Deployment],
    pods: &[Pod],
    options: &Options,
    window: u64,
) -> HealthReport {
    serving::assemble(
        signals,
        &Inputs {
            cluster,
            deployments,
            pods,
            slos: &options.settings.slo.config(),
            window_seconds: window,
            now: Utc::now(),
        },
    )
}

/// The table: the console's Serving columns, then the warnings.
pub fn health_table(r: &HealthReport) -> String {
    let all = columns();
    let cols = pick(
        &all,
        &[
            "model", "version", "track", "cluster", "rps", "errors", "p50", "p95", "p99",
            "replicas", "gpus", "burn1h", "budget", "alert",
        ],
    );
    let mut out = table(&cols, &r.models);
    for w in &r.warnings {
        let _ = write!(out, "\nwarning: {}", safe(w));
    }
    for h in r.models.iter().filter_map(|h| h.source.missing.as_ref()) {
        let _ = write!(out, "\n{}", safe(h));
    }
    out
}

/// `mlops slo rules`.
pub fn slo(command: &SloCmd, options: &Options, output: Output) -> Result<ExitCode> {
    for e in &options.config_errors {
        eprintln!("warning: {e}");
    }
    match command {
        SloCmd::Rules => {
            let file = rules::rules(
                &options.settings.slo.config(),
                &options.settings.serving.mapping(),
            );
            output::print(&output::render(output, &file, output::yaml));
            Ok(ExitCode::SUCCESS)
        }
    }
}
