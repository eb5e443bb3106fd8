//! The incident timeline over the demo (`mlops demo --seed 7`): the console's Timeline of the
//! canary the demo rolls back, in 16 colours and without colour (the changed-before marks read
//! by their glyph), and `mlops timeline --demo` as a script reads it.

use std::process::Command;

use mlops_console::{
    app::{Action, App},
    config::{ColorDepth, Theme},
    testing::{dispatch, loaded_demo, press},
    ui,
};
use ratatui::{Terminal, backend::TestBackend};

/// The demo run until fraud-detector v7 was rolled back, its timeline opened with `t` from its
/// rollout and the theme set.
fn rolled_back(size: (u16, u16), theme: Theme) -> App {
    let (mut app, platform, ctx) = loaded_demo(size);
    for _ in 0..20 {
        platform.advance(10);
        dispatch(&mut app, &ctx, Action::Tick(platform.now()));
    }
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "home");
    for _ in 0..20 {
        let row = mlops_console::app::rows::rollouts(&app, app.screen())
            .get(app.screen().selected)
            .map(|r| r.name.clone());
        if row.as_deref() == Some("fraud-detector-v7") {
            break;
        }
        press(&mut app, &ctx, "j");
    }
    press(&mut app, &ctx, "t");
    app.prefs.theme = theme;
    app
}

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("test terminal");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
    terminal
}

fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_rolled_back_canarys_timeline_in_16_colours_marks_changes_by_glyph_and_colour() {
    let mut dark = Theme::embedded("dark");
    dark.reduce(ColorDepth::Ansi16);
    for (w, h) in [(80, 24), (120, 40)] {
        let app = rolled_back((w, h), dark.clone());
        let t = draw(&app);
        let screen = text(&t);
        assert!(screen.contains("Timeline of fraud-detector v7"), "{screen}");
        // A changed-before row: its glyph in the warning colour.
        let buf = t.backend().buffer();
        let marked = (0..buf.area.height).find_map(|y| {
            (0..buf.area.width)
                .find(|&x| buf[(x, y)].symbol() == "◆")
                .map(|x| buf[(x, y)].fg)
        });
        assert_eq!(marked, app.prefs.theme.warn.fg, "no ◆ in\n{screen}");
        insta::assert_snapshot!(format!("timeline_16_colours_{w}x{h}"), t.backend());
    }
}

#[test]
fn without_colour_the_marks_are_glyphs() {
    for (w, h) in [(80, 24), (120, 40)] {
        let app = rolled_back((w, h), Theme::embedded("monochrome"));
        let t = draw(&app);
        let screen = text(&t);
        assert!(screen.contains('◆') && screen.contains('▲'), "{screen}");
        insta::assert_snapshot!(format!("timeline_no_color_{w}x{h}"), t.backend());
    }
}

/// `mlops timeline --demo -o json`: the rolled-back canary's story in order, from at least four
/// sources, each happening once.
#[test]
fn the_cli_reads_the_demos_incident_as_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args([
            "timeline",
            "--demo",
            "--model",
            "fraud-detector",
            "--version",
            "7",
            "-o",
            "json",
        ])
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .output()
        .expect("run mlops");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let entries = v["entries"].as_array().expect("entries");
    assert_eq!(v["warnings"], serde_json::json!([]));
    let field = |e: &serde_json::Value, k: &str| e[k].as_str().unwrap_or("").to_string();
    for e in entries {
        for k in ["time", "source", "kind", "summary"] {
            assert!(e[k].is_string(), "{k} in {e}");
        }
        assert!(
            e["details"].is_object() && e["changed_before"].is_boolean(),
            "{e}"
        );
        assert_eq!(field(e, "model"), "fraud-detector");
    }
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        entries
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("not in {stdout}"))
    };
    let start = at(&|e| field(e, "kind") == "rollout_started");
    let step = at(&|e| field(e, "summary").contains("canary at 10%; step 2/"));
    let failed = at(&|e| field(e, "kind") == "check_failed");
    let rollback = at(&|e| field(e, "summary").contains("→ RollingBack"));
    let events = at(&|e| {
        field(e, "source") == "kubernetes"
            && field(e, "summary").contains("Scaled down replica set fraud-detector-canary")
    });
    assert!(
        start < failed && failed < rollback && rollback < events,
        "{stdout}"
    );
    assert!(start < step, "{stdout}");
    let sources: std::collections::BTreeSet<String> =
        entries.iter().map(|e| field(e, "source")).collect();
    assert!(sources.len() >= 4, "{sources:?}");
    let rollbacks = entries
        .iter()
        .filter(|e| field(e, "summary").contains("→ RollingBack"))
        .count();
    assert_eq!(
        rollbacks, 1,
        "the rollback seen in the history, as an Event and audited is one"
    );
    assert!(entries.iter().any(|e| e["changed_before"] == true));
    // The table for people, and a bad flag.
    let table = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["timeline", "--demo", "--since", "30m"])
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .output()
        .expect("run mlops");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("TIME (UTC)") && text.contains("AGO"),
        "{text}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["timeline", "--demo", "--since", "yesterday"])
        .output()
        .expect("run mlops");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since \"yesterday\""));
}
