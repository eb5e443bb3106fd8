//! The CLI as a user runs it: `mlops config check` on valid and invalid fixtures, usage errors.

use std::process::Command;

fn mlops(config_dir: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env(
            "MLOPS_CONFIG_DIR",
            format!(
                "{}/tests/fixtures/config/{config_dir}",
                env!("CARGO_MANIFEST_DIR")
            ),
        )
        .env_remove("MLOPS_PROMETHEUS_URL")
        .output()
        .expect("run mlops")
}

#[test]
fn valid_config_checks_clean() {
    let out = mlops("valid", &["config", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("config ok"), "{stdout}");
}

#[test]
fn invalid_config_lists_every_error_with_file_line_and_value() {
    let out = mlops("invalid", &["config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "config.toml:2:1: unknown field `refesh_seconds`",
        "keymap.toml:2:5: unknown action (did you mean \"quit\"?): \"qiut\"",
        "keymap.toml:3:1: invalid key",
        "keymap.toml:5:2: unknown section",
        "themes/dark.toml:2:17: invalid colour for fg",
        "\"blurple\"",
        "themes/dark.toml:3:20: invalid colour for bg",
        "themes/dark.toml:4:1: unknown style",
        "themes/broken.toml:1:",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn config_check_speaks_json() {
    let out = mlops("invalid", &["config", "check", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(doc["valid"], false);
    let errors = doc["errors"].as_array().expect("errors array");
    assert!(errors.len() >= 8, "{doc:#}");
    assert!(
        errors
            .iter()
            .all(|e| e["file"].is_string() && e["line"].is_u64() && e["message"].is_string())
    );
    let ok = mlops("valid", &["config", "check", "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("valid JSON");
    assert_eq!(doc["valid"], true);
}

#[test]
fn unknown_flag_is_a_usage_error_with_exit_code_2() {
    let out = mlops("valid", &["demo", "--sped", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpected argument '--sped'"), "{stderr}");
    assert!(stderr.contains("Usage:"), "{stderr}");
}

/// Out-of-range flag values are usage errors: exit 2, as the README's exit codes say (the
/// second hostile probe: `demo --speed 1e15` exited 1).
#[test]
fn out_of_range_flag_values_exit_2() {
    for speed in ["-2", "1e15", "1001", "NaN", "inf"] {
        let out = mlops("valid", &["demo", &format!("--speed={speed}")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}: {stderr}");
        assert!(stderr.contains("--speed must be a number"), "{stderr}");
    }
    for args in [
        &["gpu", "--demo", "--idle-util-pct", "0"][..],
        &["gpu", "--demo", "--idle-util-pct", "101"],
        &["gpu", "--demo", "--idle-window", "400d"],
        &[
            "drift",
            "--reference",
            "a.csv",
            "--current",
            "b.csv",
            "--bins",
            "0",
        ],
        &[
            "drift",
            "--reference",
            "a.csv",
            "--current",
            "b.csv",
            "--share",
            "2",
        ],
        &[
            "drift",
            "--reference",
            "a.csv",
            "--current",
            "b.csv",
            "--threshold",
            "-1",
        ],
        &["runs", "search", "--experiment", "0", "--max-results", "0"],
        &["controller", "--concurrency", "0"],
    ] {
        let out = mlops("valid", args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A window far too long is called that (it was "not a whole number of steps").
    let out = mlops(
        "valid",
        &["gpu", "--demo", "--idle-window", "18446744073709551615s"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("at most 11000 steps") && !stderr.contains("whole number"),
        "{stderr}"
    );
}

#[test]
fn bad_drift_flags_are_usage_errors_naming_the_value() {
    let out = mlops(
        "valid",
        &[
            "rollout",
            "start",
            "--model",
            "m",
            "--version",
            "2",
            "--max-drift=0",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a PSI threshold"), "{stderr}");
    let out = mlops("valid", &["drift", "live", "--window", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--window \"soon\": a duration"), "{stderr}");
    // Finding 19 of the second probe: one bound for every spelling of a window (u64::MAX
    // seconds was accepted); refused before any request, like the config's `live_window`.
    for window in [
        "18446744073709551615s",
        "18446744073709551615",
        "86401s",
        "1441m",
        "25h",
        "0s",
    ] {
        let out = mlops("valid", &["drift", "live", "--window", window]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{window}: {stderr}");
        assert!(
            stderr.contains(&format!("--window {window:?}")) && stderr.contains("from 1s to 24h"),
            "{window}: {stderr}"
        );
    }
}

/// Issue 25: `--max-burn` and `--slo-objective` are checked before anything is asked of a
/// cluster, their errors naming the value and what it should be.
#[test]
fn bad_slo_burn_flags_are_usage_errors_naming_the_value() {
    let start = ["rollout", "start", "--model", "m", "--version", "2"];
    for (flags, says) in [
        (vec!["--max-burn=0"], "\"0\" is not a burn rate"),
        (vec!["--max-burn=-3"], "\"-3\" is not a burn rate"),
        (vec!["--max-burn", "fast"], "\"fast\" is not a burn rate"),
        (
            vec!["--max-burn", "14.4", "--slo-objective", "99.5"],
            "\"99.5\" is not an availability objective",
        ),
        (
            vec!["--max-burn", "14.4", "--slo-objective", "1"],
            "between 0 and 1",
        ),
        (vec!["--slo-objective", "0.99"], "--max-burn"),
    ] {
        let args: Vec<&str> = start.iter().copied().chain(flags.clone()).collect();
        let out = mlops("valid", &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
    }
}

#[test]
fn readonly_refuses_mutating_verbs_before_touching_a_cluster() {
    for args in [
        vec!["--readonly", "install"],
        vec!["--readonly", "rollout", "abort", "x", "--reason", "r"],
        vec!["--readonly", "rollout", "approve", "x", "--comment", "c"],
        vec!["--readonly", "controller"],
    ] {
        let out = mlops("valid", &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("read-only mode"),
            "{args:?}"
        );
    }
    // The valid fixture sets readonly = true in config.toml: that alone refuses too.
    let out = mlops("valid", &["rollout", "pause", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only mode"));
}

#[test]
fn step_templates_in_config_are_checked_and_listed() {
    let out = mlops("bad-template", &["config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "config.toml:4:4: template slow-canary: wrong number of arguments in step \"pause 5 minutes\"",
        "config.toml:8:27: template backwards: invalid rollout spec: steps[1].setWeight: 20 is not above the previous weight 50: \"setWeight 20\"",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let out = mlops("valid", &["rollout", "templates", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let names: Vec<&str> = doc
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["canary", "canary-approval", "quick", "slow-canary"]);
    let out = mlops("valid", &["rollout", "templates"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("slow-canary        config")
            && table.contains("setWeight 5 → analysis ×4 → pause 3600s → approval → setWeight 100"),
        "{table}"
    );
}

#[test]
fn an_output_format_a_verb_does_not_print_is_a_usage_error() {
    let out = mlops("valid", &["config", "check", "-o", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-o \"yaml\": config prints table, json"),
        "{stderr}"
    );
}

#[test]
fn a_dumb_terminal_gets_a_reason_not_a_garbled_screen() {
    let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["demo"])
        .env("TERM", "dumb")
        .env("MLOPS_CONFIG_DIR", "/nonexistent")
        .output()
        .expect("run mlops");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TERM=dumb") && stderr.contains("CLI verbs"),
        "{stderr}"
    );
}

/// A reader that went away (`mlops rollout templates | head -0`) ends the output quietly: no
/// panic, no "Broken pipe" on stderr.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["rollout", "templates", "-o", "json"])
        .env(
            "MLOPS_CONFIG_DIR",
            format!("{}/tests/fixtures/config/valid", env!("CARGO_MANIFEST_DIR")),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mlops");
    // Close the reading end before mlops writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn audit_verify_names_the_edited_line_of_an_export_offline() {
    // An export (as `mlops audit export` writes it) of three entries, from the core's own chain.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.jsonl");
    let mut log = mlops_core::audit::AuditLog::default();
    for (actor, action) in [
        ("alice", "rollout.start"),
        ("bob", "rollout.approve"),
        ("carol", "rollout.promote"),
    ] {
        log.append(mlops_core::audit::AuditRecord {
            time: chrono::Utc::now(),
            actor: actor.into(),
            action: action.into(),
            target: "ml-serving/churn-model-v4".into(),
            comment: "CHG-1".into(),
            details: String::new(),
        });
    }
    let lines: Vec<String> = log
        .entries()
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let verify = |args: &[&str]| {
        let mut all = vec!["audit", "verify", file.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        mlops("valid", &all)
    };
    let ok = verify(&[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("✓ the hash chain verifies"));
    // Edit the approver of line 2 by hand.
    let edited = lines
        .join("\n")
        .replacen("\"actor\":\"bob\"", "\"actor\":\"mallory\"", 1);
    std::fs::write(&file, edited).expect("write");
    let bad = verify(&["-o", "json"]);
    assert_eq!(bad.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("json report");
    assert_eq!(report["ok"], false);
    assert_eq!(report["findings"][0]["seq"], 2, "{report}");
    assert_eq!(report["findings"][0]["line"], 2, "{report}");
    assert_eq!(report["findings"][0]["problem"], "edited", "{report}");
    assert_eq!(
        report["findings"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    // A line that is not an entry is named.
    std::fs::write(&file, format!("{}\nnot json\n", lines[0])).expect("write");
    let garbage = verify(&[]);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&garbage.stderr)
            .contains("audit.jsonl: line 2: not an audit entry"),
        "{}",
        String::from_utf8_lossy(&garbage.stderr)
    );
}

/// A log of `n` entries, as the core writes it, and each entry's line as `audit export` writes it.
fn audit_log(n: usize) -> (Vec<mlops_core::audit::AuditEntry>, Vec<String>) {
    let mut log = mlops_core::audit::AuditLog::default();
    for i in 0..n {
        log.append(mlops_core::audit::AuditRecord {
            time: chrono::Utc::now(),
            actor: ["alice", "bob", "carol"][i % 3].into(),
            action: "rollout.approve".into(),
            target: "ml-serving/churn-model-v4".into(),
            comment: format!("CHG-{i}"),
            details: String::new(),
        });
    }
    let lines = log
        .entries()
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    (log.entries().to_vec(), lines)
}

/// `mlops audit verify FILE ARGS… -o json` on `text`: the exit code and the report (`Null`
/// when there is none) and stderr.
fn verify_json(text: &str, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, text).expect("write");
    let mut all = vec![
        "audit",
        "verify",
        file.to_str().expect("utf-8"),
        "-o",
        "json",
    ];
    all.extend_from_slice(args);
    let out = mlops("valid", &all);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn problems(report: &serde_json::Value) -> Vec<(u64, u64, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["seq"].as_u64().expect("seq"),
                f["line"].as_u64().expect("line"),
                f["problem"].as_str().expect("problem").to_string(),
            )
        })
        .collect()
}

/// Hostile probe 2, finding 16: a field added to an entry was not covered by its hash and the
/// file still verified; the reported line was the entry's position, not the file's line.
#[test]
fn audit_verify_names_added_fields_at_the_files_own_lines() {
    let (_, lines) = audit_log(4);
    // Blank lines between the entries: entry 3 is on line 5 of the file, entry 4 on line 8.
    let mut text = format!("{}\n{}\n\n  \n", lines[0], lines[1]);
    let added = lines[2].replacen('{', "{\"approved_by\":\"mallory\",\"override\":true,", 1);
    text.push_str(&added);
    text.push_str("\n\n\r\n");
    text.push_str(&lines[3]);
    text.push('\n');
    let (code, report, stderr) = verify_json(&text, &[]);
    assert_eq!(code, Some(1), "{report} {stderr}");
    assert_eq!(report["ok"], false);
    assert_eq!(problems(&report), [(3, 5, "extra_fields".to_string())]);
    let message = report["findings"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("(`approved_by`, `override`)") && message.contains("hash does not cover"),
        "{message}"
    );
    // An edit is reported at its line too.
    let text = text.replacen("\"actor\":\"bob\"", "\"actor\":\"mallory\"", 1);
    let (code, report, _) = verify_json(&text, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        problems(&report),
        [
            (2, 2, "edited".to_string()),
            (3, 5, "extra_fields".to_string())
        ]
    );
    // A line that is not an entry is named by the file's line, and its column.
    let (code, _, stderr) = verify_json(&format!("{}\n\n{{\"seq\": 2,}}\n", lines[0]), &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("audit.jsonl: line 3: not an audit entry (") && stderr.contains("column"),
        "{stderr}"
    );
}

/// Hostile probe 2, finding 16: entries deleted at the start of a complete export were taken for
/// a window, entries deleted at the end and a chain re-hashed whole were never detected.
#[test]
fn audit_verify_anchors_the_start_and_the_end_when_asked() {
    let (entries, lines) = audit_log(8);
    let whole = lines.join("\n") + "\n";
    let head = entries[7].hash.clone();
    // The whole log, both ends anchored.
    let (code, report, stderr) = verify_json(&whole, &["--from-genesis", "--expect-head", &head]);
    assert_eq!(code, Some(0), "{report} {stderr}");
    assert_eq!(report["head_hash"], head.as_str());
    assert_eq!(report["start_anchored"], true);
    assert_eq!(report["end_anchored"], true);
    assert_eq!(report["from_genesis"], true);
    // Without --expect-head, the end is not anchored, and the text says how to anchor it.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, lines[3..].join("\n")).expect("write");
    let out = mlops("valid", &["audit", "verify", file.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for said in [
        "5 entries (#4–#8)",
        &format!("head: {head} (the hash of #8)"),
        "start: not anchored, a window from #4",
        "--from-genesis",
        "end: not anchored",
        "--expect-head HASH",
        "✓ the hash chain verifies",
    ] {
        assert!(text.contains(said), "{said:?} in:\n{text}");
    }
    // Deleted at the start: a window, unless the file must begin at entry #1.
    let cut = lines[3..].join("\n");
    let (code, report, _) = verify_json(&cut, &[]);
    assert_eq!((code, &report["start_anchored"]), (Some(0), &false.into()));
    let (code, report, _) = verify_json(&cut, &["--from-genesis"]);
    assert_eq!(code, Some(1));
    assert_eq!(problems(&report), [(4, 1, "truncated".to_string())]);
    // … or at a checkpoint: the entry before the file, or its first entry.
    let (code, report, _) = verify_json(&cut, &["--from-hash", &entries[2].hash]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["start_anchored"], true);
    assert_eq!(report["from_genesis"], false);
    let (code, _, _) = verify_json(&cut, &["--from-hash", &entries[3].hash.to_uppercase()]);
    assert_eq!(code, Some(0));
    let (code, report, _) = verify_json(&cut, &["--from-hash", &entries[1].hash]);
    assert_eq!(code, Some(1));
    assert_eq!(problems(&report), [(4, 1, "start_mismatch".to_string())]);
    // Deleted at the end: only the expected head tells.
    let short = lines[..6].join("\n");
    assert_eq!(verify_json(&short, &[]).0, Some(0));
    let (code, report, _) = verify_json(&short, &["--expect-head", &head]);
    assert_eq!(code, Some(1));
    assert_eq!(problems(&report), [(6, 6, "head_mismatch".to_string())]);
    // Every entry removed.
    let (code, report, _) = verify_json("", &["--expect-head", &head]);
    assert_eq!(code, Some(1));
    assert_eq!(problems(&report), [(0, 0, "head_mismatch".to_string())]);
    // A chain rewritten and re-hashed whole verifies on its own; the head catches it.
    let mut log = mlops_core::audit::AuditLog::default();
    for e in &entries {
        log.append(mlops_core::audit::AuditRecord {
            time: e.time,
            actor: if e.seq == 2 {
                "mallory".into()
            } else {
                e.actor.clone()
            },
            action: e.action.clone(),
            target: e.target.clone(),
            comment: e.comment.clone(),
            details: e.details.clone(),
        });
    }
    let forged: Vec<String> = log
        .entries()
        .iter()
        .map(|e| serde_json::to_string(e).expect("json"))
        .collect();
    let forged = forged.join("\n");
    assert_eq!(verify_json(&forged, &["--from-genesis"]).0, Some(0));
    let (code, report, _) = verify_json(&forged, &["--from-genesis", "--expect-head", &head]);
    assert_eq!(code, Some(1));
    assert_eq!(problems(&report), [(8, 8, "head_mismatch".to_string())]);
}

#[test]
fn audit_verify_anchors_are_usage_errors_when_malformed() {
    let (_, lines) = audit_log(1);
    for (args, said) in [
        (
            &["--expect-head", "abc"][..],
            "--expect-head \"abc\": an entry's hash, 64 hex digits",
        ),
        (&["--from-hash", &"g".repeat(64)][..], "--from-hash \"gggg"),
        (
            &["--from-hash", &"0".repeat(64), "--from-genesis"][..],
            "cannot be used with",
        ),
    ] {
        let (code, _, stderr) = verify_json(&lines[0], args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
    // A checkpoint is for a file: the cluster's log always begins at entry #1.
    let out = mlops(
        "valid",
        &["audit", "verify", "--from-hash", &"0".repeat(64)],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rollout_wait_flags_are_checked_before_any_cluster_is_asked() {
    for args in [
        &["rollout", "wait", "x-v1", "--until", "maybe"][..],
        &["rollout", "wait", "x-v1", "--timeout", "0"],
        &[
            "rollout",
            "start",
            "--model",
            "m",
            "--version",
            "2",
            "--until",
            "approval",
        ],
    ] {
        let out = mlops("valid", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    let out = mlops("valid", &["rollout", "wait", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Bad_Name"));
}
