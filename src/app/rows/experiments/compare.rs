//! The comparison of marked runs (the Compare view): worked out once after an action for the
//! frames drawn until the next (`RunsState::compared`), its rows, and the metric it charts.

use std::borrow::Cow;

use mlops_core::{
    compare::{Comparison, Row},
    model::Run,
};

use crate::app::{
    rows::lineage,
    screens::{RawOf, Screen, ScreenKind},
    state::App,
};

/// The runs `ids` as loaded (a run not loaded yet is left out until it is).
fn loaded_runs<'a>(app: &'a App, ids: &[String]) -> Vec<&'a Run> {
    ids.iter()
        .filter_map(|id| {
            lineage::find_run(app, id).or_else(|| app.runs.marks.iter().find(|m| m.id == *id))
        })
        .collect()
}

/// The comparison of the runs `ids`; `None` until every one has loaded. Drawing a frame asks
/// for it several times (rows, keys, chart, table): the one worked out after the last action
/// (`RunsState::compared`) is used when it is of these runs.
pub fn comparison_of<'a>(app: &'a App, ids: &[String]) -> Option<Cow<'a, Comparison>> {
    if let Some((cached, c)) = &app.runs.compared
        && cached == ids
    {
        return Some(Cow::Borrowed(c));
    }
    compare_fresh(app, ids).map(Cow::Owned)
}

fn compare_fresh(app: &App, ids: &[String]) -> Option<Comparison> {
    let loaded: Vec<Run> = loaded_runs(app, ids).into_iter().cloned().collect();
    (loaded.len() == ids.len() && !loaded.is_empty())
        .then(|| Comparison::of(&loaded, &app.prefs.directions))
}

/// The comparison the screen on show needs, worked out once after an action for the frames
/// drawn until the next one; `None` off the Compare screen (or its raw JSON).
pub fn comparison_to_keep(app: &App) -> Option<(Vec<String>, Comparison)> {
    let ids = match &app.screen().kind {
        ScreenKind::Compare { runs, .. }
        | ScreenKind::Raw {
            of: RawOf::Comparison(runs),
            ..
        } => runs.clone(),
        _ => return None,
    };
    let c = compare_fresh(app, &ids)?;
    Some((ids, c))
}

/// The comparison a Compare screen shows; `None` until its runs have loaded.
pub fn comparison<'a>(app: &'a App, screen: &Screen) -> Option<Cow<'a, Comparison>> {
    match &screen.kind {
        ScreenKind::Compare { runs, .. } => comparison_of(app, runs),
        _ => None,
    }
}

/// The rows of a Compare screen: params then metrics, only the differing ones when asked.
pub fn compare_rows(app: &App, screen: &Screen) -> Vec<Row> {
    let ScreenKind::Compare { diff_only, .. } = &screen.kind else {
        return Vec::new();
    };
    comparison(app, screen).map_or_else(Vec::new, |c| c.rows(*diff_only))
}

/// The metric a Compare screen charts: the selected row's, or the first metric when a param is
/// selected.
pub fn compare_chart_metric(app: &App, screen: &Screen) -> Option<String> {
    let rows = compare_rows(app, screen);
    rows.get(screen.selected)
        .filter(|r| r.kind == "metric")
        .or_else(|| rows.iter().find(|r| r.kind == "metric"))
        .map(|r| r.name.clone())
}
