//! Live drift against what each version was trained on: the metrics store's feature histograms
//! compared with the drift profile logged with the version's training data in the registry.
//! [`ProfiledDrift`] is the metrics port the console and `mlops drift live` use when both a
//! Prometheus and an MLflow are configured, so both show the same numbers.
//!
//! A version's profile: its source run (the registry's version → `run_id`), that run's first
//! dataset whose `profile` is a drift profile (`mlops drift profile` writes one; MLflow's own
//! `num_rows` summaries are not). Profiles change when versions do, not when traffic does: they
//! are looked up again after [`PROFILES_TTL`], and a registry that fails leaves the versions on
//! the reference window, with the reason kept as a warning.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use mlops_core::{
    CoreError,
    drift::profile::{self, FORMAT},
    model::{FeatureDrift, Gpu, RolloutSeries},
    ports::{MetricsPort, QueryPort, RegistryPort},
};

use super::{PrometheusMetrics, VersionProfiles};

/// How long looked-up profiles are trusted.
pub const PROFILES_TTL: Duration = Duration::from_secs(300);

/// The versions the model servers report feature histograms for.
const VERSIONS_QUERY: &str = "group by (model, version) (model_feature_value_bucket)";

type Found = (VersionProfiles, Vec<String>);

pub struct ProfiledDrift {
    metrics: Arc<PrometheusMetrics>,
    registry: Arc<dyn RegistryPort>,
    cache: Mutex<Option<(Instant, Found)>>,
}

impl ProfiledDrift {
    pub fn new(metrics: Arc<PrometheusMetrics>, registry: Arc<dyn RegistryPort>) -> Self {
        Self {
            metrics,
            registry,
            cache: Mutex::new(None),
        }
    }

    /// Each served version's training data profile, and why one could not be read.
    pub async fn profiles(&self) -> Found {
        if let Some((at, found)) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < PROFILES_TTL
        {
            return found.clone();
        }
        let found = self.look_up().await;
        // Only a complete answer is kept: after a failure the next refresh tries again.
        if found.1.is_empty() {
            *self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((Instant::now(), found.clone()));
        }
        found
    }

    async fn look_up(&self) -> Found {
        let mut found = VersionProfiles::new();
        let mut warnings = Vec::new();
        let versions = match self.metrics.vector(VERSIONS_QUERY).await {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("no training data profiles: {e}"));
                return (found, warnings);
            }
        };
        let mut models = BTreeMap::new();
        for (labels, _) in versions {
            let (Some(model), Some(version)) = (
                labels.get("model"),
                labels.get("version").and_then(|v| v.parse::<u32>().ok()),
            ) else {
                continue;
            };
            if !models.contains_key(model) {
                let m = self.registry.model(model).await;
                models.insert(model.clone(), m);
            }
            let registered = match &models[model] {
                Ok(m) => m,
                // A model the registry does not hold: nothing to compare with but the window.
                Err(CoreError::NotFound { .. }) => continue,
                Err(e) => {
                    warnings.push(format!("{model} v{version}: {e}"));
                    continue;
                }
            };
            let Some(run_id) = registered.version(version).and_then(|v| v.run_id.clone()) else {
                continue;
            };
            let run = match self.registry.run(&run_id).await {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(format!("{model} v{version}: run {run_id}: {e}"));
                    continue;
                }
            };
            for d in &run.datasets {
                let Some(text) = d.profile.as_deref().filter(|t| t.contains(FORMAT)) else {
                    continue;
                };
                let name = format!("{}@{}", d.name, d.digest);
                match profile::parse(text, &name) {
                    Ok(p) => {
                        found.insert((model.clone(), version), (name, p));
                        break;
                    }
                    Err(e) => warnings.push(format!("{model} v{version}: {e}")),
                }
            }
        }
        (found, warnings)
    }

    /// Drift now, each version against its profile where it has one; with the profiles used
    /// and the warnings of their lookup.
    pub async fn drift_with_profiles(
        &self,
    ) -> Result<(Vec<FeatureDrift>, VersionProfiles, Vec<String>), CoreError> {
        let (profiles, warnings) = self.profiles().await;
        let drift = self.metrics.drift_against(Utc::now(), &profiles).await?;
        Ok((drift, profiles, warnings))
    }
}

#[async_trait]
impl MetricsPort for ProfiledDrift {
    fn describe(&self) -> String {
        self.metrics.describe()
    }

    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError> {
        self.metrics.gpus().await
    }

    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError> {
        self.drift_with_profiles().await.map(|(d, _, _)| d)
    }

    async fn rollout_series(
        &self,
        cluster: &str,
        rollout: &str,
    ) -> Result<RolloutSeries, CoreError> {
        self.metrics.rollout_series(cluster, rollout).await
    }
}
