//! Starting a ModelRollout: the one path `mlops rollout start` and the controller's
//! RolloutTriggers both take — the version's image from the registry, the policy gates of
//! policy.toml, the serving Deployment's replicas and version, the rollout with its annotations
//! (author, policy, regions; and for a trigger, which trigger and delivery) and its audit entry,
//! then the registry's tags.

use mlops_core::{
    CoreError, policy,
    ports::RegistryPort,
    rollout::{self, RolloutRecord, RolloutSpec},
};

use super::{KubeCluster, StartNote};
use crate::config::policy::PolicyFile;

/// Why a start failed: the core's error, or a version without an image to roll out.
#[derive(Debug, thiserror::Error)]
pub enum StartFailed {
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The registry records no image for the version: the user must name one.
    #[error("{0}; pass --image")]
    NoImage(CoreError),
}

/// A rollout to start, checked offline already (`rollout::validate`).
#[derive(Debug, Clone)]
pub struct StartPlan {
    pub namespace: String,
    pub name: String,
    /// Its `image` is taken from the registry unless `image_given`.
    pub spec: RolloutSpec,
    pub image_given: bool,
    /// The change ticket, where one was given.
    pub change: Option<String>,
    /// What started it, besides its author: annotations and the audit entry say so.
    pub origin: Option<Origin>,
}

/// A rollout a RolloutTrigger started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The trigger's name (in the rollout's namespace).
    pub trigger: String,
    /// MLflow's delivery id, or `poll`.
    pub delivery: String,
}

/// The gates of `file` for `model` v`version` in `namespace` of cluster `c`, and their verdict
/// now.
pub async fn policy_verdict(
    c: &KubeCluster,
    file: &PolicyFile,
    registry: &dyn RegistryPort,
    namespace: &str,
    (model, version): (&str, u32),
    change: Option<&str>,
) -> Result<policy::Recorded, CoreError> {
    let cluster = c.describe_context();
    let rules = file.for_target(&cluster, namespace);
    let regions = c.nodes().await?.into_iter().map(|n| n.region).collect();
    let facts = mlops_core::policy_facts::gather(
        registry,
        &rules,
        (model, version),
        &cluster,
        regions,
        change,
    )
    .await?;
    let start = policy::evaluate(&rules, &facts);
    Ok(policy::Recorded {
        rules,
        change: change.map(str::to_string),
        start,
    })
}

/// The `image` tag of a model version in the registry (`registry::version_image`).
async fn image_from_registry(
    registry: Option<&dyn RegistryPort>,
    model: &str,
    version: u32,
) -> Result<String, StartFailed> {
    let registry = registry.ok_or_else(|| {
        CoreError::not_configured(
            "the model registry (MLflow)",
            "set MLFLOW_TRACKING_URI or [mlflow] tracking_uri in config.toml",
        )
    })?;
    match mlops_core::registry::version_image(registry, model, version).await {
        Err(e @ CoreError::NotFound { kind, .. })
            if kind == mlops_core::registry::IMAGE_TAG_KIND =>
        {
            Err(StartFailed::NoImage(e))
        }
        found => Ok(found?),
    }
}

/// What a start did: the rollout, and the registry's tags when they could not be set (the
/// rollout is started and audited by then: a warning).
pub struct Started {
    pub rollout: RolloutRecord,
    pub untagged: Option<CoreError>,
}

/// Start `plan` on cluster `c`: its image, the policy gates (`policy`: the policy file, `None`
/// where there is none), the serving Deployment's replicas and version, then the rollout, and
/// the registry's tags.
pub async fn start_rollout(
    c: &KubeCluster,
    registry: Option<&dyn RegistryPort>,
    policy: Option<&PolicyFile>,
    mut plan: StartPlan,
) -> Result<Started, StartFailed> {
    let ns = plan.namespace.clone();
    let name = plan.name.clone();
    let (model, version) = (plan.spec.model.name.clone(), plan.spec.model.version);
    if !plan.image_given {
        plan.spec.image = image_from_registry(registry, &model, version).await?;
    }
    let ticket = plan.change.as_deref().map(str::trim).unwrap_or_default();
    let refused = |reason: String| CoreError::Refused {
        rollout: format!("{ns}/{name}"),
        command: "start".into(),
        reason,
    };
    if !ticket.is_empty() {
        mlops_core::policy::check_ticket(ticket).map_err(refused)?;
    }
    let mut note = StartNote {
        change: ticket.to_string(),
        origin: plan.origin.clone(),
        ..StartNote::default()
    };
    // The policy gates (policy.toml), before anything changes.
    if let Some(file) = policy {
        let registry = registry.ok_or_else(|| {
            CoreError::not_configured(
                "the model registry (MLflow), which the policy gates read",
                "set MLFLOW_TRACKING_URI or [mlflow] tracking_uri in config.toml",
            )
        })?;
        let recorded = policy_verdict(
            c,
            file,
            registry,
            &ns,
            (&model, version),
            plan.change.as_deref(),
        )
        .await?;
        if let Some(why) = recorded.start.refusal() {
            return Err(refused(why).into());
        }
        // Residency on a multi-region cluster: the pods are pinned to the regions allowed
        // (the canary's and, once promoted, the stable's).
        note.regions = recorded.start.pinned_regions.clone().unwrap_or_default();
        note.policy = Some(recorded);
    }
    let mut spec = plan.spec;
    let serving = c.serving(&ns, &spec.deployment).await?;
    spec.stable_version = serving.version;
    spec.replicas = serving.replicas.max(1);
    rollout::validate(&spec)?;
    let record = c.create_pinned_rollout(&ns, &name, spec, &note).await?;
    let mut untagged = None;
    if let Some(registry) = registry {
        let user = c.identity().await?;
        let tags = rollout::action_tags(
            rollout::START_ACTION,
            &user,
            chrono::Utc::now(),
            ticket,
            &record,
        );
        untagged = rollout::tag_version(registry, &record, &tags).await.err();
    }
    Ok(Started {
        rollout: record,
        untagged,
    })
}
