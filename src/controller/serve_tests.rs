use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{MAX_HEAD, MetricsAddr, bind, parse_metrics_addr, respond, serve};
use crate::controller::Telemetry;

fn telemetry() -> Telemetry {
    Telemetry::new("me", Duration::from_secs(10))
}

fn get(path: &str, t: &Telemetry) -> super::Response {
    respond(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        t,
    )
}

#[test]
fn the_three_paths_and_nothing_else() {
    let t = telemetry();
    let metrics = get("/metrics", &t);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text")
    );
    assert!(
        metrics
            .body
            .contains("# TYPE mlops_controller_reconcile_passes counter"),
        "{}",
        metrics.body
    );
    assert_eq!(get("/metrics?name[]=x", &t).status, 200);
    assert_eq!(get("/healthz", &t).status, 200);
    for path in ["/", "/metrics/", "/favicon.ico", "/readyz/x"] {
        let r = get(path, &t);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.contains("/metrics"), "{}", r.body);
    }
    let post = respond(b"POST /metrics HTTP/1.1\r\n\r\n", &t);
    assert_eq!(post.status, 405);
    assert_eq!(respond(b"\r\n\r\n", &t).status, 400);
    assert_eq!(respond(b"GET\r\n\r\n", &t).status, 400);
}

#[test]
fn not_ready_until_listed_and_the_lease_read_saying_why() {
    let t = telemetry();
    let r = get("/readyz", &t);
    assert_eq!(r.status, 503);
    assert!(
        r.body.contains("ModelRollouts") && r.body.contains("lease"),
        "{}",
        r.body
    );
    t.rollouts_synced();
    let r = get("/readyz", &t);
    assert_eq!(r.status, 503);
    assert!(!r.body.contains("ModelRollouts"), "{}", r.body);
    t.lease_seen(Some("other".into()));
    assert_eq!(get("/readyz", &t).status, 200);
}

#[test]
fn addresses_and_off() {
    let addr = |s: &str| parse_metrics_addr(s).map(|MetricsAddr(a)| a);
    let some = |s: &str| Some(s.parse::<SocketAddr>().expect("addr"));
    assert_eq!(addr(":9090"), Ok(some("0.0.0.0:9090")));
    assert_eq!(addr("0.0.0.0:9090"), Ok(some("0.0.0.0:9090")));
    assert_eq!(addr("127.0.0.1:0"), Ok(some("127.0.0.1:0")));
    assert_eq!(addr("[::1]:9090"), Ok(some("[::1]:9090")));
    assert_eq!(addr("off"), Ok(None));
    assert_eq!(addr(""), Ok(None));
    for bad in ["9090", "localhost:9090", ":99999", "1.2.3.4"] {
        let e = addr(bad).expect_err(bad);
        assert!(e.contains(bad) && e.contains("off"), "{e}");
    }
}

#[tokio::test]
async fn a_port_taken_is_a_clear_error() {
    let taken = bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("a free port");
    let at = taken.local_addr().expect("bound");
    let e = bind(at).await.expect_err("the port is taken").to_string();
    assert!(
        e.contains(&at.to_string()) && e.contains("--metrics-addr"),
        "{e}"
    );
}

async fn exchange(at: SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(at).await.expect("connect");
    s.write_all(request).await.expect("send");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("an answer, then the connection closed")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Over a socket: an answer with its length, closed after; a head too large refused.
#[tokio::test]
async fn served_over_tcp() {
    let listener = bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let at = listener.local_addr().expect("bound");
    let t = Arc::new(telemetry());
    let server = tokio::spawn(serve(listener, t.clone()));
    let answer = exchange(at, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("content-length: 3\r\n") && answer.ends_with("\r\n\r\nok\n"));
    let answer = exchange(at, b"GET /readyz HTTP/1.1\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    huge.resize(MAX_HEAD, b'x');
    let answer = exchange(at, &huge).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    server.abort();
}
