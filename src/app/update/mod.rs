//! The one update function: (state, action) → new state + effects. Keys arrive as
//! `Action::Input`; outside text inputs they go through the keymap and come back here as the
//! action they are bound to. After every action, what the screen on show needs is fetched if it
//! is stale — in one place, so no handler has to remember it.
//!
//! Files: `navigation` (views, drill-down, selection, filter), `input` (keys, palette, filter
//! text), `commands` (rollout verbs: preview, confirm, send), `loading` (ticks, fetch results,
//! watch changes), `runs` (the Runs and Compare views' own verbs), `runs_end` (`end` reading a
//! runs search to its last page), `text_input` (what every text input shares).

mod commands;
mod input;
mod loading;
mod navigation;
mod runs;
mod runs_end;
mod text_input;

use chrono::{DateTime, Utc};
use mlops_core::model::ClusterChange;

use self::{
    commands::{begin_command, command_done},
    input::{input, paste},
    loading::{cluster_changed, loaded, switched, tick},
    navigation::{
        Seek, back, clamp_selection, enter, history, move_selection, open, open_filter, seek_match,
        set_query, show, switch_panel,
    },
};
use super::{
    action::{Action, Effect},
    feeds::Source,
    rows,
    rows::wanted::{period, wanted},
    screens::{ScreenKind, ViewId},
    state::{App, Overlay},
};

/// How long a status message stays.
const MESSAGE_SECONDS: i64 = 6;

pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut fx = Vec::new();
    // While the action is handled, the comparison is worked out from the data as it changes;
    // after it, once, for the frames drawn until the next.
    app.runs.compared = None;
    dispatch(app, action, &mut fx);
    app.runs.compared = rows::comparison_to_keep(app);
    // Whatever the action was, the screen now on show gets its data.
    for s in wanted(app) {
        fetch_if_stale(app, s, &mut fx);
    }
    fx
}

fn dispatch(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    match action {
        // How a keymap unbinds a key.
        Action::NoOp => {}
        Action::Show(view) => show(app, view),
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
        // The port's watch caches changed: read its snapshot again (from the caches).
        Action::ClusterChanged(change) if matches!(*change, ClusterChange::Refresh) => {
            force(app, Source::Cluster, fx);
        }
        Action::ClusterChanged(change) => cluster_changed(app, *change),
        Action::Switched(result) => switched(app, result, fx),
        Action::Exported(result) => {
            match result {
                Ok(done) => app.info(done),
                Err(why) => app.error(why),
            }
            app.dirty = true;
        }
        Action::Quit => app.quit = true,
        Action::BackOrQuit => {
            if app.nav.stack.len() > 1 {
                back(app);
            } else {
                app.quit = true;
            }
        }
        Action::ToggleHelp => toggle_help(app),
        Action::Back => back(app),
        Action::OpenPalette => {
            app.overlay = Some(Overlay::Palette {
                input: ratatui_textarea::TextArea::default(),
                selected: 0,
                recalled: None,
            });
            app.dirty = true;
        }
        Action::OpenFilter => open_filter(app),
        Action::ClearFilter => set_query(app, String::new()),
        Action::SearchNext => seek_match(app, Seek::Next),
        Action::SearchPrev => seek_match(app, Seek::Prev),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top => {
            move_selection(app, &action);
        }
        Action::Bottom => {
            move_selection(app, &action);
            runs_end::start(app);
        }
        Action::Enter => enter(app),
        Action::HistoryBack | Action::HistoryForward | Action::HistoryToggle => {
            history(app, &action);
        }
        Action::NextPanel | Action::PrevPanel => {
            switch_panel(app, action == Action::NextPanel);
        }
        Action::NextView | Action::PrevView => next_view(app, action == Action::NextView),
        Action::Refresh => {
            for s in wanted(app) {
                force(app, s, fx);
            }
            app.info("refreshing…");
            app.dirty = true;
        }
        Action::Describe
        | Action::ShowRaw
        | Action::JumpToOwner
        | Action::OpenTimeline
        | Action::ShowMessages => {
            open_detail(app, &action);
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
        Action::FilterRuns
        | Action::ToggleMark
        | Action::ClearMarks
        | Action::RestoreMarks
        | Action::NextPoint
        | Action::PrevPoint
        | Action::CompareRuns
        | Action::ToggleDiffOnly
        | Action::ExportComparison
        | Action::ToggleParallel
        | Action::ChooseColumns
        | Action::ScatterAgainst => runs::dispatch(app, &action),
    }
}

/// `?`: the help, or back from it.
fn toggle_help(app: &mut App) {
    app.overlay = if app.help_open() {
        None
    } else {
        Some(Overlay::Help { scroll: 0 })
    };
    app.dirty = true;
}

/// `tab` / `shift-tab`: the next or previous view in the tab order.
fn next_view(app: &mut App, forward: bool) {
    let views: Vec<ViewId> = ViewId::all().collect();
    let i = app.view().index();
    let n = views.len();
    let next = if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    };
    show(app, views[next]);
}

/// `d` (the selected object in full), `y` (its raw JSON), `J` (its model version's lineage),
/// `t` (its model version's timeline) and `:messages`, as the view's model says.
fn open_detail(app: &mut App, action: &Action) {
    let model = rows::model(&app.screen().kind);
    let from = app.view();
    let (screen, missing) = match action {
        Action::Describe => (
            model.describe(app, app.screen()),
            "nothing selected to describe here",
        ),
        Action::ShowRaw => (
            model
                .raw(app, app.screen())
                .map(|of| ScreenKind::Raw { of, from }),
            "nothing selected to show as JSON here",
        ),
        Action::JumpToOwner => (
            model
                .owner(app, app.screen())
                .map(|(m, v)| rows::lineage_of(&m, v)),
            "the selected object belongs to no model version",
        ),
        Action::OpenTimeline => (
            model
                .owner(app, app.screen())
                .map(|(model, v)| ScreenKind::TimelineOf {
                    model,
                    version: Some(v),
                }),
            "the selected object belongs to no model version",
        ),
        _ => {
            app.config_seen = true;
            (Some(ScreenKind::Messages { from }), "")
        }
    };
    match screen {
        Some(kind) => open(app, kind),
        None => app.warn(missing),
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

#[cfg(test)]
mod runs_end_tests;
#[cfg(test)]
mod runs_tests;
#[cfg(test)]
mod serving_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timeline_tests;
#[cfg(test)]
mod triggers_tests;
#[cfg(test)]
mod ux_tests;
#[cfg(test)]
mod walk2_tests;
