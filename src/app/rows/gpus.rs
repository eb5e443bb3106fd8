//! The GPUs view's model: every GPU with its utilisation, memory and health, joined with what it
//! serves; its columns; and the GPU detail it opens.

use std::rc::Rc;

use mlops_core::{
    gpu,
    model::{Gpu, GpuSummary},
};

use super::{
    Keys, SortKey, ViewModel, field_names, identity, lineage_of, list_keys,
    memo::{Key, List},
    sort_keys,
    table::{Column, Elide, Value, Width},
};
use crate::app::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind},
    state::App,
};

/// A GPU's state in a word: `IDLE` (allocated but idle), `busy`, `free`.
pub fn gpu_state(g: &Gpu) -> &'static str {
    if g.is_allocated_idle() {
        "IDLE"
    } else if g.is_allocated() {
        "busy"
    } else {
        "free"
    }
}

/// The GPUs view's STATE cell as it reads: a fault first (`XID 79`), then [`gpu_state`]; the
/// filter and the sort see this text, so `/xid` finds the faulted GPU.
pub fn gpu_state_text(g: &Gpu) -> std::borrow::Cow<'static, str> {
    match g.xid {
        Some(x) => format!("XID {x}").into(),
        None => gpu_state(g).into(),
    }
}

/// The order STATE sorts in: what needs a look first (a fault, then idle), then busy, free.
fn state_rank(g: &Gpu) -> f64 {
    if g.xid.is_some() {
        0.0
    } else if g.is_allocated_idle() {
        1.0
    } else if g.is_allocated() {
        2.0
    } else {
        3.0
    }
}

/// Field names the filter takes besides the columns'.
const EXTRA_FIELDS: &[&str] = &["product"];

/// What the GPUs' summary line says, worked out once per (metrics, cluster) version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// `None` until the metrics store has answered.
    pub summary: Option<GpuSummary>,
    pub faults: usize,
    /// GPUs the cluster's pods request of those its nodes can allocate; `None` without a
    /// cluster.
    pub requested_of_allocatable: Option<(u32, u32)>,
}

/// The summary of every GPU (not just those a filter shows).
pub fn totals(app: &App) -> Rc<Totals> {
    let key = Key {
        data: app.feeds.gpus.version,
        filter: String::new(),
        sort: None,
        extra: app.feeds.cluster.version,
    };
    app.memo.get("gpus", "totals", &key, || Totals {
        summary: app.feeds.gpus.data.as_deref().map(GpuSummary::of),
        faults: app
            .feeds
            .gpus
            .data
            .as_deref()
            .map_or(0, |all| all.iter().filter(|g| g.xid.is_some()).count()),
        requested_of_allocatable: app
            .feeds
            .cluster
            .data
            .as_ref()
            .map(|c| gpu::requested_of_allocatable(&c.nodes, &c.pods)),
    })
}

/// A GPU node's `nvidia.com/gpu` requested of allocatable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRequests {
    pub name: String,
    pub requested: u32,
    pub capacity: u32,
}

/// Every GPU node of the cluster with what its pods request, by cluster and name; worked out
/// once per cluster version.
pub fn node_requests(app: &App) -> Rc<Vec<NodeRequests>> {
    let key = Key {
        data: app.feeds.cluster.version,
        filter: String::new(),
        sort: None,
        extra: 0,
    };
    app.memo.get("gpu-nodes", "requests", &key, || {
        let Some(cluster) = &app.feeds.cluster.data else {
            return Vec::new();
        };
        let requested = gpu::requested_per_node(&cluster.pods);
        let mut nodes: Vec<_> = cluster
            .nodes
            .iter()
            .filter(|n| n.gpu_capacity > 0)
            .collect();
        nodes.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        nodes
            .into_iter()
            .map(|n| NodeRequests {
                name: n.name.clone(),
                requested: requested.get(n.name.as_str()).copied().unwrap_or(0),
                capacity: n.gpu_capacity,
            })
            .collect()
    })
}

fn list<'a, 'c>(app: &'a App, columns: &'c [Column<Gpu>]) -> List<'a, 'c, Gpu> {
    List {
        name: "gpus",
        data: app.feeds.gpus.version,
        extra: 0,
        items: app.feeds.gpus.data.as_deref().unwrap_or_default(),
        columns,
        fields: EXTRA_FIELDS,
        order: None,
    }
}

/// The GPUs `screen` lists, filtered and sorted.
pub fn gpus<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Gpu> {
    let columns = columns();
    let list = list(app, &columns);
    list.rows(&app.memo, &screen.filter, screen.sort)
}

pub fn find_gpu<'a>(app: &'a App, cluster: &str, node: &str, index: u32) -> Option<&'a Gpu> {
    app.feeds
        .gpus
        .data
        .as_ref()?
        .iter()
        .find(|g| g.cluster == cluster && g.node == node && g.index == index)
}

/// The detail of a GPU, and its raw document.
pub fn detail_of(g: &Gpu) -> ScreenKind {
    ScreenKind::GpuDetail {
        cluster: g.cluster.clone(),
        node: g.node.clone(),
        index: g.index,
    }
}

pub fn raw_of(g: &Gpu) -> RawOf {
    RawOf::Gpu {
        cluster: g.cluster.clone(),
        node: g.node.clone(),
        index: g.index,
    }
}

/// The identity of a GPU row.
pub fn key_of(g: &Gpu) -> u64 {
    identity((&g.cluster, &g.node, g.index))
}

/// The GPU a screen is about: its detail's, or the selected row's.
fn selected<'a>(app: &'a App, screen: &Screen) -> Option<&'a Gpu> {
    match &screen.kind {
        ScreenKind::GpuDetail {
            cluster,
            node,
            index,
        } => find_gpu(app, cluster, node, *index),
        _ => gpus(app, screen).get(screen.selected).copied(),
    }
}

/// The GPUs view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        if !screen.kind.is_list() {
            return Keys::default();
        }
        let columns = columns();
        list_keys(app, screen, &list(app, &columns), key_of)
    }

    /// `enter` on a GPU opens the lineage of the model version it serves.
    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        if !screen.kind.is_list() {
            return None;
        }
        let g = selected(app, screen)?;
        Some(lineage_of(g.model.as_deref()?, g.version?))
    }

    fn describe(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        screen
            .kind
            .is_list()
            .then(|| selected(app, screen).map(detail_of))
            .flatten()
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        match &screen.kind {
            ScreenKind::GpuDetail {
                cluster,
                node,
                index,
            } => Some(RawOf::Gpu {
                cluster: cluster.clone(),
                node: node.clone(),
                index: *index,
            }),
            _ => selected(app, screen).map(raw_of),
        }
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        let g = selected(app, screen)?;
        Some((g.model.clone()?, g.version?))
    }

    fn sortable(&self, _app: &App, screen: &Screen) -> Vec<SortKey> {
        if screen.kind.is_list() {
            sort_keys(&columns())
        } else {
            Vec::new()
        }
    }

    fn fields(&self, _app: &App, _screen: &Screen) -> Vec<&'static str> {
        field_names(&columns(), EXTRA_FIELDS)
    }

    fn wanted(&self, _app: &App, _screen: &Screen, out: &mut Vec<Source>) {
        out.push(Source::Gpus);
    }
}

/// The columns of the GPUs list.
#[allow(clippy::too_many_lines)] // data: one literal per column
pub fn columns() -> Vec<Column<Gpu>> {
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
            value: Box::new(|g| Value::number(state_rank(g), gpu_state_text(g))),
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
