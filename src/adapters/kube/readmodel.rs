//! The read model of one cluster: a watch per resource (see `store`), started when a snapshot
//! or the screen needs it, stopped when no view has needed it for a while, and read whole by
//! `ClusterPort::snapshot`.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::Deployment as K8sDeployment,
        coordination::v1::{Lease, LeaseSpec},
        core::v1::{Event as K8sEvent, Node as K8sNode, Pod as K8sPod},
    },
};
use kube::{
    Api, Client,
    runtime::{
        reflector::{Store, store::Writer},
        watcher,
    },
};
use mlops_core::{
    CoreError,
    model::{ClusterEvent, ClusterResource, Deployment, Driver, Node, Pod, WatchHealth},
    rollout::RolloutRecord,
    triggers::{CRD_MISSING, TriggerRecord, TriggersRead},
};

use super::{
    crd::ModelRollout,
    err,
    lease::{LeaseParams, driver_of},
    limits::WATCH_TIMEOUT_SECONDS,
    map::{map_deployment, map_event, map_node, map_pod},
    names::MODEL_LABEL,
    store::{Demand, Failure, MapFn, PAGE_SIZE, Part, Projection, Row, Scope, Spec, TrimFn},
    triggers::RolloutTrigger,
};

/// The newest Events kept, and how many more a store holds before it is cut back to them.
pub const EVENTS_KEPT: usize = 500;
const EVENTS_SLACK: usize = 500;

/// The Lease as its store keeps it: its spec (holder, renewal, duration).
#[derive(Clone, Debug)]
pub struct LeaseRow(pub LeaseSpec);

fn strings(parts: &[&String]) -> usize {
    parts.iter().map(|s| s.capacity()).sum()
}

impl Projection for Node {
    fn heap_bytes(&self) -> usize {
        strings(&[&self.name, &self.cluster, &self.region, &self.zone])
            + self.gpu_product.as_ref().map_or(0, String::capacity)
    }
}

impl Projection for Pod {
    fn heap_bytes(&self) -> usize {
        strings(&[&self.name, &self.namespace, &self.cluster, &self.image])
            + self.node.as_ref().map_or(0, String::capacity)
            + self.model.as_ref().map_or(0, String::capacity)
    }
}

impl Projection for Deployment {
    fn heap_bytes(&self) -> usize {
        strings(&[
            &self.name,
            &self.namespace,
            &self.cluster,
            &self.model,
            &self.image,
        ]) + self.slo.as_ref().map_or(0, String::capacity)
    }
}

impl Projection for ClusterEvent {
    fn heap_bytes(&self) -> usize {
        strings(&[
            &self.cluster,
            &self.namespace,
            &self.object,
            &self.reason,
            &self.message,
        ])
    }
}

/// Bytes of `v` written as JSON: the heap of a nested record, roughly.
fn json_len(v: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

impl Projection for RolloutRecord {
    fn heap_bytes(&self) -> usize {
        json_len(self)
    }
}

impl Projection for TriggerRecord {
    fn heap_bytes(&self) -> usize {
        json_len(self)
    }
}

impl Projection for LeaseRow {
    fn heap_bytes(&self) -> usize {
        json_len(&self.0)
    }
}

/// Keep the newest [`EVENTS_KEPT`] Events once the store holds [`EVENTS_SLACK`] more.
pub(super) fn trim_events(
    writer: &mut Writer<Row<ClusterEvent>>,
    reader: &Store<Row<ClusterEvent>>,
) {
    if reader.len() <= EVENTS_KEPT + EVENTS_SLACK {
        return;
    }
    let mut all = reader.state();
    all.sort_by_key(|r| r.value.as_ref().map(|e| e.time));
    let cut = all.len() - EVENTS_KEPT;
    for row in &all[..cut] {
        writer.apply_watcher_event(&watcher::Event::Delete(Row {
            namespace: row.namespace.clone(),
            name: row.name.clone(),
            value: None,
        }));
    }
}

/// The running watches, one per resource (none where it is stopped or not yet needed).
#[derive(Default)]
struct Parts {
    nodes: Option<Part<Node>>,
    pods: Option<Part<Pod>>,
    deployments: Option<Part<Deployment>>,
    events: Option<Part<ClusterEvent>>,
    rollouts: Option<Part<RolloutRecord>>,
    triggers: Option<Part<TriggerRecord>>,
    lease: Option<Part<LeaseRow>>,
}

/// Applies `$body` to the part of `$r` in `$parts` (bound as `$p`, an `Option<Part<_>>`).
macro_rules! on_part {
    ($parts:expr, $r:expr, $p:ident => $body:expr) => {
        match $r {
            ClusterResource::Nodes => {
                let $p = &mut $parts.nodes;
                $body
            }
            ClusterResource::Pods => {
                let $p = &mut $parts.pods;
                $body
            }
            ClusterResource::Deployments => {
                let $p = &mut $parts.deployments;
                $body
            }
            ClusterResource::Events => {
                let $p = &mut $parts.events;
                $body
            }
            ClusterResource::Rollouts => {
                let $p = &mut $parts.rollouts;
                $body
            }
            ClusterResource::Triggers => {
                let $p = &mut $parts.triggers;
                $body
            }
            ClusterResource::Lease => {
                let $p = &mut $parts.lease;
                $body
            }
        }
    };
}

struct Inner {
    demand: Demand,
    parts: Parts,
}

/// What a snapshot reads of the stores.
pub struct Read {
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ClusterEvent>,
    pub rollouts: Vec<RolloutRecord>,
    pub triggers: TriggersRead,
    pub driver: Driver,
    pub watches: Vec<WatchHealth>,
}

/// One cluster's watches and their stores.
pub struct ReadModel {
    cluster: String,
    client: Client,
    /// `-n`: every namespaced watch is narrowed to it.
    namespace: Option<String>,
    /// Where a namespaced watch falls back to when every namespace is forbidden.
    fallback: String,
    lease: LeaseParams,
    driver_id: Option<String>,
    changed: tokio::sync::watch::Sender<u64>,
    /// Admits this cluster's initial lists a few at a time.
    lists: Arc<tokio::sync::Semaphore>,
    inner: Mutex<Inner>,
}

impl ReadModel {
    pub fn new(
        cluster: &str,
        client: Client,
        namespace: Option<String>,
        lease: LeaseParams,
        driver_id: Option<String>,
        expiry: Duration,
    ) -> Self {
        let fallback = client.default_namespace().to_string();
        Self {
            cluster: cluster.to_string(),
            client,
            namespace,
            fallback,
            lease,
            driver_id,
            changed: tokio::sync::watch::channel(0).0,
            lists: super::store::list_admission(),
            inner: Mutex::new(Inner {
                demand: Demand::new(expiry),
                parts: Parts::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bumped after every change of a store or of a watch's health.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The screen needs `resources` now: start what is not running.
    pub fn want(&self, resources: &[ClusterResource], now: Instant) {
        let mut inner = self.lock();
        inner.demand.want(resources, now);
        self.start_wanted(&mut inner);
    }

    /// Stop the watches nothing has needed for the expiry; their stores are dropped.
    pub fn sweep(&self, now: Instant) {
        let mut inner = self.lock();
        for r in inner.demand.expired(now) {
            let stopped = on_part!(inner.parts, r, p => p.take().is_some());
            inner.demand.stopped(r);
            if stopped {
                tracing::info!(
                    resource = r.plural(),
                    "not needed on screen: its watch stopped"
                );
                self.changed.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    fn start_wanted(&self, inner: &mut Inner) {
        for r in ClusterResource::ALL {
            if !inner.demand.wanted(r) {
                continue;
            }
            match r {
                ClusterResource::Nodes if inner.parts.nodes.is_none() => {
                    inner.parts.nodes = Some(self.start_nodes());
                }
                ClusterResource::Pods if inner.parts.pods.is_none() => {
                    let cluster = self.cluster.clone();
                    inner.parts.pods = Some(self.start_namespaced::<K8sPod, Pod>(
                        watcher::Config::default(),
                        Box::new(move |p| Some(map_pod(p, &cluster))),
                        None,
                    ));
                }
                ClusterResource::Deployments if inner.parts.deployments.is_none() => {
                    let cluster = self.cluster.clone();
                    inner.parts.deployments = Some(self.start_namespaced::<K8sDeployment, _>(
                        watcher::Config::default().labels(MODEL_LABEL),
                        Box::new(move |d| map_deployment(d, &cluster)),
                        None,
                    ));
                }
                ClusterResource::Events if inner.parts.events.is_none() => {
                    let cluster = self.cluster.clone();
                    inner.parts.events = Some(self.start_namespaced::<K8sEvent, _>(
                        watcher::Config::default(),
                        Box::new(move |e| Some(map_event(e, &cluster))),
                        Some(trim_events),
                    ));
                }
                ClusterResource::Rollouts if inner.parts.rollouts.is_none() => {
                    let cluster = self.cluster.clone();
                    inner.parts.rollouts = Some(self.start_namespaced::<ModelRollout, _>(
                        watcher::Config::default(),
                        Box::new(move |r| Some(r.record(&cluster))),
                        None,
                    ));
                }
                ClusterResource::Triggers if inner.parts.triggers.is_none() => {
                    let cluster = self.cluster.clone();
                    inner.parts.triggers = Some(self.start_namespaced::<RolloutTrigger, _>(
                        watcher::Config::default(),
                        Box::new(move |t| Some(t.record_in(&cluster))),
                        None,
                    ));
                }
                ClusterResource::Lease if inner.parts.lease.is_none() => {
                    inner.parts.lease = Some(self.start_lease());
                }
                _ => {}
            }
        }
    }

    fn config(base: watcher::Config) -> watcher::Config {
        base.page_size(PAGE_SIZE).timeout(WATCH_TIMEOUT_SECONDS)
    }

    fn start_nodes(&self) -> Part<Node> {
        let (client, cluster) = (self.client.clone(), self.cluster.clone());
        Part::start(
            Spec {
                api: Box::new(move |_| Api::<K8sNode>::all(client.clone())),
                config: Self::config(watcher::Config::default()),
                scope: Scope::Cluster,
                map: Box::new(move |n| Some(map_node(n, &cluster))),
                trim: None,
            },
            self.changed.clone(),
            self.lists.clone(),
        )
    }

    fn start_lease(&self) -> Part<LeaseRow> {
        let client = self.client.clone();
        Part::start(
            Spec {
                api: Box::new(move |ns| {
                    Api::<Lease>::namespaced(client.clone(), ns.unwrap_or_default())
                }),
                config: Self::config(
                    watcher::Config::default()
                        .fields(&format!("metadata.name={}", self.lease.name)),
                ),
                scope: Scope::Namespace(self.lease.namespace.clone()),
                map: Box::new(|l: &Lease| Some(LeaseRow(l.spec.clone().unwrap_or_default()))),
                trim: None,
            },
            self.changed.clone(),
            self.lists.clone(),
        )
    }

    /// A watch of a namespaced resource: in `-n`'s namespace, or every namespace (falling
    /// back to the context's namespace where that is forbidden).
    fn start_namespaced<K, T>(
        &self,
        config: watcher::Config,
        map: MapFn<K, T>,
        trim: Option<TrimFn<T>>,
    ) -> Part<T>
    where
        K: kube::Resource<Scope = NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
        K::DynamicType: Default,
        T: Projection,
    {
        let client = self.client.clone();
        let scope = match &self.namespace {
            Some(ns) => Scope::Namespace(ns.clone()),
            None => Scope::All {
                fallback: Some(self.fallback.clone()),
            },
        };
        Part::start(
            Spec {
                api: Box::new(move |ns| match ns {
                    Some(ns) => Api::namespaced(client.clone(), ns),
                    None => Api::all(client.clone()),
                }),
                config: Self::config(config),
                scope,
                map,
                trim,
            },
            self.changed.clone(),
            self.lists.clone(),
        )
    }

    /// Start what is wanted, and wait until every running watch has listed once or failed,
    /// for at most `limit`.
    pub async fn settle(&self, limit: Duration) {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let settled = {
                let mut inner = self.lock();
                self.start_wanted(&mut inner);
                let p = &inner.parts;
                let s = |h: Option<bool>| h.unwrap_or(true);
                s(p.nodes.as_ref().map(|p| p.health().settled()))
                    && s(p.pods.as_ref().map(|p| p.health().settled()))
                    && s(p.deployments.as_ref().map(|p| p.health().settled()))
                    && s(p.events.as_ref().map(|p| p.health().settled()))
                    && s(p.rollouts.as_ref().map(|p| p.health().settled()))
                    && s(p.triggers.as_ref().map(|p| p.health().settled()))
                    && s(p.lease.as_ref().map(|p| p.health().settled()))
            };
            if settled {
                return;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Every store, read: a watch that never listed and failed on anything but a refusal
    /// fails the read (the cluster cannot be reached), as a list did.
    pub fn read(&self) -> Result<Read, CoreError> {
        let inner = self.lock();
        let p = &inner.parts;
        let c = &self.cluster;
        let mut watches = Vec::new();
        let mut nodes = take(p.nodes.as_ref(), c, ClusterResource::Nodes, &mut watches)?;
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut pods = take(p.pods.as_ref(), c, ClusterResource::Pods, &mut watches)?;
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut deployments = take(
            p.deployments.as_ref(),
            c,
            ClusterResource::Deployments,
            &mut watches,
        )?;
        deployments.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut events = take(p.events.as_ref(), c, ClusterResource::Events, &mut watches)?;
        events.sort_by_key(|e| e.time);
        events.drain(..events.len().saturating_sub(EVENTS_KEPT));
        let mut rollouts = take(
            p.rollouts.as_ref(),
            c,
            ClusterResource::Rollouts,
            &mut watches,
        )?;
        rollouts.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let triggers = self.triggers(p.triggers.as_ref(), &mut watches);
        let leases =
            take(p.lease.as_ref(), c, ClusterResource::Lease, &mut watches).unwrap_or_default();
        let driver = leases.first().map_or(Driver::Nobody, |l| {
            let lease = Lease {
                spec: Some(l.0.clone()),
                ..Lease::default()
            };
            driver_of(&lease, self.driver_id.as_deref())
        });
        Ok(Read {
            nodes,
            pods,
            deployments,
            events,
            rollouts,
            triggers,
            driver,
            watches,
        })
    }

    fn triggers(
        &self,
        part: Option<&Part<TriggerRecord>>,
        watches: &mut Vec<WatchHealth>,
    ) -> TriggersRead {
        let Some(part) = part else {
            watches.push(stopped(&self.cluster, ClusterResource::Triggers));
            return TriggersRead::Listed(Vec::new());
        };
        let h = part.health();
        watches.push(part.entry(&self.cluster, ClusterResource::Triggers));
        match (&h.failure, h.synced) {
            (Some(Failure::Absent), false) => TriggersRead::Unavailable(CRD_MISSING.into()),
            (Some(Failure::Forbidden), false) => TriggersRead::Unavailable(format!(
                "may not list rollouttriggers.mlops.dev (verb list, resource rollouttriggers): {}",
                state_error(&h.state)
            )),
            _ => {
                let mut all = part.values();
                all.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                TriggersRead::Listed(all)
            }
        }
    }
}

fn state_error(s: &mlops_core::model::WatchState) -> String {
    use mlops_core::model::WatchState as W;
    match s {
        W::Reconnecting { error, .. } | W::Forbidden { error } | W::Absent { error } => {
            error.clone()
        }
        _ => String::new(),
    }
}

/// The health entry of a resource not watched now.
fn stopped(cluster: &str, resource: ClusterResource) -> WatchHealth {
    WatchHealth {
        cluster: cluster.to_string(),
        resource,
        state: mlops_core::model::WatchState::Stopped,
        scope: "no view on screen needs it".into(),
        rows: 0,
        bytes: 0,
    }
}

/// The rows of a watch, its health entry added to `watches`; a watch not running has none.
fn take<T: Projection>(
    part: Option<&Part<T>>,
    cluster: &str,
    resource: ClusterResource,
    watches: &mut Vec<WatchHealth>,
) -> Result<Vec<T>, CoreError> {
    let Some(part) = part else {
        watches.push(stopped(cluster, resource));
        return Ok(Vec::new());
    };
    let h = part.health();
    if !h.synced && h.failure == Some(Failure::Other) {
        return Err(err(
            &format!("listing {}", resource.plural()),
            state_error(&h.state),
        ));
    }
    watches.push(part.entry(cluster, resource));
    Ok(part.values())
}

/// Shared by every clone of a `KubeCluster`.
pub type Shared = Arc<ReadModel>;
