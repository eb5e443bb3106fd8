//! `mlops controller`: the rollout reconcile loop, headless and leader-elected.

use std::{process::ExitCode, sync::Arc};

use anyhow::Result;
use clap::Args;
use mlops_core::ports::{QueryPort, RegistryPort};

use crate::{
    controller::{self, serve},
    logging,
    wiring::{self, Options},
};

#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// This replica's identity in the Lease (default: host name and process id).
    #[arg(long)]
    pub id: Option<String>,
    /// Reconcile passes run at once, at most.
    #[arg(long, default_value_t = controller::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Where to serve /metrics, /healthz and /readyz: IP:PORT, :PORT, or off. Every replica
    /// serves them; /readyz answers 200 once the ModelRollouts are listed and the lease is read.
    #[arg(
        long,
        env = "MLOPS_CONTROLLER_METRICS_ADDR",
        default_value = serve::DEFAULT_METRICS_ADDR,
        value_parser = serve::parse_metrics_addr,
    )]
    pub metrics_addr: serve::MetricsAddr,
    #[command(flatten)]
    pub webhooks: super::triggers::WebhookArgs,
}

pub fn run(args: &ControllerArgs, options: &Options) -> Result<ExitCode> {
    logging::init_stderr();
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", wiring::hostname(), std::process::id()));
    let runtime = wiring::tokio_runtime(2)?;
    let result = runtime.block_on(async {
        let telemetry = Arc::new(controller::Telemetry::new(&id, options.timeout));
        // First, so a port that cannot be bound ends the command before it acts.
        if let serve::MetricsAddr(Some(addr)) = args.metrics_addr {
            let listener = serve::bind(addr).await?;
            if let Ok(bound) = listener.local_addr() {
                tracing::info!(%bound, "serving /metrics, /healthz and /readyz");
            }
            tokio::spawn(serve::serve(listener, telemetry.clone()));
        }
        // The controller acts on every namespace: `-n` does not narrow it.
        let cluster = crate::adapters::kube::KubeCluster::connect_with(
            options.context.as_deref(),
            None,
            options.timeout,
        )
        .await?;
        let metrics = options
            .metrics(Some(cluster.describe_context()))
            .transpose()?
            .map(|m| Arc::new(m) as Arc<dyn QueryPort>);
        let registry = options
            .registry()
            .transpose()?
            .map(|r| Arc::new(r) as Arc<dyn RegistryPort>);
        // RolloutTriggers: the https receiver of MLflow's webhooks (bound first too) and the poll.
        super::triggers::start_triggers(
            &args.webhooks,
            options,
            &cluster,
            registry.clone(),
            &id,
            &telemetry,
        )
        .await?;
        controller::run(controller::Context {
            cluster,
            metrics,
            registry,
            id,
            concurrency: args.concurrency,
            telemetry,
        })
        .await
    });
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("mlops controller: {}", super::output::error_text(&e));
            Ok(ExitCode::FAILURE)
        }
    }
}
