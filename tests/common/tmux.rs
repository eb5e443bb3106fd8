//! A real pseudo-terminal (tmux) running the real binary, for end-to-end tests of the console.

use std::{
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
    thread::sleep,
    time::{Duration, Instant},
};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Start `script` (run by sh) in a detached session of the given size.
    pub fn start(script: &str, cols: u16, rows: u16, config_dir: &str) -> Self {
        let socket = format!(
            "mlops-e2e-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let t = Tmux { socket };
        let status = Command::new("tmux")
            .args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", &cols.to_string(), "-y", &rows.to_string()])
            .arg(format!("env TERM=xterm-256color COLORTERM=truecolor MLOPS_CONFIG_DIR={config_dir} MLOPS_LOG_FILE=/dev/null sh -c '{script}'"))
            .status()
            .expect("tmux must be installed: the README's test command installs it (apt-get install tmux)");
        assert!(status.success(), "tmux new-session failed");
        t.tmux(&["set-option", "-g", "status", "off"]);
        t
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "e2e"])
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "e2e", k]);
        }
    }

    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "e2e", "-l", text]);
    }

    /// The screen once `pred` holds on it and it is drawn whole: the same on two captures in a
    /// row (a capture taken while a frame is being written shows its first rows new and the
    /// rest old: a breadcrumb without the body under it).
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_within(what, 30, pred)
    }

    /// [`Tmux::wait_for`] with a deadline of `secs` (a watch that resumes after a restart, a
    /// backoff).
    pub fn wait_within(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last: Option<String> = None;
        loop {
            let s = self.screen();
            if pred(&s) {
                if last.as_deref() == Some(s.as_str()) || Instant::now() >= deadline {
                    return s;
                }
                last = Some(s);
                sleep(Duration::from_millis(40));
                continue;
            }
            last = None;
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, |s| s.contains(text))
    }

    /// The screen once every one of `texts` is on it (a screen captured while a frame is half
    /// drawn can show the first and not yet the rest).
    pub fn wait_all(&self, texts: &[&str]) -> String {
        self.wait_for(&texts.join(" + "), |s| texts.iter().all(|t| s.contains(t)))
    }

    /// The pid of the mlops process inside this pane: the child of the pane's shell.
    pub fn mlops_pid(&self) -> String {
        let shell = self
            .tmux(&["list-panes", "-t", "e2e", "-F", "#{pane_pid}"])
            .trim()
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("pgrep")
                .args(["-P", &shell])
                .output()
                .expect("pgrep");
            let pid = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if !pid.is_empty() {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "mlops did not start under shell {shell}"
            );
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
