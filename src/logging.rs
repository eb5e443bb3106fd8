//! Logs go to a file, never to the terminal the console draws on; `mlops controller` logs to
//! stderr. Both are bounded: a log line is cut to [`MAX_LINE_BYTES`] and made safe to `cat` on a
//! terminal (server text in an error cannot carry escape sequences into it), and a warning that
//! repeats (a backend down, fetched every few seconds) is written once a minute with the count
//! of the ones left out ([`warn_limited`]).

use std::{
    collections::HashMap,
    fs::OpenOptions,
    io::{self, Write},
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant},
};

use mlops_core::text;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// The longest log line written; longer ones are cut, saying how much was left out.
pub const MAX_LINE_BYTES: usize = 4096;
/// A repeated warning is written again after this long (or at once when its text changes).
pub const REPEAT_EVERY: Duration = Duration::from_secs(60);
/// Distinct keys remembered by [`warn_limited`]; past this the memory starts over.
const MAX_KEYS: usize = 1024;

/// `$MLOPS_LOG_FILE`, else `$XDG_STATE_HOME/mlops-console/mlops.log`, else
/// `~/.local/state/mlops-console/mlops.log`.
pub fn log_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MLOPS_LOG_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("mlops-console").join("mlops.log")
}

/// Start logging to the file; a log that cannot be opened only costs the log.
pub fn init() -> Option<PathBuf> {
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = EnvFilter::try_from_env("MLOPS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ok = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Capped(Mutex::new(file)))
        .try_init()
        .is_ok();
    ok.then_some(path)
}

/// Log to stderr (`mlops controller`, which runs where a log collector reads its output).
pub fn init_stderr() {
    let filter = EnvFilter::try_from_env("MLOPS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Capped(std::io::stderr))
        .try_init();
}

/// A writer of log lines that cuts each to [`MAX_LINE_BYTES`] and replaces control characters
/// and escape sequences (the formatter writes one event per `write`).
pub struct Capped<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Capped<M> {
    type Writer = CappedWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        CappedWriter(self.0.make_writer())
    }
}

pub struct CappedWriter<W>(W);

impl<W: Write> Write for CappedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(cap_line(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One log event as written: safe text, at most [`MAX_LINE_BYTES`], ending in a newline.
pub fn cap_line(buf: &[u8]) -> String {
    let line = String::from_utf8_lossy(buf);
    let body = line.strip_suffix('\n').unwrap_or(&line);
    let safe = text::line(body);
    let mut out = if safe.len() > MAX_LINE_BYTES {
        let cut = text::truncate_bytes(&safe, MAX_LINE_BYTES - 40).into_owned();
        format!("{cut} [{} bytes left out]", safe.len() - cut.len())
    } else {
        safe.into_owned()
    };
    out.push('\n');
    out
}

#[derive(Debug, Clone)]
struct Seen {
    message: String,
    logged: Instant,
    suppressed: u64,
}

/// What to do with a warning under `key`: write it (with how many like it were left out since
/// the last one written), or leave it out.
fn should_write(
    seen: &mut HashMap<String, Seen>,
    key: &str,
    message: &str,
    now: Instant,
) -> Option<u64> {
    if seen.len() >= MAX_KEYS && !seen.contains_key(key) {
        seen.clear();
    }
    match seen.get_mut(key) {
        Some(s) if s.message == message && now.duration_since(s.logged) < REPEAT_EVERY => {
            s.suppressed += 1;
            None
        }
        Some(s) => {
            let suppressed = s.suppressed;
            *s = Seen {
                message: message.to_string(),
                logged: now,
                suppressed: 0,
            };
            Some(suppressed)
        }
        None => {
            seen.insert(
                key.to_string(),
                Seen {
                    message: message.to_string(),
                    logged: now,
                    suppressed: 0,
                },
            );
            Some(0)
        }
    }
}

/// A warning that may repeat (a backend down, seen on every refresh): written when its text
/// changes or once per [`REPEAT_EVERY`] per `key`, with the count of repeats left out; the
/// repeats go to the debug level.
pub fn warn_limited(key: &str, message: &str) {
    static SEEN: Mutex<Option<HashMap<String, Seen>>> = Mutex::new(None);
    let decision = {
        let mut guard = SEEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        should_write(
            guard.get_or_insert_with(HashMap::new),
            key,
            message,
            Instant::now(),
        )
    };
    match decision {
        Some(0) => tracing::warn!(key, "{message}"),
        Some(left_out) => {
            tracing::warn!(key, repeats_left_out = left_out, "{message}");
        }
        None => tracing::debug!(key, "{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_and_made_safe() {
        let long = format!("error=\u{1b}]0;PWNED\u{7}{}\n", "x".repeat(100_000));
        let line = cap_line(long.as_bytes());
        assert!(line.len() <= MAX_LINE_BYTES + 1, "{}", line.len());
        assert!(
            line.ends_with("bytes left out]\n"),
            "{}",
            &line[line.len() - 40..]
        );
        assert!(!line.contains('\u{1b}'));
        assert_eq!(cap_line(b"short\n"), "short\n");
    }

    #[test]
    fn a_repeated_warning_is_written_once_a_minute() {
        let mut seen = HashMap::new();
        let t0 = Instant::now();
        assert_eq!(should_write(&mut seen, "fetch", "down", t0), Some(0));
        for s in 1..=11 {
            assert_eq!(
                should_write(&mut seen, "fetch", "down", t0 + Duration::from_secs(5 * s)),
                None
            );
        }
        assert_eq!(
            should_write(&mut seen, "fetch", "down", t0 + REPEAT_EVERY),
            Some(11),
            "after a minute, with the count left out"
        );
        assert_eq!(
            should_write(&mut seen, "fetch", "other cause", t0 + REPEAT_EVERY),
            Some(0),
            "a new text at once"
        );
        assert_eq!(
            should_write(&mut seen, "other", "down", t0),
            Some(0),
            "keys apart"
        );
    }
}
