//! One line per model for the Overview's Serving panel: its versions and tracks, the worst of
//! them (what the line's alert, errors and latency are), worst model first.

use super::{HealthReport, ModelHealth};

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary<'a> {
    pub model: &'a str,
    /// Every version and track, worst first.
    pub rows: Vec<&'a ModelHealth>,
}

impl<'a> ModelSummary<'a> {
    /// The version that makes the line: the worst.
    pub fn worst(&self) -> &'a ModelHealth {
        self.rows[0]
    }

    /// `v4 canary · v3 stable`.
    pub fn versions(&self) -> String {
        self.rows
            .iter()
            .map(|h| format!("v{} {}", h.version, h.track))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The report's rows by model, in the report's order (worst first), each model once.
pub fn by_model(report: &HealthReport) -> Vec<ModelSummary<'_>> {
    let mut out: Vec<ModelSummary<'_>> = Vec::new();
    for h in &report.models {
        match out.iter_mut().find(|s| s.model == h.model) {
            Some(s) => s.rows.push(h),
            None => out.push(ModelSummary {
                model: &h.model,
                rows: vec![h],
            }),
        }
    }
    out
}
