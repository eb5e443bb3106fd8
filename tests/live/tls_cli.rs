//! TLS to MLflow and Prometheus: the real services of `tests/env/up` behind a TLS proxy
//! (`tests/env/proxy.py --tls`) whose certificate this test's own CA signs. Verified by default (an
//! unknown CA is refused), trusted with a CA file (MLflow's `MLFLOW_TRACKING_SERVER_CERT_PATH`,
//! `MLOPS_PROMETHEUS_CA_FILE`, or `ca_file` in config.toml), and unverified only when asked,
//! with a warning on every start of the CLI and the console.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use common::{env, mlops_cmd, tmux::Tmux};
use serde_json::Value;

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`: (ca.crt, server.crt, server.key).
fn pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| common::openssl(dir, args);
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=mlops test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-sha256",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// The TLS proxy in front of the service at `url`; killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proxy(cert: &Path, key: &Path, url: &str) -> Proxy {
    let backend = url
        .trim_end_matches('/')
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host:port")
        .to_string();
    let mut child = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/env/proxy.py"))
        .arg(&backend)
        .arg("--tls")
        .args([cert, key])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the proxy's port");
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port: {line:?}"));
    Proxy { child, port }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn model_names(out: &std::process::Output) -> Vec<String> {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));
    let mut names: Vec<String> = v
        .as_array()
        .expect("an array of models")
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn mlflow_over_tls_is_verified_trusted_with_a_ca_file_and_unverified_only_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = pki(dir.path());
    let p = proxy(&cert, &key, env().get("MLFLOW_TRACKING_URI"));
    let https = format!("https://127.0.0.1:{}", p.port);
    let models = |envs: &[(&str, &str)]| {
        let mut c = mlops_cmd(&["models", "list", "-o", "json"]);
        c.env("MLFLOW_TRACKING_URI", &https);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("mlops")
    };
    let plain = model_names(&common::mlops_ok(&["models", "list", "-o", "json"]));
    assert!(plain.contains(&"fraud-detector".to_string()), "{plain:?}");

    // Verified by default: a CA the system does not know is refused, naming the certificate.
    let refused = models(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let err = text(&refused.stderr).to_lowercase();
    assert!(
        err.contains("certificate") && err.contains("mlflow_tracking_server_cert_path"),
        "{err}"
    );
    assert!(refused.stdout.is_empty());
    assert!(!err.contains("tls verification is off"), "{err}");

    // MLflow's own variable for a CA bundle: the same models as over plain HTTP, no warning.
    let ca_s = ca.to_str().expect("utf-8");
    let trusted = models(&[("MLFLOW_TRACKING_SERVER_CERT_PATH", ca_s)]);
    assert!(trusted.status.success(), "{}", text(&trusted.stderr));
    assert_eq!(model_names(&trusted), plain);
    assert!(
        !text(&trusted.stderr).contains("warning"),
        "{}",
        text(&trusted.stderr)
    );

    // `[mlflow] ca_file` in config.toml, relative to the config directory.
    let config = tempfile::tempdir().expect("config dir");
    std::fs::copy(&ca, config.path().join("private-ca.pem")).expect("copy");
    std::fs::write(
        config.path().join("config.toml"),
        format!("[mlflow]\ntracking_uri = \"{https}\"\nca_file = \"private-ca.pem\"\n"),
    )
    .expect("config");
    let from_config = mlops_cmd(&["models", "list", "-o", "json"])
        .env_remove("MLFLOW_TRACKING_URI")
        .env("MLOPS_CONFIG_DIR", config.path())
        .output()
        .expect("mlops");
    assert!(
        from_config.status.success(),
        "{}",
        text(&from_config.stderr)
    );
    assert_eq!(model_names(&from_config), plain);

    // Not verified only when asked, and then every run says so on stderr (stdout stays JSON).
    for _ in 0..2 {
        let insecure = models(&[("MLFLOW_TRACKING_INSECURE_TLS", "true")]);
        assert!(insecure.status.success(), "{}", text(&insecure.stderr));
        assert_eq!(model_names(&insecure), plain);
        let warning = text(&insecure.stderr);
        assert!(
            warning.contains(&format!("TLS verification is OFF for MLflow at {https}"))
                && warning.contains("MLFLOW_TRACKING_INSECURE_TLS"),
            "{warning}"
        );
    }

    // Both, a CA file that holds no certificate, a skip value that is not a yes or no: refused,
    // naming what is wrong.
    let both = models(&[
        ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
        ("MLFLOW_TRACKING_SERVER_CERT_PATH", ca_s),
    ]);
    assert_eq!(both.status.code(), Some(1));
    assert!(
        text(&both.stderr).contains("set one of them"),
        "{}",
        text(&both.stderr)
    );
    let not_pem = dir.path().join("server.ext");
    let bad = models(&[(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        not_pem.to_str().expect("utf-8"),
    )]);
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(
        err.contains("server.ext") && err.contains("no PEM certificate"),
        "{err}"
    );
    let typo = models(&[("MLFLOW_TRACKING_INSECURE_TLS", "ture")]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        text(&typo.stderr).contains("MLFLOW_TRACKING_INSECURE_TLS=\"ture\""),
        "{}",
        text(&typo.stderr)
    );

    // A config that asks for a CA file and for no verification is named by `config check`.
    std::fs::write(
        config.path().join("config.toml"),
        "[mlflow]\nca_file = \"private-ca.pem\"\ninsecure_skip_tls_verify = true\n",
    )
    .expect("config");
    let check = mlops_cmd(&["config", "check"])
        .env("MLOPS_CONFIG_DIR", config.path())
        .output()
        .expect("mlops");
    assert_eq!(check.status.code(), Some(1));
    let out = text(&check.stdout) + &text(&check.stderr);
    assert!(
        out.contains("config.toml:2") && out.contains("ca_file and insecure_skip_tls_verify"),
        "{out}"
    );
}

#[test]
fn prometheus_over_tls_gives_the_same_gpu_report_with_its_ca_and_refuses_without() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = pki(dir.path());
    let p = proxy(&cert, &key, env().get("MLOPS_PROMETHEUS_URL"));
    let https = format!("https://127.0.0.1:{}", p.port);
    let gpu = |envs: &[(&str, &str)]| {
        let mut c = mlops_cmd(&["gpu", "-o", "json"]);
        c.env("MLOPS_PROMETHEUS_URL", &https);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("mlops")
    };
    let uuids = |out: &std::process::Output| -> Vec<String> {
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));
        let mut u: Vec<String> = v["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .flat_map(|n| n["gpus"].as_array().cloned().unwrap_or_default())
            .filter_map(|g| g["uuid"].as_str().map(str::to_string))
            .collect();
        u.sort();
        u
    };
    let plain = uuids(&common::mlops_ok(&["gpu", "-o", "json"]));
    assert!(!plain.is_empty(), "the traffic process writes DCGM series");

    let refused = gpu(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).to_lowercase().contains("certificate"),
        "{}",
        text(&refused.stderr)
    );

    let trusted = gpu(&[("MLOPS_PROMETHEUS_CA_FILE", ca.to_str().expect("utf-8"))]);
    assert!(trusted.status.success(), "{}", text(&trusted.stderr));
    assert_eq!(uuids(&trusted), plain);

    let insecure = gpu(&[("MLOPS_PROMETHEUS_INSECURE_SKIP_TLS_VERIFY", "1")]);
    assert!(insecure.status.success(), "{}", text(&insecure.stderr));
    assert_eq!(uuids(&insecure), plain);
    assert!(
        text(&insecure.stderr).contains(&format!(
            "TLS verification is OFF for Prometheus at {https}"
        )),
        "{}",
        text(&insecure.stderr)
    );
}

#[test]
fn the_console_warns_on_start_when_tls_is_not_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, cert, key) = pki(dir.path());
    let p = proxy(&cert, &key, env().get("MLFLOW_TRACKING_URI"));
    let config = tempfile::tempdir().expect("config dir");
    // No cluster (HOME without a kubeconfig): the registry alone, over TLS that is not checked.
    let script = format!(
        "HOME={} KUBECONFIG= MLFLOW_TRACKING_URI=https://127.0.0.1:{} MLFLOW_TRACKING_INSECURE_TLS=true {}; echo EXIT=$?; sleep 60",
        config.path().display(),
        p.port,
        env!("CARGO_BIN_EXE_mlops")
    );
    for _ in 0..2 {
        let t = Tmux::start(&script, 200, 40, config.path().to_str().expect("utf-8"));
        let screen = t.wait_text("TLS verification is OFF for MLflow");
        assert!(
            screen.contains(&format!("https://127.0.0.1:{}", p.port)),
            "{screen}"
        );
        // The registry still works over it: the seeded experiments are listed.
        t.keys(&["2"]);
        t.wait_text("fraud-detection");
        t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
        t.wait_text("EXIT=0");
    }
}
