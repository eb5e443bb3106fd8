//! The Kubernetes clients, bounded by construction. Two clients per cluster:
//!
//! - the call client, for every request that expects one answer (list, get, create, replace,
//!   patch): connect, write and idle-read timeouts of the configured timeout, and one deadline
//!   for the whole exchange, the body included (a server that drips bytes cannot hold a call
//!   open), and at most [`MAX_BODY`] bytes of an answer (lists are read in pages);
//! - the watch client, for watches, which stay open by design: the connect and write timeouts,
//!   an idle-read timeout just above the watch timeout the server is asked for
//!   ([`WATCH_TIMEOUT_SECONDS`]), and at most [`MAX_BODY`] bytes per watch request.
//!
//! Both count what they read against the process's budget for answers (`adapters::budget`),
//! and every request by verb and status (`requests`).
//!
//! Building a client runs a kubeconfig's `exec` credential plugin; it runs on a thread of its
//! own under the connect timeout, so a plugin that hangs cannot hold the console or a CLI verb.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use kube::{Client, Config, client::ClientBuilder};
use mlops_core::CoreError;
use tower::{BoxError, Layer, Service};

use super::{err, error_chain};
use crate::adapters::budget;

/// The most bytes of one answer (or of one watch request) that are read (the adapters' one
/// limit). Lists are read in pages of [`LIST_PAGE`] objects, so this is far above any one page.
pub const MAX_BODY: usize = crate::adapters::defaults::MAX_BODY;
/// Objects per page of a list.
pub const LIST_PAGE: u32 = 500;
/// How long the server keeps a watch open before the watcher starts a new one.
pub const WATCH_TIMEOUT_SECONDS: u32 = 60;
/// Silence on a watch longer than this is a dead connection.
const WATCH_READ_TIMEOUT: Duration = Duration::from_secs(WATCH_TIMEOUT_SECONDS as u64 + 15);

/// The call client and the watch client for `config`, each bounded; `timeout` is the
/// configured per-call timeout, and also bounds building them (an `exec` plugin).
pub async fn clients(config: Config, timeout: Duration) -> Result<(Client, Client), CoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread, not `spawn_blocking`: a plugin that never returns must not hold the runtime's
    // shutdown. The client spawns its worker on this runtime.
    let runtime = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("kube-client".into())
        .spawn(move || {
            let _inside = runtime.enter();
            let _ = tx.send(build(config, timeout));
        });
    if let Err(e) = spawned {
        return Err(err("creating the client", e.to_string()));
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(err("creating the client", "the builder thread ended")),
        Err(_) => Err(err(
            "creating the client",
            format!(
                "not done within {} s (a kubeconfig `exec` credential plugin that does not return?)",
                timeout.as_secs()
            ),
        )),
    }
}

fn build(config: Config, timeout: Duration) -> Result<(Client, Client), CoreError> {
    let mut calls = config.clone();
    calls.connect_timeout = Some(timeout);
    calls.write_timeout = Some(timeout);
    calls.read_timeout = Some(timeout);
    // The timeout counts from the request, not from when a pooled connection went idle.
    calls.reset_reader_on_write = true;
    let mut watches = config;
    watches.connect_timeout = Some(timeout);
    watches.write_timeout = Some(timeout);
    watches.read_timeout = Some(WATCH_READ_TIMEOUT);
    watches.reset_reader_on_write = true;
    let build = |config: Config, deadline: Option<Duration>| {
        ClientBuilder::try_from(config)
            .map(|b| {
                b.with_layer(&Bounded {
                    deadline,
                    max_body: MAX_BODY,
                    // A watch's bytes are decoded and let go as they come: only answers that
                    // are read whole count against the budget.
                    budgeted: deadline.is_some(),
                })
                // Outermost, so a deadline that passes is counted as no answer.
                .with_layer(&super::requests::Counted)
                .build()
            })
            .map_err(|e| err("creating the client", error_chain(&e)))
    };
    Ok((build(calls, Some(timeout))?, build(watches, None)?))
}

/// A layer that gives every exchange a deadline (headers and body) and caps the body.
#[derive(Debug, Clone, Copy)]
pub struct Bounded {
    /// The whole exchange, when it has one (watches do not).
    pub deadline: Option<Duration>,
    pub max_body: usize,
    /// Count the body against the process's budget for answers.
    pub budgeted: bool,
}

impl<S> Layer<S> for Bounded {
    type Service = BoundedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BoundedService {
            inner,
            limits: *self,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BoundedService<S> {
    inner: S,
    limits: Bounded,
}

impl<S, Req, B> Service<Req> for BoundedService<S>
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<BoundedBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let limits = self.limits;
        let deadline = limits.deadline.map(|d| tokio::time::Instant::now() + d);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = match deadline {
                Some(at) => tokio::time::timeout_at(at, answer)
                    .await
                    .map_err(|_| timed_out(limits.deadline))?,
                None => answer.await,
            }
            .map_err(Into::into)?;
            Ok(response.map(|body| BoundedBody {
                inner: body,
                share: limits.budgeted.then(budget::Share::default),
                read: 0,
                max: limits.max_body,
                limit: limits.deadline,
                deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            }))
        })
    }
}

fn timed_out(limit: Option<Duration>) -> BoxError {
    format!(
        "no complete answer within {} s (timed out)",
        limit.map_or(0, |d| d.as_secs())
    )
    .into()
}

/// A response body that fails once more than `max` bytes arrived or the deadline passed.
pub struct BoundedBody<B> {
    inner: B,
    share: Option<budget::Share>,
    read: usize,
    max: usize,
    limit: Option<Duration>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> HttpBody for BoundedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(timed_out(this.limit))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if let Some(Err(why)) = this.share.as_mut().map(|s| s.take(data.len())) {
                        return Poll::Ready(Some(Err(why.into())));
                    }
                    this.read = this.read.saturating_add(data.len());
                    if this.read > this.max {
                        return Poll::Ready(Some(Err(format!(
                            "answer larger than {} MiB, the most one response may be; stopped reading",
                            this.max / (1024 * 1024)
                        )
                        .into())));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            other => other.map(|f| f.map(|r| r.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
