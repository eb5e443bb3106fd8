//! The `/` filter, as k9s users type it: every term must match. A term is a word (a
//! case-insensitive substring of any column), `!word` (no column contains it), `/regex/` (a
//! regular expression, case-insensitive, over any column; `!/regex/` inverts), or a field term on
//! one column — `phase:Failed`, `cluster:uae-prod` (substring), `accuracy>0.9`, `psi>=0.1`,
//! `weight<50`, `version=3` (numbers compared as numbers). A term that cannot be parsed (a bad
//! regex, an unknown field) is reported, and the list is not filtered by it.

use regex::{Regex, RegexBuilder};

/// Longest filter text kept (a paste of a novel is cut here).
pub const MAX_FILTER: usize = 256;

#[derive(Debug, Clone)]
enum Test {
    Word(String),
    Regex(Regex),
    Field {
        field: String,
        op: Op,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Contains,
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Term {
    negate: bool,
    test: Test,
}

/// A row's field by name: its text and, for a number, its value.
pub type FieldOf<'a> = dyn Fn(&str) -> Option<(String, Option<f64>)> + 'a;

/// A parsed filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    terms: Vec<Term>,
    /// What could not be parsed, in words (shown under the list).
    pub problems: Vec<String>,
}

/// A row as the filter sees it: its columns' texts by field name, and numbers where a column
/// has one.
pub trait Fields {
    /// Every column's text, for words and regular expressions.
    fn texts(&self) -> Vec<String>;
    /// One column by its field name: its text and, for a number, its value.
    fn field(&self, name: &str) -> Option<(String, Option<f64>)>;
}

/// The `/` filter of a screen: the text as typed, and the filter parsed from it (its regular
/// expressions compiled) once, when the text changes.
#[derive(Debug, Clone, Default)]
pub struct FilterText {
    text: String,
    parsed: std::sync::Arc<Filter>,
}

impl FilterText {
    pub fn new(text: impl Into<String>) -> Self {
        let text: String = text.into().chars().take(MAX_FILTER).collect();
        let parsed = std::sync::Arc::new(Filter::parse(&text));
        Self { text, parsed }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn parsed(&self) -> &Filter {
        &self.parsed
    }
}

impl PartialEq for FilterText {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for FilterText {}

impl std::fmt::Display for FilterText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Filter {
    /// Parse the filter text. Field terms are checked against a list's fields by `problems`
    /// and `applicable`, so the same parse serves every list.
    pub fn parse(text: &str) -> Self {
        let mut filter = Filter::default();
        for raw in split_terms(text) {
            let (negate, body) = match raw.strip_prefix('!') {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, raw.as_str()),
            };
            let test = if body.len() >= 2 && body.starts_with('/') && body.ends_with('/') {
                match RegexBuilder::new(&body[1..body.len() - 1])
                    .case_insensitive(true)
                    // A row's cells are searched as lines of one text: `^` and `$` anchor at
                    // each cell, and `.` does not run from one cell into the next.
                    .multi_line(true)
                    .size_limit(1 << 20)
                    .build()
                {
                    Ok(re) => Test::Regex(re),
                    Err(e) => {
                        filter
                            .problems
                            .push(format!("{body} is not a regular expression: {e}"));
                        continue;
                    }
                }
            } else if let Some((field, op, value)) = field_term(body) {
                Test::Field {
                    field: field.to_ascii_lowercase(),
                    op,
                    value: value.to_string(),
                }
            } else {
                Test::Word(body.to_ascii_lowercase())
            };
            filter.terms.push(Term { negate, test });
        }
        filter
    }

    /// What could not be made sense of, for a list whose fields are `fields`: terms that did
    /// not parse, and field terms naming no field of the list.
    pub fn problems(&self, fields: &[&str]) -> Vec<String> {
        let mut out = self.problems.clone();
        for t in &self.terms {
            if let Test::Field { field, .. } = &t.test
                && !fields.iter().any(|f| f.eq_ignore_ascii_case(field))
            {
                // The fields by name; the headers they are also known by are on screen.
                let named: Vec<&str> = fields.iter().copied().filter(|f| !is_header(f)).collect();
                out.push(format!(
                    "{field:?} is not a column here; filter on a column's header or on: {}",
                    named.join(", ")
                ));
            }
        }
        out
    }

    /// The terms that apply to a list whose fields are `fields`: a field term naming another
    /// field is reported (`problems`), and the list is not filtered by it.
    #[must_use]
    pub fn applicable(&self, fields: &[&str]) -> Filter {
        Filter {
            terms: self
                .terms
                .iter()
                .filter(|t| match &t.test {
                    Test::Field { field, .. } => {
                        fields.iter().any(|f| f.eq_ignore_ascii_case(field))
                    }
                    _ => true,
                })
                .cloned()
                .collect(),
            problems: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether any term searches a row's whole text (words and regular expressions).
    pub fn needs_text(&self) -> bool {
        self.terms
            .iter()
            .any(|t| matches!(t.test, Test::Word(_) | Test::Regex(_)))
    }

    /// Whether `row` passes every term.
    pub fn matches(&self, row: &impl Fields) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let mut text = row.texts().join("\n");
        text.make_ascii_lowercase();
        self.matches_row(&text, &|name| row.field(name))
    }

    /// Whether a row passes every term, given its cells' texts joined by newlines and
    /// lowercased (`text`) and its fields by name (a text and, for a number, its value).
    pub fn matches_row(&self, text: &str, field: &FieldOf<'_>) -> bool {
        self.terms.iter().all(|t| {
            let hit = match &t.test {
                Test::Word(w) => text.contains(w.as_str()),
                Test::Regex(re) => re.is_match(text),
                Test::Field {
                    field: name,
                    op,
                    value,
                } => field(name).is_some_and(|(text, number)| compare(&text, number, *op, value)),
            };
            hit != t.negate
        })
    }
}

/// Whether a name a list accepts is a column's header (`ACCURACY`, `STATE`), accepted as well
/// as the field it shows (`metrics.accuracy`, `state`).
pub fn is_header(name: &str) -> bool {
    !name.chars().any(|c| c.is_ascii_lowercase())
}

/// The names a filter may use for `columns`: each column's field, then its header where that
/// reads differently and could be typed as a field (`ACCURACY` for `metrics.accuracy`).
pub fn names_of<T>(
    columns: &[super::table::Column<T>],
    extra: &[&'static str],
) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = columns.iter().map(|c| c.field).collect();
    names.extend_from_slice(extra);
    for c in columns {
        let typable = c
            .header
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'));
        if typable && !c.header.eq_ignore_ascii_case(c.field) && is_header(c.header) {
            names.push(c.header);
        }
    }
    names
}

/// Words split on spaces, except inside `/…/`.
fn split_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut in_regex = false;
    for c in text.chars().take(MAX_FILTER) {
        if c == '/' && (current.is_empty() || current == "!") {
            in_regex = true;
        } else if c == '/' && in_regex {
            in_regex = false;
        }
        if c.is_whitespace() && !in_regex {
            if !current.is_empty() {
                terms.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
}

/// `name:value`, `name=value`, `name>value` … with a field-like name.
fn field_term(body: &str) -> Option<(&str, Op, &str)> {
    let at = body.find([':', '=', '<', '>'])?;
    let (name, rest) = body.split_at(at);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return None;
    }
    let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
        (Op::Eq, v)
    } else {
        (Op::Contains, &rest[1..])
    };
    (!value.is_empty()).then_some((name, op, value))
}

/// Whether a row's value (`text`, and `number` when it is one) passes `op value`. Against a
/// number, a value that is not one (a missing metric shown as `—`, an empty cell) fails every
/// comparison: `accuracy>0.99`, `accuracy<0.1` and `accuracy=0.5` all leave out a run without
/// the metric (it was compared as the text `—`, which sorts after every digit); `!accuracy>0.99`
/// keeps it.
fn compare(text: &str, number: Option<f64>, op: Op, value: &str) -> bool {
    let wanted: Option<f64> = value.trim_end_matches('%').parse().ok();
    // A number written as text (a param's `256`, a `12%`) is still a number.
    let number = number.or_else(|| {
        wanted?;
        text.trim()
            .trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .filter(|n| !n.is_nan())
    });
    match (op, number, wanted) {
        (Op::Contains, _, _) => contains_ci(text, value),
        (Op::Eq, Some(n), Some(w)) => (n - w).abs() <= f64::EPSILON * n.abs().max(1.0),
        (Op::Gt, Some(n), Some(w)) => n > w,
        (Op::Ge, Some(n), Some(w)) => n >= w,
        (Op::Lt, Some(n), Some(w)) => n < w,
        (Op::Le, Some(n), Some(w)) => n <= w,
        // A number wanted, none here: missing, or not a number.
        (_, None, Some(_)) => false,
        (Op::Eq, _, _) => text.eq_ignore_ascii_case(value),
        // Not numbers: order as text.
        (Op::Gt, _, _) => text.to_ascii_lowercase() > value.to_ascii_lowercase(),
        (Op::Ge, _, _) => text.to_ascii_lowercase() >= value.to_ascii_lowercase(),
        (Op::Lt, _, _) => text.to_ascii_lowercase() < value.to_ascii_lowercase(),
        (Op::Le, _, _) => text.to_ascii_lowercase() <= value.to_ascii_lowercase(),
    }
}

/// Case-insensitive substring (ASCII case; other characters byte-wise).
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The plain word filter: every whitespace-separated word of `filter` in one of `fields`.
pub fn matches(filter: &str, fields: &[&str]) -> bool {
    filter
        .split_whitespace()
        .all(|word| fields.iter().any(|f| contains_ci(f, word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(Vec<(&'static str, String, Option<f64>)>);

    impl Fields for R {
        fn texts(&self) -> Vec<String> {
            self.0.iter().map(|(_, t, _)| t.clone()).collect()
        }
        fn field(&self, name: &str) -> Option<(String, Option<f64>)> {
            self.0
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, t, v)| (t.clone(), *v))
        }
    }

    fn row(name: &str, phase: &str, weight: f64) -> R {
        R(vec![
            ("name", name.into(), None),
            ("phase", phase.into(), None),
            ("weight", format!("{weight}%"), Some(weight)),
        ])
    }

    const FIELDS: [&str; 3] = ["name", "phase", "weight"];

    #[test]
    fn filter_words_all_match_case_insensitively() {
        assert!(matches("", &["x"]));
        assert!(matches("FRAUD uae", &["fraud-detector-v7", "uae-prod"]));
        assert!(!matches("fraud eu", &["fraud-detector-v7", "uae-prod"]));
        assert!(
            matches("ü", &["Über-ü"]),
            "non-ASCII still matches byte-wise"
        );
    }

    #[test]
    fn words_inversion_regex_and_fields() {
        let failed = row("fraud-detector-v7", "Failed", 0.0);
        let going = row("churn-model-v4", "Progressing", 50.0);
        let f = |t: &str| Filter::parse(t).applicable(&FIELDS);
        assert!(f("fraud").matches(&failed) && !f("fraud").matches(&going));
        assert!(f("!fraud").matches(&going) && !f("!fraud").matches(&failed));
        assert!(f("/^churn.*v4$/").matches(&going) && !f("/^churn/").matches(&failed));
        assert!(f("!/^churn/").matches(&failed));
        assert!(f("phase:failed").matches(&failed) && !f("phase:failed").matches(&going));
        assert!(f("weight>=50").matches(&going) && !f("weight>=50").matches(&failed));
        assert!(f("weight<10 phase:fail").matches(&failed));
        assert!(f("weight=50").matches(&going));
    }

    #[test]
    fn bad_terms_are_reported_not_applied() {
        let parsed = Filter::parse("/[unclosed/ colour:red fraud");
        let problems = parsed.problems(&FIELDS);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("not a regular expression"));
        assert!(problems[1].contains("\"colour\" is not a column here"));
        let f = parsed.applicable(&FIELDS);
        assert!(
            f.matches(&row("fraud", "x", 1.0)),
            "the good term still applies"
        );
        assert!(!f.matches(&row("churn", "x", 1.0)), "and still filters");
    }

    #[test]
    fn a_missing_value_fails_every_comparison_with_a_number() {
        let missing = R(vec![("accuracy", "—".into(), None)]);
        let empty = R(vec![("accuracy", String::new(), None)]);
        let there = R(vec![("accuracy", "0.95".into(), Some(0.95))]);
        let as_text = R(vec![("batch", "64".into(), None)]);
        let f = |t: &str| Filter::parse(t).applicable(&["accuracy", "batch"]);
        for term in [
            "accuracy>0.9",
            "accuracy<0.1",
            "accuracy>=0",
            "accuracy<=1",
            "accuracy=0",
        ] {
            assert!(!f(term).matches(&missing), "{term} matched a missing value");
            assert!(!f(term).matches(&empty), "{term} matched an empty cell");
        }
        assert!(f("accuracy>0.9").matches(&there) && !f("accuracy<0.1").matches(&there));
        // A number written as text compares as a number (as text, 64 > 128).
        assert!(!f("batch>128").matches(&as_text) && f("batch<128").matches(&as_text));
        assert!(
            f("!accuracy>0.9").matches(&missing),
            "the negation keeps it"
        );
    }

    #[test]
    fn a_regex_may_hold_spaces() {
        let f = Filter::parse("/churn model/");
        assert!(f.problems(&FIELDS).is_empty());
        assert!(f.matches(&row("a churn model", "x", 1.0)));
    }
}
