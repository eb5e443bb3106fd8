//! The console on several clusters at once (`--context a,b`, `--all-contexts`).

#[allow(clippy::wildcard_imports)]
use super::*;

/// The registry, the metrics store and the ports of several clusters (`--context a,b`,
/// `--all-contexts`): one `KubeCluster` per context behind a `MultiCluster`. A context that
/// cannot be set up stays in the set, down with its reason. `:ctx NAME` narrows the views to
/// one of them instead of connecting elsewhere.
pub(super) async fn real_multi(options: &Options, driver_id: &str, drive: bool) -> Backends {
    let mut problems = Vec::new();
    let mut info = BackendInfo::default();
    let names = match options.read_contexts() {
        Ok(names) => names.into_iter().flatten().collect::<Vec<_>>(),
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let mut members = Vec::new();
    let mut live = Vec::new();
    let mut audits: Vec<(String, Arc<dyn AuditPort>)> = Vec::new();
    for name in names {
        match KubeCluster::connect_with(Some(&name), options.namespace.as_deref(), options.timeout)
            .await
        {
            Ok(c) => {
                let c = if drive {
                    c.with_driver_id(driver_id)
                } else {
                    c
                };
                live.push(c.clone());
                audits.push((name.clone(), Arc::new(c.clone())));
                members.push(multi::Member {
                    name,
                    port: Arc::new(c),
                });
            }
            Err(error) => {
                problems.push(format!("{name}: {error}"));
                let unusable = Arc::new(multi::Unusable {
                    name: name.clone(),
                    error,
                });
                audits.push((name.clone(), unusable.clone()));
                members.push(multi::Member {
                    port: unusable,
                    name,
                });
            }
        }
    }
    let set = (!members.is_empty()).then(|| Arc::new(multi::MultiCluster::new(members)));
    info.cluster = set.as_ref().map(|s| s.describe());
    let registry = registry_port(options, &mut info, &mut problems);
    // One Prometheus for the set: its series name their cluster themselves.
    let metrics = metrics_ports(options, None, registry.as_ref(), &mut info, &mut problems);
    let prometheus = metrics.prometheus;
    let ports = event_loop::Context {
        cluster: set.clone().map(|s| s as Arc<dyn ClusterPort>),
        registry: registry.clone(),
        metrics: metrics.drift,
        audit: audits
            .first()
            .map(|(_, a)| Arc::new(multi::FirstAudit(a.clone())) as Arc<dyn AuditPort>),
        serving: metrics.serving,
        serving_windows: options.settings.slo.config().ratio_windows(),
        clock: Arc::new(Utc::now),
        timeout: options.timeout,
        runs_page_size: options.settings.mlflow.runs_page_size(),
        switcher: set.map(|s| narrower(s, audits)),
    };
    let embedded = live
        .into_iter()
        .filter(|_| drive)
        .map(|cluster| {
            embedded_driver(
                cluster,
                prometheus.clone(),
                registry.clone(),
                driver_id,
                options,
            )
        })
        .collect();
    Backends {
        ports,
        info,
        problems,
        embedded,
    }
}

/// `:ctx NAME` with several clusters: narrow the views to that one (its own audit log with it);
/// `:ctx all` shows every one again. `:ns` cannot change the namespace of a set.
fn narrower(
    set: Arc<multi::MultiCluster>,
    audits: Vec<(String, Arc<dyn AuditPort>)>,
) -> event_loop::Switcher {
    Arc::new(move |context, namespace| {
        let (set, audits) = (set.clone(), audits.clone());
        Box::pin(async move {
            if !matches!(namespace, Namespace::Keep) {
                return Err(format!(
                    "this console shows several clusters ({}): start it with -n NAMESPACE to list one namespace",
                    set.names().join(", ")
                ));
            }
            let to = context.filter(|c| !c.eq_ignore_ascii_case("all"));
            let narrowed = set.narrowed(to.as_deref()).map_err(|e| e.to_string())?;
            let audit = audits
                .iter()
                .find(|(name, _)| to.as_ref() == Some(name))
                .or(audits.first())
                .map(|(_, a)| a.clone())
                .ok_or_else(|| "no cluster".to_string())?;
            Ok(event_loop::Switched {
                describe: ClusterPort::describe(&narrowed),
                cluster: Arc::new(narrowed),
                audit,
            })
        })
    })
}
