//! The hostile server (`tests/fixtures/hostile_server.py`) as a child of a test, kubeconfigs and
//! config directories that point at it, and a runner that measures the peak memory (VmHWM) of
//! the process it runs.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

pub struct Hostile {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Hostile {
    /// Start a server of its own (each test has one; they start in ~50 ms).
    pub fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/hostile_server.py"
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the hostile server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line.trim().parse().expect("a port");
        let dir = tempfile::tempdir().expect("temp dir");
        Hostile { child, port, dir }
    }

    /// The base URL of a mode (`endless`, `hang-mlflow`, …).
    pub fn url(&self, mode: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}/", self.port)
    }

    /// How many requests a mode name has had.
    pub fn count(&self, mode: &str) -> u64 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "GET /_count/{mode} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("{}");
        let doc: serde_json::Value = serde_json::from_str(body).expect("json");
        doc["count"].as_u64().expect("count")
    }

    /// A kubeconfig whose API server is this server's `mode` (namespace `ml-serving`).
    pub fn kubeconfig(&self, mode: &str) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("kubeconfig-{}", mode.replace('/', "_")));
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: h, cluster: {{server: \"http://127.0.0.1:{}/{mode}\"}}}}]\ncontexts: [{{name: h, context: {{cluster: h, user: u, namespace: ml-serving}}}}]\ncurrent-context: h\nusers: [{{name: u, user: {{token: x}}}}]\n",
                self.port
            ),
        )
        .expect("write kubeconfig");
        path
    }

    /// A config directory with `config.toml` holding `text`.
    pub fn config_dir(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(dir.join("config.toml"), text).expect("config.toml");
        dir
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `mlops` binary with nothing from the caller's environment that points at a backend.
pub fn mlops(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlops"));
    c.args(args)
        .env_remove("KUBECONFIG")
        .env_remove("MLOPS_CONTEXT")
        .env_remove("MLOPS_PROMETHEUS_URL")
        .env_remove("MLOPS_PROMETHEUS_TOKEN")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env("MLOPS_LOG_FILE", "/dev/null")
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .env("MLOPS_CONTROLLER_METRICS_ADDR", "127.0.0.1:0");
    c
}

/// What a measured run came to.
pub struct Measured {
    pub output: Output,
    pub elapsed: Duration,
    /// Peak resident memory (VmHWM) in MiB, sampled every 20 ms.
    pub peak_mib: u64,
}

impl Measured {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
}

/// The peak resident memory of `pid` so far, in MiB.
pub fn peak_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// Run `cmd` to the end (killed after `limit`), sampling its peak memory.
pub fn run_measured(cmd: &mut Command, limit: Duration) -> Measured {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mlops");
    let pid = child.id();
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut peak = 0;
    let status = loop {
        if let Some(p) = peak_mib(pid) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    Measured {
        output: Output {
            status,
            stdout: out_reader.join().unwrap_or_default(),
            stderr: err_reader.join().unwrap_or_default(),
        },
        elapsed,
        peak_mib: peak,
    }
}

/// A FIFO at `path` (made with mkfifo(1): no unsafe in the tests either).
pub fn mkfifo(path: &Path) {
    assert!(
        Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo")
            .success(),
        "mkfifo {}",
        path.display()
    );
}
