//! The clusters a console watches and how each answers: a console on several clusters keeps the
//! last rows of one that stopped answering, marked with why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub region: String,
    /// Whether this cluster's rows are live; a console watching several clusters keeps the
    /// last rows of one that stopped answering, marked with why (`ClusterHealth`).
    #[serde(default, skip_serializing_if = "ClusterHealth::is_ok")]
    pub health: ClusterHealth,
}

/// How a cluster of a multi-cluster console answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClusterHealth {
    /// Its last snapshot came back: its rows are live.
    #[default]
    Ok,
    /// Not asked yet, or its first snapshot is still on its way (admitted a few at a time).
    Connecting,
    /// It did not answer (unreachable, timed out, failing) since `since`: its rows are the
    /// last it sent.
    Down {
        reason: String,
        since: DateTime<Utc>,
    },
    /// It refused who we are since `since` (401/403): its rows are the last it sent, if any.
    Forbidden {
        reason: String,
        since: DateTime<Utc>,
    },
}

impl ClusterHealth {
    pub fn is_ok(&self) -> bool {
        matches!(self, ClusterHealth::Ok)
    }

    /// One word for the state: `ok`, `connecting`, `down`, `forbidden`.
    pub fn word(&self) -> &'static str {
        match self {
            ClusterHealth::Ok => "ok",
            ClusterHealth::Connecting => "connecting",
            ClusterHealth::Down { .. } => "down",
            ClusterHealth::Forbidden { .. } => "forbidden",
        }
    }

    /// Why its rows are not live, when they are not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ClusterHealth::Ok => None,
            ClusterHealth::Connecting => Some("connecting"),
            ClusterHealth::Down { reason, .. } | ClusterHealth::Forbidden { reason, .. } => {
                Some(reason)
            }
        }
    }
}
