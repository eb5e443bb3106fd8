//! One file per view. Each draws from the state and the shared rows in `app::rows`; `details`
//! draws the objects in full (audit entries, GPUs, pods, model versions, raw JSON, messages).

mod audit;
mod compare;
mod details;
mod drift;
mod experiments;
mod gpus;
mod lineage;
mod overview;
mod rollout_detail;
mod rollouts;

use ratatui::{Frame, layout::Rect};

use crate::app::{App, screens::ScreenKind};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    match &app.screen().kind {
        ScreenKind::Overview => overview::render(app, frame, area),
        ScreenKind::Experiments => experiments::render_experiments(app, frame, area),
        ScreenKind::Runs { .. } => experiments::render_runs(app, frame, area),
        ScreenKind::RunDetail { run_id, .. } => experiments::render_run(app, frame, area, run_id),
        ScreenKind::Compare {
            diff_only,
            parallel,
            scatter_x,
            ..
        } => compare::render(app, frame, area, *diff_only, *parallel, scatter_x.as_ref()),
        ScreenKind::Lineage => lineage::render_versions(app, frame, area),
        ScreenKind::LineageGraph { .. } => lineage::render_graph(app, frame, area),
        ScreenKind::Drift => drift::render_features(app, frame, area),
        ScreenKind::DriftDetail(key) => drift::render_detail(app, frame, area, key),
        ScreenKind::Gpus => gpus::render(app, frame, area),
        ScreenKind::Rollouts => rollouts::render(app, frame, area),
        ScreenKind::RolloutDetail(key) => rollout_detail::render(app, frame, area, key),
        ScreenKind::Audit => audit::render(app, frame, area),
        ScreenKind::AuditEntry(seq) => details::render_audit_entry(app, frame, area, *seq),
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
