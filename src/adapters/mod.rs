//! Adapters: the real backends behind the core's ports. Kubernetes (kube-rs), MLflow's REST API
//! and Prometheus's HTTP API. Each one names the backend and the endpoint in every error and
//! never logs or shows a secret.

pub mod audit;
pub mod kube;
pub mod mlflow;
pub mod prometheus;
