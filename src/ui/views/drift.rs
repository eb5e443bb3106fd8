//! Drift: every monitored feature with KS, PSI, Jensen–Shannon and normed Wasserstein, worst first,
//! and a PSI trend; the detail shows reference and current histograms side by side.

use mlops_core::drift::DriftStatus;
use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Cell},
};

use crate::{
    app::{
        App,
        feeds::Backend,
        rows,
        screens::{DriftKey, ScreenKind},
    },
    ui::{
        table::{TableSpec, render_table, shorten},
        widgets::{empty_state, feed_block, sparkline, sparkline_to},
    },
};

/// The histogram's bars: the stable track's (or the reference's) solid, the canary's (or the
/// current window's) shaded, so the two sides differ without colour too.
const BEFORE_BAR: char = '█';
const NOW_BAR: char = '▒';

pub(super) fn status_style(app: &App, s: DriftStatus) -> Style {
    match s {
        DriftStatus::Ok => app.prefs.theme.ok,
        DriftStatus::Warning => app.prefs.theme.warn,
        DriftStatus::Drifted => app.prefs.theme.err,
    }
}

pub fn render_features(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = rows::drift(app, app.screen());
    // What the answer left out (features whose histograms cannot be used, models not looked
    // up): the first warning on the bottom border, with how many there are.
    // Every trend on one scale, from 0 to the largest PSI in any of them, so a row's height
    // compares with the others'; the bottom border says so, after the first warning if any.
    let top = items
        .iter()
        .flat_map(|d| d.psi_history.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let scale = Span::styled(format!(" PSI trends on one scale: 0 to {top:.3} "), t.muted);
    let warned = app.feeds.drift_warnings.first().map(|first| {
        let n = app.feeds.drift_warnings.len();
        let more = if n > 1 {
            format!(" (+{} more)", n - 1)
        } else {
            String::new()
        };
        let room = usize::from(area.width.saturating_sub(6 + 12 + 36));
        Span::styled(
            format!(
                " ⚠ {}{more} ",
                mlops_core::text::truncate(&mlops_core::text::line(first), room)
            ),
            t.warn,
        )
    });
    let bottom = Line::from(warned.into_iter().chain([scale]).collect::<Vec<_>>());
    let spec = TableSpec {
        title: format!("Feature drift ({})", items.len()),
        backend: Backend::Metrics,
        what: "drift data",
        columns: rows::drift::columns(),
        bottom: Some(bottom),
        sort: app.screen().sort,
        focused: true,
    };
    render_table(
        app,
        frame,
        area,
        &app.feeds.drift,
        spec,
        &items,
        |d, c, w| match c.field {
            "status" => Some(Cell::from(Span::styled(
                shorten(d.report.status.as_str(), usize::from(w)),
                status_style(app, d.report.status),
            ))),
            "trend" => Some(Cell::from(Span::styled(
                sparkline_to(&d.psi_history, usize::from(w), top),
                t.accent,
            ))),
            _ => None,
        },
    );
}

pub fn render_detail(app: &App, frame: &mut Frame, area: Rect, key: &DriftKey) {
    let t = &app.prefs.theme;
    let feed = &app.feeds.drift;
    let d = rows::find_drift(app, key);
    let title = ScreenKind::DriftDetail(key.clone()).crumb();
    let (block, _) = feed_block(app, &title, feed, Backend::Metrics, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(d) = d else {
        frame.render_widget(
            empty_state(app, feed, Backend::Metrics, "drift data for this feature"),
            inner,
        );
        return;
    };
    let [stats, hist] = Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(inner);
    let r = &d.report;
    let lines = vec![
        Line::from(vec![
            Span::styled("status ", t.muted),
            Span::styled(r.status.as_str(), status_style(app, r.status)),
            Span::styled(
                if d.is_canary_vs_stable() {
                    // A canary track against the stable track over the same window.
                    format!(
                        "   {} n={}  canary v{} n={}  (same window)",
                        d.reference, r.reference_len, d.version, r.current_len
                    )
                } else {
                    format!(
                        "   reference{} n={}  current n={}",
                        // What the live window is compared with: the training data's
                        // profile, or the window before.
                        d.reference
                            .strip_prefix("profile ")
                            .map(|p| format!(" (training data {p})"))
                            .unwrap_or_default(),
                        r.reference_len,
                        r.current_len
                    )
                },
                t.muted,
            ),
        ]),
        Line::from(vec![
            Span::styled("PSI ", t.muted),
            Span::raw(format!("{:.4}   ", r.psi)),
            Span::styled("KS ", t.muted),
            Span::raw(format!(
                "{:.4} (p={})   ",
                r.ks.statistic,
                mlops_core::drift::p_value_text(r.ks.p_value)
            )),
            Span::styled("Wasserstein/σ ", t.muted),
            Span::raw(format!("{:.4}   ", r.wasserstein_normed)),
            Span::styled("JS ", t.muted),
            Span::raw(format!("{:.4}", r.js_distance)),
        ]),
        Line::from(vec![
            Span::styled("PSI trend ", t.muted),
            Span::styled(sparkline(&d.psi_history, 60), t.accent),
            Span::styled(
                format!(
                    " (0 to {:.3})",
                    d.psi_history
                        .iter()
                        .rev()
                        .take(60)
                        .copied()
                        .filter(|v| v.is_finite())
                        .fold(0.0_f64, f64::max)
                ),
                t.muted,
            ),
            Span::styled("   alert ", t.muted),
            alert_span(app, d),
        ]),
        {
            let (before, now) = if d.is_canary_vs_stable() {
                ("stable", "canary")
            } else {
                ("reference", "current")
            };
            Line::from(vec![
                Span::styled(format!("{BEFORE_BAR} {before}  "), t.stable),
                Span::styled(format!("{NOW_BAR} {now}"), t.canary),
            ])
        },
    ];
    frame.render_widget(crate::ui::widgets::paragraph(lines), stats);
    render_histograms(app, frame, hist, d);
}

/// The alert as `[drift] alert_after` windows in a row decide it: firing with its status, or
/// pending (the current window not ok, but not for long enough yet), or none.
fn alert_span<'a>(app: &App, d: &mlops_core::model::FeatureDrift) -> Span<'a> {
    let after = app.prefs.drift_alert_after;
    let alert = d.alert(after);
    let windows = if after == 1 { "window" } else { "windows" };
    if alert != DriftStatus::Ok {
        Span::styled(
            format!("{} ({after} {windows} in a row)", alert.as_str()),
            status_style(app, alert),
        )
    } else if d.report.status != DriftStatus::Ok {
        let held = d
            .status_history
            .iter()
            .rev()
            .take_while(|s| **s != DriftStatus::Ok)
            .count();
        Span::styled(
            format!("pending ({held} of {after} {windows})"),
            app.prefs.theme.warn,
        )
    } else {
        Span::styled("none", app.prefs.theme.muted)
    }
}

/// Two horizontal bars per bin: reference above current, scaled to the largest share.
fn render_histograms(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    d: &mlops_core::model::FeatureDrift,
) {
    let t = &app.prefs.theme;
    let total = |c: &[f64]| c.iter().sum::<f64>().max(1.0);
    let (rt, ct) = (total(&d.reference_counts), total(&d.current_counts));
    let shares: Vec<(f64, f64)> = d
        .reference_counts
        .iter()
        .zip(&d.current_counts)
        .map(|(r, c)| (r / rt, c / ct))
        .collect();
    let max = shares
        .iter()
        .map(|(a, b)| a.max(*b))
        .fold(0.0, f64::max)
        .max(1e-9);
    let label_w = 10usize;
    let bar_w = usize::from(area.width).saturating_sub(label_w + 10).max(4);
    // One line per bin pair if there is room for two, else merge bins pairwise.
    let bins = shares.len();
    let rows_avail = usize::from(area.height.saturating_sub(2));
    let group = bins.div_ceil((rows_avail / 2).max(1)).max(1);
    let mut lines = Vec::new();
    for (gi, chunk) in shares.chunks(group).enumerate() {
        let (r, c) = chunk
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let edge = d.edges.get(gi * group).copied().unwrap_or(0.0);
        let scale = max * group as f64;
        let rb = BEFORE_BAR
            .to_string()
            .repeat(((r / scale) * bar_w as f64).round() as usize);
        let cb = NOW_BAR
            .to_string()
            .repeat(((c / scale) * bar_w as f64).round() as usize);
        lines.push(Line::from(vec![
            Span::styled(format!("{edge:>9.2} "), t.muted),
            Span::styled(rb, t.stable),
            Span::styled(format!(" {:.1}%", r * 100.0), t.muted),
        ]));
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(label_w)),
            Span::styled(cb, t.canary),
            Span::styled(format!(" {:.1}%", c * 100.0), t.muted),
        ]));
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .border_type(BorderType::Plain)
        .border_style(t.border)
        .title(Span::styled(" histogram (bin lower edge) ", t.muted));
    frame.render_widget(crate::ui::widgets::paragraph(lines).block(block), area);
}
