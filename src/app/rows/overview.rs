//! The Overview's panels as lists: rollouts that need a human first, drift alerts, GPUs that need
//! a look (allocated but idle, or faulted), and recent events; and the one-line "needs you"
//! summary.

use mlops_core::{
    analysis::Verdict,
    drift::DriftStatus,
    model::{ClusterEvent, FeatureDrift, Gpu},
    rollout::{Phase, RolloutKey},
};

use super::{drift_alerts, gpus, matches, rollouts};
use crate::app::{
    screens::{DriftKey, Panel, Screen, ScreenKind, ViewId},
    state::App,
};

/// GPUs that need a look: allocated but idle, or with an XID fault; faults first.
pub fn attention_gpus<'a>(app: &'a App, screen: &Screen) -> Vec<&'a Gpu> {
    let mut v: Vec<&Gpu> = gpus(app, &filtered(screen, ScreenKind::Gpus))
        .into_iter()
        .filter(|g| g.xid.is_some() || g.is_allocated_idle())
        .collect();
    v.sort_by_key(|g| (g.xid.is_none(), g.cluster.clone(), g.node.clone(), g.index));
    v
}

/// Recent events, newest first.
pub fn events<'a>(app: &'a App, screen: &Screen) -> Vec<&'a ClusterEvent> {
    let Some(snap) = &app.feeds.cluster.data else {
        return Vec::new();
    };
    snap.events
        .iter()
        .rev()
        .filter(|e| {
            matches(
                &screen.filter,
                &[&e.reason, &e.object, &e.message, &e.cluster],
            )
        })
        .collect()
}

pub fn alerts<'a>(app: &'a App, screen: &Screen) -> Vec<&'a FeatureDrift> {
    drift_alerts(app)
        .into_iter()
        .filter(|d| {
            matches(
                &screen.filter,
                &[&d.model, &d.feature, d.report.status.as_str()],
            )
        })
        .collect()
}

/// The Overview's screen with the filter, as another view's list would see it.
fn filtered(screen: &Screen, kind: ScreenKind) -> Screen {
    let mut s = Screen::new(kind);
    s.filter.clone_from(&screen.filter);
    s
}

/// The identities of the focused panel's rows.
pub fn keys(app: &App, screen: &Screen) -> Vec<String> {
    match screen.panel {
        Panel::Rollouts => rollouts(app, screen)
            .iter()
            .map(|r| format!("{}/{}/{}", r.cluster, r.namespace, r.name))
            .collect(),
        Panel::Drift => alerts(app, screen)
            .iter()
            .map(|d| format!("{}/{}/{}", d.model, d.version, d.feature))
            .collect(),
        Panel::Gpus => attention_gpus(app, screen)
            .iter()
            .map(|g| format!("{}/{}/{}", g.cluster, g.node, g.index))
            .collect(),
        Panel::Events => events(app, screen)
            .iter()
            .map(|e| {
                format!(
                    "{}|{}|{}|{}",
                    e.time.timestamp(),
                    e.cluster,
                    e.object,
                    e.reason
                )
            })
            .collect(),
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
            .map(|g| ScreenKind::GpuDetail {
                cluster: g.cluster.clone(),
                node: g.node.clone(),
                index: g.index,
            }),
        Panel::Events => {
            let e = events(app, screen).into_iter().nth(i)?;
            event_target(app, e)
        }
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
        return gpu.map(|g| ScreenKind::GpuDetail {
            cluster: g.cluster.clone(),
            node: g.node.clone(),
            index: g.index,
        });
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

pub fn needs_you(app: &App) -> Vec<(String, usize, ViewId)> {
    let me = app
        .feeds
        .cluster
        .data
        .as_ref()
        .map(|s| s.identity.as_str())
        .unwrap_or_default();
    let all_rollouts = rollouts(app, &Screen::new(ScreenKind::Rollouts));
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
        .filter(|d| d.alert(app.drift_alert_after) == DriftStatus::Drifted)
        .collect();
    let drifted = drifted_rows.len();
    // Of them, canaries' features that differ from their stable's over the same window.
    let canary = drifted_rows
        .iter()
        .filter(|d| d.is_canary_vs_stable())
        .count();
    let gpus = app.feeds.gpus.data.as_deref().unwrap_or_default();
    let idle = gpus.iter().filter(|g| g.is_allocated_idle()).count();
    let xid = gpus.iter().filter(|g| g.xid.is_some()).count();
    let mismatched = super::lineage::mismatches(app).len();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    [
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
