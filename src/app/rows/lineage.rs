//! The Lineage view's model: every model version in the registry (its list and columns), and
//! the graph of one version laid out upstream → downstream, each row knowing which screen
//! `enter` opens; a version's and a dataset's detail.

use std::rc::Rc;

use mlops_core::{
    lineage::{self, LineageInputs, NodeKey, NodeKind},
    model::{ModelVersion, RegisteredModel},
};

use super::{
    Keys, SortKey, ViewModel, field_names,
    filter::matches,
    identity, lineage_of, list_keys,
    memo::{Key, List},
    sort_keys,
    table::{Column, Elide, Value, Width},
};
use crate::app::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind, ViewId},
    state::App,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Upstream,
    Focus,
    Downstream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageRow {
    /// The node's id in the graph: the row's identity.
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    pub detail: String,
    pub relation: Relation,
    pub target: Option<ScreenKind>,
}

/// The run behind a model version, from whichever feed has it.
pub fn find_run<'a>(app: &'a App, run_id: &str) -> Option<&'a mlops_core::model::Run> {
    if let Some(r) = app.feeds.run.get(run_id).and_then(|f| f.data.as_ref()) {
        return Some(r);
    }
    app.feeds
        .runs
        .values()
        .filter_map(|f| f.data.as_ref())
        .flat_map(|v| v.runs.iter())
        .find(|r| r.id == run_id)
}

/// Where the registry and the clusters disagree, over every model (`lineage::mismatches`, the
/// same as `mlops lineage`): empty until both the registry and the cluster have answered.
pub fn mismatches(app: &App) -> Vec<mlops_core::lineage::Mismatch> {
    let (Some(models), Some(snapshot)) = (&app.feeds.models.data, &app.feeds.cluster.data) else {
        return Vec::new();
    };
    models
        .iter()
        .flat_map(|m| mlops_core::lineage::mismatches(m, &snapshot.deployments))
        .collect()
}

pub fn run_id_of(app: &App, model: &str, version: u32) -> Option<String> {
    app.feeds
        .models
        .data
        .as_ref()?
        .iter()
        .find(|m| m.name == model)?
        .version(version)?
        .run_id
        .clone()
}

/// The rows of a lineage graph screen, worked out once per (data, filter).
pub fn rows(app: &App, screen: &Screen) -> Rc<Vec<LineageRow>> {
    let ScreenKind::LineageGraph { model, version } = &screen.kind else {
        return Rc::default();
    };
    let key = Key {
        data: app.feeds.generation(),
        filter: format!("{model}@{version} {}", screen.filter.text()),
        sort: None,
        extra: 0,
    };
    app.memo.get("lineage-graph", "rows", &key, || {
        graph_rows(app, screen, model, *version)
    })
}

fn graph_rows(app: &App, screen: &Screen, model: &str, version: u32) -> Vec<LineageRow> {
    let Some(m) = app
        .feeds
        .models
        .data
        .as_ref()
        .and_then(|ms| ms.iter().find(|m| m.name == *model))
    else {
        return Vec::new();
    };
    let run = m
        .version(version)
        .and_then(|v| v.run_id.as_deref())
        .and_then(|id| find_run(app, id));
    let (rollouts, deployments, pods) = match &app.feeds.cluster.data {
        Some(s) => (
            s.rollouts.as_slice(),
            s.deployments.as_slice(),
            s.pods.as_slice(),
        ),
        None => (&[][..], &[][..], &[][..]),
    };
    let g = lineage::for_version(&LineageInputs {
        model: m,
        version,
        run,
        rollouts,
        deployments,
        pods,
    });
    let focus = g.find_key(&NodeKey::version(model, version));
    let upstream = focus.map(|f| g.walk(f, false)).unwrap_or_default();
    let mut out = Vec::new();
    for kind in NodeKind::ORDER {
        for i in g.of_kind(kind) {
            let n = &g.nodes[i];
            if !matches(screen.filter.text(), &[&n.label, &n.detail, kind.as_str()]) {
                continue;
            }
            let relation = if Some(i) == focus {
                Relation::Focus
            } else if upstream.contains(&i) {
                Relation::Upstream
            } else {
                Relation::Downstream
            };
            let target = match kind {
                NodeKind::Run => run.map(|r| ScreenKind::RunDetail {
                    experiment_id: r.experiment_id.clone(),
                    run_id: r.id.clone(),
                    name: r.name.clone(),
                }),
                NodeKind::Rollout => match &n.key {
                    NodeKey::Rollout(k) => Some(ScreenKind::RolloutDetail(k.clone())),
                    _ => None,
                },
                NodeKind::Dataset => Some(ScreenKind::DatasetDetail {
                    model: model.to_string(),
                    version,
                    name: n.label.clone(),
                }),
                _ => None,
            };
            out.push(LineageRow {
                id: n.id.clone(),
                kind,
                label: n.label.clone(),
                detail: n.detail.clone(),
                relation,
                target,
            });
        }
    }
    out
}

/// A model version with its registered model.
pub type VersionRow<'a> = (&'a RegisteredModel, &'a ModelVersion);

/// Every version of every registered model, the newest of each model first.
fn versions(app: &App) -> Vec<VersionRow<'_>> {
    app.feeds
        .models
        .data
        .as_deref()
        .map_or_else(Vec::new, |models| {
            models
                .iter()
                .flat_map(|m| m.versions.iter().rev().map(move |v| (m, v)))
                .collect()
        })
}

fn list<'a, 'c>(
    app: &App,
    items: &'c [VersionRow<'a>],
    columns: &'c [Column<VersionRow<'a>>],
) -> List<'c, 'c, VersionRow<'a>> {
    List {
        name: "versions",
        data: app.feeds.models.version,
        extra: 0,
        items,
        columns,
        fields: &[],
        order: None,
    }
}

/// The model versions `screen` lists, filtered and sorted.
pub fn model_versions<'a>(app: &'a App, screen: &Screen) -> Vec<VersionRow<'a>> {
    let items = versions(app);
    let columns = columns();
    let list = list(app, &items, &columns);
    list.visible(&app.memo, &screen.filter, screen.sort)
        .iter()
        .map(|&i| items[i as usize])
        .collect()
}

pub fn find_version<'a>(
    app: &'a App,
    model: &str,
    version: u32,
) -> Option<(&'a RegisteredModel, &'a ModelVersion)> {
    let m = app
        .feeds
        .models
        .data
        .as_ref()?
        .iter()
        .find(|m| m.name == model)?;
    Some((m, m.version(version)?))
}

/// The model version a screen of the view is about: its own, or the selected row's.
fn selected_version(app: &App, screen: &Screen) -> Option<(String, u32)> {
    match &screen.kind {
        ScreenKind::VersionDetail { model, version }
        | ScreenKind::LineageGraph { model, version }
        | ScreenKind::DatasetDetail { model, version, .. } => Some((model.clone(), *version)),
        _ => model_versions(app, screen)
            .get(screen.selected)
            .map(|(m, v)| (m.name.clone(), v.version)),
    }
}

fn split3(s: &str) -> Option<(String, String, String)> {
    let mut parts = s.splitn(3, '/');
    Some((
        parts.next()?.to_string(),
        parts.next()?.to_string(),
        parts.next()?.to_string(),
    ))
}

/// What `d` opens on a graph's row: the version's detail, a pod's, or what `enter` opens.
fn describe_graph_row(app: &App, screen: &Screen, model: &str, version: u32) -> Option<ScreenKind> {
    let row = rows(app, screen).get(screen.selected)?.clone();
    match row.kind {
        NodeKind::ModelVersion => Some(ScreenKind::VersionDetail {
            model: model.to_string(),
            version,
        }),
        NodeKind::Pod => {
            let (cluster, namespace, name) = split3(row.id.trim_start_matches("pod:"))?;
            Some(ScreenKind::PodDetail {
                cluster,
                namespace,
                name,
                from: ViewId::Lineage,
            })
        }
        _ => row.target,
    }
}

/// The Lineage view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        match &screen.kind {
            ScreenKind::Root(_) => {
                let items = versions(app);
                let columns = columns();
                list_keys(app, screen, &list(app, &items, &columns), |(m, v)| {
                    identity((&m.name, v.version))
                })
            }
            ScreenKind::LineageGraph { .. } => {
                Keys::of(rows(app, screen).iter().map(|r| identity(&r.id)).collect())
            }
            _ => Keys::default(),
        }
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        match &screen.kind {
            ScreenKind::Root(_) => selected_version(app, screen).map(|(m, v)| lineage_of(&m, v)),
            ScreenKind::LineageGraph { .. } => {
                let row = rows(app, screen).get(screen.selected)?.clone();
                row.target.or_else(|| self.describe(app, screen))
            }
            _ => None,
        }
    }

    fn describe(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        match &screen.kind {
            ScreenKind::Root(_) => selected_version(app, screen)
                .map(|(model, version)| ScreenKind::VersionDetail { model, version }),
            ScreenKind::LineageGraph { model, version } => {
                describe_graph_row(app, screen, model, *version)
            }
            _ => None,
        }
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        match &screen.kind {
            ScreenKind::DatasetDetail {
                model,
                version,
                name,
            } => Some(RawOf::Dataset {
                model: model.clone(),
                version: *version,
                name: name.clone(),
            }),
            _ => selected_version(app, screen)
                .map(|(model, version)| RawOf::Version { model, version }),
        }
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        match screen.kind {
            ScreenKind::LineageGraph { .. } => None,
            _ => selected_version(app, screen),
        }
    }

    fn sortable(&self, _app: &App, screen: &Screen) -> Vec<SortKey> {
        if screen.kind == ScreenKind::Root(ViewId::Lineage) {
            sort_keys(&columns())
        } else {
            Vec::new()
        }
    }

    fn fields(&self, _app: &App, screen: &Screen) -> Vec<&'static str> {
        if screen.kind == ScreenKind::Root(ViewId::Lineage) {
            field_names(&columns(), &[])
        } else {
            Vec::new()
        }
    }

    fn wanted(&self, app: &App, screen: &Screen, out: &mut Vec<Source>) {
        out.push(Source::Models);
        match &screen.kind {
            ScreenKind::LineageGraph { model, version }
            | ScreenKind::VersionDetail { model, version } => {
                out.extend(run_id_of(app, model, *version).map(Source::Run));
            }
            ScreenKind::DatasetDetail { model, version, .. } => {
                out.push(Source::Drift);
                out.extend(run_id_of(app, model, *version).map(Source::Run));
            }
            _ => {}
        }
    }
}

/// The columns of the model versions list.
#[allow(clippy::too_many_lines)] // data: one literal per column
pub fn columns<'a>() -> Vec<Column<VersionRow<'a>>> {
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
            // As the cell shows them, `@` and all: measured without it, `@challenger` was cut
            // to `@ch…lenger` beside 50 empty columns.
            value: Box::new(|(m, v)| {
                Value::text(
                    m.aliases_of(v.version)
                        .iter()
                        .map(|a| format!("@{a}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }),
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
