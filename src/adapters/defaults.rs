//! The limits every adapter shares, said once: how long a call may take and how much of an answer
//! is read, whichever client (reqwest for MLflow and Prometheus, kube-rs for the cluster) makes
//! it. An adapter's own limits (its retries, its page sizes) stay in its own module.

/// The whole of one call (retries included) unless the adapter is built with another
/// (`timeout_seconds` in config.toml): the core's default, shared with the settings.
pub use mlops_core::defaults::CALL_TIMEOUT;

/// The most bytes of one answer that are read: a page of 1000 MLflow runs with datasets is about
/// 6 MB, 100k DCGM series about 30 MB; Kubernetes lists are read in pages far below it.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
