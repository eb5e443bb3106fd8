//! Columns of a list, as data: what each one holds (for sorting and field filters), the key that
//! sorts by it, and how much it matters when the terminal is narrow. The views draw the cells;
//! `ui::table::fit_columns` drops the least important columns first; `memo` filters and sorts
//! by them.

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
/// compare as numbers). The text is made safe for a terminal here, once per row, for every
/// table the console and the CLI draw: a name from a server that carries escape sequences or
/// bidi controls shows `�` where each was.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub number: Option<f64>,
}

impl Value {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: safe(text.into()),
            number: None,
        }
    }

    /// A time: sorts by when, reads `2026-11-30 16:03`.
    pub fn time(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self::number(t.timestamp() as f64, t.format("%Y-%m-%d %H:%M").to_string())
    }

    pub fn number(number: f64, text: impl Into<String>) -> Self {
        Self {
            text: safe(text.into()),
            number: Some(number).filter(|n| !n.is_nan()),
        }
    }
}

/// `text` as one terminal line, reusing it when it is already clean (nearly always).
fn safe(text: String) -> String {
    match mlops_core::text::line(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
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

/// The `TIME (UTC)` column of a log (audit entries, a timeline): `11-28 08:59:20`, sorted by
/// when (`T`), kept at 80 columns, since when it happened is what a log is read for.
pub fn time_column<T: 'static>(time: fn(&T) -> chrono::DateTime<chrono::Utc>) -> Column<T> {
    Column {
        field: "time",
        header: "TIME (UTC)",
        sort_key: Some('T'),
        priority: 0,
        width: Width::Fixed(14),
        right: false,
        elide: Elide::Middle,
        value: Box::new(move |e| {
            let t = time(e);
            Value::number(t.timestamp() as f64, t.format("%m-%d %H:%M:%S").to_string())
        }),
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub field: &'static str,
    pub descending: bool,
}
