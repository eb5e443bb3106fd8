//! Requests to the API server, counted by Kubernetes verb and HTTP status: a tower layer on
//! both clients (`limits`) adds one to [`api_requests`] as each answer's head arrives, or
//! under `code="error"` when none came (a refused connection, a timeout). The family lives for
//! the process; `mlops controller` serves it on `/metrics`
//! (`mlops_controller_kube_requests_total`), other commands only count.

use std::{
    pin::Pin,
    sync::LazyLock,
    task::{Context, Poll},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use tower::{Layer, Service};

/// One kind of request: its verb as RBAC names it and the answer's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ApiRequest {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` (`other` for anything else).
    pub verb: &'static str,
    /// The HTTP status code, or `error` when no answer came.
    pub code: String,
}

static API_REQUESTS: LazyLock<Family<ApiRequest, Counter>> = LazyLock::new(Family::default);

/// The process's count of API requests by verb and status.
pub fn api_requests() -> &'static Family<ApiRequest, Counter> {
    &API_REQUESTS
}

/// The RBAC verb of a request: its method, and for a GET whether it names one object, a
/// collection (`list`) or asks to watch (`watch=true`). Paths are `/api/v1/…` or
/// `/apis/GROUP/VERSION/…`, then `[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]`.
pub fn verb_of(method: &http::Method, uri: &http::Uri) -> &'static str {
    let watch = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    match *method {
        http::Method::GET if watch => "watch",
        http::Method::GET if names_a_collection(uri.path()) => "list",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

/// The path names a collection (`…/RESOURCE`), not one object (`…/RESOURCE/NAME…`).
fn names_a_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let (["api", _, rest @ ..] | ["apis", _, _, rest @ ..]) = parts.as_slice() else {
        return false;
    };
    let rest = match rest {
        ["namespaces", _ns, resource, more @ ..] => {
            return more.is_empty() && !resource.is_empty();
        }
        other => other,
    };
    rest.len() == 1
}

/// The layer that counts each request (see the module's comment).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counted;

impl<S> Layer<S> for Counted {
    type Service = CountedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountedService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct CountedService<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for CountedService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let verb = verb_of(request.method(), request.uri());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            let code = match &answer {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            api_requests()
                .get_or_create(&ApiRequest { verb, code })
                .inc();
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verb(method: &str, uri: &str) -> &'static str {
        verb_of(&method.parse().expect("method"), &uri.parse().expect("uri"))
    }

    #[test]
    fn verbs_as_rbac_names_them() {
        let mr = "/apis/mlops.dev/v1alpha1";
        assert_eq!(verb("GET", &format!("{mr}/modelrollouts")), "list");
        assert_eq!(
            verb(
                "GET",
                &format!("{mr}/modelrollouts?watch=true&timeoutSeconds=60")
            ),
            "watch"
        );
        assert_eq!(
            verb(
                "GET",
                &format!("{mr}/namespaces/ml/modelrollouts?limit=500")
            ),
            "list"
        );
        assert_eq!(
            verb("GET", &format!("{mr}/namespaces/ml/modelrollouts/a")),
            "get"
        );
        assert_eq!(
            verb("PUT", &format!("{mr}/namespaces/ml/modelrollouts/a/status")),
            "update"
        );
        assert_eq!(verb("GET", "/api/v1/namespaces"), "list");
        assert_eq!(verb("GET", "/api/v1/namespaces/ml"), "get");
        assert_eq!(verb("GET", "/api/v1/nodes"), "list");
        assert_eq!(verb("GET", "/api/v1/nodes/n1"), "get");
        assert_eq!(verb("GET", "/version"), "get");
        assert_eq!(verb("POST", "/api/v1/namespaces/ml/events"), "create");
        assert_eq!(
            verb("PATCH", "/apis/apps/v1/namespaces/ml/deployments/d"),
            "patch"
        );
        assert_eq!(
            verb("DELETE", "/apis/apps/v1/namespaces/ml/deployments/d"),
            "delete"
        );
        assert_eq!(verb("HEAD", "/api/v1/nodes"), "other");
    }

    /// The layer counts an answer under its status and a failure under `error`.
    #[tokio::test]
    async fn counts_answers_and_failures() {
        let answer = |status: u16| {
            tower::service_fn(move |_r: http::Request<()>| async move {
                if status == 0 {
                    Err("refused")
                } else {
                    Ok(http::Response::builder()
                        .status(status)
                        .body(())
                        .expect("response"))
                }
            })
        };
        let request = || {
            http::Request::builder()
                .method("DELETE")
                .uri("/api/v1/namespaces/counted-test/pods/p")
                .body(())
                .expect("request")
        };
        let count = |code: &str| {
            api_requests()
                .get(&ApiRequest {
                    verb: "delete",
                    code: code.into(),
                })
                .map_or(0, |c| c.get())
        };
        let (ok, failed) = (count("409"), count("error"));
        let mut s = Counted.layer(answer(409));
        assert!(s.call(request()).await.is_ok());
        let mut s = Counted.layer(answer(0));
        assert!(s.call(request()).await.is_err());
        assert_eq!(count("409"), ok + 1);
        assert_eq!(count("error"), failed + 1);
    }
}
