//! `mlops policy check MODEL@VERSION`: the policy gates of `policy.toml` for a model version on a
//! cluster, each with its evidence; `rollout start` runs the same check and refuses on failure.

use std::{fmt::Write as _, process::ExitCode};

use anyhow::Result;
use mlops_core::{
    CoreError,
    policy::{self, Verdict},
};

use super::output::{self, Output, UsageError, safe};
use crate::{adapters::kube::KubeCluster, config, wiring::Options};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCmd {
    /// Evaluate the gates for MODEL@VERSION on a cluster: validation tag, evaluation metric
    /// against the champion, data residency against the cluster's node regions, change ticket.
    /// Exit 1 when a gate fails.
    Check {
        /// The model version, as MODEL@VERSION (`fraud-detector@4`).
        target: String,
        /// The cluster: a kubeconfig context (default: --context, or the current context).
        #[arg(long)]
        cluster: Option<String>,
        /// The change ticket the command would carry.
        #[arg(long)]
        change: Option<String>,
    },
}

fn model_at_version(target: &str) -> Result<(String, u32), UsageError> {
    target
        .rsplit_once('@')
        .and_then(|(m, v)| Some((m.to_string(), v.trim_start_matches('v').parse().ok()?)))
        .filter(|(m, _)| !m.is_empty())
        .ok_or_else(|| {
            UsageError(format!(
                "{target:?}: expected MODEL@VERSION, e.g. fraud-detector@4"
            ))
        })
}

pub fn run(cmd: &PolicyCmd, options: &Options, out: Output) -> Result<ExitCode> {
    let PolicyCmd::Check {
        target,
        cluster,
        change,
    } = cmd;
    let (model, version) = model_at_version(target)?;
    let mut options = options.clone();
    if let Some(c) = cluster {
        options.context = Some(c.clone());
        options.contexts = vec![c.clone()];
        options.all_contexts = false;
    }
    let runtime = crate::wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let c = options.cluster().await?;
        let ns = c.default_namespace();
        verdict(&options, &c, &ns, &model, version, change.as_deref()).await
    });
    match result {
        Ok(Some(recorded)) => {
            let v = recorded.start;
            let allowed = v.allowed;
            output::print(&output::render(out, &v, checklist));
            Ok(if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Ok(None) => Ok(output::finish(Ok(output::render(
            out,
            &serde_json::json!({"model": model, "version": version, "allowed": true, "checks": [], "policy": null}),
            |_| "no policy.toml in the config directory: no gates apply".to_string(),
        )))),
        Err(e) => Ok(output::finish(Err(e))),
    }
}

/// The verdict as a checklist.
pub fn checklist(v: &Verdict) -> String {
    let mut s = format!(
        "{} v{} on {}: {}",
        safe(&v.model),
        v.version,
        safe(&v.cluster),
        if v.allowed { "allowed" } else { "refused" }
    );
    for c in &v.checks {
        let _ = write!(
            s,
            "\n  {} {:<18} {}",
            if c.ok { "✓" } else { "✗" },
            c.gate,
            safe(&c.evidence)
        );
    }
    if let Some(r) = &v.pinned_regions {
        let _ = write!(s, "\n  pods must run in: {}", safe(&r.join(", ")));
    }
    s
}

/// The config directory's `policy.toml`: `None` without one; a file with errors is an error.
pub fn load_policy(options: &Options) -> Result<Option<config::policy::PolicyFile>, CoreError> {
    let (file, errors) = config::policy::load(&options.config_dir);
    match errors.first() {
        Some(e) => Err(CoreError::backend(
            "policy",
            format!(
                "{e} ({} problem(s)); fix policy.toml (mlops config check)",
                errors.len()
            ),
        )),
        None => Ok(file),
    }
}

/// The gates of the config directory's `policy.toml` for `model` v`version` in `namespace` of the
/// cluster `c` — the rules that apply there and their verdict now; `None` when there is no
/// policy file. A policy file with errors is an error.
pub async fn verdict(
    options: &Options,
    c: &KubeCluster,
    namespace: &str,
    model: &str,
    version: u32,
    change: Option<&str>,
) -> Result<Option<policy::Recorded>, CoreError> {
    let Some(file) = load_policy(options)? else {
        return Ok(None);
    };
    let registry = options.require_registry()?;
    crate::adapters::kube::start::policy_verdict(
        c,
        &file,
        &registry,
        namespace,
        (model, version),
        change,
    )
    .await
    .map(Some)
}
