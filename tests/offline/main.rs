//! The offline tier: everything that needs no backend — the layout of the code, the CLI's
//! parsing and offline verbs, the docs, drift on files, the console in a real terminal (tmux) on
//! the demo, hostile servers and input of the tests' own, and snapshots of every screen. Plain
//! `cargo test` runs it (with the unit tests) in a couple of minutes: the inner loop.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod charts;
mod cli;
mod deploy;
mod docs;
mod drift_cli;
mod e2e_tmux;
mod faults;
mod hostile_drift;
mod hostile_input;
mod multicluster;
mod serving_cli;
mod snapshots;
mod timeline;
