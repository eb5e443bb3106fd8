//! `mlops controller` as a child process of a test: started with the test environment, its
//! stdout lines ("<id> leads …") readable, stopped with SIGTERM (it releases the lease) when
//! dropped, or killed outright with `die`.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc::Receiver,
    time::{Duration, Instant},
};

pub struct Controller(Child);

impl Controller {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// Die without a word (SIGKILL): the lease stays until it expires.
    pub fn die(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Controller {
    /// Stop as Kubernetes stops a pod (SIGTERM): the controller releases the lease.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `mlops controller --id ID`; its stdout lines come through the receiver.
pub fn spawn(id: &str) -> (Controller, Receiver<String>) {
    spawn_with(&mut super::mlops_cmd(&["controller", "--id", id]))
}

/// Start a controller command (e.g. with a changed environment).
pub fn spawn_with(command: &mut Command) -> (Controller, Receiver<String>) {
    spawn_logging(command.stderr(Stdio::null()))
}

/// Start a controller command whose stderr (its log) the caller has set.
pub fn spawn_logging(command: &mut Command) -> (Controller, Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn controller");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Controller(child), rx)
}

/// Start a controller and wait until it holds the lease (a previous holder's may need to expire).
pub fn start(id: &str) -> Controller {
    start_with(&mut super::mlops_cmd(&["controller", "--id", id]))
}

pub fn start_with(command: &mut Command) -> Controller {
    start_logging(command.stderr(Stdio::null()))
}

/// As `start_with`, with the stderr (the log) the caller has set.
pub fn start_logging(command: &mut Command) -> Controller {
    let (controller, lines) = spawn_logging(command);
    let line = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the controller takes the lease within 60 s");
    assert!(line.contains("leads"), "{line}");
    controller
}

/// Wait until the rollout `name` is in phase `want`, for at most `secs` seconds.
pub async fn wait_phase(
    api: &kube::Api<mlops_console::adapters::kube::ModelRollout>,
    name: &str,
    want: mlops_core::rollout::Phase,
    secs: u64,
) -> mlops_console::adapters::kube::ModelRollout {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = api.get(name).await.expect("get rollout");
        let phase = r
            .status
            .as_ref()
            .map_or(mlops_core::rollout::Phase::Pending, |s| s.phase);
        if phase == want {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {want}: {:#?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
