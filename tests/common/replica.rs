//! What the tests that stop an API server under a console share: a second API server for the
//! test cluster's etcd (`tests/env/k8s/apiserver-replica`), and a scratch namespace deleted
//! however the test ends.

use std::process::Command;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/env/k8s/apiserver-replica"
);

/// A second API server for the test cluster's etcd: started, killed, restarted and stopped by
/// the helper script; stopped however the test ends.
pub struct Replica {
    pub state: String,
    pub name: String,
    /// Its own kubeconfig (the script prints it).
    pub kubeconfig: String,
}

impl Replica {
    /// Runs `apiserver-replica CMD STATE NAME` (start, kill, restart, stop); its stdout.
    pub fn script(&self, cmd: &str) -> String {
        let out = Command::new(SCRIPT)
            .args([cmd, &self.state, &self.name])
            .output()
            .expect("run apiserver-replica");
        assert!(
            out.status.success(),
            "apiserver-replica {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn start(state: &str, name: &str) -> Self {
        let mut r = Replica {
            state: state.into(),
            name: name.into(),
            kubeconfig: String::new(),
        };
        let out = r.script("start");
        r.kubeconfig = out
            .lines()
            .find_map(|l| l.strip_prefix("KUBECONFIG="))
            .expect("KUBECONFIG=")
            .to_string();
        r
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT)
            .args(["stop", &self.state, &self.name])
            .status();
    }
}

/// A namespace of the test cluster deleted (with everything in it) however the test ends.
pub struct Scratch(pub String);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new(super::env().get("MLOPS_KUBECTL"))
            .args([
                "--kubeconfig",
                super::env().get("KUBECONFIG"),
                "--context",
                super::env().get("MLOPS_KUBE_CONTEXT"),
                "delete",
                "namespace",
                &self.0,
                "--wait=false",
            ])
            .status();
    }
}
