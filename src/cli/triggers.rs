//! `mlops triggers list|get`: the RolloutTriggers in the cluster, the last event each received
//! (verified or rejected, and why) and the rollout it started; and the flags with which
//! `mlops controller` receives MLflow's webhooks and polls the registry for them.

use std::{fmt::Write as _, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Result;
use clap::Subcommand;
use mlops_core::{CoreError, ports::RegistryPort, triggers::TriggerRecord};

use super::{
    cluster_verb,
    output::{self, Output},
    table,
};
use crate::{
    adapters::kube::{KubeCluster, names::check_object_name, triggers::WEBHOOK_SECRET_NAME},
    controller::{
        self, serve,
        triggers::{DEFAULT_POLL_EVERY, TriggerConfig, Triggers},
        webhook,
    },
    wiring::Options,
};

#[derive(Debug, Subcommand)]
pub enum TriggersCmd {
    /// List the RolloutTriggers (all namespaces unless -n is given): model, condition,
    /// Deployment, the last event and what it started.
    List,
    /// One RolloutTrigger: its spec, its Ready condition, the last event (verified or rejected,
    /// and why) and the rollout it started.
    Get { name: String },
}

/// How `mlops controller` receives MLflow's webhooks for RolloutTriggers, and polls for them.
#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    /// Where to receive MLflow's webhooks, over https only (POST /webhooks/mlflow): IP:PORT,
    /// :PORT, or off. Needs --webhook-cert, --webhook-key and --webhook-secret.
    #[arg(long, env = "MLOPS_CONTROLLER_WEBHOOK_ADDR", default_value = "off", value_parser = serve::parse_metrics_addr)]
    pub webhook_addr: serve::MetricsAddr,
    /// The receiver's TLS certificate chain (PEM).
    #[arg(long, env = "MLOPS_CONTROLLER_WEBHOOK_CERT")]
    pub webhook_cert: Option<PathBuf>,
    /// The receiver's TLS private key (PEM).
    #[arg(long, env = "MLOPS_CONTROLLER_WEBHOOK_KEY")]
    pub webhook_key: Option<PathBuf>,
    /// NAMESPACE/mlops-webhook: the Secret whose key `secret` is the shared secret of MLflow's
    /// webhooks (read for every delivery; never logged).
    #[arg(long, env = "MLOPS_CONTROLLER_WEBHOOK_SECRET", value_parser = parse_secret_ref)]
    pub webhook_secret: Option<(String, String)>,
    /// Seconds between polls of the registry for the RolloutTriggers (the backstop for
    /// deliveries that never arrive).
    #[arg(long, env = "MLOPS_CONTROLLER_TRIGGER_POLL", default_value_t = DEFAULT_POLL_EVERY.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub trigger_poll: u64,
}

/// `NAMESPACE/NAME` of the webhook Secret.
fn parse_secret_ref(text: &str) -> Result<(String, String), String> {
    let Some((ns, name)) = text.trim().split_once('/') else {
        return Err(format!(
            "{:?} is not NAMESPACE/NAME (e.g. mlops-system/{WEBHOOK_SECRET_NAME})",
            mlops_core::text::truncate(text, 80)
        ));
    };
    for part in [ns, name] {
        check_object_name("Secret", part).map_err(|e| e.to_string())?;
    }
    Ok((ns.to_string(), name.to_string()))
}

/// Start the triggers' poll and, with `--webhook-addr`, the https receiver (bound now, so a
/// port that cannot be bound or a certificate that cannot be read ends the command before it
/// acts).
pub async fn start_triggers(
    args: &WebhookArgs,
    options: &Options,
    cluster: &KubeCluster,
    registry: Option<Arc<dyn RegistryPort>>,
    id: &str,
    telemetry: &Arc<controller::Telemetry>,
) -> Result<(), CoreError> {
    let policy = super::policy::load_policy(options)?;
    let ctx = Arc::new(controller::Context {
        cluster: cluster.clone(),
        metrics: None,
        registry,
        id: id.to_string(),
        concurrency: 1,
        telemetry: telemetry.clone(),
        schedule: controller::Schedule::default(),
    });
    let triggers = Triggers::new(
        ctx,
        TriggerConfig {
            templates: options.settings.templates(),
            policy,
            secret: args.webhook_secret.clone(),
            poll_every: Duration::from_secs(args.trigger_poll),
        },
    );
    if let serve::MetricsAddr(Some(addr)) = args.webhook_addr {
        let (Some(cert), Some(key)) = (&args.webhook_cert, &args.webhook_key) else {
            return Err(CoreError::backend(
                "controller",
                "--webhook-addr needs --webhook-cert and --webhook-key: webhooks are received over https only",
            ));
        };
        if args.webhook_secret.is_none() {
            return Err(CoreError::backend(
                "controller",
                format!(
                    "--webhook-addr needs --webhook-secret NAMESPACE/{WEBHOOK_SECRET_NAME}: deliveries are verified with it"
                ),
            ));
        }
        let tls = webhook::tls_acceptor(cert, key)?;
        let listener = webhook::bind(addr).await?;
        if let Ok(bound) = listener.local_addr() {
            tracing::info!(%bound, "receiving MLflow webhooks over https");
        }
        tokio::spawn(webhook::serve(listener, tls, triggers.clone()));
    }
    tokio::spawn(triggers.poll_forever());
    Ok(())
}

pub fn run(cmd: &TriggersCmd, options: &Options, output: Output) -> Result<ExitCode> {
    match cmd {
        TriggersCmd::List => super::cluster_read(async || {
            let answers = super::each_cluster(options, false, async |c| c.triggers().await).await?;
            Ok(answers.printed(|a| {
                output::render(output, &a.items, |all| trigger_table(all, a.several()))
            }))
        }),
        TriggersCmd::Get { name } => {
            check_object_name("RolloutTrigger", name)?;
            cluster_verb(options, async |c| {
                let t = c.trigger(&c.default_namespace(), name).await?;
                Ok(output::render(output, &t, trigger_detail))
            })
        }
    }
}

fn condition(t: &TriggerRecord) -> String {
    t.spec
        .when
        .condition()
        .map_or_else(|e| format!("invalid: {e}"), |c| c.to_string())
}

fn last(t: &TriggerRecord) -> String {
    t.status.last_event.as_ref().map_or_else(
        || "none".to_string(),
        |e| {
            format!(
                "{} {}{} ({})",
                e.verdict,
                e.kind,
                e.version.map(|v| format!(" v{v}")).unwrap_or_default(),
                e.delivery_id
            )
        },
    )
}

fn ready(t: &TriggerRecord) -> String {
    match t.status.not_ready() {
        Some((reason, _)) => format!("False ({reason})"),
        None if t.status.conditions.is_empty() => "unknown".into(),
        None => "True".into(),
    }
}

/// `mlops triggers list`; a CLUSTER column first when `clusters` (several were read).
fn trigger_table(all: &[TriggerRecord], clusters: bool) -> String {
    let cluster = table::column("CLUSTER", false, |t: &TriggerRecord| t.cluster.clone());
    let cols = [
        table::column("NAMESPACE", false, |t: &TriggerRecord| t.namespace.clone()),
        table::column("NAME", false, |t: &TriggerRecord| t.name.clone()),
        table::column("MODEL", false, |t: &TriggerRecord| t.spec.model.clone()),
        table::column("WHEN", false, condition),
        table::column("DEPLOYMENT", false, |t: &TriggerRecord| {
            t.spec.deployment.clone()
        }),
        table::column("READY", false, ready),
        table::column("LAST EVENT", false, last),
        table::column("STARTED", false, |t: &TriggerRecord| {
            t.status.started_rollout.clone().unwrap_or_default()
        }),
    ];
    let mut shown = if clusters { vec![&cluster] } else { Vec::new() };
    shown.extend(cols.iter());
    table::table(&shown, all)
}

fn trigger_detail(t: &TriggerRecord) -> String {
    let mut out = format!(
        "name:       {}/{}\nmodel:      {}\nwhen:       {}\ndeployment: {}\ntemplate:   {}\nready:      {}\n",
        output::safe(&t.namespace),
        output::safe(&t.name),
        output::safe(&t.spec.model),
        output::safe(&condition(t)),
        output::safe(&t.spec.deployment),
        output::safe(&t.spec.template),
        ready(t),
    );
    if let Some((_, message)) = t.status.not_ready() {
        let _ = writeln!(out, "            {}", output::safe(message));
    }
    match &t.status.last_event {
        Some(e) => {
            let _ = writeln!(
                out,
                "last event: {} {}{} at {} (delivery {})\n            {}",
                e.verdict,
                output::safe(&e.kind),
                e.version.map(|v| format!(" v{v}")).unwrap_or_default(),
                e.time.format("%Y-%m-%d %H:%M:%S UTC"),
                output::safe(&e.delivery_id),
                output::safe(&e.reason)
            );
        }
        None => out.push_str("last event: none\n"),
    }
    let _ = writeln!(
        out,
        "started:    {}",
        output::safe(t.status.started_rollout.as_deref().unwrap_or("nothing yet"))
    );
    if let Some(at) = t.status.poll.polled_at {
        let _ = writeln!(out, "polled:     {}", at.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    out
}
