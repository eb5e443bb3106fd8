//! The `RolloutTrigger` custom resource (`mlops.dev/v1alpha1`, plural `rollouttriggers`): "when a
//! version of model M gets alias A (or tag K=V, or is created), roll it out to Deployment D in
//! this namespace with template T". Its type (from which the CRD is generated), reading the
//! triggers, writing their status, and the webhook's shared secret from a Secret. The decisions
//! are the core's (`mlops_core::triggers`).

use k8s_openapi::{
    ByteString, api::core::v1::Secret,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, CustomResource, CustomResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use mlops_core::{
    CoreError,
    triggers::{CRD_MISSING, TriggerRecord, TriggerSpec, TriggerStatus, TriggersRead},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    KubeCluster, err,
    names::{FIELD_MANAGER, check_namespace, check_object_name},
};

/// Start a rollout when the registry says so.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "mlops.dev",
    version = "v1alpha1",
    kind = "RolloutTrigger",
    plural = "rollouttriggers",
    shortname = "mrt",
    namespaced,
    status = "TriggerStatus",
    printcolumn = r#"{"name":"Model","type":"string","jsonPath":".spec.model"}"#,
    printcolumn = r#"{"name":"Deployment","type":"string","jsonPath":".spec.deployment"}"#,
    printcolumn = r#"{"name":"Last","type":"string","jsonPath":".status.lastEvent.verdict"}"#,
    printcolumn = r#"{"name":"Started","type":"string","jsonPath":".status.startedRollout"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
pub struct RolloutTriggerSpec {
    #[serde(flatten)]
    pub trigger: TriggerSpec,
}

impl RolloutTrigger {
    /// The core's view of this resource, of no cluster in particular (the controller's own).
    pub fn record(&self) -> TriggerRecord {
        self.record_in("")
    }

    /// The core's view of this resource, read from `cluster` (its kubeconfig context).
    pub fn record_in(&self, cluster: &str) -> TriggerRecord {
        TriggerRecord {
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
            cluster: cluster.to_string(),
            spec: self.spec.trigger.clone(),
            status: self.status.clone().unwrap_or_default(),
        }
    }

    /// When it was created (now, for one not yet stored).
    pub fn created(&self) -> chrono::DateTime<chrono::Utc> {
        self.metadata
            .creation_timestamp
            .as_ref()
            .map_or_else(chrono::Utc::now, |t| super::time::from_k8s(t.0))
    }
}

/// The CRD.
pub fn definition() -> CustomResourceDefinition {
    RolloutTrigger::crd()
}

/// The name the webhook's Secret must have (the controller's role may read that Secret only).
pub const WEBHOOK_SECRET_NAME: &str = "mlops-webhook";
/// The key of the webhook Secret that holds the shared secret.
pub const SECRET_KEY: &str = "secret";

impl KubeCluster {
    /// The RolloutTriggers (in the namespace of `-n`, else all); none when the CRD is not
    /// installed.
    pub async fn triggers(&self) -> Result<Vec<TriggerRecord>, CoreError> {
        let api: Api<RolloutTrigger> = self.namespaced();
        match super::list_all(&api, &ListParams::default()).await {
            Ok(list) => Ok(list.iter().map(|t| t.record_in(&self.context)).collect()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(err("listing RolloutTriggers", e)),
        }
    }

    /// The RolloutTriggers for a snapshot of the cluster: the list, or why it could not be read
    /// in a sentence (the CRD missing, the verb and resource a 403 refused), so that a failure
    /// here fails nothing else of the snapshot.
    pub async fn triggers_read(&self) -> TriggersRead {
        let api: Api<RolloutTrigger> = self.namespaced();
        match super::list_all(&api, &ListParams::default()).await {
            Ok(list) => {
                TriggersRead::Listed(list.iter().map(|t| t.record_in(&self.context)).collect())
            }
            Err(e) => TriggersRead::Unavailable(unreadable(e)),
        }
    }

    /// Every RolloutTrigger the controller watches, as the resource: in every namespace, or in
    /// the one a namespace-scoped controller is narrowed to (its Role grants no more).
    pub async fn all_triggers(&self) -> Result<Vec<RolloutTrigger>, CoreError> {
        let (api, where_): (Api<RolloutTrigger>, String) = match self.watch_scope() {
            Some(ns) => (
                Api::namespaced(self.client.clone(), ns),
                format!("in the namespace {ns}"),
            ),
            None => (Api::all(self.client.clone()), "in every namespace".into()),
        };
        super::list_all(&api, &ListParams::default())
            .await
            .map_err(|e| err(&format!("listing RolloutTriggers {where_}"), e))
    }

    /// One RolloutTrigger.
    pub async fn trigger(&self, namespace: &str, name: &str) -> Result<TriggerRecord, CoreError> {
        check_namespace(namespace)?;
        check_object_name("RolloutTrigger", name)?;
        let api: Api<RolloutTrigger> = Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(Some(t)) => Ok(t.record_in(&self.context)),
            Ok(None) => Err(CoreError::NotFound {
                kind: "RolloutTrigger",
                name: format!("{namespace}/{name}"),
            }),
            Err(e) => Err(err(
                &format!("reading RolloutTrigger {namespace}/{name}"),
                e,
            )),
        }
    }

    /// Write a trigger's status (a merge patch of the status subresource).
    pub async fn set_trigger_status(
        &self,
        namespace: &str,
        name: &str,
        status: &TriggerStatus,
    ) -> Result<(), CoreError> {
        let api: Api<RolloutTrigger> = Api::namespaced(self.client.clone(), namespace);
        let patch = serde_json::json!({ "status": status });
        api.patch_status(
            name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            },
            &Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            err(
                &format!("writing the status of RolloutTrigger {namespace}/{name}"),
                e,
            )
        })
    }

    /// Whether the ModelRollout `namespace/name` exists.
    pub async fn rollout_exists(&self, namespace: &str, name: &str) -> Result<bool, CoreError> {
        let api: Api<super::ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        api.get_opt(name)
            .await
            .map(|r| r.is_some())
            .map_err(|e| err(&format!("reading ModelRollout {namespace}/{name}"), e))
    }

    /// The shared secret of MLflow's webhooks, key `secret` of the Secret `namespace/name`.
    /// Its value is never logged nor shown: errors name the Secret and the key only.
    pub async fn webhook_secret(&self, namespace: &str, name: &str) -> Result<String, CoreError> {
        check_namespace(namespace)?;
        check_object_name("Secret", name)?;
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get_opt(name)
            .await
            .map_err(|e| err(&format!("reading Secret {namespace}/{name}"), e))?
            .ok_or_else(|| CoreError::NotFound {
                kind: "Secret",
                name: format!("{namespace}/{name}"),
            })?;
        let value = secret
            .data
            .as_ref()
            .and_then(|d| d.get(SECRET_KEY))
            .map(|ByteString(b)| String::from_utf8(b.clone()))
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(SECRET_KEY))
                    .map(|s| Ok(s.clone()))
            });
        match value {
            Some(Ok(v)) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            Some(Ok(_)) => Err(err(
                &format!("Secret {namespace}/{name}"),
                format!("key {SECRET_KEY:?} is empty"),
            )),
            Some(Err(_)) => Err(err(
                &format!("Secret {namespace}/{name}"),
                format!("key {SECRET_KEY:?} is not UTF-8 text"),
            )),
            None => Err(err(
                &format!("Secret {namespace}/{name}"),
                format!("has no key {SECRET_KEY:?}"),
            )),
        }
    }
}

/// Why listing RolloutTriggers failed, in a sentence for the console.
fn unreadable(e: kube::Error) -> String {
    match e {
        kube::Error::Api(ref status) if status.is_not_found() => CRD_MISSING.to_string(),
        kube::Error::Api(ref status) if status.is_forbidden() => format!(
            "may not list rollouttriggers.mlops.dev (verb list, resource rollouttriggers): {}",
            status.message
        ),
        e => err("listing RolloutTriggers", e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_is_namespaced_rollouttriggers_with_status_and_the_spec_fields() {
        let crd = serde_json::to_value(definition()).expect("crd");
        assert_eq!(crd["metadata"]["name"], "rollouttriggers.mlops.dev");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let v = &crd["spec"]["versions"][0];
        assert!(v["subresources"]["status"].is_object(), "{v:#}");
        let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
        for field in ["model", "when", "deployment", "template"] {
            assert!(spec.get(field).is_some(), "spec.{field}: {spec:#}");
        }
        for w in ["alias", "tag", "versionCreated"] {
            assert!(spec["when"]["properties"].get(w).is_some(), "when.{w}");
        }
    }
}
