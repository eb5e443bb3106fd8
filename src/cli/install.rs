//! `mlops install`: the ModelRollout CRD and the `mlops-system` namespace.

use std::{process::ExitCode, time::Duration};

use anyhow::Result;

use super::output::{self, Output};
use crate::{adapters::kube::crd, wiring::Options};

pub fn run(options: &Options, output: Output) -> Result<ExitCode> {
    let runtime = crate::wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let c = options.cluster().await?;
        let name = crd::install(c.client(), Duration::from_secs(60)).await?;
        let doc = serde_json::json!({"crd": name, "established": true});
        Ok(output::render(output, &doc, |_| {
            format!("installed {name} (established)")
        }))
    });
    Ok(output::finish(result))
}
