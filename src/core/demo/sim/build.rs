//! Building the simulated world: clusters, nodes and GPUs, the registry (experiments, runs,
//! models), the serving Deployments and the monitored features.

use std::collections::{BTreeMap, VecDeque};

use chrono::Duration;

use super::{GpuState, REFERENCE_SAMPLE, Sim, SimFeature, image_of};
use crate::demo::{
    catalog::{
        ADJECTIVES, ANIMALS, CLUSTERS, CPU_NODES_PER_CLUSTER, EXPERIMENTS, FEATURES,
        GPU_NODES_PER_CLUSTER, GPUS_PER_NODE, MODELS, PINNED_VERSIONS, SERVED, SERVING_NAMESPACE,
        USERS,
    },
    rng::Rng,
};
use crate::{
    drift,
    model::{
        Cluster, Dataset, Deployment, Experiment, Gpu, ModelVersion, Node, RegisteredModel, Run,
        RunStatus, Track,
    },
};

impl Sim {
    pub(super) fn build_infrastructure(&mut self) {
        let mut rng = Rng::fork(self.seed, "infra");
        for (c, region, product) in CLUSTERS {
            self.clusters.push(Cluster {
                name: c.into(),
                region: region.into(),
                health: crate::model::ClusterHealth::Ok,
            });
            for n in 0..GPU_NODES_PER_CLUSTER + CPU_NODES_PER_CLUSTER {
                let gpu = n < GPU_NODES_PER_CLUSTER;
                let name = if gpu {
                    format!("{c}-gpu-{n}")
                } else {
                    format!("{c}-cpu-{}", n - GPU_NODES_PER_CLUSTER)
                };
                let zone = format!("{region}{}", ["a", "b", "c"][n % 3]);
                self.nodes.push(Node {
                    name: name.clone(),
                    cluster: c.into(),
                    region: region.into(),
                    zone,
                    gpu_capacity: if gpu { GPUS_PER_NODE } else { 0 },
                    gpu_product: gpu.then(|| product.to_string()),
                    ready: true,
                });
                if gpu {
                    for i in 0..GPUS_PER_NODE {
                        let mem_total = 81_559.0;
                        self.gpus.push(GpuState {
                            gpu: Gpu {
                                cluster: c.into(),
                                node: name.clone(),
                                index: i,
                                uuid: format!("GPU-{}", rng.hex(8)),
                                product: product.into(),
                                util_pct: 0.0,
                                mem_used_mib: 0.0,
                                mem_total_mib: mem_total,
                                power_w: 60.0,
                                temp_c: 31.0,
                                pod: None,
                                namespace: None,
                                container: None,
                                model: None,
                                version: None,
                                xid: None,
                            },
                            target: 0.0,
                        });
                    }
                }
            }
        }
    }

    // Data: the demo registry's experiments, runs and models, built in one pass from the catalog;
    // its length is the catalog's, not logic's.
    #[allow(clippy::too_many_lines)]
    pub(super) fn build_registry(&mut self) {
        let mut rng = Rng::fork(self.seed, "registry");
        let now = self.now;
        let total_share: u32 = EXPERIMENTS.iter().map(|e| e.2).sum();
        let mut datasets: Vec<Vec<Dataset>> = Vec::new();
        for (i, (name, region, share)) in EXPERIMENTS.iter().enumerate() {
            let runs = (2000 * share / total_share) as usize
                + usize::from(
                    i < (2000
                        - EXPERIMENTS
                            .iter()
                            .map(|e| (2000 * e.2 / total_share) as usize)
                            .sum::<usize>()),
                );
            self.experiments.push(Experiment {
                id: format!("{}", 100 + i),
                name: (*name).into(),
                run_count: Some(runs),
                last_update: now,
                tags: BTreeMap::from([(
                    "team".into(),
                    format!("team-{}", name.split('-').next().unwrap_or(name)),
                )]),
            });
            datasets.push(
                (0..3)
                    .map(|m| Dataset {
                        name: format!("{name}-2026-{:02}", 8 + m),
                        digest: rng.hex(8),
                        source: format!("s3://ml-data-{region}/{name}/2026-{:02}/", 8 + m),
                        region: (*region).into(),
                        schema: None,
                        profile: None,
                    })
                    .collect(),
            );
        }
        let optimizers = ["adam", "adamw", "sgd"];
        let lrs = ["0.001", "0.003", "0.01", "0.03", "0.1"];
        for (ei, exp) in self.experiments.clone().iter().enumerate() {
            let mut latest = now - Duration::days(90);
            for k in 0..exp.run_count.unwrap_or(0) {
                let start = now - Duration::seconds(rng.below(60 * 86_400) as i64);
                latest = latest.max(start);
                let depth = 3 + rng.below(10);
                let lr = *rng.pick(&lrs);
                let quality = (rng.normal() * 0.25 + 0.5 + (depth as f64 - 7.0).abs() * -0.03)
                    .clamp(0.0, 1.0);
                let status = match rng.below(40) {
                    0 => RunStatus::Failed,
                    1 => RunStatus::Killed,
                    2 => RunStatus::Running,
                    _ => RunStatus::Finished,
                };
                let mut metrics = BTreeMap::new();
                if status != RunStatus::Failed {
                    metrics.insert("accuracy".into(), 0.80 + 0.15 * quality);
                    metrics.insert("auc".into(), 0.84 + 0.14 * quality);
                    metrics.insert("f1".into(), 0.70 + 0.2 * quality);
                    metrics.insert("loss".into(), 0.55 - 0.4 * quality);
                    metrics.insert(
                        "latency_ms".into(),
                        20.0 + depth as f64 * 6.0 + rng.range(0.0, 10.0),
                    );
                }
                let ds = &datasets[ei];
                let mut used = vec![ds[rng.below(ds.len())].clone()];
                if rng.chance(0.3) {
                    let other = ds[rng.below(ds.len())].clone();
                    if !used.contains(&other) {
                        used.push(other);
                    }
                }
                self.runs.push(Run {
                    id: rng.hex(32),
                    experiment_id: exp.id.clone(),
                    name: format!("{}-{}-{}", rng.pick(&ADJECTIVES), rng.pick(&ANIMALS), k),
                    status,
                    user: (*rng.pick(&USERS)).into(),
                    start,
                    end: (status != RunStatus::Running)
                        .then(|| start + Duration::seconds(300 + rng.below(7200) as i64)),
                    params: BTreeMap::from([
                        ("learning_rate".into(), lr.to_string()),
                        ("max_depth".into(), depth.to_string()),
                        (
                            "n_estimators".into(),
                            ["100", "200", "400", "800"][rng.below(4)].into(),
                        ),
                        (
                            "batch_size".into(),
                            ["64", "128", "256", "512"][rng.below(4)].into(),
                        ),
                        ("optimizer".into(), (*rng.pick(&optimizers)).into()),
                        (
                            "dropout".into(),
                            ["0.0", "0.1", "0.2", "0.3"][rng.below(4)].into(),
                        ),
                    ]),
                    metrics,
                    datasets: used,
                    tags: BTreeMap::from([("mlflow.source.git.commit".into(), rng.hex(7))]),
                });
            }
            self.experiments[ei].last_update = latest;
        }
        for (mi, name) in MODELS.iter().enumerate() {
            let pinned = PINNED_VERSIONS.iter().find(|p| p.0 == *name).map(|p| p.1);
            let count = pinned.unwrap_or(2 + rng.below(9) as u32);
            let exp = &self.experiments[mi % self.experiments.len()];
            // Where its training data lives, as the residency gate reads it.
            let resident = EXPERIMENTS
                .get(mi % EXPERIMENTS.len())
                .and_then(|(_, region, _)| {
                    crate::demo::scenarios::COUNTRIES
                        .iter()
                        .find(|(r, _)| r == region)
                })
                .map_or("", |(_, country)| *country);
            let exp_runs: Vec<&Run> = self
                .runs
                .iter()
                .filter(|r| r.experiment_id == exp.id && r.status == RunStatus::Finished)
                .collect();
            let mut versions = Vec::new();
            for v in 1..=count {
                let run = exp_runs
                    .get(rng.below(exp_runs.len().max(1)))
                    .map(|r| r.id.clone());
                let created = now
                    - Duration::days(i64::from(count - v) * 9 + 1)
                    - Duration::seconds(rng.below(86_400) as i64);
                let validation = if v == count && pinned.is_none() && rng.chance(0.3) {
                    "pending"
                } else if rng.chance(0.08) {
                    "failed"
                } else {
                    "passed"
                };
                versions.push(ModelVersion {
                    model: (*name).into(),
                    version: v,
                    run_id: run,
                    created,
                    status: "READY".into(),
                    tags: BTreeMap::from([
                        ("image".into(), image_of(name, v)),
                        ("validation_status".into(), validation.into()),
                        ("data.residency".into(), resident.into()),
                    ]),
                });
            }
            let mut aliases = BTreeMap::new();
            let champion = if count > 1 { count - 1 } else { count };
            aliases.insert("champion".into(), champion);
            if count > champion {
                aliases.insert("challenger".into(), count);
            }
            self.models.push(RegisteredModel {
                name: (*name).into(),
                description: format!("{name} served from the {} experiment", exp.name),
                aliases,
                tags: BTreeMap::from([
                    ("owner".into(), format!("team-{}", exp.name)),
                    ("tier".into(), if mi < 16 { "1" } else { "2" }.into()),
                ]),
                versions,
            });
        }
    }

    pub(super) fn champion(&self, model: &str) -> u32 {
        self.models
            .iter()
            .find(|m| m.name == model)
            .and_then(|m| m.aliases.get("champion").copied())
            .unwrap_or(1)
    }

    pub(super) fn build_serving(&mut self) {
        for (model, cluster, replicas, _) in SERVED {
            let version = self.champion(model);
            self.deployments.push(Deployment {
                name: model.into(),
                namespace: SERVING_NAMESPACE.into(),
                cluster: cluster.into(),
                model: model.into(),
                version,
                track: Track::Stable,
                replicas,
                ready_replicas: 0,
                image: image_of(model, version),
                slo: None,
            });
        }
        self.sync_pods();
    }

    pub(super) fn build_features(&mut self) {
        for (model, feature, mean, sd, drift_rate) in FEATURES {
            let version = self.champion(model);
            let mut rng = Rng::fork(self.seed, &format!("ref/{model}/{feature}"));
            let reference: Vec<f64> = (0..REFERENCE_SAMPLE)
                .map(|_| mean + sd * rng.normal())
                .collect();
            let lo = mean - 4.0 * sd;
            let edges: Vec<f64> = (0..=24).map(|i| lo + f64::from(i) * sd / 3.0).collect();
            let reference_counts = drift::histogram(&reference, &edges);
            self.features.push(SimFeature {
                model: model.into(),
                version,
                feature: feature.into(),
                mean,
                sd,
                drift_sd_per_hour: drift_rate,
                edges,
                current_counts: reference_counts.clone(),
                reference_counts,
                report: None,
                psi_history: VecDeque::new(),
                status_history: VecDeque::new(),
            });
        }
        self.refresh_drift();
    }
}
