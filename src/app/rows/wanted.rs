//! Which data the screen on show needs, how often each source is refreshed, and how old the live
//! data on screen is (for the status bar's staleness notice).

use chrono::{DateTime, Duration, Utc};

use crate::app::{feeds::Source, state::App};

/// How many times the refresh interval registry data waits, and the least it waits.
const REGISTRY_REFRESH_TIMES: i32 = 6;
const REGISTRY_REFRESH_LEAST: Duration = Duration::seconds(30);

/// The sources the current screen (and the status bar) needs: the cluster always, then what
/// the screen's view model asks for.
pub fn wanted(app: &App) -> Vec<Source> {
    let mut v = vec![Source::Cluster];
    let screen = app.screen();
    super::model(&screen.kind).wanted(app, screen, &mut v);
    v
}

/// How often a source is refreshed: live data at the refresh interval, registry data less often,
/// a finished run's metrics once (`None`).
pub fn period(app: &App, s: &Source) -> Option<Duration> {
    match s {
        Source::Cluster
        | Source::Gpus
        | Source::Drift
        | Source::Audit
        | Source::Serving
        | Source::Alerts
        | Source::Series(_) => Some(app.prefs.refresh),
        Source::Experiments
        | Source::Models
        | Source::Runs(_)
        | Source::Run(_)
        | Source::LoggedModels(..)
        | Source::Histories(..) => {
            Some((app.prefs.refresh * REGISTRY_REFRESH_TIMES).max(REGISTRY_REFRESH_LEAST))
        }
        Source::RunMetrics(_) | Source::RunsPage(..) => None,
    }
}

/// When the oldest live data the current screen shows was fetched.
pub fn oldest_live_update(app: &App) -> Option<DateTime<Utc>> {
    wanted(app)
        .iter()
        .filter(|s| {
            matches!(
                s,
                Source::Cluster
                    | Source::Gpus
                    | Source::Drift
                    | Source::Audit
                    | Source::Serving
                    | Source::Alerts
                    | Source::Series(_)
            )
        })
        .filter_map(|s| app.feeds.updated(s))
        .min()
}

/// Whether the live data on screen is older than three refresh periods.
pub fn any_stale(app: &App) -> bool {
    oldest_live_update(app).is_some_and(|u| app.now - u >= app.prefs.refresh * 3)
}

/// The watches behind the cluster's data that are in trouble (reconnecting or forbidden), as
/// the last snapshot says: the status bar names them.
pub fn watch_trouble(app: &App) -> Vec<&mlops_core::model::WatchHealth> {
    use mlops_core::model::WatchState;
    app.feeds.cluster.data.as_ref().map_or_else(Vec::new, |s| {
        s.watches
            .iter()
            .filter(|w| {
                matches!(
                    w.state,
                    WatchState::Reconnecting { .. } | WatchState::Forbidden { .. }
                )
            })
            .collect()
    })
}
