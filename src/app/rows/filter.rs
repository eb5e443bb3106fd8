//! The `/` filter: which rows a filter text keeps.

/// Case-insensitive match of every whitespace-separated word of `filter` in any of `fields`.
pub fn matches(filter: &str, fields: &[&str]) -> bool {
    filter
        .split_whitespace()
        .all(|word| fields.iter().any(|f| contains_ci(f, word)))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
