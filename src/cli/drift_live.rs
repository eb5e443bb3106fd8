//! `mlops drift live`: drift as the model servers see it now, from Prometheus — each model
//! version's input features over the current window against the data it was trained on (the
//! drift profile logged with its source run's dataset in the registry) or, for a version without
//! one, against the reference window before it; and each model's canary track against its stable
//! one (the measure a rollout's drift check uses).

use std::{fmt::Write as _, process::ExitCode, time::Duration};

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use mlops_core::{CoreError, drift::DriftStatus, model::FeatureDrift};
use serde::Serialize;

use super::{
    output::{self, Output, UsageError, safe},
    table::{self as printer, column},
};
use crate::{
    adapters::prometheus::{DriftWindows, ProfiledDrift, VersionProfiles},
    wiring::Options,
};

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
    /// The current window, from 1s to 24h (default `[drift] live_window`, 15m); the reference
    /// is the five hours that end an hour ago.
    #[arg(long)]
    pub window: Option<String>,
    /// Exit 3 when a feature drifted (for pipelines and alerts); exit 1 when no feature was
    /// compared (no histograms, or none usable: the warnings say why).
    #[arg(long)]
    pub fail_on_drift: bool,
    /// What the live window is compared with: `profile` (the version's training data profile
    /// in the registry, the window where a version has none) or `window` (always the reference
    /// window).
    #[arg(long, default_value = "profile", value_parser = ["profile", "window"])]
    pub reference: String,
}

/// One feature of one model version: its statistics over the current window against the
/// reference window.
#[derive(Debug, Serialize)]
struct LiveFeature {
    model: String,
    version: u32,
    feature: String,
    status: &'static str,
    psi: f64,
    js_distance: f64,
    wasserstein_normed: f64,
    ks_statistic: f64,
    ks_p_value: f64,
    reference_rows: usize,
    current_rows: usize,
    /// PSI over recent windows, oldest first.
    psi_history: Vec<f64>,
    /// The status of each recent window, oldest first (the last is `status`).
    status_history: Vec<&'static str>,
    /// The status held for `[drift] alert_after` windows in a row: what an alert says.
    alert: &'static str,
    /// `window`, `profile DATASET@DIGEST`, or `stable vN` (a canary against its stable).
    reference: String,
}

/// A version whose training data profile was found in the registry.
#[derive(Debug, Serialize)]
struct VersionProfile {
    model: String,
    version: u32,
    dataset: String,
}

/// A model's canary track against its stable track over the same window (the measure a
/// rollout's drift check gates on): the feature furthest apart, and every feature compared.
#[derive(Debug, Serialize)]
struct CanaryVsStable {
    model: String,
    /// The canary's version.
    version: u32,
    /// `stable vN`: the stable track's versions.
    reference: String,
    /// The feature with the largest PSI, its PSI and status.
    feature: String,
    psi: f64,
    status: &'static str,
    features: Vec<LiveFeature>,
}

/// Canary-vs-stable rows grouped by model, each model's features worst first.
fn by_model(rows: Vec<FeatureDrift>, alert_after: usize) -> Vec<CanaryVsStable> {
    let mut models: std::collections::BTreeMap<String, Vec<LiveFeature>> =
        std::collections::BTreeMap::new();
    for d in rows {
        models
            .entry(d.model.clone())
            .or_default()
            .push(feature(d, alert_after));
    }
    models
        .into_iter()
        .filter_map(|(model, mut features)| {
            features.sort_by(|a, b| b.psi.total_cmp(&a.psi));
            let worst = features.first()?;
            Some(CanaryVsStable {
                version: worst.version,
                reference: worst.reference.clone(),
                feature: worst.feature.clone(),
                psi: worst.psi,
                status: worst.status,
                model,
                features,
            })
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct Live {
    at: chrono::DateTime<Utc>,
    window_seconds: u64,
    features: Vec<LiveFeature>,
    drifted: usize,
    canary_vs_stable: Vec<CanaryVsStable>,
    /// The versions compared with their training data profile.
    profiles: Vec<VersionProfile>,
    /// Why a version's profile could not be read (the registry down, a profile that is not
    /// one); those versions are compared with the reference window.
    warnings: Vec<String>,
}

fn feature(d: FeatureDrift, alert_after: usize) -> LiveFeature {
    LiveFeature {
        alert: d.alert(alert_after).as_str(),
        status_history: d.status_history.iter().map(|s| s.as_str()).collect(),
        status: d.report.status.as_str(),
        psi: d.report.psi,
        js_distance: d.report.js_distance,
        wasserstein_normed: d.report.wasserstein_normed,
        ks_statistic: d.report.ks.statistic,
        ks_p_value: d.report.ks.p_value,
        reference_rows: d.report.reference_len,
        current_rows: d.report.current_len,
        psi_history: d.psi_history,
        reference: d.reference,
        model: d.model,
        version: d.version,
        feature: d.feature,
    }
}

pub fn run(args: &LiveArgs, options: &Options, output: &str) -> Result<ExitCode> {
    let output = Output::pick(output, &[Output::Table, Output::Json], "drift live")?;
    let window = match &args.window {
        None => options.settings.drift.live_window,
        Some(w) => window_flag(w)?,
    };
    let runtime = crate::wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let metrics = options.require_metrics(None)?;
        let metrics = metrics.with_drift_windows(DriftWindows::current(window));
        let metrics = std::sync::Arc::new(metrics);
        // The versions' training data profiles from the registry, when one is configured and
        // asked for.
        let (features, profiles, warnings) =
            match options.registry().filter(|_| args.reference == "profile") {
                Some(Ok(r)) => {
                    ProfiledDrift::new(metrics.clone(), std::sync::Arc::new(r))
                        .with_lookup_budget(options.timeout)
                        .drift_with_profiles()
                        .await?
                }
                unprofiled => {
                    let mut warnings = match unprofiled {
                        Some(Err(e)) => vec![format!("no training data profiles: {e}")],
                        _ => Vec::new(),
                    };
                    let (d, dropped) = metrics
                        .drift_noting(Utc::now(), &VersionProfiles::new())
                        .await?;
                    warnings.extend(dropped);
                    (d, VersionProfiles::new(), warnings)
                }
            };
        let wanted = |m: &str| args.model.as_deref().is_none_or(|w| w == m);
        let (canary, versions): (Vec<FeatureDrift>, Vec<FeatureDrift>) = features
            .into_iter()
            .filter(|d| wanted(&d.model))
            .partition(FeatureDrift::is_canary_vs_stable);
        let after = options.settings.drift.alert_after;
        let mut features: Vec<LiveFeature> =
            versions.into_iter().map(|d| feature(d, after)).collect();
        features.sort_by(|a, b| b.psi.total_cmp(&a.psi));
        let canary_vs_stable = by_model(canary, after);
        Ok::<_, CoreError>(Live {
            at: Utc::now(),
            window_seconds: window.as_secs(),
            drifted: features
                .iter()
                .filter(|f| f.status == DriftStatus::Drifted.as_str())
                .count(),
            features,
            canary_vs_stable,
            profiles: profiles
                .iter()
                .filter(|((model, _), _)| wanted(model))
                .map(|((model, version), (dataset, _))| VersionProfile {
                    model: model.clone(),
                    version: *version,
                    dataset: dataset.clone(),
                })
                .collect(),
            warnings,
        })
    });
    match result {
        Ok(live) => {
            output::print(&output::render(output, &live, table));
            // A gate that compared nothing cannot say there is no drift.
            if args.fail_on_drift && live.features.is_empty() && live.canary_vs_stable.is_empty() {
                eprintln!("mlops: {}", nothing_compared(args, &live));
                return Ok(ExitCode::FAILURE);
            }
            Ok(if args.fail_on_drift && live.drifted > 0 {
                ExitCode::from(output::DRIFT_EXIT)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e) => Ok(output::finish(Err(e))),
    }
}

/// `--window`: a duration from 1s to 24h, the bound of the config's `live_window`, whatever
/// the spelling (`18446744073709551615s` is as refused as `25h`).
fn window_flag(w: &str) -> Result<Duration, UsageError> {
    let max = crate::config::settings::MAX_LIVE_WINDOW;
    let secs = mlops_core::text::parse_duration(w.trim()).ok_or_else(|| {
        UsageError(format!(
            "--window {w:?}: a duration like 90s, 15m or 1h, from 1s to 24h"
        ))
    })?;
    if secs == 0 || secs > max.as_secs() {
        return Err(UsageError(format!(
            "--window {w:?}: the current window must be from 1s to 24h ({secs} s given)"
        )));
    }
    Ok(Duration::from_secs(secs))
}

/// Why `--fail-on-drift` fails when no feature was compared.
fn nothing_compared(args: &LiveArgs, live: &Live) -> String {
    let whose = args
        .model
        .as_deref()
        .map_or_else(String::new, |m| format!(" of model {}", safe(m)));
    let why = if live.warnings.is_empty() {
        format!(
            "the metrics store has no feature histograms (model_feature_value_bucket){whose} over the last {} s",
            live.window_seconds
        )
    } else {
        format!(
            "no usable feature histogram{whose} over the last {} s (the warnings say why)",
            live.window_seconds
        )
    };
    format!(
        "drift live --fail-on-drift: no feature was compared{whose}, so drift cannot be ruled out: {why}"
    )
}

fn table(l: &Live) -> String {
    type F = LiveFeature;
    let columns = [
        column("MODEL", false, |f: &F| f.model.clone()),
        column("VER", true, |f: &F| f.version.to_string()),
        column("FEATURE", false, |f: &F| f.feature.clone()),
        column("STATUS", false, |f: &F| f.status.to_string()),
        column("ALERT", false, |f: &F| f.alert.to_string()),
        column("PSI", true, |f: &F| format!("{:.4}", f.psi)),
        column("JS", true, |f: &F| format!("{:.4}", f.js_distance)),
        column("ROWS", true, |f: &F| f.current_rows.to_string()),
        column("AGAINST", false, |f: &F| {
            f.reference
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string()
        }),
    ];
    let mut s = printer::table(&columns.iter().collect::<Vec<_>>(), &l.features);
    s.push('\n');
    let _ = write!(
        s,
        "{} of {} features drifted over the last {} s",
        l.drifted,
        l.features.len(),
        l.window_seconds
    );
    if l.profiles.is_empty() {
        s.push_str("\nreference: the window before (no version has a training data profile)");
    } else {
        s.push_str("\nreference: the training data profile of");
        for p in &l.profiles {
            let _ = write!(
                s,
                "\n  {} v{}  {}",
                safe(&p.model),
                p.version,
                safe(&p.dataset)
            );
        }
        s.push_str("\n  (other versions: the window before)");
    }
    for w in &l.warnings {
        let _ = write!(s, "\nwarning: {}", safe(w));
    }
    if !l.canary_vs_stable.is_empty() {
        s.push_str("\ncanary vs stable:");
        for c in &l.canary_vs_stable {
            let _ = write!(
                s,
                "\n  {} v{} against {}  worst {} PSI {:.4} {}",
                safe(&c.model),
                c.version,
                safe(&c.reference),
                safe(&c.feature),
                c.psi,
                c.status
            );
        }
    }
    s
}
