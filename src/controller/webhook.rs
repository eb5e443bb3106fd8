//! The https endpoint MLflow's webhooks are delivered to (`--webhook-addr`): TLS only (rustls,
//! the certificate and key from files), `POST /webhooks/mlflow`, a body of at most 1 MiB (413
//! beyond, 411 without a Content-Length), the head at most 8 KiB within 5 s, at most 32
//! connections at once, one request per connection. What a delivery means is the triggers'
//! worker's to say (`triggers::Triggers::deliver`).

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use mlops_core::{
    CoreError,
    triggers::{MAX_BODY_BYTES, signature::Headers},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
    sync::Semaphore,
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};

use super::triggers::Triggers;

/// The path MLflow delivers to.
pub const WEBHOOK_PATH: &str = "/webhooks/mlflow";
const MAX_HEAD: usize = 8 * 1024;
const READ_WITHIN: Duration = Duration::from_secs(5);
/// A body takes at most this long to arrive.
const BODY_WITHIN: Duration = Duration::from_secs(15);
const MAX_CONNECTIONS: usize = 32;

/// The TLS side of the endpoint, from PEM files; an error names the file and what is wrong.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, CoreError> {
    let bad = |what: &Path, why: String| {
        CoreError::backend(
            "controller",
            format!("webhook TLS: {}: {why}", what.display()),
        )
    };
    // A PEM certificate chain or key is a few KiB; anything past 1 MiB is not one.
    let read = |p: &Path| {
        crate::files::read_bytes(p, 1024 * 1024, "a PEM file").map_err(|e| bad(p, e.to_string()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad(cert, "holds no certificate".into()));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| bad(key, format!("not a PEM private key: {e}")))?;
    let config = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(cert, e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key_der)
    .map_err(|e| {
        bad(
            cert,
            format!("the certificate and key do not go together: {e}"),
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Listen on `addr`; a port that cannot be bound is an error naming it and the flag.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, CoreError> {
    TcpListener::bind(addr).await.map_err(|e| {
        CoreError::backend(
            "controller",
            format!(
                "cannot serve webhooks on {addr}: {e}; choose another address with --webhook-addr"
            ),
        )
    })
}

/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

/// Serve deliveries until the process ends.
pub async fn serve(listener: TcpListener, tls: TlsAcceptor, triggers: Arc<Triggers>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most often: wait for connections to close rather
                // than spin on the error.
                tracing::warn!(error = %e, "accepting a webhook connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let (tls, triggers) = (tls.clone(), triggers.clone());
        tokio::spawn(async move {
            if let Ok(Ok(stream)) = tokio::time::timeout(READ_WITHIN, tls.accept(stream)).await {
                answer(stream, &triggers).await;
            }
            drop(permit);
        });
    }
}

/// A request head: method, path, and the headers we read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub content_length: Option<usize>,
    pub chunked: bool,
    pub headers: Headers,
}

/// Parse a request head (up to the blank line).
pub fn parse_head(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let mut h = Head {
        method: first.next()?.to_string(),
        path: first.next()?.to_string(),
        ..Head::default()
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => h.content_length = Some(value.parse().ok()?),
            "transfer-encoding" => h.chunked = true,
            "x-mlflow-delivery-id" => h.headers.delivery_id = Some(value),
            "x-mlflow-timestamp" => h.headers.timestamp = Some(value),
            "x-mlflow-signature" => h.headers.signature = Some(value),
            _ => {}
        }
    }
    Some(h)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, triggers: &Triggers) {
    let (code, text) = match read_request(&mut stream).await {
        Err((code, text)) => (code, text),
        Ok((head, body)) => {
            let a = triggers.deliver(&head.headers, &body).await;
            (a.code, a.text)
        }
    };
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let retry = if code == 503 {
        "Retry-After: 2\r\n"
    } else {
        ""
    };
    let text = format!("{text}\n");
    let response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = tokio::time::timeout(READ_WITHIN, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Read one request: its head, then a body of at most [`MAX_BODY_BYTES`]. An error is the
/// status and text to answer.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(Head, Vec<u8>), (u16, String)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = tokio::time::timeout(READ_WITHIN, async {
        loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(i);
            }
            if buf.len() > MAX_HEAD {
                return Err((431, format!("request head over {MAX_HEAD} bytes")));
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err((400, "connection closed mid-request".to_string())),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .map_err(|_| (400, "request head not sent in time".to_string()))??;
    let head = parse_head(&buf[..end]).ok_or((400, "not an HTTP/1.1 request".to_string()))?;
    if head.path.split('?').next() != Some(WEBHOOK_PATH) {
        return Err((404, format!("not found; MLflow delivers to {WEBHOOK_PATH}")));
    }
    if head.method != "POST" {
        return Err((405, "POST only".into()));
    }
    if head.chunked {
        return Err((411, "a Content-Length is required".into()));
    }
    let Some(length) = head.content_length else {
        return Err((411, "a Content-Length is required".into()));
    };
    if length > MAX_BODY_BYTES {
        return Err((
            413,
            format!("body of {length} bytes: at most {MAX_BODY_BYTES}"),
        ));
    }
    let mut body = buf[end + 4..].to_vec();
    tokio::time::timeout(BODY_WITHIN, async {
        while body.len() < length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err((400, "connection closed mid-body".to_string())),
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| (400, "body not sent in time".to_string()))??;
    body.truncate(length);
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gives_the_mlflow_headers_case_insensitively() {
        let h = parse_head(b"POST /webhooks/mlflow HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\nX-MLflow-Delivery-Id: abc\r\nx-mlflow-timestamp: 17\r\nX-MLFLOW-SIGNATURE: v1,zz")
            .expect("head");
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", WEBHOOK_PATH));
        assert_eq!(h.content_length, Some(12));
        assert_eq!(h.headers.delivery_id.as_deref(), Some("abc"));
        assert_eq!(h.headers.timestamp.as_deref(), Some("17"));
        assert_eq!(h.headers.signature.as_deref(), Some("v1,zz"));
        assert_eq!(parse_head(b"POST / HTTP/1.1\r\nContent-Length: lots"), None);
    }

    /// The status a request is refused with before its body is read.
    async fn refused(request: &[u8]) -> u16 {
        let mut r = request;
        read_request(&mut r)
            .await
            .map(|_| ())
            .expect_err("refused")
            .0
    }

    #[tokio::test]
    async fn an_oversized_or_unsized_body_is_refused_before_it_is_read() {
        let big = format!(
            "POST {WEBHOOK_PATH} HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert_eq!(refused(big.as_bytes()).await, 413);
        let chunked = b"POST /webhooks/mlflow HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(refused(chunked).await, 411);
        assert_eq!(
            refused(b"POST /other HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await,
            404
        );
        assert_eq!(refused(b"GET /webhooks/mlflow HTTP/1.1\r\n\r\n").await, 405);
        let mut r: &[u8] = b"POST /webhooks/mlflow HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            read_request(&mut r).await.map(|(_, b)| b),
            Ok(b"{}".to_vec())
        );
    }
}
