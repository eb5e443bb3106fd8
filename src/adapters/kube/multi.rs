//! Several clusters in one console: `MultiCluster` is one `ClusterPort` over a member port per
//! kubeconfig context (`--context a,b`, `contexts = [...]`, `--all-contexts`).
//!
//! It asks the members in parallel, their first snapshots admitted a few at a time
//! ([`FIRST_SNAPSHOTS_AT_ONCE`]) so memory stays bounded however many contexts are named, and
//! merges what they answer in the order they were named. A member that stops answering keeps its
//! last rows, marked by its `Cluster::health` (down or forbidden, with the reason and since
//! when), so the views grey out only that cluster's rows. Watches of the members are merged into
//! one stream; commands go to the member the record's cluster names.
//!
//! It owns nothing of a member's internals: each member is any `ClusterPort` (a `KubeCluster`,
//! or a context that could not be set up, which answers with its reason).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use mlops_core::{
    CoreError, ErrorKind,
    audit::AuditEntry,
    model::{Cluster, ClusterChange, ClusterHealth, ClusterResource, ClusterSnapshot, Driver},
    ports::{AuditPort, ChangeStream, ClusterPort},
    rollout::{Command, RolloutRecord},
    triggers::TriggersRead,
};

/// How many members' first snapshots (their initial lists) run at once.
pub const FIRST_SNAPSHOTS_AT_ONCE: usize = 3;

/// The clock the port marks `since` with (a test's own clock in unit tests).
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// One cluster of the set: its name (the kubeconfig context) and its port.
#[derive(Clone)]
pub struct Member {
    pub name: String,
    pub port: Arc<dyn ClusterPort>,
}

/// What the port remembers of a member: its last snapshot and how it answered last.
struct MemberState {
    last: Option<ClusterSnapshot>,
    health: ClusterHealth,
    /// Whether it answered once (so its snapshots no longer wait for admission).
    answered: bool,
}

/// Several clusters as one `ClusterPort`; its clones share the members' state (the merged
/// watch stream holds one).
#[derive(Clone)]
pub struct MultiCluster {
    members: Vec<Member>,
    state: Arc<Mutex<HashMap<String, MemberState>>>,
    admit: Arc<tokio::sync::Semaphore>,
    now: Now,
    /// `:ctx NAME`: the one member the views are narrowed to (the others are not asked).
    only: Option<String>,
}

impl MultiCluster {
    /// The set of `members`, in the order given (their rows are merged in this order).
    pub fn new(members: Vec<Member>) -> Self {
        Self::with_clock(members, Arc::new(Utc::now))
    }

    pub fn with_clock(members: Vec<Member>, now: Now) -> Self {
        let state = members
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    MemberState {
                        last: None,
                        health: ClusterHealth::Connecting,
                        answered: false,
                    },
                )
            })
            .collect();
        Self {
            members,
            state: Arc::new(Mutex::new(state)),
            admit: Arc::new(tokio::sync::Semaphore::new(FIRST_SNAPSHOTS_AT_ONCE)),
            now,
            only: None,
        }
    }

    /// The same set narrowed to the member `to` (`:ctx NAME`), or every member again (`None`,
    /// `:ctx all`); it shares what the set remembers of each member.
    pub fn narrowed(&self, to: Option<&str>) -> Result<Self, CoreError> {
        if let Some(name) = to {
            self.member(name)?;
        }
        Ok(Self {
            only: to.map(str::to_string),
            ..self.clone()
        })
    }

    /// The members on show: every one, or the one narrowed to.
    fn shown(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(|m| self.only.as_ref().is_none_or(|o| *o == m.name))
    }

    /// The members' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name.clone()).collect()
    }

    /// One member's snapshot; its first one waits for admission.
    async fn fetch(&self, member: &Member) -> Result<ClusterSnapshot, CoreError> {
        let answered = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.get(&member.name).map(|m| m.answered))
            .unwrap_or(false);
        let _permit = if answered {
            None
        } else {
            self.admit.acquire().await.ok()
        };
        member.port.snapshot().await
    }

    /// Remember how `name` answered.
    fn record(&self, name: &str, answer: Result<ClusterSnapshot, CoreError>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let Some(m) = state.get_mut(name) else {
            return;
        };
        m.answered = true;
        match answer {
            Ok(s) => {
                m.last = Some(s);
                m.health = ClusterHealth::Ok;
            }
            Err(e) => m.health = failed(&m.health, &e, (self.now)()),
        }
    }

    /// The members' last snapshots merged, or why none of them could be read.
    fn merged(&self) -> Result<ClusterSnapshot, CoreError> {
        let state = self
            .state
            .lock()
            .map_err(|_| CoreError::backend("kubernetes", "the cluster set's state is poisoned"))?;
        let members: Vec<(&str, &MemberState)> = self
            .shown()
            .filter_map(|m| state.get(&m.name).map(|s| (m.name.as_str(), s)))
            .collect();
        if members.iter().all(|(_, m)| m.last.is_none()) {
            let why: Vec<String> = members
                .iter()
                .map(|(name, m)| format!("{name}: {}", m.health.reason().unwrap_or("no answer")))
                .collect();
            return Err(CoreError::of_kind(
                ErrorKind::Unavailable,
                "kubernetes",
                format!("no cluster answered ({})", why.join("; ")),
            ));
        }
        Ok(merge(&members))
    }

    /// Apply a member's watch change to its last snapshot; the change as the merged set sees
    /// it (a member's whole list of rollouts becomes every member's).
    fn changed(&self, name: &str, change: ClusterChange) -> Option<ClusterChange> {
        let mut state = self.state.lock().ok()?;
        let last = state.get_mut(name)?.last.as_mut()?;
        let same = |r: &RolloutRecord, ns: &str, n: &str| r.namespace == ns && r.name == n;
        match change {
            ClusterChange::Rollouts(all) => {
                last.rollouts = all;
                drop(state);
                let merged = self.merged().ok()?;
                Some(ClusterChange::Rollouts(merged.rollouts))
            }
            ClusterChange::Rollout(r) => {
                match last
                    .rollouts
                    .iter()
                    .position(|x| same(x, &r.namespace, &r.name))
                {
                    Some(i) => last.rollouts[i] = (*r).clone(),
                    None => last.rollouts.push((*r).clone()),
                }
                Some(ClusterChange::Rollout(r))
            }
            ClusterChange::RolloutDeleted {
                cluster,
                namespace,
                name: rollout,
            } => {
                last.rollouts.retain(|x| !same(x, &namespace, &rollout));
                Some(ClusterChange::RolloutDeleted {
                    cluster,
                    namespace,
                    name: rollout,
                })
            }
            ClusterChange::Driver(d) => {
                last.driver = d;
                drop(state);
                Some(ClusterChange::Driver(self.merged().ok()?.driver))
            }
            // Something the member watches changed: the merged snapshot is read again.
            ClusterChange::Refresh => Some(ClusterChange::Refresh),
        }
    }

    fn member(&self, cluster: &str) -> Result<&Member, CoreError> {
        self.members
            .iter()
            .find(|m| m.name == cluster)
            .ok_or_else(|| CoreError::NotFound {
                kind: "cluster",
                name: format!(
                    "{cluster} (this console watches {})",
                    self.names().join(",")
                ),
            })
    }
}

/// A member's health after `e`: forbidden for a refusal of who we are, down otherwise; `since`
/// stays when it was already in that state.
fn failed(before: &ClusterHealth, e: &CoreError, now: DateTime<Utc>) -> ClusterHealth {
    let reason = e.to_string();
    match (e.kind(), before) {
        (ErrorKind::Denied, ClusterHealth::Forbidden { since, .. }) => ClusterHealth::Forbidden {
            reason,
            since: *since,
        },
        (ErrorKind::Denied, _) => ClusterHealth::Forbidden { reason, since: now },
        (_, ClusterHealth::Down { since, .. }) => ClusterHealth::Down {
            reason,
            since: *since,
        },
        _ => ClusterHealth::Down { reason, since: now },
    }
}

/// The members' last snapshots as one, in the members' order; each cluster marked with its
/// member's health.
fn merge(members: &[(&str, &MemberState)]) -> ClusterSnapshot {
    let mut out = ClusterSnapshot {
        clusters: Vec::new(),
        nodes: Vec::new(),
        pods: Vec::new(),
        deployments: Vec::new(),
        rollouts: Vec::new(),
        events: Vec::new(),
        driver: Driver::Nobody,
        identity: String::new(),
        denied: BTreeMap::new(),
        triggers: TriggersRead::default(),
        watches: Vec::new(),
    };
    let mut identities: Vec<String> = Vec::new();
    let mut drivers: Vec<(bool, Driver)> = Vec::new();
    let mut triggers = Vec::new();
    let mut unreadable = Vec::new();
    for (name, m) in members {
        let Some(s) = &m.last else {
            out.clusters.push(Cluster {
                name: (*name).to_string(),
                region: String::new(),
                health: m.health.clone(),
            });
            continue;
        };
        // A member that answered says itself whether its rows are live (its watches).
        out.clusters.extend(s.clusters.iter().map(|c| Cluster {
            health: if m.health.is_ok() {
                c.health.clone()
            } else {
                m.health.clone()
            },
            ..c.clone()
        }));
        out.nodes.extend(s.nodes.iter().cloned());
        out.pods.extend(s.pods.iter().cloned());
        out.deployments.extend(s.deployments.iter().cloned());
        out.rollouts.extend(s.rollouts.iter().cloned());
        out.events.extend(s.events.iter().cloned());
        out.watches.extend(s.watches.iter().cloned());
        identities.push(format!("{name}: {}", s.identity));
        drivers.push((m.health.is_ok(), s.driver.clone()));
        // Namespaces repeat across clusters: the merged set keys them `cluster/namespace`.
        for (ns, verbs) in &s.denied {
            out.denied.insert(format!("{name}/{ns}"), verbs.clone());
        }
        match &s.triggers {
            TriggersRead::Listed(all) => triggers.extend(all.iter().cloned()),
            TriggersRead::Unavailable(why) => unreadable.push(format!("{name}: {why}")),
        }
    }
    out.events.sort_by_key(|e| e.time);
    let same_identity = identities
        .iter()
        .filter_map(|i| i.split_once(": ").map(|(_, who)| who))
        .collect::<std::collections::BTreeSet<_>>();
    out.identity = match same_identity.len() {
        1 => same_identity
            .into_iter()
            .next()
            .unwrap_or_default()
            .to_string(),
        _ => identities.join(", "),
    };
    // Who drives the first live cluster's rollouts (each cluster has its own lease).
    out.driver = drivers
        .iter()
        .find(|(live, _)| *live)
        .or(drivers.first())
        .map_or(Driver::Nobody, |(_, d)| d.clone());
    out.triggers = if triggers.is_empty() && !unreadable.is_empty() {
        TriggersRead::Unavailable(unreadable.join("; "))
    } else {
        TriggersRead::Listed(triggers)
    };
    out
}

#[async_trait]
impl ClusterPort for MultiCluster {
    /// Every member watches what the screen needs.
    fn want(&self, resources: &[ClusterResource]) {
        for m in &self.members {
            m.port.want(resources);
        }
    }

    fn describe(&self) -> String {
        match &self.only {
            Some(one) => format!(
                "{one} (1 of {}: {})",
                self.members.len(),
                self.names().join(",")
            ),
            None => self.names().join(","),
        }
    }

    fn watch(&self) -> Option<ChangeStream> {
        let streams: Vec<_> = self
            .shown()
            .filter_map(|m| {
                let name = m.name.clone();
                m.port
                    .watch()
                    .map(move |s| s.map(move |c| (name.clone(), c)).boxed())
            })
            .collect();
        if streams.is_empty() {
            return None;
        }
        let me = self.clone();
        Some(Box::pin(futures::stream::select_all(streams).filter_map(
            move |(name, change)| futures::future::ready(me.changed(&name, change)),
        )))
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError> {
        let answers = futures::future::join_all(self.shown().map(|m| self.fetch(m))).await;
        for (m, answer) in self.shown().zip(answers) {
            self.record(&m.name, answer);
        }
        self.merged()
    }

    async fn rollout_command(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        command: Command,
    ) -> Result<RolloutRecord, CoreError> {
        self.member(cluster)?
            .port
            .rollout_command(cluster, namespace, name, command)
            .await
    }
}

/// The audit log of a set of clusters: each cluster keeps its own hash chain, so the console
/// shows the first cluster's (`mlops audit --context NAME` reads another's).
pub struct FirstAudit(pub Arc<dyn AuditPort>);

#[async_trait]
impl AuditPort for FirstAudit {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError> {
        self.0.entries().await
    }
}

/// A context that could not be set up (not in the kubeconfig, its credentials plugin failed):
/// a member that answers every call with the reason, so its cluster shows down saying why.
pub struct Unusable {
    pub name: String,
    pub error: CoreError,
}

#[async_trait]
impl ClusterPort for Unusable {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError> {
        Err(self.error.clone())
    }

    async fn rollout_command(
        &self,
        _cluster: &str,
        _namespace: &str,
        _name: &str,
        _command: Command,
    ) -> Result<RolloutRecord, CoreError> {
        Err(self.error.clone())
    }
}

#[async_trait]
impl AuditPort for Unusable {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError> {
        Err(self.error.clone())
    }
}

/// Every context of the kubeconfig (`KUBECONFIG` or `~/.kube/config`), in its order, for
/// `--all-contexts`.
pub fn all_contexts() -> Result<Vec<String>, CoreError> {
    for path in super::kubeconfig_paths() {
        super::check_kubeconfig(&path)?;
    }
    let kubeconfig = kube::config::Kubeconfig::read()
        .map_err(|e| super::err("reading the kubeconfig (KUBECONFIG or ~/.kube/config)", e))?;
    let names: Vec<String> = kubeconfig.contexts.into_iter().map(|c| c.name).collect();
    if names.is_empty() {
        return Err(super::err(
            "--all-contexts",
            "the kubeconfig names no context",
        ));
    }
    Ok(names)
}

/// The context names of `--context a,b,c` (or `MLOPS_CONTEXT`): split on commas, blanks
/// trimmed, empty parts and repeats dropped, in the order given.
pub fn split_contexts(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o == part) {
            out.push(part.to_string());
        }
    }
    out
}

#[cfg(test)]
#[path = "multi_tests.rs"]
mod tests;
