//! The composition root: command-line flags over `config.toml` over the environment, resolved
//! once into `Options`; the backends built from them (the real adapters, or the demo platform);
//! the one tokio runtime builder. Nothing else reads flags or settings; the backend variables are
//! read here, except MLflow's own (`MLFLOW_TRACKING_URI` and its credential variables),
//! which `MlflowRegistry::from_env` reads as MLflow's clients do, once chosen here
//! (`MlflowSource::Env`). (`PrometheusMetrics::from_env` is for library users; the binary builds
//! Prometheus from `Options` only.)

mod several;

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::Utc;
use mlops_core::{
    CoreError,
    demo::DemoPlatform,
    ports::{AuditPort, ClusterPort, MetricsPort, QueryPort, RegistryPort},
};

use crate::{
    adapters::{
        http::{Auth, Tls},
        kube::{
            KubeCluster,
            multi::{self, split_contexts},
            names::CONSOLE_PREFIX,
        },
        mlflow::MlflowRegistry,
        prometheus::{DriftWindows, ProfiledDrift, PrometheusMetrics},
    },
    app::{action::Namespace, feeds::BackendInfo},
    config::{self, ConfigError, Settings},
    controller,
    event_loop::{self, Clock},
};

/// The command-line flags that shape the backends.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--context`: one context, or several separated by commas.
    pub context: Option<String>,
    /// `--all-contexts`: every context of the kubeconfig.
    pub all_contexts: bool,
    pub namespace: Option<String>,
    pub prometheus_url: Option<String>,
    pub theme: Option<String>,
    pub readonly: bool,
}

/// Everything resolved once: each setting from the flag, else `config.toml`, else the
/// environment or the default. `Debug` redacts credentials in URLs.
#[derive(Clone)]
pub struct Options {
    pub config_dir: PathBuf,
    /// `config.toml` as loaded (defaults for what was wrong), and what was wrong with it.
    pub settings: Settings,
    pub config_errors: Vec<ConfigError>,
    /// The kubeconfig context: the one named, or the first of several (`contexts`).
    pub context: Option<String>,
    /// Every context named (`--context a,b`, `[kubernetes] contexts`), in order; more than one
    /// makes a multi-cluster console, and read verbs read each.
    pub contexts: Vec<String>,
    /// `--all-contexts` / `[kubernetes] all_contexts`: every context of the kubeconfig.
    pub all_contexts: bool,
    pub namespace: Option<String>,
    /// The MLflow tracking server: `MLFLOW_TRACKING_URI` (with MLflow's auth variables), else
    /// `[mlflow] tracking_uri`.
    pub mlflow: Option<MlflowSource>,
    pub prometheus_url: Option<String>,
    /// `MLOPS_PROMETHEUS_TOKEN`: a bearer token for Prometheus.
    pub prometheus_token: Option<String>,
    /// How MLflow's certificate is checked: `MLFLOW_TRACKING_SERVER_CERT_PATH` /
    /// `MLFLOW_TRACKING_INSECURE_TLS` (MLflow's own variables), else `[mlflow] ca_file` /
    /// `insecure_skip_tls_verify`; or why that cannot be used.
    pub mlflow_tls: Result<Tls, String>,
    /// The same for Prometheus: `MLOPS_PROMETHEUS_CA_FILE` /
    /// `MLOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY`, else `[prometheus]`.
    pub prometheus_tls: Result<Tls, String>,
    pub theme: Option<String>,
    pub readonly: bool,
    /// Drive rollouts with the embedded core while no controller holds the lease.
    pub drive_rollouts: bool,
    /// Per backend call.
    pub timeout: Duration,
    /// Between refreshes of live data.
    pub refresh: Duration,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = |u: &Option<String>| {
            u.as_deref()
                .map(|u| mlops_core::text::redact_userinfo(u).into_owned())
        };
        f.debug_struct("Options")
            .field("config_dir", &self.config_dir)
            .field("config_errors", &self.config_errors.len())
            .field("context", &self.context)
            .field("contexts", &self.contexts)
            .field("all_contexts", &self.all_contexts)
            .field("namespace", &self.namespace)
            .field("mlflow", &self.mlflow)
            .field("prometheus_url", &url(&self.prometheus_url))
            .field(
                "prometheus_token",
                &self.prometheus_token.as_ref().map(|_| "<redacted>"),
            )
            .field("mlflow_tls", &self.mlflow_tls)
            .field("prometheus_tls", &self.prometheus_tls)
            .field("readonly", &self.readonly)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Where the registry's address and credentials come from. `Debug` redacts credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum MlflowSource {
    /// `MLFLOW_TRACKING_URI` and MLflow's credential variables.
    Env,
    /// `config.toml`.
    Uri(String),
}

impl std::fmt::Debug for MlflowSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MlflowSource::Env => f.write_str("Env"),
            MlflowSource::Uri(u) => write!(f, "Uri({:?})", mlops_core::text::redact_userinfo(u)),
        }
    }
}

impl Options {
    pub fn resolve(flags: &Flags) -> Self {
        let config_dir = config::config_dir();
        let (settings, config_errors) = config::load_settings(&config_dir);
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mlflow = if env("MLFLOW_TRACKING_URI").is_some() {
            Some(MlflowSource::Env)
        } else {
            settings.mlflow.tracking_uri.clone().map(MlflowSource::Uri)
        };
        let contexts = match &flags.context {
            Some(named) => split_contexts(named),
            None if !settings.kubernetes.contexts.is_empty() => {
                settings.kubernetes.contexts.clone()
            }
            None => settings.kubernetes.context.iter().cloned().collect(),
        };
        Self {
            context: contexts.first().cloned(),
            all_contexts: flags.all_contexts
                || (flags.context.is_none() && settings.kubernetes.all_contexts),
            contexts,
            namespace: flags
                .namespace
                .clone()
                .or_else(|| settings.kubernetes.namespace.clone()),
            mlflow,
            prometheus_url: flags
                .prometheus_url
                .clone()
                .or_else(|| settings.prometheus.url.clone()),
            prometheus_token: env("MLOPS_PROMETHEUS_TOKEN"),
            mlflow_tls: tls_setting(
                &env,
                (
                    "MLFLOW_TRACKING_SERVER_CERT_PATH",
                    "MLFLOW_TRACKING_INSECURE_TLS",
                ),
                "mlflow",
                (
                    settings.mlflow.ca_file.as_deref(),
                    settings.mlflow.insecure_skip_tls_verify,
                ),
                &config_dir,
            ),
            prometheus_tls: tls_setting(
                &env,
                (
                    "MLOPS_PROMETHEUS_CA_FILE",
                    "MLOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY",
                ),
                "prometheus",
                (
                    settings.prometheus.ca_file.as_deref(),
                    settings.prometheus.insecure_skip_tls_verify,
                ),
                &config_dir,
            ),
            theme: flags.theme.clone(),
            readonly: flags.readonly || settings.readonly,
            drive_rollouts: settings.drive_rollouts,
            timeout: Duration::from_secs(settings.timeout_seconds),
            refresh: Duration::from_secs(settings.refresh_seconds),
            config_dir,
            settings,
            config_errors,
        }
    }

    /// What to warn about on every start: backends whose certificates are not checked.
    pub fn tls_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(tls) = &self.mlflow_tls {
            let url = match &self.mlflow {
                Some(MlflowSource::Uri(u)) => u.clone(),
                Some(MlflowSource::Env) => std::env::var("MLFLOW_TRACKING_URI").unwrap_or_default(),
                None => String::new(),
            };
            if !url.is_empty() {
                out.extend(tls.warning("MLflow", &url));
            }
        }
        if let (Ok(tls), Some(url)) = (&self.prometheus_tls, &self.prometheus_url) {
            out.extend(tls.warning("Prometheus", url));
        }
        out
    }

    /// Whether more than one cluster is asked for (`--context a,b`, `contexts`,
    /// `--all-contexts`).
    pub fn is_multi(&self) -> bool {
        self.all_contexts || self.contexts.len() > 1
    }

    /// The one context a command that changes a cluster acts on; a list is refused.
    pub fn single_context(&self) -> Result<Option<&str>, CoreError> {
        if self.all_contexts {
            return Err(CoreError::of_kind(
                mlops_core::ErrorKind::Rejected,
                "kubernetes",
                "this command acts on exactly one cluster; --all-contexts names every context of the kubeconfig (name one with --context)",
            ));
        }
        if self.contexts.len() > 1 {
            return Err(CoreError::of_kind(
                mlops_core::ErrorKind::Rejected,
                "kubernetes",
                format!(
                    "this command acts on exactly one cluster; --context got {} ({})",
                    self.contexts.len(),
                    self.contexts.join(", ")
                ),
            ));
        }
        Ok(self.context.as_deref())
    }

    /// The contexts a read verb reads: each named, or every one of the kubeconfig
    /// (`--all-contexts`); one entry `None` (the current context) when none was named.
    pub fn read_contexts(&self) -> Result<Vec<Option<String>>, CoreError> {
        if self.all_contexts {
            return Ok(multi::all_contexts()?.into_iter().map(Some).collect());
        }
        if self.contexts.is_empty() {
            return Ok(vec![None]);
        }
        Ok(self.contexts.iter().cloned().map(Some).collect())
    }

    /// Whether a kubeconfig can be found (or a context was named).
    pub fn has_cluster(&self) -> bool {
        self.context.is_some()
            || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
            || dirs::home_dir().is_some_and(|h| h.join(".kube").join("config").exists())
    }

    /// The cluster of the kubeconfig context; several named are refused (`single_context`).
    pub async fn cluster(&self) -> Result<KubeCluster, CoreError> {
        KubeCluster::connect_with(
            self.single_context()?,
            self.namespace.as_deref(),
            self.timeout,
        )
        .await
    }

    /// The model registry, when one is configured.
    pub fn registry(&self) -> Option<Result<MlflowRegistry, CoreError>> {
        let registry = match self.mlflow.as_ref()? {
            MlflowSource::Env => MlflowRegistry::from_env(),
            MlflowSource::Uri(uri) => MlflowRegistry::new(uri, Auth::None),
        };
        let tls = self
            .mlflow_tls
            .clone()
            .map_err(|m| CoreError::backend("mlflow", m));
        Some(
            registry
                .and_then(|r| r.with_tls(&tls?))
                .map(|r| r.with_timeout(self.timeout)),
        )
    }

    /// The model registry, or an error that says how to configure one.
    pub fn require_registry(&self) -> Result<MlflowRegistry, CoreError> {
        self.registry().unwrap_or_else(|| {
            Err(CoreError::not_configured(
                "the model registry (MLflow)",
                "set MLFLOW_TRACKING_URI or [mlflow] tracking_uri in config.toml",
            ))
        })
    }

    /// Which way each metric improves in run comparisons (`[compare]`).
    pub fn directions(&self) -> mlops_core::compare::Directions {
        self.settings.compare.directions()
    }

    /// The metrics store, or an error that says how to configure one.
    pub fn require_metrics(&self, cluster: Option<String>) -> Result<PrometheusMetrics, CoreError> {
        self.metrics(cluster).unwrap_or_else(|| {
            Err(CoreError::not_configured(
                "the metrics store (Prometheus)",
                "set MLOPS_PROMETHEUS_URL, --prometheus-url or [prometheus] url in config.toml",
            ))
        })
    }

    /// The metrics store, when one is configured; `cluster` names the cluster its series
    /// belong to.
    pub fn metrics(&self, cluster: Option<String>) -> Option<Result<PrometheusMetrics, CoreError>> {
        let url = self.prometheus_url.as_ref()?;
        let auth = self
            .prometheus_token
            .clone()
            .map_or(Auth::None, Auth::Bearer);
        let tls = self
            .prometheus_tls
            .clone()
            .map_err(|m| CoreError::backend("prometheus", m));
        Some(
            PrometheusMetrics::new(url, auth)
                .and_then(|m| m.with_tls(&tls?))
                .map(|m| {
                    let m = m
                        .with_timeout(self.timeout)
                        .with_drift_windows(DriftWindows::current(self.settings.drift.live_window))
                        .with_serving(self.settings.serving.mapping());
                    match cluster {
                        Some(c) => m.with_cluster(c),
                        None => m,
                    }
                }),
        )
    }
}

/// A backend's certificate check from its environment variables (`vars`: CA file, skip), else
/// its `config.toml` section's `ca_file` / `insecure_skip_tls_verify`. A relative `ca_file` is
/// relative to the config directory. Asking for both, or a skip value that is not a yes or no,
/// is an error that names the setting.
fn tls_setting(
    env: &dyn Fn(&str) -> Option<String>,
    vars: (&str, &str),
    section: &str,
    config: (Option<&str>, bool),
    config_dir: &std::path::Path,
) -> Result<Tls, String> {
    let (ca_var, skip_var) = vars;
    let skip_env = match env(skip_var).map(|v| v.trim().to_ascii_lowercase()) {
        None => None,
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Some(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Some(false),
        Some(v) => {
            return Err(format!(
                "{skip_var}={:?} is neither true nor false",
                mlops_core::text::truncate(&v, 40)
            ));
        }
    };
    let ca_env = env(ca_var);
    let (ca_file, skip, source) = if ca_env.is_some() || skip_env.is_some() {
        let source = match (&ca_env, skip_env) {
            (Some(_), Some(true)) => format!("{ca_var} and {skip_var}"),
            (_, Some(true)) => skip_var.to_string(),
            _ => ca_var.to_string(),
        };
        (ca_env.map(PathBuf::from), skip_env.unwrap_or(false), source)
    } else {
        let (ca, skip) = config;
        let source = if skip {
            format!("[{section}] insecure_skip_tls_verify in config.toml")
        } else {
            format!("[{section}] ca_file in config.toml")
        };
        (ca.map(|c| config_dir.join(c)), skip, source)
    };
    if ca_file.is_some() && skip {
        return Err(format!(
            "{source}: a CA file is for checking the certificate, skipping the check ignores it; set one of them"
        ));
    }
    Ok(Tls {
        ca_file,
        insecure_skip_verify: skip,
        source,
    })
}

/// The one way the binary builds a tokio runtime: a current-thread one for a CLI verb, two
/// workers for the console and the controller.
pub fn tokio_runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

/// This machine's name, for lease identities.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "mlops".into(), |h| h.trim().to_string())
}

/// What the console runs on.
pub struct Backends {
    pub ports: event_loop::Context,
    pub info: BackendInfo,
    /// Backends that are configured but could not be set up, in words.
    pub problems: Vec<String>,
    /// The controller loops this console runs while no controller holds the lease (one per
    /// cluster).
    pub embedded: Vec<controller::Context>,
}

/// The embedded, simulated platform behind every port.
pub fn demo(seed: u64, speed: f64, timeout: Duration) -> Backends {
    let platform = DemoPlatform::new(seed, Utc::now(), speed);
    let clock_platform = platform.clone();
    let p = Arc::new(platform);
    let clock: Clock = Arc::new(move || clock_platform.now());
    Backends {
        ports: event_loop::Context {
            cluster: Some(p.clone()),
            registry: Some(p.clone()),
            metrics: Some(p.clone()),
            audit: Some(p.clone()),
            serving: Some(p),
            serving_windows: mlops_core::serving::slo::SloConfig::default().ratio_windows(),
            clock,
            timeout,
            runs_page_size: crate::config::settings::RUNS_PAGE_SIZE,
            switcher: None,
        },
        info: BackendInfo {
            cluster: Some("demo".into()),
            registry: Some("demo".into()),
            metrics: Some("demo".into()),
        },
        problems: Vec::new(),
        embedded: Vec::new(),
    }
}

/// The real backends that are configured: the cluster from the kubeconfig, MLflow, Prometheus.
/// One that fails to set up is left out, with the reason.
pub async fn real(options: &Options) -> Backends {
    let mut problems = Vec::new();
    let mut info = BackendInfo::default();
    let drive = options.drive_rollouts && !options.readonly;
    let driver_id = format!(
        "{CONSOLE_PREFIX}{}@{}-{}",
        std::env::var("USER").unwrap_or_else(|_| "user".into()),
        hostname(),
        std::process::id()
    );
    if options.is_multi() {
        return several::real_multi(options, &driver_id, drive).await;
    }
    let mut kube = None;
    let mut broken_cluster = None;
    if options.has_cluster() {
        match options.cluster().await {
            Ok(c) => {
                info.cluster = Some(ClusterPort::describe(&c));
                kube = Some(if drive {
                    c.with_driver_id(&driver_id)
                } else {
                    c
                });
            }
            Err(e) => {
                problems.push(e.to_string());
                // Configured but not usable: the views say why, not "not configured".
                let name = options
                    .context
                    .clone()
                    .unwrap_or_else(|| "kubeconfig".into());
                info.cluster = Some(name.clone());
                broken_cluster = Some(Arc::new(SetupFailed { name, error: e }));
            }
        }
    }
    let registry = registry_port(options, &mut info, &mut problems);
    let metrics = metrics_ports(
        options,
        info.cluster.clone(),
        registry.as_ref(),
        &mut info,
        &mut problems,
    );
    let prometheus = metrics.prometheus;
    let ports = event_loop::Context {
        cluster: kube
            .clone()
            .map(|c| Arc::new(c) as Arc<dyn ClusterPort>)
            .or_else(|| broken_cluster.clone().map(|b| b as Arc<dyn ClusterPort>)),
        registry: registry.clone(),
        metrics: metrics.drift,
        // The audit log lives in the cluster (ConfigMaps in mlops-system).
        audit: kube
            .clone()
            .map(|c| Arc::new(c) as Arc<dyn AuditPort>)
            .or_else(|| broken_cluster.map(|b| b as Arc<dyn AuditPort>)),
        serving: metrics.serving,
        serving_windows: options.settings.slo.config().ratio_windows(),
        clock: Arc::new(Utc::now),
        timeout: options.timeout,
        runs_page_size: options.settings.mlflow.runs_page_size(),
        switcher: kube.as_ref().map(|_| switcher(options)),
    };
    // The same reconcile loop as `mlops controller`, run by this console while no controller
    // holds the lease.
    let embedded = kube
        .filter(|_| drive)
        .map(|cluster| embedded_driver(cluster, prometheus, registry, &driver_id, options))
        .into_iter()
        .collect();
    Backends {
        ports,
        info,
        problems,
        embedded,
    }
}

/// The metrics store (Prometheus) when one is configured, and the two ports made of it.
struct MetricsPorts {
    prometheus: Option<Arc<PrometheusMetrics>>,
    /// Live drift: against each version's training data profile in the registry when there is
    /// a registry, against the reference window otherwise.
    drift: Option<Arc<dyn MetricsPort>>,
    serving: Option<Arc<dyn mlops_core::ports::ServingPort>>,
}

/// The metrics store and its ports (`cluster` names the cluster its series are read for;
/// `None` with several clusters, whose series name their cluster themselves); a problem when it
/// cannot be set up.
fn metrics_ports(
    options: &Options,
    cluster: Option<String>,
    registry: Option<&Arc<dyn RegistryPort>>,
    info: &mut BackendInfo,
    problems: &mut Vec<String>,
) -> MetricsPorts {
    let prometheus = usable(options.metrics(cluster), problems).map(|m| {
        info.metrics = Some(m.base_url());
        Arc::new(m)
    });
    MetricsPorts {
        drift: prometheus.clone().map(|m| match registry {
            Some(r) => {
                Arc::new(ProfiledDrift::new(m, r.clone()).with_lookup_budget(options.timeout))
                    as Arc<dyn MetricsPort>
            }
            None => m as Arc<dyn MetricsPort>,
        }),
        serving: prometheus
            .clone()
            .map(|m| m as Arc<dyn mlops_core::ports::ServingPort>),
        prometheus,
    }
}

/// The registry (MLflow) when one is configured; a problem when it cannot be set up.
fn registry_port(
    options: &Options,
    info: &mut BackendInfo,
    problems: &mut Vec<String>,
) -> Option<Arc<dyn RegistryPort>> {
    usable(options.registry(), problems).map(|r| {
        info.registry = Some(r.base_url());
        Arc::new(r) as Arc<dyn RegistryPort>
    })
}

/// A backend that is configured and could be set up; one that could not is a problem said.
fn usable<T, E: std::fmt::Display>(
    port: Option<Result<T, E>>,
    problems: &mut Vec<String>,
) -> Option<T> {
    match port? {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    }
}

/// The same reconcile loop as `mlops controller`, run by this console on `cluster` while no
/// controller holds its lease.
fn embedded_driver(
    cluster: KubeCluster,
    prometheus: Option<Arc<PrometheusMetrics>>,
    registry: Option<Arc<dyn RegistryPort>>,
    driver_id: &str,
    options: &Options,
) -> controller::Context {
    controller::Context {
        cluster,
        metrics: prometheus.map(|m| m as Arc<dyn QueryPort>),
        registry,
        telemetry: Arc::new(controller::Telemetry::new(driver_id, options.timeout)),
        id: driver_id.to_string(),
        concurrency: controller::DEFAULT_CONCURRENCY,
        schedule: controller::Schedule::default(),
    }
}

/// `:ctx` and `:ns`: connect to another kubeconfig context and/or namespace, starting from the
/// ones in use.
fn switcher(options: &Options) -> event_loop::Switcher {
    let current = Arc::new(std::sync::Mutex::new((
        options.context.clone(),
        options.namespace.clone(),
    )));
    Arc::new(move |context, namespace| {
        let current = current.clone();
        Box::pin(async move {
            let (context0, namespace0) = current.lock().map(|c| c.clone()).unwrap_or_default();
            let context = context.or(context0);
            let namespace = match namespace {
                Namespace::Keep => namespace0,
                Namespace::All => None,
                Namespace::One(ns) => Some(ns),
            };
            let c = KubeCluster::connect(context.as_deref(), namespace.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            if let Ok(mut cur) = current.lock() {
                *cur = (context, namespace.clone());
            }
            let describe = match &namespace {
                Some(ns) => format!("{} (namespace {ns})", c.describe_context()),
                None => c.describe_context(),
            };
            Ok(event_loop::Switched {
                cluster: Arc::new(c.clone()),
                audit: Arc::new(c),
                describe,
            })
        })
    })
}

/// A backend that is configured but could not be set up (an unreadable kubeconfig, a context
/// that is not in it, an `exec` plugin that timed out): every call answers with the reason, so
/// the views grey out saying why instead of "not configured".
struct SetupFailed {
    name: String,
    error: CoreError,
}

#[async_trait::async_trait]
impl ClusterPort for SetupFailed {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn snapshot(&self) -> Result<mlops_core::model::ClusterSnapshot, CoreError> {
        Err(self.error.clone())
    }

    async fn rollout_command(
        &self,
        _cluster: &str,
        _namespace: &str,
        _name: &str,
        _command: mlops_core::rollout::Command,
    ) -> Result<mlops_core::rollout::RolloutRecord, CoreError> {
        Err(self.error.clone())
    }
}

#[async_trait::async_trait]
impl AuditPort for SetupFailed {
    async fn entries(&self) -> Result<Vec<mlops_core::audit::AuditEntry>, CoreError> {
        Err(self.error.clone())
    }
}
