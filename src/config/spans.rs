//! Where a setting is in its file, from the TOML parser's own spans: a key path such as
//! `drift.models.fraud-detector.features.amount.threshold` is found however the file writes it
//! (a `[section]` header, a dotted key, an inline table, a quoted or escaped key), never by
//! searching the text, so a name in a comment or in another section cannot be blamed, and
//! locating many errors stays linear.

use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

/// The parsed file's tables with their spans (empty when the file does not parse: an error
/// that located itself already).
pub struct Spans<'i> {
    root: Option<Spanned<DeTable<'i>>>,
}

impl<'i> Spans<'i> {
    pub fn new(text: &'i str) -> Self {
        Self {
            root: DeTable::parse(text).ok(),
        }
    }

    /// The byte offset of the key of the setting at `path` (where `key = value` begins), or of
    /// the deepest key of `path` that is there (the section it would go in), or 0.
    pub fn key(&self, path: &[&str]) -> usize {
        self.find(path).map_or_else(|at| at, |(k, _)| k)
    }

    /// Whether the file sets the value at `path`.
    pub fn has(&self, path: &[&str]) -> bool {
        self.find(path).is_ok()
    }

    /// The byte offset of the element of the array at `path` that `matches`, or of the array.
    pub fn element(&self, path: &[&str], matches: impl Fn(&str) -> bool) -> usize {
        match self.find(path) {
            Ok((_, v)) => match v.get_ref() {
                DeValue::Array(items) => items
                    .iter()
                    .find(|i| matches!(i.get_ref(), DeValue::String(s) if matches(s)))
                    .map_or(v.span().start, |i| i.span().start),
                _ => v.span().start,
            },
            Err(at) => at,
        }
    }

    /// The offset of the key at `path` and its value, or the offset of the deepest key found
    /// on the way.
    fn find(&self, path: &[&str]) -> Result<(usize, &Spanned<DeValue<'i>>), usize> {
        let Some(root) = &self.root else {
            return Err(0);
        };
        let mut table = root.get_ref();
        let mut at = 0;
        for (i, key) in path.iter().enumerate() {
            let Some((k, v)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *key) else {
                return Err(at);
            };
            at = k.span().start;
            if i + 1 == path.len() {
                return Ok((at, v));
            }
            match v.get_ref() {
                DeValue::Table(t) => table = t,
                _ => return Err(at),
            }
        }
        Err(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_its_path_not_by_its_text() {
        let text = "# threshold = 1 in a comment\n[drift]\nthreshold = 0\n\
                    [drift.models.\"m\\u0031\".features]\namount = { threshold = -1 }\n\
                    [experiments]\nrun_columns = [\"a\", \"bad\"]\n";
        let s = Spans::new(text);
        let at = |path: &[&str]| &text[s.key(path)..];
        assert!(at(&["drift", "threshold"]).starts_with("threshold = 0\n"));
        assert!(
            at(&["drift", "models", "m1", "features", "amount", "threshold"])
                .starts_with("threshold = -1 }")
        );
        // Not there: the deepest section that is.
        assert!(at(&["drift", "models", "m1", "share"]).starts_with("\"m\\u0031\""));
        assert!(
            text[s.element(&["experiments", "run_columns"], |c| c == "bad")..]
                .starts_with("\"bad\"")
        );
        assert_eq!(Spans::new("not [toml").key(&["x"]), 0);
    }
}
