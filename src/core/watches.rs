//! The health of a cluster port's watches (what `ClusterSnapshot::watches` carries) and the
//! resources a port keeps, for saying which ones the screen needs (`ClusterPort::want`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rollout::RolloutRecord;

/// A kind of object a cluster port keeps in its read model, for saying which ones the screen
/// needs (`ClusterPort::want`) and for the health of their watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterResource {
    Nodes,
    Pods,
    Deployments,
    Events,
    Rollouts,
    Triggers,
    Lease,
}

impl ClusterResource {
    pub const ALL: [ClusterResource; 7] = [
        ClusterResource::Nodes,
        ClusterResource::Pods,
        ClusterResource::Deployments,
        ClusterResource::Events,
        ClusterResource::Rollouts,
        ClusterResource::Triggers,
        ClusterResource::Lease,
    ];

    /// What the Overview (and the status bar) reads: always watched.
    pub const OVERVIEW: [ClusterResource; 6] = [
        ClusterResource::Nodes,
        ClusterResource::Pods,
        ClusterResource::Deployments,
        ClusterResource::Events,
        ClusterResource::Rollouts,
        ClusterResource::Lease,
    ];

    /// Its name in the plural, as the health line says it ("pods").
    pub fn plural(self) -> &'static str {
        match self {
            ClusterResource::Nodes => "nodes",
            ClusterResource::Pods => "pods",
            ClusterResource::Deployments => "deployments",
            ClusterResource::Events => "events",
            ClusterResource::Rollouts => "rollouts",
            ClusterResource::Triggers => "triggers",
            ClusterResource::Lease => "leases",
        }
    }
}

/// Where a watch stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum WatchState {
    /// Its initial list is being read.
    Syncing,
    /// Listed, and following changes.
    Live,
    /// Its watch failed at `since`; it lists again with backoff. Its rows are kept (stale).
    Reconnecting { since: DateTime<Utc>, error: String },
    /// The cluster refuses the list (403), where nothing narrower is left to try.
    Forbidden { error: String },
    /// The resource is not served (its CRD is not installed): nothing to show.
    Absent { error: String },
    /// Not watched: no view on screen needed it for a while (its rows were dropped).
    Stopped,
}

/// One watch of one cluster: its state, where it watches and what its cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchHealth {
    pub cluster: String,
    pub resource: ClusterResource,
    #[serde(flatten)]
    pub state: WatchState,
    /// Where it watches: "all namespaces", "namespace team-a", or what it fell back to and why.
    pub scope: String,
    /// Rows in its cache, and their approximate size in memory.
    pub rows: usize,
    pub bytes: u64,
}

impl WatchHealth {
    /// The cache figure: "8,412 pods · 1.9 MiB".
    pub fn figure(&self) -> String {
        format!(
            "{} {} · {}",
            crate::text::thousands(self.rows as u64),
            self.resource.plural(),
            crate::text::bytes(self.bytes)
        )
    }

    /// Whether its rows may be out of date (its watch is reconnecting).
    pub fn is_stale(&self) -> bool {
        matches!(self.state, WatchState::Reconnecting { .. })
    }
}

/// A change the cluster pushes through a watch, applied to the last snapshot without refetching it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterChange {
    /// Every rollout, when a watch (re)starts: replaces the list.
    Rollouts(Vec<RolloutRecord>),
    /// One rollout created or changed.
    Rollout(Box<RolloutRecord>),
    /// One rollout deleted.
    RolloutDeleted {
        cluster: String,
        namespace: String,
        name: String,
    },
    /// Who drives the rollouts now.
    Driver(Driver),
    /// The port's watch caches changed: its snapshot (read from them, no list) is new.
    Refresh,
}

/// Who drives the rollouts: a controller holding the lease, or this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Driver {
    /// `mlops controller` holds the lease; this process only issues commands.
    Controller { holder: String },
    /// No controller holds the lease; the embedded core drives the rollouts.
    Embedded,
    /// Nothing drives the rollouts: no controller holds the lease and this process does not
    /// reconcile them (the rollouts only change through commands).
    Nobody,
}
