//! What each screen lists, and what its rows open: one `ViewModel` per view in
//! `rows/<view>.rs` (its columns, its rows filtered and sorted, what `enter`, `d`, `y` and `J`
//! open, what it sorts by and which data it wants), chosen by `model`. `update` (selection,
//! drill-down) and the views (rendering) read the same rows, so both always agree on what row N
//! is and which object it is; the rows are worked out once per (data, filter, sort) in `memo`.
//! `table` holds the column type, `filter` the `/` syntax, `wanted` the refresh periods.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    rc::Rc,
};

use mlops_core::rollout::Verb;

pub mod audit;
pub mod details;
pub mod drift;
pub mod experiments;
pub mod filter;
pub mod gpus;
pub mod lineage;
pub mod memo;
pub mod overview;
pub mod rollouts;
pub mod serving;
pub mod table;
pub mod timeline;
pub mod triggers;
pub mod wanted;

pub use self::{
    audit::{audit, find_audit},
    drift::{drift, drift_alerts, find_drift},
    experiments::{
        compare::{
            compare_chart_metric, compare_rows, comparison, comparison_of, comparison_to_keep,
        },
        experiments, loaded_runs_of, run_list, runs, runs_key,
    },
    filter::matches,
    gpus::{find_gpu, gpu_state, gpu_state_text, gpus},
    lineage::{find_run, find_version, model_versions},
    rollouts::{attention, find_rollout, rollouts},
};
use super::{
    feeds::Source,
    screens::{RawOf, Screen, ScreenKind, ViewId},
    state::App,
};

/// A column the screen sorts by: its field, header, and the letter pressed with `shift`.
pub type SortKey = (&'static str, &'static str, char);

/// The identity of a row's object: a hash of what names it (a rollout's cluster, namespace and
/// name), so the selection follows the object across re-sorts, filters and watch events
/// without a string per row.
pub fn identity(parts: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// The identities of a screen's rows, in order: each item's identity (worked out once per data
/// version) and, for a filtered or sorted list, the order rows show them in.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    ids: Rc<Vec<u64>>,
    order: Option<Rc<Vec<u32>>>,
}

impl Keys {
    /// Rows in the order given.
    pub fn of(ids: Vec<u64>) -> Self {
        Self {
            ids: Rc::new(ids),
            order: None,
        }
    }

    pub fn len(&self) -> usize {
        self.order.as_ref().map_or(self.ids.len(), |o| o.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The identity of row `i`.
    pub fn get(&self, i: usize) -> Option<u64> {
        match &self.order {
            Some(o) => o.get(i).and_then(|&at| self.ids.get(at as usize).copied()),
            None => self.ids.get(i).copied(),
        }
    }

    /// The row showing the object `id`.
    pub fn position(&self, id: u64) -> Option<usize> {
        match &self.order {
            Some(o) => o
                .iter()
                .position(|&at| self.ids.get(at as usize) == Some(&id)),
            None => self.ids.iter().position(|&x| x == id),
        }
    }
}

/// One view's rows and what they open. Each view implements it in `rows/<view>.rs`; its
/// drawing is `ui/views/<view>.rs`. Every method answers for the screen given (a view's own
/// screens: its list and the details it drills into).
pub trait ViewModel: Sync {
    /// The identity of every row, in order: the selection follows its object across
    /// re-sorts, watch events and verbs. Worked out once per (data, filter, sort).
    fn keys(&self, app: &App, screen: &Screen) -> Keys;

    /// How many rows the screen lists.
    fn len(&self, app: &App, screen: &Screen) -> usize {
        self.keys(app, screen).len()
    }

    /// What `enter` on the selected row opens.
    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind>;

    /// What `d` opens: the selected object in full (by default what `enter` opens).
    fn describe(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        self.drill(app, screen)
    }

    /// The object whose raw document `y` shows: the one on a detail screen, or the selected
    /// row's.
    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf>;

    /// The model version the selected object belongs to (`J` opens its lineage).
    fn owner(&self, _app: &App, _screen: &Screen) -> Option<(String, u32)> {
        None
    }

    /// The columns the screen sorts by.
    fn sortable(&self, _app: &App, _screen: &Screen) -> Vec<SortKey> {
        Vec::new()
    }

    /// The field names the `/` filter accepts on the screen.
    fn fields(&self, _app: &App, _screen: &Screen) -> Vec<&'static str> {
        Vec::new()
    }

    /// The sources the screen needs besides the cluster (which the status bar always needs).
    fn wanted(&self, app: &App, screen: &Screen, out: &mut Vec<Source>);
}

/// The model of the view a screen belongs to; the screens any view opens (raw JSON, messages,
/// a pod) have their own.
pub fn model(kind: &ScreenKind) -> &'static dyn ViewModel {
    match kind {
        ScreenKind::Raw { .. } | ScreenKind::Messages { .. } | ScreenKind::PodDetail { .. } => {
            &details::Model
        }
        _ => match kind.view() {
            ViewId::Overview => &overview::Model,
            ViewId::Experiments => &experiments::Model,
            ViewId::Lineage => &lineage::Model,
            ViewId::Drift => &drift::Model,
            ViewId::Gpus => &gpus::Model,
            ViewId::Rollouts => &rollouts::Model,
            ViewId::Audit => &audit::Model,
            ViewId::Serving => &serving::Model,
            ViewId::Timeline => &timeline::Model,
            ViewId::Triggers => &triggers::Model,
        },
    }
}

/// The identity of every row of a screen, in order.
pub fn keys(app: &App, screen: &Screen) -> Keys {
    model(&screen.kind).keys(app, screen)
}

/// Number of selectable rows on a screen.
pub fn len(app: &App, screen: &Screen) -> usize {
    model(&screen.kind).len(app, screen)
}

/// The screen that `enter` on the selected row opens.
pub fn drill(app: &App, screen: &Screen) -> Option<ScreenKind> {
    model(&screen.kind).drill(app, screen)
}

/// The columns `screen` can be sorted by.
pub fn sortable(app: &App, screen: &Screen) -> Vec<SortKey> {
    model(&screen.kind).sortable(app, screen)
}

/// What the filter of `screen` could not make sense of, in words.
pub fn filter_problems(app: &App, screen: &Screen) -> Vec<String> {
    let fields = model(&screen.kind).fields(app, screen);
    screen.filter.parsed().problems(&fields)
}

/// The keys of the rows of a list whose rows are worked out by `memo::List`: each item's
/// identity once per data version, in the order the rows show.
fn list_keys<R>(
    app: &App,
    screen: &Screen,
    list: &memo::List<'_, '_, R>,
    key_of: impl Fn(&R) -> u64,
) -> Keys {
    let order = list.visible(&app.memo, &screen.filter, screen.sort);
    let key = memo::Key {
        data: list.data,
        filter: String::new(),
        sort: None,
        extra: list.extra,
    };
    let ids = app.memo.get(list.name, "ids", &key, || {
        list.items.iter().map(key_of).collect()
    });
    Keys {
        ids,
        order: Some(order),
    }
}

/// The sort keys of `columns`: (field, header, letter) of each that sorts.
fn sort_keys<T>(columns: &[table::Column<T>]) -> Vec<SortKey> {
    columns
        .iter()
        .filter_map(|c| c.sort_key.map(|k| (c.field, c.header, k)))
        .collect()
}

/// The field names of `columns` and `extra`, and the columns' headers, for the filter.
fn field_names<T>(columns: &[table::Column<T>], extra: &[&'static str]) -> Vec<&'static str> {
    filter::names_of(columns, extra)
}

/// The lineage screen of a model version (what `J` opens).
pub fn lineage_of(model: &str, version: u32) -> ScreenKind {
    ScreenKind::LineageGraph {
        model: model.to_string(),
        version,
    }
}

/// Why the cluster does not let the user `verb` the rollouts of `namespace`, when it does not
/// (asked of the cluster with each snapshot; nothing is denied in the demo).
pub fn denied<'a>(app: &'a App, namespace: &str, verb: Verb) -> Option<&'a str> {
    app.feeds
        .cluster
        .data
        .as_ref()?
        .denied
        .get(namespace)?
        .get(verb.rbac_verb())
        .map(String::as_str)
}
