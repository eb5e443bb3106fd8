//! Hostile input that needs no backend: config files that are FIFOs, devices, directories, huge
//! or not UTF-8; values with credentials or a megabyte of text; many templates; command-line
//! values that overflowed (`--speed`, `--timeout`); and the terminal: pastes, long input, ctrl-c
//! in a text input. Each test is a reproduction from the reliability review.

use crate::common;

use std::{
    fmt::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use common::{hostile::mlops, tmux::Tmux};

fn config_check(dir: &Path) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = mlops(&["config", "check"])
        .env("MLOPS_CONFIG_DIR", dir)
        .output()
        .expect("run mlops");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text, started.elapsed())
}

#[test]
fn a_fifo_config_is_an_error_not_a_hang() {
    // H1: `config check` and the console blocked forever in open().
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("config.toml");
    common::hostile::mkfifo(&fifo);
    let (code, text, elapsed) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("config.toml: cannot read: it is not a regular file"),
        "{text}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn config_files_must_be_regular_and_small() {
    let dir = tempfile::tempdir().expect("dir");
    // /dev/zero: read until memory ran out (2.1 GB).
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("config.toml")).expect("symlink");
    let (code, text, elapsed) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not a regular file"), "{text}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("config.toml")).expect("mkdir");
    let (code, text, _) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("config.toml: cannot read: it is a directory"),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("dir");
    let big = format!("# {}\n", "x".repeat(2 << 20));
    std::fs::write(dir.path().join("config.toml"), big).expect("write");
    let (code, text, _) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("larger than 1 MiB"), "{text}");
}

#[test]
fn every_config_file_that_cannot_be_read_is_reported() {
    // Finding 10: these were "config ok", exit 0, and silently ignored.
    type Make<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Make); 4] = [
        ("keymap.toml", &|d| {
            std::fs::write(d.join("keymap.toml"), b"[global]\nq = \"quit\xff\"\n").expect("w");
        }),
        ("keymap.toml", &|d| {
            std::fs::create_dir(d.join("keymap.toml")).expect("mkdir");
        }),
        ("themes/dark.toml", &|d| {
            std::fs::create_dir_all(d.join("themes")).expect("mkdir");
            std::fs::write(d.join("themes/dark.toml"), b"[text]\nfg = \"\xc3\"\n").expect("w");
        }),
        ("themes/mine.toml", &|d| {
            std::fs::write(d.join("config.toml"), "theme = \"mine\"\n").expect("w");
            std::fs::create_dir_all(d.join("themes/mine.toml")).expect("mkdir");
        }),
    ];
    for (file, make) in cases {
        let dir = tempfile::tempdir().expect("dir");
        make(dir.path());
        let (code, text, _) = config_check(dir.path());
        assert_eq!(code, 1, "{file}: {text}");
        assert!(
            text.contains(&format!("{file}: cannot read: it is")),
            "{file}: {text}"
        );
        assert!(!text.contains("neither embedded"), "not misleading: {text}");
    }
}

#[test]
fn checking_many_templates_is_linear() {
    // H2: 20k templates took 5.7 s in a release build (quadratic); 15k, under the 1 MiB cap.
    let dir = tempfile::tempdir().expect("dir");
    let mut text = String::new();
    for i in 0..15_000 {
        let _ = writeln!(
            text,
            "[templates.t{i}]\nsteps = [\"setWeight 10\", \"setWeight 100\"]"
        );
    }
    assert!(text.len() < 1 << 20);
    std::fs::write(dir.path().join("config.toml"), text).expect("write");
    let (code, out, elapsed) = config_check(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn echoed_values_are_cut_and_credentials_redacted_everywhere() {
    // Finding 11: the password was printed by `config check` and logged on every start.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[mlflow]\ntracking_uri = \"htps://alice:S3CRETPW@127.0.0.1:1/\"\n[prometheus]\nurl = \"ftp://bob:PW2@h/\"\n",
    )
    .expect("write");
    let (code, text, _) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("htps://***@127.0.0.1:1/"), "{text}");
    assert!(
        !text.contains("S3CRETPW") && !text.contains("PW2"),
        "{text}"
    );
    let json = mlops(&["config", "check", "-o", "json"])
        .env("MLOPS_CONFIG_DIR", dir.path())
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&json.stdout).contains("S3CRETPW"));
    let templates = mlops(&["rollout", "templates"])
        .env("MLOPS_CONFIG_DIR", dir.path())
        .output()
        .expect("run");
    assert!(!String::from_utf8_lossy(&templates.stderr).contains("S3CRETPW"));
    // The console's log.
    let log = dir.path().join("mlops.log");
    let t = Tmux::start(
        &format!(
            "MLOPS_LOG_FILE={} {} demo; echo EXIT=$?; sleep 30",
            log.display(),
            env!("CARGO_BIN_EXE_mlops")
        ),
        100,
        30,
        &dir.path().display().to_string(),
    );
    t.wait_text("Overview");
    t.keys(&["q"]);
    t.wait_text("EXIT=0");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("***@127.0.0.1"), "{logged}");
    assert!(!logged.contains("S3CRETPW"), "{logged}");

    // A 1 MB value is echoed cut, not twice in full.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("config.toml"),
        format!("theme = \"{}\"\n", "b".repeat(1_000_000)),
    )
    .expect("write");
    let (code, text, _) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.len() < 5_000, "{} bytes echoed", text.len());
}

#[test]
fn numbers_that_overflowed_are_refused_before_anything_happens() {
    // C2: `demo --speed 1e15` panicked (exit 101); `-1` was taken for a flag. A usage error:
    // exit 2 (it was 1 until the second hostile probe).
    for speed in ["1e15", "1e308", "1e12", "-1", "NaN"] {
        let out = mlops(&["demo", "--speed", speed]).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}: {err}");
        assert!(
            err.contains("--speed must be a number from 0 to 1000"),
            "--speed {speed}: {err}"
        );
    }
    // A negative seed was "unexpected argument '-1'"; now the value is named as wrong.
    let out = mlops(&["demo", "--seed", "-1"]).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid value '-1' for '--seed"), "{err}");
    // C1: `start --wait --timeout u64::MAX` panicked after creating the rollout.
    let out = mlops(&[
        "rollout",
        "start",
        "--model",
        "m",
        "--version",
        "3",
        "--image",
        "i",
        "--wait",
        "--timeout",
        "18446744073709551615",
    ])
    .output()
    .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--timeout") && err.contains("604800"), "{err}");
    // Validation before the network: a bad version is named, not a kubeconfig error.
    let out = mlops(&[
        "rollout",
        "start",
        "--model",
        "m",
        "--version",
        "0",
        "--image",
        "i",
    ])
    .env("KUBECONFIG", "/nonexistent/kubeconfig")
    .output()
    .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("spec.model.version"), "{err}");
}

/// `text` pasted into the pane as a terminal pastes it (bracketed when the app asked for it).
fn paste(t: &Tmux, text: &str, file: &Path) {
    std::fs::write(file, text).expect("write paste");
    t.tmux(&["load-buffer", "-b", "p", &file.display().to_string()]);
    t.tmux(&["paste-buffer", "-p", "-d", "-b", "p", "-t", "e2e"]);
}

#[test]
fn pastes_and_long_input_are_one_capped_insertion() {
    let dir = tempfile::tempdir().expect("dir");
    let t = Tmux::start(
        &format!(
            "{} demo --seed 7; echo EXIT=$?; sleep 30",
            env!("CARGO_BIN_EXE_mlops")
        ),
        120,
        36,
        &dir.path().display().to_string(),
    );
    t.wait_text("Rollouts");
    // A paste outside a text input runs no key bindings ("q" would quit).
    paste(&t, "qqq2", &dir.path().join("p1"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!t.screen().contains("EXIT="), "a paste ran key bindings");
    // 10 KB into the filter: one insertion, cut to 256 characters, at once (it was 5–8 s of
    // 100 % CPU, one key at a time).
    t.keys(&["6", "/"]);
    let started = Instant::now();
    paste(&t, &"z".repeat(10_000), &dir.path().join("p2"));
    let s = t.wait_text("zzzz");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(s.contains("Rollouts (0)"), "{s}");
    // ctrl-c in a text input cancels it (it was ignored).
    t.keys(&["C-c"]);
    // The whole frame, not one captured half drawn (the table redrawn, the bar not yet).
    t.wait_for("the filter cancelled and its bar gone", |s| {
        s.contains("Rollouts (8)") && !s.contains("zzzz")
    });
    t.keys(&["q"]);
    assert!(t.wait_text("EXIT=").contains("EXIT=0"));
}

#[test]
fn an_unterminated_paste_does_not_swallow_keys() {
    // H5: a lone `ESC [200~` made crossterm keep every later key (`q` and `ctrl-c` too) as part
    // of a paste that never ended.
    let dir = tempfile::tempdir().expect("dir");
    let t = Tmux::start(
        &format!(
            "{} demo --seed 7; echo EXIT=$?; sleep 30",
            env!("CARGO_BIN_EXE_mlops")
        ),
        120,
        36,
        &dir.path().display().to_string(),
    );
    t.wait_text("Rollouts");
    let paste_start = ["-t", "e2e", "-H", "1b", "5b", "32", "30", "30", "7e"];
    t.tmux(&[&["send-keys"][..], &paste_start[..]].concat());
    // A key right after it still ends up in the paste (delivered, and ignored, after 1 s)...
    t.keys(&["2"]);
    std::thread::sleep(Duration::from_millis(1500));
    // ...and the next keys work again.
    t.keys(&["3"]);
    t.wait_text("Model versions");
    t.keys(&["q"]);
    assert!(t.wait_text("EXIT=").contains("EXIT=0"));
}

#[test]
fn a_burst_of_typed_keys_does_not_freeze_the_console() {
    // 10,000 characters typed at once (a paste into a terminal without bracketed paste, or
    // `tmux send-keys`) into the filter: crossterm read 1 KiB of it, and the rest sat unread in
    // the tty until another key came, so `esc` and `q` did nothing.
    let dir = tempfile::tempdir().expect("dir");
    let t = Tmux::start(
        &format!(
            "{} demo --seed 7; echo EXIT=$?; sleep 30",
            env!("CARGO_BIN_EXE_mlops")
        ),
        120,
        36,
        &dir.path().display().to_string(),
    );
    t.wait_text("Rollouts");
    t.keys(&["6", "/"]);
    t.wait_text("filter /");
    t.type_text(&"x".repeat(10_000));
    t.wait_text("Rollouts (0)");
    // The keys after the burst are read without waiting for more input.
    t.keys(&["Escape"]);
    t.wait_text("Rollouts (8)");
    t.keys(&["q"]);
    assert!(t.wait_text("EXIT=").contains("EXIT=0"));
}

/// Hostile probe 2, finding 5: `audit verify` read the file whole with `read_to_string`:
/// `/dev/zero` took 7.2 GB in 5 s, a FIFO blocked forever; 1 M entries held 782 MB. Now only a
/// regular file is read, a line at a time, each at most 4 MiB.
#[test]
fn audit_verify_reads_only_regular_files_a_bounded_line_at_a_time() {
    use common::hostile::run_measured;
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("fifo.jsonl");
    common::hostile::mkfifo(&fifo);
    let zero = dir.path().join("zero.jsonl");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    for (path, said) in [
        (fifo.as_path(), "not a regular file"),
        (zero.as_path(), "not a regular file"),
        (dir.path(), "it is a directory"),
    ] {
        let r = run_measured(
            &mut mlops(&["audit", "verify", path.to_str().expect("utf-8")]),
            Duration::from_secs(20),
        );
        assert_eq!(r.output.status.code(), Some(1), "{}", r.stderr());
        assert!(
            r.stderr().contains("cannot read: it is")
                && r.stderr().contains(said)
                && r.stderr()
                    .contains("an audit export must be a regular file"),
            "{}",
            r.stderr()
        );
        assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    }
    // A 2 GiB line (a sparse file: no disk) is refused after its first 4 MiB.
    let huge = dir.path().join("huge.jsonl");
    std::fs::write(&huge, "\n\n").expect("write");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&huge)
        .and_then(|f| f.set_len(2 << 30))
        .expect("sparse");
    let r = run_measured(
        &mut mlops(&["audit", "verify", huge.to_str().expect("utf-8")]),
        Duration::from_secs(20),
    );
    assert_eq!(r.output.status.code(), Some(1), "{}", r.stderr());
    assert!(
        r.stderr().contains(
            "huge.jsonl: line 3 is longer than 4 MiB, the most an audit entry's line may be"
        ),
        "{}",
        r.stderr()
    );
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    assert!(r.peak_mib < 100, "{} MiB", r.peak_mib);
    // 100,000 entries (about 50 MB) are checked in memory for the findings, not the file.
    let big = dir.path().join("big.jsonl");
    let mut log = mlops_core::audit::AuditLog::default();
    let mut text = String::new();
    for i in 0..100_000 {
        let e = log.append(mlops_core::audit::AuditRecord {
            time: chrono::Utc::now(),
            actor: "alice".into(),
            action: "rollout.approve".into(),
            target: "ml-serving/churn-model-v4".into(),
            comment: format!("CHG-{i}: {}", "x".repeat(200)),
            details: String::new(),
        });
        text.push_str(&serde_json::to_string(e).expect("json"));
        text.push('\n');
    }
    let head = log.entries().last().map(|e| e.hash.clone()).expect("head");
    drop(log);
    std::fs::write(&big, &text).expect("write");
    let r = run_measured(
        &mut mlops(&[
            "audit",
            "verify",
            big.to_str().expect("utf-8"),
            "--from-genesis",
            "--expect-head",
            &head,
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(r.output.status.code(), Some(0), "{}", r.stderr());
    assert!(r.stdout().contains("100000 entries"), "{}", r.stdout());
    eprintln!(
        "audit verify, {} MB: {} MiB peak, {:?}",
        text.len() >> 20,
        r.peak_mib,
        r.elapsed
    );
    // Never the file whole (it took 8 times the file before: 782 MB for 1 M entries).
    assert!(
        r.peak_mib < (text.len() >> 20) as u64,
        "{} MiB for a {} MB file",
        r.peak_mib,
        text.len() >> 20
    );
}

/// The second hostile probe: policy.toml errors were located with `text.find`, so a region
/// named in an earlier comment was reported at line 1, keys written with TOML escapes at 1:1,
/// and the country error for `"x"` at the first `"x"` in the file. Each is now at its key or
/// value, from the TOML parser's spans.
#[test]
fn policy_errors_are_located_at_their_key_or_value() {
    let dir = tempfile::tempdir().expect("dir");
    let text = [
        r#"# "bad region" and "x", max_regression, validation_tag and "nocluster" are named here first"#,
        "[regions]",
        r#""eu-west-1" = "IE""#,
        r#""bad region" = "IE""#,
        r#""ap\u002Dsouth\u0020x" = "IN""#,
        r#""us-east-1" = "x""#,
        "",
        "[default]",
        "max_regression = 0.5",
        "",
        "[clusters.prod]",
        "max_regression = -1.0",
        r#"validation_tag = "novalue""#,
        "",
        r#"[namespaces."nocluster"]"#,
        "change_ticket = true",
        "",
    ]
    .join("\n");
    std::fs::write(dir.path().join("policy.toml"), text).expect("write");
    let (code, out, _) = config_check(dir.path());
    assert_eq!(code, 1, "{out}");
    for expected in [
        "policy.toml:4:1: not a region name",
        "policy.toml:5:1: not a region name",
        "\"ap-south x\"",
        "policy.toml:6:15: region us-east-1: not an ISO 3166 country code",
        "policy.toml:12:18: [clusters.prod] max_regression must be a number ≥ 0",
        "policy.toml:13:18: [clusters.prod] validation_tag must be KEY=VALUE",
        "policy.toml:15:13: a namespace section is named",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    assert!(!out.contains("policy.toml:1:"), "{out}");
}

/// The second hostile probe: a 1 MiB policy.toml with 56k bad regions took 20 s in `config
/// check` and printed 16 MB. Now linear, and the list is cut with "… and N more".
#[test]
fn a_policy_with_56k_bad_regions_is_checked_quickly_with_a_capped_list() {
    let dir = tempfile::tempdir().expect("dir");
    let mut text = String::from("[regions]\n");
    for i in 0..56_000 {
        let _ = writeln!(text, "\"Bad{i:05}\" = \"x\"");
    }
    assert!(text.len() < 1024 * 1024, "{}", text.len());
    std::fs::write(dir.path().join("policy.toml"), &text).expect("write");
    for json in [false, true] {
        let mut args = vec!["config", "check"];
        if json {
            args.extend(["-o", "json"]);
        }
        let r = common::hostile::run_measured(
            mlops(&args).env("MLOPS_CONFIG_DIR", dir.path()),
            Duration::from_secs(60),
        );
        let out = r.stdout();
        eprintln!("json {json}: {:?}, {} bytes", r.elapsed, out.len());
        assert_eq!(r.output.status.code(), Some(1), "{}", r.stderr());
        assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
        assert!(out.len() < 1_000_000, "{} bytes printed", out.len());
        if json {
            let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
            assert_eq!(doc["error_count"], 112_000, "every problem counted");
            assert!(doc["errors"].as_array().expect("errors").len() <= 1000);
        } else {
            assert!(
                out.contains("policy.toml:2:1: not a region name"),
                "{}",
                &out[..500]
            );
            assert!(out.contains("… and "), "{}", &out[out.len() - 500..]);
            assert!(
                out.contains("112000 error(s)"),
                "{}",
                &out[out.len() - 500..]
            );
        }
    }
}

/// A kubeconfig is read whole by the `kube` crate: `KUBECONFIG=/dev/zero` read until memory ran
/// out and a FIFO blocked forever. Now each file is checked first (a regular file of at most
/// 16 MiB), and the error names it; a missing file is still `kube`'s to report.
#[test]
fn a_kubeconfig_that_is_a_device_or_a_fifo_is_named_not_read() {
    use common::hostile::run_measured;
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("kubeconfig");
    common::hostile::mkfifo(&fifo);
    let fifo = fifo.display().to_string();
    for kubeconfig in [
        "/dev/zero",
        fifo.as_str(),
        &format!("/nonexistent/x:{fifo}"),
    ] {
        let r = run_measured(
            mlops(&["rollout", "list", "-o", "json"]).env("KUBECONFIG", kubeconfig),
            Duration::from_secs(30),
        );
        assert_eq!(
            r.output.status.code(),
            Some(1),
            "{kubeconfig}: {}",
            r.stderr()
        );
        assert!(
            r.stderr().contains("must be a regular file"),
            "{kubeconfig}: {}",
            r.stderr()
        );
        assert!(
            r.elapsed < Duration::from_secs(15),
            "{kubeconfig}: {:?}",
            r.elapsed
        );
        assert!(r.peak_mib < 300, "{kubeconfig}: {} MiB", r.peak_mib);
    }
}

/// config.toml's errors were located by searching the text: a key named in a comment, or a
/// section written with an escaped or quoted name, put the error on the wrong line. Now each is
/// at its key, from the TOML parser's spans.
#[test]
fn config_errors_are_located_at_their_key_whatever_comments_say() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "# [drift] threshold = 0.1 and [gpu] idle_util_pct = 5 were the old values\n\
         refresh_seconds = 5\n\
         [drift.models.\"fraud\\u002ddetector\".features.amount]\n\
         threshold = -1.0\n\
         [gpu]\n\
         # idle_util_pct = 5\n\
         idle_util_pct = 500.0\n\
         [mlflow]\n\
         # tracking_uri = \"ftp://old\"\n\
         tracking_uri = \"ftp://new\"\n",
    )
    .expect("write");
    let (code, text, _) = config_check(dir.path());
    assert_eq!(code, 1, "{text}");
    for at in [
        "config.toml:4:1: a drift threshold must be a number above 0",
        "config.toml:7:1: ",
        "config.toml:10:1: tracking_uri must start with http",
    ] {
        assert!(text.contains(at), "{at:?} in\n{text}");
    }
}
