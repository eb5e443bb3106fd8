//! Notifications on the wire: a namespace's configuration read from its ConfigMap and Secret
//! `mlops-notifications`, and one delivery over HTTP. A URL is never logged, shown or put in an
//! error (a Slack URL's path is its token): only its scheme and host, through
//! `mlops_core::notify::config::redacted`.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use mlops_core::{
    CoreError,
    notify::{
        config::{self, CONFIG_NAME, Config, Problem},
        payload::IDEMPOTENCY_HEADER,
    },
};

/// How long one delivery may take, connecting included: a receiver that hangs costs this much
/// of its own delivery task, never a reconcile pass.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a receiver's refusal quoted in the Event.
const MAX_ANSWER: usize = 200;

/// A namespace's notifications: the destinations that can be delivered to (a URL that reads),
/// what is subscribed, and everything found wrong.
#[derive(Debug, Clone, Default)]
pub struct NamespaceConfig {
    pub config: Config,
    /// The URL of each destination whose Secret key holds a good one.
    pub urls: BTreeMap<String, String>,
    pub problems: Vec<Problem>,
    /// When the ConfigMap was created: the namespace's subscriptions cover events from then on.
    pub since: Option<DateTime<Utc>>,
}

/// Read `namespace`'s ConfigMap and Secret `mlops-notifications`. No ConfigMap: nothing is
/// configured (a rollout's annotations can still subscribe, and are then told so). An error is
/// the API server's (unreachable, forbidden).
pub async fn load(client: &Client, namespace: &str) -> Result<NamespaceConfig, CoreError> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let what = format!("reading the ConfigMap {namespace}/{CONFIG_NAME}");
    let Some(cm) = cms
        .get_opt(CONFIG_NAME)
        .await
        .map_err(|e| super::kube::err(&what, e))?
    else {
        return Ok(NamespaceConfig::default());
    };
    let (config, mut problems) =
        config::parse_config_map(namespace, &cm.data.clone().unwrap_or_default());
    let since = cm.metadata.creation_timestamp.as_ref().and_then(|t| {
        DateTime::<Utc>::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().unsigned_abs())
    });
    let mut urls = BTreeMap::new();
    if !config.destinations.is_empty() {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let what = format!("reading the Secret {namespace}/{CONFIG_NAME}");
        let secret = secrets
            .get_opt(CONFIG_NAME)
            .await
            .map_err(|e| super::kube::err(&what, e))?;
        let data = secret.and_then(|s| s.data);
        for name in config.destinations.keys() {
            let place = format!("Secret {namespace}/{CONFIG_NAME} key {name}");
            let raw = data.as_ref().and_then(|d| d.get(name)).map(|b| &b.0);
            let Some(raw) = raw else {
                problems.push(Problem {
                    place,
                    message: format!(
                        "missing: the URL of destination {name} (the Secret {} exist)",
                        if data.is_some() { "does" } else { "does not" }
                    ),
                });
                continue;
            };
            let Ok(url) = std::str::from_utf8(raw) else {
                problems.push(Problem {
                    place,
                    message: "the URL is not UTF-8 text".into(),
                });
                continue;
            };
            match config::check_url(url) {
                Ok(()) => {
                    urls.insert(name.clone(), url.trim().to_string());
                }
                Err(why) => problems.push(Problem {
                    place,
                    message: format!("the URL {why}"),
                }),
            }
        }
    }
    Ok(NamespaceConfig {
        config,
        urls,
        problems,
        since,
    })
}

/// Delivers notifications: one HTTP client, its certificates verified (the system's roots) for
/// https; no redirects followed (a receiver that moves is a failure to look at).
#[derive(Clone)]
pub struct Deliverer {
    http: reqwest::Client,
}

impl Deliverer {
    pub fn new() -> Result<Self, CoreError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mlops-console/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                CoreError::backend(
                    "notifications",
                    format!("creating the HTTP client: {}", super::kube::error_chain(&e)),
                )
            })?;
        Ok(Self { http })
    }

    /// POST `body` to `url` with the idempotency key in its header. A 2xx answer is delivered;
    /// anything else is an error in words that never quote the URL.
    pub async fn deliver(
        &self,
        url: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        let answer = self
            .http
            .post(url)
            .header(IDEMPOTENCY_HEADER, key)
            .json(body)
            .send()
            .await
            .map_err(|e| super::http::transport_error(&e.without_url(), DELIVERY_TIMEOUT))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let text = answer.bytes().await.unwrap_or_default();
        let text = super::http::snippet(&text);
        Err(format!(
            "answered {}: {}",
            super::http::status_text(status),
            mlops_core::text::truncate(&text, MAX_ANSWER)
        ))
    }
}
