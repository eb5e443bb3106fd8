//! Run counts per experiment. `MLflow` has no "count runs" call, so the experiments' run counts
//! come from searching their runs (a few experiments at a time), cached for [`RUN_COUNT_TTL`];
//! a full read of an experiment's runs refreshes its entry.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use mlops_core::{
    CoreError,
    model::{Experiment, Run},
    ports::RegistryPort,
};

use super::{MlflowRegistry, RUNS_PAGE_SIZE};

/// How long [`RegistryPort::experiments`] trusts a run count before searching again.
pub const RUN_COUNT_TTL: Duration = Duration::from_secs(60);
/// Experiments whose runs are counted at the same time.
const COUNT_CONCURRENCY: usize = 4;

#[derive(Debug, Clone, Copy)]
pub(super) struct CountEntry {
    pub(super) at: Instant,
    pub(super) runs: usize,
    pub(super) latest: Option<DateTime<Utc>>,
}

fn count_entry(runs: &[Run]) -> CountEntry {
    CountEntry {
        at: Instant::now(),
        runs: runs.len(),
        latest: runs
            .iter()
            .map(|r| r.end.unwrap_or(r.start).max(r.start))
            .max(),
    }
}

impl MlflowRegistry {
    /// Count the runs of each experiment (cached for [`RUN_COUNT_TTL`]).
    pub(super) async fn run_counts(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, CountEntry>, CoreError> {
        let now = Instant::now();
        let mut fresh = HashMap::new();
        let mut stale = Vec::new();
        {
            let cache = self
                .run_counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for id in ids {
                match cache.get(id) {
                    Some(e) if now.duration_since(e.at) < RUN_COUNT_TTL => {
                        fresh.insert(id.clone(), *e);
                    }
                    _ => stale.push(id.clone()),
                }
            }
        }
        let counted: Vec<(String, CountEntry)> = stream::iter(stale)
            .map(|id| async move {
                let search = self.search_runs_paged(&[&id], RUNS_PAGE_SIZE).await?;
                Ok::<_, CoreError>((id, count_entry(&search.runs)))
            })
            .buffer_unordered(COUNT_CONCURRENCY)
            .try_collect()
            .await?;
        let mut cache = self
            .run_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, entry) in counted {
            cache.insert(id.clone(), entry);
            fresh.insert(id, entry);
        }
        Ok(fresh)
    }

    pub(super) fn known_counts(&self) -> HashMap<String, CountEntry> {
        self.run_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The experiments with every run counted (reads every run; cached for [`RUN_COUNT_TTL`]).
    pub async fn experiments_with_counts(&self) -> Result<Vec<Experiment>, CoreError> {
        let listed = self.experiments().await?;
        let ids: Vec<String> = listed.iter().map(|e| e.id.clone()).collect();
        self.run_counts(&ids).await?;
        self.experiments().await
    }

    pub(super) fn remember_count(&self, experiment_id: &str, runs: &[Run]) {
        self.run_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(experiment_id.to_string(), count_entry(runs));
    }
}
