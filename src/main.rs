//! `mlops`: the command line. Parses arguments, loads configuration, and starts the console,
//! the demo, or a CLI verb.

use std::{fmt::Write as _, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Result;
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use mlops_console::adapters::{
    kube::KubeCluster,
    mlflow::{Auth as MlflowAuth, MlflowRegistry},
    prometheus::PrometheusMetrics,
};
use mlops_console::{
    app::{App, state::BackendInfo},
    config::{self, ColorDepth},
    controller, logging, runtime,
};
use mlops_core::{
    demo::DemoPlatform,
    ports::{ClusterPort, MetricsPort, RegistryPort},
    rollout,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Debug, Parser)]
#[command(name = "mlops", version, about = "A terminal operations console for ML platforms", long_about = None)]
struct Cli {
    /// Kubeconfig context to use (as kubectl's --context).
    #[arg(long, global = true, env = "MLOPS_CONTEXT")]
    context: Option<String>,
    /// Namespace (as kubectl's -n).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// Prometheus base URL.
    #[arg(long, global = true, env = "MLOPS_PROMETHEUS_URL")]
    prometheus_url: Option<String>,
    /// Theme: dark, light, high-contrast, colorblind, monochrome, or a user theme.
    #[arg(long, global = true)]
    theme: Option<String>,
    /// Refuse every mutation.
    #[arg(long, global = true)]
    readonly: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the console against the embedded, simulated ML platform: no configuration, no network.
    Demo {
        /// Seed of the simulation; the same seed gives the same platform.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Run simulated time this many times faster than the wall clock.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Install the ModelRollout custom resource definition into the cluster (idempotent).
    Install {
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Canary rollouts (ModelRollout resources) in the cluster.
    Rollout {
        #[command(subcommand)]
        command: RolloutCmd,
    },
    /// Run the rollout reconcile loop headless (in the cluster, or anywhere with a kubeconfig).
    /// Several replicas may run: only the holder of the mlops-system/mlops-controller Lease acts.
    Controller {
        /// This replica's identity in the Lease (default: host name and process id).
        #[arg(long)]
        id: Option<String>,
        /// Reconcile passes run at once, at most.
        #[arg(long, default_value_t = controller::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
}

#[derive(Debug, Subcommand)]
enum RolloutCmd {
    /// List the step templates `start --template` takes: shipped ones and the user's
    /// `[templates.NAME]` in config.toml.
    Templates {
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// List rollouts (all namespaces unless -n is given).
    List {
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Start a canary rollout of a validated model version against its serving Deployment (what a
    /// CI/CD pipeline calls).
    Start {
        /// The registered model.
        #[arg(long)]
        model: String,
        /// The version to roll out.
        #[arg(long)]
        version: u32,
        /// Step template: canary, canary-approval, quick, or one of yours from config.toml
        /// (`mlops rollout templates` lists them).
        #[arg(long, default_value = "canary")]
        template: String,
        /// Container image; default: the version's `image` tag in the registry (MLFLOW_TRACKING_URI).
        #[arg(long)]
        image: Option<String>,
        /// The serving Deployment; default: the model's name.
        #[arg(long)]
        deployment: Option<String>,
        /// Approvers an approval step needs.
        #[arg(long, default_value_t = 1)]
        approvers: u32,
        /// Follow the rollout; exit 0 only when it is Promoted.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Approve a rollout waiting at an approval gate, as the user the cluster says you are.
    Approve {
        name: String,
        /// Why: goes to the rollout's approvals and the audit trail.
        #[arg(long)]
        comment: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Skip the current step (a pause, a weight), or with --full go straight to promotion.
    /// An approval gate cannot be skipped.
    Promote {
        name: String,
        #[arg(long)]
        full: bool,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Abort: all traffic back to stable.
    Abort {
        name: String,
        /// Why: goes to the status and the audit trail.
        #[arg(long)]
        reason: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Roll back a rollout under way.
    Rollback {
        name: String,
        #[arg(long)]
        reason: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Hold the rollout where it is.
    Pause {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Let a paused rollout go on.
    Resume {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Show one rollout: spec, status, history.
    Get {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Validate every config file and the embedded defaults; print every error with file and line.
    Check {
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Print the config directory.
    Path,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mlops: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The steps of a template by name, from the shipped ones and the user's config.toml.
fn find_template(name: &str) -> Result<Vec<rollout::Step>> {
    let loaded = config::load(&config::config_dir(), None, ColorDepth::Monochrome);
    let all = loaded.settings.templates();
    if let Some(t) = all.iter().find(|t| t.name == name) {
        return Ok(t.steps.clone());
    }
    let known: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    let why = format!("unknown template {name:?} (known: {})", known.join(", "));
    if loaded.errors.is_empty() {
        anyhow::bail!(why)
    }
    let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    anyhow::bail!(
        "{why}; config.toml has errors, so its templates were not read:\n  {}",
        errors.join("\n  ")
    )
}

/// Whether a subcommand changes anything in a cluster.
fn mutates(cmd: Option<&Cmd>) -> bool {
    match cmd {
        Some(Cmd::Install { .. } | Cmd::Controller { .. }) => true,
        Some(Cmd::Rollout { command }) => !matches!(
            command,
            RolloutCmd::List { .. } | RolloutCmd::Get { .. } | RolloutCmd::Templates { .. }
        ),
        _ => false,
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    if mutates(cli.command.as_ref()) {
        let readonly_config = config::load(&config::config_dir(), None, ColorDepth::Monochrome)
            .settings
            .readonly;
        if cli.readonly || readonly_config {
            anyhow::bail!(
                "read-only mode (--readonly or readonly = true in config.toml): this command would change the cluster"
            );
        }
    }
    match &cli.command {
        Some(Cmd::Config {
            command: ConfigCmd::Check { output },
        }) => Ok(config_check(*output)),
        Some(Cmd::Config {
            command: ConfigCmd::Path,
        }) => {
            println!("{}", config::config_dir().display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Demo { seed, speed }) => {
            if !speed.is_finite() || *speed < 0.0 {
                anyhow::bail!("--speed must be a number ≥ 0, got {speed}");
            }
            console(cli, Some((*seed, *speed)))
        }
        Some(Cmd::Install { output }) => cluster_verb(cli, |c| async move {
            let name = mlops_console::crd::install(c.client(), Duration::from_secs(60)).await?;
            Ok(match output {
                Output::Json => serde_json::to_string_pretty(
                    &serde_json::json!({"crd": name, "established": true}),
                )
                .unwrap_or_default(),
                Output::Table => format!("installed {name} (established)"),
            })
        }),
        Some(Cmd::Rollout {
            command: RolloutCmd::Templates { output },
        }) => {
            let loaded = config::load(&config::config_dir(), None, ColorDepth::Monochrome);
            for e in &loaded.errors {
                eprintln!("warning: {e}");
            }
            let all = loaded.settings.templates();
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&all)?),
                Output::Table => {
                    for t in &all {
                        let steps: Vec<String> = t.steps.iter().map(ToString::to_string).collect();
                        println!(
                            "{:<18} {:<8} {}\n{:<27} {}",
                            t.name,
                            if t.builtin { "shipped" } else { "config" },
                            t.description,
                            "",
                            steps.join(" → ")
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Rollout {
            command: RolloutCmd::List { output },
        }) => {
            let output = *output;
            cluster_verb(cli, move |c| async move {
                let rollouts = c.rollouts().await?;
                Ok(match output {
                    Output::Json => serde_json::to_string_pretty(&rollouts).unwrap_or_default(),
                    Output::Table => rollout_table(&rollouts),
                })
            })
        }
        Some(Cmd::Rollout {
            command: RolloutCmd::Get { name, output },
        }) => {
            let (name, output) = (name.clone(), *output);
            cluster_verb(cli, move |c| async move {
                let ns = c.default_namespace();
                let r = c.rollout(&ns, &name).await?;
                Ok(match output {
                    Output::Json => serde_json::to_string_pretty(&r).unwrap_or_default(),
                    Output::Table => rollout_detail(&r),
                })
            })
        }
        Some(Cmd::Rollout {
            command:
                c @ (RolloutCmd::Promote { .. }
                | RolloutCmd::Abort { .. }
                | RolloutCmd::Rollback { .. }
                | RolloutCmd::Pause { .. }
                | RolloutCmd::Resume { .. }),
        }) => operator_verb(cli, c),
        Some(Cmd::Rollout {
            command:
                RolloutCmd::Approve {
                    name,
                    comment,
                    output,
                },
        }) => {
            let (name, comment, output) = (name.clone(), comment.clone(), *output);
            if comment.trim().is_empty() {
                anyhow::bail!("--comment must say why (it goes to the audit trail)");
            }
            cluster_verb(cli, move |c| async move {
                let ns = c.default_namespace();
                let user = c.identity().await?;
                let r = c.approve_as(&ns, &name, &user, &comment).await?;
                Ok(match output {
                    Output::Json => serde_json::to_string_pretty(&r).unwrap_or_default(),
                    Output::Table => format!(
                        "{user} approved {ns}/{name}: {}/{} approvals",
                        r.status.approvals.len(),
                        r.spec.approval.required
                    ),
                })
            })
        }
        Some(Cmd::Rollout {
            command:
                RolloutCmd::Start {
                    model,
                    version,
                    template,
                    image,
                    deployment,
                    approvers,
                    wait,
                    timeout,
                    output,
                },
        }) => {
            let steps = find_template(template)?;
            let (model, version, image, approvers, wait, timeout, output) = (
                model.clone(),
                *version,
                image.clone(),
                *approvers,
                *wait,
                *timeout,
                *output,
            );
            let deployment = deployment.clone().unwrap_or_else(|| model.clone());
            cluster_verb(cli, move |c| async move {
                let ns = c.default_namespace();
                let image = match image {
                    Some(i) => i,
                    None => image_from_registry(&model, version).await?,
                };
                let serving = c.serving(&ns, &deployment).await?;
                let spec = rollout::RolloutSpec {
                    model: rollout::ModelRef {
                        name: model.clone(),
                        version,
                    },
                    stable_version: serving.version,
                    deployment: deployment.clone(),
                    image,
                    replicas: serving.replicas.max(1),
                    http_route: None,
                    steps,
                    analysis: rollout::default_analysis(&model),
                    approval: rollout::ApprovalGate {
                        required: approvers,
                    },
                };
                rollout::validate(&spec)?;
                let name = format!("{model}-v{version}");
                let mut record = c.create_rollout(&ns, &name, spec).await?;
                if wait {
                    record = wait_until_done(&c, &ns, &name, Duration::from_secs(timeout)).await?;
                }
                Ok(match output {
                    Output::Json => serde_json::to_string_pretty(&record).unwrap_or_default(),
                    Output::Table => format!(
                        "started {ns}/{name}: {} v{} → v{version}, {} steps",
                        record.spec.model.name,
                        record.spec.stable_version,
                        record.spec.steps.len()
                    ),
                })
            })
        }
        Some(Cmd::Controller { id, concurrency }) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("MLOPS_LOG")
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .try_init();
            let id = id
                .clone()
                .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let result = runtime.block_on(async {
                let cluster = KubeCluster::connect(cli.context.as_deref(), None).await?;
                let metrics = match &cli.prometheus_url {
                    Some(u) => Some(
                        PrometheusMetrics::new(u, MlflowAuth::None)?
                            .with_cluster(cluster.describe_context()),
                    ),
                    None => None,
                };
                let registry = if std::env::var_os("MLFLOW_TRACKING_URI").is_some() {
                    Some(MlflowRegistry::from_env()?)
                } else {
                    None
                };
                controller::run(controller::Context {
                    cluster,
                    metrics,
                    registry,
                    id,
                    concurrency: *concurrency,
                    timings: None,
                })
                .await
            });
            match result {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("mlops controller: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        None => console(cli, None),
    }
}

/// The `image` tag of a model version in the registry (`MLFLOW_TRACKING_URI`).
async fn image_from_registry(model: &str, version: u32) -> Result<String, mlops_core::CoreError> {
    let registry = MlflowRegistry::from_env()?;
    let models = registry.models().await?;
    let m =
        models
            .iter()
            .find(|m| m.name == model)
            .ok_or_else(|| mlops_core::CoreError::NotFound {
                kind: "registered model",
                name: model.to_string(),
            })?;
    let v = m
        .version(version)
        .ok_or_else(|| mlops_core::CoreError::NotFound {
            kind: "model version",
            name: format!("{model} v{version}"),
        })?;
    v.image().map(str::to_string).ok_or_else(|| {
        mlops_core::CoreError::backend(
            "mlflow",
            format!("{model} v{version} has no `image` tag; pass --image"),
        )
    })
}

/// Follow a rollout until it is Promoted (Ok), or RolledBack/Failed/timed out (an error that says why).
async fn wait_until_done(
    c: &KubeCluster,
    ns: &str,
    name: &str,
    limit: Duration,
) -> Result<mlops_core::rollout::RolloutRecord, mlops_core::CoreError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let r = c.rollout(ns, name).await?;
        match r.status.phase {
            rollout::Phase::Promoted => return Ok(r),
            rollout::Phase::RolledBack | rollout::Phase::Failed => {
                return Err(mlops_core::CoreError::backend(
                    "rollout",
                    format!("{ns}/{name} is {}: {}", r.status.phase, r.status.message),
                ));
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(mlops_core::CoreError::backend(
                "rollout",
                format!(
                    "{ns}/{name} is still {} after {}s (step {}): {}",
                    r.status.phase,
                    limit.as_secs(),
                    r.step_label(),
                    r.status.message
                ),
            ));
        }
        tokio::time::sleep(Duration::from_secs(2).min(limit)).await;
    }
}

/// promote, abort, rollback, pause, resume: recorded in the rollout's status as the cluster's user.
fn operator_verb(cli: &Cli, c: &RolloutCmd) -> Result<ExitCode> {
    let (name, output, make): (
        String,
        Output,
        Box<dyn FnOnce(String) -> rollout::Command + Send>,
    ) = match c {
        RolloutCmd::Promote { name, full, output } => {
            let full = *full;
            (
                name.clone(),
                *output,
                Box::new(move |_| rollout::Command::Promote { full }),
            )
        }
        RolloutCmd::Abort {
            name,
            reason,
            output,
        }
        | RolloutCmd::Rollback {
            name,
            reason,
            output,
        } => {
            if reason.trim().is_empty() {
                anyhow::bail!("--reason must say why (it goes to the audit trail)");
            }
            let (reason, abort) = (reason.clone(), matches!(c, RolloutCmd::Abort { .. }));
            (
                name.clone(),
                *output,
                Box::new(move |user| {
                    if abort {
                        rollout::Command::Abort { user, reason }
                    } else {
                        rollout::Command::Rollback { user, reason }
                    }
                }),
            )
        }
        RolloutCmd::Pause { name, output } => (
            name.clone(),
            *output,
            Box::new(|user| rollout::Command::Pause { user }),
        ),
        RolloutCmd::Resume { name, output } => (
            name.clone(),
            *output,
            Box::new(|user| rollout::Command::Resume { user }),
        ),
        RolloutCmd::List { .. }
        | RolloutCmd::Templates { .. }
        | RolloutCmd::Get { .. }
        | RolloutCmd::Approve { .. }
        | RolloutCmd::Start { .. } => {
            anyhow::bail!("internal: not an operator verb")
        }
    };
    cluster_verb(cli, move |c| async move {
        let ns = c.default_namespace();
        let user = c.identity().await?;
        let command = make(user.clone());
        let verb = command.verb();
        let r = c.send_command(&ns, &name, &command).await?;
        Ok(match output {
            Output::Json => serde_json::to_string_pretty(&r).unwrap_or_default(),
            Output::Table => format!(
                "{user}: {verb} {ns}/{name} recorded; now {} — the controller carries it out",
                r.status.phase
            ),
        })
    })
}

/// Run a CLI verb against the cluster: print what it returns, or the error (exit 1).
fn cluster_verb<F, Fut>(cli: &Cli, verb: F) -> Result<ExitCode>
where
    F: FnOnce(KubeCluster) -> Fut,
    Fut: std::future::Future<Output = Result<String, mlops_core::CoreError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let c = KubeCluster::connect(cli.context.as_deref(), cli.namespace.as_deref()).await?;
        verb(c).await
    });
    match result {
        Ok(out) => {
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("mlops: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn rollout_table(rollouts: &[mlops_core::rollout::RolloutRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<28} {:<22} {:>7} {:<17} {:>6} {:>5}\n",
        "NAMESPACE", "NAME", "MODEL", "VERSION", "PHASE", "WEIGHT", "STEP"
    );
    for r in rollouts {
        let _ = writeln!(
            out,
            "{:<16} {:<28} {:<22} {:>7} {:<17} {:>5}% {:>5}",
            r.namespace,
            r.name,
            r.spec.model.name,
            r.spec.model.version,
            r.status.phase.as_str(),
            r.status.weight,
            r.step_label()
        );
    }
    out.trim_end().to_string()
}

fn rollout_detail(r: &mlops_core::rollout::RolloutRecord) -> String {
    let mut out = format!(
        "name:     {}/{}\nmodel:    {} v{} (stable v{})\nphase:    {}  {}\nweight:   {}%  step {}\napprovals: {}/{}\n",
        r.namespace,
        r.name,
        r.spec.model.name,
        r.spec.model.version,
        r.spec.stable_version,
        r.status.phase,
        r.status.message,
        r.status.weight,
        r.step_label(),
        r.status.approvals.len(),
        r.spec.approval.required
    );
    for c in &r.status.conditions {
        let _ = writeln!(
            out,
            "condition: {} = {} ({}) {}",
            c.kind, c.status, c.reason, c.message
        );
    }
    out.push_str("steps:\n");
    for (i, s) in r.spec.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {s}", i + 1);
    }
    out.trim_end().to_string()
}

/// The real backends that are configured: the cluster from the kubeconfig, MLflow from
/// `MLFLOW_TRACKING_URI` (or config.toml), Prometheus from `--prometheus-url` /
/// `MLOPS_PROMETHEUS_URL` (or config.toml). One that fails to set up is left out, with the reason.
async fn real_backends(
    cli: &Cli,
    settings: &config::Settings,
    timeout: Duration,
) -> (
    runtime::Context,
    BackendInfo,
    Vec<String>,
    Option<controller::Context>,
) {
    let mut problems = Vec::new();
    let mut info = BackendInfo::default();
    let context = cli
        .context
        .clone()
        .or_else(|| settings.kubernetes.context.clone());
    let namespace = cli
        .namespace
        .clone()
        .or_else(|| settings.kubernetes.namespace.clone());
    let has_kubeconfig = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || dirs::home_dir().is_some_and(|h| h.join(".kube").join("config").exists());
    let drive = settings.drive_rollouts && !(cli.readonly || settings.readonly);
    let driver_id = format!(
        "{}{}@{}-{}",
        controller::CONSOLE_PREFIX,
        std::env::var("USER").unwrap_or_else(|_| "user".into()),
        hostname(),
        std::process::id()
    );
    let mut kube = None;
    let cluster: Option<Arc<dyn ClusterPort>> = if has_kubeconfig || context.is_some() {
        match KubeCluster::connect(context.as_deref(), namespace.as_deref()).await {
            Ok(c) => {
                info.cluster = Some(c.describe());
                let c = if drive {
                    c.with_driver_id(&driver_id)
                } else {
                    c
                };
                kube = Some(c.clone());
                Some(Arc::new(c))
            }
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let make_registry = || {
        let from_env = std::env::var_os("MLFLOW_TRACKING_URI").is_some_and(|v| !v.is_empty());
        if from_env {
            Some(MlflowRegistry::from_env())
        } else {
            settings
                .mlflow
                .tracking_uri
                .as_deref()
                .map(|u| MlflowRegistry::new(u, MlflowAuth::None))
        }
        .map(|r| r.map(|r| r.with_timeout(timeout)))
    };
    let registry: Option<Arc<dyn RegistryPort>> = match make_registry() {
        Some(Ok(r)) => {
            info.registry = Some(r.base_url());
            Some(Arc::new(r))
        }
        Some(Err(e)) => {
            problems.push(e.to_string());
            None
        }
        None => None,
    };
    let mut prometheus = None;
    let metrics: Option<Arc<dyn MetricsPort>> = {
        let url = cli
            .prometheus_url
            .clone()
            .or_else(|| settings.prometheus.url.clone());
        let token = std::env::var("MLOPS_PROMETHEUS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        match url
            .map(|u| PrometheusMetrics::new(&u, token.map_or(MlflowAuth::None, MlflowAuth::Bearer)))
        {
            Some(Ok(m)) => {
                let m = match &info.cluster {
                    Some(c) => m.with_cluster(c.clone()),
                    None => m,
                };
                let m = m.with_timeout(timeout);
                info.metrics = Some(m.base_url());
                prometheus = Some(m.clone());
                Some(Arc::new(m))
            }
            Some(Err(e)) => {
                problems.push(e.to_string());
                None
            }
            None => None,
        }
    };
    // The audit log lives in the cluster (ConfigMaps in mlops-system).
    let audit = kube
        .clone()
        .map(|c| Arc::new(c) as Arc<dyn mlops_core::ports::AuditPort>);
    let ctx = runtime::Context {
        cluster,
        registry,
        metrics,
        audit,
        clock: Arc::new(Utc::now),
        timeout,
    };
    // The same reconcile loop as `mlops controller`, run by this console while no controller
    // holds the lease.
    let embedded = kube.filter(|_| drive).map(|cluster| controller::Context {
        cluster,
        metrics: prometheus,
        registry: make_registry().and_then(Result::ok),
        id: driver_id,
        concurrency: controller::DEFAULT_CONCURRENCY,
        timings: None,
    });
    (ctx, info, problems, embedded)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "mlops".into(), |h| h.trim().to_string())
}

fn config_check(output: Output) -> ExitCode {
    let dir = config::config_dir();
    let errors = config::check(&dir);
    match output {
        Output::Json => {
            let list: Vec<serde_json::Value> = errors
                .iter()
                .map(|e| serde_json::json!({"file": e.file, "line": e.line, "column": e.column, "value": e.value, "message": e.message}))
                .collect();
            let doc = serde_json::json!({"config_dir": dir.display().to_string(), "valid": errors.is_empty(), "errors": list});
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Output::Table => {
            if errors.is_empty() {
                println!("config ok: {} (and the embedded defaults)", dir.display());
            } else {
                for e in &errors {
                    println!("{e}");
                }
                println!(
                    "{} error(s); the console starts on defaults for each of them",
                    errors.len()
                );
            }
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn console(cli: &Cli, demo: Option<(u64, f64)>) -> Result<ExitCode> {
    let log = logging::init();
    let depth = ColorDepth::detect();
    let theme_override = cli
        .theme
        .clone()
        .or_else(|| (depth == ColorDepth::Monochrome).then(|| "monochrome".to_string()));
    let loaded = config::load(&config::config_dir(), theme_override.as_deref(), depth);
    for e in &loaded.errors {
        tracing::warn!(error = %e, "config");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let timeout = Duration::from_secs(loaded.settings.timeout_seconds);
    let mut startup_problems: Vec<String> = Vec::new();
    let mut embedded = None;
    let (ctx, backends, refresh) = if let Some((seed, speed)) = demo {
        let platform = DemoPlatform::new(seed, Utc::now(), speed);
        let clock_platform = platform.clone();
        let p = Arc::new(platform);
        let ctx = runtime::Context {
            cluster: Some(p.clone()),
            registry: Some(p.clone()),
            metrics: Some(p.clone()),
            audit: Some(p),
            clock: Arc::new(move || clock_platform.now()),
            timeout,
        };
        let info = BackendInfo {
            cluster: Some("demo".into()),
            registry: Some("demo".into()),
            metrics: Some("demo".into()),
        };
        (ctx, info, chrono::Duration::seconds(1))
    } else {
        let (ctx, info, problems, driver) =
            runtime.block_on(real_backends(cli, &loaded.settings, timeout));
        embedded = driver;
        for p in &problems {
            tracing::warn!(problem = %p, "backend");
        }
        startup_problems = problems;
        let secs = i64::try_from(loaded.settings.refresh_seconds).unwrap_or(5);
        (ctx, info, chrono::Duration::seconds(secs))
    };
    let mut app = App::new(loaded.keymap, loaded.theme, backends, (ctx.clock)());
    app.readonly = cli.readonly || loaded.settings.readonly;
    app.refresh = refresh;
    if !loaded.errors.is_empty() {
        app.warn(format!(
            "{} config error(s) — running on defaults for those; see `mlops config check`",
            loaded.errors.len()
        ));
        app.config_errors = loaded.errors;
    }
    if let Some(p) = startup_problems.first() {
        app.error(p.clone());
    } else if demo.is_none() && app.backends == BackendInfo::default() {
        app.info("no backends configured — set KUBECONFIG, MLFLOW_TRACKING_URI, MLOPS_PROMETHEUS_URL, or try `mlops demo`");
    }
    let result = runtime.block_on(async {
        let mut terminal = ratatui::try_init()?;
        // ratatui's hook restores the terminal and prints the panic; then leave, wherever the
        // panic happened (a spawned task too), rather than draw on a restored terminal.
        let restore_and_print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_and_print(info);
            std::process::exit(101);
        }));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let driver = embedded.map(|c| tokio::spawn(controller::drive_embedded(c, stopped)));
        let r = runtime::run(&mut terminal, app, ctx).await;
        ratatui::restore();
        // Hand the lease back so a controller or another console need not wait for it to expire.
        let _ = stop.send(true);
        if let Some(d) = driver {
            let _ = tokio::time::timeout(Duration::from_secs(3), d).await;
        }
        r
    });
    // Spawned fetches may still wait on a slow backend: do not wait for them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    if let Err(e) = result {
        if let Some(p) = log {
            tracing::error!(error = %e, "console ended with an error");
            return Err(e.context(format!("see the log at {}", p.display())));
        }
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}
