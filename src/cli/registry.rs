//! `mlops models` and `mlops runs`: the model registry and experiment runs from the command line,
//! read from MLflow (`MLFLOW_TRACKING_URI` or `[mlflow]` in config.toml). Filters and orderings
//! are MLflow's own syntax, evaluated by the server, whose message comes back when one is wrong.

use std::{fmt::Write as _, process::ExitCode};

use anyhow::Result;
use clap::Subcommand;
use mlops_core::{
    compare::{Comparison, number},
    model::{LoggedModel, ModelVersion, RegisteredModel, Run},
    ports::RegistryPort,
};
use serde::Serialize;

use super::{
    output::{self, Output, UsageError, safe},
    registry_verb,
    table::{column, table},
};
use crate::{
    adapters::mlflow::{self, RunQuery},
    wiring::Options,
};

/// The most runs `runs search --max-results` takes: far more than a terminal shows, and a bound
/// on what one search may hold in memory.
const MAX_RESULTS: i64 = 100_000;

#[derive(Debug, Subcommand)]
pub enum ModelsCmd {
    /// Registered models: versions, the latest one, aliases.
    List {
        /// MLflow's registered-model filter, e.g. "name LIKE 'fraud%'".
        #[arg(long)]
        filter: Option<String>,
    },
    /// One registered model: its versions (status, source run, image), aliases and tags.
    Get { name: String },
    /// The models runs logged (MLflow 3's logged models), newest first: registered or not.
    Logged {
        /// The experiment's name (or its numeric id).
        #[arg(long)]
        experiment: String,
        /// Only the models this run logged.
        #[arg(long)]
        run: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCmd {
    /// Runs of one experiment, filtered and ordered by the server; pages are followed.
    Search {
        /// The experiment's name (or its numeric id).
        #[arg(long)]
        experiment: String,
        /// MLflow's run filter, e.g. "metrics.accuracy > 0.9 and params.optimizer = 'adam'".
        #[arg(long)]
        filter: Option<String>,
        /// MLflow's ordering, e.g. "metrics.loss ASC"; may be given more than once.
        #[arg(long = "order-by")]
        order_by: Vec<String>,
        /// The most runs to print (1 to 100,000); pages are read until there are this many or
        /// none are left, and a server that keeps paging past them is an error.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=MAX_RESULTS))]
        max_results: u32,
        /// Runs asked for per `runs/search` request (1 to 1000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
        page_size: u32,
    },
    /// Params and metrics of 2 to 20 runs side by side, and which of them differ.
    Compare {
        #[arg(required = true, num_args = 2..=20)]
        run_ids: Vec<String>,
        /// Only the params and metrics whose values differ between the runs.
        #[arg(long)]
        diff_only: bool,
    },
}

pub fn models(cmd: &ModelsCmd, options: &Options, output: Output) -> Result<ExitCode> {
    if let ModelsCmd::Logged { run: Some(id), .. } = cmd {
        run_id_arg("--run", id)?;
    }
    registry_verb(options, async |r| match cmd {
        ModelsCmd::List { filter } => {
            let mut models = match filter.as_deref().filter(|f| !f.trim().is_empty()) {
                Some(f) => r.search_models(f).await?,
                None => r.models().await?,
            };
            models.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(output::render(output, &models, |m| models_table(m)))
        }
        ModelsCmd::Get { name } => {
            let model = r.model(name).await?;
            Ok(output::render(output, &model, model_detail))
        }
        ModelsCmd::Logged { experiment, run } => {
            let e = r.experiment_named(experiment).await?;
            if let Some(id) = run {
                // An unknown run is said as such, not as an empty list.
                r.run(id).await?;
            }
            let logged_models = r.logged_models(&e.id, run.as_deref()).await?;
            let result = LoggedResult {
                experiment: ExperimentRef {
                    id: e.id,
                    name: e.name,
                },
                logged_models,
            };
            Ok(output::render(output, &result, |l| {
                logged_table(&l.logged_models)
            }))
        }
    })
}

pub fn runs(cmd: &RunsCmd, options: &Options, output: Output) -> Result<ExitCode> {
    if let RunsCmd::Compare { run_ids, .. } = cmd {
        compared_ids(run_ids)?;
    }
    registry_verb(options, async |r| match cmd {
        RunsCmd::Search {
            experiment,
            filter,
            order_by,
            max_results,
            page_size,
        } => {
            let e = r.experiment_named(experiment).await?;
            let query = RunQuery {
                experiment_ids: vec![e.id.clone()],
                filter: filter.clone(),
                order_by: order_by.clone(),
                page_size: (*page_size).min(*max_results).max(1),
            };
            let max = usize::try_from(*max_results).unwrap_or(usize::MAX);
            let found = r.search_runs(&query, max).await?;
            let result = SearchResult {
                experiment: ExperimentRef {
                    id: e.id,
                    name: e.name,
                },
                pages: found.pages,
                runs: found.runs,
            };
            Ok(output::render(output, &result, |s| runs_table(&s.runs)))
        }
        RunsCmd::Compare { run_ids, diff_only } => {
            let mut runs = Vec::new();
            for id in run_ids {
                runs.push(r.run(id).await?);
            }
            let c = Comparison::of(&runs, &options.directions());
            Ok(match output {
                Output::Json => output::json(&c),
                Output::Csv => c.csv(*diff_only),
                Output::Markdown => c.markdown(*diff_only),
                _ => c.table(*diff_only),
            })
        }
    })
}

/// A run id from the command line (`arg` names where it was given), refused before any request
/// unless MLflow would accept it.
fn run_id_arg(arg: &str, id: &str) -> Result<(), UsageError> {
    if mlflow::is_run_id(id) {
        return Ok(());
    }
    let shown = mlops_core::text::truncate(id, 80);
    Err(UsageError(format!(
        "{arg} {shown:?}: not an MLflow run id ({})",
        mlflow::RUN_ID_RULE
    )))
}

/// The run ids of `runs compare`: each one valid, and no run given twice.
fn compared_ids(ids: &[String]) -> Result<(), UsageError> {
    let mut seen = std::collections::HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        run_id_arg(&format!("RUN_ID #{}", i + 1), id)?;
        if let Some(first) = seen.insert(id.as_str(), i + 1) {
            return Err(UsageError(format!(
                "RUN_ID #{} {id:?} is RUN_ID #{first} again: compare different runs",
                i + 1
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ExperimentRef {
    id: String,
    name: String,
}

/// `models logged -o json`.
#[derive(Debug, Serialize)]
struct LoggedResult {
    experiment: ExperimentRef,
    logged_models: Vec<LoggedModel>,
}

fn logged_table(models: &[LoggedModel]) -> String {
    if models.is_empty() {
        return "no logged models (MLflow 3 logs one per log_model call; older servers have none)"
            .to_string();
    }
    let columns = [
        column("NAME", false, |m: &LoggedModel| m.name.clone()),
        column("STATUS", false, |m: &LoggedModel| m.status.clone()),
        column("TYPE", false, |m: &LoggedModel| {
            dash(m.model_type.as_deref())
        }),
        column("CREATED", false, |m: &LoggedModel| {
            m.created.format("%Y-%m-%d %H:%M").to_string()
        }),
        column("RUN", false, |m: &LoggedModel| {
            dash(m.source_run_id.as_deref())
        }),
        column("ID", false, |m: &LoggedModel| m.id.clone()),
    ];
    table(&columns.iter().collect::<Vec<_>>(), models)
}

/// An optional field's text, `—` when there is none.
fn dash(v: Option<&str>) -> String {
    v.unwrap_or("—").to_string()
}

/// `runs search -o json`.
#[derive(Debug, Serialize)]
struct SearchResult {
    experiment: ExperimentRef,
    /// How many `runs/search` pages were read.
    pages: usize,
    runs: Vec<Run>,
}

fn models_table(models: &[RegisteredModel]) -> String {
    type M = RegisteredModel;
    let columns = [
        column("NAME", false, |m: &M| m.name.clone()),
        column("VERSIONS", true, |m: &M| m.versions.len().to_string()),
        column("LATEST", true, |m: &M| {
            m.latest_version()
                .map_or_else(|| "—".to_string(), |v| format!("v{v}"))
        }),
        column("ALIASES", false, |m: &M| aliases(m, None)),
    ];
    table(&columns.iter().collect::<Vec<_>>(), models)
}

/// `champion=v3 challenger=v4`, or only those pointing at `version`.
fn aliases(m: &RegisteredModel, version: Option<u32>) -> String {
    m.aliases
        .iter()
        .filter(|(_, v)| version.is_none_or(|want| **v == want))
        .map(|(a, v)| {
            if version.is_some() {
                format!("@{}", safe(a))
            } else {
                format!("{}=v{v}", safe(a))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A version with its model, a row of `models get`'s versions.
type VersionOf<'a> = (&'a RegisteredModel, &'a ModelVersion);

fn model_detail(m: &RegisteredModel) -> String {
    let mut out = format!("name:     {}\n", safe(&m.name));
    if !m.description.is_empty() {
        let _ = writeln!(out, "about:    {}", safe(&m.description));
    }
    let _ = writeln!(out, "aliases:  {}", aliases(m, None));
    for (k, v) in &m.tags {
        let _ = writeln!(out, "tag:      {}={}", safe(k), safe(v));
    }
    let columns = [
        column("VERSION", true, |(_, v): &VersionOf| {
            format!("v{}", v.version)
        }),
        column("STATUS", false, |(_, v): &VersionOf| v.status.clone()),
        column("CREATED", false, |(_, v): &VersionOf| {
            v.created.format("%Y-%m-%d %H:%M").to_string()
        }),
        column("RUN", false, |(_, v): &VersionOf| dash(v.run_id.as_deref())),
        column("ALIASES", false, |(m, v): &VersionOf| {
            aliases(m, Some(v.version))
        }),
        column("IMAGE", false, |(_, v): &VersionOf| dash(v.image())),
    ];
    let versions: Vec<VersionOf> = m.versions.iter().rev().map(|v| (m, v)).collect();
    let _ = write!(
        out,
        "\n{}",
        table(&columns.iter().collect::<Vec<_>>(), &versions)
    );
    out
}

fn runs_table(runs: &[Run]) -> String {
    // The metrics most runs have, as columns (at most four: a table, not a spreadsheet).
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in runs {
        for k in r.metrics.keys() {
            *counts.entry(k.as_str()).or_default() += 1;
        }
    }
    let mut metrics: Vec<(&str, usize)> = counts.into_iter().collect();
    metrics.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut columns = vec![
        column("RUN", false, |r: &Run| r.id.clone()),
        column("NAME", false, |r: &Run| output::cut(&r.name, 24)),
        column("STATUS", false, |r: &Run| {
            format!("{:?}", r.status).to_uppercase()
        }),
        column("USER", false, |r: &Run| output::cut(&r.user, 12)),
    ];
    for (m, _) in metrics.into_iter().take(4) {
        let key = m.to_string();
        let mut c = column("", true, move |r: &Run| {
            r.metrics
                .get(&key)
                .map_or_else(|| "—".to_string(), |v| number(*v))
        });
        c.header = crate::app::rows::table::intern(&output::cut(m, 12));
        columns.push(c);
    }
    format!(
        "{}\n{} run(s)",
        table(&columns.iter().collect::<Vec<_>>(), runs),
        runs.len()
    )
}
