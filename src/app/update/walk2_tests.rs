//! The second UX walk's findings (`shared/design/ux-walk-2.md`), each as the keys a user pressed
//! and what the screen shows afterwards, drawn by the real renderer.

use super::ux_tests::select_rollout;
use crate::{
    app::{Action, rows, screens::ScreenKind},
    testing::{dispatch, loaded_demo, press, type_text},
};

/// A raw document scrolled down stays where it was when its data is fetched again or the
/// terminal is resized (either put it back at the top: `clamp_selection` treated it as an empty
/// list).
#[test]
fn a_scrolled_raw_document_keeps_its_place_across_a_refresh_and_a_resize() {
    let (mut app, _, ctx) = loaded_demo((120, 24));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "y");
    assert!(matches!(app.screen().kind, ScreenKind::Raw { .. }));
    for _ in 0..5 {
        press(&mut app, &ctx, "j");
    }
    assert_eq!(app.screen().offset, 5);
    press(&mut app, &ctx, "ctrl-r");
    assert_eq!(app.screen().offset, 5, "the refresh scrolled the document");
    dispatch(&mut app, &ctx, Action::Resize(120, 25));
    assert_eq!(app.screen().offset, 5, "the resize scrolled the document");
}

fn screen_text(app: &crate::app::App) -> Vec<String> {
    let (w, h) = app.size;
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| crate::ui::render(app, f)).expect("draw");
    let buffer = terminal.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect())
        .collect()
}

/// UX walk M8 / item 2: the help, the palette and a refusal at 80×24 are wrapped, never cut in
/// the middle (`status bar: a ba…n (red) or not configured (grey)`, `dataset → ru… version →
/// rollout`, `rollout fraud-detector…wed (only a rollout under way can be aborted)`).
#[test]
fn help_palette_and_refusals_wrap_at_80_columns_instead_of_cutting() {
    let (mut app, _, ctx) = loaded_demo((80, 24));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "?");
    let mut seen = String::new();
    for _ in 0..40 {
        let rows = screen_text(&app);
        // The help box's rows: between its borders, past the keys column.
        for row in &rows[3..rows.len() - 2] {
            // (`!/…/` is the filter syntax's own text.)
            assert!(
                !row.replace("/…/", "").contains('…'),
                "a help line is cut:\n{}",
                rows.join("\n")
            );
            seen.push_str(row);
            seen.push('\n');
        }
        press(&mut app, &ctx, "pagedown");
    }
    let words = |s: &str| {
        s.split(|c: char| c.is_whitespace() || c == '│')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        words(&seen).contains("a backend is down; its data is greyed with its age"),
        "{seen}"
    );
    press(&mut app, &ctx, "esc");
    // The palette: the selected command's description whole under the list.
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "lin");
    let rows = screen_text(&app).join("\n");
    let lineage = crate::app::palette::completions("lin")
        .first()
        .map(|c| c.help)
        .expect("a lineage command");
    assert!(words(&rows).contains(&words(lineage)), "{rows}");
    press(&mut app, &ctx, "esc");
    // A refusal: aborting a rolled-back rollout says why, whole.
    select_rollout(&mut app, &ctx, "credit-scorer-v9");
    press(&mut app, &ctx, "x");
    let rows = screen_text(&app).join("\n");
    assert!(
        words(&rows).contains("(only a rollout under way can be aborted)"),
        "{rows}"
    );
}

/// UX walk L: at 80×24 `o` went Rollouts → Drift (on the right) → GPUs (on the left) → Events:
/// the narrow Overview now reads in the order `o` goes, as the wide one does.
#[test]
fn the_overview_panels_read_in_the_order_o_visits_them_at_every_width() {
    for size in [(80, 24), (120, 40)] {
        let (mut app, _, ctx) = loaded_demo(size);
        press(&mut app, &ctx, "1");
        let rows = screen_text(&app);
        let at = |title: &str| {
            rows.iter()
                .enumerate()
                .find_map(|(y, r)| r.find(title).map(|x| (y, r[..x].chars().count())))
                .unwrap_or_else(|| panic!("{title} at {size:?}:\n{}", rows.join("\n")))
        };
        let (drift, gpus) = (at("Drift alerts"), at("GPUs needing a look"));
        assert!(
            drift.0 < gpus.0 || (drift.0 == gpus.0 && drift.1 < gpus.1),
            "Drift is read after GPUs at {size:?}:\n{}",
            rows.join("\n")
        );
        press(&mut app, &ctx, "o");
        assert_eq!(app.screen().panel, crate::app::screens::Panel::Drift);
    }
}

/// UX walk item 2 / L: at 80×24 a rollout's detail drew its charts as empty boxes two rows high
/// and hid the steps behind the policy gates; after a rollback the chart's title still gave the
/// canary's last error rate; the events panel showed the last one or two and did not scroll.
#[test]
fn a_rollouts_detail_at_80x24_shows_its_steps_values_and_every_event() {
    let (mut app, _, ctx) = loaded_demo((80, 24));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "churn-model-v4");
    press(&mut app, &ctx, "enter");
    let s = screen_text(&app).join("\n");
    assert!(s.contains("▶  3. approval"), "the current step shows:\n{s}");
    assert!(s.contains("Policy gates"), "{s}");
    assert!(
        s.contains("now  errors canary ") && !s.contains("Error rate (%)"),
        "the latest values instead of empty charts:\n{s}"
    );
    assert!(s.contains("a approve"), "the verbs are not cut off:\n{s}");
    // Events scroll, newest first.
    let ScreenKind::RolloutDetail(key) = app.screen().kind.clone() else {
        panic!("a rollout's detail: {:?}", app.screen().kind)
    };
    let events = rows::rollouts::events(&app, &key).len();
    assert!(events > 1, "the demo rollout has events");
    press(&mut app, &ctx, "j");
    let s = screen_text(&app).join("\n");
    assert!(
        s.contains(&format!("events 2–{events} of {events} (j/k)")),
        "{s}"
    );
    // A rolled-back canary serves nothing: no last value passed off as its own.
    press(&mut app, &ctx, "esc");
    select_rollout(&mut app, &ctx, "credit-scorer-v9");
    press(&mut app, &ctx, "enter");
    let s = screen_text(&app).join("\n");
    assert!(s.contains("canary — (not serving)"), "{s}");
    app.size = (120, 40);
    let s = screen_text(&app).join("\n");
    assert!(s.contains("⣿ canary — (not serving)"), "{s}");
}

/// UX walk item 2: a raw document's long lines (a PromQL query) ran off the box's edge with no
/// mark; they end in `…` where they are cut.
#[test]
fn a_raw_documents_long_lines_end_in_an_ellipsis_where_they_are_cut() {
    let (mut app, _, ctx) = loaded_demo((80, 24));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "y");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "canaryQuery");
    press(&mut app, &ctx, "enter");
    let rows = screen_text(&app);
    let query = rows
        .iter()
        .find(|r| r.contains("\"canaryQuery\""))
        .unwrap_or_else(|| panic!("{}", rows.join("\n")));
    assert!(query.ends_with("…│"), "{query}");
}
