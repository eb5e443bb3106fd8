//! The Kubernetes wing: everything the console knows about Kubernetes lives under this folder.
//!
//! - `mod.rs`: `KubeCluster`, one cluster reached through a kubeconfig context (TLS verified as
//!   the kubeconfig says), who we are there (SelfSubjectReview), the read model behind
//!   `ClusterPort` (nodes, pods, deployments, events, rollouts) and the `AuditPort`.
//! - `names`: namespaces, the Lease, labels and resources, defined once.
//! - `crd`: the `ModelRollout` custom resource and `mlops install`.
//! - `rollouts`: ModelRollouts read, created and commanded (status writes with optimistic
//!   concurrency).
//! - `traffic`: one file per way of splitting traffic — the replica ratio (the Deployments,
//!   promotion of the stable side) and the Gateway API (HTTPRoute weights).
//! - `effects`: the cluster (and registry) as the ports of the core's `Infrastructure` for
//!   rollout effects.
//! - `lease`: the Lease that decides who drives rollouts.
//! - `incluster`: the pod's ServiceAccount instead of a kubeconfig; a controller narrowed to one
//!   namespace.
//! - `deploy`: the controller's own objects (account, role with reasons, Deployment).
//! - `limits`: the clients, bounded (timeouts, a deadline per call, a body cap).
//! - `requests`: every request to the API server counted by verb and status.
//! - `store`: a watch-fed store of compact rows per resource, with its health and the logic that
//!   stops a watch no view needs.
//! - `readmodel`: the cluster's watches (nodes, pods, model Deployments, Events, ModelRollouts,
//!   RolloutTriggers, the Lease), read by `ClusterPort::snapshot` instead of lists.
//! - `watch`: the changes of the read model as a stream, for the console to read it again.
//! - `map`: Kubernetes objects mapped to the core's types.
//! - `time`: chrono ↔ jiff, the one bridge between the core's clock and the API types'.
//! - `audit`: the hash-chained audit log in ConfigMaps.

pub mod audit;
pub mod command_audit;
pub mod crd;
pub mod deploy;
pub mod effects;
pub mod incluster;
pub mod lease;
pub mod limits;
mod map;
pub mod multi;
pub mod names;
mod probe;
pub mod rbac;
pub mod readmodel;
pub mod requests;
mod rollouts;
pub mod start;
pub mod store;
mod time;
pub mod traffic;
pub mod triggers;
mod watch;

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::Utc;
use k8s_openapi::api::{
    apps::v1::Deployment as K8sDeployment,
    authentication::v1::{SelfSubjectReview, SelfSubjectReviewStatus},
    core::v1::{Event as K8sEvent, Node as K8sNode, Pod as K8sPod},
};
use kube::{
    Api, Client, Config,
    api::{ListParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::{await_condition, conditions},
};
use mlops_core::{
    CoreError, ErrorKind,
    audit::{AuditEntry, AuditRecord},
    error::Cause,
    model::{Cluster, ClusterEvent, ClusterSnapshot, Deployment, Driver, Node, Pod},
    ports::{AuditPort, ChangeStream, ClusterPort},
    rollout::{Command, RolloutRecord, Verb},
};

pub use self::{
    audit::KubeAudit,
    crd::ModelRollout,
    lease::{LeaseLock, LeaseParams},
    map::map_deployment,
    rollouts::{PendingEvent, StartNote},
};
use self::{
    map::{map_event, map_node, map_pod},
    names::MODEL_LABEL,
};

/// The most pages one list may take (of `limits::LIST_PAGE` objects each).
const MAX_PAGES: usize = 1000;

/// Every object of a list, a page of `limits::LIST_PAGE` at a time, so each answer stays small
/// whatever the cluster holds. A server that keeps sending continue tokens is stopped after
/// [`MAX_PAGES`] pages, or when it repeats one.
pub(crate) async fn list_all<K>(api: &Api<K>, params: &ListParams) -> Result<Vec<K>, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut page_params = params.clone().limit(limits::LIST_PAGE);
        if let Some(t) = &token {
            page_params = page_params.continue_token(t);
        }
        let page = api.list(&page_params).await?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(next) if !next.is_empty() && token.as_deref() != Some(next.as_str()) => {
                token = Some(next);
            }
            _ => return Ok(items),
        }
    }
    Err(kube::Error::Service(
        format!(
            "the list did not end after {MAX_PAGES} pages of {} objects",
            limits::LIST_PAGE
        )
        .into(),
    ))
}

/// Per-call timeout unless the caller says otherwise (`timeout_seconds`).
pub const DEFAULT_TIMEOUT: Duration = crate::adapters::defaults::CALL_TIMEOUT;

/// A failure of `what` on the cluster, with its whole cause: the API server's own words for a
/// refusal (`HTTP 403 Forbidden: …`), else the error followed down its sources
/// ("client error (Connect)" → "tcp connect error" → "Connection refused"). Its kind follows the
/// cause (`Failure`), and a client error is kept as the error's source.
/// The most bytes of one kubeconfig file (certificates embedded in it included).
const MAX_KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// The kubeconfig files `Kubeconfig::read` reads: each of `KUBECONFIG`'s paths, or
/// `~/.kube/config`.
fn kubeconfig_paths() -> Vec<std::path::PathBuf> {
    match std::env::var_os("KUBECONFIG") {
        Some(list) if !list.is_empty() => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => std::env::var_os("HOME")
            .map(|home| Path::new(&home).join(".kube").join("config"))
            .into_iter()
            .collect(),
    }
}

/// A kubeconfig is read by the `kube` crate, whole: it must be a regular file of a sane size
/// first, so `KUBECONFIG=/dev/zero` or a FIFO is an error naming it, not a hang or an abort.
/// A file that is not there is left to `kube` to report as it does.
fn check_kubeconfig(path: &Path) -> Result<(), CoreError> {
    match crate::files::check_regular(path, MAX_KUBECONFIG_BYTES, "a kubeconfig") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err(
            &format!("reading the kubeconfig {}", path.display()),
            e.to_string(),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn err(what: &str, e: impl Into<Failure>) -> CoreError {
    let Failure { kind, text, cause } = e.into();
    let e = CoreError::of_kind(kind, "kubernetes", format!("{what}: {text}"));
    match cause {
        Some(cause) => e.with_cause(cause),
        None => e,
    }
}

/// What went wrong on the cluster: its kind (for callers that act on it), in words, and the
/// client's error when there is one.
pub(crate) struct Failure {
    kind: ErrorKind,
    text: String,
    cause: Option<Cause>,
}

impl Failure {
    /// A failure the wing found itself (a selector that does not fit, a list that did not end).
    fn found(text: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Other,
            text: text.into(),
            cause: None,
        }
    }

    fn caused(kind: ErrorKind, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            kind,
            text: error_chain(&e),
            cause: Some(Cause::new(e)),
        }
    }
}

impl From<&str> for Failure {
    fn from(text: &str) -> Self {
        Self::found(text)
    }
}

impl From<String> for Failure {
    fn from(text: String) -> Self {
        Self::found(text)
    }
}

impl From<kube::Error> for Failure {
    /// Refused credentials are `Denied`; no answer, a busy or failing server `Unavailable`; an
    /// answer that does not decode `Malformed`; anything else (a 404 or 409 the caller did not
    /// expect, a request the server found invalid) stays `Other`, as it was before errors had
    /// kinds, so the console still greys the cluster out on it.
    fn from(e: kube::Error) -> Self {
        let kind = match &e {
            kube::Error::Api(status) => match status.code {
                401 | 403 => ErrorKind::Denied,
                429 | 500..=599 => ErrorKind::Unavailable,
                _ => ErrorKind::Other,
            },
            kube::Error::Auth(_) => ErrorKind::Denied,
            kube::Error::HyperError(_) | kube::Error::Service(_) => ErrorKind::Unavailable,
            kube::Error::SerdeError(_) => ErrorKind::Malformed,
            _ => ErrorKind::Other,
        };
        let text = match &e {
            // The API server's own words for a refusal.
            kube::Error::Api(status) => {
                let code = status.code;
                let reason = http::StatusCode::from_u16(code)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or(status.reason.as_str());
                format!("HTTP {code} {reason}: {}", status.message)
            }
            e => error_chain(e),
        };
        Self {
            kind,
            text,
            cause: Some(Cause::new(e)),
        }
    }
}

impl From<kube::config::KubeconfigError> for Failure {
    fn from(e: kube::config::KubeconfigError) -> Self {
        Self::caused(ErrorKind::Other, e)
    }
}

impl From<kube::runtime::wait::Error> for Failure {
    fn from(e: kube::runtime::wait::Error) -> Self {
        Self::caused(ErrorKind::Unavailable, e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Self {
            kind: ErrorKind::Other,
            text: e.to_string(),
            cause: Some(Cause::new(e)),
        }
    }
}

/// An error and its sources, each said once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One cluster, as a kubeconfig context names it.
#[derive(Clone)]
pub struct KubeCluster {
    /// For requests with one answer: every one bounded by the timeout (see `limits`).
    client: Client,
    /// For watches, which stay open.
    watch_client: Client,
    context: String,
    namespace: Option<String>,
    /// The lease identity this process drives rollouts under, when it may.
    driver_id: Option<String>,
    audit: KubeAudit,
    identity: Arc<tokio::sync::OnceCell<String>>,
    /// Answers of `may` per (namespace, verb), with when they were asked.
    access: Arc<std::sync::Mutex<AccessCache>>,
    /// The Lease whose holder drives the rollouts.
    lease: LeaseParams,
    /// The one namespace a namespace-scoped controller watches (`incluster`).
    watch_scope: Option<String>,
    /// The watch-fed read model behind `snapshot`, made when first read.
    read_model: Arc<std::sync::OnceLock<readmodel::Shared>>,
    /// How long a watch no view needs is kept (`watch_off_screen_seconds`).
    watch_expiry: Duration,
    /// A controller's watch of the serving Deployments: its passes read a rollout's stable
    /// Deployment from it, not from the API server (`with_serving_cache`).
    serving: Option<kube::runtime::reflector::Store<k8s_openapi::api::apps::v1::Deployment>>,
}

/// Answers of `may`: (namespace, verb) → when asked, and the answer.
type AccessCache =
    std::collections::HashMap<(String, String), (std::time::Instant, Result<(), String>)>;
/// How long an answer of `may` is used before it is asked again.
const ACCESS_TTL: Duration = Duration::from_secs(60);

/// Events asked for per page, the most pages read, and the newest kept (`KubeCluster::events`).
const EVENTS_PAGE: u32 = 500;
const EVENT_PAGES: usize = 20;
const EVENTS_KEPT: usize = 500;

impl KubeCluster {
    /// Connect with the kubeconfig (`KUBECONFIG` or `~/.kube/config`) and `context` (default: the
    /// current context); `namespace` limits pods, deployments and events to one namespace.
    pub async fn connect(
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, CoreError> {
        Self::connect_with(context, namespace, DEFAULT_TIMEOUT).await
    }

    /// As `connect`, every call bounded by `timeout` (and setting up, an `exec` credential
    /// plugin included, too).
    pub async fn connect_with(
        context: Option<&str>,
        namespace: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, CoreError> {
        for path in kubeconfig_paths() {
            check_kubeconfig(&path)?;
        }
        let kubeconfig = Kubeconfig::read()
            .map_err(|e| err("reading the kubeconfig (KUBECONFIG or ~/.kube/config)", e))?;
        Self::from_kubeconfig(kubeconfig, context, namespace, timeout).await
    }

    /// Connect with the kubeconfig file at `path`.
    pub async fn connect_file(
        path: &Path,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, CoreError> {
        Self::connect_file_with(path, context, namespace, DEFAULT_TIMEOUT).await
    }

    /// As `connect_file`, every call bounded by `timeout`.
    pub async fn connect_file_with(
        path: &Path,
        context: Option<&str>,
        namespace: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, CoreError> {
        check_kubeconfig(path)?;
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|e| err(&format!("reading the kubeconfig {}", path.display()), e))?;
        Self::from_kubeconfig(kubeconfig, context, namespace, timeout).await
    }

    async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        context: Option<&str>,
        namespace: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, CoreError> {
        if let Some(c) = context {
            names::check_context(c)?;
        }
        if let Some(ns) = namespace {
            names::check_namespace(ns)?;
        }
        let name = context
            .map(str::to_string)
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_else(|| "default".into());
        if let Some(c) = context
            && !kubeconfig.contexts.iter().any(|n| n.name == c)
        {
            let known: Vec<&str> = kubeconfig
                .contexts
                .iter()
                .map(|n| n.name.as_str())
                .collect();
            return Err(err(
                "choosing the context",
                format!(
                    "no context {c:?} in the kubeconfig (known: {})",
                    known.join(", ")
                ),
            ));
        }
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| err(&format!("loading context {name:?}"), e))?;
        let (client, watch_client) = limits::clients(config, timeout).await?;
        Ok(Self {
            audit: KubeAudit::new(client.clone()),
            identity: Arc::new(tokio::sync::OnceCell::new()),
            access: Arc::default(),
            client,
            watch_client,
            context: name,
            namespace: namespace.map(str::to_string),
            driver_id: None,
            lease: LeaseParams::default(),
            watch_scope: None,
            read_model: Arc::default(),
            watch_expiry: store::expiry_from_env(),
            serving: None,
        })
    }

    /// The client for requests with one answer, each bounded by the timeout.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The client for watches (no deadline; an idle timeout above the watch timeout).
    pub fn watch_client(&self) -> Client {
        self.watch_client.clone()
    }

    pub async fn nodes(&self) -> Result<Vec<Node>, CoreError> {
        let api: Api<K8sNode> = Api::all(self.client.clone());
        let list = list_all(&api, &ListParams::default())
            .await
            .map_err(|e| err("listing nodes", e))?;
        Ok(list.iter().map(|n| map_node(n, &self.context)).collect())
    }

    pub async fn pods(&self) -> Result<Vec<Pod>, CoreError> {
        let api: Api<K8sPod> = self.namespaced();
        let list = list_all(&api, &ListParams::default())
            .await
            .map_err(|e| err("listing pods", e))?;
        Ok(list.iter().map(|p| map_pod(p, &self.context)).collect())
    }

    pub async fn deployments(&self) -> Result<Vec<Deployment>, CoreError> {
        let api: Api<K8sDeployment> = self.namespaced();
        let list = list_all(&api, &ListParams::default().labels(MODEL_LABEL))
            .await
            .map_err(|e| err("listing deployments", e))?;
        Ok(list
            .iter()
            .filter_map(|d| map_deployment(d, &self.context))
            .collect())
    }

    /// The newest [`EVENTS_KEPT`] Events. The API server lists Events in the order of their
    /// names (the object's name first), not their time: a first page alone held the oldest
    /// objects' Events and none of the newest. Every page is read, up to [`EVENT_PAGES`] pages.
    pub async fn events(&self) -> Result<Vec<ClusterEvent>, CoreError> {
        let api: Api<K8sEvent> = self.namespaced();
        let mut events: Vec<ClusterEvent> = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..EVENT_PAGES {
            let mut params = ListParams::default().limit(EVENTS_PAGE);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let list = api
                .list(&params)
                .await
                .map_err(|e| err("listing events", e))?;
            events.extend(list.items.iter().map(|e| map_event(e, &self.context)));
            token = list.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        events.sort_by_key(|e| e.time);
        let extra = events.len().saturating_sub(EVENTS_KEPT);
        events.drain(..extra);
        Ok(events)
    }

    /// Append to the cluster's audit log as the user the cluster says we are.
    pub async fn audit(
        &self,
        action: &str,
        target: &str,
        comment: &str,
        details: &str,
    ) -> Result<AuditEntry, CoreError> {
        let actor = self.identity().await?;
        self.append_audit(AuditRecord {
            time: Utc::now(),
            actor,
            action: action.to_string(),
            target: target.to_string(),
            comment: comment.to_string(),
            details: details.to_string(),
        })
        .await
    }

    /// Append `record` to the cluster's audit log; a command whose entry cannot be written is
    /// refused.
    pub async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry, CoreError> {
        let what = format!("{} {}", record.action, record.target);
        self.audit_log()
            .append(record)
            .await
            .map_err(|e| err(&what, format!("refused: it could not be audited ({e})")))
    }

    /// The cluster's audit log.
    pub fn audit_log(&self) -> &KubeAudit {
        &self.audit
    }

    /// This process drives rollouts under the lease identity `id` while no controller holds it;
    /// `driver()` then says `Embedded` when the lease is ours.
    #[must_use]
    pub fn with_driver_id(mut self, id: &str) -> Self {
        self.driver_id = Some(id.to_string());
        self
    }

    /// Changes to a rollout's Deployments start from the stable Deployment as `serving` (a watch
    /// of the serving Deployments) has it, and read the API server only when it is not there.
    #[must_use]
    pub fn with_serving_cache(
        mut self,
        serving: kube::runtime::reflector::Store<k8s_openapi::api::apps::v1::Deployment>,
    ) -> Self {
        self.serving = Some(serving);
        self
    }

    /// A watch no view on screen needs is stopped after `expiry` (default 3 minutes).
    #[must_use]
    pub fn with_watch_expiry(mut self, expiry: Duration) -> Self {
        self.watch_expiry = expiry;
        self
    }

    /// The watch-fed read model, made on first use (with the lease and driver identity set
    /// by then).
    pub fn read_model(&self) -> readmodel::Shared {
        self.read_model
            .get_or_init(|| {
                Arc::new(readmodel::ReadModel::new(
                    &self.context,
                    self.watch_client.clone(),
                    self.namespace.clone(),
                    self.lease.clone(),
                    self.driver_id.clone(),
                    self.watch_expiry,
                ))
            })
            .clone()
    }

    /// The kubeconfig context this cluster was reached through.
    pub fn describe_context(&self) -> String {
        self.context.clone()
    }

    /// The namespace commands default to: `-n`, else the kubeconfig context's, else `default`.
    pub fn default_namespace(&self) -> String {
        self.namespace
            .clone()
            .unwrap_or_else(|| self.client.default_namespace().to_string())
    }

    /// Who the cluster says we are (SelfSubjectReview). Asked once per client: the credentials
    /// do not change under it, and the snapshot, every command and its audit entry need it.
    pub async fn identity(&self) -> Result<String, CoreError> {
        self.identity
            .get_or_try_init(|| async {
                let api: Api<SelfSubjectReview> = Api::all(self.client.clone());
                let review = api
                    .create(&PostParams::default(), &SelfSubjectReview::default())
                    .await
                    .map_err(|e| err("asking who we are (SelfSubjectReview)", e))?;
                Ok(review
                    .status
                    .and_then(|SelfSubjectReviewStatus { user_info }| user_info)
                    .and_then(|u| u.username)
                    .unwrap_or_else(|| "unknown".into()))
            })
            .await
            .cloned()
    }

    /// Whether the cluster lets us use `verb` on the ModelRollouts of `namespace` (the custom
    /// command verbs of `rbac`, or `create`): a SelfSubjectAccessReview, so the answer is the
    /// API server's own. `Err(reason)`: a sentence naming who we are, the verb and the namespace.
    pub async fn may(&self, verb: &str, namespace: &str) -> Result<Result<(), String>, CoreError> {
        let status = self
            .access_review("mlops.dev", "modelrollouts", verb, namespace)
            .await?;
        if status.allowed {
            return Ok(Ok(()));
        }
        let who = self.identity().await.unwrap_or_else(|_| "unknown".into());
        let why = status
            .reason
            .filter(|r| !r.trim().is_empty())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        Ok(Err(format!(
            "you ({who}) cannot {verb} modelrollouts in {namespace}{why}"
        )))
    }

    /// The command verbs we may not use in each namespace that has rollouts, asked of the
    /// server (`may`) at most once a minute per namespace and verb. A question that fails is
    /// left out: the server still decides when the command is sent.
    async fn denied(
        &self,
        rollouts: &[RolloutRecord],
    ) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut namespaces: Vec<&str> = rollouts.iter().map(|r| r.namespace.as_str()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let mut verbs: Vec<&str> = Verb::ALL.iter().map(|v| v.rbac_verb()).collect();
        verbs.sort_unstable();
        verbs.dedup();
        let now = std::time::Instant::now();
        let asks = namespaces
            .iter()
            .flat_map(|ns| verbs.iter().map(move |v| (*ns, *v)));
        let answers = futures::future::join_all(asks.map(|(ns, verb)| async move {
            let key = (ns.to_string(), verb.to_string());
            let cached = self
                .access
                .lock()
                .ok()
                .and_then(|c| c.get(&key).cloned())
                .filter(|(at, _)| now.duration_since(*at) < ACCESS_TTL);
            let answer = match cached {
                Some((_, answer)) => answer,
                None => match self.may(verb, ns).await {
                    Ok(answer) => {
                        if let Ok(mut c) = self.access.lock() {
                            c.insert(key.clone(), (now, answer.clone()));
                        }
                        answer
                    }
                    Err(_) => Ok(()),
                },
            };
            (key, answer)
        }))
        .await;
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ((ns, verb), answer) in answers {
            if let Err(why) = answer {
                out.entry(ns).or_default().insert(verb, why);
            }
        }
        out
    }

    /// Watch a pod until it is Running (or `timeout` passes).
    pub async fn wait_pod_running(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Pod, CoreError> {
        let api: Api<K8sPod> = Api::namespaced(self.watch_client.clone(), namespace);
        let cond = await_condition(api, name, conditions::is_pod_running());
        match tokio::time::timeout(timeout, cond).await {
            Err(_) => Err(err(
                &format!("waiting for pod {namespace}/{name} to run"),
                format!("not Running after {}s", timeout.as_secs()),
            )),
            Ok(Err(e)) => Err(err(&format!("watching pod {namespace}/{name}"), e)),
            Ok(Ok(None)) => Err(CoreError::NotFound {
                kind: "pod",
                name: format!("{namespace}/{name}"),
            }),
            Ok(Ok(Some(p))) => Ok(map_pod(&p, &self.context)),
        }
    }

    /// Who drives the rollouts: the holder of the Lease, if it is live.
    pub async fn driver(&self) -> Driver {
        lease::driver(self.client.clone(), &self.lease, self.driver_id.as_deref()).await
    }

    /// The Lease that decides who drives rollouts, held as `holder`.
    pub fn lease(&self, holder: &str) -> LeaseLock {
        LeaseLock::new(self.client.clone(), holder, self.lease.clone())
    }

    fn namespaced<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }
}

#[async_trait]
impl AuditPort for KubeCluster {
    async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError> {
        self.audit.entries().await
    }
}

#[async_trait]
impl ClusterPort for KubeCluster {
    fn describe(&self) -> String {
        self.context.clone()
    }

    fn watch(&self) -> Option<ChangeStream> {
        Some(self.watch_changes())
    }

    fn want(&self, resources: &[mlops_core::model::ClusterResource]) {
        self.read_model().want(resources, std::time::Instant::now());
    }

    /// Read from the watches' stores (started on the first snapshot, which waits for their
    /// first lists): nothing is listed per refresh.
    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError> {
        let model = self.read_model();
        model.settle(DEFAULT_TIMEOUT).await;
        let read = model.read()?;
        let identity = self.identity().await?;
        let mut regions: Vec<String> = read
            .nodes
            .iter()
            .map(|n| n.region.clone())
            .filter(|r| !r.is_empty())
            .collect();
        regions.sort();
        regions.dedup();
        let denied = self.denied(&read.rollouts).await;
        let health = self.health(&read.watches).await;
        Ok(ClusterSnapshot {
            denied,
            clusters: vec![Cluster {
                name: self.context.clone(),
                region: regions.join(","),
                health,
            }],
            nodes: read.nodes,
            pods: read.pods,
            deployments: read.deployments,
            rollouts: read.rollouts,
            events: read.events,
            driver: read.driver,
            identity,
            triggers: read.triggers,
            watches: read.watches,
        })
    }

    async fn rollout_command(
        &self,
        _cluster: &str,
        namespace: &str,
        name: &str,
        command: Command,
    ) -> Result<RolloutRecord, CoreError> {
        self.send_command(namespace, name, &command).await
    }
}
