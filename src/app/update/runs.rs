//! The Runs view's own verbs and the Compare view: MLflow's filter typed into a prompt (`f`,
//! evaluated by the server), marks (`space`, `M`, `u`), the comparison of the marked runs
//! (`c`), its diff-only toggle (`=`) and its export to a file (`e`), written by the event loop.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::{
    navigation::open,
    text_input::{LINE_MAX, insert_capped, is_cancel, is_full},
    text_of,
};
use crate::app::{
    action::{Action, Effect},
    rows,
    screens::ScreenKind,
    state::{App, ColumnPicker, MAX_MARKS, Overlay, Prompt, PromptKind},
};

/// The most characters an export path holds.
const PATH_MAX: usize = 4096;

/// The Runs and Compare views' own verbs.
pub(super) fn dispatch(app: &mut App, action: &Action) {
    match action {
        Action::FilterRuns => filter_runs(app),
        Action::ToggleMark => toggle_mark(app),
        Action::ClearMarks => clear_marks(app),
        Action::RestoreMarks => restore_marks(app),
        Action::CompareRuns => compare(app),
        Action::ToggleDiffOnly => toggle_diff_only(app),
        Action::ExportComparison => export(app),
        Action::ToggleParallel => toggle_parallel(app),
        Action::ChooseColumns => choose_columns(app),
        Action::ScatterAgainst => scatter(app),
        Action::NextPoint => point(app, true),
        Action::PrevPoint => point(app, false),
        _ => {}
    }
}

fn open_prompt(app: &mut App, kind: PromptKind, label: &'static str, text: String) {
    let mut input = TextArea::from([text]);
    input.move_cursor(ratatui_textarea::CursorMove::End);
    app.overlay = Some(Overlay::Prompt(Prompt { kind, label, input }));
    app.dirty = true;
}

/// `f`: MLflow's filter for the runs on show, prefilled with the one in use.
fn filter_runs(app: &mut App) {
    let ScreenKind::Runs { filter, .. } = &app.screen().kind else {
        app.warn("f filters runs on the server: open an experiment's runs first");
        return;
    };
    let current = filter.clone();
    open_prompt(app, PromptKind::RunsFilter, "MLflow filter ›", current);
}

/// `space`: mark the selected run for comparison, or unmark it.
fn toggle_mark(app: &mut App) {
    if !matches!(app.screen().kind, ScreenKind::Runs { .. }) {
        app.warn("space marks runs: open an experiment's runs first");
        return;
    }
    let Some(run) = rows::runs(app, app.screen())
        .get(app.screen().selected)
        .map(|r| (*r).clone())
    else {
        app.warn("no run selected");
        return;
    };
    if let Some(i) = app.runs.marks.iter().position(|m| m.id == run.id) {
        app.runs.marks.remove(i);
        app.info(format!(
            "unmarked {} ({} marked)",
            run.name,
            app.runs.marks.len()
        ));
    } else if app.runs.marks.len() >= MAX_MARKS {
        app.warn(format!(
            "{MAX_MARKS} runs are marked, the most a comparison holds: unmark one (space) or clear them (M)"
        ));
    } else {
        let name = run.name.clone();
        app.runs.marks.push(run);
        app.info(format!(
            "marked {name} ({} marked; c compares)",
            app.runs.marks.len()
        ));
    }
    // The next run, as a file manager does, so a row of runs is marked with `space space …`.
    let len = rows::len(app, app.screen());
    let s = app.screen_mut();
    if s.selected + 1 < len {
        s.selected += 1;
        s.anchor = None;
    }
    app.dirty = true;
}

/// `M`: clear every mark, kept for `u` to bring back. With nothing marked, what `u` brings
/// back stays as it was.
fn clear_marks(app: &mut App) {
    let n = app.runs.marks.len();
    if n == 0 {
        app.info("no marks to clear");
        return;
    }
    app.runs.cleared_marks = std::mem::take(&mut app.runs.marks);
    let (marks, them) = if n == 1 {
        ("1 mark".to_string(), "it")
    } else {
        (format!("{n} marks"), "them")
    };
    app.info(
        match app
            .prefs
            .keymap
            .key_for(app.view().context(), &Action::RestoreMarks)
        {
            Some(key) => format!("cleared {marks} — {key} brings {them} back"),
            None => format!(
                "cleared {marks} — restore_marks brings {them} back (bound to no key in this keymap)"
            ),
        },
    );
}

/// `u`: the marks `M` cleared last, back — merged with any marked since rather than refused
/// (marking one run after an accidental `M` must not lose the other five): the cleared ones
/// first, in their order, then those marked since, at most `MAX_MARKS`.
fn restore_marks(app: &mut App) {
    if app.runs.cleared_marks.is_empty() {
        app.warn("no cleared marks to bring back (M clears the marks)");
        return;
    }
    let cleared = std::mem::take(&mut app.runs.cleared_marks);
    let n = cleared.len();
    let since: Vec<_> = std::mem::take(&mut app.runs.marks)
        .into_iter()
        .filter(|m| !cleared.iter().any(|c| c.id == m.id))
        .collect();
    let mut marks = cleared;
    marks.extend(since);
    let left_out = marks.len().saturating_sub(MAX_MARKS);
    marks.truncate(MAX_MARKS);
    app.runs.marks = marks;
    let total = app.runs.marks.len();
    let back = if n == 1 {
        "brought back 1 mark".to_string()
    } else {
        format!("brought back {n} marks")
    };
    if left_out > 0 {
        app.warn(format!(
            "{back} ({total} marked; {left_out} marked since did not fit: {MAX_MARKS} at most)"
        ));
    } else {
        app.info(format!("{back} ({total} marked; c compares)"));
    }
    app.dirty = true;
}

/// `c`: the marked runs side by side (2 to 20).
fn compare(app: &mut App) {
    match app.runs.marks.len() {
        0 | 1 => app.warn("mark 2 to 20 runs with space, then c compares them"),
        _ => {
            let runs = app.runs.marks.iter().map(|r| r.id.clone()).collect();
            open(
                app,
                ScreenKind::Compare {
                    runs,
                    diff_only: false,
                    parallel: false,
                    scatter_x: None,
                },
            );
        }
    }
}

/// `=`: only what differs between the compared runs, or everything.
fn toggle_diff_only(app: &mut App) {
    let ScreenKind::Compare { diff_only, .. } = &mut app.screen_mut().kind else {
        app.warn("= is for the comparison of runs (mark runs with space, then c)");
        return;
    };
    *diff_only = !*diff_only;
    let on = *diff_only;
    let s = app.screen_mut();
    s.selected = 0;
    s.offset = 0;
    s.anchor = None;
    app.info(if on {
        "showing only what differs"
    } else {
        "showing every param and metric"
    });
}

/// `p`: the params against the chart's metric (parallel coordinates), or its histories.
fn toggle_parallel(app: &mut App) {
    let ScreenKind::Compare {
        parallel,
        scatter_x,
        ..
    } = &mut app.screen_mut().kind
    else {
        app.warn("p is for the comparison of runs (mark runs with space, then c)");
        return;
    };
    *parallel = !*parallel;
    *scatter_x = None;
    let on = *parallel;
    app.info(if on {
        "params against the metric: parallel coordinates"
    } else {
        "the metric's history of each run"
    });
}

/// `x`: the selected param or metric becomes the x axis of a scatter, the row selected next its
/// y axis; `x` on the x axis's own row goes back to the histories.
/// `>` / `<` in a scatter: the run pointed at, named under the plot with its values (the
/// scatter named only the best run; the others were a glyph in the legend).
fn point(app: &mut App, forward: bool) {
    let ScreenKind::Compare {
        runs,
        scatter_x: Some(_),
        ..
    } = &app.screen().kind
    else {
        app.warn("< and > point at the scatter's runs (x on a row of the comparison first)");
        return;
    };
    let runs = runs.len();
    if runs == 0 {
        return;
    }
    let s = app.screen_mut();
    s.point = Some(match (s.point, forward) {
        (None, true) => 0,
        (None, false) => runs - 1,
        (Some(i), true) => (i + 1) % runs,
        (Some(i), false) => (i + runs - 1) % runs,
    });
    app.dirty = true;
}

fn scatter(app: &mut App) {
    if !matches!(app.screen().kind, ScreenKind::Compare { .. }) {
        app.warn("x is for the comparison of runs (mark runs with space, then c)");
        return;
    }
    let Some(row) = rows::compare_rows(app, app.screen())
        .into_iter()
        .nth(app.screen().selected)
    else {
        app.warn("no param or metric selected");
        return;
    };
    let field = row.field();
    let ScreenKind::Compare {
        parallel,
        scatter_x,
        ..
    } = &mut app.screen_mut().kind
    else {
        return;
    };
    *parallel = false;
    if scatter_x.as_ref() == Some(&field) {
        *scatter_x = None;
        app.info("the metric's history of each run");
    } else {
        let spec = field.spec();
        *scatter_x = Some(field);
        app.info(format!(
            "scatter against {spec}: the selected row is the y axis (x on {spec} again: histories)"
        ));
    }
}

/// `o`: which metrics and params are the Runs table's columns: every one the loaded runs
/// have, ticked when shown.
fn choose_columns(app: &mut App) {
    let ScreenKind::Runs { experiment_id, .. } = &app.screen().kind else {
        app.warn("o chooses the Runs table's columns: open an experiment's runs first");
        return;
    };
    let experiment_id = experiment_id.clone();
    let shown = rows::experiments::run_columns::chosen(app, app.screen());
    let mut offered =
        rows::experiments::run_columns::available(&rows::loaded_runs_of(app, app.screen()));
    // A column chosen before that no loaded run has stays offered, so it can be taken away.
    for f in &shown {
        if !offered.contains(f) {
            offered.push(f.clone());
        }
    }
    offered.sort();
    if offered.is_empty() {
        app.warn(
            "no run has loaded yet: the columns offered are the metrics and params of the runs",
        );
        return;
    }
    let options = offered
        .into_iter()
        .map(|f| {
            let on = shown.contains(&f);
            (f, on)
        })
        .collect();
    app.overlay = Some(Overlay::Columns(ColumnPicker {
        experiment_id,
        options,
        selected: 0,
    }));
    app.dirty = true;
}

/// A key for the column chooser: move, `space` ticks, `enter` shows the ticked ones, `esc`
/// leaves the columns as they were.
pub(super) fn columns_input(app: &mut App, key: KeyEvent) {
    let Some(Overlay::Columns(picker)) = &mut app.overlay else {
        return;
    };
    if is_cancel(&key) || key.code == KeyCode::Char('q') {
        app.overlay = None;
        return;
    }
    let last = picker.options.len().saturating_sub(1);
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => picker.selected = picker.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => picker.selected = (picker.selected + 1).min(last),
        KeyCode::PageUp => picker.selected = picker.selected.saturating_sub(10),
        KeyCode::PageDown => picker.selected = (picker.selected + 10).min(last),
        KeyCode::Home | KeyCode::Char('g') => picker.selected = 0,
        KeyCode::End | KeyCode::Char('G') => picker.selected = last,
        KeyCode::Char(' ') => {
            if let Some((_, on)) = picker.options.get_mut(picker.selected) {
                *on = !*on;
            }
        }
        KeyCode::Enter => {
            let Some(Overlay::Columns(picker)) = app.overlay.take() else {
                return;
            };
            let chosen: Vec<_> = picker
                .options
                .into_iter()
                .filter_map(|(f, on)| on.then_some(f))
                .collect();
            let names: Vec<String> = chosen
                .iter()
                .map(mlops_core::model::RunField::spec)
                .collect();
            app.info(if names.is_empty() {
                "columns: the run's name, status, user and start only".to_string()
            } else {
                format!(
                    "columns: {} (for every session: [experiments] run_columns in config.toml)",
                    names.join(", ")
                )
            });
            app.runs.columns.insert(picker.experiment_id, chosen);
        }
        _ => {}
    }
}

/// `e`: where to write the comparison.
fn export(app: &mut App) {
    if !matches!(app.screen().kind, ScreenKind::Compare { .. }) {
        app.warn("e exports a comparison of runs (mark runs with space, then c)");
        return;
    }
    open_prompt(
        app,
        PromptKind::Export,
        "export to (.csv .md .json) ›",
        app.runs
            .last_export
            .clone()
            .unwrap_or_else(|| "comparison.csv".into()),
    );
}

/// A key for the open prompt: `enter` answers, `esc` cancels.
pub(super) fn prompt_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::Prompt(prompt)) = &mut app.overlay else {
        return;
    };
    if is_cancel(&key) {
        app.overlay = None;
        return;
    }
    let max = max_len(prompt.kind);
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => prompt.input = TextArea::default(),
        KeyCode::Char('m') if ctrl => {}
        KeyCode::Enter => {
            let kind = prompt.kind;
            let text = text_of(&prompt.input).trim().to_string();
            app.overlay = None;
            answer(app, kind, &text, fx);
        }
        _ if is_full(&prompt.input, &key, max) => {}
        _ => {
            prompt.input.input(key);
        }
    }
}

/// Text pasted into the open prompt.
pub(super) fn prompt_paste(p: &mut Prompt, text: &str) {
    insert_capped(&mut p.input, text, max_len(p.kind));
}

/// The most characters a prompt's answer holds.
fn max_len(kind: PromptKind) -> usize {
    match kind {
        PromptKind::RunsFilter => LINE_MAX,
        PromptKind::Export => PATH_MAX,
    }
}

fn answer(app: &mut App, kind: PromptKind, text: &str, fx: &mut Vec<Effect>) {
    match kind {
        PromptKind::RunsFilter => {
            let s = app.screen_mut();
            let ScreenKind::Runs { filter, .. } = &mut s.kind else {
                return;
            };
            if *filter == text {
                return;
            }
            text.clone_into(filter);
            s.selected = 0;
            s.offset = 0;
            s.anchor = None;
            if text.is_empty() {
                app.info("server filter cleared: every run");
            } else {
                app.info(format!("runs filtered by the server: {text}"));
            }
        }
        PromptKind::Export => {
            let Some(comparison) = rows::comparison(app, app.screen()) else {
                app.warn("the runs of this comparison have not loaded yet");
                return;
            };
            let diff_only = matches!(
                app.screen().kind,
                ScreenKind::Compare {
                    diff_only: true,
                    ..
                }
            );
            // `~/…` is the user's home, as a shell would have it.
            let path = match (text.strip_prefix("~/"), std::env::var_os("HOME")) {
                (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
                _ => PathBuf::from(text),
            };
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            let contents = match ext.as_deref() {
                Some("csv") => comparison.csv(diff_only),
                Some("md" | "markdown") => comparison.markdown(diff_only),
                Some("json") => comparison.json(),
                _ => {
                    app.warn(format!(
                        "{text:?}: say the format with the file's extension: .csv, .md or .json"
                    ));
                    return;
                }
            };
            app.info(format!("exporting to {text}…"));
            app.runs.last_export = Some(text.to_string());
            fx.push(Effect::Export {
                path,
                contents: contents + "\n",
            });
        }
    }
}
