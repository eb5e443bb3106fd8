//! Runs side by side: each run's params and latest metrics, which names differ between them, and
//! the best run per metric (lower is better for losses and errors, higher otherwise; the user's
//! config may say otherwise per name). The CLI's `runs compare` and the console's Compare view
//! both read this, and both export it as CSV, Markdown or JSON from here.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    fmt::Write as _,
};

use serde::Serialize;

use crate::{
    model::{Run, RunField},
    text,
};

/// Parts of a metric's name that mean lower is better, unless the config says otherwise.
pub const LOWER_IS_BETTER: [&str; 11] = [
    "loss",
    "err",
    "rmse",
    "mae",
    "mse",
    "mape",
    "latency",
    "perplexity",
    "wer",
    "cer",
    "duration",
];

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Lower,
    Higher,
}

/// The user's word on directions: parts of names (case-insensitive) that are lower-is-better or
/// higher-is-better, over the built-in list. Higher wins where both match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directions {
    pub lower: Vec<String>,
    pub higher: Vec<String>,
}

impl Directions {
    pub fn of(&self, metric: &str) -> Direction {
        let name = metric.to_lowercase();
        let has = |p: &str| !p.is_empty() && name.contains(&p.to_lowercase());
        if self.higher.iter().any(|p| has(p)) {
            Direction::Higher
        } else if self.lower.iter().any(|p| has(p)) || LOWER_IS_BETTER.iter().any(|p| has(p)) {
            Direction::Lower
        } else {
            Direction::Higher
        }
    }
}

/// The runs, and the names of the params and metrics whose values differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub runs: Vec<Compared>,
    pub differing_params: Vec<String>,
    pub differing_metrics: Vec<String>,
    /// Per metric: which way is better and the id of the best run (ties: the first).
    pub best: BTreeMap<String, Best>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compared {
    pub id: String,
    pub name: String,
    pub experiment_id: String,
    pub params: BTreeMap<String, String>,
    /// The latest value of each metric.
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Best {
    pub direction: Direction,
    pub run_id: String,
    pub value: f64,
}

/// One row of a comparison: a param or a metric, one value per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: &'static str,
    pub name: String,
    pub values: Vec<Option<String>>,
    pub differs: bool,
    /// For a metric: the index of the best run.
    pub best: Option<usize>,
}

impl Row {
    /// The param or metric the row is.
    pub fn field(&self) -> RunField {
        if self.kind == "param" {
            RunField::Param(self.name.clone())
        } else {
            RunField::Metric(self.name.clone())
        }
    }
}

impl Comparison {
    pub fn of(runs: &[Run], directions: &Directions) -> Self {
        let param_names: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
        let metric_names: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
        // A name differs when a run lacks it or the values are not all equal.
        let differing_params = param_names
            .into_iter()
            .filter(|k| {
                let first = runs.first().and_then(|r| r.params.get(*k));
                runs.iter().any(|r| r.params.get(*k) != first)
            })
            .cloned()
            .collect();
        let differing_metrics = metric_names
            .iter()
            .filter(|k| {
                let first = runs
                    .first()
                    .and_then(|r| r.metrics.get(**k))
                    .map(|v| v.to_bits());
                runs.iter()
                    .any(|r| r.metrics.get(**k).map(|v| v.to_bits()) != first)
            })
            .map(|k| (*k).clone())
            .collect();
        let best = metric_names
            .into_iter()
            .filter_map(|k| {
                let direction = directions.of(k);
                let mut best: Option<(&Run, f64)> = None;
                for r in runs {
                    let Some(&v) = r.metrics.get(k).filter(|v| v.is_finite()) else {
                        continue;
                    };
                    let better = best.is_none_or(|(_, b)| match direction {
                        Direction::Lower => v < b,
                        Direction::Higher => v > b,
                    });
                    if better {
                        best = Some((r, v));
                    }
                }
                best.map(|(r, value)| {
                    (
                        k.clone(),
                        Best {
                            direction,
                            run_id: r.id.clone(),
                            value,
                        },
                    )
                })
            })
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
            best,
        }
    }

    /// Rows, params first; with `diff_only` only the differing ones.
    pub fn rows(&self, diff_only: bool) -> Vec<Row> {
        let params: BTreeSet<&String> = self.runs.iter().flat_map(|r| r.params.keys()).collect();
        let metrics: BTreeSet<&String> = self.runs.iter().flat_map(|r| r.metrics.keys()).collect();
        // Looked up once per row: a set, not the lists (with 40,000 names, quadratic took
        // seconds).
        let differing_params: HashSet<&str> =
            self.differing_params.iter().map(String::as_str).collect();
        let differing_metrics: HashSet<&str> =
            self.differing_metrics.iter().map(String::as_str).collect();
        let mut rows = Vec::with_capacity(params.len() + metrics.len());
        for k in params {
            let differs = differing_params.contains(k.as_str());
            if diff_only && !differs {
                continue;
            }
            rows.push(Row {
                kind: "param",
                name: k.clone(),
                values: self.runs.iter().map(|r| r.params.get(k).cloned()).collect(),
                differs,
                best: None,
            });
        }
        for k in metrics {
            let differs = differing_metrics.contains(k.as_str());
            if diff_only && !differs {
                continue;
            }
            let best = self
                .best
                .get(k)
                .and_then(|b| self.runs.iter().position(|r| r.id == b.run_id));
            rows.push(Row {
                kind: "metric",
                name: k.clone(),
                values: self
                    .runs
                    .iter()
                    .map(|r| r.metrics.get(k).map(|v| number(*v)))
                    .collect(),
                differs,
                best,
            });
        }
        rows
    }

    /// A short label per run: its name, or the start of its id.
    pub fn headers(&self) -> Vec<String> {
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

    /// A plain-text table for a terminal: `≠` marks a differing name, `*` the best value.
    pub fn table(&self, diff_only: bool) -> String {
        let cut = |s: &str, n: usize| text::truncate(&text::line(s), n).into_owned();
        let mut out = format!("{:<7} {:<24}", "", "");
        for h in self.headers() {
            let _ = write!(out, " {:>16}", cut(&h, 16));
        }
        out.push('\n');
        for row in self.rows(diff_only) {
            let mark = if row.differs { "≠ " } else { "" };
            let _ = write!(
                out,
                "{:<7} {:<24}",
                row.kind,
                cut(&format!("{mark}{}", row.name), 24)
            );
            for (i, v) in row.values.iter().enumerate() {
                let star = if row.best == Some(i) { "*" } else { "" };
                let v = format!("{star}{}", v.as_deref().unwrap_or(""));
                let _ = write!(out, " {:>16}", cut(&v, 16));
            }
            out.push('\n');
        }
        let _ = write!(
            out,
            "{} param(s) and {} metric(s) differ; * best",
            self.differing_params.len(),
            self.differing_metrics.len()
        );
        out
    }

    /// CSV: `kind,name,<run id>…`, one row per param and metric. Each cell goes through the
    /// sanitiser keeping its line breaks (a cell that holds one is quoted, as CSV has it), then
    /// [`text::csv_cell`]: a cell a spreadsheet would run as a formula starts with `'`.
    pub fn csv(&self, diff_only: bool) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["kind".to_string(), "name".to_string()];
        header.extend(self.runs.iter().map(|r| r.id.clone()));
        let cell = |c: &str| text::csv_cell(&text::block(c)).into_owned();
        let _ = w.write_record(header.iter().map(|c| cell(c)));
        for row in self.rows(diff_only) {
            let mut rec = vec![row.kind.to_string(), row.name];
            rec.extend(row.values.into_iter().map(Option::unwrap_or_default));
            let _ = w.write_record(rec.iter().map(|c| cell(c)));
        }
        String::from_utf8(w.into_inner().unwrap_or_default())
            .unwrap_or_default()
            .trim_end()
            .to_string()
    }

    /// A Markdown table; the best value of each metric in bold.
    pub fn markdown(&self, diff_only: bool) -> String {
        let cell = |s: &str| text::line(s).replace('|', "\\|");
        let mut out = String::from("| | name |");
        for h in self.headers() {
            let _ = write!(out, " {} |", cell(&h));
        }
        out.push_str("\n|---|---|");
        for _ in &self.runs {
            out.push_str("---:|");
        }
        out.push('\n');
        for row in self.rows(diff_only) {
            let _ = write!(out, "| {} | {} |", row.kind, cell(&row.name));
            for (i, v) in row.values.iter().enumerate() {
                let v = cell(v.as_deref().unwrap_or(""));
                if row.best == Some(i) {
                    let _ = write!(out, " **{v}** |");
                } else {
                    let _ = write!(out, " {v} |");
                }
            }
            out.push('\n');
        }
        out.trim_end().to_string()
    }

    /// JSON, as `runs compare -o json`.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// One axis of a parallel-coordinates plot: a param or the chosen metric, and how its values
/// were placed on 0–1 (numbers by their range, other values by their sorted order).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: String,
    /// The value at the bottom and at the top of the axis, as shown.
    pub low: String,
    pub high: String,
}

/// Runs as lines across the params that differ between them, ending at a metric: which params
/// go with a better metric, at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub axes: Vec<Axis>,
    /// Per run (in the comparison's order): its position on each axis, 0–1; `None` where the
    /// run has no value.
    pub lines: Vec<Vec<Option<f64>>>,
}

impl Comparison {
    /// The params that differ, then `metric`, each run placed on every axis; `None` when
    /// `metric` is not one of the runs' metrics.
    pub fn parallel(&self, metric: &str) -> Option<Parallel> {
        if !self.runs.iter().any(|r| r.metrics.contains_key(metric)) {
            return None;
        }
        let mut columns: Vec<(String, Vec<Option<String>>)> = self
            .differing_params
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    self.runs.iter().map(|r| r.params.get(p).cloned()).collect(),
                )
            })
            .collect();
        columns.push((
            metric.to_string(),
            self.runs
                .iter()
                .map(|r| r.metrics.get(metric).map(ToString::to_string))
                .collect(),
        ));
        let mut axes = Vec::new();
        let mut placed: Vec<Vec<Option<f64>>> = Vec::new();
        for (name, values) in columns {
            let (at, axis) = place(name, &values);
            placed.push(at);
            axes.push(axis);
        }
        if let Some(axis) = axes.last_mut() {
            self.metric_ends(metric, axis);
        }
        let lines = (0..self.runs.len())
            .map(|i| placed.iter().map(|axis| axis[i]).collect())
            .collect();
        Some(Parallel { axes, lines })
    }
}

/// Each value's place on 0–1 and the axis they were placed on: numbers by their range (every
/// value alike: the middle), other values by their sorted order; `None` stays `None`.
fn place(name: String, values: &[Option<String>]) -> (Vec<Option<f64>>, Axis) {
    let numbers: Option<Vec<Option<f64>>> = values
        .iter()
        .map(|v| match v {
            None => Some(None),
            Some(s) => s.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some),
        })
        .collect();
    if let Some(numbers) = numbers {
        let present: Vec<f64> = numbers.iter().flatten().copied().collect();
        let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let span = hi - lo;
        let at = numbers
            .iter()
            .map(|v| v.map(|x| if span > 0.0 { (x - lo) / span } else { 0.5 }))
            .collect();
        // The ends as the runs logged them (`64`, `0.01`), not reformatted.
        let as_logged = |target: f64| {
            values
                .iter()
                .flatten()
                .find(|s| s.parse::<f64>().ok() == Some(target))
                .cloned()
                .unwrap_or_default()
        };
        let axis = Axis {
            name,
            low: as_logged(lo),
            high: as_logged(hi),
        };
        return (at, axis);
    }
    let mut kinds: Vec<&String> = values.iter().flatten().collect();
    kinds.sort();
    kinds.dedup();
    let n = kinds.len();
    let at = values
        .iter()
        .map(|v| {
            v.as_ref()
                .and_then(|s| kinds.iter().position(|k| *k == s))
                .map(|i| {
                    if n > 1 {
                        i as f64 / (n - 1) as f64
                    } else {
                        0.5
                    }
                })
        })
        .collect();
    let axis = Axis {
        name,
        low: kinds.first().map(|s| (*s).clone()).unwrap_or_default(),
        high: kinds.last().map(|s| (*s).clone()).unwrap_or_default(),
    };
    (at, axis)
}

/// One param or metric against another: each run a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    pub x: Axis,
    pub y: Axis,
    /// Per run (in the comparison's order): its place on both axes, 0–1; `None` where the run
    /// lacks either value.
    pub points: Vec<Option<(f64, f64)>>,
}

impl Comparison {
    /// A metric axis's ends written as the table writes metrics.
    fn metric_ends(&self, metric: &str, axis: &mut Axis) {
        let logged: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|r| r.metrics.get(metric).copied())
            .filter(|v| v.is_finite())
            .collect();
        if !logged.is_empty() {
            axis.low = number(logged.iter().copied().fold(f64::INFINITY, f64::min));
            axis.high = number(logged.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
    }

    /// Every run's value of `field` (a metric's latest value as logged), `None` where it has none.
    pub fn values(&self, field: &RunField) -> Vec<Option<String>> {
        self.runs
            .iter()
            .map(|r| match field {
                RunField::Param(k) => r.params.get(k).cloned(),
                RunField::Metric(k) => r.metrics.get(k).map(ToString::to_string),
            })
            .collect()
    }

    /// `y` against `x`, each run a point (numbers by their range, other values by their sorted
    /// order); `None` when no run has both.
    pub fn scatter(&self, x: &RunField, y: &RunField) -> Option<Scatter> {
        let (xs, mut x_axis) = place(x.spec(), &self.values(x));
        let (ys, mut y_axis) = place(y.spec(), &self.values(y));
        let points: Vec<Option<(f64, f64)>> = xs
            .iter()
            .zip(&ys)
            .map(|(a, b)| Some(((*a)?, (*b)?)))
            .collect();
        if points.iter().all(Option::is_none) {
            return None;
        }
        for (field, axis) in [(x, &mut x_axis), (y, &mut y_axis)] {
            if let RunField::Metric(k) = field {
                self.metric_ends(k, axis);
            }
        }
        Some(Scatter {
            x: x_axis,
            y: y_axis,
            points,
        })
    }
}

/// A metric value in at most 12 characters, never cut and never rounded to a wrong zero.
pub fn number(v: f64) -> String {
    let plain = format!("{v:.4}");
    if v == 0.0 || (v.abs() >= 1e-3 && plain.len() <= 12) {
        plain
    } else {
        format!("{v:.4e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunStatus;

    fn run(id: &str, params: &[(&str, &str)], metrics: &[(&str, f64)]) -> Run {
        Run {
            id: id.into(),
            experiment_id: "1".into(),
            name: format!("run-{id}"),
            status: RunStatus::Finished,
            user: "dana".into(),
            start: chrono::DateTime::UNIX_EPOCH,
            end: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            datasets: Vec::new(),
            tags: BTreeMap::default(),
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
        let c = Comparison::of(&[a, b], &Directions::default());
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
    fn the_best_run_per_metric_follows_its_direction() {
        let a = run(
            "a",
            &[],
            &[("val_loss", 0.30), ("auc", 0.91), ("p99", 120.0)],
        );
        let b = run(
            "b",
            &[],
            &[("val_loss", 0.25), ("auc", 0.88), ("p99", 90.0)],
        );
        let c = Comparison::of(&[a.clone(), b.clone()], &Directions::default());
        assert_eq!(c.best["val_loss"].run_id, "b");
        assert_eq!(c.best["val_loss"].direction, Direction::Lower);
        assert_eq!(c.best["auc"].run_id, "a");
        // p99 is higher-is-better by default; the config says it is a latency.
        assert_eq!(c.best["p99"].run_id, "a");
        let mine = Directions {
            lower: vec!["P99".into()],
            higher: Vec::new(),
        };
        let c = Comparison::of(&[a, b], &mine);
        assert_eq!(c.best["p99"].run_id, "b");
        let md = c.markdown(false);
        assert!(
            md.contains("| metric | val_loss | 0.3000 | **0.2500** |"),
            "{md}"
        );
        assert!(c.json().contains("\"best\""));
        // Higher wins where both lists match.
        let both = Directions {
            lower: Vec::new(),
            higher: vec!["loss_reduction".into()],
        };
        assert_eq!(both.of("loss_reduction"), Direction::Higher);
    }

    #[test]
    fn a_value_that_is_not_finite_is_never_best() {
        let a = run("a", &[], &[("loss", f64::NAN)]);
        let b = run("b", &[], &[("loss", 0.5)]);
        let c = Comparison::of(&[a, b], &Directions::default());
        assert_eq!(c.best["loss"].run_id, "b");
    }

    #[test]
    fn a_scatter_places_each_run_by_both_values_and_skips_runs_without_one() {
        let a = run("a", &[("lr", "0.1"), ("opt", "adam")], &[("loss", 0.3)]);
        let b = run("b", &[("lr", "0.01"), ("opt", "sgd")], &[("loss", 0.5)]);
        let c = run("c", &[("lr", "0.05"), ("opt", "adam")], &[]);
        let d = run("d", &[("lr", "0.02"), ("opt", "sgd")], &[("loss", 0.4)]);
        let cmp = Comparison::of(&[a, b, c, d], &Directions::default());
        let lr = RunField::Param("lr".into());
        let loss = RunField::Metric("loss".into());
        let s = cmp.scatter(&lr, &loss).expect("points");
        assert_eq!((s.x.low.as_str(), s.x.high.as_str()), ("0.01", "0.1"));
        assert_eq!((s.y.low.as_str(), s.y.high.as_str()), ("0.3000", "0.5000"));
        assert_eq!(s.x.name, "params.lr");
        let close = |p: Option<(f64, f64)>, x: f64, y: f64| {
            let (px, py) = p.expect("a point");
            (px - x).abs() < 1e-12 && (py - y).abs() < 1e-12
        };
        assert!(close(s.points[0], 1.0, 0.0));
        assert!(close(s.points[1], 0.0, 1.0));
        assert_eq!(s.points[2], None, "c logged no loss");
        assert!(close(s.points[3], 0.01 / 0.09, 0.5));
        // A param that is not a number: by its sorted values.
        let s = cmp
            .scatter(&RunField::Param("opt".into()), &loss)
            .expect("points");
        assert_eq!((s.x.low.as_str(), s.x.high.as_str()), ("adam", "sgd"));
        assert!(close(s.points[1], 1.0, 1.0));
        assert_eq!(cmp.scatter(&lr, &RunField::Metric("auc".into())), None);
    }

    #[test]
    fn parallel_coordinates_place_each_run_on_the_differing_params_and_the_metric() {
        let a = run(
            "a",
            &[("lr", "0.1"), ("opt", "adam"), ("seed", "1")],
            &[("loss", 0.3)],
        );
        let b = run(
            "b",
            &[("lr", "0.3"), ("opt", "sgd"), ("seed", "1")],
            &[("loss", 0.5)],
        );
        let c = run("c", &[("lr", "0.2"), ("opt", "adam")], &[("loss", 0.4)]);
        let cmp = Comparison::of(&[a, b, c], &Directions::default());
        let p = cmp.parallel("loss").expect("loss is a metric");
        let names: Vec<&str> = p.axes.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["lr", "opt", "seed", "loss"]);
        // lr 0.1 / 0.3 / 0.2 → 0, 1, 0.5; opt by sorted value; seed missing on c.
        assert_eq!(p.lines[0][0], Some(0.0));
        assert_eq!(p.lines[1][0], Some(1.0));
        assert!((p.lines[2][0].expect("lr") - 0.5).abs() < 1e-12);
        assert_eq!((p.lines[0][1], p.lines[1][1]), (Some(0.0), Some(1.0)));
        assert_eq!(p.axes[1].low, "adam");
        assert_eq!(p.axes[1].high, "sgd");
        assert_eq!(p.lines[2][2], None, "c has no seed");
        assert_eq!(p.lines[0][2], Some(0.5), "one value: the middle");
        assert_eq!(p.axes[3].low, "0.3000");
        assert_eq!(
            (p.axes[0].low.as_str(), p.axes[0].high.as_str()),
            ("0.1", "0.3")
        );
        assert!(cmp.parallel("nope").is_none());
    }

    /// Finding 11 of hostile probe 2: `rows` looked each name up in the differing names with
    /// `Vec::contains`, quadratic: 2 runs of 40,000 params and metrics took 3.7 s in a release
    /// build, 20 runs of 200,000 never finished.
    #[test]
    fn many_params_and_metrics_compare_in_linear_time() {
        let n = 40_000;
        let params: Vec<(String, String)> = (0..n)
            .map(|i| (format!("p{i:06}"), i.to_string()))
            .collect();
        let metrics: Vec<(String, f64)> =
            (0..n).map(|i| (format!("m{i:06}"), f64::from(i))).collect();
        let make = |id: &str, shift: usize| {
            let mut r = run(id, &[], &[]);
            // Every other name differs between the two runs (the other half is equal).
            r.params = params
                .iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    (
                        k.clone(),
                        if i % 2 == 0 {
                            v.clone()
                        } else {
                            format!("{v}-{shift}")
                        },
                    )
                })
                .collect();
            r.metrics = metrics
                .iter()
                .enumerate()
                .map(|(i, (k, v))| (k.clone(), if i % 2 == 0 { *v } else { v + shift as f64 }))
                .collect();
            r
        };
        let runs = [make("a", 1), make("b", 2)];
        let started = std::time::Instant::now();
        let c = Comparison::of(&runs, &Directions::default());
        assert_eq!(c.differing_params.len(), n as usize / 2);
        assert_eq!(c.rows(false).len(), 2 * n as usize);
        assert_eq!(c.rows(true).len(), n as usize);
        let _ = (c.table(true), c.csv(false), c.markdown(false));
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn csv_cells_are_never_formulas_and_keep_their_line_breaks() {
        let a = run(
            "a",
            &[
                ("cmd", "=cmd|'/c calc'!A0"),
                ("note", "two\nlines"),
                ("@x", "1"),
            ],
            &[("loss", -0.5), ("+evil", 1.0)],
        );
        let b = run(
            "=b",
            &[
                ("cmd", "@SUM(A1)"),
                ("note", "one \u{1b}[31mline"),
                ("@x", "-1+1"),
            ],
            &[("loss", -0.25), ("+evil", 2.0)],
        );
        let c = Comparison::of(&[a, b], &Directions::default());
        let csv = c.csv(false);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        assert_eq!(header, ["kind", "name", "a", "'=b"]);
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.expect("record").iter().map(String::from).collect())
            .collect();
        let row = |name: &str| {
            rows.iter()
                .find(|r| r[1] == name)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(
            row("cmd"),
            ["param", "cmd", "'=cmd|'/c calc'!A0", "'@SUM(A1)"]
        );
        // A line break stays in its (quoted) cell; an escape sequence does not.
        assert_eq!(row("note"), ["param", "note", "two\nlines", "one �line"]);
        assert_eq!(row("'@x"), ["param", "'@x", "1", "'-1+1"]);
        // Negative numbers stay numbers.
        assert_eq!(row("loss"), ["metric", "loss", "-0.5000", "-0.2500"]);
        assert_eq!(row("'+evil")[0], "metric");
    }

    #[test]
    fn numbers_keep_their_meaning() {
        assert_eq!(number(0.312_345_67), "0.3123");
        assert_eq!(number(1.5e-9), "1.5000e-9");
        assert_eq!(number(0.0), "0.0000");
        assert_eq!(number(123_456_789_012.0), "1.2346e11");
    }
}
