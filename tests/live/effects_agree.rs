//! The demo does what the real controller does: one scripted rollout — weights 25 → 50 → 100,
//! promotion, then an undo of the promotion, and a second rollout aborted at 25% — decided by the
//! core's state machine and carried out by the core's one interpreter (`rollout::carry_out`) twice:
//! on the demo's simulated platform and on the real cluster (kwok) with the real MLflow. After
//! every step both worlds must look the same: stable and canary replicas, versions and images,
//! HTTPRoute weights, the registry's champion alias and promotion tags, the Events recorded on the
//! rollout and the audit actions.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{collections::BTreeMap, panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt;

use chrono::{TimeZone, Utc};
use k8s_openapi::api::{
    apps::v1::Deployment as K8sDeployment,
    core::v1::{Event as K8sEvent, ObjectReference, Pod, Service},
};
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams},
    discovery::ApiResource,
};
use mlops_console::adapters::{
    http::Auth,
    kube::{KubeCluster, PendingEvent, effects::KubeInfra},
    mlflow::MlflowRegistry,
};
use mlops_core::{
    audit::AuditRecord,
    demo::Sim,
    model::{Deployment, ModelVersion, RegisteredModel, Track},
    ports::RegistryPort,
    rollout::{
        self, ApprovalGate, Command, Effect, ModelRef, Observation, RolloutRecord, RolloutSpec,
        RolloutStatus, Step, Verb,
    },
};

/// What a world looks like to a rollout, as far as its effects go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct World {
    /// (replicas, version, image) of the stable track.
    stable: (u32, u32, String),
    /// (replicas, version, image) of the canary; (0, 0, "") when there is none.
    canary: (u32, u32, String),
    /// (stable, canary) backend weights of the HTTPRoute.
    route: (u64, u64),
    champion: Option<u32>,
    /// Whether the promotion tags are on the new version, and `promoted_by` names the actor.
    promoted_tags: bool,
    /// Event reasons on the rollout, in order.
    events: Vec<String>,
    /// Audit actions, in order.
    audit: Vec<String>,
}

const IMAGE_V1: &str = "registry.mlops.invalid/models/agree:v1";
const IMAGE_V2: &str = "registry.mlops.invalid/models/agree:v2";
const REPLICAS: u32 = 4;

fn spec(model: &str, deployment: &str, route: &str) -> RolloutSpec {
    RolloutSpec {
        model: ModelRef {
            name: model.into(),
            version: 2,
        },
        stable_version: 1,
        deployment: deployment.into(),
        image: IMAGE_V2.into(),
        replicas: REPLICAS,
        http_route: Some(route.into()),
        steps: vec![
            Step::SetWeight(25),
            Step::SetWeight(50),
            Step::SetWeight(100),
        ],
        analysis: rollout::default_analysis(model),
        approval: ApprovalGate { required: 1 },
    }
}

// ---------------------------------------------------------------------------------------------
// The demo side.

struct Demo {
    sim: Sim,
    cluster: String,
    model: String,
    audit_from: usize,
}

impl Demo {
    fn new(model: &str) -> Self {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 28, 9, 0, 0)
            .single()
            .expect("time");
        let mut sim = Sim::new(7, start);
        let cluster = sim.clusters[0].name.clone();
        sim.deployments.push(Deployment {
            name: model.into(),
            namespace: "ml-serving".into(),
            cluster: cluster.clone(),
            model: model.into(),
            version: 1,
            track: Track::Stable,
            replicas: REPLICAS,
            ready_replicas: REPLICAS,
            image: IMAGE_V1.into(),
            slo: None,
        });
        let version = |v: u32, image: &str| ModelVersion {
            model: model.into(),
            version: v,
            run_id: None,
            created: start,
            status: "READY".into(),
            tags: BTreeMap::from([("image".to_string(), image.to_string())]),
        };
        sim.models.push(RegisteredModel {
            name: model.into(),
            description: String::new(),
            tags: BTreeMap::new(),
            aliases: BTreeMap::from([("champion".to_string(), 1)]),
            versions: vec![version(1, IMAGE_V1), version(2, IMAGE_V2)],
        });
        let audit_from = sim.audit.entries().len();
        Self {
            sim,
            cluster,
            model: model.into(),
            audit_from,
        }
    }

    fn record(&self, spec: &RolloutSpec, name: &str, status: &RolloutStatus) -> RolloutRecord {
        RolloutRecord {
            name: name.into(),
            namespace: "ml-serving".into(),
            cluster: self.cluster.clone(),
            created: self.sim.now,
            spec: spec.clone(),
            status: status.clone(),
            policy: None,
        }
    }

    fn world(&self, route: &str, rollout_names: &[&str]) -> World {
        let track = |t: Track| {
            self.sim
                .deployments
                .iter()
                .find(|d| d.cluster == self.cluster && d.model == self.model && d.track == t)
                .map_or((0, 0, String::new()), |d| {
                    (d.replicas, d.version, d.image.clone())
                })
        };
        let model = self.sim.model(&self.model).expect("model");
        let mut canary = track(Track::Canary);
        if canary.0 == 0 {
            canary = (0, 0, String::new());
        }
        World {
            stable: track(Track::Stable),
            canary,
            route: self
                .sim
                .routes
                .get(&(
                    self.cluster.clone(),
                    "ml-serving".to_string(),
                    route.to_string(),
                ))
                .map_or((100, 0), |(s, c)| (u64::from(*s), u64::from(*c))),
            champion: model.aliases.get("champion").copied(),
            promoted_tags: model.version(2).is_some_and(|v| {
                v.tags.contains_key("promoted_at")
                    && v.tags.get("promoted_by").map(String::as_str)
                        == Some(mlops_core::demo::CONTROLLER)
            }),
            events: self
                .sim
                .events
                .iter()
                .filter(|e| {
                    rollout_names
                        .iter()
                        .any(|n| e.object == format!("modelrollout/{n}"))
                })
                .map(|e| e.reason.clone())
                .collect(),
            audit: self.sim.audit.entries()[self.audit_from..]
                .iter()
                .map(|e| e.action.clone())
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real side: the kwok cluster and the real MLflow.

struct Real {
    cluster: KubeCluster,
    registry: Arc<MlflowRegistry>,
    http: reqwest::Client,
    mlflow: String,
    name: String,
    audit_tx: tokio::sync::mpsc::UnboundedSender<AuditRecord>,
    audit_rx: tokio::sync::mpsc::UnboundedReceiver<AuditRecord>,
    audit: Vec<String>,
    /// The Events the effects queue, recorded (in order) before the world is read.
    events_tx: futures::channel::mpsc::UnboundedSender<PendingEvent>,
    events_rx: futures::channel::mpsc::UnboundedReceiver<PendingEvent>,
}

impl Real {
    async fn mlflow_post(&self, endpoint: &str, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}/api/2.0/mlflow/{endpoint}", self.mlflow))
            .json(&body)
            .send()
            .await
            .expect("mlflow");
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(status.is_success(), "{endpoint}: {status} {v}");
        v
    }

    async fn set_up(name: &str) -> Self {
        let env = common::env();
        let cluster = KubeCluster::connect_file(
            std::path::Path::new(env.get("KUBECONFIG")),
            Some(env.get("MLOPS_KUBE_CONTEXT")),
            Some("ml-serving"),
        )
        .await
        .expect("cluster");
        let mlflow = env
            .get("MLFLOW_TRACKING_URI")
            .trim_end_matches('/')
            .to_string();
        let (audit_tx, audit_rx) = tokio::sync::mpsc::unbounded_channel();
        let (events_tx, events_rx) = futures::channel::mpsc::unbounded();
        let real = Self {
            registry: Arc::new(MlflowRegistry::new(&mlflow, Auth::None).expect("registry")),
            cluster,
            http: reqwest::Client::new(),
            mlflow,
            name: name.into(),
            audit_tx,
            audit_rx,
            audit: Vec::new(),
            events_tx,
            events_rx,
        };
        // The registered model, its two versions with their images, champion at v1.
        real.mlflow_post(
            "registered-models/create",
            serde_json::json!({"name": name}),
        )
        .await;
        for image in [IMAGE_V1, IMAGE_V2] {
            let v = real
                .mlflow_post(
                    "model-versions/create",
                    serde_json::json!({"name": name, "source": "s3://agree/model"}),
                )
                .await;
            let version = v["model_version"]["version"].as_str().expect("version");
            real.mlflow_post(
                "model-versions/set-tag",
                serde_json::json!({"name": name, "version": version, "key": "image", "value": image}),
            )
            .await;
        }
        real.mlflow_post(
            "registered-models/alias",
            serde_json::json!({"name": name, "alias": "champion", "version": "1"}),
        )
        .await;
        // The serving Deployment, its Service and an HTTPRoute to it.
        let client = real.cluster.client();
        let deployments: Api<K8sDeployment> = Api::namespaced(client.clone(), "ml-serving");
        let d: K8sDeployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"mlops.dev/model": name, "mlops.dev/version": "1"}},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": {"app": name, "mlops.dev/track": "stable"}},
                "template": {
                    "metadata": {"labels": {"app": name, "mlops.dev/track": "stable", "mlops.dev/model": name, "mlops.dev/version": "1"}},
                    "spec": {"containers": [{"name": "server", "image": IMAGE_V1}]}
                }
            }
        }))
        .expect("deployment");
        deployments
            .create(&PostParams::default(), &d)
            .await
            .expect("create the serving Deployment");
        let services: Api<Service> = Api::namespaced(client.clone(), "ml-serving");
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}
        }))
        .expect("service");
        services
            .create(&PostParams::default(), &svc)
            .await
            .expect("create the Service");
        let route: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "ml-serving"},
            "spec": {
                "parentRefs": [{"name": "ml-gateway"}],
                "rules": [{"backendRefs": [{"name": name, "port": 80}]}]
            }
        }))
        .expect("route");
        routes(&real.cluster)
            .create(&PostParams::default(), &route)
            .await
            .expect("create the HTTPRoute");
        real
    }

    fn infra(&self, rollout: &str) -> KubeInfra {
        KubeInfra {
            cluster: self.cluster.clone(),
            registry: Some(self.registry.clone() as Arc<dyn RegistryPort>),
            actor: "agree-test".into(),
            object: ObjectReference {
                api_version: Some("mlops.dev/v1alpha1".into()),
                kind: Some("ModelRollout".into()),
                name: Some(rollout.into()),
                namespace: Some("ml-serving".into()),
                ..ObjectReference::default()
            },
            audit: self.audit_tx.clone(),
            events: self.events_tx.clone(),
            regions: Vec::new(),
        }
    }

    fn record(&self, spec: &RolloutSpec, name: &str, status: &RolloutStatus) -> RolloutRecord {
        RolloutRecord {
            name: name.into(),
            namespace: "ml-serving".into(),
            cluster: self.cluster.describe_context(),
            created: Utc::now(),
            spec: spec.clone(),
            status: status.clone(),
            policy: None,
        }
    }

    async fn world(&mut self, rollout_names: &[&str]) -> World {
        while let Ok(r) = self.audit_rx.try_recv() {
            self.audit.push(r.action);
        }
        while let Ok(e) = self.events_rx.try_recv() {
            self.cluster.record_event(e).await;
        }
        let client = self.cluster.client();
        let deployments: Api<K8sDeployment> = Api::namespaced(client.clone(), "ml-serving");
        let track = |d: Option<K8sDeployment>| {
            d.map_or((0, 0, String::new()), |d| {
                let spec = d.spec.unwrap_or_default();
                let labels = d.metadata.labels.unwrap_or_default();
                (
                    spec.replicas
                        .and_then(|r| u32::try_from(r).ok())
                        .unwrap_or(0),
                    labels
                        .get("mlops.dev/version")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    spec.template
                        .spec
                        .and_then(|p| p.containers.into_iter().next())
                        .and_then(|c| c.image)
                        .unwrap_or_default(),
                )
            })
        };
        let stable = track(deployments.get_opt(&self.name).await.expect("stable"));
        let mut canary = track(
            deployments
                .get_opt(&format!("{}-canary", self.name))
                .await
                .expect("canary"),
        );
        if canary.0 == 0 {
            // A canary scaled to zero is as good as none (the demo removes it).
            canary = (0, 0, String::new());
        }
        let route = routes(&self.cluster).get(&self.name).await.expect("route");
        let weight = |name: &str| {
            route
                .data
                .pointer("/spec/rules/0/backendRefs")
                .and_then(|b| b.as_array())
                .into_iter()
                .flatten()
                .find(|b| b["name"].as_str() == Some(name))
                .map_or(0, |b| b["weight"].as_u64().unwrap_or(1))
        };
        let route = (weight(&self.name), weight(&format!("{}-canary", self.name)));
        let model = self.registry.model(&self.name).await.expect("model");
        let events: Api<K8sEvent> = Api::namespaced(client, "ml-serving");
        let mut evs: Vec<K8sEvent> = Vec::new();
        for n in rollout_names {
            evs.extend(
                events
                    .list(&ListParams::default().fields(&format!("involvedObject.name={n}")))
                    .await
                    .expect("events")
                    .items,
            );
        }
        // Creation order: the API server names them in order of arrival, the timestamps have
        // second resolution.
        evs.sort_by_key(|e| {
            (
                e.metadata.creation_timestamp.clone().map(|t| t.0),
                e.metadata
                    .resource_version
                    .clone()
                    .unwrap_or_default()
                    .parse::<u64>()
                    .unwrap_or(0),
            )
        });
        World {
            stable,
            canary,
            route,
            champion: model.aliases.get("champion").copied(),
            promoted_tags: model.version(2).is_some_and(|v| {
                v.tags.contains_key("promoted_at")
                    && v.tags.get("promoted_by").map(String::as_str) == Some("agree-test")
            }),
            events: evs.into_iter().filter_map(|e| e.reason).collect(),
            audit: self.audit.clone(),
        }
    }

    /// Delete what `set_up` and the rollout made, and wait until the pods are gone (the
    /// garbage collector removes them after their Deployment).
    async fn tear_down(&self) {
        let client = self.cluster.client();
        let deployments: Api<K8sDeployment> = Api::namespaced(client.clone(), "ml-serving");
        for n in [self.name.clone(), format!("{}-canary", self.name)] {
            let _ = deployments.delete(&n, &DeleteParams::foreground()).await;
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), "ml-serving");
        let mine = ListParams::default().labels(&format!("app={}", self.name));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = pods.list(&mine).await.map(|l| l.items).unwrap_or_default();
            if left.is_empty() || std::time::Instant::now() > deadline {
                break;
            }
            for p in left {
                if let Some(n) = p.metadata.name {
                    let _ = pods
                        .delete(&n, &DeleteParams::default().grace_period(0))
                        .await;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let services: Api<Service> = Api::namespaced(client, "ml-serving");
        for n in [self.name.clone(), format!("{}-canary", self.name)] {
            let _ = services.delete(&n, &DeleteParams::default()).await;
        }
        let _ = routes(&self.cluster)
            .delete(&self.name, &DeleteParams::default())
            .await;
        let gone = self
            .http
            .delete(format!(
                "{}/api/2.0/mlflow/registered-models/delete",
                self.mlflow
            ))
            .json(&serde_json::json!({"name": self.name}))
            .send()
            .await
            .map(|r| r.status());
        assert!(
            matches!(gone, Ok(s) if s.is_success()),
            "delete the registered model {}: {gone:?}",
            self.name
        );
    }
}

fn routes(cluster: &KubeCluster) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute");
    Api::namespaced_with(cluster.client(), "ml-serving", &ApiResource::from_gvk(&gvk))
}

/// The two worlds, carrying out the same effects.
struct Both {
    demo: Demo,
    real: Real,
    spec: RolloutSpec,
    /// The rollouts whose Events count.
    names: Vec<String>,
}

impl Both {
    /// Carry `effects` of rollout `name` out in both worlds and insist they look the same.
    async fn step(
        &mut self,
        name: &str,
        status: &RolloutStatus,
        effects: &[Effect],
        label: &str,
    ) -> World {
        let spec = &self.spec;
        self.demo
            .sim
            .carry_out(&self.demo.record(spec, name, status), effects)
            .unwrap_or_else(|e| panic!("{label}: the demo failed: {e}"));
        self.real
            .infra(name)
            .carry_out(&self.real.record(spec, name, status), effects, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{label}: the cluster failed: {e}"));
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let d = self.demo.world(&self.real.name, &names);
        let r = self.real.world(&names).await;
        assert_eq!(
            d, r,
            "{label}: the demo and the cluster disagree after {effects:?}"
        );
        r
    }
}

#[tokio::test]
async fn the_demo_and_the_cluster_carry_out_a_scripted_rollout_alike() {
    let name = format!("agree-{}", std::process::id());
    let real = Real::set_up(&name).await;
    // The demo's model is named like the real one, so the aliases and tags compare.
    let demo = Demo::new(&name);
    let spec = spec(&name, &name, &name);
    let mut w = Both {
        demo,
        real,
        spec,
        names: vec![format!("{name}-v2"), format!("{name}-v2b")],
    };
    // The objects and the registered model go away also when an assertion fails: the suites
    // after this one count the seeded models and pods.
    let outcome = AssertUnwindSafe(script(&mut w)).catch_unwind().await;
    w.real.tear_down().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The scripted rollout, step by step.
async fn script(w: &mut Both) {
    let spec = w.spec.clone();
    let (first, second) = (w.names[0].clone(), w.names[1].clone());

    // 25% → 50% → 100% → promoted, the machine deciding with the canary always ready.
    let mut status = RolloutStatus::default();
    let mut worlds = Vec::new();
    for pass in 0..12 {
        let decision = rollout::reconcile(
            &spec,
            &status,
            &Observation {
                now: Utc::now(),
                canary_ready: true,
                samples: None,
                generation: 1,
                gates: mlops_core::rollout::Gates::None,
            },
        );
        status = decision.status;
        if decision.effects.is_empty() {
            if status.phase.is_terminal() {
                break;
            }
            continue;
        }
        worlds.push(
            w.step(&first, &status, &decision.effects, &format!("pass {pass}"))
                .await,
        );
    }
    assert_eq!(status.phase, rollout::Phase::Promoted);
    let promoted = worlds.last().cloned().expect("worlds");
    assert_eq!(
        (
            promoted.stable.0,
            promoted.stable.1,
            promoted.stable.2.as_str()
        ),
        (REPLICAS, 2, IMAGE_V2),
        "{promoted:?}"
    );
    assert_eq!((promoted.route, promoted.champion), ((100, 0), Some(2)));
    assert!(promoted.promoted_tags, "{promoted:?}");
    assert!(
        promoted.audit.contains(&"registry.alias".to_string())
            && promoted.audit.contains(&"rollout.promoted".to_string()),
        "{promoted:?}"
    );
    assert!(
        worlds
            .iter()
            .any(|w| w.route == (75, 25) && w.canary.0 == 1),
        "25% on the route and one of four replicas: {worlds:?}"
    );

    // Undo the promotion: the stable side and the alias go back to v1, its image from the
    // registry.
    let undo = rollout::apply_command(
        &first,
        &spec,
        &status,
        &Command::new(Verb::Rollback, "dana", "regression"),
        Utc::now(),
    )
    .expect("rollback of a promoted rollout");
    let undone = w.step(&first, &undo.status, &undo.effects, "undo").await;
    assert_eq!(
        (undone.stable.1, undone.stable.2.as_str(), undone.champion),
        (1, IMAGE_V1, Some(1))
    );

    // A second rollout, aborted at 25%.
    let mut status = RolloutStatus::default();
    let started = rollout::reconcile(
        &spec,
        &status,
        &Observation {
            now: Utc::now(),
            canary_ready: false,
            samples: None,
            generation: 1,
            gates: mlops_core::rollout::Gates::None,
        },
    );
    status = started.status;
    w.step(&second, &status, &started.effects, "second at 25%")
        .await;
    let abort = rollout::apply_command(
        &second,
        &spec,
        &status,
        &Command::new(Verb::Abort, "omar", "latency"),
        Utc::now(),
    )
    .expect("abort");
    let aborted = w
        .step(&second, &abort.status, &abort.effects, "abort")
        .await;
    assert_eq!(
        (aborted.stable.0, aborted.canary.0, aborted.route),
        (REPLICAS, 0, (100, 0))
    );
}
