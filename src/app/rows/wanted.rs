//! Which data the screen on show needs, how often each source is refreshed, and how old the live
//! data on screen is (for the status bar's staleness notice).

use chrono::{DateTime, Duration, Utc};

use super::lineage::run_id_of;
use crate::app::{feeds::Source, screens::ScreenKind, state::App};

/// The sources the current screen (and the status bar) needs.
pub fn wanted(app: &App) -> Vec<Source> {
    let mut v = vec![Source::Cluster];
    match &app.screen().kind {
        ScreenKind::Overview => v.extend([Source::Gpus, Source::Drift]),
        ScreenKind::Experiments => v.push(Source::Experiments),
        ScreenKind::Runs { experiment_id, .. } => v.push(Source::Runs(experiment_id.clone())),
        ScreenKind::RunDetail {
            experiment_id,
            run_id,
            ..
        } => {
            v.push(Source::Runs(experiment_id.clone()));
            v.push(Source::RunMetrics(run_id.clone()));
        }
        ScreenKind::Lineage => v.push(Source::Models),
        ScreenKind::LineageGraph { model, version } => {
            v.push(Source::Models);
            if let Some(run) = run_id_of(app, model, *version) {
                v.push(Source::Run(run));
            }
        }
        ScreenKind::Drift | ScreenKind::DriftDetail { .. } => v.push(Source::Drift),
        ScreenKind::Gpus => v.push(Source::Gpus),
        ScreenKind::Rollouts => {}
        ScreenKind::RolloutDetail(k) => {
            v.push(Source::Series(k.clone()));
            v.push(Source::Models);
        }
        ScreenKind::Audit => v.push(Source::Audit),
    }
    v
}

/// How often a source is refreshed: live data at the refresh interval, registry data less often,
/// a finished run's metrics once (`None`).
pub fn period(app: &App, s: &Source) -> Option<Duration> {
    match s {
        Source::Cluster | Source::Gpus | Source::Drift | Source::Audit | Source::Series(_) => {
            Some(app.refresh)
        }
        Source::Experiments | Source::Models | Source::Runs(_) | Source::Run(_) => {
            Some((app.refresh * 6).max(Duration::seconds(30)))
        }
        Source::RunMetrics(_) => None,
    }
}

/// When the oldest live data the current screen shows was fetched.
pub fn oldest_live_update(app: &App) -> Option<DateTime<Utc>> {
    wanted(app)
        .iter()
        .filter(|s| {
            matches!(
                s,
                Source::Cluster | Source::Gpus | Source::Drift | Source::Audit | Source::Series(_)
            )
        })
        .filter_map(|s| app.feeds.updated(s))
        .min()
}

/// Whether the live data on screen is older than three refresh periods.
pub fn any_stale(app: &App) -> bool {
    oldest_live_update(app).is_some_and(|u| app.now - u >= app.refresh * 3)
}
