//! The controller's own objects, from one source: the ServiceAccount, its least-privilege role
//! (every rule with its reason), the Deployment, the PodDisruptionBudget and the metrics Service.
//! `mlops install` applies them (`--controller` adds the workload), `mlops install --dry-run`
//! prints them, and `deploy/kustomize` and `deploy/helm` are generated from that print.
//!
//! The rules say exactly what the controller calls — grep the adapter before adding one, and
//! add it to [`ROLLOUT_RULES`] (where rollouts live) or [`LEASE_RULES`] / [`AUDIT_RULES`] (the
//! controller's own namespace, the audit log's) with the reason; the reasons go into the role's
//! `mlops.dev/rule-reasons` annotation and, as comments, into the YAML.

use serde_json::{Value, json};

use super::names::{CONTROLLER_ACCOUNT, RECONCILE_VERB, SYSTEM_NAMESPACE};

/// One RBAC rule and why the controller needs it.
pub struct Rule {
    pub api_groups: &'static [&'static str],
    pub resources: &'static [&'static str],
    pub verbs: &'static [&'static str],
    /// Only these objects, by name (`resourceNames`); empty: every one.
    pub resource_names: &'static [&'static str],
    pub why: &'static str,
}

/// Where the rollouts live: granted cluster-wide (a ClusterRole), or in the one namespace a
/// namespace-scoped controller watches (a Role).
pub const ROLLOUT_RULES: &[Rule] = &[
    Rule {
        api_groups: &["mlops.dev"],
        resources: &["modelrollouts"],
        verbs: &["get", "list", "watch", RECONCILE_VERB],
        resource_names: &[],
        why: "watches ModelRollouts and reads one before each pass; `reconcile` exempts its status writes from the command admission policy",
    },
    Rule {
        api_groups: &["mlops.dev"],
        resources: &["modelrollouts/status"],
        verbs: &["update", "patch"],
        resource_names: &[],
        why: "writes each pass's status (a replace with the resourceVersion it read), marks a command audited, and records the notifications of a finished rollout (a merge patch)",
    },
    Rule {
        api_groups: &["mlops.dev"],
        resources: &["modelrollouts"],
        verbs: &["create"],
        resource_names: &[],
        why: "starts the rollout a RolloutTrigger calls for, named after the trigger and the version (a second create is refused: exactly one per version)",
    },
    Rule {
        api_groups: &["mlops.dev"],
        resources: &["rollouttriggers"],
        verbs: &["get", "list", "watch"],
        resource_names: &[],
        why: "reads the RolloutTriggers an MLflow delivery or the registry poll is matched against",
    },
    Rule {
        api_groups: &["mlops.dev"],
        resources: &["rollouttriggers/status"],
        verbs: &["get", "patch"],
        resource_names: &[],
        why: "keeps each trigger's status: the last event, verified or rejected, the rollout it started, the poll's cursor, Ready",
    },
    Rule {
        api_groups: &["apps"],
        resources: &["deployments"],
        verbs: &["get", "list", "watch", "create", "patch"],
        resource_names: &[],
        why: "reads the serving Deployment, watches the canaries (label mlops.dev/track=canary), applies the <deployment>-canary Deployment (create on first apply) and patches replicas and the promoted template",
    },
    Rule {
        api_groups: &[""],
        resources: &["services"],
        verbs: &["get", "create", "patch"],
        resource_names: &[],
        why: "only with spec.httpRoute: reads the stable Service's port and applies the <deployment>-canary Service",
    },
    Rule {
        api_groups: &["gateway.networking.k8s.io"],
        resources: &["httproutes"],
        verbs: &["get", "patch"],
        resource_names: &[],
        why: "only with spec.httpRoute: reads the route and sets its backend weights",
    },
    Rule {
        api_groups: &[""],
        resources: &["events"],
        verbs: &["create"],
        resource_names: &[],
        why: "records an Event for every rollout transition, and for a notification that failed or is misconfigured",
    },
    Rule {
        api_groups: &[""],
        resources: &["configmaps", "secrets"],
        verbs: &["get"],
        resource_names: &[mlops_core::notify::config::CONFIG_NAME],
        why: "reads each namespace's notification destinations (ConfigMap) and their URLs (Secret), by that one name only",
    },
];

/// In the controller's own namespace only (where its Lease is): the Lease the replicas compete
/// for, and the webhook's shared secret.
pub const LEASE_RULES: &[Rule] = &[
    Rule {
        api_groups: &["coordination.k8s.io"],
        resources: &["leases"],
        verbs: &["get", "create", "update"],
        resource_names: &[],
        why: "leader election: reads, takes and renews the Lease mlops-controller (no list, no delete)",
    },
    Rule {
        api_groups: &[""],
        resources: &["secrets"],
        verbs: &["get"],
        resource_names: &[crate::adapters::kube::triggers::WEBHOOK_SECRET_NAME],
        why: "verifies MLflow's webhook deliveries with the shared secret in the Secret mlops-webhook beside the Lease (--webhook-secret), that one only",
    },
];

/// The audit log's ConfigMaps, in `mlops-system` only (they are never changed once written).
pub const AUDIT_RULES: &[Rule] = &[Rule {
    api_groups: &[""],
    resources: &["configmaps"],
    verbs: &["get", "list", "create"],
    resource_names: &[],
    why: "appends the audit log's entries (ConfigMaps mlops-audit-*): reads the chain's head, creates the next entry; never updates or deletes one",
}];

/// The annotation on a role with the reason of each of its rules, in order (JSON has no comments).
pub const REASONS_ANNOTATION: &str = "mlops.dev/rule-reasons";
/// The image `mlops install --controller` runs unless told otherwise.
pub const DEFAULT_IMAGE: &str = "ghcr.io/mlops-console/mlops:0.1.0";
pub const DEFAULT_REPLICAS: u16 = 2;
/// The port of `/metrics`, `/healthz` and `/readyz` in the pod.
pub const METRICS_PORT: u16 = 9090;
/// The numeric user and group the container runs as (the Containerfile's `USER`).
pub const RUN_AS: i64 = 65532;

/// What an install of the controller is cut to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The namespace of the ServiceAccount and the workload.
    pub namespace: String,
    pub image: String,
    pub replicas: u16,
    /// Watch only `namespace`, with Roles there (no ClusterRole), the Lease there too.
    pub namespace_scoped: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            namespace: SYSTEM_NAMESPACE.into(),
            image: DEFAULT_IMAGE.into(),
            replicas: DEFAULT_REPLICAS,
            namespace_scoped: false,
        }
    }
}

fn labels() -> Value {
    json!({
        "app.kubernetes.io/name": "mlops-controller",
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/part-of": "mlops",
    })
}

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({"name": name, "labels": labels()});
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

/// A role (`Role` in `namespace`, or a `ClusterRole`) with `rules`, their reasons annotated.
pub fn role(name: &str, namespace: Option<&str>, rules: &[&Rule]) -> Value {
    let reasons: Vec<String> = rules
        .iter()
        .map(|r| format!("{}: {}", r.resources.join(","), r.why))
        .collect();
    let mut meta = metadata(name, namespace);
    meta["annotations"] = json!({REASONS_ANNOTATION: reasons.join("\n")});
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": if namespace.is_some() { "Role" } else { "ClusterRole" },
        "metadata": meta,
        "rules": rules.iter().map(|r| {
            let mut rule = json!({
                "apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs,
            });
            if !r.resource_names.is_empty() {
                rule["resourceNames"] = json!(r.resource_names);
            }
            rule
        }).collect::<Vec<_>>(),
    })
}

/// The reasons of a role this module made, in the order of its rules (for YAML comments).
pub fn reasons(role: &Value) -> Vec<String> {
    role["metadata"]["annotations"][REASONS_ANNOTATION]
        .as_str()
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

fn binding(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    role: &Value,
    account_ns: &str,
) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
        "metadata": metadata(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role["kind"], "name": role["metadata"]["name"]},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_ACCOUNT, "namespace": account_ns}],
    })
}

/// The ServiceAccount and what it may do: the rollout rules cluster-wide (or in the watched
/// namespace), the Lease and the audit log in their namespaces.
pub fn access(s: &Settings) -> Vec<Value> {
    let ns = s.namespace.as_str();
    let name = CONTROLLER_ACCOUNT;
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name, Some(ns))});
    let mut out = vec![account];
    if s.namespace_scoped {
        // Everything in the one namespace. The audit log lives in mlops-system, which a team
        // without cluster-admin cannot grant: a cluster admin binds mlops-audit-writer there.
        let rules: Vec<&Rule> = ROLLOUT_RULES.iter().chain(LEASE_RULES).collect();
        let role = role(name, Some(ns), &rules);
        out.push(binding("RoleBinding", name, Some(ns), &role, ns));
        out.insert(1, role);
        return out;
    }
    let cluster = role(name, None, &ROLLOUT_RULES.iter().collect::<Vec<_>>());
    out.push(binding("ClusterRoleBinding", name, None, &cluster, ns));
    out.insert(1, cluster);
    let own: Vec<&Rule> = LEASE_RULES.iter().chain(AUDIT_RULES).collect();
    let own = role(name, Some(SYSTEM_NAMESPACE), &own);
    out.push(binding(
        "RoleBinding",
        name,
        Some(SYSTEM_NAMESPACE),
        &own,
        ns,
    ));
    out.insert(2, own);
    out
}

/// The controller's container: strict securityContext, probes on the metrics port.
fn container(s: &Settings) -> Value {
    let mut args = vec![
        json!("controller"),
        json!("--id=$(POD_NAME)"),
        json!(format!("--metrics-addr=:{METRICS_PORT}")),
    ];
    let mut env = vec![
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
    ];
    if s.namespace_scoped {
        // From the pod, so a Kustomize `namespace:` or Helm's --namespace moves it along.
        env.push(json!({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}));
        args.push(json!("--watch-namespace=$(POD_NAMESPACE)"));
    }
    let probe = |path: &str, failures: u16| {
        json!({
            "httpGet": {"path": path, "port": "metrics"},
            "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": failures,
        })
    };
    json!({
        "name": "controller",
        "image": s.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "env": env,
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        // /healthz fails only after the loop has stalled for minutes; /readyz until the
        // rollouts are listed and the lease read.
        "livenessProbe": probe("/healthz", 3),
        "readinessProbe": probe("/readyz", 1),
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    })
}

/// The Deployment, its PodDisruptionBudget and the metrics Service.
pub fn workload(s: &Settings) -> Vec<Value> {
    let ns = Some(s.namespace.as_str());
    let selector = json!({"app.kubernetes.io/name": "mlops-controller"});
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": metadata("mlops-controller", ns),
        "spec": {
            "replicas": s.replicas,
            "selector": {"matchLabels": selector},
            // A new replica is ready before an old one goes: one always holds or waits for the Lease.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels()},
                "spec": {
                    "serviceAccountName": CONTROLLER_ACCOUNT,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    // The controller releases the Lease within 2 s of SIGTERM.
                    "terminationGracePeriodSeconds": 10,
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": selector}},
                    }]}},
                    "containers": [container(s)],
                },
            },
        },
    });
    let pdb = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": metadata("mlops-controller", ns),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": metadata("mlops-controller-metrics", ns),
        "spec": {
            "selector": selector,
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}],
        },
    });
    vec![deployment, pdb, service]
}

/// The Lease a controller installed with `s` competes for: `mlops-system`'s, or the watched
/// namespace's.
pub fn lease_namespace(s: &Settings) -> &str {
    if s.namespace_scoped {
        &s.namespace
    } else {
        SYSTEM_NAMESPACE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(all: &'a [Value], kind: &str, ns: Option<&str>) -> &'a Value {
        all.iter()
            .find(|m| m["kind"] == kind && m["metadata"]["namespace"].as_str() == ns)
            .unwrap_or_else(|| panic!("{kind} {ns:?}"))
    }

    #[test]
    fn every_rule_has_a_reason_in_the_annotation_in_order() {
        let all = access(&Settings::default());
        let cluster = find(&all, "ClusterRole", None);
        let said = reasons(cluster);
        assert_eq!(said.len(), ROLLOUT_RULES.len());
        for (r, why) in ROLLOUT_RULES.iter().zip(&said) {
            assert!(why.ends_with(r.why) && !r.why.is_empty(), "{why}");
        }
        let own = find(&all, "Role", Some(SYSTEM_NAMESPACE));
        assert_eq!(reasons(own).len(), LEASE_RULES.len() + AUDIT_RULES.len());
    }

    #[test]
    fn secrets_and_configmaps_only_by_name_no_leases_cluster_wide_and_nothing_deletes() {
        let text = serde_json::to_string(&access(&Settings::default())).unwrap_or_default();
        assert!(!text.contains("\"delete\"") && !text.contains("\"*\""));
        for r in ROLLOUT_RULES {
            assert!(!r.resources.contains(&"leases"));
            if r.resources.contains(&"configmaps") || r.resources.contains(&"secrets") {
                assert!(
                    !r.resource_names.is_empty() && r.verbs == ["get"],
                    "{}: read by name only",
                    r.why
                );
            }
        }
        let own: Vec<&Rule> = LEASE_RULES.iter().chain(AUDIT_RULES).collect();
        for r in own.iter().filter(|r| r.resources.contains(&"secrets")) {
            assert!(
                !r.resource_names.is_empty() && r.verbs == ["get"],
                "{}",
                r.why
            );
        }
    }

    #[test]
    fn namespace_scoped_has_no_cluster_objects_and_watches_its_own_namespace() {
        let s = Settings {
            namespace: "team-a".into(),
            namespace_scoped: true,
            ..Settings::default()
        };
        let mut all = access(&s);
        all.extend(workload(&s));
        for m in &all {
            assert_eq!(m["metadata"]["namespace"], "team-a", "{m}");
            assert!(
                !m["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("Cluster"),
                "{m}"
            );
        }
        let args = find(&all, "Deployment", Some("team-a"))["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
        assert!(
            args.contains("--watch-namespace=$(POD_NAMESPACE)"),
            "{args}"
        );
        assert_eq!(lease_namespace(&s), "team-a");
    }

    #[test]
    fn the_deployment_is_locked_down() {
        let s = Settings::default();
        let all = workload(&s);
        let d = find(&all, "Deployment", Some(SYSTEM_NAMESPACE));
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(d["spec"]["replicas"], 2);
        assert!(c["resources"]["limits"]["memory"].is_string());
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    }
}
