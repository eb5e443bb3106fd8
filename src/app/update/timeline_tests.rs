//! The Timeline view driven by keys over the demo: `t` opens the timeline of what is selected,
//! `8` and `:timeline` every model's, `enter` an entry in full, `/` filters it.

use super::ux_tests::select_rollout;
use crate::{
    app::{rows, screens::ScreenKind},
    testing::{loaded_demo, press, type_text},
};

#[test]
fn t_on_a_rollout_opens_its_model_versions_timeline_and_enter_an_entry() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    // Run the demo until fraud-detector's canary has been rolled back.
    for _ in 0..20 {
        platform.advance(10);
        crate::testing::dispatch(&mut app, &ctx, crate::app::Action::Tick(platform.now()));
    }
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "fraud-detector-v7");
    press(&mut app, &ctx, "t");
    assert_eq!(
        app.screen().kind,
        ScreenKind::TimelineOf {
            model: "fraud-detector".into(),
            version: Some(7),
        }
    );
    assert_eq!(app.view(), crate::app::screens::ViewId::Timeline);
    let (all, order) = rows::timeline::rows(&app, app.screen());
    let shown: Vec<_> = order.iter().map(|&i| &all[i as usize]).collect();
    assert!(shown.iter().all(|e| e.concerns("fraud-detector")));
    assert!(shown.iter().all(|e| e.version.is_none_or(|v| v == 7)));
    let kinds: Vec<&str> = shown.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["rollout_started", "check_failed", "phase", "alert_firing"] {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
    assert!(shown.iter().any(|e| e.changed_before), "no change marked");
    // `/` filters the rows; enter opens the selected one in full.
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "limit");
    press(&mut app, &ctx, "enter");
    let (all, order) = rows::timeline::rows(&app, app.screen());
    assert_eq!(
        order.len(),
        1,
        "{:?}",
        order
            .iter()
            .map(|&i| &all[i as usize].summary)
            .collect::<Vec<_>>()
    );
    press(&mut app, &ctx, "enter");
    assert!(matches!(
        app.screen().kind,
        ScreenKind::TimelineEntry { .. }
    ));
    let entry = rows::timeline::selected(&app, app.screen()).expect("the entry");
    assert!(entry.summary.contains("→ RollingBack"));
    assert!(entry.details["also_in"].contains("kubernetes"));
    // `esc` goes back to the list, and again to the rollouts it came from.
    press(&mut app, &ctx, "esc");
    assert!(matches!(app.screen().kind, ScreenKind::TimelineOf { .. }));
}

#[test]
fn nine_and_the_palette_show_every_models_timeline_and_t_refuses_what_has_no_model() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "9");
    assert!(
        app.screen()
            .kind
            .is_root(crate::app::screens::ViewId::Timeline)
    );
    let (all, _) = rows::timeline::rows(&app, app.screen());
    let models: std::collections::BTreeSet<_> =
        all.iter().filter_map(|e| e.model.clone()).collect();
    assert!(models.len() > 3, "{models:?}");
    press(&mut app, &ctx, "1");
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "timeline");
    press(&mut app, &ctx, "enter");
    assert!(
        app.screen()
            .kind
            .is_root(crate::app::screens::ViewId::Timeline)
    );
    // The Audit view's entries belong to no model version: `t` says so.
    press(&mut app, &ctx, "7");
    press(&mut app, &ctx, "t");
    assert_eq!(app.view(), crate::app::screens::ViewId::Audit);
    let said = app
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(said.contains("no model version"), "{said}");
}
