//! Configuration: settings and themes (the keymap, which names the console's actions, lives in
//! `app::keymap`). Defaults are embedded in the binary; user files in the config directory merge
//! over them per key. This module imports nothing from the app. Loading never fails and never panics: every
//! problem becomes a `ConfigError` naming the file, the line and the bad value, and the console
//! starts on defaults for whatever was wrong.

pub mod errors;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod policy;
pub mod serving;
pub mod settings;
pub mod spans;
pub mod theme;

use std::path::{Path, PathBuf};

pub use errors::ConfigError;
pub use settings::Settings;
pub use theme::{ColorDepth, Theme};

/// The user's config directory: `$MLOPS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/mlops-console`, else
/// `~/.config/mlops-console`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MLOPS_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("mlops-console");
    }
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".config")
        .join("mlops-console")
}

/// The most bytes of one config file that are read (`config.toml`, `keymap.toml`, a theme).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The text of the config file `path`, or `None` when there is none. Anything else that stops
/// it from being read is an error naming the file, pushed onto `errors`: only a regular file is
/// read (a FIFO, a device or a directory is refused, and it is opened without blocking, so a
/// FIFO cannot stall the console), of at most [`MAX_FILE_BYTES`], in UTF-8.
pub fn read_optional(path: &Path, errors: &mut Vec<ConfigError>) -> Option<String> {
    match read_bounded(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push(ConfigError::io(path, &e));
            None
        }
    }
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    crate::files::read_text(path, MAX_FILE_BYTES, "a config file")
}

/// `config.toml` from `dir` (defaults for whatever is invalid), and what was wrong with it.
pub fn load_settings(dir: &Path) -> (Settings, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let settings_path = dir.join("config.toml");
    let settings = match read_optional(&settings_path, &mut errors) {
        Some(text) => match settings::parse(&text, &settings_path) {
            Ok(s) => s,
            Err(e) => {
                errors.extend(e);
                Settings::default()
            }
        },
        None => Settings::default(),
    };
    (settings, errors)
}

/// The theme `name` (embedded, or `themes/NAME.toml` in `dir`) at the terminal's colour depth.
pub fn load_theme(
    dir: &Path,
    name: &str,
    depth: ColorDepth,
    errors: &mut Vec<ConfigError>,
) -> Theme {
    theme::load(dir, name, depth, errors)
}

/// Validate `config.toml`, the themes in `dir` and the embedded ones; returns every error at once
/// (the keymaps are checked by `app::keymap::check`).
pub fn check(dir: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (name, text) in theme::EMBEDDED {
        let path = PathBuf::from(format!("<embedded>/themes/{name}.toml"));
        theme::parse_file(text, &path, &mut errors);
    }
    let (settings, settings_errors) = load_settings(dir);
    errors.extend(settings_errors);
    load_theme(dir, &settings.theme, ColorDepth::TrueColor, &mut errors);
    // User themes that the settings do not select are still checked.
    if let Ok(entries) = std::fs::read_dir(dir.join("themes")) {
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            if stem == settings.theme {
                continue;
            }
            if let Some(text) = read_optional(&path, &mut errors) {
                theme::parse_file(&text, &path, &mut errors);
            }
        }
    }
    errors.extend(policy::load(dir).1);
    errors.dedup();
    errors
}
