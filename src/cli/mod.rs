//! The command line: the clap types, the global flags (declared once, `-o` among them) and the
//! dispatch to one file per noun (`rollout`, `drift`, `gpu`, `registry` for models and runs,
//! `config`, `install`, `controller`, `console`).
//! What a verb prints goes through `output`; backends are built by `crate::wiring`.

mod ansi16;
mod audit;
mod config;
mod console;
mod controller;
pub mod drift;
pub mod drift_live;
pub mod gpu;
pub mod health;
mod install;
pub mod install_deploy;
mod lineage;
pub mod output;
mod policy;
pub mod reference;
mod registry;
mod rollout;
mod rollout_wait;
pub mod table;
mod timeline;
mod triggers;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use mlops_core::CoreError;

pub use self::output::Output;
use crate::{
    adapters::{kube::KubeCluster, mlflow::MlflowRegistry},
    wiring::{self, Flags},
};

#[derive(Debug, Parser)]
#[command(name = "mlops", version, about = "A terminal operations console for ML platforms", long_about = None)]
pub struct Cli {
    /// Kubeconfig context to use (as kubectl's --context); several separated by commas
    /// (`a,b`) for the console and the read verbs, which then show every cluster.
    #[arg(long, global = true, env = "MLOPS_CONTEXT")]
    pub context: Option<String>,
    /// Every context of the kubeconfig, for the console and the read verbs.
    #[arg(long, global = true, conflicts_with = "context")]
    pub all_contexts: bool,
    /// Namespace (as kubectl's -n).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Prometheus base URL.
    #[arg(long, global = true, env = "MLOPS_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// Theme: dark, light, high-contrast, colorblind, monochrome, or a user theme.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Refuse every mutation.
    #[arg(long, global = true)]
    pub readonly: bool,
    /// Output of a CLI verb: table (for people), json (for scripts), and where a verb takes
    /// them csv, markdown or tree.
    #[arg(short = 'o', long, global = true, default_value = "table")]
    pub output: String,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the console against the embedded, simulated ML platform: no configuration, no network.
    Demo {
        /// Seed of the simulation; the same seed gives the same platform.
        #[arg(long, default_value_t = 7, allow_negative_numbers = true)]
        seed: u64,
        /// Run simulated time this many times faster than the wall clock (0 to 1000).
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        speed: f64,
    },
    /// Install into the cluster (idempotent): the ModelRollout and RolloutTrigger CRDs, the roles (mlops-viewer,
    /// mlops-operator, mlops-release-manager), the controller's ServiceAccount and role, and the
    /// admission policies that make the API server enforce each command's verb and the
    /// two-person rule.
    Install(install::InstallArgs),
    /// Canary rollouts (ModelRollout resources) in the cluster.
    Rollout {
        #[command(subcommand)]
        command: rollout::RolloutCmd,
    },
    /// RolloutTriggers: rollouts started by the registry (an alias, a tag, a new version).
    Triggers {
        #[command(subcommand)]
        command: triggers::TriggersCmd,
    },
    /// Run the rollout reconcile loop headless (in the cluster, or anywhere with a kubeconfig).
    /// Several replicas may run: only the holder of the mlops-system/mlops-controller Lease acts.
    Controller(controller::ControllerArgs),
    /// Data drift of a current CSV against a reference CSV or profile, decided as Evidently does;
    /// `drift profile` writes a reference profile.
    Drift(drift::DriftArgs),
    /// Registered models in the model registry (MLflow).
    Models {
        #[command(subcommand)]
        command: registry::ModelsCmd,
    },
    /// Experiment runs: search with MLflow's filter and ordering, compare side by side.
    Runs {
        #[command(subcommand)]
        command: registry::RunsCmd,
    },
    /// GPUs per node from the DCGM exporter's metrics, joined with the cluster's allocation:
    /// utilisation, memory, power, temperature, the model version on each GPU, allocatable vs
    /// requested, allocated-but-idle GPUs and the GPU-hours they waste, canary vs stable.
    Gpu(gpu::GpuArgs),
    /// The lineage of a model version, alias, dataset or Deployment, joined from the registry
    /// and the cluster (dataset → run → model version → image → rollout → Deployment → pods),
    /// and where the two disagree. `-o tree` (default) or `-o json`.
    Lineage(lineage::LineageArgs),
    /// The cluster's hash-chained audit log: list it, export it (JSON Lines), verify it (or an
    /// exported file, offline).
    Audit {
        #[command(subcommand)]
        command: audit::AuditCmd,
    },
    /// One incident timeline: a model's Kubernetes Events (its rollouts, Deployments, pods and
    /// nodes), its rollouts' steps and phase changes, every command with its user and comment
    /// (audit), registry events, drift and Prometheus alerts and GPU XID faults, merged and
    /// de-duplicated in one time order; the changes shortly before an alert are marked.
    Timeline(timeline::TimelineArgs),
    /// Policy gates (policy.toml) for a model version on a cluster.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCmd,
    },
    /// Serving health per model version and track: request rate, error ratio, p50/p95/p99
    /// latency, replicas, GPUs and the SLO's burn rates and alert (page, ticket or none), worst
    /// first. `--fail-on-page` exits 3 when a version pages.
    Health(health::HealthArgs),
    /// Service level objectives: `slo rules` prints their Prometheus recording and alerting rules.
    Slo {
        #[command(subcommand)]
        command: health::SloCmd,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: config::ConfigCmd,
    },
}

impl Cli {
    /// The flags every backend is built from.
    fn flags(&self) -> Flags {
        Flags {
            context: self.context.clone(),
            all_contexts: self.all_contexts,
            namespace: self.namespace.clone(),
            prometheus_url: self.prometheus_url.clone(),
            theme: self.theme.clone(),
            readonly: self.readonly,
        }
    }
}

/// Run the command line; errors are printed here, so `main` only returns the exit code.
pub fn main(cli: &Cli) -> ExitCode {
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.is::<output::UsageError>() => {
            eprintln!("mlops: {}", output::error_text(&said_once(&e)));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("mlops: {}", output::error_text(&said_once(&e)));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: a context and what it wraps (`x.csv: cannot read:
/// No such file`), down to the core's error, whose message already says its cause in words (the
/// client's error it keeps as its source is for programs, not for the reader).
fn said_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
        if cause.is::<CoreError>() {
            break;
        }
    }
    text
}

/// `-o` as a table or JSON, the two every verb takes.
fn table_or_json(cli: &Cli, verb: &str) -> Result<Output> {
    Ok(Output::pick(
        &cli.output,
        &[Output::Table, Output::Json],
        verb,
    )?)
}

/// Whether a subcommand changes anything in a cluster.
fn mutates(cmd: Option<&Cmd>) -> bool {
    match cmd {
        Some(Cmd::Install(args)) => !args.changes_nothing(),
        Some(Cmd::Controller(_)) => true,
        Some(Cmd::Rollout { command }) => command.mutates(),
        _ => false,
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    let options = wiring::Options::resolve(&cli.flags());
    if mutates(cli.command.as_ref()) && options.readonly {
        anyhow::bail!(
            "read-only mode (--readonly or readonly = true in config.toml): this command would change the cluster"
        );
    }
    // The console shows these itself; the demo has no backends.
    if !matches!(cli.command, None | Some(Cmd::Demo { .. })) {
        for w in options.tls_warnings() {
            tracing::warn!(warning = %w, "tls");
            eprintln!("mlops: warning: {w}");
        }
    }
    match &cli.command {
        Some(Cmd::Config { command }) => Ok(config::run(command, table_or_json(cli, "config")?)),
        Some(Cmd::Demo { seed, speed }) => console::demo(&options, *seed, *speed),
        Some(Cmd::Install(args)) => install::run(args, &options, &cli.output),
        Some(Cmd::Rollout { command }) => {
            rollout::run(command, &options, table_or_json(cli, "rollout")?)
        }
        Some(Cmd::Controller(args)) => controller::run(args, &options),
        Some(Cmd::Triggers { command }) => {
            triggers::run(command, &options, table_or_json(cli, "triggers")?)
        }
        Some(Cmd::Drift(args)) => drift::run(args, &options, &cli.output),
        Some(Cmd::Models { command }) => {
            registry::models(command, &options, table_or_json(cli, "models")?)
        }
        Some(Cmd::Runs { command }) => {
            let formats: &[Output] = match command {
                registry::RunsCmd::Compare { .. } => {
                    &[Output::Table, Output::Json, Output::Csv, Output::Markdown]
                }
                registry::RunsCmd::Search { .. } => &[Output::Table, Output::Json],
            };
            let output = Output::pick(&cli.output, formats, "runs")?;
            registry::runs(command, &options, output)
        }
        Some(Cmd::Gpu(args)) => gpu::run(args, &options, table_or_json(cli, "gpu")?),
        Some(Cmd::Health(args)) => health::run(args, &options, table_or_json(cli, "health")?),
        Some(Cmd::Slo { command }) => {
            // Rules are a file Prometheus reads: YAML unless asked for JSON.
            let wanted = if cli.output == "table" {
                "yaml"
            } else {
                cli.output.as_str()
            };
            let output = Output::pick(wanted, &[Output::Yaml, Output::Json], "slo rules")?;
            health::slo(command, &options, output)
        }
        Some(Cmd::Lineage(args)) => lineage::run(args, &options, &cli.output),
        Some(Cmd::Timeline(args)) => timeline::run(args, &options, table_or_json(cli, "timeline")?),
        Some(Cmd::Policy { command }) => {
            policy::run(command, &options, table_or_json(cli, "policy")?)
        }
        Some(Cmd::Audit { command }) => {
            let output = match command {
                // JSON Lines is the export's one format.
                audit::AuditCmd::Export { .. } => Output::Json,
                _ => table_or_json(cli, "audit")?,
            };
            audit::run(command, &options, output)
        }
        None => console::console(&options),
    }
}

/// Run one asynchronous verb on the one runtime: connect to a backend, call `verb` with it, and
/// print what it returns (or the error, exit 1).
fn run_verb<B>(
    connect: impl AsyncFnOnce() -> Result<B, CoreError>,
    verb: impl AsyncFnOnce(B) -> Result<String, CoreError>,
) -> Result<ExitCode> {
    let runtime = wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async { verb(connect().await?).await });
    Ok(output::finish(result))
}

/// A verb against the cluster.
fn cluster_verb(
    options: &wiring::Options,
    verb: impl AsyncFnOnce(KubeCluster) -> Result<String, CoreError>,
) -> Result<ExitCode> {
    run_verb(async || options.cluster().await, verb)
}

/// What the clusters a read verb reads answered: the items of those that did, in the order the
/// contexts were named, and why each other one did not (each error names its context).
#[derive(Debug)]
pub struct Answers<T> {
    pub items: Vec<T>,
    /// How many clusters were read (several: tables get a CLUSTER column).
    pub clusters: usize,
    /// `context NAME: why`, one per cluster that did not answer.
    pub failed: Vec<CoreError>,
    /// The context names of those clusters.
    pub unread: Vec<String>,
}

impl<T> Answers<T> {
    /// Each cluster's answer, by context name, in order. With one cluster its error is the
    /// verb's error, as before several could be named. With several, a cluster that failed is
    /// named (`context NAME: why`) and the others' items kept, as `kubectl get` does.
    pub fn gather(answers: Vec<(String, Result<Vec<T>, CoreError>)>) -> Result<Self, CoreError> {
        let clusters = answers.len();
        let mut items = Vec::new();
        let mut failed = Vec::new();
        let mut unread = Vec::new();
        for (context, answer) in answers {
            match answer {
                Ok(list) => items.extend(list),
                Err(e) if clusters == 1 => return Err(e),
                Err(e) => {
                    failed.push(CoreError::of_kind(
                        e.kind(),
                        format!("context {context}"),
                        e.to_string(),
                    ));
                    unread.push(context);
                }
            }
        }
        Ok(Self {
            items,
            clusters,
            failed,
            unread,
        })
    }

    /// Whether several clusters were read.
    pub fn several(&self) -> bool {
        self.clusters > 1
    }

    /// Whether any cluster answered.
    pub fn answered(&self) -> bool {
        self.failed.len() < self.clusters
    }

    /// What a verb prints: `text` of the items when any cluster answered (nothing on stdout
    /// when none did), with the failures to name on stderr.
    pub fn printed(self, text: impl FnOnce(&Self) -> String) -> output::Partial {
        output::Partial {
            text: self.answered().then(|| text(&self)),
            failed: self.failed,
        }
    }
}

/// `read` on every cluster a read verb reads (`--context a,b`, `--all-contexts`; over every
/// namespace when `every_namespace`), all at once, each connected on its own: one that cannot
/// be reached fails only itself (`Answers::gather`).
pub async fn each_cluster<T, F>(
    options: &wiring::Options,
    every_namespace: bool,
    read: F,
) -> Result<Answers<T>, CoreError>
where
    F: AsyncFn(&KubeCluster) -> Result<Vec<T>, CoreError>,
{
    let mut options = options.clone();
    if every_namespace {
        options.namespace = None;
    }
    let contexts = options.read_contexts()?;
    let (options, read) = (&options, &read);
    let answers = futures::future::join_all(contexts.iter().map(|context| async move {
        let answer = async {
            let c = KubeCluster::connect_with(
                context.as_deref(),
                options.namespace.as_deref(),
                options.timeout,
            )
            .await?;
            read(&c).await
        }
        .await;
        (context.clone().unwrap_or_default(), answer)
    }))
    .await;
    Answers::gather(answers)
}

/// Run a read verb over every cluster it reads on the one runtime and print what it returns
/// (`output::finish_partial`: exit 1 when any cluster failed).
fn cluster_read(
    read: impl AsyncFnOnce() -> Result<output::Partial, CoreError>,
) -> Result<ExitCode> {
    let runtime = wiring::tokio_runtime(1)?;
    Ok(output::finish_partial(runtime.block_on(read())))
}

/// A verb against the model registry.
fn registry_verb(
    options: &wiring::Options,
    verb: impl AsyncFnOnce(MlflowRegistry) -> Result<String, CoreError>,
) -> Result<ExitCode> {
    run_verb(async || options.require_registry(), verb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(what: &str) -> Result<Vec<u32>, CoreError> {
        Err(CoreError::unavailable(
            "kubernetes",
            format!("listing {what}: deadline has elapsed"),
        ))
    }

    #[test]
    fn the_clusters_that_answered_are_kept_and_each_that_failed_is_named() {
        let a = Answers::gather(vec![
            ("eu".into(), Ok(vec![1, 2])),
            ("us".into(), down("ModelRollouts")),
            ("ap".into(), Ok(vec![3])),
        ])
        .expect("two answered");
        assert_eq!(a.items, [1, 2, 3], "in the order the contexts were named");
        assert!(a.several() && a.answered());
        let failed: Vec<String> = a.failed.iter().map(ToString::to_string).collect();
        assert_eq!(
            failed,
            ["context us: kubernetes: listing ModelRollouts: deadline has elapsed"]
        );
        assert_eq!(a.failed[0].kind(), mlops_core::ErrorKind::Unavailable);
        // Printed: the items of those that answered, the failure to name.
        let p = a.printed(|a| format!("{:?}", a.items));
        assert_eq!(p.text.as_deref(), Some("[1, 2, 3]"));
        assert_eq!(p.failed.len(), 1);
        // The contexts that failed, by name (what `gpu` leaves out, what `lineage` names).
        let a = Answers::gather(vec![
            ("eu".into(), Ok(vec![1])),
            ("us".into(), down("pods")),
        ])
        .expect("one answered");
        assert_eq!(a.unread, ["us"]);
        assert_eq!(a.items, [1]);
    }

    #[test]
    fn none_answering_prints_nothing_and_one_cluster_keeps_its_own_error() {
        let a = Answers::gather(vec![("eu".into(), down("a")), ("us".into(), down("b"))])
            .expect("several: each named");
        assert!(!a.answered());
        let p = a.printed(|_| "never".into());
        assert_eq!(p.text, None, "nothing on stdout");
        assert_eq!(p.failed.len(), 2);
        // One cluster: its error unchanged (no context prefix), as before --context a,b.
        let e = Answers::gather(vec![("eu".into(), down("pods"))]).expect_err("one failed");
        assert_eq!(
            e.to_string(),
            "kubernetes: listing pods: deadline has elapsed"
        );
        let one = Answers::gather(vec![("eu".into(), Ok(vec![7]))]).expect("one answered");
        assert!(!one.several() && one.failed.is_empty());
        assert_eq!(one.items, [7]);
        assert!(one.unread.is_empty());
        // Every answer empty is still an answer.
        let empty =
            Answers::<u32>::gather(vec![("eu".into(), Ok(vec![])), ("us".into(), Ok(vec![]))])
                .expect("both answered");
        assert!(empty.answered() && empty.items.is_empty());
    }

    #[test]
    fn an_error_is_printed_with_its_causes_each_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(io).context("x.csv: cannot read");
        assert_eq!(said_once(&e), "x.csv: cannot read: No such file");
        // The core's message says its cause in words: the client's error it keeps is not
        // printed again, however the client words it.
        let core = CoreError::unavailable("kubernetes", "listing pods: connection refused")
            .caused_by(std::io::Error::other("tcp connect error: os error 111"));
        assert_eq!(
            said_once(&anyhow::Error::new(core).context("rollout list")),
            "rollout list: kubernetes: listing pods: connection refused"
        );
    }
}
