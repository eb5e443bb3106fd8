//! Runs through `runs/search`: every page of a set of experiments, one page of a query as the
//! server evaluates it, or a query's runs up to a limit. A run that shows up on two pages
//! (runs created while paging shift the offsets) is kept once; a page token that comes back is
//! an error, not a loop.

use std::collections::HashSet;

use mlops_core::{CoreError, model::Run};
use reqwest::Method;
use serde_json::json;

use super::{
    MlflowRegistry, RunQuery,
    map::map_run,
    paging::{Bounds, Pager},
    wire::RunsPage,
};

/// Runs found by [`MlflowRegistry::search_runs_paged`], and how many pages it took.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSearch {
    pub runs: Vec<Run>,
    pub pages: usize,
}

impl MlflowRegistry {
    /// All active runs of `experiment_ids`, `page_size` per `runs/search` page, every page.
    /// A run that shows up on two pages (runs created while paging shift the offsets) is kept
    /// once.
    pub async fn search_runs_paged(
        &self,
        experiment_ids: &[&str],
        page_size: u32,
    ) -> Result<RunSearch, CoreError> {
        let query = RunQuery {
            experiment_ids: experiment_ids.iter().map(|id| (*id).to_string()).collect(),
            filter: None,
            order_by: Vec::new(),
            page_size,
        };
        self.search_runs(&query, Bounds::LISTING.items).await
    }

    /// One page of `runs/search` with MLflow's own `filter` and `order_by`, evaluated by the
    /// server (an invalid filter comes back as the server's message); the token of the next
    /// page, if there is one.
    pub async fn search_runs_page(
        &self,
        query: &RunQuery,
        page_token: Option<&str>,
    ) -> Result<(Vec<Run>, Option<String>), CoreError> {
        if query.page_size == 0 {
            return Err(CoreError::backend(
                self.endpoint.backend(),
                "runs/search: the page size must be at least 1",
            ));
        }
        let mut body = json!({
            "experiment_ids": query.experiment_ids,
            "max_results": query.page_size,
            "run_view_type": "ACTIVE_ONLY",
        });
        if let Some(f) = query.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            body["filter"] = json!(f);
        }
        if !query.order_by.is_empty() {
            body["order_by"] = json!(query.order_by);
        }
        if let Some(t) = page_token {
            body["page_token"] = json!(t);
        }
        let page: RunsPage = self
            .call(Method::POST, "runs/search", &[], Some(&body))
            .await
            .map_err(CoreError::from)?;
        let runs = page
            .runs
            .into_iter()
            .map(|raw| map_run(raw).map_err(|m| self.malformed("POST", "runs/search", &m)))
            .collect::<Result<Vec<_>, _>>()?;
        let next = page.next_page_token.filter(|t| !t.is_empty());
        Ok((runs, next))
    }

    /// Runs matching `query`, pages followed until `max` runs or the last page; a run that
    /// shows up on two pages is kept once. The pages are bounded (`Pager`): a token that comes
    /// back, or pages that keep coming without bringing `max` runs, are an error.
    pub async fn search_runs(&self, query: &RunQuery, max: usize) -> Result<RunSearch, CoreError> {
        let mut runs = Vec::new();
        let mut seen = HashSet::new();
        let mut pager = Pager::new(Bounds::up_to(max, query.page_size));
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let (page, next) = self.search_runs_page(query, token.as_deref()).await?;
            pages += 1;
            let before = runs.len();
            for run in page {
                if runs.len() < max && seen.insert(run.id.clone()) {
                    runs.push(run);
                }
            }
            if runs.len() >= max {
                break;
            }
            match pager
                .next(runs.len() - before, next)
                .map_err(|m| self.malformed("POST", "runs/search", &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(RunSearch { runs, pages })
    }
}
