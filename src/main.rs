//! `mlops`: parse the command line and run it. Everything else is in the library: the CLI in
//! `cli/`, the backends in `wiring.rs`.

use std::process::ExitCode;

use clap::Parser;
use mlops_console::cli::{self, Cli};

fn main() -> ExitCode {
    cli::main(&Cli::parse())
}
