//! Text from outside — servers, files, the command line — made safe to put on a terminal, and
//! bounded. This is the one sanitiser: the CLI's tables, details and error output and the TUI's
//! table cells, paragraphs, block titles, status bar and error reasons all go through [`line`]
//! or [`block`] (and the console checks each frame's cells once more before drawing); JSON
//! output does not (its serializer escapes what a terminal would act on).
//!
//! What it removes: escape sequences (CSI, OSC, DCS, SOS, PM, APC and the short `ESC x` ones,
//! also their one-byte C1 forms) are replaced whole by one `�`, so a server cannot retitle,
//! clear or recolour the terminal and the reader still sees that something was there; other
//! control characters (C0, DEL, C1) and the bidirectional overrides, embeddings, isolates and
//! marks (which reorder what is drawn, as in "Trojan Source") become `�`. Tabs become a space;
//! line breaks become a space in [`line`] and stay in [`block`].
//!
//! It owns no terminal code and knows nothing of widths: callers cut to what fits.
//!
//! It also reads and writes durations as people type them (`90`, `90s`, `5m`, `1h`): step
//! templates, config.toml, and the CLI's `--since`, `--window` and `--idle-window` take the same
//! forms.

use std::borrow::Cow;

/// What a removed escape sequence or control character is shown as.
pub const REPLACEMENT: char = '\u{FFFD}';

/// `s` as one terminal line: escape sequences and control characters replaced, line breaks as
/// spaces.
pub fn line(s: &str) -> Cow<'_, str> {
    clean(s, false)
}

/// `s` as terminal text that may span lines: as [`line`], but `\n` is kept (and `\r\n` becomes
/// `\n`).
pub fn block(s: &str) -> Cow<'_, str> {
    clean(s, true)
}

/// At most `max` characters of `s`, ending in `…` when it was cut (the `…` counts).
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) if max == 0 => Cow::Borrowed(""),
        Some(_) => {
            let cut = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..cut]))
        }
    }
}

/// `text` as lines of at most `width` characters, broken between words (a word longer than a
/// line is broken inside it); prose that wraps instead of being cut. Made safe for a terminal
/// first, as [`line`].
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let text = &*line(text);
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let sep = usize::from(len > 0);
            if len + sep + word.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                len += sep + word.len();
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut line));
                len = 0;
                continue;
            }
            // A word longer than a whole line: as much as fits, the rest on the next.
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `items` joined with ` · ` into lines of at most `width` characters, each item whole on one
/// line (one longer than a line is wrapped on its own): a list of ranges or key hints that
/// wraps instead of being cut in the middle.
pub fn wrap_items(items: &[String], width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for item in items {
        let item = &*self::line(item);
        let len = line.chars().count();
        let need = item.chars().count() + if len > 0 { 3 } else { 0 };
        if len > 0 && len + need <= width {
            line.push_str(" · ");
            line.push_str(item);
            continue;
        }
        if len > 0 {
            lines.push(std::mem::take(&mut line));
        }
        if item.chars().count() <= width {
            line.push_str(item);
        } else {
            let mut parts = wrap(item, width);
            line = parts.pop().unwrap_or_default();
            lines.extend(parts);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// At most `max` bytes of `s` (cut at a character boundary), ending in `…` when cut; for log
/// lines and other byte budgets.
pub fn truncate_bytes(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let budget = max.saturating_sub('…'.len_utf8());
    let mut cut = budget.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}…", &s[..cut]))
}

/// `s` with the user-info of every URL in it (`scheme://user:password@host`) replaced by
/// `***`, so a credential put into a URL is never printed or logged.
pub fn redact_userinfo(s: &str) -> Cow<'_, str> {
    if !s.contains("://") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first '/', '?', '#' or character that cannot be in a URL.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(after.len());
        let authority = &after[..end];
        if let Some(userinfo_end) = authority.rfind('@') {
            out.push_str("***");
            out.push_str(&authority[userinfo_end..]);
            changed = true;
        } else {
            out.push_str(authority);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether a character reorders or hides what a terminal draws: bidirectional overrides,
/// embeddings, isolates and marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `s` holds nothing [`line`] would change.
fn is_clean(s: &str, keep_newlines: bool) -> bool {
    s.chars()
        .all(|c| !(c.is_control() || is_bidi_control(c)) || (keep_newlines && c == '\n'))
}

fn clean(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    if is_clean(s, keep_newlines) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push(' '),
            '\n' => out.push(if keep_newlines { '\n' } else { ' ' }),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    continue;
                }
                out.push(if keep_newlines { '\n' } else { ' ' });
            }
            '\u{1b}' => {
                skip_escape(&mut chars);
                out.push(REPLACEMENT);
            }
            // C1 forms of CSI and of the string sequences.
            '\u{9b}' => {
                skip_csi(&mut chars);
                out.push(REPLACEMENT);
            }
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
                skip_string(&mut chars);
                out.push(REPLACEMENT);
            }
            c if c.is_control() || is_bidi_control(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// The rest of an escape sequence after `ESC` (ECMA-48).
fn skip_escape(chars: &mut Chars<'_>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            chars.next();
            skip_string(chars);
        }
        Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
            // nF: intermediates, then one final byte.
            while chars
                .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                .is_some()
            {}
            chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
        }
        Some(c) if ('\u{30}'..='\u{7e}').contains(&c) => {
            chars.next();
        }
        _ => {}
    }
}

/// Parameters and intermediates of a control sequence, then its final byte.
fn skip_csi(chars: &mut Chars<'_>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// A control string (OSC, DCS, …) up to and including its terminator: BEL, `ESC \` or ST.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// `n` with a comma between thousands, as the messages write counts: `99,998`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A size in memory as the health line says it: `512 B`, `3.4 KiB`, `1.9 MiB`, `1.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Lossy above 2^52 bytes, which no cache reaches.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `s` as a CSV cell a spreadsheet shows as text, never runs: a cell that starts with `=`, `+`,
/// `-`, `@`, a tab, a carriage return or a line feed would be read as a formula (CSV injection),
/// so it gets a leading `'`, as OWASP recommends. A plain number (`-0.5`, `+3`, `1e-5`) is left
/// as it is, so it stays a number.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') if !is_plain_number(s) => {
            Cow::Owned(format!("'{s}"))
        }
        _ => Cow::Borrowed(s),
    }
}

/// Whether `s` is a decimal number and nothing else: a sign, digits with at most one `.`, and
/// an exponent (`-0.5`, `+3`, `.5`, `1e-5`); not `-inf`, `NaN`, `-1+1` or `- 1`.
fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// What [`parse_duration`] reads, for error messages.
pub const DURATION_FORMS: &str = "a number of seconds, or with s, m, h or d: 90s, 5m, 1h, 7d";

/// `90`, `90s`, `5m`, `1h`, `7d` → seconds; `None` for anything else (or what overflows).
pub fn parse_duration(text: &str) -> Option<u64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
}

/// Seconds in the largest unit [`parse_duration`] reads back exactly: `2h`, `90m`, `45s`.
pub fn format_duration(seconds: u64) -> String {
    match seconds {
        0 => "0s".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_wrap_whole() {
        let items: Vec<String> = [
            "dropout 0.0–0.1",
            "learning_rate 0.001–0.1",
            "n_estimators 100–400",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            wrap_items(&items, 41),
            [
                "dropout 0.0–0.1 · learning_rate 0.001–0.1",
                "n_estimators 100–400"
            ]
        );
        assert_eq!(wrap_items(&items, 200).len(), 1);
        assert!(wrap_items(&[], 10).is_empty());
    }

    #[test]
    fn prose_wraps_between_words_and_loses_nothing() {
        let text = "rollout fraud-detector-v7 is RolledBack: abort is not allowed (only a rollout under way can be aborted)";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        assert_eq!(lines[0], "rollout fraud-detector-v7 is");
        // A word longer than the line is broken inside it; nothing is dropped.
        assert_eq!(wrap("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("a  b", 10), ["a  b"]);
    }

    #[test]
    fn counts_get_commas_between_thousands() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (99_998, "99,998"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), text);
        }
    }

    #[test]
    fn durations_read_and_write_as_people_type_them() {
        for (text, secs) in [
            ("90", 90),
            ("90s", 90),
            ("5m", 300),
            ("1h", 3600),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration(text), Some(secs), "{text}");
        }
        for bad in [
            "",
            "s",
            "1 hour",
            "5w",
            "-1s",
            "1.5h",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(
            parse_duration("30d"),
            Some(30 * 86_400),
            "SLO windows are in days"
        );
        for secs in [0, 45, 90 * 60, 7200] {
            assert_eq!(parse_duration(&format_duration(secs)), Some(secs));
        }
        assert_eq!(format_duration(420), "7m");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(line("exp-1 ünïcødé 🚀"), Cow::Borrowed(_)));
        assert!(matches!(block("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_go_whole() {
        let hostile = "exp1-\u{1b}]0;PWNED-TITLE\u{7}\u{1b}[2J\u{1b}[31mRED\u{1b}[0m";
        assert_eq!(line(hostile), "exp1-���RED�");
        // OSC ended by ST, DCS, a C1 CSI, a short escape, one cut short at the end.
        assert_eq!(line("a\u{1b}]8;;http://x\u{1b}\\b"), "a�b");
        assert_eq!(line("a\u{1b}Pq#0\u{1b}\\b"), "a�b");
        assert_eq!(line("a\u{9b}31mb"), "a�b");
        assert_eq!(line("a\u{1b}cb"), "a�b");
        assert_eq!(line("a\u{1b}(Bb"), "a�b");
        assert_eq!(line("a\u{1b}[12"), "a�");
        assert_eq!(line("a\u{1b}"), "a�");
    }

    #[test]
    fn controls_and_bidi_overrides_are_replaced() {
        assert_eq!(line("a\u{7}b\u{0}c\u{7f}d\u{85}e"), "a�b�c�d�e");
        assert_eq!(line("user\u{202E}gnp.exe"), "user�gnp.exe");
        assert_eq!(line("x\u{2066}y\u{2069}"), "x�y�");
        assert_eq!(line("a\tb\r\nc\nd"), "a b c d");
        assert_eq!(block("a\tb\r\nc\nd\re"), "a b\nc\nd\ne");
    }

    #[test]
    fn sizes_are_said_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1_992_294), "1.9 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(bytes(5000 * 1024 * 1024 * 1024), "5000.0 GiB");
    }

    #[test]
    fn truncation_counts_characters_and_bytes() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate_bytes("abcdef", 6), "abcdef");
        let cut = truncate_bytes("éééééé", 8);
        assert!(cut.len() <= 8, "{cut}");
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn userinfo_is_redacted_wherever_a_url_is() {
        assert_eq!(
            redact_userinfo("tracking_uri: \"htps://alice:S3CRETPW@127.0.0.1:1/\""),
            "tracking_uri: \"htps://***@127.0.0.1:1/\""
        );
        assert_eq!(
            redact_userinfo("a http://u@h/x and https://p:q@h2?x"),
            "a http://***@h/x and https://***@h2?x"
        );
        assert!(matches!(
            redact_userinfo("http://127.0.0.1:5000/a@b"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_csv_cell_that_a_spreadsheet_would_run_is_made_text_and_numbers_stay_numbers() {
        for (cell, written) in [
            ("=cmd|'/c calc'!A0", "'=cmd|'/c calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("\n=1", "'\n=1"),
            ("-inf", "'-inf"),
            ("-", "'-"),
            ("-1e", "'-1e"),
            ("-0.5", "-0.5"),
            ("+3", "+3"),
            ("-.5", "-.5"),
            ("-1.5E-7", "-1.5E-7"),
            ("adam", "adam"),
            ("a=b", "a=b"),
            ("", ""),
            ("'quoted", "'quoted"),
        ] {
            assert_eq!(csv_cell(cell), written, "{cell:?}");
        }
    }
}
