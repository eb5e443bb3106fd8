//! What `?` shows, as data: the keys of the active keymap (everywhere, then this view's), the
//! columns this view sorts by, the filter syntax, the palette's commands and a legend of every
//! symbol the screens use. The overlay draws it; `update` bounds its scrolling by its length.

use super::{palette, rows, screens::ViewId, state::App};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    Heading(String),
    /// Keys (or a term) and what they do.
    Entry(String, String),
    Note(String),
    Blank,
}

/// Every line of the help for the screen on show.
pub fn lines(app: &App) -> Vec<HelpLine> {
    let mut out = keys(app);
    sorts(app, &mut out);
    filter(&mut out);
    commands(&mut out);
    symbols(&mut out);
    out.push(HelpLine::Blank);
    out.push(HelpLine::Note(format!(
        "keymap: {} · theme: {} · ↑↓ pgup pgdn home end scroll · esc close",
        app.prefs.keymap.name, app.prefs.theme.name
    )));
    if !app.prefs.config_errors.is_empty() {
        out.push(HelpLine::Note(format!(
            "{} config error(s): :messages lists them; `mlops config check` too",
            app.prefs.config_errors.len()
        )));
    }
    out
}

/// The keys of the active keymap: this view's, then everywhere's.
fn keys(app: &App) -> Vec<HelpLine> {
    let view = app.view();
    let mut out = Vec::new();
    let mut section = String::new();
    for (sec, keys, action) in app.prefs.keymap.bindings(view.context()) {
        if sec != section {
            if !section.is_empty() {
                out.push(HelpLine::Blank);
            }
            out.push(HelpLine::Heading(if sec == "global" {
                "everywhere".to_string()
            } else {
                format!("in {}", view.title())
            }));
            section = sec;
        }
        out.push(HelpLine::Entry(
            keys.join("  "),
            action.description().to_string(),
        ));
    }
    out
}

/// The columns the screen sorts by, with their keys.
fn sorts(app: &App, out: &mut Vec<HelpLine>) {
    let sorts: Vec<HelpLine> = rows::sortable(app, app.screen())
        .into_iter()
        .map(|(_, header, k)| {
            HelpLine::Entry(
                format!("shift-{}", k.to_ascii_lowercase()),
                header.to_string(),
            )
        })
        .collect();
    if !sorts.is_empty() {
        out.push(HelpLine::Blank);
        out.push(HelpLine::Heading(
            "sort (again: reverse; the header shows ↑ or ↓)".into(),
        ));
        out.extend(sorts);
    }
}

/// The filter's syntax.
fn filter(out: &mut Vec<HelpLine>) {
    out.push(HelpLine::Blank);
    out.push(HelpLine::Heading(
        "filter (/): every term must match".into(),
    ));
    for (term, what) in [
        ("fraud uae", "words anywhere in the row"),
        ("!canary", "rows without the word"),
        ("/^churn.*v4$/", "a regular expression (!/…/ inverts)"),
        ("phase:Failed", "a column contains a value"),
        ("weight>=50 psi>0.1", "numbers compared (> >= < <= =)"),
        ("esc / ctrl-u", "clear the filter"),
    ] {
        out.push(HelpLine::Entry(term.into(), what.into()));
    }
}

/// The palette's commands.
fn commands(out: &mut Vec<HelpLine>) {
    out.push(HelpLine::Blank);
    out.push(HelpLine::Heading(
        "commands (:), with tab to complete".into(),
    ));
    for c in palette::COMMANDS.iter() {
        out.push(HelpLine::Entry(
            format!(":{}{}", c.name, c.args),
            c.help.to_string(),
        ));
    }
}

/// Every symbol the screens use.
fn symbols(out: &mut Vec<HelpLine>) {
    out.push(HelpLine::Blank);
    out.push(HelpLine::Heading("symbols".into()));
    for (sym, what) in [
        (
            "✓ pass  ✗ fail  ? inconclusive",
            "the latest analysis round",
        ),
        ("▲ ● ▼", "lineage: upstream, the version, downstream"),
        (
            "├ └",
            "lineage: a node under its parent, the last of its kind",
        ),
        ("⏎", "enter opens it"),
        ("↑ ↓", "the column the list is sorted by"),
        ("█▏·", "a bar: the filled share, the rest"),
        ("▁▂▃▅▇", "a trend, oldest to newest"),
        (
            "●",
            "status bar: a backend is up (green), down (red) or not configured (grey)",
        ),
        ("IDLE", "a GPU allocated to a pod but under 5% utilisation"),
        ("XID n", "the GPU driver reported fault n"),
        (
            "Pausing 85s",
            "a timed pause step, unlike an operator's Paused",
        ),
        ("⚠", "a backend is down; its data is greyed with its age"),
    ] {
        out.push(HelpLine::Entry(sym.into(), what.into()));
    }
}

/// The help's box width in a terminal `app.size.0` columns wide.
pub fn box_width(app: &App) -> u16 {
    app.size.0.min(84)
}

/// The help as its box draws it: every description, note and heading wrapped to the box
/// (nothing cut; a description's further rows start under its first, with no keys), and the
/// width of the keys column.
pub fn rows(app: &App) -> (Vec<HelpLine>, usize) {
    let lines = lines(app);
    let inner_w = usize::from(box_width(app).saturating_sub(2));
    // Keys get what the longest needs, at most 40% of the box; descriptions the rest.
    let keys_w = lines
        .iter()
        .filter_map(|l| match l {
            HelpLine::Entry(k, _) => Some(k.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(8)
        .min(inner_w * 2 / 5);
    let text_w = inner_w.saturating_sub(keys_w + 3).max(10);
    let wrap = mlops_core::text::wrap;
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        match l {
            HelpLine::Heading(h) => {
                out.extend(wrap(&h, inner_w).into_iter().map(HelpLine::Heading));
            }
            HelpLine::Note(n) => out.extend(wrap(&n, inner_w).into_iter().map(HelpLine::Note)),
            HelpLine::Entry(k, text) => {
                for (i, row) in wrap(&text, text_w).into_iter().enumerate() {
                    let keys = if i == 0 { k.clone() } else { String::new() };
                    out.push(HelpLine::Entry(keys, row));
                }
            }
            HelpLine::Blank => out.push(HelpLine::Blank),
        }
    }
    (out, keys_w)
}

/// Lines the help overlay shows at once in a terminal `height` rows tall.
pub fn visible(height: u16) -> usize {
    usize::from(height.saturating_sub(4)).max(1)
}

/// The furthest the help can scroll: its last line at the bottom.
pub fn max_scroll(app: &App) -> u16 {
    let n = rows(app).0.len();
    u16::try_from(n.saturating_sub(visible(body_height(app)))).unwrap_or(u16::MAX)
}

/// The rows the help is drawn in: the terminal less the tab bar, the breadcrumb and the status
/// bar.
pub fn body_height(app: &App) -> u16 {
    app.size.1.saturating_sub(3)
}

/// The view whose section the help shows.
pub fn section_view(app: &App) -> ViewId {
    app.view()
}
