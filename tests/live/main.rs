//! The live tier: every test against the real backends `tests/env/up` starts (a Kubernetes
//! control plane with kwok, MLflow, Prometheus and the traffic process), and the drift engine
//! against Evidently and SciPy in the venv `tests/run` builds. Built only with the
//! `live-tests` feature: `tests/run` runs it; `cargo test --features live-tests --test live`
//! runs it alone (starting the backends through `tests/env/up` when they are not running).

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod apiserver_restart;
mod audit_kube;
mod console_kube;
mod controller;
mod drift_canary;
mod drift_live;
mod drift_peers;
mod effects_agree;
mod gpu_cli;
mod lineage_cli;
mod policy_cli;
mod rbac_kube;
mod registry_cli;
mod registry_console;
mod rollout_cli;
mod runs_console;
mod secrets;
mod smoke_kube;
mod smoke_mlflow;
mod smoke_prometheus;
mod tls_cli;
mod traffic_kube;
