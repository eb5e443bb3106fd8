//! `config.toml`: which theme and keymap, backends, refresh and safety settings.

use std::{collections::BTreeMap, path::Path, time::Duration};

use mlops_core::{
    drift::{
        Method,
        engine::{ColumnOptions, DriftOptions},
    },
    gpu::IdlePolicy,
    rollout::{self, Step, Template},
};
use serde::{Deserialize, Deserializer};

use super::{errors::ConfigError, spans::Spans};

/// A duration in config.toml (`"90s"`, `"5m"`, `"1h"`, or `"90"` seconds), read when the file is
/// parsed: the field holds a `Duration`, and a value that is not one is an error there, naming
/// the key, quoting the value (`ConfigError`) and saying what a duration is. Its range (a live
/// window of at most a day, an idle window of whole steps) is checked with the file's other
/// problems, all reported at once.
fn duration<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Duration, D::Error> {
    let text = String::deserialize(d).map_err(|_| {
        serde::de::Error::custom(format!(
            "{key} is a duration like \"15m\" in quotes ({})",
            mlops_core::text::DURATION_FORMS
        ))
    })?;
    mlops_core::text::parse_duration(text.trim())
        .map(Duration::from_secs)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{key} is a duration like 90s, 5m or 1h ({})",
                mlops_core::text::DURATION_FORMS
            ))
        })
}

/// One function per duration key, so that its error names it (serde's `deserialize_with` takes
/// a function of the deserializer alone).
mod duration_key {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn live_window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::duration(d, "live_window")
    }

    pub fn idle_window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::duration(d, "idle_window")
    }

    pub fn idle_step<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::duration(d, "idle_step")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Theme name: an embedded one or a file in `themes/`.
    pub theme: String,
    /// Keymap base: `default` or `vim`; `keymap.toml` merges over it.
    pub keymap: String,
    /// Refuse every mutation.
    pub readonly: bool,
    /// Drive rollouts with the embedded core while no `mlops controller` holds the lease.
    pub drive_rollouts: bool,
    /// Seconds between refreshes of live data.
    pub refresh_seconds: u64,
    /// Seconds before a backend call is given up.
    pub timeout_seconds: u64,
    pub kubernetes: KubeSettings,
    pub mlflow: MlflowSettings,
    pub prometheus: PrometheusSettings,
    /// User step templates for `mlops rollout start --template NAME`, by name. A user template
    /// with a shipped template's name replaces it.
    pub templates: BTreeMap<String, TemplateSettings>,
    /// `[drift]`: methods, thresholds and the dataset share for `mlops drift`.
    pub drift: DriftSettings,
    /// `[gpu]`: when an allocated GPU is idle, and the window its waste is counted over.
    pub gpu: GpuSettings,
    /// `[compare]`: which way each metric improves in run comparisons.
    pub compare: CompareSettings,
    /// `[experiments]`: the Runs table's columns.
    pub experiments: ExperimentsSettings,
    /// `[serving]`: which runtime's metrics serving health reads, or your own queries.
    pub serving: super::serving::ServingSettings,
    /// `[slo]`: the availability objectives per model.
    pub slo: super::serving::SloSettings,
}

/// `[experiments]`: the metrics and params the Runs table shows as columns until `o` chooses
/// others (without it: the first page's metrics and the params that differ between its runs).
///
/// ```toml
/// [experiments]
/// run_columns = ["metrics.val_loss", "metrics.accuracy", "params.learning_rate"]
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentsSettings {
    pub run_columns: Vec<String>,
}

impl ExperimentsSettings {
    /// The columns as fields (`parse` has refused a config with a column that is not one).
    pub fn run_columns(&self) -> Vec<mlops_core::model::RunField> {
        self.run_columns
            .iter()
            .filter_map(|c| mlops_core::model::RunField::parse(c).ok())
            .collect()
    }
}

/// `[gpu]`: the idle policy of `mlops gpu`.
///
/// ```toml
/// [gpu]
/// idle_util_pct = 5.0    # an allocated GPU under this utilisation (percent) is idle
/// idle_window = "1h"     # idle GPU-hours are counted over this window
/// idle_step = "1m"       # the resolution of the utilisation history
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuSettings {
    pub idle_util_pct: f64,
    #[serde(deserialize_with = "duration_key::idle_window")]
    pub idle_window: Duration,
    #[serde(deserialize_with = "duration_key::idle_step")]
    pub idle_step: Duration,
}

impl Default for GpuSettings {
    fn default() -> Self {
        let policy = IdlePolicy::default();
        Self {
            idle_util_pct: policy.util_pct,
            idle_window: policy.window,
            idle_step: policy.step,
        }
    }
}

impl GpuSettings {
    /// The core's idle policy (settings that `parse` accepted always give one).
    pub fn policy(&self) -> IdlePolicy {
        IdlePolicy {
            util_pct: self.idle_util_pct,
            window: self.idle_window,
            step: self.idle_step,
        }
    }
}

/// Check `[gpu]`: a threshold in (0, 100], a window of whole steps; each error at its value.
fn check_gpu(s: &Settings, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    let g = &s.gpu;
    let Some(problem) = g.policy().problem() else {
        return;
    };
    let spans = Spans::new(text);
    let locate = |key: &str| spans.key(&["gpu", key]);
    // Blame the setting the problem is about; a window that does not fit the steps, the step
    // when the file sets one (else the window).
    let step_set = spans.has(&["gpu", "idle_step"]);
    let shown = |d: Duration| mlops_core::text::format_duration(d.as_secs());
    let (key, value) =
        if problem.contains("step must") || (problem.contains("window (") && step_set) {
            ("idle_step", shown(g.idle_step))
        } else if problem.contains("window (") {
            ("idle_window", shown(g.idle_window))
        } else {
            ("idle_util_pct", g.idle_util_pct.to_string())
        };
    errors.push(ConfigError::at(path, text, locate(key), &value, problem));
}

/// `[drift]`: the defaults of `mlops drift` and per-model, per-feature overrides.
///
/// ```toml
/// [drift]
/// share = 0.5            # dataset drift when this share of columns drifted
/// method = "auto"        # or ks, wasserstein, jensenshannon, chisquare, z, psi
/// threshold = 0.1        # every column's threshold (default: the method's own)
/// bins = 10              # quantile bins per numeric column in `drift profile`
/// alert_after = 3        # live drift alerts once a status held this many windows in a row
/// live_window = "15m"    # live drift: the current window of the console and `drift live`
/// [drift.features.amount]
/// method = "psi"
/// [drift.models.fraud-detector.features.amount]
/// method = "psi"
/// threshold = 0.2
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftSettings {
    pub share: f64,
    pub method: Option<String>,
    pub threshold: Option<f64>,
    pub bins: usize,
    /// Live drift: a feature alerts (the Overview, the needs-you line) only once its status has
    /// held for this many windows in a row, as a Prometheus alert's `for:`.
    pub alert_after: usize,
    /// Live drift: the current window (the console's Drift view, `mlops drift live`).
    #[serde(deserialize_with = "duration_key::live_window")]
    pub live_window: Duration,
    pub features: BTreeMap<String, FeatureDriftSettings>,
    pub models: BTreeMap<String, ModelDriftSettings>,
}

/// Windows in a row a live drift status must hold before it alerts: one window in twenty
/// drifting by chance (a KS test at p ≤ 0.05) alerts three in a row about once in 8,000.
pub const DEFAULT_ALERT_AFTER: usize = 3;

/// The longest live drift window: a day.
pub const MAX_LIVE_WINDOW: Duration = Duration::from_secs(86_400);

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            share: mlops_core::drift::method::DEFAULT_SHARE,
            method: None,
            threshold: None,
            bins: mlops_core::drift::profile::DEFAULT_BINS,
            alert_after: DEFAULT_ALERT_AFTER,
            live_window: mlops_core::defaults::LIVE_WINDOW,
            features: BTreeMap::new(),
            models: BTreeMap::new(),
        }
    }
}

/// `[drift.features.NAME]`, `[drift.models.MODEL.features.NAME]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureDriftSettings {
    pub method: Option<String>,
    pub threshold: Option<f64>,
}

/// `[drift.models.MODEL]`: the model's own defaults and features; they win over `[drift]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelDriftSettings {
    pub share: Option<f64>,
    pub method: Option<String>,
    pub threshold: Option<f64>,
    pub features: BTreeMap<String, FeatureDriftSettings>,
}

impl DriftSettings {
    /// The core's options for `model` (the global ones when `None`): the model's settings over
    /// `[drift]`, its features over `[drift.features]`. Only valid settings are here (`parse`
    /// checked them), so methods parse; `auto` is `None`.
    pub fn options(&self, model: Option<&str>) -> DriftOptions {
        let method = |m: &Option<String>| m.as_deref().and_then(|m| m.parse::<Method>().ok());
        let mut features: BTreeMap<String, ColumnOptions> = self
            .features
            .iter()
            .map(|(k, f)| {
                (
                    k.clone(),
                    ColumnOptions {
                        method: method(&f.method),
                        threshold: f.threshold,
                    },
                )
            })
            .collect();
        let mut options = DriftOptions {
            method: method(&self.method),
            threshold: self.threshold,
            share: self.share,
            ..DriftOptions::default()
        };
        if let Some(m) = model.and_then(|m| self.models.get(m)) {
            if m.method.is_some() {
                options.method = method(&m.method);
            }
            options.threshold = m.threshold.or(options.threshold);
            options.share = m.share.unwrap_or(options.share);
            for (k, f) in &m.features {
                let base = features.get(k).copied().unwrap_or_default();
                features.insert(
                    k.clone(),
                    ColumnOptions {
                        method: method(&f.method).or(base.method),
                        threshold: f.threshold.or(base.threshold),
                    },
                );
            }
        }
        options.features = features;
        options
    }
}

/// Check `[drift]`: methods by name (or `auto`), thresholds above 0, shares in (0, 1], bins
/// from 1 to 1000; each error at the offending value.
fn check_drift(s: &Settings, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    let d = &s.drift;
    let spans = Spans::new(text);
    // The position of `key = value` in the table at `section` (or of the section).
    let locate = |section: &[&str], key: &str| -> usize {
        let path: Vec<&str> = section.iter().copied().chain([key]).collect();
        spans.key(&path)
    };
    let mut check =
        |section: &[&str], method: &Option<String>, threshold: Option<f64>, share: Option<f64>| {
            if let Some(m) = method
                && m != "auto"
                && let Err(e) = m.parse::<Method>()
            {
                let at = locate(section, "method");
                errors.push(ConfigError::at(path, text, at, m, e));
            }
            if let Some(t) = threshold
                && !(t.is_finite() && t > 0.0)
            {
                let at = locate(section, "threshold");
                errors.push(ConfigError::at(
                    path,
                    text,
                    at,
                    &t.to_string(),
                    "a drift threshold must be a number above 0",
                ));
            }
            if let Some(v) = share
                && !(v > 0.0 && v <= 1.0)
            {
                let at = locate(section, "share");
                errors.push(ConfigError::at(
                    path,
                    text,
                    at,
                    &v.to_string(),
                    "share must be above 0 and at most 1",
                ));
            }
        };
    check(&["drift"], &d.method, d.threshold, Some(d.share));
    for (name, f) in &d.features {
        check(&["drift", "features", name], &f.method, f.threshold, None);
    }
    for (model, m) in &d.models {
        check(&["drift", "models", model], &m.method, m.threshold, m.share);
        for (name, f) in &m.features {
            check(
                &["drift", "models", model, "features", name],
                &f.method,
                f.threshold,
                None,
            );
        }
    }
    if d.live_window.is_zero() || d.live_window > MAX_LIVE_WINDOW {
        errors.push(ConfigError::at(
            path,
            text,
            locate(&["drift"], "live_window"),
            &mlops_core::text::format_duration(d.live_window.as_secs()),
            "live_window must be a duration from 1s to 24h, like \"15m\"",
        ));
    }
    if d.alert_after == 0 || d.alert_after > 60 {
        errors.push(ConfigError::at(
            path,
            text,
            locate(&["drift"], "alert_after"),
            &d.alert_after.to_string(),
            "alert_after must be between 1 and 60 windows",
        ));
    }
    if d.bins == 0 || d.bins > 1000 {
        errors.push(ConfigError::at(
            path,
            text,
            locate(&["drift"], "bins"),
            &d.bins.to_string(),
            "bins must be between 1 and 1000",
        ));
    }
}

/// `[templates.NAME]`: steps in the compact form (`setWeight 10`, `analysis 3`, `approval`,
/// `pause 5m`, `pause`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    #[serde(default)]
    pub description: String,
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeSettings {
    pub context: Option<String>,
    /// Several contexts in one console (`--context a,b` on the command line).
    pub contexts: Vec<String>,
    /// Every context of the kubeconfig (`--all-contexts`).
    pub all_contexts: bool,
    pub namespace: Option<String>,
}

/// `Debug` redacts credentials in the URL.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlflowSettings {
    pub tracking_uri: Option<String>,
    /// A PEM file of CAs that sign the server's certificate (relative to the config directory).
    pub ca_file: Option<String>,
    /// Accept any certificate; warned about on every start.
    pub insecure_skip_tls_verify: bool,
    /// Runs the console asks MLflow for per page as a runs list scrolls (1 to 1000; default
    /// 100).
    pub runs_page_size: Option<u32>,
}

/// Runs per page in the console's runs list when `[mlflow] runs_page_size` is not set.
pub const RUNS_PAGE_SIZE: u32 = 100;

impl MlflowSettings {
    pub fn runs_page_size(&self) -> u32 {
        self.runs_page_size.unwrap_or(RUNS_PAGE_SIZE)
    }
}

/// `[compare]`: which way a metric improves in run comparisons, by parts of its name
/// (case-insensitive), over the built-in list (`loss`, `err`, `rmse` … lower; others higher).
///
/// ```toml
/// [compare]
/// lower_is_better = ["p99", "cost"]
/// higher_is_better = ["loss_reduction"]
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareSettings {
    pub lower_is_better: Vec<String>,
    pub higher_is_better: Vec<String>,
}

impl CompareSettings {
    pub fn directions(&self) -> mlops_core::compare::Directions {
        mlops_core::compare::Directions {
            lower: self.lower_is_better.clone(),
            higher: self.higher_is_better.clone(),
        }
    }
}

/// `Debug` redacts credentials in the URL.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusSettings {
    pub url: Option<String>,
    /// A PEM file of CAs that sign the server's certificate (relative to the config directory).
    pub ca_file: Option<String>,
    /// Accept any certificate; warned about on every start.
    pub insecure_skip_tls_verify: bool,
}

fn redacted(url: Option<&String>) -> Option<String> {
    url.map(|u| mlops_core::text::redact_userinfo(u).into_owned())
}

impl std::fmt::Debug for MlflowSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowSettings")
            .field("tracking_uri", &redacted(self.tracking_uri.as_ref()))
            .field("ca_file", &self.ca_file)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("runs_page_size", &self.runs_page_size)
            .finish()
    }
}

impl std::fmt::Debug for PrometheusSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSettings")
            .field("url", &redacted(self.url.as_ref()))
            .field("ca_file", &self.ca_file)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            theme: "dark".into(),
            keymap: "default".into(),
            readonly: false,
            drive_rollouts: true,
            refresh_seconds: mlops_core::defaults::REFRESH.as_secs(),
            timeout_seconds: mlops_core::defaults::CALL_TIMEOUT.as_secs(),
            kubernetes: KubeSettings::default(),
            mlflow: MlflowSettings::default(),
            prometheus: PrometheusSettings::default(),
            templates: BTreeMap::new(),
            drift: DriftSettings::default(),
            gpu: GpuSettings::default(),
            compare: CompareSettings::default(),
            experiments: ExperimentsSettings::default(),
            serving: super::serving::ServingSettings::default(),
            slo: super::serving::SloSettings::default(),
        }
    }
}

impl Settings {
    /// The shipped templates with the user's merged over them by name, sorted by name. Only
    /// templates that passed `parse` are here, so their steps parse.
    pub fn templates(&self) -> Vec<Template> {
        let mut all: BTreeMap<String, Template> = rollout::templates()
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        for (name, t) in &self.templates {
            let steps: Result<Vec<Step>, String> = t.steps.iter().map(|s| s.parse()).collect();
            if let Ok(steps) = steps {
                all.insert(
                    name.clone(),
                    Template {
                        name: name.clone(),
                        description: t.description.clone(),
                        steps,
                        builtin: false,
                    },
                );
            }
        }
        all.into_values().collect()
    }
}

/// Where each template and its steps are in the file, from the parser's own spans (one more
/// parse of the file: linear, however many templates there are).
#[derive(Debug, Default, Deserialize)]
struct TemplateSpans {
    #[serde(default)]
    templates: BTreeMap<toml::Spanned<String>, StepSpans>,
}

#[derive(Debug, Default, Deserialize)]
struct StepSpans {
    #[serde(default)]
    steps: Vec<toml::Spanned<String>>,
}

/// Check each user template: a name a Kubernetes object name can carry, steps that parse, and
/// steps the core accepts as a rollout (weights rising to at most 100, counts of 1 or more).
fn check_templates(s: &Settings, path: &Path, text: &str, errors: &mut Vec<ConfigError>) {
    if s.templates.is_empty() {
        return;
    }
    let spans: std::collections::HashMap<String, (usize, Vec<usize>)> =
        toml::from_str::<TemplateSpans>(text)
            .unwrap_or_default()
            .templates
            .into_iter()
            .map(|(name, t)| {
                let header = name.span().start;
                // Inside the quote, where the step's text starts.
                let steps = t.steps.iter().map(|s| s.span().start + 1).collect();
                (name.into_inner(), (header, steps))
            })
            .collect();
    for (name, t) in &s.templates {
        let (header, step_offsets) = spans
            .get(name)
            .map_or((0, &[][..]), |(h, s)| (*h, s.as_slice()));
        let valid_name = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            errors.push(ConfigError::at(
                path,
                text,
                header,
                name,
                "a template name is lowercase letters, digits and '-'",
            ));
        }
        let mut steps = Vec::new();
        let mut offsets = Vec::new();
        for (i, step) in t.steps.iter().enumerate() {
            let at = step_offsets.get(i).copied().unwrap_or(header);
            offsets.push(at);
            match step.parse::<Step>() {
                Ok(parsed) => steps.push(parsed),
                Err(e) => errors.push(ConfigError::at(
                    path,
                    text,
                    at,
                    step,
                    format!("template {name}: {e}"),
                )),
            }
        }
        if steps.len() < t.steps.len() {
            continue;
        }
        if let Err(e) = rollout::validate_steps(&steps) {
            // Point at the step the core names (`steps[i]…`), else at the template.
            let step = match &e {
                mlops_core::CoreError::InvalidSpec { field, .. } => field
                    .strip_prefix("steps[")
                    .and_then(|rest| rest.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok()),
                _ => None,
            };
            let (at, value) = step
                .and_then(|i| Some((*offsets.get(i)?, t.steps.get(i)?.as_str())))
                .unwrap_or((header, name.as_str()));
            errors.push(ConfigError::at(
                path,
                text,
                at,
                value,
                format!("template {name}: {e}"),
            ));
        }
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Settings, Vec<ConfigError>> {
    let s: Settings =
        toml::from_str(text).map_err(|e| vec![ConfigError::from_toml(path, text, &e)])?;
    let mut errors = Vec::new();
    let spans = Spans::new(text);
    let locate = |path: &[&str]| spans.key(path);
    if s.refresh_seconds == 0 || s.refresh_seconds > 3600 {
        errors.push(ConfigError::at(
            path,
            text,
            locate(&["refresh_seconds"]),
            &s.refresh_seconds.to_string(),
            "refresh_seconds must be between 1 and 3600",
        ));
    }
    if s.timeout_seconds == 0 || s.timeout_seconds > 600 {
        errors.push(ConfigError::at(
            path,
            text,
            locate(&["timeout_seconds"]),
            &s.timeout_seconds.to_string(),
            "timeout_seconds must be between 1 and 600",
        ));
    }
    for (section, key, url) in [
        ("mlflow", "tracking_uri", &s.mlflow.tracking_uri),
        ("prometheus", "url", &s.prometheus.url),
    ] {
        if let Some(u) = url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            errors.push(ConfigError::at(
                path,
                text,
                locate(&[section, key]),
                u,
                format!("{key} must start with http:// or https://"),
            ));
        }
    }
    for (section, ca_file, insecure) in [
        (
            "mlflow",
            &s.mlflow.ca_file,
            s.mlflow.insecure_skip_tls_verify,
        ),
        (
            "prometheus",
            &s.prometheus.ca_file,
            s.prometheus.insecure_skip_tls_verify,
        ),
    ] {
        if let Some(ca) = ca_file
            && insecure
        {
            errors.push(ConfigError::at(
                path,
                text,
                locate(&[section, "ca_file"]),
                ca,
                format!(
                    "[{section}] sets both ca_file and insecure_skip_tls_verify: a CA file is for checking the certificate, skipping the check ignores it; keep one"
                ),
            ));
        }
    }
    if let Some(n) = s.mlflow.runs_page_size
        && !(1..=1000).contains(&n)
    {
        errors.push(ConfigError::at(
            path,
            text,
            locate(&["mlflow", "runs_page_size"]),
            &n.to_string(),
            "runs_page_size must be between 1 and 1000 (MLflow's largest page)",
        ));
    }
    for c in &s.experiments.run_columns {
        if let Err(why) = mlops_core::model::RunField::parse(c) {
            errors.push(ConfigError::at(
                path,
                text,
                spans.element(&["experiments", "run_columns"], |e| e == c),
                c,
                format!("[experiments] run_columns: {why}"),
            ));
        }
    }
    check_templates(&s, path, text, &mut errors);
    check_drift(&s, path, text, &mut errors);
    check_gpu(&s, path, text, &mut errors);
    super::serving::check(&s.serving, &s.slo, path, text, &mut errors);
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
