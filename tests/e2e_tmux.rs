//! End to end: the real `mlops demo` binary in a real pseudo-terminal (tmux). Visits every view,
//! filters, opens help, quits, and checks the terminal is restored — also on SIGTERM and SIGHUP.
//! Needs tmux (the README's test command installs it).

mod common;

use std::process::Command;

use common::tmux::Tmux;

fn empty_config() -> String {
    let dir = std::env::temp_dir().join(format!("mlops-e2e-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("config dir");
    dir.display().to_string()
}

/// The demo, then what the shell sees afterwards: the exit code and whether the tty is back in
/// canonical (cooked) mode — raw mode left on would show "-icanon".
fn demo_script() -> String {
    format!(
        "{} demo --seed 7 --speed 1; echo EXIT=$?; stty -a | tr \" \" \"\\n\" | grep -x -e icanon -e -icanon | sed s/^/TTY=/; sleep 60",
        env!("CARGO_BIN_EXE_mlops")
    )
}

fn assert_restored(t: &Tmux, exit: &str) {
    let s = t.wait_text("TTY=");
    assert!(
        s.contains(&format!("EXIT={exit}")),
        "exit status {exit} expected:\n{s}"
    );
    assert!(
        s.contains("TTY=icanon") && !s.contains("TTY=-icanon"),
        "the terminal is back in cooked mode:\n{s}"
    );
    assert!(
        !s.contains("1:Overview"),
        "the alternate screen was left:\n{s}"
    );
}

#[test]
fn visit_every_view_filter_help_and_quit() {
    let t = Tmux::start(&demo_script(), 120, 36, &empty_config());
    t.wait_text("Rollouts");
    for (cmd, title) in [
        ("experiments", "Experiments (12)"),
        ("lineage", "Model versions"),
        ("drift", "Feature drift"),
        ("gpus", "GPUs (96)"),
        ("rollouts", "Rollouts (6)"),
        ("audit", "Audit trail"),
        ("overview", "Drift alerts"),
    ] {
        t.keys(&[":"]);
        t.type_text(cmd);
        t.keys(&["Enter"]);
        t.wait_text(title);
    }
    // Drill down and back.
    t.keys(&["2"]);
    t.wait_text("Experiments (12)");
    t.keys(&["Enter"]);
    t.wait_text("Runs (");
    t.keys(&["Escape"]);
    t.wait_text("Experiments (12)");
    // Filter the rollouts.
    t.keys(&["6"]);
    t.wait_text("churn-model-v4");
    t.keys(&["/"]);
    t.type_text("fraud");
    t.keys(&["Enter"]);
    let s = t.wait_text("Rollouts (1)");
    assert!(
        s.contains("fraud-detector-v7") && !s.contains("churn-model-v4"),
        "{s}"
    );
    // A typo in the palette is a message, not a crash.
    t.keys(&[":"]);
    t.type_text("gpuz");
    t.keys(&["Enter"]);
    t.wait_text("did you mean :gpus?");
    // Help from the active keymap.
    t.keys(&["?"]);
    let s = t.wait_text("Help — keys of the active keymap");
    assert!(s.contains("approve the rollout"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("help closed", |s| !s.contains("Help — keys"));
    t.keys(&["q"]);
    assert_restored(&t, "0");
}

#[test]
fn sigterm_restores_the_terminal() {
    let t = Tmux::start(&demo_script(), 100, 30, &empty_config());
    t.wait_text("Rollouts");
    let pid = t.mlops_pid();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert_restored(&t, "0");
}

#[test]
fn sighup_restores_the_terminal_and_leaves_no_process() {
    let t = Tmux::start(&demo_script(), 100, 30, &empty_config());
    t.wait_text("Rollouts");
    let pid = t.mlops_pid();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert_restored(&t, "0");
    let alive = Command::new("kill")
        .args(["-0", &pid])
        .status()
        .expect("kill -0")
        .success();
    assert!(!alive, "mlops {pid} is gone after SIGHUP");
}

#[test]
fn too_small_then_resized() {
    let t = Tmux::start(&demo_script(), 60, 20, &empty_config());
    t.wait_text("Terminal too small");
    t.tmux(&["resize-window", "-t", "e2e", "-x", "100", "-y", "30"]);
    t.wait_text("Drift alerts");
    t.keys(&["q"]);
    assert_restored(&t, "0");
}

#[test]
fn invalid_config_starts_on_defaults_and_says_so() {
    let dir = format!(
        "{}/tests/fixtures/config/invalid",
        env!("CARGO_MANIFEST_DIR")
    );
    let t = Tmux::start(&demo_script(), 120, 36, &dir);
    let s = t.wait_text("config error(s)");
    assert!(s.contains("Rollouts"), "the console runs: {s}");
    t.keys(&["q"]);
    assert_restored(&t, "0");
}
