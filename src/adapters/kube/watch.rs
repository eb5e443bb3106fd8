//! The read model's changes as a stream of `ClusterChange::Refresh`: each says the snapshot
//! (read from the watches' stores, no list) is new. Changes close together are said once, and
//! the stream stops the watches no view has needed for their expiry.

use std::time::{Duration, Instant};

use mlops_core::{model::ClusterChange, ports::ChangeStream};

use super::KubeCluster;

/// Changes within this long of each other are said once (a re-list of thousands of objects is
/// one refresh, not thousands).
pub const COALESCE: Duration = Duration::from_millis(250);
/// How often watches no view needs are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

impl KubeCluster {
    /// A `Refresh` after each change of the read model (coalesced); the watches start with it.
    pub(super) fn watch_changes(&self) -> ChangeStream {
        let model = self.read_model();
        let rx = model.subscribe();
        let sweep = tokio::time::interval(SWEEP_EVERY);
        Box::pin(futures::stream::unfold(
            (model, rx, sweep),
            |(model, mut rx, mut sweep)| async move {
                loop {
                    tokio::select! {
                        changed = rx.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                            tokio::time::sleep(COALESCE).await;
                            rx.borrow_and_update();
                            return Some((ClusterChange::Refresh, (model, rx, sweep)));
                        }
                        _ = sweep.tick() => model.sweep(Instant::now()),
                    }
                }
            },
        ))
    }
}
