//! The Experiments view's model: the experiments (its list and columns), an experiment's runs
//! read page by page as the list scrolls (`run_columns` says which metrics and params are
//! columns), a run's detail, and the comparison of marked runs (`compare`).

pub mod compare;
pub mod run_columns;

use std::hash::{DefaultHasher, Hash, Hasher};

use mlops_core::model::{Experiment, Run};

use self::compare::{compare_chart_metric, compare_rows};
use super::{
    Keys, SortKey, ViewModel, field_names, identity, list_keys,
    memo::List,
    sort_keys,
    table::{Column, Elide, Value, Width},
};
use crate::app::{
    feeds::{Feed, RunList, RunsKey, Source},
    screens::{RawOf, Screen, ScreenKind},
    state::App,
};

fn list<'a, 'c>(app: &'a App, columns: &'c [Column<Experiment>]) -> List<'a, 'c, Experiment> {
    List {
        name: "experiments",
        data: app.feeds.experiments.version,
        extra: 0,
        items: app.feeds.experiments.data.as_deref().unwrap_or_default(),
        columns,
        fields: &[],
        // The list's own order: the most recently updated first.
        order: Some(&|all: &[Experiment]| {
            let mut order: Vec<u32> = (0..u32::try_from(all.len()).unwrap_or(u32::MAX)).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(all[i as usize].last_update));
            order
        }),
    }
}

/// The experiments `screen` lists, filtered and sorted.
pub fn experiments<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Experiment> {
    let columns = columns();
    let list = list(app, &columns);
    list.rows(&app.memo, &screen.filter, screen.sort)
}

/// The runs search a Runs screen shows: its experiment, its server filter (`f`), and the
/// column it is sorted by as MLflow's order. The server sorts, so the order holds across pages
/// not loaded yet; unsorted, the newest first.
pub fn runs_key(screen: &Screen) -> Option<RunsKey> {
    let ScreenKind::Runs {
        experiment_id,
        filter,
        ..
    } = &screen.kind
    else {
        return None;
    };
    let order_by = screen
        .sort
        .and_then(|s| {
            run_columns::run_order(s.field)
                .map(|k| format!("{k} {}", if s.descending { "DESC" } else { "ASC" }))
        })
        .into_iter()
        .collect();
    Some(RunsKey {
        experiment_id: experiment_id.clone(),
        filter: filter.trim().to_string(),
        order_by,
    })
}

/// What the Runs screen's search has loaded so far.
pub fn run_list<'a>(app: &'a App, screen: &Screen) -> Option<&'a Feed<RunList>> {
    runs_key(screen).and_then(|k| app.feeds.runs.get(&k))
}

/// Every loaded run of the Runs screen, in the server's order, before `/` narrows them.
pub fn loaded_runs_of<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Run> {
    run_list(app, screen)
        .and_then(|f| f.data.as_ref())
        .map_or_else(Vec::new, |list| list.runs.iter().collect())
}

/// The runs list of a Runs screen: the loaded runs in the server's order, described by the
/// columns on show (which the memo's key follows: choosing columns changes what `/` searches).
fn runs_list<'a, 'c>(
    app: &'a App,
    screen: &Screen,
    columns: &'c [Column<Run>],
) -> List<'a, 'c, Run> {
    let feed = run_list(app, screen);
    let mut chosen = DefaultHasher::new();
    for c in columns {
        c.field.hash(&mut chosen);
    }
    List {
        name: "runs",
        data: feed.map_or(0, |f| f.version),
        extra: chosen.finish(),
        items: feed
            .and_then(|f| f.data.as_ref())
            .map_or(&[][..], |l| l.runs.as_slice()),
        columns,
        fields: &[],
        order: None,
    }
}

/// The loaded runs of the Runs screen in the server's order; `/` narrows them (the server
/// sorts, so the list is never sorted here).
pub fn runs<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Run> {
    let columns = run_columns::columns(app, screen);
    let list = runs_list(app, screen, &columns);
    list.rows(&app.memo, &screen.filter, None)
}

/// The Runs screen's wanted pages: the next page once the selection comes within a screenful
/// of the end of what is held, the page before once it comes within a screenful of the start —
/// scrolling reads pages as it goes, never all at once.
fn runs_wanted(app: &App, screen: &Screen, out: &mut Vec<Source>) {
    let Some(key) = runs_key(screen) else {
        return;
    };
    out.push(Source::Runs(key.clone()));
    let list = app.feeds.runs.get(&key).and_then(|f| f.data.as_ref());
    let near = app.list_height();
    if let Some(token) = list.and_then(RunList::following)
        && screen.selected + near >= runs(app, screen).len()
    {
        out.push(Source::RunsPage(key.clone(), token.to_string()));
    }
    if let Some(token) = list.and_then(RunList::previous)
        && screen.selected < near
    {
        out.push(Source::RunsPage(key, token.to_string()));
    }
}

/// The Experiments view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        match &screen.kind {
            ScreenKind::Root(_) => {
                let columns = columns();
                list_keys(app, screen, &list(app, &columns), |e| identity(&e.id))
            }
            ScreenKind::Runs { .. } => {
                let columns = run_columns::columns(app, screen);
                list_keys(app, screen, &runs_list(app, screen, &columns), |r| {
                    identity(&r.id)
                })
            }
            ScreenKind::Compare { .. } => Keys::of(
                compare_rows(app, screen)
                    .iter()
                    .map(|r| identity((&r.kind, &r.name)))
                    .collect(),
            ),
            _ => Keys::default(),
        }
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        let i = screen.selected;
        match &screen.kind {
            ScreenKind::Root(_) => experiments(app, screen).get(i).map(|e| ScreenKind::Runs {
                experiment_id: e.id.clone(),
                name: e.name.clone(),
                filter: String::new(),
            }),
            ScreenKind::Runs { experiment_id, .. } => {
                runs(app, screen).get(i).map(|r| ScreenKind::RunDetail {
                    experiment_id: experiment_id.clone(),
                    run_id: r.id.clone(),
                    name: r.name.clone(),
                })
            }
            _ => None,
        }
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        let i = screen.selected;
        match &screen.kind {
            ScreenKind::Root(_) => experiments(app, screen)
                .get(i)
                .map(|e| RawOf::Experiment(e.id.clone())),
            ScreenKind::Runs { .. } => runs(app, screen).get(i).map(|r| RawOf::Run(r.id.clone())),
            ScreenKind::RunDetail { run_id, .. } => Some(RawOf::Run(run_id.clone())),
            ScreenKind::Compare { runs, .. } => Some(RawOf::Comparison(runs.clone())),
            _ => None,
        }
    }

    fn sortable(&self, app: &App, screen: &Screen) -> Vec<SortKey> {
        match &screen.kind {
            ScreenKind::Root(_) => sort_keys(&columns()),
            ScreenKind::Runs { .. } => sort_keys(&run_columns::columns(app, screen)),
            _ => Vec::new(),
        }
    }

    fn fields(&self, app: &App, screen: &Screen) -> Vec<&'static str> {
        match &screen.kind {
            ScreenKind::Root(_) => field_names(&columns(), &[]),
            ScreenKind::Runs { .. } => field_names(&run_columns::columns(app, screen), &[]),
            _ => Vec::new(),
        }
    }

    fn wanted(&self, app: &App, screen: &Screen, out: &mut Vec<Source>) {
        match &screen.kind {
            ScreenKind::Root(_) => out.push(Source::Experiments),
            ScreenKind::Runs { .. } => runs_wanted(app, screen, out),
            ScreenKind::RunDetail { run_id, .. } => {
                out.push(Source::Run(run_id.clone()));
                out.push(Source::RunMetrics(run_id.clone()));
                // The models it logged, once the run (and so its experiment) is known.
                if let Some(run) = super::lineage::find_run(app, run_id) {
                    out.push(Source::LoggedModels(
                        run.experiment_id.clone(),
                        run_id.clone(),
                    ));
                }
            }
            ScreenKind::Compare { runs, .. } => {
                out.extend(runs.iter().map(|id| Source::Run(id.clone())));
                // The chart's metric: one call for every run's sampled history of it.
                if let Some(metric) = compare_chart_metric(app, screen) {
                    out.push(Source::Histories(metric, runs.clone()));
                }
            }
            _ => {}
        }
    }
}

/// The columns of the experiments list.
pub fn columns() -> Vec<Column<Experiment>> {
    vec![
        Column {
            field: "name",
            header: "EXPERIMENT",
            sort_key: Some('N'),
            priority: 0,
            width: Width::Flex { min: 16, max: 0 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.name.clone())),
        },
        Column {
            field: "id",
            header: "ID",
            sort_key: Some('I'),
            priority: 3,
            width: Width::Fixed(6),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.id.clone())),
        },
        Column {
            field: "runs",
            header: "RUNS",
            sort_key: Some('R'),
            priority: 1,
            width: Width::Fixed(6),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|e| match e.run_count {
                Some(n) => Value::number(n as f64, n.to_string()),
                None => Value::text("?"),
            }),
        },
        Column {
            field: "updated",
            header: "UPDATED",
            sort_key: Some('U'),
            priority: 2,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::time(e.last_update)),
        },
        Column {
            field: "tags",
            header: "TAGS",
            sort_key: None,
            priority: 4,
            width: Width::Flex { min: 10, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|e| {
                Value::text(
                    e.tags
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }),
        },
    ]
}
