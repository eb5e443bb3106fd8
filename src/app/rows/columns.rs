//! The columns of every list, as data: field name, header, sort key, priority when narrow, width,
//! and the value that sorting and field filters use. The views draw each column's cells.
//!
//! Sort keys are `shift` + the letter; none of them clashes with a key bound in the view's
//! keymap section (rollouts bind `P`, `R`, `S`; `J` jumps to the owner everywhere; vim binds `G`);
//! a test checks every view against both shipped keymaps.

use mlops_core::{
    audit::AuditEntry,
    model::{Experiment, FeatureDrift, Gpu, ModelVersion, RegisteredModel},
    rollout::RolloutRecord,
};

use super::table::{Column, Elide, Value, Width};
use crate::app::{
    screens::{Panel, Screen, ScreenKind},
    state::App,
};

/// The columns `screen` can be sorted by: (field, header, the letter pressed with `shift`).
pub fn sortable(app: &App, screen: &Screen) -> Vec<(&'static str, &'static str, char)> {
    fn keys<T>(cols: &[Column<T>]) -> Vec<(&'static str, &'static str, char)> {
        cols.iter()
            .filter_map(|c| c.sort_key.map(|k| (c.field, c.header, k)))
            .collect()
    }
    match &screen.kind {
        ScreenKind::Overview if screen.panel == Panel::Rollouts => keys(&rollouts()),
        ScreenKind::Rollouts => keys(&rollouts()),
        ScreenKind::Experiments => keys(&experiments()),
        ScreenKind::Runs { .. } => keys(&super::run_columns::columns(app, screen)),
        ScreenKind::Lineage => keys(&model_versions()),
        ScreenKind::Drift => keys(&drift()),
        ScreenKind::Gpus => keys(&gpus()),
        ScreenKind::Audit => keys(&audit()),
        _ => Vec::new(),
    }
}

pub fn rollouts() -> Vec<Column<RolloutRecord>> {
    vec![
        Column {
            field: "name",
            header: "NAME",
            sort_key: Some('N'),
            priority: 0,
            width: Width::Flex { min: 14, max: 0 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| Value::text(r.name.clone())),
        },
        Column {
            field: "cluster",
            header: "CLUSTER",
            sort_key: Some('C'),
            priority: 3,
            width: Width::Flex { min: 8, max: 14 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| Value::text(r.cluster.clone())),
        },
        Column {
            field: "model",
            header: "VERSIONS",
            sort_key: Some('V'),
            priority: 4,
            width: Width::Fixed(10),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| {
                Value::number(
                    f64::from(r.spec.model.version),
                    format!(
                        "{} v{} → v{}",
                        r.spec.model.name, r.spec.stable_version, r.spec.model.version
                    ),
                )
            }),
        },
        Column {
            field: "phase",
            header: "PHASE",
            sort_key: Some('H'),
            priority: 0,
            width: Width::Fixed(16),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| {
                Value::number(
                    f64::from(super::attention(r.status.phase)),
                    r.status.phase.as_str(),
                )
            }),
        },
        Column {
            field: "weight",
            header: "CANARY",
            sort_key: Some('W'),
            priority: 1,
            width: Width::Flex { min: 4, max: 16 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| {
                Value::number(f64::from(r.status.weight), format!("{}%", r.status.weight))
            }),
        },
        Column {
            field: "step",
            header: "STEP",
            sort_key: Some('T'),
            priority: 2,
            width: Width::Fixed(5),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|r| Value::number(r.status.current_step as f64, r.step_label())),
        },
        Column {
            field: "analysis",
            header: "ANALYSIS",
            sort_key: Some('A'),
            priority: 1,
            width: Width::Fixed(12),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| {
                let v = r.status.latest_verdict();
                Value::number(
                    f64::from(r.status.failures),
                    v.map_or("—", mlops_core::analysis::Verdict::as_str),
                )
            }),
        },
        Column {
            field: "age",
            header: "AGE",
            sort_key: Some('E'),
            priority: 5,
            width: Width::Fixed(4),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|r| Value::time(r.created)),
        },
    ]
}

pub fn experiments() -> Vec<Column<Experiment>> {
    vec![
        Column {
            field: "name",
            header: "EXPERIMENT",
            sort_key: Some('N'),
            priority: 0,
            width: Width::Flex { min: 16, max: 0 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.name.clone())),
        },
        Column {
            field: "id",
            header: "ID",
            sort_key: Some('I'),
            priority: 3,
            width: Width::Fixed(6),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.id.clone())),
        },
        Column {
            field: "runs",
            header: "RUNS",
            sort_key: Some('R'),
            priority: 1,
            width: Width::Fixed(6),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|e| match e.run_count {
                Some(n) => Value::number(n as f64, n.to_string()),
                None => Value::text("?"),
            }),
        },
        Column {
            field: "updated",
            header: "UPDATED",
            sort_key: Some('U'),
            priority: 2,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::time(e.last_update)),
        },
        Column {
            field: "tags",
            header: "TAGS",
            sort_key: None,
            priority: 4,
            width: Width::Flex { min: 10, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|e| {
                Value::text(
                    e.tags
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }),
        },
    ]
}

/// A model version with its registered model.
pub type VersionRow<'a> = (&'a RegisteredModel, &'a ModelVersion);

pub fn model_versions<'a>() -> Vec<Column<VersionRow<'a>>> {
    vec![
        Column {
            field: "model",
            header: "MODEL",
            sort_key: Some('M'),
            priority: 0,
            width: Width::Flex { min: 14, max: 24 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|(m, _)| Value::text(m.name.clone())),
        },
        Column {
            field: "version",
            header: "VERSION",
            sort_key: Some('V'),
            priority: 0,
            width: Width::Fixed(7),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|(_, v)| {
                Value::number(f64::from(v.version), format!("v{}", v.version))
            }),
        },
        Column {
            field: "alias",
            header: "ALIASES",
            sort_key: Some('A'),
            priority: 1,
            width: Width::Flex { min: 10, max: 22 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|(m, v)| Value::text(m.aliases_of(v.version).join(" "))),
        },
        Column {
            field: "validation",
            header: "VALIDATION",
            sort_key: Some('L'),
            priority: 2,
            width: Width::Fixed(10),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|(_, v)| {
                Value::text(
                    v.tags
                        .get("validation_status")
                        .cloned()
                        .unwrap_or_else(|| "—".into()),
                )
            }),
        },
        Column {
            field: "run",
            header: "RUN",
            sort_key: Some('R'),
            priority: 4,
            width: Width::Fixed(7),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|(_, v)| Value::text(v.run_id.clone().unwrap_or_else(|| "—".into()))),
        },
        Column {
            field: "created",
            header: "CREATED",
            sort_key: Some('C'),
            priority: 3,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|(_, v)| Value::time(v.created)),
        },
        Column {
            field: "image",
            header: "IMAGE",
            sort_key: Some('I'),
            priority: 5,
            width: Width::Flex { min: 10, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|(_, v)| Value::text(v.image().unwrap_or("—"))),
        },
    ]
}

pub fn drift() -> Vec<Column<FeatureDrift>> {
    vec![
        Column {
            field: "model",
            header: "MODEL",
            sort_key: Some('M'),
            priority: 0,
            width: Width::Flex { min: 10, max: 20 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|d| Value::text(d.model.clone())),
        },
        Column {
            field: "version",
            header: "VER",
            sort_key: Some('V'),
            priority: 4,
            width: Width::Fixed(4),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|d| Value::number(f64::from(d.version), format!("v{}", d.version))),
        },
        Column {
            field: "feature",
            header: "FEATURE",
            sort_key: Some('F'),
            priority: 0,
            width: Width::Flex { min: 10, max: 0 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|d| Value::text(d.feature.clone())),
        },
        Column {
            field: "against",
            header: "AGAINST",
            sort_key: Some('A'),
            priority: 1,
            width: Width::Flex { min: 9, max: 12 },
            right: false,
            elide: Elide::End,
            value: Box::new(|d| Value::text(d.against().to_string())),
        },
        Column {
            field: "status",
            header: "STATUS",
            sort_key: Some('T'),
            priority: 0,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|d| {
                Value::number(f64::from(d.report.status as u8), d.report.status.as_str())
            }),
        },
        Column {
            field: "psi",
            header: "PSI",
            sort_key: Some('P'),
            priority: 1,
            width: Width::Fixed(6),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|d| Value::number(d.report.psi, format!("{:.3}", d.report.psi))),
        },
        Column {
            field: "ks",
            header: "KS",
            sort_key: Some('K'),
            priority: 3,
            width: Width::Fixed(5),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|d| {
                Value::number(
                    d.report.ks.statistic,
                    format!("{:.3}", d.report.ks.statistic),
                )
            }),
        },
        Column {
            field: "p",
            header: "KS p",
            sort_key: Some('Q'),
            priority: 2,
            width: Width::Fixed(7),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|d| {
                Value::number(d.report.ks.p_value, format!("{:.2e}", d.report.ks.p_value))
            }),
        },
        Column {
            field: "wasserstein",
            header: "WASS.",
            sort_key: Some('W'),
            priority: 3,
            width: Width::Fixed(6),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|d| {
                Value::number(
                    d.report.wasserstein_normed,
                    format!("{:.3}", d.report.wasserstein_normed),
                )
            }),
        },
        Column {
            field: "js",
            header: "JS",
            sort_key: Some('D'),
            priority: 4,
            width: Width::Fixed(5),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|d| {
                Value::number(d.report.js_distance, format!("{:.3}", d.report.js_distance))
            }),
        },
        Column {
            field: "trend",
            header: "PSI TREND",
            sort_key: None,
            priority: 2,
            width: Width::Flex { min: 9, max: 20 },
            right: false,
            elide: Elide::End,
            value: Box::new(|_| Value::text("")),
        },
    ]
}

pub fn gpus() -> Vec<Column<Gpu>> {
    vec![
        Column {
            field: "cluster",
            header: "CLUSTER",
            sort_key: Some('C'),
            priority: 3,
            width: Width::Flex { min: 7, max: 10 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|g| Value::text(g.cluster.clone())),
        },
        Column {
            field: "node",
            header: "NODE",
            sort_key: Some('N'),
            priority: 0,
            width: Width::Flex { min: 9, max: 18 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|g| Value::text(g.node.clone())),
        },
        Column {
            field: "gpu",
            header: "GPU",
            sort_key: Some('I'),
            priority: 0,
            width: Width::Fixed(3),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|g| Value::number(f64::from(g.index), g.index.to_string())),
        },
        Column {
            field: "util",
            header: "UTIL",
            sort_key: Some('U'),
            priority: 0,
            width: Width::Flex { min: 6, max: 17 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|g| Value::number(g.util_pct, format!("{:.1}%", g.util_pct))),
        },
        Column {
            field: "memory",
            header: "MEMORY",
            sort_key: Some('M'),
            priority: 2,
            width: Width::Fixed(10),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|g| {
                Value::number(
                    g.mem_used_mib,
                    format!(
                        "{:.1}/{:.0}G",
                        g.mem_used_mib / 1024.0,
                        g.mem_total_mib / 1024.0
                    ),
                )
            }),
        },
        Column {
            field: "power",
            header: "POWER",
            sort_key: Some('W'),
            priority: 4,
            width: Width::Fixed(5),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|g| Value::number(g.power_w, format!("{:.0}W", g.power_w))),
        },
        Column {
            field: "temp",
            header: "TEMP",
            sort_key: Some('T'),
            priority: 4,
            width: Width::Fixed(5),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|g| Value::number(g.temp_c, format!("{:.0}°C", g.temp_c))),
        },
        Column {
            field: "state",
            header: "STATE",
            sort_key: Some('S'),
            priority: 0,
            width: Width::Fixed(6),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|g| Value::text(super::gpu_state(g))),
        },
        Column {
            field: "model",
            header: "MODEL",
            sort_key: Some('O'),
            priority: 1,
            width: Width::Flex { min: 10, max: 26 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|g| {
                Value::text(match (&g.model, g.version) {
                    (Some(m), Some(v)) => format!("{m} v{v}"),
                    (Some(m), None) => m.clone(),
                    _ => "—".into(),
                })
            }),
        },
        Column {
            field: "pod",
            header: "POD",
            sort_key: Some('P'),
            priority: 3,
            width: Width::Flex { min: 10, max: 0 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|g| Value::text(g.pod.clone().unwrap_or_default())),
        },
    ]
}

pub fn audit() -> Vec<Column<AuditEntry>> {
    vec![
        Column {
            field: "seq",
            header: "#",
            sort_key: Some('N'),
            priority: 2,
            width: Width::Fixed(4),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|e| Value::number(e.seq as f64, e.seq.to_string())),
        },
        Column {
            field: "time",
            header: "TIME (UTC)",
            sort_key: Some('T'),
            priority: 1,
            width: Width::Fixed(14),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| {
                Value::number(
                    e.time.timestamp() as f64,
                    e.time.format("%m-%d %H:%M:%S").to_string(),
                )
            }),
        },
        Column {
            field: "actor",
            header: "ACTOR",
            sort_key: Some('A'),
            priority: 0,
            width: Width::Flex { min: 8, max: 18 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.actor.clone())),
        },
        Column {
            field: "action",
            header: "ACTION",
            sort_key: Some('C'),
            priority: 0,
            width: Width::Flex { min: 14, max: 24 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.action.clone())),
        },
        Column {
            field: "target",
            header: "TARGET",
            sort_key: Some('R'),
            priority: 0,
            width: Width::Flex { min: 12, max: 44 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.target.clone())),
        },
        Column {
            field: "comment",
            header: "COMMENT",
            sort_key: None,
            priority: 0,
            width: Width::Flex { min: 12, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|e| {
                Value::text(if e.comment.is_empty() {
                    e.details.clone()
                } else {
                    e.comment.clone()
                })
            }),
        },
        Column {
            field: "hash",
            header: "HASH",
            sort_key: None,
            priority: 4,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.hash.chars().take(8).collect::<String>())),
        },
    ]
}
