//! The Runs view's way to the end (`end` reads every page of the search, then selects its last
//! run) and the undo of `M`: the second UX walk's L items, as a user drives them over the demo
//! registry.

use crossterm::event::KeyEvent;

use super::runs_tests::{all_runs, loaded, more, runs_screen};
use crate::{
    app::{Action, App, Effect, feeds::Source, rows, screens::ScreenKind},
    event_loop::Context,
    testing::press,
};

/// Carry out `effects` once, as the event loop does when their results arrive: the effects
/// those results ask for next are handed back, not carried out.
fn arrive(app: &mut App, ctx: &Context, effects: Vec<Effect>) -> Vec<Effect> {
    let mut next = Vec::new();
    for effect in effects {
        if let Effect::Fetch(source) = effect {
            let result =
                futures::executor::block_on(crate::event_loop::fetch(ctx, &source)).map(Box::new);
            next.extend(crate::app::update(app, Action::Loaded(source, result)));
        }
    }
    next
}

/// A key, and only the effects it asks for (not carried out).
fn key_once(app: &mut App, key: &str) -> Vec<Effect> {
    let k = crate::app::keymap::Key::parse(key).expect("key");
    crate::app::update(app, Action::Input(KeyEvent::new(k.code, k.mods)))
}

fn selected_id(app: &App) -> String {
    rows::runs(app, app.screen())[app.screen().selected]
        .id
        .clone()
}

/// `end` goes to the last run of the search, not the last one loaded (issue 22, the UX walk's
/// L items: "`End` in Runs only loads the next page (`100+`, then `200+`, then `280`)").
#[test]
fn end_goes_to_the_last_run_of_the_search() {
    let (mut app, ctx) = runs_screen();
    let truth = all_runs(&app, &ctx);
    assert!(more(&app), "the first page only");
    press(&mut app, &ctx, "end");
    assert!(!more(&app), "every page read");
    assert_eq!(loaded(&app), truth.len());
    let oldest = truth.iter().min_by_key(|r| r.start).expect("runs");
    assert_eq!(selected_id(&app), oldest.id, "the last run of the search");
    assert_eq!(app.screen().selected, truth.len() - 1);
    assert_eq!(said(&app), format!("the last run: {} runs", truth.len()));
    // At the end, `end` stays there.
    press(&mut app, &ctx, "home");
    press(&mut app, &ctx, "end");
    assert_eq!(selected_id(&app), oldest.id);
}

/// While pages arrive the status bar counts them and the selection follows the end; any key
/// stops it (and does what it does), `esc` only stops it (the Runs screen stays).
#[test]
fn end_counts_the_runs_as_they_come_and_any_key_stops_it() {
    let (mut app, ctx) = runs_screen();
    let truth = all_runs(&app, &ctx);
    let fx = key_once(&mut app, "end");
    assert_eq!(app.screen().selected, 99);
    assert_eq!(said(&app), "loading all runs… 100 so far (any key stops)");
    let fx = arrive(&mut app, &ctx, fx);
    assert_eq!(loaded(&app), 200);
    assert_eq!(app.screen().selected, 199, "the selection follows the end");
    assert_eq!(said(&app), "loading all runs… 200 so far (any key stops)");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Fetch(Source::RunsPage(..)))),
        "the next page is asked for: {fx:?}"
    );
    // `k` stops it and moves up; the page already asked for comes but the selection stays.
    let _ = key_once(&mut app, "k");
    assert_eq!(app.screen().selected, 198);
    assert_eq!(said(&app), "stopped loading runs at 200");
    let _ = arrive(&mut app, &ctx, fx);
    assert_eq!(loaded(&app), truth.len());
    assert_eq!(app.screen().selected, 198);
    assert_eq!(said(&app), "stopped loading runs at 200");

    // `esc` stops it without leaving the Runs screen.
    let (mut app, ctx) = runs_screen();
    let fx = key_once(&mut app, "end");
    let _ = key_once(&mut app, "esc");
    assert!(matches!(app.screen().kind, ScreenKind::Runs { .. }));
    assert_eq!(said(&app), "stopped loading runs at 100");
    let _ = arrive(&mut app, &ctx, fx);
    assert_eq!(app.screen().selected, 99);
    // Without the chase, `esc` goes back as before.
    let _ = key_once(&mut app, "esc");
    assert!(!matches!(app.screen().kind, ScreenKind::Runs { .. }));
}

/// A page that does not load stops the way to the end, and says so (the registry's error is
/// shown where it always is); `end` tries again.
#[test]
fn a_page_that_fails_stops_the_way_to_the_end() {
    let (mut app, _ctx) = runs_screen();
    let fx = key_once(&mut app, "end");
    let Some(Effect::Fetch(page)) = fx
        .into_iter()
        .find(|e| matches!(e, Effect::Fetch(Source::RunsPage(..))))
    else {
        panic!("the next page is asked for");
    };
    let _ = crate::app::update(
        &mut app,
        Action::Loaded(
            page,
            Err(mlops_core::CoreError::unavailable(
                "demo",
                "connection refused",
            )),
        ),
    );
    assert_eq!(
        said(&app),
        "stopped loading runs at 100: a page did not load (end tries again)"
    );
    assert!(app.runs.to_the_end.is_none());
    assert_eq!(app.screen().selected, 99);
}

/// On the way to the end the window holds as it does when scrolling: pages far behind are
/// dropped, so `end` on an experiment of any size holds no more than the window.
#[test]
fn end_holds_no_more_than_the_window_on_the_way() {
    let (mut app, ctx) = runs_screen();
    app.feeds.runs_window = 2;
    app.feeds.runs_window_rows = Some(0);
    let truth = all_runs(&app, &ctx);
    press(&mut app, &ctx, "end");
    assert!(!more(&app));
    let list = rows::run_list(&app, app.screen())
        .and_then(|f| f.data.clone())
        .expect("list");
    assert!(list.runs.len() <= 200, "held {}", list.runs.len());
    assert_eq!(list.skipped() + list.runs.len(), truth.len());
    let oldest = truth.iter().min_by_key(|r| r.start).expect("runs");
    assert_eq!(selected_id(&app), oldest.id);
    assert_eq!(said(&app), format!("the last run: {} runs", truth.len()));
}

fn marked_ids(app: &App) -> Vec<String> {
    app.runs.marks.iter().map(|r| r.id.clone()).collect()
}

fn said(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

/// `M` is undoable (issue 22, the UX walk's L items: "`M` clears 6 marks with no undo"): it
/// says how many it cleared and that `u` brings them back; `u` brings back the marks cleared
/// last, merged with any marked since (those cleared first, in their order).
#[test]
fn m_clears_the_marks_and_u_brings_them_back() {
    let (mut app, ctx) = runs_screen();
    for _ in 0..6 {
        press(&mut app, &ctx, "space");
    }
    let six = marked_ids(&app);
    assert_eq!(six.len(), 6);
    press(&mut app, &ctx, "M");
    assert!(app.runs.marks.is_empty());
    assert_eq!(said(&app), "cleared 6 marks — u brings them back");
    press(&mut app, &ctx, "u");
    assert_eq!(marked_ids(&app), six);
    assert_eq!(said(&app), "brought back 6 marks (6 marked; c compares)");
    // Once: nothing is left to bring back.
    press(&mut app, &ctx, "u");
    assert_eq!(marked_ids(&app), six);
    assert!(
        said(&app).contains("no cleared marks to bring back"),
        "{}",
        said(&app)
    );
    // Marked since the clear: merged, the cleared ones first.
    press(&mut app, &ctx, "M");
    press(&mut app, &ctx, "space");
    let since = marked_ids(&app);
    assert_eq!(since.len(), 1);
    assert!(!six.contains(&since[0]));
    press(&mut app, &ctx, "u");
    let merged: Vec<String> = six.iter().chain(&since).cloned().collect();
    assert_eq!(marked_ids(&app), merged);
    assert_eq!(said(&app), "brought back 6 marks (7 marked; c compares)");
    // `M` with nothing marked keeps what `u` brings back.
    press(&mut app, &ctx, "M");
    assert_eq!(said(&app), "cleared 7 marks — u brings them back");
    press(&mut app, &ctx, "M");
    assert_eq!(said(&app), "no marks to clear");
    press(&mut app, &ctx, "u");
    assert_eq!(marked_ids(&app), merged);
    // One mark reads as one.
    press(&mut app, &ctx, "M");
    press(&mut app, &ctx, "space");
    press(&mut app, &ctx, "M");
    assert_eq!(said(&app), "cleared 1 mark — u brings it back");
}

/// Brought back over marks made since, no more than 20 are marked: the cleared ones first.
#[test]
fn marks_brought_back_stop_at_twenty() {
    let (mut app, ctx) = runs_screen();
    for _ in 0..15 {
        press(&mut app, &ctx, "space");
    }
    let cleared = marked_ids(&app);
    press(&mut app, &ctx, "M");
    for _ in 0..10 {
        press(&mut app, &ctx, "space");
    }
    let since = marked_ids(&app);
    press(&mut app, &ctx, "u");
    let want: Vec<String> = cleared.iter().chain(&since).take(20).cloned().collect();
    assert_eq!(marked_ids(&app), want);
    assert!(
        said(&app).contains("5 marked since did not fit"),
        "{}",
        said(&app)
    );
}
