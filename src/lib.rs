//! mlops-console: the terminal operations console for ML platforms. The binary `mlops` is a thin
//! CLI over this library; the orchestration core is the `mlops-core` crate.

pub mod adapters;
pub mod app;
pub mod config;
pub mod controller;
pub mod crd;
pub mod logging;
pub mod runtime;
pub mod testing;
pub mod ui;
