//! Columns of a list, as data: what each one holds (for sorting and field filters), the key that
//! sorts by it, and how much it matters when the terminal is narrow. The views draw the cells;
//! `ui::widgets::fit_columns` drops the least important columns first.

use std::cmp::Ordering;

use super::filter::{Fields, Filter};

/// How a column takes width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Exactly this many cells.
    Fixed(u16),
    /// At least `min`, growing into what is left (up to `max` when it is not 0).
    Flex { min: u16, max: u16 },
}

impl Width {
    pub fn min(self) -> u16 {
        match self {
            Width::Fixed(n) => n,
            Width::Flex { min, .. } => min,
        }
    }
}

/// One column's value in a row: its text, and its number when it is one (numbers sort and
/// compare as numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub number: Option<f64>,
}

impl Value {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            number: None,
        }
    }

    /// A time: sorts by when, reads `2026-11-30 16:03`.
    pub fn time(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self::number(t.timestamp() as f64, t.format("%Y-%m-%d %H:%M").to_string())
    }

    pub fn number(number: f64, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            number: Some(number).filter(|n| !n.is_nan()),
        }
    }
}

/// A column of a list of `T`.
pub struct Column<T> {
    /// The field name filters use (`phase:Failed`) and the views match on.
    pub field: &'static str,
    pub header: &'static str,
    /// `shift` + this letter sorts by the column.
    pub sort_key: Option<char>,
    /// 0: always shown; the highest numbers are dropped first when the terminal is narrow.
    pub priority: u8,
    pub width: Width,
    /// Numbers are right-aligned.
    pub right: bool,
    /// Where a text too long for the column is cut.
    pub elide: Elide,
    /// What the column holds in a row. The shipped columns are plain functions (a `Box` of one
    /// does not allocate); a column the user chose (a run's metric) holds its name.
    pub value: Box<dyn Fn(&T) -> Value>,
}

/// `name` as a `&'static str`, kept once for the life of the process: the columns a user
/// chooses (metric and param names) are named like the shipped ones, so sorting and field
/// filters treat both alike. Each distinct name is kept once, so the memory is bounded by the
/// names the user has seen, not by how often a list is drawn.
pub fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(n) = names.get(name) {
        return n;
    }
    let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(kept);
    kept
}

/// Where a text too long for its column loses characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elide {
    /// In the middle, keeping more of the end: names (`ua…-gpu-2`), where the end differs.
    Middle,
    /// At the end: prose (messages, comments).
    End,
}

/// A list's order: by one column, ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: &'static str,
    pub descending: bool,
}

/// A row with the columns that describe it, as the filter sees it.
pub struct Described<'a, T> {
    pub item: &'a T,
    pub columns: &'a [Column<T>],
}

impl<T> Fields for Described<'_, T> {
    fn texts(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| (c.value)(self.item).text)
            .collect()
    }

    fn field(&self, name: &str) -> Option<(String, Option<f64>)> {
        self.columns
            .iter()
            .find(|c| c.field.eq_ignore_ascii_case(name))
            .map(|c| {
                let v = (c.value)(self.item);
                (v.text, v.number)
            })
    }
}

/// The field names of `columns`, for the filter's error messages.
pub fn field_names<T>(columns: &[Column<T>]) -> Vec<&'static str> {
    columns.iter().map(|c| c.field).collect()
}

/// Keep the items `filter` (the screen's text) passes, in `sort`'s order (stable: ties keep the
/// list's own order). Also says what was wrong with the filter.
pub fn filter_and_sort<'a, T>(
    items: impl IntoIterator<Item = &'a T>,
    columns: &[Column<T>],
    filter: &str,
    sort: Option<Sort>,
    extra: &[&str],
) -> (Vec<&'a T>, Vec<String>) {
    let mut names = field_names(columns);
    names.extend_from_slice(extra);
    let parsed = Filter::parse(filter, &names);
    let mut v: Vec<&T> = items
        .into_iter()
        .filter(|item| {
            parsed.matches(&Described {
                item: *item,
                columns,
            })
        })
        .collect();
    if let Some(sort) = sort
        && let Some(col) = columns.iter().find(|c| c.field == sort.field)
    {
        v.sort_by(|a, b| {
            let (x, y) = ((col.value)(a), (col.value)(b));
            let o = match (x.number, y.number) {
                (Some(p), Some(q)) => p.total_cmp(&q),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => x.text.to_lowercase().cmp(&y.text.to_lowercase()),
            };
            if sort.descending { o.reverse() } else { o }
        });
    }
    (v, parsed.problems)
}

/// The column `shift`+`key` sorts by, if any.
pub fn column_for_key<T>(columns: &[Column<T>], key: char) -> Option<&Column<T>> {
    columns
        .iter()
        .find(|c| c.sort_key.is_some_and(|k| k.eq_ignore_ascii_case(&key)))
}
