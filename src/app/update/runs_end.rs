//! `end` in the Runs view goes to the last run of the search, not the last one loaded: MLflow
//! has no "last page", so the pages are read one after the other — each asked for as the one
//! before arrives, because the selection follows the end of what is loaded — until the server
//! has no more. The status bar counts the runs read so far; any key stops it. Memory stays as
//! bounded as when scrolling: the window (`feeds::RUNS_WINDOW_PAGES`) drops the pages far
//! behind on the way. Owns `RunsState::to_the_end`; reads the feeds, never fetches itself.

use crossterm::event::{KeyCode, KeyEvent};

use super::navigation::{clamp_selection, select};
use crate::app::{
    feeds::{RunList, Source},
    rows,
    state::App,
};

/// `end` on a Runs screen: on to the last run if the search has pages not held after the
/// last one that is (the selection is already on the last row loaded).
pub(super) fn start(app: &mut App) {
    if app.overlay.is_some() {
        return;
    }
    let Some(key) = rows::runs_key(app.screen()) else {
        return;
    };
    let Some(list) = app.feeds.runs.get(&key).and_then(|f| f.data.as_ref()) else {
        return;
    };
    if list.following().is_none() {
        return;
    }
    let so_far = through(list);
    app.runs.to_the_end = Some(key);
    progress(app, so_far);
}

/// A page of runs came back (`failed`: it did not load, or the server refused it): on the way
/// to the end, the selection goes to the last row, and either the next page is on its way
/// (the screen wants it, the selection being at the end) or this was the last.
pub(super) fn arrived(app: &mut App, source: &Source, failed: bool) {
    let (Source::Runs(k) | Source::RunsPage(k, _)) = source else {
        return;
    };
    if app.runs.to_the_end.as_ref() != Some(k) {
        return;
    }
    if rows::runs_key(app.screen()).as_ref() != Some(k) {
        // The screen on show is another one now: nothing to go to the end of.
        app.runs.to_the_end = None;
        return;
    }
    let Some((so_far, more)) = app
        .feeds
        .runs
        .get(k)
        .and_then(|f| f.data.as_ref())
        .map(|l| (through(l), l.following().is_some()))
    else {
        return;
    };
    if failed {
        app.runs.to_the_end = None;
        app.warn(format!(
            "stopped loading runs at {so_far}: a page did not load (end tries again)"
        ));
        return;
    }
    let len = rows::len(app, app.screen());
    if len > 0 {
        select(app, len - 1);
        clamp_selection(app);
    }
    if more {
        progress(app, so_far);
    } else {
        app.runs.to_the_end = None;
        app.info(format!("the last run: {so_far} runs"));
    }
    app.dirty = true;
}

/// A key while the runs are being read: it stops that. `esc` does nothing more (it would
/// otherwise leave the Runs screen); true when the key is spent.
pub(super) fn key(app: &mut App, key: &KeyEvent) -> bool {
    let Some(k) = app.runs.to_the_end.take() else {
        return false;
    };
    let so_far = app
        .feeds
        .runs
        .get(&k)
        .and_then(|f| f.data.as_ref())
        .map_or(0, through);
    app.info(format!("stopped loading runs at {so_far}"));
    app.dirty = true;
    key.code == KeyCode::Esc
}

/// The runs of the search up to the last one held (those dropped before it included).
fn through(list: &RunList) -> usize {
    list.skipped() + list.runs.len()
}

fn progress(app: &mut App, so_far: usize) {
    app.info(format!("loading all runs… {so_far} so far (any key stops)"));
    app.dirty = true;
}
