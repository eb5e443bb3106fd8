//! The simulated registry's reads that the platform's `RegistryPort` and the rollouts' effects
//! both answer from (experiments' runs, a page of a search, one run), so the two views of the one
//! registry cannot differ. Writes (aliases, tags) are in `mod.rs`.

use super::Sim;
use crate::{
    demo::search,
    error::CoreError,
    model::{Run, RunPage, RunQuery},
};

impl Sim {
    /// The runs of experiment `experiment_id`.
    pub fn experiment_runs(&self, experiment_id: &str) -> Result<Vec<Run>, CoreError> {
        if !self.experiments.iter().any(|e| e.id == experiment_id) {
            return Err(CoreError::NotFound {
                kind: "experiment",
                name: experiment_id.into(),
            });
        }
        Ok(self
            .runs
            .iter()
            .filter(|r| r.experiment_id == experiment_id)
            .cloned()
            .collect())
    }

    /// One page of a runs search, filtered and ordered as MLflow does.
    pub fn runs_page(
        &self,
        query: &RunQuery,
        page_token: Option<&str>,
    ) -> Result<RunPage, CoreError> {
        if let Some(unknown) = query
            .experiment_ids
            .iter()
            .find(|id| !self.experiments.iter().any(|e| e.id == **id))
        {
            return Err(CoreError::NotFound {
                kind: "experiment",
                name: unknown.clone(),
            });
        }
        search::page(&self.runs, query, page_token)
    }

    pub fn run(&self, run_id: &str) -> Result<Run, CoreError> {
        self.runs
            .iter()
            .find(|r| r.id == run_id)
            .cloned()
            .ok_or_else(|| CoreError::NotFound {
                kind: "run",
                name: run_id.into(),
            })
    }
}
