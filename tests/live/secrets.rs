//! Secrets are never printed, logged or shown. Credentials are planted in every place the console
//! takes them from — a bearer token in the kubeconfig, MLflow's password variable (right and
//! wrong), Prometheus's token — and the CLI's output and errors, the console's screens and the
//! debug logs of the console and the controller are searched for them.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use common::{env, tmux::Tmux};

/// A kubeconfig whose user is the test cluster's admin by bearer token.
fn token_kubeconfig(dir: &Path) -> PathBuf {
    let e = env();
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: planted\n  cluster:\n    server: {}\n    certificate-authority: {}\ncontexts:\n- name: planted\n  context: {{cluster: planted, user: planted}}\ncurrent-context: planted\nusers:\n- name: planted\n  user:\n    token: {}\n",
            e.get("MLOPS_KUBE_SERVER"),
            e.get("MLOPS_KUBE_CA_FILE"),
            e.get("MLOPS_KUBE_ADMIN_TOKEN"),
        ),
    )
    .expect("kubeconfig");
    path
}

/// The environment that carries every planted secret.
fn planted_env(dir: &Path, prometheus_token: &str, password: &str) -> Vec<(String, String)> {
    let e = env();
    [
        ("KUBECONFIG", token_kubeconfig(dir).display().to_string()),
        (
            "MLFLOW_TRACKING_URI",
            e.get("MLOPS_MLFLOW_AUTH_URI").to_string(),
        ),
        (
            "MLFLOW_TRACKING_USERNAME",
            e.get("MLOPS_MLFLOW_AUTH_USER").to_string(),
        ),
        ("MLFLOW_TRACKING_PASSWORD", password.to_string()),
        (
            "MLOPS_PROMETHEUS_URL",
            e.get("MLOPS_PROMETHEUS_URL").to_string(),
        ),
        ("MLOPS_PROMETHEUS_TOKEN", prometheus_token.to_string()),
        ("MLOPS_LOG", "debug".to_string()),
        (
            "MLOPS_LOG_FILE",
            dir.join("mlops.log").display().to_string(),
        ),
        ("MLOPS_CONFIG_DIR", dir.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn mlops(envs: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env_remove("MLOPS_CONTEXT")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("mlops")
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows a secret:\n{text}");
    }
}

#[test]
fn planted_secrets_never_appear_in_output_errors_screens_or_logs() {
    let e = env();
    let dir = tempfile::tempdir().expect("tempdir");
    let token = e.get("MLOPS_KUBE_ADMIN_TOKEN").to_string();
    let password = e.get("MLOPS_MLFLOW_AUTH_PASSWORD").to_string();
    let prometheus_token = format!("PLANTED-PROM-{}", std::process::id());
    let wrong = format!("PLANTED-WRONG-{}", std::process::id());
    let secrets = [
        token.as_str(),
        password.as_str(),
        prometheus_token.as_str(),
        wrong.as_str(),
    ];
    let envs = planted_env(dir.path(), &prometheus_token, &password);

    // The CLI: every verb that talks to a backend works with these credentials and shows none.
    for args in [
        &["models", "list", "-o", "json"][..],
        &["rollout", "list", "-n", "ml-serving", "-o", "json"][..],
        &["gpu", "-o", "json"][..],
        &["audit", "list", "--limit", "3", "-o", "json"][..],
        &["config", "check", "-o", "json"][..],
    ] {
        let out = mlops(&envs, args);
        assert!(
            out.status.success(),
            "mlops {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(
            &format!("mlops {args:?} stdout"),
            &String::from_utf8_lossy(&out.stdout),
            &secrets,
        );
        assert_clean(
            &format!("mlops {args:?} stderr"),
            &String::from_utf8_lossy(&out.stderr),
            &secrets,
        );
    }
    // A wrong password: refused by the server, and the error does not echo it.
    let wrong_envs = planted_env(dir.path(), &prometheus_token, &wrong);
    let out = mlops(&wrong_envs, &["models", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401") || err.contains("authenticate"), "{err}");
    assert_clean("the refused password's error", &err, &secrets);

    // The console: every view, the help and the messages log, over the same backends, with its
    // log at debug.
    let script = format!(
        "{} {}; echo EXIT=$?; sleep 60",
        envs.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = Tmux::start(&script, 160, 45, &dir.path().display().to_string());
    t.wait_text("Overview");
    let mut screens = String::new();
    for (key, shows) in [
        ("2", "Experiments"),
        ("3", "Lineage"),
        ("4", "Drift"),
        ("5", "GPUs"),
        ("6", "Rollouts"),
        ("7", "Audit"),
        ("1", "Overview"),
    ] {
        t.keys(&[key]);
        screens.push_str(&t.wait_text(shows));
        std::thread::sleep(std::time::Duration::from_millis(400));
        screens.push_str(&t.screen());
    }
    t.keys(&["?"]);
    screens.push_str(&t.wait_text("help"));
    t.keys(&["Escape"]);
    t.keys(&[":"]);
    t.type_text("messages");
    t.keys(&["Enter"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    screens.push_str(&t.screen());
    t.keys(&["Escape"]);
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");
    assert_clean("the console's screens", &screens, &secrets);

    // The controller, briefly, logging at debug to its stderr.
    let controller_log = dir.path().join("controller.log");
    let mut controller = Command::new(env!("CARGO_BIN_EXE_mlops"));
    controller
        .args([
            "controller",
            "--id",
            &format!("secrets-{}", std::process::id()),
        ])
        .env_remove("MLOPS_CONTEXT")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stderr(std::fs::File::create(&controller_log).expect("log file"));
    let (running, lines) = common::controller::spawn_logging(&mut controller);
    let _ = lines.recv_timeout(std::time::Duration::from_secs(20));
    std::thread::sleep(std::time::Duration::from_secs(2));
    drop(running);

    let log = std::fs::read_to_string(dir.path().join("mlops.log")).expect("the console's log");
    assert!(log.len() > 1000, "the console logged at debug: {log}");
    assert_clean("the console's log", &log, &secrets);
    let log = std::fs::read_to_string(&controller_log).expect("the controller's log");
    assert!(!log.is_empty(), "the controller logged");
    assert_clean("the controller's log", &log, &secrets);
}
