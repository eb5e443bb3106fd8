//! GPUs: every GPU with utilisation, memory, power, temperature and health (XID faults), joined
//! with the pod and model version it is allocated to; allocated-but-idle GPUs are flagged; the
//! summary line sets the cluster's requested GPUs against its allocatable ones.

use mlops_core::model::Gpu;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::Cell,
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows::{self, table::Column},
    },
    ui::{
        table::{TableSpec, render_table, shorten},
        widgets::{bar_spans, titled_block},
    },
};

/// A GPU's state cell: a fault first, then idle, busy or free.
pub fn state_cell<'a>(app: &App, g: &Gpu, width: u16) -> Cell<'a> {
    let t = &app.prefs.theme;
    let w = usize::from(width);
    if g.xid.is_some() {
        return Cell::from(Span::styled(shorten(&rows::gpu_state_text(g), w), t.err));
    }
    let style = if g.is_allocated_idle() {
        t.warn
    } else if g.is_allocated() {
        t.ok
    } else {
        t.muted
    };
    Cell::from(Span::styled(shorten(rows::gpu_state(g), w), style))
}

/// A GPU cell drawn with style (utilisation bar, state); `None` for plain text.
pub fn cell<'a>(app: &App, g: &Gpu, c: &Column<Gpu>, width: u16) -> Option<Cell<'a>> {
    let t = &app.prefs.theme;
    match c.field {
        "util" => {
            let pct = format!("{:>5.1}%", g.util_pct);
            let bar = usize::from(width).saturating_sub(pct.len() + 1);
            let fill = if g.util_pct >= 90.0 { t.warn } else { t.bar };
            if bar >= 4 {
                let mut spans = bar_spans(app, g.util_pct, bar, fill);
                spans.push(Span::styled(format!(" {pct}"), t.text));
                Some(Cell::from(Line::from(spans)))
            } else {
                Some(Cell::from(Span::styled(
                    pct.trim_start().to_string(),
                    t.text,
                )))
            }
        }
        "state" => Some(state_cell(app, g, width)),
        _ => None,
    }
}

/// Under the GPUs, every GPU node's `nvidia.com/gpu` requested of allocatable, from the
/// cluster (the same numbers as `mlops gpu`'s `requested` / `allocatable`): which nodes are
/// full, which have room. Returns the area left above it.
fn render_nodes(app: &App, frame: &mut Frame, area: Rect) -> Rect {
    let t = &app.prefs.theme;
    let nodes = rows::gpus::node_requests(app);
    if nodes.is_empty() {
        return area;
    }
    // Whole items a line, as many lines as the box shows; a node and its numbers never split.
    let inner = usize::from(area.width.saturating_sub(2)).max(1);
    let mut lines: Vec<Line> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0;
    for n in nodes.iter() {
        let style = match n.requested.cmp(&n.capacity) {
            std::cmp::Ordering::Greater => t.err,
            std::cmp::Ordering::Equal => t.warn,
            std::cmp::Ordering::Less => t.ok,
        };
        let item = format!("{} {}/{}", n.name, n.requested, n.capacity);
        let len = item.chars().count();
        if used > 0 && used + 3 + len > inner {
            lines.push(Line::from(std::mem::take(&mut spans)));
            used = 0;
            if lines.len() == NODE_LINES {
                break;
            }
        }
        if used > 0 {
            spans.push(Span::styled(" · ", t.muted));
            used += 3;
        }
        spans.push(Span::styled(item, style));
        used += len;
    }
    if lines.len() < NODE_LINES {
        lines.push(Line::from(spans));
    }
    let shown = u16::try_from(lines.len()).unwrap_or(4);
    let [rest, boxed] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(shown + 2)]).areas(area);
    let block = titled_block(
        app,
        &format!("GPUs requested of allocatable, per node ({})", nodes.len()),
        false,
    );
    frame.render_widget(crate::ui::widgets::paragraph(lines).block(block), boxed);
    rest
}

/// The most lines the per-node box takes.
const NODE_LINES: usize = 4;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let feed = &app.feeds.gpus;
    let items = rows::gpus(app, app.screen());
    let [summary, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let totals = rows::gpus::totals(app);
    if let Some(s) = &totals.summary {
        let faults = totals.faults;
        let mut spans = vec![
            Span::styled(format!(" {} GPUs · ", s.total), t.text),
            Span::styled(format!("{} allocated · ", s.allocated), t.info),
        ];
        spans.push(Span::styled(
            format!("{} allocated but idle (<5% util) · ", s.allocated_idle),
            if s.allocated_idle > 0 { t.warn } else { t.ok },
        ));
        if faults > 0 {
            spans.push(Span::styled(format!("{faults} with XID faults · "), t.err));
        }
        // What the cluster allocated, next to what the exporter sees (after idle and faults,
        // which matter more when the line is cut).
        if let Some((requested, allocatable)) = totals.requested_of_allocatable {
            spans.push(Span::styled(
                format!("{requested}/{allocatable} req · "),
                t.info,
            ));
        }
        spans.push(Span::styled(
            format!(
                "mean util {:.0}% · {:.1} kW",
                s.mean_util_pct,
                s.power_w / 1000.0
            ),
            t.muted,
        ));
        frame.render_widget(crate::ui::widgets::paragraph(Line::from(spans)), summary);
    }
    let table = render_nodes(app, frame, table);
    let spec = TableSpec {
        title: format!("GPUs ({})", items.len()),
        backend: Backend::Metrics,
        what: "GPUs",
        columns: rows::gpus::columns(),
        bottom: None,
        sort: app.screen().sort,
        focused: true,
    };
    render_table(app, frame, table, feed, spec, &items, |g, c, w| {
        cell(app, g, c, w)
    });
}
