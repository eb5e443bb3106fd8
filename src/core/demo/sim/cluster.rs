//! The simulated cluster's own controllers: the ReplicaSet controller, the scheduler, the kubelet
//! (pods start after a delay) and GPU load.

use super::{POD_START_SECONDS, Sim};
use crate::demo::rng::Rng;
use crate::model::{Pod, PodPhase, Track};

impl Sim {
    /// Make the pods match the deployments, as the `ReplicaSet` controller and the scheduler would.
    pub(super) fn sync_pods(&mut self) {
        self.deployments
            .retain(|d| d.replicas > 0 || d.track == Track::Stable);
        let mut rng = Rng::fork(self.seed, &format!("pods/{}", self.rel()));
        for d in self.deployments.clone() {
            let mine = |p: &Pod| {
                p.cluster == d.cluster
                    && p.model.as_deref() == Some(d.model.as_str())
                    && p.track == d.track
            };
            let have = self.pods.iter().filter(|p| mine(p)).count() as u32;
            if have > d.replicas {
                let mut excess = have - d.replicas;
                while excess > 0 {
                    if let Some(pos) = self.pods.iter().rposition(&mine) {
                        let p = self.pods.remove(pos);
                        self.pod_started.remove(&p.name);
                    }
                    excess -= 1;
                }
            }
            for _ in have..d.replicas {
                self.pod_counter += 1;
                let name = format!("{}-{}-{}", d.name, rng.hex(5), rng.hex(5));
                self.pod_started.insert(name.clone(), self.now);
                self.pods.push(Pod {
                    name,
                    namespace: d.namespace.clone(),
                    cluster: d.cluster.clone(),
                    node: None,
                    phase: PodPhase::Pending,
                    model: Some(d.model.clone()),
                    version: Some(d.version),
                    track: d.track,
                    gpus: 1,
                    image: d.image.clone(),
                });
            }
        }
        // Drop pods whose deployment is gone.
        let deployments = &self.deployments;
        self.pods.retain(|p| {
            deployments.iter().any(|d| {
                d.cluster == p.cluster
                    && Some(d.model.as_str()) == p.model.as_deref()
                    && d.track == p.track
            })
        });
        self.schedule();
        self.sync_ready();
    }

    pub(super) fn schedule(&mut self) {
        // Free the GPUs of pods that are gone.
        let live: std::collections::HashSet<(String, String)> = self
            .pods
            .iter()
            .map(|p| (p.cluster.clone(), p.name.clone()))
            .collect();
        for g in &mut self.gpus {
            if let Some(pod) = &g.gpu.pod
                && !live.contains(&(g.gpu.cluster.clone(), pod.clone()))
            {
                g.gpu.pod = None;
                g.gpu.namespace = None;
                g.gpu.model = None;
                g.gpu.version = None;
                g.target = 0.0;
            }
        }
        for p in self.pods.iter_mut().filter(|p| p.node.is_none()) {
            if let Some(g) = self
                .gpus
                .iter_mut()
                .find(|g| g.gpu.cluster == p.cluster && g.gpu.pod.is_none())
            {
                g.gpu.pod = Some(p.name.clone());
                g.gpu.namespace = Some(p.namespace.clone());
                g.gpu.model.clone_from(&p.model);
                g.gpu.version = p.version;
                p.node = Some(g.gpu.node.clone());
            }
        }
        let now = self.now;
        for p in &mut self.pods {
            if p.phase == PodPhase::Pending
                && p.node.is_some()
                && self
                    .pod_started
                    .get(&p.name)
                    .is_none_or(|t| (now - *t).num_seconds() >= POD_START_SECONDS)
            {
                p.phase = PodPhase::Running;
            }
        }
    }

    pub(super) fn sync_ready(&mut self) {
        for d in &mut self.deployments {
            d.ready_replicas = self
                .pods
                .iter()
                .filter(|p| {
                    p.cluster == d.cluster
                        && p.model.as_deref() == Some(d.model.as_str())
                        && p.track == d.track
                        && p.phase == PodPhase::Running
                })
                .count() as u32;
        }
    }

    pub(super) fn move_gpus(&mut self) {
        let idle_models = &self.idle_models;
        for g in &mut self.gpus {
            if g.gpu.pod.is_some() && g.target == 0.0 {
                let idle = g
                    .gpu
                    .model
                    .as_deref()
                    .is_some_and(|m| idle_models.contains(&m));
                g.target = if idle {
                    self.rng.range(0.5, 3.0)
                } else {
                    self.rng.range(35.0, 92.0)
                };
            }
            let noise = if g.gpu.pod.is_some() && g.target > 5.0 {
                self.rng.normal() * 3.0
            } else {
                self.rng.normal() * 0.3
            };
            let util =
                (g.gpu.util_pct + (g.target - g.gpu.util_pct) * 0.15 + noise).clamp(0.0, 100.0);
            g.gpu.util_pct = (util * 10.0).round() / 10.0;
            g.gpu.mem_used_mib = if g.gpu.pod.is_some() {
                (18_000.0 + g.target * 520.0).round()
            } else {
                512.0
            };
            g.gpu.power_w = (62.0 + g.gpu.util_pct * 6.1).round();
            g.gpu.temp_c = (31.0 + g.gpu.util_pct * 0.42).round();
        }
    }
}
