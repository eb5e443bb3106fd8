//! Snapshot tests of every view on ratatui's `TestBackend`, over the demo platform at a fixed time
//! (so nothing volatile needs filtering).

use mlops_console::{
    app::{Action, App, feeds::Source, keymap::Keymap},
    config::Theme,
    event_loop::Context,
    testing::{dispatch, loaded_demo, press, type_text},
    ui,
};
use ratatui::{Terminal, backend::TestBackend};

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("test terminal");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
    terminal
}

fn at(keys: &[&str], size: (u16, u16)) -> (App, Context) {
    let (mut app, _, ctx) = loaded_demo(size);
    for k in keys {
        press(&mut app, &ctx, k);
    }
    (app, ctx)
}

macro_rules! snap {
    ($name:ident, $keys:expr) => {
        #[test]
        fn $name() {
            let (app, _) = at(&$keys, (120, 36));
            insta::assert_snapshot!(draw(&app).backend());
        }
    };
}

snap!(overview, []);
snap!(experiments, ["2"]);
snap!(runs, ["2", "enter"]);
snap!(run_detail, ["2", "enter", "enter"]);
snap!(lineage, ["3"]);
snap!(lineage_graph, ["3", "enter"]);
snap!(drift, ["4"]);
snap!(drift_detail, ["4", "enter"]);
snap!(gpus, ["5"]);
snap!(rollouts, ["6"]);
snap!(rollout_detail, ["6", "enter"]);
snap!(audit, ["7"]);
snap!(help, ["6", "?"]);
snap!(palette, [":", "r"]);
snap!(confirm_approve, ["6", "a"]);

#[test]
fn overview_at_80x24() {
    let (app, _) = at(&[], (80, 24));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn rollout_detail_at_200x50() {
    let (app, _) = at(&["6", "j", "j", "enter"], (200, 50));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn terminal_too_small() {
    let (app, _) = at(&[], (60, 20));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn filtered_rollouts_with_filter_prompt() {
    let (mut app, ctx) = at(&["6", "/"], (120, 36));
    type_text(&mut app, &ctx, "uae");
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn metrics_backend_down_greys_out_its_views_only() {
    let (mut app, ctx) = at(&[], (120, 36));
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Gpus,
            Err("Prometheus at http://127.0.0.1:9090: connection refused".into()),
        ),
    );
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Drift,
            Err("Prometheus at http://127.0.0.1:9090: connection refused".into()),
        ),
    );
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn unknown_palette_command_shows_a_message() {
    let (mut app, ctx) = at(&[":"], (120, 36));
    type_text(&mut app, &ctx, "gpuz");
    press(&mut app, &ctx, "enter");
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn every_theme_renders_every_view() {
    // Styles are not in the text snapshots; check each theme draws each view without trouble and
    // that the selection is styled differently from plain text.
    for theme in ["dark", "light", "high-contrast", "colorblind", "monochrome"] {
        for view in ["1", "2", "3", "4", "5", "6", "7"] {
            let (mut app, _) = at(&[view], (120, 36));
            app.theme = Theme::embedded(theme);
            app.keymap = Keymap::embedded("default");
            let t = draw(&app);
            let buf = t.backend().buffer();
            assert!(
                buf.content().iter().any(|c| c.symbol() != " "),
                "{theme}/{view} drew something"
            );
            assert_ne!(
                app.theme.selection, app.theme.text,
                "{theme}: selection must stand out"
            );
        }
    }
}
