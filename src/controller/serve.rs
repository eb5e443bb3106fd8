//! The controller's own small HTTP server (`--metrics-addr`): `GET /metrics` (OpenMetrics text),
//! `/healthz` (200 while the loop goes round) and `/readyz` (200 once the rollouts' first list
//! is in the cache and the lease has been read; 503 before, saying why); 404 for any other path,
//! 405 for any other method. HTTP/1.1 by hand over tokio, one request per connection: the
//! request head is read up to [`MAX_HEAD`] bytes within [`READ_WITHIN`], at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed unanswered), and an answer only
//! reads what the passes recorded, so a scrape never waits on a pass nor a pass on a scrape.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use mlops_core::CoreError;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};

use super::telemetry::Telemetry;

/// Where `mlops controller` serves its metrics unless `--metrics-addr` says otherwise.
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:9090";
/// The most bytes of a request's head.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request, and to take the answer.
const READ_WITHIN: Duration = Duration::from_secs(5);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 32;

/// `--metrics-addr`: an address to listen on, or none (`off`, or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsAddr(pub Option<SocketAddr>);

/// Read `--metrics-addr`: `IP:PORT`, `[IPv6]:PORT`, `:PORT` (every IPv4 address), or `off`/``
/// (no server). Port 0 takes any free port (the log says which).
pub fn parse_metrics_addr(text: &str) -> Result<MetricsAddr, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") {
        return Ok(MetricsAddr(None));
    }
    let full = if t.starts_with(':') {
        format!("0.0.0.0{t}")
    } else {
        t.to_string()
    };
    full.parse::<SocketAddr>()
        .map(|a| MetricsAddr(Some(a)))
        .map_err(|_| {
            format!(
                "\"{}\" is not an address to listen on: expected IP:PORT (0.0.0.0:9090, \
                 127.0.0.1:9090, [::]:9090), :PORT, or off",
                mlops_core::text::truncate(t, 80)
            )
        })
}

/// Listen on `addr`; a port that cannot be bound is an error naming it and the flag.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, CoreError> {
    TcpListener::bind(addr).await.map_err(|e| {
        CoreError::backend(
            "controller",
            format!(
                "cannot serve /metrics on {addr}: {e}; choose another address with \
                 --metrics-addr, or turn the server off with --metrics-addr off"
            ),
        )
    })
}

/// Answer requests on `listener` for as long as the runtime runs.
pub async fn serve(listener: TcpListener, telemetry: Arc<Telemetry>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, mostly: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READ_WITHIN * 2, answer(stream, &telemetry)).await;
            drop(slot);
        });
    }
}

/// One answer: the status, its content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Service Unavailable",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

async fn answer(mut stream: TcpStream, telemetry: &Telemetry) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0_u8; 1024];
    // Never more than MAX_HEAD bytes read: a head that does not end by then is refused.
    let read = tokio::time::timeout(READ_WITHIN, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let room = MAX_HEAD.saturating_sub(head.len()).min(buf.len());
            if room == 0 {
                return Some(Response::text(431, "request head too large\n"));
            }
            match stream.read(&mut buf[..room]).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        Some(respond(&head, telemetry))
    })
    .await;
    if let Ok(Some(response)) = read {
        let _ = stream.write_all(&response.bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// The answer to a request whose head is `head`.
pub fn respond(head: &[u8], telemetry: &Telemetry) -> Response {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Response::text(400, "not an HTTP request\n");
    };
    let path = target.split('?').next().unwrap_or_default();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return Response::text(404, "not found: try /metrics, /healthz or /readyz\n");
    }
    if method != "GET" {
        return Response::text(405, "only GET\n");
    }
    match path {
        "/metrics" => Response {
            status: 200,
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body: telemetry.encode(),
        },
        "/healthz" => match telemetry.not_alive() {
            None => Response::text(200, "ok\n"),
            Some(why) => Response::text(503, format!("{why}\n")),
        },
        _ => {
            let why = telemetry.not_ready();
            if why.is_empty() {
                Response::text(200, "ready\n")
            } else {
                let body = why
                    .iter()
                    .fold(String::new(), |out, w| out + "not ready: " + w + "\n");
                Response::text(503, body)
            }
        }
    }
}

#[cfg(test)]
#[path = "serve_tests.rs"]
mod tests;
