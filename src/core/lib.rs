//! The orchestration core of mlops-console.
//!
//! Owns the domain model, the rollout state machine, canary analysis, drift statistics, the lineage
//! graph, the audit chain and the ports (traits) through which the core sees the cluster, the model
//! registry and the metrics store. It must not touch a terminal: the TUI, the CLI verbs and
//! `mlops controller` all embed this crate.

// Production functions are held to 100 lines (clippy.toml); a test is a script of steps, read top
// to bottom, and is not.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod analysis;
pub mod audit;
pub mod clusters;
pub mod compare;
pub mod defaults;
pub mod demo;
pub mod drift;
pub mod error;
pub mod gpu;
pub mod lineage;
pub mod model;
pub mod notify;
pub mod policy;
pub mod policy_facts;
pub mod ports;
pub mod registry;
pub mod rollout;
pub mod serving;
pub mod text;
pub mod timeline;
pub mod triggers;
pub mod watches;

pub use error::{CoreError, ErrorKind};
