//! mlops-console: the terminal operations console for ML platforms. The orchestration core is the
//! `mlops-core` crate (no terminal code); this crate is the rest of the binary `mlops`:
//!
//! - `cli/`: the command line, one file per noun; `wiring`: flags and config resolved once, the
//!   backends built from them.
//! - `app/`: the console's state, its one `update` function and the keymap; `ui/`: drawing, one
//!   file per view; `event_loop`: keys, ticks and fetches in, effects out.
//! - `config/`: settings and themes (never imports the app).
//! - `adapters/`: Kubernetes (`kube/`), MLflow, Prometheus and their shared HTTP layer.
//! - `controller/`: `mlops controller`, the rollout reconcile loop over the kube wing.

// Production functions are held to 100 lines (clippy.toml); a test is a script of steps, read top
// to bottom, and is not.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod controller;
pub mod event_loop;
pub mod files;
pub mod logging;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod ui;
pub mod wiring;
