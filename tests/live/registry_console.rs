//! The console against a registry that fails under it, in a real terminal: an MLflow server
//! killed and started again while the console is open (it shows the outage and recovers on its
//! own, without being restarted), and the basic-auth server with a wrong password (a clear
//! message, and the console backs off instead of retrying in a storm).
//!
//! Destructive, so in a binary of its own: it kills only an MLflow server of its own (the
//! environment's venv, a SQLite database in a temporary directory), never the shared one.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::tmux::Tmux;
use serde_json::json;

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// An MLflow tracking server of this test's own, killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

fn venv() -> String {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/env/mlflow/venv.sh"
    ))
    .output()
    .expect("venv.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    fn start(dir: &std::path::Path, port: u16) -> Self {
        let child = Command::new(format!("{}/bin/mlflow", venv()))
            .args([
                "server",
                "--backend-store-uri",
                &format!("sqlite:///{}/mlflow.db", dir.display()),
                "--default-artifact-root",
                &format!("{}/artifacts", dir.display()),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("mlflow server");
        let s = Server {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !s.healthy() {
            assert!(
                Instant::now() < deadline,
                "mlflow did not come up on {port}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn healthy(&self) -> bool {
        block(async {
            reqwest::get(format!("{}/health", self.url()))
                .await
                .is_ok_and(|r| r.status().is_success())
        })
    }

    fn post(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        block(async {
            reqwest::Client::new()
                .post(format!("{}/api/2.0/mlflow/{path}", self.url()))
                .json(body)
                .send()
                .await
                .expect(path)
                .json()
                .await
                .expect(path)
        })
    }

    /// SIGKILL to the server and its workers: no goodbye to the clients.
    fn kill(&mut self) {
        let pgid = i32::try_from(self.child.id()).expect("pid");
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn run(s: &Server, experiment: &str, name: &str) {
    let made = s.post(
        "runs/create",
        &json!({"experiment_id": experiment, "run_name": name}),
    );
    let id = made["run"]["info"]["run_id"]
        .as_str()
        .expect("run id")
        .to_string();
    s.post(
        "runs/log-batch",
        &json!({"run_id": id, "metrics": [{"key": "loss", "value": 0.5, "timestamp": 0, "step": 0}]}),
    );
}

#[test]
fn the_console_recovers_when_mlflow_restarts_under_it() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut server = Server::start(dir.path(), port);
    let exp = server.post("experiments/create", &json!({"name": "restart-exp"}))["experiment_id"]
        .as_str()
        .expect("experiment")
        .to_string();
    for i in 0..3 {
        run(&server, &exp, &format!("before-{i}"));
    }

    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(config.path().join("config.toml"), "refresh_seconds = 1\n").expect("config");
    let script = format!(
        "MLFLOW_TRACKING_URI={} KUBECONFIG=/nonexistent {}; echo EXIT=$?; sleep 60",
        server.url(),
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = Tmux::start(&script, 140, 35, config.path().to_str().expect("utf-8"));
    t.keys(&["2"]);
    t.wait_text("restart-exp");
    t.keys(&["/"]);
    t.type_text("restart-exp");
    t.keys(&["Enter", "Enter"]);
    t.wait_text("Runs (3)");

    // Killed: a refresh shows the registry down, the runs stay on screen greyed with their age.
    server.kill();
    t.keys(&["C-r"]);
    let s = t.wait_text("registry down");
    assert!(s.contains("before-0"), "the last data stays: {s}");

    // Back on the same port and database, with one more run: the console finds it by itself.
    let data = server.dir.clone();
    let restarted = Server::start(&data, port);
    run(&restarted, &exp, "after-0");
    let s = t.wait_for("the console to recover", |s| {
        s.contains("Runs (4)") && !s.contains("registry down")
    });
    assert!(s.contains("after-0"), "{s}");
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");
    drop(restarted);
}

#[test]
fn a_wrong_password_is_said_once_clearly_and_retried_with_backoff() {
    let env = common::env();
    let auth = env.get("MLOPS_MLFLOW_AUTH_URI");
    let backend = auth.trim_start_matches("http://").trim_end_matches('/');
    let dir = tempfile::tempdir().expect("dir");
    let count_file = dir.path().join("count");
    let mut proxy = Reaped(
        Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/env/proxy.py"))
            .args([backend, "--count", count_file.to_str().expect("utf-8")])
            .stdout(Stdio::piped())
            .spawn()
            .expect("count proxy"),
    );
    let mut line = String::new();
    BufReader::new(proxy.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port: u16 = line.trim().parse().expect("a port");
    let count = || -> u64 {
        std::fs::read_to_string(&count_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };

    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(config.path().join("config.toml"), "refresh_seconds = 1\n").expect("config");
    let script = format!(
        "MLFLOW_TRACKING_URI=http://127.0.0.1:{port} MLFLOW_TRACKING_USERNAME={} MLFLOW_TRACKING_PASSWORD=not-the-password KUBECONFIG=/nonexistent {}; echo EXIT=$?; sleep 60",
        env.get("MLOPS_MLFLOW_AUTH_USER"),
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = Tmux::start(&script, 160, 35, config.path().to_str().expect("utf-8"));
    t.keys(&["2"]);
    let s = t.wait_text("401");
    assert!(
        s.contains("registry refused us"),
        "a refusal, not an outage: {s}"
    );
    assert!(
        s.contains("MLFLOW_TRACKING_USERNAME") || s.contains("credentials"),
        "the message says what to check: {s}"
    );
    assert!(!s.contains("not-the-password"), "no secret on screen: {s}");
    // Twenty seconds refreshing every second: the failing source backs off (1, 2, 4 … s).
    let start = count();
    std::thread::sleep(Duration::from_secs(20));
    let calls = count() - start;
    eprintln!("{calls} requests in 20 s; the screen said:\n{s}");
    assert!(
        calls <= 20,
        "{calls} requests in 20 s with a wrong password: a retry storm"
    );
    assert!(calls >= 1, "it does retry");
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");
}

/// A helper process killed and waited for when the test ends, also when it fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
