//! Rollouts in the simulation: created from the script, driven by the core's state machine, their
//! effects carried out on the simulated cluster and registry.

use std::sync::Mutex;

use super::{CONTROLLER, Sim, SimRollout, image_of, infra::SimInfra, run_now};
use crate::demo::{catalog::SERVING_NAMESPACE, rng::Rng, scenarios::Scenario};
use crate::{
    analysis::{BudgetRates, MetricCheck, MetricKind, Sample},
    audit::AuditRecord,
    error::CoreError,
    model::{Deployment, EventKind, RolloutSeries, Track},
    rollout::{
        self, AnalysisSpec, ApprovalGate, Command, Effect, Infrastructure, ModelRef, Observation,
        RolloutRecord, RolloutSpec, RolloutStatus,
    },
};

/// Requests a second each serving replica answers in the simulation.
const REQUESTS_PER_REPLICA: f64 = 40.0;

impl Sim {
    /// Create the rollout of scenario `s`, the `place`-th of the script.
    pub(super) fn create_rollout(&mut self, place: usize, s: &Scenario) {
        let version = s.version.unwrap_or(self.champion(s.model) + 1);
        let name = format!("{}-v{version}", s.model);
        self.create_rollout_as(place, s, &name, "ci-pipeline");
    }

    /// Create the rollout of scenario `s` named `name`, started by `actor` (the CI pipeline, or
    /// a RolloutTrigger).
    pub(super) fn create_rollout_as(
        &mut self,
        place: usize,
        s: &Scenario,
        name: &str,
        actor: &str,
    ) {
        let stable_version = self.champion(s.model);
        let version = s.version.unwrap_or(stable_version + 1);
        let replicas = self
            .deployments
            .iter()
            .find(|d| d.model == s.model && d.track == Track::Stable)
            .map_or(2, |d| d.replicas);
        let spec = RolloutSpec {
            model: ModelRef {
                name: s.model.into(),
                version,
            },
            stable_version,
            deployment: s.model.into(),
            image: image_of(s.model, version),
            replicas,
            http_route: s.route.map(str::to_string),
            steps: s.steps.clone(),
            analysis: analysis(s, version),
            approval: ApprovalGate {
                required: s.approvals,
            },
        };
        let name = name.to_string();
        let policy = s
            .policy
            .and_then(|validation| self.start_policy(s, version, validation));
        let mut rng = Rng::fork(self.seed, &name);
        self.rollouts.push(SimRollout {
            place,
            record: RolloutRecord {
                name: name.clone(),
                namespace: SERVING_NAMESPACE.into(),
                cluster: s.cluster.into(),
                created: self.now,
                spec,
                status: RolloutStatus::default(),
                policy,
            },
            canary_error: s.canary_error,
            canary_latency_ms: s.canary_latency_ms,
            canary_inputs: s.canary_inputs,
            stable_error: 0.006 + rng.range(0.0, 0.004),
            stable_latency_ms: 110.0 + rng.range(0.0, 60.0),
            series: RolloutSeries::default(),
        });
        self.event(
            s.cluster,
            &format!("modelrollout/{name}"),
            "Created",
            &format!("rollout of {} v{version} created by {actor}", s.model),
            EventKind::Normal,
        );
        let triggered = actor != "ci-pipeline";
        self.audit.append(AuditRecord {
            time: self.now,
            actor: actor.into(),
            action: if triggered {
                crate::triggers::TRIGGER_START_ACTION.into()
            } else {
                rollout::START_ACTION.into()
            },
            target: format!("{}/{}/{name}", s.cluster, SERVING_NAMESPACE),
            comment: if triggered {
                format!("{} v{version}, as {actor} asks", s.model)
            } else {
                format!("validated {} v{version}", s.model)
            },
            details: String::new(),
        });
    }

    /// The release policy a scenario's rollout starts under, its gates decided by the core on
    /// the facts the registry port gives (as `rollout start` records them): the canary version's
    /// `validation_status` set to `validation` first.
    /// `None` if the simulated registry cannot give the facts (a scenario naming a version
    /// the catalogue lacks): the rollout then starts under no policy rather than a made-up
    /// verdict.
    fn start_policy(
        &mut self,
        s: &Scenario,
        version: u32,
        validation: &str,
    ) -> Option<crate::policy::Recorded> {
        let _ = self.set_version_tag(s.model, version, "validation_status", validation);
        let rules = crate::demo::scenarios::release_policy();
        let regions = cluster_regions(s.cluster);
        let infra = SimInfra {
            sim: Mutex::new(self),
            cluster: s.cluster.into(),
        };
        let gathered = run_now(crate::policy_facts::gather(
            &infra,
            &rules,
            (s.model, version),
            s.cluster,
            regions,
            None,
        ));
        let facts = gathered?.ok()?;
        let start = crate::policy::evaluate(&rules, &facts);
        Some(crate::policy::Recorded {
            rules,
            change: None,
            start,
        })
    }

    /// A rollout's policy gates as the controller decides them (the same core function): none
    /// without a policy, unchecked until it is about to be promoted, then on fresh facts.
    fn gates(&mut self, idx: usize) -> rollout::Gates {
        let record = self.rollouts[idx].record.clone();
        let regions = cluster_regions(&record.cluster);
        let infra = SimInfra {
            sim: Mutex::new(self),
            cluster: record.cluster.clone(),
        };
        run_now(crate::policy_facts::gates(&infra, &record, regions)).unwrap_or_else(|| {
            rollout::Gates::Unknown("the simulated registry did not answer at once".into())
        })
    }

    /// Apply an operator command through the core, then carry out its effects.
    pub fn command(
        &mut self,
        cluster: &str,
        namespace: &str,
        name: &str,
        cmd: &Command,
    ) -> Result<RolloutRecord, CoreError> {
        let idx = self
            .rollouts
            .iter()
            .position(|r| {
                r.record.cluster == cluster
                    && r.record.namespace == namespace
                    && r.record.name == name
            })
            .ok_or_else(|| CoreError::NotFound {
                kind: "rollout",
                name: format!("{cluster}/{namespace}/{name}"),
            })?;
        let r = &self.rollouts[idx].record;
        let decision = rollout::apply_command(name, &r.spec, &r.status, cmd, self.now)?;
        let mut entry = rollout::command_audit(r, cmd, &decision.status, self.now);
        // One log for three clusters: a rollout's target names its cluster too.
        entry.target = format!("{cluster}/{}", entry.target);
        self.audit.append(entry);
        self.rollouts[idx].record.status = decision.status;
        self.apply_effects(idx, &decision.effects);
        Ok(self.rollouts[idx].record.clone())
    }

    fn canary_ready(&self, r: &RolloutRecord) -> bool {
        let (_, want) = rollout::replica_split(r.spec.replicas, r.status.weight);
        let canary = self.deployments.iter().find(|d| {
            d.cluster == r.cluster && d.model == r.spec.model.name && d.track == Track::Canary
        });
        match canary {
            Some(d) => d.replicas == want && d.ready_replicas == want,
            None => want == 0,
        }
    }

    pub(super) fn reconcile_rollouts(&mut self) {
        for idx in 0..self.rollouts.len() {
            if self.rollouts[idx].record.status.phase.is_terminal() {
                continue;
            }
            let gates = self.gates(idx);
            let r = &self.rollouts[idx];
            let samples = rollout::analysis_due(&r.record.spec, &r.record.status, self.now)
                .then(|| self.samples(r));
            let obs = Observation {
                now: self.now,
                canary_ready: self.canary_ready(&r.record),
                samples,
                generation: 1,
                gates,
            };
            let decision = rollout::reconcile(&r.record.spec, &r.record.status, &obs);
            self.rollouts[idx].record.status = decision.status;
            self.apply_effects(idx, &decision.effects);
        }
    }

    /// One analysis round of a rollout, drawn around its canary's and stable's error rate and
    /// latency: the values the metrics store would give each check's queries.
    fn samples(&self, r: &SimRollout) -> Vec<Sample> {
        let mut rng = Rng::fork(self.seed, &format!("{}/{}", r.record.name, self.rel()));
        let canary_error = (r.canary_error * (1.0 + 0.15 * rng.normal())).max(0.0);
        let stable_error = (r.stable_error * (1.0 + 0.15 * rng.normal())).max(0.0);
        let mut samples = vec![
            Sample {
                canary: Some(canary_error),
                stable: Some(stable_error),
                ..Sample::empty("error-rate")
            },
            Sample {
                canary: Some(r.canary_latency_ms * (1.0 + 0.05 * rng.normal())),
                stable: Some(r.stable_latency_ms * (1.0 + 0.05 * rng.normal())),
                ..Sample::empty("latency-p99")
            },
        ];
        let spec = &r.record.spec;
        for check in &spec.analysis.metrics {
            let Some(budget) = check
                .budget
                .as_ref()
                .filter(|_| check.kind == MetricKind::SloBurn)
            else {
                continue;
            };
            // The model's traffic, split between the tracks as the replicas are.
            let requests = REQUESTS_PER_REPLICA * f64::from(spec.replicas);
            let (_, canary_replicas) =
                rollout::replica_split(spec.replicas, r.record.status.weight);
            let canary_share = f64::from(canary_replicas) / f64::from(spec.replicas.max(1));
            let allowed = 1.0 - budget.objective;
            samples.push(Sample {
                canary: Some(canary_error / allowed),
                stable: Some(stable_error / allowed),
                budget: Some(BudgetRates {
                    canary_errors: canary_error * requests * canary_share,
                    requests,
                }),
                ..Sample::empty(check.name.clone())
            });
        }
        samples
    }

    /// Carry out a decision's effects on this simulation; a failure becomes a Warning event on
    /// the rollout, as the controller logs it.
    fn apply_effects(&mut self, idx: usize, effects: &[Effect]) {
        let record = self.rollouts[idx].record.clone();
        if let Err(e) = self.carry_out(&record, effects) {
            self.event(
                &record.cluster,
                &format!("modelrollout/{}", record.name),
                "EffectFailed",
                &e.to_string(),
                EventKind::Warning,
            );
        }
    }

    /// Carry out `effects` of `record` through the core's one interpreter (`rollout::carry_out`),
    /// with this simulation as the infrastructure: the same code the controller runs on a cluster.
    pub fn carry_out(
        &mut self,
        record: &RolloutRecord,
        effects: &[Effect],
    ) -> Result<(), CoreError> {
        let now = self.now;
        let sim = SimInfra {
            sim: Mutex::new(self),
            cluster: record.cluster.clone(),
        };
        let infra = Infrastructure {
            actor: CONTROLLER,
            workload: &sim,
            gateway_api: &sim,
            registry: Some(&sim),
            recorder: &sim,
        };
        run_now(rollout::carry_out(&infra, record, effects, now)).unwrap_or_else(|| {
            Err(CoreError::backend(
                "demo",
                "an effect did not complete at once",
            ))
        })
    }

    /// Scale the stable track of `model` in `cluster`.
    pub(super) fn scale_stable(&mut self, cluster: &str, model: &str, replicas: u32) {
        if let Some(d) = self
            .deployments
            .iter_mut()
            .find(|d| d.cluster == cluster && d.model == model && d.track == Track::Stable)
        {
            let scaled = (d.clone(), d.replicas);
            d.replicas = replicas;
            self.scaled(&scaled.0, scaled.1, replicas);
        }
    }

    /// The Event the Deployment controller leaves when it scales a Deployment's ReplicaSet.
    fn scaled(&mut self, d: &Deployment, from: u32, to: u32) {
        if from == to {
            return;
        }
        let hash = Rng::fork(self.seed, &d.image).hex(10);
        let way = if to > from { "up" } else { "down" };
        self.event(
            &d.cluster,
            &format!("deployment/{}", d.name),
            "ScalingReplicaSet",
            &format!(
                "Scaled {way} replica set {}-{hash} from {from} to {to}",
                d.name
            ),
            EventKind::Normal,
        );
    }

    /// The canary Deployment `<deployment>-canary` of a rollout: `replicas` of its version and
    /// image (as the Kubernetes wing applies it).
    pub(super) fn apply_canary(&mut self, cluster: &str, rollout: &RolloutSpec, replicas: u32) {
        let model = rollout.model.name.as_str();
        if let Some(d) = self
            .deployments
            .iter_mut()
            .find(|d| d.cluster == cluster && d.model == model && d.track == Track::Canary)
        {
            let from = d.replicas;
            d.replicas = replicas;
            d.version = rollout.model.version;
            d.image.clone_from(&rollout.image);
            let d = d.clone();
            self.scaled(&d, from, replicas);
            return;
        }
        if replicas == 0 {
            return;
        }
        let name = format!("{}-canary", rollout.deployment);
        self.event(
            cluster,
            &format!("deployment/{name}"),
            "ScalingReplicaSet",
            &format!(
                "Scaled up replica set {name}-{} from 0 to {replicas}",
                Rng::fork(self.seed, &rollout.image).hex(10)
            ),
            EventKind::Normal,
        );
        self.deployments.push(Deployment {
            name: format!("{}-canary", rollout.deployment),
            namespace: SERVING_NAMESPACE.into(),
            cluster: cluster.into(),
            model: model.into(),
            version: rollout.model.version,
            track: Track::Canary,
            replicas,
            ready_replicas: 0,
            image: rollout.image.clone(),
            slo: None,
        });
    }

    pub(super) fn set_stable_version(
        &mut self,
        cluster: &str,
        model: &str,
        version: u32,
        image: &str,
        replicas: u32,
    ) {
        if let Some(d) = self
            .deployments
            .iter_mut()
            .find(|d| d.cluster == cluster && d.model == model && d.track == Track::Stable)
        {
            let before = d.clone();
            d.version = version;
            d.image = image.to_string();
            d.replicas = replicas;
            let after = d.clone();
            if before.image == after.image {
                self.scaled(&after, before.replicas, replicas);
            } else {
                // A rolling update: a new ReplicaSet up, the old one down.
                self.scaled(&after, 0, replicas);
                self.scaled(&before, before.replicas, 0);
            }
        }
        // A rolling update: the old pods go, new ones start.
        self.pods.retain(|p| {
            !(p.cluster == cluster
                && p.model.as_deref() == Some(model)
                && p.track == Track::Stable
                && p.version != Some(version))
        });
        self.sync_pods();
    }
}

/// The analysis of a scenario's rollout of `version`: the model servers' error rate and p99
/// latency, canary against stable, and its `slo_burn` check where it has one.
fn analysis(s: &Scenario, version: u32) -> AnalysisSpec {
    let q = |track: &str, what: &str| match what {
        "err" => format!(
            "sum(rate(model_requests_total{{model=\"{}\",track=\"{track}\",code=~\"5..\"}}[1m])) / sum(rate(model_requests_total{{model=\"{}\",track=\"{track}\"}}[1m]))",
            s.model, s.model
        ),
        _ => format!(
            "histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{model=\"{}\",track=\"{track}\"}}[1m]))) * 1000",
            s.model
        ),
    };
    let mut analysis = AnalysisSpec {
        interval_seconds: s.interval,
        failure_limit: s.failure_limit,
        metrics: vec![
            MetricCheck {
                name: "error-rate".into(),
                kind: MetricKind::ErrorRate,
                canary_query: q("canary", "err"),
                stable_query: Some(q("stable", "err")),
                max: Some(0.05),
                max_ratio_to_stable: Some(2.0),
                budget: None,
            },
            MetricCheck {
                name: "latency-p99".into(),
                kind: MetricKind::LatencyP99,
                canary_query: q("canary", "p99"),
                stable_query: Some(q("stable", "p99")),
                max: Some(400.0),
                max_ratio_to_stable: Some(1.5),
                budget: None,
            },
        ],
    };
    if let Some(slo) = &s.slo_burn {
        analysis.metrics.push(rollout::slo_burn_check(
            s.model,
            version,
            slo.objective,
            slo.max_burn,
            s.interval,
            rollout::SLO_WINDOW_SECONDS,
        ));
    }
    analysis
}

/// The node regions of a demo cluster.
fn cluster_regions(cluster: &str) -> Vec<String> {
    crate::demo::catalog::CLUSTERS
        .iter()
        .filter(|(c, _, _)| *c == cluster)
        .map(|(_, region, _)| (*region).to_string())
        .collect()
}
