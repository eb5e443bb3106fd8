//! The Drift view's model: every served version's feature against its reference, and each
//! canary against its stable, worst first; its columns; and the feature's detail it opens.

use mlops_core::{drift::DriftStatus, model::FeatureDrift};

use super::{
    Keys, SortKey, ViewModel, field_names, identity, list_keys,
    memo::{Key, List},
    sort_keys,
    table::{Column, Elide, Value, Width},
};
use crate::app::{
    feeds::Source,
    screens::{DriftKey, RawOf, Screen, ScreenKind},
    state::App,
};

fn list<'a, 'c>(app: &'a App, columns: &'c [Column<FeatureDrift>]) -> List<'a, 'c, FeatureDrift> {
    List {
        name: "drift",
        data: app.feeds.drift.version,
        extra: 0,
        items: app.feeds.drift.data.as_deref().unwrap_or_default(),
        columns,
        fields: &[],
        // The list's own order: the worst first.
        order: Some(&|all: &[FeatureDrift]| {
            let mut order: Vec<u32> = (0..u32::try_from(all.len()).unwrap_or(u32::MAX)).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (&all[a as usize].report, &all[b as usize].report);
                b.status.cmp(&a.status).then(b.psi.total_cmp(&a.psi))
            });
            order
        }),
    }
}

/// The drift rows `screen` lists, filtered and sorted.
pub fn drift<'a>(app: &'a App, screen: &Screen) -> Vec<&'a FeatureDrift> {
    let columns = columns();
    let list = list(app, &columns);
    list.rows(&app.memo, &screen.filter, screen.sort)
}

/// The drift row a key names.
pub fn find_drift<'a>(app: &'a App, key: &DriftKey) -> Option<&'a FeatureDrift> {
    app.feeds.drift.data.as_ref()?.iter().find(|d| key.is(d))
}

/// Features whose drift alerts — not ok for `[drift] alert_after` windows in a row — the worst
/// alert first (within an alert status, the Drift view's order: the worst window first).
pub fn drift_alerts(app: &App) -> Vec<&FeatureDrift> {
    let after = app.prefs.drift_alert_after;
    let items = app.feeds.drift.data.as_deref().unwrap_or_default();
    let key = Key {
        data: app.feeds.drift.version,
        filter: String::new(),
        sort: None,
        extra: after as u64,
    };
    let order = app.memo.get("drift", "alerts", &key, || {
        let columns = columns();
        let list = list(app, &columns);
        let unfiltered = crate::app::rows::filter::FilterText::default();
        let mut alerts: Vec<u32> = list
            .visible(&app.memo, &unfiltered, None)
            .iter()
            .copied()
            .filter(|&i| items[i as usize].alert(after) != DriftStatus::Ok)
            .collect();
        alerts.sort_by_key(|&i| std::cmp::Reverse(items[i as usize].alert(after)));
        alerts
    });
    order.iter().map(|&i| &items[i as usize]).collect()
}

/// The identity of a drift row.
pub fn key_of(d: &FeatureDrift) -> u64 {
    identity((&d.model, d.version, &d.feature))
}

/// The drift row a screen is about: its detail's, or the selected row's.
fn selected<'a>(app: &'a App, screen: &Screen) -> Option<&'a FeatureDrift> {
    match &screen.kind {
        ScreenKind::DriftDetail(k) => find_drift(app, k),
        _ => drift(app, screen).get(screen.selected).copied(),
    }
}

/// The Drift view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        if !screen.kind.is_list() {
            return Keys::default();
        }
        let columns = columns();
        list_keys(app, screen, &list(app, &columns), key_of)
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        if !screen.kind.is_list() {
            return None;
        }
        selected(app, screen).map(|d| ScreenKind::DriftDetail(DriftKey::of(d)))
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        match &screen.kind {
            ScreenKind::DriftDetail(k) => Some(RawOf::Drift(k.clone())),
            _ => selected(app, screen).map(|d| RawOf::Drift(DriftKey::of(d))),
        }
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        match &screen.kind {
            ScreenKind::DriftDetail(k) => Some((k.model.clone(), k.version)),
            _ => selected(app, screen).map(|d| (d.model.clone(), d.version)),
        }
    }

    fn sortable(&self, _app: &App, screen: &Screen) -> Vec<SortKey> {
        if screen.kind.is_list() {
            sort_keys(&columns())
        } else {
            Vec::new()
        }
    }

    fn fields(&self, _app: &App, _screen: &Screen) -> Vec<&'static str> {
        field_names(&columns(), &[])
    }

    fn wanted(&self, _app: &App, _screen: &Screen, out: &mut Vec<Source>) {
        out.push(Source::Drift);
    }
}

/// The columns of the drift list.
#[allow(clippy::too_many_lines)] // data: one literal per column
pub fn columns() -> Vec<Column<FeatureDrift>> {
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
                Value::number(
                    d.report.ks.p_value,
                    mlops_core::drift::p_value_text(d.report.ks.p_value),
                )
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
