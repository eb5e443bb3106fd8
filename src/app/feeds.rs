//! Where the console's data comes from and what it holds of it: each `Source` (a port call), the
//! `Payload` it brings back, and one `Feed` per source — the latest data, when it came, the last
//! error, and whether a fetch is in flight (at most one, one queued). A leaf: it knows the core's
//! data types and nothing of screens or keys.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use mlops_core::{
    CoreError,
    audit::AuditEntry,
    model::{
        Alert, ClusterSnapshot, Experiment, FeatureDrift, Gpu, LoggedModel, MetricPoint,
        RegisteredModel, RolloutSeries, Run, RunPage,
    },
    rollout::RolloutKey,
};

mod runs;
pub use runs::{
    PageEffect, PageMark, RUNS_WINDOW_MIN_ROWS, RUNS_WINDOW_PAGES, RunList, RunsKey, Window,
};

/// Where data comes from; at most one fetch per source is in flight, one queued.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    Cluster,
    Experiments,
    Models,
    Gpus,
    Drift,
    Audit,
    /// Serving signals per model version and track (health, SLO burn).
    Serving,
    /// The metrics store's alerts of the console's timeline span (`rows::timeline::SPAN`).
    Alerts,
    /// The first page of a runs search (a refresh keeps the pages loaded after it).
    Runs(RunsKey),
    /// The page after `token` of a runs search, appended to its list.
    RunsPage(RunsKey, String),
    Run(String),
    RunMetrics(String),
    /// The models a run logged: (experiment id, run id).
    LoggedModels(String, String),
    /// One metric's history of each of these runs, sampled for a chart (the Compare view).
    Histories(String, Vec<String>),
    Series(RolloutKey),
}

impl Source {
    /// The backend behind the source, for greying out views.
    pub fn backend(&self) -> Backend {
        match self {
            Source::Cluster | Source::Audit => Backend::Cluster,
            Source::Experiments
            | Source::Models
            | Source::Runs(_)
            | Source::RunsPage(..)
            | Source::Run(_)
            | Source::RunMetrics(_)
            | Source::LoggedModels(..)
            | Source::Histories(..) => Backend::Registry,
            Source::Gpus | Source::Drift | Source::Serving | Source::Alerts | Source::Series(_) => {
                Backend::Metrics
            }
        }
    }
}

/// What a fetch brings back.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Cluster(ClusterSnapshot),
    Experiments(Vec<Experiment>),
    Models(Vec<RegisteredModel>),
    /// A page of runs, or the server's refusal of the search (an invalid filter,
    /// `CoreError::Rejected`): an answer, not an outage.
    Runs(Result<RunPage, CoreError>),
    Run(Run),
    RunMetrics(Vec<(String, Vec<MetricPoint>)>),
    LoggedModels(Vec<LoggedModel>),
    /// Each run's history of one metric: (run id, points).
    Histories(Vec<(String, Vec<MetricPoint>)>),
    Gpus(Vec<Gpu>),
    /// The features compared, and what was left out and why.
    Drift(Vec<FeatureDrift>, Vec<String>),
    Audit(Vec<AuditEntry>),
    Alerts(Vec<Alert>),
    Series(RolloutSeries),
    Serving(mlops_core::serving::Signals),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Cluster,
    Registry,
    Metrics,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Cluster, Backend::Registry, Backend::Metrics];

    pub fn label(self) -> &'static str {
        match self {
            Backend::Cluster => "k8s",
            Backend::Registry => "registry",
            Backend::Metrics => "metrics",
        }
    }
}

/// Static facts about the backends, for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendInfo {
    pub cluster: Option<String>,
    pub registry: Option<String>,
    pub metrics: Option<String>,
}

impl BackendInfo {
    pub fn describe(&self, b: Backend) -> Option<&str> {
        match b {
            Backend::Cluster => self.cluster.as_deref(),
            Backend::Registry => self.registry.as_deref(),
            Backend::Metrics => self.metrics.as_deref(),
        }
    }
}

/// Each metric of a run with its history.
pub type MetricHistories = Vec<(String, Vec<MetricPoint>)>;

/// A version no other change of any feed has had: rows worked out from a feed are kept for as
/// long as its version is the same (`rows::memo`).
pub fn next_version() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A failing source is retried after `FIRST_RETRY`, then twice as long after each failure in a
/// row, at most `MAX_BACKOFF_DOUBLINGS` times (and never later than its refresh period).
const FIRST_RETRY: Duration = Duration::seconds(1);
const MAX_BACKOFF_DOUBLINGS: u32 = 6;

/// One source's latest data, when it came, and the last error.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed<T> {
    /// Changed through `store` or `data_mut`, which move `version` on; never assigned
    /// directly once rows may have been worked out from it.
    pub data: Option<T>,
    /// Moves on whenever the data or the error changes.
    pub version: u64,
    pub updated: Option<DateTime<Utc>>,
    /// Why the last fetch failed, typed: the views decide from its kind (`CoreError::kind`).
    pub error: Option<CoreError>,
    pub in_flight: bool,
    pub queued: bool,
    /// When the last fetch started, and how many in a row have failed: a failing source is
    /// retried after 1, 2, 4 … seconds (at most its refresh period), not on every action.
    pub attempted: Option<DateTime<Utc>>,
    pub failures: u32,
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Self {
            data: None,
            version: 0,
            updated: None,
            error: None,
            in_flight: false,
            queued: false,
            attempted: None,
            failures: 0,
        }
    }
}

impl<T> Feed<T> {
    /// The data to change in place; the change moves the version on.
    pub fn data_mut(&mut self) -> Option<&mut T> {
        self.version = next_version();
        self.data.as_mut()
    }

    /// Replace the data (as a fetch would, without its bookkeeping).
    pub fn set(&mut self, data: T) {
        self.version = next_version();
        self.data = Some(data);
    }
}

impl<T: PartialEq> Feed<T> {
    pub fn is_stale(&self, now: DateTime<Utc>, every: Duration) -> bool {
        self.updated.is_none_or(|u| now - u >= every)
    }

    /// Whether to fetch now: when due (`force`, or older than `every`; `None`: only once) and
    /// none is in flight (then one is queued instead).
    fn begin(&mut self, now: DateTime<Utc>, every: Option<Duration>, force: bool) -> bool {
        let backing_off = self.failures > 0
            && self.attempted.is_some_and(|at| {
                let doublings = self.failures.min(MAX_BACKOFF_DOUBLINGS).saturating_sub(1);
                let wait = FIRST_RETRY * (1 << doublings);
                now - at < every.map_or(wait, |e| wait.min(e))
            });
        let due = force
            || (!backing_off
                && match every {
                    Some(p) => self.is_stale(now, p),
                    None => self.updated.is_none(),
                });
        if !due {
            return false;
        }
        if self.in_flight {
            self.queued = true;
            return false;
        }
        self.in_flight = true;
        self.attempted = Some(now);
        true
    }

    /// Store a result; returns (changed, fetch again because one was queued). An error keeps
    /// the last good data: the view greys it out with its age.
    fn store(&mut self, result: Result<T, CoreError>, now: DateTime<Utc>) -> (bool, bool) {
        self.in_flight = false;
        let requeue = std::mem::take(&mut self.queued);
        let changed = match result {
            Ok(data) => {
                self.failures = 0;
                let changed = self.data.as_ref() != Some(&data) || self.error.is_some();
                self.data = Some(data);
                self.error = None;
                self.updated = Some(now);
                changed
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let changed = self.error.as_ref() != Some(&e);
                self.error = Some(e);
                changed
            }
        };
        if changed {
            self.version = next_version();
        }
        (changed, requeue)
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Feeds {
    pub cluster: Feed<ClusterSnapshot>,
    pub experiments: Feed<Vec<Experiment>>,
    pub models: Feed<Vec<RegisteredModel>>,
    pub gpus: Feed<Vec<Gpu>>,
    pub drift: Feed<Vec<FeatureDrift>>,
    /// What the latest drift answer left out and why (shown under the Drift view).
    pub drift_warnings: Vec<String>,
    pub audit: Feed<Vec<AuditEntry>>,
    pub serving: Feed<mlops_core::serving::Signals>,
    /// Serving health put together from `serving` and the cluster's Deployments and pods
    /// (`mlops_core::serving::assemble`), again whenever either changes.
    pub health: Option<mlops_core::serving::HealthReport>,
    /// Changes each time `health` is put together (the memo's data version of its rows).
    pub health_version: u64,
    pub alerts: Feed<Vec<Alert>>,
    pub runs: HashMap<RunsKey, Feed<RunList>>,
    /// Pages after the first, each fetched once while held: how many runs each added.
    pub runs_pages: HashMap<(RunsKey, String), Feed<usize>>,
    /// The most pages a runs list holds; 0: `RUNS_WINDOW_PAGES`.
    pub runs_window: usize,
    /// The fewest runs a list keeps when dropping pages; `None`: `RUNS_WINDOW_MIN_ROWS`.
    pub runs_window_rows: Option<usize>,
    /// A `/` filter narrows the list being stored: nothing is dropped (the rows it leaves may
    /// be too few to keep the selection away from both ends).
    pub runs_hold_all: bool,
    pub run: HashMap<String, Feed<Run>>,
    pub run_metrics: HashMap<String, Feed<MetricHistories>>,
    /// Keyed by (experiment id, run id).
    pub logged_models: HashMap<(String, String), Feed<Vec<LoggedModel>>>,
    /// Keyed by (metric, run ids): each run's sampled history of the metric.
    pub histories: HashMap<(String, Vec<String>), Feed<MetricHistories>>,
    pub series: HashMap<RolloutKey, Feed<RolloutSeries>>,
}

/// Run `$body` with `$feed` bound to the feed of `$source`, whatever its data type.
macro_rules! with_feed {
    ($feeds:expr, $source:expr, |$feed:ident| $body:expr) => {
        match $source {
            Source::Cluster => {
                let $feed = &mut $feeds.cluster;
                $body
            }
            Source::Experiments => {
                let $feed = &mut $feeds.experiments;
                $body
            }
            Source::Models => {
                let $feed = &mut $feeds.models;
                $body
            }
            Source::Gpus => {
                let $feed = &mut $feeds.gpus;
                $body
            }
            Source::Drift => {
                let $feed = &mut $feeds.drift;
                $body
            }
            Source::Audit => {
                let $feed = &mut $feeds.audit;
                $body
            }
            Source::Serving => {
                let $feed = &mut $feeds.serving;
                $body
            }
            Source::Alerts => {
                let $feed = &mut $feeds.alerts;
                $body
            }
            Source::Runs(k) => {
                let $feed = $feeds.runs.entry(k.clone()).or_default();
                $body
            }
            Source::RunsPage(k, token) => {
                let $feed = $feeds
                    .runs_pages
                    .entry((k.clone(), token.clone()))
                    .or_default();
                $body
            }
            Source::Run(id) => {
                let $feed = $feeds.run.entry(id.clone()).or_default();
                $body
            }
            Source::RunMetrics(id) => {
                let $feed = $feeds.run_metrics.entry(id.clone()).or_default();
                $body
            }
            Source::LoggedModels(e, r) => {
                let $feed = $feeds
                    .logged_models
                    .entry((e.clone(), r.clone()))
                    .or_default();
                $body
            }
            Source::Histories(metric, runs) => {
                let $feed = $feeds
                    .histories
                    .entry((metric.clone(), runs.clone()))
                    .or_default();
                $body
            }
            Source::Series(k) => {
                let $feed = $feeds.series.entry(k.clone()).or_default();
                $body
            }
        }
    };
}

impl Feeds {
    /// Whether to fetch `source` now (see `Feed::begin`); marks it in flight when so.
    pub fn begin(
        &mut self,
        source: &Source,
        now: DateTime<Utc>,
        every: Option<Duration>,
        force: bool,
    ) -> bool {
        with_feed!(self, source, |f| f.begin(now, every, force))
    }

    /// Store what a fetch of `source` brought; returns (changed, fetch again). A payload of
    /// another source's kind is stored as that source's error, never dropped silently.
    /// The drift answer and its warnings; new warnings with the same rows are a change too.
    fn store_drift(
        &mut self,
        result: Result<Payload, CoreError>,
        now: DateTime<Utc>,
        mismatch: impl Fn(&Payload) -> CoreError,
    ) -> (bool, bool) {
        let mut warned = false;
        let drift = result.and_then(|p| match p {
            Payload::Drift(d, warnings) => {
                warned = warnings != self.drift_warnings;
                self.drift_warnings = warnings;
                Ok(d)
            }
            other => Err(mismatch(&other)),
        });
        let (changed, requeue) = self.drift.store(drift, now);
        (changed || warned, requeue)
    }

    pub fn store(
        &mut self,
        source: &Source,
        result: Result<Payload, CoreError>,
        now: DateTime<Utc>,
    ) -> (bool, bool) {
        let mismatch = |p: &Payload| {
            let kind = format!("{p:?}");
            let kind = kind.split('(').next().unwrap_or("?").to_string();
            CoreError::malformed(
                "console",
                format!("internal: a {kind} answer arrived for {source:?}"),
            )
        };
        macro_rules! put {
            ($feed:expr, $variant:ident) => {
                $feed.store(
                    result.and_then(|p| match p {
                        Payload::$variant(d) => Ok(d),
                        other => Err(mismatch(&other)),
                    }),
                    now,
                )
            };
        }
        match source {
            Source::Cluster => put!(self.cluster, Cluster),
            Source::Experiments => put!(self.experiments, Experiments),
            Source::Models => put!(self.models, Models),
            Source::Gpus => put!(self.gpus, Gpus),
            Source::Drift => self.store_drift(result, now, mismatch),
            Source::Audit => put!(self.audit, Audit),
            Source::Serving => put!(self.serving, Serving),
            Source::Alerts => put!(self.alerts, Alerts),
            Source::Runs(k) => {
                let feed = self.runs.entry(k.clone()).or_default();
                let list = result.and_then(|p| match p {
                    Payload::Runs(page) => Ok(RunList::refreshed(feed.data.as_ref(), page)),
                    other => Err(mismatch(&other)),
                });
                feed.store(list, now)
            }
            Source::RunsPage(k, token) => self.store_page(k, token, result, now, mismatch),
            Source::Run(id) => put!(self.run.entry(id.clone()).or_default(), Run),
            Source::RunMetrics(id) => {
                put!(self.run_metrics.entry(id.clone()).or_default(), RunMetrics)
            }
            Source::LoggedModels(e, r) => put!(
                self.logged_models
                    .entry((e.clone(), r.clone()))
                    .or_default(),
                LoggedModels
            ),
            Source::Histories(metric, runs) => put!(
                self.histories
                    .entry((metric.clone(), runs.clone()))
                    .or_default(),
                Histories
            ),
            Source::Series(k) => put!(self.series.entry(k.clone()).or_default(), Series),
        }
    }

    /// Store a page after the first of a runs search (`Source::RunsPage`) into its list.
    fn store_page(
        &mut self,
        k: &RunsKey,
        token: &str,
        result: Result<Payload, CoreError>,
        now: DateTime<Utc>,
        mismatch: impl Fn(&Payload) -> CoreError,
    ) -> (bool, bool) {
        let page = result.and_then(|p| match p {
            Payload::Runs(Ok(page)) => Ok(page),
            Payload::Runs(Err(rejected)) => Err(rejected),
            other => Err(mismatch(&other)),
        });
        let window = self.runs_window();
        let effect = page.map(|page| {
            let Some(feed) = self.runs.get_mut(k) else {
                return PageEffect::default();
            };
            let effect = feed
                .data
                .as_mut()
                .map(|list| list.place(token, page, window))
                .unwrap_or_default();
            if effect.added > 0 || !effect.dropped.is_empty() {
                feed.version = next_version();
            }
            effect
        });
        let changed = effect
            .as_ref()
            .is_ok_and(|e| e.added > 0 || !e.dropped.is_empty());
        // A dropped page is read again when scrolled back to.
        if let Ok(e) = &effect {
            for t in &e.dropped {
                self.runs_pages.remove(&(k.clone(), t.clone()));
            }
        }
        let feed = self
            .runs_pages
            .entry((k.clone(), token.to_string()))
            .or_default();
        let (page_changed, requeue) = feed.store(effect.map(|e| e.added), now);
        (changed || page_changed, requeue)
    }

    /// How much of a runs list is held.
    pub fn runs_window(&self) -> Window {
        Window {
            pages: if self.runs_hold_all {
                usize::MAX
            } else if self.runs_window == 0 {
                RUNS_WINDOW_PAGES
            } else {
                self.runs_window
            },
            rows: self.runs_window_rows.unwrap_or(RUNS_WINDOW_MIN_ROWS),
        }
    }

    /// When `source`'s data last arrived.
    pub fn updated(&self, source: &Source) -> Option<DateTime<Utc>> {
        match source {
            Source::Cluster => self.cluster.updated,
            Source::Experiments => self.experiments.updated,
            Source::Models => self.models.updated,
            Source::Gpus => self.gpus.updated,
            Source::Drift => self.drift.updated,
            Source::Audit => self.audit.updated,
            Source::Serving => self.serving.updated,
            Source::Alerts => self.alerts.updated,
            Source::Runs(k) => self.runs.get(k).and_then(|f| f.updated),
            Source::RunsPage(k, t) => self
                .runs_pages
                .get(&(k.clone(), t.clone()))
                .and_then(|f| f.updated),
            Source::Run(id) => self.run.get(id).and_then(|f| f.updated),
            Source::RunMetrics(id) => self.run_metrics.get(id).and_then(|f| f.updated),
            Source::LoggedModels(e, r) => self
                .logged_models
                .get(&(e.clone(), r.clone()))
                .and_then(|f| f.updated),
            Source::Histories(m, r) => self
                .histories
                .get(&(m.clone(), r.clone()))
                .and_then(|f| f.updated),
            Source::Series(k) => self.series.get(k).and_then(|f| f.updated),
        }
    }

    /// The newest version of any feed: rows worked out from several feeds are kept while it
    /// is the same.
    pub fn generation(&self) -> u64 {
        let maps = self
            .runs
            .values()
            .map(|f| f.version)
            .chain(self.runs_pages.values().map(|f| f.version))
            .chain(self.run.values().map(|f| f.version))
            .chain(self.run_metrics.values().map(|f| f.version))
            .chain(self.logged_models.values().map(|f| f.version))
            .chain(self.histories.values().map(|f| f.version))
            .chain(self.series.values().map(|f| f.version));
        [
            self.cluster.version,
            self.experiments.version,
            self.models.version,
            self.gpus.version,
            self.drift.version,
            self.audit.version,
            self.serving.version,
            self.alerts.version,
        ]
        .into_iter()
        .chain(maps)
        .max()
        .unwrap_or(0)
    }

    /// The first error among a backend's sources, if its last fetch failed.
    pub fn backend_error(&self, b: Backend) -> Option<&CoreError> {
        let errors: Vec<Option<&CoreError>> = match b {
            Backend::Cluster => vec![self.cluster.error.as_ref(), self.audit.error.as_ref()],
            Backend::Registry => {
                let mut v = vec![self.experiments.error.as_ref(), self.models.error.as_ref()];
                v.extend(self.runs.values().map(|x| x.error.as_ref()));
                v.extend(self.runs_pages.values().map(|x| x.error.as_ref()));
                v
            }
            Backend::Metrics => vec![
                self.gpus.error.as_ref(),
                self.drift.error.as_ref(),
                self.serving.error.as_ref(),
                self.alerts.error.as_ref(),
            ],
        };
        errors.into_iter().flatten().next()
    }
}
