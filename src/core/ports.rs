//! The ports through which the core sees the world: traits only (the data they carry is in
//! `model`). Adapters (the demo platform, Kubernetes, MLflow, Prometheus) implement them; the TUI
//! and the CLI verbs hold `Arc<dyn …Port>`.

use async_trait::async_trait;

use crate::{
    audit::AuditEntry,
    error::CoreError,
    model::{
        Alert, ClusterChange, ClusterResource, ClusterSnapshot, Experiment, FeatureDrift, Gpu,
        MetricPoint, RegisteredModel, RolloutSeries, Run, RunPage, RunQuery,
    },
    rollout::{Command, RolloutRecord},
};

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
    /// The resources the screen on show needs (what the Overview needs is always needed): a
    /// port that watches stops a watch nothing needed for a while and starts it again when
    /// it is needed. By default nothing (a port that lists on each snapshot).
    fn want(&self, _resources: &[ClusterResource]) {}
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
    /// One page of a runs search (`page_token`: where the previous page ended), filtered and
    /// ordered by the registry.
    async fn runs_page(
        &self,
        query: &RunQuery,
        page_token: Option<&str>,
    ) -> Result<RunPage, CoreError>;
    async fn run(&self, run_id: &str) -> Result<Run, CoreError>;
    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError>;
    /// Each run's history of `key` for a chart: at most `max_points` points a run, spread over
    /// its steps (first and last kept). A run that never logged `key` has an empty history.
    /// By default every history is read whole and thinned here; a registry that samples on the
    /// server (MLflow's `get-history-bulk-interval`) overrides it.
    async fn metric_histories(
        &self,
        run_ids: &[String],
        key: &str,
        max_points: usize,
    ) -> Result<Vec<(String, Vec<MetricPoint>)>, CoreError> {
        let mut out = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            let points = match self.metric_history(id, key).await {
                Ok(p) => p,
                Err(CoreError::NotFound { kind: "metric", .. }) => Vec::new(),
                Err(e) => return Err(e),
            };
            out.push((id.clone(), crate::model::thin(points, max_points)));
        }
        Ok(out)
    }
    /// The models logged in an experiment (only those `run_id` logged, when given), newest
    /// first; none from a registry without logged models (MLflow before 3).
    async fn logged_models(
        &self,
        experiment_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<crate::model::LoggedModel>, CoreError>;
    async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError>;
    /// One registered model with its versions, aliases and tags.
    async fn model(&self, name: &str) -> Result<RegisteredModel, CoreError>;
    /// Point `model@alias` at `version`; says where it pointed before.
    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError>;
    async fn set_version_tag(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError>;
}

#[async_trait]
pub trait MetricsPort: Send + Sync {
    fn describe(&self) -> String;
    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError>;
    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError>;
    /// [`Self::drift`] with what was left out and why (a feature whose histogram cannot be
    /// used, a profile that could not be read, models not looked up), for the Drift view.
    async fn drift_noting(&self) -> Result<(Vec<FeatureDrift>, Vec<String>), CoreError> {
        self.drift().await.map(|d| (d, Vec::new()))
    }
    async fn rollout_series(
        &self,
        cluster: &str,
        rollout: &str,
    ) -> Result<RolloutSeries, CoreError>;
    /// The alerts that fired at any time from `since` until now, resolved or still firing,
    /// oldest first.
    async fn alerts(&self, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<Alert>, CoreError>;
}

/// Serving signals per model version and track (Prometheus through a runtime mapping, or the
/// demo's simulation); `serving::assemble` makes health of them.
#[async_trait]
pub trait ServingPort: Send + Sync {
    async fn serving_signals(
        &self,
        request: &crate::serving::SignalRequest,
    ) -> Result<crate::serving::Signals, CoreError>;
}

/// Instant queries of the metrics store, for canary analysis.
#[async_trait]
pub trait QueryPort: Send + Sync {
    /// The value of `query` now: the first series' latest sample; `None` when it returns nothing.
    async fn value(&self, query: &str) -> Result<Option<f64>, CoreError>;
    /// Every series of `query` now: its labels and latest sample (histogram buckets, say).
    async fn vector(
        &self,
        query: &str,
    ) -> Result<Vec<(std::collections::BTreeMap<String, String>, f64)>, CoreError>;
}

#[async_trait]
pub trait AuditPort: Send + Sync {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError>;
}
