//! The Serving view and the Overview's Serving panel as users meet them, on the demo (whose
//! fraud-detector canary burns its budget from the start): keys pressed, the real renderer.

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

#[test]
fn eight_lists_serving_worst_first_and_enter_y_open_the_version() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "8");
    let s = screen_text(&app);
    let first = s
        .lines()
        .find(|l| l.contains(" canary ") || l.contains(" stable "))
        .unwrap_or_default();
    assert!(
        first.contains("✖ page") && first.contains("fraud-detector") && first.contains("canary"),
        "worst first:\n{s}"
    );
    assert!(s.contains("1 paging"), "{s}");
    press(&mut app, &ctx, "enter");
    let ScreenKind::ServingDetail(key) = &app.screen().kind else {
        panic!("enter opened {:?}", app.screen().kind);
    };
    assert_eq!(
        (key.model.as_str(), key.track.as_str()),
        ("fraud-detector", "canary")
    );
    let s = screen_text(&app);
    assert!(s.contains("burn ≥ 14.4 over 1h and 5m"), "{s}");
    assert!(s.contains("✖ page"), "{s}");
    assert!(s.contains("the budget is the model's"), "{s}");
    press(&mut app, &ctx, "y");
    let ScreenKind::Raw { of, .. } = &app.screen().kind else {
        panic!("y opened {:?}", app.screen().kind);
    };
    let doc = rows::details::raw_document(&app, of).expect("the raw document");
    assert!(doc.contains("\"alert\": \"page\""), "{doc}");
    assert!(screen_text(&app).contains("\"track\": \"canary\""));
    press(&mut app, &ctx, "esc");
    press(&mut app, &ctx, "esc");
    assert_eq!(
        app.screen().kind,
        ScreenKind::Root(crate::app::screens::ViewId::Serving)
    );
}

#[test]
fn the_serving_list_filters_and_sorts_like_every_list() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "8");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "speech");
    press(&mut app, &ctx, "enter");
    let shown = rows::serving::rows(&app, app.screen());
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].model, "speech-asr");
    press(&mut app, &ctx, "esc");
    // P99 (L) sorts by latency, highest last then first again.
    press(&mut app, &ctx, "L");
    let p99: Vec<f64> = rows::serving::rows(&app, app.screen())
        .iter()
        .filter_map(|h| h.latency_seconds.p99)
        .collect();
    assert!(
        p99.windows(2).all(|w| w[0] <= w[1]) || p99.windows(2).all(|w| w[0] >= w[1]),
        "{p99:?}"
    );
}

#[test]
fn the_overview_leads_with_serving_and_counts_paging_models() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    let s = screen_text(&app);
    // In words or, where the line is tight, in one ("1 paging").
    assert!(
        s.contains("1 model paging") || s.contains("1 paging"),
        "{s}"
    );
    let serving = s.find("Serving (").expect("the panel");
    let rollouts = s.find("╭ Rollouts").expect("rollouts");
    assert!(serving < rollouts, "Serving is drawn first:\n{s}");
    // `o` goes round the older panels, then to Serving; enter opens the worst version.
    for _ in 0..4 {
        press(&mut app, &ctx, "o");
    }
    press(&mut app, &ctx, "enter");
    assert!(
        matches!(&app.screen().kind, ScreenKind::ServingDetail(k) if k.model == "fraud-detector"),
        "{:?}",
        app.screen().kind
    );
}

#[test]
fn every_view_is_in_the_tab_bar_at_80_columns() {
    let (app, _, _ctx) = loaded_demo((80, 24));
    let s = screen_text(&app);
    let bar = s.lines().next().unwrap_or_default();
    assert!(bar.contains("1:Overview") && bar.contains("8:Ser"), "{bar}");
}

/// A runtime whose series the store does not have: the view says so, and its rows (from the
/// cluster's Deployments) show `—`, never zeros.
#[test]
fn a_runtime_without_series_says_so_in_the_view() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    app.feeds.serving.data = Some(mlops_core::serving::Signals {
        source: mlops_core::serving::SignalSource {
            runtime: "kserve".into(),
            latency: "histogram".into(),
            queries: std::collections::BTreeMap::new(),
            series: vec!["revision_app_request_count".into()],
        },
        ..mlops_core::serving::Signals::default()
    });
    rows::serving::reassemble(&mut app);
    press(&mut app, &ctx, "8");
    let s = screen_text(&app);
    assert!(
        s.contains("no series for revision_app_request_count (serving runtime \"kserve\")"),
        "{s}"
    );
    let row = s
        .lines()
        .find(|l| l.contains("fraud-detector"))
        .unwrap_or_default();
    assert!(row.contains("? no data") && row.contains('—'), "{row}");
    assert!(!row.contains("0.00%"), "no zeros: {row}");
}

/// What changed before a model started burning: `t` on a served version opens its timeline.
#[test]
fn t_on_a_served_version_opens_its_timeline() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "8");
    press(&mut app, &ctx, "t");
    assert_eq!(
        app.screen().kind,
        ScreenKind::TimelineOf {
            model: "fraud-detector".into(),
            version: Some(7),
        }
    );
}
