//! The Gateway API router: the weights of the rollout's HTTPRoute between the stable Service and
//! a canary Service (created here, selecting the canary pods). The core's `TrafficRouter` for
//! rollouts that name an HTTPRoute; a second mesh is a file beside this one.

use async_trait::async_trait;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use mlops_core::{
    CoreError,
    rollout::{RolloutRecord, RolloutSpec, TrafficRouter},
};

use crate::adapters::kube::{
    KubeCluster, err,
    names::{
        FIELD_MANAGER, MODEL_LABEL, TRACK_LABEL, canary_name, check_deployment, check_namespace,
        check_object_name,
    },
};

/// The cluster's Gateway API, as the router of rollouts with an HTTPRoute.
pub struct GatewayApi<'a> {
    pub cluster: &'a KubeCluster,
}

#[async_trait]
impl TrafficRouter for GatewayApi<'_> {
    async fn set_weight(&self, r: &RolloutRecord, canary: u8) -> Result<(), CoreError> {
        let Some(route) = &r.spec.http_route else {
            return Ok(());
        };
        self.cluster
            .set_route_weights(&r.namespace, &r.spec, route, canary)
            .await
    }
}

impl KubeCluster {
    /// Split an HTTPRoute's traffic: in every rule, the stable Service (named like the serving
    /// Deployment) gets `100 - weight` and a `<deployment>-canary` Service (created here, selecting
    /// the canary pods) gets `weight`. Matches and filters of the rules are kept.
    pub async fn set_route_weights(
        &self,
        namespace: &str,
        spec: &RolloutSpec,
        route: &str,
        weight: u8,
    ) -> Result<(), CoreError> {
        use kube::{api::DynamicObject, discovery::ApiResource};
        let gvk = kube::api::GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute");
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &ApiResource::from_gvk(&gvk));
        check_namespace(namespace)?;
        check_object_name("HTTPRoute", route)?;
        check_deployment(&spec.deployment)?;
        let r = api.get(route).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                kind: "HTTPRoute",
                name: format!("{namespace}/{route}"),
            },
            e => err(&format!("reading HTTPRoute {namespace}/{route}"), e),
        })?;
        let stable = spec.deployment.clone();
        let canary = canary_name(&stable);
        let mut rules = r
            .data
            .pointer("/spec/rules")
            .cloned()
            .unwrap_or_else(|| serde_json::json!([]));
        let Some(port) = weigh_rules(&mut rules, &stable, &canary, weight) else {
            return Err(err(
                &format!("HTTPRoute {namespace}/{route}"),
                format!("no rule sends traffic to the Service {stable:?} (with a port)"),
            ));
        };
        // The canary Service: like the stable one, but selecting only canary pods.
        let services: Api<k8s_openapi::api::core::v1::Service> =
            Api::namespaced(self.client.clone(), namespace);
        let base = services
            .get(&stable)
            .await
            .map_err(|e| err(&format!("reading Service {namespace}/{stable}"), e))?;
        let mut selector = base
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        selector.insert(TRACK_LABEL.into(), "canary".into());
        let ports = base
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default();
        let svc = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": canary, "namespace": namespace, "labels": {TRACK_LABEL: "canary", MODEL_LABEL: spec.model.name}},
            "spec": {"selector": selector, "ports": ports}
        });
        services
            .patch(
                &canary,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&svc),
            )
            .await
            .map_err(|e| {
                err(
                    &format!("applying Service {namespace}/{canary} (port {port})"),
                    e,
                )
            })?;
        let patch = serde_json::json!({"spec": {"rules": rules}});
        api.patch(route, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| {
                err(
                    &format!("setting the weights of HTTPRoute {namespace}/{route}"),
                    e,
                )
            })
    }
}

/// In every rule of an HTTPRoute that sends traffic to the Service `stable`: `stable` gets
/// `100 - weight`, `canary` (a copy of its reference) gets `weight`, other backends are kept.
/// The port of the stable Service's first reference; `None` when no rule sends traffic to it.
fn weigh_rules(
    rules: &mut serde_json::Value,
    stable: &str,
    canary: &str,
    weight: u8,
) -> Option<u64> {
    let weight = u32::from(weight.min(100));
    let named = |b: &serde_json::Value| b.get("name").and_then(|n| n.as_str()).map(str::to_string);
    let mut port = None;
    for rule in rules.as_array_mut().into_iter().flatten() {
        let refs = rule
            .get("backendRefs")
            .and_then(|b| b.as_array())
            .cloned()
            .unwrap_or_default();
        let Some(mut stable_ref) = refs
            .iter()
            .find(|b| named(b).as_deref() == Some(stable))
            .cloned()
        else {
            continue;
        };
        port = port.or_else(|| stable_ref.get("port").and_then(serde_json::Value::as_u64));
        let mut canary_ref = stable_ref.clone();
        stable_ref["weight"] = serde_json::json!(100 - weight);
        canary_ref["name"] = serde_json::json!(canary);
        canary_ref["weight"] = serde_json::json!(weight);
        let mut others: Vec<serde_json::Value> = refs
            .into_iter()
            .filter(|b| !matches!(named(b).as_deref(), Some(n) if n == stable || n == canary))
            .collect();
        others.push(stable_ref);
        others.push(canary_ref);
        rule["backendRefs"] = serde_json::Value::Array(others);
    }
    port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stable_backend_is_split_with_its_canary_and_the_rest_kept() {
        let mut rules = serde_json::json!([
            {"matches": [{"path": {"value": "/v1"}}],
             "backendRefs": [{"name": "fraud", "port": 80}, {"name": "other", "port": 81}]},
            {"backendRefs": [{"name": "elsewhere", "port": 82}]}
        ]);
        assert_eq!(
            weigh_rules(&mut rules, "fraud", "fraud-canary", 30),
            Some(80)
        );
        assert_eq!(
            rules[0]["backendRefs"],
            serde_json::json!([
                {"name": "other", "port": 81},
                {"name": "fraud", "port": 80, "weight": 70},
                {"name": "fraud-canary", "port": 80, "weight": 30}
            ])
        );
        assert_eq!(rules[0]["matches"][0]["path"]["value"], "/v1");
        assert_eq!(
            rules[1]["backendRefs"][0],
            serde_json::json!({"name": "elsewhere", "port": 82})
        );
        // Again, at another weight: the canary reference is replaced, not added twice.
        assert_eq!(
            weigh_rules(&mut rules, "fraud", "fraud-canary", 0),
            Some(80)
        );
        assert_eq!(rules[0]["backendRefs"].as_array().map(Vec::len), Some(3));
        let mut none = serde_json::json!([{"backendRefs": [{"name": "x"}]}]);
        assert_eq!(weigh_rules(&mut none, "fraud", "fraud-canary", 10), None);
    }
}
