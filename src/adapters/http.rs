//! The HTTP layer MLflow and Prometheus share: credentials, base URLs, the client (rustls, TLS
//! verified), one `Endpoint` that every request goes through, error texts, and the typed error of
//! one call, mapped into the core's error once.
//!
//! Bounded by construction: every call through [`Endpoint::send`] has a connect timeout
//! ([`CONNECT_TIMEOUT`]), an idle-read timeout ([`READ_IDLE_TIMEOUT`]) and one deadline for the
//! whole call, retries included (the configured timeout, [`DEFAULT_TIMEOUT`]); it reads at most
//! [`MAX_BODY`] bytes of an answer (a larger `Content-Length` is refused before reading, a longer
//! stream is cut), within the process's budget for answers (`adapters::budget`); it retries a connection failure, a reset or a 429/502/503/504 at most
//! [`RETRIES`] times, with exponential backoff and jitter, while the deadline leaves time. Every
//! request it sends is a read or an idempotent write (set an alias, set a tag), so repeating one
//! is safe. URL paths are joined segment by segment by the `url` crate, which encodes them.

use std::{
    fmt,
    hash::BuildHasher,
    path::PathBuf,
    time::{Duration, Instant},
};

use mlops_core::{CoreError, error::Cause};
use reqwest::{Method, RequestBuilder, StatusCode, Url};

use super::budget;

/// The whole of one call (retries included) unless an adapter's `with_timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = super::defaults::CALL_TIMEOUT;
/// Connecting (TCP and TLS) to the server, per attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest silence while an answer is read, per attempt.
pub const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most bytes of one answer that are read (the adapters' one limit).
pub const MAX_BODY: usize = super::defaults::MAX_BODY;
/// Retries of one call after the first attempt.
pub const RETRIES: u32 = 2;
/// The first backoff; each retry doubles it, with ±50 % jitter.
pub const BACKOFF: Duration = Duration::from_millis(200);
/// Longest piece of a response body quoted in an error.
const BODY_SNIPPET: usize = 300;

/// How requests authenticate. `Debug` never shows a secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Auth::Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// What kind of credentials, for `describe()`: never the secret itself.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "no auth",
            Auth::Basic { .. } => "basic auth",
            Auth::Bearer(_) => "bearer token",
        }
    }

    fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }
}

/// How an endpoint checks the server's certificate. The default verifies it against the system's
/// roots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// A PEM file of CA certificates trusted in addition to the system's (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Only ever set explicitly, and warned about on every start.
    pub insecure_skip_verify: bool,
    /// The setting that asked for it, named in errors and warnings.
    pub source: String,
}

impl Tls {
    /// The warning shown on every start while verification is off for `backend` at `url`.
    pub fn warning(&self, backend: &str, url: &str) -> Option<String> {
        self.insecure_skip_verify.then(|| {
            format!(
                "TLS verification is OFF for {backend} at {} ({}): its certificate is not checked, so anyone on the way can read and change what it answers",
                mlops_core::text::redact_userinfo(url),
                self.source
            )
        })
    }
}

/// Where the CA of `backend`'s certificate is given.
fn ca_setting(backend: &str) -> String {
    match backend {
        "mlflow" => "MLFLOW_TRACKING_SERVER_CERT_PATH or [mlflow] ca_file".into(),
        "prometheus" => "MLOPS_PROMETHEUS_CA_FILE or [prometheus] ca_file".into(),
        other => format!("[{other}] ca_file"),
    }
}

/// The most bytes of a CA bundle (the system's whole bundle is about 200 KiB).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The client every request of one endpoint goes through: rustls, the system's roots plus
/// `tls.ca_file`, or no verification where `tls` says so.
fn client(kind: &str, tls: &Tls) -> Result<reqwest::Client, CoreError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("mlops-console/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_IDLE_TIMEOUT);
    if let Some(path) = &tls.ca_file {
        let shown = path.display();
        let pem = crate::files::read_bytes(path, MAX_CA_FILE_BYTES, "a CA file").map_err(|e| {
            CoreError::backend(
                kind,
                format!("the CA file {shown} ({}) cannot be read: {e}", tls.source),
            )
            .caused_by(e)
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                CoreError::backend(
                    kind,
                    format!(
                        "the CA file {shown} ({}) holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        tls.source
                    ),
                )
            })?;
        builder = builder.tls_certs_merge(certs);
    }
    if tls.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| {
        let text = transport_error(&e, DEFAULT_TIMEOUT);
        CoreError::backend(kind, format!("creating the HTTP client: {text}")).caused_by(e)
    })
}

/// Parse a base URL (http or https only), moving any user-info into `auth` so that the URL
/// can be shown in errors. `what` names the setting for the error message.
pub fn parse_base_url(what: &str, raw: &str, auth: &mut Auth) -> Result<Url, String> {
    let trimmed = raw.trim();
    let mut url = Url::parse(trimmed).map_err(|e| {
        format!("{what} must be an http(s) URL such as http://127.0.0.1:5000 ({e})")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{what} must be an http(s) URL; scheme {:?} is not supported",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        if *auth == Auth::None {
            *auth = Auth::Basic {
                username: percent_decode(url.username()),
                password: percent_decode(url.password().unwrap_or_default()),
            };
        }
        // Infallible for http(s) URLs, which have a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL as shown to users: no user-info (already removed), no trailing slash.
pub fn shown_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// A transport failure in words: reqwest's message plus its causes (e.g. "connection
/// refused"). Give it the error `without_url()`: the caller names the URL itself.
pub fn transport_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return if timeout < Duration::from_secs(1) {
            format!("no answer within {} ms (timed out)", timeout.as_millis())
        } else {
            format!(
                "no answer within {:.1} s (timed out)",
                timeout.as_secs_f64()
            )
        };
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
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

/// The start of a response body, on one line, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > BODY_SNIPPET {
        let cut: String = one_line.chars().take(BODY_SNIPPET).collect();
        format!("{cut}…")
    } else if one_line.is_empty() {
        "(empty body)".into()
    } else {
        one_line
    }
}

/// Floats as JSON mappings spell them, including NaN and infinities.
pub fn parse_float(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "+Infinity" | "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Infinity" | "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// "404 Not Found" from a status code.
pub fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// What went wrong with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error status; `code` and `message` from its error body,
    /// `hint` what to check (credentials, permissions).
    Api {
        status: StatusCode,
        code: Option<String>,
        message: String,
        hint: &'static str,
    },
    /// No usable answer: connection, TLS, timeout.
    Transport(String),
    /// An answer that is not what the API documents.
    Malformed(String),
    /// An answer longer than the layer reads (`limit` bytes).
    TooLarge { limit: usize },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Api {
                status,
                code,
                message,
                hint,
            } => {
                write!(f, "{}", status_text(*status))?;
                if let Some(code) = code {
                    write!(f, ": {code}")?;
                }
                if !message.is_empty() || code.is_none() {
                    write!(f, ": {message}")?;
                }
                f.write_str(hint)
            }
            Failure::Transport(m) => f.write_str(m),
            Failure::Malformed(m) => write!(f, "malformed response: {m}"),
            Failure::TooLarge { limit } => write!(
                f,
                "answer larger than {} MiB, the most one response may be; stopped reading (a proxy or server sending without end?)",
                limit / (1024 * 1024)
            ),
        }
    }
}

/// One call's error: which backend, which request, what went wrong. Kept typed until it
/// becomes the core's error (`From<CallError> for CoreError`), so callers can tell "does not
/// exist" from "refused" from "down"; the core's error keeps it as its source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{backend}: {failure} — {endpoint}")]
pub struct CallError {
    pub backend: String,
    /// `GET /api/2.0/mlflow/runs/get`, with the query when it helps.
    pub endpoint: String,
    pub failure: Failure,
    /// The client's own error (a connection refused, a TLS failure), when there is one.
    #[source]
    pub cause: Option<Cause>,
}

impl CallError {
    /// The server says the thing asked for does not exist (HTTP 404, or MLflow's
    /// `RESOURCE_DOES_NOT_EXIST`).
    pub fn is_not_found(&self) -> bool {
        matches!(
            &self.failure,
            Failure::Api { code: Some(c), .. } if c == "RESOURCE_DOES_NOT_EXIST"
        ) || matches!(&self.failure, Failure::Api { status, code: None, .. } if *status == StatusCode::NOT_FOUND)
    }
}

impl From<CallError> for CoreError {
    /// The cause comes first and the request and server last (`mlflow: HTTP 401 … (check …) —
    /// POST /api/… at http://…`), so a reason cut to fit a screen still says what went wrong.
    fn from(e: CallError) -> Self {
        let message = format!("{} — {}", e.failure, e.endpoint);
        let kind = match &e.failure {
            Failure::Malformed(_) | Failure::TooLarge { .. } => mlops_core::ErrorKind::Malformed,
            Failure::Api { status, .. }
                if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
            {
                mlops_core::ErrorKind::Denied
            }
            Failure::Api { status, .. } if status.is_client_error() => {
                mlops_core::ErrorKind::Rejected
            }
            // No answer, or the server failed on its side.
            Failure::Transport(_) | Failure::Api { .. } => mlops_core::ErrorKind::Unavailable,
        };
        CoreError::of_kind(kind, e.backend.clone(), message).caused_by(e)
    }
}

/// The answer to one request: its status and body.
pub struct Answer {
    pub status: StatusCode,
    pub body: bytes::Bytes,
    /// The body's share of the process's budget for answers, held until the answer is dropped.
    _share: budget::Share,
}

/// One HTTP API behind a base URL: the client, the credentials and the limits every request
/// carries. MLflow and Prometheus each hold one.
#[derive(Clone)]
pub struct Endpoint {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    timeout: Duration,
    max_body: usize,
    backend: String,
    /// Certificates are not checked (shown in `auth_kind`).
    insecure: bool,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &shown_url(&self.base))
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to; a failure carries the client's error where there is one.
enum Attempt {
    Done(Answer),
    /// Worth another try: the connection failed or was reset.
    Retry(Failure, Option<Cause>),
    /// Worth another try: the server is busy or restarting (429, 502, 503, 504). When the tries
    /// are spent the answer goes to the caller, which reads the API's error body itself.
    Busy(Answer),
    Failed(Failure, Option<Cause>),
}

impl Endpoint {
    /// `url` (http or https; user-info moves into the credentials) for the backend `kind`
    /// (`mlflow`, `prometheus`); `what` names the setting in errors.
    pub fn new(kind: &str, what: &str, url: &str, auth: Auth) -> Result<Self, CoreError> {
        let mut auth = auth;
        let base = parse_base_url(what, url, &mut auth).map_err(|m| CoreError::backend(kind, m))?;
        Ok(Self {
            backend: kind.to_string(),
            http: client(kind, &Tls::default())?,
            base,
            auth,
            timeout: DEFAULT_TIMEOUT,
            max_body: MAX_BODY,
            insecure: false,
        })
    }

    /// The same endpoint with its certificate checked as `tls` says.
    pub fn with_tls(mut self, tls: &Tls) -> Result<Self, CoreError> {
        self.http = client(&self.backend, tls)?;
        self.insecure = tls.insecure_skip_verify;
        Ok(self)
    }

    /// The deadline of one whole call, retries included.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most bytes of one answer that are read (default [`MAX_BODY`]).
    #[must_use]
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The backend as errors name it: `mlflow`, `prometheus` (the URL ends the message).
    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub fn base_url(&self) -> String {
        shown_url(&self.base)
    }

    /// The credentials (for this crate's tests; `Debug` of `Auth` redacts them).
    #[cfg(test)]
    pub(crate) fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The kind of credentials, and that certificates are not checked where that is so.
    pub fn auth_kind(&self) -> String {
        if self.insecure {
            format!("{}, TLS not verified", self.auth.kind())
        } else {
            self.auth.kind().to_string()
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The error of a request to `endpoint` (as shown: `GET /api/v1/query`), which the error
    /// names with the server: `GET /api/v1/query at http://…`.
    pub fn fail(&self, endpoint: &str, failure: Failure) -> CallError {
        CallError {
            backend: self.backend.clone(),
            endpoint: format!("{endpoint} at {}", shown_url(&self.base)),
            failure,
            cause: None,
        }
    }

    /// The URL of `path` under the base URL: each `/`-separated segment is pushed (and
    /// percent-encoded) by the `url` crate, never pasted into the URL text.
    pub fn url(&self, path: &str) -> Result<Url, String> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| format!("{} cannot take a path", shown_url(&self.base)))?;
            segments.pop_if_empty();
            segments.extend(path.split('/').filter(|s| !s.is_empty()));
        }
        Ok(url)
    }

    /// One call to `path` (relative to the base URL): at most [`RETRIES`] retries, all within
    /// the endpoint's timeout, at most `max_body` bytes read. `shown` names it in errors.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        shown: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, CallError> {
        let url = self
            .url(path)
            .map_err(|e| self.fail(shown, Failure::Transport(format!("building the URL: {e}"))))?;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            let request = self
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            let request = if query.is_empty() {
                request
            } else {
                request.query(query)
            };
            let request = match body {
                Some(body) => request.json(body),
                None => request,
            };
            let outcome = match tokio::time::timeout_at(
                deadline,
                self.attempt(self.auth.apply(request), deadline),
            )
            .await
            {
                Ok(Attempt::Done(answer)) => return Ok(answer),
                Ok(Attempt::Failed(failure, cause)) => {
                    return Err(CallError {
                        cause,
                        ..self.fail(shown, failure)
                    });
                }
                Ok(Attempt::Retry(failure, cause)) => Err((failure, cause)),
                Ok(Attempt::Busy(answer)) => Ok(answer),
                Err(_) => return Err(self.fail(shown, Failure::Transport(self.timed_out()))),
            };
            let pause = backoff(attempt);
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if attempt >= RETRIES || left <= pause {
                let tries = attempt + 1;
                return match outcome {
                    Ok(answer) => Ok(answer),
                    Err((Failure::Transport(m), cause)) if tries > 1 => Err(CallError {
                        cause,
                        ..self.fail(
                            shown,
                            Failure::Transport(format!(
                                "{m} ({tries} tries in {:.1} s)",
                                started.elapsed().as_secs_f64()
                            )),
                        )
                    }),
                    Err((f, cause)) => Err(CallError {
                        cause,
                        ..self.fail(shown, f)
                    }),
                };
            }
            tracing::debug!(
                backend = %self.backend,
                endpoint = shown,
                attempt,
                status = ?outcome.as_ref().ok().map(|a| a.status),
                "retrying"
            );
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// "no answer within 10.0 s (timed out)".
    fn timed_out(&self) -> String {
        if self.timeout < Duration::from_secs(1) {
            format!(
                "no complete answer within {} ms (timed out)",
                self.timeout.as_millis()
            )
        } else {
            format!(
                "no complete answer within {:.1} s (timed out)",
                self.timeout.as_secs_f64()
            )
        }
    }

    /// One attempt: send, then read at most `max_body` bytes of the answer.
    async fn attempt(&self, request: RequestBuilder, deadline: tokio::time::Instant) -> Attempt {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let mut response = match request.timeout(left).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Failed(
                    Failure::Transport(self.timed_out()),
                    Some(Cause::new(e.without_url())),
                );
            }
            // Connection refused or reset: nothing was answered; worth another try.
            Err(e) => {
                let e = e.without_url();
                let text = transport_error(&e, self.timeout);
                // A certificate that is not trusted stays so: said at once, with the remedy.
                if text.contains("certificate") {
                    return Attempt::Failed(
                        Failure::Transport(format!(
                            "{text} (a private CA: trust it with {})",
                            ca_setting(&self.backend)
                        )),
                        Some(Cause::new(e)),
                    );
                }
                return Attempt::Retry(Failure::Transport(text), Some(Cause::new(e)));
            }
        };
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Attempt::Failed(
                Failure::TooLarge {
                    limit: self.max_body,
                },
                None,
            );
        }
        // The chunks as they came (no doubling buffer), joined once at the end.
        let mut chunks: Vec<bytes::Bytes> = Vec::new();
        let mut read = 0usize;
        let mut share = budget::Share::default();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if read + chunk.len() > self.max_body {
                        return Attempt::Failed(
                            Failure::TooLarge {
                                limit: self.max_body,
                            },
                            None,
                        );
                    }
                    if let Err(why) = share.take(chunk.len()) {
                        return Attempt::Failed(Failure::Transport(why), None);
                    }
                    read += chunk.len();
                    chunks.push(chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Attempt::Failed(
                        Failure::Transport(self.timed_out()),
                        Some(Cause::new(e.without_url())),
                    );
                }
                // Reset in the middle of the answer.
                Err(e) => {
                    let e = e.without_url();
                    let text = transport_error(&e, self.timeout);
                    return Attempt::Retry(
                        Failure::Transport(format!("{status} but the answer broke off: {text}")),
                        Some(Cause::new(e)),
                    );
                }
            }
        }
        let body = if chunks.len() == 1 {
            chunks.pop().unwrap_or_default()
        } else {
            let mut joined = Vec::with_capacity(read);
            for c in chunks.drain(..) {
                joined.extend_from_slice(&c);
            }
            bytes::Bytes::from(joined)
        };
        let answer = Answer {
            status,
            body,
            _share: share,
        };
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        ) {
            return Attempt::Busy(answer);
        }
        Attempt::Done(answer)
    }
}

/// The pause before retry `attempt` (0-based): [`BACKOFF`] doubled per retry, ±50 % jitter.
fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF.saturating_mul(2u32.saturating_pow(attempt));
    // A random factor in [0.5, 1.5) from the standard library's randomly keyed hasher.
    let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
    let factor = 0.5 + (random % 1000) as f64 / 1000.0;
    base.mul_f64(factor)
}
