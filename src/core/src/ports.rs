//! The ports through which the core sees the world. Adapters (the demo platform, Kubernetes,
//! `MLflow`, Prometheus) implement them; the TUI, the CLI verbs and the controller only ever hold
//! `Arc<dyn …Port>`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    audit::AuditEntry,
    drift::DriftReport,
    error::CoreError,
    model::{
        Cluster, ClusterEvent, Deployment, Experiment, Gpu, MetricPoint, Node, Pod,
        RegisteredModel, Run,
    },
    rollout::{Command, RolloutRecord},
};

/// Who drives the rollouts: a controller holding the lease, or this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Driver {
    /// `mlops controller` holds the lease; this process only issues commands.
    Controller { holder: String },
    /// No controller holds the lease; the embedded core drives the rollouts.
    Embedded,
    /// Nothing drives the rollouts: no controller holds the lease and this process does not
    /// reconcile them (the rollouts only change through commands).
    Nobody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    pub clusters: Vec<Cluster>,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub rollouts: Vec<RolloutRecord>,
    pub events: Vec<ClusterEvent>,
    pub driver: Driver,
    /// The user's identity as the cluster sees it.
    pub identity: String,
}

/// A change the cluster pushes through a watch, applied to the last snapshot without refetching it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterChange {
    /// Every rollout, when a watch (re)starts: replaces the list.
    Rollouts(Vec<RolloutRecord>),
    /// One rollout created or changed.
    Rollout(Box<RolloutRecord>),
    /// One rollout deleted.
    RolloutDeleted {
        cluster: String,
        namespace: String,
        name: String,
    },
    /// Who drives the rollouts now.
    Driver(Driver),
}

/// A stream of cluster changes; it retries on its own and ends only when the port goes away.
pub type ChangeStream = std::pin::Pin<Box<dyn futures_core::Stream<Item = ClusterChange> + Send>>;

#[async_trait]
pub trait ClusterPort: Send + Sync {
    /// The context or cluster set this port talks to, for the status bar.
    fn describe(&self) -> String;
    /// Changes pushed by the cluster (rollouts, the lease), when the port can watch; the
    /// snapshot is still fetched periodically for everything else.
    fn watch(&self) -> Option<ChangeStream> {
        None
    }
    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError>;
    /// Apply an operator command to a rollout; returns the rollout as it is afterwards.
    async fn rollout_command(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        command: Command,
    ) -> Result<RolloutRecord, CoreError>;
}

#[async_trait]
pub trait RegistryPort: Send + Sync {
    fn describe(&self) -> String;
    async fn experiments(&self) -> Result<Vec<Experiment>, CoreError>;
    async fn runs(&self, experiment_id: &str) -> Result<Vec<Run>, CoreError>;
    async fn run(&self, run_id: &str) -> Result<Run, CoreError>;
    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError>;
    async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError>;
}

/// Live drift of one feature of one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub model: String,
    pub version: u32,
    pub feature: String,
    pub report: DriftReport,
    /// Bin edges and counts of the reference and the current window, for the histogram view.
    pub edges: Vec<f64>,
    pub reference_counts: Vec<f64>,
    pub current_counts: Vec<f64>,
    /// PSI over recent windows, oldest first, for the trend sparkline.
    pub psi_history: Vec<f64>,
}

/// Canary-versus-stable series for a rollout's detail view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutSeries {
    pub times: Vec<DateTime<Utc>>,
    pub canary_error_rate: Vec<f64>,
    pub stable_error_rate: Vec<f64>,
    pub canary_p99_ms: Vec<f64>,
    pub stable_p99_ms: Vec<f64>,
}

#[async_trait]
pub trait MetricsPort: Send + Sync {
    fn describe(&self) -> String;
    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError>;
    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError>;
    async fn rollout_series(
        &self,
        cluster: &str,
        rollout: &str,
    ) -> Result<RolloutSeries, CoreError>;
}

#[async_trait]
pub trait AuditPort: Send + Sync {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError>;
}
