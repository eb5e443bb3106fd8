//! The simulation as the ports a rollout's effects go through (`rollout::Infrastructure`), for one
//! rollout's cluster: its Deployments (`Workload`), its HTTPRoutes (the Gateway API router), the
//! registry (`RegistryPort`, answered from the same state as the platform's) and the event stream
//! and audit log (`Recorder`). The changes are the primitive ones the Kubernetes wing makes; what
//! they add up to is decided by the core's `carry_out` alone.

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::Sim;
use crate::{
    audit::AuditRecord,
    error::CoreError,
    model::{
        EventKind, Experiment, LoggedModel, MetricPoint, RegisteredModel, Run, RunPage, RunQuery,
    },
    ports::RegistryPort,
    rollout::{Recorder, RolloutRecord, TrafficRouter, Workload},
};

/// The simulation, locked for the effects of one decision on the rollout's `cluster`.
pub(super) struct SimInfra<'a> {
    pub(super) sim: Mutex<&'a mut Sim>,
    pub(super) cluster: String,
}

impl<'a> SimInfra<'a> {
    fn sim(&self) -> MutexGuard<'_, &'a mut Sim> {
        self.sim.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Workload for SimInfra<'_> {
    async fn split_replicas(
        &self,
        r: &RolloutRecord,
        stable: u32,
        canary: u32,
    ) -> Result<(), CoreError> {
        let mut sim = self.sim();
        sim.scale_stable(&self.cluster, &r.spec.model.name, stable);
        sim.apply_canary(&self.cluster, &r.spec, canary);
        Ok(())
    }

    async fn replace_stable(
        &self,
        r: &RolloutRecord,
        version: u32,
        image: &str,
    ) -> Result<(), CoreError> {
        let mut sim = self.sim();
        let model = &r.spec.model.name;
        sim.apply_canary(&self.cluster, &r.spec, 0);
        sim.set_stable_version(&self.cluster, model, version, image, r.spec.replicas);
        Ok(())
    }
}

/// The simulated Gateway API: the rollout's HTTPRoute's backend weights.
#[async_trait]
impl TrafficRouter for SimInfra<'_> {
    async fn set_weight(&self, r: &RolloutRecord, canary: u8) -> Result<(), CoreError> {
        let Some(route) = &r.spec.http_route else {
            return Ok(());
        };
        let canary = canary.min(100);
        self.sim().routes.insert(
            (self.cluster.clone(), r.namespace.clone(), route.clone()),
            (100 - canary, canary),
        );
        Ok(())
    }
}

#[async_trait]
impl Recorder for SimInfra<'_> {
    async fn event(
        &self,
        r: &RolloutRecord,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> Result<(), CoreError> {
        let kind = if warning {
            EventKind::Warning
        } else {
            EventKind::Normal
        };
        self.sim().event(
            &self.cluster,
            &format!("modelrollout/{}", r.name),
            reason,
            message,
            kind,
        );
        Ok(())
    }

    async fn audit(&self, mut record: AuditRecord) -> Result<(), CoreError> {
        // One log for three clusters: a rollout's target names its cluster too.
        if !record.target.contains('@') {
            record.target = format!("{}/{}", self.cluster, record.target);
        }
        self.sim().audit.append(record);
        Ok(())
    }
}

/// The registry as the platform's `RegistryPort` shows it (the same `Sim` methods answer both).
#[async_trait]
impl RegistryPort for SimInfra<'_> {
    fn describe(&self) -> String {
        "demo registry".into()
    }

    async fn experiments(&self) -> Result<Vec<Experiment>, CoreError> {
        Ok(self.sim().experiments.clone())
    }

    async fn runs(&self, experiment_id: &str) -> Result<Vec<Run>, CoreError> {
        self.sim().experiment_runs(experiment_id)
    }

    async fn runs_page(
        &self,
        query: &RunQuery,
        page_token: Option<&str>,
    ) -> Result<RunPage, CoreError> {
        self.sim().runs_page(query, page_token)
    }

    async fn run(&self, run_id: &str) -> Result<Run, CoreError> {
        self.sim().run(run_id)
    }

    async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, CoreError> {
        self.sim().metric_history(run_id, key)
    }

    async fn logged_models(
        &self,
        experiment_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<LoggedModel>, CoreError> {
        Ok(self.sim().logged_models(experiment_id, run_id))
    }

    async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError> {
        Ok(self.sim().models.clone())
    }

    async fn model(&self, name: &str) -> Result<RegisteredModel, CoreError> {
        self.sim().model(name).cloned()
    }

    async fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: u32,
    ) -> Result<Option<u32>, CoreError> {
        self.sim().set_alias(model, alias, version)
    }

    async fn set_version_tag(
        &self,
        model: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<(), CoreError> {
        self.sim().set_version_tag(model, version, key, value)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::registry::{IMAGE_TAG, IMAGE_TAG_KIND, version_image};

    #[test]
    fn a_rollouts_effects_read_images_from_the_registry_the_platform_shows() {
        let mut sim = Sim::new(7, Utc::now());
        let (model, tagged, untagged) = {
            let m = &mut sim.models[0];
            let untagged = m.versions[0].version;
            m.versions[0].tags.remove(IMAGE_TAG);
            let tagged = m
                .versions
                .last()
                .map(|v| (v.version, v.image().map(str::to_string)));
            (m.name.clone(), tagged, untagged)
        };
        let infra = SimInfra {
            sim: Mutex::new(&mut sim),
            cluster: "uae-prod".into(),
        };
        let (version, image) = tagged.expect("a version");
        let found = super::super::run_now(version_image(&infra, &model, version)).expect("done");
        assert_eq!(found.ok(), image);
        let missing = super::super::run_now(version_image(&infra, &model, untagged)).expect("done");
        assert!(
            matches!(&missing, Err(CoreError::NotFound { kind, .. }) if *kind == IMAGE_TAG_KIND),
            "{missing:?}"
        );
    }
}
