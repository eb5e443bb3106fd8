//! The Audit view's model: the hash-chained audit log, newest first; its columns; and the entry
//! it opens.

use mlops_core::audit::AuditEntry;

use super::{
    Keys, SortKey, ViewModel, field_names, identity, list_keys,
    memo::List,
    sort_keys,
    table::{Column, Elide, Value, Width, time_column},
};
use crate::app::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind},
    state::App,
};

/// Field names the filter takes besides the columns'.
const EXTRA_FIELDS: &[&str] = &["details"];

fn list<'a, 'c>(app: &'a App, columns: &'c [Column<AuditEntry>]) -> List<'a, 'c, AuditEntry> {
    List {
        name: "audit",
        data: app.feeds.audit.version,
        extra: 0,
        items: app.feeds.audit.data.as_deref().unwrap_or_default(),
        columns,
        fields: EXTRA_FIELDS,
        // Newest first.
        order: Some(&|all: &[AuditEntry]| {
            (0..u32::try_from(all.len()).unwrap_or(u32::MAX))
                .rev()
                .collect()
        }),
    }
}

/// The audit entries `screen` lists, filtered and sorted.
pub fn audit<'a>(app: &'a App, screen: &Screen) -> Vec<&'a AuditEntry> {
    let columns = columns();
    let list = list(app, &columns);
    list.rows(&app.memo, &screen.filter, screen.sort)
}

pub fn find_audit(app: &App, seq: u64) -> Option<&AuditEntry> {
    app.feeds.audit.data.as_ref()?.iter().find(|e| e.seq == seq)
}

/// The audit entry a screen is about: its own, or the selected row's.
fn selected(app: &App, screen: &Screen) -> Option<u64> {
    match &screen.kind {
        ScreenKind::AuditEntry(seq) => Some(*seq),
        _ => audit(app, screen).get(screen.selected).map(|e| e.seq),
    }
}

/// The Audit view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        if !screen.kind.is_list() {
            return Keys::default();
        }
        let columns = columns();
        list_keys(app, screen, &list(app, &columns), |e| identity(e.seq))
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        if !screen.kind.is_list() {
            return None;
        }
        selected(app, screen).map(ScreenKind::AuditEntry)
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        selected(app, screen).map(RawOf::AuditEntry)
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
        out.push(Source::Audit);
    }
}

/// The columns of the audit log.
pub fn columns() -> Vec<Column<AuditEntry>> {
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
        time_column(|e: &AuditEntry| e.time),
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
