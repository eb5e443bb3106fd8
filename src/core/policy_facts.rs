//! The facts the policy gates are decided on, gathered from the registry through its port: the
//! version's tags, its run's metric, the champion's. Apart from `policy`, which stays pure (and
//! is imported by `rollout`), since gathering needs the ports, which import `rollout`.

use crate::{
    error::CoreError,
    policy::{Facts, Policy},
    ports::RegistryPort,
    rollout::CHAMPION_ALIAS,
};

/// The facts the gates of `rules` are decided on, from the registry: the version's tags, its
/// run's metric and the champion's; `regions` are the cluster's node regions.
pub async fn gather(
    registry: &dyn RegistryPort,
    rules: &Policy,
    (model, version): (&str, u32),
    cluster: &str,
    mut regions: Vec<String>,
    change: Option<&str>,
) -> Result<Facts, CoreError> {
    let m = registry.model(model).await?;
    let v = m.require_version(version)?;
    let metric_of = async |run: Option<&String>| -> Result<Option<f64>, CoreError> {
        let (Some(rule), Some(run)) = (rules.metric.as_ref(), run) else {
            return Ok(None);
        };
        Ok(registry.run(run).await?.metrics.get(&rule.name).copied())
    };
    let version_metric = metric_of(v.run_id.as_ref()).await?;
    let champion = match m
        .aliases
        .get(CHAMPION_ALIAS)
        .copied()
        .filter(|c| *c != version)
    {
        Some(cv) => Some((
            cv,
            metric_of(m.version(cv).and_then(|x| x.run_id.as_ref())).await?,
        )),
        None => None,
    };
    regions.retain(|r| !r.is_empty());
    regions.sort();
    regions.dedup();
    Ok(Facts {
        model: model.to_string(),
        version,
        version_tags: v.tags.clone(),
        version_metric,
        champion,
        cluster: cluster.to_string(),
        cluster_regions: regions,
        change: change.map(str::to_string),
    })
}

/// The policy gates of a rollout about to be promoted, as whoever drives it decides them — the
/// controller on the cluster and the demo alike: none without a recorded policy, unchecked
/// until it is due (`rollout::gates_due`), then decided again on fresh facts from the registry
/// and `regions` (the cluster's node regions). What cannot be gathered keeps it waiting.
pub async fn gates(
    registry: &dyn RegistryPort,
    record: &crate::rollout::RolloutRecord,
    regions: Vec<String>,
) -> crate::rollout::Gates {
    use crate::rollout::Gates;
    let Some(recorded) = record.policy.as_ref() else {
        return Gates::None;
    };
    if !crate::rollout::gates_due(&record.status) {
        return Gates::Unchecked;
    }
    let model = (record.spec.model.name.as_str(), record.spec.model.version);
    match gather(
        registry,
        &recorded.rules,
        model,
        &recorded.start.cluster,
        regions,
        recorded.change.as_deref(),
    )
    .await
    {
        Ok(facts) => Gates::Decided(crate::policy::evaluate(&recorded.rules, &facts)),
        Err(e) => Gates::Unknown(e.to_string()),
    }
}
