//! `mlops models` and `mlops runs`: the model registry and experiment runs from the command line,
//! read from MLflow (`MLFLOW_TRACKING_URI` or `[mlflow]` in config.toml). Filters and orderings
//! are MLflow's own syntax, evaluated by the server, whose message comes back when one is wrong.

use std::{collections::BTreeSet, fmt::Write as _, process::ExitCode};

use anyhow::Result;
use clap::Subcommand;
use mlops_core::{
    model::{RegisteredModel, Run},
    ports::RegistryPort,
};
use serde::Serialize;

use super::{
    output::{self, Output, safe},
    registry_verb,
};
use crate::{adapters::mlflow::RunQuery, wiring::Options};

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
        /// The most runs to print; pages are read until there are this many or none are left.
        #[arg(long, default_value_t = 1000)]
        max_results: usize,
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
    })
}

pub fn runs(cmd: &RunsCmd, options: &Options, output: Output) -> Result<ExitCode> {
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
                page_size: (*page_size)
                    .min(u32::try_from(*max_results).unwrap_or(u32::MAX))
                    .max(1),
            };
            let found = r.search_runs(&query, *max_results).await?;
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
            let c = Comparison::of(&runs);
            Ok(match output {
                Output::Json => output::json(&c),
                Output::Csv => c.csv(*diff_only),
                Output::Markdown => c.markdown(*diff_only),
                _ => c.table(*diff_only),
            })
        }
    })
}

#[derive(Debug, Serialize)]
struct ExperimentRef {
    id: String,
    name: String,
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
    let mut out = format!(
        "{:<28} {:>8} {:>7} {}\n",
        "NAME", "VERSIONS", "LATEST", "ALIASES"
    );
    for m in models {
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>7} {}",
            safe(&m.name),
            m.versions.len(),
            m.latest_version()
                .map_or_else(|| "—".to_string(), |v| format!("v{v}")),
            aliases(m, None),
        );
    }
    out.trim_end().to_string()
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

fn model_detail(m: &RegisteredModel) -> String {
    let mut out = format!("name:     {}\n", safe(&m.name));
    if !m.description.is_empty() {
        let _ = writeln!(out, "about:    {}", safe(&m.description));
    }
    let _ = writeln!(out, "aliases:  {}", aliases(m, None));
    for (k, v) in &m.tags {
        let _ = writeln!(out, "tag:      {}={}", safe(k), safe(v));
    }
    let _ = writeln!(
        out,
        "\n{:>7} {:<12} {:<16} {:<34} {:<16} IMAGE",
        "VERSION", "STATUS", "CREATED", "RUN", "ALIASES"
    );
    for v in m.versions.iter().rev() {
        let _ = writeln!(
            out,
            "{:>7} {:<12} {:<16} {:<34} {:<16} {}",
            format!("v{}", v.version),
            safe(&v.status),
            v.created.format("%Y-%m-%d %H:%M"),
            safe(v.run_id.as_deref().unwrap_or("—")),
            aliases(m, Some(v.version)),
            safe(v.image().unwrap_or("—")),
        );
    }
    out.trim_end().to_string()
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
    let metrics: Vec<&str> = metrics.into_iter().take(4).map(|(k, _)| k).collect();
    let mut out = format!(
        "{:<32} {:<24} {:<9} {:<12}",
        "RUN", "NAME", "STATUS", "USER"
    );
    for m in &metrics {
        let _ = write!(out, " {:>12}", output::cut(m, 12));
    }
    out.push('\n');
    for r in runs {
        let _ = write!(
            out,
            "{:<32} {:<24} {:<9} {:<12}",
            safe(&r.id),
            output::cut(&r.name, 24),
            format!("{:?}", r.status).to_uppercase(),
            output::cut(&r.user, 12),
        );
        for m in &metrics {
            let _ = write!(
                out,
                " {:>12}",
                r.metrics
                    .get(*m)
                    .map_or_else(|| "—".to_string(), |v| number(*v))
            );
        }
        out.push('\n');
    }
    let _ = write!(out, "{} run(s)", runs.len());
    out
}

/// A metric value in at most 12 characters, never cut and never rounded to a wrong zero.
fn number(v: f64) -> String {
    let plain = format!("{v:.4}");
    if v == 0.0 || (v.abs() >= 1e-3 && plain.len() <= 12) {
        plain
    } else {
        format!("{v:.4e}")
    }
}

/// `runs compare`: the runs, and the names of the params and metrics whose values differ.
#[derive(Debug, Serialize)]
struct Comparison {
    runs: Vec<Compared>,
    differing_params: Vec<String>,
    differing_metrics: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Compared {
    id: String,
    name: String,
    experiment_id: String,
    params: std::collections::BTreeMap<String, String>,
    /// The latest value of each metric.
    metrics: std::collections::BTreeMap<String, f64>,
}

impl Comparison {
    fn of(runs: &[Run]) -> Self {
        let param_names: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
        let metric_names: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
        // A name differs when a run lacks it or the values are not all equal.
        let differing_params = param_names
            .into_iter()
            .filter(|k| {
                let first = runs[0].params.get(*k);
                runs.iter().any(|r| r.params.get(*k) != first)
            })
            .cloned()
            .collect();
        let differing_metrics = metric_names
            .into_iter()
            .filter(|k| {
                let first = runs[0].metrics.get(*k).map(|v| v.to_bits());
                runs.iter()
                    .any(|r| r.metrics.get(*k).map(|v| v.to_bits()) != first)
            })
            .cloned()
            .collect();
        Self {
            runs: runs
                .iter()
                .map(|r| Compared {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    experiment_id: r.experiment_id.clone(),
                    params: r.params.clone(),
                    metrics: r.metrics.clone(),
                })
                .collect(),
            differing_params,
            differing_metrics,
        }
    }

    /// Rows of (kind, name, one value per run), params first; with `diff_only` only the
    /// differing ones.
    fn rows(&self, diff_only: bool) -> Vec<(&'static str, String, Vec<String>)> {
        let params: BTreeSet<&String> = self.runs.iter().flat_map(|r| r.params.keys()).collect();
        let metrics: BTreeSet<&String> = self.runs.iter().flat_map(|r| r.metrics.keys()).collect();
        let mut rows = Vec::new();
        for k in params {
            if diff_only && !self.differing_params.contains(k) {
                continue;
            }
            let values = self
                .runs
                .iter()
                .map(|r| r.params.get(k).cloned().unwrap_or_default())
                .collect();
            rows.push(("param", k.clone(), values));
        }
        for k in metrics {
            if diff_only && !self.differing_metrics.contains(k) {
                continue;
            }
            let values = self
                .runs
                .iter()
                .map(|r| r.metrics.get(k).map(|v| number(*v)).unwrap_or_default())
                .collect();
            rows.push(("metric", k.clone(), values));
        }
        rows
    }

    fn headers(&self) -> Vec<String> {
        self.runs
            .iter()
            .map(|r| {
                if r.name.is_empty() {
                    r.id.chars().take(12).collect()
                } else {
                    r.name.clone()
                }
            })
            .collect()
    }

    fn table(&self, diff_only: bool) -> String {
        let mut out = format!("{:<7} {:<24}", "", "");
        for h in self.headers() {
            let _ = write!(out, " {:>16}", output::cut(&h, 16));
        }
        out.push('\n');
        for (kind, name, values) in self.rows(diff_only) {
            let differs = self.differing_params.contains(&name) && kind == "param"
                || self.differing_metrics.contains(&name) && kind == "metric";
            let _ = write!(
                out,
                "{:<7} {:<24}",
                kind,
                output::cut(&format!("{}{name}", if differs { "≠ " } else { "" }), 24)
            );
            for v in values {
                let _ = write!(out, " {:>16}", output::cut(&v, 16));
            }
            out.push('\n');
        }
        let _ = write!(
            out,
            "{} param(s) and {} metric(s) differ",
            self.differing_params.len(),
            self.differing_metrics.len()
        );
        out
    }

    fn csv(&self, diff_only: bool) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["kind".to_string(), "name".to_string()];
        header.extend(self.runs.iter().map(|r| r.id.clone()));
        let _ = w.write_record(&header);
        for (kind, name, values) in self.rows(diff_only) {
            let mut rec = vec![kind.to_string(), name];
            rec.extend(values);
            let _ = w.write_record(rec.iter().map(|c| output::safe(c).into_owned()));
        }
        String::from_utf8(w.into_inner().unwrap_or_default())
            .unwrap_or_default()
            .trim_end()
            .to_string()
    }

    fn markdown(&self, diff_only: bool) -> String {
        let cell = |s: &str| output::safe(s).replace('|', "\\|");
        let mut out = String::from("| | name |");
        for h in self.headers() {
            let _ = write!(out, " {} |", cell(&h));
        }
        out.push_str("\n|---|---|");
        for _ in &self.runs {
            out.push_str("---:|");
        }
        out.push('\n');
        for (kind, name, values) in self.rows(diff_only) {
            let _ = write!(out, "| {kind} | {} |", cell(&name));
            for v in values {
                let _ = write!(out, " {} |", cell(&v));
            }
            out.push('\n');
        }
        out.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, params: &[(&str, &str)], metrics: &[(&str, f64)]) -> Run {
        Run {
            id: id.into(),
            experiment_id: "1".into(),
            name: format!("run-{id}"),
            status: mlops_core::model::RunStatus::Finished,
            user: "dana".into(),
            start: chrono::DateTime::UNIX_EPOCH,
            end: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            datasets: Vec::new(),
            tags: std::collections::BTreeMap::default(),
        }
    }

    #[test]
    fn differing_names_are_those_a_run_lacks_or_holds_otherwise() {
        let a = run("a", &[("lr", "0.1"), ("opt", "adam")], &[("loss", 0.3)]);
        let b = run(
            "b",
            &[("lr", "0.1"), ("opt", "sgd"), ("seed", "1")],
            &[("loss", 0.3), ("acc", 0.9)],
        );
        let c = Comparison::of(&[a, b]);
        assert_eq!(c.differing_params, vec!["opt", "seed"]);
        assert_eq!(c.differing_metrics, vec!["acc"]);
        let diff = c.table(true);
        assert!(diff.contains("≠ opt") && !diff.contains(" lr "), "{diff}");
        assert!(c.table(false).contains("lr"));
        let csv = c.csv(true);
        assert_eq!(csv.lines().next(), Some("kind,name,a,b"));
        assert!(csv.contains("param,opt,adam,sgd"), "{csv}");
        assert!(c.markdown(false).starts_with("| | name | run-a | run-b |"));
    }

    #[test]
    fn numbers_keep_their_meaning() {
        assert_eq!(number(0.312_345_67), "0.3123");
        assert_eq!(number(1.5e-9), "1.5000e-9");
        assert_eq!(number(0.0), "0.0000");
        assert_eq!(number(123_456_789_012.0), "1.2346e11");
    }
}
