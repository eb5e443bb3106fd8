//! Logs go to a file, never to the terminal the console draws on; `mlops controller` logs to
//! stderr.

use std::{fs::OpenOptions, path::PathBuf, sync::Mutex};

use tracing_subscriber::EnvFilter;

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
        .with_writer(Mutex::new(file))
        .try_init()
        .is_ok();
    ok.then_some(path)
}

/// Log to stderr (`mlops controller`, which runs where a log collector reads its output).
pub fn init_stderr() {
    let filter = EnvFilter::try_from_env("MLOPS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
