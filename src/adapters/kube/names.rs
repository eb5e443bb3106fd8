//! Names the Kubernetes wing relies on, defined once: the system namespace, the Lease, the field
//! manager, labels and resources.

/// Where the controller's Lease and the audit log live (`mlops install` creates it).
pub const SYSTEM_NAMESPACE: &str = "mlops-system";
/// The Lease that decides who drives rollouts.
pub const LEASE_NAME: &str = "mlops-controller";
/// The field manager of our server-side applies and status writes.
pub const FIELD_MANAGER: &str = "mlops-console";
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
