//! Running inside the cluster: the pod's ServiceAccount (its token and CA at the in-cluster
//! paths, or in a folder a flag names, for tests) instead of a kubeconfig, and a controller
//! narrowed to one namespace (a namespace-scoped install: watches and its Lease there).
//!
//! The token is read from its file again within a minute of a change (kube-rs re-reads a token
//! file every 60 s), so a bound token the kubelet rotates keeps working.

use std::path::{Path, PathBuf};

use kube::{
    Api,
    config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext},
};
use mlops_core::CoreError;

use super::{KubeCluster, names};

/// Where the kubelet mounts a pod's ServiceAccount token, CA and namespace.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The context name the in-cluster configuration goes by (in errors and the audit log).
pub const IN_CLUSTER_CONTEXT: &str = "in-cluster";

fn refused(reason: String) -> CoreError {
    CoreError::NotConfigured {
        what: "the in-cluster configuration".into(),
        hint: reason,
    }
}

/// The API server's URL from `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`.
fn server_url(host: Option<String>, port: Option<String>) -> Result<String, CoreError> {
    let host = host.filter(|h| !h.trim().is_empty()).ok_or_else(|| {
        refused("KUBERNETES_SERVICE_HOST is not set (it is in a pod; set it, with KUBERNETES_SERVICE_PORT, to run outside one)".into())
    })?;
    let port = port.unwrap_or_else(|| "443".into());
    if port.parse::<u16>().is_err() {
        return Err(refused(format!(
            "KUBERNETES_SERVICE_PORT {port:?} is not a port number"
        )));
    }
    let host = host.trim();
    if host.contains(':') && !host.starts_with('[') {
        Ok(format!("https://[{host}]:{port}"))
    } else {
        Ok(format!("https://{host}:{port}"))
    }
}

/// The file `name` in `dir`, which must be there and readable.
fn mounted(dir: &Path, name: &str) -> Result<PathBuf, CoreError> {
    let path = dir.join(name);
    std::fs::metadata(&path)
        .map(|_| path.clone())
        .map_err(|e| refused(format!("cannot read {}: {e}", path.display())))
}

/// A kubeconfig that says what the in-cluster configuration means: the server from the
/// environment, the CA file and the token file (re-read as it rotates) from `dir`.
fn kubeconfig(server: String, dir: &Path) -> Result<Kubeconfig, CoreError> {
    let text = |p: PathBuf| p.to_string_lossy().into_owned();
    let ca = text(mounted(dir, "ca.crt")?);
    let token = text(mounted(dir, "token")?);
    // A namespace name is at most 63 characters: a file far larger is not one.
    let namespace = crate::files::read_text(&dir.join("namespace"), 4096, "a namespace file")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(Kubeconfig {
        clusters: vec![NamedCluster {
            name: IN_CLUSTER_CONTEXT.into(),
            cluster: Some(Cluster {
                server: Some(server),
                certificate_authority: Some(ca),
                ..Cluster::default()
            }),
            other: std::collections::BTreeMap::new(),
        }],
        auth_infos: vec![NamedAuthInfo {
            name: IN_CLUSTER_CONTEXT.into(),
            auth_info: Some(AuthInfo {
                token_file: Some(token),
                ..AuthInfo::default()
            }),
            other: std::collections::BTreeMap::new(),
        }],
        contexts: vec![NamedContext {
            name: IN_CLUSTER_CONTEXT.into(),
            context: Some(Context {
                cluster: IN_CLUSTER_CONTEXT.into(),
                user: Some(IN_CLUSTER_CONTEXT.into()),
                namespace,
                ..Context::default()
            }),
            other: std::collections::BTreeMap::new(),
        }],
        current_context: Some(IN_CLUSTER_CONTEXT.into()),
        ..Kubeconfig::default()
    })
}

impl KubeCluster {
    /// Connect as the pod's ServiceAccount: `KUBERNETES_SERVICE_HOST`/`PORT`, and the token and
    /// CA in `dir` (the in-cluster paths: [`SERVICE_ACCOUNT_DIR`]). TLS is verified against
    /// that CA.
    pub async fn connect_in_cluster(
        dir: &Path,
        timeout: std::time::Duration,
    ) -> Result<Self, CoreError> {
        let server = server_url(
            std::env::var("KUBERNETES_SERVICE_HOST").ok(),
            std::env::var("KUBERNETES_SERVICE_PORT").ok(),
        )?;
        let config = kubeconfig(server, dir)?;
        Self::from_kubeconfig(config, Some(IN_CLUSTER_CONTEXT), None, timeout).await
    }

    /// Narrow the controller to `namespace`: it watches rollouts and canaries there only, and
    /// its Lease is there (a namespace-scoped install has a Role, no ClusterRole).
    pub fn watching_only(mut self, namespace: &str) -> Result<Self, CoreError> {
        names::check_namespace(namespace)?;
        self.watch_scope = Some(namespace.to_string());
        self.lease.namespace = namespace.to_string();
        Ok(self)
    }

    /// The namespace the controller is narrowed to, if it is.
    pub fn watch_scope(&self) -> Option<&str> {
        self.watch_scope.as_deref()
    }

    /// An API for the controller's watches: every namespace, or the one it is narrowed to.
    pub fn watched<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        match &self.watch_scope {
            Some(ns) => Api::namespaced(self.watch_client.clone(), ns),
            None => Api::all(self.watch_client.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_comes_from_the_environment_ipv6_in_brackets() {
        let url = |h: &str, p: Option<&str>| server_url(Some(h.into()), p.map(str::to_string));
        assert_eq!(
            url("10.96.0.1", Some("443")).ok().as_deref(),
            Some("https://10.96.0.1:443")
        );
        assert_eq!(
            url("fd00::1", None).ok().as_deref(),
            Some("https://[fd00::1]:443")
        );
        let e = url("10.0.0.1", Some("https"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("KUBERNETES_SERVICE_PORT \"https\""), "{e}");
        let e = server_url(None, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("KUBERNETES_SERVICE_HOST is not set"), "{e}");
    }

    #[test]
    fn a_missing_token_is_named_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.crt"), "x").expect("write");
        let e = kubeconfig("https://h:1".into(), dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("token") && e.contains(&dir.path().display().to_string()),
            "{e}"
        );
    }
}
