//! Data arriving and going stale: ticks, fetch results, changes pushed by watches.

use chrono::{DateTime, Utc};
use mlops_core::{audit::AuditLog, model::ClusterChange, rollout::RolloutRecord};

use super::{clamp_selection, commands::refresh_preview, force, message_expired};
use crate::app::{
    action::Effect,
    feeds::{Feed, Payload, RunList, RunsKey, Source, next_version},
    rows::{self, wanted::any_stale},
    screens::{Screen, ViewId},
    state::App,
};

/// One second passed: old messages go, ages on screen move on.
pub(super) fn tick(app: &mut App, now: DateTime<Utc>) {
    let before = app.now;
    app.now = now;
    if message_expired(app, now) {
        app.message = None;
        app.dirty = true;
    }
    // Ages on screen are shown in minutes or coarser, and staleness in seconds only when stale.
    if before.timestamp() / 60 != now.timestamp() / 60
        || any_stale(app)
        || !rows::wanted::watch_trouble(app).is_empty()
    {
        app.dirty = true;
    }
}

/// A fetch came back: store it (an error keeps the last good data) and fetch again if another
/// was asked for meanwhile.
pub(super) fn loaded(
    app: &mut App,
    source: &Source,
    result: Result<Payload, mlops_core::CoreError>,
    fx: &mut Vec<Effect>,
) {
    // The status bar shows staleness: new data that ends it must be drawn even if unchanged.
    let was_stale = any_stale(app);
    if let (Source::Audit, Ok(Payload::Audit(entries))) = (source, &result) {
        // Verifying the chain hashes every entry: once per load, not once per frame.
        app.audit_chain = Some(AuditLog::verify(entries).map_err(|e| e.to_string()));
    }
    let key = match source {
        Source::Runs(k) | Source::RunsPage(k, _) => Some(k.clone()),
        _ => None,
    };
    let skipped = |app: &App| {
        key.as_ref()
            .and_then(|k| app.feeds.runs.get(k))
            .and_then(|f| f.data.as_ref())
            .map_or(0, RunList::skipped)
    };
    let before = skipped(app);
    let selected = key
        .as_ref()
        .map(|k| selected_runs(app, k))
        .unwrap_or_default();
    // Under a `/` filter the list keeps every page it reads (see `Feeds::runs_hold_all`).
    app.feeds.runs_hold_all = key.as_ref().is_some_and(|k| {
        app.nav
            .stack
            .iter()
            .chain(app.nav.views.values().flatten())
            .any(|s| rows::runs_key(s).as_ref() == Some(k) && !s.filter.text().trim().is_empty())
    });
    let failed = matches!(&result, Err(_) | Ok(Payload::Runs(Err(_))));
    let (changed, requeue) = app.feeds.store(source, result, app.now);
    if skipped(app) != before {
        keep_runs_in_place(app, &selected);
    }
    if changed && matches!(source, Source::Serving | Source::Cluster) {
        rows::serving::reassemble(app);
    }
    if changed {
        clamp_selection(app);
        if matches!(source, Source::Models | Source::Cluster) {
            refresh_preview(app);
        }
        app.dirty = true;
    }
    if was_stale != any_stale(app) {
        app.dirty = true;
    }
    super::runs_end::arrived(app, source, failed);
    if requeue {
        force(app, source.clone(), fx);
    }
}

/// A screen on a runs list: where it is (its view's stack, or the one on show), its place in
/// that stack, the run it has selected and that run's row on screen.
type SelectedRun = (Option<ViewId>, usize, String, usize);

/// Every screen on the runs list `key`, with the run it has selected.
fn selected_runs(app: &App, key: &RunsKey) -> Vec<SelectedRun> {
    let on = |view: Option<ViewId>, screens: &[Screen]| -> Vec<SelectedRun> {
        screens
            .iter()
            .enumerate()
            .filter(|(_, s)| rows::runs_key(s).as_ref() == Some(key))
            .filter_map(|(i, s)| {
                let id = rows::runs(app, s).get(s.selected)?.id.clone();
                Some((view, i, id, s.selected.saturating_sub(s.offset)))
            })
            .collect()
    };
    let mut all = on(None, &app.nav.stack);
    for (view, screens) in &app.nav.views {
        all.extend(on(Some(*view), screens));
    }
    all
}

/// Pages of a runs list were dropped before what is held or read back in front of it: every
/// screen on that list keeps the same run selected, on the same row of the screen — counted in
/// the rows it shows, so a `/` filter on the loaded runs changes nothing.
fn keep_runs_in_place(app: &mut App, selected: &[SelectedRun]) {
    for (view, i, id, row) in selected {
        let screen = match view {
            None => app.nav.stack.get(*i),
            Some(v) => app.nav.views.get(v).and_then(|s| s.get(*i)),
        };
        let Some(at) = screen.and_then(|s| rows::runs(app, s).iter().position(|r| r.id == *id))
        else {
            continue;
        };
        let screen = match view {
            None => app.nav.stack.get_mut(*i),
            Some(v) => app.nav.views.get_mut(v).and_then(|s| s.get_mut(*i)),
        };
        if let Some(s) = screen {
            s.selected = at;
            s.offset = at.saturating_sub(*row);
            s.anchor = None;
        }
    }
    app.dirty = true;
}

/// Apply a change pushed by a watch to the last snapshot. Before the first snapshot there is
/// nothing to apply it to: the snapshot brings the same data.
pub(super) fn cluster_changed(app: &mut App, change: ClusterChange) {
    let Some(snap) = app.feeds.cluster.data.as_mut() else {
        return;
    };
    let same = |r: &RolloutRecord, cluster: &str, namespace: &str, name: &str| {
        r.cluster == cluster && r.namespace == namespace && r.name == name
    };
    let changed = match change {
        ClusterChange::Rollouts(mut all) => {
            all.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            let changed = snap.rollouts != all;
            snap.rollouts = all;
            changed
        }
        ClusterChange::Rollout(r) => {
            match snap
                .rollouts
                .iter()
                .position(|x| same(x, &r.cluster, &r.namespace, &r.name))
            {
                Some(i) if snap.rollouts[i] == *r => false,
                Some(i) => {
                    snap.rollouts[i] = *r;
                    true
                }
                None => {
                    let at = snap
                        .rollouts
                        .partition_point(|x| (&x.namespace, &x.name) < (&r.namespace, &r.name));
                    snap.rollouts.insert(at, *r);
                    true
                }
            }
        }
        ClusterChange::RolloutDeleted {
            cluster,
            namespace,
            name,
        } => {
            let before = snap.rollouts.len();
            snap.rollouts
                .retain(|x| !same(x, &cluster, &namespace, &name));
            snap.rollouts.len() != before
        }
        ClusterChange::Driver(d) => {
            let changed = snap.driver != d;
            snap.driver = d;
            changed
        }
        // Read again through a fetch (`update::dispatch`).
        ClusterChange::Refresh => false,
    };
    if changed {
        app.feeds.cluster.version = next_version();
        clamp_selection(app);
        app.dirty = true;
    }
}

/// A context or namespace switch finished: the cluster's data starts over from the new one.
pub(super) fn switched(app: &mut App, result: Result<String, String>, fx: &mut Vec<Effect>) {
    match result {
        Ok(describe) => {
            app.info(format!("now on {describe}"));
            app.backends.cluster = Some(describe);
            app.feeds.cluster = Feed::default();
            app.feeds.audit = Feed::default();
            app.feeds.series.clear();
            app.audit_chain = None;
            force(app, Source::Cluster, fx);
        }
        Err(e) => app.error(format!("switching failed: {e}")),
    }
    app.dirty = true;
}
