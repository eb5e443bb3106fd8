//! One file per view, chosen by one `match` on the view: each draws its screens from the state
//! and its rows in `app::rows::<view>`; `details` draws the screens any view opens (raw JSON,
//! messages, a pod) and the objects in full.

mod audit;
mod compare;
mod details;
mod drift;
mod experiments;
mod gpus;
mod lineage;
mod overview;
mod overview_serving;
mod rollout_detail;
mod rollouts;
pub mod serving;
mod timeline;
mod triggers;

use ratatui::{Frame, layout::Rect};

use crate::app::{
    App,
    screens::{ScreenKind, ViewId},
};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    match &app.screen().kind {
        ScreenKind::Root(view) => match view {
            ViewId::Overview => overview::render(app, frame, area),
            ViewId::Experiments => experiments::render_experiments(app, frame, area),
            ViewId::Lineage => lineage::render_versions(app, frame, area),
            ViewId::Drift => drift::render_features(app, frame, area),
            ViewId::Gpus => gpus::render(app, frame, area),
            ViewId::Rollouts => rollouts::render(app, frame, area),
            ViewId::Audit => audit::render(app, frame, area),
            ViewId::Serving => serving::render(app, frame, area),
            ViewId::Timeline => timeline::render(app, frame, area),
            ViewId::Triggers => triggers::render(app, frame, area),
        },
        ScreenKind::TimelineOf { .. } => timeline::render(app, frame, area),
        ScreenKind::TimelineEntry { .. } => timeline::render_entry(app, frame, area),
        ScreenKind::Runs { .. } => experiments::render_runs(app, frame, area),
        ScreenKind::RunDetail { run_id, .. } => experiments::render_run(app, frame, area, run_id),
        ScreenKind::Compare {
            diff_only,
            parallel,
            scatter_x,
            ..
        } => compare::render(app, frame, area, *diff_only, *parallel, scatter_x.as_ref()),
        ScreenKind::LineageGraph { .. } => lineage::render_graph(app, frame, area),
        ScreenKind::DriftDetail(key) => drift::render_detail(app, frame, area, key),
        ScreenKind::RolloutDetail(key) => rollout_detail::render(app, frame, area, key),
        ScreenKind::AuditEntry(seq) => details::render_audit_entry(app, frame, area, *seq),
        ScreenKind::ServingDetail(key) => serving::render_detail(app, frame, area, key),
        ScreenKind::GpuDetail {
            cluster,
            node,
            index,
        } => details::render_gpu(app, frame, area, cluster, node, *index),
        ScreenKind::PodDetail {
            cluster,
            namespace,
            name,
            ..
        } => details::render_pod(app, frame, area, cluster, namespace, name),
        ScreenKind::VersionDetail { model, version } => {
            details::render_version(app, frame, area, model, *version);
        }
        ScreenKind::DatasetDetail {
            model,
            version,
            name,
        } => details::render_dataset(app, frame, area, model, *version, name),
        ScreenKind::Raw { of, .. } => details::render_raw(app, frame, area, of),
        ScreenKind::Messages { .. } => details::render_messages(app, frame, area),
    }
}
