//! The CLI's one plain-text table. Its columns are data of the console's own type
//! (`app::rows::table::Column`): the lists the console shows (rollouts, the audit log) are printed
//! from the console's definitions (`app::rows::columns`), and a table the console does not have
//! (the GPU report, a drift report) defines its columns beside its verb with [`column`]. Each
//! column is as wide as its widest cell, numbers are right-aligned, and every cell goes through
//! the sanitiser (`mlops_core::text::line`, as `output::safe`). It prints; it decides nothing about
//! what a row holds.

use std::fmt::Write as _;

use mlops_core::text;

use crate::app::rows::table::{Column, Elide, Value, Width};

/// Cells between columns.
const GAP: &str = "  ";

/// The columns of `all` named by `fields` (`Column::field`), in that order.
pub fn pick<'a, T>(all: &'a [Column<T>], fields: &[&str]) -> Vec<&'a Column<T>> {
    fields
        .iter()
        .filter_map(|f| all.iter().find(|c| c.field == *f))
        .collect()
}

/// A column the console does not show, for a CLI table: its header, whether it holds numbers
/// (right-aligned), and the text of its cell.
pub fn column<T>(
    header: &'static str,
    right: bool,
    text: impl Fn(&T) -> String + Send + Sync + 'static,
) -> Column<T> {
    Column {
        field: header,
        header,
        sort_key: None,
        priority: 0,
        width: Width::Flex { min: 0, max: 0 },
        right,
        elide: Elide::End,
        value: Box::new(move |row| Value::text(text(row))),
    }
}

/// A column of `T` as a column of `U` that holds a `T` (`get` reads it): the console's columns
/// of a row the CLI prints wrapped (an audit entry with its cluster).
pub fn lift<T: 'static, U: 'static>(column: Column<T>, get: fn(&U) -> &T) -> Column<U> {
    let value = column.value;
    Column {
        field: column.field,
        header: column.header,
        sort_key: column.sort_key,
        priority: column.priority,
        width: column.width,
        right: column.right,
        elide: column.elide,
        value: Box::new(move |row| value(get(row))),
    }
}

/// `rows` under the headers of `columns`, one line each, without trailing spaces.
pub fn table<T>(columns: &[&Column<T>], rows: &[T]) -> String {
    let header: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| text::line(&(c.value)(r).text).into_owned())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            std::iter::once(&header)
                .chain(&cells)
                .map(|line| line[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&cells) {
        let mut text = String::new();
        for (i, (cell, c)) in line.iter().zip(columns).enumerate() {
            if i > 0 {
                text.push_str(GAP);
            }
            let w = widths[i];
            let _ = if c.right {
                write!(text, "{cell:>w$}")
            } else {
                write!(text, "{cell:<w$}")
            };
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        name: &'static str,
        n: u32,
    }

    #[test]
    fn columns_fit_their_widest_cell_and_numbers_align_right() {
        let name = column("NAME", false, |r: &Row| r.name.to_string());
        let count = column("N", true, |r: &Row| r.n.to_string());
        let rows = [
            Row {
                name: "fraud-detector",
                n: 7,
            },
            Row {
                name: "churn\u{1b}[2J",
                n: 1200,
            },
        ];
        assert_eq!(
            table(&[&name, &count], &rows),
            "NAME               N\nfraud-detector     7\nchurn�          1200"
        );
        // A left-aligned last column has no trailing spaces.
        assert_eq!(
            table(&[&count, &name], &rows),
            "   N  NAME\n   7  fraud-detector\n1200  churn�"
        );
        assert_eq!(table(&[&name], &[]), "NAME");
    }

    #[test]
    fn the_consoles_columns_are_picked_by_field() {
        let all = [
            column("A", false, |r: &Row| r.name.to_string()),
            column("B", true, |r: &Row| r.n.to_string()),
        ];
        let picked: Vec<&str> = pick(&all, &["B", "A"]).iter().map(|c| c.header).collect();
        assert_eq!(picked, ["B", "A"]);
    }
}
