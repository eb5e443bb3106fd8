//! The `:` command palette: its commands, completion and "did you mean".

use std::sync::LazyLock;

use super::{action::Action, keymap::strsim, screens::VIEWS};

pub struct PaletteCommand {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// What may follow the name, for the help (`" [filter]"`, `" NAME"`).
    pub args: &'static str,
    pub help: &'static str,
    pub run: Run,
}

/// What a palette command does.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    /// An action; a view's command takes a filter as its argument (`:rollouts churn`).
    Action(Action),
    /// Switch the cluster to the kubeconfig context named by the argument.
    Context,
    /// Limit the cluster's lists to the namespace named by the argument (`all`: every one).
    Namespace,
}

/// The palette's commands: one per view (from `VIEWS`), then the rest.
pub static COMMANDS: LazyLock<Vec<PaletteCommand>> = LazyLock::new(|| {
    let mut commands: Vec<PaletteCommand> = VIEWS
        .iter()
        .map(|v| PaletteCommand {
            name: v.palette,
            aliases: v.aliases,
            args: " [filter]",
            help: v.help,
            run: Run::Action(Action::Show(v.id)),
        })
        .collect();
    commands.extend([
        PaletteCommand {
            name: "messages",
            aliases: &["msg", "messages"],
            args: "",
            help: "the messages of this session",
            run: Run::Action(Action::ShowMessages),
        },
        PaletteCommand {
            name: "ctx",
            aliases: &["context"],
            args: " NAME",
            help: "switch to a kubeconfig context",
            run: Run::Context,
        },
        PaletteCommand {
            name: "ns",
            aliases: &["namespace"],
            args: " NAME|all",
            help: "list one namespace (all: every one)",
            run: Run::Namespace,
        },
        PaletteCommand {
            name: "refresh",
            aliases: &["r"],
            args: "",
            help: "refresh now",
            run: Run::Action(Action::Refresh),
        },
        PaletteCommand {
            name: "help",
            aliases: &["h", "?"],
            args: "",
            help: "key bindings",
            run: Run::Action(Action::ToggleHelp),
        },
        PaletteCommand {
            name: "quit",
            aliases: &["q", "q!", "exit"],
            args: "",
            help: "leave the console",
            run: Run::Action(Action::Quit),
        },
    ]);
    commands
});

/// The command and its argument: `rollouts churn` → (`rollouts`, `churn`).
pub fn split(input: &str) -> (&str, &str) {
    let input = input.trim();
    match input.split_once(char::is_whitespace) {
        Some((cmd, arg)) => (cmd, arg.trim()),
        None => (input, ""),
    }
}

/// Commands whose name or an alias starts with `input`, then those that contain it.
pub fn completions(input: &str) -> Vec<&'static PaletteCommand> {
    let input = split(input).0.to_ascii_lowercase();
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
    let input = split(input).0.to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == input || c.aliases.contains(&input.as_str()))
}

/// The closest command name, for "did you mean".
pub fn closest(input: &str) -> Option<&'static str> {
    let input = split(input).0.to_ascii_lowercase();
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
        assert_eq!(exact("rollouts churn").map(|c| c.name), Some("rollouts"));
        assert_eq!(split(" gpus  idle "), ("gpus", "idle"));
    }
}
