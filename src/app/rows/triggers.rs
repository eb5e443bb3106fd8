//! The Triggers view's model: the RolloutTriggers of the cluster snapshot (`ClusterSnapshot::
//! triggers`, the core's `TriggerRecord`s, the same in the demo and on a cluster), by namespace
//! and name; their columns (what each watches, `Ready`, the last event, the verdict, the rollout
//! it started); and what a row opens: the rollout it started.

use mlops_core::triggers::{TriggerRecord, TriggersRead};

use super::{
    Keys, SortKey, ViewModel, field_names, identity, list_keys,
    memo::List,
    sort_keys,
    table::{Column, Elide, Value, Width},
};
use crate::app::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind},
    state::App,
};

/// Field names the filter takes besides the columns'.
const EXTRA_FIELDS: &[&str] = &[];

/// What the snapshot says of the triggers (none yet without a snapshot).
pub fn read(app: &App) -> Option<&TriggersRead> {
    app.feeds.cluster.data.as_ref().map(|c| &c.triggers)
}

fn list<'a, 'c>(app: &'a App, columns: &'c [Column<TriggerRecord>]) -> List<'a, 'c, TriggerRecord> {
    List {
        name: "triggers",
        data: app.feeds.cluster.version,
        extra: 0,
        items: read(app).map_or(&[][..], TriggersRead::listed),
        columns,
        fields: EXTRA_FIELDS,
        // By namespace, then name, then cluster.
        order: Some(&|all: &[TriggerRecord]| {
            let mut order: Vec<u32> = (0..u32::try_from(all.len()).unwrap_or(u32::MAX)).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (&all[a as usize], &all[b as usize]);
                (&a.namespace, &a.name, &a.cluster).cmp(&(&b.namespace, &b.name, &b.cluster))
            });
            order
        }),
    }
}

/// The triggers `screen` lists, filtered and sorted.
pub fn triggers<'a>(app: &'a App, screen: &Screen) -> Vec<&'a TriggerRecord> {
    let columns = columns();
    list(app, &columns).rows(&app.memo, &screen.filter, screen.sort)
}

/// The trigger `namespace/name` of `cluster` (several clusters may each have one so named).
pub fn find_trigger<'a>(
    app: &'a App,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Option<&'a TriggerRecord> {
    read(app)?
        .listed()
        .iter()
        .find(|t| t.cluster == cluster && t.namespace == namespace && t.name == name)
}

fn selected<'a>(app: &'a App, screen: &Screen) -> Option<&'a TriggerRecord> {
    triggers(app, screen).get(screen.selected).copied()
}

/// The rollout trigger `t` started, where it still exists: its detail screen.
pub fn started_rollout(app: &App, t: &TriggerRecord) -> Option<ScreenKind> {
    let name = t.status.started_rollout.as_deref()?;
    app.feeds
        .cluster
        .data
        .as_ref()?
        .rollouts
        .iter()
        .find(|r| {
            r.namespace == t.namespace
                && r.name == name
                && (t.cluster.is_empty() || r.cluster == t.cluster)
        })
        .map(|r| ScreenKind::RolloutDetail(r.key()))
}

/// The Triggers view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        let columns = columns();
        list_keys(app, screen, &list(app, &columns), |t| {
            identity((&t.cluster, &t.namespace, &t.name))
        })
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        started_rollout(app, selected(app, screen)?)
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        selected(app, screen).map(|t| RawOf::Trigger {
            cluster: t.cluster.clone(),
            namespace: t.namespace.clone(),
            name: t.name.clone(),
        })
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        let t = selected(app, screen)?;
        let version = t.status.last_event.as_ref()?.version?;
        Some((t.spec.model.clone(), version))
    }

    fn sortable(&self, _app: &App, _screen: &Screen) -> Vec<SortKey> {
        sort_keys(&columns())
    }

    fn fields(&self, _app: &App, _screen: &Screen) -> Vec<&'static str> {
        field_names(&columns(), EXTRA_FIELDS)
    }

    fn wanted(&self, _app: &App, _screen: &Screen, _out: &mut Vec<Source>) {}
}

/// `when`, in words: `alias staging`, or why it names nothing valid.
pub fn when_text(t: &TriggerRecord) -> String {
    t.spec
        .when
        .condition()
        .map_or_else(|_| "invalid".to_string(), |c| c.to_string())
}

/// `Ready`: `True`, `False: <reason>`, or `—` before the controller has looked at it.
pub fn ready_text(t: &TriggerRecord) -> String {
    match t.status.conditions.iter().find(|c| c.type_ == "Ready") {
        None => "—".into(),
        Some(c) if c.status == "True" => "True".into(),
        Some(c) => format!("False: {}", c.reason),
    }
}

/// The last event: its kind, version and delivery id (or `poll`).
pub fn last_event_text(t: &TriggerRecord) -> String {
    t.status.last_event.as_ref().map_or_else(
        || "—".into(),
        |e| {
            let version = e.version.map(|v| format!(" v{v}")).unwrap_or_default();
            format!("{}{version} · {}", e.kind, e.delivery_id)
        },
    )
}

/// Verified or rejected, with the reason of a rejection.
pub fn verdict_text(t: &TriggerRecord) -> String {
    match &t.status.last_event {
        None => "—".into(),
        Some(e) if e.verdict == "rejected" && !e.reason.is_empty() => {
            format!("rejected: {}", e.reason)
        }
        Some(e) => e.verdict.clone(),
    }
}

/// Whether the cluster snapshot holds more than one cluster (`--context a,b`, the demo).
pub fn several_clusters(app: &App) -> bool {
    app.feeds
        .cluster
        .data
        .as_ref()
        .is_some_and(|s| s.clusters.len() > 1)
}

/// The columns the Triggers view draws: the CLUSTER column only when the snapshot has several
/// clusters (with one it would repeat the same name on every row).
pub fn shown_columns(app: &App) -> Vec<Column<TriggerRecord>> {
    let mut all = columns();
    if !several_clusters(app) {
        all.retain(|c| c.field != "cluster");
    }
    all
}

/// The columns of the triggers list.
pub fn columns() -> Vec<Column<TriggerRecord>> {
    let text =
        |field, header, sort_key, priority, min, max, value: fn(&TriggerRecord) -> String| Column {
            field,
            header,
            sort_key,
            priority,
            width: Width::Flex { min, max },
            right: false,
            elide: Elide::Middle,
            value: Box::new(move |t: &TriggerRecord| Value::text(value(t))),
        };
    vec![
        text("namespace", "NAMESPACE", Some('S'), 4, 8, 16, |t| {
            t.namespace.clone()
        }),
        text("name", "NAME", Some('N'), 0, 12, 32, |t| t.name.clone()),
        // Always a column (`cluster:NAME` filters by it, `C` sorts); drawn only when the
        // snapshot has several clusters (`shown_columns`).
        text("cluster", "CLUSTER", Some('C'), 3, 8, 14, |t| {
            t.cluster.clone()
        }),
        text("model", "MODEL", Some('M'), 1, 8, 24, |t| {
            t.spec.model.clone()
        }),
        text("when", "WHEN", None, 2, 10, 28, when_text),
        text("deployment", "DEPLOYMENT", Some('D'), 4, 8, 24, |t| {
            t.spec.deployment.clone()
        }),
        text("template", "TEMPLATE", None, 5, 6, 16, |t| {
            t.spec.template.clone()
        }),
        text("ready", "READY", Some('R'), 0, 5, 22, ready_text),
        text("last", "LAST EVENT", None, 3, 12, 48, last_event_text),
        Column {
            field: "age",
            header: "AGE",
            sort_key: Some('A'),
            priority: 2,
            width: Width::Fixed(4),
            right: true,
            elide: Elide::End,
            value: Box::new(|t: &TriggerRecord| {
                t.status.last_event.as_ref().map_or_else(
                    || Value::text("—"),
                    |e| {
                        Value::number(
                            e.time.timestamp() as f64,
                            e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                        )
                    },
                )
            }),
        },
        Column {
            field: "verdict",
            header: "VERDICT",
            sort_key: Some('V'),
            priority: 0,
            width: Width::Flex { min: 9, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|t: &TriggerRecord| Value::text(verdict_text(t))),
        },
        text("started", "STARTED", None, 0, 8, 36, |t| {
            t.status
                .started_rollout
                .clone()
                .unwrap_or_else(|| "—".into())
        }),
    ]
}
