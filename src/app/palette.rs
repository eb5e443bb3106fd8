//! The `:` command palette: its commands, completion and "did you mean".

use std::sync::LazyLock;

use super::{action::Action, keymap::strsim, screens::VIEWS};

pub struct PaletteCommand {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub help: &'static str,
    pub action: Action,
}

/// The palette's commands: one per view (from `VIEWS`), then the rest.
pub static COMMANDS: LazyLock<Vec<PaletteCommand>> = LazyLock::new(|| {
    let mut commands: Vec<PaletteCommand> = VIEWS
        .iter()
        .map(|v| PaletteCommand {
            name: v.palette,
            aliases: v.aliases,
            help: v.help,
            action: v.show.clone(),
        })
        .collect();
    commands.extend([
        PaletteCommand {
            name: "refresh",
            aliases: &["r"],
            help: "refresh now",
            action: Action::Refresh,
        },
        PaletteCommand {
            name: "help",
            aliases: &["h", "?"],
            help: "key bindings",
            action: Action::ToggleHelp,
        },
        PaletteCommand {
            name: "quit",
            aliases: &["q", "q!", "exit"],
            help: "leave the console",
            action: Action::Quit,
        },
    ]);
    commands
});

/// Commands whose name or an alias starts with `input`, then those that contain it.
pub fn completions(input: &str) -> Vec<&'static PaletteCommand> {
    let input = input.trim().to_ascii_lowercase();
    let prefix = |c: &PaletteCommand| {
        c.name.starts_with(&input) || c.aliases.iter().any(|a| a.starts_with(&input))
    };
    let mut v: Vec<&PaletteCommand> = COMMANDS.iter().filter(|c| prefix(c)).collect();
    v.extend(
        COMMANDS
            .iter()
            .filter(|c| !prefix(c) && c.name.contains(&input)),
    );
    v
}

/// The command `input` names exactly, by name or alias.
pub fn exact(input: &str) -> Option<&'static PaletteCommand> {
    let input = input.trim().to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == input || c.aliases.contains(&input.as_str()))
}

/// The closest command name, for "did you mean".
pub fn closest(input: &str) -> Option<&'static str> {
    let input = input.trim().to_ascii_lowercase();
    COMMANDS
        .iter()
        .map(|c| (strsim(c.name, &input), c.name))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_and_suggestion() {
        assert_eq!(completions("ro")[0].name, "rollouts");
        assert_eq!(completions("").len(), COMMANDS.len());
        assert_eq!(exact("gpu").map(|c| c.name), Some("gpus"));
        assert_eq!(exact("rollots").map(|c| c.name), None);
        assert_eq!(closest("rollots"), Some("rollouts"));
        assert_eq!(closest("zzzzzzzz"), None);
    }
}
