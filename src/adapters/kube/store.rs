//! The watch-fed read model of one cluster: one kube-runtime `watcher` per resource the views
//! show, started when first needed, its initial list read in pages, and a compact row of each
//! object kept (the core's own projection — `Pod`, `Node`, … — never the whole object) in a
//! kube-runtime reflector store fed through `Writer::apply_watcher_event`. A snapshot reads the
//! stores: nothing is listed per refresh.
//!
//! Each watch says how it stands (`WatchHealth`): syncing, live, reconnecting since when and why,
//! forbidden; and what its cache holds (rows, approximate bytes). A watch that fails lists again
//! with backoff; its rows stay (stale) until the new list is whole. A namespaced resource the
//! user may not list in every namespace falls back to the context's namespace.
//!
//! A resource no view on screen needs (`ClusterPort::want`) stops being watched after
//! `expiry` off screen (its store dropped) and starts again when a view needs it; what the
//! Overview needs is always watched.

use std::{
    borrow::Cow,
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use futures::StreamExt;
use kube::{
    Api,
    runtime::{
        reflector::{Lookup, Store, store::Writer},
        watcher,
    },
};
use mlops_core::model::{ClusterResource, WatchHealth, WatchState};

/// Objects asked for per page of a watch's initial list.
pub const PAGE_SIZE: u32 = super::limits::LIST_PAGE;
/// How long a resource no view needs stays watched (`watch_off_screen_seconds`).
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(180);
/// The environment variable that sets how long a watch no view needs is kept, in seconds.
pub const EXPIRY_ENV: &str = "MLOPS_WATCH_OFF_SCREEN_SECONDS";

/// The expiry `MLOPS_WATCH_OFF_SCREEN_SECONDS` sets (10 to 86400 seconds), else
/// [`DEFAULT_EXPIRY`]; a value that is not one is said in the log and not used.
pub fn expiry_from_env() -> Duration {
    let Some(text) = std::env::var_os(EXPIRY_ENV) else {
        return DEFAULT_EXPIRY;
    };
    match text.to_str().and_then(|t| t.trim().parse::<u64>().ok()) {
        Some(secs) if (10..=86_400).contains(&secs) => Duration::from_secs(secs),
        _ => {
            tracing::warn!(value = ?text, "{EXPIRY_ENV} must be seconds from 10 to 86400; using 180");
            DEFAULT_EXPIRY
        }
    }
}

/// How many of one cluster's watches read their initial lists at once: a list is held in
/// memory whole before its rows are kept, so lists admitted a few at a time keep the peak
/// bounded (a server that answers without end). Per cluster, so that a cluster that hangs
/// holds back only its own watches; the multi-cluster port admits clusters a few at a time.
pub const LISTS_AT_ONCE: usize = 3;

/// The admission of a cluster's initial lists ([`LISTS_AT_ONCE`] at a time).
pub fn list_admission() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(LISTS_AT_ONCE))
}

/// The first and the longest wait before a failed watch lists again.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MOST: Duration = Duration::from_secs(30);

/// A projection kept in a store: its size in memory, for the cache figure.
pub trait Projection: Clone + Send + Sync + 'static {
    /// Approximate bytes it holds on the heap (its strings and vectors), beyond its own size.
    fn heap_bytes(&self) -> usize;
}

/// One object's row: where it is and its projection. `value` is `None` only in a deletion.
#[derive(Clone, Debug)]
pub struct Row<T> {
    pub namespace: Option<String>,
    pub name: String,
    pub value: Option<T>,
}

impl<T> Row<T> {
    /// The row of `meta`'s object, holding `value`.
    pub fn of(meta: &kube::api::ObjectMeta, value: Option<T>) -> Self {
        Self {
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            value,
        }
    }
}

impl<T: Projection> Row<T> {
    /// Approximate bytes of the row in the store: itself, its key and its projection's heap
    /// (the store's map entry and `Arc` counted too).
    pub fn bytes(&self) -> usize {
        const ENTRY: usize = 64;
        std::mem::size_of::<Self>()
            + ENTRY
            + self.name.capacity() * 2
            + self.namespace.as_ref().map_or(0, |n| n.capacity() * 2)
            + self.value.as_ref().map_or(0, Projection::heap_bytes)
    }
}

impl<T> Lookup for Row<T> {
    type DynamicType = ();

    fn kind((): &()) -> Cow<'_, str> {
        Cow::Borrowed("Row")
    }
    fn group((): &()) -> Cow<'_, str> {
        Cow::Borrowed("mlops.dev")
    }
    fn version((): &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural((): &()) -> Cow<'_, str> {
        Cow::Borrowed("rows")
    }
    fn name(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.name))
    }
    fn namespace(&self) -> Option<Cow<'_, str>> {
        self.namespace.as_deref().map(Cow::Borrowed)
    }
    fn resource_version(&self) -> Option<Cow<'_, str>> {
        None
    }
    fn uid(&self) -> Option<Cow<'_, str>> {
        None
    }
}

/// A watcher event of whole objects as the store takes it: each object mapped to its row. An
/// object whose projection is `None` (a Deployment without model labels) is a deletion of its
/// row, so a change that takes it out of the view takes it out of the store.
pub fn project<K, T>(
    event: watcher::Event<K>,
    map: &impl Fn(&K) -> Option<T>,
) -> Option<watcher::Event<Row<T>>>
where
    K: kube::Resource,
{
    Some(match event {
        watcher::Event::Apply(k) => match map(&k) {
            Some(v) => watcher::Event::Apply(Row::of(k.meta(), Some(v))),
            None => watcher::Event::Delete(Row::of(k.meta(), None)),
        },
        watcher::Event::Delete(k) => watcher::Event::Delete(Row::of(k.meta(), None)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(k) => {
            watcher::Event::InitApply(Row::of(k.meta(), Some(map(&k)?)))
        }
        watcher::Event::InitDone => watcher::Event::InitDone,
    })
}

/// What a watch error means for the watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 403: the user may not list or watch it where it is asked.
    Forbidden,
    /// 404: the resource is not served (its CRD is not installed).
    Absent,
    /// Anything else: the server is down, restarting, the watch expired (410)…
    Other,
}

/// The class of a watcher error and its words.
pub fn classify(e: &watcher::Error) -> (Failure, String) {
    let code = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.as_ref().code),
        _ => None,
    };
    let class = match code {
        Some(403) => Failure::Forbidden,
        Some(404) => Failure::Absent,
        _ => Failure::Other,
    };
    (class, super::error_chain(e))
}

/// How one watch stands, as its task keeps it.
#[derive(Debug, Clone)]
pub struct Health {
    pub state: WatchState,
    pub scope: String,
    /// Its first list was whole at least once (its rows can be shown).
    pub synced: bool,
    /// Its last failure, when it has not synced since.
    pub failure: Option<Failure>,
}

impl Health {
    fn new(scope: String) -> Self {
        Self {
            state: WatchState::Syncing,
            scope,
            synced: false,
            failure: None,
        }
    }

    /// An event arrived: a whole list makes it live; a change after a failure means the watch
    /// is back (the list that follows a failure is whole first).
    pub fn on_event<T>(&mut self, event: &watcher::Event<Row<T>>) {
        match event {
            watcher::Event::InitDone => {
                self.state = WatchState::Live;
                self.synced = true;
                self.failure = None;
            }
            watcher::Event::Apply(_) | watcher::Event::Delete(_) if self.failure.is_none() => {
                self.state = WatchState::Live;
            }
            _ => {}
        }
    }

    /// The watch failed: reconnecting (since the first failure of a run of them), forbidden,
    /// or the resource is not served.
    pub fn on_error(&mut self, failure: Failure, text: String, now: chrono::DateTime<Utc>) {
        self.failure = Some(failure);
        self.state = match (failure, &self.state) {
            (Failure::Forbidden, _) => WatchState::Forbidden { error: text },
            (Failure::Absent, _) => WatchState::Absent { error: text },
            (Failure::Other, WatchState::Reconnecting { since, .. }) => WatchState::Reconnecting {
                since: *since,
                error: text,
            },
            (Failure::Other, _) => WatchState::Reconnecting {
                since: now,
                error: text,
            },
        };
    }

    /// Whether a snapshot may be read without waiting for this watch: it listed once, or it
    /// failed (the snapshot says so instead of waiting).
    pub fn settled(&self) -> bool {
        self.synced || self.failure.is_some()
    }
}

/// The next wait after a failure: doubled each time, at most [`BACKOFF_MOST`].
pub fn next_backoff(last: Option<Duration>) -> Duration {
    last.map_or(BACKOFF_FIRST, |d| (d * 2).min(BACKOFF_MOST))
}

/// Where a watch looks: every namespace (falling back to one namespace where that is
/// forbidden), one namespace, or a cluster-scoped resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All { fallback: Option<String> },
    Namespace(String),
    Cluster,
}

impl Scope {
    fn words(&self) -> String {
        match self {
            Scope::All { .. } => "all namespaces".into(),
            Scope::Namespace(ns) => format!("namespace {ns}"),
            Scope::Cluster => "cluster".into(),
        }
    }
}

/// The API of a watch in a namespace (`None`: every namespace, or a cluster-scoped resource).
pub type ApiFor<K> = Box<dyn Fn(Option<&str>) -> Api<K> + Send + Sync>;
/// An object's projection (`None`: not one the views show).
pub type MapFn<K, T> = Box<dyn Fn(&K) -> Option<T> + Send + Sync>;
/// Cuts a store back after a change (the newest-N of Events).
pub type TrimFn<T> = fn(&mut Writer<Row<T>>, &Store<Row<T>>);

/// Everything one watch task needs to (re)start its watcher.
pub struct Spec<K, T: Projection> {
    /// The API for a namespace (`None`: every namespace, or a cluster-scoped resource).
    pub api: ApiFor<K>,
    pub config: watcher::Config,
    pub scope: Scope,
    pub map: MapFn<K, T>,
    /// Called after each change with the store's writer and reader (the newest-N cut of Events).
    pub trim: Option<TrimFn<T>>,
}

/// A running watch: its store, its health and its task (stopped when this is dropped).
pub struct Part<T: Projection> {
    pub reader: Store<Row<T>>,
    pub health: Arc<Mutex<Health>>,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Projection> Drop for Part<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: Projection> Part<T> {
    /// Start watching as `spec` says; `changed` is bumped after every change of the store or
    /// of the health; each initial list waits for a permit of `lists` (`list_admission`).
    pub fn start<K>(
        spec: Spec<K, T>,
        changed: tokio::sync::watch::Sender<u64>,
        lists: Arc<tokio::sync::Semaphore>,
    ) -> Self
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
        K::DynamicType: Default,
    {
        let mut writer = Writer::<Row<T>>::new(());
        let reader = writer.as_reader();
        let health = Arc::new(Mutex::new(Health::new(spec.scope.words())));
        let task_health = health.clone();
        let task_reader = reader.clone();
        let task = tokio::spawn(async move {
            run(
                spec,
                &mut writer,
                &task_reader,
                &task_health,
                &changed,
                &lists,
            )
            .await;
        });
        Self {
            reader,
            health,
            task,
        }
    }

    /// The projections held, in no order.
    pub fn values(&self) -> Vec<T> {
        self.reader
            .state()
            .iter()
            .filter_map(|r| r.value.clone())
            .collect()
    }

    /// Rows and their approximate bytes.
    pub fn figure(&self) -> (usize, u64) {
        let state = self.reader.state();
        let bytes: usize = state.iter().map(|r| r.bytes()).sum();
        (state.len(), bytes as u64)
    }

    pub fn health(&self) -> Health {
        self.health
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |h| h.clone())
    }

    /// The health entry of this watch for the snapshot.
    pub fn entry(&self, cluster: &str, resource: ClusterResource) -> WatchHealth {
        let h = self.health();
        let (rows, bytes) = self.figure();
        WatchHealth {
            cluster: cluster.to_string(),
            resource,
            state: h.state,
            scope: h.scope,
            rows,
            bytes,
        }
    }
}

fn with_health(health: &Mutex<Health>, f: impl FnOnce(&mut Health)) {
    match health.lock() {
        Ok(mut h) => f(&mut h),
        Err(p) => f(&mut p.into_inner()),
    }
}

/// The watch task: watch, apply each event to the store, and on a failure wait (doubling) and
/// list again — in the fallback namespace instead when every namespace is forbidden.
async fn run<K, T>(
    spec: Spec<K, T>,
    writer: &mut Writer<Row<T>>,
    reader: &Store<Row<T>>,
    health: &Mutex<Health>,
    changed: &tokio::sync::watch::Sender<u64>,
    lists: &tokio::sync::Semaphore,
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
    T: Projection,
{
    let mut namespace = match &spec.scope {
        Scope::Namespace(ns) => Some(ns.clone()),
        _ => None,
    };
    let mut fallback = match &spec.scope {
        Scope::All { fallback } => fallback.clone(),
        _ => None,
    };
    let mut backoff: Option<Duration> = None;
    loop {
        // Admitted to list (released once the list is whole, or failed).
        let mut admitted = lists.acquire().await.ok();
        let stream = watcher((spec.api)(namespace.as_deref()), spec.config.clone());
        let mut stream = std::pin::pin!(stream);
        let failed = loop {
            match stream.next().await {
                Some(Ok(event)) => {
                    if matches!(event, watcher::Event::InitDone) {
                        admitted = None;
                    }
                    let Some(event) = project(event, &spec.map) else {
                        continue;
                    };
                    writer.apply_watcher_event(&event);
                    if let Some(trim) = spec.trim {
                        trim(writer, reader);
                    }
                    if matches!(event, watcher::Event::InitDone) {
                        backoff = None;
                    }
                    with_health(health, |h| h.on_event(&event));
                    changed.send_modify(|n| *n = n.wrapping_add(1));
                }
                Some(Err(e)) => break Some(classify(&e)),
                None => break None,
            }
        };
        drop(admitted);
        let wait = match failed {
            Some((Failure::Forbidden, text)) if fallback.is_some() => {
                namespace = fallback.take();
                let ns = namespace.clone().unwrap_or_default();
                tracing::info!(error = %text, namespace = %ns, "listing in every namespace is forbidden; watching one");
                with_health(health, |h| {
                    h.scope =
                        format!("namespace {ns} only (listing in every namespace is forbidden)");
                });
                Duration::ZERO
            }
            Some((failure, text)) => {
                tracing::debug!(error = %text, "a watch failed; listing again after a wait");
                with_health(health, |h| h.on_error(failure, text, Utc::now()));
                changed.send_modify(|n| *n = n.wrapping_add(1));
                let wait = if failure == Failure::Other {
                    next_backoff(backoff)
                } else {
                    BACKOFF_MOST
                };
                backoff = Some(wait);
                wait
            }
            None => next_backoff(backoff),
        };
        tokio::time::sleep(wait).await;
    }
}

/// Which resources the screen needs, and since when each one has not been needed: a resource
/// off screen for `expiry` is to be stopped. What the Overview needs is always needed.
#[derive(Debug, Clone)]
pub struct Demand {
    expiry: Duration,
    wanted: BTreeSet<ClusterResource>,
    /// Resources not wanted now, with when they stopped being wanted.
    off_since: BTreeMap<ClusterResource, Instant>,
}

impl Demand {
    /// Nothing asked yet: every resource counts as wanted (a snapshot reads them all) until the
    /// screen says otherwise.
    pub fn new(expiry: Duration) -> Self {
        Self {
            expiry,
            wanted: ClusterResource::ALL.into_iter().collect(),
            off_since: BTreeMap::new(),
        }
    }

    /// The screen needs `resources` from `now` on (and the Overview's always).
    pub fn want(&mut self, resources: &[ClusterResource], now: Instant) {
        let wanted: BTreeSet<ClusterResource> = resources
            .iter()
            .copied()
            .chain(ClusterResource::OVERVIEW)
            .collect();
        for r in ClusterResource::ALL {
            if wanted.contains(&r) {
                self.off_since.remove(&r);
            } else if self.wanted.contains(&r) {
                self.off_since.insert(r, now);
            }
        }
        self.wanted = wanted;
    }

    pub fn wanted(&self, r: ClusterResource) -> bool {
        self.wanted.contains(&r)
    }

    /// The resources off screen for `expiry` or longer at `now`.
    pub fn expired(&self, now: Instant) -> Vec<ClusterResource> {
        self.off_since
            .iter()
            .filter(|(_, since)| now.saturating_duration_since(**since) >= self.expiry)
            .map(|(r, _)| *r)
            .collect()
    }

    /// `r` was stopped: nothing more to count for it until it is wanted and left again.
    pub fn stopped(&mut self, r: ClusterResource) {
        self.off_since.remove(&r);
    }

    pub fn expiry(&self) -> Duration {
        self.expiry
    }
}

#[cfg(test)]
mod tests;
