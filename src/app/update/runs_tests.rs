//! The Runs view over the demo registry, as a user drives it: pages read as the list scrolls,
//! the server's order and filter, marks, the comparison and its export.

use std::collections::BTreeSet;

use mlops_core::model::Run;

use crate::{
    app::{
        App, Payload,
        feeds::{RunList, RunsKey, Source},
        rows,
        screens::ScreenKind,
        state::Mode,
    },
    event_loop::Context,
    testing::{loaded_demo, press, type_text},
};

/// Every run of the experiment the Runs screen shows, as the registry holds them.
pub(super) fn all_runs(app: &App, ctx: &Context) -> Vec<Run> {
    let ScreenKind::Runs { experiment_id, .. } = &app.screen().kind else {
        panic!("not on the Runs screen");
    };
    let registry = ctx.registry.as_ref().expect("registry");
    futures::executor::block_on(registry.runs(experiment_id)).expect("runs")
}

pub(super) fn loaded(app: &App) -> usize {
    rows::run_list(app, app.screen())
        .and_then(|f| f.data.as_ref())
        .map_or(0, |l| l.runs.len())
}

pub(super) fn more(app: &App) -> bool {
    rows::run_list(app, app.screen())
        .and_then(|f| f.data.as_ref())
        .is_some_and(|l| l.next.is_some())
}

/// The demo's biggest experiment, its runs on screen.
pub(super) fn runs_screen() -> (App, Context) {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "2");
    // The experiment with the most runs: more than one page.
    let biggest = rows::experiments(&app, app.screen())
        .iter()
        .enumerate()
        .max_by_key(|(_, e)| e.run_count.unwrap_or(0))
        .map(|(i, _)| i)
        .expect("experiments");
    for _ in 0..biggest {
        press(&mut app, &ctx, "j");
    }
    press(&mut app, &ctx, "enter");
    (app, ctx)
}

#[test]
fn scrolling_reads_pages_as_it_goes_until_every_run_is_listed_once() {
    let (mut app, ctx) = runs_screen();
    let truth = all_runs(&app, &ctx);
    assert!(
        truth.len() > 200,
        "{} runs: want several pages",
        truth.len()
    );
    // The first page only, and the server says there is more.
    assert_eq!(loaded(&app), 100);
    assert!(more(&app));
    // A screenful down does not read another page yet.
    press(&mut app, &ctx, "pagedown");
    assert_eq!(loaded(&app), 100);
    // Near the end of what is loaded, the next page comes (a screenful at a time: `end`
    // reads every page, see below).
    let mut pages = vec![loaded(&app)];
    for _ in 0..1000 {
        press(&mut app, &ctx, "pagedown");
        if pages.last() != Some(&loaded(&app)) {
            pages.push(loaded(&app));
        }
        if !more(&app) {
            break;
        }
    }
    assert!(pages.len() >= 3, "pages: {pages:?}");
    assert!(
        pages.windows(2).all(|w| w[1] - w[0] <= 100),
        "one page at a time: {pages:?}"
    );
    let ids: Vec<&str> = rows::runs(&app, app.screen())
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids.len(), truth.len());
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        truth.iter().map(|r| r.id.as_str()).collect::<BTreeSet<_>>(),
        "each run exactly once"
    );
    // Newest first, across pages.
    let starts: Vec<_> = rows::runs(&app, app.screen())
        .iter()
        .map(|r| r.start)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn a_sort_key_orders_on_the_server_so_the_first_row_is_the_best_of_all_pages() {
    let (mut app, ctx) = runs_screen();
    let truth = all_runs(&app, &ctx);
    let lowest = truth
        .iter()
        .filter_map(|r| r.metrics.get("loss").copied())
        .fold(f64::INFINITY, f64::min);
    // The letter the help lists for the loss column.
    let (_, _, letter) = rows::sortable(&app, app.screen())
        .into_iter()
        .find(|(field, _, _)| *field == "metrics.loss")
        .expect("loss is a column");
    let letter = letter.to_string();
    press(&mut app, &ctx, &letter);
    let first = rows::runs(&app, app.screen())[0].metrics["loss"];
    assert!(
        (first - lowest).abs() < 1e-12,
        "first {first}, lowest {lowest}"
    );
    assert_eq!(loaded(&app), 100, "still one page");
    press(&mut app, &ctx, &letter);
    let highest = truth
        .iter()
        .filter_map(|r| r.metrics.get("loss").copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let first = rows::runs(&app, app.screen())[0].metrics["loss"];
    assert!((first - highest).abs() < 1e-12);
}

#[test]
fn the_server_filters_and_a_filter_it_refuses_is_said_in_place_with_the_registry_up() {
    let (mut app, ctx) = runs_screen();
    let truth = all_runs(&app, &ctx);
    let want = truth
        .iter()
        .filter(|r| r.metrics.get("loss").is_some_and(|l| *l < 0.3))
        .count();
    assert!(want > 0 && want < truth.len());
    press(&mut app, &ctx, "f");
    assert_eq!(app.mode(), Mode::Prompt);
    type_text(&mut app, &ctx, "metrics.loss < 0.3");
    press(&mut app, &ctx, "enter");
    for _ in 0..50 {
        press(&mut app, &ctx, "end");
    }
    let shown = rows::runs(&app, app.screen());
    assert_eq!(shown.len(), want);
    assert!(shown.iter().all(|r| r.metrics["loss"] < 0.3));

    // A filter the server refuses: its message, no rows, and the registry is not "down".
    press(&mut app, &ctx, "f");
    press(&mut app, &ctx, "ctrl-u");
    type_text(&mut app, &ctx, "metrics.loss <<< 1");
    press(&mut app, &ctx, "enter");
    let list = rows::run_list(&app, app.screen())
        .and_then(|f| f.data.as_ref())
        .expect("an answer");
    assert!(
        list.rejected
            .as_ref()
            .is_some_and(|m| m.to_string().contains("Invalid clause")),
        "{list:?}"
    );
    assert!(rows::runs(&app, app.screen()).is_empty());
    assert_eq!(
        app.backend_error(crate::app::feeds::Backend::Registry),
        None
    );

    // An empty filter: every run again; esc leaves the filter as it was.
    press(&mut app, &ctx, "f");
    press(&mut app, &ctx, "ctrl-u");
    press(&mut app, &ctx, "enter");
    assert_eq!(loaded(&app), 100);
    press(&mut app, &ctx, "f");
    type_text(&mut app, &ctx, "params.optimizer = 'sgd'");
    press(&mut app, &ctx, "esc");
    assert_eq!(app.mode(), Mode::Normal);
    assert!(matches!(&app.screen().kind, ScreenKind::Runs { filter, .. } if filter.is_empty()));
}

#[test]
fn marked_runs_compare_side_by_side_and_export_to_every_format() {
    let (mut app, ctx) = runs_screen();
    press(&mut app, &ctx, "c");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("mark 2 to 20")),
        "{:?}",
        app.message
    );
    let picked: Vec<String> = rows::runs(&app, app.screen())
        .iter()
        .take(3)
        .map(|r| r.id.clone())
        .collect();
    for _ in 0..3 {
        press(&mut app, &ctx, "space");
    }
    assert_eq!(
        app.runs
            .marks
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        picked
    );
    // space again on a marked run unmarks it.
    press(&mut app, &ctx, "k");
    press(&mut app, &ctx, "space");
    assert_eq!(app.runs.marks.len(), 2);
    press(&mut app, &ctx, "k");
    press(&mut app, &ctx, "space");
    assert_eq!(app.runs.marks.len(), 3);

    press(&mut app, &ctx, "c");
    let ScreenKind::Compare {
        runs, diff_only, ..
    } = app.screen().kind.clone()
    else {
        panic!("compare: {:?}", app.screen().kind)
    };
    assert!(!diff_only);
    assert_eq!(runs.len(), 3);
    let c = rows::comparison(&app, app.screen())
        .expect("loaded")
        .into_owned();
    let every = rows::len(&app, app.screen());
    press(&mut app, &ctx, "=");
    let differing = rows::len(&app, app.screen());
    assert_eq!(
        differing,
        c.differing_params.len() + c.differing_metrics.len()
    );
    assert!(differing <= every);
    // The charted metric's history of every compared run, in one call.
    let metric = rows::compare_chart_metric(&app, app.screen()).expect("a metric");
    let histories = app.feeds.histories[&(metric, runs.clone())]
        .data
        .clone()
        .expect("histories");
    assert_eq!(
        histories
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
        runs
    );
    assert!(histories.iter().all(|(_, points)| !points.is_empty()));

    let dir = tempfile::tempdir().expect("tempdir");
    for (file, check) in [
        ("cmp.csv", "kind,name,"),
        ("cmp.md", "| | name |"),
        ("cmp.json", "\"differing_params\""),
    ] {
        let path = dir.path().join(file);
        press(&mut app, &ctx, "e");
        assert_eq!(app.mode(), Mode::Prompt);
        press(&mut app, &ctx, "ctrl-u");
        type_text(&mut app, &ctx, &path.display().to_string());
        press(&mut app, &ctx, "enter");
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(text.contains(check), "{file}: {text}");
        assert!(
            app.message
                .as_ref()
                .is_some_and(|m| m.text.contains("exported")),
            "{:?}",
            app.message
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cmp.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(
        json["differing_params"].as_array().expect("array").len(),
        c.differing_params.len()
    );
    let csv = std::fs::read_to_string(dir.path().join("cmp.csv")).expect("csv");
    assert_eq!(
        csv.lines().next(),
        Some(format!("kind,name,{}", runs.join(",")).as_str())
    );
    // Diff-only: the CSV holds only the differing rows.
    assert_eq!(csv.lines().count(), 1 + differing);

    // The prompt offers the last path exported to (it always offered comparison.csv).
    press(&mut app, &ctx, "e");
    let offered = match &app.overlay {
        Some(crate::app::state::Overlay::Prompt(p)) => p.input.lines().join(""),
        other => panic!("a prompt: {other:?}"),
    };
    assert_eq!(offered, dir.path().join("cmp.json").display().to_string());
    press(&mut app, &ctx, "esc");
    // A path without a known extension is refused; a folder that does not exist is made (UX
    // walk L: `exports/cmp.md` failed); one that cannot be made is an error naming it, and
    // nothing is left behind.
    press(&mut app, &ctx, "e");
    press(&mut app, &ctx, "ctrl-u");
    type_text(&mut app, &ctx, "cmp.txt");
    press(&mut app, &ctx, "enter");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains(".csv, .md or .json"))
    );
    let nested = dir.path().join("exports/q4/cmp.csv");
    press(&mut app, &ctx, "e");
    press(&mut app, &ctx, "ctrl-u");
    type_text(&mut app, &ctx, &nested.display().to_string());
    press(&mut app, &ctx, "enter");
    assert!(
        std::fs::read_to_string(&nested).is_ok_and(|t| t.starts_with("kind,name,")),
        "{:?}",
        app.message
    );
    // Under a file, no folder can be made.
    let impossible = dir.path().join("cmp.csv/inner/cmp.csv");
    press(&mut app, &ctx, "e");
    press(&mut app, &ctx, "ctrl-u");
    type_text(&mut app, &ctx, &impossible.display().to_string());
    press(&mut app, &ctx, "enter");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("cannot make the folder")),
        "{:?}",
        app.message
    );
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 4);

    // p: the params against the metric, and back.
    press(&mut app, &ctx, "p");
    assert!(matches!(
        app.screen().kind,
        ScreenKind::Compare { parallel: true, .. }
    ));
    let c = rows::comparison(&app, app.screen())
        .expect("loaded")
        .into_owned();
    let metric = rows::compare_chart_metric(&app, app.screen()).expect("a metric");
    let p = c.parallel(&metric).expect("parallel");
    assert_eq!(p.axes.len(), c.differing_params.len() + 1);
    assert_eq!(p.lines.len(), runs.len());
    press(&mut app, &ctx, "p");
    assert!(matches!(
        app.screen().kind,
        ScreenKind::Compare {
            parallel: false,
            scatter_x: None,
            ..
        }
    ));

    // x: the selected row is the scatter's x axis; x again on it, the histories.
    press(&mut app, &ctx, "home");
    let first = rows::compare_rows(&app, app.screen())[0].clone();
    press(&mut app, &ctx, "x");
    let want = first.field();
    assert!(
        matches!(&app.screen().kind, ScreenKind::Compare { scatter_x: Some(x), parallel: false, .. } if *x == want),
        "{:?}",
        app.screen().kind
    );
    press(&mut app, &ctx, "x");
    assert!(matches!(
        app.screen().kind,
        ScreenKind::Compare {
            scatter_x: None,
            ..
        }
    ));
    // p leaves the scatter for the parallel coordinates.
    press(&mut app, &ctx, "x");
    press(&mut app, &ctx, "p");
    assert!(matches!(
        app.screen().kind,
        ScreenKind::Compare {
            scatter_x: None,
            parallel: true,
            ..
        }
    ));
    press(&mut app, &ctx, "p");

    // `~/` is the home directory.
    if let Some(home) = std::env::var_os("HOME") {
        let name = format!("mlops-compare-test-{}.md", std::process::id());
        press(&mut app, &ctx, "e");
        press(&mut app, &ctx, "ctrl-u");
        type_text(&mut app, &ctx, &format!("~/{name}"));
        press(&mut app, &ctx, "enter");
        let written = std::path::PathBuf::from(home).join(&name);
        let text = std::fs::read_to_string(&written).expect("written under home");
        let _ = std::fs::remove_file(&written);
        assert!(text.starts_with("| | name |"), "{text}");
    }

    // y: the comparison as `mlops runs compare -o json`.
    press(&mut app, &ctx, "y");
    let doc =
        rows::details::raw_document(&app, &crate::app::screens::RawOf::Comparison(runs.clone()))
            .expect("raw");
    assert!(doc.contains("\"best\""));
}

#[test]
fn no_more_than_twenty_runs_are_marked() {
    let (mut app, ctx) = runs_screen();
    for _ in 0..25 {
        press(&mut app, &ctx, "space");
    }
    assert_eq!(app.runs.marks.len(), crate::app::state::MAX_MARKS);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("the most"))
    );
    press(&mut app, &ctx, "M");
    assert!(app.runs.marks.is_empty());
}

/// A refresh of the first page keeps the pages read after it (the user's scroll stays), takes
/// the first page's new values, and a page of a superseded list is dropped.
#[test]
fn a_refresh_keeps_later_pages_and_a_stale_page_is_dropped() {
    let (mut app, ctx) = runs_screen();
    for _ in 0..3 {
        press(&mut app, &ctx, "end");
    }
    let key: RunsKey = rows::runs_key(app.screen()).expect("key");
    let before: RunList = app.feeds.runs[&key].data.clone().expect("list");
    assert!(before.pages.len() > 1);
    let mut first = before.runs[..100].to_vec();
    first[0].name = "renamed".into();
    let now = app.now;
    let page = mlops_core::model::RunPage {
        runs: first,
        next_page_token: Some("100".into()),
    };
    app.feeds.begin(&Source::Runs(key.clone()), now, None, true);
    app.feeds.store(
        &Source::Runs(key.clone()),
        Ok(Payload::Runs(Ok(page.clone()))),
        now,
    );
    let after = app.feeds.runs[&key].data.clone().expect("list");
    assert_eq!(after.runs.len(), before.runs.len());
    assert_eq!(after.runs[0].name, "renamed");
    assert_eq!(after.next, before.next);
    // A page that starts where this list no longer continues is not appended.
    app.feeds.store(
        &Source::RunsPage(key.clone(), "7".into()),
        Ok(Payload::Runs(Ok(page))),
        now,
    );
    assert_eq!(
        app.feeds.runs[&key].data.as_ref().expect("list").runs.len(),
        before.runs.len()
    );
}

/// The fields of the Runs table's columns, as drawn.
fn column_fields(app: &App) -> Vec<&'static str> {
    rows::experiments::run_columns::columns(app, app.screen())
        .iter()
        .map(|c| c.field)
        .collect()
}

#[test]
fn o_chooses_the_metrics_and_params_shown_and_they_sort_on_the_server() {
    let (mut app, ctx) = runs_screen();
    let truth = all_runs(&app, &ctx);
    // Unchosen: the first page's metrics, and params that differ between its runs.
    let before = column_fields(&app);
    assert!(before.contains(&"metrics.loss"), "{before:?}");
    assert!(before.contains(&"params.learning_rate"), "{before:?}");
    press(&mut app, &ctx, "o");
    assert_eq!(app.mode(), Mode::Columns);
    let picker = app.column_picker().cloned().expect("open");
    // Every metric and param any loaded run has is offered, ticked when shown.
    let offered: BTreeSet<String> = picker.options.iter().map(|(f, _)| f.spec()).collect();
    for r in rows::loaded_runs_of(&app, app.screen()) {
        for k in r.params.keys() {
            assert!(offered.contains(&format!("params.{k}")), "params.{k}");
        }
    }
    for (f, on) in &picker.options {
        assert_eq!(*on, before.contains(&f.spec().as_str()), "{}", f.spec());
    }
    // Untick everything, tick n_estimators and loss, apply.
    for i in 0..picker.options.len() {
        if let Some(crate::app::state::Overlay::Columns(p)) = &mut app.overlay {
            p.selected = i;
        }
        if app.column_picker().expect("open").options[i].1 {
            press(&mut app, &ctx, "space");
        }
    }
    for want in ["params.n_estimators", "metrics.loss"] {
        let i = picker
            .options
            .iter()
            .position(|(f, _)| f.spec() == want)
            .expect(want);
        if let Some(crate::app::state::Overlay::Columns(p)) = &mut app.overlay {
            p.selected = i;
        }
        press(&mut app, &ctx, "space");
    }
    press(&mut app, &ctx, "enter");
    assert_eq!(app.mode(), Mode::Normal);
    assert_eq!(
        column_fields(&app),
        [
            "name",
            "status",
            "metrics.loss",
            "params.n_estimators",
            "user",
            "started"
        ]
    );
    // The new column sorts by its letter, on the server: the first row is the largest of all.
    let (_, header, letter) = rows::sortable(&app, app.screen())
        .into_iter()
        .find(|(f, _, _)| *f == "params.n_estimators")
        .expect("sortable");
    assert_eq!(header, "N_ESTIMATORS");
    press(&mut app, &ctx, &letter.to_string());
    press(&mut app, &ctx, &letter.to_string());
    let key = rows::runs_key(app.screen()).expect("key");
    assert_eq!(key.order_by, ["params.`n_estimators` DESC"]);
    // MLflow orders params as text: so does the check.
    let top = truth
        .iter()
        .filter_map(|r| r.params.get("n_estimators"))
        .max()
        .expect("some");
    assert_eq!(
        &rows::runs(&app, app.screen())[0].params["n_estimators"],
        top
    );
    // `/` filters the loaded runs by the chosen column by its name.
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "params.n_estimators:800");
    press(&mut app, &ctx, "enter");
    let shown = rows::runs(&app, app.screen());
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|r| r.params["n_estimators"] == "800"));
    assert!(rows::filter_problems(&app, app.screen()).is_empty());
    // Esc leaves the columns as they were.
    press(&mut app, &ctx, "o");
    press(&mut app, &ctx, "space");
    press(&mut app, &ctx, "esc");
    assert_eq!(column_fields(&app).len(), 6);
}

#[test]
fn configured_columns_are_the_default_and_o_outside_runs_says_where() {
    let (mut app, ctx) = runs_screen();
    app.prefs.default_run_columns = vec![mlops_core::model::RunField::Param("optimizer".into())];
    assert_eq!(
        column_fields(&app),
        ["name", "status", "params.optimizer", "user", "started"]
    );
    press(&mut app, &ctx, "esc");
    press(&mut app, &ctx, "o");
    assert_eq!(app.mode(), Mode::Normal);
    assert!(
        app.messages
            .back()
            .is_some_and(|m| m.text.contains("open an experiment's runs first")),
        "{:?}",
        app.messages.back()
    );
}

/// Memory stays bounded: past the window, pages scrolled far past are dropped, the selected
/// run stays selected, and scrolling back reads them again, in order, each run once.
#[test]
fn pages_far_behind_are_dropped_and_read_again_on_the_way_back() {
    let (mut app, ctx) = runs_screen();
    app.feeds.runs_window = 2;
    app.feeds.runs_window_rows = Some(0);
    let truth = all_runs(&app, &ctx);
    let list = |app: &App| {
        rows::run_list(app, app.screen())
            .and_then(|f| f.data.clone())
            .expect("list")
    };
    // Down a row at a time to the end: never more than two pages held, each run passes under
    // the selection once.
    let selected = |app: &App| {
        rows::runs(app, app.screen())[app.screen().selected]
            .id
            .clone()
    };
    let mut down = vec![selected(&app)];
    for _ in 0..truth.len() + 50 {
        press(&mut app, &ctx, "j");
        if down.last() != Some(&selected(&app)) {
            down.push(selected(&app));
        }
        assert!(loaded(&app) <= 200, "held {}", loaded(&app));
    }
    assert_eq!(down.len(), truth.len(), "each run once on the way down");
    assert_eq!(
        down.iter().collect::<BTreeSet<_>>(),
        truth.iter().map(|r| &r.id).collect::<BTreeSet<_>>()
    );
    let l = list(&app);
    assert_eq!(l.read(), truth.len(), "every run was read");
    assert!(l.skipped() > 0);
    assert_eq!(l.skipped() + l.runs.len(), truth.len());
    // Back up: pages dropped come back in front, the selected run stays selected, and the
    // runs pass in the same order.
    let mut up = vec![selected(&app)];
    for _ in 0..truth.len() + 50 {
        press(&mut app, &ctx, "k");
        if up.last() != Some(&selected(&app)) {
            up.push(selected(&app));
        }
        assert!(loaded(&app) <= 200, "held {}", loaded(&app));
    }
    up.reverse();
    assert_eq!(up, down, "the same runs in the same order");
    assert_eq!(list(&app).first, 0, "back at the first page");
    assert_eq!(app.screen().selected, 0);
}

/// The comparison is worked out once after an action for the frames drawn until the next, and
/// again when the compared runs' data changes: never a stale one.
#[test]
fn the_comparison_kept_for_drawing_follows_the_data() {
    let (mut app, ctx) = runs_screen();
    for _ in 0..2 {
        press(&mut app, &ctx, "space");
    }
    press(&mut app, &ctx, "c");
    let ScreenKind::Compare { runs, .. } = app.screen().kind.clone() else {
        panic!("compare")
    };
    let (ids, kept) = app.runs.compared.clone().expect("kept after the action");
    assert_eq!(ids, runs);
    assert!(matches!(
        rows::comparison(&app, app.screen()),
        Some(std::borrow::Cow::Borrowed(_))
    ));
    // A compared run comes back with another loss: the next comparison has it.
    let mut run = app
        .feeds
        .run
        .get(&runs[0])
        .and_then(|f| f.data.clone())
        .expect("loaded");
    run.metrics.insert("loss".into(), 123.0);
    crate::app::update(
        &mut app,
        crate::app::Action::Loaded(
            Source::Run(runs[0].clone()),
            Ok(Box::new(Payload::Run(run))),
        ),
    );
    let (_, now) = app.runs.compared.clone().expect("kept");
    assert_ne!(now, kept);
    assert!((now.runs[0].metrics["loss"] - 123.0).abs() < 1e-12);
    // Off the Compare screen nothing is kept.
    press(&mut app, &ctx, "esc");
    assert!(app.runs.compared.is_none());
}

/// The same with a `/` filter on the loaded runs: scrolled far enough to drop pages first,
/// then filtered, the selection stays on its run as pages come back (counted in the rows the
/// filter leaves), nothing more is dropped while the filter narrows the list (too few rows
/// could leave the selection near both ends and read pages back and forth forever), and every
/// run the filter keeps passes once each way.
#[test]
fn a_filter_on_the_loaded_runs_keeps_the_selection_as_pages_come_and_go() {
    let (mut app, ctx) = runs_screen();
    app.feeds.runs_window = 2;
    app.feeds.runs_window_rows = Some(0);
    let truth = all_runs(&app, &ctx);
    // To the end unfiltered: the first pages are dropped.
    for _ in 0..100 {
        press(&mut app, &ctx, "end");
        if !more(&app) {
            break;
        }
    }
    let skipped = |app: &App| {
        rows::run_list(app, app.screen())
            .and_then(|f| f.data.as_ref())
            .map_or(0, RunList::skipped)
    };
    assert!(skipped(&app) > 0);
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "status:FINISHED");
    press(&mut app, &ctx, "enter");
    let want: BTreeSet<&str> = truth
        .iter()
        .filter(|r| r.status.as_str() == "FINISHED")
        .map(|r| r.id.as_str())
        .collect();
    let selected = |app: &App| {
        rows::runs(app, app.screen())
            .get(app.screen().selected)
            .map(|r| r.id.clone())
    };
    press(&mut app, &ctx, "end");
    // Up to the top: the dropped pages come back in front, the selection walks through every
    // finished run once.
    let mut up: Vec<String> = selected(&app).into_iter().collect();
    for _ in 0..truth.len() + 50 {
        press(&mut app, &ctx, "k");
        if let Some(id) = selected(&app)
            && up.last() != Some(&id)
        {
            up.push(id);
        }
    }
    assert_eq!(skipped(&app), 0, "back at the first page");
    assert_eq!(up.len(), want.len(), "each finished run once on the way up");
    assert_eq!(up.iter().map(String::as_str).collect::<BTreeSet<_>>(), want);
    // And down again: nothing was dropped under the filter, the same runs in reverse.
    let mut down: Vec<String> = selected(&app).into_iter().collect();
    for _ in 0..truth.len() + 50 {
        press(&mut app, &ctx, "j");
        if let Some(id) = selected(&app)
            && down.last() != Some(&id)
        {
            down.push(id);
        }
    }
    down.reverse();
    assert_eq!(down, up, "the same runs in the same order");
}
