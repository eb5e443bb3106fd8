//! A configuration problem, located: file, line, column and the offending value.

use std::{fmt, path::Path};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub value: String,
    pub message: String,
}

impl ConfigError {
    /// An error at byte `offset` of `text`.
    pub fn at(
        path: &Path,
        text: &str,
        offset: usize,
        value: &str,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_col(text, offset);
        Self {
            file: path.display().to_string(),
            line,
            column,
            value: value.to_string(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, e: &std::io::Error) -> Self {
        Self {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            value: String::new(),
            message: format!("cannot read: {e}"),
        }
    }

    /// From a TOML syntax or schema error, which carries its own span.
    pub fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let offset = e.span().map_or(0, |s| s.start);
        let value = e
            .span()
            .and_then(|s| text.get(s.clone()))
            .map(|v| v.lines().next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        Self::at(path, text, offset, &value, e.message().trim().to_string())
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else if self.value.is_empty() {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        } else {
            write!(
                f,
                "{}:{}:{}: {}: \"{}\"",
                self.file, self.line, self.column, self.message, self.value
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
