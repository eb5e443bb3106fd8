//! Adapters: the real backends behind the core's ports. Kubernetes (`kube/`, kube-rs), MLflow's
//! REST API (`mlflow/`) and Prometheus's HTTP API (`prometheus/`), the latter two over one HTTP
//! layer (`http`). Each one names the backend and the endpoint in every error and never logs or
//! shows a secret. `budget` bounds what all their answers hold at once; `defaults` holds the limits
//! they share (the per-call timeout, the largest answer). `notify` reads a namespace's
//! notification ConfigMap and Secret and delivers one notification over HTTP.

pub mod budget;
pub mod defaults;
#[cfg(test)]
pub mod fuzz;
pub mod http;
pub mod kube;
pub mod mlflow;
pub mod notify;
pub mod prometheus;
