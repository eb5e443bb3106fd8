//! The Kubernetes adapter: nodes, pods, deployments and events through kube-rs, mapped to the
//! core's types. The cluster comes from `KUBECONFIG`/`--context` as for kubectl; TLS is verified
//! as the kubeconfig says. ModelRollouts arrive with the rollout controller; until then the
//! snapshot has none and rollout commands are refused with a clear error.

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use crate::{
    adapters::audit::KubeAudit,
    crd::{FIELD_MANAGER, ModelRollout, ModelRolloutSpec},
};
use async_trait::async_trait;
use chrono::Utc;
use k8s_openapi::{
    api::{
        apps::v1::Deployment as K8sDeployment,
        authentication::v1::{SelfSubjectReview, SelfSubjectReviewStatus},
        core::v1::{Event as K8sEvent, Node as K8sNode, Pod as K8sPod},
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api, Client, Config,
    api::{ListParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::{await_condition, conditions},
};
use mlops_core::{
    CoreError,
    audit::{AuditEntry, AuditRecord},
    model::{Cluster, ClusterEvent, Deployment, EventKind, Node, Pod, PodPhase, Track},
    ports::{AuditPort, ChangeStream, ClusterChange, ClusterPort, ClusterSnapshot, Driver},
    rollout::{self, Command, RolloutRecord, RolloutSpec},
};

pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
pub const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";

fn err(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::backend("kubernetes", format!("{what}: {e}"))
}

/// One cluster, as a kubeconfig context names it.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    context: String,
    namespace: Option<String>,
    /// The lease identity this process drives rollouts under, when it may.
    driver_id: Option<String>,
    audit: KubeAudit,
    identity: Arc<tokio::sync::OnceCell<String>>,
}

impl KubeCluster {
    /// Connect with the kubeconfig (`KUBECONFIG` or `~/.kube/config`) and `context` (default: the
    /// current context); `namespace` limits pods, deployments and events to one namespace.
    pub async fn connect(
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, CoreError> {
        let kubeconfig = Kubeconfig::read()
            .map_err(|e| err("reading the kubeconfig (KUBECONFIG or ~/.kube/config)", e))?;
        Self::from_kubeconfig(kubeconfig, context, namespace).await
    }

    /// Connect with the kubeconfig file at `path`.
    pub async fn connect_file(
        path: &Path,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, CoreError> {
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|e| err(&format!("reading the kubeconfig {}", path.display()), e))?;
        Self::from_kubeconfig(kubeconfig, context, namespace).await
    }

    async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, CoreError> {
        let name = context
            .map(str::to_string)
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_else(|| "default".into());
        if let Some(c) = context
            && !kubeconfig.contexts.iter().any(|n| n.name == c)
        {
            let known: Vec<&str> = kubeconfig
                .contexts
                .iter()
                .map(|n| n.name.as_str())
                .collect();
            return Err(err(
                "choosing the context",
                format!(
                    "no context {c:?} in the kubeconfig (known: {})",
                    known.join(", ")
                ),
            ));
        }
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| err(&format!("loading context {name:?}"), e))?;
        let client = Client::try_from(config).map_err(|e| err("creating the client", e))?;
        Ok(Self {
            audit: KubeAudit::new(client.clone()),
            identity: Arc::new(tokio::sync::OnceCell::new()),
            client,
            context: name,
            namespace: namespace.map(str::to_string),
            driver_id: None,
        })
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub async fn nodes(&self) -> Result<Vec<Node>, CoreError> {
        let api: Api<K8sNode> = Api::all(self.client.clone());
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| err("listing nodes", e))?;
        Ok(list
            .items
            .iter()
            .map(|n| map_node(n, &self.context))
            .collect())
    }

    pub async fn pods(&self) -> Result<Vec<Pod>, CoreError> {
        let api: Api<K8sPod> = self.namespaced();
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| err("listing pods", e))?;
        Ok(list
            .items
            .iter()
            .map(|p| map_pod(p, &self.context))
            .collect())
    }

    pub async fn deployments(&self) -> Result<Vec<Deployment>, CoreError> {
        let api: Api<K8sDeployment> = self.namespaced();
        let list = api
            .list(&ListParams::default().labels("mlops.dev/model"))
            .await
            .map_err(|e| err("listing deployments", e))?;
        Ok(list
            .items
            .iter()
            .filter_map(|d| map_deployment(d, &self.context))
            .collect())
    }

    pub async fn events(&self) -> Result<Vec<ClusterEvent>, CoreError> {
        let api: Api<K8sEvent> = self.namespaced();
        let list = api
            .list(&ListParams::default().limit(500))
            .await
            .map_err(|e| err("listing events", e))?;
        let mut events: Vec<ClusterEvent> = list
            .items
            .iter()
            .map(|e| map_event(e, &self.context))
            .collect();
        events.sort_by_key(|e| e.time);
        Ok(events)
    }

    /// The ModelRollouts; none (not an error) when the CRD is not installed.
    pub async fn rollouts(&self) -> Result<Vec<RolloutRecord>, CoreError> {
        let api: Api<ModelRollout> = self.namespaced();
        match api.list(&ListParams::default()).await {
            Ok(list) => Ok(list.items.iter().map(|r| r.record(&self.context)).collect()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(err("listing ModelRollouts", e)),
        }
    }

    /// One ModelRollout.
    pub async fn rollout(&self, namespace: &str, name: &str) -> Result<RolloutRecord, CoreError> {
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        match api.get(name).await {
            Ok(r) => Ok(r.record(&self.context)),
            Err(kube::Error::Api(status)) if status.is_not_found() => Err(CoreError::NotFound {
                kind: "ModelRollout",
                name: format!("{namespace}/{name}"),
            }),
            Err(e) => Err(err(&format!("reading ModelRollout {namespace}/{name}"), e)),
        }
    }

    /// Record an operator's command on a ModelRollout. The core decides whether the rollout's phase
    /// allows it (and refuses a duplicate approver); only the command's own status change is written
    /// — an approval, a pause flag, the phase a promote or abort moves to — with the resourceVersion
    /// it was read at. A conflict (another writer in between) is retried on fresh data, so two
    /// approvals sent at the same moment are both recorded. `mlops controller` carries out the
    /// consequences (traffic, registry) on its next reconcile.
    pub async fn send_command(
        &self,
        namespace: &str,
        name: &str,
        command: &Command,
    ) -> Result<RolloutRecord, CoreError> {
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        let mut audited = false;
        for _ in 0..10 {
            let cr = api.get(name).await.map_err(|e| match e {
                kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                    kind: "ModelRollout",
                    name: format!("{namespace}/{name}"),
                },
                e => err(&format!("reading ModelRollout {namespace}/{name}"), e),
            })?;
            let record = cr.record(&self.context);
            let status =
                rollout::record_command(name, &record.spec, &record.status, command, Utc::now())?;
            // No change without its audit entry: one that cannot be written refuses the command.
            if !audited {
                let comment = match command {
                    Command::Approve { comment, .. } => comment.as_str(),
                    Command::Abort { reason, .. } | Command::Rollback { reason, .. } => {
                        reason.as_str()
                    }
                    _ => "",
                };
                self.audit(
                    command.verb(),
                    &format!("{namespace}/{name}"),
                    comment,
                    &format!(
                        "{} → {} at step {}",
                        record.status.phase,
                        status.phase,
                        status.current_step + 1
                    ),
                )
                .await?;
                audited = true;
            }
            let mut updated = cr.clone();
            updated.status = Some(status);
            match api
                .replace_status(
                    name,
                    &PostParams {
                        field_manager: Some(FIELD_MANAGER.into()),
                        ..PostParams::default()
                    },
                    &updated,
                )
                .await
            {
                Ok(r) => return Ok(r.record(&self.context)),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => {
                    return Err(err(
                        &format!("writing the status of ModelRollout {namespace}/{name}"),
                        e,
                    ));
                }
            }
        }
        Err(err(
            &format!("{} ModelRollout {namespace}/{name}", command.verb()),
            "the status kept changing under us (10 conflicts); try again",
        ))
    }

    /// Record an approval by `user` (see `send_command`).
    pub async fn approve_as(
        &self,
        namespace: &str,
        name: &str,
        user: &str,
        comment: &str,
    ) -> Result<RolloutRecord, CoreError> {
        self.send_command(
            namespace,
            name,
            &Command::Approve {
                user: user.to_string(),
                comment: comment.to_string(),
            },
        )
        .await
    }

    /// The serving Deployment a rollout starts from: its replicas and the version it serves.
    pub async fn serving(
        &self,
        namespace: &str,
        deployment: &str,
    ) -> Result<Deployment, CoreError> {
        let api: Api<K8sDeployment> = Api::namespaced(self.client.clone(), namespace);
        let d = api.get(deployment).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                kind: "Deployment",
                name: format!("{namespace}/{deployment}"),
            },
            e => err(&format!("reading Deployment {namespace}/{deployment}"), e),
        })?;
        map_deployment(&d, &self.context).ok_or_else(|| {
            err(
                &format!("Deployment {namespace}/{deployment}"),
                "has no mlops.dev/model label: it is not a model server",
            )
        })
    }

    /// Create a ModelRollout; refuses one that exists already.
    pub async fn create_rollout(
        &self,
        namespace: &str,
        name: &str,
        spec: RolloutSpec,
    ) -> Result<RolloutRecord, CoreError> {
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        if api
            .get_opt(name)
            .await
            .map_err(|e| err(&format!("reading ModelRollout {namespace}/{name}"), e))?
            .is_none()
        {
            self.audit(
                "start",
                &format!("{namespace}/{name}"),
                "",
                &format!(
                    "{} v{} → v{}, {} steps, image {}",
                    spec.model.name,
                    spec.stable_version,
                    spec.model.version,
                    spec.steps.len(),
                    spec.image
                ),
            )
            .await?;
        }
        let mut mr = ModelRollout::new(name, ModelRolloutSpec { rollout: spec });
        mr.metadata.namespace = Some(namespace.to_string());
        match api
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &mr,
            )
            .await
        {
            Ok(r) => Ok(r.record(&self.context)),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(err(
                &format!("creating ModelRollout {namespace}/{name}"),
                "it exists already",
            )),
            Err(e) => Err(err(&format!("creating ModelRollout {namespace}/{name}"), e)),
        }
    }

    /// Send `weight` percent of traffic to the canary by replica ratio: the stable Deployment is
    /// scaled and a canary Deployment (`<deployment>-canary`, the stable pod template with the
    /// rollout's image and `mlops.dev/track: canary`) is applied with the rest. Idempotent.
    pub async fn set_weight(
        &self,
        namespace: &str,
        spec: &RolloutSpec,
        weight: u8,
    ) -> Result<(), CoreError> {
        let (stable, canary) = rollout::replica_split(spec.replicas, weight);
        let api: Api<K8sDeployment> = Api::namespaced(self.client.clone(), namespace);
        let base = self.stable_deployment(&api, namespace, spec).await?;
        self.apply_canary(&api, namespace, spec, &base, canary)
            .await?;
        self.scale(&api, namespace, &spec.deployment, stable).await
    }

    /// All traffic back to stable: canary scaled to zero, stable to the rollout's replicas.
    pub async fn abort_canary(&self, namespace: &str, spec: &RolloutSpec) -> Result<(), CoreError> {
        let api: Api<K8sDeployment> = Api::namespaced(self.client.clone(), namespace);
        let base = self.stable_deployment(&api, namespace, spec).await?;
        self.apply_canary(&api, namespace, spec, &base, 0).await?;
        self.scale(&api, namespace, &spec.deployment, spec.replicas)
            .await
    }

    /// The stable track serves the rollout's version and image on all replicas; canary to zero.
    pub async fn promote_stable(
        &self,
        namespace: &str,
        spec: &RolloutSpec,
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
        let version = spec.model.version.to_string();
        let patch = serde_json::json!({
            "metadata": {"labels": {"mlops.dev/version": version}},
            "spec": {
                "replicas": spec.replicas,
                "template": {
                    "metadata": {"labels": {"mlops.dev/version": version}},
                    "spec": {"containers": [{"name": container, "image": spec.image}]}
                }
            }
        });
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
        self.apply_canary(&api, namespace, spec, &base, 0).await
    }

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
        let r = api.get(route).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                kind: "HTTPRoute",
                name: format!("{namespace}/{route}"),
            },
            e => err(&format!("reading HTTPRoute {namespace}/{route}"), e),
        })?;
        let stable = spec.deployment.clone();
        let canary = format!("{stable}-canary");
        let mut rules = r
            .data
            .pointer("/spec/rules")
            .cloned()
            .unwrap_or_else(|| serde_json::json!([]));
        let mut port = None;
        for rule in rules.as_array_mut().into_iter().flatten() {
            let refs = rule
                .get("backendRefs")
                .and_then(|b| b.as_array())
                .cloned()
                .unwrap_or_default();
            let stable_ref = refs
                .iter()
                .find(|b| b.get("name").and_then(|n| n.as_str()) == Some(stable.as_str()))
                .cloned();
            let Some(mut stable_ref) = stable_ref else {
                continue;
            };
            port = port.or_else(|| stable_ref.get("port").and_then(serde_json::Value::as_u64));
            let mut canary_ref = stable_ref.clone();
            stable_ref["weight"] = serde_json::json!(100 - u32::from(weight.min(100)));
            canary_ref["name"] = serde_json::json!(canary);
            canary_ref["weight"] = serde_json::json!(u32::from(weight.min(100)));
            let mut others: Vec<serde_json::Value> = refs
                .into_iter()
                .filter(|b| !matches!(b.get("name").and_then(|n| n.as_str()), Some(n) if n == stable || n == canary))
                .collect();
            others.push(stable_ref);
            others.push(canary_ref);
            rule["backendRefs"] = serde_json::Value::Array(others);
        }
        let Some(port) = port else {
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
        selector.insert("mlops.dev/track".into(), "canary".into());
        let ports = base
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default();
        let svc = serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": canary, "namespace": namespace, "labels": {"mlops.dev/track": "canary", "mlops.dev/model": spec.model.name}},
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

    async fn stable_deployment(
        &self,
        api: &Api<K8sDeployment>,
        namespace: &str,
        spec: &RolloutSpec,
    ) -> Result<K8sDeployment, CoreError> {
        let d = api.get(&spec.deployment).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                kind: "Deployment",
                name: format!("{namespace}/{}", spec.deployment),
            },
            e => err(
                &format!("reading Deployment {namespace}/{}", spec.deployment),
                e,
            ),
        })?;
        // Canary pods must not be adopted by the stable Deployment: its selector has to tell them apart.
        let selects_track = d
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.as_ref())
            .is_some_and(|m| m.get("mlops.dev/track").map(String::as_str) == Some("stable"));
        if !selects_track {
            return Err(err(
                &format!("Deployment {namespace}/{}", spec.deployment),
                "its selector must include mlops.dev/track: stable, or the canary's pods would be counted as its own",
            ));
        }
        Ok(d)
    }

    async fn apply_canary(
        &self,
        api: &Api<K8sDeployment>,
        namespace: &str,
        spec: &RolloutSpec,
        base: &K8sDeployment,
        replicas: u32,
    ) -> Result<(), CoreError> {
        let name = format!("{}-canary", spec.deployment);
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
        labels.insert("mlops.dev/track".into(), "canary".into());
        labels.insert("mlops.dev/version".into(), version.clone());
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
        selector.insert("mlops.dev/track".into(), "canary".into());
        let canary = serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": template,
            }
        });
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

    /// Who drives the rollouts: the `mlops controller` replica holding the Lease, if it is live.
    pub async fn driver(&self) -> Driver {
        let api: Api<k8s_openapi::api::coordination::v1::Lease> =
            Api::namespaced(self.client.clone(), crate::controller::LEASE_NAMESPACE);
        let Ok(Some(lease)) = api.get_opt(crate::controller::LEASE_NAME).await else {
            return Driver::Nobody;
        };
        driver_of(&lease, self.driver_id.as_deref())
    }

    /// Watch ModelRollouts (in the namespace, or all) and the Lease; each change comes out as
    /// a `ClusterChange`. The watches retry with backoff on their own.
    fn watch_changes(&self) -> ChangeStream {
        use futures::StreamExt;
        use kube::runtime::{WatchStreamExt, watcher};
        let context = self.context.clone();
        let rollouts = watcher(
            self.namespaced::<ModelRollout>(),
            watcher::Config::default(),
        )
        .default_backoff()
        .scan(Vec::new(), move |init: &mut Vec<RolloutRecord>, ev| {
            let change = match ev {
                Ok(watcher::Event::Apply(r)) => {
                    Some(ClusterChange::Rollout(Box::new(r.record(&context))))
                }
                Ok(watcher::Event::Delete(r)) => Some(ClusterChange::RolloutDeleted {
                    cluster: context.clone(),
                    namespace: r.metadata.namespace.clone().unwrap_or_default(),
                    name: r.metadata.name.clone().unwrap_or_default(),
                }),
                Ok(watcher::Event::Init) => {
                    init.clear();
                    None
                }
                Ok(watcher::Event::InitApply(r)) => {
                    init.push(r.record(&context));
                    None
                }
                Ok(watcher::Event::InitDone) => Some(ClusterChange::Rollouts(std::mem::take(init))),
                Err(e) => {
                    tracing::debug!(error = %e, "watching ModelRollouts");
                    None
                }
            };
            futures::future::ready(Some(change))
        })
        .filter_map(futures::future::ready);
        let driver_id = self.driver_id.clone();
        let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
            Api::namespaced(self.client.clone(), crate::controller::LEASE_NAMESPACE);
        let lease = watcher(
            leases,
            watcher::Config::default()
                .fields(&format!("metadata.name={}", crate::controller::LEASE_NAME)),
        )
        .default_backoff()
        .filter_map(move |ev| {
            futures::future::ready(match ev {
                Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l)) => {
                    Some(ClusterChange::Driver(driver_of(&l, driver_id.as_deref())))
                }
                Ok(watcher::Event::Delete(_)) => Some(ClusterChange::Driver(Driver::Nobody)),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(e) => {
                    tracing::debug!(error = %e, "watching the lease");
                    None
                }
            })
        });
        Box::pin(futures::stream::select(rollouts, lease))
    }

    /// Append to the cluster's audit log as the user the cluster says we are.
    pub async fn audit(
        &self,
        action: &str,
        target: &str,
        comment: &str,
        details: &str,
    ) -> Result<AuditEntry, CoreError> {
        let actor = self.identity().await?;
        self.audit_log()
            .append(AuditRecord {
                time: Utc::now(),
                actor,
                action: action.to_string(),
                target: target.to_string(),
                comment: comment.to_string(),
                details: details.to_string(),
            })
            .await
            .map_err(|e| {
                err(
                    &format!("{action} {target}"),
                    format!("refused: it could not be audited ({e})"),
                )
            })
    }

    /// The cluster's audit log.
    pub fn audit_log(&self) -> &KubeAudit {
        &self.audit
    }

    /// This process drives rollouts under the lease identity `id` while no controller holds it;
    /// `driver()` then says `Embedded` when the lease is ours.
    #[must_use]
    pub fn with_driver_id(mut self, id: &str) -> Self {
        self.driver_id = Some(id.to_string());
        self
    }

    /// The kubeconfig context this cluster was reached through.
    pub fn describe_context(&self) -> String {
        self.context.clone()
    }

    /// The namespace commands default to: `-n`, else the kubeconfig context's, else `default`.
    pub fn default_namespace(&self) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(|| self.client.default_namespace().to_string())
    }

    /// Who the cluster says we are (SelfSubjectReview). Asked once per client: the credentials
    /// do not change under it, and the snapshot, every command and its audit entry need it.
    pub async fn identity(&self) -> Result<String, CoreError> {
        self.identity
            .get_or_try_init(|| async {
                let api: Api<SelfSubjectReview> = Api::all(self.client.clone());
                let review = api
                    .create(&PostParams::default(), &SelfSubjectReview::default())
                    .await
                    .map_err(|e| err("asking who we are (SelfSubjectReview)", e))?;
                Ok(review
                    .status
                    .and_then(|SelfSubjectReviewStatus { user_info }| user_info)
                    .and_then(|u| u.username)
                    .unwrap_or_else(|| "unknown".into()))
            })
            .await
            .cloned()
    }

    /// Watch a pod until it is Running (or `timeout` passes).
    pub async fn wait_pod_running(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Pod, CoreError> {
        let api: Api<K8sPod> = Api::namespaced(self.client.clone(), namespace);
        let cond = await_condition(api, name, conditions::is_pod_running());
        match tokio::time::timeout(timeout, cond).await {
            Err(_) => Err(err(
                &format!("waiting for pod {namespace}/{name} to run"),
                format!("not Running after {}s", timeout.as_secs()),
            )),
            Ok(Err(e)) => Err(err(&format!("watching pod {namespace}/{name}"), e)),
            Ok(Ok(None)) => Err(CoreError::NotFound {
                kind: "pod",
                name: format!("{namespace}/{name}"),
            }),
            Ok(Ok(Some(p))) => Ok(map_pod(&p, &self.context)),
        }
    }

    fn namespaced<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }
}

fn label<'a>(labels: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    labels.and_then(|l| l.get(key)).map(String::as_str)
}

fn gpus(q: Option<&Quantity>) -> u32 {
    q.and_then(|q| q.0.parse::<u32>().ok()).unwrap_or(0)
}

fn map_node(n: &K8sNode, cluster: &str) -> Node {
    let labels = n.metadata.labels.as_ref();
    let status = n.status.as_ref();
    let capacity = gpus(
        status
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(GPU_RESOURCE)),
    );
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    Node {
        name: n.metadata.name.clone().unwrap_or_default(),
        cluster: cluster.into(),
        region: label(labels, REGION_LABEL).unwrap_or("").into(),
        zone: label(labels, ZONE_LABEL).unwrap_or("").into(),
        gpu_capacity: capacity,
        gpu_product: label(labels, GPU_PRODUCT_LABEL).map(str::to_string),
        ready,
    }
}

fn track(labels: Option<&BTreeMap<String, String>>) -> Track {
    if label(labels, "mlops.dev/track") == Some("canary") {
        Track::Canary
    } else {
        Track::Stable
    }
}

fn map_pod(p: &K8sPod, cluster: &str) -> Pod {
    let labels = p.metadata.labels.as_ref();
    let spec = p.spec.as_ref();
    let gpu_requests: u32 = spec.map_or(0, |s| {
        s.containers
            .iter()
            .map(|c| {
                gpus(
                    c.resources
                        .as_ref()
                        .and_then(|r| r.requests.as_ref())
                        .and_then(|r| r.get(GPU_RESOURCE)),
                )
            })
            .sum()
    });
    let phase = match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    };
    Pod {
        name: p.metadata.name.clone().unwrap_or_default(),
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        cluster: cluster.into(),
        node: spec.and_then(|s| s.node_name.clone()),
        phase,
        model: label(labels, "mlops.dev/model").map(str::to_string),
        version: label(labels, "mlops.dev/version")
            .and_then(|v| v.trim_start_matches('v').parse().ok()),
        track: track(labels),
        gpus: gpu_requests,
        image: spec
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
    }
}

pub(crate) fn map_deployment(d: &K8sDeployment, cluster: &str) -> Option<Deployment> {
    let labels = d.metadata.labels.as_ref();
    let model = label(labels, "mlops.dev/model")?.to_string();
    Some(Deployment {
        name: d.metadata.name.clone().unwrap_or_default(),
        namespace: d.metadata.namespace.clone().unwrap_or_default(),
        cluster: cluster.into(),
        model,
        version: label(labels, "mlops.dev/version")
            .and_then(|v| v.trim_start_matches('v').parse().ok())
            .unwrap_or(0),
        track: track(labels),
        replicas: d
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0),
        ready_replicas: d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0),
        image: d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
    })
}

fn map_event(e: &K8sEvent, cluster: &str) -> ClusterEvent {
    let time = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .map_or_else(Utc::now, |t| {
            chrono::DateTime::<Utc>::from_timestamp(t.as_second(), 0).unwrap_or_default()
        });
    ClusterEvent {
        time,
        cluster: cluster.into(),
        namespace: e.metadata.namespace.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object
                .kind
                .as_deref()
                .unwrap_or("object")
                .to_lowercase(),
            e.involved_object.name.as_deref().unwrap_or("")
        ),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        kind: if e.type_.as_deref() == Some("Warning") {
            EventKind::Warning
        } else {
            EventKind::Normal
        },
    }
}

/// Who drives the rollouts according to `lease`: this process (`driver_id`), another holder whose
/// lease is live, or nobody.
fn driver_of(lease: &k8s_openapi::api::coordination::v1::Lease, driver_id: Option<&str>) -> Driver {
    let spec = lease.spec.clone().unwrap_or_default();
    let renewed = spec.renew_time.map_or(0, |t| t.0.as_second());
    let live =
        Utc::now().timestamp() - renewed <= i64::from(spec.lease_duration_seconds.unwrap_or(15));
    match spec.holder_identity {
        Some(holder) if live && driver_id == Some(holder.as_str()) => Driver::Embedded,
        Some(holder) if live && !holder.is_empty() => Driver::Controller { holder },
        _ => Driver::Nobody,
    }
}

#[async_trait]
impl AuditPort for KubeCluster {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError> {
        self.audit.entries().await
    }
}

#[async_trait]
impl ClusterPort for KubeCluster {
    fn describe(&self) -> String {
        self.context.clone()
    }

    fn watch(&self) -> Option<ChangeStream> {
        Some(self.watch_changes())
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError> {
        let (nodes, pods, deployments, events, identity, rollouts) = tokio::try_join!(
            self.nodes(),
            self.pods(),
            self.deployments(),
            self.events(),
            self.identity(),
            self.rollouts()
        )?;
        let mut regions: Vec<String> = nodes
            .iter()
            .map(|n| n.region.clone())
            .filter(|r| !r.is_empty())
            .collect();
        regions.sort();
        regions.dedup();
        Ok(ClusterSnapshot {
            clusters: vec![Cluster {
                name: self.context.clone(),
                region: regions.join(","),
            }],
            nodes,
            pods,
            deployments,
            rollouts,
            events,
            driver: self.driver().await,
            identity,
        })
    }

    async fn rollout_command(
        &self,
        _cluster: &str,
        namespace: &str,
        name: &str,
        command: Command,
    ) -> Result<RolloutRecord, CoreError> {
        self.send_command(namespace, name, &command).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_pod_mapping_reads_the_labels_we_rely_on() {
        let node: K8sNode = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gpu-1", "labels": {REGION_LABEL: "me-central-1", ZONE_LABEL: "me-central-1a", GPU_PRODUCT_LABEL: "H100"}},
            "status": {"allocatable": {GPU_RESOURCE: "8"}, "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .expect("node json");
        let n = map_node(&node, "ctx");
        assert_eq!(
            (n.region.as_str(), n.gpu_capacity, n.ready),
            ("me-central-1", 8, true)
        );
        let pod: K8sPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ml", "labels": {"mlops.dev/model": "fraud", "mlops.dev/version": "3", "mlops.dev/track": "canary"}},
            "spec": {"nodeName": "gpu-1", "containers": [{"name": "s", "image": "img:3", "resources": {"requests": {GPU_RESOURCE: "1"}}}]},
            "status": {"phase": "Running"}
        }))
        .expect("pod json");
        let p = map_pod(&pod, "ctx");
        assert_eq!(
            (p.model.as_deref(), p.version, p.track, p.gpus, p.phase),
            (Some("fraud"), Some(3), Track::Canary, 1, PodPhase::Running)
        );
        let bad: K8sPod = serde_json::from_value(serde_json::json!({"metadata": {"name": "x", "labels": {"mlops.dev/version": "seven"}}})).expect("json");
        let p = map_pod(&bad, "ctx");
        assert_eq!(
            (p.version, p.phase, p.gpus),
            (None, PodPhase::Unknown, 0),
            "bad labels are ignored, not fatal"
        );
    }
}
