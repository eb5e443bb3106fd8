//! A configuration problem, located: file, line, column and the offending value. What it echoes
//! is bounded and safe: the value, the file name and the message are cut to a few hundred
//! characters and credentials in URLs (`https://user:password@…`) are replaced by `***`, so a
//! huge or secret value is never printed or logged whole.

use std::{fmt, path::Path};

use mlops_core::text;

/// The longest value echoed back.
pub const SHOWN_VALUE: usize = 200;
/// The longest file name and message echoed back.
const SHOWN_TEXT: usize = 1000;

/// `s` cut to `max` characters with URL credentials redacted.
fn bounded(s: &str, max: usize) -> String {
    text::truncate(&text::redact_userinfo(s), max).into_owned()
}

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
        Self::at_line_col(path, line, column, value, message)
    }

    /// An error at `line`:`column` (1-based, as [`line_cols`] gives them).
    pub fn at_line_col(
        path: &Path,
        line: usize,
        column: usize,
        value: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: bounded(&path.display().to_string(), SHOWN_TEXT),
            line,
            column,
            value: bounded(value, SHOWN_VALUE),
            message: bounded(&message.into(), SHOWN_TEXT),
        }
    }

    /// A problem with the file as a whole (no line): `value` is what was asked for.
    pub fn about_file(path: &Path, value: &str, message: impl Into<String>) -> Self {
        Self {
            file: bounded(&path.display().to_string(), SHOWN_TEXT),
            line: 0,
            column: 0,
            value: bounded(value, SHOWN_VALUE),
            message: bounded(&message.into(), SHOWN_TEXT),
        }
    }

    pub fn io(path: &Path, e: &std::io::Error) -> Self {
        Self::about_file(path, "", format!("cannot read: {e}"))
    }

    /// From a TOML syntax or schema error, which carries its own span.
    pub fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let offset = e.span().map_or(0, |s| s.start);
        let value = e
            .span()
            .and_then(|s| text.get(s.clone()))
            .map(|v| v.lines().next().unwrap_or("").trim())
            // A string's value without its quotes: `Display` quotes it once.
            .map(|v| {
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v)
                    .to_string()
            })
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

/// 1-based line and column of each of `offsets` (sorted, ascending), in one pass over `text`:
/// linear in the text and the offsets however many there are (one `line_col` each would be
/// quadratic). An offset inside a character counts as that character.
pub fn line_cols(text: &str, offsets: &[usize]) -> Vec<(usize, usize)> {
    debug_assert!(offsets.is_sorted());
    let mut out = Vec::with_capacity(offsets.len());
    let (mut line, mut column) = (1, 1);
    let mut chars = text.char_indices().peekable();
    for &offset in offsets {
        while let Some((_, c)) = chars.next_if(|(at, c)| at + c.len_utf8() <= offset) {
            if c == '\n' {
                (line, column) = (line + 1, 1);
            } else {
                column += 1;
            }
        }
        out.push((line, column));
    }
    out
}

/// As a terminal shows it: every field made safe (a value from the file, a file name or a
/// message that quotes the file can carry escape sequences and bidi controls; `-o json` keeps
/// them exact, escaped by its serializer).
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, message) = (text::line(&self.file), text::line(&self.message));
        if self.line == 0 {
            write!(f, "{file}: {message}")
        } else if self.value.is_empty() {
            write!(f, "{file}:{}:{}: {message}", self.line, self.column)
        } else {
            write!(
                f,
                "{file}:{}:{}: {message}: \"{}\"",
                self.line,
                self.column,
                text::line(&self.value)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_values_are_cut_and_credentials_redacted() {
        let huge = "b".repeat(1_000_000);
        let e = ConfigError::at(
            Path::new(&format!("/cfg/themes/{huge}.toml")),
            "theme = 1",
            0,
            &huge,
            format!("theme {huge:?} is neither embedded nor a file"),
        );
        assert!(
            e.to_string().len() < 3 * SHOWN_TEXT,
            "{}",
            e.to_string().len()
        );
        let secret = ConfigError::at(
            Path::new("config.toml"),
            "",
            0,
            "htps://alice:S3CRETPW@127.0.0.1:1/",
            "tracking_uri must start with http:// or https://: htps://alice:S3CRETPW@127.0.0.1:1/",
        );
        assert!(!secret.to_string().contains("S3CRETPW"), "{secret}");
        assert!(
            secret.to_string().contains("htps://***@127.0.0.1:1/"),
            "{secret}"
        );
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn line_cols_agree_with_line_col_in_one_pass() {
        let text = "aé\n\nxyz\n€b";
        let offsets: Vec<usize> = (0..=text.len() + 2).collect();
        let all = line_cols(text, &offsets);
        for (offset, place) in offsets.iter().zip(&all) {
            if text.is_char_boundary((*offset).min(text.len())) {
                assert_eq!(*place, line_col(text, *offset), "offset {offset}");
            }
        }
        assert_eq!(line_cols(text, &[]), []);
    }
}
