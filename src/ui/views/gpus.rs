//! GPUs: every GPU with utilisation, memory, power and temperature, joined with the pod and model
//! version it is allocated to; allocated-but-idle GPUs are flagged.

use mlops_core::model::GpuSummary;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Cell, Paragraph, Row},
};

use crate::{
    app::{App, feeds::Backend, rows},
    ui::widgets::{ListSpec, bar_spans, render_list, truncate},
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let feed = &app.feeds.gpus;
    let items = rows::gpus(app, &app.screen().filter);
    let [summary, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    if let Some(all) = &feed.data {
        let s = GpuSummary::of(all);
        let line = Line::from(vec![
            Span::styled(format!(" {} GPUs · ", s.total), t.text),
            Span::styled(format!("{} allocated · ", s.allocated), t.info),
            Span::styled(
                format!("{} allocated but idle (<5% util) · ", s.allocated_idle),
                if s.allocated_idle > 0 { t.warn } else { t.ok },
            ),
            Span::styled(
                format!(
                    "mean util {:.0}% · {:.1} kW",
                    s.mean_util_pct,
                    s.power_w / 1000.0
                ),
                t.muted,
            ),
        ]);
        frame.render_widget(Paragraph::new(line), summary);
    }
    let spec = ListSpec {
        title: format!("GPUs ({})", items.len()),
        backend: Backend::Metrics,
        what: "GPUs",
        header: vec![
            "CLUSTER", "NODE", "GPU", "UTIL", "MEMORY", "POWER", "TEMP", "STATE", "MODEL", "POD",
        ],
        widths: vec![
            Constraint::Length(9),
            Constraint::Length(15),
            Constraint::Length(3),
            Constraint::Length(17),
            Constraint::Length(10),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(24),
            Constraint::Min(10),
        ],
        bottom: None,
    };
    render_list(app, frame, table, feed, spec, &items, |g| {
        let fill = if g.util_pct >= 90.0 { t.warn } else { t.bar };
        let mut util = bar_spans(app, g.util_pct, 10, fill);
        util.push(Span::styled(format!(" {:>5.1}%", g.util_pct), t.text));
        let model = match (&g.model, g.version) {
            (Some(m), Some(v)) => format!("{m} v{v}"),
            (Some(m), None) => m.clone(),
            _ => "—".into(),
        };
        let flag = if g.is_allocated_idle() {
            Span::styled("IDLE", t.warn)
        } else if g.is_allocated() {
            Span::styled("busy", t.ok)
        } else {
            Span::styled("free", t.muted)
        };
        Row::new(vec![
            Cell::from(g.cluster.clone()),
            Cell::from(g.node.clone()),
            Cell::from(format!("{:>2}", g.index)),
            Cell::from(Line::from(util)),
            Cell::from(format!(
                "{:>5.1}/{:.0}G",
                g.mem_used_mib / 1024.0,
                g.mem_total_mib / 1024.0
            )),
            Cell::from(format!("{:>4.0}W", g.power_w)),
            Cell::from(format!("{:>3.0}°C", g.temp_c)),
            Cell::from(flag),
            Cell::from(truncate(&model, 24)),
            Cell::from(g.pod.clone().unwrap_or_default()),
        ])
    });
}
