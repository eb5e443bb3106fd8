//! The status bar: context and identity, each backend's connection state, who drives rollouts,
//! data freshness, a marker for unread config errors; a message takes the bar after the context
//! until it expires (all of them stay in `:messages`). In filter mode it is the filter prompt,
//! with what the filter could not make sense of.

use mlops_core::model::Driver;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
};

use ratatui_textarea::TextArea;

use super::widgets::age;
use crate::app::{
    App,
    feeds::Backend,
    state::{Level, Message, Overlay, Prompt},
};

/// The status bar; `search` is what a detail screen's search found (see `ui::search`).
pub fn render(app: &App, frame: &mut Frame, area: Rect, search: Option<&str>) {
    frame.render_widget(
        crate::ui::widgets::paragraph("").style(app.prefs.theme.status_bar),
        area,
    );
    match &app.overlay {
        Some(Overlay::Prompt(p)) => prompt(app, frame, area, p),
        Some(Overlay::Filter { input, .. }) => filter(app, frame, area, input, search),
        _ => match &app.message {
            Some(m) => message(app, frame, area, m),
            None => normal(app, frame, area),
        },
    }
}

/// A one-line question at the bottom: its label, then the answer being typed.
fn prompt(app: &App, frame: &mut Frame, area: Rect, p: &Prompt) {
    let t = &app.prefs.theme;
    let width = u16::try_from(p.label.chars().count() + 2).unwrap_or(20);
    let [label, input] =
        Layout::horizontal([Constraint::Length(width), Constraint::Min(1)]).areas(area);
    frame.render_widget(
        crate::ui::widgets::paragraph(Span::styled(format!(" {} ", p.label), t.status_key)),
        label,
    );
    let mut ta = p.input.clone();
    ta.set_style(t.status_bar);
    ta.set_cursor_line_style(t.status_bar);
    frame.render_widget(&ta, input);
}

/// The filter being typed, with what it could not make sense of on the right.
/// On a detail or raw screen `/` searches: the bar says so, and what the search found.
fn filter(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    typed: &TextArea<'static>,
    search: Option<&str>,
) {
    let t = &app.prefs.theme;
    let [label, input] =
        Layout::horizontal([Constraint::Length(9), Constraint::Min(1)]).areas(area);
    let name = if app.screen().kind.is_list() {
        " filter /"
    } else {
        " search /"
    };
    frame.render_widget(
        crate::ui::widgets::paragraph(Span::styled(name, t.status_key)),
        label,
    );
    let problems = crate::app::rows::filter_problems(app, app.screen());
    let [text, why] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(if problems.is_empty() && search.is_none() {
            0
        } else {
            input.width / 2
        }),
    ])
    .areas(input);
    if let Some(found) = search {
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled(format!("{found} "), t.status_bar))
                .alignment(ratatui::layout::Alignment::Right),
            why,
        );
    }
    let mut ta = typed.clone();
    ta.set_style(t.status_bar);
    ta.set_cursor_line_style(t.status_bar);
    frame.render_widget(&ta, text);
    if !problems.is_empty() {
        // The bar says how many; the box above it says what, wrapped (the list of fields a
        // filter takes is what a cut in the middle used to hide).
        let count = match problems.len() {
            1 => "⚠ the filter has a problem (above) ".to_string(),
            n => format!("⚠ the filter has {n} problems (above) "),
        };
        frame.render_widget(
            crate::ui::widgets::paragraph(Span::styled(
                super::table::elide(
                    &count,
                    usize::from(why.width),
                    crate::app::rows::table::Elide::End,
                ),
                t.warn,
            ))
            .alignment(ratatui::layout::Alignment::Right),
            why,
        );
    }
}

/// While the filter is typed, what it could not make sense of, wrapped in a box over the bottom
/// of `body` (just above the bar): nothing is cut.
pub fn filter_problems(app: &App, frame: &mut Frame, body: Rect) {
    let problems = crate::app::rows::filter_problems(app, app.screen());
    if problems.is_empty() || body.width < 10 {
        return;
    }
    let t = &app.prefs.theme;
    let inner_width = usize::from(body.width.saturating_sub(2)).max(1);
    let lines: Vec<Line> = problems
        .iter()
        .map(|p| Line::from(Span::styled(format!("⚠ {p}"), t.warn)))
        .collect();
    // Rows the wrapped text takes (by characters: these messages are ASCII and names).
    let rows: usize = problems
        .iter()
        .map(|p| (p.chars().count() + 2).div_ceil(inner_width).max(1))
        .sum();
    let height = u16::try_from(rows + 2)
        .unwrap_or(u16::MAX)
        .min(body.height / 2)
        .max(3);
    let area = Rect {
        x: body.x,
        y: body.y + body.height.saturating_sub(height),
        width: body.width,
        height: height.min(body.height),
    };
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(crate::ui::widgets::titled_block(app, "filter", false)),
        area,
    );
}

/// The context the console talks to, first on the bar.
fn context(app: &App) -> Span<'static> {
    Span::styled(
        format!(
            " ⎈ {} ",
            app.backends.cluster.as_deref().unwrap_or("no cluster")
        ),
        app.prefs.theme.status_key,
    )
}

/// The characters a message has on a bar `width` wide, after the context and its separator.
fn message_room(app: &App, width: u16) -> usize {
    usize::from(width).saturating_sub(context(app).content.chars().count() + 4)
}

/// A message gets the whole bar after the context, with a separator: nothing overwrites it.
fn message(app: &App, frame: &mut Frame, area: Rect, m: &Message) {
    let t = &app.prefs.theme;
    let context = context(app);
    let style = super::widgets::level_style(app, m.level);
    let room = message_room(app, area.width);
    let line = Line::from(vec![
        context,
        Span::styled(" │ ", t.status_bar),
        Span::styled(
            super::table::elide(&m.text, room, crate::app::rows::table::Elide::End),
            style,
        ),
    ]);
    frame.render_widget(
        crate::ui::widgets::paragraph(line).style(t.status_bar),
        area,
    );
}

/// A warning or error too long for the bar, wrapped whole in a box over the bottom of `body` (just
/// above the bar, which shows its start): a refusal's reason is at its end, where a cut hid it.
pub fn message_overflow(app: &App, frame: &mut Frame, body: Rect) {
    let Some(m) = &app.message else {
        return;
    };
    // Warnings and errors: what was refused and why. Information is cut at the end.
    if app.overlay.is_some() || body.width < 10 || m.level == Level::Info {
        return;
    }
    if m.text.chars().count() <= message_room(app, body.width) {
        return;
    }
    let style = super::widgets::level_style(app, m.level);
    let rows = mlops_core::text::wrap(&m.text, usize::from(body.width.saturating_sub(2)));
    let height = u16::try_from(rows.len() + 2)
        .unwrap_or(u16::MAX)
        .min(body.height);
    let area = Rect {
        y: body.y + body.height.saturating_sub(height),
        height,
        ..body
    };
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(
        crate::ui::widgets::paragraph(
            rows.into_iter()
                .map(|l| Line::from(Span::styled(l, style)))
                .collect::<Vec<_>>(),
        )
        .block(crate::ui::widgets::titled_block(
            app,
            "message (:messages keeps it)",
            false,
        )),
        area,
    );
}

/// The bar with nothing to say: who and where, each backend's state, who drives rollouts,
/// read-only and config markers on the left; freshness and the main keys on the right.
fn normal(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let left = left_spans(app, area.width >= 110);
    let right = if let Some(stale) = staleness(app) {
        Span::styled(format!("stale {stale} "), t.warn)
    } else {
        let live = if crate::app::rows::wanted::oldest_live_update(app).is_some()
            && crate::app::rows::wanted::watch_trouble(app).is_empty()
        {
            "● live  "
        } else {
            ""
        };
        Span::styled(format!("{live}? help  : command  / filter "), t.status_bar)
    };
    let right_width = u16::try_from(right.content.chars().count())
        .unwrap_or(u16::MAX)
        .min(area.width / 2 + 1);
    let [l, r] =
        Layout::horizontal([Constraint::Min(1), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(
        crate::ui::widgets::paragraph(Line::from(left)).style(t.status_bar),
        l,
    );
    frame.render_widget(
        crate::ui::widgets::paragraph(Line::from(right))
            .style(t.status_bar)
            .alignment(ratatui::layout::Alignment::Right),
        r,
    );
}

fn left_spans(app: &App, wide: bool) -> Vec<Span<'static>> {
    let t = &app.prefs.theme;
    let mut left = vec![context(app)];
    if let Some(id) = app
        .feeds
        .cluster
        .data
        .as_ref()
        .map(|s| s.identity.as_str())
        .filter(|s| !s.is_empty())
    {
        left.push(Span::styled(
            format!(" {} ", mlops_core::text::line(id)),
            t.status_bar,
        ));
    }
    for b in Backend::ALL {
        let (dot, style) = if app.backends.describe(b).is_none() {
            ("○", t.muted)
        } else if app.backend_error(b).is_some() {
            ("✗", t.err)
        } else {
            ("●", t.ok)
        };
        left.push(Span::styled(format!(" {} ", b.label()), t.status_bar));
        left.push(Span::styled(
            dot,
            style.patch(
                ratatui::style::Style::default()
                    .bg(t.status_bar.bg.unwrap_or(ratatui::style::Color::Reset)),
            ),
        ));
    }
    if let Some(s) = app.feeds.cluster.data.as_ref().filter(|_| wide) {
        let driver = match &s.driver {
            Driver::Embedded => "  rollouts: embedded core".to_string(),
            Driver::Nobody => "  rollouts: no controller".to_string(),
            Driver::Controller { holder } => format!("  rollouts: controller {holder}"),
        };
        left.push(Span::styled(driver, t.status_bar));
    }
    if let Some(marker) = watch_marker(app) {
        left.push(Span::styled(marker, t.warn));
    }
    // First, so a narrow terminal still shows it. With one cluster the watches' marker says it
    // (and its rows are greyed).
    if let Some(stale) = app
        .feeds
        .cluster
        .data
        .as_ref()
        .filter(|s| s.clusters.len() > 1)
        .and_then(stale_clusters)
    {
        left.insert(0, Span::styled(stale, t.warn));
    }
    if app.prefs.readonly {
        left.push(Span::styled(" READ-ONLY ", t.warn));
    }
    // Config errors stay on the bar until `:messages` has shown them.
    if !app.prefs.config_errors.is_empty() && !app.config_seen {
        left.push(Span::styled(
            format!(
                " ⚠ {} config error(s) — :messages ",
                app.prefs.config_errors.len()
            ),
            t.warn,
        ));
    }
    left
}

/// The clusters whose rows are greyed, and why: ` ⚠ eu-west down: tcp connect error… (+1)`.
fn stale_clusters(s: &mlops_core::model::ClusterSnapshot) -> Option<String> {
    let mut stale = s.stale_clusters();
    let first = stale.next()?;
    let more = stale.count();
    let why = first.health.reason().unwrap_or_default();
    let why = if why == first.health.word() {
        String::new()
    } else {
        format!(": {}", mlops_core::text::truncate(why, 60))
    };
    let more = if more > 0 {
        format!(" (+{more} more, :ctx)")
    } else {
        String::new()
    };
    Some(format!(
        " ⚠ {} {}{why}{more} ",
        first.name,
        first.health.word()
    ))
}

/// The age of the oldest live data, when it is older than three refresh intervals.
fn staleness(app: &App) -> Option<String> {
    let oldest = crate::app::rows::wanted::oldest_live_update(app)?;
    (app.now - oldest >= app.prefs.refresh * 3).then(|| age(app.now, oldest))
}

/// The watch in trouble first, on the bar: "⟳ pods reconnecting, stale 12s" or "⛔ pods
/// forbidden", and how many more (`:messages` lists every watch).
pub fn watch_marker(app: &App) -> Option<String> {
    use mlops_core::model::WatchState;
    let trouble = crate::app::rows::wanted::watch_trouble(app);
    let first = trouble.first()?;
    let multi = app
        .feeds
        .cluster
        .data
        .as_ref()
        .is_some_and(|s| s.clusters.len() > 1);
    let name = if multi {
        format!("{}/{}", first.cluster, first.resource.plural())
    } else {
        first.resource.plural().to_string()
    };
    let what = match &first.state {
        WatchState::Reconnecting { since, .. } => {
            format!("⟳ {name} reconnecting, stale {}", age(app.now, *since))
        }
        _ => format!("⛔ {name} forbidden"),
    };
    let more = match trouble.len() {
        1 => String::new(),
        n => format!(" (+{} more, :messages)", n - 1),
    };
    Some(format!("  {what}{more} "))
}
