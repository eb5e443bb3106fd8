//! One file per view. Each draws from the state and the shared selectors in `app::select`.

mod audit;
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
        ScreenKind::Runs { experiment_id, .. } => {
            experiments::render_runs(app, frame, area, experiment_id);
        }
        ScreenKind::RunDetail {
            experiment_id,
            run_id,
            ..
        } => experiments::render_run(app, frame, area, experiment_id, run_id),
        ScreenKind::Lineage => lineage::render_versions(app, frame, area),
        ScreenKind::LineageGraph { .. } => lineage::render_graph(app, frame, area),
        ScreenKind::Drift => drift::render_features(app, frame, area),
        ScreenKind::DriftDetail { model, feature } => {
            drift::render_detail(app, frame, area, model, feature);
        }
        ScreenKind::Gpus => gpus::render(app, frame, area),
        ScreenKind::Rollouts => rollouts::render(app, frame, area),
        ScreenKind::RolloutDetail(key) => rollout_detail::render(app, frame, area, key),
        ScreenKind::Audit => audit::render(app, frame, area),
    }
}
