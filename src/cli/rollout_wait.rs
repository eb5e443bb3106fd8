//! `mlops rollout wait NAME` and `rollout start --wait`: follow a rollout until it reaches an
//! outcome, and exit with the outcome's own code (`mlops_core::rollout::outcome`): 0 promoted,
//! 2 rolled back or aborted, 3 waiting for approval (0 with `--until approval`), 4 timed out,
//! 1 failed or an error. `-o json` prints the rollout with `outcome` and `exit_code` beside it.

use std::{process::ExitCode, time::Duration};

use mlops_core::{
    CoreError,
    rollout::{
        RolloutRecord,
        outcome::{Outcome, Until, reached},
    },
};
use serde::Serialize;

use super::output::{self, Output};
use crate::adapters::kube::KubeCluster;

/// How often a waiting verb reads the rollout again.
const WAIT_POLL: Duration = Duration::from_secs(2);

/// `--until`: where waiting ends successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UntilArg {
    /// Promoted; an approval gate ends the wait with exit 3.
    #[default]
    Promoted,
    /// At an approval gate (exit 0): the pipeline hands over to a release manager.
    Approval,
}

impl From<UntilArg> for Until {
    fn from(u: UntilArg) -> Self {
        match u {
            UntilArg::Promoted => Until::Promoted,
            UntilArg::Approval => Until::Approval,
        }
    }
}

/// The rollout as `rollout get -o json` prints it, with how the wait ended.
#[derive(Serialize)]
struct Waited<'a> {
    #[serde(flatten)]
    rollout: &'a RolloutRecord,
    outcome: &'static str,
    exit_code: u8,
}

/// Follow `ns/name` until it reaches an outcome or `limit` runs out (a limit past what the
/// clock holds waits for ever).
pub async fn wait_for(
    c: &KubeCluster,
    ns: &str,
    name: &str,
    limit: Duration,
) -> Result<(RolloutRecord, Outcome), CoreError> {
    let deadline = tokio::time::Instant::now().checked_add(limit);
    loop {
        let r = c.rollout(ns, name).await?;
        if let Some(outcome) = reached(&r) {
            return Ok((r, outcome));
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Ok((r, Outcome::TimedOut));
        }
        tokio::time::sleep(WAIT_POLL.min(limit)).await;
    }
}

/// What the outcome means, in a sentence for the terminal.
fn said(r: &RolloutRecord, outcome: Outcome, limit: Duration) -> String {
    let who = format!("{}/{}", r.namespace, r.name);
    let why = if r.status.message.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", r.status.message)
    };
    match outcome {
        Outcome::Promoted => format!("rollout {who} is Promoted"),
        Outcome::AwaitingApproval => format!(
            "rollout {who} is waiting for approval at step {} (mlops rollout approve {} --comment …)",
            r.step_label(),
            r.name
        ),
        Outcome::TimedOut => format!(
            "rollout {who} is still {} after {}s (step {}){why}",
            r.status.phase,
            limit.as_secs(),
            r.step_label()
        ),
        Outcome::RolledBack | Outcome::Aborted | Outcome::Failed => {
            format!(
                "rollout {who} is {} ({}){why}",
                r.status.phase,
                outcome.as_str()
            )
        }
    }
}

/// Print the waited-for rollout (`prefix`: what came before, e.g. "started …") and exit with its
/// outcome's code; anything but success is said on stderr too.
pub fn finish(
    output: Output,
    prefix: Option<&str>,
    result: Result<(RolloutRecord, Outcome), CoreError>,
    until: Until,
    limit: Duration,
) -> ExitCode {
    let (r, outcome) = match result {
        Ok(done) => done,
        Err(e) => return output::finish(Err(e)),
    };
    let code = outcome.exit_code(until);
    let waited = Waited {
        rollout: &r,
        outcome: outcome.as_str(),
        exit_code: code,
    };
    let sentence = output::safe(&said(&r, outcome, limit)).into_owned();
    output::print(&output::render(output, &waited, |_| match &prefix {
        Some(p) => format!("{p}\n{sentence}"),
        None => sentence.clone(),
    }));
    if code != 0 {
        eprintln!("mlops: {sentence}");
    }
    ExitCode::from(code)
}

/// `mlops rollout wait NAME`.
pub fn wait(
    options: &crate::wiring::Options,
    output: Output,
    name: &str,
    until: Until,
    timeout: u64,
) -> anyhow::Result<ExitCode> {
    let limit = Duration::from_secs(timeout);
    let runtime = crate::wiring::tokio_runtime(1)?;
    let result = runtime.block_on(async {
        let c = options.cluster().await?;
        let ns = c.default_namespace();
        wait_for(&c, &ns, name, limit).await
    });
    Ok(finish(output, None, result, until, limit))
}
