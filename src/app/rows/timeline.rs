//! The Timeline view's model: one incident timeline (`mlops_core::timeline`) built from the data
//! the console holds — the cluster's snapshot (rollouts, Events, pods), the audit log, the
//! registry's models, live drift, the metrics store's alerts and the GPUs — for every model on
//! its top screen, for one model (and version) on a screen `t` opened; its columns; the entry a
//! row opens.

use std::rc::Rc;

use chrono::Duration;
use mlops_core::timeline::{self, Entry, Inputs, Query};

use super::{
    Keys, SortKey, ViewModel, field_names, identity, list_keys,
    memo::{Key, List},
    sort_keys,
    table::{Column, Elide, Value, Width, time_column},
};
use crate::app::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind},
    state::App,
};

/// How far back the console's timeline reaches (and the alerts it asks the metrics store for).
pub const SPAN: Duration = Duration::hours(2);

/// Field names the filter takes besides the columns'.
const EXTRA_FIELDS: &[&str] = &[];

/// The glyph of a change made shortly before an alert (`changed_before`), and of an alert: a
/// mark that reads without colour (16 colours, `NO_COLOR`).
pub const CHANGED_BEFORE: &str = "◆";
pub const ALERT: &str = "▲";

/// The model (and version) a screen's timeline is of: `None` for every model's.
pub fn scope(kind: &ScreenKind) -> (Option<&str>, Option<u32>) {
    match kind {
        ScreenKind::TimelineOf { model, version }
        | ScreenKind::TimelineEntry {
            model: Some(model),
            version,
            ..
        } => (Some(model.as_str()), *version),
        _ => (None, None),
    }
}

/// The timeline of a model (and version), or every model's: built once per data version.
pub fn entries(app: &App, model: Option<&str>, version: Option<u32>) -> Rc<Vec<Entry>> {
    let key = Key {
        data: app.feeds.generation(),
        filter: String::new(),
        sort: None,
        extra: identity((model, version)),
    };
    app.memo.get("timeline-entries", "entries", &key, || {
        let f = &app.feeds;
        let query = Query {
            model: model.map(str::to_string),
            version,
            ..Query::since(app.now - SPAN)
        };
        let inputs = Inputs {
            snapshot: f.cluster.data.as_ref(),
            audit: f.audit.data.as_deref().unwrap_or_default(),
            models: f.models.data.as_deref().unwrap_or_default(),
            drift: f.drift.data.as_deref().unwrap_or_default(),
            alerts: f.alerts.data.as_deref().unwrap_or_default(),
            gpus: f.gpus.data.as_deref().unwrap_or_default(),
            at: f.drift.updated.or(f.gpus.updated).unwrap_or(app.now),
            drift_windows: app.prefs.drift_alert_after,
        };
        timeline::build(&inputs, &query)
    })
}

/// The identity of an entry: its time, source, kind and summary.
pub fn entry_id(e: &Entry) -> u64 {
    identity((e.time, e.source, e.kind, &e.summary))
}

/// The list of `items` (a screen's entries), oldest first.
pub fn list<'a, 'c>(
    app: &App,
    items: &'a [Entry],
    extra: u64,
    columns: &'c [Column<Entry>],
) -> List<'a, 'c, Entry> {
    List {
        name: "timeline",
        data: app.feeds.generation(),
        extra,
        items,
        columns,
        fields: EXTRA_FIELDS,
        order: None,
    }
}

/// The rows a timeline screen shows, filtered and sorted: the entries and the order of those
/// shown (indices into them).
pub fn rows(app: &App, screen: &Screen) -> (Rc<Vec<Entry>>, Rc<Vec<u32>>) {
    let (model, version) = scope(&screen.kind);
    let all = entries(app, model, version);
    let columns = columns();
    let order = list(app, &all, identity((model, version)), &columns).visible(
        &app.memo,
        &screen.filter,
        screen.sort,
    );
    (all, order)
}

/// The entry a screen is about: its own, or the selected row's.
pub fn selected(app: &App, screen: &Screen) -> Option<Entry> {
    if let ScreenKind::TimelineEntry { id, .. } = &screen.kind {
        let (model, version) = scope(&screen.kind);
        return entries(app, model, version)
            .iter()
            .find(|e| entry_id(e) == *id)
            .cloned();
    }
    let (all, order) = rows(app, screen);
    order
        .get(screen.selected)
        .and_then(|&i| all.get(i as usize))
        .cloned()
}

/// The Timeline view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        if !screen.kind.is_list() {
            return Keys::default();
        }
        let (model, version) = scope(&screen.kind);
        let all = entries(app, model, version);
        let columns = columns();
        let list = list(app, &all, identity((model, version)), &columns);
        list_keys(app, screen, &list, entry_id)
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        if !screen.kind.is_list() {
            return None;
        }
        let (model, version) = scope(&screen.kind);
        selected(app, screen).map(|e| ScreenKind::TimelineEntry {
            model: model.map(str::to_string),
            version,
            id: entry_id(&e),
        })
    }

    /// An entry's raw form is its JSON in the entry's screen (as `timeline -o json`).
    fn raw(&self, _app: &App, _screen: &Screen) -> Option<RawOf> {
        None
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        let e = selected(app, screen)?;
        Some((e.model?, e.version?))
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
        out.extend([
            Source::Audit,
            Source::Models,
            Source::Drift,
            Source::Gpus,
            Source::Alerts,
        ]);
    }
}

/// The mark of an entry: [`CHANGED_BEFORE`], [`ALERT`] or nothing.
pub fn mark(e: &Entry) -> &'static str {
    if e.changed_before {
        CHANGED_BEFORE
    } else if e.kind.is_alert() {
        ALERT
    } else {
        ""
    }
}

/// The columns of a timeline. `ago` holds the time; the view writes how long ago it was.
// Data: the columns, one literal each.
#[allow(clippy::too_many_lines)]
pub fn columns() -> Vec<Column<Entry>> {
    vec![
        time_column(|e: &Entry| e.time),
        Column {
            field: "ago",
            header: "AGO",
            sort_key: None,
            priority: 4,
            width: Width::Fixed(8),
            right: true,
            elide: Elide::End,
            value: Box::new(|e| Value::number(e.time.timestamp() as f64, "")),
        },
        Column {
            field: "mark",
            header: "!",
            sort_key: None,
            priority: 0,
            width: Width::Fixed(1),
            right: false,
            elide: Elide::End,
            value: Box::new(|e| Value::text(mark(e))),
        },
        Column {
            field: "source",
            header: "SOURCE",
            sort_key: Some('S'),
            priority: 1,
            width: Width::Fixed(10),
            right: false,
            elide: Elide::End,
            value: Box::new(|e| Value::text(e.source.as_str())),
        },
        Column {
            field: "kind",
            header: "KIND",
            sort_key: Some('K'),
            priority: 3,
            width: Width::Flex { min: 5, max: 18 },
            right: false,
            elide: Elide::End,
            value: Box::new(|e| Value::text(e.kind.as_str())),
        },
        // Where it happened (an Event's, a rollout's or a GPU's cluster): with several clusters
        // in one console, which region's canary rolled back; empty for the registry's entries.
        Column {
            field: "cluster",
            header: "CLUSTER",
            sort_key: Some('C'),
            priority: 4,
            width: Width::Flex { min: 7, max: 14 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| Value::text(e.details.get("cluster").cloned().unwrap_or_default())),
        },
        Column {
            field: "model",
            header: "MODEL",
            sort_key: Some('M'),
            priority: 2,
            width: Width::Flex { min: 8, max: 22 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|e| {
                Value::text(match (&e.model, e.version) {
                    (Some(m), Some(v)) => format!("{m} v{v}"),
                    (Some(m), None) => m.clone(),
                    _ => String::new(),
                })
            }),
        },
        Column {
            field: "summary",
            header: "SUMMARY",
            sort_key: None,
            priority: 0,
            width: Width::Flex { min: 36, max: 0 },
            right: false,
            elide: Elide::End,
            value: Box::new(|e| Value::text(e.summary.clone())),
        },
    ]
}
