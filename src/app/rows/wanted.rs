//! Which data the screen on show needs, how often each source is refreshed, and how old the live
//! data on screen is (for the status bar's staleness notice).

use chrono::{DateTime, Duration, Utc};

use super::lineage::run_id_of;
use crate::app::{
    feeds::{RunList, Source},
    screens::{RawOf, ScreenKind},
    state::App,
};

/// The sources the current screen (and the status bar) needs.
pub fn wanted(app: &App) -> Vec<Source> {
    let mut v = vec![Source::Cluster];
    match &app.screen().kind {
        ScreenKind::Overview => v.extend([Source::Gpus, Source::Drift, Source::Models]),
        ScreenKind::Experiments
        | ScreenKind::Raw {
            of: RawOf::Experiment(_),
            ..
        } => {
            v.push(Source::Experiments);
        }
        ScreenKind::Runs { .. } => {
            let screen = app.screen();
            if let Some(key) = super::runs_key(screen) {
                v.push(Source::Runs(key.clone()));
                // The next page once the selection comes within a screenful of the end of
                // what is held, the page before once it comes within a screenful of the start:
                // scrolling reads pages as it goes, never all at once.
                let list = app.feeds.runs.get(&key).and_then(|f| f.data.as_ref());
                let near = app.list_height();
                if let Some(token) = list.and_then(RunList::following)
                    && screen.selected + near >= super::runs(app, screen).len()
                {
                    v.push(Source::RunsPage(key.clone(), token.to_string()));
                }
                if let Some(token) = list.and_then(RunList::previous)
                    && screen.selected < near
                {
                    v.push(Source::RunsPage(key, token.to_string()));
                }
            }
        }
        ScreenKind::RunDetail { run_id, .. } => {
            v.push(Source::Run(run_id.clone()));
            v.push(Source::RunMetrics(run_id.clone()));
            // The models it logged, once the run (and so its experiment) is known.
            if let Some(run) = super::lineage::find_run(app, run_id) {
                v.push(Source::LoggedModels(
                    run.experiment_id.clone(),
                    run_id.clone(),
                ));
            }
        }
        ScreenKind::Compare { runs, .. } => {
            v.extend(runs.iter().map(|id| Source::Run(id.clone())));
            // The chart's metric: one call for every run's sampled history of it.
            if let Some(metric) = super::compare_chart_metric(app, app.screen()) {
                v.push(Source::Histories(metric, runs.clone()));
            }
        }
        ScreenKind::Raw {
            of: RawOf::Comparison(runs),
            ..
        } => v.extend(runs.iter().map(|id| Source::Run(id.clone()))),
        // A promotion's preview names the champion alias: have the registry loaded.
        ScreenKind::Lineage
        | ScreenKind::Rollouts
        | ScreenKind::Raw {
            of: RawOf::Version { .. },
            ..
        } => {
            v.push(Source::Models);
        }
        ScreenKind::LineageGraph { model, version }
        | ScreenKind::VersionDetail { model, version } => {
            v.push(Source::Models);
            if let Some(run) = run_id_of(app, model, *version) {
                v.push(Source::Run(run));
            }
        }
        ScreenKind::DatasetDetail { model, version, .. }
        | ScreenKind::Raw {
            of: RawOf::Dataset { model, version, .. },
            ..
        } => {
            v.extend([Source::Models, Source::Drift]);
            if let Some(run) = run_id_of(app, model, *version) {
                v.push(Source::Run(run));
            }
        }
        ScreenKind::Drift
        | ScreenKind::DriftDetail(_)
        | ScreenKind::Raw {
            of: RawOf::Drift(_),
            ..
        } => {
            v.push(Source::Drift);
        }
        ScreenKind::Gpus
        | ScreenKind::GpuDetail { .. }
        | ScreenKind::PodDetail { .. }
        | ScreenKind::Raw {
            of: RawOf::Gpu { .. },
            ..
        } => v.push(Source::Gpus),
        ScreenKind::RolloutDetail(k) => {
            v.push(Source::Series(k.clone()));
            v.push(Source::Models);
        }
        ScreenKind::Audit
        | ScreenKind::AuditEntry(_)
        | ScreenKind::Raw {
            of: RawOf::AuditEntry(_),
            ..
        } => {
            v.push(Source::Audit);
        }
        ScreenKind::Raw {
            of: RawOf::Run(id), ..
        } => v.push(Source::Run(id.clone())),
        ScreenKind::Raw {
            of: RawOf::Rollout(_) | RawOf::Pod { .. },
            ..
        }
        | ScreenKind::Messages { .. } => {}
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
        Source::Experiments
        | Source::Models
        | Source::Runs(_)
        | Source::Run(_)
        | Source::LoggedModels(..)
        | Source::Histories(..) => Some((app.refresh * 6).max(Duration::seconds(30))),
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
