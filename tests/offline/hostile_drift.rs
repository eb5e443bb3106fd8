//! Hostile drift input, each a reproduction from the second hostile probe
//! (`hostile-probe-2.md`, findings 5–10, 13–15 and 19): devices and FIFOs named as data, a line
//! of hundreds of megabytes, a million ragged rows, a stray quote that swallowed the rest of the
//! file, a profile written over its own input, 100,000 columns, gates that passed with nothing
//! compared, one huge value that hid real drift, impossible profiles, and escape sequences in
//! column names. Each is run as a pipeline would run it, bounded in time and memory.

use crate::common;

use std::{fmt::Write as _, path::Path, time::Duration};

use common::hostile::{mkfifo, mlops, run_measured};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// `n` rows of a numeric column `x` (spread over 0..100, plus `shift`) and a text column.
fn data(n: usize, shift: f64) -> String {
    let mut s = String::from("x,plan\n");
    for i in 0..n {
        let x = (i as f64 * 0.618_033_988_7).fract() * 100.0 + shift;
        let _ = writeln!(s, "{x:.4},{}", ["basic", "pro", "team"][i % 3]);
    }
    s
}

fn drift(args: &[&str], limit: Duration) -> common::hostile::Measured {
    let mut full = vec!["drift"];
    full.extend_from_slice(args);
    run_measured(&mut mlops(&full), limit)
}

#[test]
fn devices_fifos_and_directories_are_refused_at_once() {
    // Finding 5: /dev/zero grew to 4.7 GB and aborted; a FIFO blocked forever.
    let dir = tempfile::tempdir().expect("dir");
    let cur = write(dir.path(), "cur.csv", &data(50, 0.0));
    let fifo = dir.path().join("fifo.csv");
    mkfifo(&fifo);
    let fifo_json = dir.path().join("fifo.profile.json");
    mkfifo(&fifo_json);
    let zero_json = dir.path().join("zero.profile.json");
    std::os::unix::fs::symlink("/dev/zero", &zero_json).expect("symlink");
    let fifo = fifo.display().to_string();
    let fifo_json = fifo_json.display().to_string();
    let zero_json = zero_json.display().to_string();
    let d = dir.path().display().to_string();
    for args in [
        vec!["--reference", "/dev/zero", "--current", &cur],
        vec!["--reference", &cur, "--current", "/dev/zero"],
        vec!["--reference", &fifo, "--current", &cur],
        vec!["--reference", &fifo_json, "--current", &cur],
        vec!["--reference", &zero_json, "--current", &cur],
        vec!["--reference", &d, "--current", &cur],
        vec!["profile", "/dev/zero"],
        vec!["profile", &fifo],
    ] {
        let m = drift(&args, Duration::from_secs(20));
        assert_eq!(m.output.status.code(), Some(1), "{args:?}: {}", m.stderr());
        assert!(
            m.stderr().contains("must be a regular file"),
            "{args:?}: {}",
            m.stderr()
        );
        assert!(
            m.elapsed < Duration::from_secs(10),
            "{args:?}: {:?}",
            m.elapsed
        );
        assert!(m.peak_mib < 200, "{args:?}: {} MiB", m.peak_mib);
    }
}

#[test]
fn a_line_of_hundreds_of_megabytes_is_refused_after_its_first_mebibyte() {
    // Finding 6: a 2 GiB line took 8.4 GB; here 300 MB, read by the old code as 1.2 GB.
    let dir = tempfile::tempdir().expect("dir");
    let cur = write(dir.path(), "cur.csv", &data(50, 0.0));
    let big = dir.path().join("big.csv");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        f.write_all(b"x,plan\n1,basic\n").expect("write");
        let chunk = vec![b'7'; 1 << 20];
        for _ in 0..300 {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b",pro\n").expect("write");
    }
    let m = drift(
        &["--reference", &big.display().to_string(), "--current", &cur],
        Duration::from_secs(60),
    );
    assert_eq!(m.output.status.code(), Some(1), "{}", m.stderr());
    assert!(
        m.stderr().contains("big.csv:3: a field longer than 1 MiB"),
        "{}",
        m.stderr()
    );
    assert!(m.peak_mib < 300, "{} MiB", m.peak_mib);
}

#[test]
fn a_flood_of_ragged_rows_is_counted_not_printed_one_by_one() {
    // Finding 6: 40 MB of ragged rows printed 1.35 GB of "row skipped" and took 4.7 GB.
    let dir = tempfile::tempdir().expect("dir");
    let mut text = String::from("a,b\n1,2\n3,4\n");
    for _ in 0..200_000 {
        text.push_str("1\n");
    }
    let r = write(dir.path(), "ref.csv", &text);
    let m = drift(
        &["--reference", &r, "--current", &r, "-o", "json"],
        Duration::from_secs(60),
    );
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    let out = m.stdout();
    assert!(out.len() < 20_000, "{} bytes of output", out.len());
    assert!(
        out.contains("ref.csv: … and 199,980 more problems like these"),
        "{out}"
    );
    let p = drift(&["profile", &r], Duration::from_secs(60));
    assert!(
        p.stderr().len() < 20_000,
        "{} bytes on stderr",
        p.stderr().len()
    );
    assert!(p.stderr().contains("199,980 more"), "{}", p.stderr());
}

#[test]
fn a_stray_quote_is_an_error_naming_its_line_not_a_passing_gate() {
    // Finding 8: 100,000 shifted rows became one cell and --fail-on-drift passed.
    let dir = tempfile::tempdir().expect("dir");
    let r = write(dir.path(), "ref.csv", &data(1500, 0.0));
    let stray = |after: usize| {
        let mut cur = data(1500, 0.0);
        cur.push_str("0.1,\"b\n");
        cur.push_str(&data(after, 300.0).replacen("x,plan\n", "", 1));
        write(dir.path(), "cur.csv", &cur)
    };
    for (after, why) in [
        (
            1_000,
            "cur.csv:1502: a quoted field opens here and runs to the end of the file (1,001 lines",
        ),
        (
            100_000,
            "cur.csv:1502: a quoted field opens here and runs on for more than 1 MiB",
        ),
    ] {
        let c = stray(after);
        let m = drift(
            &["--reference", &r, "--current", &c, "--fail-on-drift"],
            Duration::from_secs(60),
        );
        assert_eq!(m.output.status.code(), Some(1), "{}", m.stdout());
        assert!(m.stderr().contains(why), "{}", m.stderr());
    }
    // A closed quote across lines is still a cell.
    let ok = write(
        dir.path(),
        "ok.csv",
        "x,plan\n1,\"two\nlines\"\n2,pro\n3,\"say \"\"hi\"\"\"\n",
    );
    let m = drift(
        &["--reference", &ok, "--current", &ok],
        Duration::from_secs(20),
    );
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
}

#[test]
fn a_profile_goes_to_out_never_over_its_input_and_o_stays_the_format() {
    // Finding 9: `drift profile ref.csv -o ref.csv` replaced the data with its profile.
    let dir = tempfile::tempdir().expect("dir");
    let text = data(100, 0.0);
    let r = write(dir.path(), "ref.csv", &text);
    for args in [
        vec!["profile", &r, "-o", &r],
        vec!["profile", &r, "--out", &r],
    ] {
        let m = drift(&args, Duration::from_secs(20));
        assert_eq!(m.output.status.code(), Some(2), "{args:?}: {}", m.stderr());
        assert_eq!(std::fs::read_to_string(&r).expect("ref"), text, "{args:?}");
    }
    let m = drift(&["profile", &r, "-o", &r], Duration::from_secs(20));
    assert!(m.stderr().contains("use --out"), "{}", m.stderr());
    // Through a link to the input: refused too.
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&r, &link).expect("symlink");
    let m = drift(
        &["profile", &r, "--out", &link.display().to_string()],
        Duration::from_secs(20),
    );
    assert_eq!(m.output.status.code(), Some(2), "{}", m.stderr());
    assert_eq!(std::fs::read_to_string(&r).expect("ref"), text);
    // A format in any case prints; no file named after it appears.
    let m = drift(&["profile", &r, "-o", "JSON"], Duration::from_secs(20));
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    assert!(m.stdout().contains("mlops-drift-profile/1"));
    assert!(!Path::new("JSON").exists() && !dir.path().join("JSON").exists());
    // --out writes it whole, and it is a reference.
    let p = dir.path().join("ref.profile.json").display().to_string();
    let m = drift(&["profile", &r, "--out", &p], Duration::from_secs(20));
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    let m = drift(
        &["--reference", &p, "--current", &r],
        Duration::from_secs(20),
    );
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    assert!(
        m.stdout().contains("0 of 2 compared columns drifted"),
        "{}",
        m.stdout()
    );
}

#[test]
fn a_hundred_thousand_columns_compare_in_linear_time() {
    // Finding 10: 100,000 columns took 105 s (a linear scan per column).
    let dir = tempfile::tempdir().expect("dir");
    let n = 100_000;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let row: Vec<&str> = (0..n).map(|i| ["1", "2"][i % 2]).collect();
    let text = format!(
        "{}\n{}\n{}\n",
        header.join(","),
        row.join(","),
        row.join(",")
    );
    let r = write(dir.path(), "wide.csv", &text);
    let m = drift(
        &["--reference", &r, "--current", &r, "-o", "json"],
        Duration::from_secs(120),
    );
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    assert!(m.elapsed < Duration::from_secs(60), "{:?}", m.elapsed);
    let v: serde_json::Value = serde_json::from_slice(&m.output.stdout).expect("json");
    assert_eq!(v["columns"].as_array().map(Vec::len), Some(n));
}

#[test]
fn a_gate_with_nothing_compared_fails_closed_and_says_why() {
    // Finding 13: each of these said "0 of 0 compared columns drifted" and exited 0.
    let dir = tempfile::tempdir().expect("dir");
    let r = write(dir.path(), "ref.csv", &data(200, 0.0));
    let header_only = write(dir.path(), "header.csv", "x,plan\n");
    let renamed = write(
        dir.path(),
        "renamed.csv",
        &data(200, 0.0).replacen("x,plan", "X,PLAN", 1),
    );
    let empty_profile = write(
        dir.path(),
        "empty.profile.json",
        r#"{"format": "mlops-drift-profile/1", "source": "ref.csv", "rows": 200, "columns": []}"#,
    );
    for (args, why) in [
        (
            vec!["--reference", &r, "--current", &header_only],
            "no rows in",
        ),
        (vec!["--reference", &r, "--current", &renamed], "only in"),
        (
            vec!["--reference", &r, "--current", &r, "--columns", "nope,zzz"],
            "nope: not a column of",
        ),
        (
            vec!["--reference", &r, "--current", &r, "--columns", "x,zzz"],
            "--columns names columns that were not compared (zzz",
        ),
        (
            vec!["--reference", &empty_profile, "--current", &r],
            "the reference has no columns",
        ),
        (
            vec![
                "--reference",
                &empty_profile,
                "--current",
                &r,
                "--columns",
                "x",
            ],
            "not a column of the profile of ref.csv",
        ),
    ] {
        let mut gated = args.clone();
        gated.push("--fail-on-drift");
        let m = drift(&gated, Duration::from_secs(20));
        assert_eq!(m.output.status.code(), Some(1), "{gated:?}: {}", m.stdout());
        assert!(
            m.stderr().contains("--fail-on-drift cannot pass") && m.stderr().contains(why),
            "{gated:?}: {}",
            m.stderr()
        );
        // Without the gate: the report, and a warning.
        let m = drift(&args, Duration::from_secs(20));
        assert_eq!(m.output.status.code(), Some(0), "{args:?}: {}", m.stderr());
        assert!(m.stderr().contains("warning: "), "{args:?}: {}", m.stderr());
    }
}

#[test]
fn one_huge_value_does_not_hide_drift() {
    // Finding 14: σ overflowed, Wasserstein said 0.0000 "ok" with a 5σ shift.
    let dir = tempfile::tempdir().expect("dir");
    let normalish = |n: usize, shift: f64| {
        let mut s = String::from("x\n");
        for i in 0..n {
            // A deterministic spread of about one.
            let u = (i as f64 * 0.618_033_988_7).fract();
            let _ = writeln!(s, "{:.5}", (u - 0.5) * 3.4 + shift);
        }
        s
    };
    let mut reference = normalish(5000, 0.0);
    reference.push_str("1e200\n");
    let r = write(dir.path(), "ref.csv", &reference);
    let c = write(dir.path(), "cur.csv", &normalish(5000, 5.0));
    let m = drift(
        &[
            "--reference",
            &r,
            "--current",
            &c,
            "--fail-on-drift",
            "-o",
            "json",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(m.output.status.code(), Some(3), "{}", m.stdout());
    let v: serde_json::Value = serde_json::from_slice(&m.output.stdout).expect("json");
    assert_eq!(v["columns"][0]["method"], "ks", "{v}");
    assert!(
        v["columns"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("too wide for wasserstein")),
        "{v}"
    );
    // Asked for by name, it is not compared, and the gate fails closed.
    let m = drift(
        &[
            "--reference",
            &r,
            "--current",
            &c,
            "--method",
            "wasserstein",
            "--fail-on-drift",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(m.output.status.code(), Some(1), "{}", m.stdout());
    assert!(
        m.stdout().contains("too wide for wasserstein"),
        "{}",
        m.stdout()
    );
}

#[test]
fn impossible_profiles_are_refused_naming_the_column() {
    // Finding 15: all-zero counts gave p = 1 "ok"; reversed edges a negative distance.
    let dir = tempfile::tempdir().expect("dir");
    let c = write(dir.path(), "cur.csv", &data(200, 0.0));
    let numeric = |edges: &str, counts: &str, rows: &str| {
        format!(
            r#"{{"format": "mlops-drift-profile/1", "source": "ref.csv", "rows": {rows},
                "columns": [{{"column": "x", "kind": "numeric", "rows": {rows}, "missing": 0,
                "unique": 100, "edges": {edges}, "counts": {counts}}}]}}"#
        )
    };
    let max = u64::MAX.to_string();
    for (name, text, why) in [
        (
            "zeros",
            numeric("[0, 50, 100]", "[0, 0]", "500"),
            "add up to 0, not to its rows 500",
        ),
        (
            "reversed",
            numeric("[100, 50, 0]", "[250, 250]", "500"),
            "edges must increase",
        ),
        (
            "repeated",
            numeric("[0, 50, 50]", "[250, 250]", "500"),
            "edges must increase",
        ),
        (
            "rows",
            numeric("[0, 50, 100]", "[250, 250]", &max),
            "add up to 500",
        ),
        (
            "overflow",
            numeric("[0, 50, 100]", &format!("[{max}, 2]"), &max),
            "overflow",
        ),
        (
            "categories",
            format!(
                r#"{{"format": "mlops-drift-profile/1", "source": "ref.csv", "rows": 3,
                    "columns": [{{"column": "plan", "kind": "categorical", "rows": 3,
                    "missing": 0, "unique": 2, "categories": {{"a": {max}, "b": 4}}}}]}}"#
            ),
            "overflow",
        ),
    ] {
        let p = write(dir.path(), &format!("{name}.profile.json"), &text);
        let m = drift(
            &["--reference", &p, "--current", &c],
            Duration::from_secs(20),
        );
        assert_eq!(m.output.status.code(), Some(1), "{name}: {}", m.stdout());
        assert!(
            m.stderr().contains("column \"") && m.stderr().contains(why),
            "{name}: {}",
            m.stderr()
        );
    }
}

#[test]
fn escape_sequences_in_names_never_reach_the_terminal() {
    // Finding 7: a header cleared the screen and retitled the window.
    let dir = tempfile::tempdir().expect("dir");
    let evil = "\"\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}[31mevil\u{202e}\"";
    let mut text = format!("amount,{evil},flag\n");
    for i in 0..50 {
        let _ = writeln!(text, "{i},{},{}", ["a", "b"][i % 2], i % 2);
    }
    let r = write(dir.path(), "ref.csv", &text);
    let header_only = write(dir.path(), "cur.csv", &format!("amount,{evil}\n"));
    let profile = write(
        dir.path(),
        "evil.profile.json",
        r#"{"format": "mlops-drift-profile/1", "source": "\u001b]0;pwn\u0007\u001b[2J\u202eevil",
            "rows": 0, "columns": [{"column": "amount\u001b[2J", "kind": "numeric", "rows": 0,
            "missing": 0, "unique": 0, "edges": [0, 1], "counts": [0]}]}"#,
    );
    for args in [
        vec!["--reference", &r, "--current", &r],
        vec![
            "--reference",
            &r,
            "--current",
            &header_only,
            "--fail-on-drift",
        ],
        vec!["--reference", &profile, "--current", &r],
        vec!["profile", &r],
    ] {
        let m = drift(&args, Duration::from_secs(20));
        for (what, bytes) in [("stdout", &m.output.stdout), ("stderr", &m.output.stderr)] {
            assert!(
                !bytes.iter().any(|b| *b == 0x1b || *b == 0x07)
                    && !String::from_utf8_lossy(bytes).contains('\u{202e}'),
                "{args:?} {what}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

#[test]
fn a_threshold_no_p_value_can_pass_is_refused_and_echoed_cells_are_cut() {
    // Finding 19: --threshold 5 flagged identical files; a 50 MB cell was echoed whole.
    let dir = tempfile::tempdir().expect("dir");
    let r = write(dir.path(), "ref.csv", &data(100, 0.0));
    let m = drift(
        &["--reference", &r, "--current", &r, "--threshold", "5"],
        Duration::from_secs(20),
    );
    assert_eq!(m.output.status.code(), Some(2), "{}", m.stdout());
    assert!(
        m.stderr().contains("p-value is at most 1"),
        "{}",
        m.stderr()
    );
    let m = drift(
        &[
            "--reference",
            &r,
            "--current",
            &r,
            "--threshold",
            "5",
            "--method",
            "psi",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    let mut cur = String::from("x,plan\n");
    let _ = writeln!(cur, "{},basic", "t".repeat(900_000));
    cur.push_str(&data(100, 0.0).replacen("x,plan\n", "", 1));
    let c = write(dir.path(), "cur.csv", &cur);
    let m = drift(
        &["--reference", &r, "--current", &c],
        Duration::from_secs(20),
    );
    assert_eq!(m.output.status.code(), Some(0), "{}", m.stderr());
    assert!(m.stdout().contains("numeric in"), "{}", m.stdout());
    assert!(m.stdout().len() < 10_000, "{} bytes", m.stdout().len());
}
