//! The command-line reference of the book (`docs/src/reference/cli.md`), generated from the clap
//! definitions of [`Cli`] so that it cannot say anything the binary does not do. `tests/offline/docs.rs`
//! fails when the committed page differs from [`markdown`]. Owns only the rendering: no flag, help
//! text or default is written here — change those where the command is declared.

use std::fmt::Write as _;

use clap::{Arg, ArgAction, Command, CommandFactory};

use super::Cli;

/// The whole reference as Markdown: one section per command and subcommand, in declaration order.
pub fn markdown() -> String {
    let mut root = Cli::command();
    // Built, so that each subcommand knows its full name (`mlops rollout start`) for its usage line.
    root.build();
    let mut out = String::from(
        "# Command-line reference\n\n\
         <!-- Generated from the clap definitions in src/cli/ by \
         mlops_console::cli::reference::markdown(); do not edit by hand. Regenerate with \
         `MLOPS_BLESS_DOCS=1 cargo test --test docs`. -->\n\n\
         Every command below is generated from the binary's own definitions, so it says what \
         `mlops … --help` says, in another layout. Every command also takes `-h`/`--help` (`--help` \
         says more where there is more to say), and `mlops --version` prints the version. The \
         [global options](#mlops) may be given with any command.\n",
    );
    let mut path = Vec::new();
    section(&root, &mut path, &mut out);
    out
}

/// One command's section, then its subcommands' (depth first, clap's order).
fn section(cmd: &Command, path: &mut Vec<String>, out: &mut String) {
    path.push(cmd.get_name().to_string());
    let name = path.join(" ");
    let is_root = path.len() == 1;
    let _ = write!(out, "\n## {name}\n\n");
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        let _ = write!(out, "{}\n\n", sentence(&escape(&about.to_string())));
    }
    // `render_usage` needs a mutable command; a clone of a built one keeps its full name.
    let usage = cmd.clone().render_usage().to_string();
    let _ = write!(out, "```text\n{}\n```\n", usage.trim());
    // The global options are declared once, on the root: listed there, not again on every command.
    let args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !is_builtin(a) && (is_root || !a.is_global_set()))
        .collect();
    let positionals: Vec<&Arg> = args.iter().copied().filter(|a| a.is_positional()).collect();
    let options: Vec<&Arg> = args
        .iter()
        .copied()
        .filter(|a| !a.is_positional())
        .collect();
    list("Arguments", &positionals, out);
    list(
        if is_root { "Global options" } else { "Options" },
        &options,
        out,
    );
    let subs: Vec<&Command> = visible_subcommands(cmd).collect();
    if !subs.is_empty() {
        out.push_str("\nSubcommands:\n\n");
        for sub in &subs {
            let full = format!("{name} {}", sub.get_name());
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            let _ = writeln!(
                out,
                "- [`{full}`](#{}): {}",
                full.replace(' ', "-"),
                sentence(&escape(first_line(&about)))
            );
        }
    }
    for sub in subs {
        section(sub, path, out);
    }
    path.pop();
}

/// The subcommands a user can call: hidden ones and clap's own `help` subcommand left out.
fn visible_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// `-h`/`--help` and `--version` are on every command; the header says so once.
fn is_builtin(arg: &Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

fn list(title: &str, args: &[&Arg], out: &mut String) {
    if args.is_empty() {
        return;
    }
    let _ = write!(out, "\n{title}:\n\n");
    for arg in args {
        let _ = writeln!(out, "- {}", describe(arg));
    }
}

/// One argument as a list item: its spelling, its help, then default, values, environment.
fn describe(arg: &Arg) -> String {
    let takes_values = arg.get_num_args().is_some_and(|n| n.takes_values());
    let value = if takes_values {
        let names: Vec<String> = arg.get_value_names().map_or_else(
            || vec![format!("<{}>", arg.get_id().as_str().to_uppercase())],
            |names| names.iter().map(|n| format!("<{n}>")).collect(),
        );
        let many = arg
            .get_num_args()
            .is_some_and(|n| n.max_values() > names.len());
        format!("{}{}", names.join(" "), if many { "..." } else { "" })
    } else {
        String::new()
    };
    let spelling = match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}, --{l}"),
        (Some(s), None) => format!("-{s}"),
        (None, Some(l)) => format!("--{l}"),
        (None, None) => String::new(),
    };
    let head = [spelling, value]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut item = format!("`{head}`");
    if arg.is_required_set() {
        item.push_str(" (required)");
    }
    if let Some(help) = arg.get_long_help().or_else(|| arg.get_help()) {
        // A help text of several paragraphs stays inside the list item.
        let help = sentence(&escape(&help.to_string())).replace("\n\n", "\n\n  ");
        let _ = write!(item, ": {help}");
    }
    let mut facts = Vec::new();
    if takes_values && !arg.is_hide_default_value_set() && !arg.get_default_values().is_empty() {
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| format!("`{}`", v.to_string_lossy()))
            .collect();
        facts.push(format!("Default: {}.", defaults.join(", ")));
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| match v.get_help() {
            Some(h) => format!("`{}` ({})", v.get_name(), escape(&h.to_string())),
            None => format!("`{}`", v.get_name()),
        })
        .collect();
    if takes_values && !arg.is_hide_possible_values_set() && !values.is_empty() {
        facts.push(format!("Values: {}.", values.join(", ")));
    }
    if let Some(env) = arg.get_env().filter(|_| !arg.is_hide_env_set()) {
        facts.push(format!("Environment: `{}`.", env.to_string_lossy()));
    }
    if !facts.is_empty() {
        let _ = write!(item, " {}", facts.join(" "));
    }
    item
}

/// clap drops the full stop of a one-sentence help; the book puts it back, since facts follow.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() || text.ends_with(['.', '!', '?', ':']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

/// Help texts are prose, not HTML: a `<` outside a code span would start a tag in the book.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            _ => out.push(c),
        }
    }
    out
}
