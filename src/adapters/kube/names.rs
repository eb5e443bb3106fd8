//! Names the Kubernetes wing relies on, defined once: the system namespace, the Lease, the field
//! manager, labels and resources; and the rules names from outside must follow before they go
//! into a request (namespaces, object names, contexts, registered models).

use mlops_core::{CoreError, text};

/// Where the controller's Lease and the audit log live (`mlops install` creates it).
pub const SYSTEM_NAMESPACE: &str = "mlops-system";
/// The Lease that decides who drives rollouts.
pub const LEASE_NAME: &str = "mlops-controller";
/// The field manager of our server-side applies and status writes.
pub const FIELD_MANAGER: &str = "mlops-console";
/// The verb only the controller holds: its status writes are not commands (`rbac`).
pub const RECONCILE_VERB: &str = "reconcile";
/// The controller's ServiceAccount (`deploy`).
pub const CONTROLLER_ACCOUNT: &str = "mlops-controller";
/// Lease holders that are a console driving rollouts itself (not `mlops controller`) carry this
/// prefix; a headless controller takes the lease from such a holder rather than waiting.
pub const CONSOLE_PREFIX: &str = "console:";

/// The registered model a Deployment or pod serves.
pub const MODEL_LABEL: &str = "mlops.dev/model";
/// The model version it serves.
pub const VERSION_LABEL: &str = "mlops.dev/version";
/// `stable` or `canary`.
pub const TRACK_LABEL: &str = "mlops.dev/track";
/// Marks the ConfigMaps of the audit log.
pub const AUDIT_LABEL: &str = "mlops.dev/audit";

pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
pub const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";

/// The canary Deployment (and Service) cut from a serving Deployment.
pub fn canary_name(deployment: &str) -> String {
    format!("{deployment}-canary")
}

/// The longest name echoed back in an error.
const SHOWN_NAME: usize = 80;

/// A refusal to send a request with `name` in it: what it is, the name as it can be shown, and
/// the rule it breaks.
pub(crate) fn invalid(backend: &str, kind: &str, name: &str, rule: &str) -> CoreError {
    let shown = text::truncate(&text::line(name), SHOWN_NAME).into_owned();
    CoreError::rejected(backend, format!("invalid {kind} {shown:?}: {rule}"))
}

/// Lowercase letters, digits and '-', starting and ending with a letter or digit, at most `max`.
fn is_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

const LABEL_RULE: &str = "a Kubernetes name here is lowercase letters, digits and '-', starts and ends with a letter or digit, and has at most 63 characters (RFC 1123 label)";
const SUBDOMAIN_RULE: &str = "a Kubernetes object name is lowercase letters, digits, '-' and '.', each '.'-separated part starting and ending with a letter or digit, at most 253 characters (RFC 1123 subdomain)";

/// A namespace, checked before it goes into a request path: an RFC 1123 label, as the API
/// server requires (and kubectl checks).
pub fn check_namespace(namespace: &str) -> Result<(), CoreError> {
    if is_label(namespace, 63) {
        Ok(())
    } else {
        Err(invalid("kubernetes", "namespace", namespace, LABEL_RULE))
    }
}

/// The name of an object (`kind`: ModelRollout, Deployment, …), checked before it goes into a
/// request path: an RFC 1123 subdomain. Names that pass need no encoding, so `..`, `/`, `?` and
/// `#` can never change the request.
pub fn check_object_name(kind: &str, name: &str) -> Result<(), CoreError> {
    if name.len() <= 253 && name.split('.').all(|part| is_label(part, 63)) {
        Ok(())
    } else {
        Err(invalid(
            "kubernetes",
            &format!("{kind} name"),
            name,
            SUBDOMAIN_RULE,
        ))
    }
}

/// A serving Deployment a rollout works on: an object name that is also an RFC 1123 label with
/// room for its canary (`NAME-canary`), since a Service of each name selects the pods.
pub fn check_deployment(name: &str) -> Result<(), CoreError> {
    if is_label(&canary_name(name), 63) && is_label(name, 63) {
        Ok(())
    } else {
        Err(invalid(
            "kubernetes",
            "Deployment name",
            name,
            "a serving Deployment's name is lowercase letters, digits and '-', starts and ends with a letter or digit, and has at most 56 characters (its canary Deployment and Service are NAME-canary, an RFC 1123 label)",
        ))
    }
}

/// A kubeconfig context name: it is only looked up in the kubeconfig, never sent, but it is
/// echoed in errors and the status bar.
pub fn check_context(context: &str) -> Result<(), CoreError> {
    let printable = !context
        .chars()
        .any(|c| c.is_control() || text::is_bidi_control(c));
    if !context.trim().is_empty() && context.chars().count() <= 253 && printable {
        Ok(())
    } else {
        Err(invalid(
            "kubernetes",
            "context",
            context,
            "a kubeconfig context is a non-empty name of at most 253 printable characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_never_reach_a_request() {
        for bad in [
            "",
            "../../../api/v1/namespaces/kube-system/secrets/x",
            "x?watch=true&labelSelector=a",
            "x#frag",
            "my rollout",
            "ünïcødé-🚀",
            "Upper",
            "-lead",
            "trail-",
            &"a".repeat(254),
        ] {
            assert!(check_object_name("ModelRollout", bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "../../../api/v1/secrets#",
            "Bad NS!",
            "a.b",
            &"n".repeat(64),
        ] {
            assert!(check_namespace(bad).is_err(), "{bad:?}");
        }
        assert!(check_object_name("ModelRollout", "fraud-detector-v7").is_ok());
        assert!(check_object_name("ModelRollout", "a.b-c.d").is_ok());
        assert!(check_namespace("ml-serving").is_ok());
        assert!(check_deployment("churn-model").is_ok());
        assert!(check_deployment(&"d".repeat(57)).is_err());
        assert!(check_context("arn:aws:eks:me-central-1:1:cluster/prod").is_ok());
        assert!(check_context("a\u{1b}[2Jb").is_err());
    }

    #[test]
    fn the_error_names_the_rule_and_a_short_safe_name() {
        let long = format!("\u{1b}]0;PWNED\u{7}{}", "x".repeat(10_000));
        let e = check_object_name("ModelRollout", &long)
            .expect_err("invalid")
            .to_string();
        assert!(e.len() < 600, "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
        assert!(e.contains("RFC 1123 subdomain"), "{e}");
    }
}
