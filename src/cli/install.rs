//! `mlops install`: the ModelRollout CRD, the `mlops-system` namespace, the roles, the
//! controller's ServiceAccount and the admission policies (`adapters::kube::rbac`).

use std::{fmt::Write as _, process::ExitCode, time::Duration};

use anyhow::Result;

use super::output::{self, Output};
use crate::{
    adapters::kube::{crd, rbac},
    wiring::Options,
};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Print the manifests (a JSON `List` that `kubectl apply -f -` takes) instead of applying
    /// them; needs no cluster.
    #[arg(long)]
    pub dry_run: bool,
}

/// The audit action of `mlops install`.
pub const INSTALL_ACTION: &str = "mlops.install";

/// The CRD and everything else, as one `List`.
pub fn manifests() -> serde_json::Value {
    let mut crd = serde_json::to_value(crd::definition()).unwrap_or_default();
    crd["apiVersion"] = "apiextensions.k8s.io/v1".into();
    crd["kind"] = "CustomResourceDefinition".into();
    let namespace = serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": crate::adapters::kube::names::SYSTEM_NAMESPACE}
    });
    let mut triggers =
        serde_json::to_value(crate::adapters::kube::triggers::definition()).unwrap_or_default();
    triggers["apiVersion"] = "apiextensions.k8s.io/v1".into();
    triggers["kind"] = "CustomResourceDefinition".into();
    let mut items = vec![namespace, crd, triggers];
    items.extend(rbac::manifests());
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
}

pub fn run(args: &InstallArgs, options: &Options, output: Output) -> Result<ExitCode> {
    if args.dry_run {
        return Ok(output::finish(Ok(output::json(&manifests()))));
    }
    let runtime = crate::wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let c = options.cluster().await?;
        let name = crd::install(c.client(), Duration::from_secs(60)).await?;
        let triggers = crd::apply_crd(
            c.client(),
            crate::adapters::kube::triggers::definition(),
            Duration::from_secs(60),
        )
        .await?;
        let mut applied = vec![format!("CustomResourceDefinition/{triggers}")];
        applied.extend(rbac::install(c.client()).await?);
        // What changed who may do what is on the record too (the log's namespace exists now).
        let mut details = format!("{name} established; applied {}: ", applied.len());
        details.push_str(&applied.join(", "));
        c.audit(
            INSTALL_ACTION,
            &c.describe_context(),
            "",
            &mlops_core::text::truncate(&details, 2000),
        )
        .await?;
        let doc = serde_json::json!({"crd": name, "crds": [&name, &triggers], "established": true, "applied": applied});
        Ok(output::render(output, &doc, |_| {
            let mut s = format!("installed {name} (established)");
            for a in &applied {
                let _ = write!(s, "\napplied {}", output::safe(a));
            }
            s
        }))
    });
    Ok(output::finish(result))
}
