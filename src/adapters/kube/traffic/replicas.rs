//! The replica ratio: the serving Deployment and its canary (`<deployment>-canary`, the stable pod
//! template with the rollout's image) scaled to the weight, and the stable side promoted or
//! restored. One Service selects both tracks, so with no other router the ratio of their ready
//! pods is the split of traffic. The core's `Workload` port, on a cluster.

use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use mlops_core::{CoreError, rollout::RolloutSpec};

use crate::adapters::kube::{
    KubeCluster, err,
    names::{
        FIELD_MANAGER, TRACK_LABEL, VERSION_LABEL, canary_name, check_deployment, check_namespace,
    },
};

impl KubeCluster {
    /// Split the serving replicas: the stable Deployment is scaled to `stable` and a canary
    /// Deployment (`<deployment>-canary`, the stable pod template with the rollout's image and
    /// `mlops.dev/track: canary`) is applied with `canary`. Idempotent.
    pub async fn split_replicas(
        &self,
        namespace: &str,
        spec: &RolloutSpec,
        stable: u32,
        canary: u32,
        regions: &[String],
    ) -> Result<(), CoreError> {
        let api: Api<K8sDeployment> = Api::namespaced(self.client.clone(), namespace);
        let base = self.stable_deployment(&api, namespace, spec).await?;
        self.apply_canary(&api, namespace, spec, &base, canary, regions)
            .await?;
        self.scale(&api, namespace, &spec.deployment, stable).await
    }

    /// The stable track serves `version` with `image` on all the rollout's replicas; the canary
    /// goes to zero.
    pub async fn replace_stable(
        &self,
        namespace: &str,
        spec: &RolloutSpec,
        version: u32,
        image: &str,
        regions: &[String],
    ) -> Result<(), CoreError> {
        let api: Api<K8sDeployment> = Api::namespaced(self.client.clone(), namespace);
        let base = self.stable_deployment(&api, namespace, spec).await?;
        let container = base
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let version = version.to_string();
        let mut patch = serde_json::json!({
            "metadata": {"labels": {VERSION_LABEL: version}},
            "spec": {
                "replicas": spec.replicas,
                "template": {
                    "metadata": {"labels": {VERSION_LABEL: version}},
                    "spec": {"containers": [{"name": container, "image": image}]}
                }
            }
        });
        // The promoted version's pods stay where its data may be served.
        if !regions.is_empty() {
            patch["spec"]["template"]["spec"]["affinity"] = region_affinity(regions);
        }
        api.patch(
            &spec.deployment,
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await
        .map_err(|e| {
            err(
                &format!("promoting Deployment {namespace}/{}", spec.deployment),
                e,
            )
        })?;
        self.apply_canary(&api, namespace, spec, &base, 0, regions)
            .await
    }

    async fn stable_deployment(
        &self,
        api: &Api<K8sDeployment>,
        namespace: &str,
        spec: &RolloutSpec,
    ) -> Result<K8sDeployment, CoreError> {
        // Names from a spec in the cluster go into request paths: check them first.
        check_namespace(namespace)?;
        check_deployment(&spec.deployment)?;
        let cached = self.serving.as_ref().and_then(|s| {
            s.get(&kube::runtime::reflector::ObjectRef::new(&spec.deployment).within(namespace))
        });
        let d = match cached {
            Some(d) => K8sDeployment::clone(&d),
            None => Self::read_stable(api, namespace, spec).await?,
        };
        // Canary pods must not be adopted by the stable Deployment: its selector has to tell them apart.
        let selects_track = d
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .is_some_and(|m| m.get(TRACK_LABEL).map(String::as_str) == Some("stable"));
        if !selects_track {
            return Err(err(
                &format!("Deployment {namespace}/{}", spec.deployment),
                "its selector must include mlops.dev/track: stable, or the canary's pods would be counted as its own",
            ));
        }
        Ok(d)
    }

    /// The stable Deployment, from the API server.
    async fn read_stable(
        api: &Api<K8sDeployment>,
        namespace: &str,
        spec: &RolloutSpec,
    ) -> Result<K8sDeployment, CoreError> {
        api.get(&spec.deployment).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                kind: "Deployment",
                name: format!("{namespace}/{}", spec.deployment),
            },
            e => err(
                &format!("reading Deployment {namespace}/{}", spec.deployment),
                e,
            ),
        })
    }

    async fn apply_canary(
        &self,
        api: &Api<K8sDeployment>,
        namespace: &str,
        spec: &RolloutSpec,
        base: &K8sDeployment,
        replicas: u32,
        regions: &[String],
    ) -> Result<(), CoreError> {
        let name = canary_name(&spec.deployment);
        let version = spec.model.version.to_string();
        let mut template = base
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let mut labels = template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert(TRACK_LABEL.into(), "canary".into());
        labels.insert(VERSION_LABEL.into(), version.clone());
        template.metadata = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            labels: Some(labels.clone()),
            ..Default::default()
        });
        if let Some(c) = template
            .spec
            .as_mut()
            .and_then(|p| p.containers.first_mut())
        {
            c.image = Some(spec.image.clone());
        }
        let mut selector = base
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.clone())
            .unwrap_or_default();
        selector.insert(TRACK_LABEL.into(), "canary".into());
        let mut canary = serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": template,
            }
        });
        // Data residency: the canary's pods run only in the allowed regions.
        if !regions.is_empty() {
            canary["spec"]["template"]["spec"]["affinity"] = region_affinity(regions);
        }
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&canary),
        )
        .await
        .map(|_| ())
        .map_err(|e| err(&format!("applying Deployment {namespace}/{name}"), e))
    }

    async fn scale(
        &self,
        api: &Api<K8sDeployment>,
        namespace: &str,
        name: &str,
        replicas: u32,
    ) -> Result<(), CoreError> {
        let patch = serde_json::json!({"spec": {"replicas": replicas}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| {
                err(
                    &format!("scaling Deployment {namespace}/{name} to {replicas}"),
                    e,
                )
            })
    }
}

/// A required node affinity to `regions` (node label `topology.kubernetes.io/region`): the
/// scheduler places the pods on nodes there or nowhere.
fn region_affinity(regions: &[String]) -> serde_json::Value {
    serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{
            "key": "topology.kubernetes.io/region",
            "operator": "In",
            "values": regions,
        }]}]
    }}})
}
