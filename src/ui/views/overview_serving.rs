//! The Overview's Serving panel: one line per model, worst first (paging burn, then errors, then
//! latency) — its alert (a glyph as well as a colour), its versions and tracks, the worst
//! version's error ratio, p99 and paging-window burn, and sparklines of its error ratio and p99
//! over the last hour. `enter` opens the worst version's detail.

use mlops_core::serving::{ModelHealth, summary::ModelSummary, text};
use ratatui::{Frame, layout::Rect, text::Span, widgets::Cell};

use super::serving::alert_mark;
use crate::{
    app::{
        App,
        feeds::Backend,
        rows::table::{Column, Elide, Value, Width},
        screens::Panel,
    },
    ui::{
        table::{TableSpec, render_table},
        widgets::sparkline,
    },
};

/// Sparkline width (points: one every two minutes over the hour).
const SPARK: usize = 30;

fn col<'a>(
    field: &'static str,
    header: &'static str,
    priority: u8,
    width: Width,
    right: bool,
    value: impl Fn(&ModelSummary<'a>) -> Value + Send + Sync + 'static,
) -> Column<ModelSummary<'a>> {
    Column {
        field,
        header,
        sort_key: None,
        priority,
        width,
        right,
        elide: Elide::End,
        value: Box::new(value),
    }
}

fn spark(h: &ModelHealth, errors: bool) -> String {
    let v: Vec<f64> = h
        .history
        .iter()
        .filter_map(|p| if errors { p.error_ratio } else { p.p99 })
        .collect();
    sparkline(&v, SPARK)
}

fn columns<'a>() -> Vec<Column<ModelSummary<'a>>> {
    vec![
        col("alert", "ALERT", 0, Width::Fixed(9), false, |s| {
            Value::text(text::alert(s.worst()))
        }),
        col(
            "model",
            "MODEL",
            0,
            Width::Flex { min: 10, max: 24 },
            false,
            |s| Value::text(s.model.to_string()),
        ),
        col(
            "versions",
            "VERSIONS",
            3,
            Width::Flex { min: 10, max: 30 },
            false,
            |s| Value::text(s.versions()),
        ),
        col("errors", "ERRORS", 0, Width::Fixed(7), true, |s| {
            Value::text(text::ratio(s.worst().error_ratio))
        }),
        col(
            "errors_trend",
            "ERRORS 1H",
            4,
            Width::Flex { min: 8, max: 30 },
            false,
            |s| Value::text(spark(s.worst(), true)),
        ),
        col("p99", "P99", 1, Width::Fixed(8), true, |s| {
            Value::text(text::p99(&s.worst().latency_seconds))
        }),
        col(
            "p99_trend",
            "P99 1H",
            5,
            Width::Flex { min: 8, max: 30 },
            false,
            |s| Value::text(spark(s.worst(), false)),
        ),
        col("burn1h", "BURN 1H", 2, Width::Fixed(7), true, |s| {
            Value::text(text::burn(text::burn_1h(s.worst())))
        }),
    ]
}

/// The panel, over the lines the Overview laid itself out for (`rows::overview::serving_models`).
pub fn render(app: &App, items: &[ModelSummary<'_>], frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let paging = items.iter().filter(|s| s.worst().pages()).count();
    let focused = app.screen().panel == Panel::Serving;
    let spec = TableSpec {
        title: format!("Serving ({} models · {paging} paging)", items.len()),
        backend: Backend::Metrics,
        what: "served models",
        columns: columns(),
        bottom: None,
        sort: None,
        focused,
    };
    let refs: Vec<&ModelSummary<'_>> = items.iter().collect();
    render_table(
        app,
        frame,
        area,
        &app.feeds.serving,
        spec,
        &refs,
        |s, c, _w| {
            let h = s.worst();
            match c.field {
                "alert" => {
                    let (mark, style) = alert_mark(app, h);
                    Some(Cell::from(Span::styled(mark, style)))
                }
                "errors_trend" => Some(Cell::from(Span::styled(spark(h, true), t.warn))),
                "p99_trend" => Some(Cell::from(Span::styled(spark(h, false), t.accent))),
                _ => None,
            }
        },
    );
}
