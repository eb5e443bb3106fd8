//! Whether a cluster's rows, read from its watches, are live.

use std::time::Duration;

use chrono::Utc;
use mlops_core::model::ClusterHealth;

use super::KubeCluster;

/// How long the API server may take to say its version before the cluster's rows count as stale.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl KubeCluster {
    /// Whether the rows read from the watches are live: the API server answers a small request
    /// (its version; a watch on a server that hangs notices only at its idle timeout), and no
    /// watch is re-listing. Rows are kept either way; the health says why they are stale.
    pub(super) async fn health(&self, watches: &[mlops_core::model::WatchHealth]) -> ClusterHealth {
        let now = Utc::now();
        // Its status line is enough: the body is never read, so a server that sends an endless
        // one costs nothing here.
        let down = match http::Request::get("/version").body(kube::client::Body::empty()) {
            Err(e) => Some(format!("the version request could not be made: {e}")),
            Ok(request) => {
                match tokio::time::timeout(PROBE_TIMEOUT, self.client.send(request)).await {
                    Err(_) => Some(format!(
                        "the API server did not answer within {}s",
                        PROBE_TIMEOUT.as_secs()
                    )),
                    Ok(Err(e)) => Some(format!("the API server does not answer: {e}")),
                    Ok(Ok(r)) if !r.status().is_success() => {
                        Some(format!("the API server answers {}", r.status()))
                    }
                    Ok(Ok(_)) => None,
                }
            }
        };
        if let Some(reason) = down {
            return ClusterHealth::Down { reason, since: now };
        }
        watches
            .iter()
            .find_map(|w| match &w.state {
                mlops_core::model::WatchState::Reconnecting { since, error } => {
                    Some(ClusterHealth::Down {
                        reason: format!("{} watch re-listing: {error}", w.resource.plural()),
                        since: *since,
                    })
                }
                _ => None,
            })
            .unwrap_or(ClusterHealth::Ok)
    }
}
