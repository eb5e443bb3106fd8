//! Governance in the cluster's own terms: who may do what to a rollout is RBAC, checked by the API
//! server, and the console only asks (SelfSubjectAccessReview) to offer what the server will allow.
//!
//! Every operator command is a write to `modelrollouts/status`, which plain RBAC sees only as
//! `update`. So each command also has a custom RBAC verb on `modelrollouts` (`approve`,
//! `promote`, `abort`, `rollback`, `pause`, `resume`; `Verb::rbac_verb`), and a
//! ValidatingAdmissionPolicy on status writes works out which command a write is, from what it
//! changes, and requires that the writer holds that verb, is the user the status records as
//! sending it (`status.lastCommand`), and — for an approval — is not the rollout's author (the
//! `mlops.dev/author` annotation, which a second policy sets to the creator on create and keeps
//! immutable). The controller holds the verb `reconcile` and is not checked (nor are cluster
//! admins, who hold every verb).
//!
//! `mlops install` applies the roles, the controller's ServiceAccount and bindings, and the
//! policies (server-side apply, idempotent); `mlops install --dry-run` prints them.

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use mlops_core::CoreError;
use serde_json::{Value, json};

use super::{
    err,
    names::{FIELD_MANAGER, LEASE_NAME, SYSTEM_NAMESPACE},
};

/// The annotation that names who created a rollout (set by the console; enforced on the server).
pub const AUTHOR_ANNOTATION: &str = "mlops.dev/author";
/// The annotation that pins a rollout's pods to regions (`me-central-1,me-central-2`): set when
/// it is created, from the data-residency gate of `policy.toml`; immutable like the author.
pub const REGIONS_ANNOTATION: &str = "mlops.dev/regions";
/// The annotation with the policy a rollout was started under (`policy::Recorded` as JSON): its
/// gates are decided again before promotion; immutable like the author.
pub const POLICY_ANNOTATION: &str = "mlops.dev/policy";
/// The annotation with what a rollout's start entry in the audit log says
/// (`rollout::StartEntry` as JSON), set when it is created; the controller writes the entry in
/// the author's name and marks it (`status.startAudited`). Immutable like the author.
pub const START_AUDIT_ANNOTATION: &str = "mlops.dev/start-audit";
pub use super::names::{CONTROLLER_ACCOUNT, RECONCILE_VERB};
/// Groups the shipped bindings give each role (an identity provider's groups, or a client
/// certificate's O=).
pub const GROUPS: [(&str, &str); 3] = [
    ("mlops-viewers", "mlops-viewer"),
    ("mlops-operators", "mlops-operator"),
    ("mlops-release-managers", "mlops-release-manager"),
];
/// The group allowed to write the audit log itself (`mlops-audit-writer` in `mlops-system`): only
/// needed where no controller runs, which otherwise writes every entry.
pub const AUDIT_WRITERS_GROUP: &str = "mlops-audit-writers";
/// The verbs of each shipped role on `modelrollouts`, beyond reading.
pub const OPERATOR_VERBS: [&str; 4] = ["abort", "rollback", "pause", "resume"];
pub const RELEASE_MANAGER_VERBS: [&str; 6] =
    ["abort", "rollback", "pause", "resume", "approve", "promote"];

const GROUP: &str = "mlops.dev";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn cluster_role(name: &str, rules: &[Value]) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "mlops"}},
        "rules": rules,
    })
}

/// What every role reads: rollouts and what the console shows beside them.
fn read_rules() -> Vec<Value> {
    vec![
        rule(
            &[GROUP],
            &["modelrollouts", "modelrollouts/status"],
            &["get", "list", "watch"],
        ),
        rule(
            &[GROUP],
            &["rollouttriggers", "rollouttriggers/status"],
            &["get", "list", "watch"],
        ),
        rule(&["apps"], &["deployments"], &["get", "list", "watch"]),
        rule(
            &[""],
            &["pods", "nodes", "events", "namespaces"],
            &["get", "list", "watch"],
        ),
        rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "list", "watch"],
        ),
    ]
}

/// Writing commands: the status write itself, and the custom verbs the policy checks.
fn command_rules(verbs: &[&str]) -> Vec<Value> {
    vec![
        rule(&[GROUP], &["modelrollouts/status"], &["update", "patch"]),
        rule(&[GROUP], &["modelrollouts"], verbs),
    ]
}

/// The audit log's ConfigMaps: bound in `mlops-system` only (a RoleBinding), never cluster-wide.
fn audit_role(name: &str, verbs: &[&str]) -> Value {
    cluster_role(name, &[rule(&[""], &["configmaps"], verbs)])
}

fn binding(kind: &str, name: &str, role: &str, subject: &Value) -> Value {
    let mut metadata = json!({"name": name, "labels": {"app.kubernetes.io/part-of": "mlops"}});
    if kind == "RoleBinding" {
        metadata["namespace"] = json!(SYSTEM_NAMESPACE);
    }
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    })
}

fn group(name: &str) -> Value {
    json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name})
}

/// The CEL of the command policy: which command a status write is, from what it changes.
const IMPLIED_VERB: &str = "variables.newApprovals > variables.oldApprovals ? 'approve' : \
    (variables.newPhase == 'RollingBack' && variables.oldPhase != 'RollingBack') ? \
      (variables.newUndo && !variables.oldUndo ? 'rollback' : 'abort') : \
    (variables.newPaused && !variables.oldPaused) ? 'pause' : \
    (variables.oldPaused && !variables.newPaused && variables.newPhase == 'Progressing') ? 'resume' : \
    (variables.newPhase == 'Promoting' || variables.newStep > variables.oldStep) ? 'promote' : ''";

fn status_field(object: &str, field: &str, default: &str) -> String {
    format!(
        "has({object}.status) && has({object}.status.{field}) ? {object}.status.{field} : {default}"
    )
}

/// Whether the requester may append to the audit log (create ConfigMaps in `mlops-system`).
fn may_write_audit_log() -> String {
    format!(
        "authorizer.group('').resource('configmaps').namespace('{SYSTEM_NAMESPACE}').check('create').allowed()"
    )
}

/// The controller (and a cluster admin, who holds every verb) is not checked by the policies.
fn not_the_controller() -> Value {
    json!({
        "name": "not-the-controller",
        "expression": format!("!authorizer.group('mlops.dev').resource('modelrollouts').namespace(object.metadata.namespace).check('{RECONCILE_VERB}').allowed()"),
    })
}

/// The ValidatingAdmissionPolicy on commands (UPDATE of `modelrollouts/status`).
fn command_policy() -> Value {
    let var = |name: &str, expression: String| json!({"name": name, "expression": expression});
    let allowed = "authorizer.group('mlops.dev').resource('modelrollouts').namespace(object.metadata.namespace).name(object.metadata.name).check(variables.verb).allowed()";
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "mlops-rollout-commands", "labels": {"app.kubernetes.io/part-of": "mlops"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [GROUP], "apiVersions": ["*"],
                "operations": ["UPDATE"], "resources": ["modelrollouts/status"],
            }]},
            "matchConditions": [not_the_controller()],
            "variables": [
                var("oldApprovals", format!("size({})", status_field("oldObject", "approvals", "[]"))),
                var("newApprovals", format!("size({})", status_field("object", "approvals", "[]"))),
                var("oldPhase", status_field("oldObject", "phase", "''")),
                var("newPhase", status_field("object", "phase", "''")),
                var("oldStep", status_field("oldObject", "currentStep", "0")),
                var("newStep", status_field("object", "currentStep", "0")),
                var("oldPaused", status_field("oldObject", "userPaused", "false")),
                var("newPaused", status_field("object", "userPaused", "false")),
                var("oldUndo", status_field("oldObject", "undoPromotion", "false")),
                var("newUndo", status_field("object", "undoPromotion", "false")),
                var("verb", "has(object.status) && has(object.status.lastCommand) ? object.status.lastCommand.verb : ''".into()),
                var("user", "has(object.status) && has(object.status.lastCommand) ? object.status.lastCommand.user : ''".into()),
                var("time", "has(object.status) && has(object.status.lastCommand) ? string(object.status.lastCommand.time) : ''".into()),
                var("oldTime", "has(oldObject.status) && has(oldObject.status.lastCommand) ? string(oldObject.status.lastCommand.time) : ''".into()),
                var("implied", IMPLIED_VERB.into()),
                var("audited", "has(object.status) && has(object.status.lastCommand) && has(object.status.lastCommand.audited)".into()),
                var("oldUnaudited", "has(oldObject.status) && has(oldObject.status.lastCommand) && has(oldObject.status.lastCommand.action) && !has(oldObject.status.lastCommand.audited)".into()),
                var("ticketRequired", format!("({}).contains('\"change_ticket\":true')", annotation("object", POLICY_ANNOTATION))),
                var("author", format!("has(object.metadata.annotations) && '{AUTHOR_ANNOTATION}' in object.metadata.annotations ? object.metadata.annotations['{AUTHOR_ANNOTATION}'] : ''")),
            ],
            "validations": [
                {
                    "expression": "variables.verb != '' && variables.time != variables.oldTime",
                    "message": "a status write by a person must be one mlops command, recorded in status.lastCommand (use mlops rollout approve|promote|abort|rollback|pause|resume)",
                    "reason": "Forbidden",
                },
                {
                    "expression": "variables.user == request.userInfo.username",
                    "messageExpression": "'status.lastCommand.user ' + variables.user + ' is not you (' + request.userInfo.username + ')'",
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("variables.verb == '' || {allowed}"),
                    "messageExpression": "'you (' + request.userInfo.username + ') cannot ' + variables.verb + ' modelrollouts in ' + object.metadata.namespace",
                    "reason": "Forbidden",
                },
                {
                    "expression": "variables.implied == variables.verb || (variables.implied == 'abort' && variables.verb == 'rollback')",
                    "messageExpression": "'the change is ' + (variables.implied == '' ? 'no command' : variables.implied) + ', not ' + variables.verb + ' as status.lastCommand says'",
                    "reason": "Forbidden",
                },
                {
                    "expression": "variables.verb != 'approve' || object.status.approvals[size(object.status.approvals) - 1].user == request.userInfo.username",
                    "messageExpression": "'an approval is recorded in the name of whoever sends it (' + request.userInfo.username + ')'",
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("variables.verb != 'approve' || !variables.ticketRequired || object.status.approvals[size(object.status.approvals) - 1].comment.matches('{}')", mlops_core::policy::TICKET_COMMENT_PATTERN),
                    "message": "the policy this rollout started under requires a change ticket with every approval: start the comment with it (CHG-123: why)",
                    "reason": "Forbidden",
                },
                {
                    "expression": "variables.verb != 'approve' || (variables.author != '' && variables.author != request.userInfo.username)",
                    "messageExpression": "variables.author == '' ? 'two-person rule: who started the rollout cannot be determined (no mlops.dev/author annotation)' : 'two-person rule: ' + request.userInfo.username + ' started this rollout and cannot also approve it'",
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("!variables.audited || {}", may_write_audit_log()),
                    "message": "status.lastCommand.audited is the controller's to set (or an audit log writer's, where no controller runs)",
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("({}) == ({}) || {}", status_field("object", "startAudited", "0"), status_field("oldObject", "startAudited", "0"), may_write_audit_log()),
                    "message": "status.startAudited is the controller's to set",
                    "reason": "Forbidden",
                },
                {
                    "expression": "!variables.oldUnaudited",
                    "message": "the rollout's previous command is not in the audit log yet: wait until the controller has written it (mlops does), then send this one",
                    "reason": "Forbidden",
                },
            ],
        },
    })
}

/// The ValidatingAdmissionPolicy on the author annotation: set to the creator, never changed.
fn annotation(object: &str, key: &str) -> String {
    format!(
        "has({object}.metadata.annotations) && '{key}' in {object}.metadata.annotations ? {object}.metadata.annotations['{key}'] : ''"
    )
}

fn author_policy() -> Value {
    let author = |o: &str| annotation(o, AUTHOR_ANNOTATION);
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "mlops-rollout-author", "labels": {"app.kubernetes.io/part-of": "mlops"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [GROUP], "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"], "resources": ["modelrollouts"],
            }]},
            "matchConditions": [not_the_controller()],
            "variables": [{"name": "author", "expression": author("object")}],
            "validations": [
                {
                    "expression": "request.operation != 'CREATE' || variables.author == request.userInfo.username",
                    "messageExpression": format!("'annotation {AUTHOR_ANNOTATION} must name who creates the rollout (' + request.userInfo.username + '), not ' + (variables.author == '' ? 'nobody' : variables.author)"),
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("request.operation != 'UPDATE' || variables.author == ({})", author("oldObject")),
                    "message": format!("annotation {AUTHOR_ANNOTATION} cannot be changed"),
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("request.operation != 'UPDATE' || ({}) == ({})", annotation("object", REGIONS_ANNOTATION), annotation("oldObject", REGIONS_ANNOTATION)),
                    "message": format!("annotation {REGIONS_ANNOTATION} (where residency pins the pods) cannot be changed"),
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("request.operation != 'UPDATE' || ({}) == ({})", annotation("object", POLICY_ANNOTATION), annotation("oldObject", POLICY_ANNOTATION)),
                    "message": format!("annotation {POLICY_ANNOTATION} (the policy the rollout started under) cannot be changed"),
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("request.operation != 'UPDATE' || ({}) == ({})", annotation("object", START_AUDIT_ANNOTATION), annotation("oldObject", START_AUDIT_ANNOTATION)),
                    "message": format!("annotation {START_AUDIT_ANNOTATION} (what the rollout's start entry in the audit log says) cannot be changed"),
                    "reason": "Forbidden",
                },
                {
                    "expression": format!("request.operation != 'CREATE' || !({}).contains('\"audited\"') || {}", annotation("object", START_AUDIT_ANNOTATION), may_write_audit_log()),
                    "message": format!("annotation {START_AUDIT_ANNOTATION} may say its entry is written only where its creator writes the audit log (mlops-audit-writers, where no controller runs)"),
                    "reason": "Forbidden",
                },
            ],
        },
    })
}

fn policy_binding(policy: &str) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy, "labels": {"app.kubernetes.io/part-of": "mlops"}},
        "spec": {"policyName": policy, "validationActions": ["Deny"]},
    })
}

/// Everything `mlops install` applies besides the CRD, in the order it applies them.
pub fn manifests() -> Vec<Value> {
    let viewer = read_rules();
    let mut operator = read_rules();
    operator.extend(command_rules(&OPERATOR_VERBS));
    let mut release = read_rules();
    release.extend(command_rules(&RELEASE_MANAGER_VERBS));
    release.push(rule(&[GROUP], &["modelrollouts"], &["create"]));
    let mut out = vec![
        cluster_role("mlops-viewer", &viewer),
        cluster_role("mlops-operator", &operator),
        cluster_role("mlops-release-manager", &release),
        audit_role("mlops-audit-reader", &["get", "list", "watch"]),
        audit_role("mlops-audit-writer", &["get", "list", "watch", "create"]),
    ];
    // The controller's account and role: one source with `mlops install --controller`.
    out.extend(super::deploy::access(&super::deploy::Settings::default()));
    for (g, role) in GROUPS {
        out.push(binding("ClusterRoleBinding", role, role, &group(g)));
        // The controller writes every command's entry in the sender's name: people read the log.
        // (A new name: a binding's role cannot change, and `{role}-audit` bound the writer.)
        out.push(binding(
            "RoleBinding",
            &format!("{role}-audit-reader"),
            "mlops-audit-reader",
            &group(g),
        ));
    }
    // Without a controller, the sender writes the entry: only those in this group may.
    out.push(binding(
        "RoleBinding",
        AUDIT_WRITERS_GROUP,
        "mlops-audit-writer",
        &group(AUDIT_WRITERS_GROUP),
    ));
    // Everyone may see whether a controller runs (who writes their commands' entries): the one
    // Lease, read-only.
    out.push(cluster_role(
        "mlops-lease-reader",
        &[
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
            "resourceNames": [LEASE_NAME], "verbs": ["get"]}),
        ],
    ));
    out.push(binding(
        "RoleBinding",
        "mlops-lease-readers",
        "mlops-lease-reader",
        &group("system:authenticated"),
    ));
    out.push(author_policy());
    out.push(policy_binding("mlops-rollout-author"));
    out.push(command_policy());
    out.push(policy_binding("mlops-rollout-commands"));
    out
}

/// Bindings in `mlops-system` that earlier releases made and this one must not keep: each let its
/// group (or the controller's account) write the audit log, which only the controller does now
/// (the controller's own Role replaces its binding). `mlops install` deletes them; a binding's
/// role cannot be changed in place, so they could not be re-applied as readers.
pub const OBSOLETE_BINDINGS: [&str; 4] = [
    "mlops-viewer-audit",
    "mlops-operator-audit",
    "mlops-release-manager-audit",
    "mlops-controller-audit",
];

/// Delete [`OBSOLETE_BINDINGS`] where they exist (with `dry_run`, the API server only checks);
/// returns `RoleBinding/mlops-system/NAME` of each deleted.
pub async fn remove_obsolete(client: Client, dry_run: bool) -> Result<Vec<String>, CoreError> {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let api: Api<RoleBinding> = Api::namespaced(client, SYSTEM_NAMESPACE);
    let params = kube::api::DeleteParams {
        dry_run,
        ..Default::default()
    };
    let mut deleted = Vec::new();
    for name in OBSOLETE_BINDINGS {
        match api.delete(name, &params).await {
            Ok(_) => deleted.push(format!("RoleBinding/{SYSTEM_NAMESPACE}/{name}")),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                return Err(err(
                    &format!("deleting the obsolete binding {SYSTEM_NAMESPACE}/{name}"),
                    e,
                ));
            }
        }
    }
    Ok(deleted)
}

/// The resource of a manifest, for the dynamic API.
fn resource(m: &Value) -> (ApiResource, Option<String>, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (group, version) = match text(&m["apiVersion"]).split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), text(&m["apiVersion"])),
    };
    let kind = text(&m["kind"]);
    let plural = match kind.as_str() {
        "ValidatingAdmissionPolicy" => "validatingadmissionpolicies".to_string(),
        k => format!("{}s", k.to_ascii_lowercase()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, &kind);
    let ns = m["metadata"]["namespace"].as_str().map(str::to_string);
    (
        ApiResource::from_gvk_with_plural(&gvk, &plural),
        ns,
        text(&m["metadata"]["name"]),
    )
}

/// Apply [`manifests`] (server-side apply, idempotent). Returns `Kind/name` of each.
pub async fn install(client: Client) -> Result<Vec<String>, CoreError> {
    apply(client, &manifests(), false).await
}

/// Apply `manifests` in order (server-side apply, forced: we own these fields); with `dry_run`,
/// the API server checks each (schema, admission, RBAC) and stores nothing.
pub async fn apply(
    client: Client,
    manifests: &[Value],
    dry_run: bool,
) -> Result<Vec<String>, CoreError> {
    let mut applied = Vec::new();
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    for m in manifests {
        let (ar, ns, name) = resource(m);
        let api: Api<DynamicObject> = match &ns {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let what = match &ns {
            Some(ns) => format!("{}/{ns}/{name}", ar.kind),
            None => format!("{}/{name}", ar.kind),
        };
        api.patch(&name, &params, &Patch::Apply(m))
            .await
            .map_err(|e| err(&format!("applying {what}"), e))?;
        applied.push(what);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_verb_is_granted_by_some_role_and_approve_only_to_release_managers() {
        use mlops_core::rollout::Verb;
        for v in Verb::ALL {
            assert!(RELEASE_MANAGER_VERBS.contains(&v.rbac_verb()), "{v}");
        }
        assert!(!OPERATOR_VERBS.contains(&"approve") && !OPERATOR_VERBS.contains(&"promote"));
        let all = manifests();
        let role = |name: &str| {
            all.iter()
                .find(|m| m["kind"] == "ClusterRole" && m["metadata"]["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name}"))
        };
        let text = |v: Value| v.to_string();
        assert!(
            !text(role("mlops-viewer")).contains("update"),
            "viewers write nothing"
        );
        assert!(!text(role("mlops-operator")).contains("approve"));
        assert!(text(role("mlops-controller")).contains(RECONCILE_VERB));
        for m in &all {
            let (ar, _, name) = resource(m);
            assert!(!name.is_empty() && !ar.plural.is_empty(), "{m}");
        }
    }

    #[test]
    fn people_only_read_the_audit_log_and_everyone_may_see_the_controller_lease() {
        let all = manifests();
        let bound = |binding: &str| {
            let m = all
                .iter()
                .find(|m| m["kind"] == "RoleBinding" && m["metadata"]["name"] == binding)
                .unwrap_or_else(|| panic!("{binding}"));
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (text(&m["roleRef"]["name"]), text(&m["subjects"][0]["name"]))
        };
        for (g, role) in GROUPS {
            assert_eq!(
                bound(&format!("{role}-audit-reader")),
                ("mlops-audit-reader".to_string(), g.to_string()),
                "the controller writes the log: {g} reads it"
            );
        }
        assert_eq!(
            bound(AUDIT_WRITERS_GROUP),
            ("mlops-audit-writer".into(), AUDIT_WRITERS_GROUP.into())
        );
        // What earlier releases bound to the writer is not made again (install deletes it).
        for name in OBSOLETE_BINDINGS {
            assert!(
                !all.iter().any(|m| m["metadata"]["name"] == name),
                "{name} is obsolete"
            );
        }
        let own = all
            .iter()
            .find(|m| m["kind"] == "Role" && m["metadata"]["name"] == CONTROLLER_ACCOUNT)
            .expect("the controller's Role in mlops-system");
        assert_eq!(own["metadata"]["namespace"], SYSTEM_NAMESPACE);
        assert!(
            own["rules"].to_string().contains("configmaps")
                && own["rules"].to_string().contains("create"),
            "the controller writes the log: {own}"
        );
        assert_eq!(
            bound("mlops-lease-readers"),
            ("mlops-lease-reader".into(), "system:authenticated".into())
        );
        let lease = all
            .iter()
            .find(|m| m["kind"] == "ClusterRole" && m["metadata"]["name"] == "mlops-lease-reader")
            .expect("the lease reader");
        assert_eq!(lease["rules"][0]["resourceNames"], json!([LEASE_NAME]));
        assert_eq!(lease["rules"][0]["verbs"], json!(["get"]), "read-only");
        let policy = command_policy().to_string();
        assert!(
            policy.contains("lastCommand.audited is the controller's to set")
                && policy.contains("previous command is not in the audit log yet"),
            "{policy}"
        );
    }
}
