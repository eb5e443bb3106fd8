//! A CSV file as typed columns, read from any `std::io::Read`: each column's non-missing values
//! as numbers or as counts per category, its missing cells counted, and what could not be read
//! cleanly (ragged rows, duplicate headers) kept as problems instead of being dropped silently.
//!
//! Missing cells are those pandas' `read_csv` treats as missing by default (empty, `NA`, `NaN`,
//! `null`, `None`, `N/A`, …, see [`MISSING`]), and ±∞; they are counted, never read as numbers.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
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

/// The most bytes of one field: a 2 GiB line is refused after its first MiB, not read whole.
pub const MAX_FIELD_BYTES: usize = 1024 * 1024;

/// The most bytes of one record (a header of a million columns is about 8 MB).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Problems kept per file; the rest are counted ("… and 99,998 more").
pub const MAX_PROBLEMS: usize = 20;

/// The most characters of a cell echoed in a message.
pub const MAX_ECHO_CHARS: usize = 60;

/// A file read as columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file's name, for messages.
    pub name: String,
    /// Data rows read (ragged rows excluded).
    pub rows: usize,
    pub columns: Vec<TableColumn>,
    /// Problems that did not stop the reading: `FILE:LINE: …`, at most [`MAX_PROBLEMS`] and
    /// then one line that counts the rest.
    pub problems: Vec<String>,
    /// Each column's place in `columns`, by name.
    index: HashMap<String, usize>,
}

impl Table {
    /// The column named `name` (a hash lookup: a file of 100,000 columns is compared in
    /// linear time).
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.index.get(name).map(|&i| &self.columns[i])
    }
}

/// Problems of one file, the first [`MAX_PROBLEMS`] kept and the rest counted.
#[derive(Debug, Default)]
pub struct Problems {
    kept: Vec<String>,
    more: u64,
}

impl Problems {
    pub fn push(&mut self, problem: impl FnOnce() -> String) {
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(problem());
        } else {
            self.more += 1;
        }
    }

    /// The problems, with "… and N more" last when some were only counted.
    pub fn finish(mut self, name: &str) -> Vec<String> {
        if self.more > 0 {
            self.kept.push(format!(
                "{name}: … and {} more problems like these",
                crate::text::thousands(self.more)
            ));
        }
        self.kept
    }
}

/// `cell` as a message shows it: quoted, cut at [`MAX_ECHO_CHARS`] with `…`.
pub fn echo(cell: &str) -> String {
    format!("{:?}", crate::text::truncate(cell, MAX_ECHO_CHARS))
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
        self.text = Some((
            counts,
            (
                line,
                crate::text::truncate(cell, MAX_ECHO_CHARS).into_owned(),
            ),
        ));
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
        .from_reader(Guard::new(input, name));
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
    let mut problems = Problems::default();
    let mut seen = BTreeSet::new();
    for h in &headers {
        if !seen.insert(h.as_str()) {
            problems.push(|| {
                format!(
                    "{name}:1: column {} appears twice; the first is used",
                    echo(h)
                )
            });
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
            problems.push(|| {
                format!(
                    "{name}:{line}: {} fields where the header has {}; row skipped",
                    record.len(),
                    headers.len()
                )
            });
            continue;
        }
        rows += 1;
        for (b, cell) in builders.iter_mut().zip(record.iter()) {
            b.push(cell, line);
        }
    }
    let mut columns = Vec::new();
    let mut index = HashMap::new();
    for (h, b) in headers.into_iter().zip(builders) {
        if !index.contains_key(&h) {
            index.insert(h.clone(), columns.len());
            columns.push(b.finish(h));
        }
    }
    Ok(Table {
        name: name.to_string(),
        rows,
        columns,
        problems: problems.finish(name),
        index,
    })
}

/// Where the CSV being read is, byte by byte, as the `csv` crate's reader sees it (RFC 4180:
/// `,` between fields, `"` quotes, `""` a quote inside quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// The input as the CSV reader gets it, with the file's bounds kept on the way: no field over
/// [`MAX_FIELD_BYTES`], no record over [`MAX_RECORD_BYTES`], and a quoted field still open at
/// the end of the file is an error naming the line it opened on (the `csv` crate would take
/// the rest of the file as that one cell, silently).
struct Guard<R> {
    inner: R,
    name: String,
    at: At,
    /// The line being read (1-based), the one the open quote began on, and the record's first.
    line: u64,
    quote_line: u64,
    record_line: u64,
    field_bytes: usize,
    record_bytes: usize,
    /// Whether the last byte read was a line break (the line count then ran one ahead).
    after_newline: bool,
}

/// A bound the [`Guard`] found broken: its message is the whole error.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl<R: Read> Guard<R> {
    fn new(inner: R, name: &str) -> Self {
        Self {
            inner,
            name: name.to_string(),
            at: At::FieldStart,
            line: 1,
            quote_line: 1,
            record_line: 1,
            field_bytes: 0,
            record_bytes: 0,
            after_newline: false,
        }
    }

    fn refuse(what: String) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, Refused(what))
    }

    /// Follow `bytes`; an error when a bound is broken.
    fn follow(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(&last) = bytes.last() {
            self.after_newline = last == b'\n';
        }
        for &b in bytes {
            let newline = b == b'\n' || b == b'\r';
            self.at = match (self.at, b) {
                (At::Quoted, b'"') => At::QuoteInQuoted,
                (At::Quoted, _) | (At::QuoteInQuoted, b'"') => At::Quoted,
                (At::FieldStart, b'"') => {
                    self.quote_line = self.line;
                    At::Quoted
                }
                (_, b',') => {
                    self.field_bytes = 0;
                    At::FieldStart
                }
                (_, _) if newline => {
                    self.field_bytes = 0;
                    self.record_bytes = 0;
                    self.record_line = self.line + u64::from(b == b'\n');
                    At::FieldStart
                }
                _ => At::Unquoted,
            };
            if b == b'\n' {
                self.line += 1;
            }
            if self.at != At::FieldStart {
                self.field_bytes += 1;
                self.record_bytes += 1;
            }
            if self.field_bytes > MAX_FIELD_BYTES {
                return Err(Self::refuse(if self.at == At::Quoted {
                    format!(
                        "{}:{}: a quoted field opens here and runs on for more than {} MiB \
                         ({} lines so far); a stray `\"`?",
                        self.name,
                        self.quote_line,
                        MAX_FIELD_BYTES >> 20,
                        crate::text::thousands(self.line - self.quote_line + 1)
                    )
                } else {
                    format!(
                        "{}:{}: a field longer than {} MiB; is this a CSV file?",
                        self.name,
                        self.line,
                        MAX_FIELD_BYTES >> 20
                    )
                }));
            }
            if self.record_bytes > MAX_RECORD_BYTES {
                return Err(Self::refuse(format!(
                    "{}:{}: a row longer than {} MiB; is this a CSV file?",
                    self.name,
                    self.record_line,
                    MAX_RECORD_BYTES >> 20
                )));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.at == At::Quoted {
            return Err(Self::refuse(format!(
                "{}:{}: a quoted field opens here and runs to the end of the file ({} lines \
                 as one cell); a stray `\"`?",
                self.name,
                self.quote_line,
                crate::text::thousands(
                    (self.line - u64::from(self.after_newline)).saturating_sub(self.quote_line) + 1
                )
            )));
        }
        self.follow(&buf[..n])?;
        Ok(n)
    }
}

fn csv_error(name: &str, e: &csv::Error) -> CoreError {
    let line = e.position().map_or(0, csv::Position::line);
    if let csv::ErrorKind::Io(io) = e.kind()
        && let Some(refused) = io.get_ref().and_then(|e| e.downcast_ref::<Refused>())
    {
        return CoreError::Statistics(refused.0.clone());
    }
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
