//! `mlops config check | path`.

use std::process::ExitCode;

use clap::Subcommand;

use super::output::{self, Output};
use crate::{app::keymap, config};

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate every config file and the embedded defaults; print every error with file and line.
    Check,
    /// Print the config directory.
    Path,
}

/// The most errors `config check` prints for people; the rest are counted ("… and N more").
const SHOWN_ERRORS: usize = 100;
/// The most errors in `config check -o json` (`error_count` has them all).
const SHOWN_JSON_ERRORS: usize = 1000;

pub fn run(cmd: &ConfigCmd, output: Output) -> ExitCode {
    let dir = config::config_dir();
    match cmd {
        ConfigCmd::Path => {
            output::print(&dir.display().to_string());
            ExitCode::SUCCESS
        }
        ConfigCmd::Check => {
            // Settings and themes, then the keymaps (which know the console's actions).
            let mut errors = config::check(&dir);
            let (settings, _) = config::load_settings(&dir);
            errors.extend(keymap::check(&dir, &settings.keymap));
            errors.dedup();
            let doc = serde_json::json!({
                "config_dir": dir.display().to_string(),
                "valid": errors.is_empty(),
                "error_count": errors.len(),
                "errors": errors.iter().take(SHOWN_JSON_ERRORS).map(|e| serde_json::json!({
                    "file": e.file, "line": e.line, "column": e.column,
                    "value": e.value, "message": e.message,
                })).collect::<Vec<_>>(),
            });
            output::print(&output::render(output, &doc, |_| {
                if errors.is_empty() {
                    format!("config ok: {} (and the embedded defaults)", dir.display())
                } else {
                    let mut lines: Vec<String> = errors
                        .iter()
                        .take(SHOWN_ERRORS)
                        .map(|e| output::error_text(e))
                        .collect();
                    if errors.len() > SHOWN_ERRORS {
                        lines.push(format!("… and {} more", errors.len() - SHOWN_ERRORS));
                    }
                    lines.push(format!(
                        "{} error(s); the console starts on defaults for each of them",
                        errors.len()
                    ));
                    lines.join("\n")
                }
            }));
            if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
