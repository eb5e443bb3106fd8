//! Configuration: settings, themes and keymaps. Defaults are embedded in the binary; user files in
//! the config directory merge over them per key. Loading never fails and never panics: every
//! problem becomes a `ConfigError` naming the file, the line and the bad value, and the console
//! starts on defaults for whatever was wrong.

pub mod errors;
pub mod keymap;
pub mod settings;
pub mod theme;

use std::path::{Path, PathBuf};

pub use errors::ConfigError;
pub use keymap::Keymap;
pub use settings::Settings;
pub use theme::{ColorDepth, Theme};

/// Everything the console is configured with, plus what was wrong with the files.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub dir: PathBuf,
    pub settings: Settings,
    pub theme: Theme,
    pub keymap: Keymap,
    pub errors: Vec<ConfigError>,
}

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

fn read_optional(path: &Path, errors: &mut Vec<ConfigError>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push(ConfigError::io(path, &e));
            None
        }
    }
}

/// Load settings, theme and keymap from `dir`, falling back to defaults for anything invalid.
/// `theme_override` (e.g. from `--theme` or `NO_COLOR`) wins over the settings file.
pub fn load(dir: &Path, theme_override: Option<&str>, depth: ColorDepth) -> LoadedConfig {
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
    let theme_name = theme_override.unwrap_or(&settings.theme).to_string();
    let theme = theme::load(dir, &theme_name, depth, &mut errors);
    let keymap = keymap::load(dir, &settings.keymap, &mut errors);
    LoadedConfig {
        dir: dir.to_path_buf(),
        settings,
        theme,
        keymap,
        errors,
    }
}

/// Validate every config file in `dir` and the embedded defaults; returns every error at once.
pub fn check(dir: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (name, text) in theme::EMBEDDED {
        let path = PathBuf::from(format!("<embedded>/themes/{name}.toml"));
        theme::parse_file(text, &path, &mut errors);
    }
    for (name, text) in keymap::EMBEDDED {
        let path = PathBuf::from(format!("<embedded>/keymaps/{name}.toml"));
        keymap::parse_file(text, &path, &mut errors);
    }
    let loaded = load(dir, None, ColorDepth::TrueColor);
    errors.extend(loaded.errors);
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
            if stem == loaded.settings.theme {
                continue;
            }
            if let Some(text) = read_optional(&path, &mut errors) {
                theme::parse_file(&text, &path, &mut errors);
            }
        }
    }
    errors.dedup();
    errors
}
