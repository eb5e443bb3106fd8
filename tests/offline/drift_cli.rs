//! `mlops drift` as a pipeline runs it: exit codes, JSON shape, unreadable input named with file
//! and line, bad columns reported per column, profiles written and used as the reference, and
//! config overrides per model and feature. (Agreement of the numbers with Evidently and SciPy is
//! tests/live/drift_peers.rs.)

use std::{fmt::Write as _, path::Path, process::Command};

use serde_json::Value;

fn mlops(config: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env(
            "MLOPS_CONFIG_DIR",
            format!(
                "{}/tests/fixtures/config/{config}",
                env!("CARGO_MANIFEST_DIR")
            ),
        )
        .output()
        .expect("run mlops")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// 300 rows: amount (numeric, shifted in the current by `shift`), plan (text), flag (0/1).
fn data(shift: f64) -> String {
    let mut s = String::from("amount,plan,flag\n");
    for i in 0..300 {
        let x = (f64::from(i) * 0.618_033_988_7).fract() * 100.0 + shift;
        let _ = writeln!(
            s,
            "{x:.3},{},{}",
            ["basic", "pro", "team"][i as usize % 3],
            i % 2
        );
    }
    s
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn json_shape_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = write(dir.path(), "ref.csv", &data(0.0));
    let c = write(dir.path(), "cur.csv", &data(30.0));
    let out = mlops(
        "none",
        &["drift", "--reference", &r, "--current", &c, "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "drift found, still 0");
    let doc = json(&out);
    let col = &doc["columns"][0];
    for key in [
        "column",
        "kind",
        "method",
        "statistic",
        "score",
        "threshold",
        "drifted",
        "reference_rows",
        "current_rows",
        "missing",
    ] {
        assert!(col.get(key).is_some(), "{key} missing in {col}");
    }
    assert_eq!(col["method"], "ks");
    assert_eq!(col["drifted"], true);
    assert_eq!(doc["columns"][1]["method"], "chisquare");
    assert_eq!(
        doc["columns"][2]["kind"], "categorical",
        "0/1 integers are categories"
    );
    assert_eq!(doc["columns"][2]["method"], "z");
    for key in ["drifted_columns", "share", "dataset_drift"] {
        assert!(doc.get(key).is_some(), "{key} missing");
    }

    let out = mlops(
        "none",
        &[
            "drift",
            "--reference",
            &r,
            "--current",
            &c,
            "--fail-on-drift",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "1 of 3 columns: no dataset drift"
    );
    let out = mlops(
        "none",
        &[
            "drift",
            "--reference",
            &r,
            "--current",
            &c,
            "--fail-on-drift",
            "--share",
            "0.3",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("DATASET DRIFT"));

    let out = mlops(
        "none",
        &[
            "drift",
            "--reference",
            &r,
            "--current",
            &c,
            "--method",
            "kolmogorov",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown drift method \"kolmogorov\""));
    let out = mlops(
        "none",
        &["drift", "--reference", &r, "--current", &c, "-o", "csv"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = mlops("none", &["drift", "--reference", &r]);
    assert_eq!(out.status.code(), Some(2), "--current is required");
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = write(
        dir.path(),
        "ref.csv",
        "a,b,e\n1,1.5,\n2,2.5,\n3,3.5,\n4,4.5,\n5,5.5,\n6,6.5,\n",
    );
    let c = write(dir.path(), "cur.csv", "a,b,e,d\n1,2,,5\n2,3\n3,oops,,1\n");
    let out = mlops(
        "none",
        &["drift", "--reference", &r, "--current", &c, "-o", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let by = |n: &str| {
        doc["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .find(|c| c["column"] == n)
            .cloned()
            .expect(n)
    };
    assert_eq!(
        by("a")["method"],
        "chisquare",
        "few integers are categories"
    );
    let problem = |n: &str| by(n)["problem"].as_str().unwrap_or_default().to_string();
    assert!(
        problem("b").contains("numeric in") && problem("b").contains("cur.csv:4: \"oops\""),
        "{}",
        by("b")
    );
    assert!(
        problem("e").contains("all 6 values missing in"),
        "{}",
        by("e")
    );
    assert!(problem("d").starts_with("only in"), "{}", by("d"));
    let problems = doc["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p.as_str().is_some_and(
            |p| p.ends_with("cur.csv:3: 2 fields where the header has 4; row skipped")
        )),
        "{problems:?}"
    );

    let bad_utf8 = dir.path().join("bin.csv");
    std::fs::write(&bad_utf8, b"a\n1\n\xff\n").expect("write");
    let out = mlops(
        "none",
        &[
            "drift",
            "--reference",
            &r,
            "--current",
            &bad_utf8.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bin.csv:3: cannot read CSV: not UTF-8"),
        "{err}"
    );
    let out = mlops(
        "none",
        &[
            "drift",
            "--reference",
            &r,
            "--current",
            "/nonexistent/x.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.csv: cannot open"));
}

#[test]
fn profiles_are_written_and_used_as_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = write(dir.path(), "ref.csv", &data(0.0));
    let c = write(dir.path(), "cur.csv", &data(30.0));
    let p = dir.path().join("ref.profile.json").display().to_string();
    let out = mlops(
        "none",
        &["drift", "profile", &r, "--out", &p, "--bins", "12"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("profile")).expect("json");
    assert_eq!(profile["format"], "mlops-drift-profile/1");
    assert_eq!(
        profile["columns"][0]["edges"].as_array().map(Vec::len),
        Some(13)
    );
    assert_eq!(profile["columns"][1]["categories"]["pro"], 100);

    let from_profile = json(&mlops(
        "none",
        &["drift", "--reference", &p, "--current", &c, "-o", "json"],
    ));
    let from_csv = json(&mlops(
        "none",
        &["drift", "--reference", &r, "--current", &c, "-o", "json"],
    ));
    assert_eq!(from_profile["columns"][0]["drifted"], true);
    assert_eq!(
        from_profile["columns"][1], from_csv["columns"][1],
        "categories: exact"
    );
    assert_eq!(
        from_profile["columns"][2], from_csv["columns"][2],
        "binary: exact"
    );
}

#[test]
fn config_overrides_per_model_and_feature() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ref.csv"), data(0.0)).expect("write");
    std::fs::write(dir.path().join("cur.csv"), data(5.0)).expect("write");
    let r = dir.path().join("ref.csv").display().to_string();
    let c = dir.path().join("cur.csv").display().to_string();
    let plain = json(&mlops(
        "valid",
        &["drift", "--reference", &r, "--current", &c, "-o", "json"],
    ));
    assert_eq!(
        plain["columns"][0]["method"], "psi",
        "[drift.features.amount]"
    );
    assert_eq!(plain["columns"][0]["threshold"], 0.1);
    let fraud = json(&mlops(
        "valid",
        &[
            "drift",
            "--model",
            "fraud-detector",
            "--reference",
            &r,
            "--current",
            &c,
            "-o",
            "json",
        ],
    ));
    assert_eq!(
        fraud["columns"][0]["threshold"], 0.2,
        "[drift.models.fraud-detector.features.amount]"
    );

    let out = mlops("bad-drift", &["config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("config.toml:5:1: unknown drift method \"kolmogorov\""),
        "{stdout}"
    );
}
