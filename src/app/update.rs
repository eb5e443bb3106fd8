//! The one update function: (state, action) → new state + effects. Keys arrive as
//! `Action::Input`; outside text inputs they go through the keymap and come back here as the
//! action they are bound to.

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mlops_core::{
    ports::ClusterChange,
    rollout::{self, Command, RolloutRecord},
};
use ratatui_textarea::TextArea;

use super::{
    action::{Action, Payload},
    palette, select,
    state::{App, Confirm, Feed, Mode, RolloutKey, Screen, ScreenKind, Source, ViewId},
};
use crate::config::keymap::{Key, Lookup};

/// Something for the runtime to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Fetch(Source),
    Command {
        target: RolloutKey,
        command: Command,
    },
}

/// How long a status message stays.
const MESSAGE_SECONDS: i64 = 6;

pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut fx = Vec::new();
    match action {
        Action::NoOp => {}
        Action::Tick(now) => tick(app, now, &mut fx),
        Action::Resize(w, h) => {
            app.size = (w, h);
            clamp_selection(app);
            app.dirty = true;
        }
        Action::Input(key) => input(app, key, &mut fx),
        Action::Loaded(source, result) => loaded(app, &source, result, &mut fx),
        Action::CommandDone(result) => {
            match result {
                Ok(r) => app.info(format!(
                    "{}: now {} — {}",
                    r.name, r.status.phase, r.status.message
                )),
                Err(e) => app.error(e),
            }
            force(app, Source::Cluster, &mut fx);
            force(app, Source::Audit, &mut fx);
            app.dirty = true;
        }
        Action::ClusterChanged(change) => cluster_changed(app, *change),
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
            app.palette = TextArea::default();
            app.palette_selected = 0;
            app.dirty = true;
        }
        Action::OpenFilter => {
            if select::len(app, app.screen()) == 0
                && app.screen().filter.is_empty()
                && !is_list(&app.screen().kind)
            {
                app.warn("this screen has no list to filter");
            } else {
                app.mode = Mode::Filter;
                app.filter_input = TextArea::from([app.screen().filter.clone()]);
                app.filter_input
                    .move_cursor(ratatui_textarea::CursorMove::End);
            }
            app.dirty = true;
        }
        Action::ClearFilter => set_filter(app, String::new()),
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => move_selection(app, &action),
        Action::Enter => enter(app, &mut fx),
        Action::NextView | Action::PrevView => {
            let i = ViewId::ALL
                .iter()
                .position(|v| *v == app.view())
                .unwrap_or(0);
            let n = ViewId::ALL.len();
            let next = if action == Action::NextView {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            show(app, ViewId::ALL[next], &mut fx);
        }
        Action::ShowOverview => show(app, ViewId::Overview, &mut fx),
        Action::ShowExperiments => show(app, ViewId::Experiments, &mut fx),
        Action::ShowLineage => show(app, ViewId::Lineage, &mut fx),
        Action::ShowDrift => show(app, ViewId::Drift, &mut fx),
        Action::ShowGpus => show(app, ViewId::Gpus, &mut fx),
        Action::ShowRollouts => show(app, ViewId::Rollouts, &mut fx),
        Action::ShowAudit => show(app, ViewId::Audit, &mut fx),
        Action::Refresh => {
            for s in wanted(app) {
                force(app, s, &mut fx);
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
            begin_command(app, &action);
        }
    }
    fx
}

/// Apply a change pushed by a watch to the last snapshot. Before the first snapshot there is
/// nothing to apply it to: the snapshot brings the same data.
fn cluster_changed(app: &mut App, change: ClusterChange) {
    let Some(snap) = app.feeds.cluster.data.as_mut() else {
        return;
    };
    let same = |r: &RolloutRecord, cluster: &str, namespace: &str, name: &str| {
        r.cluster == cluster && r.namespace == namespace && r.name == name
    };
    let changed = match change {
        ClusterChange::Rollouts(mut all) => {
            all.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            let changed = snap.rollouts != all;
            snap.rollouts = all;
            changed
        }
        ClusterChange::Rollout(r) => {
            match snap
                .rollouts
                .iter()
                .position(|x| same(x, &r.cluster, &r.namespace, &r.name))
            {
                Some(i) if snap.rollouts[i] == *r => false,
                Some(i) => {
                    snap.rollouts[i] = *r;
                    true
                }
                None => {
                    let at = snap
                        .rollouts
                        .partition_point(|x| (&x.namespace, &x.name) < (&r.namespace, &r.name));
                    snap.rollouts.insert(at, *r);
                    true
                }
            }
        }
        ClusterChange::RolloutDeleted {
            cluster,
            namespace,
            name,
        } => {
            let before = snap.rollouts.len();
            snap.rollouts
                .retain(|x| !same(x, &cluster, &namespace, &name));
            snap.rollouts.len() != before
        }
        ClusterChange::Driver(d) => {
            let changed = snap.driver != d;
            snap.driver = d;
            changed
        }
    };
    if changed {
        clamp_selection(app);
        app.dirty = true;
    }
}

fn is_list(kind: &ScreenKind) -> bool {
    !matches!(
        kind,
        ScreenKind::RunDetail { .. }
            | ScreenKind::DriftDetail { .. }
            | ScreenKind::RolloutDetail(_)
    )
}

fn tick(app: &mut App, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    let before = app.now;
    app.now = now;
    if app
        .message
        .as_ref()
        .is_some_and(|m| now - m.at >= Duration::seconds(MESSAGE_SECONDS))
    {
        app.message = None;
        app.dirty = true;
    }
    // Ages on screen are shown in minutes or coarser, and staleness in seconds only when stale.
    if before.timestamp() / 60 != now.timestamp() / 60 || any_stale(app) {
        app.dirty = true;
    }
    for s in wanted(app) {
        fetch_if_stale(app, s, fx);
    }
}

fn any_stale(app: &App) -> bool {
    oldest_live_update(app).is_some_and(|u| app.now - u >= app.refresh * 3)
}

/// When the oldest live data the current screen shows was fetched.
pub fn oldest_live_update(app: &App) -> Option<DateTime<Utc>> {
    let f = &app.feeds;
    wanted(app)
        .iter()
        .filter_map(|s| match s {
            Source::Cluster => f.cluster.updated,
            Source::Gpus => f.gpus.updated,
            Source::Drift => f.drift.updated,
            Source::Audit => f.audit.updated,
            Source::Series(k) => f.series.get(k).and_then(|x| x.updated),
            _ => None,
        })
        .min()
}

/// The sources the current screen (and the status bar) needs.
pub fn wanted(app: &App) -> Vec<Source> {
    let mut v = vec![Source::Cluster];
    match &app.screen().kind {
        ScreenKind::Overview => v.extend([Source::Gpus, Source::Drift]),
        ScreenKind::Experiments => v.push(Source::Experiments),
        ScreenKind::Runs { experiment_id, .. } => v.push(Source::Runs(experiment_id.clone())),
        ScreenKind::RunDetail {
            experiment_id,
            run_id,
            ..
        } => {
            v.push(Source::Runs(experiment_id.clone()));
            v.push(Source::RunMetrics(run_id.clone()));
        }
        ScreenKind::Lineage => v.push(Source::Models),
        ScreenKind::LineageGraph { model, version } => {
            v.push(Source::Models);
            if let Some(run) = super::lineage_view::run_id_of(app, model, *version) {
                v.push(Source::Run(run));
            }
        }
        ScreenKind::Drift | ScreenKind::DriftDetail { .. } => v.push(Source::Drift),
        ScreenKind::Gpus => v.push(Source::Gpus),
        ScreenKind::Rollouts => {}
        ScreenKind::RolloutDetail(k) => {
            v.push(Source::Series(k.clone()));
            v.push(Source::Models);
        }
        ScreenKind::Audit => v.push(Source::Audit),
    }
    v
}

/// How often a source is refreshed: live data at the refresh interval, registry data less often,
/// a finished run's metrics once.
fn period(app: &App, s: &Source) -> Option<Duration> {
    match s {
        Source::Cluster | Source::Gpus | Source::Drift | Source::Audit | Source::Series(_) => {
            Some(app.refresh)
        }
        Source::Experiments | Source::Models | Source::Runs(_) | Source::Run(_) => {
            Some((app.refresh * 6).max(Duration::seconds(30)))
        }
        Source::RunMetrics(_) => None,
    }
}

macro_rules! with_feed {
    ($app:expr, $source:expr, |$feed:ident| $body:expr) => {
        match $source {
            Source::Cluster => {
                let $feed = &mut $app.feeds.cluster;
                $body
            }
            Source::Experiments => {
                let $feed = &mut $app.feeds.experiments;
                $body
            }
            Source::Models => {
                let $feed = &mut $app.feeds.models;
                $body
            }
            Source::Gpus => {
                let $feed = &mut $app.feeds.gpus;
                $body
            }
            Source::Drift => {
                let $feed = &mut $app.feeds.drift;
                $body
            }
            Source::Audit => {
                let $feed = &mut $app.feeds.audit;
                $body
            }
            Source::Runs(id) => {
                let $feed = $app.feeds.runs.entry(id.clone()).or_default();
                $body
            }
            Source::Run(id) => {
                let $feed = $app.feeds.run.entry(id.clone()).or_default();
                $body
            }
            Source::RunMetrics(id) => {
                let $feed = $app.feeds.run_metrics.entry(id.clone()).or_default();
                $body
            }
            Source::Series(k) => {
                let $feed = $app.feeds.series.entry(k.clone()).or_default();
                $body
            }
        }
    };
}

fn begin<T>(feed: &mut Feed<T>, now: DateTime<Utc>, every: Option<Duration>, force: bool) -> bool {
    let due = force
        || match every {
            Some(p) => feed.is_stale(now, p),
            None => feed.updated.is_none(),
        };
    if !due {
        return false;
    }
    if feed.in_flight {
        feed.queued = true;
        return false;
    }
    feed.in_flight = true;
    true
}

fn fetch_if_stale(app: &mut App, s: Source, fx: &mut Vec<Effect>) {
    let (now, every) = (app.now, period(app, &s));
    if with_feed!(app, &s, |f| begin(f, now, every, false)) {
        fx.push(Effect::Fetch(s));
    }
}

fn force(app: &mut App, s: Source, fx: &mut Vec<Effect>) {
    let now = app.now;
    if with_feed!(app, &s, |f| begin(f, now, None, true)) {
        fx.push(Effect::Fetch(s));
    }
}

/// Store a result; returns (changed, fetch again because one was queued).
fn store<T: PartialEq>(
    feed: &mut Feed<T>,
    result: Result<T, String>,
    now: DateTime<Utc>,
) -> (bool, bool) {
    feed.in_flight = false;
    let requeue = std::mem::take(&mut feed.queued);
    let changed = match result {
        Ok(data) => {
            let changed = feed.data.as_ref() != Some(&data) || feed.error.is_some();
            feed.data = Some(data);
            feed.error = None;
            feed.updated = Some(now);
            changed
        }
        Err(e) => {
            let changed = feed.error.as_ref() != Some(&e);
            // Keep the last good data: the view greys it out with its age.
            feed.error = Some(e);
            changed
        }
    };
    (changed, requeue)
}

fn loaded(
    app: &mut App,
    source: &Source,
    result: Result<Box<Payload>, String>,
    fx: &mut Vec<Effect>,
) {
    // The status bar shows staleness: new data that ends it must be drawn even if unchanged.
    let was_stale = any_stale(app);
    let now = app.now;
    let (changed, requeue) = match (source, result) {
        (Source::Cluster, Ok(p)) => match *p {
            Payload::Cluster(d) => store(&mut app.feeds.cluster, Ok(d), now),
            _ => (false, false),
        },
        (Source::Experiments, Ok(p)) => match *p {
            Payload::Experiments(d) => store(&mut app.feeds.experiments, Ok(d), now),
            _ => (false, false),
        },
        (Source::Models, Ok(p)) => match *p {
            Payload::Models(d) => store(&mut app.feeds.models, Ok(d), now),
            _ => (false, false),
        },
        (Source::Gpus, Ok(p)) => match *p {
            Payload::Gpus(d) => store(&mut app.feeds.gpus, Ok(d), now),
            _ => (false, false),
        },
        (Source::Drift, Ok(p)) => match *p {
            Payload::Drift(d) => store(&mut app.feeds.drift, Ok(d), now),
            _ => (false, false),
        },
        (Source::Audit, Ok(p)) => match *p {
            Payload::Audit(d) => {
                // Verifying the chain hashes every entry: once per load, not once per frame.
                app.audit_chain =
                    Some(mlops_core::audit::AuditLog::verify(&d).map_err(|e| e.to_string()));
                store(&mut app.feeds.audit, Ok(d), now)
            }
            _ => (false, false),
        },
        (Source::Runs(id), Ok(p)) => match *p {
            Payload::Runs(d) => store(app.feeds.runs.entry(id.clone()).or_default(), Ok(d), now),
            _ => (false, false),
        },
        (Source::Run(id), Ok(p)) => match *p {
            Payload::Runs(mut d) if !d.is_empty() => store(
                app.feeds.run.entry(id.clone()).or_default(),
                Ok(d.remove(0)),
                now,
            ),
            _ => (false, false),
        },
        (Source::RunMetrics(id), Ok(p)) => match *p {
            Payload::RunMetrics(d) => store(
                app.feeds.run_metrics.entry(id.clone()).or_default(),
                Ok(d),
                now,
            ),
            _ => (false, false),
        },
        (Source::Series(k), Ok(p)) => match *p {
            Payload::Series(d) => store(app.feeds.series.entry(k.clone()).or_default(), Ok(d), now),
            _ => (false, false),
        },
        (s, Err(e)) => with_feed!(app, s, |f| store_err(f, e)),
    };
    if changed {
        clamp_selection(app);
        app.dirty = true;
    }
    if was_stale != any_stale(app) {
        app.dirty = true;
    }
    if requeue {
        force(app, source.clone(), fx);
    }
}

fn store_err<T>(feed: &mut Feed<T>, e: String) -> (bool, bool) {
    feed.in_flight = false;
    let requeue = std::mem::take(&mut feed.queued);
    let changed = feed.error.as_ref() != Some(&e);
    feed.error = Some(e);
    (changed, requeue)
}

fn show(app: &mut App, view: ViewId, fx: &mut Vec<Effect>) {
    app.stack = vec![Screen::new(view.screen())];
    app.mode = Mode::Normal;
    app.pending.clear();
    app.dirty = true;
    for s in wanted(app) {
        fetch_if_stale(app, s, fx);
    }
}

fn enter(app: &mut App, fx: &mut Vec<Effect>) {
    let Some(kind) = select::drill(app, app.screen()) else {
        return;
    };
    app.stack.push(Screen::new(kind));
    app.dirty = true;
    for s in wanted(app) {
        fetch_if_stale(app, s, fx);
    }
}

fn back(app: &mut App) {
    app.dirty = true;
    if app.mode != Mode::Normal {
        app.mode = Mode::Normal;
        app.confirm = None;
        return;
    }
    if !app.screen().filter.is_empty() {
        set_filter(app, String::new());
        return;
    }
    if app.stack.len() > 1 {
        app.stack.pop();
    }
}

fn set_filter(app: &mut App, filter: String) {
    let s = app.screen_mut();
    if s.filter != filter {
        s.filter = filter;
        s.selected = 0;
        s.offset = 0;
    }
    app.dirty = true;
}

fn clamp_selection(app: &mut App) {
    let len = select::len(app, app.screen());
    let h = app.list_height();
    let s = app.screen_mut();
    if len == 0 {
        s.selected = 0;
        s.offset = 0;
        return;
    }
    s.selected = s.selected.min(len - 1);
    if s.selected < s.offset {
        s.offset = s.selected;
    } else if s.selected >= s.offset + h {
        s.offset = s.selected + 1 - h;
    }
    s.offset = s.offset.min(len.saturating_sub(1));
}

fn move_selection(app: &mut App, action: &Action) {
    if app.mode == Mode::Help {
        app.help_scroll = match action {
            Action::Up => app.help_scroll.saturating_sub(1),
            Action::Down => app.help_scroll.saturating_add(1),
            Action::PageUp => app.help_scroll.saturating_sub(10),
            Action::PageDown => app.help_scroll.saturating_add(10),
            Action::Top => 0,
            _ => app.help_scroll,
        };
        app.dirty = true;
        return;
    }
    let len = select::len(app, app.screen());
    if len == 0 {
        return;
    }
    let page = app.list_height().max(1);
    let s = app.screen_mut();
    s.selected = match action {
        Action::Up => s.selected.saturating_sub(1),
        Action::Down => (s.selected + 1).min(len - 1),
        Action::PageUp => s.selected.saturating_sub(page),
        Action::PageDown => (s.selected + page).min(len - 1),
        Action::Top => 0,
        _ => len - 1,
    };
    clamp_selection(app);
    app.dirty = true;
}

fn input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    app.dirty = true;
    match app.mode {
        Mode::Palette => palette_input(app, key, fx),
        Mode::Filter => filter_input(app, key),
        Mode::Confirm => confirm_input(app, key, fx),
        Mode::Normal | Mode::Help => {
            if app.mode == Mode::Help && matches!(key.code, KeyCode::Esc) {
                app.mode = Mode::Normal;
                return;
            }
            let k = Key::from_event(&key);
            app.pending.push(k);
            let context = app.view().context();
            match app.keymap.lookup(context, &app.pending) {
                Lookup::Action(a) => {
                    app.pending.clear();
                    // Help stays open only for scrolling and closing.
                    if app.mode == Mode::Help
                        && !matches!(
                            a,
                            Action::Up
                                | Action::Down
                                | Action::PageUp
                                | Action::PageDown
                                | Action::Top
                                | Action::ToggleHelp
                                | Action::Quit
                                | Action::Back
                        )
                    {
                        app.mode = Mode::Normal;
                    }
                    fx.extend(update(app, a));
                }
                Lookup::Pending => {}
                Lookup::None => {
                    let several = app.pending.len() > 1;
                    app.pending.clear();
                    // An unknown key after a prefix: try it alone.
                    if several && let Lookup::Action(a) = app.keymap.lookup(context, &[k]) {
                        fx.extend(update(app, a));
                    }
                }
            }
        }
    }
}

fn text_of(t: &TextArea<'_>) -> String {
    t.lines().join(" ")
}

fn palette_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let text = text_of(&app.palette);
    let options = palette::completions(&text);
    match key.code {
        KeyCode::Esc => app.mode = Mode::Normal,
        KeyCode::Up => app.palette_selected = app.palette_selected.saturating_sub(1),
        KeyCode::Down => {
            app.palette_selected = (app.palette_selected + 1).min(options.len().saturating_sub(1));
        }
        KeyCode::Tab => {
            if let Some(c) = options.get(app.palette_selected) {
                app.palette = TextArea::from([c.name.to_string()]);
                app.palette.move_cursor(ratatui_textarea::CursorMove::End);
                app.palette_selected = 0;
            }
        }
        KeyCode::Enter => {
            app.mode = Mode::Normal;
            let typed = text.trim();
            if typed.is_empty() {
                return;
            }
            let chosen = palette::exact(typed).or_else(|| {
                if options.len() == 1 {
                    options.first().copied()
                } else {
                    None
                }
            });
            if let Some(c) = chosen {
                fx.extend(update(app, c.action.clone()));
            } else {
                let hint = palette::closest(typed).map_or_else(
                    || "type : then tab to see the commands".to_string(),
                    |c| format!("did you mean :{c}?"),
                );
                app.warn(format!("unknown command \":{typed}\" — {hint}"));
            }
        }
        _ => {
            if !(key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('m')) {
                app.palette.input(key);
                app.palette_selected = 0;
            }
        }
    }
}

fn filter_input(app: &mut App, key: KeyEvent) {
    match key.code {
        KeyCode::Esc => {
            app.mode = Mode::Normal;
            set_filter(app, String::new());
        }
        KeyCode::Enter => app.mode = Mode::Normal,
        _ => {
            app.filter_input.input(key);
            let text = text_of(&app.filter_input);
            set_filter(app, text);
        }
    }
}

/// The rollout a verb applies to: the one in the detail view, or the selected row.
fn target_rollout(app: &App) -> Option<RolloutKey> {
    match &app.screen().kind {
        ScreenKind::RolloutDetail(k) => Some(k.clone()),
        ScreenKind::Rollouts | ScreenKind::Overview => select::rollouts(app, &app.screen().filter)
            .get(app.screen().selected)
            .map(|r| select::key_of(r)),
        _ => None,
    }
}

fn identity(app: &App) -> String {
    app.feeds
        .cluster
        .data
        .as_ref()
        .map_or_else(|| "unknown".into(), |s| s.identity.clone())
}

fn begin_command(app: &mut App, action: &Action) {
    app.dirty = true;
    let verb = action.description();
    if app.readonly {
        app.warn(format!("read-only mode: cannot {verb}"));
        return;
    }
    let Some(key) = target_rollout(app) else {
        app.warn(format!("select a rollout to {verb}"));
        return;
    };
    let Some(record) = select::find_rollout(app, &key).cloned() else {
        app.warn(format!("rollout {} is not loaded yet", key.name));
        return;
    };
    let user = identity(app);
    let (command, needs_comment) = match action {
        Action::Approve => (
            Command::Approve {
                user,
                comment: String::new(),
            },
            true,
        ),
        Action::Promote => (Command::Promote { full: false }, false),
        Action::PromoteFull => (Command::Promote { full: true }, false),
        Action::Abort => (
            Command::Abort {
                user,
                reason: String::new(),
            },
            true,
        ),
        Action::Rollback => (
            Command::Rollback {
                user,
                reason: String::new(),
            },
            true,
        ),
        Action::Pause => (Command::Pause { user }, false),
        _ => (Command::Resume { user }, false),
    };
    // Ask the core what would happen: a refused command is refused before any dialog.
    match rollout::apply_command(
        &record.name,
        &record.spec,
        &record.status,
        &command,
        app.now,
    ) {
        Err(e) => app.error(e.to_string()),
        Ok(decision) => {
            let champion = app
                .feeds
                .models
                .data
                .as_ref()
                .and_then(|ms| ms.iter().find(|m| m.name == record.spec.model.name))
                .and_then(|m| m.aliases.get("champion").copied());
            let preview = rollout::preview(&record.spec, &record.status, &decision, champion);
            let mut comment = TextArea::default();
            comment.set_placeholder_text(if needs_comment {
                "a comment is required"
            } else {
                "optional comment"
            });
            app.confirm = Some(Confirm {
                title: format!("{} {} ({})", command.verb(), record.name, record.cluster),
                target: key,
                command,
                preview,
                comment,
                needs_comment,
                error: None,
            });
            app.mode = Mode::Confirm;
        }
    }
}

fn confirm_input(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(confirm) = app.confirm.as_mut() else {
        app.mode = Mode::Normal;
        return;
    };
    match key.code {
        KeyCode::Esc => {
            app.confirm = None;
            app.mode = Mode::Normal;
            app.info("cancelled: nothing changed");
        }
        KeyCode::Enter => {
            let comment = text_of(&confirm.comment).trim().to_string();
            if confirm.needs_comment && comment.is_empty() {
                confirm.error = Some("a comment is required for the audit trail".into());
                return;
            }
            let mut command = confirm.command.clone();
            match &mut command {
                Command::Approve { comment: c, .. } => c.clone_from(&comment),
                Command::Abort { reason, .. } | Command::Rollback { reason, .. } => {
                    reason.clone_from(&comment);
                }
                _ => {}
            }
            let target = confirm.target.clone();
            app.info(format!("sending {} to {}…", command.verb(), target.name));
            app.confirm = None;
            app.mode = Mode::Normal;
            fx.push(Effect::Command { target, command });
        }
        _ => {
            confirm.comment.input(key);
            confirm.error = None;
        }
    }
}

#[cfg(test)]
mod tests;
