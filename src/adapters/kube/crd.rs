//! The `ModelRollout` custom resource (`mlops.dev/v1alpha1`): its Rust type, from which the CRD is
//! generated, and `mlops install`, which applies the CRD to a cluster.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client, CustomResource, CustomResourceExt,
    api::{Patch, PatchParams},
    runtime::wait::{Condition, conditions},
};
use mlops_core::{
    CoreError,
    rollout::{RolloutRecord, RolloutSpec, RolloutStatus},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names::{FIELD_MANAGER, SYSTEM_NAMESPACE};

/// A canary release of one registered model version.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "mlops.dev",
    version = "v1alpha1",
    kind = "ModelRollout",
    plural = "modelrollouts",
    shortname = "mro",
    namespaced,
    status = "RolloutStatus",
    printcolumn = r#"{"name":"Model","type":"string","jsonPath":".spec.model.name"}"#,
    printcolumn = r#"{"name":"Version","type":"integer","jsonPath":".spec.model.version"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Weight","type":"integer","jsonPath":".status.weight"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
pub struct ModelRolloutSpec {
    #[serde(flatten)]
    pub rollout: RolloutSpec,
}

impl ModelRollout {
    /// The core's view of this resource, as seen in `cluster`.
    pub fn record(&self, cluster: &str) -> RolloutRecord {
        RolloutRecord {
            name: self.metadata.name.clone().unwrap_or_default(),
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            cluster: cluster.to_string(),
            created: self
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or_else(chrono::Utc::now, |t| super::time::from_k8s(t.0)),
            spec: self.spec.rollout.clone(),
            status: self.status.clone().unwrap_or_default(),
            // Unreadable: none here; the controller refuses to promote on it (`Gates::Unknown`).
            policy: self
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(super::rbac::POLICY_ANNOTATION))
                .and_then(|j| serde_json::from_str(j).ok()),
        }
    }
}

/// The CRD as YAML-ready JSON.
pub fn definition() -> CustomResourceDefinition {
    ModelRollout::crd()
}

/// Apply the CRD (server-side apply, idempotent) and wait until the API server serves it.
pub async fn install(client: Client, timeout: Duration) -> Result<String, CoreError> {
    // The namespace of the controller's Lease and of the audit log.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": SYSTEM_NAMESPACE}
    });
    namespaces
        .patch(
            SYSTEM_NAMESPACE,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&ns),
        )
        .await
        .map_err(|e| {
            CoreError::backend(
                "kubernetes",
                format!("applying namespace {SYSTEM_NAMESPACE}: {e}"),
            )
        })?;
    apply_crd(client, definition(), timeout).await
}

/// Apply one CRD (server-side apply) and wait until the API server serves it.
pub async fn apply_crd(
    client: Client,
    crd: CustomResourceDefinition,
    timeout: Duration,
) -> Result<String, CoreError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(|e| CoreError::backend("kubernetes", format!("applying CRD {name}: {e}")))?;
    // Polled with bounded calls rather than watched: a watch on the call client would be cut
    // by its deadline.
    let deadline = tokio::time::Instant::now() + timeout;
    let established = conditions::is_crd_established();
    loop {
        let last = match crds.get_opt(&name).await {
            Ok(crd) if established.matches_object(crd.as_ref()) => return Ok(name),
            Ok(_) => "not established yet".to_string(),
            Err(e) => super::error_chain(&e),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(CoreError::backend(
                "kubernetes",
                format!(
                    "CRD {name} not established after {}s ({last})",
                    timeout.as_secs()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The versions of the CRD this mlops installs.
fn our_versions() -> Vec<String> {
    definition()
        .spec
        .versions
        .into_iter()
        .map(|v| v.name)
        .collect()
}

/// The versions the cluster's CRD stores objects in that ours does not serve: applying ours
/// would strand them (the API server refuses it), so an install stops before writing anything.
pub fn stranded_versions(existing: &CustomResourceDefinition) -> Vec<String> {
    let ours = our_versions();
    existing
        .status
        .as_ref()
        .and_then(|s| s.stored_versions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !ours.contains(v))
        .collect()
}

/// The error an install into a cluster with a CRD of another version gets, naming it.
pub fn upgrade_refused(name: &str, stranded: &[String], existing: &[String]) -> CoreError {
    let ours = our_versions();
    CoreError::rejected(
        "kubernetes",
        format!(
            "CRD {name}: the cluster's CRD stores ModelRollouts as {} (serves {}), which this mlops ({}) does not serve: \
             installing would strand them, so nothing was changed; migrate them to {} with the mlops release \
             that installed it (or delete them), then remove {} from status.storedVersions",
            stranded.join(", "),
            existing.join(", "),
            ours.join(", "),
            ours.join(", "),
            stranded.join(", "),
        ),
    )
}

/// Before an install writes anything: a CRD already in the cluster must be one ours can replace.
pub async fn check_upgrade(client: Client) -> Result<(), CoreError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let name = definition().metadata.name.unwrap_or_default();
    let existing = crds
        .get_opt(&name)
        .await
        .map_err(|e| super::err(&format!("reading CRD {name}"), e))?;
    let Some(existing) = existing else {
        return Ok(());
    };
    let stranded = stranded_versions(&existing);
    if stranded.is_empty() {
        return Ok(());
    }
    let served: Vec<String> = existing
        .spec
        .versions
        .iter()
        .map(|v| v.name.clone())
        .collect();
    Err(upgrade_refused(&name, &stranded, &served))
}

/// A namespace-scoped install: the CRD (a cluster admin's to install) must be served already.
pub async fn check_served(client: Client, namespace: &str) -> Result<(), CoreError> {
    let api: Api<ModelRollout> = Api::namespaced(client, namespace);
    match api.list(&kube::api::ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Err(CoreError::rejected(
            "kubernetes",
            "CRD modelrollouts.mlops.dev is not installed in this cluster: it is cluster-scoped, so a cluster admin installs it once with `mlops install`",
        )),
        Err(e) => Err(super::err(
            &format!("listing ModelRollouts in {namespace}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_version_we_do_not_serve_is_named() {
        let mut existing = definition();
        existing.status = Some(
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionStatus {
                stored_versions: Some(vec!["v1alpha0".into(), "v1alpha1".into()]),
                ..Default::default()
            },
        );
        assert_eq!(stranded_versions(&existing), vec!["v1alpha0".to_string()]);
        let e = upgrade_refused(
            "modelrollouts.mlops.dev",
            &["v1alpha0".into()],
            &["v1alpha0".into()],
        )
        .to_string();
        assert!(
            e.contains("v1alpha0")
                && e.contains("nothing was changed")
                && e.contains("modelrollouts.mlops.dev"),
            "{e}"
        );
        existing.status = None;
        assert!(stranded_versions(&existing).is_empty());
    }

    #[test]
    fn crd_is_namespaced_with_status_subresource_and_structural_steps() {
        let crd = definition();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("modelrollouts.mlops.dev")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        let v = &crd.spec.versions[0];
        assert!(
            v.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        let schema = serde_json::to_value(
            v.schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref()),
        )
        .expect("schema");
        let spec = &schema["properties"]["spec"];
        for field in [
            "model",
            "steps",
            "analysis",
            "approval",
            "replicas",
            "stableVersion",
            "deployment",
            "image",
        ] {
            assert!(
                spec["properties"].get(field).is_some(),
                "spec.{field} in the schema: {spec:#}"
            );
        }
        let steps = &spec["properties"]["steps"]["items"];
        assert!(
            steps["properties"].get("setWeight").is_some(),
            "step variants are hoisted for a structural schema: {steps:#}"
        );
    }

    /// Issue 25: the API server takes `kind: slo_burn` (and `sloBurn`) and keeps the budget of
    /// an `slo_burn` check and what the canary spent of it.
    #[test]
    fn crd_takes_slo_burn_checks_and_the_budget_spent() {
        let crd = serde_json::to_value(definition()).expect("crd");
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
        let metric = &schema["spec"]["properties"]["analysis"]["properties"]["metrics"]["items"];
        let kinds = metric["properties"]["kind"]["enum"]
            .as_array()
            .expect("kinds listed");
        for kind in ["slo_burn", "sloBurn", "errorRate", "drift"] {
            assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
        }
        let budget = &metric["properties"]["budget"]["properties"];
        for field in [
            "objective",
            "sloWindowSeconds",
            "canaryErrorsQuery",
            "requestsQuery",
        ] {
            assert!(budget.get(field).is_some(), "budget.{field}: {metric:#}");
        }
        let spent = &schema["status"]["properties"]["canaryBudgetSpent"]["properties"];
        assert!(spent.get("fraction").is_some(), "{schema:#}");
    }
}
