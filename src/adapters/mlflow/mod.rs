//! The `MLflow` adapter: experiments, runs, metric histories and the model registry through
//! `MLflow`'s REST API (`/api/2.0/mlflow/...`), mapped to the core's types.
//!
//! Owns the HTTP conversation with one tracking server and the JSON mapping; it must not hold
//! state beyond a short-lived cache of run counts. Authentication follows `MLflow`'s own clients
//! (`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`, else `MLFLOW_TRACKING_TOKEN`); TLS is
//! verified with reqwest's rustls roots; every request has a timeout. Secrets are never logged or
//! displayed: [`Auth`]'s `Debug` redacts them and user-info in the URI is moved into [`Auth`].
//!
//! `MLflow` has no "count runs" call, so [`RegistryPort::experiments`] counts each experiment's
//! runs by searching them (in parallel, a few at a time) and caches the counts for
//! [`RUN_COUNT_TTL`]; a call to [`RegistryPort::runs`] refreshes its experiment's entry.
//!
//! Files: `mod.rs` the adapter and its port; `search` runs through `runs/search`; `counts` the
//! cached run counts; `wire` the JSON as MLflow sends it; `map` the mapping to the core's types;
//! `logged` MLflow 3's logged models (wire, mapping and search); `tests` beside them. The HTTP
//! layer is `adapters::http`.

mod counts;
mod logged;
mod map;
pub mod paging;
mod search;
#[cfg(test)]
mod tests;
mod wire;

use self::counts::CountEntry;
pub use self::{
    counts::RUN_COUNT_TTL,
    paging::{Bounds, Pager},
    search::RunSearch,
};

use std::{collections::HashMap, fmt, sync::Mutex, time::Duration};

use async_trait::async_trait;
use mlops_core::{
    CoreError,
    model::{Experiment, MetricPoint, RegisteredModel, Run, RunPage},
    ports::RegistryPort,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use self::{
    map::{map_experiment, map_metric_point, map_models, map_run},
    wire::{
        ApiErrorBody, ExperimentGet, ExperimentsPage, HistoryPage, ModelVersionsPage, Page,
        RegisteredModelBody, RegisteredModelsPage, RunGet,
    },
};
use super::http::{Auth, CallError, Endpoint, Failure, Tls, snippet, status_text};

/// `runs/search` page size: `MLflow`'s default (its ceiling is 50 000, but a page of 1000 runs
/// with datasets is already ~6 MB).
pub const RUNS_PAGE_SIZE: u32 = 1000;
const EXPERIMENTS_PAGE_SIZE: u32 = 1000;
const REGISTRY_PAGE_SIZE: u32 = 1000;
/// `MLflow`'s own ceiling for `metrics/get-history`.
const HISTORY_PAGE_SIZE: u32 = 25_000;
/// Dataset input tags and source keys that may say where the data lives.
const REGION_KEYS: [&str; 4] = [
    "region",
    "mlops.dev/region",
    "data_region",
    "mlflow.data.region",
];

/// A registered model's name as MLflow accepts it (not blank, no '/' or ':', not starting with
/// '.', no control characters, at most 256 characters), checked before it goes into a request.
pub fn check_model_name(name: &str) -> Result<(), CoreError> {
    let printable = !name
        .chars()
        .any(|c| c.is_control() || mlops_core::text::is_bidi_control(c));
    if !name.trim().is_empty()
        && name.chars().count() <= 256
        && !name.contains(['/', ':'])
        && !name.starts_with('.')
        && printable
    {
        return Ok(());
    }
    let shown = mlops_core::text::truncate(&mlops_core::text::line(name), 80).into_owned();
    Err(CoreError::rejected(
        "mlflow",
        format!(
            "invalid model name {shown:?}: a registered model's name is not blank, has no '/' or ':', does not start with '.', has no control characters and at most 256 characters"
        ),
    ))
}

/// What [`is_run_id`] accepts, in words for an error message.
pub const RUN_ID_RULE: &str =
    "a letter or digit, then letters, digits, '_' or '-', at most 256 characters";

/// Whether `id` is a run id as MLflow accepts one (`^[a-zA-Z0-9][\w\-]{0,255}$`, in ASCII): no
/// control characters, spaces, slashes or query syntax can reach a request through it.
pub fn is_run_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.len() <= 256
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

/// One `MLflow` tracking server behind [`RegistryPort`].
pub struct MlflowRegistry {
    endpoint: Endpoint,
    run_counts: Mutex<HashMap<String, CountEntry>>,
}

impl fmt::Debug for MlflowRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowRegistry")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

pub use mlops_core::model::RunQuery;

/// Runs per `get-history-bulk-interval` call (MLflow's limit).
const BULK_INTERVAL_RUNS: usize = 100;
/// Bytes of run ids per `get-history-bulk-interval` call: the ids go in the query string, and
/// MLflow's gunicorn refuses a request line over 4,094 bytes (100 ids of 32 hex digits are 4,100).
const BULK_INTERVAL_QUERY_BYTES: usize = 3000;

/// `run_ids` in calls of at most 100 runs and 3,000 bytes of ids each.
fn bulk_chunks(run_ids: &[String]) -> Vec<&[String]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, id) in run_ids.iter().enumerate() {
        let cost = id.len() + "&run_ids=".len();
        if i > start
            && (i - start == BULK_INTERVAL_RUNS || bytes + cost > BULK_INTERVAL_QUERY_BYTES)
        {
            chunks.push(&run_ids[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += cost;
    }
    if start < run_ids.len() {
        chunks.push(&run_ids[start..]);
    }
    chunks
}
/// The most points a run `get-history-bulk-interval` is asked for.
const BULK_INTERVAL_MAX_POINTS: usize = 1000;

impl MlflowRegistry {
    /// A client for the tracking server at `uri` (http or https).
    pub fn new(uri: &str, auth: Auth) -> Result<Self, CoreError> {
        Ok(Self {
            endpoint: Endpoint::new("mlflow", "the MLflow tracking URI", uri, auth)?,
            run_counts: Mutex::new(HashMap::new()),
        })
    }

    /// A client configured as `MLflow`'s own clients are: `MLFLOW_TRACKING_URI`, then
    /// `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (basic) or `MLFLOW_TRACKING_TOKEN`
    /// (bearer), basic first as in `mlflow.utils.rest_utils`.
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let uri = get("MLFLOW_TRACKING_URI").ok_or_else(|| {
            CoreError::not_configured(
                "the model registry (MLflow)",
                "MLFLOW_TRACKING_URI is not set (e.g. http://127.0.0.1:5000)",
            )
        })?;
        let auth = match (
            get("MLFLOW_TRACKING_USERNAME"),
            get("MLFLOW_TRACKING_PASSWORD"),
            get("MLFLOW_TRACKING_TOKEN"),
        ) {
            (Some(username), Some(password), _) => Auth::Basic { username, password },
            (_, _, Some(token)) => Auth::Bearer(token),
            (Some(_), None, None) => {
                return Err(CoreError::backend(
                    "mlflow",
                    "MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not",
                ));
            }
            (None, Some(_), None) => {
                return Err(CoreError::backend(
                    "mlflow",
                    "MLFLOW_TRACKING_PASSWORD is set but MLFLOW_TRACKING_USERNAME is not",
                ));
            }
            (None, None, None) => Auth::None,
        };
        Self::new(&uri, auth)
    }

    /// Certificates checked as `tls` says: a private CA, or (explicitly) not at all.
    pub fn with_tls(mut self, tls: &Tls) -> Result<Self, CoreError> {
        self.endpoint = self.endpoint.with_tls(tls)?;
        Ok(self)
    }

    /// The per-request timeout (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.endpoint = self.endpoint.with_timeout(timeout);
        self
    }

    pub fn base_url(&self) -> String {
        self.endpoint.base_url()
    }

    /// The experiment named `name` (or with that id, when `name` is all digits).
    pub async fn experiment_named(&self, name: &str) -> Result<Experiment, CoreError> {
        let not_found = || CoreError::NotFound {
            kind: "experiment",
            name: name.to_string(),
        };
        let (endpoint, key) = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            ("experiments/get", "experiment_id")
        } else {
            ("experiments/get-by-name", "experiment_name")
        };
        let got: ExperimentGet = self
            .call(Method::GET, endpoint, &[(key, name)], None)
            .await
            .map_err(|e| {
                if e.is_not_found() {
                    not_found()
                } else {
                    CoreError::from(e)
                }
            })?;
        Ok(map_experiment(got.experiment, None))
    }

    /// Registered models matching MLflow's registered-model `filter` (`name LIKE 'fraud%'`),
    /// evaluated by the server, with their versions.
    pub async fn search_models(&self, filter: &str) -> Result<Vec<RegisteredModel>, CoreError> {
        let models = self
            .all_pages::<RegisteredModelsPage>(
                "registered-models/search",
                REGISTRY_PAGE_SIZE,
                &[("filter", filter)],
            )
            .await?;
        let mut versions = Vec::new();
        for m in &models {
            let f = format!(
                "name='{}'",
                m.name.replace('\\', "\\\\").replace('\'', "\\'")
            );
            versions.extend(
                self.all_pages::<ModelVersionsPage>(
                    "model-versions/search",
                    REGISTRY_PAGE_SIZE,
                    &[("filter", f.as_str())],
                )
                .await?,
            );
        }
        map_models(models, versions)
            .map_err(|m| self.malformed("GET", "registered-models/search", &m))
    }

    fn malformed(&self, method: &str, endpoint: &str, message: &str) -> CoreError {
        self.endpoint
            .fail(
                &format!("{method} /api/2.0/mlflow/{endpoint}"),
                Failure::Malformed(message.to_string()),
            )
            .into()
    }

    /// One request to `/api/2.0/mlflow/{endpoint}`, its JSON answer decoded as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, CallError> {
        let shown = format!("{method} /api/2.0/mlflow/{endpoint}");
        let answer = self
            .endpoint
            .send(
                method,
                &format!("api/2.0/mlflow/{endpoint}"),
                &shown,
                query,
                body,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(self
                .endpoint
                .fail(&shown, api_failure(answer.status, &answer.body)));
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            self.endpoint.fail(
                &shown,
                Failure::Malformed(format!(
                    "{e} ({}; body starts: {})",
                    status_text(answer.status),
                    snippet(&answer.body)
                )),
            )
        })
    }

    async fn experiment_exists(&self, experiment_id: &str) -> Result<bool, CoreError> {
        match self
            .call::<serde_json::Value>(
                Method::GET,
                "experiments/get",
                &[("experiment_id", experiment_id)],
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            // MLflow answers a non-numeric id with INVALID_PARAMETER_VALUE: it cannot exist.
            Err(CallError {
                failure: Failure::Api { code: Some(c), .. },
                ..
            }) if c == "INVALID_PARAMETER_VALUE" => Ok(false),
            Err(e) => Err(CoreError::from(e)),
        }
    }

    async fn all_pages<P: Page + DeserializeOwned>(
        &self,
        endpoint: &str,
        page_size: u32,
        extra: &[(&str, &str)],
    ) -> Result<Vec<P::Item>, CoreError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let mut pager = Pager::new(Bounds::LISTING);
        let size = page_size.to_string();
        loop {
            let mut query = vec![("max_results", size.as_str())];
            query.extend_from_slice(extra);
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let page: P = self
                .call(Method::GET, endpoint, &query, None)
                .await
                .map_err(CoreError::from)?;
            let (page_items, next) = page.split();
            let added = page_items.len();
            items.extend(page_items);
            match pager
                .next(added, next)
                .map_err(|m| self.malformed("GET", endpoint, &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(items)
    }
}

/// An error answer as MLflow sends it (`{"error_code", "message"}`), with what to check.
fn api_failure(status: reqwest::StatusCode, body: &[u8]) -> Failure {
    let hint = match status.as_u16() {
        401 => {
            " (check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)"
        }
        403 => " (the credentials are valid but lack permission)",
        _ => "",
    };
    let (code, message) = match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(ApiErrorBody {
            error_code,
            message: Some(message),
        }) => (error_code, message),
        Ok(ApiErrorBody {
            error_code: Some(code),
            message: None,
        }) => (Some(code), String::new()),
        _ => (None, snippet(body)),
    };
    Failure::Api {
        status,
        code,
        message,
        hint,
    }
}

#[async_trait]
impl RegistryPort for MlflowRegistry {
    fn describe(&self) -> String {
        format!(
            "mlflow {} ({})",
            self.endpoint.base_url(),
            self.endpoint.auth_kind()
        )
    }

    async fn experiments(&self) -> Result<Vec<Experiment>, CoreError> {
        let mut raw = Vec::new();
        let mut token: Option<String> = None;
        let mut pager = Pager::new(Bounds::LISTING);
        loop {
            let mut body = json!({
                "max_results": EXPERIMENTS_PAGE_SIZE,
                "view_type": "ACTIVE_ONLY",
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page: ExperimentsPage = self
                .call(Method::POST, "experiments/search", &[], Some(&body))
                .await
                .map_err(CoreError::from)?;
            let added = page.experiments.len();
            raw.extend(page.experiments);
            match pager
                .next(added, page.next_page_token)
                .map_err(|m| self.malformed("POST", "experiments/search", &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        // Counting means reading every run; the list shows the counts already known (from runs
        // loaded earlier) and stays fast at any scale. `experiments_with_counts` counts them all.
        let counts = self.known_counts();
        Ok(raw
            .into_iter()
            .map(|e| {
                let count = counts.get(&e.experiment_id).copied();
                map_experiment(e, count.map(|c| (c.runs, c.latest)))
            })
            .collect())
    }

    async fn runs(&self, experiment_id: &str) -> Result<Vec<Run>, CoreError> {
        let search = self
            .search_runs_paged(&[experiment_id], RUNS_PAGE_SIZE)
            .await?;
        // MLflow answers an unknown experiment with no runs; the demo (and the UI) expect an
        // error that says so.
        if search.runs.is_empty() && !self.experiment_exists(experiment_id).await? {
            return Err(CoreError::NotFound {
                kind: "experiment",
                name: experiment_id.into(),
            });
        }
        self.remember_count(experiment_id, &search.runs);
        Ok(search.runs)
    }

    async fn runs_page(
        &self,
        query: &RunQuery,
        page_token: Option<&str>,
    ) -> Result<RunPage, CoreError> {
        let (runs, next_page_token) = self.search_runs_page(query, page_token).await?;
        Ok(RunPage {
            runs,
            next_page_token,
        })
    }

    async fn run(&self, run_id: &str) -> Result<Run, CoreError> {
        let got: RunGet = match self
            .call(Method::GET, "runs/get", &[("run_id", run_id)], None)
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_not_found() => {
                return Err(CoreError::NotFound {
                    kind: "run",
                    name: run_id.into(),
                });
            }
            Err(e) => return Err(CoreError::from(e)),
        };
        map_run(got.run).map_err(|m| self.malformed("GET", "runs/get", &m))
    }

    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        let mut pager = Pager::new(Bounds::HISTORY);
        let size = HISTORY_PAGE_SIZE.to_string();
        loop {
            let mut query = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", size.as_str()),
            ];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let page: HistoryPage = match self
                .call(Method::GET, "metrics/get-history", &query, None)
                .await
            {
                Ok(p) => p,
                Err(e) if e.is_not_found() => {
                    return Err(CoreError::NotFound {
                        kind: "run",
                        name: run_id.into(),
                    });
                }
                Err(e) => return Err(CoreError::from(e)),
            };
            let added = page.metrics.len();
            for m in page.metrics {
                points.push(
                    map_metric_point(&m)
                        .map_err(|msg| self.malformed("GET", "metrics/get-history", &msg))?,
                );
            }
            match pager
                .next(added, page.next_page_token)
                .map_err(|m| self.malformed("GET", "metrics/get-history", &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        if points.is_empty() {
            // MLflow answers both an unknown run and an unknown key with an empty history; say
            // which one it is, as the demo does.
            self.run(run_id).await?;
            return Err(CoreError::NotFound {
                kind: "metric",
                name: format!("{key} of run {run_id}"),
            });
        }
        points.sort_by_key(|p| (p.step, p.timestamp));
        Ok(points)
    }

    /// `get-history-bulk-interval`: the server samples each history to `max_points`, 100 runs
    /// a call.
    async fn metric_histories(
        &self,
        run_ids: &[String],
        key: &str,
        max_points: usize,
    ) -> Result<Vec<(String, Vec<MetricPoint>)>, CoreError> {
        let endpoint = "metrics/get-history-bulk-interval";
        let mut by_run: HashMap<String, Vec<MetricPoint>> = HashMap::new();
        let max = max_points.clamp(1, BULK_INTERVAL_MAX_POINTS).to_string();
        for chunk in bulk_chunks(run_ids) {
            let mut query: Vec<(&str, &str)> =
                chunk.iter().map(|id| ("run_ids", id.as_str())).collect();
            query.push(("metric_key", key));
            query.push(("max_results", max.as_str()));
            let page: HistoryPage = self
                .call(Method::GET, endpoint, &query, None)
                .await
                .map_err(CoreError::from)?;
            for m in page.metrics {
                let Some(run) = m.run_id.clone().filter(|r| chunk.contains(r)) else {
                    return Err(self.malformed(
                        "GET",
                        endpoint,
                        "a point without the run_id of one of the runs asked for",
                    ));
                };
                let point =
                    map_metric_point(&m).map_err(|msg| self.malformed("GET", endpoint, &msg))?;
                by_run.entry(run).or_default().push(point);
            }
        }
        Ok(run_ids
            .iter()
            .map(|id| {
                let mut points = by_run.remove(id).unwrap_or_default();
                points.sort_by_key(|p| (p.step, p.timestamp));
                (id.clone(), points)
            })
            .collect())
    }

    async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError> {
        let (models, versions) = futures::try_join!(
            self.all_pages::<RegisteredModelsPage>(
                "registered-models/search",
                REGISTRY_PAGE_SIZE,
                &[]
            ),
            self.all_pages::<ModelVersionsPage>("model-versions/search", REGISTRY_PAGE_SIZE, &[]),
        )?;
        map_models(models, versions)
            .map_err(|m| self.malformed("GET", "registered-models/search", &m))
    }

    async fn logged_models(
        &self,
        experiment_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<mlops_core::model::LoggedModel>, CoreError> {
        self.search_logged_models(experiment_id, run_id).await
    }

    async fn model(&self, name: &str) -> Result<RegisteredModel, CoreError> {
        check_model_name(name)?;
        let filter = format!("name='{}'", name.replace('\\', "\\\\").replace('\'', "\\'"));
        let extra = [("filter", filter.as_str())];
        let (model, versions) = futures::try_join!(
            async {
                self.call::<RegisteredModelBody>(
                    Method::GET,
                    "registered-models/get",
                    &[("name", name)],
                    None,
                )
                .await
                .map_err(|e| {
                    if e.is_not_found() {
                        CoreError::NotFound {
                            kind: "registered model",
                            name: name.to_string(),
                        }
                    } else {
                        CoreError::from(e)
                    }
                })
            },
            self.all_pages::<ModelVersionsPage>(
                "model-versions/search",
                REGISTRY_PAGE_SIZE,
                &extra
            ),
        )?;
        map_models(vec![model.registered_model], versions)
            .map_err(|m| self.malformed("GET", "registered-models/get", &m))?
            .pop()
            .ok_or_else(|| CoreError::NotFound {
                kind: "registered model",
                name: name.to_string(),
            })
    }

    /// Point `alias` of `model` at `version` (registry sync after a promotion or rollback).
    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError> {
        check_model_name(model)?;
        let previous = self.model(model).await?.aliases.get(alias).copied();
        let body = json!({"name": model, "alias": alias, "version": version.to_string()});
        self.call::<serde_json::Value>(Method::POST, "registered-models/alias", &[], Some(&body))
            .await
            .map(|_| previous)
            .map_err(CoreError::from)
    }

    /// Set a tag on a model version (e.g. `promoted_by`, `promoted_at`).
    async fn set_version_tag(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError> {
        check_model_name(model)?;
        let body =
            json!({"name": model, "version": version.to_string(), "key": key, "value": value});
        self.call::<serde_json::Value>(Method::POST, "model-versions/set-tag", &[], Some(&body))
            .await
            .map(|_| ())
            .map_err(CoreError::from)
    }
}
