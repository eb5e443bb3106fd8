//! Traffic between a rollout's stable track and its canary, one file per way of splitting it:
//! `replicas` (the replica ratio: the Deployments, which every rollout scales) and `gateway_api`
//! (HTTPRoute weights, for rollouts that name one). Which one a rollout uses is the core's
//! decision (`RolloutSpec::routing`); a second service mesh is one more file here.

pub mod gateway_api;
mod replicas;

pub use self::gateway_api::GatewayApi;
