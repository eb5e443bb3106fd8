//! Lists as responsive tables: the columns a list defines (`app::rows::<view>::columns`) laid out in the
//! width there is — the least important dropped first, numbers formatted to fit (never cut), names
//! shortened with `…` where the distinguishing part stays visible — with the sort indicator in the
//! header and the selected row drawn in the selection style (its cells' own colours give way, so
//! it stays legible).

use ratatui::{
    Frame,
    layout::{Alignment, Constraint, Rect},
    style::Style,
    text::{Line, Span, Text},
    widgets::{Block, Cell, Row, Table, TableState},
};

use super::widgets::{empty_state, feed_block, window};
use crate::app::{
    App,
    feeds::{Backend, Feed},
    rows::table::{Column, Elide, Sort, Value, Width},
};

/// Cells between columns.
const SPACING: u16 = 1;

/// The longest list whose every row is measured for its names' widths (longer lists: the rows
/// on screen).
const MEASURED: usize = 2_000;

/// The columns that fit in `width`, and the width each gets. Every column needs its minimum
/// (and its header); a column of names also wants what its content needs (`desired`, e.g. the
/// longest name on screen), so the least important columns (the highest priority numbers; the
/// rightmost first among equals) are dropped before a name is shortened.
/// What is left is shared by the flexible columns up to their maximum.
pub fn fit_columns<T>(columns: &[Column<T>], width: u16, desired: &[u16]) -> Vec<(usize, u16)> {
    let floor = |i: usize| {
        let c = &columns[i];
        let header = u16::try_from(c.header.chars().count()).unwrap_or(u16::MAX);
        c.width.min().max(header.min(8))
    };
    let want = |i: usize| {
        let c = &columns[i];
        match c.width {
            // Names want to be whole; prose (cut at the end) takes what is left.
            Width::Flex { max, .. } if c.elide == Elide::Middle => {
                let d = desired.get(i).copied().unwrap_or(0);
                let d = if max > 0 { d.min(max) } else { d };
                floor(i).max(d)
            }
            _ => floor(i),
        }
    };
    let gaps = |n: usize| SPACING * u16::try_from(n.saturating_sub(1)).unwrap_or(u16::MAX);
    let need = |kept: &[usize], f: &dyn Fn(usize) -> u16| -> u16 {
        kept.iter().map(|i| f(*i)).sum::<u16>() + gaps(kept.len())
    };
    let mut kept: Vec<usize> = (0..columns.len()).collect();
    // Drop the least important columns while the wanted widths do not fit.
    while kept.len() > 1 && need(&kept, &want) > width {
        let Some(drop) = kept
            .iter()
            .enumerate()
            .filter(|(_, i)| columns[**i].priority > 0)
            .max_by_key(|(pos, i)| (columns[**i].priority, *pos))
            .map(|(pos, _)| pos)
        else {
            break;
        };
        kept.remove(drop);
    }
    // What is left fits at the wanted widths, or — only the essential columns left — at less.
    let base: &dyn Fn(usize) -> u16 = if need(&kept, &want) <= width {
        &want
    } else {
        &floor
    };
    let mut widths: Vec<(usize, u16)> = kept.iter().map(|i| (*i, base(*i))).collect();
    let mut left = width.saturating_sub(need(&kept, base));
    // Share what is left, a cell at a time: first to the names still short of what they need
    // (an identifier is what gets copied into kubectl; it wins width over prose), then among
    // the prose columns (a comment, a message), then among every flexible column, each up to
    // its maximum.
    for pass in [Grow::NamesToWant, Grow::Prose, Grow::Any] {
        while left > 0 {
            let mut grew = false;
            for (i, w) in &mut widths {
                if left == 0 {
                    break;
                }
                let c = &columns[*i];
                let Width::Flex { max, .. } = c.width else {
                    continue;
                };
                let room = match pass {
                    Grow::NamesToWant => c.elide == Elide::Middle && *w < want(*i),
                    Grow::Prose => c.elide == Elide::End,
                    Grow::Any => true,
                };
                if room && (max == 0 || *w < max) {
                    *w += 1;
                    left -= 1;
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
    }
    widths
}

/// The passes that share a table's spare width.
#[derive(Clone, Copy)]
enum Grow {
    NamesToWant,
    Prose,
    Any,
}

/// `text` in at most `width` cells, cut as the column says (made safe for a terminal first, so
/// a cut never splits an escape sequence into visible pieces).
pub fn elide(text: &str, width: usize, how: Elide) -> String {
    let text = &*mlops_core::text::line(text);
    match how {
        Elide::Middle => shorten(text, width),
        Elide::End => {
            if text.chars().count() <= width {
                text.to_string()
            } else if width == 0 {
                String::new()
            } else {
                let mut t: String = text.chars().take(width - 1).collect();
                t.push('…');
                t
            }
        }
    }
}

/// `text` in at most `width` cells: as is when it fits, else shortened in the middle with `…`,
/// keeping more of the end (where names differ: `uae-prod-gpu-2` → `uae…gpu-2`). Made safe
/// for a terminal first, as [`elide`].
pub fn shorten(text: &str, width: usize) -> String {
    let text = &*mlops_core::text::line(text);
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    match width {
        0 => String::new(),
        1 => "…".into(),
        _ => {
            let keep = width - 1;
            let head = keep / 3;
            let tail = keep - head;
            let start: String = text.chars().take(head).collect();
            let end: String = text.chars().skip(n - tail).collect();
            format!("{start}…{end}")
        }
    }
}

/// A number's text in at most `width` cells without changing its meaning: fewer decimals, then
/// scientific notation (`0.0244` → `2.4e-2`); never cut. `text` is how the column prints it.
pub fn fit_number(value: f64, text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if !value.is_finite() {
        return shorten(text, width);
    }
    // Fewer decimals, as long as the number still says what it is (within 5%).
    let faithful = |t: &str| {
        t.parse::<f64>()
            .is_ok_and(|p| (p - value).abs() <= 0.05 * value.abs().max(f64::MIN_POSITIVE))
    };
    for decimals in (0..=6).rev() {
        let t = format!("{value:.decimals$}");
        if t.chars().count() <= width && faithful(&t) {
            return t;
        }
    }
    for precision in (0..3).rev() {
        let t = format!("{value:.precision$e}");
        if t.chars().count() <= width {
            return t;
        }
    }
    // Not even `1e-9` fits: say so rather than show a wrong number.
    "#".repeat(width.max(1))
}

/// One column's value as plain text in `width` cells.
pub fn fit_value(v: &Value, width: u16, how: Elide) -> String {
    let w = usize::from(width);
    match v.number {
        Some(n) => fit_number(n, &v.text, w),
        None => elide(&v.text, w, how),
    }
}

/// What a list view shows around its rows.
pub struct TableSpec<'a, T> {
    pub title: String,
    pub backend: Backend,
    /// What the rows are, for the empty state ("no rollouts", "loading runs…").
    pub what: &'static str,
    pub columns: Vec<Column<T>>,
    /// A line on the bottom border (e.g. counts by phase, the audit chain's verdict).
    pub bottom: Option<Line<'a>>,
    pub sort: Option<Sort>,
    /// Draw the block as focused; an unfocused list shows no selection.
    pub focused: bool,
}

/// A list view: the feed's block, the visible window of `items` as rows in the columns that fit
/// (the selected one in the selection style), or the empty state that says why there is nothing.
/// `cell` draws a column of a row in the width it got; `None` draws its value as text.
pub fn render_table<'a, T>(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    feed: &Feed<impl Sized>,
    spec: TableSpec<'a, T>,
    items: &[&T],
    cell: impl Fn(&T, &Column<T>, u16) -> Option<Cell<'a>>,
) {
    let t = &app.prefs.theme;
    let (mut block, greyed) = feed_block(app, &spec.title, feed, spec.backend, spec.focused);
    if let Some(bottom) = spec.bottom {
        block = block.title_bottom(super::widgets::safe_line(bottom));
    }
    if items.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(empty_state(app, feed, spec.backend, spec.what), inner);
        return;
    }
    let inner = block.inner(area);
    let (offset, height) = if spec.focused {
        window(app, area, items.len())
    } else {
        (0, usize::from(area.height.saturating_sub(3)))
    };
    // What the names need, so they are shown whole when the width allows: measured over the
    // whole list, so the columns stay put as it scrolls (measured over the rows on screen, TEMP
    // came and went as longer model names scrolled by); a list longer than `MEASURED` is
    // measured on screen, to keep a frame of 20,000 pods cheap.
    let (from, count) = if items.len() <= MEASURED {
        (0, items.len())
    } else {
        (offset, height)
    };
    let desired: Vec<u16> = spec
        .columns
        .iter()
        .map(|c| {
            if c.elide != Elide::Middle || !matches!(c.width, Width::Flex { .. }) {
                return 0;
            }
            items
                .iter()
                .skip(from)
                .take(count)
                .map(|item| (c.value)(item).text.chars().count())
                .max()
                .map_or(0, |n| u16::try_from(n).unwrap_or(u16::MAX))
        })
        .collect();
    let fitted = fit_columns(&spec.columns, inner.width, &desired);
    let header = Row::new(fitted.iter().map(|(i, w)| {
        let c = &spec.columns[*i];
        let arrow = match spec.sort {
            Some(s) if s.field == c.field => {
                if s.descending {
                    "↓"
                } else {
                    "↑"
                }
            }
            _ => "",
        };
        // A header too long for its column is cut at its end, the sort arrow kept after the
        // `…` (it read `AC…RACY↑`).
        let w = usize::from(*w);
        let label = if c.header.chars().count() + arrow.chars().count() <= w {
            format!("{}{arrow}", c.header)
        } else {
            let room = w.saturating_sub(arrow.chars().count());
            format!("{}{arrow}", elide(c.header, room, Elide::End))
        };
        aligned(label, c.right, t.header)
    }))
    .style(t.header);
    let stale = stale_rows(app, &spec.columns);
    let rows: Vec<Row> = items
        .iter()
        .skip(offset)
        .take(height)
        .map(|item| {
            // A row of a cluster that is down or forbidden: its last values, greyed.
            let greyed = stale.as_ref().is_some_and(|is_stale| is_stale(item));
            Row::new(fitted.iter().map(|(i, w)| {
                let c = &spec.columns[*i];
                let plain = if greyed { t.greyed } else { t.text };
                cell(item, c, *w).unwrap_or_else(|| {
                    aligned(fit_value(&(c.value)(item), *w, c.elide), c.right, plain)
                })
            }))
            .style(if greyed { t.greyed } else { Style::default() })
        })
        .collect();
    let widths: Vec<Constraint> = fitted.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    let selected = spec
        .focused
        .then(|| app.screen().selected.checked_sub(offset))
        .flatten();
    let mut state = TableState::default().with_selected(selected).with_offset(0);
    let mut table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(SPACING)
        .row_highlight_style(t.selection);
    if greyed {
        table = table.style(t.greyed);
    }
    frame.render_stateful_widget(table, area, &mut state);
}

/// Whether a row is of a cluster whose rows are stale (down, forbidden, connecting), when the
/// list has a `cluster` column and some cluster is stale; `None` otherwise (the usual case, at
/// no cost per row).
fn stale_rows<'c, T>(app: &App, columns: &'c [Column<T>]) -> Option<impl Fn(&T) -> bool + 'c> {
    let snapshot = app.feeds.cluster.data.as_ref()?;
    let stale: Vec<String> = snapshot.stale_clusters().map(|c| c.name.clone()).collect();
    if stale.is_empty() {
        return None;
    }
    let column = columns.iter().find(|c| c.field == "cluster")?;
    Some(move |item: &T| {
        let name = (column.value)(item).text;
        stale.contains(&name)
    })
}

/// Text in a cell, right-aligned for numbers.
pub fn aligned<'a>(text: String, right: bool, style: Style) -> Cell<'a> {
    let line = Line::from(Span::styled(text, style));
    Cell::from(Text::from(if right {
        line.alignment(Alignment::Right)
    } else {
        line
    }))
}

/// A block for a table drawn without a feed (e.g. the messages list).
pub fn plain_block<'a>(app: &App, title: &str) -> Block<'a> {
    super::widgets::titled_block(app, title, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header row (the line under the top border) of `items` drawn as a table `width`
    /// columns wide.
    fn header_row<T>(
        app: &App,
        columns: Vec<Column<T>>,
        items: &[&T],
        sort: Option<Sort>,
        width: u16,
    ) -> String {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, 12)).expect("tty");
        terminal
            .draw(|f| {
                let spec = TableSpec {
                    title: "list".into(),
                    backend: Backend::Cluster,
                    what: "rows",
                    columns,
                    bottom: None,
                    sort,
                    focused: true,
                };
                render_table(
                    app,
                    f,
                    f.area(),
                    &app.feeds.cluster,
                    spec,
                    items,
                    |_, _, _| None,
                );
            })
            .expect("draw");
        let b = terminal.backend().buffer();
        (1..width - 1)
            .map(|x| b[(x, 1)].symbol().to_string())
            .collect()
    }

    /// UX walk L / item 2: the columns came and went as a list scrolled (the GPUs view lost
    /// TEMP when longer model names came on screen): names are measured over the whole list.
    #[test]
    fn columns_stay_put_while_a_list_scrolls() {
        let name = |s: &String| Value::text(s.clone());
        let columns = || {
            vec![
                Column {
                    field: "name",
                    header: "NAME",
                    sort_key: None,
                    priority: 0,
                    width: Width::Flex { min: 6, max: 0 },
                    right: false,
                    elide: Elide::Middle,
                    value: Box::new(name),
                },
                Column {
                    field: "temp",
                    header: "TEMP",
                    sort_key: None,
                    priority: 2,
                    width: Width::Fixed(5),
                    right: true,
                    elide: Elide::End,
                    value: Box::new(|_: &String| Value::number(71.0, "71°C")),
                },
            ]
        };
        // Short names first; the long ones only come on screen at the end of the list.
        let names: Vec<String> = (0..30)
            .map(|i| {
                if i < 25 {
                    format!("gpu-{i}")
                } else {
                    format!("a-much-longer-model-name-{i}")
                }
            })
            .collect();
        let items: Vec<&String> = names.iter().collect();
        let mut app = crate::testing::demo_app((32, 12));
        let header = |app: &App| header_row(app, columns(), &items, None, 32);
        // Too narrow for the longest name and TEMP: the name wins (identifiers win width), from
        // the top of the list on, not only once it scrolls into view.
        let top = header(&app);
        app.screen_mut().selected = 29;
        assert_eq!(header(&app), top, "the header changed as the list scrolled");
    }

    /// UX walk M7: a sorted header too long for its column read `AC…RACY↑`: it is cut at its
    /// end now, the arrow kept.
    #[test]
    fn a_sorted_header_too_long_is_cut_at_its_end_with_its_arrow() {
        let columns = || {
            vec![Column {
                field: "accuracy",
                header: "ACCURACY",
                sort_key: Some('A'),
                priority: 0,
                width: Width::Fixed(8),
                right: true,
                elide: Elide::End,
                value: Box::new(|v: &f64| Value::number(*v, format!("{v:.4}"))),
            }]
        };
        let values = [0.9, 0.8];
        let items: Vec<&f64> = values.iter().collect();
        let app = crate::testing::demo_app((20, 8));
        let sort = Some(Sort {
            field: "accuracy",
            descending: false,
        });
        let header = header_row(&app, columns(), &items, sort, 10);
        assert_eq!(header, "ACCURA…↑");
    }

    #[test]
    fn names_keep_their_distinguishing_end() {
        assert_eq!(shorten("uae-prod-gpu-2", 9), "ua…-gpu-2");
        assert_eq!(shorten("short", 9), "short");
        assert_eq!(shorten("abcdef", 1), "…");
    }

    #[test]
    fn numbers_fit_without_changing_meaning() {
        assert_eq!(fit_number(0.0244, "2.44e-2", 8), "2.44e-2");
        assert_eq!(fit_number(0.0244, "0.024400", 6), "0.0244");
        assert_eq!(fit_number(0.0244, "0.024400", 5), "0.024");
        assert_eq!(fit_number(0.000_039_3, "0.0000393", 6), "3.9e-5");
        assert_eq!(fit_number(0.000_039_3, "0.0000393", 4), "4e-5");
        assert_eq!(fit_number(123_456.0, "123456.00", 6), "123456");
        assert_eq!(fit_number(1.0e9, "1000000000", 4), "1e9");
        let p = fit_number(0.0939, "9.39e-2", 5);
        assert!(p == "0.094" || p == "9e-2", "{p}");
    }

    #[test]
    fn narrow_tables_drop_the_least_important_columns_first() {
        let col = |field, priority, width| Column::<()> {
            field,
            header: field,
            sort_key: None,
            priority,
            width,
            right: false,
            elide: Elide::Middle,
            value: Box::new(|()| Value::text("")),
        };
        let columns = vec![
            col("name", 0, Width::Flex { min: 10, max: 0 }),
            col("cluster", 3, Width::Fixed(9)),
            col("phase", 0, Width::Fixed(16)),
            col("age", 5, Width::Fixed(4)),
        ];
        let wide = fit_columns(&columns, 60, &[]);
        assert_eq!(wide.len(), 4);
        assert_eq!(
            wide.iter().map(|(_, w)| *w).sum::<u16>() + 3,
            60,
            "{wide:?}"
        );
        let narrow: Vec<&str> = fit_columns(&columns, 30, &[])
            .iter()
            .map(|(i, _)| columns[*i].field)
            .collect();
        assert_eq!(narrow, ["name", "phase"]);
        // A long name is shown whole before a low-priority column is kept.
        let desired = [24, 0, 0, 0];
        let fitted = fit_columns(&columns, 51, &desired);
        let kept: Vec<&str> = fitted.iter().map(|(i, _)| columns[*i].field).collect();
        assert_eq!(kept, ["name", "cluster", "phase"], "{fitted:?}");
        assert_eq!(fitted[0].1, 24, "the whole name: {fitted:?}");
        let fitted = fit_columns(&columns, 50, &desired);
        let kept: Vec<&str> = fitted.iter().map(|(i, _)| columns[*i].field).collect();
        assert_eq!(
            kept,
            ["name", "phase"],
            "the cluster goes before the name is cut"
        );
    }

    #[test]
    fn prose_gets_the_room_names_do_not_need() {
        let col = |field, width, elide| Column::<()> {
            field,
            header: field,
            sort_key: None,
            priority: 0,
            width,
            right: false,
            elide,
            value: Box::new(|()| Value::text("")),
        };
        let columns = vec![
            col("target", Width::Flex { min: 12, max: 44 }, Elide::Middle),
            col("comment", Width::Flex { min: 12, max: 0 }, Elide::End),
        ];
        // A 30-cell target and 100 cells: the target gets its 30, the comment the rest.
        let fitted = fit_columns(&columns, 100, &[30, 80]);
        assert_eq!(fitted, [(0, 30), (1, 69)]);
        // Too narrow for every name whole: the spare cells go to the name first, not to the
        // prose (the Audit view at 80 columns gave targets 12 cells and the comment the rest).
        let fitted = fit_columns(&columns, 40, &[30, 80]);
        assert_eq!(fitted, [(0, 27), (1, 12)]);
    }
}
