//! The HTTP layer MLflow and Prometheus share: credentials, base URLs, the client (rustls, TLS
//! verified), one `Endpoint` that every request goes through (timeout, credentials, the body read),
//! error texts, and the typed error of one call, mapped into the core's error once.

use std::{fmt, time::Duration};

use mlops_core::CoreError;
use reqwest::{Method, RequestBuilder, StatusCode, Url};

/// Per-request timeout unless an adapter's `with_timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
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
/// refused"), without the URL, which the caller names itself.
pub fn transport_error(e: reqwest::Error, timeout: Duration) -> String {
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
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
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
        }
    }
}

/// One call's error: which backend, which request, what went wrong. Kept typed until it
/// becomes the core's error (`From<CallError> for CoreError`), so callers can tell "does not
/// exist" from "refused" from "down".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{backend}: {endpoint}: {failure}")]
pub struct CallError {
    pub backend: String,
    /// `GET /api/2.0/mlflow/runs/get`, with the query when it helps.
    pub endpoint: String,
    pub failure: Failure,
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
    fn from(e: CallError) -> Self {
        let message = format!("{}: {}", e.endpoint, e.failure);
        match &e.failure {
            Failure::Malformed(_) => CoreError::Malformed {
                backend: e.backend,
                message,
            },
            Failure::Api { status, .. }
                if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
            {
                CoreError::Denied {
                    backend: e.backend,
                    message,
                }
            }
            Failure::Api { status, .. } if status.is_client_error() => CoreError::Rejected {
                backend: e.backend,
                message,
            },
            // No answer, or the server failed on its side.
            Failure::Transport(_) | Failure::Api { .. } => CoreError::Unavailable {
                backend: e.backend,
                message,
            },
        }
    }
}

/// The answer to one request: its status and body.
pub struct Answer {
    pub status: StatusCode,
    pub body: bytes::Bytes,
}

/// One HTTP API behind a base URL: the client, the credentials and the timeout every request
/// carries. MLflow and Prometheus each hold one.
#[derive(Clone)]
pub struct Endpoint {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    timeout: Duration,
    backend: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &shown_url(&self.base))
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// `url` (http or https; user-info moves into the credentials) for the backend `kind`
    /// (`mlflow`, `prometheus`); `what` names the setting in errors.
    pub fn new(kind: &str, what: &str, url: &str, auth: Auth) -> Result<Self, CoreError> {
        let mut auth = auth;
        let base = parse_base_url(what, url, &mut auth).map_err(|m| CoreError::backend(kind, m))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("mlops-console/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|e| {
                CoreError::backend(
                    kind,
                    format!(
                        "creating the HTTP client: {}",
                        transport_error(e, DEFAULT_TIMEOUT)
                    ),
                )
            })?;
        Ok(Self {
            backend: format!("{kind} {}", shown_url(&base)),
            http,
            base,
            auth,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The backend as errors name it: `mlflow http://…`.
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

    pub fn auth_kind(&self) -> &'static str {
        self.auth.kind()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The error of a request to `endpoint` (as shown: `GET /api/v1/query`).
    pub fn fail(&self, endpoint: &str, failure: Failure) -> CallError {
        CallError {
            backend: self.backend.clone(),
            endpoint: endpoint.to_string(),
            failure,
        }
    }

    /// One request to `path` (relative to the base URL). `shown` names it in errors.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        shown: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, CallError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| self.fail(shown, Failure::Transport(format!("building the URL: {e}"))))?;
        let mut request = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response =
            self.auth.apply(request).send().await.map_err(|e| {
                self.fail(shown, Failure::Transport(transport_error(e, self.timeout)))
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.fail(shown, Failure::Transport(transport_error(e, self.timeout))))?;
        Ok(Answer { status, body })
    }
}
