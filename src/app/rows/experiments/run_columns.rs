//! The Runs table's columns: the run's name, status, start and user, then the metrics and
//! params the user chose (`o`, or `[experiments] run_columns` in config.toml). Without a choice
//! the table shows the metrics of the first page and the params that differ between its runs,
//! as many as the terminal fits. Every column sorts on the server (`shift` + its letter), so the
//! order holds across pages not loaded yet.

use std::collections::{BTreeMap, BTreeSet};

use mlops_core::model::{Run, RunField};

use crate::app::rows::table::{Column, Elide, Value, Width, intern};
use crate::app::{
    keymap::{Key, Lookup},
    screens::{Screen, ScreenKind},
    state::App,
};

/// How many metrics, and how many differing params, the table shows when none were chosen.
const DERIVED_EACH: usize = 6;
/// How many runs the columns are worked out from when none were chosen: the first page, so
/// the columns stay put while later pages load.
const DERIVED_FROM: usize = 100;

/// A run's value in a chosen column.
fn value(field: &RunField, run: &Run) -> Value {
    match field {
        RunField::Metric(k) => match run.metrics.get(k) {
            Some(v) => Value::number(*v, mlops_core::compare::number(*v)),
            None => Value::text("—"),
        },
        RunField::Param(k) => {
            let text = run.params.get(k).cloned().unwrap_or_else(|| "—".into());
            match text.parse::<f64>() {
                Ok(n) => Value::number(n, text),
                Err(_) => Value::text(text),
            }
        }
    }
}

/// Every metric and param the loaded runs have, metrics first, each sorted by name: what the
/// column chooser offers.
pub fn available(runs: &[&Run]) -> Vec<RunField> {
    let metrics: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    let params: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    metrics
        .into_iter()
        .map(|k| RunField::Metric(k.clone()))
        .chain(params.into_iter().map(|k| RunField::Param(k.clone())))
        .collect()
}

/// The columns when none were chosen: the metrics of the first page, then the params whose
/// values differ between its runs (a param every run has alike says nothing in a column).
fn derived(runs: &[&Run]) -> Vec<RunField> {
    let first = &runs[..runs.len().min(DERIVED_FROM)];
    let metrics: BTreeSet<&String> = first.iter().flat_map(|r| r.metrics.keys()).collect();
    let mut values: BTreeMap<&String, BTreeSet<Option<&String>>> = BTreeMap::new();
    for k in first.iter().flat_map(|r| r.params.keys()) {
        values.entry(k).or_default();
    }
    for (k, seen) in &mut values {
        seen.extend(first.iter().map(|r| r.params.get(*k)));
    }
    metrics
        .into_iter()
        .take(DERIVED_EACH)
        .map(|k| RunField::Metric(k.clone()))
        .chain(
            values
                .into_iter()
                .filter(|(_, seen)| seen.len() > 1)
                .take(DERIVED_EACH)
                .map(|(k, _)| RunField::Param(k.clone())),
        )
        .collect()
}

/// The metrics and params the Runs `screen` shows as columns: the user's choice for its
/// experiment (`o`), else `[experiments] run_columns`, else worked out from its first page.
pub fn chosen(app: &App, screen: &Screen) -> Vec<RunField> {
    let ScreenKind::Runs { experiment_id, .. } = &screen.kind else {
        return Vec::new();
    };
    if let Some(c) = app.runs.columns.get(experiment_id) {
        return c.clone();
    }
    if !app.prefs.default_run_columns.is_empty() {
        return app.prefs.default_run_columns.clone();
    }
    derived(&super::loaded_runs_of(app, screen))
}

/// The columns of the Runs `screen`.
pub fn columns(app: &App, screen: &Screen) -> Vec<Column<Run>> {
    let bound = |c: char| {
        Key::parse(&c.to_string())
            .is_ok_and(|k| !matches!(app.prefs.keymap.lookup("experiments", &[k]), Lookup::None))
    };
    of(&chosen(app, screen), &bound)
}

/// The columns for `chosen`, each with a sort letter no other column and no key `bound` in the
/// view takes: the first free letter of its name.
pub fn of(chosen: &[RunField], bound: &dyn Fn(char) -> bool) -> Vec<Column<Run>> {
    let mut cols = fixed();
    let mut taken: BTreeSet<char> = cols.iter().filter_map(|c| c.sort_key).collect();
    for (i, rc) in chosen.iter().enumerate() {
        let sort_key = rc
            .key()
            .chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_uppercase())
            .find(|c| !taken.contains(c) && !bound(*c));
        taken.extend(sort_key);
        let header = rc.key().to_uppercase();
        let width = u16::try_from(header.chars().count())
            .unwrap_or(u16::MAX)
            .clamp(6, 14);
        let metric = matches!(rc, RunField::Metric(_));
        let owned = rc.clone();
        cols.insert(
            2 + i,
            Column {
                field: intern(&rc.spec()),
                header: intern(&header),
                sort_key,
                // Metrics matter more than params; the later of each go first when narrow.
                priority: if metric { 2 } else { 4 },
                width: Width::Fixed(if metric { width.max(8) } else { width }),
                right: metric,
                elide: Elide::Middle,
                value: Box::new(move |r| value(&owned, r)),
            },
        );
    }
    cols
}

/// The columns every Runs table has: the name and status first, the user and start last (the
/// chosen ones go between).
fn fixed() -> Vec<Column<Run>> {
    vec![
        Column {
            field: "name",
            header: "RUN",
            sort_key: Some('N'),
            priority: 0,
            width: Width::Flex { min: 14, max: 0 },
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| Value::text(r.name.clone())),
        },
        Column {
            field: "status",
            header: "STATUS",
            sort_key: Some('T'),
            priority: 1,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| Value::text(r.status.as_str())),
        },
        Column {
            field: "user",
            header: "USER",
            sort_key: Some('U'),
            priority: 5,
            width: Width::Fixed(8),
            right: false,
            elide: Elide::Middle,
            value: Box::new(|r| Value::text(r.user.clone())),
        },
        Column {
            field: "started",
            header: "STARTED",
            sort_key: Some('S'),
            priority: 3,
            width: Width::Fixed(5),
            right: true,
            elide: Elide::Middle,
            value: Box::new(|r| Value::time(r.start)),
        },
    ]
}

/// The key MLflow orders runs by for a field of the Runs table: the view sorts on the server,
/// so the order holds across pages not yet loaded.
pub fn run_order(field: &str) -> Option<String> {
    Some(match field {
        "name" => "attributes.run_name".into(),
        "status" => "attributes.status".into(),
        "user" => "attributes.user_id".into(),
        "started" => "attributes.start_time".into(),
        other => RunField::parse(other).ok()?.order_key(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_order_on_the_server_by_mlflow_names() {
        assert_eq!(
            run_order("params.optimizer").as_deref(),
            Some("params.`optimizer`")
        );
        assert_eq!(
            run_order("started").as_deref(),
            Some("attributes.start_time")
        );
        assert_eq!(run_order("nonsense"), None);
    }

    #[test]
    fn sort_letters_are_distinct_and_skip_bound_keys() {
        let chosen = [
            RunField::Metric("accuracy".into()),
            RunField::Metric("auc".into()),
            RunField::Metric("mse".into()),
            RunField::Param("num".into()),
        ];
        // M is bound (clear_marks in the shipped keymap).
        let cols = of(&chosen, &|c| c == 'M');
        let letters: Vec<(&str, Option<char>)> =
            cols.iter().map(|c| (c.field, c.sort_key)).collect();
        assert_eq!(
            letters,
            [
                ("name", Some('N')),
                ("status", Some('T')),
                ("metrics.accuracy", Some('A')),
                ("metrics.auc", Some('C')),
                ("metrics.mse", Some('E')),
                ("params.num", None),
                ("user", Some('U')),
                ("started", Some('S')),
            ]
        );
    }
}
