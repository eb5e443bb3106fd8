//! `[serving]` (which runtime's metrics, or your own queries) and `[slo]` (the objectives per
//! model) of config.toml, checked with the file's other problems and turned into the core's
//! `serving::Mapping` and `serving::slo::SloConfig`.
//!
//! ```toml
//! [serving]
//! runtime = "default"          # or kserve, triton, seldon, bentoml
//! [serving.queries]            # your own PromQL per signal, with $window
//! requests = 'sum by (namespace, model, version, track) (rate(my_requests_total[$window]))'
//! [slo]
//! objective = 0.995            # or "99.5%": requests not answered 5xx
//! window = "30d"
//! [slo.models.fraud-detector]
//! objective = "99.9%"
//! ```

use std::{collections::BTreeMap, path::Path};

use mlops_core::serving::{
    Mapping, Runtime,
    runtime::RUNTIMES,
    slo::{SloConfig, SloSpec, parse_objective},
};
use serde::Deserialize;

use super::{errors::ConfigError, spans::Spans};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServingSettings {
    pub runtime: String,
    /// Signal (`requests`, `errors`, `latency_buckets`, `latency_mean`) → PromQL with `$window`.
    pub queries: BTreeMap<String, String>,
    /// What turns your latency query's unit into seconds (0.001 for milliseconds).
    pub latency_scale: Option<f64>,
}

impl Default for ServingSettings {
    fn default() -> Self {
        Self {
            runtime: "default".into(),
            queries: BTreeMap::new(),
            latency_scale: None,
        }
    }
}

impl ServingSettings {
    /// The mapping these settings give (settings that `parse` accepted always give one; the
    /// default runtime's otherwise).
    pub fn mapping(&self) -> Mapping {
        self.checked_mapping()
            .unwrap_or_else(|_| Mapping::builtin(Runtime::Default))
    }

    fn checked_mapping(&self) -> Result<Mapping, (String, String)> {
        let runtime = Runtime::parse(&self.runtime).ok_or_else(|| {
            (
                "runtime".to_string(),
                format!("[serving] runtime is one of {RUNTIMES}"),
            )
        })?;
        Mapping::builtin(runtime)
            .with_queries(&self.queries, self.latency_scale)
            .map_err(|e| ("queries".to_string(), format!("[serving.queries] {e}")))
    }
}

/// An objective as a share (`0.995`) or a percentage in quotes (`"99.5%"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Objective {
    Share(f64),
    Text(String),
}

impl Objective {
    fn value(&self) -> Option<f64> {
        match self {
            Objective::Share(v) => (*v > 0.0 && *v < 1.0).then_some(*v),
            Objective::Text(t) => parse_objective(t),
        }
    }

    fn shown(&self) -> String {
        match self {
            Objective::Share(v) => v.to_string(),
            Objective::Text(t) => t.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SloModelSettings {
    pub objective: Option<Objective>,
    pub window: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SloSettings {
    pub objective: Option<Objective>,
    pub window: Option<String>,
    pub models: BTreeMap<String, SloModelSettings>,
}

/// `base` with an objective and window over it; the problem and the key it is about otherwise.
fn spec(
    base: SloSpec,
    objective: Option<&Objective>,
    window: Option<&str>,
) -> Result<SloSpec, (&'static str, String, String)> {
    let mut s = base;
    if let Some(o) = objective {
        s.objective = o.value().ok_or_else(|| {
            (
                "objective",
                o.shown(),
                "objective is a share between 0 and 1 (exclusive) like 0.995, or \"99.5%\"".into(),
            )
        })?;
    }
    if let Some(w) = window {
        let secs = mlops_core::text::parse_duration(w.trim())
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                (
                    "window",
                    w.to_string(),
                    format!(
                        "window is a duration like \"30d\" ({})",
                        mlops_core::text::DURATION_FORMS
                    ),
                )
            })?;
        s.window_days = secs as f64 / 86_400.0;
    }
    match s.problem() {
        Some(p) => Err(("window", window.unwrap_or_default().to_string(), p)),
        None => Ok(s),
    }
}

impl SloSettings {
    /// The core's SLO config (a setting `parse` refused falls back to the default).
    pub fn config(&self) -> SloConfig {
        let default = spec(
            SloSpec::default(),
            self.objective.as_ref(),
            self.window.as_deref(),
        )
        .unwrap_or_default();
        let models = self
            .models
            .iter()
            .filter_map(|(m, s)| {
                spec(default, s.objective.as_ref(), s.window.as_deref())
                    .ok()
                    .map(|spec| (m.clone(), spec))
            })
            .collect();
        SloConfig { default, models }
    }
}

/// Check `[serving]` and `[slo]`; each error at its value.
pub fn check(
    serving: &ServingSettings,
    slo: &SloSettings,
    path: &Path,
    text: &str,
    errors: &mut Vec<ConfigError>,
) {
    let spans = Spans::new(text);
    if let Err((key, message)) = serving.checked_mapping() {
        let value = if key == "runtime" {
            serving.runtime.clone()
        } else {
            String::new()
        };
        errors.push(ConfigError::at(
            path,
            text,
            spans.key(&["serving", &key]),
            &value,
            message,
        ));
    }
    let default = match spec(
        SloSpec::default(),
        slo.objective.as_ref(),
        slo.window.as_deref(),
    ) {
        Ok(s) => s,
        Err((key, value, message)) => {
            errors.push(ConfigError::at(
                path,
                text,
                spans.key(&["slo", key]),
                &value,
                format!("[slo] {message}"),
            ));
            SloSpec::default()
        }
    };
    for (model, s) in &slo.models {
        if let Err((key, value, message)) = spec(default, s.objective.as_ref(), s.window.as_deref())
        {
            errors.push(ConfigError::at(
                path,
                text,
                spans.key(&["slo", "models", model, key]),
                &value,
                format!("[slo.models.{model}] {message}"),
            ));
        }
    }
}
