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
//! This module also holds the small HTTP helpers ([`Auth`], error texts) that the Prometheus
//! adapter shares.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use mlops_core::{
    CoreError,
    model::{Dataset, Experiment, MetricPoint, ModelVersion, RegisteredModel, Run, RunStatus},
    ports::RegistryPort,
};
use reqwest::{Method, RequestBuilder, Url};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::json;

/// Per-request timeout unless [`MlflowRegistry::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// `runs/search` page size: `MLflow`'s default (its ceiling is 50 000, but a page of 1000 runs
/// with datasets is already ~6 MB).
pub const RUNS_PAGE_SIZE: u32 = 1000;
/// How long [`RegistryPort::experiments`] trusts a run count before searching again.
pub const RUN_COUNT_TTL: Duration = Duration::from_secs(60);
/// Experiments whose runs are counted at the same time.
const COUNT_CONCURRENCY: usize = 4;
const EXPERIMENTS_PAGE_SIZE: u32 = 1000;
const REGISTRY_PAGE_SIZE: u32 = 1000;
/// `MLflow`'s own ceiling for `metrics/get-history`.
const HISTORY_PAGE_SIZE: u32 = 25_000;
/// Longest piece of a response body quoted in an error.
const BODY_SNIPPET: usize = 300;
/// Dataset input tags and source keys that may say where the data lives.
const REGION_KEYS: [&str; 4] = [
    "region",
    "mlops.dev/region",
    "data_region",
    "mlflow.data.region",
];

// ------------------------------------------------------------------------------------------
// Credentials and the HTTP helpers shared with the Prometheus adapter.

/// How requests authenticate. `Debug` never shows a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Auth::Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// What kind of credentials, for `describe()`: never the secret itself.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "no auth",
            Auth::Basic { .. } => "basic auth",
            Auth::Bearer(_) => "bearer token",
        }
    }

    pub(crate) fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }
}

/// Parse a base URL (http or https only), moving any user-info into `auth` so that the URL
/// can be shown in errors. `what` names the setting for the error message.
pub(crate) fn parse_base_url(what: &str, raw: &str, auth: &mut Auth) -> Result<Url, String> {
    let trimmed = raw.trim();
    let mut url = Url::parse(trimmed).map_err(|e| {
        format!("{what} must be an http(s) URL such as http://127.0.0.1:5000 ({e})")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{what} must be an http(s) URL; scheme {:?} is not supported",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        if *auth == Auth::None {
            *auth = Auth::Basic {
                username: percent_decode(url.username()),
                password: percent_decode(url.password().unwrap_or_default()),
            };
        }
        // Infallible for http(s) URLs, which have a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL as shown to users: no user-info (already removed), no trailing slash.
pub(crate) fn shown_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// A transport failure in words: reqwest's message plus its causes (e.g. "connection
/// refused"), without the URL, which the caller names itself.
pub(crate) fn transport_error(e: reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return if timeout < Duration::from_secs(1) {
            format!("no answer within {} ms (timed out)", timeout.as_millis())
        } else {
            format!(
                "no answer within {:.1} s (timed out)",
                timeout.as_secs_f64()
            )
        };
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The start of a response body, on one line, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > BODY_SNIPPET {
        let cut: String = one_line.chars().take(BODY_SNIPPET).collect();
        format!("{cut}…")
    } else if one_line.is_empty() {
        "(empty body)".into()
    } else {
        one_line
    }
}

/// "404 Not Found" from a status code.
pub(crate) fn status_text(status: reqwest::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

// ------------------------------------------------------------------------------------------
// Errors of one call, kept structured until they become a CoreError so callers can tell
// "does not exist" from other failures.

#[derive(Debug)]
enum Failure {
    /// The server answered with an error status; `code`/`message` from `MLflow`'s JSON body.
    Api {
        status: reqwest::StatusCode,
        code: Option<String>,
        message: String,
    },
    /// No usable answer: connection, TLS, timeout.
    Transport(String),
    /// An answer that is not the JSON we expect.
    Malformed(String),
}

#[derive(Debug)]
struct CallError {
    endpoint: String,
    failure: Failure,
}

impl CallError {
    fn is_not_found(&self) -> bool {
        matches!(
            &self.failure,
            Failure::Api { code: Some(c), .. } if c == "RESOURCE_DOES_NOT_EXIST"
        ) || matches!(&self.failure, Failure::Api { status, code: None, .. } if *status == reqwest::StatusCode::NOT_FOUND)
    }

    fn into_core(self, backend: &str) -> CoreError {
        let what = match self.failure {
            Failure::Api {
                status,
                code,
                message,
            } => {
                let hint = match status.as_u16() {
                    401 => {
                        " (check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)"
                    }
                    403 => " (the credentials are valid but lack permission)",
                    _ => "",
                };
                match code {
                    Some(code) => format!("{}: {code}: {message}{hint}", status_text(status)),
                    None => format!("{}: {message}{hint}", status_text(status)),
                }
            }
            Failure::Transport(m) => m,
            Failure::Malformed(m) => format!("malformed response: {m}"),
        };
        CoreError::backend(backend, format!("{}: {what}", self.endpoint))
    }
}

/// `MLflow`'s error body: `{"error_code": "...", "message": "..."}`.
#[derive(Deserialize)]
struct ApiErrorBody {
    error_code: Option<String>,
    message: Option<String>,
}

// ------------------------------------------------------------------------------------------
// The adapter.

/// One `MLflow` tracking server behind [`RegistryPort`].
pub struct MlflowRegistry {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    timeout: Duration,
    backend: String,
    run_counts: Mutex<HashMap<String, CountEntry>>,
}

#[derive(Debug, Clone, Copy)]
struct CountEntry {
    at: Instant,
    runs: usize,
    latest: Option<DateTime<Utc>>,
}

impl fmt::Debug for MlflowRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlflowRegistry")
            .field("base", &shown_url(&self.base))
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Runs found by [`MlflowRegistry::search_runs_paged`], and how many pages it took.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSearch {
    pub runs: Vec<Run>,
    pub pages: usize,
}

/// The HTTP client every adapter uses: rustls with the system's roots (TLS verified), our user
/// agent, a connect timeout.
pub(super) fn http_client(backend: &str) -> Result<reqwest::Client, CoreError> {
    reqwest::Client::builder()
        .user_agent(concat!("mlops-console/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(DEFAULT_TIMEOUT)
        .build()
        .map_err(|e| {
            CoreError::backend(
                backend,
                format!(
                    "creating the HTTP client: {}",
                    transport_error(e, DEFAULT_TIMEOUT)
                ),
            )
        })
}

impl MlflowRegistry {
    /// A client for the tracking server at `uri` (http or https).
    pub fn new(uri: &str, auth: Auth) -> Result<Self, CoreError> {
        let mut auth = auth;
        let base = parse_base_url("the MLflow tracking URI", uri, &mut auth)
            .map_err(|m| CoreError::backend("mlflow", m))?;
        let http = http_client("mlflow")?;
        let backend = format!("mlflow {}", shown_url(&base));
        Ok(Self {
            http,
            base,
            auth,
            timeout: DEFAULT_TIMEOUT,
            backend,
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
            CoreError::backend(
                "mlflow",
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

    /// The per-request timeout (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> String {
        shown_url(&self.base)
    }

    /// All active runs of `experiment_ids`, `page_size` per `runs/search` page, every page.
    /// A run that shows up on two pages (runs created while paging shift the offsets) is kept
    /// once.
    pub async fn search_runs_paged(
        &self,
        experiment_ids: &[&str],
        page_size: u32,
    ) -> Result<RunSearch, CoreError> {
        if page_size == 0 {
            return Err(CoreError::backend(
                &self.backend,
                "runs/search: the page size must be at least 1",
            ));
        }
        let mut runs = Vec::new();
        let mut seen = HashSet::new();
        let mut token: Option<String> = None;
        let mut tokens = HashSet::new();
        let mut pages = 0;
        loop {
            let mut body = json!({
                "experiment_ids": experiment_ids,
                "max_results": page_size,
                "run_view_type": "ACTIVE_ONLY",
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page: RunsPage = self
                .call(Method::POST, "runs/search", &[], Some(&body))
                .await
                .map_err(|e| e.into_core(&self.backend))?;
            pages += 1;
            for raw in page.runs {
                let run = map_run(raw).map_err(|m| self.malformed("POST", "runs/search", &m))?;
                if seen.insert(run.id.clone()) {
                    runs.push(run);
                }
            }
            match next_token(page.next_page_token, &mut tokens)
                .map_err(|m| self.malformed("POST", "runs/search", &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(RunSearch { runs, pages })
    }

    fn malformed(&self, method: &str, endpoint: &str, message: &str) -> CoreError {
        CallError {
            endpoint: format!("{method} /api/2.0/mlflow/{endpoint}"),
            failure: Failure::Malformed(message.to_string()),
        }
        .into_core(&self.backend)
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
        let fail = |failure| CallError {
            endpoint: shown.clone(),
            failure,
        };
        let url = self
            .base
            .join(&format!("api/2.0/mlflow/{endpoint}"))
            .map_err(|e| fail(Failure::Transport(format!("building the URL: {e}"))))?;
        let mut request = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let request = self.auth.apply(request);
        let response = request
            .send()
            .await
            .map_err(|e| fail(Failure::Transport(transport_error(e, self.timeout))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(Failure::Transport(transport_error(e, self.timeout))))?;
        if !status.is_success() {
            return Err(fail(api_failure(status, &bytes)));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            fail(Failure::Malformed(format!(
                "{e} ({}; body starts: {})",
                status_text(status),
                snippet(&bytes)
            )))
        })
    }

    /// Count the runs of each experiment (cached for [`RUN_COUNT_TTL`]).
    async fn run_counts(&self, ids: &[String]) -> Result<HashMap<String, CountEntry>, CoreError> {
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

    /// Point `alias` of `model` at `version` (registry sync after a promotion or rollback).
    pub async fn set_alias(&self, model: &str, alias: &str, version: u32) -> Result<(), CoreError> {
        let body = json!({"name": model, "alias": alias, "version": version.to_string()});
        self.call::<serde_json::Value>(Method::POST, "registered-models/alias", &[], Some(&body))
            .await
            .map(|_| ())
            .map_err(|e| e.into_core(&self.backend))
    }

    /// Set a tag on a model version (e.g. `promoted_by`, `promoted_at`).
    pub async fn set_version_tag(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError> {
        let body =
            json!({"name": model, "version": version.to_string(), "key": key, "value": value});
        self.call::<serde_json::Value>(Method::POST, "model-versions/set-tag", &[], Some(&body))
            .await
            .map(|_| ())
            .map_err(|e| e.into_core(&self.backend))
    }

    fn known_counts(&self) -> HashMap<String, CountEntry> {
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

    fn remember_count(&self, experiment_id: &str, runs: &[Run]) {
        self.run_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(experiment_id.to_string(), count_entry(runs));
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
            Err(e) => Err(e.into_core(&self.backend)),
        }
    }

    async fn all_pages<P: Page + DeserializeOwned>(
        &self,
        endpoint: &str,
        page_size: u32,
    ) -> Result<Vec<P::Item>, CoreError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let mut tokens = HashSet::new();
        let size = page_size.to_string();
        loop {
            let mut query = vec![("max_results", size.as_str())];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let page: P = self
                .call(Method::GET, endpoint, &query, None)
                .await
                .map_err(|e| e.into_core(&self.backend))?;
            let (page_items, next) = page.split();
            items.extend(page_items);
            match next_token(next, &mut tokens).map_err(|m| self.malformed("GET", endpoint, &m))? {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(items)
    }
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

fn api_failure(status: reqwest::StatusCode, body: &[u8]) -> Failure {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(ApiErrorBody {
            error_code,
            message: Some(message),
        }) => Failure::Api {
            status,
            code: error_code,
            message,
        },
        Ok(ApiErrorBody {
            error_code: Some(code),
            message: None,
        }) => Failure::Api {
            status,
            code: Some(code),
            message: String::new(),
        },
        _ => Failure::Api {
            status,
            code: None,
            message: snippet(body),
        },
    }
}

/// The next page token, or `None` at the end; a token seen before means the server is going in
/// circles, which would otherwise loop forever.
fn next_token(token: Option<String>, seen: &mut HashSet<String>) -> Result<Option<String>, String> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if !seen.insert(t.clone()) => Err(format!(
            "the server returned page token {t:?} twice; stopping instead of looping"
        )),
        Some(t) => Ok(Some(t)),
    }
}

#[async_trait]
impl RegistryPort for MlflowRegistry {
    fn describe(&self) -> String {
        format!("mlflow {} ({})", shown_url(&self.base), self.auth.kind())
    }

    async fn experiments(&self) -> Result<Vec<Experiment>, CoreError> {
        let mut raw = Vec::new();
        let mut token: Option<String> = None;
        let mut tokens = HashSet::new();
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
                .map_err(|e| e.into_core(&self.backend))?;
            raw.extend(page.experiments);
            match next_token(page.next_page_token, &mut tokens)
                .map_err(|m| self.malformed("POST", "experiments/search", &m))?
            {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        // Counting means reading every run; the list shows the counts already known (from runs
        // loaded earlier) and stays fast at any scale. `experiments_with_counts` counts them all.
        let counts = self.known_counts();
        raw.into_iter()
            .map(|e| {
                let count = counts.get(&e.experiment_id).copied();
                map_experiment(e, count.map(|c| (c.runs, c.latest)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| self.malformed("POST", "experiments/search", &m))
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
            Err(e) => return Err(e.into_core(&self.backend)),
        };
        map_run(got.run).map_err(|m| self.malformed("GET", "runs/get", &m))
    }

    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        let mut tokens = HashSet::new();
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
                Err(e) => return Err(e.into_core(&self.backend)),
            };
            for m in page.metrics {
                points.push(
                    map_metric_point(&m)
                        .map_err(|msg| self.malformed("GET", "metrics/get-history", &msg))?,
                );
            }
            match next_token(page.next_page_token, &mut tokens)
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

    async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError> {
        let (models, versions) = futures::try_join!(
            self.all_pages::<RegisteredModelsPage>("registered-models/search", REGISTRY_PAGE_SIZE),
            self.all_pages::<ModelVersionsPage>("model-versions/search", REGISTRY_PAGE_SIZE),
        )?;
        map_models(models, versions)
            .map_err(|m| self.malformed("GET", "registered-models/search", &m))
    }
}

// ------------------------------------------------------------------------------------------
// The JSON as MLflow sends it. Missing fields default; numbers may arrive as strings
// (protobuf's JSON mapping of int64) and doubles as "NaN"/"Infinity".

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KeyValue {
    key: String,
    value: String,
}

fn key_values(items: Vec<KeyValue>) -> BTreeMap<String, String> {
    items.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

/// A number that protobuf's JSON mapping may have turned into a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Number {
    fn as_i64(&self) -> Result<i64, String> {
        match self {
            Number::Int(i) => Ok(*i),
            #[allow(clippy::float_cmp)] // exact: only whole numbers are integers
            Number::Float(f) if f.trunc() == *f && f.is_finite() => Ok(*f as i64),
            Number::Float(f) => Err(format!("{f} is not an integer")),
            Number::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not an integer")),
        }
    }

    fn as_f64(&self) -> Result<f64, String> {
        match self {
            Number::Int(i) => Ok(*i as f64),
            Number::Float(f) => Ok(*f),
            Number::Text(s) => parse_float(s).ok_or_else(|| format!("{s:?} is not a number")),
        }
    }
}

/// Floats as JSON mappings spell them, including NaN and infinities.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "+Infinity" | "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Infinity" | "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn millis(field: &str, n: &Number) -> Result<DateTime<Utc>, String> {
    let ms = n.as_i64().map_err(|e| format!("{field}: {e}"))?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| format!("{field}: {ms} ms is outside the representable time range"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExperimentsPage {
    experiments: Vec<RawExperiment>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawExperiment {
    experiment_id: String,
    name: String,
    #[serde(default)]
    last_update_time: Option<Number>,
    #[serde(default)]
    creation_time: Option<Number>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RunsPage {
    runs: Vec<RawRun>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunGet {
    run: RawRun,
}

#[derive(Debug, Deserialize)]
struct RawRun {
    info: RawRunInfo,
    #[serde(default)]
    data: RawRunData,
    #[serde(default)]
    inputs: RawRunInputs,
}

#[derive(Debug, Deserialize)]
struct RawRunInfo {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    experiment_id: String,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    status: String,
    #[serde(default)]
    start_time: Option<Number>,
    #[serde(default)]
    end_time: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRunData {
    metrics: Vec<RawMetric>,
    params: Vec<KeyValue>,
    tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
struct RawMetric {
    key: String,
    value: Number,
    #[serde(default)]
    timestamp: Option<Number>,
    #[serde(default)]
    step: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRunInputs {
    dataset_inputs: Vec<RawDatasetInput>,
}

#[derive(Debug, Deserialize)]
struct RawDatasetInput {
    #[serde(default)]
    tags: Vec<KeyValue>,
    dataset: RawDataset,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawDataset {
    name: String,
    digest: String,
    source_type: String,
    source: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HistoryPage {
    metrics: Vec<RawMetric>,
    next_page_token: Option<String>,
}

trait Page {
    type Item;
    fn split(self) -> (Vec<Self::Item>, Option<String>);
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegisteredModelsPage {
    registered_models: Vec<RawRegisteredModel>,
    next_page_token: Option<String>,
}

impl Page for RegisteredModelsPage {
    type Item = RawRegisteredModel;
    fn split(self) -> (Vec<RawRegisteredModel>, Option<String>) {
        (self.registered_models, self.next_page_token)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ModelVersionsPage {
    model_versions: Vec<RawModelVersion>,
    next_page_token: Option<String>,
}

impl Page for ModelVersionsPage {
    type Item = RawModelVersion;
    fn split(self) -> (Vec<RawModelVersion>, Option<String>) {
        (self.model_versions, self.next_page_token)
    }
}

#[derive(Debug, Deserialize)]
struct RawRegisteredModel {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    aliases: Vec<RawAlias>,
}

#[derive(Debug, Deserialize)]
struct RawAlias {
    alias: String,
    version: Number,
}

#[derive(Debug, Deserialize)]
struct RawModelVersion {
    name: String,
    version: Number,
    #[serde(default)]
    creation_timestamp: Option<Number>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

// ------------------------------------------------------------------------------------------
// Mapping to the core's types. Errors are plain strings; the caller adds the endpoint.

fn map_experiment(
    e: RawExperiment,
    count: Option<(usize, Option<DateTime<Utc>>)>,
) -> Result<Experiment, String> {
    let context = |m: String| format!("experiment {}: {m}", e.experiment_id);
    let updated = match e.last_update_time.as_ref().or(e.creation_time.as_ref()) {
        Some(n) => Some(millis("last_update_time", n).map_err(context)?),
        None => None,
    };
    let (run_count, latest_run) = match count {
        Some((n, latest)) => (Some(n), latest),
        None => (None, None),
    };
    // MLflow bumps last_update_time only for changes to the experiment itself; its latest run
    // says more about when it was last worked on.
    let last_update = updated
        .into_iter()
        .chain(latest_run)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    Ok(Experiment {
        id: e.experiment_id,
        name: e.name,
        run_count,
        last_update,
        tags: key_values(e.tags),
    })
}

fn run_status(s: &str) -> Result<RunStatus, String> {
    match s {
        "RUNNING" | "SCHEDULED" => Ok(RunStatus::Running),
        "FINISHED" => Ok(RunStatus::Finished),
        "FAILED" => Ok(RunStatus::Failed),
        "KILLED" => Ok(RunStatus::Killed),
        other => Err(format!(
            "unknown run status {other:?} (expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED)"
        )),
    }
}

fn map_run(raw: RawRun) -> Result<Run, String> {
    let RawRun { info, data, inputs } = raw;
    let id = info
        .run_id
        .filter(|s| !s.is_empty())
        .or(info.run_uuid.filter(|s| !s.is_empty()))
        .ok_or_else(|| "a run without run_id".to_string())?;
    let context = |m: String| format!("run {id}: {m}");
    let status = run_status(&info.status).map_err(context)?;
    let start = match &info.start_time {
        Some(n) => millis("start_time", n).map_err(context)?,
        None => return Err(context("no start_time".into())),
    };
    // MLflow reports an unset end time as absent, null or 0.
    let end = match &info.end_time {
        Some(n) if n.as_i64().is_ok_and(|ms| ms > 0) => {
            Some(millis("end_time", n).map_err(context)?)
        }
        Some(n) => {
            n.as_i64().map_err(|m| context(format!("end_time: {m}")))?;
            None
        }
        None => None,
    };
    let tags = key_values(data.tags);
    let mut metrics = BTreeMap::new();
    for m in data.metrics {
        let value = m
            .value
            .as_f64()
            .map_err(|e| context(format!("metric {}: {e}", m.key)))?;
        metrics.insert(m.key, value);
    }
    let datasets = inputs.dataset_inputs.into_iter().map(map_dataset).collect();
    Ok(Run {
        name: info
            .run_name
            .filter(|n| !n.is_empty())
            .or_else(|| tags.get("mlflow.runName").cloned())
            .unwrap_or_default(),
        user: info
            .user_id
            .filter(|u| !u.is_empty())
            .or_else(|| tags.get("mlflow.user").cloned())
            .unwrap_or_default(),
        id,
        experiment_id: info.experiment_id,
        status,
        start,
        end,
        params: key_values(data.params),
        metrics,
        datasets,
        tags,
    })
}

/// A dataset input: `source` is the location inside `MLflow`'s JSON source description
/// (`{"uri": …}`, `{"url": …}`, `{"path": …}`), else the raw text; `region` comes from an input
/// tag or a source field named like [`REGION_KEYS`], else is empty.
fn map_dataset(input: RawDatasetInput) -> Dataset {
    let RawDataset {
        name,
        digest,
        source_type,
        source,
    } = input.dataset;
    let tags = key_values(input.tags);
    let parsed = serde_json::from_str::<serde_json::Value>(&source)
        .ok()
        .filter(serde_json::Value::is_object);
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let location = ["uri", "url", "path", "table_name", "location"]
        .iter()
        .find_map(|k| field(k));
    let region = REGION_KEYS
        .iter()
        .find_map(|k| {
            tags.get(*k)
                .filter(|v| !v.is_empty())
                .cloned()
                .or_else(|| field(k))
        })
        .unwrap_or_default();
    let source = match location {
        Some(l) => l,
        None if source.is_empty() => source_type,
        None => source,
    };
    Dataset {
        name,
        digest,
        source,
        region,
    }
}

fn map_metric_point(m: &RawMetric) -> Result<MetricPoint, String> {
    let context = |e: String| format!("metric {}: {e}", m.key);
    let timestamp = match &m.timestamp {
        Some(n) => millis("timestamp", n).map_err(context)?,
        None => return Err(context("no timestamp".into())),
    };
    let step = match &m.step {
        Some(n) => n.as_i64().map_err(|e| context(format!("step: {e}")))?,
        None => 0,
    };
    Ok(MetricPoint {
        step,
        timestamp,
        value: m.value.as_f64().map_err(context)?,
    })
}

fn version_number(model: &str, n: &Number) -> Result<u32, String> {
    n.as_i64()
        .ok()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("model {model}: version {n:?} is not a version number"))
}

fn map_models(
    models: Vec<RawRegisteredModel>,
    versions: Vec<RawModelVersion>,
) -> Result<Vec<RegisteredModel>, String> {
    let mut by_model: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    for v in versions {
        let version = version_number(&v.name, &v.version)?;
        let created = match &v.creation_timestamp {
            Some(n) => millis("creation_timestamp", n)
                .map_err(|e| format!("model {} version {version}: {e}", v.name))?,
            None => DateTime::UNIX_EPOCH,
        };
        by_model
            .entry(v.name.clone())
            .or_default()
            .push(ModelVersion {
                model: v.name,
                version,
                run_id: v.run_id.filter(|r| !r.is_empty()),
                created,
                status: v.status.unwrap_or_default(),
                tags: key_values(v.tags),
            });
    }
    models
        .into_iter()
        .map(|m| {
            let mut aliases = BTreeMap::new();
            for a in m.aliases {
                aliases.insert(a.alias, version_number(&m.name, &a.version)?);
            }
            let mut versions = by_model.remove(&m.name).unwrap_or_default();
            versions.sort_by_key(|v| v.version);
            Ok(RegisteredModel {
                description: m.description.unwrap_or_default(),
                tags: key_values(m.tags),
                aliases,
                versions,
                name: m.name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = r#"{
      "info": {"run_uuid": "abc", "experiment_id": "1", "run_name": "silent-otter",
               "user_id": "carol", "status": "FINISHED", "start_time": 1795861660365,
               "end_time": "1795862305695", "lifecycle_stage": "active", "run_id": "abc"},
      "data": {"metrics": [{"key": "loss", "value": 0.39, "timestamp": 1795862305695, "step": 4},
                           {"key": "auc", "value": "NaN", "timestamp": 1795862305695, "step": 4}],
               "params": [{"key": "max_depth", "value": "10"}],
               "tags": [{"key": "mlflow.runName", "value": "silent-otter"}, {"key": "team", "value": "risk"}]},
      "inputs": {"dataset_inputs": [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}],
         "dataset": {"name": "fraud-train", "digest": "c5588e72", "source_type": "s3",
                     "source": "{\"uri\": \"s3://bucket/fraud/train/\"}", "schema": "{}"}},
        {"tags": [{"key": "region", "value": "me-central-1"}],
         "dataset": {"name": "fraud-eval", "digest": "65a8f5e4", "source_type": "s3",
                     "source": "s3://bucket/fraud/eval/"}},
        {"dataset": {"name": "fraud-holdout", "digest": "a9", "source_type": "s3",
                     "source": "{\"uri\": \"s3://b/h/\", \"region\": \"eu-west-1\"}"}}
      ]},
      "outputs": {}
    }"#;

    #[test]
    fn a_run_maps_with_datasets_metrics_and_optional_end() {
        let raw: RawRun = serde_json::from_str(RUN).expect("parse");
        let run = map_run(raw).expect("map");
        assert_eq!(run.id, "abc");
        assert_eq!(run.name, "silent-otter");
        assert_eq!(run.user, "carol");
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.start.timestamp_millis(), 1_795_861_660_365);
        assert_eq!(
            run.end.map(|e| e.timestamp_millis()),
            Some(1_795_862_305_695),
            "end_time as a string (protobuf int64) is read"
        );
        assert_eq!(run.params["max_depth"], "10");
        assert!((run.metrics["loss"] - 0.39).abs() < 1e-12);
        assert!(run.metrics["auc"].is_nan());
        assert_eq!(run.tags["team"], "risk");
        assert_eq!(
            run.datasets,
            vec![
                Dataset {
                    name: "fraud-train".into(),
                    digest: "c5588e72".into(),
                    source: "s3://bucket/fraud/train/".into(),
                    region: String::new(),
                },
                Dataset {
                    name: "fraud-eval".into(),
                    digest: "65a8f5e4".into(),
                    source: "s3://bucket/fraud/eval/".into(),
                    region: "me-central-1".into(),
                },
                Dataset {
                    name: "fraud-holdout".into(),
                    digest: "a9".into(),
                    source: "s3://b/h/".into(),
                    region: "eu-west-1".into(),
                },
            ]
        );
    }

    #[test]
    fn a_running_run_has_no_end_and_falls_back_to_tags() {
        let raw: RawRun = serde_json::from_str(
            r#"{"info": {"run_uuid": "r1", "experiment_id": "2", "status": "RUNNING",
                         "start_time": 1000, "end_time": 0},
                "data": {"tags": [{"key": "mlflow.user", "value": "dave"},
                                  {"key": "mlflow.runName", "value": "brave-fox"}]}}"#,
        )
        .expect("parse");
        let run = map_run(raw).expect("map");
        assert_eq!(run.id, "r1", "run_uuid when run_id is absent");
        assert_eq!(run.end, None);
        assert_eq!(run.user, "dave");
        assert_eq!(run.name, "brave-fox");
        assert!(run.datasets.is_empty() && run.metrics.is_empty());
    }

    #[test]
    fn bad_runs_are_named_not_panicked_on() {
        let bad_status: RawRun = serde_json::from_str(
            r#"{"info": {"run_id": "r2", "experiment_id": "2", "status": "EXPLODED", "start_time": 1}}"#,
        )
        .expect("parse");
        let err = map_run(bad_status).expect_err("status");
        assert!(err.contains("run r2") && err.contains("EXPLODED"), "{err}");
        let no_start: RawRun = serde_json::from_str(
            r#"{"info": {"run_id": "r3", "experiment_id": "2", "status": "FAILED"}}"#,
        )
        .expect("parse");
        assert!(
            map_run(no_start)
                .expect_err("start")
                .contains("no start_time")
        );
        let bad_metric: RawRun = serde_json::from_str(
            r#"{"info": {"run_id": "r4", "experiment_id": "2", "status": "FAILED", "start_time": 1},
                "data": {"metrics": [{"key": "f1", "value": "high"}]}}"#,
        )
        .expect("parse");
        let err = map_run(bad_metric).expect_err("metric");
        assert!(
            err.contains("metric f1") && err.contains("\"high\""),
            "{err}"
        );
        // Wrong JSON types fail in serde with a message, never a panic.
        assert!(serde_json::from_str::<RunsPage>(r#"{"runs": [{"info": 3}]}"#).is_err());
    }

    #[test]
    fn experiments_take_counts_and_the_latest_run_time() {
        let raw: ExperimentsPage = serde_json::from_str(
            r#"{"experiments": [{"experiment_id": "12", "name": "pricing", "last_update_time": 1000,
                "creation_time": 500, "tags": [{"key": "team", "value": "supply"}]}],
                "next_page_token": "eyJvZmZzZXQiOiAzfQ=="}"#,
        )
        .expect("parse");
        assert_eq!(raw.next_page_token.as_deref(), Some("eyJvZmZzZXQiOiAzfQ=="));
        let e = raw.experiments.into_iter().next().expect("one");
        let latest = DateTime::from_timestamp_millis(5000);
        let exp = map_experiment(e, Some((42, latest))).expect("map");
        assert_eq!(exp.id, "12");
        assert_eq!(exp.run_count, Some(42));
        assert_eq!(Some(exp.last_update), latest);
        assert_eq!(exp.tags["team"], "supply");
    }

    #[test]
    fn models_join_versions_aliases_and_tags() {
        let models: RegisteredModelsPage = serde_json::from_str(
            r#"{"registered_models": [
                 {"name": "fraud-detector", "description": "fraud",
                  "tags": [{"key": "team", "value": "risk"}],
                  "aliases": [{"alias": "champion", "version": "3"}, {"alias": "challenger", "version": "4"}]},
                 {"name": "empty-model"}]}"#,
        )
        .expect("parse");
        let versions: ModelVersionsPage = serde_json::from_str(
            r#"{"model_versions": [
                 {"name": "fraud-detector", "version": "4", "creation_timestamp": 2000, "status": "READY",
                  "run_id": "f2", "tags": [{"key": "image", "value": "reg/fraud-detector:v4"},
                                           {"key": "validation_status", "value": "passed"}]},
                 {"name": "fraud-detector", "version": "3", "creation_timestamp": 1000, "status": "READY",
                  "run_id": ""}]}"#,
        )
        .expect("parse");
        let out = map_models(models.registered_models, versions.model_versions).expect("map");
        assert_eq!(out.len(), 2);
        let fraud = &out[0];
        assert_eq!(fraud.aliases["champion"], 3);
        assert_eq!(fraud.aliases_of(4), vec!["challenger"]);
        assert_eq!(
            fraud.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![3, 4],
            "sorted by version"
        );
        assert_eq!(
            fraud.version(4).and_then(ModelVersion::image),
            Some("reg/fraud-detector:v4")
        );
        assert_eq!(
            fraud.version(3).and_then(|v| v.run_id.clone()),
            None,
            "empty run_id is None"
        );
        assert_eq!(fraud.tags["team"], "risk");
        assert!(out[1].versions.is_empty() && out[1].description.is_empty());
        let bad: RawModelVersion =
            serde_json::from_str(r#"{"name": "m", "version": "latest"}"#).expect("parse");
        let err = map_models(vec![], vec![bad]).expect_err("bad version");
        assert!(err.contains("model m") && err.contains("latest"), "{err}");
    }

    #[test]
    fn history_points_read_steps_and_special_values() {
        let page: HistoryPage = serde_json::from_str(
            r#"{"metrics": [{"key": "loss", "value": 0.9, "timestamp": 1000, "step": 0},
                            {"key": "loss", "value": "Infinity", "timestamp": "2000", "step": "1"}]}"#,
        )
        .expect("parse");
        let points: Vec<MetricPoint> = page
            .metrics
            .iter()
            .map(map_metric_point)
            .collect::<Result<_, _>>()
            .expect("map");
        assert_eq!(points[1].step, 1);
        assert!(points[1].value.is_infinite());
        assert_eq!(points[1].timestamp.timestamp_millis(), 2000);
        let empty: HistoryPage = serde_json::from_str("{}").expect("parse");
        assert!(empty.metrics.is_empty() && empty.next_page_token.is_none());
    }

    #[test]
    fn api_errors_carry_status_code_and_message() {
        let f = api_failure(
            reqwest::StatusCode::NOT_FOUND,
            br#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=nope not found"}"#,
        );
        let e = CallError {
            endpoint: "GET /api/2.0/mlflow/runs/get".into(),
            failure: f,
        };
        assert!(e.is_not_found());
        let text = e.into_core("mlflow http://x").to_string();
        assert_eq!(
            text,
            "mlflow http://x: GET /api/2.0/mlflow/runs/get: HTTP 404 Not Found: RESOURCE_DOES_NOT_EXIST: Run with id=nope not found"
        );
        let html = api_failure(
            reqwest::StatusCode::UNAUTHORIZED,
            b"You are not authenticated.\n Please see the docs",
        );
        let text = CallError {
            endpoint: "POST /api/2.0/mlflow/experiments/search".into(),
            failure: html,
        }
        .into_core("mlflow http://x")
        .to_string();
        assert!(
            text.contains("HTTP 401 Unauthorized: You are not authenticated. Please see the docs"),
            "{text}"
        );
        assert!(text.contains("MLFLOW_TRACKING_PASSWORD"), "{text}");
    }

    #[test]
    fn page_tokens_end_on_empty_and_refuse_to_loop() {
        let mut seen = HashSet::new();
        assert_eq!(next_token(None, &mut seen), Ok(None));
        assert_eq!(next_token(Some(String::new()), &mut seen), Ok(None));
        assert_eq!(
            next_token(Some("a".into()), &mut seen),
            Ok(Some("a".into()))
        );
        assert!(next_token(Some("a".into()), &mut seen).is_err());
    }

    #[test]
    fn auth_debug_and_describe_never_show_secrets() {
        let basic = Auth::Basic {
            username: "admin".into(),
            password: "hunter2".into(),
        };
        let text = format!("{basic:?}");
        assert!(
            text.contains("admin") && !text.contains("hunter2"),
            "{text}"
        );
        let bearer = Auth::Bearer("tok-123".into());
        assert!(!format!("{bearer:?}").contains("tok-123"));
        let r = MlflowRegistry::new(
            "https://alice:s%3Acret@mlflow.example.com/prefix",
            Auth::None,
        )
        .expect("new");
        assert_eq!(
            r.auth,
            Auth::Basic {
                username: "alice".into(),
                password: "s:cret".into()
            },
            "user-info moves into Auth"
        );
        for shown in [r.describe(), format!("{r:?}"), r.base_url()] {
            assert!(
                !shown.contains("s:cret") && !shown.contains("s%3Acret"),
                "{shown}"
            );
        }
        assert_eq!(r.base_url(), "https://mlflow.example.com/prefix");
    }

    #[test]
    fn env_lookup_follows_mlflow_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        let r = MlflowRegistry::from_lookup(env(&[
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
            ("MLFLOW_TRACKING_TOKEN", "t"),
        ]))
        .expect("basic");
        assert!(
            matches!(r.auth, Auth::Basic { .. }),
            "basic wins, as in MLflow"
        );
        let r = MlflowRegistry::from_lookup(env(&[
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            ("MLFLOW_TRACKING_TOKEN", "t"),
        ]))
        .expect("bearer");
        assert_eq!(r.auth, Auth::Bearer("t".into()));
        let err = MlflowRegistry::from_lookup(env(&[])).expect_err("no uri");
        assert!(err.to_string().contains("MLFLOW_TRACKING_URI is not set"));
        let err = MlflowRegistry::from_lookup(env(&[
            ("MLFLOW_TRACKING_URI", "http://h"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
        ]))
        .expect_err("half basic");
        assert!(
            err.to_string()
                .contains("MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not")
        );
        let err = MlflowRegistry::from_lookup(env(&[("MLFLOW_TRACKING_URI", "./mlruns")]))
            .expect_err("file store");
        assert!(err.to_string().contains("http(s) URL"), "{err}");
        let err = MlflowRegistry::from_lookup(env(&[("MLFLOW_TRACKING_URI", "databricks://x")]))
            .expect_err("databricks");
        assert!(err.to_string().contains("\"databricks\""), "{err}");
    }
}
