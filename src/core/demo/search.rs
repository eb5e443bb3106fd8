//! The demo registry's runs search: the subset of MLflow's filter and order syntax a user types
//! in the Runs view (`metrics.loss < 0.3 and params.optimizer = 'adam'`, `metrics.auc DESC`),
//! evaluated over the simulated runs, one page at a time. An invalid filter is refused with a
//! message in MLflow's words, so the demo shows what a real server would.

use std::cmp::Ordering;

use crate::{
    error::CoreError,
    model::{Run, RunPage, RunQuery},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    entity: Entity,
    key: String,
    op: Op,
    value: Literal,
}

fn rejected(message: String) -> CoreError {
    CoreError::rejected("demo registry", message)
}

fn invalid(what: &str) -> CoreError {
    rejected(format!(
        "INVALID_PARAMETER_VALUE: Invalid clause(s) in filter string: {what}"
    ))
}

/// One page of the runs of `query`'s experiments that match its filter, in its order.
pub fn page(all: &[Run], query: &RunQuery, token: Option<&str>) -> Result<RunPage, CoreError> {
    if query.page_size == 0 {
        return Err(CoreError::backend(
            "demo registry",
            "runs/search: the page size must be at least 1",
        ));
    }
    let clauses = parse_filter(query.filter.as_deref().unwrap_or(""))?;
    let order = query
        .order_by
        .iter()
        .map(|o| parse_order(o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs: Vec<&Run> = all
        .iter()
        .filter(|r| query.experiment_ids.contains(&r.experiment_id))
        .filter(|r| clauses.iter().all(|c| matches(r, c)))
        .collect();
    runs.sort_by(|a, b| {
        order
            .iter()
            .map(|(entity, key, descending)| compare(a, b, *entity, key, *descending))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| b.start.cmp(&a.start))
            .then_with(|| a.id.cmp(&b.id))
    });
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| rejected(format!("INVALID_PARAMETER_VALUE: Invalid page token {t:?}")))?,
    };
    let size = usize::try_from(query.page_size).unwrap_or(usize::MAX);
    let end = start.saturating_add(size).min(runs.len());
    Ok(RunPage {
        runs: runs
            .get(start.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|r| (*r).clone())
            .collect(),
        next_page_token: (end < runs.len()).then(|| end.to_string()),
    })
}

fn entity(word: &str) -> Option<Entity> {
    match word.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Some(Entity::Metric),
        "param" | "params" | "parameter" | "parameters" => Some(Entity::Param),
        "tag" | "tags" => Some(Entity::Tag),
        "attribute" | "attributes" | "attr" | "run" => Some(Entity::Attribute),
        _ => None,
    }
}

/// `entity.key`, the key bare, in backticks or in double quotes; the rest of the text.
fn identifier(s: &str) -> Option<(Entity, String, &str)> {
    let s = s.trim_start();
    let dot = s.find('.')?;
    let e = entity(&s[..dot])?;
    let rest = &s[dot + 1..];
    let first = rest.chars().next()?;
    let (key, rest) = if first == '`' || first == '"' {
        let close = rest[1..].find(first)? + 1;
        (rest[1..close].to_string(), &rest[close + 1..])
    } else {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || "_-./".contains(c)))
            .unwrap_or(rest.len());
        (rest[..end].to_string(), &rest[end..])
    };
    (!key.is_empty()).then_some((e, key, rest))
}

fn parse_filter(filter: &str) -> Result<Vec<Clause>, CoreError> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(Vec::new());
    }
    let mut clauses = Vec::new();
    let mut rest = filter;
    loop {
        let (clause, after) = parse_clause(rest).ok_or_else(|| invalid(&format!("'{rest}'")))?;
        clauses.push(clause);
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(clauses);
        }
        let Some(next) = after
            .get(..4)
            .filter(|w| w.eq_ignore_ascii_case("and "))
            .map(|_| &after[4..])
        else {
            return Err(invalid(&format!("'{after}' (clauses are joined with AND)")));
        };
        rest = next;
    }
}

fn parse_clause(s: &str) -> Option<(Clause, &str)> {
    let (entity, key, rest) = identifier(s)?;
    let rest = rest.trim_start();
    let ops = [
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let (op, rest) = if let Some((text, op)) = ops.iter().find(|(t, _)| rest.starts_with(t)) {
        (*op, &rest[text.len()..])
    } else if rest.len() > 5 && rest[..6].eq_ignore_ascii_case("ilike ") {
        (Op::ILike, &rest[6..])
    } else if rest.len() > 4 && rest[..5].eq_ignore_ascii_case("like ") {
        (Op::Like, &rest[5..])
    } else {
        return None;
    };
    let rest = rest.trim_start();
    let first = rest.chars().next()?;
    let (value, rest) = if first == '\'' || first == '"' {
        let close = rest[1..].find(first)? + 1;
        (
            Literal::Text(rest[1..close].to_string()),
            &rest[close + 1..],
        )
    } else {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        (Literal::Number(rest[..end].parse().ok()?), &rest[end..])
    };
    // Metrics compare numbers; params and tags strings, as on the server.
    let fits = match (entity, &value, op) {
        (Entity::Metric, Literal::Number(_), Op::Like | Op::ILike) => false,
        (Entity::Metric, Literal::Number(_), _)
        | (Entity::Param | Entity::Tag, Literal::Text(_), Op::Eq | Op::Ne | Op::Like | Op::ILike)
        | (Entity::Attribute, _, _) => true,
        _ => false,
    };
    fits.then_some((
        Clause {
            entity,
            key,
            op,
            value,
        },
        rest,
    ))
}

fn attribute(r: &Run, key: &str) -> Option<Literal> {
    Some(match key {
        "status" => Literal::Text(r.status.as_str().to_string()),
        "run_name" | "name" => Literal::Text(r.name.clone()),
        "user_id" | "user" => Literal::Text(r.user.clone()),
        "run_id" | "id" => Literal::Text(r.id.clone()),
        "start_time" => Literal::Number(r.start.timestamp_millis() as f64),
        "end_time" => Literal::Number(r.end?.timestamp_millis() as f64),
        _ => return None,
    })
}

fn value_of(r: &Run, entity: Entity, key: &str) -> Option<Literal> {
    match entity {
        Entity::Metric => r.metrics.get(key).map(|v| Literal::Number(*v)),
        Entity::Param => r.params.get(key).map(|v| Literal::Text(v.clone())),
        Entity::Tag => r.tags.get(key).map(|v| Literal::Text(v.clone())),
        Entity::Attribute => attribute(r, key),
    }
}

/// SQL `LIKE`: `%` any run of characters, `_` one.
fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

fn matches(r: &Run, c: &Clause) -> bool {
    let Some(have) = value_of(r, c.entity, &c.key) else {
        return false;
    };
    match (&have, &c.value) {
        (Literal::Number(a), Literal::Number(b)) => match c.op {
            Op::Eq => a.total_cmp(b).is_eq(),
            Op::Ne => a.total_cmp(b).is_ne(),
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Like | Op::ILike => false,
        },
        (Literal::Text(a), Literal::Text(b)) => match c.op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Like => like(a, b),
            Op::ILike => like(&a.to_lowercase(), &b.to_lowercase()),
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        },
        _ => false,
    }
}

fn parse_order(o: &str) -> Result<(Entity, String, bool), CoreError> {
    let bad = || {
        rejected(format!(
            "INVALID_PARAMETER_VALUE: Invalid order_by clause '{o}'"
        ))
    };
    let (entity, key, rest) = identifier(o).ok_or_else(bad)?;
    let descending = match rest.trim().to_ascii_uppercase().as_str() {
        "" | "ASC" => false,
        "DESC" => true,
        _ => return Err(bad()),
    };
    Ok((entity, key, descending))
}

/// Runs in an order's direction; a run without the value comes last either way.
fn compare(a: &Run, b: &Run, entity: Entity, key: &str, descending: bool) -> Ordering {
    let (x, y) = (value_of(a, entity, key), value_of(b, entity, key));
    match (x, y) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let o = match (x, y) {
                (Literal::Number(x), Literal::Number(y)) => x.total_cmp(&y),
                (Literal::Text(x), Literal::Text(y)) => x.cmp(&y),
                (Literal::Number(_), Literal::Text(_)) => Ordering::Less,
                (Literal::Text(_), Literal::Number(_)) => Ordering::Greater,
            };
            if descending { o.reverse() } else { o }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::RunStatus;

    fn run(i: u32, loss: f64, optimizer: &str) -> Run {
        Run {
            id: format!("r{i:02}"),
            experiment_id: "1".into(),
            name: format!("run-{i}"),
            status: RunStatus::Finished,
            user: "ana".into(),
            start: Utc
                .timestamp_opt(1_700_000_000 + i64::from(i), 0)
                .single()
                .expect("time"),
            end: None,
            params: BTreeMap::from([("optimizer".to_string(), optimizer.to_string())]),
            metrics: BTreeMap::from([("loss".to_string(), loss)]),
            datasets: Vec::new(),
            tags: BTreeMap::new(),
        }
    }

    fn query(filter: &str, order: &[&str], size: u32) -> RunQuery {
        RunQuery {
            experiment_ids: vec!["1".into()],
            filter: Some(filter.into()),
            order_by: order.iter().map(ToString::to_string).collect(),
            page_size: size,
        }
    }

    fn all() -> Vec<Run> {
        (0..10)
            .map(|i| {
                run(
                    i,
                    f64::from(i) / 10.0,
                    if i % 2 == 0 { "adam" } else { "sgd" },
                )
            })
            .collect()
    }

    #[test]
    fn pages_follow_one_another_in_the_order_asked() {
        let runs = all();
        let q = query("", &["metrics.loss ASC"], 4);
        let first = page(&runs, &q, None).expect("page");
        assert_eq!(first.runs.len(), 4);
        assert_eq!(first.runs[0].id, "r00");
        let token = first.next_page_token.expect("page");
        let second = page(&runs, &q, Some(&token)).expect("page");
        let third = page(&runs, &q, second.next_page_token.as_deref()).expect("page");
        assert_eq!(third.runs.len(), 2);
        assert_eq!(third.next_page_token, None);
        // By default the newest first.
        let newest = page(&runs, &query("", &[], 3), None).expect("page");
        assert_eq!(newest.runs[0].id, "r09");
    }

    #[test]
    fn a_filter_keeps_the_runs_that_match_every_clause() {
        let runs = all();
        let got = page(
            &runs,
            &query(
                "metrics.loss < 0.5 AND params.optimizer = 'adam'",
                &["metrics.loss DESC"],
                100,
            ),
            None,
        )
        .expect("page");
        let ids: Vec<&str> = got.runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["r04", "r02", "r00"]);
        let like = page(
            &runs,
            &query("params.`optimizer` LIKE 's%'", &[], 100),
            None,
        )
        .expect("page");
        assert_eq!(like.runs.len(), 5);
        let name = page(
            &runs,
            &query("attributes.run_name = 'run-3'", &[], 100),
            None,
        )
        .expect("page");
        assert_eq!(name.runs.len(), 1);
    }

    #[test]
    fn an_invalid_filter_or_order_is_refused_in_the_servers_words() {
        let runs = all();
        for bad in [
            "metrics.loss <<< 1",
            "loss < 1",
            "metrics.loss < 1 or params.optimizer = 'adam'",
            "params.optimizer = adam",
            "metrics.loss = 'x'",
        ] {
            let e = page(&runs, &query(bad, &[], 10), None).expect_err("refused");
            assert!(e.to_string().contains("Invalid clause"), "{bad}: {e}");
        }
        let e = page(&runs, &query("", &["metrics.loss sideways"], 10), None).expect_err("refused");
        assert!(e.to_string().contains("Invalid order_by"), "{e}");
        let e = page(&runs, &query("", &[], 10), Some("x")).expect_err("refused");
        assert!(e.to_string().contains("page token"), "{e}");
    }
}
