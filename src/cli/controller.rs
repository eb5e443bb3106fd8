//! `mlops controller`: the rollout reconcile loop, headless and leader-elected.

use std::{process::ExitCode, sync::Arc};

use anyhow::Result;
use clap::Args;
use mlops_core::ports::{QueryPort, RegistryPort};

use crate::{
    adapters::kube::KubeCluster,
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
    /// Watch only this namespace (a namespace-scoped install: a Role there, no ClusterRole);
    /// the Lease is then in this namespace too. Default: every namespace.
    #[arg(long, env = "MLOPS_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Connect as the pod's ServiceAccount: the token and CA in this folder (the in-cluster
    /// paths by default) and the API server from KUBERNETES_SERVICE_HOST/PORT. Used without
    /// the flag when KUBERNETES_SERVICE_HOST is set and neither --context nor KUBECONFIG is.
    #[arg(long, env = "MLOPS_SERVICE_ACCOUNT_DIR")]
    pub service_account_dir: Option<std::path::PathBuf>,
    /// Pass every rollout under way at least this often (seconds) whatever changed, the safety
    /// net under the watches: rollouts are passed when something they depend on changes (their
    /// Deployments' readiness, their spec, a command) or their next step falls due.
    #[arg(long, env = "MLOPS_CONTROLLER_SAFETY_RESYNC", default_value_t = controller::SAFETY_RESYNC.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub safety_resync: u64,
    /// Pass every rollout under way every SECONDS (or its analysis interval, if shorter) whether
    /// or not anything changed, as the controller did before: only to compare against.
    #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub resync_every: Option<u64>,
    #[command(flatten)]
    pub webhooks: super::triggers::WebhookArgs,
}

/// When the controller passes rollouts, from its flags.
fn schedule(args: &ControllerArgs) -> controller::Schedule {
    use std::time::Duration;
    match args.resync_every {
        Some(s) => controller::Schedule::Clock {
            every: Duration::from_secs(s),
        },
        None => controller::Schedule::OnChange {
            resync: Duration::from_secs(args.safety_resync),
        },
    }
}

/// Where the controller's credentials come from: the kubeconfig, or the pod's ServiceAccount.
fn in_cluster_dir(args: &ControllerArgs, options: &Options) -> Option<std::path::PathBuf> {
    use crate::adapters::kube::incluster::SERVICE_ACCOUNT_DIR;
    let in_a_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        && options.context.is_none()
        && std::env::var_os("KUBECONFIG").is_none_or(|k| k.is_empty());
    args.service_account_dir
        .clone()
        .or_else(|| in_a_pod.then(|| SERVICE_ACCOUNT_DIR.into()))
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
        // The controller acts on every namespace: `-n` does not narrow it (--watch-namespace does).
        let cluster = match in_cluster_dir(args, options) {
            Some(dir) => KubeCluster::connect_in_cluster(&dir, options.timeout).await?,
            None => {
                KubeCluster::connect_with(options.single_context()?, None, options.timeout).await?
            }
        };
        let cluster = match &args.watch_namespace {
            Some(ns) => cluster.watching_only(ns)?,
            None => cluster,
        };
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
            schedule: schedule(args),
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
