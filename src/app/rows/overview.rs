//! The Overview's model: its panels as lists — rollouts that need a human first, drift alerts,
//! GPUs that need a look (allocated but idle, or faulted), and recent events — each taking the
//! focus in turn; and the one-line "needs you" summary.

use std::rc::Rc;

use mlops_core::{
    analysis::Verdict,
    drift::DriftStatus,
    model::{ClusterEvent, FeatureDrift, Gpu},
    rollout::{Phase, RolloutKey},
};

use super::{
    Keys, SortKey, ViewModel, drift_alerts, field_names, gpus, identity, matches, memo::Key,
    rollouts, sort_keys,
};
use crate::app::{
    feeds::Source,
    screens::{DriftKey, Panel, RawOf, Screen, ScreenKind, ViewId},
    state::App,
};

/// The memo's key for a panel's rows worked out from every feed under the screen's filter.
fn panel_key(app: &App, screen: &Screen) -> Key {
    Key {
        data: app.feeds.generation(),
        filter: screen.filter.text().to_string(),
        sort: None,
        extra: app.prefs.drift_alert_after as u64,
    }
}

/// GPUs that need a look: allocated but idle, or with an XID fault; faults first.
pub fn attention_gpus<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Gpu> {
    let all = gpus(app, &filtered(screen, ViewId::Gpus));
    let order = app
        .memo
        .get("overview-gpus", "rows", &panel_key(app, screen), || {
            let mut v: Vec<u32> = (0..u32::try_from(all.len()).unwrap_or(u32::MAX))
                .filter(|&i| {
                    let g = all[i as usize];
                    g.xid.is_some() || g.is_allocated_idle()
                })
                .collect();
            v.sort_by(|&a, &b| {
                let (a, b) = (all[a as usize], all[b as usize]);
                (a.xid.is_none(), &a.cluster, &a.node, a.index).cmp(&(
                    b.xid.is_none(),
                    &b.cluster,
                    &b.node,
                    b.index,
                ))
            });
            v
        });
    order.iter().map(|&i| all[i as usize]).collect()
}

/// Recent events, newest first.
pub fn events<'a>(app: &'a App, screen: &Screen) -> Vec<&'a ClusterEvent> {
    let Some(snap) = &app.feeds.cluster.data else {
        return Vec::new();
    };
    let order = app
        .memo
        .get("overview-events", "rows", &panel_key(app, screen), || {
            (0..u32::try_from(snap.events.len()).unwrap_or(u32::MAX))
                .rev()
                .filter(|&i| {
                    let e = &snap.events[i as usize];
                    matches(
                        screen.filter.text(),
                        &[&e.reason, &e.object, &e.message, &e.cluster],
                    )
                })
                .collect::<Vec<u32>>()
        });
    order.iter().map(|&i| &snap.events[i as usize]).collect()
}

pub fn alerts<'a>(app: &'a App, screen: &Screen) -> Vec<&'a FeatureDrift> {
    drift_alerts(app)
        .into_iter()
        .filter(|d| {
            matches(
                screen.filter.text(),
                &[&d.model, &d.feature, d.report.status.as_str()],
            )
        })
        .collect()
}

/// The Overview's screen with the filter, as another view's list would see it.
fn filtered(screen: &Screen, view: ViewId) -> Screen {
    let mut s = Screen::new(ScreenKind::Root(view));
    s.filter.clone_from(&screen.filter);
    s
}

/// The identities of the focused panel's rows.
pub fn keys(app: &App, screen: &Screen) -> Keys {
    match screen.panel {
        Panel::Rollouts => rollouts::keys(app, screen),
        Panel::Drift => Keys::of(
            alerts(app, screen)
                .iter()
                .map(|d| super::drift::key_of(d))
                .collect(),
        ),
        Panel::Gpus => Keys::of(
            attention_gpus(app, screen)
                .iter()
                .map(|g| super::gpus::key_of(g))
                .collect(),
        ),
        Panel::Events => Keys::of(
            events(app, screen)
                .iter()
                .map(|e| identity((e.time.timestamp(), &e.cluster, &e.object, &e.reason)))
                .collect(),
        ),
        Panel::Serving => Keys::of(
            serving_models(app, screen)
                .iter()
                .map(|s| identity(s.model))
                .collect(),
        ),
    }
}

/// The Serving panel's lines: one per model, worst first, under the screen's filter.
pub fn serving_models<'a>(
    app: &'a App,
    screen: &Screen,
) -> Vec<mlops_core::serving::summary::ModelSummary<'a>> {
    let Some(report) = super::serving::report(app) else {
        return Vec::new();
    };
    mlops_core::serving::summary::by_model(report)
        .into_iter()
        .filter(|s| {
            s.rows.iter().any(|h| {
                matches(
                    screen.filter.text(),
                    &[&h.model, &h.version, &h.track, &h.cluster],
                )
            })
        })
        .collect()
}

/// The detail of the worst version of the selected Serving line.
fn serving_key(app: &App, screen: &Screen) -> Option<mlops_core::serving::ServingKey> {
    let s = serving_models(app, screen)
        .into_iter()
        .nth(screen.selected)?;
    let h = s.worst();
    Some(mlops_core::serving::ServingKey::new(
        &h.namespace,
        &h.model,
        &h.version,
        &h.track,
    ))
}

/// The Overview.
pub struct Model;

impl ViewModel for Model {
    fn keys(&self, app: &App, screen: &Screen) -> Keys {
        keys(app, screen)
    }

    fn drill(&self, app: &App, screen: &Screen) -> Option<ScreenKind> {
        drill(app, screen)
    }

    fn raw(&self, app: &App, screen: &Screen) -> Option<RawOf> {
        let i = screen.selected;
        match screen.panel {
            Panel::Rollouts => rollouts(app, screen)
                .get(i)
                .map(|r| RawOf::Rollout(r.key())),
            Panel::Drift => alerts(app, screen)
                .get(i)
                .map(|d| RawOf::Drift(DriftKey::of(d))),
            Panel::Gpus => attention_gpus(app, screen)
                .get(i)
                .map(|g| super::gpus::raw_of(g)),
            Panel::Events => None,
            Panel::Serving => serving_key(app, screen).map(RawOf::Serving),
        }
    }

    fn owner(&self, app: &App, screen: &Screen) -> Option<(String, u32)> {
        let i = screen.selected;
        match screen.panel {
            Panel::Rollouts => rollouts(app, screen)
                .get(i)
                .map(|r| (r.spec.model.name.clone(), r.spec.model.version)),
            Panel::Drift => alerts(app, screen)
                .get(i)
                .map(|d| (d.model.clone(), d.version)),
            Panel::Gpus => {
                let g = attention_gpus(app, screen).into_iter().nth(i)?;
                Some((g.model.clone()?, g.version?))
            }
            Panel::Events => None,
            Panel::Serving => {
                let k = serving_key(app, screen)?;
                Some((k.model, k.version.parse().ok()?))
            }
        }
    }

    fn sortable(&self, _app: &App, screen: &Screen) -> Vec<SortKey> {
        if screen.panel == Panel::Rollouts {
            sort_keys(&rollouts::columns())
        } else {
            Vec::new()
        }
    }

    fn fields(&self, _app: &App, _screen: &Screen) -> Vec<&'static str> {
        field_names(&rollouts::columns(), &["namespace"])
    }

    fn wanted(&self, _app: &App, _screen: &Screen, out: &mut Vec<Source>) {
        out.extend([Source::Gpus, Source::Drift, Source::Models, Source::Serving]);
    }
}

/// What `enter` on the focused panel's selected row opens.
pub fn drill(app: &App, screen: &Screen) -> Option<ScreenKind> {
    let i = screen.selected;
    match screen.panel {
        Panel::Rollouts => rollouts(app, screen)
            .get(i)
            .map(|r| ScreenKind::RolloutDetail(r.key())),
        Panel::Drift => alerts(app, screen)
            .get(i)
            .map(|d| ScreenKind::DriftDetail(DriftKey::of(d))),
        Panel::Gpus => attention_gpus(app, screen)
            .get(i)
            .map(|g| super::gpus::detail_of(g)),
        Panel::Events => {
            let e = events(app, screen).into_iter().nth(i)?;
            event_target(app, e)
        }
        Panel::Serving => serving_key(app, screen).map(ScreenKind::ServingDetail),
    }
}

/// The screen about an event's object: a rollout's detail, a faulted GPU's detail.
pub fn event_target(app: &App, e: &ClusterEvent) -> Option<ScreenKind> {
    if let Some(name) = e.object.strip_prefix("modelrollout/") {
        return Some(ScreenKind::RolloutDetail(RolloutKey {
            cluster: e.cluster.clone(),
            namespace: e.namespace.clone(),
            name: name.to_string(),
        }));
    }
    if let Some(node) = e.object.strip_prefix("node/") {
        // "GPU 5: Xid 79 …": the GPU the event names.
        let index = e
            .message
            .strip_prefix("GPU ")
            .and_then(|m| m.split(':').next())
            .and_then(|n| n.trim().parse::<u32>().ok());
        let gpu = app.feeds.gpus.data.as_ref().and_then(|gs| {
            gs.iter()
                .find(|g| g.node == node && index.is_none_or(|i| g.index == i))
        });
        return gpu.map(super::gpus::detail_of);
    }
    None
}

/// The things that need a human now, in words and how many, for the "needs you" line.
/// What the "needs you" line cannot vouch for yet: the sources not loaded (still loading, or
/// their backend is down). "All clear" is only said when nothing is missing.
pub fn needs_you_unknown(app: &App) -> Vec<&'static str> {
    let f = &app.feeds;
    [
        ("rollouts", f.cluster.data.is_none()),
        ("drift", f.drift.data.is_none()),
        ("GPUs", f.gpus.data.is_none()),
    ]
    .into_iter()
    .filter_map(|(what, missing)| missing.then_some(what))
    .collect()
}

/// The things that need a human now: (what, how many, the view that shows them), worked out
/// once per data version.
pub fn needs_you(app: &App) -> Rc<Vec<(String, usize, ViewId)>> {
    let key = Key {
        data: app.feeds.generation(),
        filter: String::new(),
        sort: None,
        extra: app.prefs.drift_alert_after as u64,
    };
    app.memo
        .get("overview", "needs-you", &key, || count_needs(app))
}

fn count_needs(app: &App) -> Vec<(String, usize, ViewId)> {
    let me = app
        .feeds
        .cluster
        .data
        .as_ref()
        .map(|s| s.identity.as_str())
        .unwrap_or_default();
    let all_rollouts = rollouts(app, &Screen::new(ScreenKind::Root(ViewId::Rollouts)));
    let approvals = all_rollouts
        .iter()
        .filter(|r| {
            r.status.phase == Phase::AwaitingApproval
                && !r.status.approvals.iter().any(|a| a.user == me)
        })
        .count();
    let failing = all_rollouts
        .iter()
        .filter(|r| {
            matches!(r.status.phase, Phase::RollingBack | Phase::Failed)
                || (r.status.phase.is_active() && r.status.latest_verdict() == Some(Verdict::Fail))
        })
        .count();
    let drifted_rows: Vec<&FeatureDrift> = drift_alerts(app)
        .into_iter()
        .filter(|d| d.alert(app.prefs.drift_alert_after) == DriftStatus::Drifted)
        .collect();
    let drifted = drifted_rows.len();
    // Of them, canaries' features that differ from their stable's over the same window.
    let canary = drifted_rows
        .iter()
        .filter(|d| d.is_canary_vs_stable())
        .count();
    let totals = super::gpus::totals(app);
    let idle = totals.summary.as_ref().map_or(0, |s| s.allocated_idle);
    let xid = totals.faults;
    let mismatched = super::lineage::mismatches(app).len();
    let paging = super::serving::report(app).map_or(0, |r| r.paging_models().len());
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    [
        (
            plural(paging, "model paging", "models paging"),
            paging,
            ViewId::Serving,
        ),
        (
            plural(
                approvals,
                "approval waiting on you",
                "approvals waiting on you",
            ),
            approvals,
            ViewId::Rollouts,
        ),
        (
            plural(failing, "rollout failing", "rollouts failing"),
            failing,
            ViewId::Rollouts,
        ),
        (
            plural(drifted, "drifted feature", "drifted features")
                + &(if canary > 0 {
                    format!(" ({canary} canary vs stable)")
                } else {
                    String::new()
                }),
            drifted,
            ViewId::Drift,
        ),
        (plural(idle, "idle GPU", "idle GPUs"), idle, ViewId::Gpus),
        (
            plural(xid, "GPU with an XID fault", "GPUs with XID faults"),
            xid,
            ViewId::Gpus,
        ),
        (
            plural(
                mismatched,
                "registry/cluster mismatch",
                "registry/cluster mismatches",
            ),
            mismatched,
            ViewId::Lineage,
        ),
    ]
    .into_iter()
    .filter(|(_, n, _)| *n > 0)
    .collect()
}
