//! The Rollouts view's model: every canary rollout, what needs a human first; its columns; and
//! the rollout detail it drills into.

use mlops_core::rollout::{Phase, RolloutKey, RolloutRecord};

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

/// How urgently a rollout needs a human, for sorting: lower first.
pub fn attention(phase: Phase) -> u8 {
    match phase {
        Phase::AwaitingApproval => 0,
        Phase::RollingBack => 1,
        Phase::Failed => 2,
        Phase::Paused => 3,
        Phase::Progressing | Phase::Promoting | Phase::Pending => 4,
        Phase::RolledBack => 5,
        Phase::Promoted => 6,
    }
}

/// Field names the filter takes besides the columns'.
const EXTRA_FIELDS: &[&str] = &["namespace"];

/// The rollouts list of `screen` (the Rollouts view, or the Overview's rollouts panel).
fn list<'a, 'c>(app: &'a App, columns: &'c [Column<RolloutRecord>]) -> List<'a, 'c, RolloutRecord> {
    let items = app
        .feeds
        .cluster
        .data
        .as_ref()
        .map_or(&[][..], |s| s.rollouts.as_slice());
    List {
        name: "rollouts",
        data: app.feeds.cluster.version,
        extra: 0,
        items,
        columns,
        fields: EXTRA_FIELDS,
        // The list's own order: what needs a human first, then the newest.
        order: Some(&|all: &[RolloutRecord]| {
            let mut order: Vec<u32> = (0..u32::try_from(all.len()).unwrap_or(u32::MAX)).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (&all[a as usize], &all[b as usize]);
                attention(a.status.phase)
                    .cmp(&attention(b.status.phase))
                    .then(b.created.cmp(&a.created))
            });
            order
        }),
    }
}

/// The rollouts `screen` lists, filtered and sorted.
pub fn rollouts<'a>(app: &'a App, screen: &Screen) -> Vec<&'a RolloutRecord> {
    let columns = columns();
    let list = list(app, &columns);
    list.rows(&app.memo, &screen.filter, screen.sort)
}

/// The identities of the rollouts `screen` lists.
pub fn keys(app: &App, screen: &Screen) -> Keys {
    let columns = columns();
    list_keys(app, screen, &list(app, &columns), |r| {
        identity((&r.cluster, &r.namespace, &r.name))
    })
}

/// The most events of a rollout its detail lists.
pub const MAX_EVENTS: usize = 50;

/// A rollout's events, newest first (at most [`MAX_EVENTS`]); its detail scrolls through them.
pub fn events<'a>(app: &'a App, key: &RolloutKey) -> Vec<&'a mlops_core::model::ClusterEvent> {
    let Some(snap) = &app.feeds.cluster.data else {
        return Vec::new();
    };
    let object = format!("modelrollout/{}", key.name);
    snap.events
        .iter()
        .rev()
        .filter(|e| e.object == object && e.cluster == key.cluster)
        .take(MAX_EVENTS)
        .collect()
}

pub fn find_rollout<'a>(app: &'a App, key: &RolloutKey) -> Option<&'a RolloutRecord> {
    app.feeds
        .cluster
        .data
        .as_ref()?
        .rollouts
        .iter()
        .find(|r| r.is(key))
}

/// The rollout a screen is about: its detail's, or the selected row's on a list.
pub fn selected<'a>(app: &'a App, screen: &Screen) -> Option<&'a RolloutRecord> {
    match &screen.kind {
        ScreenKind::RolloutDetail(k) => find_rollout(app, k),
        _ => rollouts(app, screen).get(screen.selected).copied(),
    }
}

/// The Rollouts view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        match screen.kind {
            ScreenKind::RolloutDetail(_) => Keys::default(),
            _ => keys(app, screen),
        }
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        match screen.kind {
            ScreenKind::RolloutDetail(_) => None,
            _ => selected(app, screen).map(|r| ScreenKind::RolloutDetail(r.key())),
        }
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        match &screen.kind {
            ScreenKind::RolloutDetail(k) => Some(RawOf::Rollout(k.clone())),
            _ => selected(app, screen).map(|r| RawOf::Rollout(r.key())),
        }
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        selected(app, screen).map(|r| (r.spec.model.name.clone(), r.spec.model.version))
    }

    fn sortable(&self, _app: &App, screen: &Screen) -> Vec<SortKey> {
        match screen.kind {
            ScreenKind::RolloutDetail(_) => Vec::new(),
            _ => sort_keys(&columns()),
        }
    }

    fn fields(&self, _app: &App, _screen: &Screen) -> Vec<&'static str> {
        field_names(&columns(), EXTRA_FIELDS)
    }

    fn wanted(&self, _app: &App, screen: &Screen, out: &mut Vec<Source>) {
        // A promotion's preview names the champion alias: have the registry loaded.
        out.push(Source::Models);
        if let ScreenKind::RolloutDetail(k) = &screen.kind {
            out.push(Source::Series(k.clone()));
        }
    }
}

/// The columns of a rollouts list.
#[allow(clippy::too_many_lines)] // data: one literal per column
pub fn columns() -> Vec<Column<RolloutRecord>> {
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
                    f64::from(attention(r.status.phase)),
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
