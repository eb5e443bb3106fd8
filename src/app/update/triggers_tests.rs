//! The Triggers view as users meet it, on the demo (whose `eta-predictor-staging` trigger fires
//! when the script moves the `staging` alias): keys pressed, the real renderer.

use mlops_core::triggers::{CRD_MISSING, TriggersRead};

use crate::{
    app::{rows, screens::ScreenKind},
    testing::{loaded_demo, press, type_text},
};

fn screen_text(app: &crate::app::App) -> String {
    let (w, h) = app.size;
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| crate::ui::render(app, f)).expect("draw");
    let buffer = terminal.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn names(app: &crate::app::App) -> Vec<String> {
    rows::triggers::triggers(app, app.screen())
        .iter()
        .map(|t| t.name.clone())
        .collect()
}

#[test]
fn zero_lists_the_triggers_and_enter_opens_the_rollout_one_started() {
    let (mut app, _, ctx) = loaded_demo((160, 40));
    press(&mut app, &ctx, "0");
    assert_eq!(
        names(&app),
        [
            "demand-forecast-validated",
            "eta-predictor-staging",
            "image-tagger-created"
        ]
    );
    let s = screen_text(&app);
    assert!(s.contains("Triggers (3)"), "{s}");
    assert!(s.contains("False: InvalidWhen"), "{s}");
    assert!(s.contains("rejected: "), "{s}");
    assert!(s.contains("alias staging"), "{s}");
    // The first has started nothing: enter stays.
    press(&mut app, &ctx, "enter");
    assert_eq!(
        app.screen().kind,
        ScreenKind::Root(crate::app::screens::ViewId::Triggers)
    );
    press(&mut app, &ctx, "j");
    let started = rows::triggers::triggers(&app, app.screen())[1]
        .status
        .started_rollout
        .clone()
        .expect("the staging trigger started a rollout");
    assert!(started.starts_with("eta-predictor-staging-v"), "{started}");
    press(&mut app, &ctx, "enter");
    let ScreenKind::RolloutDetail(key) = &app.screen().kind else {
        panic!("enter opened {:?}", app.screen().kind);
    };
    assert_eq!(key.name, started);
}

#[test]
fn y_shows_the_trigger_as_the_core_models_it() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "0");
    press(&mut app, &ctx, "j");
    press(&mut app, &ctx, "y");
    let ScreenKind::Raw { of, .. } = &app.screen().kind else {
        panic!("y opened {:?}", app.screen().kind);
    };
    let doc = rows::details::raw_document(&app, of).expect("document");
    assert!(doc.contains("\"name\": \"eta-predictor-staging\""), "{doc}");
    assert!(doc.contains("\"startedRollout\""), "{doc}");
}

#[test]
fn the_triggers_filter_and_sort_like_every_list() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "0");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "tagger");
    press(&mut app, &ctx, "enter");
    assert_eq!(names(&app), ["image-tagger-created"]);
    press(&mut app, &ctx, "esc");
    assert_eq!(names(&app).len(), 3);
    // NAME (N): by name, then the other way round.
    press(&mut app, &ctx, "N");
    let first = names(&app);
    press(&mut app, &ctx, "N");
    let second = names(&app);
    assert_ne!(first, second);
    let mut reversed = first.clone();
    reversed.reverse();
    assert_eq!(second, reversed);
}

#[test]
fn a_missing_crd_is_said_and_the_other_views_go_on() {
    let (mut app, _, ctx) = loaded_demo((100, 30));
    if let Some(c) = app.feeds.cluster.data.as_mut() {
        c.triggers = TriggersRead::Unavailable(CRD_MISSING.into());
    }
    app.feeds.cluster.version = crate::app::feeds::next_version();
    press(&mut app, &ctx, "0");
    assert!(names(&app).is_empty());
    let s = screen_text(&app);
    assert!(s.contains(CRD_MISSING), "{s}");
    press(&mut app, &ctx, "6");
    assert!(!rows::rollouts(&app, app.screen()).is_empty());
}
