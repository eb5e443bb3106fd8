//! A CSV file as typed columns, read from any `std::io::Read`: each column's non-missing values
//! as numbers or as counts per category, its missing cells counted, and what could not be read
//! cleanly (ragged rows, duplicate headers) kept as problems instead of being dropped silently.
//!
//! Missing cells are those pandas' `read_csv` treats as missing by default (empty, `NA`, `NaN`,
//! `null`, `None`, `N/A`, …, see [`MISSING`]), and ±∞; they are counted, never read as numbers.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read,
};

use super::column::Sample;
use crate::error::CoreError;

/// pandas' default `na_values`.
pub const MISSING: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Evidently's `INTEGER_CARDINALITY_LIMIT`: an integer column with at most this many unique
/// values is categorical.
pub const INTEGER_CATEGORIES: usize = 10;

/// One column of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct TableColumn {
    pub name: String,
    pub values: Values,
    /// Missing cells (see [`MISSING`]) and infinities.
    pub missing: usize,
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Every non-missing cell is a number. `integers`: all of them written without a fraction
    /// or exponent (pandas would read the column as integers if nothing is missing).
    Numbers { values: Vec<f64>, integers: bool },
    /// Some non-missing cell is text; `first_text` is the first one, with its line.
    Text {
        counts: BTreeMap<String, u64>,
        first_text: (u64, String),
    },
}

impl TableColumn {
    /// Non-missing cells.
    pub fn rows(&self) -> usize {
        match &self.values {
            Values::Numbers { values, .. } => values.len(),
            Values::Text { counts, .. } => counts.values().sum::<u64>() as usize,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.values, Values::Numbers { .. })
    }

    /// The column's values as numbers (when it is numeric).
    pub fn numbers(&self) -> Option<&[f64]> {
        match &self.values {
            Values::Numbers { values, .. } => Some(values),
            Values::Text { .. } => None,
        }
    }

    /// The column as categories: numbers become their labels.
    pub fn categories(&self) -> BTreeMap<String, u64> {
        match &self.values {
            Values::Numbers { values, .. } => Sample::categories_of(values),
            Values::Text { counts, .. } => counts.clone(),
        }
    }

    /// Evidently's inference: numbers are numeric, except integers with no missing cell and at
    /// most ten unique values, which are categorical; text is categorical.
    pub fn looks_categorical(&self) -> bool {
        match &self.values {
            Values::Text { .. } => true,
            Values::Numbers { values, integers } => {
                *integers
                    && self.missing == 0
                    && !values.is_empty()
                    && super::column::distinct_up_to(values.iter(), INTEGER_CATEGORIES + 1)
                        <= INTEGER_CATEGORIES
            }
        }
    }
}

/// A file read as columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file's name, for messages.
    pub name: String,
    /// Data rows read (ragged rows excluded).
    pub rows: usize,
    pub columns: Vec<TableColumn>,
    /// Problems that did not stop the reading: `FILE:LINE: …`.
    pub problems: Vec<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A column while it is read.
#[derive(Default)]
struct Builder {
    numbers: Vec<f64>,
    integers: bool,
    text: Option<(BTreeMap<String, u64>, (u64, String))>,
    missing: usize,
    as_text: bool,
}

impl Builder {
    fn push(&mut self, cell: &str, line: u64) {
        let cell = cell.trim();
        if MISSING.contains(&cell) {
            self.missing += 1;
            return;
        }
        if let Some((counts, _)) = &mut self.text {
            *counts.entry(cell.to_string()).or_insert(0) += 1;
            return;
        }
        if !self.as_text
            && let Ok(v) = cell.parse::<f64>()
        {
            if v.is_finite() {
                self.integers &= !cell.contains(['.', 'e', 'E']);
                self.numbers.push(v);
            } else {
                self.missing += 1;
            }
            return;
        }
        // The first text: the numbers so far become categories too.
        let mut counts = Sample::categories_of(&std::mem::take(&mut self.numbers));
        *counts.entry(cell.to_string()).or_insert(0) += 1;
        self.text = Some((counts, (line, cell.to_string())));
    }

    fn finish(self, name: String) -> TableColumn {
        let values = match self.text {
            Some((counts, first_text)) => Values::Text { counts, first_text },
            None => Values::Numbers {
                values: self.numbers,
                integers: self.integers,
            },
        };
        TableColumn {
            name,
            values,
            missing: self.missing,
        }
    }
}

/// Read a CSV with a header line from `input`; `name` is the file's name for messages. Columns
/// in `categorical` are read as text whatever they hold. An unreadable file is an error naming
/// the file, the line and the cause; a row with the wrong number of fields is skipped and
/// named in [`Table::problems`].
pub fn read_csv(
    input: impl Read,
    name: &str,
    categorical: &BTreeSet<String>,
) -> Result<Table, CoreError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| csv_error(name, &e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect::<Vec<_>>();
    if headers.iter().all(String::is_empty) {
        return Err(CoreError::Statistics(format!(
            "{name}: no header line (an empty file?)"
        )));
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for h in &headers {
        if !seen.insert(h.as_str()) {
            problems.push(format!(
                "{name}:1: column {h:?} appears twice; the first is used"
            ));
        }
    }
    let mut builders: Vec<Builder> = headers
        .iter()
        .map(|h| Builder {
            integers: true,
            as_text: categorical.contains(h),
            ..Builder::default()
        })
        .collect();
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(name, &e)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            problems.push(format!(
                "{name}:{line}: {} fields where the header has {}; row skipped",
                record.len(),
                headers.len()
            ));
            continue;
        }
        rows += 1;
        for (b, cell) in builders.iter_mut().zip(record.iter()) {
            b.push(cell, line);
        }
    }
    let mut columns = Vec::new();
    let mut taken = BTreeSet::new();
    for (h, b) in headers.into_iter().zip(builders) {
        if taken.insert(h.clone()) {
            columns.push(b.finish(h));
        }
    }
    Ok(Table {
        name: name.to_string(),
        rows,
        columns,
        problems,
    })
}

fn csv_error(name: &str, e: &csv::Error) -> CoreError {
    let line = e.position().map_or(0, csv::Position::line);
    let cause = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text ({err})"),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    if line > 0 {
        CoreError::Statistics(format!("{name}:{line}: cannot read CSV: {cause}"))
    } else {
        CoreError::Statistics(format!("{name}: cannot read CSV: {cause}"))
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::format_push_string)] // tests: exact expected values, small fixtures
mod tests {
    use super::*;

    fn read(text: &str) -> Table {
        read_csv(text.as_bytes(), "t.csv", &BTreeSet::new()).expect("csv")
    }

    #[test]
    fn columns_are_typed_and_missing_counted() {
        let t = read("a,b,c\n1,x,1.5\n2,,NA\n,y,2\n3,x,inf\n");
        assert_eq!(t.rows, 4);
        let a = t.column("a").expect("a");
        assert_eq!(a.numbers(), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(a.missing, 1);
        assert!(
            !a.looks_categorical(),
            "a missing cell makes pandas read floats"
        );
        let b = t.column("b").expect("b");
        assert_eq!(b.missing, 1);
        assert_eq!(b.categories().get("x"), Some(&2));
        let c = t.column("c").expect("c");
        assert_eq!((c.rows(), c.missing), (2, 2), "NA and inf are missing");
    }

    #[test]
    fn few_integers_are_categorical() {
        let t = read("k\n1\n2\n1\n3\n");
        assert!(t.column("k").expect("k").looks_categorical());
        let t = read("k\n1.0\n2\n");
        assert!(!t.column("k").expect("k").looks_categorical());
    }

    #[test]
    fn text_after_numbers_keeps_every_value() {
        let t = read("v\n1\n2\nlow\n");
        let v = t.column("v").expect("v");
        assert!(!v.is_numeric());
        assert_eq!(v.rows(), 3);
        match &v.values {
            Values::Text { first_text, .. } => assert_eq!(first_text, &(4, "low".to_string())),
            Values::Numbers { .. } => panic!("text expected"),
        }
    }

    #[test]
    fn ragged_rows_are_named_and_skipped() {
        let t = read("a,b\n1,2\n3\n4,5,6\n7,8\n");
        assert_eq!(t.rows, 2);
        assert_eq!(t.problems.len(), 2, "{:?}", t.problems);
        assert!(
            t.problems[0].starts_with("t.csv:3: 1 fields"),
            "{:?}",
            t.problems
        );
    }

    #[test]
    fn unreadable_input_names_file_and_line() {
        let bytes: &[u8] = b"a,b\n1,2\n\xff\xfe,3\n";
        let err = read_csv(bytes, "bad.csv", &BTreeSet::new()).expect_err("utf8");
        assert!(
            err.to_string()
                .starts_with("bad.csv:3: cannot read CSV: not UTF-8"),
            "{err}"
        );
        let err = read_csv(&b""[..], "empty.csv", &BTreeSet::new()).expect_err("empty");
        assert!(
            err.to_string().contains("empty.csv: no header line"),
            "{err}"
        );
    }
}
