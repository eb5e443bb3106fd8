//! The one update function: (state, action) → new state + effects. Keys arrive as
//! `Action::Input`; outside text inputs they go through the keymap and come back here as the
//! action they are bound to. After every action, what the screen on show needs is fetched if it
//! is stale — in one place, so no handler has to remember it.
//!
//! Files: `navigation` (views, drill-down, selection, filter), `input` (keys, palette, filter
//! text), `commands` (rollout verbs: preview, confirm, send), `loading` (ticks, fetch results,
//! watch changes).

mod commands;
mod input;
mod loading;
mod navigation;
mod runs;
mod text_input;

use chrono::{DateTime, Utc};

use self::{
    commands::{begin_command, command_done},
    input::{input, paste},
    loading::{cluster_changed, loaded, switched, tick},
    navigation::{
        back, clamp_selection, enter, history, move_selection, open, open_filter, set_filter, show,
        switch_panel,
    },
};
use super::{
    action::{Action, Effect},
    feeds::Source,
    rows,
    rows::wanted::{period, wanted},
    screens::{ScreenKind, ViewId},
    state::{App, Mode},
};

/// How long a status message stays.
const MESSAGE_SECONDS: i64 = 6;

pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut fx = Vec::new();
    // While the action is handled, the comparison is worked out from the data as it changes;
    // after it, once, for the frames drawn until the next.
    app.compared = None;
    dispatch(app, action, &mut fx);
    app.compared = rows::comparison_to_keep(app);
    // Whatever the action was, the screen now on show gets its data.
    for s in wanted(app) {
        fetch_if_stale(app, s, &mut fx);
    }
    fx
}

fn dispatch(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    if let Some(view) = ViewId::shown_by(&action) {
        show(app, view);
        return;
    }
    match action {
        // Shown by the table above; `NoOp` is how a keymap unbinds a key.
        Action::NoOp
        | Action::ShowOverview
        | Action::ShowExperiments
        | Action::ShowLineage
        | Action::ShowDrift
        | Action::ShowGpus
        | Action::ShowRollouts
        | Action::ShowAudit => {}
        Action::Tick(now) => tick(app, now),
        Action::Resize(w, h) => {
            app.size = (w, h);
            clamp_selection(app);
            app.dirty = true;
        }
        Action::Input(key) => input(app, key, fx),
        Action::Paste(text) => paste(app, &text),
        Action::Loaded(source, result) => loaded(app, &source, result.map(|p| *p), fx),
        Action::CommandDone(result) => command_done(app, result, fx),
        Action::ClusterChanged(change) => cluster_changed(app, *change),
        Action::Switched(result) => switched(app, result, fx),
        Action::Exported(result) => {
            match result {
                Ok(done) => app.info(done),
                Err(why) => app.error(why),
            }
            app.dirty = true;
        }
        Action::FilterRuns => runs::filter_runs(app),
        Action::ToggleMark => runs::toggle_mark(app),
        Action::ClearMarks => runs::clear_marks(app),
        Action::CompareRuns => runs::compare(app),
        Action::ToggleDiffOnly => runs::toggle_diff_only(app),
        Action::ExportComparison => runs::export(app),
        Action::ToggleParallel => runs::toggle_parallel(app),
        Action::ChooseColumns => runs::choose_columns(app),
        Action::ScatterAgainst => runs::scatter(app),
        Action::Quit => app.quit = true,
        Action::ToggleHelp => {
            app.mode = if app.mode == Mode::Help {
                Mode::Normal
            } else {
                Mode::Help
            };
            app.help_scroll = 0;
            app.dirty = true;
        }
        Action::Back => back(app),
        Action::OpenPalette => {
            app.mode = Mode::Palette;
            app.palette = ratatui_textarea::TextArea::default();
            app.palette_selected = 0;
            app.dirty = true;
        }
        Action::OpenFilter => open_filter(app),
        Action::ClearFilter => set_filter(app, String::new()),
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => move_selection(app, &action),
        Action::Enter => enter(app),
        Action::HistoryBack | Action::HistoryForward | Action::HistoryToggle => {
            history(app, &action);
        }
        Action::Describe => match rows::details::describe(app, app.screen()) {
            Some(kind) => open(app, kind),
            None => app.warn("nothing selected to describe here"),
        },
        Action::ShowRaw => match rows::details::raw_of(app, app.screen()) {
            Some(of) => {
                let from = app.view();
                open(app, ScreenKind::Raw { of, from });
            }
            None => app.warn("nothing selected to show as JSON here"),
        },
        Action::JumpToOwner => match rows::details::owner(app, app.screen()) {
            Some(kind) => open(app, kind),
            None => app.warn("the selected object belongs to no model version"),
        },
        Action::NextPanel | Action::PrevPanel => {
            switch_panel(app, action == Action::NextPanel);
        }
        Action::ShowMessages => {
            app.config_seen = true;
            let from = app.view();
            open(app, ScreenKind::Messages { from });
        }
        Action::NextView | Action::PrevView => {
            let views: Vec<ViewId> = ViewId::all().collect();
            let i = app.view().index();
            let n = views.len();
            let next = if action == Action::NextView {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            show(app, views[next]);
        }
        Action::Refresh => {
            for s in wanted(app) {
                force(app, s, fx);
            }
            app.info("refreshing…");
            app.dirty = true;
        }
        Action::Approve
        | Action::Promote
        | Action::PromoteFull
        | Action::Abort
        | Action::Rollback
        | Action::Pause
        | Action::Resume => {
            if let Some(verb) = action.verb() {
                begin_command(app, verb, fx);
            }
        }
    }
}

/// Fetch `s` if its data is older than its refresh period (and none is in flight).
fn fetch_if_stale(app: &mut App, s: Source, fx: &mut Vec<Effect>) {
    let (now, every) = (app.now, period(app, &s));
    if app.feeds.begin(&s, now, every, false) {
        fx.push(Effect::Fetch(s));
    }
}

/// Fetch `s` now (or as soon as the one in flight is back).
fn force(app: &mut App, s: Source, fx: &mut Vec<Effect>) {
    let now = app.now;
    if app.feeds.begin(&s, now, None, true) {
        fx.push(Effect::Fetch(s));
    }
}

/// Whether a status message has been on screen long enough.
fn message_expired(app: &App, now: DateTime<Utc>) -> bool {
    app.message.as_ref().is_some_and(|m| {
        // An error stays longer: it is what an operator must not miss.
        let secs = if m.level == crate::app::state::Level::Error {
            MESSAGE_SECONDS * 3
        } else {
            MESSAGE_SECONDS
        };
        now - m.at >= chrono::Duration::seconds(secs)
    })
}

/// The text of a one-line input.
fn text_of(t: &ratatui_textarea::TextArea<'_>) -> String {
    t.lines().join(" ")
}

/// Whether the screen is one the filter applies to.
fn is_list(kind: &ScreenKind) -> bool {
    kind.is_list()
}

#[cfg(test)]
mod runs_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ux_tests;
