//! Objects in full, so nothing important is only half-visible: an audit entry (the whole comment
//! and details, its hash and the previous one), a GPU, a pod, a model version; the raw JSON of any
//! object (`y`); and the `:messages` log.

use ratatui::{
    Frame,
    layout::Rect,
    style::Style,
    text::{Line, Span},
    widgets::Wrap,
};

use crate::{
    app::{App, feeds::Backend, rows::details, screens::RawOf, state::Level},
    ui::widgets::{age, empty_state, feed_block, titled_block},
};

/// A time in full with how long ago it was: `2026-11-28 08:55:00 UTC (5m ago)`.
pub(super) fn when(app: &App, t: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{} UTC ({} ago)",
        t.format("%Y-%m-%d %H:%M:%S"),
        age(app.now, t)
    )
}

/// Label: value lines; long values wrap under their label.
pub(super) fn fields<'a>(app: &App, pairs: Vec<(&'a str, String, Option<Style>)>) -> Vec<Line<'a>> {
    let t = &app.prefs.theme;
    let width = pairs
        .iter()
        .map(|(l, _, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .into_iter()
        .map(|(label, value, style)| {
            Line::from(vec![
                Span::styled(format!("{label:>width$}  "), t.muted),
                Span::styled(value, style.unwrap_or(t.text)),
            ])
        })
        .collect()
}

pub(super) fn show(app: &App, frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'_>>) {
    let block = titled_block(app, title, true);
    let scroll = u16::try_from(app.screen().offset).unwrap_or(u16::MAX);
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

/// A detail whose data is not there: the feed's block with the reason.
pub(super) fn missing<T>(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    title: &str,
    feed: &crate::app::feeds::Feed<T>,
    backend: Backend,
    what: &str,
) {
    let (block, _) = feed_block(app, title, feed, backend, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text = if feed.data.is_some() {
        crate::ui::widgets::paragraph(Line::from(Span::styled(
            format!("{what} is not there (any more)"),
            app.prefs.theme.warn,
        )))
    } else {
        empty_state(app, feed, backend, what)
    };
    frame.render_widget(text, inner);
}

pub fn render_audit_entry(app: &App, frame: &mut Frame, area: Rect, seq: u64) {
    let t = &app.prefs.theme;
    let Some(e) = crate::app::rows::find_audit(app, seq) else {
        return missing(
            app,
            frame,
            area,
            &format!("Audit entry #{seq}"),
            &app.feeds.audit,
            Backend::Cluster,
            "the audit entry",
        );
    };
    let verdict = match &app.audit_chain {
        Some(Ok(())) => ("✓ the chain verifies up to here".to_string(), t.ok),
        Some(Err(why)) => (format!("✗ {why}"), t.err),
        None => ("not verified yet".to_string(), t.muted),
    };
    let lines = fields(
        app,
        vec![
            ("entry", format!("#{}", e.seq), None),
            ("time", when(app, e.time), None),
            ("actor", e.actor.clone(), Some(t.accent)),
            ("action", e.action.clone(), None),
            ("target", e.target.clone(), None),
            (
                "comment",
                if e.comment.is_empty() {
                    "—".into()
                } else {
                    e.comment.clone()
                },
                None,
            ),
            (
                "details",
                if e.details.is_empty() {
                    "—".into()
                } else {
                    e.details.clone()
                },
                None,
            ),
            ("hash", e.hash.clone(), Some(t.muted)),
            ("previous hash", e.prev_hash.clone(), Some(t.muted)),
            ("chain", verdict.0, Some(verdict.1)),
        ],
    );
    show(app, frame, area, &format!("Audit entry #{seq}"), lines);
}

pub fn render_gpu(app: &App, frame: &mut Frame, area: Rect, cluster: &str, node: &str, index: u32) {
    let t = &app.prefs.theme;
    let title = format!("GPU {index} on {node}");
    let Some(g) = crate::app::rows::find_gpu(app, cluster, node, index) else {
        return missing(
            app,
            frame,
            area,
            &title,
            &app.feeds.gpus,
            Backend::Metrics,
            "the GPU",
        );
    };
    let node_info = app
        .feeds
        .cluster
        .data
        .as_ref()
        .and_then(|s| s.nodes.iter().find(|n| n.name == g.node));
    let health = match g.xid {
        Some(x) => (
            format!("XID {x}: the driver reported a fault; drain and check the node"),
            t.err,
        ),
        None => ("no XID faults reported".to_string(), t.ok),
    };
    let serving = match (&g.model, g.version) {
        (Some(m), Some(v)) => format!("{m} v{v} (J: its lineage)"),
        (Some(m), None) => m.clone(),
        _ => "—".into(),
    };
    let state = if g.is_allocated_idle() {
        (
            format!(
                "allocated but idle: {:.1}% utilisation while a pod holds it",
                g.util_pct
            ),
            t.warn,
        )
    } else if g.is_allocated() {
        ("busy".to_string(), t.ok)
    } else {
        ("free".to_string(), t.muted)
    };
    let lines = fields(
        app,
        vec![
            ("cluster", g.cluster.clone(), None),
            ("node", g.node.clone(), None),
            (
                "region",
                node_info.map_or_else(|| "—".into(), |n| format!("{} {}", n.region, n.zone)),
                None,
            ),
            ("GPU", format!("{} · {}", g.index, g.product), None),
            ("uuid", g.uuid.clone(), Some(t.muted)),
            ("health", health.0, Some(health.1)),
            ("state", state.0, Some(state.1)),
            ("utilisation", format!("{:.1}%", g.util_pct), None),
            (
                "memory",
                format!(
                    "{:.1} of {:.1} GiB",
                    g.mem_used_mib / 1024.0,
                    g.mem_total_mib / 1024.0
                ),
                None,
            ),
            ("power", format!("{:.0} W", g.power_w), None),
            ("temperature", format!("{:.0} °C", g.temp_c), None),
            (
                "pod",
                match (&g.namespace, &g.pod) {
                    (Some(ns), Some(p)) => format!("{ns}/{p}"),
                    (None, Some(p)) => p.clone(),
                    _ => "—".into(),
                },
                None,
            ),
            ("serves", serving, Some(t.accent)),
        ],
    );
    show(app, frame, area, &title, lines);
}

pub fn render_pod(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    cluster: &str,
    namespace: &str,
    name: &str,
) {
    let t = &app.prefs.theme;
    let title = format!("Pod {namespace}/{name}");
    let Some(p) = details::find_pod(app, cluster, namespace, name) else {
        return missing(
            app,
            frame,
            area,
            &title,
            &app.feeds.cluster,
            Backend::Cluster,
            "the pod",
        );
    };
    let gpus: Vec<String> = app
        .feeds
        .gpus
        .data
        .as_ref()
        .map(|gs| {
            gs.iter()
                .filter(|g| g.pod.as_deref() == Some(p.name.as_str()))
                .map(|g| {
                    format!(
                        "GPU {} on {} ({:.0}%{})",
                        g.index,
                        g.node,
                        g.util_pct,
                        g.xid.map_or_else(String::new, |x| format!(", XID {x}"))
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let lines = fields(
        app,
        vec![
            ("cluster", p.cluster.clone(), None),
            ("namespace", p.namespace.clone(), None),
            ("phase", format!("{:?}", p.phase), None),
            (
                "node",
                p.node.clone().unwrap_or_else(|| "— (not scheduled)".into()),
                None,
            ),
            ("track", p.track.as_str().to_string(), None),
            (
                "serves",
                match (&p.model, p.version) {
                    (Some(m), Some(v)) => format!("{m} v{v} (J: its lineage)"),
                    (Some(m), None) => m.clone(),
                    _ => "—".into(),
                },
                Some(t.accent),
            ),
            ("image", p.image.clone(), None),
            ("GPUs requested", p.gpus.to_string(), None),
            (
                "GPUs held",
                if gpus.is_empty() {
                    "— (no GPU metrics name this pod)".into()
                } else {
                    gpus.join("; ")
                },
                None,
            ),
        ],
    );
    show(app, frame, area, &title, lines);
}

pub fn render_version(app: &App, frame: &mut Frame, area: Rect, model: &str, version: u32) {
    let t = &app.prefs.theme;
    let title = format!("{model} v{version}");
    let Some((m, v)) = crate::app::rows::find_version(app, model, version) else {
        return missing(
            app,
            frame,
            area,
            &title,
            &app.feeds.models,
            Backend::Registry,
            "the model version",
        );
    };
    let served: Vec<String> = app
        .feeds
        .cluster
        .data
        .as_ref()
        .map(|s| {
            s.deployments
                .iter()
                .filter(|d| d.model == m.name && d.version == v.version && d.replicas > 0)
                .map(|d| {
                    format!(
                        "{}/{}/{} ({}, {}/{} ready)",
                        d.cluster,
                        d.namespace,
                        d.name,
                        d.track.as_str(),
                        d.ready_replicas,
                        d.replicas
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let aliases = m.aliases_of(v.version);
    let mut pairs = vec![
        ("model", m.name.clone(), None),
        ("version", format!("v{}", v.version), None),
        (
            "aliases",
            if aliases.is_empty() {
                "—".into()
            } else {
                aliases
                    .iter()
                    .map(|a| format!("@{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            Some(t.accent),
        ),
        ("status", v.status.clone(), None),
        (
            "created",
            format!(
                "{} UTC ({} ago)",
                v.created.format("%Y-%m-%d %H:%M"),
                age(app.now, v.created)
            ),
            None,
        ),
        ("run", v.run_id.clone().unwrap_or_else(|| "—".into()), None),
        (
            "served by",
            if served.is_empty() {
                "— (no cluster serves it)".into()
            } else {
                served.join("; ")
            },
            None,
        ),
    ];
    for (k, val) in &v.tags {
        pairs.push(("tag", format!("{k} = {val}"), None));
    }
    show(app, frame, area, &title, fields(app, pairs));
}

pub fn render_dataset(
    app: &App,
    frame: &mut Frame,
    area: Rect,
    model: &str,
    version: u32,
    name: &str,
) {
    let t = &app.prefs.theme;
    let Some((run, d)) = details::find_dataset(app, model, version, name) else {
        return missing(
            app,
            frame,
            area,
            name,
            &app.feeds.models,
            Backend::Registry,
            "the dataset (it comes with the run that trained the version)",
        );
    };
    let pairs = vec![
        ("dataset", d.name.clone(), None),
        ("digest", d.digest.clone(), None),
        ("source", d.source.clone(), None),
        ("region", d.region.clone(), Some(t.accent)),
        (
            "schema",
            d.schema_summary()
                .unwrap_or_else(|| "— (none logged)".into()),
            None,
        ),
        (
            "profile",
            d.profile_summary()
                .unwrap_or_else(|| "— (none logged)".into()),
            None,
        ),
        (
            "read by",
            format!("run {} ({}, {})", run.name, run.id, run.status.as_str()),
            None,
        ),
        ("trained", format!("{model} v{version}"), None),
    ];
    let mut lines = fields(app, pairs);
    lines.push(Line::default());
    let drift: Vec<_> = app
        .feeds
        .drift
        .data
        .as_ref()
        .map(|v| v.iter().filter(|f| f.model == model).collect())
        .unwrap_or_default();
    if app.feeds.drift.data.is_none() {
        lines.push(Line::from(Span::styled(
            "live drift against this data: not loaded (metrics)",
            t.muted,
        )));
    } else if drift.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("live drift against this data: no features of {model} are tracked"),
            t.muted,
        )));
    } else {
        lines.push(Line::from(Span::styled(
            format!("live drift of {model}'s features, by served version"),
            t.header,
        )));
        for f in drift {
            let status = f.report.status;
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<24}", f.feature), t.text),
                Span::styled(
                    format!("{:<10}", status.as_str()),
                    super::drift::status_style(app, status),
                ),
                Span::styled(
                    format!(
                        "PSI {:.3}  KS p {:.3}  v{}",
                        f.report.psi, f.report.ks.p_value, f.version
                    ),
                    t.muted,
                ),
            ]));
        }
    }
    show(app, frame, area, name, lines);
}

pub fn render_raw(app: &App, frame: &mut Frame, area: Rect, of: &RawOf) {
    let t = &app.prefs.theme;
    let title = format!("{} — raw JSON (as `-o json`)", of.label());
    // A line wider than the box ends in `…` where it is cut (a PromQL query ran off the edge
    // unmarked); `mlops … -o json` has it whole.
    let width = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = match details::raw_document(app, of) {
        Ok(text) => text
            .lines()
            .map(|l| {
                Line::from(Span::styled(
                    crate::ui::table::elide(l, width, crate::app::rows::table::Elide::End),
                    t.text,
                ))
            })
            .collect(),
        Err(why) => vec![Line::from(Span::styled(why, t.warn))],
    };
    let block = titled_block(app, &title, true);
    let scroll = u16::try_from(app.screen().offset).unwrap_or(u16::MAX);
    frame.render_widget(
        crate::ui::widgets::paragraph(lines)
            .block(block)
            .scroll((scroll, 0)),
        area,
    );
}

pub fn render_messages(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.prefs.theme;
    let items = details::messages(app, app.screen());
    let block = titled_block(app, &format!("Messages ({})", items.len()), true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    if !app.prefs.config_errors.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(
                "{} config error(s) — the console runs on defaults for those (`mlops config check`):",
                app.prefs.config_errors.len()
            ),
            t.warn,
        )));
        for e in &app.prefs.config_errors {
            lines.push(Line::from(Span::styled(format!("  {e}"), t.warn)));
        }
    }
    lines.extend(watch_lines(app));
    let offset = app.screen().offset.min(items.len());
    for (i, m) in items.iter().enumerate().skip(offset) {
        let style = match m.level {
            Level::Info => t.text,
            Level::Warn => t.warn,
            Level::Error => t.err,
        };
        let mut line = Line::from(vec![
            Span::styled(format!("{} ", m.at.format("%H:%M:%S")), t.muted),
            Span::styled(m.text.clone(), style),
        ]);
        if i == app.screen().selected {
            line = line.style(t.selection);
        }
        lines.push(line);
    }
    if items.is_empty() {
        lines.push(Line::from(Span::styled("no messages yet", t.muted)));
    }
    frame.render_widget(
        crate::ui::widgets::paragraph(lines).wrap(Wrap { trim: false }),
        inner,
    );
}

/// Every watch behind the cluster's data: its state, where it watches and its cache figure.
fn watch_lines(app: &App) -> Vec<Line<'static>> {
    use mlops_core::model::WatchState;
    let t = &app.prefs.theme;
    let Some(snap) = app
        .feeds
        .cluster
        .data
        .as_ref()
        .filter(|s| !s.watches.is_empty())
    else {
        return Vec::new();
    };
    let mut lines = vec![Line::from(Span::styled(
        format!("watches ({}):", snap.watches.len()),
        t.header,
    ))];
    for w in &snap.watches {
        let (state, style) = match &w.state {
            WatchState::Syncing => ("syncing".to_string(), t.muted),
            WatchState::Live => ("live".to_string(), t.ok),
            WatchState::Reconnecting { since, error } => (
                format!(
                    "reconnecting since {} ({} stale): {error}",
                    since.format("%H:%M:%S"),
                    crate::ui::widgets::age(app.now, *since)
                ),
                t.warn,
            ),
            WatchState::Forbidden { error } => (format!("forbidden: {error}"), t.err),
            WatchState::Absent { error } => (format!("not served: {error}"), t.muted),
            WatchState::Stopped => ("stopped (off screen)".to_string(), t.muted),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {}  ", w.cluster), t.muted),
            Span::styled(format!("{:<24} ", w.figure()), t.text),
            Span::styled(format!("{}  ", w.scope), t.muted),
            Span::styled(state, style),
        ]));
    }
    lines
}
