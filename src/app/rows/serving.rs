//! The Serving view's model: serving health per model version and track, worst first (paging
//! burn, then errors, then latency), as `mlops_core::serving::assemble` puts it together from the
//! serving signals and the cluster's Deployments; its columns (also `mlops health`'s table); and
//! the detail a row opens.

use mlops_core::serving::{self, HealthReport, Inputs, ModelHealth, ServingKey, text};

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

/// Put the health together again from the latest serving signals and cluster snapshot (after
/// either changed).
pub fn reassemble(app: &mut App) {
    let Some(signals) = app.feeds.serving.data.as_ref() else {
        return;
    };
    let (deployments, pods, cluster) =
        app.feeds
            .cluster
            .data
            .as_ref()
            .map_or((&[][..], &[][..], String::new()), |c| {
                (
                    &c.deployments[..],
                    &c.pods[..],
                    c.clusters
                        .first()
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                )
            });
    let report = serving::assemble(
        signals,
        &Inputs {
            cluster: &cluster,
            deployments,
            pods,
            slos: &app.prefs.slos,
            window_seconds: mlops_core::defaults::SERVING_WINDOW_SECONDS,
            now: app.now,
        },
    );
    app.feeds.health = Some(report);
    app.feeds.health_version = crate::app::feeds::next_version();
}

pub fn report(app: &App) -> Option<&HealthReport> {
    app.feeds.health.as_ref()
}

fn key_of(h: &ModelHealth) -> ServingKey {
    ServingKey::new(&h.namespace, &h.model, &h.version, &h.track)
}

fn list<'a, 'c>(app: &'a App, columns: &'c [Column<ModelHealth>]) -> List<'a, 'c, ModelHealth> {
    List {
        name: "serving",
        data: app.feeds.health_version,
        extra: 0,
        items: report(app).map_or(&[][..], |r| &r.models[..]),
        columns,
        fields: EXTRA_FIELDS,
        order: None,
    }
}

/// The rows `screen` lists, filtered and sorted.
pub fn rows<'a>(app: &'a App, screen: &Screen) -> Vec<&'a ModelHealth> {
    let columns = columns();
    list(app, &columns).rows(&app.memo, &screen.filter, screen.sort)
}

/// The health row of `key`.
pub fn find_health<'a>(app: &'a App, key: &ServingKey) -> Option<&'a ModelHealth> {
    report(app)?.models.iter().find(|h| key_of(h) == *key)
}

fn selected(app: &App, screen: &Screen) -> Option<ServingKey> {
    match &screen.kind {
        ScreenKind::ServingDetail(k) => Some(k.clone()),
        _ => rows(app, screen).get(screen.selected).map(|h| key_of(h)),
    }
}

/// The Serving view.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        if !screen.kind.is_list() {
            return Keys::default();
        }
        let columns = columns();
        list_keys(app, screen, &list(app, &columns), |h| {
            identity((&h.namespace, &h.model, &h.version, &h.track))
        })
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        if !screen.kind.is_list() {
            return None;
        }
        selected(app, screen).map(ScreenKind::ServingDetail)
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        selected(app, screen).map(RawOf::Serving)
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        let k = selected(app, screen)?;
        Some((k.model, k.version.parse().ok()?))
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
        out.push(Source::Serving);
    }
}

fn num(v: Option<f64>, text: String) -> Value {
    match v {
        Some(n) => Value::number(n, text),
        None => Value::text(text),
    }
}

fn col(
    field: &'static str,
    header: &'static str,
    sort_key: Option<char>,
    priority: u8,
    width: Width,
    right: bool,
    value: impl Fn(&ModelHealth) -> Value + Send + Sync + 'static,
) -> Column<ModelHealth> {
    Column {
        field,
        header,
        sort_key,
        priority,
        width,
        right,
        elide: Elide::End,
        value: Box::new(value),
    }
}

/// The columns of serving health (the Serving view's, and `mlops health`'s table).
pub fn columns() -> Vec<Column<ModelHealth>> {
    let severity = |h: &ModelHealth| {
        let (a, e, l) = h.severity();
        f64::from(a) * 1e6 + e * 1e3 + l
    };
    vec![
        col(
            "alert",
            "ALERT",
            Some('A'),
            0,
            Width::Fixed(9),
            false,
            move |h| Value::number(severity(h), text::alert(h)),
        ),
        col(
            "model",
            "MODEL",
            Some('M'),
            0,
            Width::Flex { min: 10, max: 28 },
            false,
            |h| Value::text(h.model.clone()),
        ),
        col("version", "VERSION", None, 0, Width::Fixed(7), true, |h| {
            num(h.version.parse().ok(), h.version.clone())
        }),
        col("track", "TRACK", None, 0, Width::Fixed(6), false, |h| {
            Value::text(h.track.clone())
        }),
        col(
            "cluster",
            "CLUSTER",
            None,
            3,
            Width::Flex { min: 7, max: 14 },
            false,
            |h| Value::text(h.cluster.clone()),
        ),
        col("rps", "RPS", Some('R'), 2, Width::Fixed(8), true, |h| {
            num(h.requests_per_second, text::rps(h.requests_per_second))
        }),
        col(
            "errors",
            "ERRORS",
            Some('E'),
            0,
            Width::Fixed(7),
            true,
            |h| num(h.error_ratio, text::ratio(h.error_ratio)),
        ),
        col("p50", "P50", None, 4, Width::Fixed(7), true, |h| {
            num(h.latency_seconds.p50, text::seconds(h.latency_seconds.p50))
        }),
        col("p95", "P95", None, 4, Width::Fixed(7), true, |h| {
            num(h.latency_seconds.p95, text::seconds(h.latency_seconds.p95))
        }),
        col("p99", "P99", Some('L'), 1, Width::Fixed(8), true, |h| {
            num(h.latency_seconds.p99, text::p99(&h.latency_seconds))
        }),
        col("replicas", "READY", None, 2, Width::Fixed(5), true, |h| {
            num(h.replicas.map(|r| f64::from(r.ready)), text::replicas(h))
        }),
        col("gpus", "GPUS", None, 3, Width::Fixed(4), true, |h| {
            Value::number(f64::from(h.gpus), h.gpus.to_string())
        }),
        col(
            "burn1h",
            "BURN 1H",
            Some('B'),
            1,
            Width::Fixed(7),
            true,
            |h| num(text::burn_1h(h), text::burn(text::burn_1h(h))),
        ),
        col("budget", "BUDGET", None, 1, Width::Fixed(6), true, |h| {
            let b = h.slo.as_ref().and_then(|s| s.budget_remaining);
            num(b, text::budget(b))
        }),
    ]
}
